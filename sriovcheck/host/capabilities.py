"""What each common SR-IOV PF driver does with each VF setting, as data, with where each fact comes from.

Read from the Linux 6.1 sources of the drivers (the `ndo_set_vf_*` operations each driver registers
in its `net_device_ops`, and `net/core/rtnetlink.c` `do_setvfinfo`, which answers EOPNOTSUPP for an
operation a driver does not register), and for igb also observed on a real igb driver (QEMU's 82576,
kernel 6.1.0-50: `../shared/notes/vm-lab.md`). What is not known is "unknown", never guessed.

`preflight` warns from this table before anything is changed; the real host driver names the
driver's refusal from it when the kernel says no (`sriovcheck.host.linux`).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Literal

from sriovcheck.host.driver import VfConfig

Status = Literal["supported", "refused", "conditional", "unknown"]

# The VF settings of a topology (VfSpec field names); vlan_proto is about 802.1ad (802.1Q is the default).
SETTINGS: tuple[str, ...] = (
    "vlan", "qos", "vlan_proto", "mac", "spoofchk", "trust", "link_state", "min_tx_rate_mbps", "max_tx_rate_mbps",
)

LINUX = "Linux 6.1 drivers/net/ethernet"
RTNL = "net/core/rtnetlink.c do_setvfinfo answers EOPNOTSUPP for an operation the driver does not register"
VM_LAB = "seen on QEMU's igb (82576), kernel 6.1.0-50 (shared/notes/vm-lab.md)"


@dataclass(frozen=True)
class Fact:
    """What one driver does with one VF setting."""

    status: Status
    source: str  # the driver's source file and function (and what was observed, where it was)
    errno: int | None = None  # what the driver answers when it refuses
    detail: str = ""  # the condition, the limits, what happens
    needs_pf_link_up: bool = False  # refused (EINVAL) while the PF has no link
    max_value: int | None = None  # the largest value the driver can accept (rates: Mbit/s)

    @property
    def errno_name(self) -> str | None:
        if self.errno is None:
            return None
        return "EOPNOTSUPP" if self.errno == errno.EOPNOTSUPP else errno.errorcode.get(self.errno, str(self.errno))

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "errno": self.errno_name, "detail": self.detail, "source": self.source,
                "needs_pf_link_up": self.needs_pf_link_up, "max_value": self.max_value}


@dataclass(frozen=True)
class DriverCaps:
    driver: str
    nics: str
    max_vfs: int | None  # None: set by the NIC's firmware, read sriov_totalvfs
    max_vfs_source: str
    settings: dict[str, Fact]

    def fact(self, setting: str) -> Fact:
        return self.settings.get(setting, UNKNOWN)


UNKNOWN = Fact("unknown", "not in sriovcheck's capability table")

_IGB = f"{LINUX}/intel/igb/igb_main.c"
_IXGBE = f"{LINUX}/intel/ixgbe/ixgbe_sriov.c"
_I40E = f"{LINUX}/intel/i40e/i40e_virtchnl_pf.c"
_ICE = f"{LINUX}/intel/ice/ice_sriov.c"
_MLX5 = f"{LINUX}/mellanox/mlx5/core"
_LEGACY_ONLY = "only in the legacy eswitch mode (the default); EOPNOTSUPP in switchdev mode"

CAPABILITIES: dict[str, DriverCaps] = {
    "igb": DriverCaps(
        driver="igb",
        nics="Intel 82576, I350 (SR-IOV on these two only)",
        max_vfs=7,
        max_vfs_source=f"{_IGB} igb_probe_vfs (pci_sriov_set_totalvfs 7), igb_enable_sriov (EPERM above 7); "
        f"sriov_totalvfs 7 {VM_LAB}",
        settings={
            "vlan": Fact("supported", f"{_IGB} igb_ndo_set_vf_vlan; VLAN 200 set and read back {VM_LAB}",
                         detail="VLAN 0..4095"),
            "qos": Fact("supported", f"{_IGB} igb_ndo_set_vf_vlan", detail="priority 0..7"),
            "vlan_proto": Fact("refused", f"{_IGB} igb_ndo_set_vf_vlan; 'Protocol not supported' {VM_LAB}",
                               errno=errno.EPROTONOSUPPORT, detail="802.1Q VF VLANs only"),
            "mac": Fact("supported", f"{_IGB} igb_ndo_set_vf_mac",
                        detail="a running igbvf keeps its old MAC until the VF driver is reloaded"),
            "spoofchk": Fact("supported", f"{_IGB} igb_ndo_set_vf_spoofchk"),
            "trust": Fact("supported", f"{_IGB} igb_ndo_set_vf_trust"),
            "link_state": Fact("refused", f"{_IGB} igb_netdev_ops has no ndo_set_vf_link_state; {RTNL}; "
                               f"'Operation not supported' {VM_LAB}", errno=errno.EOPNOTSUPP,
                               detail="igb has no VF link-state control"),
            "min_tx_rate_mbps": Fact("refused", f"{_IGB} igb_ndo_set_vf_bw", errno=errno.EINVAL,
                                     detail="igb has no minimum rate: any non-zero min_tx_rate is refused"),
            "max_tx_rate_mbps": Fact("conditional", f"{_IGB} igb_ndo_set_vf_bw", errno=errno.EINVAL,
                                     detail="82576 only (EOPNOTSUPP on I350), the PF's link must be up, "
                                     "at most the link speed (100 or 1000 Mbit/s)",
                                     needs_pf_link_up=True, max_value=1000),
        },
    ),
    "ixgbe": DriverCaps(
        driver="ixgbe",
        nics="Intel 82599, X540, X550",
        max_vfs=63,
        max_vfs_source=f"{LINUX}/intel/ixgbe/ixgbe_main.c ixgbe_probe (pci_sriov_set_totalvfs "
        "IXGBE_MAX_VFS_DRV_LIMIT = 63, ixgbe_sriov.h)",
        settings={
            "vlan": Fact("supported", f"{_IXGBE} ixgbe_ndo_set_vf_vlan", detail="VLAN 0..4095"),
            "qos": Fact("supported", f"{_IXGBE} ixgbe_ndo_set_vf_vlan", detail="priority 0..7"),
            "vlan_proto": Fact("refused", f"{_IXGBE} ixgbe_ndo_set_vf_vlan", errno=errno.EPROTONOSUPPORT,
                               detail="802.1Q VF VLANs only"),
            "mac": Fact("supported", f"{_IXGBE} ixgbe_ndo_set_vf_mac"),
            "spoofchk": Fact("supported", f"{_IXGBE} ixgbe_ndo_set_vf_spoofchk"),
            "trust": Fact("supported", f"{_IXGBE} ixgbe_ndo_set_vf_trust"),
            "link_state": Fact("conditional", f"{_IXGBE} ixgbe_ndo_set_vf_link_state, ixgbe_ndo_get_vf_config",
                               detail="auto and disable are applied, enable is accepted and ignored; the driver "
                               "does not report the link state back, so it always reads as auto"),
            "min_tx_rate_mbps": Fact("refused", f"{_IXGBE} ixgbe_ndo_set_vf_bw", errno=errno.EINVAL,
                                     detail="ixgbe has no minimum rate: any non-zero min_tx_rate is refused"),
            "max_tx_rate_mbps": Fact("conditional", f"{_IXGBE} ixgbe_ndo_set_vf_bw", errno=errno.EINVAL,
                                     detail="the PF's link must be up at 10 Gbit/s; 11..10000 Mbit/s",
                                     needs_pf_link_up=True, max_value=10000),
        },
    ),
    "i40e": DriverCaps(
        driver="i40e",
        nics="Intel X710, XL710, XXV710",
        max_vfs=None,
        max_vfs_source=f"{LINUX}/intel/i40e/i40e_main.c i40e_sw_init: the firmware's count, at most "
        "I40E_MAX_VF_COUNT = 128",
        settings={
            "vlan": Fact("supported", f"{_I40E} i40e_ndo_set_vf_port_vlan", detail="VLAN 0..4095"),
            "qos": Fact("supported", f"{_I40E} i40e_ndo_set_vf_port_vlan", detail="priority 0..7"),
            "vlan_proto": Fact("refused", f"{_I40E} i40e_ndo_set_vf_port_vlan", errno=errno.EPROTONOSUPPORT,
                               detail="802.1Q VF VLANs only"),
            "mac": Fact("supported", f"{_I40E} i40e_ndo_set_vf_mac",
                        detail="EAGAIN while the VF is still in reset: retry"),
            "spoofchk": Fact("supported", f"{_I40E} i40e_ndo_set_vf_spoofchk"),
            "trust": Fact("supported", f"{_I40E} i40e_ndo_set_vf_trust",
                          detail="EINVAL when the NIC is partitioned (MFP/NPAR)"),
            "link_state": Fact("supported", f"{_I40E} i40e_ndo_set_vf_link_state"),
            "min_tx_rate_mbps": Fact("refused", f"{_I40E} i40e_ndo_set_vf_bw", errno=errno.EINVAL,
                                     detail="i40e has no minimum rate: any non-zero min_tx_rate is refused"),
            "max_tx_rate_mbps": Fact("supported", f"{_I40E} i40e_ndo_set_vf_bw; {LINUX}/intel/i40e/i40e_main.c i40e_set_bw_limit",
                                     detail="at most the link speed (EINVAL above); applied in 50 Mbit/s steps"),
        },
    ),
    "ice": DriverCaps(
        driver="ice",
        nics="Intel E810",
        max_vfs=None,
        max_vfs_source=f"{_ICE} ice_pci_sriov_ena: the firmware's count (EOPNOTSUPP above it), at most "
        "ICE_MAX_SRIOV_VFS = 256 (ice_vf_lib.h)",
        settings={
            "vlan": Fact("supported", f"{_ICE} ice_set_vf_port_vlan", detail="VLAN 0..4095"),
            "qos": Fact("supported", f"{_ICE} ice_set_vf_port_vlan", detail="priority 0..7"),
            "vlan_proto": Fact("conditional", f"{_ICE} ice_set_vf_port_vlan, ice_is_supported_port_vlan_proto",
                               errno=errno.EPROTONOSUPPORT,
                               detail="802.1ad only when the NIC runs in Double VLAN Mode"),
            "mac": Fact("supported", f"{_ICE} ice_set_vf_mac"),
            "spoofchk": Fact("supported", f"{_ICE} ice_set_vf_spoofchk"),
            "trust": Fact("conditional", f"{_ICE} ice_set_vf_trust", errno=errno.EOPNOTSUPP,
                          detail="EOPNOTSUPP in switchdev eswitch mode"),
            "link_state": Fact("supported", f"{_ICE} ice_set_vf_link_state"),
            "min_tx_rate_mbps": Fact("conditional", f"{_ICE} ice_set_vf_bw", errno=errno.EOPNOTSUPP,
                                     detail="EOPNOTSUPP while DCB is active; EINVAL when the VFs' minimums "
                                     "add up to more than the link speed"),
            "max_tx_rate_mbps": Fact("supported", f"{_ICE} ice_set_vf_bw"),
        },
    ),
    "mlx5_core": DriverCaps(
        driver="mlx5_core",
        nics="NVIDIA/Mellanox ConnectX-4 and later",
        max_vfs=None,
        max_vfs_source="the firmware's NUM_OF_VFS (mlxconfig), read sriov_totalvfs",
        settings={
            "vlan": Fact("conditional", f"{_MLX5}/esw/legacy.c mlx5_eswitch_set_vport_vlan", errno=errno.EOPNOTSUPP,
                         detail=_LEGACY_ONLY),
            "qos": Fact("conditional", f"{_MLX5}/esw/legacy.c mlx5_eswitch_set_vport_vlan", errno=errno.EOPNOTSUPP,
                        detail=_LEGACY_ONLY),
            "vlan_proto": Fact("refused", f"{_MLX5}/en_main.c mlx5e_set_vf_vlan", errno=errno.EPROTONOSUPPORT,
                               detail="802.1Q VF VLANs only"),
            "mac": Fact("supported", f"{_MLX5}/eswitch.c mlx5_eswitch_set_vport_mac"),
            "spoofchk": Fact("conditional", f"{_MLX5}/esw/legacy.c mlx5_eswitch_set_vport_spoofchk",
                             errno=errno.EOPNOTSUPP, detail=_LEGACY_ONLY),
            "trust": Fact("conditional", f"{_MLX5}/esw/legacy.c mlx5_eswitch_set_vport_trust",
                          errno=errno.EOPNOTSUPP, detail=_LEGACY_ONLY),
            "link_state": Fact("conditional", f"{_MLX5}/eswitch.c mlx5_eswitch_set_vport_state",
                               errno=errno.EOPNOTSUPP, detail=_LEGACY_ONLY),
            "min_tx_rate_mbps": Fact("conditional", f"{_MLX5}/esw/qos.c esw_qos_set_vport_min_rate",
                                     errno=errno.EOPNOTSUPP,
                                     detail="EOPNOTSUPP without the firmware's esw_bw_share capability"),
            "max_tx_rate_mbps": Fact("conditional", f"{_MLX5}/esw/qos.c esw_qos_set_vport_max_rate",
                                     errno=errno.EOPNOTSUPP,
                                     detail="EOPNOTSUPP without the firmware's esw_rate_limit capability"),
        },
    ),
}


def capabilities(driver: str | None) -> DriverCaps | None:
    """The table's entry for a PF driver as sysfs names it (None: not in the table)."""
    if not driver:
        return None
    return CAPABILITIES.get(EMULATED.get(driver, driver))


