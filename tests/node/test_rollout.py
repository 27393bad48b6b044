# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A DR director pair of two lab nodes, deployed by playbooks/ha_pair.yml, with real TCP traffic through its VIP.

Two UML nodes (booted side by side, once for the module) are the directors on the lab bridge; the real servers rs1-rs4
and five clients are network namespaces on the same bridge (tests/node/pair_lab.py). The pair: PPC on
198.51.100.180:80, DR, rr, persistent; keepalived (VRRP only, VRID 180, priorities 150/100, nopreempt) moves the VIP
on eth0; the sync daemons (sync id 180) carry the persistence templates both ways.

The tests, each on the state the one before left (file order): a manual failover (keepalived stopped on the VIP's
holder); playbooks/rollout.yml adding rs4 and changing the persistence timeout, with its switch-over; a rollout the
standby refuses (scheduler twos); playbooks/parity.yml --check catching a weight changed by hand. Every client opens a
new connection every 0.2 s (pair_lab.ClientLoop); the figures (requests, failures, moves, longest gap without an
answer) go to lines starting with ROLLOUT-FIGURES (pytest -s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab import engine
from tests.node import nodekit, pair_lab

NAMES = ["rollout1", "rollout2"]
PRIORITIES = {"rollout1": 150, "rollout2": 100}
REPO = Path(__file__).resolve().parents[2]
VRID = SYNC_ID = 180
PERSISTENCE = 600
SERVICE = f"-t {pair_lab.VIP}:{pair_lab.PORT}"

log = nodekit.logger("rollout")
on_node = nodekit.on_node


def declaration(servers: tuple[str, ...] = ("rs1", "rs2", "rs3"), persistence: int = PERSISTENCE, scheduler: str = "rr") -> dict:
    """The pair's variables (group lvs_directors): the PPC recipe and role director_ha."""
    return {
        "director_install_packages": False,
        "director_schedulers": ["rr"],
        "lvs_recipes": ["ppc"],
        "ppc_vip": pair_lab.VIP,
        "ppc_ports": [pair_lab.PORT],
        "ppc_scheduler": scheduler,
        "ppc_forwarding": "dr",
        "ppc_persistence_timeout": persistence,
        "ppc_real_servers": [{"server": pair_lab.SERVERS[name]} for name in servers],
        "director_ha_interface": "eth0",
        "director_ha_virtual_router_id": VRID,
        "director_ha_sync_id": SYNC_ID,
        "director_ha_virtual_addresses": [{"address": f"{pair_lab.VIP}/32", "interface": "eth0"}],
        # A packet of a connection the new active director has not heard of yet (the sync sends a connection after its
        # third packet) is scheduled by its template instead of being reset.
        "director_ha_sloppy_tcp": True,
        "director_ha_install_packages": False,
    }


class Pair:
    """The two directors (lab node infos by name), the Ansible work directory and environment."""

    def __init__(self, infos: list[dict], work: Path) -> None:
        self.nodes = {info["name"]: info for info in infos}
        self.work = work
        self.env = nodekit.ansible_env(work)
        self.inventory = work / "inventory.yml"

    def write_inventory(self, **change) -> Path:
        """The rollout's inventory shape: both directors in lvs_directors with lvs_pair: lab; the pair's variables."""
        hosts = "\n".join(f"{nodekit.inventory_host(info)}\n          director_ha_priority: {PRIORITIES[name]}\n"
                          f"          lvs_pair: lab" for name, info in self.nodes.items())
        self.inventory.write_text(f"all:\n  children:\n    lvs_directors:\n      hosts:\n{hosts}\n"
                                  f"      vars: {json.dumps(declaration(**change))}\n")
        return self.inventory

    def playbook(self, name: str, *args: str) -> subprocess.CompletedProcess:
        started = time.monotonic()
        proc = subprocess.run([nodekit.ansible_playbook(), "-i", str(self.inventory), str(REPO / "playbooks" / name), *args],
                              cwd=REPO, env=self.env, capture_output=True, text=True, timeout=900, check=False)
        log(f"ansible-playbook playbooks/{name} {' '.join(args)}: rc {proc.returncode} after {time.monotonic() - started:.0f} s")
        return proc

    def run(self, script: str, name: str, **kwargs) -> str:
        return on_node(self.nodes[name], script, **kwargs).stdout

    def holders(self) -> list[str]:
        """The directors that have the VIP on eth0 now (`ip addr`)."""
        return [name for name in self.nodes
                if f"inet {pair_lab.VIP}/32 " in self.run("ip -o -4 addr show dev eth0", name)]

    def holder(self, timeout: float = 30) -> str:
        """The one director holding the VIP (waited for, bounded)."""
        deadline, holders = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            holders = self.holders()
            if len(holders) == 1:
                return holders[0]
            time.sleep(0.5)
        raise AssertionError(f"not exactly one director holds {pair_lab.VIP} after {timeout:.0f} s: {holders}")

    def other(self, name: str) -> str:
        return next(other for other in self.nodes if other != name)

    def table(self, name: str) -> str:
        """The director's IPVS table as `ipvsadm -S -n` saves it."""
        return self.run("ipvsadm -S -n", name)

    def templates(self, name: str) -> dict[str, str]:
        """The director's persistence templates of the PPC service: client -> real server name."""
        names = {address: server for server, address in pair_lab.SERVERS.items()}
        found = {}
        for line in self.run("ipvsadm -L -n -c", name).splitlines()[2:]:
            words = line.split()
            if len(words) >= 6 and words[3].endswith(":0") and words[4] == f"{pair_lab.VIP}:{pair_lab.PORT}":
                found[words[3].rsplit(":", 1)[0]] = names.get(words[5].rsplit(":", 1)[0], words[5])
        return found

    def wait_templates(self, name: str, wanted: dict[str, str], timeout: float = 30) -> None:
        """Until director `name` has the persistence template of every client in `wanted`, to the same real server."""
        deadline, found = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            found = self.templates(name)
            if all(found.get(client) == server for client, server in wanted.items()):
                return
            time.sleep(0.5)
        raise AssertionError(f"{name} lacks templates after {timeout:.0f} s: has {found}, wanted {wanted}")


def expected_rules(servers: tuple[str, ...], persistence: int = PERSISTENCE, scheduler: str = "rr") -> list[str]:
    """The lines of `ipvsadm -S -n` for the declaration (DR: -g, weight 1)."""
    return [f"-A {SERVICE} -s {scheduler} -p {persistence}"] + [
        f"-a {SERVICE} -r {pair_lab.SERVERS[name]}:{pair_lab.PORT} -g -w 1" for name in servers]


def rules(table: str) -> list[str]:
    return [" ".join(line.split()) for line in table.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two directors booted side by side, the test hosts on the lab bridge, one ha_pair.yml run."""
    if os.environ.get(engine.VARIABLE) == "qemu":
        # Only where the QEMU fallback was asked for by name (as tests/node/test_lab_node.py): on the default engine a
        # missing lab bridge fails the test.
        pytest.skip(f"{engine.VARIABLE}=qemu: QEMU nodes have no lab bridge between them, which the pair and its test hosts need")
    with nodekit.booted_nodes(NAMES, log) as infos:
        pair_lab.up()
        try:
            deployed = Pair(infos, tmp_path_factory.mktemp("rollout"))
            deployed.write_inventory()
            proc = deployed.playbook("ha_pair.yml")
            assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
            for name in NAMES:
                assert re.search(rf"^{name}\s+:.*\bfailed=0\b", proc.stdout, re.M), proc.stdout[-3000:]
            holder = deployed.holder(timeout=60)
            log(f"{holder} holds {pair_lab.VIP}")
            yield deployed
        finally:
            pair_lab.down()


def test_the_pair_carries_traffic_and_a_failover_moves_no_client(pair):
    """ha_pair.yml's pair: the same table on both, one VIP holder, clients pinned; the templates reach the standby;
    `systemctl stop keepalived` on the holder moves the VIP to the other under the client loop: no failed request, no
    client on another real server. keepalived started again on the old holder does not take the VIP back (nopreempt)."""
    active = pair.holder()
    standby = pair.other(active)
    for name in NAMES:
        assert rules(pair.table(name)) == expected_rules(("rs1", "rs2", "rs3")), pair.table(name)
        daemons = pair.run("ipvsadm -L --daemon", name)
        assert re.search(r"^master sync daemon \(mcast=eth0, syncid=180\b", daemons, re.M), daemons
        assert re.search(r"^backup sync daemon \(mcast=eth0, syncid=180\b", daemons, re.M), daemons

    with pair_lab.ClientLoop(seconds=120) as load:
        load.wait_answers(5)
        pinned = {client: answers[0] for client, answers in load.served().items()}
        assert set(pinned.values()) <= {"rs1", "rs2", "rs3"} and len(set(pinned.values())) > 1, pinned
        assert pair.templates(active) == pinned
        pair.wait_templates(standby, pinned)

        moved_at = time.monotonic()
        pair.run("systemctl stop keepalived.service", active)
        assert pair.holder(timeout=20) == standby
        log(f"{pair_lab.VIP} on {standby} {time.monotonic() - moved_at:.1f} s after keepalived stopped on {active}")
        load.wait_answers(5)
        pair.run("systemctl start keepalived.service", active)
        load.wait_answers(5)
    figures = load.figures()
    print("ROLLOUT-FIGURES failover " + json.dumps(figures))
    assert figures["failures"] == 0, figures
    assert figures["moves"] == 0, figures
    assert pair.holders() == [standby], "nopreempt: the old holder stays BACKUP"


def failures(out: str) -> list[tuple[str, str]]:
    """The failed tasks of an ansible-playbook run: (host, the result's msg), in order. A result is printed on one line
    or, as JSON over several lines, up to a line "}"."""
    found = []
    lines = out.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(?:fatal|failed): \[(\S+)\].*? => (.*)$", line)
        if match:
            text = match.group(2)
            if text == "{":
                text = "\n".join(lines[index:index + 1 + lines[index:].index("}")])[len(line) - 1:]
            found.append((match.group(1), str(json.loads(text).get("msg", text))))
    return found


def director_changes(out: str) -> list[str]:
    """The directors the rollout changed, in order (the lines Ansible prints for the included director_change.yml)."""
    return re.findall(r"^included: \S*director_change\.yml for (\S+)$", out, re.M)


def rollout_under_load(pair: Pair, tag: str) -> tuple[subprocess.CompletedProcess, dict]:
    """playbooks/rollout.yml while the clients' loop runs (every client answered 5 times before it and 5 times after);
    the loop's figures printed on a line "ROLLOUT-FIGURES <tag>"."""
    with pair_lab.ClientLoop(seconds=400) as load:
        load.wait_answers(5)
        proc = pair.playbook("rollout.yml")
        load.wait_answers(5)
    figures = load.figures()
    print(f"ROLLOUT-FIGURES {tag} " + json.dumps(figures))
    return proc, figures


def test_a_rollout_adds_a_real_server_and_changes_the_persistence_with_a_switch_over(pair):
    """playbooks/rollout.yml with rs4 added and the persistence timeout 600 -> 900, under the client loop: the standby
    first, the switch-over, the other; no failed request, no client on another real server, the VIP on the other
    director, both tables as declared, parity true."""
    active = pair.holder()
    standby = pair.other(active)
    servers = ("rs1", "rs2", "rs3", "rs4")
    pair.write_inventory(servers=servers, persistence=900)
    proc, figures = rollout_under_load(pair, "rollout")
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    assert director_changes(proc.stdout) == [standby, active], proc.stdout[-8000:]
    assert figures["failures"] == 0, figures
    assert figures["moves"] == 0, figures
    assert pair.holders() == [standby], f"the VIP was on {active}: the switch-over hands it to {standby}"
    for name in NAMES:
        assert rules(pair.table(name)) == expected_rules(servers, persistence=900), pair.table(name)
    parity = pair.playbook("parity.yml", "--check")
    assert parity.returncode == 0, parity.stdout[-6000:]
    for name in NAMES:
        assert f"{name} and {pair.other(name)}: the same table, templates and sync daemons both ways" in parity.stdout, parity.stdout[-6000:]


def test_b_a_change_the_standby_refuses_stops_the_rollout_before_any_traffic_moves(pair):
    """Scheduler twos: the model accepts it, the lab's kernel (Debian's 6.1) has no ip_vs_twos, so the standby's change
    fails (lvs.ipvs.ipvs_table: the kernel refuses `-E ... -s twos`, the batch is undone). The rollout stops there: both
    tables (the active director's never touched) and both directors' addresses are as before, keepalived
    never entered MASTER on the standby, and the clients saw no failure."""
    active = pair.holder()
    standby = pair.other(active)
    tables = {name: pair.table(name) for name in NAMES}
    addresses = {name: pair.run("ip -o -4 addr show dev eth0", name) for name in NAMES}
    since = pair.run("date +%s", standby).strip()
    pair.write_inventory(servers=("rs1", "rs2", "rs3", "rs4"), persistence=900, scheduler="twos")
    proc, figures = rollout_under_load(pair, "refused")
    failed = failures(proc.stdout)
    log(f"the refused change: {failed}")
    print(f"ROLLOUT-REFUSED standby {standby} table after the failed change:\n{pair.table(standby)}")
    assert proc.returncode != 0, proc.stdout[-6000:]
    assert [host for host, dummy in failed] == [standby] and "twos" in failed[0][1], proc.stdout[-6000:]
    assert director_changes(proc.stdout) == [standby], proc.stdout[-6000:]
    assert "TASK [The switch-over" not in proc.stdout, proc.stdout[-6000:]
    assert pair.table(active) == tables[active]
    assert pair.table(standby) == tables[standby], "the refused change is undone on the standby"
    assert {name: pair.run("ip -o -4 addr show dev eth0", name) for name in NAMES} == addresses
    assert pair.holders() == [active]
    entered = pair.run(f"journalctl -u keepalived.service --since @{since} --no-pager -o cat | grep -c 'Entering MASTER STATE' || true",
                       standby)
    assert entered.strip() == "0", f"keepalived became MASTER on {standby} during the refused rollout"
    assert figures["failures"] == 0, figures
    assert figures["moves"] == 0, figures


def test_c_parity_in_check_mode_catches_a_weight_changed_by_hand(pair):
    """parity.yml --check holds for the pair as the rollouts left it; after `ipvsadm -e ... -w 5` on one director it
    fails on both directors, each naming the real server and the weight."""
    changed = pair.holder()
    control = pair.playbook("parity.yml", "--check")
    assert control.returncode == 0, control.stdout[-6000:]
    rs1 = pair_lab.SERVERS["rs1"]
    pair.run(f"ipvsadm -e {SERVICE} -r {rs1}:{pair_lab.PORT} -g -w 5", changed)
    try:
        proc = pair.playbook("parity.yml", "--check")
        differ = failures(proc.stdout)
        print("ROLLOUT-PARITY " + json.dumps(differ))
        assert proc.returncode != 0, proc.stdout[-6000:]
        assert sorted(host for host, dummy in differ) == sorted(NAMES), proc.stdout[-6000:]
        for dummy, message in differ:
            assert f"real server {rs1}:{pair_lab.PORT}" in message and re.search(r"\bweight\b.*\b5\b", message), message
    finally:
        pair.run(f"ipvsadm -e {SERVICE} -r {rs1}:{pair_lab.PORT} -g -w 1", changed)
