"""What igb refuses is an error, not a mystery: the real Linux host driver against a fake sysfs tree of
an igb PF and a netlink fake that answers as igb does (the errnos of Linux 6.1 igb_main.c, as seen on
QEMU's 82576: link_state EOPNOTSUPP, 802.1ad EPROTONOSUPPORT, min_tx_rate EINVAL), through the
provisioning engine and the CLI; what the run changed is rolled back for real; preflight warns first."""

from __future__ import annotations

import errno
import io
from pathlib import Path
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from sriovcheck import cli, workflow
from sriovcheck.errors import ExitCode, HostError, ProvisionError, SettingRefused
from sriovcheck.host import capabilities
from sriovcheck.host.driver import PfInfo, VfConfig
from sriovcheck.host.linux import LinuxHostDriver
from sriovcheck.preflight import driver_items
from sriovcheck.provision.engine import Provisioner
from sriovcheck.provision.state import StateStore
from sriovcheck.topology import load_text
from tests.unit.fake_sysfs import FakeClock, FakeIPRoute, FakeSysfs, FakeVf
from tests.unit.fakes import FakeNetns, FakeRuntime, FakeWorld

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"
PF_INDEX = 7


class IgbIPRoute(FakeIPRoute):
    """Netlink as the igb PF driver answers it (Linux 6.1 igb_main.c; the vm-lab note saw the first two):
    no ndo_set_vf_link_state (EOPNOTSUPP), igb_ndo_set_vf_vlan: 802.1Q only (EPROTONOSUPPORT),
    igb_ndo_set_vf_bw: min_tx_rate must be 0, max_tx_rate needs link up and at most 1000 (EINVAL)."""

    def __init__(self, vfs: list[FakeVf], *, link_up: bool = True) -> None:
        super().__init__({"eno2": PF_INDEX, "lo": 1}, {PF_INDEX: vfs})
        self.link_up = link_up

    def _apply(self, index: int, spec: dict[str, Any]) -> None:
        if "link_state" in spec:
            raise NetlinkError(errno.EOPNOTSUPP)
        vlan = spec.get("vlan")
        if isinstance(vlan, list) and vlan[0].get("proto", 0x8100) != 0x8100:
            raise NetlinkError(errno.EPROTONOSUPPORT)
        rate = spec.get("rate")
        if rate is not None and (rate["min_tx_rate"] or not self.link_up or rate["max_tx_rate"] > 1000):
            raise NetlinkError(errno.EINVAL)
        super()._apply(index, spec)


class IgbHost:
    """An igb PF eno2 (82576, igbvf VFs, at most 7) in a fake sysfs tree whose VF count and netlink VF
    list move together, as in the kernel: VFs destroyed by a count change come back blank."""

    def __init__(self, root: Path, *, numvfs: int = 0, link_up: bool = True) -> None:
        self.tree = FakeSysfs(root)
        self.tree.add_pf("eno2", "0000:00:0a.0", driver="igb", device="10c9", vf_driver="igbvf", vf_device="10ca",
                         totalvfs=7, vf_name=lambda _pf, n: f"eth{n + 1}",
                         operstate="up" if link_up else "down")
        self.ipr = IgbIPRoute([], link_up=link_up)
        self.fail_values: dict[str, int] = {}  # a sriov_numvfs value -> errno the kernel answers
        self.clock = FakeClock(on_sleep=self.tree.tick)
        self.driver = LinuxHostDriver(self.tree.root, ipr_factory=self.ipr.factory, sleep=self.clock.sleep,
                                      monotonic=self.clock.monotonic, write_attr=self.write_attr)
        if numvfs:
            self.write_attr(self.tree.root / "class/net/eno2/device/sriov_numvfs", str(numvfs))
            self.tree.writes.clear()

    def write_attr(self, path: Path, value: str) -> None:
        if value in self.fail_values and path.name == "sriov_numvfs":
            self.tree.writes.append((str(path.relative_to(self.tree.root)), value))
            code = self.fail_values[value]
            raise OSError(code, f"injected {errno.errorcode[code]}", str(path))
        before = self.tree.pfs["eno2"].numvfs
        self.tree.write_attr(path, value)
        after = self.tree.pfs["eno2"].numvfs
        if after != before:
            self.ipr.vfs[PF_INDEX] = [FakeVf() for _ in range(after)]

    def vf_state(self) -> list[dict[str, Any]]:
        return [vars(v).copy() for v in self.ipr.vfs[PF_INDEX]]


