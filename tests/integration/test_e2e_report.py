"""A real emulated-lab run end to end: its report.html in headless Chromium, its junit.xml against
Jenkins' schema and a JUnit parser, byte-identical re-rendering, and the switch password in no output."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriovcheck.cli import main
from tests.integration.test_report_chromium import Dom, chromium, decode_png

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
XSD = ROOT / "tests" / "data" / "junit" / "junit-10.xsd"


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    if os.geteuid() != 0:
        pytest.fail("needs root") if os.environ.get("CI") == "true" else pytest.skip("needs root")
    base = tmp_path_factory.mktemp("e2e-report")
    name = f"rep-{secrets.token_hex(3)}"
    topo = base / f"{name}.yaml"
    text = (ROOT / "topologies" / "seed-lab.yaml").read_text().replace("name: seed-lab", f"name: {name}")
    topo.write_text(text.replace("name: test-200", f"name: {name}-a").replace("name: test-201", f"name: {name}-b"))
    password = "pw-" + secrets.token_hex(12)
    state = base / "state"
    env = {**os.environ, "SRIOVCHECK_SWITCH_PASSWORD": password, "SRIOVCHECK_STATE_DIR": str(state)}
    report_dir = base / "report"
    proc = subprocess.run([sys.executable, "-m", "sriovcheck", "--debug", "run", str(topo), "--lab", "--teardown",
                           "--report-dir", str(report_dir)], capture_output=True, text=True, env=env, timeout=240, check=False)
    try:
        yield {"proc": proc, "dir": report_dir, "password": password, "name": name, "state": state, "base": base}
    finally:
        # whatever happened above, leave the machine clean
        subprocess.run([sys.executable, "-m", "sriovcheck", "teardown", str(topo), "--lab"], env=env, capture_output=True, check=False)
        subprocess.run([sys.executable, "-m", "sriovcheck", "lab", "down", str(topo)], env=env, capture_output=True, check=False)


def test_run_passes_and_writes_three_files(lab_run: dict[str, object]) -> None:
    proc = lab_run["proc"]
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: PASS" in proc.stdout
    d = lab_run["dir"]
    assert isinstance(d, Path)
    results = json.loads((d / "results.json").read_text())
    assert results["verdict"] == "pass" and results["schema_version"] == 2
    assert results["host"]["lab"] is True and results["switch"]["model"]
    assert {c["kind"] for c in results["checks"]} >= {"vf-attached", "switch-mac", "switch-arp", "gateway-mac"}
    # run --teardown brought the lab up, so it took it down again: no state is left
    state = lab_run["state"]
    assert isinstance(state, Path)
    assert not (state / str(lab_run["name"])).exists()


def test_report_of_a_real_run_in_chromium(lab_run: dict[str, object], tmp_path: Path) -> None:
    d = lab_run["dir"]
    assert isinstance(d, Path)
    html = d / "report.html"
    png = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={png}", html.as_uri())
    _width, _height, rows, bpp = decode_png(png.read_bytes())
    pixels = [row[i : i + 3] for row in rows[::2] for i in range(0, len(row), bpp * 2)]
    assert len(set(pixels)) > 200 and sum(p != b"\xff\xff\xff" for p in pixels) / len(pixels) > 0.1
    dom = Dom(chromium(tmp_path, "--dump-dom", html.as_uri()).stdout.decode())
    assert dom.verdict == ["PASS"]
    text = "".join(dom.text)
    for suffix in ("-a", "-b"):
        assert f"{lab_run['name']}{suffix}" in text


def test_junit_is_valid_for_jenkins_and_round_trips(lab_run: dict[str, object]) -> None:
    from junitparser import JUnitXml
    from lxml import etree

    d = lab_run["dir"]
    assert isinstance(d, Path)
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(d / "junit.xml"))
    assert schema.validate(doc), schema.error_log
    results = json.loads((d / "results.json").read_text())
    xml = JUnitXml.fromfile(str(d / "junit.xml"))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(results["checks"])
    assert {s.name for s in xml} == {f"{lab_run['name']}-a", f"{lab_run['name']}-b", "ex-switch", "host-ports"}
    assert all(case.classname.startswith("sriovcheck.") for case in cases)


def test_report_command_reproduces_identical_files(lab_run: dict[str, object], tmp_path: Path) -> None:
    d = lab_run["dir"]
    assert isinstance(d, Path)
    html, junit = tmp_path / "again.html", tmp_path / "again.xml"
    assert main(["report", str(d / "results.json"), "--html", str(html), "--junit", str(junit)], out=io.StringIO()) == 0
    assert html.read_bytes() == (d / "report.html").read_bytes()
    assert junit.read_bytes() == (d / "junit.xml").read_bytes()


def test_the_switch_password_appears_in_no_output(lab_run: dict[str, object]) -> None:
    password = str(lab_run["password"])
    proc = lab_run["proc"]
    assert isinstance(proc, subprocess.CompletedProcess)
    assert password not in proc.stdout and password not in proc.stderr
    base = lab_run["base"]
    assert isinstance(base, Path)
    for f in base.rglob("*"):
        if f.is_file():
            assert password.encode() not in f.read_bytes(), f
