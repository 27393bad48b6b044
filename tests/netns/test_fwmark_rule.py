# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fwmark_rule against this machine's real nftables and iptables, each test in a network namespace of its own.

Every test creates `lvsipvs-test-<random>` and deletes it in a `finally`. Inside it a veth pair
(lv0 192.0.2.1 / 2001:db8:1::1, lv1) and routes send packets for 198.51.100.0/24 and
2001:db8::/64 out of lv0 into lv1, so they pass the namespace's prerouting hook (and, being
sent from the namespace, its output hook). A probe table counts packets by mark after our
mangle-priority chains, so a test sees the mark itself, not only our rule's counter.

The end-to-end cases run the module through real `ansible-playbook -c local -i localhost,`
inside the namespace (`ip netns exec`), with /usr/bin/python3 (libnftables binding) and with
this venv's Python (the nft program). The wide validation matrix and a few repair cases call
the module's `execute()` in this process, every command prefixed with `ip netns exec`.
The kernel is always read back independently (`nft list`, `nft -j list`, `iptables-save`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import uuid
from pathlib import Path

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _fwmark_nft
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.modules.fwmark_rule import execute
from tests.conftest import _collection_root

pytestmark = pytest.mark.netns

SYSTEM_PYTHON = "/usr/bin/python3"
VENV_PYTHON = sys.executable
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SBIN_PATH = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
VIP = "198.51.100.1"
VIP6 = "2001:db8::10"
ARTICLE_NAME = "tcp-198.51.100.1-80,443"
TOOLS = ("ip", "nft", "iptables", "ip6tables", "iptables-save", "ip6tables-save", "iptables-restore", "ip6tables-restore")

# `make setup` installs everything these tests need: a missing piece is a failure, never a skip.
if os.geteuid() != 0:
    pytest.fail("tests/netns create network namespaces and need root", pytrace=False)
_missing = [tool for tool in TOOLS if not shutil.which(tool, path=SBIN_PATH)]
if _missing:
    pytest.fail(f"missing: {', '.join(_missing)} (make setup installs them)", pytrace=False)


def _has_libnftables() -> bool:
    code = "import nftables; nftables.Nftables()"
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, check=False).returncode == 0


def _iptables_is_nf_tables() -> bool:
    return "nf_tables" in subprocess.run(["iptables", "-V"], capture_output=True, text=True, check=False).stdout


HAS_LIBNFTABLES = _has_libnftables()
IPTABLES_NF_TABLES = _iptables_is_nf_tables()


def test_the_libnftables_binding_is_there_for_the_system_python():
    """The module prefers libnftables where it imports; `make setup` installs python3-nftables so that path is tested."""
    assert HAS_LIBNFTABLES, "python3-nftables is not installed for /usr/bin/python3 (make setup installs it)"


@dataclasses.dataclass(frozen=True)
class Driver:
    backend: str
    python: str
    interface: str


DRIVERS = [
    pytest.param(Driver("nftables", SYSTEM_PYTHON, "libnftables"), id="nftables-libnftables"),
    pytest.param(Driver("nftables", VENV_PYTHON, "nft"), id="nftables-nft"),
    pytest.param(Driver("iptables", VENV_PYTHON, "iptables-restore"), id="iptables"),
]
IN_PROCESS = [pytest.param("nftables", id="nftables-nft"), pytest.param("iptables", id="iptables")]


# --- the namespace ------------------------------------------------------------------------------------


