# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test hosts of a DR director pair on the lab bridge, and the clients' load through the VIP.

    bridge lab0 in namespace "lvs-lab" (tests/lab/labnet.py), 198.51.100.128/26
      the two directors: lab nodes (eth0 .130-.175); the active one holds the VIP 198.51.100.180 on eth0 (keepalived)
      namespace lvs-pair-rs1 .. lvs-pair-rs4: eth0 198.51.100.181-.184/26, the VIP on lo (arp_ignore=1, arp_announce=2:
                                               DR), HTTP on port 80 answering "rsN 80"
      namespace lvs-pair-client:               eth0 198.51.100.185-.189/26, one client per address

Each namespace is joined to lab0 by a veth whose other end is made inside "lvs-lab": nothing is made in this machine's
own namespace. The addresses are labnet.TEST_HOSTS, which no node is given. The director forwards a client's packets to
its real server on lab0 (DR: only the MAC changes); the real server answers the client directly from the VIP.

ClientLoop is the clients' load (`with ClientLoop() as load:`): each client a new connection every `interval` seconds
(topology.Session), bounded in time and count, every request recorded (time, client, answer or failure).
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from tests.lab import labnet
from tests.lab.topology import Session, start_servers, stop_servers

VIP = f"{labnet.NET}.180"
PORT = 80
SERVERS = {f"rs{i}": f"{labnet.NET}.{180 + i}" for i in range(1, 5)}  # rs1 .181 .. rs4 .184
CLIENTS = [f"{labnet.NET}.{octet}" for octet in range(185, 190)]
CLIENT_NS = "lvs-pair-client"
PREFIX = "lvs-pair"  # the real servers' HTTP process (topology.start_servers)
assert all(int(address.rsplit(".", 1)[1]) in labnet.TEST_HOSTS for address in [VIP, *SERVERS.values(), *CLIENTS])


def server_ns(name: str) -> str:
    return f"{PREFIX}-{name}"


def _veth(ns: str) -> str:
    """The veth end on lab0 of namespace `ns` (at most 15 characters, never "tap...", the nodes' links)."""
    return "pr-" + ns.rsplit("-", 1)[1]


def _batch(lines: list[str], ns: str) -> None:
    """Many ip commands in one process, inside namespace `ns`."""
    proc = subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, f"ip -n {ns} -batch: {proc.stderr.strip()}\n" + "\n".join(lines)


def _sysctl(ns: str, *settings: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", *settings], capture_output=True, timeout=60, check=True)


def _host(ns: str, addresses: list[str]) -> None:
    """Namespace `ns` with eth0 on lab0 holding `addresses` (/26, the bridge's prefix). Its MAC comes from its first
    address, as a node's does: made again, it has the same, so no director sends to a MAC that no longer exists."""
    subprocess.run(["ip", "netns", "add", ns], capture_output=True, timeout=60, check=True)
    _batch([f"link add {_veth(ns)} type veth peer name eth0 address {labnet.mac_address(addresses[0])} netns {ns}",
            f"link set {_veth(ns)} master {labnet.BRIDGE}",
            f"link set {_veth(ns)} up"], labnet.NAMESPACE)
    _batch(["link set lo up", *[f"addr add {address}/{labnet.PREFIX_LEN} dev eth0" for address in addresses],
            "link set eth0 up"], ns)


def up() -> None:
    """The real servers and the client on lab0 (made again from scratch), the real servers' HTTP answers started.
    The lab's namespace and bridge must exist: a UML node is running."""
    down()
    with labnet.locked():
        assert subprocess.run(["ip", "-n", labnet.NAMESPACE, "link", "show", labnet.BRIDGE], capture_output=True, timeout=60,
                              check=False).returncode == 0, f"no bridge {labnet.BRIDGE} in {labnet.NAMESPACE}: no UML node runs"
        for name, address in SERVERS.items():
            ns = server_ns(name)
            _host(ns, [address])
            _batch([f"addr add {VIP}/32 dev lo"], ns)
            # DR: the real server holds the VIP but never answers ARP for it, nor uses it as the source of its own ARP.
            _sysctl(ns, *(f"net.ipv4.conf.{link}.{key}={value}" for link in ("all", "eth0")
                          for key, value in (("arp_ignore", "1"), ("arp_announce", "2"))))
        _host(CLIENT_NS, CLIENTS)
    start_servers(PREFIX, [(server_ns(name), name) for name in SERVERS], (PORT,))


def down() -> None:
    """Stop the HTTP answers, delete the veths (at once: a namespace's links go some time after the namespace) and the
    namespaces."""
    stop_servers(PREFIX)
    hosts = [server_ns(name) for name in SERVERS] + [CLIENT_NS]
    if Path(f"/run/netns/{labnet.NAMESPACE}").exists():
        subprocess.run(["ip", "-n", labnet.NAMESPACE, "-force", "-batch", "-"], input="".join(f"link del {_veth(ns)}\n" for ns in hosts),
                       capture_output=True, text=True, timeout=60, check=False)
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=60, check=False).stdout.split()
    for ns in hosts:
        if ns in existing:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=60, check=False)


