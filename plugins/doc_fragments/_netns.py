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
      - The namespace must exist; the module never creates one. In check mode a namespace that does not exist yet reads as a
        new one (an empty table, default timeouts), with a warning, as after the earlier task that creates it.
    type: str
attributes:
  action_group:
    description: Use C(group/lvs.ipvs.ipvs) in C(module_defaults) to set defaults for this module, such as O(netns).
    support: full
    membership:
      - lvs.ipvs.ipvs
requirements:
  - Python 3.7 to 3.13 on the managed node, as far as the ansible-core in use supports it there (3.7 needs ansible-core 2.17);
    tested with 3.7.16 and 3.13.0
  - pyroute2 0.5.0 or newer for that Python (tested with 0.5.0, 0.6.13, 0.7.2 and 0.9.7), from the distribution's package
    C(python3-pyroute2) (Debian, Ubuntu, Fedora; EPEL on RHEL and its rebuilds) or C(pip install pyroute2); without it
    the module fails naming the version it found, the version it needs, and these packages
  - root, or C(CAP_NET_ADMIN) in the network namespace
  - the C(ip_vs) kernel module (loaded automatically where modules can load; else C(modprobe ip_vs))
"""
