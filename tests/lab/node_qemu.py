# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode's QEMU engine (the fallback): Debian's kernel, the node's root over 9p read-write, SSH by QEMU's user network.

The initramfs loads the virtio and 9p modules, mounts the node's root and the kernel's modules (read-only) and
switch_roots to systemd. The VM's user network is restricted (no route out); its SSH port is forwarded to 127.0.0.1.
"""

from __future__ import annotations

import socket
from pathlib import Path

from .provision import build_initramfs, cache_dir, ensure_kernel, log, run
from .qemu import accel_args, qemu_binary

IMAGE_FORMAT = "2"  # the initramfs's format, in its cache name
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


def initramfs() -> Path:
    kernel = ensure_kernel()
    return build_initramfs(kernel, NODE_INIT, INITRAMFS_MODULES, cache_dir() / f"node-initramfs-{kernel.version}-v{IMAGE_FORMAT}.cpio.gz")


def prepare_root(rootfs: Path) -> None:
    """What this engine needs in the node's root before each start: DHCP from QEMU's user network, no fstab mounts."""
    (rootfs / "etc" / "systemd" / "network" / "10-lab.network").write_text(NETWORK_UNIT)
    (rootfs / "etc" / "fstab").write_text("# the root is mounted over 9p by the lab's initramfs\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(name: str, node: Path, rootfs: Path, memory_mb: int) -> int:
    """Start the VM (daemonized; qemu.pid); write and return its SSH port on 127.0.0.1."""
    kernel = ensure_kernel()
    prepare_root(rootfs)
    port = _free_port()
    console = node / "console.log"
    argv = [
        qemu_binary(), *accel_args(), "-m", str(memory_mb), "-smp", "2",
        "-kernel", str(kernel.vmlinuz), "-initrd", str(initramfs()),
        "-append", "console=ttyS0 loglevel=4 panic=-1 net.ifnames=0",
        "-display", "none", "-monitor", "none", "-serial", f"file:{console}",
        "-nic", f"user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-virtfs", f"local,path={rootfs},mount_tag=noderoot,security_model=passthrough,multidevs=remap",
        "-virtfs", f"local,path={kernel.modules},mount_tag=kmods,security_model=none,readonly=on,multidevs=remap",
        "-pidfile", str(node / "qemu.pid"), "-daemonize",
    ]
    log(f"starting node {name} (QEMU, ssh on 127.0.0.1:{port})")
    run(argv, f"starting qemu for node {name}", timeout=60)
    (node / "port").write_text(f"{port}\n")
    return port
