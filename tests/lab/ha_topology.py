# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two NAT directors sharing their segments, for failover with connection synchronisation.

Runs as root inside a lab VM, never on a real network; documentation address ranges only.

    client ns "<p>c" 203.0.113.10/24 (+ .11-.17/32), 198.51.100.0/24 on-link (it ARPs for the VIP)
        |
    bridge "front" (in the switch ns "<p>sw")
        |  director 1 "<p>d1" 203.0.113.2/24      director 2 "<p>d2" 203.0.113.3/24
        |  the active one also holds the VIP 198.51.100.1/32 here
        |  ---- "ha0" veth between the two: 198.51.100.253/30 and .254/30, the sync daemons' link
        |  the active one also holds the real servers' gateway 192.0.2.1/24 on "back"
    bridge "back" (in "<p>sw")  director 1 192.0.2.2/24, director 2 192.0.2.3/24
        |
    real servers "<p>rs1".. 192.0.2.11.. /24, default route via 192.0.2.1 (NAT: replies go back through the active director)

`failover(src, dst)` moves the VIP and the gateway address the way keepalived does: delete them on
one director, add them on the other, and announce them with gratuitous ARP on both segments.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import time

from tests.lab.topology import CLIENT_NET, SERVER_NET, VIP, netns, sh, start_servers, stop_servers

SYNC_LINK = ("198.51.100.253", "198.51.100.254")  # /30, far from the VIP
GATEWAY = f"{SERVER_NET}.1"
ETH_P_ARP = 0x0806


