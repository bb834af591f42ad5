"""The emulated lab's data plane, checked from outside with the ip/bridge CLIs and real traffic.

One lab (a copy of the seed lab with a unique name and PF name) serves the whole module; each test
puts VFs into namespaces of its own and restores VF settings and faults when it ends.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sriovcheck.errors import HostError, LabError
from sriovcheck.host.driver import HostDriver, VfConfig
from sriovcheck.lab import fabric
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.host_driver import EmulatedHostDriver
from sriovcheck.lab.manager import lab_down, lab_fault, lab_up
from sriovcheck.lab.switch_view import KernelSnapshotSource
from sriovcheck.topology.load import load_text

pytestmark = pytest.mark.integration
SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"
PASSWORD = "lab-" + secrets.token_hex(4)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


def ip_json(*args: str, netns: str | None = None) -> list[dict[str, object]]:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return json.loads(run(*prefix, "-d", "-j", *args).stdout or "[]")  # type: ignore[no-any-return]


def ping(netns: str, address: str) -> bool:
    return run("ip", "netns", "exec", netns, "ping", "-c1", "-W1", address, check=False).returncode == 0


def forget_neighbours(netns: str) -> None:
    # A failed ping leaves the gateway's entry INCOMPLETE, re-probed only every second: after a VLAN
    # change the next one-second ping could end before that probe is sent.
    run("ip", "-n", netns, "neigh", "flush", "all")


def seed_copy(name: str, pf: str) -> str:
    return SEED.read_text().replace("name: seed-lab", f"name: {name}").replace("eno2", pf)


@dataclass
class Lab:
    name: str
    pf: str
    dir: Path
    driver: EmulatedHostDriver
    source: KernelSnapshotSource
    state_root: Path
    test_ns: list[str] = field(default_factory=list)

    def vf_in_namespace(self, vf: int, *addresses: str) -> str:
        """Move VF `vf` into a namespace of the test (as provisioning would) and address it."""
        netdev = self.driver.vf_info(self.pf, vf).netdev
        assert netdev is not None, f"VF {vf} is not in the root namespace"
        ns = f"{self.name}-c{vf}"
        run("ip", "netns", "add", ns)
        self.test_ns.append(ns)
        run("ip", "link", "set", netdev, "netns", ns)
        for a in addresses:
            run("ip", "-n", ns, "addr", "add", a, "dev", netdev)
        run("ip", "-n", ns, "link", "set", netdev, "up")
        return ns

    def drop_namespaces(self) -> None:
        for ns in self.test_ns:
            run("ip", "netns", "del", ns, check=False)
        self.test_ns.clear()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    token = secrets.token_hex(3)
    name, pf = f"t{token}", f"e{token}"
    root = tmp_path_factory.mktemp("labstate")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SRIOVCHECK_SWITCH_PASSWORD", PASSWORD)
        try:
            lab_up(load_text(seed_copy(name, pf)).topology, state_root=root)
            d = lab_state.lab_dir(name, root)
            source = KernelSnapshotSource(d)
            lab = Lab(name, pf, d, EmulatedHostDriver(d), source, root)
            try:
                yield lab
            finally:
                lab.drop_namespaces()
                source.close()
        finally:
            lab_down(name, state_root=root)


@pytest.fixture
def fresh(lab: Lab) -> Iterator[Lab]:
    """The module's lab, with VF settings, faults and test namespaces reset after the test."""
    try:
        yield lab
    finally:
        lab.drop_namespaces()
        lab_fault(lab.name, "clear", state_root=lab.state_root)
        for vf in range(8):
            lab.driver.set_vf_config(lab.pf, vf, VfConfig())


def learned(lab: Lab, mac: str) -> list[tuple[int, str]]:
    return [(m.vlan_id, m.interface) for m in lab.source.snapshot().macs if m.mac == mac and m.kind == "learned"]


def vf_mac(ns: str) -> str:
    return next(str(link["address"]) for link in ip_json("link", "show", netns=ns) if link["ifname"] != "lo")


