# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is private to this collection: do not use it from elsewhere.
# Its content can change at any time.

"""The options of a virtual service and of its real servers, for ipvs_service, ipvs_real_server and ipvs_table.

ipvs_service takes them as its own options, ipvs_table as the suboptions of `config`. ansible-core (2.19) merges a
fragment's options into the module's one level deep: an option the module documents too gets the fragment's keys
(here: `suboptions`) next to its own (description, type). So ipvs_service documents `real_servers` and REAL_SERVERS
adds its suboptions; ipvs_table documents `config` and TABLE_CONFIG adds its suboptions. Deeper than that nothing
merges, and a reference to a sibling option is a full path (O(config[].address)). RETURN takes no fragments at all.

Each attribute is one literal string, as ansible-test's yamllint sanity test requires (it reads them without running
this file): so TABLE_CONFIG repeats the texts of KEY, SERVICE and REAL_SERVERS, one level deeper and with the
`config[].` paths. tests/unit/plugins/test_doc_fragments.py checks that the repeated texts are the same.
"""


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """A virtual service's key (protocol + address + port, or fwmark + family), its options, and its real servers."""

    KEY = r'''
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
'''

    SERVICE = r'''
options:
  scheduler:
    description:
      - Scheduling algorithm (C(ipvsadm -s)). The kernel loads its module on first use.
      - V(twos) exists only on kernels 6.3 and newer.
    type: str
    default: wlc
    choices: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos]
  scheduler_flags:
    description:
      - Scheduler flags (C(ipvsadm -b)). V(sh-fallback) and V(sh-port) are for O(scheduler=sh), V(mh-fallback) and V(mh-port)
        for O(scheduler=mh); V(flag-1), V(flag-2), V(flag-3) are the raw bits for other schedulers.
    type: list
    elements: str
    choices: [sh-fallback, sh-port, mh-fallback, mh-port, flag-1, flag-2, flag-3]
    default: []
  persistence_timeout:
    description:
      - Makes the service persistent (C(ipvsadm -p)); for this many seconds after its last connection, a client keeps going to the
        same real server. 1 to 2678400 (31 days). C(ipvsadm -p) without a value means 360.
      - Unset means not persistent.
    type: int
  persistence_granularity:
    description:
      - Which clients share one persistence template (C(ipvsadm -M)). For IPv4 a netmask such as V(255.255.255.0) or a prefix
        length such as V(24) (the default is one client address, V(255.255.255.255)); for IPv6 a prefix length 1 to 128
        (default 128).
      - Needs O(persistence_timeout).
    type: str
  persistence_engine:
    description:
      - Persistence engine (C(ipvsadm --pe)). V(sip) pins SIP calls by Call-ID. Needs O(persistence_timeout).
    type: str
    choices: [sip]
  one_packet:
    description:
      - One-packet scheduling (C(ipvsadm -o)), every packet is scheduled on its own. Only for UDP and fwmark services.
    type: bool
    default: false
'''

    REAL_SERVERS = r'''
options:
  real_servers:
    suboptions:
      server:
        description: Address of the real server.
        type: str
        required: true
      server_port:
        description: Port on the real server. Defaults to the service port (as C(ipvsadm)); DR and tunnel forwarding always use it.
        type: int
      forwarding:
        description: Forwarding method. V(dr) (direct routing, C(-g)), V(nat) (masquerading, C(-m)), V(tunnel) (C(-i)).
        type: str
        choices: [dr, route, gate, nat, masq, tunnel, ipip]
        default: dr
      weight:
        description: Weight, 0 to 65535. 0 takes no new connections (quiescent).
        type: int
        default: 1
      upper_threshold:
        description: Upper connection threshold (C(-x)); 0 means no limit.
        type: int
        default: 0
      lower_threshold:
        description: Lower connection threshold (C(-y)); 0 means no limit.
        type: int
        default: 0
      tunnel_type:
        description: Tunnel encapsulation for O(real_servers[].forwarding=tunnel).
        type: str
        choices: [ipip, gue, gre]
      tunnel_port:
        description: Destination port of GUE encapsulation; required with O(real_servers[].tunnel_type=gue).
        type: int
      tunnel_checksum:
        description: Checksum mode of GUE and GRE tunnels.
        type: str
        choices: [nocsum, csum, remcsum]
      state:
        description: V(present), V(absent), or V(drained) (present with weight 0).
        type: str
        choices: [present, absent, drained]
        default: present
'''

    TABLE_CONFIG = r'''
options:
  config:
    suboptions:
      protocol:
        description:
          - Protocol of a virtual service named by O(config[].address) and O(config[].port) (C(ipvsadm -t), C(-u), C(--sctp-service)).
          - Give either O(config[].protocol), O(config[].address) and O(config[].port), or O(config[].fwmark).
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
          - Mutually exclusive with O(config[].protocol), O(config[].address) and O(config[].port).
        type: int
      family:
        description:
          - Address family of a fwmark service (C(ipvsadm -6) for V(ipv6)).
          - For a service named by O(config[].address), the family follows from the address; a conflicting value is an error.
        type: str
        choices: [ipv4, ipv6]
      scheduler:
        description:
          - Scheduling algorithm (C(ipvsadm -s)). The kernel loads its module on first use.
          - V(twos) exists only on kernels 6.3 and newer.
        type: str
        default: wlc
        choices: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos]
      scheduler_flags:
        description:
          - Scheduler flags (C(ipvsadm -b)). V(sh-fallback) and V(sh-port) are for O(config[].scheduler=sh), V(mh-fallback) and V(mh-port)
            for O(config[].scheduler=mh); V(flag-1), V(flag-2), V(flag-3) are the raw bits for other schedulers.
        type: list
        elements: str
        choices: [sh-fallback, sh-port, mh-fallback, mh-port, flag-1, flag-2, flag-3]
        default: []
      persistence_timeout:
        description:
          - Makes the service persistent (C(ipvsadm -p)); for this many seconds after its last connection, a client keeps going to the
            same real server. 1 to 2678400 (31 days). C(ipvsadm -p) without a value means 360.
          - Unset means not persistent.
        type: int
      persistence_granularity:
        description:
          - Which clients share one persistence template (C(ipvsadm -M)). For IPv4 a netmask such as V(255.255.255.0) or a prefix
            length such as V(24) (the default is one client address, V(255.255.255.255)); for IPv6 a prefix length 1 to 128
            (default 128).
          - Needs O(config[].persistence_timeout).
        type: str
      persistence_engine:
        description:
          - Persistence engine (C(ipvsadm --pe)). V(sip) pins SIP calls by Call-ID. Needs O(config[].persistence_timeout).
        type: str
        choices: [sip]
      one_packet:
        description:
          - One-packet scheduling (C(ipvsadm -o)), every packet is scheduled on its own. Only for UDP and fwmark services.
        type: bool
        default: false
      real_servers:
        description:
          - The real servers of this service, with the options of M(lvs.ipvs.ipvs_real_server).
          - With O(state=merged), unset leaves the pool alone, and real servers not listed stay; list one with
            O(config[].real_servers[].state=absent) to remove it.
          - With O(state=replaced) and O(state=overridden), the pool is exactly this list (unset means no real servers).
        type: list
        elements: dict
        suboptions:
          server:
            description: Address of the real server.
            type: str
            required: true
          server_port:
            description: Port on the real server. Defaults to the service port (as C(ipvsadm)); DR and tunnel forwarding always use it.
            type: int
          forwarding:
            description: Forwarding method. V(dr) (direct routing, C(-g)), V(nat) (masquerading, C(-m)), V(tunnel) (C(-i)).
            type: str
            choices: [dr, route, gate, nat, masq, tunnel, ipip]
            default: dr
          weight:
            description: Weight, 0 to 65535. 0 takes no new connections (quiescent).
            type: int
            default: 1
          upper_threshold:
            description: Upper connection threshold (C(-x)); 0 means no limit.
            type: int
            default: 0
          lower_threshold:
            description: Lower connection threshold (C(-y)); 0 means no limit.
            type: int
            default: 0
          tunnel_type:
            description: Tunnel encapsulation for O(config[].real_servers[].forwarding=tunnel).
            type: str
            choices: [ipip, gue, gre]
          tunnel_port:
            description: Destination port of GUE encapsulation; required with O(config[].real_servers[].tunnel_type=gue).
            type: int
          tunnel_checksum:
            description: Checksum mode of GUE and GRE tunnels.
            type: str
            choices: [nocsum, csum, remcsum]
          state:
            description: V(present), V(absent), or V(drained) (present with weight 0).
            type: str
            choices: [present, absent, drained]
            default: present
'''
