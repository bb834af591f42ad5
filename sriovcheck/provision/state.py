"""The provisioning state file: what each VF looked like before sriovcheck changed it, and
what this host now has because of sriovcheck. Teardown restores from it, because a VF inside
a container is no longer visible under its PF in the host's view."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sriovcheck.errors import StateError
from sriovcheck.statefiles import fsync_dir, read_json, topology_dir, write_json_atomic

STATE_VERSION = 1


@dataclass
class VfRecord:
    pf: str
    vf: int
    pci_address: str | None
    original_netdev: str
    original_config: dict[str, Any]
    original_mtu: int | None
    original_mac: str | None  # the netdev's MAC before anything changed
    attached: bool = False
    container: str | None = None
    ifname: str | None = None
    mac: str | None = None  # the netdev's MAC when it went into the container

    @property
    def key(self) -> tuple[str, int]:
        return (self.pf, self.vf)


@dataclass
class ContainerRecord:
    name: str
    id: str
    created_by_us: bool


@dataclass
class ProvisionState:
    topology: str
    host_driver: str
    numvfs_original: dict[str, int] = field(default_factory=dict)  # PF -> count before we changed it
    vfs: list[VfRecord] = field(default_factory=list)
    containers: list[ContainerRecord] = field(default_factory=list)
    # The journal of steps under way: each step writes what it is about to do (with the temporary
    # names it will use) before doing it, and removes the entry in the same write that records the
    # result. An entry found on load is a step a killed run left half-done: recovery settles it.
    intents: list[dict[str, Any]] = field(default_factory=list)
    schema_version: int = STATE_VERSION

    def vf(self, pf: str, vf: int) -> VfRecord | None:
        return next((r for r in self.vfs if r.key == (pf, vf)), None)

    def container(self, name: str) -> ContainerRecord | None:
        return next((c for c in self.containers if c.name == name), None)

    def is_empty(self) -> bool:
        return not (self.numvfs_original or self.vfs or self.containers or self.intents)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> ProvisionState:
        if not isinstance(data, dict) or data.get("schema_version") != STATE_VERSION:
            version = data.get("schema_version") if isinstance(data, dict) else None
            raise StateError(
                f"state file {path} has schema_version {version!r}; this sriovcheck reads {STATE_VERSION}",
                hint="tear down with the sriovcheck version that provisioned, or move the file away and clean up by hand",
            )
        try:
            return cls(
                topology=data["topology"],
                host_driver=data["host_driver"],
                numvfs_original={str(k): int(v) for k, v in data.get("numvfs_original", {}).items()},
                vfs=[VfRecord(**r) for r in data.get("vfs", [])],
                containers=[ContainerRecord(**c) for c in data.get("containers", [])],
                intents=[dict(i) for i in data.get("intents", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"state file {path} is not a valid sriovcheck state file: {exc}",
                             hint=f"move it away ({path}.bad) and clean up by hand") from exc


class StateStore:
    def __init__(self, topology: str, root: Path | None = None) -> None:
        self.topology = topology
        self.path = topology_dir(topology, root) / "provision.json"

    def load(self) -> ProvisionState | None:
        data = read_json(self.path)
        return None if data is None else ProvisionState.from_dict(data, self.path)

    def save(self, state: ProvisionState) -> None:
        write_json_atomic(self.path, state.to_dict())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
