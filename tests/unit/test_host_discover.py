"""Discovery of SR-IOV NICs, the lshw-like table, the starter topology, and host facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovcheck.host.discover import discover, render_table, skeleton_topology
from sriovcheck.host.facts import host_facts
from sriovcheck.topology import load_text
from tests.unit.fake_sysfs import FakeSysfs


@pytest.fixture
def seed_host(tmp_path: Path) -> FakeSysfs:
    """The seed document's worker2: eno1/eno2 X540 (8 VFs on eno2), eno3/eno4 I350 (no VFs made)."""
    t = FakeSysfs(tmp_path / "sys")
    t.add_pf("eno1", "0000:01:00.0", totalvfs=63, mac="ac:1f:6b:01:00:00")
    t.add_pf("eno2", "0000:01:00.1", totalvfs=63, numvfs=8)
    t.add_pf("eno3", "0000:07:00.0", driver="igb", device="1521", vf_driver="igbvf", vf_device="1520", totalvfs=7,
             operstate="down")
    t.add_nic("eno4", "0000:07:00.1", driver="igb", device="1521")  # SR-IOV off in this NIC's firmware
    t.add_virtual("docker0", "02:42:00:00:00:01")
    return t


def test_discover_lists_every_capable_pf_with_its_vfs(seed_host: FakeSysfs) -> None:
    nics = discover(seed_host.root)
    assert [n.netdev for n in nics] == ["eno1", "eno2", "eno3"]
    eno2 = nics[1]
    assert (eno2.pci_address, eno2.driver, eno2.totalvfs, eno2.numvfs, eno2.operstate) == (
        "0000:01:00.1", "ixgbe", 63, 8, "up")
    assert eno2.model == "Ethernet Controller 10-Gigabit X540-AT2"
    assert [(v.index, v.pci_address, v.driver, v.netdev) for v in eno2.vfs[:2]] == [
        (0, "0000:01:10.1", "ixgbevf", "eno2v0"), (1, "0000:01:10.3", "ixgbevf", "eno2v1")]
    assert eno2.vfs[7].pci_address == "0000:01:11.7"
    assert {v.model for v in eno2.vfs} == {"X540 Ethernet Controller Virtual Function"}
    assert nics[2].model == "I350 Gigabit Network Connection" and nics[2].vfs == []
    assert nics[1].as_dict()["vfs"][0]["netdev"] == "eno2v0"  # type: ignore[index]


def test_discover_on_a_host_without_sriov(tmp_path: Path) -> None:
    t = FakeSysfs(tmp_path)
    t.add_nic("enp0s3", "0000:00:03.0", driver="e1000", device="100e")
    assert discover(t.root) == []
    assert "No SR-IOV capable NIC found" in render_table([])
    assert discover(tmp_path / "nothing-here") == []


def test_table_reads_like_lshw_businfo_with_vfs_under_their_pf(seed_host: FakeSysfs) -> None:
    seed_host.pfs["eno1"].vf_drivers = {1: "vfio-pci"}
    seed_host.write_attr(seed_host.root / "class/net/eno1/device/sriov_numvfs", "2")
    seed_host.vf_leaves_namespace("eno2", 0)
    text = render_table(discover(seed_host.root))
    lines = text.splitlines()
    assert lines[0].split() == ["Bus", "info", "Device", "Class", "Description", "Driver", "SR-IOV", "State"]
    assert set(lines[1]) == {"="}
    rows = [line.split() for line in lines[2:]]
    assert rows[0][:3] == ["pci@0000:01:00.0", "eno1", "network"]
    # eno1's VFs come right after it; VF 1 is bound to vfio-pci and has no netdev
    assert rows[1][:3] == ["pci@0000:01:10.0", "eno1v0", "network"]
    assert rows[2][:2] == ["pci@0000:01:10.2", "-"] and "vfio-pci:" in lines[4]
    eno2 = next(i for i, line in enumerate(lines) if " eno2 " in line)
    assert "Ethernet Controller 10-Gigabit X540-AT2" in lines[eno2] and "PF 8/63 VFs" in lines[eno2]
    assert lines[eno2 + 1].startswith("pci@0000:01:10.1  -") and "in a container?" in lines[eno2 + 1]
    assert lines[eno2 + 2].split()[:2] == ["pci@0000:01:10.3", "eno2v1"]
    assert "X540 Ethernet Controller Virtual Function" in lines[eno2 + 2] and "VF 1 of eno2" in lines[eno2 + 2]
    assert any("eno3" in line and "down" in line for line in lines)
    assert not any("eno4" in line or "docker0" in line for line in lines)
    # aligned columns: "Device" starts at the same column on every line
    col = lines[0].index("Device")
    assert all(line[col - 2 : col] == "  " for line in lines[2:])


def test_skeleton_loads_and_marks_its_guesses(seed_host: FakeSysfs) -> None:
    text = skeleton_topology(discover(seed_host.root), "worker2")
    t = load_text(text, file="skeleton.yaml").topology
    assert t.name == "worker2-sriov" and t.host.name == "worker2"
    assert [(p.name, p.numvfs, p.switch_port) for p in t.host.pfs] == [
        ("eno1", 2, "ge-0/0/0"), ("eno2", 8, "ge-0/0/1"), ("eno3", 2, "ge-0/0/2")]
    # the containers go on the PF that already has VFs, as in the seed
    assert [(vf.pf, vf.vf, vf.vlan) for _, vf in t.attachments()] == [("eno2", 0, 200), ("eno2", 1, 201)]
    assert "switch_port: ge-0/0/0  # CHANGE ME" in text
    assert "host: 192.0.2.10  # CHANGE ME" in text
    assert "Ethernet Controller 10-Gigabit X540-AT2, ixgbe, 0000:01:00.1; sriov_totalvfs 63" in text
    assert t.switch.password_env == "SRIOVCHECK_SWITCH_PASSWORD"


