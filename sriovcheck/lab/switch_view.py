"""The live switch, as the Junos emulator shows it: built from the switch namespace's kernel state.

Each `snapshot()` reads the lab state file (the fabric map, faults) and dumps the switch namespace
once per kind (links, IPv4 addresses, bridge FDB, IPv4 neighbours), never once per entry:
- learned MACs: dynamic FDB entries of the VLAN bridges `vl<v>` on cable ports `s<i>v<v>`, shown on
  `<switch_port>.0` with their real age (NDA_CACHEINFO `updated`, in centiseconds);
- ARP: the VLAN bridges' neighbour tables (the bridge is the L3 interface vlan.N / irb.N);
- VLAN members: the ports whose cable end is plugged into the VLAN's bridge (a removed VLAN is not);
- a port's physical MTU: its cables' kernel MTU plus the 14-byte Ethernet header (`port-mtu` faults);
- LLDP: the host runs an agent as lldpd would, announcing on each PF with its link up: System Name =
  the topology's host name, chassis id and port id = the PF's MAC (lldpd takes the chassis MAC from a
  host interface; the PF's is the one the switch can know), port description = the PF's name. A PF
  whose agent is stopped (`lldp-off`, as NIC firmware LLDP agents that swallow the frames do) or whose
  port is down has no neighbour: immediately, where a real switch waits for the hold time (120 s).
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sriovcheck.lab import state as lab_state
from sriovcheck.lab.fabric import (
    AF_INET,
    ETH_HLEN,
    IFF_UP,
    NETNS_RUN_DIR,
    IprFactory,
    cable_sw,
    default_ipr_factory,
    switch_port_mac,
)
from sriovcheck.lab.junos.view import (
    ArpView,
    Background,
    InterfaceView,
    LldpView,
    MacView,
    ServerFaults,
    SwitchSnapshot,
    VlanView,
)
from sriovcheck.lab.state import LabState

NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
NUD_RESOLVED = 0x02 | 0x04 | 0x08 | 0x10 | 0x80  # reachable, stale, delay, probe, permanent
NTF_SELF = 0x02
USER_HZ = 100  # the kernel reports FDB ages in clock ticks of USER_HZ



@dataclass
class KernelDump:
    """What one snapshot reads from the switch namespace, decoded; empty when the namespace is gone."""

    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> index/up/carrier/master/mac/mtu
    addrs: dict[int, list[str]] = field(default_factory=dict)  # ifindex -> IPv4 CIDRs
    fdb: list[tuple[int, int, str, int]] = field(default_factory=list)  # (ifindex, master, mac, age_cs)
    neigh: list[tuple[int, str, str]] = field(default_factory=list)  # (ifindex, ip, mac)


def read_links(ipr: Any) -> dict[str, dict[str, Any]]:
    """name -> index/up/carrier/master/mac/mtu of every link of the namespace `ipr` is in."""
    return {
        msg.get("IFLA_IFNAME"): {
            "index": msg["index"],
            "up": bool(msg["flags"] & IFF_UP),
            "carrier": msg.get("IFLA_CARRIER") == 1,
            "master": msg.get("IFLA_MASTER") or None,
            "mac": msg.get("IFLA_ADDRESS"),
            "mtu": msg.get("IFLA_MTU"),
        }
        for msg in ipr.link("dump")
    }


def read_ipv4_addrs(ipr: Any) -> dict[int, list[str]]:
    addrs: dict[int, list[str]] = {}
    for msg in ipr.addr("dump", family=AF_INET):
        addrs.setdefault(msg["index"], []).append(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
    return addrs


def read_arp(ipr: Any) -> list[tuple[int, str, str]]:
    """(ifindex, ip, mac) of every resolved IPv4 neighbour: the switch's ARP table."""
    out = []
    for msg in ipr.neigh("dump", family=AF_INET):
        mac = msg.get("NDA_LLADDR")
        if not mac or not msg["state"] & NUD_RESOLVED or msg["state"] & NUD_NOARP:
            continue
        out.append((msg["ifindex"], str(msg.get("NDA_DST")), str(mac).lower()))
    return out


def read_switch_namespace(ipr: Any) -> KernelDump:
    dump = KernelDump(links=read_links(ipr), addrs=read_ipv4_addrs(ipr))
    for msg in ipr.fdb("dump"):
        master = msg.get("NDA_MASTER")
        if not master or msg["state"] & NUD_PERMANENT or msg["flags"] & NTF_SELF:
            continue
        cache = msg.get("NDA_CACHEINFO") or {}
        dump.fdb.append((msg["ifindex"], master, str(msg.get("NDA_LLADDR")).lower(), int(cache.get("ndm_updated", 0))))
    dump.neigh = read_arp(ipr)
    return dump


