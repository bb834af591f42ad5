"""What every report shows alike: printable text, the statuses as shown, checks grouped by what they
are about (a container's VF, a host port, the switch, the run), and values as display text.

Shared by report.html (`html`), JUnit (`junit`), the fleet report (`fleet`) and the diff (`diff`).
It holds no template, no SVG and no view classes: a host's `verify --no-html` (each host of a rack)
writes JUnit without defining the page's and the diagram's classes (~20 ms of its start-up).
`printable` is the one place that makes device and user strings safe to show.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sriovcheck.verify.results import CHECK_KINDS, STATUSES, CheckResult, RunResults, waiver_of

DASH = "\u2014"
# Keys whose values are never shown, wherever they appear (host, switch, details, nested dicts).
SECRET_KEY = re.compile(r"pass(?:word|wd|phrase)|secret|key_file|private_?key|token|credential", re.IGNORECASE)
REDACTED = "(hidden: looks like a secret)"

# Terminal colour/cursor sequences mean nothing outside a terminal: drop them. Every other control
# character (NUL, BEL, a lone ESC, C1, DEL), bidi overrides (which can make text read differently
# from what it is) and lone surrogates (json.loads accepts "\ud800") become visible escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_NEWLINES = re.compile(r"\r+\n")
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)

# "waived" is a failed check the customer accepted (a deviation): it outranks a pass, never a failure.
SEVERITY = {"error": 5, "fail": 4, "waived": 3, "pass": 2, "skip": 1}


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """`value` as text that is safe to display: no ANSI sequences, no raw control characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _NEWLINES.sub("\n", _ANSI.sub("", text))
    return _INVISIBLE.sub(_visible, text)


def shown_status(check: CheckResult) -> str:
    """The status the reports show: results' status, "waived" for an accepted failure, "error" for
    anything a hand-edited file made up."""
    if check.status == "fail" and waiver_of(check):
        return "waived"
    return check.status if check.status in STATUSES else "error"


def worst(statuses: list[str]) -> str:
    """The status that matters most for a part: error > fail > waived > pass > skip; "" when nothing ran."""
    known = [s for s in statuses if s in SEVERITY]
    return max(known, key=SEVERITY.__getitem__) if known else ""


def attachment_keys(results: RunResults) -> dict[tuple[str, str], dict[str, Any]]:
    """(container, ifname) -> attachment, in attachment order (first one wins)."""
    keys: dict[tuple[str, str], dict[str, Any]] = {}
    for att in results.attachments:
        if isinstance(att, dict):
            keys.setdefault((str(att.get("container") or ""), str(att.get("ifname") or "")), att)
    return keys


def place(check: CheckResult, switch_name: str, vf_keys: dict[tuple[str, str], dict[str, Any]]) -> tuple[str | None, str]:
    """Which (container, ifname) a check is about, or (None, target) for the switch and run-level checks.

    Targets are "<container>/<ifname>": split on the last "/" (Linux interface names cannot contain
    one), but a known attachment or the check's own details win, so odd container names still group.
    """
    target = str(check.target or "")
    if target == switch_name:
        return None, target
    details = check.details if isinstance(check.details, dict) else {}
    container, ifname = str(details.get("container") or ""), str(details.get("ifname") or "")
    if container and (target in (f"{container}/{ifname}", container) or (container, ifname) in vf_keys):
        return container, ifname
    for container, ifname in vf_keys:
        if target == f"{container}/{ifname}":
            return container, ifname
    if "/" in target:
        container, ifname = target.rsplit("/", 1)
        return container, ifname
    return None, target


def pf_of(check: CheckResult, host: str) -> str | None:
    """The PF a PF-level check is about (target "<host>:<pf>", e.g. cabling), else None."""
    target = str(check.target or "")
    details = check.details if isinstance(check.details, dict) else {}
    pf = str(details.get("pf") or "")
    if pf and target == f"{host}:{pf}":
        return pf
    if check.kind == "cabling" and ":" in target and "/" not in target:
        return target.rsplit(":", 1)[1]
    return None


