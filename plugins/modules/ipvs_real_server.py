#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvs_real_server
short_description: Manage one real server of an IPVS virtual service
version_added: 0.1.0
description:
  - Adds, edits in place or removes one real server (destination) of an existing virtual service, as C(ipvsadm -a), C(-e) and C(-d) do.
  - Changing the weight, forwarding method, thresholds or tunnel settings is an edit in place (C(ipvsadm -e)); the real server's
    connections and the persistence templates that point to it stay.
  - O(state=drained) keeps the real server with weight 0, so it takes no new clients while its connections finish (the daily
    maintenance routine). Templates of a weight-0 server only expire early with the sysctl C(net.ipv4.vs.expire_quiescent_template=1).
  - Every option is validated before the first netlink request; an invalid task changes nothing.
  - The virtual service must exist, created by M(lvs.ipvs.ipvs_service) in an earlier task; a real run fails naming it. In check
    mode, where that earlier task was only checked too, the real server's commands are predicted with a warning. With
    O(state=absent), a service that does not exist has no real server to remove, so the task reports no change, with a warning.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.ALL
  - lvs.ipvs._refusal
  - lvs.ipvs._service.KEY
  - lvs.ipvs._netns
options:
  server:
    description:
      - Address of the real server, IPv4 or IPv6. It must be of the service's family unless O(forwarding=tunnel).
    type: str
    required: true
  server_port:
    description:
      - Port on the real server. Defaults to the service port, as C(ipvsadm) does (0 for a fwmark service).
      - With DR and tunnel forwarding of a service named by address and port, the real server always gets the service port (the
        packet is not rewritten); a different value is an error.
    type: int
  forwarding:
    description:
      - Forwarding method. V(dr) direct routing (aliases V(route), V(gate); C(ipvsadm -g)), V(nat) masquerading (alias V(masq); C(-m)),
        V(tunnel) IP-in-IP or GUE/GRE tunnelling (alias V(ipip); C(-i)).
    type: str
    choices: [dr, route, gate, nat, masq, tunnel, ipip]
    default: dr
  weight:
    description:
      - Weight, 0 to 65535 (C(-w)). 0 takes no new connections. Ignored with O(state=drained), which sets 0.
    type: int
    default: 1
  upper_threshold:
    description:
      - Upper connection threshold (C(-x)), 0 to 2147483647; 0 means no limit.
    type: int
    default: 0
  lower_threshold:
    description:
      - Lower connection threshold (C(-y)), 0 to 2147483647; 0 means no limit. Not above O(upper_threshold).
    type: int
    default: 0
  tunnel_type:
    description:
      - Encapsulation for O(forwarding=tunnel) (C(--tun-type)). Default V(ipip).
    type: str
    choices: [ipip, gue, gre]
  tunnel_port:
    description:
      - Destination port of GUE encapsulation (C(--tun-port)), 1 to 65535; required with O(tunnel_type=gue).
    type: int
  tunnel_checksum:
    description:
      - Checksum mode of GUE and GRE tunnels (C(--tun-nocsum), C(--tun-csum), C(--tun-remcsum)). Default V(nocsum).
    type: str
    choices: [nocsum, csum, remcsum]
  state:
    description:
      - V(present) adds the real server or edits it in place, V(absent) removes it, V(drained) keeps it with weight 0.
    type: str
    choices: [present, absent, drained]
    default: present
  wait_drained:
    description:
      - With O(state=drained), wait until the real server is drained, up to O(drain_timeout) seconds, and fail if it is not. Drained
        means no active connection (its C(ActiveConn) in C(ipvsadm -Ln) is 0) and no live persistence template of the service
        pointing to it (C(ipvsadm -Lnc), the entries with client port 0). Then a task with O(state=absent) can remove it without
        cutting anyone off.
      - A template is renewed while its client keeps coming back, and a client with a template still goes to a weight-0 server.
        With the sysctl C(net.ipv4.vs.expire_quiescent_template=1) (the C(director) role's default) the kernel invalidates such a
        template at its client's next connection (its ports become 65535) and schedules the client afresh; an invalidated
        template pins nobody and does not count, although the kernel keeps it (and counts it in C(ipvsadm -Ln --persistent-conn))
        until its timer runs out. A template whose client does not come back counts until it expires, at most one persistence
        timeout.
      - A connection closed normally stays in the connection table in state C(TIME_WAIT) for 120 seconds (a fixed kernel timeout that
        C(ipvsadm --set) does not change), and holds its template that long; plan O(drain_timeout) accordingly.
      - The wait does not hold the table lock, so other runs can change the table meanwhile. Check mode does not wait.
    type: bool
    default: false
  drain_timeout:
    description:
      - Seconds O(wait_drained) waits at most.
    type: int
    default: 300
  drain_poll_interval:
    description:
      - Seconds between two looks at the real server's counts while O(wait_drained) waits (0.1 to 3600).
    type: float
    default: 2.0
seealso:
  - module: lvs.ipvs.ipvs_service
  - module: lvs.ipvs.ipvs_info
"""

EXAMPLES = r"""
- name: Real server for the PPC service, direct routing, weight 2 (ipvsadm -a -t 198.51.100.1:80 -r 192.0.2.11 -g -w 2)
  lvs.ipvs.ipvs_real_server:
    protocol: tcp
    address: 198.51.100.1
    port: 80
    server: 192.0.2.11
    forwarding: dr
    weight: 2

- name: Real server of the PNMPP fwmark service, NAT
  lvs.ipvs.ipvs_real_server:
    fwmark: 8
    server: 192.0.2.12
    forwarding: nat

- name: Drain a real server before maintenance
  lvs.ipvs.ipvs_real_server:
    protocol: tcp
    address: 198.51.100.1
    port: 80
    server: 192.0.2.11
    state: drained

- name: Drain a real server and wait until its connections and templates are gone, then remove it
  lvs.ipvs.ipvs_real_server:
    protocol: tcp
    address: 198.51.100.1
    port: 80
    server: 192.0.2.11
    state: drained
    wait_drained: true
    drain_timeout: 900

- name: GUE tunnel to a real server in another network
  lvs.ipvs.ipvs_real_server:
    protocol: udp
    address: 198.51.100.1
    port: 53
    server: 203.0.113.20
    forwarding: tunnel
    tunnel_type: gue
    tunnel_port: 6080
"""

RETURN = r"""
drain:
  description: What O(wait_drained) waited for, and how long.
  returned: when O(wait_drained=true) and not in check mode
  type: dict
  sample: {"drained": true, "waited": 12.4, "polls": 7, "active_connections": 0, "persistent_connections": 0}
commands:
  description: What was sent (or, in check mode, would be), as C(ipvsadm) command lines.
  returned: always
  type: list
  elements: str
  sample: ["-e -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 0"]
real_server:
  description: The real server after the run (in check mode, as it would be); null when absent.
  returned: always
  type: dict
  sample:
    server: 192.0.2.11
    server_port: 80
    forwarding: dr
    weight: 2
    upper_threshold: 0
    lower_threshold: 0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_real_server_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._service_task import run_real_server


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **ipvs_real_server_spec())
    run_real_server(module)


if __name__ == "__main__":
    main()
