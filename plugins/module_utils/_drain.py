# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""What "drained" means, defined once: a real server of a service is drained when it has no active connection and no
live persistence template of that service points to it.

Active connections are the real server's own count (ActiveConn of `ipvsadm -Ln`). Templates are read from the connection
table (/proc/net/ip_vs_conn, `ipvsadm -Lnc`), not from the real server's persistent-connection count: that count keeps a
template the kernel has invalidated (ip_vs_check_template(), with net.ipv4.vs.expire_quiescent_template=1 at the next
connection of its client to a weight-0 server: virtual and real-server port set to 65535) until the template's timer
runs out, up to a whole persistence timeout later, although it pins nobody any more: its client was scheduled afresh.
ipvs_real_server (wait_drained) asks it; the roles and playbooks/drain.yml use that module.
"""

from __future__ import annotations

import ipaddress
import time
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils import _conntable, _kernel, _netns
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service, render_address_port, service_to_kernel

# The virtual port of a template that ip_vs_check_template() has invalidated.
INVALIDATED_PORT = 0xFFFF
# A persistent FTP service's templates carry virtual port 0 (ip_vs_sched_persist()), as a port-0 service's do.
_FTP_PORT = 21


def _virtual(service: Service) -> str:
    """The virtual address of the service's templates: its VIP, or for a fwmark service the mark in the address's first
    32 bits (ip_vs_sched_persist())."""
    if service.fwmark is None:
        return t.cast(str, service.address)
    if service.family == "ipv6":
        return str(ipaddress.IPv6Address(service.fwmark << 96))
    return str(ipaddress.IPv4Address(service.fwmark))


def template_virtuals(service: Service) -> t.Set[t.Tuple[t.Optional[str], str, int]]:
    """The (protocol, virtual, virtual_port) that the live templates of `service` carry (in _conntable's names)."""
    if service.fwmark is None:
        ports = {service.port, 0} if service.port == _FTP_PORT else {service.port}
        return {(service.protocol, _virtual(service), t.cast(int, port)) for port in ports}
    return {("ip", _virtual(service), 0)}


def template_virtual(template: t.Mapping[str, t.Any]) -> t.Tuple[t.Optional[str], str, int]:
    """What template_virtuals() gives for the service of `template`."""
    return (template["protocol"], template["virtual"], template["virtual_port"])


def is_live(template: t.Mapping[str, t.Any]) -> bool:
    """False for a template that ip_vs_check_template() has invalidated: it pins nobody."""
    return bool(template["virtual_port"] != INVALIDATED_PORT)


def pins(template: t.Mapping[str, t.Any], service: Service, real_server: RealServer) -> bool:
    """True when `template` (a template of _conntable.parse) is live and sends clients of `service` to `real_server`."""
    if not is_live(template) or template_virtual(template) not in template_virtuals(service):
        return False
    # A port-0, fwmark or FTP service's template has real-server port 0: the address tells.
    return template["real_server"] == real_server.address and template["real_server_port"] in (real_server.port, 0)


def live_templates(table_text: str, service: Service, real_server: RealServer) -> int:
    """How many live templates of `service` in the connection table text point to `real_server`."""
    lines = table_text.splitlines()
    # Templates only (client port 0, the third field) before parsing: a busy director lists millions of connections.
    templates = [line for line in lines[1:] if line.split(None, 3)[2:3] == ["0000"]]
    return sum(1 for entry in _conntable.parse("\n".join(lines[:1] + templates)) if pins(entry, service, real_server))


def _read_connection_table(netns: t.Optional[str]) -> str:
    with _netns.in_netns(netns):
        with open("/proc/thread-self/net/ip_vs_conn", encoding="ascii", errors="replace") as handle:
            return handle.read()


def wait_until_drained(netns: t.Optional[str], service: Service, real_server: RealServer, timeout: float, interval: float) -> t.Dict[str, t.Any]:
    """Poll the real server (one dest dump of its service and one read of the connection table a poll, without the table
    lock) until it is drained; TaskError after `timeout` seconds."""
    started = time.monotonic()
    kernel_service = service_to_kernel(service)
    polls = 0
    while True:
        with _kernel.session(netns) as kernel:
            entry = next((d for d in kernel.dests(kernel_service, stats=False) if (d["addr"], d["port"]) == real_server.key), None)
        polls += 1
        waited = round(time.monotonic() - started, 1)
        if entry is None:
            return {"drained": True, "waited": waited, "polls": polls, "active_connections": 0, "persistent_connections": 0}
        active = entry.get("active_conns", 0)
        templates = live_templates(_read_connection_table(netns), service, real_server)
        if active == 0 and templates == 0:
            return {"drained": True, "waited": waited, "polls": polls, "active_connections": 0, "persistent_connections": 0,
                    "inactive_connections": entry.get("inact_conns", 0)}
        if waited >= timeout:
            raise TaskError(
                f"{render_address_port(*real_server.key)} still has {active} active connections and {templates} persistence templates "
                f"after {waited:.0f} s (drain_timeout={timeout:g}); with net.ipv4.vs.expire_quiescent_template=0 a returning client "
                "renews its template on a weight-0 server", drain={"drained": False, "waited": waited, "polls": polls,
                                                                   "active_connections": active, "persistent_connections": templates})
        time.sleep(min(interval, max(0.0, timeout - waited)) or interval)
