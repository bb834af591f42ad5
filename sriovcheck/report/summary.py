"""The summary table printed at the end of verify and run."""

from __future__ import annotations

from sriovcheck.verify.results import RunResults, waiver_of


def summary_table(results: RunResults) -> str:
    kinds: list[str] = []
    for c in results.checks:
        if c.kind not in kinds:
            kinds.append(c.kind)
    targets: list[str] = []
    for c in results.checks:
        if c.target not in targets:
            targets.append(c.target)
    cell = {(c.target, c.kind): ("waived" if waiver_of(c) else c.status) for c in results.checks}
    short = {"pass": "ok", "fail": "FAIL", "error": "ERR", "skip": "skip", "waived": "waived"}
    tw = max(len(t) for t in targets) if targets else 6
    widths = [max(len(k), 4) for k in kinds]
    lines = ["", "target".ljust(tw) + "  " + "  ".join(k.ljust(w) for k, w in zip(kinds, widths, strict=True))]
    for t in targets:
        lines.append(
            t.ljust(tw) + "  " + "  ".join(short.get(cell.get((t, k), ""), "-").ljust(w) for k, w in zip(kinds, widths, strict=True))
        )
    problems = [c for c in results.checks if c.status in ("fail", "error")]
    if problems:
        lines.append("")
        for c in problems:
            waived = waiver_of(c)
            label = "WAIVED" if waived else c.status.upper()
            lines.append(f"{label} {c.kind} {c.target}: {c.message or c.observed}" + (f" [accepted: {waived}]" if waived else ""))
    counts = results.counts()
    n_waived = sum(1 for c in results.checks if waiver_of(c))
    lines.append("")
    lines.append(
        f"verdict: {results.verdict.upper()}  ({counts['pass']} passed, {counts['fail'] - n_waived} failed, "
        + (f"{n_waived} waived, " if n_waived else "")
        + f"{counts['error']} errors, {counts['skip']} skipped)"
    )
    return "\n".join(lines) + "\n"
