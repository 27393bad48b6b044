# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run this collection's real modules in-process against the lab VM's kernel.

Under emulation each new Python process costs seconds, so the wide matrices call a module's
main() in this process with its arguments (ansible-core's own patch_module_args), exactly as
Ansible would run it on the node; ansible-playbook is kept for the end-to-end cases.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys

from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from tests.conftest import COLLECTION_ROOT

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_module(name: str, args: dict, *, check: bool = False, diff: bool = False) -> dict:
    """Run lvs.ipvs.<name> with `args`; return its result dict (with "failed" on failure)."""
    module = importlib.import_module(f"ansible_collections.lvs.ipvs.plugins.modules.{name}")
    full = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    # One module run per process on a node: no warning of an earlier run in this process is this run's.
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    out = io.StringIO()
    with patch_module_args(full), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    text = out.getvalue().strip()
    assert text, f"{name} printed no result"
    return json.loads(text.splitlines()[-1])


def four_steps(name: str, args: dict) -> list[dict]:
    """The house's idempotence shape: check (changed), real (changed), check (unchanged), real (unchanged)."""
    results = [run_module(name, args, check=True, diff=True), run_module(name, args, diff=True),
               run_module(name, args, check=True, diff=True), run_module(name, args, diff=True)]
    for step, result in enumerate(results, 1):
        assert not result.get("failed"), f"step {step}: {result.get('msg')}"
    assert [r["changed"] for r in results] == [True, True, False, False], [r.get("commands") for r in results]
    assert results[0].get("commands") == results[1].get("commands"), "check mode must predict the real run"
    return results


def playbook(path: str, *extra: str, check: bool = False, collections: str | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook -c local on this host (the lab VM), with this checkout as lvs.ipvs.

    `collections`: the folder holding ansible_collections/lvs/ipvs; by default the one tests/conftest.py links, which
    every checkout on the machine shares (another checkout's test run can point it to itself meanwhile: see
    tests.integration.pythons.collections_root() for one of this checkout alone)."""
    bindir = os.path.dirname(sys.executable)
    if collections is None:
        collections = COLLECTION_ROOT
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_LOCAL_TEMP="/tmp/ansible-local", ANSIBLE_REMOTE_TEMP="/tmp/ansible-remote")
    argv = [os.path.join(bindir, "ansible-playbook"), "-c", "local", "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
            *(["--check"] if check else []), path, *extra]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, cwd=REPO)


def in_netns(netns: str, *argv: str) -> str:
    """Run a command in a network namespace; its output (the command must succeed)."""
    proc = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)} in {netns}: {proc.stderr}"
    return proc.stdout


@contextlib.contextmanager
def routed_netns(netns: str, device: str):
    """A new namespace with a route to the real servers' 192.0.2.0/24 (the kernel refuses a real server without one),
    deleted afterwards."""
    subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        for argv in (["ip", "link", "set", "lo", "up"], ["ip", "link", "add", device, "type", "dummy"],
                     ["ip", "addr", "add", "192.0.2.1/24", "dev", device], ["ip", "link", "set", device, "up"]):
            in_netns(netns, *argv)
        yield netns
    finally:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
