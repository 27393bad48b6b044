# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Firewall-mark rules: option validation, the model, the plan, and the run of fwmark_rule.

A *rule* (one name) is what a user declares: mark packets to a destination, protocol and ports
(optionally from a source) with a mark, in PREROUTING and, when ``local``, in OUTPUT too.
In the kernel a rule is one or more *entries* (kernel rules tagged ``lvs.ipvs:<name>``): one per
chain for nftables; for iptables one per chain and group of at most 15 multiport slots.
Backends turn rules into entries and read entries back; the plan compares the two as
multisets of (chain, match) and never looks at anything without our tag.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import MAX_FWMARK, in_range, names
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import PROTOCOLS as IPVS_PROTOCOLS
if t.TYPE_CHECKING:
    from typing import Protocol
else:  # typing.Protocol is Python 3.8+, and managed nodes run 3.7 too; only type checkers need it
    Protocol = object

TAG = "lvs.ipvs:"
DEFAULT_TABLE = "lvs_ipvs"
PROTOCOLS = names(IPVS_PROTOCOLS)
BACKENDS = ("auto", "nftables", "iptables")
STATES = ("present", "absent")
PREROUTING = "prerouting"
OUTPUT = "output"
CHAINS = (PREROUTING, OUTPUT)
MAX_MARK = MAX_FWMARK
MAX_PORT = 65535
# nft keeps at most 128 bytes of comment; the tag takes 9 of them.
MAX_NAME = 100
_NAME = re.compile(r"[A-Za-z0-9._:/,+@-]+")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_PORT = re.compile(r"[0-9]+")
_RANGE = re.compile(r"([0-9]+)\s*[-:]\s*([0-9]+)")

RULE_KEYS = ("name", "mark", "destination", "protocol", "ports", "source", "local")  # the options of a rule (_argspec)


class BackendError(Exception):
    """nft or iptables refused or is missing; nothing of the batch that failed was applied."""

    def __init__(self, message: str, commands: t.Optional[t.List[str]] = None) -> None:
        super().__init__(message)
        self.commands = commands or []


@dataclasses.dataclass(frozen=True, order=True)
class PortRange:
    """Destination ports first..last (one port when equal)."""

    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclasses.dataclass(frozen=True)
class Match:
    """What one kernel entry matches, and the mark it sets. Networks are canonical text (198.51.100.1/32)."""

    family: str
    destination: str
    protocol: str
    ports: t.Tuple[PortRange, ...]
    source: t.Optional[str]
    mark: int


