# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ipvs_parity against the fake kernel: the peer is a real ipvs_info answer (of another fake kernel), read back into model
objects; the health-checked services come from keepalived fragments or the option; bad input is an error naming the
option before anything is read; nothing is ever sent to the kernel."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import render_virtual_servers
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service
from ansible_collections.lvs.ipvs.plugins.module_utils._parity import EXPIRING, SAMPLES
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import declare
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_info, ipvs_parity
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel, run_main, warnings

VIP = "198.51.100.1"
WEB = Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="rr", persistence_timeout=600, persistence_granularity=32)
TLS = Service(family="ipv4", protocol="tcp", address=VIP, port=443, persistence_timeout=600, persistence_granularity=32)
MARK = Service(family="ipv6", fwmark=8, persistence_timeout=600, persistence_granularity=64)
WEB_POOL = [RealServer("192.0.2.11", 80, weight=2, upper_threshold=100), RealServer("192.0.2.12", 80)]
TLS_POOL = [RealServer("192.0.2.11", 443), RealServer("192.0.2.12", 443)]
MARK_POOL = [RealServer("2001:db8:1::11", 0, forwarding="nat"), RealServer("2001:db8:1::12", 8080, forwarding="nat")]
DAEMONS = [{"state": role, "mcast_ifn": "ha0", "sync_id": 8, "sync_maxlen": 1472, "mcast_group": "224.0.0.81", "mcast_port": 8848, "mcast_ttl": 1}
           for role in ("master", "backup")]


def connection(client, real_server, port=80, client_port=0, expires=500):
    """An entry of the connection table as _conntable.parse gives it (client port 0: a template)."""
    return {"protocol": "tcp", "client": client, "client_port": client_port, "virtual": VIP, "virtual_port": port, "real_server": real_server,
            "real_server_port": port, "state": "NONE" if client_port == 0 else "ESTABLISHED", "expires": expires}


TEMPLATES = [connection("203.0.113.10", "192.0.2.11"), connection("203.0.113.11", "192.0.2.12", port=443),
             connection("203.0.113.10", "192.0.2.11", client_port=41000)]


def director(table=None, daemons=None, connections=None):
    pools = table if table is not None else [(WEB, WEB_POOL), (TLS, TLS_POOL), (MARK, MARK_POOL)]
    return FakeKernel(pools, daemons=DAEMONS if daemons is None else daemons, connections=TEMPLATES if connections is None else connections)


def info_of(kernel, fake, connections=True):
    """The ipvs_info answer of `fake`, as `register:` keeps it."""
    kernel.install(fake)
    return run_main(ipvs_info, {"connections": connections})


def parity(kernel, fake, peer, check=False, **args):
    kernel.install(fake)
    return run_main(ipvs_parity, dict({"peer": peer, "health_check_dir": "/nonexistent/lvs-ipvs.d"}, **args), check=check)


def test_equal_directors_are_at_parity(kernel):
    peer = info_of(kernel, director())
    for check in (False, True):
        result = parity(kernel, director(), peer, check=check)
        assert result["changed"] is False and result["parity"] is True, result["differences"]
        assert result["table_equal"] is True and result["templates_ok"] is True and result["differences"] == []
        assert result["sync_daemons"]["both_ways"] is True
        assert result["templates"] == {"compared": True, "here": 2, "peer": 2, "missing_here": 0, "missing_on_peer": 0, "conflicts": 0, "samples": []}
        assert kernel.fake.sent == []
        # The peer's answer is not echoed back whole.
        assert result["invocation"]["module_args"]["peer"] == "an answer of lvs.ipvs.ipvs_info with 3 services, 2 templates, 2 sync_daemons (not echoed)"


def test_a_weight_changed_by_hand_is_named(kernel):
    peer = info_of(kernel, director())
    here = director([(WEB, [dataclasses.replace(WEB_POOL[0], weight=5), WEB_POOL[1]]), (TLS, TLS_POOL), (MARK, MARK_POOL)])
    result = parity(kernel, here, peer, check=True)
    assert result["parity"] is False and result["table_equal"] is False and result["templates_ok"] is True
    assert result["differences"] == ["service -t 198.51.100.1:80: real server 192.0.2.11:80: weight is 5 here, 2 on the peer"]
    assert kernel.fake.sent == []


