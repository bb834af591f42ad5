"""Cisco NX-OS parsers: `| json` replies first (NX-API's TABLE_x/ROW_x schema), text as the fallback.

Each returns the normalised tables of sriovcheck.parsers.tables. NX-OS abbreviates interface names
in some tables (Eth1/1, Po10, eth1/2, po1); they are expanded to the names a topology gives
(Ethernet1/1, port-channel10). Read against real outputs: tests/data/nxos-real.
"""

from __future__ import annotations

import re

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
_SHORT = (("eth", "Ethernet"), ("po", "port-channel"), ("vlan", "Vlan"), ("lo", "loopback"))
_DOTTED = r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"


def interface_name(value: str) -> str:
    """Eth1/1 and eth1/1 -> Ethernet1/1, Po10 and po10 -> port-channel10, vlan200 -> Vlan200; others as they are."""
    return S.expand_interface(value, _SHORT)


def _kind(raw: str) -> str:
    r = raw.strip().lower()
    if r.startswith("dynamic"):
        return "learned"
    if r.startswith("static"):
        return "static"
    return "other"


# --- show mac address-table [interface IF | address MAC] ------------------------------------------

_MAC_HEADER = re.compile(r"^\s*VLAN\s+MAC Address\s+Type\s+age\b", re.IGNORECASE)
_MAC_ROW = re.compile(r"^(?P<flag>[*+GCO~]?)\s*(?P<vlan>\d{1,4}|-)\s+(?P<mac>" + _DOTTED + r")\s+"
                      r"(?P<type>\S+)\s+(?P<age>\S+)\s+(?P<secure>\S+)\s+(?P<ntfy>\S+)\s+(?P<ports>.+?)\s*$")
_MULTICAST_TYPES = {"igmp", "mld"}


def _ports(value: str) -> list[str]:
    v = value.strip()
    if v.lower().startswith("vpc peer-link"):
        return [v]
    out: list[str] = []
    for token in v.split():  # "sup-eth1(R) (Lo0)": a parenthesised word belongs to the port before it
        if token.startswith("(") and out:
            out[-1] += " " + token
        else:
            out.append(token)
    return out


def parse_mac_table(text: str) -> list[MacEntry]:
    """`show mac address-table [...] [| json]`: unicast entries, one per port a row names (multicast
    igmp rows and their continuation lines are skipped). NX-API answers an empty table with nothing."""
    if not text.strip():
        return []
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or (data and "TABLE_mac_address" not in data):
            raise ParseError(f"expected NX-OS `show mac address-table | json` (TABLE_mac_address); got {S.shown(text)}")
        out = []
        for r in S.rows(data, "TABLE_mac_address", "ROW_mac_address"):
            raw = str(r.get("disp_type") or "").strip()
            if raw.lower() in _MULTICAST_TYPES:
                continue
            static = str(r.get("disp_is_static", "")).lower() in ("enabled", "true", "t")
            vid = S.first_int(r.get("disp_vlan"))
            for port in _ports(str(r.get("disp_port") or "")):
                out.append(MacEntry(str(vid) if vid is not None else "-", vid, S.mac(r.get("disp_mac_addr")),
                                    "static" if static else "learned", raw or "dynamic", S.age_seconds(r.get("disp_age")),
                                    interface_name(port), flag=raw if raw in ("*", "+", "G", "C", "O", "~") else None))
        return out
    S.check_error(text, "a MAC table")
    out = []
    header = False
    for line in text.splitlines():
        s = line.rstrip()
        if _MAC_HEADER.match(s):
            header = True
            continue
        if not header or not s.strip() or s.strip().startswith("---"):
            continue
        m = _MAC_ROW.match(s.strip())
        if m is None:
            if line[:1].isspace() and not re.search(_DOTTED, s):
                continue  # the port list of a multicast row, continued
            raise ParseError(f"expected a row of NX-OS `show mac address-table`; got {S.shown(s)}")
        raw = m.group("type")
        if raw.lower() in _MULTICAST_TYPES:
            continue
        vid = S.first_int(m.group("vlan"))
        for port in _ports(m.group("ports")):
            out.append(MacEntry(m.group("vlan"), vid, S.mac(m.group("mac")), _kind(raw), raw, S.age_seconds(m.group("age")),
                                interface_name(port), flag=m.group("flag")))
    if not header:
        raise ParseError(f"expected NX-OS `show mac address-table` (a 'VLAN  MAC Address  Type  age ... Ports' table); got {S.shown(text)}")
    return out


# --- show ip arp [IF] [vrf all] ----------------------------------------------------------------

