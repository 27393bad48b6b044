# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_engine.apply(): the requests _kernel encodes for it (the codec's bytes exactly) and what it does when the kernel refuses one."""

from __future__ import annotations

import dataclasses
import errno
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_codec
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import apply, undo_table
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import operation_request
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service, real_server_sort_key, real_server_to_kernel, service_to_kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation, make_table, plan_table
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel

SERVICES = [
    Service(family="ipv4", protocol="tcp", address="198.51.100.1", port=80, scheduler="rr"),
    Service(family="ipv4", protocol="tcp", address="198.51.100.1", port=0, persistence_timeout=3600, persistence_granularity=24),
    Service(family="ipv6", protocol="udp", address="2001:db8::53", port=53, persistence_timeout=60, persistence_granularity=64, one_packet=True),
    Service(family="ipv4", protocol="sctp", address="203.0.113.9", port=9, scheduler="mh", scheduler_flags=("mh-port",)),
    Service(family="ipv4", fwmark=8, scheduler="sh", scheduler_flags=("sh-fallback", "sh-port"), persistence_timeout=600,
            persistence_granularity=32, persistence_engine="sip"),
    Service(family="ipv6", fwmark=4294967295, scheduler="twos"),
]
SERVERS = [
    RealServer("192.0.2.11", 80, weight=5, upper_threshold=100, lower_threshold=10),
    RealServer("192.0.2.12", 8080, forwarding="nat", weight=0),
    RealServer("2001:db8:1::11", 53, forwarding="nat"),
    RealServer("2001:db8:1::12", 0, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_checksum="remcsum"),
    RealServer("192.0.2.13", 80, forwarding="tunnel", tunnel_type="gre", tunnel_checksum="csum"),
    RealServer("192.0.2.14", 80, forwarding="tunnel", tunnel_type="ipip"),
    RealServer("192.0.2.15", 80, forwarding="local"),
]
SERVICE_REQUESTS = {"add_service": _ipvs_codec.add_service_request, "edit_service": _ipvs_codec.edit_service_request,
                    "delete_service": _ipvs_codec.delete_service_request}
DEST_REQUESTS = {"add_real_server": _ipvs_codec.add_dest_request, "edit_real_server": _ipvs_codec.edit_dest_request,
                 "delete_real_server": _ipvs_codec.delete_dest_request}


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: render(Operation("add_service", service)))
@pytest.mark.parametrize("action", sorted(SERVICE_REQUESTS))
def test_service_requests_are_the_codecs_bytes(service, action):
    operation = Operation(action, service, before=None if action == "add_service" else service)
    expected = SERVICE_REQUESTS[action](service_to_kernel(service))
    assert operation_request(operation).encode(0x2A, 7) == expected.encode(0x2A, 7)


@pytest.mark.parametrize("service, server", list(itertools.product(SERVICES, SERVERS)),
                         ids=lambda value: render(Operation("add_service", value)) if isinstance(value, Service) else value.address)
@pytest.mark.parametrize("action", sorted(DEST_REQUESTS))
def test_dest_requests_are_the_codecs_bytes(service, server, action):
    expected = DEST_REQUESTS[action](service_to_kernel(service), real_server_to_kernel(server, service))
    assert operation_request(Operation(action, service, server)).encode(0x2A, 9, 0x5) == expected.encode(0x2A, 9, 0x5)


def test_delete_service_names_the_service_as_it_was():
    before = SERVICES[0]
    wanted = dataclasses.replace(before, scheduler="wlc")
    operation = Operation("delete_service", wanted, before=before)
    assert operation_request(operation).encode(1, 1) == _ipvs_codec.delete_service_request(service_to_kernel(before)).encode(1, 1)


def test_cached_nests_give_the_same_bytes():
    nests: dict = {}
    operations = [Operation(action, service, server) for service in SERVICES for server in SERVERS for action in sorted(DEST_REQUESTS)]
    cached = [operation_request(operation, nests).encode(1, 1) for operation in operations * 2]
    assert cached == [operation_request(operation).encode(1, 1) for operation in operations * 2]


# ---------------------------------------------------------------------------------------------- refusals


def refusing(plan: list[Operation], refuse: dict[int, int], batch_size: int = 4) -> FakeKernel:
    """A FakeKernel that refuses the operations of `plan` at the indexes of `refuse` (index -> errno)."""
    return FakeKernel(refuse={render(plan[index]): code for index, code in refuse.items()}, batch_size=batch_size)


def sent(kernel: FakeKernel, plan: list[Operation]) -> list[list[int]]:
    """The batches the kernel got, as indexes into `plan`."""
    return [[plan.index(operation) for operation in batch] for batch in kernel.sent]


def operations(count: int) -> list[Operation]:
    service = SERVICES[0]
    servers = [RealServer(f"192.0.2.{number}", 80) for number in range(1, count)]
    return [Operation("add_service", service)] + [Operation("add_real_server", service, server) for server in servers]


