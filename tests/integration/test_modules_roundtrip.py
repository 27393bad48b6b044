# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every option through the real kernel: what the module makes is what ipvsadm makes.

Each case gives the module's options and the equivalent ipvsadm commands. The test builds the
table once with ipvsadm and once with the module on an empty kernel, and compares what the
kernel reports (`ipvsadm -S -n`, plus `--thresholds` and `--tun-info` for what -S leaves out).
A second module run must then report no change.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import ipvsadm, saved_table
from tests.integration.modules import run_module

VIP = "198.51.100.1"
TCP80 = {"protocol": "tcp", "address": VIP, "port": 80}

SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]

SERVICE_CASES = [
    *[pytest.param(dict(TCP80, scheduler=s), [["-A", "-t", f"{VIP}:80", "-s", s]], id=f"scheduler-{s}") for s in SCHEDULERS],
    pytest.param(dict(TCP80, scheduler="sh", scheduler_flags=["sh-fallback", "sh-port"]),
                 [["-A", "-t", f"{VIP}:80", "-s", "sh", "-b", "sh-fallback,sh-port"]], id="sh-flags"),
    pytest.param(dict(TCP80, scheduler="mh", scheduler_flags=["mh-port"]),
                 [["-A", "-t", f"{VIP}:80", "-s", "mh", "-b", "mh-port"]], id="mh-port"),
    pytest.param(dict(TCP80, scheduler="mh", scheduler_flags=["mh-fallback"]),
                 [["-A", "-t", f"{VIP}:80", "-s", "mh", "-b", "mh-fallback"]], id="mh-fallback"),
    pytest.param(dict(TCP80, scheduler="rr", scheduler_flags=["flag-3"]),
                 [["-A", "-t", f"{VIP}:80", "-s", "rr", "-b", "flag-3"]], id="raw-flag-3"),
    pytest.param(dict(TCP80, scheduler="rr", persistence_timeout=3600), [["-A", "-t", f"{VIP}:80", "-s", "rr", "-p", "3600"]], id="ppc"),
    pytest.param(dict(TCP80, port=0, scheduler="rr", persistence_timeout=3600), [["-A", "-t", f"{VIP}:0", "-s", "rr", "-p", "3600"]], id="pcc-port-0"),
    pytest.param(dict(TCP80, persistence_timeout=360, persistence_granularity="255.255.255.0"),
                 [["-A", "-t", f"{VIP}:80", "-p", "-M", "255.255.255.0"]], id="granularity-dotted"),
    pytest.param(dict(TCP80, persistence_timeout=360, persistence_granularity="24"),
                 [["-A", "-t", f"{VIP}:80", "-p", "-M", "255.255.255.0"]], id="granularity-prefix"),
    pytest.param({"protocol": "tcp", "address": "2001:db8::1", "port": 443, "persistence_timeout": 600, "persistence_granularity": "64"},
                 [["-A", "-t", "[2001:db8::1]:443", "-p", "600", "-M", "64"]], id="ipv6-granularity-64"),
    pytest.param({"protocol": "sctp", "address": VIP, "port": 3868, "scheduler": "rr"},
                 [["-A", "--sctp-service", f"{VIP}:3868", "-s", "rr"]], id="sctp"),
    pytest.param({"fwmark": 8, "scheduler": "rr", "persistence_timeout": 600},
                 [["-A", "-f", "8", "-s", "rr", "-p", "600"]], id="fwmark-v4"),
    pytest.param({"fwmark": 9, "family": "ipv6", "scheduler": "rr", "persistence_timeout": 600, "persistence_granularity": "64"},
                 [["-A", "-f", "9", "-6", "-s", "rr", "-p", "600", "-M", "64"]], id="fwmark-v6"),
    pytest.param({"protocol": "udp", "address": VIP, "port": 5060, "persistence_timeout": 60, "persistence_engine": "sip"},
                 [["-A", "-u", f"{VIP}:5060", "-p", "60", "--pe", "sip"]], id="sip-engine"),
    pytest.param({"protocol": "udp", "address": VIP, "port": 53, "scheduler": "rr", "one_packet": True},
                 [["-A", "-u", f"{VIP}:53", "-s", "rr", "-o"]], id="one-packet-udp"),
    pytest.param({"fwmark": 10, "scheduler": "rr", "one_packet": True}, [["-A", "-f", "10", "-s", "rr", "-o"]], id="one-packet-fwmark"),
]

