"""Read-mostly helpers over a sysfs tree rooted at `root` (the real /sys, or a fake one in tests).

Every function takes the root explicitly; only `default_sysfs_root()` looks at the environment.
Readers return None for an attribute that is absent or unreadable: a missing file is an answer
("no driver bound", "not SR-IOV capable"), not an error. Only `write_attr` raises (OSError).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sriovcheck.topology import names

SYSFS_ROOT_ENV = "SRIOVCHECK_SYSFS_ROOT"
# domain:bus:device.function, e.g. 0000:01:10.1
PCI_ADDRESS = re.compile(r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")

# VFs bound to these drivers are meant for DPDK / VMs: they have no kernel netdev at all.
NO_NETDEV_DRIVERS = frozenset({"vfio-pci", "uio_pci_generic", "igb_uio", "pci-stub"})

VENDORS: dict[str, str] = {
    "8086": "Intel Corporation",
    "15b3": "Mellanox Technologies",
    "14e4": "Broadcom Inc.",
    "1077": "QLogic Corp.",
    "19ee": "Netronome Systems, Inc.",
    "1924": "Solarflare Communications",
}

# (vendor, device) -> the name `lshw` / `lspci` shows (from pci.ids), for the NICs people most
# often run SR-IOV on. Anything else is shown by its ids.
MODELS: dict[tuple[str, str], str] = {
    ("8086", "1528"): "Ethernet Controller 10-Gigabit X540-AT2",
    ("8086", "1515"): "X540 Ethernet Controller Virtual Function",
    ("8086", "10fb"): "82599ES 10-Gigabit SFI/SFP+ Network Connection",
    ("8086", "10ed"): "82599 Ethernet Controller Virtual Function",
    ("8086", "1563"): "Ethernet Controller 10G X550T",
    ("8086", "1565"): "X550 Virtual Function",
    ("8086", "10c9"): "82576 Gigabit Network Connection",
    ("8086", "10ca"): "82576 Virtual Function",
    ("8086", "1521"): "I350 Gigabit Network Connection",
    ("8086", "1520"): "I350 Ethernet Controller Virtual Function",
    ("8086", "1572"): "Ethernet Controller X710 for 10GbE SFP+",
    ("8086", "1583"): "Ethernet Controller XL710 for 40GbE QSFP+",
    ("8086", "154c"): "Ethernet Virtual Function 700 Series",
    ("8086", "1592"): "Ethernet Controller E810-C for QSFP",
    ("8086", "159b"): "Ethernet Controller E810-XXV for SFP",
    ("8086", "1889"): "Ethernet Adaptive Virtual Function",
    ("15b3", "1015"): "MT27710 Family [ConnectX-4 Lx]",
    ("15b3", "1016"): "MT27710 Family [ConnectX-4 Lx Virtual Function]",
    ("15b3", "1017"): "MT27800 Family [ConnectX-5]",
    ("15b3", "1018"): "MT27800 Family [ConnectX-5 Virtual Function]",
    ("15b3", "101d"): "MT2892 Family [ConnectX-6 Dx]",
    ("15b3", "101e"): "ConnectX Family mlx5Gen Virtual Function",
}


def default_sysfs_root() -> Path:
    """/sys, unless SRIOVCHECK_SYSFS_ROOT points elsewhere (a fake tree, a chroot)."""
    return Path(os.environ.get(SYSFS_ROOT_ENV) or "/sys")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _link_name(path: Path) -> str | None:
    """Name of what a symlink points at (a PCI address, a driver name), None if no such link."""
    if not os.path.islink(path):
        return None
    return os.path.basename(os.path.realpath(path)) or None


def write_attr(path: Path, value: str) -> None:
    """Write one sysfs attribute. The kernel's answer (EBUSY, EINVAL ...) arrives as OSError."""
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


# --- netdevs -------------------------------------------------------------------------------------

def netdev_dir(root: Path, netdev: str) -> Path:
    names.require(names.LINUX_IFNAME, netdev, "interface name")
    return root / "class" / "net" / netdev


def netdev_exists(root: Path, netdev: str) -> bool:
    return netdev_dir(root, netdev).exists()


def all_netdevs(root: Path) -> list[str]:
    try:
        return sorted(p.name for p in (root / "class" / "net").iterdir())
    except OSError:
        return []


def operstate(root: Path, netdev: str) -> str | None:
    return _read(netdev_dir(root, netdev) / "operstate")


def mtu(root: Path, netdev: str) -> int | None:
    return _read_int(netdev_dir(root, netdev) / "mtu")


def address(root: Path, netdev: str) -> str | None:
    return _read(netdev_dir(root, netdev) / "address")


def ifindex(root: Path, netdev: str) -> int | None:
    return _read_int(netdev_dir(root, netdev) / "ifindex")


