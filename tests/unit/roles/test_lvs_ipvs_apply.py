# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/director/files/lvs_ipvs_apply.py, the roles' one remote command: files, folders, reads, check mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "director", "files", "lvs_ipvs_apply.py")


def apply(spec: dict) -> dict:
    # As the roles run it: python3 -c <the file's text>, the spec on stdin.
    with open(SCRIPT, encoding="utf-8") as handle:
        code = handle.read()
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(spec), capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_writes_only_what_differs_and_reads_before_writing(tmp_path):
    target = tmp_path / "state" / "ipvsadm.d"
    rules = str(target / "50-ppc-web.rules")
    spec = {"dirs": [str(target)], "read": [rules], "files": [{"path": rules, "content": "-A -t 198.51.100.1:80 -s rr\n"}]}
    first = apply(spec)
    assert first["changed"] == [f"made {target}", f"wrote {rules}"]
    assert first["read"] == {rules: ""}
    assert oct(os.stat(rules).st_mode & 0o777) == "0o644"
    second = apply(spec)
    assert second["changed"] == []
    assert second["read"] == {rules: "-A -t 198.51.100.1:80 -s rr\n"}
    assert sorted(os.listdir(target)) == ["50-ppc-web.rules"]


def test_check_mode_reports_and_changes_nothing(tmp_path):
    path = str(tmp_path / "fwmark.nft")
    result = apply({"check": True, "dirs": [str(tmp_path / "new")], "files": [{"path": path, "content": "x\n"}]})
    assert result["changed"] == [f"made {tmp_path / 'new'}", f"wrote {path}"]
    assert os.listdir(tmp_path) == []


def test_a_file_can_end_with_a_command_output(tmp_path):
    path = str(tmp_path / "fwmark.nft")
    apply({"files": [{"path": path, "content": "# header\n", "command": ["echo", "table inet lvs_ipvs {}"]}]})
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == "# header\ntable inet lvs_ipvs {}\n"


def test_a_failing_command_fails_with_one_line(tmp_path):
    with open(SCRIPT, encoding="utf-8") as handle:
        code = handle.read()
    spec = {"files": [{"path": str(tmp_path / "f"), "content": "", "command": ["false"]}]}
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(spec), capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("lvs.ipvs: false failed")
    assert os.listdir(tmp_path) == []
