# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_defaults with the action group lvs.ipvs.ipvs (meta/runtime.yml) reaches the modules, through ansible-playbook.

One play sets only `netns` through `group/lvs.ipvs.ipvs`; its tasks name no namespace. The namespace's table and
timeouts are read back with `ip netns exec NS ipvsadm`, and the VM's own namespace must be untouched.
"""

from __future__ import annotations

import subprocess
import uuid

from tests.integration.conftest import ipvsadm, saved_table
from tests.integration.modules import playbook

VIP = "198.51.100.1"

PLAY = """\
- name: Two modules of the group, netns from module_defaults only
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/lvs.ipvs.ipvs:
      netns: {netns}
  tasks:
    - name: A persistent service
      lvs.ipvs.ipvs_service:
        protocol: tcp
        address: {vip}
        port: 80
        scheduler: rr
        persistence_timeout: 600
    - name: The global timeouts
      lvs.ipvs.ipvs_timeouts:
        tcp: 600
        tcpfin: 30
        udp: 300
"""


def in_netns(name: str, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", name, "ipvsadm", *args], capture_output=True, text=True, check=True).stdout


def test_module_defaults_group_sets_netns_for_the_ipvs_modules(clean_ipvs, tmp_path):
    name = f"lvs-group-{uuid.uuid4().hex[:6]}"
    own_timeouts = ipvsadm("-L", "--timeout")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        path = tmp_path / "module_defaults.yml"
        path.write_text(PLAY.format(netns=name, vip=VIP))
        proc = playbook(str(path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "changed=2" in proc.stdout, proc.stdout
        assert in_netns(name, "-S", "-n").splitlines() == [f"-A -t {VIP}:80 -s rr -p 600"]
        assert "Timeout (tcp tcpfin udp): 600 30 300" in in_netns(name, "-L", "--timeout")
        assert saved_table() == [], "the VM's own table must stay empty"
        assert ipvsadm("-L", "--timeout") == own_timeouts, "the VM's own timeouts must not change"
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)
