#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/lvs/ipvs: copy the tracked
# (and new, not ignored) files there and run it with its own pinned requirements, no ignore file:
# every test on the pinned ansible-core (.venv), then compile, import and validate-modules on each other
# ansible-core that meta/runtime.yml's requires_ansible admits (.venv-sanity/X.Y, from
# tests/sanity/requirements-ansible-core-X.Y.txt, made by `make sanity`), then the release checks
# (tests/sanity/release.sh), ansible-lint and mypy (tests/sanity/mypy.ini). Arguments go to the pinned ansible-test run, and then only it runs.
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
bootstrap_pip() {
  local pip_version cache
  pip_version=$("$1/bin/python" -c 'import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r.get_venv_packages)).group(1))')
  cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
  mkdir -p "$(dirname "$cache")"
  cmp -s "$repo/tests/sanity/pip_bootstrap.py" "$cache" 2>/dev/null || cp "$repo/tests/sanity/pip_bootstrap.py" "$cache"
}

# ansible-test runs compile and import on every target Python it finds as pythonX.Y on PATH. pyenv's shims answer
# only for its global version: give every interpreter pyenv has its own name here.
mkdir -p "$work/pythons"
for python in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python[23].*; do
  name=${python##*/}
  [[ $name =~ ^python[23]\.[0-9]+$ && ! -e $work/pythons/$name ]] && ln -s "$python" "$work/pythons/$name"
done
export PATH=$work/pythons:$PATH

cd "$dest"
git init -q && git add -A
if compgen -G "$dest/tests/sanity/ignore-*.txt" >/dev/null; then
  echo "sanity: an ignore file exists; this collection keeps none" >&2
  exit 1
fi
# Each phase's time, for the README's figures.
took() { echo "sanity: $1 took $((SECONDS - started)) s"; started=$SECONDS; }
started=$SECONDS
bootstrap_pip "$venv"
"$venv/bin/ansible-test" sanity --color no --python 3.11 --requirements "$@"
[ $# -eq 0 ] || exit 0
took "ansible-test sanity on the pinned ansible-core"

# The other ansible-core versions requires_ansible admits: its lower bound must be one of them.
lowest=$(sed -n 's/^requires_ansible: *">=\([0-9]*\.[0-9]*\)\..*/\1/p' meta/runtime.yml)
[ -e "$repo/tests/sanity/requirements-ansible-core-$lowest.txt" ] || {
  echo "sanity: requires_ansible starts at ${lowest:-?}, which no tests/sanity/requirements-ansible-core-*.txt tests" >&2; exit 1; }
for requirements in "$repo"/tests/sanity/requirements-ansible-core-*.txt; do
  core=${requirements##*-core-}; core=${core%.txt}
  core_venv=$repo/.venv-sanity/$core
  cmp -s "$requirements" "$core_venv/requirements.txt" || {
    echo "sanity: $core_venv is missing or stale: make sanity creates it" >&2; exit 1; }
  bootstrap_pip "$core_venv"
  echo "sanity: ansible-core $("$core_venv/bin/python" -c 'import ansible; print(ansible.__version__)'): compile, import, validate-modules"
  "$core_venv/bin/ansible-test" sanity --color no --requirements --test compile --test import --test validate-modules 2>&1 |
    tee "$work/core-$core.log"
  ran=$(sed -n 's/^Running sanity test "import" on Python \([0-9.]*\)$/\1/p' "$work/core-$core.log" | paste -sd' ')
  missing=$(sed -n 's/.*Skipping sanity test "import" on Python \([0-9.]*\) because it could not be found.*/\1/p' "$work/core-$core.log" | paste -sd' ')
  echo "sanity: ansible-core $core: import ran on Python ${ran:-none}${missing:+; not on this machine, so not tested: $missing}"
  took "ansible-core $core"
done

"$repo/tests/sanity/release.sh" "$repo" "$venv" "$work"
took "the release checks"

# Then ansible-lint on the roles, playbooks and molecule scenarios, with lvs.ipvs resolved to this copy, never to a
# copy installed elsewhere.
ANSIBLE_COLLECTIONS_PATH=$work ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false "$venv/bin/ansible-lint" --offline --nocolor roles playbooks molecule
took "ansible-lint"

# Then mypy on plugins/, on the same copy (the imports are ansible_collections.lvs.ipvs...): the type hints are checked.
(cd "$work" && "$venv/bin/mypy" --config-file "$dest/tests/sanity/mypy.ini" --cache-dir "$work/.mypy_cache" -p ansible_collections.lvs.ipvs.plugins)
took "mypy"
