#!/usr/bin/env bash
# Runs the molecule scenarios of the roles against ONE lab node, booted once for the whole session:
#   molecule/run.sh                 every scenario: ppc pcc pnmpp drain real_server
#   molecule/run.sh ppc drain       some of them
# Each scenario: create (finds the node up), prepare, converge, idempotence, [side_effect,] verify, destroy (resets what
# the scenario made; the node stays up). The node is stopped and its disk deleted at the end, whatever happens.
# Exits non-zero when a scenario fails; prints the time of each scenario and of the whole run.
set -u -o pipefail

cd "$(dirname "$0")/.." || exit 1
REPO=$PWD
VENV=${VENV:-.venv}
export PATH="$REPO/$VENV/bin:$PATH"
PY="$REPO/$VENV/bin/python"
# The lab node of this checkout (two checkouts testing at once must not share one: each resets and stops it).
NODE=${LVS_IPVS_MOLECULE_NODE:-molecule-$(printf '%s' "$REPO" | sha256sum | cut -c1-8)}
export LVS_IPVS_MOLECULE_NODE=$NODE

# This checkout as the collection lvs.ipvs, through a link of this run's own (a shared link can be re-pointed by another
# checkout's run meanwhile).
COLLECTIONS=$(mktemp -d /tmp/lvs-ipvs-molecule.XXXXXX)
mkdir -p "$COLLECTIONS/ansible_collections/lvs"
ln -s "$REPO" "$COLLECTIONS/ansible_collections/lvs/ipvs"
export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-0}

if [ $# -gt 0 ]; then SCENARIOS=("$@"); else SCENARIOS=(ppc pcc pnmpp drain real_server); fi

stop_node() {
    rm -rf "$COLLECTIONS"
    if [ -n "${LVS_IPVS_MOLECULE_KEEP:-}" ]; then
        echo "== molecule: the lab node $NODE stays up (LVS_IPVS_MOLECULE_KEEP); python -m tests.lab down $NODE when done"
        return
    fi
    echo "== molecule: stopping the lab node $NODE"
    "$PY" -m tests.lab down "$NODE"
}
trap stop_node EXIT

started=$(date +%s)
echo "== molecule: booting the lab node $NODE (once for all scenarios)"
# A few tries: on a busy machine one SSH probe of tests.lab can time out while the node boots (up waits again).
for try in 1 2 3; do
    if "$PY" -m tests.lab up --boot-timeout 900 "$NODE"; then break; fi
    if [ "$try" = 3 ]; then
        echo "== molecule: the lab node did not come up" >&2
        exit 1
    fi
    echo "== molecule: trying again"
done
echo "== molecule: node up after $(( $(date +%s) - started )) s"

failed=()
summary=()
for scenario in "${SCENARIOS[@]}"; do
    begin=$(date +%s)
    echo "== molecule: scenario $scenario"
    # Forget molecule's state of an earlier, interrupted run (it would skip create).
    molecule reset -s "$scenario" >/dev/null 2>&1 || true
    if molecule test -s "$scenario"; then result=passed; else result=FAILED; failed+=("$scenario"); fi
    summary+=("$(printf '%-8s %-7s %5d s' "$scenario" "$result" $(( $(date +%s) - begin )))")
done

echo "== molecule: summary"
printf '   %s\n' "${summary[@]}"
echo "   total $(( $(date +%s) - started )) s (node boot included)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "== molecule: FAILED: ${failed[*]}" >&2
    exit 1
fi
