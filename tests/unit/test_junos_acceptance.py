"""The emulator and the lab's pure parts for the acceptance data: LLDP neighbours, port MTUs and VLAN
membership as the switch shows them, the fabric plan's MTUs, the state file and the fault arguments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from sriovcheck.errors import StateError, UsageError
from sriovcheck.lab import fabric
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.cli import JunosCli
from sriovcheck.lab.junos.view import InterfaceView, LldpView, ServerFaults, SwitchSnapshot, VlanView
from sriovcheck.lab.manager import configured_port_mtu, lab_fault, new_state
from sriovcheck.lab.state import Faults, LabState
from sriovcheck.lab.switch_view import KernelDump, build_snapshot
from sriovcheck.topology.load import load_text

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"
PF_MAC = "0c:42:a1:5e:00:10"


def seed_text(**replace: str) -> str:
    text = SEED.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.fixture
def st(tmp_path: Path) -> LabState:
    state = new_state(load_text(seed_text()).topology, tmp_path / "seed-lab" / "lab")
    state.pfs[0].mac = PF_MAC
    return state


def snapshot(style: str = "non-els", **kw: object) -> SwitchSnapshot:
    l3 = "irb" if style == "els" else "vlan"
    base: dict[str, object] = {
        "hostname": "ex-switch", "style": style, "model": "ex4200-48t", "junos_version": "12.3R12.4",
        "router_mac": "02:00:00:00:00:fe",
        "vlans": (VlanView("SRIOV_200", 200, f"{l3}.200", "192.168.200.1/24", ("ge-0/0/1", "ge-0/0/2")),
                  VlanView("SRIOV_201", 201, f"{l3}.201", "192.168.201.1/24", ("ge-0/0/1",))),
        "macs": (), "arps": (),
        "interfaces": (InterfaceView("ge-0/0/1", True, True, mtu=9216, mac="02:00:00:00:00:01"),
                       InterfaceView("ge-0/0/2", True, False)),
        "lldp": (LldpView("ge-0/0/1", PF_MAC, PF_MAC, "eno2", "worker2"),
                 LldpView("ge-0/0/2", "02:aa:00:00:00:01", "02:aa:00:00:00:01", None, "a-host-with-a-long-name",
                          parent_interface="ae0")),
    }
    base.update(kw)
    return SwitchSnapshot(**base)  # type: ignore[arg-type]


def column_starts(line: str) -> list[int]:
    return [m.start() for m in re.finditer(r"(?<!\S)\S", line)]


# ---------------------------------------------------------------- LLDP rendering
@pytest.mark.parametrize(("style", "local"), [("non-els", "ge-0/0/1.0"), ("els", "ge-0/0/1")])
def test_lldp_text_has_junos_columns_and_names_the_local_side_by_style(style: str, local: str) -> None:
    lines = render.render_lldp_neighbors(snapshot(style)).splitlines()
    assert lines[0] == "Local Interface    Parent Interface    Chassis Id          Port info          System Name"
    header = [0, 19, 39, 59, 78]
    assert column_starts(lines[1]) == header
    assert lines[1].split() == [local, "-", PF_MAC, "eno2", "worker2"]
    # No port description: Port info falls back to the port id.
    assert lines[2].split()[1:] == ["ae0", "02:aa:00:00:00:01", "02:aa:00:00:00:01", "a-host-with-a-long-name"]


def test_lldp_with_no_neighbour_prints_nothing_and_an_empty_xml_list() -> None:
    snap = snapshot(lldp=())
    assert render.render_lldp_neighbors(snap) == ""
    root = etree.fromstring(render.render_lldp_neighbors_xml(snap).encode())
    assert root.find("lldp-neighbors-information") is not None
    assert root.find(".//lldp-neighbor-information") is None


@pytest.mark.parametrize(("style", "local_tag"), [("non-els", "lldp-local-interface"), ("els", "lldp-local-port-id")])
def test_lldp_xml_element_paths(style: str, local_tag: str) -> None:
    root = etree.fromstring(render.render_lldp_neighbors_xml(snapshot(style)).encode())
    first = root.find("lldp-neighbors-information/lldp-neighbor-information")
    assert first is not None
    got = {child.tag: child.text for child in first}
    assert got[local_tag] == ("ge-0/0/1.0" if style == "non-els" else "ge-0/0/1")
    assert (got["lldp-remote-chassis-id"], got["lldp-remote-port-id"], got["lldp-remote-port-description"],
            got["lldp-remote-system-name"], got["lldp-local-parent-interface-name"]) == (
        PF_MAC, PF_MAC, "eno2", "worker2", "-")
    assert got["lldp-remote-chassis-id-subtype"] == "Mac address"


# ---------------------------------------------------------------- switching interfaces and show interfaces
@pytest.mark.parametrize("style", ["non-els", "els"])
def test_switching_interfaces_filter_and_unknown_port(style: str) -> None:
    snap = snapshot(style)
    only2 = render.render_switching_interfaces(snap, interface="ge-0/0/2")
    assert "ge-0/0/2.0" in only2 and "ge-0/0/1.0" not in only2 and "SRIOV_201" not in only2
    assert render.render_switching_interfaces(snap, interface="ge-0/0/1.0").count("SRIOV_20") == 2
    assert render.render_switching_interfaces(snap, interface="ge-0/0/99") == "error: device ge-0/0/99 not found\n"
    err = etree.fromstring(render.render_switching_interfaces_xml(snap, interface="ge-0/0/99").encode())
    assert "ge-0/0/99 not found" in (err.findtext(".//error-message") or "")


def test_switching_interfaces_show_a_down_port_in_each_style() -> None:
    non_els = render.render_switching_interfaces(snapshot()).splitlines()
    assert non_els[3].split() == ["ge-0/0/2.0", "down", "SRIOV_200", "200", "tagged", "unblocked"]
    els = render.render_switching_interfaces(snapshot("els")).splitlines()
    header = next(line for line in els if line.startswith("Logical         Vlan"))
    row = next(line for line in els if line.startswith("ge-0/0/2.0"))
    assert row[header.index("Logical", 5):].split() == ["DN", "tagged"]  # flags column
    member = els[els.index(row) + 1]
    assert member[header.index("STP"):].split()[0] == "Discarding"


@pytest.mark.parametrize("style", ["non-els", "els"])
def test_show_interfaces_xml_carries_mtu_state_and_address(style: str) -> None:
    root = etree.fromstring(render.render_interface_detail_xml(snapshot(style), name="ge-0/0/1").encode())
    ns = {"i": root[0].nsmap[None]}
    phys = root.find("i:interface-information/i:physical-interface", ns)
    assert phys is not None
    assert [phys.findtext(f"i:{t}", namespaces=ns) for t in ("name", "admin-status", "oper-status", "mtu",
                                                              "current-physical-address")] == [
        "ge-0/0/1", "up", "up", "9216", "02:00:00:00:00:01"]
    assert [u.findtext("i:name", namespaces=ns) for u in phys.findall("i:logical-interface", ns)] == ["ge-0/0/1.0"]
    text = render.render_interface_detail(snapshot(style), name="ge-0/0/1")
    assert "Link-level type: Ethernet, MTU: 9216," in text
    assert "Current address: 02:00:00:00:00:01, Hardware address: 02:00:00:00:00:01" in text


class _Source:
    def __init__(self, snap: SwitchSnapshot) -> None:
        self.snap = snap

    def snapshot(self) -> SwitchSnapshot:
        return self.snap

    def faults(self) -> ServerFaults:
        return ServerFaults()


@pytest.mark.parametrize("style", ["non-els", "els"])
def test_cli_answers_the_new_commands(style: str) -> None:
    snap = snapshot(style)
    cli = JunosCli(_Source(snap), username="netops")
    cases = {
        "show lldp neighbors": render.render_lldp_neighbors(snap),
        "show lldp neighbors | display xml": render.render_lldp_neighbors_xml(snap),
        "show ethernet-switching interfaces": render.render_switching_interfaces(snap),
        "show ethernet-switching interfaces | display xml": render.render_switching_interfaces_xml(snap),
        "show ethernet-switching interfaces ge-0/0/2": render.render_switching_interfaces(snap, interface="ge-0/0/2"),
        "show ethernet-switching interfaces ge-0/0/2.0 | display xml":
            render.render_switching_interfaces_xml(snap, interface="ge-0/0/2.0"),
        "show interfaces ge-0/0/1": render.render_interface_detail(snap, name="ge-0/0/1"),
        "show interfaces ge-0/0/1 | display xml": render.render_interface_detail_xml(snap, name="ge-0/0/1"),
    }
    for line, expected in cases.items():
        assert cli.execute(line).text == expected, line
    assert "syntax error" in cli.execute("show ethernet-switching interfaces ge-0/0/1 ge-0/0/2").text


# ---------------------------------------------------------------- the switch view from kernel state
def _dump(st: LabState, *, cable_mtu: int = 1500, carrier: bool = True) -> KernelDump:
    links: dict[str, dict[str, Any]] = {
        "vl200": {"index": 10, "up": True, "carrier": True, "master": None, "mac": st.router_mac, "mtu": cable_mtu},
        "vl201": {"index": 11, "up": True, "carrier": True, "master": None, "mac": st.router_mac, "mtu": cable_mtu},
        "s0v200": {"index": 20, "up": True, "carrier": carrier, "master": 10, "mac": "aa:00:00:00:00:01", "mtu": cable_mtu},
        "s0v201": {"index": 21, "up": True, "carrier": carrier, "master": 11, "mac": "aa:00:00:00:00:02", "mtu": cable_mtu},
    }
    return KernelDump(links=links, addrs={10: ["192.168.200.1/24"], 11: ["192.168.201.1/24"]})


def test_snapshot_lists_the_host_as_lldp_neighbour_of_its_pf_port(st: LabState) -> None:
    snap = build_snapshot(st, _dump(st))
    assert snap.lldp == (LldpView("ge-0/0/1", PF_MAC, PF_MAC, "eno2", "worker2"),)
    st.faults.lldp_off = ["eno2"]
    assert build_snapshot(st, _dump(st)).lldp == ()
    st.faults.lldp_off = []
    assert build_snapshot(st, _dump(st, carrier=False)).lldp == ()  # port down: nothing is heard
    st.pfs[0].mac = None  # not recorded yet: no chassis id to announce
    assert build_snapshot(st, _dump(st)).lldp == ()


def test_snapshot_port_mtu_comes_from_the_cables(st: LabState) -> None:
    port = next(i for i in build_snapshot(st, _dump(st)).interfaces if i.name == "ge-0/0/1")
    assert (port.mtu, port.mac) == (1514, fabric.switch_port_mac("seed-lab", 0))
    port = next(i for i in build_snapshot(st, _dump(st, cable_mtu=1386)).interfaces if i.name == "ge-0/0/1")
    assert port.mtu == 1400
    st.faults.port_mtu = {"ge-0/0/1": 9216}
    port = next(i for i in build_snapshot(st, KernelDump()).interfaces if i.name == "ge-0/0/1")
    assert port.mtu == 9216  # no cable to read: what the state says


# ---------------------------------------------------------------- the plan's MTUs
def _mtus(st: LabState) -> dict[tuple[str, str], int]:
    return {(ns, name): mtu for ns, name, mtu in fabric.plan_fabric(st).mtus}


def test_plan_sets_nic_links_jumbo_and_cables_to_the_port_mtu(st: LabState) -> None:
    mtus = _mtus(st)
    assert mtus[("nic", "pf0")] == 9216 and mtus[("nic", "p0f0")] == 9216 and mtus[("nic", "p0f7")] == 9216
    assert {mtus[("nic", "c0v200")], mtus[("sw", "s0v200")], mtus[("sw", "s0v201")]} == {1500}
    st.faults.port_mtu = {"ge-0/0/1": 1414}
    mtus = _mtus(st)
    assert (mtus[("nic", "c0v201")], mtus[("sw", "s0v201")], mtus[("nic", "p0f0")]) == (1400, 1400, 9216)


def test_a_jumbo_vf_makes_the_lab_port_jumbo(tmp_path: Path) -> None:
    topo = load_text(seed_text(**{"address: 192.168.200.2/24": "address: 192.168.200.2/24\n        mtu: 9000"})).topology
    assert configured_port_mtu(topo, "eno2") == 9216
    st = new_state(topo, tmp_path / "seed-lab" / "lab")
    assert st.pfs[0].port_mtu == 9216 and st.port_mtu(st.pfs[0]) == 9216
    assert _mtus(st)[("sw", "s0v200")] == 9202
    assert configured_port_mtu(load_text(seed_text()).topology, "eno2") == 1514


# ---------------------------------------------------------------- state file
def test_state_keeps_host_name_pf_mac_port_mtu_and_the_new_faults(st: LabState, tmp_path: Path) -> None:
    assert st.host_name == "worker2"
    st.faults = Faults(lldp_off=["eno2"], port_mtu={"ge-0/0/1": 1450})
    d = tmp_path / "state"
    lab_state.save(d, st)
    back = lab_state.load(d)
    assert back.as_dict() == st.as_dict()
    assert (back.host_name, back.pfs[0].mac, back.pfs[0].port_mtu) == ("worker2", PF_MAC, 1514)
    assert back.faults.active() == ["lldp-off eno2", "port-mtu ge-0/0/1 1450"]


def test_a_state_file_from_before_these_fields_still_loads(st: LabState, tmp_path: Path) -> None:
    data = st.as_dict()
    del data["host"]
    for key in ("lldp_off", "port_mtu"):
        del data["faults"][key]
    for pf in data["pfs"]:
        del pf["mac"], pf["port_mtu"]
    back = lab_state.state_from_dict(data, tmp_path / "state.json")
    assert (back.host_name, back.pfs[0].mac, back.pfs[0].port_mtu) == ("", None, 1514)
    assert back.faults.lldp_off == [] and back.faults.port_mtu == {}


def test_damaged_new_fields_are_state_errors(st: LabState, tmp_path: Path) -> None:
    data = st.as_dict()
    data["faults"]["port_mtu"] = {"ge-0/0/1": "big"}
    with pytest.raises(StateError, match="faults"):
        lab_state.state_from_dict(data, tmp_path / "state.json")


# ---------------------------------------------------------------- fault arguments (refused before the kernel)
@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("lldp-off", {}, "needs a PF name"),
        ("lldp-on", {"pf": "eno9"}, "has no PF 'eno9'"),
        ("port-mtu", {"port": "ge-0/0/1"}, "needs a switch port and an MTU"),
        ("port-mtu", {"port": "ge-0/0/1", "mtu": 9217}, "not an MTU an EX port takes"),
        ("port-mtu", {"port": "ge-0/0/1", "mtu": 100}, "not an MTU an EX port takes"),
        ("port-mtu", {"port": "ge-0/0/7", "mtu": 1500}, "has no switch port 'ge-0/0/7'"),
    ],
)
def test_new_faults_refuse_bad_arguments(st: LabState, tmp_path: Path, kind: str, kwargs: dict[str, object],
                                         message: str) -> None:
    root = tmp_path / "root"
    lab_state.save(lab_state.lab_dir("seed-lab", root), st)
    with pytest.raises(UsageError, match=message):
        lab_fault("seed-lab", kind, state_root=root, **kwargs)  # type: ignore[arg-type]
    assert lab_state.load(lab_state.lab_dir("seed-lab", root)).faults == Faults()  # nothing saved
