# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lvs.ipvs.ipvs_table against `ipvsadm -R` on identical tables, in one lab VM run (tests/bench/run.sh).

Scenarios: from an empty table to 1,000 services x 10 real servers; a no-op re-run; one weight
changed in the full table (and back); 10,000 services x 4 real servers from empty (and its no-op),
with before_after=none (what a big table wants; before_after=all is shown once). The module
runs in this process (its main(), arguments through ansible-core's patch_module_args, as Ansible
runs it on the node; only main() is timed), once more as a real subprocess to include start-up,
and the start-up (imports) is measured on its own. Emulation inflates every absolute figure:
read the ratios, all taken in this one run.

The tables look like real ones: VIPs in 198.51.100.0/24 and 203.0.113.0/24, ten (forty) ports per
VIP, each VIP with its own pool of real servers (NAT) drawn from 192.0.2.0/24, so pools repeat
across VIPs as they do on a director serving many sites from one server farm.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# This checkout as ansible_collections.lvs.ipvs, through a link of this run's own (the shared one under
# ~/.cache/lvs-ipvs can be re-pointed by another checkout's test run while this one runs).
COLLECTIONS = tempfile.mkdtemp(prefix="bench-collections-")
atexit.register(shutil.rmtree, COLLECTIONS, True)
os.makedirs(os.path.join(COLLECTIONS, "ansible_collections", "lvs"))
os.symlink(REPO, os.path.join(COLLECTIONS, "ansible_collections", "lvs", "ipvs"))
sys.path[:0] = [COLLECTIONS, REPO]

from ansible.module_utils.testing import patch_module_args  # noqa: E402  pylint: disable=wrong-import-position

GOALS = {"from_empty": 1.0, "noop": 0.3, "one_change": 1.2}


def vip(number: int) -> str:
    return f"198.51.100.{number + 1}" if number < 250 else f"203.0.113.{number - 249}"


def table(services: int, servers: int, ports: int) -> tuple[list[dict], list[str]]:
    """The config of ipvs_table and the same table as `ipvsadm -R` lines."""
    config: list[dict] = []
    lines: list[str] = []
    for index in range(services):
        number, port = divmod(index, ports)
        address, port = vip(number), 8000 + port
        pool = [f"192.0.2.{(number * servers + j) % 250 + 1}" for j in range(servers)]
        config.append({"protocol": "tcp", "address": address, "port": port, "scheduler": "wlc",
                       "real_servers": [{"server": server, "forwarding": "nat"} for server in pool]})
        lines.append(f"-A -t {address}:{port} -s wlc")
        lines.extend(f"-a -t {address}:{port} -r {server}:{port} -m -w 1" for server in pool)
    return config, lines