_ARP_HEADER = re.compile(r"^Address\s+Age\s+MAC Address\s+Interface", re.IGNORECASE)
_ARP_ROW = re.compile(r"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3})\s+(?P<age>\S+)\s+(?P<mac>" + _DOTTED + r"|INCOMPLETE)\s+"
                      r"(?P<intf>\S+)(?:\s+(?P<flags>.*))?$")
_CONTEXT = re.compile(r"^IP ARP Table for (?:context (?P<vrf>\S+)|all contexts)", re.IGNORECASE)


def parse_arp_table(text: str) -> list[ArpEntry]:
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or (data and "TABLE_vrf" not in data):
            raise ParseError(f"expected NX-OS `show ip arp | json` (TABLE_vrf); got {S.shown(text)}")
        out = []
        for vrf_row in S.rows(data, "TABLE_vrf", "ROW_vrf"):
            name = vrf_row.get("vrf-name-out")
            for r in S.rows(vrf_row, "TABLE_adj", "ROW_adj"):
                mac = S.mac(r.get("mac"))
                if mac is None:
                    continue
                flags = tuple(k for k in ("static", "syncd-via-vpc") if str(r.get(k, "")).lower() in ("true", "t"))
                phys = r.get("phy-intf")
                out.append(ArpEntry(mac, str(r.get("ip-addr-out")), interface_name(str(r.get("intf-out") or "")),
                                    interface_name(str(phys)) if phys else None, flags or ("dynamic",), None, None,
                                    age_s=S.age_seconds(r.get("time-stamp")), vrf=str(name) if name else None))
        return out
    S.check_error(text, "an ARP table")
    out = []
    header = False
    vrf: str | None = None
    for line in text.splitlines():
        s = line.strip()
        ctx = _CONTEXT.match(s)
        if ctx:
            vrf = ctx.group("vrf")
            continue
        if _ARP_HEADER.match(s):
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
            out.append(ArpEntry(mac, m.group("ip"), interface_name(m.group("intf")), None, flags, None, None,
                                age_s=S.age_seconds(m.group("age")), vrf=vrf))
    if not header:
        raise ParseError(f"expected NX-OS `show ip arp` (an 'Address  Age  MAC Address  Interface' table); got {S.shown(text)}")
    return out


# --- show version ------------------------------------------------------------------------------


def _model(chassis: str | None) -> str | None:
    """The chassis string without 'cisco ' and ' Chassis': 'Nexus9000 C93180YC-FX3', 'NX-OSv'."""
    if not chassis:
        return None
    return re.sub(r"\s+[Cc]hassis\b.*$", "", re.sub(r"^cisco\s+", "", chassis.strip())).strip() or None


def parse_version(text: str) -> VersionInfo:
    """Host name, model (the chassis as printed, without 'cisco'), NX-OS version (as printed) and serial."""
    data, text = S.structured(text)
    if isinstance(data, dict):
        if not any(k in data for k in ("nxos_ver_str", "sys_ver_str", "kickstart_ver_str", "chassis_id")):
            raise ParseError(f"expected NX-OS `show version | json` (chassis_id, nxos_ver_str); got {S.shown(text)}")
        version = data.get("nxos_ver_str") or data.get("sys_ver_str") or data.get("kickstart_ver_str")
        return VersionInfo(data.get("host_name"), _model(data.get("chassis_id")), version, serial=data.get("proc_board_id"))
    host = re.search(r"^\s*Device name:\s*(\S+)", text, re.MULTILINE)
    # The running release: `NXOS: version` (newer), `system: version` (older); the "System version"
    # under "Last reset" is the release before the last reset.
    version = re.search(r"^\s*(?:NXOS|system):\s+version\s+(.+?)\s*$", text, re.MULTILINE)
    chassis = re.search(r"^\s*cisco (.+? [Cc]hassis)", text, re.MULTILINE)
    serial = re.search(r"^\s*Processor Board ID\s+(\S+)", text, re.MULTILINE)
    if not (version or chassis):
        raise ParseError(f"expected NX-OS `show version` ('NXOS: version ...', 'cisco ... Chassis'); got {S.shown(text)}")
    return VersionInfo(host.group(1) if host else None, _model(chassis.group(1)) if chassis else None,
                       version.group(1) if version else None, serial=serial.group(1) if serial else None)


# --- show vlan [brief] -------------------------------------------------------------------------


def _expand_ports(item: str) -> list[str]:
    """'Ethernet1/6-10' -> Ethernet1/6..Ethernet1/10; 'port-channel1-2' -> port-channel1, port-channel2."""
    m = re.fullmatch(r"(?P<base>.*?)(?P<lo>\d+)-(?P<hi>\d+)", item)
    if m is None:
        return [item]
    lo, hi = int(m.group("lo")), int(m.group("hi"))
    if hi < lo or hi - lo > 4096:
        return [item]
    return [f"{m.group('base')}{n}" for n in range(lo, hi + 1)]


