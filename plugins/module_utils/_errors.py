# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Every error of this collection's modules, in one leaf module that imports nothing of the collection.

- OptionError: a module option is invalid (raised by validation, before anything is read or written).
- TaskError: a failure to report with fail_json, with extra result keys (commands applied, refused, not sent).
- IpvsError and its subclasses: the kernel's IPVS interface is unavailable, a namespace is missing, or the
  kernel refused a request.
"""

from __future__ import annotations

import typing as t


class OptionError(Exception):
    """A module option is invalid: str() names the option, the problem and what is accepted."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


class TaskError(Exception):
    """A failure to report with fail_json: the message, and extra result keys."""

    def __init__(self, message: str, **result: t.Any) -> None:
        super().__init__(message)
        self.result = result


class IpvsError(Exception):
    """Base of every error of the kernel interface."""


class IpvsUnavailable(IpvsError):
    """The IPVS generic-netlink family cannot be resolved: ip_vs is not loaded and cannot load."""


class IpvsNamespaceError(IpvsError):
    """The network namespace asked for does not exist or is not a network namespace."""


class IpvsNamespaceMissing(IpvsNamespaceError):
    """The network namespace asked for does not exist (a valid name, nothing under /run/netns yet)."""


class IpvsKernelError(IpvsError):
    """The kernel refused a request: ``errno`` is the positive error code, ``message`` a sentence,
    ``request`` the request refused (when known)."""

    def __init__(self, error_number: int, message: str, request: t.Any = None) -> None:
        super().__init__(error_number, message)
        self.errno = error_number
        self.message = message
        self.request = request

    def __str__(self) -> str:
        return self.message


class IpvsPermissionError(IpvsKernelError):
    """EPERM / EACCES: IPVS needs root (CAP_NET_ADMIN in the network namespace)."""
