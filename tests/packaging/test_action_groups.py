# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action group lvs.ipvs.ipvs holds exactly the modules that take netns (a host-side complement of
tests/integration/test_module_defaults.py, which runs module_defaults through ansible-playbook on the real kernel).

module_defaults gives a group's defaults to every module of it, and a module that does not take an option fails with
"Unsupported parameters": a module without netns must stay out, and a new module with netns must come in.
"""

from __future__ import annotations

import glob
import importlib
import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def modules_taking_netns() -> list[str]:
    names = []
    for path in sorted(glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))):
        name = os.path.basename(path)[:-3]
        module = importlib.import_module(f"ansible_collections.lvs.ipvs.plugins.modules.{name}")
        doc = yaml.safe_load(module.DOCUMENTATION)
        if "lvs.ipvs._netns" in doc.get("extends_documentation_fragment", []) or "netns" in doc.get("options", {}):
            names.append(name)
    return names


def test_the_ipvs_group_is_every_module_that_takes_netns():
    with open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8") as f:
        runtime = yaml.safe_load(f)
    group = runtime["action_groups"]["ipvs"]
    assert group == sorted(group)
    assert group == modules_taking_netns()
    assert len(group) >= 6
