"""Network-namespace operations shared by the real and the emulated host: read links, move a
VF netdev into a container's namespace and back, read the neighbour (ARP) table.

Everything goes through netlink (pyroute2). Work inside a namespace runs in a short-lived
dedicated thread that `setns()`s into it: setns(CLONE_NEWNET) changes only the calling
thread, so the rest of the process stays where it is, and sockets (netlink, raw ICMP) and
`/proc/sys/net` files opened by that thread belong to the target namespace. This avoids
pyroute2's fork-per-namespace helper processes and never creates a namespace by accident
(pyroute2's `IPRoute(netns=...)` creates missing ones unless `flags=0`).

A namespace is named by a path (`/proc/<pid>/ns/net`, `/var/run/netns/<name>`); `None`
means the namespace this process runs in.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import ipaddress
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sriovcheck.crashpoints import crashpoint
from sriovcheck.errors import HostError
from sriovcheck.host.netlink import IPRoute, NetlinkError

T = TypeVar("T")

# Not /proc/1/ns/net: PID 1 may be unreadable (sandboxes, hardened /proc), and "the host" is
# wherever sriovcheck runs, which on a real host is the root namespace anyway.
_OWN_NETNS = "/proc/thread-self/ns/net"
_CLONE_NEWNET = 0x40000000
_IFF_UP = 0x1

# NUD_* bits of ndmsg.state (include/uapi/linux/neighbour.h)
_NUD_STATES = {
    0x01: "INCOMPLETE",
    0x02: "REACHABLE",
    0x04: "STALE",
    0x08: "DELAY",
    0x10: "PROBE",
    0x20: "FAILED",
    0x40: "NOARP",
    0x80: "PERMANENT",
}


@dataclass(frozen=True)
class LinkView:
    name: str
    index: int
    mac: str | None
    mtu: int | None
    operstate: str | None  # UP, DOWN, LOWERLAYERDOWN, UNKNOWN ...
    admin_up: bool
    carrier: bool | None
    addresses: list[str] = field(default_factory=list)  # CIDR, IPv4 first
    kind: str | None = None  # veth, bridge, macvlan ...; None for physical NICs and VFs


@dataclass(frozen=True)
class Neighbour:
    ip: str
    mac: str | None  # None while INCOMPLETE / FAILED
    state: str  # REACHABLE, STALE, DELAY, PROBE, FAILED, INCOMPLETE, PERMANENT, NOARP, NONE
    ifname: str | None


# -- running code inside a namespace ---------------------------------------------------------


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _ns_label(ns: str | None) -> str:
    return "the host namespace" if ns is None else f"network namespace {ns}"


def open_netns_fd(path: str) -> int:
    """Open a namespace file; HostError (not a new namespace) when it does not exist."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise HostError(
            f"network namespace {path} does not exist",
            hint="the container may have stopped; check it with `docker ps -a`",
        ) from exc
    except OSError as exc:
        raise HostError(f"cannot open network namespace {path}: {exc.strerror}") from exc


