# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Want versus have: the ipvsadm-equivalent operations that turn one into the other.

Pure and deterministic. A change of any attribute is an edit in place (SET_SERVICE / SET_DEST keep
connections and persistence templates); only a change of identity deletes and adds. Order, per
service in ipvsadm's sort order: the service add or edit, then its real server adds, edits and
deletes (make before break: a pool being replaced never runs empty); deletes of whole services come
last, each one operation that takes its real servers with it.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service, real_server_sort_key, service_sort_key

ACTIONS = ("add_service", "edit_service", "delete_service", "add_real_server", "edit_real_server", "delete_real_server")

# A table: service key -> (service, its real servers).
Table = t.Dict[t.Tuple[t.Any, ...], t.Tuple[Service, t.List[RealServer]]]


@dataclasses.dataclass(frozen=True)
class Operation:
    """One step: `service` is the service acted on (the wanted one for adds and edits), `before` the have-object."""

    action: str
    service: Service
    real_server: t.Optional[RealServer] = None
    before: t.Union[Service, RealServer, None] = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if (self.real_server is None) != self.action.endswith("_service"):
            raise ValueError(f"{self.action} {'needs' if self.real_server is None else 'takes no'} real_server")


def plan_real_server(service: Service, want: t.Optional[RealServer], have: t.Optional[RealServer]) -> t.List[Operation]:
    """One real server of `service`: want None means it should be absent."""
    if want is None:
        return [] if have is None else [Operation("delete_real_server", service, have, before=have)]
    if have is None:
        return [Operation("add_real_server", service, want)]
    if want.key != have.key:
        return [Operation("add_real_server", service, want), Operation("delete_real_server", service, have, before=have)]
    if want == have:
        return []
    return [Operation("edit_real_server", service, want, before=have)]


def plan_real_servers(
    service: Service,
    want_servers: t.Optional[t.Sequence[RealServer]],
    have_servers: t.Sequence[RealServer],
    *,
    absent_servers: t.Sequence[RealServer] = (),
    purge: bool = False,
) -> t.List[Operation]:
    """The pool of `service`: adds, then edits, then deletes, each sorted.

    want_servers None leaves the pool alone (purge then has nothing to compare with and does nothing);
    absent_servers are removed where present; purge removes every real server want_servers does not list.
    """
    have_by_key = {real_server.key: real_server for real_server in have_servers}
    adds: t.List[Operation] = []
    edits: t.List[Operation] = []
    for want in sorted(want_servers or (), key=real_server_sort_key):
        for operation in plan_real_server(service, want, have_by_key.get(want.key)):
            (adds if operation.action == "add_real_server" else edits).append(operation)
    remove = {real_server.key for real_server in absent_servers}
    if purge and want_servers is not None:
        remove |= set(have_by_key) - {real_server.key for real_server in want_servers}
    deletes = [
        Operation("delete_real_server", service, have, before=have)
        for have in sorted(have_servers, key=real_server_sort_key) if have.key in remove
    ]
    return adds + edits + deletes


def plan_service(
    want: t.Optional[Service],
    have: t.Optional[Service],
    want_servers: t.Optional[t.Sequence[RealServer]] = None,
    have_servers: t.Sequence[RealServer] = (),
    *,
    absent_servers: t.Sequence[RealServer] = (),
    purge_real_servers: bool = False,
) -> t.List[Operation]:
    """One service and (optionally) its pool; want None means the service should be absent."""
    if want is None:
        return [] if have is None else [Operation("delete_service", have, before=have)]
    if have is not None and have.key != want.key:
        created = plan_service(want, None, want_servers)
        return created + [Operation("delete_service", have, before=have)]
    operations: t.List[Operation] = []
    if have is None:
        operations.append(Operation("add_service", want))
        have_servers = ()
    elif want != have:
        operations.append(Operation("edit_service", want, before=have))
    return operations + plan_real_servers(want, want_servers, have_servers, absent_servers=absent_servers, purge=purge_real_servers)