def topology(vf1: str = "", vf0: str = "", numvfs: int = 3) -> Any:
    text = SEED.read_text().replace("numvfs: 8", f"numvfs: {numvfs}")
    text = text.replace("        address: 192.168.200.2/24\n", "        address: 192.168.200.2/24\n" + vf0)
    text = text.replace("        address: 192.168.201.2/24\n", "        address: 192.168.201.2/24\n" + vf1)
    return load_text(text).topology


VF0_FULL = ("        mac: 02:00:00:00:02:00\n        qos: 3\n        spoofchk: false\n        trust: true\n"
            "        max_tx_rate_mbps: 500\n")
LINK_STATE = "        link_state: disable\n"
QINQ = "        vlan_proto: 802.1ad\n"
MIN_RATE = "        min_tx_rate_mbps: 100\n"


def provisioner(topo: Any, host: IgbHost, tmp_path: Path) -> Provisioner:
    w = FakeWorld({})
    return Provisioner(topo, host=host.driver, runtime=FakeRuntime(w), netns=FakeNetns(w),
                       store=StateStore(topo.name, tmp_path / "state"), image_override="img:1", container_workers=1)


# --- the real driver names igb's refusals ----------------------------------------------------------

@pytest.mark.parametrize(
    ("config", "message", "hint_part"),
    [
        (VfConfig(vlan=201, trust=True, link_state="disable"),
         "igb on eno2 does not support link_state for VF 1 (the kernel said: Operation not supported); "
         "undone on VF 1: trust, vlan",
         "remove link_state from VF 1 of eno2 in the topology (or set it to auto), or use a NIC whose driver "
         "supports it (i40e, ice)"),
        (VfConfig(vlan=201, vlan_proto="802.1ad"),
         "igb on eno2 does not support vlan_proto 802.1ad for VF 1 (the kernel said: Protocol not supported); "
         "nothing had been changed on VF 1",
         "remove vlan_proto from VF 1 of eno2 in the topology (or set it to 802.1Q)"),
        (VfConfig(vlan=201, min_tx_rate_mbps=100, max_tx_rate_mbps=500),
         "igb on eno2 refused min_tx_rate_mbps 100 for VF 1 (the kernel said: Invalid argument); "
         "undone on VF 1: vlan",
         "igb has no minimum rate: any non-zero min_tx_rate is refused (intel/igb/igb_main.c igb_ndo_set_vf_bw); "
         "remove min_tx_rate_mbps from VF 1 of eno2"),
    ],
)
def test_a_refusal_names_driver_pf_vf_setting_and_the_kernels_answer(
        tmp_path: Path, config: VfConfig, message: str, hint_part: str) -> None:
    host = IgbHost(tmp_path / "sys", numvfs=2)
    with pytest.raises(SettingRefused) as exc:
        host.driver.set_vf_config("eno2", 1, config)
    assert exc.value.message == message
    assert exc.value.hint is not None and hint_part in exc.value.hint
    assert (exc.value.driver, exc.value.pf, exc.value.vf) == ("igb", "eno2", 1)
    assert host.vf_state()[1] == vars(FakeVf())  # what this call changed on VF 1 is undone


def test_max_rate_on_a_pf_without_link_is_named_with_igbs_condition(tmp_path: Path) -> None:
    host = IgbHost(tmp_path / "sys", numvfs=1, link_up=False)
    with pytest.raises(SettingRefused) as exc:
        host.driver.set_vf_config("eno2", 0, VfConfig(vlan=200, max_tx_rate_mbps=500))
    assert exc.value.message.startswith("igb on eno2 refused max_tx_rate_mbps 500 for VF 0 (the kernel said: "
                                        "Invalid argument)")
    assert exc.value.hint is not None
    assert exc.value.hint.startswith("82576 only (EOPNOTSUPP on I350), the PF's link must be up, at most the link speed")
    assert "use a value the driver accepts, or remove max_tx_rate_mbps from VF 0 of eno2" in exc.value.hint