def build_snapshot(state: LabState, dump: KernelDump) -> SwitchSnapshot:
    """Pure: the switch as Junos would show it, from the lab state and one kernel dump."""
    by_index = {info["index"]: name for name, info in dump.links.items()}
    cable_port: dict[str, tuple[str, int]] = {}  # s0v200 -> (ge-0/0/1, 200)
    for pf in state.pfs:
        for v in state.vlans:
            cable_port[cable_sw(pf.index, v.id)] = (pf.switch_port, v.id)
    vlan_by_bridge = {v.bridge: v for v in state.vlans}

    vlans: list[VlanView] = []
    interfaces: list[InterfaceView] = []
    lldp: list[LldpView] = []
    for pf in state.pfs:
        ends = [e for e in (dump.links.get(cable_sw(pf.index, v.id)) for v in state.vlans) if e is not None]
        link_up = any(e["carrier"] for e in ends)
        mtus = [e["mtu"] for e in ends if e.get("mtu")]
        mtu = min(mtus) + ETH_HLEN if mtus else state.port_mtu(pf)
        interfaces.append(InterfaceView(pf.switch_port, admin_up=True, link_up=link_up, mtu=mtu,
                                        mac=switch_port_mac(state.topology, pf.index),
                                        description=f"sriovcheck lab: {pf.name}"))
        if link_up and pf.mac and pf.name not in state.faults.lldp_off:
            lldp.append(LldpView(pf.switch_port, pf.mac, pf.mac, pf.name, pf.lldp_host or state.host_name or state.topology))
    for v in state.vlans:
        br = dump.links.get(v.bridge)
        addresses = dump.addrs.get(br["index"], []) if br else []
        l3_up = br is not None and br["up"] and v.gateway_cidr in addresses
        members = tuple(
            port for name, (port, vid) in cable_port.items()
            if vid == v.id and br is not None and name in dump.links and dump.links[name]["master"] == br["index"]
        )
        vlans.append(VlanView(v.name, v.id, v.l3_interface, v.gateway_cidr, members, l3_up))
        interfaces.append(InterfaceView(
            v.l3_interface, admin_up=br is not None and br["up"], link_up=l3_up and bool(br and br["carrier"]),
            mtu=1500, mac=state.router_mac, address_cidr=v.gateway_cidr if l3_up else None,
        ))

    macs: list[MacView] = []
    for ifindex, master, mac, age_cs in dump.fdb:
        port_name = by_index.get(ifindex)
        vlan = vlan_by_bridge.get(by_index.get(master, ""))
        if port_name not in cable_port or vlan is None:
            continue
        port, vid = cable_port[port_name]
        if vid != vlan.id:
            continue
        macs.append(MacView(vlan.name, vlan.id, mac, "learned", age_cs // USER_HZ, f"{port}.0"))
    if state.switch_style == "non-els":
        # Non-ELS EX lists the RVI's MAC in each VLAN's table as a static "Router" entry.
        macs += [MacView(v.name, v.id, state.router_mac, "router", None, "Router")
                 for v in state.vlans if v.bridge in dump.links]
    macs.sort(key=lambda m: (m.vlan_id, m.kind != "router", m.mac))

    l3_by_index = {dump.links[v.bridge]["index"]: v.l3_interface for v in state.vlans if v.bridge in dump.links}
    arps = sorted(
        (ArpView(mac, ip, l3_by_index[ifindex]) for ifindex, ip, mac in dump.neigh if ifindex in l3_by_index),
        key=lambda a: (a.interface, tuple(int(x) for x in a.ip.split("."))),
    )
    return SwitchSnapshot(
        hostname=state.switch_name,
        style=state.switch_style,
        model=state.model,
        junos_version=state.junos_version,
        router_mac=state.router_mac,
        vlans=tuple(vlans),
        macs=tuple(macs),
        arps=tuple(arps),
        interfaces=tuple(interfaces),
        lldp=tuple(lldp),
        background=Background(*state.faults.background),
        platform=state.platform,
    )


class KernelSnapshotSource:
    """`SnapshotSource` over a live lab. Safe to call from inside an asyncio loop: pyroute2's
    synchronous API runs its own event loop, so netlink work happens on one private thread that
    keeps a single socket in the switch namespace open between snapshots."""

    def __init__(self, state_dir: Path | str, *, ipr_factory: IprFactory | None = None) -> None:
        self.state_dir = Path(state_dir)
        self._factory = ipr_factory or default_ipr_factory
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sriovcheck-switch-view")
        self._ipr: Any = None
        self._ipr_key: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._state_cache: tuple[tuple[int, int, int], LabState] | None = None

    def _dump(self, sw_ns: str) -> KernelDump:
        # A socket keeps its namespace alive: after `lab down` + `lab up` the name points at a new
        # namespace and the old socket would show an empty switch forever. Compare the inode.
        try:
            ino = os.stat(os.path.join(NETNS_RUN_DIR, sw_ns)).st_ino
        except OSError:
            self._drop()
            return KernelDump()
        for attempt in (1, 2):
            try:
                if self._ipr is None or self._ipr_key != (sw_ns, ino):
                    self._drop()
                    self._ipr = self._factory(sw_ns)
                    self._ipr_key = (sw_ns, ino)
                return read_switch_namespace(self._ipr)
            except Exception:
                # Removed under us (lab down / repair): retry once, then show a switch with nothing
                # learned rather than failing the CLI session.
                self._drop()
                if attempt == 2:
                    return KernelDump()
        return KernelDump()

    def _drop(self) -> None:
        if self._ipr is not None:
            with contextlib.suppress(Exception):  # a broken socket is dropped either way
                self._ipr.close()
        self._ipr = None
        self._ipr_key = None

    def _state(self) -> LabState:
        """The lab state, parsed again only when the file changed (it is replaced atomically on
        every change, so inode, mtime and size tell): each command asks twice (faults, snapshot)."""
        try:
            info = os.stat(lab_state.state_path(self.state_dir))
            key: tuple[int, int, int] | None = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            key = None
        cached = self._state_cache
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        st = lab_state.load(self.state_dir)
        self._state_cache = (key, st) if key is not None else None
        return st

    def snapshot(self) -> SwitchSnapshot:
        st = self._state()
        with self._lock:
            dump = self._pool.submit(self._dump, st.sw_ns).result()
        return build_snapshot(st, dump)

    def faults(self) -> ServerFaults:
        return self._state().faults.server()

    def close(self) -> None:
        with self._lock:
            self._pool.submit(self._drop).result()
            self._pool.shutdown(wait=True)
