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


class CountingRuntime(FakeRuntime):
    """FakeRuntime that counts what teardown asks docker (an inspect per name, a list per call)."""

    def __init__(self, w: FakeWorld) -> None:
        super().__init__(w)
        self.gets: dict[str, int] = {}
        self.lists = 0

    def get(self, name: str) -> ContainerInfo | None:
        self.gets[name] = self.gets.get(name, 0) + 1
        return super().get(name)

    def list_managed(self, topology: str | None = None) -> list[ContainerInfo]:
        self.lists += 1
        return super().list_managed(topology)


def _netns_of_the_fake_world(w: FakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    # A namespace path exists while the fake world has that namespace (a killed container's goes).
    monkeypatch.setattr("sriovcheck.provision.engine.os.path.exists", lambda path: path in w.ns)


def test_teardown_asks_docker_for_each_container_once_not_once_per_vf(topo, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    w = FakeWorld({"eno2": 0})
    before = picture(w)
    make(topo, w, tmp_path).provision()
    _netns_of_the_fake_world(w, monkeypatch)
    counting = CountingRuntime(w)
    vfs, names = len(topo.attachments()), sorted(c.name for c in topo.containers)
    assert vfs >= 2 and len(names) >= 2
    make(topo, w, tmp_path, runtime=counting).teardown()
    assert picture(w) == before
    # the VF loop: one list and one inspect per container (was: per VF, a list and an inspect of every container);
    # then remove() inspects each once more, and two lists check that none is left
    assert counting.lists == 4, counting.lists  # recover, the VF loop, the containers to remove, none left
    assert counting.gets == {n: 2 for n in names}, counting.gets


def test_teardown_asks_again_for_a_container_that_died_during_it(topo, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first VF is home, the other container's init dies; its VF is on its way home (the kernel
    dismantles the namespace asynchronously: not at home at the first look). The container is asked again
    (its namespace is gone), not looked into by its old path, and the VF is waited for and brought home."""
    from dataclasses import replace

    w = FakeWorld({"eno2": 8})
    before = picture(w)
    make(topo, w, tmp_path).provision()
    _netns_of_the_fake_world(w, monkeypatch)
    counting = CountingRuntime(w)
    netns, host = FakeNetns(w), FakeHost(w)
    real_detach, real_vf_info = netns.detach_vf, host.vf_info
    killed: list[str] = []
    in_transit: set[tuple[str, int]] = set()

    def detach_then_a_container_dies(ifname: str, **kw: object) -> None:
        real_detach(ifname, **kw)  # type: ignore[arg-type]
        if not killed:
            victim = next(n for n, c in sorted(w.containers.items()) if c.running and w.ns.get(f"/proc/{c.pid}/ns/net"))
            path = f"/proc/{w.containers[victim].pid}/ns/net"
            in_transit.update(k for k, (ns, _name) in w.vf_home.items() if ns == path)
            counting.kill(victim)
            killed.append(victim)

    def vf_info(pf: str, vf: int):  # type: ignore[no-untyped-def]
        info = real_vf_info(pf, vf)
        if (pf, vf) in in_transit:  # the first look after the death: not home yet
            in_transit.discard((pf, vf))
            return replace(info, netdev=None)
        return info

    netns.detach_vf = detach_then_a_container_dies  # type: ignore[method-assign]
    host.vf_info = vf_info  # type: ignore[method-assign]
    engine = Provisioner(topo, host=host, runtime=counting, netns=netns, store=StateStore(topo.name, tmp_path),
                         image_override="img:1", container_workers=1, sleep=lambda _s: None)
    engine.teardown()
    assert killed and not in_transit and picture(w) == before
    assert counting.gets[killed[0]] == 3, counting.gets  # in the VF loop, again once its namespace was gone, at removal
