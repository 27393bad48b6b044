# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast mode: boot Debian's kernel over this machine's own root and run one command inside.

The guest mounts the host's / read-only over 9p with a tmpfs overlay on top, so it sees the
repository, the virtualenv and the cache exactly where they are on the host, and can write
anywhere without touching the host. One folder of the run (the "run folder") is mounted
read-write so the guest can hand back its exit status and files. No network device at all.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .errors import LabError
from .provision import Kernel, build_initramfs, cache_dir, ensure_host_packages, ensure_kernel, log
from .qemu import accel_args, qemu_binary

# Only what the first stage needs to reach the host's root; everything else is loaded later by
# the host's own kmod inside the guest (request_module works: modules.dep is in the cache).
INITRAMFS_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]
INITRAMFS_FORMAT = "4"  # bump when init or the module list changes, to rebuild cached images

GUEST_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
RUN=""
for word in $(cat /proc/cmdline); do
  case "$word" in lab.run=*) RUN="${word#lab.run=}" ;; esac
done
say() { echo "lab-guest: $*" > /dev/ttyS0; }
for ko in $(cat /modules.order); do insmod "/modules/$ko" 2>/dev/null || say "insmod $ko failed"; done
mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || { say "cannot mount the host root over 9p"; poweroff -f; }
mount -t tmpfs -o size=75% tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot || { say "cannot mount the overlay"; poweroff -f; }
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
mkdir -p /newroot/run/netns /newroot/run/lock
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=512000 labrun "/newroot$RUN" || { say "cannot mount the run folder"; poweroff -f; }
cp /bin/busybox /newroot/run/lab-busybox
exec switch_root /newroot /bin/sh "$RUN/stage2.sh"
"""

STAGE2 = """#!/bin/sh
# Written by the lab for one run: the guest's second stage and PID 1, inside the host's root.
echo "lab-guest: stage2 started" > /dev/ttyS0
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
# What udev would make on a real system: /dev/fd and /dev/std* (nft -f - opens /dev/stdin).
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mkdir -p "/usr/lib/modules"
ln -sfn {modules} "/usr/lib/modules/{version}"
hostname lab
ip link set lo up
export HOME=/root LANG=C.UTF-8 TERM=dumb LVS_IPVS_LAB_GUEST=1 PATH={path}
{env}
stty -F /dev/ttyS1 raw -echo 2>/dev/null
status=125
if cd {cwd}; then
  {command} </dev/null >/dev/ttyS1 2>&1
  status=$?
else
  echo "lab-guest: cannot enter {cwd} (the guest's /tmp is a tmpfs of its own: run from a folder outside /tmp)" >/dev/ttyS1
fi
echo "$status" > {run}/exit-status
sync
/run/lab-busybox poweroff -f
"""


def fast_initramfs(kernel: Kernel) -> Path:
    """The fast mode's initramfs: busybox, the first stage's modules and its init (cached per kernel)."""
    return build_initramfs(kernel, GUEST_INIT, INITRAMFS_MODULES, cache_dir() / f"initramfs-{kernel.version}-v{INITRAMFS_FORMAT}.cpio.gz")


def prepare() -> tuple[Kernel, Path]:
    """Everything fast mode needs, from the cache when it is there."""
    ensure_host_packages()
    kernel = ensure_kernel()
    return kernel, fast_initramfs(kernel)


def guest_path() -> str:
    """PATH inside the guest: this interpreter's own bin folder first (pyenv shims are slow there)."""
    first = [str(Path(sys.executable).parent)]
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        first.insert(0, str(Path(venv) / "bin"))
    rest = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return ":".join(dict.fromkeys(first + [p for p in os.environ.get("PATH", "").split(":") if p and "shims" not in p] + rest.split(":")))


