"""scripts/demo.sh as a new user runs it (issue #14 item 4): the whole job on the emulated seed lab,
and its report.html carries the handover block the README shows. Run on a uniquely named copy of the
seed topology (demo.sh takes the topology as its argument) so that nothing collides with other labs;
demo.sh removes what it created (the module's leak check holds it to that)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _lab_helpers import ROOT, make_lab, need_root

pytestmark = pytest.mark.integration

HANDOVER = {"Customer": "ACME Telco", "Site": "Frankfurt DC2", "Rack": "R12", "Executed by": "J. Doe", "Witnessed by": "A. Customer"}


def test_demo_shows_the_handover_block(tmp_path: Path, docker_required: None) -> None:
    need_root()
    lab = make_lab(tmp_path, prefix="demo")
    env = {**os.environ, **lab.env()}
    r = subprocess.run(["bash", "scripts/demo.sh", str(lab.path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                       check=False)
    reports = ROOT / "reports" / lab.name
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        found = re.search(r"(\S*report\.html)", r.stdout + r.stderr)
        assert found, r.stdout
        html = (ROOT / found.group(1)).read_text() if not found.group(1).startswith("/") else Path(found.group(1)).read_text()
        assert '<section class="card handover" aria-label="Handover">' in html
        facts = dict(re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", html.split('aria-label="Handover"', 1)[1].split("</dl>", 1)[0]))
        assert {k: facts.get(k) for k in HANDOVER} == HANDOVER, facts
        assert "PASS" in r.stdout
        assert not lab.provision_state.exists()
    finally:
        shutil.rmtree(reports, ignore_errors=True)
