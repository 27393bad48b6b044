#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvs_sync_daemon
short_description: Start or stop IPVS's connection synchronisation daemon (master or backup)
version_added: 0.1.0
description:
  - Manages what C(ipvsadm --start-daemon) and C(ipvsadm --stop-daemon) do and C(ipvsadm -L --daemon) shows, for one role.
  - The master daemon of the active director sends its connections and persistence templates by multicast; the backup daemon of the
    standby receives them and adds them to its own connection table. After a failover the standby already knows which real server
    each client is pinned to, so persistence survives, and the established connections go on.
  - A network namespace runs at most one master and one backup daemon; both can run at once (each director of a pair can then
    back up the other). One task manages the daemon of one O(role).
  - A running daemon cannot be changed. When its configuration differs from the task, the module stops it and starts it again
    (two commands); sync messages sent during that moment are lost, the connection table is not touched.
  - The backup binds each synced connection and template to its own virtual service and real server, so give both directors the same
    table (fwmark services included); a template whose service or real server the backup lacks does not pin the client there.
  - Kernel settings that matter (C(/proc/sys/net/ipv4/vs/), per network namespace, not managed by this module; the C(director)
    role sets them)
  - C(sync_version) (default 1) is the message format. Keep 1 on both directors; 0 is the format of kernels before 2.6.39, which
    carries IPv4 only, without firewall marks, so it cannot sync fwmark (PNMPP) templates.
  - C(sync_persist_mode) (default 0) 0 syncs every connection and template. 1 syncs only the persistence templates of persistent
    services, less traffic, but the connections open at a failover are then unknown to the standby, which drops their packets
    unless C(sloppy_tcp) (and C(sloppy_sctp)) is 1 there.
  - C(sloppy_tcp) (default 0) 1 lets IPVS take over a TCP connection on any packet, not only a SYN. Useful on a standby with
    C(sync_persist_mode=1) or when connections may not have been synced yet.
  - C(sync_threshold) (default C(3 50)) and C(sync_refresh_period) decide how often a connection is sent again; C(sync_ports)
    (default 1) is the number of sync threads and must be the same on both directors.
  - Use the same O(sync_id), O(group) and O(port) on both directors of a pair, and a different O(sync_id) per pair on a shared
    segment. O(max_length) of the backup must be at least that of the master.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.ALL
  - lvs.ipvs._netns
options:
  role:
    description:
      - Which daemon of the namespace the task manages. V(master) sends the director's connections, V(backup) receives them.
    type: str
    required: true
    choices: [master, backup]
  state:
    description:
      - V(started) makes the daemon run with these options (starting it, or restarting it when its options differ).
      - V(stopped) stops it; the other options are then ignored.
    type: str
    default: started
    choices: [started, stopped]
  interface:
    description:
      - The interface the master sends its multicast out of, or the backup listens on (C(--mcast-interface)).
      - Required with O(state=started). It must exist in the namespace. The master sends from the interface's IPv4 address, so give
        the interface one (a dedicated link between the directors is best).
    type: str
  sync_id:
    description:
      - The synchronisation id (C(--syncid)), 0 to 255. The master stamps its messages with it; a backup with a sync id other than 0
        ignores messages with another one, a backup with 0 accepts every message.
    type: int
    default: 0
  max_length:
    description:
      - Maximum length of a sync message's UDP payload (C(--sync-maxlen)).
      - From 1 (master) or 1024 (backup) to 65507 (65487 with an IPv6 O(group)).
      - When unset the kernel chooses (the master 1472, the backup the interface's MTU minus 28 bytes, at least 1472) and the module
        accepts whatever a running daemon has.
    type: int
  group:
    description:
      - The multicast group (C(--mcast-group)), IPv4 or IPv6; the kernel's default 224.0.0.81 is link-local, so the messages stay on
        the directors' segment.
    type: str
    default: 224.0.0.81
  port:
    description: The UDP port of the sync messages (C(--mcast-port)), 1 to 65535.
    type: int
    default: 8848
  ttl:
    description: The multicast TTL (C(--mcast-ttl)), 1 to 255; 1 keeps the messages on the segment.
    type: int
    default: 1
notes:
  - The module compares the running daemon with every option, max_length only when it is given; the kernel fills in the defaults
    documented here, so an option left unset means its default.
  - Kernels before 4.3 neither accept nor report O(max_length), O(group), O(port) and O(ttl); there they are not compared.
  - A kernel refuses to start a daemon while a service has real servers of the other address family (IPv4 service, IPv6 real server).
seealso:
  - module: lvs.ipvs.ipvs_info
  - module: lvs.ipvs.ipvs_service
"""

EXAMPLES = r"""
- name: Active director - send connections and templates over the HA link
  lvs.ipvs.ipvs_sync_daemon:
    role: master
    interface: ha0
    sync_id: 10

- name: Standby director - receive them
  lvs.ipvs.ipvs_sync_daemon:
    role: backup
    interface: ha0
    sync_id: 10

- name: Both directors run both daemons, each backs up the other (keepalived's lvs_sync_daemon style)
  lvs.ipvs.ipvs_sync_daemon:
    role: "{{ item }}"
    interface: ha0
    sync_id: 10
    group: 239.255.81.1
  loop: [master, backup]

- name: No more synchronisation
  lvs.ipvs.ipvs_sync_daemon:
    role: backup
    state: stopped
"""

RETURN = r"""
before:
  description: The daemon of this role before the run, in this module's option names (only role and state when it was stopped).
  returned: always
  type: dict
  sample: {"role": "backup", "state": "stopped"}
after:
  description: The daemon of this role after the run (in check mode, as it would be; max_length as the kernel will choose it is unknown then).
  returned: always
  type: dict
  sample: {"role": "backup", "state": "started", "interface": "ha0", "sync_id": 10, "max_length": 1472,
           "group": "224.0.0.81", "port": 8848, "ttl": 1}
commands:
  description: What was sent (or would be), as C(ipvsadm) command lines.
  returned: always
  type: list
  elements: str
  sample: ["--start-daemon backup --mcast-interface ha0 --syncid 10 --mcast-group 224.0.0.81 --mcast-port 8848 --mcast-ttl 1"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_sync_daemon_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon_task import run_sync_daemon


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **ipvs_sync_daemon_spec())
    run_sync_daemon(module)


if __name__ == "__main__":
    main()