RS = "192.0.2.11"
REAL_SERVER_CASES = [
    pytest.param({"server": RS}, ["-r", RS], id="defaults-dr-weight-1"),
    pytest.param({"server": RS, "forwarding": "nat", "server_port": 8080, "weight": 3}, ["-r", f"{RS}:8080", "-m", "-w", "3"], id="nat-port"),
    pytest.param({"server": RS, "forwarding": "masq"}, ["-r", RS, "-m"], id="alias-masq"),
    pytest.param({"server": RS, "forwarding": "gate", "weight": 0}, ["-r", RS, "-g", "-w", "0"], id="alias-gate-weight-0"),
    pytest.param({"server": RS, "forwarding": "tunnel"}, ["-r", RS, "-i"], id="tunnel-ipip"),
    pytest.param({"server": RS, "forwarding": "ipip", "tunnel_type": "gue", "tunnel_port": 6080},
                 ["-r", RS, "-i", "--tun-type", "gue", "--tun-port", "6080"], id="tunnel-gue-port"),
    pytest.param({"server": RS, "forwarding": "tunnel", "tunnel_type": "gue", "tunnel_port": 6080, "tunnel_checksum": "remcsum"},
                 ["-r", RS, "-i", "--tun-type", "gue", "--tun-port", "6080", "--tun-remcsum"], id="tunnel-gue-remcsum"),
    pytest.param({"server": RS, "forwarding": "tunnel", "tunnel_type": "gre", "tunnel_checksum": "csum"},
                 ["-r", RS, "-i", "--tun-type", "gre", "--tun-csum"], id="tunnel-gre-csum"),
    pytest.param({"server": RS, "forwarding": "nat", "upper_threshold": 100, "lower_threshold": 10},
                 ["-r", RS, "-m", "-x", "100", "-y", "10"], id="thresholds"),
    pytest.param({"server": "2001:db8:1::11", "forwarding": "tunnel"}, ["-r", "[2001:db8:1::11]:80", "-i"], id="ipv6-real-server-over-tunnel"),
]


def kernel_view() -> list[str]:
    """What the kernel holds, in ipvsadm's words, including what -S leaves out."""
    return saved_table() + ipvsadm("-L", "-n", "--thresholds").splitlines()[3:] + ipvsadm("-L", "-n", "--tun-info").splitlines()[3:]


def same_as_ipvsadm(ipvsadm_commands: list[list[str]], module_runs: list[tuple[str, dict]]) -> list[dict]:
    ipvsadm("-C")
    for command in ipvsadm_commands:
        ipvsadm(*command)
    expected = kernel_view()
    ipvsadm("-C")
    results = [run_module(name, args) for name, args in module_runs]
    for result in results:
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is True
    assert kernel_view() == expected
    for name, args in module_runs:
        again = run_module(name, args)
        assert again["changed"] is False, again.get("commands")
    return results


@pytest.mark.parametrize("args, commands", SERVICE_CASES)
def test_service_option_round_trips(clean_ipvs, args, commands):
    results = same_as_ipvsadm(commands, [("ipvs_service", args)])
    assert results[0]["commands"][0].startswith("-A ")


@pytest.mark.parametrize("args, server_args", REAL_SERVER_CASES)
def test_real_server_option_round_trips(clean_ipvs, args, server_args):
    service = dict(TCP80, scheduler="rr")
    same_as_ipvsadm([["-A", "-t", f"{VIP}:80", "-s", "rr"], ["-a", "-t", f"{VIP}:80", *server_args]],
                    [("ipvs_service", service), ("ipvs_real_server", dict(TCP80, **args))])


def test_real_servers_of_a_fwmark_service_get_port_0_like_ipvsadm(clean_ipvs):
    same_as_ipvsadm([["-A", "-f", "8", "-s", "rr", "-p", "600"], ["-a", "-f", "8", "-r", RS, "-m"], ["-a", "-f", "8", "-r", "192.0.2.12", "-m"]],
                    [("ipvs_service", {"fwmark": 8, "scheduler": "rr", "persistence_timeout": 600,
                                       "real_servers": [{"server": RS, "forwarding": "nat"}, {"server": "192.0.2.12", "forwarding": "nat"}]})])


def test_twos_is_refused_by_this_kernel_naming_the_scheduler(clean_ipvs):
    result = run_module("ipvs_service", dict(TCP80, scheduler="twos"))
    assert result["failed"]
    assert "scheduler 'twos'" in result["msg"] and "not available in this kernel" in result["msg"]
    assert saved_table() == []
