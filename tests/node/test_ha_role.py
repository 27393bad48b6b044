# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/ha_pair.yml (roles director, ppc, director_ha) on ONE real Debian node, then a reboot.

The node is the only director of its "pair": its HA link is a dummy interface "ha0" (198.51.100.253/30, multicast on) and
the VIP goes on a second dummy "front0", both made by systemd-networkd so that they come back after the reboot. VRRP
adverts (224.0.0.18) and sync messages (224.0.0.81, TTL 1) go out of ha0 and nowhere else. Alone on its link, the VRRP
instance becomes MASTER after its advert timeouts and takes the VIP.

Read back on the node, independently of the playbook: keepalived runs with a config that has no virtual_server and passes
`keepalived --config-test`; the VIP is on front0; `ipvsadm -L --daemon` shows a master and a backup daemon on ha0 with
the declared sync id; the sysctls; the PPC service. A second run changes nothing. After `systemctl reboot` the daemons
(from lvs-ipvs-sync.service, which ran before keepalived), the sysctls, the table and the VIP are back.

The real two-director failover with traffic is tests/integration/test_ha_failover.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab import node
from tests.node import nodekit

NAME = "ha-role"
REPO = Path(__file__).resolve().parents[2]
SYNC_ID = 7
VRID = 61
VIP = "198.51.100.1"
VIP6 = "2001:db8::1"
HA_LINK = "198.51.100.253/30"
SYSCTLS = {"net.ipv4.vs.sync_version": "1", "net.ipv4.vs.sync_persist_mode": "1", "net.ipv4.vs.sloppy_tcp": "1"}

# Two dummy links made by systemd-networkd (so they exist again after the reboot). A dummy has no MULTICAST flag by
# default, and keepalived refuses a VRRP interface without it.
PREPARE = r"""
set -e
cat > /etc/systemd/network/20-ha0.netdev <<'EOF'
[NetDev]
Name=ha0
Kind=dummy
EOF
cat > /etc/systemd/network/20-ha0.network <<'EOF'
[Match]
Name=ha0

[Link]
Multicast=yes

[Network]
Address=198.51.100.253/30
LinkLocalAddressing=no
EOF
cat > /etc/systemd/network/21-front0.netdev <<'EOF'
[NetDev]
Name=front0
Kind=dummy
EOF
cat > /etc/systemd/network/21-front0.network <<'EOF'
[Match]
Name=front0

[Network]
LinkLocalAddressing=no
ConfigureWithoutCarrier=yes
EOF
systemctl restart systemd-networkd.service
for i in $(seq 1 60); do
    if ip -4 addr show dev ha0 2>/dev/null | grep -q 198.51.100.253 && ip link show front0 >/dev/null 2>&1; then exit 0; fi
    sleep 1
done
echo "ha0 or front0 did not come up" >&2
exit 1
"""


log = nodekit.logger("ha-role")
on_node = nodekit.on_node


def wait_for(what: str, probe, timeout: float, interval: float = 3):
    """Call probe() until it returns something true; fail after `timeout` seconds with its last answer."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (subprocess.TimeoutExpired, AssertionError) as exc:
            last = exc
        else:
            if last:
                log(f"{what}: after {time.monotonic() - started:.0f} s")
                return last
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})")


@pytest.fixture(scope="module")
def lab_node():
    with nodekit.booted_node(NAME, log) as info:
        yield info


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory, lab_node):
    work = tmp_path_factory.mktemp("ha-role")
    inventory = work / "inventory.yml"
    inventory.write_text(f"""all:
  children:
    lvs_directors:
      hosts:
{nodekit.inventory_host(lab_node)}
          director_ha_priority: 150
      vars:
        director_schedulers: [rr]
        director_install_packages: false
        lvs_recipes: [ppc]
        ppc_vip: {VIP}
        ppc_ports: [80]
        ppc_scheduler: rr
        ppc_forwarding: nat
        ppc_real_servers: [{{server: 192.0.2.11}}, {{server: 192.0.2.12}}]
        director_ha_interface: ha0
        director_ha_virtual_router_id: {VRID}
        director_ha_sync_id: {SYNC_ID}
        director_ha_virtual_addresses:
          - {{address: {VIP}/32, interface: front0}}
          - {{address: "{VIP6}/128", interface: front0}}
        director_ha_sync_persist_mode: 1
        director_ha_sloppy_tcp: true
        director_ha_install_packages: false
