# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The health check of a keepalived-owned service: validation of every option, the pool keepalived accepts, and what the
kernel holds read back (runtime_state: up, quiesced, removed, sorry server, each kind of drift, the service missing)."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import health_check_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._health import (
    DEFAULTS,
    OPTIONS,
    HealthCheck,
    check_pool,
    health_check_from_params,
    runtime_state,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service

VIP = "198.51.100.1"
WEB = Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=600, persistence_granularity=32)
WEB6 = Service(family="ipv6", protocol="tcp", address="2001:db8::1", port=443)
FWM8 = Service(family="ipv4", fwmark=8, persistence_timeout=60, persistence_granularity=32)
PCC = Service(family="ipv4", protocol="tcp", address=VIP, port=0, persistence_timeout=60, persistence_granularity=32)
RS = {number: RealServer(f"192.0.2.{number}", 80) for number in (11, 12, 13)}


# ---------------------------------------------------------------------------------------------- options -> HealthCheck


def test_the_argument_spec_has_the_options_and_defaults_of_the_model():
    spec = health_check_spec()
    assert tuple(sorted(spec)) == tuple(sorted(OPTIONS))
    assert {name: option["default"] for name, option in spec.items() if "default" in option} == DEFAULTS


@pytest.mark.parametrize("params, service, expected", [
    pytest.param({"type": "tcp"}, WEB, HealthCheck("tcp"), id="tcp-defaults"),
    pytest.param({"type": "http"}, WEB, HealthCheck("http", path="/", status=(200,)), id="http-defaults"),
    pytest.param({"type": "https", "path": "/health?full=1", "status": [301, 200, 200], "digest": "9B3A0C85A887A256D6939DA88AABD8CD",
                  "text": 'status: "ok"', "virtualhost": "www.example.com", "port": 8443}, WEB,
                 HealthCheck("https", port=8443, path="/health?full=1", status=(200, 301), digest="9b3a0c85a887a256d6939da88aabd8cd",
                             text='status: "ok"', virtualhost="www.example.com"), id="https-all"),
    pytest.param({"type": "command", "command": "  /usr/local/bin/check 192.0.2.11 'a b'  ", "timeout": 10}, WEB,
                 HealthCheck("command", command="/usr/local/bin/check 192.0.2.11 'a b'", timeout=10), id="command"),
    pytest.param({"type": "tcp", "interval": "2", "timeout": 1, "retries": 0, "retry_delay": 3600, "on_failure": "remove", "alpha": True,
                  "quorum": 3, "hysteresis": 2}, WEB,
                 HealthCheck("tcp", interval=2, timeout=1, retries=0, retry_delay=3600, on_failure="remove", alpha=True, quorum=3, hysteresis=2),
                 id="timing-and-failure"),
    pytest.param(dict({"type": "tcp"}, **{name: None for name in OPTIONS if name != "type"}), WEB, HealthCheck("tcp"), id="unset-as-none"),
    pytest.param({"type": "tcp", "sorry_server": "192.0.2.99"}, WEB, HealthCheck("tcp", sorry_server=("192.0.2.99", 80)), id="sorry-port-default"),
    pytest.param({"type": "tcp", "sorry_server": " 192.0.2.99:8080 "}, WEB, HealthCheck("tcp", sorry_server=("192.0.2.99", 8080)), id="sorry-port"),
    pytest.param({"type": "tcp", "sorry_server": "[2001:DB8::99]:8443"}, WEB6, HealthCheck("tcp", sorry_server=("2001:db8::99", 8443)), id="sorry-v6"),
    pytest.param({"type": "tcp", "sorry_server": "2001:db8::99"}, WEB6, HealthCheck("tcp", sorry_server=("2001:db8::99", 443)), id="sorry-v6-bare"),
    pytest.param({"type": "tcp", "sorry_server": "[2001:db8::99]"}, WEB6, HealthCheck("tcp", sorry_server=("2001:db8::99", 443)), id="sorry-v6-bracket"),
    pytest.param({"type": "tcp", "port": 80, "sorry_server": "192.0.2.99"}, FWM8, HealthCheck("tcp", port=80, sorry_server=("192.0.2.99", 0)),
                 id="fwmark"),
    pytest.param({"type": "command", "command": "/bin/true"}, FWM8, HealthCheck("command", command="/bin/true"), id="fwmark-command-no-port"),
])
def test_valid_health_checks_are_normalised(params, service, expected):
    assert health_check_from_params(params, service) == expected


