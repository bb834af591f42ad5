"""Arista EOS parsers: `| json` replies first (eAPI's own schema), the text tables as the fallback.

Each returns the normalised tables of sriovcheck.parsers.tables. EOS abbreviates interface names in
text (Et1, Po10, Vl200); they are expanded to the names its JSON uses (Ethernet1, Port-Channel10,
Vlan200), which are also the names a topology gives. Read against real outputs: tests/data/eos-real.
"""

from __future__ import annotations

import re
from typing import Any

from sriovcheck.parsers import structured as S
from sriovcheck.parsers.tables import (
    ArpEntry,
    InterfaceInfo,
    LldpNeighbor,
    MacEntry,
    ParseError,
    PortVlan,
    SwitchportInfo,
    VersionInfo,
    VlanInfo,
)

ETH_HLEN = 14
_SHORT = (("et", "Ethernet"), ("po", "Port-Channel"), ("vl", "Vlan"), ("ma", "Management"), ("lo", "Loopback"), ("vx", "Vxlan"))
_DOTTED = r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"


def interface_name(value: str) -> str:
    """Et1 -> Ethernet1, Po10 -> Port-Channel10, Vl200 -> Vlan200, Ma1 -> Management1; others as they are."""
    return S.expand_interface(value, _SHORT)


def _kind(raw: str) -> str:
    r = raw.lower()
    if r.startswith("dynamic") or r == "learned":
        return "learned"
    if r.startswith(("static", "configured")):
        return "static"
    return "other"


# --- show mac address-table [interface IF | address MAC] ------------------------------------------

_MAC_HEADER = re.compile(r"^Vlan\s+Mac Address\s+Type\s+Ports", re.IGNORECASE)
_MAC_ROW = re.compile(
    r"^(?P<vlan>\d{1,4})\s+(?P<mac>" + _DOTTED + r")\s+(?P<type>\S+)\s+(?P<port>\S+)(?:\s+(?P<moves>\d+)\s+(?P<last>.*))?$"
)


