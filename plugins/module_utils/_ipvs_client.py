# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Layer 1: the IPVS table of one network namespace, read and changed in kernel dicts (see docs/internals.md).

``IpvsClient`` sends the codec's requests (_ipvs_codec) over the transport (_netlink_socket), one
at a time or pipelined (``send_batch``), and turns the kernel's refusals into named exceptions
(_errors) with a sentence an operator understands (``kernel_error``).
"""

from __future__ import annotations

import errno
import os
import socket
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_codec as codec
from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_schema as schema
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError, IpvsKernelError, IpvsPermissionError, IpvsUnavailable
from ansible_collections.lvs.ipvs.plugins.module_utils._netlink_socket import (
    DEFAULT_BATCH_SIZE,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
    GenlChannel,
    RawMessage,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._pyroute2 import PYROUTE2_IMPORT_ERROR, NetlinkError, pyroute2_missing_message

KernelDict = t.Dict[str, t.Any]

_DEST_COMMANDS = (schema.IPVS_CMD_NEW_DEST, schema.IPVS_CMD_SET_DEST, schema.IPVS_CMD_DEL_DEST, schema.IPVS_CMD_GET_DEST)
_DAEMON_COMMANDS = (schema.IPVS_CMD_NEW_DAEMON, schema.IPVS_CMD_DEL_DAEMON, schema.IPVS_CMD_GET_DAEMON)


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


def kernel_error(error_number: int, request: codec.IpvsRequest | None = None, detail: str | None = None) -> IpvsKernelError:
    """The exception for a kernel error code: IpvsPermissionError for EPERM / EACCES."""
    what = request.what if request is not None else None
    text = explain_errno(error_number, request.cmd if request is not None else None)
    name = errno.errorcode.get(error_number, str(error_number))
    message = f"{what}: {text} ({name})" if what else f"{text} ({name})"
    if detail:
        message += f"; the kernel says: {detail}"
    cls = IpvsPermissionError if error_number in (errno.EPERM, errno.EACCES) else IpvsKernelError
    return cls(error_number, message, request)


def _detail(exc: t.Any) -> str | None:
    """The kernel's extended-ack text carried by a NetlinkError raised by GenlChannel.exchange."""
    text = exc.args[1] if len(exc.args) > 1 else None
    if not text or text == os.strerror(exc.code):
        return None
    return str(text)


def _get_request(cmd: int, payload: bytes = b"", what: str = "") -> codec.IpvsRequest:
    return codec.IpvsRequest(cmd, payload, what or f"read {schema.COMMAND_NAMES[cmd][4:].lower()}")


