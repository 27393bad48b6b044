# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""User-mode Linux: Debian's 6.1 kernel source built as an ordinary program (`linux`), cached once per machine.

The IPVS code is the same source as the lab's kernel .deb; UML runs it at host speed for
CPU-bound work (no instruction emulation), so the lab boots in about a second. Built from
Debian's `linux-source-6.1` with the config of Debian's `user-mode-linux` package, plus the
nftables families that package leaves out. The build happens in a `.partial` folder renamed at
the end, so an interrupted build is never taken as complete.

`sandbox_argv()` is the prefix that starts `linux` in a mount namespace of its own where the
host's whole tree is read-only except the given folders: hostfs is no boundary (guest root can
mount any host path read-write), the namespace is.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError
from .provision import cache_dir, check_disk, ensure_host_packages, log, run

SOURCE_PACKAGE = "linux-source-6.1"
SOURCE_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
CONFIG_PACKAGE = "user-mode-linux"
DEBIAN_CONFIG = Path("/usr/share/doc/user-mode-linux/config.gz")
BUILD_PACKAGES = (SOURCE_PACKAGE, CONFIG_PACKAGE, "build-essential", "flex", "bison", "bc", "xz-utils", "kmod", "util-linux")
BUILD_FORMAT = "1"  # bump when the options below change, to rebuild the cached kernel
BUILD_MINUTES = 7  # on 2 cores alone

# What the lab needs on top of Debian's UML config (y: built in, m: module).
OPTIONS = {
    # Boot over the host's root: initramfs, hostfs, overlay; devtmpfs for /dev.
    "BLK_DEV_INITRD": "y", "RD_GZIP": "y", "HOSTFS": "y", "OVERLAY_FS": "y", "DEVTMPFS": "y", "TMPFS": "y",
    "UML_NET": "y", "UML_NET_TUNTAP": "y", "UML_NET_VECTOR": "y", "UML_NET_VDE": "n", "TUN": "m",
    # IPVS, every scheduler, the SIP persistence engine, conntrack support.
    "NETFILTER": "y", "NETFILTER_ADVANCED": "y", "IP_VS": "m", "IP_VS_IPV6": "y", "IP_VS_PROTO_TCP": "y", "IP_VS_PROTO_UDP": "y",
    "IP_VS_PROTO_SCTP": "y", "IP_VS_PROTO_AH_ESP": "y", "IP_VS_PROTO_ESP": "y", "IP_VS_PROTO_AH": "y",
    "IP_VS_RR": "m", "IP_VS_WRR": "m", "IP_VS_LC": "m", "IP_VS_WLC": "m", "IP_VS_FO": "m", "IP_VS_OVF": "m", "IP_VS_LBLC": "m",
    "IP_VS_LBLCR": "m", "IP_VS_DH": "m", "IP_VS_SH": "m", "IP_VS_MH": "m", "IP_VS_SED": "m", "IP_VS_NQ": "m",
    "IP_VS_TWOS": "n",  # as in the lab's kernel .deb: the tests show the modules refuse it by name
    "IP_VS_FTP": "m", "IP_VS_NFCT": "y", "IP_VS_PE_SIP": "m", "NF_CONNTRACK": "m", "NF_NAT": "m", "NF_CONNTRACK_SIP": "m",
    # nftables: the families Debian's UML package leaves out, and the expressions the tests use.
    "NF_TABLES": "m", "NF_TABLES_INET": "y", "NF_TABLES_IPV4": "y", "NF_TABLES_IPV6": "y", "NF_TABLES_ARP": "y",
    "NF_TABLES_NETDEV": "y", "NF_TABLES_BRIDGE": "m", "NFT_NAT": "m", "NFT_MASQ": "m", "NFT_REDIR": "m", "NFT_CT": "m",
    "NFT_COMPAT": "m", "NFT_FIB_INET": "m", "NFT_FIB_IPV4": "m", "NFT_FIB_IPV6": "m", "NFT_FIB_NETDEV": "m",
    "NFT_REJECT": "m", "NFT_REJECT_INET": "m", "NFT_REJECT_IPV4": "m", "NFT_REJECT_IPV6": "m", "NFT_LIMIT": "m", "NFT_LOG": "m",
    "NFT_NUMGEN": "m", "NFT_HASH": "m", "NFT_QUOTA": "m", "NFT_CONNLIMIT": "m", "NFT_SOCKET": "m", "NFT_TPROXY": "m",
    "NF_TPROXY_IPV4": "m", "NF_TPROXY_IPV6": "m", "NFT_DUP_IPV4": "m", "NFT_DUP_IPV6": "m", "NFT_BRIDGE_META": "m",
    # iptables (legacy and nft) with MARK, what the PNMPP recipe and its tests use.
    "NETFILTER_XTABLES": "m", "NETFILTER_XT_MARK": "m", "NETFILTER_XT_TARGET_MARK": "m", "NETFILTER_XT_MATCH_MARK": "m",
    "NETFILTER_XT_MATCH_IPVS": "m", "NETFILTER_XT_MATCH_CONNTRACK": "m", "NETFILTER_XT_MATCH_MULTIPORT": "m",
    "IP_NF_IPTABLES": "m", "IP_NF_MANGLE": "m", "IP_NF_FILTER": "m", "IP_NF_NAT": "m", "IP6_NF_IPTABLES": "m",
    "IP6_NF_MANGLE": "m", "IP6_NF_FILTER": "m",
    # The topologies: veth, bridges, dummy, tunnels, multicast for the sync daemon.
    "VETH": "m", "BRIDGE": "m", "DUMMY": "m", "NET_IPIP": "m", "IPV6_TUNNEL": "m", "NET_NS": "y", "IP_MULTICAST": "y",
    "IPV6": "y", "PACKET": "y", "UNIX": "y",
    # Shorter build and boot: no debug info, no LSMs, no MD, no big block filesystems.
    "DEBUG_INFO": "n", "DEBUG_INFO_NONE": "y", "DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT": "n", "DEBUG_INFO_BTF": "n",
    "SECURITY_SELINUX": "n", "SECURITY_APPARMOR": "n", "SECURITY_TOMOYO": "n", "SECURITY_YAMA": "n", "SECURITY_LOADPIN": "n",
    "MD": "n", "BTRFS_FS": "n", "XFS_FS": "n", "REISERFS_FS": "n", "JFS_FS": "n", "NILFS2_FS": "n", "GFS2_FS": "n",
    "OCFS2_FS": "n", "F2FS_FS": "n", "JFFS2_FS": "n", "UBIFS_FS": "n", "NTFS3_FS": "n", "CEPH_FS": "n", "CIFS": "n",
}
# Debian's UML config builds some 900 modules; the lab needs networking and netfilter ones. Every other module is
# left out (what a kept one selects comes back with olddefconfig): half the build time.
KEEP_MODULES = ("NETFILTER", "NF_", "NFT_", "IP_VS", "IP_NF", "IP6_NF", "IP_SET", "BRIDGE", "VETH", "DUMMY", "NET_IPIP", "NET_IPGRE",
                "IPV6", "INET", "TUN", "OVERLAY", "VLAN_8021Q", "MACVLAN", "IPVLAN", "VXLAN", "NET_UDP_TUNNEL", "NET_IP_TUNNEL",
                "LIBCRC32C", "CRYPTO_CRC32C", "AUTOFS", "BINFMT_MISC", "CONFIGFS", "FUSE", "UNIX_DIAG", "PACKET_DIAG", "NETLINK_DIAG")
