"""Find the SR-IOV NICs of a host (sysfs only), show them like `lshw -c network -businfo`,
and write a starter topology for them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sriovcheck.host import sysfs
from sriovcheck.topology import names


@dataclass(frozen=True)
class DiscoveredVf:
    index: int
    pci_address: str | None
    driver: str | None
    netdev: str | None  # None: moved into another namespace, or a vfio/uio driver (no netdev)
    model: str | None = None


@dataclass(frozen=True)
class NicInfo:
    netdev: str
    pci_address: str | None
    driver: str | None
    model: str | None
    totalvfs: int
    numvfs: int
    operstate: str | None
    vfs: list[DiscoveredVf] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def discover(sysfs_root: Path) -> list[NicInfo]:
    """Every netdev whose PCI device has sriov_totalvfs, i.e. every PF that can make VFs."""
    r = sysfs_root
    out = []
    for dev in sysfs.all_netdevs(r):
        if not names.LINUX_IFNAME.fullmatch(dev) or not sysfs.is_sriov_capable(r, dev):
            continue
        pci = sysfs.netdev_pci_address(r, dev)
        vfs = []
        for n in sysfs.vf_indices(r, dev):
            vf_pci = sysfs.vf_pci_address(r, dev, n)
            vfs.append(DiscoveredVf(
                index=n,
                pci_address=vf_pci,
                driver=sysfs.vf_driver(r, dev, n),
                netdev=sysfs.vf_netdev(r, dev, n),
                model=sysfs.device_model(r, vf_pci) if vf_pci else None,
            ))
        out.append(NicInfo(
            netdev=dev,
            pci_address=pci,
            driver=sysfs.device_driver(r, pci) if pci else None,
            model=sysfs.device_model(r, pci) if pci else None,
            totalvfs=sysfs.totalvfs(r, dev) or 0,
            numvfs=sysfs.numvfs(r, dev) or 0,
            operstate=sysfs.operstate(r, dev),
            vfs=vfs,
        ))
    return sorted(out, key=lambda n: (n.pci_address or "~", n.netdev))


def render_table(nics: list[NicInfo]) -> str:
    """`lshw -c network -businfo` columns, with each PF's VFs right under it and SR-IOV columns."""
    header = ("Bus info", "Device", "Class", "Description", "Driver", "SR-IOV", "State")
    rows: list[tuple[str, ...]] = []
    for nic in nics:
        rows.append((
            f"pci@{nic.pci_address}" if nic.pci_address else "-",
            nic.netdev, "network", nic.model or "-", nic.driver or "-",
            f"PF {nic.numvfs}/{nic.totalvfs} VFs", nic.operstate or "-",
        ))
        for vf in nic.vfs:
            if vf.driver in sysfs.NO_NETDEV_DRIVERS:
                device = "-"
                state = f"{vf.driver}: no netdev (DPDK/VM)"
            elif vf.netdev is None:
                device = "-"
                state = "no netdev here (in a container?)" if vf.driver else "no driver bound"
            else:
                device, state = vf.netdev, ""
            rows.append((
                f"pci@{vf.pci_address}" if vf.pci_address else "-",
                device, "network", vf.model or "-", vf.driver or "-", f"VF {vf.index} of {nic.netdev}", state,
            ))
    if not rows:
        return "No SR-IOV capable NIC found (no network device has sriov_totalvfs).\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), "=" * len(line(header)), *(line(r) for r in rows)]) + "\n"


def _topology_name(host_name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", host_name.lower()).strip("-")[:25].strip("-")
    return f"{base}-sriov" if base else "sriov"


def skeleton_topology(nics: list[NicInfo], host_name: str) -> str:
    """A starter topology for this host's PFs; every guess is marked CHANGE ME.

    It loads as is (`sriovcheck.topology.load_text`): PFs keep their current VF count (at
    least 2); as in the seed, two containers get two netdev VFs of the PF that already has VFs
    (else the first PF) on VLANs 200 and 201.
    """
    host = host_name if names.HOSTNAME.fullmatch(host_name) else "host"
    usable = [n for n in nics if n.totalvfs > 0][:16]
    free: list[int] | None = None  # indices of existing VFs with a netdev driver
    lines = [
        "# Starter topology written by `sriovcheck discover`. Lines marked CHANGE ME are guesses:",
        "# the switch, its ports and the VLANs cannot be seen from the host.",
        f"name: {_topology_name(host)}",
        f"description: SR-IOV VFs of {host} on VLANs, from discovered NICs.",
        "host:",
        f"  name: {host}",
        "  pfs:",
    ]
    if not usable:
        lines += [
            "    # No SR-IOV capable NIC was found on this host: replace eno2 by your PF's name.",
            "    - name: eno2  # CHANGE ME",
            "      numvfs: 2",
            "      switch_port: ge-0/0/1  # CHANGE ME: the switch port this PF is cabled to",
        ]
        first, first_vfs = "eno2", 2
    else:
        for i, nic in enumerate(usable):
            count = min(nic.totalvfs, 256, max(nic.numvfs, 2))
            desc = ", ".join(x for x in (nic.model, nic.driver, nic.pci_address) if x)
            lines += [
                f"    - name: {nic.netdev}  # {desc}; sriov_totalvfs {nic.totalvfs}",
                f"      numvfs: {count}",
                f"      switch_port: ge-0/0/{i}  # CHANGE ME: the switch port {nic.netdev} is cabled to",
            ]
        # Put the containers on the PF the admin already made VFs on (as in the seed: eno2 with 8),
        # and on VFs that have a kernel netdev driver (not vfio-pci).
        pick = max(usable, key=lambda n: (n.numvfs > 0, n.operstate == "up", -usable.index(n)))
        first, first_vfs = pick.netdev, min(pick.totalvfs, 256, max(pick.numvfs, 2))
        free = [v.index for v in pick.vfs if v.driver not in sysfs.NO_NETDEV_DRIVERS] if pick.vfs else None
    lines += [
        "switch:",
        "  name: switch  # CHANGE ME",
        "  platform: juniper_junos",
        "  host: 192.0.2.10  # CHANGE ME: the switch's management address",
        "  port: 22",
        "  username: netops  # CHANGE ME",
        "  password_env: SRIOVCHECK_SWITCH_PASSWORD  # export the password in this variable, never in this file",
        "vlans:  # CHANGE ME: the VLANs the switch port carries, with their gateways on the switch",
    ]
    indices = (free if free is not None else list(range(first_vfs)))[:2] or [0]
    vlan_ids = [200, 201][: len(indices)]
    for vid in vlan_ids:
        lines += [
            f"  - id: {vid}",
            f"    name: SRIOV_{vid}",
            f"    subnet: 192.168.{vid}.0/24",
            f"    gateway: 192.168.{vid}.1",
            f"    l3_interface: vlan.{vid}  # irb.{vid} on ELS switches (EX2300/3400/4300, QFX)",
        ]
    lines.append("containers:  # CHANGE ME: the image must exist locally or be pullable")
    for n, vid in zip(indices, vlan_ids, strict=True):
        lines += [
            f"  - name: test-{vid}",
            "    image: nginx:alpine",
            "    network: bridge",
            "    vfs:",
            f"      - pf: {first}",
            f"        vf: {n}",
            f"        vlan: {vid}",
            "        ifname: eth1",
            f"        address: 192.168.{vid}.2/24",
        ]
    return "\n".join(lines) + "\n"
