"""attach_vf / detach_vf / link and neighbour views against real namespaces and veth VF stand-ins.

A namespace made with `ip netns add` plays the container here (test_docker_runtime.py does the
same with a real container); checks are made from outside with the ip CLI.
"""

from __future__ import annotations

import time

import pytest
from _netns_helpers import Scaffold, addr_info, cidrs, ip_json, link_names, run, scaffold

from sriovcheck.errors import HostError
from sriovcheck.host import netns, probe

pytestmark = pytest.mark.integration
__all__ = ["scaffold"]  # the fixture, imported for pytest


def nspath(name: str) -> str:
    return f"/var/run/netns/{name}"


def test_attach_ping_neighbours_detach(scaffold: Scaffold) -> None:
    gw = scaffold.gateway()
    vf = scaffold.vf_standin(gw)
    ctr = scaffold.netns("ctr")
    orig_mac = ip_json("link", "show", vf)[0]["address"]

    view = netns.attach_vf(
        vf,
        netns_path=nspath(ctr),
        ifname="eth1",
        address_cidr=f"{gw.subnet}.2/24",
        mtu=1400,
        mac="02:00:5e:10:00:02",
        temp_name=f"st{scaffold.tag}",
    )

    # What the caller gets back ...
    assert (view.name, view.mtu, view.mac, view.admin_up) == ("eth1", 1400, "02:00:5e:10:00:02", True)
    assert f"{gw.subnet}.2/24" in view.addresses
    assert view.kind == "veth"
    # ... is what a user sees from outside.
    info = addr_info("eth1", netns=ctr)
    assert info["mtu"] == 1400 and "UP" in info["flags"]
    assert info["address"] == "02:00:5e:10:00:02"
    assert cidrs(info) == [f"{gw.subnet}.2/24"]
    assert vf not in link_names()  # gone from the host
    sysctl = run("ip", "netns", "exec", ctr, "cat", "/proc/sys/net/ipv4/conf/eth1/arp_notify").stdout
    assert sysctl.strip() == "1"
    assert not (set(link_names(ctr)) & {f"st{scaffold.tag}"})

    # The views read the same thing through netlink.
    again = netns.read_link(nspath(ctr), "eth1")
    assert again is not None
    assert (again.index, again.mac, again.mtu, again.addresses) == (view.index, view.mac, 1400, view.addresses)
    names = [link.name for link in netns.list_links(nspath(ctr))]
    assert names[0] == "lo" and "eth1" in names
    found = netns.find_link_by_mac(nspath(ctr), "02:00:5E:10:00:02")
    assert found is not None and found.name == "eth1"
    assert netns.read_link(nspath(ctr), "eth9") is None

    # Traffic: the gateway answers, and the container learns its MAC.
    result = probe.ping(nspath(ctr), "eth1", gw.gw_ip, count=2, timeout_s=1.0, interval_s=0.05)
    assert (result.sent, result.received, result.error) == (2, 2, None)
    neigh = netns.neighbours(nspath(ctr), "eth1")
    gw_entries = [n for n in neigh if n.ip == gw.gw_ip]
    assert len(gw_entries) == 1
    assert gw_entries[0].mac == gw.gw_mac and gw_entries[0].ifname == "eth1"
    assert gw_entries[0].state in {"REACHABLE", "STALE", "DELAY", "PROBE"}
    # ... and the gateway side learnt the container (the pings came from the set MAC).
    gw_neigh = netns.neighbours(nspath(gw.ns))
    assert any(n.ip == f"{gw.subnet}.2" and n.mac == "02:00:5e:10:00:02" for n in gw_neigh)

    netns.detach_vf("eth1", netns_path=nspath(ctr), host_ifname=vf)

    home = netns.read_link(None, vf)
    assert home is not None and home.addresses == [] and not home.admin_up
    assert "eth1" not in link_names(ctr)
    assert not [n for n in link_names() if n.startswith("sctmp")]
    # The MAC stays what attach set: restoring VF settings is the provisioning layer's job.
    assert home.mac in {"02:00:5e:10:00:02", orig_mac}


def test_detach_twice_says_it_is_already_home(scaffold: Scaffold) -> None:
    gw = scaffold.gateway()
    vf = scaffold.vf_standin(gw)
    ctr = scaffold.netns("ctr")
    netns.attach_vf(
        vf, netns_path=nspath(ctr), ifname="eth1", address_cidr=f"{gw.subnet}.2/24",
        mtu=None, mac=None, temp_name=f"st{scaffold.tag}",
    )  # fmt: skip
    netns.detach_vf("eth1", netns_path=nspath(ctr), host_ifname=vf)
    with pytest.raises(HostError) as err:
        netns.detach_vf("eth1", netns_path=nspath(ctr), host_ifname=vf)
    assert "no interface eth1" in err.value.message and nspath(ctr) in err.value.message
    assert err.value.hint is not None and "nothing to detach" in err.value.hint