@dataclasses.dataclass(frozen=True)
class Rule:
    """One declared rule: its name, its match, and whether locally generated packets are marked too."""

    name: str
    match: Match
    local: bool = False

    @property
    def chains(self) -> t.Tuple[str, ...]:
        return (PREROUTING, OUTPUT) if self.local else (PREROUTING,)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One kernel rule with our tag. ``match`` is None when it does something this module does not write."""

    name: str
    chain: str
    match: t.Optional[Match]
    text: str
    ref: t.Any = dataclasses.field(default=None, compare=False)

    @property
    def key(self) -> t.Tuple[str, t.Optional[Match]]:
        return (self.chain, self.match)


@dataclasses.dataclass(frozen=True)
class Request:
    """A validated task: rules to have (state present) or names to remove (state absent)."""

    state: str
    rules: t.Tuple[Rule, ...]
    names: t.Tuple[str, ...]
    purge: bool
    backend: str
    table: str


@dataclasses.dataclass
class Plan:
    """Entries to keep, delete and add; ``after`` is what the kernel holds once applied."""

    keep: t.List[Entry]
    delete: t.List[Entry]
    add: t.List[Entry]

    @property
    def after(self) -> t.List[Entry]:
        return self.keep + self.add


class Backend(Protocol):
    """What the nftables and iptables backends offer to run()."""

    name: str
    interface: str

    def read(self) -> t.List[Entry]:
        ...

    def entries(self, rule: Rule) -> t.List[Entry]:
        ...

    def commands(self, plan: Plan) -> t.List[str]:
        ...

    def apply(self, plan: Plan) -> None:
        ...

    def render(self, entries: t.Sequence[Entry]) -> str:
        ...


# --- validation -------------------------------------------------------------------------------


def _is_int(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_mark(value: t.Any, option: str = "mark") -> int:
    return in_range(option, value, 1, MAX_MARK, f"1 to {MAX_MARK} (0 means unmarked)")


def _port_number(text: str, option: str, item: t.Any) -> int:
    number = int(text)
    if not 1 <= number <= MAX_PORT:
        where = "" if str(item).strip() == text else f" (in {item!r})"
        raise OptionError(option, f"{number}{where} is not a port; give ports from 1 to {MAX_PORT} or ranges such as 8000-8080")
    return number


def normalise_ports(ranges: t.Iterable[PortRange]) -> t.Tuple[PortRange, ...]:
    """Sort, and merge overlapping and adjacent ranges (as nft does): [443, 80, 81] -> (80-81, 443)."""
    merged: t.List[PortRange] = []
    for item in sorted(ranges):
        if merged and item.first <= merged[-1].last + 1:
            if item.last > merged[-1].last:
                merged[-1] = PortRange(merged[-1].first, item.last)
        else:
            merged.append(item)
    return tuple(merged)


def parse_ports(value: t.Any, option: str = "ports") -> t.Tuple[PortRange, ...]:
    if value is None or (isinstance(value, (list, tuple)) and not value):
        raise OptionError(option, "give at least one port, such as [80, 443] or ['8000-8080']")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise OptionError(option, f"{value!r} is not a list of ports; give ports such as [80, 443] or ['8000-8080']")
    ranges = []
    for item in value:
        if _is_int(item):
            text = str(item)
        elif isinstance(item, str):
            text = item.strip()
        else:
            raise OptionError(option, f"{item!r} is not a port; give ports from 1 to {MAX_PORT} or ranges such as 8000-8080")
        if text.startswith("-") or text.startswith("+"):
            raise OptionError(option, f"{item!r} is not a port; give ports from 1 to {MAX_PORT} or ranges such as 8000-8080")
        single = _PORT.fullmatch(text)
        pair = _RANGE.fullmatch(text)
        if single:
            port = _port_number(text, option, item)
            ranges.append(PortRange(port, port))
        elif pair:
            first = _port_number(pair.group(1), option, item)
            last = _port_number(pair.group(2), option, item)
            if first > last:
                raise OptionError(option, f"the range {text!r} is reversed; write it as {last}-{first}")
            ranges.append(PortRange(first, last))
        else:
            raise OptionError(option, f"{item!r} is not a port; give ports from 1 to {MAX_PORT} or ranges such as 8000-8080")
    return normalise_ports(ranges)


Network = t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_network(value: t.Any, option: str) -> Network:
    if not isinstance(value, str) or not value.strip():
        raise OptionError(option, f"{value!r} is not an address; give an IPv4 or IPv6 address or network, such as 198.51.100.1 or 198.51.100.0/24")
    text = value.strip()
    if "%" in text:
        raise OptionError(option, f"{text!r} has a scope (%...); give an address or network without one, such as 2001:db8::1 or 2001:db8::/64")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise OptionError(option, f"{text!r} is not an IPv4 or IPv6 address or network, such as 198.51.100.1, 198.51.100.0/24 or 2001:db8::1") from None
    if network.network_address != ipaddress.ip_interface(text).ip:
        raise OptionError(option, f"{text} has host bits set; the network is {network}, the single address {text.split('/')[0]}")
    if network.prefixlen == 0:
        hint = "" if option.endswith("destination") else ", or leave source out"
        raise OptionError(option, f"{text} matches every address; give the VIP or a network of it{hint}")
    return network


def family_of(network: Network) -> str:
    return "ipv4" if network.version == 4 else "ipv6"


def network_text(network: Network) -> str:
    """How a network reads in a derived name and in nft: the plain address for one host, else CIDR."""
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


def derive_name(protocol: str, destination: Network, ports: t.Sequence[PortRange], source: t.Optional[Network]) -> str:
    """The name of a rule that has none: from its match (not its mark, nor local), short enough for a comment."""
    name = f"{protocol}-{network_text(destination)}-{','.join(str(p) for p in ports)}"
    if source is not None:
        name += f"-from-{network_text(source)}"
    if len(name) <= MAX_NAME:
        return name
    return f"{protocol}-{network_text(destination)}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def parse_name(value: t.Any, option: str = "name") -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value) or len(value) > MAX_NAME:
        raise OptionError(option, f"{value!r} is not a rule name; use 1 to {MAX_NAME} letters, digits and characters of ._-:/,+@")
    return value


def _bool(value: t.Any, option: str) -> bool:
    if not isinstance(value, bool):
        raise OptionError(option, f"{value!r} is not a boolean; give true or false")
    return value


def _choice(value: t.Any, option: str, choices: t.Sequence[str]) -> str:
    if value not in choices:
        raise OptionError(option, f"{value!r} is not supported; choose one of {', '.join(choices)}")
    return t.cast(str, value)


def _rule(spec: t.Mapping[str, t.Any], prefix: str, state: str) -> Rule:
    """Validate one rule's options (prefix names them: '' or 'rules[2].'). For state absent only the name matters."""
    for key in spec:
        if key not in RULE_KEYS:
            raise OptionError(f"{prefix}{key}", f"not an option of a rule; the options are {', '.join(RULE_KEYS)}")
    name = None if spec.get("name") is None else parse_name(spec["name"], f"{prefix}name")
    protocol = _choice(spec.get("protocol", "tcp") or "tcp", f"{prefix}protocol", PROTOCOLS)
    local = False if spec.get("local") is None else _bool(spec["local"], f"{prefix}local")
    needed = ("mark", "destination", "ports") if state == "present" else (() if name else ("destination", "ports"))
    for key in needed:
        if spec.get(key) is None:
            if state == "present":
                raise OptionError(f"{prefix}{key}", "missing; mark, destination and ports are required with state=present")
            raise OptionError(f"{prefix}{key}", f"missing; give {prefix}name, or {prefix}destination and {prefix}ports, to say which rule to remove")
    mark = parse_mark(spec["mark"], f"{prefix}mark") if spec.get("mark") is not None else 0
    ports = parse_ports(spec["ports"], f"{prefix}ports") if spec.get("ports") is not None else ()
    destination = parse_network(spec["destination"], f"{prefix}destination") if spec.get("destination") is not None else None
    source = parse_network(spec["source"], f"{prefix}source") if spec.get("source") is not None else None
    if source is not None and destination is not None and source.version != destination.version:
        raise OptionError(
            f"{prefix}source",
            f"{source} is IPv{source.version} but destination {destination} is IPv{destination.version}; give both of one family",
        )
    if destination is None:  # state absent by name (required above otherwise): the match does not matter
        return Rule(t.cast(str, name), Match("ipv4", "", protocol, ports, None, mark), local)
    if name is None:
        name = derive_name(protocol, destination, ports, source)
    match = Match(family_of(destination), str(destination), protocol, ports, None if source is None else str(source), mark)
    return Rule(name, match, local)


