# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The supported pyroute2 releases and managed-node Pythons against the real kernel.

Each environment of tests/integration/pythons.py (Python 3.7 with pyroute2 0.5.0, the minimum;
3.11 with 0.6.13, whose code lives in pr2modules, and with 0.7.2, Debian 12's; 3.13 with the pinned
0.9.7) runs managed_node_probe.py --kernel: the codec adds, edits and reads a persistent service
and a real server, GET_INFO and GET_CONFIG, then ipvs_service (check mode and real),
ipvs_real_server and ipvs_info run through their main(); `ipvsadm -S -n` reads every step back.
Then one ansible-playbook run on the 0.6.13 interpreter takes the path a user's playbook takes
(AnsiballZ, ansible_python_interpreter).

The environments are built on the host (the VM has no network): `make unit` builds them, or
`.venv/bin/python -m tests.integration.pythons`.
"""

from __future__ import annotations

import json

import pytest

from tests.integration import pythons
from tests.integration.modules import in_netns, playbook, routed_netns

NETNS = "lvspr2"


def ns(*argv: str) -> str:
    return in_netns(NETNS, *argv)


@pytest.fixture(scope="module")
def namespace():
    """A namespace with a route to the real servers' range (the kernel refuses a real server without one)."""
    with routed_netns(NETNS, "pr0") as name:
        yield name


@pytest.mark.parametrize("env", pythons.ALL, ids=lambda env: f"python{env.python}-pyroute2-{env.pyroute2}")
def test_the_kernel_round_trip(namespace, env):
    pythons.ensure(env)
    proc = pythons.probe(env, pythons.collections_root(), "--kernel", namespace)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (report["python"], report["pyroute2"], report["pyroute2_error"]) == (env.python, env.pyroute2, None), report
    assert report["checks"][-2:] == ["codec round trip", "modules against the kernel"], report
    assert ns("ipvsadm", "-S", "-n") == "", "the probe flushes what it made"


def test_a_playbook_on_pyroute2_0_6(namespace, tmp_path):
    """What the issue saw (every module: 'Failed to import pyroute2' with 0.6.13) through ansible-playbook itself."""
    env = pythons.ensure(pythons.MIDDLE[0])
    assert env.pyroute2 == "0.6.13"
    tasks = [
        {"name": "service", "lvs.ipvs.ipvs_service": {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "scheduler": "rr",
                                                      "persistence_timeout": 3600, "netns": namespace}},
        {"name": "real server", "lvs.ipvs.ipvs_real_server": {"protocol": "tcp", "address": "198.51.100.1", "port": 80,
                                                              "server": "192.0.2.11", "weight": 2, "netns": namespace}},
    ]
    path = tmp_path / "playbook.yml"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]), encoding="utf-8")
    proc = playbook(str(path), "-e", f"ansible_python_interpreter={env.interpreter}", collections=pythons.collections_root())
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert ns("ipvsadm", "-S", "-n").splitlines() == ["-A -t 198.51.100.1:80 -s rr -p 3600",
                                                          "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2"]
    finally:
        ns("ipvsadm", "-C")
