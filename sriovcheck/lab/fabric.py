"""The emulated lab's data plane: a NIC's embedded switch, its cable and the switch, in network namespaces.

This kernel has no 802.1Q devices and no bridge VLAN filtering, so a VLAN is a broadcast domain made
of bridges and a trunk carries one veth pair per VLAN:

    root ns          nic ns (sc-<t>-nic)                   sw ns (sc-<t>-sw)
    eno2   ------   pf0        (plugged nowhere: no native VLAN)
    eno2v0 ------   p0f0 -> n0v200 <- c0v200  ------------  s0v200 -> vl200 (gateway, router MAC)
    eno2v1 ------   p0f1 -> n0v201 <- c0v201  ------------  s0v201 -> vl201

A VF's VLAN decides which NIC bridge its peer is plugged into; its link_state whether that peer is up
(the VF sees carrier). A fault that removes a VLAN from a switch port unplugs that VLAN's cable end
from the switch bridge. The whole fabric is derived from the lab state (`plan_fabric`, pure) and
made real by `reconcile`, which only changes what differs: the same call builds, repairs and
applies faults, and it is idempotent.

MTUs: a veth drops a frame longer than the *receiving* end's MTU (plus its header), and a bridge drops
one longer than the egress port's. The NIC side (pf<i>, p<i>f<n>) is set to 9216 so that a VF can use
any MTU an X540 VF takes (9000 and more); both ends of every VLAN cable carry the switch port's
physical MTU minus the 14-byte Ethernet header (1514 -> 1500: Junos counts the header, Linux does not;
no 802.1Q tag is ever on our cables). Measured: with `port-mtu ge-0/0/1 1414` a VF's do-not-fragment
ping of 1400 IP bytes reaches the gateway and one of 1404 does not; both directions are limited.
Bridges keep the kernel's automatic MTU (the smallest of their ports), which only matters for what the
gateway itself sends.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from sriovcheck.errors import LabError
from sriovcheck.host.driver import VfConfig
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.state import LabState, PfRecord, VfRecord

Ns = Literal["root", "nic", "sw"]
T = TypeVar("T")
IprFactory = Callable[[str | None], Any]  # netns name (None = the root namespace) -> pyroute2 IPRoute

ALIAS_PREFIX = "sriovcheck-lab:"
BRIDGE_AGEING_CS = 300 * 100  # as on an EX: 300 s MAC ageing (the kernel counts centiseconds)
MAX_IFNAME = 15
ETH_HLEN = 14  # Junos' physical MTU counts the Ethernet header; a Linux MTU does not
NIC_LINK_MTU = 9216  # NIC-side links: room for any VF MTU
IFF_UP = 0x1
ADDR_GEN_MODE_NONE = 1
AF_INET = 2
_IN6_NONE = {"attrs": [("AF_INET6", {"attrs": [("IFLA_INET6_ADDR_GEN_MODE", ADDR_GEN_MODE_NONE)]})]}


# ---------------------------------------------------------------- naming convention
def lab_alias(topology: str) -> str:
    return f"{ALIAS_PREFIX}{topology}"


def vf_alias(topology: str, pf: str, vf: int) -> str:
    # Per-VF alias: finds a VF again after someone renamed it in the root namespace.
    return f"{lab_alias(topology)} {pf} vf {vf}"


def is_our_alias(alias: str | None, topology: str) -> bool:
    base = lab_alias(topology)
    return alias is not None and (alias == base or alias.startswith(base + " "))


def nic_ns_name(topology: str) -> str:
    return f"sc-{topology}-nic"


def sw_ns_name(topology: str) -> str:
    return f"sc-{topology}-sw"


def pf_peer(pf_index: int) -> str:
    return f"pf{pf_index}"


def vf_peer(pf_index: int, vf: int) -> str:
    return f"p{pf_index}f{vf}"


def nic_bridge(pf_index: int, vlan: int) -> str:
    return f"n{pf_index}v{vlan}"


def cable_nic(pf_index: int, vlan: int) -> str:
    return f"c{pf_index}v{vlan}"


def cable_sw(pf_index: int, vlan: int) -> str:
    return f"s{pf_index}v{vlan}"


def sw_bridge(vlan: int) -> str:
    return f"vl{vlan}"


def total_vfs(numvfs: int, nic_driver: str = "ixgbe") -> int:
    """sriov_totalvfs of an emulated PF: igb's 7 (a topology asking for more is refused), else 64."""
    if nic_driver == "igb":
        if numvfs > IGB_TOTALVFS:
            raise LabError(f"the emulated igb NIC has at most {IGB_TOTALVFS} VFs per PF; the topology asks for {numvfs}",
                           hint=f"lower numvfs to at most {IGB_TOTALVFS}, or use lab.nic_driver: ixgbe")
        return IGB_TOTALVFS
    return max(64, numvfs)


IGB_TOTALVFS = 7  # Linux igb_main.c igb_probe_vfs: pci_sriov_set_totalvfs(pdev, 7)


def vf_netdev(pf: str, vf: int) -> str:
    """ixgbe's VF naming (eno2 -> eno2v0); refuses names the kernel cannot hold."""
    name = f"{pf}v{vf}"
    if len(name) > MAX_IFNAME:
        raise LabError(
            f"PF name {pf!r} is too long for the emulated lab: its VF {vf} would be {name!r} "
            f"({len(name)} characters; Linux allows {MAX_IFNAME})",
            hint=f"use a PF name of at most {MAX_IFNAME - len(f'v{vf}')} characters in the lab topology",
        )
    return name


def port_l3_mtu(physical_mtu: int) -> int:
    """The Linux MTU of a cable for a switch port of this Junos (physical) MTU: 1514 -> 1500."""
    return physical_mtu - ETH_HLEN


def switch_port_mac(topology: str, pf_index: int) -> str:
    """The switch port's own MAC as `show interfaces` reports it (shown only; the port sends nothing)."""
    b = bytearray(hashlib.sha256(f"sriovcheck-port:{topology}:{pf_index}".encode()).digest()[:6])
    b[0] = (b[0] & 0xFC) | 0x02
    return ":".join(f"{x:02x}" for x in b)


