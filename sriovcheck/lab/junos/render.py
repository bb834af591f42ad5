"""Junos operational output from a `SwitchSnapshot`: text and `| display xml`, non-ELS and ELS.

Pure functions. Column widths, header lines and XML element paths are copied from real device
outputs (/work/shared/reference/junos-samples/, see SOURCES.md there):
- non-ELS MAC table (EX2200/EX4200, Junos 12.x): kashif-nawaz samples and the juniper-vc0 header;
  XML element names from napalm's `ethernet-switching-table-information` reply;
- ELS MAC table (EX4300/QFX): ntc-templates #1 and yandex (legend with "C - Control MAC", NH Index and
  RTR ID columns, 6 trailing spaces), yandex `l2ng-l2ald-rtb-macdb` XML;
- ARP: ntc-templates (non-ELS widths), py-junos-eznc (wider ELS widths), yandex (`show arp` with the
  Name column and `arp-table-information` XML).
`show vlans`, `show interfaces` and `show version` follow Juniper's documented layouts; no real sample
of them is stored, so their XML is best effort.

Every function returns the text that Junos prints before the `{master:0}` line (ending in a newline,
or empty). Errors are returned as Junos prints them ("error: device ge-0/0/99 not found").
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from sriovcheck.lab.junos.view import (
    BACKGROUND_PORTS,
    BACKGROUND_VLAN_BASE,
    BACKGROUND_VLANS,
    ArpView,
    Background,
    InterfaceView,
    MacView,
    SwitchSnapshot,
    VlanView,
)

BANNER = "{master:0}"  # EX switches run as (one-member) virtual chassis: both styles show it
ROUTING_INSTANCE = "default-switch"

# ---------------------------------------------------------------- small helpers


def format_age(seconds: int | None) -> str:
    """Non-ELS Age column: seconds below a minute, then m:ss, then h:mm:ss ("-" when none)."""
    if seconds is None:
        return "-"
    seconds = max(0, seconds)
    if seconds < 60:
        return str(seconds)
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{sec:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}"


def xml_release(version: str) -> str:
    """The release part Junos puts into XML namespaces: 12.3R12.4 -> 12.3R12, 15.1X53-D234.2 -> 15.1X53."""
    m = re.match(r"\d+\.\d+(?:[RX]\d+)?", version)
    return m.group(0) if m else version


def natural_key(name: str) -> tuple[object, ...]:
    """Junos lists ge-0/0/2 before ge-0/0/10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name) if p)


def base_name(ifname: str) -> str:
    """Physical device of a logical name: ge-0/0/1.0 -> ge-0/0/1, "irb.200 [ge-0/0/1.0]" -> irb."""
    return ifname.split(" ", 1)[0].split(".", 1)[0]


def known_devices(snap: SwitchSnapshot) -> set[str]:
    names: set[str] = set()
    for i in snap.interfaces:
        names.add(base_name(i.name))
    for v in snap.vlans:
        names.update(v.members)
        names.add(base_name(v.l3_interface))
    if snap.background.macs or snap.background.arps:
        names.update(BACKGROUND_PORTS)
    return names


def interface_matches(filter_name: str, logical: str) -> bool:
    """`interface ge-0/0/1` matches ge-0/0/1.0; `interface ge-0/0/1.0` only that unit."""
    logical = logical.split(" ", 1)[0]
    if "." in filter_name:
        return logical == filter_name
    return base_name(logical) == filter_name


def device_not_found(name: str) -> str:
    return f"error: device {name} not found\n"


# ---------------------------------------------------------------- XML writer


@dataclass
class Node:
    tag: str
    text: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    empty: bool = False  # <none/>
    raw: Iterable[str] | None = None  # pre-rendered lines (big tables: no Node per entry)

    def add(self, tag: str, text: str | None = None, **attrs: str) -> Node:
        child = Node(tag, text, {k.replace("__", ":"): v for k, v in attrs.items()})
        self.children.append(child)
        return child


def _xml_lines(node: Node, depth: int, out: list[str]) -> None:
    pad = "    " * depth
    if node.raw is not None:
        out.extend(pad + line for line in node.raw)
        return
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in node.attrs.items())
    if node.empty:
        out.append(f"{pad}<{node.tag}{attrs}/>")
    elif node.children:
        out.append(f"{pad}<{node.tag}{attrs}>")
        for c in node.children:
            _xml_lines(c, depth + 1, out)
        out.append(f"{pad}</{node.tag}>")
    else:
        out.append(f"{pad}<{node.tag}{attrs}>{escape(node.text or '')}</{node.tag}>")


def rpc_reply(snap: SwitchSnapshot, body: Iterable[Node]) -> str:
    """Wrap like the CLI's `| display xml`: rpc-reply with the junos namespace and the cli banner."""
    root = Node("rpc-reply", attrs={"xmlns:junos": f"http://xml.juniper.net/junos/{xml_release(snap.junos_version)}/junos"})
    root.children.extend(body)
    root.add("cli").add("banner", BANNER)
    out: list[str] = []
    _xml_lines(root, 0, out)
    return "\n".join(out) + "\n"


def xml_error(snap: SwitchSnapshot, message: str) -> str:
    err = Node("rpc-error")
    err.add("error-severity", "error")
    # Junos puts the message of CLI errors on its own line inside error-message.
    err.add("error-message", f"\n{message}\n")
    return rpc_reply(snap, [err])


