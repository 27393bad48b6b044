# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""What every IPVS module does around the planner: validate, read once, plan, apply once, report.

The order is the promise: every option is validated before the first netlink request, so bad
input changes nothing; the table is read once; check mode computes the same plan and reports
the same `changed` and `commands`; the only side effect is one `apply()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError, TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils import _check_mode, _errors, _ipvs_client, _ipvs_codec, _netlink_socket, _pyroute2
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    RealServer,
    Service,
    real_server_from_kernel,
    real_server_to_kernel,
    service_from_kernel,
    service_sort_key,
    service_to_kernel,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs_schema import (
    IPVS_CMD_DEL_DEST,
    IPVS_CMD_DEL_SERVICE,
    IPVS_CMD_NEW_DEST,
    IPVS_CMD_NEW_SERVICE,
    IPVS_CMD_SET_DEST,
    IPVS_CMD_SET_SERVICE,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation, Table, inverse, make_table, table_after
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render, render_service_table


def fail_on_errors(module: AnsibleModule, action: t.Callable[[], t.Dict[str, t.Any]]) -> None:
    """Run `action`; turn domain errors into one fail_json with a clear sentence, results into exit_json."""
    try:
        module.exit_json(**action())
    except OptionError as exc:
        module.fail_json(msg=str(exc), option=exc.option)
    except TaskError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except _errors.IpvsError as exc:
        module.fail_json(msg=str(exc))


def require_pyroute2(module: AnsibleModule) -> None:
    """Fail with the pyroute2 message, unless pyroute2 is usable or check mode can do without it (see ipvs_session)."""
    if _pyroute2.PYROUTE2_IMPORT_ERROR is not None and not (module.check_mode and not ip_vs_loaded()):
        module.fail_json(msg=_pyroute2.pyroute2_missing_message(), exception=_pyroute2.PYROUTE2_IMPORT_ERROR_TRACEBACK,
                         pyroute2_version=_pyroute2.PYROUTE2_VERSION)


# ------------------------------------------------------------------ check mode: what earlier tasks would create
#
# See _check_mode. For IPVS: a network namespace that does not exist, an ip_vs that cannot load,
# and (where ip_vs is not loaded, so every table is empty) a missing pyroute2 read as a new table;
# a real server's missing virtual service is assumed by _service_task.

# What GET_CONFIG answers in a new network namespace (the kernel's defaults, ip_vs_proto_tcp.c / _udp.c).
NEW_TABLE_TIMEOUTS = {"tcp": 900, "tcpfin": 120, "udp": 300}


def assume_in_check_mode(module: AnsibleModule, missing: str, verb: str = "creates") -> None:
    """The warning of a check run that plans as if an earlier task had made `missing` (see _check_mode)."""
    _check_mode.assume(module.warn, missing, verb)


def ip_vs_loaded() -> bool:
    """Whether the ip_vs kernel module is loaded (or built in); without it every table of every namespace is empty."""
    return os.path.exists("/sys/module/ip_vs")


class NewTable:
    """Stands in for IpvsClient in check mode where there is no table yet: it reads what a new one holds (no services,
    no real servers, no sync daemons, the default timeouts). It has no way to change anything."""

    batch_size = _netlink_socket.DEFAULT_BATCH_SIZE

    def services(self, stats: bool = True) -> t.List[t.Dict[str, t.Any]]:  # pylint: disable=unused-argument
        return []

    def dests(self, service: t.Mapping[str, t.Any], stats: bool = True) -> t.List[t.Dict[str, t.Any]]:  # pylint: disable=unused-argument
        return []

    def dump_raw(self, request: t.Any) -> t.List[t.Any]:  # pylint: disable=unused-argument
        return []

    def timeouts(self) -> t.Dict[str, int]:
        return dict(NEW_TABLE_TIMEOUTS)

    def daemons(self) -> t.List[t.Dict[str, t.Any]]:
        return []

    def info(self) -> t.Dict[str, t.Any]:
        return {"version": None, "conn_tab_size": None}


@contextlib.contextmanager
def ipvs_session(netns: t.Optional[str], module: t.Optional[AnsibleModule] = None) -> t.Iterator[_ipvs_client.IpvsClient]:
    """The IPVS table of `netns`. With `module` in check mode, a namespace that does not exist, an ip_vs that cannot load,
    or (where ip_vs is not loaded) a missing pyroute2 give a NewTable and a warning instead of an error."""
    check = module is not None and module.check_mode
    missing: t.Optional[str] = None
    verb = "creates"
    ipvs: t.Optional[_ipvs_client.IpvsClient] = None
    if check and _pyroute2.PYROUTE2_IMPORT_ERROR is not None:
        missing, verb = f"{_pyroute2.pyroute2_missing_message()}. ip_vs is not loaded, so the IPVS table is empty", "installs"
    else:
        try:
            ipvs = _ipvs_client.IpvsClient(netns=netns)
        except _errors.IpvsNamespaceMissing as exc:
            if not check:
                raise
            missing = f"{exc} (a new namespace's IPVS table is empty)"
        except _errors.IpvsUnavailable as exc:
            if not check:
                raise
            missing, verb = f"{exc} (without it the IPVS table is empty)", "loads"
    if ipvs is None:
        assume_in_check_mode(t.cast(AnsibleModule, module), t.cast(str, missing), verb)
        yield t.cast(_ipvs_client.IpvsClient, NewTable())
        return
    with ipvs:
        yield ipvs


# ------------------------------------------------------------------ reading the kernel once

def read_table(ipvs: _ipvs_client.IpvsClient, keys: t.Optional[t.Collection[t.Tuple[t.Any, ...]]] = None) -> Table:
    """One service dump, then one real-server dump per service of interest (`keys`; all when None)."""
    entries = []
    for kernel_service in ipvs.services():
        service = service_from_kernel(kernel_service)
        if keys is not None and service.key not in keys:
            continue
        servers = [real_server_from_kernel(d, service) for d in ipvs.dests(kernel_service)]
        entries.append((service, servers))
    return make_table(entries)


# ------------------------------------------------------------------ applying a plan
#
# Pipelined: the requests go to the kernel `ipvs.batch_size` at a time (one datagram, whose
# acknowledgements are read before the next is sent, see IpvsClient.send_batch). The kernel runs
# every request of a datagram, a refused one included, so a refusal cannot stop the requests
# that follow it in its batch; what it can stop is the next batch. The contract, documented in
# every module: the batches before the one with the first refusal are applied; in that batch,
# each operation is applied unless the kernel refused it too; nothing after that batch is sent.
# The TaskError lists exactly which commands were applied, refused and not sent.
#
# The requests are packed with struct by the codec (_ipvs_codec): pyroute2's generic encoder
# costs about 250 microseconds a request on a fast machine (a minute for a 10,000-line table in the
# emulated lab), _ipvs_codec about 2.

_OPERATION_CMDS = {
    "add_service": IPVS_CMD_NEW_SERVICE,
    "edit_service": IPVS_CMD_SET_SERVICE,
    "delete_service": IPVS_CMD_DEL_SERVICE,
    "add_real_server": IPVS_CMD_NEW_DEST,
    "edit_real_server": IPVS_CMD_SET_DEST,
    "delete_real_server": IPVS_CMD_DEL_DEST,
}


def operation_request(operation: Operation, nests: t.Optional[t.Dict[t.Any, bytes]] = None) -> _ipvs_codec.PackedRequest:
    """The netlink request of `operation`. `nests` caches the packed nests by object for one plan (a plan reuses
    its service and real server objects: a pool's operations share the service, pools share real servers)."""
    cmd = _OPERATION_CMDS[operation.action]
    if operation.real_server is None:
        if operation.action == "delete_service":
            before = service_to_kernel(t.cast(Service, operation.before or operation.service))
            return _ipvs_codec.PackedRequest(cmd, _ipvs_codec.service_nest(before, full=False))
        return _ipvs_codec.PackedRequest(cmd, _ipvs_codec.service_nest(service_to_kernel(operation.service), full=True))
    cache = {} if nests is None else nests
    service, real_server = operation.service, operation.real_server
    full = operation.action != "delete_real_server"
    # By identity: the cache lives no longer than the plan, which keeps every object alive.
    service_key, dest_key = ("service", id(service)), (full, id(real_server))
    service_bytes = cache.get(service_key)
    if service_bytes is None:
        service_bytes = cache[service_key] = _ipvs_codec.service_nest(service_to_kernel(service), full=False)
    dest_bytes = cache.get(dest_key)
    if dest_bytes is None:
        dest_bytes = cache[dest_key] = _ipvs_codec.dest_nest(real_server_to_kernel(real_server, service), full=full)
    return _ipvs_codec.PackedRequest(cmd, service_bytes + dest_bytes)


def apply(ipvs: _ipvs_client.IpvsClient, operations: t.Sequence[Operation], have: t.Optional[Table] = None) -> None:
    """Send the plan in order, pipelined in batches; on a refusal say which operation and why, and undo what was done.

    The batch (ipvs.batch_size operations, one datagram) that holds the first refusal is the last
    sent: every operation of earlier batches was applied; in that batch every operation was tried,
    and is applied unless refused too. With `have` (the table the plan was made against), every
    applied operation is then undone, newest first (_planner.inverse), so that a task the kernel
    refuses leaves the table as it was; without it, what was applied stays. Raises TaskError naming
    the first refused command and the kernel's reason, with `refused`, `unsent_commands`,
    `applied_commands`, and `rolled_back_commands` (plus `rollback_refused` if undoing failed too).
    """
    size = max(1, ipvs.batch_size)
    nests: t.Dict[t.Any, bytes] = {}
    for start in range(0, len(operations), size):
        batch = operations[start:start + size]
        try:
            results = ipvs.send_batch([operation_request(operation, nests) for operation in batch])
        except _errors.IpvsError as exc:
            # Not a refusal but a lost conversation (a timeout, an overrun receive buffer): this batch's outcome is unknown.
            raise TaskError(
                f"{exc} while sending operations {start + 1} to {start + len(batch)} of {len(operations)}: the {start} before them were "
                "applied, whether these were is unknown, the rest were not sent; run the task again, it reads the table anew",
                applied_commands=[render(op) for op in operations[:start]], unknown_commands=[render(op) for op in batch],
                unsent_commands=[render(op) for op in operations[start + len(batch):]],
            ) from exc
        if any(result is not None for result in results):
            if have is None:
                raise _refusal(operations, start, results, size)
            applied = list(operations[:start]) + [operation for operation, result in zip(batch, results) if result is None]
            raise _refusal(operations, start, results, size, rollback=_roll_back(ipvs, applied, have))


def _roll_back(ipvs: _ipvs_client.IpvsClient, applied: t.Sequence[Operation], have: Table) -> t.Tuple[t.List[Operation], t.List[t.Dict[str, t.Any]]]:
    """Undo `applied`, newest first; (the undoing operations, those the kernel refused as refusal dicts)."""
    undo = inverse(applied, have)
    size = max(1, ipvs.batch_size)
    refused: t.List[t.Dict[str, t.Any]] = []
    for start in range(0, len(undo), size):
        batch = undo[start:start + size]
        for operation, result in zip(batch, ipvs.send_batch([operation_request(operation) for operation in batch])):
            if result is not None:
                refused.append({"command": render(operation), "errno": result.errno, "error": explain_refusal(operation, result)})
    return undo, refused


def _refusal(operations: t.Sequence[Operation], start: int, results: t.Sequence[t.Optional[_errors.IpvsKernelError]], size: int,
             rollback: t.Optional[t.Tuple[t.List[Operation], t.List[t.Dict[str, t.Any]]]] = None) -> TaskError:
    """The TaskError for a batch (operations[start:start + len(results)]) in which the kernel refused something,
    and `rollback` (what _roll_back() returned) when the applied operations were undone."""
    end = start + len(results)
    refused = [(operations[start + offset], error) for offset, error in enumerate(results) if error is not None]
    applied = list(operations[:start]) + [operations[start + offset] for offset, error in enumerate(results) if error is None]
    unsent = operations[end:]
    operation, error = refused[0]
    message = f"the kernel refused `ipvsadm {render(operation)}`: {explain_refusal(operation, error)}"
    if len(refused) > 1:
        others = "; ".join(f"`ipvsadm {render(op)}`: {explain_refusal(op, err)}" for op, err in refused[1:4])
        more = f" and {len(refused) - 4} more" if len(refused) > 4 else ""
        message += f". It also refused {len(refused) - 1} other operation(s) of the same batch: {others}{more}"
    extra: t.Dict[str, t.Any] = {}
    if rollback is None:
        outcome = "were applied and stay applied"
    else:
        undo, undo_refused = rollback
        extra["rolled_back_commands"] = [render(op) for op in undo]
        if undo_refused:
            extra["rollback_refused"] = undo_refused
            outcome = (f"were applied; undoing them, the kernel refused {len(undo_refused)} of {len(undo)} operations, first "
                       f"`ipvsadm {undo_refused[0]['command']}`: {undo_refused[0]['error']}, so the table is NOT as it was")
        else:
            outcome = "were applied and have been undone: the table is as it was"
    message += (f" ({len(applied)} of {len(operations)} operations {outcome}, {len(refused)} refused, "
                f"{len(unsent)} not sent: operations go to the kernel in batches of {size}, every operation of a batch is tried, "
                "and no batch is sent after one with a refusal)")
    return TaskError(
        message,
        failed_command=render(operation),
        errno=error.errno,
        applied_commands=[render(op) for op in applied],
        refused=[{"command": render(op), "errno": err.errno, "error": explain_refusal(op, err)} for op, err in refused],
        unsent_commands=[render(op) for op in unsent],
        **extra,
    )


def explain_refusal(operation: Operation, exc: _errors.IpvsKernelError) -> str:
    """The kernel's refusal in the words of the option that caused it, where that is clear."""
    if exc.errno == errno.ENOENT and operation.action in ("add_service", "edit_service"):
        service = operation.service
        engine = f" or persistence_engine {service.persistence_engine!r}" if service.persistence_engine else ""
        return (f"scheduler {service.scheduler!r}{engine} is not available in this kernel "
                "(its module ip_vs_<name> is missing or cannot be loaded)")
    if exc.errno == errno.EINVAL and operation.action in ("add_real_server", "edit_real_server"):
        return (f"{exc} (for a real server this usually means its address is not a unicast address on this host: a broadcast "
                "address of a connected network, a multicast address, or one without a route)")
    return str(exc)


# ------------------------------------------------------------------ results

def service_result(service: t.Optional[Service]) -> t.Optional[t.Dict[str, t.Any]]:
    """A service in ipvs_service's option names; unset options (None) are left out, so it can be fed back as it is."""
    if service is None:
        return None
    result = {key: value for key, value in dataclasses.asdict(service).items() if value is not None}
    result["scheduler_flags"] = list(service.scheduler_flags)
    return result


def real_server_result(real_server: t.Optional[RealServer]) -> t.Optional[t.Dict[str, t.Any]]:
    if real_server is None:
        return None
    # Unset options (None) are left out, so a result can be fed back to the modules as it is.
    result = {key: value for key, value in dataclasses.asdict(real_server).items() if value is not None}
    result["server"] = result.pop("address")
    result["server_port"] = result.pop("port")
    return result


def diff_of(before: Table, after: Table, keys: t.Optional[t.Collection[t.Tuple[t.Any, ...]]] = None,
            assumed: t.Collection[t.Tuple[t.Any, ...]] = ()) -> t.Dict[str, str]:
    """Before and after in `ipvsadm -S -n` syntax, limited to `keys` when given. The `-A` lines of `assumed` services (which
    an earlier task creates, see assume_in_check_mode) are left out: this task does not know their options."""

    def text(table: Table) -> str:
        entries = [entry for key, entry in table.items() if keys is None or key in keys]
        if assumed:
            lines = []
            for service, servers in sorted(entries, key=lambda entry: service_sort_key(entry[0])):
                rendered = render_service_table([(service, servers)])
                lines += rendered[1:] if service.key in assumed else rendered
        else:
            lines = render_service_table(entries)
        return "\n".join(lines) + "\n" if lines else ""

    return {"before": text(before), "after": text(after)}


def plan_and_apply(module: AnsibleModule, ipvs: _ipvs_client.IpvsClient, have: Table, operations: t.List[Operation],
                   keys: t.Optional[t.Collection[t.Tuple[t.Any, ...]]] = None,
                   assumed: t.Collection[t.Tuple[t.Any, ...]] = ()) -> t.Tuple[t.Dict[str, t.Any], Table]:
    """The common tail of the table-changing modules: apply unless check mode; changed, commands, diff.

    `assumed`: services in `have` that are not in the kernel but that check mode assumes an earlier task creates."""
    after = table_after(have, operations)
    if operations and not module.check_mode:
        apply(ipvs, operations, have)
    result: t.Dict[str, t.Any] = {"changed": bool(operations), "commands": [render(op) for op in operations]}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = diff_of(have, after, keys, assumed)
    return result, after
