# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode: real Debian bookworm managed nodes, reached over SSH on 127.0.0.1.

The root file system is built once with debootstrap from the machine's configured Debian archive and cached; each node
boots its own copy of it read-write, so a node keeps its state across a reboot until `lab down`. Two engines boot it
(LVS_IPVS_LAB_ENGINE=uml|qemu): User-mode Linux by default (tests/lab/node_uml.py: the nodes on a bridge of their own
inside the lab's network namespace, tests/lab/labnet.py), QEMU as the fallback (tests/lab/node_qemu.py: Debian's kernel,
restricted user network). This file is what both share: the image, the node's files, SSH, stopping, the inventory.

A node's directory (state_dir()/NAME): rootfs/, engine, <engine>.pid (the node's process, leader of its own session),
port (SSH on 127.0.0.1), and for UML address (on the lab bridge) and forward.pid (the SSH forwarder).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .errors import LabError
from . import engine as lab_engine
from . import labnet, node_qemu, node_uml
from .provision import cache_dir, check_disk, ensure_host_packages, log, run

SUITE = "bookworm"
IMAGE_FORMAT = "2"  # bump when the package list or the configuration below changes
NODE_PACKAGES = (
    "python3", "python3-apt", "python3-pyroute2", "openssh-server", "iproute2", "ipvsadm", "nftables", "iptables",
    "systemd-sysv", "udev", "kmod", "procps", "keepalived",
)


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
    """The node root file system, built once with debootstrap (about a minute) and cached; and the engine's kernel."""
    ensure_host_packages()
    image = image_dir()
    if not (image / ".complete").exists():
        _build_image(image)
    if engine() == "uml":
        node_uml.uml_kernel()
    else:
        node_qemu.initramfs()
    return image


def _build_image(image: Path) -> None:
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


def _configure_image(root: Path) -> None:
    """Engine-neutral: each engine writes its network file and fstab into a node's root before each start."""
    (root / "etc" / "hostname").write_text("lab-node\n")
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(Path(str(ssh_key()) + ".pub").read_text())
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    (root / "etc" / "systemd" / "network").mkdir(parents=True, exist_ok=True)
    node_qemu.prepare_root(root)
    for unit in ("systemd-networkd.service", "ssh.service"):
        run(["chroot", str(root), "systemctl", "enable", unit], f"enabling {unit} in the node image")
    for unit in ("systemd-networkd-wait-online.service", "keepalived.service"):
        run(["chroot", str(root), "systemctl", "mask", unit], f"masking {unit} in the node image")
    apt_lists = root / "var" / "lib" / "apt" / "lists"
    shutil.rmtree(apt_lists, ignore_errors=True)
    apt_lists.mkdir(parents=True)


def engine() -> str:
    """LVS_IPVS_LAB_ENGINE=uml|qemu (checked by tests/lab/engine.py, shared with fast mode); without it UML when this
    machine can give a UML node its network (TAP, root), QEMU otherwise. Fast mode's cached probe boot is not asked:
    a node is a different boot (its own root, systemd), tested by tests/node/test_lab_node.py."""
    if os.environ.get(lab_engine.VARIABLE):
        return lab_engine.engine()
    why_not = node_uml.usable()
    if why_not:
        log(f"node engine: qemu, because {why_not}")
        return "qemu"
    return "uml"


def _valid_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name):
        raise LabError(f"node name {name!r} is not valid: use lower-case letters, digits and dashes")
    return name


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pid_alive(pid_file: Path) -> int | None:
    pid = _read_pid(pid_file)
    return pid if _alive(pid) else None


def _node_pid(node: Path) -> int | None:
    """The node's own process (UML or QEMU), when it runs."""
    for pid_file in (node / "uml.pid", node / "qemu.pid"):
        pid = _pid_alive(pid_file)
        if pid:
            return pid
    return None


def running(name: str) -> bool:
    return _node_pid(state_dir() / _valid_name(name)) is not None


def _taken_addresses(except_node: Path) -> set[str]:
    taken = set()
    for other in state_dir().iterdir():
        if other != except_node and (other / "address").exists():
            taken.add((other / "address").read_text().strip())
    return taken


