"""Arista EOS parsers: `| json` replies first (eAPI's own schema), the text tables as the fallback.

Each returns the normalised tables of sriovcheck.parsers.tables. EOS abbreviates interface names in
text (Et1, Po10, Vl200); they are expanded to the names its JSON uses (Ethernet1, Port-Channel10,
Vlan200), which are also the names a topology gives.
"""

from __future__ import annotations

import re
from typing import Any

from sriovcheck.parsers import structured as S
from sriovcheck.parsers.tables import ArpEntry, InterfaceInfo, LldpNeighbor, MacEntry, ParseError, PortVlan, VersionInfo

_SHORT = (("Et", "Ethernet"), ("Po", "Port-Channel"), ("Vl", "Vlan"), ("Ma", "Management"), ("Lo", "Loopback"), ("Vx", "Vxlan"))
ETH_HLEN = 14


def interface_name(value: str) -> str:
    v = value.strip()
    for short, full in _SHORT:
        if v.startswith(short) and not v.startswith(full) and v[len(short):][:1].isdigit():
            return full + v[len(short):]
    return v


def _kind(raw: str) -> str:
    r = raw.lower()
    if r.startswith("dynamic") or r == "learned":
        return "learned"
    if r.startswith("static") or r.startswith("configured"):
        return "static"
    if r in ("router", "system"):
        return "router"
    return "other"


# --- show mac address-table [interface IF | address MAC] ------------------------------------------

_MAC_ROW = re.compile(r"^\s*(?P<vlan>\d{1,4})\s+(?P<mac>[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}|[0-9a-fA-F:]{17})\s+"
                      r"(?P<type>\S+)\s+(?P<port>\S+)(?:\s+(?P<moves>\d+)\s+(?P<last>.*))?$")


def parse_mac_table(text: str) -> list[MacEntry]:
    """`show mac address-table [...] [| json]`: unicast entries (the multicast table is not read)."""
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict) or "unicastTable" not in data:
            raise ParseError(f"expected EOS `show mac address-table | json` (an object with unicastTable); got {S.shown(text)}")
        out = []
        for e in (data.get("unicastTable") or {}).get("tableEntries") or []:
            raw = str(e.get("entryType") or e.get("type") or "")
            vid = e.get("vlanId")
            out.append(MacEntry(vlan_name=str(vid), vlan_id=int(vid) if vid is not None else None, mac=S.mac(e.get("macAddress")),
                                kind=_kind(raw), raw_kind=raw, age_s=None, interface=interface_name(str(e.get("interface") or ""))))
        return out
    S.check_error(text, "a MAC table")
    out = []
    seen_header = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if re.match(r"^Vlan\s+Mac Address\s+Type\s+Ports", s, re.IGNORECASE):
            seen_header = True
            continue
        m = _MAC_ROW.match(line)
        if m:
            raw = m.group("type")
            vid = int(m.group("vlan"))
            out.append(MacEntry(str(vid), vid, S.mac(m.group("mac")), _kind(raw), raw, None, interface_name(m.group("port"))))
            continue
        if s.startswith(("----", "Mac Address Table", "Total Mac", "Multicast", "show ")) or not seen_header:
            continue
        raise ParseError(f"expected a row of EOS `show mac address-table`; got {S.shown(s)}")
    if not seen_header and not out:
        raise ParseError(f"expected EOS `show mac address-table` (a 'Vlan  Mac Address  Type  Ports' table); got {S.shown(text)}")
    return out


# --- show ip arp [interface IF] ----------------------------------------------------------------

_DOTTED = r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"
_ARP_ROW = re.compile(r"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3})\s+(?P<age>\S+)\s+(?P<mac>" + _DOTTED + r")\s+(?P<intf>.+)$")


