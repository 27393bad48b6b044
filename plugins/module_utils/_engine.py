# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The one engine of the IPVS modules: validate -> lock -> read once -> plan -> apply -> result and diff.

The order is the promise: every option is validated before the first netlink request, so bad
input changes nothing; the state is read once; check mode computes the same plan and reports the
same `changed` and `commands`; the only side effect is one `apply()` of the plan, pipelined, that
undoes what it did when the kernel refuses a step. A module task brings what is its own (its
options turned into wanted objects, its plan, its result keys) as a `prepare` function for run():
it validates and returns either a result that needs no kernel, or the work to do with the kernel
(a _kernel.Kernel, passed in: the unit tests pass their FakeKernel).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils import _kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError, IpvsKernelError, IpvsPermissionError, OptionError, TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import Change, Counters, Kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._lock import table_lock
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    RealServer,
    Service,
    real_server_from_kernel,
    real_server_to_kernel,
    service_from_kernel,
    service_sort_key,
    service_to_kernel,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation, Table, inverse, table_after
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render, render_service_table
from ansible_collections.lvs.ipvs.plugins.module_utils._risks import SYSCTLS, risks

Result = t.Dict[str, t.Any]
Work = t.Callable[[Kernel], Result]


# ------------------------------------------------------------------ the run of a module

def run(module: AnsibleModule, prepare: t.Callable[[], t.Union[Result, Work]], *, lock: bool = True,
        finish: t.Optional[t.Callable[[Result], Result]] = None) -> None:
    """Validate (`prepare`), then, unless that gave the result already, take the table lock (`lock`), open the kernel of
    module.params["netns"] and do the work; `finish` then runs on the result, outside the lock. Domain errors become one
    fail_json with a clear sentence, results exit_json."""

    def action() -> Result:
        work = prepare()
        if callable(work):
            _kernel.require_pyroute2(module)
            netns = module.params["netns"]
            with table_lock(netns) if lock else contextlib.nullcontext(), _kernel.session(netns, module) as kernel:
                result = work(kernel)
        else:
            result = work
        return finish(result) if finish is not None else result

    try:
        module.exit_json(**action())
    except OptionError as exc:
        module.fail_json(msg=str(exc), option=exc.option)
    except TaskError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except IpvsError as exc:
        module.fail_json(msg=str(exc))


# ------------------------------------------------------------------ reading the table once
#
# One service dump, then one real-server dump per service of interest. The rows come undecoded
# (the codec's fast path) and go through the model (_model.*_from_kernel) once per distinct row.


class KernelObjects:
    """Kernel rows -> model objects, each distinct row turned once (the model's constructors are the slow part).

    seed() enters the objects a task wants under the rows the kernel holds for them, exactly the
    fields apply() would send: a row with those values IS that object (sending it again would change
    nothing), so the common case of a table already as wanted needs no model construction at all.
    The real servers of a wanted service are entered when the kernel turns out to have that service.
    """

    def __init__(self) -> None:
        self.services: t.Dict[t.Tuple[t.Any, ...], Service] = {}
        self.real_servers: t.Dict[t.Tuple[t.Any, ...], RealServer] = {}
        self._pools: t.Dict[t.Tuple[t.Any, ...], t.Sequence[RealServer]] = {}

    def seed(self, wanted: t.Iterable[t.Tuple[Service, t.Optional[t.Sequence[RealServer]]]]) -> None:
        for service, servers in wanted:
            kernel = service_to_kernel(service)
            self.services.setdefault(tuple(kernel[key] for key in _kernel.SERVICE_KEYS), service)
            if servers:
                self._pools[service.key] = servers

    def service(self, row: _kernel.ServiceRow) -> Service:
        service = self.services.get(row)
        if service is None:
            service = self.services[row] = service_from_kernel(_kernel.row_service(row))
        return service

    def real_server(self, row: _kernel.DestRow, service: Service) -> RealServer:
        if self._pools:
            for wanted in self._pools.pop(service.key, ()):
                self.real_servers.setdefault(_kernel.dest_row(real_server_to_kernel(wanted, service)), wanted)
        real_server = self.real_servers.get(row)
        if real_server is None:
            real_server = self.real_servers[row] = real_server_from_kernel(_kernel.row_dest(row), service)
        return real_server


