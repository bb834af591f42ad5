"""Arista EOS (7050/7280 and the like): `| json` first, text as the fallback; ports Ethernet1,
Ethernet1/1, Port-Channel10; the VLAN's L3 interface is its SVI Vlan<N>."""

from __future__ import annotations

from sriovcheck.parsers import eos as P
from sriovcheck.switch.platforms.ciscolike import CiscoLike, CliParsers
from sriovcheck.topology.names import PLATFORM_NAMES


class Eos(CiscoLike):
    name = "arista_eos"
    vendor = "Arista"
    os_name = "EOS"
    name_rules = PLATFORM_NAMES["arista_eos"]
    lab_models = {"non-els": ("DCS-7050TX-64", "4.27.3F"), "els": ("DCS-7280SR-48C6", "4.30.1F")}
    parsers = CliParsers(P.parse_mac_table, P.parse_arp_table, P.parse_switchport, P.parse_lldp_neighbors,
                         P.parse_interfaces, P.parse_version)

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
