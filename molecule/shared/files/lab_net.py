# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Traffic for the molecule scenarios, run ON the lab node next to a copy of tests/lab/topology.py.

    lab_net.py up [--extra-client ADDR]...   client, real servers (NAT), director = this namespace
    lab_net.py down
    lab_net.py ask PLAN_JSON                 many requests from one process; prints JSON
    lab_net.py report                        the demo's table: who served each client on 80, 443, 8080
    lab_net.py loop --out FILE --seconds N   a bounded background client loop (drain test)
    lab_net.py clients --out FILE --seconds N --source ADDR...   one client loop per source, side by side (health test)
    lab_net.py listener stop|start rs2       stop or start the listeners of one real server (up --apart rs2)
    lab_net.py blackhole on|off rs2          drop, or stop dropping, every packet that arrives at one real server

One Python start costs seconds in the emulated guest, so every request of a check is made by one
process. Only documentation addresses; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import topology  # noqa: E402  (copied next to this file)

PREFIX = "lvs"
CLIENT_NS = f"{PREFIX}c"
SERVER_NS = [f"{PREFIX}rs{i}" for i in range(1, 4)]
CLIENTS = [f"{topology.CLIENT_NET}.{10 + i}" for i in range(8)]
SERVERS = [f"{topology.SERVER_NET}.{11 + i}" for i in range(3)]
# up --sorry-server: one more host on the real servers' bridge, answering "sorry" (a health-checked service's sorry server).
SORRY_NS = f"{PREFIX}sorry"
SORRY_SERVER = f"{topology.SERVER_NET}.20"


def _batch(lines: list[str], ns: str | None = None, force: bool = False) -> None:
    """Many ip commands in one process (`ip -batch`): each process start costs a lot in an emulated guest."""
    argv = ["ip", *(["-n", ns] if ns else []), *(["-force"] if force else []), "-batch", "-"]
    proc = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True, check=False)
    if proc.returncode != 0 and not force:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")


def up(extra_clients: list[str], apart: tuple[str, ...] = (), sorry_server: bool = False) -> None:
    """The test hosts of tests/lab/topology.py (NAT, the director in this namespace), made with a few `ip -batch` runs:
    client namespace lvsc (203.0.113.10-17 and the extra clients), real servers lvsrs1-3 (192.0.2.11-13, default
    route via 192.0.2.1 on bridge lvsbr), VIP 198.51.100.1 on lvsd0; then the real servers' HTTP answers. The real
    servers named in `apart` (rs2) answer from a process of their own, so that their listeners can stop alone. With
    `sorry_server`, namespace lvssorry (192.0.2.20 on the same bridge) answers "sorry"."""
    down()
    hosts = list(zip(SERVER_NS, SERVERS)) + ([(SORRY_NS, SORRY_SERVER)] if sorry_server else [])
    root = [f"netns add {ns}" for ns in [CLIENT_NS, *(ns for ns, dummy in hosts)]]
    root += [f"link add {PREFIX}c0 netns {CLIENT_NS} type veth peer name {PREFIX}d0",
             f"addr add {topology.CLIENT_NET}.1/24 dev {PREFIX}d0", f"addr add {topology.VIP}/32 dev {PREFIX}d0",
             f"link set {PREFIX}d0 up", f"link add {PREFIX}br type bridge", f"addr add {topology.SERVER_NET}.1/24 dev {PREFIX}br",
             f"link set {PREFIX}br up"]
    root += [f"route add {addr}/32 dev {PREFIX}d0" for addr in extra_clients]
    for ns, dummy in hosts:
        # The node's own NIC is eth0: make the real server's end under another name, rename it inside its namespace.
        root += [f"link add {ns}e0 netns {ns} type veth peer name {ns}p", f"link set {ns}p master {PREFIX}br", f"link set {ns}p up"]
    _batch(root)
    with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as handle:
        handle.write("1\n")
    client = ["link set lo up", f"addr add {CLIENTS[0]}/24 dev {PREFIX}c0"]
    client += [f"addr add {addr}/32 dev {PREFIX}c0" for addr in CLIENTS[1:] + extra_clients]
    client += [f"link set {PREFIX}c0 up", f"route add 198.51.100.0/24 via {topology.CLIENT_NET}.1 src {CLIENTS[0]}"]
    _batch(client, CLIENT_NS)
    for ns, addr in hosts:
        _batch(["link set lo up", f"link set {ns}e0 name eth0", f"addr add {addr}/24 dev eth0", "link set eth0 up",
                f"route add default via {topology.SERVER_NET}.1"], ns)
    together = [(ns, f"rs{i}") for i, ns in enumerate(SERVER_NS, 1) if f"rs{i}" not in apart]
    if together:
        topology.start_servers(PREFIX, together, topology.DEFAULT_PORTS)
    for name in apart:
        listener("start", name)
    if sorry_server:
        topology.start_servers(f"{PREFIX}-sorry", [(SORRY_NS, "sorry")], topology.DEFAULT_PORTS)


