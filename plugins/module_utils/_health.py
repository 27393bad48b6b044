# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The health check of a keepalived-owned service: its options validated into a HealthCheck, and the kernel read back.

A service declared with `health_check` is written by keepalived's health checker (its `virtual_server` blocks are
rendered by _keepalived from the same model objects), never by the modules. What the kernel holds for such a service
is reported by runtime_state(): which declared real servers are up, which are down (absent, or quiesced at weight 0:
runtime state, never "fixed"), whether the sorry server is in the pool, and drift (structure that differs from the
declaration: scheduler, persistence, forwarding...), in sentences.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import in_range
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    SERVER_FIELDS,
    SERVICE_FIELDS,
    RealServer,
    Service,
    _address,
    real_server_sort_key,
    render_address_port,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import service_switch

CHECK_TYPES = ("tcp", "http", "https", "command")
FAILURE_ACTIONS = ("quiesce", "remove")
HTTP_TYPES = ("http", "https")
HTTP_OPTIONS = ("path", "status", "digest", "text", "virtualhost")
# The options of some types only; the others apply to every type.
_ONLY = dict({name: HTTP_TYPES for name in HTTP_OPTIONS}, command=("command",), port=("tcp",) + HTTP_TYPES)
# Defaults of the options that every type takes; the argument spec (_argspec) reads them here.
DEFAULTS: t.Dict[str, t.Any] = {
    "interval": 5,
    "timeout": 3,
    "retries": 2,
    "retry_delay": 1,
    "on_failure": "quiesce",
    "alpha": True,
    "quorum": 1,
    "hysteresis": 0,
}
OPTIONS = ("type", "port") + HTTP_OPTIONS + ("command",) + tuple(DEFAULTS) + ("sorry_server",)
DEFAULT_PATH = "/"
DEFAULT_STATUS = (200,)
WRITER = "keepalived"
SERVICE_MISSING = "keepalived has not built it: is lvs-ipvs-check.service running?"

# The integer options: name -> (low, high, accepted values as messages say them).
_RANGES = {
    "port": (1, 65535, "1 to 65535"),
    "interval": (1, 86400, "1 to 86400 seconds"),
    "timeout": (1, 3600, "1 to 3600 seconds"),
    "retries": (0, 100, "0 to 100 (down after retries + 1 failed checks)"),
    "retry_delay": (1, 3600, "1 to 3600 seconds"),
    "quorum": (1, 65535, "1 to 65535 (the total weight of the live real servers)"),
    "hysteresis": (0, 65535, "0 to 65535, less than quorum"),
}
# A URL path: printable ASCII without space, double quote or backslash (keepalived reads it as one quoted word).
_PATH = re.compile(r'/[!#-\[\]-~]*')
_HOST = re.compile(r"[A-Za-z0-9._:-]+")
_DIGEST = re.compile(r"[0-9a-fA-F]{32}")


@dataclasses.dataclass(frozen=True)
class HealthCheck:
    """A health check of every real server of one service, normalised: options that do not apply to the type are None
    (status empty); status is sorted; the sorry server is (address, port), port 0 for a service without a port."""

    type: str
    port: t.Optional[int] = None  # None: each real server's own port
    path: t.Optional[str] = None
    status: t.Tuple[int, ...] = ()
    digest: t.Optional[str] = None
    text: t.Optional[str] = None
    virtualhost: t.Optional[str] = None
    command: t.Optional[str] = None
    interval: int = DEFAULTS["interval"]
    timeout: int = DEFAULTS["timeout"]
    retries: int = DEFAULTS["retries"]
    retry_delay: int = DEFAULTS["retry_delay"]
    on_failure: str = DEFAULTS["on_failure"]
    alpha: bool = DEFAULTS["alpha"]
    sorry_server: t.Optional[t.Tuple[str, int]] = None
    quorum: int = DEFAULTS["quorum"]
    hysteresis: int = DEFAULTS["hysteresis"]


# ------------------------------------------------------------------ options -> HealthCheck


def _given(params: t.Mapping[str, t.Any], name: str) -> t.Any:
    value = params.get(name)
    return DEFAULTS.get(name) if value is None else value


# keepalived reads its configuration in lines of at most 1024 bytes (a longer one is cut, and its --config-test crashes):
# a text option, escaped as the renderer writes it (up to 3 characters each), must fit in one line with its keyword.
MAX_TEXT = 255


def _short(option: str, value: str, accepted: str) -> str:
    if len(value) > MAX_TEXT:
        raise OptionError(option, f"is {len(value)} characters long; accepted: {accepted}, at most {MAX_TEXT} characters (keepalived reads "
                          "lines of at most 1024 bytes)")
    return value


