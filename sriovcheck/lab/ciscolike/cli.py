"""The EOS and NX-OS command lines of the emulated switch (pure: text in, text out).

What netmiko's arista_eos and cisco_nxos drivers send and wait for (netmiko 4.x, arista/arista.py,
cisco/cisco_nxos.py, base_connection.py):
- a prompt ending in `>` or `#` (the base prompt is the line without it): `arista-tor#`;
- EOS: `terminal width 511` (waits for "Width set to"), then `terminal length 0` (waits for
  "Pagination disabled", no echo check); NX-OS: `terminal width 511` and `terminal length 0`, each
  waiting for the echo of the command only (NX-OS prints nothing);
- every command's echo, then the output and the next prompt; on disconnect a newline (config-mode
  check: no `)#` in the answer), then `exit`.
Commands answered, in `| json` (the eAPI / NX-API schemas the parsers read) and as text: show version,
show mac address-table [interface IF | address MAC], show ip arp [interface IF | IF], show interface(s)
IF [switchport], show lldp neighbors, show vlan. The state is read from the `SnapshotSource` once per
command, so it is always live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from sriovcheck.lab.junos.cli import CliReply
from sriovcheck.lab.junos.view import ArpView, InterfaceView, MacView, SnapshotSource, SwitchSnapshot
from sriovcheck.parsers import eos as eos_names
from sriovcheck.parsers import nxos as nxos_names
from sriovcheck.topology.names import normalise_mac

ETH_HLEN = 14


def _dotted(mac: str) -> str:
    d = mac.replace(":", "").lower()
    return f"{d[0:4]}.{d[4:8]}.{d[8:12]}"


def _port(ifname: str) -> str:
    """The emulator's MAC rows name `<port>.0` (Junos' unit): EOS and NX-OS name the port."""
    return ifname[:-2] if ifname.endswith(".0") else ifname


class BadCommand(Exception):
    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


@dataclass
class _Parsed:
    words: list[str]
    json: bool


class CiscoLikeCli:
    """What EOS and NX-OS share: the command grammar; subclasses render."""

    os_name = ""
    canonical = staticmethod(eos_names.interface_name)

    def __init__(self, source: SnapshotSource, *, username: str) -> None:
        self.source = source
        self.username = username
        self.last_snapshot: SwitchSnapshot | None = None  # the prompt after a command may be drawn from it

    # --- the session ---------------------------------------------------------------------------

    def prompt(self, snap: SwitchSnapshot | None = None) -> str:
        snap = snap or self.source.snapshot()
        return f"{snap.hostname}#"

    def greeting(self, snap: SwitchSnapshot) -> str:
        return ""

    def framed(self, text: str) -> str:
        """What goes out after a command's echo: its output, then the prompt (the caller adds it)."""
        return text

    def execute(self, line: str) -> CliReply:
        snap = self.last_snapshot = self.source.snapshot()
        line = line.strip()
        try:
            return self._execute(line, snap)
        except BadCommand as exc:
            return CliReply(self.error(line, exc.pos))

    def error(self, line: str, pos: int) -> str:
        raise NotImplementedError

    def terminal(self, what: str, value: str) -> str:
        raise NotImplementedError

    # --- grammar -------------------------------------------------------------------------------

    def _execute(self, line: str, snap: SwitchSnapshot) -> CliReply:
        if not line:
            return CliReply("")
        base, _, pipe = line.partition("|")
        words = base.split()
        as_json = False
        if pipe:
            p = pipe.split()
            if p == ["json"]:
                as_json = True
            elif p not in (["no-more"],):
                raise BadCommand(line.index("|") + 2)
        first = words[0].lower()
        if first in ("exit", "quit", "logout"):
            return CliReply("", close=True)
        if first in ("enable", "end"):
            return CliReply("")
        if first in ("terminal", "term") and len(words) == 3 and words[1] in ("width", "length") and words[2].isdigit():
            return CliReply(self.terminal(words[1], words[2]))
        if first not in ("show", "sh"):
            raise BadCommand(0)
        return CliReply(self._show(words[1:], as_json, snap, line), data=True)

    def _show(self, args: list[str], as_json: bool, snap: SwitchSnapshot, line: str) -> str:
        if not args:
            raise BadCommand(len(line))
        what = args[0].lower()
        rest = args[1:]

        def pos(word: str) -> int:
            return max(0, line.find(word))

        if what == "version" and not rest:
            return self.version(snap, as_json)
        if what == "mac" and rest[:1] == ["address-table"]:
            opts = rest[1:]
            if not opts:
                return self.mac_table(snap, None, None, as_json)
            if len(opts) == 2 and opts[0] == "interface":
                return self.mac_table(snap, self.canonical(opts[1]), None, as_json)
            if len(opts) == 2 and opts[0] == "address" and normalise_mac(opts[1]):
                return self.mac_table(snap, None, normalise_mac(opts[1]), as_json)
            raise BadCommand(pos(opts[0]))
        if what == "ip" and rest[:1] == ["arp"]:
            opts = rest[1:]
            if not opts:
                return self.arp(snap, None, as_json)
            if len(opts) == 2 and opts[0] == "interface":
                return self.arp(snap, self.canonical(opts[1]), as_json)
            if len(opts) == 1:
                return self.arp(snap, self.canonical(opts[0]), as_json)
            raise BadCommand(pos(opts[0]))
        if what in ("interfaces", "interface"):
            if not rest:
                return self.interfaces(snap, None, as_json)
            name = self.canonical(rest[0])
            if rest[1:] == ["switchport"]:
                return self.switchport(snap, name, as_json)
            if rest[0] == "switchport" and len(rest) == 1:
                return self.switchport(snap, None, as_json)
            if len(rest) == 1:
                return self.interfaces(snap, name, as_json)
            raise BadCommand(pos(rest[1]))
        if what == "lldp" and rest == ["neighbors"]:
            return self.lldp(snap, as_json)
        if what == "vlan" and (not rest or rest == ["brief"]):
            return self.vlans(snap, as_json)
        raise BadCommand(pos(args[0]))

    # --- the switch's state, as these OSes see it ------------------------------------------------

    @staticmethod
    def learned(snap: SwitchSnapshot, port: str | None, mac: str | None) -> list[MacView]:
        out = []
        for m in snap.macs:
            if m.kind == "router":
                if port is None and (mac is None or m.mac == mac):
                    out.append(m)
                continue
            if port is not None and _port(m.interface) != port:
                continue
            if mac is not None and m.mac != mac:
                continue
            out.append(m)
        return out

    @staticmethod
    def port_of(snap: SwitchSnapshot, a: ArpView) -> str | None:
        vid = next((v.id for v in snap.vlans if v.l3_interface == a.interface), None)
        return next((_port(m.interface) for m in snap.macs if m.mac == a.mac and m.vlan_id == vid and m.kind != "router"), None)

    @staticmethod
    def interface(snap: SwitchSnapshot, name: str) -> InterfaceView | None:
        return next((i for i in snap.interfaces if i.name == name), None)

    @staticmethod
    def carried(snap: SwitchSnapshot, port: str) -> list[int]:
        return sorted(v.id for v in snap.vlans if port in v.members)

    @staticmethod
    def ports(snap: SwitchSnapshot) -> list[str]:
        names = {v.l3_interface for v in snap.vlans}
        return [i.name for i in snap.interfaces if i.name not in names]

    @staticmethod
    def ranges(vids: list[int]) -> str:
        if not vids:
            return "NONE"
        out: list[str] = []
        start = prev = vids[0]
        for v in [*vids[1:], None]:
            if v is not None and v == prev + 1:
                prev = v
                continue
            out.append(str(start) if start == prev else f"{start}-{prev}")
            if v is not None:
                start = prev = v
        return ",".join(out)

    # --- renderers (subclasses) ------------------------------------------------------------------

    def version(self, snap: SwitchSnapshot, as_json: bool) -> str:
        raise NotImplementedError

    def mac_table(self, snap: SwitchSnapshot, port: str | None, mac: str | None, as_json: bool) -> str:
        raise NotImplementedError

    def arp(self, snap: SwitchSnapshot, l3: str | None, as_json: bool) -> str:
        raise NotImplementedError

    def interfaces(self, snap: SwitchSnapshot, name: str | None, as_json: bool) -> str:
        raise NotImplementedError

    def switchport(self, snap: SwitchSnapshot, name: str | None, as_json: bool) -> str:
        raise NotImplementedError

    def lldp(self, snap: SwitchSnapshot, as_json: bool) -> str:
        raise NotImplementedError

    def vlans(self, snap: SwitchSnapshot, as_json: bool) -> str:
        raise NotImplementedError


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


