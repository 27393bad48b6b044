# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Layer 1: IPVS over generic netlink <-> kernel dicts (see docs/internals.md).

``IpvsNetlink`` talks to the kernel; the ``*_request`` functions build change requests that it
sends one at a time or pipelined (``send_batch``); the ``*_from_message`` functions turn replies
into kernel dicts. This layer knows attribute numbers, types and byte orders, nothing about
defaults or Ansible.

pyroute2 is used for what is stable across its versions (0.5.0 to 0.9.x; Debian 12 has 0.7.2): the
``genlmsg`` / ``nla`` encoders and decoders (see ``_netlink``), ``ctrlmsg`` for the family lookup,
``NetlinkError`` and the ``NLM_F_*`` constants. The socket I/O is our own, on a plain
``AF_NETLINK`` socket, because pyroute2's socket classes differ between those versions (threads
and a backlog in 0.7, asyncio in 0.9, no ``netns`` argument in 0.7, a netns created on demand in
0.9) and neither can pipeline requests and report one result per request.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import errno
import os
import socket
import struct
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import (
    IpvsError,
    IpvsKernelError,
    IpvsNamespaceError,
    IpvsNamespaceMissing,
    IpvsPermissionError,
    IpvsUnavailable,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._netlink import (
    COMMAND_NAMES,
    CTRL_CMD_GETFAMILY,
    GENL_ID_CTRL,
    IP_VS_STATE_BACKUP,
    IP_VS_STATE_MASTER,
    IP_VS_SVC_F_HASHED,
    IPVS_CMD_DEL_DAEMON,
    IPVS_CMD_DEL_DEST,
    IPVS_CMD_DEL_SERVICE,
    IPVS_CMD_FLUSH,
    IPVS_CMD_GET_CONFIG,
    IPVS_CMD_GET_DAEMON,
    IPVS_CMD_GET_DEST,
    IPVS_CMD_GET_INFO,
    IPVS_CMD_GET_SERVICE,
    IPVS_CMD_NEW_DAEMON,
    IPVS_CMD_NEW_DEST,
    IPVS_CMD_NEW_SERVICE,
    IPVS_CMD_SET_CONFIG,
    IPVS_CMD_SET_DEST,
    IPVS_CMD_SET_SERVICE,
    IPVS_CMD_ZERO,
    IPVS_GENL_NAME,
    IPVS_GENL_VERSION,
    NETLINK_GENERIC,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_IMPORT_ERROR_TRACEBACK,
    PYROUTE2_VERSION,
    IpvsInfoMessage,
    IpvsMessage,
    NetlinkError,
    ctrlmsg,
    pyroute2_missing_message,
)

__all__ = [
    "PYROUTE2_IMPORT_ERROR",
    "PYROUTE2_IMPORT_ERROR_TRACEBACK",
    "PYROUTE2_VERSION",
    "pyroute2_missing_message",
    "in_netns",
    "IpvsError",
    "IpvsUnavailable",
    "IpvsNamespaceError",
    "IpvsNamespaceMissing",
    "IpvsKernelError",
    "IpvsPermissionError",
    "IpvsRequest",
    "IpvsNetlink",
    "add_service_request",
    "edit_service_request",
    "delete_service_request",
    "add_dest_request",
    "edit_dest_request",
    "delete_dest_request",
    "set_timeouts_request",
    "add_daemon_request",
    "delete_daemon_request",
    "zero_request",
    "flush_request",
]

KernelDict = t.Dict[str, t.Any]

STATS_KEYS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")
PROTOCOL_NAMES = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp", 132: "sctp"}
DAEMON_STATES = {IP_VS_STATE_MASTER: "master", IP_VS_STATE_BACKUP: "backup"}

NETNS_RUN_DIR = "/var/run/netns"  # where `ip netns add` binds its namespaces
CLONE_NEWNET = 0x40000000
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # error acks without the request's payload
NETLINK_EXT_ACK = 11  # the kernel's own error text, when it gives one
NLMSGERR_ATTR_MSG = 1
_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
_ERROR_CODE = struct.Struct("=i")
_ALL_FLAGS = 0xFFFFFFFF
RECV_BUFFER = 1 << 18  # a dump part is at most 32 KiB; anything above is never truncated
SOCKET_BUFFER = 1 << 20
DEFAULT_BATCH_SIZE = 64  # requests per sendmsg(): their acks must fit the receive buffer
DEFAULT_TIMEOUT = 60.0


# ---------------------------------------------------------------------------------------------
# Errors


_DEST_COMMANDS = (IPVS_CMD_NEW_DEST, IPVS_CMD_SET_DEST, IPVS_CMD_DEL_DEST, IPVS_CMD_GET_DEST)
_DAEMON_COMMANDS = (IPVS_CMD_NEW_DAEMON, IPVS_CMD_DEL_DAEMON, IPVS_CMD_GET_DAEMON)


def explain_errno(error_number: int, cmd: int | None = None) -> str:
    """A human sentence for a kernel error code, in the context of an IPVS command."""
    if error_number in (errno.EPERM, errno.EACCES):
        return "permission denied: managing IPVS needs root / CAP_NET_ADMIN in the network namespace"
    if error_number == errno.EEXIST:
        if cmd in _DEST_COMMANDS:
            return "the real server already exists in this virtual service"
        if cmd in _DAEMON_COMMANDS:
            return "a sync daemon in this state is already running"
        return "the virtual service already exists"
    if error_number == errno.ESRCH:
        if cmd in _DAEMON_COMMANDS:
            return "no sync daemon in this state is running"
        return "the virtual service does not exist"
    if error_number == errno.ENOENT:
        if cmd in _DEST_COMMANDS:
            return "the real server does not exist in this virtual service"
        return "scheduler or persistence engine module not available (unknown name, or its kernel module cannot be loaded)"
    if error_number == errno.EINVAL:
        return "invalid argument: the kernel rejected a value or a combination of values"
    if error_number == errno.ERANGE:
        return "value out of range: the weight must be >= 0 and the lower threshold must not exceed the upper one"
    if error_number == errno.EAFNOSUPPORT:
        return "address family not supported by this kernel's IPVS (IPv6 disabled?)"
    if error_number == errno.ENOMEM:
        return "the kernel is out of memory"
    return os.strerror(error_number)


def kernel_error(error_number: int, request: IpvsRequest | None = None, detail: str | None = None) -> IpvsKernelError:
    """The exception for a kernel error code: IpvsPermissionError for EPERM / EACCES."""
    what = request.what if request is not None else None
    text = explain_errno(error_number, request.cmd if request is not None else None)
    name = errno.errorcode.get(error_number, str(error_number))
    message = f"{what}: {text} ({name})" if what else f"{text} ({name})"
    if detail:
        message += f"; the kernel says: {detail}"
    cls = IpvsPermissionError if error_number in (errno.EPERM, errno.EACCES) else IpvsKernelError
    return cls(error_number, message, request)


# ---------------------------------------------------------------------------------------------
# Values: addresses, ports, netmasks


def _family_of(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def pack_addr(af: int, addr: str) -> bytes:
    """A textual address as the 16 bytes of ``union nf_inet_addr`` (IPv4 in the first 4)."""
    if af not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError(f"address family {af} is neither AF_INET (2) nor AF_INET6 (10)")
    try:
        raw = socket.inet_pton(af, addr)
    except (OSError, TypeError) as exc:
        family = "IPv4" if af == socket.AF_INET else "IPv6"
        raise ValueError(f"{addr!r} is not an {family} address") from exc
    return raw.ljust(16, b"\0")


def unpack_addr(af: int, raw: bytes) -> str:
    """The textual form of an address attribute (4 or 16 bytes, IPv4 in the first 4)."""
    if af == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, bytes(raw[:4]))
    return socket.inet_ntop(socket.AF_INET6, bytes(raw[:16]).ljust(16, b"\0"))


def pack_netmask(af: int, netmask: int) -> bytes:
    """NETMASK as the kernel stores it: IPv4 the mask in network byte order, IPv6 a prefix length (native u32)."""
    if af == socket.AF_INET:
        return struct.pack(">I", netmask)
    return struct.pack("=I", netmask)


def unpack_netmask(af: int, raw: bytes) -> int:
    """NETMASK as a kernel dict holds it: IPv4 the mask as a host-order integer, IPv6 the prefix length."""
    raw = bytes(raw[:4]).ljust(4, b"\0")
    if af == socket.AF_INET:
        return int(struct.unpack(">I", raw)[0])
    return int(struct.unpack("=I", raw)[0])


def _check_u(value: t.Any, bits: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise ValueError(f"{what} must be an integer from 0 to {(1 << bits) - 1}, not {value!r}")
    return value


def _required(entry: t.Mapping[str, t.Any], key: str, kind: str) -> t.Any:
    if entry.get(key) is None:
        raise ValueError(f"the {kind} dict has no {key!r}")
    return entry[key]


def describe_service(s: t.Mapping[str, t.Any]) -> str:
    """`TCP 198.51.100.1:80`, `UDP [2001:db8::1]:53`, `fwmark 1 (IPv6)`: for messages."""
    af = s.get("af", socket.AF_INET)
    if s.get("fwmark"):
        return f"fwmark {s['fwmark']}" + (" (IPv6)" if af == socket.AF_INET6 else "")
    proto = PROTOCOL_NAMES.get(s.get("protocol", 0), f"protocol {s.get('protocol')}").upper()
    return f"{proto} {_endpoint(s.get('addr'), s.get('port', 0))}"


def describe_dest(d: t.Mapping[str, t.Any]) -> str:
    """`192.0.2.11:80`, `[2001:db8::11]:80`: for messages."""
    return _endpoint(d.get("addr"), d.get("port", 0))


def _endpoint(addr: t.Any, port: t.Any) -> str:
    text = str(addr)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


# ---------------------------------------------------------------------------------------------
# Kernel dicts -> attributes


def service_attrs(s: t.Mapping[str, t.Any], full: bool) -> list[list[t.Any]]:
    """The attributes nested in IPVS_CMD_ATTR_SERVICE.

    The key: AF and FWMARK, or AF, PROTOCOL, ADDR and PORT. A full entry (NEW / SET_SERVICE:
    the kernel answers EINVAL without one) adds SCHED_NAME, FLAGS, TIMEOUT, NETMASK and PE_NAME.
    HASHED is kernel-internal: it is cleared and masked out, so that the kernel keeps its own.
    """
    af = _required(s, "af", "service")
    if af not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError(f"service af must be 2 (AF_INET) or 10 (AF_INET6), not {af!r}")
    attrs: list[list[t.Any]] = [["IPVS_SVC_ATTR_AF", af]]
    if s.get("fwmark"):
        attrs.append(["IPVS_SVC_ATTR_FWMARK", _check_u(s["fwmark"], 32, "fwmark")])
    else:
        attrs.append(["IPVS_SVC_ATTR_PROTOCOL", _check_u(_required(s, "protocol", "service"), 16, "protocol")])
        attrs.append(["IPVS_SVC_ATTR_ADDR", pack_addr(af, _required(s, "addr", "service"))])
        attrs.append(["IPVS_SVC_ATTR_PORT", _check_u(s.get("port", 0), 16, "port")])
    if full:
        flags = _check_u(_required(s, "flags", "service"), 32, "flags")
        attrs.append(["IPVS_SVC_ATTR_SCHED_NAME", str(_required(s, "sched_name", "service"))])
        attrs.append(["IPVS_SVC_ATTR_FLAGS", {"flags": flags & ~IP_VS_SVC_F_HASHED, "mask": _ALL_FLAGS & ~IP_VS_SVC_F_HASHED}])
        attrs.append(["IPVS_SVC_ATTR_TIMEOUT", _check_u(_required(s, "timeout", "service"), 32, "timeout")])
        attrs.append(["IPVS_SVC_ATTR_NETMASK", pack_netmask(af, _check_u(_required(s, "netmask", "service"), 32, "netmask"))])
        if s.get("pe_name"):
            attrs.append(["IPVS_SVC_ATTR_PE_NAME", str(s["pe_name"])])
    return attrs


def dest_attrs(d: t.Mapping[str, t.Any], full: bool) -> list[list[t.Any]]:
    """The attributes nested in IPVS_CMD_ATTR_DEST.

    The key: ADDR, PORT and ADDR_FAMILY (without it the kernel assumes the service's family).
    A full entry (NEW / SET_DEST) adds FWD_METHOD, WEIGHT, U_THRESH, L_THRESH, and the TUN_*
    attributes the dict has (absent means 0 to the kernel).
    """
    addr = _required(d, "addr", "dest")
    af = d.get("af") or _family_of(str(addr))
    attrs: list[list[t.Any]] = [
        ["IPVS_DEST_ATTR_ADDR", pack_addr(af, addr)],
        ["IPVS_DEST_ATTR_PORT", _check_u(d.get("port", 0), 16, "port")],
        ["IPVS_DEST_ATTR_ADDR_FAMILY", af],
    ]
    if full:
        attrs.append(["IPVS_DEST_ATTR_FWD_METHOD", _check_u(_required(d, "fwd_method", "dest"), 32, "fwd_method")])
        attrs.append(["IPVS_DEST_ATTR_WEIGHT", _check_u(_required(d, "weight", "dest"), 32, "weight")])
        attrs.append(["IPVS_DEST_ATTR_U_THRESH", _check_u(d.get("u_thresh", 0), 32, "u_thresh")])
        attrs.append(["IPVS_DEST_ATTR_L_THRESH", _check_u(d.get("l_thresh", 0), 32, "l_thresh")])
        if d.get("tun_type") is not None:
            attrs.append(["IPVS_DEST_ATTR_TUN_TYPE", _check_u(d["tun_type"], 8, "tun_type")])
        if d.get("tun_port") is not None:
            attrs.append(["IPVS_DEST_ATTR_TUN_PORT", _check_u(d["tun_port"], 16, "tun_port")])
        if d.get("tun_flags") is not None:
            attrs.append(["IPVS_DEST_ATTR_TUN_FLAGS", _check_u(d["tun_flags"], 16, "tun_flags")])
    return attrs


def _daemon_state(state: t.Any) -> int:
    if isinstance(state, str):
        for number, name in DAEMON_STATES.items():
            if name == state:
                return number
    elif state in DAEMON_STATES:
        return int(state)
    raise ValueError(f"daemon state must be 'master' or 'backup', not {state!r}")


def daemon_attrs(d: t.Mapping[str, t.Any]) -> list[list[t.Any]]:
    """The attributes nested in IPVS_CMD_ATTR_DAEMON for NEW_DAEMON (state, interface, sync id required)."""
    attrs: list[list[t.Any]] = [
        ["IPVS_DAEMON_ATTR_STATE", _daemon_state(_required(d, "state", "daemon"))],
        ["IPVS_DAEMON_ATTR_MCAST_IFN", str(_required(d, "mcast_ifn", "daemon"))],
        ["IPVS_DAEMON_ATTR_SYNC_ID", _check_u(d.get("sync_id", 0), 32, "sync_id")],
    ]
    if d.get("sync_maxlen"):
        attrs.append(["IPVS_DAEMON_ATTR_SYNC_MAXLEN", _check_u(d["sync_maxlen"], 16, "sync_maxlen")])
    group = d.get("mcast_group")
    if group:
        if _family_of(group) == socket.AF_INET6:
            attrs.append(["IPVS_DAEMON_ATTR_MCAST_GROUP6", pack_addr(socket.AF_INET6, group)])
        else:
            attrs.append(["IPVS_DAEMON_ATTR_MCAST_GROUP", pack_addr(socket.AF_INET, group)[:4]])
    if d.get("mcast_port"):
        attrs.append(["IPVS_DAEMON_ATTR_MCAST_PORT", _check_u(d["mcast_port"], 16, "mcast_port")])
    if d.get("mcast_ttl"):
        attrs.append(["IPVS_DAEMON_ATTR_MCAST_TTL", _check_u(d["mcast_ttl"], 8, "mcast_ttl")])
    return attrs


# ---------------------------------------------------------------------------------------------
# Requests


class IpvsRequest:
    """One IPVS command with its attributes, ready to be encoded (any number of times)."""

    __slots__ = ("cmd", "attrs", "what")

    def __init__(self, cmd: int, attrs: list[list[t.Any]], what: str) -> None:
        self.cmd = cmd
        self.attrs = attrs
        self.what = what

    def __repr__(self) -> str:
        return f"IpvsRequest({COMMAND_NAMES.get(self.cmd, self.cmd)}, {self.what!r})"

    def message(self) -> IpvsMessage:
        """A fresh, unencoded message (pyroute2 rewrites the attribute lists it encodes: copy them)."""
        msg = IpvsMessage()
        msg["cmd"] = self.cmd
        msg["version"] = IPVS_GENL_VERSION
        msg["reserved"] = 0
        msg["attrs"] = copy.deepcopy(self.attrs)
        return msg

    def encode(self, family_id: int, seq: int, flags: int = 0) -> bytes:
        """The request on the wire: a netlink header (type = the family id), genl header, attributes."""
        msg = self.message()
        msg["header"]["type"] = family_id
        msg["header"]["flags"] = flags or (NLM_F_REQUEST | NLM_F_ACK)
        msg["header"]["sequence_number"] = seq
        msg["header"]["pid"] = 0
        msg.encode()
        return bytes(msg.data)


def _nest(name: str, attrs: list[list[t.Any]]) -> list[t.Any]:
    return [name, {"attrs": attrs}]


def add_service_request(s: t.Mapping[str, t.Any]) -> IpvsRequest:
    """NEW_SERVICE with the full entry (ipvsadm -A)."""
    return IpvsRequest(IPVS_CMD_NEW_SERVICE, [_nest("IPVS_CMD_ATTR_SERVICE", service_attrs(s, full=True))], f"add service {describe_service(s)}")


def edit_service_request(s: t.Mapping[str, t.Any]) -> IpvsRequest:
    """SET_SERVICE with the full entry (ipvsadm -E): edits in place, connections survive."""
    return IpvsRequest(IPVS_CMD_SET_SERVICE, [_nest("IPVS_CMD_ATTR_SERVICE", service_attrs(s, full=True))], f"edit service {describe_service(s)}")


def delete_service_request(s: t.Mapping[str, t.Any]) -> IpvsRequest:
    """DEL_SERVICE with the service key (ipvsadm -D)."""
    return IpvsRequest(IPVS_CMD_DEL_SERVICE, [_nest("IPVS_CMD_ATTR_SERVICE", service_attrs(s, full=False))], f"delete service {describe_service(s)}")


def _dest_request(cmd: int, verb: str, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any], full: bool) -> IpvsRequest:
    attrs = [_nest("IPVS_CMD_ATTR_SERVICE", service_attrs(s, full=False)), _nest("IPVS_CMD_ATTR_DEST", dest_attrs(d, full=full))]
    return IpvsRequest(cmd, attrs, f"{verb} real server {describe_dest(d)} of service {describe_service(s)}")


def add_dest_request(s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> IpvsRequest:
    """NEW_DEST (ipvsadm -a): the service key and the full dest entry."""
    return _dest_request(IPVS_CMD_NEW_DEST, "add", s, d, full=True)


def edit_dest_request(s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> IpvsRequest:
    """SET_DEST (ipvsadm -e): the service key and the full dest entry."""
    return _dest_request(IPVS_CMD_SET_DEST, "edit", s, d, full=True)


def delete_dest_request(s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> IpvsRequest:
    """DEL_DEST (ipvsadm -d): the service key and the dest key."""
    return _dest_request(IPVS_CMD_DEL_DEST, "delete", s, d, full=False)


def set_timeouts_request(tcp: int | None, tcpfin: int | None, udp: int | None) -> IpvsRequest:
    """SET_CONFIG (ipvsadm --set): seconds; 0 or None leaves a timeout unchanged."""
    attrs = []
    for name, value in (("IPVS_CMD_ATTR_TIMEOUT_TCP", tcp), ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", tcpfin), ("IPVS_CMD_ATTR_TIMEOUT_UDP", udp)):
        if value is not None:
            attrs.append([name, _check_u(value, 32, name.rsplit("_ATTR_", 1)[1].lower())])
    return IpvsRequest(IPVS_CMD_SET_CONFIG, attrs, f"set timeouts tcp={tcp} tcpfin={tcpfin} udp={udp}")


def add_daemon_request(d: t.Mapping[str, t.Any]) -> IpvsRequest:
    """NEW_DAEMON (ipvsadm --start-daemon)."""
    return IpvsRequest(IPVS_CMD_NEW_DAEMON, [_nest("IPVS_CMD_ATTR_DAEMON", daemon_attrs(d))], f"start {d.get('state')} sync daemon")


def delete_daemon_request(state: str | int) -> IpvsRequest:
    """DEL_DAEMON (ipvsadm --stop-daemon)."""
    attrs = [["IPVS_DAEMON_ATTR_STATE", _daemon_state(state)]]
    return IpvsRequest(IPVS_CMD_DEL_DAEMON, [_nest("IPVS_CMD_ATTR_DAEMON", attrs)], f"stop {DAEMON_STATES[_daemon_state(state)]} sync daemon")


def zero_request(service: t.Mapping[str, t.Any] | None = None) -> IpvsRequest:
    """ZERO (ipvsadm -Z): the counters of one service, or of all."""
    if service is None:
        return IpvsRequest(IPVS_CMD_ZERO, [], "zero all counters")
    attrs = [_nest("IPVS_CMD_ATTR_SERVICE", service_attrs(service, full=False))]
    return IpvsRequest(IPVS_CMD_ZERO, attrs, f"zero counters of service {describe_service(service)}")


def flush_request() -> IpvsRequest:
    """FLUSH (ipvsadm -C): every service of the network namespace."""
    return IpvsRequest(IPVS_CMD_FLUSH, [], "flush the IPVS table")


def _get_request(cmd: int, attrs: list[list[t.Any]] | None = None, what: str = "") -> IpvsRequest:
    return IpvsRequest(cmd, attrs or [], what or f"read {COMMAND_NAMES[cmd][4:].lower()}")


# ---------------------------------------------------------------------------------------------
# Replies -> kernel dicts


class _Attrs:
    """The attributes of a decoded message or nest, by name, each decoded only when asked for.

    pyroute2's get_attr() scans (and decodes) the whole list at every call; one pass is enough.
    """

    __slots__ = ("_slots",)

    def __init__(self, msg: t.Any) -> None:
        self._slots: dict[str, t.Any] = {}
        for slot in msg.get("attrs", ()):
            self._slots.setdefault(slot[0], slot)

    def get(self, name: str, default: t.Any = None) -> t.Any:
        slot = self._slots.get(name)
        if slot is None:
            return default
        value = slot[1]
        return default if value is None else value

    def nest(self, name: str) -> _Attrs | None:
        value = self.get(name)
        return None if value is None else _Attrs(value)


def stats_from_nla(attrs: _Attrs, stats_name: str, stats64_name: str) -> KernelDict | None:
    """The counters, from STATS64 when the kernel sent it (3.12+), else from STATS; None without either."""
    source = attrs.nest(stats64_name) or attrs.nest(stats_name)
    if source is None:
        return None
    return {key: int(source.get(f"IPVS_STATS_ATTR_{key.upper()}", 0)) for key in STATS_KEYS}


def service_from_nla(svc: t.Any, stats: bool = True) -> KernelDict:
    """A kernel service dict from a decoded IPVS_CMD_ATTR_SERVICE (``stats=False``: skip decoding the counters)."""
    attrs = _Attrs(svc)
    af = int(attrs.get("IPVS_SVC_ATTR_AF", socket.AF_INET))
    fwmark = int(attrs.get("IPVS_SVC_ATTR_FWMARK", 0))
    flags_nla = attrs.get("IPVS_SVC_ATTR_FLAGS")
    flags = int(flags_nla["flags"]) & int(flags_nla["mask"]) if flags_nla is not None else 0
    raw_addr = attrs.get("IPVS_SVC_ATTR_ADDR")
    netmask = attrs.get("IPVS_SVC_ATTR_NETMASK")
    result: KernelDict = {
        "af": af,
        "protocol": 0 if fwmark else int(attrs.get("IPVS_SVC_ATTR_PROTOCOL", 0)),
        "addr": None if fwmark or raw_addr is None else unpack_addr(af, raw_addr),
        "port": 0 if fwmark else int(attrs.get("IPVS_SVC_ATTR_PORT", 0)),
        "fwmark": fwmark,
        "sched_name": attrs.get("IPVS_SVC_ATTR_SCHED_NAME", ""),
        "flags": flags,
        "timeout": int(attrs.get("IPVS_SVC_ATTR_TIMEOUT", 0)),
        "netmask": unpack_netmask(af, netmask) if netmask is not None else 0,
        "pe_name": attrs.get("IPVS_SVC_ATTR_PE_NAME") or None,
    }
    counters = stats_from_nla(attrs, "IPVS_SVC_ATTR_STATS", "IPVS_SVC_ATTR_STATS64") if stats else None
    if counters is not None:
        result["stats"] = counters
    return result


def dest_from_nla(dest: t.Any, service_af: int = socket.AF_INET, stats: bool = True) -> KernelDict:
    """A kernel dest dict from a decoded IPVS_CMD_ATTR_DEST (kernels before 4.2 send no ADDR_FAMILY)."""
    attrs = _Attrs(dest)
    af = int(attrs.get("IPVS_DEST_ATTR_ADDR_FAMILY", service_af))
    result: KernelDict = {
        "addr": unpack_addr(af, attrs.get("IPVS_DEST_ATTR_ADDR", b"")),
        "port": int(attrs.get("IPVS_DEST_ATTR_PORT", 0)),
        "af": af,
        "fwd_method": int(attrs.get("IPVS_DEST_ATTR_FWD_METHOD", 0)),
        "weight": int(attrs.get("IPVS_DEST_ATTR_WEIGHT", 0)),
        "u_thresh": int(attrs.get("IPVS_DEST_ATTR_U_THRESH", 0)),
        "l_thresh": int(attrs.get("IPVS_DEST_ATTR_L_THRESH", 0)),
        "tun_type": int(attrs.get("IPVS_DEST_ATTR_TUN_TYPE", 0)),
        "tun_port": int(attrs.get("IPVS_DEST_ATTR_TUN_PORT", 0)),
        "tun_flags": int(attrs.get("IPVS_DEST_ATTR_TUN_FLAGS", 0)),
    }
    for key in ("active_conns", "inact_conns", "persist_conns"):
        value = attrs.get(f"IPVS_DEST_ATTR_{key.upper()}")
        if value is not None:
            result[key] = int(value)
    counters = stats_from_nla(attrs, "IPVS_DEST_ATTR_STATS", "IPVS_DEST_ATTR_STATS64") if stats else None
    if counters is not None:
        result["stats"] = counters
    return result


def daemon_from_nla(daemon: t.Any) -> KernelDict:
    """A daemon dict from a decoded IPVS_CMD_ATTR_DAEMON (kernels before 4.3 send only the first three)."""
    attrs = _Attrs(daemon)
    state = int(attrs.get("IPVS_DAEMON_ATTR_STATE", 0))
    group = attrs.get("IPVS_DAEMON_ATTR_MCAST_GROUP")
    group6 = attrs.get("IPVS_DAEMON_ATTR_MCAST_GROUP6")
    if group6 is not None:
        mcast_group: str | None = unpack_addr(socket.AF_INET6, group6)
    elif group is not None:
        mcast_group = unpack_addr(socket.AF_INET, group)
    else:
        mcast_group = None
    return {
        "state": DAEMON_STATES.get(state, str(state)),
        "mcast_ifn": attrs.get("IPVS_DAEMON_ATTR_MCAST_IFN", ""),
        "sync_id": int(attrs.get("IPVS_DAEMON_ATTR_SYNC_ID", 0)),
        "sync_maxlen": int(attrs.get("IPVS_DAEMON_ATTR_SYNC_MAXLEN", 0)),
        "mcast_group": mcast_group,
        "mcast_port": int(attrs.get("IPVS_DAEMON_ATTR_MCAST_PORT", 0)),
        "mcast_ttl": int(attrs.get("IPVS_DAEMON_ATTR_MCAST_TTL", 0)),
    }


def service_from_message(msg: t.Any, stats: bool = True) -> KernelDict:
    """A kernel service dict from a NEW_SERVICE message (a GET_SERVICE reply)."""
    svc = _Attrs(msg).get("IPVS_CMD_ATTR_SERVICE")
    if svc is None:
        raise IpvsError("the kernel sent a service message without IPVS_CMD_ATTR_SERVICE")
    return service_from_nla(svc, stats)


def dest_from_message(msg: t.Any, service_af: int = socket.AF_INET, stats: bool = True) -> KernelDict:
    """A kernel dest dict from a NEW_DEST message (a GET_DEST reply)."""
    dest = _Attrs(msg).get("IPVS_CMD_ATTR_DEST")
    if dest is None:
        raise IpvsError("the kernel sent a real server message without IPVS_CMD_ATTR_DEST")
    return dest_from_nla(dest, service_af, stats)


def daemon_from_message(msg: t.Any) -> KernelDict:
    """A daemon dict from a NEW_DAEMON message (a GET_DAEMON reply)."""
    daemon = _Attrs(msg).get("IPVS_CMD_ATTR_DAEMON")
    if daemon is None:
        raise IpvsError("the kernel sent a daemon message without IPVS_CMD_ATTR_DAEMON")
    return daemon_from_nla(daemon)


def timeouts_from_message(msg: t.Any) -> KernelDict:
    """The timeouts dict from a SET_CONFIG message (the GET_CONFIG reply)."""
    attrs = _Attrs(msg)
    return {
        "tcp": int(attrs.get("IPVS_CMD_ATTR_TIMEOUT_TCP", 0)),
        "tcpfin": int(attrs.get("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", 0)),
        "udp": int(attrs.get("IPVS_CMD_ATTR_TIMEOUT_UDP", 0)),
    }


def info_from_message(msg: t.Any) -> KernelDict:
    """The info dict from an IpvsInfoMessage (the GET_INFO reply): version 0x010201 -> "1.2.1"."""
    attrs = _Attrs(msg)
    code = int(attrs.get("IPVS_INFO_ATTR_VERSION", 0))
    return {
        "version": f"{(code >> 16) & 0xFF}.{(code >> 8) & 0xFF}.{code & 0xFF}",
        "conn_tab_size": int(attrs.get("IPVS_INFO_ATTR_CONN_TAB_SIZE", 0)),
    }


# ---------------------------------------------------------------------------------------------
# The wire


class RawMessage(t.NamedTuple):
    """One netlink message as received: its header fields and its bytes (header included)."""

    type: int
    flags: int
    seq: int
    data: bytes


def split_messages(data: bytes) -> list[RawMessage]:
    """Cut a datagram into its netlink messages."""
    messages = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, mtype, flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            raise IpvsError(f"malformed netlink message from the kernel (length {length} at offset {offset} of {len(data)})")
        messages.append(RawMessage(mtype, flags, seq, bytes(data[offset:offset + length])))
        offset += (length + 3) & ~3
    return messages


def error_of(raw: RawMessage) -> tuple[int, str | None]:
    """The positive errno of an NLMSG_ERROR (0 = ack) or NLMSG_DONE, and the kernel's extended-ack text if any."""
    if len(raw.data) < _NLMSGHDR.size + _ERROR_CODE.size:
        return 0, None
    code = -_ERROR_CODE.unpack_from(raw.data, _NLMSGHDR.size)[0]
    detail = None
    if raw.type == NLMSG_ERROR and code and raw.flags & 0x200:  # NLM_F_ACK_TLVS
        # After the error code: the request's header, and its payload unless NLM_F_CAPPED (0x100).
        offset = _NLMSGHDR.size + _ERROR_CODE.size
        if offset + _NLMSGHDR.size <= len(raw.data):
            inner_length = _NLMSGHDR.unpack_from(raw.data, offset)[0]
            offset += _NLMSGHDR.size if raw.flags & 0x100 else (inner_length + 3) & ~3
        while offset + 4 <= len(raw.data):
            nla_len, nla_type = struct.unpack_from("=HH", raw.data, offset)
            if nla_len < 4:
                break
            if nla_type & 0x3FFF == NLMSGERR_ATTR_MSG:
                detail = raw.data[offset + 4:offset + nla_len].split(b"\0", 1)[0].decode("utf-8", "replace") or None
            offset += (nla_len + 3) & ~3
    return max(code, 0), detail


def decode_message(raw: RawMessage, msg_class: type = IpvsMessage) -> t.Any:
    """Decode one received message with a pyroute2 message class."""
    msg = msg_class(raw.data)
    msg.decode()
    return msg


def _setns(fd: int) -> None:
    """setns(fd, CLONE_NEWNET) for this thread (os.setns exists only from Python 3.12)."""
    os_setns = getattr(os, "setns", None)
    if os_setns is not None:
        os_setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def netns_path(name: str) -> str:
    """The file `ip netns` binds a named namespace to; rejects names that are not plain names."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise IpvsNamespaceError(f"{name!r} is not a network namespace name (as listed by `ip netns list`)")
    return os.path.join(NETNS_RUN_DIR, name)


_T = t.TypeVar("_T")


@contextlib.contextmanager
def in_netns(netns: str | None) -> t.Iterator[None]:
    """This thread inside the named network namespace for the ``with`` block, then back (None: stay where it is).

    Only the calling thread moves. The namespace must exist: it is opened, never created.
    """
    if netns is None:
        yield
        return
    path = netns_path(netns)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise IpvsNamespaceMissing(f"network namespace {netns!r} does not exist (no {path}); create it first (ip netns add {netns})") from None
    except PermissionError as exc:
        raise IpvsPermissionError(exc.errno or errno.EACCES, f"cannot open network namespace {netns!r} ({path}): needs root") from None
    try:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                _setns(target)
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.EACCES):
                    raise IpvsPermissionError(exc.errno, f"cannot enter network namespace {netns!r}: needs root (CAP_SYS_ADMIN)") from None
                if exc.errno == errno.EINVAL:
                    raise IpvsNamespaceError(f"{path} is not a network namespace") from None
                raise
            try:
                yield
            finally:
                # Coming back cannot fail short of a broken system; if it does, the OSError stops everything.
                _setns(own)
        finally:
            os.close(own)
    finally:
        os.close(target)


def open_socket_in_netns(netns: str | None, factory: t.Callable[[], _T]) -> _T:
    """Call ``factory`` (which makes a socket) inside the named network namespace and come back; the socket stays there."""
    with in_netns(netns):
        return factory()


def _netlink_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)


class GenlChannel:
    """A generic-netlink socket of our own: requests, dumps that read every part, pipelined batches."""

    def __init__(self, netns: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            self.sock = open_socket_in_netns(netns, _netlink_socket)
        except OSError as exc:
            if exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                raise IpvsUnavailable(f"generic netlink is not available on this host ({exc.strerror})") from None
            raise
        try:
            self.sock.settimeout(timeout)
            for level, option, value in (
                (socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER),
                (socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER),
                (SOL_NETLINK, NETLINK_CAP_ACK, 1),
                (SOL_NETLINK, NETLINK_EXT_ACK, 1),
            ):
                try:
                    self.sock.setsockopt(level, option, value)
                except OSError:
                    pass  # older kernels: larger acks, no kernel text; nothing breaks
            self.sock.bind((0, 0))
        except BaseException:
            self.sock.close()
            raise
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    def receive(self) -> list[RawMessage]:
        try:
            data, _ancdata, msg_flags, _addr = self.sock.recvmsg(RECV_BUFFER)
        except socket.timeout:
            raise IpvsError("the kernel did not answer a netlink request in time") from None
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                raise IpvsError("netlink receive buffer overrun: some kernel answers were lost") from None
            raise
        if msg_flags & socket.MSG_TRUNC:
            raise IpvsError("a netlink answer was larger than the receive buffer")
        return split_messages(data)

    def exchange(self, data: bytes, seq: int, dump: bool) -> list[RawMessage]:
        """Send one request and collect its answer: every part of a dump up to NLMSG_DONE, or the replies before the ack.

        Raises NetlinkError for a kernel error; messages of other sequence numbers (late acks) are skipped.
        """
        self.send(data)
        replies: list[RawMessage] = []
        while True:
            for raw in self.receive():
                if raw.seq != seq:
                    continue
                if raw.type == NLMSG_ERROR:
                    code, detail = error_of(raw)
                    if code:
                        raise NetlinkError(code, detail or os.strerror(code))
                    if not dump:
                        return replies
                elif raw.type == NLMSG_DONE:
                    code, detail = error_of(raw)
                    if code:
                        raise NetlinkError(code, detail or os.strerror(code))
                    return replies
                else:
                    replies.append(raw)

    def pipeline(self, encoders: t.Sequence[t.Callable[[int], bytes]], chunk: int = DEFAULT_BATCH_SIZE) -> list[tuple[int, str | None]]:
        """Send requests that ask for an ack (NLM_F_ACK), ``chunk`` of them per datagram, before reading their acks.

        ``encoders[i](seq)`` returns request i encoded with that sequence number. Returns, per
        request and in order, (errno, kernel text): (0, None) for success. Replies other than
        acks (to GET requests) are dropped. The kernel acks every request of a datagram, failed
        ones included; a chunk's acks must fit in the receive buffer, hence the chunks.
        """
        results: list[tuple[int, str | None]] = [(0, None)] * len(encoders)
        chunk = max(1, chunk)
        for start in range(0, len(encoders), chunk):
            pending: dict[int, int] = {}
            datagram = bytearray()
            for index in range(start, min(start + chunk, len(encoders))):
                seq = self.next_seq()
                pending[seq] = index
                datagram += encoders[index](seq)
            self.send(bytes(datagram))
            while pending:
                for raw in self.receive():
                    if raw.type == NLMSG_ERROR and raw.seq in pending:
                        results[pending.pop(raw.seq)] = error_of(raw)
        return results

    def resolve_family(self, name: str) -> int:
        """The id of a generic-netlink family (CTRL_CMD_GETFAMILY); NetlinkError ENOENT when it is unknown."""
        msg = ctrlmsg()
        msg["cmd"] = CTRL_CMD_GETFAMILY
        msg["version"] = 1
        msg["attrs"] = [["CTRL_ATTR_FAMILY_NAME", name]]
        msg["header"]["type"] = GENL_ID_CTRL
        msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
        seq = self.next_seq()
        msg["header"]["sequence_number"] = seq
        msg["header"]["pid"] = 0
        msg.encode()
        for raw in self.exchange(bytes(msg.data), seq, dump=False):
            reply = decode_message(raw, ctrlmsg)
            family_id = reply.get_attr("CTRL_ATTR_FAMILY_ID")
            if family_id is not None:
                return int(family_id)
        raise IpvsError(f"the kernel answered the lookup of the {name} family without its id")


# ---------------------------------------------------------------------------------------------
# The client


class IpvsNetlink:
    """The IPVS table of one network namespace (``netns``: a name of `ip netns`; None: this process's).

    Raises IpvsUnavailable when ip_vs is not loaded and cannot be, IpvsNamespaceError when the
    namespace does not exist. Every method raises IpvsPermissionError without CAP_NET_ADMIN and
    IpvsKernelError(errno, message) for any other refusal.
    """

    def __init__(self, netns: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if PYROUTE2_IMPORT_ERROR is not None:
            raise IpvsError(pyroute2_missing_message())
        self.netns = netns
        self.batch_size = max(1, batch_size)
        self._channel = GenlChannel(netns)
        try:
            self.family_id = self._resolve()
        except BaseException:
            self._channel.close()
            raise

    def _resolve(self) -> int:
        try:
            return self._channel.resolve_family(IPVS_GENL_NAME)
        except NetlinkError as exc:
            if exc.code == errno.ENOENT:
                where = f" (network namespace {self.netns})" if self.netns else ""
                raise IpvsUnavailable(f"ip_vs is not available on this host{where}: load it with `modprobe ip_vs`") from None
            raise kernel_error(exc.code) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> IpvsNetlink:
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, request: IpvsRequest, dump: bool = False, reply_class: type = IpvsMessage) -> list[t.Any]:
        """Send one request; return its decoded replies, or raise the mapped kernel error."""
        if dump:
            return [decode_message(raw, reply_class) for raw in self.dump_raw(request)]
        seq = self._channel.next_seq()
        try:
            raws = self._channel.exchange(request.encode(self.family_id, seq, NLM_F_REQUEST | NLM_F_ACK), seq, False)
        except NetlinkError as exc:
            raise kernel_error(exc.code, request, _detail(exc)) from None
        return [decode_message(raw, reply_class) for raw in raws]

    def dump_raw(self, request: IpvsRequest) -> list[RawMessage]:
        """Send a GET request as a dump; return every part of the answer undecoded (for _wire's struct readers).

        A dump the kernel marks interrupted (the table changed meanwhile) is asked again, up to three times.
        """
        for _attempt in range(3):
            seq = self._channel.next_seq()
            try:
                raws = self._channel.exchange(request.encode(self.family_id, seq, NLM_F_REQUEST | NLM_F_DUMP), seq, True)
            except NetlinkError as exc:
                raise kernel_error(exc.code, request, _detail(exc)) from None
            if not any(raw.flags & NLM_F_DUMP_INTR for raw in raws):
                return raws
        raise IpvsError(f"{request.what}: the table kept changing during the dump; try again")

    def request(self, request: IpvsRequest) -> None:
        """Send one change request and wait for its acknowledgement."""
        self._call(request)

    def send_batch(self, requests: t.Sequence[IpvsRequest]) -> list[IpvsKernelError | None]:
        """Pipeline change requests: send up to batch_size of them (each with NLM_F_ACK and its own
        sequence number) in one datagram, then read their acknowledgements; repeat.

        Returns one result per request, in order: None for success, the IpvsKernelError (or
        IpvsPermissionError) the kernel answered otherwise. The kernel goes on with the next
        request after a failed one, so every request is tried.
        """
        family_id = self.family_id

        def encoder(request: IpvsRequest) -> t.Callable[[int], bytes]:
            return lambda seq: request.encode(family_id, seq, NLM_F_REQUEST | NLM_F_ACK)

        answers = self._channel.pipeline([encoder(request) for request in requests], self.batch_size)
        return [kernel_error(code, request, detail) if code else None for request, (code, detail) in zip(requests, answers)]

    # -- reading ----------------------------------------------------------------------------

    def services(self, stats: bool = True) -> list[KernelDict]:
        """Every service of the namespace (one dump, all its parts); ``stats=False`` skips decoding the counters (faster)."""
        request = _get_request(IPVS_CMD_GET_SERVICE, what="list services")
        return [service_from_message(msg, stats) for msg in self._call(request, dump=True)]

    def service(self, s: t.Mapping[str, t.Any]) -> KernelDict | None:
        """One service by its key (GET_SERVICE doit), None when it does not exist."""
        request = _get_request(IPVS_CMD_GET_SERVICE, [_nest("IPVS_CMD_ATTR_SERVICE", service_attrs(s, full=False))], f"read service {describe_service(s)}")
        try:
            replies = self._call(request)
        except IpvsKernelError as exc:
            if exc.errno == errno.ESRCH:
                return None
            raise
        return service_from_message(replies[0]) if replies else None

    def dests(self, service: t.Mapping[str, t.Any], stats: bool = True) -> list[KernelDict]:
        """The real servers of a service (one dump); empty for a service that does not exist. ``stats`` as for services()."""
        request = _get_request(IPVS_CMD_GET_DEST, [_nest("IPVS_CMD_ATTR_SERVICE", service_attrs(service, full=False))],
                               f"list real servers of service {describe_service(service)}")
        af = int(service.get("af") or socket.AF_INET)
        return [dest_from_message(msg, af, stats) for msg in self._call(request, dump=True)]

    def timeouts(self) -> KernelDict:
        """{"tcp", "tcpfin", "udp"} in seconds (GET_CONFIG)."""
        replies = self._call(_get_request(IPVS_CMD_GET_CONFIG, what="read timeouts"))
        if not replies:
            raise IpvsError("the kernel answered GET_CONFIG without a reply")
        return timeouts_from_message(replies[0])

    def info(self) -> KernelDict:
        """{"version": "1.2.1", "conn_tab_size": 4096} (GET_INFO)."""
        replies = self._call(_get_request(IPVS_CMD_GET_INFO, what="read IPVS info"), reply_class=IpvsInfoMessage)
        if not replies:
            raise IpvsError("the kernel answered GET_INFO without a reply")
        return info_from_message(replies[0])

    def daemons(self) -> list[KernelDict]:
        """The running sync daemons (GET_DAEMON dump): none, a master, a backup, or both."""
        return [daemon_from_message(msg) for msg in self._call(_get_request(IPVS_CMD_GET_DAEMON, what="list sync daemons"), dump=True)]

    # -- changing ---------------------------------------------------------------------------

    def add_service(self, s: t.Mapping[str, t.Any]) -> None:
        self.request(add_service_request(s))

    def edit_service(self, s: t.Mapping[str, t.Any]) -> None:
        self.request(edit_service_request(s))

    def delete_service(self, s: t.Mapping[str, t.Any]) -> None:
        self.request(delete_service_request(s))

    def add_dest(self, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> None:
        self.request(add_dest_request(s, d))

    def edit_dest(self, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> None:
        self.request(edit_dest_request(s, d))

    def delete_dest(self, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> None:
        self.request(delete_dest_request(s, d))

    def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        self.request(set_timeouts_request(tcp, tcpfin, udp))

    def add_daemon(self, d: t.Mapping[str, t.Any]) -> None:
        self.request(add_daemon_request(d))

    def delete_daemon(self, state: str | int) -> None:
        self.request(delete_daemon_request(state))

    def flush(self) -> None:
        self.request(flush_request())

    def zero(self, service: t.Mapping[str, t.Any] | None = None) -> None:
        self.request(zero_request(service))


def _detail(exc: t.Any) -> str | None:
    """The kernel's extended-ack text carried by a NetlinkError raised by GenlChannel.exchange."""
    text = exc.args[1] if len(exc.args) > 1 else None
    if not text or text == os.strerror(exc.code):
        return None
    return str(text)
