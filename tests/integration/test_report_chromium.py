"""report.html in a real browser: Debian's headless chromium renders it (screenshot not blank, status
colours on screen) and its DOM shows the verdict and every container, with hostile strings inert.

Skipped only when /usr/bin/chromium is missing outside CI; in CI a missing chromium is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.report.writer import write_reports
from sriovcheck.verify.results import RunResults

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
DATA = Path(__file__).resolve().parent.parent / "data" / "results"
WIDTH, HEIGHT = 1280, 2000
VERDICT_BACKGROUND = {"pass": (0xDA, 0xFB, 0xE1), "fail": (0xFF, 0xEB, 0xE9)}  # --pass-bg / --fail-bg


@pytest.fixture
def workdir() -> Iterator[Path]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: install Debian's chromium package")
        pytest.skip(f"needs {CHROMIUM} (Debian package chromium)")
    with tempfile.TemporaryDirectory(prefix=f"sriovcheck-chromium-{os.getpid()}-") as tmp:
        yield Path(tmp)


def chromium(workdir: Path, *args: str, width: int = WIDTH) -> subprocess.CompletedProcess[bytes]:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={workdir / 'profile'}", f"--window-size={width},{HEIGHT}", *args,
    ]
    return subprocess.run(command, capture_output=True, timeout=120, check=True)


def render(workdir: Path, name: str) -> tuple[RunResults, Path]:
    results = RunResults.from_json((DATA / f"{name}.json").read_text())
    return results, write_reports(results, workdir / name).html


def decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """8-bit RGB/RGBA, non-interlaced PNG (what chromium writes) -> width, height, rows, bytes a pixel."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + (left + prev[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