def up(name: str, boot_timeout: float = 240, memory_mb: int = 1536) -> dict:
    """Start node `name` (reusing its root if it exists) and wait until SSH answers."""
    node = state_dir() / _valid_name(name)
    pid = _node_pid(node)
    if pid:
        if (node / "engine").exists() and (node / "engine").read_text().strip() == "uml" and not _pid_alive(node / "forward.pid"):
            node_uml.start_forwarder(node, (node / "address").read_text().strip(), pid)
        # Written again: the inventory is shared by every checkout using this cache, and rewritten by each.
        _write_inventory()
        info = _node_info(name)
        _wait_ssh(info, boot_timeout, node / "console.log")
        return info
    _stop_processes(node)
    image = ensure_image()
    rootfs = node / "rootfs"
    if not (node / ".complete").exists():
        check_disk(cache_dir(), 800, f"creating node {name}")
        shutil.rmtree(node, ignore_errors=True)
        node.mkdir(parents=True)
        log(f"copying the node image for {name}")
        run(["cp", "-a", "--reflink=auto", str(image), str(rootfs)], f"copying the node image for {name}")
        (rootfs / "etc" / "hostname").write_text(f"{name}\n")
        (node / ".complete").write_text("ok\n")
    chosen = engine()
    (node / "engine").write_text(chosen + "\n")
    started = time.monotonic()
    if chosen == "uml":
        address_file = node / "address"
        with labnet.locked():  # two checkouts starting nodes at once get different addresses
            if not address_file.exists():
                address_file.write_text(labnet.allocate(_taken_addresses(node)) + "\n")
        address = address_file.read_text().strip()
        pid = node_uml.start(name, node, rootfs, address, memory_mb)
        node_uml.start_forwarder(node, address, pid)
    else:
        node_qemu.start(name, node, rootfs, memory_mb)
    info = _node_info(name)
    _write_inventory()
    _wait_ssh(info, boot_timeout, node / "console.log", started)
    return info


def _node_info(name: str) -> dict:
    node = state_dir() / name
    info = {"name": name, "host": "127.0.0.1", "port": int((node / "port").read_text()), "user": "root",
            "key": str(ssh_key()), "interpreter": "/usr/bin/python3"}
    if (node / "address").exists() and (node / "engine").exists() and (node / "engine").read_text().strip() == "uml":
        info["lab_address"] = (node / "address").read_text().strip()
    return info


def ssh_argv(info: dict, command: list[str], connect_timeout: int = 10) -> list[str]:
    return ["ssh", "-i", info["key"], "-p", str(info["port"]), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={connect_timeout}", "-o", "BatchMode=yes",
            f"{info['user']}@{info['host']}", *([shlex.join(command)] if command else [])]


def _wait_ssh(info: dict, timeout: float, console: Path, started: float | None = None) -> None:
    deadline = time.monotonic() + timeout
    started = started if started is not None else time.monotonic()
    while time.monotonic() < deadline:
        if not _node_pid(state_dir() / info["name"]):
            raise LabError(f"node {info['name']} stopped while booting (console: {console})")
        proc = subprocess.run(ssh_argv(info, ["true"], connect_timeout=5), capture_output=True, check=False, timeout=30)
        if proc.returncode == 0:
            log(f"node {info['name']} answers SSH {time.monotonic() - started:.1f} s after its start")
            return
        time.sleep(1)
    raise LabError(f"node {info['name']} did not answer SSH within {timeout:.0f} s (console: {console})")


def ssh(name: str, command: list[str]) -> int:
    info = _node_info(_valid_name(name))
    return subprocess.run(ssh_argv(info, command), check=False).returncode


def _session_members(sid: int) -> list[int]:
    """Every process of the session `sid` (a node's process is the leader of its own: UML's helpers are in it)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _stop_processes(node: Path) -> None:
    """Stop the node's processes (the node, its helpers, everything in their sessions); wait until they are gone."""
    for pid_name in ("uml.pid", "qemu.pid", "forward.pid"):
        pid = _read_pid(node / pid_name)
        if not pid:
            continue
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
            for dummy in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
        for dummy in range(50):
            members = ([pid] if _alive(pid) else []) + _session_members(pid)
            if not members:
                break
            for member in members:
                try:
                    os.kill(member, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            raise LabError(f"the processes of {node.name} ({pid_name}: {pid}) did not stop")
        (node / pid_name).unlink(missing_ok=True)
    node_uml.cleanup(node)


def stop(name: str) -> None:
    """Power node `name` off (its root stays: `up` boots it again)."""
    _stop_processes(state_dir() / _valid_name(name))
    _write_inventory()


def down(names: list[str] | None = None) -> None:
    """Stop nodes and delete their roots (all nodes when `names` is None)."""
    base = state_dir()
    targets = names if names is not None else [p.name for p in base.iterdir() if p.is_dir()]
    for name in targets:
        node = base / _valid_name(name)
        if node.exists():
            _stop_processes(node)
        shutil.rmtree(node, ignore_errors=True)
    _write_inventory()


def inventory_path() -> Path:
    return state_dir() / "inventory.ini"


def _write_inventory() -> None:
    lines = ["# Written by `python -m tests.lab up`: the lab's running nodes.", "[lab]"]
    for node in sorted(p for p in state_dir().iterdir() if p.is_dir()):
        if (node / "port").exists() and _node_pid(node):
            info = _node_info(node.name)
            lines.append(
                f"{info['name']} ansible_host={info['host']} ansible_port={info['port']} ansible_user={info['user']} "
                f"ansible_ssh_private_key_file={info['key']} ansible_python_interpreter={info['interpreter']} "
                "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'")
    partial = inventory_path().with_name(f"inventory.ini.{os.getpid()}")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(inventory_path())  # whole or not at all, for a reader in another process
