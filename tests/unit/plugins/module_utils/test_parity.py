# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_parity, the pure comparison of two directors: tables field by field, the weights of health-checked services apart, the
sync daemons both ways, the persistence templates of the services both have; each difference one sentence."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._model import SERVER_FIELDS, SERVICE_FIELDS, RealServer, Service
from ansible_collections.lvs.ipvs.plugins.module_utils._parity import EXPIRING, SAMPLES, Side, compare, compare_daemons, compare_tables
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import make_table
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import SyncDaemon

VIP = "198.51.100.1"
WEB = Service(family="ipv4", protocol="tcp", address=VIP, port=80, scheduler="rr", persistence_timeout=600, persistence_granularity=32)
MARK = Service(family="ipv4", fwmark=8, persistence_timeout=600, persistence_granularity=32)
V6 = Service(family="ipv6", protocol="udp", address="2001:db8::1", port=53)
RS11, RS12 = RealServer("192.0.2.11", 80), RealServer("192.0.2.12", 80, weight=3)
MARK_POOL = [RealServer("192.0.2.11", 0, forwarding="nat"), RealServer("192.0.2.12", 0, forwarding="nat")]
V6_POOL = [RealServer("2001:db8:1::11", 53)]
MASTER = SyncDaemon("master", "ha0", sync_id=8, max_length=1472, group="224.0.0.81", port=8848, ttl=1)
BACKUP = dataclasses.replace(MASTER, role="backup")
BOTH = [MASTER, BACKUP]


def table(web=(RS11, RS12), mark=tuple(MARK_POOL), v6=tuple(V6_POOL), services=(WEB, MARK, V6)):
    pools = {WEB.key: web, MARK.key: mark, V6.key: v6}
    return make_table((service, pools[service.key]) for service in services)


def nobody(_service: Service) -> bool:
    return False


def template(client, real_server, *, virtual=VIP, port=80, server_port=80, protocol="tcp", expires=500, **extra):
    """A persistence template as ipvs_info (and _conntable.split_templates) gives it."""
    return dict({"protocol": protocol, "client": client, "virtual": virtual, "virtual_port": port, "real_server": real_server,
                 "real_server_port": server_port, "state": "NONE", "expires": expires}, **extra)


def fwmark_template(client, real_server, **kwargs):
    return template(client, real_server, virtual="0.0.0.8", port=0, server_port=0, protocol="ip", fwmark=8, **kwargs)


# Another valid value for each field besides identity (and weight): a field added to the model must be added here.
OTHER_SERVICE_VALUES = {"scheduler": "wlc", "scheduler_flags": ("flag-1",), "persistence_timeout": 900, "persistence_granularity": 24,
                        "persistence_engine": "sip", "one_packet": True}
OTHER_SERVER_VALUES = {"forwarding": "tunnel", "upper_threshold": 50, "lower_threshold": 10, "tunnel_type": "gue", "tunnel_port": 6080,
                       "tunnel_checksum": "remcsum"}


def test_every_field_besides_the_identity_is_compared_and_named():
    identity = {"family", "protocol", "address", "port", "fwmark"}
    assert set(OTHER_SERVICE_VALUES) == {field.name for field in dataclasses.fields(Service)} - identity == set(SERVICE_FIELDS)
    assert set(OTHER_SERVER_VALUES) == {field.name for field in dataclasses.fields(RealServer)} - {"address", "port", "weight"} == set(SERVER_FIELDS)
    for name, value in OTHER_SERVICE_VALUES.items():
        other = dataclasses.replace(WEB, **{name: value})
        peer = make_table([(other, (RS11, RS12))] + [entry for key, entry in table().items() if key != WEB.key])
        differences, _weights = compare_tables(table(), peer, nobody)
        assert len(differences) == 1 and f": {name} is " in differences[0], (name, differences)
    for name, value in OTHER_SERVER_VALUES.items():
        differences, _weights = compare_tables(table(), table(web=(dataclasses.replace(RS11, **{name: value}), RS12)), nobody)
        assert len(differences) == 1 and f"real server 192.0.2.11:80: {name} is " in differences[0], (name, differences)