def test_failure_part_way_puts_the_vf_back(scaffold: Scaffold) -> None:
    gw = scaffold.gateway()
    vf = scaffold.vf_standin(gw)
    run("ip", "link", "set", vf, "mtu", "1450", "up")
    ctr = scaffold.netns("ctr")
    with pytest.raises(HostError) as err:
        netns.attach_vf(
            vf, netns_path=nspath(ctr), ifname="eth1", address_cidr=f"{gw.subnet}.2/24",
            mtu=1300, mac="01:00:5e:00:00:01",  # a multicast MAC: the kernel refuses it
            temp_name=f"st{scaffold.tag}",
        )  # fmt: skip
    msg = err.value.message
    assert vf in msg and nspath(ctr) in msg and "set MAC 01:00:5e:00:00:01" in msg
    assert "moved back" in msg
    # Back home under its name, MTU and admin state restored, nothing left in the container.
    info = addr_info(vf)
    assert info["mtu"] == 1450 and "UP" in info["flags"]
    assert link_names(ctr) == {"lo"}


def test_refuses_clashes_and_missing_things_without_moving_anything(scaffold: Scaffold) -> None:
    gw = scaffold.gateway()
    vf = scaffold.vf_standin(gw)
    ctr = scaffold.netns("ctr")
    run("ip", "-n", ctr, "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")

    with pytest.raises(HostError, match="eth1 already exists in the container namespace"):
        netns.attach_vf(
            vf, netns_path=nspath(ctr), ifname="eth1", address_cidr="10.0.0.2/24",
            mtu=None, mac=None, temp_name=f"st{scaffold.tag}",
        )  # fmt: skip
    assert vf in link_names()

    with pytest.raises(HostError, match=f"no netdev nope{scaffold.tag} in the host namespace"):
        netns.attach_vf(
            f"nope{scaffold.tag}", netns_path=nspath(ctr), ifname="eth2", address_cidr="10.0.0.2/24",
            mtu=None, mac=None, temp_name=f"st{scaffold.tag}",
        )  # fmt: skip

    gone = nspath(f"sct-none-{scaffold.tag}")
    with pytest.raises(HostError, match="does not exist") as err:
        netns.attach_vf(
            vf, netns_path=gone, ifname="eth2", address_cidr="10.0.0.2/24",
            mtu=None, mac=None, temp_name=f"st{scaffold.tag}",
        )  # fmt: skip
    assert err.value.hint is not None and "container" in err.value.hint
    assert vf in link_names()
    assert f"sct-none-{scaffold.tag}" not in run("ip", "netns", "list").stdout  # not created by accident
    with pytest.raises(HostError, match="does not exist"):
        netns.read_link(gone, "eth1")


def test_sixteen_attaches_beat_the_seed_cli(scaffold: Scaffold, capsys: pytest.CaptureFixture[str]) -> None:
    gw = scaffold.gateway()
    pairs = [(scaffold.vf_standin(gw, i), scaffold.netns(f"c{i}")) for i in range(16)]
    start = time.perf_counter()
    for i, (vf, ctr) in enumerate(pairs):
        netns.attach_vf(
            vf, netns_path=nspath(ctr), ifname="eth1", address_cidr=f"{gw.subnet}.{10 + i}/24",
            mtu=None, mac=None, temp_name=f"st{i}{scaffold.tag}",
        )  # fmt: skip
    attach_s = time.perf_counter() - start
    start = time.perf_counter()
    results = probe.ping_many([probe.PingRequest(nspath(c), "eth1", gw.gw_ip, count=1) for _, c in pairs])
    ping_s = time.perf_counter() - start
    start = time.perf_counter()
    for vf, ctr in pairs:
        netns.detach_vf("eth1", netns_path=nspath(ctr), host_ifname=vf)
    detach_s = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n16 attaches {attach_s:.3f} s, 16 parallel pings {ping_s:.3f} s, 16 detaches {detach_s:.3f} s")
    assert [r.received for r in results] == [1] * 16
    assert all(vf in link_names() for vf, _ in pairs)
    # The seed's CLI steps took 1.0 s for 16 on this kind of machine; the namespace move itself
    # (kernel, ~20 ms each) dominates ours. Generous bound: a loaded 2-core CI box.
    assert attach_s < 1.5


def test_usable_from_inside_a_running_event_loop() -> None:
    # pyroute2's sync IPRoute raises "This event loop is already running" there; the lab's SSH
    # server and any async caller would hit it without netns's own thread.
    import asyncio

    async def main() -> netns.LinkView | None:
        return netns.read_link(None, "lo")

    lo = asyncio.run(main())
    assert lo is not None and lo.name == "lo" and "127.0.0.1/8" in lo.addresses