def router_mac(topology: str) -> str:
    """One locally administered MAC per lab, shared by every VLAN's L3 interface (as on an EX)."""
    b = bytearray(hashlib.sha256(f"sriovcheck-router:{topology}".encode()).digest()[:6])
    b[0] = (b[0] & 0xFC) | 0x02
    return ":".join(f"{x:02x}" for x in b)


def pci_address(pf_index: int, vf: int | None = None) -> str:
    """Synthetic PCI addresses laid out as an X540 does: the PF is function 1 of its own bus, VF n has
    routing ID PF + 0x80 + 2n (the seed's eno2 01:00.1 -> eno2v0 01:10.1, eno2v1 01:10.3 ...)."""
    rid = ((1 + 4 * pf_index) << 8) | 1
    if vf is not None:
        rid += 0x80 + 2 * vf
    return f"0000:{rid >> 8:02x}:{(rid >> 3) & 0x1F:02x}.{rid & 7}"


# ---------------------------------------------------------------- the plan (pure)
@dataclass(frozen=True)
class BridgeSpec:
    ns: Ns
    name: str
    mac: str | None = None
    ageing_cs: int | None = None
    addresses: tuple[str, ...] | None = None  # IPv4 CIDRs it must hold; None = not managed
    up: bool = True


@dataclass(frozen=True)
class VethSpec:
    ns: Ns
    name: str
    peer_ns: Ns
    peer: str
    alias: str | None = None  # set on the `name` end (root-namespace ends: our mark)
    mac: str | None = None  # for the `name` end when it is created
    enforce_mac: bool = False  # keep `name` at `mac` while it is in its namespace (admin MAC)
    roams: bool = False  # the `name` end may legitimately be elsewhere (a VF moved into a container)


@dataclass(frozen=True)
class PortSpec:
    ns: Ns
    name: str
    master: str | None  # bridge to be plugged into; None = plugged nowhere
    up: bool


@dataclass(frozen=True)
class Plan:
    bridges: tuple[BridgeSpec, ...]
    veths: tuple[VethSpec, ...]
    ports: tuple[PortSpec, ...]
    mtus: tuple[tuple[Ns, str, int], ...] = ()  # (namespace, link, MTU) of the links whose MTU is managed

    def names(self, ns: Ns) -> set[str]:
        out = {b.name for b in self.bridges if b.ns == ns}
        for v in self.veths:
            if v.ns == ns:
                out.add(v.name)
            if v.peer_ns == ns:
                out.add(v.peer)
        return out


def vf_link_up(link_state: str, pf_up: bool) -> bool:
    return {"enable": True, "disable": False}.get(link_state, pf_up)


def plan_fabric(state: LabState) -> Plan:
    """Every bridge, veth pair and port setting the lab's state calls for, faults included."""
    faults = state.faults
    removed = set(faults.vlan_removed)
    bridges = [
        BridgeSpec("sw", v.bridge, mac=state.router_mac, ageing_cs=BRIDGE_AGEING_CS,
                   addresses=() if v.id in faults.gateway_down else (v.gateway_cidr,))
        for v in state.vlans
    ]
    veths: list[VethSpec] = []
    ports: list[PortSpec] = []
    mtus: list[tuple[Ns, str, int]] = []
    for pf in state.pfs:
        i = pf.index
        pf_up = pf.name not in faults.pf_down
        cable_mtu = port_l3_mtu(state.port_mtu(pf))
        veths.append(VethSpec("root", pf.name, "nic", pf.nic_link, alias=state.alias))
        ports.append(PortSpec("nic", pf.nic_link, None, pf_up))
        mtus.append(("nic", pf.nic_link, NIC_LINK_MTU))
        vlan_ids = {v.id for v in state.vlans} | {vf.config.vlan for vf in pf.vfs if vf.config.vlan}
        bridges += [BridgeSpec("nic", nic_bridge(i, vid), ageing_cs=BRIDGE_AGEING_CS) for vid in sorted(vlan_ids)]
        for v in state.vlans:
            veths.append(VethSpec("nic", cable_nic(i, v.id), "sw", cable_sw(i, v.id)))
            ports.append(PortSpec("nic", cable_nic(i, v.id), nic_bridge(i, v.id), pf_up))
            carried = (pf.switch_port, v.id) not in removed
            ports.append(PortSpec("sw", cable_sw(i, v.id), v.bridge if carried else None, True))
            mtus += [("nic", cable_nic(i, v.id), cable_mtu), ("sw", cable_sw(i, v.id), cable_mtu)]
        for vf in pf.vfs:
            cfg = vf.config
            veths.append(VethSpec(
                "root", vf.netdev, "nic", vf.nic_link, alias=vf_alias(state.topology, pf.name, vf.index),
                mac=cfg.mac or vf.mac, enforce_mac=cfg.mac is not None, roams=True,
            ))
            ports.append(PortSpec("nic", vf.nic_link, nic_bridge(i, cfg.vlan) if cfg.vlan else None,
                                  vf_link_up(cfg.link_state, pf_up)))
            mtus.append(("nic", vf.nic_link, NIC_LINK_MTU))
    return Plan(tuple(bridges), tuple(veths), tuple(ports), tuple(mtus))