def parse_mac_table(text: str) -> list[MacEntry]:
    """`show mac address-table [...] [| json]`: the unicast entries (the multicast table is not read)."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "unicastTable" not in data:
            raise ParseError(f"expected EOS `show mac address-table | json` (an object with unicastTable); got {S.shown(text)}")
        out = []
        for e in (data.get("unicastTable") or {}).get("tableEntries") or []:
            raw = str(e.get("entryType") or e.get("type") or "")
            vid = S.first_int(e.get("vlanId"))
            out.append(MacEntry(vlan_name=str(vid), vlan_id=vid, mac=S.mac(e.get("macAddress")), kind=_kind(raw), raw_kind=raw,
                                age_s=None, interface=interface_name(str(e.get("interface") or ""))))
        return out
    S.check_error(text, "a MAC table")
    out = []
    header = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if "multicast" in s.lower():
            break  # the multicast table follows the unicast one: group MACs on several ports each
        if _MAC_HEADER.match(s):
            header = True
            continue
        m = _MAC_ROW.match(s)
        if m and header:
            raw = m.group("type")
            vid = int(m.group("vlan"))
            out.append(MacEntry(str(vid), vid, S.mac(m.group("mac")), _kind(raw), raw, None, interface_name(m.group("port"))))
            continue
        if not header or s.startswith(("----", "Total", "show ")):
            continue
        raise ParseError(f"expected a row of EOS `show mac address-table`; got {S.shown(s)}")
    if not header:
        raise ParseError(f"expected EOS `show mac address-table` (a 'Vlan  Mac Address  Type  Ports' table); got {S.shown(text)}")
    return out


# --- show ip arp [interface IF] / show arp vrf all ---------------------------------------------

_ARP_HEADER = re.compile(r"^Address\s+Age(?:\s*\((?P<unit>sec|min)\))?\s+Hardware Addr\s+Interface", re.IGNORECASE)
_ARP_ROW = re.compile(r"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3})\s+(?P<age>\S+)\s+(?P<mac>" + _DOTTED + r")\s+(?P<intf>.+)$")


def _split_arp_interface(value: str) -> tuple[str, str | None]:
    # "Vlan200, Ethernet1" (the L3 interface, then the port it was learned on); "Vlan1, not learned"
    first, _, rest = value.partition(",")
    rest = rest.strip()
    phys = interface_name(rest.split()[0]) if rest and not rest.lower().startswith("not learned") else None
    return interface_name(first), phys


def _arp_json(neighbours: list[Any], vrf: str | None) -> list[ArpEntry]:
    out = []
    for n in neighbours:
        mac = S.mac(n.get("hwAddress"))
        if mac is None:
            continue
        l3, phys = _split_arp_interface(str(n.get("interface") or ""))
        age = n.get("age")
        out.append(ArpEntry(mac, str(n.get("address")), l3, phys, ("dynamic",) if age is not None else ("static",), None, None,
                            age_s=S.age_seconds(age), vrf=vrf))
    return out


def parse_arp_table(text: str) -> list[ArpEntry]:
    """`show ip arp [interface IF] [| json]`, also `show arp vrf all [| json]` (every VRF's entries)."""
    data, text = S.structured(text)
    if data is not None:
        if isinstance(data, dict) and isinstance(data.get("vrfs"), dict):
            return [e for name, v in data["vrfs"].items() for e in _arp_json(v.get("ipV4Neighbors") or [], str(name))]
        if not isinstance(data, dict) or "ipV4Neighbors" not in data:
            raise ParseError(f"expected EOS `show ip arp | json` (an object with ipV4Neighbors); got {S.shown(text)}")
        return _arp_json(data.get("ipV4Neighbors") or [], None)
    S.check_error(text, "an ARP table")
    out = []
    header = False
    minutes = False
    vrf: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("VRF:"):
            vrf = s.partition(":")[2].strip() or None
            continue
        h = _ARP_HEADER.match(s)
        if h:
            header, minutes = True, (h.group("unit") or "").lower() == "min"
            continue
        m = _ARP_ROW.match(s)
        if m and header:
            l3, phys = _split_arp_interface(m.group("intf"))
            mac = S.mac(m.group("mac"))
            age = S.age_seconds(m.group("age"))
            if age is not None and minutes and ":" not in m.group("age"):
                age *= 60
            if mac:
                flags = ("static",) if m.group("age").upper() == "N/A" else ("dynamic",)
                out.append(ArpEntry(mac, m.group("ip"), l3, phys, flags, None, None, age_s=age, vrf=vrf))
            continue
        if not header or s.startswith("show "):
            continue
        raise ParseError(f"expected a row of EOS `show ip arp`; got {S.shown(s)}")
    if not header:
        raise ParseError(f"expected EOS `show ip arp` (an 'Address  Age  Hardware Addr  Interface' table); got {S.shown(text)}")
    return out


# --- show version ------------------------------------------------------------------------------


def parse_version(text: str) -> VersionInfo:
    """Model, EOS version (as `version` prints it) and serial from `show version [| json]`; EOS names
    no host name here (None)."""
    data, text = S.structured(text)
    if isinstance(data, dict):
        if "modelName" not in data and "version" not in data:
            raise ParseError(f"expected EOS `show version | json` (modelName, version); got {S.shown(text)}")
        return VersionInfo(data.get("hostname"), data.get("modelName"), data.get("version"),
                           serial=data.get("serialNumber") or None, internal_version=data.get("internalVersion"))
    kv = S.key_values(text)
    model = None
    for line in text.splitlines():
        if line.strip().lower().startswith("arista "):
            model = line.strip().split()[1]
            break
    version = kv.get("software image version")
    if version:
        version = re.sub(r"\s*\([^)]*\)\s*$", "", version)  # " (engineering build)"
    if model is None and version is None:
        raise ParseError(f"expected EOS `show version` ('Arista MODEL', 'Software image version: ...'); got {S.shown(text)}")
    return VersionInfo(None, model, version, serial=kv.get("serial number") or None,
                       internal_version=kv.get("internal build version"))


# --- show vlan ---------------------------------------------------------------------------------


def parse_vlans(text: str) -> list[VlanInfo]:
    """`show vlan [| json]`: id, name, status and member ports (as printed)."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "vlans" not in data:
            raise ParseError(f"expected EOS `show vlan | json` (an object with vlans); got {S.shown(text)}")
        return [VlanInfo(int(vid), str(v.get("name") or ""), v.get("status"), tuple(v.get("interfaces") or {}))
                for vid, v in data["vlans"].items()]
    S.check_error(text, "a VLAN table")
    out: list[VlanInfo] = []
    starts: list[int] | None = None
    for line in text.splitlines():
        if re.match(r"^VLAN\s+Name\s+Status\s+Ports", line):
            starts = S.columns(line, ["VLAN", "Name", "Status", "Ports"])
            continue
        if starts is None or not line.strip() or line.startswith("-"):
            continue
        vid, name, status, cell = S.cut(line, starts)
        found = [p.strip() for p in cell.split(",") if p.strip()]
        if vid.isdigit():
            out.append(VlanInfo(int(vid), name, status or None, tuple(found)))
        elif not vid and out:  # a port list continued on the next line
            last = out[-1]
            out[-1] = VlanInfo(last.vlan_id, last.vlan_name, last.status, last.interfaces + tuple(found))
    if starts is None:
        raise ParseError(f"expected EOS `show vlan` (a 'VLAN  Name  Status  Ports' table); got {S.shown(text)}")
    return out


# --- show interfaces [IF] switchport -----------------------------------------------------------


def _mode(value: str) -> str:
    """'static access' -> access, 'trunk' -> trunk; others as printed."""
    v = value.strip().lower()
    return "access" if v.endswith("access") else "trunk" if "trunk" in v else v


def parse_switchports(text: str) -> list[SwitchportInfo]:
    """`show interfaces [IF] switchport [| json]`: each port's mode, access/native VLAN and allowed list."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "switchports" not in data:
            raise ParseError(f"expected EOS `show interfaces switchport | json` (an object with switchports); got {S.shown(text)}")
        out = []
        for port, sp in (data.get("switchports") or {}).items():
            info = sp.get("switchportInfo") or {}
            out.append(SwitchportInfo(interface_name(port), bool(sp.get("enabled", True)), _mode(str(info.get("mode") or "access")),
                                      S.first_int(info.get("accessVlanId")), S.first_int(info.get("trunkingNativeVlanId")),
                                      str(info.get("trunkAllowedVlans") or "")))
        return out
    S.check_error(text, "switchport information")
    out = []
    for block in re.split(r"(?m)^(?=\s*Name:)", text):
        kv = S.key_values(block)
        if "name" not in kv:
            continue
        out.append(SwitchportInfo(interface_name(kv["name"]), kv.get("switchport", "enabled").lower().startswith("enabled"),
                                  _mode(kv.get("operational mode") or kv.get("administrative mode") or "access"),
                                  S.first_int(kv.get("access mode vlan")), S.first_int(kv.get("trunking native mode vlan")),
                                  kv.get("trunking vlans enabled") or kv.get("trunking vlans allowed") or ""))
    if not out:
        raise ParseError(f"expected EOS `show interfaces switchport` ('Name: Et1' blocks); got {S.shown(text)}")
    return out


def parse_switchport(text: str) -> list[PortVlan]:
    """The VLANs each port carries (see SwitchportInfo.memberships)."""
    try:
        return [pv for sp in parse_switchports(text) for pv in sp.memberships()]
    except ValueError as exc:
        raise ParseError(str(exc)) from exc


# --- show lldp neighbors [detail] --------------------------------------------------------------


def _port_id(value: Any) -> str:
    return str(value or "").strip().strip('"')


def parse_lldp_neighbors(text: str) -> list[LldpNeighbor]:
    """`show lldp neighbors [detail] [| json]`. Port ids as printed (a MAC form is compared as a MAC
    by the cabling check)."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "lldpNeighbors" not in data:
            raise ParseError(f"expected EOS `show lldp neighbors | json` (an object with lldpNeighbors); got {S.shown(text)}")
        out = []
        neighbours = data.get("lldpNeighbors") or []
        if isinstance(neighbours, dict):  # detail: port -> {lldpNeighborInfo: [...]}
            for port, info in neighbours.items():
                for n in (info or {}).get("lldpNeighborInfo") or []:
                    iface = n.get("neighborInterfaceInfo") or {}
                    pid = _port_id(iface.get("interfaceId"))
                    desc = iface.get("interfaceDescription")
                    out.append(LldpNeighbor(interface_name(port), S.chassis_mac(str(n.get("chassisId") or "")), desc or pid,
                                            n.get("systemName"), None, pid))
            return out
        for n in neighbours:
            pid = _port_id(n.get("neighborPort"))
            out.append(LldpNeighbor(interface_name(str(n.get("port") or "")), "", pid, n.get("neighborDevice"), None, pid))
        return out
    S.check_error(text, "an LLDP neighbour table")
    out = []
    header = False
    for line in text.splitlines():
        s = line.strip()
        if re.match(r"^Port\s+Neighbor Device ID\s+Neighbor Port ID\s+TTL", s, re.IGNORECASE):
            header = True
            continue
        if not header or not s or s.startswith("-"):
            continue
        words = s.split()
        if len(words) >= 4 and words[-1].isdigit():
            out.append(LldpNeighbor(interface_name(words[0]), "", words[-2], " ".join(words[1:-2]), None, words[-2]))
        else:
            raise ParseError(f"expected a row of EOS `show lldp neighbors`; got {S.shown(s)}")
    if not header:
        raise ParseError(f"expected EOS `show lldp neighbors` ('Port  Neighbor Device ID  Neighbor Port ID  TTL'); got {S.shown(text)}")
    return out


# --- show interfaces [IF] ----------------------------------------------------------------------

_STATUS = re.compile(r"^(?P<name>\S+) is (?P<admin>up|down|administratively down|disabled),\s*line protocol is (?P<proto>.+?)\s*$",
                     re.IGNORECASE)
_HW = re.compile(r"address is (" + _DOTTED + ")")


def parse_interfaces(text: str) -> list[InterfaceInfo]:
    """`show interfaces [IF] [| json]`. `mtu` is the frame's (Ethernet header included, as Junos counts
    it): the Ethernet MTU (l2Mtu) where EOS gives it, else the IP MTU plus 14; `mtu_printed` as printed."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "interfaces" not in data:
            raise ParseError(f"expected EOS `show interfaces | json` (an object with interfaces); got {S.shown(text)}")
        out = []
        for name, i in (data.get("interfaces") or {}).items():
            status = str(i.get("interfaceStatus") or "")
            l2, ip_mtu = S.first_int(i.get("l2Mtu")), S.first_int(i.get("mtu"))
            proto = str(i.get("lineProtocolStatus") or "")
            out.append(InterfaceInfo(interface_name(name), status != "disabled", proto == "up",
                                     l2 if l2 else (ip_mtu + ETH_HLEN if ip_mtu else None), S.mac(i.get("physicalAddress")),
                                     mtu_printed=ip_mtu, oper_status=status or proto or None))
        return out
    S.check_error(text, "interface information")
    out = []
    for block in re.split(r"(?m)^(?=\S+ is (?:up|down|administratively down|disabled),)", text):
        m = _STATUS.match(block.strip().splitlines()[0] if block.strip() else "")
        if not m:
            continue
        ip_m = re.search(r"\bIP MTU (\d+) bytes", block)
        eth_m = re.search(r"\bEthernet MTU (\d+) bytes", block)
        printed = int(ip_m.group(1)) if ip_m else int(eth_m.group(1)) if eth_m else None
        frame = int(eth_m.group(1)) if eth_m else printed + ETH_HLEN if printed else None
        hw_m = _HW.search(block)
        admin = m.group("admin").lower() in ("up", "down")
        proto = m.group("proto")
        out.append(InterfaceInfo(interface_name(m.group("name")), admin, proto.lower().startswith("up"), frame,
                                 S.mac(hw_m.group(1)) if hw_m else None, mtu_printed=printed, oper_status=proto))
    if not out:
        raise ParseError(f"expected EOS `show interfaces IF` ('Ethernet1 is up, line protocol is up'); got {S.shown(text)}")
    return out
