"""Juniper EX/QFX (Junos): `| display xml` first, text as the fallback; MACs learned on `<port>.0`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

from sriovcheck.parsers import junos as P
from sriovcheck.parsers.junos_rows import mac_rows
from sriovcheck.parsers.tables import InterfaceInfo, MacEntry, VersionInfo
from sriovcheck.switch import commands as cmds
from sriovcheck.switch.platforms.base import Platform, Read
from sriovcheck.topology import names
from sriovcheck.topology.names import PLATFORM_NAMES

_CURRENT_ADDRESS = re.compile(r"Current address:\s*([0-9a-fA-F:.\-]{12,17})")


def _current_address(text: str, *, name: str) -> list[InterfaceInfo]:
    m = _CURRENT_ADDRESS.search(text)
    mac = names.normalise_mac(m.group(1)) if m else None
    return [InterfaceInfo(name, True, True, None, mac)] if mac else []


def _one_interface(text: str, *, name: str) -> list[InterfaceInfo]:
    return [P.parse_interface(text, name=name)]


def _version(text: str) -> list[VersionInfo]:
    return [P.parse_version(text)]


class Junos(Platform):
    name = "juniper_junos"
    vendor = "Juniper"
    os_name = "Junos"
    name_rules = PLATFORM_NAMES["juniper_junos"]
    lab_models = {"non-els": ("ex4200-48t", "12.3R12.4"), "els": ("ex4300-48t", "18.4R2.7")}

    def mac_interface(self, port: str) -> str:
        return f"{port}.0"

    def version(self) -> Read:
        return Read((cmds.SHOW_VERSION,), _version)

    def parse_version(self, text: str) -> VersionInfo:
        return P.parse_version(text)

    def mac_table(self, port: str | None = None) -> Read:
        return Read((cmds.mac_table(interface=port, xml=True), cmds.mac_table(interface=port)), P.parse_mac_table)

    def mac_search(self, macs: Sequence[str]) -> list[Read]:
        wanted = set(self.macs_checked(macs))
        return [Read((cmd,), partial(mac_rows, macs=wanted)) for cmd in cmds.mac_search(sorted(wanted))]

    def arp_table(self, l3_interface: str | None = None) -> Read:
        return Read((cmds.arp_table(interface=l3_interface, xml=True), cmds.arp_table(interface=l3_interface)), P.parse_arp_table)

    def port_vlans(self, port: str | None = None) -> Read:
        return Read((cmds.switching_interfaces(port),), P.parse_switching_interfaces)

    def lldp_neighbors(self) -> Read:
        return Read((cmds.lldp_neighbors(),), P.parse_lldp_neighbors)

    def interface(self, port: str) -> Read:
        return Read((cmds.interface_detail(port),), partial(_one_interface, name=port))

    def l3_macs(self, l3_interfaces: Sequence[str]) -> list[tuple[Read, tuple[str, ...]]]:
        out = []
        for phys in sorted({self.l3_interface(i).split(".")[0] for i in l3_interfaces}):
            covered = tuple(i for i in l3_interfaces if i.startswith(phys + "."))
            out.append((Read((f"show interfaces {phys}",), partial(_current_address, name=phys)), covered))
        return out

    def router_macs(self, entries: Sequence[MacEntry]) -> dict[str, str]:
        # Non-ELS tables list the RVI's MAC in each VLAN as a "Router" entry.
        return {e.vlan_name.lower(): e.mac for e in entries if e.kind == "router" and e.mac}

    def fix_vlan_member(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return (f"add VLAN {vlan_name} to {port}'s vlan members "
                f"(set interfaces {port} unit 0 family ethernet-switching vlan members {vlan_name})")

    def fix_not_switching(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return (f"configure it as a trunk (family ethernet-switching, interface-mode/port-mode trunk) "
                f"with VLAN {vlan_name}")

    def fix_untagged(self, port: str, vlan_id: int, vlan_name: str) -> str:
        return "make it a tagged (trunk) member"

    def fix_port_mtu(self, port: str, mtu: int) -> str:
        return f"set mtu {mtu} or more on {port}"


JUNOS = Junos()
