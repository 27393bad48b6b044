# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast mode: boot the lab kernel over this machine's own root and run one command inside.

The guest mounts the host's / read-only with a tmpfs overlay on top, so it sees the repository,
the virtualenv and the cache exactly where they are on the host, and can write anywhere without
touching the host. One folder of the run (the "run folder") is mounted read-write so the guest
can hand back its exit status and files. No network device at all.

Two engines boot the same first stage, second stage and supervision (see engine.py for the
choice): User-mode Linux (`uml`, Debian's 6.1 source built as a program, the host's root over
hostfs, started in a read-only mount namespace) and QEMU (`qemu`, Debian's kernel .deb under
KVM or TCG, the host's root over 9p exported read-only).
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
from dataclasses import dataclass
from pathlib import Path

from . import engine as engines
from . import uml
from .errors import LabError
from .provision import Kernel, build_initramfs, cache_dir, ensure_host_packages, ensure_kernel, log
from .qemu import accel_args, qemu_binary

INITRAMFS_FORMAT = "5"  # bump when init or the module list changes, to rebuild cached images

# How each engine reaches the host's root and the run folder from the first stage. QEMU loads only what
# it needs to reach the host's root over 9p; everything else is loaded later by the host's own kmod inside
# the guest (request_module works: modules.dep is in the cache). UML has hostfs and overlay built in.
QEMU_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]
QEMU_MOUNTS = """mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || { say "cannot mount the host root over 9p"; poweroff -f; }
MOUNT_RUN='mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=512000 labrun'"""
UML_MOUNTS = """mount -t hostfs -o ro,/ none /lower || { say "cannot mount the host root over hostfs"; poweroff -f; }
MOUNT_RUN="mount -t hostfs -o $RUN none\""""

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
{mounts}
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
$MOUNT_RUN "/newroot$RUN" || { say "cannot mount the run folder"; poweroff -f; }
# busybox picks its applet from the name it is called by: the copy's name must start with "busybox".
cp /bin/busybox /newroot/run/busybox
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
export HOME=/root LANG=C.UTF-8 TERM=dumb LVS_IPVS_LAB_GUEST=1 LVS_IPVS_LAB_ENGINE={engine} PATH={path}
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
echo "lab-guest: powering off" > /dev/ttyS0
/run/busybox poweroff -f
"""


def guest_init(mounts: str) -> str:
    return GUEST_INIT.replace("{mounts}", mounts)


def qemu_initramfs(kernel: Kernel) -> Path:
    """QEMU's initramfs: busybox, the first stage's modules and its init (cached per kernel)."""
    return build_initramfs(kernel, guest_init(QEMU_MOUNTS), QEMU_MODULES,
                           cache_dir() / f"initramfs-{kernel.version}-v{INITRAMFS_FORMAT}.cpio.gz")


def uml_initramfs(kernel: uml.UmlKernel) -> Path:
    """UML's initramfs: busybox and the init, no modules (cached per kernel)."""
    return build_initramfs(kernel, guest_init(UML_MOUNTS), [], cache_dir() / f"initramfs-uml-{kernel.version}-v{INITRAMFS_FORMAT}.cpio.gz")


def prepare_qemu() -> tuple[Kernel, Path]:
    ensure_host_packages()
    kernel = ensure_kernel()
    return kernel, qemu_initramfs(kernel)


def prepare_uml() -> tuple[uml.UmlKernel, Path]:
    ensure_host_packages()
    kernel = uml.ensure_uml_kernel()
    return kernel, uml_initramfs(kernel)


def prepare() -> None:
    """Everything fast mode needs for both engines (`python -m tests.lab setup`), and the engine probe."""
    prepare_qemu()
    prepare_uml()
    log(f"fast mode's engine: {engines.engine()}")


def guest_path() -> str:
    """PATH inside the guest: this interpreter's own bin folder first (pyenv shims are slow there)."""
    first = [str(Path(sys.executable).parent)]
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        first.insert(0, str(Path(venv) / "bin"))
    rest = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return ":".join(dict.fromkeys(first + [p for p in os.environ.get("PATH", "").split(":") if p and "shims" not in p] + rest.split(":")))


@dataclass
class Boot:
    """How to start one engine: its argv and the file descriptors it writes the console and the command's output to."""

    argv: list[str]
    pass_fds: tuple[int, ...] = ()  # what the engine writes to (closed here once it started)
    stdout_fd: int | None = None  # the engine's stdout (None: the command's output is the engine's stdout)
    output_fd: int | None = None  # where the command's output is read from, when it is not the engine's stdout


