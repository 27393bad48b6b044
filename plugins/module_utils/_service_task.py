# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_service and ipvs_real_server: one service (and its pool, or one of its real servers)."""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils import _check_mode
from ansible_collections.lvs.ipvs.plugins.module_utils._drain import wait_until_drained
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import Result, commit_table, read_table, real_server_result, run, service_result
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError, TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import in_range
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import Kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    RealServer,
    Service,
    real_server_from_params,
    real_servers_from_params,
    render_address_port,
    service_from_params,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import make_table, plan_real_server, plan_service
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import service_switch

# Options that name a service; the rest of a service's options are ignored when it is only looked up.
KEY_OPTIONS = ("protocol", "address", "port", "fwmark", "family")


def _service_key_only(params: t.Mapping[str, t.Any]) -> Service:
    """The service named by the key options (for ipvs_real_server and state=absent): no persistence rules apply."""
    return service_from_params(dict({name: params.get(name) for name in KEY_OPTIONS}, state="absent"))


def run_service(module: AnsibleModule) -> None:
    params = module.params

    def prepare() -> t.Callable[[Kernel], Result]:
        present = params["state"] == "present"
        want = service_from_params(params) if present else _service_key_only(params)
        want_servers: t.Optional[t.List[RealServer]] = None
        absent_servers: t.List[RealServer] = []
        if present and params["real_servers"] is not None:
            want_servers, absent_servers = real_servers_from_params(params["real_servers"], want)

        def work(kernel: Kernel) -> Result:
            have = read_table(kernel, lambda service: service.key == want.key, [(want, want_servers)])
            have_service, have_servers = have.get(want.key, (None, []))
            operations = plan_service(want if present else None, have_service, want_servers, have_servers,
                                      absent_servers=absent_servers, purge_real_servers=params["purge_real_servers"])
            result, after = commit_table(module, kernel, have, operations, keys={want.key})
            after_service, after_servers = after.get(want.key, (None, []))
            result["service"] = service_result(after_service)
            result["real_servers"] = [real_server_result(r) for r in after_servers]
            return result

        return work

    run(module, prepare)


def run_real_server(module: AnsibleModule) -> None:
    params = module.params
    drain: t.Dict[str, t.Any] = {}

    def prepare() -> t.Callable[[Kernel], Result]:
        service = _service_key_only(params)
        wanted = real_server_from_params(params, service)
        if params["wait_drained"] and params["state"] != "drained":
            raise OptionError("wait_drained", f"applies only to state=drained, not {params['state']}; accepted: true with state=drained, else false")
        accepted = "drain_timeout 0 or more seconds, drain_poll_interval 0.1 to 3600"
        in_range("drain_timeout", params["drain_timeout"], 0, None, accepted)
        in_range("drain_poll_interval", params["drain_poll_interval"], 0.1, 3600.0, accepted)

        def work(kernel: Kernel) -> Result:
            assumed: t.Set[t.Tuple[t.Any, ...]] = set()
            have = read_table(kernel, lambda found: found.key == service.key)
            if service.key not in have:
                missing = f"the virtual service {service_switch(service)} does not exist"
                if params["state"] == "absent":
                    module.warn(f"{missing}, so neither does its real server {render_address_port(*wanted.key)}: nothing to remove")
                    return {"changed": False, "commands": [], "real_server": None}
                if not module.check_mode:
                    raise TaskError(f"{missing}: create it first with lvs.ipvs.ipvs_service (an earlier task of the play)")
                # Check mode: the task that creates the service was only checked. The real server's commands name the
                # service by its key alone, which is all this task knows of it.
                _check_mode.assume(module.warn, missing)
                have = make_table([(service, [])])
                assumed.add(service.key)
            have_service, have_servers = have[service.key]
            current = next((r for r in have_servers if r.key == wanted.key), None)
            operations = plan_real_server(have_service, None if params["state"] == "absent" else wanted, current)
            result, after = commit_table(module, kernel, have, operations, keys={service.key}, assumed=assumed)
            result["real_server"] = real_server_result(next((r for r in after[service.key][1] if r.key == wanted.key), None))
            drain.update(service=have_service, real_server=wanted)
            return result

        return work

    def finish(result: Result) -> Result:
        # Outside the table lock: a drain can take minutes.
        if params["wait_drained"] and not module.check_mode and drain:
            result["drain"] = wait_until_drained(params["netns"], drain["service"], drain["real_server"], params["drain_timeout"],
                                                 params["drain_poll_interval"])
        return result

    run(module, prepare, finish=finish)
