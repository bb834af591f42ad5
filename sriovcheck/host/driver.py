"""The host-driver seam: what sriovcheck needs from a host's SR-IOV NIC.

Two implementations satisfy `HostDriver`: the real Linux driver (`sriovcheck.host.linux`:
sysfs + pyroute2 netlink on the PF) and the emulated lab's (`sriovcheck.lab.host_driver`).
Everything above this seam (moving a VF into a container, naming, addressing, probing,
the switch) is the same code for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

LinkState = Literal["auto", "enable", "disable"]
VlanProto = Literal["802.1Q", "802.1ad"]


@dataclass(frozen=True)
class VfConfig:
    """Per-VF settings made through the PF (`ip link set PF vf N ...`).

    `mac` None means "no admin MAC" (00:00:00:00:00:00 on real NICs). `spoofchk` and `trust`
    are None when the driver does not report them.
    """

    vlan: int = 0
    qos: int = 0
    vlan_proto: VlanProto = "802.1Q"
    mac: str | None = None
    spoofchk: bool | None = True
    trust: bool | None = False
    link_state: LinkState = "auto"
    min_tx_rate_mbps: int = 0
    max_tx_rate_mbps: int = 0

    def as_dict(self) -> dict[str, object]:
        # Every field is a scalar: no deep copy (dataclasses.asdict) needed. The lab state holds one per VF
        # and is written twice per VF change, under the lock that every host of an emulated rack waits for.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> VfConfig:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)  # type: ignore[arg-type]


@dataclass(frozen=True)
class VfInfo:
    pf: str
    index: int
    pci_address: str | None  # e.g. 0000:01:10.1 (None in the emulated lab)
    driver: str | None  # ixgbevf, iavf, mlx5_core, vfio-pci ... (None if unbound)
    netdev: str | None  # its netdev name in the host namespace; None when it has none there
    has_netdev_driver: bool = True  # False for vfio-pci / uio drivers (DPDK): no netdev at all


@dataclass(frozen=True)
class PfInfo:
    name: str
    exists: bool
    sriov_capable: bool = False
    totalvfs: int = 0
    numvfs: int = 0
    pci_address: str | None = None
    driver: str | None = None
    model: str | None = None
    operstate: str | None = None  # up / down / unknown
    carrier: bool | None = None  # IFLA_CARRIER: False for no link (and for a link set down); None: not read
    mtu: int | None = None
    mac: str | None = None
    vfs: list[VfInfo] = field(default_factory=list)


@runtime_checkable
class HostDriver(Protocol):
    """SR-IOV operations on one host. Names passed in have been validated by the topology."""

    kind: str  # "linux" or "emulated": shown in reports

    def pf_info(self, pf: str) -> PfInfo:
        """State of a PF and of each of its VFs. Never raises for a missing PF (exists=False)."""
        ...

    def set_numvfs(self, pf: str, count: int) -> None:
        """Make the PF have exactly `count` VFs (0 first when changing a non-zero count) and
        wait, bounded, until every VF netdev exists. Raises HostError with the cause."""
        ...

    def vf_info(self, pf: str, vf: int) -> VfInfo:
        """Resolve VF `vf` of `pf` (PCI address, driver, netdev name in the host namespace)."""
        ...

    def get_vf_config(self, pf: str, vf: int) -> VfConfig:
        """Read the VF's settings back from the PF (netlink IFLA_VFINFO_LIST on a real host)."""
        ...

    def set_vf_config(self, pf: str, vf: int, config: VfConfig) -> None:
        """Apply `config` in the order drivers need (VLAN/QoS/proto, MAC, rates, spoofchk,
        trust, link_state), read each back and compare. On a refusal, undo what this call
        changed and raise HostError naming PF, VF, setting and the driver's answer."""
        ...
