"""The host misbehaves around provisioning and verification: the docker engine is unreachable, a
container dies in the middle of provisioning, a VF vanishes from its container, the state file is
truncated or from an older version, the report directory's disk is full. Each case ends with a
clear message (what, where, what to do; never a traceback) and a host that is still right:
what was provisioned stays provisioned, and a final teardown restores the host exactly.

One emulated lab for the module, brought up once; every test starts and ends torn down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lab_helpers import Cli, Lab, lab_session, run, wait_for

pytestmark = pytest.mark.integration
HOST_KINDS = ("vf-attached", "vf-config", "gateway-ping", "container-arp")
SWITCH_KINDS = ("switch-mac", "switch-arp", "gateway-mac", "mac-unique")
ADDRESSES = ("192.168.200.2/24", "192.168.201.2/24")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_session(tmp_path_factory.mktemp("faults-host"), prefix="fhst") as lab:
        lab.notes["before"] = lab.picture()  # nothing provisioned: what every teardown must give back
        yield lab


@pytest.fixture(autouse=True)
def _lab_env(lab: Lab, docker_required: None, _private_state_dir: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in lab.env().items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def before(lab: Lab, _lab_env: None) -> Iterator[dict[str, Any]]:
    """The torn-down picture; after the test the lab is torn down and must look exactly like it."""
    pic = lab.picture()
    assert pic == lab.notes["before"], "the previous test left the lab changed"
    yield pic
    if lab.provision_state.exists() or lab.containers_seen():
        r = lab.cli("teardown", "TOPOLOGY", "--lab")
        assert r.code == 0, r.text
    for name in lab.containers_seen():  # only a broken test gets here
        run("docker", "rm", "-f", name, check=False)
    assert lab.picture() == pic


def no_traceback(r: Cli | str) -> None:
    text = r if isinstance(r, str) else r.text
    assert "Traceback" not in text and "internal error" not in text, text


def assert_provisioned(lab: Lab) -> None:
    vfs = lab.vfs()
    for i, (cname, addr) in enumerate(zip(lab.containers, ADDRESSES, strict=True)):
        seen = lab.in_container(cname)
        assert seen["present"] and seen["addresses"] == [addr] and seen["up"], (cname, seen)
        assert seen["mac"] == vfs[i]["mac"] and vfs[i]["where"] == "elsewhere", (seen, vfs[i])
    assert {c["status"] for c in lab.containers_seen().values()} == {"running"}


def verify(lab: Lab, where: Path) -> tuple[Cli, dict[str, Any]]:
    r = lab.cli("verify", "TOPOLOGY", "--lab", "--report-dir", str(where))
    assert r.code in (0, 1), r.text
    return r, json.loads((where / "results.json").read_text())


def statuses(results: dict[str, Any], target: str) -> dict[str, str]:
    return {c["kind"]: c["status"] for c in results["checks"] if c["target"] == target}


def check(results: dict[str, Any], kind: str, target: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in results["checks"] if c["kind"] == kind and c["target"] == target]
    assert len(found) == 1, (kind, target, found)
    return found[0]


def assert_healthy(results: dict[str, Any], target: str) -> None:
    """Every check of the seed's nine kinds passes; any further (acceptance) check does not fail."""
    st = statuses(results, target)
    assert {k: st.get(k) for k in HOST_KINDS + SWITCH_KINDS} == dict.fromkeys(HOST_KINDS + SWITCH_KINDS, "pass"), st
    assert not {"fail", "error"} & set(st.values()), st


def assert_broken(results: dict[str, Any], target: str, expected: dict[str, str]) -> None:
    """`expected` statuses for these kinds; every other check of the target is skipped, naming why."""
    got = {c["kind"]: c for c in results["checks"] if c["target"] == target}
    assert {k: got[k]["status"] for k in expected} == expected, {k: c["status"] for k, c in got.items()}
    for kind, c in got.items():
        if kind not in expected:
            assert c["status"] == "skip" and c["message"].startswith("not run: "), c


# ------------------------------------------------------------------ docker engine

def test_docker_engine_unreachable_changes_nothing(lab: Lab, before: dict[str, Any], tmp_path: Path) -> None:
    sock = tmp_path / "no-such-dir" / "docker.sock"  # the real engine keeps running for everyone else
    for command in ("provision", "teardown", "run"):
        extra = ("--report-dir", str(tmp_path / "reports")) if command == "run" else ()
        proc = lab.spawn(command, "TOPOLOGY", "--lab", *extra, env={"DOCKER_HOST": f"unix://{sock}"})
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 3, (command, out, err)
        no_traceback(err)
        assert f"error: docker engine not reachable at unix://{sock}" in err, err
        assert "\n  hint: start it" in err, err
        assert lab.picture() == before, command
    assert not lab.provision_state.exists()
    assert not sock.parent.exists()


