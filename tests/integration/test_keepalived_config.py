# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived 2.2.7 itself reads the virtual_server blocks this collection renders (`keepalived --config-test`).

The samples (IPv4, IPv6, fwmark IPv4 and IPv6, every check type, sorry server, quorum, drained real servers) are the ones
whose text the unit tests hold word for word (tests/unit/plugins/module_utils/keepalived_samples.py). Each must pass
without a single message: keepalived's config test exits non-zero on any configuration error, warnings it corrects
included (a quorum above the pool's weight, a sorry server port it resets); a test shows the check can fail. Then
keepalived's health checker runs the samples in a namespace of its own: its configuration dump shows the quoted texts
read back as written, and the services it builds are those the ipvsadm lines of the same model describe; and ipvs_table,
run in that namespace while keepalived holds the table, leaves the keepalived-owned service alone and reports it.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import literal_pattern, render_virtual_servers
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvsadm_parser import parse_with_lines
from ansible_collections.lvs.ipvs.plugins.module_utils._renderer import render_service_table
from ansible_collections.lvs.ipvs.plugins.module_utils._table_task import declare
from tests.integration.modules import run_module
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


# ---------------------------------------------------------------------------------------------- keepalived running it

NETNS = "lvskad"


def _in_netns(*argv: str) -> str:
    proc = subprocess.run(["ip", "netns", "exec", NETNS, *argv], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr.strip()}"
    return proc.stdout


@pytest.fixture
def checker_netns():
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    yield NETNS
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, check=False)


def run_checker(tmp_path: Path, text: str, seconds: float = 3.0) -> str:
    """keepalived's health checker on `text` in the test namespace for `seconds`, with its configuration dump: its log."""
    path = tmp_path / "lvs-ipvs-check.conf"
    path.write_text(GLOBAL_DEFS + text, encoding="utf-8")
    log = tmp_path / "keepalived.log"
    # --dont-release-ipvs: what it built stays in the namespace's table after it stops (as the director role runs it).
    argv = ["ip", "netns", "exec", NETNS, "keepalived", "--check", "--dont-release-ipvs", "--dont-fork", "--log-console", "--dump-conf",
            f"--use-file={path}",
            f"--pid={tmp_path / 'k.pid'}", f"--checkers_pid={tmp_path / 'c.pid'}"]
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # pylint: disable=consider-using-with
        try:
            time.sleep(seconds)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    return log.read_text(encoding="utf-8")


def test_keepalived_builds_the_services_the_ipvsadm_lines_describe_and_reads_the_quoted_texts(tmp_path, checker_netns):
    # Every sample but the command one (its check would run /bin/sh), then that one alone: keepalived's own dump shows
    # what it parsed, and the namespace's table what it built.
    samples = [sample for name, sample in sorted(KEEPALIVED_SAMPLES.items()) if name != "fwmark-ipv6-command"]
    declared = entries(samples)
    log = run_checker(tmp_path, render_virtual_servers(declared))
    # The text to find, taken literally (a PCRE pattern keepalived compiled), and the path, read back as written.
    http = KEEPALIVED_SAMPLES["ipv4-http-sorry-quorum"]["health_check"]
    assert f'Regex = "{literal_pattern(http["text"])}"' in log, log
    assert f"Checked url = {http['path']}" in log, log
    # The services keepalived built (read by ipvsadm, the independent reader) are those of the model, which the ipvsadm
    # lines describe too: scheduler, flags, persistence, one-packet scheduling.
    saved = "\n".join(line for line in _in_netns("ipvsadm", "-S", "-n").splitlines() if line.startswith("-A"))
    built = {entry.service.key: entry.service for entry in declare(parse_with_lines(saved)[0])}
    assert built == {service.key: service for service, _servers, _check in declared}, log
    rendered = "\n".join(render_service_table((service, servers) for service, servers, _check in declared))
    assert {entry.service.key: entry.service for entry in declare(parse_with_lines(rendered)[0])} == built
    command = entries([KEEPALIVED_SAMPLES["fwmark-ipv6-command"]])
    log = run_checker(tmp_path, render_virtual_servers(command), seconds=1.5)
    # The command split into words as a shell would (keepalived shows the program's real path: /usr/bin/sh on Debian 12).
    assert re.search(r"script = '(/usr)?/bin/sh' '-c' 'exit 0' 'x' '#y'\n", log), log


