# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The model: kernel dicts and module parameters <-> normalised Service / RealServer."""

from __future__ import annotations

import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    OptionError,
    RealServer,
    Service,
    real_server_from_kernel,
    real_server_from_params,
    real_server_to_kernel,
    real_servers_from_params,
    service_from_kernel,
    service_from_params,
    service_to_kernel,
)

VIP = "198.51.100.1"
VIP6 = "2001:db8::1"
SERVICE_OPTIONS = ("protocol", "address", "port", "fwmark", "family", "scheduler", "scheduler_flags", "persistence_timeout",
                   "persistence_granularity", "persistence_engine", "one_packet", "state")
SERVER_OPTIONS = ("server", "server_port", "forwarding", "weight", "upper_threshold", "lower_threshold", "tunnel_type", "tunnel_port",
                  "tunnel_checksum", "state")


def service_params(**options: t.Any) -> dict[str, t.Any]:
    """Parameters as the module hands them over: every option present, unset ones None, module defaults applied."""
    params: dict[str, t.Any] = dict.fromkeys(SERVICE_OPTIONS)
    params.update(scheduler="wlc", scheduler_flags=[], one_packet=False, state="present")
    params.update(options)
    return params


def tcp80(**options: t.Any) -> dict[str, t.Any]:
    return service_params(**{"protocol": "tcp", "address": VIP, "port": 80, **options})


def server_params(**options: t.Any) -> dict[str, t.Any]:
    params: dict[str, t.Any] = dict.fromkeys(SERVER_OPTIONS)
    params.update(forwarding="dr", weight=1, upper_threshold=0, lower_threshold=0, state="present")
    params.update(options)
    return params


def kernel_service(**fields: t.Any) -> dict[str, t.Any]:
    """A GET_SERVICE reply as the codec decodes it: HASHED set, a netmask even when not persistent, stats."""
    entry = {"af": 2, "protocol": 6, "addr": VIP, "port": 80, "fwmark": 0, "sched_name": "wlc", "flags": 0x2, "timeout": 0,
             "netmask": 0xFFFFFFFF, "pe_name": None, "stats": {"conns": 5, "inpkts": 10}}
    entry.update(fields)
    return entry


def kernel_dest(**fields: t.Any) -> dict[str, t.Any]:
    entry = {"addr": "192.0.2.11", "port": 80, "af": 2, "fwd_method": 3, "weight": 1, "u_thresh": 0, "l_thresh": 0, "tun_type": 0,
             "tun_port": 0, "tun_flags": 0, "active_conns": 3, "inact_conns": 1, "persist_conns": 2, "stats": {}}
    entry.update(fields)
    return entry


PPC = Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="rr", persistence_timeout=3600, persistence_granularity=32)
FWM8 = Service(family="ipv4", fwmark=8, scheduler="rr", persistence_timeout=600, persistence_granularity=32)


# Kernel -> model

@pytest.mark.parametrize("entry, expected", [
    pytest.param(kernel_service(), Service(family="ipv4", protocol="tcp", address=VIP, port=80), id="plain-hashed"),
    pytest.param(kernel_service(sched_name="rr", flags=0x3, timeout=3600), PPC, id="ppc"),
    pytest.param(kernel_service(port=0, sched_name="rr", flags=0x3, timeout=3600, netmask=0xFFFFFF00),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=0, scheduler="rr", persistence_timeout=3600, persistence_granularity=24),
                 id="pcc-slash24"),
    pytest.param(kernel_service(protocol=0, addr=None, port=0, fwmark=8, sched_name="rr", flags=0x3, timeout=600), FWM8, id="fwmark"),
    pytest.param(kernel_service(af=10, protocol=0, addr=None, port=0, fwmark=8, flags=0x3, timeout=600, netmask=64),
                 Service(family="ipv6", fwmark=8, persistence_timeout=600, persistence_granularity=64), id="fwmark-ipv6"),
    pytest.param(kernel_service(af=10, protocol=17, addr="2001:DB8:0:0::1", port=53, netmask=128),
                 Service(family="ipv6", protocol="udp", address=VIP6, port=53), id="ipv6-canonical-address"),
    pytest.param(kernel_service(protocol=132, sched_name="sh", flags=0x2 | 0x8 | 0x10),
                 Service(family="ipv4", protocol="sctp", address=VIP, port=80, scheduler="sh", scheduler_flags=("sh-fallback", "sh-port")),
                 id="sh-flags"),
    pytest.param(kernel_service(sched_name="mh", flags=0x2 | 0x10 | 0x20),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="mh", scheduler_flags=("mh-port", "flag-3")), id="mh-flags"),
    pytest.param(kernel_service(sched_name="rr", flags=0x8 | 0x20),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="rr", scheduler_flags=("flag-1", "flag-3")), id="raw-flags"),
    pytest.param(kernel_service(protocol=17, flags=0x2 | 0x4), Service(family="ipv4", protocol="udp", address=VIP, port=80, one_packet=True),
                 id="one-packet"),
    pytest.param(kernel_service(protocol=17, flags=0x3, timeout=300, pe_name="sip"),
                 Service(family="ipv4", protocol="udp", address=VIP, port=80, persistence_timeout=300, persistence_granularity=32,
                         persistence_engine="sip"), id="sip"),
    pytest.param(kernel_service(flags=0x2, timeout=300, netmask=0xFFFF0000), Service(family="ipv4", protocol="tcp", address=VIP, port=80),
                 id="not-persistent-ignores-timeout-and-netmask"),
    pytest.param(kernel_service(flags=0x3, timeout=300, netmask=0xFF00FF00),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=300, persistence_granularity="255.0.255.0"),
                 id="non-contiguous-mask-kept"),
])
def test_service_from_kernel(entry: dict[str, t.Any], expected: Service) -> None:
    assert service_from_kernel(entry) == expected


