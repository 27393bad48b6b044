#!/usr/bin/env bash
# Release checks on the copy tests/sanity/run.sh made (.../ansible_collections/lvs/ipvs, the current folder):
# the changelog fragments and changelogs/changelog.yaml lint, CHANGELOG.rst is what they generate, the docs markup
# lints (antsibull-docs), and the tarball that `ansible-galaxy collection build` makes passes Galaxy's importer.
# Usage: release.sh REPO VENV WORK
set -euo pipefail
repo=$1 venv=$2 work=$3
export PATH=$venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$work ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_NOCOLOR=1

step() { printf 'sanity: %s\n' "$*"; }

step "antsibull-changelog lint"
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

step "antsibull-changelog generate (CHANGELOG.rst must be what changelogs/ generates)"
antsibull-changelog generate
if ! cmp -s CHANGELOG.rst "$repo/CHANGELOG.rst"; then
  diff -u "$repo/CHANGELOG.rst" CHANGELOG.rst || true
  echo "sanity: CHANGELOG.rst differs from what changelogs/changelog.yaml generates: run antsibull-changelog generate" >&2
  exit 1
fi

step "antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs .

step "ansible-galaxy collection build, then galaxy-importer on the tarball"
mkdir -p "$work/dist"
ansible-galaxy collection build --output-path "$work/dist" . >/dev/null
tarball=$(echo "$work"/dist/lvs-ipvs-*.tar.gz)
# The importer writes importer_result.json into the current folder: run it in the build folder.
log=$work/dist/galaxy-importer.log
status=0
(cd "$work/dist" && GALAXY_IMPORTER_CONFIG=$repo/tests/sanity/galaxy-importer.cfg python -m galaxy_importer.main "$tarball") >"$log" 2>&1 || status=$?
# A warning is Galaxy telling a user something is off: it fails the check too.
if [ "$status" -ne 0 ] || grep -Eq '^(WARNING|ERROR|CRITICAL):' "$log" || ! grep -q '^Importer processing completed successfully' "$log"; then
  cat "$log"
  echo "sanity: galaxy-importer did not accept $(basename "$tarball") cleanly (exit $status)" >&2
  exit 1
fi
step "galaxy-importer accepted $(basename "$tarball")"
