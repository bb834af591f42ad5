"""Write results.json, report.html and junit.xml, and re-render reports from a results.json.

Every file is written whole or not at all: all contents are rendered in memory first, each goes to
a temporary file in the target directory (same filesystem, so os.replace is atomic), is flushed to
disk, and only when every temporary file is complete are they moved into place. A full disk or a
read-only directory therefore leaves the previous reports untouched and no partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sriovcheck.errors import ReportError
from sriovcheck.report.junit import render_junit
from sriovcheck.verify.results import READABLE_SCHEMAS, SCHEMA_VERSION, STATUSES, RunResults

RESULTS_JSON = "results.json"
REPORT_HTML = "report.html"
JUNIT_XML = "junit.xml"


@dataclass(frozen=True)
class ReportPaths:
    results_json: Path
    html: Path
    junit: Path


def _hint(exc: OSError, path: Path) -> str:
    where = path.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free space on the filesystem that holds {where}, or write the reports to another directory"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make {where} writable for this user, or write the reports to another directory"
    return f"check that {where} is a writable directory, or write the reports to another directory"


def write_all(files: list[tuple[Path, str]]) -> None:
    """Write every (path, text) atomically; on any error remove the temporary files and raise."""
    staged: list[tuple[str, Path]] = []
    backups: list[tuple[str, Path]] = []
    replaced: list[Path] = []
    current = files[0][0] if files else Path(".")
    try:
        for path, text in files:
            current = path
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                # A lone surrogate (json.loads accepts "\ud800") cannot be UTF-8: written back as the
                # same \uXXXX escape it came from. The HTML and XML never hold one (see printable()).
                handle.write(text.encode("utf-8", errors="backslashreplace"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are meant to be read by others (CI, people)
        for _tmp, path in staged:  # keep the previous set, to put it back if a later rename fails
            if path.exists():
                backup = f"{path.parent}/.{path.name}.{os.getpid()}.old"
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(backup)
                os.link(path, backup)
                backups.append((backup, path))
        for tmp, path in staged:
            current = path
            os.replace(tmp, path)
            replaced.append(path)
    except BaseException as exc:  # also SIGINT mid-write: never leave a temporary file behind
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        for backup, path in backups:
            with contextlib.suppress(OSError):
                if path in replaced:
                    os.replace(backup, path)
        for path in replaced:
            if not any(p == path for _, p in backups):
                with contextlib.suppress(OSError):
                    os.unlink(path)
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
            raise ReportError(f"could not write {current}: {reason}", hint=_hint(exc, current)) from exc
        raise
    finally:
        for backup, _ in backups:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(backup)


def render_html(results: RunResults) -> str:
    """report.html's text (jinja2 is imported only when a page is rendered)."""
    from sriovcheck.report.html import render_html as render

    return render(results)


def write_reports(results: RunResults, out_dir: Path, *, html: bool = True) -> ReportPaths:
    """results.json, report.html and junit.xml in `out_dir` (created if needed). With html=False no
    report.html (a fleet run renders each host's on the controller from its results.json); one left
    there by an earlier run is removed, so that it never passes for this run's."""
    paths = ReportPaths(out_dir / RESULTS_JSON, out_dir / REPORT_HTML, out_dir / JUNIT_XML)
    # Render from the serialised form, exactly as `rerender` will: reports written now and reports
    # re-rendered later from this results.json are then byte-identical.
    try:
        text = results.to_json()
        again = RunResults.from_json(text)
    except (TypeError, ValueError, KeyError) as exc:
        raise ReportError(
            f"the results of this run cannot be serialised to {paths.results_json}: {exc}",
            hint="this is a bug in sriovcheck; please report it with the output of --debug",
        ) from exc
    files = [(paths.results_json, text), (paths.junit, render_junit(again))]
    if html:
        files.insert(1, (paths.html, render_html(again)))
    write_all(files)
    if not html:
        with contextlib.suppress(FileNotFoundError):
            paths.html.unlink()
    return paths


def load_results_text(text: str, path: Path) -> RunResults:
    """Parse a results.json's text; anything unusable is a ReportError naming `path`."""
    hint = "re-run `sriovcheck verify` to produce a fresh results.json"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})", hint=hint) from exc
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a sriovcheck results file (a JSON object is expected)", hint=hint)
    version = data.get("schema_version")
    if version not in READABLE_SCHEMAS:
        raise ReportError(
            f"{path}: results schema_version {version!r}; this sriovcheck reads schema_version "
            f"{', '.join(map(str, READABLE_SCHEMAS))} (writes {SCHEMA_VERSION})",
            hint="render it with the sriovcheck version that wrote it, or " + hint,
        )
    try:
        results = RunResults.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ReportError(f"{path}: not a usable sriovcheck results file ({detail})", hint=hint) from exc
    problems = _shape_problems(results)
    if problems:
        raise ReportError(f"{path}: " + "; ".join(problems), hint=hint)
    return results


def _shape_problems(results: RunResults) -> list[str]:
    problems = [
        f"{name} must be an object"
        for name, value in (("topology", results.topology), ("host", results.host), ("switch", results.switch))
        if not isinstance(value, dict)
    ]
    if not isinstance(results.attachments, list) or not isinstance(results.notes, list):
        problems.append("attachments and notes must be lists")
    for index, check in enumerate(results.checks):
        if check.status not in STATUSES:
            problems.append(f"checks[{index}].status is {check.status!r}; expected one of {', '.join(STATUSES)}")
        if not isinstance(check.details, dict):
            problems.append(f"checks[{index}].details must be an object")
    return problems


def load_results(path: Path) -> RunResults:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReportError(
            f"results file {path} does not exist",
            hint="run `sriovcheck verify` first, or give the path of an existing results.json",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {exc}", hint="check the file's permissions and that it is a results.json") from exc
    return load_results_text(text, path)


def rerender(results_json: Path, html: Path | None, junit: Path | None) -> list[Path]:
    """Re-render report.html and/or junit.xml from a results.json (the `sriovcheck report` command).
    Returns the files written; the same results.json always gives the same bytes."""
    results = load_results(results_json)
    files: list[tuple[Path, str]] = []
    if html is not None:
        files.append((html, render_html(results)))
    if junit is not None:
        files.append((junit, render_junit(results)))
    write_all(files)
    return [path for path, _ in files]
