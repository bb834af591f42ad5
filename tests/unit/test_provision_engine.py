"""The provisioning engine against in-memory seams: order, idempotence, repair, rollback, teardown."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovcheck.containers.runtime import ContainerInfo
from sriovcheck.errors import ContainerError, ProvisionError
from sriovcheck.host.driver import VfConfig
from sriovcheck.provision.engine import Provisioner
from sriovcheck.provision.state import StateStore
from sriovcheck.topology import load_topology
from tests.unit.fakes import ContainerErrorRuntime, FakeHost, FakeNetns, FakeRuntime, FakeWorld

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"


@pytest.fixture
def topo():  # type: ignore[no-untyped-def]
    return load_topology(SEED).topology


def make(topo, w: FakeWorld, tmp_path: Path, runtime=None, workers: int = 1) -> Provisioner:  # type: ignore[no-untyped-def]
    # one container at a time keeps the recorded call order deterministic; see the parallel test
    return Provisioner(topo, host=FakeHost(w), runtime=runtime or FakeRuntime(w), netns=FakeNetns(w),
                       store=StateStore(topo.name, tmp_path), image_override="img:1", container_workers=workers)


def picture(w: FakeWorld) -> tuple[object, ...]:
    return (
        {ns: sorted((n, lk.mac, lk.mtu, tuple(lk.addresses)) for n, lk in links.items()) for ns, links in w.ns.items() if links},
        dict(w.numvfs), dict(w.config), sorted(w.containers),
    )


def test_provision_seed_from_scratch(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    report = make(topo, w, tmp_path).provision()
    assert report.changed
    assert w.calls == [
        "numvfs eno2 8", "vfconfig eno2 0 vlan 200", "vfconfig eno2 1 vlan 201",
        "create test-200", "create test-201", "attach eno2v0 -> eth1", "attach eno2v1 -> eth1",
    ]
    for name, addr in (("test-200", "192.168.200.2/24"), ("test-201", "192.168.201.2/24")):
        ns = w.containers[name].netns_path
        assert ns is not None
        link = w.ns[ns]["eth1"]
        assert link.addresses == [addr] and link.admin_up
    state = StateStore(topo.name, tmp_path).load()
    assert state is not None
    assert [(r.pf, r.vf, r.original_netdev, r.attached, r.container) for r in state.vfs] == [
        ("eno2", 0, "eno2v0", True, "test-200"), ("eno2", 1, "eno2v1", True, "test-201")]
    assert state.numvfs_original == {"eno2": 0}
    assert state.vfs[0].original_config == VfConfig().as_dict()


def test_provision_twice_changes_nothing(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    make(topo, w, tmp_path).provision()
    before, calls = picture(w), len(w.calls)
    report = make(topo, w, tmp_path).provision()
    assert not report.changed
    assert {o.result for o in report.outcomes} == {"unchanged"}
    assert picture(w) == before and len(w.calls) == calls


def test_killed_container_is_repaired(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    make(topo, w, tmp_path).provision()
    FakeRuntime(w).kill("test-201")
    assert "eth1" in w.ns["host"]  # a real VF comes back under its in-container name
    report = make(topo, w, tmp_path).provision()
    done = [(o.action, o.target) for o in report.outcomes if o.result == "done"]
    assert done == [("create-container", "test-201"), ("attach-vf", "test-201/eth1")]
    ns = w.containers["test-201"].netns_path
    assert ns is not None and w.ns[ns]["eth1"].addresses == ["192.168.201.2/24"]


def test_failure_half_way_rolls_back_everything(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    before = picture(w)
    w.fail_on.add("attach eno2v1")
    with pytest.raises(ProvisionError, match="injected failure in attach eno2v1") as info:
        make(topo, w, tmp_path).provision()
    assert "undone" in (info.value.hint or "")
    assert picture(w) == before
    assert not StateStore(topo.name, tmp_path).path.exists()
    undo = w.calls[w.calls.index("attach eno2v1 -> eth1") + 1:]
    assert undo == ["detach eth1 -> eno2v0", "remove test-201", "remove test-200",
                    "vfconfig eno2 1 vlan 0", "vfconfig eno2 0 vlan 0", "numvfs eno2 0"]


def test_interrupt_rolls_back_and_reraises(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    before = picture(w)

    class Interrupting(FakeRuntime):
        def create(self, **kw):  # type: ignore[no-untyped-def, override]
            if kw["name"] == "test-201":
                raise KeyboardInterrupt
            return super().create(**kw)

    with pytest.raises(KeyboardInterrupt):
        make(topo, w, tmp_path, runtime=Interrupting(w)).provision()
    assert picture(w) == before


def test_second_run_rollback_keeps_first_runs_work(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    make(topo, w, tmp_path).provision()
    FakeRuntime(w).kill("test-201")
    snapshot_state = StateStore(topo.name, tmp_path).load()
    w.fail_on.add("attach eth1")
    with pytest.raises(ProvisionError):
        make(topo, w, tmp_path).provision()
    # test-200 untouched, still provisioned; the state still records it for teardown
    ns = w.containers["test-200"].netns_path
    assert ns is not None and "eth1" in w.ns[ns]
    state = StateStore(topo.name, tmp_path).load()
    assert state is not None and snapshot_state is not None
    assert state.vf("eno2", 0) == snapshot_state.vf("eno2", 0)


def test_foreign_container_is_never_touched(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    w.containers["test-201"] = ContainerInfo(name="test-201", id="theirs", image="x", running=True, pid=99, labels={})
    with pytest.raises(ProvisionError, match="was not created by sriovcheck") as info:
        make(topo, w, tmp_path).provision()
    assert "never touches containers it did not create" in (info.value.hint or "")
    assert w.containers["test-201"].id == "theirs"
    assert "remove test-201" not in w.calls


def test_engine_unreachable_is_reported_before_any_change(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    with pytest.raises(ContainerError, match="not reachable"):
        make(topo, w, tmp_path, runtime=ContainerErrorRuntime(w)).provision()
    assert w.calls == []


def test_preflight_refuses_missing_pf_and_too_many_vfs(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProvisionError, match="PF eno2 does not exist"):
        make(topo, FakeWorld({"eno3": 0}), tmp_path).provision()
    with pytest.raises(ProvisionError, match="at most 4 VFs; the topology asks for 8"):
        make(topo, FakeWorld({"eno2": 0}, totalvfs=4), tmp_path).provision()


def test_teardown_restores_everything_and_is_idempotent(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 0})
    before = picture(w)
    make(topo, w, tmp_path).provision()
    report = make(topo, w, tmp_path).teardown()
    assert report.changed
    assert picture(w) == before
    assert not StateStore(topo.name, tmp_path).path.exists()
    again = make(topo, w, tmp_path).teardown()
    assert not again.changed


def test_teardown_after_container_died_finds_vf_by_pf_not_name(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = FakeWorld({"eno2": 8})
    before = picture(w)
    make(topo, w, tmp_path).provision()
    FakeRuntime(w).kill("test-200")  # VF 0 comes back to the host as "eth1"
    make(topo, w, tmp_path).teardown()
    assert "set-host-link eth1 eno2v0 None" in w.calls
    assert picture(w) == before


def test_containers_side_by_side_and_a_failure_among_them_rolls_all_back(tmp_path: Path) -> None:
    from sriovcheck.topology import load_text
    from sriovcheck.topology.generate import generate

    topo = load_text(generate("par", vfs=8, pfs=2, vlans=2)).topology
    w = FakeWorld({"ens1f0": 0, "ens2f0": 0})
    before = picture(w)
    make(topo, w, tmp_path, workers=4).provision()
    assert sorted(w.containers) == [f"par-c{i:03d}" for i in range(8)]
    assert all(len(w.ns[c.netns_path]) == 1 for c in w.containers.values() if c.netns_path)
    make(topo, w, tmp_path, workers=4).teardown()
    assert picture(w) == before
    w.fail_on.add("create par-c005")
    with pytest.raises(ProvisionError, match="injected failure in create par-c005"):
        make(topo, w, tmp_path, workers=4).provision()
    assert picture(w) == before  # the seven that were created side by side are gone again
