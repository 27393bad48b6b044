#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/lvs/ipvs: copy the tracked
# (and new, not ignored) files there and run it with its own pinned requirements, no ignore file.
set -euo pipefail
# ansible-test only warns, and skips the test, when shellcheck is missing: a skipped test is not a pass.
command -v shellcheck >/dev/null || { echo "sanity: shellcheck is missing (make setup installs it)" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$repo/.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/lvs/ipvs
mkdir -p "$dest"
(cd "$repo" && git ls-files -co --exclude-standard | while read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done | tar -cf - -T -) | tar -xf - -C "$dest"
# ansible-test bootstraps pip in its venvs with a script from its own file server, which this
# workplace cannot reach: give it our ensurepip-based stand-in for the version it asks for.
pip_version=$("$venv/bin/python" -c 'import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r.get_venv_packages)).group(1))')
cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
cmp -s "$repo/tests/sanity/pip_bootstrap.py" "$cache" 2>/dev/null || cp "$repo/tests/sanity/pip_bootstrap.py" "$cache"
cd "$dest"
git init -q && git add -A
if [ -e "$dest/tests/sanity/ignore-2.19.txt" ]; then
  echo "sanity: an ignore file exists; this collection keeps none" >&2
  exit 1
fi
"$venv/bin/ansible-test" sanity --color no --python 3.11 --requirements "$@"
# Then ansible-lint on the roles, playbooks and molecule scenarios (not when asked for some ansible-test tests only),
# with lvs.ipvs resolved to this copy, never to a copy installed elsewhere.
if [ $# -eq 0 ]; then
  ANSIBLE_COLLECTIONS_PATH=$work ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false "$venv/bin/ansible-lint" --offline --nocolor roles playbooks molecule
fi
