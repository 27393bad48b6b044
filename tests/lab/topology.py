# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test hosts for traffic through an IPVS director, made of network namespaces.

Self-contained (standard library only) so it can be copied onto a lab node and run there with
`python3 topology.py up|down|serve|ask`. Runs as root inside a lab VM, never on a real network.

    client ns "<p>c"  203.0.113.10-.. /24 (and extra /32 client addresses)
        | veth
    director (ns "<p>d", or the current namespace)  203.0.113.1/24, VIPs 198.51.100.x/32
        | bridge "<p>br" 192.0.2.1/24
    real servers ns "<p>rs1".. 192.0.2.11.. /24, default route via 192.0.2.1

Each real server answers HTTP on its ports with "<name> <port>", so a test can tell which real
server served which client on which port. Addresses are documentation ranges only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
CLIENT_NET = "203.0.113"
SERVER_NET = "192.0.2"
VIP = "198.51.100.1"
DEFAULT_PORTS = (80, 443, 8080)
STATE_DIR = "/run/lvs-lab"

_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def netns(name: str | None):
    """Run the block with this thread in network namespace `name` (None: stay where we are)."""
    if name is None:
        yield
        return
    with open("/proc/thread-self/ns/net", "rb") as home, open(f"/run/netns/{name}", "rb") as target:
        if _libc.setns(target.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name} failed")
        try:
            yield
        finally:
            if _libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back failed")


def sh(*argv: str, ns: str | None = None, check: bool = True) -> str:
    """Run a command (argument list, no shell), inside namespace `ns` when given."""
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    proc = subprocess.run(full, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(full)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


class Topology:
    """The namespaces and links of one test network; `up()` builds it, `down()` removes it."""

    def __init__(self, real_servers: int = 3, clients: int = 8, prefix: str = "lvs", director_ns: str | None = "d",
                 mode: str = "nat", vips: tuple[str, ...] = (VIP,), extra_clients: tuple[str, ...] = ()) -> None:
        self.prefix = prefix
        self.client_ns = f"{prefix}c"
        self.director_ns = f"{prefix}{director_ns}" if director_ns else None
        self.server_ns = [f"{prefix}rs{i}" for i in range(1, real_servers + 1)]
        self.clients = [f"{CLIENT_NET}.{10 + i}" for i in range(clients)]
        self.extra_clients = list(extra_clients)
        self.servers = [f"{SERVER_NET}.{11 + i}" for i in range(real_servers)]
        self.mode = mode
        self.vips = list(vips)

    def names(self) -> dict[str, str]:
        """Real server address -> its name (rs1, rs2, ...)."""
        return {addr: f"rs{i}" for i, addr in enumerate(self.servers, 1)}

    def up(self) -> "Topology":
        self.down()
        d = self.director_ns
        for ns in [self.client_ns, *([d] if d else []), *self.server_ns]:
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        # client <-> director
        c_if, d_if = f"{self.prefix}c0", f"{self.prefix}d0"
        sh("ip", "link", "add", c_if, "netns", self.client_ns, "type", "veth", "peer", "name", d_if, *(["netns", d] if d else []))
        for i, addr in enumerate(self.clients):
            sh("ip", "addr", "add", f"{addr}/24" if i == 0 else f"{addr}/32", "dev", c_if, ns=self.client_ns)
        for addr in self.extra_clients:
            sh("ip", "addr", "add", f"{addr}/32", "dev", c_if, ns=self.client_ns)
        sh("ip", "link", "set", c_if, "up", ns=self.client_ns)
        sh("ip", "route", "add", "198.51.100.0/24", "via", f"{CLIENT_NET}.1", "src", self.clients[0], ns=self.client_ns)
        sh("ip", "addr", "add", f"{CLIENT_NET}.1/24", "dev", d_if, ns=d)
        for vip in self.vips:
            sh("ip", "addr", "add", f"{vip}/32", "dev", d_if, ns=d)
        sh("ip", "link", "set", d_if, "up", ns=d)
        for addr in self.clients[1:] + self.extra_clients:
            if not addr.startswith(CLIENT_NET + "."):
                sh("ip", "route", "add", f"{addr}/32", "dev", d_if, ns=d)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=d)
        # director <-> real servers over a bridge
        br = f"{self.prefix}br"
        sh("ip", "link", "add", br, "type", "bridge", ns=d)
        sh("ip", "addr", "add", f"{SERVER_NET}.1/24", "dev", br, ns=d)
        sh("ip", "link", "set", br, "up", ns=d)
        for ns, addr in zip(self.server_ns, self.servers):
            port = f"{ns}p"
            sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, *(["netns", d] if d else []))
            sh("ip", "link", "set", port, "master", br, ns=d)
            sh("ip", "link", "set", port, "up", ns=d)
            sh("ip", "addr", "add", f"{addr}/24", "dev", "eth0", ns=ns)
            sh("ip", "link", "set", "eth0", "up", ns=ns)
            sh("ip", "route", "add", "default", "via", f"{SERVER_NET}.1", ns=ns)
            if self.mode == "dr":
                for vip in self.vips:
                    sh("ip", "addr", "add", f"{vip}/32", "dev", "lo", ns=ns)
                for key, value in (("arp_ignore", "1"), ("arp_announce", "2")):
                    sh("sysctl", "-qw", f"net.ipv4.conf.all.{key}={value}", ns=ns)
                    sh("sysctl", "-qw", f"net.ipv4.conf.eth0.{key}={value}", ns=ns)
        return self

    def down(self) -> None:
        stop_servers(self.prefix)
        d = self.director_ns
        if d is None:
            for link in (f"{self.prefix}d0", f"{self.prefix}br", *[f"{ns}p" for ns in self.server_ns]):
                sh("ip", "link", "del", link, check=False)
        existing = set(sh("ip", "netns", "list", check=False).split())
        for ns in [self.client_ns, *([d] if d else []), *self.server_ns]:
            if ns in existing:
                sh("ip", "netns", "del", ns, check=False)

    def serve(self, ports: tuple[int, ...] = DEFAULT_PORTS) -> None:
        """Start the real servers' HTTP answers in a background process; return when they listen."""
        start_servers(self.prefix, list(zip(self.server_ns, [f"rs{i}" for i in range(1, len(self.server_ns) + 1)])), ports)