class Netns:
    """One network namespace with the veth pair and routes described above."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *args: str, data: t.Optional[str] = None, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["ip", "netns", "exec", self.name, *args], input=data, capture_output=True, text=True, timeout=timeout, check=False,
                              env=dict(os.environ, LC_ALL="C", PATH=SBIN_PATH))
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def wire(self) -> None:
        for command in (
            "ip link set lo up",
            "ip link add lv0 type veth peer name lv1",
            "ip addr add 192.0.2.1/24 dev lv0",
            "ip addr add 192.0.2.2/24 dev lv1",
            "ip -6 addr add 2001:db8:1::1/64 dev lv0 nodad",
            "ip -6 addr add 2001:db8:1::2/64 dev lv1 nodad",
            "ip link set lv0 up",
            "ip link set lv1 up",
        ):
            self.run(*command.split())
        mac = self.run("cat", "/sys/class/net/lv1/address").stdout.strip()
        # Gateways that are nobody's address, resolved to lv1: packets leave lv0 and arrive on lv1.
        self.run("ip", "neigh", "replace", "192.0.2.254", "lladdr", mac, "dev", "lv0", "nud", "permanent")
        self.run("ip", "-6", "neigh", "replace", "2001:db8:1::fe", "lladdr", mac, "dev", "lv0", "nud", "permanent")
        self.run("ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.254", "dev", "lv0")
        self.run("ip", "-6", "route", "add", "2001:db8::/64", "via", "2001:db8:1::fe", "dev", "lv0")

    def nft_json(self, *what: str) -> t.Optional[t.List[t.Dict[str, t.Any]]]:
        """`nft -j list ...` objects without metainfo; None when it does not exist."""
        proc = self.run("nft", "-j", "list", *what, check=False)
        if proc.returncode != 0:
            assert "No such file or directory" in proc.stderr, proc.stderr
            return None
        return [obj for obj in json.loads(proc.stdout)["nftables"] if "metainfo" not in obj]

    def our_rules(self, table: str = "lvs_ipvs") -> t.List[t.Dict[str, t.Any]]:
        return [obj["rule"] for obj in self.nft_json("table", "inet", table) or [] if "rule" in obj]

    def nft_text(self, table: str = "lvs_ipvs") -> str:
        proc = self.run("nft", "list", "table", "inet", table, check=False)
        return proc.stdout if proc.returncode == 0 else ""

    def save_lines(self, family: str = "ipv4", counters: bool = False) -> t.List[str]:
        """The `-A` lines of `iptables-save -t mangle` (ip6tables-save for ipv6)."""
        program = "iptables-save" if family == "ipv4" else "ip6tables-save"
        out = self.run(program, "-t", "mangle", *(["-c"] if counters else [])).stdout
        return [line for line in out.splitlines() if line.startswith("-A") or line.startswith("[")]

    def tagged_lines(self, family: str = "ipv4") -> t.List[str]:
        return [line for line in self.save_lines(family) if "lvs.ipvs:" in line]

    def untagged_lines(self, family: str = "ipv4") -> t.List[str]:
        return [line for line in self.save_lines(family) if "lvs.ipvs:" not in line]

    def snapshot(self) -> t.Tuple[t.Any, ...]:
        """Everything: the whole nft ruleset and both mangle tables (no traffic runs while a test compares these)."""
        return (self.nft_json("ruleset"), self.save_lines("ipv4"), self.save_lines("ipv6"))

    def rule_packets(self, backend: str, name: str, chain: str = "prerouting") -> int:
        """Packets counted by our rule `name` in `chain`, read from the kernel."""
        if backend == "nftables":
            return sum(
                expr["counter"]["packets"]
                for rule in self.our_rules()
                if rule["chain"] == chain and rule.get("comment") == f"lvs.ipvs:{name}"
                for expr in rule["expr"]
                if "counter" in expr
            )
        total = 0
        for family in ("ipv4", "ipv6"):
            for line in self.save_lines(family, counters=True):
                counter, dummy, rule = line.partition(" ")
                if rule.startswith(f"-A {chain.upper()} ") and f'"lvs.ipvs:{name}"' in rule:
                    total += int(counter.strip("[]").split(":")[0])
        return total

    def probe(self, hook: str, mark: int, protocol: str, ports: t.Sequence[int]) -> None:
        """Counters after our chains (priority 0): packets per port with the mark, and all packets per port."""
        rules = "".join(f"    {protocol} dport {port} meta mark {mark} counter comment \"mark:{port}\"\n"
                        f"    {protocol} dport {port} counter comment \"all:{port}\"\n" for port in ports)
        self.run("nft", "-f", "-", data=f"table inet lvsipvs_probe {{\n  chain {hook} {{\n    type filter hook {hook} priority 0;\n{rules}  }}\n}}\n")

    def probe_counts(self) -> t.Dict[str, int]:
        return {rule["comment"]: sum(e["counter"]["packets"] for e in rule["expr"] if "counter" in e) for rule in self.our_rules("lvsipvs_probe")}

    def send(self, protocol: str, host: str, ports: t.Sequence[int], count: int = 3) -> None:
        """`count` packets to each port (TCP: one SYN per non-blocking connect), bounded in number and time."""
        self.run(VENV_PYTHON, "-c", SENDER, protocol, host, str(count), *map(str, ports), timeout=15)


SENDER = r"""
import socket, sys, time
protocol, host, count, ports = sys.argv[1], sys.argv[2], min(int(sys.argv[3]), 10), [int(p) for p in sys.argv[4:]]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
deadline = time.monotonic() + 5
for port in ports:
    for _ in range(count):
        if time.monotonic() > deadline:
            sys.exit("time limit")
        if protocol == "tcp":
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect((host, port))
            except BlockingIOError:
                pass
        else:
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.sendto(b"lvs", (host, port))
        s.close()