# ---------------------------------------------------------------------------------------------- tables


def test_equal_tables_have_no_difference():
    assert compare_tables(table(), table(), nobody) == ([], [])
    # Order does not matter: the tables are compared by identity.
    reversed_table = make_table(reversed([(service, list(reversed(servers))) for service, servers in table().values()]))
    assert compare_tables(table(), reversed_table, nobody) == ([], [])


@pytest.mark.parametrize("here, peer, sentences", [
    (table(), table(services=(WEB, V6)), ["service -f 8 is here but not on the peer"]),
    (table(services=(WEB,)), table(services=(WEB, V6)), ["service -u [2001:db8::1]:53 is on the peer but not here"]),
    (table(), make_table([(dataclasses.replace(WEB, scheduler="wlc"), [RS11, RS12]), (MARK, MARK_POOL), (V6, V6_POOL)]),
     ["service -t 198.51.100.1:80: scheduler is rr here, wlc on the peer"]),
    (table(), make_table([(dataclasses.replace(WEB, persistence_timeout=300, persistence_granularity=24), [RS11, RS12]), (MARK, MARK_POOL),
                          (V6, V6_POOL)]),
     ["service -t 198.51.100.1:80: persistence_timeout is 600 here, 300 on the peer",
      "service -t 198.51.100.1:80: persistence_granularity is 32 here, 24 on the peer"]),
    (table(), make_table([(WEB, [RS11, RS12]), (dataclasses.replace(MARK, scheduler="sh", scheduler_flags=("sh-port",)), MARK_POOL),
                          (V6, V6_POOL)]),
     ["service -f 8: scheduler is wlc here, sh on the peer", "service -f 8: scheduler_flags is none here, sh-port on the peer"]),
    (table(), table(web=(RS11,)), ["service -t 198.51.100.1:80: real server 192.0.2.12:80 is here but not on the peer"]),
    (table(web=(RS11,)), table(), ["service -t 198.51.100.1:80: real server 192.0.2.12:80 is on the peer but not here"]),
    (table(), table(web=(RS11, dataclasses.replace(RS12, weight=0))),
     ["service -t 198.51.100.1:80: real server 192.0.2.12:80: weight is 3 here, 0 on the peer"]),
    (table(), table(web=(RS11, dataclasses.replace(RS12, upper_threshold=100, lower_threshold=10))),
     ["service -t 198.51.100.1:80: real server 192.0.2.12:80: upper_threshold is 0 here, 100 on the peer",
      "service -t 198.51.100.1:80: real server 192.0.2.12:80: lower_threshold is 0 here, 10 on the peer"]),
    (table(), table(mark=(MARK_POOL[0], dataclasses.replace(MARK_POOL[1], forwarding="tunnel", tunnel_type="ipip"))),
     ["service -f 8: real server 192.0.2.12:0: forwarding is nat here, tunnel on the peer",
      "service -f 8: real server 192.0.2.12:0: tunnel_type is unset here, ipip on the peer"]),
    (table(), table(v6=(RealServer("2001:db8:1::12", 53),)),
     ["service -u [2001:db8::1]:53: real server [2001:db8:1::11]:53 is here but not on the peer",
      "service -u [2001:db8::1]:53: real server [2001:db8:1::12]:53 is on the peer but not here"]),
])
def test_each_difference_is_one_sentence_naming_service_real_server_field_and_values(here, peer, sentences):
    assert compare_tables(here, peer, nobody) == (sentences, [])


def test_differences_come_in_ipvsadm_order():
    here = table(web=(RS11,), v6=())
    differences, _weights = compare_tables(here, table(), nobody)
    assert differences == ["service -t 198.51.100.1:80: real server 192.0.2.12:80 is on the peer but not here",
                           "service -u [2001:db8::1]:53: real server [2001:db8:1::11]:53 is on the peer but not here"]


