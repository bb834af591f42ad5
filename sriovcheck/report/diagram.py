"""The topology diagram of a run: containers, their VFs, the PFs, the switch port and the VLAN gateways.

`build_diagram` turns `RunResults` into plain data (what is drawn, with each part's worst status);
`render_svg` draws it as an inline SVG string in which every text is escaped. `printable` is the one
place that makes device and user strings safe to show (shared by every renderer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from sriovcheck.report.grouping import attachment_keys, pf_of, place, printable, shown_status, worst
from sriovcheck.switch.platforms import reported_os
from sriovcheck.verify.results import RunResults

VLAN_COLOURS = ("#2563eb", "#9333ea", "#0d9488", "#c2410c", "#db2777", "#4d7c0f", "#0369a1", "#a16207")


@dataclass(frozen=True)
class VfNode:
    container: str
    ifname: str
    pf: str
    vf: str
    vlan: str
    address: str
    mac: str
    status: str  # worst of vf-attached / vf-config
    container_status: str  # worst of every check on this container
    cause: str = ""  # ids of the root causes on this VF's container row ("C1 C3"): container, address
    vf_cause: str = ""  # root causes on the VF itself (its VLAN tag on the PF)


@dataclass(frozen=True)
class PfNode:
    name: str
    switch_port: str
    port_status: str  # worst switch-mac / switch-port on VFs behind this port
    status: str = ""  # worst PF-level check (cabling, target "<host>:<pf>")
    cause: str = ""  # root causes on the PF
    port_cause: str = ""  # root causes on its switch port
    learned_port: str = ""  # the port its VFs' MACs were learned on instead (cabling swapped), if any


@dataclass(frozen=True)
class VlanNode:
    id: str
    name: str
    l3_interface: str
    gateway: str
    colour: str
    status: str  # worst gateway-ping / container-arp / gateway-mac / switch-arp on this VLAN
    cause: str = ""  # root causes on this VLAN's gateway


@dataclass(frozen=True)
class PortNode:
    """A switch port no PF is declared on, drawn because a cause names it (a MAC learned there)."""

    name: str
    cause: str


@dataclass(frozen=True)
class Diagram:
    host: str
    host_note: str
    switch: str
    switch_note: str
    switch_status: str  # worst switch-level check (target = the switch)
    vfs: tuple[VfNode, ...]
    pfs: tuple[PfNode, ...]
    vlans: tuple[VlanNode, ...]
    switch_cause: str = ""
    extra_ports: tuple[PortNode, ...] = ()
    learned_here: frozenset[str] = frozenset()  # ports on which a PF's VF MACs were learned instead of its own
    cause_titles: tuple[tuple[str, str], ...] = ()  # (id, what) of each root cause, for the tags' tooltips


@dataclass
class _Marks:
    parts: dict[tuple[str, str], str]  # (what, name) -> "C1 C2"
    learned: list[tuple[str, str]]  # (pf, port its VF MACs were learned on)


def _vlan_mark(marks: dict[str, Any], vlans: dict[str, str]) -> str | None:
    """The drawn VLAN a cause names: by id, else by name (a non-ELS text table names no id), else the
    VLAN the topology declares for it."""
    if marks.get("vlan") is not None and _s(marks["vlan"]) in vlans:
        return _s(marks["vlan"])
    by_name = {name.lower(): vid for vid, name in vlans.items() if name}
    if marks.get("vlan_name") and _s(marks["vlan_name"]).lower() in by_name:
        return by_name[_s(marks["vlan_name"]).lower()]
    if marks.get("declared_vlan") is not None and _s(marks["declared_vlan"]) in vlans:
        return _s(marks["declared_vlan"])
    return None


def _cause_marks(results: RunResults, vlans: dict[str, str]) -> _Marks:
    """The parts each root cause names (its `marks`), as drawn: `vlans` is id -> name of the drawn VLANs."""
    out: dict[tuple[str, str], list[str]] = {}
    learned: list[tuple[str, str]] = []
    for cause in results.causes:
        marks = cause.marks if isinstance(cause.marks, dict) else {}
        named: list[tuple[str, str]] = []
        if marks.get("switch"):
            named.append(("switch", ""))
        if marks.get("pf"):
            named.append(("pf", _s(marks["pf"])))
        for key in ("switch_port", "learned_port"):
            if marks.get(key):
                named.append(("port", _s(marks[key])))
        if marks.get("learned_port") and marks.get("learned_from"):
            learned.append((_s(marks["learned_from"]), _s(marks["learned_port"])))
        vlan = _vlan_mark(marks, vlans)
        if vlan is not None:
            named.append(("vlan", vlan))
        for what, key in (("row", "targets"), ("vf", "vfs")):
            for target in marks.get(key) or []:
                named.append((what, _s(target)))
        for part in named:
            ids = out.setdefault(part, [])
            if _s(cause.id) not in ids:
                ids.append(_s(cause.id))
    return _Marks({k: " ".join(v) for k, v in out.items()}, learned)


_VF_KINDS = ("vf-attached", "vf-config")
_PORT_KINDS = ("switch-mac", "switch-port")
_GATEWAY_KINDS = ("gateway-ping", "container-arp", "gateway-mac", "switch-arp")


def _s(value: Any) -> str:
    return "" if value is None else printable(value)


def build_diagram(results: RunResults) -> Diagram:
    vf_keys = attachment_keys(results)
    by_vf: dict[tuple[str, str], list[tuple[str, str]]] = {}
    by_container: dict[str, list[str]] = {}
    switch_name = str(results.switch.get("name") or "")
    switch_statuses: list[str] = []
    pf_statuses: dict[str, list[str]] = {}
    for check in results.checks:
        container, ifname = place(check, switch_name, vf_keys)
        status = shown_status(check)
        if container is None:
            pf = pf_of(check, str(results.host.get("name") or ""))
            if pf is not None:
                pf_statuses.setdefault(pf, []).append(status)
            elif ifname == switch_name or check.kind.startswith("switch"):
                switch_statuses.append(status)
            continue
        by_vf.setdefault((container, ifname), []).append((check.kind, status))
        by_container.setdefault(container, []).append(status)

    vlan_names = {_s(att.get("vlan")): _s(att.get("vlan_name")) for att in vf_keys.values()}
    found = _cause_marks(results, vlan_names)
    marks = found.parts
    vfs: list[VfNode] = []
    pf_ports: dict[str, str] = {}
    port_statuses: dict[str, list[str]] = {}
    vlan_info: dict[str, dict[str, str]] = {}
    vlan_statuses: dict[str, list[str]] = {}
    for (container, ifname), att in vf_keys.items():
        pf, vlan = _s(att.get("pf")), _s(att.get("vlan"))
        checks = by_vf.get((container, ifname), [])
        target = f"{_s(container)}/{_s(ifname)}"
        vfs.append(
            VfNode(
                container=_s(container),
                ifname=_s(ifname),
                pf=pf,
                vf=_s(att.get("vf")),
                vlan=vlan,
                address=_s(att.get("address")),
                mac=_s(att.get("mac")),
                status=worst([s for k, s in checks if k in _VF_KINDS]),
                container_status=worst(by_container.get(container, [])),
                cause=marks.get(("row", target), ""),
                vf_cause=marks.get(("vf", target), ""),
            )
        )
        pf_ports.setdefault(pf, _s(att.get("switch_port")))
        port_statuses.setdefault(pf, []).extend(s for k, s in checks if k in _PORT_KINDS)
        info = vlan_info.setdefault(vlan, {})
        for key in ("vlan_name", "l3_interface", "gateway"):
            info.setdefault(key, _s(att.get(key)))
        vlan_statuses.setdefault(vlan, []).extend(s for k, s in checks if k in _GATEWAY_KINDS)

    vlan_order = sorted(vlan_info, key=lambda v: (0, int(v), v) if v.isdigit() else (1, 0, v))
    vlans = tuple(
        VlanNode(
            id=v,
            name=vlan_info[v]["vlan_name"],
            l3_interface=vlan_info[v]["l3_interface"],
            gateway=vlan_info[v]["gateway"],
            colour=VLAN_COLOURS[i % len(VLAN_COLOURS)],
            status=worst(vlan_statuses[v]),
            cause=marks.get(("vlan", v), ""),
        )
        for i, v in enumerate(vlan_order)
    )
    learned = dict(found.learned)
    pfs = tuple(
        PfNode(name=p, switch_port=port, port_status=worst(port_statuses[p]), status=worst(pf_statuses.get(p, [])),
               cause=marks.get(("pf", p), ""), port_cause=marks.get(("port", port), ""), learned_port=learned.get(p, ""))
        for p, port in pf_ports.items()
    )
    declared = set(pf_ports.values())
    extra = tuple(PortNode(port, marks.get(("port", port), "")) for port in dict.fromkeys(learned.values()) if port not in declared)
    host = results.host
    switch = results.switch
    host_note = " · ".join(x for x in (_s(host.get("kernel")), "emulated" if host.get("lab") else "") if x)
    switch_note = " · ".join(
        x for x in (_s(switch.get("model")), " ".join(_s(v) for v in reported_os(switch) if v) if reported_os(switch)[1] else "") if x
    )
    return Diagram(
        host=_s(host.get("name")),
        host_note=host_note,
        switch=switch_name,
        switch_note=switch_note,
        switch_status=worst(switch_statuses),
        vfs=tuple(vfs),
        pfs=pfs,
        vlans=vlans,
        switch_cause=marks.get(("switch", ""), ""),
        extra_ports=extra,
        learned_here=frozenset(learned.values()),
        cause_titles=tuple((_s(c.id), _s(c.what)) for c in results.causes),
    )


# --- drawing ----------------------------------------------------------------------------------

_W = 1100
_ROW = 58
_TOP = 56
_STROKE = {"fail": "#cf222e", "error": "#cf222e", "waived": "#9a6700"}
_FILL = {"fail": "#ffebe9", "error": "#ffebe9", "waived": "#fff8c5"}
_STYLE = (
    "<style>text{font-family:-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,'Liberation Sans',"
    "sans-serif;font-size:12px;fill:#1f2328}.h{font-size:13px;font-weight:600}.m{font-family:ui-monospace,"
    "'SFMono-Regular',Menlo,Consolas,'Liberation Mono',monospace;font-size:11px;fill:#57606a}"
    ".c{font-size:11px;fill:#57606a}.badge{font-size:10px;font-weight:700;fill:#fff}</style>"
)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "\u2026"


def _text(x: float, y: float, text: str, *, limit: int, cls: str = "", anchor: str = "start") -> str:
    """One <text>, cut to fit its box; the full text stays available as a tooltip."""
    shown = _fit(text, limit)
    title = f"<title>{escape(text)}</title>" if shown != text else ""
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}"{klass}>{title}{escape(shown)}</text>'


def _box(x: float, y: float, w: float, h: float, status: str, *, rx: int = 6, fill: str = "#ffffff") -> str:
    stroke = _STROKE.get(status, "#8c959f")
    width = 2.5 if status in _STROKE else 1.2
    fill = _FILL.get(status, fill)
    return (
        f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{rx}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{width:g}"/>'
    )


def _badge(right: float, y: float, status: str) -> str:
    """A small FAIL/ERROR/WAIVED tag whose right edge is at `right`; nothing for other statuses."""
    if status not in _STROKE:
        return ""
    width = 52 if status == "waived" else 44
    return (
        f'<rect x="{right - width:g}" y="{y:g}" width="{width}" height="16" rx="3" fill="{_STROKE[status]}"/>'
        f'<text x="{right - width / 2:g}" y="{y + 12:g}" text-anchor="middle" class="badge">{status.upper()}</text>'
    )


_CAUSE = "#6639ba"


def _cause_tag(x: float, y: float, ids: str, titles: dict[str, str], part: str) -> str:
    """A purple "root cause C1" tag whose left edge is at `x`: where the diagnosis points; its tooltip
    says what each cause is, `data-part` which part it marks ("port ge-0/0/2", "vlan 200", ...)."""
    if not ids:
        return ""
    text = f"root cause {ids}"
    width = 8 + 6.2 * len(text)
    tip = "; ".join(f"{i}: {titles[i]}" if titles.get(i) else i for i in ids.split())
    return (
        f'<g class="cause-tag" data-causes="{escape(ids)}" data-part="{escape(part)}"><title>{escape(tip)}</title>'
        f'<rect x="{x:g}" y="{y:g}" width="{width:g}" height="16" rx="3" fill="{_CAUSE}"/>'
        f'<text x="{x + 4:g}" y="{y + 12:g}" class="badge">{escape(text)}</text></g>'
    )


def render_svg(diagram: Diagram) -> str:
    """Draw the diagram; every text goes through `escape`, colours come from fixed tables only."""
    pf_h, gw_h = 46, 46
    # Rows and gateways a cause tag hangs below get room for it, so that it covers nothing of the next one.
    row = _ROW + (10 if any(v.cause or v.vf_cause for v in diagram.vfs) else 0)
    gw_step = gw_h + (10 if any(v.cause for v in diagram.vlans) else 0)
    slots = len(diagram.pfs) + len(diagram.extra_ports)  # a port a cause names gets a row below the PFs' ports
    body = max(len(diagram.vfs) * row, slots * (pf_h + (24 if diagram.extra_ports else 12)), 24 + len(diagram.vlans) * gw_step, _ROW)
    height = _TOP + body + 44
    colour = {v.id: v.colour for v in diagram.vlans}
    titles = dict(diagram.cause_titles)
    cx, cw = 12, 240  # containers
    hx, hw = 310, 330  # host box, holding VF chips and PFs
    vx, vw = hx + 16, 132
    px, pw = hx + hw - 140, 126
    sx, sw = 700, 388  # switch box, holding ports (left) and VLAN gateways (right)
    gx, gw = sx + 140, sw - 154

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" width="100%" role="img" '
        'aria-labelledby="diagram-title" class="topology">',
        f'<title id="diagram-title">Topology: containers, their VFs on host {escape(diagram.host or "?")} '
        f'and switch {escape(diagram.switch or "?")}</title>',
        _STYLE,
        _text(cx, 22, "Containers", limit=40, cls="h"),
        _text(hx, 22, f"Host {diagram.host or '—'}", limit=46, cls="h"),
        _text(hx, 38, diagram.host_note, limit=52, cls="c"),
        _text(sx, 22, f"Switch {diagram.switch or '—'}", limit=56, cls="h"),
        _text(sx, 38, diagram.switch_note, limit=60, cls="c"),
        _box(hx, _TOP - 8, hw, body + 8, "", rx=10, fill="#f6f8fa"),
        _box(sx, _TOP - 8, sw, body + 8, diagram.switch_status, rx=10, fill="#f6f8fa"),
        _badge(sx + sw - 8, _TOP - 2, diagram.switch_status),
        _cause_tag(sx + 150, 6, diagram.switch_cause, titles, "switch"),
    ]

    # PFs spread over the host box; each one's cable ends on its switch port, at the same height.
    pf_y: dict[str, float] = {}
    port_y: dict[str, float] = {}
    slot = body / max(slots, 1)

    def port(y: float, name: str, status: str, cause: str) -> list[str]:
        caption = "learned here" if name in diagram.learned_here else "switch port"
        port_y.setdefault(name, y + pf_h / 2)
        return [
            _box(sx + 14, y + 3, 112, pf_h - 6, status, rx=4),
            _text(sx + 24, y + 20, name or "port —", limit=14, cls="m"),
            _text(sx + 24, y + 35, caption, limit=14, cls="c"),
            _badge(sx + 126, y - 15, status),
            _cause_tag(sx + 14, y + pf_h - 2, cause, titles, f"port {name}"),
        ]

    for i, pf in enumerate(diagram.pfs):
        y = _TOP + i * slot + (slot - pf_h) / 2
        mid = y + pf_h / 2
        pf_y[pf.name] = mid
        out += [
            _box(px, y, pw, pf_h, pf.status),
            _text(px + 10, y + 19, f"PF {pf.name or '—'}", limit=15, cls="h"),
            _text(px + 10, y + 35, "physical function", limit=18, cls="c"),
            _badge(px + pw - 4, y - 17, pf.status),
            f'<line x1="{px + pw:g}" y1="{mid:g}" x2="{sx + 14:g}" y2="{mid:g}" stroke="#57606a" stroke-width="3"/>',
            *port(y, pf.switch_port, pf.port_status, pf.port_cause),
            _cause_tag(px, y - 17, pf.cause, titles, f"pf {pf.name}"),
        ]
    for k, extra in enumerate(diagram.extra_ports):
        out += port(_TOP + (len(diagram.pfs) + k) * slot + (slot - pf_h) / 2, extra.name, "", extra.cause)
    # Where a PF's VF MACs were really learned: a dashed cable to that port, beside the declared one.
    for pf in diagram.pfs:
        at = port_y.get(pf.learned_port)
        if pf.learned_port and at is not None and pf.name in pf_y:
            bend = (px + pw + sx + 14) / 2
            tip = f"{pf.name}'s VF MACs were learned on {pf.learned_port}; declared: {pf.switch_port}"
            out.append(
                f'<path class="learned-cable" d="M{px + pw:g} {pf_y[pf.name] + 8:g} C{bend:g} {pf_y[pf.name] + 8:g} {bend:g} {at:g} '
                f'{sx + 14:g} {at:g}" fill="none" stroke="{_CAUSE}" stroke-width="2.5" stroke-dasharray="6 4">'
                f"<title>{escape(tip)}</title></path>"
            )

    # One row per VF: container box, VLAN-coloured link, VF chip, curve to its PF.
    seen: set[str] = set()
    for i, vf in enumerate(diagram.vfs):
        y = _TOP + i * row
        mid = y + (_ROW - 10) / 2
        link = colour.get(vf.vlan, "#8c959f")
        first = vf.container not in seen
        seen.add(vf.container)
        out += [
            _box(cx, y, cw, _ROW - 10, vf.container_status),
            f'<rect x="{cx:g}" y="{y:g}" width="5" height="{_ROW - 10}" rx="2" fill="{link}"/>',
            _text(cx + 14, y + 19, vf.container or "—", limit=24 if first else 30, cls="h"),
            _text(cx + 14, y + 37, f"{vf.ifname or '—'}  {vf.address}", limit=34, cls="m"),
            _badge(cx + cw - 6, y + 6, vf.container_status) if first else "",
            f'<line x1="{cx + cw:g}" y1="{mid:g}" x2="{vx:g}" y2="{mid:g}" stroke="{link}" stroke-width="3"/>',
            _text((cx + cw + vx) / 2, mid - 6, f"VLAN {vf.vlan or '—'}", limit=10, cls="c", anchor="middle"),
            _box(vx, y + 3, vw, _ROW - 16, vf.status, rx=4),
            _text(vx + 9, y + 19, f"VF {vf.vf or '—'}", limit=10, cls="h"),
            _text(vx + 9, y + 34, vf.mac or "MAC —", limit=18, cls="m"),
            _badge(vx + vw - 4, y + 6, vf.status),
            _cause_tag(cx + 14, y + _ROW - 14, vf.cause, titles, f"row {vf.container}/{vf.ifname}"),
            _cause_tag(vx, y + _ROW - 14, vf.vf_cause, titles, f"vf {vf.container}/{vf.ifname}"),
        ]
        target = pf_y.get(vf.pf)
        if target is not None:
            bend = (vx + vw + px) / 2
            out.append(
                f'<path d="M{vx + vw:g} {mid:g} C{bend:g} {mid:g} {bend:g} {target:g} {px:g} {target:g}" '
                'fill="none" stroke="#8c959f" stroke-width="1.5"/>'
            )
    if not diagram.vfs:
        out.append(_text(cx + 10, _TOP + 24, "No VF attachments recorded", limit=40, cls="c"))

    # The VLANs' gateways: the switch's L3 interfaces that the containers ping.
    out.append(_text(gx, _TOP + 10, "VLAN gateways", limit=30, cls="c"))
    for j, vlan in enumerate(diagram.vlans):
        y = _TOP + 20 + j * gw_step
        out += [
            _box(gx, y, gw, gw_h - 8, vlan.status, rx=4),
            f'<rect x="{gx:g}" y="{y:g}" width="6" height="{gw_h - 8}" rx="2" fill="{vlan.colour}"/>',
            _text(gx + 14, y + 16, f"VLAN {vlan.id or '—'}  {vlan.name}".rstrip(), limit=30, cls="h"),
            _text(gx + 14, y + 31, f"{vlan.l3_interface or '—'}  {vlan.gateway}".rstrip(), limit=32, cls="m"),
            _badge(gx + gw - 4, y + 4, vlan.status),
            _cause_tag(gx + 14, y + gw_h - 12, vlan.cause, titles, f"vlan {vlan.id}"),
        ]

    # Legend: what the colours mean.
    ly = height - 14
    out.append(_text(cx, ly, "Legend", limit=10, cls="c"))
    x = cx + 52
    parts = [diagram.switch_status, *(v.status for v in diagram.vfs), *(v.container_status for v in diagram.vfs),
             *(p.status for p in diagram.pfs), *(p.port_status for p in diagram.pfs), *(v.status for v in diagram.vlans)]
    waived = "waived" in parts
    for vlan in diagram.vlans[: 3 if waived else 6]:  # room for the waived swatch on the one legend line
        out.append(f'<rect x="{x:g}" y="{ly - 6:g}" width="18" height="4" fill="{vlan.colour}"/>')
        out.append(_text(x + 24, ly, f"VLAN {vlan.id}", limit=10, cls="c"))
        x += 92
    out.append(
        f'<rect x="{x:g}" y="{ly - 10:g}" width="16" height="12" rx="2" fill="#ffebe9" stroke="#cf222e" stroke-width="2"/>'
    )
    out.append(_text(x + 22, ly, "a check on this part failed or could not run", limit=48, cls="c"))
    if waived:
        x += 300
        out.append(
            f'<rect x="{x:g}" y="{ly - 10:g}" width="16" height="12" rx="2" fill="#fff8c5" stroke="#9a6700" stroke-width="2"/>'
        )
        out.append(_text(x + 22, ly, "failed, accepted by the customer (waived)", limit=48, cls="c"))
    out.append("</svg>")
    return "".join(out)


def svg_for(results: RunResults) -> str:
    return render_svg(build_diagram(results))

