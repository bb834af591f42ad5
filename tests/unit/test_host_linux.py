"""The real Linux SR-IOV driver against a fake sysfs tree and recorded netlink calls."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from sriovcheck.errors import HostError
from sriovcheck.host import sysfs
from sriovcheck.host.driver import HostDriver, VfConfig
from sriovcheck.host.linux import LinuxHostDriver, plan_vf_changes
from tests.unit.fake_sysfs import FakeClock, FakeIPRoute, FakeSysfs, FakeVf

SEED_VF_PCI = [
    "0000:01:10.1", "0000:01:10.3", "0000:01:10.5", "0000:01:10.7",
    "0000:01:11.1", "0000:01:11.3", "0000:01:11.5", "0000:01:11.7",
]


@pytest.fixture
def tree(tmp_path: Path) -> FakeSysfs:
    t = FakeSysfs(tmp_path / "sys")
    t.add_nic("eno1", "0000:01:00.0", driver="ixgbe", device="1528")
    t.add_pf("eno2", "0000:01:00.1", totalvfs=63)
    return t


@pytest.fixture
def clock(tree: FakeSysfs) -> FakeClock:
    return FakeClock(on_sleep=tree.tick)


def make_driver(tree: FakeSysfs, clock: FakeClock, ipr: FakeIPRoute | None = None, **kw: object) -> LinuxHostDriver:
    fake = ipr or FakeIPRoute({"eno2": 7}, {7: []})
    return LinuxHostDriver(tree.root, ipr_factory=fake.factory, sleep=clock.sleep, monotonic=clock.monotonic,
                           write_attr=tree.write_attr, **kw)  # type: ignore[arg-type]


def test_satisfies_the_host_driver_protocol(tree: FakeSysfs, clock: FakeClock) -> None:
    d = make_driver(tree, clock)
    assert isinstance(d, HostDriver)
    assert d.kind == "linux"


# --- sriov_numvfs ------------------------------------------------------------------------------------

def test_zero_to_eight_writes_once_and_finds_ixgbe_style_names(tree: FakeSysfs, clock: FakeClock) -> None:
    d = make_driver(tree, clock)
    d.set_numvfs("eno2", 8)
    assert tree.numvfs_writes() == ["8"]
    info = d.pf_info("eno2")
    assert (info.numvfs, info.totalvfs, info.driver, info.pci_address) == (8, 63, "ixgbe", "0000:01:00.1")
    assert info.model == "Ethernet Controller 10-Gigabit X540-AT2"
    assert [v.netdev for v in info.vfs] == [f"eno2v{n}" for n in range(8)]
    assert [v.pci_address for v in info.vfs] == SEED_VF_PCI
    assert {v.driver for v in info.vfs} == {"ixgbevf"}
    assert clock.sleeps == []  # the netdevs were there at once: no waiting


def test_eight_to_four_goes_through_zero(tree: FakeSysfs, clock: FakeClock) -> None:
    d = make_driver(tree, clock)
    d.set_numvfs("eno2", 8)
    d.set_numvfs("eno2", 4)
    assert tree.numvfs_writes() == ["8", "0", "4"]
    assert [v.netdev for v in d.pf_info("eno2").vfs] == ["eno2v0", "eno2v1", "eno2v2", "eno2v3"]
    assert not (tree.root / "class/net/eno2v5").exists()
    tree.vf_leaves_namespace("eno2", 2)  # in a container: its netdev is not visible here
    d.set_numvfs("eno2", 4)  # already there: nothing written, nothing waited for
    assert clock.sleeps == []
    d.set_numvfs("eno2", 0)
    assert tree.numvfs_writes() == ["8", "0", "4", "0"]
    assert d.pf_info("eno2").vfs == []


def test_the_fake_kernel_refuses_n_over_m_like_the_real_one(tree: FakeSysfs) -> None:
    path = sysfs.numvfs_path(tree.root, "eno2")
    tree.write_attr(path, "8")
    with pytest.raises(OSError) as exc:
        tree.write_attr(path, "4")
    assert exc.value.errno == errno.EBUSY


def test_more_than_totalvfs_is_refused_before_writing(tmp_path: Path) -> None:
    tree = FakeSysfs(tmp_path)
    tree.add_pf("eno2", totalvfs=7)
    d = make_driver(tree, FakeClock())
    with pytest.raises(HostError) as exc:
        d.set_numvfs("eno2", 8)
    assert "PF eno2" in exc.value.message and "sriov_totalvfs is 7" in exc.value.message
    assert exc.value.hint is not None and "at most 7" in exc.value.hint
    assert tree.numvfs_writes() == []


@pytest.mark.parametrize(
    ("code", "hint_part"),
    [(errno.EBUSY, "in use"), (errno.EINVAL, "firmware"), (errno.EACCES, "root"), (errno.EPERM, "root")],
)
def test_write_errors_become_host_errors_with_hints(tree: FakeSysfs, clock: FakeClock, code: int, hint_part: str) -> None:
    d = make_driver(tree, clock)
    d.set_numvfs("eno2", 2)
    tree.fail_next_write["eno2"] = code
    with pytest.raises(HostError) as exc:
        d.set_numvfs("eno2", 4)
    assert "PF eno2" in exc.value.message and "sriov_numvfs" in exc.value.message
    assert errno.errorcode[code] in exc.value.message and "ixgbe" in exc.value.message
    assert exc.value.hint is not None and hint_part in exc.value.hint
    assert isinstance(exc.value.__cause__, OSError)


def test_late_netdevs_are_waited_for_with_the_injected_clock(tree: FakeSysfs, clock: FakeClock) -> None:
    tree.pfs["eno2"].netdev_delay_ticks = 3
    d = make_driver(tree, clock)
    d.set_numvfs("eno2", 4)
    assert clock.sleeps == [0.1, 0.1, 0.1]
    assert [v.netdev for v in d.pf_info("eno2").vfs] == ["eno2v0", "eno2v1", "eno2v2", "eno2v3"]


def test_a_netdev_that_never_appears_times_out(tree: FakeSysfs, clock: FakeClock) -> None:
    tree.pfs["eno2"].never_netdev = {2}
    d = make_driver(tree, clock, vf_appear_timeout_s=2.0)
    start = clock.now
    with pytest.raises(HostError) as exc:
        d.set_numvfs("eno2", 4)
    assert "1 of 4 VFs have no netdev after 2 s" in exc.value.message
    assert "VF 2 (0000:01:10.5, driver ixgbevf)" in exc.value.message
    assert exc.value.hint is not None and "dmesg" in exc.value.hint
    assert 2.0 <= clock.now - start <= 2.2
    assert len(clock.sleeps) in (20, 21)


def test_vfio_bound_vf_is_not_waited_for_and_has_no_netdev(tree: FakeSysfs, clock: FakeClock) -> None:
    tree.pfs["eno2"].vf_drivers = {3: "vfio-pci"}
    tree.pfs["eno2"].netdev_delay_ticks = 1
    d = make_driver(tree, clock)
    d.set_numvfs("eno2", 4)
    assert clock.sleeps == [0.1]
    vf3 = d.vf_info("eno2", 3)
    assert (vf3.driver, vf3.netdev, vf3.has_netdev_driver, vf3.pci_address) == ("vfio-pci", None, False, "0000:01:10.7")
    assert d.vf_info("eno2", 2).has_netdev_driver is True


def test_unbound_vfs_with_autoprobe_off_are_not_waited_for(tmp_path: Path) -> None:
    tree = FakeSysfs(tmp_path)
    tree.add_pf("eno2", vf_driver=None, autoprobe=False)
    clock = FakeClock(on_sleep=tree.tick)
    d = make_driver(tree, clock)
    d.set_numvfs("eno2", 2)
    assert clock.sleeps == []
    assert d.vf_info("eno2", 0).driver is None and d.vf_info("eno2", 0).netdev is None


def test_vf_names_come_from_sysfs_never_from_the_pf_name(tmp_path: Path) -> None:
    tree = FakeSysfs(tmp_path)
    tree.add_pf("enp2s0f0", "0000:02:00.0", driver="i40e", device="1572", vf_driver="iavf", vf_device="154c",
                vf_name=lambda pf, n: f"enp2s0f{n + 2}")
    clock = FakeClock(on_sleep=tree.tick)
    d = make_driver(tree, clock)
    d.set_numvfs("enp2s0f0", 3)
    assert [d.vf_info("enp2s0f0", n).netdev for n in range(3)] == ["enp2s0f2", "enp2s0f3", "enp2s0f4"]
    assert sysfs.device_model(tree.root, d.vf_info("enp2s0f0", 0).pci_address or "") == "Ethernet Virtual Function 700 Series"


def test_missing_and_incapable_pfs(tree: FakeSysfs, clock: FakeClock) -> None:
    d = make_driver(tree, clock)
    info = d.pf_info("eno9")
    assert info.exists is False and info.vfs == []
    assert d.pf_info("eno1").sriov_capable is False
    with pytest.raises(HostError, match="PF eno9: no such network interface"):
        d.set_numvfs("eno9", 2)
    with pytest.raises(HostError, match="PF eno1: not SR-IOV capable") as exc:
        d.set_numvfs("eno1", 2)
    assert exc.value.hint is not None and "BIOS" in exc.value.hint
    d.set_numvfs("eno2", 2)
    with pytest.raises(HostError, match=r"VF 5 does not exist \(eno2 has VFs 0..1\)"):
        d.vf_info("eno2", 5)


def test_a_vf_back_from_a_dead_container_is_found_by_pci_and_mac(tree: FakeSysfs, clock: FakeClock) -> None:
    d = make_driver(tree, clock)
    d.set_numvfs("eno2", 2)
    tree.vf_leaves_namespace("eno2", 1)
    assert d.vf_info("eno2", 1).netdev is None  # inside a container: not visible here
    assert d.find_vf_netdev_by_pci("eno2", 1) is None
    tree.add_virtual("mv0", "02:00:00:00:02:01")  # a macvlan with the same MAC must never match
    tree.vf_comes_back("eno2", 1, "eth1", "02:00:00:00:02:01")
    assert d.vf_info("eno2", 1).netdev == "eth1"
    assert d.find_vf_netdev_by_pci("eno2", 1) == "eth1"
    assert d.find_vf_netdev_by_mac("eno2", 1, "02-00-00-00-02-01") == "eth1"
    assert d.find_vf_netdev_by_mac("eno2", 0, "02:00:00:00:02:01") is None  # that MAC is VF 1's
    assert sysfs.pf_of_vf(tree.root, "0000:01:10.3") == ("0000:01:00.1", "eno2")


# --- netlink: reading ------------------------------------------------------------------------------

def netlink(vfs: list[FakeVf], **kw: object) -> FakeIPRoute:
    return FakeIPRoute({"eno2": 7, "lo": 1}, {7: vfs}, **kw)  # type: ignore[arg-type]


def test_reads_every_setting_from_ifla_vfinfo_list(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf(), FakeVf(mac="02:00:00:00:02:01", vlan=200, qos=3, proto=0x88A8, spoofchk=0, trust=1,
                                    link_state=2, min_tx_rate=10, max_tx_rate=1000)])
    d = make_driver(tree, clock, ipr)
    assert d.get_vf_config("eno2", 0) == VfConfig()
    assert d.get_vf_config("eno2", 1) == VfConfig(
        vlan=200, qos=3, vlan_proto="802.1ad", mac="02:00:00:00:02:01", spoofchk=False, trust=True,
        link_state="disable", min_tx_rate_mbps=10, max_tx_rate_mbps=1000,
    )
    assert ipr.calls[:2] == [("lookup", {"ifname": "eno2"}), ("get", {"index": 7, "ext_mask": 1})]
    assert ipr.closed == 2
    assert isinstance(ipr.link("get", index=7)[0], ifinfmsg)  # the fake answers with real pyroute2 messages


def test_unreported_flags_and_legacy_kernels(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf(spoofchk=None, trust=None, vlan=201, qos=1, max_tx_rate=500)], legacy=True)
    got = make_driver(tree, clock, ipr).get_vf_config("eno2", 0)
    assert (got.spoofchk, got.trust) == (None, None)
    assert (got.vlan, got.qos, got.vlan_proto, got.max_tx_rate_mbps) == (201, 1, "802.1Q", 500)


def test_reading_a_vf_the_driver_does_not_list(tree: FakeSysfs, clock: FakeClock) -> None:
    d = make_driver(tree, clock, netlink([FakeVf()]))
    with pytest.raises(HostError, match=r"PF eno2: the driver \(ixgbe\) reports no VF 3 over netlink \(1 VFs"):
        d.get_vf_config("eno2", 3)
    d2 = make_driver(tree, clock, FakeIPRoute({}, {}))
    with pytest.raises(HostError, match="PF eno2: netlink knows no such interface"):
        d2.get_vf_config("eno2", 0)


# --- netlink: writing ------------------------------------------------------------------------------

FULL = VfConfig(vlan=200, qos=3, mac="02:00:00:00:02:01", spoofchk=False, trust=True, link_state="enable",
                min_tx_rate_mbps=100, max_tx_rate_mbps=1000)


def test_every_setting_in_the_order_drivers_need(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf(), FakeVf()])
    d = make_driver(tree, clock, ipr)
    d.set_vf_config("eno2", 1, FULL)
    assert ipr.set_calls() == [
        {"vlan": {"vlan": 200, "qos": 3}},
        {"mac": "02:00:00:00:02:01"},
        {"rate": {"min_tx_rate": 100, "max_tx_rate": 1000}},
        {"spoofchk": 0},
        {"trust": 1},
        {"link_state": 1},
    ]
    assert all(c["index"] == 7 and c["vf"]["vf"] == 1 for cmd, c in ipr.calls if cmd == "set")
    assert d.get_vf_config("eno2", 1) == FULL
    assert d.get_vf_config("eno2", 0) == VfConfig()  # the other VF untouched


def test_only_changed_settings_are_sent(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf(mac="02:00:00:00:02:01", vlan=200, qos=3, spoofchk=0, trust=0, link_state=1,
                          min_tx_rate=100, max_tx_rate=1000)])
    d = make_driver(tree, clock, ipr)
    d.set_vf_config("eno2", 0, FULL)
    assert ipr.set_calls() == [{"trust": 1}]
    ipr.calls.clear()
    d.set_vf_config("eno2", 0, FULL)
    assert ipr.set_calls() == []
    assert [c for c, _ in ipr.calls] == ["lookup", "get"]  # nothing to change: no read-back either


def test_vlan_zero_only_clears_an_existing_vlan(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf(vlan=200, qos=2), FakeVf()])
    d = make_driver(tree, clock, ipr)
    d.set_vf_config("eno2", 0, VfConfig(vlan=0))
    d.set_vf_config("eno2", 1, VfConfig(vlan=0, qos=5))  # no VLAN: qos means nothing, nothing sent
    assert ipr.set_calls() == [{"vlan": {"vlan": 0, "qos": 0}}]
    assert d.get_vf_config("eno2", 0).vlan == 0


def test_8021ad_goes_through_the_vlan_list(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf()])
    d = make_driver(tree, clock, ipr)
    d.set_vf_config("eno2", 0, VfConfig(vlan=300, qos=1, vlan_proto="802.1ad"))
    assert ipr.set_calls() == [{"vlan": [{"vlan": 300, "qos": 1, "proto": 0x88A8}]}]
    assert d.get_vf_config("eno2", 0).vlan_proto == "802.1ad"


def test_a_refused_link_state_undoes_this_calls_changes(tree: FakeSysfs, clock: FakeClock) -> None:
    before = FakeVf(mac="02:00:00:00:00:99", vlan=100)
    ipr = netlink([FakeVf(**vars(before))], refuse={"link_state": errno.EOPNOTSUPP})
    d = make_driver(tree, clock, ipr)
    with pytest.raises(HostError) as exc:
        d.set_vf_config("eno2", 0, VfConfig(vlan=200, mac="02:00:00:00:02:01", trust=True, link_state="disable"))
    assert exc.value.message == ("ixgbe on eno2 does not support link_state for VF 0 (the kernel said: "
                                 "Operation not supported); undone on VF 0: trust, mac, vlan")
    assert exc.value.hint is not None and "remove link_state from VF 0 of eno2 in the topology (or set it to auto)" in exc.value.hint
    assert ipr.set_calls() == [
        {"vlan": {"vlan": 200, "qos": 0}},
        {"mac": "02:00:00:00:02:01"},
        {"trust": 1},
        {"link_state": 2},
        # the undo, in reverse
        {"trust": 0},
        {"mac": "02:00:00:00:00:99"},
        {"vlan": {"vlan": 100, "qos": 0}},
    ]
    assert vars(ipr.vfs[7][0]) == vars(before)


def test_refused_first_setting_changes_nothing(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf()], refuse={"vlan": errno.EINVAL})
    with pytest.raises(HostError, match=r"^ixgbe on eno2 refused vlan 200 for VF 0 \(the kernel said: Invalid argument\); "
                       "nothing had been changed on VF 0\n  hint: check vlan of VF 0 of eno2"):
        make_driver(tree, clock, ipr).set_vf_config("eno2", 0, VfConfig(vlan=200, trust=True))
    assert len(ipr.set_calls()) == 1


def test_an_asynchronously_applied_mac_is_waited_for(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf()], mac_visible_after_gets=2)
    d = make_driver(tree, clock, ipr)
    d.set_vf_config("eno2", 0, VfConfig(mac="02:00:00:00:02:01"))
    assert d.get_vf_config("eno2", 0).mac == "02:00:00:00:02:01"
    assert clock.sleeps == [0.1]


def test_a_dropped_mac_is_sent_again(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf()], mac_sets_ignored=1)
    d = make_driver(tree, clock, ipr)
    d.set_vf_config("eno2", 0, VfConfig(mac="02:00:00:00:02:01"))
    assert ipr.set_calls() == [{"mac": "02:00:00:00:02:01"}, {"mac": "02:00:00:00:02:01"}]
    assert d.get_vf_config("eno2", 0).mac == "02:00:00:00:02:01"


def test_a_mac_that_never_sticks_is_an_error_and_is_undone(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf()], mac_sets_ignored=99)
    d = make_driver(tree, clock, ipr, mac_attempts=3)
    expected = r"refused mac = 02:00:00:00:02:01: admin MAC still 00:00:00:00:00:00 after 3 attempts .*undone: mac, vlan"
    with pytest.raises(HostError, match=expected):
        d.set_vf_config("eno2", 0, VfConfig(vlan=200, mac="02:00:00:00:02:01", link_state="enable"))
    assert ipr.vfs[7][0].vlan == 0 and ipr.vfs[7][0].link_state == 0


def test_a_value_the_driver_changes_is_caught_by_the_read_back(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf()], max_rate_cap=500)
    with pytest.raises(HostError, match=r"reports rate 0/500 instead of 0/1000 Mbit/s \(undone: rate, vlan\)"):
        make_driver(tree, clock, ipr).set_vf_config("eno2", 0, VfConfig(vlan=200, max_tx_rate_mbps=1000))
    assert (ipr.vfs[7][0].vlan, ipr.vfs[7][0].max_tx_rate) == (0, 0)


def test_unreported_spoofchk_is_set_but_not_compared(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf(spoofchk=None)])
    make_driver(tree, clock, ipr).set_vf_config("eno2", 0, VfConfig(spoofchk=False))
    assert ipr.set_calls() == [{"spoofchk": 0}]


def test_a_multicast_mac_is_refused_before_any_netlink_call(tree: FakeSysfs, clock: FakeClock) -> None:
    ipr = netlink([FakeVf()])
    with pytest.raises(ValueError, match="multicast"):
        make_driver(tree, clock, ipr).set_vf_config("eno2", 0, VfConfig(mac="03:00:00:00:00:01"))
    assert ipr.calls == []


def test_plan_is_pure_and_ordered() -> None:
    steps = plan_vf_changes(VfConfig(), FULL)
    assert [s.setting for s in steps] == ["vlan", "mac", "rate", "spoofchk", "trust", "link_state"]
    assert plan_vf_changes(FULL, FULL) == []
