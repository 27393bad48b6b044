# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The director pair lab's addresses and the figures of its client loop (tests/node/pair_lab.py), without a lab."""

from __future__ import annotations

import ipaddress

from tests.lab import labnet
from tests.node import pair_lab


def test_the_test_hosts_are_on_the_lab_bridge_in_the_range_no_node_gets():
    bridge = ipaddress.ip_network(f"{labnet.GATEWAY}/{labnet.PREFIX_LEN}", strict=False)
    hosts = [pair_lab.VIP, *pair_lab.SERVERS.values(), *pair_lab.CLIENTS]
    assert len(set(hosts)) == 10 and all(ipaddress.ip_address(address) in bridge for address in hosts)
    assert not {int(address.rsplit(".", 1)[1]) for address in hosts} - set(labnet.TEST_HOSTS)
    links = [pair_lab._veth(ns) for ns in [pair_lab.server_ns(name) for name in pair_lab.SERVERS] + [pair_lab.CLIENT_NS]]  # pylint: disable=protected-access
    assert len(set(links)) == 5 and all(len(link) <= 15 and not link.startswith("tap") for link in links)


def test_figures_count_failures_moves_and_the_longest_gap():
    load = pair_lab.ClientLoop(clients=["c1", "c2"])
    load.started = 100.0
    load.records = [
        (100.0, 100.1, "c1", "rs1"), (100.0, 100.2, "c2", "rs2"),
        (100.3, 100.4, "c1", "rs1"), (100.4, 105.4, "c2", "error:connect:TimeoutError:timed out"),
        (100.6, 100.7, "c1", "rs3"), (105.6, 105.7, "c2", "rs2"),
        (100.9, 101.0, "c1", "rs1"),
    ]
    figures = load.figures()
    assert (figures["requests"], figures["failures"], figures["moves"]) == (7, 1, 1)
    assert figures["longest_gap"] == 5.5  # c2: answered at 100.2, next at 105.7
    assert figures["pinned"] == {"c1": ["rs1", "rs3"], "c2": ["rs2"]}
    assert figures["move_samples"] == [(0.7, "c1", "rs1", "rs3")]
    assert figures["failure_samples"] == [(0.4, "c2", "error:connect:TimeoutError:timed out")]
    assert load.served() == {"c1": ["rs1", "rs1", "rs3", "rs1"], "c2": ["rs2", "rs2"]}
