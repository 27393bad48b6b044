# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a managed node's Python does with this collection: run by that Python, standard library and pyroute2 only.

    python managed_node_probe.py COLLECTIONS_ROOT [--kernel NETNS]

COLLECTIONS_ROOT holds ansible_collections/lvs/ipvs; ansible's module_utils come from PYTHONPATH
(the ones the controller would ship to that node). The probe imports every module and module_util,
runs the modules' own main() on the paths that need no kernel (argument validation and its
errors, ipvs_table rendered / parsed, fwmark_rule's validation), the model, planner and renderer,
and with --kernel a real netlink round trip in the named network namespace (root, IPVS kernel),
read back with `ipvsadm -S -n`. It prints one JSON line: {"python", "pyroute2", "checks": [...]};
any failure is an exception (a traceback, exit status 1).

Written for Python 3.7 too: no walrus, no builtin generics at run time.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pkgutil
import subprocess
import sys
import typing as t


def run_main(name: str, args: t.Dict[str, t.Any], check: bool = False) -> t.Dict[str, t.Any]:
    """lvs.ipvs.<name>'s main() with `args`, as Ansible would run it; its result dict."""
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

    module = importlib.import_module(f"ansible_collections.lvs.ipvs.plugins.modules.{name}")
    full = dict(args, _ansible_check_mode=check, _ansible_diff=True)
    try:
        from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel  # 2.19 and later
        patcher: t.Any = patch_module_args(full)
    except ImportError:  # 2.17 / 2.18
        patcher = _patched_args(basic, full)
    out = io.StringIO()
    with patcher, contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    text = out.getvalue().strip()
    assert text, f"{name} printed nothing"
    return json.loads(text.splitlines()[-1])


@contextlib.contextmanager
def _patched_args(basic: t.Any, args: t.Dict[str, t.Any]) -> t.Iterator[None]:
    old = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")  # pylint: disable=protected-access
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = old  # pylint: disable=protected-access


def import_everything() -> t.List[str]:
    names = []
    for package in ("module_utils", "modules", "doc_fragments"):
        base = importlib.import_module(f"ansible_collections.lvs.ipvs.plugins.{package}")
        for info in pkgutil.iter_modules(list(base.__path__)):
            importlib.import_module(f"{base.__name__}.{info.name}")
            names.append(f"{package}.{info.name}")
    return names


def pure_logic() -> t.List[str]:
    """Validation, model, planner and renderer, through the modules' own main() where they can run without a kernel."""
    from ansible_collections.lvs.ipvs.plugins.module_utils import _argspec, _fwmark, _model, _planner, _renderer  # pylint: disable=import-outside-toplevel

    checks = []
    service = _model.service_from_params({"protocol": "tcp", "address": "198.51.100.1", "port": 80, "scheduler": "rr",
                                          "persistence_timeout": 3600, "state": "present"})
    servers, _absent = _model.real_servers_from_params([{"server": "192.0.2.11", "weight": 2}, {"server": "192.0.2.12", "weight": 2}], service)
    commands = [_renderer.render(op) for op in _planner.plan_service(service, None, servers)]
    assert commands == ["-A -t 198.51.100.1:80 -s rr -p 3600", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 2",
                        "-a -t 198.51.100.1:80 -r 192.0.2.12:80 -g -w 2"], commands
    checks.append("planner+renderer")

    service = {"fwmark": 8, "scheduler": "rr", "persistence_timeout": 600, "real_servers": [{"server": "192.0.2.11", "forwarding": "nat"}]}
    result = run_main("ipvs_table", {"state": "rendered", "config": [service]})
    assert result.get("rendered") == ["-A -f 8 -s rr -p 600", "-a -f 8 -r 192.0.2.11:0 -m -w 1"], result
    running = "-A -t 198.51.100.1:443 -s wlc -p 360\n-a -t 198.51.100.1:443 -r 192.0.2.11:443 -g -w 1\n"
    result = run_main("ipvs_table", {"state": "parsed", "running_config": running})
    assert result["parsed"][0]["address"] == "198.51.100.1" and result["parsed"][0]["persistence_timeout"] == 360, result
    checks.append("ipvs_table rendered+parsed")

    for name, args, option in (
        ("ipvs_service", {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "scheduler": "nope"}, None),
        ("ipvs_service", {"protocol": "tcp", "address": "198.51.100.1", "port": 0}, "port"),
        ("ipvs_real_server", {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "server": "192.0.2.11", "weight": -1}, "weight"),
        ("ipvs_timeouts", {"tcp": 0}, "tcp"),
        ("ipvs_sync_daemon", {"role": "master", "interface": "eth0", "sync_id": 300}, "sync_id"),
    ):
        result = run_main(name, args, check=True)
        assert result.get("failed") and (option is None or result.get("option") == option), (name, result)
        assert "Traceback" not in json.dumps(result), result
    checks.append("argument validation")

    fwmark_options = _argspec.fwmark_rule_spec()["argument_spec"]
    request = _fwmark.request_from_params(dict({key: None for key in fwmark_options}, name="shop", mark=8, destination="198.51.100.1",
                                               protocol="tcp", ports=[80, 443], state="present", purge=False, backend="auto",
                                               table="lvs_ipvs", local=False))
    assert request.rules[0].match.mark == 8
    try:
        _fwmark.request_from_params(dict({key: None for key in fwmark_options}, mark=8, destination="198.51.100.1", protocol="tcp",
                                         ports=["90-80"], state="present", purge=False, backend="auto", table="lvs_ipvs", local=False))
    except _fwmark.OptionError as exc:
        assert exc.option == "ports", exc
    else:
        raise AssertionError("a reversed port range was accepted")
    checks.append("fwmark_rule validation")
    return checks


