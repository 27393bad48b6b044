# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Entering a named network namespace (one of `ip netns`) for the calling thread, and coming back.

The netlink socket is opened inside the namespace and keeps talking to it after the thread
comes back; /proc/thread-self/net files are read inside it. A namespace is opened, never created.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsNamespaceError, IpvsNamespaceMissing, IpvsPermissionError

NETNS_RUN_DIR = "/var/run/netns"  # where `ip netns add` binds its namespaces
CLONE_NEWNET = 0x40000000

_T = t.TypeVar("_T")


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
