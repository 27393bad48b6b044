# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Health-checked services (issue 16) on ONE real Debian node, with real TCP traffic through it.

The node is the director; the test hosts of molecule/shared/files/lab_net.py are its network: three real servers
rs1-3 (192.0.2.11-13, NAT, each answering from a process of its own so that its listener can stop alone), a sorry server
(192.0.2.20, answers "sorry"), a client namespace (203.0.113.10-59). playbooks/ppc.yml makes one persistent service
198.51.100.1:80 (rr, persistence) whose health check (HTTP GET with a text to find) gives it to keepalived's checker
(lvs-ipvs-check.service). Two ways rs2 dies: its listener stops (connections refused) or its host dies (every frame to
it dropped: an nft netdev ingress chain in its namespace). Clients run side by side (one thread each, a new connection
every 0.2 s, closed with a RST so that the director forgets it in 10 s), and every figure is printed (pytest -s).

The tests run in file order on one node, each starting from the state the one before leaves. The HA pair's failover
with rs2 dead is tests/integration/test_ha_health.py. Not here: the director's reboot with rs2 dead (a test of it hung
once in a full run, the node not back within 420 s of `systemctl reboot`; it was taken out until that is understood).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab import node
from tests.node import nodekit

NAME = "health"
REPO = Path(__file__).resolve().parents[2]
FILES = "/root/lab"
VIP = "198.51.100.1"
RS = {"rs1": "192.0.2.11", "rs2": "192.0.2.12", "rs3": "192.0.2.13"}
SORRY = "192.0.2.20"
FRAGMENT = "/etc/keepalived/lvs-ipvs.d/ppc-web.conf"
RESTORE = "/etc/lvs-ipvs/ipvsadm.d/50-ppc-web.rules"
# The check: every 2 s; down after retries+1 = 3 failed checks, 1 s apart, each given 1 s.
INTERVAL, TIMEOUT, RETRIES, RETRY_DELAY = 2, 1, 2, 1
HEALTH_CHECK = {"type": "http", "path": "/", "text": " 80", "interval": INTERVAL, "timeout": TIMEOUT, "retries": RETRIES,
                "retry_delay": RETRY_DELAY, "sorry_server": SORRY}
# keepalived 2.2.7 (/work/notes/keepalived-findings.md (d)): refused connections fail at once, so the last of the failed
# checks ends at most interval + retries x retry_delay after the failure; a dead host makes each check wait its timeout.
# SLACK: the poll (0.1 s) and the guest's slowness.
SLACK = 1.5
REFUSED_BOUND = INTERVAL + RETRIES * RETRY_DELAY + SLACK
DEAD_HOST_BOUND = INTERVAL + (RETRIES + 1) * TIMEOUT + RETRIES * RETRY_DELAY + SLACK
# Back on the first passing check: at most one interval (plus one check). A host that was dead also has to be found
# again by ARP (the director's neighbour entry failed while its frames were dropped: 3 solicitations 1 s apart), which a
# check started just before it came back waits for.
BACK_BOUND = INTERVAL + TIMEOUT + SLACK
HOST_BACK_BOUND = BACK_BOUND + 3
PERSISTENCE = 60
BASE_CLIENTS = [f"203.0.113.{i}" for i in range(10, 18)]
# The reload test's change (rs1's weight, the persistence timeout), kept by the tests after it.
RELOADED = {"ppc_persistence_timeout": 120,
            "ppc_real_servers": [{"server": RS["rs1"], "weight": 2}, {"server": RS["rs2"]}, {"server": RS["rs3"]}]}
LAB_UP = f"/usr/bin/python3 {FILES}/lab_net.py up --apart rs1 --apart rs2 --apart rs3 --sorry-server " + " ".join(
    f"--extra-client 203.0.113.{i}" for i in range(20, 60))

log = nodekit.logger("health")


def on_node(info: dict, script: str, timeout: float = 180) -> str:
    return nodekit.on_node(info, script, timeout=timeout).stdout


def clients(first: int, count: int = 9) -> list:
    """Fresh client addresses: rr pins them in turn, so count=9 pins exactly 3 to each live real server."""
    return [f"203.0.113.{first + i}" for i in range(count)]