TYPES = "tcp, http, https, command"


@pytest.mark.parametrize("params, service, option, phrase", [
    ({}, WEB, "type", f"missing: a health check needs its type; accepted: {TYPES}"),
    ({"type": "ping"}, WEB, "type", f"'ping' is not valid; accepted: {TYPES}"),
    ({"type": "tcp", "bogus": 1}, WEB, "bogus", "is not an option of health_check; accepted: type, port, path"),
    # Options of another type.
    ({"type": "tcp", "path": "/"}, WEB, "path", "does not apply to type tcp; accepted: only with type http, https"),
    ({"type": "command", "command": "/bin/true", "status": [200]}, WEB, "status", "does not apply to type command; accepted: only with type http, https"),
    ({"type": "tcp", "digest": "9b3a0c85a887a256d6939da88aabd8cd"}, WEB, "digest", "does not apply to type tcp"),
    ({"type": "tcp", "text": "ok"}, WEB, "text", "does not apply to type tcp"),
    ({"type": "tcp", "virtualhost": "www.example.com"}, WEB, "virtualhost", "does not apply to type tcp"),
    ({"type": "http", "command": "/bin/true"}, WEB, "command", "does not apply to type http; accepted: only with type command"),
    ({"type": "command", "command": "/bin/true", "port": 80}, WEB, "port", "does not apply to type command; accepted: only with type tcp, http, https"),
    # Ranges.
    ({"type": "tcp", "port": 0}, WEB, "port", "0 is out of range; accepted: 1 to 65535"),
    ({"type": "tcp", "port": 65536}, WEB, "port", "65536 is out of range; accepted: 1 to 65535"),
    ({"type": "tcp", "interval": 0}, WEB, "interval", "0 is out of range; accepted: 1 to 86400 seconds"),
    ({"type": "tcp", "interval": 86401}, WEB, "interval", "86401 is out of range; accepted: 1 to 86400 seconds"),
    ({"type": "tcp", "timeout": 0}, WEB, "timeout", "0 is out of range; accepted: 1 to 3600 seconds"),
    ({"type": "tcp", "timeout": 3601}, WEB, "timeout", "3601 is out of range; accepted: 1 to 3600 seconds"),
    ({"type": "tcp", "retries": -1}, WEB, "retries", "-1 is out of range; accepted: 0 to 100"),
    ({"type": "tcp", "retries": 101}, WEB, "retries", "101 is out of range; accepted: 0 to 100"),
    ({"type": "tcp", "retry_delay": 0}, WEB, "retry_delay", "0 is out of range; accepted: 1 to 3600 seconds"),
    ({"type": "tcp", "quorum": 0}, WEB, "quorum", "0 is out of range; accepted: 1 to 65535"),
    ({"type": "tcp", "quorum": 65536}, WEB, "quorum", "65536 is out of range; accepted: 1 to 65535"),
    ({"type": "tcp", "hysteresis": -1}, WEB, "hysteresis", "-1 is out of range; accepted: 0 to 65535, less than quorum"),
    ({"type": "tcp", "quorum": 2, "hysteresis": 2}, WEB, "hysteresis", "2 is not less than quorum 2; accepted: 0 to 1"),
    ({"type": "tcp", "hysteresis": 1}, WEB, "hysteresis", "1 is not less than quorum 1; accepted: 0 to 0"),
    ({"type": "tcp", "interval": "often"}, WEB, "interval", "'often' is not an integer; accepted: 1 to 86400 seconds"),
    ({"type": "tcp", "interval": True}, WEB, "interval", "True is not an integer"),
    ({"type": "tcp", "on_failure": "drop"}, WEB, "on_failure", "'drop' is not valid; accepted: quiesce (weight 0), remove"),
    ({"type": "tcp", "alpha": "yes"}, WEB, "alpha", "'yes' is not a boolean; accepted: true, false"),
    # The port of a service without one.
    ({"type": "tcp"}, FWM8, "port", "missing: the service has no port of its own (fwmark, or port 0)"),
    ({"type": "https"}, PCC, "port", "accepted: 1 to 65535"),
    # HTTP.
    ({"type": "http", "path": "health"}, WEB, "path", "'health' is not valid; accepted: a URL path starting with /"),
    ({"type": "http", "path": "/a b"}, WEB, "path", "without spaces, quotes or backslashes"),
    ({"type": "http", "path": '/a"b'}, WEB, "path", "is not valid"),
    ({"type": "http", "path": "/a\\b"}, WEB, "path", "is not valid"),
    ({"type": "http", "status": []}, WEB, "status", "[] is not a list of status codes; accepted: a list of HTTP status codes from 100 to 599"),
    ({"type": "http", "status": [200, 600]}, WEB, "status", "600 is out of range; accepted: a list of HTTP status codes from 100 to 599"),
    ({"type": "http", "status": 200}, WEB, "status", "200 is not a list of status codes"),
    ({"type": "http", "digest": "9b3a0c85"}, WEB, "digest", "accepted: the MD5 of the body, 32 hexadecimal digits"),
    ({"type": "http", "digest": "z" * 32}, WEB, "digest", "is not valid"),
    ({"type": "http", "text": ""}, WEB, "text", "'' is not valid; accepted: text the body must contain, without control characters"),
    ({"type": "http", "text": "a\nb"}, WEB, "text", "without control characters"),
    ({"type": "http", "virtualhost": "www example"}, WEB, "virtualhost", "accepted: a host name such as www.example.com"),
    # Command.
    ({"type": "command"}, WEB, "command", "missing: type command needs the command to run"),
    ({"type": "command", "command": "   "}, WEB, "command", "is not valid; accepted: the absolute path of a program"),
    ({"type": "command", "command": '/bin/sh -c "exit 1"'}, WEB, "command", "without double quotes or newlines"),
    ({"type": "command", "command": "/bin/true\n/bin/false"}, WEB, "command", "is not valid"),
    ({"type": "command", "command": "check-app 80"}, WEB, "command", "'check-app 80' does not start with an absolute path"),
    # Sorry server.
    ({"type": "tcp", "sorry_server": "sorry.example"}, WEB, "sorry_server", "'sorry.example' is not an IP address"),
    ({"type": "tcp", "sorry_server": "2001:db8::99"}, WEB, "sorry_server", "2001:db8::99 is ipv6 but the service is ipv4; accepted: an ipv4 address"),
    ({"type": "tcp", "sorry_server": "192.0.2.99"}, WEB6, "sorry_server", "192.0.2.99 is ipv4 but the service is ipv6"),
    ({"type": "tcp", "sorry_server": "192.0.2.99:0"}, WEB, "sorry_server", "0 is out of range; accepted: a port from 1 to 65535"),
    ({"type": "tcp", "sorry_server": "192.0.2.99:http"}, WEB, "sorry_server", "'http' is not an integer"),
    ({"type": "tcp", "sorry_server": "[2001:db8::99"}, WEB6, "sorry_server", "is not an address with a port"),
    ({"type": "tcp", "sorry_server": "[2001:db8::99]8443"}, WEB6, "sorry_server", "is not an address with a port"),
])
def test_every_option_is_validated_with_its_name_and_the_accepted_values(params, service, option, phrase):
    with pytest.raises(OptionError) as caught:
        health_check_from_params(params, service)
    assert caught.value.option == option
    assert phrase in caught.value.message


