# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ipvs_table's pure logic: entry checks (Ansible's outcome, faster), declared services, restrict, plans per state,
reading kernel replies (NetlinkKernel's rows, the engine's KernelObjects), results; and the module documentation against
the argument spec it does not pass to Ansible."""

from __future__ import annotations

import copy
import dataclasses
import socket
import struct
import typing as t

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_codec, _netlink_socket
from ansible_collections.lvs.ipvs.plugins.doc_fragments._service import ModuleDocFragment
from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import health_check_spec, real_server_options_spec, restrict_spec, table_service_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    OptionError,
    RealServer,
    Service,
    real_server_from_kernel,
    service_from_kernel,
    service_to_kernel,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import KernelObjects, real_server_result, service_result
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import NetlinkKernel
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation, make_table, plan_table
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import (
    ECHO_LIMIT,
    Declared,
    EntryChecker,
    Scope,
    declare,
    plan,
    real_server_item,
    service_item,
    table_items,
)
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_table

VIP = "198.51.100.1"
TCP80 = {"protocol": "tcp", "address": VIP, "port": 80}


# ---------------------------------------------------------------------------------------------- entry checks


def ansible_outcome(spec: dict, entry: t.Any) -> t.Optional[dict]:
    """What Ansible's own validator makes of `entry` (None when it refuses it)."""
    result = ArgumentSpecValidator(spec).validate(copy.deepcopy(entry))
    return None if result.error_messages else result.validated_parameters


ENTRIES = [
    dict(TCP80),
    dict(TCP80, scheduler="rr", persistence_timeout=3600, real_servers=[{"server": "192.0.2.11", "weight": 2}]),
    dict(TCP80, port="80"),                                         # a string for an int: converted
    dict(TCP80, one_packet="yes"),                                  # a string for a bool
    dict(TCP80, persistence_granularity=24),                        # an int for a str
    dict(TCP80, scheduler=None),                                    # an explicit null where a default exists
    dict(TCP80, scheduler_flags="sh-port,sh-fallback", scheduler="sh"),  # a comma string for a list
    dict(TCP80, scheduler_flags=["sh-port", "nope"]),               # a bad choice in a list
    dict(TCP80, scheduler="roundrobin"),                            # a bad choice
    dict(TCP80, port="eighty"),                                     # not convertible
    dict(TCP80, real_servers=[{"weight": 2}]),                      # a required option missing
    dict(TCP80, real_servers=[{"server": "192.0.2.11", "weight": "2", "forwarding": "masq"}]),
    dict(TCP80, real_servers=[{"server": "192.0.2.11", "state": "gone"}]),
    dict(TCP80, real_servers="192.0.2.11"),                         # not a list
    dict(TCP80, real_servers=[]),
    {"fwmark": 8, "family": "ipv6", "one_packet": True},
    dict(TCP80, health_check={"type": "tcp"}),                      # a nested dict: its defaults applied
    dict(TCP80, health_check={"type": "http", "status": [200, 204], "alpha": True, "on_failure": "remove"}),
    dict(TCP80, health_check={"type": "http", "status": ["200"]}),  # a string for an int in a nested list
    dict(TCP80, health_check={"type": "tcp", "interval": "5"}),     # a string for an int in a nested dict
    dict(TCP80, health_check={"type": "ping"}),                     # a bad choice in a nested dict
    dict(TCP80, health_check={"type": "tcp", "on_failure": None}),  # an explicit null where a default exists
    dict(TCP80, health_check={"interval": 5}),                      # a required option missing
    dict(TCP80, health_check={"type": None}),                       # a required option null
    dict(TCP80, health_check="type=tcp"),                           # key=value text for a dict
    dict(TCP80, health_check=["tcp"]),                              # not a dict
    dict(TCP80, health_check=None),
]


def assert_ansibles_outcome(spec: dict, entry: t.Any) -> None:
    """The checker refuses what Ansible's validator refuses, and gives what it gives otherwise."""
    expected = ansible_outcome(spec, entry)
    if expected is None:
        with pytest.raises(OptionError):
            EntryChecker(spec).check(copy.deepcopy(entry), "config[0]")
    else:
        assert EntryChecker(spec).check(copy.deepcopy(entry), "config[0]") == expected


