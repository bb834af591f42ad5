"""Handover section of the topology: validation of waivers, and waived failures as deviations."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovcheck.errors import TopologyError
from sriovcheck.report.summary import summary_table
from sriovcheck.topology import load_text
from sriovcheck.verify.results import CheckResult, RunResults, waiver_of
from sriovcheck.verify.waivers import apply_waivers

SEED = (Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml").read_text()
HANDOVER = """handover:
  customer: ACME Telco
  site: Frankfurt DC2
  rack: R12
  executed_by: J. Doe
  witnessed_by: A. Customer
  waivers:
    - check: gateway-mac
      target: test-201/eth1
      reason: VRRP virtual MAC answers on VLAN 201 by design
"""


def test_handover_is_read_and_waivers_apply_to_failures_only() -> None:
    t = load_text(SEED + HANDOVER).topology
    assert t.handover is not None and t.handover.site == "Frankfurt DC2"
    checks = [
        CheckResult(kind="gateway-mac", target="test-201/eth1", status="fail", message="something else answers"),
        CheckResult(kind="gateway-mac", target="test-200/eth1", status="pass"),
    ]
    apply_waivers(t, checks)
    assert waiver_of(checks[0]) == "VRRP virtual MAC answers on VLAN 201 by design"
    assert waiver_of(checks[1]) is None
    results = RunResults(topology={"name": "seed-lab"}, started="", finished="", host={}, switch={}, checks=checks)
    assert results.verdict == "pass"  # the only failure was accepted
    table = summary_table(results)
    assert "WAIVED gateway-mac test-201/eth1: something else answers [accepted: VRRP virtual MAC" in table
    assert "verdict: PASS  (1 passed, 0 failed, 1 waived, 0 errors, 0 skipped)" in table


def test_an_error_cannot_be_waived() -> None:
    t = load_text(SEED + HANDOVER).topology
    checks = [CheckResult(kind="gateway-mac", target="test-201/eth1", status="error", message="could not run")]
    apply_waivers(t, checks)
    assert waiver_of(checks[0]) is None
    assert RunResults(topology={}, started="", finished="", host={}, switch={}, checks=checks).verdict == "fail"


@pytest.mark.parametrize(("old", "new", "path", "message"), [
    ("check: gateway-mac", "check: gateway-macc", "handover.waivers[0].check", "unknown check 'gateway-macc'"),
    ("target: test-201/eth1", "target: test-999/eth1", "handover.waivers[0].target", "target 'test-999/eth1' is not in this topology"),
])
def test_waiver_must_name_a_real_check_and_target(old: str, new: str, path: str, message: str) -> None:
    with pytest.raises(TopologyError) as info:
        load_text(SEED + HANDOVER.replace(old, new), file="t.yaml")
    (p,) = info.value.problems
    assert p.path == path and message in p.message
    assert p.line == (SEED + HANDOVER).splitlines().index("  waivers:") + 1 + (1 if "check" in path else 2)
