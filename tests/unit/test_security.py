# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Security, checked statically over plugins/ (the code that runs as root on every node) and over the roles' tasks.

plugins/ (AST): no shell (shell=True, use_unsafe_shell=True, os.system, os.popen, the os.exec* / os.spawn*
family, subprocess.getoutput, pty.spawn), no eval/exec/compile, no pickle or yaml.load, no tempfile.mktemp;
every command (subprocess.*, AnsibleModule.run_command and the backends' runners) is an argument list
written as a list literal, never a string and never a string built by formatting; every file created
gets an explicit mode without write access for group or others; every created directory one without it.
Each rule has a negative control: the checker finds a planted offence.

Behaviour: the table lock is created 0600 even with umask 0; a rule name the model accepts can never
break out of its iptables-restore line or its comment (the one place our text reaches another program's
parser as text).

roles/**/tasks/*.yml: every copy/template/file task that writes under /etc or /var/lib says owner root and
mode 0644 or 0600 (0755 or 0700 for a directory).
"""

from __future__ import annotations

import ast
import glob
import os
import re
import shlex
import stat
import typing as t

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.lvs.ipvs.plugins.module_utils import _lock
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import request_from_params
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark_iptables import IptablesBackend, parse_line

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN_FILES = sorted(glob.glob(os.path.join(REPO, "plugins", "**", "*.py"), recursive=True))

FORBIDDEN_CALLS = {
    "os.system", "os.popen", "os.execl", "os.execle", "os.execlp", "os.execlpe", "os.execv", "os.execve", "os.execvp", "os.execvpe",
    "os.spawnl", "os.spawnle", "os.spawnlp", "os.spawnlpe", "os.spawnv", "os.spawnve", "os.spawnvp", "os.spawnvpe", "os.posix_spawn",
    "os.posix_spawnp", "subprocess.getoutput", "subprocess.getstatusoutput", "pty.spawn", "eval", "exec", "compile", "pickle.load",
    "pickle.loads", "marshal.loads", "yaml.load", "yaml.unsafe_load", "tempfile.mktemp", "shelve.open",
}
COMMAND_CALLS = {"subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call", "subprocess.check_output"}
# Callables that take a command as their first argument: AnsibleModule.run_command and the fwmark backends' runners.
COMMAND_METHODS = {"run_command", "_run", "runner"}
SHELL_KEYWORDS = {"shell", "use_unsafe_shell", "executable"}


def dotted(node: ast.AST) -> str:
    """`os.system` for the call target os.system; '' when not a plain dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _imports(tree: ast.AST) -> t.Dict[str, str]:
    """Local name -> the dotted name it stands for (from subprocess import run -> run: subprocess.run)."""
    names: t.Dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name] = alias.name
    return names


def _is_formatted_string(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return any(isinstance(side, (ast.Constant, ast.JoinedStr)) and not isinstance(getattr(side, "value", None), (int, float))
                   or _is_formatted_string(side) for side in (node.left, node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join", "format_map"):
        return True
    return False


def _is_split(node: ast.AST) -> bool:
    """A string split into words (str.split, shlex.split): a command line in disguise."""
    return isinstance(node, ast.Call) and dotted(node.func).rsplit(".", 1)[-1] == "split"


def _mode_value(node: t.Optional[ast.AST]) -> t.Optional[int]:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    return None


def _list_parameters(tree: ast.AST) -> t.Dict[int, t.Set[str]]:
    """id(call) -> the parameters of its enclosing functions annotated as a list of strings (a typed pass-through:
    `def runner(args: t.List[str], ...): return module.run_command(args, ...)`, whose own callers are checked)."""
    allowed: t.Dict[int, t.Set[str]] = {}
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names = {arg.arg for arg in func.args.args + func.args.kwonlyargs
                 if arg.annotation is not None and re.fullmatch(r"(t\.|typing\.)?(List|list|Sequence)\[str\]", ast.unparse(arg.annotation))}
        for node in ast.walk(func):
            if isinstance(node, ast.Call):
                allowed.setdefault(id(node), set()).update(names)
    return allowed


def offences(source: str, filename: str = "<plugin>") -> t.List[str]:
    """Every security rule `source` breaks, one line each (file:line: what)."""
    tree = ast.parse(source, filename)
    aliases = _imports(tree)
    passthrough = _list_parameters(tree)
    found: t.List[str] = []

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{os.path.relpath(filename, REPO) if os.path.isabs(filename) else filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "subprocess", "pickle", "pty", "commands"):
            for alias in node.names:
                if f"{node.module}.{alias.name}" in FORBIDDEN_CALLS:
                    say(node, f"imports {node.module}.{alias.name}")
        if isinstance(node, ast.Import) and any(alias.name in ("pickle", "commands", "pty", "shelve", "marshal") for alias in node.names):
            say(node, "imports a module that runs shells or unpickles")
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        head, dot, rest = name.partition(".")
        full = f"{aliases.get(head, head)}{dot}{rest}"
        for keyword in node.keywords:
            if keyword.arg in SHELL_KEYWORDS and not (isinstance(keyword.value, ast.Constant) and keyword.value.value in (False, None)):
                say(node, f"{name}(..., {keyword.arg}=...) runs a shell")
        if full in FORBIDDEN_CALLS or name in FORBIDDEN_CALLS:
            say(node, f"calls {full}")
        if full == "yaml.load" or (name.endswith(".load") and "yaml" in name):
            say(node, "yaml.load")
        last = name.rsplit(".", 1)[-1]
        if full in COMMAND_CALLS or last in COMMAND_METHODS:
            command = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg in ("args", "argv")), None)
            if command is None:
                say(node, f"{name}() without a command")
            elif isinstance(command, ast.Name) and command.id in passthrough.get(id(node), set()):
                pass
            elif not isinstance(command, (ast.List, ast.Tuple)) or _is_split(command):
                say(node, f"{name}() with a command that is not a list literal ({ast.dump(command)[:60]})")
            elif any(isinstance(element, ast.Starred) and (_is_formatted_string(element.value) or _is_split(element.value)) for element in command.elts):
                say(node, f"{name}() splices a formatted or split string into its command")
            if command is not None and (_is_formatted_string(command) or isinstance(command, ast.Constant)):
                say(node, f"{name}() with a command string")
        if full == "os.open" or name == "os.open":
            flags = ast.unparse(node.args[1]) if len(node.args) > 1 else ""
            if "O_CREAT" in flags:
                mode = _mode_value(node.args[2] if len(node.args) > 2 else next((k.value for k in node.keywords if k.arg == "mode"), None))
                if mode is None:
                    say(node, "os.open(O_CREAT) without an explicit numeric mode")
                elif mode & 0o022 or mode & 0o111:
                    say(node, f"os.open(O_CREAT) with mode {oct(mode)}")
        if full in ("os.makedirs", "os.mkdir") or name in ("os.makedirs", "os.mkdir"):
            mode = _mode_value(node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None))
            if mode is None or mode & 0o022:
                say(node, f"{name}() without a mode that denies group and others write access")
        if full == "os.chmod" or name == "os.chmod":
            mode = _mode_value(node.args[1] if len(node.args) > 1 else None)
            if mode is None or mode & 0o022:
                say(node, "os.chmod() to a mode that is not a constant without group/other write")
        if name == "open" and node.args:
            mode_node = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            mode_text = mode_node.value if isinstance(mode_node, ast.Constant) else ("r" if mode_node is None else "?")
            if not isinstance(mode_text, str) or set(mode_text) & set("wax+?"):
                say(node, f"open(..., {mode_text!r}) writes a file with the umask's mode: use os.open with an explicit mode")
    return found


def test_there_are_plugins_to_check():
    assert len(PLUGIN_FILES) >= 20, PLUGIN_FILES
    assert any(path.endswith("_lock.py") for path in PLUGIN_FILES)


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=[os.path.relpath(p, REPO) for p in PLUGIN_FILES])
def test_plugin_is_clean(path):
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    assert offences(source, path) == []


def test_the_commands_the_plugins_run_are_found():
    """The checker sees the plugins' real command calls (so its silence above means something)."""
    seen = []
    for path in PLUGIN_FILES:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        seen += [dotted(n.func).rsplit(".", 1)[-1] for n in ast.walk(tree) if isinstance(n, ast.Call) and dotted(n.func).rsplit(".", 1)[-1] in COMMAND_METHODS]
    assert "run_command" in seen and seen.count("_run") >= 3, seen


BAD = [
    ("import os\nos.system('ipvsadm -C')\n", "calls os.system"),
    ("import os\nos.popen('ipvsadm -Ln')\n", "calls os.popen"),
    ("from os import system\nsystem('x')\n", "imports os.system"),
    ("import subprocess\nsubprocess.run('ipvsadm -C', shell=True)\n", "runs a shell"),
    ("import subprocess\nsubprocess.run(['ipvsadm'], shell=1)\n", "runs a shell"),
    ("import subprocess as sp\nsp.check_output(f'ipvsadm -a -r {server}')\n", "command string"),
    ("import subprocess\nsubprocess.Popen(cmd)\n", "not a list literal"),
    ("import subprocess\nsubprocess.run('ipvsadm -C'.split())\n", "not a list literal"),
    ("from subprocess import run\nrun('ipvsadm %s' % args)\n", "command string"),
    ("def f(module):\n    module.run_command('nft -f -', use_unsafe_shell=True)\n", "runs a shell"),
    ("def f(module, x):\n    module.run_command('iptables -A %s' % x)\n", "command string"),
    ("def f(self, x):\n    self._run(' '.join(x), None)\n", "command string"),
    ("def f(module, args: str):\n    module.run_command(args)\n", "not a list literal"),
    ("def f(self, x):\n    self._run([*'nft -f {}'.format(x).split()], None)\n", "splices"),
    ("import shlex\ndef f(self, x):\n    self._run(['nft', *shlex.split(x)], None)\n", "splices"),
    ("x = eval(text)\n", "calls eval"),
    ("import pickle\n", "unpickles"),
    ("import yaml\nyaml.load(text)\n", "yaml.load"),
    ("import tempfile\ntempfile.mktemp()\n", "tempfile.mktemp"),
    ("import os\nos.open('/run/x.lock', os.O_RDWR | os.O_CREAT)\n", "without an explicit numeric mode"),
    ("import os\nos.open('/run/x.lock', os.O_RDWR | os.O_CREAT, 0o666)\n", "mode 0o666"),
    ("import os\nos.makedirs('/run/lvs-ipvs', exist_ok=True)\n", "denies group"),
    ("import os\nos.makedirs('/run/lvs-ipvs', mode=0o777)\n", "denies group"),
    ("import os\nos.chmod(path, 0o666)\n", "os.chmod"),
    ("with open('/etc/x', 'w') as h:\n    h.write('x')\n", "writes a file"),
    ("with open('/etc/x', mode='a') as h:\n    h.write('x')\n", "writes a file"),
]


@pytest.mark.parametrize("source, what", BAD, ids=[b[1] + f"-{i}" for i, b in enumerate(BAD)])
def test_the_checker_finds_a_planted_offence(source, what):
    found = offences(source)
    assert any(what in line for line in found), found


def test_the_checker_accepts_what_the_plugins_do():
    good = ("import os, subprocess\n"
            "subprocess.run(['ipvsadm', '-S', '-n', f'--x={y}'], check=False)\n"
            "def f(module, self, args):\n    module.run_command([nft, '-j', '-f', '-'], data=d)\n    self._run([program, '-w', '5'], None)\n"
            "def runner(args: t.List[str], data=None):\n    return module.run_command(args, data=data)\n"
            "os.makedirs('/run/lvs-ipvs', mode=0o755, exist_ok=True)\n"
            "fd = os.open('/run/lvs-ipvs/x.lock', os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)\n"
            "os.open('/proc/thread-self/ns/net', os.O_RDONLY)\n"
            "with open('/proc/net/ip_vs_conn', encoding='ascii') as h:\n    h.read()\n")
    assert offences(good) == []


# ------------------------------------------------------------------ behaviour


def test_the_table_lock_is_private_whatever_the_umask(tmp_path, monkeypatch):
    monkeypatch.setattr(_lock, "LOCK_DIR", str(tmp_path / "lvs-ipvs"))
    old = os.umask(0)
    try:
        with _lock.table_lock("lvs-test"):
            pass
    finally:
        os.umask(old)
    lock = tmp_path / "lvs-ipvs" / "lvs-test.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "lvs-ipvs").stat().st_mode) == 0o755


@pytest.mark.parametrize("netns", ["../../etc/passwd", "a/b", "..", ".", "x\ny", "lvs d", "\x00", "é"])
def test_the_lock_file_stays_in_the_lock_folder(netns):
    path = _lock.lock_path(netns)
    assert os.path.dirname(path) == _lock.LOCK_DIR and re.fullmatch(r"[A-Za-z0-9_.-]+\.lock", os.path.basename(path)), path
    assert os.path.basename(path) not in (".lock", "..lock") or path.startswith(_lock.LOCK_DIR + "/")


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(min_size=1, max_size=40), st.sampled_from(["198.51.100.1", "2001:db8::1", "198.51.100.0/24"]),
       st.lists(st.sampled_from(["80", "443", "8000-8080", "1", "65535"]), min_size=1, max_size=20))
def test_an_accepted_rule_name_cannot_escape_its_iptables_line(name, destination, ports):
    """iptables-restore reads our lines as text: whatever name the model accepts stays one word of one line."""
    try:
        request = request_from_params({"name": name, "mark": 8, "destination": destination, "ports": ports, "protocol": "tcp",
                                       "state": "present", "backend": "iptables", "table": "lvs_ipvs", "purge": False, "local": True})
    except OptionError as exc:
        assert exc.option in ("name", "ports", "destination"), exc
        return
    backend = IptablesBackend(lambda *a: (1, "", "not run"), lambda program: None)
    for rule in request.rules:
        for entry in backend.entries(rule):
            assert "\n" not in entry.text and "\r" not in entry.text and "\x00" not in entry.text, entry.text
            family = rule.match.family
            assert parse_line(entry.text, family) == (entry.chain, rule.name, entry.match), entry.text
            words = shlex.split(entry.text)
            assert words[words.index("--comment") + 1] == f"lvs.ipvs:{rule.name}"


# ------------------------------------------------------------------ the roles

ROLE_TASK_FILES = sorted(glob.glob(os.path.join(REPO, "roles", "*", "tasks", "**", "*.yml"), recursive=True))
WRITERS = {"copy", "template", "file"}
SENSITIVE = ("/etc/", "/var/lib/")


def _role_vars(role_dir: str) -> t.Dict[str, t.Any]:
    found: t.Dict[str, t.Any] = {}
    for part in ("defaults", "vars"):
        path = os.path.join(role_dir, part, "main.yml")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                found.update(yaml.safe_load(handle) or {})
    return found


def _resolve(value: t.Any, variables: t.Mapping[str, t.Any], depth: int = 0) -> str:
    """A path with its simple {{ var }} references replaced from the role's defaults and vars (others left as they are)."""
    text = str(value)
    if depth > 5:
        return text
    replaced = re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: str(variables.get(m.group(1), m.group(0))), text)
    return replaced if replaced == text else _resolve(replaced, variables, depth + 1)


def _tasks(items: t.Any) -> t.Iterator[t.Dict[str, t.Any]]:
    for task in items or []:
        if not isinstance(task, dict):
            continue
        yield task
        for section in ("block", "rescue", "always"):
            yield from _tasks(task.get(section))


def role_file_writes() -> t.List[t.Tuple[str, str, str, t.Dict[str, t.Any]]]:
    """(file, task name, module, resolved args) of every copy/template/file task whose path is under /etc or /var/lib."""
    writes = []
    for path in ROLE_TASK_FILES:
        role_dir = path.split(os.sep + "tasks" + os.sep)[0]
        variables = _role_vars(role_dir)
        with open(path, encoding="utf-8") as handle:
            tasks = yaml.safe_load(handle)
        for task in _tasks(tasks):
            for key, args in task.items():
                module = key.rsplit(".", 1)[-1]
                if module not in WRITERS or not isinstance(args, dict) or not (key == module or key.startswith("ansible.builtin.")):
                    continue
                target = _resolve(args.get("dest") or args.get("path") or args.get("name") or "", variables)
                if target.startswith(SENSITIVE):
                    writes.append((os.path.relpath(path, REPO), str(task.get("name")), module, dict(args, _target=target)))
    return writes


# (task file, target) pairs excused from the rule while a fix is pending: none.
KNOWN_OFFENDERS: t.Set[t.Tuple[str, str]] = set()


def role_offences(writes: t.Sequence[t.Tuple[str, str, str, t.Dict[str, t.Any]]]) -> t.List[t.Tuple[str, str, str]]:
    """(task file, target, what is wrong) of every write that is not root and 0644/0600 (0755/0700 for a directory)."""
    bad = []
    for path, name, module, args in writes:
        state = args.get("state", "file")
        if module == "file" and state in ("absent", "link"):
            continue
        allowed = ("0755", "0700") if module == "file" and state == "directory" else ("0644", "0600")
        mode = str(args.get("mode", "")).strip()
        if args.get("owner") != "root" or mode not in allowed:
            bad.append((path, args["_target"], f"{path}: {name!r} ({module} {args['_target']}): owner {args.get('owner')!r}, "
                        f"mode {args.get('mode')!r}; wanted root and {' or '.join(allowed)}"))
    return bad


def test_role_files_under_etc_and_var_lib_are_root_owned_and_not_world_writable():
    writes = role_file_writes()
    assert writes, ROLE_TASK_FILES  # the roles write files under /etc (sysctl.d, modules-load.d, systemd units): not vacuous
    bad = [what for path, target, what in role_offences(writes) if (path, target) not in KNOWN_OFFENDERS]
    assert bad == [], "\n".join(bad)
