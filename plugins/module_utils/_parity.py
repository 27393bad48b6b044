# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Parity of the two directors of a pair ("here" and "the peer"): what a failover from one to the other would lose.

Pure comparisons of model objects, each giving sentences that name the service (in ipvsadm's words, `-t 198.51.100.1:80`),
the real server, the field and its value on each side:

- the tables: the services, their fields, their real-server sets and every real server's field. The weights of
  health-checked services are keepalived's runtime state: they are reported apart (runtime_weights), never a difference.
- the sync daemons, both ways: a master on each side whose messages the other side's backup takes (sync id, group, port).
- the persistence templates of the services both have: a template of the peer that is missing here, or that pins its
  client to another real server here (a conflict), is a client that a failover to here would move. They are counted and
  sampled in `templates`, not in `differences` (which speaks of the tables and the sync daemons).
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._drain import is_live, template_virtual, template_virtuals
from ansible_collections.lvs.ipvs.plugins.module_utils._health import shown
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    SERVER_FIELDS,
    SERVICE_FIELDS,
    RealServer,
    Service,
    real_server_sort_key,
    render_address_port,
    service_sort_key,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Table
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import service_switch
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import SyncDaemon

# At most this many sample lines of templates in the result.
SAMPLES = 10
# A template that expires within this many seconds may be gone by the time the other side is read: not counted.
EXPIRING = 30

Template = t.Mapping[str, t.Any]


@dataclasses.dataclass
class Side:
    """What one director holds: its table, its persistence templates (None: not read) and its running sync daemons."""

    table: Table
    templates: t.Optional[t.Sequence[Template]]
    daemons: t.Sequence[SyncDaemon]


# ------------------------------------------------------------------ tables


def _fields(before: str, here: t.Any, peer: t.Any, fields: t.Sequence[str]) -> t.List[str]:
    return [f"{before}: {name} is {shown(getattr(here, name))} here, {shown(getattr(peer, name))} on the peer"
            for name in fields if getattr(here, name) != getattr(peer, name)]


def _one_side(what: str, on_here: bool) -> str:
    return f"{what} is here but not on the peer" if on_here else f"{what} is on the peer but not here"


def compare_pools(service: Service, here: t.Sequence[RealServer], peer: t.Sequence[RealServer],
                  checked: bool) -> t.Tuple[t.List[str], t.List[t.Dict[str, t.Any]]]:
    """The differences of two pools of `service`, and (when `checked`: keepalived owns the weights) the weights that differ."""
    name = f"service {service_switch(service)}"
    mine = {server.key: server for server in here}
    theirs = {server.key: server for server in peer}
    differences: t.List[str] = []
    weights: t.List[t.Dict[str, t.Any]] = []
    for key in sorted(mine.keys() | theirs.keys(), key=lambda key: real_server_sort_key(mine.get(key) or theirs[key])):
        server = f"real server {render_address_port(*key)}"
        if key not in mine or key not in theirs:
            differences.append(f"{name}: {_one_side(server, key in mine)}")
            continue
        ours, other = mine[key], theirs[key]
        differences += _fields(f"{name}: {server}", ours, other, SERVER_FIELDS)
        if ours.weight != other.weight:
            if checked:
                weights.append({"service": service_switch(service), "server": render_address_port(*key), "here": ours.weight, "peer": other.weight})
            else:
                differences += _fields(f"{name}: {server}", ours, other, ("weight",))
    return differences, weights


def compare_tables(here: Table, peer: Table, checked: t.Callable[[Service], bool]) -> t.Tuple[t.List[str], t.List[t.Dict[str, t.Any]]]:
    """(differences, runtime_weights) of two tables, in ipvsadm's order; `checked` says which services are health-checked."""
    differences: t.List[str] = []
    weights: t.List[t.Dict[str, t.Any]] = []
    for key in sorted(here.keys() | peer.keys(), key=lambda key: service_sort_key((here.get(key) or peer[key])[0])):
        if key not in here or key not in peer:
            service = (here.get(key) or peer[key])[0]
            differences.append(_one_side(f"service {service_switch(service)}", key in here))
            continue
        (service, servers), (other, other_servers) = here[key], peer[key]
        differences += _fields(f"service {service_switch(service)}", service, other, SERVICE_FIELDS)
        pool_differences, pool_weights = compare_pools(service, servers, other_servers, checked(service))
        differences += pool_differences
        weights += pool_weights
    return differences, weights


# ------------------------------------------------------------------ sync daemons


def _role(daemons: t.Sequence[SyncDaemon], role: str) -> t.Optional[SyncDaemon]:
    return next((daemon for daemon in daemons if daemon.role == role), None)


def _one_way(senders: t.Sequence[SyncDaemon], receivers: t.Sequence[SyncDaemon], sender: str, receiver: str, reached: str) -> t.List[str]:
    """Whether the master on one side (`sender`: "here") reaches the backup on the other (`receiver`: "on the peer", which
    is `reached`: "the peer")."""
    master, backup = _role(senders, "master"), _role(receivers, "backup")
    lost = f"so the templates made {sender} do not reach {reached}"
    sentences = []
    if master is None:
        sentences.append(f"sync daemons: no master sync daemon runs {sender}, {lost}")
    if backup is None:
        sentences.append(f"sync daemons: no backup sync daemon runs {receiver}, {lost}")
    if master is None or backup is None:
        return sentences
    # A backup with sync id 0 takes every sync id.
    if backup.sync_id and master.sync_id != backup.sync_id:
        sentences.append(f"sync daemons: the master {sender} sends sync id {shown(master.sync_id)}, the backup {receiver} takes sync id "
                         f"{backup.sync_id} only, {lost}")
    # Unreported by an old kernel (None): cannot differ.
    for option in ("group", "port"):
        mine, theirs = getattr(master, option), getattr(backup, option)
        if mine is not None and theirs is not None and mine != theirs:
            sentences.append(f"sync daemons: the master {sender} sends to {option} {mine}, the backup {receiver} listens on {option} {theirs}, {lost}")
    return sentences


def compare_daemons(here: t.Sequence[SyncDaemon], peer: t.Sequence[SyncDaemon]) -> t.List[str]:
    """The sentences that stop the sync from going both ways (here to the peer, and the peer to here); none when it does."""
    return _one_way(here, peer, "here", "on the peer", "the peer") + _one_way(peer, here, "on the peer", "here", "this director")


# ------------------------------------------------------------------ persistence templates


def _identity(template: Template) -> t.Tuple[t.Any, ...]:
    """Which client of which service a template pins (the real server is what it pins it to)."""
    return template_virtual(template) + (template["client"], template.get("persistence_data"))


def _pinned(template: Template) -> str:
    return render_address_port(template["real_server"], template["real_server_port"])


def _described(template: Template) -> str:
    """`template TCP 203.0.113.10 -> 198.51.100.1:80`, `template IP 203.0.113.10 -> fwmark 8` (the words of ipvsadm -Lnc)."""
    virtual = render_address_port(template["virtual"], template["virtual_port"]) if template.get("fwmark") is None else f"fwmark {template['fwmark']}"
    return f"template {template['protocol'].upper()} {template['client']} -> {virtual}"


def _shared(templates: t.Sequence[Template], virtuals: t.Collection[t.Any], lasting: bool) -> t.Dict[t.Tuple[t.Any, ...], Template]:
    """The live templates of the services in `virtuals`, by identity; with `lasting`, only those that do not expire soon."""
    return {_identity(template): template for template in templates
            if is_live(template) and template_virtual(template) in virtuals and (not lasting or template["expires"] > EXPIRING)}


def compare_templates(here: Side, peer: Side) -> t.Dict[str, t.Any]:
    """The `templates` result: the live templates of the peer for services both sides have that are missing here or pin
    their client to another real server here (a conflict), with up to SAMPLES of them as sentences; and, counted only,
    those of here missing on the peer (the other direction is the other director's run)."""
    counts: t.Dict[str, t.Any] = {"compared": here.templates is not None and peer.templates is not None,
                                  "here": None if here.templates is None else len(here.templates),
                                  "peer": None if peer.templates is None else len(peer.templates),
                                  "missing_here": 0, "missing_on_peer": 0, "conflicts": 0, "samples": []}
    if here.templates is None or peer.templates is None:
        return counts
    virtuals = {virtual for key in here.table.keys() & peer.table.keys() for virtual in template_virtuals(here.table[key][0])}
    mine, theirs = _shared(here.templates, virtuals, False), _shared(peer.templates, virtuals, True)
    conflicts, missing_here = [], []
    for identity, template in sorted(theirs.items(), key=lambda item: str(item[0])):
        found = mine.get(identity)
        if found is None:
            missing_here.append(f"{_described(template)}: real server {_pinned(template)} on the peer, missing here")
        elif (found["real_server"], found["real_server_port"]) != (template["real_server"], template["real_server_port"]):
            conflicts.append(f"{_described(template)}: real server {_pinned(found)} here, {_pinned(template)} on the peer")
    all_theirs = _shared(peer.templates, virtuals, False)
    missing_on_peer = [identity for identity in _shared(here.templates, virtuals, True) if identity not in all_theirs]
    counts.update(missing_here=len(missing_here), missing_on_peer=len(missing_on_peer), conflicts=len(conflicts),
                  samples=(conflicts + missing_here)[:SAMPLES])
    return counts


# ------------------------------------------------------------------ the verdict


def compare(here: Side, peer: Side, checked: t.Callable[[Service], bool]) -> t.Dict[str, t.Any]:
    """The result of ipvs_parity. `differences` holds the sentences of the tables and the sync daemons (empty exactly when
    table_equal and sync_daemons.both_ways); the templates speak in `templates` (samples empty exactly when templates_ok);
    parity is all three."""
    table_differences, runtime_weights = compare_tables(here.table, peer.table, checked)
    daemon_differences = compare_daemons(here.daemons, peer.daemons)
    templates = compare_templates(here, peer)
    templates_ok = templates["missing_here"] == 0 and templates["conflicts"] == 0
    return {
        "changed": False,
        "parity": not table_differences and not daemon_differences and templates_ok,
        "table_equal": not table_differences,
        "templates_ok": templates_ok,
        "differences": table_differences + daemon_differences,
        "runtime_weights": runtime_weights,
        "sync_daemons": {"here": [daemon.options() for daemon in here.daemons], "peer": [daemon.options() for daemon in peer.daemons],
                         "both_ways": not daemon_differences},
        "templates": templates,
    }