def test_hashed_flag_is_stripped() -> None:
    assert service_from_kernel(kernel_service(flags=0x3, timeout=60)) == service_from_kernel(kernel_service(flags=0x1, timeout=60))


def test_non_persistent_netmask_does_not_matter() -> None:
    """The kernel keeps whatever netmask a non-persistent service was created with."""
    read = {service_from_kernel(kernel_service(netmask=mask)) for mask in (0xFFFFFFFF, 0xFFFFFF00, 0, 0xFF00FF00)}
    assert read == {service_from_params(tcp80())}


@pytest.mark.parametrize("entry", [
    pytest.param(kernel_service(flags=0x1, timeout=3600, netmask=0xFFFFFF00, sched_name="rr"), id="ppc-slash24"),
    pytest.param(kernel_service(flags=0x0), id="plain"),
    pytest.param(kernel_service(flags=0x1 | 0x8 | 0x10 | 0x20, timeout=30, sched_name="sh"), id="sh-all-flags"),
    pytest.param(kernel_service(protocol=17, flags=0x1 | 0x4, timeout=10, pe_name="sip"), id="udp-ops-sip"),
    pytest.param(kernel_service(af=10, protocol=0, addr=None, port=0, fwmark=4294967295, flags=0x1, timeout=2678400, netmask=48), id="fwmark6"),
    pytest.param(kernel_service(af=10, addr=VIP6, netmask=128), id="ipv6-plain"),
    pytest.param(kernel_service(flags=0x1, timeout=300, netmask=0xFF00FF00), id="non-contiguous"),
])
def test_service_round_trip(entry: dict[str, t.Any]) -> None:
    """kernel dict -> model -> kernel dict gives the entry back, minus HASHED and stats."""
    expected = {key: value for key, value in entry.items() if key != "stats"}
    expected["flags"] &= ~0x2
    assert service_to_kernel(service_from_kernel(entry)) == expected


@pytest.mark.parametrize("service, netmask", [
    pytest.param(Service(family="ipv4", protocol="tcp", address=VIP, port=80), 0xFFFFFFFF, id="ipv4-not-persistent"),
    pytest.param(Service(family="ipv6", protocol="tcp", address=VIP6, port=80), 128, id="ipv6-not-persistent"),
    pytest.param(Service(family="ipv6", fwmark=1, persistence_timeout=9, persistence_granularity=56), 56, id="ipv6-prefix"),
    pytest.param(Service(family="ipv4", fwmark=1, persistence_timeout=9, persistence_granularity=20), 0xFFFFF000, id="ipv4-slash20"),
])
def test_netmask_to_kernel(service: Service, netmask: int) -> None:
    assert service_to_kernel(service)["netmask"] == netmask


def test_service_to_kernel_full_entry() -> None:
    service = Service(family="ipv4", protocol="udp", address=VIP, port=53, scheduler="sh", scheduler_flags=("sh-port",),
                      persistence_timeout=60, persistence_granularity=24, persistence_engine="sip", one_packet=True)
    assert service_to_kernel(service) == {"af": 2, "protocol": 17, "addr": VIP, "port": 53, "fwmark": 0, "sched_name": "sh",
                                          "flags": 0x1 | 0x4 | 0x10, "timeout": 60, "netmask": 0xFFFFFF00, "pe_name": "sip"}