def _ns(snap: SwitchSnapshot, suffix: str) -> str:
    return f"http://xml.juniper.net/junos/{xml_release(snap.junos_version)}/{suffix}"


# ---------------------------------------------------------------- show ethernet-switching table


def _vlan_lookup(snap: SwitchSnapshot, vlan: str) -> VlanView | None:
    for v in snap.vlans:
        if v.name == vlan or str(v.id) == vlan:
            return v
    return None


def _select_macs(
    snap: SwitchSnapshot, interface: str | None, vlan: str | None
) -> tuple[list[VlanView], list[MacView]] | str:
    """VLANs (for flood rows) and entries a filtered table shows, or an error line."""
    vlans = sorted(snap.vlans, key=lambda v: v.name)
    macs = list(snap.macs)
    if interface is not None:
        if base_name(interface) not in known_devices(snap):
            return device_not_found(interface)
        vlans = [v for v in vlans if any(interface_matches(interface, f"{m}.0") for m in v.members)]
        macs = [m for m in macs if m.kind != "router" and interface_matches(interface, m.interface)]
    if vlan is not None:
        wanted = _vlan_lookup(snap, vlan)
        if wanted is None:
            return [], []
        vlans = [v for v in vlans if v.name == wanted.name]
        macs = [m for m in macs if m.vlan_name == wanted.name]
    return vlans, sorted(macs, key=lambda m: (m.vlan_name, m.mac))


BgMac = tuple[str, int, str, int, str]  # vlan name, vlan id, mac, age s, logical interface


_BgScope = tuple[frozenset[str] | None, int | None]  # the background ports and VLAN id a command shows (None: all)


def _background_scope(snap: SwitchSnapshot, interface: str | None, vlan: str | None) -> _BgScope | None:
    """The part of the background table a (possibly scoped) MAC table shows; None for none of it,
    without iterating, when the scope is a port or VLAN of the topology."""
    bg = snap.background
    if not bg.macs:
        return None
    ports = None
    if interface is not None:
        ports = frozenset(p for p in BACKGROUND_PORTS if interface_matches(interface, f"{p}.0"))
        if not ports:
            return None
    vid = None
    if vlan is not None:
        if _vlan_lookup(snap, vlan) is not None:
            return None
        vid = next((BACKGROUND_VLAN_BASE + k for k in range(BACKGROUND_VLANS)
                    if vlan in (bg.vlan_name(BACKGROUND_VLAN_BASE + k), str(BACKGROUND_VLAN_BASE + k))), None)
        if vid is None:
            return None
    return ports, vid


def _background_macs(snap: SwitchSnapshot, interface: str | None, vlan: str | None) -> list[BgMac]:
    """The background table's entries a (possibly scoped) MAC table shows."""
    scope = _background_scope(snap, interface, vlan)
    return [] if scope is None else list(snap.background.mac_rows(ports=scope[0], vlan_id=scope[1]))


class Rendered(str):
    """Text made of parts that each end a line: a MAC table's own rows, then the background table's block,
    which is the same object for as long as the background does not change. `| match` and `| except`
    filter part by part (the same lines as filtering the whole), and remember a big part's answer."""

    parts: tuple[str, ...]

    def __new__(cls, parts: Sequence[str]) -> Rendered:
        text = super().__new__(cls, "".join(parts))
        text.parts = tuple(parts)
        return text


@functools.lru_cache(maxsize=2)  # a 100,000-entry block is ~10 MB of text; the emulator keeps the latest two
def _background_mac_text(style: str, background: Background, scope: _BgScope) -> tuple[str, int]:
    """The background entries' text rows of a MAC table (non-ELS with a flood row per VLAN), and how many."""
    lines: list[str] = []
    count = 0
    shown = ""
    for name, _vid, mac, age, iface in background.mac_rows(ports=scope[0], vlan_id=scope[1]):
        count += 1
        if style == "non-els":
            if name != shown:
                lines.append(_nonels_row(name, "*", "Flood", "-", "All-members"))
                shown = name
            lines.append(_nonels_row(name, mac, "Learn", format_age(age), iface))
        else:
            lines.append(f"    {name:<20}{mac:<20}{'D':<5}{'-':>10}   {iface:<23}{'0':<10}{'0':<7}")
    return "".join(f"{line}\n" for line in lines), count


_NONELS_MAC_HEADER = "  VLAN              MAC address       Type         Age Interfaces"


def _nonels_row(vlan: str, mac: str, kind: str, age: str, iface: str) -> str:
    return f"  {vlan:<17} {mac:<17} {kind:<6}{age:>10} {iface}"


def _els_mac_rows(macs: Sequence[MacView]) -> list[MacView]:
    # ELS keeps the IRB/router MAC out of the bridge table.
    return [m for m in macs if m.kind != "router"]


