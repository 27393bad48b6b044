# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""When a lab step fails, the lab says so in one sentence and stops: never a hang, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.lab import fast, provision, qemu
from tests.lab.errors import LabError


def test_boot_timeout_is_one_sentence_and_stops_qemu():
    started = time.monotonic()
    with pytest.raises(LabError, match=r"the lab VM did not boot within 0 s"):
        fast.run_command(["true"], boot_timeout=0.05)
    assert time.monotonic() - started < 60
    # Only this process's VMs: their run folders are named after its pid.
    left = subprocess.run(["pgrep", "-f", f"lab.run=.*/run-{os.getpid()}-"], capture_output=True, text=True, check=False).stdout.split()
    assert left == []


def test_no_disk_space_is_named_with_the_folder():
    with pytest.raises(LabError, match=r"needs about \d+ MB free in .* but only \d+ MB are free"):
        provision.check_disk(provision.cache_dir(), 10**12, "building the node image")


def test_missing_qemu_says_which_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(LabError, match=r"qemu-system-x86_64 is not installed: apt-get install qemu-system-x86"):
        qemu.qemu_binary()


def test_failed_command_names_the_step():
    with pytest.raises(LabError, match=r"^listing a missing folder failed: "):
        provision.run(["ls", "/nonexistent-lvs-ipvs"], "listing a missing folder")


def test_cli_prints_one_line_and_exits_non_zero():
    proc = subprocess.run([sys.executable, "-m", "tests.lab", "ssh", "Bad Name", "true"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["lab: error: node name 'Bad Name' is not valid: use lower-case letters, digits and dashes"]