def case(info: dict, verb: str, *args: str, timeout: float = 180) -> dict:
    return json.loads(on_node(info, f"cd {FILES} && python3 health_case.py {verb} {' '.join(args)}", timeout=timeout))


def kernel(info: dict) -> dict:
    """The service as the kernel has it: {"service": its -A line, real server address: weight}."""
    lines = on_node(info, "ipvsadm -S -n").splitlines()
    table = {"service": next((line for line in lines if line.startswith(f"-A -t {VIP}:80 ")), None)}
    for line in lines:
        match = re.match(rf"-a -t {re.escape(VIP)}:80 -r ([0-9.]+):80 -m -w (\d+)$", line)
        if match:
            table[match.group(1)] = int(match.group(2))
    return table


def wait_kernel(info: dict, what: str, probe, timeout: float) -> tuple:
    """Poll kernel(info) until probe(table) is true; (table, seconds)."""
    started = time.monotonic()
    while True:
        table = kernel(info)
        if probe(table):
            return table, time.monotonic() - started
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout:.0f} s: {table}")
        time.sleep(0.5)


def start_loop(info: dict, name: str, sources: list, seconds: float) -> str:
    out = f"/tmp/{name}.jsonl"
    on_node(info, f"rm -f {out} {out}.stop; cd {FILES} && (setsid nohup python3 lab_net.py clients --out {out} --seconds {seconds} "
                  f"--interval 0.2 --timeout 2 --reset {' '.join('--source ' + s for s in sources)} >/dev/null 2>&1 &)")
    return out


def stop_loop(info: dict, out: str) -> list:
    """Stop a loop of start_loop and return its requests (waits for its final line, at most 15 s)."""
    text = on_node(info, f"touch {out}.stop; for i in $(seq 1 150); do tail -n 1 {out} | grep -q '\"done\"' && break; sleep 0.1; done; cat {out}")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert rows and rows[-1].get("done"), f"the client loop {out} did not end: {rows[-3:]}"
    return rows[:-1]


def pinned(rows: list, before: float) -> dict:
    """Each client's real server: who answered its last successful request before `before`."""
    result: dict = {}
    for row in sorted(rows, key=lambda r: r["t"]):
        if row["t"] < before and not row["answer"].startswith("error"):
            result[row["source"]] = row["answer"]
    return result


def ask(info: dict, sources: list, count: int) -> dict:
    """`count` requests from each source, one after the other (lab_net.py ask): {source: [who answered, ...]}."""
    plan = [{"source": source, "port": 80, "count": count} for source in sources]
    steps = json.loads(on_node(info, f"cd {FILES} && python3 lab_net.py ask {shlex.quote(json.dumps(plan))}"))
    return {step["source"]: step["answers"] for step in steps}


def service_connections(info: dict) -> int:
    out = on_node(info, f"sleep 3; ipvsadm -L -n --stats -t {VIP}:80")
    return int(next(line.split()[2] for line in out.splitlines() if line.startswith(f"TCP  {VIP}:80 ")))


@pytest.fixture(scope="module")
def lab_node():
    with nodekit.booted_node(NAME, log) as info:
        for path in (REPO / "molecule" / "shared" / "files" / "lab_net.py", REPO / "tests" / "lab" / "topology.py",
                     REPO / "tests" / "node" / "health_case.py"):
            proc = subprocess.run(node.ssh_argv(info, ["sh", "-c", f"mkdir -p {FILES} && cat > {FILES}/{path.name}"]),
                                  input=path.read_bytes(), capture_output=True, timeout=120, check=False)
            assert proc.returncode == 0, proc.stderr
        on_node(info, LAB_UP)
        log("test hosts up: rs1-3 each in its own process, the sorry server, clients 203.0.113.10-59")
        yield info


