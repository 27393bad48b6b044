# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Risky combinations a module can see in the table it leaves and the IPVS sysctls of its namespace: warnings, never errors.

- A persistent service with a real server at weight 0 (drained, or quiesced by a failed health check) while
  net.ipv4.vs.expire_quiescent_template is 0: the clients pinned to that real server keep going to it until their
  template expires.
- A sh or mh service without its fallback flag while a real server is at weight 0 (or may be put there by a health
  check): the clients hashed to it are sent nowhere.
- net.ipv4.vs.sync_persist_mode=1 (only templates are synced) without sloppy_tcp: after a failover the new director has
  no entry for the connections in flight and drops their next packets.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._model import RealServer, Service, render_address_port
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import service_switch

Table = t.Mapping[t.Tuple[t.Any, ...], t.Tuple[Service, t.Sequence[RealServer]]]

# The sysctls under net.ipv4.vs that the checks read.
SYSCTLS = ("expire_quiescent_template", "sync_persist_mode", "sloppy_tcp")
FALLBACK_FLAGS = {"sh": "sh-fallback", "mh": "mh-fallback"}


def risks(table: Table, sysctls: t.Mapping[str, t.Optional[int]], quiescing: t.Collection[t.Tuple[t.Any, ...]] = ()) -> t.List[str]:
    """The warnings for `table` (the services a task touched, as it leaves them) under `sysctls`.

    `quiescing`: keys of services whose real servers a health check puts at weight 0 when they fail (on_failure quiesce).
    A sysctl that could not be read (None) raises no warning.
    """
    found: t.List[str] = []
    persistent = False
    for key, (service, servers) in sorted(table.items(), key=lambda item: service_switch(item[1][0])):
        idle = [render_address_port(*server.key) for server in servers if server.weight == 0]
        by_check = key in quiescing
        if service.persistence_timeout is not None:
            persistent = True
            if (idle or by_check) and sysctls.get("expire_quiescent_template") == 0:
                who = f"its real servers at weight 0 ({', '.join(idle)})" if idle else "a real server its health check quiesces"
                found.append(f"{service_switch(service)} is persistent and net.ipv4.vs.expire_quiescent_template is 0: {who} keep the "
                             f"clients pinned to them for up to {service.persistence_timeout} s after their last connection; set it to 1 "
                             "(the director role's director_expire_quiescent_template) to move a pinned client on its next connection")
        fallback = FALLBACK_FLAGS.get(service.scheduler)
        if fallback and fallback not in service.scheduler_flags and (idle or by_check):
            who = f"{', '.join(idle)} at weight 0" if idle else "a real server its health check quiesces (weight 0)"
            found.append(f"{service_switch(service)} uses the {service.scheduler} scheduler without {fallback}: the clients hashed to {who} "
                         f"are sent nowhere; add {fallback} to scheduler_flags")
    if persistent and sysctls.get("sync_persist_mode") == 1 and sysctls.get("sloppy_tcp") == 0:
        found.append("net.ipv4.vs.sync_persist_mode is 1 (the sync daemon sends templates only) and net.ipv4.vs.sloppy_tcp is 0: after a "
                     "failover the new director has no entry for the connections in flight and drops their packets; set sloppy_tcp to 1 "
                     "(the director_ha role does)")
    return found
