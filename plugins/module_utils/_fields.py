# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""IPVS fields and ipvsadm switches, written once: option name, ipvsadm spellings, kernel value, accepted values, range.

The model (_model) validates and converts with these tables, the ipvsadm parser (_ipvsadm_parser) and
renderer (_renderer) read and write the switches, and the argument specs (_argspec) take their choices
and defaults from them. One integer range check, in_range(), gives every module the same message:
``<option>: <value> is out of range; accepted: <low> to <high> ...``.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError

_INTEGER = re.compile(r"-?[0-9]+")

Number = t.TypeVar("Number", int, float)


def in_range(option: str, value: t.Any, low: Number, high: t.Optional[Number] = None, accepted: t.Optional[str] = None) -> Number:
    """`value` as a number from `low` to `high` (None: no upper bound), or an OptionError naming `option`.

    Integer text (" 80") counts as the integer; a float bound (drain_poll_interval) accepts floats too; a bool is no number.
    """
    if accepted is None:
        accepted = f"{low} to {high}" if high is not None else f"{low} or more"
    kinds: t.Tuple[type, ...] = (int, float) if isinstance(low, float) else (int,)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise OptionError(option, f"{value!r} is not {'a number' if float in kinds else 'an integer'}; accepted: {accepted}")
    number = t.cast(Number, value)
    if number < low or (high is not None and number > high):
        raise OptionError(option, f"{number} is out of range; accepted: {accepted}")
    return number


@dataclasses.dataclass(frozen=True)
class Integer:
    """An integer option: its range, and how the range reads in messages."""

    option: str
    low: int
    high: int
    accepted: str

    def check(self, value: t.Any, option: t.Optional[str] = None) -> int:
        return in_range(option or self.option, value, self.low, self.high, self.accepted)


@dataclasses.dataclass(frozen=True)
class Choice:
    """One accepted value of an option: the kernel's number for it, its own ipvsadm switch, other names ipvsadm accepts."""

    name: str
    kernel: int = 0
    switches: t.Tuple[str, ...] = ()
    aliases: t.Tuple[str, ...] = ()


def names(choices: t.Sequence[Choice]) -> t.Tuple[str, ...]:
    return tuple(choice.name for choice in choices)


def kernel_numbers(choices: t.Sequence[Choice]) -> t.Dict[str, int]:
    return {choice.name: choice.kernel for choice in choices}


def switches(choices: t.Sequence[Choice]) -> t.Dict[str, str]:
    """The ipvsadm switch (as rendered) of each value that has one: {"dr": "-g", ...}."""
    return {choice.name: choice.switches[0] for choice in choices if choice.switches}


def spellings(choices: t.Sequence[Choice]) -> t.Dict[str, str]:
    """Every ipvsadm spelling of the values' switches -> the value: {"-g": "dr", "--gatewaying": "dr", ...}."""
    return {spelling: choice.name for choice in choices for spelling in choice.switches}


# ------------------------------------------------------------------ virtual services

AF_INET = 2
AF_INET6 = 10
FAMILIES = (Choice("ipv4", AF_INET), Choice("ipv6", AF_INET6, ("-6", "--ipv6")))
PROTOCOLS = (Choice("tcp", 6, ("-t", "--tcp-service")), Choice("udp", 17, ("-u", "--udp-service")), Choice("sctp", 132, ("--sctp-service",)))
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos")
DEFAULT_SCHEDULER = "wlc"
PERSISTENCE_ENGINES = ("sip",)
MAX_FWMARK = 4294967295
MAX_PERSISTENCE_TIMEOUT = 2678400  # 31 days, as ipvsadm
DEFAULT_PERSISTENCE = 360  # ipvsadm's `-p` without a value

PORT = Integer("port", 0, 65535, "0 to 65535 (0 only with persistence_timeout)")
FWMARK = Integer("fwmark", 1, MAX_FWMARK, f"1 to {MAX_FWMARK}")
PERSISTENCE_TIMEOUT = Integer("persistence_timeout", 1, MAX_PERSISTENCE_TIMEOUT, f"1 to {MAX_PERSISTENCE_TIMEOUT} seconds (31 days)")

# ------------------------------------------------------------------ real servers

