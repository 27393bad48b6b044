# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A health-checked service on a director pair: each director checks on its own, the sync daemons stay this collection's.

Two NAT directors (tests/lab/ha_topology.py), each running keepalived's health checker in its own namespace
(`keepalived --check --dont-release-ipvs --namespace=...`) with the same virtual_server block, rendered by ipvs_table
(state=rendered: a persistent service on VIP:8080, HTTP check, on_failure quiesce, the default alpha); both sync daemons
on both directors (ipvs_sync_daemon) and the director role's expire_quiescent_template=1. Eight clients are pinned through
the active director; then every packet to rs2 is dropped (an nft ingress rule in its namespace: its host is dead). Shown:
both directors take rs2 out (weight 0) on their own checks; the clients pinned to rs2 are answered by another real server
on their next connection and pinned there; the others keep theirs; then the VIP and the gateway move to the standby, which
already holds rs2 out: every client that was never on rs2 keeps its real server, and no request is answered by rs2.

What the kernel does to rs2's former clients at the failover, measured here: the sync daemon never changes the real server
of a template the backup already has (ip_vs_proc_conn keeps cp->dest and only refreshes its timer), so the standby still
pins them to rs2; its own check holds rs2 at weight 0, and with expire_quiescent_template=1 it schedules each of them
afresh at its first connection after the failover: served, by one real server each, but not necessarily the one the
active director had moved it to.

The figures are printed on a line starting with HA-HEALTH-FIGURES.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

import pytest

from tests.integration.modules import run_module
from tests.lab.ha_topology import HaTopology
from tests.lab.topology import ask

PORT = 8080
SYNC_ID = 9
CHECK = {"type": "http", "path": "/", "interval": 2, "timeout": 1, "retries": 1, "retry_delay": 1}
# A dead host is out within interval + (retries + 1) x timeout + retries x retry_delay = 5 s; room for the emulated lab.
DETECTION_BUDGET = 30


def in_ns(ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=True).stdout


def weights(ns: str) -> dict[str, int]:
    """Real server address -> weight of the service on VIP:PORT, from `ipvsadm -S -n` of `ns`."""
    found = {}
    for line in in_ns(ns, "ipvsadm", "-S", "-n").splitlines():
        words = line.split()
        if words[:1] == ["-a"] and words[2].endswith(f":{PORT}"):
            found[words[4].rsplit(":", 1)[0]] = int(words[words.index("-w") + 1])
    return found