# ------------------------------------------------------------------ structure
def test_fabric_is_built_as_designed(fresh: Lab) -> None:
    lab = fresh
    nic, sw = f"sc-{lab.name}-nic", f"sc-{lab.name}-sw"
    assert {nic, sw} <= {line.split()[0] for line in run("ip", "netns", "list").stdout.splitlines()}
    root = {str(link["ifname"]): link for link in ip_json("link", "show")}
    assert root[lab.pf]["ifalias"] == f"sriovcheck-lab:{lab.name}"
    assert root[lab.pf]["operstate"] == "UP"
    for n in range(8):
        assert root[f"{lab.pf}v{n}"]["ifalias"] == f"sriovcheck-lab:{lab.name} {lab.pf} vf {n}"
    assert f"{lab.pf}v8" not in root

    sw_links = {str(link["ifname"]): link for link in ip_json("link", "show", netns=sw)}
    assert set(sw_links) == {"lo", "vl200", "vl201", "s0v200", "s0v201"}
    info = sw_links["vl200"]["linkinfo"]["info_data"]  # type: ignore[index]
    assert info["ageing_time"] == 30000 and info["mcast_snooping"] == 0  # 300 s, as on an EX
    assert sw_links["vl200"]["address"] == sw_links["vl201"]["address"]  # one router MAC
    addrs = {a["ifname"]: [f"{i['local']}/{i['prefixlen']}" for i in a["addr_info"] if i["family"] == "inet"]
             for a in ip_json("addr", "show", netns=sw)}
    assert addrs["vl200"] == ["192.168.200.1/24"] and addrs["vl201"] == ["192.168.201.1/24"]
    ports = {p["ifname"]: p["master"] for p in json.loads(run("bridge", "-n", sw, "-j", "link").stdout)}
    assert ports == {"s0v200": "vl200", "s0v201": "vl201"}
    assert run("ip", "netns", "exec", sw, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip() == "0"
    assert run("ip", "netns", "exec", sw, "cat", "/proc/sys/net/ipv4/conf/all/arp_ignore").stdout.strip() == "1"
    for vl in ("vl200", "vl201"):  # ARP entries age as on an EX: no unicast probes, 20 minutes
        neigh = f"/proc/sys/net/ipv4/neigh/{vl}"
        assert run("ip", "netns", "exec", sw, "cat", f"{neigh}/ucast_solicit", f"{neigh}/delay_first_probe_time",
                   f"{neigh}/gc_stale_time").stdout.split() == ["0", "1200", "1200"]

    nic_ports = {p["ifname"]: p["master"] for p in json.loads(run("bridge", "-n", nic, "-j", "link").stdout)}
    assert nic_ports == {"c0v200": "n0v200", "c0v201": "n0v201"}  # VFs on VLAN 0 are plugged nowhere
    nic_links = {str(link["ifname"]) for link in ip_json("link", "show", netns=nic)}
    assert {"pf0", *(f"p0f{n}" for n in range(8))} <= nic_links
    # No IPv6 on lab links: it would make the switch learn the cable's own MACs.
    assert not [a for a in ip_json("addr", "show", netns=nic) if a["addr_info"]]


# ------------------------------------------------------------------ traffic
def test_vf_traffic_reaches_its_gateway_and_the_switch_learns_it(fresh: Lab) -> None:
    lab = fresh
    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=200))
    ns = lab.vf_in_namespace(0, "192.168.200.2/24")
    mac = vf_mac(ns)
    assert ping(ns, "192.168.200.1")
    snap = lab.source.snapshot()
    assert [(m.vlan_name, m.interface) for m in snap.macs if m.mac == mac] == [("SRIOV_200", "ge-0/0/1.0")]
    assert [(a.ip, a.interface) for a in snap.arps if a.mac == mac] == [("192.168.200.2", "vlan.200")]
    assert next(m for m in snap.macs if m.mac == mac).age_s in (0, 1, 2)
    # the VF's view: the gateway answered with the switch's router MAC
    neigh = run("ip", "-n", ns, "neigh", "show", "192.168.200.1").stdout
    assert snap.router_mac in neigh
    assert lab.driver.vf_info(lab.pf, 0).netdev is None  # it lives elsewhere now