# ---------------------------------------------------------------- kernel facts
@dataclass(frozen=True)
class LinkFacts:
    name: str
    index: int
    kind: str | None
    admin_up: bool
    carrier: bool
    master: int | None
    alias: str | None
    mac: str | None
    peer_index: int | None  # IFLA_LINK: a veth's peer ifindex (in the peer's namespace)
    addr_gen_mode: int | None
    operstate: str | None
    mtu: int | None

    @classmethod
    def from_msg(cls, msg: Any) -> LinkFacts:
        linkinfo = msg.get("IFLA_LINKINFO")
        return cls(
            name=msg.get("IFLA_IFNAME"),
            index=msg["index"],
            kind=linkinfo.get("IFLA_INFO_KIND") if linkinfo is not None else None,
            admin_up=bool(msg["flags"] & IFF_UP),
            carrier=msg.get("IFLA_CARRIER") == 1,
            master=msg.get("IFLA_MASTER") or None,
            alias=msg.get("IFLA_IFALIAS") or None,
            mac=msg.get("IFLA_ADDRESS"),
            peer_index=msg.get("IFLA_LINK"),
            addr_gen_mode=msg.get_nested("IFLA_AF_SPEC", "AF_INET6", "IFLA_INET6_ADDR_GEN_MODE"),
            operstate=msg.get("IFLA_OPERSTATE"),
            mtu=msg.get("IFLA_MTU"),
        )


@dataclass
class NsLinks:
    by_name: dict[str, LinkFacts] = field(default_factory=dict)

    @property
    def by_index(self) -> dict[int, LinkFacts]:
        return {lf.index: lf for lf in self.by_name.values()}

    def by_alias(self, alias: str) -> LinkFacts | None:
        for lf in self.by_name.values():
            if lf.alias == alias:
                return lf
        return None

    def master_name(self, lf: LinkFacts) -> str | None:
        if lf.master is None:
            return None
        m = self.by_index.get(lf.master)
        return m.name if m else None


def _netlink_errno(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


NETNS_RUN_DIR = "/var/run/netns"
NETLINK_ROUTE = 0


def in_netns(netns_name: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a short-lived thread that has entered `netns_name` (setns(2) switches only the
    calling thread, so the caller's own namespace never changes)."""
    from sriovcheck.host.netlink import netns

    out: list[T] = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, netns_name), os.O_RDONLY)
        except OSError as exc:
            err.append(exc)
            return
        try:
            netns.setns(fd, flags=0)
            out.append(fn())
        except BaseException as exc:  # handed to the caller below
            err.append(exc)
        finally:
            os.close(fd)

    t = threading.Thread(target=run, name=f"netns-{netns_name}")
    t.start()
    t.join()
    if err:
        raise err[0]
    return out[0]


def netlink_socket_in(netns_name: str) -> socket.socket:
    """An rtnetlink socket that lives in `netns_name`, made without a helper process.

    pyroute2's own netns mode forks a child and stops it with SIGTERM; a child that inherited an
    asyncio loop's signal wakeup fd then makes that loop believe *it* got SIGTERM (the Junos emulator
    shut itself down that way)."""
    return in_netns(netns_name, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE))


# The switch namespace holds every VLAN's gateway in one IP stack. Linux's weak host model would
# answer ARP for 192.168.201.1 on vl200 and accept packets for it there: a VF on VLAN 200 would reach
# VLAN 201's gateway. An EX answers only on the VLAN's own L3 interface; so must we.
SWITCH_SYSCTLS = {
    "net/ipv4/conf/all/arp_ignore": "1",
    "net/ipv4/conf/all/rp_filter": "1",
    "net/ipv4/ip_forward": "0",
}


# The switch's ARP entries age as on an EX (its ARP aging timer: 20 minutes by default), not by
# Linux's neighbour state machine. With the kernel's defaults an entry used and not confirmed is
# probed 5 s later and fails 3 s after that; a host that comes back inside that window with the same
# MAC and address (a VF provisioned again after a teardown, the emulated VF keeps its MAC) answers
# the gateway's ping, and its entry still fails a moment later: the ARP request that taught it again
# does not restart probes already spent on the same address. Seen in the crash matrix (provision
# killed, provisioned again, verified: "the switch has no ARP entry", 1 in ~50-400 cycles) and
# reproduced by hand with two namespaces. So on each L3 interface: no unicast probing (an entry that
# was not confirmed ages out, as on Junos, and is learned again from the host's next ARP), after 20
# minutes, and no garbage collection of an idle entry before that.
ARP_AGING_S = 1200


def arp_aging_sysctls(l3_interfaces: list[str]) -> dict[str, str]:
    """The per-interface neighbour settings that make an L3 interface's ARP entries age as on an EX."""
    out: dict[str, str] = {}
    for name in l3_interfaces:
        base = f"net/ipv4/neigh/{name}"
        out |= {f"{base}/delay_first_probe_time": str(ARP_AGING_S), f"{base}/ucast_solicit": "0",
                f"{base}/gc_stale_time": str(ARP_AGING_S)}
    return out


def ensure_sysctls(netns_name: str, wanted: dict[str, str]) -> list[str]:
    """Set /proc/sys values inside a namespace (net sysctls follow the opening thread's namespace)."""

    def apply() -> list[str]:
        changed = []
        for key, value in wanted.items():
            path = os.path.join("/proc/sys", key)
            with open(path, encoding="ascii") as fh:
                current = fh.read().strip()
            if current != value:
                with open(path, "w", encoding="ascii") as fh:
                    fh.write(value)
                changed.append(f"{key.replace('/', '.')}={value} in namespace {netns_name}")
        return changed

    try:
        return in_netns(netns_name, apply)
    except OSError as exc:
        raise LabError(f"cannot set kernel parameters in namespace {netns_name}: {exc}",
                       hint="the emulated lab needs root; run `sriovcheck lab up` again") from exc


def default_ipr_factory(netns_name: str | None) -> Any:
    """A pyroute2 IPRoute in `netns_name` (None: the root namespace) that subscribes to no events.
    It must be used from the thread that created it (pyroute2's rule for a given socket)."""
    from sriovcheck.host.netlink import IPRoute

    if netns_name is None:
        return IPRoute(groups=0)
    return IPRoute(use_socket=netlink_socket_in(netns_name), groups=0)


class _Borrowed:
    """A kept socket lent to one `Handles`: requests go through, `close` leaves it open for the next."""

    def __init__(self, ipr: Any) -> None:
        self._ipr = ipr

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ipr, name)

    def close(self) -> None:
        pass


