"""The result model and `results.json` (schema_version 2): pure data, no I/O beyond (de)serialising.

A failed check is data, not an exception: `status` is pass / fail / error / skip, with what was
expected, what was observed, a message that explains, and the raw evidence.

Schema 2 adds the root causes (`causes`, see sriovcheck.verify.diagnosis) and, on each check, `cause`
(the id of the cause that explains it, or null). Schema 1 files are read as having no causes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sriovcheck.topology.names import CHECK_KINDS

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
Status = Literal["pass", "fail", "error", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "error", "skip")
# CHECK_KINDS (the kinds of check, in reading order) live with the topology's names: waivers name them.
__all__ = ["CHECK_KINDS", "READABLE_SCHEMAS", "SCHEMA_VERSION", "STATUSES", "Status"]


@dataclass
class Evidence:
    source: str  # "host", "container:<name>", "switch:<name>", "files:<dir>"
    command: str  # what was asked (a CLI command, or a netlink query described in words)
    output: str


@dataclass
class CheckResult:
    kind: str
    target: str  # "<container>/<ifname>" or the switch name
    status: Status
    expected: str = ""
    observed: str = ""
    message: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    duration_s: float = 0.0
    # Extra structured facts (container, pf, vf, vlan, mac, switch_port, rtt ...) for reports.
    details: dict[str, Any] = field(default_factory=dict)
    cause: str | None = None  # id of the root cause (RunResults.causes) that explains this check


@dataclass
class Cause:
    """One root cause: what is wrong, where, the evidence, the fix, and the checks it explains
    (each as "<kind> <target>"). `marks` name the part of the diagram that is wrong: `switch`, `pf`,
    `switch_port`, `vlan` (an id) or `vlan_name`, `targets` (containers' rows), `vfs` (VF chips); `learned_port` with
    `declared_port` and `learned_from` (a PF) for a cable on another port than declared;
    `declared_vlan` where the VLAN named is not the one the topology declares."""

    id: str
    rule: str
    what: str
    where: str
    evidence: list[str]
    fix: str
    explains: list[str]
    marks: dict[str, Any] = field(default_factory=dict)


def waiver_of(check: CheckResult) -> str | None:
    """The reason a failed check was accepted by the customer, if it was."""
    reason = check.details.get("waiver") if isinstance(check.details, dict) else None
    return str(reason) if reason else None


@dataclass
class RunResults:
    topology: dict[str, Any]  # name, file, sha256, description
    started: str  # ISO 8601 UTC
    finished: str
    host: dict[str, Any]  # name, kernel, driver kind, NIC drivers, lab: bool, lab_image ...
    switch: dict[str, Any]  # name, address, model, platform, os_name, os_version, source, host_key_fingerprint
    checks: list[CheckResult]
    sriovcheck_version: str = ""
    run_by: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)  # one per VF: container, ifname, pf, vf, vlan, mac ...
    notes: list[str] = field(default_factory=list)
    # Handover: customer, site, rack, executed_by, witnessed_by, notes (all optional text).
    handover: dict[str, Any] = field(default_factory=dict)
    evidence_bundle: str | None = None  # directory (relative to results.json) with the raw evidence, on failure
    causes: list[Cause] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        # No evidence is never a pass: zero checks is a failure. A failed check the customer
        # waived (details["waiver"] holds the reason) is a deviation, shown apart; it does not
        # fail the run, an error always does.
        if not self.checks:
            return "fail"
        ok = all(c.status in ("pass", "skip") or (c.status == "fail" and waiver_of(c)) for c in self.checks)
        return "pass" if ok and any(c.status == "pass" for c in self.checks) else "fail"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for c in self.checks:
            out[c.status] = out.get(c.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "topology": self.topology,
            "verdict": self.verdict,
            "counts": self.counts(),
            "started": self.started,
            "finished": self.finished,
            "sriovcheck_version": self.sriovcheck_version,
            "run_by": self.run_by,
            "host": self.host,
            "switch": self.switch,
            "attachments": self.attachments,
            "notes": self.notes,
            "handover": self.handover,
            "evidence_bundle": self.evidence_bundle,
            "causes": [asdict(c) for c in self.causes],
            "checks": [asdict(c) for c in self.checks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResults:
        if data.get("schema_version") not in READABLE_SCHEMAS:
            raise ValueError(
                f"results schema_version {data.get('schema_version')!r} is not supported "
                f"(this sriovcheck reads {', '.join(map(str, READABLE_SCHEMAS))})"
            )
        checks = []
        for i, c in enumerate(data.get("checks", [])):
            if c.get("status") not in STATUSES:
                raise ValueError(f"checks[{i}].status is {c.get('status')!r}; one of {', '.join(STATUSES)} expected")
            ev = [Evidence(**e) for e in c.get("evidence", [])]
            checks.append(CheckResult(**{**c, "evidence": ev}))
        return cls(
            topology=data["topology"],
            started=data["started"],
            finished=data["finished"],
            host=data.get("host", {}),
            switch=data.get("switch", {}),
            checks=checks,
            sriovcheck_version=data.get("sriovcheck_version", ""),
            run_by=data.get("run_by", ""),
            attachments=data.get("attachments", []),
            notes=data.get("notes", []),
            handover=data.get("handover") or {},
            evidence_bundle=data.get("evidence_bundle"),
            causes=[Cause(**c) for c in data.get("causes") or []],
        )

    @classmethod
    def from_json(cls, text: str) -> RunResults:
        return cls.from_dict(json.loads(text))