@pytest.mark.parametrize("host", ["Worker_2.lab", "-", "a" * 80])
def test_skeleton_survives_odd_host_names_and_no_nics(host: str) -> None:
    t = load_text(skeleton_topology([], host)).topology
    assert t.host.pfs[0].name == "eno2"
    assert len(t.name) <= 32


def test_skeleton_skips_vfs_without_a_netdev_driver(seed_host: FakeSysfs) -> None:
    seed_host.write_attr(seed_host.root / "class/net/eno2/device/sriov_numvfs", "0")
    seed_host.pfs["eno2"].vf_drivers = {0: "vfio-pci", 2: "vfio-pci"}
    seed_host.write_attr(seed_host.root / "class/net/eno2/device/sriov_numvfs", "4")
    t = load_text(skeleton_topology(discover(seed_host.root), "worker2")).topology
    assert [(vf.pf, vf.vf) for _, vf in t.attachments()] == [("eno2", 1), ("eno2", 3)]


def test_skeleton_with_a_single_vf_pf(tmp_path: Path) -> None:
    tree = FakeSysfs(tmp_path)
    tree.add_pf("ens1f0", "0000:3b:00.0", totalvfs=1)
    t = load_text(skeleton_topology(discover(tree.root), "h1")).topology
    assert t.host.pfs[0].numvfs == 1 and len(t.containers) == 1


# --- facts ---------------------------------------------------------------------------------------

def fake_proc(root: Path, *, uid: int, cap_eff: str, cmdline: str, vendor: str = "GenuineIntel") -> Path:
    (root / "self").mkdir(parents=True)
    (root / "sys/kernel").mkdir(parents=True)
    (root / "self/status").write_text(
        f"Name:\tpython3\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nCapInh:\t0000000000000000\nCapEff:\t{cap_eff}\n")
    (root / "cmdline").write_text(cmdline + "\n")
    (root / "sys/kernel/hostname").write_text("worker2\n")
    (root / "sys/kernel/osrelease").write_text("6.1.0-18-amd64\n")
    (root / "cpuinfo").write_text(f"processor\t: 0\nvendor_id\t: {vendor}\n")
    return root


def test_facts_root_with_iommu_on(seed_host: FakeSysfs, tmp_path: Path) -> None:
    (seed_host.root / "class/iommu/dmar0").mkdir()
    proc = fake_proc(tmp_path / "proc", uid=0, cap_eff="000001ffffffffff",
                     cmdline="BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt")
    f = host_facts(seed_host.root, proc)
    assert (f["hostname"], f["kernel_release"], f["is_root"], f["cap_net_admin"]) == (
        "worker2", "6.1.0-18-amd64", True, True)
    iommu = f["iommu"]
    assert isinstance(iommu, dict)
    assert iommu["enabled"] is True and iommu["units"] == ["dmar0"] and iommu["passthrough"] is True
    assert iommu["cmdline_flags"] == ["intel_iommu=on", "iommu=pt"]


def test_facts_unprivileged_without_iommu_gives_the_grub_line(tmp_path: Path) -> None:
    sys_root = tmp_path / "sys"
    (sys_root / "class/iommu").mkdir(parents=True)
    proc = fake_proc(tmp_path / "proc", uid=1000, cap_eff="0000000000001000", cmdline="root=/dev/sda1 ro quiet",
                     vendor="AuthenticAMD")
    f = host_facts(sys_root, proc)
    assert f["is_root"] is False and f["cap_net_admin"] is True  # bit 12 alone
    iommu = f["iommu"]
    assert isinstance(iommu, dict) and iommu["enabled"] is False
    note = str(iommu["note"])
    assert '"amd_iommu=on iommu=pt" to GRUB_CMDLINE_LINUX' in note
    assert "do not need it" in note


def test_facts_on_this_machine_do_not_fail() -> None:
    f = host_facts(Path("/sys"))
    assert isinstance(f["kernel_release"], str) and f["kernel_release"]
    assert isinstance(f["is_root"], bool)


def test_a_virtio_nic_has_no_pci_address(tmp_path: Path) -> None:
    from sriovcheck.host import sysfs

    t = FakeSysfs(tmp_path)
    dev = tmp_path / "devices/pci0000:00/0000:00:03.0/virtio2"
    (dev / "net/eth0").mkdir(parents=True)
    (dev / "net/eth0/device").symlink_to("../../../virtio2")
    (tmp_path / "class/net/eth0").symlink_to("../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0")
    assert sysfs.netdev_pci_address(t.root, "eth0") is None
    assert discover(t.root) == []
    with pytest.raises(ValueError, match="unchecked PCI address"):
        sysfs.pci_device_dir(t.root, "../../etc")


def test_sysfs_root_comes_from_the_environment_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from sriovcheck.host import sysfs

    monkeypatch.delenv(sysfs.SYSFS_ROOT_ENV, raising=False)
    assert sysfs.default_sysfs_root() == Path("/sys")
    monkeypatch.setenv(sysfs.SYSFS_ROOT_ENV, "/tmp/fake-sys")
    assert sysfs.default_sysfs_root() == Path("/tmp/fake-sys")