def test_what_igb_supports_goes_through(tmp_path: Path) -> None:
    host = IgbHost(tmp_path / "sys", numvfs=1)
    want = VfConfig(vlan=200, qos=3, mac="02:00:00:00:02:00", spoofchk=False, trust=True, max_tx_rate_mbps=500)
    host.driver.set_vf_config("eno2", 0, want)
    assert host.driver.get_vf_config("eno2", 0) == want


# --- provision stops, exit 3, and the run is rolled back for real ----------------------------------

def test_provision_from_no_vfs_stops_at_link_state_and_leaves_none(tmp_path: Path) -> None:
    host = IgbHost(tmp_path / "sys")
    topo = topology(vf0=VF0_FULL, vf1=LINK_STATE)
    with pytest.raises(ProvisionError) as exc:
        provisioner(topo, host, tmp_path).provision()
    assert exc.value.message == (
        "provisioning 'seed-lab' failed: igb on eno2 does not support link_state for VF 1 "
        "(the kernel said: Operation not supported); undone on VF 1: vlan")
    assert exc.value.hint is not None and exc.value.hint.startswith(
        "what this run changed has been undone; igb has no VF link-state control")
    assert host.tree.numvfs_writes() == ["3", "0"]  # created, then back to what it was
    assert host.driver.pf_info("eno2").numvfs == 0 and host.vf_state() == []
    assert not StateStore(topo.name, tmp_path / "state").path.exists()


def test_rollback_brings_back_the_vfs_a_count_change_destroyed_with_their_settings(tmp_path: Path) -> None:
    host = IgbHost(tmp_path / "sys", numvfs=2)
    host.ipr.vfs[PF_INDEX][0] = FakeVf(mac="02:00:00:00:99:00", vlan=99, qos=1, trust=1)
    host.ipr.vfs[PF_INDEX][1] = FakeVf(vlan=98, spoofchk=0)
    before = host.vf_state()
    with pytest.raises(ProvisionError, match=r"igb on eno2 does not support vlan_proto 802\.1ad for VF 1"):
        provisioner(topology(vf0=VF0_FULL, vf1=QINQ), host, tmp_path).provision()
    assert host.tree.numvfs_writes() == ["0", "3", "0", "2"]
    assert host.vf_state() == before
    sets = host.ipr.set_calls()
    assert {"mac": "02:00:00:00:99:00"} in sets and {"vlan": {"vlan": 99, "qos": 1}} in sets and {"spoofchk": 0} in sets


def test_same_count_rollback_restores_the_settings_of_the_vfs_it_changed(tmp_path: Path) -> None:
    host = IgbHost(tmp_path / "sys", numvfs=3)
    host.ipr.vfs[PF_INDEX][0] = FakeVf(vlan=99)
    before = host.vf_state()
    with pytest.raises(ProvisionError, match=r"igb on eno2 refused min_tx_rate_mbps 100 for VF 1 \(the kernel said: "
                       r"Invalid argument\)"):
        provisioner(topology(vf0=VF0_FULL, vf1=MIN_RATE), host, tmp_path).provision()
    assert host.tree.numvfs_writes() == []
    assert host.vf_state() == before
    # VF 0 was fully configured by this run, then put back, in the order drivers need
    assert host.ipr.set_calls()[-5:] == [
        {"vlan": {"vlan": 99, "qos": 0}}, {"mac": "00:00:00:00:00:00"}, {"rate": {"min_tx_rate": 0, "max_tx_rate": 0}},
        {"spoofchk": 1}, {"trust": 0},
    ]


def test_a_count_change_that_fails_part_way_is_rolled_back_too(tmp_path: Path) -> None:
    """2 -> 3 goes through 0; the kernel refuses 3: the PF is left with 0 VFs unless the rollback,
    which knew nothing of a change that raised, brings the 2 back."""
    host = IgbHost(tmp_path / "sys", numvfs=2)
    host.ipr.vfs[PF_INDEX][1] = FakeVf(vlan=98)
    before = host.vf_state()
    host.fail_values["3"] = errno.ENOMEM
    with pytest.raises(ProvisionError, match=r"writing 3 to .*sriov_numvfs \(to get 3 VFs\) failed: .*ENOMEM.*; driver igb"):
        provisioner(topology(), host, tmp_path).provision()
    assert host.tree.numvfs_writes() == ["0", "3", "2"]
    assert host.driver.pf_info("eno2").numvfs == 2 and host.vf_state() == before


