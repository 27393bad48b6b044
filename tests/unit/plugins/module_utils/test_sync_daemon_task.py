# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ipvs_sync_daemon's logic: validation, reading the kernel's daemon, the plan (_sync_daemon's operations), and a whole
run against the fake kernel (check mode, diff, restart, refusals, rollback); ipvs_info's daemons in the same option names."""

from __future__ import annotations

import errno

import pytest
import yaml

from ansible_collections.lvs.ipvs.plugins.module_utils import _argspec, _ipvs_codec
from ansible_collections.lvs.ipvs.plugins.module_utils import _sync_daemon_task as task
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import SyncDaemon
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_sync_daemon
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel, run_main

BACKUP = {"role": "backup", "state": "started", "interface": "ha0", "sync_id": 0, "group": "224.0.0.81", "port": 8848, "ttl": 1}
KERNEL_BACKUP = {"state": "backup", "mcast_ifn": "ha0", "sync_id": 0, "sync_maxlen": 1472, "mcast_group": "224.0.0.81", "mcast_port": 8848,
                 "mcast_ttl": 1}


def params(**kwargs):
    base = {"role": "backup", "state": "started", "interface": "ha0", "sync_id": 0, "max_length": None, "group": "224.0.0.81",
            "port": 8848, "ttl": 1, "netns": None}
    base.update(kwargs)
    return base


# ---------------------------------------------------------------------------------------------- validation

def test_wanted_defaults_are_the_kernels():
    assert task.wanted_daemon(params()) == BACKUP


def test_wanted_stopped_needs_only_the_role():
    assert task.wanted_daemon({"role": "master", "state": "stopped", "interface": None}) == {"role": "master", "state": "stopped"}


def test_wanted_normalises_an_ipv6_group_and_keeps_max_length():
    wanted = task.wanted_daemon(params(group="FF02:0:0:0:0:0:0:81", max_length=9000))
    assert wanted["group"] == "ff02::81" and wanted["max_length"] == 9000


@pytest.mark.parametrize("kwargs, option, words", [
    ({"role": "primary"}, "role", "master, backup"),
    ({"state": "running"}, "state", "started, stopped"),
    ({"interface": None}, "interface", "required"),
    ({"interface": ""}, "interface", "required"),
    ({"interface": "a" * 16}, "interface", "1 to 15"),
    ({"interface": "eth0/1"}, "interface", "no '/'"),
    ({"sync_id": 256}, "sync_id", "0 to 255"),
    ({"sync_id": -1}, "sync_id", "0 to 255"),
    ({"sync_id": True}, "sync_id", "0 to 255"),
    ({"port": 0}, "port", "1 to 65535"),
    ({"port": 65536}, "port", "1 to 65535"),
    ({"ttl": 0}, "ttl", "1 to 255"),
    ({"ttl": 256}, "ttl", "1 to 255"),
    ({"group": "192.0.2.1"}, "group", "not a multicast"),
    ({"group": "2001:db8::1"}, "group", "not a multicast"),
    ({"group": "shop"}, "group", "not an IP address"),
    ({"max_length": 1023}, "max_length", "1024 to 65507 for a backup"),
    ({"max_length": 65508}, "max_length", "1024 to 65507"),
    ({"role": "master", "max_length": 0}, "max_length", "1 to 65507 for a master"),
    ({"role": "master", "max_length": 65500, "group": "ff02::81"}, "max_length", "1 to 65487 for a master with an IPv6 group"),
])
def test_wanted_refuses_with_the_option_and_the_accepted_values(kwargs, option, words):
    with pytest.raises(OptionError) as caught:
        task.wanted_daemon(params(**kwargs))
    assert caught.value.option == option
    assert words in str(caught.value)


@pytest.mark.parametrize("role, value", [("master", 1), ("master", 65507), ("backup", 1024), ("backup", 65507)])
def test_wanted_accepts_the_kernels_whole_range(role, value):
    # Within it the kernel keeps the value (measured on 6.1); outside it would clamp, and the task would never settle.
    assert task.wanted_daemon(params(role=role, max_length=value))["max_length"] == value


# ---------------------------------------------------------------------------------------------- reading the kernel

def daemon_options(kernel):
    return SyncDaemon.from_kernel(kernel).options()


