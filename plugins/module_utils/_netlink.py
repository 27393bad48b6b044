# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The IPVS generic-netlink family: command and attribute numbers, and message classes.

Numbers are those of the Linux uapi header ``include/uapi/linux/ip_vs.h``. The message classes
are built on pyroute2's stable primitives only (``genlmsg``, ``nla``), which encode and decode
identically from pyroute2 0.5 to 0.9 (see _import_primitives); pyroute2's own IPVS classes are not used.

Byte orders the kernel expects (``net/netfilter/ipvs/ip_vs_ctl.c``):

- service and dest PORT, dest TUN_PORT: big-endian (``nla_get_be16``);
- service NETMASK: four raw bytes stored as a ``__be32``: for IPv4 the mask in network byte
  order, for IPv6 the prefix length as a native-endian u32: it is carried as ``cdata`` here and
  packed per address family by the codec;
- ADDR: 16 bytes (``union nf_inet_addr``), an IPv4 address in the first four;
- daemon MCAST_PORT: host order u16 (``nla_get_u16``); MCAST_GROUP: an ``in_addr``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import traceback
import types

# The oldest pyroute2 whose primitives this collection has been tested with (tests/integration/test_pyroute2_versions.py).
PYROUTE2_MINIMUM = (0, 5, 0)
PYROUTE2_MINIMUM_TEXT = "0.5.0"

# The classes the codec uses from pyroute2, imported here and re-exported, so that this one guard covers every pyroute2
# import of the collection. The constants are the kernel's (include/uapi/linux/netlink.h, genetlink.h), not pyroute2's.
_PYROUTE2_NAMES = ("ctrlmsg", "genlmsg", "nla")
NETLINK_GENERIC = 16
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3


def _without_package_init(name: str) -> bool:
    """Let `<name>.netlink` be imported without running <name>/__init__.py; True when a stand-in was put in place.

    pyroute2/__init__.py imports the whole library (IpRoute, NDB, IPDB, conntrack, ipset...): 160 modules,
    0.3 s on a fast machine and about 5 s in an emulated VM, on every module run, for the few
    message primitives the codec uses. A bare package object stands in for it during the import
    below and is removed afterwards, so a later `import pyroute2` (ours never does one) still gets
    the real package, with the submodules already loaded. Nothing is done when the package is
    already imported, is a namespace package (pyroute2 0.6's pr2modules) or cannot be found.
    """
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.submodule_search_locations is None or spec.origin in (None, "namespace"):
        return False
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__package__ = name
    sys.modules[name] = package
    return True


def _forget_bare_package(name: str) -> None:
    package = sys.modules.get(name)
    if package is not None and getattr(package, "__file__", None) is None and getattr(package, "__spec__", None) is not None \
            and getattr(package.__spec__, "origin", None) not in (None, "namespace"):
        del sys.modules[name]


def _import_primitives() -> types.ModuleType:
    """pyroute2's netlink primitives: `pyroute2.netlink` (0.5, 0.7 and later), else `pr2modules.netlink` (0.6.x, where
    the code lives in the namespace package pr2modules and pyroute2/__init__.py only aliases it)."""
    errors = []
    for package in ("pyroute2", "pr2modules"):
        bare = _without_package_init(package)
        try:
            netlink = importlib.import_module(f"{package}.netlink")
            exceptions = importlib.import_module(f"{package}.netlink.exceptions")
        except ImportError as exc:
            errors.append(exc)
            continue
        finally:
            if bare:
                _forget_bare_package(package)
        missing = [name for name in _PYROUTE2_NAMES if not hasattr(netlink, name)]
        if missing or not hasattr(exceptions, "NetlinkError"):
            raise ImportError(f"{package}.netlink lacks {', '.join(missing or ['NetlinkError'])}")
        netlink.NetlinkError = exceptions.NetlinkError  # type: ignore[attr-defined]
        return netlink
    raise errors[0]


_DIST_INFO = re.compile(r"^pyroute2-(\d[^-]*?)(?:-py\d[^-]*)?\.(?:dist-info|egg-info)$", re.IGNORECASE)