def test_everything_is_sent_in_batches_when_nothing_is_refused():
    plan = operations(10)
    ipvs = refusing(plan, {})
    apply(ipvs, plan)
    assert sent(ipvs, plan) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_refusal_stops_after_its_batch_and_says_what_was_applied_refused_and_not_sent():
    plan = operations(12)
    ipvs = refusing(plan, {5: errno.EEXIST})
    with pytest.raises(TaskError) as caught:
        apply(ipvs, plan)
    assert sent(ipvs, plan) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    result = caught.value.result
    assert result["failed_command"] == render(plan[5])
    assert result["errno"] == errno.EEXIST
    assert result["applied_commands"] == [render(plan[index]) for index in (0, 1, 2, 3, 4, 6, 7)]
    assert result["refused"] == [{"command": render(plan[5]), "errno": errno.EEXIST,
                                  "error": "the real server already exists in this virtual service (EEXIST)"}]
    assert result["unsent_commands"] == [render(operation) for operation in plan[8:]]
    message = str(caught.value)
    assert message.startswith(f"the kernel refused `ipvsadm {render(plan[5])}`: the real server already exists")
    assert "7 of 12 operations were applied and stay applied, 1 refused, 4 not sent" in message
    assert "batches of 4" in message


def test_several_refusals_in_one_batch_are_all_reported_first_one_first():
    plan = operations(6)
    plan[0] = Operation("add_service", dataclasses.replace(SERVICES[0], scheduler="twos"))
    ipvs = refusing(plan, {0: errno.ENOENT, 1: errno.ESRCH, 2: errno.ESRCH, 3: errno.ESRCH})
    with pytest.raises(TaskError) as caught:
        apply(ipvs, plan)
    assert sent(ipvs, plan) == [[0, 1, 2, 3]]
    result = caught.value.result
    assert result["failed_command"] == render(plan[0])
    assert [entry["command"] for entry in result["refused"]] == [render(operation) for operation in plan[:4]]
    assert result["applied_commands"] == []
    assert result["unsent_commands"] == [render(operation) for operation in plan[4:]]
    assert "scheduler 'twos' is not available in this kernel" in str(caught.value)
    assert "also refused 3 other operation(s) of the same batch" in str(caught.value)


def test_a_refusal_in_the_last_batch_leaves_nothing_unsent():
    plan = operations(6)
    ipvs = refusing(plan, {5: errno.ERANGE})
    with pytest.raises(TaskError) as caught:
        apply(ipvs, plan)
    assert caught.value.result["unsent_commands"] == []
    assert caught.value.result["applied_commands"] == [render(operation) for operation in plan[:5]]


def test_an_empty_plan_sends_nothing():
    ipvs = refusing([], {})
    apply(ipvs, [])
    assert not ipvs.sent


def test_a_lost_conversation_says_which_batch_is_unknown():
    plan = operations(10)
    with pytest.raises(TaskError) as caught:
        apply(FakeKernel(batch_size=4, lose_batch=1), plan)
    result = caught.value.result
    assert result["applied_commands"] == [render(operation) for operation in plan[:4]]
    assert result["unknown_commands"] == [render(operation) for operation in plan[4:8]]
    assert result["unsent_commands"] == [render(operation) for operation in plan[8:]]
    assert str(caught.value).startswith("the kernel did not answer a netlink request in time while sending operations 5 to 8 of 10")


# ---------------------------------------------------------------------------------------------- rolling back


def test_a_refusal_with_have_undoes_everything_applied_even_after_it_in_its_batch():
    old = SERVICES[0]
    have = make_table([(old, [RealServer("192.0.2.1", 80), RealServer("192.0.2.2", 80, weight=3)]),
                       (SERVICES[3], [RealServer("192.0.2.9", 9)])])
    want = make_table([(dataclasses.replace(old, scheduler="wlc"), [RealServer("192.0.2.1", 80, weight=7), RealServer("192.0.2.3", 80)]),
                       (SERVICES[1], [RealServer("192.0.2.4", 0)])])
    plan = plan_table(want, have, remove_unlisted_services=True)
    refused = next(operation for operation in plan if operation.action == "add_real_server" and operation.real_server.address == "192.0.2.3")
    kernel = FakeKernel(have, refuse={render(refused): errno.EINVAL}, batch_size=3)
    with pytest.raises(TaskError) as caught:
        apply(kernel, plan, undo_table(have))
    assert kernel.table == have
    result = caught.value.result
    assert result["failed_command"] == render(refused)
    assert result["rolled_back_commands"] and "rollback_refused" not in result
    assert "have been undone: the table is as it was" in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_rolling_back_any_prefix_of_any_plan_gives_the_table_back(data):
    addresses = [f"192.0.2.{number}" for number in range(1, 6)]

    def tables():
        return st.lists(st.tuples(st.sampled_from(SERVICES[:5]),
                                  st.lists(st.builds(RealServer, st.sampled_from(addresses), st.just(80), weight=st.integers(0, 3)),
                                           max_size=4, unique_by=lambda server: server.key)),
                        max_size=4, unique_by=lambda entry: entry[0].key).map(make_table)

    have, want = data.draw(tables()), data.draw(tables())
    plan = plan_table(want, have, remove_unlisted_services=data.draw(st.booleans()))
    if not plan:
        return
    refused = data.draw(st.sampled_from(plan))
    kernel = FakeKernel(have, refuse={render(refused): errno.EINVAL}, batch_size=data.draw(st.integers(1, 5)))
    with pytest.raises(TaskError) as caught:
        apply(kernel, plan, undo_table(have))
    assert "rollback_refused" not in caught.value.result
    assert {key: (service, sorted(servers, key=real_server_sort_key)) for key, (service, servers) in kernel.table.items()} == have