def plan(wanted, running):
    """The plan as ipvsadm commands."""
    return [operation.render() for operation in task.plan(wanted, None if running is None else SyncDaemon.from_options(running))]


def test_daemon_options_are_the_modules_option_names():
    assert daemon_options(KERNEL_BACKUP) == dict(BACKUP, max_length=1472)


def test_daemon_options_of_an_old_kernel_leave_out_what_it_does_not_report():
    old = {"state": "master", "mcast_ifn": "eth1", "sync_id": 9, "sync_maxlen": 0, "mcast_group": None, "mcast_port": 0, "mcast_ttl": 0}
    assert daemon_options(old) == {"role": "master", "state": "started", "interface": "eth1", "sync_id": 9}
    # ...and what it does not report cannot differ.
    assert plan(task.wanted_daemon(params(role="master", interface="eth1", sync_id=9, ttl=2)), daemon_options(old)) == []


# ---------------------------------------------------------------------------------------------- the plan

START = "--start-daemon backup --mcast-interface ha0 --syncid 0 --mcast-group 224.0.0.81 --mcast-port 8848 --mcast-ttl 1"


@pytest.mark.parametrize("wanted, running, commands", [
    (BACKUP, None, [START]),
    (BACKUP, dict(BACKUP, max_length=8972), []),  # max_length unset: the kernel's choice is accepted
    (dict(BACKUP, max_length=1472), dict(BACKUP, max_length=8972), ["--stop-daemon backup", START.replace("--syncid 0", "--syncid 0 --sync-maxlen 1472")]),
    (dict(BACKUP, sync_id=7), BACKUP, ["--stop-daemon backup", START.replace("--syncid 0", "--syncid 7")]),
    (dict(BACKUP, interface="ha1"), BACKUP, ["--stop-daemon backup", START.replace("ha0", "ha1")]),
    (dict(BACKUP, group="239.1.1.1"), BACKUP, ["--stop-daemon backup", START.replace("224.0.0.81", "239.1.1.1")]),
    (dict(BACKUP, port=9000), BACKUP, ["--stop-daemon backup", START.replace("8848", "9000")]),
    (dict(BACKUP, ttl=2), BACKUP, ["--stop-daemon backup", START.replace("ttl 1", "ttl 2")]),
    ({"role": "backup", "state": "stopped"}, BACKUP, ["--stop-daemon backup"]),
    ({"role": "backup", "state": "stopped"}, None, []),
], ids=["start", "same", "max-length", "sync-id", "interface", "group", "port", "ttl", "stop", "already-stopped"])
def test_plan(wanted, running, commands):
    assert plan(wanted, running) == commands


def test_kernel_request_is_the_codecs_daemon_dict():
    request = SyncDaemon.from_options(dict(BACKUP, max_length=1472)).to_kernel()
    assert request == KERNEL_BACKUP
    # ...which the codec encodes (the byte layout is test_codec's business).
    assert _ipvs_codec.add_daemon_request(request).what == "start backup sync daemon"


# ---------------------------------------------------------------------------------------------- a whole run

def refuse_starts(code):
    """The kernel refuses every daemon start with `code`."""
    return lambda change: code if change.render().startswith("--start-daemon") else None


def calls(fake):
    """The daemon changes the kernel got, as the old fake recorded them: ("add", daemon dict) or ("delete", role)."""
    return [("add", change.daemon.to_kernel()) if change.action == "start" else ("delete", change.daemon.role)
            for batch in fake.sent for change in batch]


def run(args, check=False):
    return run_main(ipvs_sync_daemon, args, check)


def test_four_steps_start(kernel):
    args = {"role": "backup", "interface": "ha0", "sync_id": 10}
    results = [run(args, check=True), run(args), run(args, check=True), run(args)]
    assert [r["changed"] for r in results] == [True, True, False, False]
    start = START.replace("--syncid 0", "--syncid 10")
    assert results[0]["commands"] == results[1]["commands"] == [start]
    assert results[0]["before"] == {"role": "backup", "state": "stopped"}
    assert results[0]["after"] == dict(BACKUP, sync_id=10)
    assert results[1]["after"] == dict(BACKUP, sync_id=10, max_length=1472)
    assert results[1]["diff"] == {"before": "", "after": start.replace("--mcast-group", "--sync-maxlen 1472 --mcast-group") + "\n"}
    assert results[3]["before"] == results[3]["after"] == results[1]["after"]
    assert calls(kernel.fake) == [("add", {"state": "backup", "mcast_ifn": "ha0", "sync_id": 10, "mcast_group": "224.0.0.81",
                                           "mcast_port": 8848, "mcast_ttl": 1})]


