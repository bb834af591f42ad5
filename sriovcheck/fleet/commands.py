"""The fleet commands (`sriovcheck fleet-report`, ...): argument handling and files; the rendering is
pure, in sriovcheck.report.fleet."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sriovcheck.errors import ExitCode, ReportError, UsageError

Progress = Callable[[str], None]


def load_runs(paths: list[str]) -> list[Any]:
    """Each results.json, loaded and checked like `sriovcheck report` does, with its raw JSON kept
    for the keys the result model does not hold (root causes)."""
    from sriovcheck.report.fleet import HostRun
    from sriovcheck.report.writer import load_results

    runs = []
    seen: set[Path] = set()
    for name in paths:
        path = Path(name)
        if path.is_dir():
            path = path / "results.json"
        if path.resolve() in seen:
            raise UsageError(f"fleet-report: {path} is given twice", hint="give each host's results.json once")
        seen.add(path.resolve())
        results = load_results(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # load_results read it a moment ago
            raise ReportError(f"cannot read {path} again: {exc}") from exc
        runs.append(HostRun(path=path, results=results, raw=raw if isinstance(raw, dict) else {}))
    return runs


def cmd_fleet_report(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.report.fleet import fleet_view, render_fleet_html, render_fleet_json, render_fleet_junit
    from sriovcheck.report.writer import _write_all

    if not args.results:
        raise UsageError("fleet-report: give at least one results.json", hint="e.g. sriovcheck fleet-report fleet/*/results.json")
    runs = load_runs(args.results)
    html = Path(args.html) if args.html else None
    junit = Path(args.junit) if args.junit else None
    summary = Path(args.json) if args.json else None
    files: list[tuple[Path, str]] = []
    if html is not None:
        files.append((html, render_fleet_html(runs, base_dir=html.parent, title=args.title or "")))
    if junit is not None:
        files.append((junit, render_fleet_junit(runs)))
    if summary is not None:
        files.append((summary, render_fleet_json(runs, base_dir=summary.parent)))
    if files:
        _write_all(files)
    view = fleet_view(runs, html.parent if html else None)
    width = max([len(h.name) for h in view.hosts] + [4])
    lines = [f"{'host'.ljust(width)}  verdict  passed  failed  errors  switch evidence"]
    for h in view.hosts:
        evidence = f"{h.evidence_session} at {h.evidence_read_at}" if h.evidence_session else (h.switch_source or "-")
        lines.append(
            f"{h.name.ljust(width)}  {h.verdict.upper():7}  {h.counts['pass']:6}  {h.counts['fail']:6}  {h.counts['error']:6}  {evidence}"
        )
        for cause in h.causes:
            lines.append(f"{''.ljust(width)}  root cause: {cause.text}")
        if not h.causes:
            for f in h.failures[:3]:
                lines.append(f"{''.ljust(width)}  {f.status.upper()} {f.kind} {f.target}: {f.message}")
    passed = sum(1 for h in view.hosts if h.verdict == "pass")
    lines.append("")
    lines.append(f"fleet verdict: {view.verdict.upper()}  ({passed} of {len(view.hosts)} hosts passed)")
    for path, _ in files:
        lines.append(f"wrote {path}")
    out.write("\n".join(lines) + "\n")
    return ExitCode.OK if view.verdict == "pass" else ExitCode.CHECK_FAILED
