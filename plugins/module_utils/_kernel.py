# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The kernel as the engine sees it: one Protocol, the netlink client behind it, and what check mode reads instead.

`Kernel` is everything the engine (_engine) and the module tasks ask of the kernel: the table in
rows (one service dump, one real-server dump per service; counters when asked), the timeouts, the
sync daemons, the version, the connection table, and `send_batch(changes)`: the planner's
operations, pipelined, one outcome each. `NetlinkKernel` is the one place that turns those into
the codec's requests and replies (_ipvs_codec, _ipvs_client): porting the engine to another codec means
changing this file. The unit tests put their one FakeKernel in its place through `connect`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils import _check_mode, _conntable, _ipvs_client, _ipvs_codec, _netlink_socket, _netns, _pyroute2
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError, IpvsKernelError, IpvsNamespaceMissing, IpvsUnavailable
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs_schema import (
    IPVS_CMD_DEL_DEST,
    IPVS_CMD_DEL_SERVICE,
    IPVS_CMD_GET_DEST,
    IPVS_CMD_GET_SERVICE,
    IPVS_CMD_NEW_DEST,
    IPVS_CMD_NEW_SERVICE,
    IPVS_CMD_SET_DEST,
    IPVS_CMD_SET_SERVICE,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._model import real_server_to_kernel, service_to_kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import DaemonOperation
from ansible_collections.lvs.ipvs.plugins.module_utils._timeouts import TimeoutsOperation

if t.TYPE_CHECKING:
    from typing import Protocol
else:  # Python 3.7 (a supported managed node) has no typing.Protocol; only mypy reads the class as one
    Protocol = object

KernelDict = t.Dict[str, t.Any]
# A service as the kernel reports it: the values of a kernel service dict in the order of SERVICE_KEYS.
ServiceRow = t.Tuple[t.Any, ...]
SERVICE_KEYS = _ipvs_codec.SERVICE_KEYS
# A real server as the kernel reports it: (address family, the 16 address bytes, the values of DEST_KEYS).
DestRow = t.Tuple[int, bytes, t.Tuple[int, ...]]
DEST_KEYS = _ipvs_codec.DEST_KEYS
# Counters where asked: {"stats": {...}} for a service, plus active_conns, inact_conns, persist_conns for a real server.
Counters = t.Optional[KernelDict]
# What the engine applies: a service or real-server operation, a change of timeouts, a sync daemon start or stop.
Change = t.Union[Operation, TimeoutsOperation, DaemonOperation]


class Kernel(Protocol):
    """What the engine needs of the kernel (one namespace's IPVS)."""

    batch_size: int

    def service_rows(self, counters: bool = False) -> t.List[t.Tuple[ServiceRow, Counters]]:
        """Every service (one dump), with its counters when asked (else None)."""

    def dest_rows(self, service: KernelDict, counters: bool = False) -> t.List[t.Tuple[DestRow, Counters]]:
        """The real servers of `service` (a kernel service dict) in one dump; IpvsKernelError if it is gone."""

    def dests(self, service: KernelDict, stats: bool = True) -> t.List[KernelDict]:
        """The real servers of `service` as kernel dest dicts with their connection counts (for polling a drain)."""

    def timeouts(self) -> KernelDict:
        """{"tcp": int, "tcpfin": int, "udp": int}"""

    def daemons(self) -> t.List[KernelDict]:
        """The running sync daemons as daemon dicts (docs/internals.md)."""

    def info(self) -> KernelDict:
        """{"version": str, "conn_tab_size": int}"""

    def connections(self) -> t.List[KernelDict]:
        """The connection table (/proc/net/ip_vs_conn of the namespace), as _conntable reads it."""

    def sysctls(self, names: t.Sequence[str]) -> t.Dict[str, t.Optional[int]]:
        """The values of these sysctls under net.ipv4.vs of the namespace (None where one cannot be read)."""

    def send_batch(self, changes: t.Sequence[Change]) -> t.List[t.Optional[IpvsKernelError]]:
        """Every change of one batch, pipelined: one outcome each, None where the kernel took it."""


# ------------------------------------------------------------------ the netlink client behind the Protocol

_OPERATION_CMDS = {
    "add_service": IPVS_CMD_NEW_SERVICE,
    "edit_service": IPVS_CMD_SET_SERVICE,
    "delete_service": IPVS_CMD_DEL_SERVICE,
    "add_real_server": IPVS_CMD_NEW_DEST,
    "edit_real_server": IPVS_CMD_SET_DEST,
    "delete_real_server": IPVS_CMD_DEL_DEST,
}


def operation_request(operation: Operation, nests: t.Optional[t.Dict[t.Any, t.Any]] = None) -> _ipvs_codec.IpvsRequest:
    """The netlink request of a service or real-server operation, packed with struct by the codec (_ipvs_codec: about
    2 microseconds a request, pyroute2's generic encoder about 250). `nests` caches the packed nests by object for one
    session: a plan reuses its service and real server objects (a pool's operations share the service, pools share real
    servers); each entry keeps its object, so that no id is reused while the cache lives."""
    cmd = _OPERATION_CMDS[operation.action]
    if operation.real_server is None:
        if operation.action == "delete_service":
            return _ipvs_codec.IpvsRequest(cmd, _ipvs_codec.service_nest(service_to_kernel(t.cast(t.Any, operation.before or operation.service)), full=False))
        return _ipvs_codec.IpvsRequest(cmd, _ipvs_codec.service_nest(service_to_kernel(operation.service), full=True))
    cache = {} if nests is None else nests
    service, real_server = operation.service, operation.real_server
    full = operation.action != "delete_real_server"
    service_key, dest_key = ("service", id(service)), (full, id(real_server))
    service_entry = cache.get(service_key)
    if service_entry is None:
        service_entry = cache[service_key] = (service, _ipvs_codec.service_nest(service_to_kernel(service), full=False))
    dest_entry = cache.get(dest_key)
    if dest_entry is None:
        dest_entry = cache[dest_key] = (real_server, _ipvs_codec.dest_nest(real_server_to_kernel(real_server, service), full=full))
    return _ipvs_codec.IpvsRequest(cmd, service_entry[1] + dest_entry[1])


def change_request(change: Change, nests: t.Optional[t.Dict[t.Any, t.Any]] = None) -> _ipvs_codec.IpvsRequest:
    """The netlink request of any change the engine applies."""
    if isinstance(change, Operation):
        return operation_request(change, nests)
    if isinstance(change, TimeoutsOperation):
        wanted = change.timeouts.to_kernel()
        return _ipvs_codec.set_timeouts_request(wanted["tcp"], wanted["tcpfin"], wanted["udp"])
    if change.action == "start":
        return _ipvs_codec.add_daemon_request(change.daemon.to_kernel())
    return _ipvs_codec.delete_daemon_request(change.daemon.role)


class NetlinkKernel:
    """Kernel over the codec's IpvsClient: reads with the fast path (_ipvs_codec) unless counters are asked for."""

    def __init__(self, netlink: _ipvs_client.IpvsClient, netns: t.Optional[str]) -> None:
        self.netlink = netlink
        self.netns = netns
        self.batch_size = netlink.batch_size
        self._nests: t.Dict[t.Any, t.Any] = {}

    def service_rows(self, counters: bool = False) -> t.List[t.Tuple[ServiceRow, Counters]]:
        if counters:
            return [(tuple(entry.get(key) for key in SERVICE_KEYS), {"stats": entry.get("stats") or {}}) for entry in self.netlink.services()]
        replies = self.netlink.dump_raw(_ipvs_codec.IpvsRequest(IPVS_CMD_GET_SERVICE, b"", "list services"))
        return [(_ipvs_codec.service_values(reply.data), None) for reply in replies]

    def dest_rows(self, service: KernelDict, counters: bool = False) -> t.List[t.Tuple[DestRow, Counters]]:
        if counters:
            rows: t.List[t.Tuple[DestRow, Counters]] = []
            for entry in self.netlink.dests(service):
                af = entry["af"]
                row = (af, _ipvs_codec.packed_address(af, entry["addr"]), tuple(entry[key] for key in DEST_KEYS))
                found: KernelDict = {key: entry.get(key, 0) for key in ("active_conns", "inact_conns", "persist_conns")}
                found["stats"] = entry.get("stats") or {}
                rows.append((row, found))
            return rows
        request = _ipvs_codec.IpvsRequest(IPVS_CMD_GET_DEST, _ipvs_codec.service_nest(service, full=False), "list real servers")
        af = service["af"]
        return [(_ipvs_codec.dest_values(reply.data, af), None) for reply in self.netlink.dump_raw(request)]

    def dests(self, service: KernelDict, stats: bool = True) -> t.List[KernelDict]:
        return self.netlink.dests(service, stats=stats)

    def timeouts(self) -> KernelDict:
        return self.netlink.timeouts()

    def daemons(self) -> t.List[KernelDict]:
        return self.netlink.daemons()

    def info(self) -> KernelDict:
        return self.netlink.info()

    def connections(self) -> t.List[KernelDict]:
        with _netns.in_netns(self.netns):
            return _conntable.read("/proc/thread-self/net/ip_vs_conn")

    def sysctls(self, names: t.Sequence[str]) -> t.Dict[str, t.Optional[int]]:
        values: t.Dict[str, t.Optional[int]] = {}
        # /proc/sys/net shows the network namespace of the thread that opens the file.
        with _netns.in_netns(self.netns):
            for name in names:
                try:
                    with open(f"/proc/sys/net/ipv4/vs/{name}", encoding="ascii") as handle:
                        values[name] = int(handle.read().split()[0])
                except (OSError, ValueError, IndexError):
                    values[name] = None
        return values

    def send_batch(self, changes: t.Sequence[Change]) -> t.List[t.Optional[IpvsKernelError]]:
        return self.netlink.send_batch([change_request(change, self._nests) for change in changes])


def row_service(row: ServiceRow) -> KernelDict:
    """A kernel service dict of a service row."""
    return dict(zip(SERVICE_KEYS, row))


def row_dest(row: DestRow) -> KernelDict:
    """A kernel dest dict of a real-server row."""
    af, raw_address, fields = row
    return dict(zip(DEST_KEYS, fields), af=af, addr=_ipvs_codec.address_text(af, raw_address))


def dest_row(dest: KernelDict) -> DestRow:
    """The row of a kernel dest dict (as real_server_to_kernel gives): what the kernel reports for it."""
    af = dest["af"]
    return (af, _ipvs_codec.packed_address(af, dest["addr"]), tuple(dest[key] for key in DEST_KEYS))


# ------------------------------------------------------------------ check mode: what earlier tasks would create
#
# See _check_mode. For IPVS: a network namespace that does not exist, an ip_vs that cannot load,
# and (where ip_vs is not loaded, so every table is empty) a missing pyroute2 read as a new table;
# a real server's missing virtual service is assumed by _service_task.

# What GET_CONFIG answers in a new network namespace (the kernel's defaults, ip_vs_proto_tcp.c / _udp.c).
NEW_TABLE_TIMEOUTS = {"tcp": 900, "tcpfin": 120, "udp": 300}
# And what its net.ipv4.vs sysctls hold (ip_vs_ctl.c).
NEW_TABLE_SYSCTLS = {"expire_quiescent_template": 0, "expire_nodest_conn": 0, "sync_persist_mode": 0, "sloppy_tcp": 0}


class NewTable:
    """Stands in for the kernel in check mode where there is no table yet: it reads what a new one holds (no services,
    no real servers, no sync daemons, the default timeouts). It has no way to change anything."""

    batch_size = _netlink_socket.DEFAULT_BATCH_SIZE

    def service_rows(self, counters: bool = False) -> t.List[t.Tuple[ServiceRow, Counters]]:  # pylint: disable=unused-argument
        return []

    def dest_rows(self, service: KernelDict, counters: bool = False) -> t.List[t.Tuple[DestRow, Counters]]:  # pylint: disable=unused-argument
        return []

    def dests(self, service: KernelDict, stats: bool = True) -> t.List[KernelDict]:  # pylint: disable=unused-argument
        return []

    def timeouts(self) -> KernelDict:
        return dict(NEW_TABLE_TIMEOUTS)

    def daemons(self) -> t.List[KernelDict]:
        return []

    def info(self) -> KernelDict:
        return {"version": None, "conn_tab_size": None}

    def connections(self) -> t.List[KernelDict]:
        return []

    def sysctls(self, names: t.Sequence[str]) -> t.Dict[str, t.Optional[int]]:
        # A new namespace's IPVS sysctls hold the kernel's defaults.
        return {name: NEW_TABLE_SYSCTLS.get(name) for name in names}

    def send_batch(self, changes: t.Sequence[Change]) -> t.List[t.Optional[IpvsKernelError]]:
        raise AssertionError("check mode sends nothing")


@contextlib.contextmanager
def connect(netns: t.Optional[str]) -> t.Iterator[Kernel]:
    """The IPVS table of `netns` (IpvsNamespaceMissing, IpvsUnavailable...): the unit tests' FakeKernel takes its place."""
    with _ipvs_client.IpvsClient(netns=netns) as netlink:
        yield NetlinkKernel(netlink, netns)


def ip_vs_loaded() -> bool:
    """Whether the ip_vs kernel module is loaded (or built in); without it every table of every namespace is empty."""
    return os.path.exists("/sys/module/ip_vs")


def pyroute2_missing() -> bool:
    return _pyroute2.PYROUTE2_IMPORT_ERROR is not None


def require_pyroute2(module: AnsibleModule) -> None:
    """Fail with the pyroute2 message, unless pyroute2 is usable or check mode can do without it (see session)."""
    if pyroute2_missing() and not (module.check_mode and not ip_vs_loaded()):
        module.fail_json(msg=_pyroute2.pyroute2_missing_message(), exception=_pyroute2.PYROUTE2_IMPORT_ERROR_TRACEBACK,
                         pyroute2_version=_pyroute2.PYROUTE2_VERSION)


@contextlib.contextmanager
def session(netns: t.Optional[str], module: t.Optional[AnsibleModule] = None) -> t.Iterator[Kernel]:
    """The IPVS table of `netns`. With `module` in check mode, a namespace that does not exist, an ip_vs that cannot load,
    or (where ip_vs is not loaded) a missing pyroute2 give a NewTable and a warning instead of an error."""
    check = module is not None and module.check_mode
    missing: t.Optional[str] = None
    verb = "creates"
    stack = contextlib.ExitStack()
    kernel: t.Optional[Kernel] = None
    if check and pyroute2_missing():
        missing, verb = f"{_pyroute2.pyroute2_missing_message()}. ip_vs is not loaded, so the IPVS table is empty", "installs"
    else:
        try:
            kernel = stack.enter_context(connect(netns))
        except IpvsNamespaceMissing as exc:
            if not check:
                raise
            missing = f"{exc} (a new namespace's IPVS table is empty)"
        except IpvsUnavailable as exc:
            if not check:
                raise
            missing, verb = f"{exc} (without it the IPVS table is empty)", "loads"
    if kernel is not None:
        with stack:
            yield kernel
        return
    _check_mode.assume(t.cast(AnsibleModule, module).warn, t.cast(str, missing), verb)
    yield NewTable()


def interface_exists(netns: t.Optional[str], name: str) -> bool:
    """Whether network interface `name` exists in `netns` (False when the namespace does not exist either)."""
    try:
        with _netns.in_netns(netns):
            socket.if_nametoindex(name)
    except (OSError, IpvsError):
        return False
    return True
