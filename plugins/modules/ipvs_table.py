#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvs_table
short_description: Manage the whole IPVS table (or the part a task owns) in one task
version_added: 0.1.0
description:
  - Declares many virtual services with their real servers in one task, the resource-module way of C(ansible.netcommon) (states
    V(merged), V(replaced), V(overridden), V(deleted), V(gathered), V(rendered), V(parsed)).
  - Reads the kernel's table once (one service dump, one real-server dump per service), compares in memory, and sends only the
    difference, pipelined over generic netlink. One task for a thousand services instead of a thousand module runs.
  - Every entry of O(config) takes exactly the options of M(lvs.ipvs.ipvs_service), and its O(config[].real_servers) those of
    M(lvs.ipvs.ipvs_real_server). Every entry is validated before the first netlink request; an invalid task changes nothing, and
    the error names the entry, for example C(config[3].real_servers[1].weight).
  - Changes of scheduler, persistence, weight, forwarding or thresholds are edits in place (C(ipvsadm -E), C(-e)) that keep
    connections and persistence templates. Only services and real servers whose identity changes are deleted and added.
  - O(restrict) limits the services the task owns, so that several teams or roles can share one table; services outside it are
    never read into the result, never changed and never removed, whatever O(state) says.
  - A service with O(config[].health_check) is B(keepalived-owned), written at runtime by keepalived's health checker from
    RV(keepalived_config). The states that change the table leave it alone (no add, edit or remove, also not by V(overridden))
    and report what the kernel holds for it in RV(health); O(state=rendered) gives its C(virtual_server) block in
    RV(keepalived_config) instead of C(ipvsadm) lines.
  - With more than 100 services in O(config), the arguments Ansible echoes back (C(invocation), shown with C(-vvv)) give a
    one-line summary of O(config) instead of the whole list, which would cost more time than the work itself.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.ALL
  - lvs.ipvs._refusal
  - lvs.ipvs._netns
  - lvs.ipvs._service.TABLE_CONFIG
options:
  config:
    description:
      - The virtual services, each with its real servers.
      - With O(state=merged), O(state=replaced), O(state=overridden) and O(state=rendered), the services to have. With O(state=deleted),
        the services to remove (only the options naming a service count); omitted or empty, O(state=deleted) removes every service
        in O(restrict) (the whole table without O(restrict)).
    type: list
    elements: dict
  state:
    description:
      - V(merged) adds the services of O(config) and edits them in place; their real servers are added or edited, and real servers
        not listed stay. Services not listed stay.
      - V(replaced) makes each service of O(config) exactly as declared, pool included (real servers not listed are removed).
        Services not listed stay.
      - V(overridden) makes the table exactly O(config). B(Every service that O(config) does not list is removed, with its real
        servers and connections) (within O(restrict); the whole table without it). Give O(restrict) when anything else, another
        role, keepalived, kube-proxy, manages services on the same host.
      - V(deleted) removes the services listed in O(config); B(with no O(config), every service within O(restrict), the whole table
        without it).
      - V(gathered) returns the table (within O(restrict)) in RV(gathered), in the form of O(config); it changes nothing.
      - V(rendered) returns the C(ipvsadm -R) lines of O(config) in RV(rendered), and the keepalived C(virtual_server) blocks of
        the services with O(config[].health_check) in RV(keepalived_config), without talking to the kernel.
      - V(parsed) reads O(running_config), the output of C(ipvsadm -S -n), and returns it in the form of O(config) in RV(parsed),
        without talking to the kernel.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered, parsed]
    default: merged
  running_config:
    description:
      - With O(state=parsed), the text to read, as written by C(ipvsadm -S -n) (or given to C(ipvsadm -R)); the commands
        C(-A), C(-E), C(-D), C(-C), C(-a), C(-e), C(-d) are replayed in order.
      - Only numeric addresses and ports are understood (C(-n)).
    type: str
  restrict:
    description:
      - Limits the services this task owns. Without it, the task owns the whole table of the network namespace.
      - A service is owned when at least one entry matches it; an entry matches when every option it gives matches.
      - Services not owned are left alone by every state, V(overridden) and V(deleted) included, and are not in the results.
        A service of O(config) that is not owned is an error.
    type: list
    elements: dict
    suboptions:
      addresses:
        description:
          - VIPs or networks (V(198.51.100.0/24), V(2001:db8::/64)) of services named by address. Fwmark services do not match.
        type: list
        elements: str
      protocols:
        description:
          - Protocols of services named by address. Fwmark services do not match.
        type: list
        elements: str
        choices: [tcp, udp, sctp]
      ports:
        description:
          - Virtual ports of services named by address. Fwmark services do not match.
        type: list
        elements: int
      fwmarks:
        description:
          - Firewall marks of fwmark services. Services named by address do not match. Cannot be combined with
            O(restrict[].addresses), O(restrict[].protocols) or O(restrict[].ports) in one entry.
        type: list
        elements: int
      families:
        description:
          - Address families (V(ipv4), V(ipv6)) of services of both kinds.
        type: list
        elements: str
        choices: [ipv4, ipv6]
  before_after:
    description:
      - What RV(before) and RV(after) hold. V(all), every service in O(restrict) (the resource-module convention); V(changed),
        only the services the task adds, edits or removes; V(none), nothing (both empty or left out).
      - With thousands of services, V(changed) or V(none) saves real time. Ansible walks every value a module returns (to hide
        C(no_log) values) at several microseconds each; a table of 1,000 services of 10 real servers is about 80,000 values,
        which costs more than reading the kernel's table. RV(commands) and the diff (C(--diff)) show what changed either way.
    type: str
    choices: [all, changed, none]
    default: all
