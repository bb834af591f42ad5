"""validate / schema / plan / report from an installed wheel, in a fresh virtual environment,
run from a directory other than the checkout (templates must ship inside the wheel)."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((base / "dist").glob("sriovcheck-*.whl"))
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    # The dependencies come from this interpreter's environment (no index needed); sriovcheck
    # itself only from the wheel, not from the checkout.
    purelib = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return env_dir / "bin" / "sriovcheck"


def run(exe: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_commands_work_from_the_wheel_elsewhere(installed: Path, tmp_path: Path) -> None:
    topo = tmp_path / "lab.yaml"
    topo.write_text((ROOT / "topologies" / "seed-lab.yaml").read_text())
    located = subprocess.run([str(installed.parent / "python"), "-c", "import sriovcheck; print(sriovcheck.__file__)"],
                             cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in located and "site-packages" in located, located
    p = run(installed, "validate", str(topo), cwd=tmp_path)
    assert p.returncode == 0 and "valid topology 'seed-lab'" in p.stdout, p.stderr
    p = run(installed, "schema", cwd=tmp_path)
    assert p.returncode == 0 and p.stdout == (ROOT / "topologies" / "topology.schema.json").read_text()
    p = run(installed, "plan", str(topo), "--json", cwd=tmp_path)
    assert p.returncode == 0 and len(json.loads(p.stdout)["actions"]) == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text(topo.read_text().replace("vlan: 201", "vlan: 999"))
    p = run(installed, "validate", str(bad), cwd=tmp_path)
    assert p.returncode == 2 and "VLAN 999 is not declared" in p.stderr and "Traceback" not in p.stderr
    # the report templates come from inside the wheel
    sample = next((ROOT / "tests" / "data" / "results").glob("*.json"))
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(sample.read_text())
    p = run(installed, "report", str(tmp_path / "r" / "results.json"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "r" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "r" / "junit.xml").read_text().startswith("<?xml")
