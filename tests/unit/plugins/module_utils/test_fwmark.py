# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fwmark_rule's pure logic: validation, names, the plan, and rendering to nft JSON / text and iptables lines."""

from __future__ import annotations

import ipaddress
import json
import typing as t

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import fwmark_rule_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import (
    MAX_NAME,
    OUTPUT,
    PREROUTING,
    Entry,
    Match,
    OptionError,
    PortRange,
    Request,
    Rule,
    derive_name,
    normalise_ports,
    parse_network,
    parse_ports,
    plan,
    request_from_params,
    summarise,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark_iptables import IptablesBackend, chunk_ports, line_of, parse_line
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark_nft import NftBackend, expr_of, match_from_expr, text_of

VIP = "198.51.100.1"
VIP6 = "2001:db8::10"
PNMPP = {"mark": 8, "destination": VIP, "protocol": "tcp", "ports": [80, 443]}


def with_(**changes: t.Any) -> dict[str, t.Any]:
    """The article's rule with some options changed."""
    return {**PNMPP, **changes}


def validated(**options: t.Any) -> dict[str, t.Any]:
    """Parameters as AnsibleModule hands them over: the real argument spec validator, conversions and defaults applied."""
    result = ArgumentSpecValidator(**fwmark_rule_spec()).validate(options)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def raw(**options: t.Any) -> dict[str, t.Any]:
    """Parameters that the argument spec would already refuse, to test our own validation in depth."""
    params: dict[str, t.Any] = dict.fromkeys(fwmark_rule_spec()["argument_spec"])
    params.update(protocol="tcp", local=False, purge=False, state="present", backend="auto", table="lvs_ipvs")
    params.update(options)
    return params


# --- validation --------------------------------------------------------------------------------------

BAD = [
    # (id, params, option named, words the message has)
    ("mark-0", raw(**with_(mark=0)), "mark", "1 to 4294967295"),
    ("mark-2^32", raw(**with_(mark=4294967296)), "mark", "1 to 4294967295"),
    ("mark-negative", raw(**with_(mark=-8)), "mark", "1 to 4294967295"),
    ("mark-bool", raw(**with_(mark=True)), "mark", "1 to 4294967295"),
    ("mark-missing", raw(**with_(mark=None)), "mark", "required"),
    ("port-70000", raw(**with_(ports=[80, 70000])), "ports", "1 to 65535"),
    ("port-0", raw(**with_(ports=[0])), "ports", "1 to 65535"),
    ("port-word", raw(**with_(ports=["http"])), "ports", "8000-8080"),
    ("port-negative", raw(**with_(ports=["-80"])), "ports", "1 to 65535"),
    ("range-reversed", raw(**with_(ports=["90-80"])), "ports", "80-90"),
    ("range-open", raw(**with_(ports=["80-"])), "ports", "8000-8080"),
    ("range-too-high", raw(**with_(ports=["65000-65536"])), "ports", "1 to 65535"),
    ("ports-empty", raw(**with_(ports=[])), "ports", "at least one port"),
    ("ports-missing", raw(**with_(ports=None)), "ports", "required"),
    ("ports-float", raw(**with_(ports=[80.5])), "ports", "1 to 65535"),
    ("destination-bad", raw(**with_(destination="198.51.100.300")), "destination", "198.51.100.0/24"),
    ("destination-prefix-33", raw(**with_(destination="198.51.100.0/33")), "destination", "IPv6"),
    ("destination-host-bits", raw(**with_(destination="198.51.100.1/24")), "destination", "198.51.100.0/24"),
    ("destination-everything", raw(**with_(destination="0.0.0.0/0")), "destination", "VIP"),
    ("destination-missing", raw(**with_(destination=None)), "destination", "required"),
    ("destination-empty", raw(**with_(destination="")), "destination", "198.51.100.1"),
    ("source-bad", raw(**with_(source="192.0.2.0/24x")), "source", "IPv4 or IPv6"),
    ("source-host-bits", raw(**with_(source="192.0.2.7/24")), "source", "192.0.2.0/24"),
    ("source-v4-destination-v6", raw(**with_(destination=VIP6, source="192.0.2.0/24")), "source", "one family"),
    ("source-v6-destination-v4", raw(**with_(source="2001:db8:1::/48")), "source", "one family"),
    ("protocol-icmp", raw(**with_(protocol="icmp")), "protocol", "tcp, udp, sctp"),
    ("name-space", raw(**with_(name="my rule")), "name", "letters, digits"),
    ("name-quote", raw(**with_(name='a"b')), "name", "letters, digits"),
    ("name-too-long", raw(**with_(name="x" * (MAX_NAME + 1))), "name", "1 to 100"),
    ("local-string", raw(**with_(local="yes")), "local", "true or false"),
    ("table-dash", raw(**with_(table="lvs-ipvs")), "table", "lvs_ipvs"),
    ("table-empty", raw(**with_(table="")), "table", "letter"),
    ("backend-unknown", raw(**with_(backend="ebtables")), "backend", "auto, nftables, iptables"),
    ("state-unknown", raw(**with_(state="enabled")), "state", "present, absent"),
    ("purge-with-absent", raw(**with_(purge=True, state="absent")), "purge", "state=present"),
    ("nothing-given", raw(), "rules", "rules=[] with purge=true"),
    ("purge-alone", raw(purge=True), "rules", "rules=[] with purge=true"),
    ("rules-and-mark", raw(rules=[PNMPP], mark=8), "rules", "not both"),
    ("rules-not-a-list", raw(rules="shop"), "rules", "list of rules"),
    ("rules-item-not-a-dict", raw(rules=["shop"]), "rules[0]", "dictionary"),
    ("rules-item-bad-mark", raw(rules=[PNMPP, with_(name="b", mark=0)]), "rules[1].mark", "1 to 4294967295"),
    ("rules-item-bad-port", raw(rules=[with_(ports=["8080-8000"])]), "rules[0].ports", "8000-8080"),
    ("rules-item-unknown-option", raw(rules=[with_(port=80)]), "rules[0].port", "destination"),
    ("rules-same-derived-name", raw(rules=[PNMPP, with_(mark=9)]), "rules[1].name", "own name"),
    ("rules-same-name", raw(rules=[with_(name="a"), with_(name="a", ports=[8080])]), "rules[1].name", "rules[0]"),
    ("absent-without-name-or-match", raw(state="absent", mark=8), "destination", "give name, or destination and ports"),
]


@pytest.mark.parametrize("params, option, words", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_names_the_option(params: dict[str, t.Any], option: str, words: str) -> None:
    with pytest.raises(OptionError) as caught:
        request_from_params(params)
    assert caught.value.option == option
    assert str(caught.value).startswith(option + ": ")
    assert words in str(caught.value)


@pytest.mark.parametrize(
    "options, fragment",
    [
        (with_(protocol="icmp"), "protocol"),
        (with_(mark="eight"), "mark"),
        (with_(rules=[PNMPP]), "rules"),
        (dict(rules=[PNMPP], local=True), "rules"),
        (with_(backend="ebtables"), "backend"),
    ],
)
def test_argument_spec_refuses_before_us(options: dict[str, t.Any], fragment: str) -> None:
    result = ArgumentSpecValidator(**fwmark_rule_spec()).validate(options)
    assert result.error_messages and fragment in " ".join(result.error_messages)


def test_the_article_two_rules_are_one_request() -> None:
    request = request_from_params(validated(**PNMPP))
    match = Match("ipv4", "198.51.100.1/32", "tcp", (PortRange(80, 80), PortRange(443, 443)), None, 8)
    assert request == Request("present", (Rule("tcp-198.51.100.1-80,443", match, False),), (), False, "auto", "lvs_ipvs")


def test_ports_given_as_strings_ints_ranges_are_normalised() -> None:
    request = request_from_params(validated(**with_(ports=["443", 80, " 81 ", "8000:8080", "8050-8090", 443])))
    assert request.rules[0].match.ports == (PortRange(80, 81), PortRange(443, 443), PortRange(8000, 8090))


def test_absent_by_name_needs_nothing_else() -> None:
    assert request_from_params(validated(name="shop", state="absent")).names == ("shop",)


def test_absent_by_match_removes_the_rule_present_created() -> None:
    present = request_from_params(validated(**with_(ports=[443, 80])))
    absent = request_from_params(validated(destination=VIP, ports=["80", "443"], state="absent"))
    assert absent.names == (present.rules[0].name,)


def test_rules_list_with_purge() -> None:
    request = request_from_params(validated(rules=[with_(name="shop"), with_(destination=VIP6, local=True)], purge=True))
    assert [rule.name for rule in request.rules] == ["shop", "tcp-2001:db8::10-80,443"]
    assert request.rules[1].match.family == "ipv6" and request.rules[1].chains == (PREROUTING, OUTPUT)
    assert request.purge


def test_empty_rules_with_purge_means_none() -> None:
    request = request_from_params(validated(rules=[], purge=True))
    assert request.rules == () and request.purge


# --- names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocol, destination, ports, source, name",
    [
        ("tcp", "198.51.100.1", ["80", "443"], None, "tcp-198.51.100.1-80,443"),
        ("tcp", "198.51.100.1", ["443", "80", "80"], None, "tcp-198.51.100.1-80,443"),
        ("udp", "198.51.100.0/24", ["5060-5061"], "192.0.2.0/24", "udp-198.51.100.0/24-5060-5061-from-192.0.2.0/24"),
        ("sctp", "2001:db8::10", ["3868"], None, "sctp-2001:db8::10-3868"),
        ("tcp", "2001:db8::/64", ["1-1024"], "2001:db8:1::1", "tcp-2001:db8::/64-1-1024-from-2001:db8:1::1"),
    ],
)
def test_derived_names(protocol: str, destination: str, ports: list[str], source: t.Optional[str], name: str) -> None:
    dest = parse_network(destination, "destination")
    src = None if source is None else parse_network(source, "source")
    assert derive_name(protocol, dest, parse_ports(ports), src) == name


def test_long_derived_names_are_hashed_and_stable() -> None:
    many = [str(port) for port in range(1000, 1100, 2)]
    first = derive_name("tcp", parse_network(VIP6, "d"), parse_ports(many), None)
    again = derive_name("tcp", parse_network(VIP6, "d"), parse_ports(list(reversed(many))), None)
    other = derive_name("tcp", parse_network(VIP6, "d"), parse_ports(many + ["2000"]), None)
    assert first == again != other
    assert len(first) <= MAX_NAME and first.startswith("tcp-2001:db8::10-")


def test_mark_and_local_do_not_change_the_derived_name() -> None:
    a = request_from_params(validated(**PNMPP)).rules[0]
    b = request_from_params(validated(**with_(mark=9, local=True))).rules[0]
    assert a.name == b.name and a != b


@given(st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 300)), min_size=1, max_size=40))
def test_normalised_ports_cover_exactly_the_same_ports(pairs: list[tuple[int, int]]) -> None:
    ranges = [PortRange(first, min(first + width, 65535)) for first, width in pairs]
    merged = normalise_ports(ranges)
    covered = {port for r in ranges for port in range(r.first, r.last + 1)}
    assert {port for r in merged for port in range(r.first, r.last + 1)} == covered
    assert all(a.last + 1 < b.first for a, b in zip(merged, merged[1:]))  # sorted, neither overlapping nor adjacent
    assert normalise_ports(merged) == merged


