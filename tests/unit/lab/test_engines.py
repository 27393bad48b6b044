# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Both fast-mode engines, one boot each: the integration suite runs on the default engine only, so this keeps the other
one tested. Each boot checks ip_vs and an nft inet table in the guest, that the run folder hands back a file, that a
guest write to a host path outside the run folder does not reach the host, and that the guest powers off cleanly."""

from __future__ import annotations

import io
import os
import shutil

import pytest

from tests.lab import engine as engines
from tests.lab import fast
from tests.lab.errors import LabError
from tests.lab.provision import cache_dir

# A write through the guest's root lands in its tmpfs overlay. Beyond that, under UML the guest can mount any host path
# read-write over hostfs: the read-only mount namespace UML runs in is what stops the write (EROFS). Under QEMU the only
# ways to the host are the two 9p exports, both mounted already (a 9p tag mounts once) and the root one read-only.
ESCAPE = {
    "uml": """mount -t hostfs -o / none /mnt || exit 16
echo "marker: $(cat "/mnt{host_dir}/marker")"
echo escaped > "/mnt{host_dir}/escape" && echo "the write reached the host"
""",
    "qemu": "",
}

GUEST = r"""
set -u
echo "engine: $LVS_IPVS_LAB_ENGINE"
modprobe ip_vs || exit 10
ipvsadm -A -t 198.51.100.1:80 -s rr -p 60 || exit 11
ipvsadm -a -t 198.51.100.1:80 -r 203.0.113.10:80 -m || exit 12
ipvsadm -S -n
nft add table inet lab_smoke || exit 13
nft add chain inet lab_smoke pre '{ type filter hook prerouting priority -150; }' || exit 14
nft add rule inet lab_smoke pre tcp dport 80 meta mark set 7 || exit 15
nft list table inet lab_smoke
echo "root: $(cat "{host_dir}/marker")"
echo escaped > "{host_dir}/escape" || exit 16
{escape}
echo handed-back > "{run_dir}/from-guest" || exit 17
"""


@pytest.fixture
def kept_runs(monkeypatch):
    """Keep this test's run folders, to read their console.log (removed at the end). Only this process's (fast.run_command
    names them run-<pid>-...): other checkouts' lab runs share the folder, and theirs are neither read nor removed."""
    monkeypatch.setenv("LVS_IPVS_LAB_KEEP", "1")
    runs = cache_dir() / "runs"
    runs.mkdir(exist_ok=True)

    def own() -> set:
        return {path for path in runs.iterdir() if path.name.startswith(f"run-{os.getpid()}-")}

    before = own()
    yield lambda: sorted(own() - before)
    for path in own() - before:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def host_dir():
    """A host folder outside the run folder (and outside /tmp, which is the guest's own tmpfs)."""
    path = cache_dir() / f"engine-test-{os.getpid()}"
    path.mkdir()
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("engine", engines.ENGINES)
def test_engine_boots_ipvs_and_nft_inet_and_keeps_the_host_read_only(engine, host_dir, kept_runs):
    (host_dir / "marker").write_text("from-the-host\n")
    runs = cache_dir() / "runs"
    out = io.BytesIO()
    # The run folder is made inside run_command: the guest finds its own through /proc/cmdline.
    script = GUEST.replace("{escape}", ESCAPE[engine]).replace("{host_dir}", str(host_dir)).replace(
        "{run_dir}", "$(sed -n 's/.*lab.run=\\([^ ]*\\).*/\\1/p' /proc/cmdline)")
    status = fast.run_command(["sh", "-c", script], engine=engine, out=out, cwd="/", timeout=600)
    text = out.getvalue().decode(errors="replace")
    assert status == 0, text
    assert f"engine: {engine}" in text
    assert "-A -t 198.51.100.1:80 -s rr -p 60" in text and "-a -t 198.51.100.1:80 -r 203.0.113.10:80 -m -w 1" in text, text
    assert "tcp dport 80 meta mark set 0x00000007" in text, text
    # The guest did see the host's folder; its writes there left nothing on the host.
    assert "root: from-the-host" in text, text
    if engine == "uml":
        assert "marker: from-the-host" in text, text
        assert "Read-only file system" in text, text
        assert "the write reached the host" not in text
    assert not (host_dir / "escape").exists()
    [run_dir] = [p for p in kept_runs() if p.parent == runs]
    assert (run_dir / "from-guest").read_text() == "handed-back\n"
    console = (run_dir / "console.log").read_text(errors="replace")
    assert "lab-guest: powering off" in console, console[-2000:]
    assert "Kernel panic" not in console, console[-2000:]
    assert "applet not found" not in console, console[-2000:]


def test_unknown_engine_is_named_with_the_accepted_values(monkeypatch):
    monkeypatch.setenv("LVS_IPVS_LAB_ENGINE", "kvm")
    with pytest.raises(LabError, match=r"^LVS_IPVS_LAB_ENGINE='kvm' is not an engine: use uml or qemu$"):
        engines.engine()
