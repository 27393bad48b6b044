# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What "drained" means (_drain.py), against a real kernel: a template the kernel has invalidated pins nobody.

With net.ipv4.vs.expire_quiescent_template=1, a client that comes back to a weight-0 real server has its template
invalidated (ip_vs_check_template(): ports 65535) and is scheduled afresh. The kernel keeps that template, and counts it in
the real server's persistent connections, until its timer runs out - a whole persistence timeout here. wait_drained does
not wait for it: the real server is drained as soon as it has no active connection and no live template.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.modules import run_module
from tests.lab.topology import VIP, Session, ask

PERSISTENCE = 300  # s: far longer than the drain may take, so a drain that waited for the invalidated template would fail


def director(topo, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", topo.director_ns, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def quiescent_templates_expire(nat_lab):
    director(nat_lab, "ipvsadm", "-C")
    director(nat_lab, "sysctl", "-qw", "net.ipv4.vs.expire_quiescent_template=1")
    yield nat_lab
    director(nat_lab, "ipvsadm", "-C")
    director(nat_lab, "sysctl", "-qw", "net.ipv4.vs.expire_quiescent_template=0")


def test_an_invalidated_template_does_not_hold_the_drain(quiescent_templates_expire):
    topo = quiescent_templates_expire
    key = {"netns": topo.director_ns, "protocol": "tcp", "address": VIP, "port": 80}
    pool = [{"server": s, "forwarding": "nat"} for s in topo.servers]
    run_module("ipvs_service", dict(key, scheduler="rr", persistence_timeout=PERSISTENCE, real_servers=pool))
    client = topo.clients[0]
    session = Session(topo.client_ns, client, VIP, 80)
    pinned = session.get()
    drained = {v: k for k, v in topo.names().items()}[pinned]
    # A reset leaves the connection inactive (CLOSE), so only the template is left on the real server.
    session.close(abort=True)
    task = dict(key, server=drained, forwarding="nat", state="drained")
    assert run_module("ipvs_real_server", task)["changed"] is True

    # The client comes back: its template is invalidated and it goes to another real server.
    again = ask(topo.client_ns, client, VIP, 80, count=1)
    assert again != [pinned] and again[0].startswith("rs"), again
    invalidated = [line for line in director(topo, "ipvsadm", "-Lnc").splitlines() if f"{drained}:65535" in line]
    assert len(invalidated) == 1, director(topo, "ipvsadm", "-Lnc")

    result = run_module("ipvs_real_server", dict(task, wait_drained=True, drain_timeout=60, drain_poll_interval=0.5))
    assert not result.get("failed"), result.get("msg")
    assert result["drain"]["drained"] is True
    assert result["drain"]["persistent_connections"] == 0
    assert result["drain"]["waited"] < 60
    # The kernel still holds the invalidated template and counts it for the real server: what the drain ignored.
    assert [line for line in director(topo, "ipvsadm", "-Lnc").splitlines() if f"{drained}:65535" in line] == invalidated
    listing = director(topo, "ipvsadm", "-Ln", "--persistent-conn").splitlines()
    header = next(line.split() for line in listing if "PersistConn" in line)
    row = next(line.split() for line in listing if f"{drained}:80" in line)
    assert row[header.index("PersistConn")] == "1", listing