def render_mac_table(snap: SwitchSnapshot, *, interface: str | None = None, vlan: str | None = None) -> str:
    sel = _select_macs(snap, interface, vlan)
    if isinstance(sel, str):
        return sel
    vlans, macs = sel
    scope = _background_scope(snap, interface, vlan)
    bg_text, bg_count = _background_mac_text(snap.style, snap.background, scope) if scope is not None else ("", 0)
    if snap.style == "non-els":
        lines = [f"Ethernet-switching table: {len(macs) + bg_count} unicast entries", _NONELS_MAC_HEADER]
        by_vlan: dict[str, list[MacView]] = {}
        for m in macs:
            by_vlan.setdefault(m.vlan_name, []).append(m)
        names = sorted({v.name for v in vlans} | set(by_vlan))
        flood = {v.name for v in vlans}
        for name in names:
            if name in flood:
                lines.append(_nonels_row(name, "*", "Flood", "-", "All-members"))
            for m in by_vlan.get(name, []):
                if m.kind == "learned":
                    lines.append(_nonels_row(name, m.mac, "Learn", format_age(m.age_s), m.interface))
                else:
                    lines.append(_nonels_row(name, m.mac, "Static", "-", m.interface))
        return Rendered(["\n".join(lines) + "\n", bg_text])
    rows = _els_mac_rows(macs)
    learned = sum(1 for m in rows if m.kind == "learned") + bg_count
    lines = [""]
    if interface is not None:
        lines += [f"MAC database for interface {interface}", ""]
    lines += [
        "MAC flags (S - static MAC, D - dynamic MAC, L - locally learned, P - Persistent static, C - Control MAC",
        "           SE - statistics enabled, NM - non configured MAC, R - remote PE MAC, O - ovsdb MAC)",
        "",
        "",
        f"Ethernet switching table : {len(rows) + bg_count} entries, {learned} learned",
        f"Routing instance : {ROUTING_INSTANCE}",
        "    Vlan                MAC                 MAC         Age    Logical                NH        RTR",
        "    name                address             flags              interface              Index     ID",
    ]
    for m in rows:
        flags = "D" if m.kind == "learned" else "S"
        lines.append(f"    {m.vlan_name:<20}{m.mac:<20}{flags:<5}{'-':>10}   {m.interface:<23}{'0':<10}{'0':<7}")
    return Rendered(["\n".join(lines) + "\n", bg_text])


def render_mac_table_xml(snap: SwitchSnapshot, *, interface: str | None = None, vlan: str | None = None) -> str:
    sel = _select_macs(snap, interface, vlan)
    if isinstance(sel, str):
        return xml_error(snap, sel.removeprefix("error: ").strip())
    vlans, macs = sel
    bg = _background_macs(snap, interface, vlan)
    if snap.style == "non-els":
        info = Node(
            "ethernet-switching-table-information",
            attrs={"xmlns": _ns(snap, "junos-esw"), "junos:style": "brief"},
        )
        table = info.add("ethernet-switching-table", junos__style="brief")
        table.add("mac-table-count", str(len(macs) + len(bg)))
        table.add("mac-table-learned", str(sum(1 for m in macs if m.kind == "learned") + len(bg)))
        table.add("mac-table-persistent", "0")
        by_vlan: dict[str, list[MacView]] = {}
        for m in macs:
            by_vlan.setdefault(m.vlan_name, []).append(m)
        flood = {v.name for v in vlans}
        for name in sorted(flood | set(by_vlan)):
            if name in flood:
                e = table.add("mac-table-entry", junos__style="brief")
                e.add("mac-vlan", name)
                e.add("mac-address", "*")
                e.add("mac-type", "Flood")
                e.add("mac-age", "-")
                e.add("mac-interfaces-list").add("mac-interfaces", "All-members")
            for m in by_vlan.get(name, []):
                e = table.add("mac-table-entry", junos__style="brief")
                e.add("mac-vlan", name)
                e.add("mac-address", m.mac)
                if m.kind == "learned":
                    e.add("mac-type", "Learn")
                    e.add("mac-age", format_age(m.age_s), junos__seconds=str(m.age_s or 0))
                else:
                    e.add("mac-type", "Static")
                    e.add("mac-age", "-")
                e.add("mac-interfaces-list").add("mac-interfaces", m.interface)
        if bg:
            table.children.append(Node("", raw=_nonels_xml_background(bg)))
        return rpc_reply(snap, [info])
    rows = _els_mac_rows(macs)
    if interface is not None:
        # Scoped to an interface, ELS answers with a per-interface MAC database that names the
        # interface (device and unit) before the usual group (QFX/EX 14.1X53 .. 24.x replies).
        db = Node("l2ng-l2ald-interface-macdb-vlan")
        db.add("l2ng-l2ald-macdb-if-name", base_name(interface))
        db.add("l2ng-l2ald-macdb-if-name", interface if "." in interface else f"{interface}.0")
    else:
        db = Node("l2ng-l2ald-rtb-macdb")
    group = db.add("l2ng-l2ald-mac-entry-vlan", junos__style="brief-rtb")
    group.add("mac-count-global", str(len(rows) + len(bg)))
    group.add("learnt-mac-count", str(sum(1 for m in rows if m.kind == "learned") + len(bg)))
    group.add("l2ng-l2-mac-routing-instance", ROUTING_INSTANCE)
    if rows or bg:
        # Real ELS puts every entry into one group tagged with the first entry's VLAN id.
        group.add("l2ng-l2-vlan-id", str(rows[0].vlan_id if rows else bg[0][1]))
    for m in rows:
        e = group.add("l2ng-mac-entry")
        e.add("l2ng-l2-mac-vlan-name", m.vlan_name)
        e.add("l2ng-l2-mac-address", m.mac)
        e.add("l2ng-l2-mac-flags", "D" if m.kind == "learned" else "S")
        e.add("l2ng-l2-mac-age", "-")
        e.add("l2ng-l2-mac-logical-interface", m.interface)
        e.add("l2ng-l2-mac-fwd-next-hop", "0")
        e.add("l2ng-l2-mac-rtr-id", "0")
    if bg:
        group.children.append(Node("", raw=_els_xml_background(bg)))
    return rpc_reply(snap, [db])


