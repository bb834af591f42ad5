"""The real Linux host driver against what the real igb/igbvf drivers showed in the VM lab's guest.

The fixtures in tests/data/igb-guest/ were recorded from a live kernel (see its README.md): sysfs
snapshots replayed here as a tree, and the PF's RTM_NEWLINK answers as the raw bytes the kernel sent.
These tests hold the hand-made fakes (fake_sysfs.py) to the real driver's behaviour.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from sriovcheck.errors import HostError
from sriovcheck.host import sysfs
from sriovcheck.host.driver import VfConfig
from sriovcheck.host.linux import LinuxHostDriver, parse_vfinfo
from tests.unit.fake_sysfs import FakeClock, FakeIPRoute, FakeVf, _check_vlan_info_sizes

DATA = Path(__file__).resolve().parents[1] / "data" / "igb-guest"
PF, PF_INDEX = "eth0", 2


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


LOG = load("log.json")


def _relink(at: Path, target: str) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, at)


def _device(root: Path, addr: str, snap: dict[str, Any]) -> None:
    """One PCI device as recorded: files, links with the kernel's own relative targets, net/."""
    d = root / "devices/pci0000:00" / addr
    d.mkdir(parents=True)
    _relink(root / "bus/pci/devices" / addr, snap["bus_link"])
    for name, text in snap["files"].items():
        if not text.startswith("<"):  # "<ENOTSUP>": the kernel refused the read
            (d / name).write_text(text + "\n")
    for name, target in {**snap["links"], **snap["virtfn"]}.items():
        if name == "driver":
            (root / "bus/pci/drivers" / os.path.basename(target)).mkdir(parents=True, exist_ok=True)
        _relink(d / name, target)
    if snap["net"] is not None:
        (d / "net").mkdir()
        for dev, nd in snap["net"].items():
            n = d / "net" / dev
            n.mkdir()
            for name, text in nd["files"].items():
                if not text.startswith("<"):
                    (n / name).write_text(text + "\n")
            _relink(n / "device", nd["device_link"])
            _relink(root / "class/net" / dev, nd["class_link"])


def replay_sysfs(root: Path, state: str) -> Path:
    snap = load(f"sysfs-{state}.json")
    (root / "class/net").mkdir(parents=True)
    _device(root, "0000:00:0a.0", snap["pf"])
    for name, vf in snap["vfs"].items():
        _device(root, os.path.basename(snap["pf"]["virtfn"][name]), vf)
    return root


def recorded_message(state: str) -> ifinfmsg:
    msg = ifinfmsg(bytes.fromhex(load(f"netlink-{state}.json")["raw"]))
    msg.decode()
    return msg


class ReplayIPRoute:
    """Answers link("get") with the bytes the kernel sent in one recorded state."""

    def __init__(self, state: str) -> None:
        self.state = state

    def factory(self) -> ReplayIPRoute:
        return self

    def link_lookup(self, **kwarg: Any) -> list[int]:
        return [PF_INDEX] if kwarg["ifname"] == PF else []

    def link(self, command: str, **kwarg: Any) -> list[ifinfmsg]:
        # without ext_mask the kernel leaves out IFLA_VFINFO_LIST; the link's own attributes are the same
        assert (command, kwarg) in (("get", {"index": PF_INDEX, "ext_mask": 1}), ("get", {"index": PF_INDEX}))
        return [recorded_message(self.state)]

    def close(self) -> None:
        pass


def driver(root: Path, ipr: Any) -> LinuxHostDriver:
    clock = FakeClock()
    return LinuxHostDriver(root, ipr_factory=ipr.factory, sleep=clock.sleep, monotonic=clock.monotonic)


# --- sysfs ---------------------------------------------------------------------------------------

