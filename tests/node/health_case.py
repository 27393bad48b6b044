# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure cases for tests/node/test_health.py, run ON the lab node next to lab_net.py and topology.py.

    health_case.py fail --inject listener|blackhole --server rs2 --source ADDR... [--seconds S] [--warmup W]
        clients side by side (lab_net.clients), then the real server's failure injected at a known moment, the kernel
        polled (/proc/net/ip_vs, every 0.1 s) until the real server is at weight 0 or gone; prints JSON: the moment of
        the injection and of the detection, every request, and the real server's connection counter read 3 s after the
        detection and 3 s after the clients ended (ipvsadm folds the counters in about every 2 s).
    health_case.py revive --inject listener|blackhole --server rs2 [--max S]
        the real server brought back; prints JSON: seconds from then until the kernel has it at a weight above 0.
    health_case.py weight --server rs2
        prints the real server's weight in the kernel (JSON; null when it is not in the service).

One Python start costs about a second in the emulated guest: each case is one process. Every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab_net  # noqa: E402  (copied next to this file)

SERVERS = {f"rs{i}": address for i, address in enumerate(lab_net.SERVERS, 1)}
VIP = "198.51.100.1"
SERVICE = f"{VIP}:80"


def _hex_address(address: str, port: int) -> str:
    return "".join(f"{int(part):02X}" for part in address.split(".")) + f":{port:04X}"


def weight(server: str) -> int | None:
    """The weight of real server `server` (rs1..rs3) in the service, from /proc/net/ip_vs; None when it is absent."""
    wanted, service, current = _hex_address(SERVERS[server], 80), _hex_address(VIP, 80), None
    with open("/proc/net/ip_vs", encoding="ascii") as handle:
        for line in handle:
            words = line.split()
            if words[:1] in (["TCP"], ["UDP"], ["SCTP"], ["FWM"]):
                current = words[1]
            elif words[:1] == ["->"] and current == service and words[1] == wanted:
                return int(words[3])
    return None


def connections(server: str) -> int:
    """The real server's total connection counter (Conns of `ipvsadm -Ln --stats`)."""
    out = subprocess.run(["ipvsadm", "-L", "-n", "--stats", "-t", SERVICE], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        words = line.split()
        if words[:2] == ["->", f"{SERVERS[server]}:80"]:
            return int(words[2])
    return -1


def inject(verb: str, server: str, up: bool) -> None:
    if verb == "listener":
        lab_net.listener("start" if up else "stop", server)
    else:
        lab_net.blackhole("off" if up else "on", server)


def fail(verb: str, server: str, sources: list[str], seconds: float, warmup: float) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "requests.jsonl")
        loop = threading.Thread(target=lab_net.clients, args=(out, seconds, 0.2, sources, 80, 2.0, True), daemon=True)
        loop.start()
        time.sleep(min(warmup, 30))
        injected = time.time()
        inject(verb, server, up=False)
        detected = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if weight(server) in (0, None):
                detected = time.time()
                break
            time.sleep(0.1)
        after_detection = None
        if detected is not None:
            time.sleep(max(0.0, detected + 3 - time.time()))
            after_detection = connections(server)
        loop.join(timeout=seconds + 30)
        time.sleep(3)
        with open(out, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    return {"injected": injected, "detected": detected, "requests": [row for row in rows if "source" in row],
            "connections_after_detection": after_detection, "connections_at_end": connections(server)}


def revive(verb: str, server: str, maximum: float) -> dict:
    """Seconds from the moment the real server answers again (its listener listens, its frames pass) until the
    kernel has it at a weight above 0."""
    inject(verb, server, up=True)
    started = time.time()
    deadline = time.monotonic() + min(maximum, 120)
    while time.monotonic() < deadline:
        if (weight(server) or 0) > 0:
            return {"back_after": round(time.time() - started, 2)}
        time.sleep(0.1)
    return {"back_after": None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("fail")
    p.add_argument("--inject", choices=["listener", "blackhole"], required=True)
    p.add_argument("--server", choices=sorted(SERVERS), required=True)
    p.add_argument("--source", action="append", required=True)
    p.add_argument("--seconds", type=float, default=16)
    p.add_argument("--warmup", type=float, default=3)
    p = sub.add_parser("revive")
    p.add_argument("--inject", choices=["listener", "blackhole"], required=True)
    p.add_argument("--server", choices=sorted(SERVERS), required=True)
    p.add_argument("--max", type=float, default=30)
    p = sub.add_parser("weight")
    p.add_argument("--server", choices=sorted(SERVERS), required=True)
    args = parser.parse_args()
    if args.verb == "fail":
        result = fail(args.inject, args.server, args.source, min(args.seconds, 120), args.warmup)
    elif args.verb == "revive":
        result = revive(args.inject, args.server, args.max)
    else:
        result = {"weight": weight(args.server)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
