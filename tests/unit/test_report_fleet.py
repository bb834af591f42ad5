"""`sriovcheck fleet-report`: many hosts' results.json -> one HTML page, one JUnit document (a suite per
host, valid for Jenkins xUnit's junit-10.xsd), one JSON summary; failures and root causes first, links
to each host's own report, switch evidence times and sessions, hostile strings inert."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from lxml import etree

from sriovcheck.cli import main
from sriovcheck.report.fleet import HostRun, fleet_summary, render_fleet_html, render_fleet_junit
from sriovcheck.verify.results import RunResults

DATA = Path(__file__).resolve().parents[1] / "data"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def host_results(tmp: Path, source: str, host: str, *, switch: dict[str, str] | None = None,
                 causes: list[dict[str, object]] | None = None) -> Path:
    """A copy of a recorded results.json as host `host`'s, in tmp/<host>/results.json."""
    data = json.loads((DATA / "results" / f"{source}.json").read_text())
    data["host"]["name"] = host
    if switch:
        data["switch"].update(switch)
    if causes is not None:
        data["causes"] = causes
    path = tmp / "hosts" / host / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    (path.parent / "report.html").write_text("<p>the host's report</p>")
    return path


def load(path: Path) -> HostRun:
    return HostRun(path, RunResults.from_json(path.read_text()), json.loads(path.read_text()))


SESSION = {"evidence_read_at": "2026-12-01T00:30:00+00:00", "evidence_session": "fleet-7f3a@ex-switch",
           "source": "files:/var/lib/sriovcheck-fleet/ex-switch"}
CAUSE = [{"id": "c1", "rule": "vlan-not-member", "what": "VLAN 201 (SRIOV_201) is not a member of ge-0/0/1",
          "where": "ex-switch ge-0/0/1", "evidence": [], "fix": "add VLAN 201 to the port's members", "explains": []}]


@pytest.fixture
def rack(tmp_path: Path) -> list[Path]:
    paths = [host_results(tmp_path, "seed-lab-pass", f"node{i:02d}", switch=SESSION) for i in range(1, 4)]
    failed = host_results(tmp_path, "lab-b-fail", "node04", switch=SESSION, causes=CAUSE)
    data = json.loads(failed.read_text())
    for check in data["checks"]:
        if check["kind"] == "vf-config" and check["status"] == "fail":
            check["details"]["cause"] = "c1"
    failed.write_text(json.dumps(data))
    return [*paths, failed]


