# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Argument specs, written once, each module's with its cross-option rules.

Convention: `<module>_spec()` returns the keyword arguments of both AnsibleModule and Ansible's
ArgumentSpecValidator: `argument_spec` and, where the module has any, `mutually_exclusive`,
`required_if`, `required_together`. A module's main() is `AnsibleModule(supports_check_mode=True,
**<module>_spec())`; the unit tests validate with `ArgumentSpecValidator(**<module>_spec())`.
Choices and defaults come from the field tables (_fields); ranges and the cross-option rules that
need the values' meaning (a tunnel option without forwarding tunnel...) are checked by _model, so
that every module reports them alike. The building blocks (a service key, a service's options, a
real server's options) are shared by ipvs_service, ipvs_real_server and ipvs_table.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._fields import (
    DEFAULT_GROUP,
    DEFAULT_SCHEDULER,
    DEFAULT_SYNC_PORT,
    DEFAULT_TTL,
    FAMILIES,
    PERSISTENCE_ENGINES,
    PROTOCOLS,
    SCHEDULERS,
    SYNC_ROLES,
    SYNC_STATES,
    TUNNEL_CHECKSUMS,
    TUNNEL_TYPES,
    names,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._health import CHECK_TYPES, DEFAULTS as CHECK_DEFAULTS, FAILURE_ACTIONS
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import BACKENDS, DEFAULT_TABLE, RULE_KEYS
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import PROTOCOLS as FWMARK_PROTOCOLS
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import STATES as FWMARK_STATES
from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import HEALTH_CHECK_DIR
from ansible_collections.lvs.ipvs.plugins.module_utils._model import FORWARDING_ALIASES, SCHEDULER_FLAGS

Spec = t.Dict[str, t.Any]


def netns_spec() -> Spec:
    return {"netns": {"type": "str"}}


def service_key_spec() -> Spec:
    return {
        "protocol": {"type": "str", "choices": list(names(PROTOCOLS))},
        "address": {"type": "str"},
        "port": {"type": "int"},
        "fwmark": {"type": "int"},
        "family": {"type": "str", "choices": list(names(FAMILIES))},
    }


def service_options_spec() -> Spec:
    return {
        "scheduler": {"type": "str", "default": DEFAULT_SCHEDULER, "choices": list(SCHEDULERS)},
        "scheduler_flags": {"type": "list", "elements": "str", "default": [], "choices": list(SCHEDULER_FLAGS)},
        "persistence_timeout": {"type": "int"},
        "persistence_granularity": {"type": "str"},
        "persistence_engine": {"type": "str", "choices": list(PERSISTENCE_ENGINES)},
        "one_packet": {"type": "bool", "default": False},
    }


def real_server_options_spec() -> Spec:
    """A real server's own options (without its service key): ipvs_real_server and the real_servers lists."""
    return {
        "server": {"type": "str", "required": True},
        "server_port": {"type": "int"},
        "forwarding": {"type": "str", "default": "dr", "choices": list(FORWARDING_ALIASES)},
        "weight": {"type": "int", "default": 1},
        "upper_threshold": {"type": "int", "default": 0},
        "lower_threshold": {"type": "int", "default": 0},
        "tunnel_type": {"type": "str", "choices": list(names(TUNNEL_TYPES))},
        "tunnel_port": {"type": "int"},
        "tunnel_checksum": {"type": "str", "choices": list(names(TUNNEL_CHECKSUMS))},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent", "drained"]},
    }


def health_check_spec() -> Spec:
    """The `health_check` of an ipvs_table entry (ranges and which options go with which type: _health)."""
    return {
        "type": {"type": "str", "required": True, "choices": list(CHECK_TYPES)},
        "port": {"type": "int"},
        "path": {"type": "str"},
        "status": {"type": "list", "elements": "int"},
        "digest": {"type": "str"},
        "text": {"type": "str"},
        "virtualhost": {"type": "str"},
        "command": {"type": "str"},
        "interval": {"type": "int", "default": CHECK_DEFAULTS["interval"]},
        "timeout": {"type": "int", "default": CHECK_DEFAULTS["timeout"]},
        "retries": {"type": "int", "default": CHECK_DEFAULTS["retries"]},
        "retry_delay": {"type": "int", "default": CHECK_DEFAULTS["retry_delay"]},
        "on_failure": {"type": "str", "default": CHECK_DEFAULTS["on_failure"], "choices": list(FAILURE_ACTIONS)},
        "alpha": {"type": "bool", "default": CHECK_DEFAULTS["alpha"]},
        "sorry_server": {"type": "str"},
        "quorum": {"type": "int", "default": CHECK_DEFAULTS["quorum"]},
        "hysteresis": {"type": "int", "default": CHECK_DEFAULTS["hysteresis"]},
    }


def table_service_spec() -> Spec:
    """One entry of ipvs_table's `config`: a service in the options of ipvs_service, with its real_servers and health_check."""
    spec = dict(service_key_spec(), **service_options_spec())
    spec["real_servers"] = {"type": "list", "elements": "dict", "options": real_server_options_spec()}
    spec["health_check"] = {"type": "dict", "options": health_check_spec()}
    return spec


def restrict_spec() -> Spec:
    """One entry of ipvs_table's `restrict`: which services the task owns."""
    return {
        "addresses": {"type": "list", "elements": "str"},
        "protocols": {"type": "list", "elements": "str", "choices": list(names(PROTOCOLS))},
        "ports": {"type": "list", "elements": "int"},
        "fwmarks": {"type": "list", "elements": "int"},
        "families": {"type": "list", "elements": "str", "choices": list(names(FAMILIES))},
    }


def fwmark_rule_options_spec() -> Spec:
    """One rule of fwmark_rule: its top-level options, or an entry of `rules`."""
    return {
        "name": {"type": "str"},
        "mark": {"type": "int"},
        "destination": {"type": "str"},
        "protocol": {"type": "str", "choices": list(FWMARK_PROTOCOLS), "default": "tcp"},
        "ports": {"type": "list", "elements": "str"},
        "source": {"type": "str"},
        "local": {"type": "bool", "default": False},
    }


# ------------------------------------------------------------------ one function a module: AnsibleModule(supports_check_mode=True, **spec)


def ipvs_service_spec() -> Spec:
    options = dict(service_key_spec(), **service_options_spec(), **netns_spec())
    options["state"] = {"type": "str", "default": "present", "choices": ["present", "absent"]}
    options["real_servers"] = {"type": "list", "elements": "dict", "options": real_server_options_spec()}
    options["purge_real_servers"] = {"type": "bool", "default": False}
    return {"argument_spec": options}


def ipvs_real_server_spec() -> Spec:
    options = dict(service_key_spec(), **real_server_options_spec(), **netns_spec())
    options["wait_drained"] = {"type": "bool", "default": False}
    options["drain_timeout"] = {"type": "int", "default": 300}
    options["drain_poll_interval"] = {"type": "float", "default": 2.0}
    return {"argument_spec": options}


def ipvs_timeouts_spec() -> Spec:
    return {"argument_spec": dict({"tcp": {"type": "int"}, "tcpfin": {"type": "int"}, "udp": {"type": "int"}}, **netns_spec())}


def ipvs_info_spec() -> Spec:
    return {"argument_spec": dict({"connections": {"type": "bool", "default": True}}, **netns_spec())}


def ipvs_parity_spec() -> Spec:
    """`peer` is an ipvs_info answer, checked by _parity_task (its services as ipvs_table checks its config)."""
    options = {
        "peer": {"type": "dict", "required": True},
        "health_check_dir": {"type": "path", "default": HEALTH_CHECK_DIR},
        # Entries of restrict_spec(), checked by _parity_task (the documentation points to ipvs_table's restrict).
        "health_checked": {"type": "list", "elements": "dict", "default": []},
    }
    options.update(netns_spec())
    return {"argument_spec": options}


def ipvs_table_spec() -> Spec:
    """`config` entries follow table_service_spec(), checked entry by entry by _table_task (see there why not here)."""
    options = {
        "config": {"type": "list", "elements": "dict"},
        "state": {"type": "str", "default": "merged", "choices": ["merged", "replaced", "overridden", "deleted", "gathered", "rendered", "parsed"]},
        "running_config": {"type": "str"},
        "restrict": {"type": "list", "elements": "dict", "options": restrict_spec()},
        "before_after": {"type": "str", "default": "all", "choices": ["all", "changed", "none"]},
    }
    options.update(netns_spec())
    return {
        "argument_spec": options,
        "required_if": [
            ("state", "merged", ["config"]),
            ("state", "replaced", ["config"]),
            ("state", "overridden", ["config"]),
            ("state", "rendered", ["config"]),
            ("state", "parsed", ["running_config"]),
        ],
        "mutually_exclusive": [("config", "running_config")],
    }


def ipvs_sync_daemon_spec() -> Spec:
    options = {
        "role": {"type": "str", "required": True, "choices": list(SYNC_ROLES)},
        "state": {"type": "str", "default": "started", "choices": list(SYNC_STATES)},
        "interface": {"type": "str"},
        "sync_id": {"type": "int", "default": 0},
        "max_length": {"type": "int"},
        "group": {"type": "str", "default": DEFAULT_GROUP},
        "port": {"type": "int", "default": DEFAULT_SYNC_PORT},
        "ttl": {"type": "int", "default": DEFAULT_TTL},
    }
    options.update(netns_spec())
    return {"argument_spec": options, "required_if": [("state", "started", ("interface",))]}


def fwmark_rule_spec() -> Spec:
    options = dict(
        fwmark_rule_options_spec(),
        rules={"type": "list", "elements": "dict", "options": fwmark_rule_options_spec()},
        purge={"type": "bool", "default": False},
        state={"type": "str", "choices": list(FWMARK_STATES), "default": "present"},
        backend={"type": "str", "choices": list(BACKENDS), "default": "auto"},
        table={"type": "str", "default": DEFAULT_TABLE},
    )
    return {"argument_spec": options, "mutually_exclusive": [["rules", key] for key in RULE_KEYS]}
