# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode: two Debian nodes at once, reached over SSH, managed by Ansible, on the lab's own network, and a reboot.

Engine-neutral where it can be (LVS_IPVS_LAB_ENGINE=uml|qemu); the lab network between nodes exists with UML only (QEMU
nodes each have their own restricted user network), so those two tests say so with a skip under QEMU.
Prints the start-to-SSH and reboot-to-SSH times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.lab import engine, node

NAMES = ("pytest-node", "pytest-node-b")


def log(message: str) -> None:
    print(f"[lab-node {time.strftime('%H:%M:%S')}] {message}", flush=True)


def on_node(info: dict, script: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(node.ssh_argv(info, ["bash", "-c", script], connect_timeout=20), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check:
        assert proc.returncode == 0, f"{script!r} on {info['name']}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def lab_nodes():
    infos = []
    try:
        for name in NAMES:
            started = time.monotonic()
            infos.append(node.up(name, boot_timeout=600))
            log(f"{name} ({node.engine()}): start to SSH {time.monotonic() - started:.1f} s")
        yield infos
    finally:
        node.down(list(NAMES))


def lab_network(infos: list[dict]) -> tuple[dict, dict]:
    if not all("lab_address" in info for info in infos):
        # Only where the QEMU fallback was asked for by name: on the default engine a missing lab network is a failure.
        if os.environ.get(engine.VARIABLE) == "qemu":
            pytest.skip(f"{engine.VARIABLE}=qemu: QEMU nodes have no lab network between them (UML nodes do)")
        pytest.fail(f"the nodes have no lab network: the {node.engine()} engine was chosen without {engine.VARIABLE}=qemu")
    return infos[0], infos[1]


def test_nodes_answer_ssh_and_load_ip_vs(lab_nodes):
    for info in lab_nodes:
        proc = on_node(info, "modprobe ip_vs && grep -c '^ip_vs ' /proc/modules && ls /lib/modules/$(uname -r)/modules.dep")
        assert proc.stdout.split()[0] == "1", proc.stdout


def test_generated_inventory_works_with_ansible_ping(lab_nodes):
    inventory = node.inventory_path()
    text = inventory.read_text()
    for info in lab_nodes:
        assert f"{info['name']} ansible_host=127.0.0.1 ansible_port={info['port']}" in text
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    proc = subprocess.run([ansible, "-i", str(inventory), ",".join(NAMES), "-m", "ansible.builtin.ping"], capture_output=True, text=True,
                          timeout=300, check=False, env=dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('"ping": "pong"') == len(NAMES), proc.stdout


def test_one_node_reaches_the_other_over_the_lab_network(lab_nodes):
    first, second = lab_network(lab_nodes)
    # TCP from the second node to the first one's sshd, on the lab bridge: the first line is its banner.
    proc = on_node(second, f"exec 3<>/dev/tcp/{first['lab_address']}/22 && head -n 1 <&3", timeout=60)
    assert proc.stdout.startswith("SSH-2.0-"), proc.stdout


def test_sync_daemon_multicast_between_the_nodes(lab_nodes):
    """IPVS's sync daemons on the lab bridge (multicast 224.0.0.81): a persistent connection to the first node appears,
    template included, in the second node's connection table."""
    first, second = lab_network(lab_nodes)
    vip = first["lab_address"]
    on_node(second, "modprobe ip_vs && ipvsadm --stop-daemon backup 2>/dev/null; ipvsadm -C && "
                    "ipvsadm --start-daemon backup --mcast-interface eth0 --syncid 9")
    on_node(first, f"modprobe ip_vs && ipvsadm --stop-daemon master 2>/dev/null; ipvsadm -C && "
                   f"ipvsadm --start-daemon master --mcast-interface eth0 --syncid 9 && "
                   f"ipvsadm -A -t {vip}:22 -s rr -p 120 && ipvsadm -a -t {vip}:22 -r {vip}:22 -g")
    try:
        # The second node connects to the service (its sshd, through IPVS on the first node).
        proc = on_node(second, f"exec 3<>/dev/tcp/{vip}/22 && head -n 1 <&3", timeout=60)
        assert proc.stdout.startswith("SSH-2.0-"), proc.stdout
        deadline = time.monotonic() + 30
        table = ""
        while time.monotonic() < deadline:
            table = on_node(second, "ipvsadm -L -n -c").stdout
            if f"{vip}:22" in table and ":0 " in table:
                break
            time.sleep(1)
        log(f"the backup's connection table:\n{table}")
        assert f"{second['lab_address']}:0" in table and f"{vip}:22" in table, table  # the persistence template, synced
    finally:
        on_node(first, "ipvsadm -C; ipvsadm --stop-daemon master", check=False)
        on_node(second, "ipvsadm -C; ipvsadm --stop-daemon backup", check=False)


def test_reboot_keeps_what_the_node_wrote(lab_nodes):
    info = lab_nodes[1]
    boot_id = on_node(info, "echo kept > /root/lab-marker && sync && cat /proc/sys/kernel/random/boot_id").stdout.strip()
    on_node(info, "systemctl reboot", timeout=60, check=False)
    started = time.monotonic()
    deadline = started + 600
    answer = None
    while time.monotonic() < deadline:
        answer = on_node(info, "cat /proc/sys/kernel/random/boot_id /root/lab-marker", timeout=60, check=False)
        if answer.returncode == 0 and answer.stdout.split()[0] != boot_id:
            break
        time.sleep(1)
    else:
        pytest.fail(f"{info['name']} did not come back within 600 s of `systemctl reboot` (last: {answer!r})")
    log(f"{info['name']} ({node.engine()}): reboot to SSH {time.monotonic() - started:.1f} s")
    assert answer.stdout.split()[1] == "kept"
    # The kernel's modules are there again after the reboot.
    assert on_node(info, "modprobe ip_vs && grep -c '^ip_vs ' /proc/modules").stdout.strip() == "1"
    if "lab_address" in info:
        proc = on_node(info, f"exec 3<>/dev/tcp/{lab_nodes[0]['lab_address']}/22 && head -n 1 <&3", timeout=60)
        assert proc.stdout.startswith("SSH-2.0-"), proc.stdout
