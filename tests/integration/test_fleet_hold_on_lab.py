"""`fleet traffic --hold` and `fleet verify --held` as a fleet host runs them: the real `sriovcheck`
command (its console script), the emulated lab, docker. The traffic process's parent exits with the
command's code while a child keeps listening; verify runs in that child (its stderr says which pid);
afterwards neither the process nor its socket is left. A held process killed with -9, or gone after
its idle timeout, costs nothing but the start-up: verify runs itself and passes, teardown included.
The module's leak check also fails on any sriovcheck process left running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration._lab_helpers import Lab, lab_session, run, wait_for

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).with_name("sriovcheck")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("hold")
    with lab_session(base, prefix="fho", learn_timeout_s=3, ping="{count: 1, timeout_s: 1, max_loss_pct: 0}") as lab:
        yield lab


@pytest.fixture
def sock(lab: Lab) -> Iterator[Path]:
    folder = Path("/tmp") / f"sch-{lab.name}"  # short: a unix socket's path holds 107 bytes
    path = folder / "held.sock"
    yield path
    if path.exists():
        path.unlink()
    if folder.exists():
        folder.rmdir()


def sriovcheck(lab: Lab, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [str(lab.path) if a == "TOPOLOGY" else a for a in args]
    return subprocess.run([str(BIN), *argv], env={**os.environ, **lab.env()}, input=stdin, capture_output=True,
                          text=True, timeout=300, check=False)


def traffic_held(lab: Lab, sock: Path, *extra: str) -> int:
    """provision + traffic with --hold; the pid of the process left holding."""
    done = sriovcheck(lab, "fleet", "traffic", "TOPOLOGY", "--lab", "--provision", "--hold", str(sock), *extra)
    assert done.returncode == 0, done.stderr
    said = re.search(rf"^held: sriovcheck process (\d+) waits on {re.escape(str(sock))} ", done.stderr, re.M)
    assert said, done.stderr
    pid = int(said.group(1))
    assert Path(f"/proc/{pid}").exists() and sock.is_socket()
    assert not sock.stat().st_mode & 0o077  # the user's own: no group or other access
    listening = run("ss", "-xlpn").stdout
    assert any(str(sock) in line and f"pid={pid}," in line for line in listening.splitlines()), listening
    return pid


def evidence(lab: Lab, tmp: Path) -> Path:
    done = sriovcheck(lab, "fleet", "switch-read", "TOPOLOGY", "--out", str(tmp / "evidence"), "--lab")
    assert done.returncode == 0, done.stderr
    (found,) = (tmp / "evidence").glob("*.json")
    return found


def verify_held(lab: Lab, sock: Path, tmp: Path, bundle: Path) -> subprocess.CompletedProcess[str]:
    return sriovcheck(lab, "fleet", "verify", "TOPOLOGY", "--switch-output", str(bundle), "--report-dir",
                      str(tmp / "report"), "--lab", "--teardown", "--json", "--no-html", "--held", str(sock))


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def passed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)  # stdout is results.json alone
    statuses = {c["status"] for c in results["checks"]}
    assert statuses <= {"pass", "skip", "waived"} and "pass" in statuses, statuses


def test_verify_runs_in_the_process_traffic_kept_and_nothing_is_left(lab: Lab, sock: Path, tmp_path: Path) -> None:
    pid = traffic_held(lab, sock)
    bundle = evidence(lab, tmp_path)
    done = verify_held(lab, sock, tmp_path, bundle)
    passed(done)
    assert done.stderr.splitlines()[0] == f"running in sriovcheck process {pid}, held by `fleet traffic --hold`"
    assert "torn down:" in done.stderr
    assert wait_for(lambda: gone(pid), timeout=10), f"held process {pid} still running"
    assert not sock.exists()
    assert lab.containers_seen() == {}  # teardown ran (in the held process)
    # the report dir is the verify's as without --held
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["junit.xml", "results.json", "switch-evidence"]


def test_a_held_process_killed_with_9_costs_only_the_start_up(lab: Lab, sock: Path, tmp_path: Path) -> None:
    pid = traffic_held(lab, sock)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: gone(pid), timeout=10)
    done = verify_held(lab, sock, tmp_path, evidence(lab, tmp_path))
    passed(done)
    assert f"no sriovcheck process held at {sock} (Connection refused); running the command here" in done.stderr
    assert "running in sriovcheck process" not in done.stderr
    assert lab.containers_seen() == {}


def test_a_held_process_leaves_after_its_timeout_and_verify_runs_itself(lab: Lab, sock: Path, tmp_path: Path) -> None:
    pid = traffic_held(lab, sock, "--hold-timeout", "1")
    assert wait_for(lambda: gone(pid), timeout=15), f"held process {pid} outlived its timeout"
    assert not sock.exists()
    done = verify_held(lab, sock, tmp_path, evidence(lab, tmp_path))
    passed(done)
    assert f"no sriovcheck process held at {sock}" in done.stderr
    assert lab.containers_seen() == {}


def test_hold_options_are_checked(lab: Lab) -> None:
    done = sriovcheck(lab, "fleet", "traffic", "TOPOLOGY", "--lab", "--hold", "/" + "x" * 120)
    assert done.returncode == 2 and "cannot be a unix socket's path" in done.stderr
    done = sriovcheck(lab, "fleet", "traffic", "TOPOLOGY", "--lab", "--hold-timeout", "5")
    assert done.returncode == 2 and "only with --hold" in done.stderr
