# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check mode where an earlier task would create what this one needs: predict with a warning; a real run still fails.

The kernel side (a check run of a whole play on an empty table, then the real run) is
tests/integration/test_check_mode_play.py; here the modules' main() runs against the fake kernel
(fake_kernel.py), to cover each missing thing and each module.
"""

from __future__ import annotations

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _engine, _errors, _lock
from ansible_collections.lvs.ipvs.plugins.modules import fwmark_rule, ipvs_info, ipvs_real_server, ipvs_service, ipvs_sync_daemon, ipvs_table, ipvs_timeouts
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel, run_main as run, warnings

RS = {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "server": "192.0.2.11", "weight": 2}
ASSUMES = "in check mode this assumes an earlier task creates it"


def sent(change):
    raise AssertionError("a change was sent")


def empty_kernel():
    """An IPVS table with nothing in it; any change is a test failure."""
    return FakeKernel(refuse=sent)


def missing_namespace(netns=None):
    return _errors.IpvsNamespaceMissing(f"network namespace {netns!r} does not exist (no /var/run/netns/{netns}); create it first")


def unavailable(netns=None):
    return _errors.IpvsUnavailable("ip_vs is not available on this host: load it with `modprobe ip_vs`")


@pytest.mark.parametrize("state, command", [("present", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2"),
                                            ("drained", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 0")])
def test_a_real_server_of_a_service_an_earlier_task_creates(kernel, state, command):
    kernel.install(empty_kernel())
    result = run(ipvs_real_server, dict(RS, state=state), check=True)
    assert not result.get("failed"), result
    assert result["changed"] is True and result["commands"] == [command]
    # The diff shows the real server only: this task does not know the service's options.
    assert result["diff"] == {"before": "", "after": command + "\n"}
    assert warnings(result) == [f"the virtual service -t 198.51.100.1:80 does not exist; {ASSUMES}"]
    real = run(ipvs_real_server, dict(RS, state=state), check=False)
    assert real["failed"] is True and real["msg"].startswith("the virtual service -t 198.51.100.1:80 does not exist: create it first")


@pytest.mark.parametrize("check", [True, False])
def test_removing_a_real_server_of_a_missing_service_is_no_change(kernel, check):
    kernel.install(empty_kernel())
    result = run(ipvs_real_server, dict(RS, state="absent"), check=check)
    assert not result.get("failed") and result["changed"] is False and result["commands"] == [], result
    assert "does not exist, so neither does its real server 192.0.2.11:80" in warnings(result)[0]


CHANGING = [
    (ipvs_service, {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "scheduler": "rr", "persistence_timeout": 600},
     ["-A -t 198.51.100.1:80 -s rr -p 600"]),
    (ipvs_real_server, RS, ["-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2"]),
    (ipvs_table, {"state": "merged", "config": [{"fwmark": 8, "real_servers": [{"server": "192.0.2.12"}]}]},
     ["-A -f 8 -s wlc", "-a -f 8 -r 192.0.2.12:0 -g -w 1"]),
    (ipvs_timeouts, {"tcp": 7200}, ["--set 7200 0 0"]),
    (ipvs_sync_daemon, {"role": "master", "interface": "ha0", "sync_id": 8}, None),
]


@pytest.mark.parametrize("opener, missing", [(missing_namespace, "network namespace 'lvsnew' does not exist"),
                                             (unavailable, "ip_vs is not available on this host")])
@pytest.mark.parametrize("module, args, commands", CHANGING, ids=lambda value: getattr(value, "__name__", "").rsplit(".", 1)[-1] or None)
def test_a_namespace_or_ip_vs_an_earlier_task_makes(kernel, opener, missing, module, args, commands):
    kernel.install(FakeKernel(fail_on_open=opener))
    result = run(module, dict(args, netns="lvsnew"), check=True)
    assert not result.get("failed"), result
    assert result["changed"] is True, result
    if commands is not None:
        assert result["commands"] == commands
    messages = warnings(result)
    assert messages[0].startswith(missing), messages
    verb = "creates" if opener is missing_namespace else "loads"
    assert messages[0].endswith(f"in check mode this assumes an earlier task {verb} it"), messages
    real = run(module, dict(args, netns="lvsnew"), check=False)
    assert real["failed"] is True and real["msg"].startswith(missing), real


def test_ipvs_info_reads_a_namespace_an_earlier_task_creates_as_new(kernel):
    kernel.install(FakeKernel(fail_on_open=missing_namespace))
    result = run(ipvs_info, {"netns": "lvsnew", "connections": True}, check=True)
    assert not result.get("failed"), result
    assert (result["services"], result["sync_daemons"], result["connections"], result["templates"]) == ([], [], [], [])
    assert result["timeouts"] == {"tcp": 900, "tcpfin": 120, "udp": 300}
    assert run(ipvs_info, {"netns": "lvsnew"}, check=False)["failed"] is True


def test_a_bad_namespace_name_is_still_an_error_in_check_mode(monkeypatch, tmp_path):
    # The real client, which refuses the name before it opens anything; the lock under the test's directory.
    monkeypatch.setattr(_lock, "LOCK_DIR", str(tmp_path))
    result = run(ipvs_service, {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "netns": "../etc"}, check=True)
    assert result["failed"] is True and "is not a network namespace name" in result["msg"], result


def test_diff_leaves_out_the_line_of_an_assumed_service():
    from ansible_collections.lvs.ipvs.plugins.module_utils._model import real_server_from_params, service_from_params
    from ansible_collections.lvs.ipvs.plugins.module_utils._planner import make_table

    service = service_from_params({"fwmark": 8, "state": "absent"})
    other = service_from_params({"protocol": "udp", "address": "198.51.100.2", "port": 53, "state": "absent"})
    server = real_server_from_params({"server": "192.0.2.11", "forwarding": "nat", "weight": 1}, service)
    after = make_table([(service, [server]), (other, [])])
    assert _engine.diff_of({}, after, assumed={service.key}) == {"before": "", "after": "-A -u 198.51.100.2:53 -s wlc\n-a -f 8 -r 192.0.2.11:0 -m -w 1\n"}
    assert _engine.diff_of({}, after)["after"] == "-A -u 198.51.100.2:53 -s wlc\n-A -f 8 -s wlc\n-a -f 8 -r 192.0.2.11:0 -m -w 1\n"


FWMARK = {"name": "shop", "mark": 8, "destination": "198.51.100.1", "ports": [80, 443]}


@pytest.mark.parametrize("backend", ["auto", "nftables"])
def test_fwmark_rule_where_nft_is_not_installed_yet(monkeypatch, backend):
    monkeypatch.setattr(fwmark_rule, "open_interface", lambda runner, which: None)
    monkeypatch.setattr("ansible.module_utils.basic.AnsibleModule.get_bin_path", lambda self, name, *args, **kwargs: None)
    result = run(fwmark_rule, dict(FWMARK, backend=backend), check=True)
    assert not result.get("failed"), result
    assert result["changed"] is True and result["backend"] == "nftables" and result["commands"], result
    assert "add rule inet lvs_ipvs prerouting" in "\n".join(result["commands"]), result["commands"]
    assert warnings(result) == [f"neither the nftables Python binding nor the nft program is installed (backend={backend}); "
                                "in check mode this assumes an earlier task installs it"]
    real = run(fwmark_rule, dict(FWMARK, backend=backend), check=False)
    assert real["failed"] is True, real


@pytest.mark.parametrize("interface, warned", [("lo", False), ("lvsha9", True)])
def test_a_sync_daemon_on_an_interface_an_earlier_task_creates(kernel, interface, warned):
    kernel.install(empty_kernel())
    result = run(ipvs_sync_daemon, {"role": "master", "interface": interface, "sync_id": 8}, check=True)
    assert not result.get("failed") and result["commands"][0].startswith(f"--start-daemon master --mcast-interface {interface} --syncid 8"), result
    expected = [f"interface {interface!r} does not exist in this network namespace (option interface); {ASSUMES}"] if warned else []
    assert warnings(result) == expected