""")
    env = nodekit.ansible_env(work)
    return {"inventory": inventory, "env": env}


def playbook(ansible_env) -> str:
    started = time.monotonic()
    command = [nodekit.ansible_playbook(), "-i", str(ansible_env["inventory"]),
               str(REPO / "playbooks" / "ha_pair.yml")]
    proc = subprocess.run(command, cwd=REPO, env=ansible_env["env"], capture_output=True, text=True, timeout=1500, check=False)
    log(f"ansible-playbook playbooks/ha_pair.yml: rc {proc.returncode} after {time.monotonic() - started:.0f} s")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    recap = re.search(rf"^{re.escape(NAME)}\s+:\s+(.*)$", proc.stdout, re.M)
    assert recap, proc.stdout[-3000:]
    log(f"recap: {recap.group(1)}")
    return proc.stdout


def read_state(info: dict) -> dict:
    """What the node has now, read with its own tools."""
    script = (
        "echo '== active'; systemctl is-active keepalived.service lvs-ipvs-sync.service || true; "
        "echo '== daemons'; ipvsadm -L --daemon; "
        "echo '== addresses'; ip -o addr show dev front0; "
        "echo '== sysctls'; " + "; ".join(f"echo {name}=$(cat /proc/sys/{name.replace('.', '/')})" for name in SYSCTLS) + "; "
        "echo '== table'; ipvsadm -Ln; "
        "echo '== state'; journalctl -b -u keepalived.service --no-pager -o cat | grep -E 'Entering (MASTER|BACKUP|FAULT)' | tail -n 1"
    )
    out = on_node(info, script).stdout
    sections, current = {}, None
    for line in out.splitlines():
        if line.startswith("== "):
            current = line[3:]
            sections[current] = []
        elif current:
            sections[current].append(line)
    return {key: "\n".join(value) for key, value in sections.items()}


def check_daemons(daemons: str) -> None:
    for role in ("master", "backup"):
        line = next((x for x in daemons.splitlines() if x.startswith(f"{role} sync daemon")), "")
        assert "mcast=ha0" in line and f"syncid={SYNC_ID}" in line and "group=224.0.0.81" in line and "ttl=1" in line, daemons


def vip_and_daemons(info: dict):
    state = read_state(info)
    if f"inet {VIP}/32" in state.get("addresses", "") and "master sync daemon" in state.get("daemons", "") \
            and "backup sync daemon" in state.get("daemons", ""):
        return state
    return None


def reboot(info: dict) -> dict:
    """`systemctl reboot` on the node; it restarts in place (same UML or QEMU process, same SSH port, the root kept).

    Under TCG emulation on a loaded machine, a warm reset of the VM has been seen to hang in the guest kernel (soft lockup
    of systemd, PID 1, right after "Welcome to Debian"), unrelated to what is tested here: when SSH is not back in time, the
    node is powered off and booted again from the same disk (a cold boot proves the same thing), and the test says so.
    """
    boot_id = on_node(info, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    on_node(info, "systemctl reboot", timeout=60, check=False)
    log("rebooting")

    def new_boot(current: dict):
        proc = on_node(current, "cat /proc/sys/kernel/random/boot_id", timeout=60, check=False)
        return proc.returncode == 0 and proc.stdout.strip() not in ("", boot_id)

    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        if new_boot(info):
            log("SSH after the reboot")
            return info
        time.sleep(5)
    console = node.state_dir() / NAME / "console.log"
    tail = console.read_text(errors="replace")[-2000:] if console.exists() else ""
    log(f"the warm reboot did not come back within 420 s; powering the VM off and booting it again. Console:\n{tail}")
    node.stop(NAME)
    proc = subprocess.run([sys.executable, "-m", "tests.lab", "up", "--boot-timeout", "900", NAME], cwd=REPO, capture_output=True,
                          text=True, timeout=1200, check=False)
    assert proc.returncode == 0, f"tests.lab up {NAME} after the power-off: {proc.stdout}\n{proc.stderr}"
    info = node._node_info(NAME)  # pylint: disable=protected-access
    assert new_boot(info)
    log("SSH after the cold boot")
    return info


def test_ha_pair_on_one_node_and_after_a_reboot(lab_node, ansible_env):
    info = lab_node
    started = time.monotonic()
    on_node(info, PREPARE, timeout=300)
    log("ha0 and front0 made by systemd-networkd")

    # First run: the whole playbook (director, ppc, director_ha).
    playbook(ansible_env)

    # Alone on ha0, the VRRP instance becomes MASTER after its advert timeouts (3 x 1 s + skew) and takes the VIP.
    state = wait_for("VIP on front0 (keepalived MASTER)", lambda: vip_and_daemons(info), timeout=90)
    assert "Entering MASTER STATE" in state["state"], state
    assert f"inet6 {VIP6}/128" in state["addresses"], state["addresses"]
    assert state["active"].splitlines()[0] == "active", state["active"]
    check_daemons(state["daemons"])
    for name, value in SYSCTLS.items():
        assert f"{name}={value}" in state["sysctls"], state["sysctls"]
    assert f"TCP  {VIP}:80 rr persistent" in state["table"], state["table"]

    # keepalived's config: VRRP only, and keepalived itself accepts it.
    config = on_node(info, "cat /etc/keepalived/keepalived.conf; stat -c '%U %a' /etc/keepalived/keepalived.conf").stdout
    assert not [line for line in config.splitlines() if "virtual_server" in line and not line.lstrip().startswith("#")], config
    assert re.search(r"^\s*vrrp_instance lvs_ipvs \{", config, re.M) and re.search(r"^\s*nopreempt$", config, re.M), config
    assert re.search(rf"^\s*virtual_router_id {VRID}$", config, re.M) and re.search(r"^\s*priority 150$", config, re.M), config
    assert config.rstrip().endswith("root 600"), config
    on_node(info, "keepalived --config-test --use-file=/etc/keepalived/keepalived.conf")
    unit = on_node(info, "systemctl is-enabled lvs-ipvs-sync.service keepalived.service").stdout.split()
    assert unit == ["enabled", "enabled"], unit
    log(f"first run checked after {time.monotonic() - started:.0f} s")

    # Second run: nothing to change.
    out = playbook(ansible_env)
    assert re.search(rf"^{re.escape(NAME)}\s+:.*\bchanged=0\b.*\bfailed=0\b", out, re.M), out[-4000:]

    info = reboot(info)
    state = wait_for("VIP and sync daemons after the reboot", lambda: vip_and_daemons(info), timeout=180)
    check_daemons(state["daemons"])
    assert "Entering MASTER STATE" in state["state"], state
    assert state["active"].split() == ["active", "active"], state["active"]
    for name, value in SYSCTLS.items():
        assert f"{name}={value}" in state["sysctls"], state["sysctls"]
    assert f"TCP  {VIP}:80 rr persistent" in state["table"], state["table"]
    # lvs-ipvs-sync.service finished starting the daemons before keepalived started.
    times = on_node(info, "systemctl show -p ActiveEnterTimestampMonotonic --value lvs-ipvs-sync.service; "
                          "systemctl show -p ExecMainStartTimestampMonotonic --value keepalived.service").stdout.split()
    if not (len(times) == 2 and 0 < int(times[0]) <= int(times[1])):
        journal = on_node(info, "journalctl -b -o short-monotonic --no-pager -u lvs-ipvs-sync.service -u keepalived.service "
                                "-u systemd-networkd-wait-online.service | tail -n 40", check=False).stdout
        pytest.fail(f"keepalived started before lvs-ipvs-sync.service was up: {times}\n{journal}")
    log(f"done after {time.monotonic() - started:.0f} s (without the boot)")
