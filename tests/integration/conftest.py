"""Integration tests: root, network namespaces and the docker engine.

In CI (CI=true) a missing prerequisite is a failure, never a skip. Every integration test
module is checked for leaks (per module, so that a module can share one lab): namespaces,
root-namespace links, containers and processes that were not there before it must be gone after it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest


def _need(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"integration prerequisite missing in CI: {what}")
    pytest.skip(f"needs {what}")


def _docker_ok() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
        return True
    except Exception:
        return False


@pytest.fixture
def root_required() -> None:
    _need(os.geteuid() == 0, "root")


@pytest.fixture
def docker_required(root_required: None) -> None:
    _need(_docker_ok(), "a running docker engine (/var/run/docker.sock)")


def _lines(cmd: list[str]) -> set[str]:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip() for line in out.splitlines() if line.strip()}


def machine_picture() -> dict[str, set[str]]:
    links = {line.split(":")[1].strip().split("@")[0] for line in _lines(["ip", "-o", "link", "show"]) if ":" in line}
    return {
        "namespaces": {line.split()[0] for line in _lines(["ip", "netns", "list"])},
        "links": links,
        "containers": _lines(["docker", "ps", "-a", "--format", "{{.Names}}"]) if os.path.exists("/var/run/docker.sock") else set(),
        # `flock /tmp/sriovcheck-integration.lock ...`: another session queueing for the machine, never a test's child
        "processes": {
            line for line in _lines(["ps", "-eo", "pid,args"])
            if "sriovcheck" in line and "pytest" not in line and " ps " not in line and line.split(None, 1)[-1].split()[0] != "flock"
        },
    }


@pytest.fixture(autouse=True, scope="module")
def _leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    # Module scope: a module may share one lab between its tests; after the module, nothing may remain.
    if os.geteuid() != 0:
        yield
        return
    before = machine_picture()
    yield
    after = machine_picture()
    leaks = {k: sorted(after[k] - before[k]) for k in before if after[k] - before[k]}
    # docker's own veths for containers come and go with the engine; only ours matter
    if "links" in leaks:
        leaks["links"] = [x for x in leaks["links"] if not x.startswith("veth")]
        if not leaks["links"]:
            del leaks["links"]
    if leaks:
        pytest.fail(f"{request.node.nodeid} left things behind: {leaks}")
