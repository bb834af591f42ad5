"""Crash safety of the provisioning engine against in-memory seams: a run that dies outright (no
rollback, no finally of ours) at a step leaves its intent in the state file, and the next provision,
teardown or recover settles it. `Killed` stands for SIGKILL: a BaseException the engine never
catches, raised from inside a seam at the moment the kill lands."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from sriovcheck.errors import ProvisionError, StateError
from sriovcheck.provision.engine import Provisioner
from sriovcheck.provision.state import StateStore
from sriovcheck.statefiles import remove_orphans, write_json_atomic
from sriovcheck.topology import load_topology
from tests.unit.fakes import FakeHost, FakeNetns, FakeRuntime, FakeWorld, Link

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"


class Killed(BaseException):
    pass


@pytest.fixture
def topo():  # type: ignore[no-untyped-def]
    return load_topology(SEED).topology


def make(topo, w: FakeWorld, tmp_path: Path, netns=None, runtime=None) -> Provisioner:  # type: ignore[no-untyped-def]
    return Provisioner(topo, host=FakeHost(w), runtime=runtime or FakeRuntime(w), netns=netns or FakeNetns(w),
                       store=StateStore(topo.name, tmp_path), image_override="img:1", container_workers=1,
                       vf_return_timeout_s=0)


def world() -> FakeWorld:
    """eno2 with its 8 VFs already there (so teardown keeps them)."""
    w = FakeWorld({"eno2": 0})
    FakeHost(w).set_numvfs("eno2", 8)
    w.calls.clear()
    return w


def picture(w: FakeWorld) -> tuple[object, ...]:
    return (
        {ns: sorted((n, lk.mac, lk.mtu, tuple(lk.addresses)) for n, lk in links.items()) for ns, links in w.ns.items() if links},
        dict(w.numvfs), dict(w.config), sorted(w.containers),
    )


class DiesInsideTheMove(FakeNetns):
    """The VF is in the container's namespace under its temporary name, down, no address: then the kill."""

    def attach_vf(self, host_ifname: str, *, netns_path: str, ifname: str, address_cidr: str,
                  mtu: int | None, mac: str | None, temp_name: str) -> Link:
        link = self.w.ns["host"].pop(host_ifname)
        link.name = temp_name
        self.w.ns[netns_path][temp_name] = link
        for key, (ns, n) in list(self.w.vf_home.items()):
            if ns == "host" and n == host_ifname:
                self.w.vf_home[key] = (netns_path, temp_name)
        raise Killed


def test_kill_while_a_vf_moves_in_loses_nothing(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = world()
    before = picture(w)
    with pytest.raises(Killed):
        make(topo, w, tmp_path, netns=DiesInsideTheMove(w)).provision()
    state = StateStore(topo.name, tmp_path).load()
    assert state is not None
    # The intent was on disk before the move began, with the temporary name it would use.
    (intent,) = state.intents
    assert intent["kind"] == "attach-vf" and intent["vf"] == 0 and intent["temp_name"].startswith("sc")
    assert any(n.startswith("sc") for ns, links in w.ns.items() if ns != "host" for n in links)

    report = make(topo, w, tmp_path).provision()  # recovers first, then finishes the job
    assert any(o.target == "test-200/eth1" and o.result == "done" for o in report.outcomes)
    state = StateStore(topo.name, tmp_path).load()
    assert state is not None and not state.intents
    assert [r.original_netdev for r in state.vfs] == ["eno2v0", "eno2v1"]  # never a temporary name
    make(topo, w, tmp_path).teardown()
    assert picture(w) == before
    assert not StateStore(topo.name, tmp_path).path.exists()


def test_teardown_after_a_killed_move_brings_the_vf_home_under_its_original_name(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = world()
    before = picture(w)
    with pytest.raises(Killed):
        make(topo, w, tmp_path, netns=DiesInsideTheMove(w)).provision()
    make(topo, w, tmp_path).teardown()
    assert w.vf_home[("eno2", 0)] == ("host", "eno2v0")
    assert picture(w) == before


class DiesAfterCreate(FakeRuntime):
    def create(self, **kwargs):  # type: ignore[no-untyped-def]
        super().create(**kwargs)
        raise Killed


def test_a_container_created_by_a_killed_run_does_not_escape(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = world()
    before = picture(w)
    with pytest.raises(Killed):
        make(topo, w, tmp_path, runtime=DiesAfterCreate(w)).provision()
    state = StateStore(topo.name, tmp_path).load()
    assert state is not None and not state.containers and "test-200" in w.containers
    report = make(topo, w, tmp_path).teardown()
    assert ("remove-container", "test-200") in [(o.action, o.target) for o in report.outcomes]
    assert picture(w) == before


def test_recover_adopts_labelled_containers_and_removes_orphan_temp_files(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = world()
    FakeRuntime(w).create(name="test-201", image="img:1", network="bridge", topology=topo.name)
    d = tmp_path / topo.name
    d.mkdir()
    orphan = d / ".provision.json.k1ll3d"
    orphan.write_text('{"half": ')
    engine = make(topo, w, tmp_path)
    state = engine.store.load()
    assert state is None
    from sriovcheck.provision.state import ProvisionState

    done = engine.recover(ProvisionState(topology=topo.name, host_driver="fake"))
    assert not orphan.exists()
    assert any("adopted container test-201" in line for line in done), done
    saved = engine.store.load()
    assert saved is not None and [c.name for c in saved.containers] == ["test-201"]


def test_teardown_exits_non_zero_naming_a_vf_it_cannot_find(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = world()
    make(topo, w, tmp_path).provision()
    ns = w.containers["test-200"].netns_path
    assert ns is not None
    w.ns["elsewhere"] = {"eth1": w.ns[ns].pop("eth1")}  # someone moved VF 0 into their own namespace
    w.vf_home[("eno2", 0)] = ("elsewhere", "eth1")
    with pytest.raises(ProvisionError, match="eno2 vf 0 is not home") as info:
        make(topo, w, tmp_path).teardown()
    assert "eno2 vf 1" not in info.value.message  # VF 1 came home
    assert StateStore(topo.name, tmp_path).load() is not None  # still records what is left


def test_a_vf_under_a_temporary_name_is_never_recorded_as_original(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = world()
    tmp = "sc1a2bp0v0"
    w.ns["host"][tmp] = w.ns["host"].pop("eno2v0")
    w.vf_home[("eno2", 0)] = ("host", tmp)
    with pytest.raises(ProvisionError, match="temporary name"):
        make(topo, w, tmp_path).provision()
    assert StateStore(topo.name, tmp_path).load() is None  # rolled back, nothing recorded


def test_a_full_disk_is_a_clear_error_and_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if len(data) > 10:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    target = tmp_path / "t" / "provision.json"
    with pytest.raises(StateError) as info:
        write_json_atomic(target, {"vfs": list(range(100))})
    msg = info.value.message
    assert str(target) in msg and "No space left on device" in msg and " free in " in msg and "bytes were to be written" in msg
    assert list((tmp_path / "t").iterdir()) == []
    assert remove_orphans(tmp_path / "t") == []
