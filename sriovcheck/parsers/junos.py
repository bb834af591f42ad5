"""Junos MAC table, ARP table and `show version` parsers: pure functions, no I/O.

Each parser accepts every form a real switch (or a copy pasted from one) produces, Junos 12.3 to 24.x:
non-ELS text (older EX: VLAN / MAC address / Type / Age / Interfaces), ELS text (EX4300/EX4400/QFX:
Vlan name / MAC address / MAC flags / [Age] / [GBP Tag] / Logical interface / NH Index / RTR ID, or
the EVPN SVLBNH / Active source columns), and `| display xml` of either (with or without the
<rpc-reply> wrapper and namespaces). The form is detected from the text itself. The whole table or a
scoped one (`interface X`, `vlan-name V`, `vlan-id N`, `instance I`, `show arp interface X`, `vpn V`).

Structure, not known shapes: ELS tables are read by the columns their header rows name and place, so
a column a release adds is skipped and a blank cell (no GBP tag, no logical interface) is told from a
filled one; a `MAC flags (...)` legend may run over any number of lines; each `Routing instance :`
line names the instance of the rows after it. In XML, MAC and ARP entries are found by the element
names of entries (<mac-table-entry>, <l2ng-mac-entry>, an extensive <l2ng-l2ald-mac-entry-vlan>,
<arp-table-entry>) wherever the reply puts them: under the whole-table element or the per-interface
MAC database of `interface X`.

Tolerated around the table: `{master:0}`-style context lines, echoed prompts and commands, Virtual
Chassis member headings (`fpc0:` and its dashes), CRLF, tabs, markdown indentation, `| match` /
`| grep` excerpts without a header, and the <output> element in which an RPC returns plain text.
Anything else that is not a table (the `extensive` text form included) raises ParseError naming the
line, so that garbage or a truncated reply is never mistaken for an empty table. An empty table
returns [].
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from sriovcheck.parsers.tables import (
    ArpEntry,
    InterfaceInfo,
    LldpNeighbor,
    MacEntry,
    ParseError,
    PortVlan,
    VersionInfo,
)
from sriovcheck.topology.names import normalise_mac

__all__ = [
    "ArpEntry", "InterfaceInfo", "LldpNeighbor", "MacEntry", "ParseError", "PortVlan", "VersionInfo",
    "parse_arp_table", "parse_interface", "parse_interfaces", "parse_lldp_neighbors", "parse_mac_table",
    "parse_switching_interfaces", "parse_version",
]


# --- shared text handling ----------------------------------------------------------------------

_CONTEXT = re.compile(r"^(?:\{[\w:.-]+\}|\[edit[^\]]*\])$")  # {master:0}, {backup}, [edit]
_PROMPT = re.compile(r"^[\w.-]+@[\w.-]+[>#%]")  # netops@ex-switch> show ...
_ECHO = re.compile(r"^show\s")  # a command line echoed without its prompt
_SEPARATOR = re.compile(r"^(?:-{3,}|={3,}|\w+\d+:)$")  # "fpc0:" and "-----" of multi-member output
_SWITCH_ERROR = re.compile(r"^(?:error:|syntax error|unknown command|invalid |\^$)", re.IGNORECASE)
_AGE = re.compile(r"^(?:-|\d+(?::\d{1,2}){0,2})$")
_MAC_OR_STAR = re.compile(r"^(?:\*|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})$")
_IFNAME = re.compile(r"^[A-Za-z][\w.:/-]*$")
# An ARP-table interface: letters, optional FPC/PIC/port and channel, then the unit.
_L3_IFNAME = re.compile(r"^[a-z][a-z0-9-]*?(?:-?\d+/\d+/\d+(?::\d+)?|\d*)\.\d+$")
_ELS_FLAGS = re.compile(r"^[A-Z][A-Z,]*$")
_ELS_FLAG_TOKENS = re.compile(r"SE|NM|[A-Z]")
_ARP_FLAG = re.compile(r"^[a-z][a-z_-]*$")

_NON_ELS_KINDS = {
    "learn": "learned",
    "dynamic": "learned",
    "persistent": "learned",  # learned, then kept across reboots (persistent-learning)
    "flood": "flood",
    "static": "static",
    "router": "router",
}


def _shown(line: str) -> str:
    return repr(line if len(line) <= 100 else line[:97] + "...")


def _lines(text: str) -> list[str]:
    # splitlines() also splits on CR alone; tabs count as whitespace in every split() below.
    return [line.strip() for line in text.splitlines()]


def _lines_raw(text: str) -> list[str]:
    """Lines with their indentation (column positions matter), without trailing whitespace."""
    return [line.rstrip() for line in text.splitlines()]


def _is_noise(line: str) -> bool:
    return (
        not line
        or bool(_CONTEXT.match(line))
        or bool(_PROMPT.match(line))
        or bool(_ECHO.match(line))
        or bool(_SEPARATOR.match(line))
        or line.lower().startswith("warning:")
    )


def _check_switch_error(line: str, what: str) -> None:
    if _SWITCH_ERROR.match(line):
        raise ParseError(f"the switch answered with an error instead of {what}: {_shown(line)}")


def _age_seconds(value: str | None) -> int | None:
    """Junos ages: '-' (none), '54' (seconds), '4:05' (m:ss), '1:02:03' (h:mm:ss)."""
    if value is None:
        return None
    value = value.strip()
    if not value or value == "-":
        return None
    if not _AGE.match(value):
        raise ParseError(f"expected an age such as 54, 4:05 or -, got {_shown(value)}")
    seconds = 0
    for part in value.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _mac_or_none(value: str, where: str) -> str | None:
    if value == "*":
        return None
    mac = normalise_mac(value)
    if mac is None:
        raise ParseError(f"expected a MAC address in {where}, got {_shown(value)}")
    return mac


def _xml_start(lines: list[str]) -> int | None:
    """Index of the first line of an XML document, if the text is one (after leading noise)."""
    for i, line in enumerate(lines):
        if _is_noise(line):
            continue
        return i if line.startswith("<") else None
    return None


def _parse_xml(lines: list[str], start: int, what: str) -> ET.Element:
    # Drop what follows the document: the `{master:0}` context line and the trailing prompt
    # (whose '>' must not be taken for the end of the document).
    stop = len(lines)
    while stop > start + 1 and _is_noise(lines[stop - 1]):
        stop -= 1
    body = "\n".join(lines[start:stop])
    body = body[: body.rfind(">") + 1]
    try:
        return ET.fromstring(body)  # noqa: S314 -- switch output, parsed without entity expansion
    except ET.ParseError as exc:
        if "unbound prefix" in str(exc):
            # A fragment cut out of an <rpc-reply> keeps `junos:style` without the xmlns:junos.
            try:
                return ET.fromstring(re.sub(r"(\s)[A-Za-z_][\w.-]*:([\w.-]+=)", r"\1\2", body))  # noqa: S314
            except ET.ParseError:
                pass
        raise ParseError(f"expected {what} as XML but it is malformed or truncated: {exc}") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem: ET.Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for child in elem:
        if _local(child.tag) == name:
            return child
    return None


def _iter_local(root: ET.Element, names: set[str]) -> Iterator[ET.Element]:
    for elem in root.iter():
        if _local(elem.tag) in names:
            yield elem


def _xml_errors(root: ET.Element, what: str) -> None:
    for elem in _iter_local(root, {"xnm-error", "rpc-error", "error"}):
        message = " ".join(t.strip() for t in elem.itertext() if t.strip())
        raise ParseError(f"the switch answered with an error instead of {what}: {_shown(message)}")


def _output_text(root: ET.Element) -> str | None:
    """Plain text that an RPC returned inside <output> (e.g. `command` RPC for show arp)."""
    for elem in _iter_local(root, {"output"}):
        return "".join(elem.itertext())
    return None


def _optional_int(value: str | None, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ParseError(f"expected a number in {where}, got {_shown(value)}") from exc


# --- MAC table ---------------------------------------------------------------------------------
# Text: non-ELS rows (VLAN, MAC, Type, Age, Interfaces) are read by their tokens. ELS tables are read
# by their header: the two header rows name the columns ("Vlan/name", "MAC/address", "MAC/flags",
# "Age", "GBP/Tag", "Logical/interface", "NH/Index", "MAC/property", "RTR/ID", "SVLBNH//VENH Index",
# "Active/source"; each release adds or drops some) and where they are, so that a blank cell (no GBP
# tag, no logical interface of a control MAC, no age in EVPN tables) is told from a filled one.
# The "MAC flags (...)" legend may run over any number of lines. XML: entries are found by their own
# element names (<mac-table-entry>, <l2ng-mac-entry>, an extensive <l2ng-l2ald-mac-entry-vlan>),
# wherever the reply puts them (whole table, `interface X`'s per-interface MAC database, per VLAN).

_MAC_WHAT = (
    "a Junos MAC table (`show ethernet-switching table`: non-ELS 'VLAN  MAC address  Type  Age  "
    "Interfaces' rows, ELS 'Vlan name  MAC address  MAC flags  Age  Logical interface' rows, or "
    "| display xml)"
)
_MAC_INFO = re.compile(
    r"^(?:Ethernet[- ]switching table\s*:|MAC database for|VLAN\s+MAC address\s+Type|"
    r"Bridging domain\s*:|Logical system\s*:)",
    re.IGNORECASE,
)
_ROUTING_INSTANCE_LINE = re.compile(r"^Routing instance\s*:\s*(\S*)", re.IGNORECASE)
_MAC_LEGEND = re.compile(r"^MAC (?:IP )?flags\s*\(", re.IGNORECASE)
# A legend continuation line: "SE - statistics enabled, NM - ...", "GBP - group based policy, B - ..."
_LEGEND_LINE = re.compile(r"^\(?[A-Za-z][A-Za-z0-9]{0,3}\)?[A-Za-z0-9]{0,3}\s+-\s*\S")
_ELS_HEADER = re.compile(r"^Vlan\s+MAC\b", re.IGNORECASE)
_ELS_HEADER2 = re.compile(r"^name\s+address\b", re.IGNORECASE)
_DIGITS = re.compile(r"^\d+$")
_GBP = re.compile(r"^(?:\d+|-)$")
_ANY = re.compile(r"^\S+$")
_COLUMN_KEYS = {"age": "age", "gbp": "gbp", "logical": "interface", "nh": "nh", "rtr": "rtr",
                "svlbnh/": "svlbnh", "svlbnh": "svlbnh", "active": "source"}
_COLUMN_TYPES: dict[str, re.Pattern[str]] = {
    "mac": _MAC_OR_STAR, "flags": _ELS_FLAGS, "age": _AGE, "gbp": _GBP, "interface": _IFNAME,
    "nh": _DIGITS, "rtr": _DIGITS, "svlbnh": _DIGITS, "property": _ANY, "source": _ANY, "other": _ANY,
}


_LEFT_ALIGNED = {"mac", "flags", "interface"}  # values that start where their header word starts


@dataclass(frozen=True)
class _Column:
    key: str
    start: int
    end: int


def _words(line: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", line)]


def _overlap_gap(s: int, e: int, cs: int, ce: int) -> int:
    """How far [s, e) is from [cs, ce): negative = the width they overlap, else the gap between them."""
    inner = min(e, ce) - max(s, cs)
    return -inner if inner > 0 else max(cs - e, s - ce, 0)


@dataclass
class _Span:
    start: int
    end: int
    word: str
    below: str = ""


def _els_columns(header: str, second: str | None) -> list[_Column]:
    """Columns of an ELS MAC table from its header row(s) (tabs expanded)."""
    spans = [_Span(s, e, w.lower()) for s, e, w in _words(header)]
    for s, e, w in _words(second or ""):
        # a second-row word belongs to the first-row column it overlaps, else the nearest one left
        best = min(range(len(spans)), key=lambda i: (_overlap_gap(s, e, spans[i].start, spans[i].end), i))
        if _overlap_gap(s, e, spans[best].start, spans[best].end) >= 0:
            left = [i for i, sp in enumerate(spans) if sp.start <= s]
            best = left[-1] if left else 0
        sp = spans[best]
        sp.start, sp.end, sp.below = min(s, sp.start), max(e, sp.end), (sp.below + " " + w.lower()).strip()
    columns: list[_Column] = []
    macs = 0
    for i, sp in enumerate(spans):
        if i == 0:
            key = "vlan"
        elif sp.word == "mac":
            macs += 1
            key = {"address": "mac", "flags": "flags", "property": "property"}.get(
                sp.below.split(" ")[0], ("mac", "flags", "property")[min(macs, 3) - 1])
        else:
            key = _COLUMN_KEYS.get(sp.word, "other")
        columns.append(_Column(key, sp.start, sp.end))
    return columns


def _els_kind(flags: str) -> str:
    tokens = set(_ELS_FLAG_TOKENS.findall(flags))
    if "S" in tokens or "P" in tokens:
        return "static"
    if "D" in tokens:
        return "learned"  # D = dynamic; L (local) / R (remote PE) only say where from
    if "C" in tokens:
        return "control"
    return "other"


def _non_els_kind(raw: str, interface: str) -> str:
    # On non-ELS EX the VLAN interface's own MAC is listed as Type "Static", Interfaces "Router".
    if interface == "Router" or "router" in raw.lower():
        return "router"
    return _NON_ELS_KINDS.get(raw.split()[0].lower(), "other")


def _mac_text_row(tokens: list[str]) -> MacEntry | None:
    """One row of either text format without a header to go by, or None when the tokens are not
    a MAC table row."""
    if len(tokens) < 4 or not _MAC_OR_STAR.match(tokens[1]):
        return None
    vlan, mac_text, third = tokens[0], tokens[1], tokens[2]
    if third.lower() in _NON_ELS_KINDS:
        # non-ELS: VLAN, MAC, Type (possibly "Static - Router"), Age, Interfaces
        if len(tokens) < 5 or not _AGE.match(tokens[-2]) or not _IFNAME.match(tokens[-1]):
            return None
        raw, interface = " ".join(tokens[2:-2]), tokens[-1]
        mac = _mac_or_none(mac_text, f"MAC table row for VLAN {vlan}")
        kind = "flood" if mac is None else _non_els_kind(raw, interface)
        return MacEntry(vlan, None, mac, kind, raw, _age_seconds(tokens[-2]), interface)
    if _ELS_FLAGS.match(third) and mac_text != "*":
        # ELS: Vlan, MAC, flags, [Age], Logical interface, then NH/RTR or the EVPN active source
        rest = tokens[3:]
        age: str | None = None
        if _AGE.match(rest[0]):
            if len(rest) < 2:
                return None
            age, rest = rest[0], rest[1:]
        if not _IFNAME.match(rest[0]):
            return None
        mac = _mac_or_none(mac_text, f"MAC table row for VLAN {vlan}")
        return MacEntry(vlan, None, mac, _els_kind(third), third, _age_seconds(age), rest[0])
    return None


def _assign_els_cells(columns: list[_Column], row: str) -> dict[str, str] | None:
    """The cells of an ELS row by column key, or None when the row does not fit the columns."""
    words = _words(row)
    if len(words) < 3:
        return None
    if len(words) > len(columns) or columns[1].key != "mac" or columns[2].key != "flags":
        return None
    # Some cells are blank: vlan, MAC and flags always come first; each further value goes to a
    # later column whose form it has, the one under which it stands when several would take it.
    # Rows are aligned with the header by their first column (a copy may indent them differently),
    # then again by each left-aligned value that starts a column: a VLAN name longer than its column
    # pushes the rest of the row to the right.
    shift = words[0][0] - columns[0].start
    cells = {"vlan": words[0][2]}
    ci = 1
    for wi, (s_raw, e_raw, w) in enumerate(words[1:], start=1):
        s, e = s_raw - shift, e_raw - shift
        fits = [i for i in range(ci, len(columns)) if _COLUMN_TYPES[columns[i].key].match(w)]
        # leave room for the words still to come: each needs a column after this one
        fits = [i for i in fits if len(columns) - i >= len(words) - wi]
        if wi <= 2:
            fits = [ci] if ci in fits else []
        if not fits:
            return None
        choice = fits[0]
        if len(fits) > 1:
            # the first column that takes the value, unless it stands under a later one
            gaps = {i: _overlap_gap(s, e, columns[i].start, columns[i].end) for i in fits}
            best = min(fits, key=lambda i: (gaps[i], i))
            if gaps[best] < gaps[choice] and gaps[best] <= 0:
                choice = best
        cells[columns[choice].key] = w
        if columns[choice].key in _LEFT_ALIGNED:
            shift = s_raw - columns[choice].start
        ci = choice + 1
    return cells


def _els_entry(cells: dict[str, str], instance: str | None) -> MacEntry:
    vlan, flags = cells["vlan"], cells["flags"]
    mac = _mac_or_none(cells["mac"], f"MAC table row for VLAN {vlan}")
    kind = "flood" if mac is None else _els_kind(flags)
    return MacEntry(vlan, None, mac, kind, flags, _age_seconds(cells.get("age")), cells.get("interface", ""),
                    instance)


def _parse_mac_text(lines: list[str]) -> list[MacEntry]:
    entries: list[MacEntry] = []
    columns: list[_Column] | None = None
    checks: list[tuple[int, re.Pattern[str]]] = []  # (column index, form) of the columns with a fixed form
    keys: list[str] = []
    fixed: tuple[int, int, int, int] | None = None  # column index of MAC, flags, age, interface (-1: none)
    header: str | None = None
    instance: str | None = None
    in_legend = False
    for raw in lines:
        line = raw.strip()
        tokens = line.split()
        if len(tokens) >= 3 and _MAC_OR_STAR.match(tokens[1]):
            # a row: VLAN, then a MAC (or '*' of the non-ELS flood row)
            in_legend = False
            entry: MacEntry | None = None
            if columns is not None:
                if len(tokens) == len(columns) and fixed is not None:
                    # every column filled (the usual case): the values in the header's order
                    for i, pattern in checks:
                        if not pattern.match(tokens[i]):
                            break
                    else:
                        i_mac, i_flags, i_age, i_if = fixed
                        flags = tokens[i_flags]
                        mac = _mac_or_none(tokens[i_mac], f"MAC table row for VLAN {tokens[0]}")
                        entry = MacEntry(
                            tokens[0], None, mac, "flood" if mac is None else _els_kind(flags), flags,
                            _age_seconds(tokens[i_age]) if i_age >= 0 else None,
                            tokens[i_if] if i_if >= 0 else "", instance)
                if entry is None:
                    cells = _assign_els_cells(columns, raw.expandtabs() if "\t" in raw else raw)
                    if cells is not None and "mac" in cells and "flags" in cells:
                        entry = _els_entry(cells, instance)
            if entry is None:
                # no header (a `| match` excerpt), non-ELS, or a row that does not fit the header
                entry = _mac_text_row(tokens)
                if entry is not None and instance is not None:
                    entry = dataclasses.replace(entry, routing_instance=instance)
            if entry is None:
                raise ParseError(f"expected {_MAC_WHAT}; cannot read the line {_shown(line)}")
            entries.append(entry)
            continue
        if in_legend:
            if line and _LEGEND_LINE.match(line):
                in_legend = not line.endswith(")")
                continue
            in_legend = False
        if _is_noise(line):
            continue
        if _MAC_LEGEND.match(line):
            in_legend = not line.endswith(")")
            continue
        m = _ROUTING_INSTANCE_LINE.match(line)
        if m:
            instance = m.group(1) or None
            continue
        if _MAC_INFO.match(line):
            continue
        if _ELS_HEADER.match(line) or (_ELS_HEADER2.match(line) and header is not None):
            if _ELS_HEADER.match(line):
                header = raw.expandtabs()
                columns = _els_columns(header, None)
            else:
                columns = _els_columns(header or "", raw.expandtabs())
            keys = [c.key for c in columns]
            fixed = ((keys.index("mac"), keys.index("flags"),
                      keys.index("age") if "age" in keys else -1,
                      keys.index("interface") if "interface" in keys else -1)
                     if "mac" in keys and "flags" in keys else None)
            checks = [(i, _COLUMN_TYPES[c.key]) for i, c in enumerate(columns)
                      if c.key not in ("vlan", "property", "source", "other")]
            continue
        _check_switch_error(line, "a MAC table")
        raise ParseError(f"expected {_MAC_WHAT}; cannot read the line {_shown(line)}")
    return entries


def _mac_from_non_els_xml(elem: ET.Element) -> MacEntry | None:
    children: dict[str, ET.Element] = {}
    for child in elem:
        children.setdefault(_local(child.tag), child)

    def text(name: str) -> str | None:
        c = children.get(name)
        return None if c is None else (c.text or "").strip()

    mac_text = text("mac-address")
    if mac_text is None:
        return None  # `summary` style: a count, no entry
    vlan = text("mac-vlan") or ""
    raw = text("mac-type") or ""
    interface = text("mac-interface")
    if interface is None:
        # brief style lists the interface(s) only inside <mac-interfaces-list>
        lst = children.get("mac-interfaces-list")
        first = _child_text(lst, "mac-interfaces") if lst is not None else None
        interface = first or ""
    age_elem = children.get("mac-age")
    age: int | None = None
    if age_elem is not None:
        seconds = age_elem.get("seconds")
        age = int(seconds) if seconds and seconds.isdigit() else _age_seconds(age_elem.text)
    mac = _mac_or_none(mac_text, f"<mac-table-entry> of VLAN {vlan}")
    kind = "flood" if mac is None else _non_els_kind(raw or "other", interface)
    vlan_id = _optional_int(text("mac-vlan-tag"), f"<mac-vlan-tag> of VLAN {vlan}")
    return MacEntry(vlan, vlan_id, mac, kind, raw, age, interface)


def _texts(elem: ET.Element) -> dict[str, str]:
    """Stripped text of each child element by local name (the first of each name), in one pass."""
    out: dict[str, str] = {}
    for child in elem:
        out.setdefault(_local(child.tag), (child.text or "").strip())
    return out


def _mac_from_els_xml(elem: ET.Element, group_vlan_id: int | None, group_instance: str | None) -> MacEntry:
    t = _texts(elem)
    vlan = t.get("l2ng-l2-mac-vlan-name", "")
    flags = t.get("l2ng-l2-mac-flags")
    if flags is not None:
        raw, kind = flags, _els_kind(flags)
    else:
        # `extensive` has no S/D flags, only internal state such as "in_hash,in_ifd,...,kernel".
        raw = t.get("l2ng-l2-mac-entry-flags", "")
        kind = "static" if "static" in raw.split(",") else "learned"
    own_id = _optional_int(t.get("l2ng-l2-vlan-id"), f"<l2ng-l2-vlan-id> of VLAN {vlan}")
    mac = _mac_or_none(t.get("l2ng-l2-mac-address", ""), f"<l2ng-mac-entry> of VLAN {vlan}")
    if mac is None:
        kind = "flood"
    age = _age_seconds(t.get("l2ng-l2-mac-age"))
    instance = t.get("l2ng-l2-mac-routing-instance") or group_instance
    return MacEntry(vlan, own_id if own_id is not None else group_vlan_id, mac, kind, raw, age,
                    t.get("l2ng-l2-mac-logical-interface", ""), instance or None)


# An element that holds a MAC table or part of one, even an empty one (a port without MACs).
_MAC_XML_CONTAINER = re.compile(r"macdb|ethernet-switching-table|l2ng-l2ald-mac|mac-table")


def _parse_mac_xml(root: ET.Element) -> list[MacEntry]:
    _xml_errors(root, "a MAC table")
    text = _output_text(root)
    if text is not None:
        return _parse_mac_text(_lines(text))
    entries: list[MacEntry] = []
    container = False
    for elem in root.iter():
        name = _local(elem.tag)
        if name == "mac-table-entry":
            entry = _mac_from_non_els_xml(elem)
            if entry is not None:
                entries.append(entry)
        elif name == "l2ng-l2ald-mac-entry-vlan":
            container = True
            instance = _child_text(elem, "l2ng-l2-mac-routing-instance")
            if _child(elem, "l2ng-l2-mac-address") is not None:
                entries.append(_mac_from_els_xml(elem, None, instance))  # extensive: one MAC per element
                continue
            macs = [c for c in elem if _local(c.tag) == "l2ng-mac-entry"]
            # In the brief form one group can hold every VLAN while carrying the first VLAN's id
            # only; trust the group's id just when all its entries are in one VLAN.
            group_id = _optional_int(_child_text(elem, "l2ng-l2-vlan-id"), "<l2ng-l2-vlan-id>")
            if len({_child_text(m, "l2ng-l2-mac-vlan-name") for m in macs}) > 1:
                group_id = None
            entries.extend(_mac_from_els_xml(m, group_id, instance) for m in macs)
        elif not container and _MAC_XML_CONTAINER.search(name):
            container = True
    if not entries and not container:
        raise ParseError(
            f"expected {_MAC_WHAT}; the XML has no MAC table element such as <l2ng-l2ald-rtb-macdb>, "
            f"<l2ng-l2ald-interface-macdb-vlan> or <ethernet-switching-table-information> "
            f"(root element <{_local(root.tag)}>)"
        )
    return entries


def parse_mac_table(text: str) -> list[MacEntry]:
    """Entries of `show ethernet-switching table [interface X | vlan-name V | vlan-id N | ...]
    [| display xml]`, every Junos form.

    Raises ParseError when the text is not such a table; returns [] for an empty one.
    """
    lines = _lines_raw(text)
    start = _xml_start([line.strip() for line in lines])
    if start is not None:
        return _parse_mac_xml(_parse_xml([line.strip() for line in lines], start, "a MAC table"))
    return _parse_mac_text(lines)


# --- ARP table ---------------------------------------------------------------------------------

_ARP_WHAT = (
    "a Junos ARP table (`show arp [no-resolve]`: 'MAC Address  Address  [Name]  Interface  Flags' "
    "rows, or | display xml)"
)
_ARP_HEADER = re.compile(r"^MAC\s+Address\s+Address\b", re.IGNORECASE)
_ARP_TOTAL = re.compile(r"^Total entries\s*:\s*\d+$", re.IGNORECASE)


def _split_interface(value: str) -> tuple[str, str | None]:
    """'irb.100 [ge-0/0/1.0]' -> ('irb.100', 'ge-0/0/1.0')."""
    name, sep, rest = value.partition("[")
    if not sep:
        return value.strip(), None
    return name.strip(), rest.rstrip().rstrip("]").strip() or None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _arp_text_row(tokens: list[str], has_name: bool | None) -> ArpEntry | None:
    if len(tokens) < 4 or not _is_ip(tokens[1]):
        return None
    mac = normalise_mac(tokens[0])
    if mac is None:
        return None
    if has_name is None:
        # No header (a `| match` excerpt): a Name column is there when the third token is not an
        # interface name, or when the fourth one is (hostnames like 10.1.1.1 or fpc0 are not).
        has_name = not _L3_IFNAME.match(tokens[2]) or (
            len(tokens) > 4 and bool(_L3_IFNAME.match(tokens[3]))
        )
    hostname = tokens[2] if has_name else None
    rest = tokens[3:] if has_name else tokens[2:]
    if not rest or not _IFNAME.match(rest[0]):
        return None
    interface, rest = rest[0], rest[1:]
    physical: str | None = None
    if rest and rest[0].startswith("["):
        # The physical port, e.g. [ge-0/0/1.0]; EVPN shows names with spaces ([.local..8]).
        for i, tok in enumerate(rest):
            if tok.endswith("]"):
                physical = _split_interface(interface + " " + " ".join(rest[: i + 1]))[1]
                rest = rest[i + 1 :]
                break
        else:
            return None
    expires: int | None = None
    if len(rest) > 1 and rest[-1].isdigit():  # `expiration-time` adds a TTE column after Flags
        expires, rest = int(rest[-1]), rest[:-1]
    if not rest or not all(_ARP_FLAG.match(f) for f in rest):
        return None
    return ArpEntry(mac, tokens[1], interface, physical, tuple(rest), hostname, expires)


def _parse_arp_text(lines: list[str]) -> list[ArpEntry]:
    entries: list[ArpEntry] = []
    has_name: bool | None = None
    for line in lines:
        if _is_noise(line) or _ARP_TOTAL.match(line):
            continue
        if _ARP_HEADER.match(line):
            has_name = "Name" in line.split()
            continue
        _check_switch_error(line, "an ARP table")
        entry = _arp_text_row(line.split(), has_name)
        if entry is None:
            raise ParseError(f"expected {_ARP_WHAT}; cannot read the line {_shown(line)}")
        entries.append(entry)
    return entries


def _arp_from_xml(elem: ET.Element) -> ArpEntry:
    ip = _child_text(elem, "ip-address") or ""
    mac = normalise_mac(_child_text(elem, "mac-address") or "")
    if mac is None or not _is_ip(ip):
        raise ParseError(f"expected a MAC and an IP address in <arp-table-entry>, got {_shown(ip)}")
    interface, physical = _split_interface(_child_text(elem, "interface-name") or "")
    flags_elem = _child(elem, "arp-table-entry-flags")
    flags: tuple[str, ...] = ()
    if flags_elem is not None:
        flags = tuple(_local(f.tag) for f in flags_elem) or tuple((flags_elem.text or "").split())
    expires = _optional_int(_child_text(elem, "time-to-expire"), f"<time-to-expire> of {ip}")
    return ArpEntry(mac, ip, interface, physical, flags, _child_text(elem, "hostname"), expires)


def _parse_arp_xml(root: ET.Element) -> list[ArpEntry]:
    _xml_errors(root, "an ARP table")
    text = _output_text(root)
    if text is not None:
        return _parse_arp_text(_lines(text))
    # Entries by their own element name, wherever the reply puts them; an empty table still has
    # its <arp-table-information>.
    entries: list[ArpEntry] = []
    container = False
    for elem in root.iter():
        name = _local(elem.tag)
        if name == "arp-table-entry":
            entries.append(_arp_from_xml(elem))
        elif name == "arp-table-information":
            container = True
    if not entries and not container:
        raise ParseError(
            f"expected {_ARP_WHAT}; the XML has no <arp-table-information> or <arp-table-entry> "
            f"(root element <{_local(root.tag)}>)"
        )
    return entries


def parse_arp_table(text: str) -> list[ArpEntry]:
    """Entries of `show arp [no-resolve] [...] [| display xml]`.

    Raises ParseError when the text is not such a table; returns [] for an empty one.
    """
    lines = _lines(text)
    start = _xml_start(lines)
    if start is not None:
        return _parse_arp_xml(_parse_xml(lines, start, "an ARP table"))
    return _parse_arp_text(lines)


# --- show version ------------------------------------------------------------------------------

_VERSION_PATTERNS = (
    re.compile(r"^Junos:\s*(\S+)", re.MULTILINE),  # ELS
    re.compile(r"^JUNOS Base OS boot \[([^\]]+)\]", re.MULTILINE),  # non-ELS EX
    re.compile(r"^JUNOS Software Release \[([^\]]+)\]", re.MULTILINE),
    re.compile(r"^JUNOS [^\[\n]*\[([^\]]+)\]", re.MULTILINE),
)


def _version_from_text(text: str) -> VersionInfo:
    hostname = re.search(r"^Hostname:\s*(\S+)", text, re.MULTILINE)
    model = re.search(r"^Model:\s*(\S+)", text, re.MULTILINE)
    version = None
    for pattern in _VERSION_PATTERNS:
        found = pattern.search(text)
        if found:
            version = found.group(1)
            break
    return VersionInfo(
        hostname.group(1) if hostname else None, model.group(1) if model else None, version
    )


def parse_version(text: str) -> VersionInfo:
    """Host name, model and Junos version from `show version` (text or XML); None for what is missing."""
    lines = _lines(text)
    start = _xml_start(lines)
    if start is None:
        return _version_from_text("\n".join(lines))
    try:
        root = _parse_xml(lines, start, "show version")
    except ParseError:
        return _version_from_text("\n".join(lines))
    hostname = model = version = None
    for elem in root.iter():
        name = _local(elem.tag)
        value = (elem.text or "").strip() or None
        if name == "host-name" and hostname is None:
            hostname = value
        elif name == "product-model" and model is None:
            model = value
        elif name == "junos-version" and version is None:
            version = value
    if version is None:
        # non-ELS XML carries the version only inside the package comments
        comments = "\n".join(
            (e.text or "").strip() for e in _iter_local(root, {"comment"}) if e.text
        )
        version = _version_from_text(comments).junos_version
    return VersionInfo(hostname, model, version)


# --- show ethernet-switching interfaces --------------------------------------------------------
# Assumptions (no stored real sample of our own; layouts from Juniper's documentation and public
# device captures):
# - non-ELS (EX2200/3300/4200, Junos <= 12.3): "Interface  State  VLAN members  Tag  Tagging  Blocking";
#   one row per (port, VLAN), the port and its State only on the first; Tag is empty for an untagged
#   default VLAN, Tagging may be empty, Blocking is free text ("unblocked", "blocked by STP",
#   "Disabled by bpdu-control", "MAC limit exceeded").
# - ELS (EX4300/QFX, Junos >= 13.2X50): a legend, then per logical interface a row with its MAC limits,
#   flags (DN = interface down) and aggregate tagging, followed by one indented row per VLAN member
#   with TAG, limits, STP state and tagging. Newer releases add a MAC+IP limit column and repeat
#   "Routing Instance Name : ..." before each interface; neither changes what is read here.
# - XML: non-ELS <switching-interface-information>/<interface>/<interface-vlan-member-list>; ELS
#   <l2ng-l2ald-iff-interface-information> whose nested <l2ng-l2ald-iff-interface-entry> elements
#   name the interface first, then one VLAN each.


_SWIF_WHAT = (
    "a Junos `show ethernet-switching interfaces` table (non-ELS 'Interface  State  VLAN members  Tag  "
    "Tagging  Blocking', ELS 'Logical interface  Vlan members  TAG ... STP state ... Tagging', or | display xml)"
)
_NONELS_SWIF_HEADER = re.compile(r"^Interface\s+State\s+VLAN\s+members\b", re.IGNORECASE)
_ELS_SWIF_HEADER = re.compile(r"^Logical\s+Vlan\s+TAG\b", re.IGNORECASE)
_ELS_SWIF_HEADER2 = re.compile(r"^interface\s+members\b", re.IGNORECASE)
_ELS_LEGEND = re.compile(r"^Logical Interface flags\s*\(", re.IGNORECASE)
_ROUTING_INSTANCE = re.compile(r"^Routing Instance Name\s*:", re.IGNORECASE)
_TAGGING = {"tagged", "untagged", "tagged,untagged"}
_STP_STATE = re.compile(r"^[A-Z][a-z]+$")  # Forwarding, Discarding, Blocking, Learning, Disabled
_IF_FLAG = re.compile(r"^[A-Z]{2,5}(?:,[A-Z]{2,5})*,?$")


def _indent(raw: str) -> int:
    return len(raw.expandtabs()) - len(raw.expandtabs().lstrip())


def _nonels_member(port: str, up: bool | None, tokens: list[str], line: str) -> PortVlan:
    vlan, rest = tokens[0], tokens[1:]
    vlan_id = None
    if rest and rest[0].isdigit():
        vlan_id, rest = int(rest[0]), rest[1:]
    tagging = None
    if rest and rest[0].lower() in _TAGGING:
        tagging, rest = rest[0].lower(), rest[1:]
    if not _IFNAME.match(vlan):
        raise ParseError(f"expected {_SWIF_WHAT}; cannot read the line {_shown(line)}")
    return PortVlan(port, up, vlan, vlan_id, tagging, blocking=" ".join(rest) or None)


def _els_member(port: str, up: bool | None, port_flags: tuple[str, ...], tokens: list[str], line: str) -> PortVlan:
    vlan, rest = tokens[0], tokens[1:]
    if not rest or not rest[0].isdigit() or not _IFNAME.match(vlan):
        raise ParseError(f"expected {_SWIF_WHAT}; cannot read the line {_shown(line)}")
    vlan_id, rest = int(rest[0]), rest[1:]
    tagging = None
    if rest and rest[-1].lower() in _TAGGING:
        tagging, rest = rest[-1].lower(), rest[:-1]
    rest = [t for t in rest if not t.isdigit()]  # MAC and MAC+IP limits
    stp = next((t for t in rest if _STP_STATE.match(t)), None)
    flags = port_flags + tuple(f for t in rest if _IF_FLAG.match(t) for f in t.split(",") if f and f not in port_flags)
    if len(rest) != (stp is not None) + sum(1 for t in rest if _IF_FLAG.match(t)):
        raise ParseError(f"expected {_SWIF_WHAT}; cannot read the line {_shown(line)}")
    return PortVlan(port, up, vlan, vlan_id, tagging, stp_state=stp, flags=flags)


def _parse_switching_text(text: str) -> list[PortVlan]:
    entries: list[PortVlan] = []
    style: str | None = None
    header_indent = 0
    port: str | None = None
    up: bool | None = None
    port_flags: tuple[str, ...] = ()
    in_legend = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_legend:
            in_legend = not line.endswith(")")
            continue
        if _is_noise(line) or _ROUTING_INSTANCE.match(line) or _ELS_SWIF_HEADER2.match(line):
            continue
        if _ELS_LEGEND.match(line):
            in_legend = not line.endswith(")")
            continue
        if _NONELS_SWIF_HEADER.match(line) or _ELS_SWIF_HEADER.match(line):
            style = "non-els" if _NONELS_SWIF_HEADER.match(line) else "els"
            header_indent = _indent(raw)
            continue
        _check_switch_error(line, "an ethernet-switching interface table")
        tokens = line.split()
        if style is None:
            raise ParseError(f"expected {_SWIF_WHAT}; found no table header before {_shown(line)}")
        starts_port = _indent(raw) <= header_indent
        if style == "non-els":
            if starts_port:
                if len(tokens) < 2 or tokens[1].lower() not in ("up", "down") or not _IFNAME.match(tokens[0]):
                    raise ParseError(f"expected {_SWIF_WHAT}; cannot read the line {_shown(line)}")
                port, up, tokens = tokens[0], tokens[1].lower() == "up", tokens[2:]
                if not tokens:
                    continue
            if port is None:
                raise ParseError(f"expected {_SWIF_WHAT}; a VLAN row comes before any interface: {_shown(line)}")
            entries.append(_nonels_member(port, up, tokens, line))
            continue
        if starts_port:
            if not _IFNAME.match(tokens[0]):
                raise ParseError(f"expected {_SWIF_WHAT}; cannot read the line {_shown(line)}")
            port = tokens[0]
            port_flags = tuple(f for t in tokens[1:] if _IF_FLAG.match(t) for f in t.split(",") if f)
            up = "DN" not in port_flags
            continue
        if port is None:
            raise ParseError(f"expected {_SWIF_WHAT}; a VLAN row comes before any interface: {_shown(line)}")
        entries.append(_els_member(port, up, port_flags, tokens, line))
    return entries


def _parse_switching_xml(root: ET.Element) -> list[PortVlan]:
    _xml_errors(root, "an ethernet-switching interface table")
    text = _output_text(root)
    if text is not None:
        return _parse_switching_text(text)
    tags = {_local(e.tag) for e in root.iter()}
    if not tags & {"switching-interface-information", "l2ng-l2ald-iff-interface-information"}:
        raise ParseError(
            f"expected {_SWIF_WHAT}; the XML has no <switching-interface-information> or "
            f"<l2ng-l2ald-iff-interface-information> (root element <{_local(root.tag)}>)"
        )
    entries: list[PortVlan] = []
    for iface in _iter_local(root, {"interface"}):
        name = _child_text(iface, "interface-name")
        if not name:
            continue
        state = (_child_text(iface, "interface-state") or "").lower()
        up = True if state == "up" else False if state == "down" else None
        for m in _iter_local(iface, {"interface-vlan-member"}):
            tagging = (_child_text(m, "interface-vlan-member-tagness") or "").lower() or None
            vid = _optional_int(_child_text(m, "interface-vlan-member-tagid"), f"the tag of {name}")
            entries.append(PortVlan(name, up, _child_text(m, "interface-vlan-name") or "", vid, tagging,
                                    blocking=_child_text(m, "blocking-status") or None))
    port: str | None = None
    port_up: bool | None = None
    port_flags: tuple[str, ...] = ()
    for e in _iter_local(root, {"l2ng-l2ald-iff-interface-entry"}):
        name = _child_text(e, "l2iff-interface-name")
        flags = tuple(f.strip() for f in (_child_text(e, "l2iff-interface-flags") or "").split(",") if f.strip())
        if name:
            port, port_up, port_flags = name, "DN" not in flags, flags
        vlan = _child_text(e, "l2iff-interface-vlan-name")
        if not vlan or port is None:
            continue
        vid = _optional_int(_child_text(e, "l2iff-interface-vlan-id"), f"the VLAN id of {vlan} on {port}")
        tagging = (_child_text(e, "l2iff-interface-vlan-member-tagness") or "").lower() or None
        stp = _child_text(e, "l2iff-interface-vlan-member-stp-state") or None
        merged = port_flags + tuple(f for f in flags if f not in port_flags) if not name else flags
        entries.append(PortVlan(port, port_up, vlan, vid, tagging, stp_state=stp, flags=merged))
    return entries


def parse_switching_interfaces(text: str) -> list[PortVlan]:
    """VLAN memberships from `show ethernet-switching interfaces [IF] [| display xml]`, both styles.

    Raises ParseError when the text is not such a table; returns [] for an empty one.
    """
    lines = _lines(text)
    start = _xml_start(lines)
    if start is not None:
        return _parse_switching_xml(_parse_xml(lines, start, "an ethernet-switching interface table"))
    return _parse_switching_text(text)


# --- show lldp neighbors -----------------------------------------------------------------------
# Columns "Local Interface  Parent Interface  Chassis Id  Port info  System Name" (Junos 12.3 and
# later; older EX releases print no Parent Interface column). Non-ELS EX names the local side by its
# logical unit (ge-0/0/1.0), ELS by the port (ge-0/0/1): `LldpNeighbor.port` gives the port either way.
# "Port info" is the neighbour's port description, or its port id when it sends none. Junos prints
# nothing at all when there is no neighbour. Port info and System Name may hold spaces: they are
# cut at the header's column when the row lines up with it.


_LLDP_WHAT = (
    "a Junos LLDP neighbour table (`show lldp neighbors`: 'Local Interface  Parent Interface  Chassis Id  "
    "Port info  System Name' rows, or | display xml)"
)
_LLDP_HEADER = re.compile(r"^Local Interface\s+(?:Parent Interface\s+)?Chassis Id\s+Port info\s+System Name",
                          re.IGNORECASE)


def _chassis(value: str) -> str:
    return normalise_mac(value) or value


def _dash(value: str | None) -> str | None:
    return None if value is None or value.strip() in ("", "-") else value.strip()


def _parse_lldp_text(text: str) -> list[LldpNeighbor]:
    entries: list[LldpNeighbor] = []
    columns: dict[str, int] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if _is_noise(line):
            continue
        if _LLDP_HEADER.match(line):
            expanded = raw.expandtabs()
            columns = {name: expanded.find(name) for name in ("Parent Interface", "Port info", "System Name")}
            continue
        _check_switch_error(line, "an LLDP neighbour table")
        if columns is None:
            raise ParseError(f"expected {_LLDP_WHAT}; found no table header before {_shown(line)}")
        fixed = 3 if columns["Parent Interface"] >= 0 else 2
        tokens = line.split(None, fixed)
        if len(tokens) <= fixed or not _IFNAME.match(tokens[0]):
            raise ParseError(f"expected {_LLDP_WHAT}; cannot read the line {_shown(line)}")
        parent = tokens[1] if fixed == 3 else None
        chassis, rest = tokens[fixed - 1], tokens[fixed]
        expanded = raw.expandtabs()
        pi, sn = columns["Port info"], columns["System Name"]
        rest_at = len(expanded) - len(expanded.lstrip()) + len(line) - len(rest)
        if rest_at == pi and len(expanded) > sn and expanded[sn - 1] == " " and expanded[sn] != " ":
            port_info, system = expanded[pi:sn].strip(), expanded[sn:].strip()
        else:
            port_info, _, system = rest.partition(" ")
        if not port_info:
            raise ParseError(f"expected {_LLDP_WHAT}; no Port info in {_shown(line)}")
        entries.append(LldpNeighbor(tokens[0], _chassis(chassis), port_info, system.strip() or None, _dash(parent)))
    return entries


def _parse_lldp_xml(root: ET.Element) -> list[LldpNeighbor]:
    _xml_errors(root, "an LLDP neighbour table")
    text = _output_text(root)
    if text is not None:
        return _parse_lldp_text(text)
    if not any(_local(e.tag) == "lldp-neighbors-information" for e in root.iter()):
        raise ParseError(
            f"expected {_LLDP_WHAT}; the XML has no <lldp-neighbors-information> (root element <{_local(root.tag)}>)"
        )
    entries = []
    for n in _iter_local(root, {"lldp-neighbor-information"}):
        local = _child_text(n, "lldp-local-port-id") or _child_text(n, "lldp-local-interface")
        if not local:
            raise ParseError("expected <lldp-local-port-id> or <lldp-local-interface> in <lldp-neighbor-information>")
        port_id = _dash(_child_text(n, "lldp-remote-port-id"))
        port_info = _dash(_child_text(n, "lldp-remote-port-description")) or port_id or ""
        entries.append(LldpNeighbor(
            local, _chassis(_child_text(n, "lldp-remote-chassis-id") or ""), port_info,
            _dash(_child_text(n, "lldp-remote-system-name")),
            _dash(_child_text(n, "lldp-local-parent-interface-name")), port_id,
        ))
    return entries


def parse_lldp_neighbors(text: str) -> list[LldpNeighbor]:
    """Neighbours from `show lldp neighbors [| display xml]`; [] when Junos printed nothing."""
    lines = _lines(text)
    start = _xml_start(lines)
    if start is not None:
        return _parse_lldp_xml(_parse_xml(lines, start, "an LLDP neighbour table"))
    return _parse_lldp_text(text)


# --- show interfaces IF ------------------------------------------------------------------------
# The physical interface block: "Physical interface: ge-0/0/1, Enabled, Physical link is Up", the
# "Link-level type: Ethernet, MTU: 1514, ..." line (the physical MTU counts the 14-byte Ethernet
# header: 1514 carries 1500-byte IP packets; "Unlimited" on tunnels) and "Current address: MAC, ...".
# The MTU of a logical unit's protocol ("Protocol inet, MTU: 1500") is not the port's and is ignored.


_IF_WHAT = "Junos `show interfaces IF` output (a 'Physical interface: NAME, Enabled, Physical link is Up' block, or | display xml)"
_PHYSICAL = re.compile(
    r"^Physical interface:\s*(?P<name>[^,\s]+)\s*,\s*(?P<admin>Enabled|Disabled|Administratively down)\s*,"
    r"\s*Physical link is (?P<link>Up|Down)",
    re.IGNORECASE,
)
_PHYS_MTU = re.compile(r"\bMTU:\s*(\d+|Unlimited)\b", re.IGNORECASE)
_CURRENT_ADDRESS = re.compile(r"^Current address:\s*([0-9A-Fa-f:.-]+)", re.IGNORECASE)


@dataclass
class _Block:
    name: str
    admin_up: bool
    link_up: bool
    mtu: int | None = None
    mtu_seen: bool = False
    mac: str | None = None
    in_logical: bool = False


def _interfaces_text(lines: list[str]) -> list[InterfaceInfo]:
    blocks: list[_Block] = []
    for line in lines:
        if not line:
            continue
        _check_switch_error(line, "interface information")
        m = _PHYSICAL.match(line)
        if m:
            blocks.append(_Block(m.group("name"), m.group("admin").lower() == "enabled", m.group("link").lower() == "up"))
            continue
        if not blocks:
            continue
        b = blocks[-1]
        b.in_logical = b.in_logical or line.startswith("Logical interface")
        if b.in_logical:
            continue  # a unit's "Protocol inet, MTU: 1500" is not the port's MTU
        mtu = _PHYS_MTU.search(line)
        if mtu and not b.mtu_seen and line.lower().startswith(("link-level type", "type:", "mtu")):
            b.mtu, b.mtu_seen = (int(mtu.group(1)) if mtu.group(1).isdigit() else None), True
        mac = _CURRENT_ADDRESS.match(line)
        if mac and b.mac is None:
            b.mac = normalise_mac(mac.group(1))
    return [InterfaceInfo(b.name, b.admin_up, b.link_up, b.mtu, b.mac) for b in blocks]


def _interfaces_xml(root: ET.Element) -> list[InterfaceInfo]:
    _xml_errors(root, "interface information")
    if not any(_local(e.tag) == "interface-information" for e in root.iter()):
        raise ParseError(f"expected {_IF_WHAT}; the XML has no <interface-information> (root element <{_local(root.tag)}>)")
    out = []
    for p in _iter_local(root, {"physical-interface"}):
        mtu = _child_text(p, "mtu")
        mac = _child_text(p, "current-physical-address")
        out.append(InterfaceInfo(
            _child_text(p, "name") or "", (_child_text(p, "admin-status") or "").lower() == "up",
            (_child_text(p, "oper-status") or "").lower() == "up",
            int(mtu) if mtu and mtu.isdigit() else None, normalise_mac(mac) if mac else None,
        ))
    return out


def parse_interfaces(text: str) -> list[InterfaceInfo]:
    """Every physical interface block of `show interfaces [IF] [| display xml]` (not `terse`)."""
    lines = _lines(text)
    start = _xml_start(lines)
    if start is not None:
        return _interfaces_xml(_parse_xml(lines, start, "interface information"))
    return _interfaces_text(lines)


def parse_interface(text: str, *, name: str | None = None) -> InterfaceInfo:
    """The physical interface of `show interfaces IF [| display xml]`.

    With `name`, that interface's block (a unit such as ge-0/0/1.0 selects its port); without it the
    text must hold exactly one. Raises ParseError otherwise (a switch error such as "device not found"
    included).
    """
    found = parse_interfaces(text)
    if name is not None:
        port = name.split(".", 1)[0]
        found = [i for i in found if i.name == port]
        if not found:
            raise ParseError(f"expected {_IF_WHAT} for {name}; the output has no physical interface {port}")
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(i.name for i in found)})"
        raise ParseError(f"expected {_IF_WHAT} for one interface; found {what} physical interfaces")
    return found[0]
