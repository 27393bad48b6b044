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
  - lvs.ipvs._service.SERVICE
  - lvs.ipvs._service.REAL_SERVERS
  - lvs.ipvs._netns
options:
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
