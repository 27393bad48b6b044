# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ipvs_table benchmark on one lab engine or both, one VM run each, then the module's CPU on this host.

tests/bench/run.sh [--engine uml|qemu|both] [bench_table.py options]. For each engine: bench_table.py in
its own lab VM run (the times, the ratios against `ipvsadm -R` of that same run, the goals, the system
calls of each side, and a recording of the module's netlink conversation left in the run folder), then,
on this host, replay.py against that recording (the module's own CPU per rule). The host's load average
is printed before and after each VM run: every figure is only as good as the quiet of the machine.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent.parent
sys.path.insert(0, str(REPO))

from tests.lab import engine as engines  # noqa: E402  pylint: disable=wrong-import-position
from tests.lab import fast  # noqa: E402  pylint: disable=wrong-import-position
from tests.lab.errors import LabError  # noqa: E402  pylint: disable=wrong-import-position
from tests.lab.provision import cache_dir  # noqa: E402  pylint: disable=wrong-import-position


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def one_engine(engine: str, bench_args: list[str]) -> int:
    """bench_table.py in one VM run of `engine`, then the replay on this host; the VM run's exit status."""
    runs = cache_dir() / "runs"
    prefix = str(runs / f"run-{os.getpid()}-")
    print(f"\n===== engine {engine}: host load average (1, 5, 15 min) before: {load()} (2 cores)", flush=True)
    os.environ["LVS_IPVS_LAB_KEEP"] = "1"  # the recording is in the run folder: this script removes it
    try:
        status = fast.run_command([sys.executable, str(BENCH / "bench_table.py"), "--syscalls", "--record", prefix + "*", *bench_args],
                                  engine=engine, cwd=str(REPO))
    finally:
        del os.environ["LVS_IPVS_LAB_KEEP"]
        print(f"===== engine {engine}: host load average after: {load()}", flush=True)
        kept = cache_dir() / "bench"
        kept.mkdir(exist_ok=True)
        recording = kept / f"conversation-{engine}.json.gz"
        for folder in glob.glob(prefix + "*"):
            found = Path(folder) / "conversation.json.gz"
            if found.exists():
                shutil.copyfile(found, recording)
            shutil.rmtree(folder, ignore_errors=True)
    if status != 0:
        print(f"engine {engine}: the bench failed (exit status {status})", flush=True)
        return status
    import replay  # pylint: disable=import-outside-toplevel

    print(f"(the recording: {recording})")
    replay.replay(str(recording))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("uml", "qemu", "both"),
                        help="the lab engine(s) (default: LVS_IPVS_LAB_ENGINE, else the lab's choice)")
    options, bench_args = parser.parse_known_args()
    chosen = ["uml", "qemu"] if options.engine == "both" else [options.engine or engines.engine()]
    sys.path.insert(0, str(BENCH))
    worst = 0
    for engine in chosen:
        try:
            worst = max(worst, one_engine(engine, bench_args))
        except LabError as exc:
            print(f"engine {engine}: {exc}", file=sys.stderr, flush=True)
            worst = max(worst, 1)
    return worst


if __name__ == "__main__":
    sys.exit(main())
