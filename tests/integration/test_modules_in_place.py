# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Edits in place under real traffic: connections and persistence templates survive.

A client holds a keep-alive connection and a persistence template on a NAT director. The
modules then change the scheduler, the persistence timeout, a weight and the forwarding
method. After each change: the template still maps the client to the same real server, the
open connection still answers, new connections land where the template says, no request
fails, and the service's connection counter did not restart (a delete and re-add of the
service would reset it: the negative control at the end shows the check can fail).
"""

from __future__ import annotations

import subprocess
import time

from tests.integration.modules import run_module
from tests.lab.topology import VIP, Session, ask


def director(topo, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", topo.director_ns, "ipvsadm", *args], capture_output=True, text=True, check=True).stdout


def template_of(topo, client: str) -> list[str]:
    """The client's persistence template lines (source port 0) of the VIP:80 service, without the countdown. A template
    an earlier test left invalidated (virtual port 65535, after expire_quiescent_template) pins nobody and is not it."""
    lines = [line.split() for line in director(topo, "-Lnc").splitlines()[2:]]
    return sorted(" ".join(words[2:]) for words in lines if words[3] == f"{client}:0" and words[4] == f"{VIP}:80")


def connection_of(topo, client: str, port: int) -> list[str]:
    lines = [line.split() for line in director(topo, "-Lnc").splitlines()[2:]]
    return [" ".join(words[3:]) for words in lines if words[3] == f"{client}:{port}"]


def service_conns(topo) -> int:
    """The Conns counter of the VIP:80 service in `ipvsadm -Ln --stats --exact`."""
    for line in director(topo, "-L", "-n", "--stats", "--exact").splitlines():
        words = line.split()
        if words[:2] == ["TCP", f"{VIP}:80"]:
            return int(words[2])
    raise AssertionError("service not found in --stats")


def test_changes_keep_connections_and_templates(nat_lab):
    subprocess.run(["ip", "netns", "exec", nat_lab.director_ns, "ipvsadm", "-C"], check=True)
    servers = [{"server": s, "forwarding": "nat"} for s in nat_lab.servers]
    task = {"netns": nat_lab.director_ns, "protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr",
            "persistence_timeout": 300, "real_servers": servers}
    assert run_module("ipvs_service", task)["changed"] is True
    client = nat_lab.clients[0]
    session = Session(nat_lab.client_ns, client, VIP, 80)
    try:
        pinned = session.get()
        assert pinned.startswith("rs"), pinned
        first = ask(nat_lab.client_ns, client, VIP, 80, count=5)
        assert first == [pinned] * 5
        template = template_of(nat_lab, client)
        assert len(template) == 1, director(nat_lab, "-Lnc")
        open_conn = connection_of(nat_lab, client, session.local_port)
        assert open_conn, director(nat_lab, "-Lnc")
        pinned_address = {v: k for k, v in nat_lab.names().items()}[pinned]

        steps = [
            ("scheduler", dict(task, scheduler="wlc")),
            ("persistence timeout", dict(task, scheduler="wlc", persistence_timeout=600)),
            ("weight", dict(task, scheduler="wlc", persistence_timeout=600,
                            real_servers=[dict(s, weight=5 if s["server"] == pinned_address else 1) for s in servers])),
            ("forwarding", dict(task, scheduler="wlc", persistence_timeout=600,
                                real_servers=[dict(s, forwarding="tunnel" if s["server"] == pinned_address else "nat") for s in servers])),
            ("forwarding back", dict(task, scheduler="wlc", persistence_timeout=600, real_servers=servers)),
        ]
        # The kernel folds the per-CPU counters into the service's every 2 s (its estimator): wait until the connections
        # so far show, or the negative control below compares 0 with 0.
        deadline = time.monotonic() + 10
        while service_conns(nat_lab) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        counter = service_conns(nat_lab)
        assert counter > 0, "the service's connection counter still says 0 after 10 s of traffic"
        for what, args in steps:
            result = run_module("ipvs_service", args)
            assert result["changed"] is True, what
            assert all(c.split()[0] in ("-E", "-e") for c in result["commands"]), (what, result["commands"])
            assert template_of(nat_lab, client) == template, (what, director(nat_lab, "-Lnc"))
            assert connection_of(nat_lab, client, session.local_port), (what, director(nat_lab, "-Lnc"))
            assert session.get() == pinned, what
            if what != "forwarding":  # new connections while the pinned server is set to tunnel would not be NAT
                answers = ask(nat_lab.client_ns, client, VIP, 80, count=3)
                assert answers == [pinned] * 3, (what, answers)
            now = service_conns(nat_lab)
            assert now >= counter, f"{what}: the service's connection counter restarted ({counter} -> {now}): it was re-created"
            counter = now
    finally:
        session.close()

    # Negative control: delete and re-add by hand, and the counter does restart.
    director(nat_lab, "-D", "-t", f"{VIP}:80")
    run_module("ipvs_service", task)
    assert service_conns(nat_lab) < counter
