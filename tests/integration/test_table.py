# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_table on the real kernel: every state read back with ipvsadm, restrict, a refusal in the middle of a batch, idempotence.

`ipvsadm -S -n` lists services in hash order: tables are compared sorted.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.integration.conftest import ipvsadm, saved_table
from tests.integration.modules import four_steps, run_module

VIP = "198.51.100.1"

# A table with one of everything ipvsadm -S -n writes: PPC, PCC with -M, NAT with another port, UDP with -o, IPv6 with
# scheduler flags, fwmark (IPv4 and IPv6 with a prefix), SCTP, SIP persistence engine, GUE and GRE tunnels, weight 0.
DIVERSE = [
    ["-A", "-t", f"{VIP}:80", "-s", "rr", "-p", "3600"],
    ["-a", "-t", f"{VIP}:80", "-r", "192.0.2.11", "-g", "-w", "2"],
    ["-a", "-t", f"{VIP}:80", "-r", "192.0.2.12", "-g", "-w", "0"],
    ["-A", "-t", f"{VIP}:0", "-s", "wlc", "-p", "600", "-M", "255.255.255.0"],
    ["-a", "-t", f"{VIP}:0", "-r", "192.0.2.11", "-g"],
    ["-A", "-t", "198.51.100.2:8080", "-s", "wlc"],
    ["-a", "-t", "198.51.100.2:8080", "-r", "192.0.2.21:80", "-m", "-w", "3"],
    ["-a", "-t", "198.51.100.2:8080", "-r", "192.0.2.22:8081", "-m", "-w", "1"],
    ["-A", "-u", "198.51.100.3:53", "-s", "rr", "-o"],
    ["-a", "-u", "198.51.100.3:53", "-r", "192.0.2.31:5353", "-m"],
    ["-A", "-u", "198.51.100.4:5060", "-s", "rr", "-p", "60", "--pe", "sip"],
    ["-a", "-u", "198.51.100.4:5060", "-r", "192.0.2.41", "-i", "--tun-type", "gue", "--tun-port", "6080", "--tun-csum"],
    ["-a", "-u", "198.51.100.4:5060", "-r", "192.0.2.42", "-i", "--tun-type", "gre", "--tun-nocsum"],
    ["-a", "-u", "198.51.100.4:5060", "-r", "192.0.2.43", "-i"],
    ["-A", "-u", "[2001:db8::53]:53", "-s", "sh", "-b", "sh-port"],
    ["-a", "-u", "[2001:db8::53]:53", "-r", "[2001:db8::11]:53", "-m"],
    ["-A", "-f", "8", "-s", "rr", "-p", "600"],
    ["-a", "-f", "8", "-r", "192.0.2.11", "-g", "-w", "2"],
    ["-A", "-f", "9", "-6", "-s", "wlc", "-p", "60", "-M", "64"],
    ["-a", "-f", "9", "-6", "-r", "[2001:db8::21]:0", "-g"],
    ["-A", "--sctp-service", "203.0.113.1:9", "-s", "lc"],
    ["-a", "--sctp-service", "203.0.113.1:9", "-r", "192.0.2.51", "-m", "-w", "7"],
]


def build(commands: list[list[str]]) -> None:
    for command in commands:
        ipvsadm(*command)


def ok(result: dict) -> dict:
    assert not result.get("failed"), result.get("msg")
    return result


def test_gathered_equals_the_parsed_save(clean_ipvs):
    build(DIVERSE)
    saved = ipvsadm("-S", "-n")
    gathered = ok(run_module("ipvs_table", {"state": "gathered"}))
    parsed = ok(run_module("ipvs_table", {"state": "parsed", "running_config": saved}))
    assert gathered["changed"] is False
    assert gathered["gathered"] == parsed["parsed"]
    assert len(gathered["gathered"]) == 9
    sip = next(item for item in gathered["gathered"] if item.get("port") == 5060)
    assert sip["persistence_engine"] == "sip"
    assert {server["tunnel_type"] for server in sip["real_servers"]} == {"gue", "gre", "ipip"}
    # rendered gives back the same lines, in ipvsadm's syntax.
    rendered = ok(run_module("ipvs_table", {"state": "rendered", "config": gathered["gathered"]}))
    assert sorted(rendered["rendered"]) == sorted(saved_table())


def test_parsed_save_applied_overridden_to_an_empty_kernel_reproduces_it(clean_ipvs):
    build(DIVERSE)
    original = sorted(saved_table())
    parsed = ok(run_module("ipvs_table", {"state": "parsed", "running_config": ipvsadm("-S", "-n")}))["parsed"]
    ipvsadm("-C")
    result = ok(run_module("ipvs_table", {"state": "overridden", "config": parsed}, diff=True))
    assert result["changed"] is True
    assert sorted(saved_table()) == original
    assert result["before"] == []
    assert result["after"] == parsed
    assert sorted(result["diff"]["after"].splitlines()) == original
    again = ok(run_module("ipvs_table", {"state": "overridden", "config": parsed}))
    assert again["changed"] is False and again["commands"] == []


