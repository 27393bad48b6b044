#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvs_parity
short_description: Compare this director's IPVS table, templates and sync daemons with the other director of its pair
version_added: 0.1.0
description:
  - Reads this director's IPVS table, persistence templates and sync daemons once, and compares them with O(peer), the answer of
    M(lvs.ipvs.ipvs_info) on the other director of the pair. Changes nothing.
  - The tables are compared as structure and weights, field by field (scheduler, flags, persistence, every real server and each of its
    fields). A standby that lacks a service or a real server drops the templates the sync daemons bring for it, so its clients
    lose their real server at a failover.
  - The weights of health-checked services are keepalived's runtime state (a failed check quiesces a real server on one director
    and not yet on the other), so they are reported in RV(runtime_weights), not as differences. Health-checked services are those that
    the keepalived fragments in O(health_check_dir) have C(virtual_server) blocks for, and those O(health_checked) matches.
  - The sync daemons must run both ways, a master on each director whose messages the backup on the other takes (same sync id,
    or sync id 0 on the backup; same multicast group and port).
  - Templates (when O(peer) has them) are compared for the services both directors have. A template of the peer that is missing
    here, or that pins its client to another real server here (a conflict), breaks parity and is named in RV(templates); templates
    of this director missing on the peer are only counted (run the module on the other director for that direction). Templates
    that expire within 30 seconds are not counted on either side (they may be gone by the time the other director is read).
  - RV(parity) is RV(table_equal), RV(sync_daemons.both_ways) and RV(templates_ok) together, so that a playbook can wait for the
    templates to arrive while the rest is already known to be equal. RV(differences) says what breaks the first two, and
    RV(templates.samples) what breaks the third.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.INFO_MODULE
  - lvs.ipvs._netns