def test_a_vf_back_a_few_seconds_later_keeps_its_arp_entry_on_the_switch(fresh: Lab) -> None:
    """The switch's ARP entries age as on an EX, not by Linux's probing. With the kernel's defaults
    an entry used and not confirmed was probed 5 s later and failed 3 s after that - also when the
    VF had come back meanwhile with its MAC and address (provisioned again) and answered the
    gateway's ping: the crash matrix saw "the switch has no ARP entry" after such a cycle."""
    lab = fresh
    sw = f"sc-{lab.name}-sw"
    lab.driver.set_vf_config(lab.pf, 1, VfConfig(vlan=201))
    ns = lab.vf_in_namespace(1, "192.168.201.2/24")
    mac = vf_mac(ns)
    netdev = next(str(link["ifname"]) for link in ip_json("link", "show", netns=ns) if link["ifname"] != "lo")
    assert ping(ns, "192.168.201.1")
    used = time.monotonic()
    run("ip", "-n", ns, "link", "set", netdev, "netns", "1")  # the VF goes home: nobody answers for it
    lab.drop_namespaces()

    def entry() -> list[object]:
        return [n.get("state") for n in ip_json("neigh", "show", "192.168.201.2", "dev", "vl201", netns=sw)]

    time.sleep(max(0.0, used + 6.5 - time.monotonic()))  # the kernel's defaults: probing since 5 s
    assert entry() == [["DELAY"]], "the idle entry must neither be probed nor fail (it ages as on an EX)"
    ns = lab.vf_in_namespace(1, "192.168.201.2/24")  # back, same MAC and address
    assert vf_mac(ns) == mac
    assert ping(ns, "192.168.201.1")
    time.sleep(max(0.0, used + 9.0 - time.monotonic()))  # the kernel's defaults: failed at 8 s
    assert [(a.ip, a.interface) for a in lab.source.snapshot().arps if a.mac == mac] == [("192.168.201.2", "vlan.201")]


def test_vlans_are_isolated_and_a_vlan_change_moves_the_vf(fresh: Lab) -> None:
    lab = fresh
    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=200))
    # Addresses in both subnets: only the VLAN decides what the VF can reach.
    ns = lab.vf_in_namespace(0, "192.168.200.50/24", "192.168.201.50/24")
    mac = vf_mac(ns)
    assert ping(ns, "192.168.200.1")
    assert not ping(ns, "192.168.201.1")
    assert learned(lab, mac) == [(200, "ge-0/0/1.0")]

    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=201))  # the VF is in a namespace: its peer moves
    assert lab.driver.get_vf_config(lab.pf, 0).vlan == 201
    forget_neighbours(ns)
    assert ping(ns, "192.168.201.1")
    assert not ping(ns, "192.168.200.1")
    assert (201, "ge-0/0/1.0") in learned(lab, mac)

    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=999))  # a VLAN the switch does not have
    forget_neighbours(ns)
    assert not ping(ns, "192.168.201.1")
    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=0))  # untagged: no native VLAN on the port
    assert not ping(ns, "192.168.200.1")


def test_two_vfs_on_one_vlan_talk_through_the_nic(fresh: Lab) -> None:
    lab = fresh
    for vf in (2, 3):
        lab.driver.set_vf_config(lab.pf, vf, VfConfig(vlan=201))
    a = lab.vf_in_namespace(2, "192.168.201.12/24")
    lab.vf_in_namespace(3, "192.168.201.13/24")
    assert ping(a, "192.168.201.13")
    lab.driver.set_vf_config(lab.pf, 3, VfConfig(vlan=200))
    assert not ping(a, "192.168.201.13")


def test_vlan_remove_fault_stops_traffic_and_vlan_add_restores(fresh: Lab) -> None:
    lab = fresh
    lab.driver.set_vf_config(lab.pf, 1, VfConfig(vlan=201))
    ns = lab.vf_in_namespace(1, "192.168.201.2/24")
    assert ping(ns, "192.168.201.1")
    status = lab_fault(lab.name, "vlan-remove", port="ge-0/0/1", vlan=201, state_root=lab.state_root)
    assert status.faults == ["vlan-remove ge-0/0/1 201"]
    cable = next(c for c in status.ports[0]["cables"] if c["vlan"] == 201)
    assert cable["carried"] is False
    assert not ping(ns, "192.168.201.1")
    vlans = {v.id: v.members for v in lab.source.snapshot().vlans}
    assert vlans == {200: ("ge-0/0/1",), 201: ()}
    lab_fault(lab.name, "vlan-add", port="ge-0/0/1", vlan=201, state_root=lab.state_root)
    forget_neighbours(ns)
    assert ping(ns, "192.168.201.1")


def test_gateway_down_fault(fresh: Lab) -> None:
    lab = fresh
    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=200))
    ns = lab.vf_in_namespace(0, "192.168.200.2/24")
    lab_fault(lab.name, "gateway-down", vlan=200, state_root=lab.state_root)
    assert not ping(ns, "192.168.200.1")
    snap = lab.source.snapshot()
    assert {v.id: v.l3_up for v in snap.vlans} == {200: False, 201: True}
    lab_fault(lab.name, "gateway-up", vlan=200, state_root=lab.state_root)
    forget_neighbours(ns)
    assert ping(ns, "192.168.200.1")


