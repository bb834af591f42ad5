"""Customer waivers: a failed check the customer accepts stays `fail`, carries the reason, and is
shown apart as a deviation; errors (a check that could not run) cannot be waived."""

from __future__ import annotations

from sriovcheck.topology.model import Topology
from sriovcheck.verify.results import CheckResult

HANDOVER_FIELDS = ("customer", "site", "rack", "executed_by", "witnessed_by", "notes")


def apply_waivers(t: Topology, checks: list[CheckResult]) -> None:
    """A failed check the customer accepted keeps status fail and carries the reason; errors
    (a check that could not run) cannot be waived."""
    if not t.handover:
        return
    waivers = {(w.check, w.target): w.reason for w in t.handover.waivers}
    for c in checks:
        reason = waivers.get((c.kind, c.target))
        if reason and c.status == "fail":
            c.details["waiver"] = reason
