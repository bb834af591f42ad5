"""The guest's initramfs, written in Python (no cpio, no shell on the host): busybox-static, the few
modules needed to reach the root filesystem (virtio-pci, 9p, overlay) and an /init that

1. mounts this machine's root filesystem, shared read-only by QEMU over virtio-9p, as the lower layer
   of an overlay whose upper layer is a tmpfs (the guest can write; the host's files never change);
2. mounts the kernel interfaces and a tmpfs on /run, /tmp and every place docker and sriovcheck write;
3. mounts the exchange folder (a host temporary folder, shared read-write) on /run/sriovcheck-vm;
4. hands over to `/bin/sh /run/sriovcheck-vm/guest.sh` in the new root.

Scripts travel as files in the exchange folder, never on the kernel command line (x86 caps it at
2,048 bytes; a long one panicked the guest at boot).
"""

from __future__ import annotations

import io
import stat
from pathlib import Path

ROOT_TAG = "sriovroot"
XCHG_TAG = "sriovxchg"
XCHG_MOUNT = "/run/sriovcheck-vm"
# What /init loads, in this order (dependencies first); the rest comes from the real module tree later.
BOOT_MODULES = ("virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
                "netfs", "fscache", "9pnet", "9pnet_virtio", "9p", "overlay")
# tmpfs in the new root: overlay2 does not stack on an overlay root, and the state of the run
# belongs to the guest only.
TMPFS_DIRS = ("/run", "/tmp", "/var/tmp", "/var/lib/docker", "/var/lib/containerd", "/var/lib/sriovcheck",
              "/var/log")

INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /lower /upper /newroot
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
echo "sriovcheck-vm: initramfs up" > /dev/ttyS0
for m in $(cat /modules.list); do insmod /modules/$m.ko 2>/dev/null; done
fail() { echo "sriovcheck-vm: FAILED: $*" > /dev/ttyS0; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose {root_tag} /lower || fail "mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /upper || fail tmpfs
mkdir -p /upper/u /upper/w
OVL=lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w,redirect_dir=off,index=off,metacopy=off
mount -t overlay -o $OVL overlay /newroot || fail "mount the overlay root"
cd /newroot
mount -t proc proc proc
mount -t sysfs sys sys
mount -t devtmpfs dev dev
mkdir -p dev/pts dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts dev/pts
mount -t tmpfs tmpfs dev/shm
mount -t cgroup2 cgroup2 sys/fs/cgroup
for d in {tmpfs_dirs}; do mkdir -p .$d; mount -t tmpfs -o mode=0755 tmpfs .$d; done
chmod 1777 tmp var/tmp
# The host folders the guest runs sriovcheck from (the checkout, its venv) when they lie under one of
# those tmpfs (a CI clone in /tmp): shown through again, read-only, from the host root.
for p in $(cat /keep.list); do mkdir -p .$p; mount --bind /lower$p .$p || fail "show $p in the guest"; done
mkdir -p .{xchg}
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 {xchg_tag} .{xchg} || fail "mount the exchange folder"
umount /proc /dev 2>/dev/null
exec switch_root /newroot /bin/sh {xchg}/guest.sh
"""


def init_script() -> str:
    return (INIT.replace("{root_tag}", ROOT_TAG).replace("{xchg_tag}", XCHG_TAG).replace("{xchg}", XCHG_MOUNT)
            .replace("{tmpfs_dirs}", " ".join(TMPFS_DIRS)))


class Cpio:
    """A newc ("070701") archive, as the kernel unpacks an initramfs."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"") -> None:
        encoded = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        self._ino += 1
        self._buf.write(b"070701" + b"".join(f"{f:08x}".encode() for f in fields) + encoded)
        self._pad()
        self._buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self._buf.write(b"\0" * (-self._buf.tell() % 4))

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self._buf.getvalue()


def module_paths(modules_dir: Path, names: tuple[str, ...]) -> list[tuple[str, Path]]:
    """(name, path) of each boot module that exists in this kernel's tree (some may be built in)."""
    index: dict[str, str] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        path = line.split(":", 1)[0]
        base = path.rsplit("/", 1)[-1].removesuffix(".ko")
        index[base.replace("-", "_")] = path
    return [(n, modules_dir / index[n]) for n in names if n in index]


def hidden_by_tmpfs(paths: list[Path]) -> list[str]:
    """The folders among `paths` that a guest tmpfs would hide (so /init binds them back in)."""
    keep: list[str] = []
    for text in sorted(str(p.resolve()) for p in paths):
        if any(text == k or text.startswith(k + "/") for k in keep):
            continue  # already shown with the folder that holds it
        if any(text == d or text.startswith(d + "/") for d in TMPFS_DIRS) and " " not in text:
            keep.append(text)
    return keep


def build_initramfs(busybox: str, modules_dir: Path, *, keep: list[str] | None = None) -> bytes:
    archive = Cpio()
    archive.file("keep.list", ("\n".join(keep or []) + "\n").encode())
    for d in ("bin", "sbin", "modules", "proc", "sys", "dev", "lower", "upper", "newroot"):
        archive.directory(d)
    archive.file("bin/busybox", Path(busybox).read_bytes(), 0o755)
    archive.symlink("bin/sh", "busybox")
    mods = module_paths(modules_dir, BOOT_MODULES)
    for name, path in mods:
        archive.file(f"modules/{name}.ko", path.read_bytes())
    archive.file("modules.list", ("\n".join(n for n, _ in mods) + "\n").encode())
    archive.file("init", init_script().encode(), 0o755)
    return archive.finish()
