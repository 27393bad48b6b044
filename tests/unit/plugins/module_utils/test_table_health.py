# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ipvs_table and keepalived-owned services (config entries with health_check), its main() against the fake kernel:
never added, edited or removed (merged, replaced, overridden, with restrict, in check mode, in the diff), reported in
`health` with drift as warnings; state=rendered gives their keepalived text instead of ipvsadm lines."""

from __future__ import annotations

import copy
import dataclasses
import typing as t

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import render_virtual_servers
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import declare
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_table
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel, run_main

VIP = "198.51.100.1"
# Keepalived-owned: web (a quiesced and a removed real server right now); module-owned: api; not declared: old.
WEB_ENTRY = {
    "protocol": "tcp", "address": VIP, "port": 80, "scheduler": "wlc", "persistence_timeout": 600,
    "real_servers": [{"server": "192.0.2.11"}, {"server": "192.0.2.12"}, {"server": "192.0.2.13"}],
    "health_check": {"type": "http", "path": "/health", "sorry_server": "192.0.2.99"},
}
API_ENTRY = {"protocol": "tcp", "address": VIP, "port": 8080, "scheduler": "rr", "real_servers": [{"server": "192.0.2.21", "forwarding": "nat"}]}
WEB = Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=600, persistence_granularity=32)
API = Service(family="ipv4", protocol="tcp", address=VIP, port=8080, scheduler="rr")
OLD = Service(family="ipv4", protocol="tcp", address="198.51.100.2", port=80)
WEB_NOW = [RealServer("192.0.2.11", 80), RealServer("192.0.2.12", 80, weight=0)]  # .12 quiesced by its check, .13 removed
WEB_HEALTH = {"service": "-t 198.51.100.1:80", "writer": "keepalived", "up": ["192.0.2.11:80"], "down": ["192.0.2.12:80", "192.0.2.13:80"],
              "sorry_server_active": False, "drift": []}


def kernel_table(web: t.Optional[t.Tuple[Service, t.List[RealServer]]] = (WEB, WEB_NOW)) -> t.List[t.Tuple[Service, t.List[RealServer]]]:
    table = [(API, [RealServer("192.0.2.21", 8080, forwarding="nat", weight=3)]), (OLD, [RealServer("192.0.2.31", 80)])]
    return ([web] if web is not None else []) + table


def warnings(result: t.Dict[str, t.Any]) -> t.List[str]:
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


def run(kernel, args: t.Dict[str, t.Any], check: bool = False) -> t.Dict[str, t.Any]:
    result = run_main(ipvs_table, copy.deepcopy(args), check=check, diff=True)
    assert not result.get("failed"), result
    return result


@pytest.mark.parametrize("check", [False, True])
@pytest.mark.parametrize("state, commands", [
    ("merged", ["-e -t 198.51.100.1:8080 -r 192.0.2.21:8080 -m -w 1"]),
    ("replaced", ["-e -t 198.51.100.1:8080 -r 192.0.2.21:8080 -m -w 1"]),
    ("overridden", ["-e -t 198.51.100.1:8080 -r 192.0.2.21:8080 -m -w 1", "-D -t 198.51.100.2:80"]),
])
def test_a_keepalived_owned_service_is_left_alone_and_reported(kernel, state, commands, check):
    fake = kernel.install(FakeKernel(kernel_table()))
    result = run(kernel, {"state": state, "config": [WEB_ENTRY, API_ENTRY]}, check=check)
    assert result["changed"] is True
    assert result["commands"] == commands
    assert result["health"] == [WEB_HEALTH]
    assert warnings(result) == []
    # Neither in before, after nor the diff: the task does not write it.
    assert [(item["address"], item["port"]) for item in result["before"]] == [(VIP, 8080), ("198.51.100.2", 80)]
    assert "198.51.100.1:80 " not in result["diff"]["before"] + result["diff"]["after"]
    assert all(item.get("port") != 80 or item["address"] != VIP for item in result["after"])
    # The kernel: web exactly as keepalived left it; the rest as the commands say (nothing in check mode).
    assert fake.table[WEB.key] == (WEB, WEB_NOW)
    assert fake.commands == ([] if check else commands)


@pytest.mark.parametrize("state", ["merged", "replaced", "overridden"])
def test_a_run_while_a_real_server_is_down_changes_nothing(kernel, state):
    fake = kernel.install(FakeKernel(kernel_table()[:2]))
    api = dict(API_ENTRY, real_servers=[{"server": "192.0.2.21", "forwarding": "nat", "weight": 3}])
    for check in (True, False):
        result = run(kernel, {"state": state, "config": [WEB_ENTRY, api]}, check=check)
        assert (result["changed"], result["commands"], result["diff"]) == (False, [], {"before": result["diff"]["before"], "after": result["diff"]["before"]})
        assert result["health"] == [WEB_HEALTH]
    assert fake.sent == []


def test_overridden_within_restrict_does_not_remove_it_either(kernel):
    fake = kernel.install(FakeKernel(kernel_table()))
    result = run(kernel, {"state": "overridden", "restrict": [{"addresses": [VIP]}], "config": [WEB_ENTRY]})
    assert result["commands"] == ["-D -t 198.51.100.1:8080"]
    assert WEB.key in fake.table and OLD.key in fake.table


def test_drift_is_reported_and_warned_never_fixed(kernel):
    drifted = dataclasses.replace(WEB, scheduler="rr")
    servers = WEB_NOW + [RealServer("192.0.2.50", 80), RealServer("192.0.2.99", 80)]
    fake = kernel.install(FakeKernel(kernel_table((drifted, servers))))
    result = run(kernel, {"state": "merged", "config": [WEB_ENTRY]})
    drift = ["scheduler is rr in the kernel, declared wlc", "real server 192.0.2.50:80 is in the kernel but neither declared nor the sorry server"]
    assert result["health"] == [dict(WEB_HEALTH, sorry_server_active=True, drift=drift)]
    assert warnings(result) == [f"keepalived-owned service -t 198.51.100.1:80: {sentence}" for sentence in drift]
    assert (result["changed"], result["commands"]) == (False, [])
    assert fake.table[WEB.key] == (drifted, servers)


def test_a_missing_keepalived_service_is_not_created(kernel):
    fake = kernel.install(FakeKernel(kernel_table(None)))
    result = run(kernel, {"state": "replaced", "config": [WEB_ENTRY]})
    assert (result["changed"], result["commands"]) == (False, [])
    assert result["health"] == [dict(WEB_HEALTH, up=[], down=["192.0.2.11:80", "192.0.2.12:80", "192.0.2.13:80"],
                                     drift=["keepalived has not built it: is lvs-ipvs-check.service running?"])]
    assert warnings(result) == ["keepalived-owned service -t 198.51.100.1:80: keepalived has not built it: is lvs-ipvs-check.service running?"]
    assert WEB.key not in fake.table


def test_without_health_checks_the_result_has_an_empty_health(kernel):
    kernel.install(FakeKernel(kernel_table()))
    result = run(kernel, {"state": "merged", "config": [API_ENTRY]})
    assert result["health"] == []


def test_deleted_removes_a_service_named_with_a_health_check(kernel):
    # deleted reads only the options naming a service: removing one is the user's explicit word.
    fake = kernel.install(FakeKernel(kernel_table()))
    result = run(kernel, {"state": "deleted", "config": [WEB_ENTRY]})
    assert result["commands"] == ["-D -t 198.51.100.1:80"]
    assert "health" not in result
    assert WEB.key not in fake.table


def test_rendered_gives_keepalived_text_for_the_keepalived_owned_services_only(kernel):
    result = run(kernel, {"state": "rendered", "config": [WEB_ENTRY, API_ENTRY]})
    assert result["rendered"] == ["-A -t 198.51.100.1:8080 -s rr", "-a -t 198.51.100.1:8080 -r 192.0.2.21:8080 -m -w 1"]
    (web,) = declare([WEB_ENTRY])
    assert result["keepalived_config"] == render_virtual_servers([(web.service, web.servers or [], web.health)])
    assert result["keepalived_config"].startswith("virtual_server 198.51.100.1 80 {\n")
    assert run(kernel, {"state": "rendered", "config": [API_ENTRY]})["keepalived_config"] == ""


@pytest.mark.parametrize("entry, option, phrase", [
    (dict(WEB_ENTRY, health_check={"type": "tcp", "interval": 0}), "config[1].health_check.interval", "0 is out of range; accepted: 1 to 86400"),
    (dict(WEB_ENTRY, health_check={"type": "tcp", "path": "/"}), "config[1].health_check.path", "does not apply to type tcp"),
    (dict(WEB_ENTRY, health_check={"type": "tcp", "sorry_server": "192.0.2.99:8080"}), "config[1].health_check.sorry_server",
     "port 8080 differs from the service port 80, which dr forwarding always uses"),
    (dict(WEB_ENTRY, real_servers=[{"server": "192.0.2.11", "state": "drained"}]), "config[1].real_servers",
     "needs at least one real server with a weight above 0"),
    ({key: value for key, value in WEB_ENTRY.items() if key != "real_servers"}, "config[1].real_servers", "needs at least one real server"),
    (dict(WEB_ENTRY, health_check={"type": "tcp", "quorum": "x"}), "config[1].health_check", "quorum"),
])
def test_bad_health_checks_fail_before_the_kernel_is_read(kernel, entry, option, phrase):
    kernel.install(FakeKernel(kernel_table(), fail_on_open=AssertionError))
    for state in ("merged", "rendered"):
        result = run_main(ipvs_table, {"state": state, "config": [API_ENTRY, entry]})
        assert result["failed"] is True
        assert result["option"] == option
        assert phrase in result["msg"]
