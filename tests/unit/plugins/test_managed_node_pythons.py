# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The managed-node Pythons the collection supports, lowest and highest, each with its own pyroute2 and ansible-core.

Each environment (tests/integration/pythons.py: a throwaway virtualenv of a pyenv interpreter, built
once and cached) runs tests/integration/managed_node_probe.py: every module, module_util and doc
fragment imported, the modules' main() on their kernel-free paths (argument validation, ipvs_table
rendered and parsed), the model, planner and renderer. The 0.6.13 and 0.7.2 environments are built
here too: tests/integration/test_pyroute2_versions.py runs the same probe against the kernel in the
lab VM, which cannot download them.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.integration import pythons

PLUGIN_FILES = sum(
    len([name for name in os.listdir(os.path.join(pythons.REPO, "plugins", folder)) if name.endswith(".py")])
    for folder in ("module_utils", "modules", "doc_fragments")
)


@pytest.mark.parametrize("env", pythons.ALL, ids=lambda env: f"python{env.python}-pyroute2-{env.pyroute2}")
def test_every_plugin_imports_and_the_pure_paths_run(env):
    pythons.ensure(env)
    proc = pythons.probe(env, pythons.collections_root())
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["python"] == env.python and report["pyroute2"] == env.pyroute2, report
    assert report["pyroute2_error"] is None, report["pyroute2_error"]
    assert report["imported"] == PLUGIN_FILES, report
    assert report["checks"] == ["planner+renderer", "ipvs_table rendered+parsed", "argument validation", "fwmark_rule validation"], report


def test_the_range_ends_are_those_documented():
    """The doc fragment states the lowest Python and pyroute2 that LOWEST tries; HIGHEST is the newest pin."""
    with open(os.path.join(pythons.REPO, "plugins", "doc_fragments", "_netns.py"), encoding="utf-8") as handle:
        text = handle.read()
    lowest_python = ".".join(pythons.LOWEST.python.split(".")[:2])
    highest_python = ".".join(pythons.HIGHEST.python.split(".")[:2])
    assert f"Python {lowest_python} to {highest_python}" in text
    assert f"pyroute2 {pythons.LOWEST.pyroute2} or newer" in text
