"""What EOS and NX-OS share: Cisco-style `show` commands answered in JSON (`| json`) with the text
table as the fallback, VLAN SVIs named Vlan<N>. A platform of this family gives its parsers, the
two command words in which the OSes differ, and its fix wording."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sriovcheck.parsers.tables import ArpEntry, InterfaceInfo, LldpNeighbor, MacEntry, PortVlan, VersionInfo
from sriovcheck.switch.platforms.base import Platform, Read

JSON = " | json"


@dataclass(frozen=True)
class CliParsers:
    """One OS's parsers of the tables a Cisco-like platform reads (JSON or text: each tells them apart)."""

    mac_table: Callable[[str], list[MacEntry]]
    arp_table: Callable[[str], list[ArpEntry]]
    switchport: Callable[[str], list[PortVlan]]
    lldp_neighbors: Callable[[str], list[LldpNeighbor]]
    interfaces: Callable[[str], list[InterfaceInfo]]
    version: Callable[[str], VersionInfo]


def dotted(mac: str) -> str:
    """aa:bb:cc:dd:ee:ff -> aabb.ccdd.eeff, as these OSes print and take MAC addresses."""
    d = mac.replace(":", "")
    return f"{d[0:4]}.{d[4:8]}.{d[8:12]}"


def _both(command: str) -> tuple[str, str]:
    return command + JSON, command


class CiscoLike(Platform):
    parsers: CliParsers
    show_interface = "show interfaces"  # NX-OS: "show interface"
    arp_scope = "interface "  # the word before the L3 interface in `show ip arp`; NX-OS: none

    def _versions(self, text: str) -> list[VersionInfo]:
        return [self.parsers.version(text)]

    def version(self) -> Read:
        return Read(_both("show version"), self._versions)

    def parse_version(self, text: str) -> VersionInfo:
        return self.parsers.version(text)

    def mac_table(self, port: str | None = None) -> Read:
        cmd = "show mac address-table" + (f" interface {self.port(port)}" if port is not None else "")
        return Read(_both(cmd), self.parsers.mac_table)

    def mac_search(self, macs: Sequence[str]) -> list[Read]:
        return [Read(_both(f"show mac address-table address {dotted(m)}"), self.parsers.mac_table)
                for m in self.macs_checked(macs)]

    def arp_table(self, l3_interface: str | None = None) -> Read:
        cmd = "show ip arp" + (f" {self.arp_scope}{self.l3_interface(l3_interface)}" if l3_interface is not None else "")
        return Read(_both(cmd), self.parsers.arp_table)

    def port_vlans(self, port: str | None = None) -> Read:
        cmd = self.show_interface + (f" {self.port(port)}" if port is not None else "") + " switchport"
        return Read(_both(cmd), self.parsers.switchport)

    def lldp_neighbors(self) -> Read:
        return Read(_both("show lldp neighbors"), self.parsers.lldp_neighbors)

    def interface(self, port: str) -> Read:
        return Read(_both(f"{self.show_interface} {self.port(port)}"), self.parsers.interfaces)

    def l3_macs(self, l3_interfaces: Sequence[str]) -> list[tuple[Read, tuple[str, ...]]]:
        return [(Read(_both(f"{self.show_interface} {self.l3_interface(i)}"), self.parsers.interfaces), (i,))
                for i in sorted(set(l3_interfaces))]