# ---------------------------------------------------------------- the real servers' HTTP answers

def _answer(conn: socket.socket, name: str, port: int) -> None:
    """A tiny HTTP/1.1 server: one line body "<name> <port>", keep-alive when the client asks."""
    conn.settimeout(30)
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            head, dummy, buf = buf.partition(b"\r\n\r\n")
            keep = b"HTTP/1.1" in head.split(b"\r\n", 1)[0] and b"connection: close" not in head.lower()
            body = f"{name} {port}\n".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s"
                         % (len(body), b"keep-alive" if keep else b"close", body))
            if not keep:
                return
    except OSError:
        return
    finally:
        conn.close()


def _listen_forever(sock: socket.socket, name: str, port: int) -> None:
    while True:
        try:
            conn, dummy = sock.accept()
        except OSError:
            return
        threading.Thread(target=_answer, args=(conn, name, port), daemon=True).start()


def run_servers(servers: list[tuple[str, str]], ports: tuple[int, ...], ready_file: str | None = None) -> None:
    """Serve forever: for each (namespace, name), listen on every port inside that namespace."""
    threads = []
    for ns, name in servers:
        for port in ports:
            with netns(ns):
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::", port))
                sock.listen(256)
            threads.append(threading.Thread(target=_listen_forever, args=(sock, name, port), daemon=True))
    for thread in threads:
        thread.start()
    if ready_file:
        with open(ready_file, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def start_servers(prefix: str, servers: list[tuple[str, str]], ports: tuple[int, ...], timeout: float = 60) -> None:
    os.makedirs(STATE_DIR, exist_ok=True)
    ready = os.path.join(STATE_DIR, f"{prefix}-serve.pid")
    if os.path.exists(ready):
        os.unlink(ready)
    spec = json.dumps({"servers": servers, "ports": list(ports), "ready": ready})
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", spec], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(STATE_DIR, f"{prefix}-serve.log"), "w", encoding="utf-8"),
                         start_new_session=True)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    deadline = time.monotonic() + timeout
    while not os.path.exists(ready):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the real servers did not start within {timeout:.0f} s (see {STATE_DIR}/{prefix}-serve.log)")
        time.sleep(0.1)


