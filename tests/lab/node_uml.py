# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode's User-mode Linux engine: the node's own root booted by `linux.uml` over hostfs, read-write.

The UML kernel runs as an ordinary program inside the lab's network namespace (tests/lab/labnet.py), its eth0 a TAP on
the lab bridge; the node's address comes from a systemd-networkd file written into its root. SSH is reached through
127.0.0.1:<port> on this machine (tests/lab/forward.py), a forwarder that exits with the node. The UML kernel's modules are
mounted read-only at /lib/modules/<version> by an fstab line (hostfs), so `modprobe ip_vs` works. `systemctl reboot`
restarts the kernel inside the same process: the root (a directory on this machine) keeps what the node wrote.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from . import labnet
from .errors import LabError
from .provision import ensure_host_packages, log

UML_PACKAGES = ("user-mode-linux",)
DEBIAN_UML = Path("/usr/bin/linux.uml")
DEBIAN_UML_MODULES = Path("/usr/lib/uml/modules")
FORWARDER = Path(__file__).resolve().with_name("forward.py")


class UmlKernel(NamedTuple):
    binary: Path
    modules: Path
    version: str


def uml_kernel() -> UmlKernel:
    """The UML kernel for nodes: the lab's own build when tests/lab/uml.py provides it, else Debian's user-mode-linux."""
    try:
        from .uml import ensure_uml_kernel  # pylint: disable=import-outside-toplevel
    except ImportError:
        ensure_uml_kernel = None
    if ensure_uml_kernel is not None:
        built = ensure_uml_kernel()
        return UmlKernel(Path(built.binary), Path(built.modules), built.version)
    ensure_host_packages(UML_PACKAGES)
    versions = sorted(p.name for p in DEBIAN_UML_MODULES.iterdir() if (p / "modules.dep").exists()) if DEBIAN_UML_MODULES.is_dir() else []
    if not DEBIAN_UML.exists() or not versions:
        raise LabError(f"user-mode-linux is installed but {DEBIAN_UML} or its modules under {DEBIAN_UML_MODULES} are missing")
    return UmlKernel(DEBIAN_UML, DEBIAN_UML_MODULES / versions[-1], versions[-1])


def usable() -> str | None:
    """None when this machine can run UML nodes, else why not."""
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no TAP for the node)"
    if os.geteuid() != 0:
        return "UML nodes need root (network namespace and TAP)"
    return None


def prepare_root(rootfs: Path, address: str, kernel: UmlKernel) -> None:
    """What this engine needs in the node's root before each start: its address, the kernel's modules."""
    network = rootfs / "etc" / "systemd" / "network" / "10-lab.network"
    network.write_text(labnet.network_unit(address))
    # No reboot watchdog: UML's harddog needs a host helper (uml_watchdog) that would kill the node when pings stop.
    conf = rootfs / "etc" / "systemd" / "system.conf.d" / "lab-uml.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("[Manager]\nRebootWatchdogSec=0\n")
    mount_point = rootfs / "usr" / "lib" / "modules" / kernel.version
    mount_point.mkdir(parents=True, exist_ok=True)
    (rootfs / "etc" / "fstab").write_text(
        "# The root is this node's directory on the lab's machine (hostfs, read-write); the UML kernel's modules are lent read-only.\n"
        f"none /usr/lib/modules/{kernel.version} hostfs ro,{kernel.modules} 0 0\n")


def start(name: str, node: Path, rootfs: Path, address: str, memory_mb: int) -> int:
    """Start the UML node; write uml.pid; return its pid. The caller then starts the SSH forwarder."""
    kernel = uml_kernel()
    prepare_root(rootfs, address, kernel)
    tap = labnet.add_tap(address)
    console = node / "console.log"
    argv = [
        *labnet.netns_exec(), str(kernel.binary), f"mem={memory_mb}M", f"umid={name}", f"uml_dir={node}",
        "root=/dev/root", "rootfstype=hostfs", f"rootflags={rootfs}", "rw",
        f"eth0=tuntap,{tap},{labnet.mac_address(address)}", "con=null", "con0=null,fd:1", "ssl=null",
        "loglevel=4", "systemd.show_status=0",
    ]
    log(f"starting node {name} (UML {kernel.version}, {address} on the lab bridge)")
    with open(console, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=node,  # pylint: disable=consider-using-with
                                start_new_session=True, env=dict(os.environ, TMPDIR="/dev/shm"))
    (node / "uml.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def start_forwarder(node: Path, address: str, watch_pid: int) -> int:
    """127.0.0.1:<free port> on this machine to <address>:22 in the lab's namespace; write port and forward.pid."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        fd = listener.fileno()
        with open(node / "forward.log", "ab") as err:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [*labnet.netns_exec(), sys.executable, str(FORWARDER), "--fd", str(fd), "--to", f"{address}:22", "--watch", str(watch_pid)],
                pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    finally:
        listener.close()
    (node / "forward.pid").write_text(f"{proc.pid}\n")
    (node / "port").write_text(f"{port}\n")
    return port


def cleanup(node: Path) -> None:
    """After the node's processes are gone: its TAP (and the lab's namespace with the last one)."""
    address_file = node / "address"
    if address_file.exists():
        labnet.remove_tap(address_file.read_text().strip())