def _split_arp_interface(value: str) -> tuple[str, str | None]:
    # "Vlan200, Ethernet1" (the L3 interface, then the port it was learned on); "Vlan200, not learned"
    first, _, rest = value.partition(",")
    rest = rest.strip()
    phys = interface_name(rest.split()[0]) if rest and rest[0].isalpha() and not rest.startswith("not") else None
    return interface_name(first), phys


def parse_arp_table(text: str) -> list[ArpEntry]:
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict) or "ipV4Neighbors" not in data:
            raise ParseError(f"expected EOS `show ip arp | json` (an object with ipV4Neighbors); got {S.shown(text)}")
        out = []
        for n in data.get("ipV4Neighbors") or []:
            mac = S.mac(n.get("hwAddress"))
            if mac is None:
                continue
            l3, phys = _split_arp_interface(str(n.get("interface") or ""))
            age = n.get("age")
            out.append(ArpEntry(mac, str(n.get("address")), l3, phys, ("dynamic",) if age is not None else ("static",), None,
                                None))
        return out
    S.check_error(text, "an ARP table")
    out = []
    header = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if re.match(r"^Address\s+Age", s):
            header = True
            continue
        m = _ARP_ROW.match(s)
        if m:
            l3, phys = _split_arp_interface(m.group("intf"))
            mac = S.mac(m.group("mac"))
            if mac:
                flags = ("static",) if m.group("age").upper() == "N/A" else ("dynamic",)
                out.append(ArpEntry(mac, m.group("ip"), l3, phys, flags, None, S.age_seconds(m.group("age"))))
            continue
        if not header or s.startswith("show "):
            continue
        raise ParseError(f"expected a row of EOS `show ip arp`; got {S.shown(s)}")
    if not header and not out:
        raise ParseError(f"expected EOS `show ip arp` (an 'Address  Age  Hardware Addr  Interface' table); got {S.shown(text)}")
    return out


# --- show version ------------------------------------------------------------------------------


def parse_version(text: str) -> VersionInfo:
    data = S.load_json(text)
    if isinstance(data, dict):
        return VersionInfo(data.get("hostname"), data.get("modelName"), data.get("version"))
    kv = S.key_values(text)
    model = None
    for line in text.splitlines():
        if line.strip().lower().startswith("arista "):
            model = line.strip().split()[1]
            break
    return VersionInfo(None, model, kv.get("software image version"))


# --- show interfaces IF switchport -------------------------------------------------------------


def _members(
    port: str, mode: str, access: int | None, native: int | None, allowed: str, enabled: bool, names: dict[int, str]
) -> list[PortVlan]:
    if not enabled:
        return []
    if mode.lower().startswith("access"):
        vids: set[int] | None = {access} if access else set()
        tagged = False
    else:
        vids = S.vlan_ranges(allowed)
        tagged = True
    if vids is None:  # every VLAN: the ones the switch knows by name, else the whole range
        vids = set(names) or set(range(1, 4095))
    return [
        PortVlan(port, None, names.get(v, str(v)), v, "untagged" if (not tagged or v == native) else "tagged", stp_state=None)
        for v in sorted(vids)
    ]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).split()[0])
    except (ValueError, IndexError):
        return None


def parse_switchport(text: str) -> list[PortVlan]:
    """`show interfaces [IF] switchport [| json]`: one PortVlan per VLAN the port carries (trunk:
    its allowed VLANs, tagged except the native one; access: its access VLAN, untagged)."""
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict) or "switchports" not in data:
            raise ParseError(f"expected EOS `show interfaces switchport | json` (an object with switchports); got {S.shown(text)}")
        out: list[PortVlan] = []
        for port, sp in (data.get("switchports") or {}).items():
            info = sp.get("switchportInfo") or {}
            out += _members(interface_name(port), str(info.get("mode") or "access"), _int(info.get("accessVlanId")),
                            _int(info.get("trunkingNativeVlanId")), str(info.get("trunkAllowedVlans") or ""),
                            bool(sp.get("enabled", True)), {})
        return out
    S.check_error(text, "switchport information")
    out = []
    for block in re.split(r"(?m)^(?=Name:)", text):
        kv = S.key_values(block)
        if "name" not in kv:
            continue
        out += _members(interface_name(kv["name"]), kv.get("operational mode") or kv.get("administrative mode") or "access",
                        _int(kv.get("access mode vlan")), _int(kv.get("trunking native mode vlan")),
                        kv.get("trunking vlans enabled", ""), kv.get("switchport", "enabled").lower().startswith("enabled"), {})
    if not out and "name" not in text.lower():
        raise ParseError(f"expected EOS `show interfaces switchport` ('Name: Et1' blocks); got {S.shown(text)}")
    return out