def test_fwmark_service_to_kernel() -> None:
    assert service_to_kernel(FWM8) == {"af": 2, "protocol": 0, "addr": None, "port": 0, "fwmark": 8, "sched_name": "rr", "flags": 0x1,
                                       "timeout": 600, "netmask": 0xFFFFFFFF, "pe_name": None}


@pytest.mark.parametrize("entry, expected", [
    pytest.param(kernel_dest(), RealServer("192.0.2.11", 80), id="dr"),
    pytest.param(kernel_dest(fwd_method=0, port=8080, weight=5, u_thresh=100, l_thresh=10),
                 RealServer("192.0.2.11", 8080, forwarding="nat", weight=5, upper_threshold=100, lower_threshold=10), id="nat-thresholds"),
    pytest.param(kernel_dest(fwd_method=1), RealServer("192.0.2.11", 80, forwarding="local"), id="local"),
    pytest.param(kernel_dest(fwd_method=3, tun_type=1, tun_port=6080, tun_flags=1), RealServer("192.0.2.11", 80), id="dr-ignores-stale-tunnel"),
    pytest.param(kernel_dest(fwd_method=2, tun_port=6080, tun_flags=1), RealServer("192.0.2.11", 80, forwarding="tunnel", tunnel_type="ipip"),
                 id="ipip"),
    pytest.param(kernel_dest(fwd_method=2, tun_type=1, tun_port=6080, tun_flags=2),
                 RealServer("192.0.2.11", 80, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_checksum="remcsum"), id="gue"),
    pytest.param(kernel_dest(fwd_method=2, tun_type=2, tun_port=6080, tun_flags=1),
                 RealServer("192.0.2.11", 80, forwarding="tunnel", tunnel_type="gre", tunnel_checksum="csum"), id="gre"),
    pytest.param(kernel_dest(fwd_method=2, tun_type=2, tun_flags=3),
                 RealServer("192.0.2.11", 80, forwarding="tunnel", tunnel_type="gre", tunnel_checksum="3"), id="unknown-tunnel-flags-visible"),
    pytest.param(kernel_dest(af=10, addr="2001:DB8::11", weight=0), RealServer("2001:db8::11", 80, weight=0), id="ipv6-weight0"),
])
def test_real_server_from_kernel(entry: dict[str, t.Any], expected: RealServer) -> None:
    assert real_server_from_kernel(entry, PPC) == expected


@pytest.mark.parametrize("entry", [
    pytest.param(kernel_dest(), id="dr"),
    pytest.param(kernel_dest(fwd_method=0, port=8080, weight=65535, u_thresh=2147483647, l_thresh=1), id="nat"),
    pytest.param(kernel_dest(fwd_method=2, tun_type=1, tun_port=6080, tun_flags=2), id="gue"),
    pytest.param(kernel_dest(fwd_method=2, tun_type=2, tun_flags=3), id="gre-odd-flags"),
    pytest.param(kernel_dest(fwd_method=1, af=10, addr="2001:db8::11"), id="local6"),
])
def test_real_server_round_trip(entry: dict[str, t.Any]) -> None:
    expected = {key: value for key, value in entry.items() if key not in ("active_conns", "inact_conns", "persist_conns", "stats")}
    assert real_server_to_kernel(real_server_from_kernel(entry, PPC), PPC) == expected


# Parameters -> model