def run_in_netns(ns: str | None, fn: Callable[[], T]) -> T:
    """Run `fn` in a fresh thread that has joined namespace `ns` (None: stays in ours); return
    or raise what it did.

    The thread ends afterwards, so no thread of this process is left in another namespace. A
    fresh thread also for None: pyroute2's sync API cannot run inside a running asyncio loop,
    which the caller's thread may have (the lab's SSH server does).
    """
    fd = open_netns_fd(ns) if ns is not None else None
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            if fd is not None and _libc().setns(fd, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise HostError(f"cannot enter network namespace {ns}: {os.strerror(err)}")
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    try:
        thread = threading.Thread(target=body, name="sriovcheck-netns", daemon=True)
        thread.start()
        thread.join()
    finally:
        if fd is not None:
            os.close(fd)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def sockets_in_netns(wanted: list[tuple[str, int, int, int]]) -> list[socket.socket | BaseException]:
    """Sockets in many namespaces at once: (namespace path, family, type, proto) each; a socket or
    the error that prevented it (HostError for a namespace that does not exist), in order.

    One fresh thread enters each namespace in turn and ends afterwards (as `run_in_netns`, no
    thread of this process is left in another namespace): starting a thread per socket costs more
    than the socket when many probes start at once (32 VFs: the last ping left ~0.16 s after the
    first, each thread start waiting for the interpreter lock)."""
    out: list[socket.socket | BaseException] = []

    def body() -> None:
        for ns, family, type_, proto in wanted:
            try:
                fd = open_netns_fd(ns)
                try:
                    if _libc().setns(fd, _CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise HostError(f"cannot enter network namespace {ns}: {os.strerror(err)}")
                finally:
                    os.close(fd)
                out.append(socket.socket(family, type_, proto))
            except Exception as exc:  # handed to the caller, per socket
                out.append(exc)

    thread = threading.Thread(target=body, name="sriovcheck-netns", daemon=True)
    thread.start()
    thread.join()
    if len(out) != len(wanted):  # the thread died without a Python exception per item (cannot happen)
        out += [HostError("cannot open a probe socket")] * (len(wanted) - len(out))
    return out


def socket_in_netns(ns: str | None, family: int, type_: int, proto: int = 0) -> socket.socket:
    """A socket that lives in namespace `ns` (it keeps it after the creating thread has gone)."""
    return run_in_netns(ns, lambda: socket.socket(family, type_, proto))


def with_iproute(ns: str | None, fn: Callable[[IPRoute], T]) -> T:
    """Run `fn(ipr)` with an IPRoute bound to namespace `ns`, closing it afterwards."""

    def body() -> T:
        with _iproute() as ipr:
            return fn(ipr)

    return run_in_netns(ns, body)


@contextmanager
def _iproute() -> Iterator[IPRoute]:
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _write_sysctl(path: str, value: str) -> None:
    # /proc/sys/net is resolved against the opening thread's namespace (checked on 6.x kernels),
    # so this must run inside run_in_netns.
    with open(path, "w") as f:
        f.write(value)


# -- reading ---------------------------------------------------------------------------------


def _lookup(ipr: IPRoute, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return int(found[0]) if found else None


def _addresses(ipr: IPRoute, index: int | None = None) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    msgs = ipr.get_addr(index=index) if index is not None else ipr.get_addr()
    for msg in sorted(msgs, key=lambda m: m["family"] != socket.AF_INET):
        addr = msg.get("IFA_ADDRESS") or msg.get("IFA_LOCAL")
        if addr:
            out.setdefault(int(msg["index"]), []).append(f"{addr}/{msg['prefixlen']}")
    return out


def _view(msg: Any, addresses: dict[int, list[str]]) -> LinkView:
    index = int(msg["index"])
    linkinfo = msg.get("IFLA_LINKINFO")
    carrier = msg.get("IFLA_CARRIER")
    mtu = msg.get("IFLA_MTU")
    return LinkView(
        name=str(msg.get("IFLA_IFNAME")),
        index=index,
        mac=msg.get("IFLA_ADDRESS"),
        mtu=int(mtu) if mtu is not None else None,
        operstate=msg.get("IFLA_OPERSTATE"),
        admin_up=bool(msg["flags"] & _IFF_UP),
        carrier=bool(carrier) if carrier is not None else None,
        addresses=addresses.get(index, []),
        kind=linkinfo.get("IFLA_INFO_KIND") if linkinfo is not None else None,
    )


def _read_link(ipr: IPRoute, ifname: str) -> LinkView | None:
    index = _lookup(ipr, ifname)
    if index is None:
        return None
    try:
        (msg,) = ipr.link("get", index=index)
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:  # vanished between lookup and get
            return None
        raise
    return _view(msg, _addresses(ipr, index))


def read_link(ns: str | None, ifname: str) -> LinkView | None:
    """The link `ifname` in namespace `ns`, or None when there is none by that name."""
    return with_iproute(ns, lambda ipr: _read_link(ipr, ifname))


def list_links(ns: str | None) -> list[LinkView]:
    def body(ipr: IPRoute) -> list[LinkView]:
        addrs = _addresses(ipr)
        return sorted((_view(m, addrs) for m in ipr.get_links()), key=lambda v: v.index)

    return with_iproute(ns, body)


def list_link_aliases(ns: str | None) -> dict[str, str | None]:
    """Every link of namespace `ns`: name -> IFLA_IFALIAS (the emulated lab marks its VFs with one)."""
    return with_iproute(ns, lambda ipr: {str(m.get("IFLA_IFNAME")): m.get("IFLA_IFALIAS") for m in ipr.get_links()})


def list_link_parents(ns: str | None) -> dict[str, str | None]:
    """Every link of namespace `ns`: name -> its parent device (IFLA_PARENT_DEV_NAME, a PCI address
    for a NIC or a VF; kernels since 5.15 report it, in any namespace)."""
    return with_iproute(ns, lambda ipr: {str(m.get("IFLA_IFNAME")): m.get("IFLA_PARENT_DEV_NAME") for m in ipr.get_links()})


def find_link_by_mac(ns: str | None, mac: str) -> LinkView | None:
    wanted = mac.lower()
    return next((v for v in list_links(ns) if (v.mac or "").lower() == wanted), None)


def neighbours(ns: str | None, ifname: str | None = None) -> list[Neighbour]:
    """IPv4 neighbour (ARP) entries of namespace `ns`, optionally of one interface."""

    def body(ipr: IPRoute) -> list[Neighbour]:
        names = {int(m["index"]): str(m.get("IFLA_IFNAME")) for m in ipr.get_links()}
        query: dict[str, Any] = {}
        if ifname is not None:
            index = next((i for i, n in names.items() if n == ifname), None)
            if index is None:
                raise HostError(f"no interface {ifname} in {_ns_label(ns)} to read neighbours of")
            query["ifindex"] = index
        out = []
        for msg in ipr.get_neighbours(family=socket.AF_INET, **query):
            dst = msg.get("NDA_DST")
            if dst is None:
                continue
            out.append(
                Neighbour(
                    ip=str(dst),
                    mac=msg.get("NDA_LLADDR"),
                    state=_nud_state(int(msg["state"])),
                    ifname=names.get(int(msg["ifindex"])),
                )
            )
        return sorted(out, key=lambda n: (n.ifname or "", ipaddress.ip_address(n.ip)))

    return with_iproute(ns, body)


def _nud_state(state: int) -> str:
    return "|".join(name for bit, name in _NUD_STATES.items() if state & bit) or "NONE"


# -- moving a VF netdev into a container and back ----------------------------------------------


class _Step:
    """Remembers which step is running so that an error can name it."""

    def __init__(self) -> None:
        self.name = "start"

    def __call__(self, name: str) -> None:
        self.name = name


def _nl(exc: BaseException) -> str:
    if isinstance(exc, NetlinkError):
        return f"{os.strerror(exc.code)} (netlink error {exc.code})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def attach_vf(
    host_ifname: str,
    *,
    netns_path: str,
    ifname: str,
    address_cidr: str,
    mtu: int | None,
    mac: str | None,
    temp_name: str,
    host_netns: str | None = None,
) -> LinkView:
    """Move netdev `host_ifname` (in `host_netns`, default: ours) into `netns_path` as `ifname`
    with `address_cidr`, optional MTU and MAC, arp_notify on, and bring it up.

    Goes through `temp_name` in both namespaces so that no name clashes on the way. On a failure
    part-way, puts the netdev back under its original name and raises HostError naming the step.
    """
    where = f"VF netdev {host_ifname} -> {ifname} in network namespace {netns_path}"
    step = _Step()
    ns_fd = open_netns_fd(netns_path)
    try:
        # Refuse clashes before touching anything.
        def precheck(ipr: IPRoute) -> None:
            for name in (ifname, temp_name):
                if _lookup(ipr, name) is not None:
                    raise HostError(
                        f"{where}: an interface named {name} already exists in the container namespace",
                        hint="remove it, or choose another interface name in the topology",
                    )

        with_iproute(netns_path, precheck)

        def out_of_host(ipr: IPRoute) -> tuple[int | None, str | None, bool]:
            index = _lookup(ipr, host_ifname)
            if index is None:
                raise HostError(
                    f"{where}: no netdev {host_ifname} in {_ns_label(host_netns)}",
                    hint="check `sriovcheck status`: the VF may still be inside another container",
                )
            if temp_name != host_ifname and _lookup(ipr, temp_name) is not None:
                raise HostError(f"{where}: temporary name {temp_name} is taken in {_ns_label(host_netns)}")
            (msg,) = ipr.link("get", index=index)
            orig = (msg.get("IFLA_MTU"), msg.get("IFLA_ADDRESS"), bool(msg["flags"] & _IFF_UP))
            renamed = False
            try:
                step("link down on the host")
                ipr.link("set", index=index, state="down")
                step(f"rename to {temp_name} on the host")
                ipr.link("set", index=index, ifname=temp_name)
                renamed = True
                crashpoint("attach-host-renamed")
                step("move into the container namespace")
                ipr.link("set", index=index, net_ns_fd=ns_fd)
            except BaseException:
                _best_effort(lambda: _restore_host(ipr, index, host_ifname, orig, renamed=renamed))
                raise
            return orig

        try:
            orig = with_iproute(host_netns, out_of_host)
        except (NetlinkError, OSError) as exc:
            raise HostError(f"{where}: step '{step.name}' failed: {_nl(exc)}") from exc

        def inside(ipr: IPRoute) -> LinkView:
            index = _lookup(ipr, temp_name)
            if index is None:
                raise HostError(f"{where}: {temp_name} did not arrive in the container namespace")
            crashpoint("attach-moved")
            step(f"rename {temp_name} to {ifname}")
            ipr.link("set", index=index, ifname=ifname)
            crashpoint("attach-renamed")
            if mtu is not None:
                step(f"set MTU {mtu}")
                ipr.link("set", index=index, mtu=mtu)
            if mac is not None:
                step(f"set MAC {mac}")
                ipr.link("set", index=index, address=mac)
            step(f"add address {address_cidr}")
            try:
                ipr.addr("add", index=index, address=address_cidr)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
            step("enable arp_notify")
            # The kernel then announces the address (gratuitous ARP) when the link comes up,
            # so the switch and the gateway learn the new MAC at once.
            _write_sysctl(f"/proc/sys/net/ipv4/conf/{ifname}/arp_notify", "1")
            step("link up")
            ipr.link("set", index=index, state="up")
            view = _read_link(ipr, ifname)
            if view is None:
                raise HostError(f"{where}: {ifname} vanished right after being set up")
            return view

        try:
            return with_iproute(netns_path, inside)
        except BaseException as exc:
            failed = step.name
            names = (temp_name, ifname)  # temp first: if the rename failed, eth1 may be someone else's
            _best_effort(lambda: _undo_attach(netns_path, names, host_netns, temp_name, host_ifname, orig))
            if isinstance(exc, HostError):
                raise
            if isinstance(exc, (NetlinkError, OSError)):
                back = f"the netdev was moved back to the host as {host_ifname}"
                raise HostError(f"{where}: step '{failed}' failed: {_nl(exc)}; {back}") from exc
            raise
    finally:
        os.close(ns_fd)


def _best_effort(fn: Callable[[], object]) -> None:
    # Used only on an error path: the original error is what the user must see.
    with contextlib.suppress(Exception):
        fn()


def _restore_host(
    ipr: IPRoute,
    index: int,
    host_ifname: str,
    orig: tuple[int | None, str | None, bool],
    *,
    renamed: bool = True,
) -> None:
    mtu, mac, was_up = orig
    ipr.link("set", index=index, state="down")
    if renamed:
        ipr.link("set", index=index, ifname=host_ifname)
    if mtu is not None:
        _best_effort(lambda: ipr.link("set", index=index, mtu=mtu))
    if mac is not None:
        _best_effort(lambda: ipr.link("set", index=index, address=mac))
    if was_up:
        ipr.link("set", index=index, state="up")


def _undo_attach(
    netns_path: str,
    names: tuple[str, ...],
    host_netns: str | None,
    temp_name: str,
    host_ifname: str,
    orig: tuple[int | None, str | None, bool],
) -> None:
    _move_home(netns_path, names, host_netns, temp_name)

    def home(ipr: IPRoute) -> None:
        index = _lookup(ipr, temp_name)
        if index is not None:
            _restore_host(ipr, index, host_ifname, orig)

    with_iproute(host_netns, home)


def _move_home(netns_path: str, names: tuple[str, ...], host_netns: str | None, temp_name: str) -> bool:
    """Flush, down, rename to `temp_name` and move the first of `names` found to `host_netns`."""
    # Opened by the calling thread, before entering the container namespace: thread-self is "ours".
    host_fd = open_netns_fd(host_netns or _OWN_NETNS)
    try:

        def body(ipr: IPRoute) -> bool:
            index = next((i for i in (_lookup(ipr, n) for n in names) if i is not None), None)
            if index is None:
                return False
            ipr.flush_addr(index=index)
            ipr.link("set", index=index, state="down")
            ipr.link("set", index=index, ifname=temp_name)
            ipr.link("set", index=index, net_ns_fd=host_fd)
            return True

        return with_iproute(netns_path, body)
    finally:
        os.close(host_fd)


def detach_vf(ifname: str, *, netns_path: str, host_ifname: str, host_netns: str | None = None,
              temp_name: str | None = None) -> None:
    """Inverse of attach_vf: flush addresses, link down, move `ifname` out of `netns_path` into
    `host_netns` (default: ours) via a temporary name, rename it `host_ifname`. The provisioning
    engine passes the temporary name it journalled, so that a crash part-way leaves the VF under a
    name recovery knows."""
    where = f"VF netdev {ifname} in network namespace {netns_path} -> {host_ifname}"
    temp_name = temp_name or "sctmp" + secrets.token_hex(4)

    def present(ipr: IPRoute) -> bool:
        return _lookup(ipr, ifname) is not None

    def host_name_taken(ipr: IPRoute) -> bool:
        return _lookup(ipr, host_ifname) is not None

    if not with_iproute(netns_path, present):
        if with_iproute(host_netns, host_name_taken):
            hint = f"{host_ifname} is already in {_ns_label(host_netns)}: nothing to detach"
        else:
            hint = "a real VF whose container stopped is back on the host under its in-container name"
            hint += ": find it by its MAC or PCI address"
        raise HostError(f"{where}: no interface {ifname} in the container namespace", hint=hint)
    if with_iproute(host_netns, host_name_taken):
        raise HostError(
            f"{where}: {_ns_label(host_netns)} already has an interface named {host_ifname}",
            hint="rename or remove that interface, then run the teardown again",
        )
    try:
        moved = _move_home(netns_path, (ifname,), host_netns, temp_name)
    except (NetlinkError, OSError) as exc:
        raise HostError(f"{where}: moving it out of the container failed: {_nl(exc)}") from exc
    if not moved:
        raise HostError(f"{where}: {ifname} vanished from the container namespace during the detach")

    crashpoint("detach-moved")

    def rename(ipr: IPRoute) -> None:
        index = _lookup(ipr, temp_name)
        if index is None:
            raise HostError(f"{where}: {temp_name} did not arrive in {_ns_label(host_netns)}")
        ipr.link("set", index=index, ifname=host_ifname)

    try:
        with_iproute(host_netns, rename)
    except (NetlinkError, OSError) as exc:
        raise HostError(
            f"{where}: renaming {temp_name} to {host_ifname} failed: {_nl(exc)}",
            hint=f"it is on the host as {temp_name}: `ip link set {temp_name} name {host_ifname}`",
        ) from exc