# The emulated lab's NICs whose refusals follow this table (`lab.nic_driver: igb`). Its default,
# ixgbe-emulated, honours link_state where real ixgbe does not report it back: not mapped.
EMULATED = {"igb-emulated": "igb"}


def used_settings(config: VfConfig) -> dict[str, str]:
    """The settings a VF configuration asks of the driver beyond its defaults -> the value, as shown."""
    used: dict[str, str] = {}
    if config.vlan:
        used["vlan"] = str(config.vlan)
        if config.qos:
            used["qos"] = str(config.qos)
        if config.vlan_proto == "802.1ad":
            used["vlan_proto"] = "802.1ad"
    if config.mac is not None:
        used["mac"] = config.mac
    if config.spoofchk is False:
        used["spoofchk"] = "off"
    if config.trust:
        used["trust"] = "on"
    if config.link_state != "auto":
        used["link_state"] = config.link_state
    if config.min_tx_rate_mbps:
        used["min_tx_rate_mbps"] = str(config.min_tx_rate_mbps)
    if config.max_tx_rate_mbps:
        used["max_tx_rate_mbps"] = str(config.max_tx_rate_mbps)
    return used


@dataclass(frozen=True)
class Concern:
    """A setting a VF asks for that the driver refuses, or accepts only under a condition."""

    setting: str
    value: str
    fact: Fact
    why: str  # for conditional facts: the condition that is (or may be) unmet

    @property
    def certain(self) -> bool:
        return self.fact.status == "refused" or bool(self.why)