def read_table(kernel: Kernel, owns: t.Optional[t.Callable[[Service], bool]] = None,
               wanted: t.Iterable[t.Tuple[Service, t.Optional[t.Sequence[RealServer]]]] = (),
               counters: t.Optional[t.Dict[t.Tuple[t.Any, ...], t.Tuple[Counters, t.Dict[t.Tuple[str, int], Counters]]]] = None) -> Table:
    """The services `owns` accepts (all without it) with their real servers, in the kernel's order (the planner and the
    results sort what they show). `wanted`: the services (and pools) the task wants, read faster when already there.
    With `counters` (a dict to fill), the counters too: service key -> (its counters, real server key -> counters)."""
    objects = KernelObjects()
    objects.seed(wanted)
    table: Table = {}
    with_counters = counters is not None
    for row, service_counters in kernel.service_rows(counters=with_counters):
        service = objects.service(row)
        if owns is not None and not owns(service):
            continue
        try:
            rows = kernel.dest_rows(_kernel.row_service(row), counters=with_counters)
        except IpvsKernelError as exc:
            if isinstance(exc, IpvsPermissionError):
                raise
            continue  # deleted by someone else since the service dump: it is not there
        servers = [objects.real_server(dest, service) for dest, _counters in rows]
        table[service.key] = (service, servers)
        if counters is not None:
            counters[service.key] = (service_counters, {server.key: found for server, (_row, found) in zip(servers, rows)})
    return table


# ------------------------------------------------------------------ applying a plan
#
# Pipelined: the changes go to the kernel `kernel.batch_size` at a time (one datagram, whose
# acknowledgements are read before the next is sent). The kernel runs every request of a datagram,
# a refused one included, so a refusal cannot stop the requests that follow it in its batch; what it
# can stop is the next batch. The contract, documented in every module: the batches before the one
# with the first refusal are applied; in that batch, each change is applied unless the kernel
# refused it too; nothing after that batch is sent; then what was applied is undone, newest first.
# The TaskError lists exactly which commands were applied, refused, not sent and rolled back.

Undo = t.Callable[[t.Sequence[Change]], t.List[Change]]


def command(change: Change) -> str:
    """A change as the ipvsadm line that does the same (without the leading `ipvsadm`)."""
    return render(change) if isinstance(change, Operation) else change.render()


def explain(change: Change, error: IpvsKernelError) -> str:
    """The kernel's refusal in the words of the option that caused it, where that is clear."""
    if not isinstance(change, Operation):
        return change.explain(error)
    if error.errno == errno.ENOENT and change.action in ("add_service", "edit_service"):
        service = change.service
        engine = f" or persistence_engine {service.persistence_engine!r}" if service.persistence_engine else ""
        return (f"scheduler {service.scheduler!r}{engine} is not available in this kernel "
                "(its module ip_vs_<name> is missing or cannot be loaded)")
    if error.errno == errno.EINVAL and change.action in ("add_real_server", "edit_real_server"):
        return (f"{error} (for a real server this usually means its address is not a unicast address on this host: a broadcast "
                "address of a connected network, a multicast address, or one without a route)")
    return str(error)


def undo_each(applied: t.Sequence[t.Any]) -> t.List[Change]:
    """The undo of changes that each know their own (timeouts, sync daemons), newest first."""
    return [change.undo() for change in reversed(applied)]


def apply(kernel: Kernel, changes: t.Sequence[Change], undo: t.Optional[Undo] = None) -> None:
    """Send the plan in order, pipelined in batches; on a refusal say which change and why, and undo what was done.

    The batch (kernel.batch_size changes, one datagram) that holds the first refusal is the last
    sent: every change of earlier batches was applied; in that batch every change was tried, and is
    applied unless refused too. With `undo` (applied changes -> the changes that undo them, newest
    first), every applied change is then undone, so that a task the kernel refuses leaves the state
    as it was; without it, what was applied stays. Raises TaskError naming the first refused command
    and the kernel's reason, with `refused`, `unsent_commands`, `applied_commands`, and
    `rolled_back_commands` (plus `rollback_refused` if undoing failed too).
    """
    size = max(1, kernel.batch_size)
    for start in range(0, len(changes), size):
        batch = changes[start:start + size]
        try:
            results = kernel.send_batch(batch)
        except IpvsError as exc:
            # Not a refusal but a lost conversation (a timeout, an overrun receive buffer): this batch's outcome is unknown.
            raise TaskError(
                f"{exc} while sending operations {start + 1} to {start + len(batch)} of {len(changes)}: the {start} before them were "
                "applied, whether these were is unknown, the rest were not sent; run the task again, it reads the table anew",
                applied_commands=[command(change) for change in changes[:start]], unknown_commands=[command(change) for change in batch],
                unsent_commands=[command(change) for change in changes[start + len(batch):]],
            ) from exc
        if any(result is not None for result in results):
            if undo is None:
                raise _refusal(changes, start, results, size)
            applied = list(changes[:start]) + [change for change, result in zip(batch, results) if result is None]
            raise _refusal(changes, start, results, size, rollback=_roll_back(kernel, undo(applied)))