@pytest.mark.parametrize("params, expected", [
    pytest.param(tcp80(), Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="wlc"), id="defaults"),
    pytest.param(tcp80(scheduler=None, scheduler_flags=None, one_packet=None), Service(family="ipv4", protocol="tcp", address=VIP, port=80),
                 id="unset-means-default"),
    pytest.param(tcp80(scheduler="rr", persistence_timeout=3600), PPC, id="ppc-granularity-defaults-to-host"),
    pytest.param(tcp80(scheduler="rr", persistence_timeout="3600"), PPC, id="numeric-string"),
    pytest.param(service_params(protocol="tcp", address=VIP, port=0, persistence_timeout=3600, persistence_granularity="255.255.255.0"),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=0, persistence_timeout=3600, persistence_granularity=24), id="pcc-dotted"),
    pytest.param(tcp80(persistence_timeout=1, persistence_granularity="24"),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=1, persistence_granularity=24), id="prefix-string"),
    pytest.param(tcp80(persistence_timeout=1, persistence_granularity="/24"),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=1, persistence_granularity=24), id="slash-prefix"),
    pytest.param(tcp80(persistence_timeout=2678400, persistence_granularity=32),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=2678400, persistence_granularity=32),
                 id="max-timeout"),
    pytest.param(service_params(fwmark=8, scheduler="rr", persistence_timeout=600), FWM8, id="fwmark-defaults-ipv4"),
    pytest.param(service_params(fwmark=8, family="ipv6", persistence_timeout=600, persistence_granularity="64"),
                 Service(family="ipv6", fwmark=8, persistence_timeout=600, persistence_granularity=64), id="fwmark-ipv6-prefix"),
    pytest.param(service_params(protocol="udp", address="2001:DB8:0::1", port=53, family="ipv6", one_packet=True),
                 Service(family="ipv6", protocol="udp", address=VIP6, port=53, one_packet=True), id="ipv6-udp-ops"),
    pytest.param(service_params(fwmark=1, one_packet=True), Service(family="ipv4", fwmark=1, one_packet=True), id="fwmark-ops"),
    pytest.param(tcp80(scheduler="sh", scheduler_flags=["sh-port", "sh-fallback"]),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="sh", scheduler_flags=("sh-fallback", "sh-port")),
                 id="sh-flags-sorted"),
    pytest.param(tcp80(scheduler="sh", scheduler_flags=["flag-1", "flag-3"]),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="sh", scheduler_flags=("sh-fallback", "flag-3")),
                 id="raw-flag-takes-sh-name"),
    pytest.param(tcp80(scheduler="mh", scheduler_flags="mh-port,mh-fallback"),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="mh", scheduler_flags=("mh-fallback", "mh-port")),
                 id="comma-string"),
    pytest.param(service_params(protocol="udp", address=VIP, port=5060, persistence_timeout=60, persistence_engine="sip"),
                 Service(family="ipv4", protocol="udp", address=VIP, port=5060, persistence_timeout=60, persistence_granularity=32,
                         persistence_engine="sip"), id="sip"),
    pytest.param(service_params(protocol="tcp", address=VIP, port=0, state="absent"),
                 Service(family="ipv4", protocol="tcp", address=VIP, port=0), id="absent-pcc-needs-only-identity"),
    pytest.param(service_params(protocol="sctp", address=VIP, port=80, family="ipv4"),
                 Service(family="ipv4", protocol="sctp", address=VIP, port=80), id="matching-family"),
])
def test_service_from_params(params: dict[str, t.Any], expected: Service) -> None:
    assert service_from_params(params) == expected