def test_pf_down_takes_carrier_from_auto_vfs_only(fresh: Lab) -> None:
    lab = fresh
    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=200))
    lab.driver.set_vf_config(lab.pf, 1, VfConfig(vlan=200, link_state="enable"))
    auto = lab.vf_in_namespace(0, "192.168.200.2/24")
    enabled = lab.vf_in_namespace(1, "192.168.200.3/24")
    lab_fault(lab.name, "pf-down", pf=lab.pf, state_root=lab.state_root)
    assert "NO-CARRIER" in run("ip", "link", "show", lab.pf).stdout
    assert "NO-CARRIER" in run("ip", "-n", auto, "link", "show").stdout
    assert "NO-CARRIER" not in run("ip", "-n", enabled, "link", "show").stdout
    assert not ping(enabled, "192.168.200.1")  # the cable is down: nothing reaches the switch
    assert lab.driver.pf_info(lab.pf).operstate == "down"
    assert not next(i for i in lab.source.snapshot().interfaces if i.name == "ge-0/0/1").link_up
    lab_fault(lab.name, "pf-up", pf=lab.pf, state_root=lab.state_root)
    forget_neighbours(auto)
    forget_neighbours(enabled)
    assert ping(auto, "192.168.200.1") and ping(enabled, "192.168.200.1")
    assert lab.driver.pf_info(lab.pf).operstate == "up"


def test_link_state_disable_and_admin_mac(fresh: Lab) -> None:
    lab = fresh
    lab.driver.set_vf_config(lab.pf, 4, VfConfig(vlan=200, mac="02:00:00:00:c8:04", link_state="disable"))
    netdev = lab.driver.vf_info(lab.pf, 4).netdev
    assert netdev == f"{lab.pf}v4"
    shown = run("ip", "link", "show", netdev).stdout
    assert "02:00:00:00:c8:04" in shown
    ns = lab.vf_in_namespace(4, "192.168.200.4/24")
    assert "NO-CARRIER" in run("ip", "-n", ns, "link", "show", netdev).stdout
    assert not ping(ns, "192.168.200.1")
    lab.driver.set_vf_config(lab.pf, 4, VfConfig(vlan=200, mac="02:00:00:00:c8:04", link_state="enable"))
    forget_neighbours(ns)
    assert ping(ns, "192.168.200.1")
    assert learned(lab, "02:00:00:00:c8:04") == [(200, "ge-0/0/1.0")]
    back = lab.driver.get_vf_config(lab.pf, 4)
    assert (back.vlan, back.mac, back.link_state, back.spoofchk) == (200, "02:00:00:00:c8:04", "enable", True)


def test_vf_destroyed_with_its_namespace_is_recreated_with_its_mac(fresh: Lab) -> None:
    lab = fresh
    ns = lab.vf_in_namespace(5)
    mac = vf_mac(ns)
    run("ip", "netns", "del", ns)
    lab.test_ns.remove(ns)
    # The kernel destroys a namespace asynchronously (a real VF also comes back a moment later).
    deadline = time.monotonic() + 5
    while (info := lab.driver.vf_info(lab.pf, 5)).netdev is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert info.netdev == f"{lab.pf}v5"
    assert (info.pci_address, info.driver) == ("0000:01:11.3", "ixgbevf-emulated")
    assert mac in run("ip", "link", "show", f"{lab.pf}v5").stdout


def test_a_look_at_a_vf_in_order_takes_no_lock_and_a_broken_one_waits_for_it(fresh: Lab) -> None:
    """On a rack, every host's process looks at its VFs: a look that changes nothing must not queue
    on the lab's one lock; a VF that needs repair still waits for it (and is repaired)."""
    import threading

    lab = fresh
    got: list[object] = []
    with lab_state.locked(lab.dir):  # another process's read-modify-write, as it were
        look = threading.Thread(target=lambda: got.append(lab.driver.vf_info(lab.pf, 0)), daemon=True)
        look.start()
        look.join(10)
        assert not look.is_alive() and got and getattr(got[0], "netdev", None) == f"{lab.pf}v0"
        # Take the VF's NIC-side link off its settings (down): the look must now wait for the lock.
        st = lab_state.load(lab.dir)
        nic_link = st.pf(lab.pf).vfs[1].nic_link
        run("ip", "-n", st.nic_ns, "link", "set", nic_link, "down")
        repair = threading.Thread(target=lambda: got.append(lab.driver.vf_info(lab.pf, 1)), daemon=True)
        repair.start()
        repair.join(1.0)
        assert repair.is_alive(), "the VF off its settings was not repaired under the lock"
    repair.join(10)
    assert not repair.is_alive() and len(got) == 2
    assert re.search(r"<[^>]*\bUP\b", run("ip", "-n", st.nic_ns, "link", "show", nic_link).stdout), "the repair set the link up again"