# --- plan ------------------------------------------------------------------------------------------------

M8 = Match("ipv4", "198.51.100.1/32", "tcp", (PortRange(80, 80), PortRange(443, 443)), None, 8)
M9 = Match("ipv4", "198.51.100.2/32", "udp", (PortRange(53, 53),), None, 9)


def entry(name: str, match: t.Optional[Match], chain: str = PREROUTING, ref: t.Any = None) -> Entry:
    return Entry(name, chain, match, f"{chain}:{name}:{match}", ref)


def request(rules: t.Sequence[Rule] = (), names: t.Sequence[str] = (), purge: bool = False) -> Request:
    return Request("absent" if names else "present", tuple(rules), tuple(names), purge, "auto", "lvs_ipvs")


def test_plan_nothing_to_do() -> None:
    have = [entry("shop", M8, ref=1)]
    result = plan([entry("shop", M8)], have, request([Rule("shop", M8)]))
    assert (result.keep, result.delete, result.add) == (have, [], [])


def test_plan_changed_ports_delete_and_add_same_name() -> None:
    changed = Match("ipv4", "198.51.100.1/32", "tcp", (PortRange(80, 80),), None, 8)
    result = plan([entry("shop", changed)], [entry("shop", M8, ref=1)], request([Rule("shop", changed)]))
    assert [e.match for e in result.delete] == [M8] and [e.match for e in result.add] == [changed] and not result.keep