@pytest.mark.parametrize("params, option, accepted", [
    pytest.param(tcp80(address="not-an-ip"), "address", "IPv4 or IPv6 address", id="address-garbage"),
    pytest.param(tcp80(address="www.example.com"), "address", "IPv4 or IPv6 address", id="address-hostname"),
    pytest.param(tcp80(address="fe80::1%eth0"), "address", "IPv4 or IPv6 address", id="address-scope"),
    pytest.param(tcp80(address="198.51.100.256"), "address", "IPv4 or IPv6 address", id="address-octet"),
    pytest.param(tcp80(port=65536), "port", "0 to 65535", id="port-high"),
    pytest.param(tcp80(port=-1), "port", "0 to 65535", id="port-negative"),
    pytest.param(tcp80(port="http"), "port", "0 to 65535", id="port-name"),
    pytest.param(tcp80(port=0), "port", "0 with persistence_timeout", id="port0-needs-persistence"),
    pytest.param(tcp80(protocol="icmp"), "protocol", "tcp, udp, sctp", id="protocol"),
    pytest.param(service_params(address=VIP, port=80), "protocol", "tcp, udp, sctp", id="protocol-missing"),
    pytest.param(service_params(protocol="tcp", port=80), "address", "IPv4 or IPv6 address", id="address-missing"),
    pytest.param(service_params(protocol="tcp", address=VIP), "port", "0 to 65535", id="port-missing"),
    pytest.param(service_params(), "protocol", "tcp, udp, sctp", id="nothing-names-the-service"),
    pytest.param(service_params(fwmark=8, address=VIP), "address", "either fwmark", id="fwmark-with-address"),
    pytest.param(service_params(fwmark=8, protocol="tcp"), "protocol", "either fwmark", id="fwmark-with-protocol"),
    pytest.param(service_params(fwmark=8, port=80), "port", "either fwmark", id="fwmark-with-port"),
    pytest.param(service_params(fwmark=0), "fwmark", "1 to 4294967295", id="fwmark-zero"),
    pytest.param(service_params(fwmark=4294967296), "fwmark", "1 to 4294967295", id="fwmark-high"),
    pytest.param(tcp80(family="ipv6"), "family", "accepted: ipv4", id="family-mismatch"),
    pytest.param(service_params(fwmark=8, family="inet"), "family", "ipv4, ipv6", id="family-unknown"),
    pytest.param(tcp80(scheduler="foo"), "scheduler", "rr, wrr, lc, wlc", id="scheduler-unknown"),
    pytest.param(tcp80(scheduler="rr", scheduler_flags=["sh-port"]), "scheduler_flags", "flag-1, flag-2, flag-3", id="sh-flag-on-rr"),
    pytest.param(tcp80(scheduler="sh", scheduler_flags=["mh-port"]), "scheduler_flags", "sh-fallback, sh-port", id="mh-flag-on-sh"),
    pytest.param(tcp80(scheduler="sh", scheduler_flags=["sh-sticky"]), "scheduler_flags", "sh-fallback, sh-port", id="flag-unknown"),
    pytest.param(tcp80(persistence_timeout=0), "persistence_timeout", "1 to 2678400 seconds", id="timeout-zero"),
    pytest.param(tcp80(persistence_timeout=2678401), "persistence_timeout", "1 to 2678400 seconds", id="timeout-31-days-and-1s"),
    pytest.param(tcp80(persistence_timeout=4294967295), "persistence_timeout", "1 to 2678400 seconds", id="timeout-u32-max"),
    pytest.param(tcp80(persistence_timeout="1h"), "persistence_timeout", "1 to 2678400 seconds", id="timeout-text"),
    pytest.param(tcp80(persistence_timeout=True), "persistence_timeout", "1 to 2678400 seconds", id="timeout-bool"),
    pytest.param(tcp80(persistence_granularity="255.255.255.0"), "persistence_granularity", "together with persistence_timeout",
                 id="granularity-without-persistence"),
    pytest.param(tcp80(persistence_timeout=60, persistence_granularity="255.0.255.0"), "persistence_granularity", "netmask such as 255.255.255.0",
                 id="granularity-non-contiguous"),
    pytest.param(tcp80(persistence_timeout=60, persistence_granularity="255.255.255.300"), "persistence_granularity", "prefix length from 1 to 32",
                 id="granularity-bad-quad"),
    pytest.param(tcp80(persistence_timeout=60, persistence_granularity=33), "persistence_granularity", "prefix length from 1 to 32",
                 id="granularity-33"),
    pytest.param(tcp80(persistence_timeout=60, persistence_granularity=0), "persistence_granularity", "prefix length from 1 to 32",
                 id="granularity-0"),
    pytest.param(tcp80(persistence_timeout=60, persistence_granularity="0.0.0.0"), "persistence_granularity", "prefix length from 1 to 32",
                 id="granularity-0.0.0.0"),
    pytest.param(service_params(protocol="tcp", address=VIP6, port=80, persistence_timeout=60, persistence_granularity="255.255.255.0"),
                 "persistence_granularity", "prefix length from 1 to 128", id="granularity-dotted-on-ipv6"),
    pytest.param(service_params(fwmark=3, family="ipv6", persistence_timeout=60, persistence_granularity=129),
                 "persistence_granularity", "prefix length from 1 to 128", id="granularity-129-on-ipv6"),
    pytest.param(tcp80(persistence_timeout=60, persistence_engine="http"), "persistence_engine", "accepted: sip", id="engine-unknown"),
    pytest.param(tcp80(persistence_engine="sip"), "persistence_engine", "together with persistence_timeout", id="engine-without-persistence"),
    pytest.param(tcp80(one_packet=True), "one_packet", "udp and fwmark", id="one-packet-tcp"),
    pytest.param(service_params(protocol="sctp", address=VIP, port=80, one_packet=True), "one_packet", "udp and fwmark", id="one-packet-sctp"),
])
def test_service_from_params_rejects(params: dict[str, t.Any], option: str, accepted: str) -> None:
    with pytest.raises(OptionError) as caught:
        service_from_params(params)
    assert caught.value.option == option
    assert str(caught.value).startswith(f"{option}: ")
    assert "; accepted: " in str(caught.value)
    assert accepted in str(caught.value)


