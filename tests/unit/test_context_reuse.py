"""Two commands in one process (`fleet traffic --provision`, `fleet verify --teardown`) build the
context once where building it again would find the same (workflow.context_of), and again where it
would not: a lab of its own, which teardown repairs and verify only observes."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from sriovcheck import workflow
from sriovcheck.fleet.example import rack_host_topology
from sriovcheck.topology import load_text


def _ctx(loaded: Any, *, lab: bool, rack_member: bool) -> workflow.Context:
    return workflow.Context(loaded, lab, host=object(), runtime=object(), netns=object(),  # type: ignore[arg-type]
                            image_override=None, rack_member=rack_member)


@pytest.mark.parametrize(("lab", "rack_member", "builds"), [
    (False, False, 1),  # a real host: drivers and a docker client, nothing that a second look would change
    (True, True, 1),  # a host of an emulated rack: the same short look at the rack's lab each time
    (True, False, 2),  # a lab of its own: teardown looks again (and repairs what verify only observed)
])
def test_a_second_command_reuses_the_context_only_where_it_would_find_the_same(
    monkeypatch: pytest.MonkeyPatch, lab: bool, rack_member: bool, builds: int
) -> None:
    loaded = load_text(rack_host_topology(2, vfs=2), file="node02.yaml")
    calls: list[dict[str, Any]] = []

    def build(loaded_: Any, **kw: Any) -> workflow.Context:
        calls.append(kw)
        return _ctx(loaded_, lab=kw["lab"], rack_member=rack_member)

    monkeypatch.setattr(workflow, "build_context", build)
    args = argparse.Namespace(lab=lab)
    first = workflow.context_of(args, loaded, progress=lambda _m: None, repair_lab=False)
    second = workflow.context_of(args, loaded, progress=lambda _m: None)
    assert len(calls) == builds
    assert (second is first) == (builds == 1)
    assert calls[0]["repair_lab"] is False
    if builds == 2:
        assert calls[1]["repair_lab"] is True and calls[1]["bring_lab_up"] is True  # teardown's own look


def test_another_topology_or_mode_builds_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []

    def build(loaded_: Any, **kw: Any) -> workflow.Context:
        built.append(loaded_)
        return _ctx(loaded_, lab=kw["lab"], rack_member=True)

    monkeypatch.setattr(workflow, "build_context", build)
    a = load_text(rack_host_topology(2, vfs=2), file="node02.yaml")
    b = load_text(rack_host_topology(3, vfs=2), file="node03.yaml")
    args = argparse.Namespace(lab=True)
    workflow.context_of(args, a, progress=lambda _m: None)
    workflow.context_of(args, b, progress=lambda _m: None)  # another topology
    args.lab = False
    workflow.context_of(args, b, progress=lambda _m: None)  # another mode
    assert built == [a, b, b]