def test_plan_local_adds_the_output_entry_only() -> None:
    want = [entry("shop", M8), entry("shop", M8, OUTPUT)]
    result = plan(want, [entry("shop", M8, ref=1)], request([Rule("shop", M8, True)]))
    assert [e.chain for e in result.keep] == [PREROUTING] and [e.chain for e in result.add] == [OUTPUT] and not result.delete


def test_plan_unrecognised_entry_is_replaced_even_if_equal_text() -> None:
    result = plan([entry("shop", M8)], [entry("shop", None, ref=1)], request([Rule("shop", M8)]))
    assert len(result.delete) == 1 and len(result.add) == 1


def test_plan_duplicates_are_removed() -> None:
    result = plan([entry("shop", M8)], [entry("shop", M8, ref=1), entry("shop", M8, ref=2)], request([Rule("shop", M8)]))
    assert [e.ref for e in result.keep] == [1] and [e.ref for e in result.delete] == [2]


def test_plan_other_names_kept_without_purge_removed_with_purge() -> None:
    have = [entry("shop", M8, ref=1), entry("dns", M9, ref=2)]
    kept = plan([entry("shop", M8)], have, request([Rule("shop", M8)]))
    purged = plan([entry("shop", M8)], have, request([Rule("shop", M8)], purge=True))
    assert [e.name for e in kept.keep] == ["dns", "shop"] and not kept.delete
    assert [e.name for e in purged.delete] == ["dns"] and [e.name for e in purged.keep] == ["shop"]


