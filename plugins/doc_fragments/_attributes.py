# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is private to this collection: do not use it from elsewhere.
# Its content can change at any time.

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Shared `attributes` documentation of this collection's modules."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # Modules that change state.
    ALL = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - Check mode predicts the commands, C(changed) and the diff of a real run, and changes nothing.
      - A check run skips the changes of earlier tasks too. Where this task needs something an earlier task would create
        (the network namespace, the virtual service of a real server, the interface of a sync daemon, or C(ip_vs), C(nft) or
        pyroute2 on a fresh host), check mode plans against what a real run would find then (an empty table), with a warning
        saying so (C(...; in check mode this assumes an earlier task creates it)). A real run fails instead, naming what is missing.
  diff_mode:
    support: full
  idempotent:
    support: full
"""

    # Read-only modules (_info).
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
      - In check mode, a network namespace that does not exist yet, or an C(ip_vs) that cannot load, reads as a new, empty
        table (with a warning), as it would after the earlier task that creates it.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
"""
