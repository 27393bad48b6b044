# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pyroute2 requirement: which version is found, what a module says when it cannot use it.

The versions themselves are tried against the kernel in tests/integration/test_pyroute2_versions.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _pyroute2


@pytest.mark.parametrize("text, expected", [
    ("0.7.2", (0, 7, 2)), ("0.9.7", (0, 9, 7)), ("0.6.13", (0, 6, 13)), ("0.7.2.post1", (0, 7, 2)), ("0.9.0rc1", (0, 9, 0)),
    ("1.0", (1, 0)), ("0.5.0", (0, 5, 0)),
])
def test_version_tuple(text, expected):
    assert _pyroute2.version_tuple(text) == expected


def test_the_minimum_is_written_once():
    assert _pyroute2.version_tuple(_pyroute2.PYROUTE2_MINIMUM_TEXT) == _pyroute2.PYROUTE2_MINIMUM


def test_the_version_installed_here_is_found():
    import pyroute2.config.version  # pylint: disable=import-outside-toplevel  # only to compare; the collection never imports it

    assert _pyroute2.PYROUTE2_VERSION == pyroute2.config.version.__version__


@pytest.mark.parametrize("version, error, found", [
    (None, ImportError("No module named 'pyroute2'"), "pyroute2 is not installed there"),
    ("0.4.21", ImportError("pyroute2 0.4.21 is older than 0.5.0"), "pyroute2 0.4.21 is installed there, which is too old"),
    ("0.6.13", ImportError("No module named 'pyroute2.netlink'"),
     "pyroute2 0.6.13 is installed there but cannot be imported (No module named 'pyroute2.netlink')"),
])
def test_the_message_names_found_needed_and_packages(monkeypatch, version, error, found):
    monkeypatch.setattr(_pyroute2, "PYROUTE2_VERSION", version)
    monkeypatch.setattr(_pyroute2, "PYROUTE2_IMPORT_ERROR", error)
    message = _pyroute2.pyroute2_missing_message()
    assert message.startswith("lvs.ipvs needs pyroute2 0.5.0 or newer on the managed node, for the Python that runs the module ")
    assert found in message
    assert sys.executable in message and sys.version.split()[0] in message
    assert "python3-pyroute2 on Debian, Ubuntu and Fedora, from EPEL on RHEL" in message
    assert "python3 -m pip install 'pyroute2>=0.5.0'" in message


MODULE_RUN = """
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_service
with patch_module_args({"protocol": "tcp", "address": "198.51.100.1", "port": 80, "_ansible_check_mode": sys.argv[1] == "check"}):
    try:
        ipvs_service.main()
    except SystemExit:
        pass
"""


def run_with_old_pyroute2(tmp_path, mode):
    """ipvs_service where the first pyroute2 on the path says it is 0.4.2."""
    info = tmp_path / "pyroute2-0.4.2.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pyroute2\nVersion: 0.4.2\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path)] + [p for p in sys.path if p]))
    proc = subprocess.run([sys.executable, "-c", MODULE_RUN, mode], capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_too_old_pyroute2_fails_the_module_with_the_message(tmp_path):
    result = run_with_old_pyroute2(tmp_path, "real")
    assert result.get("failed") is True and result["pyroute2_version"] == "0.4.2", result
    assert "pyroute2 0.4.2 is installed there, which is too old" in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"]


def test_check_mode_on_a_fresh_host_assumes_an_earlier_task_installs_pyroute2(tmp_path):
    """Where ip_vs is not loaded the table is empty, so a check run can plan without pyroute2 (the director role installs it)."""
    result = run_with_old_pyroute2(tmp_path, "check")
    if os.path.exists("/sys/module/ip_vs"):  # ip_vs loaded: the table is unknown without pyroute2
        assert result.get("failed") is True and "which is too old" in result["msg"], result
        return
    assert not result.get("failed") and result["changed"] is True and result["commands"] == ["-A -t 198.51.100.1:80 -s wlc"], result
    (warning,) = [item["event"]["msg"] if isinstance(item, dict) else item for item in result["warnings"]]  # 2.19: WarningSummary dicts
    assert "pyroute2 0.4.2 is installed there, which is too old" in warning and "ip_vs is not loaded" in warning, warning
    assert warning.endswith("in check mode this assumes an earlier task installs it"), warning