class IpvsClient:
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
            return self._channel.resolve_family(schema.IPVS_GENL_NAME)
        except NetlinkError as exc:
            if exc.code == errno.ENOENT:
                where = f" (network namespace {self.netns})" if self.netns else ""
                raise IpvsUnavailable(f"ip_vs is not available on this host{where}: load it with `modprobe ip_vs`") from None
            raise kernel_error(exc.code) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> IpvsClient:
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, request: codec.IpvsRequest) -> list[bytes]:
        """Send one request and wait for its acknowledgement; return the replies before it, or raise the mapped kernel error."""
        seq = self._channel.next_seq()
        try:
            raws = self._channel.exchange(request.encode(self.family_id, seq, NLM_F_REQUEST | NLM_F_ACK), seq, False)
        except NetlinkError as exc:
            raise kernel_error(exc.code, request, _detail(exc)) from None
        return [raw.data for raw in raws]

    def dump_raw(self, request: codec.IpvsRequest) -> list[RawMessage]:
        """Send a GET request as a dump; return every part of the answer undecoded (for service_values / dest_values).

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

    def request(self, request: codec.IpvsRequest) -> None:
        """Send one change request and wait for its acknowledgement."""
        self._call(request)

    def send_batch(self, requests: t.Sequence[codec.IpvsRequest]) -> list[IpvsKernelError | None]:
        """Pipeline change requests: send up to batch_size of them (each with NLM_F_ACK and its own
        sequence number) in one datagram, then read their acknowledgements; repeat.

        Returns one result per request, in order: None for success, the IpvsKernelError (or
        IpvsPermissionError) the kernel answered otherwise. The kernel goes on with the next
        request after a failed one, so every request is tried.
        """
        family_id = self.family_id

        def encoder(request: codec.IpvsRequest) -> t.Callable[[int], bytes]:
            return lambda seq: request.encode(family_id, seq, NLM_F_REQUEST | NLM_F_ACK)

        answers = self._channel.pipeline([encoder(request) for request in requests], self.batch_size)
        return [kernel_error(code, request, detail) if code else None for request, (code, detail) in zip(requests, answers)]

    # -- reading ----------------------------------------------------------------------------

    def services(self, stats: bool = True) -> list[KernelDict]:
        """Every service of the namespace (one dump, all its parts); ``stats=False`` skips reading the counters."""
        request = _get_request(schema.IPVS_CMD_GET_SERVICE, what="list services")
        return [codec.service_from_message(raw.data, stats) for raw in self.dump_raw(request)]

    def service(self, s: t.Mapping[str, t.Any]) -> KernelDict | None:
        """One service by its key (GET_SERVICE doit), None when it does not exist."""
        payload = codec.service_nest(codec.check_service(s, full=False), full=False)
        request = _get_request(schema.IPVS_CMD_GET_SERVICE, payload, f"read service {codec.describe_service(s)}")
        try:
            replies = self._call(request)
        except IpvsKernelError as exc:
            if exc.errno == errno.ESRCH:
                return None
            raise
        return codec.service_from_message(replies[0]) if replies else None

    def dests(self, service: t.Mapping[str, t.Any], stats: bool = True) -> list[KernelDict]:
        """The real servers of a service (one dump); empty for a service that does not exist. ``stats`` as for services()."""
        payload = codec.service_nest(codec.check_service(service, full=False), full=False)
        request = _get_request(schema.IPVS_CMD_GET_DEST, payload, f"list real servers of service {codec.describe_service(service)}")
        af = int(service.get("af") or socket.AF_INET)
        return [codec.dest_from_message(raw.data, af, stats) for raw in self.dump_raw(request)]

    def timeouts(self) -> KernelDict:
        """{"tcp", "tcpfin", "udp"} in seconds (GET_CONFIG)."""
        replies = self._call(_get_request(schema.IPVS_CMD_GET_CONFIG, what="read timeouts"))
        if not replies:
            raise IpvsError("the kernel answered GET_CONFIG without a reply")
        return codec.timeouts_from_message(replies[0])

    def info(self) -> KernelDict:
        """{"version": "1.2.1", "conn_tab_size": 4096} (GET_INFO)."""
        replies = self._call(_get_request(schema.IPVS_CMD_GET_INFO, what="read IPVS info"))
        if not replies:
            raise IpvsError("the kernel answered GET_INFO without a reply")
        return codec.info_from_message(replies[0])

    def daemons(self) -> list[KernelDict]:
        """The running sync daemons (GET_DAEMON dump): none, a master, a backup, or both."""
        return [codec.daemon_from_message(raw.data) for raw in self.dump_raw(_get_request(schema.IPVS_CMD_GET_DAEMON, what="list sync daemons"))]

    # -- changing ---------------------------------------------------------------------------

    def add_service(self, s: t.Mapping[str, t.Any]) -> None:
        self.request(codec.add_service_request(s))

    def edit_service(self, s: t.Mapping[str, t.Any]) -> None:
        self.request(codec.edit_service_request(s))

    def delete_service(self, s: t.Mapping[str, t.Any]) -> None:
        self.request(codec.delete_service_request(s))

    def add_dest(self, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> None:
        self.request(codec.add_dest_request(s, d))

    def edit_dest(self, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> None:
        self.request(codec.edit_dest_request(s, d))

    def delete_dest(self, s: t.Mapping[str, t.Any], d: t.Mapping[str, t.Any]) -> None:
        self.request(codec.delete_dest_request(s, d))

    def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        self.request(codec.set_timeouts_request(tcp, tcpfin, udp))

    def add_daemon(self, d: t.Mapping[str, t.Any]) -> None:
        self.request(codec.add_daemon_request(d))

    def delete_daemon(self, state: str | int) -> None:
        self.request(codec.delete_daemon_request(state))

    def flush(self) -> None:
        self.request(codec.flush_request())

    def zero(self, service: t.Mapping[str, t.Any] | None = None) -> None:
        self.request(codec.zero_request(service))
