# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PNMPP end to end with traffic: fwmark_rule + a persistent fwmark ipvs_service, on the NAT director.

One client's connections to 80 and 443 reach the same real server; port 8080, not marked and
a (non-persistent) service of its own, is scheduled independently. Both modules run as Ansible
runs them on a node: their own process, inside the director's namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.modules import REPO
from tests.lab.topology import VIP, ask
from tests.conftest import COLLECTION_ROOT

MARK = 8


def run_in_director(topo, module: str, args: dict) -> dict:
    path = os.path.join(REPO, "plugins", "modules", f"{module}.py")
    args_file = "/tmp/lvs-ipvs-pnmpp-args.json"
    with open(args_file, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    collections = COLLECTION_ROOT
    proc = subprocess.run(["ip", "netns", "exec", topo.director_ns, sys.executable, path, args_file], capture_output=True, text=True,
                          check=False, env=dict(os.environ, PYTHONPATH=collections), cwd="/tmp")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result.get("failed"), result.get("msg")
    return result


@pytest.fixture
def pnmpp(nat_lab):
    subprocess.run(["ip", "netns", "exec", nat_lab.director_ns, "ipvsadm", "-C"], check=True)
    yield nat_lab
    subprocess.run(["ip", "netns", "exec", nat_lab.director_ns, "ipvsadm", "-C"], check=True)
    subprocess.run(["ip", "netns", "exec", nat_lab.director_ns, "nft", "delete", "table", "inet", "lvs_ipvs"], check=False)


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_http_and_https_of_one_client_land_on_one_real_server(pnmpp, backend):
    topo = pnmpp
    rule = {"name": "shop", "mark": MARK, "destination": VIP, "protocol": "tcp", "ports": ["80", "443"], "backend": backend}
    assert run_in_director(topo, "fwmark_rule", rule)["changed"] is True
    try:
        check_persistence(topo, rule)
    finally:
        assert run_in_director(topo, "fwmark_rule", {"name": "shop", "state": "absent", "backend": backend})["changed"] is True


def check_persistence(topo, rule: dict) -> None:
    pool = [{"server": s, "forwarding": "nat"} for s in topo.servers]
    assert run_in_director(topo, "ipvs_service", {"fwmark": MARK, "scheduler": "rr", "persistence_timeout": 600, "real_servers": pool})["changed"]
    assert run_in_director(topo, "ipvs_service", {"protocol": "tcp", "address": VIP, "port": 8080, "scheduler": "rr",
                                                  "real_servers": [dict(p, server_port=8080) for p in pool]})["changed"]
    # A second run of each is a no-op.
    assert run_in_director(topo, "fwmark_rule", rule)["changed"] is False

    pinned = {}
    for client in topo.clients[:4]:
        http = ask(topo.client_ns, client, VIP, 80, count=4)
        https = ask(topo.client_ns, client, VIP, 443, count=4)
        other = ask(topo.client_ns, client, VIP, 8080, count=6)
        assert not [a for a in http + https + other if a.startswith("error")], (client, http, https, other)
        assert len(set(http + https)) == 1, (client, http, https)
        assert len(set(other)) == 3, (client, other)  # not bound: rr over all three
        pinned[client] = http[0]
    assert len(set(pinned.values())) == 3, pinned  # rr spread the clients' templates over the pool

    templates = [line.split() for line in subprocess.run(["ip", "netns", "exec", topo.director_ns, "ipvsadm", "-Lnc"], capture_output=True,
                                                         text=True, check=True).stdout.splitlines()[2:] if ":0 " in line + " "]
    by_client = {words[3].rsplit(":", 1)[0]: words[5].rsplit(":", 1)[0] for words in templates if words[4] == f"0.0.0.{MARK}:0"}
    names = topo.names()
    assert {client: names[address] for client, address in by_client.items()} == pinned
