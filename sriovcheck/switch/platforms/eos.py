"""Arista EOS (7050/7280 and the like): `| json` first, text as the fallback; ports Ethernet1,
Ethernet1/1, Port-Channel10; the VLAN's L3 interface is its SVI Vlan<N>."""

from __future__ import annotations

import re

from sriovcheck.parsers import eos as P
from sriovcheck.switch.platforms.base import NameRule
from sriovcheck.switch.platforms.ciscolike import CiscoLike, CliParsers


class Eos(CiscoLike):
    name = "arista_eos"
    vendor = "Arista"
    os_name = "EOS"
    port_rule = NameRule(re.compile(r"^(?:Ethernet\d{1,3}(?:/\d{1,3}){0,2}|Port-Channel\d{1,6})$"), "EOS switch port",
                         "e.g. Ethernet1, Ethernet3/1, Port-Channel10")
    l3_rule = NameRule(re.compile(r"^Vlan\d{1,4}$"), "EOS L3 VLAN interface", "the VLAN's SVI, Vlan<N> (e.g. Vlan200)")
    vlan_name_rule = NameRule(re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"), "EOS VLAN name",
                              "1-32 of A-Z a-z 0-9 _ . -, starting with a letter or digit (e.g. SRIOV_200)")
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