def plan_table(
    want: t.Mapping[t.Tuple[t.Any, ...], t.Tuple[Service, t.Sequence[RealServer]]],
    have: t.Mapping[t.Tuple[t.Any, ...], t.Tuple[Service, t.Sequence[RealServer]]],
    *,
    remove_unlisted_services: bool = False,
    purge_real_servers: bool = True,
    absent_services: t.Collection[t.Tuple[t.Any, ...]] = (),
    restrict: t.Optional[t.Callable[[Service], bool]] = None,
) -> t.List[Operation]:
    """The whole table: every wanted service with its pool, then deletes of services.

    A have service not in `want` is deleted when its key is in absent_services, or when
    remove_unlisted_services is set and `restrict` (if given) accepts it: restrict limits which
    unlisted services this run owns.
    """
    clash = set(want) & set(absent_services)
    if clash:
        raise ValueError(f"services both wanted and absent: {sorted(clash, key=str)}")
    operations: t.List[Operation] = []
    for key in sorted(want, key=lambda key: service_sort_key(want[key][0])):
        service, servers = want[key]
        have_service, have_servers = have.get(key, (None, ()))
        operations += plan_service(service, have_service, servers, have_servers, purge_real_servers=purge_real_servers)
    for key in sorted(have, key=lambda key: service_sort_key(have[key][0])):
        service = have[key][0]
        unlisted = remove_unlisted_services and (restrict is None or restrict(service))
        if key not in want and (key in absent_services or unlisted):
            operations.append(Operation("delete_service", service, before=service))
    return operations


def make_table(entries: t.Iterable[t.Tuple[Service, t.Iterable[RealServer]]]) -> Table:
    """A table keyed by service key, real servers sorted; ValueError on a service listed twice."""
    table: Table = {}
    for service, servers in entries:
        if service.key in table:
            raise ValueError(f"service listed twice: {service.key}")
        table[service.key] = (service, sorted(servers, key=real_server_sort_key))
    return table


def table_after(table: t.Mapping[t.Tuple[t.Any, ...], t.Tuple[Service, t.Sequence[RealServer]]], operations: t.Iterable[Operation]) -> Table:
    """What `table` becomes once `operations` are applied (for check mode, diffs and return values)."""
    result: t.Dict[t.Tuple[t.Any, ...], t.Tuple[Service, t.Dict[t.Tuple[str, int], RealServer]]] = {
        key: (service, {real_server.key: real_server for real_server in servers}) for key, (service, servers) in table.items()
    }
    for operation in operations:
        key = operation.service.key
        if operation.action == "delete_service":
            result.pop(key, None)
        elif operation.action in ("add_service", "edit_service"):
            result[key] = (operation.service, result.get(key, (operation.service, {}))[1])
        else:
            real_server = t.cast(RealServer, operation.real_server)
            pool = result[key][1]
            if operation.action == "delete_real_server":
                pool.pop(real_server.key, None)
            else:
                pool[real_server.key] = real_server
    return make_table((service, pool.values()) for service, pool in result.values())


def inverse(applied: t.Sequence[Operation], have: Table) -> t.List[Operation]:
    """The operations that undo `applied` (a prefix or subset of a plan made against `have`), newest first.

    An edit goes back to its `before`; an add is deleted; a deleted real server is added back as it
    was; a deleted service is added back with the real servers `have` gave it (its connections and
    templates are gone: the kernel dropped them with it).
    """
    undo: t.List[Operation] = []
    for operation in reversed(applied):
        action, service = operation.action, operation.service
        if action == "add_service":
            undo.append(Operation("delete_service", service, before=service))
        elif action == "edit_service":
            undo.append(Operation("edit_service", t.cast(Service, operation.before), before=service))
        elif action == "delete_service":
            old = t.cast(Service, operation.before or service)
            undo.append(Operation("add_service", old))
            undo.extend(Operation("add_real_server", old, real_server) for real_server in have.get(old.key, (old, []))[1])
        elif action == "add_real_server":
            undo.append(Operation("delete_real_server", service, operation.real_server, before=operation.real_server))
        elif action == "edit_real_server":
            undo.append(Operation("edit_real_server", service, t.cast(RealServer, operation.before), before=operation.real_server))
        else:
            undo.append(Operation("add_real_server", service, t.cast(RealServer, operation.before or operation.real_server)))
    return undo
