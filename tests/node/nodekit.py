# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the lab-node tests share: a node booted for a test module, a shell on it, and Ansible pointed at this checkout."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.lab import node

REPO = Path(__file__).resolve().parents[2]
SSH_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=30"


def logger(tag: str):
    def log(message: str) -> None:
        print(f"[{tag} {time.strftime('%H:%M:%S')}] {message}", flush=True)
    return log


@contextlib.contextmanager
def booted_node(name: str, log):
    """`tests.lab up NAME` for a module-scoped fixture: its info inside, `tests.lab down NAME` when it ends."""
    with booted_nodes([name], log) as infos:
        yield infos[0]


@contextlib.contextmanager
def booted_nodes(names: list[str], log):
    """booted_node for several nodes booted side by side (one `tests.lab up` each): their infos, in order, inside."""
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "tests.lab", "up", "--boot-timeout", "900", name], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]
    try:
        for name, proc in zip(names, procs):
            out, err = proc.communicate(timeout=max(1, 1200 - (time.monotonic() - started)))
            assert proc.returncode == 0, f"tests.lab up {name}: {out}\n{err}"
        log(f"{'node' if len(names) == 1 else ' and '.join(names)} up after {time.monotonic() - started:.0f} s")
        yield [node._node_info(name) for name in names]  # pylint: disable=protected-access
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        subprocess.run([sys.executable, "-m", "tests.lab", "down", *names], cwd=REPO, timeout=120, check=False)


def on_node(info: dict, script: str, timeout: float = 180, check: bool = True, shell: str = "sh",
            connect_timeout: int = 30) -> subprocess.CompletedProcess:
    """Run `script` on the node; with `check`, assert that it succeeded."""
    proc = subprocess.run(node.ssh_argv(info, [shell, "-c", script], connect_timeout=connect_timeout), capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check:
        assert proc.returncode == 0, f"{script!r} on {info['name']}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def host_vars(info: dict) -> dict:
    """The connection variables of a lab node as an inventory host."""
    return {"ansible_host": info["host"], "ansible_port": info["port"], "ansible_user": info["user"],
            "ansible_ssh_private_key_file": info["key"], "ansible_python_interpreter": info["interpreter"],
            "ansible_ssh_common_args": SSH_ARGS}


def inventory_host(info: dict, indent: str = "        ") -> str:
    """The YAML lines of one inventory host for a lab node (the host name line included)."""
    lines = [f"{info['name']}:"] + [f'  {key}: "{value}"' if key == "ansible_ssh_common_args" else f"  {key}: {value}"
                                    for key, value in host_vars(info).items()]
    return "\n".join(indent + line for line in lines)


def ansible_env(work: Path, **extra: str) -> dict:
    """Environment for ansible-playbook with lvs.ipvs resolved to this checkout (never to a copy installed elsewhere)."""
    collections = work / "collections"
    (collections / "ansible_collections" / "lvs").mkdir(parents=True, exist_ok=True)
    link = collections / "ansible_collections" / "lvs" / "ipvs"
    if not link.exists():
        link.symlink_to(REPO)
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
                ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_TIMEOUT="60", ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
                ANSIBLE_RETRY_FILES_ENABLED="False", **extra)


def ansible_playbook() -> str:
    return os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
