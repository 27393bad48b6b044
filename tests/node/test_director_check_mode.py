# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The director role on a FRESH Debian node: check mode tells the truth and changes nothing, then the real runs.

The node image ships python3-pyroute2; the test purges it (and offers Debian's own .deb, kept by debootstrap in the image,
as a local apt source, so that apt can install it offline as it would from a mirror) and unloads ip_vs. Then, in the
four-step shape:

1. `--check --diff` exits 0, reports changes (the files with their diff, the package it would install, the modules, the
   sysctls and the timeouts it would set) and changes nothing: /etc (every file, link and mode), the loaded modules
   (/proc/modules), the sysctls (`sysctl -a`), the packages (`dpkg-query`) are read back with the node's own tools before
   and after; ip_vs stays unloaded, so there is no IPVS table (`ipvsadm` itself would load ip_vs: it is not run).
2. a real run installs python3-pyroute2, writes the files, loads the modules, sets the sysctls, enables
   lvs-ipvs-restore.service and sets the timeouts: read back with dpkg-query, cat, /proc, systemctl, `ipvsadm -Ln --timeout`.
3. `--check --diff` again: nothing to change; 4. a real run again: nothing changed.
The time of each run is printed (pytest -s).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.node import nodekit

NAME = "dt-director-check"
REPO = Path(__file__).resolve().parents[2]
MODULES = ["ip_vs", "ip_vs_rr", "ip_vs_wlc"]
SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.vs.expire_quiescent_template": "1", "net.ipv4.vs.expire_nodest_conn": "1",
           "net.ipv4.vs.conntrack": "0", "net.ipv4.vs.sloppy_tcp": "1"}
PLAYBOOK = """- name: The director role alone
  hosts: directors
  gather_facts: false
  roles:
    - role: lvs.ipvs.director
      vars:
        director_schedulers: [rr, wlc]
        director_timeout_tcpfin: 30
        director_sysctls: {net.ipv4.vs.sloppy_tcp: 1}
"""

# A fresh host: no pyroute2, no ip_vs; python3-pyroute2 installable from a local apt source (a flat repository of the
# .deb that debootstrap left in /var/cache/apt/archives; the node has no route out).
FRESH = r"""
set -e
repo=/srv/lvs-test-repo
mkdir -p $repo
deb=$(ls /var/cache/apt/archives/python3-pyroute2_*.deb)
cp "$deb" $repo/
cd $repo
name=$(basename "$deb")
{ dpkg-deb -f "$name"; echo "Filename: ./$name"; echo "Size: $(stat -c %s "$name")";
  echo "SHA256: $(sha256sum "$name" | cut -d' ' -f1)"; echo; } > Packages
echo "deb [trusted=yes] file:$repo ./" > /etc/apt/sources.list.d/lvs-test.list
apt-get update -qq -o Dir::Etc::SourceList=/etc/apt/sources.list.d/lvs-test.list -o Dir::Etc::SourceParts=-
dpkg --purge python3-pyroute2
modprobe -r -a ip_vs_wlc ip_vs_rr ip_vs 2>/dev/null || true
"""

# Sysctls that move by themselves (counters, random values).
VOLATILE_SYSCTLS = re.compile(r"^(fs\.(dentry-state|file-nr|inode-nr|inode-state|quota\.)|kernel\.(random\.|ns_last_pid|pty\.nr)"
                              r"|net\.netfilter\.nf_conntrack_count)")

# What the node has, read with its own tools; never ipvsadm before ip_vs is loaded (it would load it).
SNAPSHOT = r"""
echo '== etc'; find /etc -xdev \( -type f -o -type l -o -type d \) -printf '%p %y %m %u %l\n' | sort
echo '== etc-content'; find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum
echo '== modules'; cut -d' ' -f1 /proc/modules | sort
echo '== sysctls'; sysctl -a 2>/dev/null | sort
echo '== packages'; dpkg-query -W -f '${Package} ${Version} ${Status}\n' | sort
echo '== pyroute2'; python3 -c 'import pyroute2' 2>/dev/null && echo importable || echo missing
"""


log = nodekit.logger("director-check")


def on_node(info: dict, script: str, timeout: float = 300) -> str:
    return nodekit.on_node(info, script, timeout=timeout).stdout


def snapshot(info: dict) -> dict:
    sections: dict = {}
    current = None
    for line in on_node(info, SNAPSHOT).splitlines():
        if line.startswith("== "):
            current = sections.setdefault(line[3:], [])
        elif current is not None and not VOLATILE_SYSCTLS.match(line):
            current.append(line)
    return sections


@pytest.fixture(scope="module")
def lab_node():
    with nodekit.booted_node(NAME, log) as info:
        on_node(info, FRESH)
        yield info


