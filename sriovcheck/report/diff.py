"""Compare two runs (two results.json): what got worse, what was fixed, what changed.

Checks are matched by (kind, target) (the n-th check of a pair with the n-th, should a file hold
several). A check counts as failing when its status is fail or error and no waiver covers it; a
waived failure is an accepted deviation and counts with the passes. Only observations that say
something about the installation are compared: volatile values (ages, times, durations, RTT
figures, packet counters, neighbour states) are left out (see IGNORED), so that two runs of the
same healthy lab compare equal.

`worse` is true for: a new failure, a vanished check, a VF MAC learned on another port or VLAN, a
gateway RTT that grew past max(rtt_factor x old, old + rtt_floor_ms), a changed switch host key.
Everything else that differs (statuses that stay acceptable, VF MACs, switch model and OS
version, texts of checks) is reported as a change without making the comparison fail.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from junit_xml import TestCase, TestSuite

from sriovcheck.report.grouping import printable
from sriovcheck.verify.results import CHECK_KINDS, CheckResult, RunResults, waiver_of

# What a comparison leaves out. Strings are keys (of a check, of its details, of a run) whose values
# change on every run; patterns are removed from expected/observed texts before they are compared.
IGNORED: tuple[str | re.Pattern[str], ...] = (
    "started",
    "finished",
    "duration_s",
    "evidence",  # raw outputs hold timers and counters; the verdict on them is in status/observed
    "age",
    "age_s",
    "waited_s",
    "rtt_min_ms",
    "rtt_avg_ms",  # compared with its own threshold (rtt_factor, rtt_floor_ms), not as text
    "rtt_max_ms",
    "rtt_mdev_ms",
    "sent",
    "received",
    re.compile(r", age \d+(?:\.\d+)? ?s\b"),  # switch-mac: "learned on ge-0/0/1.0, age 12 s"
    re.compile(r",? ?rtt min/avg/max(?:/mdev)? [\d./]+ ?ms"),  # gateway-ping: "rtt min/avg/max 0.1/0.2/0.3 ms"
    re.compile(r"\d+(?:\.\d+)? ?ms\b"),  # any other timing in a text
    re.compile(r" \((?:REACHABLE|STALE|DELAY|PROBE)\)"),  # kernel neighbour states that age by themselves
)
_KEYS = frozenset(x for x in IGNORED if isinstance(x, str))
_PATTERNS = tuple(x for x in IGNORED if isinstance(x, re.Pattern))
# switch-mac observed: "<vlan name>[ (<id>)] <learned|static|...> on <interface>[, age N s]", ";"-joined.
_MAC_PLACE = re.compile(r"^\s*(?P<vlan>\S+)(?: \((?P<vid>\d+)\))? \S+ on (?P<port>\S+?)(?:,.*)?\s*$")

Category = Literal[
    "new-failure", "vanished", "mac-moved", "rtt-grown", "host-key",  # got worse
    "fixed",
    "new-check", "status", "observed", "expected", "mac-changed", "mac-vanished", "switch", "run",  # changed
]
WORSE: frozenset[str] = frozenset({"new-failure", "vanished", "mac-moved", "rtt-grown", "host-key"})
RUN_TARGET = "run"  # the target of changes that belong to no check: kind is then e.g. "switch.model"
VF_MAC = "vf-mac"  # the kind of a VF MAC change (from attachments; target "<container>/<ifname>")


def normalise(text: str) -> str:
    """A check's text without the parts that change on every run (IGNORED patterns)."""
    for pattern in _PATTERNS:
        text = pattern.sub("", text)
    return " ".join(text.split())


def _state(check: CheckResult | None) -> str:
    """pass / skip / waived / fail / error, or absent."""
    if check is None:
        return "absent"
    if check.status == "fail" and waiver_of(check):
        return "waived"
    return check.status


def _bad(state: str) -> bool:
    return state in ("fail", "error")


def _status_text(check: CheckResult | None) -> str:
    if check is None:
        return "absent"
    waiver = waiver_of(check)
    return f"{check.status} (waived: {printable(waiver)})" if check.status == "fail" and waiver else check.status


