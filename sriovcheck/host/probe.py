"""ICMP echo from the host, inside a container's network namespace, out of one interface.

The container image needs no `ping` or `ip` (distroless works): the raw ICMP socket is created
by a thread that has joined the container's namespace (`sriovcheck.host.netns.socket_in_netns`)
and keeps that namespace afterwards. SO_BINDTODEVICE pins it to the VF, so a probe can only
leave through the VF and never through the container's eth0 / docker default route: a VLAN
problem shows up as loss instead of being hidden by another path.

The packet functions at the top are pure (unit-tested without root).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import itertools
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sriovcheck.errors import HostError
from sriovcheck.host.netns import read_link, socket_in_netns, sockets_in_netns

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
_SOL_RAW = 255
_ICMP_FILTER = 1  # linux/icmp.h: a bitmask of ICMP types the raw socket must NOT receive
_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)
_IFNAMSIZ = 16
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # asm-generic/socket.h; SCM_TIMESTAMPNS is the same number
_TIMESPEC = struct.Struct("@ll")


# -- packets (pure) ------------------------------------------------------------------------------


def icmp_checksum(data: bytes) -> int:
    """RFC 1071 internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_payload(size: int) -> bytes:
    """A recognisable payload of `size` bytes (like iputils: 0x00, 0x01, ... repeating)."""
    return bytes(i & 0xFF for i in range(size))


def build_echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    csum = icmp_checksum(header + payload)
    return header[:2] + struct.pack("!H", csum) + header[4:] + payload


@dataclass(frozen=True)
class EchoReply:
    src: str
    ident: int
    seq: int
    ttl: int
    payload: bytes


def parse_echo_reply(packet: bytes) -> EchoReply | None:
    """Parse what a raw IPv4 ICMP socket receives (IP header included). None unless it is an
    intact echo reply."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if ihl < 20 or len(packet) < ihl + 8 or packet[9] != socket.IPPROTO_ICMP:
        return None
    icmp = packet[ihl:]
    icmp_type, code, _csum, ident, seq = struct.unpack("!BBHHH", icmp[:8])
    if icmp_type != ICMP_ECHO_REPLY or code != 0 or icmp_checksum(icmp) != 0:
        return None
    src = socket.inet_ntoa(packet[12:16])
    return EchoReply(src=src, ident=ident, seq=seq, ttl=packet[8], payload=icmp[8:])


# -- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PingRequest:
    netns_path: str
    ifname: str
    dst: str
    count: int = 3
    timeout_s: float = 1.0
    interval_s: float = 0.2
    payload_size: int = 56
    dont_fragment: bool = False
    # Called once, from the probing thread, when the first reply arrives (the path works now).
    on_first_reply: Callable[[], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PingResult:
    sent: int
    received: int
    rtts_ms: list[float] = field(default_factory=list)
    error: str | None = None  # could not probe (no namespace, no interface), or sends failed

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    @property
    def min_ms(self) -> float | None:
        return min(self.rtts_ms) if self.rtts_ms else None

    @property
    def avg_ms(self) -> float | None:
        return sum(self.rtts_ms) / len(self.rtts_ms) if self.rtts_ms else None

    @property
    def max_ms(self) -> float | None:
        return max(self.rtts_ms) if self.rtts_ms else None

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "received": self.received,
            "loss_pct": round(self.loss_pct, 1),
            "rtts_ms": [round(r, 3) for r in self.rtts_ms],
            "min_ms": self.min_ms,
            "avg_ms": self.avg_ms,
            "max_ms": self.max_ms,
            "error": self.error,
        }


# -- probing ---------------------------------------------------------------------------------------

_ident_lock = threading.Lock()
_idents = itertools.count(secrets.randbelow(0x10000))


def _next_ident() -> int:
    # Every raw ICMP socket of a namespace sees every echo reply arriving on its device, so
    # concurrent probes must not share an identifier.
    with _ident_lock:
        return next(_idents) & 0xFFFF


def open_icmp_socket(netns_path: str, ifname: str, *, dont_fragment: bool = False) -> socket.socket:
    """A raw ICMP socket in `netns_path`, bound to `ifname`, receiving echo replies only.

    Raises HostError when the namespace or the interface does not exist.
    """
    return _configure_icmp(socket_in_netns(netns_path, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), netns_path, ifname,
                           dont_fragment=dont_fragment)


def _configure_icmp(sock: socket.socket, netns_path: str, ifname: str, *, dont_fragment: bool) -> socket.socket:
    """Pin a raw ICMP socket (made in `netns_path`) to `ifname`, echo replies only, non-blocking."""
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, ifname.encode())
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise HostError(f"no interface {ifname} in network namespace {netns_path}") from exc
            raise HostError(f"cannot bind a probe socket to {ifname} in {netns_path}: {exc}") from exc
        sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", ~(1 << ICMP_ECHO_REPLY) & 0xFFFFFFFF))
        if dont_fragment:
            sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def bound_device(sock: socket.socket) -> str:
    """The interface a socket is pinned to ("" when none)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, _IFNAMSIZ)
    return raw.split(b"\0", 1)[0].decode()


