# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The transport: a generic-netlink socket of our own, with framing, sequence numbers, dumps, pipelined batches.

It moves bytes (what the codec packs, _ipvs_codec) and knows nothing of IPVS. The socket is a
plain ``AF_NETLINK`` one, because pyroute2's socket classes differ between the versions this
collection supports (threads and a backlog in 0.7, asyncio in 0.9, no ``netns`` argument in 0.7,
a netns created on demand in 0.9) and none can pipeline requests and report one result per
request. From pyroute2 (_pyroute2) it takes ``ctrlmsg`` for the family lookup and ``NetlinkError``.
The constants are the kernel's (include/uapi/linux/netlink.h, genetlink.h).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError, IpvsUnavailable
from ansible_collections.lvs.ipvs.plugins.module_utils._netns import open_socket_in_netns
from ansible_collections.lvs.ipvs.plugins.module_utils._pyroute2 import NetlinkError, ctrlmsg

NETLINK_GENERIC = 16
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLM_F_CAPPED = 0x100  # an error ack without the request's payload
NLM_F_ACK_TLVS = 0x200  # an error ack with extended-ack attributes
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # error acks without the request's payload
NETLINK_EXT_ACK = 11  # the kernel's own error text, when it gives one
NLMSGERR_ATTR_MSG = 1
NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
_ERROR_CODE = struct.Struct("=i")
_NLA = struct.Struct("=HH")
RECV_BUFFER = 1 << 18  # a dump part is at most 32 KiB; anything above is never truncated
SOCKET_BUFFER = 1 << 20
DEFAULT_BATCH_SIZE = 64  # requests per sendmsg(): their acks must fit the receive buffer
DEFAULT_TIMEOUT = 60.0


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
    while offset + NLMSGHDR.size <= len(data):
        length, mtype, flags, seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            raise IpvsError(f"malformed netlink message from the kernel (length {length} at offset {offset} of {len(data)})")
        messages.append(RawMessage(mtype, flags, seq, bytes(data[offset:offset + length])))
        offset += (length + 3) & ~3
    return messages


def error_of(raw: RawMessage) -> tuple[int, str | None]:
    """The positive errno of an NLMSG_ERROR (0 = ack) or NLMSG_DONE, and the kernel's extended-ack text if any."""
    if len(raw.data) < NLMSGHDR.size + _ERROR_CODE.size:
        return 0, None
    code = -_ERROR_CODE.unpack_from(raw.data, NLMSGHDR.size)[0]
    detail = None
    if raw.type == NLMSG_ERROR and code and raw.flags & NLM_F_ACK_TLVS:
        # After the error code: the request's header, and its payload unless NLM_F_CAPPED.
        offset = NLMSGHDR.size + _ERROR_CODE.size
        if offset + NLMSGHDR.size <= len(raw.data):
            inner_length = NLMSGHDR.unpack_from(raw.data, offset)[0]
            offset += NLMSGHDR.size if raw.flags & NLM_F_CAPPED else (inner_length + 3) & ~3
        while offset + 4 <= len(raw.data):
            nla_len, nla_type = _NLA.unpack_from(raw.data, offset)
            if nla_len < 4:
                break
            if nla_type & 0x3FFF == NLMSGERR_ATTR_MSG:
                detail = raw.data[offset + 4:offset + nla_len].split(b"\0", 1)[0].decode("utf-8", "replace") or None
            offset += (nla_len + 3) & ~3
    return max(code, 0), detail


def generic_netlink_socket() -> socket.socket:
    """A new generic-netlink socket (the one place the collection opens one: tests/bench records through it)."""
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)


class GenlChannel:
    """A generic-netlink socket of our own: requests, dumps that read every part, pipelined batches."""

    def __init__(self, netns: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            self.sock = open_socket_in_netns(netns, generic_netlink_socket)
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

        Raises NetlinkError(errno, kernel text) for a kernel error; messages of other sequence numbers (late acks) are skipped.
        """
        self.send(data)
        replies: list[RawMessage] = []
        while True:
            for raw in self.receive():
                if raw.seq != seq:
                    continue
                if raw.type in (NLMSG_ERROR, NLMSG_DONE):
                    code, detail = error_of(raw)
                    if code:
                        raise NetlinkError(code, detail or os.strerror(code))
                    if raw.type == NLMSG_DONE or not dump:
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
        """The id of a generic-netlink family (CTRL_CMD_GETFAMILY, with pyroute2's ctrlmsg); NetlinkError ENOENT when it is unknown."""
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
            reply = ctrlmsg(raw.data)
            reply.decode()
            family_id = reply.get_attr("CTRL_ATTR_FAMILY_ID")
            if family_id is not None:
                return int(family_id)
        raise IpvsError(f"the kernel answered the lookup of the {name} family without its id")