def run_command(command: list[str], *, timeout: float = 1800, boot_timeout: float = 120, memory_mb: int = 3072, cpus: int = 2,
                env: dict[str, str] | None = None, cwd: str | None = None, out=None) -> int:
    """Boot the lab kernel, run `command` as root inside, stream its output, return its exit status."""
    if not command:
        raise LabError("lab run needs a command after --")
    kernel, initramfs = prepare()
    out = out or sys.stdout.buffer
    runs = cache_dir() / "runs"
    runs.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=runs))
    try:
        env_lines = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted((env or {}).items()))
        (run_dir / "stage2.sh").write_text(STAGE2.format(
            modules=shlex.quote(str(kernel.modules)), version=kernel.version, path=shlex.quote(guest_path()), env=env_lines,
            cwd=shlex.quote(cwd or os.getcwd()), command=shlex.join(command), run=shlex.quote(str(run_dir))))
        console = run_dir / "console.log"
        argv = [
            qemu_binary(), *accel_args(), "-m", str(memory_mb), "-smp", str(cpus),
            "-kernel", str(kernel.vmlinuz), "-initrd", str(initramfs),
            "-append", f"console=ttyS0 loglevel=4 panic=-1 lab.run={run_dir}",
            "-display", "none", "-monitor", "none", "-no-reboot", "-nic", "none",
            "-serial", f"file:{console}", "-serial", "stdio",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={run_dir},mount_tag=labrun,security_model=none",
        ]
        return _supervise(argv, run_dir, console, out, timeout=timeout, boot_timeout=boot_timeout)
    finally:
        if os.environ.get("LVS_IPVS_LAB_KEEP") != "1":
            shutil.rmtree(run_dir, ignore_errors=True)


def _supervise(argv: list[str], run_dir: Path, console: Path, out, *, timeout: float, boot_timeout: float) -> int:
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise LabError(f"cannot start qemu: {exc}") from exc
    first_output = threading.Event()
    stderr_lines: list[bytes] = []

    def pump() -> None:
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(1)
            if not chunk:
                return
            first_output.set()
            out.write(chunk.replace(b"\r\n", b"\n"))
            out.flush()

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_lines.append(line)

    pumps = [threading.Thread(target=pump, daemon=True), threading.Thread(target=drain_stderr, daemon=True)]
    for thread in pumps:
        thread.start()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _wait(proc, console, first_output, started, timeout=timeout, boot_timeout=boot_timeout)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:  # interrupted: never leave a VM behind
            _kill(proc)
    for thread in pumps:
        thread.join(timeout=5)
    status_file = run_dir / "exit-status"
    if status_file.exists():
        return int(status_file.read_text().strip() or "1")
    detail = b"".join(stderr_lines).decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 and detail:
        raise LabError(f"qemu failed: {detail[-1]}")
    raise LabError(f"the lab VM stopped without reporting an exit status (kernel console: {_tail(console)})")


def _raise_interrupt(*unused: object) -> None:
    raise KeyboardInterrupt


def _wait(proc: subprocess.Popen, console: Path, first_output: threading.Event, started: float, *, timeout: float, boot_timeout: float) -> None:
    booted = False
    while proc.poll() is None:
        elapsed = time.monotonic() - started
        if not booted:
            booted = first_output.is_set() or _guest_started(console)
            if not booted and elapsed > boot_timeout:
                _kill(proc)
                raise LabError(f"the lab VM did not boot within {boot_timeout:.0f} s (kernel console: {_tail(console)})")
        if elapsed > timeout:
            _kill(proc)
            raise LabError(f"the command in the lab VM did not finish within {timeout:.0f} s and was stopped")
        time.sleep(0.2)


def _guest_started(console: Path) -> bool:
    try:
        return b"lab-guest: stage2 started" in console.read_bytes()
    except OSError:
        return False


def _tail(console: Path) -> str:
    try:
        lines = [ln for ln in console.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no console output"
    return " | ".join(lines[-3:]) if lines else "no console output"


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log("qemu did not exit after SIGKILL")