"""


def wait_until(check: t.Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


@pytest.fixture
def ns() -> t.Iterator[Netns]:
    name = f"lvsipvs-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        netns = Netns(name)
        netns.wire()
        yield netns
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


# --- ansible-playbook -----------------------------------------------------------------------------------


def play(ns: Netns, driver: Driver, tasks: t.Sequence[t.Dict[str, t.Any]], check: bool = False, diff: bool = True) -> t.List[t.Dict[str, t.Any]]:
    """Run one playbook of fwmark_rule tasks in the namespace; return each task's registered result.

    A task's `check_mode` key becomes the task's own check_mode keyword, not a module option.
    """
    with tempfile.TemporaryDirectory(prefix="lvsipvs-play-") as tmp:
        results = Path(tmp) / "results.json"
        steps: t.List[t.Dict[str, t.Any]] = []
        for index, args in enumerate(tasks):
            options = {key: value for key, value in args.items() if key != "check_mode"}
            step = {"name": f"fwmark_rule {index}", "lvs.ipvs.fwmark_rule": dict({"backend": driver.backend}, **options),
                    "register": f"r{index}", "ignore_errors": True}
            if "check_mode" in args:  # task-level check mode, as --check gives the whole play
                step["check_mode"] = args["check_mode"]
            steps.append(step)
        registered = ", ".join(f"r{i}" for i in range(len(tasks)))
        save = {"content": "{{ [" + registered + "] | to_json }}", "dest": str(results), "mode": "0600"}
        steps.append({"name": "save the results", "ansible.builtin.copy": save, "check_mode": False, "diff": False})
        (Path(tmp) / "play.yml").write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": steps}]))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_collection_root(), ANSIBLE_LOCAL_TEMP=f"{tmp}/local", ANSIBLE_REMOTE_TEMP=f"{tmp}/remote",
                   ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", PATH=SBIN_PATH)
        command = ["ip", "netns", "exec", ns.name, ANSIBLE_PLAYBOOK, "-c", "local", "-i", "localhost,", "-e", f"ansible_python_interpreter={driver.python}",
                   "play.yml"] + (["--check"] if check else []) + (["--diff"] if diff else [])
        proc = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=180, check=False)
        assert results.exists(), f"ansible-playbook failed:\n{proc.stdout}\n{proc.stderr}"
        return t.cast(t.List[t.Dict[str, t.Any]], json.loads(results.read_text()))


def ok(result: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    assert not result.get("failed"), result.get("msg")
    return result


# --- the article's rule -----------------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_article_rules_as_one_task_mark_http_and_https(ns: Netns, driver: Driver) -> None:
    """iptables -t mangle -A PREROUTING -d VIP -p tcp --dport 80 (and 443) -j MARK --set-mark 8, as one fwmark_rule."""
    ns.probe("prerouting", 8, "tcp", [80, 443, 8080])
    (first,) = play(ns, driver, [{"mark": 8, "destination": VIP, "protocol": "tcp", "ports": [80, 443]}])
    assert ok(first)["changed"] is True
    assert (first["backend"], first["interface"]) == (driver.backend, driver.interface)
    if driver.backend == "nftables":
        text = ns.nft_text()
        assert "type filter hook prerouting priority mangle; policy accept;" in text
        assert (f'ip daddr {VIP} tcp dport {{ 80, 443 }} counter packets 0 bytes 0 meta mark set 0x00000008 comment "lvs.ipvs:{ARTICLE_NAME}"'
                in text)
        assert "chain output" not in text and len(ns.our_rules()) == 1
        assert ns.tagged_lines() == []
    else:
        assert ns.tagged_lines() == [f'-A PREROUTING -d {VIP}/32 -p tcp -m multiport --dports 80,443 -m comment --comment "lvs.ipvs:{ARTICLE_NAME}" '
                                     "-j MARK --set-xmark 0x8/0xffffffff"]
        assert ns.nft_text() == ""
    assert first["rules"] == [{"name": ARTICLE_NAME, "mark": 8, "family": "ipv4", "destination": f"{VIP}/32", "protocol": "tcp", "ports": ["80", "443"],
                               "source": None, "local": False, "text": first["rules"][0]["text"]}]

    ns.send("tcp", VIP, [80, 443, 8080], count=3)
    assert wait_until(lambda: ns.probe_counts().get("all:8080") == 3), ns.probe_counts()
    assert ns.rule_packets(driver.backend, ARTICLE_NAME) == 6
    assert ns.probe_counts() == {"mark:80": 3, "all:80": 3, "mark:443": 3, "all:443": 3, "mark:8080": 0, "all:8080": 3}

    (second,) = play(ns, driver, [{"mark": 8, "destination": VIP, "protocol": "tcp", "ports": [443, 80]}])
    assert ok(second)["changed"] is False and second["commands"] == []
    assert second["rules"] == first["rules"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_local_rule_marks_the_directors_own_packets(ns: Netns, driver: Driver) -> None:
    """local: true adds the output hook; the namespace's own UDP packets to an IPv6 VIP get the mark there."""
    ns.probe("output", 9, "udp", [443, 8080, 9000])
    rule = {"name": "v6", "mark": 9, "destination": "2001:db8::/64", "protocol": "udp", "ports": [443, "8000-8080"], "local": True}
    (result,) = play(ns, driver, [rule])
    assert ok(result)["changed"] is True and result["rules"][0]["local"] is True
    if driver.backend == "nftables":
        text = ns.nft_text()
        assert "type route hook output priority mangle; policy accept;" in text
        assert text.count('ip6 daddr 2001:db8::/64 udp dport { 443, 8000-8080 } counter packets 0 bytes 0 meta mark set 0x00000009 comment "lvs.ipvs:v6"') == 2
    else:
        assert sorted(ns.tagged_lines("ipv6")) == sorted(
            f'-A {chain} -d 2001:db8::/64 -p udp -m multiport --dports 443,8000:8080 -m comment --comment "lvs.ipvs:v6" -j MARK --set-xmark 0x9/0xffffffff'
            for chain in ("OUTPUT", "PREROUTING"))
        assert ns.tagged_lines("ipv4") == []

    ns.send("udp", VIP6, [443, 8080, 9000], count=2)
    assert wait_until(lambda: ns.probe_counts().get("all:9000") == 2), ns.probe_counts()
    assert ns.probe_counts() == {"mark:443": 2, "all:443": 2, "mark:8080": 2, "all:8080": 2, "mark:9000": 0, "all:9000": 2}
    assert ns.rule_packets(driver.backend, "v6", "output") == 4

    (off,) = play(ns, driver, [dict(rule, local=False)])
    assert ok(off)["changed"] is True and off["rules"][0]["local"] is False
    if driver.backend == "nftables":
        assert off["commands"][-1] == "delete chain inet lvs_ipvs output" and "chain output" not in ns.nft_text()
    else:
        assert [line.split()[3] for line in off["commands"]] == ["-D"] and [line.split()[1] for line in ns.tagged_lines("ipv6")] == ["PREROUTING"]


