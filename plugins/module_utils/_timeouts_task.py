# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_timeouts: the global tcp / tcpfin / udp idle timeouts (ipvsadm --set), through the engine."""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._engine import Result, commit, lines, run, undo_each
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import MAX_TIMEOUT, TIMEOUT_ACCEPTED, in_range
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import Kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._timeouts import NAMES, Timeouts, plan_timeouts


def wanted_timeouts(params: t.Mapping[str, t.Any]) -> Timeouts:
    """The timeouts the task sets, validated; the ones not given are None."""
    wanted = {}
    for name in NAMES:
        value = params.get(name)
        if value is None:
            continue
        wanted[name] = in_range(name, value, 1, MAX_TIMEOUT, TIMEOUT_ACCEPTED)
    return Timeouts(**wanted)


def run_timeouts(module: AnsibleModule) -> None:
    def prepare() -> t.Callable[[Kernel], Result]:
        wanted = wanted_timeouts(module.params)

        def work(kernel: Kernel) -> Result:
            before = Timeouts.from_kernel(kernel.timeouts())
            operations = plan_timeouts(wanted, before)
            result = commit(module, kernel, operations, undo_each)
            if operations and not module.check_mode:
                after = Timeouts.from_kernel(kernel.timeouts())
            else:
                after = operations[0].after() if operations else before
            result.update(before=before.to_kernel(), after=after.to_kernel())
            if module._diff:  # pylint: disable=protected-access
                result["diff"] = {"before": lines(before.render()), "after": lines(after.render())}
            return result

        return work

    run(module, prepare)