def ping(
    netns_path: str,
    ifname: str,
    dst: str,
    *,
    count: int,
    timeout_s: float,
    interval_s: float = 0.2,
    payload_size: int = 56,
    dont_fragment: bool = False,
    clock: Callable[[], float] = time.monotonic,
    on_first_reply: Callable[[], None] | None = None,
) -> PingResult:
    """Send `count` echo requests to `dst` out of `ifname` inside `netns_path`, `interval_s`
    apart; a reply counts when it arrives within `timeout_s` of its request. Never raises for
    a missing namespace or interface: the result carries the error text."""
    try:
        if ipaddress.ip_address(dst).version != 4:
            return PingResult(0, 0, error=f"{dst}: only IPv4 destinations can be probed")
    except ValueError:
        return PingResult(0, 0, error=f"{dst!r} is not an IP address")
    if count < 1 or not 0 <= payload_size <= 65507:
        return PingResult(0, 0, error=f"bad probe: count={count}, payload_size={payload_size}")
    try:
        sock = open_icmp_socket(netns_path, ifname, dont_fragment=dont_fragment)
    except (HostError, OSError) as exc:
        return PingResult(0, 0, error=getattr(exc, "message", None) or str(exc))
    with sock:
        return _exchange(
            sock, ifname, dst, count=count, timeout_s=timeout_s, interval_s=interval_s,
            payload=echo_payload(payload_size), clock=clock, on_first_reply=on_first_reply,
        )  # fmt: skip


def _exchange(
    sock: socket.socket,
    ifname: str,
    dst: str,
    *,
    count: int,
    timeout_s: float,
    interval_s: float,
    payload: bytes,
    clock: Callable[[], float],
    on_first_reply: Callable[[], None] | None = None,
) -> PingResult:
    ident = _next_ident()
    sent_at: dict[int, float] = {}
    rtts: dict[int, float] = {}
    send_errors: list[str] = []
    seq = 0
    next_send = clock()
    deadline = next_send
    while True:
        now = clock()
        if seq < count and now >= next_send:
            seq += 1
            try:
                sock.sendto(build_echo_request(ident, seq, payload), (dst, 0))
                sent_at[seq] = now
            except OSError as exc:
                # EMSGSIZE here is the don't-fragment probe being bigger than the interface MTU.
                send_errors.append(f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno or 0, '?')})")
            next_send = now + interval_s
            deadline = now + timeout_s
        if seq >= count and (now >= deadline or len(rtts) == len(sent_at)):
            break
        wake = deadline if seq >= count else next_send
        ready, _, _ = select.select([sock], [], [], max(0.0, wake - clock()))
        if not ready:
            continue
        while True:
            try:
                packet = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            arrived = clock()
            reply = parse_echo_reply(packet)
            if (
                reply is None
                or reply.ident != ident
                or reply.src != dst
                or reply.seq not in sent_at
                or reply.seq in rtts
                or reply.payload != payload
            ):
                continue
            elapsed = arrived - sent_at[reply.seq]
            if elapsed <= timeout_s:
                rtts[reply.seq] = elapsed * 1000.0
                if on_first_reply is not None and len(rtts) == 1:
                    with contextlib.suppress(Exception):  # a listener's bug must not change the probe's result
                        on_first_reply()
    error = None
    if send_errors:
        n = len(send_errors)
        error = f"{n} of {count} sends to {dst} out of {ifname} failed: {send_errors[0]}"
    return PingResult(count, len(rtts), [rtts[s] for s in sorted(rtts)], error)