def test_a_rollback_that_fails_says_so_instead_of_undone(tmp_path: Path) -> None:
    host = IgbHost(tmp_path / "sys")
    host.fail_values["0"] = errno.EBUSY
    with pytest.raises(ProvisionError) as exc:
        provisioner(topology(vf1=LINK_STATE), host, tmp_path).provision()
    hint = exc.value.hint or ""
    assert "numvfs of eno2: PF eno2: writing 0" in hint and "EBUSY" in hint and "sriovcheck teardown" in hint
    assert "has been undone" not in hint
    state = StateStore("seed-lab", tmp_path / "state").load()
    assert state is not None and state.numvfs_original == {"eno2": 0}  # teardown knows what to restore


def test_provision_through_the_cli_exits_3_with_the_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    host = IgbHost(tmp_path / "sys")
    topo_file = tmp_path / "igb.yaml"
    topo_file.write_text(SEED.read_text().replace("numvfs: 8", "numvfs: 3").replace(
        "        address: 192.168.201.2/24\n", "        address: 192.168.201.2/24\n" + LINK_STATE))
    monkeypatch.setenv("SRIOVCHECK_STATE_DIR", str(tmp_path / "state"))
    w = FakeWorld({})

    def context(loaded: Any, **_kw: Any) -> workflow.Context:
        return workflow.Context(loaded, False, host.driver, FakeRuntime(w), FakeNetns(w), None)  # type: ignore[arg-type]

    monkeypatch.setattr(workflow, "build_context", context)
    code = cli.main(["provision", str(topo_file)], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == ExitCode.ENVIRONMENT == 3
    assert ("error: provisioning 'seed-lab' failed: igb on eno2 does not support link_state for VF 1 "
            "(the kernel said: Operation not supported); undone on VF 1: vlan\n"
            "  hint: what this run changed has been undone; igb has no VF link-state control") in err
    assert "remove link_state from VF 1 of eno2 in the topology (or set it to auto)" in err
    assert host.tree.numvfs_writes() == ["3", "0"] and host.vf_state() == []
    assert w.containers == {}


# --- preflight warns before anything is changed ----------------------------------------------------

def igb_info(*, operstate: str = "up", totalvfs: int = 7, driver: str = "igb") -> PfInfo:
    return PfInfo(name="eno2", exists=True, sriov_capable=True, totalvfs=totalvfs, numvfs=0, driver=driver,
                  operstate=operstate)


def test_preflight_names_each_refused_setting_with_its_source() -> None:
    topo = topology(vf0=QINQ + MIN_RATE, vf1=LINK_STATE)
    items = {i.what: i for i in driver_items(topo, "eno2", 3, igb_info())}
    assert sorted(items) == ["PF eno2 (igb) link_state", "PF eno2 (igb) min_tx_rate_mbps", "PF eno2 (igb) vlan_proto"]
    link = items["PF eno2 (igb) link_state"]
    assert (link.ok, link.blocking) == (False, True)
    assert link.detail.startswith("igb does not support link_state (it answers EOPNOTSUPP: igb has no VF link-state "
                                  "control); asked for by VF 1 (disable) (source: Linux 6.1 drivers/net/ethernet/"
                                  "intel/igb/igb_main.c igb_netdev_ops has no ndo_set_vf_link_state")
    assert "'Operation not supported' seen on QEMU's igb (82576)" in link.detail
    assert link.hint == ("remove link_state from VF 1 of eno2 in the topology (or set it to auto), or use a NIC "
                         "whose driver supports it (i40e, ice)")
    qinq = items["PF eno2 (igb) vlan_proto"]
    assert qinq.detail.startswith("igb does not support vlan_proto 802.1ad (it answers EPROTONOSUPPORT: 802.1Q VF "
                                  "VLANs only); asked for by VF 0 (802.1ad)")
    assert items["PF eno2 (igb) min_tx_rate_mbps"].detail.startswith(
        "igb does not support min_tx_rate_mbps (it answers EINVAL: igb has no minimum rate")


def test_preflight_conditions_are_notes_until_the_host_shows_them_unmet() -> None:
    topo = topology(vf0="        max_tx_rate_mbps: 500\n", vf1="        max_tx_rate_mbps: 2000\n")
    (item,) = driver_items(topo, "eno2", 3, igb_info())
    assert item.blocking  # 2000 is above what igb can do on any link
    assert item.detail.startswith("igb will refuse max_tx_rate_mbps here: 2000 is above 1000 (82576 only")
    assert "asked for by VF 1 (2000)" in item.detail
    topo = topology(vf0="        max_tx_rate_mbps: 500\n")
    (note,) = driver_items(topo, "eno2", 3, igb_info())
    assert (note.ok, note.blocking) == (False, False)
    assert note.detail.startswith("igb accepts max_tx_rate_mbps only under a condition: 82576 only")
    (down,) = driver_items(topo, "eno2", 3, igb_info(operstate="down"))
    assert down.blocking and "igb will refuse max_tx_rate_mbps here: the PF's link is down" in down.detail


def test_preflight_checks_the_count_against_the_drivers_limit_and_knows_unknown_drivers() -> None:
    (item,) = driver_items(topology(numvfs=8), "eno2", 8, igb_info(totalvfs=8))
    assert item.blocking and item.detail.startswith("igb allows at most 7 VFs, the topology wants 8 (source: ")
    assert "igb_probe_vfs" in item.detail and item.hint == "lower numvfs of eno2 to at most 7"
    assert driver_items(topology(), "eno2", 3, igb_info()) == []  # the seed's settings: nothing to say
    (unknown,) = driver_items(topology(vf1=LINK_STATE), "eno2", 3, igb_info(driver="bnxt_en"))
    assert not unknown.blocking and "bnxt_en: not in sriovcheck's capability table" in unknown.detail
    assert driver_items(topology(vf1=LINK_STATE), "eno2", 3, igb_info(driver="ixgbe-emulated")) == []


def test_preflight_through_the_cli_fails_before_anything_is_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = IgbHost(tmp_path / "sys", numvfs=1)
    topo_file = tmp_path / "igb.yaml"
    topo_file.write_text(SEED.read_text().replace("numvfs: 8", "numvfs: 3").replace(
        "        address: 192.168.201.2/24\n", "        address: 192.168.201.2/24\n" + LINK_STATE))
    monkeypatch.setenv("SRIOVCHECK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr("sriovcheck.preflight.os.geteuid", lambda: 0)
    w = FakeWorld({})
    monkeypatch.setattr(workflow, "build_context", lambda loaded, **_kw: workflow.Context(
        loaded, False, host.driver, FakeRuntime(w), FakeNetns(w), None))  # type: ignore[arg-type]
    out = io.StringIO()
    code = cli.main(["preflight", str(topo_file)], out=out)
    text = out.getvalue()
    assert code == ExitCode.ENVIRONMENT
    assert "[ok  ] PF eno2: totalvfs 7, numvfs 1, want 3\n" in text
    assert "[FAIL] PF eno2 (igb) link_state: igb does not support link_state (it answers EOPNOTSUPP" in text
    assert "       -> remove link_state from VF 1 of eno2 in the topology (or set it to auto)" in text
    assert "PF eno2: driver igb, 0000:00:0a.0, link up, numvfs 1/7" in text
    assert host.tree.writes == [] and [c for c, _ in host.ipr.calls if c == "set"] == []  # nothing changed
    topo_file.write_text(SEED.read_text().replace("numvfs: 8", "numvfs: 3"))
    assert cli.main(["preflight", str(topo_file)], out=io.StringIO()) == ExitCode.OK
    topo_file.write_text(SEED.read_text())  # 8 VFs: sysfs says 7, and so does igb's source
    out = io.StringIO()
    assert cli.main(["preflight", str(topo_file)], out=out) == ExitCode.ENVIRONMENT
    assert "[FAIL] PF eno2: totalvfs 7, numvfs 1, want 8\n       -> the NIC supports at most 7 VFs\n" in out.getvalue()
    assert "[FAIL] PF eno2 driver: igb allows at most 7 VFs, the topology wants 8 (source: " in out.getvalue()
    assert host.tree.writes == []


def test_the_table_cites_a_source_for_every_fact_and_knows_the_five_drivers() -> None:
    assert sorted(capabilities.CAPABILITIES) == ["i40e", "ice", "igb", "ixgbe", "mlx5_core"]
    for caps in capabilities.CAPABILITIES.values():
        assert caps.max_vfs_source
        assert sorted(caps.settings) == sorted(capabilities.SETTINGS), caps.driver
        for setting, fact in caps.settings.items():
            assert fact.source.startswith(("Linux 6.1 drivers/net/ethernet/", "the firmware")), (caps.driver, setting)
            if fact.status in ("refused",):
                assert fact.errno is not None, (caps.driver, setting)
    igb = capabilities.CAPABILITIES["igb"]
    assert (igb.max_vfs, igb.fact("link_state").errno, igb.fact("vlan_proto").errno,
            igb.fact("min_tx_rate_mbps").errno) == (7, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT, errno.EINVAL)


def test_the_readme_shows_the_table_as_the_code_has_it() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert capabilities.markdown_table() in readme


def test_the_emulated_lab_can_behave_as_igb() -> None:
    from sriovcheck.lab.host_driver import EmulatedHostDriver

    igb = EmulatedHostDriver("/nonexistent", nic_driver="igb")
    assert igb.pf_driver == "igb-emulated" and capabilities.capabilities(igb.pf_driver) is capabilities.CAPABILITIES["igb"]
    with pytest.raises(SettingRefused) as exc:
        igb._refusals("eno2", 1, VfConfig(), VfConfig(vlan=201, link_state="disable"), pf_link_up=True)
    assert exc.value.message == ("igb on eno2 does not support link_state for VF 1 (the emulated igb said: "
                                 "Operation not supported); nothing had been changed on VF 1")
    with pytest.raises(SettingRefused, match=r"igb on eno2 refused max_tx_rate_mbps 500 for VF 0 \(the emulated igb "
                       r"said: Invalid argument\)"):
        igb._refusals("eno2", 0, VfConfig(), VfConfig(vlan=200, max_tx_rate_mbps=500), pf_link_up=False)
    igb._refusals("eno2", 0, VfConfig(), VfConfig(vlan=200, max_tx_rate_mbps=500, trust=True), pf_link_up=True)
    # a setting that is already so is not sent again, so not refused again (as on the real driver)
    igb._refusals("eno2", 0, VfConfig(link_state="disable"), VfConfig(vlan=200, link_state="disable"), pf_link_up=True)
    assert capabilities.capabilities("ixgbe-emulated") is None  # the default lab honours link_state: not mapped


def test_a_vf_still_resetting_is_a_retry_not_a_refusal(tmp_path: Path) -> None:
    tree = FakeSysfs(tmp_path / "sys")
    tree.add_pf("ens1f0", "0000:3b:00.0", driver="i40e", device="1572", vf_driver="iavf", vf_device="154c", numvfs=1)
    ipr = FakeIPRoute({"ens1f0": 9}, {9: [FakeVf()]}, refuse={"mac": errno.EAGAIN})
    clock = FakeClock(on_sleep=tree.tick)
    d = LinuxHostDriver(tree.root, ipr_factory=ipr.factory, sleep=clock.sleep, monotonic=clock.monotonic,
                        write_attr=tree.write_attr)
    with pytest.raises(HostError) as exc:
        d.set_vf_config("ens1f0", 0, VfConfig(vlan=200, mac="02:00:00:00:02:00"))
    assert not isinstance(exc.value, SettingRefused)
    assert "the driver (i40e) refused mac = 02:00:00:00:02:00: Resource temporarily unavailable (EAGAIN)" in str(exc.value)
    assert "i40e and ice answer EAGAIN while the VF is still resetting" in str(exc.value)
    assert ipr.vfs[9][0].vlan == 0  # the VLAN this call set is undone
