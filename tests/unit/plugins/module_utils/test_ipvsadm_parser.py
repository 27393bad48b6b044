# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ipvsadm -S -n / -R parser: lines replayed as ipvsadm -R would, into ipvs_table config entries."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.lvs.ipvs.plugins.module_utils._ipvsadm_parser import parse, parse_with_lines
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render_service_table
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import declare, declared_table

VIP = "198.51.100.1"
TCP80 = {"protocol": "tcp", "address": VIP, "port": 80}


@pytest.mark.parametrize("text, expected", [
    pytest.param("-A -t 198.51.100.1:80 -s rr\n", [dict(TCP80, scheduler="rr", real_servers=[])], id="service"),
    pytest.param("-A -t 198.51.100.1:80 -s rr -p 3600 -M 255.255.255.0\n-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2\n",
                 [dict(TCP80, scheduler="rr", persistence_timeout=3600, persistence_granularity="255.255.255.0",
                       real_servers=[{"server": "192.0.2.11", "server_port": 80, "forwarding": "dr", "weight": 2}])], id="ppc-and-server"),
    pytest.param("-A -t 198.51.100.1:0 -s rr -p\n", [dict(TCP80, port=0, scheduler="rr", persistence_timeout=360, real_servers=[])],
                 id="p-without-value-is-360"),
    pytest.param("-A -t 198.51.100.1 -s rr -p 60\n", [dict(TCP80, port=0, scheduler="rr", persistence_timeout=60, real_servers=[])],
                 id="no-port-is-0"),
    pytest.param("-A -f 8 -6 -s sh -b sh-port,sh-fallback -p 600 -M 64 --pe sip\n",
                 [{"fwmark": 8, "family": "ipv6", "scheduler": "sh", "scheduler_flags": ["sh-port", "sh-fallback"], "persistence_timeout": 600,
                   "persistence_granularity": "64", "persistence_engine": "sip", "real_servers": []}], id="fwmark-ipv6-flags-pe"),
    pytest.param("-A -u [2001:db8::53]:53 -s rr -o\n-a -u [2001:db8::53]:53 -r [2001:db8::11]:5353 -m -w 0 -x 100 -y 10\n",
                 [{"protocol": "udp", "address": "2001:db8::53", "port": 53, "scheduler": "rr", "one_packet": True,
                   "real_servers": [{"server": "2001:db8::11", "server_port": 5353, "forwarding": "nat", "weight": 0,
                                     "upper_threshold": 100, "lower_threshold": 10}]}], id="ipv6-udp-ops-thresholds"),
    pytest.param("-A --sctp-service 198.51.100.1:9 -s wlc\n-a --sctp-service 198.51.100.1:9 -r 192.0.2.11 -i --tun-type gue --tun-port 6080 "
                 "--tun-remcsum -w 1\n",
                 [{"protocol": "sctp", "address": VIP, "port": 9, "scheduler": "wlc",
                   "real_servers": [{"server": "192.0.2.11", "forwarding": "tunnel", "tunnel_type": "gue", "tunnel_port": 6080,
                                     "tunnel_checksum": "remcsum", "weight": 1}]}], id="sctp-gue-tunnel"),
    pytest.param("ipvsadm --add-service --tcp-service=198.51.100.1:80 --scheduler=rr --persistent 60\n"
                 "/sbin/ipvsadm --add-server --tcp-service 198.51.100.1:80 --real-server 192.0.2.11 --masquerading --weight 3\n",
                 [dict(TCP80, scheduler="rr", persistence_timeout=60,
                       real_servers=[{"server": "192.0.2.11", "forwarding": "nat", "weight": 3}])], id="long-options-and-ipvsadm-prefix"),
    pytest.param("# saved by hand\n\n-A -t 198.51.100.1:80\n", [dict(TCP80, real_servers=[])], id="comments-and-blank-lines"),
    pytest.param("-A -t 198.51.100.1:80 -s rr -p 60\n-a -t 198.51.100.1:80 -r 192.0.2.11 -m\n-E -t 198.51.100.1:80 -s wlc\n",
                 [dict(TCP80, scheduler="wlc", real_servers=[{"server": "192.0.2.11", "forwarding": "nat"}])],
                 id="edit-service-resets-what-it-omits-and-keeps-servers"),
    pytest.param("-A -t 198.51.100.1:80\n-a -t 198.51.100.1:80 -r 192.0.2.11 -w 2\n-e -t 198.51.100.1:80 -r 192.0.2.11:80 -m -w 5\n",
                 [dict(TCP80, real_servers=[{"server": "192.0.2.11", "server_port": 80, "forwarding": "nat", "weight": 5}])],
                 id="edit-server-matches-default-port"),
    pytest.param("-A -t 198.51.100.1:80\n-a -t 198.51.100.1:80 -r 192.0.2.11\n-a -t 198.51.100.1:80 -r 192.0.2.12\n"
                 "-d -t 198.51.100.1:80 -r 192.0.2.11:80\n", [dict(TCP80, real_servers=[{"server": "192.0.2.12"}])], id="delete-server"),
    pytest.param("-A -t 198.51.100.1:80\n-A -f 8\n-D -t 198.51.100.1:80\n", [{"fwmark": 8, "family": "ipv4", "real_servers": []}],
                 id="delete-service"),
    pytest.param("-A -t 198.51.100.1:80\n-C\n-A -f 9\n", [{"fwmark": 9, "family": "ipv4", "real_servers": []}], id="clear"),
    pytest.param("", [], id="empty"),
])
def test_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, line, phrase", [
    pytest.param("-A -t www.example.org:http -s rr\n", 1, "ipvsadm -S -n", id="names-need-n"),
    pytest.param("-A -t 198.51.100.1:http -s rr\n", 1, "no service names", id="port-name"),
    pytest.param("-A -t 198.51.100.1:80\n-A -t 198.51.100.1:80\n", 2, "already exists", id="service-twice"),
    pytest.param("-A -t 198.51.100.1:80\n-a -t 198.51.100.1:81 -r 192.0.2.11\n", 2, "no such virtual service", id="server-of-missing-service"),
    pytest.param("-A -t 198.51.100.1:80\n-a -t 198.51.100.1:80 -r 192.0.2.11\n-a -t 198.51.100.1:80 -r 192.0.2.11:80\n", 3, "already exists",
                 id="server-twice-default-port"),
    pytest.param("-A -t 198.51.100.1:80\n-e -t 198.51.100.1:80 -r 192.0.2.11 -w 2\n", 2, "no such real server", id="edit-missing-server"),
    pytest.param("-A -t 198.51.100.1:80 -w 2\n", 1, "option of a real server", id="server-option-on-service"),
    pytest.param("-A -t 198.51.100.1:80\n-a -t 198.51.100.1:80 -r 192.0.2.11 -s rr\n", 2, "option of a virtual service",
                 id="service-option-on-server"),
    pytest.param("-A -t 198.51.100.1:80 -s rr -s wlc\n", 1, "given twice", id="option-twice"),
    pytest.param("-A -t 198.51.100.1:80\n-a -t 198.51.100.1:80 -r 192.0.2.11 -g -m\n", 2, "two forwarding methods", id="two-methods"),
    pytest.param("-A -t 198.51.100.1:80 -E\n", 1, "two commands", id="two-commands"),
    pytest.param("-t 198.51.100.1:80\n", 1, "no command", id="no-command"),
    pytest.param("--set 900 120 300\n", 1, "not an option", id="set-timeouts"),
    pytest.param("-A -s rr\n", 1, "no virtual service", id="no-service"),
    pytest.param("-A -t 198.51.100.1:80 -s\n", 1, "needs a value", id="missing-value"),
    pytest.param("-A -f eight\n", 1, "not a number", id="fwmark-not-a-number"),
    pytest.param("-A -t [2001:db8::1:80\n", 1, "[IPv6]:port", id="bad-brackets"),
    pytest.param("-A -t 198.51.100.1:80\n-a -t 198.51.100.1:80 -r 192.0.2.11 -w many\n", 2, "not a number", id="weight-not-a-number"),
    pytest.param("-A -t 198.51.100.1:80\n-D -t 198.51.100.1:80 -s rr\n", 2, "does not apply", id="delete-with-options"),
])
def test_parse_errors_name_the_line(text, line, phrase):
    with pytest.raises(OptionError) as caught:
        parse(text)
    assert caught.value.option == "running_config"
    assert f"line {line}:" in str(caught.value)
    assert phrase in str(caught.value)


