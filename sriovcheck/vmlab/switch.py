"""The switch at the other end of the VM lab's wire, inside the guest, and its Junos view.

    guest root ns                          switch ns (sc-<topology>-vmsw)
    eno1 (igb PF) ==QEMU hub 0== swp0 --+
    eno2 (igb PF) ==QEMU hub 1== swp1 --+- br0 (vlan_filtering 1; the topology's VLANs tagged on every port)
                                        +- vlan.200 / irb.200: 802.1Q on br0, the gateway, the router MAC
    swmgmt (169.254.77.1) ---- veth ---- me0 (switch.host): the Junos CLI over SSH

The VFs' port VLAN tags are inserted by the (emulated) NIC and reach the bridge on the wire: MAC
learning, the FDB's VLAN ids and the gateways' neighbour tables are the kernel's own.

`VmSwitchSource` is the Junos emulator's `SnapshotSource` over this switch, beside the netns lab's
`KernelSnapshotSource`: same renderers, same SSH server, a different data plane. Its description of
the switch (ports, VLANs, names) is a small JSON file written once by `build_switch`; faults change
the kernel (a VLAN removed from a port is `bridge vlan del`), and the view reads the kernel.
"""

from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sriovcheck.errors import LabError, UsageError
from sriovcheck.lab.fabric import (
    ETH_HLEN,
    SWITCH_SYSCTLS,
    arp_aging_sysctls,
    create_namespace,
    default_ipr_factory,
    ensure_sysctls,
    router_mac,
)
from sriovcheck.lab.junos.view import ArpView, InterfaceView, MacView, ServerFaults, SwitchSnapshot, VlanView
from sriovcheck.lab.switch_view import NTF_SELF, NUD_PERMANENT, USER_HZ, read_arp, read_ipv4_addrs, read_links
from sriovcheck.topology.model import Topology

BRIDGE = "br0"
MGMT_ROOT, MGMT_SW = "swmgmt", "me0"
MGMT_ROOT_ADDR = "169.254.77.1"
AF_BRIDGE = 7
RTEXT_FILTER_BRVLAN = 2
MODELS = {"non-els": ("ex4200-48t", "12.3R12.4"), "els": ("ex4300-48t", "18.4R2.7")}
# Faults the VM switch can apply (the kernel-side ones of `lab fault`).
VM_FAULTS = ("vlan-remove", "vlan-add", "gateway-down", "gateway-up", "pf-down", "pf-up")


def switch_ns_name(topology: str) -> str:
    return f"sc-{topology}-vmsw"[:64]


def port_ifname(index: int) -> str:
    return f"swp{index}"


@dataclass
class VmSwitchVlan:
    id: int
    name: str
    l3_interface: str
    gateway_cidr: str


@dataclass
class VmSwitchState:
    """What the view needs beside the kernel: written by `build_switch`, read by the emulator."""

    ns: str
    hostname: str
    style: str
    model: str
    junos_version: str
    router_mac: str
    ports: dict[str, str]  # kernel ifname in the switch ns (swp0) -> Junos port (ge-0/0/1)
    pfs: dict[str, str]  # Junos port -> the PF cabled to it (eno1)
    vlans: list[VmSwitchVlan] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> VmSwitchState:
        data = json.loads(path.read_text())
        data["vlans"] = [VmSwitchVlan(**v) for v in data["vlans"]]
        return cls(**data)

    def vlan(self, vid: int) -> VmSwitchVlan:
        for v in self.vlans:
            if v.id == vid:
                return v
        raise UsageError(f"VLAN {vid} is not one of the topology's ({', '.join(str(v.id) for v in self.vlans)})")

    def port_ifname(self, port: str) -> str:
        for ifname, name in self.ports.items():
            if name == port:
                return ifname
        raise UsageError(f"switch port {port!r} is not one of the topology's ({', '.join(self.ports.values())})")


def plan_switch_state(topology: Topology) -> VmSwitchState:
    """Pure: the VM switch of a topology (PF i is cabled to swp<i>)."""
    style = topology.lab.switch_style if topology.lab else "non-els"
    model, version = MODELS[style]
    vlans = [VmSwitchVlan(v.id, v.name, v.l3_interface, f"{v.gateway}/{v.subnet.prefixlen}") for v in topology.vlans]
    return VmSwitchState(
        ns=switch_ns_name(topology.name), hostname=topology.switch.name, style=style, model=model, junos_version=version,
        router_mac=router_mac(topology.name),
        ports={port_ifname(i): pf.switch_port for i, pf in enumerate(topology.host.pfs)},
        pfs={pf.switch_port: pf.name for pf in topology.host.pfs}, vlans=vlans,
    )