class EosCli(CiscoLikeCli):
    os_name = "EOS"
    canonical = staticmethod(eos_names.interface_name)

    def greeting(self, snap: SwitchSnapshot) -> str:
        return "Last login: from the sriovcheck lab\n"

    def error(self, line: str, pos: int) -> str:
        return "% Invalid input\n"

    def terminal(self, what: str, value: str) -> str:
        return f"Width set to {value} columns.\n" if what == "width" else "Pagination disabled.\n"

    def _missing(self, name: str) -> str:
        return f"% Invalid input (interface {name} does not exist)\n"

    def version(self, snap: SwitchSnapshot, as_json: bool) -> str:
        if as_json:
            return _json({"mfgName": "Arista", "modelName": snap.model, "hardwareRevision": "11.01", "serialNumber": "SRIOVLAB0001",
                          "systemMacAddress": snap.router_mac, "version": snap.junos_version, "architecture": "i686",
                          "internalVersion": f"{snap.junos_version}-lab", "isIntlVersion": False})
        return (f"Arista {snap.model}\nHardware version: 11.01\nSerial number: SRIOVLAB0001\n"
                f"System MAC address: {_dotted(snap.router_mac)}\n\nSoftware image version: {snap.junos_version}\n"
                f"Architecture: i686\nInternal build version: {snap.junos_version}-lab\n")

    def mac_table(self, snap: SwitchSnapshot, port: str | None, mac: str | None, as_json: bool) -> str:
        if port is not None and self.interface(snap, port) is None:
            return self._missing(port)
        rows = self.learned(snap, port, mac)

        def iface(m: MacView) -> str:
            return "Router" if m.kind == "router" else _port(m.interface)

        if as_json:
            return _json({"unicastTable": {"tableEntries": [
                {"vlanId": m.vlan_id, "macAddress": m.mac, "type": "static" if m.kind == "router" else "dynamic",
                 "interface": iface(m), "moves": 1, "lastMove": 0.0,
                 "entryType": "static" if m.kind == "router" else "dynamic"} for m in rows]},
                "multicastTable": {"tableEntries": []}, "disabledMacLearningVlans": []})
        lines = ["          Mac Address Table", "-" * 66, "", "Vlan    Mac Address       Type        Ports      Moves   Last Move",
                 "----    -----------       ----        -----      -----   ---------"]
        for m in rows:
            kind = "STATIC" if m.kind == "router" else "DYNAMIC"
            port_name = "Router" if m.kind == "router" else eos_short(_port(m.interface))
            tail = "" if m.kind == "router" else f"{1:<8}0:00:{min(m.age_s or 0, 59):02d} ago"
            lines.append(f"{m.vlan_id:>4}    {_dotted(m.mac):<18}{kind:<12}{port_name:<11}{tail}".rstrip())
        lines.append(f"Total Mac Addresses for this criterion: {len(rows)}")
        return "\n".join(lines) + "\n"

    def arp(self, snap: SwitchSnapshot, l3: str | None, as_json: bool) -> str:
        if l3 is not None and self.interface(snap, l3) is None:
            return self._missing(l3)
        rows = [a for a in snap.arps if l3 is None or a.interface == l3]

        def where(a: ArpView) -> str:
            port = self.port_of(snap, a)
            return f"{a.interface}, {port}" if port else f"{a.interface}, not learned"

        if as_json:
            return _json({"dynamicEntries": len(rows), "ipV4Neighbors": [
                {"hwAddress": _dotted(a.mac), "address": a.ip, "interface": where(a), "age": 0} for a in rows],
                "notLearnedEntries": 0, "totalEntries": len(rows), "staticEntries": 0})
        lines = ["Address         Age (sec)  Hardware Addr   Interface"]
        lines += [f"{a.ip:<15}{'0:00:00':>10}  {_dotted(a.mac)}  {where(a)}" for a in rows]
        return "\n".join(lines) + "\n"

    def interfaces(self, snap: SwitchSnapshot, name: str | None, as_json: bool) -> str:
        views = [i for i in snap.interfaces if name is None or i.name == name]
        if not views and name is not None:
            return self._missing(name)
        svis = {v.l3_interface for v in snap.vlans}

        def ip_mtu(i: InterfaceView) -> int:
            return i.mtu if i.name in svis else i.mtu - ETH_HLEN

        def status(i: InterfaceView) -> str:
            return "disabled" if not i.admin_up else "connected" if i.link_up else "notconnect"

        if as_json:
            return _json({"interfaces": {i.name: {
                "name": i.name, "interfaceStatus": status(i), "lineProtocolStatus": "up" if i.link_up else "down",
                "mtu": ip_mtu(i), **({} if i.name in svis else {"l2Mtu": i.mtu}),
                "physicalAddress": _dotted(i.mac) if i.mac else "", "description": i.description or "",
                "interfaceAddress": [{"primaryIp": {"address": i.address_cidr.split("/")[0],
                                                    "maskLen": int(i.address_cidr.split("/")[1])}}] if i.address_cidr else [],
            } for i in views}})
        out = []
        for i in views:
            admin = "up" if i.admin_up else "administratively down"
            proto = f"up ({status(i)})" if i.link_up else f"down ({status(i)})"
            out.append(f"{i.name} is {admin}, line protocol is {proto}")
            if i.mac:
                out.append(f"  Hardware is Ethernet, address is {_dotted(i.mac)} (bia {_dotted(i.mac)})")
            if i.description:
                out.append(f"  Description: {i.description}")
            out.append(f"  IP MTU {ip_mtu(i)} bytes" + ("" if i.name in svis else f", Ethernet MTU {i.mtu} bytes"))
        return "\n".join(out) + "\n"

    def switchport(self, snap: SwitchSnapshot, name: str | None, as_json: bool) -> str:
        ports = [p for p in self.ports(snap) if name is None or p == name]
        if not ports and name is not None:
            return self._missing(name)
        if as_json:
            return _json({"switchports": {p: {"enabled": True, "switchportInfo": {
                "mode": "trunk", "accessVlanId": 1, "accessVlanName": "default", "trunkingNativeVlanId": 1,
                "trunkingNativeVlanName": "default", "trunkAllowedVlans": self.ranges(self.carried(snap, p)),
                "trunkGroups": [], "tpid": "0x8100", "tpidStatus": True}} for p in ports}})
        out = []
        for p in ports:
            out += [f"Name: {eos_short(p)}", "Switchport: Enabled", "Administrative Mode: trunk", "Operational Mode: trunk",
                    "Access Mode VLAN: 1 (default)", "Trunking Native Mode VLAN: 1 (default)",
                    "Administrative Native VLAN tagging: disabled", f"Trunking VLANs Enabled: {self.ranges(self.carried(snap, p))}", ""]
        return "\n".join(out)

    def lldp(self, snap: SwitchSnapshot, as_json: bool) -> str:
        if as_json:
            return _json({"tablesLastChangeTime": 0.0, "tablesAgeOuts": 0, "tablesInserts": len(snap.lldp), "tablesDeletes": 0,
                          "tablesDrops": 0, "lldpNeighbors": [
                              {"port": n.local_port, "neighborDevice": n.system_name, "neighborPort": _dotted(n.port_id),
                               "ttl": 120} for n in snap.lldp]})
        lines = ["Last table change time   : 0:00:05 ago", f"Number of table inserts  : {len(snap.lldp)}",
                 "Number of table deletes  : 0", "Number of table drops    : 0", "Number of table age-outs : 0", "",
                 "Port          Neighbor Device ID       Neighbor Port ID    TTL",
                 "---------- ------------------------ ---------------------- ---"]
        lines += [f"{eos_short(n.local_port):<14}{n.system_name:<25}{_dotted(n.port_id):<20}120" for n in snap.lldp]
        return "\n".join(lines) + "\n"

    def vlans(self, snap: SwitchSnapshot, as_json: bool) -> str:
        if as_json:
            return _json({"vlans": {str(v.id): {"name": v.name, "status": "active", "dynamic": False,
                                                "interfaces": {p: {"privatePromoted": False} for p in v.members}}
                                    for v in snap.vlans}})
        lines = ["VLAN  Name                             Status    Ports",
                 "----- -------------------------------- --------- -------------------------------"]
        lines += [f"{v.id:<6}{v.name:<33}{'active':<10}{', '.join(eos_short(p) for p in v.members)}".rstrip() for v in snap.vlans]
        return "\n".join(lines) + "\n"


