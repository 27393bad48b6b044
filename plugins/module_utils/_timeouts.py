# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The global idle timeouts (tcp, tcpfin, udp) and the one operation on them, `ipvsadm --set`."""

from __future__ import annotations

import dataclasses
import typing as t

NAMES = ("tcp", "tcpfin", "udp")


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Timeouts in seconds; None (or 0, as the kernel and ipvsadm read it) leaves one as it is."""

    tcp: t.Optional[int] = None
    tcpfin: t.Optional[int] = None
    udp: t.Optional[int] = None

    @classmethod
    def from_kernel(cls, kernel: t.Mapping[str, int]) -> Timeouts:
        return cls(**{name: kernel[name] for name in NAMES})

    def to_kernel(self) -> t.Dict[str, int]:
        """The codec's timeouts dict: 0 for a timeout left as it is."""
        return {name: getattr(self, name) or 0 for name in NAMES}

    def render(self) -> str:
        """`--set tcp tcpfin udp` (0 leaves one unchanged, as in the kernel and ipvsadm)."""
        return "--set " + " ".join(str(value) for value in self.to_kernel().values())

    def given(self) -> t.Dict[str, int]:
        return {name: getattr(self, name) for name in NAMES if getattr(self, name) is not None}


@dataclasses.dataclass(frozen=True)
class TimeoutsOperation:
    """Set `timeouts` (the ones given) where the kernel had `before` (all three)."""

    timeouts: Timeouts
    before: Timeouts

    def render(self) -> str:
        return self.timeouts.render()

    @staticmethod
    def explain(error: Exception) -> str:
        return str(error)

    def after(self) -> Timeouts:
        return dataclasses.replace(self.before, **self.timeouts.given())

    def undo(self) -> TimeoutsOperation:
        """The operation that puts back what this one changed."""
        return TimeoutsOperation(Timeouts(**{name: getattr(self.before, name) for name in self.timeouts.given()}), self.after())


def plan_timeouts(want: Timeouts, have: Timeouts) -> t.List[TimeoutsOperation]:
    """One `--set` of the wanted timeouts that differ from the kernel's, or nothing."""
    changes = {name: value for name, value in want.given().items() if getattr(have, name) != value}
    return [TimeoutsOperation(Timeouts(**changes), have)] if changes else []