@pytest.mark.parametrize("entry", ENTRIES, ids=[str(index) for index in range(len(ENTRIES))])
def test_checker_gives_ansibles_outcome(entry):
    assert_ansibles_outcome(table_service_spec(), entry)


VALUES = st.sampled_from([None, 0, 1, 80, "80", "x", "rr", "wlc", "sh", "tcp", "udp", VIP, "192.0.2.11", True, False, "yes", [], ["sh-port"],
                          "sh-port", "nat", "dr", "drained", "absent", 2.5])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(real_server_options_spec())), VALUES, max_size=6))
def test_checker_gives_ansibles_outcome_for_any_real_server_entry(entry):
    assert_ansibles_outcome(real_server_options_spec(), entry)


HEALTH_VALUES = st.sampled_from([None, 0, 1, 5, "5", "x", "tcp", "http", "command", "/", "/health", [200], ["200"], [], True, "yes", "quiesce",
                                 "remove", "192.0.2.99", 2.5, {"a": 1}])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(health_check_spec())), HEALTH_VALUES, max_size=5))
def test_checker_gives_ansibles_outcome_for_any_health_check(health_check):
    assert_ansibles_outcome(table_service_spec(), dict(TCP80, health_check=health_check))


@pytest.mark.parametrize("entry, option, phrase", [
    (dict(TCP80, health_check={"interval": 5}), "config[0].health_check.type", "missing: it is required; accepted: command, http, https, tcp"),
    (dict(TCP80, health_check={"type": "tcp", "intervall": 5}), "config[0].health_check.intervall", "is not an option here; accepted: type, port"),
    (dict(TCP80, real_servers=[{"weight": 2}]), "config[0].real_servers[0].server", "missing: it is required"),
    # What ansible-core's validator would crash on (TypeError), and what it refuses.
    (dict(TCP80, health_check=False), "config[0].health_check", "False is not a dictionary; accepted: a dictionary of the options type, port,"),
    (dict(TCP80, health_check=[1], scheduler=1), "config[0].health_check", "[1] is not a dictionary"),
    (dict(TCP80, health_check=5), "config[0].health_check", "5 is not a dictionary"),
    (dict(TCP80, health_check="tcp"), "config[0]", "dictionary requested"),
])
def test_a_missing_or_unknown_suboption_is_named_with_its_path(entry, option, phrase):
    with pytest.raises(OptionError) as caught:
        declare([entry])
    assert caught.value.option == option
    assert phrase in caught.value.message


def test_unknown_option_is_named_with_its_path():
    with pytest.raises(OptionError) as caught:
        declare([dict(TCP80), dict(TCP80, port=81, real_servers=[{"server": "192.0.2.11", "wieght": 2}])])
    assert caught.value.option == "config[1].real_servers[0].wieght"
    assert "weight" in caught.value.message


# ---------------------------------------------------------------------------------------------- declared services


@pytest.mark.parametrize("config, option, phrase", [
    ([dict(TCP80), dict(TCP80, port=81, real_servers=[{"server": "192.0.2.11"}, {"server": "192.0.2.12", "weight": 70000}])],
     "config[1].real_servers[1].weight", "0 to 65535"),
    ([dict(TCP80, port=0)], "config[0].port", "persistence_timeout"),
    ([dict(TCP80, persistence_timeout=0)], "config[0].persistence_timeout", "1 to 2678400"),
    ([dict(TCP80), dict(TCP80, scheduler="rr")], "config[1]", "listed twice (config[0] and config[1])"),
    ([dict(TCP80, real_servers=[{"server": "192.0.2.11"}, {"server": "192.0.2.11", "server_port": 80}])], "config[0].real_servers", "twice"),
    ([dict(TCP80, real_servers=[{"server": "192.0.2.11", "server_port": 8080}])], "config[0].real_servers[0].server_port", "service port"),
    (["not a dict"], "config[0]", "not a dictionary"),
])
def test_declare_names_the_entry_and_option(config, option, phrase):
    with pytest.raises(OptionError) as caught:
        declare(config)
    assert caught.value.option == option
    assert phrase in str(caught.value)