class Monitor:
    """`nft monitor` in the namespace: how many transactions (new generations) happen inside the with block."""

    def __init__(self, ns: Netns) -> None:
        self.ns = ns
        self.lines: t.List[str] = []
        self.proc: t.Optional[subprocess.Popen[str]] = None

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _marker(self, name: str) -> bool:
        self.ns.run("nft", "add", "table", "inet", name)
        return wait_until(lambda: f"add table inet {name}" in self.lines, 1.0)

    def __enter__(self) -> "Monitor":
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns.name, "nft", "monitor"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        # The monitor listens once it reports a marker table; try a few fresh markers (bounded).
        for attempt in range(10):
            self.start = f"lvsipvs_sync_{attempt}"
            if self._marker(self.start):
                return self
        raise AssertionError(f"nft monitor did not report: {self.lines}")

    def __exit__(self, *exc: t.Any) -> None:
        try:
            assert self._marker("lvsipvs_sync_end"), self.lines
        finally:
            assert self.proc is not None
            self.proc.terminate()
            self.proc.wait(timeout=10)

    @property
    def transactions(self) -> int:
        first = self.lines.index(f"add table inet {self.start}")
        last = self.lines.index("add table inet lvsipvs_sync_end")
        # The first generation line after the start marker is the marker's own.
        return sum(1 for line in self.lines[first:last] if line.startswith("# new generation")) - 1


