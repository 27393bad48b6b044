# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Managed-node Pythons: throwaway virtualenvs of a given Python and pyroute2, with the module_utils of an ansible-core.

Each environment is what a managed node runs a module with: one interpreter (a pyenv build), one
pyroute2 from PyPI, and the `ansible` package of the ansible-core release that supports that
interpreter as a target (what the controller ships inside AnsiballZ; unpacked from its wheel, not
installed, so that ansible-core's own controller requirements do not matter). They are built on
this machine, once, under $LVS_IPVS_CACHE/managed-pythons (a second run reuses them), and used by
tests/unit/plugins/test_managed_node_pythons.py (no kernel) and
tests/integration/test_pyroute2_versions.py (inside the lab VM, which has no network: there the
environments must already exist; `make unit` builds them, or `python -m tests.integration.pythons`).

    python -m tests.integration.pythons        # build every environment (prints their paths)
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYENV = os.environ.get("LVS_IPVS_PYENV", "/root/.pyenv/versions")
CACHE = os.path.join(os.environ.get("LVS_IPVS_CACHE", os.path.expanduser("~/.cache/lvs-ipvs")), "managed-pythons")
PROBE = os.path.join(REPO, "tests", "integration", "managed_node_probe.py")
FORMAT = "1"  # bump when the layout of an environment changes


def _pinned(name: str) -> str:
    """The version requirements-dev.txt pins for `name` (the controller's, and the newest tried)."""
    with open(os.path.join(REPO, "requirements-dev.txt"), encoding="utf-8") as handle:
        for line in handle:
            match = re.match(rf"^{re.escape(name)}==(\S+)", line.strip())
            if match:
                return match.group(1)
    raise LookupError(f"requirements-dev.txt pins no {name}")


@dataclasses.dataclass(frozen=True)
class Environment:
    """A managed node's Python: `python` a pyenv version, `pyroute2` and `ansible_core` versions from PyPI."""

    python: str
    pyroute2: str
    ansible_core: str

    @property
    def name(self) -> str:
        return f"py{self.python}-pyroute2-{self.pyroute2}-ansible-core-{self.ansible_core}-v{FORMAT}"

    @property
    def path(self) -> str:
        return os.path.join(CACHE, self.name)

    @property
    def interpreter(self) -> str:
        return os.path.join(self.path, "venv", "bin", "python")

    @property
    def pythonpath(self) -> str:
        return os.path.join(self.path, "ansible-core")

    def ready(self) -> bool:
        return os.path.exists(os.path.join(self.path, ".complete"))


# The supported range of managed-node Pythons: the lowest with the oldest pyroute2 the collection supports and the last
# ansible-core that still targets it (2.17: Python 3.7 to 3.12); the highest with the pinned pyroute2 and ansible-core.
LOWEST = Environment("3.7.16", "0.5.0", "2.17.14")
HIGHEST = Environment("3.13.0", _pinned("pyroute2"), _pinned("ansible-core"))
# pyroute2 releases between them that distributions ship (Debian 12: 0.7.2) or whose layout differs (0.6.x: pr2modules).
MIDDLE = (Environment("3.11.7", "0.6.13", _pinned("ansible-core")), Environment("3.11.7", "0.7.2", _pinned("ansible-core")))
ALL = (LOWEST, *MIDDLE, HIGHEST)


class NotBuilt(RuntimeError):
    """An environment is missing where it cannot be built (the lab VM has no network)."""


def ensure(env: Environment) -> Environment:
    """Build `env` unless it is complete; serialised by a lock, so that parallel runs build it once."""
    if env.ready():
        return env
    if os.environ.get("LVS_IPVS_LAB_GUEST") == "1":
        raise NotBuilt(f"the managed-node environment {env.name} is missing and the lab VM cannot download it: build it on the host "
                       "first with `.venv/bin/python -m tests.integration.pythons` (make unit builds it too)")
    base = os.path.join(PYENV, env.python, "bin", "python" + ".".join(env.python.split(".")[:2]))
    if not os.access(base, os.X_OK):
        raise NotBuilt(f"Python {env.python} is not installed at {base} (pyenv install {env.python})")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if env.ready():
            return env
        shutil.rmtree(env.path, ignore_errors=True)
        os.makedirs(env.path)
        _run([base, "-m", "venv", os.path.join(env.path, "venv")])
        _run([env.interpreter, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"pyroute2=={env.pyroute2}"])
        wheels = os.path.join(env.path, "wheels")
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:",
              "--dest", wheels, f"ansible-core=={env.ansible_core}"])
        (wheel,) = [name for name in os.listdir(wheels) if name.endswith(".whl")]
        with zipfile.ZipFile(os.path.join(wheels, wheel)) as archive:
            archive.extractall(env.pythonpath, [name for name in archive.namelist() if name.startswith("ansible/")])
        shutil.rmtree(wheels)
        with open(os.path.join(env.path, ".complete"), "w", encoding="utf-8") as handle:
            handle.write(f"{env}\n")
    return env


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
    if proc.returncode != 0:
        raise NotBuilt(f"{' '.join(argv)} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")


def probe(env: Environment, collections_root: str, *extra: str) -> subprocess.CompletedProcess:
    """tests/integration/managed_node_probe.py run by the environment's Python."""
    environ = dict(os.environ, PYTHONPATH=env.pythonpath, PYTHONDONTWRITEBYTECODE="1")
    environ.pop("PYTHONHOME", None)
    return subprocess.run([env.interpreter, PROBE, collections_root, *extra], capture_output=True, text=True, env=environ,
                          check=False, timeout=900)


def collections_root() -> str:
    """A folder holding ansible_collections/lvs/ipvs -> this checkout, of this checkout alone (the one tests/conftest.py
    makes is shared by every checkout on the machine, and another one's test run can point it elsewhere meanwhile)."""
    root = os.path.join(CACHE, "collections-" + hashlib.sha256(REPO.encode()).hexdigest()[:12])
    link = os.path.join(root, "ansible_collections", "lvs", "ipvs")
    if os.path.realpath(link) != REPO:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        tmp = f"{link}.{os.getpid()}"
        os.symlink(REPO, tmp)
        os.replace(tmp, link)
    return root


if __name__ == "__main__":
    for environment in ALL:
        print(ensure(environment).path)