def test_the_weights_of_health_checked_services_are_reported_apart():
    quiesced = table(web=(RS11, dataclasses.replace(RS12, weight=0)), mark=(dataclasses.replace(MARK_POOL[0], weight=0), MARK_POOL[1]))
    differences, weights = compare_tables(table(), quiesced, lambda service: service.key == WEB.key)
    assert weights == [{"service": "-t 198.51.100.1:80", "server": "192.0.2.12:80", "here": 3, "peer": 0}]
    # The fwmark service is not health-checked: its weight is a difference.
    assert differences == ["service -f 8: real server 192.0.2.11:0: weight is 1 here, 0 on the peer"]


def test_a_health_checked_service_still_differs_in_structure():
    other = table(web=(RS11, dataclasses.replace(RS12, weight=0, forwarding="nat")))
    differences, weights = compare_tables(table(), other, lambda service: True)
    assert differences == ["service -t 198.51.100.1:80: real server 192.0.2.12:80: forwarding is dr here, nat on the peer"]
    assert weights == [{"service": "-t 198.51.100.1:80", "server": "192.0.2.12:80", "here": 3, "peer": 0}]
    # A real server keepalived removed (on_failure remove) is a real server less: a failover would drop its templates.
    assert compare_tables(table(), table(web=(RS11,)), lambda service: True)[0] == [
        "service -t 198.51.100.1:80: real server 192.0.2.12:80 is here but not on the peer"]


# ---------------------------------------------------------------------------------------------- sync daemons


def test_daemons_both_ways():
    assert compare_daemons(BOTH, BOTH) == []


@pytest.mark.parametrize("here, peer, sentences", [
    ([BACKUP], BOTH, ["sync daemons: no master sync daemon runs here, so the templates made here do not reach the peer"]),
    (BOTH, [MASTER], ["sync daemons: no backup sync daemon runs on the peer, so the templates made here do not reach the peer"]),
    ([MASTER], [BACKUP], ["sync daemons: no master sync daemon runs on the peer, so the templates made on the peer do not reach this director",
                          "sync daemons: no backup sync daemon runs here, so the templates made on the peer do not reach this director"]),
    ([], [], ["sync daemons: no master sync daemon runs here, so the templates made here do not reach the peer",
              "sync daemons: no backup sync daemon runs on the peer, so the templates made here do not reach the peer",
              "sync daemons: no master sync daemon runs on the peer, so the templates made on the peer do not reach this director",
              "sync daemons: no backup sync daemon runs here, so the templates made on the peer do not reach this director"]),
    ([dataclasses.replace(MASTER, sync_id=9), BACKUP], BOTH,
     ["sync daemons: the master here sends sync id 9, the backup on the peer takes sync id 8 only, so the templates made here do not reach the peer"]),
    (BOTH, [MASTER, dataclasses.replace(BACKUP, group="224.0.0.82", port=8849)],
     ["sync daemons: the master here sends to group 224.0.0.81, the backup on the peer listens on group 224.0.0.82, "
      "so the templates made here do not reach the peer",
      "sync daemons: the master here sends to port 8848, the backup on the peer listens on port 8849, so the templates made here do not reach the peer"]),
])
def test_daemons_that_do_not_sync_both_ways(here, peer, sentences):
    assert compare_daemons(here, peer) == sentences


def test_a_backup_with_sync_id_0_takes_every_sync_id_and_what_an_old_kernel_does_not_report_cannot_differ():
    backup_any = dataclasses.replace(BACKUP, sync_id=0)
    old_kernel = SyncDaemon("backup", "ha0", sync_id=8)
    assert compare_daemons([MASTER, backup_any], [MASTER, old_kernel]) == []
    # The interface names, message lengths and TTLs of the two directors need not be the same.
    assert compare_daemons(BOTH, [dataclasses.replace(MASTER, interface="eth1", max_length=1400, ttl=2), BACKUP]) == []


