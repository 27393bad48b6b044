# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The kernel's connection table (/proc/net/ip_vs_conn), which is what `ipvsadm -Lnc` lists.

Netlink has no command for connections: ipvsadm reads this file too. Addresses are hex
(IPv4: 8 digits of the host-order value; IPv6: the kernel's %pI6 form), ports 4 hex digits,
expiry in seconds. A persistence template is an entry with client port 0.
"""

from __future__ import annotations

import ipaddress

PROC_FILE = "/proc/net/ip_vs_conn"

_PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp", "IP": "ip"}


def _address(token: str) -> str:
    if ":" in token:
        return str(ipaddress.IPv6Address(token))
    return str(ipaddress.IPv4Address(int(token, 16)))


def parse(text: str) -> list[dict]:
    """Entries of /proc/net/ip_vs_conn as dicts in ipvs_info's names."""
    entries = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) < 9:
            continue
        entry = {
            "protocol": _PROTOCOLS.get(words[0], words[0].lower()),
            "client": _address(words[1]),
            "client_port": int(words[2], 16),
            "virtual": _address(words[3]),
            "virtual_port": int(words[4], 16),
            "real_server": _address(words[5]),
            "real_server_port": int(words[6], 16),
            "state": words[7],
            "expires": int(words[8]),
        }
        if len(words) >= 10:
            entry["persistence_engine"] = words[9]
            entry["persistence_data"] = " ".join(words[10:])
        if entry["protocol"] == "ip" and entry["virtual_port"] == 0 and ":" not in words[3]:
            entry["fwmark"] = int(words[3], 16)
        entries.append(entry)
    return entries


def split_templates(entries: list[dict]) -> tuple[list[dict], list[dict]]:
    """(connections, templates): a template is the entry with client port 0."""
    connections = [e for e in entries if e["client_port"] != 0]
    templates = [{k: v for k, v in e.items() if k != "client_port"} for e in entries if e["client_port"] == 0]
    return connections, templates


def read(proc_file: str = PROC_FILE) -> list[dict]:
    """Read and parse the connection table of the calling thread's network namespace."""
    with open(proc_file, encoding="ascii", errors="replace") as handle:
        return parse(handle.read())
