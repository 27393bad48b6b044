# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's own network for UML nodes, kept inside a network namespace the lab creates.

    this machine's namespace: nothing but 127.0.0.1:<port> listeners (tests/lab/forward.py, one per node)
    namespace "lvs-lab":   bridge "lab0" 198.51.100.129/26, one TAP per node ("tap<octet>") in it
    node:                  eth0 = the TAP, 198.51.100.<octet>/26 (a systemd-networkd file in its root), octet 130-175
    test hosts:            198.51.100.176-190, kept for tests that put hosts of their own on lab0 (network namespaces,
                           each joined by a veth inside "lvs-lab": tests/node/pair_lab.py); never given to a node

The nodes reach each other on lab0 (multicast included: VRRP, the sync daemons). The range is a /26 of a documentation
network that the test hosts inside a node do not use (they use 203.0.113.0/24, 192.0.2.0/24 and VIPs 198.51.100.1-127,
an HA link at 198.51.100.252/30). No interface, address or route is ever made in this machine's own namespace. The
namespace (and its bridge) is deleted when its last TAP goes.
"""

from __future__ import annotations

import fcntl
import subprocess
from contextlib import contextmanager
from pathlib import Path

from .errors import LabError
from .provision import cache_dir, run

NAMESPACE = "lvs-lab"
BRIDGE = "lab0"
NET = "198.51.100"
PREFIX_LEN = 26
GATEWAY = f"{NET}.129"  # the namespace's own end on the bridge (the SSH forwarders connect from it)
FIRST, LAST = 130, 175  # the nodes' addresses
TEST_HOSTS = range(176, 191)  # the test hosts' addresses (see the docstring), never a node's


@contextmanager
def locked():
    """One lab process at a time changes the namespace (several checkouts share the cache and the namespace)."""
    with open(cache_dir() / "labnet.lock", "w", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ip", "-n", NAMESPACE, *args]
    if check:
        return run(argv, f"`{' '.join(argv)}`", timeout=60)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _namespace_exists() -> bool:
    return Path(f"/run/netns/{NAMESPACE}").exists()


def _ensure_namespace() -> None:
    if _namespace_exists() and _ip("link", "show", BRIDGE, check=False).returncode == 0:
        return
    if not _namespace_exists():
        run(["ip", "netns", "add", NAMESPACE], f"creating the network namespace {NAMESPACE}", timeout=60)
    _ip("link", "set", "lo", "up")
    if _ip("link", "show", BRIDGE, check=False).returncode != 0:
        _ip("link", "add", BRIDGE, "type", "bridge")
        # Multicast (VRRP 224.0.0.18, the sync daemons 224.0.0.81) is flooded to every port: no snooping to learn first.
        _ip("link", "set", BRIDGE, "type", "bridge", "mcast_snooping", "0")
    _ip("addr", "replace", f"{GATEWAY}/{PREFIX_LEN}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def tap_name(address: str) -> str:
    return f"tap{address.rsplit('.', 1)[1]}"


def mac_address(address: str) -> str:
    """The node's own MAC, from its address (UML would give every node the same "random" one: no entropy that early)."""
    return "02:1a:" + ":".join(f"{int(octet):02x}" for octet in address.split("."))


def allocate(taken: set[str]) -> str:
    """A free node address on the lab bridge (not in `taken`, the addresses of the nodes that exist)."""
    for octet in range(FIRST, LAST + 1):
        address = f"{NET}.{octet}"
        if address not in taken:
            return address
    raise LabError(f"no free address left on the lab bridge ({NET}.{FIRST}-{LAST}): stop some nodes")


def add_tap(address: str) -> str:
    """The TAP of the node at `address`, attached to the bridge (made again from scratch if it exists)."""
    tap = tap_name(address)
    with locked():
        _ensure_namespace()
        _ip("link", "del", tap, check=False)
        _ip("tuntap", "add", "dev", tap, "mode", "tap")
        _ip("link", "set", tap, "master", BRIDGE)
        _ip("link", "set", tap, "up")
    return tap


def remove_tap(address: str) -> None:
    """Delete the node's TAP; delete the namespace when no TAP is left in it."""
    if not _namespace_exists():
        return
    with locked():
        _ip("link", "del", tap_name(address), check=False)
        links = _ip("-o", "link", "show", check=False).stdout
        if not any(": tap" in line for line in links.splitlines()):
            subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True, timeout=60, check=False)


def netns_exec() -> list[str]:
    """The argv prefix that runs a program inside the lab's namespace (`ip netns exec` execs it: same pid)."""
    return ["ip", "netns", "exec", NAMESPACE]


def network_unit(address: str) -> str:
    """The node's systemd-networkd file: its static address on the lab bridge, no default route (nothing beyond)."""
    return (f"[Match]\nName=eth0\n\n[Network]\nAddress={address}/{PREFIX_LEN}\nLinkLocalAddressing=ipv6\n"
            "IPv6AcceptRA=no\nConfigureWithoutCarrier=yes\n")
