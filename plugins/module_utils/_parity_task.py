# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_parity: this director's kernel, read once, against the ipvs_info answer of the other director of its pair.

The options are validated first, the peer's answer turned into model objects the way ipvs_table validates its config
(so an entry that is not an ipvs_info service is an error naming it: peer.services[3].real_servers[0].weight), and the
keepalived fragments read for the health-checked services; then the engine reads the table, the templates and the sync
daemons (no lock: nothing is written) and _parity compares.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils import _conntable
from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import restrict_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import Result, read_table, run
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import SYNC_ROLES
from ansible_collections.lvs.ipvs.plugins.module_utils._info_task import REAL_SERVER_COUNTERS, SERVICE_COUNTERS
from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import virtual_server_keys
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import Kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._model import Service, canonical_address, service_sort_key
from ansible_collections.lvs.ipvs.plugins.module_utils._parity import Side, compare
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Table, make_table
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import service_switch
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import SyncDaemon
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import EntryChecker, Scope, declare

PEER = "the registered result of lvs.ipvs.ipvs_info on the other director (connections: true to compare templates)"
# The fields of an ipvs_info template that the comparison reads: name -> (type, whether it is an address).
TEMPLATE_FIELDS = {"protocol": (str, False), "client": (str, True), "virtual": (str, True), "virtual_port": (int, False),
                   "real_server": (str, True), "real_server_port": (int, False), "expires": (int, False)}


# ------------------------------------------------------------------ the peer's ipvs_info answer -> model objects


def _listed(peer: t.Mapping[str, t.Any], name: str) -> t.List[t.Any]:
    value = peer.get(name)
    if not isinstance(value, list):
        raise OptionError("peer", f"has no {name} list, so it is not an answer of lvs.ipvs.ipvs_info; accepted: {PEER}")
    return value


def _entry(value: t.Any, where: str, what: str) -> t.Dict[str, t.Any]:
    if not isinstance(value, dict):
        raise OptionError(where, f"{value!r} is not a dictionary; accepted: {what}")
    return value


def peer_table(services: t.Sequence[t.Any]) -> Table:
    """The peer's services (ipvs_info's, in ipvs_service's option names plus counters) as model objects, validated as ipvs_table
    validates its config. A real server the kernel made local (its address is the director's own: forwarding local) is
    validated as nat, whose port rule it follows, and stays local."""
    entries = []
    local: t.Set[t.Tuple[int, int]] = set()
    for index, item in enumerate(services):
        entry = {key: value for key, value in _entry(item, f"peer.services[{index}]", "a service of ipvs_info's services").items()
                 if key not in SERVICE_COUNTERS}
        granularity = entry.get("persistence_granularity")
        if isinstance(granularity, int) and not isinstance(granularity, bool):
            # ipvs_info gives a prefix length; the option is a string (the checker's fast path takes the entry as it is).
            entry["persistence_granularity"] = str(granularity)
        if isinstance(entry.get("real_servers"), list):
            servers = []
            for position, server in enumerate(entry["real_servers"]):
                server = {key: value for key, value in _entry(server, f"peer.services[{index}].real_servers[{position}]",
                                                              "a real server of ipvs_info's services").items() if key not in REAL_SERVER_COUNTERS}
                if server.get("forwarding") == "local":
                    local.add((index, position))
                    server["forwarding"] = "nat"
                servers.append(server)
            entry["real_servers"] = servers
        entries.append(entry)
    declared = declare(entries, labels=[f"peer.services[{index}]" for index in range(len(entries))])
    return make_table((entry.service, [dataclasses.replace(server, forwarding="local") if (index, position) in local else server
                                       for position, server in enumerate(entry.servers or ())])
                      for index, entry in enumerate(declared))