def netdev_pci_address(root: Path, netdev: str) -> str | None:
    """PCI address behind a netdev (None for virtual devices, and for virtio/USB ones whose
    device link names no PCI function)."""
    name = _link_name(netdev_dir(root, netdev) / "device")
    return name if name is not None and PCI_ADDRESS.fullmatch(name) else None


# --- PFs -----------------------------------------------------------------------------------------

def pf_device_dir(root: Path, pf: str) -> Path:
    return netdev_dir(root, pf) / "device"


def is_sriov_capable(root: Path, pf: str) -> bool:
    return (pf_device_dir(root, pf) / "sriov_totalvfs").exists()


def totalvfs(root: Path, pf: str) -> int | None:
    return _read_int(pf_device_dir(root, pf) / "sriov_totalvfs")


def numvfs(root: Path, pf: str) -> int | None:
    return _read_int(pf_device_dir(root, pf) / "sriov_numvfs")


def numvfs_path(root: Path, pf: str) -> Path:
    return pf_device_dir(root, pf) / "sriov_numvfs"


def write_numvfs(root: Path, pf: str, count: int) -> None:
    write_attr(numvfs_path(root, pf), str(count))


def drivers_autoprobe(root: Path, pf: str) -> bool:
    """False when the admin asked the kernel not to bind drivers to new VFs (they stay unbound)."""
    return _read(pf_device_dir(root, pf) / "sriov_drivers_autoprobe") != "0"


def vf_indices(root: Path, pf: str) -> list[int]:
    """Indices N of the virtfn<N> links that exist now, sorted."""
    try:
        entries = [p.name for p in pf_device_dir(root, pf).iterdir()]
    except OSError:
        return []
    return sorted(int(e[6:]) for e in entries if e.startswith("virtfn") and e[6:].isdigit())


# --- VFs -----------------------------------------------------------------------------------------

def vf_device_dir(root: Path, pf: str, n: int) -> Path:
    return pf_device_dir(root, pf) / f"virtfn{int(n)}"


def vf_pci_address(root: Path, pf: str, n: int) -> str | None:
    return _link_name(vf_device_dir(root, pf, n))


def _single_netdev(net_dir: Path) -> str | None:
    try:
        entries = sorted(p.name for p in net_dir.iterdir())
    except OSError:
        return None  # no net/ directory: no netdev driver bound, or not in this namespace
    return entries[0] if entries else None


def vf_netdev(root: Path, pf: str, n: int) -> str | None:
    """The netdev of VF n as the kernel names it now (never derived from the PF's name)."""
    return _single_netdev(vf_device_dir(root, pf, n) / "net")


def vf_driver(root: Path, pf: str, n: int) -> str | None:
    return _link_name(vf_device_dir(root, pf, n) / "driver")


# --- PCI devices ---------------------------------------------------------------------------------

def pci_device_dir(root: Path, pci_address: str) -> Path:
    if not PCI_ADDRESS.fullmatch(pci_address):
        raise ValueError(f"refusing an unchecked PCI address {pci_address!r}")
    return root / "bus" / "pci" / "devices" / pci_address


def netdevs_by_pci(root: Path, pci_address: str) -> list[str]:
    try:
        return sorted(p.name for p in (pci_device_dir(root, pci_address) / "net").iterdir())
    except OSError:
        return []


def pf_of_vf(root: Path, vf_pci_address: str) -> tuple[str | None, str | None]:
    """(PF PCI address, PF netdev) of a VF, through its physfn link."""
    physfn = pci_device_dir(root, vf_pci_address) / "physfn"
    return _link_name(physfn), _single_netdev(physfn / "net")


def iommu_group(root: Path, pci_address: str) -> int | None:
    name = _link_name(pci_device_dir(root, pci_address) / "iommu_group")
    return int(name) if name is not None and name.isdigit() else None


def device_driver(root: Path, pci_address: str) -> str | None:
    return _link_name(pci_device_dir(root, pci_address) / "driver")


def device_ids(root: Path, pci_address: str) -> tuple[str, str] | None:
    """(vendor, device) as 4 lower-case hex digits, e.g. ("8086", "1515")."""
    d = pci_device_dir(root, pci_address)
    vendor, device = _read(d / "vendor"), _read(d / "device")
    if vendor is None or device is None:
        return None
    return vendor.lower().removeprefix("0x"), device.lower().removeprefix("0x")


def model_name(ids: tuple[str, str] | None) -> str | None:
    if ids is None:
        return None
    known = MODELS.get(ids)
    if known:
        return known
    vendor = VENDORS.get(ids[0], f"vendor {ids[0]}")
    return f"{vendor} device {ids[1]}"


def device_model(root: Path, pci_address: str) -> str | None:
    return model_name(device_ids(root, pci_address))
