"""The diagram marks the part each root cause names, and nothing else: checked on the recorded results
of the emulated lab with each kind of breakage (tests/data/results/causes/, made by
tests/integration/test_e2e_diagnosis.py with SRIOVCHECK_KEEP_RESULTS) and on hand-made variants of the
recorded passing seed-lab run for what the lab cannot show (a MAC learned on a port no PF is declared on).
Each tag must sit at its part's own box in report.html (tests/unit/diagram_tags.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sriovcheck.report.diagram import build_diagram
from sriovcheck.report.html import render_html
from sriovcheck.verify.diagnosis import PfState, diagnose
from sriovcheck.verify.results import CheckResult, RunResults
from tests.unit.diagram_tags import assert_beside, cause_tags

DATA = Path(__file__).resolve().parents[1] / "data" / "results"
CAUSES = DATA / "causes"


def seed(*changed: CheckResult) -> RunResults:
    """The recorded passing seed-lab run, with `changed` replacing the checks of the same kind and target."""
    results = RunResults.from_json((DATA / "seed-lab-pass.json").read_text())
    by = {(c.kind, c.target): c for c in changed}
    results.checks = [by.pop((c.kind, c.target), c) for c in results.checks] + list(by.values())
    return results


def fail(kind: str, target: str = "test-201/eth1", **details: object) -> CheckResult:
    base = {"pf": "eno2", "vf": 1, "vlan": 201, "vlan_name": "SRIOV_201", "switch_port": "ge-0/0/1", "container": "test-201",
            "ifname": "eth1", "address": "192.168.201.2/24", "gateway": "192.168.201.1", "l3_interface": "vlan.201"}
    return CheckResult(kind, target, "fail", observed=f"{kind} seen", message=f"{kind} msg", details={**base, **details})


def diagnosed(results: RunResults, pfs: list[PfState] | None = None) -> tuple[RunResults, str]:
    results.causes = diagnose(results.checks, pfs=pfs or [], switch=str(results.switch.get("name")))
    return results, render_html(results)


def test_cabling_to_a_port_no_pf_is_declared_on_draws_that_port_and_marks_it() -> None:
    learned = [{"vlan_name": "SRIOV_201", "vlan_id": 201, "interface": "ge-0/0/7.0"}]
    results, page = diagnosed(seed(fail("switch-mac", reason="other-port", mac="m", learned=learned)))
    [cause] = results.causes
    assert cause.what == "eno2 is cabled to ge-0/0/7, not to ge-0/0/1: its VFs' MACs are learned on ge-0/0/7"
    d = build_diagram(results)
    assert [p.name for p in d.extra_ports] == ["ge-0/0/7"] and d.pfs[0].learned_port == "ge-0/0/7"
    assert sorted(cause_tags(page)) == ["port ge-0/0/7"]  # not the declared port, not the PF, not the VFs
    tag = assert_beside(page, "port ge-0/0/7")
    assert "ge-0/0/1" in tag.title and "ge-0/0/7" in tag.title  # both ports named
    assert ">learned here</text>" in page and 'class="learned-cable"' in page
    assert "eno2&#39;s VF MACs were learned on ge-0/0/7; declared: ge-0/0/1" in page


def test_cabling_to_another_pfs_port_marks_that_port_without_drawing_it_twice() -> None:
    results = seed(fail("switch-mac", reason="other-port", mac="m",
                        learned=[{"vlan_name": "SRIOV_201", "vlan_id": 201, "interface": "ge-0/0/2.0"}]))
    results.attachments = [*results.attachments, {**results.attachments[0], "container": "x", "pf": "eno3", "switch_port": "ge-0/0/2"}]
    results, page = diagnosed(results)
    d = build_diagram(results)
    assert d.extra_ports == () and [p.port_cause for p in d.pfs] == ["", "C1"]
    assert page.count(">ge-0/0/2</text>") == 1
    assert sorted(cause_tags(page)) == ["port ge-0/0/2"] and assert_beside(page, "port ge-0/0/2")


@pytest.mark.parametrize(("learned", "part"), [
    ({"vlan_name": "SRIOV_200", "vlan_id": 200}, "vlan 200"),  # ELS: the id is in the table
    ({"vlan_name": "sriov_200", "vlan_id": None}, "vlan 200"),  # non-ELS text table: by name
    ({"vlan_name": "default", "vlan_id": 1}, "vlan 201"),  # a VLAN the diagram does not draw: the declared one
])
def test_a_mac_on_another_vlan_marks_that_vlan(learned: dict[str, object], part: str) -> None:
    results, page = diagnosed(seed(fail("switch-mac", reason="other-vlan", mac="m",
                                        learned=[{**learned, "interface": "ge-0/0/1.0"}])))
    assert [c.rule for c in results.causes] == ["mac-other-vlan"]
    assert sorted(cause_tags(page)) == [part] and assert_beside(page, part).ids == "C1"


@pytest.mark.parametrize(("checks", "pfs", "part"), [
    ([fail("switch-port", reason="vlan-not-member"), fail("gateway-ping"), fail("switch-mac", reason="not-learned")], [],
     "port ge-0/0/1"),
    ([fail("switch-port", reason="port-down"), fail("gateway-ping")], [], "port ge-0/0/1"),
    ([fail("mtu", port_mtu=1400, mtu_wanted=1500)], [], "port ge-0/0/1"),
    ([fail("vf-attached"), fail("gateway-ping")], [PfState("eno2", True, "down", False, "ge-0/0/1")], "pf eno2"),
    ([fail("gateway-ping")], [], "vlan 201"),
    ([fail("vf-config", observed_vlan=200), fail("gateway-ping")], [], "vf test-201/eth1"),
    ([fail("vf-attached", container_state="missing")], [], "row test-201/eth1"),
    ([replace(fail("vf-attached", mac="02:00:00:00:00:02"), status="pass"), fail("switch-arp", arp_mac="02:de:ad:be:ef:01")], [],
     "row test-201/eth1"),
    ([CheckResult("switch-login", "ex-switch", "error", message="login to switch ex-switch (h:22) as u refused")], [], "switch"),
])
def test_each_cause_marks_its_own_part(checks: list[CheckResult], pfs: list[PfState], part: str) -> None:
    results, page = diagnosed(seed(*checks), pfs)
    assert len(results.causes) == 1, results.causes
    assert sorted(cause_tags(page)) == [part]
    tag = assert_beside(page, part)
    assert tag.ids == "C1" and tag.title == f"C1: {results.causes[0].what}"


# ---------------------------------------------------------------- recorded in the emulated lab

RECORDED = {  # test of test_e2e_diagnosis.py -> (rule, the part its diagram marks)
    "test_vlan_missing_on_the_port_is_one_root_cause_everywhere": ("vlan-not-member", "port ge-0/0/1"),
    "test_pf_without_carrier": ("pf-down", "pf"),
    "test_gateway_down": ("gateway-down", "vlan 200"),
    "test_port_mtu_too_small": ("port-mtu", "port ge-0/0/1"),
    "test_switch_refuses_the_login": ("switch-login-refused", "switch"),
    "test_switch_unreachable": ("switch-unreachable", "switch"),
    "test_switch_port_down": ("port-down", "port ge-0/0/1"),
    "test_vf_tagged_with_another_vlan": ("vf-wrong-vlan", "vf 1"),
    "test_cable_on_another_port": ("cabling-swapped", "port ge-0/0/2"),
    "test_mac_learned_on_another_vlan": ("mac-other-vlan", "vlan 200"),
    "test_duplicate_address": ("duplicate-address", "row 1"),
}


def recorded(name: str) -> RunResults:
    return RunResults.from_json((CAUSES / f"{name}.json").read_text())


def _part(results: RunResults, part: str) -> str:
    """"vf 1" / "row 1": the VF row of attachment 1 (the recorded names carry the lab's random token);
    "pf": the run's PF."""
    what, _, which = part.partition(" ")
    if what == "pf":
        return f"pf {results.attachments[0]['pf']}"
    if what in ("vf", "row") and which.isdigit():
        att = results.attachments[int(which)]
        return f"{what} {att['container']}/{att['ifname']}"
    return part


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_lab_runs_diagnose_again_to_the_same_cause(name: str) -> None:
    results = recorded(name)
    rule, _ = RECORDED[name]
    stored = results.causes
    assert [c.rule for c in stored] == [rule]
    again = [replace(c, cause=None) for c in results.checks]
    pf = str(results.attachments[0]["pf"])
    # the PF's link as the lab's host driver read it during that run (results.json keeps checks, not PF states)
    pfs = [PfState(pf, True, "down", False, "ge-0/0/1")] if rule == "pf-down" else [PfState(pf, True, "up", True, "ge-0/0/1")]
    assert diagnose(again, pfs=pfs, switch=str(results.switch.get("name"))) == stored
    assert [c.cause for c in again] == [c.cause for c in results.checks]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_lab_runs_mark_the_cause_in_the_diagram(name: str) -> None:
    results = recorded(name)
    part = _part(results, RECORDED[name][1])
    page = render_html(results)
    assert sorted(cause_tags(page)) == [part]
    assert assert_beside(page, part).title == f"C1: {results.causes[0].what}"


def test_every_cause_kind_of_the_issue_has_a_recorded_lab_run() -> None:
    rules = {rule for rule, _ in RECORDED.values()} | {"container-missing", "container-stopped"}
    assert rules >= {"vlan-not-member", "pf-down", "port-down", "gateway-down", "vf-wrong-vlan", "cabling-swapped",
                     "mac-other-vlan", "port-mtu", "duplicate-address", "container-missing", "container-stopped",
                     "switch-unreachable", "switch-login-refused"}
    got = json.loads((CAUSES / "test_containers_missing_and_stopped.json").read_text())
    assert sorted(c["rule"] for c in got["causes"]) == ["container-missing", "container-stopped"]
    assert sorted(f.stem for f in CAUSES.glob("*.json")) == sorted([*RECORDED, "test_containers_missing_and_stopped"])


def test_recorded_vm_lab_run_a_path_across_a_down_port_belongs_to_that_port() -> None:
    """The real igb/igbvf drivers in the VM lab (tests/data/results/vm-lab/README.md): ge-0/0/2 down. The
    VF-to-VF path from eno1's VF to eno2's crosses it; recorded before the rule existed, that failure
    was left unexplained."""
    results = RunResults.from_json((DATA / "vm-lab" / "switch-port-down.json").read_text())
    stored = {c.target: c.cause for c in results.checks if c.kind == "vf-path" and c.status == "fail"}
    assert stored == {"vm-200a/eth1": None}
    checks = [replace(c, cause=None) for c in results.checks]
    # QEMU keeps the guest's carrier when the host end of the wire goes down: the guest saw its PFs up
    pfs = [PfState("eno1", True, "up", True, "ge-0/0/1"), PfState("eno2", True, "up", True, "ge-0/0/2")]
    [cause] = diagnose(checks, pfs=pfs, switch="vm-switch")
    assert (cause.rule, cause.what) == ("port-down", "switch port ge-0/0/2 is down")
    assert "vf-path vm-200a/eth1" in cause.explains and len(cause.explains) == 7
    assert not [c for c in checks if c.status in ("fail", "error") and c.cause is None]
    results.checks, results.causes = checks, [cause]
    page = render_html(results)
    assert sorted(cause_tags(page)) == ["port ge-0/0/2"] and assert_beside(page, "port ge-0/0/2")


def test_a_path_goes_to_its_own_vfs_cause_before_its_peers() -> None:
    own = fail("vf-config", observed_vlan=200)
    peer = fail("vf-attached", target="test-200/eth1", container="test-200", container_state="stopped")
    path = fail("vf-path", peer="test-200/eth1")
    causes = diagnose([own, peer, path])
    assert {c.rule: c.explains for c in causes}["vf-wrong-vlan"] == ["vf-config test-201/eth1", "vf-path test-201/eth1"]
