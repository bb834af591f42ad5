"""report.html: one self-contained page (inline CSS and SVG, no scripts) rendered from `RunResults`.

Everything shown goes through `printable` and jinja2's autoescape; the only markup not built by the
template is the diagram SVG, whose texts `diagram.render_svg` escapes itself. Output is a pure
function of the results (no clock, stable order), so re-rendering a results.json is byte-identical.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from sriovcheck.errors import ReportError
from sriovcheck.report.diagram import svg_for
from sriovcheck.report.grouping import (
    DASH,
    CheckGroup,
    count_statuses,
    facts,
    finite_seconds,
    group_checks,
    kind_rank,
    printable,
    show,
    shown_status,
    worst,
)
from sriovcheck.resources import find_template_dir
from sriovcheck.switch.platforms import RESULT_KEYS, reported_os
from sriovcheck.verify.results import CheckResult, RunResults, waiver_of

if TYPE_CHECKING:
    import jinja2

TEMPLATE = "report.html.j2"


def templates_dir() -> Path:
    """The installed wheel's sriovcheck/templates, else the checkout's top-level templates/."""
    found, checkout = find_template_dir(TEMPLATE)
    if found is not None:
        return found
    raise ReportError(
        f"report template {TEMPLATE} not found in the sriovcheck package or in {checkout}",
        hint="reinstall sriovcheck (the wheel ships sriovcheck/templates/)",
    )


@functools.lru_cache(maxsize=4)
def _environment(directory: str) -> jinja2.Environment:
    # jinja2 is imported here, when a page is rendered: the JUnit writer shares this module's grouping, and
    # `verify --no-html` (each host's verify on a rack) needs no template engine (~40 ms of its start).
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# --- the view the template sees: text only, already made printable ----------------------------


@dataclass
class EvidenceView:
    source: str
    command: str
    output: str


@dataclass
class CheckView:
    anchor: str
    kind: str
    status: str
    expected: str
    observed: str
    message: str
    duration: str
    evidence: list[EvidenceView]
    details: list[tuple[str, str]]
    waiver: str = ""  # why the customer accepted this failure (status "waived")
    target: str = ""
    cause: str = ""  # id of the root cause that explains this check, "" when none does


@dataclass
class CauseView:
    id: str
    anchor: str
    what: str
    where: str
    evidence: list[str]
    fix: str
    explains: list[tuple[str, str]]  # (check "kind target", anchor of its row)


@dataclass
class GroupView:
    anchor: str
    title: str
    ifname: str
    status: str
    facts: list[tuple[str, str]]
    checks: list[CheckView]
    cells: dict[str, CheckView] = field(default_factory=dict)
    pf: str = ""  # host port groups only


@dataclass
class ContainerView:
    anchor: str
    name: str
    status: str
    counts: dict[str, int]
    vfs: list[GroupView]


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.0005 else "<1 ms"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _run_duration(started: str, finished: str) -> str:
    try:
        delta = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return DASH
    return _duration(delta) if delta >= 0 else DASH


def _attachment_facts(att: dict[str, Any]) -> list[tuple[str, str]]:
    vlan_name = f" ({show(att['vlan_name'])})" if att.get("vlan_name") else ""
    l3 = f" on {show(att['l3_interface'])}" if att.get("l3_interface") else ""
    return [
        ("PF / VF", f"{show(att.get('pf'))} VF {show(att.get('vf'))}"),
        ("PCI address", show(att.get("pci_address"))),
        ("VLAN", show(att.get("vlan")) + vlan_name),
        ("Address", show(att.get("address"))),
        ("Gateway", show(att.get("gateway")) + l3),
        ("MAC", show(att.get("mac"))),
        ("Switch port", show(att.get("switch_port"))),
        ("Image", show(att.get("image"))),
    ]


# Already shown by the group heading (and, with an attachment, by its chips); the waiver has its own line.
_DETAIL_SKIP = ("container", "ifname", "waiver")
_DETAIL_SKIP_ATTACHED = (*_DETAIL_SKIP, "pf", "vf", "vlan")


def _check_view(check: CheckResult, anchor: str, skip: tuple[str, ...]) -> CheckView:
    evidence = [
        EvidenceView(
            source=show(getattr(ev, "source", "")),
            command=printable(getattr(ev, "command", "")) or DASH,
            output=printable(getattr(ev, "output", "")) or "(no output)",
        )
        for ev in (check.evidence or [])
    ]
    seconds = finite_seconds(check.duration_s)
    status = shown_status(check)
    return CheckView(
        anchor=anchor,
        kind=show(check.kind),
        status=status,
        expected=show(check.expected),
        observed=show(check.observed),
        message=show(check.message),
        duration=_duration(seconds) if seconds else DASH,
        evidence=evidence,
        details=facts(check.details, skip),
        waiver=show(waiver_of(check)) if status == "waived" else "",
        target=show(check.target),
        cause=printable(check.cause or ""),
    )


def _group_view(group: CheckGroup, index: int) -> GroupView:
    skip = _DETAIL_SKIP_ATTACHED if group.attachment else (*_DETAIL_SKIP, "pf", "switch_port") if group.pf else _DETAIL_SKIP
    checks = [_check_view(c, f"check-{index}-{j}", skip) for j, c in enumerate(group.checks)]
    cells: dict[str, CheckView] = {}
    for view in checks:
        if view.kind not in cells or view.status == worst([view.status, cells[view.kind].status]):
            cells[view.kind] = view
    att = group.attachment
    chips = _attachment_facts(att) if att else []
    if group.pf is not None:
        chips = [("PF", show(group.pf)), ("Switch port", show(group.switch_port))]
    return GroupView(
        anchor=f"group-{index}",
        title=show(group.target),
        ifname=show(group.ifname),
        status=worst([c.status for c in checks]),
        facts=chips,
        pf=show(group.pf) if group.pf is not None else "",
        checks=checks,
        cells=cells,
    )


_DRIVERS = {"linux": "Linux SR-IOV (sysfs and netlink)", "emulated": "Emulated NIC (lab: network namespaces)"}
_KNOWN = {
    "topology": ("name", "file", "sha256", "description"),
    "host": ("name", "kernel", "driver", "nic_drivers", "lab", "lab_image", "vm_lab"),
    "switch": ("name", "address", "model", *RESULT_KEYS, "source", "host_key_fingerprint"),
}


_LABELS = {"username": "Username", "hostname": "Hostname (as reported)", "style": "Switch style", "machine": "Machine"}


def _label(key: str) -> str:
    """A fact's label in the report's case: "Machine", "Switch style"."""
    return _LABELS.get(key, key.replace("_", " ")[:1].upper() + key.replace("_", " ")[1:])


def _source(value: Any) -> str:
    text = str(value or "")
    if text == "ssh":
        return "live session over SSH"
    if text.startswith("files:"):
        return f"saved command outputs in {printable(text[len('files:'):]) or DASH} (no login)"
    return show(value)


def _lab_note(results: RunResults) -> str:
    host = results.host
    if host.get("vm_lab"):
        return (f"{show(host['vm_lab'])}. The real host driver (sysfs and netlink) drove an emulated SR-IOV NIC in a "
                "guest kernel on this machine, with real docker and a VLAN-filtering bridge as the switch: not SR-IOV "
                "hardware, and not the namespace lab.")
    if not host.get("lab") and host.get("driver") != "emulated":
        return ""
    note = "Emulated lab: the NIC and the switch ran in network namespaces on this machine, not on SR-IOV hardware."
    lab_image = host.get("lab_image")
    if lab_image:
        images = [str(a.get("image")) for a in results.attachments if isinstance(a, dict) and a.get("image")]
        wanted = [i for i in dict.fromkeys(images) if i != str(lab_image)]
        instead = f" ({show(wanted)})" if wanted else ""
        note += f" Containers ran the lab image {show(lab_image)} instead of the topology's image{instead}."
    return note


_HANDOVER = (
    ("customer", "Customer"),
    ("site", "Site"),
    ("rack", "Rack"),
    ("executed_by", "Executed by"),
    ("witnessed_by", "Witnessed by"),
)


@dataclass
class HandoverView:
    facts: list[tuple[str, str]]
    notes: str
    executed_by: str
    witnessed_by: str


def _handover(results: RunResults) -> HandoverView | None:
    """The handover block of the first page; None when results.json has none (nothing is shown)."""
    data = results.handover if isinstance(results.handover, dict) else {}
    if not any(v not in (None, "", [], {}) for v in data.values()):
        return None
    known = [(label, show(data.get(key))) for key, label in _HANDOVER]
    others = facts(data, (*(k for k, _ in _HANDOVER), "notes", "waivers"))
    notes = data.get("notes")
    text = "\n".join(show(n) for n in notes) if isinstance(notes, list) else printable(notes).strip() if notes else ""
    return HandoverView(known + others, text, printable(data.get("executed_by")), printable(data.get("witnessed_by")))


def _signed_what(results: RunResults, summary: str) -> str:
    """What the signatures confirm: this run of this topology file, and its verdict."""
    sha = printable(str(results.topology.get("sha256") or "")[:12])
    of = f" (topology file SHA-256 {sha}…)" if sha else ""
    return (
        f"The signatories confirm that sriovcheck verified topology {show(results.topology.get('name'))}{of} "
        f"on host {show(results.host.get('name'))} from {show(results.started)} to {show(results.finished)} "
        f"with the verdict {results.verdict.upper()}: {summary}"
    )


def _view(results: RunResults) -> dict[str, Any]:
    topo, host, switch = results.topology, results.host, results.switch
    groups = group_checks(results)
    group_views = [_group_view(g, i) for i, g in enumerate(groups)]
    containers: list[ContainerView] = []
    others: list[GroupView] = []
    host_ports: list[GroupView] = []
    for group, view in zip(groups, group_views, strict=True):
        if group.container is None:
            (host_ports if group.pf is not None else others).append(view)
            continue
        if not containers or containers[-1].name != show(group.container):
            containers.append(ContainerView(f"container-{len(containers)}", show(group.container), "", {}, []))
        containers[-1].vfs.append(view)
    for container in containers:
        container.status = worst([v.status for v in container.vfs])
        container.counts = count_statuses([c for g in groups if show(g.container) == container.name for c in g.checks])

    counts = count_statuses(results.checks)
    total = len(results.checks)
    verdict = results.verdict
    waived = counts["waived"]
    deviations = f"{waived} deviation{'s' if waived != 1 else ''} accepted by the customer (waived)"
    if not total:
        summary = "No checks ran: no evidence is not a pass."
    elif verdict == "pass" and waived:
        summary = f"{counts['pass']} checks passed; {deviations}" + (f"; {counts['skip']} skipped." if counts["skip"] else ".")
    elif verdict == "pass":
        summary = f"All {total - counts['skip']} checks that ran passed" + (
            f"; {counts['skip']} skipped." if counts["skip"] else "."
        )
    else:
        parts = [f"{counts['fail']} failed"] if counts["fail"] else []
        parts += [f"{counts['error']} could not run (error)"] if counts["error"] else []
        summary = f"{', '.join(parts) or 'no check passed'} out of {total} checks" + (f"; {deviations}." if waived else ".")
    every_check = [c for g in group_views for c in g.checks]
    handover = _handover(results)
    sha = str(topo.get("sha256") or "")
    kinds = list(dict.fromkeys(k for g in group_views for k in g.cells))
    kinds.sort(key=kind_rank)

    def extra(section: str, data: dict[str, Any]) -> list[tuple[str, str]]:
        # Labels as the known ones are written: "Machine", "Username", not the raw keys.
        return [(_label(k), v) for k, v in facts(data, _KNOWN[section])]

    anchors = {f"{c.kind} {c.target}": c.anchor for c in every_check}
    causes = [
        CauseView(
            id=printable(cause.id),
            anchor=f"cause-{printable(cause.id)}",
            what=show(cause.what),
            where=show(cause.where),
            evidence=[show(e) for e in cause.evidence],
            fix=show(cause.fix),
            explains=[(printable(k), anchors.get(k, "")) for k in cause.explains],
        )
        for cause in results.causes
    ]

    return {
        "verdict": verdict,
        "summary": summary,
        "counts": counts,
        "total": total,
        "title": show(topo.get("name")),
        "switch_name": show(switch.get("name")),
        "description": printable(topo.get("description")),
        "run": [
            ("Topology", show(topo.get("name"))),
            ("Topology file", show(topo.get("file"))),
            ("sriovcheck version", show(results.sriovcheck_version)),
            ("Started", show(results.started)),
            ("Finished", show(results.finished)),
            ("Duration", _run_duration(results.started, results.finished)),
            ("Run by", show(results.run_by)),
            *extra("topology", topo),
            *([("Raw evidence for support", f"{show(results.evidence_bundle).rstrip('/')}/")] if results.evidence_bundle else []),
        ],
        "sha_short": printable(sha[:12]) or DASH,
        "sha_full": printable(sha) or DASH,
        "host": [
            ("Host", show(host.get("name"))),
            ("Kernel", show(host.get("kernel"))),
            ("Driver", _DRIVERS.get(str(host.get("driver")), show(host.get("driver")))),
            ("NIC drivers", show(host.get("nic_drivers"))),
            ("Lab", show(bool(host.get("lab"))) + (f", image {show(host['lab_image'])}" if host.get("lab_image") else "")),
            *([("VM lab", show(host["vm_lab"]))] if host.get("vm_lab") else []),
            *extra("host", host),
        ],
        "switch": [
            ("Switch", show(switch.get("name"))),
            ("Address", show(switch.get("address"))),
            ("Model", show(switch.get("model"))),
            ("OS version (as reported)", show(" ".join(x for x in reported_os(switch) if x) or None)),
            ("Evidence from", _source(switch.get("source"))),
            *extra("switch", switch),
        ],
        "fingerprint": show(switch.get("host_key_fingerprint")),
        "lab_note": _lab_note(results),
        "notes": [show(n) for n in results.notes],
        "diagram": Markup(svg_for(results)),  # noqa: S704 - render_svg escapes every text it draws
        "kinds": kinds,
        "matrix": group_views,
        "containers": containers,
        "host_ports": host_ports,
        "host_status": worst([g.status for g in host_ports]),
        "host_name": show(host.get("name")),
        "others": others,
        "handover": handover,
        "failures": [c for c in every_check if c.status in ("fail", "error")],
        "causes": causes,
        "unexplained": [c for c in every_check if c.status in ("fail", "error") and not c.cause],
        "deviations": [c for c in every_check if c.status == "waived"],
        "signed_what": _signed_what(results, summary),
        "schema_version": show(results.schema_version),
    }


def render_html(results: RunResults) -> str:
    """The whole report.html as a string; the same results always give the same bytes."""
    template = _environment(str(templates_dir())).get_template(TEMPLATE)
    return template.render(**_view(results))
