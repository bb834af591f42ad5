"""Smoke test of the benchmarks: the smallest run finishes, measures every phase and leaves nothing behind.

Ratios and targets are printed (pytest -s shows them), never asserted: they depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"
PARSE = ROOT / "benchmarks" / "parse_bench.py"
SRIOVCHECK_PHASES = ("lab_up", "provision", "verify", "report", "teardown", "lab_down")
BASELINE_PHASES = ("import_floor", "ref_ping_round", "ref_switch_login", "reference", "seed_vf_vlan", "seed_attach",
                   "seed_check", "seed_cleanup", "floor_docker_run", "floor_cleanup")
RATIOS = ("provision_vs_seed_attach", "verify_vs_seed_check", "seed_check_over_verify", "provision_vs_floor",
          "verify_vs_reference")


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_run_py_measures_every_phase_for_8_vfs(docker_required: None, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(RUN), "--sizes", "8", "--reps", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=200, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(out.read_text())
    assert json.loads(proc.stdout) == doc  # stdout is the same single JSON document
    print(proc.stderr.split("median of", 1)[-1])  # the table, for a human reading -s output

    assert doc["machine"]["nproc"] >= 1 and doc["machine"]["kernel"] and doc["machine"]["python"]
    assert doc["config"]["sizes"] == [8] and doc["config"]["reps"] == 1
    n8 = doc["sizes"]["8"]
    phases = n8["phases"]
    for phase in (*SRIOVCHECK_PHASES, *BASELINE_PHASES):
        assert phase in phases, phase
        assert phases[phase]["median_s"] > 0 and len(phases[phase]["runs_s"]) == 1, (phase, phases[phase])
    for phase in SRIOVCHECK_PHASES:  # each is a real CLI process: it has a peak RSS of its own
        assert 10 < phases[phase]["peak_rss_mb"] < 2000, (phase, phases[phase])
    assert phases["reference"]["median_s"] == pytest.approx(
        phases["ref_ping_round"]["median_s"] + phases["ref_switch_login"]["median_s"], abs=0.002)
    for ratio in RATIOS:
        assert n8["ratios"][ratio] is not None and n8["ratios"][ratio] > 0, ratio
    assert n8["ratios"]["seed_check_over_verify"] == pytest.approx(1 / n8["ratios"]["verify_vs_seed_check"], rel=0.01)
    assert set(n8["targets"]) == {"verify_vs_reference_max_10", "seed_check_over_verify_min_10",
                                  "provision_vs_floor_max_1.3", "peak_rss_under_200_mb"}
    assert n8["targets_apply"] is False  # the targets are set for 64 VFs

    # Every side did the work it was timed for: sriovcheck passed, the seed's pings were answered and the
    # switch showed each container's address, the reference pinged every VF.
    checks = n8["checks"]
    assert checks["verify_verdict"] == ["pass"]
    assert checks["seed_pings_ok"] == [8] and checks["seed_switch_rows_ok"] == [8]
    assert checks["reference_pings_ok"] == [8]
    assert all(size > 0 for size in checks["report_bytes"][0].values())


@pytest.mark.integration
def test_parse_bench_parses_every_form_completely(tmp_path: Path) -> None:
    out = tmp_path / "parse.json"
    proc = subprocess.run([sys.executable, str(PARSE), "--entries", "300", "--reps", "2", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(proc.stderr)
    doc = json.loads(out.read_text())
    assert doc["entries"] == 300 and doc["reps"] == 2
    expected = {f"{t}/{s}/{f}" for t in ("mac", "arp") for s in ("non-els", "els") for f in ("text", "xml")}
    assert set(doc["forms"]) == expected
    for key, form in doc["forms"].items():
        assert form["entries"] == 300 and form["bytes"] > 300 * 20, key
        assert form["median_s"] > 0 and len(form["runs_s"]) == 2, key
        # The MAC target scales with the entries (0.5 s per 10,000); ARP has none.
        assert (form["target_met"] is None) == key.startswith("arp/"), key


@pytest.mark.integration
def test_validate_bench_measures_both_composers_on_both_documents(tmp_path: Path) -> None:
    out = tmp_path / "validate.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "validate_bench.py"), "--reps", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(proc.stderr)
    doc = json.loads(out.read_text())
    assert json.loads(proc.stdout) == doc and doc["reps"] == 1
    flat, vlans = doc["documents"]["flat-list"], doc["documents"]["4094-vlans"]
    for composer in ("libyaml", "pure_python"):
        # both composers refuse the flat list at the same node, and accept the largest topology
        assert flat[composer]["outcome"] == "refused at bench.yaml:1:199999", flat
        assert vlans[composer]["outcome"] == "accepted", vlans
        assert len(flat[composer]["runs_s"]) == 1 and flat[composer]["median_s"] > 0
    assert flat["bytes"] > 4_000_000 and flat["ratio_pure_python_to_libyaml"] > 0
