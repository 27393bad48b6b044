# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input gets a clear error naming the option and what is accepted, and changes nothing.

Each case runs against a populated kernel table; `ipvsadm -S -n`, the thresholds and the
timeouts must be identical before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.conftest import ipvsadm, saved_table
from tests.integration.modules import REPO, run_module
from tests.conftest import COLLECTION_ROOT

VIP = "198.51.100.1"
SVC = {"protocol": "tcp", "address": VIP, "port": 80}
RS = dict(SVC, server="192.0.2.11")

CASES = [
    # (module, args, option named, a phrase of what is accepted)
    ("ipvs_service", dict(SVC, address="198.51.100.300"), "address", "IPv4 or IPv6"),
    ("ipvs_service", dict(SVC, address="vip.example"), "address", "IPv4 or IPv6"),
    ("ipvs_service", dict(SVC, port=70000), "port", "0 to 65535"),
    ("ipvs_service", dict(SVC, port=-1), "port", "0 to 65535"),
    ("ipvs_service", dict(SVC, port=0), "port", "persistence_timeout"),
    ("ipvs_service", {"protocol": "tcp", "address": VIP}, "port", "0 to 65535"),
    ("ipvs_service", dict(SVC, one_packet=True), "one_packet", "udp"),
    ("ipvs_service", dict(SVC, persistence_timeout=0), "persistence_timeout", "1 to 2678400"),
    ("ipvs_service", dict(SVC, persistence_timeout=2678401), "persistence_timeout", "1 to 2678400"),
    ("ipvs_service", dict(SVC, persistence_timeout=4294967295), "persistence_timeout", "1 to 2678400"),
    ("ipvs_service", dict(SVC, persistence_timeout=60, persistence_granularity="255.0.255.0"), "persistence_granularity", "255.255.255.0"),
    ("ipvs_service", dict(SVC, persistence_timeout=60, persistence_granularity="33"), "persistence_granularity", "32"),
    ("ipvs_service", dict(SVC, persistence_granularity="255.255.255.0"), "persistence_granularity", "persistence_timeout"),
    ("ipvs_service", {"protocol": "tcp", "address": "2001:db8::1", "port": 80, "persistence_timeout": 60, "persistence_granularity": "129"},
     "persistence_granularity", "128"),
    ("ipvs_service", {"protocol": "tcp", "address": "2001:db8::1", "port": 80, "persistence_timeout": 60,
                      "persistence_granularity": "255.255.255.0"}, "persistence_granularity", "prefix length"),
    ("ipvs_service", dict(SVC, persistence_engine="sip"), "persistence_engine", "persistence_timeout"),
    ("ipvs_service", dict(SVC, scheduler="roundrobin"), "scheduler", "wlc"),
    ("ipvs_service", dict(SVC, scheduler="rr", scheduler_flags=["sh-port"]), "scheduler_flags", "sh"),
    ("ipvs_service", {"fwmark": 0}, "fwmark", "4294967295"),
    ("ipvs_service", {"fwmark": 4294967296}, "fwmark", "4294967295"),
    ("ipvs_service", {"fwmark": 8, "address": VIP}, "address", "fwmark"),
    ("ipvs_service", dict(SVC, family="ipv6"), "family", "ipv4"),
    ("ipvs_service", dict(SVC, real_servers=[{"server": "192.0.2.11", "weight": 65536}]), "real_servers[0].weight", "0 to 65535"),
    ("ipvs_service", dict(SVC, real_servers=[{"server": "192.0.2.11"}, {"server": "192.0.2.11"}]), "real_servers", "once"),
    ("ipvs_real_server", dict(RS, weight=-1), "weight", "0 to 65535"),
    ("ipvs_real_server", dict(RS, weight=65536), "weight", "0 to 65535"),
    ("ipvs_real_server", dict(RS, upper_threshold=10, lower_threshold=20), "lower_threshold", "upper_threshold"),
    ("ipvs_real_server", dict(RS, forwarding="tunnel", tunnel_type="gue"), "tunnel_port", "1 to 65535"),
    ("ipvs_real_server", dict(RS, tunnel_type="gue", tunnel_port=6080), "tunnel_type", "tunnel"),
    ("ipvs_real_server", dict(RS, server="2001:db8:1::11", forwarding="nat"), "server", "tunnel"),
    ("ipvs_real_server", dict(RS, server="192.0.2.300"), "server", "IPv4 or IPv6"),
    ("ipvs_real_server", dict(RS, server_port=8080, forwarding="dr"), "server_port", "80"),
    ("ipvs_timeouts", {"tcp": 0}, "tcp", "1 to 2147483"),
    ("ipvs_timeouts", {"udp": 2147484}, "udp", "1 to 2147483"),
]