def test_set_numvfs_goes_through_zero_and_refuses_too_many(fresh: Lab) -> None:
    lab = fresh
    driver: HostDriver = lab.driver
    lab.driver.set_vf_config(lab.pf, 1, VfConfig(vlan=201))
    driver.set_numvfs(lab.pf, 4)
    root = {str(link["ifname"]) for link in ip_json("link", "show")}
    assert {f"{lab.pf}v{n}" for n in range(4)} <= root and f"{lab.pf}v4" not in root
    assert lab.driver.get_vf_config(lab.pf, 1) == VfConfig()  # new VFs start with default settings
    info = driver.pf_info(lab.pf)
    assert (info.numvfs, info.totalvfs, info.driver, len(info.vfs)) == (4, 64, "ixgbe-emulated", 4)
    with pytest.raises(HostError, match="sriov_totalvfs is 64"):
        driver.set_numvfs(lab.pf, 65)
    with pytest.raises(HostError, match="VF 6 does not exist"):
        driver.vf_info(lab.pf, 6)
    driver.set_numvfs(lab.pf, 8)
    assert [v.netdev for v in driver.pf_info(lab.pf).vfs] == [f"{lab.pf}v{n}" for n in range(8)]


def test_a_vf_count_change_builds_the_vfs_as_the_full_reconcile_would(fresh: Lab) -> None:
    """set_numvfs builds one PF's VFs with a few netlink gets per VF, not the full reconcile's dumps of
    every namespace (on a rack they hold every host's links); what it leaves is exactly what the full
    reconcile wants (a reconcile afterwards changes nothing), and a namesake in the way is named."""
    lab = fresh
    driver: HostDriver = lab.driver
    try:
        _vf_count_change(lab, driver)
    finally:
        driver.set_numvfs(lab.pf, 8)  # as the module's lab has it
    assert [v.netdev for v in driver.pf_info(lab.pf).vfs] == [f"{lab.pf}v{n}" for n in range(8)]
    _st, done = fabric.update_lab(lab.dir, lambda _st: None)
    assert done.changes == []


def _vf_count_change(lab: Lab, driver: HostDriver) -> None:
    driver.set_numvfs(lab.pf, 2)
    root = {str(link["ifname"]): link for link in ip_json("link", "show")}
    for n in range(2):
        assert root[f"{lab.pf}v{n}"]["ifalias"] == f"sriovcheck-lab:{lab.name} {lab.pf} vf {n}"
    assert f"{lab.pf}v2" not in root
    nic = {str(link["ifname"]): link for link in ip_json("link", "show", netns=f"sc-{lab.name}-nic")}
    assert {f"p0f{n}" for n in range(2)} <= set(nic) and "p0f2" not in nic
    for n in range(2):
        assert nic[f"p0f{n}"]["mtu"] == 9216 and "master" not in nic[f"p0f{n}"]  # VLAN 0: plugged nowhere
    st = lab_state.load(lab.dir)
    assert [v.mac for v in st.pf(lab.pf).vfs] == [root[f"{lab.pf}v{n}"]["address"] for n in range(2)]
    _st, done = fabric.update_lab(lab.dir, lambda _st: None)
    assert done.changes == [], "the full reconcile found something the VF count change left undone"

    # Not the lab's (this kernel has no dummy links: a veth pair): the change must not take it.
    run("ip", "link", "add", f"{lab.pf}v3", "type", "veth", "peer", "name", f"{lab.pf}x3")
    try:
        with pytest.raises(HostError, match=f"interface {lab.pf}v3 already exists in the root namespace"):
            driver.set_numvfs(lab.pf, 4)
        # As on hardware the count went through 0 first; the 4 were refused, the namesake is untouched.
        assert driver.pf_info(lab.pf).numvfs == 0
        assert ip_json("link", "show", f"{lab.pf}v3")[0].get("ifalias") is None
    finally:
        run("ip", "link", "del", f"{lab.pf}v3")


