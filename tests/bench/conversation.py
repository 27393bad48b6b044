# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A recorded kernel conversation of ipvs_table, for the benchmark only (never a stand-in for the kernel in a test).

In the lab VM, `recording()` swaps the codec's socket factory (_netlink_socket.generic_netlink_socket, the one place the
module makes its netlink socket) for a wrapper of the real socket that notes every datagram sent and every
datagram received, in order. On the host, `replaying()` swaps in a socket that checks each datagram the
module sends against the recorded one and answers with the recorded replies: the module's own code
(validation, reading the dumps, planning, packing, the pipelined apply) runs as it does against the kernel,
and the kernel's part is taken out, so time.process_time() around it is the module's own CPU.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils import _netlink_socket

Event = t.Tuple[str, bytes, int]  # ("send", datagram, 0) or ("recv", datagram, msg_flags)


class RecordingSocket:
    """The real netlink socket, noting every datagram both ways."""

    def __init__(self, real: socket.socket, events: t.List[Event]) -> None:
        self.real = real
        self.events = events

    def settimeout(self, value: float) -> None:
        self.real.settimeout(value)

    def setsockopt(self, *args: t.Any) -> None:
        self.real.setsockopt(*args)

    def bind(self, address: t.Any) -> None:
        self.real.bind(address)

    def close(self) -> None:
        self.real.close()

    def send(self, data: bytes) -> int:
        self.events.append(("send", bytes(data), 0))
        return self.real.send(data)

    def recvmsg(self, size: int) -> t.Tuple[bytes, list, int, t.Any]:
        data, ancdata, flags, address = self.real.recvmsg(size)
        self.events.append(("recv", data, flags))
        return data, ancdata, flags, address


class ConversationMismatch(AssertionError):
    """The module did not send what it sent in the recorded run (another table, another code)."""


class ReplayingSocket:
    """Answers with the recorded datagrams, after checking that each datagram sent is the recorded one."""

    def __init__(self, events: t.Sequence[Event]) -> None:
        self.events = events
        self.position = 0

    def settimeout(self, value: float) -> None:
        pass

    def setsockopt(self, *args: t.Any) -> None:
        pass

    def bind(self, address: t.Any) -> None:
        pass

    def close(self) -> None:
        pass

    def _next(self, kind: str) -> Event:
        if self.position >= len(self.events):
            raise ConversationMismatch(f"the module went on ({kind}) after the {len(self.events)} recorded datagrams")
        event = self.events[self.position]
        if event[0] != kind:
            raise ConversationMismatch(f"datagram {self.position}: the module did {kind}, the recorded run did {event[0]}")
        self.position += 1
        return event

    def send(self, data: bytes) -> int:
        expected = self._next("send")[1]
        if data != expected:
            raise ConversationMismatch(f"datagram {self.position - 1}: the module sent {len(data)} bytes other than the recorded {len(expected)}")
        return len(data)

    def recvmsg(self, size: int) -> t.Tuple[bytes, list, int, t.Any]:
        _kind, data, flags = self._next("recv")
        return data, [], flags, (0, 0)

    def finished(self) -> bool:
        return self.position == len(self.events)


@contextlib.contextmanager
def _factory(make: t.Callable[[], t.Any]) -> t.Iterator[None]:
    original = _netlink_socket.generic_netlink_socket
    _netlink_socket.generic_netlink_socket = make
    try:
        yield
    finally:
        _netlink_socket.generic_netlink_socket = original


@contextlib.contextmanager
def recording(events: t.List[Event]) -> t.Iterator[None]:
    """Every netlink socket the module opens inside the block records into `events`."""
    original = _netlink_socket.generic_netlink_socket
    with _factory(lambda: RecordingSocket(original(), events)):
        yield


@contextlib.contextmanager
def replaying(events: t.Sequence[Event]) -> t.Iterator[t.List[ReplayingSocket]]:
    """The module's netlink sockets inside the block replay `events` (one conversation: one socket)."""
    opened: t.List[ReplayingSocket] = []

    def make() -> ReplayingSocket:
        opened.append(ReplayingSocket(events))
        return opened[-1]

    with _factory(make):
        yield opened


def save(path: str, conversations: t.Mapping[str, t.Sequence[Event]], meta: t.Mapping[str, t.Any]) -> None:
    data = {"meta": dict(meta), "conversations": {
        name: [[kind, base64.b64encode(payload).decode(), flags] for kind, payload, flags in events]
        for name, events in conversations.items()}}
    with gzip.open(path, "wt", encoding="ascii") as handle:
        json.dump(data, handle)


def load(path: str) -> t.Tuple[t.Dict[str, t.List[Event]], t.Dict[str, t.Any]]:
    with gzip.open(path, "rt", encoding="ascii") as handle:
        data = json.load(handle)
    conversations = {name: [(kind, base64.b64decode(payload), flags) for kind, payload, flags in events]
                     for name, events in data["conversations"].items()}
    return conversations, data["meta"]