def peer_templates(templates: t.Sequence[t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """The peer's persistence templates (ipvs_info's templates), each with the fields the comparison reads."""
    checked = []
    for index, item in enumerate(templates):
        where = f"peer.templates[{index}]"
        template = dict(_entry(item, where, "a template of ipvs_info's templates"))
        for name, (kind, address) in TEMPLATE_FIELDS.items():
            value = template.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise OptionError(f"{where}.{name}", f"{value!r} is not valid; accepted: the {kind.__name__} of a template of ipvs_info's templates")
            if address:
                try:
                    template[name] = canonical_address(value)
                except ValueError:
                    raise OptionError(f"{where}.{name}", f"{value!r} is not an IP address; accepted: the address ipvs_info gives") from None
        checked.append(template)
    return checked


def peer_daemons(daemons: t.Sequence[t.Any]) -> t.List[SyncDaemon]:
    """The peer's running sync daemons (ipvs_info's sync_daemons, in ipvs_sync_daemon's option names)."""
    found = []
    for index, item in enumerate(daemons):
        where = f"peer.sync_daemons[{index}]"
        daemon = _entry(item, where, "a daemon of ipvs_info's sync_daemons")
        if daemon.get("role") not in SYNC_ROLES:
            raise OptionError(f"{where}.role", f"{daemon.get('role')!r} is not valid; accepted: {', '.join(SYNC_ROLES)}")
        if not isinstance(daemon.get("interface"), str):
            raise OptionError(f"{where}.interface", f"{daemon.get('interface')!r} is not valid; accepted: the interface name ipvs_info gives")
        found.append(SyncDaemon.from_options(daemon))
    return found


def peer_side(peer: t.Any) -> Side:
    """The `peer` option as model objects; OptionError naming the entry that is not as ipvs_info gives it."""
    if not isinstance(peer, dict):
        raise OptionError("peer", f"is not a dictionary; accepted: {PEER}")
    if peer.get("failed"):
        raise OptionError("peer", f"is a failed answer ({peer.get('msg')}); accepted: {PEER}")
    templates = peer.get("templates")
    return Side(peer_table(_listed(peer, "services")), None if templates is None else peer_templates(_listed(peer, "templates")),
                peer_daemons(_listed(peer, "sync_daemons")))


# ------------------------------------------------------------------ the health-checked services


def keepalived_services(directory: str) -> t.Set[t.Tuple[t.Any, ...]]:
    """The keys of the services that the keepalived fragments (*.conf) in `directory` have virtual_server blocks for; none
    when the folder does not exist."""
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(".conf"))
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise OptionError("health_check_dir", f"{directory} cannot be read ({exc.strerror}); accepted: the folder of the director role's "
                          "keepalived fragments, or one that does not exist (no health-checked service)") from None
    keys: t.Set[t.Tuple[t.Any, ...]] = set()
    for name in names:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                keys.update(virtual_server_keys(handle.read()))
        except OSError as exc:
            raise OptionError("health_check_dir", f"{path} cannot be read ({exc.strerror}); accepted: readable keepalived fragments") from None
    return keys


# ------------------------------------------------------------------ the run


def run_parity(module: AnsibleModule) -> None:
    params = module.params

    def prepare() -> t.Callable[[Kernel], Result]:
        peer = peer_side(params["peer"])
        checker = EntryChecker(restrict_spec())
        scope = Scope([checker.check(entry, f"health_checked[{index}]") for index, entry in enumerate(params["health_checked"])], option="health_checked")
        fragments = keepalived_services(params["health_check_dir"])

        def checked(service: Service) -> bool:
            return service.key in fragments or service in scope

        def work(kernel: Kernel) -> Result:
            templates = None if peer.templates is None else _conntable.split_templates(kernel.connections())[1]
            here = Side(read_table(kernel), templates, [SyncDaemon.from_kernel(daemon) for daemon in kernel.daemons()])
            if peer.templates is None:
                module.warn("the peer's answer has no templates (lvs.ipvs.ipvs_info ran with connections: false): templates not compared")
            result = compare(here, peer, checked)
            services = {service.key: service for service, _servers in list(here.table.values()) + list(peer.table.values()) if checked(service)}
            result["health_checked_services"] = [service_switch(service) for service in sorted(services.values(), key=service_sort_key)]
            return result

        return work

    def echo(result: Result) -> Result:
        # Ansible echoes every argument back (`invocation`, seen with -vvv): the peer's whole answer, connections included,
        # would come back a second time.
        peer = params["peer"]
        counts = ", ".join(f"{len(peer.get(name) or ())} {name}" for name in ("services", "templates", "sync_daemons"))
        result["invocation"] = {"module_args": dict(params, peer=f"an answer of lvs.ipvs.ipvs_info with {counts} (not echoed)")}
        return result

    run(module, prepare, lock=False, finish=echo)
