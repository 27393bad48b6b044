# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_parity with real kernels and real traffic: the two directors of a pair, compared as a failover would need them.

Two NAT directors in network namespaces of the lab VM (tests/lab/ha_topology.py; director 1 holds the VIP) get the same
table from this collection's modules: persistent services on VIP:8080 and VIP:80, three real servers. Both sync daemons
run on both directors over their own link (ha0). Eight clients connect through director 1, which makes their persistence
templates; the sync daemons carry them to director 2. Then, each time with ipvs_info on one director as the `peer` of
ipvs_parity on the other, and every outcome also read independently (`ipvsadm -S -n`, `-Lnc`, `-L --daemon`):

- the pair as built: parity true both ways, director 1's templates present on director 2 (waited for, bounded);
- `ipvsadm -e` (a weight) on director 2: parity false in check mode, the difference named, both tables unchanged;
- the same kind of weight change in a service that a keepalived fragment (ipvs_table's keepalived_config) makes
  health-checked: reported in runtime_weights, parity still true (and false without the fragment);
- a real server deleted on director 2 (`ipvsadm -d`): parity false, the real server named (the template of a client pinned
  to it meanwhile is synced and kept, unbound: only the table comparison catches it);
- director 2's backup daemon stopped: parity false, sync not both ways, and the template of a client that connects
  meanwhile named as missing on director 2; back to parity once the daemon runs and the client comes back.

The figures (sync delay, template counts, module times) are printed on lines starting with PARITY-FIGURES.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.modules import in_netns, run_module
from tests.lab.ha_topology import HaTopology
from tests.lab.topology import ask

SYNC_ID = 8
PPC = 8080  # a persistent service the modules own
WEB = 80  # a persistent service that the keepalived fragment makes health-checked
PERSISTENCE = 600
LATE_CLIENT = "203.0.113.30"  # connects while the standby's backup daemon is stopped
NEW_CLIENTS = ("203.0.113.40", "203.0.113.41", "203.0.113.42")  # connect while the standby lacks a real server


def service(topo: HaTopology, port: int) -> dict:
    return {"protocol": "tcp", "address": topo.vip, "port": port, "scheduler": "rr", "persistence_timeout": PERSISTENCE,
            "real_servers": [{"server": server, "forwarding": "nat"} for server in topo.servers]}


def saved(director: str) -> str:
    return in_netns(director, "ipvsadm", "-S", "-n")


def templates(director: str) -> dict:
    """The persistence templates of `ipvsadm -Lnc` on `director`: {(client, virtual port): real server}."""
    found = {}
    for line in in_netns(director, "ipvsadm", "-Lnc").splitlines()[2:]:
        words = line.split()
        if len(words) >= 6 and words[3].endswith(":0"):
            found[(words[3].rsplit(":", 1)[0], int(words[4].rsplit(":", 1)[1]))] = words[5].rsplit(":", 1)[0]
    return found


def parity(here: str, peer: str, check: bool = True, **args) -> dict:
    """ipvs_parity on `here` with the ipvs_info answer of `peer`, read just before (as a playbook does)."""
    info = run_module("ipvs_info", {"netns": peer})
    assert not info.get("failed"), info.get("msg")
    result = run_module("ipvs_parity", dict({"peer": info, "netns": here, "health_check_dir": "/nonexistent/lvs-ipvs.d"}, **args), check=check)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    return result


@pytest.fixture(scope="module")
def pair():
    """The pair with the same table, both daemons on both, and the templates of eight clients made on director 1 and
    synced to director 2 (waited for: at most 30 s)."""
    topo = HaTopology(prefix="pp").up()
    topo.serve(ports=(WEB, PPC))
    figures: dict = {}
    try:
        for director in topo.directors:
            assert run_module("ipvs_table", {"state": "merged", "config": [service(topo, WEB), service(topo, PPC)], "netns": director})["changed"]
            for role in ("master", "backup"):
                assert run_module("ipvs_sync_daemon", {"role": role, "interface": "ha0", "sync_id": SYNC_ID, "netns": director})["changed"]
        pinned = {}
        for client in topo.clients:
            for port in (WEB, PPC):
                answers = ask(topo.client_ns, client, topo.vip, port, count=2)
                assert len(set(answers)) == 1 and not answers[0].startswith("error"), answers
                pinned[(client, port)] = answers[0]
        done = time.monotonic()
        active, standby = topo.directors
        names = topo.names()
        assert {key: names[address] for key, address in templates(active).items()} == pinned
        result: dict = {}
        rounds = 0
        while time.monotonic() < done + 30:
            rounds += 1
            result = parity(standby, active)
            if rounds == 1:
                # What the standby lacked right after the traffic (the sync daemons send about every 2 s).
                figures["first_round"] = {"templates_ok": result["templates_ok"], "missing_here": result["templates"]["missing_here"]}
            if result["templates_ok"]:
                break
            time.sleep(0.5)
        figures.update(sync_delay_s=round(time.monotonic() - done, 2), parity_rounds=rounds, templates=result["templates"])
        yield topo, pinned, result, figures
    finally:
        print("PARITY-FIGURES " + json.dumps(figures))
        topo.down()


def test_a_pair_as_built_is_at_parity_with_the_active_directors_templates_on_the_standby(pair):
    topo, pinned, waited, figures = pair
    active, standby = topo.directors
    assert waited["parity"] is True, waited["differences"]
    assert waited["templates"]["peer"] == len(pinned) and waited["templates"]["missing_here"] == 0 and waited["templates"]["conflicts"] == 0
    # Independently: the same table, and every template of the active director on the standby, to the same real server.
    assert saved(active) == saved(standby)
    assert templates(standby) == templates(active)
    for here, peer in ((standby, active), (active, standby)):
        started = time.monotonic()
        result = parity(here, peer, check=False)
        figures[f"module_s_{here}"] = round(time.monotonic() - started, 2)
        assert result["parity"] is True and result["table_equal"] is True and result["templates_ok"] is True, result["differences"]
        assert result["differences"] == [] and result["runtime_weights"] == []
        assert result["sync_daemons"]["both_ways"] is True
        assert [daemon["role"] for daemon in result["sync_daemons"]["here"]] == ["master", "backup"]
        assert result["templates"]["here"] == result["templates"]["peer"] == len(pinned)
    for director in topo.directors:
        shown = in_netns(director, "ipvsadm", "-L", "--daemon")
        assert "master sync daemon (mcast=ha0, syncid=8," in shown and "backup sync daemon (mcast=ha0, syncid=8," in shown


def test_a_weight_changed_by_hand_is_named_in_check_mode_and_nothing_is_changed(pair):
    topo, _pinned, _waited, _figures = pair
    active, standby = topo.directors
    server = topo.servers[1]
    in_netns(standby, "ipvsadm", "-e", "-t", f"{topo.vip}:{PPC}", "-r", f"{server}:{PPC}", "-m", "-w", "5")
    try:
        before = {director: saved(director) for director in topo.directors}
        assert f"-a -t {topo.vip}:{PPC} -r {server}:{PPC} -m -w 5" in before[standby]
        on_standby = parity(standby, active)
        on_active = parity(active, standby)
        assert on_standby["parity"] is False and on_standby["table_equal"] is False and on_standby["templates_ok"] is True
        assert on_standby["differences"] == [f"service -t {topo.vip}:{PPC}: real server {server}:{PPC}: weight is 5 here, 1 on the peer"]
        assert on_active["differences"] == [f"service -t {topo.vip}:{PPC}: real server {server}:{PPC}: weight is 1 here, 5 on the peer"]
        assert {director: saved(director) for director in topo.directors} == before
    finally:
        in_netns(standby, "ipvsadm", "-e", "-t", f"{topo.vip}:{PPC}", "-r", f"{server}:{PPC}", "-m", "-w", "1")
    assert saved(active) == saved(standby)


def test_the_weights_of_a_health_checked_service_are_reported_apart(pair, tmp_path):
    topo, _pinned, _waited, _figures = pair
    active, standby = topo.directors
    # The fragment the director role writes for a health-checked service: ipvs_table's keepalived_config.
    entry = dict(service(topo, WEB), health_check={"type": "tcp"})
    rendered = run_module("ipvs_table", {"state": "rendered", "config": [entry]})
    assert f"virtual_server {topo.vip} {WEB} {{" in rendered["keepalived_config"]
    folder = tmp_path / "lvs-ipvs.d"
    folder.mkdir()
    (folder / "ppc-web.conf").write_text(rendered["keepalived_config"])
    # keepalived's checker quiesces a failed real server on one director (here by hand, as it does: weight 0).
    server = topo.servers[0]
    in_netns(standby, "ipvsadm", "-e", "-t", f"{topo.vip}:{WEB}", "-r", f"{server}:{WEB}", "-m", "-w", "0")
    try:
        result = parity(standby, active, health_check_dir=str(folder))
        assert result["parity"] is True and result["differences"] == [], result["differences"]
        assert result["health_checked_services"] == [f"-t {topo.vip}:{WEB}"]
        assert result["runtime_weights"] == [{"service": f"-t {topo.vip}:{WEB}", "server": f"{server}:{WEB}", "here": 0, "peer": 1}]
        # Without the fragment it is a service like the others: its weight is a difference.
        assert parity(standby, active)["differences"] == [f"service -t {topo.vip}:{WEB}: real server {server}:{WEB}: weight is 0 here, 1 on the peer"]
        # Or named with the option instead (ipvs_table's restrict format).
        assert parity(standby, active, health_checked=[{"ports": [WEB]}])["parity"] is True
    finally:
        in_netns(standby, "ipvsadm", "-e", "-t", f"{topo.vip}:{WEB}", "-r", f"{server}:{WEB}", "-m", "-w", "1")
    assert saved(active) == saved(standby)


def test_a_real_server_missing_on_the_standby_is_named(pair):
    topo, _pinned, _waited, figures = pair
    active, standby = topo.directors
    server = topo.servers[2]
    in_netns(standby, "ipvsadm", "-d", "-t", f"{topo.vip}:{PPC}", "-r", f"{server}:{PPC}")
    try:
        # New clients through the active director until one is pinned to that real server (rr: within three).
        pinned_there = None
        for client in NEW_CLIENTS:
            in_netns(topo.client_ns, "ip", "addr", "add", f"{client}/32", "dev", "c0")
            answers = ask(topo.client_ns, client, topo.vip, PPC, count=3)
            assert len(set(answers)) == 1 and not answers[0].startswith("error"), answers
            if topo.names()[server] == answers[0]:
                pinned_there = client
                break
        assert pinned_there is not None
        # The standby's kernel keeps the synced template of a real server it does not have, unbound (ip_vs_proc_conn()): it is
        # listed, so the templates alone look fine; at a failover ip_vs_check_template() finds no real server behind it and
        # the client is scheduled afresh. The table comparison is what catches it.
        synced = time.monotonic()
        while (pinned_there, PPC) not in templates(standby) and time.monotonic() < synced + 15:
            time.sleep(0.5)
        figures["unbound_template_sync_s"] = round(time.monotonic() - synced, 2)
        assert templates(standby).get((pinned_there, PPC)) == server
        result = parity(standby, active)
        assert result["templates_ok"] is True and result["sync_daemons"]["both_ways"] is True
        assert result["parity"] is False and result["table_equal"] is False
        assert result["differences"] == [f"service -t {topo.vip}:{PPC}: real server {server}:{PPC} is on the peer but not here"]
    finally:
        in_netns(standby, "ipvsadm", "-a", "-t", f"{topo.vip}:{PPC}", "-r", f"{server}:{PPC}", "-m", "-w", "1")
    assert sorted(saved(active).splitlines()) == sorted(saved(standby).splitlines())
    assert parity(standby, active)["table_equal"] is True


def test_a_stopped_backup_daemon_breaks_parity_and_the_templates_it_would_have_brought_are_named(pair):
    topo, _pinned, _waited, figures = pair
    active, standby = topo.directors
    assert run_module("ipvs_sync_daemon", {"role": "backup", "state": "stopped", "netns": standby})["changed"]
    try:
        shown = in_netns(standby, "ipvsadm", "-L", "--daemon")
        assert "master sync daemon" in shown and "backup sync daemon" not in shown, shown
        # A new client while the standby hears nothing: its template stays on the active director.
        in_netns(topo.client_ns, "ip", "addr", "add", f"{LATE_CLIENT}/32", "dev", "c0")
        (answer,) = set(ask(topo.client_ns, LATE_CLIENT, topo.vip, PPC, count=3))
        assert not answer.startswith("error"), answer
        time.sleep(3)  # longer than the master's 2 s flush: had the backup run, the template would be there
        assert (LATE_CLIENT, PPC) in templates(active) and (LATE_CLIENT, PPC) not in templates(standby)
        server = {name: address for address, name in topo.names().items()}[answer]
        on_standby = parity(standby, active)
        assert on_standby["parity"] is False and on_standby["table_equal"] is True and on_standby["sync_daemons"]["both_ways"] is False
        assert on_standby["templates_ok"] is False and on_standby["templates"]["missing_here"] == 1
        assert on_standby["differences"] == ["sync daemons: no backup sync daemon runs here, so the templates made on the peer do not reach this director"]
        assert on_standby["templates"]["samples"] == [f"template TCP {LATE_CLIENT} -> {topo.vip}:{PPC}: real server {server}:{PPC} on the peer, missing here"]
        on_active = parity(active, standby)
        assert on_active["differences"] == ["sync daemons: no backup sync daemon runs on the peer, so the templates made here do not reach the peer"]
        assert on_active["templates"]["missing_on_peer"] == 1
    finally:
        run_module("ipvs_sync_daemon", {"role": "backup", "interface": "ha0", "sync_id": SYNC_ID, "netns": standby})
    # The client comes back: its connection is synced, its template with it (bounded wait).
    assert set(ask(topo.client_ns, LATE_CLIENT, topo.vip, PPC, count=3)) == {answer}
    back = time.monotonic()
    result: dict = {}
    while time.monotonic() < back + 30:
        result = parity(standby, active)
        if result["parity"]:
            break
        time.sleep(0.5)
    figures["late_client_resync_s"] = round(time.monotonic() - back, 2)
    assert result["parity"] is True, result["differences"]
    assert templates(standby)[(LATE_CLIENT, PPC)] == server
