# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Install the lab's Debian packages and fetch Debian's own kernel into the cache.

Everything comes from the machine's configured Debian archive (apt), nothing from elsewhere.
Each step is skipped when its result is already in the cache, so a second set-up is quick.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import LabError

# Debian packages the lab itself needs on the machine that boots the VMs.
HOST_PACKAGES = (
    "qemu-system-x86",
    "busybox-static",
    "cpio",
    "kmod",
    "debootstrap",
    "ipvsadm",
    "nftables",
    "iptables",
    "python3-pyroute2",
    "python3-nftables",
    "openssh-client",
    "iproute2",
    "shellcheck",  # ansible-test sanity's shellcheck test (skipped with a mere warning when it is missing)
    "strace",  # the benchmark's system-call counts (tests/bench), in the lab VM that sees this root
    "keepalived",  # the health checker of keepalived-owned services, run in the lab VM that sees this root (never here)
)

# The meta package whose dependency names the current distribution kernel.
KERNEL_META_PACKAGE = "linux-image-amd64"


def cache_dir() -> Path:
    """The lab's cache, outside the repository (LVS_IPVS_CACHE overrides)."""
    path = Path(os.environ.get("LVS_IPVS_CACHE", "~/.cache/lvs-ipvs")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def run(argv: list[str], what: str, timeout: float = 1800, **kwargs) -> subprocess.CompletedProcess:
    """Run a command (never through a shell); raise LabError naming the step when it fails."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    except FileNotFoundError as exc:
        raise LabError(f"{what} failed: {argv[0]} is not installed ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{what} failed: `{' '.join(argv)}` did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit status {proc.returncode}"
        raise LabError(f"{what} failed: {last}")
    return proc


def check_disk(path: Path, need_mb: int, what: str) -> None:
    free_mb = shutil.disk_usage(path).free // (1024 * 1024)
    if free_mb < need_mb:
        raise LabError(f"{what} needs about {need_mb} MB free in {path}, but only {free_mb} MB are free")


def missing_packages(packages: tuple[str, ...]) -> list[str]:
    missing = []
    for name in packages:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False)
        if "install ok installed" not in proc.stdout:
            missing.append(name)
    return missing


_APT_UPDATED = False


def apt_update() -> None:
    global _APT_UPDATED  # pylint: disable=global-statement
    if not _APT_UPDATED:
        log("apt-get update")
        run(["apt-get", "update", "-qq"], "apt-get update", timeout=600)
        _APT_UPDATED = True


def ensure_host_packages(packages: tuple[str, ...] = HOST_PACKAGES) -> None:
    missing = missing_packages(packages)
    if not missing:
        return
    if os.geteuid() != 0:
        raise LabError(f"the lab needs the Debian packages {' '.join(missing)}; install them as root (apt-get install {' '.join(missing)})")
    apt_update()
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], f"installing the Debian packages {' '.join(missing)}", env=env)


def kernel_package_name() -> str:
    """The versioned kernel package that linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64)."""
    for attempt in range(2):
        proc = subprocess.run(["apt-cache", "depends", KERNEL_META_PACKAGE], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            line = line.strip()
            if line.startswith("Depends: linux-image-") and line.split()[1][len("linux-image-"):][:1].isdigit():
                return line.split()[1]
        if attempt == 0:
            apt_update()
    raise LabError(f"could not find the kernel package: `apt-cache depends {KERNEL_META_PACKAGE}` names no linux-image-<version> dependency")


class Kernel:
    """Debian's kernel, unpacked in the cache: vmlinuz and its modules with a modules.dep."""

    def __init__(self, root: Path, version: str) -> None:
        self.root = root
        self.version = version

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.version}"

    @property
    def modules(self) -> Path:
        return self.root / "lib" / "modules" / self.version


def ensure_kernel() -> Kernel:
    cache = cache_dir()
    pinned = cache / "kernel-package"
    if pinned.exists():
        package = pinned.read_text().strip()
    else:
        package = kernel_package_name()
    version = package[len("linux-image-"):]
    root = cache / "kernel" / version
    done = root / ".complete"
    kernel = Kernel(root, version)
    if done.exists():
        return kernel
    check_disk(cache, 600, "unpacking the kernel")
    debs = cache / "debs"
    debs.mkdir(exist_ok=True)
    for old in debs.glob(f"{package}_*.deb"):
        old.unlink()
    log(f"downloading {package} from the Debian archive")
    try:
        run(["apt-get", "download", package], f"downloading {package}", cwd=debs, timeout=900)
    except LabError:
        apt_update()
        run(["apt-get", "download", package], f"downloading {package}", cwd=debs, timeout=900)
    deb = next(debs.glob(f"{package}_*.deb"), None)
    if deb is None:
        raise LabError(f"downloading {package} left no .deb in {debs}")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    log(f"unpacking {deb.name}")
    run(["dpkg-deb", "-x", str(deb), str(root)], f"unpacking {deb.name}")
    run(["depmod", "-b", str(root), version], "depmod of the lab kernel")
    if not kernel.vmlinuz.exists():
        raise LabError(f"{deb.name} holds no boot/vmlinuz-{version}")
    deb.unlink()
    pinned.write_text(package + "\n")
    done.write_text("ok\n")
    return kernel


def module_closure(kernel: Kernel, names: list[str]) -> list[Path]:
    """The .ko files for `names` and everything they depend on, in load order (dependencies first)."""
    deps: dict[str, list[str]] = {}
    for line in (kernel.modules / "modules.dep").read_text().splitlines():
        path, dummy, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {Path(p).name.split(".ko")[0].replace("-", "_"): p for p in deps}
    builtin = set()
    builtin_file = kernel.modules / "modules.builtin"
    if builtin_file.exists():
        builtin = {Path(p).name.split(".ko")[0].replace("-", "_") for p in builtin_file.read_text().split()}
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        # modules.dep lists the full closure, innermost last: load from the end.
        for dep in reversed(deps[path]):
            visit(dep)
        order.append(path)

    for name in names:
        key = name.replace("-", "_")
        if key in builtin:
            continue
        if key not in by_name:
            raise LabError(f"the lab kernel {kernel.version} has no module {name}")
        visit(by_name[key])
    return [kernel.modules / p for p in order]


def build_initramfs(kernel: Kernel, init: str, modules: list[str], target: Path) -> Path:
    """An initramfs of busybox, `init` and the .ko files of `modules` (with their dependencies), cached at `target`."""
    if target.exists():
        return target
    if not Path("/bin/busybox").exists():
        raise LabError("busybox is not installed: apt-get install busybox-static")
    with tempfile.TemporaryDirectory(prefix="lab-initramfs-") as tmp:
        root = Path(tmp)
        for sub in ("bin", "proc", "sys", "dev", "modules"):
            (root / sub).mkdir()
        shutil.copy2("/bin/busybox", root / "bin" / "busybox")
        (root / "init").write_text(init)
        (root / "init").chmod(0o755)
        names = []
        for ko in module_closure(kernel, modules):
            shutil.copy2(ko, root / "modules" / ko.name)
            names.append(ko.name)
        (root / "modules.order").write_text("\n".join(names) + "\n")
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=("\n".join(["."] + files) + "\n").encode(),
                              capture_output=True, cwd=root, check=False)
        if cpio.returncode != 0:
            raise LabError(f"building the initramfs {target.name} failed: {cpio.stderr.decode(errors='replace').strip()}")
        partial = target.with_suffix(".partial")
        with gzip.open(partial, "wb", compresslevel=1) as out:
            out.write(cpio.stdout)
        partial.replace(target)
    return target
