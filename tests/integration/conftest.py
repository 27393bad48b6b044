# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration tests run as root inside the lab VM, against Debian's real IPVS kernel.

`make integration` boots one fast-mode VM for the whole session and runs pytest inside it.
Run directly on a machine without IPVS, the session stops with one sentence saying so.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.lab.topology import Topology


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.integration)


def pytest_sessionstart(session):
    if os.environ.get("LVS_IPVS_LAB_GUEST") != "1":
        raise pytest.UsageError(
            "tests/integration needs a real IPVS kernel: run them in the lab VM with `make integration` "
            "(python -m tests.lab run -- python -m pytest tests/integration)")


def ipvsadm(*args: str) -> str:
    """Run ipvsadm (the independent reader) and return its output; fail the test on error."""
    proc = subprocess.run(["ipvsadm", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"ipvsadm {' '.join(args)} failed: {proc.stderr.strip()}"
    return proc.stdout


def saved_table() -> list[str]:
    """`ipvsadm -S -n` as a list of lines."""
    return [line for line in ipvsadm("-S", "-n").splitlines() if line.strip()]


@pytest.fixture
def clean_ipvs():
    """An empty IPVS table before and after the test."""
    ipvsadm("-C")
    yield
    ipvsadm("-C")


@pytest.fixture(scope="session")
def nat_lab():
    """Client, NAT director and three real servers answering HTTP on 80, 443 and 8080."""
    topo = Topology(real_servers=3).up()
    topo.serve()
    yield topo
    topo.down()