def test_deleted_needs_only_the_key():
    # The argument spec still applies (as Ansible's would); the model's rules only to the options that name the service.
    (entry,) = declare([dict(TCP80, port=0, persistence_granularity="33", real_servers=[{"server": "192.0.2.11", "weight": -1}])], key_only=True)
    assert entry.service.key == ("ipv4", "tcp", VIP, 0)
    assert entry.servers is None


def test_same_real_server_entry_under_other_ports_is_validated_for_each_port():
    pool = [{"server": "192.0.2.11"}, {"server": "192.0.2.12", "state": "absent"}, {"server": "192.0.2.13", "state": "drained", "weight": 5}]
    first, second, third = declare([dict(TCP80, real_servers=pool), dict(TCP80, port=443, real_servers=pool), dict(TCP80, port=8443, real_servers=pool)])
    assert [server.port for server in first.servers] == [80, 80]
    assert [server.port for server in second.servers] == [443, 443]
    assert second.absent == [RealServer("192.0.2.12", 443)]
    assert third.servers[1].weight == 0
    # Same entry, same service port: the same object (validated once).
    (fourth,) = declare([dict(TCP80, address="198.51.100.2", real_servers=pool)])
    assert fourth.servers == first.servers


# ---------------------------------------------------------------------------------------------- restrict

S_TCP80 = Service(family="ipv4", protocol="tcp", address=VIP, port=80)
S_UDP53 = Service(family="ipv4", protocol="udp", address="198.51.100.200", port=53)
S_V6 = Service(family="ipv6", protocol="tcp", address="2001:db8::1", port=443)
S_FWM8 = Service(family="ipv4", fwmark=8)
S_FWM9_V6 = Service(family="ipv6", fwmark=9)
ALL = [S_TCP80, S_UDP53, S_V6, S_FWM8, S_FWM9_V6]


@pytest.mark.parametrize("restrict, owned", [
    (None, ALL),
    ([{"addresses": ["198.51.100.0/25"]}], [S_TCP80]),
    ([{"addresses": [VIP, "2001:db8::/64"]}], [S_TCP80, S_V6]),
    ([{"protocols": ["udp"]}], [S_UDP53]),
    ([{"ports": [80, 443]}], [S_TCP80, S_V6]),
    ([{"addresses": ["198.51.100.0/24"], "protocols": ["tcp"]}], [S_TCP80]),
    ([{"fwmarks": [8, 9]}], [S_FWM8, S_FWM9_V6]),
    ([{"fwmarks": [8, 9], "families": ["ipv6"]}], [S_FWM9_V6]),
    ([{"families": ["ipv6"]}], [S_V6, S_FWM9_V6]),
    ([{"addresses": ["198.51.100.0/24"]}, {"fwmarks": [8]}], [S_TCP80, S_UDP53, S_FWM8]),
    ([{"addresses": ["203.0.113.0/24"]}], []),
])
def test_scope(restrict, owned):
    spec_checked = [EntryChecker(restrict_spec()).check(entry, "restrict") for entry in restrict] if restrict is not None else None
    scope = Scope(spec_checked)
    assert [service for service in ALL if service in scope] == owned


@pytest.mark.parametrize("entry, option, phrase", [
    ({}, "restrict[0]", "at least one"),
    ({"fwmarks": [8], "ports": [80]}, "restrict[0]", "cannot be combined"),
    ({"addresses": ["vip.example"]}, "restrict[0].addresses[0]", "not an address"),
    ({"ports": [70000]}, "restrict[0].ports[0]", "0 to 65535"),
    ({"fwmarks": [0]}, "restrict[0].fwmarks[0]", "1 to"),
])
def test_scope_errors(entry, option, phrase):
    with pytest.raises(OptionError) as caught:
        Scope([EntryChecker(restrict_spec()).check(entry, "restrict[0]")])
    assert caught.value.option == option
    assert phrase in str(caught.value)


# ---------------------------------------------------------------------------------------------- plans