def test_rendered_lines_restore_with_ipvsadm_to_what_the_module_makes(clean_ipvs):
    config = [
        {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600,
         "real_servers": [{"server": "192.0.2.11", "weight": 2, "upper_threshold": 100, "lower_threshold": 10}, {"server": "192.0.2.12"}]},
        {"fwmark": 8, "persistence_timeout": 600, "persistence_granularity": "24", "real_servers": [{"server": "192.0.2.11", "forwarding": "nat"}]},
    ]
    rendered = ok(run_module("ipvs_table", {"state": "rendered", "config": config}))["rendered"]
    subprocess.run(["ipvsadm", "-R"], input="\n".join(rendered) + "\n", text=True, check=True)
    by_ipvsadm = sorted(saved_table())
    thresholds = ipvsadm("-L", "-n", "--thresholds")
    ipvsadm("-C")
    ok(run_module("ipvs_table", {"state": "overridden", "config": config}))
    assert sorted(saved_table()) == by_ipvsadm
    assert ipvsadm("-L", "-n", "--thresholds") == thresholds
    assert "100" in thresholds


TEAM_A = [["-A", "-t", f"{VIP}:80", "-s", "rr"], ["-a", "-t", f"{VIP}:80", "-r", "192.0.2.11", "-g"],
          ["-A", "-t", f"{VIP}:443", "-s", "rr"], ["-a", "-t", f"{VIP}:443", "-r", "192.0.2.11", "-g"]]
TEAM_B = [["-A", "-t", "198.51.100.200:80", "-s", "wlc"], ["-a", "-t", "198.51.100.200:80", "-r", "192.0.2.99", "-m", "-w", "4"],
          ["-A", "-f", "8", "-s", "rr", "-p", "600"], ["-a", "-f", "8", "-r", "192.0.2.98", "-g"]]
RESTRICT_A = [{"addresses": ["198.51.100.0/25"]}]


def others() -> list[str]:
    """The lines of TEAM_B's services."""
    return sorted(line for line in saved_table() if "198.51.100.200" in line or " -f 8 " in f"{line} ")


def test_restrict_leaves_services_outside_it_untouched_even_with_overridden(clean_ipvs):
    build(TEAM_A + TEAM_B)
    theirs = others()
    assert len(theirs) == 4
    config = [{"protocol": "tcp", "address": VIP, "port": 8080, "scheduler": "wlc", "real_servers": [{"server": "192.0.2.12", "forwarding": "nat"}]}]
    results = four_steps("ipvs_table", {"state": "overridden", "restrict": RESTRICT_A, "config": config})
    assert results[1]["commands"] == [f"-A -t {VIP}:8080 -s wlc", f"-a -t {VIP}:8080 -r 192.0.2.12:8080 -m -w 1", f"-D -t {VIP}:80", f"-D -t {VIP}:443"]
    assert [item["port"] for item in results[1]["before"]] == [80, 443]
    assert others() == theirs
    gathered = ok(run_module("ipvs_table", {"state": "gathered", "restrict": RESTRICT_A}))["gathered"]
    assert [item["port"] for item in gathered] == [8080]
    # deleted without config: everything in scope, and nothing else.
    results = four_steps("ipvs_table", {"state": "deleted", "restrict": RESTRICT_A})
    assert results[1]["commands"] == [f"-D -t {VIP}:8080"]
    assert sorted(saved_table()) == theirs


def test_a_service_outside_restrict_in_config_is_an_error_and_changes_nothing(clean_ipvs):
    build(TEAM_A + TEAM_B)
    before = sorted(saved_table())
    config = [{"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr"}, {"fwmark": 8, "persistence_timeout": 60}]
    result = run_module("ipvs_table", {"state": "overridden", "restrict": RESTRICT_A, "config": config})
    assert result["failed"] and result["option"] == "config[1]" and "outside restrict" in result["msg"]
    assert sorted(saved_table()) == before


def test_fwmark_restrict_owns_only_fwmark_services(clean_ipvs):
    build(TEAM_A + TEAM_B)
    result = ok(run_module("ipvs_table", {"state": "overridden", "restrict": [{"fwmarks": [8, 9]}], "config": [{"fwmark": 9, "scheduler": "rr"}]}))
    assert result["commands"] == ["-A -f 9 -s rr", "-D -f 8"]
    assert len(saved_table()) == 7