def test_a_different_configuration_restarts_and_check_mode_changes_nothing(kernel):
    kernel.install(FakeKernel(daemons=[KERNEL_BACKUP]))
    args = {"role": "backup", "interface": "ha0", "sync_id": 10}
    predicted = run(args, check=True)
    assert calls(kernel.fake) == []
    assert predicted["changed"] and predicted["commands"] == ["--stop-daemon backup", START.replace("--syncid 0", "--syncid 10")]
    real = run(args)
    assert real["commands"] == predicted["commands"]
    assert [call[0] for call in calls(kernel.fake)] == ["delete", "add"]
    assert real["after"]["sync_id"] == 10


def test_stop_and_the_other_role_untouched(kernel):
    kernel.install(FakeKernel(daemons=[KERNEL_BACKUP, dict(KERNEL_BACKUP, state="master")]))
    result = run({"role": "master", "state": "stopped"})
    assert result["changed"] and result["commands"] == ["--stop-daemon master"]
    assert result["after"] == {"role": "master", "state": "stopped"}
    assert result["diff"]["after"] == ""
    assert [d["state"] for d in kernel.fake.daemons()] == ["backup"]
    assert run({"role": "master", "state": "stopped"})["changed"] is False


def test_invalid_input_changes_nothing(kernel):
    result = run({"role": "backup", "interface": "ha0", "group": "192.0.2.1"})
    assert result["failed"] and result["option"] == "group"
    assert calls(kernel.fake) == []


def test_started_without_interface_is_refused_by_ansible(kernel):
    result = run({"role": "backup"})
    assert result["failed"] and "interface" in result["msg"]


@pytest.mark.parametrize("code, words", [(errno.ENODEV, "interface 'ha9' does not exist"), (errno.EINVAL, "mixed IPv4 / IPv6")])
def test_a_refusal_names_the_command_and_the_reason(kernel, code, words):
    kernel.install(FakeKernel(refuse=refuse_starts(code)))
    result = run({"role": "master", "interface": "ha9"})
    assert result["failed"]
    assert result["msg"].startswith("the kernel refused `ipvsadm --start-daemon master --mcast-interface ha9")
    assert words in result["msg"]
    assert result["errno"] == code and result["applied_commands"] == []


def test_a_refused_restart_says_the_stop_was_applied_and_starts_the_old_daemon_again(kernel):
    running = dict(KERNEL_BACKUP, state="master", sync_id=3)
    new_start = "--start-daemon master --mcast-interface ha9"
    kernel.install(FakeKernel(daemons=[running], refuse=lambda change: errno.ENODEV if change.render().startswith(new_start) else None))
    result = run({"role": "master", "interface": "ha9"})
    assert result["failed"] and result["applied_commands"] == ["--stop-daemon master"]
    old = SyncDaemon.from_kernel(running)
    assert result["rolled_back_commands"] == [old.render()] and "rollback_refused" not in result
    assert "have been undone" in result["msg"]
    assert kernel.fake.daemons() == [running]


# ---------------------------------------------------------------------------------------------- documentation

def test_documentation_matches_the_argument_spec():
    documented = yaml.safe_load(ipvs_sync_daemon.DOCUMENTATION)["options"]
    spec = _argspec.ipvs_sync_daemon_spec()["argument_spec"]
    spec.pop("netns")  # from the _netns fragment
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name].get("default") == option.get("default"), name
        assert documented[name].get("choices") == option.get("choices"), name
        assert documented[name]["type"] == option["type"], name


def test_ipvs_info_reports_daemons_in_these_option_names(kernel):
    kernel.install(FakeKernel(daemons=[KERNEL_BACKUP]))
    from ansible_collections.lvs.ipvs.plugins.modules import ipvs_info  # pylint: disable=import-outside-toplevel
    result = run_main(ipvs_info, {"connections": False})
    assert result["sync_daemons"] == [dict(BACKUP, max_length=1472)]