class KeptSockets:
    """An `IprFactory` that keeps one netlink socket per namespace open across calls, for the thread
    that made it (pyroute2's rule); other threads get sockets of their own, opened and closed per use.
    A kept socket is used again only while the namespace it lives in is the one that now has that name
    (its nsfs inode): a lab taken down and brought up again gets fresh sockets. On an emulated rack a
    host's provision and teardown opened ~70 sockets in the lab's namespaces (~1.4 ms each), a few VF
    looks apart. A socket in a namespace keeps that namespace alive: `close` (also when the owner is
    collected, at exit, and for every instance by `close_kept_sockets`: `lab down`, the end of a command
    run in-process) closes them; the next call opens again."""

    def __init__(self) -> None:
        self._thread = threading.current_thread()  # the object, not its ident: a later thread may get the same ident
        self._kept: dict[str | None, tuple[tuple[int, int] | None, Any]] = {}
        weakref.finalize(self, KeptSockets._close_all, self._kept)
        _KEPT.add(self)

    def __call__(self, netns_name: str | None) -> Any:
        if threading.current_thread() is not self._thread:
            return default_ipr_factory(netns_name)
        ident = None
        if netns_name is not None:
            st = os.stat(os.path.join(NETNS_RUN_DIR, netns_name))  # OSError: Handles names the namespace
            ident = (st.st_dev, st.st_ino)
        kept = self._kept.get(netns_name)
        if kept is not None and kept[0] != ident:
            del self._kept[netns_name]
            with contextlib.suppress(Exception):
                kept[1].close()
            kept = None
        if kept is None:
            kept = (ident, default_ipr_factory(netns_name))
            self._kept[netns_name] = kept
        return _Borrowed(kept[1])

    def close(self) -> None:
        KeptSockets._close_all(self._kept)

    @staticmethod
    def _close_all(kept: dict[str | None, tuple[tuple[int, int] | None, Any]]) -> None:
        for _ident, ipr in kept.values():
            with contextlib.suppress(Exception):
                ipr.close()
        kept.clear()


_KEPT: weakref.WeakSet[KeptSockets] = weakref.WeakSet()


def close_kept_sockets() -> None:
    """Close every kept socket of this process (`KeptSockets`), so that no namespace outlives its name."""
    for kept in list(_KEPT):
        kept.close()


def list_namespaces() -> set[str]:
    from sriovcheck.host.netlink import netns

    return set(netns.listnetns())


def create_namespace(name: str) -> None:
    from sriovcheck.host.netlink import netns

    try:
        netns.create(name)
    except OSError as exc:
        raise LabError(f"cannot create network namespace {name}: {exc}",
                       hint="the emulated lab needs root (CAP_SYS_ADMIN) and /var/run/netns") from exc


def remove_namespace(name: str) -> None:
    from sriovcheck.host.netlink import netns

    try:
        netns.remove(name)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise LabError(f"cannot remove network namespace {name}: {exc}",
                       hint=f"check `ip netns pids {name}` for processes still using it") from exc


class Handles:
    """One netlink socket per namespace of the lab; closed together (no helper processes left)."""

    def __init__(self, state: LabState, factory: IprFactory) -> None:
        self.ns_names: dict[Ns, str | None] = {"root": None, "nic": state.nic_ns, "sw": state.sw_ns}
        self._factory = factory
        self._open: dict[Ns, Any] = {}

    def __getitem__(self, ns: Ns) -> Any:
        if ns not in self._open:
            name = self.ns_names[ns]
            try:
                self._open[ns] = self._factory(name)
            except OSError as exc:
                raise LabError(f"cannot open network namespace {name}: {exc}",
                               hint="is the lab up? run `sriovcheck lab up <topology file>`") from exc
        return self._open[ns]

    def close(self) -> None:
        for ipr in self._open.values():
            with contextlib.suppress(Exception):
                ipr.close()
        self._open.clear()

    def dump(self, ns: Ns) -> NsLinks:
        out = NsLinks()
        for msg in self[ns].link("dump"):
            lf = LinkFacts.from_msg(msg)
            out.by_name[lf.name] = lf
        return out

    def where(self, ns: Ns) -> str:
        name = self.ns_names[ns]
        return "the root namespace" if name is None else f"namespace {name}"


@contextlib.contextmanager
def open_handles(state: LabState, factory: IprFactory | None = None) -> Iterator[Handles]:
    h = Handles(state, factory or default_ipr_factory)
    try:
        yield h
    finally:
        h.close()


def _nl(h: Handles, ns: Ns, what: str, api: str, *args: Any, ignore: tuple[int, ...] = (), **kw: Any) -> Any:
    """One netlink request in `ns`; a refusal becomes a LabError naming the object and the namespace."""
    try:
        return getattr(h[ns], api)(*args, **kw)
    except Exception as exc:
        code = _netlink_errno(exc)
        if code is not None and code in ignore:
            return None
        if code is None and not isinstance(exc, OSError):
            raise
        raise LabError(f"kernel refused to {what} in {h.where(ns)}: {exc}",
                       hint="run `sriovcheck lab up` again to repair the lab, or `lab down` then `lab up`") from exc


# ---------------------------------------------------------------- reconcile
@dataclass
class Reconciled:
    root: NsLinks  # root-namespace links after the run
    nic: NsLinks
    sw: NsLinks
    changes: list[str] = field(default_factory=list)

    def vf_root_end(self, spec_alias: str, name: str) -> LinkFacts | None:
        """A VF's netdev in the root namespace: by our alias (survives renames), else by name."""
        lf = self.root.by_alias(spec_alias)
        if lf is None:
            cand = self.root.by_name.get(name)
            if cand is not None and cand.alias == spec_alias:
                lf = cand
        return lf


