#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvs_info
short_description: Read the IPVS table, connections, persistence templates, timeouts and sync daemons
version_added: 0.1.0
description:
  - Returns what C(ipvsadm -Ln --stats), C(ipvsadm -Lnc), C(ipvsadm -Ln --timeout) and C(ipvsadm -Ln --daemon) show, as data.
  - Services and real servers come in the option names of M(lvs.ipvs.ipvs_service) and M(lvs.ipvs.ipvs_real_server), so a gathered
    service can be fed back to them.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.INFO_MODULE
  - lvs.ipvs._netns
options:
  connections:
    description:
      - Also return the connection table (C(ipvsadm -Lnc)), with the persistence templates separately.
      - The table can be large on a busy director.
    type: bool
    default: true
seealso:
  - module: lvs.ipvs.ipvs_service
  - module: lvs.ipvs.ipvs_sync_daemon
"""

EXAMPLES = r"""
- name: Read the table
  lvs.ipvs.ipvs_info:
  register: ipvs

- name: Show which real server each client is pinned to
  ansible.builtin.debug:
    msg: "{{ ipvs.templates | map(attribute='client') | zip(ipvs.templates | map(attribute='real_server')) }}"
"""

RETURN = r"""
version:
  description: IPVS version of the kernel.
  returned: always
  type: str
  sample: 1.2.1
connection_table_size:
  description: Size of the connection hash table.
  returned: always
  type: int
  sample: 4096
services:
  description: Every virtual service with its real servers, statistics and connection counts.
  returned: always
  type: list
  elements: dict
  sample:
    - protocol: tcp
      address: 198.51.100.1
      port: 80
      family: ipv4
      scheduler: rr
      persistence_timeout: 3600
      stats: {conns: 12, inpkts: 80, outpkts: 0, inbytes: 5120, outbytes: 0}
      real_servers:
        - server: 192.0.2.11
          server_port: 80
          forwarding: dr
          weight: 1
          active_connections: 1
          inactive_connections: 3
          persistent_connections: 1
timeouts:
  description: The global idle timeouts in seconds.
  returned: always
  type: dict
  sample: {"tcp": 900, "tcpfin": 120, "udp": 300}
connections:
  description: Connection entries that are not persistence templates, as C(ipvsadm -Lnc) lists them.
  returned: when O(connections=true)
  type: list
  elements: dict
  sample:
    - {protocol: tcp, client: 203.0.113.10, client_port: 41234, virtual: 198.51.100.1, virtual_port: 80,
       real_server: 192.0.2.11, real_server_port: 80, state: TIME_WAIT, expires: 114}
templates:
  description:
    - Persistence templates (source port 0), which pin a client to a real server until they expire.
    - For a fwmark service, C(virtual) is the mark written as an address (C(0.0.0.8) for mark 8), as the kernel lists it; C(fwmark) gives the mark.
  returned: when O(connections=true)
  type: list
  elements: dict
  sample:
    - {protocol: tcp, client: 203.0.113.10, virtual: 198.51.100.1, virtual_port: 80, real_server: 192.0.2.11,
       real_server_port: 80, state: ASSURED, expires: 3598}
sync_daemons:
  description:
    - Running connection synchronisation daemons (C(ipvsadm -L --daemon)), none, a master, a backup or both.
    - In the option names of M(lvs.ipvs.ipvs_sync_daemon), so an entry can be fed back to it.
  returned: always
  type: list
  elements: dict
  sample:
    - {role: master, state: started, interface: ha0, sync_id: 10, max_length: 1472, group: 224.0.0.81, port: 8848, ttl: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_info_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._info_task import run_info


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **ipvs_info_spec())
    run_info(module)


if __name__ == "__main__":
    main()
