# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Sync daemons (connection synchronisation, ipvsadm --start-daemon / --stop-daemon) and their operations.

A running daemon cannot be changed: a different configuration means stop, then start. The kernel
fills in what a start request leaves out (group 224.0.0.81, port 8848, ttl 1, a maximum message
length from the interface's MTU) and reports the result; a kernel before 4.3 reports no group,
port, ttl or max_length, so an option it did not report (None here) cannot differ.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import typing as t

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
_FLAGS = (("max_length", "--sync-maxlen"), ("group", "--mcast-group"), ("port", "--mcast-port"), ("ttl", "--mcast-ttl"))


@dataclasses.dataclass(frozen=True)
class SyncDaemon:
    """A started daemon of `role` in the options of ipvs_sync_daemon; None: not given (wanted) or not reported (running)."""

    role: str
    # Where the sync messages go out (master) or come in (backup).
    interface: str
    # The id a master puts in its messages and a backup accepts (0 on a backup: every id).
    sync_id: t.Optional[int] = None
    # Bytes of sync data per message; unset, the kernel derives it from the interface's MTU.
    max_length: t.Optional[int] = None
    # The multicast group, UDP port and TTL of the messages.
    group: t.Optional[str] = None
    port: t.Optional[int] = None
    ttl: t.Optional[int] = None

    @classmethod
    def from_options(cls, options: t.Mapping[str, t.Any]) -> SyncDaemon:
        return cls(options["role"], options["interface"], **{option: options.get(option) for option in OPTIONS[2:]})

    @classmethod
    def from_kernel(cls, kernel: t.Mapping[str, t.Any]) -> SyncDaemon:
        """A running daemon (the codec's dict); what an old kernel does not report (0 or empty) stays None."""
        values: t.Dict[str, t.Any] = {"interface": kernel.get("mcast_ifn") or ""}
        for option, key in KERNEL_KEYS.items():
            value = kernel.get(key)
            if value in (None, "") or (option != "sync_id" and value == 0):
                continue
            values[option] = str(ipaddress.ip_address(value)) if option == "group" else value
        return cls(role=kernel["state"], **values)

    def options(self) -> t.Dict[str, t.Any]:
        """In ipvs_sync_daemon's option names, state started, unset ones left out (so it can be fed back)."""
        result: t.Dict[str, t.Any] = {"role": self.role, "state": "started"}
        result.update({option: getattr(self, option) for option in OPTIONS[1:] if getattr(self, option) is not None})
        return result

    def to_kernel(self) -> t.Dict[str, t.Any]:
        """The codec's NEW_DAEMON dict."""
        request: t.Dict[str, t.Any] = {"state": self.role}
        request.update({key: getattr(self, option) for option, key in KERNEL_KEYS.items() if getattr(self, option) is not None})
        return request

    def render(self) -> str:
        """`--start-daemon ...`"""
        words = [f"--start-daemon {self.role}", f"--mcast-interface {self.interface}", f"--syncid {self.sync_id or 0}"]
        words += [f"{flag} {getattr(self, option)}" for option, flag in _FLAGS if getattr(self, option) is not None]
        return " ".join(words)

    def differences(self, running: SyncDaemon) -> t.List[str]:
        """The options of this (wanted) daemon that `running` does not match; one that either leaves unset cannot differ."""
        return [option for option in OPTIONS[1:]
                if getattr(self, option) is not None and getattr(running, option) is not None and getattr(self, option) != getattr(running, option)]


@dataclasses.dataclass(frozen=True)
class DaemonOperation:
    """Start `daemon`, or stop the running `daemon` (kept whole, so that the stop can be undone)."""

    action: str
    daemon: SyncDaemon

    def __post_init__(self) -> None:
        if self.action not in ("start", "stop"):
            raise ValueError(f"unknown action {self.action!r}")

    def render(self) -> str:
        return self.daemon.render() if self.action == "start" else f"--stop-daemon {self.daemon.role}"

    def undo(self) -> DaemonOperation:
        return DaemonOperation("stop" if self.action == "start" else "start", self.daemon)

    def explain(self, error: t.Any) -> str:
        """The kernel's refusal in the words of the options."""
        if error.errno == errno.ENODEV:
            return f"interface {self.daemon.interface!r} does not exist in this network namespace (option interface)"
        if error.errno == errno.EINVAL:
            return ("the kernel rejected the configuration (EINVAL); besides a bad value, the sync protocol cannot run while a service "
                    "has real servers of the other address family (mixed IPv4 / IPv6)")
        if error.errno == errno.EEXIST:
            return f"a {self.daemon.role} sync daemon is already running (started by another run at the same moment?); run the task again"
        return str(error)


def plan_daemon(want: t.Optional[SyncDaemon], running: t.Optional[SyncDaemon]) -> t.List[DaemonOperation]:
    """The operations that take a daemon from `running` (None: not running) to `want` (None: stopped)."""
    if want is None:
        return [DaemonOperation("stop", running)] if running is not None else []
    if running is None:
        return [DaemonOperation("start", want)]
    if want.differences(running):
        return [DaemonOperation("stop", running), DaemonOperation("start", want)]
    return []
