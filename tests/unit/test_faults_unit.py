"""Faults that need no root: damaged results.json and state files, and a report directory that
fills up or refuses the final rename. Each one must end in a sriovcheck error that names the file
and says what to do (never a stray exception, never a half-written file)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.errors import ReportError, StateError
from sriovcheck.provision.engine import Provisioner
from sriovcheck.provision.state import STATE_VERSION, StateStore
from sriovcheck.report import writer
from sriovcheck.topology import load_topology
from sriovcheck.topology.model import Topology
from sriovcheck.verify.results import RunResults
from tests.unit.fakes import FakeHost, FakeNetns, FakeRuntime, FakeWorld

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "data" / "results" / "seed-lab-pass.json"
SEED = ROOT / "topologies" / "seed-lab.yaml"


def results_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RESULTS.read_text())
    return data


def listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


# ------------------------------------------------------------------ results.json

@pytest.mark.parametrize("status", ["maybe", "PASS", "", None, 1])
def test_results_with_an_unknown_status_are_refused_naming_the_check(status: object) -> None:
    data = results_data()
    data["checks"][2]["status"] = status
    with pytest.raises(ValueError, match=r"checks\[2\]\.status is .*; one of pass, fail, error, skip expected"):
        RunResults.from_json(json.dumps(data))


@pytest.mark.parametrize("version", [0, 3, "1", None])
def test_results_of_another_version_are_refused_with_both_versions(version: object) -> None:
    data = results_data()
    data["schema_version"] = version
    with pytest.raises(ValueError, match=rf"results schema_version {version!r} is not supported \(this sriovcheck reads 1, 2\)"):
        RunResults.from_json(json.dumps(data))


def test_results_without_a_version_are_refused() -> None:
    data = results_data()
    del data["schema_version"]
    with pytest.raises(ValueError, match="results schema_version None is not supported"):
        RunResults.from_json(json.dumps(data))


@pytest.mark.parametrize("cut", [1, 100, 5000, -2])
def test_truncated_results_json_is_a_report_error_naming_the_file(cut: int, tmp_path: Path) -> None:
    text = RESULTS.read_text()
    src = tmp_path / "results.json"
    src.write_text(text[:cut])
    with pytest.raises(ReportError) as info:
        writer.load_results(src)
    assert info.value.message.startswith(f"{src}:") and "not valid JSON" in info.value.message
    assert info.value.hint is not None and "sriovcheck verify" in info.value.hint


# ------------------------------------------------------------------ the report directory fills up

@pytest.fixture
def previous_reports(tmp_path: Path) -> dict[str, str]:
    old = {"results.json": '{"old": true}\n', "report.html": "<p>old</p>\n", "junit.xml": "<testsuites/>\n"}
    for name, text in old.items():
        (tmp_path / name).write_text(text)
    return old


def failing_replace(monkeypatch: pytest.MonkeyPatch, on_call: int, code: int = errno.ENOSPC) -> list[str]:
    real = os.replace
    calls: list[str] = []

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(str(dst))
        if len(calls) == on_call:
            raise OSError(code, os.strerror(code))
        real(src, dst)

    monkeypatch.setattr("sriovcheck.report.writer.os.replace", replace)
    return calls


@pytest.mark.parametrize(("code", "hint"), [(errno.ENOSPC, "free space on the filesystem"), (errno.EROFS, "writable")])
def test_full_disk_at_the_first_rename_keeps_the_previous_reports(
    code: int, hint: str, tmp_path: Path, previous_reports: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = failing_replace(monkeypatch, 1, code)
    with pytest.raises(ReportError) as info:
        writer.write_reports(RunResults.from_json(RESULTS.read_text()), tmp_path)
    assert calls == [str(tmp_path / "results.json")]
    assert info.value.message == f"could not write {tmp_path / 'results.json'}: {os.strerror(code)}"
    assert info.value.hint is not None and hint in info.value.hint and str(tmp_path) in info.value.hint
    assert listing(tmp_path) == sorted(previous_reports)  # no temporary file left
    assert {n: (tmp_path / n).read_text() for n in previous_reports} == previous_reports


def test_full_disk_at_a_later_rename_keeps_the_previous_reports(
    tmp_path: Path, previous_reports: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_replace(monkeypatch, 2)
    with pytest.raises(ReportError, match=r"could not write .*report\.html: No space left on device"):
        writer.write_reports(RunResults.from_json(RESULTS.read_text()), tmp_path)
    assert listing(tmp_path) == sorted(previous_reports)
    # The docstring's promise: a full disk leaves the previous reports untouched, as one set.
    assert {n: (tmp_path / n).read_text() for n in previous_reports} == previous_reports


def test_report_directory_that_cannot_hold_a_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_room(*args: Any, **kwargs: Any) -> tuple[int, str]:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("sriovcheck.report.writer.tempfile.mkstemp", no_room)
    with pytest.raises(ReportError, match=r"could not write .*results\.json: No space left on device") as info:
        writer.write_reports(RunResults.from_json(RESULTS.read_text()), tmp_path / "new")
    assert info.value.hint is not None and "another directory" in info.value.hint
    assert listing(tmp_path / "new") == []


# ------------------------------------------------------------------ the provisioning state file

@pytest.fixture
def topo() -> Topology:
    return load_topology(SEED).topology


def engine(topo: Topology, w: FakeWorld, store: StateStore) -> Provisioner:
    netns: Any = FakeNetns(w)  # structurally a NetnsOps; its Link is a LinkLike
    return Provisioner(topo, host=FakeHost(w), runtime=FakeRuntime(w), netns=netns, store=store, image_override="img:1")


@pytest.fixture
def provisioned(topo: Topology, tmp_path: Path) -> tuple[FakeWorld, StateStore, str]:
    """A provisioned fake host, its store and the text of its (good) state file."""
    w = FakeWorld({"eno2": 0})
    store = StateStore(topo.name, tmp_path)
    engine(topo, w, store).provision()
    return w, store, store.path.read_text()


def world_picture(w: FakeWorld) -> object:
    return (repr(w.ns), dict(w.numvfs), dict(w.config), sorted(w.containers))


def test_every_truncation_of_a_state_file_is_a_state_error_naming_it(provisioned: tuple[FakeWorld, StateStore, str]) -> None:
    _, store, text = provisioned
    assert len(text) > 500
    for cut in range(len(text.rstrip())):
        store.path.write_text(text[:cut])
        with pytest.raises(StateError) as info:
            store.load()
        assert str(store.path) in info.value.message, cut
        assert "truncated" in info.value.message, cut
        assert info.value.hint is not None and f"mv {store.path} {store.path}.bad" in info.value.hint, cut


@pytest.mark.parametrize("version", [0, 2, None, "1"])
def test_state_file_of_another_version_is_refused_with_what_to_do(version: object, provisioned: tuple[FakeWorld, StateStore, str]) -> None:
    _, store, text = provisioned
    data = json.loads(text)
    data["schema_version"] = version
    store.path.write_text(json.dumps(data))
    with pytest.raises(StateError) as info:
        store.load()
    assert info.value.message == f"state file {store.path} has schema_version {version!r}; this sriovcheck reads {STATE_VERSION}"
    assert info.value.hint is not None and "tear down with the sriovcheck version that provisioned" in info.value.hint


@pytest.mark.parametrize(
    ("updates", "drop"),
    [
        ({"vfs": [{"pf": "eno2"}]}, None),
        ({"vfs": "eno2"}, None),
        ({"vfs": [1]}, None),
        ({"containers": None}, None),
        ({"numvfs_original": {"eno2": "eight"}}, None),
        ({}, "topology"),
    ],
    ids=["vf-missing-keys", "vfs-text", "vfs-number", "containers-null", "numvfs-text", "no-topology"],
)
def test_state_file_with_wrong_shapes_is_a_state_error(
    updates: dict[str, Any], drop: str | None, provisioned: tuple[FakeWorld, StateStore, str]
) -> None:
    _, store, text = provisioned
    data = json.loads(text)
    data.update(updates)
    if drop:
        del data[drop]
    store.path.write_text(json.dumps(data))
    with pytest.raises(StateError) as info:
        store.load()
    assert f"state file {store.path} is not a valid sriovcheck state file" in info.value.message
    assert info.value.hint is not None and f"{store.path}.bad" in info.value.hint


def test_state_file_that_is_not_text_says_what_to_do(provisioned: tuple[FakeWorld, StateStore, str]) -> None:
    _, store, text = provisioned
    store.path.write_bytes(text.encode()[:200] + b"\xff\xfe\x00garbage")
    with pytest.raises(StateError) as info:
        store.load()
    assert str(store.path) in info.value.message
    assert info.value.hint is not None and str(store.path) in info.value.hint


@pytest.mark.parametrize("what", ["truncated", "version-0"])
def test_teardown_and_provision_refuse_a_damaged_state_file_and_change_nothing(
    what: str, topo: Topology, provisioned: tuple[FakeWorld, StateStore, str]
) -> None:
    w, store, text = provisioned
    damaged = text[: len(text) // 2] if what == "truncated" else text.replace(f'"schema_version": {STATE_VERSION}', '"schema_version": 0')
    assert damaged != text
    store.path.write_text(damaged)
    before = world_picture(w)
    calls = list(w.calls)
    e = engine(topo, w, store)
    for run in (e.teardown, e.provision):
        with pytest.raises(StateError, match=str(store.path)):
            run()
    assert world_picture(w) == before and w.calls == calls
    assert store.path.read_text() == damaged  # the evidence is kept for the user to inspect