def _table_in_netns() -> list[str]:
    return [line for line in _in_netns("ipvsadm", "-S", "-n").splitlines() if line.strip()]


def test_ipvs_table_leaves_what_keepalived_builds_alone_and_reports_it(tmp_path, checker_netns):
    # The whole loop: ipvs_table renders the keepalived text, keepalived's health checker builds the service and takes
    # both real servers out (nothing listens: their checks fail, so weight 0, and the sorry server comes in), then
    # ipvs_table overridden in the same namespace, check mode and real, twice: it adds its own service only and reports
    # the keepalived-owned one as it is. The real servers' network is on a dummy device (the kernel refuses a real server
    # without a route: EINVAL); nothing answers there.
    for command in (("link", "add", "rs0", "type", "dummy"), ("address", "add", "203.0.113.1/24", "dev", "rs0"), ("link", "set", "rs0", "up")):
        _in_netns("ip", *command)
    web = {"protocol": "tcp", "address": "198.51.100.1", "port": 80, "persistence_timeout": 600,
           "real_servers": [{"server": "203.0.113.11"}, {"server": "203.0.113.12"}],
           "health_check": {"type": "tcp", "interval": 1, "timeout": 1, "retries": 0, "sorry_server": "203.0.113.99"}}
    api = {"protocol": "tcp", "address": "198.51.100.1", "port": 8080, "scheduler": "rr", "real_servers": [{"server": "203.0.113.21"}]}
    rendered = run_module("ipvs_table", {"state": "rendered", "config": [web, api]})
    assert rendered["rendered"] == ["-A -t 198.51.100.1:8080 -s rr", "-a -t 198.51.100.1:8080 -r 203.0.113.21:8080 -g -w 1"]
    path = tmp_path / "lvs-ipvs-check.conf"
    path.write_text(GLOBAL_DEFS + rendered["keepalived_config"], encoding="utf-8")
    argv = ["ip", "netns", "exec", NETNS, "keepalived", "--check", "--dont-release-ipvs", "--dont-fork", "--log-console", f"--use-file={path}",
            f"--pid={tmp_path / 'k.pid'}", f"--checkers_pid={tmp_path / 'c.pid'}"]
    quiesced = ["-A -t 198.51.100.1:80 -s wlc -p 600", "-a -t 198.51.100.1:80 -r 203.0.113.11:80 -g -w 0",
                "-a -t 198.51.100.1:80 -r 203.0.113.12:80 -g -w 0", "-a -t 198.51.100.1:80 -r 203.0.113.99:80 -g -w 1"]
    with (tmp_path / "keepalived.log").open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # pylint: disable=consider-using-with
        try:
            deadline = time.monotonic() + 20
            while _table_in_netns() != quiesced and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _table_in_netns() == quiesced, (tmp_path / "keepalived.log").read_text(encoding="utf-8")
            args = {"state": "overridden", "netns": NETNS, "config": [web, api]}
            results = [run_module("ipvs_table", args, check=True, diff=True), run_module("ipvs_table", args, diff=True),
                       run_module("ipvs_table", args, check=True, diff=True), run_module("ipvs_table", args, diff=True)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    assert [result.get("failed", False) for result in results] == [False] * 4, results
    assert [result["changed"] for result in results] == [True, True, False, False]
    assert results[0]["commands"] == results[1]["commands"] == rendered["rendered"]
    health = {"service": "-t 198.51.100.1:80", "writer": "keepalived", "up": [], "down": ["203.0.113.11:80", "203.0.113.12:80"],
              "sorry_server_active": True, "drift": []}
    assert [result["health"] for result in results] == [[health]] * 4
    assert all("198.51.100.1:80 " not in result["diff"]["before"] + result["diff"]["after"] for result in results)
    assert _table_in_netns() == quiesced + rendered["rendered"]
