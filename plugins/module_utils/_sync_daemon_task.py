# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_sync_daemon: the connection synchronisation daemon of one role (ipvsadm --start-daemon / --stop-daemon), through the engine.

The daemon and its operations are _sync_daemon's. Here: the options, validated into the wanted
daemon. The kernel fills in what a start request leaves out (group 224.0.0.81, port 8848, ttl 1, a
maximum message length from the interface's MTU) and reports the result, so an option the task
leaves unset is compared with the kernel's default, except max_length, whose default depends on the
interface.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils import _check_mode
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import Result, commit, lines, run, undo_each
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import (
    DEFAULT_GROUP,
    DEFAULT_SYNC_PORT,
    DEFAULT_TTL,
    SYNC_ID,
    SYNC_PORT,
    SYNC_ROLES,
    SYNC_STATES,
    TTL,
    in_range,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import Kernel, interface_exists
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import DaemonOperation, SyncDaemon, plan_daemon

IFNAME_MAX = 15  # IFNAMSIZ - 1
# The kernel clamps max_length to [1 (master) or 1024 (backup), 65535 - IP and UDP headers]; within it, it keeps the value.
MIN_LENGTH = {"master": 1, "backup": 1024}
HEADERS = {4: 20 + 8, 6: 40 + 8}


def normal_group(value: t.Any) -> str:
    """The multicast group in the kernel's spelling (IPv6 compressed), or an OptionError."""
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise OptionError("group", f"{value!r} is not an IP address; accepted: an IPv4 or IPv6 multicast address such as {DEFAULT_GROUP} or ff02::81") from None
    if not address.is_multicast:
        raise OptionError("group", f"{value!r} is not a multicast address; accepted: 224.0.0.0/4 or ff00::/8, such as {DEFAULT_GROUP}")
    return str(address)


def wanted_daemon(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The daemon the task asks for, validated, in option names: {"role", "state"} for stopped,
    every option but an unset max_length for started."""
    role = params.get("role")
    if role not in SYNC_ROLES:
        raise OptionError("role", f"{role!r} is not a role; accepted: master, backup")
    state = params.get("state") or "started"
    if state not in SYNC_STATES:
        raise OptionError("state", f"{state!r} is not a state; accepted: started, stopped")
    if state == "stopped":
        return {"role": role, "state": "stopped"}
    interface = params.get("interface")
    if not interface:
        raise OptionError("interface", "is required with state started: the interface the sync messages go out of (master) or come in on (backup)")
    if len(interface) > IFNAME_MAX or any(c in interface for c in "/ \t\n:") or interface in (".", ".."):
        raise OptionError("interface", f"{interface!r} is not an interface name; accepted: 1 to {IFNAME_MAX} characters, no '/', ':' or spaces")
    group = normal_group(params.get("group") or DEFAULT_GROUP)
    version = ipaddress.ip_address(group).version
    wanted: t.Dict[str, t.Any] = {
        "role": role,
        "state": "started",
        "interface": interface,
        "sync_id": SYNC_ID.check(params.get("sync_id", 0)),
        "group": group,
        "port": SYNC_PORT.check(params.get("port", DEFAULT_SYNC_PORT)),
        "ttl": TTL.check(params.get("ttl", DEFAULT_TTL)),
    }
    max_length = params.get("max_length")
    if max_length is not None:
        low, high = MIN_LENGTH[role], 65535 - HEADERS[version]
        wanted["max_length"] = in_range("max_length", max_length, low, high,
                                        f"{low} to {high} for a {role} with an IPv{version} group (the kernel would change other values)")
    return wanted


def stopped(role: str) -> t.Dict[str, t.Any]:
    return {"role": role, "state": "stopped"}


def plan(wanted: t.Mapping[str, t.Any], running: t.Optional[SyncDaemon]) -> t.List[DaemonOperation]:
    """The operations that take the daemon of wanted["role"] from `running` (None: not running) to `wanted`."""
    return plan_daemon(SyncDaemon.from_options(wanted) if wanted["state"] == "started" else None, running)


def running_daemon(kernel: Kernel, role: str) -> t.Optional[SyncDaemon]:
    return next((SyncDaemon.from_kernel(d) for d in kernel.daemons() if d["state"] == role), None)


def run_sync_daemon(module: AnsibleModule) -> None:
    netns = module.params["netns"]

    def prepare() -> t.Callable[[Kernel], Result]:
        wanted = wanted_daemon(module.params)
        role = wanted["role"]

        def work(kernel: Kernel) -> Result:
            running = running_daemon(kernel, role)
            operations = plan(wanted, running)
            starts = [operation.daemon for operation in operations if operation.action == "start"]
            if module.check_mode and starts and not interface_exists(netns, starts[0].interface):
                # A real run would be refused (ENODEV) unless an earlier task creates the interface (the HA link).
                _check_mode.assume(module.warn, f"interface {starts[0].interface!r} does not exist in this network namespace (option interface)")
            result = commit(module, kernel, operations, undo_each)
            if operations and not module.check_mode:
                after = running_daemon(kernel, role)
            elif wanted["state"] == "stopped":
                after = None
            else:
                # What the daemon will be (check mode): max_length, when unset, as the kernel has it now.
                after = running if not operations and running is not None else SyncDaemon.from_options(wanted)
            result["before"] = running.options() if running is not None else stopped(role)
            result["after"] = after.options() if after is not None else stopped(role)
            if module._diff:  # pylint: disable=protected-access
                result["diff"] = {"before": lines(running.render()) if running else "", "after": lines(after.render()) if after else ""}
            return result

        return work

    run(module, prepare)