def wait_until(what: str, probe, timeout: float) -> float:
    """Seconds until probe() is true; fails the test after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if probe():
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout} s")


@contextlib.contextmanager
def checkers(topo: HaTopology, config: str):
    """keepalived's health checker in each director's namespace, stopped (its table kept) at the end."""
    procs = []
    try:
        for director in topo.directors:
            path = f"/tmp/lvs-ipvs-{director}-check.conf"
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(config)
            run = f"/tmp/lvs-ipvs-{director}-check"
            procs.append(subprocess.Popen(  # pylint: disable=consider-using-with
                ["keepalived", "--check", "--dont-release-ipvs", "--dont-fork", "--no_bfd", "--log-console", f"--use-file={path}",
                 f"--namespace={director}", f"--pid={run}.pid", f"--checkers_pid={run}-checkers.pid"],
                stdout=subprocess.DEVNULL, stderr=open(f"{run}.log", "w", encoding="utf-8"), start_new_session=True))
        yield procs
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


@pytest.fixture
def pair():
    topo = HaTopology(prefix="hh").up()
    topo.serve()
    yield topo
    topo.down()


def test_each_director_holds_a_dead_real_server_out_and_a_failover_keeps_every_client(pair):  # pylint: disable=too-many-locals
    topo = pair
    active, standby = topo.directors
    names = topo.names()
    rs2 = topo.servers[1]
    service = {"protocol": "tcp", "address": topo.vip, "port": PORT, "scheduler": "rr", "persistence_timeout": 600,
               "real_servers": [{"server": server, "forwarding": "nat"} for server in topo.servers], "health_check": CHECK}
    rendered = run_module("ipvs_table", {"state": "rendered", "config": [service]})
    assert rendered["rendered"] == [] and "virtual_server 198.51.100.1 8080 {" in rendered["keepalived_config"], rendered
    subprocess.run(["modprobe", "ip_vs"], check=True)  # its sysctls appear in every namespace once it is loaded
    for director in topo.directors:
        in_ns(director, "sysctl", "-qw", "net.ipv4.vs.expire_quiescent_template=1")
        for role in ("master", "backup"):
            assert run_module("ipvs_sync_daemon", {"role": role, "interface": "ha0", "sync_id": SYNC_ID, "netns": director})["changed"]
    figures: dict = {}
    with checkers(topo, rendered["keepalived_config"]):
        started = time.monotonic()
        for director in topo.directors:
            wait_until(f"keepalived builds the service on {director}, every real server up",
                       lambda d=director: weights(d) == {server: 1 for server in topo.servers}, 60)
            figures[f"all_up_s_{director}"] = round(time.monotonic() - started, 2)
        # Each director's table is keepalived's: ipvs_table leaves it alone and reports it.
        report = run_module("ipvs_table", {"state": "merged", "config": [service], "netns": standby})
        assert report["changed"] is False and report["commands"] == [], report
        assert report["health"][0]["up"] == [f"{server}:{PORT}" for server in topo.servers] and report["health"][0]["drift"] == [], report

        pinned = {}
        for client in topo.clients:
            answers = ask(topo.client_ns, client, topo.vip, PORT, count=2)
            assert len(set(answers)) == 1 and not answers[0].startswith("error"), answers
            pinned[client] = answers[0]
        on_rs2 = sorted(client for client, name in pinned.items() if name == names[rs2])
        assert on_rs2, pinned

        # rs2's host dies: every frame it would receive is dropped.
        subprocess.run(["ip", "netns", "exec", topo.server_ns[1], "nft", "-f", "-"], check=True, text=True,
                       input='table netdev dead {\n chain in {\n  type filter hook ingress device "eth0" priority 0; policy drop;\n }\n}\n')
        dead = time.monotonic()
        for director in topo.directors:
            wait_until(f"{director} takes rs2 out on its own check", lambda d=director: weights(d).get(rs2) == 0, DETECTION_BUDGET)
            figures[f"rs2_out_s_{director}"] = round(time.monotonic() - dead, 2)
        report = run_module("ipvs_table", {"state": "merged", "config": [service], "netns": standby})
        assert report["changed"] is False and report["health"][0]["down"] == [f"{rs2}:{PORT}"], report

        # Through the active director: rs2's clients move on with their next connection, the others stay.
        moved = {}
        for client in topo.clients:
            answers = ask(topo.client_ns, client, topo.vip, PORT, count=2)
            assert len(set(answers)) == 1 and not answers[0].startswith("error"), (client, answers)
            moved[client] = answers[0]
        assert all(moved[client] == pinned[client] for client in topo.clients if client not in on_rs2), (pinned, moved)
        assert all(moved[client] != names[rs2] for client in on_rs2), (pinned, moved)

        # Every template reaches the standby (the sync daemons), before the failover.
        def standby_templates() -> dict:
            lines = in_ns(standby, "ipvsadm", "-Lnc").splitlines()[2:]
            return {words[3].rsplit(":", 1)[0]: names.get(words[5].rsplit(":", 1)[0]) for words in (line.split() for line in lines)
                    if len(words) > 5 and words[3].endswith(":0") and words[4] == f"{topo.vip}:{PORT}"}
        figures["sync_s"] = wait_until("the standby holds a template of every client", lambda: set(standby_templates()) == set(topo.clients), 30)
        on_standby = standby_templates()
        # The kernel's sync never changes the real server of a template the backup has (ip_vs_proc_conn keeps cp->dest): the
        # standby still pins rs2's former clients to rs2, which its own check holds at weight 0, so with
        # expire_quiescent_template=1 it schedules them afresh at their first connection after the failover.
        figures["standby_templates_of_moved_clients"] = {client: on_standby[client] for client in on_rs2}
        assert all(on_standby[client] == pinned[client] for client in topo.clients if client not in on_rs2), (pinned, on_standby)
        assert weights(standby).get(rs2) == 0, "the standby already holds rs2 out before the failover"
        topo.failover(standby)
        # The first request may come before the client's ARP entry follows the VIP (the failover test measures that window).
        figures["vip_answers_s"] = wait_until("the VIP answers through the standby", lambda: not ask(
            topo.client_ns, topo.clients[0], topo.vip, PORT, count=1, timeout=1.0)[0].startswith("error"), 15)
        after = {}
        for client in topo.clients:
            answers = ask(topo.client_ns, client, topo.vip, PORT, count=3)
            after[client] = answers
        figures.update({"clients": len(topo.clients), "pinned_to_rs2": len(on_rs2), "after_failover": after,
                        "moved_clients_kept_after_failover": sum(after[client] == [moved[client]] * 3 for client in on_rs2)})
        print("HA-HEALTH-FIGURES " + json.dumps(figures))
        # The clients that were never on rs2 keep their real server; rs2's former clients are served elsewhere, each by one.
        assert all(after[client] == [pinned[client]] * 3 for client in topo.clients if client not in on_rs2), (pinned, after)
        assert all(len(set(after[client])) == 1 and after[client][0] in ("rs1", "rs3") for client in on_rs2), (moved, after)
        assert weights(standby).get(rs2) == 0 and weights(active).get(rs2) == 0