def test_bad_input_names_the_entry_and_changes_nothing(clean_ipvs):
    build(TEAM_A)
    before = sorted(saved_table())
    config = [{"protocol": "tcp", "address": VIP, "port": 8080},
              {"protocol": "tcp", "address": VIP, "port": 8081, "real_servers": [{"server": "192.0.2.11", "weight": 70000}]}]
    result = run_module("ipvs_table", {"state": "overridden", "config": config})
    assert result["failed"] and result["option"] == "config[1].real_servers[0].weight"
    assert "0 to 65535" in result["msg"]
    assert sorted(saved_table()) == before


def test_a_refusal_mid_batch_reports_which_and_why_and_rolls_back(clean_ipvs):
    # 100 services of one real server each: 200 operations, sent in batches of 64. Service 40 asks for `twos`, which this
    # 6.1 kernel lacks: its -A is operation 80 and its -a operation 81, both in the second batch (64..127).
    config = [{"protocol": "tcp", "address": VIP, "port": 8000 + number, "scheduler": "twos" if number == 40 else "rr",
               "real_servers": [{"server": "192.0.2.11", "forwarding": "nat"}]} for number in range(100)]
    check = ok(run_module("ipvs_table", {"state": "merged", "config": config}, check=True))
    commands = check["commands"]
    assert len(commands) == 200 and commands[80] == f"-A -t {VIP}:8040 -s twos"
    result = run_module("ipvs_table", {"state": "merged", "config": config})
    assert result["failed"]
    assert result["msg"].startswith(f"the kernel refused `ipvsadm -A -t {VIP}:8040 -s twos`: scheduler 'twos' is not available in this kernel")
    assert "126 of 200 operations were applied and have been undone: the table is as it was, 2 refused, 72 not sent" in result["msg"]
    assert result["failed_command"] == commands[80]
    assert [entry["command"] for entry in result["refused"]] == commands[80:82]
    assert "does not exist" in result["refused"][1]["error"]
    assert result["applied_commands"] == commands[:80] + commands[82:128]
    assert result["unsent_commands"] == commands[128:]
    # Undone newest first: the adds of services become deletes (which take their real servers with them).
    undone = result["rolled_back_commands"]
    assert "rollback_refused" not in result and len(undone) == 126 and undone[0].startswith("-d ") and undone[-1] == f"-D -t {VIP}:8000"
    # The documented outcome, read back independently: the table as it was (empty).
    assert saved_table() == []
    assert result["before"] == []
    # Fixed, the same task makes the whole table.
    config[40]["scheduler"] = "rr"
    finished = ok(run_module("ipvs_table", {"state": "merged", "config": config}))
    assert finished["commands"] == commands[:80] + [f"-A -t {VIP}:8040 -s rr", f"-a -t {VIP}:8040 -r 192.0.2.11:8040 -m -w 1"] + commands[82:]
    assert len(saved_table()) == 200


BASE = [["-A", "-t", f"{VIP}:80", "-s", "rr", "-p", "3600"], ["-a", "-t", f"{VIP}:80", "-r", "192.0.2.11", "-g", "-w", "2"],
        ["-a", "-t", f"{VIP}:80", "-r", "192.0.2.12", "-g", "-w", "2"], ["-A", "-f", "8", "-s", "rr"], ["-a", "-f", "8", "-r", "192.0.2.11", "-g"]]