# ------------------------------------------------------------------ a container dies during provisioning

def provision_killing(lab: Lab, *, after_step: int, victim: str) -> tuple[int, str]:
    """Provision in a child; when it reports step `after_step` done, freeze it, `docker kill` the
    victim, and let it go on. Frozen, the child cannot race ahead: the kill lands between its steps."""
    proc = lab.spawn("provision", "TOPOLOGY", "--lab")
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(f"[{after_step}/"):
                kill_while_frozen(lab, proc, victim)
                break
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(lines) + rest
    assert any(line.startswith(f"[{after_step}/") for line in lines), err
    return proc.returncode, err


def kill_while_frozen(lab: Lab, proc: subprocess.Popen[str], victim: str) -> None:
    """Freeze the child, `docker kill` the victim, let the child go on: the kill lands between its steps."""
    proc.send_signal(signal.SIGSTOP)
    try:
        run("docker", "kill", victim)
        assert wait_for(lambda: lab.containers_seen()[victim]["status"] == "exited")
    finally:
        proc.send_signal(signal.SIGCONT)


def provision_killing_at_start(lab: Lab, *, victim: str) -> tuple[int, str]:
    """Provision in a child; the moment docker reports the victim started (its events stream), freeze
    the child, `docker kill` the victim and let the child go on. Containers are created side by side
    and their VFs attached only once all are up, so the kill lands before the victim's VF moves in."""
    events = subprocess.Popen(
        ["docker", "events", "--filter", "type=container", "--filter", "event=start", "--filter", f"container={victim}",
         "--format", "{{.Actor.Attributes.name}}"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # the stream only reports what happens once it is subscribed
    proc = lab.spawn("provision", "TOPOLOGY", "--lab")
    try:
        assert events.stdout is not None
        for line in events.stdout:
            if line.strip() == victim:
                kill_while_frozen(lab, proc, victim)
                break
        _out, err = proc.communicate(timeout=60)
    finally:
        events.kill()
        events.wait()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def test_container_killed_before_its_vf_is_attached_rolls_back(lab: Lab, before: dict[str, Any]) -> None:
    c200 = lab.containers[0]
    code, err = provision_killing_at_start(lab, victim=c200)
    no_traceback(err)
    assert code == 3, err
    # seen dead by docker's own check right after the start, or when its VF is moved in
    assert f"container {c200!r} is not running" in err or f"container {c200} stopped right after starting" in err, err
    assert "rolling back" in err and "what this run changed has been undone" in err, err
    assert lab.picture() == before  # both containers removed, VF settings back, no state file

    r = lab.cli("provision", "TOPOLOGY", "--lab")  # nothing stands in the way any more
    assert r.code == 0, r.text
    assert_provisioned(lab)


def test_container_killed_after_its_vf_is_attached_is_reported_and_repaired(
    lab: Lab, before: dict[str, Any], tmp_path: Path
) -> None:
    c200 = lab.containers[0]
    t200, t201 = lab.targets
    code, err = provision_killing(lab, after_step=6, victim=c200)  # step 6 attached c200's VF
    no_traceback(err)
    assert code == 0, err  # provisioning did its part; the container died afterwards
    assert lab.containers_seen()[c200]["status"] == "exited"

    r, results = verify(lab, tmp_path / "broken")
    assert r.code == 1
    assert check(results, "vf-attached", t200)["message"].startswith(f"container {c200} is not running")
    assert_broken(results, t200, {"vf-attached": "fail", "vf-config": "pass"})
    assert_healthy(results, t201)

    r2 = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r2.code == 0, r2.text
    assert_provisioned(lab)
    r, results = verify(lab, tmp_path / "repaired")
    assert r.code == 0, r.text


# ------------------------------------------------------------------ a VF vanishes

def delete_eth1(lab: Lab, cname: str) -> None:
    pid = lab.containers_seen()[cname]["pid"]
    run("nsenter", "-t", str(pid), "-n", "ip", "link", "del", "eth1")
    assert not lab.in_container(cname)["present"]


def test_vf_vanished_before_verify(lab: Lab, before: dict[str, Any], tmp_path: Path) -> None:
    t200, t201 = lab.targets
    assert lab.cli("provision", "TOPOLOGY", "--lab").code == 0
    delete_eth1(lab, lab.containers[0])
    r, results = verify(lab, tmp_path)
    assert r.code == 1
    vf = check(results, "vf-attached", t200)
    assert vf["status"] == "fail" and "eth1" in vf["message"], vf
    assert_broken(results, t200, {"vf-attached": "fail", "vf-config": "pass"})
    assert check(results, "gateway-ping", t200)["message"] == "not run: prerequisite vf-attached failed"
    assert_healthy(results, t201)


def test_vf_vanishing_while_verify_pings(lab: Lab, before: dict[str, Any], tmp_path: Path) -> None:
    t200, t201 = lab.targets
    assert lab.cli("provision", "TOPOLOGY", "--lab").code == 0
    proc = lab.spawn("verify", "TOPOLOGY", "--lab", "--report-dir", str(tmp_path))
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("pinging "):  # every VF was found in its container; the pings come next
                proc.send_signal(signal.SIGSTOP)
                try:
                    delete_eth1(lab, lab.containers[0])
                finally:
                    proc.send_signal(signal.SIGCONT)
                break
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(lines) + rest
    no_traceback(err)
    assert proc.returncode == 1, err
    results = json.loads((tmp_path / "results.json").read_text())
    st = statuses(results, t200)
    assert st["vf-attached"] == "pass" and st["gateway-ping"] in ("fail", "error"), st  # seen, then gone
    assert st["container-arp"] == "skip" and st["switch-arp"] == "skip" and st["gateway-mac"] == "skip", st
    assert check(results, "gateway-ping", t200)["message"], "a failed ping must say why"
    assert_healthy(results, t201)


# ------------------------------------------------------------------ the state file

@pytest.mark.parametrize("damage", ["truncated", "schema-0"])
def test_damaged_state_file_is_refused_and_nothing_changes(lab: Lab, before: dict[str, Any], damage: str) -> None:
    assert lab.cli("provision", "TOPOLOGY", "--lab").code == 0
    good = lab.provision_state.read_text()
    provisioned = lab.picture()
    if damage == "truncated":
        bad = good[: len(good) // 2]
        expect = [f"state file {lab.provision_state} is corrupt", "it may have been truncated",
                  "hint: inspect it; move it away to start afresh", f"mv {lab.provision_state} {lab.provision_state}.bad"]
    else:
        data = json.loads(good)
        data["schema_version"] = 0
        bad = json.dumps(data)
        expect = [f"state file {lab.provision_state} has schema_version 0; this sriovcheck reads 1",
                  "hint: tear down with the sriovcheck version that provisioned"]
    lab.provision_state.write_text(bad)
    for command in ("teardown", "provision"):
        r = lab.cli(command, "TOPOLOGY", "--lab")
        assert r.code == 3, (command, r.text)
        no_traceback(r)
        for text in expect:
            assert text in r.err, (command, text, r.err)
        assert lab.provision_state.read_text() == bad  # the evidence is left for the user
        assert lab.picture() == provisioned, command
    lab.provision_state.write_text(good)  # what the hint leads to: a state file sriovcheck can read


# ------------------------------------------------------------------ the report's disk is full

@pytest.fixture
def tiny_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "tiny"
    d.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(d))
    try:
        yield d
    finally:
        run("umount", str(d), check=False)
        assert not os.path.ismount(d)


def test_report_on_a_full_disk(lab: Lab, before: dict[str, Any], tiny_dir: Path) -> None:
    r = lab.cli("run", "TOPOLOGY", "--lab", "--report-dir", str(tiny_dir))
    assert r.code == 3, r.text
    no_traceback(r)
    html = tiny_dir / "report.html"  # results.json (~40 KiB) fits in 64 KiB; the HTML (~100 KiB) does not
    assert f"error: could not write {html}: No space left on device" in r.err, r.err
    assert f"hint: free space on the filesystem that holds {tiny_dir}, or write the reports to another directory" in r.err
    assert sorted(p.name for p in tiny_dir.iterdir()) == []  # not even the results.json that would fit
    assert subprocess.run(["df", "--output=used", str(tiny_dir)], capture_output=True, text=True,
                          check=True).stdout.split()[-1] == "0"
    # Provisioning is untouched by a report that could not be written; teardown still works (fixture).
    assert_provisioned(lab)
    assert json.loads(lab.provision_state.read_text())["topology"] == lab.name
