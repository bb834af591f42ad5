"""Facts about the host that explain SR-IOV behaviour: who we run as, kernel, IOMMU.

Read from /proc and /sys only (roots passed in), so that reports and `sriovcheck doctor` can show
them and tests can feed fake trees.
"""

from __future__ import annotations

from pathlib import Path

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21

IOMMU_FLAGS = ("intel_iommu=on", "amd_iommu=on", "amd_iommu=force_isolation", "iommu=pt", "iommu=on")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _status_fields(proc_root: Path) -> dict[str, str]:
    text = _read(proc_root / "self" / "status") or ""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def _cpu_vendor(proc_root: Path) -> str | None:
    for line in (_read(proc_root / "cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id":
            return {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(value.strip(), value.strip())
    return None


def _entries(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.iterdir())
    except OSError:
        return []


def iommu_note(enabled: bool, cmdline_flags: list[str], cpu_vendor: str | None) -> str:
    if enabled:
        if "iommu=pt" not in cmdline_flags:
            return ("IOMMU is on. For VFs passed to VMs or vfio-pci (DPDK), adding iommu=pt to "
                    "GRUB_CMDLINE_LINUX avoids translation overhead for the host's own devices.")
        return "IOMMU is on with pass-through: VFs can also be given to VMs or vfio-pci."
    flag = "amd_iommu=on" if cpu_vendor == "amd" else "intel_iommu=on"
    return (
        "IOMMU is off. Kernel-netdev VFs moved into containers do not need it, so sriovcheck does not. "
        "To pass VFs to VMs or bind them to vfio-pci (DPDK), add "
        f'"{flag} iommu=pt" to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub '
        "(grub2-mkconfig -o /boot/grub2/grub.cfg on RHEL) and reboot; VT-d / AMD-Vi must be on in the BIOS."
    )


def host_facts(sysfs_root: Path, proc_root: Path = Path("/proc")) -> dict[str, object]:
    status = _status_fields(proc_root)
    uids = status.get("Uid", "").split()
    euid = int(uids[1]) if len(uids) > 1 and uids[1].isdigit() else None
    try:
        cap_eff = int(status.get("CapEff", ""), 16)
    except ValueError:
        cap_eff = None
    cmdline = (_read(proc_root / "cmdline") or "").split()
    flags = [t for t in cmdline if t in IOMMU_FLAGS or t.startswith(("intel_iommu=", "amd_iommu=", "iommu="))]
    units = _entries(sysfs_root / "class" / "iommu")  # dmar0, ivhd0 ...: the IOMMU hardware is driven
    groups = _entries(sysfs_root / "kernel" / "iommu_groups")
    off = any(t in ("intel_iommu=off", "amd_iommu=off", "iommu=off") for t in flags)
    enabled = bool(units or groups) and not off
    vendor = _cpu_vendor(proc_root)
    return {
        "hostname": _read(proc_root / "sys" / "kernel" / "hostname"),
        "kernel_release": _read(proc_root / "sys" / "kernel" / "osrelease"),
        "is_root": euid == 0 if euid is not None else None,
        "cap_net_admin": bool(cap_eff >> CAP_NET_ADMIN & 1) if cap_eff is not None else None,
        "cap_sys_admin": bool(cap_eff >> CAP_SYS_ADMIN & 1) if cap_eff is not None else None,
        "cpu_vendor": vendor,
        "iommu": {
            "enabled": enabled,
            "units": units,
            "groups": len(groups),
            "cmdline_flags": flags,
            "passthrough": "iommu=pt" in flags,
            "note": iommu_note(enabled, flags, vendor),
        },
    }