def request_from_params(params: t.Mapping[str, t.Any]) -> Request:
    """Validate the module's parameters (as AnsibleModule passes them) into a Request; raises OptionError."""
    state = _choice(params.get("state", "present"), "state", STATES)
    backend = _choice(params.get("backend", "auto"), "backend", BACKENDS)
    table = params.get("table", DEFAULT_TABLE)
    if not isinstance(table, str) or not _TABLE.fullmatch(table):
        raise OptionError("table", f"{table!r} is not a table name; use a letter or _ then up to 63 letters, digits or _ (default {DEFAULT_TABLE})")
    purge = _bool(params.get("purge", False), "purge")
    if purge and state == "absent":
        raise OptionError("purge", "works only with state=present: it removes the rules of this collection that the task does not declare")
    rules_param = params.get("rules")
    if rules_param is not None:
        given = [key for key in RULE_KEYS if key not in ("protocol", "local") and params.get(key) is not None]
        if given:
            raise OptionError("rules", f"give either rules or the options of one rule ({', '.join(given)}), not both")
        if not isinstance(rules_param, (list, tuple)):
            raise OptionError("rules", f"{rules_param!r} is not a list of rules")
        specs: t.List[t.Tuple[str, t.Mapping[str, t.Any]]] = []
        for index, spec in enumerate(rules_param):
            if not isinstance(spec, dict):
                raise OptionError(f"rules[{index}]", f"{spec!r} is not a rule (a dictionary of name, mark, destination, protocol, ports, source, local)")
            specs.append((f"rules[{index}].", spec))
    else:
        if all(params.get(key) is None for key in ("name", "mark", "destination", "ports", "source")):
            raise OptionError("rules", "give one rule (mark, destination, protocol, ports) or a list of rules; rules=[] with purge=true removes every rule")
        specs = [("", {key: params.get(key) for key in RULE_KEYS})]
    rules: t.List[Rule] = []
    seen: t.Dict[str, str] = {}
    for prefix, spec in specs:
        rule = _rule(spec, prefix, state)
        if rule.name in seen:
            raise OptionError(
                f"{prefix}name",
                f"{rule.name!r} is already the name of {seen[rule.name] or 'another rule'}; every rule needs its own name "
                "(a derived name comes from protocol, destination, ports and source)",
            )
        seen[rule.name] = prefix.rstrip(".")
        rules.append(rule)
    if state == "absent":
        return Request(state, (), tuple(rule.name for rule in rules), False, backend, table)
    return Request(state, tuple(rules), (), purge, backend, table)