def test_pf_info_from_the_real_igb_layout(tmp_path: Path) -> None:
    info = driver(replay_sysfs(tmp_path, "2vfs"), ReplayIPRoute("2vfs")).pf_info(PF)
    assert (info.sriov_capable, info.totalvfs, info.numvfs) == (True, 7, 2)
    assert (info.pci_address, info.driver, info.model) == ("0000:00:0a.0", "igb", "82576 Gigabit Network Connection")
    # numvfs just written: igb re-initialised the PF, whose link is still down
    assert (info.operstate, info.carrier, info.mac) == ("down", False, "52:54:00:12:34:56")
    # igb's VFs sit at the PF's devfn + 0x80 + 2n; without udev they are plain ethN
    assert [(v.index, v.pci_address, v.driver, v.netdev, v.has_netdev_driver) for v in info.vfs] == [
        (0, "0000:00:1a.0", "igbvf", "eth1", True), (1, "0000:00:1a.2", "igbvf", "eth2", True)]
    assert sysfs.device_model(tmp_path, "0000:00:1a.0") == "82576 Virtual Function"
    assert sysfs.pf_of_vf(tmp_path, "0000:00:1a.2") == ("0000:00:0a.0", "eth0")
    assert sysfs.iommu_group(tmp_path, "0000:00:1a.0") is None  # the guest has no vIOMMU


def test_a_vf_netdev_in_another_namespace_leaves_an_empty_net_dir(tmp_path: Path) -> None:
    snap = load("sysfs-2vfs-vf0-in-netns.json")
    assert snap["vfs"]["virtfn0"]["net"] == {} and "net" in snap["vfs"]["virtfn0"]["entries"]
    d = driver(replay_sysfs(tmp_path, "2vfs-vf0-in-netns"), ReplayIPRoute("2vfs-vf0-in-netns"))
    assert d.vf_info(PF, 0).netdev is None
    assert d.find_vf_netdev_by_pci(PF, 0) is None
    assert d.vf_info(PF, 1).netdev == "eth2"


def test_back_to_zero_vfs_removes_every_virtfn(tmp_path: Path) -> None:
    info = driver(replay_sysfs(tmp_path, "0vfs-again"), ReplayIPRoute("0vfs-again")).pf_info(PF)
    assert (info.numvfs, info.vfs) == (0, [])


def test_the_fake_tree_lays_out_a_pf_like_the_real_one(tmp_path: Path) -> None:
    """Same links, same files that the driver reads, between the fake and the recorded kernel."""
    from tests.unit.fake_sysfs import FakeSysfs

    real = load("sysfs-2vfs.json")
    fake = FakeSysfs(tmp_path / "fake")
    fake.add_pf("eth0", "0000:00:0a.0", driver="igb", device="10c9", vf_driver="igbvf", vf_device="10ca",
                totalvfs=7, numvfs=2, vf_name=lambda pf, n: f"eth{n + 1}",
                vf_pci=lambda pf, n: f"0000:00:1a.{2 * n}", iommu=False)
    pf_dir = tmp_path / "fake/devices/pci0000:00/0000:00:0a.0"
    for name in ("vendor", "device", "sriov_totalvfs", "sriov_numvfs", "sriov_drivers_autoprobe"):
        assert (pf_dir / name).read_text().strip() == real["pf"]["files"][name], name
    assert os.readlink(pf_dir / "virtfn1") == real["pf"]["virtfn"]["virtfn1"]
    vf_dir = tmp_path / "fake/devices/pci0000:00/0000:00:1a.2"
    assert os.readlink(vf_dir / "physfn") == real["vfs"]["virtfn1"]["links"]["physfn"]
    assert os.readlink(vf_dir / "net/eth2/device") == real["vfs"]["virtfn1"]["net"]["eth2"]["device_link"]
    assert os.readlink(tmp_path / "fake/class/net/eth2") == real["vfs"]["virtfn1"]["net"]["eth2"]["class_link"]
    assert os.readlink(tmp_path / "fake/bus/pci/devices/0000:00:1a.2") == real["vfs"]["virtfn1"]["bus_link"]
    assert not (vf_dir / "iommu_group").exists()


# --- netlink -------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["2vfs", "2vfs-vf0-set", "2vfs-vf1-tried", "2vfs-vf0-cleared", "2vfs-vf0-back"])
def test_the_real_vfinfo_list_parses_to_what_was_recorded(state: str) -> None:
    rec = load(f"netlink-{state}.json")
    msg = recorded_message(state)
    assert msg.get_attr("IFLA_NUM_VF") == rec["num_vf"] == 2
    infos = msg.get_attr("IFLA_VFINFO_LIST").get_attrs("IFLA_VF_INFO")
    parsed = [dict(vars(parse_vfinfo(i)[1]), index=parse_vfinfo(i)[0]) for i in infos]
    assert parsed == rec["parsed"]