class ClientLoop:
    """Every client opens a new connection to VIP:PORT every `interval` seconds, asks once, resets it (the director keeps
    it 10 s in CLOSE, not 120 s in TIME_WAIT), from the start of a `with` block to its end, for `seconds` at most and
    `max_requests` (all clients together)."""

    def __init__(self, clients: list[str] | None = None, interval: float = 0.2, seconds: float = 300, max_requests: int = 20000,
                 timeout: float = 5.0) -> None:
        self.clients = list(clients or CLIENTS)
        self.interval, self.seconds, self.max_requests, self.timeout = interval, seconds, max_requests, timeout
        self.records: list[tuple[float, float, str, str]] = []  # (started, ended, client, answer "rs2" or "error:...")
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(client,), daemon=True) for client in self.clients]
        self.started = 0.0

    def __enter__(self) -> "ClientLoop":
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *dummy) -> None:
        """Stop the clients (each ends the request it is making)."""
        self.stopped.set()
        deadline = time.monotonic() + self.timeout + 30
        for thread in self.threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in self.threads), "a client did not stop"

    def _client(self, client: str) -> None:
        deadline = self.started + self.seconds
        while not self.stopped.is_set() and time.monotonic() < deadline and len(self.records) < self.max_requests:
            began = time.monotonic()
            try:
                session = Session(CLIENT_NS, client, VIP, PORT, self.timeout)
            except OSError as exc:
                answer = f"error:connect:{exc.__class__.__name__}:{exc}"
            else:
                answer = session.get()
                session.close(abort=True)
            with self.lock:
                self.records.append((began, time.monotonic(), client, answer))
            self.stopped.wait(self.interval)

    def served(self) -> dict[str, list[str]]:
        """Each client's answers so far, in order (failures left out)."""
        with self.lock:
            records = list(self.records)
        return {client: [answer for dummy, dummy2, who, answer in records if who == client and not answer.startswith("error")]
                for client in self.clients}

    def wait_answers(self, count: int, limit: float = 60) -> None:
        """Until every client has `count` answers more than now (bounded)."""
        before = {client: len(answers) for client, answers in self.served().items()}
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if all(len(answers) >= before[client] + count for client, answers in self.served().items()):
                return
            time.sleep(0.2)
        raise AssertionError(f"the clients did not get {count} answers each within {limit:.0f} s: {self.figures()}")

    def figures(self) -> dict:
        """requests, failures, moves (a client answered by another real server than its first), the longest gap (s) a
        client went without an answer, each client's real server(s), a few failures and moves."""
        with self.lock:
            records = sorted(self.records)
        failures = [(round(began - self.started, 1), client, answer) for began, dummy, client, answer in records
                    if answer.startswith("error")]
        moves, gap, pinned = [], 0.0, {}
        for client in self.clients:
            answered = [(ended, answer) for dummy, ended, who, answer in records if who == client and not answer.startswith("error")]
            first = answered[0][1] if answered else None
            pinned[client] = sorted({answer for dummy, answer in answered})
            moves += [(round(ended - self.started, 1), client, first, answer) for ended, answer in answered if answer != first]
            ends = [self.started] + [ended for ended, dummy in answered]
            gap = max([gap] + [later - earlier for earlier, later in zip(ends, ends[1:])])
        return {"requests": len(records), "failures": len(failures), "moves": len(moves), "longest_gap": round(gap, 2),
                "seconds": round((records[-1][1] - self.started) if records else 0.0, 1), "pinned": pinned,
                "failure_samples": failures[:5], "move_samples": moves[:5]}
