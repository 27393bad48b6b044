# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab itself: a real IPVS kernel, and real traffic through a NAT director."""

from __future__ import annotations

import subprocess

from tests.integration.conftest import ipvsadm, saved_table
from tests.lab.topology import VIP, ask


def test_kernel_takes_and_returns_a_persistent_service(clean_ipvs):
    ipvsadm("-A", "-t", "198.51.100.1:80", "-s", "rr", "-p", "3600")
    assert saved_table() == ["-A -t 198.51.100.1:80 -s rr -p 3600"]


def director(topo, *args: str) -> str:
    proc = subprocess.run(["ip", "netns", "exec", topo.director_ns, "ipvsadm", *args], capture_output=True, text=True, check=True)
    return proc.stdout


def nat_service(topo, *service_opts: str) -> None:
    director(topo, "-C")
    director(topo, "-A", "-t", f"{VIP}:80", "-s", "rr", *service_opts)
    for server in topo.servers:
        director(topo, "-a", "-t", f"{VIP}:80", "-r", f"{server}:80", "-m", "-w", "1")


def test_rr_spreads_one_client_over_all_real_servers(nat_lab):
    nat_service(nat_lab)
    answers = ask(nat_lab.client_ns, nat_lab.clients[0], VIP, 80, count=20)
    assert not [a for a in answers if a.startswith("error")], answers
    assert set(answers) == {"rs1", "rs2", "rs3"}


def test_persistence_pins_one_client_and_shows_its_template(nat_lab):
    nat_service(nat_lab, "-p", "60")
    client = nat_lab.clients[0]
    answers = ask(nat_lab.client_ns, client, VIP, 80, count=20)
    assert not [a for a in answers if a.startswith("error")], answers
    assert len(set(answers)) == 1, answers
    served_by = {v: k for k, v in nat_lab.names().items()}[answers[0]]
    templates = [line.split() for line in director(nat_lab, "-Lnc").splitlines() if f"{client}:0 " in line + " "]
    # pro expire state source virtual destination: the template has source port 0
    assert templates, director(nat_lab, "-Lnc")
    assert templates[0][3] == f"{client}:0"
    assert templates[0][4] == f"{VIP}:80"
    assert templates[0][5] == f"{served_by}:80"
