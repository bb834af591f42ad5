"""The emulated lab's pure parts: state file, naming, the fabric plan, the switch view, VF checks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from sriovcheck.errors import HostError, LabError, StateError
from sriovcheck.host.driver import VfConfig
from sriovcheck.lab import fabric
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.host_driver import EmulatedHostDriver
from sriovcheck.lab.manager import new_state, topology_fingerprint
from sriovcheck.lab.state import Faults, LabState
from sriovcheck.lab.switch_view import KernelDump, build_snapshot
from sriovcheck.topology.load import load_text

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"


def seed_topology(**replace: str):  # type: ignore[no-untyped-def]
    text = SEED.read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return load_text(text).topology


@pytest.fixture
def st(tmp_path: Path) -> LabState:
    return new_state(seed_topology(), tmp_path / "seed-lab" / "lab")


# ------------------------------------------------------------------ state file
def test_state_root_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SRIOVCHECK_STATE_DIR", raising=False)
    assert lab_state.state_root() == Path("/var/lib/sriovcheck")
    monkeypatch.setenv("SRIOVCHECK_STATE_DIR", str(tmp_path))
    assert lab_state.state_root() == tmp_path
    assert lab_state.lab_dir("seed-lab") == tmp_path / "seed-lab" / "lab"
    assert lab_state.lab_dir("x", "/srv/s") == Path("/srv/s/x/lab")


@pytest.mark.parametrize("bad", ["", "../etc", "UPPER", "a" * 33, "a/b"])
def test_lab_dir_refuses_names_that_are_not_topology_names(bad: str) -> None:
    with pytest.raises(StateError, match="not a valid topology name"):
        lab_state.lab_dir(bad, "/tmp")


def test_round_trip_keeps_everything(st: LabState, tmp_path: Path) -> None:
    st.pfs[0].vfs[1].config = VfConfig(vlan=201, qos=3, mac="02:00:00:00:02:01", link_state="enable", trust=True)
    st.pfs[0].vfs[1].mac = "02:00:00:00:02:01"
    st.faults = Faults([("ge-0/0/1", 200)], [201], ["eno2"], True, "show arp", None, True)
    st.emulator.pid, st.emulator.start_time, st.emulator.port = 4242, 99, 2222
    d = tmp_path / "lab"
    lab_state.save(d, st)
    back = lab_state.load(d)
    assert back == st
    assert back.faults.server().drop_session_on == "show arp"
    assert back.faults.active() == [
        "vlan-remove ge-0/0/1 200", "gateway-down 201", "pf-down eno2", "login-refuse", "session-drop show arp",
        "garble on",
    ]


def test_save_is_atomic_and_leaves_no_temp_files(st: LabState, tmp_path: Path) -> None:
    d = tmp_path / "lab"
    lab_state.save(d, st)
    lab_state.save(d, st)
    assert sorted(p.name for p in d.iterdir()) == ["state.json"]
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    data = json.loads((d / "state.json").read_text())
    assert data["schema_version"] == lab_state.SCHEMA_VERSION
    assert data["switch"]["password_env"] == "SRIOVCHECK_SWITCH_PASSWORD"  # the name, never a value


def test_missing_state_says_the_lab_is_not_up(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="not up") as exc:
        lab_state.load(tmp_path)
    assert "lab up" in str(exc.value.hint)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: json.dumps({**d, "schema_version": 0}), "schema version 0"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "schema_version"}), "schema version None"),
        (lambda d: json.dumps({**d, "nic_ns": 7}), r"\.nic_ns is not a string"),
        (lambda d: json.dumps({**d, "pfs": [{**d["pfs"][0], "numvfs": "8"}]}), r"pfs\[0\]\.numvfs"),
        (lambda d: json.dumps({**d, "faults": {**d["faults"], "vlan_removed": [["ge-0/0/1"]]}}), "vlan_removed"),
        (lambda d: json.dumps([1, 2]), "is not an object"),
    ],
)
def test_damaged_or_old_state_is_a_state_error_that_points_at_down_force(
    st: LabState, tmp_path: Path, mangle, message: str  # type: ignore[no-untyped-def]
) -> None:
    d = tmp_path / "lab"
    lab_state.save(d, st)
    data = json.loads((d / "state.json").read_text())
    (d / "state.json").write_text(mangle(data))
    with pytest.raises(StateError, match=message) as exc:
        lab_state.load(d)
    assert "lab down --force" in str(exc.value.hint)


def test_lock_serialises_and_is_released(tmp_path: Path) -> None:
    with lab_state.locked(tmp_path / "lab"):
        assert (tmp_path / "lab" / ".lock").exists()
    with lab_state.locked(tmp_path / "lab"):
        pass


# ------------------------------------------------------------------ naming, new state
def test_new_state_from_the_seed_lab(st: LabState) -> None:
    assert (st.nic_ns, st.sw_ns, st.alias) == ("sc-seed-lab-nic", "sc-seed-lab-sw", "sriovcheck-lab:seed-lab")
    pf = st.pfs[0]
    assert (pf.name, pf.nic_link, pf.switch_port, pf.numvfs, pf.totalvfs) == ("eno2", "pf0", "ge-0/0/1", 8, 64)
    assert [v.netdev for v in pf.vfs] == [f"eno2v{i}" for i in range(8)]
    assert [v.nic_link for v in pf.vfs[:2]] == ["p0f0", "p0f1"]
    assert all(v.config == VfConfig() for v in pf.vfs)
    assert [(v.id, v.bridge, v.gateway_cidr, v.l3_interface) for v in st.vlans] == [
        (200, "vl200", "192.168.200.1/24", "vlan.200"), (201, "vl201", "192.168.201.1/24", "vlan.201")]
    assert (st.model, st.junos_version, st.username) == ("ex4200-48t", "12.3R12.4", "netops")


def test_pci_addresses_follow_the_seed_layout() -> None:
    # lshw in the seed: eno2 01:00.1, eno2v0 01:10.1, v1 10.3, v3 10.7, v4 11.1, v7 11.7
    assert fabric.pci_address(0) == "0000:01:00.1"
    assert [fabric.pci_address(0, n) for n in (0, 1, 3, 4, 7)] == [
        "0000:01:10.1", "0000:01:10.3", "0000:01:10.7", "0000:01:11.1", "0000:01:11.7"]
    every = {fabric.pci_address(i, n) for i in range(16) for n in range(256)} | {fabric.pci_address(i) for i in range(16)}
    assert len(every) == 16 * 256 + 16  # no two functions share an address


def test_router_mac_is_stable_unicast_and_locally_administered() -> None:
    mac = fabric.router_mac("seed-lab")
    first = int(mac[:2], 16)
    assert mac == fabric.router_mac("seed-lab") != fabric.router_mac("seed-lab2")
    assert first & 0x02 and not first & 0x01


def test_a_pf_name_too_long_for_its_vf_names_is_refused_up_front(tmp_path: Path) -> None:
    topo = seed_topology(**{"eno2": "enp129s0f1np1"})  # 13 chars: its VF 63 would need 16
    with pytest.raises(LabError, match="too long") as exc:
        new_state(topo, tmp_path)
    assert "at most 12 characters" in str(exc.value.hint)


def test_fingerprint_ignores_containers_but_not_vlans() -> None:
    base = topology_fingerprint(seed_topology())
    assert topology_fingerprint(seed_topology(**{"name: test-200": "name: other-200"})) == base
    assert topology_fingerprint(seed_topology(**{"192.168.201.1\n": "192.168.201.254\n"})) != base


def test_our_alias_does_not_match_a_lab_whose_name_only_starts_the_same() -> None:
    assert fabric.is_our_alias("sriovcheck-lab:t1", "t1")
    assert fabric.is_our_alias("sriovcheck-lab:t1 eno2 vf 3", "t1")
    assert not fabric.is_our_alias("sriovcheck-lab:t10", "t1")
    assert not fabric.is_our_alias(None, "t1")


# ------------------------------------------------------------------ the plan
def _ports(plan: fabric.Plan) -> dict[str, fabric.PortSpec]:
    return {p.name: p for p in plan.ports}


def test_plan_of_a_fresh_lab(st: LabState) -> None:
    plan = fabric.plan_fabric(st)
    sw_bridges = {b.name: b for b in plan.bridges if b.ns == "sw"}
    assert sw_bridges["vl200"].addresses == ("192.168.200.1/24",)
    assert sw_bridges["vl200"].mac == st.router_mac and sw_bridges["vl200"].ageing_cs == 30000
    assert {b.name for b in plan.bridges if b.ns == "nic"} == {"n0v200", "n0v201"}
    ports = _ports(plan)
    assert (ports["c0v200"].master, ports["s0v200"].master, ports["c0v200"].up) == ("n0v200", "vl200", True)
    assert ports["p0f0"] == fabric.PortSpec("nic", "p0f0", None, True)  # VLAN 0: plugged nowhere
    assert ports["pf0"].master is None  # untagged PF traffic reaches no VLAN
    assert plan.names("root") == {"eno2", *(f"eno2v{i}" for i in range(8))}
    vf0 = next(v for v in plan.veths if v.name == "eno2v0")
    assert vf0.roams and vf0.alias == "sriovcheck-lab:seed-lab eno2 vf 0" and vf0.peer == "p0f0"


def test_plan_follows_vf_settings(st: LabState) -> None:
    vfs = st.pfs[0].vfs
    vfs[0].config = VfConfig(vlan=200)
    vfs[1].config = VfConfig(vlan=999, link_state="disable")
    vfs[2].config = VfConfig(vlan=201, mac="02:00:00:00:00:02")
    vfs[2].mac = "0a:00:00:00:00:09"
    vfs[3].mac = "0a:00:00:00:00:03"
    plan = fabric.plan_fabric(st)
    ports = _ports(plan)
    assert ports["p0f0"] == fabric.PortSpec("nic", "p0f0", "n0v200", True)
    assert ports["p0f1"] == fabric.PortSpec("nic", "p0f1", "n0v999", False)
    assert "n0v999" in plan.names("nic") and "c0v999" not in plan.names("nic")  # a VLAN the switch lacks
    veths = {v.name: v for v in plan.veths}
    assert (veths["eno2v2"].mac, veths["eno2v2"].enforce_mac) == ("02:00:00:00:00:02", True)  # admin MAC
    assert (veths["eno2v3"].mac, veths["eno2v3"].enforce_mac) == ("0a:00:00:00:00:03", False)  # its own, kept


def test_plan_applies_faults(st: LabState) -> None:
    vfs = st.pfs[0].vfs
    vfs[0].config = VfConfig(vlan=200)
    vfs[1].config = VfConfig(vlan=200, link_state="enable")
    vfs[2].config = VfConfig(vlan=200, link_state="disable")
    st.faults = Faults(vlan_removed=[("ge-0/0/1", 201)], gateway_down=[200], pf_down=["eno2"])
    plan = fabric.plan_fabric(st)
    ports = _ports(plan)
    assert ports["s0v201"].master is None and ports["s0v200"].master == "vl200"
    assert {b.name: b.addresses for b in plan.bridges if b.ns == "sw"} == {"vl200": (), "vl201": ("192.168.201.1/24",)}
    assert not ports["pf0"].up and not ports["c0v200"].up and not ports["c0v201"].up
    assert [ports[f"p0f{i}"].up for i in range(3)] == [False, True, False]  # auto follows the PF; enable does not


# ------------------------------------------------------------------ the switch view
def _dump(st: LabState, *, plugged_201: bool = True, gateway_200: bool = True) -> KernelDump:
    links = {
        "vl200": {"index": 10, "up": True, "carrier": True, "master": None, "mac": st.router_mac, "mtu": 1500},
        "vl201": {"index": 11, "up": True, "carrier": True, "master": None, "mac": st.router_mac, "mtu": 1500},
        "s0v200": {"index": 20, "up": True, "carrier": True, "master": 10, "mac": "aa:00:00:00:00:01", "mtu": 1500},
        "s0v201": {"index": 21, "up": True, "carrier": True, "master": 11 if plugged_201 else None,
                   "mac": "aa:00:00:00:00:02", "mtu": 1500},
    }
    return KernelDump(
        links=links,
        addrs={10: ["192.168.200.1/24"] if gateway_200 else [], 11: ["192.168.201.1/24"]},
        fdb=[(20, 10, "9a:88:8c:f7:bf:de", 24500), (21, 11, "de:bb:04:86:b8:36", 0),
             (20, 11, "02:00:00:00:00:99", 0)],  # a port/bridge pair that is not a cable of that VLAN
        neigh=[(10, "192.168.200.2", "9a:88:8c:f7:bf:de"), (11, "192.168.201.2", "de:bb:04:86:b8:36"),
               (99, "10.0.0.1", "02:00:00:00:00:01")],
    )


def test_snapshot_maps_kernel_state_to_the_seed_switch_tables(st: LabState) -> None:
    snap = build_snapshot(st, _dump(st))
    learned = [(m.vlan_name, m.mac, m.age_s, m.interface) for m in snap.macs if m.kind == "learned"]
    assert learned == [("SRIOV_200", "9a:88:8c:f7:bf:de", 245, "ge-0/0/1.0"),
                       ("SRIOV_201", "de:bb:04:86:b8:36", 0, "ge-0/0/1.0")]
    routers = [(m.vlan_id, m.mac, m.interface) for m in snap.macs if m.kind == "router"]
    assert routers == [(200, st.router_mac, "Router"), (201, st.router_mac, "Router")]
    assert [(a.mac, a.ip, a.interface) for a in snap.arps] == [
        ("9a:88:8c:f7:bf:de", "192.168.200.2", "vlan.200"), ("de:bb:04:86:b8:36", "192.168.201.2", "vlan.201")]
    assert [(v.name, v.members, v.l3_up) for v in snap.vlans] == [
        ("SRIOV_200", ("ge-0/0/1",), True), ("SRIOV_201", ("ge-0/0/1",), True)]
    ge = next(i for i in snap.interfaces if i.name == "ge-0/0/1")
    assert ge.link_up and (snap.hostname, snap.model) == ("ex-switch", "ex4200-48t")


def test_snapshot_shows_faults_and_els_style(st: LabState) -> None:
    st.switch_style = "els"
    snap = build_snapshot(st, _dump(st, plugged_201=False, gateway_200=False))
    assert [(v.id, v.members, v.l3_up) for v in snap.vlans] == [(200, ("ge-0/0/1",), False), (201, (), True)]
    assert not [m for m in snap.macs if m.kind == "router"]  # ELS keeps the IRB MAC out of the table
    vlan200 = next(i for i in snap.interfaces if i.name == "vlan.200")
    assert vlan200.address_cidr is None and not vlan200.link_up


def test_snapshot_of_a_vanished_namespace_shows_an_empty_switch(st: LabState) -> None:
    snap = build_snapshot(st, KernelDump())
    assert not snap.macs and not snap.arps
    assert all(not v.l3_up and not v.members for v in snap.vlans)
    assert not next(i for i in snap.interfaces if i.name == "ge-0/0/1").link_up


# ------------------------------------------------------------------ VF settings the driver refuses
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (VfConfig(vlan=4095), "VLAN 4095 is out of range"),
        (VfConfig(vlan=200, qos=8), "QoS 8"),
        (VfConfig(vlan=200, vlan_proto="802.1ad"), "802.1ad"),
        (VfConfig(min_tx_rate_mbps=100), "min_tx_rate"),
        (VfConfig(max_tx_rate_mbps=20000), "above the link speed"),
        (VfConfig(mac="01:00:5e:00:00:01"), "not a unicast MAC"),
        (VfConfig(mac="zz"), "not a unicast MAC"),
    ],
)
def test_vf_settings_ixgbe_refuses_are_refused_with_the_reason(config: VfConfig, message: str) -> None:
    with pytest.raises(HostError, match=message) as exc:
        EmulatedHostDriver("/nonexistent")._checked("eno2", 0, config)
    assert "eno2 VF 0" in str(exc.value)


def test_vf_mac_is_normalised() -> None:
    cfg = EmulatedHostDriver("/nonexistent")._checked("eno2", 0, VfConfig(mac="02-AA-BB-CC-DD-EE"))
    assert cfg.mac == "02:aa:bb:cc:dd:ee"


def test_pf_info_of_a_lab_that_is_not_up_says_missing(tmp_path: Path) -> None:
    info = EmulatedHostDriver(tmp_path).pf_info("eno2")
    assert (info.name, info.exists) == ("eno2", False)


def test_full_disk_fails_before_the_emulated_nic_is_touched(st: LabState, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab records its intent before changing the NIC: a write that fails changes nothing."""
    d = tmp_path / "lab"
    lab_state.save(d, st)
    before = (d / "state.json").read_text()
    touched: list[str] = []

    def factory(ns: str | None) -> object:
        touched.append(str(ns))
        raise AssertionError("the kernel must not be touched")

    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if len(data) > 100:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)

    def vlan_200(s: LabState) -> None:
        s.pfs[0].vfs[0].config = VfConfig(vlan=200)

    with pytest.raises(StateError, match=r"cannot write lab state .*No space left on device \(.* free in "):
        fabric.update_vf(d, st.pfs[0].name, 0, vlan_200, ipr_factory=factory)
    assert touched == []
    assert (d / "state.json").read_text() == before
    assert sorted(p.name for p in d.iterdir()) == [".lock", "state.json"]  # no temporary file left