def listener(verb: str, name: str) -> None:
    """Start or stop the listeners of real server `name` (rs1..rs3) when it answers from a process of its own (up
    --apart NAME): stopped, its ports refuse connections (RST), as when the service dies on a live host."""
    if verb == "start":
        topology.start_servers(f"{PREFIX}-{name}", [(f"{PREFIX}{name}", name)], topology.DEFAULT_PORTS)
    else:
        topology.stop_servers(f"{PREFIX}-{name}")


def blackhole(verb: str, name: str) -> None:
    """`on`: every frame that arrives at real server `name`'s interface is dropped (ARP included; an nft netdev ingress
    chain in its namespace), as when the host dies: connections to it time out. `off`: it answers again."""
    ns = f"{PREFIX}{name}"
    if verb == "on":
        rules = ('table netdev lab_blackhole {\n  chain in {\n    type filter hook ingress device "eth0" priority 0; '
                 'policy drop;\n  }\n}\n')
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, text=True, check=True)
    else:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "netdev", "lab_blackhole"], check=False,
                       stderr=subprocess.DEVNULL)


def down() -> None:
    topology.stop_servers(PREFIX)
    for name in [f"rs{i}" for i in range(1, len(SERVER_NS) + 1)] + ["sorry"]:
        topology.stop_servers(f"{PREFIX}-{name}")
    existing = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.split())
    lines = [f"link del {link}" for link in (f"{PREFIX}d0", f"{PREFIX}br", *[f"{ns}p" for ns in SERVER_NS + [SORRY_NS]])]
    lines += [f"netns del {ns}" for ns in [CLIENT_NS, *SERVER_NS, SORRY_NS] if ns in existing]
    _batch(lines, force=True)


