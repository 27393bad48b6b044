# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The nftables backend of fwmark_rule: our own ``inet`` table, read and changed through nft's JSON.

Only our table is ever listed or changed. It holds a ``prerouting`` chain (type filter, hook
prerouting, priority mangle) and, while a rule is local, an ``output`` chain (type route, hook
output, priority mangle: what iptables' mangle OUTPUT is, so a new mark is routed again).
Every change is one JSON batch, which nft commits as one transaction. Chains and the table
are removed when nothing remains in them.
"""

from __future__ import annotations

import ipaddress
import json
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import BackendError, Entry, Match, Plan, PortRange, Rule
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import CHAINS, OUTPUT, PREROUTING, PROTOCOLS, TAG, normalise_ports, sort_entries

try:
    from nftables import Nftables  # the libnftables binding (Debian: python3-nftables)
except ImportError:
    Nftables = None

Runner = t.Callable[[t.List[str], t.Optional[str]], t.Tuple[int, str, str]]
Which = t.Callable[[str], t.Optional[str]]

PRIORITY_MANGLE = -150
CHAIN_SPECS: t.Dict[str, t.Dict[str, t.Any]] = {
    PREROUTING: {"type": "filter", "hook": "prerouting", "prio": PRIORITY_MANGLE, "policy": "accept"},
    OUTPUT: {"type": "route", "hook": "output", "prio": PRIORITY_MANGLE, "policy": "accept"},
}
_MARK_KEY = {"meta": {"key": "mark"}}


class NftCli:
    """nft's JSON through the nft program: `nft -j -f -`, the batch on standard input."""

    name = "nft"

    def __init__(self, run: Runner, nft: str) -> None:
        self._run = run
        self._nft = nft

    def __call__(self, batch: t.Dict[str, t.Any]) -> t.Tuple[int, t.Optional[t.Dict[str, t.Any]], str]:
        rc, out, err = self._run([self._nft, "-j", "-f", "-"], json.dumps(batch))
        try:
            data = json.loads(out) if out.strip() else None
        except ValueError:
            return (rc or 1), None, (err + out).strip()
        return rc, data, err


class NftLib:
    """nft's JSON through the libnftables binding, in this process."""

    name = "libnftables"

    def __init__(self) -> None:
        if Nftables is None:
            raise OSError("the nftables Python binding is not installed")
        self._nft = Nftables()
        self._nft.set_json_output(True)
        self._nft.set_handle_output(True)

    def __call__(self, batch: t.Dict[str, t.Any]) -> t.Tuple[int, t.Optional[t.Dict[str, t.Any]], str]:
        rc, out, err = self._nft.json_cmd(batch)
        return rc, (out if isinstance(out, dict) else None), err


Interface = t.Callable[[t.Dict[str, t.Any]], t.Tuple[int, t.Optional[t.Dict[str, t.Any]], str]]


def open_interface(run: Runner, which: Which) -> t.Optional[t.Any]:
    """The libnftables binding where it loads, else the nft program where it is installed, else None."""
    if Nftables is not None:
        try:
            return NftLib()
        except (OSError, AttributeError):
            pass
    nft = which("nft")
    return NftCli(run, nft) if nft else None


# --- rule <-> JSON and text ------------------------------------------------------------------------


def _l3(family: str) -> str:
    return "ip" if family == "ipv4" else "ip6"


def _addr_json(network: str) -> t.Any:
    net = ipaddress.ip_network(network)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _addr_text(network: str) -> str:
    net = ipaddress.ip_network(network)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _range_json(port: PortRange) -> t.Any:
    return port.first if port.first == port.last else {"range": [port.first, port.last]}


def _ports_json(ports: t.Sequence[PortRange]) -> t.Any:
    return _range_json(ports[0]) if len(ports) == 1 else {"set": [_range_json(p) for p in ports]}


def _ports_text(ports: t.Sequence[PortRange]) -> str:
    return str(ports[0]) if len(ports) == 1 else "{ " + ", ".join(str(p) for p in ports) + " }"


def _payload_match(protocol: str, field: str, right: t.Any) -> t.Dict[str, t.Any]:
    return {"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": field}}, "right": right}}