def _nonels_xml_background(bg: list[BgMac]) -> list[str]:
    out: list[str] = []
    shown = ""
    for name, _vid, mac, age, iface in bg:
        if name != shown:
            out.append(
                f'<mac-table-entry junos:style="brief">\n    <mac-vlan>{name}</mac-vlan>\n    <mac-address>*</mac-address>\n'
                "    <mac-type>Flood</mac-type>\n    <mac-age>-</mac-age>\n    <mac-interfaces-list>\n"
                "        <mac-interfaces>All-members</mac-interfaces>\n    </mac-interfaces-list>\n</mac-table-entry>"
            )
            shown = name
        out.append(
            f'<mac-table-entry junos:style="brief">\n    <mac-vlan>{name}</mac-vlan>\n    <mac-address>{mac}</mac-address>\n'
            f'    <mac-type>Learn</mac-type>\n    <mac-age junos:seconds="{age}">{format_age(age)}</mac-age>\n'
            f"    <mac-interfaces-list>\n        <mac-interfaces>{iface}</mac-interfaces>\n    </mac-interfaces-list>\n"
            "</mac-table-entry>"
        )
    return out


def _els_xml_background(bg: list[BgMac]) -> list[str]:
    return [
        f"<l2ng-mac-entry>\n    <l2ng-l2-mac-vlan-name>{name}</l2ng-l2-mac-vlan-name>\n"
        f"    <l2ng-l2-mac-address>{mac}</l2ng-l2-mac-address>\n    <l2ng-l2-mac-flags>D</l2ng-l2-mac-flags>\n"
        f"    <l2ng-l2-mac-age>-</l2ng-l2-mac-age>\n    <l2ng-l2-mac-logical-interface>{iface}</l2ng-l2-mac-logical-interface>\n"
        "    <l2ng-l2-mac-fwd-next-hop>0</l2ng-l2-mac-fwd-next-hop>\n    <l2ng-l2-mac-rtr-id>0</l2ng-l2-mac-rtr-id>\n"
        "</l2ng-mac-entry>"
        for name, _vid, mac, _age, iface in bg
    ]


# ---------------------------------------------------------------- show arp


def _arp_interface(snap: SwitchSnapshot, a: ArpView) -> str:
    """ELS shows the member port behind an IRB: "irb.200 [ge-0/0/1.0]"."""
    if snap.style != "els" or not a.interface.startswith("irb.") or "[" in a.interface:
        return a.interface
    vlan = next((v for v in snap.vlans if v.l3_interface == a.interface), None)
    if vlan is None:
        return a.interface
    for m in snap.macs:
        if m.vlan_name == vlan.name and m.mac == a.mac and m.kind == "learned":
            return f"{a.interface} [{m.interface}]"
    return a.interface


def _select_arps(snap: SwitchSnapshot, interface: str | None) -> list[tuple[ArpView, str]] | str:
    if interface is not None and base_name(interface) not in known_devices(snap):
        return device_not_found(interface)
    rows = [(a, _arp_interface(snap, a)) for a in snap.arps]
    if interface is not None:
        rows = [(a, i) for a, i in rows if interface_matches(interface, i)]
    bg = snap.background
    if bg.arps:
        l3 = "irb" if snap.style == "els" else "vlan"
        vids = range(BACKGROUND_VLAN_BASE, BACKGROUND_VLAN_BASE + BACKGROUND_VLANS)
        if interface is not None and not any(interface_matches(interface, f"{l3}.{vid}") for vid in vids):
            return rows  # scoped to an interface the background is not on: never touched
        for mac, ip, vid, port in bg.arp_rows():
            shown = f"{l3}.{vid} [{port}.0]" if l3 == "irb" else f"{l3}.{vid}"
            if interface is None or interface_matches(interface, shown):
                rows.append((ArpView(mac, ip, f"{l3}.{vid}"), shown))
    return rows


def render_arp(snap: SwitchSnapshot, *, interface: str | None = None, resolve: bool = False) -> str:
    sel = _select_arps(snap, interface)
    if isinstance(sel, str):
        return sel
    if resolve:  # `show arp`: the Name column holds the address when DNS has no name for it
        lines = ["MAC Address       Address         Name                      Interface               Flags"]
        lines += [f"{a.mac:<17} {a.ip:<15} {a.ip:<25} {i:<23} {a.flags}" for a, i in sel]
    elif snap.style == "non-els":
        lines = ["MAC Address       Address         Interface     Flags"]
        lines += [f"{a.mac:<17} {a.ip:<15} {i:<14} {a.flags}" for a, i in sel]
    else:
        lines = ["MAC Address       Address         Interface                Flags"]
        lines += [f"{a.mac:<17} {a.ip:<15} {i:<24} {a.flags}" for a, i in sel]
    lines.append(f"Total entries: {len(sel)}")
    return "\n".join(lines) + "\n"


def render_arp_xml(snap: SwitchSnapshot, *, interface: str | None = None, resolve: bool = False) -> str:
    sel = _select_arps(snap, interface)
    if isinstance(sel, str):
        return xml_error(snap, sel.removeprefix("error: ").strip())
    info = Node("arp-table-information", attrs={"xmlns": _ns(snap, "junos-arp"), "junos:style": "normal"})
    for a, i in sel:
        e = info.add("arp-table-entry")
        e.add("mac-address", a.mac)
        e.add("ip-address", a.ip)
        e.add("hostname", a.ip)
        e.add("interface-name", i)
        flags = e.add("arp-table-entry-flags")
        for flag in a.flags.split():
            flags.children.append(Node(flag, empty=True))
    info.add("arp-entry-count", str(len(sel)))
    return rpc_reply(snap, [info])


