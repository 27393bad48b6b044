# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_sync_daemon through the real kernel, read back with `ipvsadm -L --daemon`.

Each case runs the house's four steps (check, apply, check again, apply again) in a namespace of
its own with two interfaces: "sd0" (an address, MTU 9000) and "sd1" (no address, MTU 1500).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.modules import four_steps, run_module

NS = "lvssync"


def daemons() -> list[str]:
    out = subprocess.run(["ip", "netns", "exec", NS, "ipvsadm", "-L", "--daemon"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


@pytest.fixture
def ns():
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)
    for argv in (["ip", "netns", "add", NS], ["ip", "-n", NS, "link", "set", "lo", "up"],
                 ["ip", "-n", NS, "link", "add", "sd0", "mtu", "9000", "type", "dummy"], ["ip", "-n", NS, "link", "set", "sd0", "up"],
                 ["ip", "-n", NS, "addr", "add", "198.51.100.253/30", "dev", "sd0"],
                 ["ip", "-n", NS, "link", "add", "sd1", "type", "dummy"], ["ip", "-n", NS, "link", "set", "sd1", "up"]):
        subprocess.run(argv, check=True)
    yield NS
    subprocess.run(["ip", "netns", "del", NS], check=False)


def test_start_with_the_kernels_defaults(ns):
    results = four_steps("ipvs_sync_daemon", {"role": "backup", "interface": "sd0", "netns": ns})
    assert results[0]["commands"] == ["--start-daemon backup --mcast-interface sd0 --syncid 0 --mcast-group 224.0.0.81 --mcast-port 8848 --mcast-ttl 1"]
    # The backup's default max_length comes from the MTU (9000 - 28).
    assert daemons() == ["backup sync daemon (mcast=sd0, syncid=0, maxlen=8972, group=224.0.0.81, port=8848, ttl=1)"]
    assert results[1]["after"] == {"role": "backup", "state": "started", "interface": "sd0", "sync_id": 0, "max_length": 8972,
                                   "group": "224.0.0.81", "port": 8848, "ttl": 1}
    assert results[1]["diff"]["before"] == "" and "--sync-maxlen 8972" in results[1]["diff"]["after"]
    assert results[3]["before"] == results[3]["after"] == results[1]["after"]


def test_every_option_and_a_restart_when_one_differs(ns):
    args = {"role": "master", "interface": "sd0", "sync_id": 9, "max_length": 1400, "group": "239.1.2.3", "port": 9000, "ttl": 2, "netns": ns}
    four_steps("ipvs_sync_daemon", args)
    assert daemons() == ["master sync daemon (mcast=sd0, syncid=9, maxlen=1400, group=239.1.2.3, port=9000, ttl=2)"]
    changed = dict(args, interface="sd1", sync_id=10)
    results = four_steps("ipvs_sync_daemon", changed)
    assert results[1]["commands"] == ["--stop-daemon master",
                                      "--start-daemon master --mcast-interface sd1 --syncid 10 --sync-maxlen 1400 --mcast-group 239.1.2.3 "
                                      "--mcast-port 9000 --mcast-ttl 2"]
    assert daemons() == ["master sync daemon (mcast=sd1, syncid=10, maxlen=1400, group=239.1.2.3, port=9000, ttl=2)"]


def test_ipv6_group(ns):
    four_steps("ipvs_sync_daemon", {"role": "master", "interface": "sd0", "group": "FF02::81", "netns": ns})
    assert daemons() == ["master sync daemon (mcast=sd0, syncid=0, maxlen=1452, group=ff02::81, port=8848, ttl=1)"]


def test_master_and_backup_together_and_stopped_one_at_a_time(ns):
    four_steps("ipvs_sync_daemon", {"role": "master", "interface": "sd0", "sync_id": 3, "netns": ns})
    four_steps("ipvs_sync_daemon", {"role": "backup", "interface": "sd0", "sync_id": 3, "netns": ns})
    assert [line.split(" (")[0] for line in daemons()] == ["master sync daemon", "backup sync daemon"]
    results = four_steps("ipvs_sync_daemon", {"role": "master", "state": "stopped", "netns": ns})
    assert results[1]["commands"] == ["--stop-daemon master"] and results[1]["after"] == {"role": "master", "state": "stopped"}
    assert [line.split(" (")[0] for line in daemons()] == ["backup sync daemon"]
    four_steps("ipvs_sync_daemon", {"role": "backup", "state": "stopped", "netns": ns})
    assert daemons() == []


def test_ipvs_info_returns_daemons_that_feed_back_unchanged(ns):
    run_module("ipvs_sync_daemon", {"role": "backup", "interface": "sd0", "sync_id": 5, "max_length": 1500, "netns": ns})
    info = run_module("ipvs_info", {"connections": False, "netns": ns})
    assert info["sync_daemons"] == [{"role": "backup", "state": "started", "interface": "sd0", "sync_id": 5, "max_length": 1500,
                                     "group": "224.0.0.81", "port": 8848, "ttl": 1}]
    again = run_module("ipvs_sync_daemon", dict(info["sync_daemons"][0], netns=ns))
    assert again["changed"] is False and again["commands"] == []


@pytest.mark.parametrize("args, option, words", [
    ({"interface": "nosuch0"}, None, "interface 'nosuch0' does not exist"),
    ({"interface": "sd0", "group": "192.0.2.1"}, "group", "not a multicast address"),
    ({"interface": "sd0", "max_length": 600}, "max_length", "1024 to 65507"),
    ({"interface": "sd0", "sync_id": 300}, "sync_id", "0 to 255"),
])
def test_bad_input_changes_nothing(ns, args, option, words):
    result = run_module("ipvs_sync_daemon", dict(args, role="backup", netns=ns))
    assert result.get("failed") and words in result["msg"], result
    assert result.get("option") == option
    assert daemons() == []


def test_a_missing_namespace_is_one_sentence():
    result = run_module("ipvs_sync_daemon", {"role": "backup", "interface": "sd0", "netns": "lvs-no-such-ns"})
    assert result.get("failed") and "lvs-no-such-ns" in result["msg"], result
