"""The normalised switch tables every platform's parsers return and every check reads.

A platform module (sriovcheck.switch.platforms.*) turns its switch's output (JSON, XML or text)
into these; nothing downstream of the parsers knows which vendor answered.
"""

from __future__ import annotations

from dataclasses import dataclass


class ParseError(ValueError):
    """The text is not the switch output the parser was asked to read."""


@dataclass(frozen=True)
class MacEntry:
    vlan_name: str
    vlan_id: int | None  # only XML carries it; text shows the VLAN name only
    mac: str | None  # lower-case colon form; None for the '*' flood row
    kind: str  # learned | static | flood | router | control | other
    raw_kind: str  # the switch's own word: Junos Type/MAC flags ("Learn", "DL"), EOS/NX-OS type ("dynamic")
    age_s: int | None
    interface: str  # ge-0/0/1.0, Ethernet1, Ethernet1/1, Router, ae0.0, vtep.32771; "" when blank
    routing_instance: str | None = None  # ELS "Routing instance : default-switch"; None when not shown
    flag: str | None = None  # NX-OS' first column: "*" primary, "G" gateway (the switch's own MAC), "" none


@dataclass(frozen=True)
class ArpEntry:
    mac: str
    ip: str
    interface: str  # vlan.200, irb.100, ge-0/0/3.0, Vlan200
    physical_interface: str | None  # the ge-0/0/1.0 in "irb.100 [ge-0/0/1.0]", the Ethernet1 behind EOS' Vlan200
    flags: tuple[str, ...]  # ("none",), ("permanent", "remote")
    hostname: str | None  # plain `show arp` has a Name column; no-resolve does not
    expires_s: int | None  # only with `expiration-time`
    age_s: int | None = None  # how old the entry is, where the switch says (EOS, NX-OS)
    vrf: str | None = None  # the VRF / routing context the table names, where it names one


@dataclass(frozen=True)
class VersionInfo:
    hostname: str | None
    model: str | None
    os_version: str | None  # as the switch reports it: 12.3R12.4, 4.27.3F, 9.3(8)
    serial: str | None = None
    internal_version: str | None = None  # EOS' internal build version, where given

    @property
    def junos_version(self) -> str | None:  # the name before platforms other than Junos
        return self.os_version


@dataclass(frozen=True)
class PortVlan:
    """One VLAN membership of a switch port, as `show ethernet-switching interfaces` lists it."""

    interface: str  # ge-0/0/1.0 (the logical unit in ethernet-switching)
    port_up: bool | None  # non-ELS State column; ELS: no DN flag on the interface row
    vlan_name: str
    vlan_id: int | None  # None when Junos prints no tag (an untagged default VLAN)
    tagging: str | None  # "tagged" / "untagged"; None when not shown
    blocking: str | None = None  # non-ELS Blocking column: "unblocked", "blocked by STP", ...
    stp_state: str | None = None  # ELS STP state: "Forwarding", "Discarding", ...
    flags: tuple[str, ...] = ()  # ELS logical interface flags (interface row and VLAN row): DN, DL, MMAS ...

    @property
    def port(self) -> str:
        """The physical port: ge-0/0/1.0 -> ge-0/0/1."""
        return self.interface.split(".", 1)[0]

    @property
    def forwarding(self) -> bool | None:
        """Whether frames of this VLAN pass the port: not when it is down or blocked (None when the
        output does not say)."""
        if self.port_up is False:
            return False
        if self.blocking is not None:
            return self.blocking.lower() == "unblocked"
        if self.stp_state is not None:
            return self.stp_state.lower() == "forwarding"
        return None


@dataclass(frozen=True)
class LldpNeighbor:
    local_interface: str  # as Junos prints it: ge-0/0/1 (ELS) or ge-0/0/1.0 (non-ELS)
    chassis_id: str  # lower-case colon MAC when it is one, else as printed
    port_info: str  # the neighbour's port description (lldpd: the interface name), else its port id
    system_name: str | None
    parent_interface: str | None = None  # ae0 when the port is a LAG member; None for "-"
    port_id: str | None = None  # only XML carries the port id next to the description

    @property
    def port(self) -> str:
        """The local physical port: ge-0/0/1.0 -> ge-0/0/1."""
        return self.local_interface.split(".", 1)[0]


@dataclass(frozen=True)
class InterfaceInfo:
    name: str
    admin_up: bool
    link_up: bool
    mtu: int | None  # physical MTU, Ethernet header included; None for "Unlimited" or when not shown
    current_address: str | None  # lower-case colon MAC
    mtu_printed: int | None = None  # the MTU figure as the switch prints it (EOS/NX-OS: the IP MTU, or EOS' Ethernet MTU)
    oper_status: str | None = None  # the status words as printed, e.g. "up (connected)"


@dataclass(frozen=True)
class VlanInfo:
    """One VLAN as `show vlan` lists it (member ports as printed, ranges expanded)."""

    vlan_id: int
    vlan_name: str
    status: str | None
    interfaces: tuple[str, ...]


@dataclass(frozen=True)
class SwitchportInfo:
    """One port's layer-2 settings, as `show interface(s) [IF] switchport` prints them."""

    interface: str
    switchport: bool  # Switchport: Enabled
    mode: str  # the operational mode: access, trunk, ...
    access_vlan: int | None
    native_vlan: int | None
    trunk_vlans: str  # the allowed list as printed: "1-4094", "200-201", "ALL", "NONE"

    def memberships(self) -> list[PortVlan]:
        """The VLANs the port carries as PortVlan rows: a trunk its allowed VLANs (tagged but the
        native one), an access port its access VLAN (untagged)."""
        if not self.switchport:
            return []
        if not self.mode.lower().startswith("trunk"):
            vids: list[int] = [self.access_vlan] if self.access_vlan else []
            return [PortVlan(self.interface, None, str(v), v, "untagged") for v in vids]
        return [PortVlan(self.interface, None, str(v), v, "untagged" if v == self.native_vlan else "tagged")
                for v in vlan_list(self.trunk_vlans)]


def vlan_list(value: str) -> list[int]:
    """'200-201,300' -> [200, 201, 300]; 'ALL' -> 1..4094; 'NONE' or '' -> []. ValueError otherwise."""
    v = value.strip().lower()
    if v in ("", "none"):
        return []
    if v == "all":
        return list(range(1, 4095))
    out: set[int] = set()
    for part in v.replace(" ", ",").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ParseError(f"{value!r} is not a VLAN list")
        out.update(range(int(lo), int(hi if sep else lo) + 1))
    return sorted(x for x in out if 1 <= x <= 4094)
