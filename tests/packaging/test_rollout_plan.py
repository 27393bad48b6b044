# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/rollout.yml's plan (--tags plan, which changes nothing) against an inventory of pairs on this machine.

Every "director" is this machine (connection local); which of a pair holds its addresses is asked from this machine's
kernel, as the plan asks a real director's: a director whose director_ha_virtual_addresses is 127.0.0.1/8 (on lo here)
holds them all, one whose address is 198.51.100.250/32 (on no interface here) holds none, one with both holds some. The
plan must order the pairs by name, the standby first, and refuse - before anything runs on a director - a pair of one,
a pair where both or neither hold the addresses, and preempt. The rollout itself, with real directors, traffic and a
switch-over, is tests/node/test_rollout.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.node.nodekit import ansible_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOLDS = [{"address": "127.0.0.1/8", "interface": "lo"}]
FREE = [{"address": "198.51.100.250/32", "interface": "lo"}]


def inventory(pairs: dict[str, dict[str, list]], **extra) -> dict:
    hosts = {}
    for pair, members in pairs.items():
        for host, addresses in members.items():
            hosts[host] = {"lvs_pair": pair, "director_ha_virtual_addresses": addresses, "ansible_connection": "local",
                           "ansible_python_interpreter": sys.executable, **extra}
    return {"all": {"children": {"lvs_directors": {"hosts": hosts, "vars": {"director_ha_interface": "lo"}}}}}


def plan(tmp_path, pairs: dict[str, dict[str, list]], **extra) -> tuple[subprocess.CompletedProcess, list]:
    """Run the plan; return the process and the rollout order it made: [(pair, host, role, peer)]."""
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory(pairs, **extra)))
    env = ansible_env(tmp_path, ANSIBLE_LOCALHOST_WARNING="false")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(path),
                           os.path.join(REPO, "playbooks", "rollout.yml"), "--tags", "plan"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    # The loop labels of the task "Order the rollout": "=> (item=site_a: a2 (standby, peer a1))".
    order = re.findall(r"=> \(item=(\S+): (\S+) \((standby|active), peer (\S+)\)\)", proc.stdout)
    return proc, order


def test_two_pairs_are_ordered_by_name_the_standby_first(tmp_path):
    proc, order = plan(tmp_path, {"site_b": {"b1": FREE, "b2": HOLDS}, "site_a": {"a1": HOLDS, "a2": FREE}})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert order == [("site_a", "a2", "standby", "a1"), ("site_a", "a1", "active", "a2"),
                     ("site_b", "b1", "standby", "b2"), ("site_b", "b2", "active", "b1")]


@pytest.mark.parametrize("pairs, expected", [
    ({"site_a": {"a1": HOLDS, "a2": FREE}, "site_b": {"b1": HOLDS}}, "pair site_b has 1 directors in this run (b1): a pair is two"),
    ({"site_a": {"a1": HOLDS, "a2": HOLDS}}, "pair site_a: a1 holds all and a2 holds all of its addresses"),
    ({"site_a": {"a1": FREE, "a2": FREE}}, "pair site_a: a1 holds none and a2 holds none of its addresses"),
    ({"site_a": {"a1": HOLDS + FREE, "a2": FREE}}, "pair site_a: a1 holds some and a2 holds none of its addresses"),
], ids=["alone", "both-hold", "neither-holds", "some"])
def test_a_pair_in_an_odd_state_stops_the_plan(tmp_path, pairs, expected):
    proc, order = plan(tmp_path, pairs)
    assert proc.returncode != 0
    assert order == []
    assert "Nothing was changed" in proc.stdout and expected in proc.stdout, proc.stdout[-3000:]


def test_preempt_is_refused(tmp_path):
    proc, order = plan(tmp_path, {"site_a": {"a1": HOLDS, "a2": FREE}}, director_ha_preempt=True)
    assert proc.returncode != 0 and order == []
    assert "director_ha_preempt false" in proc.stdout, proc.stdout[-3000:]


def test_the_example_inventory_has_two_pairs_of_two(tmp_path):
    """playbooks/inventory/pairs.example.yml, as Ansible reads it: two pairs, each two directors with their own VRRP id
    and addresses, nopreempt, and the variables the rollout's plan asks for."""
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i",
                           os.path.join(REPO, "playbooks", "inventory", "pairs.example.yml"), "--list"],
                          capture_output=True, text=True, env=ansible_env(tmp_path), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    hostvars = yaml.safe_load(proc.stdout)["_meta"]["hostvars"]
    pairs: dict[str, list[str]] = {}
    for host, values in hostvars.items():
        pairs.setdefault(values["lvs_pair"], []).append(host)
        assert values["director_ha_virtual_addresses"] and values["director_ha_preempt"] is False, (host, values)
    assert {pair: sorted(hosts) for pair, hosts in pairs.items()} == {"site_a": ["lb-a1", "lb-a2"], "site_b": ["lb-b1", "lb-b2"]}
    assert hostvars["lb-a1"]["director_ha_virtual_router_id"] != hostvars["lb-b1"]["director_ha_virtual_router_id"]
    assert hostvars["lb-a1"]["ppc_vip"] != hostvars["lb-b1"]["ppc_vip"]
