# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The main job: a PNMPP director in the lab VM, with traffic that shows the persistence.

On the host: `python -m tests.lab demo` boots the fast-mode VM and runs this file inside it.
Inside: a client, a NAT director and three real servers (network namespaces); packets for the
VIP's ports 80 and 443 get firewall mark 8; a persistent fwmark service balances mark 8 with
rr; port 8080 is a service of its own. Each client's HTTP and HTTPS land on one real server.
"""

from __future__ import annotations

import subprocess
import sys

from .topology import VIP, Topology, ask, sh

MARK = 8


def director(topo: Topology, *argv: str) -> str:
    return sh(*argv, ns=topo.director_ns)


def inside() -> int:
    topo = Topology(real_servers=3).up()
    try:
        topo.serve()
        print("== PNMPP director: HTTP and HTTPS of one client on one real server ==\n")
        director(topo, "nft", "add table inet lvs_ipvs; add chain inet lvs_ipvs prerouting { type filter hook prerouting priority mangle; }; "
                 f"add rule inet lvs_ipvs prerouting ip daddr {VIP} tcp dport {{ 80, 443 }} meta mark set {MARK} comment \"lvs.ipvs:pnmpp\"")
        director(topo, "ipvsadm", "-A", "-f", str(MARK), "-s", "rr", "-p", "600")
        director(topo, "ipvsadm", "-A", "-t", f"{VIP}:8080", "-s", "rr")
        for server in topo.servers:
            director(topo, "ipvsadm", "-a", "-f", str(MARK), "-r", server, "-m", "-w", "1")
            director(topo, "ipvsadm", "-a", "-t", f"{VIP}:8080", "-r", f"{server}:8080", "-m", "-w", "1")
        print("$ ipvsadm -S -n")
        print(director(topo, "ipvsadm", "-S", "-n"))
        print(f"{'client':<16} {'HTTP (80) x3':<18} {'HTTPS (443) x3':<18} {'8080 (not marked) x3'}")
        for client in topo.clients[:5]:
            row = [ask(topo.client_ns, client, VIP, port, count=3) for port in (80, 443, 8080)]
            print(f"{client:<16} {' '.join(row[0]):<18} {' '.join(row[1]):<18} {' '.join(row[2])}")
        print("\n$ ipvsadm -Lnc   (persistence templates: source port 0, one per client)")
        lines = director(topo, "ipvsadm", "-Lnc").splitlines()
        print("\n".join(lines[:2] + [ln for ln in lines if ":0 " in ln]))
        return 0
    finally:
        topo.down()


def main() -> int:
    from .fast import run_command  # pylint: disable=import-outside-toplevel

    return run_command([sys.executable, "-m", "tests.lab.demo", "--inside"])


if __name__ == "__main__":
    if sys.argv[1:] == ["--inside"]:
        sys.exit(inside())
    sys.exit(subprocess.call([sys.executable, "-m", "tests.lab", "demo"]))