def test_a_missing_service_and_a_missing_backup(kernel):
    peer = info_of(kernel, director())
    result = parity(kernel, director([(WEB, WEB_POOL), (TLS, TLS_POOL)], daemons=DAEMONS[:1]), peer)
    assert result["differences"] == [
        "service -f 8 -6 is on the peer but not here",
        "sync daemons: no backup sync daemon runs here, so the templates made on the peer do not reach this director",
    ]
    assert result["sync_daemons"]["here"] == [{"role": "master", "state": "started", "interface": "ha0", "sync_id": 8, "max_length": 1472,
                                               "group": "224.0.0.81", "port": 8848, "ttl": 1}]
    assert len(result["sync_daemons"]["peer"]) == 2 and result["sync_daemons"]["both_ways"] is False


def test_the_peers_templates_missing_here(kernel):
    peer = info_of(kernel, director())
    result = parity(kernel, director(connections=TEMPLATES[:1]), peer)
    assert result["parity"] is False and result["table_equal"] is True and result["templates_ok"] is False
    assert result["templates"]["missing_here"] == 1
    assert result["differences"] == []
    assert result["templates"]["samples"] == ["template TCP 203.0.113.11 -> 198.51.100.1:443: real server 192.0.2.12:443 on the peer, missing here"]


def test_without_the_peers_templates_they_are_not_compared_and_it_says_so(kernel):
    peer = info_of(kernel, director(), connections=False)
    assert "templates" not in peer
    result = parity(kernel, director(connections=[]), peer)
    assert result["parity"] is True and result["templates"]["compared"] is False
    assert warnings(result) == ["the peer's answer has no templates (lvs.ipvs.ipvs_info ran with connections: false): templates not compared"]


def fragment(tmp_path, *entries):
    """A keepalived fragment as the director role writes it: ipvs_table's keepalived_config of these config entries."""
    declared = declare(list(entries))
    folder = tmp_path / "lvs-ipvs.d"
    folder.mkdir()
    (folder / "ppc-web.conf").write_text(render_virtual_servers((entry.service, entry.servers or [], entry.health) for entry in declared))
    (folder / "ppc-web.conf.bak").write_text("virtual_server 198.51.100.1 80 {\n}\n")  # not a *.conf: keepalived does not include it
    return str(folder)


TLS_ENTRY = {"protocol": "tcp", "address": VIP, "port": 443, "persistence_timeout": 600,
             "real_servers": [{"server": "192.0.2.11"}, {"server": "192.0.2.12"}], "health_check": {"type": "tcp"}}


def test_the_weights_of_services_in_the_keepalived_fragments_are_reported_apart(kernel, tmp_path):
    peer = info_of(kernel, director())
    quiesced = [TLS_POOL[0], dataclasses.replace(TLS_POOL[1], weight=0)]
    here = director([(WEB, [WEB_POOL[0], dataclasses.replace(WEB_POOL[1], weight=0)]), (TLS, quiesced), (MARK, MARK_POOL)])
    result = parity(kernel, here, peer, health_check_dir=fragment(tmp_path, TLS_ENTRY))
    assert result["health_checked_services"] == ["-t 198.51.100.1:443"]
    assert result["runtime_weights"] == [{"service": "-t 198.51.100.1:443", "server": "192.0.2.12:443", "here": 0, "peer": 1}]
    # The other service's weight is declared by the modules: a difference.
    assert result["differences"] == ["service -t 198.51.100.1:80: real server 192.0.2.12:80: weight is 0 here, 1 on the peer"]


def test_the_option_health_checked_adds_services(kernel):
    peer = info_of(kernel, director())
    here = director([(WEB, [WEB_POOL[0], dataclasses.replace(WEB_POOL[1], weight=0)]), (TLS, TLS_POOL), (MARK, MARK_POOL)])
    result = parity(kernel, here, peer, health_checked=[{"ports": [80, 443], "families": ["ipv4"]}])
    assert result["parity"] is True and result["differences"] == []
    assert result["health_checked_services"] == ["-t 198.51.100.1:80", "-t 198.51.100.1:443"]
    assert result["runtime_weights"] == [{"service": "-t 198.51.100.1:80", "server": "192.0.2.12:80", "here": 0, "peer": 1}]


def test_a_local_real_server_of_the_peer_is_read(kernel):
    local = [(WEB, [RealServer("192.0.2.11", 8080, forwarding="local"), WEB_POOL[1]])]
    peer = info_of(kernel, director(local, connections=[]))
    assert peer["services"][0]["real_servers"][0]["forwarding"] == "local"
    assert parity(kernel, director(local, connections=[]), peer)["parity"] is True
    result = parity(kernel, director([(WEB, WEB_POOL)], connections=[]), peer)
    assert result["differences"] == ["service -t 198.51.100.1:80: real server 192.0.2.11:80 is here but not on the peer",
                                     "service -t 198.51.100.1:80: real server 192.0.2.11:8080 is on the peer but not here"]


