"""junit.xml: valid for Jenkins xUnit's junit-10.xsd, readable by junitparser (as GitLab/Jenkins read it),
the same counts as results.json, deterministic, and safe with hostile strings."""

from __future__ import annotations

import re
from pathlib import Path

import junit_xml
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from lxml import etree

from sriovcheck.report.junit import render_junit
from sriovcheck.verify.results import CheckResult, Evidence, RunResults

DATA = Path(__file__).resolve().parent.parent / "data"
FILES = ("seed-lab-pass", "lab-b-fail", "hostile")


def load(name: str) -> RunResults:
    return RunResults.from_json((DATA / "results" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / "junit" / "junit-10.xsd")))


def parse(xml: str) -> JUnitXml:
    return JUnitXml.fromstring(xml.encode())


def status_counts(xml: str) -> dict[str, int]:
    counts = dict.fromkeys(("pass", "fail", "error", "skip"), 0)
    for suite in parse(xml):
        for case in suite:
            kinds = {type(r) for r in case.result}
            key = "fail" if Failure in kinds else "error" if Error in kinds else "skip" if Skipped in kinds else "pass"
            counts[key] += 1
    return counts


def test_the_disabled_trap_is_real(schema: etree.XMLSchema) -> None:
    # Why render_junit post-processes: junit-xml's own output is rejected by Jenkins xUnit's schema.
    raw = junit_xml.to_xml_report_string([junit_xml.TestSuite("s", [junit_xml.TestCase("t", classname="c")])])
    assert 'disabled="0"' in raw
    assert not schema.validate(etree.fromstring(raw.encode()))
    assert "disabled" in str(schema.error_log.last_error)


@pytest.mark.parametrize("name", FILES)
def test_valid_for_jenkins_xunit_schema(name: str, schema: etree.XMLSchema) -> None:
    xml = render_junit(load(name))
    assert "disabled=" not in xml
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log


@pytest.mark.parametrize("name", FILES)
def test_round_trip_counts_match_results(name: str) -> None:
    results = load(name)
    xml = render_junit(results)
    assert status_counts(xml) == results.counts()
    root = etree.fromstring(xml.encode())
    c = results.counts()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (
        str(len(results.checks)), str(c["fail"]), str(c["error"]))


def test_one_suite_per_container_plus_switch_with_properties() -> None:
    results = load("lab-b-fail")
    suites = {s.name: s for s in parse(render_junit(results))}
    assert list(suites) == ["test-200", "test-201", "web-1", "ex-switch"]
    props = {p.name: p.value for p in suites["test-201"].properties()}
    assert props == {"host": "worker2", "ifname": "eth1", "pf": "eno2", "vf": "1", "pci_address": "0000:01:10.3",
                     "vlan": "201", "mac": "de:bb:04:86:b8:36", "switch_port": "ge-0/0/1"}
    # Several VFs: one value per property name, each VF as ifname=value, in attachment order.
    web = {p.name: p.value for p in suites["web-1"].properties()}
    assert web["ifname"] == "eth1, eth2"
    assert web["vf"] == "eth1=2, eth2=3" and web["vlan"] == "eth1=202, eth2=200"
    assert web["mac"] == "eth1=66:2e:4d:91:0a:17, eth2=66:2e:4d:91:0a:18"
    assert suites["test-201"].timestamp == "2025-11-27T16:02:44" and suites["test-201"].hostname == "worker2"


def test_testcases_classname_name_and_results() -> None:
    results = load("lab-b-fail")
    suites = {s.name: s for s in parse(render_junit(results))}
    cases = {(c.classname, c.name): c for s in suites.values() for c in s}
    assert len(cases) == len(results.checks)
    for check in results.checks:
        classname = "sriovcheck." + check.target.replace("/", ".")
        assert (classname, check.kind) in cases
    ping = cases[("sriovcheck.test-201.eth1", "gateway-ping")]
    (failure,) = ping.result
    assert isinstance(failure, Failure)
    assert failure.message.startswith("expected 192.168.201.1 answers 3 of 3, loss <= 0%; observed 0 of 3 answered")
    assert "[container:test-201] icmp echo from 192.168.201.2" in failure.text
    assert "100% packet loss" in failure.text
    error = cases[("sriovcheck.web-1.eth1", "vf-attached")].result[0]
    assert isinstance(error, Error) and "EOPNOTSUPP" in error.message and "Operation not supported" in error.text
    skipped = cases[("sriovcheck.ex-switch", "switch-login")].result[0]
    assert isinstance(skipped, Skipped) and "--switch-output" in skipped.message
    passed = cases[("sriovcheck.test-200.eth1", "switch-mac")]
    assert passed.is_passed and "show ethernet-switching table interface ge-0/0/1" in passed.system_out
    assert ping.time == pytest.approx(6.004)


def test_hostile_strings_stay_data(schema: etree.XMLSchema) -> None:
    xml = render_junit(load("hostile"))
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", xml)
    for secret in ("hunter2-must-not-show", "s3cr3t-value", "tok-123", "id_ed25519"):
        assert secret not in xml
    root = etree.fromstring(xml.encode())
    assert {e.tag for e in root.iter()} <= {"testsuites", "testsuite", "properties", "property", "testcase",
                                            "failure", "error", "skipped", "system-out"}
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "<script>alert(1)</script>"
    failure = root.find(".//failure")
    assert failure is not None and failure.text is not None
    assert "</pre><img src=x onerror=alert(3)>" in failure.text and "nul\\x00byte" in failure.text
    assert "RED" in failure.text and "\x1b" not in failure.text


def test_no_checks_is_an_error_for_ci(schema: etree.XMLSchema) -> None:
    results = RunResults(topology={"name": "t"}, started="", finished="", host={}, switch={}, checks=[])
    xml = render_junit(results)
    assert schema.validate(etree.fromstring(xml.encode()))
    assert status_counts(xml) == {"pass": 0, "fail": 0, "error": 1, "skip": 0}


def test_odd_durations_keep_the_schema(schema: etree.XMLSchema) -> None:
    checks = [CheckResult("vf-attached", "c/eth1", "pass", duration_s=d) for d in (1e-7, -3.0, float("inf"), 12345.678)]
    checks.append(CheckResult("vf-config", "c/eth1", "fail", expected="a", observed="b",
                              evidence=[Evidence("host", "cmd", "out")]))
    xml = render_junit(RunResults(topology={}, started="not a date", finished="", host={}, switch={}, checks=checks))
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log
    assert 'time="12345.678"' in xml and 'timestamp="not a date"' in xml


@pytest.mark.parametrize("name", FILES)
def test_deterministic(name: str) -> None:
    results = load(name)
    assert render_junit(results) == render_junit(RunResults.from_json(results.to_json())) == render_junit(load(name))
