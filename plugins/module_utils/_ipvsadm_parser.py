# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""`ipvsadm -S -n` output and `ipvsadm -R` input -> service entries in the options of ipvs_table.

The rules are replayed in order, as `ipvsadm -R` would run them against an empty table:
-A / -E / -D add, edit and delete a service, -a / -e / -d a real server, -C clears everything.
The result is a list of entries in the option names of lvs.ipvs.ipvs_service (`real_servers`
included) holding only what the text says; defaults, ranges and normalisation are the model's
business (_model), exactly as for entries written by hand. Only numeric addresses and ports are
understood: `ipvsadm -S` without `-n` writes host and service names.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import COMMANDS, DEFAULT_PERSISTENCE, SWITCHES, spellings
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import FAMILIES, FORWARDING, PROTOCOLS, TUNNEL_CHECKSUMS

OPTION = "running_config"

# Every spelling of ipvsadm 1.31 (short and long) -> the command, or the option of lvs.ipvs.ipvs_service it sets.
_COMMANDS = {spelling: command for command, words in COMMANDS.items() for spelling in words}
_SERVICE_SWITCHES = dict(spellings(PROTOCOLS), **{spelling: "fwmark" for switch in SWITCHES if switch.of == "key" for spelling in switch.spellings})
_SWITCHES = {spelling: switch for switch in SWITCHES if switch.of != "key" for spelling in switch.spellings}
# The values' own switches -> (option, value).
_VALUES = dict(
    {spelling: ("forwarding", method) for spelling, method in spellings(FORWARDING).items()},
    **{spelling: ("tunnel_checksum", checksum) for spelling, checksum in spellings(TUNNEL_CHECKSUMS).items()},
    **{spelling: ("family", family) for spelling, family in spellings(FAMILIES).items()},
)
_NUMERIC = ("-n", "--numeric")  # what -S -n writes anyway
_INTEGERS = {switch.option for switch in SWITCHES if switch.takes == "integer"}
_SERVICE_ONLY = {switch.option for switch in SWITCHES if switch.of == "service"}
_SERVER_ONLY = {switch.option for switch in SWITCHES if switch.of == "server"} | {"forwarding", "tunnel_checksum"}
_ACCEPTED_COMMANDS = "-A, -E, -D, -C, -a, -e, -d (the lines of ipvsadm -S -n)"
_DIGITS = re.compile(r"[0-9]+")

ServiceKey = t.Tuple[t.Any, ...]
Entry = t.Dict[str, t.Any]


class _LineError(Exception):
    """A problem of one line, turned into an OptionError naming running_config and the line number."""


def _split_endpoint(text: str, what: str) -> t.Tuple[str, t.Optional[int]]:
    """`198.51.100.1:80`, `[2001:db8::1]:80`, `198.51.100.1`, `2001:db8::1` -> (address, port or None)."""
    port: t.Optional[str] = None
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _LineError(f"{text!r} is not a valid {what}; accepted: [IPv6]:port")
        port = rest[1:] if rest else None
    elif text.count(":") == 1:
        address, port = text.split(":")
    else:
        address = text
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        raise _LineError(f"{text!r} is not a numeric {what}; accepted: an IPv4 or IPv6 address (save with ipvsadm -S -n, which writes no names)") from None
    if port is None or port == "":
        return address, None
    if not _DIGITS.fullmatch(port):
        raise _LineError(f"port {port!r} of {text!r} is not numeric; accepted: 0 to 65535 (save with ipvsadm -S -n, which writes no service names)")
    return address, int(port)


def _number(value: str, name: str) -> int:
    if not _DIGITS.fullmatch(value):
        raise _LineError(f"{name} {value!r} is not a number")
    return int(value)


def _words(line: str) -> t.List[str]:
    """The words of a line; `--option=value` becomes two words; a leading `ipvsadm` is dropped."""
    words: t.List[str] = []
    for word in line.split():
        if word.startswith("--") and "=" in word:
            words.extend(word.split("=", 1))
        else:
            words.append(word)
    if words and words[0].rsplit("/", 1)[-1] == "ipvsadm":
        words = words[1:]
    return words