# ---------------------------------------------------------------- show vlans


def _iface_up(snap: SwitchSnapshot, name: str) -> bool:
    for i in snap.interfaces:
        if i.name == name:
            return i.admin_up and i.link_up
    return False


def _select_vlans(snap: SwitchSnapshot, name: str | None) -> list[VlanView]:
    vlans = sorted(snap.vlans, key=lambda v: v.name)
    if name is not None:
        vlans = [v for v in vlans if v.name == name or str(v.id) == name]
    return vlans


def render_vlans(snap: SwitchSnapshot, *, name: str | None = None) -> str:
    vlans = _select_vlans(snap, name)
    if snap.style == "non-els":
        lines = ["Name           Tag     Interfaces"]
        for v in vlans:
            lines.append(f"{v.name:<14} {v.id:<7}".rstrip())
            members = [f"{m}.0{'*' if _iface_up(snap, m) else ''}" for m in sorted(v.members, key=natural_key)]
            lines.append(" " * 23 + (", ".join(members) if members else "None"))
        return "\n".join(lines) + "\n"
    lines = ["", "Routing instance        VLAN name             Tag          Interfaces"]
    for v in vlans:
        lines.append(f"{ROUTING_INSTANCE:<24}{v.name:<22}{v.id!s:<13}".rstrip())
        for m in sorted(v.members, key=natural_key):
            lines.append(" " * 59 + f"{m}.0{'*' if _iface_up(snap, m) else ''}")
    return "\n".join(lines) + "\n"


def render_vlans_xml(snap: SwitchSnapshot, *, name: str | None = None) -> str:
    vlans = _select_vlans(snap, name)
    if snap.style == "non-els":
        info = Node("vlan-information", attrs={"xmlns": _ns(snap, "junos-esw")})
        for v in vlans:
            n = info.add("vlan")
            n.add("vlan-name", v.name)
            n.add("vlan-tag", str(v.id))
            members = n.add("vlan-detail").add("vlan-member-list")
            for m in sorted(v.members, key=natural_key):
                vm = members.add("vlan-member")
                vm.add("vlan-member-interface", f"{m}.0{'*' if _iface_up(snap, m) else ''}")
        return rpc_reply(snap, [info])
    info = Node("l2ng-l2ald-vlan-instance-information", attrs={"xmlns": _ns(snap, "junos-l2al")})
    for v in vlans:
        g = info.add("l2ng-l2ald-vlan-instance-group")
        g.add("l2ng-l2rtb-name", ROUTING_INSTANCE)
        g.add("l2ng-l2rtb-vlan-name", v.name)
        g.add("l2ng-l2rtb-vlan-tag", str(v.id))
        for m in sorted(v.members, key=natural_key):
            g.add("l2ng-l2rtb-vlan-member").add(
                "l2ng-l2rtb-vlan-member-interface", f"{m}.0{'*' if _iface_up(snap, m) else ''}"
            )
    return rpc_reply(snap, [info])


# ---------------------------------------------------------------- show interfaces


@dataclass(frozen=True)
class _Logical:
    name: str
    admin_up: bool
    link_up: bool
    proto: str | None  # eth-switch / inet
    address: str | None


@dataclass(frozen=True)
class _Physical:
    name: str
    admin_up: bool
    link_up: bool
    mtu: int
    mac: str | None
    description: str | None
    units: tuple[_Logical, ...]


def _device_table(snap: SwitchSnapshot) -> dict[str, _Physical]:
    """Physical devices with their logical units: member ports get unit 0 (eth-switch), VLAN
    gateways appear as units of the vlan/irb device, explicit logical views keep their address."""
    phys: dict[str, InterfaceView] = {i.name: i for i in snap.interfaces if "." not in i.name}
    units: dict[str, list[_Logical]] = {}
    members = {m for v in snap.vlans for m in v.members}
    for name in members:
        p = phys.get(name)
        up = p is None or (p.admin_up and p.link_up)
        units.setdefault(name, []).append(_Logical(f"{name}.0", True, up, "eth-switch", None))
    seen = set()
    for v in snap.vlans:
        seen.add(v.l3_interface)
        view = next((i for i in snap.interfaces if i.name == v.l3_interface), None)
        admin = view.admin_up if view else True
        link = view.link_up if view else v.l3_up
        units.setdefault(base_name(v.l3_interface), []).append(
            _Logical(v.l3_interface, admin, link, "inet", (view.address_cidr if view else None) or v.gateway_cidr)
        )
    for i in snap.interfaces:
        if "." in i.name and i.name not in seen:
            proto = "inet" if i.address_cidr else None
            units.setdefault(base_name(i.name), []).append(
                _Logical(i.name, i.admin_up, i.link_up, proto, i.address_cidr)
            )
    table: dict[str, _Physical] = {}
    for name in set(phys) | set(units):
        p = phys.get(name)
        lus = tuple(sorted(units.get(name, []), key=lambda u: natural_key(u.name)))
        if p is not None:
            table[name] = _Physical(name, p.admin_up, p.link_up, p.mtu, p.mac, p.description, lus)
        else:  # vlan / irb: always up, MTU of a routed device
            table[name] = _Physical(name, True, True, 1514, snap.router_mac, None, lus)
    return dict(sorted(table.items(), key=lambda kv: natural_key(kv[0])))


