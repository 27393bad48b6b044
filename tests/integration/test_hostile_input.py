# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input against the real kernel: never a traceback, a clear error naming an option, and nothing changed on error.

The strategies of tests/unit/plugins/test_hostile_input.py (limited to the documentation address
ranges) drive the real modules, in this process, against the IPVS table and the nftables ruleset of
network namespaces this test creates and populates first. For every example:

* the module ends in a result (an exception out of main() is the traceback a user would see);
* a failure names an option (or is a kernel refusal / namespace error said in a sentence), and the
  namespace's `ipvsadm -S -n` with thresholds (ipvs_timeouts: with the global timeouts), the lab's own
  namespace's `ipvsadm -S -n` (for fwmark_rule: `nft list ruleset`, which holds iptables-nft's tables
  too; with a legacy iptables also `ip(6)tables-save -t mangle`) are byte-identical before and after;
* a check-mode run changes nothing either, whatever its outcome;
* a real success may change the kernel: the namespace is put back to its baseline for the next example.

A fixed number of examples per module (derandomized: the same ones every run, no shrinking), bounded
for the emulated lab: each example costs a module run and a few ipvsadm / nft runs (the state before
an example is the baseline, so the kernel is read once an example). A kernel refusal of options that
validation cannot judge (a broadcast address as real server) is pinned separately by
test_a_kernel_refusal_leaves_the_table_as_it_was (the applied part is rolled back).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.integration.modules import run_module
from tests.lab.topology import netns
from tests.unit.plugins.test_hostile_params import (
    ANSIBLE_CORE_UNCLEAR,
    NETNS,
    ansible_core_int_overflow,
    assert_clear_error,
    doc_ranges_only,
    fwmark_args,
    real_server_args,
    service_args,
    table_args,
    timeouts_args,
)

FW_NETNS = "lvshf"
EXAMPLES = int(os.environ.get("LVS_IPVS_HOSTILE_VM_EXAMPLES", "25"))
# No shrinking: under emulation it would cost minutes; a failing example is reported as it was generated.
HOSTILE_VM = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
BASELINE = """-A -t 198.51.100.1:80 -s rr -p 3600
-a -t 198.51.100.1:80 -r 192.0.2.11:80 -m -w 2 -x 50 -y 5
-a -t 198.51.100.1:80 -r 192.0.2.12:8080 -m -w 1
-A -f 8 -s sh -b sh-port -p 60
-a -f 8 -r 192.0.2.12:0 -g -w 3
-A -u [2001:db8::1]:53 -s wlc
-a -u [2001:db8::1]:53 -r [2001:db8::11]:53 -g -w 1
"""
TIMEOUTS = ("900", "120", "300")
NFT_BASELINE = """table inet lvs_hostile {
\tchain prerouting {
\t\ttype filter hook prerouting priority mangle; policy accept;
\t\tip daddr 198.51.100.1 tcp dport { 80, 443 } counter meta mark set 0x00000008 comment "lvs.ipvs:base"
\t}
}
table inet someone_else {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport 22 counter accept
\t}
}
"""
TALLY: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
REFUSALS: list[tuple[str, dict, str]] = []


def run(*argv: str, ns: str | None = None, data: str | None = None) -> str:
    """A command inside namespace `ns` (this thread enters it: no `ip netns exec` process); its output, or a failed test."""
    with netns(ns):
        proc = subprocess.run(list(argv), input=data, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr.strip()}"
    return proc.stdout


class Kernel:
    """What one family of modules could change, read back independently, and how to put it back.

    The state before an example is the baseline (the reset restores it, and is checked to), so each
    example reads the kernel once, after the module: half the ipvsadm / nft runs.
    """

    def __init__(self, read, reset) -> None:
        self.read = read
        self._reset = reset
        self.baseline: tuple[str, ...] = ()

    def reset(self) -> None:
        self._reset()
        state = self.read()
        assert not self.baseline or state == self.baseline, "the reset did not restore the baseline"
        self.baseline = state


def read_table() -> tuple[str, ...]:
    """The test namespace's table with thresholds, and the lab namespace's table (a hostile netns must not reach it)."""
    return (run("ipvsadm", "-S", "-n", ns=NETNS), run("ipvsadm", "-L", "-n", "--thresholds", ns=NETNS), run("ipvsadm", "-S", "-n"))


def read_timeouts() -> tuple[str, ...]:
    return (run("ipvsadm", "-S", "-n", ns=NETNS), run("ipvsadm", "-L", "-n", "--timeout", ns=NETNS), run("ipvsadm", "-S", "-n"))


def _iptables_is_nft() -> bool:
    return "nf_tables" in subprocess.run(["iptables", "-V"], capture_output=True, text=True, check=False).stdout