def test_plan_absent_removes_every_entry_of_the_name_only() -> None:
    have = [entry("shop", M8, ref=1), entry("shop", M8, OUTPUT, ref=2), entry("dns", M9, ref=3)]
    result = plan([], have, request(names=["shop"]))
    assert [e.ref for e in result.delete] == [1, 2] and [e.ref for e in result.keep] == [3]


def test_summary_of_a_local_rule_in_chunks() -> None:
    a = Match("ipv4", "198.51.100.1/32", "tcp", (PortRange(80, 80),), None, 8)
    b = Match("ipv4", "198.51.100.1/32", "tcp", (PortRange(443, 443),), None, 8)
    entries = [entry("shop", a), entry("shop", b), entry("shop", a, OUTPUT), entry("shop", b, OUTPUT)]
    (summary,) = summarise(entries)
    assert summary["ports"] == ["80", "443"] and summary["local"] is True and summary["mark"] == 8 and len(summary["text"]) == 4


def test_summary_of_an_unrecognised_rule() -> None:
    (summary,) = summarise([entry("odd", None)])
    assert summary["name"] == "odd" and summary["mark"] is None and summary["text"] == [f"{PREROUTING}:odd:None"]


# --- nftables rendering --------------------------------------------------------------------------------


def test_nft_text_of_the_article_rule() -> None:
    assert text_of(M8, "pnmpp") == 'ip daddr 198.51.100.1 tcp dport { 80, 443 } counter meta mark set 0x00000008 comment "lvs.ipvs:pnmpp"'


def test_nft_text_ipv6_range_and_source() -> None:
    match = Match("ipv6", "2001:db8::/64", "udp", (PortRange(8000, 8080),), "2001:db8:1::/48", 4294967295)
    assert text_of(match, "v6") == ('ip6 saddr 2001:db8:1::/48 ip6 daddr 2001:db8::/64 udp dport 8000-8080 counter meta mark set 0xffffffff '
                                    'comment "lvs.ipvs:v6"')


def test_nft_json_of_the_article_rule() -> None:
    assert expr_of(M8) == [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.51.100.1"}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443]}}},
        {"counter": None},
        {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 8}},
    ]