def expr_of(match: Match) -> t.List[t.Dict[str, t.Any]]:
    """The JSON statements of one entry: [saddr] daddr dport counter mark."""
    l3 = _l3(match.family)
    expr = []
    if match.source:
        expr.append(_payload_match(l3, "saddr", _addr_json(match.source)))
    expr.append(_payload_match(l3, "daddr", _addr_json(match.destination)))
    expr.append(_payload_match(match.protocol, "dport", _ports_json(match.ports)))
    expr.append({"counter": None})
    expr.append({"mangle": {"key": _MARK_KEY, "value": match.mark}})
    return expr


def text_of(match: Match, name: str) -> str:
    """The same entry as nft prints it (without counter values)."""
    l3 = _l3(match.family)
    words = []
    if match.source:
        words.append(f"{l3} saddr {_addr_text(match.source)}")
    words.append(f"{l3} daddr {_addr_text(match.destination)}")
    words.append(f"{match.protocol} dport {_ports_text(match.ports)}")
    words.append(f'counter meta mark set 0x{match.mark:08x} comment "{TAG}{name}"')
    return " ".join(words)


def _network_from_json(right: t.Any, family: str) -> t.Optional[str]:
    try:
        if isinstance(right, str):
            net = ipaddress.ip_network(right)
        elif isinstance(right, dict) and isinstance(right.get("prefix"), dict):
            net = ipaddress.ip_network(f"{right['prefix']['addr']}/{right['prefix']['len']}")
        else:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    if (net.version == 4) != (family == "ipv4"):
        return None
    return str(net)


def _range_from_json(item: t.Any) -> t.Optional[PortRange]:
    if isinstance(item, int) and not isinstance(item, bool):
        first = last = item
    elif isinstance(item, dict) and isinstance(item.get("range"), list) and len(item["range"]) == 2:
        first, last = item["range"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (first, last)):
            return None
    else:
        return None
    return PortRange(first, last) if 1 <= first <= last <= 65535 else None


def _ports_from_json(right: t.Any) -> t.Optional[t.Tuple[PortRange, ...]]:
    items = right["set"] if isinstance(right, dict) and isinstance(right.get("set"), list) else [right]
    ranges = [_range_from_json(item) for item in items]
    if not ranges or any(r is None for r in ranges):
        return None
    return normalise_ports(t.cast(t.List[PortRange], ranges))


def match_from_expr(expr: t.Any) -> t.Optional[Match]:
    """The Match of a rule's statements, or None when the rule does anything this module does not write."""
    if not isinstance(expr, list):
        return None
    family: t.Optional[str] = None
    found: t.Dict[str, t.Any] = {}
    for item in expr:
        if not isinstance(item, dict) or len(item) != 1:
            return None
        kind, body = next(iter(item.items()))
        if kind == "counter":
            continue
        if "mark" in found:  # nothing but counters may follow the mark statement
            return None
        if kind == "mangle":
            value = body.get("value") if isinstance(body, dict) else None
            if body.get("key") != _MARK_KEY or not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 0xFFFFFFFF:
                return None
            found["mark"] = value
            continue
        if kind != "match" or not isinstance(body, dict) or body.get("op") not in ("==", "in"):
            return None
        left = body.get("left")
        payload = left.get("payload") if isinstance(left, dict) else None
        if not isinstance(payload, dict):
            return None
        protocol, field = payload.get("protocol"), payload.get("field")
        if protocol in ("ip", "ip6") and field in ("daddr", "saddr"):
            this = "ipv4" if protocol == "ip" else "ipv6"
            if family not in (None, this) or field in found:
                return None
            family = this
            network = _network_from_json(body.get("right"), this)
            if network is None:
                return None
            found[field] = network
        elif protocol in PROTOCOLS and field == "dport" and "protocol" not in found:
            ports = _ports_from_json(body.get("right"))
            if ports is None:
                return None
            found["protocol"] = protocol
            found["ports"] = ports
        else:
            return None
    if family is None or not all(key in found for key in ("daddr", "protocol", "mark")):
        return None
    return Match(family, found["daddr"], found["protocol"], found["ports"], found.get("saddr"), found["mark"])


