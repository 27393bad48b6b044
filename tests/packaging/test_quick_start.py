# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The user's path, as README.md writes it: build the tarball, install it, run the quick start.

The commands come from README.md's "## Quick start" console block, so the README and this test cannot drift
apart. They run in a fresh home folder (so ~/.ansible/collections is empty before the install) with the tarball
`ansible-galaxy collection build` makes from this checkout, with junk planted beside the tracked files
(caches, a venv, a previous tarball) that build_ignore must keep out.

This host has no IPVS, so the playbook commands run with `--syntax-check`, `--list-hosts` and `--list-tasks`, and
a command that has `--check` runs with connection local limited to the tasks tagged `always`: the roles' argument
checks, which validate the example inventory's variables against each role's meta/argument_specs.yml.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINDIR = os.path.dirname(sys.executable)
# What a user needs, and nothing else (MANIFEST.json and FILES.json are the build's own).
SHIPPED = {"plugins", "roles", "playbooks", "meta", "docs", "changelogs", "README.md", "COPYING", "CHANGELOG.rst",
           "requirements.txt", "bindep.txt", "MANIFEST.json", "FILES.json"}
JUNK = [".venv/pyvenv.cfg", ".venv-sanity/2.17/pyvenv.cfg", ".cache/x", ".mypy_cache/x", "roles/director/.pytest_cache/x",
        "plugins/modules/__pycache__/x.cpython-311.pyc", "tests/output/x", "build/x", "lvs-ipvs-0.0.1.tar.gz",
        "changelogs/.plugin-cache.yaml"]


def readme_block(heading: str, lang: str = "console") -> list[str]:
    """The lines of the first ```lang block under `## heading` in README.md, comments and blank lines left out
    (console lines stripped, others as written)."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, f"README.md has no '## {heading}' section"
    block = re.search(rf"^```{lang}\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, f"README.md's '## {heading}' has no ```{lang} block"
    lines = [line for line in block.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]
    return [line.strip() for line in lines] if lang == "console" else lines


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True)
    return [f for f in out.stdout.splitlines() if os.path.isfile(os.path.join(REPO, f))]


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """A fresh home folder and a working folder holding the tarball built from this checkout (with junk planted)."""
    root = tmp_path_factory.mktemp("user")
    src = root / "src"
    for name in tracked_files() + JUNK:
        dest = src / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if name in JUNK:
            dest.write_text("junk\n")
        else:
            dest.write_bytes(open(os.path.join(REPO, name), "rb").read())
    cwd = root / "work"
    cwd.mkdir()
    (root / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(root / "home"), PATH=BINDIR + os.pathsep + env.get("PATH", ""), ANSIBLE_NOCOLOR="1")
    build = subprocess.run([os.path.join(BINDIR, "ansible-galaxy"), "collection", "build", "--output-path", str(cwd), str(src)],
                           capture_output=True, text=True, env=env, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    return {"cwd": cwd, "env": env, "home": root / "home", "tarball": cwd / "lvs-ipvs-0.1.0.tar.gz"}


def run(user: dict, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=user["cwd"], env=user["env"], capture_output=True, text=True, check=False)


def test_the_tarball_holds_what_users_need_and_nothing_else(user):
    with tarfile.open(user["tarball"]) as tar:
        names = tar.getnames()
    assert {n.split("/")[0] for n in names} <= SHIPPED, sorted({n.split("/")[0] for n in names} - SHIPPED)
    assert not [n for n in names if re.search(r"(^|/)(\.venv|\.cache|\.mypy_cache|\.pytest_cache|__pycache__|\.plugin-cache)", n)]
    wanted = [f for f in tracked_files() if f.split("/")[0] in SHIPPED and f != "changelogs/.plugin-cache.yaml"]
    assert sorted(set(wanted) - set(names)) == []
    for required in ("COPYING", "CHANGELOG.rst", "meta/runtime.yml", "meta/execution-environment.yml", "playbooks/site.yml"):
        assert required in names


def test_quick_start_commands_as_the_readme_writes_them(user):
    commands = readme_block("Quick start")
    install = [c for c in commands if c.startswith("ansible-galaxy collection install ")]
    playbooks = [c for c in commands if c.startswith("ansible-playbook ")]
    assert install and playbooks, commands
    assert install[0] in readme_block("Install"), "the Quick start installs as the Install section says"
    assert os.path.basename(install[0].split()[-1]) == user["tarball"].name, "the README installs the tarball this version builds"

    for command in commands:
        if command in playbooks:
            continue
        proc = run(user, command)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"

    listed = run(user, "ansible-galaxy collection list lvs.ipvs --format json")
    assert listed.returncode == 0, listed.stderr
    found = {path: cols for path, cols in json.loads(listed.stdout).items() if "lvs.ipvs" in cols}
    assert list(found) == [str(user["home"] / ".ansible" / "collections" / "ansible_collections")], found
    assert next(iter(found.values()))["lvs.ipvs"]["version"] == "0.1.0"
    verify = run(user, "ansible-galaxy collection verify --offline lvs.ipvs")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    for command in playbooks:
        syntax = run(user, f"{command} --syntax-check")
        assert syntax.returncode == 0, f"{command} --syntax-check\n{syntax.stdout}\n{syntax.stderr}"
        hosts = run(user, f"{command} --list-hosts")
        assert hosts.returncode == 0, hosts.stderr
        for host in ("director1", "web1", "web2", "web3"):
            assert re.search(rf"^\s+{host}$", hosts.stdout, re.M), hosts.stdout
        tasks = run(user, f"{command} --list-tasks")
        assert tasks.returncode == 0, tasks.stderr
        assert "lvs.ipvs.real_server : " in tasks.stdout and "lvs.ipvs.director : " in tasks.stdout, tasks.stdout
        if "--check" in command.split():
            checked = run(user, f"{command} -c local --tags always")
            assert checked.returncode == 0, f"{command} -c local --tags always\n{checked.stdout}\n{checked.stderr}"
            recap = {host: (int(ok), int(failed)) for host, ok, failed in re.findall(r"^(\S+)\s+: ok=(\d+) .*failed=(\d+)", checked.stdout, re.M)}
            assert sorted(recap) == ["director1", "web1", "web2", "web3"], checked.stdout
            assert all(ok >= 1 and failed == 0 for ok, failed in recap.values()), checked.stdout
            assert checked.stdout.count("Validating arguments against arg spec") >= 2, checked.stdout


def test_install_section_requirements_file_is_valid(user):
    requirements = yaml.safe_load("\n".join(readme_block("Install", "yaml")))
    (entry,) = requirements["collections"]
    assert entry["type"] == "git" and entry["name"].endswith("/lvs.ipvs.git"), entry