def _updown(flag: bool) -> str:
    return "up" if flag else "down"


def _select_devices(snap: SwitchSnapshot, name: str | None) -> list[tuple[_Physical, list[_Logical]]] | str:
    table = _device_table(snap)
    if name is None:
        return [(p, list(p.units)) for p in table.values()]
    p = table.get(base_name(name))
    if p is None:
        return device_not_found(name)
    if "." in name:
        units = [u for u in p.units if u.name == name]
        if not units:
            return device_not_found(name)
        return [(p, units)]
    return [(p, list(p.units))]


def render_interfaces_terse(snap: SwitchSnapshot, *, name: str | None = None) -> str:
    sel = _select_devices(snap, name)
    if isinstance(sel, str):
        return sel
    lines = ["Interface               Admin Link Proto    Local                 Remote"]
    for p, units in sel:
        if name is None or "." not in name:
            lines.append(f"{p.name:<24}{_updown(p.admin_up):<6}{_updown(p.link_up)}")
        for u in units:
            row = f"{u.name:<24}{_updown(u.admin_up):<6}{_updown(u.link_up):<5}"
            if u.proto:
                row += f"{u.proto:<9}{u.address or ''}"
            lines.append(row.rstrip())
    return "\n".join(lines) + "\n"


def render_interfaces_terse_xml(snap: SwitchSnapshot, *, name: str | None = None) -> str:
    sel = _select_devices(snap, name)
    if isinstance(sel, str):
        return xml_error(snap, sel.removeprefix("error: ").strip())
    info = Node("interface-information", attrs={"xmlns": _ns(snap, "junos-interface"), "junos:style": "terse"})

    # Junos wraps the values of interface XML in newlines: <name>\nge-0/0/1\n</name>.
    def nl(value: str) -> str:
        return f"\n{value}\n"

    for p, units in sel:
        pn = info.add("physical-interface")
        pn.add("name", nl(p.name))
        pn.add("admin-status", nl(_updown(p.admin_up)))
        pn.add("oper-status", nl(_updown(p.link_up)))
        for u in units:
            ln = pn.add("logical-interface")
            ln.add("name", nl(u.name))
            ln.add("admin-status", nl(_updown(u.admin_up)))
            ln.add("oper-status", nl(_updown(u.link_up)))
            if u.proto:
                af = ln.add("address-family")
                af.add("address-family-name", nl(u.proto))
                if u.address:
                    af.add("interface-address").add("ifa-local", nl(u.address))
    return rpc_reply(snap, [info])


def _logical_detail(u: _Logical, index: int) -> list[str]:
    lines = [
        f"  Logical interface {u.name} (Index {index}) (SNMP ifIndex {index + 440})",
        "    Flags: SNMP-Traps 0x0 Encapsulation: ENET2",
        "    Input packets : 0",
        "    Output packets: 0",
    ]
    if u.proto == "eth-switch":
        lines += ["    Protocol eth-switch", "      Flags: None"]
    elif u.proto == "inet" and u.address:
        net = ipaddress.ip_interface(u.address)
        lines += [
            "    Protocol inet, MTU: 1500",
            "      Flags: Sendbcast-pkt-to-re",
            "      Addresses, Flags: Is-Preferred Is-Primary",
            f"        Destination: {net.network}, Local: {net.ip}, Broadcast: {net.network.broadcast_address}",
        ]
    return lines


def render_interface_detail(snap: SwitchSnapshot, *, name: str | None = None) -> str:
    sel = _select_devices(snap, name)
    if isinstance(sel, str):
        return sel
    blocks: list[str] = []
    for n, (p, units) in enumerate(sel):
        index = 128 + n
        if name is not None and "." in name:
            blocks.append("\n".join(_logical_detail(units[0], 64 + n)))
            continue
        state = "Enabled" if p.admin_up else "Administratively down"
        lines = [f"Physical interface: {p.name}, {state}, Physical link is {'Up' if p.link_up else 'Down'}"]
        lines.append(f"  Interface index: {index}, SNMP ifIndex: {index + 373}")
        if p.description:
            lines.append(f"  Description: {p.description}")
        lines += [
            f"  Link-level type: Ethernet, MTU: {p.mtu}, Speed: Auto, Duplex: Auto, BPDU Error: None,"
            " MAC-REWRITE Error: None, Loopback: Disabled, Source filtering: Disabled, Flow control: Enabled,"
            " Auto-negotiation: Enabled, Remote fault: Online",
            "  Device flags   : Present Running" if p.link_up else "  Device flags   : Present Running Down",
            "  Interface flags: SNMP-Traps Internal: 0x0",
            "  Link flags     : None",
        ]
        if p.mac:
            lines.append(f"  Current address: {p.mac}, Hardware address: {p.mac}")
        lines += ["  Last flapped   : Never", "  Input rate     : 0 bps (0 pps)", "  Output rate    : 0 bps (0 pps)"]
        for k, u in enumerate(units):
            lines.append("")
            lines += _logical_detail(u, 64 + 8 * n + k)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def render_interface_detail_xml(snap: SwitchSnapshot, *, name: str | None = None) -> str:
    """`show interfaces [IF] | display xml` (normal style): the physical-interface elements that real
    replies carry for state, MTU and addresses, and the logical units by name and state."""
    sel = _select_devices(snap, name)
    if isinstance(sel, str):
        return xml_error(snap, sel.removeprefix("error: ").strip())
    info = Node("interface-information", attrs={"xmlns": _ns(snap, "junos-interface"), "junos:style": "normal"})
    for n, (p, units) in enumerate(sel):
        pn = info.add("physical-interface")
        pn.add("name", p.name)
        pn.add("admin-status", _updown(p.admin_up), junos__format="Enabled" if p.admin_up else "Disabled")
        pn.add("oper-status", _updown(p.link_up))
        pn.add("local-index", str(128 + n))
        pn.add("snmp-index", str(501 + n))
        if p.description:
            pn.add("description", p.description)
        pn.add("if-type", "Ethernet")
        pn.add("link-level-type", "Ethernet")
        pn.add("mtu", str(p.mtu))
        if p.mac:
            pn.add("current-physical-address", p.mac, junos__format=f"MAC {p.mac}")
            pn.add("hardware-physical-address", p.mac, junos__format=f"MAC {p.mac}")
        pn.add("interface-flapped", "Never", junos__seconds="0")
        for u in units:
            ln = pn.add("logical-interface")
            ln.add("name", u.name)
            if u.proto:
                af = ln.add("address-family")
                af.add("address-family-name", u.proto)
                if u.address:
                    net = ipaddress.ip_interface(u.address)
                    ia = af.add("interface-address")
                    ia.add("ifa-destination", str(net.network))
                    ia.add("ifa-local", str(net.ip))
    return rpc_reply(snap, [info])