IPTABLES_IS_NFT = _iptables_is_nft()


def read_firewall() -> tuple[str, ...]:
    """The whole ruleset of the firewall namespace (with iptables-nft, the iptables tables are in it too)."""
    ruleset = run("nft", "list", "ruleset", ns=FW_NETNS)
    if IPTABLES_IS_NFT:
        return (ruleset,)
    saves = [run(program, "-t", "mangle", ns=FW_NETNS) for program in ("iptables-save", "ip6tables-save")]
    return (ruleset, *("\n".join(line for line in save.splitlines() if not line.startswith("#")) for save in saves))


def _wire(ns: str, routes: bool = True) -> None:
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    run("ip", "netns", "add", ns)
    run("ip", "link", "set", "lo", "up", ns=ns)
    if not routes:
        return
    # Routes to every documentation range: the kernel refuses a real server it has no route to.
    run("ip", "link", "add", "hd0", "type", "dummy", ns=ns)
    for address in ("192.0.2.1/24", "198.51.100.254/24", "203.0.113.254/24"):
        run("ip", "addr", "add", address, "dev", "hd0", ns=ns)
    run("ip", "-6", "addr", "add", "2001:db8::fffe/32", "dev", "hd0", "nodad", ns=ns)
    run("ip", "link", "set", "hd0", "up", ns=ns)


def reset_ipvs() -> None:
    run("ipvsadm", "-C", ns=NETNS)
    run("ipvsadm", "-R", ns=NETNS, data=BASELINE)
    run("ipvsadm", "--set", *TIMEOUTS, ns=NETNS)


def reset_firewall() -> None:
    _wire(FW_NETNS, routes=False)
    run("nft", "-f", "-", ns=FW_NETNS, data=NFT_BASELINE)


TABLE = Kernel(read_table, reset_ipvs)
TIMEOUT_STATE = Kernel(read_timeouts, reset_ipvs)
FIREWALL = Kernel(read_firewall, reset_firewall)


@pytest.fixture(scope="module")
def namespaces():
    """The two namespaces, populated, and their baselines."""
    _wire(NETNS)
    for kernel in (TABLE, TIMEOUT_STATE, FIREWALL):
        kernel.baseline = ()
        kernel.reset()
    assert "198.51.100.1:80" in TABLE.baseline[0] and "lvs.ipvs:base" in FIREWALL.baseline[0]
    yield
    for ns in (NETNS, FW_NETNS):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    print("\nhostile input in the VM: " + "; ".join(f"{name}: {dict(counter)}" for name, counter in sorted(TALLY.items())))
    for name, args, msg in REFUSALS[:10]:
        print(f"  refused by the kernel: {name} {args!r}: {msg}")


def _module(name: str, args: dict, check: bool, in_ns: str | None) -> dict | None:
    """The module's result; None for a known ansible-core defect (see the unit test)."""
    try:
        with netns(in_ns):
            result = run_module(name, args, check=check)
    except OverflowError as exc:
        if not ansible_core_int_overflow(exc):
            raise
        return None
    if result.get("failed") and result.get("msg") == ANSIBLE_CORE_UNCLEAR:
        return None
    return result


def check_example(name: str, args: dict, check: bool, kernel: Kernel, in_ns: str | None = None) -> None:
    try:
        result = _module(name, args, check, in_ns)
    finally:
        after = kernel.read()
        changed = after != kernel.baseline
        if changed:
            before = kernel.baseline
            kernel.reset()
    if result is None:
        TALLY[name]["ansible-core defect"] += 1
        assert not changed
        return
    text = json.dumps(result)
    assert "Traceback" not in text, text
    if result.get("failed"):
        TALLY[name]["failed"] += 1
        assert not changed, f"{name} failed ({result.get('msg')}) but changed the kernel; args {args!r}: {before} -> {after}"
        if "option" in result or not _kernel_or_namespace_error(result):
            assert_clear_error(name, args, result)
        else:
            TALLY[name]["refused by the kernel"] += 1
            REFUSALS.append((name, args, result["msg"]))
        return
    TALLY[name]["check mode ok" if check else "ok"] += 1
    assert not (check and changed), f"{name} in check mode changed the kernel; args {args!r}: {before} -> {after}"
    if changed:
        TALLY[name]["changed"] += 1


def _kernel_or_namespace_error(result: dict) -> bool:
    """Not an option error but a sentence about the system: a refusal by the kernel (TaskError's commands, fwmark_rule's
    BackendError), a namespace that is missing or no name, a real server's service that does not exist."""
    if {"commands", "failed_command", "applied_commands", "unknown_commands", "drain"} & result.keys():
        return True
    msg = result["msg"]
    return "network namespace" in msg or "does not exist" in msg or "kernel" in msg


