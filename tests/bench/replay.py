# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module's own CPU time per rule, on this host, against a kernel conversation recorded in the lab VM.

tests/bench/replay.py CONVERSATION (written by bench_table.py --record; tests/bench/run.sh does both).
ipvs_table's main() runs here as on a node (arguments through patch_module_args), its netlink socket
replaced by conversation.ReplayingSocket: every datagram it sends must be the recorded one, and it gets
the recorded replies (the dumps it reads, the acknowledgements of its changes). time.process_time()
around main() is then the module's CPU on real hardware, without the kernel's part and without start-up.
A benchmark only: no test uses this in place of the kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_table  # noqa: E402  (puts this checkout on sys.path as ansible_collections.lvs.ipvs)
import conversation  # noqa: E402

from ansible.module_utils.testing import patch_module_args  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.lvs.ipvs.plugins.module_utils import _lock  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_table  # noqa: E402  pylint: disable=wrong-import-position


def run_once(args: dict, events: list) -> tuple[float, float, dict]:
    """(CPU seconds, wall seconds, result) of one main() against the recorded conversation."""
    out = io.StringIO()
    with conversation.replaying(events) as opened, \
            patch_module_args(dict(args, _ansible_check_mode=False, _ansible_diff=False)), contextlib.redirect_stdout(out):
        started, wall = time.process_time(), time.perf_counter()
        try:
            ipvs_table.main()
        except SystemExit:
            pass
        cpu, wall = time.process_time() - started, time.perf_counter() - wall
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    if result.get("failed"):
        raise SystemExit(f"the module failed against the recorded conversation: {result.get('msg')}")
    if len(opened) != 1 or not opened[0].finished():
        raise SystemExit(f"the module did not hold the whole recorded conversation ({len(opened)} sockets)")
    return cpu, wall, result


def replay(path: str, repeats: int = 10, phases: bool = True) -> dict[str, float]:
    conversations, meta = conversation.load(path)
    services = meta["services"]
    config, _lines = bench_table.table(services, meta["servers"], meta["ports"])
    changed = json.loads(json.dumps(config))
    changed[services // 2] = meta["changed"]
    rules = services * (1 + meta["servers"])
    lean = {"state": "overridden", "before_after": "none"}
    scenarios = (("from_empty", "from empty", config), ("noop", "no-op", config), ("one_change", "one weight changed", changed))
    _lock.LOCK_DIR = tempfile.mkdtemp(prefix="bench-lock-")  # the module's flock, away from this host's /run
    print(f"\nhost CPU of ipvs_table against the conversation recorded under {meta.get('engine') or '?'} (kernel {meta.get('kernel')}), "
          f"{services} x {meta['servers']} = {rules} rules, best of {repeats}, python {sys.version.split()[0]}, "
          f"load {' '.join(f'{value:.2f}' for value in os.getloadavg())}:")
    print(f"  {'scenario':<20} {'datagrams out/in':>16} {'CPU ms':>8} {'wall ms':>8} {'us a rule':>10}")
    # Rounds of the three scenarios in turn (a busy moment of the machine then weighs on each alike), each run after a
    # collection of the garbage of the one before (a module run starts in a fresh process); the best of each kept.
    runs: dict[str, list[tuple[float, float, dict]]] = {name: [] for name, _label, _scenario in scenarios}
    for _repeat in range(repeats):
        for name, _label, scenario in scenarios:
            gc.collect()
            runs[name].append(run_once(dict(lean, config=scenario), conversations[name]))
    best: dict[str, float] = {}
    for name, label, _scenario in scenarios:
        events = conversations[name]
        cpu, wall = min(run[0] for run in runs[name]), min(run[1] for run in runs[name])
        changed_flag = runs[name][0][2]["changed"]
        if changed_flag != (name != "noop"):
            raise SystemExit(f"{label}: changed={changed_flag}, not what the recorded run did")
        best[name] = cpu
        sent = sum(1 for event in events if event[0] == "send")
        received = len(events) - sent
        print(f"  {label:<20} {f'{sent}/{received}':>16} {cpu * 1000:>8.1f} {wall * 1000:>8.1f} {cpu / rules * 1e6:>10.2f}")
    print(f"  no-op / from empty {best['noop'] / best['from_empty']:.2f}, one change / no-op {best['one_change'] / best['noop']:.2f} "
          "(CPU on this host, the kernel's part left out)")
    if phases:
        # After the timed rounds: the timers of bench_table --phases (wall clock, ms) around each step, one more run each.
        bench_table.time_phases()
        for name, label, scenario in scenarios:
            gc.collect()
            run_once(dict(lean, config=scenario), conversations[name])
            shown = ", ".join(f"{step} {value * 1000:.0f}" for step, value in bench_table.PHASES.items() if value >= 0.0005)
            print(f"  {label} steps, ms: {shown}")
            bench_table.PHASES.clear()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conversation", help="a file written by bench_table.py --record")
    parser.add_argument("--repeats", type=int, default=10, help="rounds of the three scenarios, the best kept (default 10)")
    parser.add_argument("--no-phases", action="store_true", help="leave out the time of each step")
    options = parser.parse_args()
    replay(options.conversation, options.repeats, not options.no_phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