# Options that must come out exactly as asked (the rest are best effort: some do not exist on every arch).
REQUIRED = ("HOSTFS", "OVERLAY_FS", "UML_NET_TUNTAP", "IP_VS", "IP_VS_IPV6", "IP_VS_RR", "IP_VS_WRR", "IP_VS_LC", "IP_VS_WLC",
            "IP_VS_SH", "IP_VS_DH", "IP_VS_MH", "IP_VS_PE_SIP", "NF_TABLES_INET", "NF_TABLES_IPV4", "NF_TABLES_IPV6",
            "NF_TABLES_ARP", "NF_TABLES_NETDEV", "NF_TABLES_BRIDGE", "NFT_NAT", "NFT_CT", "NFT_COMPAT", "NFT_FIB_INET",
            "NFT_REJECT", "NETFILTER_XT_MARK", "VETH", "BRIDGE", "DUMMY", "NET_IPIP", "TUN", "UML_NET_VDE", "IP_VS_TWOS")


@dataclass(frozen=True)
class UmlKernel:
    """The built kernel in the cache: `binary` is the `linux` executable, `modules` holds modules.dep."""

    root: Path
    version: str

    @property
    def binary(self) -> Path:
        return self.root / "linux"

    @property
    def modules(self) -> Path:
        return self.root / "lib" / "modules" / self.version


def source_version() -> str | None:
    """The Debian version of the installed linux-source-6.1 (e.g. 6.1.192-3), None when it is not installed."""
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", SOURCE_PACKAGE], capture_output=True, text=True, check=False)
    status, dummy, version = proc.stdout.strip().rpartition(" ")
    return version if status == "install ok installed" and version else None


def kernel_dir(debian_version: str) -> Path:
    return cache_dir() / f"uml-{debian_version}-v{BUILD_FORMAT}"