RS = {number: RealServer(f"192.0.2.{number}", 80) for number in range(11, 16)}


def declared(service: Service, servers: t.Optional[list] = None, absent: t.Sequence[RealServer] = ()) -> Declared:
    return Declared("config[x]", service, servers, list(absent))


def summary(operations: list[Operation]) -> list[str]:
    from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render  # pylint: disable=import-outside-toplevel
    return [render(operation) for operation in operations]


HAVE = make_table([(S_TCP80, [RS[11], RS[12]]), (S_UDP53, []), (S_FWM8, [RealServer("192.0.2.11", 0)])])


@pytest.mark.parametrize("state, config, restrict, expected", [
    ("merged", [declared(S_TCP80, [RS[13]])], None, ["-a -t 198.51.100.1:80 -r 192.0.2.13:80 -g -w 1"]),
    ("merged", [declared(S_TCP80, None)], None, []),
    ("merged", [declared(S_TCP80, [], absent=[RS[11]])], None, ["-d -t 198.51.100.1:80 -r 192.0.2.11:80"]),
    ("merged", [declared(dataclasses.replace(S_TCP80, scheduler="rr"), [dataclasses.replace(RS[12], weight=3)])], None,
     ["-E -t 198.51.100.1:80 -s rr", "-e -t 198.51.100.1:80 -r 192.0.2.12:80 -g -w 3"]),
    ("replaced", [declared(S_TCP80, [RS[13]])], None,
     ["-a -t 198.51.100.1:80 -r 192.0.2.13:80 -g -w 1", "-d -t 198.51.100.1:80 -r 192.0.2.11:80", "-d -t 198.51.100.1:80 -r 192.0.2.12:80"]),
    ("replaced", [declared(S_TCP80, None)], None, ["-d -t 198.51.100.1:80 -r 192.0.2.11:80", "-d -t 198.51.100.1:80 -r 192.0.2.12:80"]),
    ("overridden", [declared(S_TCP80, [RS[11], RS[12]])], None, ["-D -u 198.51.100.200:53", "-D -f 8"]),
    ("overridden", [declared(S_TCP80, [RS[11], RS[12]])], [{"protocols": ["tcp", "udp"]}], ["-D -u 198.51.100.200:53"]),
    ("overridden", [], [{"fwmarks": [8]}], ["-D -f 8"]),
    ("deleted", [declared(S_UDP53), declared(S_V6)], None, ["-D -u 198.51.100.200:53"]),
    ("deleted", [], None, ["-D -t 198.51.100.1:80", "-D -u 198.51.100.200:53", "-D -f 8"]),
    ("deleted", [], [{"addresses": ["198.51.100.0/24"]}], ["-D -t 198.51.100.1:80", "-D -u 198.51.100.200:53"]),
])
def test_plan_of_each_state(state, config, restrict, expected):
    scope = Scope(restrict)
    have = {key: entry for key, entry in HAVE.items() if entry[0] in scope}
    assert summary(plan(state, config, have, scope)) == expected


def reference_plan(state: str, config: list[Declared], have: dict, scope: Scope) -> list[Operation]:
    """The plan without the short cut for services already as declared."""
    want = {}
    for entry in config:
        if state == "merged":
            pool = {server.key: server for server in have.get(entry.service.key, (None, []))[1]}
            pool.update({server.key: server for server in entry.servers or ()})
            for server in entry.absent:
                pool.pop(server.key, None)
            want[entry.service.key] = (entry.service, list(pool.values()))
        else:
            want[entry.service.key] = (entry.service, list(entry.servers or ()))
    return plan_table(want, have, remove_unlisted_services=state == "overridden", restrict=scope.accepts, purge_real_servers=True)


SERVICE_POOL = [S_TCP80, dataclasses.replace(S_TCP80, scheduler="rr"), S_UDP53, S_V6, S_FWM8, dataclasses.replace(S_FWM8, persistence_timeout=60,
                persistence_granularity=32)]
SERVER_POOL = [RS[11], RS[12], dataclasses.replace(RS[12], weight=0), RS[13]]