# ---------------------------------------------------------------- show version


def _packages(snap: SwitchSnapshot) -> list[str]:
    v = snap.junos_version
    if snap.style == "non-els":
        names = ["Base OS boot", "Base OS Software Suite", "Kernel Software Suite", "Crypto Software Suite",
                 "Online Documentation", "Enterprise Software Suite",
                 "Packet Forwarding Engine Enterprise Software Suite", "Routing Software Suite",
                 "Web Management", "FIPS mode utilities"]  # fmt: skip
        return [f"JUNOS {n} [{v}]" for n in names]
    return [f"JUNOS EX  Software Suite [{v}]", f"JUNOS Online Documentation [{v}]",
            f"JUNOS Routing Software Suite [{v}]", f"JUNOS Web Management Platform Package [{v}]"]  # fmt: skip


def render_version(snap: SwitchSnapshot) -> str:
    lines = ["fpc0:", "-" * 74, f"Hostname: {snap.hostname}", f"Model: {snap.model}"]
    if snap.style == "els":
        lines.append(f"Junos: {snap.junos_version}")
    lines += _packages(snap)
    return "\n".join(lines) + "\n"


def render_version_xml(snap: SwitchSnapshot) -> str:
    results = Node("multi-routing-engine-results")
    item = results.add("multi-routing-engine-item")
    item.add("re-name", "fpc0")
    sw = item.add("software-information")
    sw.add("host-name", snap.hostname)
    sw.add("product-model", snap.model)
    sw.add("product-name", snap.model)
    if snap.style == "els":
        sw.add("junos-version", snap.junos_version)
    for comment in _packages(snap):
        pkg = sw.add("package-information")
        pkg.add("name", "-".join(comment.split(" [", 1)[0].removeprefix("JUNOS ").lower().split()))
        pkg.add("comment", comment)
    return rpc_reply(snap, [results])


# ---------------------------------------------------------------- show ethernet-switching interfaces, lldp
# Layouts follow Juniper's documentation and public device captures (no sample of our own is stored):
# non-ELS prints one row per (port, VLAN); ELS a row per logical interface (flags: DN = down) followed
# by its VLAN members with their STP state. A port whose every VLAN was removed is not listed.


def _port_vlans(snap: SwitchSnapshot, interface: str | None = None) -> list[tuple[str, list[VlanView]]]:
    ports: dict[str, list[VlanView]] = {}
    for v in sorted(snap.vlans, key=lambda v: v.name):
        for m in v.members:
            if interface is None or interface_matches(interface, f"{m}.0"):
                ports.setdefault(m, []).append(v)
    return sorted(ports.items(), key=lambda kv: natural_key(kv[0]))


def _unknown_interface(snap: SwitchSnapshot, interface: str | None) -> str | None:
    if interface is not None and base_name(interface) not in known_devices(snap):
        return device_not_found(interface)
    return None


_ELS_MAC_LIMIT = "294912"


def render_switching_interfaces(snap: SwitchSnapshot, *, interface: str | None = None) -> str:
    err = _unknown_interface(snap, interface)
    if err:
        return err
    if snap.style == "non-els":
        lines = ["Interface    State  VLAN members        Tag   Tagging  Blocking"]
        for port, vlans in _port_vlans(snap, interface):
            state = _updown(_iface_up(snap, port))
            for k, v in enumerate(vlans):
                head = f"{port + '.0':<13}{state:<7}" if k == 0 else " " * 20
                lines.append(f"{head}{v.name:<20}{v.id!s:<6}{'tagged':<9}unblocked")
        return "\n".join(lines) + "\n"
    lines = [
        f"Routing Instance Name : {ROUTING_INSTANCE}",
        "Logical Interface flags (DL - disable learning, AD - packet action drop,",
        "                         LH - MAC limit hit, DN - interface down,",
        "                         MMAS - Mac-move action shutdown, AS - Autostate-exclude enabled,",
        "                         SCTL - shutdown by Storm-control, MI - MAC+IP limit hit)",
        "",
        "Logical         Vlan          TAG     MAC         MAC+IP      STP         Logical           Tagging",
        "interface       members               limit       limit       state       interface flags",
    ]
    for port, vlans in _port_vlans(snap, interface):
        up = _iface_up(snap, port)
        lines.append(f"{port + '.0':<38}{_ELS_MAC_LIMIT:<12}{'0':<12}{'':<12}{'' if up else 'DN':<18}tagged")
        for v in vlans:
            stp = "Forwarding" if up else "Discarding"
            lines.append(f"{'':<16}{v.name:<14}{v.id!s:<8}{_ELS_MAC_LIMIT:<12}{'0':<12}{stp:<12}{'':<18}tagged")
    return "\n".join(lines) + "\n"


