# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The iptables backend of fwmark_rule: the mangle table's PREROUTING and OUTPUT, IPv4 and IPv6.

Reads each family once with ``iptables -t mangle -S`` (what ``-C`` would ask line by line, in
one process) and writes each family with one ``iptables-restore --noflush`` batch: a table
commit, atomic on both the nf_tables and the legacy variant. IPv4 and IPv6 are two commits.
Only lines tagged ``-m comment --comment lvs.ipvs:<name>`` are ever deleted (by their exact
text, never by number). Several ports use ``-m multiport``, which takes 15 ports (a range
counts twice): longer lists become several lines with the same tag.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import shlex
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import BackendError, Entry, Match, Plan, PortRange, Rule
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import OUTPUT, PREROUTING, PROTOCOLS, TAG, normalise_ports, sort_entries

Runner = t.Callable[[t.List[str], t.Optional[str]], t.Tuple[int, str, str]]
Which = t.Callable[[str], t.Optional[str]]

FAMILIES = ("ipv4", "ipv6")
PROGRAMS = {"ipv4": ("iptables", "iptables-restore"), "ipv6": ("ip6tables", "ip6tables-restore")}
IPT_CHAINS = {PREROUTING: "PREROUTING", OUTPUT: "OUTPUT"}
MULTIPORT_SLOTS = 15
WAIT_SECONDS = 5
_FULL_MASK = 0xFFFFFFFF


def chunk_ports(ports: t.Sequence[PortRange]) -> t.List[t.Tuple[PortRange, ...]]:
    """Split ports into groups multiport takes: at most 15 slots, a range takes two."""
    chunks: t.List[t.Tuple[PortRange, ...]] = []
    current: t.List[PortRange] = []
    used = 0
    for port in ports:
        cost = 1 if port.first == port.last else 2
        if used + cost > MULTIPORT_SLOTS:
            chunks.append(tuple(current))
            current, used = [], 0
        current.append(port)
        used += cost
    if current:
        chunks.append(tuple(current))
    return chunks


def _port_text(port: PortRange) -> str:
    return str(port.first) if port.first == port.last else f"{port.first}:{port.last}"


def line_of(chain: str, match: Match, name: str) -> str:
    """One entry as `iptables -S` prints it (and as iptables-restore takes it)."""
    words = ["-A", IPT_CHAINS[chain]]
    if match.source:
        words += ["-s", match.source]
    words += ["-d", match.destination, "-p", match.protocol]
    if len(match.ports) == 1:
        words += ["-m", match.protocol, "--dport", _port_text(match.ports[0])]
    else:
        words += ["-m", "multiport", "--dports", ",".join(_port_text(p) for p in match.ports)]
    words += ["-m", "comment", "--comment", f'"{TAG}{name}"', "-j", "MARK", "--set-xmark", f"0x{match.mark:x}/0xffffffff"]
    return " ".join(words)


def _network(value: str, family: str) -> t.Optional[str]:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return None
    return str(network) if (network.version == 4) == (family == "ipv4") and network.prefixlen else None


def _port_range(text: str) -> t.Optional[PortRange]:
    first, sep, last = text.partition(":")
    if not first.isdigit() or (sep and not last.isdigit()):
        return None
    port = PortRange(int(first), int(last) if sep else int(first))
    return port if 1 <= port.first <= port.last <= 65535 else None


def _mark(value: str) -> t.Optional[int]:
    mark_text, sep, mask_text = value.partition("/")
    try:
        mark = int(mark_text, 0)
        mask = int(mask_text, 0) if sep else _FULL_MASK
    except ValueError:
        return None
    return mark if mask == _FULL_MASK and 1 <= mark <= _FULL_MASK else None


def match_from_words(words: t.Sequence[str], family: str) -> t.Optional[Match]:
    """The Match of one -S line's words after `-A CHAIN`, or None when the line does more or other than we write."""
    found: t.Dict[str, t.Any] = {}
    modules: t.Set[str] = set()
    for index in range(0, len(words), 2):
        option = words[index]
        if index + 1 >= len(words):
            return None
        value = words[index + 1]
        if option in ("-s", "-d"):
            key = "source" if option == "-s" else "destination"
            network = _network(value, family)
            if network is None or key in found:
                return None
            found[key] = network
        elif option == "-p" and value in PROTOCOLS and "protocol" not in found:
            found["protocol"] = value
        elif option == "-m" and value in PROTOCOLS + ("multiport", "comment"):
            modules.add(value)
        elif option in ("--dport", "--destination-port", "--dports", "--destination-ports") and "ports" not in found:
            ranges = [_port_range(item) for item in value.split(",")]
            if any(r is None for r in ranges):
                return None
            found["ports"] = normalise_ports(t.cast(t.List[PortRange], ranges))
        elif option in ("--set-xmark", "--set-mark") and "mark" not in found:
            mark = _mark(value)
            if mark is None:
                return None
            found["mark"] = mark
        elif (option, value) == ("-j", "MARK") or option == "--comment":
            continue
        else:
            return None
    if not all(key in found for key in ("destination", "protocol", "ports", "mark")):
        return None
    if any(module in PROTOCOLS and module != found["protocol"] for module in modules):
        return None
    return Match(family, found["destination"], found["protocol"], found["ports"], found.get("source"), found["mark"])


