# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""pyroute2, the one dependency: imported once, here, without its package ``__init__``, and named when it is missing.

The IPVS messages are packed and unpacked by the collection's own codec (_ipvs_codec, struct);
from pyroute2 the transport takes ``ctrlmsg`` (the generic-netlink controller's message, to look
up the IPVS family's id) and ``NetlinkError``: primitives that are the same from pyroute2 0.5 to
0.9 (tests/integration/test_pyroute2_versions.py). The unit tests use pyroute2's ``genlmsg`` /
``nla`` as the reference encoding that the codec's bytes are compared with.
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

# What the collection uses from pyroute2, imported here and re-exported, so that this one guard covers every pyroute2
# import of the collection.
_PYROUTE2_NAMES = ("ctrlmsg",)


def _without_package_init(name: str) -> bool:
    """Let `<name>.netlink` be imported without running <name>/__init__.py; True when a stand-in was put in place.

    pyroute2/__init__.py imports the whole library (IpRoute, NDB, IPDB, conntrack, ipset...): 160 modules,
    0.3 s on a fast machine and about 5 s in an emulated VM, on every module run, for the few
    message primitives the transport uses. A bare package object stands in for it during the import
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
    NetlinkError = _primitives.NetlinkError
else:
    # Stand-ins so that this module imports without a usable pyroute2; IpvsClient() then refuses to run
    # and the modules report pyroute2_missing_message() (see _kernel.require_pyroute2).
    ctrlmsg = object
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