def test_every_setting_igb_takes_reads_back() -> None:
    d = driver(Path("/nonexistent"), ReplayIPRoute("2vfs-vf0-set"))
    assert d.get_vf_config(PF, 0) == VfConfig(vlan=200, qos=3, mac="02:00:00:00:02:00", spoofchk=False, trust=True,
                                              max_tx_rate_mbps=100)
    # a VF without an admin MAC reads as 00:00:00:00:00:00 although igbvf gave its netdev a random one
    assert d.get_vf_config(PF, 1) == VfConfig()
    assert [s["ok"] for s in LOG["vf0_sets"]] == [True] * 5


def test_the_real_driver_in_the_guest_set_and_read_back_vf1() -> None:
    assert LOG["driver_set_vf1"] == {"ok": True}
    assert VfConfig.from_dict(LOG["driver_get_vf1"]) == VfConfig(
        vlan=300, mac="02:00:00:00:03:00", spoofchk=False, trust=True, max_tx_rate_mbps=200)
    # the refusals below were undone: VF 1 is as before them
    assert LOG["driver_get_vf1_after_refusals"] == LOG["driver_get_vf1"]


def test_the_fake_kernel_message_carries_the_real_attributes_in_the_real_order() -> None:
    real = load("netlink-2vfs.json")["vf_attr_names"][0]
    fake = FakeIPRoute({PF: PF_INDEX}, {PF_INDEX: [FakeVf(), FakeVf()]})
    (msg,) = fake.link("get", index=PF_INDEX, ext_mask=1)
    assert msg.get_attr("IFLA_NUM_VF") == 2
    names = [a[0] for a in msg.get_attr("IFLA_VFINFO_LIST").get_attrs("IFLA_VF_INFO")[0]["attrs"]]
    # IFLA_VF_BROADCAST (pyroute2 0.9.7 decodes it as UNKNOWN and cannot encode it) is the only gap
    assert names == [n for n in real if n != "UNKNOWN"]


# --- what igb refuses ----------------------------------------------------------------------------

def test_recorded_refusals() -> None:
    got = {k: (v["ok"], v.get("errno")) for k, v in LOG["vf1_tries"].items()}
    assert got == {
        "link_state_disable": (False, errno.EOPNOTSUPP), "link_state_enable": (False, errno.EOPNOTSUPP),
        "link_state_auto": (False, errno.EOPNOTSUPP),  # igb has no ndo_set_vf_link_state at all
        "vlan_8021ad": (False, errno.EINVAL),  # recorded with pyroute2's unpadded VLAN info, see below
        "vlan_list_8021q": (False, errno.EINVAL),
        "min_tx_rate": (False, errno.EINVAL), "max_tx_rate_over_link": (False, errno.EINVAL),
        "vlan_4095": (True, None), "qos_8": (False, errno.EINVAL), "mac_multicast": (False, errno.EINVAL),
    }


# pyroute2 0.9.7's request for {"vf": 1, "vlan": [{"vlan": 10, "qos": 0, "proto": 0x88a8}]} before
# sriovcheck padded IFLA_VF_VLAN_INFO: nla_len 18; the kernel answered EINVAL (vlan_8021ad above).
UNPADDED_8021AD = bytes.fromhex(
    "40000000000000000000000000000000000000000200000000000000000000002000160"
    "01c00010018000c0012000100010000000a0000000000000088a80000")


def test_the_fake_kernel_refuses_a_short_vlan_info_like_the_real_one() -> None:
    with pytest.raises(NetlinkError) as exc:
        _check_vlan_info_sizes(UNPADDED_8021AD)
    assert exc.value.code == errno.EINVAL


def test_sriovcheck_sends_the_vlan_info_at_the_kernels_size() -> None:
    fake = FakeIPRoute({PF: PF_INDEX}, {PF_INDEX: [FakeVf(), FakeVf()]})
    d = driver(Path("/nonexistent"), fake)
    d.set_vf_config(PF, 1, VfConfig(vlan=10, vlan_proto="802.1ad"))  # the fake would answer EINVAL if short
    assert d.get_vf_config(PF, 1).vlan_proto == "802.1ad"