def test_option_error_message_example() -> None:
    with pytest.raises(OptionError, match=r"^persistence_timeout: 0 is out of range; accepted: 1 to 2678400 seconds"):
        service_from_params(tcp80(persistence_timeout=0))


@pytest.mark.parametrize("service, params, expected", [
    pytest.param(PPC, server_params(server="192.0.2.11"), RealServer("192.0.2.11", 80), id="defaults-take-service-port"),
    pytest.param(PPC, server_params(server="192.0.2.11", server_port=80, forwarding="route", weight=2), RealServer("192.0.2.11", 80, weight=2),
                 id="route-alias-same-port"),
    pytest.param(PPC, server_params(server="192.0.2.11", forwarding="gate", weight=None), RealServer("192.0.2.11", 80), id="gate-weight-unset"),
    pytest.param(PPC, server_params(server="192.0.2.11", server_port=8080, forwarding="masq"), RealServer("192.0.2.11", 8080, forwarding="nat"),
                 id="masq-own-port"),
    pytest.param(PPC, server_params(server="192.0.2.11", forwarding="nat"), RealServer("192.0.2.11", 80, forwarding="nat"), id="nat-default-port"),
    pytest.param(PPC, server_params(server="192.0.2.11", forwarding="ipip"), RealServer("192.0.2.11", 80, forwarding="tunnel", tunnel_type="ipip"),
                 id="ipip-alias"),
    pytest.param(PPC, server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gue", tunnel_port="6080"),
                 RealServer("192.0.2.11", 80, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_checksum="nocsum"), id="gue"),
    pytest.param(PPC, server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gre", tunnel_checksum="csum"),
                 RealServer("192.0.2.11", 80, forwarding="tunnel", tunnel_type="gre", tunnel_checksum="csum"), id="gre-csum"),
    pytest.param(PPC, server_params(server="2001:DB8::11", forwarding="tunnel"),
                 RealServer("2001:db8::11", 80, forwarding="tunnel", tunnel_type="ipip"), id="ipv6-server-through-tunnel"),
    pytest.param(PPC, server_params(server="192.0.2.11", weight=5, state="drained"), RealServer("192.0.2.11", 80, weight=0), id="drained"),
    pytest.param(PPC, server_params(server="192.0.2.11", upper_threshold=100, lower_threshold=100),
                 RealServer("192.0.2.11", 80, upper_threshold=100, lower_threshold=100), id="thresholds-equal"),
    pytest.param(PPC, server_params(server="192.0.2.11", weight=65535, upper_threshold=2147483647),
                 RealServer("192.0.2.11", 80, weight=65535, upper_threshold=2147483647), id="maxima"),
    pytest.param(FWM8, server_params(server="192.0.2.11"), RealServer("192.0.2.11", 0), id="fwmark-port-0"),
    pytest.param(FWM8, server_params(server="192.0.2.11", server_port=443), RealServer("192.0.2.11", 443), id="fwmark-explicit-port"),
])
def test_real_server_from_params(service: Service, params: dict[str, t.Any], expected: RealServer) -> None:
    assert real_server_from_params(params, service) == expected


