# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The article's recipes, idempotence in four steps, --diff, and drift, on the real kernel."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ipvsadm, saved_table
from tests.integration.modules import four_steps, in_netns, routed_netns, run_module

VIP = "198.51.100.1"
POOL = [{"server": "192.0.2.11", "weight": 2}, {"server": "192.0.2.12", "weight": 2}]

# The seed article's own commands, and the same recipe as module tasks.
RECIPES = [
    pytest.param(
        [["-A", "-t", f"{VIP}:80", "-s", "rr", "-p", "3600"],
         ["-a", "-t", f"{VIP}:80", "-r", "192.0.2.11", "-g", "-w", "2"], ["-a", "-t", f"{VIP}:80", "-r", "192.0.2.12", "-g", "-w", "2"]],
        [{"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600, "real_servers": POOL}],
        id="ppc"),
    pytest.param(
        [["-A", "-t", f"{VIP}:0", "-s", "rr", "-p", "3600"],
         ["-a", "-t", f"{VIP}:0", "-r", "192.0.2.11", "-g", "-w", "2"], ["-a", "-t", f"{VIP}:0", "-r", "192.0.2.12", "-g", "-w", "2"]],
        [{"protocol": "tcp", "address": VIP, "port": 0, "scheduler": "rr", "persistence_timeout": 3600, "real_servers": POOL}],
        id="pcc"),
    pytest.param(
        [["-A", "-f", "8", "-s", "rr", "-p", "600"],
         ["-a", "-f", "8", "-r", "192.0.2.11", "-g", "-w", "2"], ["-a", "-f", "8", "-r", "192.0.2.12", "-g", "-w", "2"]],
        [{"fwmark": 8, "scheduler": "rr", "persistence_timeout": 600, "real_servers": POOL}],
        id="pnmpp-fwmark"),
    pytest.param(
        [["-A", "-t", "198.51.100.154:80", "-s", "rr", "-p", "60"]],
        [{"protocol": "tcp", "address": "198.51.100.154", "port": 80, "scheduler": "rr", "persistence_timeout": 60}],
        id="p-60"),
]


@pytest.mark.parametrize("commands, tasks", RECIPES)
def test_article_recipes_give_the_same_table_as_ipvsadm(clean_ipvs, commands, tasks):
    for command in commands:
        ipvsadm(*command)
    expected = saved_table()
    ipvsadm("-C")
    for task in tasks:
        four_steps("ipvs_service", task)
    assert saved_table() == expected


def test_four_steps_and_diff_for_ipvs_service(clean_ipvs):
    task = {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600, "real_servers": POOL}
    results = four_steps("ipvs_service", task)
    assert results[0]["commands"] == [
        f"-A -t {VIP}:80 -s rr -p 3600",
        f"-a -t {VIP}:80 -r 192.0.2.11:80 -g -w 2",
        f"-a -t {VIP}:80 -r 192.0.2.12:80 -g -w 2",
    ]
    assert results[0]["diff"]["before"] == ""
    assert results[0]["diff"]["after"] == "\n".join(saved_table()) + "\n"
    assert results[3]["diff"]["before"] == results[3]["diff"]["after"]
    assert results[1]["service"]["persistence_timeout"] == 3600
    assert [r["server"] for r in results[1]["real_servers"]] == ["192.0.2.11", "192.0.2.12"]


def test_four_steps_for_ipvs_real_server_and_drain(clean_ipvs):
    ipvsadm("-A", "-t", f"{VIP}:80", "-s", "rr")
    key = {"protocol": "tcp", "address": VIP, "port": 80}
    results = four_steps("ipvs_real_server", dict(key, server="192.0.2.11", forwarding="nat", weight=5))
    assert results[1]["commands"] == [f"-a -t {VIP}:80 -r 192.0.2.11:80 -m -w 5"]
    drained = four_steps("ipvs_real_server", dict(key, server="192.0.2.11", forwarding="nat", state="drained"))
    assert drained[1]["commands"] == [f"-e -t {VIP}:80 -r 192.0.2.11:80 -m -w 0"]
    assert saved_table() == [f"-A -t {VIP}:80 -s rr", f"-a -t {VIP}:80 -r 192.0.2.11:80 -m -w 0"]
    removed = four_steps("ipvs_real_server", dict(key, server="192.0.2.11", state="absent"))
    assert removed[1]["commands"] == [f"-d -t {VIP}:80 -r 192.0.2.11:80"]
    assert saved_table() == [f"-A -t {VIP}:80 -s rr"]


def test_four_steps_for_ipvs_timeouts(clean_ipvs):
    ipvsadm("--set", "900", "120", "300")
    try:
        results = four_steps("ipvs_timeouts", {"tcp": 1800, "tcpfin": 30})
        assert results[1]["before"] == {"tcp": 900, "tcpfin": 120, "udp": 300}
        assert results[1]["after"] == {"tcp": 1800, "tcpfin": 30, "udp": 300}
        assert results[0]["diff"] == {"before": "--set 900 120 300\n", "after": "--set 1800 30 300\n"}
        assert ipvsadm("-L", "-n", "--timeout").strip() == "Timeout (tcp tcpfin udp): 1800 30 300"
    finally:
        ipvsadm("--set", "900", "120", "300")


def test_removing_a_service_with_state_absent(clean_ipvs):
    ipvsadm("-A", "-t", f"{VIP}:8080", "-s", "rr")
    ipvsadm("-a", "-t", f"{VIP}:8080", "-r", "192.0.2.11:8080", "-m")
    results = four_steps("ipvs_service", {"protocol": "tcp", "address": VIP, "port": 8080, "state": "absent"})
    assert results[1]["commands"] == [f"-D -t {VIP}:8080"]
    assert saved_table() == []


def test_edits_are_in_place_commands(clean_ipvs):
    task = {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600, "real_servers": POOL}
    run_module("ipvs_service", task)
    changed = dict(task, scheduler="wlc", persistence_timeout=600,
                   real_servers=[{"server": "192.0.2.11", "weight": 5, "forwarding": "nat"}, POOL[1]])
    result = run_module("ipvs_service", changed, diff=True)
    assert result["commands"] == [f"-E -t {VIP}:80 -s wlc -p 600", f"-e -t {VIP}:80 -r 192.0.2.11:80 -m -w 5"]
    assert saved_table() == [f"-A -t {VIP}:80 -s wlc -p 600", f"-a -t {VIP}:80 -r 192.0.2.11:80 -m -w 5", f"-a -t {VIP}:80 -r 192.0.2.12:80 -g -w 2"]


def test_purge_real_servers_removes_the_unlisted(clean_ipvs):
    task = {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "real_servers": POOL}
    run_module("ipvs_service", task)
    ipvsadm("-a", "-t", f"{VIP}:80", "-r", "192.0.2.13", "-g")
    kept = run_module("ipvs_service", task)
    assert kept["changed"] is False
    purged = run_module("ipvs_service", dict(task, purge_real_servers=True))
    assert purged["commands"] == [f"-d -t {VIP}:80 -r 192.0.2.13:80"]
    assert len(saved_table()) == 3


@pytest.mark.parametrize("drift, repair", [
    pytest.param(["-D", "-t", f"{VIP}:80"], None, id="service-deleted-by-hand"),
    pytest.param(["-E", "-t", f"{VIP}:80", "-s", "wlc"], [f"-E -t {VIP}:80 -s rr -p 3600"], id="service-edited-by-hand"),
    pytest.param(["-e", "-t", f"{VIP}:80", "-r", "192.0.2.11", "-g", "-w", "9"], [f"-e -t {VIP}:80 -r 192.0.2.11:80 -g -w 2"], id="weight-by-hand"),
    pytest.param(["-d", "-t", f"{VIP}:80", "-r", "192.0.2.12"], [f"-a -t {VIP}:80 -r 192.0.2.12:80 -g -w 2"], id="real-server-deleted-by-hand"),
    pytest.param(["-e", "-t", f"{VIP}:80", "-r", "192.0.2.11", "-m", "-w", "2"], [f"-e -t {VIP}:80 -r 192.0.2.11:80 -g -w 2"], id="forwarding-by-hand"),
])
def test_drift_made_with_ipvsadm_is_detected_and_restored(clean_ipvs, drift, repair):
    task = {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600, "real_servers": POOL}
    run_module("ipvs_service", task)
    wanted = saved_table()
    ipvsadm(*drift)
    assert saved_table() != wanted
    check = run_module("ipvs_service", task, check=True)
    assert check["changed"] is True
    result = run_module("ipvs_service", task)
    assert result["commands"] == check["commands"]
    if repair is not None:
        assert result["commands"] == repair
    assert saved_table() == wanted


def test_info_reports_the_table_in_module_option_names(clean_ipvs):
    task = {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600, "real_servers": POOL}
    run_module("ipvs_service", task)
    info = run_module("ipvs_info", {})
    assert not info.get("failed"), info.get("msg")
    assert info.get("changed") is False, sorted(info)
    assert info["version"].count(".") == 2
    assert info["connection_table_size"] > 0
    assert info["timeouts"]["tcp"] > 0
    (service,) = info["services"]
    assert {k: service[k] for k in ("protocol", "address", "port", "scheduler", "persistence_timeout")} == \
        {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600}
    assert [(r["server"], r["weight"], r["forwarding"]) for r in service["real_servers"]] == [("192.0.2.11", 2, "dr"), ("192.0.2.12", 2, "dr")]
    assert info["connections"] == [] and info["templates"] == []
    # What ipvs_info gathers can be fed back to ipvs_service unchanged.
    fed_back = {k: v for k, v in service.items() if k not in ("stats", "real_servers")}
    again = run_module("ipvs_service", fed_back)
    assert again.get("changed") is False, again.get("msg")


def test_risk_warnings_read_the_sysctls_of_the_task_s_own_namespace():
    """A drained real server of a persistent service warns while net.ipv4.vs.expire_quiescent_template is 0 in the
    task's namespace, and not once it is 1 there; the lab VM's own namespace holds the opposite value each time, so a
    read of the wrong namespace fails one of the two steps."""
    netns = "lvsrisk"
    key = {"protocol": "tcp", "address": VIP, "port": 80, "netns": netns}
    root = "/proc/sys/net/ipv4/vs/expire_quiescent_template"
    with open(root, encoding="ascii") as handle:
        saved = handle.read().strip()
    with routed_netns(netns, "risk0"):
        try:
            for inside, warned in ((0, True), (1, False)):
                in_netns(netns, "sysctl", "-qw", f"net.ipv4.vs.expire_quiescent_template={inside}")
                with open(root, "w", encoding="ascii") as handle:
                    handle.write(f"{1 - inside}\n")
                created = run_module("ipvs_service", dict(key, persistence_timeout=600, real_servers=POOL))
                assert not created.get("failed"), created.get("msg")
                drained = run_module("ipvs_real_server", dict(key, server="192.0.2.12", state="drained"))
                texts = [item["event"]["msg"] if isinstance(item, dict) else item for item in drained.get("warnings", [])]
                assert drained["changed"] and bool([text for text in texts if "expire_quiescent_template is 0" in text]) is warned, texts
                assert run_module("ipvs_service", dict(key, state="absent"))["changed"]
        finally:
            with open(root, "w", encoding="ascii") as handle:
                handle.write(f"{saved}\n")
