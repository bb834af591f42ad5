"""The acceptance data end to end: a real lab, its Junos emulator read through the real netmiko client
(the lab's own client key), the project's parsers, and real do-not-fragment traffic from a VF in a
namespace of the test to the VLAN's gateway.

One lab per switch style serves the module (a uniquely named copy of the seed lab, no containers);
every test puts back the faults and VF settings it changed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sriovcheck.host.driver import VfConfig
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.host_driver import EmulatedHostDriver
from sriovcheck.lab.manager import lab_down, lab_fault, lab_status, lab_up
from sriovcheck.parsers.junos import parse_interface, parse_lldp_neighbors, parse_switching_interfaces
from sriovcheck.switch import commands
from sriovcheck.switch.netmiko_client import NetmikoSwitch
from sriovcheck.topology.load import load_text

pytestmark = pytest.mark.integration
TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
PORT = "ge-0/0/1"
GATEWAY = "192.168.200.1"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


@dataclass
class Lab:
    name: str
    pf: str
    style: str
    state_root: Path
    switch: NetmikoSwitch
    driver: EmulatedHostDriver
    test_ns: list[str] = field(default_factory=list)

    def fault(self, kind: str, **kw: object) -> list[str]:
        return lab_fault(self.name, kind, state_root=self.state_root, **kw).faults  # type: ignore[arg-type]

    def show(self, command: str) -> str:
        return self.switch.run(command)

    def vf_on_vlan_200(self) -> tuple[str, str]:
        """VF 0 on VLAN 200, moved into a namespace of the test and addressed: (namespace, netdev)."""
        self.driver.set_vf_config(self.pf, 0, VfConfig(vlan=200))
        netdev = self.driver.vf_info(self.pf, 0).netdev
        assert netdev is not None
        ns = f"{self.name}-t0"
        run("ip", "netns", "add", ns)
        self.test_ns.append(ns)
        run("ip", "link", "set", netdev, "netns", ns)
        run("ip", "-n", ns, "addr", "add", "192.168.200.50/24", "dev", netdev)
        run("ip", "-n", ns, "link", "set", netdev, "up")
        return ns, netdev

    def reset(self) -> None:
        for ns in self.test_ns:
            run("ip", "netns", "del", ns, check=False)
        self.test_ns.clear()
        self.fault("clear")
        self.driver.set_vf_config(self.pf, 0, VfConfig())


def df_ping(ns: str, payload: int) -> bool:
    """One do-not-fragment ping of `payload` data bytes (+28 of headers) to the VLAN 200 gateway."""
    r = run("ip", "netns", "exec", ns, "ping", "-c1", "-W1", "-M", "do", "-s", str(payload), GATEWAY, check=False)
    return r.returncode == 0


@pytest.fixture(scope="module", params=["non-els", "els"])
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("integration prerequisite missing in CI: root")
        pytest.skip("needs root")
    style = str(request.param)
    token = secrets.token_hex(3)
    name, pf = f"acc{token}", f"a{token}"
    seed = "seed-lab-els" if style == "els" else "seed-lab"
    text = (TOPOLOGIES / f"{seed}.yaml").read_text().replace(f"name: {seed}\n", f"name: {name}\n").replace("eno2", pf)
    root = tmp_path_factory.mktemp("acceptance")
    try:
        status = lab_up(load_text(text).topology, state_root=root)
        assert status.up, status.problems
        switch = NetmikoSwitch(host=status.emulator["host"], port=status.emulator["port"],
                               username=str(status.username), key_file=status.client_key_path, timeout_s=10,
                               name="lab-switch")
        switch.open()
        lab = Lab(name, pf, style, root, switch, EmulatedHostDriver(lab_state.lab_dir(name, root)))
        try:
            yield lab
        finally:
            switch.close()
            lab.reset()
    finally:
        lab_down(name, state_root=root)


@pytest.fixture
def acc(root_required: None, lab: Lab) -> Iterator[Lab]:
    try:
        yield lab
    finally:
        lab.reset()


def pf_mac(pf: str) -> str:
    (link,) = json.loads(run("ip", "-j", "link", "show", pf).stdout)
    return str(link["address"])


def test_lldp_lists_the_host_on_the_pf_port_until_its_agent_stops(acc: Lab) -> None:
    mac = pf_mac(acc.pf)
    for xml in (False, True):
        (n,) = parse_lldp_neighbors(acc.show(commands.lldp_neighbors(xml=xml)))
        assert (n.port, n.chassis_id, n.port_info, n.system_name) == (PORT, mac, acc.pf, "worker2")
        assert n.local_interface == (f"{PORT}.0" if acc.style == "non-els" else PORT)
    assert acc.fault("lldp-off", pf=acc.pf) == [f"lldp-off {acc.pf}"]
    assert acc.show(commands.lldp_neighbors()).strip() == ""
    assert parse_lldp_neighbors(acc.show(commands.lldp_neighbors(xml=True))) == []
    acc.fault("lldp-on", pf=acc.pf)
    assert [n.port for n in parse_lldp_neighbors(acc.show(commands.lldp_neighbors()))] == [PORT]
    acc.fault("pf-down", pf=acc.pf)  # a port that is down hears nobody
    assert parse_lldp_neighbors(acc.show(commands.lldp_neighbors())) == []


def test_port_mtu_shows_in_show_interfaces_and_limits_df_traffic(acc: Lab) -> None:
    info = parse_interface(acc.show(commands.interface_detail(PORT)), name=PORT)
    assert (info.mtu, info.admin_up, info.link_up) == (1514, True, True)
    ns, netdev = acc.vf_on_vlan_200()
    assert df_ping(ns, 1472), "a 1500-byte DF ping must pass a 1514 port"
    acc.fault("port-mtu", port=PORT, mtu=1450)
    for xml in (False, True):
        assert parse_interface(acc.show(commands.interface_detail(PORT, xml=xml)), name=PORT).mtu == 1450
    assert not df_ping(ns, 1472), "a 1500-byte DF ping crossed a port of MTU 1450 (L3 1436)"
    assert df_ping(ns, 1372), "a 1400-byte DF ping must pass a port of MTU 1450"
    # Jumbo: the NIC side takes a 9000-byte VF MTU; the port decides.
    run("ip", "-n", ns, "link", "set", netdev, "mtu", "9000")
    assert not df_ping(ns, 8972)
    acc.fault("port-mtu", port=PORT, mtu=9216)
    assert parse_interface(acc.show(commands.interface_detail(PORT)), name=PORT).mtu == 9216
    assert df_ping(ns, 8972), "a 9000-byte DF ping must pass a 9216 port"
    assert acc.fault("port-mtu", port=PORT, mtu=1514) == []  # the configured MTU again: no fault left
    cables = json.loads(run("ip", "-n", f"sc-{acc.name}-sw", "-j", "link", "show").stdout)
    assert {c["ifname"]: c["mtu"] for c in cables if c["ifname"].startswith("s0v")} == {"s0v200": 1500, "s0v201": 1500}


def test_vlan_remove_and_pf_down_show_in_switching_interfaces(acc: Lab) -> None:
    def members(xml: bool = False) -> list[tuple[str, str, int | None, bool | None, bool | None]]:
        rows = parse_switching_interfaces(acc.show(commands.switching_interfaces(xml=xml)))
        return [(r.interface, r.vlan_name, r.vlan_id, r.port_up, r.forwarding) for r in rows]

    both = [(f"{PORT}.0", "SRIOV_200", 200, True, True), (f"{PORT}.0", "SRIOV_201", 201, True, True)]
    assert members() == members(xml=True) == both
    acc.fault("vlan-remove", port=PORT, vlan=201)
    assert members() == members(xml=True) == both[:1]
    one_port = parse_switching_interfaces(acc.show(commands.switching_interfaces(PORT)))
    assert [r.vlan_name for r in one_port] == ["SRIOV_200"]
    acc.fault("vlan-add", port=PORT, vlan=201)
    assert members() == both
    acc.fault("pf-down", pf=acc.pf)
    assert members() == members(xml=True) == [(i, n, v, False, False) for i, n, v, _, _ in both]
    assert not parse_interface(acc.show(commands.interface_detail(PORT)), name=PORT).link_up


def test_lab_status_reports_the_new_port_facts(acc: Lab) -> None:
    acc.fault("port-mtu", port=PORT, mtu=1450)
    acc.fault("lldp-off", pf=acc.pf)
    (port,) = lab_status(acc.name, state_root=acc.state_root).ports
    assert (port["pf_mac"], port["port_mtu"], port["lldp"]) == (pf_mac(acc.pf), 1450, False)