# ---------------------------------------------------------------------------------------------- the pool keepalived accepts


def test_a_pool_needs_a_real_server_with_weight():
    for servers in ([], [dataclasses.replace(RS[11], weight=0)]):
        with pytest.raises(OptionError) as caught:
            check_pool(HealthCheck("tcp"), WEB, servers)
        assert caught.value.option == "real_servers"
        assert "at least one real server with a weight above 0" in caught.value.message
    check_pool(HealthCheck("tcp"), WEB, [dataclasses.replace(RS[11], weight=0), RS[12]])


def test_a_real_server_of_a_fwmark_service_has_no_port_unless_nat():
    with pytest.raises(OptionError) as caught:
        check_pool(HealthCheck("tcp", port=80), FWM8, [RealServer("192.0.2.11", 80)])
    assert caught.value.option == "real_servers"
    assert caught.value.message == ("192.0.2.11:80: keepalived gives a real server of a fwmark service forwarded by dr no port (the packet keeps "
                                    "its own); accepted: server_port unset")
    check_pool(HealthCheck("tcp", port=80), FWM8, [RealServer("192.0.2.11", 0), RealServer("192.0.2.12", 8080, forwarding="nat")])


def test_a_sorry_server_forwarded_by_dr_takes_the_service_port():
    with pytest.raises(OptionError) as caught:
        check_pool(HealthCheck("tcp", sorry_server=("192.0.2.99", 8080)), WEB, [RS[11]])
    assert caught.value.option == "health_check.sorry_server"
    assert caught.value.message == ("port 8080 differs from the service port 80, which dr forwarding always uses; "
                                    "accepted: the address alone, or with port 80")
    check_pool(HealthCheck("tcp", sorry_server=("192.0.2.99", 80)), WEB, [RS[11]])
    check_pool(HealthCheck("tcp", sorry_server=("192.0.2.99", 8080)), WEB, [RealServer("192.0.2.11", 8080, forwarding="nat")])
    check_pool(HealthCheck("tcp", port=80, sorry_server=("192.0.2.99", 0)), FWM8, [RealServer("192.0.2.11", 0)])


