"""The emulated rack: several hosts' PFs cabled to ONE emulated switch, on different ports of it.

Part of the emulated lab: a rack is one ordinary lab (one NIC namespace, one switch
namespace, one Junos emulator) built from a topology merged out of the hosts' topologies that name
the same switch. Every host topology then runs in lab mode against that shared lab: the emulated host
driver only touches the PFs its own topology names, and the switch shows every host's MACs on their
own ports, as a real top-of-rack switch does. The PFs live in this machine's root namespace, so the
hosts' PF names must differ (and their switch ports, and their container names, since they share one
docker engine).

Which lab a host topology uses is recorded in the rack's lab directory (`rack.json`), so that
separate processes (one `sriovcheck run --lab` per host, e.g. from Ansible) find the shared lab;
`lab down` of the rack removes that record with the lab.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriovcheck.errors import LabError, UsageError
from sriovcheck.topology.load import LoadedTopology
from sriovcheck.topology.model import Host, Topology

RACK_FILE = "rack.json"
LOGINS_FILE = "logins.jsonl"  # one line per accepted switch login, written by the emulator


@dataclass(frozen=True)
class Rack:
    name: str  # the shared lab's name (a topology name)
    switch: str
    members: dict[str, str]  # host topology name -> its file


def rack_name(switch_name: str) -> str:
    """A lab name for the rack of a switch: `rack-<switch>`, shortened with a hash when needed."""
    slug = re.sub(r"[^a-z0-9-]+", "-", switch_name.lower()).strip("-") or "switch"
    name = f"rack-{slug}"
    if len(name) > 32:
        name = f"rack-{slug[:18].rstrip('-')}-{hashlib.sha256(switch_name.encode()).hexdigest()[:8]}"
    return name


def group_by_switch(loaded: list[LoadedTopology]) -> dict[str, list[LoadedTopology]]:
    """Host topologies grouped by the switch they name (name and management address)."""
    groups: dict[str, list[LoadedTopology]] = {}
    for item in loaded:
        groups.setdefault(item.topology.switch.name, []).append(item)
    return groups


def _clash(what: str, value: object, first: LoadedTopology, second: LoadedTopology, hint: str) -> UsageError:
    return UsageError(f"{second.file}: {what} {value} is also in {first.file}; hosts of one rack cannot share it", hint=hint)


def merge(name: str, members: list[LoadedTopology]) -> Topology:
    """One lab topology holding every member's PFs and the union of their VLANs. Refuses what cannot
    share one switch and one machine: different switch settings, a VLAN defined differently, a PF name,
    switch port or container name used twice, a topology name used twice."""
    if not members:
        raise UsageError("an emulated rack needs at least one topology")
    first = members[0]
    sw = first.topology.switch
    pfs: dict[str, LoadedTopology] = {}
    ports: dict[str, LoadedTopology] = {}
    containers: dict[str, LoadedTopology] = {}
    names: dict[str, LoadedTopology] = {}
    vlans: dict[int, tuple[Any, LoadedTopology]] = {}
    for item in members:
        t = item.topology
        if t.name in names:
            raise _clash("topology name", t.name, names[t.name], item, "give each host's topology its own name")
        names[t.name] = item
        if t.name == name:
            raise UsageError(f"{item.file}: topology name {t.name} is the rack's own lab name", hint="rename the topology")
        other = t.switch
        if (other.username, other.password_env, other.host, other.port) != (sw.username, sw.password_env, sw.host, sw.port) \
                or t.lab.switch_style != first.topology.lab.switch_style:
            raise UsageError(
                f"{item.file}: switch {other.name} is described differently than in {first.file} "
                "(host, port, username, password_env or lab.switch_style)",
                hint="the hosts of one rack name the same switch the same way",
            )
        for pf in t.host.pfs:
            if pf.name in pfs:
                raise _clash("PF", pf.name, pfs[pf.name], item,
                             "emulated hosts share this machine's root namespace: give each host's PFs their own names")
            if pf.switch_port in ports:
                raise _clash("switch port", pf.switch_port, ports[pf.switch_port], item, "cable each PF to its own port")
            pfs[pf.name], ports[pf.switch_port] = item, item
        for c in t.containers:
            if c.name in containers:
                raise _clash("container name", c.name, containers[c.name], item,
                             "emulated hosts share one docker engine: give each host's containers their own names")
            containers[c.name] = item
        for v in t.vlans:
            seen = vlans.get(v.id)
            if seen is not None and seen[0].model_dump() != v.model_dump():
                raise UsageError(
                    f"{item.file}: VLAN {v.id} is defined differently than in {seen[1].file}",
                    hint="a VLAN of one switch has one name, subnet, gateway and L3 interface",
                )
            vlans.setdefault(v.id, (v, item))
    all_pfs = [pf for item in members for pf in item.topology.host.pfs]
    all_containers = [c for item in members for c in item.topology.containers]
    return first.topology.model_copy(update={
        "name": name,
        "description": f"Emulated rack of {len(members)} hosts on switch {sw.name}",
        "host": Host.model_construct(name=name, pfs=all_pfs),
        "vlans": [v for v, _ in sorted(vlans.values(), key=lambda x: x[0].id)],
        "containers": all_containers,
        "handover": None,
    })


def _state_root(state_root: Path | str | None) -> Path:
    from sriovcheck.lab import state as lab_state

    return Path(state_root) if state_root is not None else lab_state.state_root()


def _rack_file(name: str, state_root: Path | str | None = None) -> Path:
    from sriovcheck.lab import state as lab_state

    return lab_state.lab_dir(name, state_root) / RACK_FILE


def load_rack(name: str, state_root: Path | str | None = None) -> Rack | None:
    try:
        data = json.loads(_rack_file(name, state_root).read_text())
        return Rack(str(data["name"]), str(data["switch"]), {str(k): str(v) for k, v in dict(data["members"]).items()})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def rack_lab_of(topology_name: str, state_root: Path | str | None = None) -> str | None:
    """The rack lab that `topology_name` is a member of, if any (read from the racks that are up)."""
    root = _state_root(state_root)
    try:
        candidates = sorted(root.glob(f"rack-*/lab/{RACK_FILE}"))
    except OSError:
        return None
    for path in candidates:
        rack = load_rack(path.parent.parent.name, state_root)
        if rack is not None and topology_name in rack.members:
            return rack.name
    return None


def _save_rack(rack: Rack, state_root: Path | str | None) -> None:
    path = _rack_file(rack.name, state_root)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"name": rack.name, "switch": rack.switch, "members": rack.members}, indent=2) + "\n")
    os.replace(tmp, path)


def rack_up(loaded: list[LoadedTopology], *, state_root: Path | str | None = None) -> list[tuple[Rack, Any]]:
    """Bring up one shared lab per switch the topologies name; returns each rack and its lab status."""
    from sriovcheck.lab import manager

    out = []
    for switch, given in group_by_switch(loaded).items():
        name = rack_name(switch)
        # Ports and kernel links are numbered by position: the same hosts in any order are the same rack.
        members = sorted(given, key=lambda m: m.topology.name)
        for item in members:
            other = rack_lab_of(item.topology.name, state_root)
            if other is not None and other != name:
                raise UsageError(f"{item.file}: topology {item.topology.name} is already in the emulated rack {other}",
                                 hint=f"bring that rack down first: sriovcheck lab down ... (its members), or lab down {other}")
        existing = load_rack(name, state_root)
        wanted = {m.topology.name: m.file for m in members}
        if existing is not None and set(existing.members) != set(wanted):
            raise LabError(
                f"the emulated rack {name} of switch {switch} is up with other hosts: {', '.join(sorted(existing.members))}",
                hint="bring it down with `sriovcheck lab down` and its topologies, then up again with the new set",
            )
        # Each PF's LLDP announces its own host (a rack's hosts are separate machines), not the rack.
        owners = {pf.name: m.topology.host.name for m in members for pf in m.topology.host.pfs}

        def name_hosts(st: Any, owners: dict[str, str] = owners) -> None:
            for pf in st.pfs:
                pf.lldp_host = owners.get(pf.name)

        # one reconcile and one status read of the shared lab (both grow with the rack)
        status = manager.lab_up(merge(name, members), state_root=state_root, prepare=name_hosts)
        rack = Rack(name, switch, wanted)
        _save_rack(rack, state_root)
        out.append((rack, status))
    return out


def rack_down(loaded: list[LoadedTopology], *, state_root: Path | str | None = None) -> list[str]:
    """Remove the shared lab of every switch the topologies name (with its record)."""
    from sriovcheck.lab import manager

    removed: list[str] = []
    for switch in group_by_switch(loaded):
        removed += manager.lab_down(rack_name(switch), state_root=state_root)
    return removed


def login_count(lab_name: str, state_root: Path | str | None = None) -> int:
    """Accepted logins to the lab's emulated switch since it came up (the emulator writes one line each)."""
    from sriovcheck.lab import state as lab_state

    try:
        text = (lab_state.lab_dir(lab_name, state_root) / LOGINS_FILE).read_text()
    except FileNotFoundError:
        return 0
    return sum(1 for line in text.splitlines() if line.strip())


def logins(lab_name: str, state_root: Path | str | None = None) -> list[dict[str, Any]]:
    from sriovcheck.lab import state as lab_state

    try:
        text = (lab_state.lab_dir(lab_name, state_root) / LOGINS_FILE).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
