"""What the VM lab needs on the host, found or named with how to get it.

- QEMU 8.1 or later (`-device igb`, the emulated Intel 82576 SR-IOV NIC); Debian 12 ships 7.2, so it
  comes from bookworm-backports (10.0.2 there today).
- A Debian kernel (6.1.0-50-amd64 today, the one `linux-image-amd64` depends on), unpacked, never
  installed: `<cache>/kernel/boot/vmlinuz-<version>` and `<cache>/kernel/lib/modules/<version>` with
  a `modules.dep` (depmod). Its config has PCI_IOV, IGB/IGBVF, 802.1Q, VLAN-filtering bridges, virtio
  and 9p: everything the guest needs.
- busybox-static (/bin/busybox): the initramfs' tools.

`scripts/setup.sh` with SRIOVCHECK_SETUP_VM=1 (what `scripts/test.sh` sets) installs all of it.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sriovcheck.errors import LabError

CACHE_ENV = "SRIOVCHECK_VM_CACHE"
DEFAULT_CACHE = "/var/cache/sriovcheck/vm"
QEMU_ENV = "SRIOVCHECK_QEMU"
QEMU_NAME = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
MIN_QEMU = (8, 1)
SETUP_HINT = "run `SRIOVCHECK_SETUP_VM=1 bash scripts/setup.sh` as root (README: The VM lab, set-up)"


@dataclass(frozen=True)
class VmParts:
    qemu: str
    qemu_version: str  # 10.0.2
    kernel_image: Path  # .../boot/vmlinuz-6.1.0-50-amd64
    kernel_version: str  # 6.1.0-50-amd64
    modules_dir: Path  # .../lib/modules/6.1.0-50-amd64
    busybox: str


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def parse_qemu_version(text: str) -> tuple[str, tuple[int, int]] | None:
    """'QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2...)' -> ('10.0.2', (10, 0))."""
    m = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    full = ".".join(g for g in m.groups() if g is not None)
    return full, (int(m.group(1)), int(m.group(2)))


def qemu_version_of(binary: str) -> str | None:
    """The version of a QEMU binary read from its own files, not by running it: Debian's
    qemu-system-x86 package records it in its changelog; the share folder's VERSION otherwise."""
    resolved = Path(binary).resolve()
    for candidate in (
        Path("/usr/share/doc/qemu-system-x86/changelog.Debian.gz"),
        resolved.parent.parent / "share" / "qemu" / "VERSION",
    ):
        try:
            if candidate.suffix == ".gz":
                import gzip

                with gzip.open(candidate, "rt", encoding="utf-8", errors="replace") as fh:
                    first = fh.readline()  # qemu (1:10.0.2+ds-2+deb13u1~bpo12+1) bookworm-backports; ...
                m = re.search(r"\((?:\d+:)?(\d+\.\d+\.\d+)", first)
                if m:
                    return m.group(1)
            elif candidate.exists():
                return candidate.read_text().strip()
        except OSError:
            continue
    return None


def find_kernel(cache: Path) -> tuple[Path, str, Path] | None:
    boot = cache / "kernel" / "boot"
    for image in sorted(boot.glob("vmlinuz-*"), reverse=True):
        version = image.name.removeprefix("vmlinuz-")
        modules = cache / "kernel" / "lib" / "modules" / version
        if (modules / "modules.dep").exists():
            return image, version, modules
    return None


def find_parts() -> VmParts:
    """Everything the VM lab needs, or one LabError listing every missing part and how to get it."""
    missing: list[str] = []
    qemu = os.environ.get(QEMU_ENV) or shutil.which(QEMU_NAME) or ""
    version = qemu_version_of(qemu) if qemu else None
    if not qemu:
        missing.append(f"QEMU ({QEMU_NAME}, 8.1 or later, with -device igb): not found on PATH "
                       "(Debian 12: `apt-get install -t bookworm-backports qemu-system-x86`)")
    elif version is not None:
        parsed = parse_qemu_version(f"version {version}")
        if parsed and parsed[1] < MIN_QEMU:
            missing.append(f"QEMU {version} at {qemu} has no igb NIC (needs 8.1 or later; "
                           "Debian 12: `apt-get install -t bookworm-backports qemu-system-x86`)")
    cache = cache_dir()
    kernel = find_kernel(cache)
    if kernel is None:
        missing.append(f"a guest kernel unpacked under {cache}/kernel (boot/vmlinuz-*, lib/modules/* with modules.dep): "
                       f"`apt-get download linux-image-6.1.0-50-amd64 && dpkg-deb -x linux-image-*.deb {cache}/kernel "
                       f"&& depmod -a -b {cache}/kernel 6.1.0-50-amd64` ({CACHE_ENV} overrides the folder)")
    if not os.access(BUSYBOX, os.X_OK):
        missing.append(f"{BUSYBOX} (package busybox-static): the guest's initramfs is made from it")
    if missing:
        raise LabError("the VM lab cannot start; missing: " + "; ".join(missing), hint=SETUP_HINT)
    assert kernel is not None
    image, kver, modules = kernel
    return VmParts(qemu=qemu, qemu_version=version or "unknown", kernel_image=image, kernel_version=kver,
                   modules_dir=modules, busybox=BUSYBOX)


def describe(parts: VmParts) -> str:
    """The line the report and results.json carry, so that nobody mistakes the VM lab for hardware."""
    return (f"VM lab: QEMU {parts.qemu_version}, igb (Intel 82576, emulated), kernel {parts.kernel_version}, "
            "drivers igb/igbvf")