def _roll_back(kernel: Kernel, undo: t.List[Change]) -> t.Tuple[t.List[Change], t.List[t.Dict[str, t.Any]]]:
    """Send `undo`; (the undoing changes, those the kernel refused as refusal dicts)."""
    size = max(1, kernel.batch_size)
    refused: t.List[t.Dict[str, t.Any]] = []
    for start in range(0, len(undo), size):
        batch = undo[start:start + size]
        for change, result in zip(batch, kernel.send_batch(batch)):
            if result is not None:
                refused.append({"command": command(change), "errno": result.errno, "error": explain(change, result)})
    return undo, refused


def _refusal(changes: t.Sequence[Change], start: int, results: t.Sequence[t.Optional[IpvsKernelError]], size: int,
             rollback: t.Optional[t.Tuple[t.List[Change], t.List[t.Dict[str, t.Any]]]] = None) -> TaskError:
    """The TaskError for a batch (changes[start:start + len(results)]) in which the kernel refused something,
    and `rollback` (what _roll_back() returned) when the applied changes were undone."""
    end = start + len(results)
    refused = [(changes[start + offset], error) for offset, error in enumerate(results) if error is not None]
    applied = list(changes[:start]) + [changes[start + offset] for offset, error in enumerate(results) if error is None]
    unsent = changes[end:]
    change, error = refused[0]
    message = f"the kernel refused `ipvsadm {command(change)}`: {explain(change, error)}"
    if len(refused) > 1:
        others = "; ".join(f"`ipvsadm {command(other)}`: {explain(other, err)}" for other, err in refused[1:4])
        more = f" and {len(refused) - 4} more" if len(refused) > 4 else ""
        message += f". It also refused {len(refused) - 1} other operation(s) of the same batch: {others}{more}"
    extra: t.Dict[str, t.Any] = {}
    if rollback is None:
        outcome = "were applied and stay applied"
    else:
        undo, undo_refused = rollback
        extra["rolled_back_commands"] = [command(done) for done in undo]
        if undo_refused:
            extra["rollback_refused"] = undo_refused
            outcome = (f"were applied; undoing them, the kernel refused {len(undo_refused)} of {len(undo)} operations, first "
                       f"`ipvsadm {undo_refused[0]['command']}`: {undo_refused[0]['error']}, so the table is NOT as it was")
        else:
            outcome = "were applied and have been undone: the table is as it was"
    message += (f" ({len(applied)} of {len(changes)} operations {outcome}, {len(refused)} refused, "
                f"{len(unsent)} not sent: operations go to the kernel in batches of {size}, every operation of a batch is tried, "
                "and no batch is sent after one with a refusal)")
    return TaskError(
        message,
        failed_command=command(change),
        errno=error.errno,
        applied_commands=[command(done) for done in applied],
        refused=[{"command": command(other), "errno": err.errno, "error": explain(other, err)} for other, err in refused],
        unsent_commands=[command(other) for other in unsent],
        **extra,
    )


def commit(module: AnsibleModule, kernel: Kernel, changes: t.Sequence[Change], undo: Undo) -> Result:
    """The common tail of every changing module: apply unless check mode (undoing on a refusal); changed and commands."""
    if changes and not module.check_mode:
        apply(kernel, changes, undo)
    return {"changed": bool(changes), "commands": [command(change) for change in changes]}


def commit_table(module: AnsibleModule, kernel: Kernel, have: Table, operations: t.List[Operation],
                 keys: t.Optional[t.Collection[t.Tuple[t.Any, ...]]] = None,
                 assumed: t.Collection[t.Tuple[t.Any, ...]] = ()) -> t.Tuple[Result, Table]:
    """commit() of a plan made against the table `have`, with its diff limited to `keys`; (result, the table after).

    `assumed`: services in `have` that are not in the kernel but that check mode assumes an earlier task creates."""
    after = table_after(have, operations)
    result = commit(module, kernel, operations, undo_table(have))
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = diff_of(have, after, keys, assumed)
    warn_risks(module, kernel, after if keys is None else {key: entry for key, entry in after.items() if key in keys})
    return result, after


def warn_risks(module: AnsibleModule, kernel: Kernel, table: Table, quiescing: t.Collection[t.Tuple[t.Any, ...]] = ()) -> None:
    """Warn about the risky combinations (_risks) of the services a task leaves in `table` with the namespace's sysctls."""
    if not table:
        return
    for warning in risks(table, kernel.sysctls(SYSCTLS), quiescing):
        module.warn(warning)


def undo_table(have: Table) -> Undo:
    """The undo of service and real-server operations planned against `have` (_planner.inverse)."""
    return lambda applied: t.cast(t.List[Change], inverse(t.cast(t.Sequence[Operation], applied), have))


# ------------------------------------------------------------------ results and diffs

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
    an earlier task creates, see _check_mode) are left out: this task does not know their options."""

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


def lines(*commands: str) -> str:
    """Lines of a diff text: each command on its own line, none for none."""
    return "".join(f"{line}\n" for line in commands if line)
