"""The emulated NIC keeps its netlink sockets between calls (fabric.KeptSockets): one per namespace for
the thread that made it, a fresh one for a namespace made again under the same name, none kept for
other threads, and none left to keep a namespace (and its links) alive once they are closed."""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sriovcheck.lab import fabric

pytestmark = pytest.mark.integration


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=30)


@pytest.fixture
def names(root_required: None) -> Iterator[tuple[str, str]]:
    tag = secrets.token_hex(3)
    ns, link = f"sck-{tag}", f"sck{tag}"
    yield ns, link
    fabric.close_kept_sockets()
    run("ip", "netns", "del", ns, check=False)
    run("ip", "link", "del", link, check=False)
    assert ns not in fabric.list_namespaces()


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    opened: list[str | None] = []
    real = fabric.default_ipr_factory

    def counting(name: str | None) -> Any:
        opened.append(name)
        return real(name)

    monkeypatch.setattr(fabric, "default_ipr_factory", counting)
    return opened


def test_one_socket_per_namespace_is_kept_and_remade_with_the_namespace(
    names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns, _link = names
    run("ip", "netns", "add", ns)
    opened = _count_opens(monkeypatch)
    kept = fabric.KeptSockets()
    for _ in range(3):
        sock = kept(ns)
        assert sock.link("get", ifname="lo")[0].get("IFLA_IFNAME") == "lo"
        sock.close()  # a Handles closes what it was given: the kept socket stays open
        kept(None).link("get", ifname="lo")
    assert opened == [ns, None]

    run("ip", "netns", "del", ns)  # the same name, another namespace: not the old socket
    run("ip", "netns", "add", ns)
    run("ip", "-n", ns, "link", "add", "marker0", "type", "veth", "peer", "name", "marker1")
    assert sorted(m.get("IFLA_IFNAME") for m in kept(ns).link("dump")) == ["lo", "marker0", "marker1"]
    assert opened == [ns, None, ns]

    seen: list[Any] = []  # another thread: a socket of its own, not kept
    worker = threading.Thread(target=lambda: seen.append(kept(ns)))
    worker.start()
    worker.join()
    assert opened == [ns, None, ns, ns] and not isinstance(seen[0], type(kept(ns)))
    seen[0].close()


def test_closing_frees_the_namespace_and_its_links(names: tuple[str, str]) -> None:
    ns, link = names
    run("ip", "netns", "add", ns)
    run("ip", "link", "add", link, "type", "veth", "peer", "name", "p0", "netns", ns)
    kept = fabric.KeptSockets()
    kept(ns).link("get", ifname="p0")
    run("ip", "netns", "del", ns)  # the name is gone; our socket still holds the namespace, and the pair
    time.sleep(0.3)
    assert run("ip", "link", "show", link, check=False).returncode == 0
    fabric.close_kept_sockets()  # what `lab down` and the end of an in-process command do
    deadline = time.monotonic() + 10
    while run("ip", "link", "show", link, check=False).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run("ip", "link", "show", link, check=False).returncode != 0
    kept(None).link("get", ifname="lo")  # still usable afterwards: it opens again