def _is_ours(root_end: LinkFacts, alias: str | None, topology: str, nic: NsLinks, peer: str) -> bool:
    if alias is not None and root_end.alias == alias:
        return True
    if is_our_alias(root_end.alias, topology):
        return True
    # Created but not yet marked (a crash between the two calls): its peer is in our NIC namespace.
    peer_lf = nic.by_name.get(peer)
    return root_end.alias is None and root_end.kind == "veth" and peer_lf is not None \
        and peer_lf.peer_index == root_end.index


def check_root_names(state: LabState, plan: Plan, root: NsLinks, nic: NsLinks) -> None:
    """Refuse to touch a root-namespace interface that is not ours (a real eno2, another lab's)."""
    for v in plan.veths:
        if v.ns != "root":
            continue
        lf = root.by_name.get(v.name)
        if lf is None or _is_ours(lf, v.alias, state.topology, nic, v.peer):
            continue
        owner = f"marked {lf.alias!r}" if lf.alias else "not created by this lab"
        raise LabError(
            f"interface {v.name} already exists in the root namespace ({owner}); the lab for topology "
            f"{state.topology!r} needs that name for its emulated {'PF' if not v.roams else 'VF'}",
            hint="rename the PF in the lab topology, or bring down the lab that owns it (`sriovcheck lab down`)",
        )