def kernel_state() -> list[str]:
    return saved_table() + ipvsadm("-L", "-n", "--thresholds").splitlines() + ipvsadm("-L", "-n", "--timeout").splitlines()


@pytest.fixture
def populated(clean_ipvs):
    ipvsadm("-A", "-t", f"{VIP}:80", "-s", "rr", "-p", "3600")
    ipvsadm("-a", "-t", f"{VIP}:80", "-r", "192.0.2.11", "-g", "-w", "2", "-x", "50", "-y", "5")
    ipvsadm("-A", "-f", "8", "-s", "rr")
    return kernel_state()


@pytest.mark.parametrize("module, args, option, accepted", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_names_the_option_and_changes_nothing(populated, module, args, option, accepted):
    for check in (True, False):
        result = run_module(module, args, check=check)
        assert result.get("failed") is True, result
        # Our own checks say "<option>: ...; accepted: ..."; Ansible's choices check says "value of <option> must be one of: ...".
        assert result["msg"].startswith(f"{option}") or result["msg"].startswith(f"value of {option} must be one of"), result["msg"]
        assert accepted in result["msg"], result["msg"]
    assert kernel_state() == populated


def test_real_server_of_a_missing_service_is_a_clear_error(populated):
    result = run_module("ipvs_real_server", dict(RS, port=81))
    assert result["failed"] and "does not exist" in result["msg"] and f"{VIP}:81" in result["msg"]
    assert kernel_state() == populated


def test_missing_network_namespace_is_named(populated):
    result = run_module("ipvs_service", dict(SVC, netns="no-such-namespace"))
    assert result["failed"] and "no-such-namespace" in result["msg"]
    assert not os.path.exists("/run/netns/no-such-namespace"), "a missing namespace must never be created"
    assert kernel_state() == populated


def _run_module_process(name: str, args: dict, without_net_admin: bool = False) -> dict:
    """The module as Ansible runs it on a node: its own process, arguments from a file."""
    path = os.path.join(REPO, "plugins", "modules", f"{name}.py")
    args_file = "/tmp/lvs-ipvs-args.json"
    with open(args_file, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    os.chmod(args_file, 0o644)
    collections = COLLECTION_ROOT
    argv = [sys.executable, path, args_file]
    if without_net_admin:
        # Still root, but without CAP_NET_ADMIN: what a user without the privilege has.
        argv = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/tmp", env=dict(os.environ, PYTHONPATH=collections))
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_privilege_is_a_clear_error(populated):
    result = _run_module_process("ipvs_service", dict(SVC, scheduler="wlc"), without_net_admin=True)
    assert result.get("failed") is True, result
    assert "CAP_NET_ADMIN" in result["msg"] or "root" in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"]
    assert kernel_state() == populated


def test_ip_vs_unavailable_is_a_clear_error():
    """Unload IPVS and forbid loading it: the module says so in a sentence, not a traceback."""
    ipvsadm("-C")
    for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split():
        subprocess.run(["ip", "netns", "exec", ns, "ipvsadm", "-C"], check=False, capture_output=True)
    with open("/proc/sys/kernel/modprobe", encoding="ascii") as handle:
        modprobe = handle.read().strip()
    loaded = [line.split()[0] for line in open("/proc/modules", encoding="ascii") if line.startswith("ip_vs")]
    try:
        with open("/proc/sys/kernel/modprobe", "w", encoding="ascii") as handle:
            handle.write("/bin/false\n")
        proc = subprocess.run(["modprobe", "-r", *loaded], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        result = _run_module_process("ipvs_service", SVC)
        assert result.get("failed") is True, result
        assert "ip_vs is not available" in result["msg"] and "modprobe ip_vs" in result["msg"], result["msg"]
    finally:
        with open("/proc/sys/kernel/modprobe", "w", encoding="ascii") as handle:
            handle.write(modprobe + "\n")
        subprocess.run(["modprobe", "ip_vs"], check=True)
