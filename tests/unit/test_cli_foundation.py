"""validate / schema / plan through cli.main(), in-process, as a user would call them."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from sriovcheck import __version__
from sriovcheck.cli import main, schema_text

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "topologies" / "seed-lab.yaml"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_validate_ok_and_json() -> None:
    code, out = run("validate", str(SEED))
    assert code == 0
    assert "valid topology 'seed-lab': 1 PF(s), 2 VLAN(s), 2 container(s), 2 VF attachment(s)" in out
    code, out = run("validate", str(SEED), "--json")
    data = json.loads(out)
    assert code == 0 and data["valid"] is True and data["vfs"] == 2 and len(data["sha256"]) == 64


def test_validate_invalid_exit_2_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEED.read_text().replace("vf: 1\n", "vf: 12\n"))
    code, _ = run("validate", str(bad))
    err = capsys.readouterr().err
    assert code == 2
    assert f"{bad}:47:13: containers[1].vfs[0].vf: VF index 12 does not exist on eno2" in err
    assert "Traceback" not in err
    code, out = run("validate", str(bad), "--json")
    assert code == 2
    problem = json.loads(out)["problems"][0]
    assert problem == {"file": str(bad), "line": 47, "column": 13, "path": "containers[1].vfs[0].vf",
                       "message": "VF index 12 does not exist on eno2, which gets numvfs 8: allowed 0..7"}


def test_schema_matches_the_checked_in_file() -> None:
    code, out = run("schema")
    assert code == 0
    assert out == (ROOT / "topologies" / "topology.schema.json").read_text(), "run: sriovcheck schema > topologies/topology.schema.json"
    schema = json.loads(out)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "host", "switch", "vlans", "containers"}
    assert out == schema_text()


def test_every_topology_in_the_repo_is_valid() -> None:
    files = sorted((ROOT / "topologies").glob("*.yaml"))
    assert len(files) >= 3
    for f in files:
        code, _ = run("validate", str(f))
        assert code == 0, f


def test_plan_is_ordered_and_touches_nothing() -> None:
    code, out = run("plan", str(SEED), "--json")
    assert code == 0
    actions = json.loads(out)["actions"]
    assert [(a["kind"], a["target"]) for a in actions] == [
        ("set-numvfs", "eno2"),
        ("set-vf-config", "eno2/vf0"),
        ("set-vf-config", "eno2/vf1"),
        ("create-container", "test-200"),
        ("create-container", "test-201"),
        ("attach-vf", "test-200/eth1"),
        ("attach-vf", "test-201/eth1"),
    ]
    assert actions[1]["detail"]["config"]["vlan"] == 200 and actions[2]["detail"]["config"]["vlan"] == 201
    assert actions[5]["detail"]["address"] == "192.168.200.2/24"
    assert re.fullmatch(r"sc[0-9a-f]{4}p0v0", actions[5]["detail"]["temp_name"])
    code, text = run("plan", str(SEED))
    assert "  6. [attach-vf] move eno2 vf 0 into container test-200:" in text and "rename to eth1" in text


@pytest.mark.parametrize("argv", [["--bogus"], ["validate"], ["nosuchcommand"], ["plan", "a", "b", "c"], ["lab"]])
def test_usage_errors_exit_2_without_traceback(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(*argv)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and err.startswith("error:")


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--version")[0] == 0
    assert capsys.readouterr().out.strip() == f"sriovcheck {__version__}"
    assert run("--help")[0] == 0
    text = capsys.readouterr().out
    for word in ("validate", "plan", "provision", "verify", "run", "report", "lab", "exit codes:", "130"):
        assert word in text