def concerns(driver: str | None, config: VfConfig, *, pf_link_up: bool | None = None) -> list[Concern]:
    """What the table says about the settings `config` uses on `driver`: refusals, and conditions
    (a PF whose link is down, a rate above the driver's limit are named as certain)."""
    caps = capabilities(driver)
    if caps is None:
        return []
    out = []
    for setting, value in used_settings(config).items():
        fact = caps.fact(setting)
        if fact.status in ("supported", "unknown"):
            continue
        why = ""
        if fact.status == "conditional":
            if fact.needs_pf_link_up and pf_link_up is False:
                why = "the PF's link is down"
            elif fact.max_value is not None and value.isdigit() and int(value) > fact.max_value:
                why = f"{value} is above {fact.max_value}"
        out.append(Concern(setting, value, fact, why))
    return out


def what_to_do(driver: str, pf: str, vf: int, setting: str, *, value_refused: bool = False) -> str:
    """The hint for a refused setting: take it out of the topology, or use a NIC that has it.
    `value_refused`: the driver has the setting but refused this value (EINVAL)."""
    if setting in ("vlan", "mac"):
        return (f"check {setting} of VF {vf} of {pf} in the topology (a VLAN the NIC can filter, a unicast MAC "
                "no other port uses) and `dmesg` for the driver's reason")
    default = {"vlan_proto": "802.1Q", "link_state": "auto", "min_tx_rate_mbps": "0", "max_tx_rate_mbps": "0",
               "trust": "false", "spoofchk": "true", "qos": "0"}.get(setting)
    keep = f" (or set it to {default})" if default is not None else ""
    change = "use a value the driver accepts, or " if value_refused else ""
    others = [c.driver for c in CAPABILITIES.values()
              if c.driver != driver and c.fact(setting).status == "supported"]
    nic = f"use a NIC whose driver supports it ({', '.join(others)})" if others else "use a NIC whose driver supports it"
    return f"{change}remove {setting} from VF {vf} of {pf} in the topology{keep}, or {nic}"


