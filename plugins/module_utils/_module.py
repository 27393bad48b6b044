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
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lvs.ipvs.plugins.module_utils import _codec
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    OptionError,
    RealServer,
    Service,
    real_server_from_kernel,
    real_server_to_kernel,
    service_from_kernel,
    service_to_kernel,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation, Table, make_table, table_after
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render, render_service_table


class TaskError(Exception):
    """A failure to report with fail_json: the message, and extra result keys."""

    def __init__(self, message: str, **result: t.Any) -> None:
        super().__init__(message)
        self.result = result


def fail_on_errors(module: AnsibleModule, action: t.Callable[[], t.Dict[str, t.Any]]) -> None:
    """Run `action`; turn domain errors into one fail_json with a clear sentence, results into exit_json."""
    try:
        module.exit_json(**action())
    except OptionError as exc:
        module.fail_json(msg=str(exc), option=exc.option)
    except TaskError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except _codec.IpvsError as exc:
        module.fail_json(msg=str(exc))


def require_pyroute2(module: AnsibleModule) -> None:
    if _codec.PYROUTE2_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("pyroute2"), exception=_codec.PYROUTE2_IMPORT_ERROR_TRACEBACK)


@contextlib.contextmanager
def ipvs_session(netns: t.Optional[str]) -> t.Iterator[_codec.IpvsNetlink]:
    with _codec.IpvsNetlink(netns=netns) as ipvs:
        yield ipvs


# ------------------------------------------------------------------ reading the kernel once

def read_table(ipvs: _codec.IpvsNetlink, keys: t.Optional[t.Collection[t.Tuple[t.Any, ...]]] = None) -> Table:
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

def _send(ipvs: _codec.IpvsNetlink, operation: Operation) -> None:
    kernel_service = service_to_kernel(operation.service)
    if operation.action == "add_service":
        ipvs.add_service(kernel_service)
    elif operation.action == "edit_service":
        ipvs.edit_service(kernel_service)
    elif operation.action == "delete_service":
        ipvs.delete_service(service_to_kernel(t.cast(Service, operation.before or operation.service)))
    else:
        real_server = t.cast(RealServer, operation.real_server)
        kernel_dest = real_server_to_kernel(real_server, operation.service)
        if operation.action == "add_real_server":
            ipvs.add_dest(kernel_service, kernel_dest)
        elif operation.action == "edit_real_server":
            ipvs.edit_dest(kernel_service, kernel_dest)
        else:
            ipvs.delete_dest(kernel_service, kernel_dest)


def apply(ipvs: _codec.IpvsNetlink, operations: t.Sequence[Operation]) -> None:
    """Send the plan in order; on a refusal say which operation and why, and what was already done."""
    for index, operation in enumerate(operations):
        try:
            _send(ipvs, operation)
        except _codec.IpvsKernelError as exc:
            raise TaskError(
                f"the kernel refused `ipvsadm {render(operation)}`: {explain_refusal(operation, exc)}"
                f" ({index} of {len(operations)} operations were applied before it and stay applied)",
                failed_command=render(operation), applied_commands=[render(op) for op in operations[:index]],
                errno=exc.errno,
            ) from exc


def explain_refusal(operation: Operation, exc: _codec.IpvsKernelError) -> str:
    """The kernel's refusal in the words of the option that caused it, where that is clear."""
    if exc.errno == errno.ENOENT and operation.action in ("add_service", "edit_service"):
        service = operation.service
        engine = f" or persistence_engine {service.persistence_engine!r}" if service.persistence_engine else ""
        return (f"scheduler {service.scheduler!r}{engine} is not available in this kernel "
                "(its module ip_vs_<name> is missing or cannot be loaded)")
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


def diff_of(before: Table, after: Table, keys: t.Optional[t.Collection[t.Tuple[t.Any, ...]]] = None) -> t.Dict[str, str]:
    """Before and after in `ipvsadm -S -n` syntax, limited to `keys` when given."""

    def text(table: Table) -> str:
        entries = [entry for key, entry in table.items() if keys is None or key in keys]
        lines = render_service_table(entries)
        return "\n".join(lines) + "\n" if lines else ""

    return {"before": text(before), "after": text(after)}


def plan_and_apply(module: AnsibleModule, ipvs: _codec.IpvsNetlink, have: Table, operations: t.List[Operation],
                   keys: t.Optional[t.Collection[t.Tuple[t.Any, ...]]] = None) -> t.Tuple[t.Dict[str, t.Any], Table]:
    """The common tail of the table-changing modules: apply unless check mode; changed, commands, diff."""
    after = table_after(have, operations)
    if operations and not module.check_mode:
        apply(ipvs, operations)
    result: t.Dict[str, t.Any] = {"changed": bool(operations), "commands": [render(op) for op in operations]}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = diff_of(have, after, keys)
    return result, after
