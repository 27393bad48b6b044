# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which engine boots fast mode: User-mode Linux where it works, QEMU otherwise.

UML runs the kernel as an ordinary program (no instruction emulation: boots in about a second,
CPU-bound code at host speed), but needs ptrace and a writable memory file; some machines forbid
those. So UML is the default only after a probe boot (a real fast-mode run of `true`) has shown it
works on this machine; the answer is cached next to the UML kernel, so a rebuilt kernel is probed
again. LVS_IPVS_LAB_ENGINE=uml|qemu forces a choice.
"""

from __future__ import annotations

import io
import os

from .errors import LabError
from .provision import log

ENGINES = ("uml", "qemu")
VARIABLE = "LVS_IPVS_LAB_ENGINE"
PROBE_SECONDS = 120


def engine() -> str:
    forced = os.environ.get(VARIABLE, "")
    if forced:
        if forced not in ENGINES:
            raise LabError(f"{VARIABLE}={forced!r} is not an engine: use {' or '.join(ENGINES)}")
        return forced
    from . import uml  # pylint: disable=import-outside-toplevel

    answer = uml.ensure_uml_kernel().root / "probe"
    if answer.exists():
        return answer.read_text().split(maxsplit=1)[0]
    works, why = _uml_boots()
    choice = "uml" if works else "qemu"
    answer.write_text(f"{choice} {why}\n")
    log(f"fast mode's engine: {choice} ({why}; probed once, cached in {answer})")
    return choice


def other(name: str) -> str:
    """The engine that is not `name` (the smoke test boots it)."""
    return ENGINES[1 - ENGINES.index(name)]


def _uml_boots() -> tuple[bool, str]:
    """A real fast-mode run of `true` under UML; (True, ...) if it returned 0 in time."""
    from . import fast  # pylint: disable=import-outside-toplevel

    output = io.BytesIO()
    try:
        status = fast.run_command(["true"], timeout=PROBE_SECONDS, boot_timeout=PROBE_SECONDS, cwd="/", out=output, engine="uml")
    except LabError as exc:
        return False, f"the UML probe boot failed: {exc}"
    if status != 0:
        return False, f"the UML probe boot ran `true` with exit status {status}: {output.getvalue().decode(errors='replace').strip()[-200:]}"
    return True, "the UML probe boot worked"
