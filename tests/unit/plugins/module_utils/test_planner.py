# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The planner: want versus have -> ordered operations; edits in place, deletes only for identity."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    RealServer,
    Service,
    real_server_from_kernel,
    real_server_from_params,
    service_from_kernel,
    service_from_params,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import (
    Operation,
    make_table,
    plan_real_server,
    plan_service,
    plan_table,
    table_after,
)

VIP = "198.51.100.1"
PPC = Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="rr", persistence_timeout=3600, persistence_granularity=32)
HTTPS = Service(family="ipv4", protocol="tcp", address=VIP, port=443)
FWM8 = Service(family="ipv4", fwmark=8, scheduler="rr", persistence_timeout=600, persistence_granularity=32)
RS1 = RealServer("192.0.2.11", 80, weight=2)
RS2 = RealServer("192.0.2.12", 80, weight=2)
RS3 = RealServer("192.0.2.13", 80, weight=2)


def edit(obj: t.Any, **changes: t.Any) -> t.Any:
    return dataclasses.replace(obj, **changes)


def summary(operations: list[Operation]) -> list[tuple[str, t.Any, t.Any]]:
    """(action, service key, real server key) per operation: the shape of a plan."""
    return [(op.action, op.service.key, op.real_server.key if op.real_server else None) for op in operations]


@pytest.mark.parametrize("want, have, want_servers, have_servers, expected", [
    pytest.param(PPC, PPC, [RS1, RS2], [RS2, RS1], [], id="no-op"),
    pytest.param(PPC, PPC, None, [RS1], [], id="pool-left-alone"),
    pytest.param(None, None, None, [], [], id="absent-and-gone"),
    pytest.param(PPC, None, [RS2, RS1], [],
                 [("add_service", PPC.key, None), ("add_real_server", PPC.key, RS1.key), ("add_real_server", PPC.key, RS2.key)],
                 id="add-service-then-servers-sorted"),
    pytest.param(edit(PPC, scheduler="wlc"), PPC, [RS1], [RS1], [("edit_service", PPC.key, None)], id="scheduler-is-one-edit"),
    pytest.param(edit(PPC, persistence_timeout=600), PPC, None, [RS1], [("edit_service", PPC.key, None)], id="timeout-edit"),
    pytest.param(edit(PPC, persistence_granularity=24), PPC, None, [], [("edit_service", PPC.key, None)], id="granularity-edit"),
    pytest.param(edit(PPC, persistence_timeout=None, persistence_granularity=None), PPC, None, [], [("edit_service", PPC.key, None)],
                 id="persistence-off-edit"),
    pytest.param(edit(PPC, scheduler="sh", scheduler_flags=("sh-port",)), PPC, None, [], [("edit_service", PPC.key, None)], id="flags-edit"),
    pytest.param(PPC, PPC, [edit(RS1, weight=5), RS2], [RS1, RS2], [("edit_real_server", PPC.key, RS1.key)], id="weight-is-one-edit"),
    pytest.param(PPC, PPC, [RS1], [edit(RS1, forwarding="local")], [("edit_real_server", PPC.key, RS1.key)], id="local-back-to-dr"),
    pytest.param(PPC, PPC, [edit(RS1, forwarding="nat")], [RS1], [("edit_real_server", PPC.key, RS1.key)], id="forwarding-is-one-edit"),
    pytest.param(PPC, PPC, [edit(RS1, upper_threshold=10, lower_threshold=5)], [RS1], [("edit_real_server", PPC.key, RS1.key)],
                 id="thresholds-edit"),
    pytest.param(PPC, PPC, [edit(RS1, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_checksum="nocsum")], [RS1],
                 [("edit_real_server", PPC.key, RS1.key)], id="tunnel-edit"),
    pytest.param(PPC, PPC, [RS1], [RS1, RS2], [], id="unlisted-kept-without-purge"),
    pytest.param(None, PPC, [RS1], [RS1, RS2], [("delete_service", PPC.key, None)], id="delete-takes-servers-along"),
    pytest.param(HTTPS, PPC, [RS1], [RS1], [("add_service", HTTPS.key, None), ("add_real_server", HTTPS.key, RS1.key),
                                            ("delete_service", PPC.key, None)], id="identity-change"),
])
def test_plan_service(want: t.Optional[Service], have: t.Optional[Service], want_servers: t.Optional[list[RealServer]],
                      have_servers: list[RealServer], expected: list[tuple[str, t.Any, t.Any]]) -> None:
    assert summary(plan_service(want, have, want_servers, have_servers)) == expected


def test_edit_carries_want_and_before() -> None:
    want = edit(PPC, scheduler="wlc")
    assert plan_service(want, PPC, None, []) == [Operation("edit_service", want, before=PPC)]
    heavier = edit(RS1, weight=7)
    assert plan_service(PPC, PPC, [heavier], [RS1]) == [Operation("edit_real_server", PPC, heavier, before=RS1)]


def test_purge_removes_unlisted_servers_last() -> None:
    plan = plan_service(PPC, PPC, [edit(RS1, weight=3), RS3], [RS2, RS1], purge_real_servers=True)
    assert summary(plan) == [("add_real_server", PPC.key, RS3.key), ("edit_real_server", PPC.key, RS1.key),
                             ("delete_real_server", PPC.key, RS2.key)]
    assert plan[-1].before == RS2


def test_purge_without_a_list_touches_nothing() -> None:
    assert not plan_service(PPC, PPC, None, [RS1, RS2], purge_real_servers=True)


def test_purge_with_empty_list_empties_the_pool() -> None:
    assert summary(plan_service(PPC, PPC, [], [RS2, RS1], purge_real_servers=True)) == [
        ("delete_real_server", PPC.key, RS1.key), ("delete_real_server", PPC.key, RS2.key)]


