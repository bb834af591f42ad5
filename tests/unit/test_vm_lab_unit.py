"""The VM lab's pure parts: QEMU's command line and PCI layout, the initramfs archive, the switch's
Junos view from a kernel dump, the parts finder's message, --fault parsing."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from sriovcheck.errors import LabError, UsageError
from sriovcheck.topology import load_topology
from sriovcheck.vmlab import command, initramfs, parts, qemu
from sriovcheck.vmlab.switch import VmDump, VmSwitchState, VmSwitchVlan, build_vm_snapshot, plan_switch_state

ROOT = Path(__file__).resolve().parents[2]


def spec(pfs: int = 2) -> qemu.VmSpec:
    return qemu.VmSpec(kernel=Path("/k/vmlinuz"), initrd=Path("/x/initrd"), xchg=Path("/x"), pfs=pfs)


def test_qemu_argv_is_tcg_q35_without_a_64bit_window_and_cables_each_pf_to_its_own_switch_port() -> None:
    argv = qemu.qemu_argv("/usr/bin/qemu-system-x86_64", spec())
    joined = " ".join(argv)
    assert argv[:3] == ["/usr/bin/qemu-system-x86_64", "-accel", "tcg"]
    assert "-machine q35" in joined and "q35-pcihost.pci-hole64-size=0" in joined and "-enable-kvm" not in joined
    assert "path=/,security_model=none,readonly=on" in joined  # the host root is shared read-only
    for i in (0, 1):
        assert f"-device igb,netdev=pfwire{i},mac={qemu.pf_mac(i)}" in joined
        assert f"hubport,id=pfwire{i},hubid={i}" in joined and f"hubport,id=swwire{i},hubid={i}" in joined
        assert f"virtio-net-pci,netdev=swwire{i},mac={qemu.switch_port_mac(i)},ctrl_vlan=off" in joined
    assert len(qemu.KERNEL_CMDLINE) < 256 and "apparmor=0" in qemu.KERNEL_CMDLINE


def test_no_device_sits_where_a_vf_goes() -> None:
    vf_slots = {qemu.vf_devfn(slot, n) >> 3 for slot in qemu.PF_SLOTS for n in range(7)}
    vf_devfns = [qemu.vf_devfn(slot, n) for slot in qemu.PF_SLOTS for n in range(7)]
    assert len(set(vf_devfns)) == 14 and max(vf_devfns) < 0x100
    used = {*qemu.PF_SLOTS, *qemu.SWITCH_SLOTS, qemu.ROOT_SLOT, qemu.XCHG_SLOT, 0x0, 0x1F}
    assert not vf_slots & used
    with pytest.raises(LabError, match="1 to 2 PFs"):
        qemu.qemu_argv("q", spec(3))


def _read_cpio(data: bytes) -> dict[str, tuple[int, bytes]]:
    out = {}
    f = io.BytesIO(data)
    while True:
        head = f.read(110)
        assert head[:6] == b"070701"
        fields = [int(head[6 + 8 * i: 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = f.read(namesize)[:-1].decode()
        f.read(-f.tell() % 4)
        body = f.read(size)
        f.read(-f.tell() % 4)
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, body)


def test_initramfs_holds_busybox_the_boot_modules_and_an_init_that_mounts_the_host_root(tmp_path: Path) -> None:
    mods = tmp_path / "modules"
    (mods / "kernel" / "fs").mkdir(parents=True)
    (mods / "kernel" / "fs" / "overlay.ko").write_bytes(b"OVL")
    (mods / "kernel" / "fs" / "9p.ko").write_bytes(b"NINEP")
    (mods / "modules.dep").write_text("kernel/fs/overlay.ko:\nkernel/fs/9p.ko:\n")
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF busybox")
    files = _read_cpio(initramfs.build_initramfs(str(busybox), mods))
    assert files["bin/busybox"][1] == b"\x7fELF busybox" and files["bin/busybox"][0] & 0o111
    assert stat.S_ISLNK(files["bin/sh"][0]) and files["bin/sh"][1] == b"busybox"
    assert files["modules/9p.ko"][1] == b"NINEP" and files["modules/overlay.ko"][1] == b"OVL"
    assert files["modules.list"][1].decode().split() == ["9p", "overlay"]  # BOOT_MODULES order, the missing left out
    init = files["init"][1].decode()
    assert stat.S_ISREG(files["init"][0]) and files["init"][0] & 0o111
    assert f"{initramfs.ROOT_TAG} /lower" in init and ",ro," in init and "mount -t overlay" in init
    assert "/var/lib/docker" in init and f"switch_root /newroot /bin/sh {initramfs.XCHG_MOUNT}/guest.sh" in init


def test_missing_parts_are_named_with_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parts.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(parts.QEMU_ENV, "")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LabError) as exc:
        parts.find_parts()
    text = str(exc.value)
    assert "qemu-system-x86_64" in text and "bookworm-backports" in text
    assert f"{tmp_path}/kernel" in text and "apt-get download linux-image-6.1.0-50-amd64" in text and "depmod" in text
    assert "SRIOVCHECK_SETUP_VM=1 bash scripts/setup.sh" in text


def test_qemu_version_parsing() -> None:
    assert parts.parse_qemu_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)") == ("10.0.2", (10, 0))
    assert parts.parse_qemu_version("nothing") is None


def test_only_switch_side_faults_the_vm_switch_can_apply_are_accepted() -> None:
    assert command.parse_faults([["vlan-remove", "ge-0/0/2", "201"]]) == [["vlan-remove", "ge-0/0/2", "201"]]
    with pytest.raises(UsageError, match="the VM lab applies"):
        command.parse_faults([["login-refuse"]])
    with pytest.raises(UsageError, match="takes PORT VLAN"):
        command.parse_faults([["vlan-remove", "ge-0/0/2"]])


def test_the_vm_switch_view_shows_learned_macs_on_the_real_vlan_ids_and_membership_from_the_bridge() -> None:
    t = load_topology(str(ROOT / "topologies" / "vm-lab.yaml")).topology
    st = plan_switch_state(t)
    assert st.ports == {"swp0": "ge-0/0/1", "swp1": "ge-0/0/2"} and [v.id for v in st.vlans] == [200, 201]
    dump = VmDump(
        links={
            "swp0": {"index": 2, "up": True, "carrier": True, "master": 5, "mac": "52:54:00:5c:0b:00", "mtu": 1500},
            "swp1": {"index": 3, "up": True, "carrier": True, "master": 5, "mac": "52:54:00:5c:0b:01", "mtu": 1500},
            "br0": {"index": 5, "up": True, "carrier": True, "master": None, "mac": st.router_mac, "mtu": 1500},
            "vlan.200": {"index": 6, "up": True, "carrier": True, "master": None, "mac": st.router_mac, "mtu": 1500},
            "vlan.201": {"index": 7, "up": True, "carrier": True, "master": None, "mac": st.router_mac, "mtu": 1500},
        },
        addrs={6: ["192.168.200.1/24"], 7: ["192.168.201.1/24"]},
        port_vlans={2: {1, 200, 201}, 3: {1, 200}, 5: {200, 201}},
        fdb=[(2, 200, "02:5c:00:00:01:00", 250), (3, 200, "aa:bb:cc:00:00:02", 100), (2, 1, "52:54:00:5c:0a:00", 10)],
        neigh=[(6, "192.168.200.2", "02:5c:00:00:01:00"), (2, "10.0.0.1", "aa:aa:aa:aa:aa:aa")],
    )
    snap = build_vm_snapshot(st, dump)
    learned = [(m.vlan_id, m.mac, m.interface, m.age_s) for m in snap.macs if m.kind == "learned"]
    assert learned == [(200, "02:5c:00:00:01:00", "ge-0/0/1.0", 2), (200, "aa:bb:cc:00:00:02", "ge-0/0/2.0", 1)]
    vlans = {v.id: v for v in snap.vlans}
    assert vlans[200].members == ("ge-0/0/1", "ge-0/0/2") and vlans[201].members == ("ge-0/0/1",)  # 201 removed from swp1
    assert [(a.ip, a.interface) for a in snap.arps] == [("192.168.200.2", "vlan.200")]
    ports = {i.name: i for i in snap.interfaces}
    assert ports["ge-0/0/1"].mtu == 1514 and ports["vlan.200"].address_cidr == "192.168.200.1/24"
    assert snap.model == "ex4200-48t" and snap.hostname == "vm-switch"


def test_the_vm_switch_state_names_what_is_not_there() -> None:
    st = VmSwitchState(ns="n", hostname="h", style="els", model="m", junos_version="v", router_mac="02:00:00:00:00:01",
                       ports={"swp0": "ge-0/0/1"}, pfs={"ge-0/0/1": "eno1"}, vlans=[VmSwitchVlan(200, "V", "irb.200", "1.1.1.1/24")])
    with pytest.raises(UsageError, match="VLAN 300 is not one of the topology's"):
        st.vlan(300)
    with pytest.raises(UsageError, match="switch port 'ge-0/0/9' is not one of"):
        st.port_ifname("ge-0/0/9")


def test_a_checkout_under_a_guest_tmpfs_is_bound_back_in(tmp_path: Path) -> None:
    # CI clones into /tmp: the guest mounts a tmpfs on /tmp, which would hide the checkout and its venv.
    from sriovcheck.vmlab.initramfs import hidden_by_tmpfs, init_script

    assert hidden_by_tmpfs([Path("/tmp/ci/.venv"), Path("/tmp/ci"), Path("/work/main"), Path("/var/tmp/x")]) == ["/tmp/ci", "/var/tmp/x"]
    assert hidden_by_tmpfs([Path("/work/main"), Path("/work/main/.venv")]) == []
    script = init_script()
    # bound after the tmpfs are mounted, or the tmpfs would cover the bind again
    assert script.index("for p in $(cat /keep.list)") > script.index("mount -t tmpfs -o mode=0755 tmpfs .$d")
    assert "mount --bind /lower$p .$p" in script