def reconcile(h: Handles, state: LabState, plan: Plan | None = None) -> Reconciled:
    """Make the kernel match the plan: create what is missing, remove what is not planned in the lab's
    namespaces (and root links with our alias), fix masters, up/down and addresses. Idempotent."""
    plan = plan or plan_fabric(state)
    topo = state.topology
    dumps: dict[Ns, NsLinks] = {ns: h.dump(ns) for ns in ("root", "nic", "sw")}
    check_root_names(state, plan, dumps["root"], dumps["nic"])
    changes: list[str] = []
    dirty: set[Ns] = set()

    # Prune: in our namespaces everything unplanned goes; in the root namespace only links marked ours.
    root_planned = {v.alias for v in plan.veths if v.ns == "root" and v.roams} | {
        v.name for v in plan.veths if v.ns == "root" and not v.roams}
    for ns in ("nic", "sw"):
        keep = plan.names(ns) | {"lo"}
        for name, lf in sorted(dumps[ns].by_name.items()):
            if name not in keep:
                _nl(h, ns, f"delete {name}", "link", "del", index=lf.index, ignore=(errno.ENODEV,))
                changes.append(f"removed {name} from {h.where(ns)}")
                dirty |= {"root", "nic", "sw"}
    for name, lf in sorted(dumps["root"].by_name.items()):
        if is_our_alias(lf.alias, topo) and lf.alias not in root_planned and name not in root_planned:
            _nl(h, "root", f"delete {name}", "link", "del", index=lf.index, ignore=(errno.ENODEV,))
            changes.append(f"removed {name} from the root namespace")
            dirty |= {"root", "nic"}
    for ns in sorted(dirty):
        dumps[ns] = h.dump(ns)
    dirty = set()

    for b in plan.bridges:
        if b.name in dumps[b.ns].by_name:
            continue
        # No multicast snooping: a snooping bridge joins the all-snoopers groups and sends IGMP/MLD
        # reports from its own MAC, which the switch would then learn on the port like a VF's.
        kw: dict[str, Any] = {"ifname": b.name, "kind": "bridge", "br_mcast_snooping": 0}
        if b.mac:
            kw["address"] = b.mac
        if b.ageing_cs is not None:
            kw["br_ageing_time"] = b.ageing_cs
        _nl(h, b.ns, f"create bridge {b.name}", "link", "add", **kw)
        changes.append(f"created bridge {b.name} in {h.where(b.ns)}")
        dirty.add(b.ns)

    for v in plan.veths:
        here = dumps[v.ns]
        there = dumps[v.peer_ns]
        end = (here.by_alias(v.alias) if v.roams and v.alias else None) or here.by_name.get(v.name)
        peer = there.by_name.get(v.peer)
        if end is not None and peer is not None:
            continue
        if end is None and peer is not None and v.roams:
            continue  # the VF lives in a container's namespace: its peer is all we keep
        for ns, half in ((v.ns, end), (v.peer_ns, peer)):
            if half is not None:
                _nl(h, ns, f"delete half pair {half.name}", "link", "del", index=half.index, ignore=(errno.ENODEV,))
        kw = {"ifname": v.name, "kind": "veth", "peer": {"ifname": v.peer, "net_ns_fd": h.ns_names[v.peer_ns]}}
        if v.mac:
            kw["address"] = v.mac
        _nl(h, v.ns, f"create veth pair {v.name}/{v.peer}", "link", "add", **kw)
        changes.append(f"created {v.name} ({h.where(v.ns)}) <-> {v.peer} ({h.where(v.peer_ns)})")
        dirty |= {v.ns, v.peer_ns}
    for ns in sorted(dirty):
        dumps[ns] = h.dump(ns)

    # Root-namespace ends: our mark, and the admin MAC of a VF that is at home.
    for v in plan.veths:
        if v.ns != "root":
            continue
        end = (dumps["root"].by_alias(v.alias) if v.roams and v.alias else None) or dumps["root"].by_name.get(v.name)
        if end is None:
            continue
        kw = {}
        if v.alias and end.alias != v.alias:
            kw["ifalias"] = v.alias
        if v.enforce_mac and v.mac and end.mac != v.mac:
            kw["address"] = v.mac
        if not v.roams and not end.admin_up:
            kw["state"] = "up"
        if kw:
            _nl(h, "root", f"configure {end.name}", "link", "set", index=end.index, **kw)
            changes.append(f"configured {end.name} in the root namespace: {', '.join(sorted(kw))}")
            dirty.add("root")

    # Lab-namespace links: no IPv6 (its DAD/RS frames would make the switch learn the cable's own MACs),
    # plugged into the right bridge, then up or down.
    mtu_of = {(ns, name): mtu for ns, name, mtu in plan.mtus}
    wanted: list[tuple[Ns, str, str | None, bool, bool, int | None]] = [
        (b.ns, b.name, None, b.up, False, None) for b in plan.bridges
    ] + [(p.ns, p.name, p.master, p.up, True, mtu_of.get((p.ns, p.name))) for p in plan.ports]
    for ns, name, master, up, manage_master, mtu in wanted:
        links = dumps[ns]
        cur = links.by_name.get(name)
        if cur is None:
            continue
        kw = {}
        if cur.addr_gen_mode != ADDR_GEN_MODE_NONE:
            kw["IFLA_AF_SPEC"] = _IN6_NONE
        if manage_master:
            want_idx = links.by_name[master].index if master and master in links.by_name else 0
            if (cur.master or 0) != want_idx:
                kw["master"] = want_idx
        if mtu is not None and cur.mtu != mtu:
            kw["mtu"] = mtu
        if kw:
            _nl(h, ns, f"configure {name}", "link", "set", index=cur.index, **kw)
            changes.append(f"configured {name} in {h.where(ns)}: {', '.join(sorted(kw))}")
            dirty.add(ns)
        if cur.admin_up != up:
            _nl(h, ns, f"set {name} {'up' if up else 'down'}", "link", "set", index=cur.index,
                state="up" if up else "down")
            changes.append(f"set {name} {'up' if up else 'down'} in {h.where(ns)}")
            dirty.add(ns)
    for ns in sorted(dirty):
        dumps[ns] = h.dump(ns)

    # The switch's kernel parameters (one pass through its namespace), before its gateways get an
    # address: the VLAN bridges exist by now, and their ARP entries age as on an EX.
    l3 = [b.name for b in plan.bridges if b.ns == "sw" and b.name in dumps["sw"].by_name]
    changes += ensure_sysctls(state.sw_ns, {**SWITCH_SYSCTLS, **arp_aging_sysctls(l3)})

    # Gateway addresses on the switch's VLAN bridges (IPv4 only; one dump for all of them).
    managed = {b.name: b for b in plan.bridges if b.ns == "sw" and b.addresses is not None}
    if managed:
        have: dict[int, set[str]] = {}
        for msg in h["sw"].addr("dump", family=AF_INET):
            have.setdefault(msg["index"], set()).add(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
        for name, b in managed.items():
            br = dumps["sw"].by_name.get(name)
            if br is None:
                continue
            current = have.get(br.index, set())
            want = set(b.addresses or ())
            for cidr in sorted(want - current):
                ip, plen = cidr.split("/")
                _nl(h, "sw", f"add {cidr} to {name}", "addr", "add", index=br.index, address=ip,
                    prefixlen=int(plen), ignore=(errno.EEXIST,))
                changes.append(f"added {cidr} to {name}")
            for cidr in sorted(current - want):
                ip, plen = cidr.split("/")
                _nl(h, "sw", f"remove {cidr} from {name}", "addr", "del", index=br.index, address=ip,
                    prefixlen=int(plen), ignore=(errno.EADDRNOTAVAIL, errno.ENODEV))
                changes.append(f"removed {cidr} from {name}")
    return Reconciled(dumps["root"], dumps["nic"], dumps["sw"], changes)


def record_vf_macs(state: LabState, result: Reconciled) -> None:
    """Remember each VF netdev's MAC while it is at home, so that a recreated VF keeps it; and each
    PF's MAC, which the host's LLDP agent announces to the switch."""
    for pf in state.pfs:
        pf_end = result.root.by_name.get(pf.name)
        if pf_end is not None and pf_end.mac:
            pf.mac = pf_end.mac
        for vf in pf.vfs:
            end = result.vf_root_end(vf_alias(state.topology, pf.name, vf.index), vf.netdev)
            if end is not None and end.mac:
                vf.mac = end.mac


def our_root_links(topology: str, ipr: Any) -> list[str]:
    """Names of the root-namespace links that carry this lab's alias."""
    return sorted(lf.name for lf in (LinkFacts.from_msg(m) for m in ipr.link("dump")) if is_our_alias(lf.alias, topology))


def delete_root_links(topology: str, ipr: Any) -> list[str]:
    """Delete every root-namespace link that carries this lab's alias (their peers go with them)."""
    removed: list[str] = []
    for msg in ipr.link("dump"):
        lf = LinkFacts.from_msg(msg)
        if is_our_alias(lf.alias, topology):
            try:
                ipr.link("del", index=lf.index)
            except Exception as exc:
                if _netlink_errno(exc) != errno.ENODEV:
                    raise LabError(f"cannot delete {lf.name} from the root namespace: {exc}",
                                   hint=f"delete it by hand: ip link del {lf.name}") from exc
            removed.append(f"link {lf.name} (root namespace)")
    return removed


def fresh_vfs(pf: PfRecord, count: int) -> list[VfRecord]:
    """VF records as a newly written sriov_numvfs leaves them: default settings, MACs not yet known."""
    return [VfRecord(n, vf_netdev(pf.name, n), vf_peer(pf.index, n), None, VfConfig()) for n in range(count)]


def update_lab(
    directory: Path | str,
    mutate: Callable[[LabState], None],
    *,
    ipr_factory: IprFactory | None = None,
) -> tuple[LabState, Reconciled]:
    """Under the lab's lock: load the state, change it, make the kernel match, save. Nothing is saved
    when `mutate` raises; a kernel refusal leaves the old state on disk (the next call repairs)."""
    with lab_state.locked(directory):
        st = lab_state.load(directory)
        before = st.as_dict()
        mutate(st)
        with _intent_recorded(directory, st, before) as on_disk, open_handles(st, ipr_factory) as h:
            result = reconcile(h, st)
        record_vf_macs(st, result)
        if st.as_dict() != on_disk:
            lab_state.save(directory, st)
    return st, result


@contextlib.contextmanager
def _intent_recorded(directory: Path | str, st: LabState, before: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The lab records what it is about to make the emulated NIC do before doing it, as the product
    does: a full disk then fails before the kernel is touched (host unchanged), and a kill part-way
    leaves a state that the next reconcile completes. When the kernel refuses, the old record is put
    back, so that the file never claims what the NIC does not do. Yields the record as it is on disk
    then: the caller saves again only what the kernel's answer changed (a VF's MAC), not the same
    record twice (on a rack it is every host's lab state, written durably under the lab's one lock)."""
    now = st.as_dict()
    changed = now != before
    if changed:
        lab_state.save(directory, st)
    try:
        yield now if changed else before
    except BaseException:
        if changed:
            with contextlib.suppress(Exception):
                lab_state.save(directory, lab_state.state_from_dict(before, lab_state.state_path(directory)))
        raise


# ---------------------------------------------------------------- one VF, without dumps
@dataclass(frozen=True)
class VfFacts:
    root_end: LinkFacts | None  # the VF netdev, when it is in the root namespace (under any name)
    peer: LinkFacts | None  # its NIC-side link
    peer_master: str | None  # the NIC bridge the peer is plugged into (its VLAN)


def _get(h: Handles, ns: Ns, **kw: Any) -> LinkFacts | None:
    msgs = _nl(h, ns, f"read link {kw}", "link", "get", ignore=(errno.ENODEV,), **kw)
    return LinkFacts.from_msg(msgs[0]) if msgs else None


def locate_vf(h: Handles, state: LabState, pf: PfRecord, vf: VfRecord) -> VfFacts:
    """Where a VF is, with a few `get`s instead of dumps (pyroute2 decodes a dump of a 64-VF lab in
    tenths of a second). The peer's IFLA_LINK is the VF's ifindex in whatever namespace holds it;
    our alias proves that this index in the root namespace is the VF and not a namesake."""
    peer, root_end = _vf_ends(h, state, pf, vf)
    if peer is None:
        return VfFacts(None, None, None)
    master = _get(h, "nic", index=peer.master) if peer.master else None
    return VfFacts(root_end, peer, master.name if master else None)


def _vf_ends(h: Handles, state: LabState, pf: PfRecord, vf: VfRecord) -> tuple[LinkFacts | None, LinkFacts | None]:
    """The VF's NIC-side peer, and the VF's netdev when it is in the root namespace (under any name)."""
    peer = _get(h, "nic", ifname=vf.nic_link)
    if peer is None or not peer.peer_index:
        return peer, None
    cand = _get(h, "root", index=peer.peer_index)
    return peer, cand if cand is not None and cand.alias == vf_alias(state.topology, pf.name, vf.index) else None


def root_look_by_gets(state: LabState, pf: PfRecord) -> bool:
    """Whether a look at `pf` in the root namespace costs less as gets than as one dump. pyroute2 decodes
    every link of a dump (~0.7 ms of CPU each here), and on an emulated rack the root namespace holds every
    host's PFs and the VFs at home: 80 links at 16 hosts x 4 VFs, against 1 + 2 x 4 gets for one PF.
    A lab of one host with many VFs (32 VFs: 65 gets against a dump of at most 33 links, a few once the VFs
    are in containers) keeps the dump. The bound counts every VF as if at home."""
    links_bound = sum(1 + p.numvfs for p in state.pfs)
    return 1 + 2 * pf.numvfs < links_bound // 2


def locate_pf(h: Handles, state: LabState, pf: PfRecord) -> tuple[LinkFacts | None, list[LinkFacts | None]]:
    """The PF's link in the root namespace and each VF's netdev there (None: in a container, or missing),
    from one dump of the root namespace or, when `root_look_by_gets` says it costs less, with gets:
    the PF by name, each VF through its NIC-side peer (IFLA_LINK is the VF's ifindex wherever it is;
    our alias proves that this index in the root namespace is the VF)."""
    if not root_look_by_gets(state, pf):
        root = h.dump("root")
        return root.by_name.get(pf.name), [root.by_alias(vf_alias(state.topology, pf.name, vf.index)) for vf in pf.vfs]
    return _get(h, "root", ifname=pf.name), [_vf_ends(h, state, pf, vf)[1] for vf in pf.vfs]


@dataclass
class _VfWork:
    """What a VF's links need so that they match its settings."""

    peer: dict[str, Any]  # `link set` of the NIC-side link: bridge (its VLAN), IPv6 address generation, MTU
    up: bool | None  # the NIC-side link's admin state to set (None: as it is)
    mac: str | None  # the admin MAC to give the VF, at home (None: as it is)

    def __bool__(self) -> bool:
        return bool(self.peer) or self.up is not None or self.mac is not None


def _vf_work(h: Handles, state: LabState, pf: PfRecord, vf: VfRecord, facts: VfFacts) -> _VfWork | None:
    """What `apply_vf` has to change; None when something the VF needs is missing (a full reconcile)."""
    if facts.peer is None:
        return None
    cfg = vf.config
    bridge = nic_bridge(pf.index, cfg.vlan) if cfg.vlan else None
    kw: dict[str, Any] = {}
    if facts.peer_master != bridge:
        br = _get(h, "nic", ifname=bridge) if bridge else None
        if bridge and br is None:
            return None
        kw["master"] = br.index if br else 0
    if facts.peer.addr_gen_mode != ADDR_GEN_MODE_NONE:
        kw["IFLA_AF_SPEC"] = _IN6_NONE
    if facts.peer.mtu != NIC_LINK_MTU:
        kw["mtu"] = NIC_LINK_MTU
    up = vf_link_up(cfg.link_state, pf.name not in state.faults.pf_down)
    mac = cfg.mac if cfg.mac and facts.root_end is not None and (facts.root_end.mac or "").lower() != cfg.mac else None
    return _VfWork(kw, up if facts.peer.admin_up != up else None, mac)


def apply_vf(h: Handles, state: LabState, pf: PfRecord, vf: VfRecord) -> VfFacts | None:
    """Apply one VF's settings to its NIC-side link (and its admin MAC when it is at home).
    None when something the VF needs is missing: the caller then runs the full `reconcile`."""
    facts = locate_vf(h, state, pf, vf)
    work = _vf_work(h, state, pf, vf, facts)
    if work is None:
        return None
    assert facts.peer is not None  # _vf_work said so
    if work.peer:
        _nl(h, "nic", f"configure {vf.nic_link}", "link", "set", index=facts.peer.index, **work.peer)
    if work.up is not None:
        _nl(h, "nic", f"set {vf.nic_link} {'up' if work.up else 'down'}", "link", "set", index=facts.peer.index,
            state="up" if work.up else "down")
    if work.mac is not None and facts.root_end is not None:
        _nl(h, "root", f"set the MAC of {facts.root_end.name}", "link", "set", index=facts.root_end.index, address=work.mac)
    return locate_vf(h, state, pf, vf)


def vf_in_order(h: Handles, state: LabState, pf: PfRecord, vf: VfRecord) -> VfFacts | None:
    """The VF's facts when `update_vf` would change nothing, found without the lab's lock (a look);
    None when it would (links to set, a veth pair to rebuild, a MAC to record): then call it.
    On a rack, 16 hosts' processes looking at their VFs queued on the one lock for nothing."""
    facts = locate_vf(h, state, pf, vf)
    work = _vf_work(h, state, pf, vf, facts)
    if work is None or work:
        return None
    if facts.root_end is not None and facts.root_end.mac and vf.mac != facts.root_end.mac:
        return None
    return facts


def update_vf(
    directory: Path | str,
    pf_name: str,
    vf_index: int,
    mutate: Callable[[LabState], None],
    *,
    ipr_factory: IprFactory | None = None,
) -> tuple[LabState, VfFacts]:
    """`update_lab` for one VF: its own links only, unless its veth pair or bridge must be (re)built."""
    with lab_state.locked(directory):
        st = lab_state.load(directory)
        before = st.as_dict()
        mutate(st)
        pf = st.pf(pf_name)
        vf = pf.vfs[vf_index]
        with _intent_recorded(directory, st, before) as on_disk, open_handles(st, ipr_factory) as h:
            facts = apply_vf(h, st, pf, vf)
            if facts is None:
                record_vf_macs(st, reconcile(h, st))
                facts = locate_vf(h, st, pf, vf)
        if facts.root_end is not None and facts.root_end.mac:
            vf.mac = facts.root_end.mac
        if st.as_dict() != on_disk:
            lab_state.save(directory, st)
    return st, facts


# ---------------------------------------------------------------- one PF's VF count, without dumps
def _build_vf(h: Handles, state: LabState, pf: PfRecord, vf: VfRecord) -> VfFacts | None:
    """A VF's veth pair made if it is missing, then its links set (`apply_vf`). None when anything
    else is in the way (a link of that name, a bridge missing): the caller runs the full reconcile."""
    facts = locate_vf(h, state, pf, vf)
    if facts.peer is not None and facts.root_end is None and facts.peer.peer_index:
        cand = _get(h, "root", index=facts.peer.peer_index)
        if cand is not None and not cand.alias:
            return None  # a VF end without our mark: a run cut short between making the pair and marking it
    if facts.peer is None:
        if _get(h, "root", ifname=vf.netdev) is not None:
            return None  # a namesake: the full reconcile names the conflict
        kw: dict[str, Any] = {"ifname": vf.netdev, "kind": "veth",
                              "peer": {"ifname": vf.nic_link, "net_ns_fd": h.ns_names["nic"]}}
        if vf.config.mac or vf.mac:
            kw["address"] = vf.config.mac or vf.mac
        _nl(h, "root", f"create veth pair {vf.netdev}/{vf.nic_link}", "link", "add", **kw)
        end = _get(h, "root", ifname=vf.netdev)
        if end is None:
            return None
        _nl(h, "root", f"configure {vf.netdev}", "link", "set", index=end.index,
            ifalias=vf_alias(state.topology, pf.name, vf.index))
    return apply_vf(h, state, pf, vf)


def update_pf_vfs(
    directory: Path | str,
    pf_name: str,
    mutate: Callable[[LabState], None],
    *,
    ipr_factory: IprFactory | None = None,
) -> tuple[LabState, dict[int, VfFacts]]:
    """`update_lab` for a change of one PF's VFs (its VF count): that PF's VF veth pairs made or
    removed, each VF's links set, with a few `get`s per VF. The full `reconcile` dumps the root, NIC
    and switch namespaces twice, and on an emulated rack they hold every host's links: 0.7-0.9 CPU-s
    per count change at 16 hosts, under the one lab lock that every host's provision and teardown
    wait for. Anything else out of order falls back to the full reconcile. Returns each VF's facts."""
    with lab_state.locked(directory):
        st = lab_state.load(directory)
        before = st.as_dict()
        mutate(st)
        pf = st.pf(pf_name)
        facts: dict[int, VfFacts] = {}
        with _intent_recorded(directory, st, before) as on_disk, open_handles(st, ipr_factory) as h:
            full = False
            # Every VF beyond the count, not only those the state knew: a run killed part-way through
            # a lower count has already recorded it.
            for gone in (vf_peer(pf.index, n) for n in range(len(pf.vfs), pf.totalvfs)):
                # The NIC-side end takes its pair with it, wherever the VF end is (a container too).
                peer = _get(h, "nic", ifname=gone)
                if peer is not None:
                    _nl(h, "nic", f"delete {gone}", "link", "del", index=peer.index, ignore=(errno.ENODEV,))
            for vf in pf.vfs:
                got = _build_vf(h, st, pf, vf)
                if got is None:
                    full = True
                    break
                facts[vf.index] = got
            if full:
                record_vf_macs(st, reconcile(h, st))
                facts = {vf.index: locate_vf(h, st, pf, vf) for vf in pf.vfs}
        for vf in pf.vfs:
            end = facts[vf.index].root_end
            if end is not None and end.mac:
                vf.mac = end.mac
        if st.as_dict() != on_disk:
            lab_state.save(directory, st)
    return st, facts
