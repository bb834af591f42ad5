"""The fleet page in a real browser: Debian's headless chromium renders it (the fail banner on screen),
its DOM lists every host with a link to its own report and the failing host first, and hostile
strings from a results.json stay text."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_report_chromium import CHROMIUM, VERDICT_BACKGROUND, Dom, chromium, decode_png

from sriovcheck.report.fleet import HostRun, render_fleet_html
from sriovcheck.report.writer import write_reports
from sriovcheck.verify.results import RunResults

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parent.parent / "data" / "results"


@pytest.fixture
def workdir() -> Iterator[Path]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: install Debian's chromium package")
        pytest.skip(f"needs {CHROMIUM} (Debian package chromium)")
    with tempfile.TemporaryDirectory(prefix=f"sriovcheck-fleet-chromium-{os.getpid()}-") as tmp:
        yield Path(tmp)


def host(workdir: Path, source: str, name: str) -> HostRun:
    data = json.loads((DATA / f"{source}.json").read_text())
    data["host"]["name"] = name
    results = RunResults.from_dict(data)
    paths = write_reports(results, workdir / "hosts" / hashlib.sha256(name.encode()).hexdigest()[:12])
    return HostRun(paths.results_json, results, data)


def test_fleet_page_renders_and_links_every_host(workdir: Path) -> None:
    runs = [host(workdir, "seed-lab-pass", f"node{i:02d}") for i in range(1, 4)] + [host(workdir, "lab-b-fail", "node04")]
    page = workdir / "fleet" / "index.html"
    page.parent.mkdir()
    page.write_text(render_fleet_html(runs, base_dir=page.parent, title="Rack R12"))
    png = workdir / "fleet.png"
    chromium(workdir, f"--screenshot={png}", page.as_uri())
    _, _, rows, bpp = decode_png(png.read_bytes())
    pixels = [tuple(row[i : i + 3]) for row in rows[::2] for i in range(0, len(row), bpp * 2)]
    assert len(set(pixels)) > 100, "blank or broken rendering"
    assert sum(1 for p in pixels if p == VERDICT_BACKGROUND["fail"]) > 2000
    dom = Dom(chromium(workdir, "--dump-dom", page.as_uri()).stdout.decode())
    assert dom.verdict == ["FAIL"]
    text = "".join(dom.text)
    assert text.index("node04") < text.index("node01")
    links = [attrs["href"] for tag, attrs in dom.tags if tag == "a" and "href" in attrs]
    for run in runs:
        target = run.path.with_name("report.html")
        assert any((page.parent / href).resolve() == target.resolve() for href in links), (target, links)
    # A link opens the host's own report in the browser.
    first = next(h for h in links if h.endswith("report.html"))
    own = Dom(chromium(workdir, "--dump-dom", (page.parent / first).resolve().as_uri()).stdout.decode())
    assert own.verdict in (["PASS"], ["FAIL"])


def test_fleet_page_keeps_hostile_strings_inert(workdir: Path) -> None:
    runs = [host(workdir, "hostile", "h<script>alert(1)</script>"), host(workdir, "seed-lab-pass", "javascript:alert(2)")]
    page = workdir / "fleet.html"
    page.write_text(render_fleet_html(runs, base_dir=workdir))
    dom = Dom(chromium(workdir, "--dump-dom", page.as_uri()).stdout.decode())
    tags = {tag for tag, _ in dom.tags}
    assert "script" not in tags and "img" not in tags
    assert not [a for _, attrs in dom.tags for a in attrs if a.startswith("on")]
    assert not [attrs["href"] for tag, attrs in dom.tags if tag == "a" and ":" in attrs.get("href", "")]
    text = "".join(dom.text)
    assert "h<script>alert(1)</script>" in text and "</pre><img src=x onerror=alert(3)>" in text
