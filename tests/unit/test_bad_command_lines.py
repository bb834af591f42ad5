"""Command lines a user can get wrong: each exits 2 (3 where noted), says what was wrong and what to do,
shows no traceback, and fails before anything on the system is touched or created.

Exit 3 instead of 2, and why:
- `report` of a results.json that is missing or unreadable: ReportError is an environment error (the file a
  previous run should have left is not there), as for every report file sriovcheck cannot read or write.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sriovcheck import workflow
from sriovcheck.cli import main

ROOT = Path(__file__).resolve().parents[2]
SEED = str(ROOT / "topologies" / "seed-lab.yaml")
BAD = str(ROOT / "tests" / "data" / "bad-topologies" / "vf-index-out-of-range.yaml")
HINT = r"\n  hint: see `sriovcheck{sub} --help`"


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way a command reaches docker, netlink, the lab or the state lock records itself here."""
    calls: list[str] = []

    def recorder(name: str) -> Any:
        def fail(*_a: Any, **_k: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} was called: the command touched the system")
        return fail

    for name in ("build_context", "_docker_runtime", "topology_lock"):
        monkeypatch.setattr(workflow, name, recorder(name))
    return calls


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, touched: list[str]) -> Iterator[Path]:
    """Run in an empty working directory; afterwards nothing new may exist there, in tmp_path or in the state dir."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (tmp_path / "a-file").write_text("not a directory\n")
    (tmp_path / "results-dir").mkdir()
    monkeypatch.chdir(cwd)
    state = Path(os.environ["SRIOVCHECK_STATE_DIR"])
    before = sorted(tmp_path.rglob("*")), sorted(state.rglob("*"))
    yield tmp_path
    assert (sorted(tmp_path.rglob("*")), sorted(state.rglob("*"))) == before, "the command created something"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


# (id, argv with {tmp} for the sandbox, exit code, what was wrong, what to do)
CASES: list[tuple[str, list[str], int, str, str]] = [
    ("unknown-command", ["frobnicate", SEED], 2, r"invalid choice: 'frobnicate' \(choose from 'validate'", HINT.format(sub="")),
    ("unknown-option", ["validate", SEED, "--frobnicate"], 2, r"unrecognized arguments: --frobnicate", HINT.format(sub="")),
    ("unknown-option-before-command", ["--frobnicate", "validate", SEED], 2, r"unrecognized arguments: --frobnicate",
     HINT.format(sub="")),
    ("missing-topology", ["provision"], 2, r"sriovcheck provision: the following arguments are required: TOPOLOGY",
     HINT.format(sub=" provision")),
    ("missing-topology-run", ["run", "--lab", "--teardown"], 2, r"required: TOPOLOGY", HINT.format(sub=" run")),
    ("option-without-value", ["verify", SEED, "--report-dir"], 2, r"--report-dir: expected one argument", HINT.format(sub=" verify")),
    ("directory-as-topology", ["provision", "{tmp}"], 2, r"\{tmp\}: is a directory", r"give the path of a topology YAML file"),
    ("directory-as-topology-validate", ["validate", "{tmp}/results-dir"], 2, r"is a directory", r"give the path"),
    ("empty-topology-argument", ["validate", ""], 2, r"not a usable file name", r"give the path of a topology YAML file"),
    ("lab-without-subcommand", ["lab"], 2, r"a lab command is required \(up, down, status, fault, vm-run\)", HINT.format(sub=" lab")),
    ("lab-unknown-subcommand", ["lab", "reboot", SEED], 2, r"invalid choice: 'reboot'", HINT.format(sub=" lab")),
    ("lab-fault-without-kind", ["lab", "fault", SEED], 2, r"sriovcheck lab fault: the following arguments are required: KIND",
     HINT.format(sub=" lab fault")),
    ("report-without-file", ["report"], 2, r"required: RESULTS\.json", HINT.format(sub=" report")),
    ("report-of-missing-file", ["report", "{tmp}/nope/results.json"], 3, r"results file \{tmp\}/nope/results\.json does not exist",
     r"hint: run `sriovcheck verify` first"),
    ("report-of-a-directory", ["report", "{tmp}/results-dir"], 3, r"cannot read \{tmp\}/results-dir", r"hint: check the file"),
    ("verify-missing-topology-file", ["verify", "{tmp}/nope.yaml"], 2, r"\{tmp\}/nope\.yaml: no such file", r"check the path"),
    ("run-missing-topology-file", ["run", "{tmp}/nope.yaml", "--lab", "--teardown"], 2, r"no such file", r"check the path"),
    ("run-invalid-topology", ["run", BAD, "--lab", "--teardown"], 2, r"VF index 8 does not exist on eno2", r"allowed 0\.\.7"),
    ("provision-invalid-topology", ["provision", BAD], 2, r"containers\[1\]\.vfs\[0\]\.vf", r"allowed 0\.\.7"),
    ("topology-name-too-long-for-the-os", ["validate", "x" * 5000], 2, r"cannot read the file: File name too long", r"x{20}"),
    ("extra-positional", ["validate", SEED, "extra"], 2, r"unrecognized arguments: extra", HINT.format(sub="")),
    ("two-topologies", ["teardown", SEED, SEED], 2, r"unrecognized arguments: .*seed-lab\.yaml", HINT.format(sub="")),
    ("switch-output-missing-dir", ["verify", SEED, "--switch-output", "{tmp}/nope"], 2,
     r"--switch-output \{tmp\}/nope: not a directory", r"hint: "),
    ("switch-output-is-a-file", ["verify", SEED, "--switch-output", "{tmp}/a-file"], 2, r"not a directory", r"--switch-output"),
    ("report-dir-inside-a-file", ["verify", SEED, "--report-dir", "{tmp}/a-file/reports"], 2, r"--report-dir", r"director"),
    ("report-dir-is-a-file", ["verify", SEED, "--report-dir", "{tmp}/a-file"], 2, r"--report-dir", r"director"),
    ("nul-in-topology-path", ["validate", "a\x00b.yaml"], 2, r"a\\x00b\.yaml|NUL", r"path"),
]
BUGS: dict[str, str] = {}
PARAMS = [pytest.param(*c, id=c[0], marks=[pytest.mark.xfail(strict=True, reason=BUGS[c[0]])] if c[0] in BUGS else [])
          for c in CASES]


@pytest.mark.parametrize(("case", "argv", "code", "what", "todo"), PARAMS)
def test_bad_command_line(case: str, argv: list[str], code: int, what: str, todo: str, sandbox: Path,
                          touched: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    tmp = str(sandbox)
    got, out, err = run([a.replace("{tmp}", tmp) for a in argv], capsys)
    assert touched == []
    assert got == code, (case, got, err)
    assert out == ""
    assert err.startswith("error:"), err
    assert "Traceback" not in err and "internal error" not in err, err
    escaped = re.escape(tmp)
    assert re.search(what.replace(r"\{tmp\}", escaped), err), err
    assert re.search(todo, err), err


def test_no_command_prints_the_usage(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([], capsys)
    assert code == 2 and out == ""
    assert err.startswith("usage: sriovcheck") and "validate" in err and "exit codes:" in err


def test_debug_traceback_only_once_a_command_runs(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --debug is for bug reports: a usage error stays a plain message; a command's error gets the traceback
    code, _, err = run(["--debug", "frobnicate"], capsys)
    assert code == 2 and "Traceback" not in err and err.startswith("error:")
    code, _, err = run(["--debug", "validate", f"{sandbox}/nope.yaml"], capsys)
    assert code == 2 and "Traceback" in err and "error: 1 problem in the topology file" in err