def test_emulator_serves_the_live_tables_over_ssh(fresh: Lab) -> None:
    from netmiko import ConnectHandler

    lab = fresh
    lab.driver.set_vf_config(lab.pf, 0, VfConfig(vlan=200))
    ns = lab.vf_in_namespace(0, "192.168.200.2/24")
    mac = vf_mac(ns)
    assert ping(ns, "192.168.200.1")
    st = lab_state.load(lab.dir)
    common = {"device_type": "juniper_junos", "host": "127.0.0.1", "port": st.emulator.port, "username": "netops",
              "allow_agent": False, "timeout": 20}
    conn = ConnectHandler(**common, use_keys=True, key_file=st.client_key)  # the lab's own key
    try:
        table = conn.send_command("show ethernet-switching table")
        arp = conn.send_command("show arp no-resolve")
    finally:
        conn.disconnect()
    assert re.search(rf"SRIOV_200\s+{mac}\s+Learn\s+\S+\s+ge-0/0/1\.0", table), table
    assert re.search(rf"{mac}\s+192\.168\.200\.2\s+vlan\.200", arp), arp
    conn = ConnectHandler(**common, password=PASSWORD, use_keys=False)  # from switch.password_env
    try:
        assert "SRIOV_201" in conn.send_command("show vlans")
    finally:
        conn.disconnect()
    assert PASSWORD not in Path(st.log).read_text() + (lab.dir / "state.json").read_text()


def test_a_foreign_interface_with_the_pf_name_blocks_lab_up(lab: Lab, tmp_path: Path) -> None:
    token = secrets.token_hex(3)
    name, pf = f"t{token}", f"f{token}"
    run("ip", "link", "add", pf, "type", "veth", "peer", "name", f"g{token}")
    try:
        with pytest.raises(LabError, match=f"{pf} already exists in the root namespace") as exc:
            lab_up(load_text(seed_copy(name, pf)).topology, state_root=tmp_path)
        assert "rename the PF" in str(exc.value.hint)
        assert not (tmp_path / name).exists()
        assert f"sc-{name}-nic" not in run("ip", "netns", "list").stdout
        assert run("ip", "link", "show", pf).returncode == 0  # untouched
    finally:
        run("ip", "link", "del", pf, check=False)
    # Nor may one lab take another's PF.
    with pytest.raises(LabError, match=f"marked 'sriovcheck-lab:{lab.name}'"):
        lab_up(load_text(seed_copy(name, lab.pf)).topology, state_root=tmp_path)


@pytest.mark.parametrize("by_gets", [False, True], ids=["one dump", "gets"])
def test_pf_info_finds_every_vf_wherever_it_is_as_a_dump_by_alias_would(
    fresh: Lab, by_gets: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pf_info's VFs: a VF in a container's namespace has no netdev on the host, a VF renamed at home is
    found under its new name (by its alias, as a real VF by its PCI device), the others by theirs - the
    same whether the look is one dump of the root namespace or gets (on a rack; `root_look_by_gets`)."""
    from sriovcheck.lab import fabric

    looks: list[bool] = []

    def forced(state: object, pf: object) -> bool:
        looks.append(by_gets)
        return by_gets

    monkeypatch.setattr(fabric, "root_look_by_gets", forced)
    lab = fresh
    n = lab.driver.pf_info(lab.pf).numvfs
    lab.vf_in_namespace(0)
    run("ip", "link", "set", f"{lab.pf}v1", "down")
    run("ip", "link", "set", f"{lab.pf}v1", "name", f"{lab.pf}r1")
    try:
        info = lab.driver.pf_info(lab.pf)
        assert info.exists and info.numvfs == n and info.mac == ip_json("link", "show", lab.pf)[0]["address"]
        assert [v.netdev for v in info.vfs] == [None, f"{lab.pf}r1", *(f"{lab.pf}v{k}" for k in range(2, n))]
        by_alias = {link.get("ifalias"): link["ifname"] for link in ip_json("link", "show")}
        assert [v.netdev for v in info.vfs] == [by_alias.get(f"sriovcheck-lab:{lab.name} {lab.pf} vf {k}") for k in range(n)]
        assert not lab.driver.pf_info("nosuchpf0").exists
        assert looks and set(looks) == {by_gets}  # the path under test was the one taken
    finally:
        run("ip", "link", "set", f"{lab.pf}r1", "name", f"{lab.pf}v1", check=False)