notes:
  - C(ipvsadm -S) does not save connection thresholds; RV(rendered) and the diff show them as C(-x) and C(-y), which C(ipvsadm -R)
    accepts.
  - C(ipvsadm -R) is not atomic either; unlike it, this module reads the kernel and sends only the difference, so a re-run after a
    failure finishes the job without touching what is already right.
seealso:
  - module: lvs.ipvs.ipvs_service
  - module: lvs.ipvs.ipvs_real_server
  - module: lvs.ipvs.ipvs_info
"""

EXAMPLES = r"""
- name: The shop's services, nothing else on this director (overridden removes every other service)
  lvs.ipvs.ipvs_table:
    state: overridden
    config:
      - fwmark: 8
        scheduler: rr
        persistence_timeout: 600
        real_servers:
          - server: 192.0.2.11
            weight: 2
          - server: 192.0.2.12
            weight: 2
      - protocol: tcp
        address: 198.51.100.1
        port: 8080
        scheduler: wlc
        real_servers:
          - server: 192.0.2.21
            forwarding: nat

- name: Team A owns 198.51.100.0/25 only; services of other teams stay as they are
  lvs.ipvs.ipvs_table:
    state: overridden
    restrict:
      - addresses: [198.51.100.0/25]
    config: "{{ team_a_services }}"

- name: Drain one real server, leave everything else alone
  lvs.ipvs.ipvs_table:
    state: merged
    config:
      - protocol: tcp
        address: 198.51.100.1
        port: 8080
        real_servers:
          - server: 192.0.2.21
            forwarding: nat
            state: drained

- name: Remove two services
  lvs.ipvs.ipvs_table:
    state: deleted
    config:
      - protocol: tcp
        address: 198.51.100.1
        port: 8080
      - fwmark: 8

- name: A health-checked service, written by keepalived's health checker (the director role installs its config)
  lvs.ipvs.ipvs_table:
    state: rendered
    config:
      - protocol: tcp
        address: 198.51.100.1
        port: 80
        scheduler: wlc
        persistence_timeout: 600
        real_servers:
          - server: 192.0.2.11
          - server: 192.0.2.12
        health_check:
          type: http
          path: /health
          status: [200]
          interval: 2
          timeout: 1
          retries: 1
          on_failure: quiesce
          sorry_server: 192.0.2.99
  register: health_checked  # health_checked.keepalived_config: the virtual_server block

- name: The same declaration with overridden changes nothing keepalived owns, and reports it
  lvs.ipvs.ipvs_table:
    state: overridden
    config: "{{ services_with_health_checks }}"
  register: table  # table.health: up, down, sorry_server_active, drift of each health-checked service

- name: Read the table, as ipvs_table config
  lvs.ipvs.ipvs_table:
    state: gathered
  register: table

- name: Turn a saved ipvsadm -S -n into config (no kernel needed)
  lvs.ipvs.ipvs_table:
    state: parsed
    running_config: "{{ lookup('ansible.builtin.file', 'ipvsadm.rules') }}"
  register: saved

