# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is private to this collection: do not use it from elsewhere.
# Its content can change at any time.

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """How a module names its virtual service: protocol + address + port, or fwmark + family."""

    KEY = r"""
options:
  protocol:
    description:
      - Protocol of a virtual service named by O(address) and O(port) (C(ipvsadm -t), C(-u), C(--sctp-service)).
      - Give either O(protocol), O(address) and O(port), or O(fwmark).
    type: str
    choices: [tcp, udp, sctp]
  address:
    description:
      - The virtual IP address (VIP), IPv4 or IPv6.
    type: str
  port:
    description:
      - The virtual port. V(0) means every port of the VIP and is accepted only for a persistent service (persistent client
        connections, PCC).
    type: int
  fwmark:
    description:
      - Firewall mark of a fwmark virtual service (C(ipvsadm -f)), 1 to 4294967295. Packets marked with it (see M(lvs.ipvs.fwmark_rule))
        are balanced together (the PNMPP recipe).
      - Mutually exclusive with O(protocol), O(address) and O(port).
    type: int
  family:
    description:
      - Address family of a fwmark service (C(ipvsadm -6) for V(ipv6)).
      - For a service named by O(address), the family follows from the address; a conflicting value is an error.
    type: str
    choices: [ipv4, ipv6]
"""