def ensure_uml_kernel() -> UmlKernel:
    """The UML kernel from the cache, built first when it is not there (about 7 minutes on 2 cores)."""
    version = source_version()
    if version is not None and (kernel_dir(version) / ".complete").exists():
        return UmlKernel(kernel_dir(version), (kernel_dir(version) / ".complete").read_text().strip())
    ensure_host_packages(BUILD_PACKAGES)
    version = source_version()
    if version is None:
        raise LabError(f"{SOURCE_PACKAGE} did not install")
    root = kernel_dir(version)
    done = root / ".complete"
    # One build at a time on a machine (the node mode and fast mode may both ask at once): the others wait for it.
    with open(cache_dir() / "uml-build.lock", "w", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another process that builds the UML kernel")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return UmlKernel(root, done.read_text().strip())
        return _build(root)


def _build(root: Path) -> UmlKernel:
    cache = root.parent
    check_disk(cache, 3000, "building the UML kernel")
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    src = partial / "src"
    src.mkdir(parents=True)
    started = time.monotonic()
    log(f"building the UML kernel from {SOURCE_PACKAGE} (about {BUILD_MINUTES} minutes on 2 cores, more on a busy machine; "
        f"log in {partial / 'build.log'})")
    run(["tar", "-xJf", str(SOURCE_TARBALL), "-C", str(src), "--strip-components=1"], f"unpacking {SOURCE_TARBALL}", timeout=1200)
    make = ["make", "-C", str(src), "ARCH=um", "-s"]
    (src / ".config").write_bytes(gzip.decompress(DEBIAN_CONFIG.read_bytes()))
    run([*make, "olddefconfig"], "make ARCH=um olddefconfig")
    config = src / "scripts" / "config"
    edits: list[str] = []
    for line in (src / ".config").read_text().splitlines():
        if line.startswith("CONFIG_") and line.endswith("=m") and not line[len("CONFIG_"):].startswith(KEEP_MODULES):
            edits += ["--disable", line[len("CONFIG_"):-len("=m")]]
    for name, value in OPTIONS.items():
        edits += {"y": ["--enable", name], "m": ["--module", name], "n": ["--disable", name]}[value]
    run([str(config), "--file", str(src / ".config"), *edits], "setting the UML kernel options")
    run([*make, "olddefconfig"], "make ARCH=um olddefconfig (after setting the lab's options)")
    _check_config(src / ".config")
    jobs = str(os.cpu_count() or 2)
    with open(partial / "build.log", "w", encoding="utf-8") as build_log:
        proc = subprocess.run([*make, f"-j{jobs}", "linux", "modules"], stdout=build_log, stderr=subprocess.STDOUT, check=False, timeout=7200)
    if proc.returncode != 0:
        tail = (partial / "build.log").read_text(errors="replace").strip().splitlines()[-3:]
        raise LabError(f"building the UML kernel failed (see {partial / 'build.log'}): {' | '.join(tail)}")
    version = run([*make, "kernelrelease"], "make kernelrelease").stdout.strip()
    run([*make, f"INSTALL_MOD_PATH={partial}", "INSTALL_MOD_STRIP=1", "DEPMOD=/bin/true", "modules_install"], "installing the UML kernel's modules")
    modules = partial / "lib" / "modules" / version
    for link in ("build", "source"):
        (modules / link).unlink(missing_ok=True)
    run(["depmod", "-b", str(partial), version], "depmod of the UML kernel")
    shutil.copy2(src / "linux", partial / "linux")
    run(["strip", "--strip-debug", str(partial / "linux")], "stripping the UML kernel")
    shutil.copy2(src / ".config", partial / "config")
    shutil.rmtree(src)
    (partial / ".complete").write_text(version + "\n")
    if root.exists():
        shutil.rmtree(root)
    partial.rename(root)
    log(f"built the UML kernel {version} in {(time.monotonic() - started) / 60:.1f} minutes ({root})")
    return UmlKernel(root, version)


def _check_config(config: Path) -> None:
    values: dict[str, str] = {}
    for line in config.read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, dummy, value = line[len("CONFIG_"):].partition("=")
            values[key] = value
    wrong = [f"{name}={values.get(name, 'n')} (wanted {OPTIONS[name]})" for name in REQUIRED if values.get(name, "n") != OPTIONS[name]]
    if wrong:
        raise LabError(f"the UML kernel's config does not have what the lab needs: {', '.join(wrong)}")


# Runs inside `unshare --mount`: every mount read-only, then the given folders read-write again, a private
# /dev/shm for UML's memory file, then exec the command. "$@" = writable folders, "--", command.
_SANDBOX = r"""set -e
awk '{print $5}' /proc/self/mountinfo | sort -ru | while read -r mp; do
  mount -o remount,bind,ro "$mp" 2>/dev/null || mount -o remount,bind,ro,nosuid,nodev "$mp" 2>/dev/null || \
    { echo "lab: cannot make $mp read-only for the UML sandbox" >&2; exit 1; }
done
mount -t tmpfs -o mode=1777 lab-uml-shm /dev/shm
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  mount --bind "$1" "$1"
  mount -o remount,bind,rw "$1"
  shift
done
shift
export TMPDIR=/dev/shm
exec "$@"
"""


def sandbox_argv(writable: list[Path]) -> list[str]:
    """argv prefix: run the rest of argv in a private mount namespace, read-only but for `writable` (and a private /dev/shm)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise LabError("unshare is not installed: apt-get install util-linux")
    return [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _SANDBOX, "lab-uml-sandbox",
            *[str(p) for p in writable], "--"]