BASELINE_KEYS = st.sampled_from([{"protocol": "tcp", "address": "198.51.100.1", "port": 80}, {"fwmark": 8},
                                 {"protocol": "udp", "address": "2001:db8::1", "port": 53}])
KEY_OPTIONS = ("protocol", "address", "port", "fwmark", "family")


def about_the_baseline(strategy):
    """Half the examples name a service of the baseline, so that they edit, drain and remove real things too."""
    moved = st.builds(lambda args, key: dict({k: v for k, v in args.items() if k not in KEY_OPTIONS}, **key), strategy, BASELINE_KEYS)
    return st.one_of(strategy, moved)


def _in_test_namespace(args: dict) -> dict:
    """Every IPVS example runs in the test namespace unless it names a (hostile) netns of its own."""
    return args if "netns" in args else dict(args, netns=NETNS)


@HOSTILE_VM
@given(doc_ranges_only(about_the_baseline(service_args(most=1))).map(_in_test_namespace), st.booleans())
def test_ipvs_service_hostile_options_on_the_kernel(namespaces, args, check):
    check_example("ipvs_service", args, check, TABLE)


@HOSTILE_VM
@given(doc_ranges_only(about_the_baseline(real_server_args(most=1))).map(_in_test_namespace), st.booleans())
def test_ipvs_real_server_hostile_options_on_the_kernel(namespaces, args, check):
    # wait_drained polls for up to drain_timeout seconds: the strategy keeps that to at most 5.
    check_example("ipvs_real_server", args, check, TABLE)


@HOSTILE_VM
@given(doc_ranges_only(table_args()).map(_in_test_namespace), st.booleans())
def test_ipvs_table_hostile_options_on_the_kernel(namespaces, args, check):
    check_example("ipvs_table", args, check, TABLE)


@HOSTILE_VM
@given(doc_ranges_only(fwmark_args(most=1)), st.booleans())
def test_fwmark_rule_hostile_options_on_the_kernel(namespaces, args, check):
    check_example("fwmark_rule", args, check, FIREWALL, in_ns=FW_NETNS)


@settings(HOSTILE_VM, max_examples=max(10, EXAMPLES // 2))
@given(doc_ranges_only(timeouts_args()).map(_in_test_namespace), st.booleans())
def test_ipvs_timeouts_hostile_options_on_the_kernel(namespaces, args, check):
    check_example("ipvs_timeouts", args, check, TIMEOUT_STATE)


def test_the_examples_reached_the_kernel(namespaces):
    """Not vacuous: some examples of each module succeeded against the kernel and some failed (runs last, file order)."""
    for name in ("ipvs_service", "ipvs_real_server", "ipvs_table", "fwmark_rule", "ipvs_timeouts"):
        tally = TALLY[name]
        assert tally["failed"] >= 1 and tally["ok"] + tally["check mode ok"] >= 1, (name, dict(tally))
    assert sum(TALLY[name]["changed"] for name in TALLY) >= 3, dict(TALLY)


def test_a_failure_that_changed_the_kernel_would_be_caught(namespaces):
    """Negative control: a module that fails after changing the table is reported (and the table put back)."""
    real = _module

    def changing(name, args, check, in_ns):
        run("ipvsadm", "-A", "-t", "198.51.100.9:80", ns=NETNS)
        return real(name, args, check, in_ns)

    with mock.patch.object(sys.modules[__name__], "_module", changing), pytest.raises(AssertionError, match="changed the kernel"):
        check_example("ipvs_service", {"protocol": "tcp", "address": "198.51.100.1", "port": 70000, "netns": NETNS}, False, TABLE)
    assert TABLE.read() == TABLE.baseline


def test_a_kernel_refusal_leaves_the_table_as_it_was(namespaces):
    """The options pass validation (198.51.100.255 is an address); only this host's kernel knows it is a broadcast address."""
    args = {"netns": NETNS, "protocol": "tcp", "address": "198.51.100.7", "port": 80, "scheduler": "rr",
            "real_servers": [{"server": "192.0.2.11", "forwarding": "nat"}, {"server": "198.51.100.255", "forwarding": "nat"}]}
    try:
        result = run_module("ipvs_service", args)
        after = TABLE.read()
    finally:
        if TABLE.read() != TABLE.baseline:
            TABLE.reset()
    assert result.get("failed") and "198.51.100.255" in result["msg"], result
    assert "Traceback" not in json.dumps(result)
    assert after == TABLE.baseline, f"the failed task changed the kernel: {TABLE.baseline[0]!r} -> {after[0]!r}"