- name: Restore it, exactly
  lvs.ipvs.ipvs_table:
    state: overridden
    config: "{{ saved.parsed }}"
"""

RETURN = r"""
before:
  description:
    - The services (within O(restrict)) before the task, in the form of O(config), in C(ipvsadm)'s sort order.
    - Keepalived-owned services (with O(config[].health_check)) are not here, nor in RV(after), RV(commands) or the diff, but in RV(health).
  returned: when O(state) is V(merged), V(replaced), V(overridden) or V(deleted)
  type: list
  elements: dict
  sample:
    - protocol: tcp
      address: 198.51.100.1
      port: 80
      family: ipv4
      scheduler: rr
      scheduler_flags: []
      persistence_timeout: 3600
      persistence_granularity: 32
      one_packet: false
      real_servers:
        - {server: 192.0.2.11, server_port: 80, forwarding: dr, weight: 2, upper_threshold: 0, lower_threshold: 0}
commands:
  description: What was sent (in check mode, what would be), as C(ipvsadm) command lines, in order.
  returned: when O(state) is V(merged), V(replaced), V(overridden) or V(deleted)
  type: list
  elements: str
  sample: ["-E -t 198.51.100.1:80 -s rr -p 3600", "-e -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2", "-D -f 9"]
after:
  description: The services (within O(restrict)) after the task (in check mode, as they would be), in the form of O(config).
  returned: when changed
  type: list
  elements: dict
gathered:
  description: The services in the kernel (within O(restrict)), in the form of O(config).
  returned: when O(state=gathered)
  type: list
  elements: dict
rendered:
  description: O(config) as C(ipvsadm -R) input lines, in C(ipvsadm -S -n)'s order and syntax.
  returned: when O(state=rendered)
  type: list
  elements: str
  sample: ["-A -t 198.51.100.1:80 -s rr -p 3600", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2"]
keepalived_config:
  description:
    - The keepalived C(virtual_server) blocks of the services of O(config) that have O(config[].health_check), in C(ipvsadm)'s
      sort order; an empty string when there are none. The services themselves are not in RV(rendered).
    - keepalived's C(--config-test) accepts it with a C(global_defs) that has C(enable_script_security) and C(script_user root)
      (for V(command) checks).
  returned: when O(state=rendered)
  type: str
  sample: |
    virtual_server 198.51.100.1 80 {
        protocol TCP
        lvs_sched wlc
        persistence_timeout 600
        lvs_method DR
        delay_loop 5
        inhibit_on_failure
        quorum 1
        hysteresis 0
        real_server 192.0.2.11 80 {
            weight 1
            lvs_method DR
            TCP_CHECK {
                connect_port 80
                connect_timeout 3
                retry 2
                delay_before_retry 1
            }
        }
    }
health:
  description:
    - What the kernel holds for each keepalived-owned service of O(config) (one with O(config[].health_check)), which this module
      does not write. Each drift sentence is also a warning; none of it makes the task changed.
  returned: when O(state) is V(merged), V(replaced) or V(overridden)
  type: list
  elements: dict
  contains:
    service:
      description: The service, as its C(ipvsadm) switch.
      type: str
      sample: -t 198.51.100.1:80
    writer:
      description: Who writes the service at runtime.
      type: str
      sample: keepalived
    up:
      description: Declared real servers in the pool at their declared weight (0 for a drained one), as C(ADDR:PORT).
      type: list
      elements: str
      sample: ["192.0.2.11:80"]
    down:
      description:
        - Declared real servers that their check took out, absent from the pool or at weight 0 while declared above 0
          (runtime state, left as it is). All of them when the service is missing.
      type: list
      elements: str
      sample: ["192.0.2.12:80"]
    sorry_server_active:
      description: Whether the sorry server is in the pool (the quorum is lost).
      type: bool
    drift:
      description:
        - Sentences about what differs from the declaration and is not runtime state, such as the scheduler, persistence,
          forwarding or thresholds, a weight that is neither the declared one nor 0, a real server neither declared nor the
          sorry server, or the service missing (keepalived has not built it).
      type: list
      elements: str
      sample: ["scheduler is rr in the kernel, declared wlc"]
parsed:
  description: O(running_config) in the form of O(config), normalised as the kernel would hold it.
  returned: when O(state=parsed)
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_table_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import run_table


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **ipvs_table_spec())
    run_table(module)


if __name__ == "__main__":
    main()