def _refused(r: PingRequest) -> PingResult | None:
    """The result of a request that cannot be probed at all (as `ping` answers it), else None."""
    try:
        if ipaddress.ip_address(r.dst).version != 4:
            return PingResult(0, 0, error=f"{r.dst}: only IPv4 destinations can be probed")
    except ValueError:
        return PingResult(0, 0, error=f"{r.dst!r} is not an IP address")
    if r.count < 1 or not 0 <= r.payload_size <= 65507:
        return PingResult(0, 0, error=f"bad probe: count={r.count}, payload_size={r.payload_size}")
    return None


@dataclass
class _Exchange:
    """One request's echo exchange inside `ping_many` (what `_exchange` keeps in locals)."""

    r: PingRequest
    sock: socket.socket
    payload: bytes
    ident: int
    next_send: float
    deadline: float
    seq: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)
    sent_wall: dict[int, float] = field(default_factory=dict)  # time.time() at each send, for kernel timestamps
    rtts: dict[int, float] = field(default_factory=dict)
    send_errors: list[str] = field(default_factory=list)

    def result(self) -> PingResult:
        error = None
        if self.send_errors:
            error = f"{len(self.send_errors)} of {self.r.count} sends to {self.r.dst} out of {self.r.ifname} failed: {self.send_errors[0]}"
        return PingResult(self.r.count, len(self.rtts), [self.rtts[s] for s in sorted(self.rtts)], error)


def ping_many(requests: list[PingRequest], max_workers: int = 32, clock: Callable[[], float] = time.monotonic) -> list[PingResult]:
    """Run the probes concurrently; results in the order of `requests`.

    Each request behaves as `ping` with its arguments (same schedule, same reply matching, same
    errors), but all of them run in the caller's thread, over one `select` on all their sockets:
    their sockets are opened in one pass through the namespaces. A thread per probe made the
    last of 32 probes start ~0.16 s after the first (every thread start waits for the interpreter
    lock), and that delay was on verify's critical path. `max_workers` is kept for callers; unused."""
    results: list[PingResult | None] = [_refused(r) for r in requests]
    todo = [i for i, res in enumerate(results) if res is None]
    opened = sockets_in_netns([(requests[i].netns_path, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) for i in todo])
    live: dict[int, _Exchange] = {}  # by socket fd
    index: dict[int, int] = {}  # socket fd -> position in `requests`
    try:
        for i, sock in zip(todo, opened, strict=True):
            r = requests[i]
            try:
                if isinstance(sock, BaseException):
                    raise sock
                _configure_icmp(sock, r.netns_path, r.ifname, dont_fragment=r.dont_fragment)
            except (HostError, OSError) as exc:
                results[i] = PingResult(0, 0, error=getattr(exc, "message", None) or str(exc))
                continue
            now = clock()
            # The kernel stamps each reply as it arrives: a round trip is the network's, not the time
            # this process took to get to the reply (32 probes share one thread and the interpreter
            # lock; user-space stamps read up to 46 ms for sub-millisecond round trips under load).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            live[sock.fileno()] = _Exchange(r, sock, echo_payload(r.payload_size), _next_ident(), now, now)
            index[sock.fileno()] = i
        while live:
            now = clock()
            for fd, x in list(live.items()):
                if x.seq < x.r.count and now >= x.next_send:
                    x.seq += 1
                    try:
                        x.sent_wall[x.seq] = time.time()
                        x.sock.sendto(build_echo_request(x.ident, x.seq, x.payload), (x.r.dst, 0))
                        x.sent_at[x.seq] = now
                    except OSError as exc:
                        # EMSGSIZE here is the don't-fragment probe being bigger than the interface MTU.
                        x.send_errors.append(f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno or 0, '?')})")
                    x.next_send = now + x.r.interval_s
                    x.deadline = now + x.r.timeout_s
                if x.seq >= x.r.count and (now >= x.deadline or len(x.rtts) == len(x.sent_at)):
                    results[index[fd]] = x.result()
                    del live[fd]
                    x.sock.close()
            if not live:
                break
            wake = min(x.deadline if x.seq >= x.r.count else x.next_send for x in live.values())
            ready, _, _ = select.select([x.sock for x in live.values()], [], [], max(0.0, wake - clock()))
            for sock in ready:
                fd = sock.fileno()
                x = live[fd]
                try:
                    _receive(x, clock)
                except Exception as exc:  # a bug in one probe must not lose the others' results
                    results[index[fd]] = PingResult(0, 0, error=f"probe failed: {exc!r}")
                    del live[fd]
                    x.sock.close()
    finally:
        for x in live.values():
            x.sock.close()
    out: list[PingResult] = []
    for res in results:
        out.append(res if res is not None else PingResult(0, 0, error="probe failed: no result"))
    return out


