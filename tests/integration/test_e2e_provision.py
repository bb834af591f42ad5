"""Provisioning end to end in the emulated lab with the real docker engine: `sriovcheck provision`,
`teardown` and their failure paths, checked from outside with `ip`, `docker exec` and `docker inspect`.

One lab per module (brought up once, always torn down and brought down at the end); each test
leaves it provisioned or torn down as the next one expects, and says so.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _lab_helpers import Lab, lab_session, run, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_session(tmp_path_factory.mktemp("e2e-prov"), prefix="e2ep") as lab:
        yield lab


@pytest.fixture(autouse=True)
def _lab_env(lab: Lab, docker_required: None, _private_state_dir: None,
             monkeypatch: pytest.MonkeyPatch) -> None:
    # The module's lab keeps its state under its own root; tests/conftest.py points every test at a
    # fresh one first, so point back (after it) for the in-process CLI and the helpers alike.
    for k, v in lab.env().items():
        monkeypatch.setenv(k, v)


@pytest.fixture(autouse=True)
def _torn_down_after(lab: Lab, _lab_env: None) -> Iterator[None]:
    # Each test starts from a torn-down lab; a test that fails half-way must not cascade.
    yield
    if lab.provision_state.exists() or lab.containers_seen():
        lab.cli("teardown", "TOPOLOGY", "--lab")
        for name in lab.containers_seen():
            run("docker", "rm", "-f", name, check=False)


def host_before(lab: Lab) -> dict[str, Any]:
    """The picture of a lab with nothing provisioned, as teardown must leave it."""
    pic = lab.picture()
    assert pic["containers"] == {} and not pic["provision_state"], pic
    return pic


def assert_provisioned(lab: Lab) -> dict[str, dict[str, Any]]:
    """Each container has its VF as eth1 with its address, up, and the MAC the emulated NIC gave that VF."""
    vfs = lab.vfs()
    inside = {}
    for i, (cname, addr) in enumerate(zip(lab.containers, ("192.168.200.2/24", "192.168.201.2/24"), strict=True)):
        seen = lab.in_container(cname)
        assert seen["present"], f"{cname}: {seen}"
        assert seen["addresses"] == [addr], seen
        assert seen["up"] and seen["lower_up"], seen
        assert vfs[i]["where"] == "elsewhere" and vfs[i]["netdev"] is None, vfs[i]  # not on the host any more
        assert seen["mac"] == vfs[i]["mac"], (seen, vfs[i])
        assert vfs[i]["config"]["vlan"] == (200, 201)[i] and vfs[i]["nic_bridge"] == f"n0v{(200, 201)[i]}"
        inside[cname] = seen
    assert not [link for link in lab.host_links() if link["ifname"] in (f"{lab.pf}v0", f"{lab.pf}v1")]
    return inside


def provisioned_picture(lab: Lab) -> dict[str, Any]:
    pic = lab.picture()
    pic["inside"] = {c: lab.in_container(c) for c in lab.containers}
    pic["state_file"] = json.loads(lab.provision_state.read_text())
    return pic


# ------------------------------------------------------------------ the happy path

def test_provision_is_idempotent_and_teardown_restores_the_host(lab: Lab) -> None:
    before = host_before(lab)
    assert {before["vfs"][i]["netdev"] for i in (0, 1)} == {f"{lab.pf}v0", f"{lab.pf}v1"}

    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    assert f"{lab.pf}v0 -> eth1" in r.out and f"{lab.pf}v1 -> eth1" in r.out
    inside = assert_provisioned(lab)
    for cname in lab.containers:
        assert f"{cname}/eth1" in r.out and inside[cname]["mac"] in r.out  # the output names the MAC it gave
    seen = lab.containers_seen()
    assert {c["status"] for c in seen.values()} == {"running"}
    assert {c["labels"].get("io.sriovcheck.topology") for c in seen.values()} == {lab.name}

    first = provisioned_picture(lab)
    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    assert "nothing to change" in r.out
    assert provisioned_picture(lab) == first  # and really nothing changed, inside or out

    r = lab.cli("teardown", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    assert f"home as {lab.pf}v0" in r.out and f"home as {lab.pf}v1" in r.out
    after = lab.picture()
    assert after["containers"] == {}
    assert not after["provision_state"]
    assert after["vfs"] == before["vfs"]  # names, MACs, VLANs (back to none) and every setting
    assert after["host_links"] == before["host_links"]

    r = lab.cli("teardown", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    assert lab.picture() == before


def test_killed_container_is_repaired_by_provision(lab: Lab) -> None:
    before = host_before(lab)
    assert lab.cli("provision", "TOPOLOGY", "--lab").code == 0
    c200, c201 = lab.containers
    old = lab.containers_seen()
    mac200 = lab.in_container(c200)["mac"]

    run("docker", "kill", c200)
    assert lab.containers_seen()[c200]["status"] == "exited"
    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    now = lab.containers_seen()
    assert now[c200]["status"] == "running" and now[c200]["pid"] != old[c200]["pid"]  # a new namespace
    assert now[c201] == old[c201]  # the healthy one is left alone
    assert_provisioned(lab)
    assert lab.in_container(c200)["mac"] == mac200  # the same VF came back, with its MAC

    # A container removed outright is created anew.
    run("docker", "rm", "-f", c200)
    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    assert lab.containers_seen()[c200]["id"] != now[c200]["id"]
    assert_provisioned(lab)

    assert lab.cli("teardown", "TOPOLOGY", "--lab").code == 0
    assert lab.picture() == before


def test_vf_set_down_inside_its_container_is_repaired_by_provision(lab: Lab) -> None:
    before = host_before(lab)
    assert lab.cli("provision", "TOPOLOGY", "--lab").code == 0
    c200 = lab.containers[0]
    # The container has no CAP_NET_ADMIN: do it from the host in its namespace, as an operator would.
    run("nsenter", "-t", str(lab.containers_seen()[c200]["pid"]), "-n", "ip", "link", "set", "eth1", "down")
    assert not lab.in_container(c200)["up"]
    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    assert_provisioned(lab)
    assert lab.cli("teardown", "TOPOLOGY", "--lab").code == 0
    assert lab.picture() == before


# ------------------------------------------------------------------ failures roll back

def test_foreign_container_with_our_name_fails_half_way_and_rolls_back(lab: Lab) -> None:
    before = host_before(lab)
    c201 = lab.containers[1]
    run("docker", "run", "-d", "--name", c201, "--network", "none", "sriovcheck-lab/busybox:1", "sleep", "600")
    try:
        foreign = lab.containers_seen()[c201]
        r = lab.cli("provision", "TOPOLOGY", "--lab")
        assert r.code == 3, r.text
        assert f"a container named {c201!r} exists and was not created by sriovcheck" in r.err
        assert "undone" in r.err  # the hint says the run's changes were rolled back
        after = lab.picture()
        assert after["containers"] == {c201: foreign}  # ours removed, the foreign one untouched
        assert after["vfs"] == before["vfs"] and after["host_links"] == before["host_links"]
        assert not after["provision_state"]
    finally:
        run("docker", "rm", "-f", c201)
    assert lab.picture() == before


def test_vf_whose_netdev_was_moved_away_fails_and_rolls_back(lab: Lab) -> None:
    before = host_before(lab)
    vf1 = f"{lab.pf}v1"
    ns = f"{lab.name}-thief"
    run("ip", "netns", "add", ns)
    try:
        run("ip", "link", "set", vf1, "netns", ns)
        moved = lab.picture()
        r = lab.cli("provision", "TOPOLOGY", "--lab")
        assert r.code == 3, r.text
        assert f"VF 1 of {lab.pf} has no netdev in the host namespace" in r.err
        assert lab.picture() == moved  # VF 0's VLAN undone, no container, no state file
        assert moved["vfs"][0] == before["vfs"][0]
    finally:
        run("ip", "-n", ns, "link", "set", vf1, "netns", "1", check=False)
        run("ip", "netns", "del", ns)
    wait_for(lambda: lab.picture() == before, timeout=5)
    assert lab.picture() == before


@pytest.mark.parametrize(("sig", "after_step"), [(signal.SIGINT, 1), (signal.SIGTERM, 3), (signal.SIGINT, 4), (signal.SIGTERM, 6)])
def test_signal_during_provision_exits_130_and_rolls_back(lab: Lab, sig: signal.Signals, after_step: int) -> None:
    before = host_before(lab)
    proc = lab.spawn("provision", "TOPOLOGY", "--lab")
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(f"[{after_step}/"):
                proc.send_signal(sig)
                break
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(lines) + rest
    assert any(line.startswith(f"[{after_step}/") for line in lines), err
    assert proc.returncode == 130, err
    assert "interrupted" in err and "rolling back" in err
    assert lab.picture() == before, err


def test_second_provision_at_once_is_refused_with_a_lock_message(lab: Lab) -> None:
    before = host_before(lab)
    first = lab.spawn("provision", "TOPOLOGY", "--lab")
    try:
        assert first.stderr is not None
        line = first.stderr.readline()  # the first progress line: the lock is held from before it
        assert line, "the first provision printed nothing"
        first.send_signal(signal.SIGSTOP)  # hold it there, lock in hand, for as long as we need
        try:
            t0 = time.monotonic()
            r = lab.cli("provision", "TOPOLOGY", "--lab")
            took = time.monotonic() - t0
        finally:
            first.send_signal(signal.SIGCONT)
        assert r.code == 3, r.text
        assert f"another sriovcheck run holds the lock of topology {lab.name!r} (pid {first.pid} (provision))" in r.err
        assert took < 10.0  # refused at once: a wait for the lock would last as long as the first run is stopped
        _, rest = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, rest
    assert_provisioned(lab)
    assert lab.cli("teardown", "TOPOLOGY", "--lab").code == 0
    assert lab.picture() == before