@dataclass(frozen=True)
class Change:
    """One difference between the two runs."""

    category: Category
    kind: str  # the check kind; VF_MAC; or "<section>.<key>" (e.g. "switch.model") for the run
    target: str  # the check target ("<container>/<ifname>", "<host>:<pf>", the switch), or RUN_TARGET
    before: str  # old status / value ("absent" when there was none)
    after: str
    expected: str = ""  # the (new, else old) check's expectation
    observed_before: str = ""
    observed_after: str = ""
    note: str = ""  # why it matters, in words (the new check's message for a new failure)

    @property
    def worse(self) -> bool:
        return self.category in WORSE

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "worse": self.worse,
            "kind": self.kind,
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "expected": self.expected,
            "observed_before": self.observed_before,
            "observed_after": self.observed_after,
            "note": self.note,
        }


@dataclass(frozen=True)
class Pair:
    """One compared (kind, target): its status in each run and what changed about it."""

    kind: str
    target: str
    before: str  # _state(): pass / skip / waived / fail / error / absent
    after: str
    changes: tuple[Change, ...]

    @property
    def worse(self) -> bool:
        return any(c.worse for c in self.changes)


@dataclass(frozen=True)
class RunLabel:
    topology: str
    started: str
    verdict: str
    counts: dict[str, int]

    @classmethod
    def of(cls, results: RunResults) -> RunLabel:
        return cls(printable(results.topology.get("name")), printable(results.started), results.verdict, results.counts())