@st.composite
def tables(draw: st.DrawFn) -> dict:
    services = draw(st.lists(st.sampled_from(SERVICE_POOL), max_size=4, unique_by=lambda service: service.key))
    entries = []
    for service in services:
        servers = draw(st.lists(st.sampled_from(SERVER_POOL), max_size=3, unique_by=lambda server: server.key))
        if service.fwmark is not None or service.family == "ipv6":
            servers = []
        elif service.port != 80:
            servers = [dataclasses.replace(server, port=service.port) for server in servers]
        entries.append((service, servers))
    return make_table(entries)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["merged", "replaced", "overridden"]), tables(), tables(), st.data())
def test_short_cut_gives_the_planners_plan(state, want, have, data):
    config = []
    for service, servers in want.values():
        given_servers = data.draw(st.sampled_from([None, servers]))
        absent = data.draw(st.sampled_from([[], servers[:1]])) if state == "merged" and given_servers else []
        present = [server for server in given_servers or () if server not in absent] if given_servers is not None else None
        config.append(declared(service, present, absent))
    assert plan(state, config, have, Scope(None)) == reference_plan(state, config, have, Scope(None))


# ---------------------------------------------------------------------------------------------- kernel replies


def tlv(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def reply(cmd: int, nest_type: int, attrs: bytes) -> bytes:
    body = struct.pack("=BBH", cmd, 1, 0) + tlv(nest_type, attrs)
    return struct.pack("=IHHII", 16 + len(body), 0x2A, 2, 1, 0) + body


def service_reply(af: int = 2, protocol: int = 6, address: str = VIP, port: int = 80, fwmark: int = 0, sched: str = "wlc", flags: int = 0x2,
                  timeout: int = 0, netmask: bytes = b"\xff\xff\xff\xff", pe: t.Optional[str] = None) -> bytes:
    attrs = tlv(1, struct.pack("=H", af))
    if fwmark:
        attrs += tlv(5, struct.pack("=I", fwmark))
    else:
        attrs += tlv(2, struct.pack("=H", protocol)) + tlv(3, socket.inet_pton(af, address).ljust(16, b"\0")) + tlv(4, struct.pack(">H", port))
    attrs += tlv(6, sched.encode() + b"\0") + tlv(7, struct.pack("=II", flags, 0xFFFFFFFF)) + tlv(8, struct.pack("=I", timeout)) + tlv(9, netmask)
    if pe:
        attrs += tlv(11, pe.encode() + b"\0")
    attrs += tlv(10, tlv(1, struct.pack("=I", 5)) + tlv(2, struct.pack("=I", 9)))  # counters, ignored
    return reply(1, 1, attrs)


def dest_reply(address: str = "192.0.2.11", port: int = 80, fwd: int = 3, weight: int = 1, upper: int = 0, lower: int = 0, af: int = 2,
               tun: tuple = (0, 0, 0), af_attribute: bool = True) -> bytes:
    attrs = tlv(1, socket.inet_pton(af, address).ljust(16, b"\0")) + tlv(2, struct.pack(">H", port)) + tlv(3, struct.pack("=I", fwd))
    attrs += tlv(4, struct.pack("=I", weight)) + tlv(5, struct.pack("=I", upper)) + tlv(6, struct.pack("=I", lower))
    attrs += tlv(7, struct.pack("=I", 3)) + tlv(8, struct.pack("=I", 4)) + tlv(9, struct.pack("=I", 1))
    if af_attribute:
        attrs += tlv(11, struct.pack("=H", af))
    attrs += tlv(13, struct.pack("=B", tun[0])) + tlv(14, struct.pack(">H", tun[1])) + tlv(15, struct.pack("=H", tun[2]))
    attrs += tlv(12, tlv(1, struct.pack("=Q", 7)))
    return reply(5, 2, attrs)


class Replies:
    """The codec's client as NetlinkKernel uses it to read: every dump answers `data` (one reply)."""

    batch_size = 64

    def __init__(self, data: bytes) -> None:
        self.data = data

    def dump_raw(self, request: t.Any) -> t.List[t.Any]:
        return _netlink_socket.split_messages(self.data)


def service_row(data: bytes) -> t.Any:
    """The row NetlinkKernel reads from a GET_SERVICE reply."""
    ((row, counters),) = NetlinkKernel(t.cast(t.Any, Replies(data)), None).service_rows()
    assert counters is None
    return row


def dest_row(data: bytes, service: Service) -> t.Any:
    """The row NetlinkKernel reads from a GET_DEST reply of `service`."""
    ((row, counters),) = NetlinkKernel(t.cast(t.Any, Replies(data)), None).dest_rows(service_to_kernel(service))
    assert counters is None
    return row


def codec_service(data: bytes) -> Service:
    (raw,) = _netlink_socket.split_messages(data)
    return service_from_kernel(_ipvs_codec.service_from_message(raw.data))


def codec_dest(data: bytes, service: Service) -> RealServer:
    (raw,) = _netlink_socket.split_messages(data)
    af = 10 if service.family == "ipv6" else 2
    return real_server_from_kernel(_ipvs_codec.dest_from_message(raw.data, af), service)


@pytest.mark.parametrize("data", [
    service_reply(),
    service_reply(sched="rr", flags=0x3, timeout=3600, netmask=b"\xff\xff\xff\x00"),
    service_reply(af=10, protocol=17, address="2001:db8::53", port=53, flags=0x6, netmask=struct.pack("=I", 128)),
    service_reply(fwmark=8, sched="sh", flags=0x2 | 0x1 | 0x8 | 0x10, timeout=600, pe="sip"),
    service_reply(af=10, fwmark=9, netmask=struct.pack("=I", 64), flags=0x3, timeout=60),
    service_reply(sched="rr", flags=0x3, timeout=60, netmask=b"\xff\x00\xff\x00"),
])
def test_service_replies_read_as_the_codec_reads_them(data):
    assert KernelObjects().service(service_row(data)) == codec_service(data)


@pytest.mark.parametrize("data, service", [
    (dest_reply(), S_TCP80),
    (dest_reply(fwd=0, port=8080, weight=0, upper=100, lower=10), S_TCP80),
    (dest_reply(fwd=2, tun=(1, 6080, 2)), S_TCP80),
    (dest_reply(fwd=2, tun=(2, 0, 1)), S_TCP80),
    (dest_reply(fwd=2), S_TCP80),
    (dest_reply(fwd=1), S_TCP80),
    (dest_reply(address="2001:db8:1::11", af=10, port=443), S_V6),
    (dest_reply(address="2001:db8:1::11", af=10, port=443, af_attribute=False), S_V6),
    (dest_reply(address="2001:db8:1::11", af=10, fwd=2, port=0), S_FWM8),
])
def test_dest_replies_read_as_the_codec_reads_them(data, service):
    assert KernelObjects().real_server(dest_row(data, service), service) == codec_dest(data, service)


def test_declared_objects_are_recognised_in_replies_and_other_values_are_not():
    (entry,) = declare([dict(TCP80, scheduler="rr", persistence_timeout=60, real_servers=[{"server": "192.0.2.11", "forwarding": "nat", "weight": 3}])])
    objects = KernelObjects()
    objects.seed([(entry.service, entry.servers)])
    assert objects.service(service_row(service_reply(sched="rr", flags=0x3, timeout=60))) is entry.service
    assert objects.real_server(dest_row(dest_reply(fwd=0, weight=3), entry.service), entry.service) is entry.servers[0]
    other = objects.real_server(dest_row(dest_reply(fwd=0, weight=4), entry.service), entry.service)
    assert other is not entry.servers[0] and other.weight == 4
    assert objects.service(service_row(service_reply(sched="wlc", flags=0x3, timeout=60))).scheduler == "wlc"


# ---------------------------------------------------------------------------------------------- results


SIP = Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=60, persistence_granularity=24, persistence_engine="sip")