def refusal_text(driver: str, pf: str, vf: int, setting: str, value: str, code: int) -> str:
    """"igb on eno2 does not support link_state for VF 1" (EOPNOTSUPP, EPROTONOSUPPORT) or
    "igb on eno2 refused min_tx_rate_mbps 100 for VF 1" (a value the driver refuses)."""
    who = f"{driver} on {pf}" if driver else f"the driver of {pf}"
    if code in (errno.EOPNOTSUPP, errno.EPROTONOSUPPORT):
        return f"{who} does not support {setting}{' ' + value if setting == 'vlan_proto' else ''} for VF {vf}"
    return f"{who} refused {setting} {value} for VF {vf}"


def refusal_hint(driver: str, pf: str, vf: int, setting: str, code: int) -> str:
    """Why (the table's fact and its source, where it knows the driver) and what to do."""
    caps = capabilities(driver)
    known = caps.fact(setting) if caps is not None else None
    why = ""
    if known is not None and known.status != "supported" and known.detail:
        why = f"{known.detail} ({known.source.split('; ')[0].removeprefix(LINUX + '/')}); "
    value_refused = code not in (errno.EOPNOTSUPP, errno.EPROTONOSUPPORT) and (known is None or known.status != "refused")
    name = caps.driver if caps is not None else driver
    return why + what_to_do(name, pf, vf, setting, value_refused=value_refused)