def _receive(x: _Exchange, clock: Callable[[], float]) -> None:
    while True:
        try:
            packet, ancdata, _flags, _addr = x.sock.recvmsg(65535, socket.CMSG_SPACE(_TIMESPEC.size))
        except (BlockingIOError, InterruptedError):
            return
        arrived = clock()
        stamped = next((_TIMESPEC.unpack(data[: _TIMESPEC.size]) for level, kind, data in ancdata
                        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size), None)
        reply = parse_echo_reply(packet)
        if (
            reply is None
            or reply.ident != x.ident
            or reply.src != x.r.dst
            or reply.seq not in x.sent_at
            or reply.seq in x.rtts
            or reply.payload != x.payload
        ):
            continue
        elapsed = arrived - x.sent_at[reply.seq]
        if stamped is not None and reply.seq in x.sent_wall:
            # the kernel's arrival time (CLOCK_REALTIME) minus the wall time just before the send;
            # bounded by what user space saw, in case the wall clock stepped meanwhile
            kernel = stamped[0] + stamped[1] / 1e9 - x.sent_wall[reply.seq]
            if 0 <= kernel <= elapsed:
                elapsed = kernel
        if elapsed <= x.r.timeout_s:
            x.rtts[reply.seq] = elapsed * 1000.0
            if x.r.on_first_reply is not None and len(x.rtts) == 1:
                with contextlib.suppress(Exception):  # a listener's bug must not change the probe's result
                    x.r.on_first_reply()


# -- gratuitous ARP ------------------------------------------------------------------------------

_ETH_P_ARP = 0x0806


