# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_timeouts: the global tcp / tcpfin / udp idle timeouts (ipvsadm --set)."""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._fields import MAX_TIMEOUT, TIMEOUT_ACCEPTED, in_range
from ansible_collections.lvs.ipvs.plugins.module_utils._lock import table_lock
from ansible_collections.lvs.ipvs.plugins.module_utils._module import fail_on_errors, ipvs_session, require_pyroute2

NAMES = ("tcp", "tcpfin", "udp")


def wanted_timeouts(params: t.Mapping[str, t.Any]) -> t.Dict[str, int]:
    """The timeouts the task sets, validated; the ones not given are left out."""
    wanted = {}
    for name in NAMES:
        value = params.get(name)
        if value is None:
            continue
        wanted[name] = in_range(name, value, 1, MAX_TIMEOUT, TIMEOUT_ACCEPTED)
    return wanted


def render_set(timeouts: t.Mapping[str, int]) -> str:
    """`ipvsadm --set tcp tcpfin udp` (0 leaves one unchanged, as in the kernel and ipvsadm)."""
    return "--set " + " ".join(str(timeouts.get(name, 0)) for name in NAMES)


def run_timeouts(module: AnsibleModule) -> None:
    def action() -> t.Dict[str, t.Any]:
        wanted = wanted_timeouts(module.params)
        require_pyroute2(module)
        with table_lock(module.params["netns"]), ipvs_session(module.params["netns"], module) as ipvs:
            before = ipvs.timeouts()
            changes = {name: value for name, value in wanted.items() if before[name] != value}
            if changes and not module.check_mode:
                ipvs.set_timeouts(changes.get("tcp", 0), changes.get("tcpfin", 0), changes.get("udp", 0))
            after = ipvs.timeouts() if changes and not module.check_mode else dict(before, **changes)
        result: t.Dict[str, t.Any] = {"changed": bool(changes), "before": before, "after": after,
                                      "commands": [render_set(changes)] if changes else []}
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": f"--set {before['tcp']} {before['tcpfin']} {before['udp']}\n",
                              "after": f"--set {after['tcp']} {after['tcpfin']} {after['udp']}\n"}
        return result

    fail_on_errors(module, action)