IGB_REFUSES = {"link_state": errno.EOPNOTSUPP}


def test_link_state_on_igb_gives_the_message_the_real_driver_gave_in_the_guest() -> None:
    real = LOG["driver_refusals"][0]
    assert real["config"]["link_state"] == "disable" and not real["ok"]
    fake = FakeIPRoute({PF: PF_INDEX}, {PF_INDEX: [FakeVf(), FakeVf(vlan=300, mac="02:00:00:00:03:00", spoofchk=0,
                                                                      trust=1, max_tx_rate=200)]},
                       refuse=IGB_REFUSES)

    class Igb(LinuxHostDriver):
        def _driver_of(self, pf: str) -> str:
            return "igb"

    clock = FakeClock()
    d = Igb(Path("/nonexistent"), ipr_factory=fake.factory, sleep=clock.sleep, monotonic=clock.monotonic)
    with pytest.raises(HostError) as exc:
        d.set_vf_config(PF, 1, VfConfig.from_dict(real["config"]))
    # The wording may change; the facts the real kernel produced must all be in it: the setting,
    # the VF, the kernel's own text for EOPNOTSUPP and the settings undone, in the same order.
    for fact in ("link_state", "VF 1", "Operation not supported", "trust, spoofchk, rate, mac"):
        assert fact in real["error"], fact
        assert fact in str(exc.value), fact
    assert d.get_vf_config(PF, 1) == VfConfig.from_dict(LOG["driver_get_vf1"])  # undone, as in the guest


def test_with_the_padding_the_real_kernel_took_a_vlan_list_and_igb_refused_only_8021ad() -> None:
    after = load("vlan-list-after-fix.json")
    assert after["8021q_list"] == "ok"
    assert (after["after_list_8021q"]["vlan"], after["after_list_8021q"]["qos"]) == (10, 2)
    assert after["8021ad"][:2] == [errno.EPROTONOSUPPORT, "EPROTONOSUPPORT"]
    assert "refused vlan = vlan 10 qos 0 proto 802.1ad: Protocol not supported (EPROTONOSUPPORT)" in after[
        "driver_8021ad"]


# --- the PF's link state, as the diagnosis names it ----------------------------------------------

@pytest.mark.parametrize("state", ["0vfs", "2vfs", "2vfs-vf0-set"])
def test_pf_carrier_is_read_over_netlink_as_the_kernel_reported_it(tmp_path: Path, state: str) -> None:
    info = driver(replay_sysfs(tmp_path, state), ReplayIPRoute(state)).pf_info(PF)
    files = load(f"sysfs-{state}.json")["pf"]["net"][PF]["files"]
    # sysfs and netlink of the same moment agree: "2vfs" is igb's PF re-initialising, without carrier
    assert (info.operstate, info.carrier) == (files["operstate"], files["carrier"] == "1")
    assert info.carrier is (state != "2vfs")


def test_the_fake_kernel_reports_a_link_state_like_the_real_one() -> None:
    for state, no_carrier in (("0vfs", set()), ("2vfs", {PF})):
        real = recorded_message(state)
        fake = FakeIPRoute({PF: PF_INDEX}, {PF_INDEX: []}, no_carrier=no_carrier).link("get", index=PF_INDEX)[0]
        assert [fake.get(a) for a in ("IFLA_OPERSTATE", "IFLA_CARRIER")] == [real.get(a) for a in ("IFLA_OPERSTATE", "IFLA_CARRIER")]


def test_a_carrier_netlink_cannot_read_is_unknown_not_down(tmp_path: Path) -> None:
    class Refusing(ReplayIPRoute):
        def link(self, command: str, **kwarg: Any) -> list[ifinfmsg]:
            raise NetlinkError(errno.EPERM, "Operation not permitted")

    info = driver(replay_sysfs(tmp_path, "0vfs"), Refusing("0vfs")).pf_info(PF)
    assert (info.exists, info.operstate, info.carrier) == (True, "up", None)