# --- the backend --------------------------------------------------------------------------------


class _TableState:
    """What the listing of our table says, besides our entries."""

    def __init__(self) -> None:
        self.exists = False
        self.chains: t.Dict[str, t.Dict[str, t.Any]] = {}
        self.foreign_rules: t.Dict[str, int] = {chain: 0 for chain in CHAINS}
        self.foreign_objects = 0


def _describe(spec: t.Mapping[str, t.Any]) -> str:
    return f"type {spec.get('type')} hook {spec.get('hook')} priority {spec.get('prio')} policy {spec.get('policy')}"


class NftBackend:
    """fwmark rules in the inet table ``table`` (see the module docstring)."""

    name = "nftables"

    def __init__(self, nft: Interface, table: str) -> None:
        self._nft = nft
        self.table = table
        self.interface = getattr(nft, "name", "nft")
        self._state = _TableState()

    def _call(self, commands: t.List[t.Dict[str, t.Any]]) -> t.Tuple[int, t.Optional[t.Dict[str, t.Any]], str]:
        return self._nft({"nftables": [{"metainfo": {"json_schema_version": 1}}] + commands})

    def read(self) -> t.List[Entry]:
        """List our table (only ours). A missing table is an empty one."""
        rc, data, err = self._call([{"list": {"table": {"family": "inet", "name": self.table}}}])
        state = _TableState()
        entries: t.List[Entry] = []
        if rc != 0:
            if "No such file or directory" in err:
                self._state = state
                return entries
            raise BackendError(f"nft could not list table inet {self.table}: {err.strip() or 'exit status ' + str(rc)}")
        for obj in (data or {}).get("nftables", []):
            if not isinstance(obj, dict) or len(obj) != 1:
                continue
            kind, body = next(iter(obj.items()))
            if kind == "metainfo":
                continue
            if kind == "table":
                state.exists = True
            elif kind == "chain" and body.get("name") in CHAINS:
                state.chains[body["name"]] = {key: body.get(key) for key in ("type", "hook", "prio", "policy")}
            elif kind == "rule":
                chain = body.get("chain")
                comment = body.get("comment") or ""
                if chain not in CHAINS:
                    continue  # a rule of a chain that is not ours: that chain counts
                if not comment.startswith(TAG):
                    state.foreign_rules[chain] += 1
                    continue
                name = comment[len(TAG):]
                match = match_from_expr(body.get("expr"))
                text = text_of(match, name) if match else f'{json.dumps(body.get("expr"), sort_keys=True)} comment "{comment}"'
                entries.append(Entry(name, chain, match, text, ref=(body.get("handle"), body.get("expr"))))
            else:
                state.foreign_objects += 1  # other chains, sets, maps, flowtables, stateful objects
        self._state = state
        return entries

    def entries(self, rule: Rule) -> t.List[Entry]:
        return [Entry(rule.name, chain, rule.match, text_of(rule.match, rule.name)) for chain in rule.chains]

    def _chain_json(self, chain: str) -> t.Dict[str, t.Any]:
        return dict({"family": "inet", "table": self.table, "name": chain}, **CHAIN_SPECS[chain])

    def _rule_json(self, entry: Entry, handle: t.Optional[int] = None) -> t.Dict[str, t.Any]:
        expr = expr_of(entry.match) if entry.match is not None else entry.ref[1]
        rule: t.Dict[str, t.Any] = {"family": "inet", "table": self.table, "chain": entry.chain}
        if handle is not None:
            rule["handle"] = handle
        rule["comment"] = TAG + entry.name
        rule["expr"] = expr
        return rule

    def batch(self, plan: Plan) -> t.List[t.Tuple[str, t.Dict[str, t.Any]]]:
        """The plan as (nft command text, JSON command) pairs, in the order of the one transaction."""
        state, table = self._state, self.table
        needed = {entry.chain for entry in plan.after}
        wrong = [chain for chain, spec in state.chains.items() if spec != CHAIN_SPECS[chain]]
        for chain in wrong:
            if state.foreign_rules[chain]:
                raise BackendError(
                    f"chain inet {table} {chain} is {_describe(state.chains[chain])}, not {_describe(CHAIN_SPECS[chain])}, "
                    "and holds rules this module did not write; repair or delete it by hand"
                )
        deletes = list(plan.delete) + [entry for entry in plan.keep if entry.chain in wrong]
        adds = [entry for entry in plan.keep if entry.chain in wrong] + list(plan.add)
        kept_chains = {chain for chain in state.chains if chain in needed or state.foreign_rules[chain]}
        drop_chains = [chain for chain in CHAINS if chain in state.chains and (chain not in kept_chains or chain in wrong)]
        new_chains = [chain for chain in CHAINS if chain in needed and (chain not in state.chains or chain in wrong)]
        drop_table = state.exists and not kept_chains and not state.foreign_objects
        ops: t.List[t.Tuple[str, t.Dict[str, t.Any]]] = []
        if needed and not state.exists:
            ops.append((f"add table inet {table}", {"add": {"table": {"family": "inet", "name": table}}}))
        unpaired_adds = list(adds)
        for old in deletes:
            handle = old.ref[0]
            partner = None
            if old.chain not in drop_chains:
                partner = next((new for new in unpaired_adds if (new.name, new.chain) == (old.name, old.chain)), None)
            if partner is not None:
                unpaired_adds.remove(partner)
                ops.append((f"replace rule inet {table} {old.chain} handle {handle} {partner.text}", {"replace": {"rule": self._rule_json(partner, handle)}}))
            else:
                ref = {"family": "inet", "table": table, "chain": old.chain, "handle": handle}
                ops.append((f"delete rule inet {table} {old.chain} handle {handle}", {"delete": {"rule": ref}}))
        for chain in drop_chains:
            ops.append((f"delete chain inet {table} {chain}", {"delete": {"chain": {"family": "inet", "table": table, "name": chain}}}))
        for chain in new_chains:
            spec = CHAIN_SPECS[chain]
            ops.append((f"add chain inet {table} {chain} {{ type {spec['type']} hook {spec['hook']} priority mangle; policy {spec['policy']}; }}",
                        {"add": {"chain": self._chain_json(chain)}}))
        for new in sort_entries(unpaired_adds):
            ops.append((f"add rule inet {table} {new.chain} {new.text}", {"add": {"rule": self._rule_json(new)}}))
        if drop_table:
            ops.append((f"delete table inet {table}", {"delete": {"table": {"family": "inet", "name": table}}}))
        return ops

    def commands(self, plan: Plan) -> t.List[str]:
        return [text for text, dummy in self.batch(plan)]

    def apply(self, plan: Plan) -> None:
        ops = self.batch(plan)
        rc, dummy, err = self._call([command for dummy, command in ops])
        if rc != 0:
            raise BackendError(f"nft refused the batch, which changed nothing (one transaction): {err.strip() or 'exit status ' + str(rc)}",
                               [text for text, dummy in ops])

    def render(self, entries: t.Sequence[Entry]) -> str:
        """Our entries as nft lists them, chain by chain (the text of --diff)."""
        if not entries:
            return ""
        lines = [f"table inet {self.table} {{"]
        for chain in CHAINS:
            texts = [entry.text for entry in sort_entries(entries) if entry.chain == chain]
            if texts:
                spec = CHAIN_SPECS[chain]
                lines.append(f"\tchain {chain} {{")
                lines.append(f"\t\ttype {spec['type']} hook {spec['hook']} priority mangle; policy {spec['policy']};")
                lines.extend(f"\t\t{text}" for text in texts)
                lines.append("\t}")
        lines.append("}")
        return "\n".join(lines) + "\n"