# What `nft -j list table inet lvs_ipvs` printed for rules of this machine's nft 1.0.6 (see tests/netns).
LISTED_RULE = {
    "family": "inet", "table": "lvs_ipvs", "chain": "prerouting", "handle": 4, "comment": "lvs.ipvs:a",
    "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.51.100.1"}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443, {"range": [8000, 8081]}]}}},
        {"counter": {"packets": 12, "bytes": 720}},
        {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 8}},
    ],
}


def test_nft_listed_rule_parses() -> None:
    assert match_from_expr(LISTED_RULE["expr"]) == Match("ipv4", "198.51.100.1/32", "tcp", (PortRange(80, 80), PortRange(443, 443), PortRange(8000, 8081)),
                                                         None, 8)


@pytest.mark.parametrize(
    "change",
    [
        lambda expr: expr.insert(0, {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lv1"}}),
        lambda expr: expr.__setitem__(0, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.51.100.1"}}),
        lambda expr: expr.append({"accept": None}),
        lambda expr: expr.__setitem__(3, {"mangle": {"key": {"ct": {"key": "mark"}}, "value": 8}}),
        lambda expr: expr.pop(3),
        lambda expr: expr.insert(3, expr[0]),
    ],
    ids=["more-match", "negated", "verdict", "ct-mark", "no-mark", "match-after-mark"],
)
def test_nft_rules_doing_more_are_unrecognised(change: t.Callable[[list[t.Any]], None]) -> None:
    expr = json.loads(json.dumps(LISTED_RULE["expr"]))
    change(expr)
    assert match_from_expr(expr) is None


def _network(address: t.Any, prefix: int) -> str:
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


_addresses4 = st.builds(_network, st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address), st.integers(1, 32))
_addresses6 = st.builds(_network, st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address), st.integers(1, 128))
_ports = st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 100)), min_size=1, max_size=30).map(
    lambda pairs: normalise_ports(PortRange(a, min(a + w, 65535)) for a, w in pairs))


@st.composite
def matches(draw: t.Callable[..., t.Any]) -> Match:
    family = draw(st.sampled_from(["ipv4", "ipv6"]))
    addresses = _addresses4 if family == "ipv4" else _addresses6
    return Match(family, draw(addresses), draw(st.sampled_from(["tcp", "udp", "sctp"])), draw(_ports), draw(st.none() | addresses),
                 draw(st.integers(1, 4294967295)))


@given(matches())
def test_nft_json_round_trip(match: Match) -> None:
    assert match_from_expr(json.loads(json.dumps(expr_of(match)))) == match


@given(matches())
def test_iptables_line_round_trip(match: Match) -> None:
    for chunk in chunk_ports(match.ports):
        part = Match(match.family, match.destination, match.protocol, chunk, match.source, match.mark)
        assert parse_line(line_of(OUTPUT, part, "n"), match.family) == (OUTPUT, "n", part)


# --- iptables rendering ------------------------------------------------------------------------------


def test_iptables_line_of_the_article_rule() -> None:
    assert line_of(PREROUTING, M8, "pnmpp") == (
        '-A PREROUTING -d 198.51.100.1/32 -p tcp -m multiport --dports 80,443 -m comment --comment "lvs.ipvs:pnmpp" -j MARK --set-xmark 0x8/0xffffffff')


def test_iptables_line_one_port_and_one_range() -> None:
    one = Match("ipv4", "198.51.100.1/32", "udp", (PortRange(53, 53),), "192.0.2.0/24", 10)
    many = Match("ipv6", "2001:db8::10/128", "sctp", (PortRange(8000, 8080),), None, 0xFFFFFFFF)
    assert line_of(OUTPUT, one, "a") == ('-A OUTPUT -s 192.0.2.0/24 -d 198.51.100.1/32 -p udp -m udp --dport 53 -m comment --comment "lvs.ipvs:a" '
                                         '-j MARK --set-xmark 0xa/0xffffffff')
    assert line_of(PREROUTING, many, "b") == ('-A PREROUTING -d 2001:db8::10/128 -p sctp -m sctp --dport 8000:8080 -m comment --comment "lvs.ipvs:b" '
                                              '-j MARK --set-xmark 0xffffffff/0xffffffff')