def qemu_boot(kernel: Kernel, initramfs: Path, run_dir: Path, console: Path, memory_mb: int, cpus: int) -> Boot:
    return Boot([
        qemu_binary(), *accel_args(), "-m", str(memory_mb), "-smp", str(cpus),
        "-kernel", str(kernel.vmlinuz), "-initrd", str(initramfs),
        "-append", f"console=ttyS0 loglevel=4 panic=-1 lab.run={run_dir}",
        "-display", "none", "-monitor", "none", "-no-reboot", "-nic", "none",
        "-serial", f"file:{console}", "-serial", "stdio",
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={run_dir},mount_tag=labrun,security_model=none",
    ])


def uml_boot(kernel: uml.UmlKernel, initramfs: Path, run_dir: Path, console: Path, memory_mb: int) -> Boot:
    """UML: ttyS0 (the kernel console) and UML's own messages to console.log, ttyS1 (the command) to a pipe."""
    console_fd = os.open(console, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    read_end, write_end = os.pipe()
    argv = [*uml.sandbox_argv([run_dir]), str(kernel.binary), f"mem={memory_mb}M", f"initrd={initramfs}",
            "con=null", f"con0=null,fd:{console_fd}", "ssl=null", f"ssl0=null,fd:{console_fd}", f"ssl1=null,fd:{write_end}",
            "console=ttyS0", "loglevel=4", "panic=-1", f"lab.run={run_dir}"]
    return Boot(argv, pass_fds=(console_fd, write_end), stdout_fd=console_fd, output_fd=read_end)


def run_command(command: list[str], *, timeout: float = 1800, boot_timeout: float = 120, memory_mb: int = 3072, cpus: int = 2,
                env: dict[str, str] | None = None, cwd: str | None = None, out=None, engine: str | None = None) -> int:
    """Boot the lab kernel, run `command` as root inside, stream its output, return its exit status."""
    if not command:
        raise LabError("lab run needs a command after --")
    engine = engine or engines.engine()
    if engine == "uml":
        kernel, initramfs = prepare_uml()
    else:
        kernel, initramfs = prepare_qemu()
    out = out or sys.stdout.buffer
    runs = cache_dir() / "runs"
    runs.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=runs))
    try:
        env_lines = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted((env or {}).items()))
        (run_dir / "stage2.sh").write_text(STAGE2.format(
            modules=shlex.quote(str(kernel.modules)), version=kernel.version, path=shlex.quote(guest_path()), env=env_lines,
            engine=engine, cwd=shlex.quote(cwd or os.getcwd()), command=shlex.join(command), run=shlex.quote(str(run_dir))))
        console = run_dir / "console.log"
        if engine == "uml":
            boot = uml_boot(kernel, initramfs, run_dir, console, memory_mb)  # type: ignore[arg-type]
        else:
            boot = qemu_boot(kernel, initramfs, run_dir, console, memory_mb, cpus)  # type: ignore[arg-type]
        return _supervise(boot, engine, run_dir, console, out, timeout=timeout, boot_timeout=boot_timeout)
    finally:
        if os.environ.get("LVS_IPVS_LAB_KEEP") != "1":
            shutil.rmtree(run_dir, ignore_errors=True)


def _supervise(boot: Boot, engine: str, run_dir: Path, console: Path, out, *, timeout: float, boot_timeout: float) -> int:
    """Start the engine in a session of its own, stream the command's output, stop it (and all its processes) at the end."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(boot.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if boot.stdout_fd is None else boot.stdout_fd,
                                stderr=subprocess.PIPE, pass_fds=boot.pass_fds, start_new_session=True)
    except OSError as exc:
        for fd in [*boot.pass_fds, *([boot.output_fd] if boot.output_fd is not None else [])]:
            os.close(fd)
        raise LabError(f"cannot start {engine}: {exc}") from exc
    for fd in boot.pass_fds:
        os.close(fd)
    output = proc.stdout if boot.output_fd is None else os.fdopen(boot.output_fd, "rb", buffering=0)
    first_output = threading.Event()
    stderr_lines: list[bytes] = []

    def pump() -> None:
        assert output is not None
        while True:
            chunk = output.read1(65536) if hasattr(output, "read1") else output.read(65536)
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
        _kill(proc)  # interrupted, or ended: never leave a VM or one of its processes behind
    for thread in pumps:
        thread.join(timeout=5)
    if boot.output_fd is not None:
        output.close()
    status_file = run_dir / "exit-status"
    if status_file.exists():
        return int(status_file.read_text().strip() or "1")
    detail = b"".join(stderr_lines).decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 and detail:
        raise LabError(f"{engine} failed: {detail[-1]}")
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
    """SIGKILL the engine's whole session (UML runs each guest process as a host process of its own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log(f"the lab VM (pid {proc.pid}) did not exit after SIGKILL")
