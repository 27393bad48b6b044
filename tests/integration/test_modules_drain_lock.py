# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Draining a real server with real traffic, and two runs at once serialised by the table lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import ipvsadm, saved_table
from tests.integration.modules import REPO, run_module
from tests.lab.topology import VIP, Session, ask

from ansible_collections.lvs.ipvs.plugins.module_utils._lock import lock_path, table_lock
from tests.conftest import COLLECTION_ROOT


# s. A template whose timer fires while it still controls a connection is re-armed for a fixed 60 s (ip_vs_conn_expire):
# with a 3 s timeout the drain below took over 60 s. With 20 s, the held connection (a few seconds, then 10 s in CLOSE)
# is gone when the template's timer fires, so the template goes then; on a slow machine it can still take the 60 s
# round, inside the drain's 150 s.
PERSISTENCE = 20


def director(topo, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", topo.director_ns, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def short_timeouts(nat_lab):
    director(nat_lab, "ipvsadm", "-C")
    director(nat_lab, "ipvsadm", "--set", "900", "2", "300")
    director(nat_lab, "sysctl", "-qw", "net.ipv4.vs.expire_quiescent_template=1")
    yield nat_lab
    director(nat_lab, "ipvsadm", "-C")
    director(nat_lab, "ipvsadm", "--set", "900", "120", "300")
    director(nat_lab, "sysctl", "-qw", "net.ipv4.vs.expire_quiescent_template=0")


def pinned_client(topo, persistence: int) -> tuple[dict, Session, str, str]:
    """A persistent NAT service on VIP:80 over the lab's real servers, and a client holding a connection: the service's key
    options, the client's session, the name of the real server that answered it and that server's address."""
    key = {"netns": topo.director_ns, "protocol": "tcp", "address": VIP, "port": 80}
    pool = [{"server": s, "forwarding": "nat"} for s in topo.servers]
    run_module("ipvs_service", dict(key, scheduler="rr", persistence_timeout=persistence, real_servers=pool))
    session = Session(topo.client_ns, topo.clients[0], VIP, 80)
    pinned = session.get()
    return key, session, pinned, {v: k for k, v in topo.names().items()}[pinned]


def test_drain_waits_for_connections_and_templates_then_remove(short_timeouts):
    topo = short_timeouts
    key, session, pinned, drained = pinned_client(topo, PERSISTENCE)
    task = dict(key, server=drained, forwarding="nat", state="drained", wait_drained=True, drain_poll_interval=0.5)

    # While the client holds its connection, the drain cannot finish: a clear failure after the timeout.
    stuck = run_module("ipvs_real_server", dict(task, drain_timeout=2))
    assert stuck["failed"] is True
    assert "1 active connections and 1 persistence templates" in stuck["msg"], stuck["msg"]
    assert stuck["drain"]["drained"] is False
    # Weight 0: the open connection still works, and other clients are never sent to the drained server.
    assert session.get() == pinned
    others = [ask(topo.client_ns, c, VIP, 80, count=2) for c in topo.clients[1:5]]
    assert all(pinned not in answers and not any(a.startswith("error") for a in answers) for answers in others), others

    # IPVS keeps a closed TCP connection in TIME_WAIT for 120 s (a fixed timeout: `ipvsadm --set` does not
    # change it), and the template lives as long as a connection it controls: so the client resets its
    # connection (10 s in CLOSE) to let the drain end sooner. See PERSISTENCE for when the template goes.
    session.close(abort=True)
    result = run_module("ipvs_real_server", dict(task, drain_timeout=150))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False  # it was already at weight 0
    assert result["drain"]["drained"] is True
    assert 0 < result["drain"]["waited"] < 150
    lines = [line for line in director(topo, "ipvsadm", "-Lnc").splitlines() if f"{drained}:80" in line]
    assert lines == [], lines
    removed = run_module("ipvs_real_server", dict(key, server=drained, state="absent"))
    assert removed["commands"] == [f"-d -t {VIP}:80 -r {drained}:80"]
    assert drained not in director(topo, "ipvsadm", "-S", "-n")


def test_an_invalidated_template_does_not_hold_the_drain(short_timeouts):
    """What "drained" means (_drain.py): a template the kernel has invalidated pins nobody.

    With net.ipv4.vs.expire_quiescent_template=1 a client that comes back to a weight-0 real server has its template
    invalidated (ip_vs_check_template(): ports 65535) and is scheduled afresh. The kernel keeps that template, and counts
    it in the real server's PersistConn, until its timer runs out - up to a whole persistence timeout (300 s here). The
    drain does not wait for it: no active connection and no live template is drained.
    """
    topo = short_timeouts
    key, session, pinned, drained = pinned_client(topo, 300)
    client = topo.clients[0]
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


def test_wait_drained_needs_state_drained(clean_ipvs):
    ipvsadm("-A", "-t", f"{VIP}:80")
    result = run_module("ipvs_real_server", {"protocol": "tcp", "address": VIP, "port": 80, "server": "192.0.2.11", "wait_drained": True})
    assert result["failed"] and result["msg"].startswith("wait_drained:")
    assert saved_table() == [f"-A -t {VIP}:80 -s wlc"]


def _start_module(name: str, args: dict, tag: str) -> subprocess.Popen:
    args_file = f"/tmp/lvs-ipvs-lock-{tag}.json"
    with open(args_file, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    collections = COLLECTION_ROOT
    return subprocess.Popen([sys.executable, os.path.join(REPO, "plugins", "modules", f"{name}.py"), args_file], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd="/tmp", env=dict(os.environ, PYTHONPATH=collections))


def _holds_open(pid: int, path: str) -> bool:
    """True when process `pid` has `path` open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                return True
        except OSError:
            continue
    return False


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert out.strip(), err
    return json.loads(out.strip().splitlines()[-1])


def test_a_run_waits_for_the_table_lock(clean_ipvs):
    ipvsadm("-A", "-t", f"{VIP}:80", "-s", "rr")
    key = {"protocol": "tcp", "address": VIP, "port": 80}
    with table_lock(None):
        proc = _start_module("ipvs_real_server", dict(key, server="192.0.2.11"), "held")
        # Until the run has opened the lock file it proves nothing: wait for that (bounded), then watch it wait a while.
        deadline = time.monotonic() + 60
        while not _holds_open(proc.pid, lock_path(None)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _holds_open(proc.pid, lock_path(None)), "the run never reached the table lock"
        time.sleep(2)
        assert proc.poll() is None, "the run did not wait for the lock"
        assert saved_table() == [f"-A -t {VIP}:80 -s rr"]
    result = _result(proc)
    assert result["changed"] is True
    assert saved_table() == [f"-A -t {VIP}:80 -s rr", f"-a -t {VIP}:80 -r 192.0.2.11:80 -g -w 1"]


def test_two_runs_at_once_both_succeed(clean_ipvs):
    ipvsadm("-A", "-t", f"{VIP}:80", "-s", "rr")
    key = {"protocol": "tcp", "address": VIP, "port": 80}
    one = _start_module("ipvs_service", dict(key, scheduler="rr", real_servers=[{"server": "192.0.2.11"}]), "one")
    two = _start_module("ipvs_service", dict(key, scheduler="rr", real_servers=[{"server": "192.0.2.12"}]), "two")
    results = [_result(one), _result(two)]
    assert [r.get("failed", False) for r in results] == [False, False], results
    assert sorted(saved_table()) == sorted([f"-A -t {VIP}:80 -s rr", f"-a -t {VIP}:80 -r 192.0.2.11:80 -g -w 1",
                                            f"-a -t {VIP}:80 -r 192.0.2.12:80 -g -w 1"])
