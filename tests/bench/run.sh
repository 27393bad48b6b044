#!/usr/bin/env bash
# The ipvs_table benchmark (tests/bench/bench_table.py) in a lab VM run of one engine or of both, each followed
# by the module's CPU on this host against the conversation recorded in that run (tests/bench/run_engines.py):
# `make bench` (both engines), or tests/bench/run.sh [--engine uml|qemu|both] [--small] [--rounds N]
# [--phases] [--profile SCENARIO[:SORT]].
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
py=${PYTHON:-$repo/.venv/bin/python}
exec "$py" tests/bench/run_engines.py "$@"