def eos_short(name: str) -> str:
    for full, short in (("Ethernet", "Et"), ("Port-Channel", "Po")):
        if name.startswith(full):
            return short + name[len(full):]
    return name


def nxos_short(name: str) -> str:
    return "Eth" + name[len("Ethernet"):] if name.startswith("Ethernet") else name


class NxosCli(CiscoLikeCli):
    os_name = "NX-OS"
    canonical = staticmethod(nxos_names.interface_name)

    def greeting(self, snap: SwitchSnapshot) -> str:
        return ("Cisco NX-OS Software\nCopyright (c) 2002-2023, Cisco Systems, Inc. All rights reserved.\n"
                "(the sriovcheck lab's emulated Nexus)\n")

    def error(self, line: str, pos: int) -> str:
        return " " * (len(line[:pos]) + 1) + "^\n% Invalid command at '^' marker.\n"

    def terminal(self, what: str, value: str) -> str:
        return ""

    def _missing(self, name: str) -> str:
        return "                    ^\n% Invalid interface format at '^' marker.\n"

    def version(self, snap: SwitchSnapshot, as_json: bool) -> str:
        chassis = f"{snap.model} Chassis"
        if as_json:
            return _json({"header_str": "Cisco Nexus Operating System (NX-OS) Software", "bios_ver_str": "05.47",
                          "nxos_ver_str": snap.junos_version, "host_name": snap.hostname, "chassis_id": chassis,
                          "proc_board_id": "SRIOVLAB0001", "kern_uptm_days": 0, "kern_uptm_hrs": 1})
        return (f"Cisco Nexus Operating System (NX-OS) Software\n\nSoftware\n  BIOS: version 05.47\n"
                f"  NXOS: version {snap.junos_version}\n\nHardware\n  cisco {chassis}\n"
                f"  Processor Board ID SRIOVLAB0001\n\n  Device name: {snap.hostname}\n")

    def mac_table(self, snap: SwitchSnapshot, port: str | None, mac: str | None, as_json: bool) -> str:
        if port is not None and self.interface(snap, port) is None:
            return self._missing(port)
        rows = self.learned(snap, port, mac)

        def where(m: MacView) -> str:
            return "sup-eth1(R)" if m.kind == "router" else _port(m.interface)

        if as_json:
            if not rows:
                return ""  # NX-API prints nothing at all for an empty table
            return _json({"TABLE_mac_address": {"ROW_mac_address": [
                {"disp_mac_addr": _dotted(m.mac), "disp_type": "G" if m.kind == "router" else "* ", "disp_vlan": str(m.vlan_id),
                 "disp_is_static": "enabled" if m.kind == "router" else "disabled",
                 "disp_age": "-" if m.age_s is None else str(m.age_s), "disp_is_secure": "disabled", "disp_is_ntfy": "disabled",
                 "disp_port": where(m)} for m in rows]}})
        lines = ["Legend:", "        * - primary entry, G - Gateway MAC, (R) - Routed MAC, O - Overlay MAC",
                 "        age - seconds since last seen,+ - primary entry using vPC Peer-Link,",
                 "        (T) - True, (F) - False, C - ControlPlane MAC, ~ - vsan",
                 "   VLAN     MAC Address      Type      age     Secure NTFY Ports",
                 "---------+-----------------+--------+---------+------+----+------------------"]
        for m in rows:
            flag, kind = ("G", "static") if m.kind == "router" else ("*", "dynamic")
            age = "-" if m.age_s is None else str(m.age_s)
            port_name = where(m) if m.kind == "router" else nxos_short(where(m))
            lines.append(f"{flag} {m.vlan_id:<8} {_dotted(m.mac):<17} {kind:<8} {age:<9} F      F    {port_name}")
        return "\n".join(lines) + "\n"

    def arp(self, snap: SwitchSnapshot, l3: str | None, as_json: bool) -> str:
        if l3 is not None and self.interface(snap, l3) is None:
            return self._missing(l3)
        rows = [a for a in snap.arps if l3 is None or a.interface == l3]
        if as_json:
            adj = [{"intf-out": a.interface, "ip-addr-out": a.ip, "time-stamp": "00:00:05", "mac": _dotted(a.mac),
                    **({"phy-intf": p} if (p := self.port_of(snap, a)) else {})} for a in rows]
            return _json({"TABLE_vrf": {"ROW_vrf": {"vrf-name-out": "default", "cnt-total": len(rows),
                                                    **({"TABLE_adj": {"ROW_adj": adj}} if adj else {})}}})
        lines = ["", "Flags: * - Adjacencies learnt on non-active FHRP router", "       + - Adjacencies synced via CFSoE",
                 "       # - Adjacencies Throttled for Glean", "       D - Static Adjacencies attached to down interface", "",
                 "IP ARP Table for context default", f"Total number of entries: {len(rows)}",
                 "Address         Age       MAC Address     Interface       Flags"]
        lines += [f"{a.ip:<15} 00:00:05  {_dotted(a.mac)}  {a.interface}" for a in rows]
        return "\n".join(lines) + "\n"

    def interfaces(self, snap: SwitchSnapshot, name: str | None, as_json: bool) -> str:
        views = [i for i in snap.interfaces if name is None or i.name == name]
        if not views and name is not None:
            return self._missing(name)
        svis = {v.l3_interface for v in snap.vlans}

        def row(i: InterfaceView) -> dict[str, Any]:
            if i.name in svis:
                return {"interface": i.name, "svi_admin_state": "up" if i.admin_up else "down",
                        "svi_line_proto": "up" if i.link_up else "down", "svi_mac": _dotted(i.mac) if i.mac else "",
                        "svi_mtu": i.mtu, **({"svi_ip_addr": i.address_cidr.split("/")[0]} if i.address_cidr else {})}
            return {"interface": i.name, "state": "up" if i.link_up else "down", "admin_state": "up" if i.admin_up else "down",
                    "eth_hw_desc": "1000/10000/25000 Ethernet", "eth_hw_addr": _dotted(i.mac) if i.mac else "",
                    "eth_bia_addr": _dotted(i.mac) if i.mac else "", "desc": i.description or "", "eth_mtu": str(i.mtu - ETH_HLEN),
                    "eth_mode": "trunk"}

        if as_json:
            rows = [row(i) for i in views]
            return _json({"TABLE_interface": {"ROW_interface": rows[0] if len(rows) == 1 else rows}})
        out = []
        for i in views:
            mtu = i.mtu if i.name in svis else i.mtu - ETH_HLEN
            state = "up" if i.link_up else "down"
            out.append(f"{i.name} is {state}" + ("" if i.admin_up else " (Administratively down)"))
            out.append(f"admin state is {'up' if i.admin_up else 'down'},")
            if i.mac:
                out.append(f"  Hardware: 1000/10000/25000 Ethernet, address: {_dotted(i.mac)} (bia {_dotted(i.mac)})")
            out.append(f"  MTU {mtu} bytes, BW 25000000 Kbit, DLY 10 usec")
        return "\n".join(out) + "\n"

    def switchport(self, snap: SwitchSnapshot, name: str | None, as_json: bool) -> str:
        ports = [p for p in self.ports(snap) if name is None or p == name]
        if not ports and name is not None:
            return self._missing(name)
        if as_json:
            rows = [{"interface": p, "switchport": "Enabled", "switchport_monitor": "Not enabled", "oper_mode": "trunk",
                     "access_vlan": "1", "access_vlan_name": "default", "native_vlan": "1", "native_vlan_name": "default",
                     "trunk_vlans": self.ranges(self.carried(snap, p)).replace("NONE", "none")} for p in ports]
            return _json({"TABLE_interface": {"ROW_interface": rows[0] if len(rows) == 1 else rows}})
        out = []
        for p in ports:
            out += [f"Name: {p}", "  Switchport: Enabled", "  Switchport Monitor: Not enabled", "  Operational Mode: trunk",
                    "  Access Mode VLAN: 1 (default)", "  Trunking Native Mode VLAN: 1 (default)",
                    f"  Trunking VLANs Allowed: {self.ranges(self.carried(snap, p)).replace('NONE', 'none')}", ""]
        return "\n".join(out)

    def lldp(self, snap: SwitchSnapshot, as_json: bool) -> str:
        if as_json:
            rows = [{"chassis_id": n.system_name, "l_port_id": nxos_short(n.local_port), "hold_time": "120", "capability": "S",
                     "port_id": _dotted(n.port_id)} for n in snap.lldp]
            return _json({"TABLE_nbor": {"ROW_nbor": rows[0] if len(rows) == 1 else rows}, "neigh_count": len(rows)} if rows
                         else {"neigh_count": 0})
        lines = ["Capability codes:", "  (R) Router, (B) Bridge, (T) Telephone, (C) DOCSIS Cable Device",
                 "  (W) WLAN Access Point, (P) Repeater, (S) Station, (O) Other",
                 "Device ID            Local Intf      Hold-time  Capability  Port ID"]
        for n in snap.lldp:
            device = n.system_name
            if len(device) > 20:
                lines.append(device)
                device = ""
            lines.append(f"{device:<21}{nxos_short(n.local_port):<16}{'120':<11}{'S':<12}{_dotted(n.port_id)}")
        lines.append(f"Total entries displayed: {len(snap.lldp)}")
        return "\n".join(lines) + "\n"

    def vlans(self, snap: SwitchSnapshot, as_json: bool) -> str:
        if as_json:
            rows = [{"vlanshowbr-vlanid": v.id, "vlanshowbr-vlanid-utf": str(v.id), "vlanshowbr-vlanname": v.name,
                     "vlanshowbr-vlanstate": "active", "vlanshowbr-shutstate": "noshutdown",
                     **({"vlanshowplist-ifidx": ",".join(v.members)} if v.members else {})} for v in snap.vlans]
            return _json({"TABLE_vlanbriefxbrief": {"ROW_vlanbriefxbrief": rows[0] if len(rows) == 1 else rows}})
        lines = ["", "VLAN Name                             Status    Ports",
                 "---- -------------------------------- --------- -------------------------------"]
        lines += [f"{v.id:<5}{v.name:<33}{'active':<10}{', '.join(nxos_short(p) for p in v.members)}".rstrip() for v in snap.vlans]
        return "\n".join(lines) + "\n"


class LabCli(Protocol):
    """What the SSH front needs of a command line (JunosCli, EosCli, NxosCli)."""

    def execute(self, line: str) -> CliReply: ...

    def prompt(self, snap: SwitchSnapshot | None = None) -> str: ...

    def greeting(self, snap: SwitchSnapshot) -> str: ...

    def framed(self, text: str) -> str: ...

    @property
    def last_snapshot(self) -> SwitchSnapshot | None: ...


def make_cli(platform: str, source: SnapshotSource, *, username: str) -> LabCli:
    """The command line the emulated switch speaks for `platform` (switch.platform)."""
    if platform == "arista_eos":
        return EosCli(source, username=username)
    if platform == "cisco_nxos":
        return NxosCli(source, username=username)
    from sriovcheck.lab.junos.cli import JunosCli

    return JunosCli(source, username=username)