def ipvsadm(*args: str, stdin: str | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(["ipvsadm", *args], input=stdin, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"ipvsadm {' '.join(args)} failed: {proc.stderr.strip()[:300]}")
    return elapsed, proc.stdout


def saved() -> list[str]:
    return sorted(line for line in ipvsadm("-S", "-n")[1].splitlines() if line.strip())


PROFILE: dict[str, str] = {}
PHASES: dict[str, float] = {}


def time_phases() -> None:
    """Wrap the steps of a run (AnsibleModule set-up and exit, and each step of _table_task) in timers, summed in PHASES."""
    from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel

    from ansible_collections.lvs.ipvs.plugins.module_utils import _table_task  # pylint: disable=import-outside-toplevel

    def timed(name: str, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - started
        return wrapper

    for name in ("declare", "read_table", "plan", "commit", "table_items", "table_after", "diff_of"):
        setattr(_table_task, name, timed(name, getattr(_table_task, name)))
    AnsibleModule.__init__ = timed("AnsibleModule()", AnsibleModule.__init__)
    AnsibleModule.exit_json = timed("exit_json", AnsibleModule.exit_json)


def module(args: dict, label: str) -> tuple[float, dict]:
    """ipvs_table's main() in this process; only main() is timed (patch_module_args serialises the arguments first)."""
    from ansible_collections.lvs.ipvs.plugins.modules import ipvs_table  # pylint: disable=import-outside-toplevel

    out = io.StringIO()
    profiler = cProfile.Profile() if label in PROFILE else None
    with patch_module_args(dict(args, _ansible_check_mode=False, _ansible_diff=False)), contextlib.redirect_stdout(out):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            ipvs_table.main()
        except SystemExit:
            pass
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    if result.get("failed"):
        raise SystemExit(f"{label}: the module failed: {result.get('msg')}")
    if PHASES:
        shown = ", ".join(f"{name} {value:.2f}" for name, value in PHASES.items() if value >= 0.005)
        print(f"{label}: {elapsed:.2f} s = {shown}", flush=True)
        PHASES.clear()
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats(PROFILE[label]).print_stats(35)
        print(f"--- profile of {label} (sorted by {PROFILE[label]})\n{text.getvalue()}", flush=True)
    return elapsed, result


def ansible_floor(args: dict) -> float:
    """What AnsibleModule alone costs for these arguments: load and validate them, then exit_json (invocation echo included)."""
    from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel

    from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_table_spec  # pylint: disable=import-outside-toplevel

    out = io.StringIO()
    with patch_module_args(dict(args, _ansible_check_mode=False, _ansible_diff=False)), contextlib.redirect_stdout(out):
        started = time.perf_counter()
        try:
            AnsibleModule(supports_check_mode=True, **ipvs_table_spec()).exit_json(changed=False)
        except SystemExit:
            pass
        return time.perf_counter() - started


def subprocess_run(args: dict, prefix: tuple[str, ...] = ()) -> tuple[float, dict]:
    """The module as Ansible starts it on a node: a new interpreter, the arguments as a JSON file (`prefix`: e.g. strace)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=False, _ansible_diff=False)}, handle)
    try:
        env = dict(os.environ, PYTHONPATH=COLLECTIONS)
        started = time.perf_counter()
        proc = subprocess.run([*prefix, sys.executable, os.path.join(REPO, "plugins", "modules", "ipvs_table.py"), handle.name],
                              capture_output=True, text=True, env=env, check=False)
        elapsed = time.perf_counter() - started
    finally:
        os.unlink(handle.name)
    if not proc.stdout.strip():
        raise SystemExit(f"subprocess run printed nothing: {proc.stderr.strip()[-500:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result.get("failed"):
        raise SystemExit(f"subprocess run failed: {result.get('msg')}")
    return elapsed, result


def startup() -> tuple[float, float]:
    """(bare interpreter start, start + import of ipvs_table and everything it imports), each the best of two."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)

    def best(code: str) -> float:
        times = []
        for _attempt in range(2):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            times.append(time.perf_counter() - started)
        return min(times)

    return best("pass"), best("import ansible_collections.lvs.ipvs.plugins.modules.ipvs_table")


def check_same(expected: list[str], what: str) -> None:
    got = saved()
    if got != expected:
        raise SystemExit(f"{what}: the kernel table differs from ipvsadm -R's ({len(got)} lines against {len(expected)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", default=[], metavar="SCENARIO[:SORT]",
                        help="cProfile one module scenario (from_empty, noop, noop_all, one_change, big_from_empty, big_noop)")
    parser.add_argument("--small", action="store_true", help="100 x 10 and 1,000 x 4 instead (a quick try)")
    parser.add_argument("--phases", action="store_true", help="print the time of each step of every module run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the 1,000-service scenarios, the best kept (default 3)")
    parser.add_argument("--syscalls", action="store_true", help="count the system calls of ipvsadm -R and of the module (strace -f -c)")
    parser.add_argument("--record", metavar="PATH",
                        help="record the module's netlink conversation (from empty, no-op, one change) to PATH (for tests/bench/replay.py); "
                             "a PATH ending in '*' is a glob that names the lab run folder")
    options = parser.parse_args()
    if options.phases:
        time_phases()
    for item in options.profile:
        name, _colon, sort = item.partition(":")
        PROFILE[name] = sort or "cumulative"
    if os.environ.get("LVS_IPVS_LAB_GUEST") != "1":
        print("bench_table needs the lab VM's IPVS kernel: run tests/bench/run.sh", file=sys.stderr)
        return 2

    scale = 10 if options.small else 1
    services, big = 1000 // scale, 10000 // scale
    config, lines = table(services, 10, 10)
    big_config, big_lines = table(big, 4, 40)
    rules = "\n".join(lines) + "\n"
    big_rules = "\n".join(big_lines) + "\n"
    changed = json.loads(json.dumps(config))
    changed[services // 2]["real_servers"][3]["weight"] = 5
    one_line = ["-e", "-t", f"{changed[services // 2]['address']}:{changed[services // 2]['port']}",
                "-r", f"{changed[services // 2]['real_servers'][3]['server']}:{changed[services // 2]['port']}", "-m", "-w", "5"]
    lean = {"state": "overridden", "before_after": "none"}
    rows: list[tuple[str, str, str, str]] = []
    figures: dict[str, float] = {}

    def row(name: str, ours: float | None, theirs: float | None, note: str = "") -> None:
        ratio = f"{ours / theirs:.2f}" if ours is not None and theirs else ""
        rows.append((name, f"{ours:.2f}" if ours is not None else "", f"{theirs:.2f}" if theirs is not None else "", ratio + ("  " + note if note else "")))

    print(f"bench_table: {services} x 10 ({options.rounds} rounds, best kept) and {big} x 4 (python {sys.version.split()[0]}); "
          "this takes several minutes in the lab VM", flush=True)
    bare, imported = startup()
    figures["startup"] = imported - bare
    # A whole module run that does next to nothing: start-up, imports made while running, JSON in and out.
    figures["tiny"] = min(subprocess_run({"state": "rendered", "config": [{"protocol": "tcp", "address": "198.51.100.1", "port": 80}]})[0]
                          for _attempt in range(2))

    # Rounds of the same sequence, interleaving ipvsadm and the module; the best of each figure is kept (the
    # emulated CPU is shared, so a figure is only ever slowed down by a neighbour, never sped up).
    runs: dict[str, list[float]] = {}

    def keep(name: str, seconds: float) -> None:
        runs.setdefault(name, []).append(seconds)

    reference: list[str] = []
    changed_reference: list[str] = []
    for number in range(1, options.rounds + 1):
        ipvsadm("-C")
        keep("restore", ipvsadm("-R", stdin=rules)[0])
        reference = saved()
        keep("save", ipvsadm("-S", "-n")[0])
        clear = ipvsadm("-C")[0]
        keep("rerun", clear + ipvsadm("-R", stdin=rules)[0])
        keep("edit", ipvsadm(*one_line)[0])
        changed_reference = saved()
        ipvsadm("-C")
        seconds, result = module(dict(lean, config=config), "from_empty")
        keep("from_empty", seconds)
        assert result["changed"] and len(result["commands"]) == services * 11, result.get("commands", [])[:3]
        check_same(reference, "from empty")
        seconds, result = module(dict(lean, config=config), "noop")
        keep("noop", seconds)
        assert not result["changed"], result["commands"][:5]
        seconds, result = module(dict(lean, config=changed), "one_change")
        keep("one_change", seconds)
        assert result["commands"] == [" ".join(one_line)], result["commands"]
        check_same(changed_reference, "one change")
        seconds, result = module(dict(lean, config=config), "one_change_back")
        keep("one_change", seconds)
        print(f"round {number}: " + ", ".join(f"{name} {values[-1]:.2f}" for name, values in runs.items()), flush=True)
    best = {name: min(values) for name, values in runs.items()}
    t_restore, t_save, t_rerun, t_edit = best["restore"], best["save"], best["rerun"], best["edit"]
    t_empty, t_noop, t_change = best["from_empty"], best["noop"], best["one_change"]

    floor = ansible_floor(dict(lean, config=config))
    t_noop_all, result = module(dict(lean, config=config, before_after="all"), "noop_all")
    assert not result["changed"] and len(result["before"]) == services
    t_gathered, result = module({"state": "gathered"}, "gathered")
    assert len(result["gathered"]) == services
    ipvsadm("-C")
    t_sub_empty, result = subprocess_run(dict(lean, config=config))
    assert result["changed"]
    check_same(reference, "from empty (subprocess)")
    t_sub_noop, result = subprocess_run(dict(lean, config=config))
    assert not result["changed"]
    ipvsadm("-C")
    t_big_restore, _out = ipvsadm("-R", stdin=big_rules)
    big_reference = saved()
    ipvsadm("-C")
    big_floor = ansible_floor(dict(lean, config=big_config))
    t_big_empty, result = module(dict(lean, config=big_config), "big_from_empty")
    check_same(big_reference, "big from empty")
    t_big_noop, result = module(dict(lean, config=big_config), "big_noop")
    assert not result["changed"]
    ipvsadm("-C")

    row("start-up: interpreter alone", bare, None)
    row("start-up: + import of ipvs_table", imported, None, f"imports {figures['startup']:.2f} s")
    row("start-up: a whole run of one service, rendered", figures["tiny"], None, "new process, no kernel work")
    row(f"{services} x 10 from empty", t_empty, t_restore, f"goal <= {GOALS['from_empty']} x ipvsadm -R")
    row("  same, new process (start-up included)", t_sub_empty, t_restore)
    row("  AnsibleModule alone on these arguments", floor, t_restore, "argument handling + exit_json, no IPVS work")
    row("no-op re-run (ipvsadm: -C, then -R)", t_noop, t_rerun, f"{t_noop / t_empty:.2f} x from empty, goal <= {GOALS['noop']}")
    row("  same, new process (start-up included)", t_sub_noop, t_rerun)
    row("  same with before_after=all", t_noop_all, t_rerun, f"{services} services returned in before")
    row("one weight changed (ipvsadm: one -e line)", t_change, t_edit, f"{t_change / t_noop:.2f} x no-op, goal <= {GOALS['one_change']}")
    row("gathered (ipvsadm: -S -n)", t_gathered, t_save)
    row(f"{big} x 4 from empty", t_big_empty, t_big_restore)
    row("  AnsibleModule alone on these arguments", big_floor, t_big_restore)
    row(f"{big} x 4 no-op re-run", t_big_noop, None, f"{t_big_noop / t_big_empty:.2f} x from empty")

    width = max(len(name) for name, *_rest in rows)
    print(f"\n{'scenario':<{width}}  {'module s':>9}  {'ipvsadm s':>9}  ratio")
    for name, ours, theirs, ratio in rows:
        print(f"{name:<{width}}  {ours:>9}  {theirs:>9}  {ratio}")
    verdicts = [
        ("from empty <= 1.0 x ipvsadm -R", t_empty / t_restore, GOALS["from_empty"]),
        ("no-op <= 0.3 x from empty", t_noop / t_empty, GOALS["noop"]),
        ("one change <= 1.2 x no-op", t_change / t_noop, GOALS["one_change"]),
    ]
    print()
    for text, value, goal in verdicts:
        print(f"goal {text}: {value:.2f} {'met' if value <= goal else f'MISSED by {value / goal:.2f}x'}")
    if options.syscalls:
        count_syscalls(dict(lean, config=config), rules, services * 11)
    if options.record:
        record(options.record, lean, config, changed, services)
    return 0


def count_syscalls(args: dict, rules: str, size: int) -> None:
    """strace -f -c of `ipvsadm -R` and of the module (a new process, as Ansible runs it), both from empty."""
    import syscalls  # pylint: disable=import-outside-toplevel

    def restore(prefix: tuple[str, ...]) -> None:
        subprocess.run([*prefix, "ipvsadm", "-R"], input=rules, text=True, capture_output=True, check=True)

    def module_run(prefix: tuple[str, ...]) -> None:
        subprocess_run(args, prefix)

    def start_only(prefix: tuple[str, ...]) -> None:
        subprocess_run({"state": "rendered", "config": [{"protocol": "tcp", "address": "198.51.100.1", "port": 80}]}, prefix)

    print(f"\nsystem calls, from empty to {size} rules (strace -f -c, Debian's strace):", flush=True)
    ipvsadm("-C")
    theirs = syscalls.traced(restore)
    ipvsadm("-C")
    ours = syscalls.traced(module_run)
    ipvsadm("-C")
    start = syscalls.traced(start_only)
    for name, summary in (("ipvsadm -R", theirs), ("ipvs_table (new process)", ours), ("ipvs_table start-up only (rendered, 1 service)", start)):
        if isinstance(summary, str):
            print(f"  {name}: not counted: {summary}")
        else:
            print(f"  {name}: {summary.total} calls ({summary.total / size:.2f} a rule; {summary.without_vdso()} without the clock calls "
                  f"a real host answers in its vDSO), {summary.netlink()} netlink send/recv; top: {summary.top()}")
    if not isinstance(ours, str) and not isinstance(start, str):
        print(f"  ipvs_table minus its start-up: {ours.total - start.total} calls ({(ours.total - start.total) / size:.3f} a rule; "
              f"{ours.without_vdso() - start.without_vdso()} without the vDSO's)")
    if not isinstance(theirs, str) and not isinstance(ours, str):
        print(f"  total calls, ipvs_table / ipvsadm -R: {ours.total / theirs.total:.3f} ({ours.without_vdso() / theirs.without_vdso():.3f} "
              "without the vDSO's)")


def record(where: str, lean: dict, config: list[dict], changed: list[dict], services: int) -> None:
    """The module's netlink conversations (every datagram both ways) of from empty, no-op and one change, in one file."""
    import glob  # pylint: disable=import-outside-toplevel

    import conversation  # pylint: disable=import-outside-toplevel

    if where.endswith("*"):
        found = [path for path in glob.glob(where) if os.path.isdir(path) and os.access(path, os.W_OK)]
        if len(found) != 1:
            raise SystemExit(f"--record {where}: {len(found)} writable folders match, not one")
        where = os.path.join(found[0], "conversation.json.gz")
    conversations: dict[str, list] = {}
    ipvsadm("-C")
    for name, scenario in (("from_empty", config), ("noop", config), ("one_change", changed)):
        events: list = []
        with conversation.recording(events):
            module(dict(lean, config=scenario), f"record {name}")
        conversations[name] = events
    module(dict(lean, config=config), "record: one change back")
    ipvsadm("-C")
    conversation.save(where, conversations, {"services": services, "servers": 10, "ports": 10, "changed": changed[services // 2],
                                             "engine": os.environ.get("LVS_IPVS_LAB_ENGINE", ""), "kernel": os.uname().release})
    sizes = ", ".join(f"{name} {sum(1 for kind, *_rest in events if kind == 'send')} sent / "
                      f"{sum(1 for kind, *_rest in events if kind == 'recv')} received"
                      for name, events in conversations.items())
    print(f"\nrecorded the module's netlink datagrams ({sizes}) to {where}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
