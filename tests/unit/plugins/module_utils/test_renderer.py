# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The renderer: operations and tables as ipvsadm lines (ipvsadm 1.31 `-S -n` syntax)."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render, render_service_table

VIP = "198.51.100.1"
PPC = Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="rr", persistence_timeout=3600, persistence_granularity=32)
PCC = dataclasses.replace(PPC, port=0)
FWM8 = Service(family="ipv4", fwmark=8, scheduler="rr", persistence_timeout=600, persistence_granularity=32)
RS1 = RealServer("192.0.2.11", 80)


def svc(**fields: t.Any) -> Service:
    return dataclasses.replace(PPC, **fields)


def rs(**fields: t.Any) -> RealServer:
    return dataclasses.replace(RS1, **fields)


@pytest.mark.parametrize("operation, line", [
    pytest.param(Operation("add_service", PPC), "-A -t 198.51.100.1:80 -s rr -p 3600", id="ppc"),
    pytest.param(Operation("add_service", PCC), "-A -t 198.51.100.1:0 -s rr -p 3600", id="pcc"),
    pytest.param(Operation("add_service", FWM8), "-A -f 8 -s rr -p 600", id="fwmark"),
    pytest.param(Operation("add_service", dataclasses.replace(FWM8, family="ipv6", persistence_granularity=64)), "-A -f 8 -6 -s rr -p 600 -M 64",
                 id="fwmark-ipv6-prefix"),
    pytest.param(Operation("add_service", dataclasses.replace(FWM8, family="ipv6", persistence_granularity=128)), "-A -f 8 -6 -s rr -p 600",
                 id="fwmark-ipv6-default-granularity"),
    pytest.param(Operation("add_service", svc(persistence_granularity=24)), "-A -t 198.51.100.1:80 -s rr -p 3600 -M 255.255.255.0", id="netmask"),
    pytest.param(Operation("add_service", svc(persistence_granularity="255.0.255.0")), "-A -t 198.51.100.1:80 -s rr -p 3600 -M 255.0.255.0",
                 id="non-contiguous-as-found"),
    pytest.param(Operation("add_service", Service(family="ipv4", protocol="udp", address=VIP, port=53)), "-A -u 198.51.100.1:53 -s wlc",
                 id="udp-default-scheduler"),
    pytest.param(Operation("add_service", Service(family="ipv4", protocol="sctp", address=VIP, port=38412, scheduler="mh",
                                                  scheduler_flags=("mh-port", "mh-fallback"))),
                 "-A --sctp-service 198.51.100.1:38412 -s mh -b mh-fallback,mh-port", id="sctp-mh-flags"),
    pytest.param(Operation("add_service", Service(family="ipv6", protocol="tcp", address="2001:db8::1", port=443, scheduler="sh",
                                                  scheduler_flags=("sh-port",))),
                 "-A -t [2001:db8::1]:443 -s sh -b sh-port", id="ipv6-brackets"),
    pytest.param(Operation("add_service", Service(family="ipv4", protocol="udp", address=VIP, port=5060, persistence_timeout=60,
                                                  persistence_granularity=32, persistence_engine="sip", one_packet=True)),
                 "-A -u 198.51.100.1:5060 -s wlc -p 60 --pe sip -o", id="sip-one-packet"),
    pytest.param(Operation("edit_service", svc(scheduler="wlc"), before=PPC), "-E -t 198.51.100.1:80 -s wlc -p 3600", id="edit-full-line"),
    pytest.param(Operation("edit_service", svc(persistence_timeout=None, persistence_granularity=None), before=PPC), "-E -t 198.51.100.1:80 -s rr",
                 id="edit-persistence-off"),
    pytest.param(Operation("delete_service", PPC, before=PPC), "-D -t 198.51.100.1:80", id="delete"),
    pytest.param(Operation("delete_service", FWM8, before=FWM8), "-D -f 8", id="delete-fwmark"),
    pytest.param(Operation("add_real_server", PPC, RS1), "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 1", id="dr"),
    pytest.param(Operation("add_real_server", PPC, rs(port=8080, forwarding="nat", weight=3)), "-a -t 198.51.100.1:80 -r 192.0.2.11:8080 -m -w 3",
                 id="nat"),
    pytest.param(Operation("add_real_server", FWM8, rs(port=0, weight=2)), "-a -f 8 -r 192.0.2.11:0 -g -w 2", id="fwmark-dest"),
    pytest.param(Operation("add_real_server", PPC, rs(forwarding="tunnel", tunnel_type="ipip")),
                 "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 1 --tun-type ipip", id="ipip"),
    pytest.param(Operation("add_real_server", PPC, rs(forwarding="tunnel", tunnel_type="gue", tunnel_port=6080, tunnel_checksum="csum")),
                 "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum", id="gue"),
    pytest.param(Operation("add_real_server", PPC, rs(forwarding="tunnel", tunnel_type="gre", tunnel_checksum="nocsum")),
                 "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 1 --tun-type gre --tun-nocsum", id="gre"),
    pytest.param(Operation("add_real_server", PPC, rs(forwarding="tunnel", tunnel_type="gue", tunnel_port=1, tunnel_checksum="remcsum")),
                 "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 1 --tun-type gue --tun-port 1 --tun-remcsum", id="gue-remcsum"),
    pytest.param(Operation("add_real_server", PPC, rs(upper_threshold=100, lower_threshold=50)),
                 "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 1 -x 100 -y 50", id="thresholds"),
    pytest.param(Operation("edit_real_server", PPC, rs(weight=0), before=RS1), "-e -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 0", id="edit-drain"),
    pytest.param(Operation("edit_real_server", PPC, RS1, before=rs(forwarding="local")), "-e -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 1",
                 id="edit-from-local"),
    pytest.param(Operation("delete_real_server", PPC, RS1, before=RS1), "-d -t 198.51.100.1:80 -r 192.0.2.11:80", id="delete-dest"),
    pytest.param(Operation("delete_real_server", Service(family="ipv6", protocol="udp", address="2001:db8::1", port=53),
                           RealServer("2001:db8::11", 53)),
                 "-d -u [2001:db8::1]:53 -r [2001:db8::11]:53", id="delete-dest-ipv6"),
])
def test_render(operation: Operation, line: str) -> None:
    assert render(operation) == line


