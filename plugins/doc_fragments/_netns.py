# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is private to this collection: do not use it from elsewhere.
# Its content can change at any time.

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The O(netns) option shared by every IPVS module."""

    DOCUMENTATION = r"""
options:
  netns:
    description:
      - Name of the network namespace (as in C(ip netns list), a file under C(/run/netns)) whose IPVS table to manage.
      - IPVS is per network namespace. When omitted, the module works in the namespace it runs in.
      - The namespace must exist; the module never creates one.
    type: str
attributes:
  action_group:
    description: Use C(group/lvs.ipvs.ipvs) in C(module_defaults) to set defaults for this module, such as O(netns).
    support: full
    membership:
      - lvs.ipvs.ipvs
requirements:
  - pyroute2 0.6.13 or newer on the managed node (Debian 12's C(python3-pyroute2) 0.7.2 works)
  - root, or C(CAP_NET_ADMIN) in the network namespace
  - the C(ip_vs) kernel module (loaded automatically where modules can load; else C(modprobe ip_vs))
"""
