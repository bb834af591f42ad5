"""The fleet report: many hosts' results.json merged into one page, one JUnit document, one JSON summary.

Pure: it takes results already loaded (with the path each came from) and returns text. A rack is
accepted host by host, so the page leads with what failed and why (the root causes when the results
carry them, else the failed checks), then the verdict per host, a host x check-kind matrix, and the
switches with when and by which session their evidence was read. Each host links to its own
report.html, beside its results.json, by a relative path, so the fleet directory can be moved whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from junit_xml import TestCase, TestSuite

from sriovcheck.report.grouping import group_checks, printable, show, shown_status, worst
from sriovcheck.report.html import _environment, templates_dir
from sriovcheck.report.junit import _test_case, _timestamp, testsuites_document
from sriovcheck.verify.results import CHECK_KINDS, CheckResult, RunResults

TEMPLATE = "fleet.html.j2"
FLEET_SCHEMA = "sriovcheck-fleet/1"
# Keys a cause of results.json's `causes` (schema 2: `what`) carries its text under, in order of preference.
_CAUSE_TEXT = ("what", "summary", "title", "message", "text", "description")
_CAUSE_REF = ("cause", "cause_id", "causes", "cause_ids")


@dataclass(frozen=True)
class HostRun:
    """One host's results as loaded: the path of its results.json and the raw JSON (for the keys
    that the result model does not carry, such as `causes`)."""

    path: Path
    results: RunResults
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cause:
    id: str
    text: str
    checks: list[str]  # "<kind> <target>" of the checks that name it


@dataclass
class Failure:
    kind: str
    target: str
    status: str
    message: str


@dataclass
class HostView:
    name: str
    topology: str
    verdict: str
    counts: dict[str, int]
    report_href: str
    results_path: str
    switch: str
    switch_source: str
    evidence_read_at: str
    evidence_session: str
    started: str
    cells: dict[str, tuple[str, str]]  # kind -> (worst shown status, "passed/total")
    failures: list[Failure]
    causes: list[Cause]
    anchor: str


@dataclass
class SwitchView:
    name: str
    addresses: list[str]
    sources: list[str]
    read_at: list[str]
    sessions: list[str]
    hosts: list[str]


def _text(value: Any) -> str:
    return "" if value is None else printable(value).strip()


def _href(results_path: Path, base_dir: Path | None) -> str:
    """report.html beside results.json, relative to the fleet page's directory, as a URL path."""
    target = results_path.with_name("report.html")
    rel = target.as_posix() if base_dir is None else os.path.relpath(os.path.abspath(target), os.path.abspath(base_dir))
    # Percent-encode every character a path could use to leave the file (":" of a scheme, "?", "#").
    return quote(PurePosixPath(rel.replace(os.sep, "/")).as_posix(), safe="/._-~")


