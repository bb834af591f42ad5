"""report.html content, safety and determinism; the diagram; writer.py (atomic writes, re-render)."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sriovcheck import resources
from sriovcheck.errors import ReportError
from sriovcheck.report import writer
from sriovcheck.report.diagram import build_diagram, render_svg
from sriovcheck.report.grouping import group_checks, printable
from sriovcheck.report.html import render_html, templates_dir
from sriovcheck.report.junit import render_junit
from sriovcheck.verify.results import CheckResult, Evidence, RunResults

DATA = Path(__file__).resolve().parent.parent / "data" / "results"
FILES = ("seed-lab-pass", "lab-b-fail", "hostile")
SECRETS = ("hunter2-must-not-show", "s3cr3t-value", "tok-123", "id_ed25519")


def load(name: str) -> RunResults:
    return RunResults.from_json((DATA / f"{name}.json").read_text())


class Page(HTMLParser):
    """What a browser would build: elements with attributes, and the text inside each element kind."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self.tbody_classes: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "tbody":
            self.tbody_classes.append(attributes.get("class", ""))
        if tag not in ("meta", "col", "br", "rect", "line", "path"):
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        for tag in set(self.stack):
            self.texts.setdefault(tag, []).append(data)

    def text(self, tag: str = "body") -> str:
        return "".join(self.texts.get(tag, []))

    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}


@pytest.fixture(scope="module")
def pages() -> dict[str, tuple[RunResults, str, Page]]:
    out = {}
    for name in FILES:
        results = load(name)
        html = render_html(results)
        out[name] = (results, html, Page(html))
    return out


# --- content -------------------------------------------------------------------------------------