# --- plan ---------------------------------------------------------------------------------------


def plan(want: t.Sequence[Entry], have: t.Sequence[Entry], request: Request) -> Plan:
    """Compare, per name, the wanted entries with the tagged entries in the kernel (as multisets of chain and match)."""
    declared = {rule.name for rule in request.rules}
    removed = set(request.names)
    keep: t.List[Entry] = []
    delete: t.List[Entry] = []
    add: t.List[Entry] = []
    pending: t.Dict[str, t.List[Entry]] = {}
    for entry in have:
        if entry.name in declared:
            pending.setdefault(entry.name, []).append(entry)
        elif entry.name in removed or request.purge:
            delete.append(entry)
        else:
            keep.append(entry)
    for entry in want:
        candidates = pending.get(entry.name, [])
        found = next((index for index, old in enumerate(candidates) if old.match is not None and old.key == entry.key), None)
        if found is None:
            add.append(entry)
        else:
            keep.append(candidates.pop(found))
    for leftovers in pending.values():
        delete.extend(leftovers)
    return Plan(keep, delete, add)


def sort_entries(entries: t.Iterable[Entry]) -> t.List[Entry]:
    return sorted(entries, key=lambda e: (CHAINS.index(e.chain) if e.chain in CHAINS else len(CHAINS), e.name, e.text))


def summarise(entries: t.Sequence[Entry]) -> t.List[t.Dict[str, t.Any]]:
    """The `rules` return value: one dict per name, from the entries the kernel holds (or will hold)."""
    by_name: t.Dict[str, t.List[Entry]] = {}
    for entry in sort_entries(entries):
        by_name.setdefault(entry.name, []).append(entry)
    result = []
    for name in sorted(by_name):
        group = by_name[name]
        matches = [e.match for e in group]
        summary: t.Dict[str, t.Any] = {"name": name, "mark": None, "family": None, "destination": None, "protocol": None,
                                       "ports": None, "source": None, "local": any(e.chain == OUTPUT for e in group),
                                       "text": [e.text for e in group]}
        if all(m is not None for m in matches):
            known = t.cast(t.List[Match], matches)
            first = known[0]
            same = all((m.family, m.destination, m.protocol, m.source, m.mark) == (first.family, first.destination, first.protocol, first.source, first.mark)
                       for m in known)
            if same:
                ports = {chain: normalise_ports(p for e in group if e.chain == chain for p in t.cast(Match, e.match).ports) for chain in CHAINS}
                if not summary["local"] or ports[PREROUTING] == ports[OUTPUT]:
                    summary.update(mark=first.mark, family=first.family, destination=first.destination, protocol=first.protocol,
                                   ports=[str(p) for p in normalise_ports(p for m in known for p in m.ports)], source=first.source)
        result.append(summary)
    return result


def run(backend: Backend, request: Request, check_mode: bool, diff: bool) -> t.Dict[str, t.Any]:
    """Read once, plan, apply (unless check mode) in one batch, and read back. Returns the module result."""
    have = backend.read()
    want = [entry for rule in request.rules for entry in backend.entries(rule)]
    the_plan = plan(want, have, request)
    commands = backend.commands(the_plan)
    after = the_plan.after
    if commands and not check_mode:
        backend.apply(the_plan)
        after = backend.read()
    result: t.Dict[str, t.Any] = {
        "changed": bool(commands),
        "backend": backend.name,
        "interface": backend.interface,
        "commands": commands,
        "rules": summarise(after),
    }
    if diff:
        result["diff"] = {"before": backend.render(have), "after": backend.render(after)}
    return result
