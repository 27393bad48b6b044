# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the pip bootstrap script that ansible-test downloads from its own file server.

This workplace reaches only the package registries, so tests/sanity/run.sh places this file
where ansible-test caches that script. It does the same job with the standard library's
ensurepip, then installs the pinned packages ansible-test asks for from the package index.
Arguments are those ansible-test passes to its bootstrap script (pip options and packages).
"""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
