# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""System calls of a command, counted by `strace -f -c` (Debian's strace, installed by the lab's set-up), in the lab VM.

Used by bench_table: `ipvsadm -R` and the module, each from an empty table, so a reader can weigh the
emulated times against real hardware (User-mode Linux runs each guest process under ptrace: a system call
costs tens of microseconds there, a few under QEMU/TCG, under one on a real host).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import typing as t

NETLINK_CALLS = ("sendmsg", "sendto", "send", "recvmsg", "recvfrom", "recv")
# What a real x86-64 host answers in the vDSO, without entering the kernel (strace does not see them there); under
# UML (no vDSO) and QEMU/TCG (a clock source the vDSO cannot read) they are real system calls.
VDSO_CALLS = ("clock_gettime", "gettimeofday", "time", "getcpu")


@dataclasses.dataclass
class Summary:
    total: int
    errors: int
    calls: t.Dict[str, int]  # by name, highest count first

    def top(self, count: int = 5) -> str:
        return ", ".join(f"{name} {number}" for name, number in list(self.calls.items())[:count])

    def without_vdso(self) -> int:
        return self.total - sum(self.calls.get(name, 0) for name in VDSO_CALLS)

    def netlink(self) -> int:
        return sum(self.calls.get(name, 0) for name in NETLINK_CALLS)


def parse(text: str) -> Summary:
    """`strace -c -U name,calls,errors -S calls` output: one row a system call, then a `total` row."""
    calls: t.Dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[1].isdigit():
            continue
        if fields[0] == "total":
            return Summary(int(fields[1]), int(fields[2]) if len(fields) > 2 else 0, calls)
        calls[fields[0]] = int(fields[1])
    raise ValueError("no total row in strace's summary")


def traced(run: t.Callable[[t.Tuple[str, ...]], t.Any]) -> t.Union[Summary, str]:
    """Call run(prefix) with prefix the strace command line to put in front of the command; its Summary, or why not."""
    if shutil.which("strace") is None:
        return "strace is not installed (the lab's set-up installs Debian's strace: make lab)"
    handle, path = tempfile.mkstemp(prefix="bench-strace-", suffix=".txt")
    os.close(handle)
    try:
        try:
            run(("strace", "-f", "-c", "-U", "name,calls,errors", "-S", "calls", "-o", path, "--"))
        except (subprocess.CalledProcessError, SystemExit) as exc:
            return f"the command failed under strace: {str(exc)[-300:]}"
        with open(path, encoding="utf-8") as handle_text:
            text = handle_text.read()
        try:
            return parse(text)
        except ValueError:
            return f"strace wrote no summary: {text.strip()[-300:]!r}"
    finally:
        os.unlink(path)