def render_switching_interfaces_xml(snap: SwitchSnapshot, *, interface: str | None = None) -> str:
    err = _unknown_interface(snap, interface)
    if err:
        return xml_error(snap, err.removeprefix("error: ").strip())
    if snap.style == "non-els":
        info = Node("switching-interface-information",
                    attrs={"xmlns": _ns(snap, "junos-esw"), "junos:style": "brief"})
        for port, vlans in _port_vlans(snap, interface):
            n = info.add("interface", junos__style="brief")
            n.add("interface-name", f"{port}.0")
            n.add("interface-state", _updown(_iface_up(snap, port)))
            members = n.add("interface-vlan-member-list")
            for v in vlans:
                m = members.add("interface-vlan-member")
                m.add("interface-vlan-name", v.name)
                m.add("interface-vlan-member-tagid", str(v.id))
                m.add("interface-vlan-member-tagness", "tagged")
                m.add("blocking-status", "unblocked", junos__emit="emit")
        return rpc_reply(snap, [info])
    info = Node("l2ng-l2ald-iff-interface-information", attrs={"xmlns": _ns(snap, "junos-l2al")})
    outer = info.add("l2ng-l2ald-iff-interface-entry", junos__style="brief")
    outer.add("l2iff-interface-lr-name", "")
    outer.add("l2iff-interface-rtt-name", ROUTING_INSTANCE)
    for port, vlans in _port_vlans(snap, interface):
        up = _iface_up(snap, port)
        e = outer.add("l2ng-l2ald-iff-interface-entry", junos__style="brief")
        e.add("l2iff-interface-name", f"{port}.0")
        e.children.append(Node("l2iff-interface-vlan-name", empty=True))
        e.add("l2iff-interface-mac-limit", _ELS_MAC_LIMIT)
        e.add("l2iff-interface-mac-ip-limit", "0")
        e.children.append(Node("l2iff-interface-vlan-member-stp-state", empty=True))
        e.add("l2iff-interface-flags", "" if up else "DN")
        e.add("l2iff-interface-vlan-member-tagness", "tagged")
        for v in vlans:
            m = outer.add("l2ng-l2ald-iff-interface-entry", junos__style="brief")
            m.children.append(Node("l2iff-interface-name", empty=True))
            m.add("l2iff-interface-vlan-name", v.name)
            m.add("l2iff-interface-vlan-id", str(v.id))
            m.add("l2iff-interface-vlan-member-tagness", "tagged")
            m.add("l2iff-interface-mac-limit", _ELS_MAC_LIMIT)
            m.add("l2iff-interface-mac-ip-limit", "0")
            m.add("l2iff-interface-vlan-member-stp-state", "Forwarding" if up else "Discarding")
            m.add("l2iff-interface-flags", "")
    return rpc_reply(snap, [info])


def _lldp_local(snap: SwitchSnapshot, port: str) -> str:
    # Non-ELS EX ties LLDP to the ethernet-switching unit and names it so; ELS names the port.
    return f"{port}.0" if snap.style == "non-els" else port


def render_lldp_neighbors(snap: SwitchSnapshot) -> str:
    """Junos prints nothing at all when no neighbour is known."""
    if not snap.lldp:
        return ""
    lines = ["Local Interface    Parent Interface    Chassis Id          Port info          System Name"]
    for n in sorted(snap.lldp, key=lambda n: natural_key(n.local_port)):
        cells = (_lldp_local(snap, n.local_port), n.parent_interface or "-", n.chassis_id,
                 n.port_description or n.port_id)
        # A value wider than its column pushes the rest right, with one space between.
        row = "".join(f"{c:<{w - 1}} " for c, w in zip(cells, (19, 20, 20, 19), strict=True))
        lines.append(row + n.system_name)
    return "\n".join(lines) + "\n"


def render_lldp_neighbors_xml(snap: SwitchSnapshot) -> str:
    info = Node("lldp-neighbors-information", attrs={"junos:style": "brief"})
    for n in sorted(snap.lldp, key=lambda n: natural_key(n.local_port)):
        e = info.add("lldp-neighbor-information")
        # Older (non-ELS) releases call the local side lldp-local-interface, ELS lldp-local-port-id.
        e.add("lldp-local-port-id" if snap.style == "els" else "lldp-local-interface", _lldp_local(snap, n.local_port))
        e.add("lldp-local-parent-interface-name", n.parent_interface or "-")
        e.add("lldp-remote-chassis-id-subtype", "Mac address")
        e.add("lldp-remote-chassis-id", n.chassis_id)
        e.add("lldp-remote-port-id-subtype", "Mac address")
        e.add("lldp-remote-port-id", n.port_id)
        if n.port_description:
            e.add("lldp-remote-port-description", n.port_description)
        e.add("lldp-remote-system-name", n.system_name)
    return rpc_reply(snap, [info])