def _read_options(words: t.Sequence[str]) -> t.Tuple[str, t.Dict[str, t.Any], t.Dict[str, str]]:
    """(command, {option: value}, {option: the word that gave it}) of one line's words."""
    command: t.Optional[str] = None
    options: t.Dict[str, t.Any] = {}
    given: t.Dict[str, str] = {}
    index = 0
    value: t.Any
    while index < len(words):
        word = words[index]
        if word in _NUMERIC:
            index += 1
            continue
        if word in _COMMANDS:
            if command is not None:
                raise _LineError(f"two commands ({word} after another); accepted: one of {_ACCEPTED_COMMANDS} per line")
            command = _COMMANDS[word]
            index += 1
            continue
        if word in _SERVICE_SWITCHES or (word in _SWITCHES and _SWITCHES[word].takes in ("text", "integer")):
            if index + 1 >= len(words):
                raise _LineError(f"{word} needs a value")
            index += 1
            option, value = ("service", (_SERVICE_SWITCHES[word], words[index])) if word in _SERVICE_SWITCHES else (_SWITCHES[word].option, words[index])
        elif word in _SWITCHES and _SWITCHES[word].takes == "optional integer":
            # The timeout is optional: `-p` alone means 360 seconds, as in ipvsadm.
            option, value = _SWITCHES[word].option, DEFAULT_PERSISTENCE
            if index + 1 < len(words) and _DIGITS.fullmatch(words[index + 1]):
                value = int(words[index + 1])
                index += 1
        elif word in _SWITCHES:
            option, value = _SWITCHES[word].option, True
        elif word in _VALUES:
            option, value = _VALUES[word]
        else:
            raise _LineError(f"{word!r} is not an option ipvsadm -R understands here; accepted: the options of {_ACCEPTED_COMMANDS}")
        if option in options:
            if option == "service":
                raise _LineError(f"two virtual services on one line ({word})")
            if option == "forwarding":
                raise _LineError(f"two forwarding methods ({word} after {given[option]})")
            raise _LineError(f"{word} is given twice")
        options[option] = value
        given[option] = word
        index += 1
    if command is None:
        raise _LineError(f"no command; accepted: one of {_ACCEPTED_COMMANDS}")
    return command, options, given


def _service(options: t.Mapping[str, t.Any]) -> Entry:
    """The key options of the line's virtual service."""
    if "service" not in options:
        raise _LineError("no virtual service; accepted: -t|-u|--sctp-service address:port, or -f mark")
    kind, value = options["service"]
    if kind == "fwmark":
        return {"fwmark": _number(value, "fwmark"), "family": options.get("family", "ipv4")}
    address, port = _split_endpoint(value, "virtual service address")
    # ipvsadm takes a missing port as 0 (every port, which needs persistence).
    return {"protocol": kind, "address": address, "port": 0 if port is None else port}


def _key(service: t.Mapping[str, t.Any]) -> ServiceKey:
    if "fwmark" in service:
        return ("fwmark", service["family"], service["fwmark"])
    return (service["protocol"], service["address"], service["port"])


def _service_options(options: t.Mapping[str, t.Any]) -> Entry:
    entry: Entry = {option: value for option, value in options.items() if option in _SERVICE_ONLY}
    if "scheduler_flags" in entry:
        entry["scheduler_flags"] = [flag for flag in entry["scheduler_flags"].split(",") if flag]
    return entry


def _server(options: t.Mapping[str, t.Any], with_options: bool) -> Entry:
    if "server" not in options:
        raise _LineError("no real server; accepted: -r address[:port]")
    address, port = _split_endpoint(options["server"], "real server address")
    entry: Entry = {"server": address}
    if port is not None:
        entry["server_port"] = port
    if not with_options:
        return entry
    for option, value in options.items():
        if option in _SERVER_ONLY and option != "server":
            entry[option] = _number(value, option) if option in _INTEGERS else value
    return entry