MAX_WEIGHT = 65535
MAX_THRESHOLD = 2147483647
# "local" is what the kernel reports for a real server it delivers to locally; nobody asks for it, and ipvsadm -S prints -g for it.
FORWARDING = (
    Choice("dr", 3, ("-g", "--gatewaying"), ("route", "gate")),
    Choice("nat", 0, ("-m", "--masquerading"), ("masq",)),
    Choice("tunnel", 2, ("-i", "--ipip"), ("ipip",)),
)
LOCAL = Choice("local", 1, ("-g",))
TUNNEL_TYPES = (Choice("ipip", 0), Choice("gue", 1), Choice("gre", 2))
TUNNEL_CHECKSUMS = (Choice("nocsum", 0, ("--tun-nocsum",)), Choice("csum", 1, ("--tun-csum",)), Choice("remcsum", 2, ("--tun-remcsum",)))

SERVER_PORT = Integer("server_port", 0, 65535, "0 to 65535")
WEIGHT = Integer("weight", 0, MAX_WEIGHT, f"0 to {MAX_WEIGHT} (0 takes no new connections)")
UPPER_THRESHOLD = Integer("upper_threshold", 0, MAX_THRESHOLD, f"0 to {MAX_THRESHOLD} (0 = no limit)")
LOWER_THRESHOLD = Integer("lower_threshold", 0, MAX_THRESHOLD, f"0 to {MAX_THRESHOLD} (0 = no limit)")
TUNNEL_PORT = Integer("tunnel_port", 1, 65535, "1 to 65535")

# ------------------------------------------------------------------ ipvsadm switches (besides the values' own: -t, -g, --tun-csum...)


@dataclasses.dataclass(frozen=True)
class Switch:
    """An ipvsadm switch: the option of ipvs_service / ipvs_real_server it sets, its spellings (the first is
    rendered), which lines take it (a service's key, a service's options, a real server's) and what follows it."""

    option: str
    spellings: t.Tuple[str, ...]
    of: str  # "key", "service" or "server"
    takes: str  # "text", "integer", "optional integer" (-p alone means DEFAULT_PERSISTENCE) or "nothing" (a flag)


SWITCHES = (
    Switch("fwmark", ("-f", "--fwmark-service"), "key", "text"),
    Switch("scheduler", ("-s", "--scheduler"), "service", "text"),
    Switch("persistence_timeout", ("-p", "--persistent"), "service", "optional integer"),
    Switch("persistence_granularity", ("-M", "--netmask"), "service", "text"),
    Switch("persistence_engine", ("--pe",), "service", "text"),
    Switch("scheduler_flags", ("-b", "--sched-flags"), "service", "text"),
    Switch("one_packet", ("-o", "--ops"), "service", "nothing"),
    Switch("server", ("-r", "--real-server"), "server", "text"),
    Switch("weight", ("-w", "--weight"), "server", "integer"),
    Switch("upper_threshold", ("-x", "--u-threshold"), "server", "integer"),
    Switch("lower_threshold", ("-y", "--l-threshold"), "server", "integer"),
    Switch("tunnel_type", ("--tun-type",), "server", "text"),
    Switch("tunnel_port", ("--tun-port",), "server", "integer"),
)
SWITCH = {switch.option: switch.spellings[0] for switch in SWITCHES}  # option -> the switch as rendered: SWITCH["weight"] == "-w"

# ------------------------------------------------------------------ global timeouts, sync daemon

# The kernel refuses more than INT_MAX / HZ seconds; HZ is 250 on Debian, up to 1000 elsewhere.
MAX_TIMEOUT = 2147483
TIMEOUT_ACCEPTED = f"1 to {MAX_TIMEOUT} seconds, or leave it unset to keep the current value"

SYNC_ROLES = ("master", "backup")
SYNC_STATES = ("started", "stopped")
DEFAULT_GROUP = "224.0.0.81"
DEFAULT_SYNC_PORT = 8848
DEFAULT_TTL = 1
MAX_SYNC_ID = 255  # the sync message carries the id in one byte
SYNC_ID = Integer("sync_id", 0, MAX_SYNC_ID, f"0 to {MAX_SYNC_ID} (0 on a backup accepts every sync id)")
SYNC_PORT = Integer("port", 1, 65535, "1 to 65535")
TTL = Integer("ttl", 1, 255, "1 to 255")

# ------------------------------------------------------------------ ipvsadm commands (the planner's action names)

COMMANDS = {
    "add_service": ("-A", "--add-service"),
    "edit_service": ("-E", "--edit-service"),
    "delete_service": ("-D", "--delete-service"),
    "clear": ("-C", "--clear"),
    "add_real_server": ("-a", "--add-server"),
    "edit_real_server": ("-e", "--edit-server"),
    "delete_real_server": ("-d", "--delete-server"),
}