def _text(option: str, value: t.Any, pattern: t.Pattern[str], accepted: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise OptionError(option, f"{value!r} is not valid; accepted: {accepted}")
    return _short(option, value, accepted)


def _printable(option: str, value: t.Any, accepted: str, quotes: bool = True) -> str:
    """Text for a quoted keepalived string: not blank, no newline or other control character, no double quote unless `quotes`."""
    if not isinstance(value, str) or not value.strip() or (not quotes and '"' in value) or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise OptionError(option, f"{value!r} is not valid; accepted: {accepted}")
    return _short(option, value, accepted)


def _status(value: t.Any) -> t.Tuple[int, ...]:
    accepted = "a list of HTTP status codes from 100 to 599, such as [200, 301]"
    if not isinstance(value, (list, tuple)) or not value:
        raise OptionError("status", f"{value!r} is not a list of status codes; accepted: {accepted}")
    return tuple(sorted({in_range("status", code, 100, 599, accepted) for code in value}))


def _sorry_server(value: t.Any, service: Service) -> t.Tuple[str, int]:
    """`ADDR`, `ADDR:PORT`, `[V6]` or `[V6]:PORT` as (address, port); the port defaults to the service's (0 without one)."""
    option = "sorry_server"
    accepted = f"an {service.family} address, optionally with a port: 192.0.2.99, 192.0.2.99:8080, [2001:db8::99]:8080"
    text = str(value).strip()
    port_text = None
    if text.startswith("["):
        address_text, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise OptionError(option, f"{value!r} is not an address with a port; accepted: {accepted}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        address_text, _colon, port_text = text.partition(":")
    else:
        address_text = text
    address, family = _address(option, address_text)
    if family != service.family:
        raise OptionError(option, f"{address} is {family} but the service is {service.family}; accepted: {accepted}")
    port = in_range(option, port_text, 1, 65535, f"a port from 1 to 65535 after the address; {accepted}") if port_text is not None else service.port or 0
    return address, port


def health_check_from_params(params: t.Mapping[str, t.Any], service: Service) -> HealthCheck:
    """Validate the `health_check` options of `service` (the ipvs_table entry's) and normalise them.

    OptionError names the option relative to health_check (`interval`); the caller prefixes its place
    (`config[3].health_check.`). Unset options (None) take their defaults.
    """
    for name in params:
        if name not in OPTIONS:
            raise OptionError(name, f"is not an option of health_check; accepted: {', '.join(OPTIONS)}")
    kind = params.get("type")
    if kind is None:
        raise OptionError("type", f"missing: a health check needs its type; accepted: {', '.join(CHECK_TYPES)}")
    if kind not in CHECK_TYPES:
        raise OptionError("type", f"{kind!r} is not valid; accepted: {', '.join(CHECK_TYPES)}")
    for name, kinds in _ONLY.items():
        if params.get(name) is not None and kind not in kinds:
            raise OptionError(name, f"does not apply to type {kind}; accepted: only with type {', '.join(kinds)}")
    values: t.Dict[str, t.Any] = {}
    for name, (low, high, accepted) in _RANGES.items():
        value = _given(params, name)
        values[name] = None if value is None else in_range(name, value, low, high, accepted)
    port = values.get("port")
    if port is None and kind != "command" and not service.port:
        raise OptionError("port", "missing: the service has no port of its own (fwmark, or port 0), so the check needs the port to connect "
                          "to; accepted: 1 to 65535")
    if values["hysteresis"] >= values["quorum"]:
        raise OptionError("hysteresis", f"{values['hysteresis']} is not less than quorum {values['quorum']}; accepted: 0 to {values['quorum'] - 1}")
    on_failure = _given(params, "on_failure")
    if on_failure not in FAILURE_ACTIONS:
        raise OptionError("on_failure", f"{on_failure!r} is not valid; accepted: quiesce (weight 0), remove")
    alpha = _given(params, "alpha")
    if not isinstance(alpha, bool):
        raise OptionError("alpha", f"{alpha!r} is not a boolean; accepted: true, false")
    http: t.Dict[str, t.Any] = {}
    if kind in HTTP_TYPES:
        http["path"] = _text("path", _given(params, "path") or DEFAULT_PATH, _PATH,
                             "a URL path starting with /, printable ASCII without spaces, quotes or backslashes")
        http["status"] = _status(params["status"]) if params.get("status") is not None else DEFAULT_STATUS
        if params.get("digest") is not None:
            http["digest"] = _text("digest", params["digest"], _DIGEST, "the MD5 of the body, 32 hexadecimal digits (as genhash prints it)").lower()
        if params.get("text") is not None:
            http["text"] = _printable("text", params["text"], "text the body must contain, without control characters")
        if params.get("virtualhost") is not None:
            http["virtualhost"] = _text("virtualhost", params["virtualhost"], _HOST, "a host name such as www.example.com (the Host header)")
    command = None
    if kind == "command":
        if params.get("command") is None:
            raise OptionError("command", "missing: type command needs the command to run; accepted: a program and its arguments, "
                              "such as /usr/local/bin/check-app 8080")
        accepted = ("the absolute path of a program and its arguments, without double quotes or newlines (split into words as a shell "
                    "does, run without a shell), such as /usr/local/bin/check-app 8080")
        command = _printable("command", params["command"], accepted, quotes=False).strip()
        if not command.startswith("/"):
            raise OptionError("command", f"{command!r} does not start with an absolute path; accepted: {accepted}")
    sorry = _sorry_server(params["sorry_server"], service) if params.get("sorry_server") is not None else None
    return HealthCheck(
        type=kind, port=port, command=command, on_failure=on_failure, alpha=alpha, sorry_server=sorry,
        interval=values["interval"], timeout=values["timeout"], retries=values["retries"], retry_delay=values["retry_delay"],
        quorum=values["quorum"], hysteresis=values["hysteresis"], **http,
    )


def sorry_server_template(servers: t.Sequence[RealServer]) -> t.Optional[RealServer]:
    """The real server whose forwarding the sorry server takes (the first in ipvsadm's order), None for none (then dr)."""
    return min(servers, key=real_server_sort_key) if servers else None


def check_pool(check: HealthCheck, service: Service, servers: t.Sequence[RealServer]) -> None:
    """What keepalived requires of a health-checked service's pool (its --config-test fails otherwise); OptionError naming
    `real_servers` or `health_check.sorry_server` (relative to the service entry)."""
    if not any(server.weight > 0 for server in servers):
        raise OptionError("real_servers", "a service with health_check needs at least one real server with a weight above 0 (keepalived "
                          "refuses a virtual server without one); accepted: one or more real servers, not all drained")
    total = sum(server.weight for server in servers)
    if check.quorum + check.hysteresis > total:
        # keepalived lowers a quorum above the total weight itself (its --config-test then fails), and with quorum +
        # hysteresis above it, the real servers never come back from the sorry server once the quorum is lost (seen in the lab).
        raise OptionError("health_check.quorum", f"quorum {check.quorum} + hysteresis {check.hysteresis} is above {total}, the total weight of "
                          "the real servers (a drained one counts 0): once the quorum is lost, the real servers would never come back from "
                          f"the sorry server; accepted: quorum + hysteresis at most {total}")
    for server in servers:
        if service.fwmark is not None and server.forwarding != "nat" and server.port != 0:
            raise OptionError("real_servers", f"{render_address_port(*server.key)}: keepalived gives a real server of a fwmark service "
                              f"forwarded by {server.forwarding} no port (the packet keeps its own); accepted: server_port unset")
    template = sorry_server_template(servers)
    if check.sorry_server is not None and template is not None and template.forwarding != "nat" and service.fwmark is None:
        port = check.sorry_server[1]
        if port != service.port:
            raise OptionError("health_check.sorry_server", f"port {port} differs from the service port {service.port}, which {template.forwarding} "
                              f"forwarding always uses; accepted: the address alone, or with port {service.port}")


# ------------------------------------------------------------------ the kernel read back

def shown(value: t.Any) -> str:
    """A field's value as the sentences say it."""
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ",".join(value) if value else "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _differences(want: t.Any, have: t.Any, fields: t.Sequence[str]) -> t.List[str]:
    return [f"{name} is {shown(getattr(have, name))} in the kernel, declared {shown(getattr(want, name))}"
            for name in fields if getattr(have, name) != getattr(want, name)]


def runtime_state(service: Service, servers: t.Sequence[RealServer], check: HealthCheck,
                  have_service: t.Optional[Service], have_servers: t.Sequence[RealServer]) -> t.Dict[str, t.Any]:
    """What the kernel holds for a keepalived-owned service (`have_*`, None: not there) against its declaration.

    `up`: declared real servers at their declared weight; `down`: declared real servers absent, or at weight 0 while
    declared above 0 (runtime state); `sorry_server_active`: the sorry server is in the pool; `drift`: sentences
    about structure that differs from the declaration (a weight that is neither the declared one nor 0 is drift, and
    the server counts as up).
    """
    declared = sorted(servers, key=real_server_sort_key)
    state: t.Dict[str, t.Any] = {"service": service_switch(service), "writer": WRITER, "up": [], "down": [], "sorry_server_active": False,
                                 "drift": []}
    if have_service is None:
        state["down"] = [render_address_port(*server.key) for server in declared]
        state["drift"] = [SERVICE_MISSING]
        return state
    drift: t.List[str] = _differences(service, have_service, SERVICE_FIELDS)
    kernel = {server.key: server for server in have_servers}
    for server in declared:
        name = render_address_port(*server.key)
        found = kernel.pop(server.key, None)
        if found is None or (found.weight == 0 and server.weight > 0):
            state["down"].append(name)
        else:
            state["up"].append(name)
            if found.weight != server.weight:
                drift.append(f"real server {name}: weight is {found.weight} in the kernel, declared {server.weight} (or 0 while its check fails)")
        if found is not None:
            drift += [f"real server {name}: {sentence}" for sentence in _differences(server, found, SERVER_FIELDS)]
    for key in sorted(kernel, key=lambda key: real_server_sort_key(kernel[key])):
        # keepalived gives the sorry server the service's port (0: fwmark) unless it is forwarded by nat: the address tells it.
        if check.sorry_server is not None and key[0] == check.sorry_server[0]:
            state["sorry_server_active"] = True
        else:
            drift.append(f"real server {render_address_port(*key)} is in the kernel but neither declared nor the sorry server")
    state["drift"] = drift
    return state
