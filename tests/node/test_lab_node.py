# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode: a Debian node booted from Debian's kernel, reached over SSH, managed by Ansible."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.lab import node

NAME = "pytest-node"


@pytest.fixture(scope="module")
def lab_node():
    info = node.up(NAME)
    yield info
    node.down([NAME])


def test_node_answers_ssh_and_loads_ip_vs(lab_node):
    proc = subprocess.run(node.ssh_argv(lab_node, ["sh", "-c", "modprobe ip_vs && grep -c '^ip_vs ' /proc/modules && uname -r"]),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    count, release = proc.stdout.split()
    assert count == "1"
    assert release.endswith("-amd64")


def test_generated_inventory_works_with_ansible_ping(lab_node):
    inventory = node.inventory_path()
    assert f"{NAME} ansible_host=127.0.0.1 ansible_port={lab_node['port']}" in inventory.read_text()
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    proc = subprocess.run([ansible, "-i", str(inventory), NAME, "-m", "ansible.builtin.ping"], capture_output=True, text=True, timeout=300,
                          check=False, env=dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"ping": "pong"' in proc.stdout
