"""Cisco NX-OS parsers: `| json` replies first (NX-API's TABLE_x/ROW_x schema), text as the fallback.

Each returns the normalised tables of sriovcheck.parsers.tables. NX-OS abbreviates interface names
in some tables (Eth1/1, Po10); they are expanded to the names a topology gives (Ethernet1/1,
port-channel10).
"""

from __future__ import annotations

import re
from typing import Any

from sriovcheck.parsers import structured as S
from sriovcheck.parsers.tables import ArpEntry, InterfaceInfo, LldpNeighbor, MacEntry, ParseError, PortVlan, VersionInfo

ETH_HLEN = 14
_SHORT = (("Eth", "Ethernet"), ("Po", "port-channel"), ("Vl", "Vlan"), ("mgmt", "mgmt"), ("Lo", "loopback"))


def interface_name(value: str) -> str:
    v = value.strip()
    for short, full in _SHORT:
        if v.startswith(short) and not v.startswith(full) and v[len(short):][:1].isdigit():
            return full + v[len(short):]
    if v.lower().startswith("vlan") and v[4:].isdigit():
        return "Vlan" + v[4:]
    return v


def _kind(raw: str, port: str) -> str:
    r = raw.strip().lower()
    if "(r)" in port.lower() or port.lower().startswith("sup-eth") or r == "g":
        return "router"
    if r.startswith("dynamic"):
        return "learned"
    if r.startswith("static"):
        return "static"
    return "other"


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip().split()[0])
    except (ValueError, IndexError):
        return None


# --- show mac address-table [interface IF | address MAC] ------------------------------------------

_MAC_ROW = re.compile(r"^(?P<flag>[*+GCO~]?)\s*(?P<vlan>\d{1,4}|-)\s+(?P<mac>[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4})\s+"
                      r"(?P<type>\S+)\s+(?P<age>\S+)\s+(?P<secure>\S+)\s+(?P<ntfy>\S+)\s+(?P<port>\S+)\s*$")


def parse_mac_table(text: str) -> list[MacEntry]:
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict):
            raise ParseError(f"expected NX-OS `show mac address-table | json`; got {S.shown(text)}")
        if data and "TABLE_mac_address" not in data:
            raise ParseError(f"expected NX-OS `show mac address-table | json` (TABLE_mac_address); got {S.shown(text)}")
        out = []
        for r in S.rows(data, "TABLE_mac_address", "ROW_mac_address"):
            port = str(r.get("disp_port") or "")
            vid = _int(r.get("disp_vlan"))
            raw = str(r.get("disp_type") or "").strip()
            kind = _kind(raw if raw not in ("*", "+", "") else "dynamic", port)
            if str(r.get("disp_is_static", "")).lower() in ("enabled", "true", "t") and kind == "learned":
                kind = "static"
            out.append(MacEntry(str(vid) if vid is not None else "-", vid, S.mac(r.get("disp_mac_addr")), kind,
                                raw or "dynamic", S.age_seconds(r.get("disp_age")), interface_name(port)))
        return out
    S.check_error(text, "a MAC table")
    out = []
    header = False
    for line in text.splitlines():
        s = line.rstrip()
        if re.match(r"^\s*VLAN\s+MAC Address\s+Type\s+age", s, re.IGNORECASE):
            header = True
            continue
        if not header or not s.strip() or s.strip().startswith("---"):
            continue
        m = _MAC_ROW.match(s.strip())
        if not m:
            raise ParseError(f"expected a row of NX-OS `show mac address-table`; got {S.shown(s)}")
        vid = _int(m.group("vlan"))
        port = m.group("port")
        raw = m.group("type")
        kind = "router" if m.group("flag") == "G" else _kind(raw, port)
        out.append(MacEntry(m.group("vlan"), vid, S.mac(m.group("mac")), kind, raw, S.age_seconds(m.group("age")),
                            interface_name(port)))
    if not header and not out:
        raise ParseError(f"expected NX-OS `show mac address-table` (a 'VLAN  MAC Address  Type  age ... Ports' table); got {S.shown(text)}")
    return out


# --- show ip arp [IF] --------------------------------------------------------------------------

_DOTTED = r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"
_ARP_ROW = re.compile(r"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3})\s+(?P<age>\S+)\s+(?P<mac>" + _DOTTED + r"|INCOMPLETE)\s+"
                      r"(?P<intf>\S+)(?:\s+(?P<flags>.*))?$")