def build_gratuitous_arp(mac: str, ip: str) -> bytes:
    """A broadcast ARP request for our own address (RFC 5227 announcement), Ethernet framed."""
    hw = bytes.fromhex(mac.replace(":", ""))
    if len(hw) != 6:
        raise ValueError(f"{mac!r} is not a MAC address")
    addr = socket.inet_aton(str(ipaddress.IPv4Address(ip)))
    eth = b"\xff" * 6 + hw + struct.pack("!H", _ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + addr + b"\0" * 6 + addr
    return eth + arp


def announce(netns_path: str, ifname: str, ip: str, *, mac: str | None = None, count: int = 3, interval_s: float = 0.1) -> None:
    """Send gratuitous ARPs for `ip` out of `ifname` inside `netns_path`, so that the switch and
    the gateway learn the MAC now. arp_notify's announcement at link-up is often lost: the peer
    (a bridge port here, a switch port on real hardware) forwards only once it has seen the
    carrier, a few ms later; hence several, `interval_s` apart. `mac` None: the link's own."""
    if mac is None:
        link = read_link(netns_path, ifname)
        if link is None or not link.mac:
            raise HostError(f"no interface {ifname} with a MAC address in network namespace {netns_path}")
        mac = link.mac
    frame = build_gratuitous_arp(mac, ip)
    sock = socket_in_netns(netns_path, socket.AF_PACKET, socket.SOCK_RAW, 0)
    with sock:
        try:
            sock.bind((ifname, 0))
            for i in range(count):
                if i:
                    time.sleep(interval_s)
                sock.send(frame)
        except OSError as exc:
            raise HostError(f"gratuitous ARP for {ip} out of {ifname} in {netns_path} failed: {exc}") from exc


def build_arp_request(mac: str, sender_ip: str, target_ip: str) -> bytes:
    """A broadcast ARP who-has `target_ip`, from `mac` / `sender_ip`, Ethernet framed."""
    hw = bytes.fromhex(mac.replace(":", ""))
    if len(hw) != 6:
        raise ValueError(f"{mac!r} is not a MAC address")
    spa = socket.inet_aton(str(ipaddress.IPv4Address(sender_ip)))
    tpa = socket.inet_aton(str(ipaddress.IPv4Address(target_ip)))
    eth = b"\xff" * 6 + hw + struct.pack("!H", _ETH_P_ARP)
    return eth + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + spa + b"\0" * 6 + tpa


def parse_arp_reply(frame: bytes, target_ip: str) -> str | None:
    """The MAC that answers for `target_ip` in an Ethernet-framed ARP reply, else None."""
    if len(frame) < 42 or struct.unpack("!H", frame[12:14])[0] != _ETH_P_ARP:
        return None
    _htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    if ptype != 0x0800 or hlen != 6 or plen != 4 or op != 2:
        return None
    if frame[28:32] != socket.inet_aton(str(ipaddress.IPv4Address(target_ip))):
        return None
    return ":".join(f"{b:02x}" for b in frame[22:28])


def arp_probe(netns_path: str, ifname: str, *, sender_ip: str, target_ip: str, timeout_s: float = 1.0,
              tries: int = 2) -> str | None:
    """Ask, at layer 2 and out of `ifname` only, who has `target_ip`; the answering MAC or None.

    Used to prove VLAN isolation: an IP ping to another VLAN's gateway fails anyway for lack of a
    route, which proves nothing; an ARP request stays in the VF's broadcast domain, so a reply
    means that domain reaches the other VLAN's gateway. (verify probes many VFs at once, for a
    measured silence: `arp_probe_many`.)"""
    link = read_link(netns_path, ifname)
    if link is None or not link.mac:
        raise HostError(f"no interface {ifname} with a MAC address in network namespace {netns_path}")
    frame = build_arp_request(link.mac, sender_ip, target_ip)
    sock = socket_in_netns(netns_path, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ARP))
    with sock:
        try:
            sock.bind((ifname, 0))
            for _ in range(tries):
                sock.send(frame)
                deadline = time.monotonic() + timeout_s / tries
                while (left := deadline - time.monotonic()) > 0:
                    ready, _, _ = select.select([sock], [], [], left)
                    if not ready:
                        break
                    mac = parse_arp_reply(sock.recv(2048), target_ip)
                    if mac:
                        return mac
        except OSError as exc:
            raise HostError(f"ARP probe for {target_ip} out of {ifname} in {netns_path} failed: {exc}") from exc
    return None


_DEADLINE_POLL_S = 0.02


@dataclass(frozen=True)
class ArpProbeRequest:
    """One `arp_probe_many` probe: who has `target_ip`, asked out of `ifname` (whose MAC is `mac`)
    inside `netns_path`."""

    netns_path: str
    ifname: str
    mac: str
    sender_ip: str
    target_ip: str