def stop_servers(prefix: str) -> None:
    ready = os.path.join(STATE_DIR, f"{prefix}-serve.pid")
    try:
        with open(ready, encoding="utf-8") as handle:
            pid = int(handle.read().strip())
        os.kill(pid, signal.SIGTERM)
        os.unlink(ready)
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------- the clients

def ask(ns: str | None, source: str, host: str, port: int, count: int = 1, timeout: float = 3.0, keepalive: bool = False) -> list[str]:
    """Make `count` HTTP requests from `source` inside `ns`; return who answered each ("rs2"),
    or "error:<reason>" for a failed one. A new TCP connection per request unless `keepalive`."""
    answers: list[str] = []
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = None
    deadline = time.monotonic() + count * timeout + 5
    for dummy in range(count):
        if time.monotonic() > deadline:
            answers.append("error:deadline")
            continue
        try:
            if sock is None:
                with netns(ns):
                    sock = socket.socket(family, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.bind((source, 0))
                sock.connect((host, port))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: %s\r\n\r\n" % (b"keep-alive" if keepalive else b"close"))
            answers.append(_read_answer(sock))
        except OSError as exc:
            answers.append(f"error:{exc.__class__.__name__}:{exc}")
            keepalive_ok = False
        else:
            keepalive_ok = keepalive
        if not keepalive_ok and sock is not None:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return answers


class Session:
    """One keep-alive HTTP connection from `source` in `ns`, kept open across calls to get()."""

    def __init__(self, ns: str | None, source: str, host: str, port: int, timeout: float = 3.0) -> None:
        with netns(ns):
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.local_port = self.sock.getsockname()[1]

    def get(self) -> str:
        """Who answered on this connection ("rs2"), or "error:<reason>"."""
        try:
            self.sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: keep-alive\r\n\r\n")
            return _read_answer(self.sock)
        except OSError as exc:
            return f"error:{exc.__class__.__name__}:{exc}"

    def close(self, abort: bool = False) -> None:
        """Close; with `abort`, reset the connection (no TIME_WAIT left behind on the director)."""
        if abort:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def _read_answer(sock: socket.socket) -> str:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("closed before the answer")
        buf += data
    head, dummy, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, dummy, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("closed inside the answer")
        body += data
    return body.decode().split()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("up", "down"):
        p = sub.add_parser(verb)
        p.add_argument("--real-servers", type=int, default=3)
        p.add_argument("--prefix", default="lvs")
        p.add_argument("--mode", choices=("nat", "dr"), default="nat")
        p.add_argument("--director-in-current-namespace", action="store_true")
        p.add_argument("--vip", action="append", default=None)
        p.add_argument("--extra-client", action="append", default=[])
    p = sub.add_parser("serve")
    p.add_argument("spec")
    p = sub.add_parser("ask")
    p.add_argument("--ns", default="lvsc")
    p.add_argument("--source", required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("target", help="HOST:PORT")
    args = parser.parse_args(argv)
    if args.verb == "serve":
        spec = json.loads(args.spec)
        run_servers([tuple(s) for s in spec["servers"]], tuple(spec["ports"]), spec["ready"])
        return 0
    if args.verb == "ask":
        host, dummy, port = args.target.rpartition(":")
        print(json.dumps(ask(args.ns, args.source, host.strip("[]"), int(port), args.count)))
        return 0
    topo = Topology(real_servers=args.real_servers, prefix=args.prefix, mode=args.mode,
                    director_ns=None if args.director_in_current_namespace else "d", vips=tuple(args.vip or [VIP]),
                    extra_clients=tuple(args.extra_client))
    if args.verb == "up":
        topo.up()
        topo.serve()
    else:
        topo.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
