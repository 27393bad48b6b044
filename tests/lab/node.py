# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode: real Debian bookworm managed nodes, booted from Debian's kernel, reached over SSH.

The root file system is built once with debootstrap from the machine's configured Debian archive
and cached; each node boots a copy of it over 9p (read-write), so a node keeps its state across
a reboot until `lab down`. The kernel's modules are lent read-only from the cache. SSH listens
on 127.0.0.1 only; the VM's user network is restricted (no route out).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .errors import LabError
from .provision import Kernel, build_initramfs, cache_dir, check_disk, ensure_host_packages, ensure_kernel, log, run
from .qemu import accel_args, qemu_binary

SUITE = "bookworm"
IMAGE_FORMAT = "2"  # bump when the package list or the configuration below changes
NODE_PACKAGES = (
    "python3", "python3-apt", "python3-pyroute2", "openssh-server", "iproute2", "ipvsadm", "nftables", "iptables",
    "systemd-sysv", "udev", "kmod", "procps", "keepalived",
)
INITRAMFS_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "virtio_net"]

NODE_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "lab-node: $*" > /dev/console; }
for ko in $(cat /modules.order); do insmod "/modules/$ko" 2>/dev/null || say "insmod $ko failed"; done
mkdir -p /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=512000,cache=mmap noderoot /newroot || { say "cannot mount the node root over 9p"; poweroff -f; }
KVER=$(uname -r)
mkdir -p "/newroot/usr/lib/modules/$KVER"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose kmods "/newroot/usr/lib/modules/$KVER" || say "cannot mount the kernel modules"
umount /proc /sys
exec switch_root /newroot /sbin/init
"""

NETWORK_UNIT = """[Match]
Name=en* eth*

[Network]
DHCP=ipv4
"""


def state_dir() -> Path:
    path = cache_dir() / "nodes"
    path.mkdir(exist_ok=True)
    return path


def image_dir() -> Path:
    return cache_dir() / f"node-image-{SUITE}-v{IMAGE_FORMAT}"


def ssh_key() -> Path:
    key = cache_dir() / "lab_ed25519"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lvs-ipvs-lab", "-f", str(key)], "generating the lab SSH key")
    return key


def debian_mirror() -> str:
    """The Debian archive this machine's apt already uses (read, never hard-coded)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for block in sources.read_text().split("\n\n"):
            if re.search(rf"^Suites:.*\b{SUITE}\b", block, re.M) and "security" not in block.split("URIs:", 1)[-1].split("\n", 1)[0]:
                match = re.search(r"^URIs:\s*(\S+)", block, re.M)
                if match:
                    return match.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    raise LabError(f"no Debian {SUITE} archive is configured for apt on this machine (/etc/apt/sources.list.d/debian.sources)")