def test_absent_servers() -> None:
    plan = plan_service(PPC, PPC, [RS1], [RS1, RS2], absent_servers=[RS2, RS3])
    assert summary(plan) == [("delete_real_server", PPC.key, RS2.key)]


def test_drained_is_a_weight_edit() -> None:
    have = real_server_from_kernel({"addr": "192.0.2.11", "port": 80, "af": 2, "fwd_method": 3, "weight": 3, "u_thresh": 0, "l_thresh": 0}, PPC)
    want = real_server_from_params({"server": "192.0.2.11", "weight": 3, "state": "drained"}, PPC)
    plan = plan_service(PPC, PPC, [want], [have])
    assert summary(plan) == [("edit_real_server", PPC.key, have.key)]
    assert t.cast(RealServer, plan[0].real_server).weight == 0


@pytest.mark.parametrize("want, have, expected", [
    pytest.param(RS1, RS1, [], id="same"),
    pytest.param(RS1, None, ["add_real_server"], id="add"),
    pytest.param(None, RS1, ["delete_real_server"], id="delete"),
    pytest.param(None, None, [], id="gone"),
    pytest.param(edit(RS1, weight=0), RS1, ["edit_real_server"], id="weight"),
    pytest.param(edit(RS1, port=8080, forwarding="nat"), RS1, ["add_real_server", "delete_real_server"], id="port-is-identity"),
])
def test_plan_real_server(want: t.Optional[RealServer], have: t.Optional[RealServer], expected: list[str]) -> None:
    assert [op.action for op in plan_real_server(PPC, want, have)] == expected


def test_kernel_state_matching_the_request_plans_nothing() -> None:
    """HASHED, a stale netmask and ipvsadm's port rule must not show up as changes."""
    have = service_from_kernel({"af": 2, "protocol": 6, "addr": VIP, "port": 80, "fwmark": 0, "sched_name": "rr", "flags": 0x2, "timeout": 0,
                                "netmask": 0xFFFFFF00, "pe_name": None})
    want = service_from_params({"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr"})
    dest = real_server_from_kernel({"addr": "192.0.2.11", "port": 80, "af": 2, "fwd_method": 3, "weight": 1, "u_thresh": 0, "l_thresh": 0,
                                    "tun_type": 0, "tun_port": 0, "tun_flags": 0}, have)
    wanted_dest = real_server_from_params({"server": "192.0.2.11"}, want)
    assert not plan_service(want, have, [wanted_dest], [dest], purge_real_servers=True)


def test_operation_checks_its_shape() -> None:
    with pytest.raises(ValueError):
        Operation("replace_service", PPC)
    with pytest.raises(ValueError):
        Operation("add_real_server", PPC)
    with pytest.raises(ValueError):
        Operation("add_service", PPC, RS1)


# The whole table

HAVE = make_table([(PPC, [RS1, RS2]), (HTTPS, [RS1]), (FWM8, [RealServer("192.0.2.11", 0)])])


def test_table_no_op() -> None:
    assert not plan_table(HAVE, HAVE, remove_unlisted_services=True)


def test_table_unlisted_services_stay_by_default() -> None:
    want = make_table([(PPC, [RS1, RS2])])
    assert not plan_table(want, HAVE)


def test_table_removes_unlisted_services_after_everything_else() -> None:
    want = make_table([(edit(PPC, scheduler="wlc"), [RS1]), (Service(family="ipv4", protocol="udp", address=VIP, port=53), [RS1])])
    plan = plan_table(want, HAVE, remove_unlisted_services=True)
    udp = ("ipv4", "udp", VIP, 53)
    assert summary(plan) == [
        ("edit_service", PPC.key, None), ("delete_real_server", PPC.key, RS2.key),
        ("add_service", udp, None), ("add_real_server", udp, RS1.key),
        ("delete_service", HTTPS.key, None), ("delete_service", FWM8.key, None),
    ]


def test_table_restrict_limits_what_is_removed() -> None:
    plan = plan_table({}, HAVE, remove_unlisted_services=True, restrict=lambda service: service.fwmark is not None)
    assert summary(plan) == [("delete_service", FWM8.key, None)]


def test_table_absent_services() -> None:
    assert summary(plan_table({}, HAVE, absent_services=[HTTPS.key, ("ipv4", 99)])) == [("delete_service", HTTPS.key, None)]
    with pytest.raises(ValueError):
        plan_table(make_table([(HTTPS, [])]), HAVE, absent_services=[HTTPS.key])


def test_table_keeps_pools_when_not_purging() -> None:
    want = make_table([(PPC, [edit(RS1, weight=9)])])
    assert summary(plan_table(want, HAVE, purge_real_servers=False)) == [("edit_real_server", PPC.key, RS1.key)]


@pytest.mark.parametrize("want", [
    pytest.param(make_table([]), id="empty"),
    pytest.param(make_table([(edit(PPC, persistence_timeout=60), [RS3, edit(RS2, weight=0)]), (FWM8, [])]), id="mixed"),
    pytest.param(make_table([(HTTPS, [RS1, RS2, RS3]), (edit(FWM8, family="ipv6"), [RealServer("2001:db8::11", 0)])]), id="new-family"),
])
def test_table_after_the_plan_is_the_wanted_table(want: dict[t.Any, t.Any]) -> None:
    plan = plan_table(want, HAVE, remove_unlisted_services=True)
    assert table_after(HAVE, plan) == want
    assert not plan_table(want, table_after(HAVE, plan), remove_unlisted_services=True)


def test_make_table_rejects_duplicates() -> None:
    with pytest.raises(ValueError):
        make_table([(PPC, []), (edit(PPC, scheduler="wlc"), [])])