def test_render_service_table_like_ipvsadm_save() -> None:
    ten = Service(family="ipv4", protocol="tcp", address="198.51.100.10", port=80)
    nine = Service(family="ipv4", protocol="tcp", address="198.51.100.9", port=80)
    udp = Service(family="ipv4", protocol="udp", address="198.51.100.1", port=53)
    six = Service(family="ipv6", protocol="tcp", address="2001:db8::1", port=80)
    table = [
        (FWM8, [RealServer("192.0.2.12", 0, weight=2), RealServer("192.0.2.11", 0, weight=2)]),
        (ten, []),
        (six, [RealServer("2001:db8::11", 80)]),
        (udp, []),
        (nine, [RealServer("192.0.2.10", 80), RealServer("192.0.2.9", 80)]),
        (PCC, []),
    ]
    assert render_service_table(table) == [
        "-A -t 198.51.100.1:0 -s rr -p 3600",
        "-A -t 198.51.100.9:80 -s wlc",
        "-a -t 198.51.100.9:80 -r 192.0.2.9:80 -g -w 1",
        "-a -t 198.51.100.9:80 -r 192.0.2.10:80 -g -w 1",
        "-A -t 198.51.100.10:80 -s wlc",
        "-A -u 198.51.100.1:53 -s wlc",
        "-A -t [2001:db8::1]:80 -s wlc",
        "-a -t [2001:db8::1]:80 -r [2001:db8::11]:80 -g -w 1",
        "-A -f 8 -s rr -p 600",
        "-a -f 8 -r 192.0.2.11:0 -g -w 2",
        "-a -f 8 -r 192.0.2.12:0 -g -w 2",
    ]


def test_render_service_table_empty() -> None:
    assert render_service_table([]) == []
