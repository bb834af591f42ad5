"""The container-runtime seam. `sriovcheck.containers.docker_runtime` implements it with the docker SDK."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

LABEL_MANAGED = "io.sriovcheck.managed"  # "true" on every container sriovcheck created
LABEL_TOPOLOGY = "io.sriovcheck.topology"  # the topology name


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    id: str
    image: str
    running: bool
    pid: int | None  # PID of the container's init in the host PID namespace, when running
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def netns_path(self) -> str | None:
        return f"/proc/{self.pid}/ns/net" if self.running and self.pid else None

    def managed_by(self, topology: str) -> bool:
        return self.labels.get(LABEL_MANAGED) == "true" and self.labels.get(LABEL_TOPOLOGY) == topology


@runtime_checkable
class ContainerRuntime(Protocol):
    def engine_version(self) -> str:
        """Raise ContainerError (with what to do) when the engine is not reachable."""
        ...

    def get(self, name: str) -> ContainerInfo | None: ...

    def create(self, *, name: str, image: str, network: str, topology: str, command: list[str] | None = None) -> ContainerInfo:
        """Create and start a container labelled as sriovcheck's for `topology`."""
        ...

    def start(self, name: str) -> ContainerInfo: ...

    def remove(self, name: str) -> None:
        """Force-remove; no error when it does not exist."""
        ...

    def has_image(self, image: str) -> bool: ...
