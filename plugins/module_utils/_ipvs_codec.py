# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The IPVS codec: kernel dicts (docs/internals.md) <-> the bytes of IPVS generic-netlink messages, with struct.

Requests: the ``*_request`` functions check a kernel dict and pack it into an ``IpvsRequest``
(command, packed attributes, a sentence for messages), which ``encode()`` frames for the
transport; ``service_nest`` / ``dest_nest`` pack without checking, for dicts the model made.
Replies: the ``*_from_message`` functions unpack one received message (header included) into a
kernel dict; ``service_values`` / ``dest_values`` are the table reader's faster forms.
Nothing here knows about Ansible, the model or the socket. Byte orders (net/netfilter/ipvs/ip_vs_ctl.c):

- service and dest PORT, dest TUN_PORT: big-endian (``nla_get_be16``);
- service NETMASK: for IPv4 the mask in network byte order, for IPv6 the prefix length as a native u32;
- ADDR: 16 bytes (``union nf_inet_addr``), an IPv4 address in the first four;
- daemon MCAST_PORT: host order u16 (``nla_get_u16``); MCAST_GROUP: an ``in_addr``, MCAST_GROUP6 an ``in6_addr``.

The unit tests compare these bytes with pyroute2's encoding of the same messages, both ways
(tests/unit/plugins/module_utils/ipvs_reference.py).
"""

from __future__ import annotations

import socket
import struct
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs_schema import (
    COMMAND_NAMES,
    IPVS_CMD_ATTR_DAEMON,
    IPVS_CMD_ATTR_DEST,
    IPVS_CMD_ATTR_SERVICE,
    IPVS_CMD_ATTR_TIMEOUT_TCP,
    IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
    IPVS_CMD_ATTR_TIMEOUT_UDP,
    IPVS_CMD_DEL_DAEMON,
    IPVS_CMD_DEL_DEST,
    IPVS_CMD_DEL_SERVICE,
    IPVS_CMD_FLUSH,
    IPVS_CMD_NEW_DAEMON,
    IPVS_CMD_NEW_DEST,
    IPVS_CMD_NEW_SERVICE,
    IPVS_CMD_SET_CONFIG,
    IPVS_CMD_SET_DEST,
    IPVS_CMD_SET_SERVICE,
    IPVS_CMD_ZERO,
    IPVS_DAEMON_ATTR_MCAST_GROUP,
    IPVS_DAEMON_ATTR_MCAST_GROUP6,
    IPVS_DAEMON_ATTR_MCAST_IFN,
    IPVS_DAEMON_ATTR_MCAST_PORT,
    IPVS_DAEMON_ATTR_MCAST_TTL,
    IPVS_DAEMON_ATTR_STATE,
    IPVS_DAEMON_ATTR_SYNC_ID,
    IPVS_DAEMON_ATTR_SYNC_MAXLEN,
    IPVS_DEST_ATTR_ACTIVE_CONNS,
    IPVS_DEST_ATTR_ADDR,
    IPVS_DEST_ATTR_ADDR_FAMILY,
    IPVS_DEST_ATTR_FWD_METHOD,
    IPVS_DEST_ATTR_INACT_CONNS,
    IPVS_DEST_ATTR_L_THRESH,
    IPVS_DEST_ATTR_PERSIST_CONNS,
    IPVS_DEST_ATTR_PORT,
    IPVS_DEST_ATTR_STATS,
    IPVS_DEST_ATTR_STATS64,
    IPVS_DEST_ATTR_TUN_FLAGS,
    IPVS_DEST_ATTR_TUN_PORT,
    IPVS_DEST_ATTR_TUN_TYPE,
    IPVS_DEST_ATTR_U_THRESH,
    IPVS_DEST_ATTR_WEIGHT,
    IPVS_GENL_VERSION,
    IPVS_INFO_ATTR_CONN_TAB_SIZE,
    IPVS_INFO_ATTR_VERSION,
    IPVS_SVC_ATTR_ADDR,
    IPVS_SVC_ATTR_AF,
    IPVS_SVC_ATTR_FLAGS,
    IPVS_SVC_ATTR_FWMARK,
    IPVS_SVC_ATTR_NETMASK,
    IPVS_SVC_ATTR_PE_NAME,
    IPVS_SVC_ATTR_PORT,
    IPVS_SVC_ATTR_PROTOCOL,
    IPVS_SVC_ATTR_SCHED_NAME,
    IPVS_SVC_ATTR_STATS,
    IPVS_SVC_ATTR_STATS64,
    IPVS_SVC_ATTR_TIMEOUT,
    IP_VS_STATE_BACKUP,
    IP_VS_STATE_MASTER,
    IP_VS_SVC_F_HASHED,
    STATS_KEYS,
)

KernelDict = t.Dict[str, t.Any]
Span = t.Tuple[int, int]

PROTOCOL_NAMES = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp", 132: "sctp"}
DAEMON_STATES = {IP_VS_STATE_MASTER: "master", IP_VS_STATE_BACKUP: "backup"}
NLMSG_GENL = struct.Struct("=IHHIIBBH")  # netlink header (length, type, flags, seq, pid) + genl header (cmd, version, reserved)
_PAYLOAD = NLMSG_GENL.size  # attributes start after the two headers
_NLA = struct.Struct("=HH")
_U8 = struct.Struct("=B")
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")
_BE16 = struct.Struct(">H")
_BE32 = struct.Struct(">I")
_FLAGS = struct.Struct("=II")  # struct ip_vs_flags: new flags = (old & ~mask) | (flags & mask)
_ALL_FLAGS = 0xFFFFFFFF & ~IP_VS_SVC_F_HASHED  # HASHED is the kernel's own: never sent, masked out
_NLM_F_REQUEST_ACK = 0x1 | 0x4

# ---------------------------------------------------------------------------------------------
# Values: addresses, netmasks, checks, names for messages


def family_of(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def pack_addr(af: int, addr: str) -> bytes:
    """A textual address as the 16 bytes of ``union nf_inet_addr`` (IPv4 in the first 4); ValueError when it is not one."""
    if af not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError(f"address family {af} is neither AF_INET (2) nor AF_INET6 (10)")
    try:
        return packed_address(af, addr)
    except (OSError, TypeError) as exc:
        family = "IPv4" if af == socket.AF_INET else "IPv6"
        raise ValueError(f"{addr!r} is not an {family} address") from exc


def packed_address(af: int, address: str) -> bytes:
    """An address as the 16 bytes of union nf_inet_addr (IPv4 in the first four), unchecked."""
    return socket.inet_pton(af, address).ljust(16, b"\0")


def address_text(af: int, raw: bytes) -> str:
    """The textual form of an address attribute (4 or 16 bytes, IPv4 in the first four)."""
    if af == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, bytes(raw[:16]).ljust(16, b"\0"))
    return socket.inet_ntop(socket.AF_INET, bytes(raw[:4]).ljust(4, b"\0"))


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


def check_service(s: t.Mapping[str, t.Any], full: bool) -> t.Mapping[str, t.Any]:
    """``s`` when service_nest() can pack it: the key (AF and FWMARK, or AF, PROTOCOL, ADDR, PORT), and for a full entry
    (NEW / SET_SERVICE: the kernel answers EINVAL without one) SCHED_NAME, FLAGS, TIMEOUT and NETMASK; ValueError otherwise."""
    af = _required(s, "af", "service")
    if af not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError(f"service af must be 2 (AF_INET) or 10 (AF_INET6), not {af!r}")
    if s.get("fwmark"):
        _check_u(s["fwmark"], 32, "fwmark")
    else:
        _check_u(_required(s, "protocol", "service"), 16, "protocol")
        pack_addr(af, _required(s, "addr", "service"))
        _check_u(s.get("port", 0), 16, "port")
    if full:
        _check_u(_required(s, "flags", "service"), 32, "flags")
        if not isinstance(_required(s, "sched_name", "service"), str):
            raise ValueError(f"sched_name must be a string, not {s['sched_name']!r}")
        _check_u(_required(s, "timeout", "service"), 32, "timeout")
        _check_u(_required(s, "netmask", "service"), 32, "netmask")
    return s


def check_dest(d: t.Mapping[str, t.Any], full: bool) -> KernelDict:
    """A copy of ``d`` that dest_nest() can pack (af inferred from the address, port and thresholds 0 when absent); ValueError otherwise.

    The key: ADDR, PORT and ADDR_FAMILY (without it the kernel assumes the service's family). A full
    entry (NEW / SET_DEST) adds FWD_METHOD, WEIGHT, U_THRESH, L_THRESH (absent: 0), and the TUN_*
    keys the dict has (absent means 0 to the kernel: not sent).
    """
    addr = _required(d, "addr", "dest")
    entry = dict(d, af=d.get("af") or family_of(str(addr)), port=d.get("port", 0), u_thresh=d.get("u_thresh") or 0, l_thresh=d.get("l_thresh") or 0)
    pack_addr(entry["af"], addr)
    _check_u(d.get("port", 0), 16, "port")
    if full:
        _check_u(_required(d, "fwd_method", "dest"), 32, "fwd_method")
        _check_u(_required(d, "weight", "dest"), 32, "weight")
        for key, bits in (("u_thresh", 32), ("l_thresh", 32), ("tun_type", 8), ("tun_port", 16), ("tun_flags", 16)):
            if d.get(key) is not None:
                _check_u(d[key], bits, key)
    return entry


def daemon_state(state: t.Any) -> int:
    """IP_VS_STATE_MASTER or _BACKUP from "master", "backup", 1 or 2; ValueError otherwise."""
    if isinstance(state, str):
        for number, name in DAEMON_STATES.items():
            if name == state:
                return number
    elif state in DAEMON_STATES:
        return int(state)
    raise ValueError(f"daemon state must be 'master' or 'backup', not {state!r}")


# ---------------------------------------------------------------------------------------------
# Kernel dicts -> attributes


def _nla(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (-length % 4)


def _asciiz(kind: int, text: str) -> bytes:
    return _nla(kind, text.encode() + b"\0")


def service_nest(s: t.Mapping[str, t.Any], full: bool) -> bytes:
    """IPVS_CMD_ATTR_SERVICE of a kernel service dict (see check_service): its key, or (full) every field NEW/SET_SERVICE need.

    HASHED is cleared and masked out, so that the kernel keeps its own.
    """
    af = s["af"]
    attrs = [_nla(IPVS_SVC_ATTR_AF, _U16.pack(af))]
    if s.get("fwmark"):
        attrs.append(_nla(IPVS_SVC_ATTR_FWMARK, _U32.pack(s["fwmark"])))
    else:
        attrs.append(_nla(IPVS_SVC_ATTR_PROTOCOL, _U16.pack(s["protocol"])))
        attrs.append(_nla(IPVS_SVC_ATTR_ADDR, packed_address(af, s["addr"])))
        attrs.append(_nla(IPVS_SVC_ATTR_PORT, _BE16.pack(s.get("port") or 0)))
    if full:
        attrs.append(_asciiz(IPVS_SVC_ATTR_SCHED_NAME, s["sched_name"]))
        attrs.append(_nla(IPVS_SVC_ATTR_FLAGS, _FLAGS.pack(s["flags"] & _ALL_FLAGS, _ALL_FLAGS)))
        attrs.append(_nla(IPVS_SVC_ATTR_TIMEOUT, _U32.pack(s["timeout"])))
        attrs.append(_nla(IPVS_SVC_ATTR_NETMASK, (_BE32 if af == socket.AF_INET else _U32).pack(s["netmask"])))
        if s.get("pe_name"):
            attrs.append(_asciiz(IPVS_SVC_ATTR_PE_NAME, s["pe_name"]))
    return _nla(IPVS_CMD_ATTR_SERVICE, b"".join(attrs))


# A dest nest with every attribute, in one struct: the nest header, ADDR (16 bytes), PORT (big-endian), ADDR_FAMILY; a full
# one (NEW/SET_DEST) adds FWD_METHOD, WEIGHT, U_THRESH, L_THRESH (u32 each), TUN_TYPE (u8), TUN_PORT (big-endian), TUN_FLAGS
# (u16); each attribute is a (length, type) header and its value padded to four bytes.
_DEST_KEY_FORMAT = "=HH" + "HH16s" + "HHH2x" * 2
_DEST_KEY = struct.Struct(_DEST_KEY_FORMAT)
_DEST_CONFIG_FORMAT = "HHI" * 4
_DEST_CONFIG = struct.Struct(_DEST_KEY_FORMAT + _DEST_CONFIG_FORMAT)  # the full nest without TUN_*
_DEST_FULL = struct.Struct(_DEST_KEY_FORMAT + _DEST_CONFIG_FORMAT + "HHB3x" + "HHH2x" * 2)
_TUN_ATTRS = (("tun_type", IPVS_DEST_ATTR_TUN_TYPE, _U8), ("tun_port", IPVS_DEST_ATTR_TUN_PORT, _BE16),
              ("tun_flags", IPVS_DEST_ATTR_TUN_FLAGS, _U16))


def dest_nest(d: t.Mapping[str, t.Any], full: bool) -> bytes:
    """IPVS_CMD_ATTR_DEST of a kernel dest dict with every key but the TUN_* ones (as check_dest and _model.real_server_to_kernel
    give): its key, or (full) every field, the TUN_* attributes the dict has. One struct when it has them all (10,000 real servers)."""
    af = d["af"]
    key = (20, IPVS_DEST_ATTR_ADDR, packed_address(af, d["addr"]), 6, IPVS_DEST_ATTR_PORT, socket.htons(d["port"]), 6, IPVS_DEST_ATTR_ADDR_FAMILY, af)
    if not full:
        return _DEST_KEY.pack(_DEST_KEY.size, IPVS_CMD_ATTR_DEST, *key)
    config = (8, IPVS_DEST_ATTR_FWD_METHOD, d["fwd_method"], 8, IPVS_DEST_ATTR_WEIGHT, d["weight"],
              8, IPVS_DEST_ATTR_U_THRESH, d["u_thresh"], 8, IPVS_DEST_ATTR_L_THRESH, d["l_thresh"])
    tun_type, tun_port, tun_flags = d.get("tun_type"), d.get("tun_port"), d.get("tun_flags")
    if tun_type is not None and tun_port is not None and tun_flags is not None:
        return _DEST_FULL.pack(_DEST_FULL.size, IPVS_CMD_ATTR_DEST, *key, *config, 5, IPVS_DEST_ATTR_TUN_TYPE, tun_type,
                               6, IPVS_DEST_ATTR_TUN_PORT, socket.htons(tun_port), 6, IPVS_DEST_ATTR_TUN_FLAGS, tun_flags)
    extra = b"".join(_nla(kind, packer.pack(d[name])) for name, kind, packer in _TUN_ATTRS if d.get(name) is not None)
    return _DEST_CONFIG.pack(_DEST_CONFIG.size + len(extra), IPVS_CMD_ATTR_DEST, *key, *config) + extra


def daemon_nest(d: t.Mapping[str, t.Any]) -> bytes:
    """IPVS_CMD_ATTR_DAEMON for NEW_DAEMON: state, interface and sync id, then the options the dict sets (checked here)."""
    attrs = [
        _nla(IPVS_DAEMON_ATTR_STATE, _U32.pack(daemon_state(_required(d, "state", "daemon")))),
        _asciiz(IPVS_DAEMON_ATTR_MCAST_IFN, str(_required(d, "mcast_ifn", "daemon"))),
        _nla(IPVS_DAEMON_ATTR_SYNC_ID, _U32.pack(_check_u(d.get("sync_id", 0), 32, "sync_id"))),
    ]
    if d.get("sync_maxlen"):
        attrs.append(_nla(IPVS_DAEMON_ATTR_SYNC_MAXLEN, _U16.pack(_check_u(d["sync_maxlen"], 16, "sync_maxlen"))))
    group = d.get("mcast_group")
    if group:
        if family_of(group) == socket.AF_INET6:
            attrs.append(_nla(IPVS_DAEMON_ATTR_MCAST_GROUP6, pack_addr(socket.AF_INET6, group)))
        else:
            attrs.append(_nla(IPVS_DAEMON_ATTR_MCAST_GROUP, pack_addr(socket.AF_INET, group)[:4]))
    if d.get("mcast_port"):
        attrs.append(_nla(IPVS_DAEMON_ATTR_MCAST_PORT, _U16.pack(_check_u(d["mcast_port"], 16, "mcast_port"))))
    if d.get("mcast_ttl"):
        attrs.append(_nla(IPVS_DAEMON_ATTR_MCAST_TTL, _U8.pack(_check_u(d["mcast_ttl"], 8, "mcast_ttl"))))
    return _nla(IPVS_CMD_ATTR_DAEMON, b"".join(attrs))


# ---------------------------------------------------------------------------------------------
# Requests


class IpvsRequest:
    """One IPVS command with its attributes already packed, ready to be framed (any number of times)."""

    __slots__ = ("cmd", "payload", "what")

    def __init__(self, cmd: int, payload: bytes = b"", what: str = "") -> None:
        self.cmd = cmd
        self.payload = payload
        self.what = what

    def __repr__(self) -> str:
        return f"IpvsRequest({COMMAND_NAMES.get(self.cmd, self.cmd)}, {self.what!r})"

    def encode(self, family_id: int, seq: int, flags: int = 0) -> bytes:
        """The request on the wire: a netlink header (type = the family id), the genl header, the attributes."""
        header = NLMSG_GENL.pack(NLMSG_GENL.size + len(self.payload), family_id, flags or _NLM_F_REQUEST_ACK, seq, 0,
                                 self.cmd, IPVS_GENL_VERSION, 0)
        return header + self.payload


def add_service_request(s: t.Mapping[str, t.Any]) -> IpvsRequest:
    """NEW_SERVICE with the full entry (ipvsadm -A)."""
    return IpvsRequest(IPVS_CMD_NEW_SERVICE, service_nest(check_service(s, full=True), full=True), f"add service {describe_service(s)}")


def edit_service_request(s: t.Mapping[str, t.Any]) -> IpvsRequest:
    """SET_SERVICE with the full entry (ipvsadm -E): edits in place, connections survive."""
    return IpvsRequest(IPVS_CMD_SET_SERVICE, service_nest(check_service(s, full=True), full=True), f"edit service {describe_service(s)}")


def delete_service_request(s: t.Mapping[str, t.Any]) -> IpvsRequest:
    """DEL_SERVICE with the service key (ipvsadm -D)."""
    return IpvsRequest(IPVS_CMD_DEL_SERVICE, service_nest(check_service(s, full=False), full=False), f"delete service {describe_service(s)}")


def _dest_request(cmd: int, verb: str, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any], full: bool) -> IpvsRequest:
    payload = service_nest(check_service(s, full=False), full=False) + dest_nest(check_dest(d, full), full)
    return IpvsRequest(cmd, payload, f"{verb} real server {describe_dest(d)} of service {describe_service(s)}")


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
    """SET_CONFIG (ipvsadm --set): seconds; 0 or None leaves a timeout unchanged (None is not sent)."""
    attrs = b""
    for kind, name, value in ((IPVS_CMD_ATTR_TIMEOUT_TCP, "timeout_tcp", tcp), (IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, "timeout_tcp_fin", tcpfin),
                              (IPVS_CMD_ATTR_TIMEOUT_UDP, "timeout_udp", udp)):
        if value is not None:
            attrs += _nla(kind, _U32.pack(_check_u(value, 32, name)))
    return IpvsRequest(IPVS_CMD_SET_CONFIG, attrs, f"set timeouts tcp={tcp} tcpfin={tcpfin} udp={udp}")


def add_daemon_request(d: t.Mapping[str, t.Any]) -> IpvsRequest:
    """NEW_DAEMON (ipvsadm --start-daemon)."""
    return IpvsRequest(IPVS_CMD_NEW_DAEMON, daemon_nest(d), f"start {d.get('state')} sync daemon")


def delete_daemon_request(state: str | int) -> IpvsRequest:
    """DEL_DAEMON (ipvsadm --stop-daemon)."""
    number = daemon_state(state)
    payload = _nla(IPVS_CMD_ATTR_DAEMON, _nla(IPVS_DAEMON_ATTR_STATE, _U32.pack(number)))
    return IpvsRequest(IPVS_CMD_DEL_DAEMON, payload, f"stop {DAEMON_STATES[number]} sync daemon")


def zero_request(service: t.Mapping[str, t.Any] | None = None) -> IpvsRequest:
    """ZERO (ipvsadm -Z): the counters of one service, or of all."""
    if service is None:
        return IpvsRequest(IPVS_CMD_ZERO, b"", "zero all counters")
    return IpvsRequest(IPVS_CMD_ZERO, service_nest(check_service(service, full=False), full=False),
                       f"zero counters of service {describe_service(service)}")


def flush_request() -> IpvsRequest:
    """FLUSH (ipvsadm -C): every service of the network namespace."""
    return IpvsRequest(IPVS_CMD_FLUSH, b"", "flush the IPVS table")


# ---------------------------------------------------------------------------------------------
# Replies (one received message, its headers included) -> kernel dicts


def attributes(data: bytes, start: int, end: int) -> t.Dict[int, Span]:
    """Attribute type -> (start, end) of its payload, for the attributes in data[start:end] (the first of each type)."""
    found: t.Dict[int, Span] = {}
    unpack = _NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4:
            break
        found.setdefault(kind & 0x3FFF, (start + 4, start + length))
        start += (length + 3) & ~3
    return found


def _nest(data: bytes, kind: int, what: str) -> Span:
    span = attributes(data, _PAYLOAD, len(data)).get(kind)
    if span is None:
        raise IpvsError(f"the kernel sent a {what}")
    return span


def _number(data: bytes, attrs: t.Mapping[int, Span], kind: int, unpacker: struct.Struct = _U32, default: int = 0) -> int:
    where = attrs.get(kind)
    return default if where is None else int(unpacker.unpack_from(data, where[0])[0])


def _text(data: bytes, span: Span | None) -> str | None:
    if span is None:
        return None
    return data[span[0]:span[1]].split(b"\0", 1)[0].decode("ascii", "replace") or None


def _stats(data: bytes, attrs: t.Mapping[int, Span], stats: int, stats64: int) -> KernelDict | None:
    """The counters, from STATS64 when the kernel sent it (3.12+), else from STATS (32-bit but the byte counters); None without either."""
    span = attrs.get(stats64) or attrs.get(stats)
    if span is None:
        return None
    counters = attributes(data, span[0], span[1])
    result = {}
    for number, key in enumerate(STATS_KEYS, start=1):
        where = counters.get(number)
        if where is None:
            result[key] = 0
        else:
            result[key] = int((_U64 if where[1] - where[0] >= 8 else _U32).unpack_from(data, where[0])[0])
    return result


def service_from_message(data: bytes, stats: bool = True) -> KernelDict:
    """A kernel service dict from a NEW_SERVICE message (a GET_SERVICE reply), HASHED kept (``stats=False``: counters not read)."""
    span = _nest(data, IPVS_CMD_ATTR_SERVICE, "service message without IPVS_CMD_ATTR_SERVICE")
    attrs = attributes(data, span[0], span[1])
    af = _number(data, attrs, IPVS_SVC_ATTR_AF, _U16, socket.AF_INET)
    fwmark = _number(data, attrs, IPVS_SVC_ATTR_FWMARK)
    flags_span = attrs.get(IPVS_SVC_ATTR_FLAGS)
    flags, mask = _FLAGS.unpack_from(data, flags_span[0]) if flags_span is not None else (0, 0)
    address_span = attrs.get(IPVS_SVC_ATTR_ADDR)
    result: KernelDict = {
        "af": af,
        "protocol": 0 if fwmark else _number(data, attrs, IPVS_SVC_ATTR_PROTOCOL, _U16),
        "addr": None if fwmark or address_span is None else address_text(af, data[address_span[0]:address_span[1]]),
        "port": 0 if fwmark else _number(data, attrs, IPVS_SVC_ATTR_PORT, _BE16),
        "fwmark": fwmark,
        "sched_name": _text(data, attrs.get(IPVS_SVC_ATTR_SCHED_NAME)) or "",
        "flags": flags & mask,
        "timeout": _number(data, attrs, IPVS_SVC_ATTR_TIMEOUT),
        "netmask": _number(data, attrs, IPVS_SVC_ATTR_NETMASK, _U32 if af == socket.AF_INET6 else _BE32),
        "pe_name": _text(data, attrs.get(IPVS_SVC_ATTR_PE_NAME)),
    }
    counters = _stats(data, attrs, IPVS_SVC_ATTR_STATS, IPVS_SVC_ATTR_STATS64) if stats else None
    if counters is not None:
        result["stats"] = counters
    return result


# The keys of a kernel service dict that service_values() gives, in its order.
SERVICE_KEYS = ("af", "protocol", "addr", "port", "fwmark", "sched_name", "flags", "timeout", "netmask", "pe_name")


def service_values(data: bytes) -> t.Tuple[t.Any, ...]:
    """The fields of one GET_SERVICE reply in the order of SERVICE_KEYS, HASHED cleared: a key for the table reader."""
    service = service_from_message(data, stats=False)
    service["flags"] &= ~IP_VS_SVC_F_HASHED
    return tuple(service[key] for key in SERVICE_KEYS)


# The keys of a kernel dest dict that dest_values() gives (besides af and the address), in its order.
_DEST_FIELDS = (
    ("port", IPVS_DEST_ATTR_PORT, _BE16),
    ("fwd_method", IPVS_DEST_ATTR_FWD_METHOD, _U32),
    ("weight", IPVS_DEST_ATTR_WEIGHT, _U32),
    ("u_thresh", IPVS_DEST_ATTR_U_THRESH, _U32),
    ("l_thresh", IPVS_DEST_ATTR_L_THRESH, _U32),
    ("tun_type", IPVS_DEST_ATTR_TUN_TYPE, _U8),
    ("tun_port", IPVS_DEST_ATTR_TUN_PORT, _BE16),
    ("tun_flags", IPVS_DEST_ATTR_TUN_FLAGS, _U16),
)
DEST_KEYS = tuple(field[0] for field in _DEST_FIELDS)
_DEST_SLOTS = {number: (index, unpacker) for index, (_key, number, unpacker) in enumerate(_DEST_FIELDS)}
_DEST_COUNTS = (("active_conns", IPVS_DEST_ATTR_ACTIVE_CONNS), ("inact_conns", IPVS_DEST_ATTR_INACT_CONNS),
                ("persist_conns", IPVS_DEST_ATTR_PERSIST_CONNS))


def _dest_fields(data: bytes, span: Span, service_af: int) -> t.Tuple[int, bytes, t.Tuple[int, ...]]:
    offset, end = span
    values = [0] * len(_DEST_FIELDS)
    af = service_af
    raw_address = bytes(16)
    unpack = _NLA.unpack_from
    slots = _DEST_SLOTS
    while offset + 4 <= end:
        length, kind = unpack(data, offset)
        if length < 4:
            break
        kind &= 0x3FFF
        slot = slots.get(kind)
        if slot is not None:
            values[slot[0]] = slot[1].unpack_from(data, offset + 4)[0]
        elif kind == IPVS_DEST_ATTR_ADDR:
            raw_address = data[offset + 4:offset + 20].ljust(16, b"\0")
        elif kind == IPVS_DEST_ATTR_ADDR_FAMILY:
            af = _U16.unpack_from(data, offset + 4)[0]
        offset += (length + 3) & ~3
    return (af, raw_address, tuple(values))


def dest_values(data: bytes, service_af: int) -> t.Tuple[int, bytes, t.Tuple[int, ...]]:
    """(address family, the 16 address bytes, the fields of DEST_KEYS) of one GET_DEST reply: the table reader's key.

    One pass over the attributes (11,000 replies for a table of 1,000 services of 10 real servers).
    A reply without ADDR_FAMILY (kernels before 4.2) has the service's family.
    """
    return _dest_fields(data, _nest(data, IPVS_CMD_ATTR_DEST, "real server message without IPVS_CMD_ATTR_DEST"), service_af)


def dest_from_message(data: bytes, service_af: int = socket.AF_INET, stats: bool = True) -> KernelDict:
    """A kernel dest dict from a NEW_DEST message (a GET_DEST reply), with the connection counts the kernel sent."""
    span = _nest(data, IPVS_CMD_ATTR_DEST, "real server message without IPVS_CMD_ATTR_DEST")
    af, raw_address, values = _dest_fields(data, span, service_af)
    result: KernelDict = dict(zip(DEST_KEYS, values), addr=address_text(af, raw_address), af=af)
    attrs = attributes(data, span[0], span[1])
    for key, kind in _DEST_COUNTS:
        if kind in attrs:
            result[key] = _number(data, attrs, kind)
    counters = _stats(data, attrs, IPVS_DEST_ATTR_STATS, IPVS_DEST_ATTR_STATS64) if stats else None
    if counters is not None:
        result["stats"] = counters
    return result


def daemon_from_message(data: bytes) -> KernelDict:
    """A daemon dict from a NEW_DAEMON message (a GET_DAEMON reply; kernels before 4.3 send only the first three fields)."""
    span = _nest(data, IPVS_CMD_ATTR_DAEMON, "daemon message without IPVS_CMD_ATTR_DAEMON")
    attrs = attributes(data, span[0], span[1])
    state = _number(data, attrs, IPVS_DAEMON_ATTR_STATE)
    group = attrs.get(IPVS_DAEMON_ATTR_MCAST_GROUP6)
    group_af = socket.AF_INET6
    if group is None:
        group, group_af = attrs.get(IPVS_DAEMON_ATTR_MCAST_GROUP), socket.AF_INET
    return {
        "state": DAEMON_STATES.get(state, str(state)),
        "mcast_ifn": _text(data, attrs.get(IPVS_DAEMON_ATTR_MCAST_IFN)) or "",
        "sync_id": _number(data, attrs, IPVS_DAEMON_ATTR_SYNC_ID),
        "sync_maxlen": _number(data, attrs, IPVS_DAEMON_ATTR_SYNC_MAXLEN, _U16),
        "mcast_group": None if group is None else address_text(group_af, data[group[0]:group[1]]),
        "mcast_port": _number(data, attrs, IPVS_DAEMON_ATTR_MCAST_PORT, _U16),
        "mcast_ttl": _number(data, attrs, IPVS_DAEMON_ATTR_MCAST_TTL, _U8),
    }


def timeouts_from_message(data: bytes) -> KernelDict:
    """The timeouts dict from a SET_CONFIG message (the GET_CONFIG reply), in seconds."""
    attrs = attributes(data, _PAYLOAD, len(data))
    return {
        "tcp": _number(data, attrs, IPVS_CMD_ATTR_TIMEOUT_TCP),
        "tcpfin": _number(data, attrs, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN),
        "udp": _number(data, attrs, IPVS_CMD_ATTR_TIMEOUT_UDP),
    }


def info_from_message(data: bytes) -> KernelDict:
    """The info dict from a SET_INFO message (the GET_INFO reply, with IPVS_INFO_ATTR_*): version 0x010201 -> "1.2.1"."""
    attrs = attributes(data, _PAYLOAD, len(data))
    code = _number(data, attrs, IPVS_INFO_ATTR_VERSION)
    return {
        "version": f"{(code >> 16) & 0xFF}.{(code >> 8) & 0xFF}.{code & 0xFF}",
        "conn_tab_size": _number(data, attrs, IPVS_INFO_ATTR_CONN_TAB_SIZE),
    }