def test_an_orphan_temporary_state_file_is_removed_under_the_lock(st: LabState, tmp_path: Path) -> None:
    d = tmp_path / "lab"
    lab_state.save(d, st)
    (d / ".state.json.k1ll3d").write_text("{")
    with lab_state.locked(d):
        pass
    assert sorted(p.name for p in d.iterdir()) == [".lock", "state.json"]


def test_host_key_fingerprint_is_read_without_asyncssh_and_matches_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    asyncssh = pytest.importorskip("asyncssh")
    from sriovcheck.lab.manager import _openssh_public_blob, host_key_fingerprint

    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "ssh_host_ed25519_key"
    path.write_bytes(key.export_private_key())
    assert _openssh_public_blob(str(path)) is not None
    assert host_key_fingerprint(str(path)) == str(key.get_fingerprint("sha256"))
    (tmp_path / "junk").write_text("not a key\n")
    assert _openssh_public_blob(str(tmp_path / "junk")) is None and host_key_fingerprint(str(tmp_path / "junk")) is None
    assert host_key_fingerprint(str(tmp_path / "missing")) is None


def test_a_pf_look_uses_gets_on_a_rack_and_one_dump_on_a_host_of_many_vfs(st: LabState) -> None:
    """`root_look_by_gets`: a rack's root namespace holds every host's PFs and VFs (a dump decodes them
    all); a lab of one host with many VFs is cheaper to dump than to look at VF by VF."""
    import dataclasses

    from sriovcheck.lab.fabric import root_look_by_gets

    pf = dataclasses.replace(st.pfs[0], numvfs=4)
    rack = dataclasses.replace(st, pfs=[dataclasses.replace(pf, name=f"pf{h:02d}p0") for h in range(16)])
    assert root_look_by_gets(rack, rack.pfs[0])  # 1 + 2 x 4 gets against a dump of up to 80 links
    assert not root_look_by_gets(dataclasses.replace(st, pfs=rack.pfs[:2]), pf)  # 2 hosts: 10 links
    big = dataclasses.replace(st.pfs[0], numvfs=32)
    assert not root_look_by_gets(dataclasses.replace(st, pfs=[big]), big)  # 65 gets against 33 links at most


def test_the_lab_state_accepts_exactly_the_platforms_there_are() -> None:
    # state files name their platform; their loader checks it against the topology's names of the
    # platforms (no import of the platforms and their parsers), which must be the platforms themselves
    from sriovcheck.switch.platforms import PLATFORMS
    from sriovcheck.topology.names import PLATFORM_NAMES

    assert list(PLATFORM_NAMES) == list(PLATFORMS)
    assert all(PLATFORMS[name].name_rules is PLATFORM_NAMES[name] for name in PLATFORMS)