options:
  peer:
    description:
      - The registered result of M(lvs.ipvs.ipvs_info) on the other director of the pair; its RV(lvs.ipvs.ipvs_info#module:services)
        and RV(lvs.ipvs.ipvs_info#module:sync_daemons) are compared, and its RV(lvs.ipvs.ipvs_info#module:templates) when it has them
        (O(lvs.ipvs.ipvs_info#module:connections=true), the default); without them the templates are not compared, with a warning.
      - Validated before anything is read, each service as M(lvs.ipvs.ipvs_table) validates its O(lvs.ipvs.ipvs_table#module:config);
        an entry that is not as M(lvs.ipvs.ipvs_info) gives it is an error naming it (C(peer.services[3].real_servers[0].weight)).
    type: dict
    required: true
  health_check_dir:
    description:
      - The folder of the keepalived fragments (C(*.conf)) that the M(lvs.ipvs.ipvs_table) C(keepalived_config) of the recipe roles
        is written to. The services that their C(virtual_server) blocks declare are health-checked.
      - A folder that does not exist means none.
    type: path
    default: /etc/keepalived/lvs-ipvs.d
  health_checked:
    description:
      - More services to treat as health-checked. Each entry is an entry of O(lvs.ipvs.ipvs_table#module:restrict) (C(addresses),
        C(protocols), C(ports), C(fwmarks), C(families)), validated the same way; a service is health-checked when at least one
        entry matches it, and an entry matches when every option it gives matches.
    type: list
    elements: dict
    default: []
notes:
  - The two answers are read at different moments. Run M(lvs.ipvs.ipvs_info) on the peer just before this module, and retry
    (C(until)) both when the sync daemons may still be bringing templates.
seealso:
  - module: lvs.ipvs.ipvs_info
  - module: lvs.ipvs.ipvs_sync_daemon
  - module: lvs.ipvs.ipvs_table
"""

EXAMPLES = r"""
- name: Read the other director of the pair
  lvs.ipvs.ipvs_info:
  delegate_to: "{{ other_director }}"
  register: lvs_peer

- name: Compare this director with it
  lvs.ipvs.ipvs_parity:
    peer: "{{ lvs_peer }}"
  register: lvs_parity

- name: Stop when the pair differs
  ansible.builtin.assert:
    that: lvs_parity.parity
    fail_msg: "{{ lvs_parity.differences + lvs_parity.templates.samples }}"

- name: Wait until the peer's templates have reached this director (the sync daemons carry them)
  lvs.ipvs.ipvs_parity:
    peer: "{{ lvs_peer }}"
    health_checked:
      - addresses: [198.51.100.10]
        ports: [443]
  register: lvs_parity
  until: lvs_parity.templates_ok
  retries: 10
  delay: 3
"""

RETURN = r"""
parity:
  description: Whether the pair can fail over without losing a client, that is RV(table_equal), RV(sync_daemons.both_ways) and RV(templates_ok).
  returned: success
  type: bool
  sample: false
table_equal:
  description: Whether the tables are equal (services, their fields, their real servers and every field; the weights of health-checked services apart).
  returned: success
  type: bool
  sample: false
templates_ok:
  description: Whether no template of the peer (of a service both have) is missing here or pins its client to another real server here.
  returned: success
  type: bool
  sample: true
differences:
  description:
    - What differs in the tables and what stops the sync daemons from syncing both ways, one sentence each, naming the service (in
      C(ipvsadm) words), the real server, the field and its value here and on the peer. Each sentence about the sync daemons contains
      the words C(sync daemon).
    - Empty exactly when RV(table_equal) and RV(sync_daemons.both_ways) are true. The templates are in RV(templates).
  returned: success
  type: list
  elements: str
  sample:
    - "service -t 198.51.100.1:80: real server 192.0.2.11:80: weight is 1 here, 3 on the peer"
    - "service -f 8 is on the peer but not here"
    - "sync daemons: no backup sync daemon runs here, so the templates made on the peer do not reach this director"
runtime_weights:
  description: The real servers of health-checked services whose weights differ (keepalived's runtime state, not a difference).
  returned: success
  type: list
  elements: dict
  sample:
    - {service: "-t 198.51.100.1:443", server: "192.0.2.12:443", here: 0, peer: 1}
health_checked_services:
  description: The services of either table treated as health-checked (from O(health_check_dir) and O(health_checked)).
  returned: success
  type: list
  elements: str
  sample: ["-t 198.51.100.1:443"]
sync_daemons:
  description: The running sync daemons of both directors, and whether they sync both ways.
  returned: success
  type: dict
  contains:
    here:
      description: The daemons of this director, in the option names of M(lvs.ipvs.ipvs_sync_daemon).
      type: list
      elements: dict
      sample: [{role: master, state: started, interface: ha0, sync_id: 8, max_length: 1472, group: 224.0.0.81, port: 8848, ttl: 1}]
    peer:
      description: The daemons of the peer, as O(peer) gives them.
      type: list
      elements: dict
      sample: [{role: backup, state: started, interface: ha0, sync_id: 8, max_length: 1472, group: 224.0.0.81, port: 8848, ttl: 1}]
    both_ways:
      description: Whether a master on each director sends to a backup on the other that takes its messages.
      type: bool
      sample: false
templates:
  description: The persistence templates compared.
  returned: success
  type: dict
  contains:
    compared:
      description: False when O(peer) has no templates (M(lvs.ipvs.ipvs_info) with O(lvs.ipvs.ipvs_info#module:connections=false)).
      type: bool
      sample: true
    here:
      description: Every template of this director (null when not read).
      type: int
      sample: 11
    peer:
      description: Every template of the peer (null when it has none).
      type: int
      sample: 12
    missing_here:
      description: Live templates of the peer, of services both have, that this director lacks.
      type: int
      sample: 1
    missing_on_peer:
      description: Live templates of this director, of services both have, that the peer lacks (counted only).
      type: int
      sample: 0
    conflicts:
      description: Live templates of the peer that pin their client to another real server here.
      type: int
      sample: 0
    samples:
      description:
        - Up to 10 of the templates that break RV(templates_ok), conflicts first, then those missing here, in the words of C(ipvsadm -Lnc).
        - Empty exactly when RV(templates_ok) is true.
      type: list
      elements: str
      sample: ["template TCP 203.0.113.10 -> 198.51.100.1:8080: real server 192.0.2.11:8080 on the peer, missing here"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_parity_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._parity_task import run_parity


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **ipvs_parity_spec())
    run_parity(module)


if __name__ == "__main__":
    main()
