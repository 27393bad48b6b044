# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which qemu to start and with which accelerator.

KVM where it works, TCG otherwise. Some machines expose a /dev/kvm that hangs a stock kernel
(nested, paravirtual): so KVM is used only after a short probe boot has shown that it works,
and the probe's answer is cached. LVS_IPVS_LAB_ACCEL=kvm|tcg forces a choice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import LabError
from .provision import cache_dir, log

PROBE_SECONDS = 20


def qemu_binary() -> str:
    path = shutil.which("qemu-system-x86_64")
    if path is None:
        raise LabError("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86")
    return path


def accel_args() -> list[str]:
    return ["-accel", accelerator()]


def accelerator() -> str:
    forced = os.environ.get("LVS_IPVS_LAB_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    answer = cache_dir() / "accel"
    if answer.exists():
        return answer.read_text().strip() or "tcg"
    choice = "kvm" if _kvm_boots() else "tcg"
    answer.write_text(choice + "\n")
    log(f"accelerator: {choice} (probed once, cached in {answer})")
    return choice


def _kvm_boots() -> bool:
    """Boot the lab kernel under KVM with an init that powers off at once; True if it does in time."""
    from .fast import prepare_qemu  # pylint: disable=import-outside-toplevel

    kernel = prepare_qemu()[0]
    with tempfile.TemporaryDirectory(prefix="lab-kvm-probe-") as tmp:
        init = Path(tmp) / "init"
        init.write_text("#!/bin/busybox sh\n/bin/busybox poweroff -f\n")
        init.chmod(0o755)
        (Path(tmp) / "bin").mkdir()
        shutil.copy2("/bin/busybox", Path(tmp) / "bin" / "busybox")
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b".\ninit\nbin\nbin/busybox\n", cwd=tmp, capture_output=True, check=False)
        initrd = Path(tmp) / "probe.cpio"
        initrd.write_bytes(cpio.stdout)
        argv = [qemu_binary(), "-accel", "kvm", "-cpu", "max", "-m", "256", "-kernel", str(kernel.vmlinuz), "-initrd", str(initrd),
                "-append", "console=ttyS0 panic=-1", "-display", "none", "-monitor", "none", "-serial", "null", "-nic", "none", "-no-reboot"]
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=PROBE_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0