@pytest.mark.parametrize("params, option, accepted", [
    pytest.param(server_params(), "server", "IPv4 or IPv6 address", id="server-missing"),
    pytest.param(server_params(server="rs1.example.com"), "server", "IPv4 or IPv6 address", id="server-hostname"),
    pytest.param(server_params(server="2001:db8::11"), "server", "or forwarding tunnel", id="family-mismatch-dr"),
    pytest.param(server_params(server="2001:db8::11", forwarding="nat"), "server", "an ipv4 address", id="family-mismatch-nat"),
    pytest.param(server_params(server="192.0.2.11", forwarding="fullnat"), "forwarding", "dr (route, gate), nat (masq), tunnel (ipip)",
                 id="forwarding-unknown"),
    pytest.param(server_params(server="192.0.2.11", weight=65536), "weight", "0 to 65535", id="weight-high"),
    pytest.param(server_params(server="192.0.2.11", weight=-1), "weight", "0 to 65535", id="weight-negative"),
    pytest.param(server_params(server="192.0.2.11", upper_threshold=-1), "upper_threshold", "0 to 2147483647", id="upper-negative"),
    pytest.param(server_params(server="192.0.2.11", upper_threshold=2147483648), "upper_threshold", "0 to 2147483647", id="upper-high"),
    pytest.param(server_params(server="192.0.2.11", upper_threshold=50, lower_threshold=100), "lower_threshold", "at most upper_threshold",
                 id="lower-above-upper"),
    pytest.param(server_params(server="192.0.2.11", lower_threshold=10), "lower_threshold", "at most upper_threshold", id="lower-without-upper"),
    pytest.param(server_params(server="192.0.2.11", server_port=8080), "server_port", "accepted: 80", id="dr-other-port"),
    pytest.param(server_params(server="192.0.2.11", server_port=8080, forwarding="tunnel"), "server_port", "accepted: 80", id="tunnel-other-port"),
    pytest.param(server_params(server="192.0.2.11", server_port=70000, forwarding="nat"), "server_port", "0 to 65535", id="server-port-range"),
    pytest.param(server_params(server="192.0.2.11", tunnel_type="gue"), "tunnel_type", "only with forwarding tunnel", id="tunnel-type-on-dr"),
    pytest.param(server_params(server="192.0.2.11", forwarding="nat", tunnel_port=6080), "tunnel_port", "only with forwarding tunnel",
                 id="tunnel-port-on-nat"),
    pytest.param(server_params(server="192.0.2.11", tunnel_checksum="csum"), "tunnel_checksum", "only with forwarding tunnel",
                 id="checksum-on-dr"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="vxlan"), "tunnel_type", "ipip, gue, gre",
                 id="tunnel-type-unknown"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gue"), "tunnel_port", "1 to 65535", id="gue-needs-port"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gue", tunnel_port=0), "tunnel_port", "1 to 65535",
                 id="gue-port-0"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_port=6080), "tunnel_port", "only with tunnel_type gue",
                 id="port-on-ipip"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gre", tunnel_port=6080), "tunnel_port",
                 "only with tunnel_type gue", id="port-on-gre"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_checksum="csum"), "tunnel_checksum", "with gue", id="csum-on-ipip"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gre", tunnel_checksum="remcsum"), "tunnel_checksum",
                 "remcsum only with gue", id="remcsum-on-gre"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gue", tunnel_port=1, tunnel_checksum="crc"),
                 "tunnel_checksum", "nocsum, csum, remcsum", id="checksum-unknown"),
    pytest.param(server_params(server="192.0.2.11", state="gone"), "state", "present, absent, drained", id="state-unknown"),
])
def test_real_server_from_params_rejects(params: dict[str, t.Any], option: str, accepted: str) -> None:
    with pytest.raises(OptionError) as caught:
        real_server_from_params(params, PPC)
    assert caught.value.option == option
    assert str(caught.value).startswith(f"{option}: ")
    assert "; accepted: " in str(caught.value)
    assert accepted in str(caught.value)


def test_real_servers_from_params_splits_and_names_the_entry() -> None:
    present, absent = real_servers_from_params(
        [server_params(server="192.0.2.11"), server_params(server="192.0.2.12", state="absent"), server_params(server="192.0.2.13", state="drained")],
        PPC)
    assert present == [RealServer("192.0.2.11", 80), RealServer("192.0.2.13", 80, weight=0)]
    assert absent == [RealServer("192.0.2.12", 80)]
    with pytest.raises(OptionError, match=r"^real_servers\[1\]\.weight: .*accepted: 0 to 65535") as caught:
        real_servers_from_params([server_params(server="192.0.2.11"), server_params(server="192.0.2.12", weight=70000)], PPC)
    assert caught.value.option == "real_servers[1].weight"


def test_real_servers_from_params_rejects_duplicates() -> None:
    entries = [server_params(server="192.0.2.11"), server_params(server="192.0.2.12"), server_params(server="192.0.2.11", state="absent")]
    with pytest.raises(OptionError, match=r"^real_servers: 192\.0\.2\.11:80 is listed twice \(entries 0 and 2\); accepted: "):
        real_servers_from_params(entries, PPC)


# What makes runs idempotent: a request and the kernel's answer to it compare equal.

