# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one exception the lab raises: a sentence a person can act on."""

from __future__ import annotations


class LabError(Exception):
    """A lab step failed; str(error) is one clear sentence saying which and what to do."""
