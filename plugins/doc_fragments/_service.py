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
      health_check:
        description:
          - Makes the service B(keepalived-owned). Its runtime writer is keepalived's health checker (a check-only instance,
            C(keepalived --check), fed with RV(keepalived_config) of O(state=rendered); the director role sets it up), which builds
            the service, checks every real server, and takes a failed one out of the pool (O(config[].health_check.on_failure))
            until it passes again.
          - This module never adds, edits or removes a keepalived-owned service (not even O(state=overridden)); it reads it back
            and reports it in RV(health), which real servers are up or down (runtime state, never "fixed") and any drift of its
            structure (scheduler, persistence, forwarding, members), each drift also a warning. O(state=deleted) still removes it.
          - Needs at least one real server with a weight above 0 (keepalived refuses a virtual server without one).
          - A failed real server comes back after its first successful check (keepalived 2.2.7 has no count of successes).
        type: dict
        suboptions:
          type:
            description:
              - V(tcp) connects (C(TCP_CHECK)), V(http) and V(https) send a GET (C(HTTP_GET), C(SSL_GET)), V(command) runs
                O(config[].health_check.command) (C(MISC_CHECK)).
            type: str
            required: true
            choices: [tcp, http, https, command]
          port:
            description:
              - Port to check, 1 to 65535. Defaults to each real server's port; required for a service without a port of its own
                (fwmark, or port 0). Not for V(command).
            type: int
          path:
            description: URL path to GET, starting with V(/) (V(http) and V(https) only). Default V(/).
            type: str
          status:
            description: HTTP status codes that count as up, 100 to 599 (V(http) and V(https) only). Default V([200]).
            type: list
            elements: int
          digest:
            description: MD5 of the body that counts as up, 32 hexadecimal digits as C(genhash) prints it (V(http) and V(https) only).
            type: str
          text:
            description: Text the body must contain, taken literally (V(http) and V(https) only).
            type: str
          virtualhost:
            description: Host name sent in the C(Host) header, and as SNI with V(https) (V(http) and V(https) only).
            type: str
          command:
            description:
              - With O(config[].health_check.type=command), and only then, the program to run and its arguments; exit status 0
                means up, anything else down.
              - An absolute path, split into words as a shell does (single quotes group words) but run without a shell, as root
                (keepalived's script security, C(enable_script_security), is on); no double quotes or newlines.
            type: str
          interval:
            description: Seconds between checks of a real server (C(delay_loop)), 1 to 86400.
            type: int
            default: 5
          timeout:
            description: Seconds a check may take (C(connect_timeout), C(misc_timeout) for V(command)), 1 to 3600.
            type: int
            default: 3
          retries:
            description:
              - Failed checks retried before the real server is down (C(retry)), 0 to 100. A real server is down after
                O(config[].health_check.retries) + 1 failed checks, within about interval + retries x (retry_delay + timeout) seconds.
            type: int
            default: 2
          retry_delay:
            description: Seconds between a failed check and its retry (C(delay_before_retry)), 1 to 3600.
            type: int
            default: 1
          on_failure:
            description:
              - What a failed real server becomes. V(quiesce) keeps it at weight 0 (C(inhibit_on_failure)), so its connections
                finish, and with the director role's C(expire_quiescent_template=1) a client pinned to it by persistence moves
                on with its next connection. V(remove) takes it out of the pool; C(expire_nodest_conn=1) then moves its
                connections on with their next packet.
            type: str
            choices: [quiesce, remove]
            default: quiesce
          alpha:
            description:
              - Every real server starts down until its first successful check (C(alpha)), when keepalived starts and when a
                reload gives it a new check. So after a boot no client is sent to a dead real server; and when keepalived starts
                over a table that is already there (a restart), a weight 0 left over from a real server that was down then is
                set back on its first successful check (without C(alpha), keepalived 2.2.7 keeps it at 0 for as long as the
                server stays healthy). The price is a few seconds at a first start before the real servers take clients.
            type: bool
            default: true
          sorry_server:
            description:
              - Real server put in the pool when the quorum is lost (no real server up, by default), V(ADDR), V(ADDR:PORT) or
                V([V6ADDR]:PORT), of the service's family. Forwarded as the real servers are; only nat forwarding takes a port
                other than the service's.
            type: str
          quorum:
            description:
              - Total weight of the live real servers below which the sorry server takes over, 1 to 65535. O(config[].health_check.quorum)
                plus O(config[].health_check.hysteresis) must not be above the total weight of the declared real servers (a drained
                one counts 0), because keepalived brings the real servers back from the sorry server only when their total reaches
                that sum.
            type: int
            default: 1
          hysteresis:
            description: Weight the live total may move around the quorum before the quorum is lost or gained, 0 to 65535, below quorum.
            type: int
            default: 0
'''
