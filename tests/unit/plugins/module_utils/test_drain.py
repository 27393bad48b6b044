# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one definition of "drained": which templates of the connection table still pin clients to a real server."""

from __future__ import annotations

from ansible_collections.lvs.ipvs.plugins.module_utils._drain import live_templates
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service

HEADER = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
PPC_80 = Service(family="ipv4", protocol="tcp", address="198.51.100.1", port=80, persistence_timeout=600)
PCC = Service(family="ipv4", protocol="tcp", address="198.51.100.1", port=0, persistence_timeout=600)
FWMARK_8 = Service(family="ipv4", fwmark=8, persistence_timeout=600)
FWMARK_8_V6 = Service(family="ipv6", fwmark=8, persistence_timeout=600)
RS_12 = RealServer("192.0.2.12", 80, forwarding="nat")
RS_12_PORT_0 = RealServer("192.0.2.12", 0, forwarding="nat")

# 203.0.113.10 -> 198.51.100.1:80 on 192.0.2.12:80: a connection (TIME_WAIT, not a template) and its template.
PPC_LIVE = HEADER + (
    "TCP CB00710A BC83 C6336401 0050 C000020C 0050 TIME_WAIT       119\n"
    "TCP CB00710A 0000 C6336401 0050 C000020C 0050 ASSURED          59\n"
)
# The same template after ip_vs_check_template() invalidated it (its client came back to a weight-0 server): ports 65535.
PPC_INVALIDATED = HEADER + "TCP CB00710A 0000 C6336401 FFFF C000020C FFFF ASSURED          59\n"


def test_a_live_template_pins_its_client():
    assert live_templates(PPC_LIVE, PPC_80, RS_12) == 1


def test_an_invalidated_template_pins_nobody():
    assert live_templates(PPC_INVALIDATED, PPC_80, RS_12) == 0


def test_templates_of_another_port_server_or_protocol_do_not_count():
    other_port = HEADER + "TCP CB00710A 0000 C6336401 1F90 C000020C 1F90 ASSURED 59\n"
    other_server = HEADER + "TCP CB00710A 0000 C6336401 0050 C000020B 0050 ASSURED 59\n"
    other_protocol = HEADER + "UDP CB00710A 0000 C6336401 0050 C000020C 0050 UDP 59\n"
    assert [live_templates(text, PPC_80, RS_12) for text in (other_port, other_server, other_protocol)] == [0, 0, 0]


def test_port_zero_service_templates_have_port_zero():
    text = HEADER + "TCP CB007100 0000 C6336401 0000 C000020C 0000 NONE 599\n"
    assert live_templates(text, PCC, RS_12_PORT_0) == 1
    assert live_templates(text, PPC_80, RS_12) == 0


def test_fwmark_templates_carry_the_mark_as_virtual_address():
    ipv4 = HEADER + "IP  CB00710D 0000 00000008 0000 C000020C 0000 ASSURED         599\n"
    other_mark = HEADER + "IP  CB00710D 0000 00000009 0000 C000020C 0000 ASSURED         599\n"
    invalidated = HEADER + "IP  CB00710D 0000 00000008 FFFF C000020C FFFF ASSURED         599\n"
    assert live_templates(ipv4, FWMARK_8, RS_12_PORT_0) == 1
    assert live_templates(other_mark, FWMARK_8, RS_12_PORT_0) == 0
    assert live_templates(invalidated, FWMARK_8, RS_12_PORT_0) == 0
    ipv6 = HEADER + ("IP  2001:0db8:0000:0000:0000:0000:0000:000a 0000 0000:0008:0000:0000:0000:0000:0000:0000 0000 "
                     "2001:0db8:0001:0000:0000:0000:0000:0011 0000 NONE 599\n")
    assert live_templates(ipv6, FWMARK_8_V6, RealServer("2001:db8:1::11", 0)) == 1


def test_connections_are_not_templates():
    connection_only = HEADER + "TCP CB00710A BC83 C6336401 0050 C000020C 0050 ESTABLISHED 899\n"
    assert live_templates(connection_only, PPC_80, RS_12) == 0
