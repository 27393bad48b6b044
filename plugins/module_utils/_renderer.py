# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Operations and tables as ipvsadm command lines (without the leading `ipvsadm`).

Lines follow `ipvsadm -S -n` of ipvsadm 1.31: `-A <service> -s <scheduler> [-p <timeout> [-M <mask>]]
[--pe <engine>] [-b <flags>]` and `-a <service> -r <address:port> -g|-m|-i -w <weight> [tunnel options]`.
Two additions so that no change is invisible: `-o` for one-packet scheduling, and `-x`/`-y` for
connection thresholds, which `-S` leaves out.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._fields import COMMANDS, FAMILIES, FORWARDING, LOCAL, PROTOCOLS, SWITCH, TUNNEL_CHECKSUMS, switches
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    FULL_PREFIX,
    RealServer,
    Service,
    prefix_to_mask,
    real_server_sort_key,
    render_address_port,
    service_sort_key,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation

_PROTOCOL_SWITCHES = switches(PROTOCOLS)
_IPV6_SWITCH = switches(FAMILIES)["ipv6"]
_FORWARDING_SWITCHES = switches(FORWARDING + (LOCAL,))
_CHECKSUM_SWITCHES = switches(TUNNEL_CHECKSUMS)
_COMMANDS = {name: spellings[0] for name, spellings in COMMANDS.items()}


def service_switch(service: Service) -> str:
    """`-t 198.51.100.1:80`, `-u [2001:db8::1]:53`, `-f 8`, `-f 8 -6`."""
    if service.fwmark is not None:
        return f"{SWITCH['fwmark']} {service.fwmark}" + (f" {_IPV6_SWITCH}" if service.family == "ipv6" else "")
    return f"{_PROTOCOL_SWITCHES[t.cast(str, service.protocol)]} {render_address_port(t.cast(str, service.address), t.cast(int, service.port))}"


def granularity_text(service: Service) -> t.Optional[str]:
    """The -M value, None for the default (one client address)."""
    granularity = service.persistence_granularity
    if granularity is None or granularity == FULL_PREFIX[service.family]:
        return None
    if isinstance(granularity, int) and service.family == "ipv4":
        return str(ipaddress.IPv4Address(prefix_to_mask(granularity)))
    return str(granularity)


def service_options(service: Service) -> str:
    words = [SWITCH["scheduler"], service.scheduler]
    if service.persistence_timeout is not None:
        words += [SWITCH["persistence_timeout"], str(service.persistence_timeout)]
        granularity = granularity_text(service)
        if granularity is not None:
            words += [SWITCH["persistence_granularity"], granularity]
    if service.persistence_engine:
        words += [SWITCH["persistence_engine"], service.persistence_engine]
    if service.scheduler_flags:
        words += [SWITCH["scheduler_flags"], ",".join(service.scheduler_flags)]
    if service.one_packet:
        words.append(SWITCH["one_packet"])
    return " ".join(words)


def real_server_options(real_server: RealServer) -> str:
    words = [_FORWARDING_SWITCHES.get(real_server.forwarding, LOCAL.switches[0]), SWITCH["weight"], str(real_server.weight)]
    if real_server.forwarding == "tunnel" and real_server.tunnel_type is not None:
        words += [SWITCH["tunnel_type"], real_server.tunnel_type]
        if real_server.tunnel_port is not None:
            words += [SWITCH["tunnel_port"], str(real_server.tunnel_port)]
        if real_server.tunnel_checksum is not None:
            words.append(_CHECKSUM_SWITCHES[real_server.tunnel_checksum])
    if real_server.upper_threshold:
        words += [SWITCH["upper_threshold"], str(real_server.upper_threshold)]
    if real_server.lower_threshold:
        words += [SWITCH["lower_threshold"], str(real_server.lower_threshold)]
    return " ".join(words)


def render(operation: Operation) -> str:
    """One operation as the ipvsadm line that does the same: `-A ...`, `-E ...`, `-D ...`, `-a ...`, `-e ...`, `-d ...`."""
    words = [_COMMANDS[operation.action], service_switch(operation.service)]
    if operation.real_server is None:
        if operation.action != "delete_service":
            words.append(service_options(operation.service))
        return " ".join(words)
    words += [SWITCH["server"], render_address_port(*operation.real_server.key)]
    if operation.action != "delete_real_server":
        words.append(real_server_options(operation.real_server))
    return " ".join(words)


def render_service_table(services: t.Iterable[t.Tuple[Service, t.Iterable[RealServer]]]) -> t.List[str]:
    """Services and their real servers as `ipvsadm -S -n` lists them, in its sort order."""
    lines: t.List[str] = []
    for service, servers in sorted(services, key=lambda entry: service_sort_key(entry[0])):
        switch = service_switch(service)
        lines.append(f"{_COMMANDS['add_service']} {switch} {service_options(service)}")
        add_to_service = f"{_COMMANDS['add_real_server']} {switch} {SWITCH['server']}"
        for real_server in sorted(servers, key=real_server_sort_key):
            lines.append(f"{add_to_service} {render_address_port(*real_server.key)} {real_server_options(real_server)}")
    return lines
