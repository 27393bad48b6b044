# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reference encoding of IPVS messages: pyroute2's generic ``genlmsg`` / ``nla`` with the IPVS attribute maps.

Until issue 15 this was the collection's production codec (plugins/module_utils/_netlink.py and
_codec.py); now it is what the unit tests compare the struct codec (_ipvs_codec) with, both ways:
our requests decoded by pyroute2, pyroute2's replies decoded by us, and request bytes compared.
Kernel dicts go in and come out (docs/internals.md), as they did through the old codec.
"""

from __future__ import annotations

import copy
import socket
import typing as t

from pyroute2.netlink import genlmsg, nla

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_schema as schema

KernelDict = t.Dict[str, t.Any]
NLM_F_REQUEST_ACK = 0x1 | 0x4
STATES = {"master": schema.IP_VS_STATE_MASTER, "backup": schema.IP_VS_STATE_BACKUP}


def address_text(af: int, raw: bytes) -> str:
    if af == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, bytes(raw[:4]))
    return socket.inet_ntop(socket.AF_INET6, bytes(raw[:16]).ljust(16, b"\0"))


class IpvsStats(nla):
    """IPVS_SVC_ATTR_STATS / IPVS_DEST_ATTR_STATS: 32-bit counters (the byte counters are 64-bit)."""

    # IPVS_STATS_ATTR_*
    nla_map = (
        (0, "IPVS_STATS_ATTR_UNSPEC", "none"),
        (1, "IPVS_STATS_ATTR_CONNS", "uint32"),
        (2, "IPVS_STATS_ATTR_INPKTS", "uint32"),
        (3, "IPVS_STATS_ATTR_OUTPKTS", "uint32"),
        (4, "IPVS_STATS_ATTR_INBYTES", "uint64"),
        (5, "IPVS_STATS_ATTR_OUTBYTES", "uint64"),
        (6, "IPVS_STATS_ATTR_CPS", "uint32"),
        (7, "IPVS_STATS_ATTR_INPPS", "uint32"),
        (8, "IPVS_STATS_ATTR_OUTPPS", "uint32"),
        (9, "IPVS_STATS_ATTR_INBPS", "uint32"),
        (10, "IPVS_STATS_ATTR_OUTBPS", "uint32"),
        (11, "IPVS_STATS_ATTR_PAD", "none"),
    )


class IpvsStats64(nla):
    """IPVS_SVC_ATTR_STATS64 / IPVS_DEST_ATTR_STATS64: the same counters, all 64-bit."""

    nla_map = tuple((number, name, "uint64" if kind == "uint32" else kind) for number, name, kind in IpvsStats.nla_map)


class IpvsServiceFlags(nla):
    """IPVS_SVC_ATTR_FLAGS, struct ip_vs_flags: new flags = (old & ~mask) | (flags & mask)."""

    fields = (("flags", "I"), ("mask", "I"))


class IpvsService(nla):
    """IPVS_CMD_ATTR_SERVICE: a virtual service."""

    # IPVS_SVC_ATTR_*
    nla_map = (
        (0, "IPVS_SVC_ATTR_UNSPEC", "none"),
        (1, "IPVS_SVC_ATTR_AF", "uint16"),
        (2, "IPVS_SVC_ATTR_PROTOCOL", "uint16"),
        (3, "IPVS_SVC_ATTR_ADDR", "cdata"),
        (4, "IPVS_SVC_ATTR_PORT", "be16"),
        (5, "IPVS_SVC_ATTR_FWMARK", "uint32"),
        (6, "IPVS_SVC_ATTR_SCHED_NAME", "asciiz"),
        (7, "IPVS_SVC_ATTR_FLAGS", "ipvs_flags"),
        (8, "IPVS_SVC_ATTR_TIMEOUT", "uint32"),
        (9, "IPVS_SVC_ATTR_NETMASK", "cdata"),
        (10, "IPVS_SVC_ATTR_STATS", "ipvs_stats"),
        (11, "IPVS_SVC_ATTR_PE_NAME", "asciiz"),
        (12, "IPVS_SVC_ATTR_STATS64", "ipvs_stats64"),
    )
    # pyroute2 resolves a type name of nla_map as an attribute of the class.
    ipvs_flags = IpvsServiceFlags
    ipvs_stats = IpvsStats
    ipvs_stats64 = IpvsStats64


class IpvsDest(nla):
    """IPVS_CMD_ATTR_DEST: a real server (destination)."""

    # IPVS_DEST_ATTR_*
    nla_map = (
        (0, "IPVS_DEST_ATTR_UNSPEC", "none"),
        (1, "IPVS_DEST_ATTR_ADDR", "cdata"),
        (2, "IPVS_DEST_ATTR_PORT", "be16"),
        (3, "IPVS_DEST_ATTR_FWD_METHOD", "uint32"),
        (4, "IPVS_DEST_ATTR_WEIGHT", "uint32"),
        (5, "IPVS_DEST_ATTR_U_THRESH", "uint32"),
        (6, "IPVS_DEST_ATTR_L_THRESH", "uint32"),
        (7, "IPVS_DEST_ATTR_ACTIVE_CONNS", "uint32"),
        (8, "IPVS_DEST_ATTR_INACT_CONNS", "uint32"),
        (9, "IPVS_DEST_ATTR_PERSIST_CONNS", "uint32"),
        (10, "IPVS_DEST_ATTR_STATS", "ipvs_stats"),
        (11, "IPVS_DEST_ATTR_ADDR_FAMILY", "uint16"),
        (12, "IPVS_DEST_ATTR_STATS64", "ipvs_stats64"),
        (13, "IPVS_DEST_ATTR_TUN_TYPE", "uint8"),
        (14, "IPVS_DEST_ATTR_TUN_PORT", "be16"),
        (15, "IPVS_DEST_ATTR_TUN_FLAGS", "uint16"),
    )
    ipvs_stats = IpvsStats
    ipvs_stats64 = IpvsStats64


class IpvsDaemon(nla):
    """IPVS_CMD_ATTR_DAEMON: a connection synchronisation daemon."""

    # IPVS_DAEMON_ATTR_*
    nla_map = (
        (0, "IPVS_DAEMON_ATTR_UNSPEC", "none"),
        (1, "IPVS_DAEMON_ATTR_STATE", "uint32"),
        (2, "IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
        (3, "IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
        (4, "IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
        (5, "IPVS_DAEMON_ATTR_MCAST_GROUP", "cdata"),
        (6, "IPVS_DAEMON_ATTR_MCAST_GROUP6", "cdata"),
        (7, "IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),
        (8, "IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
    )


class IpvsMessage(genlmsg):
    """Every IPVS command and reply except the GET_INFO reply (see IpvsInfoMessage)."""

    # IPVS_CMD_ATTR_*
    nla_map = (
        (0, "IPVS_CMD_ATTR_UNSPEC", "none"),
        (1, "IPVS_CMD_ATTR_SERVICE", "ipvs_service"),
        (2, "IPVS_CMD_ATTR_DEST", "ipvs_dest"),
        (3, "IPVS_CMD_ATTR_DAEMON", "ipvs_daemon"),
        (4, "IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        (5, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        (6, "IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )
    ipvs_service = IpvsService
    ipvs_dest = IpvsDest
    ipvs_daemon = IpvsDaemon


class IpvsInfoMessage(genlmsg):
    """The GET_INFO reply (command SET_INFO): its attribute numbers collide with IPVS_CMD_ATTR_*."""

    # IPVS_INFO_ATTR_*
    nla_map = (
        (0, "IPVS_INFO_ATTR_UNSPEC", "none"),
        (1, "IPVS_INFO_ATTR_VERSION", "uint32"),
        (2, "IPVS_INFO_ATTR_CONN_TAB_SIZE", "uint32"),
    )


# ---------------------------------------------------------------------------------------------
# Kernel dicts -> pyroute2 attribute lists (the old codec's service_attrs / dest_attrs / daemon_attrs)


def service_attrs(s: t.Mapping[str, t.Any], full: bool) -> list:
    af = s["af"]
    attrs: list = [["IPVS_SVC_ATTR_AF", af]]
    if s.get("fwmark"):
        attrs.append(["IPVS_SVC_ATTR_FWMARK", s["fwmark"]])
    else:
        attrs.append(["IPVS_SVC_ATTR_PROTOCOL", s["protocol"]])
        attrs.append(["IPVS_SVC_ATTR_ADDR", socket.inet_pton(af, s["addr"]).ljust(16, b"\0")])
        attrs.append(["IPVS_SVC_ATTR_PORT", s.get("port", 0)])
    if full:
        mask = 0xFFFFFFFF & ~schema.IP_VS_SVC_F_HASHED
        attrs.append(["IPVS_SVC_ATTR_SCHED_NAME", s["sched_name"]])
        attrs.append(["IPVS_SVC_ATTR_FLAGS", {"flags": s["flags"] & mask, "mask": mask}])
        attrs.append(["IPVS_SVC_ATTR_TIMEOUT", s["timeout"]])
        attrs.append(["IPVS_SVC_ATTR_NETMASK", s["netmask"].to_bytes(4, "big" if af == socket.AF_INET else "little")])
        if s.get("pe_name"):
            attrs.append(["IPVS_SVC_ATTR_PE_NAME", s["pe_name"]])
    return attrs


def dest_attrs(d: t.Mapping[str, t.Any], full: bool) -> list:
    af = d.get("af") or (socket.AF_INET6 if ":" in d["addr"] else socket.AF_INET)
    attrs: list = [
        ["IPVS_DEST_ATTR_ADDR", socket.inet_pton(af, d["addr"]).ljust(16, b"\0")],
        ["IPVS_DEST_ATTR_PORT", d.get("port", 0)],
        ["IPVS_DEST_ATTR_ADDR_FAMILY", af],
    ]
    if full:
        attrs.append(["IPVS_DEST_ATTR_FWD_METHOD", d["fwd_method"]])
        attrs.append(["IPVS_DEST_ATTR_WEIGHT", d["weight"]])
        attrs.append(["IPVS_DEST_ATTR_U_THRESH", d.get("u_thresh", 0)])
        attrs.append(["IPVS_DEST_ATTR_L_THRESH", d.get("l_thresh", 0)])
        for key in ("tun_type", "tun_port", "tun_flags"):
            if d.get(key) is not None:
                attrs.append([f"IPVS_DEST_ATTR_{key.upper()}", d[key]])
    return attrs


def daemon_attrs(d: t.Mapping[str, t.Any]) -> list:
    attrs: list = [
        ["IPVS_DAEMON_ATTR_STATE", STATES[d["state"]]],
        ["IPVS_DAEMON_ATTR_MCAST_IFN", d["mcast_ifn"]],
        ["IPVS_DAEMON_ATTR_SYNC_ID", d.get("sync_id", 0)],
    ]
    if d.get("sync_maxlen"):
        attrs.append(["IPVS_DAEMON_ATTR_SYNC_MAXLEN", d["sync_maxlen"]])
    group = d.get("mcast_group")
    if group:
        if ":" in group:
            attrs.append(["IPVS_DAEMON_ATTR_MCAST_GROUP6", socket.inet_pton(socket.AF_INET6, group)])
        else:
            attrs.append(["IPVS_DAEMON_ATTR_MCAST_GROUP", socket.inet_pton(socket.AF_INET, group)])
    if d.get("mcast_port"):
        attrs.append(["IPVS_DAEMON_ATTR_MCAST_PORT", d["mcast_port"]])
    if d.get("mcast_ttl"):
        attrs.append(["IPVS_DAEMON_ATTR_MCAST_TTL", d["mcast_ttl"]])
    return attrs


def stats_attrs(stats: t.Mapping[str, int]) -> dict:
    return {"attrs": [[f"IPVS_STATS_ATTR_{key.upper()}", stats[key]] for key in schema.STATS_KEYS]}


def encode(cmd: int, attrs: list, family_id: int, seq: int, flags: int = NLM_F_REQUEST_ACK, message_class: type = IpvsMessage) -> bytes:
    """One message as pyroute2 encodes it (the attribute lists are copied: pyroute2 rewrites what it encodes)."""
    msg = message_class()
    msg["cmd"] = cmd
    msg["version"] = schema.IPVS_GENL_VERSION
    msg["reserved"] = 0
    msg["attrs"] = copy.deepcopy(attrs)
    msg["header"]["type"] = family_id
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = seq
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


def decode(data: bytes, message_class: type = IpvsMessage) -> t.Any:
    msg = message_class(data)
    msg.decode()
    return msg


def nest(name: str, attrs: list) -> list:
    return [name, {"attrs": attrs}]


# Requests as pyroute2 encodes them, for kernel dicts the codec takes (the old codec's *_request functions).

def service_request(cmd: int, s: t.Mapping[str, t.Any], full: bool, family_id: int, seq: int, flags: int = NLM_F_REQUEST_ACK) -> bytes:
    return encode(cmd, [nest("IPVS_CMD_ATTR_SERVICE", service_attrs(s, full))], family_id, seq, flags)


def dest_request(cmd: int, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any], full: bool, family_id: int, seq: int,
                 flags: int = NLM_F_REQUEST_ACK) -> bytes:
    attrs = [nest("IPVS_CMD_ATTR_SERVICE", service_attrs(s, False)), nest("IPVS_CMD_ATTR_DEST", dest_attrs(d, full))]
    return encode(cmd, attrs, family_id, seq, flags)


def daemon_request(d: t.Mapping[str, t.Any], family_id: int, seq: int) -> bytes:
    return encode(schema.IPVS_CMD_NEW_DAEMON, [nest("IPVS_CMD_ATTR_DAEMON", daemon_attrs(d))], family_id, seq)


def timeouts_request(tcp: int | None, tcpfin: int | None, udp: int | None, family_id: int, seq: int) -> bytes:
    attrs = [[name, value] for name, value in (("IPVS_CMD_ATTR_TIMEOUT_TCP", tcp), ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", tcpfin),
                                               ("IPVS_CMD_ATTR_TIMEOUT_UDP", udp)) if value is not None]
    return encode(schema.IPVS_CMD_SET_CONFIG, attrs, family_id, seq)


# Replies as pyroute2 encodes them: what the kernel would send for a kernel dict (counters included).

def service_reply(s: t.Mapping[str, t.Any], stats_name: str = "IPVS_SVC_ATTR_STATS64") -> bytes:
    attrs = service_attrs(s, full=True)
    for item in attrs:
        if item[0] == "IPVS_SVC_ATTR_FLAGS":
            item[1] = {"flags": s["flags"], "mask": 0xFFFFFFFF}  # the kernel sends its flags, HASHED included
    if "stats" in s:
        attrs.append([stats_name, stats_attrs(s["stats"])])
    return encode(schema.IPVS_CMD_NEW_SERVICE, [nest("IPVS_CMD_ATTR_SERVICE", attrs)], 0x2A, 1, 0x2)


def dest_reply(d: t.Mapping[str, t.Any], stats_name: str = "IPVS_DEST_ATTR_STATS64") -> bytes:
    attrs = dest_attrs(d, full=True)
    for key in ("active_conns", "inact_conns", "persist_conns"):
        if key in d:
            attrs.append([f"IPVS_DEST_ATTR_{key.upper()}", d[key]])
    if "stats" in d:
        attrs.append([stats_name, stats_attrs(d["stats"])])
    return encode(schema.IPVS_CMD_NEW_DEST, [nest("IPVS_CMD_ATTR_DEST", attrs)], 0x2A, 1, 0x2)


def daemon_reply(d: t.Mapping[str, t.Any]) -> bytes:
    return encode(schema.IPVS_CMD_NEW_DAEMON, [nest("IPVS_CMD_ATTR_DAEMON", daemon_attrs(d))], 0x2A, 1, 0x2)


def timeouts_reply(timeouts: t.Mapping[str, int]) -> bytes:
    return encode(schema.IPVS_CMD_SET_CONFIG, [["IPVS_CMD_ATTR_TIMEOUT_TCP", timeouts["tcp"]], ["IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", timeouts["tcpfin"]],
                                               ["IPVS_CMD_ATTR_TIMEOUT_UDP", timeouts["udp"]]], 0x2A, 1, 0)


def info_reply(version_code: int, conn_tab_size: int) -> bytes:
    return encode(schema.IPVS_CMD_SET_INFO, [["IPVS_INFO_ATTR_VERSION", version_code], ["IPVS_INFO_ATTR_CONN_TAB_SIZE", conn_tab_size]],
                  0x2A, 1, 0, IpvsInfoMessage)


# ---------------------------------------------------------------------------------------------
# pyroute2 messages -> kernel dicts (the old codec's *_from_nla / *_from_message)

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
    return {key: int(source.get(f"IPVS_STATS_ATTR_{key.upper()}", 0)) for key in schema.STATS_KEYS}


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
        "addr": None if fwmark or raw_addr is None else address_text(af, raw_addr),
        "port": 0 if fwmark else int(attrs.get("IPVS_SVC_ATTR_PORT", 0)),
        "fwmark": fwmark,
        "sched_name": attrs.get("IPVS_SVC_ATTR_SCHED_NAME", ""),
        "flags": flags,
        "timeout": int(attrs.get("IPVS_SVC_ATTR_TIMEOUT", 0)),
        "netmask": int.from_bytes(bytes(netmask[:4]), "big" if af == socket.AF_INET else "little") if netmask is not None else 0,
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
        "addr": address_text(af, attrs.get("IPVS_DEST_ATTR_ADDR", b"")),
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
        mcast_group: str | None = address_text(socket.AF_INET6, group6)
    elif group is not None:
        mcast_group = address_text(socket.AF_INET, group)
    else:
        mcast_group = None
    return {
        "state": {number: name for name, number in STATES.items()}.get(state, str(state)),
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
        raise ValueError("the kernel sent a service message without IPVS_CMD_ATTR_SERVICE")
    return service_from_nla(svc, stats)


def dest_from_message(msg: t.Any, service_af: int = socket.AF_INET, stats: bool = True) -> KernelDict:
    """A kernel dest dict from a NEW_DEST message (a GET_DEST reply)."""
    dest = _Attrs(msg).get("IPVS_CMD_ATTR_DEST")
    if dest is None:
        raise ValueError("the kernel sent a real server message without IPVS_CMD_ATTR_DEST")
    return dest_from_nla(dest, service_af, stats)


def daemon_from_message(msg: t.Any) -> KernelDict:
    """A daemon dict from a NEW_DAEMON message (a GET_DAEMON reply)."""
    daemon = _Attrs(msg).get("IPVS_CMD_ATTR_DAEMON")
    if daemon is None:
        raise ValueError("the kernel sent a daemon message without IPVS_CMD_ATTR_DAEMON")
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
