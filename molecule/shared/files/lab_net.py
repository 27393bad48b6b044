# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Traffic for the molecule scenarios, run ON the lab node next to a copy of tests/lab/topology.py.

    lab_net.py up [--extra-client ADDR]...   client, real servers (NAT), director = this namespace
    lab_net.py down
    lab_net.py ask PLAN_JSON                 many requests from one process; prints JSON
    lab_net.py report                        the demo's table: who served each client on 80, 443, 8080
    lab_net.py loop --out FILE --seconds N   a bounded background client loop (drain test)

One Python start costs seconds in the emulated guest, so every request of a check is made by one
process. Only documentation addresses; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import topology  # noqa: E402  (copied next to this file)

PREFIX = "lvs"
CLIENT_NS = f"{PREFIX}c"
SERVER_NS = [f"{PREFIX}rs{i}" for i in range(1, 4)]
CLIENTS = [f"{topology.CLIENT_NET}.{10 + i}" for i in range(8)]
SERVERS = [f"{topology.SERVER_NET}.{11 + i}" for i in range(3)]


def _batch(lines: list[str], ns: str | None = None, force: bool = False) -> None:
    """Many ip commands in one process (`ip -batch`): each process start costs a lot in an emulated guest."""
    argv = ["ip", *(["-n", ns] if ns else []), *(["-force"] if force else []), "-batch", "-"]
    proc = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True, check=False)
    if proc.returncode != 0 and not force:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")


def up(extra_clients: list[str]) -> None:
    """The test hosts of tests/lab/topology.py (NAT, the director in this namespace), made with a few `ip -batch` runs:
    client namespace lvsc (203.0.113.10-17 and the extra clients), real servers lvsrs1-3 (192.0.2.11-13, default
    route via 192.0.2.1 on bridge lvsbr), VIP 198.51.100.1 on lvsd0; then the real servers' HTTP answers."""
    down()
    root = [f"netns add {ns}" for ns in [CLIENT_NS, *SERVER_NS]]
    root += [f"link add {PREFIX}c0 netns {CLIENT_NS} type veth peer name {PREFIX}d0",
             f"addr add {topology.CLIENT_NET}.1/24 dev {PREFIX}d0", f"addr add {topology.VIP}/32 dev {PREFIX}d0",
             f"link set {PREFIX}d0 up", f"link add {PREFIX}br type bridge", f"addr add {topology.SERVER_NET}.1/24 dev {PREFIX}br",
             f"link set {PREFIX}br up"]
    root += [f"route add {addr}/32 dev {PREFIX}d0" for addr in extra_clients]
    for ns in SERVER_NS:
        # The node's own NIC is eth0: make the real server's end under another name, rename it inside its namespace.
        root += [f"link add {ns}e0 netns {ns} type veth peer name {ns}p", f"link set {ns}p master {PREFIX}br", f"link set {ns}p up"]
    _batch(root)
    with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as handle:
        handle.write("1\n")
    client = ["link set lo up", f"addr add {CLIENTS[0]}/24 dev {PREFIX}c0"]
    client += [f"addr add {addr}/32 dev {PREFIX}c0" for addr in CLIENTS[1:] + extra_clients]
    client += [f"link set {PREFIX}c0 up", f"route add 198.51.100.0/24 via {topology.CLIENT_NET}.1 src {CLIENTS[0]}"]
    _batch(client, CLIENT_NS)
    for ns, addr in zip(SERVER_NS, SERVERS):
        _batch(["link set lo up", f"link set {ns}e0 name eth0", f"addr add {addr}/24 dev eth0", "link set eth0 up",
                f"route add default via {topology.SERVER_NET}.1"], ns)
    topology.start_servers(PREFIX, [(ns, f"rs{i}") for i, ns in enumerate(SERVER_NS, 1)], topology.DEFAULT_PORTS)


def down() -> None:
    topology.stop_servers(PREFIX)
    existing = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.split())
    lines = [f"link del {link}" for link in (f"{PREFIX}d0", f"{PREFIX}br", *[f"{ns}p" for ns in SERVER_NS])]
    lines += [f"netns del {ns}" for ns in [CLIENT_NS, *SERVER_NS] if ns in existing]
    _batch(lines, force=True)


def one_request(source: str, host: str, port: int, timeout: float, hold: list[socket.socket] | None) -> str:
    """One HTTP request on a new connection. With `hold`, the socket is kept open (half-closed by the
    server) instead of closed, so the director sees no client FIN: see the timeout check."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--extra-client", action="append", default=[])
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
    args = parser.parse_args()
    if args.verb == "up":
        up(args.extra_client)
    elif args.verb == "down":
        down()
    elif args.verb == "report":
        report()
    elif args.verb == "ask":
        print(json.dumps(ask(json.loads(args.plan))))
    else:
        loop(args.out, args.seconds, args.interval, args.source or ["203.0.113.10"], args.port or [80])
    return 0


if __name__ == "__main__":
    sys.exit(main())
