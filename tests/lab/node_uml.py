# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode's User-mode Linux engine: the node's own root booted by `linux.uml` over hostfs, read-write.

The UML kernel runs as an ordinary program inside the lab's network namespace (tests/lab/labnet.py), its eth0 a TAP on
the lab bridge; the node's address comes from a systemd-networkd file written into its root. SSH is reached through
127.0.0.1:<port> on this machine (tests/lab/forward.py), a forwarder that exits with the node. The UML kernel's modules are
mounted read-only at /lib/modules/<version> (hostfs) by a small init before systemd, so `modprobe ip_vs` works. `systemctl reboot`
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
INIT = "/sbin/lab-uml-init"
# The node's first process: the UML kernel's modules (read-only, from the lab's machine) at /lib/modules/<version> before
# systemd starts, so that systemd-modules-load and systemd-sysctl (net.ipv4.vs.*) find them early in every boot.
INIT_SCRIPT = """#!/bin/sh
# Written by the lab (tests/lab/node_uml.py) before each start of this node under User-mode Linux.
mount -n -t hostfs -o ro,{modules} none /usr/lib/modules/{version} || echo "lab-uml-init: cannot mount the kernel's modules" >&2
exec /sbin/init "$@"
"""


class UmlKernel(NamedTuple):
    binary: Path
    modules: Path
    version: str


def _lab_uml():
    """tests/lab/uml.py (the lab's own UML build and its read-only sandbox), when this checkout has it."""
    try:
        from . import uml  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return uml


def uml_kernel() -> UmlKernel:
    """The UML kernel for nodes: the lab's own build when tests/lab/uml.py provides it, else Debian's user-mode-linux."""
    lab_uml = _lab_uml()
    if lab_uml is not None:
        built = lab_uml.ensure_uml_kernel()
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
    (rootfs / "etc" / "fstab").write_text("# The root is this node's folder on the lab's machine (hostfs, read-write); see /sbin/lab-uml-init.\n")
    init = rootfs / INIT.lstrip("/")
    init.write_text(INIT_SCRIPT.format(version=kernel.version, modules=kernel.modules))
    init.chmod(0o755)


def start(name: str, node: Path, rootfs: Path, address: str, memory_mb: int) -> int:
    """Start the UML node; write uml.pid; return its pid. The caller then starts the SSH forwarder."""
    kernel = uml_kernel()
    prepare_root(rootfs, address, kernel)
    tap = labnet.add_tap(address)
    console = node / "console.log"
    # hostfs is no boundary (the guest's root could mount any host path): with the lab's sandbox, everything but the
    # node's own folder is read-only for the UML process.
    lab_uml = _lab_uml()
    sandbox = lab_uml.sandbox_argv([node]) if lab_uml is not None else []
    argv = [
        *labnet.netns_exec(), *sandbox, str(kernel.binary), f"mem={memory_mb}M", f"umid={name}", f"uml_dir={node}",
        "root=/dev/root", "rootfstype=hostfs", f"rootflags={rootfs}", "rw", f"init={INIT}",
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
