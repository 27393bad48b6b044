# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""ipvs_table: the whole table, or the part `restrict` gives the task, in one read, one plan, one pipelined apply.

The shape of the ansible.netcommon resource modules: `config` is a list of services (each with its
real_servers, in the options of ipvs_service), `state` says what the list means, and the result
carries `before`, `commands` and `after`.

Built for tables of thousands of services, where Ansible's per-task process and per-object code
dominate. Every per-object step is kept to a few microseconds: the entries are checked against the
argument spec here (fast for the common case, Ansible's own validator for anything unusual), the
validation of identical real-server entries is done once, and the engine (_engine) reads the kernel
with one service dump and one raw dest dump per service and pipelines the changes.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import table_service_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._engine import Result, commit, diff_of, read_table, run, undo_table, warn_risks
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError, TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import MAX_FWMARK, in_range
from ansible_collections.lvs.ipvs.plugins.module_utils._health import HealthCheck, check_pool, health_check_from_params, runtime_state
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvsadm_parser import parse_with_lines
from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import render_virtual_servers
from ansible_collections.lvs.ipvs.plugins.module_utils._kernel import Kernel
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    RealServer,
    Service,
    real_server_from_params,
    real_server_sort_key,
    render_address_port,
    service_from_params,
    service_sort_key,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import Operation, Table, make_table, plan_table, table_after
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render_service_table, service_switch

CHANGE_STATES = ("merged", "replaced", "overridden", "deleted")
KEY_OPTIONS = ("protocol", "address", "port", "fwmark", "family")

# ------------------------------------------------------------------ checking entries against the argument spec
#
# Why not Ansible's suboption validation: it costs about 35 microseconds an entry on a fast machine,
# 0.4 s for 1,000 services of 10 real servers and about ten times more in the emulated lab, more
# than `ipvsadm -R` needs for the whole table. So `config` is a plain list of dicts in the argument
# spec (its suboptions are documented, and a unit test keeps the documentation equal to
# table_service_spec()), and each entry is checked here against table_service_spec(): entries whose
# values already have the right types and valid choices (what YAML gives) take a fast path with
# the same result; anything else (conversions, explicit nulls, bad values) goes to Ansible's own
# ArgumentSpecValidator, so the outcome is Ansible's in every case.


class EntryChecker:
    """Ansible's validation of one dict against an argument spec (nested `options` included), fast for plain input."""

    def __init__(self, spec: t.Mapping[str, t.Mapping[str, t.Any]]) -> None:
        self.spec = spec
        self.names = tuple(spec)
        self.template = {name: option.get("default") for name, option in spec.items()}
        self.kinds = {
            name: (option.get("type", "str"), option.get("elements"), frozenset(option["choices"]) if option.get("choices") else None)
            for name, option in spec.items()
        }
        self.required = tuple(name for name, option in spec.items() if option.get("required"))
        self.children = {name: EntryChecker(option["options"]) for name, option in spec.items() if option.get("options")}
        self.dicts = tuple(name for name in self.children if spec[name].get("type") == "dict")
        self._validator: t.Optional[ArgumentSpecValidator] = None

    def check(self, entry: t.Any, where: str, children: bool = True) -> t.Dict[str, t.Any]:
        """The entry with every option present (defaults applied, unset ones None); OptionError naming `where`.

        Nested dicts (such as health_check) are checked too. children=False leaves the entries of nested lists
        (such as real_servers) to the caller: each is then a dict, not yet checked against its own options (unless
        Ansible's validator took the entry).
        """
        if type(entry) is not dict:  # pylint: disable=unidiomatic-typecheck
            return self._ansible(entry, where)
        for name in self.dicts:
            value = entry.get(name)
            if value is not None and not isinstance(value, (dict, str)):
                # ansible-core 2.19's validator raises TypeError on a dict option with suboptions given a number, a bool or a list.
                raise OptionError(f"{where}.{name}", f"{value!r} is not a dictionary; accepted: a dictionary of the options "
                                  f"{', '.join(self.children[name].names)}")
        kinds = self.kinds
        for name, value in entry.items():
            kind = kinds.get(name)
            if kind is None:
                raise OptionError(f"{where}.{name}", f"is not an option here; accepted: {', '.join(self.names)}")
            if not _plain(value, kind, self.template[name]):
                return self._ansible(entry, where)
        for name in self.required:
            if name not in entry:
                choices = self.kinds[name][2]
                accepted = f"; accepted: {', '.join(sorted(choices))}" if choices else ""
                raise OptionError(f"{where}.{name}", f"missing: it is required{accepted}")
            if entry[name] is None:
                return self._ansible(entry, where)
        result = dict(self.template)
        result.update(entry)
        for name, child in self.children.items():
            value = result[name]
            if value is None:
                continue
            if self.kinds[name][0] == "dict":
                result[name] = child.check(value, f"{where}.{name}")
            elif children:
                result[name] = [child.check(item, f"{where}.{name}[{index}]") for index, item in enumerate(value)]
        return result

    def _ansible(self, entry: t.Any, where: str) -> t.Dict[str, t.Any]:
        if not isinstance(entry, dict):
            raise OptionError(where, f"{entry!r} is not a dictionary; accepted: a dictionary of the options {', '.join(self.names)}")
        if self._validator is None:
            self._validator = ArgumentSpecValidator(dict(self.spec))
        outcome = self._validator.validate(dict(entry))
        if outcome.error_messages:
            raise OptionError(where, "; ".join(outcome.error_messages))
        validated = t.cast(t.Dict[str, t.Any], outcome.validated_parameters)
        # Ansible's validator fills every unset suboption of nested entries with None; those entries are checked
        # again by their own checker, which must see them as the user gave them (an explicit null is an error).
        # (A nested dict, health_check, is not checked again: it is Ansible's outcome as it is.)
        for name in self.children:
            if self.kinds[name][0] == "list" and validated.get(name):
                validated[name] = [{key: value for key, value in item.items() if value is not None} if isinstance(item, dict) else item
                                   for item in validated[name]]
        return validated


def _plain(value: t.Any, kind: t.Tuple[str, t.Optional[str], t.Optional[t.FrozenSet[t.Any]]], default: t.Any) -> bool:
    """Whether Ansible would take `value` as it is (no conversion, no default, a valid choice)."""
    wanted, elements, choices = kind
    if value is None:
        # Ansible 2.19 refuses an explicit null for an option with choices: let it say so.
        return default is None and choices is None
    if wanted == "list":
        if type(value) is not list:  # pylint: disable=unidiomatic-typecheck
            return False
        if elements == "dict":
            return all(type(item) is dict for item in value)  # pylint: disable=unidiomatic-typecheck
        if elements in _EXACT_TYPES:
            exact = _EXACT_TYPES[elements]
            same = all(type(item) is exact for item in value)  # pylint: disable=unidiomatic-typecheck
            return same and (choices is None or all(item in choices for item in value))
        return False
    scalar = _EXACT_TYPES.get(wanted)
    return scalar is not None and type(value) is scalar and (choices is None or value in choices)  # pylint: disable=unidiomatic-typecheck


_EXACT_TYPES: t.Dict[str, type] = {"str": str, "int": int, "bool": bool, "dict": dict}
_SERVICE_CHECKER: t.List[EntryChecker] = []


def service_checker() -> EntryChecker:
    if not _SERVICE_CHECKER:
        _SERVICE_CHECKER.append(EntryChecker(table_service_spec()))
    return _SERVICE_CHECKER[0]


# ------------------------------------------------------------------ config -> declared services


@dataclasses.dataclass
class Declared:
    """One validated config entry: the service, its real servers (None: not given), the real servers to remove, and its
    health check (None: module-owned; else keepalived-owned, never written by this module)."""

    label: str
    service: Service
    servers: t.Optional[t.List[RealServer]]
    absent: t.List[RealServer]
    health: t.Optional[HealthCheck] = None


def declare(config: t.Optional[t.Sequence[t.Any]], *, key_only: bool = False,
            labels: t.Optional[t.Sequence[str]] = None) -> t.List[Declared]:
    """Validate every entry (checker, then the model) before anything else; OptionError names e.g. config[3].real_servers[1].weight.

    key_only (state=deleted): only the options naming a service count. `labels` names the entries
    in errors instead of config[N] (parsed text names its lines).
    """
    checker = service_checker()
    declared: t.List[Declared] = []
    seen: t.Dict[t.Tuple[t.Any, ...], str] = {}
    memo: t.Dict[t.Any, t.Tuple[RealServer, bool]] = {}
    for index, entry in enumerate(config or ()):
        label = labels[index] if labels is not None else f"config[{index}]"
        params = checker.check(entry, label, children=False)
        try:
            if key_only:
                service = service_from_params(dict({name: params.get(name) for name in KEY_OPTIONS}, state="absent"))
            else:
                service = service_from_params(params)
        except OptionError as exc:
            raise OptionError(f"{label}.{exc.option}", exc.message) from None
        if service.key in seen:
            raise OptionError(label, f"the service {service_switch(service)} is listed twice ({seen[service.key]} and {label}); accepted: each service once")
        seen[service.key] = label
        servers: t.Optional[t.List[RealServer]] = None
        absent: t.List[RealServer] = []
        if not key_only and params.get("real_servers") is not None:
            servers, absent = _real_servers(params["real_servers"], service, label, checker.children["real_servers"], memo)
        health = _health_check(params["health_check"], service, servers or [], label) if not key_only and params.get("health_check") else None
        declared.append(Declared(label, service, servers, absent, health))
    return declared


def _health_check(params: t.Mapping[str, t.Any], service: Service, servers: t.Sequence[RealServer], label: str) -> HealthCheck:
    """The entry's health check, and its pool as keepalived accepts it; OptionError names e.g. config[3].health_check.interval."""
    try:
        check = health_check_from_params(params, service)
    except OptionError as exc:
        raise OptionError(f"{label}.health_check.{exc.option}", exc.message) from None
    try:
        check_pool(check, service, servers)
    except OptionError as exc:
        raise OptionError(f"{label}.{exc.option}", exc.message) from None
    return check


def _real_servers(entries: t.Sequence[t.Mapping[str, t.Any]], service: Service, label: str, checker: EntryChecker,
                  memo: t.Dict[t.Any, t.Tuple[RealServer, bool]]) -> t.Tuple[t.List[RealServer], t.List[RealServer]]:
    """_model.real_servers_from_params for entries not checked yet, each distinct entry checked and validated once per task.

    Big tables repeat their pools: the same real server entry under many services of the same
    family and port gives the same RealServer, so it is looked up instead of validated again.
    """
    present: t.List[RealServer] = []
    absent: t.List[RealServer] = []
    seen: t.Dict[t.Tuple[str, int], int] = {}
    # What real_server_from_params reads of the service: its family, whether it is a fwmark service, its port.
    context = (service.family, service.fwmark is None, service.port)
    for index, entry in enumerate(entries):
        try:
            key: t.Any = (context, tuple(entry.items()))
            known = memo.get(key)
        except TypeError:  # an unhashable value (a list where a string belongs): no shortcut
            key = known = None
        if known is None:
            where = f"{label}.real_servers[{index}]"
            params = checker.check(entry, where)
            try:
                known = (real_server_from_params(params, service), params.get("state") == "absent")
            except OptionError as exc:
                raise OptionError(f"{where}.{exc.option}", exc.message) from None
            if key is not None:
                memo[key] = known
        real_server, removed = known
        if real_server.key in seen:
            raise OptionError(f"{label}.real_servers", f"{render_address_port(*real_server.key)} is listed twice (entries {seen[real_server.key]} "
                              f"and {index}); accepted: each real server address and port once")
        seen[real_server.key] = index
        (absent if removed else present).append(real_server)
    return present, absent


# ------------------------------------------------------------------ restrict: what this task owns


class Scope:
    """The services a task owns: all without restrict, else those matched by at least one restrict entry.

    An entry matches a service when every option it gives matches: addresses (addresses or networks),
    protocols and ports match services named by address only; fwmarks matches fwmark services only;
    families matches both.
    """

    def __init__(self, restrict: t.Optional[t.Sequence[t.Mapping[str, t.Any]]], option: str = "restrict") -> None:
        """`option`: the option that gave the entries (errors name it: restrict[0].ports[1])."""
        self.entries: t.Optional[t.List[t.Dict[str, t.Any]]] = None
        self._cache: t.Dict[t.Tuple[t.Any, ...], bool] = {}
        if restrict is None:
            return
        self.entries = [self._entry(f"{option}[{index}]", entry) for index, entry in enumerate(restrict)]

    @staticmethod
    def _entry(where: str, entry: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
        given = {name: value for name, value in entry.items() if value is not None}
        if not given:
            whole = " (to own the whole table, leave restrict unset)" if where.startswith("restrict[") else ""
            raise OptionError(where, f"matches every service; accepted: at least one of addresses, protocols, ports, fwmarks, families{whole}")
        if "fwmarks" in given and given.keys() & {"addresses", "protocols", "ports"}:
            raise OptionError(where, "fwmarks cannot be combined with addresses, protocols or ports in one entry (a fwmark service has none); "
                              "accepted: one entry for fwmark services and another for services named by address")
        result: t.Dict[str, t.Any] = {}
        if "addresses" in given:
            networks = []
            for position, text in enumerate(given["addresses"]):
                try:
                    networks.append(ipaddress.ip_network(str(text).strip(), strict=False))
                except ValueError:
                    raise OptionError(f"{where}.addresses[{position}]", f"{text!r} is not an address or network; accepted: 198.51.100.1, "
                                      "198.51.100.0/24, 2001:db8::/64") from None
            result["addresses"] = networks
        for name, low, high in (("ports", 0, 65535), ("fwmarks", 1, MAX_FWMARK)):
            if name in given:
                for position, value in enumerate(given[name]):
                    in_range(f"{where}.{name}[{position}]", value, low, high)
                result[name] = frozenset(given[name])
        for name in ("protocols", "families"):
            if name in given:
                result[name] = frozenset(given[name])
        return result

    def __contains__(self, service: Service) -> bool:
        if self.entries is None:
            return True
        key = service.key
        known = self._cache.get(key)
        if known is None:
            known = self._cache[key] = any(self._matches(entry, service) for entry in self.entries)
        return known

    def accepts(self, service: Service) -> bool:
        return service in self

    @staticmethod
    def _matches(entry: t.Mapping[str, t.Any], service: Service) -> bool:
        if "families" in entry and service.family not in entry["families"]:
            return False
        if "fwmarks" in entry:
            return service.fwmark in entry["fwmarks"]
        if service.fwmark is not None and entry.keys() & {"addresses", "protocols", "ports"}:
            return False
        if "protocols" in entry and service.protocol not in entry["protocols"]:
            return False
        if "ports" in entry and service.port not in entry["ports"]:
            return False
        if "addresses" in entry and service.address is not None:
            address = ipaddress.ip_address(service.address)
            return any(address.version == network.version and address in network for network in entry["addresses"])
        return True


# ------------------------------------------------------------------ results in the option names of the modules


def service_item(service: Service, servers: t.Iterable[RealServer], memo: t.Optional[t.Dict[RealServer, t.Dict[str, t.Any]]] = None) -> t.Dict[str, t.Any]:
    """A config entry for `service` (what _engine.service_result gives, plus real_servers); unset options left out."""
    item: t.Dict[str, t.Any] = {}
    if service.fwmark is None:
        item["protocol"] = service.protocol
        item["address"] = service.address
        item["port"] = service.port
    else:
        item["fwmark"] = service.fwmark
    item["family"] = service.family
    item["scheduler"] = service.scheduler
    item["scheduler_flags"] = list(service.scheduler_flags)
    for name in ("persistence_timeout", "persistence_granularity", "persistence_engine"):
        value = getattr(service, name)
        if value is not None:
            item[name] = value
    item["one_packet"] = service.one_packet
    cache = {} if memo is None else memo
    items = []
    for real_server in servers:
        result = cache.get(real_server)
        if result is None:
            result = cache[real_server] = real_server_item(real_server)
        items.append(result)
    item["real_servers"] = items
    return item


def real_server_item(real_server: RealServer) -> t.Dict[str, t.Any]:
    """A real_servers entry (what _engine.real_server_result gives); unset options left out."""
    item: t.Dict[str, t.Any] = {
        "server": real_server.address,
        "server_port": real_server.port,
        "forwarding": real_server.forwarding,
        "weight": real_server.weight,
        "upper_threshold": real_server.upper_threshold,
        "lower_threshold": real_server.lower_threshold,
    }
    for name in ("tunnel_type", "tunnel_port", "tunnel_checksum"):
        value = getattr(real_server, name)
        if value is not None:
            item[name] = value
    return item


def table_items(table: Table) -> t.List[t.Dict[str, t.Any]]:
    """The table as a config list in ipvsadm's sort order: what gathered, before and after hold."""
    memo: t.Dict[RealServer, t.Dict[str, t.Any]] = {}
    return [service_item(service, sorted(servers, key=real_server_sort_key), memo)
            for service, servers in sorted(table.values(), key=lambda entry: service_sort_key(entry[0]))]


def declared_table(declared: t.Sequence[Declared]) -> Table:
    return make_table((entry.service, entry.servers or ()) for entry in declared)


# ------------------------------------------------------------------ the plan of each state


def plan(state: str, declared: t.Sequence[Declared], have: Table, scope: Scope) -> t.List[Operation]:
    """want vs have through the shared planner; `have` holds the services in scope only.

    Declared services that already are exactly as wanted, pool included, are left out of the
    planner's input (in a no-op run that is all of them): they give no operation, so the plan is
    the same, and the planner does not sort thousands of pools for nothing.
    """
    if state == "deleted":
        if declared:
            return plan_table({}, have, absent_services={entry.service.key for entry in declared})
        return plan_table({}, have, remove_unlisted_services=True, restrict=scope.accepts)
    want: t.Dict[t.Tuple[t.Any, ...], t.Tuple[Service, t.List[RealServer]]] = {}
    unchanged: t.Set[t.Tuple[t.Any, ...]] = set()
    for entry in declared:
        key = entry.service.key
        have_service, have_servers = have.get(key, (None, []))
        if state == "merged":
            pool = {real_server.key: real_server for real_server in have_servers}
            for real_server in entry.servers or ():
                pool[real_server.key] = real_server
            for real_server in entry.absent:
                pool.pop(real_server.key, None)
        else:
            pool = {real_server.key: real_server for real_server in entry.servers or ()}
        if have_service == entry.service and len(pool) == len(have_servers) and all(pool.get(server.key) == server for server in have_servers):
            unchanged.add(key)
        else:
            want[key] = (entry.service, list(pool.values()))
    rest = {key: entry for key, entry in have.items() if key not in unchanged} if unchanged else have
    return plan_table(want, rest, remove_unlisted_services=state == "overridden", restrict=scope.accepts, purge_real_servers=True)


def module_owned(declared: t.Sequence[Declared], have: Table) -> t.Tuple[t.List[Declared], Table]:
    """The declared services this module writes, and the table without the keepalived-owned ones: what the plan, before,
    after and the diff are made of (keepalived-owned services are never added, edited or removed, overridden included)."""
    owned = {entry.service.key for entry in declared if entry.health is not None}
    if not owned:
        return list(declared), have
    return [entry for entry in declared if entry.health is None], {key: value for key, value in have.items() if key not in owned}


def health_states(declared: t.Sequence[Declared], have: Table) -> t.List[t.Dict[str, t.Any]]:
    """The `health` result: what the kernel holds for each keepalived-owned declared service (_health.runtime_state)."""
    states = []
    for entry in declared:
        if entry.health is not None:
            have_service, have_servers = have.get(entry.service.key, (None, []))
            states.append(runtime_state(entry.service, entry.servers or [], entry.health, have_service, have_servers))
    return states


def _check_scope(declared: t.Sequence[Declared], scope: Scope) -> None:
    for entry in declared:
        if entry.service not in scope:
            raise OptionError(entry.label, f"the service {service_switch(entry.service)} is outside restrict, so this task does not own it; "
                              "accepted: services that restrict matches (widen restrict, or leave the service to the task that owns it)")


def _parsed(text: t.Optional[str]) -> t.List[Declared]:
    entries, lines = parse_with_lines(text or "")
    return declare(entries, labels=[f"running_config (the service of line {line})" for line in lines])


def _reported(table: Table, mode: str, changed_keys: t.Collection[t.Tuple[t.Any, ...]]) -> t.List[t.Dict[str, t.Any]]:
    """before / after as before_after asks: every service, the changed ones, or none."""
    if mode == "all":
        return table_items(table)
    if mode == "changed":
        return table_items({key: entry for key, entry in table.items() if key in changed_keys})
    return []


def run_table(module: AnsibleModule) -> None:
    params = module.params

    def prepare() -> t.Union[Result, t.Callable[[Kernel], Result]]:
        state = params["state"]
        if state == "parsed":
            return {"changed": False, "parsed": table_items(declared_table(_parsed(params["running_config"])))}
        scope = Scope(params["restrict"])
        declared = declare(params["config"], key_only=state == "deleted") if state != "gathered" else []
        _check_scope(declared, scope)
        if state == "rendered":
            return {"changed": False, "rendered": render_service_table((entry.service, entry.servers or ()) for entry in declared if entry.health is None),
                    "keepalived_config": render_virtual_servers((entry.service, entry.servers or [], entry.health) for entry in declared
                                                                if entry.health is not None)}

        def work(kernel: Kernel) -> Result:
            have = read_table(kernel, scope.accepts, [(entry.service, entry.servers) for entry in declared])
            if state == "gathered":
                return {"changed": False, "gathered": table_items(have)}
            return _change(state, declared, have, scope, kernel)

        return work

    def _change(state: str, declared: t.Sequence[Declared], table: Table, scope: Scope, kernel: Kernel) -> Result:
        mode = params["before_after"]
        health = health_states(declared, table)
        for item in health:
            for sentence in item["drift"]:
                module.warn(f"keepalived-owned service {item['service']}: {sentence}")
        every = declared
        declared, have = module_owned(declared, table)
        operations = plan(state, declared, have, scope)
        changed_keys = {operation.service.key for operation in operations}
        try:
            result = commit(module, kernel, operations, undo_table(have))
        except TaskError as exc:
            exc.result["before"] = _reported(have, mode, changed_keys)
            raise
        result["before"] = _reported(have, mode, changed_keys)
        if state != "deleted":
            result["health"] = health
        diff = module._diff  # pylint: disable=protected-access
        # table_after() sorts the whole table: only when something shows it.
        after = table_after(have, operations) if operations and (diff or mode != "none") else have
        if operations and mode != "none":
            result["after"] = _reported(after, mode, changed_keys)
        if diff:
            result["diff"] = diff_of(have, after)
        if state != "deleted":
            # The declared services as this task leaves them (a keepalived-owned one as declared: its real servers'
            # weights are keepalived's), and those whose failed real servers keepalived quiesces.
            warn_risks(module, kernel, declared_table(every),
                       quiescing={entry.service.key for entry in every if entry.health is not None and entry.health.on_failure == "quiesce"})
        return result

    def echo(result: Result) -> Result:
        config = params["config"]
        if config is not None and len(config) > ECHO_LIMIT:
            # Ansible echoes every argument back (`invocation`, seen with -vvv): for a big table, walking and encoding
            # that copy of the config costs more than reading and planning the table itself.
            servers = sum(len(entry.get("real_servers") or ()) for entry in config if isinstance(entry, dict))
            arguments = dict(params, config=f"{len(config)} services with {servers} real servers (not echoed: over {ECHO_LIMIT})")
            result["invocation"] = {"module_args": arguments}
        return result

    run(module, prepare, finish=echo)


# Above this many services in config, the invocation echo summarises config instead of repeating it.
ECHO_LIMIT = 100
