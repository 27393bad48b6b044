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

import os
import subprocess
import sys

from .topology import VIP, Topology, ask, sh


def director(topo: Topology, *argv: str) -> str:
    return sh(*argv, ns=topo.director_ns)


def run_playbook(topo: Topology) -> None:
    """The director made by lvs.ipvs's modules, through ansible-playbook as an operator runs it."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cache = os.environ.get("LVS_IPVS_CACHE", os.path.expanduser("~/.cache/lvs-ipvs"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(cache, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP="/tmp/ansible-local", ANSIBLE_REMOTE_TEMP="/tmp/ansible-remote", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run(["ip", "netns", "exec", topo.director_ns, playbook, "-c", "local", "-i", "localhost,", "--diff",
                           os.path.join(repo, "tests", "lab", "demo_pnmpp.yml")], env=env, cwd="/tmp", capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("TASK", "changed", "ok", "fatal", "localhost", "+", "-A", "-a")) or "failed=" in ln]
    print("\n".join(lines) + "\n")
    if proc.returncode != 0:
        raise RuntimeError(f"the playbook failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")


def inside() -> int:
    topo = Topology(real_servers=3).up()
    try:
        topo.serve()
        print("== PNMPP director: HTTP and HTTPS of one client on one real server ==\n")
        print("$ ansible-playbook -c local tests/lab/demo_pnmpp.yml   (in the director's namespace)")
        run_playbook(topo)
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