@pytest.fixture(scope="module")
def ansible(tmp_path_factory, lab_node):
    work = tmp_path_factory.mktemp("director-check")
    inventory = work / "inventory.yml"
    inventory.write_text(f"""all:
  children:
    directors:
      hosts:
{nodekit.inventory_host(lab_node)}
""")
    playbook = work / "director.yml"
    playbook.write_text(PLAYBOOK)
    env = nodekit.ansible_env(work, ANSIBLE_PIPELINING="True")
    timings: dict = {}

    def run(what: str, *options: str) -> tuple:
        started = time.monotonic()
        command = [nodekit.ansible_playbook(), "-i", str(inventory), str(playbook), *options]
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)
        timings[what] = time.monotonic() - started
        recap = re.search(rf"^{re.escape(NAME)}\s+:\s+(.*)$", proc.stdout, re.M)
        log(f"{what}: ansible-playbook {' '.join(options)}: rc {proc.returncode} after {timings[what]:.0f} s; "
            f"{recap.group(1) if recap else 'no recap'}")
        assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
        assert recap, proc.stdout[-3000:]
        counts = dict((key, int(value)) for key, value in re.findall(r"(\w+)=(\d+)", recap.group(1)))
        return proc.stdout, counts

    yield run
    log("timings: " + ", ".join(f"{what} {seconds:.0f} s" for what, seconds in timings.items()))


def test_fresh_node_has_no_pyroute2_and_no_ip_vs(lab_node):
    state = snapshot(lab_node)
    assert state["pyroute2"] == ["missing"]
    assert not [line for line in state["packages"] if line.startswith("python3-pyroute2 ") and "ok installed" in line]
    assert not set(MODULES) & set(state["modules"])
    assert not [line for line in state["etc"] if "lvs-ipvs" in line]


def test_check_mode_on_a_fresh_node_reports_and_changes_nothing(lab_node, ansible):
    before = snapshot(lab_node)
    output, counts = ansible("check on a fresh node", "--check", "--diff")
    after = snapshot(lab_node)
    for section in before:
        assert after[section] == before[section], f"check mode changed {section}: " + "\n".join(
            sorted(set(after[section]) ^ set(before[section])))
    assert counts["failed"] == 0 and counts["changed"] >= 8, counts
    # Each file with its diff, the package apt would install, what the kernel would get.
    for line in ["+ip_vs_rr", "+net.ipv4.vs.expire_quiescent_template = 1", "+net.ipv4.vs.sloppy_tcp = 1",
                 "+ExecStart=ipvsadm --set 900 30 300", '"state": "link"', "python3-pyroute2",
                 "net.ipv4.ip_forward = 1 (now 0)", "net.ipv4.vs.expire_nodest_conn = 1 (now absent)",
                 "sets the global timeouts tcp 900, tcpfin 30, udp 300"]:
        assert line in output, f"{line!r} not in the check run's output:\n{output[-6000:]}"
    assert re.search(r"TASK \[lvs\.ipvs\.director : Load the kernel modules that are not loaded\][^\n]*\nchanged:", output), output


def test_real_run_installs_loads_writes_and_sets(lab_node, ansible):
    output, counts = ansible("first real run", "--diff")
    assert counts["changed"] >= 8, counts
    state = snapshot(lab_node)
    assert state["pyroute2"] == ["importable"]
    assert [line for line in state["packages"] if line.startswith("python3-pyroute2 ") and line.endswith("install ok installed")]
    assert set(MODULES) <= set(state["modules"])
    sysctls = dict(line.split(" = ", 1) for line in state["sysctls"] if " = " in line)
    assert {name: sysctls.get(name) for name in SYSCTLS} == SYSCTLS
    files = on_node(lab_node, "cat /etc/modules-load.d/lvs-ipvs.conf /etc/sysctl.d/60-lvs-ipvs.conf; "
                              "stat -c '%U %a %n' /etc/modules-load.d/lvs-ipvs.conf /etc/sysctl.d/60-lvs-ipvs.conf "
                              "/etc/systemd/system/lvs-ipvs-restore.service /etc/lvs-ipvs/ipvsadm.d")
    for line in [*MODULES, *(f"{name} = {value}" for name, value in SYSCTLS.items()),
                 "root 644 /etc/modules-load.d/lvs-ipvs.conf", "root 644 /etc/sysctl.d/60-lvs-ipvs.conf",
                 "root 644 /etc/systemd/system/lvs-ipvs-restore.service", "root 755 /etc/lvs-ipvs/ipvsadm.d"]:
        assert line in files.splitlines(), f"{line!r} not in:\n{files}"
    assert on_node(lab_node, "systemctl is-enabled lvs-ipvs-restore.service").strip() == "enabled"
    kernel = on_node(lab_node, "ipvsadm -Ln --timeout; ipvsadm -S -n | wc -l")
    assert "Timeout (tcp tcpfin udp): 900 30 300" in kernel, kernel
    assert kernel.splitlines()[-1].strip() == "0", kernel  # the director role makes no service


def test_check_and_real_run_again_change_nothing(lab_node, ansible):
    before = snapshot(lab_node)
    output, counts = ansible("check again", "--check", "--diff")
    assert counts["changed"] == 0, output[-6000:]
    output, counts = ansible("second real run", "--diff")
    assert counts["changed"] == 0, output[-6000:]
    after = snapshot(lab_node)
    for section in before:
        assert after[section] == before[section], f"a second run changed {section}: " + "\n".join(
            sorted(set(after[section]) ^ set(before[section])))
