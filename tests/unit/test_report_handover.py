"""report.html and junit.xml for handovers: the handover block and sign-off on the first page,
deviations (waived failures) apart from failures, acceptance checks per VF, PF-level checks under
"Host ports", the evidence bundle named; hostile handover strings inert; deterministic; XSD-valid.

handover-waived-pass.json and handover-fail-evidence.json are real emulated-lab runs of a topology
with a handover section waiving the mtu checks (switch port MTU lowered to 1400 by `lab fault
port-mtu`); the second also had `lab fault gateway-down 201`, so it failed and wrote an evidence
bundle."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped
from lxml import etree

from sriovcheck.report.diagram import build_diagram, render_svg
from sriovcheck.report.grouping import count_statuses, group_checks, shown_status
from sriovcheck.report.html import render_html
from sriovcheck.report.junit import render_junit
from sriovcheck.report.writer import rerender, write_reports
from sriovcheck.verify.results import CHECK_KINDS, RunResults

DATA = Path(__file__).resolve().parent.parent / "data"
WAIVED, FAILED = "handover-waived-pass", "handover-fail-evidence"
C200, C201 = "h12d-c200/eth1", "h12d-c201/eth1"
REASON = "Switch port ge-0/0/1 runs MTU 1400 until the core upgrade (CHG-20533); the application sends at most 1200-byte frames."
HOSTILE = {
    "customer": "<script>alert('c')</script> & Söhne",
    "site": '"><img src=x onerror=alert(1)>',
    "rack": "\x1b[31mB-14\x1b[0m\x00\u202erack",
    "executed_by": "Jana </p><p onclick=alert(2)>",
    "witnessed_by": "{{ 7*7 }} {% raw %}",
    "notes": "line one\n<b>not bold</b>\r\nline three",
}


def load(name: str) -> RunResults:
    path = DATA / "results" / f"{name}.json"
    if not path.exists():
        path = DATA / "results" / "diff" / f"{name}.json"
    return RunResults.from_json(path.read_text())


class Page(HTMLParser):
    """Elements with attributes, and the text under every section (by aria-label) and class."""

    VOID = frozenset({"meta", "col", "br", "rect", "line", "path", "img", "input", "hr"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[tuple[str, list[str]]] = []
        self.texts: dict[str, list[str]] = {}
        self.order: list[str] = []  # aria-labels of sections, in document order
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag in self.VOID:
            return
        names = [f".{c}" for c in attributes.get("class", "").split()] + [tag]
        if "aria-label" in attributes:
            names.append(attributes["aria-label"])
            if tag == "section":
                self.order.append(attributes["aria-label"])
        self.stack.append((tag, names))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if any(t == tag for t, _ in self.stack):
            while self.stack and self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        for name in {n for _, names in self.stack for n in names}:
            self.texts.setdefault(name, []).append(data)

    def text(self, name: str = "body") -> str:
        return " ".join(" ".join(self.texts.get(name, [])).split())


def page_of(results: RunResults) -> tuple[str, Page]:
    html = render_html(results)
    return html, Page(html)


# --- handover and sign-off ------------------------------------------------------------------------


def test_handover_and_sign_off_come_first_with_every_field() -> None:
    results = load(WAIVED)
    _, page = page_of(results)
    assert page.order[:5] == ["Verdict", "Handover", "Deviations", "Sign-off", "Run metadata"]
    handover = page.text("Handover")
    for label, value in (("Customer", "Nordwind Logistik GmbH"), ("Site", "Hamburg DC2, hall B"), ("Rack", "B-14 (U21-U22)"),
                         ("Executed by", "Jana Kowalski (integrator)"),
                         ("Witnessed by", "Per Lindqvist (Nordwind network operations)")):
        assert f"{label} {value}" in handover
    # Notes keep their line breaks (shown with pre-wrap).
    notes = " ".join(page.texts[".handover-notes"])
    assert "change CHG-20417.\nThe switch port stays at MTU 1400" in notes
    signoff = page.text("Sign-off")
    assert signoff.count("Signature") == 2 and signoff.count("Date and place") == 2
    assert "Executed by Jana Kowalski (integrator)" in signoff
    assert "Witnessed by (customer) Per Lindqvist (Nordwind network operations)" in signoff
    sha = str(results.topology["sha256"])[:12]
    assert f"verified topology h12d (topology file SHA-256 {sha}\u2026) on host worker2" in signoff
    assert "with the verdict PASS: 22 checks passed; 2 deviations accepted by the customer (waived); 2 skipped." in signoff


def test_no_handover_no_handover_block_and_no_sign_off() -> None:
    for name in ("seed-lab-pass", "1-pass"):
        html, page = page_of(load(name))
        assert "Handover" not in page.order and "Sign-off" not in page.order
        assert "Signature" not in page.text() and 'class="signoff' not in html


def test_partial_handover_leaves_name_lines_to_fill_in() -> None:
    results = load(WAIVED)
    results.handover = {"customer": "ACME", "executed_by": "", "witnessed_by": None, "ticket": "INC-42"}
    html, page = page_of(results)
    assert "Customer ACME" in page.text("Handover") and "ticket INC-42" in page.text("Handover")
    assert "Site \u2014" in page.text("Handover")
    assert html.count('class="sig-blank"') == 2
    results.handover = {"customer": "", "notes": None}
    assert "Handover" not in page_of(results)[1].order  # nothing but empty values: no block


def test_hostile_handover_strings_are_text() -> None:
    results = load(WAIVED)
    results.handover = dict(HOSTILE)
    html, page = page_of(results)
    tags = {tag for tag, _ in page.elements}
    assert "script" not in tags and "img" not in tags and "b" not in tags
    assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    handover = page.text("Handover")
    assert "<script>alert('c')</script> & Söhne" in handover
    assert '"><img src=x onerror=alert(1)>' in handover
    assert "{{ 7*7 }} {% raw %}" in handover  # data, never template code
    assert "B-14\\x00\\u202erack" in handover and "[31m" not in handover
    assert "<b>not bold</b>" in handover
    assert "Jana </p><p onclick=alert(2)>" in page.text("Sign-off")
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", html)


# --- deviations and failures ------------------------------------------------------------------------


def test_waived_failures_are_deviations_not_failures() -> None:
    results = load(WAIVED)
    assert results.verdict == "pass" and results.counts()["fail"] == 2
    html, page = page_of(results)
    assert "Failures" not in page.order
    deviations = page.text("Deviations")
    assert deviations.count(REASON) == 2
    assert f"{C200} mtu VF MTU 1500 in the container" in deviations and f"{C201} mtu" in deviations
    assert "DF ping 0/2, switch port ge-0/0/1 MTU 1400" in deviations
    verdict = page.text("Verdict")
    assert "PASS" in verdict and "22 passed" in verdict and "0 failed" in verdict and "2 waived" in verdict
    # In the per-VF table: its own badge and row style, the reason next to the message, evidence open.
    assert html.count('<tbody class="check check-waived"') == 2
    assert page.text(".waiver").count(f"Accepted by the customer: {REASON}") == 2
    assert "waiver" not in page.text(".details")  # not repeated as a raw detail


def test_failures_and_deviations_each_in_their_section() -> None:
    _, page = page_of(load(FAILED))
    # root causes first among the failures (a file without causes: its failures, as not explained)
    assert page.order[:7] == ["Verdict", "Handover", "Root causes", "Failures", "Deviations", "Sign-off", "Run metadata"]
    failures, deviations = page.text("Failures"), page.text("Deviations")
    assert f"{C201} gateway-ping" in failures and "0/3 replies, 100% loss" in failures
    assert "no reply from gateway 192.168.201.1" in failures and "mtu" not in failures
    assert f"{C200} mtu" in deviations and REASON in deviations and "gateway-ping" not in deviations
    assert "1 failed out of 26 checks; 1 deviation accepted by the customer (waived)." in page.text("Verdict")
    # Each finding links to its row in the container section.
    anchors = {a["id"] for _, a in page.elements if "id" in a}
    links = [a["href"][1:] for t, a in page.elements if t == "a" and a.get("href", "").startswith("#check-")]
    assert links and set(links) <= anchors


def test_error_is_a_failure_and_an_error_cannot_be_waived() -> None:
    results = load(WAIVED)
    check = next(c for c in results.checks if c.kind == "mtu" and c.target == C201)
    check.status = "error"
    assert shown_status(check) == "error"
    _, page = page_of(results)
    assert f"{C201} mtu" in page.text("Failures") and f"{C201} mtu" not in page.text("Deviations")
    assert count_statuses(results.checks) == {"pass": 22, "fail": 0, "waived": 1, "error": 1, "skip": 2}


def test_hostile_waiver_reason_is_text() -> None:
    results = load(WAIVED)
    check = next(c for c in results.checks if c.kind == "mtu" and c.target == C200)
    check.details["waiver"] = "<script>x()</script>\x1b[2J\u202e ok"
    html, page = page_of(results)
    assert "script" not in {t for t, _ in page.elements}
    assert "<script>x()</script>\\u202e ok" in page.text("Deviations")
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", html)


# --- acceptance checks, host ports, evidence bundle ------------------------------------------------


def test_acceptance_checks_in_the_per_vf_tables_in_kind_order() -> None:
    for name in (WAIVED, "4-run-with-teardown"):
        results = load(name)
        groups = {g.target: g for g in group_checks(results)}
        kinds = [c.kind for c in groups[C200].checks]
        assert kinds == sorted(kinds, key=CHECK_KINDS.index)
        assert {"mtu", "switch-port", "vf-path", "vlan-isolation"} <= set(kinds)
    assert kinds[-1] == "teardown-clean"
    _, page = page_of(results)
    section = page.text("Container h12d-c200")
    for kind in ("mtu", "switch-port", "vf-path", "vlan-isolation", "teardown-clean"):
        assert kind in section
    assert "teardown-clean" in page.text(".matrix")


def test_pf_level_checks_form_the_host_ports_group() -> None:
    results = load(WAIVED)
    groups = group_checks(results)
    ports = [g for g in groups if g.pf is not None]
    assert [(g.target, g.pf, g.switch_port, [c.kind for c in g.checks]) for g in ports] == [
        ("worker2:enh12", "enh12", "ge-0/0/1", ["cabling"])]
    # After the containers, before the switch.
    assert [g.target for g in groups if g.container is None] == ["worker2:enh12", "ex-switch"]
    _, page = page_of(results)
    assert page.order.index("Host ports") < page.order.index("Checks on ex-switch")
    host_ports = page.text("Host ports")
    assert host_ports.startswith("Host ports worker2 PASS")
    assert "PF enh12 PASS PF enh12 Switch port ge-0/0/1" in host_ports
    assert "LLDP neighbour on ge-0/0/1: host worker2, port enh12" in host_ports
    assert "cabling" not in page.text("Checks on ex-switch")


def test_failed_cabling_marks_the_pf_in_the_diagram() -> None:
    results = load(WAIVED)
    cabling = next(c for c in results.checks if c.kind == "cabling")
    assert build_diagram(results).pfs[0].status == "pass"
    cabling.status = "fail"
    diagram = build_diagram(results)
    assert (diagram.pfs[0].name, diagram.pfs[0].status) == ("enh12", "fail")
    assert diagram.switch_status == "pass"  # the PF's cabling is not the switch's fault
    cabling.details["waiver"] = "LLDP disabled by the customer's policy"
    assert build_diagram(results).pfs[0].status == "waived"


def test_waived_parts_are_amber_in_the_diagram_with_a_legend() -> None:
    results = load(WAIVED)
    diagram = build_diagram(results)
    assert {v.container: v.container_status for v in diagram.vfs} == {"h12d-c200": "waived", "h12d-c201": "waived"}
    svg = render_svg(diagram)
    assert svg.count(">WAIVED</text>") == 2 and "accepted by the customer (waived)" in svg
    assert "accepted by the customer" not in render_svg(build_diagram(load("1-pass")))


def test_evidence_bundle_is_named_in_the_run_metadata() -> None:
    _, page = page_of(load(FAILED))
    assert "Raw evidence for support evidence/" in page.text("Run metadata")
    results = load(FAILED)
    results.evidence_bundle = "evidence-<b>/"
    assert "Raw evidence for support evidence-<b>/ " in page_of(results)[1].text("Run metadata") + " "
    _, page = page_of(load(WAIVED))
    assert "Raw evidence" not in page.text()


# --- determinism ----------------------------------------------------------------------------------


def test_deterministic_and_round_trip_and_rerender(tmp_path: Path) -> None:
    for name in (WAIVED, FAILED):
        results = load(name)
        html, xml = render_html(results), render_junit(results)
        again = RunResults.from_json(results.to_json())
        assert render_html(again) == html and render_junit(again) == xml
        paths = write_reports(results, tmp_path / name)
        first = paths.html.read_bytes(), paths.junit.read_bytes()
        rerender(paths.results_json, paths.html, paths.junit)
        assert (paths.html.read_bytes(), paths.junit.read_bytes()) == first


def test_render_does_not_depend_on_hash_seed() -> None:
    code = (
        "import sys; from pathlib import Path; from sriovcheck.verify.results import RunResults;"
        "from sriovcheck.report.html import render_html; from sriovcheck.report.junit import render_junit;"
        f"r = RunResults.from_json(Path({str(DATA / 'results' / (FAILED + '.json'))!r}).read_text());"
        "sys.stdout.write(render_html(r) + render_junit(r))"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                       capture_output=True, check=True, timeout=60).stdout
        for seed in ("1", "7")
    }
    assert len(outputs) == 1


# --- JUnit ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / "junit" / "junit-10.xsd")))


def cases(xml: str) -> dict[tuple[str, str, str], object]:
    return {(s.name, c.classname, c.name): c for s in JUnitXml.fromstring(xml.encode()) for c in s}


@pytest.mark.parametrize("name", [WAIVED, FAILED])
def test_junit_valid_and_waived_failures_are_skipped_with_the_reason(name: str, schema: etree.XMLSchema) -> None:
    results = load(name)
    xml = render_junit(results)
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log
    found = cases(xml)
    waived = found[("h12d-c200", "sriovcheck.h12d-c200.eth1", "mtu")]
    (skipped,) = waived.result  # type: ignore[attr-defined]
    assert isinstance(skipped, Skipped) and skipped.message == f"waived: {REASON}"
    assert "observed VF MTU 1500, PF MTU 1500, DF ping 0/2" in skipped.text and "show interfaces ge-0/0/1" in skipped.text
    root = etree.fromstring(xml.encode())
    unwaived = sum(1 for c in results.checks if shown_status(c) == "fail")
    assert int(root.get("failures")) == unwaived == (1 if name == FAILED else 0)
    failed = [k for k, c in found.items() if any(isinstance(r, Failure) for r in c.result)]  # type: ignore[attr-defined]
    assert failed == ([("h12d-c201", "sriovcheck.h12d-c201.eth1", "gateway-ping")] if name == FAILED else [])


def test_junit_host_ports_suite() -> None:
    suites = {s.name: s for s in JUnitXml.fromstring(render_junit(load(WAIVED)).encode())}
    assert list(suites) == ["h12d-c200", "h12d-c201", "host-ports", "ex-switch"]
    ports = suites["host-ports"]
    assert [(c.classname, c.name) for c in ports] == [("sriovcheck.worker2.enh12", "cabling")]
    assert {p.name: p.value for p in ports.properties()} == {"host": "worker2", "pf": "enh12", "switch_port": "ge-0/0/1"}  # type: ignore[no-untyped-call]


def test_junit_two_pfs_list_each_switch_port() -> None:
    results = load(WAIVED)
    cabling = next(c for c in results.checks if c.kind == "cabling")
    other = copy.deepcopy(cabling)
    other.target, other.details = "worker2:enh13", {"pf": "enh13", "switch_port": "ge-0/0/2"}
    results.checks.append(other)
    suites = {s.name: s for s in JUnitXml.fromstring(render_junit(results).encode())}
    props = {p.name: p.value for p in suites["host-ports"].properties()}  # type: ignore[no-untyped-call]
    assert props == {"host": "worker2", "pf": "enh12, enh13", "switch_port": "enh12=ge-0/0/1, enh13=ge-0/0/2"}
    assert [c.classname for c in suites["host-ports"]] == ["sriovcheck.worker2.enh12", "sriovcheck.worker2.enh13"]
