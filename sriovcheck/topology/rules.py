"""Semantic rules that span several objects of a schema-valid topology."""

from __future__ import annotations

from collections.abc import Iterable

from sriovcheck.errors import Problem
from sriovcheck.topology import names
from sriovcheck.topology.model import Topology
from sriovcheck.topology.paths import PathKey, format_path, mark_for


class _Collector:
    def __init__(self, file: str, marks: dict[PathKey, tuple[int, int]], index_map: dict[PathKey, list[int]] | None = None) -> None:
        self.file = file
        self.marks = marks
        self.problems: list[Problem] = []
        self.index_map = index_map or {}

    def _original(self, loc: PathKey) -> PathKey:
        """Positions in a partial topology (schema-invalid items left out) back to the file's."""
        out: list[str | int] = []
        for part in loc:
            kept = self.index_map.get(tuple(out))
            out.append(kept[part] if isinstance(part, int) and kept is not None and part < len(kept) else part)
        return tuple(out)

    def add(self, loc: PathKey, message: str) -> None:
        loc = self._original(loc)
        line, col = mark_for(self.marks, loc)
        self.problems.append(Problem(self.file, line, col, format_path(loc), message))


def _duplicates(items: Iterable[tuple[PathKey, object]]) -> list[tuple[PathKey, PathKey, object]]:
    """(later location, first location, value) for every repeated value."""
    first: dict[object, PathKey] = {}
    out = []
    for loc, value in items:
        if value in first:
            out.append((loc, first[value], value))
        else:
            first[value] = loc
    return out