def _idx(ipr: Any, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise LabError(f"VM switch: no link {name!r}", hint="see the guest console log (vm-console.log in the report folder)")
    return int(found[0])


def build_switch(topology: Topology, state: VmSwitchState, *, port_macs: list[str], state_file: Path) -> None:
    """In the guest: the switch namespace, its VLAN-filtering bridge and gateways, and the management link.
    `port_macs[i]` is the MAC QEMU gave switch port i (the virtio-net NIC on PF i's hub)."""
    create_namespace(state.ns)
    root = default_ipr_factory(None)
    try:
        by_mac = {str(m.get("IFLA_ADDRESS")).lower(): m for m in root.link("dump")}
        for i, mac in enumerate(port_macs):
            msg = by_mac.get(mac.lower())
            if msg is None:
                raise LabError(f"VM switch: no NIC with MAC {mac} for switch port {i}", hint="see vm-console.log")
            root.link("set", index=msg["index"], state="down")
            root.link("set", index=msg["index"], ifname=port_ifname(i))
            root.link("set", index=msg["index"], net_ns_fd=f"/var/run/netns/{state.ns}")
        root.link("add", ifname=MGMT_ROOT, kind="veth", peer={"ifname": MGMT_SW, "net_ns_fd": f"/var/run/netns/{state.ns}"})
        mgmt = _idx(root, MGMT_ROOT)
        root.addr("add", index=mgmt, address=MGMT_ROOT_ADDR, prefixlen=32)
        root.link("set", index=mgmt, state="up")
        root.route("add", dst=f"{topology.switch.host}/32", oif=mgmt)
    finally:
        root.close()
    ensure_sysctls(state.ns, SWITCH_SYSCTLS)
    sw = default_ipr_factory(state.ns)
    try:
        sw.link("set", index=_idx(sw, "lo"), state="up")
        sw.link("add", ifname=BRIDGE, kind="bridge", br_vlan_filtering=1, br_ageing_time=300 * 100)
        br = _idx(sw, BRIDGE)
        sw.link("set", index=br, address=state.router_mac)
        for ifname in state.ports:
            i = _idx(sw, ifname)
            sw.link("set", index=i, master=br)
            for v in state.vlans:
                sw.vlan_filter("add", index=i, vlan_info={"vid": v.id})
            sw.link("set", index=i, state="up")
        for v in state.vlans:
            sw.vlan_filter("add", index=br, vlan_info={"vid": v.id}, vlan_flags="self")
        sw.link("set", index=br, state="up")
        for v in state.vlans:
            sw.link("add", ifname=v.l3_interface, kind="vlan", link=br, vlan_id=v.id)
            li = _idx(sw, v.l3_interface)
            sw.link("set", index=li, address=state.router_mac)
            addr, plen = v.gateway_cidr.split("/")
            sw.addr("add", index=li, address=addr, prefixlen=int(plen))
            sw.link("set", index=li, state="up")
        ensure_sysctls(state.ns, arp_aging_sysctls([v.l3_interface for v in state.vlans]))
        me0 = _idx(sw, MGMT_SW)
        sw.addr("add", index=me0, address=str(topology.switch.host), prefixlen=32)
        sw.link("set", index=me0, state="up")
        sw.route("add", dst=f"{MGMT_ROOT_ADDR}/32", oif=me0)
    finally:
        sw.close()
    state.save(state_file)


def apply_fault(state: VmSwitchState, kind: str, args: dict[str, Any]) -> str:
    """A switch-side fault on the VM switch, as `lab fault` does on the netns lab's; returns what it did."""
    if kind not in VM_FAULTS:
        raise UsageError(f"the VM lab cannot apply fault {kind!r}", hint=f"VM lab faults: {', '.join(VM_FAULTS)}")
    sw = default_ipr_factory(state.ns)
    try:
        if kind in ("vlan-remove", "vlan-add"):
            state.vlan(args["vlan"])
            port = _idx(sw, state.port_ifname(args["port"]))
            sw.vlan_filter("del" if kind == "vlan-remove" else "add", index=port, vlan_info={"vid": args["vlan"]})
            return f"VLAN {args['vlan']} {'removed from' if kind == 'vlan-remove' else 'added to'} {args['port']}"
        if kind in ("gateway-down", "gateway-up"):
            v = state.vlan(args["vlan"])
            sw.link("set", index=_idx(sw, v.l3_interface), state="down" if kind == "gateway-down" else "up")
            return f"{v.l3_interface} {'down' if kind == 'gateway-down' else 'up'}"
        port_name = next((p for p, pf in state.pfs.items() if pf == args["pf"]), None)
        if port_name is None:
            raise UsageError(f"PF {args['pf']!r} is not one of the topology's ({', '.join(state.pfs.values())})")
        sw.link("set", index=_idx(sw, state.port_ifname(port_name)), state="down" if kind == "pf-down" else "up")
        return f"switch port {port_name} (cabled to {args['pf']}) {'down' if kind == 'pf-down' else 'up'}"
    finally:
        sw.close()


# --------------------------------------------------------------------------- the view


@dataclass
class VmDump:
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    addrs: dict[int, list[str]] = field(default_factory=dict)
    port_vlans: dict[int, set[int]] = field(default_factory=dict)  # ifindex -> VLAN ids it carries
    fdb: list[tuple[int, int, str, int]] = field(default_factory=list)  # (ifindex, vlan, mac, age_cs)
    neigh: list[tuple[int, str, str]] = field(default_factory=list)


def _vlan_infos(msg: Any) -> list[int]:
    spec = msg.get("IFLA_AF_SPEC")
    if spec is None:
        return []
    return [int(info["vid"]) for info in spec.get_attrs("IFLA_BRIDGE_VLAN_INFO")]


def read_vm_switch(ipr: Any) -> VmDump:
    dump = VmDump(links=read_links(ipr), addrs=read_ipv4_addrs(ipr))
    for msg in ipr.link("dump", family=AF_BRIDGE, ext_mask=RTEXT_FILTER_BRVLAN):
        dump.port_vlans[msg["index"]] = set(_vlan_infos(msg))
    for msg in ipr.fdb("dump"):
        if not msg.get("NDA_MASTER") or msg["state"] & NUD_PERMANENT or msg["flags"] & NTF_SELF:
            continue
        vlan = msg.get("NDA_VLAN")
        if vlan is None:
            continue
        cache = msg.get("NDA_CACHEINFO") or {}
        dump.fdb.append((msg["ifindex"], int(vlan), str(msg.get("NDA_LLADDR")).lower(), int(cache.get("ndm_updated", 0))))
    dump.neigh = read_arp(ipr)
    return dump


def build_vm_snapshot(state: VmSwitchState, dump: VmDump) -> SwitchSnapshot:
    """Pure: the VM switch as Junos shows it, from its description and one kernel dump."""
    port_of_index = {dump.links[i]["index"]: p for i, p in state.ports.items() if i in dump.links}
    vlans: list[VlanView] = []
    interfaces: list[InterfaceView] = []
    for ifname, port in state.ports.items():
        link = dump.links.get(ifname)
        interfaces.append(InterfaceView(
            port, admin_up=bool(link and link["up"]), link_up=bool(link and link["up"] and link["carrier"]),
            mtu=(link["mtu"] + ETH_HLEN) if link and link.get("mtu") else 1514, mac=link["mac"] if link else None,
            description=f"sriovcheck VM lab: {state.pfs.get(port, '?')}",
        ))
    for v in state.vlans:
        l3 = dump.links.get(v.l3_interface)
        l3_up = bool(l3 and l3["up"] and v.gateway_cidr in dump.addrs.get(l3["index"], []))
        members = tuple(port for idx, port in port_of_index.items() if v.id in dump.port_vlans.get(idx, set()))
        vlans.append(VlanView(v.name, v.id, v.l3_interface, v.gateway_cidr, members, l3_up))
        interfaces.append(InterfaceView(v.l3_interface, admin_up=bool(l3 and l3["up"]), link_up=l3_up and bool(l3 and l3["carrier"]),
                                        mtu=1500, mac=state.router_mac, address_cidr=v.gateway_cidr if l3_up else None))
    by_id = {v.id: v for v in state.vlans}
    macs: list[MacView] = []
    for ifindex, vid, mac, age_cs in dump.fdb:
        port_name = port_of_index.get(ifindex)
        vlan = by_id.get(vid)
        if port_name is None or vlan is None:
            continue
        macs.append(MacView(vlan.name, vlan.id, mac, "learned", age_cs // USER_HZ, f"{port_name}.0"))
    if state.style == "non-els":
        macs += [MacView(v.name, v.id, state.router_mac, "router", None, "Router") for v in state.vlans]
    macs.sort(key=lambda m: (m.vlan_id, m.kind != "router", m.mac))
    l3_by_index = {dump.links[v.l3_interface]["index"]: v.l3_interface for v in state.vlans if v.l3_interface in dump.links}
    arps = sorted((ArpView(mac, ip, l3_by_index[i]) for i, ip, mac in dump.neigh if i in l3_by_index),
                  key=lambda a: (a.interface, tuple(int(x) for x in a.ip.split("."))))
    return SwitchSnapshot(hostname=state.hostname, style=state.style,  # type: ignore[arg-type]
                          model=state.model, junos_version=state.junos_version, router_mac=state.router_mac,
                          vlans=tuple(vlans), macs=tuple(macs), arps=tuple(arps), interfaces=tuple(interfaces))


class VmSwitchSource:
    """`SnapshotSource` over the VM switch; netlink work on one private thread (pyroute2's rule)."""

    def __init__(self, state_file: Path) -> None:
        self.state = VmSwitchState.load(state_file)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sriovcheck-vm-switch")
        self._ipr: Any = None
        self._lock = threading.Lock()

    def _dump(self) -> VmDump:
        if self._ipr is None:
            self._ipr = default_ipr_factory(self.state.ns)
        return read_vm_switch(self._ipr)

    def snapshot(self) -> SwitchSnapshot:
        with self._lock:
            dump = self._pool.submit(self._dump).result()
        return build_vm_snapshot(self.state, dump)

    def faults(self) -> ServerFaults:
        return ServerFaults()

    def close(self) -> None:
        def drop() -> None:
            if self._ipr is not None:
                with contextlib.suppress(Exception):
                    self._ipr.close()

        with self._lock:
            self._pool.submit(drop).result()
            self._pool.shutdown(wait=True)


__all__ = ["VmSwitchSource", "apply_fault", "build_switch", "build_vm_snapshot", "plan_switch_state"]