def test_iptables_multiport_takes_fifteen_slots() -> None:
    singles = tuple(PortRange(p, p) for p in range(1, 40, 2))  # 20 ports
    assert [len(c) for c in chunk_ports(singles)] == [15, 5]
    ranges = tuple(PortRange(p, p + 1) for p in range(100, 200, 10))  # 10 ranges, 2 slots each
    assert [len(c) for c in chunk_ports(ranges)] == [7, 3]
    assert len(IptablesBackend(lambda a, d: (0, "", ""), lambda p: p).entries(Rule("x", Match("ipv4", "198.51.100.1/32", "tcp", singles, None, 1), True))) == 4


# `iptables -t mangle -S` lines as this machine's iptables 1.8.9 (nf_tables) printed them.
@pytest.mark.parametrize(
    "line, expected",
    [
        ("-A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x8/0xffffffff", None),
        ('-A PREROUTING -s 192.0.2.0/24 -d 198.51.100.0/24 -p tcp -m multiport --dports 80,443,8000:8080 -m comment --comment "lvs.ipvs:pnmpp" '
         "-j MARK --set-xmark 0x8/0xffffffff",
         (PREROUTING, "pnmpp", Match("ipv4", "198.51.100.0/24", "tcp", (PortRange(80, 80), PortRange(443, 443), PortRange(8000, 8080)), "192.0.2.0/24", 8))),
        ('-A OUTPUT -d 198.51.100.1/32 -p udp -m comment --comment "lvs.ipvs:x" -m udp --dport 53 -j MARK --set-xmark 0x1/0xffffffff',
         (OUTPUT, "x", Match("ipv4", "198.51.100.1/32", "udp", (PortRange(53, 53),), None, 1))),
        ('-A PREROUTING -i lv1 -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -m comment --comment "lvs.ipvs:hand" -j MARK --set-xmark 0x8/0xffffffff',
         (PREROUTING, "hand", None)),
        ('-A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -m comment --comment "lvs.ipvs:or" -j MARK --set-xmark 0x8/0xff',
         (PREROUTING, "or", None)),
        ('-A PREROUTING -d 198.51.100.1/32 -p sctp -m sctp --dport 80:90 -m comment --comment "lvs.ipvs:with space \\"q\\"" '
         '-j MARK --set-xmark 0xffffffff/0xffffffff',
         (PREROUTING, 'with space "q"', Match("ipv4", "198.51.100.1/32", "sctp", (PortRange(80, 90),), None, 0xFFFFFFFF))),
        ('-A FORWARD -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -m comment --comment "lvs.ipvs:fwd" -j MARK --set-xmark 0x8/0xffffffff', None),
        ('-A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -m comment --comment "someone else" -j MARK --set-xmark 0x8/0xffffffff', None),
    ],
)
def test_iptables_lines_parse(line: str, expected: t.Any) -> None:
    assert parse_line(line, "ipv4") == expected


def test_nft_backend_batch_from_a_listing() -> None:
    """From a recorded listing: a changed rule is one replace by handle; an unneeded output chain goes."""
    listing = {"nftables": [
        {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "lvs_ipvs", "handle": 1}},
        {"chain": {"family": "inet", "table": "lvs_ipvs", "name": "prerouting", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -150,
                   "policy": "accept"}},
        {"chain": {"family": "inet", "table": "lvs_ipvs", "name": "output", "handle": 2, "type": "route", "hook": "output", "prio": -150,
                   "policy": "accept"}},
        {"rule": dict(LISTED_RULE)},
        {"rule": dict(LISTED_RULE, chain="output", handle=5)},
    ]}
    backend = NftBackend(lambda batch: (0, listing, ""), "lvs_ipvs")
    have = backend.read()
    rule = request_from_params(validated(**with_(name="a"))).rules[0]
    commands = backend.commands(plan(backend.entries(rule), have, request([rule])))
    assert commands == [
        'replace rule inet lvs_ipvs prerouting handle 4 ip daddr 198.51.100.1 tcp dport { 80, 443 } counter meta mark set 0x00000008 comment "lvs.ipvs:a"',
        "delete rule inet lvs_ipvs output handle 5",
        "delete chain inet lvs_ipvs output",
    ]
