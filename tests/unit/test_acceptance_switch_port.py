"""check_switch_port, branch by branch: what the port's VLAN membership says, and the fix in the
platform's own configuration language."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovcheck.parsers.tables import PortVlan
from sriovcheck.switch import platforms
from sriovcheck.topology import load_topology
from sriovcheck.verify import checks as C
from sriovcheck.verify.acceptance import SwitchAcceptanceData, check_switch_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exp() -> C.Expectation:
    t = load_topology(ROOT / "topologies" / "seed-lab.yaml").topology
    first = C.expectations(t)[0]
    assert (first.switch_port, first.vlan_id) == ("ge-0/0/1", 200)
    return first


def _row(vlan: str, vid: int | None, *, up: bool | None = True, tagging: str | None = "tagged", stp: str | None = None) -> PortVlan:
    return PortVlan("ge-0/0/1.0", up, vlan, vid, tagging, stp_state=stp)


def _check(exp: C.Expectation, rows: list[PortVlan] | None, **kw: object) -> tuple[str, str, str, dict[str, object]]:
    r = check_switch_port(exp, SwitchAcceptanceData(port_vlans=rows, **kw))  # type: ignore[arg-type]
    extra = {k: r.details[k] for k in ("reason", "carried", "fix") if k in r.details}
    return r.status, r.observed, r.message, extra


def test_a_tagged_forwarding_member_passes(exp: C.Expectation) -> None:
    assert _check(exp, [_row("SRIOV_200", 200, stp="Forwarding"), _row("SRIOV_201", 201)]) == (
        "pass", "ge-0/0/1 up, VLANs SRIOV_200 (200), SRIOV_201 (201)", "", {})


def test_each_failure_says_why_and_the_fix(exp: C.Expectation) -> None:
    status, observed, message, extra = _check(exp, [_row("SRIOV_201", 201)])
    fix = "set interfaces ge-0/0/1 unit 0 family ethernet-switching vlan members SRIOV_200"
    assert (status, observed) == ("fail", "ge-0/0/1 carries SRIOV_201 (201)")
    assert message.startswith("VLAN 200 (SRIOV_200) is not a member of ge-0/0/1: ") and fix in message
    assert extra["reason"] == "vlan-not-member" and extra["carried"] == "SRIOV_201 (201)" and fix in str(extra["fix"])

    status, observed, message, extra = _check(exp, [_row("SRIOV_200", 200, up=False)])
    assert (status, extra) == ("fail", {"reason": "port-down", "carried": "SRIOV_200 (200)"})
    assert message == "switch port ge-0/0/1 is down: check the cable to eno2 and the PF link"

    status, observed, message, extra = _check(exp, [_row("SRIOV_200", 200, tagging="untagged")])
    assert (status, observed, extra["reason"]) == ("fail", "VLAN 200 untagged on ge-0/0/1", "untagged")
    assert "but the PF tags the VF's traffic" in message

    status, observed, message, extra = _check(exp, [_row("SRIOV_200", 200, stp="Discarding")])
    assert (status, observed, extra) == ("fail", "VLAN 200 on ge-0/0/1: Discarding", {"reason": "blocking", "carried": "SRIOV_200 (200)"})

    status, observed, message, extra = _check(exp, [])
    assert (status, observed, extra["reason"]) == ("fail", "ge-0/0/1 is not a switching (layer-2) port", "not-switching")
    assert message.startswith("ge-0/0/1 carries no VLAN: ") and extra["fix"] in message


def test_the_fix_speaks_the_platform(exp: C.Expectation) -> None:
    eos = SwitchAcceptanceData(port_vlans=[_row("SRIOV_201", 201)], platform=platforms.get("arista_eos"))
    r = check_switch_port(exp, eos)
    assert r.details["fix"] == "allow VLAN 200 on ge-0/0/1's trunk (interface ge-0/0/1 / switchport trunk allowed vlan add 200)"


def test_unreadable_and_missing_outputs(exp: C.Expectation) -> None:
    status, observed, message, _ = _check(exp, None, errors={"port-vlans": "timed out"})
    assert (status, observed, message) == ("error", "unreadable", "cannot read the port's VLAN membership: timed out")
    r = check_switch_port(exp, SwitchAcceptanceData(missing={"port-vlans": "show ethernet-switching interface ge-0/0/1"}))
    assert (r.status, r.message) == ("skip", "not run: the saved switch outputs have no `show ethernet-switching interface ge-0/0/1`")