# ---------------------------------------------------------------------------------------------- templates


def side(templates, daemons=None, tables=None):
    return Side(tables or table(), templates, BOTH if daemons is None else daemons)


def test_equal_templates():
    templates = [template("203.0.113.10", "192.0.2.11"), fwmark_template("203.0.113.10", "192.0.2.12")]
    result = compare(side(templates), side(list(reversed(templates))), nobody)
    assert result["parity"] is True and result["templates_ok"] is True and result["differences"] == []
    assert result["templates"] == {"compared": True, "here": 2, "peer": 2, "missing_here": 0, "missing_on_peer": 0, "conflicts": 0, "samples": []}


def test_a_template_of_the_peer_missing_here_breaks_parity_and_is_sampled():
    peer = [template("203.0.113.10", "192.0.2.11"), fwmark_template("203.0.113.11", "192.0.2.12")]
    result = compare(side(peer[:1]), side(peer), nobody)
    assert result["parity"] is False and result["templates_ok"] is False and result["table_equal"] is True
    # differences speaks of the tables and the sync daemons only (the playbooks read it so): the templates speak in `templates`.
    assert result["differences"] == []
    assert result["templates"]["missing_here"] == 1 and result["templates"]["missing_on_peer"] == 0
    assert result["templates"]["samples"] == ["template IP 203.0.113.11 -> fwmark 8: real server 192.0.2.12:0 on the peer, missing here"]


def test_a_template_here_missing_on_the_peer_is_counted_only():
    result = compare(side([template("203.0.113.10", "192.0.2.11")]), side([]), nobody)
    assert result["parity"] is True and result["templates_ok"] is True
    assert result["templates"]["missing_on_peer"] == 1 and result["templates"]["samples"] == []


def test_a_template_pinning_its_client_elsewhere_is_a_conflict():
    result = compare(side([template("203.0.113.10", "192.0.2.12")]), side([template("203.0.113.10", "192.0.2.11")]), nobody)
    assert result["parity"] is False and result["templates_ok"] is False and result["differences"] == []
    assert result["templates"]["conflicts"] == 1 and result["templates"]["missing_here"] == 0
    assert result["templates"]["samples"] == ["template TCP 203.0.113.10 -> 198.51.100.1:80: real server 192.0.2.12:80 here, 192.0.2.11:80 on the peer"]


def test_conflicts_come_first_in_the_samples():
    here = [template("203.0.113.10", "192.0.2.12")]
    peer = [template("203.0.113.10", "192.0.2.11"), template("203.0.113.9", "192.0.2.11")]
    assert compare(side(here), side(peer), nobody)["templates"]["samples"] == [
        "template TCP 203.0.113.10 -> 198.51.100.1:80: real server 192.0.2.12:80 here, 192.0.2.11:80 on the peer",
        "template TCP 203.0.113.9 -> 198.51.100.1:80: real server 192.0.2.11:80 on the peer, missing here"]


def test_templates_that_cannot_move_a_client_are_not_counted():
    peer = [
        # of a service only the peer has: the table difference says it
        template("203.0.113.10", "192.0.2.11", port=443, server_port=443),
        # invalidated by ip_vs_check_template(): pins nobody
        template("203.0.113.11", "192.0.2.11", port=0xFFFF, server_port=0xFFFF),
        # about to expire: may be gone by the time this director is read
        template("203.0.113.12", "192.0.2.11", expires=EXPIRING),
    ]
    result = compare(side([]), side(peer), nobody)
    assert result["templates_ok"] is True and result["templates"]["missing_here"] == 0 and result["templates"]["peer"] == 3
    # The same the other way round: here's template about to expire is not reported missing on the peer.
    assert compare(side([template("203.0.113.12", "192.0.2.11", expires=EXPIRING)]), side([]), nobody)["templates"]["missing_on_peer"] == 0