def pyroute2_version() -> str | None:
    """The installed pyroute2's version, from the name of its metadata folder (pip's `pyroute2-0.9.7.dist-info`, the
    distributions' `pyroute2-0.7.2.egg-info`) in the first sys.path entry that has one; None when there is none.

    Not importlib.metadata: importing it costs about 80 ms on a fast machine (over a second in an emulated VM) on
    every module run, and it does not exist in Python 3.7.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name[:9].lower() == "pyroute2-":
                match = _DIST_INFO.match(name)
                if match:
                    return match.group(1)
    return None


def version_tuple(text: str) -> tuple[int, ...]:
    """(0, 7, 2) from "0.7.2", "0.7.2.post1", "0.9.7rc1": the leading numbers."""
    numbers = []
    for part in text.split("."):
        match = re.match(r"\d+", part)
        if match is None:
            break
        numbers.append(int(match.group(0)))
        if match.group(0) != part:
            break
    return tuple(numbers)


PYROUTE2_VERSION: str | None = None
try:
    _primitives = _import_primitives()
except ImportError as exc:  # pragma: no cover - exercised only without pyroute2
    PYROUTE2_IMPORT_ERROR: ImportError | None = exc
    PYROUTE2_IMPORT_ERROR_TRACEBACK: str | None = traceback.format_exc()
    PYROUTE2_VERSION = pyroute2_version()
else:
    PYROUTE2_IMPORT_ERROR = None
    PYROUTE2_IMPORT_ERROR_TRACEBACK = None
    PYROUTE2_VERSION = pyroute2_version()
    if PYROUTE2_VERSION is not None and version_tuple(PYROUTE2_VERSION) < PYROUTE2_MINIMUM:
        PYROUTE2_IMPORT_ERROR = ImportError(f"pyroute2 {PYROUTE2_VERSION} is older than {PYROUTE2_MINIMUM_TEXT}")
        PYROUTE2_IMPORT_ERROR_TRACEBACK = None

if PYROUTE2_IMPORT_ERROR is None:
    ctrlmsg = _primitives.ctrlmsg
    genlmsg = _primitives.genlmsg
    nla = _primitives.nla
    NetlinkError = _primitives.NetlinkError
else:
    # Stand-ins so that this module imports without a usable pyroute2; IpvsNetlink() then refuses to run
    # and the modules report pyroute2_missing_message() (see _module.require_pyroute2).
    genlmsg = nla = ctrlmsg = object
    NetlinkError = OSError


def pyroute2_missing_message() -> str:
    """What a module says when pyroute2 cannot be used: the version found, the version needed, how to install it."""
    if PYROUTE2_VERSION is None:
        found = "pyroute2 is not installed there"
    elif version_tuple(PYROUTE2_VERSION) < PYROUTE2_MINIMUM:
        found = f"pyroute2 {PYROUTE2_VERSION} is installed there, which is too old"
    else:
        found = f"pyroute2 {PYROUTE2_VERSION} is installed there but cannot be imported ({PYROUTE2_IMPORT_ERROR})"
    return (f"lvs.ipvs needs pyroute2 {PYROUTE2_MINIMUM_TEXT} or newer on the managed node, for the Python that runs the module "
            f"({sys.executable}, Python {sys.version.split()[0]}); {found}. Install the distribution's package "
            "(python3-pyroute2 on Debian, Ubuntu and Fedora, from EPEL on RHEL and its rebuilds) or "
            f"`python3 -m pip install 'pyroute2>={PYROUTE2_MINIMUM_TEXT}'` for that interpreter")


IPVS_GENL_NAME = "IPVS"
IPVS_GENL_VERSION = 1

# Commands (enum in ip_vs.h, IPVS_CMD_UNSPEC = 0).
IPVS_CMD_NEW_SERVICE = 1
IPVS_CMD_SET_SERVICE = 2
IPVS_CMD_DEL_SERVICE = 3
IPVS_CMD_GET_SERVICE = 4
IPVS_CMD_NEW_DEST = 5
IPVS_CMD_SET_DEST = 6
IPVS_CMD_DEL_DEST = 7
IPVS_CMD_GET_DEST = 8
IPVS_CMD_NEW_DAEMON = 9
IPVS_CMD_DEL_DAEMON = 10
IPVS_CMD_GET_DAEMON = 11
IPVS_CMD_SET_CONFIG = 12
IPVS_CMD_GET_CONFIG = 13
IPVS_CMD_SET_INFO = 14  # only the command of a GET_INFO reply
IPVS_CMD_GET_INFO = 15
IPVS_CMD_ZERO = 16
IPVS_CMD_FLUSH = 17

COMMAND_NAMES = {
    IPVS_CMD_NEW_SERVICE: "NEW_SERVICE",
    IPVS_CMD_SET_SERVICE: "SET_SERVICE",
    IPVS_CMD_DEL_SERVICE: "DEL_SERVICE",
    IPVS_CMD_GET_SERVICE: "GET_SERVICE",
    IPVS_CMD_NEW_DEST: "NEW_DEST",
    IPVS_CMD_SET_DEST: "SET_DEST",
    IPVS_CMD_DEL_DEST: "DEL_DEST",
    IPVS_CMD_GET_DEST: "GET_DEST",
    IPVS_CMD_NEW_DAEMON: "NEW_DAEMON",
    IPVS_CMD_DEL_DAEMON: "DEL_DAEMON",
    IPVS_CMD_GET_DAEMON: "GET_DAEMON",
    IPVS_CMD_SET_CONFIG: "SET_CONFIG",
    IPVS_CMD_GET_CONFIG: "GET_CONFIG",
    IPVS_CMD_SET_INFO: "SET_INFO",
    IPVS_CMD_GET_INFO: "GET_INFO",
    IPVS_CMD_ZERO: "ZERO",
    IPVS_CMD_FLUSH: "FLUSH",
}

# Service flags (IP_VS_SVC_F_*).
IP_VS_SVC_F_PERSISTENT = 0x0001
IP_VS_SVC_F_HASHED = 0x0002  # kernel-internal: never sent, present on every reply
IP_VS_SVC_F_ONEPACKET = 0x0004
IP_VS_SVC_F_SCHED1 = 0x0008
IP_VS_SVC_F_SCHED2 = 0x0010
IP_VS_SVC_F_SCHED3 = 0x0020

# Sync daemon states (IP_VS_STATE_*).
IP_VS_STATE_MASTER = 0x0001
IP_VS_STATE_BACKUP = 0x0002

# Longest names the kernel takes (the terminating NUL included).
IP_VS_SCHEDNAME_MAXLEN = 16
IP_VS_PENAME_MAXLEN = 16
IP_VS_IFNAME_MAXLEN = 16


class IpvsStats(nla):  # type: ignore[misc,valid-type]
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


class IpvsStats64(nla):  # type: ignore[misc,valid-type]
    """IPVS_SVC_ATTR_STATS64 / IPVS_DEST_ATTR_STATS64: the same counters, all 64-bit."""

    nla_map = (
        (0, "IPVS_STATS_ATTR_UNSPEC", "none"),
        (1, "IPVS_STATS_ATTR_CONNS", "uint64"),
        (2, "IPVS_STATS_ATTR_INPKTS", "uint64"),
        (3, "IPVS_STATS_ATTR_OUTPKTS", "uint64"),
        (4, "IPVS_STATS_ATTR_INBYTES", "uint64"),
        (5, "IPVS_STATS_ATTR_OUTBYTES", "uint64"),
        (6, "IPVS_STATS_ATTR_CPS", "uint64"),
        (7, "IPVS_STATS_ATTR_INPPS", "uint64"),
        (8, "IPVS_STATS_ATTR_OUTPPS", "uint64"),
        (9, "IPVS_STATS_ATTR_INBPS", "uint64"),
        (10, "IPVS_STATS_ATTR_OUTBPS", "uint64"),
        (11, "IPVS_STATS_ATTR_PAD", "none"),
    )


class IpvsServiceFlags(nla):  # type: ignore[misc,valid-type]
    """IPVS_SVC_ATTR_FLAGS, struct ip_vs_flags: new flags = (old & ~mask) | (flags & mask)."""

    fields = (("flags", "I"), ("mask", "I"))


class IpvsService(nla):  # type: ignore[misc,valid-type]
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


class IpvsDest(nla):  # type: ignore[misc,valid-type]
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


class IpvsDaemon(nla):  # type: ignore[misc,valid-type]
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


class IpvsMessage(genlmsg):  # type: ignore[misc,valid-type]
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


class IpvsInfoMessage(genlmsg):  # type: ignore[misc,valid-type]
    """The GET_INFO reply (command SET_INFO): its attribute numbers collide with IPVS_CMD_ATTR_*."""

    # IPVS_INFO_ATTR_*
    nla_map = (
        (0, "IPVS_INFO_ATTR_UNSPEC", "none"),
        (1, "IPVS_INFO_ATTR_VERSION", "uint32"),
        (2, "IPVS_INFO_ATTR_CONN_TAB_SIZE", "uint32"),
    )
