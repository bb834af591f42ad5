"""ICMP packet building and parsing, without root or sockets."""

from __future__ import annotations

import socket
import struct

from hypothesis import given
from hypothesis import strategies as st

from sriovcheck.host.probe import (
    ICMP_ECHO_REPLY,
    PingResult,
    build_echo_request,
    build_gratuitous_arp,
    echo_payload,
    icmp_checksum,
    parse_echo_reply,
)


def ipv4_header(src: str, dst: str, payload_len: int, *, ttl: int = 64, proto: int = 1, ihl: int = 5) -> bytes:
    options = b"\x01" * ((ihl - 5) * 4)  # NOP options
    total = ihl * 4 + payload_len
    head = struct.pack(
        "!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0x1234, 0, ttl, proto, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )  # fmt: skip
    head += options
    csum = icmp_checksum(head)
    return head[:10] + struct.pack("!H", csum) + head[12:]


def as_reply(request: bytes) -> bytes:
    """What a Linux peer sends back: same id/seq/payload, type 0, checksum recomputed."""
    body = bytes([ICMP_ECHO_REPLY, 0, 0, 0]) + request[4:]
    return body[:2] + struct.pack("!H", icmp_checksum(body)) + body[4:]


def test_checksum_matches_rfc1071_example() -> None:
    # RFC 1071 section 3 example: the one's-complement sum of these words is 0xddf2.
    data = bytes([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7])
    assert icmp_checksum(data) == ~0xDDF2 & 0xFFFF


def test_checksum_pads_odd_length() -> None:
    assert icmp_checksum(b"\xab") == icmp_checksum(b"\xab\x00")


def test_echo_request_layout_matches_iputils() -> None:
    # `ping -c1 -s 8` layout with id 0x1c46 seq 1, payload 00..07. Checksum by hand:
    # 0x0800 + 0x1c46 + 0x0001 + 0x0001 + 0x0203 + 0x0405 + 0x0607 = 0x3057 -> ~ = 0xcfa8.
    pkt = build_echo_request(0x1C46, 1, echo_payload(8))
    assert pkt[:2] == b"\x08\x00"
    assert pkt[4:8] == b"\x1c\x46\x00\x01"
    assert pkt[8:] == bytes(range(8))
    assert icmp_checksum(pkt) == 0  # a correct checksum makes the whole message sum to zero
    assert pkt[2:4] == b"\xcf\xa8"


def test_echo_payload_is_a_repeating_counter() -> None:
    p = echo_payload(300)
    assert len(p) == 300 and p[0] == 0 and p[255] == 255 and p[256] == 0


def test_parse_reply_with_ip_header() -> None:
    req = build_echo_request(4242, 7, echo_payload(56))
    reply = as_reply(req)
    pkt = ipv4_header("10.1.2.3", "10.1.2.4", len(reply), ttl=63) + reply
    got = parse_echo_reply(pkt)
    assert got is not None
    assert (got.src, got.ident, got.seq, got.ttl, got.payload) == ("10.1.2.3", 4242, 7, 63, echo_payload(56))


def test_parse_reply_honours_ip_options() -> None:
    reply = as_reply(build_echo_request(1, 2, b"abcd"))
    pkt = ipv4_header("192.0.2.1", "192.0.2.2", len(reply), ihl=7) + reply
    got = parse_echo_reply(pkt)
    assert got is not None and got.payload == b"abcd" and got.seq == 2


def test_parse_rejects_requests_corruption_and_garbage() -> None:
    req = build_echo_request(1, 1, b"xy")
    hdr = ipv4_header("10.0.0.1", "10.0.0.2", len(req))
    assert parse_echo_reply(hdr + req) is None  # an echo request, not a reply
    reply = bytearray(as_reply(req))
    reply[-1] ^= 0xFF
    assert parse_echo_reply(hdr + bytes(reply)) is None  # bad checksum
    assert parse_echo_reply(b"") is None
    assert parse_echo_reply(b"\x45" + b"\0" * 10) is None  # truncated
    udp = ipv4_header("10.0.0.1", "10.0.0.2", 8, proto=17) + b"\0" * 8
    assert parse_echo_reply(udp) is None
    v6ish = b"\x60" + bytes(39)
    assert parse_echo_reply(v6ish) is None


@given(
    ident=st.integers(0, 0xFFFF),
    seq=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=200),
)
def test_build_then_parse_round_trip(ident: int, seq: int, payload: bytes) -> None:
    req = build_echo_request(ident, seq, payload)
    assert icmp_checksum(req) == 0
    reply = as_reply(req)
    got = parse_echo_reply(ipv4_header("172.16.0.9", "172.16.0.1", len(reply)) + reply)
    assert got is not None
    assert (got.ident, got.seq, got.payload) == (ident, seq, payload)


def test_ping_result_statistics() -> None:
    r = PingResult(sent=4, received=3, rtts_ms=[1.0, 3.0, 2.0])
    assert r.loss_pct == 25.0
    assert (r.min_ms, r.avg_ms, r.max_ms) == (1.0, 2.0, 3.0)
    d = r.as_dict()
    assert d["loss_pct"] == 25.0 and d["received"] == 3 and d["error"] is None
    empty = PingResult(0, 0, error="no interface eth1")
    assert empty.loss_pct == 100.0 and empty.avg_ms is None and empty.as_dict()["error"] == "no interface eth1"


def test_gratuitous_arp_frame() -> None:
    frame = build_gratuitous_arp("02:00:5E:10:00:02", "10.201.7.2")
    assert len(frame) == 14 + 28
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == bytes.fromhex("02005e100002") and frame[12:14] == b"\x08\x06"
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)  # Ethernet/IPv4 request
    sha, spa, tha, tpa = frame[22:28], frame[28:32], frame[32:38], frame[38:42]
    assert sha == bytes.fromhex("02005e100002") and tha == bytes(6)
    assert spa == tpa == socket.inet_aton("10.201.7.2")  # sender = target: an announcement


def test_gratuitous_arp_rejects_bad_input() -> None:
    import pytest

    with pytest.raises(ValueError):
        build_gratuitous_arp("02:00:5e", "10.0.0.1")
    with pytest.raises(ValueError):
        build_gratuitous_arp("02:00:5e:00:00:01", "fd00::1")