def test_a_template_about_to_expire_on_one_side_still_counts_as_there_for_the_other():
    soon = template("203.0.113.10", "192.0.2.11", expires=3)
    assert compare(side([soon]), side([template("203.0.113.10", "192.0.2.11")]), nobody)["templates"]["missing_here"] == 0
    assert compare(side([template("203.0.113.10", "192.0.2.11")]), side([soon]), nobody)["templates"]["missing_on_peer"] == 0


def test_templates_of_port_zero_and_ftp_services():
    pcc = Service(family="ipv4", protocol="tcp", address=VIP, port=0, persistence_timeout=600, persistence_granularity=32)
    ftp = Service(family="ipv4", protocol="tcp", address="198.51.100.2", port=21, persistence_timeout=600, persistence_granularity=32)
    tables = make_table([(pcc, [RealServer("192.0.2.11", 0, forwarding="nat")]), (ftp, [RealServer("192.0.2.11", 21)])])
    peer = [template("203.0.113.10", "192.0.2.11", port=0, server_port=0),
            template("203.0.113.10", "192.0.2.11", virtual="198.51.100.2", port=0, server_port=0)]
    result = compare(side([], tables=tables), side(peer, tables=tables), nobody)
    assert result["templates"]["missing_here"] == 2


def test_samples_are_bounded():
    peer = [template(f"203.0.113.{index}", "192.0.2.11") for index in range(1, 30)]
    result = compare(side([]), side(peer), nobody)
    assert result["templates"]["missing_here"] == 29 and len(result["templates"]["samples"]) == SAMPLES


def test_without_the_peers_templates_they_are_not_compared():
    result = compare(side(None), side(None), nobody)
    assert result["templates"] == {"compared": False, "here": None, "peer": None, "missing_here": 0, "missing_on_peer": 0, "conflicts": 0,
                                   "samples": []}
    assert result["templates_ok"] is True and result["parity"] is True


# ---------------------------------------------------------------------------------------------- the verdict


def test_parity_is_each_part_and_differences_are_the_tables_and_the_daemons():
    result = compare(side([]), Side(table(web=(RS11,)), [], [MASTER]), nobody)
    assert result["changed"] is False and result["parity"] is False
    assert result["table_equal"] is False and result["templates_ok"] is True and result["sync_daemons"]["both_ways"] is False
    assert result["differences"] == ["service -t 198.51.100.1:80: real server 192.0.2.12:80 is here but not on the peer",
                                     "sync daemons: no backup sync daemon runs on the peer, so the templates made here do not reach the peer"]
    assert result["sync_daemons"]["here"] == [daemon.options() for daemon in BOTH] and result["sync_daemons"]["peer"] == [MASTER.options()]
    assert result["runtime_weights"] == []


@pytest.mark.parametrize("here, peer", [
    (side([]), side([])),
    (side([]), side([template("203.0.113.10", "192.0.2.11")])),
    (side([template("203.0.113.10", "192.0.2.12")]), side([template("203.0.113.10", "192.0.2.11")])),
    (side([]), Side(table(web=(RS11,)), [], BOTH)),
    (side([]), side([], daemons=[BACKUP])),
    (Side(table(services=(WEB,)), [], [MASTER]), side([template("203.0.113.10", "192.0.2.11")])),
])
def test_the_parts_agree(here, peer):
    # What the playbooks rely on: differences is empty exactly when table_equal and both_ways; samples exactly when templates_ok.
    result = compare(here, peer, nobody)
    assert (result["differences"] == []) == (result["table_equal"] and result["sync_daemons"]["both_ways"])
    assert (result["templates"]["samples"] == []) == result["templates_ok"]
    assert result["parity"] == (result["table_equal"] and result["sync_daemons"]["both_ways"] and result["templates_ok"])
