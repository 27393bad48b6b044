# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Argument specs, written once: a service key, a service's options, a real server's options.

ipvs_service, ipvs_real_server and (later) ipvs_table use the same names for the same things.
Ranges and cross-option rules are checked by _model, so that every module reports them alike.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._model import FORWARDING_ALIASES, PERSISTENCE_ENGINES, SCHEDULER_FLAGS, SCHEDULERS


def netns_spec() -> t.Dict[str, t.Any]:
    return {"netns": {"type": "str"}}


def service_key_spec() -> t.Dict[str, t.Any]:
    return {
        "protocol": {"type": "str", "choices": ["tcp", "udp", "sctp"]},
        "address": {"type": "str"},
        "port": {"type": "int"},
        "fwmark": {"type": "int"},
        "family": {"type": "str", "choices": ["ipv4", "ipv6"]},
    }


def service_options_spec() -> t.Dict[str, t.Any]:
    return {
        "scheduler": {"type": "str", "default": "wlc", "choices": list(SCHEDULERS)},
        "scheduler_flags": {"type": "list", "elements": "str", "default": [], "choices": list(SCHEDULER_FLAGS)},
        "persistence_timeout": {"type": "int"},
        "persistence_granularity": {"type": "str"},
        "persistence_engine": {"type": "str", "choices": list(PERSISTENCE_ENGINES)},
        "one_packet": {"type": "bool", "default": False},
    }


def real_server_options_spec() -> t.Dict[str, t.Any]:
    """A real server's own options (without its service key): ipvs_real_server and the real_servers lists."""
    return {
        "server": {"type": "str", "required": True},
        "server_port": {"type": "int"},
        "forwarding": {"type": "str", "default": "dr", "choices": list(FORWARDING_ALIASES)},
        "weight": {"type": "int", "default": 1},
        "upper_threshold": {"type": "int", "default": 0},
        "lower_threshold": {"type": "int", "default": 0},
        "tunnel_type": {"type": "str", "choices": ["ipip", "gue", "gre"]},
        "tunnel_port": {"type": "int"},
        "tunnel_checksum": {"type": "str", "choices": ["nocsum", "csum", "remcsum"]},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent", "drained"]},
    }


def service_module_spec() -> t.Dict[str, t.Any]:
    spec = dict(service_key_spec(), **service_options_spec(), **netns_spec())
    spec["state"] = {"type": "str", "default": "present", "choices": ["present", "absent"]}
    spec["real_servers"] = {"type": "list", "elements": "dict", "options": real_server_options_spec()}
    spec["purge_real_servers"] = {"type": "bool", "default": False}
    return spec


def real_server_module_spec() -> t.Dict[str, t.Any]:
    spec = dict(service_key_spec(), **real_server_options_spec(), **netns_spec())
    spec["wait_drained"] = {"type": "bool", "default": False}
    spec["drain_timeout"] = {"type": "int", "default": 300}
    spec["drain_poll_interval"] = {"type": "float", "default": 2.0}
    return spec


def timeouts_module_spec() -> t.Dict[str, t.Any]:
    return dict({"tcp": {"type": "int"}, "tcpfin": {"type": "int"}, "udp": {"type": "int"}}, **netns_spec())


def info_module_spec() -> t.Dict[str, t.Any]:
    return dict({"connections": {"type": "bool", "default": True}}, **netns_spec())


def table_service_spec() -> t.Dict[str, t.Any]:
    """One entry of ipvs_table's `config`: a service in the options of ipvs_service, with its real_servers."""
    spec = dict(service_key_spec(), **service_options_spec())
    spec["real_servers"] = {"type": "list", "elements": "dict", "options": real_server_options_spec()}
    return spec


def restrict_spec() -> t.Dict[str, t.Any]:
    """One entry of ipvs_table's `restrict`: which services the task owns."""
    return {
        "addresses": {"type": "list", "elements": "str"},
        "protocols": {"type": "list", "elements": "str", "choices": ["tcp", "udp", "sctp"]},
        "ports": {"type": "list", "elements": "int"},
        "fwmarks": {"type": "list", "elements": "int"},
        "families": {"type": "list", "elements": "str", "choices": ["ipv4", "ipv6"]},
    }


def table_module_spec() -> t.Dict[str, t.Any]:
    """ipvs_table. `config` entries follow table_service_spec(), checked entry by entry by _table_task (see there why not here)."""
    spec = {
        "config": {"type": "list", "elements": "dict"},
        "state": {"type": "str", "default": "merged", "choices": ["merged", "replaced", "overridden", "deleted", "gathered", "rendered", "parsed"]},
        "running_config": {"type": "str"},
        "restrict": {"type": "list", "elements": "dict", "options": restrict_spec()},
        "before_after": {"type": "str", "default": "all", "choices": ["all", "changed", "none"]},
    }
    spec.update(netns_spec())
    return spec