@pytest.mark.parametrize("params, entry", [
    pytest.param(tcp80(), kernel_service(flags=0x2), id="plain"),
    pytest.param(tcp80(scheduler="rr", persistence_timeout=3600), kernel_service(sched_name="rr", flags=0x3, timeout=3600), id="ppc"),
    pytest.param(tcp80(persistence_timeout=60, persistence_granularity="255.255.255.0"), kernel_service(flags=0x3, timeout=60, netmask=0xFFFFFF00),
                 id="granularity-dotted"),
    pytest.param(tcp80(persistence_timeout=60, persistence_granularity=24), kernel_service(flags=0x3, timeout=60, netmask=0xFFFFFF00),
                 id="granularity-prefix"),
    pytest.param(service_params(fwmark=8, family="ipv6", persistence_timeout=600),
                 kernel_service(af=10, protocol=0, addr=None, port=0, fwmark=8, flags=0x3, timeout=600, netmask=128), id="fwmark6"),
    pytest.param(tcp80(scheduler="sh", scheduler_flags=["flag-2"]), kernel_service(sched_name="sh", flags=0x2 | 0x10), id="raw-flag-vs-sh-name"),
    pytest.param(service_params(protocol="udp", address=VIP, port=80, one_packet=True), kernel_service(protocol=17, flags=0x6), id="ops"),
])
def test_params_and_kernel_agree(params: dict[str, t.Any], entry: dict[str, t.Any]) -> None:
    assert service_from_params(params) == service_from_kernel(entry)


@pytest.mark.parametrize("params, entry", [
    pytest.param(server_params(server="192.0.2.11"), kernel_dest(), id="dr"),
    pytest.param(server_params(server="192.0.2.11", forwarding="masq", server_port=8080, upper_threshold=9),
                 kernel_dest(fwd_method=0, port=8080, u_thresh=9), id="nat"),
    pytest.param(server_params(server="192.0.2.11", forwarding="tunnel", tunnel_type="gue", tunnel_port=6080),
                 kernel_dest(fwd_method=2, tun_type=1, tun_port=6080, tun_flags=0), id="gue-default-nocsum"),
    pytest.param(server_params(server="192.0.2.11", forwarding="ipip"), kernel_dest(fwd_method=2, tun_type=0, tun_port=6080), id="ipip"),
])
def test_real_server_params_and_kernel_agree(params: dict[str, t.Any], entry: dict[str, t.Any]) -> None:
    assert real_server_from_params(params, PPC) == real_server_from_kernel(entry, PPC)


def test_local_forwarding_differs_from_dr() -> None:
    """A dest the kernel reports as local is not what a dr request asks for: the planner will edit it."""
    assert real_server_from_kernel(kernel_dest(fwd_method=1), PPC) != real_server_from_params(server_params(server="192.0.2.11"), PPC)


def test_non_contiguous_kernel_mask_differs_from_every_request() -> None:
    have = service_from_kernel(kernel_service(flags=0x3, timeout=60, netmask=0xFF00FF00))
    wants = {service_from_params(tcp80(persistence_timeout=60, persistence_granularity=prefix)) for prefix in range(1, 33)}
    assert have not in wants


def test_objects_are_hashable_and_keyed() -> None:
    assert len({PPC, service_from_kernel(kernel_service(sched_name="rr", flags=0x3, timeout=3600))}) == 1
    assert PPC.key == ("ipv4", "tcp", VIP, 80)
    assert FWM8.key == ("ipv4", 8)
    assert RealServer("2001:DB8::0011", 80).key == ("2001:db8::11", 80)


@st.composite
def services(draw: t.Callable[..., t.Any]) -> Service:
    family = draw(st.sampled_from(["ipv4", "ipv6"]))
    if draw(st.booleans()):
        identity: dict[str, t.Any] = {"fwmark": draw(st.integers(1, 4294967295))}
    else:
        address = draw(st.ip_addresses(v=4 if family == "ipv4" else 6))
        identity = {"protocol": draw(st.sampled_from(["tcp", "udp", "sctp"])), "address": str(address), "port": draw(st.integers(0, 65535))}
    scheduler = draw(st.sampled_from(["rr", "wlc", "sh", "mh", "twos"]))
    timeout = draw(st.none() | st.integers(1, 2678400))
    granularity = None if timeout is None else draw(st.integers(1, 32 if family == "ipv4" else 128))
    return Service(family=family, scheduler=scheduler, scheduler_flags=draw(st.sets(st.sampled_from(["flag-1", "flag-2", "flag-3"]))),
                   persistence_timeout=timeout, persistence_granularity=granularity,
                   persistence_engine=None if timeout is None else draw(st.sampled_from([None, "sip"])),
                   one_packet=draw(st.booleans()), **identity)


@given(services(), st.booleans())
def test_any_service_survives_the_kernel(service: Service, hashed: bool) -> None:
    entry = service_to_kernel(service)
    entry["flags"] |= 0x2 if hashed else 0
    assert service_from_kernel(entry) == service