def test_lines_of_each_service():
    entries, lines = parse_with_lines("# header\n-A -f 8\n-A -t 198.51.100.1:80\n-a -t 198.51.100.1:80 -r 192.0.2.11\n-D -f 8\n-A -f 9\n")
    assert [entry.get("fwmark", entry.get("address")) for entry in entries] == [VIP, 9]
    assert lines == [3, 6]


def test_parsed_entries_go_through_the_model_with_errors_naming_the_line():
    entries, lines = parse_with_lines("-A -t 198.51.100.1:80 -s rr\n-a -t 198.51.100.1:80 -r 192.0.2.11 -w 70000\n")
    with pytest.raises(OptionError) as caught:
        declare(entries, labels=[f"running_config (the service of line {line})" for line in lines])
    assert caught.value.option == "running_config (the service of line 1).real_servers[0].weight"
    assert "0 to 65535" in str(caught.value)


# The saved form of every kind of table round-trips: render (what ipvsadm -S -n prints) -> parse -> model.

def _service(draw: st.DrawFn) -> Service:
    kind = draw(st.sampled_from(["tcp", "udp", "sctp", "fwmark"]))
    family = draw(st.sampled_from(["ipv4", "ipv6"]))
    scheduler = draw(st.sampled_from(["rr", "wlc", "sh", "mh"]))
    flags = draw(st.sampled_from([(), ("sh-port",), ("sh-fallback", "sh-port")])) if scheduler == "sh" else ()
    timeout = draw(st.one_of(st.none(), st.integers(1, 2678400)))
    granularity = None
    if timeout is not None:
        granularity = draw(st.integers(1, 32 if family == "ipv4" else 128))
    engine = draw(st.sampled_from([None, "sip"])) if timeout is not None else None
    one_packet = draw(st.booleans()) if kind in ("udp", "fwmark") else False
    if kind == "fwmark":
        return Service(family=family, fwmark=draw(st.integers(1, 2 ** 32 - 1)), scheduler=scheduler, scheduler_flags=flags,
                       persistence_timeout=timeout, persistence_granularity=granularity, persistence_engine=engine, one_packet=one_packet)
    address = f"198.51.100.{draw(st.integers(1, 254))}" if family == "ipv4" else f"2001:db8::{draw(st.integers(1, 0xffff)):x}"
    port = draw(st.integers(1 if timeout is None else 0, 65535))
    return Service(family=family, protocol=kind, address=address, port=port, scheduler=scheduler, scheduler_flags=flags,
                   persistence_timeout=timeout, persistence_granularity=granularity, persistence_engine=engine, one_packet=one_packet)