# ---------------------------------------------------------------------------------------------- the kernel read back

CHECK = HealthCheck("http", path="/", status=(200,), sorry_server=("192.0.2.99", 80))
POOL = [RS[12], RS[11], dataclasses.replace(RS[13], weight=0)]  # 192.0.2.13 declared drained


def state(have_service: t.Optional[Service], have_servers: t.Sequence[RealServer], service: Service = WEB,
          servers: t.Sequence[RealServer] = tuple(POOL), check: HealthCheck = CHECK) -> t.Dict[str, t.Any]:
    return runtime_state(service, servers, check, have_service, have_servers)


def expected(up: t.Sequence[int] = (11, 12, 13), down: t.Sequence[int] = (), sorry: bool = False, drift: t.Sequence[str] = ()) -> t.Dict[str, t.Any]:
    return {"service": "-t 198.51.100.1:80", "writer": "keepalived", "up": [f"192.0.2.{n}:80" for n in up], "down": [f"192.0.2.{n}:80" for n in down],
            "sorry_server_active": sorry, "drift": list(drift)}


@pytest.mark.parametrize("have_servers, result", [
    pytest.param(POOL, expected(), id="all-up"),
    pytest.param([RS[11], dataclasses.replace(RS[12], weight=0), dataclasses.replace(RS[13], weight=0)], expected(up=(11, 13), down=(12,)),
                 id="quiesced"),
    pytest.param([RS[11], dataclasses.replace(RS[13], weight=0)], expected(up=(11, 13), down=(12,)), id="removed"),
    pytest.param([RealServer("192.0.2.99", 80)], expected(up=(), down=(11, 12, 13), sorry=True), id="sorry-server-active"),
    pytest.param([dataclasses.replace(RS[11], weight=0), dataclasses.replace(RS[12], weight=0), dataclasses.replace(RS[13], weight=0),
                  RealServer("192.0.2.99", 80)], expected(up=(13,), down=(11, 12), sorry=True), id="all-quiesced-sorry-server"),
    pytest.param([RS[11], dataclasses.replace(RS[12], weight=7), RS[13]],
                 expected(drift=["real server 192.0.2.12:80: weight is 7 in the kernel, declared 1 (or 0 while its check fails)",
                                 "real server 192.0.2.13:80: weight is 1 in the kernel, declared 0 (or 0 while its check fails)"]),
                 id="weight-drift"),
    pytest.param([RS[11], dataclasses.replace(RS[12], forwarding="nat"), dataclasses.replace(RS[13], weight=0, upper_threshold=5)],
                 expected(drift=["real server 192.0.2.12:80: forwarding is nat in the kernel, declared dr",
                                 "real server 192.0.2.13:80: upper_threshold is 5 in the kernel, declared 0"]), id="server-drift"),
    pytest.param([RS[11], dataclasses.replace(RS[12], weight=0, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_checksum="csum"),
                  dataclasses.replace(RS[13], weight=0)],
                 expected(up=(11, 13), down=(12,), drift=["real server 192.0.2.12:80: forwarding is tunnel in the kernel, declared dr",
                                                          "real server 192.0.2.12:80: tunnel_type is gue in the kernel, declared unset",
                                                          "real server 192.0.2.12:80: tunnel_port is 6080 in the kernel, declared unset",
                                                          "real server 192.0.2.12:80: tunnel_checksum is csum in the kernel, declared unset"]),
                 id="quiesced-and-drifted"),
    pytest.param(POOL + [RealServer("192.0.2.50", 80), RealServer("192.0.2.99", 8080)],
                 expected(sorry=True, drift=["real server 192.0.2.50:80 is in the kernel but neither declared nor the sorry server"]),
                 id="stranger"),
])
def test_runtime_state_of_the_pool(have_servers, result):
    assert state(WEB, have_servers) == result