# --- grouping shared by the HTML and JUnit renderers ------------------------------------------


def status_of(check: CheckResult) -> str:
    """A status the reports know; anything else (a hand-edited file) counts as an error."""
    return check.status if check.status in STATUSES else "error"


def finite_seconds(value: object) -> float:
    """A duration that reports can print: a number, never negative, NaN or infinite."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


@dataclass(frozen=True)
class CheckGroup:
    """The checks of one container VF (container set) or of one other target: a host port (PF-level
    checks such as cabling, target "<host>:<pf>"; `pf` set), the switch, the run."""

    container: str | None
    ifname: str
    target: str
    attachment: dict[str, Any]
    checks: tuple[CheckResult, ...]
    pf: str | None = None

    @property
    def switch_port(self) -> str:
        """The switch port the checks name (details["switch_port"]), "" when none does."""
        ports = (c.details.get("switch_port") for c in self.checks if isinstance(c.details, dict))
        return printable(next((p for p in ports if p), ""))


def kind_rank(kind: str) -> int:
    return CHECK_KINDS.index(kind) if kind in CHECK_KINDS else len(CHECK_KINDS)


def group_checks(results: RunResults) -> list[CheckGroup]:
    """Container VFs first (attachment order, then as first seen), grouped by container; then the
    other targets, the switch first. Checks inside a group follow CHECK_KINDS, then file order."""
    vf_keys = attachment_keys(results)
    switch_name = str(results.switch.get("name") or "")
    buckets: dict[tuple[str | None, str], list[CheckResult]] = {key: [] for key in vf_keys}
    for check in results.checks:
        buckets.setdefault(place(check, switch_name, vf_keys), []).append(check)

    host = str(results.host.get("name") or "")
    pfs: dict[str, str] = {}  # target -> PF, for the targets whose every check is PF-level
    for (container, target), checks in buckets.items():
        found = {pf_of(c, host) for c in checks}
        if container is None and checks and len(found) == 1 and None not in found:
            pfs[target] = str(found.pop())

    containers = list(dict.fromkeys(c for c, _ in buckets if c is not None))
    # Then host ports, the switch, anything else (run-level).
    others = sorted((k for k in buckets if k[0] is None), key=lambda k: (k[1] not in pfs, k[1] != switch_name))
    order = [k for c in containers for k in buckets if k[0] == c] + others
    groups = []
    for container, ifname in order:
        checks = sorted(buckets[(container, ifname)], key=lambda c: kind_rank(c.kind))
        target = f"{container}/{ifname}" if container is not None else ifname
        attachment = vf_keys.get((container, ifname), {}) if container is not None else {}
        pf = pfs.get(ifname) if container is None else None
        groups.append(CheckGroup(container, ifname, target, attachment, tuple(checks), pf))
    return groups


SHOWN_STATUSES = ("pass", "fail", "waived", "error", "skip")


def count_statuses(checks: list[CheckResult] | tuple[CheckResult, ...]) -> dict[str, int]:
    """Counts as the report shows them: a waived failure counts as "waived", not as "fail"."""
    counts: dict[str, int] = dict.fromkeys(SHOWN_STATUSES, 0)
    for check in checks:
        counts[shown_status(check)] += 1
    return counts


def show(value: Any) -> str:
    """Any value as display text ("—" when missing); secrets inside dicts hidden."""
    if value is None or value == "" or value == [] or value == {}:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{printable(k)}: {REDACTED if SECRET_KEY.search(str(k)) else show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    return printable(value)


def facts(data: dict[str, Any], skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    if not isinstance(data, dict):
        return []
    return [
        (printable(k), REDACTED if SECRET_KEY.search(str(k)) else show(v))
        for k, v in data.items()
        if k not in skip
    ]
