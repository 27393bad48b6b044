# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A node's SSH port on this machine: 127.0.0.1:<port> forwarded into the lab's network namespace.

    ip netns exec lvs-lab python3 forward.py --fd N --to 198.51.100.130:22 --watch PID

The listening socket (fd N) was bound by the parent in this machine's namespace and is inherited; this process runs inside
the lab's namespace, so every connection it opens to the node starts there. It exits when the node's process (PID) has
gone, checked every second, and on SIGTERM. Standard library only: it runs under the system's python3.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((target, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def _serve(client: socket.socket, host: str, port: int) -> None:
    try:
        upstream = socket.create_connection((host, port), timeout=10)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    client.settimeout(None)
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone too (the node's process ended, its parent has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--to", required=True, help="HOST:PORT inside the lab's namespace")
    parser.add_argument("--watch", type=int, required=True, help="exit when this pid has gone")
    args = parser.parse_args()
    host, port = args.to.rsplit(":", 1)
    listener = socket.socket(fileno=args.fd)
    listener.settimeout(1.0)
    signal.signal(signal.SIGTERM, lambda *dummy: sys.exit(0))
    while _alive(args.watch):
        try:
            client, dummy = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=_serve, args=(client, host, int(port)), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
