"""How long a VLAN-isolation probe listens: the silence rule, its setting, and the probe's frames."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from sriovcheck.host.probe import _probe_loop, build_arp_request
from sriovcheck.topology import load_topology
from sriovcheck.topology.load import load_text
from sriovcheck.verify import acceptance as A

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"


# --- the rule (pure) ------------------------------------------------------------------------------


def test_floor_holds_when_the_network_is_fast() -> None:
    # gateways answered within 2 ms: 10 x 2 ms after the last frame is 0.22 s, the floor 0.3 s wins
    assert A.isolation_deadline(100.0, 100.2, 0.002) == pytest.approx(100.3)


def test_a_slow_network_stretches_the_silence_after_the_last_frame() -> None:
    # the slowest gateway round trip was 80 ms: 0.8 s of silence after the last frame
    assert A.isolation_deadline(100.0, 100.2, 0.080) == pytest.approx(101.0)


def test_no_gateway_answer_means_the_former_fixed_wait() -> None:
    assert A.isolation_deadline(100.0, 100.2, None) == pytest.approx(100.0 + A.ISOLATION_UNKNOWN_S)
    assert A.ISOLATION_UNKNOWN_S == 1.0


def test_the_setting_replaces_the_rule() -> None:
    assert A.isolation_deadline(100.0, 100.2, 0.080, fixed_s=2.5) == pytest.approx(102.5)
    assert A.isolation_deadline(100.0, 100.0, None, fixed_s=0.05) == pytest.approx(100.05)
    # every frame of a short fixed wait goes out in its first third
    assert A.isolation_spacing(0.15) == pytest.approx(0.05)
    assert A.isolation_spacing(None) == A.ISOLATION_SPACING_S == A.isolation_spacing(5.0)


# --- the setting -----------------------------------------------------------------------------------


def _with_checks(extra: str) -> str:
    text = SEED.read_text()
    anchor = "  switch_learn_timeout_s: 15\n"
    assert anchor in text
    return text.replace(anchor, anchor + extra + "\n")


def test_isolation_wait_defaults_to_the_rule_and_accepts_a_number() -> None:
    assert load_topology(SEED).topology.checks.isolation_wait_s is None
    assert load_text(_with_checks("  isolation_wait_s: 2.5")).topology.checks.isolation_wait_s == 2.5


@pytest.mark.parametrize("value", ["0.01", "31", "true", "slow", "-1"])
def test_isolation_wait_refuses_what_is_not_a_sane_number_of_seconds(value: str) -> None:
    from sriovcheck.errors import TopologyError

    with pytest.raises(TopologyError) as info:
        load_text(_with_checks(f"  isolation_wait_s: {value}"))
    assert "isolation_wait_s" in str(info.value)


# --- the probe's frames and its listening (a datagram socket pair stands in for the VF) ------------

MAC = "02:00:00:00:00:01"
TARGET = "192.168.201.1"


def _reply(target_ip: str, mac: str) -> bytes:
    hw = bytes.fromhex(mac.replace(":", ""))
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + hw + socket.inet_aton(target_ip) + b"\0" * 6 + socket.inet_aton("0.0.0.0")
    return b"\xff" * 6 + hw + struct.pack("!H", 0x0806) + arp


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def _drain(b: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(b.recv(2048))
        except BlockingIOError:
            return got


def test_probes_send_their_frames_spaced_and_listen_until_the_deadline() -> None:
    (a1, b1), (a2, b2) = _pair(), _pair()
    with a1, b1, a2, b2:
        frame = build_arp_request(MAC, "0.0.0.0", TARGET)
        known = threading.Event()
        asked: list[tuple[float, float]] = []

        def deadline(first: float, last: float) -> float | None:
            asked.append((first, last))
            return first + 0.25 if known.is_set() else None

        threading.Timer(0.12, known.set).start()
        t0 = time.monotonic()
        live = {a1.fileno(): (0, a1, frame, []), a2.fileno(): (1, a2, frame, [])}
        assert _probe_loop(live, [TARGET, TARGET], frames=3, spacing_s=0.05, deadline=deadline) == {}  # silence
        took = time.monotonic() - t0
        assert _drain(b1) == [frame] * 3 == _drain(b2)  # three frames each, all before the deadline
    assert 0.24 <= took < 0.5  # listened until first + 0.25 s, not longer
    first, last = asked[-1]
    assert last - first == pytest.approx(0.10, abs=0.04)  # 0.05 s apart
    assert a1.fileno() == -1 and a2.fileno() == -1  # closed


def test_a_probe_stops_sending_past_its_deadline_and_an_answer_ends_it_at_once() -> None:
    (a1, b1), (a2, b2) = _pair(), _pair()
    with a1, b1, a2, b2:
        frame = build_arp_request(MAC, "0.0.0.0", TARGET)
        # the deadline is known at once and shorter than the spacing: one frame only
        assert _probe_loop({a1.fileno(): (0, a1, frame, [])}, [TARGET], frames=3, spacing_s=0.5,
                           deadline=lambda first, last: first + 0.05) == {}
        assert _drain(b1) == [frame]
        # a leaking VLAN: the other gateway answers probe 1; probe 0 stays silent until its deadline
        b2.send(_reply(TARGET, "00:11:22:33:44:55"))
        t0 = time.monotonic()
        a3, b3 = _pair()
        with a3, b3:
            found = _probe_loop({a3.fileno(): (0, a3, frame, []), a2.fileno(): (1, a2, frame, [])}, [TARGET, TARGET],
                                frames=3, spacing_s=0.05, deadline=lambda first, last: first + 0.3)
        assert found == {1: "00:11:22:33:44:55"}
        assert time.monotonic() - t0 < 1.0


# --- the emulated host's read-only state cache (verify reads every VF's settings) -------------------


def test_emulated_host_reads_vf_settings_from_the_state_file_as_it_is_now(tmp_path: Path) -> None:
    from sriovcheck.host.driver import VfConfig
    from sriovcheck.lab import state as lab_state
    from sriovcheck.lab.host_driver import EmulatedHostDriver
    from sriovcheck.lab.manager import new_state

    d = tmp_path / "lab"
    state = new_state(load_text(SEED.read_text()).topology, d)
    d.mkdir(parents=True)
    pf = state.pfs[0]
    pf.vfs[0].config = VfConfig(vlan=200)
    lab_state.save(d, state)
    host = EmulatedHostDriver(d)
    assert host.get_vf_config(pf.name, 0).vlan == 200
    assert host.get_vf_config(pf.name, 0).vlan == 200  # from the cache: the file did not change
    pf.vfs[0].config = VfConfig(vlan=201)
    lab_state.save(d, state)  # replaced atomically: a new inode
    assert host.get_vf_config(pf.name, 0).vlan == 201