@dataclass(frozen=True)
class Diff:
    old: RunLabel
    new: RunLabel
    pairs: tuple[Pair, ...]  # every compared (kind, target), in report order
    run_changes: tuple[Change, ...]  # switch host key, model, OS version, sriovcheck version ...
    rtt_factor: float
    rtt_floor_ms: float
    # Attachment MAC changes are per VF, not per check: kept here, also listed in `changes`.
    vf_changes: tuple[Change, ...] = field(default=())

    @property
    def changes(self) -> list[Change]:
        return [c for p in self.pairs for c in p.changes] + list(self.vf_changes) + list(self.run_changes)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.worse]

    @property
    def fixed(self) -> list[Change]:
        return [c for c in self.changes if c.category == "fixed"]

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if not c.worse and c.category != "fixed"]

    @property
    def worse(self) -> bool:
        return any(c.worse for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        def label(run: RunLabel) -> dict[str, Any]:
            return {"topology": run.topology, "started": run.started, "verdict": run.verdict, "counts": run.counts}

        return {
            "old": label(self.old),
            "new": label(self.new),
            "worse": self.worse,
            "compared": len(self.pairs),
            "rtt_factor": self.rtt_factor,
            "rtt_floor_ms": self.rtt_floor_ms,
            "ignored": [x if isinstance(x, str) else x.pattern for x in IGNORED],
            "got_worse": [c.as_dict() for c in self.regressions],
            "fixed": [c.as_dict() for c in self.fixed],
            "changed": [c.as_dict() for c in self.changed],
        }

    def render_text(self) -> str:
        """A summary for people: the verdict of the comparison, then got worse / fixed / changed."""
        def run(tag: str, label: RunLabel) -> str:
            counts = ", ".join(f"{n} {s}" for s, n in label.counts.items() if n)
            return f"{tag}: {label.topology or '?'} started {label.started or '?'}: {label.verdict.upper()} ({counts or 'no checks'})"

        head = "GOT WORSE" if self.worse else "NOT WORSE"
        lines = [
            run("old", self.old),
            run("new", self.new),
            f"compared {len(self.pairs)} checks: {head} ({len(self.regressions)} got worse, "
            f"{len(self.fixed)} fixed, {len(self.changed)} changed)",
        ]
        for title, items in (("got worse", self.regressions), ("fixed", self.fixed), ("changed", self.changed)):
            lines.append("")
            lines.append(f"{title} ({len(items)}):" if items else f"{title}: none")
            for change in items:
                lines.extend(_describe(change))
        return "\n".join(lines) + "\n"


_TITLES: dict[str, str] = {
    "new-failure": "new failure",
    "vanished": "check vanished",
    "mac-moved": "VF MAC moved",
    "rtt-grown": "gateway RTT grew",
    "host-key": "switch host key changed",
    "fixed": "fixed",
    "new-check": "new check",
    "status": "status changed",
    "observed": "observation changed",
    "expected": "expectation changed",
    "mac-changed": "VF MAC changed",
    "mac-vanished": "VF MAC vanished",
    "switch": "switch changed",
    "run": "run changed",
}


def _describe(change: Change) -> list[str]:
    what = change.kind if change.target == RUN_TARGET else change.target if change.kind == VF_MAC else f"{change.kind} {change.target}"
    out = [f"  - {_TITLES[change.category]}: {what}: {change.before} -> {change.after}"]
    if change.expected:
        out.append(f"      expected: {change.expected}")
    if change.observed_before or change.observed_after:
        out.append(f"      observed before: {change.observed_before or '-'}")
        out.append(f"      observed now:    {change.observed_after or '-'}")
    if change.note:
        out.append(f"      {change.note}")
    return out


# --- comparing ------------------------------------------------------------------------------------


def _kind_rank(kind: str) -> int:
    return CHECK_KINDS.index(kind) if kind in CHECK_KINDS else len(CHECK_KINDS)


def _keyed(checks: Iterable[CheckResult]) -> dict[tuple[str, str, int], CheckResult]:
    seen: dict[tuple[str, str], int] = {}
    out: dict[tuple[str, str, int], CheckResult] = {}
    for check in checks:
        key = (str(check.kind), str(check.target))
        n = seen.get(key, 0)
        seen[key] = n + 1
        out[(*key, n)] = check
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _places(check: CheckResult) -> tuple[str, ...]:
    """Where the switch learned a VF's MAC, from switch-mac's observed text: ("VLAN@port", ...)."""
    places = []
    for part in str(check.observed or "").split(";"):
        match = _MAC_PLACE.match(part)
        if match and "not in the MAC table" not in part:
            places.append(f"{match['vlan']}@{match['port']}")
    return tuple(sorted(places))


def _details(check: CheckResult) -> dict[str, str]:
    details = check.details if isinstance(check.details, dict) else {}
    return {str(k): printable(v) for k, v in details.items() if k not in _KEYS and k != "waiver"}


def _compare_pair(kind: str, target: str, old: CheckResult | None, new: CheckResult | None, *, rtt_factor: float,
                  rtt_floor_ms: float, renamed: re.Pattern[str] | None, macs: dict[str, str]) -> Pair:
    def same(text: str) -> str:
        # A VF MAC that changed is reported once (mac-changed), not again in every text that names it.
        text = renamed.sub(lambda m: macs[m.group().lower()], text) if renamed else text
        return normalise(text)

    kind, target = printable(kind), printable(target)
    before, after = _state(old), _state(new)
    expected = printable((new.expected if new else "") or (old.expected if old else ""))
    obs_old = printable(old.observed) if old else ""
    obs_new = printable(new.observed) if new else ""

    def change(category: Category, b: str, a: str, note: str = "", *, observed: bool = True) -> Change:
        return Change(category, kind, target, b, a, expected, obs_old if observed else "", obs_new if observed else "", note)

    changes: list[Change] = []
    message = printable(new.message) if new else ""
    if new is None:
        changes.append(change("vanished", _status_text(old), "absent", "the new run has no such check"))
    elif old is None:
        category: Category = "new-failure" if _bad(after) else "new-check"
        changes.append(change(category, "absent", _status_text(new), message))
    elif _bad(after) and not _bad(before):
        changes.append(change("new-failure", _status_text(old), _status_text(new), message))
    elif (_bad(before) or before == "waived") and new.status == "pass":
        changes.append(change("fixed", _status_text(old), _status_text(new)))
    elif before != after:
        note = f"waived: {printable(waiver_of(new))}" if after == "waived" else message
        changes.append(change("status", _status_text(old), _status_text(new), note))
    elif same(obs_old) != normalise(obs_new):
        changes.append(change("observed", _status_text(old), _status_text(new), message if _bad(after) else ""))

    if old is not None and new is not None:
        # A skipped check states no expectation: nothing to compare then.
        exp_old, exp_new = same(printable(old.expected)), normalise(printable(new.expected))
        if exp_old and exp_new and exp_old != exp_new:
            changes.append(
                Change("expected", kind, target, printable(old.expected), printable(new.expected),
                       note="the topology or the VF changed between the runs")
            )
        old_details = {k: same(v) for k, v in _details(old).items()}
        new_details = {k: normalise(v) for k, v in _details(new).items()}
        if kind == "switch-mac" and (was := _places(old)) and (now := _places(new)) and was != now:
            changes.append(
                change("mac-moved", ", ".join(was), ", ".join(now),
                       "the switch learned the VF's MAC on another port or VLAN: recabled, moved or looped?")
            )
        if kind == "gateway-ping":
            rtt_old = _number(old.details.get("rtt_avg_ms")) if isinstance(old.details, dict) else None
            rtt_new = _number(new.details.get("rtt_avg_ms")) if isinstance(new.details, dict) else None
            if rtt_old is not None and rtt_new is not None and rtt_new > max(rtt_factor * rtt_old, rtt_old + rtt_floor_ms):
                changes.append(
                    change("rtt-grown", f"{rtt_old:g} ms", f"{rtt_new:g} ms",
                           f"average RTT above max({rtt_factor:g} x old, old + {rtt_floor_ms:g} ms)")
                )
        moved = [k for k in sorted(set(old_details) | set(new_details)) if old_details.get(k) != new_details.get(k)]
        if moved and not changes:
            changes.append(
                Change("observed", kind, target, "; ".join(f"{k}={old_details.get(k, '-')}" for k in moved),
                       "; ".join(f"{k}={new_details.get(k, '-')}" for k in moved), note="details changed")
            )
    return Pair(kind, target, before, after, tuple(changes))


def _vf_macs(results: RunResults) -> dict[str, str]:
    """"<container>/<ifname>" -> the VF's MAC (attachment order, first wins)."""
    out: dict[str, str] = {}
    for att in results.attachments:
        if isinstance(att, dict):
            out.setdefault(f"{printable(att.get('container'))}/{printable(att.get('ifname'))}", printable(att.get("mac")))
    return out


def _vf_changes(was: dict[str, str], now: dict[str, str]) -> list[Change]:
    changes = []
    for target, mac in was.items():
        if not mac:
            continue
        if not now.get(target):
            changes.append(Change("mac-vanished", VF_MAC, target, mac, "absent", note="no MAC recorded for this VF in the new run"))
        elif now[target].lower() != mac.lower():
            changes.append(
                Change("mac-changed", VF_MAC, target, mac, now[target],
                       note="a new VF MAC: the switch's MAC and ARP tables and any MAC filter must follow")
            )
    return changes


_RUN_FACTS: tuple[tuple[str, str, Category, str], ...] = (
    ("switch", "host_key_fingerprint", "host-key", "the switch's SSH host key: a replaced switch, or someone in between"),
    ("switch", "model", "switch", "switch model"),
    ("switch", "os_version", "switch", "switch OS version"),
    ("switch", "name", "switch", "switch name"),
    ("host", "name", "run", "host name"),
    ("host", "kernel", "run", "host kernel"),
    ("host", "nic_drivers", "run", "NIC drivers"),
    ("topology", "sha256", "run", "topology file content (SHA-256)"),
    ("", "sriovcheck_version", "run", "sriovcheck version"),
)


def _fact(results: RunResults, section: str, key: str) -> str:
    if not section:
        return printable(getattr(results, key, ""))
    data = getattr(results, section, {})
    value = data.get(key) if isinstance(data, dict) else None
    if section == "switch" and key == "os_version" and isinstance(data, dict):
        from sriovcheck.switch.platforms import reported_os

        value = reported_os(data)[1]  # results written before platforms name it otherwise
    if isinstance(value, list | tuple):
        return ", ".join(printable(v) for v in value)
    return printable(value)


def _run_changes(old: RunResults, new: RunResults) -> list[Change]:
    changes = []
    for section, key, category, what in _RUN_FACTS:
        was, now = _fact(old, section, key), _fact(new, section, key)
        if was != now and (was or now):
            name = f"{section}.{key}" if section else key
            lab = " (both runs in the emulated lab, which makes a new key each time it is brought up)" if (
                category == "host-key" and old.host.get("lab") and new.host.get("lab")) else ""
            changes.append(Change(category, name, RUN_TARGET, was or "absent", now or "absent", note=f"{what}{lab}"))
    return changes


def diff_results(old: RunResults, new: RunResults, *, rtt_factor: float = 2.0, rtt_floor_ms: float = 1.0) -> Diff:
    """Compare two runs check by check (kind, target); pure: no I/O, no clock."""
    if not (math.isfinite(rtt_factor) and rtt_factor >= 1 and math.isfinite(rtt_floor_ms) and rtt_floor_ms >= 0):
        raise ValueError(f"rtt_factor must be >= 1 and rtt_floor_ms >= 0 (got {rtt_factor!r}, {rtt_floor_ms!r})")
    was_macs, now_macs = _vf_macs(old), _vf_macs(new)
    macs = {m.lower(): now_macs[t].lower() for t, m in was_macs.items() if m and now_macs.get(t) and now_macs[t].lower() != m.lower()}
    renamed = re.compile("|".join(map(re.escape, sorted(macs))), re.IGNORECASE) if macs else None
    was, now = _keyed(old.checks), _keyed(new.checks)
    order = list(now) + [k for k in was if k not in now]
    # Report order: as the new run reads (VF targets in file order), vanished checks last in their place.
    targets = {t: i for i, t in enumerate(dict.fromkeys(k[1] for k in order))}
    order.sort(key=lambda k: (targets[k[1]], _kind_rank(k[0]), k[0], k[2]))
    pairs = tuple(
        _compare_pair(kind, target, was.get((kind, target, n)), now.get((kind, target, n)),
                      rtt_factor=rtt_factor, rtt_floor_ms=rtt_floor_ms, renamed=renamed, macs=macs)
        for kind, target, n in order
    )
    return Diff(RunLabel.of(old), RunLabel.of(new), pairs, tuple(_run_changes(old, new)), rtt_factor, rtt_floor_ms,
                tuple(_vf_changes(was_macs, now_macs)))


# --- JUnit ----------------------------------------------------------------------------------------


def _case_for(pair: Pair) -> TestCase:
    target = printable(pair.target)
    case = TestCase(name=printable(pair.kind) or "check", classname=f"sriovcheck.diff.{target}", elapsed_sec=0.0)
    text = "\n".join(line for c in pair.changes for line in _describe(c)) or None
    worse = [c for c in pair.changes if c.worse]
    if worse:
        message = "; ".join(f"{_TITLES[c.category]}: {c.before} -> {c.after}" for c in worse)
        case.add_failure_info(message=message, output=text)
    else:
        case.stdout = text
    return case


def _run_case(name: str, changes: list[Change]) -> TestCase:
    case = TestCase(name=name, classname=f"sriovcheck.diff.{RUN_TARGET}", elapsed_sec=0.0)
    text = "\n".join(line for c in changes for line in _describe(c)) or None
    worse = [c for c in changes if c.worse]
    if worse:
        case.add_failure_info(message="; ".join(f"{c.note}: {c.before} -> {c.after}" for c in worse), output=text)
    else:
        case.stdout = text
    return case


def render_diff_junit(diff: Diff) -> str:
    """The comparison as JUnit (valid for junit-10.xsd): one testcase per compared (kind, target),
    a failure for each one that got worse; run-level facts (host key, switch, versions) and VF MACs
    in a suite of their own. Changes that are not regressions are the passing cases' system-out."""
    by_target: dict[str, list[TestCase]] = {}
    for pair in diff.pairs:
        by_target.setdefault(pair.target, []).append(_case_for(pair))
    suites = [TestSuite(f"diff {printable(t)}", cases) for t, cases in by_target.items()]
    run_cases = [
        _run_case("switch-host-key", [c for c in diff.run_changes if c.category == "host-key"]),
        _run_case("switch", [c for c in diff.run_changes if c.category == "switch"]),
        _run_case("vf-macs", list(diff.vf_changes)),
        _run_case("versions", [c for c in diff.run_changes if c.category == "run"]),
    ]
    suites.append(TestSuite(f"diff {RUN_TARGET}", run_cases))
    root = ET.Element("testsuites", {"name": f"sriovcheck diff {diff.old.topology}".rstrip()})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in suites:
        element = suite.build_xml_doc()
        element.attrib.pop("disabled", None)  # junit-10.xsd rejects it; see junit.py
        element.set("time", "0.000")
        for case in element.iter("testcase"):
            case.set("time", "0.000")
        for key in totals:
            totals[key] += int(element.get(key, "0"))
        root.append(element)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0.000")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