def test_passing_run_shows_pass_verdict_and_counts(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    results, _, page = pages["seed-lab-pass"]
    assert results.verdict == "pass"
    banner = [a for t, a in page.elements if t == "section" and "verdict" in a.get("class", "")]
    assert banner == [{"class": "verdict verdict-pass", "aria-label": "Verdict"}]
    body = " ".join(page.text().split())
    assert f"All {len(results.checks)} checks that ran passed." in body
    assert f"{len(results.checks)} passed" in body and "0 failed" in body


def test_failing_run_shows_fail_verdict_counts_and_every_status(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    results, _, page = pages["lab-b-fail"]
    counts = results.counts()
    assert counts == {"pass": 21, "fail": 4, "error": 2, "skip": 3}
    assert ("section", {"class": "verdict verdict-fail", "aria-label": "Verdict"}) in page.elements
    body = " ".join(page.text().split())
    assert "4 failed, 2 could not run (error) out of 30 checks." in body
    for status, label in (("pass", "passed"), ("fail", "failed"), ("error", "errors"), ("skip", "skipped")):
        assert f"{counts[status]} {label}" in body
    # One <tbody class="check check-<status>"> per check, so the table agrees with results.json.
    seen = [c.split()[1].removeprefix("check-") for c in page.tbody_classes if c.startswith("check ")]
    assert {s: seen.count(s) for s in counts} == counts


@pytest.mark.parametrize("name", FILES)
def test_every_container_vf_and_check_is_present(name: str, pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    results, _, page = pages[name]
    body = page.text()
    for att in results.attachments:
        assert printable(att["container"]) in page.text("h2")
        assert printable(att["ifname"]) in page.text("h3")
    for check in results.checks:
        assert printable(check.kind) in page.text("th")
    assert sum(1 for c in page.tbody_classes if c.startswith("check ")) == len(results.checks)
    assert printable(results.topology["name"]) in page.text("h1")
    assert printable(results.switch["name"]) in body


def test_metadata_lab_note_switch_facts_and_short_sha(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    results, _, page = pages["seed-lab-pass"]
    body = " ".join(page.text().split())
    for text in ("6.1.0-27-amd64", "Emulated NIC", "ex4200-48t", "12.3R12.4", "live session over SSH",
                 results.switch["host_key_fingerprint"], "root@worker2", "2025-11-28T09:14:02.318+00:00",
                 "7.58 s", "sriovcheck-lab/busybox:1.36 instead of the topology's image (nginx:alpine)"):
        assert text in body, text
    sha = results.topology["sha256"]
    assert ("code", {"title": sha}) in page.elements
    assert sha[:12] in page.text("code") and sha not in page.text("code")


def test_saved_output_source_and_real_driver(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    _, _, page = pages["lab-b-fail"]
    body = " ".join(page.text().split())
    assert "saved command outputs in /srv/captures/ex-switch (no login)" in body
    assert "Linux SR-IOV (sysfs and netlink)" in body
    assert "Lab run." not in body


def test_evidence_is_in_pre_and_failed_checks_open(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    results, _, page = pages["lab-b-fail"]
    pre = page.text("pre")
    for check in results.checks:
        for ev in check.evidence:
            assert printable(ev.output) in pre
    opened = sum(1 for t, a in page.elements if t == "details" and "open" in a)
    # Details already shown in the VF's chips (pf, vf, vlan ...) do not make a disclosure of their own.
    shown = {"container", "ifname", "pf", "vf", "vlan"}
    failed_with_evidence = sum(
        1 for c in results.checks if c.status in ("fail", "error") and (c.evidence or set(c.details) - shown)
    )
    assert opened == failed_with_evidence == 5


def test_self_contained_and_script_free(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    for _, html, page in pages.values():
        assert not page.tags() & {"script", "link", "img", "iframe", "object", "embed", "base", "form", "input"}
        for tag, attrs in page.elements:
            assert not any(k.startswith("on") for k in attrs), (tag, attrs)
            assert attrs.get("href", "#").startswith("#"), attrs
            assert "src" not in attrs
        assert "url(" not in html and "@import" not in html
        assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"]
        assert "@media print" in html and ".print-only { display: block; }" in html


def test_hostile_strings_are_inert(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    _, html, page = pages["hostile"]
    assert "script" not in page.tags() and "img" not in page.tags()
    assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    body = page.text()
    # The strings are shown as text, exactly, and survived every context: text, attribute, <pre>, SVG.
    assert "<script>alert(1)</script>" in page.text("h1")
    assert "</pre><img src=x onerror=alert(3)>" in page.text("pre")
    assert '"onmouseover=alert(2) x="' in body
    assert "<script>alert(1)</script>" in page.text("svg")
    # ANSI colour sequences removed, other controls (NUL, BEL, C1, DEL, bidi override) visible, none raw.
    assert "RED" in body and "[31m" not in body
    for visible in ("nul\\x00byte", "\\x07bell", "\\x9b1m", "\\x7f", "\\u202egnp.exe"):
        assert visible in body, visible
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", html)


def test_secret_looking_keys_never_rendered(pages: dict[str, tuple[RunResults, str, Page]]) -> None:
    _, html, page = pages["hostile"]
    for secret in SECRETS:
        assert secret not in html
    assert "(hidden: looks like a secret)" in page.text()


def test_missing_fields_render_as_dash() -> None:
    results = RunResults(
        topology={}, started="", finished="", host={}, switch={},
        checks=[CheckResult(kind="gateway-ping", target="c1/eth1", status="pass")],
    )
    page = Page(render_html(results))
    body = page.text()
    assert "\u2014" in body and "c1" in page.text("h2") and "gateway-ping" in page.text("th")
    assert "No VF attachments recorded" in page.text("svg")


def test_no_checks_is_a_fail() -> None:
    results = RunResults(topology={"name": "t"}, started="", finished="", host={}, switch={}, checks=[])
    page = Page(render_html(results))
    assert "No checks ran: no evidence is not a pass." in page.text()
    assert ("section", {"class": "verdict verdict-fail", "aria-label": "Verdict"}) in page.elements


def test_checks_grouped_by_container_and_vf_in_kind_order() -> None:
    results = load("lab-b-fail")
    groups = group_checks(results)
    assert [g.target for g in groups] == ["test-200/eth1", "test-201/eth1", "web-1/eth1", "web-1/eth2", "ex-switch"]
    assert [c.kind for c in groups[0].checks] == [
        "vf-attached", "vf-config", "gateway-ping", "container-arp", "switch-mac", "switch-arp", "gateway-mac"]
    assert [c.kind for c in groups[-1].checks] == ["switch-login", "mac-unique"]


def test_hostile_target_with_slashes_groups_by_attachment() -> None:
    groups = group_checks(load("hostile"))
    assert groups[0].container == "<script>alert(1)</script>" and len(groups[0].checks) == 2
    assert groups[1].container is None and groups[1].target == "sw<script>alert(1)</script>"


# --- printable -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[1;31mERR\x1b[0m ok", "ERR ok"),
        ("a\r\r\nb\r\nc", "a\nb\nc"),
        ("lone\rcr", "lone\\x0dcr"),
        ("nul\x00", "nul\\x00"),
        ("\x1b]0;title\x07x", "x"),
        ("esc\x1bc", "esc\\x1bc"),
        ("tab\tkept", "tab\tkept"),
        ("abc\u202edef", "abc\\u202edef"),
        ("bad\ud800", "bad\\ud800"),
        (None, ""),
        (42, "42"),
    ],
)
def test_printable(raw: object, shown: str) -> None:
    assert printable(raw) == shown


# --- diagram -------------------------------------------------------------------------------------


def test_diagram_marks_failed_parts() -> None:
    diagram = build_diagram(load("lab-b-fail"))
    vfs = {(v.container, v.ifname): v for v in diagram.vfs}
    assert vfs[("test-200", "eth1")].container_status == "pass"
    assert vfs[("test-201", "eth1")].status == "fail"  # vf-config
    assert vfs[("test-201", "eth1")].container_status == "fail"
    assert vfs[("web-1", "eth1")].status == "error"  # vf-attached could not run
    assert [(p.name, p.switch_port, p.port_status) for p in diagram.pfs] == [("eno2", "ge-0/0/1", "fail")]
    assert {v.id: v.status for v in diagram.vlans} == {"200": "pass", "201": "fail", "202": "error"}
    assert len({v.colour for v in diagram.vlans}) == 3
    svg = render_svg(diagram)
    assert svg.count('stroke="#cf222e"') >= 6 and ">FAIL</text>" in svg and ">ERROR</text>" in svg


def test_diagram_svg_escapes_every_text() -> None:
    svg = render_svg(build_diagram(load("hostile")))
    page = Page(f"<body>{svg}</body>")
    assert page.tags() <= {"body", "svg", "title", "style", "text", "rect", "line", "path"}
    assert "<script>" in page.text("text") and "&lt;script&gt;" in svg
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", svg)


# --- determinism ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_render_is_deterministic_and_survives_json_round_trip(name: str) -> None:
    results = load(name)
    again = RunResults.from_json(results.to_json())
    assert render_html(results) == render_html(again) == render_html(load(name))


def test_render_does_not_depend_on_hash_seed() -> None:
    code = (
        "import sys; from pathlib import Path; from sriovcheck.verify.results import RunResults;"
        "from sriovcheck.report.html import render_html; from sriovcheck.report.junit import render_junit;"
        f"r = RunResults.from_json(Path({str(DATA / 'lab-b-fail.json')!r}).read_text());"
        "sys.stdout.write(render_html(r) + render_junit(r))"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                       capture_output=True, check=True, timeout=60).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_templates_dir_is_the_checkout_or_the_package() -> None:
    directory = templates_dir()
    assert (directory / "report.html.j2").is_file()
    assert directory.name == "templates"


def test_templates_dir_prefers_the_installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A wheel ships the top-level templates/ as sriovcheck/templates/ (pyproject force-include).
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "report.html.j2").write_text("x")
    monkeypatch.setattr(resources.importlib.resources, "files", lambda package: tmp_path)
    assert templates_dir() == tmp_path / "templates"


# --- writer --------------------------------------------------------------------------------------


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_write_reports_writes_three_files_and_nothing_else(tmp_path: Path) -> None:
    results = load("lab-b-fail")
    paths = writer.write_reports(results, tmp_path / "out")
    assert _listing(tmp_path / "out") == ["junit.xml", "report.html", "results.json"]
    assert paths.results_json.read_text() == results.to_json()
    assert paths.html.read_text() == render_html(results)
    assert paths.junit.read_text() == render_junit(results)
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in (paths.results_json, paths.html, paths.junit))


@pytest.mark.parametrize("name", FILES)
def test_rerender_is_byte_identical(name: str, tmp_path: Path) -> None:
    paths = writer.write_reports(load(name), tmp_path / "run")
    html, junit = tmp_path / "again.html", tmp_path / "again.xml"
    assert writer.rerender(paths.results_json, html, junit) == [html, junit]
    assert html.read_bytes() == paths.html.read_bytes()
    assert junit.read_bytes() == paths.junit.read_bytes()
    assert writer.rerender(paths.results_json, None, junit) == [junit]


def test_lone_surrogate_survives_results_json(tmp_path: Path) -> None:
    results = RunResults(topology={"name": "t\ud800"}, started="", finished="", host={}, switch={},
                         checks=[CheckResult("vf-attached", "c/eth1", "pass", evidence=[Evidence("host", "x", "o\udcff")])])
    paths = writer.write_reports(results, tmp_path)
    assert RunResults.from_json(paths.results_json.read_text()).topology["name"] == "t\ud800"
    assert "t\\ud800" in paths.html.read_text()


@pytest.mark.parametrize(
    ("code", "hint"), [(errno.ENOSPC, "free space"), (errno.EACCES, "writable"), (errno.EROFS, "writable")]
)
def test_write_failure_leaves_old_files_and_no_temporaries(
    code: int, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "report.html").write_text("old report")
    real_fsync = os.fsync
    calls: list[int] = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second file (report.html) hits the problem half-way
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(writer.os, "fsync", failing_fsync)
    with pytest.raises(ReportError) as info:
        writer.write_reports(load("seed-lab-pass"), tmp_path)
    assert str(tmp_path / "report.html") in info.value.message
    assert os.strerror(code) in info.value.message
    assert info.value.hint is not None and hint in info.value.hint and str(tmp_path) in info.value.hint
    assert _listing(tmp_path) == ["report.html"]  # no results.json, no .tmp left
    assert (tmp_path / "report.html").read_text() == "old report"


def test_interrupt_mid_write_leaves_no_temporaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.write_reports(load("seed-lab-pass"), tmp_path)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ('{"schema_version": 1,\n  "topology": ', ":2:"),
        ("[1, 2]", "a JSON object is expected"),
        ('{"schema_version": 3}', "schema_version 3"),
        ('{"schema_version": 1, "topology": {}}', "missing key 'started'"),
    ],
)
def test_rerender_rejects_unusable_results(content: str | None, message: str, tmp_path: Path) -> None:
    source = tmp_path / "results.json"
    if content is not None:
        source.write_text(content)
    with pytest.raises(ReportError) as info:
        writer.rerender(source, tmp_path / "r.html", None)
    assert str(source) in info.value.message and message in info.value.message
    assert info.value.hint
    assert not (tmp_path / "r.html").exists()


def test_rerender_rejects_unknown_status(tmp_path: Path) -> None:
    data = json.loads((DATA / "seed-lab-pass.json").read_text())
    data["checks"][3]["status"] = "maybe"
    source = tmp_path / "results.json"
    source.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=r"checks\[3\]\.status is 'maybe'"):
        writer.rerender(source, tmp_path / "r.html", tmp_path / "j.xml")
    assert _listing(tmp_path) == ["results.json"]
