# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Command line of the lab: `python -m tests.lab {setup,run,up,ssh,down,inventory}`."""

from __future__ import annotations

import argparse
import sys

from .errors import LabError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description="A real IPVS kernel for lvs.ipvs, from Debian's archive.")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("setup", help="install the lab's packages, fetch the kernel, build the UML kernel and the images (cached)")
    sub.add_parser("demo", help="the main job: a PNMPP director in the lab VM, with traffic showing the persistence")
    run = sub.add_parser("run", help="fast mode: boot over this machine's root and run CMD as root inside")
    run.add_argument("--timeout", type=float, default=1800, help="seconds the command may take (default 1800)")
    run.add_argument("--boot-timeout", type=float, default=120, help="seconds the VM may take to boot (default 120)")
    run.add_argument("--memory", type=int, default=3072, help="MiB of memory (default 3072)")
    run.add_argument("--engine", choices=("uml", "qemu"), help="uml or qemu (default: LVS_IPVS_LAB_ENGINE, else uml where a probe boot works)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ...")
    up = sub.add_parser("up", help="node mode: start a Debian node reachable over SSH")
    up.add_argument("names", nargs="+")
    up.add_argument("--boot-timeout", type=float, default=240)
    ssh = sub.add_parser("ssh", help="run a command on a node over SSH (a shell without one)")
    ssh.add_argument("name")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    down = sub.add_parser("down", help="stop nodes (all without names)")
    down.add_argument("names", nargs="*")
    sub.add_parser("inventory", help="print the path of the inventory of running nodes")
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    # Imported here so `--help` stays instant.
    from . import fast, node  # pylint: disable=import-outside-toplevel

    if args.verb == "setup":
        fast.prepare()
        node.ensure_image()
        return 0
    if args.verb == "demo":
        from . import demo  # pylint: disable=import-outside-toplevel

        return demo.main()
    if args.verb == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return fast.run_command(command, timeout=args.timeout, boot_timeout=args.boot_timeout, memory_mb=args.memory, engine=args.engine)
    if args.verb == "up":
        for name in args.names:
            node.up(name, boot_timeout=args.boot_timeout)
        print(node.inventory_path())
        return 0
    if args.verb == "ssh":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return node.ssh(args.name, command)
    if args.verb == "down":
        node.down(args.names or None)
        return 0
    if args.verb == "inventory":
        print(node.inventory_path())
        return 0
    raise LabError(f"unknown verb {args.verb}")


if __name__ == "__main__":
    sys.exit(main())