def parse_line(line: str, family: str) -> t.Optional[t.Tuple[str, str, t.Optional[Match]]]:
    """(chain, name, match or None) of a tagged `-A PREROUTING|OUTPUT` line; None for every other line."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if len(words) < 2 or words[0] != "-A" or words[1] not in IPT_CHAINS.values():
        return None
    comments = [words[i + 1] for i in range(len(words) - 1) if words[i] == "--comment"]
    if not comments or not comments[0].startswith(TAG):
        return None
    return words[1].lower(), comments[0][len(TAG):], match_from_words(words[2:], family)


class IptablesBackend:
    """fwmark rules in mangle PREROUTING / OUTPUT (see the module docstring)."""

    name = "iptables"
    interface = "iptables-restore"

    def __init__(self, run: Runner, which: Which) -> None:
        self._run = run
        self._which = which
        self._broken: t.Dict[str, str] = {}

    def _program(self, family: str, index: int) -> str:
        program = PROGRAMS[family][index]
        path = self._which(program)
        if not path:
            raise BackendError(f"{program} is not installed (backend=iptables); install iptables, or use backend=nftables")
        return path

    def read(self) -> t.List[Entry]:
        entries: t.List[Entry] = []
        self._broken = {}
        for family in FAMILIES:
            try:
                program = self._program(family, 0)
            except BackendError as exc:
                if family == "ipv4":
                    raise
                self._broken[family] = str(exc)
                continue
            rc, out, err = self._run([program, "-w", str(WAIT_SECONDS), "-t", "mangle", "-S"], None)
            if rc != 0:
                message = f"{PROGRAMS[family][0]} -t mangle -S failed: {err.strip() or 'exit status ' + str(rc)}"
                if family == "ipv4":
                    raise BackendError(message)
                self._broken[family] = message  # IPv6 may be off; an error only if an IPv6 rule is to change
                continue
            for line in out.splitlines():
                parsed = parse_line(line.strip(), family)
                if parsed is not None:
                    chain, name, match = parsed
                    text = line_of(chain, match, name) if match is not None else line.strip()
                    entries.append(Entry(name, chain, match, text, ref=(family, line.strip())))
        return entries

    def entries(self, rule: Rule) -> t.List[Entry]:
        result = []
        for chain in rule.chains:
            for chunk in chunk_ports(rule.match.ports):
                match = dataclasses.replace(rule.match, ports=chunk)
                result.append(Entry(rule.name, chain, match, line_of(chain, match, rule.name), ref=(rule.match.family, None)))
        return result

    def _lines(self, plan: Plan) -> t.Dict[str, t.List[str]]:
        lines: t.Dict[str, t.List[str]] = {family: [] for family in FAMILIES}
        for entry in plan.delete:
            family, line = entry.ref
            lines[family].append("-D" + line[2:])
        for entry in sort_entries(plan.add):
            lines[entry.ref[0]].append(entry.text)
        for family, broken in self._broken.items():
            if lines[family]:
                raise BackendError(broken)
        return lines

    def commands(self, plan: Plan) -> t.List[str]:
        return [f"{PROGRAMS[family][0]} -t mangle {line}" for family, lines in self._lines(plan).items() for line in lines]

    def apply(self, plan: Plan) -> None:
        done: t.List[str] = []
        for family, lines in self._lines(plan).items():
            if not lines:
                continue
            program = self._program(family, 1)
            rc, out, err = self._run([program, f"--wait={WAIT_SECONDS}", "--noflush"], "*mangle\n" + "\n".join(lines) + "\nCOMMIT\n")
            if rc != 0:
                already = f"; the {' and '.join(done)} batch was applied" if done else ""
                raise BackendError(f"{PROGRAMS[family][1]} refused the batch, which changed nothing{already}: {(err or out).strip()}",
                                   [f"{PROGRAMS[family][0]} -t mangle {line}" for line in lines])
            done.append(family)

    def render(self, entries: t.Sequence[Entry]) -> str:
        """Our entries as `iptables -S` lines, IPv4 then IPv6 (the text of --diff)."""
        lines = []
        for family in FAMILIES:
            texts = [entry.text for entry in sort_entries(entries) if entry.ref[0] == family]
            if texts:
                lines.append(f"# {PROGRAMS[family][0]} -t mangle")
                lines.extend(texts)
        return "\n".join(lines) + "\n" if lines else ""
