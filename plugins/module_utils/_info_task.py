# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_info: the table with statistics, connections and templates, timeouts, sync daemons (the engine's reader, no lock)."""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils import _conntable
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import Result, read_table, real_server_result, run, service_result
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import Kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._model import service_sort_key
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import SyncDaemon

_COUNTS = {"active_conns": "active_connections", "inact_conns": "inactive_connections", "persist_conns": "persistent_connections"}
# What ipvs_info adds to a service and to a real server besides their options (the rest can be fed back to the modules).
SERVICE_COUNTERS = ("stats",)
REAL_SERVER_COUNTERS = tuple(_COUNTS.values()) + ("stats",)


def _services(kernel: Kernel) -> t.List[t.Dict[str, t.Any]]:
    counters: t.Dict[t.Tuple[t.Any, ...], t.Any] = {}
    table = read_table(kernel, counters=counters)
    items = []
    for key, (service, servers) in sorted(table.items(), key=lambda entry: service_sort_key(entry[1][0])):
        service_counters, server_counters = counters[key]
        item = t.cast(t.Dict[str, t.Any], service_result(service))
        item["stats"] = (service_counters or {}).get("stats") or {}
        entries = []
        for real_server in servers:
            server = t.cast(t.Dict[str, t.Any], real_server_result(real_server))
            found = server_counters.get(real_server.key) or {}
            for kernel_name, name in _COUNTS.items():
                server[name] = found.get(kernel_name, 0)
            server["stats"] = found.get("stats") or {}
            entries.append(server)
        item["real_servers"] = sorted(entries, key=lambda s: (s["server"], s["server_port"]))
        items.append(item)
    return items


def run_info(module: AnsibleModule) -> None:
    def work(kernel: Kernel) -> Result:
        info = kernel.info()
        result: Result = {
            "changed": False,
            "version": info["version"],
            "connection_table_size": info["conn_tab_size"],
            "services": _services(kernel),
            "timeouts": kernel.timeouts(),
            # In ipvs_sync_daemon's option names, so an entry can be fed back to it.
            "sync_daemons": [SyncDaemon.from_kernel(daemon).options() for daemon in kernel.daemons()],
        }
        if module.params["connections"]:
            result["connections"], result["templates"] = _conntable.split_templates(kernel.connections())
        return result

    run(module, lambda: work, lock=False)
