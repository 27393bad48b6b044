# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""One IPVS change at a time per network namespace: a lock file under /run, taken with flock.

Two runs that read the table, plan and apply at the same moment would each plan against a table
the other is changing. The lock makes the second wait until the first has applied; it is
released when the process ends, however it ends (flock locks die with their file descriptor).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import time
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import TaskError

LOCK_DIR = "/run/lvs-ipvs"
WAIT_SECONDS = 300.0


class LockTimeout(TaskError):
    """Another run held the lock for longer than we wait (reported like every task error)."""


def lock_path(netns: t.Optional[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", netns) if netns else "default"
    return os.path.join(LOCK_DIR, f"{name}.lock")


@contextlib.contextmanager
def table_lock(netns: t.Optional[str], wait: float = WAIT_SECONDS) -> t.Iterator[float]:
    """Hold the lock of `netns`'s IPVS table; yields how long we waited for it, in seconds."""
    os.makedirs(LOCK_DIR, mode=0o755, exist_ok=True)
    fd = os.open(lock_path(netns), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    started = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() - started > wait:
                    raise LockTimeout(f"another lvs.ipvs run has held {lock_path(netns)} for more than {wait:.0f} s") from exc
                time.sleep(0.05)
        yield time.monotonic() - started
    finally:
        os.close(fd)