class HaTopology:
    """The namespaces and links of a director pair; `up()` builds it with director 1 active, `down()` removes it."""

    def __init__(self, prefix: str = "ha", real_servers: int = 3, clients: int = 8) -> None:
        self.prefix = prefix
        self.switch_ns = f"{prefix}sw"
        self.client_ns = f"{prefix}c"
        self.directors = [f"{prefix}d1", f"{prefix}d2"]
        self.server_ns = [f"{prefix}rs{i}" for i in range(1, real_servers + 1)]
        self.clients = [f"{CLIENT_NET}.{10 + i}" for i in range(clients)]
        self.servers = [f"{SERVER_NET}.{11 + i}" for i in range(real_servers)]
        self.vip = VIP
        self.active = self.directors[0]

    def names(self) -> dict[str, str]:
        """Real server address -> its name (rs1, rs2, ...)."""
        return {addr: f"rs{i}" for i, addr in enumerate(self.servers, 1)}

    def _port(self, ns: str, ifname: str, bridge: str, peer: str) -> None:
        """A veth from namespace `ns` (named `ifname`) to a port `peer` of `bridge` in the switch."""
        sh("ip", "link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", peer, "netns", self.switch_ns)
        sh("ip", "link", "set", peer, "master", bridge, ns=self.switch_ns)
        sh("ip", "link", "set", peer, "up", ns=self.switch_ns)
        sh("ip", "link", "set", ifname, "up", ns=ns)

    def up(self) -> "HaTopology":
        self.down()
        for ns in [self.switch_ns, self.client_ns, *self.directors, *self.server_ns]:
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        for bridge in ("front", "back"):
            sh("ip", "link", "add", bridge, "type", "bridge", "forward_delay", "0", ns=self.switch_ns)
            sh("ip", "link", "set", bridge, "up", ns=self.switch_ns)
        # the client
        self._port(self.client_ns, "c0", "front", "cport")
        for i, addr in enumerate(self.clients):
            sh("ip", "addr", "add", f"{addr}/24" if i == 0 else f"{addr}/32", "dev", "c0", ns=self.client_ns)
        sh("ip", "route", "add", "198.51.100.0/24", "dev", "c0", "src", self.clients[0], ns=self.client_ns)
        # the directors
        for i, d in enumerate(self.directors):
            self._port(d, "front", "front", f"d{i + 1}front")
            self._port(d, "back", "back", f"d{i + 1}back")
            sh("ip", "addr", "add", f"{CLIENT_NET}.{2 + i}/24", "dev", "front", ns=d)
            sh("ip", "addr", "add", f"{SERVER_NET}.{2 + i}/24", "dev", "back", ns=d)
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=d)
        sh("ip", "link", "add", "ha0", "netns", self.directors[0], "type", "veth", "peer", "name", "ha0", "netns", self.directors[1])
        for d, addr in zip(self.directors, SYNC_LINK):
            sh("ip", "addr", "add", f"{addr}/30", "dev", "ha0", ns=d)
            sh("ip", "link", "set", "ha0", "up", ns=d)
        # the real servers
        for i, (ns, addr) in enumerate(zip(self.server_ns, self.servers), 1):
            self._port(ns, "eth0", "back", f"rs{i}port")
            sh("ip", "addr", "add", f"{addr}/24", "dev", "eth0", ns=ns)
            sh("ip", "route", "add", "default", "via", GATEWAY, ns=ns)
        self.take(self.directors[0], announce=False)
        return self

    def down(self) -> None:
        stop_servers(self.prefix)
        existing = set(sh("ip", "netns", "list", check=False).split())
        for ns in [self.client_ns, *self.directors, *self.server_ns, self.switch_ns]:
            if ns in existing:
                sh("ip", "netns", "del", ns, check=False)

    def serve(self, ports: tuple[int, ...] = (80, 443, 8080)) -> None:
        start_servers(self.prefix, list(zip(self.server_ns, [f"rs{i}" for i in range(1, len(self.server_ns) + 1)])), ports)

    # -- failover -------------------------------------------------------------------------

    def release(self, director: str) -> None:
        """Take the VIP and the gateway address away from `director` (it may not hold them)."""
        # One `ip -n -batch` process (no mount namespace, unlike `ip netns exec`): processes are slow under emulation.
        self._batch(director, [f"addr del {self.vip}/32 dev front", f"addr del {GATEWAY}/24 dev back"], check=False)

    def take(self, director: str, announce: bool = True) -> None:
        """Give `director` the VIP and the gateway address, and announce both with gratuitous ARP."""
        self._batch(director, [f"addr add {self.vip}/32 dev front", f"addr add {GATEWAY}/24 dev back"])
        if announce:
            gratuitous_arp(director, "front", self.vip)
            gratuitous_arp(director, "back", GATEWAY)
        self.active = director

    @staticmethod
    def _batch(ns: str, commands: list[str], check: bool = True) -> None:
        proc = subprocess.run(["ip", "-n", ns, "-force", "-batch", "-"], input="\n".join(commands) + "\n", capture_output=True, text=True,
                              check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"ip -n {ns} -batch: {proc.stderr.strip()}")

    def failover(self, to: str) -> dict[str, float]:
        """Move the addresses from the active director to `to`; return when (time.monotonic()) each step ended."""
        times = {"start": time.monotonic()}
        self.release(self.active)
        times["released"] = time.monotonic()
        self._batch(to, [f"addr add {self.vip}/32 dev front", f"addr add {GATEWAY}/24 dev back"])
        times["taken"] = time.monotonic()
        gratuitous_arp(to, "front", self.vip)
        gratuitous_arp(to, "back", GATEWAY)
        times["announced"] = time.monotonic()
        self.active = to
        return times


def gratuitous_arp(ns: str, ifname: str, address: str, count: int = 2) -> None:
    """Send `count` gratuitous ARP requests and replies for `address` out of `ifname` in `ns` (what keepalived sends)."""
    with netns(ns):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        sock.bind((ifname, ETH_P_ARP))
        mac = sock.getsockname()[4]
        ip = socket.inet_aton(address)
        broadcast = b"\xff" * 6
        for dummy in range(count):
            for op, target_mac in ((1, b"\0" * 6), (2, broadcast)):
                arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac, ip, target_mac, ip)
                sock.send(broadcast + mac + struct.pack("!H", ETH_P_ARP) + arp)
    finally:
        sock.close()