# ---------------------------------------------------------------------------------------------- bad input, before any read


def spoiled(peer, path, value):
    """A copy of `peer` with the value at `path` (keys and indexes) replaced; `...` deletes it."""
    peer = copy.deepcopy(peer)
    node = peer
    for step in path[:-1]:
        node = node[step]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return peer


@pytest.mark.parametrize("path, value, option, words", [
    (("services",), ..., "peer", "has no services list, so it is not an answer of lvs.ipvs.ipvs_info"),
    (("sync_daemons",), "master", "peer", "has no sync_daemons list"),
    (("templates",), {}, "peer", "has no templates list"),
    (("failed",), True, "peer", "is a failed answer"),
    (("services", 1), "web", "peer.services[1]", "is not a dictionary"),
    (("services", 0, "scheduler"), "fast", "peer.services[0]", "scheduler"),
    (("services", 0, "real_servers", 1, "weight"), -1, "peer.services[0].real_servers[1].weight", "0 to"),
    (("services", 0, "real_servers", 1, "colour"), "red", "peer.services[0].real_servers[1].colour", "not an option"),
    (("services", 0, "real_servers", 0), 7, "peer.services[0].real_servers[0]", "is not a dictionary"),
    (("templates", 0, "virtual_port"), "80", "peer.templates[0].virtual_port", "not valid"),
    (("templates", 1, "client"), "client.example", "peer.templates[1].client", "not an IP address"),
    (("templates", 1, "expires"), ..., "peer.templates[1].expires", "not valid"),
    (("sync_daemons", 0, "role"), "primary", "peer.sync_daemons[0].role", "accepted: master, backup"),
    (("sync_daemons", 1, "interface"), None, "peer.sync_daemons[1].interface", "not valid"),
])
def test_a_peer_that_is_not_an_ipvs_info_answer_is_named(kernel, path, value, option, words):
    peer = spoiled(info_of(kernel, director()), path, value)
    result = parity(kernel, FakeKernel(fail_on_open=AssertionError), peer)
    assert result["failed"] is True and result["option"] == option, result
    assert words in result["msg"] and result["msg"].startswith(option), result["msg"]


@pytest.mark.parametrize("args, option, words", [
    # Ansible's own checks (no `option` in the result), naming the option.
    ({"peer": [{"services": []}]}, None, "argument 'peer' is of type list"),
    ({"health_checked": ["web"]}, None, "option 'health_checked' is of type str"),
    ({"health_checked": [{}]}, "health_checked[0]", "matches every service"),
    ({"health_checked": [{"ports": [70000]}]}, "health_checked[0].ports[0]", "0 to 65535"),
    ({"health_checked": [{"fwmarks": [8], "ports": [80]}]}, "health_checked[0]", "cannot be combined"),
    ({"health_checked": [{"addresses": ["vip.example"]}]}, "health_checked[0].addresses[0]", "not an address"),
    ({"health_checked": [{"ports": [80]}, {"colour": "red"}]}, "health_checked[1].colour", "is not an option here"),
    ({"health_checked": [{"protocols": ["icmp"]}]}, "health_checked[0]", "protocols"),
])
def test_bad_options_are_named_before_any_read(kernel, args, option, words):
    peer = info_of(kernel, director())
    result = parity(kernel, FakeKernel(fail_on_open=AssertionError), args.pop("peer", peer), **args)
    assert result["failed"] is True, result
    assert result.get("option") == option and words in result["msg"], result
    assert "restrict" not in result["msg"]


def test_an_unreadable_health_check_dir_is_named(kernel, tmp_path):
    peer = info_of(kernel, director())
    afile = tmp_path / "file"
    afile.write_text("")
    result = parity(kernel, FakeKernel(fail_on_open=AssertionError), peer, health_check_dir=str(afile))
    assert result["failed"] is True and result["option"] == "health_check_dir" and "cannot be read" in result["msg"], result


def test_the_documentation_says_the_margins_the_code_uses():
    assert f"Templates that expire within {EXPIRING}" in " ".join(ipvs_parity.DOCUMENTATION.split())
    assert f"Up to {SAMPLES} of the templates" in " ".join(ipvs_parity.RETURN.split())