@pytest.mark.parametrize("state, config, commands, table", [
    pytest.param(
        "merged",
        [{"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "persistence_timeout": 3600,
          "real_servers": [{"server": "192.0.2.12", "weight": 5}, {"server": "192.0.2.13"}, {"server": "192.0.2.11", "state": "absent"}]},
         {"protocol": "udp", "address": VIP, "port": 53, "scheduler": "rr"}],
        [f"-a -t {VIP}:80 -r 192.0.2.13:80 -g -w 1", f"-e -t {VIP}:80 -r 192.0.2.12:80 -g -w 5", f"-d -t {VIP}:80 -r 192.0.2.11:80",
         f"-A -u {VIP}:53 -s rr"],
        [f"-A -t {VIP}:80 -s rr -p 3600", f"-a -t {VIP}:80 -r 192.0.2.12:80 -g -w 5", f"-a -t {VIP}:80 -r 192.0.2.13:80 -g -w 1",
         f"-A -u {VIP}:53 -s rr", "-A -f 8 -s rr", "-a -f 8 -r 192.0.2.11:0 -g -w 1"],
        id="merged"),
    pytest.param(
        "replaced",
        [{"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "wlc", "real_servers": [{"server": "192.0.2.13", "forwarding": "nat"}]}],
        [f"-E -t {VIP}:80 -s wlc", f"-a -t {VIP}:80 -r 192.0.2.13:80 -m -w 1", f"-d -t {VIP}:80 -r 192.0.2.11:80", f"-d -t {VIP}:80 -r 192.0.2.12:80"],
        [f"-A -t {VIP}:80 -s wlc", f"-a -t {VIP}:80 -r 192.0.2.13:80 -m -w 1", "-A -f 8 -s rr", "-a -f 8 -r 192.0.2.11:0 -g -w 1"],
        id="replaced"),
    pytest.param(
        "overridden",
        [{"fwmark": 8, "scheduler": "rr", "real_servers": [{"server": "192.0.2.11"}, {"server": "192.0.2.14", "weight": 3}]}],
        ["-a -f 8 -r 192.0.2.14:0 -g -w 3", f"-D -t {VIP}:80"],
        ["-A -f 8 -s rr", "-a -f 8 -r 192.0.2.11:0 -g -w 1", "-a -f 8 -r 192.0.2.14:0 -g -w 3"],
        id="overridden"),
    pytest.param(
        "deleted",
        [{"fwmark": 8}, {"protocol": "udp", "address": VIP, "port": 53}],
        ["-D -f 8"],
        [f"-A -t {VIP}:80 -s rr -p 3600", f"-a -t {VIP}:80 -r 192.0.2.11:80 -g -w 2", f"-a -t {VIP}:80 -r 192.0.2.12:80 -g -w 2"],
        id="deleted"),
])
def test_four_steps_for_each_state(clean_ipvs, state, config, commands, table):
    build(BASE)
    before = sorted(saved_table())
    results = four_steps("ipvs_table", {"state": state, "config": config})
    assert results[1]["commands"] == commands
    assert sorted(saved_table()) == sorted(table)
    # --diff shows the table before and after in ipvsadm -S -n syntax; check mode predicted the same after.
    assert sorted(results[0]["diff"]["before"].splitlines()) == before
    assert sorted(results[0]["diff"]["after"].splitlines()) == sorted(table)
    assert results[0]["after"] == results[1]["after"]
    assert results[3]["diff"]["before"] == results[3]["diff"]["after"]
    assert "after" not in results[3]
    assert results[3]["before"] == ok(run_module("ipvs_table", {"state": "gathered"}))["gathered"]


def test_before_after_changed_and_none(clean_ipvs):
    build(BASE)
    config = [{"fwmark": 8, "scheduler": "rr", "real_servers": [{"server": "192.0.2.11", "weight": 4}]}]
    changed = ok(run_module("ipvs_table", {"state": "merged", "config": config, "before_after": "changed"}))
    assert [item.get("fwmark") for item in changed["before"]] == [8]
    assert changed["after"][0]["real_servers"][0]["weight"] == 4
    lean = ok(run_module("ipvs_table", {"state": "merged", "config": config, "before_after": "none"}))
    assert lean["changed"] is False and lean["before"] == [] and "after" not in lean


def test_netns(clean_ipvs):
    name = f"lvs-table-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        # The kernel takes only real servers it can route to (else EINVAL): give the namespace 192.0.2.0/24.
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", name, "addr", "add", "192.0.2.1/24", "dev", "lo"], check=True)
        config = [{"protocol": "tcp", "address": VIP, "port": 80, "real_servers": [{"server": "192.0.2.11"}]}]
        results = four_steps("ipvs_table", {"state": "overridden", "config": config, "netns": name})
        assert results[1]["commands"] == [f"-A -t {VIP}:80 -s wlc", f"-a -t {VIP}:80 -r 192.0.2.11:80 -g -w 1"]
        inside = subprocess.run(["ip", "netns", "exec", name, "ipvsadm", "-S", "-n"], capture_output=True, text=True, check=True).stdout
        assert sorted(inside.split("\n")[:-1]) == [f"-A -t {VIP}:80 -s wlc", f"-a -t {VIP}:80 -r 192.0.2.11:80 -g -w 1"]
        assert saved_table() == []
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def test_ipvs_service_through_the_pipelined_apply_reports_a_refusal_in_one_batch(clean_ipvs):
    task = {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "twos", "real_servers": [{"server": "192.0.2.11"}, {"server": "192.0.2.12"}]}
    result = run_module("ipvs_service", task)
    assert result["failed"] and result["failed_command"] == f"-A -t {VIP}:80 -s twos"
    assert [entry["command"] for entry in result["refused"]] == [f"-A -t {VIP}:80 -s twos", f"-a -t {VIP}:80 -r 192.0.2.11:80 -g -w 1",
                                                                 f"-a -t {VIP}:80 -r 192.0.2.12:80 -g -w 1"]
    assert result["applied_commands"] == [] and result["unsent_commands"] == []
    assert saved_table() == []
