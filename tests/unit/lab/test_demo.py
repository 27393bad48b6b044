# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo's pure parts: its inventory, what it keeps of ansible-playbook's output, and its table."""

from __future__ import annotations

import io
import tarfile

from tests.lab import demo

INFO = {"name": "lvs-demo", "host": "127.0.0.1", "port": 2222, "user": "root", "key": "/k", "interpreter": "/usr/bin/python3"}


def _results(answers: dict[str, tuple[list[str], list[str]]], pinned: dict[str, str]) -> dict:
    steps = []
    for client, (http, https) in answers.items():
        steps += [{"source": client, "port": 80, "answers": http}, {"source": client, "port": 443, "answers": https}]
    steps.append({"templates": [{"client": client, "real_server": server} for client, server in pinned.items()]})
    return {"results": steps}


def test_inventory_puts_the_node_in_lvs_directors_and_the_pool_in_a_group():
    inv = demo.inventory(INFO)["all"]["children"]
    director = inv["lvs_directors"]["hosts"]["lvs-demo"]
    assert (director["ansible_host"], director["ansible_port"], director["ansible_user"]) == ("127.0.0.1", 2222, "root")
    assert inv["lvs_directors"]["vars"]["pnmpp_real_servers_group"] == "lvs_real_servers"
    assert inv["lvs_directors"]["vars"]["pnmpp_marked_ports"] == ["80", "443"]
    assert [h["lvs_real_server_address"] for h in inv["lvs_real_servers"]["hosts"].values()] == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]


def test_summary_keeps_tasks_ipvsadm_diff_lines_and_the_recap():
    output = "\n".join([
        "PLAY [PNMPP director] ****",
        "TASK [lvs.ipvs.director : Validating arguments against arg spec 'main' - Make a host an IPVS director] ****",
        "ok: [lvs-demo]",
        "TASK [lvs.ipvs.director : Write the files] ****",
        "changed: [lvs-demo] => (item=/etc/modules-load.d/lvs-ipvs.conf)",
        "ok: [lvs-demo] => (item=/etc/sysctl.d/60-lvs-ipvs.conf)",
        "TASK [lvs.ipvs.pnmpp : One fwmark service] ****",
        "--- before", "+++ after", "+-A -f 8 -s rr -p 600", "+-a -f 8 -r 192.0.2.11:0 -m -w 1", "+ExecStart=modprobe -a ip_vs",
        "changed: [lvs-demo] => (item=fwmark 8)",
        "TASK [lvs.ipvs.director : Enable] ****",
        "skipping: [lvs-demo]",
        "PLAY RECAP ****",
        "lvs-demo                   : ok=9    changed=6    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0",
    ])
    assert demo.summarize_playbook(output) == [
        "  changed  lvs.ipvs.director : Write the files",
        "  changed  lvs.ipvs.pnmpp : One fwmark service",
        "             +-A -f 8 -s rr -p 600",
        "             +-a -f 8 -r 192.0.2.11:0 -m -w 1",
        "  recap: ok=9 changed=6 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
    ]


def test_render_says_yes_when_each_client_keeps_one_real_server():
    answers = {client: ([f"rs{1 + i % 3}"] * 3, [f"rs{1 + i % 3}"] * 3) for i, client in enumerate(demo.CLIENTS)}
    lines = demo.render(_results(answers, {"203.0.113.10": "192.0.2.11"}))
    assert lines[2].split() == ["203.0.113.10", "rs1", "rs1", "rs1", "rs1", "rs1", "rs1", "->", "rs1", "yes:", "rs1"]
    assert "-> none" in lines[3]
    assert lines[-2] == "connections per real server: rs1 (192.0.2.11) 12, rs2 (192.0.2.12) 12, rs3 (192.0.2.13) 6"
    assert lines[-1].endswith(": yes")


def test_render_says_no_when_http_and_https_part_or_fail():
    answers = {client: (["rs1"] * 3, ["rs1"] * 3) for client in demo.CLIENTS}
    answers["203.0.113.11"] = (["rs1"] * 3, ["rs2", "rs2", "rs2"])
    answers["203.0.113.12"] = (["error:timeout"] * 3, ["error:timeout"] * 3)
    lines = demo.render(_results(answers, {}))
    assert lines[3].endswith("NO: rs1, rs2")
    assert lines[4].endswith("NO: error:timeout")
    assert lines[-1].endswith(": NO")


def test_scripts_archive_holds_the_two_lab_scripts():
    with tarfile.open(fileobj=io.BytesIO(demo.scripts_archive()), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["lab_net.py", "topology.py"]