def one_request(source: str, host: str, port: int, timeout: float, hold: list[socket.socket] | None, reset: bool = False) -> str:
    """One HTTP request on a new connection. With `hold`, the socket is kept open (half-closed by the
    server) instead of closed, so the director sees no client FIN: see the timeout check. With `reset`, it is closed
    with a RST once answered: the director keeps the connection 10 s (CLOSE) instead of 120 s (TIME_WAIT), so that a
    client's persistence template lives its persistence timeout after the last request, not 120 s more."""
    with topology.netns("lvsc"):
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.bind((source, 0))
        sock.connect((host, port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        answer = topology._read_answer(sock)  # pylint: disable=protected-access
    except OSError as exc:
        sock.close()
        return f"error:{exc.__class__.__name__}:{exc}"
    if hold is None:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    else:
        hold.append(sock)
    return answer


def templates() -> list[dict]:
    """The persistence templates as `ipvsadm -Lnc` lists them (client port 0)."""
    rows = []
    for line in topology.sh("ipvsadm", "-L", "-n", "-c").splitlines()[2:]:
        words = line.split()
        if len(words) >= 6 and words[3].endswith(":0"):
            rows.append({"protocol": words[0], "expires": words[1], "state": words[2], "client": words[3].rsplit(":", 1)[0],
                         "virtual": words[4], "real_server": words[5].rsplit(":", 1)[0]})
    return rows


def ask(plan: list[dict]) -> list[dict]:
    """plan: a list of steps, each one of
    {"source": ADDR, "port": N, "count": N, "host": VIP (optional), "hold": true (optional)}: requests, one connection each;
    {"sleep": S}: wait S seconds (at most 120);
    {"templates": true}: the persistence templates at that moment;
    {"wait_gone": {"client": ADDR, "virtual": "VIP:PORT", "max": S}}: poll the templates every second until the client's
    template for that virtual service is gone (at most S seconds, at most 120); gives the seconds it took, or null.
    Held connections (see one_request) are closed 3 s after the last step, once the director has forgotten them."""
    results: list[dict] = []
    held: list[socket.socket] = []
    deadline = time.monotonic() + 300
    for step in plan:
        if step.get("sleep"):
            time.sleep(min(float(step["sleep"]), 120))
            results.append({"slept": float(step["sleep"])})
            continue
        if step.get("templates"):
            results.append({"templates": templates(), "t": round(time.time(), 3)})
            continue
        if step.get("wait_gone"):
            want = step["wait_gone"]
            started = time.monotonic()
            gone_after = None
            while time.monotonic() - started < min(float(want.get("max", 60)), 120):
                if not [row for row in templates() if row["client"] == want["client"] and row["virtual"] == want["virtual"]]:
                    gone_after = round(time.monotonic() - started, 1)
                    break
                time.sleep(1)
            results.append({"gone_after": gone_after})
            continue
        answers = []
        for dummy in range(min(int(step.get("count", 1)), 50)):
            if time.monotonic() > deadline:
                answers.append("error:deadline")
                continue
            answers.append(one_request(step["source"], step.get("host", topology.VIP), int(step["port"]), 5.0,
                                       held if step.get("hold") else None))
        results.append({"source": step["source"], "port": int(step["port"]), "answers": answers, "t": round(time.time(), 3)})
    if held:
        time.sleep(3)
    for sock in held:
        sock.close()
    return results


def report() -> None:
    """What the demo prints: each client's answers on the marked ports 80 and 443, and on the unmarked 8080."""
    names = {f"{topology.SERVER_NET}.{11 + i}": f"rs{1 + i}" for i in range(3)}
    print(f"PNMPP in the lab: packets for {topology.VIP} ports 80 (HTTP) and 443 (HTTPS) get firewall mark 8 (nft table")
    print("inet lvs_ipvs); the persistent fwmark service 8 (rr, 600 s) balances them together, NAT to the real servers")
    print(", ".join(f"{name} = {address}" for address, name in names.items()) + ". Port 8080 is a service of its own (rr, not")
    print("persistent). Three new connections per client and port:")
    print("")
    print(f"{'client':<16} {'HTTP (80)':<14} {'HTTPS (443)':<14} {'8080 (not marked)':<20} same server for 80 and 443?")
    for client in [f"{topology.CLIENT_NET}.{10 + i}" for i in range(5)]:
        row = {port: [one_request(client, topology.VIP, port, 5.0, None) for dummy in range(3)] for port in (80, 443, 8080)}
        marked = set(row[80]) | set(row[443])
        verdict = f"yes, {row[80][0]}" if len(marked) == 1 else f"NO: {sorted(marked)}"
        print(f"{client:<16} {' '.join(row[80]):<14} {' '.join(row[443]):<14} {' '.join(row[8080]):<20} {verdict}")
    print("")
    print("$ ipvsadm -L -n")
    print(topology.sh("ipvsadm", "-L", "-n").rstrip())
    print("")
    print("$ ipvsadm -L -n -c   (the persistence templates: client port 0, one per client, virtual 0.0.0.8 = mark 8)")
    lines = topology.sh("ipvsadm", "-L", "-n", "-c").splitlines()
    print("\n".join(lines[1:2] + [line for line in lines[2:] if line.split()[3].endswith(":0")]))


def loop(out: str, seconds: float, interval: float, sources: list[str], ports: list[int]) -> None:
    """Requests round the sources and ports until `seconds` have passed (at most 5000 requests);
    one JSON line per request: {"t", "source", "port", "answer"}. A final line {"done": true}."""
    end = time.monotonic() + min(seconds, 1800)
    count = 0
    with open(out, "w", encoding="utf-8") as handle:
        while time.monotonic() < end and count < 5000:
            for source in sources:
                for port in ports:
                    answer = one_request(source, topology.VIP, port, 5.0, None)
                    handle.write(json.dumps({"t": round(time.time(), 3), "source": source, "port": port, "answer": answer}) + "\n")
                    handle.flush()
                    count += 1
            time.sleep(interval)
        handle.write(json.dumps({"done": True, "requests": count}) + "\n")


def clients(out: str, seconds: float, interval: float, sources: list[str], port: int, timeout: float, reset: bool) -> None:
    """One client per source, side by side (a thread each), so that a client whose real server hangs holds up no
    other: each makes a request on a new connection, then waits `interval`, until `seconds` have passed (at most 600 s,
    at most 3000 requests per client). One JSON line per request {"t" (start), "end", "source", "answer"}; a final
    line {"done": true, "requests": N}. Runs until the time is up or the file FILE.stop exists. `reset`: see one_request."""
    end = time.monotonic() + min(seconds, 600)
    lock = threading.Lock()
    counts = []

    with open(out, "w", encoding="utf-8") as handle:
        def client(source: str) -> None:
            count = 0
            while time.monotonic() < end and count < 3000 and not os.path.exists(out + ".stop"):
                started = time.time()
                answer = one_request(source, topology.VIP, port, timeout, None, reset)
                with lock:
                    handle.write(json.dumps({"t": round(started, 3), "end": round(time.time(), 3), "source": source,
                                             "answer": answer}) + "\n")
                    handle.flush()
                count += 1
                time.sleep(interval)
            with lock:
                counts.append(count)

        threads = [threading.Thread(target=client, args=(source,), daemon=True) for source in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=min(seconds, 600) + timeout + 10)
        with lock:
            handle.write(json.dumps({"done": True, "requests": sum(counts)}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--extra-client", action="append", default=[])
    up_parser.add_argument("--apart", action="append", default=[], choices=["rs1", "rs2", "rs3"])
    up_parser.add_argument("--sorry-server", action="store_true")
    sub.add_parser("down")
    sub.add_parser("report")
    p = sub.add_parser("ask")
    p.add_argument("plan")
    p = sub.add_parser("loop")
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--source", action="append", default=[])
    p.add_argument("--port", type=int, action="append", default=[])
    p = sub.add_parser("clients")
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--source", action="append", default=[])
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--reset", action="store_true")
    for verb in ("listener", "blackhole"):
        p = sub.add_parser(verb)
        p.add_argument("action", choices=["on", "off"] if verb == "blackhole" else ["start", "stop"])
        p.add_argument("name", choices=["rs1", "rs2", "rs3"])
    args = parser.parse_args()
    if args.verb == "up":
        up(args.extra_client, tuple(args.apart), args.sorry_server)
    elif args.verb == "down":
        down()
    elif args.verb == "report":
        report()
    elif args.verb == "ask":
        print(json.dumps(ask(json.loads(args.plan))))
    elif args.verb == "clients":
        clients(args.out, args.seconds, args.interval, args.source or CLIENTS, args.port, args.timeout, args.reset)
    elif args.verb == "listener":
        listener(args.action, args.name)
    elif args.verb == "blackhole":
        blackhole(args.action, args.name)
    else:
        loop(args.out, args.seconds, args.interval, args.source or ["203.0.113.10"], args.port or [80])
    return 0


if __name__ == "__main__":
    sys.exit(main())