@pytest.mark.parametrize("service", SERVICE_POOL + [S_FWM9_V6, SIP])
def test_service_item_is_the_service_result_with_real_servers(service):
    servers = [RS[11], RealServer("192.0.2.12", 0, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_checksum="csum")]
    item = service_item(service, servers)
    assert item == dict(service_result(service), real_servers=[real_server_result(server) for server in servers])
    assert real_server_item(servers[1]) == real_server_result(servers[1])


def test_table_items_are_sorted_as_ipvsadm_lists():
    table = {S_FWM8.key: (S_FWM8, []), S_TCP80.key: (S_TCP80, [RS[12], RS[11]]), S_UDP53.key: (S_UDP53, [])}
    items = table_items(table)
    assert [item.get("fwmark", item.get("port")) for item in items] == [80, 53, 8]
    assert [server["server"] for server in items[0]["real_servers"]] == ["192.0.2.11", "192.0.2.12"]


# ---------------------------------------------------------------------------------------------- documentation


def _documented(options: dict) -> dict:
    """Documented options as argument-spec dicts (what validate-modules compares), for options with suboptions too."""
    spec = {}
    for name, doc in options.items():
        entry = {"type": doc.get("type", "str")}
        for key in ("choices", "default", "elements", "required"):
            if key in doc and not (key == "required" and doc[key] is False):
                entry[key] = doc[key]
        if "suboptions" in doc:
            entry["options"] = _documented(doc["suboptions"])
        spec[name] = entry
    return spec


