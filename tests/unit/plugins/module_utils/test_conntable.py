# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsing /proc/net/ip_vs_conn, with text read off Debian's 6.1 kernel in the lab."""

from __future__ import annotations

from ansible_collections.lvs.ipvs.plugins.module_utils import _conntable

# Read off the lab VM: PPC service 198.51.100.1:80 -p 60, NAT, two requests from 203.0.113.10.
V4 = """Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP CB00710A BC83 C6336401 0050 C000020C 0050 TIME_WAIT       119
TCP CB00710A 0000 C6336401 0050 C000020C 0050 ASSURED          59
IP  CB00710D 0000 00000008 0000 C000020D 0000 ASSURED         599
"""

V6 = """Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 2001:0db8:0000:0000:0000:0000:0000:000a 9C40 2001:0db8:0000:0000:0000:0000:0000:0001 0050 2001:0db8:0001:0000:0000:0000:0000:0011 0050 ESTABLISHED     899
UDP CB00710A 13C4 C6336401 13C4 C000020B 13C4 UDP             280 sip 1234@example
"""


def test_ipv4_entries_and_the_template():
    connections, templates = _conntable.split_templates(_conntable.parse(V4))
    assert connections == [{
        "protocol": "tcp", "client": "203.0.113.10", "client_port": 0xBC83, "virtual": "198.51.100.1", "virtual_port": 80,
        "real_server": "192.0.2.12", "real_server_port": 80, "state": "TIME_WAIT", "expires": 119}]
    assert templates[0] == {"protocol": "tcp", "client": "203.0.113.10", "virtual": "198.51.100.1", "virtual_port": 80,
                            "real_server": "192.0.2.12", "real_server_port": 80, "state": "ASSURED", "expires": 59}


def test_fwmark_template_names_its_mark():
    templates = _conntable.split_templates(_conntable.parse(V4))[1]
    assert templates[1]["fwmark"] == 8
    assert templates[1]["virtual"] == "0.0.0.8"
    assert templates[1]["protocol"] == "ip"


def test_ipv6_and_persistence_engine_fields():
    entries = _conntable.parse(V6)
    assert entries[0]["client"] == "2001:db8::a"
    assert entries[0]["real_server"] == "2001:db8:1::11"
    assert entries[0]["client_port"] == 40000
    assert entries[1]["persistence_engine"] == "sip"
    assert entries[1]["persistence_data"] == "1234@example"


def test_header_only_is_empty():
    assert not _conntable.parse(V4.splitlines()[0] + "\n")