class Dom(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.verdict: list[str] = []
        self._in_verdict = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        self._in_verdict = attributes.get("class") == "verdict-word"

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_verdict:
            self.verdict.append(data.strip())
            self._in_verdict = False


@pytest.mark.parametrize(("name", "verdict"), [("seed-lab-pass", "pass"), ("lab-b-fail", "fail")])
def test_screenshot_is_a_real_page(name: str, verdict: str, workdir: Path) -> None:
    _, html = render(workdir, name)
    png = workdir / f"{name}.png"
    chromium(workdir, f"--screenshot={png}", html.as_uri())
    width, height, rows, bpp = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    pixels = [row[i : i + 3] for row in rows[::2] for i in range(0, len(row), bpp * 2)]  # every 4th pixel
    colours = set(pixels)
    non_white = sum(1 for p in pixels if p != b"\xff\xff\xff") / len(pixels)
    assert len(colours) > 200, f"only {len(colours)} colours: blank or broken rendering"
    assert non_white > 0.1, f"only {non_white:.0%} of the page is not white"
    # The verdict banner's background colour fills a large area; the other verdict's at most a swatch
    # (the diagram legend shows the "failed part" fill on every page).
    banner = sum(1 for p in pixels if tuple(p) == VERDICT_BACKGROUND[verdict])
    other = sum(1 for p in pixels if tuple(p) == VERDICT_BACKGROUND["fail" if verdict == "pass" else "pass"])
    assert banner > 2000, banner
    if verdict == "pass":
        assert other < 100, other


@pytest.mark.parametrize("name", ["seed-lab-pass", "lab-b-fail"])
def test_dom_shows_verdict_and_every_container(name: str, workdir: Path) -> None:
    results, html = render(workdir, name)
    dom = Dom(chromium(workdir, "--dump-dom", html.as_uri()).stdout.decode())
    assert dom.verdict == [results.verdict.upper()]
    text = "".join(dom.text)
    for att in results.attachments:
        assert att["container"] in text
    for check in results.checks:
        assert check.kind in text


def test_browser_keeps_hostile_strings_inert(workdir: Path) -> None:
    _, html = render(workdir, "hostile")
    dom = Dom(chromium(workdir, "--dump-dom", html.as_uri()).stdout.decode())
    tags = {tag for tag, _ in dom.tags}
    assert "script" not in tags and "img" not in tags
    assert not [a for _, attrs in dom.tags for a in attrs if a.startswith("on")]
    text = "".join(dom.text)
    assert "<script>alert(1)</script>" in text and "</pre><img src=x onerror=alert(3)>" in text


WAIVED_BACKGROUND = (0xFF, 0xF8, 0xC5)  # --waived-bg: the waived count chip and badges
DEVIATIONS_BACKGROUND = (0xFF, 0xFD, 0xF2)  # the deviations card


def test_handover_report_with_a_waiver(workdir: Path) -> None:
    results, html = render(workdir, "handover-waived-pass")
    png = workdir / "handover.png"
    chromium(workdir, f"--screenshot={png}", html.as_uri())
    _, _, rows, bpp = decode_png(png.read_bytes())
    pixels = [tuple(row[i : i + 3]) for row in rows[::2] for i in range(0, len(row), bpp * 2)]
    # Within the first screen: the pass banner, the deviations card and amber WAIVED marks.
    assert sum(1 for p in pixels if p == VERDICT_BACKGROUND["pass"]) > 2000
    assert sum(1 for p in pixels if p == DEVIATIONS_BACKGROUND) > 2000
    assert sum(1 for p in pixels if p == WAIVED_BACKGROUND) > 50
    dom = Dom(chromium(workdir, "--dump-dom", html.as_uri()).stdout.decode())
    text = "".join(dom.text)
    assert dom.verdict == ["PASS"]
    for value in results.handover.values():
        assert str(value).strip().splitlines()[0] in text
    assert "Deviations accepted by the customer" in text and "Sign-off" in text
    # On paper: a PDF of several pages (the first is the handover sheet, see the print CSS).
    pdf = workdir / "handover.pdf"
    chromium(workdir, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page[^s]", data)) > 3


# Measured in the page itself: a copy of report.html without its CSP (which forbids scripts) and with
# a script that writes the widths into the title, which --dump-dom then shows. Layout is the same.
_MEASURE = """<script>
const d = document.documentElement, wide = [];
for (const el of document.querySelectorAll("body *")) {
  const x = getComputedStyle(el).overflowX;
  if ((x === "auto" || x === "scroll") && !el.closest("pre") && el.scrollWidth > el.clientWidth + 1)
    wide.push(`${el.tagName.toLowerCase()}.${el.className} ${el.scrollWidth}>${el.clientWidth}`);
}
const broken = [];  // overview headers broken inside a word ("cablin" / "g") rather than at a hyphen
for (const th of document.querySelectorAll(".matrix thead th")) {
  const node = th.firstChild;
  if (!node || node.nodeType !== 3) continue;
  let at = 0;
  for (const part of node.textContent.split(/(?<=-)/)) {
    const r = document.createRange(); r.setStart(node, at); r.setEnd(node, at + part.replace(/-$/, "").length);
    if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) broken.push(node.textContent);
    at += part.length;
  }
}
document.title = "MEASURED " + JSON.stringify({scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, wide, broken});
</script>"""


def measure(workdir: Path, html: Path, width: int) -> dict[str, Any]:
    page = html.read_text()
    page, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    assert n == 1
    probe = html.with_name(f"measure-{width}.html")
    probe.write_text(page.replace("</body>", _MEASURE + "</body>"))
    out = chromium(workdir, "--dump-dom", probe.as_uri(), width=width).stdout.decode()
    found = re.search(r"<title>MEASURED (.*?)</title>", out)
    assert found, out[:500]
    data: dict[str, Any] = json.loads(html_unescape(found.group(1)))
    return data


ROOT_CAUSE_RUN = DATA / "causes" / "test_vlan_missing_on_the_port_is_one_root_cause_everywhere.json"


@pytest.mark.parametrize("width", [1280, 1400, 1920])
@pytest.mark.parametrize("name", ["root-cause", "lab-b-fail", "handover-waived-pass"])
def test_no_sideways_scroll(name: str, width: int, workdir: Path) -> None:
    """The page and its tables fit the window: nothing scrolls sideways (evidence <pre> blocks may)."""
    source = ROOT_CAUSE_RUN if name == "root-cause" else DATA / f"{name}.json"
    results = RunResults.from_json(source.read_text())
    html = write_reports(results, workdir / name).html
    png = workdir / f"{name}-{width}.png"
    chromium(workdir, f"--screenshot={png}", html.as_uri(), width=width)
    shot_width, _, rows, bpp = decode_png(png.read_bytes())
    assert shot_width == width and len({row[i : i + 3] for row in rows[::8] for i in range(0, len(row), bpp * 8)}) > 100
    m = measure(workdir, html, width)
    assert m["clientWidth"] >= width - 20, m  # the window really is that wide (less a scrollbar)
    assert m["scrollWidth"] <= m["clientWidth"], m
    assert m["wide"] == [] and m["broken"] == [], m
    if name == "root-cause":
        text = "".join(Dom(html.read_text()).text)
        assert "Root causes" in text and "VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in text
        if os.environ.get("SRIOVCHECK_KEEP_SCREENSHOTS"):  # how docs/report-root-cause-*.png were made
            shutil.copy(png, Path(os.environ["SRIOVCHECK_KEEP_SCREENSHOTS"]) / f"report-root-cause-{width}.png")