def _cell(fact: Fact) -> str:
    if fact.status == "supported":
        return "yes"
    if fact.status == "refused":
        return f"**no** ({fact.errno_name})"
    if fact.status == "conditional":
        return f"if … ({fact.errno_name})" if fact.errno_name else "if …"
    return "?"


def markdown_table() -> str:
    """The table as README.md shows it (a unit test keeps the two the same)."""
    head = ["driver", "max VFs", *SETTINGS]
    lines = ["| " + " | ".join(head).replace("vlan_proto", "vlan_proto 802.1ad") + " |",
             "|" + "---|" * len(head)]
    for caps in CAPABILITIES.values():
        cells = [caps.driver, str(caps.max_vfs) if caps.max_vfs is not None else "firmware"]
        cells += [_cell(caps.fact(s)) for s in SETTINGS]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for caps in CAPABILITIES.values():
        by_detail: dict[str, list[str]] = {}
        for setting, fact in caps.settings.items():
            if fact.status != "supported" and fact.detail:
                by_detail.setdefault(fact.detail, []).append(setting)
        notes = [f"{', '.join(settings)}: {detail}" for detail, settings in by_detail.items()]
        functions: dict[str, list[str]] = {}
        for fact in caps.settings.values():
            for part in fact.source.split("; "):
                found = re.search(r"([\w/]+\.c) (.*)", part)
                if part.startswith(LINUX) and found:
                    names = functions.setdefault(found.group(1).removeprefix("drivers/net/ethernet/"), [])
                    names += [n for n in re.findall(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b(?!\.)", found.group(2)) if n not in names]
        cited = "; ".join(f"{file} {', '.join(names)}" for file, names in functions.items())
        seen = [f"{setting}: {part.replace(' ' + VM_LAB, '')}" for setting, fact in caps.settings.items()
                for part in fact.source.split("; ") if part.endswith(VM_LAB)]
        lines.append(f"- **{caps.driver}** ({caps.nics}): " + "; ".join(notes)
                     + f". Max VFs: {caps.max_vfs_source.removeprefix(LINUX + '/')}. Sources (Linux 6.1): {cited}."
                     + (f" Observed, {VM_LAB}: {'; '.join(seen)}." if seen else ""))
    return "\n".join(lines) + "\n"