@pytest.mark.parametrize("have, drift", [
    (dataclasses.replace(WEB, scheduler="rr"), ["scheduler is rr in the kernel, declared wlc"]),
    (dataclasses.replace(WEB, persistence_timeout=300), ["persistence_timeout is 300 in the kernel, declared 600"]),
    (dataclasses.replace(WEB, persistence_timeout=None, persistence_granularity=None),
     ["persistence_timeout is unset in the kernel, declared 600", "persistence_granularity is unset in the kernel, declared 32"]),
    (dataclasses.replace(WEB, persistence_granularity=24), ["persistence_granularity is 24 in the kernel, declared 32"]),
    (dataclasses.replace(WEB, persistence_engine="sip"), ["persistence_engine is sip in the kernel, declared unset"]),
    (dataclasses.replace(WEB, scheduler="sh", scheduler_flags=("sh-port",)),
     ["scheduler is sh in the kernel, declared wlc", "scheduler_flags is sh-port in the kernel, declared none"]),
])
def test_runtime_state_of_the_service(have, drift):
    assert state(have, POOL) == expected(drift=drift)


def test_one_packet_drift_of_a_udp_service():
    dns = Service(family="ipv4", protocol="udp", address=VIP, port=53, one_packet=True)
    result = runtime_state(dns, [RealServer("192.0.2.11", 53)], HealthCheck("tcp"), dataclasses.replace(dns, one_packet=False),
                           [RealServer("192.0.2.11", 53)])
    assert result["drift"] == ["one_packet is false in the kernel, declared true"]
    assert result["up"] == ["192.0.2.11:53"]


def test_a_missing_service_is_drift_and_every_server_down():
    assert state(None, []) == expected(up=(), down=(11, 12, 13), drift=["keepalived has not built it: is lvs-ipvs-check.service running?"])


def test_the_sorry_server_is_known_by_its_address_on_a_fwmark_service():
    check = HealthCheck("tcp", port=80, sorry_server=("192.0.2.99", 0))
    result = runtime_state(FWM8, [RealServer("192.0.2.11", 0)], check, FWM8, [RealServer("192.0.2.99", 0)])
    assert result == {"service": "-f 8", "writer": "keepalived", "up": [], "down": ["192.0.2.11:0"], "sorry_server_active": True, "drift": []}