class Text(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def test_failing_host_comes_first_with_its_root_cause(rack: list[Path], tmp_path: Path) -> None:
    html = render_fleet_html([load(p) for p in rack], base_dir=tmp_path / "fleet")
    page = Text(html)
    text = page.text
    assert "1 of 4" not in text and "3 of 4 hosts passed" in text
    failures = text.index("Failures")
    assert text.index("node04") > failures
    assert text.index("node04") < text.index("node01")  # failing hosts before passing ones
    assert "VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in text
    assert text.index("Root cause") < text.index("vf-config")
    # The matrix: a row per host, a column per check kind the hosts ran.
    rows = re.findall(r'<tr id="host-\d+">', html)
    assert len(rows) == 4
    for kind in ("vf-attached", "gateway-ping", "switch-mac", "switch-arp"):
        assert f'<th scope="col">{kind}</th>' in html


def test_each_host_links_to_its_own_report_relatively(rack: list[Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "fleet"
    html = render_fleet_html([load(p) for p in rack], base_dir=out_dir)
    hrefs = [a["href"] for tag, a in Text(html).tags if tag == "a" and "href" in a]
    for i in range(1, 5):
        href = f"../hosts/node{i:02d}/report.html"
        assert href in hrefs
        assert (out_dir / href).resolve().read_text() == "<p>the host's report</p>"
    assert not [h for h in hrefs if h.startswith(("/", "http", "file:"))]


def test_switches_show_when_and_by_which_session_evidence_was_read(rack: list[Path], tmp_path: Path) -> None:
    text = Text(render_fleet_html([load(p) for p in rack], base_dir=tmp_path)).text
    assert "ex-switch" in text and "2026-12-01T00:30:00+00:00" in text and "fleet-7f3a@ex-switch" in text
    assert "4: node01, node02, node03, node04" in text
    summary = fleet_summary([load(p) for p in rack], base_dir=tmp_path)
    (switch,) = summary["switches"]
    assert switch["evidence_sessions"] == ["fleet-7f3a@ex-switch"] and len(switch["hosts"]) == 4


def test_json_summary(rack: list[Path], tmp_path: Path) -> None:
    summary = fleet_summary([load(p) for p in rack], base_dir=tmp_path)
    assert summary["verdict"] == "fail"
    assert (summary["hosts_total"], summary["hosts_passed"], summary["hosts_failed"]) == (4, 3, ["node04"])
    node04 = summary["hosts"][0]
    assert node04["name"] == "node04" and node04["verdict"] == "fail"
    assert node04["causes"] == [{"id": "c1", "text": CAUSE[0]["what"], "checks": ["vf-config test-201/eth1"]}]
    assert node04["kinds"]["vf-config"] == "fail" and node04["kinds"]["vf-attached"] == "error"
    assert {f["kind"] for f in node04["failures"]} >= {"vf-config", "gateway-ping"}
    assert all(h["verdict"] == "pass" and not h["failures"] for h in summary["hosts"][1:])


def test_results_without_causes_fall_back_to_failed_checks(tmp_path: Path) -> None:
    path = host_results(tmp_path, "lab-b-fail", "nodeX")
    summary = fleet_summary([load(path)])
    assert summary["hosts"][0]["causes"] == []
    text = Text(render_fleet_html([load(path)])).text
    assert "Root cause" not in text and "VF 1 of eno2 is untagged" in text


def test_junit_has_a_suite_per_host_valid_for_jenkins(rack: list[Path]) -> None:
    runs = [load(p) for p in rack]
    xml = render_fleet_junit(runs)
    schema = etree.XMLSchema(etree.parse(str(DATA / "junit" / "junit-10.xsd")))
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log
    suites = list(JUnitXml.fromstring(xml.encode()))
    assert [s.name for s in suites] == ["node01", "node02", "node03", "node04"]
    for suite, host in zip(suites, runs, strict=True):
        counts = dict.fromkeys(("pass", "fail", "error", "skip"), 0)
        for case in suite:
            kinds = {type(r) for r in case.result}
            counts["fail" if Failure in kinds else "error" if Error in kinds else "skip" if Skipped in kinds else "pass"] += 1
        assert counts == host.results.counts()
        props = {p.name: p.value for p in suite.properties()}
        assert props["evidence_session"] == "fleet-7f3a@ex-switch" and props["host"] == suite.name
    failing = suites[3]
    messages = [r.message for case in failing for r in case.result if isinstance(r, Failure)]
    assert any("VLAN 201" in (m or "") or "vlan 0" in (m or "") for m in messages)
    assert render_fleet_junit(runs) == xml  # deterministic


def test_hostile_strings_stay_text(tmp_path: Path) -> None:
    path = host_results(tmp_path, "hostile", "h<script>alert(9)</script>",
                        causes=[{**CAUSE[0], "id": "x", "what": "<img src=x onerror=alert(5)>"}])
    runs = [load(path)]
    html = render_fleet_html(runs, base_dir=tmp_path)
    page = Text(html)
    assert "script" not in {t for t, _ in page.tags} and "img" not in {t for t, _ in page.tags}
    assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    assert "h<script>alert(9)</script>" in page.text and "<img src=x onerror=alert(5)>" in page.text
    schema = etree.XMLSchema(etree.parse(str(DATA / "junit" / "junit-10.xsd")))
    assert schema.validate(etree.fromstring(render_fleet_junit(runs).encode())), schema.error_log


def test_a_link_cannot_become_a_scheme(tmp_path: Path) -> None:
    path = host_results(tmp_path, "seed-lab-pass", "javascript:alert(1)")
    html = render_fleet_html([load(path)], base_dir=tmp_path)
    hrefs = [a["href"] for tag, a in Text(html).tags if tag == "a"]
    assert hrefs and all(":" not in h for h in hrefs), hrefs


def test_cli_writes_all_three_and_exits_by_fleet_verdict(rack: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    code, text = run("fleet-report", *map(str, rack), "--html", str(out / "index.html"),
                     "--junit", str(out / "junit.xml"), "--json", str(out / "summary.json"), "--title", "Rack R12")
    assert code == 1, text
    assert "fleet verdict: FAIL  (3 of 4 hosts passed)" in text and "root cause: VLAN 201" in text
    assert "<title>FAIL · sriovcheck · Rack R12</title>" in (out / "index.html").read_text()
    assert json.loads((out / "summary.json").read_text())["hosts_failed"] == ["node04"]
    assert (out / "junit.xml").read_text().count("<testsuite ") == 4
    code, text = run("fleet-report", *(str(p.parent) for p in rack[:3]))  # directories work too
    assert code == 0 and "fleet verdict: PASS  (3 of 3 hosts passed)" in text


def test_cli_refuses_bad_input(rack: list[Path], tmp_path: Path) -> None:
    code, _ = run("fleet-report", str(rack[0]), str(rack[0]))
    assert code == 2
    code, _ = run("fleet-report", str(tmp_path / "nope.json"))
    assert code != 0
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, _ = run("fleet-report", str(rack[0]), str(bad), "--html", str(tmp_path / "x.html"))
    assert code != 0 and not (tmp_path / "x.html").exists()
    code, _ = run("fleet-report")
    assert code == 2


def test_no_hosts_is_not_a_pass() -> None:
    xml = render_fleet_junit([])
    assert 'errors="1"' in xml
    assert fleet_summary([])["verdict"] == "fail"
