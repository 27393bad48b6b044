# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A careful operator's first run: `ansible-playbook --check --diff`, then the real run, of the article's PPC pattern.

The play is the article's two-task pattern (`ipvsadm -A -t VIP:80 -s rr -p 3600`, then
`ipvsadm -a ... -r RS -g -w 2` for each real server) as lvs.ipvs.ipvs_service then
lvs.ipvs.ipvs_real_server in a loop, run by ansible-playbook -c local in a network namespace the
test creates, on an empty table. The check run must exit 0, predict every command (the real
servers' service does not exist yet: one warning says check mode assumes the earlier task creates
it) and leave the kernel byte for byte as it was (`ipvsadm -S -n`). The real run must then do
exactly what was predicted: the same commands, and a table read back with ipvsadm that holds
exactly those lines. A second check run predicts nothing and warns about nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.modules import in_netns, playbook, routed_netns
from tests.integration.pythons import collections_root

NETNS = "lvsck"
VIP = "198.51.100.1"
REAL_SERVERS = ("192.0.2.10", "192.0.2.11")
EXPECTED = [f"-A -t {VIP}:80 -s rr -p 3600"] + [f"-a -t {VIP}:80 -r {rs}:80 -g -w 2" for rs in REAL_SERVERS]
WARNING = f"the virtual service -t {VIP}:80 does not exist; in check mode this assumes an earlier task creates it"


def ns(*argv: str) -> str:
    return in_netns(NETNS, *argv)


@pytest.fixture
def namespace():
    """An empty IPVS table in a namespace with a route to the real servers (the kernel refuses a real server without one)."""
    with routed_netns(NETNS, "ck0") as name:
        yield name


def ppc_play(results: str) -> list:
    key = {"protocol": "tcp", "address": VIP, "port": 80, "netns": NETNS}
    return [{
        "name": "PPC: one persistent service for port 80, then its real servers",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {"name": "ipvsadm -A -t VIP:80 -s rr -p 3600", "lvs.ipvs.ipvs_service": dict(key, scheduler="rr", persistence_timeout=3600),
             "register": "service"},
            {"name": "ipvsadm -a -t VIP:80 -r RS -g -w 2", "lvs.ipvs.ipvs_real_server": dict(key, server="{{ item }}", forwarding="dr", weight=2),
             "loop": list(REAL_SERVERS), "register": "servers"},
            {"name": "Keep the results for the test", "check_mode": False, "changed_when": False,
             "ansible.builtin.copy": {"dest": results, "mode": "0600", "content": "{{ {'service': service, 'servers': servers.results} | to_json }}"}},
        ],
    }]


def run_play(tmp_path, name: str, check: bool) -> dict:
    results = tmp_path / f"{name}.json"
    path = tmp_path / "ppc.yml"
    path.write_text(json.dumps(ppc_play(str(results))), encoding="utf-8")
    proc = playbook(str(path), "--diff", check=check, collections=collections_root())
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    data = json.loads(results.read_text(encoding="utf-8"))
    tasks = [data["service"], *data["servers"]]
    return {
        "commands": [command for task in tasks for command in task["commands"]],
        "changed": [task["changed"] for task in tasks],
        "diffs": [task["diff"] for task in tasks],
        "warnings": [line for line in (proc.stdout + proc.stderr).splitlines() if "[WARNING]" in line and "lvs.ipvs" not in line
                     and "does not exist" in line],
        "output": proc.stdout,
    }


def test_check_then_real_run_of_the_ppc_pattern_on_an_empty_table(namespace, tmp_path):
    before = ns("ipvsadm", "-S", "-n")
    assert before == ""

    predicted = run_play(tmp_path, "check", check=True)
    after_check = ns("ipvsadm", "-S", "-n")
    applied = run_play(tmp_path, "real", check=False)
    table = ns("ipvsadm", "-S", "-n").splitlines()
    again = run_play(tmp_path, "check-again", check=True)

    print(f"\npredicted by --check: {predicted['commands']}\napplied by the real run: {applied['commands']}\n"
          f"ipvsadm -S -n afterwards: {table}\ncheck-mode warnings: {predicted['warnings']}")
    assert after_check == before, "check mode changed the kernel"
    assert predicted["commands"] == EXPECTED, predicted["commands"]
    assert predicted["changed"] == [True, True, True]
    # One warning per real server, which ansible-playbook shows once (it prints a repeated warning once).
    assert predicted["warnings"] and all(line.endswith(WARNING) for line in predicted["warnings"]), predicted["output"][-3000:]
    assert applied["commands"] == predicted["commands"], "the real run must do what check mode predicted"
    assert applied["changed"] == [True, True, True] and not applied["warnings"]
    assert table == predicted["commands"], "the table read back must hold exactly the predicted lines"
    # The service's diff is the same in both runs; a real server's check-mode diff shows its own line only (the service's
    # options belong to the earlier task), the real run's the whole service as it then is.
    assert predicted["diffs"][0] == applied["diffs"][0] == {"before": "", "after": EXPECTED[0] + "\n"}
    assert [diff["after"] for diff in predicted["diffs"][1:]] == [line + "\n" for line in EXPECTED[1:]]
    assert applied["diffs"][-1]["after"] == "\n".join(EXPECTED) + "\n"
    assert again["commands"] == [] and again["changed"] == [False, False, False] and not again["warnings"]