def _server_key(entry: t.Mapping[str, t.Any]) -> t.Tuple[str, t.Optional[int]]:
    return (entry["server"], entry.get("server_port"))


def _find_server(servers: t.Sequence[Entry], wanted: t.Mapping[str, t.Any], service: t.Mapping[str, t.Any]) -> t.Optional[int]:
    """The index of the real server with the same address and port (a missing port is the service port)."""

    def port(entry: t.Mapping[str, t.Any]) -> t.Optional[int]:
        value = entry.get("server_port")
        return service.get("port", 0) if value is None else value

    for index, entry in enumerate(servers):
        if entry["server"] == wanted["server"] and port(entry) == port(wanted):
            return index
    return None


def _check_kind(command: str, options: t.Mapping[str, t.Any], given: t.Mapping[str, str]) -> None:
    if command in ("add_service", "edit_service", "delete_service"):
        stray = sorted(set(options) & _SERVER_ONLY)
        if stray:
            raise _LineError(f"{given[stray[0]]} is an option of a real server, not of a virtual service command")
    if command in ("add_real_server", "edit_real_server", "delete_real_server"):
        stray = sorted(set(options) & _SERVICE_ONLY)
        if stray:
            raise _LineError(f"{given[stray[0]]} is an option of a virtual service, not of a real server command")
    if command in ("delete_service", "delete_real_server", "clear"):
        allowed = {"clear": set(), "delete_service": {"service", "family"}, "delete_real_server": {"service", "family", "server"}}[command]
        stray = sorted(set(options) - allowed)
        if stray:
            raise _LineError(f"{given[stray[0]]} does not apply to this command")


def parse(text: str) -> t.List[Entry]:
    """The table that `ipvsadm -R` would build from `text`, as ipvs_table `config` entries (in order of creation).

    Blank lines and lines starting with `#` are skipped. Raises OptionError naming running_config and
    the line number for anything ipvsadm -R would refuse or that this parser does not understand.
    """
    return parse_with_lines(text)[0]


def parse_with_lines(text: str) -> t.Tuple[t.List[Entry], t.List[int]]:
    """parse(), and for each entry the number of the line that added its service (for error messages)."""
    table: t.Dict[ServiceKey, Entry] = {}
    lines: t.Dict[ServiceKey, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            _apply_line(table, lines, number, _words(stripped))
        except _LineError as exc:
            raise OptionError(OPTION, f"line {number}: {exc}: {stripped!r}") from None
    return list(table.values()), [lines[key] for key in table]


def _apply_line(table: t.Dict[ServiceKey, Entry], lines: t.Dict[ServiceKey, int], number: int, words: t.Sequence[str]) -> None:
    command, options, given = _read_options(words)
    _check_kind(command, options, given)
    if command == "clear":
        table.clear()
        lines.clear()
        return
    service = _service(options)
    key = _key(service)
    if command == "add_service":
        if key in table:
            raise _LineError("the virtual service already exists (ipvsadm -R would fail here)")
        table[key] = dict(service, **_service_options(options), real_servers=[])
        lines[key] = number
        return
    if key not in table:
        raise _LineError("no such virtual service (ipvsadm -R would fail here): add it with -A first")
    entry = table[key]
    if command == "edit_service":
        # -E sets every option anew: what the line leaves out goes back to its default.
        table[key] = dict(service, **_service_options(options), real_servers=entry["real_servers"])
    elif command == "delete_service":
        del table[key]
        del lines[key]
    else:
        servers: t.List[Entry] = entry["real_servers"]
        server = _server(options, with_options=command != "delete_real_server")
        found = _find_server(servers, server, service)
        if command == "add_real_server":
            if found is not None:
                raise _LineError("the real server already exists in this virtual service (ipvsadm -R would fail here)")
            servers.append(server)
        elif found is None:
            raise _LineError("no such real server in this virtual service (ipvsadm -R would fail here)")
        elif command == "edit_real_server":
            servers[found] = server
        else:
            del servers[found]
