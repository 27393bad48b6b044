# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The field tables and the one range check: messages, and agreement with the argument specs, parser and renderer."""

from __future__ import annotations

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _fields
from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import real_server_options_spec, table_service_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvsadm_parser import parse
from ansible_collections.lvs.ipvs.plugins.module_utils._model import real_servers_from_params, service_from_params
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render_service_table


@pytest.mark.parametrize("value, low, high, accepted, message", [
    (0, 1, 255, "1 to 255", "ttl: 0 is out of range; accepted: 1 to 255"),
    (256, 1, 255, None, "ttl: 256 is out of range; accepted: 1 to 255"),
    (True, 0, 255, "0 to 255", "ttl: True is not an integer; accepted: 0 to 255"),
    ("many", 0, 255, "0 to 255", "ttl: 'many' is not an integer; accepted: 0 to 255"),
    (2.5, 0, 255, "0 to 255", "ttl: 2.5 is not an integer; accepted: 0 to 255"),
    (-1, 0, None, None, "ttl: -1 is out of range; accepted: 0 or more"),
    (0.05, 0.1, 3600.0, "0.1 to 3600", "ttl: 0.05 is out of range; accepted: 0.1 to 3600"),
    ("x", 0.1, 3600.0, "0.1 to 3600", "ttl: 'x' is not a number; accepted: 0.1 to 3600"),
])
def test_in_range_refuses_in_one_shape(value, low, high, accepted, message):
    with pytest.raises(OptionError) as caught:
        _fields.in_range("ttl", value, low, high, accepted)
    assert str(caught.value) == message


@pytest.mark.parametrize("value, low, high, expected", [(" 80 ", 0, 65535, 80), (0, 0, 65535, 0), (65535, 0, 65535, 65535), (2, 0.1, 3600.0, 2),
                                                        (0.5, 0.1, 3600.0, 0.5), (10**9, 0, None, 10**9)])
def test_in_range_accepts_the_bounds_and_integer_text(value, low, high, expected):
    assert _fields.in_range("port", value, low, high) == expected


def test_every_switch_sets_an_option_of_the_argument_specs():
    options = set(table_service_spec()) | set(real_server_options_spec())
    assert {switch.option for switch in _fields.SWITCHES} <= options
    assert {field.option for field in (_fields.PORT, _fields.FWMARK, _fields.PERSISTENCE_TIMEOUT, _fields.SERVER_PORT, _fields.WEIGHT,
                                       _fields.UPPER_THRESHOLD, _fields.LOWER_THRESHOLD, _fields.TUNNEL_PORT)} <= options


def test_every_spelling_names_one_thing():
    spellings = [spelling for switch in _fields.SWITCHES for spelling in switch.spellings]
    spellings += [spelling for table in (_fields.PROTOCOLS, _fields.FAMILIES, _fields.FORWARDING, _fields.TUNNEL_CHECKSUMS)
                  for choice in table for spelling in choice.switches]
    spellings += [spelling for words in _fields.COMMANDS.values() for spelling in words]
    assert len(spellings) == len(set(spellings))


@pytest.mark.parametrize("spelling", [0, -1])
def test_every_switch_reads_back_what_it_renders(spelling):
    """A table using every switch, rendered with the short (0) spellings, parses back to the same model; the long ones (-1) too."""
    service = service_from_params({"protocol": "udp", "address": "198.51.100.1", "port": 5060, "scheduler": "sh", "scheduler_flags": ["sh-port"],
                                   "persistence_timeout": 60, "persistence_granularity": "24", "persistence_engine": "sip", "one_packet": True})
    servers, _absent = real_servers_from_params([
        {"server": "192.0.2.11", "forwarding": "nat", "server_port": 5061, "weight": 3, "upper_threshold": 9, "lower_threshold": 2},
        {"server": "192.0.2.12", "forwarding": "tunnel", "tunnel_type": "gue", "tunnel_port": 6080, "tunnel_checksum": "remcsum"},
    ], service)
    text = "\n".join(render_service_table([(service, servers)]))
    if spelling:
        long = {words[0]: words[-1] for words in [switch.spellings for switch in _fields.SWITCHES]
                + [choice.switches for table in (_fields.PROTOCOLS, _fields.FORWARDING, _fields.TUNNEL_CHECKSUMS) for choice in table]
                + list(_fields.COMMANDS.values())}
        text = "\n".join(" ".join(long.get(word, word) for word in line.split()) for line in text.splitlines())
        assert "--weight 3" in text and "--masquerading" in text and "--udp-service" in text
    [entry] = parse(text)
    parsed_service = service_from_params(entry)
    parsed_servers, _parsed_absent = real_servers_from_params(entry["real_servers"], parsed_service)
    assert (parsed_service, parsed_servers) == (service, servers)