def kernel_round_trip(netns: str) -> t.List[str]:
    """The codec and two modules against the kernel in `netns`, read back with ipvsadm."""
    from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_client  # pylint: disable=import-outside-toplevel

    def saved() -> t.List[str]:
        out = subprocess.run(["ip", "netns", "exec", netns, "ipvsadm", "-S", "-n"], stdout=subprocess.PIPE, check=True)
        return out.stdout.decode().split("\n")[:-1]

    service = {"af": 2, "protocol": 6, "addr": "198.51.100.1", "port": 80, "fwmark": 0, "sched_name": "rr", "flags": 1, "timeout": 3600,
               "netmask": 0xFFFFFFFF, "pe_name": None}
    dest = {"addr": "192.0.2.11", "port": 80, "af": 2, "fwd_method": 3, "weight": 2, "u_thresh": 0, "l_thresh": 0}
    with _ipvs_client.IpvsClient(netns=netns) as ipvs:
        ipvs.flush()
        ipvs.add_service(service)
        ipvs.add_dest(service, dest)
        ipvs.edit_dest(service, dict(dest, weight=5))
        assert [s["sched_name"] for s in ipvs.services()] == ["rr"]
        assert [(d["addr"], d["weight"]) for d in ipvs.dests(service)] == [("192.0.2.11", 5)]
        assert ipvs.info()["version"].count(".") == 2 and set(ipvs.timeouts()) == {"tcp", "tcpfin", "udp"}
    assert saved() == ["-A -t 198.51.100.1:80 -s rr -p 3600", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 5"], saved()
    checks = ["codec round trip"]

    args = {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "scheduler": "wlc", "persistence_timeout": 600, "netns": netns}
    predicted = run_main("ipvs_service", args, check=True)
    applied = run_main("ipvs_service", args)
    assert not applied.get("failed") and predicted["commands"] == applied["commands"] == ["-E -t 198.51.100.1:80 -s wlc -p 600"], applied
    server = {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "server": "192.0.2.12", "weight": 3, "netns": netns}
    applied = run_main("ipvs_real_server", server)
    assert applied["commands"] == ["-a -t 198.51.100.1:80 -r 192.0.2.12:80 -g -w 3"], applied
    assert run_main("ipvs_real_server", server)["changed"] is False
    info = run_main("ipvs_info", {"netns": netns})
    assert [s["port"] for s in info["services"]] == [80] and len(info["services"][0]["real_servers"]) == 2, info
    assert saved() == ["-A -t 198.51.100.1:80 -s wlc -p 600", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 5",
                       "-a -t 198.51.100.1:80 -r 192.0.2.12:80 -g -w 3"], saved()
    with _ipvs_client.IpvsClient(netns=netns) as ipvs:
        ipvs.flush()
    checks.append("modules against the kernel")
    return checks


def main(argv: t.List[str]) -> int:
    sys.path.insert(0, argv[1])
    from ansible_collections.lvs.ipvs.plugins.module_utils import _pyroute2  # pylint: disable=import-outside-toplevel

    report: t.Dict[str, t.Any] = {"python": sys.version.split()[0], "pyroute2": _pyroute2.PYROUTE2_VERSION,
                                  "pyroute2_error": None if _pyroute2.PYROUTE2_IMPORT_ERROR is None else _pyroute2.pyroute2_missing_message()}
    report["imported"] = len(import_everything())
    report["checks"] = pure_logic()
    if "--kernel" in argv:
        report["checks"] += kernel_round_trip(argv[argv.index("--kernel") + 1])
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C")
    sys.exit(main(sys.argv))