def ensure_image() -> Path:
    """The node root file system, built once with debootstrap (about a minute) and cached."""
    ensure_host_packages()
    kernel = ensure_kernel()
    image = image_dir()
    if (image / ".complete").exists():
        _node_initramfs(kernel)
        return image
    check_disk(cache_dir(), 1500, "building the node image")
    if image.exists():
        shutil.rmtree(image)
    partial = image.with_name(image.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    log(f"building the node image with debootstrap ({SUITE}, minbase); this takes about a minute")
    run(["debootstrap", "--variant=minbase", f"--include={','.join(NODE_PACKAGES)}", SUITE, str(partial), debian_mirror()],
        "debootstrap of the node image", timeout=1800)
    _configure_image(partial)
    partial.rename(image)
    (image / ".complete").write_text("ok\n")
    _node_initramfs(kernel)
    return image


def _configure_image(root: Path) -> None:
    (root / "etc" / "hostname").write_text("lab-node\n")
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(Path(str(ssh_key()) + ".pub").read_text())
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    network = root / "etc" / "systemd" / "network" / "10-lab.network"
    network.parent.mkdir(parents=True, exist_ok=True)
    network.write_text(NETWORK_UNIT)
    (root / "etc" / "fstab").write_text("# the root is mounted over 9p by the lab's initramfs\n")
    for unit in ("systemd-networkd.service", "ssh.service"):
        run(["chroot", str(root), "systemctl", "enable", unit], f"enabling {unit} in the node image")
    for unit in ("systemd-networkd-wait-online.service", "keepalived.service"):
        run(["chroot", str(root), "systemctl", "mask", unit], f"masking {unit} in the node image")
    apt_lists = root / "var" / "lib" / "apt" / "lists"
    shutil.rmtree(apt_lists, ignore_errors=True)
    apt_lists.mkdir(parents=True)


def _node_initramfs(kernel: Kernel) -> Path:
    return build_initramfs(kernel, NODE_INIT, INITRAMFS_MODULES, cache_dir() / f"node-initramfs-{kernel.version}-v{IMAGE_FORMAT}.cpio.gz")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _valid_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name):
        raise LabError(f"node name {name!r} is not valid: use lower-case letters, digits and dashes")
    return name


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up(name: str, boot_timeout: float = 240, memory_mb: int = 1536) -> dict:
    """Start node `name` (reusing its disk if it exists) and wait until SSH answers."""
    node = state_dir() / _valid_name(name)
    if _pid_alive(node / "qemu.pid"):
        info = _node_info(name)
        _wait_ssh(info, boot_timeout, node / "console.log")
        return info
    image = ensure_image()
    kernel = ensure_kernel()
    initramfs = _node_initramfs(kernel)
    rootfs = node / "rootfs"
    if not (node / ".complete").exists():
        check_disk(cache_dir(), 800, f"creating node {name}")
        shutil.rmtree(node, ignore_errors=True)
        node.mkdir(parents=True)
        log(f"copying the node image for {name}")
        run(["cp", "-a", "--reflink=auto", str(image), str(rootfs)], f"copying the node image for {name}")
        (rootfs / "etc" / "hostname").write_text(f"{name}\n")
        (node / ".complete").write_text("ok\n")
    port = _free_port()
    console = node / "console.log"
    argv = [
        qemu_binary(), *accel_args(), "-m", str(memory_mb), "-smp", "2",
        "-kernel", str(kernel.vmlinuz), "-initrd", str(initramfs),
        "-append", "console=ttyS0 loglevel=4 panic=-1 net.ifnames=0",
        "-display", "none", "-monitor", "none", "-serial", f"file:{console}",
        "-nic", f"user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-virtfs", f"local,path={rootfs},mount_tag=noderoot,security_model=passthrough,multidevs=remap",
        "-virtfs", f"local,path={kernel.modules},mount_tag=kmods,security_model=none,readonly=on,multidevs=remap",
        "-pidfile", str(node / "qemu.pid"), "-daemonize",
    ]
    log(f"starting node {name} (ssh on 127.0.0.1:{port})")
    run(argv, f"starting qemu for node {name}", timeout=60)
    (node / "port").write_text(f"{port}\n")
    info = _node_info(name)
    _write_inventory()
    _wait_ssh(info, boot_timeout, console)
    return info


def _node_info(name: str) -> dict:
    node = state_dir() / name
    return {"name": name, "host": "127.0.0.1", "port": int((node / "port").read_text()), "user": "root",
            "key": str(ssh_key()), "interpreter": "/usr/bin/python3"}


def ssh_argv(info: dict, command: list[str], connect_timeout: int = 10) -> list[str]:
    return ["ssh", "-i", info["key"], "-p", str(info["port"]), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={connect_timeout}", "-o", "BatchMode=yes",
            f"{info['user']}@{info['host']}", *([shlex.join(command)] if command else [])]


def _wait_ssh(info: dict, timeout: float, console: Path) -> None:
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while time.monotonic() < deadline:
        if not _pid_alive(state_dir() / info["name"] / "qemu.pid"):
            raise LabError(f"node {info['name']} stopped while booting (console: {console})")
        proc = subprocess.run(ssh_argv(info, ["true"], connect_timeout=5), capture_output=True, check=False, timeout=30)
        if proc.returncode == 0:
            log(f"node {info['name']} answers SSH after {time.monotonic() - started:.0f} s")
            return
        time.sleep(2)
    raise LabError(f"node {info['name']} did not answer SSH within {timeout:.0f} s (console: {console})")


def ssh(name: str, command: list[str]) -> int:
    info = _node_info(_valid_name(name))
    return subprocess.run(ssh_argv(info, command), check=False).returncode


def down(names: list[str] | None = None) -> None:
    """Stop nodes and delete their disks (all nodes when `names` is None)."""
    base = state_dir()
    targets = names if names is not None else [p.name for p in base.iterdir() if p.is_dir()]
    for name in targets:
        node = base / _valid_name(name)
        pid = _pid_alive(node / "qemu.pid")
        if pid:
            os.kill(pid, signal.SIGTERM)
            for dummy in range(50):
                if not _pid_alive(node / "qemu.pid"):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(node, ignore_errors=True)
    _write_inventory()


def inventory_path() -> Path:
    return state_dir() / "inventory.ini"


def _write_inventory() -> None:
    lines = ["# Written by `python -m tests.lab up`: the lab's running nodes.", "[lab]"]
    for node in sorted(p for p in state_dir().iterdir() if p.is_dir()):
        if (node / "port").exists() and _pid_alive(node / "qemu.pid"):
            info = _node_info(node.name)
            lines.append(
                f"{info['name']} ansible_host={info['host']} ansible_port={info['port']} ansible_user={info['user']} "
                f"ansible_ssh_private_key_file={info['key']} ansible_python_interpreter={info['interpreter']} "
                "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'")
    inventory_path().write_text("\n".join(lines) + "\n")
