"""The summary printed at the end of verify and run: the root causes first (one block each, with the
checks it explains), then a table that fits 120 columns, then the verdict.

The table's columns follow CHECK_KINDS (the HTML overview's order), whatever order the checks ran
in; headers are abbreviated and explained by a legend under the table.
"""

from __future__ import annotations

import textwrap

from sriovcheck.verify.results import CHECK_KINDS, RunResults, waiver_of

WIDTH = 120
TARGET_MAX = 28
ABBREV = {
    "vf-attached": "att",
    "vf-config": "cfg",
    "gateway-ping": "ping",
    "container-arp": "carp",
    "switch-login": "login",
    "switch-mac": "smac",
    "switch-arp": "sarp",
    "gateway-mac": "gwmac",
    "mac-unique": "uniq",
    "mtu": "mtu",
    "switch-port": "port",
    "vf-path": "path",
    "vlan-isolation": "iso",
    "cabling": "cabl",
    "teardown-clean": "tdown",
}
SHORT = {"pass": "ok", "fail": "FAIL", "error": "ERR", "skip": "skip", "waived": "wvd"}


def _kind_rank(kind: str) -> int:
    return CHECK_KINDS.index(kind) if kind in CHECK_KINDS else len(CHECK_KINDS)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _wrap(text: str, first: str, rest: str, width: int = WIDTH) -> list[str]:
    """`text` on lines of at most `width` columns, the first prefixed `first`, the others `rest`."""
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False) or [first.rstrip()]


def causes_text(results: RunResults) -> list[str]:
    lines: list[str] = []
    problems = [c for c in results.checks if c.status in ("fail", "error")]
    if not problems:
        return lines
    if results.causes:
        n = len(results.causes)
        lines += ["", f"ROOT CAUSE{'S' if n != 1 else ''} ({n})"]
    for cause in results.causes:
        lines.append("")
        lines += _wrap(cause.what, f"[{cause.id}] ", " " * (len(cause.id) + 3))
        pad = " " * (len(cause.id) + 3)
        lines += _wrap(cause.where, pad + "where:    ", pad + "          ")
        for ev in cause.evidence[:4]:
            lines += _wrap(ev, pad + "evidence: ", pad + "          ")
        lines += _wrap(cause.fix, pad + "fix:      ", pad + "          ")
        lines += _wrap(", ".join(cause.explains), pad + "explains: ", pad + "          ")
    loose = [c for c in problems if not c.cause]
    if loose:
        lines += ["", "NOT EXPLAINED BY ANY RULE (read the message and the evidence)"]
        for c in loose:
            waived = waiver_of(c)
            label = "WAIVED" if waived else c.status.upper()
            text = f"{label} {c.kind} {c.target}: {c.message or c.observed}" + (f" [accepted: {waived}]" if waived else "")
            lines += _wrap(text, "", "    ")
    explained = [c for c in problems if c.cause and waiver_of(c)]
    for c in explained:
        lines += _wrap(f"WAIVED {c.kind} {c.target} [accepted: {waiver_of(c)}]", "", "    ")
    return lines


def summary_table(results: RunResults) -> str:
    kinds = sorted(dict.fromkeys(c.kind for c in results.checks), key=_kind_rank)
    targets = list(dict.fromkeys(c.target for c in results.checks))
    cell = {(c.target, c.kind): ("waived" if waiver_of(c) else c.status) for c in results.checks}
    heads = [ABBREV.get(k, k[:6]) for k in kinds]
    widths = [max(len(h), 4) for h in heads]
    room = WIDTH - sum(w + 1 for w in widths) - 1
    tw = max(6, min(TARGET_MAX, room, max((len(t) for t in targets), default=6)))
    lines = ["", "target".ljust(tw) + " " + " ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    for t in targets:
        row = " ".join(SHORT.get(cell.get((t, k), ""), "-").ljust(w) for k, w in zip(kinds, widths, strict=True))
        lines.append(_fit(t, tw).ljust(tw) + " " + row)
    lines = [x.rstrip() for x in lines]
    legend = ", ".join(f"{ABBREV.get(k, k[:6])}={k}" for k in kinds)
    lines += _wrap(legend + "; ok pass, FAIL fail, ERR error (could not run), skip not run, wvd waived", "legend: ", "        ")
    lines += causes_text(results)
    counts = results.counts()
    n_waived = sum(1 for c in results.checks if waiver_of(c))
    lines.append("")
    lines.append(
        f"verdict: {results.verdict.upper()}  ({counts['pass']} passed, {counts['fail'] - n_waived} failed, "
        + (f"{n_waived} waived, " if n_waived else "")
        + f"{counts['error']} errors, {counts['skip']} skipped"
        + (f"; {len(results.causes)} root cause{'s' if len(results.causes) != 1 else ''}" if results.causes else "")
        + ")"
    )
    return "\n".join(lines) + "\n"
