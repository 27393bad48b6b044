# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived 2.2.7 itself reads the virtual_server blocks this collection renders (`keepalived --config-test`).

The samples (IPv4, IPv6, fwmark IPv4 and IPv6, every check type, sorry server, quorum, drained real servers) are the ones
whose text the unit tests hold word for word (tests/unit/plugins/module_utils/keepalived_samples.py). Each must pass
without a single message: keepalived's config test exits non-zero on any configuration error, warnings it corrects
included (a quorum above the pool's weight, a sorry server port it resets). The last test shows the check can fail.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import render_virtual_servers
from tests.unit.plugins.module_utils.keepalived_samples import KEEPALIVED_SAMPLES, entries

# What the director role's main configuration holds around the fragments (MISC_CHECK needs the script security settings).
GLOBAL_DEFS = """global_defs {
    router_id lvs_ipvs_check
    enable_script_security
    script_user root
}
"""


def config_test(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    keepalived = shutil.which("keepalived")
    assert keepalived, "keepalived is not installed where this test runs (Debian: apt-get install keepalived)"
    path = tmp_path / "lvs-ipvs-check.conf"
    path.write_text(GLOBAL_DEFS + text, encoding="utf-8")
    return subprocess.run([keepalived, "--config-test", f"--use-file={path}"], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", sorted(KEEPALIVED_SAMPLES))
def test_keepalived_accepts_each_sample(tmp_path, name):
    result = config_test(tmp_path, render_virtual_servers(entries([KEEPALIVED_SAMPLES[name]])))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_keepalived_accepts_all_samples_in_one_file(tmp_path):
    result = config_test(tmp_path, render_virtual_servers(entries(list(KEEPALIVED_SAMPLES.values()))))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_config_test_refuses_what_keepalived_would_correct(tmp_path):
    # Not rendered by this collection: a quorum above the pool's weight (the renderer lowers it) and an unknown keyword.
    (service, servers, check), = entries([KEEPALIVED_SAMPLES["pcc-sctp"]])
    text = render_virtual_servers([(service, servers, check)])
    assert "    quorum 1\n" in text
    too_high = config_test(tmp_path, text.replace("    quorum 1\n", "    quorum 2\n"))
    assert too_high.returncode != 0 and "exceeds total weight" in too_high.stdout + too_high.stderr
    unknown = config_test(tmp_path, text.replace("    lvs_sched wlc\n", "    lvs_sched wlc\n    sh-fallbac\n"))
    assert unknown.returncode != 0 and "Unknown keyword 'sh-fallbac'" in unknown.stdout + unknown.stderr