@pytest.mark.parametrize("driver", DRIVERS)
def test_changing_the_ports_is_one_transaction(ns: Netns, driver: Driver) -> None:
    """A local rule is two kernel rules (prerouting and output): new ports change both, in one transaction."""
    rule = {"name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443], "local": True}
    ok(play(ns, driver, [rule])[0])
    handles = {r["chain"]: r["handle"] for r in ns.our_rules()}
    before_lines = ns.tagged_lines()
    with Monitor(ns) as monitor:
        (result,) = play(ns, driver, [dict(rule, ports=[80, 443, 8443])])
    assert ok(result)["changed"] is True
    if driver.backend == "nftables":
        assert result["commands"] == [f"replace rule inet lvs_ipvs {chain} handle {handles[chain]} ip daddr {VIP} tcp dport {{ 80, 443, 8443 }} "
                                      'counter meta mark set 0x00000008 comment "lvs.ipvs:shop"' for chain in ("prerouting", "output")]
        assert {r["chain"]: r["handle"] for r in ns.our_rules()} == handles  # replaced in place: same handles, same positions
        assert ns.nft_text().count("tcp dport { 80, 443, 8443 }") == 2
        assert monitor.transactions == 1, monitor.lines
    else:
        new_lines = [f'-A {chain} -d {VIP}/32 -p tcp -m multiport --dports 80,443,8443 -m comment --comment "lvs.ipvs:shop" '
                     "-j MARK --set-xmark 0x8/0xffffffff" for chain in ("PREROUTING", "OUTPUT")]
        expected = ["iptables -t mangle -D" + line[2:] for line in before_lines] + ["iptables -t mangle " + line for line in new_lines]
        assert sorted(result["commands"]) == sorted(expected)
        assert sorted(ns.tagged_lines()) == sorted(new_lines)
        if IPTABLES_NF_TABLES:  # iptables-nft-restore commits one nft transaction; legacy swaps the table blob, invisible to nft monitor
            assert monitor.transactions == 1, monitor.lines
    (again,) = play(ns, driver, [dict(rule, ports=[80, 443, 8443])])
    assert ok(again)["changed"] is False


@pytest.mark.parametrize("driver", DRIVERS)
def test_unrelated_tables_and_mangle_rules_stay_byte_identical(ns: Netns, driver: Driver) -> None:
    # Another inet table (with a decoy carrying our tag), a table of our name in another family, hand-made mangle rules.
    ns.run("nft", "-f", "-", data="""
table inet lvsipvs_other {
  set vips { type ipv4_addr; elements = { 198.51.100.1, 198.51.100.2 }; }
  chain pre {
    type filter hook prerouting priority -150;
    ip daddr @vips tcp dport 80 counter meta mark set 7 comment "lvs.ipvs:decoy"
  }
  chain out {
    type route hook output priority -150;
    tcp dport 443 counter meta mark set 7
  }
}
table ip lvs_ipvs {
  chain prerouting {
    type filter hook prerouting priority -150;
    tcp dport 22 counter comment "lvs.ipvs:decoy2"
  }
}
""")
    ns.run("iptables", "-t", "mangle", "-A", "PREROUTING", "-d", VIP, "-p", "tcp", "--dport", "80", "-j", "MARK", "--set-mark", "7")
    ns.run("iptables", "-t", "mangle", "-A", "OUTPUT", "-d", "203.0.113.5", "-p", "udp", "--dport", "53", "-m", "comment", "--comment", "not ours",
           "-j", "MARK", "--set-mark", "3")
    ns.run("ip6tables", "-t", "mangle", "-A", "PREROUTING", "-d", "2001:db8::5", "-p", "tcp", "--dport", "80", "-j", "MARK", "--set-mark", "7")

    def unrelated() -> t.Tuple[t.Any, ...]:
        return (ns.nft_json("table", "inet", "lvsipvs_other"), ns.nft_json("table", "ip", "lvs_ipvs"), ns.untagged_lines("ipv4"), ns.untagged_lines("ipv6"))

    before = unrelated()
    assert before[0] and before[1] and len(before[2]) == 2 and len(before[3]) == 1
    steps = [
        [{"rules": [{"name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443], "local": True},
                    {"name": "shop6", "mark": 8, "destination": VIP6, "ports": [80, 443]}], "purge": True}],
        [{"name": "shop", "mark": 9, "destination": VIP, "ports": [80, 443, 8443]}],
        [{"name": "shop6", "state": "absent"}],
        [{"rules": [], "purge": True}],
    ]
    for tasks in steps:
        (result,) = play(ns, driver, tasks)
        assert ok(result)["changed"] is True
        assert unrelated() == before
    assert ns.nft_text() == "" and ns.tagged_lines("ipv4") == [] and ns.tagged_lines("ipv6") == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_bad_input_changes_nothing(ns: Netns, driver: Driver) -> None:
    ok(play(ns, driver, [{"name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443], "local": True}])[0])
    before = ns.snapshot()
    good = {"name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443]}
    cases = [
        (dict(good, mark=0), "mark"),
        (dict(good, ports=[80, 70000]), "ports"),
        (dict(good, destination="198.51.100.0/33"), "destination"),
        (dict(good, destination="198.51.100.1/24"), "destination"),
        (dict(good, ports=["90-80"]), "ports"),
        (dict(good, destination=VIP6, source="192.0.2.0/24"), "source"),
        (dict(good, ports=[]), "ports"),
        (dict(good, protocol="icmp"), "protocol"),
        (dict(good, name="two words"), "name"),
        ({"rules": [good, dict(good, mark=0)], "purge": True}, "rules[1].mark"),
        (dict(good, purge=True, state="absent"), "purge"),
    ]
    results = play(ns, driver, [case for case, dummy in cases])
    for (case, option), result in zip(cases, results):
        assert result.get("failed") is True, (case, result)
        assert option in result["msg"], (case, result["msg"])
        if option != "protocol":  # choices are the argument spec's; the rest are ours and say which option
            assert result["option"] == option and result["msg"].startswith(option + ": ")
        assert "commands" not in result or result["commands"] == []
    assert ns.snapshot() == before


STEPS = [
    ("create", [{"rules": [{"name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443]},
                           {"name": "v6", "mark": 6, "destination": VIP6, "protocol": "udp", "ports": ["5060-5061"], "local": True}]}]),
    ("edit", [{"rules": [{"name": "shop", "mark": 9, "destination": VIP, "ports": [80, 443, 8443], "source": "192.0.2.0/24"},
                         {"name": "v6", "mark": 6, "destination": VIP6, "protocol": "udp", "ports": ["5060-5061"]}]}]),
    ("add-unnamed", [{"mark": 10, "destination": "198.51.100.0/24", "protocol": "sctp", "ports": [3868], "local": True}]),
    ("purge", [{"rules": [{"name": "shop", "mark": 9, "destination": VIP, "ports": [80, 443, 8443], "source": "192.0.2.0/24"}], "purge": True}]),
    ("absent", [{"name": "shop", "state": "absent"}]),
]


@pytest.mark.parametrize("driver", DRIVERS)
def test_check_mode_predicts_the_real_run(ns: Netns, driver: Driver) -> None:
    """The four steps for each change: check (changed), real (the same result), check again and real again (not changed)."""
    keys = ("changed", "commands", "diff", "rules", "backend", "interface")
    for step, (task,) in STEPS:
        before = ns.snapshot()
        (predicted,) = play(ns, driver, [task], check=True)
        assert ns.snapshot() == before, f"{step}: check mode changed the kernel"
        real, check_again, real_again = play(ns, driver, [task, dict(task, check_mode=True), task])
        assert ok(predicted)["changed"] is True, step
        assert {k: predicted[k] for k in keys} == {k: ok(real)[k] for k in keys}, step
        assert real["diff"]["before"] != real["diff"]["after"]
        assert (ok(check_again)["changed"], ok(real_again)["changed"]) == (False, False), step
        assert check_again["commands"] == real_again["commands"] == []
        assert real_again["diff"]["before"] == real_again["diff"]["after"] == real["diff"]["after"]
    assert ns.nft_text() == "" and ns.tagged_lines("ipv4") == [] and ns.tagged_lines("ipv6") == []


# --- in-process: the wide validation matrix and repairs -----------------------------------------------------


class InProcess:
    """execute() of the module in this process, every command run inside the namespace (and recorded)."""

    def __init__(self, ns: Netns) -> None:
        self.ns = ns
        self.calls: t.List[t.List[str]] = []
        self.which: t.Callable[[str], t.Optional[str]] = lambda name: shutil.which(name, path=SBIN_PATH)

    def runner(self, args: t.List[str], data: t.Optional[str] = None) -> t.Tuple[int, str, str]:
        self.calls.append(list(args))
        proc = self.ns.run(*args, data=None if data is None else data + "\n", check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def __call__(self, check_mode: bool = False, **options: t.Any) -> t.Dict[str, t.Any]:
        params: t.Dict[str, t.Any] = {"name": None, "mark": None, "destination": None, "protocol": "tcp", "ports": None, "source": None, "local": False,
                                      "rules": None, "purge": False, "state": "present", "backend": "auto", "table": "lvs_ipvs"}
        params.update(options)
        return execute(params, self.runner, self.which, check_mode, True)


@pytest.fixture
def module(ns: Netns, monkeypatch: pytest.MonkeyPatch) -> InProcess:
    # The libnftables binding would act on this process's own namespace: in process, always the nft program inside `ns`.
    monkeypatch.setattr(_fwmark_nft, "Nftables", None)
    return InProcess(ns)


MATRIX = [
    ({"mark": 0}, "mark"), ({"mark": 4294967296}, "mark"), ({"mark": -1}, "mark"), ({"mark": True}, "mark"),
    ({"ports": [0]}, "ports"), ({"ports": [65536]}, "ports"), ({"ports": ["90-80"]}, "ports"), ({"ports": []}, "ports"), ({"ports": ["80,443"]}, "ports"),
    ({"ports": ["1-65536"]}, "ports"), ({"ports": [None]}, "ports"), ({"ports": ["https"]}, "ports"),
    ({"destination": "198.51.100.256"}, "destination"), ({"destination": "198.51.100.0/24/8"}, "destination"),
    ({"destination": "2001:db8::1/129"}, "destination"),
    ({"destination": "198.51.100.128/24"}, "destination"), ({"destination": "::/0"}, "destination"), ({"destination": 198}, "destination"),
    ({"source": "192.0.2.0/24", "destination": VIP6}, "source"), ({"source": "2001:db8::/32"}, "source"), ({"source": "192.0.2.1/16"}, "source"),
    ({"source": "0.0.0.0/0"}, "source"), ({"protocol": "icmp"}, "protocol"), ({"protocol": "TCP"}, "protocol"), ({"name": ""}, "name"),
    ({"name": "a" * 101}, "name"), ({"name": "semi;colon"}, "name"), ({"local": "maybe"}, "local"), ({"table": "1table"}, "table"),
    ({"table": "a-b"}, "table"), ({"backend": "pf"}, "backend"), ({"state": "gone"}, "state"), ({"purge": "yes"}, "purge"),
    ({"rules": [{}], "name": None, "mark": None, "destination": None, "ports": None}, "rules[0].mark"),
    ({"rules": [{"mark": 8, "destination": VIP, "ports": [80], "local": 1}], "name": None, "mark": None, "destination": None, "ports": None}, "rules[0].local"),
    ({"rules": [{"mark": 8, "destination": VIP, "ports": [80]}]}, "rules"),
]


@pytest.mark.parametrize("backend", IN_PROCESS)
def test_validation_matrix_in_process_runs_no_command(ns: Netns, module: InProcess, backend: str) -> None:
    module(backend=backend, name="shop", mark=8, destination=VIP, ports=[80, 443])
    before = ns.snapshot()
    module.calls.clear()
    for change, option in MATRIX:
        params = dict({"name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443], "backend": backend}, **change)
        with pytest.raises(OptionError) as caught:
            module(**params)
        assert caught.value.option == option, (change, str(caught.value))
        assert str(caught.value).startswith(f"{option}: "), change
    assert module.calls == []  # validation failed before the kernel was even read
    assert ns.snapshot() == before


@pytest.mark.parametrize("backend", IN_PROCESS)
def test_a_rule_deleted_by_hand_comes_back(ns: Netns, module: InProcess, backend: str) -> None:
    rule = {"backend": backend, "name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443], "local": True}
    created = module(**rule)
    if backend == "nftables":
        (victim,) = [r for r in ns.our_rules() if r["chain"] == "output"]
        ns.run("nft", "delete", "rule", "inet", "lvs_ipvs", "output", "handle", str(victim["handle"]))
    else:
        (victim,) = [line for line in ns.tagged_lines() if line.startswith("-A OUTPUT")]
        ns.run("iptables", "-t", "mangle", "-D", "OUTPUT", "-d", f"{VIP}/32", "-p", "tcp", "-m", "multiport", "--dports", "80,443",
               "-m", "comment", "--comment", "lvs.ipvs:shop", "-j", "MARK", "--set-xmark", "0x8/0xffffffff")
    repaired = module(**rule)
    assert repaired["changed"] is True and len(repaired["commands"]) == 1 and "output" in repaired["commands"][0].lower()
    assert repaired["rules"] == created["rules"]
    assert module(**rule)["changed"] is False


@pytest.mark.parametrize("backend", IN_PROCESS)
def test_a_rule_edited_by_hand_is_repaired(ns: Netns, module: InProcess, backend: str) -> None:
    rule = {"backend": backend, "name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443]}
    created = module(**rule)
    if backend == "nftables":
        (handle,) = [r["handle"] for r in ns.our_rules()]
        ns.run("nft", "replace", "rule", "inet", "lvs_ipvs", "prerouting", "handle", str(handle), "ip", "daddr", VIP, "tcp", "dport", "80",
               "meta", "mark", "set", "7", "comment", '"lvs.ipvs:shop"')
    else:
        ns.run("iptables", "-t", "mangle", "-R", "PREROUTING", "1", "-d", VIP, "-i", "lv1", "-p", "tcp", "--dport", "80",
               "-m", "comment", "--comment", "lvs.ipvs:shop", "-j", "MARK", "--set-mark", "7")
    hand = module(check_mode=True, **rule)
    assert hand["changed"] is True and hand["rules"] == created["rules"]
    assert "mark set 0x00000007" in hand["diff"]["before"] or "--set-xmark 0x7/0xffffffff" in hand["diff"]["before"]
    repaired = module(**rule)
    assert repaired["rules"] == created["rules"] and module(**rule)["changed"] is False


@pytest.mark.parametrize("backend", IN_PROCESS)
def test_many_ports_and_ranges(ns: Netns, module: InProcess, backend: str) -> None:
    ports = [str(p) for p in range(1000, 1040, 2)] + ["2000-2100", "3000:3010", 80]  # 21 single ports and 2 ranges
    result = module(backend=backend, name="many", mark=77, destination="198.51.100.0/24", protocol="sctp", ports=ports, local=True)
    assert result["rules"][0]["ports"] == ["80"] + [str(p) for p in range(1000, 1040, 2)] + ["2000-2100", "3000-3010"]
    if backend == "iptables":
        lines = ns.tagged_lines()
        assert len(lines) == 4 and all("-m multiport --dports" in line for line in lines)  # 25 slots: 15 + 10, in two chains
    else:
        assert len(ns.our_rules()) == 2
    assert module(backend=backend, name="many", mark=77, destination="198.51.100.0/24", protocol="sctp", ports=list(reversed(ports)),
                  local=True)["changed"] is False


def test_a_chain_of_the_wrong_kind_is_recreated_in_one_batch(ns: Netns, module: InProcess) -> None:
    ns.run("nft", "-f", "-", data="table inet lvs_ipvs {\n chain prerouting {\n  type filter hook prerouting priority 0;\n"
                                  "  ip daddr 198.51.100.1 tcp dport 80 meta mark set 8 comment \"lvs.ipvs:shop\"\n }\n}\n")
    result = module(backend="nftables", name="shop", mark=8, destination=VIP, ports=[80, 443])
    assert [c.split(" rule ")[0].split(" chain ")[0] for c in result["commands"]] == ["delete", "delete", "add", "add"]
    assert "type filter hook prerouting priority mangle; policy accept;" in ns.nft_text()
    assert module(backend="nftables", name="shop", mark=8, destination=VIP, ports=[80, 443])["changed"] is False


def test_rules_we_did_not_write_in_our_table_are_left_alone(ns: Netns, module: InProcess) -> None:
    module(backend="nftables", name="shop", mark=8, destination=VIP, ports=[80, 443])
    ns.run("nft", "add", "rule", "inet", "lvs_ipvs", "prerouting", "tcp", "dport", "22", "counter")
    gone = module(backend="nftables", rules=[], purge=True, name=None, mark=None, destination=None, ports=None)
    assert gone["changed"] is True and gone["rules"] == []
    assert [c.split(" handle ")[0] for c in gone["commands"]] == ["delete rule inet lvs_ipvs prerouting"]
    (left,) = ns.our_rules()
    assert "comment" not in left and "chain prerouting" in ns.nft_text()
    assert module(backend="nftables", rules=[], purge=True, name=None, mark=None, destination=None, ports=None)["changed"] is False


def test_auto_uses_nftables_here_and_iptables_without_nft(ns: Netns, module: InProcess) -> None:
    assert module(name="shop", mark=8, destination=VIP, ports=[80])["backend"] == "nftables"
    without_nft = execute({"name": "shop2", "mark": 8, "destination": VIP, "protocol": "tcp", "ports": [80], "source": None, "local": False, "rules": None,
                           "purge": False, "state": "present", "backend": "auto", "table": "lvs_ipvs"},
                          module.runner, lambda name: None if name == "nft" else shutil.which(name, path=SBIN_PATH), False, False)
    assert without_nft["backend"] == "iptables" and len(ns.tagged_lines()) == 1


def test_iptables_legacy_variant(ns: Netns, module: InProcess) -> None:
    """The same lines through iptables-legacy (what `iptables` is where the alternatives point there)."""
    module.which = lambda name: shutil.which(name.replace("tables", "tables-legacy"), path=SBIN_PATH)
    rule = {"backend": "iptables", "name": "shop", "mark": 8, "destination": VIP, "ports": [80, 443], "local": True}

    def legacy_lines() -> t.List[str]:
        return sorted(line for line in ns.run("iptables-legacy-save", "-t", "mangle").stdout.splitlines() if "lvs.ipvs:" in line)

    assert module(**rule)["changed"] is True
    assert legacy_lines() == sorted(f'-A {chain} -d {VIP}/32 -p tcp -m multiport --dports 80,443 -m comment --comment "lvs.ipvs:shop" '
                                    "-j MARK --set-xmark 0x8/0xffffffff" for chain in ("PREROUTING", "OUTPUT"))
    assert ns.tagged_lines() == []  # the nf_tables variant sees none of it
    assert module(**rule)["changed"] is False
    module.calls.clear()
    changed = module(**dict(rule, ports=[80, 443, 8443]))
    assert len(changed["commands"]) == 4 and [call[0].rsplit("/", 1)[-1] for call in module.calls].count("iptables-legacy-restore") == 1
    assert all("80,443,8443" in line for line in legacy_lines())
    assert module(backend="iptables", rules=[], purge=True, name=None, mark=None, destination=None, ports=None)["changed"] is True
    assert legacy_lines() == []
