# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Puts the lvs.ipvs roles' state on a host in ONE remote command (run by the roles with `python3 -c`).

Every module run costs a Python start and a round trip, seconds on a small or emulated host; this does what would be
a dozen template, file, command and systemd tasks at once, idempotently. It reads a JSON spec on stdin:

    {"check": false,                           report only, change nothing (check mode)
     "dirs": ["/etc/lvs-ipvs/ipvsadm.d"],      folders to make (0755)
     "read": ["/etc/lvs-ipvs/x.rules"],        files whose content (before any change) to return, "" when absent
     "files": [{"path": P, "content": C, "mode": "0644"},
               {"path": P, "content": HEADER, "command": ["nft", "-s", "list", ...]}],   HEADER + the command's output
     "modules": ["ip_vs", "ip_vs_rr"],         kernel modules to load when not loaded
     "sysctls": {"net.ipv4.ip_forward": "1"},  sysctls to set when they differ (blanks squeezed when compared)
     "check_packages": true,                   say whether pyroute2 imports and ipvsadm and nft are found
     "unit": "lvs-ipvs-restore.service"}       enable it when it is not (WantedBy=sysinit.target); else daemon-reload when its file changed

and prints JSON: {"changed": [what changed], "missing": [what is missing], "read": {path: content}}. Exits non-zero
with a message on stderr when something fails.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile


def _run(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), proc.stderr.strip() or proc.returncode))
    return proc.stdout


def _needs_reload(unit):
    """Whether the manager holds an older version of `unit` than the file on disk (a query, not a reload)."""
    return _run(["systemctl", "show", "--property=NeedDaemonReload", "--value", unit]).strip() == "yes"


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(path, content, mode):
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lvs-ipvs.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def apply(spec):
    check = bool(spec.get("check"))
    changed, missing, read = [], [], {}
    for path in spec.get("read", []):
        read[path] = _read(path) or ""
    for path in spec.get("dirs", []):
        if not os.path.isdir(path):
            changed.append("made %s" % path)
            if not check:
                os.makedirs(path, 0o755)
    for entry in spec.get("files", []):
        content = entry.get("content", "")
        if entry.get("command"):
            try:
                content += _run(entry["command"])
            except (OSError, RuntimeError):
                if not check:
                    raise
                content += "# (check mode: the command failed)\n"
        mode = int(entry.get("mode", "0644"), 8)
        current = _read(entry["path"])
        if current != content:
            changed.append("wrote %s" % entry["path"])
            if not check:
                _write(entry["path"], content, mode)
        elif not check and os.stat(entry["path"]).st_mode & 0o7777 != mode:
            changed.append("chmod %s %s" % (entry["mode"], entry["path"]))
            os.chmod(entry["path"], mode)
    for module in spec.get("modules", []):
        if not os.path.isdir("/sys/module/%s" % module):
            changed.append("loaded %s" % module)
            if not check:
                _run(["modprobe", module])
    for name, value in spec.get("sysctls", {}).items():
        path = "/proc/sys/" + name.replace(".", "/")
        current = " ".join((_read(path) or "").split())
        wanted = " ".join(str(value).split())
        if current != wanted:
            changed.append("sysctl %s = %s (was %s)" % (name, wanted, current or "absent"))
            if not check:
                with open(path, "w", encoding="ascii") as handle:
                    handle.write(wanted + "\n")
    if spec.get("check_packages"):
        # Found, not imported: importing pyroute2 takes seconds on a small host.
        if importlib.util.find_spec("pyroute2") is None:
            missing.append("pyroute2")
        missing += [tool for tool in ("ipvsadm", "nft") if not shutil.which(tool)]
    unit = spec.get("unit")
    if unit:
        # Enabled = the symlink of its [Install] WantedBy=sysinit.target (read from the disk: no manager call, which can
        # fail while the manager reloads). The unit only runs at boot, when the manager reads it anyway: a unit that is
        # new to the manager is enabled without a reload (minutes on a small busy host); a rewritten one is reloaded.
        written = "wrote /etc/systemd/system/%s" % unit in changed
        if not os.path.lexists("/etc/systemd/system/sysinit.target.wants/%s" % unit):
            changed.append("systemctl enable %s" % unit)
            if not check:
                _run(["systemctl", "--no-reload", "enable", unit])
                if _needs_reload(unit):
                    _run(["systemctl", "daemon-reload"])
        elif written:
            changed.append("systemctl daemon-reload")
            if not check:
                _run(["systemctl", "daemon-reload"])
    return {"changed": changed, "missing": missing, "read": read}


def main():
    try:
        result = apply(json.load(sys.stdin))
    except (OSError, RuntimeError, ValueError) as exc:
        sys.stderr.write("lvs.ipvs: %s\n" % exc)
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
