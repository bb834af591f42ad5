"""diff_results on pairs of real lab runs (tests/data/results/diff/README.md says how each was made):
exactly which checks got worse, were fixed or changed; volatile values ignored; JUnit valid."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml
from lxml import etree

from sriovcheck.report.diff import IGNORED, Change, Diff, diff_results, normalise, render_diff_junit
from sriovcheck.verify.results import CheckResult, RunResults

DATA = Path(__file__).resolve().parent.parent / "data"
C200, C201 = "h12d-c200/eth1", "h12d-c201/eth1"


def load(name: str) -> RunResults:
    return RunResults.from_json((DATA / "results" / "diff" / f"{name}.json").read_text())


def keys(changes: list[Change]) -> set[tuple[str, str, str]]:
    return {(c.category, c.kind, c.target) for c in changes}


def diff(a: str, b: str, **kwargs: float) -> Diff:
    return diff_results(load(a), load(b), **kwargs)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / "junit" / "junit-10.xsd")))


@pytest.mark.parametrize(("a", "b"), [("1-pass", "3-pass-again"), ("3-pass-again", "1-pass"), ("1-pass", "1-pass")])
def test_same_healthy_lab_twice_shows_no_change(a: str, b: str) -> None:
    # RTTs, ages and neighbour states (REACHABLE/DELAY) differ between these two runs; nothing else.
    old, new = load(a), load(b)
    assert old.started != new.started or a == b
    d = diff_results(old, new)
    assert d.changes == [] and not d.worse
    assert len(d.pairs) == 26 and all(p.before == p.after for p in d.pairs)
    text = d.render_text()
    assert "NOT WORSE (0 got worse, 0 fixed, 0 changed)" in text
    assert "got worse: none" in text and "fixed: none" in text and "changed: none" in text


def test_vlan_removed_gives_exactly_the_three_new_failures() -> None:
    d = diff("1-pass", "2-vlan-201-removed")
    assert d.worse
    assert keys(d.regressions) == {
        ("new-failure", "gateway-ping", C201),
        ("new-failure", "switch-mac", C201),
        ("new-failure", "switch-port", C201),
    }
    assert d.fixed == []
    # The consequences that are not failures: checks skipped behind the failure, and the other VF's
    # port now shows one VLAN less.
    assert keys(d.changed) == {
        ("observed", "switch-port", C200),
        *(("status", kind, C201) for kind in ("container-arp", "switch-arp", "gateway-mac", "mac-unique", "mtu", "vlan-isolation")),
    }
    ping = next(c for c in d.regressions if c.kind == "gateway-ping")
    assert (ping.before, ping.after) == ("pass", "fail")
    assert ping.expected == "3 echo replies from 192.168.201.1 via eth1, loss <= 0%"
    assert ping.observed_after == "0/3 replies, 100% loss"
    assert "is VLAN 201 (SRIOV_201) carried on ge-0/0/1" in ping.note
    port = next(c for c in d.changed if c.kind == "switch-port")
    assert (port.observed_before, port.observed_after) == (
        "ge-0/0/1 up, VLANs SRIOV_200 (200), SRIOV_201 (201)", "ge-0/0/1 up, VLANs SRIOV_200 (200)")


def test_healthy_again_fixes_exactly_those_three() -> None:
    d = diff("2-vlan-201-removed", "3-pass-again")
    assert not d.worse and d.regressions == []
    assert keys(d.fixed) == {("fixed", k, C201) for k in ("gateway-ping", "switch-mac", "switch-port")}
    assert {c.category for c in d.changed} == {"status", "observed"}
    assert all((c.before, c.after) == ("skip", "pass") for c in d.changed if c.category == "status")
    text = d.render_text()
    assert "fixed (3):" in text and "  - fixed: switch-mac h12d-c201/eth1: fail -> pass" in text
    assert "observed before: ea:2d:9d:12:11:be not in the MAC table" in text


def test_new_checks_that_pass_are_changes_not_regressions() -> None:
    d = diff("3-pass-again", "4-run-with-teardown")
    assert not d.worse
    assert keys(d.changes) == {("new-check", "teardown-clean", C200), ("new-check", "teardown-clean", C201)}
    assert all(c.before == "absent" and c.after == "pass" for c in d.changes)


def test_fresh_lab_new_macs_reported_once_and_new_host_key_is_worse() -> None:
    d = diff("1-pass", "5-fresh-lab")
    assert keys(d.regressions) == {("host-key", "switch.host_key_fingerprint", "run")}
    assert "emulated lab, which makes a new key" in d.regressions[0].note
    old, new = load("1-pass"), load("5-fresh-lab")
    macs = {(a["container"], a["mac"], b["mac"]) for a, b in zip(old.attachments, new.attachments, strict=True)}
    assert {(c.target.split("/")[0], c.before, c.after) for c in d.changed if c.category == "mac-changed"} == macs
    # The new MACs appear in vf-attached, switch-mac, switch-arp and mac-unique texts: not reported again.
    assert keys(d.changed) == {
        ("mac-changed", "vf-mac", C200), ("mac-changed", "vf-mac", C201),
        ("new-check", "teardown-clean", C200), ("new-check", "teardown-clean", C201),
        ("observed", "cabling", "worker2:enh12"),  # the lab host's LLDP chassis MAC is new too
    }


def test_mac_moved_port_is_worse() -> None:
    d = diff("3-pass-again", "6-mac-moved")
    assert keys(d.regressions) == {("new-failure", "switch-mac", C201), ("mac-moved", "switch-mac", C201)}
    moved = next(c for c in d.regressions if c.category == "mac-moved")
    assert (moved.before, moved.after) == ("SRIOV_201@ge-0/0/1.0", "SRIOV_201@ge-0/0/7.0")
    assert keys(d.changed) == {("observed", "mac-unique", C201)}


def test_mac_moved_vlan_while_still_passing_is_worse() -> None:
    # A topology edit moved the VF to VLAN 201 and the switch agrees: every check passes, but the
    # VF's MAC is now learned elsewhere, which a handover comparison must not hide.
    old, new = load("3-pass-again"), load("3-pass-again")
    check = next(c for c in new.checks if c.kind == "switch-mac" and c.target == C200)
    check.observed = "SRIOV_201 (201) learned on ge-0/0/1.0, age 3 s"
    d = diff_results(old, new)
    assert d.worse
    assert [(c.category, c.before, c.after) for c in d.regressions] == [
        ("mac-moved", "SRIOV_200@ge-0/0/1.0", "SRIOV_201@ge-0/0/1.0")]


def test_rtt_grown_past_factor_and_floor() -> None:
    d = diff("3-pass-again", "7-rtt-grown")
    assert keys(d.regressions) == {("rtt-grown", "gateway-ping", C200)}
    grown = d.regressions[0]
    assert (grown.before, grown.after) == ("0.165 ms", "4.8 ms")
    assert d.changed == []  # the other VF grew 0.141 -> 0.9 ms: more than 2x, but by less than 1 ms
    assert keys(diff("3-pass-again", "7-rtt-grown", rtt_floor_ms=0.5).regressions) == {
        ("rtt-grown", "gateway-ping", C200), ("rtt-grown", "gateway-ping", C201)}
    assert diff("3-pass-again", "7-rtt-grown", rtt_factor=40.0).regressions == []
    assert diff("7-rtt-grown", "3-pass-again").changes == []  # getting faster is no news


def test_host_key_changed_is_worse_junos_upgrade_is_a_change() -> None:
    d = diff("3-pass-again", "8-host-key-changed")
    assert keys(d.regressions) == {("host-key", "switch.host_key_fingerprint", "run")}
    assert d.regressions[0].after == "SHA256:Zm9yZ2VkIGtleSBmb3IgdGhlIGRpZmYgdGVzdHMgMTIzNDU2Nzg"
    assert [(c.category, c.kind, c.before, c.after) for c in d.changed] == [
        ("switch", "switch.os_version", "12.3R12.4", "15.1R7.9")]  # results that name it junos_version


def test_vanished_checks_are_worse() -> None:
    old, new = load("1-pass"), load("1-pass")
    new.checks = [c for c in new.checks if c.target != C201]
    d = diff_results(old, new)
    assert {c.category for c in d.regressions} == {"vanished"}
    assert {c.target for c in d.regressions} == {C201} and len(d.regressions) == 12
    assert [(c.before, c.after) for c in d.regressions if c.kind == "gateway-ping"] == [("pass", "absent")]
    # The new run's targets first, in its order; what vanished after them, in check-kind order.
    assert [p.target for p in d.pairs][-12:] == [C201] * 12 and d.pairs[-12].kind == "vf-attached"


def test_new_check_failing_is_a_new_failure() -> None:
    old, new = load("3-pass-again"), load("3-pass-again")
    new.checks.append(CheckResult("teardown-clean", C200, "fail", expected="home", observed="still in h12d-c200",
                                  message="VF 0 did not come home"))
    d = diff_results(old, new)
    assert [(c.category, c.kind, c.before, c.after, c.note) for c in d.regressions] == [
        ("new-failure", "teardown-clean", "absent", "fail", "VF 0 did not come home")]


def _set(results: RunResults, kind: str, target: str, **fields: object) -> None:
    check = next(c for c in results.checks if c.kind == kind and c.target == target)
    for key, value in fields.items():
        setattr(check, key, value)


def test_waivers_accepted_failures_count_with_the_passes() -> None:
    passing, waived, failing = load("3-pass-again"), load("3-pass-again"), load("3-pass-again")
    _set(waived, "vf-path", C200, status="fail", details={"waiver": "no second VF on VLAN 200 until phase 2"})
    _set(failing, "vf-path", C200, status="fail", details={})
    newly = diff_results(passing, waived)
    assert not newly.worse
    assert [(c.category, c.after, c.note) for c in newly.changed] == [
        ("status", "fail (waived: no second VF on VLAN 200 until phase 2)", "waived: no second VF on VLAN 200 until phase 2")]
    dropped = diff_results(waived, failing)
    assert [(c.category, c.before, c.after) for c in dropped.regressions] == [
        ("new-failure", "fail (waived: no second VF on VLAN 200 until phase 2)", "fail")]
    _set(passing, "vf-path", C200, status="pass")
    assert keys(diff_results(waived, passing).fixed) == {("fixed", "vf-path", C200)}


def test_fail_to_error_is_still_failing_not_new() -> None:
    old, new = load("2-vlan-201-removed"), load("2-vlan-201-removed")
    _set(new, "switch-port", C201, status="error", message="the switch hung up")
    d = diff_results(old, new)
    assert not d.worse
    assert [(c.category, c.before, c.after) for c in d.changes] == [("status", "fail", "error")]


def test_still_failing_but_differently_is_a_change() -> None:
    old, new = load("2-vlan-201-removed"), load("2-vlan-201-removed")
    _set(new, "gateway-ping", C201, observed="1/3 replies, 66% loss")
    d = diff_results(old, new)
    assert keys(d.changed) == {("observed", "gateway-ping", C201)} and not d.worse


def test_ignored_documents_keys_and_patterns_and_normalise_uses_them() -> None:
    names = {x for x in IGNORED if isinstance(x, str)}
    assert {"age", "started", "finished", "duration_s", "rtt_min_ms", "rtt_avg_ms", "evidence"} <= names
    assert any(isinstance(x, re.Pattern) for x in IGNORED)
    assert normalise("SRIOV_200 learned on ge-0/0/1.0, age 312 s") == "SRIOV_200 learned on ge-0/0/1.0"
    assert normalise("3/3 replies, 0% loss, rtt min/avg/max 0.12/0.207/0.364 ms") == "3/3 replies, 0% loss"
    assert normalise("192.168.201.1 at 32:67:92:d6:7a:ce (DELAY)") == "192.168.201.1 at 32:67:92:d6:7a:ce"
    assert normalise("192.168.201.1 at 32:67:92:d6:7a:ce (FAILED)").endswith("(FAILED)")  # not volatile: kept


def test_durations_evidence_and_times_do_not_count() -> None:
    old, new = load("1-pass"), load("1-pass")
    new.started, new.finished = "2030-01-01T00:00:00+00:00", "2030-01-01T00:01:00+00:00"
    for check in new.checks:
        check.duration_s += 9.5
        check.evidence = []
        if isinstance(check.details, dict) and "sent" in check.details:
            check.details.update(sent=5, received=5, rtt_max_ms=99.0)
    assert diff_results(old, new).changes == []


def test_bad_thresholds_are_refused() -> None:
    results = load("1-pass")
    for kwargs in ({"rtt_factor": 0.5}, {"rtt_factor": float("nan")}, {"rtt_floor_ms": -1.0}):
        with pytest.raises(ValueError, match="rtt_factor"):
            diff_results(results, results, **kwargs)


def test_as_dict_is_json_and_says_the_same() -> None:
    d = diff("1-pass", "2-vlan-201-removed")
    data = json.loads(json.dumps(d.as_dict()))
    assert data["worse"] is True and data["compared"] == 26
    assert data["old"]["verdict"] == "pass" and data["new"]["counts"] == {"pass": 15, "fail": 3, "error": 0, "skip": 8}
    assert [(c["category"], c["kind"], c["target"], c["worse"]) for c in data["got_worse"]] == [
        (c.category, c.kind, c.target, True) for c in d.regressions]
    assert data["fixed"] == [] and len(data["changed"]) == len(d.changed)
    assert r", age \d+(?:\.\d+)? ?s\b" in data["ignored"]


PAIRS = [("1-pass", "3-pass-again"), ("1-pass", "2-vlan-201-removed"), ("2-vlan-201-removed", "3-pass-again"),
         ("1-pass", "5-fresh-lab"), ("3-pass-again", "6-mac-moved"), ("3-pass-again", "7-rtt-grown"),
         ("3-pass-again", "8-host-key-changed")]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_junit_valid_one_case_per_pair_failures_for_regressions(a: str, b: str, schema: etree.XMLSchema) -> None:
    d = diff(a, b)
    xml = render_diff_junit(d)
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log
    assert xml == render_diff_junit(diff(a, b))  # deterministic
    cases = [(s.name, case) for s in JUnitXml.fromstring(xml.encode()) for case in s]
    checks = [(name, case) for name, case in cases if name != "diff run"]
    assert len(checks) == len(d.pairs)
    failed = {(case.name, case.classname.removeprefix("sriovcheck.diff."))
              for _, case in checks if any(isinstance(r, Failure) for r in case.result)}
    assert failed == {(p.kind, p.target) for p in d.pairs if p.worse}
    run = {case.name: case for name, case in cases if name == "diff run"}
    assert set(run) == {"switch-host-key", "switch", "vf-macs", "versions"}
    assert any(isinstance(r, Failure) for r in run["switch-host-key"].result) == any(
        c.category == "host-key" for c in d.regressions)
    root = etree.fromstring(xml.encode())
    assert int(root.get("failures")) == len(failed) + sum(
        1 for c in run.values() if any(isinstance(r, Failure) for r in c.result))


def test_junit_failure_message_names_the_regression() -> None:
    xml = render_diff_junit(diff("3-pass-again", "6-mac-moved"))
    suite = next(s for s in JUnitXml.fromstring(xml.encode()) if s.name == f"diff {C201}")
    case = next(c for c in suite if c.name == "switch-mac")
    (failure,) = [r for r in case.result if isinstance(r, Failure)]
    assert failure.message == "new failure: pass -> fail; VF MAC moved: SRIOV_201@ge-0/0/1.0 -> SRIOV_201@ge-0/0/7.0"
    assert "learned on ge-0/0/7.0, expected ge-0/0/1.0" in (failure.text or "")


def test_hostile_strings_stay_inert_in_text_and_junit(schema: etree.XMLSchema) -> None:
    old = load("3-pass-again")
    new = copy.deepcopy(old)
    _set(new, "switch-port", C200, status="fail", observed="\x1b[31mred\x1b[0m ]]></failure><x/>\x00",
         message="<script>alert(1)</script>\u202e")
    d = diff_results(old, new)
    text = d.render_text()
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
    assert "red ]]></failure><x/>\\x00" in text and "\\u202e" in text
    xml = render_diff_junit(d)
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log
    assert "<x/>" not in xml and "<script>" not in xml
