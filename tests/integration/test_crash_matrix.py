"""The crash matrix: `provision` and `teardown` killed with SIGKILL at every kill point, then the
next `provision` exits 0, `verify` passes, `teardown` exits 0, and the host looks exactly as it did
before (root-namespace links with names, MACs and flags, the lab's view of every VF's settings,
namespaces, containers named after or labelled with the topology), with no temporary file left.

Kill points, each a separate case:
- every progress line of the run (stderr, read line by line), killed at once and a few
  milliseconds later (so that the kill lands inside the next step);
- the named points of the SRIOVCHECK_CRASH_AT test hook (sriovcheck/crashpoints.py), each time it
  is reached: after every intent write, after a container was created but before it was recorded,
  and between the sub-steps of a VF's move into and out of a container. Those windows are a few
  milliseconds wide; a kill from outside lands in them only by chance.

The seed lab runs in CI. SRIOVCHECK_CRASH_MATRIX_LARGE=1 runs the same matrix on a copy of
topologies/large-32vf.yaml (a longer run; progress-line kills only, at once and 5 ms later).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lab_helpers import (
    TOPOLOGIES,
    Lab,
    brought_up,
    lab_env,  # noqa: F401 - autouse fixture for this module's tests
    lab_session,
    run,
)
from test_interrupts_teardown import assert_same_host, host_picture

from sriovcheck.crashpoints import POINTS

pytestmark = pytest.mark.integration

LARGE = os.environ.get("SRIOVCHECK_CRASH_MATRIX_LARGE") == "1"
DELAYS_MS = (0,) if LARGE else (0, 5)
# Kill at every STRIDE-th progress line (and at the last). 1 on the seed lab; the 32-VF run has ~130
# lines of ~30 s each to recover, verify and tear down, so it samples (SRIOVCHECK_CRASH_MATRIX_STRIDE).
STRIDE = int(os.environ.get("SRIOVCHECK_CRASH_MATRIX_STRIDE") or (8 if LARGE else 1))
TIMINGS: dict[str, float] = {}


def picture(lab: Lab) -> dict[str, Any]:
    pic: dict[str, Any] = dict(host_picture(lab))
    pic["vfs"] = {i: {k: v[k] for k in ("netdev", "where", "mac", "config", "nic_bridge", "carrier")}
                  for i, v in lab.vfs().items()}
    labelled = run("docker", "ps", "-a", "--filter", f"label=io.sriovcheck.topology={lab.name}",
                   "--format", "{{.Names}}").stdout.split()
    pic["labelled_containers"] = sorted(labelled)
    return pic


def leftovers(lab: Lab) -> list[str]:
    """Temporary files (a killed writer's) anywhere under the topology's state directory."""
    d = lab.state_root / lab.name
    return sorted(str(p) for p in d.rglob(".*") if p.is_file() and p.name not in (".lock",)) if d.exists() else []


def kill_run(lab: Lab, command: str, *, line: int | None = None, delay_ms: int = 0,
             crash_at: str | None = None) -> tuple[int | None, str, bool]:
    """Run `sriovcheck COMMAND TOPOLOGY --lab` as a child and SIGKILL it after its `line`-th progress
    line (+ delay), or let SRIOVCHECK_CRASH_AT kill it. Returns (exit status, stderr, was it killed)."""
    env = {"SRIOVCHECK_CRASH_AT": crash_at} if crash_at else None
    proc = lab.spawn(command, "TOPOLOGY", "--lab", env=env)
    lines: list[str] = []
    killed = False
    try:
        assert proc.stderr is not None
        if line is not None:
            for text in proc.stderr:
                lines.append(text)
                if len(lines) == line:
                    if delay_ms:
                        time.sleep(delay_ms / 1000)
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=120)
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed = proc.returncode == -signal.SIGKILL
    return proc.returncode, "".join(lines) + rest, killed


def then_all_is_well(lab: Lab, before: dict[str, Any], label: str, tmp_path: Path) -> None:
    """After a kill: provision exits 0, verify passes, teardown exits 0, the host is as before."""
    t0 = time.monotonic()
    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, f"{label}: provision after the kill: {r.text}"
    assert not leftovers(lab), f"{label}: {leftovers(lab)}"
    r = lab.cli("verify", "TOPOLOGY", "--lab", "--report-dir", str(tmp_path / "reports"))
    assert r.code == 0, f"{label}: verify after the kill: {r.text[-3000:]}"
    r = lab.cli("teardown", "TOPOLOGY", "--lab")
    assert r.code == 0, f"{label}: teardown: {r.text}"
    after = picture(lab)
    assert_same_host(before, after)
    assert after == before, f"{label}"
    assert not lab.provision_state.exists(), label
    assert not leftovers(lab), f"{label}: {leftovers(lab)}"
    TIMINGS["recovery cycles"] = TIMINGS.get("recovery cycles", 0.0) + time.monotonic() - t0


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("crash")
    if LARGE:
        yield from _large_lab(base)
        return
    with lab_session(base, prefix="fcr", learn_timeout_s=3, ping="{count: 1, timeout_s: 1, max_loss_pct: 0}") as lab:
        yield lab


def _large_lab(base: Path) -> Iterator[Lab]:
    import secrets


    token = secrets.token_hex(2)
    name, pfs = f"fcl-{token}", (f"e{token}a", f"e{token}b")
    text = (TOPOLOGIES / "large-32vf.yaml").read_text()
    for old, new in (("name: large-32vf\n", f"name: {name}\n"), ("large-32vf-c", f"{name}-c"),
                     ("ens1f0", pfs[0]), ("ens2f0", pfs[1])):
        assert old in text, f"topologies/large-32vf.yaml changed: {old!r} not found"
        text = text.replace(old, new)
    path = base / f"{name}.yaml"
    path.write_text(text)
    state_root = base / "state"
    state_root.mkdir()
    containers = tuple(re.findall(r"^- name: (\S+)$", text, re.M))
    lab = Lab(name, pfs[0], containers, path, state_root, password="pw-" + secrets.token_hex(4),  # type: ignore[arg-type]
              style="non-els")
    with brought_up(lab, stray_containers_ok=False):
        yield lab


@pytest.fixture(scope="module")
def counts(lab: Lab) -> dict[str, Any]:
    """One unkilled provision and teardown: their progress lines and how often each named point is reached."""
    os.environ.update(lab.env())
    before = picture(lab)
    code, err, _ = kill_run(lab, "provision")
    assert code == 0, err
    prov_lines = len(err.splitlines())
    code, err, _ = kill_run(lab, "teardown")
    assert code == 0, err
    tear_lines = len(err.splitlines())
    assert picture(lab) == before
    return {"before": before, "provision_lines": prov_lines, "teardown_lines": tear_lines}


def _line_cases() -> list[tuple[str, int]]:
    return [(cmd, d) for cmd in ("provision", "teardown") for d in DELAYS_MS]


@pytest.mark.parametrize(("command", "delay_ms"), _line_cases())
def test_kill_at_every_progress_line(lab: Lab, counts: dict[str, Any], command: str, delay_ms: int,
                                     tmp_path: Path) -> None:
    before = counts["before"]
    n = counts[f"{command}_lines"]
    killed_in = 0
    t0 = time.monotonic()
    points = sorted({*range(1, n + 1, STRIDE), n})
    for line in points:
        label = f"{command} killed {delay_ms} ms after progress line {line}/{n}"
        if command == "teardown":
            r = lab.cli("provision", "TOPOLOGY", "--lab")
            assert r.code == 0, r.text
        code, err, killed = kill_run(lab, command, line=line, delay_ms=delay_ms)
        killed_in += killed
        assert killed or code == 0, f"{label}: {err}"
        assert "Traceback" not in err, err
        then_all_is_well(lab, before, label, tmp_path)
    TIMINGS[f"{command} lines +{delay_ms}ms"] = time.monotonic() - t0
    assert killed_in >= len(points) - 1, f"only {killed_in} of {len(points)} kills landed before {command} ended"
    _record(f"{command}_lines_{delay_ms}ms", f"{len(points)} kill points of {n} lines, {time.monotonic() - t0:.1f} s")


def _point_cases() -> list[tuple[str, str]]:
    prov = [p for p in POINTS if p != "detach-moved"]
    return [("provision", p) for p in prov] + [("teardown", p) for p in ("intent", "detach-moved")]


@pytest.mark.skipif(LARGE, reason="the large run kills at progress lines only")
@pytest.mark.parametrize(("command", "point"), _point_cases())
def test_kill_at_every_named_point(lab: Lab, counts: dict[str, Any], command: str, point: str, tmp_path: Path) -> None:
    """Every time the named point is reached (1st, 2nd, ... until a run is no longer killed there)."""
    before = counts["before"]
    t0 = time.monotonic()
    nth = 0
    while True:
        nth += 1
        assert nth < 100
        label = f"{command} killed at {point}:{nth}"
        if command == "teardown":
            r = lab.cli("provision", "TOPOLOGY", "--lab")
            assert r.code == 0, r.text
        code, err, killed = kill_run(lab, command, crash_at=f"{point}:{nth}")
        assert "Traceback" not in err, err
        if not killed:
            assert code == 0, f"{label}: {err}"
            if command == "provision":
                r = lab.cli("teardown", "TOPOLOGY", "--lab")
                assert r.code == 0, r.text
            assert picture(lab) == before
            break
        if point == "container-created":
            # The container exists, no record knows it: it must not escape.
            assert lab.containers_seen(), label
        then_all_is_well(lab, before, label, tmp_path)
    assert nth > 1, f"{command} never reached {point}"
    _record(f"{command}_{point}", f"{nth - 1} kill points, {time.monotonic() - t0:.1f} s")


def _record(key: str, value: str) -> None:
    path = os.environ.get("SRIOVCHECK_CRASH_MATRIX_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({key: value}) + "\n")


@pytest.mark.skipif(LARGE, reason="the seed lab shows it")
def test_teardown_that_cannot_bring_a_vf_home_names_it(lab: Lab, counts: dict[str, Any]) -> None:
    """A VF held by a namespace sriovcheck did not create: teardown exits 3 naming it, not 0."""
    before = counts["before"]
    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    ns = f"fcr-hold-{os.getpid()}"
    run("ip", "netns", "add", ns)
    try:
        pid = lab.containers_seen()[lab.containers[0]]["pid"]
        # Take VF 0 out of its container into a namespace of "someone else".
        subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "link", "set", "eth1", "netns", ns], check=True)
        r = lab.cli("teardown", "TOPOLOGY", "--lab")
        assert r.code == 3, r.text
        assert f"{lab.pf} vf 0 is not home" in r.text, r.text
        assert lab.provision_state.exists()
        # Given back, the next teardown finishes the job.
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "eth1", "netns", "1"], check=True)
    finally:
        run("ip", "netns", "del", ns, check=False)
    r = lab.cli("teardown", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    assert picture(lab) == before
