# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health-checked services as ipvs_table config entries, one of each kind: the unit tests check their keepalived text word
for word (test_keepalived.py), and keepalived itself reads it in the lab (tests/integration/test_keepalived_config.py)."""

from __future__ import annotations

import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._health import HealthCheck
from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import declare

VIP = "198.51.100.1"

# Samples as ipvs_table config entries (the way users write them), each valid: the text below and keepalived --config-test
# (tests/integration/test_keepalived_config.py) read the same.
KEEPALIVED_SAMPLES: t.Dict[str, t.Dict[str, t.Any]] = {
    "ipv4-http-sorry-quorum": {
        "protocol": "tcp", "address": VIP, "port": 80, "scheduler": "sh", "scheduler_flags": ["sh-port", "sh-fallback"], "persistence_timeout": 600,
        "persistence_granularity": "255.255.255.0",
        "real_servers": [{"server": "192.0.2.12"}, {"server": "192.0.2.11", "weight": 2, "upper_threshold": 100, "lower_threshold": 10},
                         {"server": "192.0.2.13", "state": "drained"}],
        "health_check": {"type": "http", "path": "/health#x!y", "status": [204, 200], "digest": "9b3a0c85a887a256d6939da88aabd8cd",
                         "text": 'ok "x" \\ [a]$ #!', "virtualhost": "www.example.com", "sorry_server": "192.0.2.99", "quorum": 2, "hysteresis": 1,
                         "interval": 2, "timeout": 1, "retries": 1, "retry_delay": 1},
    },
    "ipv6-https-nat": {
        "protocol": "tcp", "address": "2001:db8::1", "port": 443, "scheduler": "mh", "scheduler_flags": ["mh-fallback", "mh-port"],
        "persistence_timeout": 300, "persistence_granularity": "64",
        "real_servers": [{"server": "2001:db8:1::11", "forwarding": "nat", "server_port": 8443}],
        "health_check": {"type": "https", "virtualhost": "www.example.com", "sorry_server": "[2001:db8::99]:8443", "alpha": True},
    },
    "fwmark-tcp-tunnel-remove": {
        "fwmark": 8, "scheduler": "rr", "persistence_timeout": 60,
        "real_servers": [{"server": "192.0.2.11", "forwarding": "tunnel", "tunnel_type": "gue", "tunnel_port": 6080, "tunnel_checksum": "csum"},
                         {"server": "192.0.2.12", "forwarding": "tunnel"}, {"server": "192.0.2.13", "forwarding": "tunnel", "tunnel_type": "gre"},
                         {"server": "192.0.2.14", "forwarding": "nat", "server_port": 8080}],
        "health_check": {"type": "tcp", "port": 80, "on_failure": "remove", "sorry_server": "192.0.2.99"},
    },
    "fwmark-ipv6-command": {
        "fwmark": 9, "family": "ipv6", "persistence_timeout": 60, "persistence_granularity": "64",
        "real_servers": [{"server": "2001:db8:1::11"}],
        "health_check": {"type": "command", "command": "/bin/sh -c 'exit 0' \\x #y", "timeout": 10, "retries": 0},
    },
    "udp-ops-flags-sip": {
        "protocol": "udp", "address": "198.51.100.2", "port": 5060, "one_packet": True, "scheduler": "wrr", "scheduler_flags": ["flag-1", "flag-3"],
        "persistence_timeout": 30, "persistence_engine": "sip",
        "real_servers": [{"server": "192.0.2.11", "state": "drained"}, {"server": "192.0.2.12"}],
        "health_check": {"type": "tcp", "interval": 86400, "timeout": 3600, "retries": 100, "retry_delay": 3600, "quorum": 1},
    },
    "pcc-sctp": {
        "protocol": "sctp", "address": "198.51.100.3", "port": 0, "persistence_timeout": 300,
        "real_servers": [{"server": "192.0.2.11"}],
        "health_check": {"type": "tcp", "port": 22},
    },
}


def entries(config: t.Sequence[t.Dict[str, t.Any]]) -> t.List[t.Tuple[Service, t.List[RealServer], HealthCheck]]:
    """The config validated as ipvs_table validates it (declare), as render_virtual_servers takes it."""
    return [(entry.service, entry.servers or [], t.cast(HealthCheck, entry.health)) for entry in declare(config)]