@pytest.fixture(scope="module")
def playbook(tmp_path_factory, lab_node):
    work = tmp_path_factory.mktemp("health")
    inventory = work / "inventory.json"
    group_vars = {"director_schedulers": ["rr"], "director_install_packages": False, "ppc_name": "web", "ppc_vip": VIP,
                  "ppc_ports": [80], "ppc_scheduler": "rr", "ppc_persistence_timeout": PERSISTENCE, "ppc_forwarding": "nat",
                  "ppc_real_servers": [{"server": address} for address in RS.values()], "ppc_health_check": HEALTH_CHECK}
    # JSON is YAML: the inventory file as a dict.
    inventory.write_text(json.dumps({"all": {"children": {"lvs_directors": {
        "hosts": {lab_node["name"]: nodekit.host_vars(lab_node)}, "vars": group_vars}}}}, indent=2))
    # The recipe role alone (the director role's part of playbooks/ppc.yml, unchanged since the first runs, costs some
    # 15-20 s a run on UML): for the runs that change the recipe (reload, drain, refused configuration).
    recipe_only = work / "ppc-recipe.yml"
    recipe_only.write_text("- name: The PPC recipe role alone\n  hosts: lvs_directors\n  gather_facts: false\n  roles:\n"
                           "    - role: lvs.ipvs.ppc\n")
    env = nodekit.ansible_env(work, ANSIBLE_PIPELINING="True")
    timings: list = []

    def run(what: str, *options: str, extra: dict | None = None, expect_failure: bool = False, recipe: bool = False) -> tuple:
        started = time.monotonic()
        play = recipe_only if recipe else REPO / "playbooks" / "ppc.yml"
        command = [nodekit.ansible_playbook(), "-i", str(inventory), str(play), *options]
        if extra:
            command += ["-e", json.dumps(extra)]
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
        seconds = time.monotonic() - started
        timings.append((what, seconds))
        recap = re.search(rf"^{re.escape(NAME)}\s+:\s+(.*)$", proc.stdout, re.M)
        log(f"{what}: ansible-playbook {play.name} {' '.join(options)}: rc {proc.returncode} after {seconds:.0f} s; "
            f"{recap.group(1) if recap else 'no recap'}")
        if expect_failure:
            assert proc.returncode != 0, proc.stdout[-6000:]
        else:
            assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
        assert recap, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout, {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", recap.group(1))}

    yield run
    log("playbook runs: " + ", ".join(f"{what} {seconds:.0f} s" for what, seconds in timings))


def checker_pid(info: dict) -> str:
    return on_node(info, "systemctl show -p MainPID --value lvs-ipvs-check.service").strip()


def test_first_run_gives_the_service_to_keepalived(lab_node, playbook):
    output, counts = playbook("first run")
    assert counts["changed"] > 0 and counts["failed"] == 0, counts
    table, seconds = wait_kernel(lab_node, "keepalived builds the service", lambda k: all(k.get(a) == 1 for a in RS.values()), 30)
    log(f"the service as keepalived built it, {seconds:.1f} s after the run: {table}")
    assert table["service"] == f"-A -t {VIP}:80 -s rr -p {PERSISTENCE}", table
    assert SORRY not in table, table
    assert on_node(lab_node, "systemctl is-active lvs-ipvs-check.service").strip() == "active"
    # The restore file (lvs-ipvs-restore.service at boot) does not hold the keepalived-owned service (EEXIST trap).
    restore = on_node(lab_node, f"cat {RESTORE}")
    assert f"{VIP}:80" not in restore, restore
    # keepalived itself accepts the fragment, and runs with the values it declares: one keyword a line (a one-line block
    # would silently lose all but its first keyword). SIGUSR1 dumps the checker's running configuration.
    on_node(lab_node, f"keepalived --config-test --use-file={FRAGMENT}")
    dump = on_node(lab_node, "rm -f /tmp/keepalived_check.data; kill -USR1 $(systemctl show -p MainPID --value lvs-ipvs-check.service); "
                             "for i in $(seq 1 50); do [ -s /tmp/keepalived_check.data ] && break; sleep 0.1; done; sleep 0.5; "
                             "cat /tmp/keepalived_check.data")
    rs2_dump = dump.split(f"-> [{RS['rs2']}]:tcp:80\n", 1)[1].split("\n [", 1)[0]
    for line in [f"Retries = {RETRIES}", f"Delay before retry = {RETRY_DELAY * 1000000} us", f"Delay loop = {INTERVAL * 1000000} us",
                 f"Timeout = {TIMEOUT}.000000", 'Regex = "\\ 80"']:
        assert line in rs2_dump, f"{line!r} not in keepalived's dump of rs2's check:\n{rs2_dump}"


def check_failure(info: dict, inject: str, first_client: int, bound: float) -> None:  # pylint: disable=too-many-locals
    """rs2 dies while 9 fresh clients (3 pinned to each real server) make requests: rs2 is at weight 0 within `bound`;
    every client pinned to rs2 is answered by another real server (time printed); no request reaches rs2 after the
    detection (no answer from it, its connection counter still); the clients pinned elsewhere never move, never fail."""
    result = case(info, "fail", f"--inject {inject}", "--server rs2", f"--seconds {3 + bound + 5:.0f}", "--warmup 3",
                  *(f"--source {s}" for s in clients(first_client)))
    injected, detected, rows = result["injected"], result["detected"], result["requests"]
    assert detected is not None, f"{inject}: rs2 never left the pool"
    detection = detected - injected
    before = pinned(rows, injected)
    on_rs2 = sorted(s for s, server in before.items() if server == "rs2")
    elsewhere = sorted(s for s, server in before.items() if server != "rs2")
    assert len(before) == 9 and len(on_rs2) == 3, f"rr should pin 3 of 9 fresh clients to each real server: {before}"
    moved = {}
    for source in on_rs2:
        after = [r for r in rows if r["source"] == source and r["t"] >= injected]
        first_other = next((r for r in after if not r["answer"].startswith("error") and r["answer"] != "rs2"), None)
        assert first_other is not None, f"{source} (pinned to rs2) never answered by another real server: {after[-5:]}"
        moved[source] = round(first_other["end"] - injected, 2)
        late = [r for r in after if r["t"] > first_other["t"] and r["answer"] != first_other["answer"]]
        assert not late, f"{source} moved again or failed after it moved to {first_other['answer']}: {late[:5]}"
    errors = {s: sum(1 for r in rows if r["source"] == s and r["answer"].startswith("error")) for s in on_rs2}
    log(f"{inject}: rs2 at weight 0 {detection:.2f} s after the failure (bound {bound:.1f} s); its clients answered by "
        f"another real server after {moved} s; failed requests of rs2's clients before that: {errors}")
    assert detection <= bound, f"{inject}: detected after {detection:.2f} s, bound {bound:.1f} s"
    # Each moves on its next request after the detection: 0.2 s later, or up to its 2 s timeout if one was hanging.
    assert max(moved.values()) <= detection + 2.5, f"rs2's clients moved {moved} s after the failure, detection {detection:.2f} s"
    reached = [r for r in rows if r["t"] > detected and r["answer"] == "rs2"]
    assert not reached, f"requests answered by rs2 after the detection: {reached[:5]}"
    assert result["connections_at_end"] == result["connections_after_detection"], result
    for source in elsewhere:
        answers = [r["answer"] for r in rows if r["source"] == source]
        assert set(answers) == {before[source]}, f"{source} (pinned to {before[source]}) moved or failed: {sorted(set(answers))}"
    log(f"{inject}: {len(rows)} requests; the 6 clients pinned to rs1/rs3 stayed, none failed")


def test_listener_stopped_rs2_leaves_and_its_clients_move(lab_node, playbook):
    check_failure(lab_node, "listener", 20, REFUSED_BOUND)


def test_while_rs2_is_dead_the_playbook_changes_nothing_and_leaves_it_out(lab_node, playbook):
    pid = checker_pid(lab_node)
    fragment = on_node(lab_node, f"sha256sum {FRAGMENT}")
    output, counts = playbook("rs2 dead: check", "--check", "--diff")
    assert counts["changed"] == 0 and counts["failed"] == 0, output[-6000:]
    assert kernel(lab_node)[RS["rs2"]] == 0
    output, counts = playbook("rs2 dead: real run", "--diff")
    assert counts["changed"] == 0 and counts["failed"] == 0, output[-6000:]
    table = kernel(lab_node)
    assert table[RS["rs2"]] == 0 and table[RS["rs1"]] == 1 and table[RS["rs3"]] == 1, table
    assert on_node(lab_node, f"sha256sum {FRAGMENT}") == fragment
    assert checker_pid(lab_node) == pid, "the checker was restarted"
    # The read-back of a rollout (director_verify): the table is as declared, but rs2's check fails - the run fails and
    # says so, after waiting director_verify_timeout.
    output, counts = playbook("rs2 dead: verify", recipe=True, extra={"director_verify": True, "director_verify_timeout": 4},
                              expect_failure=True)
    assert counts["failed"] == 1 and counts["ignored"] == 1 and counts["changed"] == 0, output[-6000:]
    assert f"real server down {RS['rs2']}:80" in output and "health checks have not passed within 4 s" in output, output[-6000:]


def test_rs2_revives_and_a_second_run_changes_nothing(lab_node, playbook):
    back = case(lab_node, "revive", "--inject listener", "--server rs2")["back_after"]
    log(f"rs2's listener back: rs2 at its weight again after {back} s (bound {BACK_BOUND:.1f} s)")
    assert back is not None and back <= BACK_BOUND, back
    output, counts = playbook("rs2 back: second run, read back", recipe=True, extra={"director_verify": True})
    assert counts["changed"] == 0 and counts["failed"] == 0, output[-6000:]
    assert "Verify - the kernel holds what it declares" in output, output[-6000:]
    assert all(kernel(lab_node)[a] == 1 for a in RS.values())


def test_host_dead_rs2_leaves_and_its_clients_move(lab_node, playbook):
    check_failure(lab_node, "blackhole", 30, DEAD_HOST_BOUND)
    back = case(lab_node, "revive", "--inject blackhole", "--server rs2")["back_after"]
    log(f"rs2's host back: rs2 at its weight again after {back} s (bound {HOST_BACK_BOUND:.1f} s)")
    assert back is not None and back <= HOST_BACK_BOUND, back


def test_reload_under_load_edits_in_place(lab_node, playbook):
    """A weight and the persistence timeout changed through the playbook while 8 clients make requests: keepalived
    edits the service in place (SIGHUP): no failed request, no client moved, the connection counter goes on."""
    pid = checker_pid(lab_node)
    out = start_loop(lab_node, "reload", BASE_CLIENTS, 150)
    time.sleep(3)
    before_count = service_connections(lab_node)
    started = time.time()
    playbook("reload under load", "--diff", recipe=True, extra=RELOADED)
    time.sleep(2)
    rows = stop_loop(lab_node, out)
    after_count = service_connections(lab_node)
    table = kernel(lab_node)
    assert table["service"] == f"-A -t {VIP}:80 -s rr -p 120", table
    assert table[RS["rs1"]] == 2 and table[RS["rs2"]] == 1 and table[RS["rs3"]] == 1, table
    failed = [r for r in rows if r["answer"].startswith("error")]
    answers = {s: sorted({r["answer"] for r in rows if r["source"] == s}) for s in BASE_CLIENTS}
    during = [r for r in rows if r["t"] >= started]
    log(f"reload under load: {len(rows)} requests ({len(during)} during and after the run), {len(failed)} failed; "
        f"each client's real servers: {answers}; service connections {before_count} -> {after_count}")
    assert not failed, failed[:5]
    assert all(len(v) == 1 for v in answers.values()), f"clients moved: {answers}"
    # Re-created, the service would count from 0 again.
    assert after_count >= before_count + len(during), (before_count, after_count, len(during))
    assert checker_pid(lab_node) == pid, "the checker was restarted instead of reloaded"


def test_drain_rs1_while_rs3_is_dead(lab_node, playbook):
    """rs3's listener stops; once it is out, rs1 is drained through the playbook (ppc_drained) while every client
    used so far makes requests: no failed request, the run ends when rs1 has no connection and no live template."""
    on_node(lab_node, f"cd {FILES} && python3 lab_net.py listener stop rs3")
    wait_kernel(lab_node, "rs3 out", lambda k: k.get(RS["rs3"]) in (0, None), DEAD_HOST_BOUND)
    sources = BASE_CLIENTS + clients(20) + clients(30)
    out = start_loop(lab_node, "drain", sources, 200)
    time.sleep(3)
    started = time.time()
    playbook("drain rs1", recipe=True, extra=dict(RELOADED, ppc_drained=[RS["rs1"]]))
    ended = time.time()
    state = on_node(lab_node, f"ipvsadm -L -n -t {VIP}:80; ipvsadm -L -n -c")
    time.sleep(2)
    rows = stop_loop(lab_node, out)
    table = kernel(lab_node)
    assert table[RS["rs1"]] == 0 and table[RS["rs2"]] == 1, table
    rs1_line = next(line for line in state.splitlines() if f"-> {RS['rs1']}:80" in line)
    assert rs1_line.split()[4] == "0", f"rs1 still has active connections when the run ended:\n{state}"
    # A template has client port 0; one the kernel invalidated has virtual port 65535 and pins nobody.
    templates = [line for line in state.splitlines()
                 if line.split()[3:6] and line.split()[3].endswith(":0") and line.split()[4:6] == [f"{VIP}:80", f"{RS['rs1']}:80"]]
    assert not templates, "live templates to rs1 when the run ended:\n" + "\n".join(templates)
    failed = [r for r in rows if r["answer"].startswith("error")]
    late = [r for r in rows if r["t"] > ended and r["answer"] != "rs2"]
    last_rs1 = max((r["end"] for r in rows if r["answer"] == "rs1"), default=None)
    log(f"drain of rs1 under load: the run took {ended - started:.0f} s; the last answer from rs1 came "
        f"{(last_rs1 - started) if last_rs1 else 0:.1f} s after the run's start; {len(rows)} requests, {len(failed)} failed; "
        f"after the run, answers not from rs2: {len(late)}")
    assert not failed, failed[:5]
    assert not late, late[:5]


def test_sorry_server_when_all_are_dead_and_gone_when_one_is_back(lab_node, playbook):
    on_node(lab_node, f"cd {FILES} && python3 lab_net.py listener start rs3 && python3 lab_net.py listener stop rs1 "
                      "&& python3 lab_net.py listener stop rs2 && python3 lab_net.py listener stop rs3")
    table, seconds = wait_kernel(lab_node, "the sorry server in", lambda k: k.get(SORRY) is not None, 30)
    log(f"all three listeners stopped: the sorry server in the pool after {seconds:.1f} s: {table}")
    assert all(table.get(a) in (0, None) for a in RS.values()), table
    answers = ask(lab_node, ["203.0.113.40", "203.0.113.41"], 3)
    assert answers == {"203.0.113.40": ["sorry"] * 3, "203.0.113.41": ["sorry"] * 3}, answers
    on_node(lab_node, f"cd {FILES} && python3 lab_net.py listener start rs2")
    table, seconds = wait_kernel(lab_node, "the sorry server out", lambda k: k.get(SORRY) is None and k.get(RS["rs2"], 0) > 0, 30)
    log(f"rs2 back: the sorry server out of the pool after {seconds:.1f} s: {table}")
    answers = ask(lab_node, ["203.0.113.40", "203.0.113.42"], 3)
    assert answers == {"203.0.113.40": ["rs2"] * 3, "203.0.113.42": ["rs2"] * 3}, answers
    on_node(lab_node, f"cd {FILES} && python3 lab_net.py listener start rs1 && python3 lab_net.py listener start rs3")
    # rs1 is drained (weight 0 declared); rs3 comes back.
    wait_kernel(lab_node, "rs3 back", lambda k: k.get(RS["rs3"]) == 1, BACK_BOUND + 5)


def test_a_configuration_keepalived_would_refuse_is_never_installed(lab_node, playbook):
    """A text of 1100 characters: keepalived reads lines of at most 1024 bytes and `keepalived --config-test` crashes on
    such a line. The model now refuses it (at most 255 characters) at the role's render step, before the fragment's own
    `validate: keepalived --config-test` would: nothing is written, the fragment, the running checker and the kernel
    stay as they were."""
    pid = checker_pid(lab_node)
    before = on_node(lab_node, f"sha256sum {FRAGMENT} {RESTORE}; ipvsadm -S -n")
    output, counts = playbook("refused configuration", recipe=True, expect_failure=True,
                              extra={"ppc_health_check": dict(HEALTH_CHECK, text="a" * 1100)})
    task, failed = "?", []
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line.split("]", 1)[0][6:]
        elif line.startswith("fatal:"):
            failed.append(f"{task}: {line[:300]}")
    log(f"refused configuration: the run failed ({counts}): {failed}")
    assert counts["failed"] == 1, counts
    assert on_node(lab_node, f"sha256sum {FRAGMENT} {RESTORE}; ipvsadm -S -n") == before
    assert checker_pid(lab_node) == pid
    assert on_node(lab_node, "systemctl is-active lvs-ipvs-check.service").strip() == "active"
