"""What a switch platform is: its commands, its name rules, its parsers and its wording, as data.

Each platform module (junos, eos, nxos) defines one `Platform`. Verify, the acceptance checks, the
offline reader and the lab ask the platform of `switch.platform` what to run and how to read it;
they see only the normalised tables of `sriovcheck.parsers.tables`. Adding a platform is adding a
module here and its entry in `sriovcheck.switch.platforms.PLATFORMS` (README: "Adding a switch
platform").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sriovcheck.parsers.tables import ArpEntry, InterfaceInfo, LldpNeighbor, MacEntry, PortVlan, VersionInfo
from sriovcheck.topology.names import NameRule, PlatformNames

_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")


@dataclass(frozen=True)
class Read:
    """One table read: the commands to try in order (structured output first, text as the
    fallback), and the parser that reads the output of any of them."""

    commands: tuple[str, ...]
    parse: Callable[[str], Sequence[Any]]


class Platform:
    """Base of every platform. Subclasses set the class attributes and implement the reads."""

    name: str = ""  # netmiko device_type and the topology's switch.platform: juniper_junos
    vendor: str = ""  # Juniper
    os_name: str = ""  # Junos: shown with the version the switch reports
    name_rules: PlatformNames  # its port, L3 interface and VLAN name rules (sriovcheck.topology.names)
    # The lab's switch as this platform shows it: (model, OS version) per lab.switch_style.
    lab_models: dict[str, tuple[str, str]] = {}

    # --- names ---------------------------------------------------------------------------------

    def port(self, value: str) -> str:
        return self.name_rules.port.check(value)

    def l3_interface(self, value: str) -> str:
        return self.name_rules.l3_interface.check(value)

    def vlan_name(self, value: str) -> str:
        return self.name_rules.vlan_name.check(value)

    def l3_interface_problem(self, value: str, vlan_id: int) -> str | None:
        """Why `value` cannot be VLAN `vlan_id`'s L3 interface on this platform (None: it can)."""
        return self.name_rules.l3_interface_problem(value, vlan_id)

    def mac_interface(self, port: str) -> str:
        """How the MAC table names a port MACs are learned on (Junos: the unit, ge-0/0/1.0)."""
        return port

    @staticmethod
    def macs_checked(macs: Sequence[str]) -> list[str]:
        for mac in macs:
            if not _MAC.fullmatch(mac):
                raise ValueError(f"{mac!r} is not a MAC in lower-case colon form; refusing to put it into a switch command")
        return list(macs)

    # --- reads ---------------------------------------------------------------------------------

    def version(self) -> Read:
        raise NotImplementedError

    def parse_version(self, text: str) -> VersionInfo:
        raise NotImplementedError

    def mac_table(self, port: str | None = None) -> Read:
        """The MAC table of one port (None: the whole table) -> [MacEntry]."""
        raise NotImplementedError

    def mac_search(self, macs: Sequence[str]) -> list[Read]:
        """Where the switch sees these MACs, on any port or VLAN -> [MacEntry]."""
        raise NotImplementedError

    def arp_table(self, l3_interface: str | None = None) -> Read:
        """The ARP entries of one L3 interface (None: all) -> [ArpEntry]."""
        raise NotImplementedError

    def port_vlans(self, port: str | None = None) -> Read:
        """The VLAN membership of one port (None: all ports) -> [PortVlan]."""
        raise NotImplementedError

    def lldp_neighbors(self) -> Read:
        """-> [LldpNeighbor]"""
        raise NotImplementedError

    def interface(self, port: str) -> Read:
        """Admin/link state, physical MTU (Ethernet header included) and MAC of a port -> [InterfaceInfo]."""
        raise NotImplementedError

    def l3_macs(self, l3_interfaces: Sequence[str]) -> list[tuple[Read, tuple[str, ...]]]:
        """The reads that give the L3 interfaces' own MACs (the gateway's MAC), each with the L3
        interfaces it answers for; the parse returns [InterfaceInfo] whose current_address counts."""
        raise NotImplementedError

    def router_macs(self, entries: Sequence[MacEntry]) -> dict[str, str]:
        """VLAN name (lower case) -> the switch's own MAC, where the MAC table lists it."""
        return {}

    # --- wording -------------------------------------------------------------------------------

    def fix_vlan_member(self, port: str, vlan_id: int, vlan_name: str) -> str:
        raise NotImplementedError

    def fix_not_switching(self, port: str, vlan_id: int, vlan_name: str) -> str:
        raise NotImplementedError

    def fix_untagged(self, port: str, vlan_id: int, vlan_name: str) -> str:
        raise NotImplementedError

    def fix_port_mtu(self, port: str, mtu: int) -> str:
        raise NotImplementedError

    def membership_command(self, port: str) -> str:
        """The command an engineer types to see what the port carries (named in messages)."""
        return self.port_vlans(port).commands[-1]


__all__ = [
    "ArpEntry", "InterfaceInfo", "LldpNeighbor", "MacEntry", "NameRule", "Platform", "PlatformNames", "PortVlan", "Read", "VersionInfo",
]
