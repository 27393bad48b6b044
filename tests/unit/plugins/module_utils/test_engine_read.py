# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_engine.read_table, the one table reader: scope, wanted objects recognised, counters where asked (ipvs_info)."""

from __future__ import annotations

from ansible_collections.lvs.ipvs.plugins.module_utils._engine import read_table
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_info
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel, run_main

WEB = Service(family="ipv4", protocol="tcp", address="198.51.100.1", port=80, scheduler="rr")
MARK = Service(family="ipv4", fwmark=8)
POOL = [RealServer("192.0.2.12", 80, weight=2), RealServer("192.0.2.11", 80, forwarding="nat")]
SERVER_COUNTERS = {"active_conns": 3, "inact_conns": 1, "persist_conns": 0, "stats": {"conns": 5}}
COUNTERS = {WEB.key: ({"stats": {"conns": 7}}, {("192.0.2.11", 80): SERVER_COUNTERS})}


def fake():
    return FakeKernel([(WEB, POOL), (MARK, [])], counters=COUNTERS)


def test_everything_or_what_the_task_owns():
    kernel = fake()
    assert read_table(kernel) == kernel.table
    assert read_table(kernel, lambda service: service.fwmark is not None) == {MARK.key: (MARK, [])}


def test_wanted_objects_are_the_objects_read():
    wanted = RealServer("192.0.2.11", 80, forwarding="nat")
    table = read_table(fake(), wanted=[(WEB, [wanted])])
    assert table[WEB.key][0] is WEB
    assert any(server is wanted for server in table[WEB.key][1])


def test_counters_only_where_asked():
    counters: dict = {}
    table = read_table(fake(), counters=counters)
    assert table == fake().table
    assert counters[WEB.key][0] == {"stats": {"conns": 7}}
    assert counters[WEB.key][1][("192.0.2.11", 80)]["active_conns"] == 3


def test_ipvs_info_reports_the_counters_in_option_names(kernel):
    kernel.install(fake())
    result = run_main(ipvs_info, {"connections": True})
    web = next(item for item in result["services"] if item.get("port") == 80)
    assert web["stats"] == {"conns": 7} and web["scheduler"] == "rr"
    assert [server["server"] for server in web["real_servers"]] == ["192.0.2.11", "192.0.2.12"]
    assert web["real_servers"][0]["active_connections"] == 3 and web["real_servers"][0]["stats"] == {"conns": 5}
    assert web["real_servers"][1]["active_connections"] == 0
    assert result["connections"] == [] and result["templates"] == []
    assert kernel.fake.sent == []
