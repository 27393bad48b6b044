# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is private to this collection: do not use it from elsewhere.
# Its content can change at any time.

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """What a task that the kernel refuses halfway leaves behind (every module that changes services or real servers)."""

    DOCUMENTATION = r"""
options: {}
notes:
  - B(When the kernel refuses an operation) that validation could not judge (a scheduler whose kernel module cannot load, a
    real server address that this host's routes make a broadcast address), the task fails naming the C(ipvsadm) command and
    the kernel's reason, and B(the table is left as it was). Operations go to the kernel in batches of 64, one netlink datagram
    each; no batch is sent after the one with the first refusal; every operation already applied (in earlier batches, and in
    that batch around the refused one) is then undone, newest first. Edits go back to their old values in place; only a
    service the task had deleted comes back without its connections and templates.
  - The failure returns C(failed_command), C(refused) (each refused command with its reason), C(applied_commands),
    C(rolled_back_commands) and C(unsent_commands). If the kernel refuses an undoing operation too, the message says the
    table is not as it was, and C(rollback_refused) lists those operations; run the task again once the cause is fixed.
"""
