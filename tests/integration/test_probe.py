"""probe.ping from the host inside a namespace: pinned to one interface, DF/MTU, errors as data.

The "container" namespace gets eth1 into gateway A's subnet and eth2 into gateway B's, put
there with the ip CLI (attach_vf is tested in test_netns.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from _netns_helpers import Gateway, Scaffold, run

from sriovcheck.errors import HostError
from sriovcheck.host import netns, probe

pytestmark = pytest.mark.integration


@dataclass
class Net:
    ctr: str  # /var/run/netns/... path
    a: Gateway
    b: Gateway


@pytest.fixture
def net(root_required: None) -> Iterator[Net]:
    sc = Scaffold()
    try:
        a = sc.gateway("ga", third_octet=101)
        b = sc.gateway("gb", third_octet=102)
        ctr = sc.netns("ctr")
        for ifname, gw in (("eth1", a), ("eth2", b)):
            host = sc.vf_standin(gw, 1 if ifname == "eth1" else 2)
            run("ip", "link", "set", host, "netns", ctr)
            run("ip", "-n", ctr, "link", "set", host, "name", ifname)
            run("ip", "-n", ctr, "addr", "add", f"{gw.subnet}.2/24", "dev", ifname)
            run("ip", "-n", ctr, "link", "set", ifname, "mtu", "1400", "up")
        yield Net(ctr=f"/var/run/netns/{ctr}", a=a, b=b)
    finally:
        sc.cleanup()
    assert sc.leftovers() == []


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_ping_the_gateway_and_nothing_else(net: Net) -> None:
    ok = probe.ping(net.ctr, "eth1", net.a.gw_ip, count=3, timeout_s=1.0, interval_s=0.05)
    assert (ok.sent, ok.received, ok.loss_pct, ok.error) == (3, 3, 0.0, None)
    assert len(ok.rtts_ms) == 3 and all(0 < r < 1000 for r in ok.rtts_ms)
    assert ok.min_ms is not None and ok.max_ms is not None and ok.min_ms <= ok.max_ms

    # An address nobody holds, in the subnet: no reply, and that is loss, not an error.
    silent = probe.ping(net.ctr, "eth1", f"{net.a.subnet}.99", count=2, timeout_s=0.3, interval_s=0.05)
    assert (silent.sent, silent.received, silent.loss_pct, silent.error) == (2, 0, 100.0, None)


def test_probe_cannot_leave_through_another_interface(net: Net) -> None:
    # Gateway B is reachable from the container only via eth2. Pinned to eth1, the kernel takes
    # the destination as on-link there (no route lookup across devices): it ARPs on eth1, nobody
    # answers, and gateway B never hears from us.
    via_eth1 = probe.ping(net.ctr, "eth1", net.b.gw_ip, count=2, timeout_s=0.3, interval_s=0.05)
    assert (via_eth1.sent, via_eth1.received) == (2, 0)
    tried = [n for n in netns.neighbours(net.ctr) if n.ip == net.b.gw_ip]
    assert [n.ifname for n in tried] == ["eth1"] and tried[0].mac is None
    assert not [n for n in netns.neighbours(f"/var/run/netns/{net.b.ns}") if n.ip.startswith(net.b.subnet)]

    via_eth2 = probe.ping(net.ctr, "eth2", net.b.gw_ip, count=1, timeout_s=1.0)
    assert via_eth2.received == 1

    with probe.open_icmp_socket(net.ctr, "eth1") as sock:
        assert probe.bound_device(sock) == "eth1"


def test_dont_fragment_finds_the_mtu(net: Net) -> None:
    # MTU 1400: 1372 bytes of payload + 8 ICMP + 20 IP fit exactly; one more does not.
    fits = probe.ping(net.ctr, "eth1", net.a.gw_ip, count=1, timeout_s=1.0, payload_size=1372, dont_fragment=True)
    assert (fits.received, fits.error) == (1, None)
    too_big = probe.ping(net.ctr, "eth1", net.a.gw_ip, count=2, timeout_s=0.3, payload_size=1373, dont_fragment=True)
    assert too_big.received == 0
    assert too_big.error is not None and "EMSGSIZE" in too_big.error and "eth1" in too_big.error
    # Without DF the kernel fragments and the big ping gets through.
    fragmented = probe.ping(net.ctr, "eth1", net.a.gw_ip, count=1, timeout_s=1.0, payload_size=1373)
    assert fragmented.received == 1


def test_missing_namespace_interface_or_bad_address_are_results(net: Net) -> None:
    r = probe.ping(net.ctr, "eth7", net.a.gw_ip, count=1, timeout_s=0.2)
    assert (r.sent, r.received) == (0, 0) and r.error is not None and "no interface eth7" in r.error
    r = probe.ping("/var/run/netns/sct-none-x0x0x0", "eth1", net.a.gw_ip, count=1, timeout_s=0.2)
    assert r.error is not None and "does not exist" in r.error
    r = probe.ping(net.ctr, "eth1", "not-an-ip", count=1, timeout_s=0.2)
    assert r.error is not None and "not an IP address" in r.error
    r = probe.ping(net.ctr, "eth1", "fd00::1", count=1, timeout_s=0.2)
    assert r.error is not None and "IPv4" in r.error


def test_ping_many_runs_concurrently_without_leaking_sockets(net: Net) -> None:
    before = open_fds()
    reqs = [probe.PingRequest(net.ctr, "eth1", net.a.gw_ip, count=2, interval_s=0.2) for _ in range(8)]
    reqs += [probe.PingRequest(net.ctr, "eth2", net.b.gw_ip, count=2, interval_s=0.2) for _ in range(8)]
    reqs.append(probe.PingRequest(net.ctr, "eth9", net.b.gw_ip, count=2))
    start = time.perf_counter()
    results = probe.ping_many(reqs)
    elapsed = time.perf_counter() - start
    assert [r.received for r in results] == [2] * 16 + [0]
    assert results[-1].error is not None and "eth9" in results[-1].error
    # One interval apart per probe, all at once: far less than 16 probes one after another (3.2 s), with room
    # for a loaded machine.
    assert elapsed < 2.5
    assert open_fds() == before


def test_announce_teaches_the_switch_the_mac_without_traffic(net: Net) -> None:
    # IPv6 off in the container so that nothing but our ARP can teach the bridge.
    run("ip", "netns", "exec", net.ctr.rsplit("/", 1)[1], "sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=1")
    mac = netns.read_link(net.ctr, "eth1").mac  # type: ignore[union-attr]
    assert mac is not None
    # Forget what IPv6 chatter from the fixture's set-up taught the bridge.
    for line in run("bridge", "-n", net.a.ns, "fdb", "show", "br", "br0").stdout.splitlines():
        if line.startswith(mac):
            run("bridge", "-n", net.a.ns, "fdb", "del", mac, "dev", line.split()[2], "master")
    assert mac not in run("bridge", "-n", net.a.ns, "fdb", "show", "br", "br0").stdout
    probe.announce(net.ctr, "eth1", f"{net.a.subnet}.2")
    learned = run("bridge", "-n", net.a.ns, "fdb", "show", "br", "br0").stdout
    assert any(line.startswith(mac) and "permanent" not in line for line in learned.splitlines())
    with pytest.raises(HostError, match="eth7"):
        probe.announce(net.ctr, "eth7", f"{net.a.subnet}.2")
