# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""keepalived `virtual_server` blocks rendered from the model: the keepalived side of the one source of truth.

The same Service, RealServer and HealthCheck objects that the ipvsadm renderer (_renderer) writes as `ipvsadm -R`
lines are written here for keepalived 2.2.7's health checker (keepalived.conf(5)), in ipvsadm's sort order, so that
equal declarations give equal text. Every value was validated by the model; the texts that keepalived reads as
quoted strings (a command, a text to find) are escaped for its parser (backslash and double quote).

The way back is virtual_server_keys(): which services a configuration text (such as the fragments the director role
writes) has `virtual_server` blocks for, read from the lines _service_lines() writes.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._health import HealthCheck, sorry_server_template
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service, _parsed_address, real_server_sort_key, service_sort_key
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import granularity_text

INDENT = "    "
# Where the director role writes the fragments of its health-checked services (included by lvs-ipvs-check.conf).
HEALTH_CHECK_DIR = "/etc/keepalived/lvs-ipvs.d"
# keepalived's names of the forwarding methods (lvs_method) and of the check types.
LVS_METHODS = {"dr": "DR", "nat": "NAT", "tunnel": "TUN"}
CHECKERS = {"tcp": "TCP_CHECK", "http": "HTTP_GET", "https": "SSL_GET", "command": "MISC_CHECK"}

Entry = t.Tuple[Service, t.Sequence[RealServer], HealthCheck]


def quoted(text: str) -> str:
    """`text` as one double-quoted word of keepalived's configuration (its parser unescapes backslashes inside quotes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal_pattern(text: str) -> str:
    """A PCRE pattern that matches `text` literally: every ASCII character but letters and digits escaped."""
    return "".join(f"\\{char}" if char.isascii() and not char.isalnum() else char for char in text)


def lvs_method(real_server: RealServer) -> str:
    """`DR`, `NAT`, `TUN`, `TUN type gue port 6080 csum`."""
    words = [LVS_METHODS[real_server.forwarding]]
    if real_server.forwarding == "tunnel" and real_server.tunnel_type not in (None, "ipip"):
        words += ["type", real_server.tunnel_type]
        if real_server.tunnel_port is not None:
            words += ["port", str(real_server.tunnel_port)]
        if real_server.tunnel_checksum is not None:
            words.append(real_server.tunnel_checksum)
    return " ".join(words)


def _address_port(address: str, port: t.Optional[int]) -> str:
    """keepalived's `ADDR PORT` (IPv6 without brackets); a port of 0 (fwmark services) is left out."""
    return f"{address} {port}" if port else address


def _service_lines(service: Service) -> t.List[str]:
    if service.fwmark is not None:
        lines = [f"virtual_server fwmark {service.fwmark} {{"]
        if service.family == "ipv6":
            lines.append(f"{INDENT}ip_family inet6")
    else:
        lines = [f"virtual_server {_address_port(t.cast(str, service.address), service.port)} {{",
                 f"{INDENT}protocol {t.cast(str, service.protocol).upper()}"]
    lines.append(f"{INDENT}lvs_sched {service.scheduler}")
    lines += [f"{INDENT}{flag}" for flag in service.scheduler_flags]
    if service.one_packet:
        lines.append(f"{INDENT}ops")
    if service.persistence_timeout is not None:
        lines.append(f"{INDENT}persistence_timeout {service.persistence_timeout}")
        granularity = granularity_text(service)
        if granularity is not None:
            lines.append(f"{INDENT}persistence_granularity {granularity}")
    if service.persistence_engine:
        lines.append(f"{INDENT}persistence_engine {service.persistence_engine}")
    return lines


def _check_lines(check: HealthCheck, real_server: RealServer) -> t.List[str]:
    """The checker block of one real server."""
    inner = INDENT * 3
    lines = [f"{INDENT * 2}{CHECKERS[check.type]} {{"]
    if check.type == "command":
        lines += [f"{inner}misc_path {quoted(t.cast(str, check.command))}", f"{inner}misc_timeout {check.timeout}"]
    else:
        lines += [f"{inner}connect_port {check.port or real_server.port}", f"{inner}connect_timeout {check.timeout}"]
    lines += [f"{inner}retry {check.retries}", f"{inner}delay_before_retry {check.retry_delay}"]
    if check.type in ("http", "https"):
        if check.virtualhost is not None:
            lines.append(f"{inner}virtualhost {check.virtualhost}")
            if check.type == "https":
                lines.append(f"{inner}enable_sni")
        url = INDENT * 4
        lines += [f"{inner}url {{", f"{url}path {quoted(t.cast(str, check.path))}", f"{url}status_code {' '.join(map(str, check.status))}"]
        if check.digest is not None:
            lines.append(f"{url}digest {check.digest}")
        if check.text is not None:
            lines.append(f"{url}regex {quoted(literal_pattern(check.text))}")
        lines.append(f"{inner}}}")
    lines.append(f"{INDENT * 2}}}")
    return lines


