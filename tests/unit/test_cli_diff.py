"""`sriovcheck diff` as CI uses it: exit 1 when anything got worse, 0 otherwise, JUnit on request."""

from __future__ import annotations

import io
import json
from pathlib import Path

from lxml import etree

from sriovcheck.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "results" / "diff"
XSD = Path(__file__).resolve().parents[1] / "data" / "junit" / "junit-10.xsd"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_same_healthy_lab_twice_is_not_worse() -> None:
    code, text = run("diff", str(DATA / "1-pass.json"), str(DATA / "3-pass-again.json"))
    assert code == 0, text
    assert "GOT WORSE" not in text and "new failure" not in text


def test_vlan_removed_is_worse_and_junit_says_so(tmp_path: Path) -> None:
    junit = tmp_path / "diff.xml"
    code, text = run("diff", str(DATA / "1-pass.json"), str(DATA / "2-vlan-201-removed.json"), "--junit", str(junit))
    assert code == 1
    assert "new failure: gateway-ping" in text
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(junit))
    assert schema.validate(doc), schema.error_log
    assert int(doc.getroot().get("failures") or sum(int(s.get("failures")) for s in doc.getroot())) > 0
    code, out = run("diff", str(DATA / "2-vlan-201-removed.json"), str(DATA / "3-pass-again.json"), "--json")
    assert code == 0
    assert json.loads(out)["fixed"]


def test_missing_results_file_is_an_error_not_a_traceback(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = run("diff", str(tmp_path / "nope.json"), str(DATA / "1-pass.json"))
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err and "nope.json" in err
