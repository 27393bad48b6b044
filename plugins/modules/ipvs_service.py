#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvs_service
short_description: Manage one IPVS virtual service, and optionally its whole pool of real servers
version_added: 0.1.0
description:
  - Creates, edits in place or removes one virtual service in the kernel's IPVS table, as C(ipvsadm -A), C(-E) and C(-D) do.
  - Talks to the kernel over generic netlink. Reads the table once, compares in memory and sends only the difference.
  - Changing the scheduler, its flags, persistence or one-packet scheduling is an edit in place (C(ipvsadm -E)) that keeps
    the service's connections and persistence templates. Only a change of the service's identity (protocol, address, port,
    fwmark, family) means another service.
  - With O(real_servers), one task declares the pool too (the same options as M(lvs.ipvs.ipvs_real_server)), in one read
    and one batch; O(purge_real_servers=true) removes real servers not listed.
  - Every option is validated before the first netlink request; an invalid task changes nothing.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.ALL
  - lvs.ipvs._refusal
  - lvs.ipvs._service.KEY
  - lvs.ipvs._netns
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
  state:
    description:
      - V(present) creates the service or edits it in place; V(absent) removes it with its real servers.
    type: str
    choices: [present, absent]
    default: present
  real_servers:
    description:
      - The pool of real servers of this service. Unset leaves the real servers alone.
      - Each entry takes the options of M(lvs.ipvs.ipvs_real_server) that describe a real server.
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
  purge_real_servers:
    description:
      - Remove real servers of this service that O(real_servers) does not list.
    type: bool
    default: false
notes:
  - C(ipvsadm -S) does not save connection thresholds or global timeouts; this module does not depend on it.
seealso:
  - module: lvs.ipvs.ipvs_real_server
  - module: lvs.ipvs.fwmark_rule
  - module: lvs.ipvs.ipvs_timeouts
  - module: lvs.ipvs.ipvs_info
"""

EXAMPLES = r"""
- name: PPC, persistent port connections (ipvsadm -A -t 198.51.100.1:80 -s rr -p 3600)
  lvs.ipvs.ipvs_service:
    protocol: tcp
    address: 198.51.100.1
    port: 80
    scheduler: rr
    persistence_timeout: 3600
    real_servers:
      - server: 192.0.2.11
        weight: 2
      - server: 192.0.2.12
        weight: 2
    purge_real_servers: true

- name: PCC, persistent client connections (port 0 means every port of the VIP)
  lvs.ipvs.ipvs_service:
    protocol: tcp
    address: 198.51.100.1
    port: 0
    scheduler: rr
    persistence_timeout: 3600

- name: PNMPP, a fwmark service (packets marked 8 by lvs.ipvs.fwmark_rule)
  lvs.ipvs.ipvs_service:
    fwmark: 8
    scheduler: rr
    persistence_timeout: 600
    persistence_granularity: 255.255.255.0

- name: Remove a service and its real servers
  lvs.ipvs.ipvs_service:
    protocol: tcp
    address: 198.51.100.1
    port: 8080
    state: absent
"""

RETURN = r"""
commands:
  description: What was sent (or, in check mode, would be), as C(ipvsadm) command lines.
  returned: always
  type: list
  elements: str
  sample: ["-E -t 198.51.100.1:80 -s rr -p 3600", "-e -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2"]
service:
  description: The service after the run (in check mode, as it would be); null when absent.
  returned: always
  type: dict
  sample:
    protocol: tcp
    address: 198.51.100.1
    port: 80
    family: ipv4
    scheduler: rr
    persistence_timeout: 3600
    persistence_granularity: 32
real_servers:
  description: The real servers of the service after the run.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_service_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._service_task import run_service


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **ipvs_service_spec())
    run_service(module)


if __name__ == "__main__":
    main()