def _real_server_lines(real_server: RealServer, check: HealthCheck) -> t.List[str]:
    inner = INDENT * 2
    lines = [f"{INDENT}real_server {_address_port(real_server.address, real_server.port)} {{",
             f"{inner}weight {real_server.weight}", f"{inner}lvs_method {lvs_method(real_server)}"]
    if real_server.upper_threshold:
        lines.append(f"{inner}uthreshold {real_server.upper_threshold}")
    if real_server.lower_threshold:
        lines.append(f"{inner}lthreshold {real_server.lower_threshold}")
    return lines + _check_lines(check, real_server) + [f"{INDENT}}}"]


def render_virtual_server(service: Service, servers: t.Sequence[RealServer], check: HealthCheck) -> t.List[str]:
    """One `virtual_server` block, as lines (the pool as _health.check_pool accepts it)."""
    lines = _service_lines(service)
    template = sorry_server_template(servers)
    # The service's own lvs_method is the sorry server's.
    lines.append(f"{INDENT}lvs_method {lvs_method(template) if template is not None else LVS_METHODS['dr']}")
    lines.append(f"{INDENT}delay_loop {check.interval}")
    if check.on_failure == "quiesce":
        lines.append(f"{INDENT}inhibit_on_failure")
    if check.alpha:
        lines.append(f"{INDENT}alpha")
    # check_pool keeps quorum + hysteresis within the pool's total weight, as keepalived needs.
    lines += [f"{INDENT}quorum {check.quorum}", f"{INDENT}hysteresis {check.hysteresis}"]
    if check.sorry_server is not None:
        # Only nat forwarding takes the sorry server's own port; keepalived gives it the service's port otherwise.
        address, port = check.sorry_server
        nat = template is not None and template.forwarding == "nat"
        lines.append(f"{INDENT}sorry_server {_address_port(address, port if nat else 0)}")
    for real_server in sorted(servers, key=real_server_sort_key):
        lines += _real_server_lines(real_server, check)
    return lines + ["}"]


def render_virtual_servers(entries: t.Iterable[Entry]) -> str:
    """The `virtual_server` blocks of keepalived-owned services, in ipvsadm's sort order; "" for none."""
    blocks = ["\n".join(render_virtual_server(*entry)) + "\n" for entry in sorted(entries, key=lambda entry: service_sort_key(entry[0]))]
    return "\n".join(blocks)


# ------------------------------------------------------------------ the way back: which services a text has blocks for


# A double-quoted word (a command, a path, a pattern), which may hold braces and comment marks.
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _words(line: str) -> t.List[str]:
    """The words of a configuration line before a comment (keepalived's comments start with # or !), quoted words as `""`."""
    line = _QUOTED.sub('""', line)
    for mark in ("#", "!"):
        line = line.split(mark, 1)[0]
    return line.replace("{", " { ").replace("}", " } ").split()


def _block_key(header: t.Sequence[str], protocol: str, family: t.Optional[str]) -> t.Optional[t.Tuple[t.Any, ...]]:
    """The Service.key of a block from its header words (after `virtual_server`), None for a form this collection does not
    write (`virtual_server group NAME`, a name instead of an address)."""
    try:
        if header[0] == "fwmark":
            return Service(family=family or "ipv4", fwmark=int(header[1])).key
        address, address_family = _parsed_address(header[0])
        port = int(header[1]) if len(header) > 1 else 0
    except (IndexError, ValueError):
        return None
    return Service(family=address_family, protocol=protocol.lower(), address=address, port=port).key


def virtual_server_keys(text: str) -> t.List[t.Tuple[t.Any, ...]]:
    """The Service.key of each `virtual_server` block of a keepalived configuration text, in the text's order: the inverse
    of the first lines render_virtual_server() writes (`virtual_server ADDR [PORT]` with `protocol`, or `virtual_server
    fwmark N` with `ip_family`). keepalived's defaults hold where a line is missing: protocol TCP, family inet, port 0."""
    keys: t.List[t.Tuple[t.Any, ...]] = []
    depth = 0
    header: t.Optional[t.List[str]] = None
    protocol, family = "tcp", None
    for line in text.splitlines():
        words = _words(line)
        if depth == 0 and words[:1] == ["virtual_server"]:
            header, protocol, family = [word for word in words[1:] if word != "{"], "tcp", None
        elif depth == 1 and header is not None and len(words) >= 2:
            if words[0] == "protocol":
                protocol = words[1]
            elif words[0] == "ip_family":
                family = "ipv6" if words[1] == "inet6" else "ipv4"
        depth += words.count("{") - words.count("}")
        if depth <= 0:
            depth = 0
            if header is not None and "}" in words:
                key = _block_key(header, protocol, family)
                if key is not None:
                    keys.append(key)
                header = None
    return keys
