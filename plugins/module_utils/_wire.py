# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The codec's fast path: service and real-server messages packed and unpacked with struct.

The codec (_codec) builds and reads messages with pyroute2's generic encoder, about 250
microseconds a request and 120 a reply on a fast machine: a minute or more for a table of
10,000 real servers in the emulated lab. The whole-table path (apply() and ipvs_table's read)
uses these functions instead, about 2 microseconds each. They speak the codec's language,
*kernel dicts* (docs/internals.md), take the attribute numbers from the codec's own message
classes (_netlink), and the unit tests check that they give exactly the codec's bytes and
values. Nothing here knows about Ansible or the model.
"""

from __future__ import annotations

import socket
import struct
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._codec import IpvsError, IpvsRequest
from ansible_collections.lvs.ipvs.plugins.module_utils._netlink import (
    IPVS_GENL_VERSION,
    IP_VS_SVC_F_HASHED,
    NLM_F_ACK,
    NLM_F_REQUEST,
    IpvsDest,
    IpvsMessage,
    IpvsService,
)


def _numbers(message_class: t.Any) -> t.Dict[str, int]:
    return {name: number for number, name, _kind in message_class.nla_map}


_CMD = _numbers(IpvsMessage)
_SVC = _numbers(IpvsService)
_DEST = _numbers(IpvsDest)
NLMSG_GENL = struct.Struct("=IHHIIBBH")  # netlink header (length, type, flags, seq, pid) + genl header (cmd, version, reserved)
_PAYLOAD = NLMSG_GENL.size  # attributes start after the two headers
_NLA = struct.Struct("=HH")
_U8 = struct.Struct("=B")
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_BE16 = struct.Struct(">H")
_BE32 = struct.Struct(">I")
_FLAGS = struct.Struct("=II")
_ALL_FLAGS = 0xFFFFFFFF & ~IP_VS_SVC_F_HASHED

# ---------------------------------------------------------------------------------------------
# Requests


def _nla(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (-length % 4)


def packed_address(af: int, address: str) -> bytes:
    """An address as the 16 bytes of union nf_inet_addr (IPv4 in the first four)."""
    return socket.inet_pton(af, address).ljust(16, b"\0")


def service_nest(s: t.Mapping[str, t.Any], full: bool) -> bytes:
    """IPVS_CMD_ATTR_SERVICE of a kernel service dict: its key, or (full) every field NEW/SET_SERVICE need.

    The same attributes, in the same order, as _codec.service_attrs().
    """
    af = s["af"]
    attrs = [_nla(_SVC["IPVS_SVC_ATTR_AF"], _U16.pack(af))]
    if s.get("fwmark"):
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_FWMARK"], _U32.pack(s["fwmark"])))
    else:
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_PROTOCOL"], _U16.pack(s["protocol"])))
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_ADDR"], packed_address(af, s["addr"])))
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_PORT"], _BE16.pack(s.get("port") or 0)))
    if full:
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_SCHED_NAME"], s["sched_name"].encode() + b"\0"))
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_FLAGS"], _FLAGS.pack(s["flags"] & _ALL_FLAGS, _ALL_FLAGS)))
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_TIMEOUT"], _U32.pack(s["timeout"])))
        attrs.append(_nla(_SVC["IPVS_SVC_ATTR_NETMASK"], (_BE32 if af == socket.AF_INET else _U32).pack(s["netmask"])))
        if s.get("pe_name"):
            attrs.append(_nla(_SVC["IPVS_SVC_ATTR_PE_NAME"], s["pe_name"].encode() + b"\0"))
    return _nla(_CMD["IPVS_CMD_ATTR_SERVICE"], b"".join(attrs))


# A dest nest: ADDR (16 bytes), PORT (big-endian), ADDR_FAMILY; a full one (NEW/SET_DEST) adds FWD_METHOD, WEIGHT,
# U_THRESH, L_THRESH (u32 each), TUN_TYPE (u8), TUN_PORT (big-endian), TUN_FLAGS (u16); each attribute padded to four.
_DEST_KEY_FORMAT = "=HH" + "HH16s" + "HHH2x" * 2
_DEST_KEY = struct.Struct(_DEST_KEY_FORMAT)
_DEST_FULL = struct.Struct(_DEST_KEY_FORMAT + "HHI" * 4 + "HHB3x" + "HHH2x" * 2)
_DEST_NEST = _CMD["IPVS_CMD_ATTR_DEST"]
_KEY_HEADERS = (20, _DEST["IPVS_DEST_ATTR_ADDR"], 6, _DEST["IPVS_DEST_ATTR_PORT"], 6, _DEST["IPVS_DEST_ATTR_ADDR_FAMILY"])
_H_FWD, _H_WEIGHT, _H_UTH, _H_LTH = ((8, _DEST[name]) for name in (
    "IPVS_DEST_ATTR_FWD_METHOD", "IPVS_DEST_ATTR_WEIGHT", "IPVS_DEST_ATTR_U_THRESH", "IPVS_DEST_ATTR_L_THRESH"))
_H_TTYPE = (5, _DEST["IPVS_DEST_ATTR_TUN_TYPE"])
_H_TPORT = (6, _DEST["IPVS_DEST_ATTR_TUN_PORT"])
_H_TFLAGS = (6, _DEST["IPVS_DEST_ATTR_TUN_FLAGS"])


def dest_nest(d: t.Mapping[str, t.Any], full: bool) -> bytes:
    """IPVS_CMD_ATTR_DEST of a full kernel dest dict (as _model.real_server_to_kernel gives): its key, or (full) every field.

    The same bytes as _codec.dest_attrs() for a dict with every TUN_* key set.
    """
    af = d["af"]
    key = (packed_address(af, d["addr"]), socket.htons(d["port"]), af)
    if not full:
        return _DEST_KEY.pack(_DEST_KEY.size, _DEST_NEST, *_KEY_HEADERS[:2], key[0], *_KEY_HEADERS[2:4], key[1], *_KEY_HEADERS[4:], key[2])
    return _DEST_FULL.pack(
        _DEST_FULL.size, _DEST_NEST, *_KEY_HEADERS[:2], key[0], *_KEY_HEADERS[2:4], key[1], *_KEY_HEADERS[4:], key[2],
        *_H_FWD, d["fwd_method"], *_H_WEIGHT, d["weight"], *_H_UTH, d["u_thresh"], *_H_LTH, d["l_thresh"],
        *_H_TTYPE, d["tun_type"], *_H_TPORT, socket.htons(d["tun_port"]), *_H_TFLAGS, d["tun_flags"],
    )


class PackedRequest(IpvsRequest):
    """A request whose attributes are already packed; IpvsNetlink.send_batch() sends it like any IpvsRequest."""

    __slots__ = ("payload",)

    def __init__(self, cmd: int, payload: bytes, what: str = "") -> None:
        super().__init__(cmd, [], what)
        self.payload = payload

    def encode(self, family_id: int, seq: int, flags: int = 0) -> bytes:
        header = NLMSG_GENL.pack(NLMSG_GENL.size + len(self.payload), family_id, flags or (NLM_F_REQUEST | NLM_F_ACK), seq, 0,
                                 self.cmd, IPVS_GENL_VERSION, 0)
        return header + self.payload


# ---------------------------------------------------------------------------------------------
# Replies (GET_SERVICE / GET_DEST dump parts, as IpvsNetlink.dump_raw() returns them): counters are not read.


def _attributes(data: bytes, start: int, end: int) -> t.Dict[int, t.Tuple[int, int]]:
    """Attribute type -> (start, end) of its payload, for the attributes in data[start:end]."""
    found: t.Dict[int, t.Tuple[int, int]] = {}
    unpack = _NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4:
            break
        found[kind & 0x3FFF] = (start + 4, start + length)
        start += (length + 3) & ~3
    return found


def _text(data: bytes, span: t.Optional[t.Tuple[int, int]]) -> t.Optional[str]:
    if span is None:
        return None
    return data[span[0]:span[1]].split(b"\0", 1)[0].decode("ascii", "replace") or None


def address_text(af: int, raw: bytes) -> str:
    """The textual form of 16 address bytes (IPv4 in the first four)."""
    if af == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[:16])
    return socket.inet_ntop(socket.AF_INET, raw[:4])


# The keys of a kernel service dict that service_values() gives, in its order.
SERVICE_KEYS = ("af", "protocol", "addr", "port", "fwmark", "sched_name", "flags", "timeout", "netmask", "pe_name")


def service_values(data: bytes) -> t.Tuple[t.Any, ...]:
    """The fields of one GET_SERVICE reply, in the order of SERVICE_KEYS (as _codec.service_from_nla: HASHED cleared)."""
    span = _attributes(data, _PAYLOAD, len(data)).get(_CMD["IPVS_CMD_ATTR_SERVICE"])
    if span is None:
        raise IpvsError("the kernel sent a service message without IPVS_CMD_ATTR_SERVICE")
    attrs = _attributes(data, span[0], span[1])

    def number(name: str, unpacker: struct.Struct = _U32) -> int:
        where = attrs.get(_SVC[name])
        return 0 if where is None else int(unpacker.unpack_from(data, where[0])[0])

    af = number("IPVS_SVC_ATTR_AF", _U16)
    fwmark = number("IPVS_SVC_ATTR_FWMARK")
    flags_span = attrs.get(_SVC["IPVS_SVC_ATTR_FLAGS"])
    flags, mask = _FLAGS.unpack_from(data, flags_span[0]) if flags_span is not None else (0, 0)
    netmask_span = attrs.get(_SVC["IPVS_SVC_ATTR_NETMASK"])
    netmask = 0
    if netmask_span is not None:
        netmask = (_U32 if af == socket.AF_INET6 else _BE32).unpack_from(data, netmask_span[0])[0]
    address_span = attrs.get(_SVC["IPVS_SVC_ATTR_ADDR"])
    return (
        af,
        0 if fwmark else number("IPVS_SVC_ATTR_PROTOCOL", _U16),
        None if fwmark or address_span is None else address_text(af, data[address_span[0]:address_span[0] + 16].ljust(16, b"\0")),
        0 if fwmark else number("IPVS_SVC_ATTR_PORT", _BE16),
        fwmark,
        _text(data, attrs.get(_SVC["IPVS_SVC_ATTR_SCHED_NAME"])) or "",
        flags & mask & ~IP_VS_SVC_F_HASHED,
        number("IPVS_SVC_ATTR_TIMEOUT"),
        netmask,
        _text(data, attrs.get(_SVC["IPVS_SVC_ATTR_PE_NAME"])),
    )


# The keys of a kernel dest dict that dest_values() gives (besides af and the address), in its order.
_DEST_FIELDS = (
    ("port", _DEST["IPVS_DEST_ATTR_PORT"], _BE16),
    ("fwd_method", _DEST["IPVS_DEST_ATTR_FWD_METHOD"], _U32),
    ("weight", _DEST["IPVS_DEST_ATTR_WEIGHT"], _U32),
    ("u_thresh", _DEST["IPVS_DEST_ATTR_U_THRESH"], _U32),
    ("l_thresh", _DEST["IPVS_DEST_ATTR_L_THRESH"], _U32),
    ("tun_type", _DEST["IPVS_DEST_ATTR_TUN_TYPE"], _U8),
    ("tun_port", _DEST["IPVS_DEST_ATTR_TUN_PORT"], _BE16),
    ("tun_flags", _DEST["IPVS_DEST_ATTR_TUN_FLAGS"], _U16),
)
DEST_KEYS = tuple(field[0] for field in _DEST_FIELDS)
_DEST_SLOTS = {number: (index, unpacker) for index, (_key, number, unpacker) in enumerate(_DEST_FIELDS)}
_DEST_ADDR = _DEST["IPVS_DEST_ATTR_ADDR"]
_DEST_AF = _DEST["IPVS_DEST_ATTR_ADDR_FAMILY"]


def dest_values(data: bytes, service_af: int) -> t.Tuple[int, bytes, t.Tuple[int, ...]]:
    """(address family, the 16 address bytes, the fields of DEST_KEYS) of one GET_DEST reply.

    One pass over the attributes (11,000 replies for a table of 1,000 services of 10 real servers).
    A reply without ADDR_FAMILY (older kernels) has the service's family.
    """
    span = _attributes(data, _PAYLOAD, len(data)).get(_DEST_NEST)
    if span is None:
        raise IpvsError("the kernel sent a real server message without IPVS_CMD_ATTR_DEST")
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
        elif kind == _DEST_ADDR:
            raw_address = data[offset + 4:offset + 20].ljust(16, b"\0")
        elif kind == _DEST_AF:
            af = _U16.unpack_from(data, offset + 4)[0]
        offset += (length + 3) & ~3
    return (af, raw_address, tuple(values))
