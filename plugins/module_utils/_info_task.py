# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_info: the table with statistics, connections and templates, timeouts, sync daemons."""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils import _conntable, _ipvs_client, _netns
from ansible_collections.lvs.ipvs.plugins.module_utils._model import real_server_from_kernel, service_from_kernel, service_sort_key
from ansible_collections.lvs.ipvs.plugins.module_utils._module import (
    NewTable,
    fail_on_errors,
    ipvs_session,
    real_server_result,
    require_pyroute2,
    service_result,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon_task import daemon_options

_COUNTS = {"active_conns": "active_connections", "inact_conns": "inactive_connections", "persist_conns": "persistent_connections"}


def _services(ipvs: _ipvs_client.IpvsClient) -> t.List[t.Dict[str, t.Any]]:
    entries = []
    for kernel_service in ipvs.services():
        service = service_from_kernel(kernel_service)
        item = t.cast(t.Dict[str, t.Any], service_result(service))
        item["stats"] = kernel_service.get("stats") or {}
        servers = []
        for kernel_dest in ipvs.dests(kernel_service):
            server = t.cast(t.Dict[str, t.Any], real_server_result(real_server_from_kernel(kernel_dest, service)))
            for kernel_name, name in _COUNTS.items():
                server[name] = kernel_dest.get(kernel_name, 0)
            server["stats"] = kernel_dest.get("stats") or {}
            servers.append(server)
        item["real_servers"] = sorted(servers, key=lambda s: (s["server"], s["server_port"]))
        entries.append((service_sort_key(service), item))
    return [entry[1] for entry in sorted(entries, key=lambda entry: entry[0])]


def run_info(module: AnsibleModule) -> None:
    def action() -> t.Dict[str, t.Any]:
        require_pyroute2(module)
        netns = module.params["netns"]
        with ipvs_session(netns, module) as ipvs:
            info = ipvs.info()
            result: t.Dict[str, t.Any] = {
                "changed": False,
                "version": info["version"],
                "connection_table_size": info["conn_tab_size"],
                "services": _services(ipvs),
                "timeouts": ipvs.timeouts(),
                # In ipvs_sync_daemon's option names, so an entry can be fed back to it.
                "sync_daemons": [daemon_options(daemon) for daemon in ipvs.daemons()],
            }
        if module.params["connections"] and isinstance(ipvs, NewTable):
            result["connections"], result["templates"] = [], []
        elif module.params["connections"]:
            with _netns.in_netns(netns):
                entries = _conntable.read("/proc/thread-self/net/ip_vs_conn")
            result["connections"], result["templates"] = _conntable.split_templates(entries)
        return result

    fail_on_errors(module, action)