# --- show lldp neighbors -----------------------------------------------------------------------


def parse_lldp_neighbors(text: str) -> list[LldpNeighbor]:
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict) or "lldpNeighbors" not in data:
            raise ParseError(f"expected EOS `show lldp neighbors | json` (an object with lldpNeighbors); got {S.shown(text)}")
        out = []
        for n in data.get("lldpNeighbors") or []:
            port_id = str(n.get("neighborPort") or "")
            port_id = S.mac(port_id) or port_id
            out.append(LldpNeighbor(interface_name(str(n.get("port") or "")), "", port_id, n.get("neighborDevice"), None, port_id))
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
            port_id = S.mac(words[-2]) or words[-2]
            out.append(LldpNeighbor(interface_name(words[0]), "", port_id, " ".join(words[1:-2]), None, port_id))
    if not header and "lldp" not in text.lower():
        raise ParseError(f"expected EOS `show lldp neighbors` ('Port  Neighbor Device ID  Neighbor Port ID  TTL'); got {S.shown(text)}")
    return out


# --- show interfaces IF ------------------------------------------------------------------------

_STATUS = re.compile(r"^(?P<name>\S+) is (?P<admin>up|down|administratively down),\s*line protocol is (?P<link>\w+)", re.IGNORECASE)
_EOS_MTU = re.compile(r"\bIP MTU (\d+) bytes|\bEthernet MTU (\d+) bytes|\bMTU (\d+) bytes")
_HW = re.compile(r"address is ([0-9a-fA-F.]{14})")


def parse_interfaces(text: str) -> list[InterfaceInfo]:
    """`show interfaces [IF] [| json]`. The MTU is the frame's (Ethernet header included):
    l2Mtu when EOS gives it, else the IP MTU plus 14."""
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict) or "interfaces" not in data:
            raise ParseError(f"expected EOS `show interfaces | json` (an object with interfaces); got {S.shown(text)}")
        out = []
        for name, i in (data.get("interfaces") or {}).items():
            status = str(i.get("interfaceStatus") or "")
            l2, ip_mtu = _int(i.get("l2Mtu")), _int(i.get("mtu"))
            mtu = l2 if l2 else (ip_mtu + ETH_HLEN if ip_mtu else None)
            out.append(InterfaceInfo(interface_name(name), status != "disabled", status == "connected" or
                                     str(i.get("lineProtocolStatus")) == "up", mtu, S.mac(i.get("physicalAddress"))))
        return out
    S.check_error(text, "interface information")
    out = []
    for block in re.split(r"(?m)^(?=\S+ is (?:up|down|administratively down))", text):
        m = _STATUS.match(block.strip())
        if not m:
            continue
        mtu_m = _EOS_MTU.search(block)
        mtu = None
        if mtu_m:
            ip, eth, plain = mtu_m.groups()
            mtu = int(eth) if eth else int(ip or plain) + ETH_HLEN
        hw = _HW.search(block)
        out.append(InterfaceInfo(interface_name(m.group("name")), m.group("admin").lower() == "up", m.group("link").lower() == "up",
                                 mtu, S.mac(hw.group(1)) if hw else None))
    if not out:
        raise ParseError(f"expected EOS `show interfaces IF` ('Ethernet1 is up, line protocol is up'); got {S.shown(text)}")
    return out