def arp_probe_many(requests: list[ArpProbeRequest], *, frames: int, spacing_s: float,
                   deadline: Callable[[float, float], float | None]) -> list[tuple[str | None, str | None]]:
    """`arp_probe` for many VFs at once, each listening until `deadline` (see `_probe_loop`):
    (answering MAC or None, error or None) per request, in order. All probes run in the caller's thread over one `select`, their sockets
    opened in one pass through the namespaces (a thread per probe, and two more per probe to enter
    its namespace, started the last of 32 probes ~0.2 s after the first, each start waiting for the
    interpreter lock; and the silence is counted from each probe's own first frame)."""
    out: list[tuple[str | None, str | None]] = [(None, None)] * len(requests)
    # Protocol 0 at creation, ARP at bind: a packet socket created with a protocol is hooked at once,
    # and binding it unhooks it first, which waits for an RCU grace period (synchronize_net, ~10 ms):
    # one after the other, 32 binds took 0.4 s.
    opened = sockets_in_netns([(r.netns_path, socket.AF_PACKET, socket.SOCK_RAW, 0) for r in requests])
    live: dict[int, tuple[int, socket.socket, bytes, list[float]]] = {}  # fd -> (index, socket, frame, send times)
    try:
        for i, (r, sock) in enumerate(zip(requests, opened, strict=True)):
            where = f"ARP probe for {r.target_ip} out of {r.ifname} in {r.netns_path} failed"
            if isinstance(sock, BaseException):
                out[i] = (None, getattr(sock, "message", None) or f"{where}: {sock}")
                continue
            try:
                frame = build_arp_request(r.mac, r.sender_ip, r.target_ip)
                sock.bind((r.ifname, _ETH_P_ARP))
                sock.setblocking(False)
            except (OSError, ValueError) as exc:
                sock.close()
                out[i] = (None, f"{where}: {exc}")
                continue
            live[sock.fileno()] = (i, sock, frame, [])
    except BaseException:
        _close_together([v[1] for v in live.values()])
        raise
    errors = _probe_loop(live, [r.target_ip for r in requests], frames=frames, spacing_s=spacing_s, deadline=deadline)
    for i, r in enumerate(requests):
        found = errors.get(i)
        if isinstance(found, OSError):
            out[i] = (None, f"ARP probe for {r.target_ip} out of {r.ifname} in {r.netns_path} failed: {found}")
        elif isinstance(found, str):
            out[i] = (found, None)
    return out


def _probe_loop(live: dict[int, tuple[int, socket.socket, bytes, list[float]]], targets: list[str], *, frames: int,
                spacing_s: float, deadline: Callable[[float, float], float | None]) -> dict[int, str | OSError]:
    """The probes' schedule over one select: each sends up to `frames` frames `spacing_s` apart
    and listens until `deadline(first_sent, last_sent)` (asked again every 20 ms while it answers
    None: not known yet). By request index: the answering MAC, or the OSError that ended the probe;
    silent probes are absent. Closes every socket."""
    found: dict[int, str | OSError] = {}
    ended: list[socket.socket] = []
    try:
        next_send = {fd: time.monotonic() for fd in live}
        while live:
            now = time.monotonic()
            wakes: list[float] = []
            for fd, (i, sock, frame, sent) in list(live.items()):
                end = deadline(sent[0], sent[-1]) if sent else None
                if end is not None and now >= end:
                    del live[fd]
                    ended.append(sock)
                    continue
                if len(sent) < frames and now >= next_send[fd]:
                    try:
                        sock.send(frame)
                    except OSError as exc:
                        found[i] = exc
                        del live[fd]
                        ended.append(sock)
                        continue
                    sent.append(now)
                    next_send[fd] = now + spacing_s
                    end = deadline(sent[0], sent[-1])
                wakes.append(end if end is not None else now + _DEADLINE_POLL_S)
                if len(sent) < frames:
                    wakes.append(next_send[fd])
            if not live:
                break
            ready, _, _ = select.select([v[1] for v in live.values()], [], [], max(0.0, min(wakes) - time.monotonic()))
            for sock in ready:
                fd = sock.fileno()
                i = live[fd][0]
                while True:
                    try:
                        data = sock.recv(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:
                        found[i] = exc
                        break
                    mac = parse_arp_reply(data, targets[i])
                    if mac:
                        found[i] = mac
                        break
                if i in found:
                    del live[fd]
                    ended.append(sock)
    finally:
        _close_together(ended + [v[1] for v in live.values()])
    return found


def _close_together(socks: list[socket.socket]) -> None:
    """Close packet sockets side by side: closing one waits for an RCU grace period (the kernel's
    packet_release calls synchronize_net, ~10 ms); waits that overlap share one grace period,
    one after the other 32 closes took 0.35 s."""
    if len(socks) <= 1:
        for sock in socks:
            sock.close()
        return
    closers = [threading.Thread(target=sock.close, name="sriovcheck-close", daemon=True) for sock in socks]
    for t in closers:
        t.start()
    for t in closers:
        t.join()
