#!/usr/bin/env bash
# The ipvs_table benchmark (tests/bench/bench_table.py) in one lab VM run: `make bench`, or
# tests/bench/run.sh [--small] [--profile SCENARIO[:SORT]].
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
py=${PYTHON:-$repo/.venv/bin/python}
exec "$py" -m tests.lab run -- "$py" tests/bench/bench_table.py "$@"