def _normalised(spec: dict) -> dict:
    result = {}
    for name, entry in spec.items():
        item = {key: value for key, value in entry.items() if key != "options"}
        item.setdefault("type", "str")
        if "options" in entry:
            item["options"] = _normalised(entry["options"])
        result[name] = item
    return result


def test_documented_config_suboptions_are_the_spec_the_entries_are_checked_against():
    # validate-modules cannot see them: `config` is a plain list of dicts in the argument spec (see _table_task).
    # They come from the doc fragment _service.TABLE_CONFIG, merged as ansible-core's merge_fragment merges an option that
    # the module documents too: the fragment's keys, then the module's over them (one level deep). Importing
    # ansible.utils.plugin_docs here would set up the controller's Display and change how later tests see module warnings.
    doc = yaml.safe_load(ipvs_table.DOCUMENTATION)
    assert "lvs.ipvs._service.TABLE_CONFIG" in doc["extends_documentation_fragment"]
    assert "suboptions" not in doc["options"]["config"]  # the module's own would replace the fragment's
    config = dict(yaml.safe_load(ModuleDocFragment.TABLE_CONFIG)["options"]["config"], **doc["options"]["config"])
    assert config["type"] == "list" and config["description"]
    assert _documented(config["suboptions"]) == _normalised(table_service_spec())


def _rendered_result(services: int) -> t.Dict[str, t.Any]:
    """ipvs_table's main() with state=rendered (no kernel needed), and the JSON it printed."""
    import contextlib
    import io
    import json

    from ansible.module_utils.testing import patch_module_args

    config = [{"protocol": "tcp", "address": "198.51.100.1", "port": 1000 + index, "real_servers": [{"server": "192.0.2.11"}]}
              for index in range(services)]
    out = io.StringIO()
    with patch_module_args({"config": config, "state": "rendered"}), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        ipvs_table.main()
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_a_small_config_is_echoed_whole_and_a_big_one_summarised():
    small = _rendered_result(ECHO_LIMIT)
    assert len(small["invocation"]["module_args"]["config"]) == ECHO_LIMIT
    big = _rendered_result(ECHO_LIMIT + 1)
    assert big["invocation"]["module_args"]["config"] == f"{ECHO_LIMIT + 1} services with {ECHO_LIMIT + 1} real servers (not echoed: over {ECHO_LIMIT})"
    assert big["invocation"]["module_args"]["state"] == "rendered"
    assert len(big["rendered"]) == 2 * (ECHO_LIMIT + 1)


def test_an_entry_ansible_converted_keeps_its_real_servers_valid():
    # port "80" sends the entry through Ansible's validator, which fills the real servers' unset options with None;
    # their own check must still see them as unset (a gathered table fed back to the module took this path).
    declared = declare([dict(TCP80, port="80", real_servers=[{"server": "192.0.2.11", "forwarding": "nat"}])])
    assert [server.address for server in declared[0].servers] == ["192.0.2.11"]