def semantic_problems(
    t: Topology, file: str, marks: dict[PathKey, tuple[int, int]], *, index_map: dict[PathKey, list[int]] | None = None
) -> list[Problem]:
    """Rules across objects. On a partial topology (the schema failed; only valid parts kept),
    `index_map` gives each list's kept items' original positions, so that paths name the file's."""
    c = _Collector(file, marks, index_map)

    # --- host / PFs
    for loc, first, value in _duplicates((("host", "pfs", i, "name"), pf.name) for i, pf in enumerate(t.host.pfs)):
        c.add(loc, f"PF {value!r} is declared twice (first at {format_path(first)}); each PF once")
    for loc, first, value in _duplicates((("host", "pfs", i, "switch_port"), pf.switch_port) for i, pf in enumerate(t.host.pfs)):
        c.add(loc, f"switch port {value!r} is cabled to two PFs (also {format_path(first)}); one PF per switch port")

    # --- switch credentials
    if t.switch.password_env is None and t.switch.key_file is None:
        c.add(("switch",), "no credentials: set switch.password_env (name of an environment variable) or switch.key_file")

    # --- names, by the rules of the switch's platform (the fields took any platform's)
    platform = names.PLATFORM_NAMES[t.switch.platform]
    on = f"switch.platform {t.switch.platform}"
    for i, hp in enumerate(t.host.pfs):
        try:
            platform.port.check(hp.switch_port)
        except ValueError as exc:
            c.add(("host", "pfs", i, "switch_port"), f"{exc} ({on})")
    for i, v in enumerate(t.vlans):
        try:
            platform.vlan_name.check(v.name)
        except ValueError as exc:
            c.add(("vlans", i, "name"), f"{exc} ({on})")
        problem = platform.l3_interface_problem(v.l3_interface, v.id)
        if problem:
            c.add(("vlans", i, "l3_interface"), f"{problem} ({on})")

    # --- VLANs
    for loc, first, value in _duplicates((("vlans", i, "id"), v.id) for i, v in enumerate(t.vlans)):
        c.add(loc, f"VLAN id {value} is declared twice (first at {format_path(first)}); VLAN ids must be unique")
    for loc, first, value in _duplicates((("vlans", i, "name"), v.name.lower()) for i, v in enumerate(t.vlans)):
        c.add(loc, f"VLAN name {value!r} is declared twice (first at {format_path(first)}); VLAN names must be unique (Junos ignores case)")
    for loc, first, value in _duplicates((("vlans", i, "l3_interface"), v.l3_interface) for i, v in enumerate(t.vlans)):
        c.add(loc, f"L3 interface {value!r} serves two VLANs (first at {format_path(first)}); one per VLAN")
    for i, v in enumerate(t.vlans):
        net = v.subnet
        if v.gateway not in net:
            c.add(("vlans", i, "gateway"), f"gateway {v.gateway} is outside the VLAN's subnet {net}")
        elif net.prefixlen < 31 and v.gateway in (net.network_address, net.broadcast_address):
            which = "network" if v.gateway == net.network_address else "broadcast"
            c.add(("vlans", i, "gateway"), f"gateway {v.gateway} is the {which} address of {net}; use a host address")

    # Overlapping subnets in O(n log n): CIDR blocks are either nested or disjoint, so a sweep in
    # address order keeps a stack of the blocks that enclose the current one; each is an overlap.
    order = sorted(range(len(t.vlans)), key=lambda k: (int(t.vlans[k].subnet.network_address), t.vlans[k].subnet.prefixlen, k))
    enclosing: list[tuple[int, int]] = []  # (last address, vlan index)
    for k in order:
        net = t.vlans[k].subnet
        start = int(net.network_address)
        while enclosing and enclosing[-1][0] < start:
            enclosing.pop()
        for _end, j in enclosing:
            lo, hi = (j, k) if j < k else (k, j)
            c.add(
                ("vlans", hi, "subnet"),
                f"subnet {t.vlans[hi].subnet} overlaps VLAN {t.vlans[lo].id}'s subnet "
                f"{t.vlans[lo].subnet} (vlans[{lo}]); each VLAN needs its own subnet",
            )
        enclosing.append((int(net.broadcast_address), k))

    pfs = {pf.name: pf for pf in t.host.pfs}
    vlans = {v.id: v for v in t.vlans}

    # --- containers and their VFs
    for loc, first, value in _duplicates((("containers", i, "name"), ct.name) for i, ct in enumerate(t.containers)):
        c.add(loc, f"container name {value!r} is used twice (first at {format_path(first)}); container names must be unique")

    seen_vf: dict[tuple[str, int], PathKey] = {}
    seen_addr: dict[object, PathKey] = {}
    seen_mac: dict[str, PathKey] = {}
    for ci, ct in enumerate(t.containers):
        seen_if: dict[str, PathKey] = {}
        for vi, vf in enumerate(ct.vfs):
            base: PathKey = ("containers", ci, "vfs", vi)
            if vf.ifname in seen_if:
                c.add(
                    (*base, "ifname"),
                    f"ifname {vf.ifname!r} is used twice in container {ct.name!r} (first at {format_path(seen_if[vf.ifname])})",
                )
            else:
                seen_if[vf.ifname] = (*base, "ifname")
            if vf.ifname == "lo" or (vf.ifname == "eth0" and ct.network != "none"):
                taken_by = "loopback" if vf.ifname == "lo" else f"eth0 on network {ct.network!r}"
                c.add((*base, "ifname"), f"ifname {vf.ifname!r} is taken inside the container (docker's {taken_by}); use e.g. eth1")
            pf = pfs.get(vf.pf)
            if pf is None:
                c.add((*base, "pf"), f"PF {vf.pf!r} is not declared under host.pfs (declared: {', '.join(sorted(pfs)) or 'none'})")
            elif vf.vf >= pf.numvfs:
                c.add(
                    (*base, "vf"),
                    f"VF index {vf.vf} does not exist on {pf.name}, which gets numvfs {pf.numvfs}: allowed 0..{pf.numvfs - 1}",
                )
            key = (vf.pf, vf.vf)
            if key in seen_vf:
                c.add((*base, "vf"), f"VF {vf.vf} of {vf.pf} is already given to {format_path(seen_vf[key])}; a VF can go to one container")
            else:
                seen_vf[key] = base
            vlan = vlans.get(vf.vlan)
            if vlan is None:
                c.add(
                    (*base, "vlan"),
                    f"VLAN {vf.vlan} is not declared under vlans (declared: {', '.join(str(v) for v in sorted(vlans)) or 'none'})",
                )
            else:
                addr = vf.address
                net = vlan.subnet
                if addr.ip not in net:
                    c.add((*base, "address"), f"address {addr.ip} is outside VLAN {vlan.id}'s subnet {net}")
                elif addr.network != net:
                    c.add(
                        (*base, "address"),
                        f"prefix /{addr.network.prefixlen} differs from VLAN {vlan.id}'s subnet {net}: use {addr.ip}/{net.prefixlen}",
                    )
                elif addr.ip == vlan.gateway:
                    c.add((*base, "address"), f"address {addr.ip} is VLAN {vlan.id}'s gateway; give the VF a host address of its own")
                elif net.prefixlen < 31 and addr.ip in (net.network_address, net.broadcast_address):
                    which = "network" if addr.ip == net.network_address else "broadcast"
                    c.add((*base, "address"), f"address {addr.ip} is the {which} address of {net}")
            if vf.address.ip in seen_addr:
                c.add((*base, "address"), f"address {vf.address.ip} is already used at {format_path(seen_addr[vf.address.ip])}")
            else:
                seen_addr[vf.address.ip] = (*base, "address")
            if vf.mac is not None:
                if vf.mac in seen_mac:
                    c.add((*base, "mac"), f"MAC {vf.mac} is already used at {format_path(seen_mac[vf.mac])}; MACs must be unique")
                else:
                    seen_mac[vf.mac] = (*base, "mac")
            if vf.max_tx_rate_mbps and vf.min_tx_rate_mbps > vf.max_tx_rate_mbps:
                c.add(
                    (*base, "min_tx_rate_mbps"), f"min_tx_rate_mbps {vf.min_tx_rate_mbps} is above max_tx_rate_mbps {vf.max_tx_rate_mbps}"
                )
    if t.handover is not None:
        targets = {f"{ct.name}/{vf.ifname}" for ct in t.containers for vf in ct.vfs}
        targets |= {f"{t.host.name}:{pf.name}" for pf in t.host.pfs} | {t.switch.name}
        for i, w in enumerate(t.handover.waivers):
            if w.check not in names.CHECK_KINDS:
                c.add(("handover", "waivers", i, "check"), f"unknown check {w.check!r}; one of {', '.join(names.CHECK_KINDS)}")
            if w.target not in targets:
                shown = ", ".join(sorted(targets)[:6]) + (" ..." if len(targets) > 6 else "")
                c.add(("handover", "waivers", i, "target"), f"target {w.target!r} is not in this topology; e.g. {shown}")
    return c.problems
