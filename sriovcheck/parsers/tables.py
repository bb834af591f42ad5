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


@dataclass(frozen=True)
class ArpEntry:
    mac: str
    ip: str
    interface: str  # vlan.200, irb.100, ge-0/0/3.0, Vlan200
    physical_interface: str | None  # the ge-0/0/1.0 in "irb.100 [ge-0/0/1.0]", the Ethernet1 behind EOS' Vlan200
    flags: tuple[str, ...]  # ("none",), ("permanent", "remote")
    hostname: str | None  # plain `show arp` has a Name column; no-resolve does not
    expires_s: int | None  # only with `expiration-time`


@dataclass(frozen=True)
class VersionInfo:
    hostname: str | None
    model: str | None
    os_version: str | None  # as the switch reports it: 12.3R12.4, 4.27.3F, 9.3(8)

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