def parse_arp_table(text: str) -> list[ArpEntry]:
    data = S.load_json(text)
    if data is not None:
        if data and (not isinstance(data, dict) or "TABLE_vrf" not in data):
            raise ParseError(f"expected NX-OS `show ip arp | json` (TABLE_vrf); got {S.shown(text)}")
        out = []
        for vrf in S.rows(data, "TABLE_vrf", "ROW_vrf"):
            for r in S.rows(vrf, "TABLE_adj", "ROW_adj"):
                mac = S.mac(r.get("mac"))
                if mac is None:
                    continue
                flags = tuple(k for k in ("static", "syncd-via-vpc") if str(r.get(k, "")).lower() in ("true", "t"))
                phys = r.get("phy-intf")
                out.append(ArpEntry(mac, str(r.get("ip-addr-out")), interface_name(str(r.get("intf-out") or "")),
                                    interface_name(str(phys)) if phys else None, flags or ("dynamic",), None,
                                    S.age_seconds(r.get("time-stamp"))))
        return out
    S.check_error(text, "an ARP table")
    out = []
    header = False
    for line in text.splitlines():
        s = line.strip()
        if re.match(r"^Address\s+Age\s+MAC Address\s+Interface", s, re.IGNORECASE):
            header = True
            continue
        if not header or not s:
            continue
        m = _ARP_ROW.match(s)
        if not m:
            raise ParseError(f"expected a row of NX-OS `show ip arp`; got {S.shown(s)}")
        mac = S.mac(m.group("mac"))
        if mac:
            flags = tuple(m.group("flags").split()) if m.group("flags") else ("dynamic",)
            out.append(ArpEntry(mac, m.group("ip"), interface_name(m.group("intf")), None, flags, None, S.age_seconds(m.group("age"))))
    if not header and not out:
        raise ParseError(f"expected NX-OS `show ip arp` (an 'Address  Age  MAC Address  Interface' table); got {S.shown(text)}")
    return out


# --- show version ------------------------------------------------------------------------------


def _model(chassis: str | None) -> str | None:
    if not chassis:
        return None
    return re.sub(r"\s+[Cc]hassis.*$", "", chassis).strip() or None


def parse_version(text: str) -> VersionInfo:
    data = S.load_json(text)
    if isinstance(data, dict):
        version = data.get("nxos_ver_str") or data.get("sys_ver_str") or data.get("kickstart_ver_str")
        return VersionInfo(data.get("host_name"), _model(data.get("chassis_id")), version)
    host = re.search(r"^\s*Device name:\s*(\S+)", text, re.MULTILINE)
    version = re.search(r"^\s*(?:NXOS|system|kickstart):\s+version\s+(\S+)", text, re.MULTILINE)
    chassis = re.search(r"^\s*cisco (.+?) [Cc]hassis", text, re.MULTILINE)
    return VersionInfo(host.group(1) if host else None, chassis.group(1).strip() if chassis else None,
                       version.group(1) if version else None)


# --- show interface [IF] switchport ------------------------------------------------------------


def _members(port: str, mode: str, access: int | None, native: int | None, allowed: str, enabled: bool) -> list[PortVlan]:
    if not enabled:
        return []
    if mode.lower().startswith("access"):
        vids: set[int] | None = {access} if access else set()
        tagged = False
    else:
        vids = S.vlan_ranges(allowed)
        tagged = True
    if vids is None:
        vids = set(range(1, 4095))
    return [PortVlan(port, None, str(v), v, "untagged" if (not tagged or v == native) else "tagged") for v in sorted(vids)]


def parse_switchport(text: str) -> list[PortVlan]:
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict) or "TABLE_interface" not in data:
            raise ParseError(f"expected NX-OS `show interface switchport | json` (TABLE_interface); got {S.shown(text)}")
        out: list[PortVlan] = []
        for r in S.rows(data, "TABLE_interface", "ROW_interface"):
            out += _members(interface_name(str(r.get("interface") or "")), str(r.get("oper_mode") or r.get("admin_mode") or "access"),
                            _int(r.get("access_vlan")), _int(r.get("native_vlan")), str(r.get("trunk_vlans") or ""),
                            str(r.get("switchport", "Enabled")).lower().startswith("enabled"))
        return out
    S.check_error(text, "switchport information")
    out = []
    for block in re.split(r"(?m)^(?=\s*Name:)", text):
        kv = S.key_values(block)
        if "name" not in kv:
            continue
        out += _members(interface_name(kv["name"]), kv.get("operational mode") or "access", _int(kv.get("access mode vlan")),
                        _int(kv.get("trunking native mode vlan")), kv.get("trunking vlans allowed", ""),
                        kv.get("switchport", "enabled").lower().startswith("enabled"))
    if not out and "name:" not in text.lower():
        raise ParseError(f"expected NX-OS `show interface switchport` ('Name: Ethernet1/1' blocks); got {S.shown(text)}")
    return out


