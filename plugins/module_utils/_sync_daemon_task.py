# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_sync_daemon: the connection synchronisation daemon of one role (ipvsadm --start-daemon / --stop-daemon).

A running daemon cannot be changed: a different configuration means stop, then start. The kernel
fills in what a start request leaves out (group 224.0.0.81, port 8848, ttl 1, a maximum message
length from the interface's MTU) and reports the result, so an option the task leaves unset is
compared with the kernel's default, except max_length, whose default depends on the interface.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError, TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils import _errors, _netns
from ansible_collections.lvs.ipvs.plugins.module_utils._lock import table_lock
from ansible_collections.lvs.ipvs.plugins.module_utils._module import assume_in_check_mode, fail_on_errors, ipvs_session, require_pyroute2

ROLES = ("master", "backup")
STATES = ("started", "stopped")
DEFAULT_GROUP = "224.0.0.81"
DEFAULT_PORT = 8848
DEFAULT_TTL = 1
MAX_SYNC_ID = 255  # the sync message carries the id in one byte
IFNAME_MAX = 15  # IFNAMSIZ - 1
# The kernel clamps max_length to [1 (master) or 1024 (backup), 65535 - IP and UDP headers]; within it, it keeps the value.
MIN_LENGTH = {"master": 1, "backup": 1024}
HEADERS = {4: 20 + 8, 6: 40 + 8}

# Option name -> the codec's daemon dict key.
KERNEL_KEYS = {
    "interface": "mcast_ifn",
    "sync_id": "sync_id",
    "max_length": "sync_maxlen",
    "group": "mcast_group",
    "port": "mcast_port",
    "ttl": "mcast_ttl",
}
OPTIONS = ("role", "interface", "sync_id", "max_length", "group", "port", "ttl")


def sync_daemon_spec() -> t.Dict[str, t.Any]:
    """The argument spec (netns added by the module)."""
    return {
        "role": {"type": "str", "required": True, "choices": list(ROLES)},
        "state": {"type": "str", "default": "started", "choices": list(STATES)},
        "interface": {"type": "str"},
        "sync_id": {"type": "int", "default": 0},
        "max_length": {"type": "int"},
        "group": {"type": "str", "default": DEFAULT_GROUP},
        "port": {"type": "int", "default": DEFAULT_PORT},
        "ttl": {"type": "int", "default": DEFAULT_TTL},
        "netns": {"type": "str"},
    }


def _int_in(name: str, value: t.Any, low: int, high: int, accepted: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OptionError(name, f"{value!r} is out of range; accepted: {accepted}")
    return value


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
    if role not in ROLES:
        raise OptionError("role", f"{role!r} is not a role; accepted: master, backup")
    state = params.get("state") or "started"
    if state not in STATES:
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
        "sync_id": _int_in("sync_id", params.get("sync_id", 0), 0, MAX_SYNC_ID, f"0 to {MAX_SYNC_ID} (0 on a backup accepts every sync id)"),
        "group": group,
        "port": _int_in("port", params.get("port", DEFAULT_PORT), 1, 65535, "1 to 65535"),
        "ttl": _int_in("ttl", params.get("ttl", DEFAULT_TTL), 1, 255, "1 to 255"),
    }
    max_length = params.get("max_length")
    if max_length is not None:
        low, high = MIN_LENGTH[role], 65535 - HEADERS[version]
        wanted["max_length"] = _int_in("max_length", max_length, low, high,
                                       f"{low} to {high} for a {role} with an IPv{version} group (the kernel would change other values)")
    return wanted


def daemon_options(kernel: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """A running daemon (the codec's dict) in option names. A kernel before 4.3 reports no group,
    port, ttl or max_length: those are left out (never None, so the result can be fed back)."""
    result: t.Dict[str, t.Any] = {"role": kernel["state"], "state": "started"}
    for option, key in KERNEL_KEYS.items():
        value = kernel.get(key)
        if value in (None, "") or (option != "sync_id" and value == 0):
            continue
        result[option] = str(ipaddress.ip_address(value)) if option == "group" else value
    return result


def stopped(role: str) -> t.Dict[str, t.Any]:
    return {"role": role, "state": "stopped"}


def differences(wanted: t.Mapping[str, t.Any], running: t.Mapping[str, t.Any]) -> t.List[str]:
    """The options of a started `wanted` daemon that the `running` one (option names) does not match.
    An option the kernel did not report (an old kernel) cannot differ."""
    return [option for option in OPTIONS[1:] if option in wanted and option in running and wanted[option] != running[option]]


def render_start(daemon: t.Mapping[str, t.Any]) -> str:
    """`ipvsadm --start-daemon ...` for a daemon in option names."""
    words = [f"--start-daemon {daemon['role']}", f"--mcast-interface {daemon['interface']}", f"--syncid {daemon.get('sync_id', 0)}"]
    if daemon.get("max_length") is not None:
        words.append(f"--sync-maxlen {daemon['max_length']}")
    for option, flag in (("group", "--mcast-group"), ("port", "--mcast-port"), ("ttl", "--mcast-ttl")):
        if daemon.get(option) is not None:
            words.append(f"{flag} {daemon[option]}")
    return " ".join(words)


def render_stop(role: str) -> str:
    return f"--stop-daemon {role}"


def plan(wanted: t.Mapping[str, t.Any], running: t.Optional[t.Mapping[str, t.Any]]) -> t.List[str]:
    """The commands that take the daemon of wanted["role"] from `running` (None: not running) to `wanted`."""
    role = wanted["role"]
    if wanted["state"] == "stopped":
        return [render_stop(role)] if running is not None else []
    if running is None:
        return [render_start(wanted)]
    if differences(wanted, running):
        return [render_stop(role), render_start(wanted)]
    return []


def expected_after(wanted: t.Mapping[str, t.Any], running: t.Optional[t.Mapping[str, t.Any]], commands: t.Sequence[str]) -> t.Dict[str, t.Any]:
    """What the daemon will be after `commands` (for check mode): max_length, when unset, as the kernel has it now."""
    if wanted["state"] == "stopped":
        return stopped(wanted["role"])
    if not commands and running is not None:
        return dict(running)
    return dict(wanted)


def kernel_request(daemon: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The codec's NEW_DAEMON dict for a started daemon in option names."""
    request = {"state": daemon["role"]}
    for option, key in KERNEL_KEYS.items():
        if daemon.get(option) is not None:
            request[key] = daemon[option]
    return request


def explain(exc: _errors.IpvsKernelError, wanted: t.Mapping[str, t.Any], command: str) -> str:
    if exc.errno == errno.ENODEV:
        reason = f"interface {wanted.get('interface')!r} does not exist in this network namespace (option interface)"
    elif exc.errno == errno.EINVAL:
        reason = ("the kernel rejected the configuration (EINVAL); besides a bad value, the sync protocol cannot run while a service "
                  "has real servers of the other address family (mixed IPv4 / IPv6)")
    elif exc.errno == errno.EEXIST:
        reason = f"a {wanted['role']} sync daemon is already running (started by another run at the same moment?); run the task again"
    else:
        reason = str(exc)
    return f"the kernel refused `ipvsadm {command}`: {reason}"


def daemon_diff(daemon: t.Mapping[str, t.Any]) -> str:
    return render_start(daemon) + "\n" if daemon.get("state") == "started" else ""


def interface_exists(netns: t.Optional[str], name: str) -> bool:
    """Whether network interface `name` exists in `netns` (False when the namespace does not exist either)."""
    try:
        with _netns.in_netns(netns):
            socket.if_nametoindex(name)
    except (OSError, _errors.IpvsError):
        return False
    return True


def run_sync_daemon(module: AnsibleModule) -> None:
    def action() -> t.Dict[str, t.Any]:
        wanted = wanted_daemon(module.params)
        role = wanted["role"]
        require_pyroute2(module)
        with table_lock(module.params["netns"]), ipvs_session(module.params["netns"], module) as ipvs:
            running = next((daemon_options(d) for d in ipvs.daemons() if d["state"] == role), None)
            commands = plan(wanted, running)
            if module.check_mode and any(command.startswith("--start-daemon") for command in commands) \
                    and not interface_exists(module.params["netns"], wanted["interface"]):
                # A real run would be refused (ENODEV) unless an earlier task creates the interface (the HA link).
                assume_in_check_mode(module, f"interface {wanted['interface']!r} does not exist in this network namespace (option interface)")
            if commands and not module.check_mode:
                done: t.List[str] = []
                for command in commands:
                    try:
                        if command.startswith("--stop-daemon"):
                            ipvs.delete_daemon(role)
                        else:
                            ipvs.add_daemon(kernel_request(wanted))
                    except _errors.IpvsKernelError as exc:
                        raise TaskError(explain(exc, wanted, command), failed_command=command, errno=exc.errno, applied_commands=done,
                                        unsent_commands=commands[len(done) + 1:]) from None
                    done.append(command)
                now = next((daemon_options(d) for d in ipvs.daemons() if d["state"] == role), None)
                after = now if now is not None else stopped(role)
            else:
                after = expected_after(wanted, running, commands)
        before = running if running is not None else stopped(role)
        result: t.Dict[str, t.Any] = {"changed": bool(commands), "before": before, "after": after, "commands": commands}
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": daemon_diff(before), "after": daemon_diff(after)}
        return result

    fail_on_errors(module, action)
