"""junit.xml for CI: one <testsuite> per container (plus one per switch/run-level target), one
<testcase> per check, built with junit-xml and valid for Jenkins xUnit's junit-10.xsd.

Choices a CI user can rely on:
- classname is `sriovcheck.<container>.<ifname>` (`sriovcheck.<target>` for switch/run checks) and
  name is the check kind, so CI trees read container -> interface -> check.
- Suite properties: host, ifname, pf, vf, pci_address, vlan, mac, switch_port. A container with several
  VFs gets one property per name whose value lists every VF as `<ifname>=<value>` in attachment
  order ("eth1=0, eth2=3"): CI tools keep one value per property name (GitLab and Jenkins collapse
  repeats), so repeated properties would silently lose VFs; one VF keeps the plain value.
- failure message is "expected ...; observed ..." (+ the check's message), preceded by
  "root cause C1: <what> -- " when the diagnosis explains the failure; the evidence (commands and
  outputs) is the failure text; error -> <error>, skip -> <skipped>; a pass keeps its evidence in
  system-out so that CI shows what was seen.
- A failed check the customer waived at handover (details["waiver"]) is <skipped> with the message
  "waived: <reason>" and the expected/observed/evidence as its text: it did not pass, yet it must
  not turn the job red (the run's verdict passes), and Jenkins, GitLab and GitHub all list skipped
  cases with their message, where a passing case's reason would be invisible.
- PF-level checks (target "<host>:<pf>", e.g. cabling) form one suite "host-ports", classname
  `sriovcheck.<host>.<pf>`, with properties host, pf and switch_port.
- A run without any check gets one error testcase (sriovcheck.run / no-checks): no evidence is not a
  pass, and a CI job must not turn green on an empty file.
- Times come from results (suite timestamp = results.started in UTC), never from the clock.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from junit_xml import TestCase, TestSuite

from sriovcheck.report.grouping import CheckGroup, facts, finite_seconds, group_checks, printable, show, status_of
from sriovcheck.verify.results import Cause, CheckResult, RunResults, waiver_of

_PROPERTIES = ("pf", "vf", "pci_address", "vlan", "mac", "switch_port")


def _timestamp(started: str) -> str:
    """ISO 8601 without zone, in UTC: the form Ant and Surefire write and every CI parser reads."""
    try:
        moment = datetime.fromisoformat(started)
    except (TypeError, ValueError):
        return printable(started)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def _evidence_text(check: CheckResult) -> str:
    details = "\n".join(f"{key}: {value}" for key, value in facts(check.details, ("container", "ifname")))
    parts = [details] if details else []
    for ev in check.evidence or []:
        head = f"[{printable(getattr(ev, 'source', ''))}] {printable(getattr(ev, 'command', ''))}"
        parts.append(f"{head}\n{printable(getattr(ev, 'output', '')).rstrip()}")
    return "\n\n".join(parts)


def _cause_prefix(check: CheckResult, causes: dict[str, Cause]) -> str:
    """A failing check explained by a root cause says so first: "root cause C1: <what> -- "."""
    cause = causes.get(check.cause or "")
    return f"root cause {printable(cause.id)}: {printable(cause.what)} -- " if cause else ""


def _test_case(check: CheckResult, classname: str, causes: dict[str, Cause] | None = None) -> TestCase:
    case = TestCase(
        name=printable(check.kind) or "check",
        classname=classname,
        elapsed_sec=finite_seconds(check.duration_s),
    )
    evidence = _evidence_text(check)
    message = printable(check.message)
    status = status_of(check)
    waiver = waiver_of(check) if status == "fail" else None
    if waiver:
        summary = f"expected {show(check.expected)}; observed {show(check.observed)}"
        text = "\n\n".join(x for x in (f"{summary}: {message}" if message else summary, evidence) if x)
        case.add_skipped_info(message=f"waived: {printable(waiver)}", output=text)
    elif status == "fail":
        summary = f"expected {show(check.expected)}; observed {show(check.observed)}"
        text = f"{summary}: {message}" if message else summary
        case.add_failure_info(message=_cause_prefix(check, causes or {}) + text, output=evidence or None)
    elif status == "error":
        case.add_error_info(message=_cause_prefix(check, causes or {}) + (message or "the check could not run"), output=evidence or None)
    elif status == "skip":
        case.add_skipped_info(message=message or "skipped")
        case.stdout = evidence or None
    else:
        case.stdout = evidence or None
    return case


def _properties(host: str, groups: list[CheckGroup]) -> dict[str, str]:
    vfs: list[tuple[str, dict[str, Any]]] = []
    for group in groups:
        known = group.attachment or next((c.details for c in group.checks if isinstance(c.details, dict)), {})
        vfs.append((printable(group.ifname), known))
    props = {"host": host, "ifname": ", ".join(ifname for ifname, _ in vfs)}
    for key in _PROPERTIES:
        values = [(ifname, printable(data.get(key, ""))) for ifname, data in vfs]
        if len(values) == 1:
            props[key] = values[0][1]
        else:
            props[key] = ", ".join(f"{ifname}={value}" for ifname, value in values)
    return props


def _suites(results: RunResults) -> list[TestSuite]:
    host = printable(results.host.get("name"))
    timestamp = _timestamp(results.started)
    causes = {c.id: c for c in results.causes}
    by_container: dict[str, list[CheckGroup]] = {}
    others: list[CheckGroup] = []
    ports: list[CheckGroup] = []
    for group in group_checks(results):
        if group.pf is not None:
            ports.append(group)
        elif group.container is None:
            others.append(group)
        else:
            by_container.setdefault(group.container, []).append(group)

    suites = []
    for container, groups in by_container.items():
        cases = [
            _test_case(check, ".".join(x for x in ("sriovcheck", printable(container), printable(g.ifname)) if x), causes)
            for g in groups
            for check in g.checks
        ]
        suites.append(
            TestSuite(printable(container), cases, hostname=host or None, timestamp=timestamp,
                      properties=_properties(host, groups))
        )
    if ports:
        cases = [
            _test_case(check, ".".join(x for x in ("sriovcheck", host, printable(g.pf)) if x), causes)
            for g in ports
            for check in g.checks
        ]
        properties = {"host": host, "pf": ", ".join(printable(g.pf) for g in ports)}
        properties["switch_port"] = (
            ports[0].switch_port if len(ports) == 1 else ", ".join(f"{printable(g.pf)}={g.switch_port}" for g in ports)
        )
        suites.append(TestSuite("host-ports", cases, hostname=host or None, timestamp=timestamp, properties=properties))
    for group in others:
        classname = f"sriovcheck.{printable(group.target)}" if group.target else "sriovcheck.run"
        cases = [_test_case(check, classname, causes) for check in group.checks]
        suites.append(
            TestSuite(printable(group.target) or "run", cases, hostname=host or None, timestamp=timestamp,
                      properties={"host": host})
        )
    if not results.checks:
        empty = TestCase(name="no-checks", classname="sriovcheck.run")
        empty.add_error_info(message="no checks ran: results.json holds no evidence, and no evidence is not a pass")
        suites.append(TestSuite("run", [empty], hostname=host or None, timestamp=timestamp))
    return suites


def _seconds(value: float) -> str:
    # junit-10.xsd's SUREFIRE_TIME accepts digits and a dot only: str(float) can give "1e-05".
    return f"{value:.3f}"


def render_junit(results: RunResults) -> str:
    """junit.xml as a string; the same results always give the same bytes."""
    return testsuites_document(f"sriovcheck {printable(results.topology.get('name'))}".rstrip(), _suites(results))


def testsuites_document(name: str, suites: list[TestSuite]) -> str:
    """One <testsuites> document of `suites`, with their totals and time (junit.xml, and the fleet's
    JUnit with a suite per host); the same suites always give the same bytes."""
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_time = 0.0
    root = ET.Element("testsuites", {"name": name})
    for suite in suites:
        element = suite.build_xml_doc()
        # junit-xml 1.9 always writes disabled="0"; Jenkins xUnit validates against junit-10.xsd, which
        # has no such attribute and rejects the whole file. sriovcheck never disables a test, so the
        # attribute carries nothing: drop it (GitLab and the Jenkins junit step never needed it).
        element.attrib.pop("disabled", None)
        suite_time = sum(finite_seconds(c.elapsed_sec) for c in suite.test_cases)
        element.set("time", _seconds(suite_time))
        for case in element.iter("testcase"):
            if "time" in case.attrib:
                case.set("time", _seconds(float(case.attrib["time"])))
        for key in totals:
            totals[key] += int(element.get(key, "0"))
        total_time += suite_time
        root.append(element)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", _seconds(total_time))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
