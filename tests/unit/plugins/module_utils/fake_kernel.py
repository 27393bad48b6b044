# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one fake kernel of the unit tests: _kernel.Kernel over a table of model objects, timeouts and sync daemons.

It takes the engine's changes as the kernel would: EEXIST for an add of something there, ESRCH / ENOENT for an edit or
delete of something missing, the kernel's defaults for what a daemon start leaves out; and it refuses what a test
asks it to (`refuse`: command -> errno, or a function of the change). `sent` records every batch sent. The fixture
`kernel` (conftest.py) puts one in place of the netlink client for a module's main(), and the lock file under
the test's own directory; run_main() runs a module's main() and gives its result.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import typing as t

from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_client, _kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import command
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import real_server_to_kernel, service_to_kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation, make_table, table_after
from ansible_collections.lvs.ipvs.plugins.module_utils._sync_daemon import DaemonOperation
from ansible_collections.lvs.ipvs.plugins.module_utils._timeouts import TimeoutsOperation

# What the kernel fills in for a daemon start that leaves it out (max_length: from a 1500-byte MTU).
DAEMON_DEFAULTS = {"sync_id": 0, "sync_maxlen": 1472, "mcast_group": "224.0.0.81", "mcast_port": 8848, "mcast_ttl": 1}


class FakeKernel:
    """_kernel.Kernel, in memory."""

    def __init__(self, table=None, *, timeouts=None, daemons=(), counters=None, refuse=None, batch_size=64, fail_on_open=None,
                 lose_batch=None, info=None, connections=(), sysctls=None):
        self.table = make_table(table.values() if isinstance(table, dict) else table or [])
        self.timeouts_ = dict(timeouts or _kernel.NEW_TABLE_TIMEOUTS)
        self.daemons_ = {daemon["state"]: dict(daemon) for daemon in daemons}
        # service key -> (service counters, real server key -> counters), as read_table gives them.
        self.counters = counters or {}
        self.refuse = refuse or {}
        self.batch_size = batch_size
        self.fail_on_open = fail_on_open
        self.lose_batch = lose_batch
        self.info_ = info or {"version": "1.2.1", "conn_tab_size": 4096}
        self.connections_ = list(connections)
        self.sysctls_ = dict(_kernel.NEW_TABLE_SYSCTLS, **(sysctls or {}))
        self.sent: t.List[t.List[t.Any]] = []
        self.opened: t.List[t.Optional[str]] = []

    # ---------------------------------------------------------------- opening (what _kernel.connect does)

    @contextlib.contextmanager
    def connect(self, netns):
        if self.fail_on_open is not None:
            raise self.fail_on_open(netns)
        self.opened.append(netns)
        yield self

    # ---------------------------------------------------------------- reading

    def service_rows(self, counters=False):
        rows = []
        for key, (service, _servers) in self.table.items():
            kernel = service_to_kernel(service)
            found = self.counters.get(key, ({"stats": {}}, {}))[0] if counters else None
            rows.append((tuple(kernel[name] for name in _kernel.SERVICE_KEYS), found))
        return rows

    def _entry(self, service_dict):
        row = tuple(service_dict[name] for name in _kernel.SERVICE_KEYS)
        for key, (service, servers) in self.table.items():
            kernel = service_to_kernel(service)
            if tuple(kernel[name] for name in _kernel.SERVICE_KEYS) == row:
                return key, service, servers
        raise _ipvs_client.kernel_error(errno.ESRCH)

    def dest_rows(self, service, counters=False):
        key, found, servers = self._entry(service)
        pool_counters = self.counters.get(key, (None, {}))[1]
        return [(_kernel.dest_row(real_server_to_kernel(server, found)), pool_counters.get(server.key, {"stats": {}}) if counters else None)
                for server in servers]

    def dests(self, service, stats=True):
        key, found, servers = self._entry(service)
        pool_counters = self.counters.get(key, (None, {}))[1]
        entries = []
        for server in servers:
            entry = dict(real_server_to_kernel(server, found), **pool_counters.get(server.key, {}))
            if not stats:
                entry.pop("stats", None)
            entries.append(entry)
        return entries

    def timeouts(self):
        return dict(self.timeouts_)

    def daemons(self):
        return [dict(daemon) for daemon in self.daemons_.values()]

    def info(self):
        return dict(self.info_)

    def connections(self):
        return [dict(entry) for entry in self.connections_]

    def sysctls(self, names):
        return {name: self.sysctls_.get(name) for name in names}

    # ---------------------------------------------------------------- changing

    def send_batch(self, changes):
        if self.lose_batch is not None and len(self.sent) == self.lose_batch:
            raise IpvsError("the kernel did not answer a netlink request in time")
        self.sent.append(list(changes))
        results = []
        for change in changes:
            code = self._refused(change)
            if code is None:
                code = self._take(change)
            results.append(None if code is None else _ipvs_client.kernel_error(code, _kernel.change_request(change)))
        return results

    @property
    def commands(self):
        """Every command sent, in order."""
        return [command(change) for batch in self.sent for change in batch]

    def _refused(self, change):
        if callable(self.refuse):
            return self.refuse(change)
        return self.refuse.get(command(change))

    def _take(self, change):
        if isinstance(change, TimeoutsOperation):
            self.timeouts_.update(change.timeouts.given())
            return None
        if isinstance(change, DaemonOperation):
            role = change.daemon.role
            if change.action == "stop":
                return None if self.daemons_.pop(role, None) is not None else errno.ESRCH
            if role in self.daemons_:
                return errno.EEXIST
            self.daemons_[role] = dict(DAEMON_DEFAULTS, **change.daemon.to_kernel())
            return None
        code = self._table_error(change)
        if code is None:
            self.table = table_after(self.table, [change])
        return code

    def _table_error(self, operation: Operation):
        key = operation.service.key
        present = key in self.table
        if operation.action == "add_service":
            return errno.EEXIST if present else None
        if operation.action.endswith("_service") or not present:
            return None if present else errno.ESRCH
        there = operation.real_server.key in {server.key for server in self.table[key][1]}
        if operation.action == "add_real_server":
            return errno.EEXIST if there else None
        return None if there else errno.ENOENT


def run_main(module: t.Any, args: t.Dict[str, t.Any], check: bool = False, diff: bool = True) -> t.Dict[str, t.Any]:
    """A module's main() on `args`, as Ansible runs it on a node (one module run per process): the result it printed."""
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    out = io.StringIO()
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=diff)), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
        else:
            raise AssertionError(f"{module.__name__}.main() returned without exit_json or fail_json")
    return t.cast(t.Dict[str, t.Any], json.loads(out.getvalue().strip().splitlines()[-1]))


def warnings(result: t.Dict[str, t.Any]) -> t.List[str]:
    """The texts of a module result's warnings (ansible-core 2.19 gives each as a dict with its event)."""
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]