def parse_vlans(text: str) -> list[VlanInfo]:
    """`show vlan [brief] [| json]`: id, name, status and member ports (ranges expanded)."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "TABLE_vlanbriefxbrief" not in data:
            raise ParseError(f"expected NX-OS `show vlan brief | json` (TABLE_vlanbriefxbrief); got {S.shown(text)}")
        out = []
        for r in S.rows(data, "TABLE_vlanbriefxbrief", "ROW_vlanbriefxbrief"):
            plist = r.get("vlanshowplist-ifidx") or []
            items = [plist] if isinstance(plist, str) else list(plist)
            ports = [p for item in items for part in str(item).split(",") if part.strip() for p in _expand_ports(part.strip())]
            out.append(VlanInfo(int(str(r.get("vlanshowbr-vlanid"))), str(r.get("vlanshowbr-vlanname") or ""),
                                r.get("vlanshowbr-vlanstate"), tuple(ports)))
        return out
    S.check_error(text, "a VLAN table")
    out_t: list[VlanInfo] = []
    starts: list[int] | None = None
    for line in text.splitlines():
        if re.match(r"^VLAN\s+Name\s+Status\s+Ports", line):
            starts = S.columns(line, ["VLAN", "Name", "Status", "Ports"])
            continue
        if starts is None:
            continue
        if not line.strip():
            if out_t:
                break  # the VLAN-type, remote-SPAN and private-VLAN sections follow
            continue
        if line.startswith("-"):
            continue
        vid, name, status, cell = S.cut(line, starts)
        found = tuple(p for item in cell.split(",") if item.strip() for p in _expand_ports(item.strip()))
        if vid.isdigit():
            out_t.append(VlanInfo(int(vid), name, status or None, found))
        elif not vid and out_t:  # the port list continued
            last = out_t[-1]
            out_t[-1] = VlanInfo(last.vlan_id, last.vlan_name, last.status, last.interfaces + found)
    if starts is None:
        raise ParseError(f"expected NX-OS `show vlan` (a 'VLAN Name Status Ports' table); got {S.shown(text)}")
    return out_t


# --- show interface [IF] switchport ------------------------------------------------------------


def parse_switchports(text: str) -> list[SwitchportInfo]:
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "TABLE_interface" not in data:
            raise ParseError(f"expected NX-OS `show interface switchport | json` (TABLE_interface); got {S.shown(text)}")
        return [
            SwitchportInfo(interface_name(str(r.get("interface") or "")), str(r.get("switchport", "Enabled")).lower().startswith("enabled"),
                           str(r.get("oper_mode") or r.get("admin_mode") or "access"), S.first_int(r.get("access_vlan")),
                           S.first_int(r.get("native_vlan")), str(r.get("trunk_vlans") or ""))
            for r in S.rows(data, "TABLE_interface", "ROW_interface")
        ]
    S.check_error(text, "switchport information")
    out = []
    for block in re.split(r"(?m)^(?=\s*Name:)", text):
        kv = S.key_values(block)
        if "name" not in kv:
            continue
        out.append(SwitchportInfo(interface_name(kv["name"]), kv.get("switchport", "enabled").lower().startswith("enabled"),
                                  kv.get("operational mode") or "access", S.first_int(kv.get("access mode vlan")),
                                  S.first_int(kv.get("trunking native mode vlan")), kv.get("trunking vlans allowed", "")))
    if not out:
        raise ParseError(f"expected NX-OS `show interface switchport` ('Name: Ethernet1/1' blocks); got {S.shown(text)}")
    return out


def parse_switchport(text: str) -> list[PortVlan]:
    """The VLANs each port carries (see SwitchportInfo.memberships)."""
    try:
        return [pv for sp in parse_switchports(text) for pv in sp.memberships()]
    except ValueError as exc:
        raise ParseError(str(exc)) from exc


# --- show lldp neighbors [detail] --------------------------------------------------------------


def _lldp_detail(text: str) -> list[LldpNeighbor]:
    out = []
    for block in re.split(r"(?m)^(?=Chassis id:)", text):
        kv = S.key_values(block)
        if "chassis id" not in kv:
            continue
        pid = kv.get("port id", "")
        desc = kv.get("port description")
        out.append(LldpNeighbor(interface_name(kv.get("local port id", "")), S.chassis_mac(kv["chassis id"]),
                                desc if desc and desc.lower() != "null" else pid, kv.get("system name"), None, pid))
    return out


def parse_lldp_neighbors(text: str) -> list[LldpNeighbor]:
    """`show lldp neighbors [detail] [| json]`. In the brief JSON table NX-OS calls the neighbour's
    Device ID (its system name) chassis_id."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or (data and "TABLE_nbor" not in data and "neigh_count" not in data):
            raise ParseError(f"expected NX-OS `show lldp neighbors | json` (TABLE_nbor); got {S.shown(text)}")
        return [LldpNeighbor(interface_name(str(r.get("l_port_id") or "")), "", str(r.get("port_id") or ""), r.get("chassis_id"),
                             None, str(r.get("port_id") or "")) for r in S.rows(data, "TABLE_nbor", "ROW_nbor")]
    S.check_error(text, "an LLDP neighbour table")
    if re.search(r"(?m)^Chassis id:", text):
        return _lldp_detail(text)
    out = []
    starts: list[int] | None = None
    pending: str | None = None
    for line in text.splitlines():
        if re.match(r"^Device ID\s+Local Intf\s+Hold-time\s+Capability\s+Port ID", line, re.IGNORECASE):
            starts = S.columns(line, ["Device ID", "Local Intf", "Hold-time", "Capability", "Port ID"])
            continue
        if starts is None or not line.strip() or line.lower().startswith("total entries"):
            continue
        if len(line.split()) == 1 and not line[:1].isspace():  # a long Device ID on a line of its own
            pending = line.strip()
            continue
        device, local, hold, _cap, port = S.cut(line, starts)
        if pending is not None and not device:
            device, pending = pending, None
        if not (local and hold.isdigit() and port):
            raise ParseError(f"expected a row of NX-OS `show lldp neighbors`; got {S.shown(line)}")
        out.append(LldpNeighbor(interface_name(local), "", port, device, None, port))
    if starts is None:
        raise ParseError("expected NX-OS `show lldp neighbors` ('Device ID  Local Intf  Hold-time  Capability  Port ID'); "
                         f"got {S.shown(text)}")
    return out