def _server(draw: st.DrawFn, service: Service, number: int) -> RealServer:
    forwarding = draw(st.sampled_from(["dr", "nat", "tunnel"]))
    family = service.family
    address = f"192.0.2.{number}" if family == "ipv4" else f"2001:db8:1::{number:x}"
    if service.fwmark is not None:
        port = draw(st.integers(0, 65535))
    else:
        port = draw(st.integers(0, 65535)) if forwarding == "nat" else service.port or 0
    upper = draw(st.integers(0, 1000))
    lower = draw(st.integers(0, upper))
    tunnel_type = tunnel_port = checksum = None
    if forwarding == "tunnel":
        tunnel_type = draw(st.sampled_from(["ipip", "gue", "gre"]))
        tunnel_port = draw(st.integers(1, 65535)) if tunnel_type == "gue" else None
        checksum = None if tunnel_type == "ipip" else draw(st.sampled_from(["nocsum", "csum"] + (["remcsum"] if tunnel_type == "gue" else [])))
    return RealServer(address, port, forwarding=forwarding, weight=draw(st.integers(0, 65535)), upper_threshold=upper, lower_threshold=lower,
                      tunnel_type=tunnel_type, tunnel_port=tunnel_port, tunnel_checksum=checksum)


@st.composite
def tables(draw: st.DrawFn) -> list[tuple[Service, list[RealServer]]]:
    services: dict = {}
    for _number in range(draw(st.integers(0, 4))):
        service = _service(draw)
        servers = [_server(draw, service, number) for number in range(1, draw(st.integers(0, 3)) + 1)]
        services.setdefault(service.key, (service, servers))
    return list(services.values())


@settings(max_examples=150, deadline=None)
@given(tables())
def test_saved_table_round_trips_through_parse_and_the_model(entries):
    text = "\n".join(render_service_table(entries)) + "\n"
    parsed = declared_table(declare(parse(text)))
    expected = {service.key: (service, sorted(servers, key=lambda server: server.key)) for service, servers in entries}
    assert {key: (service, sorted(servers, key=lambda server: server.key)) for key, (service, servers) in parsed.items()} == expected


def test_round_trip_of_a_real_save_of_ipvsadm_1_31():
    # `ipvsadm -S -n` of ipvsadm 1.31 on Debian 12, for the three recipes of the article plus an IPv6 and a NAT service.
    saved = """-A -t 198.51.100.1:0 -s rr -p 3600
-a -t 198.51.100.1:0 -r 192.0.2.11:0 -g -w 2
-A -t 198.51.100.1:80 -s rr -p 3600
-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2
-a -t 198.51.100.1:80 -r 192.0.2.12:80 -g -w 2
-A -t 198.51.100.2:8080 -s wlc
-a -t 198.51.100.2:8080 -r 192.0.2.21:80 -m -w 1
-A -u [2001:db8::53]:53 -s rr
-a -u [2001:db8::53]:53 -r [2001:db8::11]:53 -m -w 1
-A -f 8 -s rr -p 600 -M 255.255.255.0
-a -f 8 -r 192.0.2.11:0 -g -w 2
"""
    table = declared_table(declare(parse(saved)))
    assert sorted(render_service_table(table.values())) == sorted(saved.splitlines())
    assert dataclasses.asdict(table[("ipv4", 8)][0])["persistence_granularity"] == 24
