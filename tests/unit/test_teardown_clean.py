"""teardown-clean fails when a VF keeps what sriovcheck gave it, or is not home under its name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sriovcheck.provision.engine import Provisioner
from sriovcheck.provision.state import StateStore
from sriovcheck.topology import load_topology
from sriovcheck.verify.teardown import teardown_clean_checks
from tests.unit.fakes import FakeHost, FakeNetns, FakeRuntime, FakeWorld

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"


def test_clean_after_teardown_and_dirty_when_a_vlan_stays(tmp_path: Path) -> None:
    topo = load_topology(SEED).topology
    w = FakeWorld({"eno2": 0})
    FakeHost(w).set_numvfs("eno2", 8)  # the VFs exist before sriovcheck
    store = StateStore(topo.name, tmp_path)
    p = Provisioner(topo, host=FakeHost(w), runtime=FakeRuntime(w), netns=FakeNetns(w), store=store, container_workers=1)
    p.provision()
    before = store.load()
    assert before is not None
    p.teardown()
    checks = teardown_clean_checks(topo, FakeHost(w), before)
    assert [(c.target, c.status) for c in checks] == [("test-200/eth1", "pass"), ("test-201/eth1", "pass")]
    # a driver that did not take the reset: VF 1 keeps VLAN 201 and another name
    w.config[("eno2", 1)] = replace(w.config[("eno2", 1)], vlan=201)
    w.ns["host"]["eth9"] = w.ns["host"].pop("eno2v1")
    w.vf_home[("eno2", 1)] = ("host", "eth9")
    checks = teardown_clean_checks(topo, FakeHost(w), before)
    bad = {c.target: c for c in checks}["test-201/eth1"]
    assert bad.status == "fail"
    assert "vlan is 201, was 0 before sriovcheck" in bad.message and "its netdev is eth9, was eno2v1" in bad.message


def test_vfs_that_did_not_exist_before_are_clean_when_the_count_is_back(tmp_path: Path) -> None:
    topo = load_topology(SEED).topology
    w = FakeWorld({"eno2": 0})
    store = StateStore(topo.name, tmp_path)
    p = Provisioner(topo, host=FakeHost(w), runtime=FakeRuntime(w), netns=FakeNetns(w), store=store, container_workers=1)
    p.provision()
    before = store.load()
    assert before is not None
    p.teardown()
    checks = teardown_clean_checks(topo, FakeHost(w), before)
    assert {c.status for c in checks} == {"pass"}
    assert checks[0].expected == "eno2 back to 0 VFs (VF 0 did not exist before)"
