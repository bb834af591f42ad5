"""Arista EOS (7050/7280 and the like): `| json` first, text as the fallback; ports Ethernet1,
Ethernet1/1, Port-Channel10; the VLAN's L3 interface is its SVI Vlan<N>."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sriovcheck.parsers import eos as P
from sriovcheck.parsers.tables import VersionInfo
from sriovcheck.switch.platforms.base import NameRule, Platform, Read

JSON = " | json"


def _dotted(mac: str) -> str:
    d = mac.replace(":", "")
    return f"{d[0:4]}.{d[4:8]}.{d[8:12]}"


def _both(command: str) -> tuple[str, str]:
    return command + JSON, command


def _version(text: str) -> list[VersionInfo]:
    return [P.parse_version(text)]


class Eos(Platform):
    name = "arista_eos"
    vendor = "Arista"
    os_name = "EOS"
    port_rule = NameRule(re.compile(r"^(?:Ethernet\d{1,3}(?:/\d{1,3}){0,2}|Port-Channel\d{1,6})$"), "EOS switch port",
                         "e.g. Ethernet1, Ethernet3/1, Port-Channel10")
    l3_rule = NameRule(re.compile(r"^Vlan\d{1,4}$"), "EOS L3 VLAN interface", "the VLAN's SVI, Vlan<N> (e.g. Vlan200)")
    vlan_name_rule = NameRule(re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"), "EOS VLAN name",
                              "1-32 of A-Z a-z 0-9 _ . -, starting with a letter or digit (e.g. SRIOV_200)")
    lab_models = {"non-els": ("DCS-7050TX-64", "4.27.3F"), "els": ("DCS-7280SR-48C6", "4.30.1F")}

    def l3_interface_problem(self, value: str, vlan_id: int) -> str | None:
        problem = super().l3_interface_problem(value, vlan_id)
        if problem is None and value != f"Vlan{vlan_id}":
            return f"{value!r} is not VLAN {vlan_id}'s L3 interface on {self.os_name}: its SVI is Vlan{vlan_id}"
        return problem

    def version(self) -> Read:
        return Read(_both("show version"), _version)

    def parse_version(self, text: str) -> VersionInfo:
        return P.parse_version(text)

    def mac_table(self, port: str | None = None) -> Read:
        cmd = "show mac address-table" + (f" interface {self.port(port)}" if port is not None else "")
        return Read(_both(cmd), P.parse_mac_table)

    def mac_search(self, macs: Sequence[str]) -> list[Read]:
        return [Read(_both(f"show mac address-table address {_dotted(m)}"), P.parse_mac_table) for m in self.macs_checked(macs)]

    def arp_table(self, l3_interface: str | None = None) -> Read:
        cmd = "show ip arp" + (f" interface {self.l3_interface(l3_interface)}" if l3_interface is not None else "")
        return Read(_both(cmd), P.parse_arp_table)

    def port_vlans(self, port: str | None = None) -> Read:
        cmd = "show interfaces" + (f" {self.port(port)}" if port is not None else "") + " switchport"
        return Read(_both(cmd), P.parse_switchport)

    def lldp_neighbors(self) -> Read:
        return Read(_both("show lldp neighbors"), P.parse_lldp_neighbors)

    def interface(self, port: str) -> Read:
        return Read(_both(f"show interfaces {self.port(port)}"), P.parse_interfaces)

    def l3_macs(self, l3_interfaces: Sequence[str]) -> list[tuple[Read, tuple[str, ...]]]:
        return [(Read(_both(f"show interfaces {self.l3_interface(i)}"), P.parse_interfaces), (i,)) for i in sorted(set(l3_interfaces))]

    def fix_vlan_member(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return f"allow VLAN {vlan_id} on {port}'s trunk (interface {port} / switchport trunk allowed vlan add {vlan_id})"

    def fix_not_switching(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return (f"make {port} a trunk carrying VLAN {vlan_id} (interface {port} / switchport mode trunk / "
                f"switchport trunk allowed vlan add {vlan_id})")

    def fix_untagged(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return (f"VLAN {vlan_id} is {port}'s native VLAN: move the native VLAN (switchport trunk native vlan N) "
                "or tag it (switchport trunk native vlan tag)")

    def fix_port_mtu(self, port: str, mtu: int) -> str:
        return f"raise {port}'s MTU (interface {port} / mtu {max(68, mtu - 14)} or more)"


EOS = Eos()