# --- show interface [IF] -----------------------------------------------------------------------

_STATUS = re.compile(r"^(?P<name>\S+) is (?P<link>up|down)\b(?P<rest>.*)$", re.IGNORECASE)


def parse_interfaces(text: str) -> list[InterfaceInfo]:
    """`show interface [IF] [| json]`. NX-OS prints the IP MTU (`mtu_printed`); `mtu` is the frame's, 14 more."""
    data, text = S.structured(text)
    if data is not None:
        if not isinstance(data, dict) or "TABLE_interface" not in data:
            raise ParseError(f"expected NX-OS `show interface | json` (TABLE_interface); got {S.shown(text)}")
        out = []
        for r in S.rows(data, "TABLE_interface", "ROW_interface"):
            name = interface_name(str(r.get("interface") or ""))
            if "svi_admin_state" in r or "svi_line_proto" in r:
                admin = str(r.get("svi_admin_state") or "up").lower() == "up"
                link = str(r.get("svi_line_proto") or "").lower() == "up"
                mtu = S.first_int(r.get("svi_mtu"))
                mac = S.mac(r.get("svi_mac") or r.get("svi_hw_addr"))
            else:
                admin = str(r.get("admin_state") or "up").lower() == "up"
                link = str(r.get("state") or "").lower() == "up"
                mtu = S.first_int(r.get("eth_mtu"))
                mac = S.mac(r.get("eth_hw_addr"))
            out.append(InterfaceInfo(name, admin, link, mtu + ETH_HLEN if mtu else None, mac, mtu_printed=mtu,
                                     oper_status=str(r.get("state") or r.get("svi_line_proto") or "") or None))
        return out
    S.check_error(text, "interface information")
    out = []
    for block in re.split(r"(?m)^(?=\S+ is (?:up|down)\b)", text):
        lines = block.strip().splitlines()
        m = _STATUS.match(lines[0]) if lines else None
        if not m:
            continue
        admin = not re.search(r"admin state is down|Administratively down", block, re.IGNORECASE)
        mtu_m = re.search(r"\bMTU (\d+) bytes", block)
        hw_m = re.search(r"address(?: is|:)\s*(" + _DOTTED + ")", block)
        printed = int(mtu_m.group(1)) if mtu_m else None
        out.append(InterfaceInfo(interface_name(m.group("name")), admin, m.group("link").lower() == "up",
                                 printed + ETH_HLEN if printed else None, S.mac(hw_m.group(1)) if hw_m else None,
                                 mtu_printed=printed, oper_status=(m.group("link") + m.group("rest")).strip()))
    if not out:
        raise ParseError(f"expected NX-OS `show interface IF` ('Ethernet1/1 is up'); got {S.shown(text)}")
    return out
