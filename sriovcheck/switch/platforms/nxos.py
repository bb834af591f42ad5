"""Cisco Nexus (NX-OS, 9300 and the like): `| json` first, text as the fallback; ports Ethernet1/1,
port-channel10; the VLAN's L3 interface is its SVI Vlan<N>."""

from __future__ import annotations

from collections.abc import Sequence

from sriovcheck.parsers import nxos as P
from sriovcheck.switch.platforms.ciscolike import CiscoLike, CliParsers
from sriovcheck.topology.names import PLATFORM_NAMES


class Nxos(CiscoLike):
    name = "cisco_nxos"
    vendor = "Cisco"
    os_name = "NX-OS"
    name_rules = PLATFORM_NAMES["cisco_nxos"]
    lab_models = {"non-els": ("Nexus9000 C93180YC-EX", "9.3(8)"), "els": ("Nexus9000 C9336C-FX2", "10.2(5)")}
    parsers = CliParsers(P.parse_mac_table, P.parse_arp_table, P.parse_switchport, P.parse_lldp_neighbors,
                         P.parse_interfaces, P.parse_version)
    show_interface = "show interface"
    arp_scope = ""

    def router_macs(self, entries: Sequence[object]) -> dict[str, str]:
        return {}

    def fix_vlan_member(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return f"allow VLAN {vlan_id} on {port}'s trunk (interface {port} ; switchport trunk allowed vlan add {vlan_id})"

    def fix_not_switching(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return (f"make {port} a trunk carrying VLAN {vlan_id} (interface {port} ; switchport ; switchport mode trunk ; "
                f"switchport trunk allowed vlan add {vlan_id})")

    def fix_untagged(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return (f"VLAN {vlan_id} is {port}'s native VLAN: move the native VLAN (switchport trunk native vlan N) "
                "or tag native VLANs (vlan dot1q tag native)")

    def fix_port_mtu(self, port: str, mtu: int) -> str:
        return f"raise {port}'s MTU (interface {port} ; mtu {max(576, mtu - 14)} or more; jumbo: mtu 9216)"


NXOS = Nxos()