# --- show lldp neighbors -----------------------------------------------------------------------


def parse_lldp_neighbors(text: str) -> list[LldpNeighbor]:
    data = S.load_json(text)
    if data is not None:
        if data and (not isinstance(data, dict) or ("TABLE_nbor" not in data and "neigh_count" not in data)):
            raise ParseError(f"expected NX-OS `show lldp neighbors | json` (TABLE_nbor); got {S.shown(text)}")
        out = []
        for r in S.rows(data, "TABLE_nbor", "ROW_nbor"):
            port_id = str(r.get("port_id") or "")
            port_id = S.mac(port_id) or port_id
            # In the brief table NX-OS calls the neighbour's Device ID (its system name) chassis_id.
            out.append(LldpNeighbor(interface_name(str(r.get("l_port_id") or "")), "", port_id, r.get("chassis_id"), None, port_id))
        return out
    S.check_error(text, "an LLDP neighbour table")
    out = []
    header = False
    pending: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if re.match(r"^Device ID\s+Local Intf\s+Hold-time\s+Capability\s+Port ID", s, re.IGNORECASE):
            header = True
            continue
        if not header or not s or s.lower().startswith("total entries"):
            continue
        words = s.split()
        if len(words) == 1:  # a long Device ID on a line of its own
            pending = words[0]
            continue
        if pending is not None and len(words) >= 3 and words[1].isdigit():
            device, words = pending, [pending, *words]
        else:
            device = words[0]
        pending = None
        if len(words) >= 4:
            port_id = S.mac(words[-1]) or words[-1]
            out.append(LldpNeighbor(interface_name(words[1]), "", port_id, device, None, port_id))
    if not header and "lldp" not in text.lower() and "capability codes" not in text.lower():
        raise ParseError("expected NX-OS `show lldp neighbors` ('Device ID  Local Intf  Hold-time  Capability  Port ID'); "
                         f"got {S.shown(text)}")
    return out


# --- show interface IF -------------------------------------------------------------------------

_STATUS = re.compile(r"^(?P<name>\S+) is (?P<link>up|down)\b", re.IGNORECASE)


def parse_interfaces(text: str) -> list[InterfaceInfo]:
    """`show interface [IF] [| json]`. NX-OS' MTU is the IP MTU: the frame's is 14 more."""
    data = S.load_json(text)
    if data is not None:
        if not isinstance(data, dict) or "TABLE_interface" not in data:
            raise ParseError(f"expected NX-OS `show interface | json` (TABLE_interface); got {S.shown(text)}")
        out = []
        for r in S.rows(data, "TABLE_interface", "ROW_interface"):
            name = interface_name(str(r.get("interface") or ""))
            if "svi_admin_state" in r or name.startswith("Vlan"):
                admin = str(r.get("svi_admin_state") or r.get("admin_state") or "up").lower() == "up"
                link = str(r.get("svi_line_proto") or r.get("state") or "").lower() == "up"
                mtu = _int(r.get("svi_mtu") or r.get("eth_mtu"))
                mac = S.mac(r.get("svi_mac") or r.get("svi_hw_addr") or r.get("eth_hw_addr"))
            else:
                admin = str(r.get("admin_state") or "up").lower() == "up"
                link = str(r.get("state") or "").lower() == "up"
                mtu = _int(r.get("eth_mtu"))
                mac = S.mac(r.get("eth_hw_addr"))
            out.append(InterfaceInfo(name, admin, link, mtu + ETH_HLEN if mtu else None, mac))
        return out
    S.check_error(text, "interface information")
    out = []
    for block in re.split(r"(?m)^(?=\S+ is (?:up|down))", text):
        m = _STATUS.match(block.strip())
        if not m:
            continue
        admin = not re.search(r"admin state is down|Administratively down", block, re.IGNORECASE)
        mtu_m = re.search(r"\bMTU (\d+) bytes", block)
        hw = re.search(r"address(?: is|:)\s*([0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4})", block)
        out.append(InterfaceInfo(interface_name(m.group("name")), admin, m.group("link").lower() == "up",
                                 int(mtu_m.group(1)) + ETH_HLEN if mtu_m else None, S.mac(hw.group(1)) if hw else None))
    if not out:
        raise ParseError(f"expected NX-OS `show interface IF` ('Ethernet1/1 is up'); got {S.shown(text)}")
    return out
