# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Check mode and what earlier tasks would create.

A check run only checks the tasks before this one too: a network namespace an earlier task adds,
the ip_vs module or the nft program or pyroute2 an earlier task installs, the virtual service an
earlier task creates, are all still missing. A real run would find them. So where a module cannot
read the state because of such a missing thing, check mode plans against what a real run would
find (a new, empty table or ruleset), predicts its commands, and says so in one warning; a real
run fails instead, naming what is missing. Only names that can exist are assumed: a bad name is
still an error in both modes.
"""

from __future__ import annotations

import typing as t

ASSUMES = "in check mode this assumes an earlier task {verb} it"


def assume(warn: t.Callable[[str], None], missing: str, verb: str = "creates") -> None:
    """Warn that check mode plans as if an earlier task had made `missing` (a sentence such as "the virtual service
    -t 198.51.100.1:80 does not exist"); `verb` says how: creates, installs, loads."""
    warn(f"{missing}; {ASSUMES.format(verb=verb)}")
