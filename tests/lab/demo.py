# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The main job (`make demo`): playbooks/pnmpp.yml makes a lab node a PNMPP director, then clients shop.

1. `python -m tests.lab up lvs-demo`: a Debian bookworm node (User-mode Linux, or QEMU: LVS_IPVS_LAB_ENGINE), reached over
   SSH on 127.0.0.1.
2. On the node, network namespaces make the test hosts: a client namespace (203.0.113.10-17) and
   three real servers rs1-rs3 (192.0.2.11-13, HTTP on ports 80, 443 and 8080, default route via
   the node). The node itself is the director (VIP 198.51.100.1, NAT).
3. `ansible-playbook -i <inventory> playbooks/pnmpp.yml`, as an operator runs it: the inventory
   has the node in group lvs_directors with the pnmpp_* variables, and the real servers as group
   lvs_real_servers, the pool (the article's shop: HTTP and HTTPS of one customer on one server).
4. Each client makes a few HTTP (80) and HTTPS (443) connections; the table says who served which.
5. `python -m tests.lab down lvs-demo` (LVS_IPVS_DEMO_KEEP=1 keeps the node for a look around).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from . import node
from .errors import LabError

NAME = "lvs-demo"
REPO = Path(__file__).resolve().parents[2]
SCRIPTS = (REPO / "tests" / "lab" / "topology.py", REPO / "molecule" / "shared" / "files" / "lab_net.py")
PLAYBOOK = REPO / "playbooks" / "pnmpp.yml"
CLIENTS = [f"203.0.113.{10 + i}" for i in range(5)]

# The inventory an operator would write (JSON is YAML): playbooks/inventory/example.yml with the lab's node.
DIRECTOR_VARS = {
    "director_schedulers": ["rr"],
    "director_timeout_tcpfin": 30,
    "pnmpp_vip": "198.51.100.1",
    "pnmpp_marked_ports": ["80", "443"],
    "pnmpp_mark": 8,
    "pnmpp_scheduler": "rr",
    "pnmpp_persistence_timeout": 600,
    "pnmpp_forwarding": "nat",
    "pnmpp_real_servers_group": "lvs_real_servers",
}
REAL_SERVERS = {"rs1": "192.0.2.11", "rs2": "192.0.2.12", "rs3": "192.0.2.13"}


def inventory(info: dict) -> dict:
    """The demo's inventory for the node `info` (see node._node_info)."""
    director = {
        "ansible_host": info["host"], "ansible_port": info["port"], "ansible_user": info["user"],
        "ansible_ssh_private_key_file": info["key"], "ansible_python_interpreter": info["interpreter"],
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
    }
    return {"all": {"children": {
        "lvs_directors": {"hosts": {info["name"]: director}, "vars": DIRECTOR_VARS},
        # Never contacted by pnmpp.yml: the pool of the director, address and weight from each host's variables.
        "lvs_real_servers": {"hosts": {name: {"lvs_real_server_address": address} for name, address in REAL_SERVERS.items()}},
    }}}


def scripts_archive() -> bytes:
    """The lab's test-host scripts as a tar.gz, to unpack on the node in one SSH command."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in SCRIPTS:
            tar.add(str(path), arcname=path.name)
    return buf.getvalue()


def on_node(info: dict, command: str, stdin: bytes | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(node.ssh_argv(info, ["sh", "-c", command]), input=stdin, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise LabError(f"on {info['name']}: {command}: {proc.stderr.decode(errors='replace').strip() or proc.returncode}")
    return proc.stdout.decode(errors="replace")


def summarize_playbook(output: str) -> list[str]:
    """The lines of ansible-playbook's output worth reading: each task's status and name, under it its diff in ipvsadm
    syntax (and the nft rule), then the recap. Argument validation and skipped tasks are left out."""
    keep: list[str] = []
    task, diff = "", []
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task, diff = re.sub(r"\s*\*+$", "", line[len("TASK ["):]).rstrip("]"), []
            continue
        match = re.match(r"^(ok|changed|fatal|failed)(?::| =>)", line)
        if match and task:
            if not task.split(" : ")[-1].startswith("Validating arguments"):
                keep.append(f"  {match.group(1):<8} {task}")
                keep += [f"             {d}" for d in diff]
            task, diff = "", []
        elif re.match(r"^[-+](-[AaEe] |.*lvs\.ipvs:)", line):
            diff.append(re.sub(r"\s+", " ", line.strip()).replace("+ ", "+", 1))
        elif "ok=" in line and "changed=" in line:
            keep.append("  recap: " + " ".join(line.split()[2:]))
    return keep


def run_playbook(info: dict, collections: str) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="lvs-ipvs-demo.") as tmp:
        inv = Path(tmp) / "inventory.yml"
        inv.write_text(json.dumps(inventory(info), indent=2))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_PIPELINING="true", ANSIBLE_LOCAL_TEMP=tmp,
                   ANSIBLE_DISPLAY_SKIPPED_HOSTS="true", ANSIBLE_TIMEOUT="60", ANSIBLE_SSH_RETRIES="3")
        playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        proc = subprocess.run([playbook, "-i", str(inv), "--diff", str(PLAYBOOK)], env=env, cwd=str(REPO), capture_output=True,
                              text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise LabError(f"ansible-playbook playbooks/pnmpp.yml failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return summarize_playbook(proc.stdout)


def shop(info: dict) -> dict:
    """Each client browses (3 HTTP connections) and pays (3 HTTPS connections); then the table and the templates."""
    plan = []
    for client in CLIENTS:
        plan += [{"source": client, "port": 80, "count": 3}, {"source": client, "port": 443, "count": 3}]
    plan.append({"templates": True})
    out = on_node(info, "python3 /root/lvs-lab/lab_net.py ask " + shlex.quote(json.dumps(plan)) +
                  "; echo ---; ipvsadm -L -n; echo ---; nft list table inet lvs_ipvs; echo ---; ipvsadm -L -n -c;"
                  " echo ---; grep -v '^#' /etc/lvs-ipvs/ipvsadm.d/*.rules")
    asked, table, marks, connections, saved = out.split("---\n")
    lines = connections.splitlines()
    templates = lines[:2] + [line for line in lines[2:] if line.split()[3].endswith(":0")]
    return {"results": json.loads(asked), "table": table.rstrip(), "marks": marks.rstrip(), "templates": "\n".join(templates),
            "saved": saved.rstrip()}


def render(shopped: dict) -> list[str]:
    """The demo's table: per client, who served its HTTP and its HTTPS, and whether that is one real server."""
    results = shopped["results"]
    answers = [step for step in results if "answers" in step]
    templates = next(step["templates"] for step in results if "templates" in step)
    names = {address: name for name, address in REAL_SERVERS.items()}
    pinned = {row["client"]: names.get(row["real_server"], row["real_server"]) for row in templates}
    lines = [f"{'customer':<15} {'browses (HTTP :80)':<20} {'pays (HTTPS :443)':<20} {'template':<13} one real server?", ""]
    ok = True
    for client in CLIENTS:
        http = next(a["answers"] for a in answers if a["source"] == client and a["port"] == 80)
        https = next(a["answers"] for a in answers if a["source"] == client and a["port"] == 443)
        served = set(http) | set(https)
        same = len(served) == 1 and not any(a.startswith("error") for a in served)
        ok = ok and same
        verdict = f"yes: {http[0]}" if same else f"NO: {', '.join(sorted(served))}"
        lines.append(f"{client:<15} {' '.join(http):<20} {' '.join(https):<20} {'-> ' + pinned.get(client, 'none'):<13} {verdict}")
    counts = {name: sum(a["answers"].count(name) for a in answers) for name in REAL_SERVERS}
    lines += ["", "connections per real server: " + ", ".join(f"{name} ({addr}) {counts[name]}" for name, addr in REAL_SERVERS.items())]
    lines.append("every customer's HTTP and HTTPS on one real server: " + ("yes" if ok else "NO"))
    return lines


def main() -> int:
    started = time.monotonic()
    print("== lvs.ipvs demo: PNMPP, the shop - a customer's HTTP and HTTPS on one real server ==", flush=True)
    engine = {"uml": "User-mode Linux", "qemu": "QEMU"}[node.engine()]
    print(f"== booting lab node {NAME} (Debian bookworm in {engine})", flush=True)
    info = node.up(NAME, boot_timeout=900)
    collections = tempfile.mkdtemp(prefix="lvs-ipvs-demo-collections.")
    try:
        link = Path(collections) / "ansible_collections" / "lvs"
        link.mkdir(parents=True)
        (link / "ipvs").symlink_to(REPO)
        print(f"== node up after {time.monotonic() - started:.0f} s; making the test hosts on it: a client namespace"
              " (203.0.113.10-17) and real servers rs1-rs3 (192.0.2.11-13, HTTP on 80 and 443)", flush=True)
        on_node(info, "mkdir -p /root/lvs-lab && tar -x -z -C /root/lvs-lab --no-same-owner && python3 /root/lvs-lab/lab_net.py up",
                stdin=scripts_archive())
        print("\n$ ansible-playbook -i inventory.yml --diff playbooks/pnmpp.yml")
        print("  (lvs_directors: the node, pnmpp_vip 198.51.100.1, pnmpp_marked_ports [80, 443], pnmpp_mark 8, rr, -p 600, NAT;")
        print("   pnmpp_real_servers_group: lvs_real_servers = rs1 192.0.2.11, rs2 192.0.2.12, rs3 192.0.2.13)", flush=True)
        begun = time.monotonic()
        print("\n".join(run_playbook(info, collections)))
        print(f"  ({time.monotonic() - begun:.0f} s)\n", flush=True)
        shopped = shop(info)
        print("== five customers, each: 3 new connections to 198.51.100.1:80 (HTTP) then 3 to 198.51.100.1:443 (HTTPS's port;")
        print("   the lab's real servers answer plain HTTP there, which is all IPVS sees anyway: addresses and ports)")
        print("   new TCP connections each time, from the client namespace through the director\n")
        lines = render(shopped)
        print("\n".join(lines))
        print("\nrr gives each new customer the next real server; the customer's template (mark 8, 600 s) then sends all of")
        print("its marked connections, HTTP and HTTPS alike, to that server: the cart and the payment meet on one machine.")
        print("\n$ nft list table inet lvs_ipvs   (ports 80 and 443 of the VIP get mark 8)")
        print(shopped["marks"])
        print("\n$ ipvsadm -L -n   (one persistent fwmark service for both ports)")
        print(shopped["table"])
        print("\n$ ipvsadm -L -n -c   (the persistence templates: client port 0, one per customer, 0.0.0.8 = mark 8)")
        print(shopped["templates"])
        print("\n$ grep -v '^#' /etc/lvs-ipvs/ipvsadm.d/*.rules   (what lvs-ipvs-restore.service puts back at boot)")
        print(shopped["saved"])
        print(f"\n== demo done in {time.monotonic() - started:.0f} s", flush=True)
        return 0 if lines[-1].endswith("yes") else 1
    finally:
        subprocess.run(["rm", "-rf", collections], check=False)
        if os.environ.get("LVS_IPVS_DEMO_KEEP"):
            print(f"== node {NAME} kept: python -m tests.lab ssh {NAME}; python -m tests.lab down {NAME} when done")
        else:
            node.down([NAME])


if __name__ == "__main__":
    sys.exit(main())