def _refs(value: Any) -> list[str]:
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def _check_refs(check: CheckResult, raw_check: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for source in (raw_check, check.details if isinstance(check.details, dict) else {}):
        for key in _CAUSE_REF:
            found.extend(_refs(source.get(key)))
    return list(dict.fromkeys(found))


def _causes(run: HostRun) -> list[Cause]:
    raw_causes = run.raw.get("causes")
    if not isinstance(raw_causes, list):
        return []
    found = run.raw.get("checks")
    raw_checks: list[Any] = found if isinstance(found, list) else []
    by_id: dict[str, Cause] = {}
    for index, item in enumerate(raw_causes):
        if not isinstance(item, dict):
            continue
        cause_id = _text(item.get("id")) or f"cause-{index + 1}"
        text = next((_text(item.get(k)) for k in _CAUSE_TEXT if _text(item.get(k))), "")
        by_id[cause_id] = Cause(cause_id, text or cause_id, [])
    for i, check in enumerate(run.results.checks):
        raw_check = raw_checks[i] if i < len(raw_checks) and isinstance(raw_checks[i], dict) else {}
        for ref in _check_refs(check, raw_check):
            if ref in by_id:
                by_id[ref].checks.append(f"{_text(check.kind)} {_text(check.target)}")
    return list(by_id.values())


def _host_name(run: HostRun) -> str:
    return _text(run.results.host.get("name")) or _text(run.results.topology.get("name")) or run.path.parent.name


def _cells(checks: list[CheckResult]) -> dict[str, tuple[str, str]]:
    by_kind: dict[str, list[str]] = {}
    for check in checks:
        by_kind.setdefault(_text(check.kind), []).append(shown_status(check))
    return {
        kind: (worst(statuses), f"{sum(1 for s in statuses if s in ('pass', 'waived'))}/{len(statuses)}")
        for kind, statuses in by_kind.items()
    }


def host_view(run: HostRun, index: int, base_dir: Path | None) -> HostView:
    r = run.results
    ordered = [c for g in group_checks(r) for c in g.checks]
    counts = dict.fromkeys(("pass", "fail", "waived", "error", "skip"), 0)
    for check in ordered:
        counts[shown_status(check)] += 1
    failures = [
        Failure(_text(c.kind), _text(c.target), shown_status(c), _text(c.message) or _text(c.observed))
        for c in ordered
        if shown_status(c) in ("fail", "error")
    ]
    sw = r.switch
    return HostView(
        name=_host_name(run),
        topology=_text(r.topology.get("name")),
        verdict=r.verdict,
        counts=counts,
        report_href=_href(run.path, base_dir),
        results_path=_text(run.path),
        switch=_text(sw.get("name")),
        switch_source=_text(sw.get("source")),
        evidence_read_at=_text(sw.get("evidence_read_at")),
        evidence_session=_text(sw.get("evidence_session")),
        started=_text(r.started),
        cells=_cells(ordered),
        failures=failures,
        causes=_causes(run),
        anchor=f"host-{index}",
    )


@dataclass
class FleetView:
    hosts: list[HostView]
    switches: list[SwitchView]
    kinds: list[str]

    @property
    def verdict(self) -> str:
        return "pass" if self.hosts and all(h.verdict == "pass" for h in self.hosts) else "fail"

    @property
    def failing(self) -> list[HostView]:
        return [h for h in self.hosts if h.verdict != "pass"]


def fleet_view(runs: list[HostRun], base_dir: Path | None = None) -> FleetView:
    """Hosts that failed first (in the order given), then those that passed."""
    in_order = [host_view(run, i, base_dir) for i, run in enumerate(runs)]
    views = sorted(in_order, key=lambda h: h.verdict == "pass")  # stable: the given order within each group
    seen = {k for h in views for k in h.cells}
    kinds = [k for k in CHECK_KINDS if k in seen] + sorted(seen - set(CHECK_KINDS))
    switches: dict[str, SwitchView] = {}
    for run, view in zip(runs, in_order, strict=True):
        entry = switches.setdefault(view.switch, SwitchView(view.switch, [], [], [], [], []))
        for bucket, value in (
            (entry.addresses, _text(run.results.switch.get("address"))),
            (entry.sources, view.switch_source), (entry.read_at, view.evidence_read_at), (entry.sessions, view.evidence_session)
        ):
            if value and value not in bucket:
                bucket.append(value)
        entry.hosts.append(view.name)
    return FleetView(views, list(switches.values()), kinds)


# --- HTML ---------------------------------------------------------------------------------------


def _source_text(source: str) -> str:
    if source == "ssh":
        return "live session over SSH, by the host"
    if source.startswith("files:"):
        return f"saved outputs in {source[len('files:'):]}"
    return show(source)


def render_fleet_html(runs: list[HostRun], *, base_dir: Path | None = None, title: str = "",
                      view: FleetView | None = None) -> str:
    """The fleet page; `base_dir` is the directory it will be written to (links are relative to it).
    `view`: fleet_view(runs, base_dir) when the caller has it already (each host's view walks all its checks)."""
    view = view or fleet_view(runs, base_dir)
    template = _environment(str(templates_dir())).get_template(TEMPLATE)
    passed = sum(1 for h in view.hosts if h.verdict == "pass")
    return template.render(
        title=printable(title) or "sriovcheck fleet report",
        verdict=view.verdict,
        hosts=view.hosts,
        failing=view.failing,
        switches=[
            {
                "name": s.name or "\u2014", "address": ", ".join(s.addresses) or "\u2014", "hosts": s.hosts,
                "sources": [_source_text(x) for x in s.sources] or ["\u2014"],
                "read_at": s.read_at, "sessions": s.sessions,
            }
            for s in view.switches
        ],
        kinds=view.kinds,
        summary=f"{passed} of {len(view.hosts)} host{'s' if len(view.hosts) != 1 else ''} passed",
        n_hosts=len(view.hosts),
        n_passed=passed,
    )


# --- JSON ---------------------------------------------------------------------------------------


def fleet_summary(runs: list[HostRun], *, base_dir: Path | None = None, view: FleetView | None = None) -> dict[str, Any]:
    view = view or fleet_view(runs, base_dir)
    return {
        "schema": FLEET_SCHEMA,
        "verdict": view.verdict,
        "hosts_total": len(view.hosts),
        "hosts_passed": sum(1 for h in view.hosts if h.verdict == "pass"),
        "hosts_failed": [h.name for h in view.failing],
        "hosts": [
            {
                "name": h.name,
                "topology": h.topology,
                "verdict": h.verdict,
                "counts": h.counts,
                "results": h.results_path,
                "report": h.report_href,
                "switch": h.switch,
                "switch_source": h.switch_source,
                "evidence_read_at": h.evidence_read_at or None,
                "evidence_session": h.evidence_session or None,
                "kinds": {k: v[0] for k, v in h.cells.items()},
                "causes": [{"id": c.id, "text": c.text, "checks": c.checks} for c in h.causes],
                "failures": [{"kind": f.kind, "target": f.target, "status": f.status, "message": f.message} for f in h.failures],
            }
            for h in view.hosts
        ],
        "switches": [
            {"name": s.name, "addresses": s.addresses, "hosts": s.hosts, "sources": s.sources,
             "evidence_read_at": s.read_at, "evidence_sessions": s.sessions}
            for s in view.switches
        ],
    }


def render_fleet_json(runs: list[HostRun], *, base_dir: Path | None = None, view: FleetView | None = None) -> str:
    return json.dumps(fleet_summary(runs, base_dir=base_dir, view=view), indent=2, ensure_ascii=False) + "\n"


# --- JUnit --------------------------------------------------------------------------------------


def _host_suite(run: HostRun, name: str) -> TestSuite:
    r = run.results
    cases: list[TestCase] = []
    for group in group_checks(r):
        where = printable(group.target) or "run"
        for check in group.checks:
            cases.append(_test_case(check, ".".join(("sriovcheck", name, where))))
    if not r.checks:
        empty = TestCase(name="no-checks", classname=f"sriovcheck.{name}")
        empty.add_error_info(message="no checks ran: this host's results.json holds no evidence, and no evidence is not a pass")
        cases.append(empty)
    sw = r.switch
    properties = {
        "host": name,
        "topology": printable(r.topology.get("name")),
        "results": printable(run.path),
        "switch": printable(sw.get("name")),
        "switch_source": printable(sw.get("source")),
        "evidence_read_at": printable(sw.get("evidence_read_at")),
        "evidence_session": printable(sw.get("evidence_session")),
        "verdict": r.verdict,
    }
    return TestSuite(name, cases, hostname=name or None, timestamp=_timestamp(r.started), properties=properties)


def render_fleet_junit(runs: list[HostRun]) -> str:
    """One document, one <testsuite> per host (named after the host), one <testcase> per check."""
    suites = []
    names: dict[str, int] = {}
    for run in runs:
        name = _host_name(run)
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:  # two results of the same host: keep both suites apart
            name = f"{name}#{names[name]}"
        suites.append(_host_suite(run, name))
    if not runs:
        empty = TestSuite("fleet", [TestCase(name="no-hosts", classname="sriovcheck.fleet")])
        empty.test_cases[0].add_error_info(message="no results were given: no host is not a pass")
        suites.append(empty)
    return testsuites_document("sriovcheck fleet", suites)
