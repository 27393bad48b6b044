# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sets the sysctls of the director_ha role that differ, in one remote command (run by the role with `python3 -c`).

Reads {"check": false, "sysctls": {"net.ipv4.vs.sync_version": "1", ...}} on stdin; loads ip_vs first when its sysctls
are not there yet (they exist only once it is loaded); prints JSON {"changed": [what changed]}. Exits non-zero with a
message on stderr when something fails.
"""

import json
import os
import subprocess
import sys


def apply(spec):
    check = bool(spec.get("check"))
    changed = []
    sysctls = spec.get("sysctls", {})
    if any(name.startswith("net.ipv4.vs.") for name in sysctls) and not os.path.isdir("/proc/sys/net/ipv4/vs"):
        changed.append("loaded ip_vs")
        if not check:
            subprocess.run(["modprobe", "ip_vs"], check=True, stdout=subprocess.DEVNULL)
    for name, value in sysctls.items():
        path = "/proc/sys/" + name.replace(".", "/")
        try:
            with open(path, encoding="ascii") as handle:
                current = " ".join(handle.read().split())
        except FileNotFoundError:
            if not check:
                raise
            current = ""
        wanted = " ".join(str(value).split())
        if current != wanted:
            changed.append("sysctl %s = %s (was %s)" % (name, wanted, current or "absent"))
            if not check:
                with open(path, "w", encoding="ascii") as handle:
                    handle.write(wanted + "\n")
    return {"changed": changed}


def main():
    try:
        result = apply(json.load(sys.stdin))
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        sys.stderr.write("lvs.ipvs: %s\n" % exc)
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
