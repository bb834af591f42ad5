"""The emulated switch as EOS and NX-OS: every read a platform makes, in `| json` and as text, answered
by the emulator's command line and read back by that platform's parsers to the snapshot's state;
the session commands netmiko's drivers send; the wording of the fixes per platform."""

from __future__ import annotations

import pytest

from sriovcheck.lab.ciscolike.cli import EosCli, NxosCli, make_cli
from sriovcheck.lab.junos.cli import JunosCli
from sriovcheck.lab.junos.view import ArpView, InterfaceView, LldpView, MacView, ServerFaults, SwitchSnapshot, VlanView
from sriovcheck.switch import platforms
from sriovcheck.switch.platforms import Platform, Read

VF0, VF1, OTHER = "02:00:00:00:02:00", "02:00:00:00:02:01", "0e:00:00:00:00:09"
ROUTER = "02:5e:00:00:00:fe"
PF_MAC = "52:54:00:12:34:56"
PORT = {"arista_eos": "Ethernet1", "cisco_nxos": "Ethernet1/1"}
UPLINK = {"arista_eos": "Ethernet49", "cisco_nxos": "Ethernet1/49"}


def snapshot(platform: str, *, vlan_201_on_port: bool = True) -> SwitchSnapshot:
    port, up = PORT[platform], UPLINK[platform]
    vlans = (
        VlanView("SRIOV_200", 200, "Vlan200", "192.168.200.1/24", (port,)),
        VlanView("SRIOV_201", 201, "Vlan201", "192.168.201.1/24", (port,) if vlan_201_on_port else ()),
    )
    macs = (
        MacView("SRIOV_200", 200, ROUTER, "router", None, "Router"),
        MacView("SRIOV_200", 200, VF0, "learned", 12, f"{port}.0"),
        MacView("SRIOV_201", 201, VF1, "learned", 3, f"{port}.0"),
        MacView("SRIOV_201", 201, OTHER, "learned", 40, f"{up}.0"),
    )
    arps = (ArpView(VF0, "192.168.200.2", "Vlan200"), ArpView(VF1, "192.168.201.2", "Vlan201"))
    interfaces = (
        InterfaceView(port, True, True, 1514, "02:5e:00:00:01:01", description="sriovcheck lab: eno2"),
        InterfaceView(up, True, True, 9216, "02:5e:00:00:01:31"),
        InterfaceView("Vlan200", True, True, 1500, ROUTER, "192.168.200.1/24"),
        InterfaceView("Vlan201", True, True, 1500, ROUTER, "192.168.201.1/24"),
    )
    model, version = platforms.get(platform).lab_models["non-els"]
    return SwitchSnapshot("tor-1", "non-els", model, version, ROUTER, vlans, macs, arps, interfaces,
                          lldp=(LldpView(port, PF_MAC, PF_MAC, "eno2", "worker2"),), platform=platform)


class Source:
    def __init__(self, snap: SwitchSnapshot) -> None:
        self.snap = snap

    def snapshot(self) -> SwitchSnapshot:
        return self.snap

    def faults(self) -> ServerFaults:
        return ServerFaults()


PLATFORMS = ["arista_eos", "cisco_nxos"]


def cli(platform: str, **kw: bool) -> EosCli | NxosCli:
    made = make_cli(platform, Source(snapshot(platform, **kw)), username="netops")
    assert isinstance(made, EosCli | NxosCli)
    return made


def each(c: EosCli | NxosCli, read: Read) -> list[list[object]]:
    """The read's parse of every one of its commands (JSON and text), as the emulator answers them."""
    out = []
    for command in read.commands:
        reply = c.execute(command)
        assert not reply.close
        out.append(list(read.parse(reply.text)))
    assert len(read.commands) == 2 and read.commands[0].endswith("| json")
    return out


@pytest.mark.parametrize("name", PLATFORMS)
def test_every_read_answers_in_json_and_text_and_parses_back_to_the_state(name: str) -> None:
    p: Platform = platforms.get(name)
    c = cli(name)
    port = PORT[name]
    for macs in each(c, p.mac_table(port)):
        assert sorted((m.mac, m.vlan_id, m.interface, m.kind) for m in macs) == [  # type: ignore[attr-defined]
            (VF0, 200, port, "learned"), (VF1, 201, port, "learned")]
    for macs in each(c, p.mac_table()):
        assert {m.mac for m in macs} == {VF0, VF1, OTHER, ROUTER}  # type: ignore[attr-defined]
    (search,) = p.mac_search([OTHER])
    for macs in each(c, search):
        assert [(m.mac, m.interface) for m in macs] == [(OTHER, UPLINK[name])]  # type: ignore[attr-defined]
    for arps in each(c, p.arp_table("Vlan201")):
        assert [(a.ip, a.mac, a.interface) for a in arps] == [("192.168.201.2", VF1, "Vlan201")]  # type: ignore[attr-defined]
    for rows in each(c, p.port_vlans(port)):
        assert sorted((r.port, r.vlan_id, r.tagging) for r in rows) == [  # type: ignore[attr-defined]
            (port, 200, "tagged"), (port, 201, "tagged")]
    for infos in each(c, p.interface(port)):
        assert [(i.name, i.admin_up, i.link_up, i.mtu) for i in infos] == [(port, True, True, 1514)]  # type: ignore[attr-defined]
    for n in each(c, p.lldp_neighbors()):
        assert [(x.port, x.system_name) for x in n] == [(port, "worker2")]  # type: ignore[attr-defined]
    ((read, covered), _) = p.l3_macs(["Vlan200", "Vlan201"])
    assert covered == ("Vlan200",)
    for infos in each(c, read):
        assert [i.current_address for i in infos] == [ROUTER]  # type: ignore[attr-defined]
    model, version = p.lab_models["non-els"]
    for (info,) in each(c, p.version()):
        assert (info.model.removesuffix(" Chassis"), info.os_version) == (model, version)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", PLATFORMS)
def test_a_vlan_removed_from_the_port_is_gone_from_its_membership(name: str) -> None:
    p = platforms.get(name)
    c = cli(name, vlan_201_on_port=False)
    for rows in each(c, p.port_vlans(PORT[name])):
        assert [r.vlan_id for r in rows] == [200]  # type: ignore[attr-defined]


def test_netmiko_session_commands_get_what_the_drivers_wait_for() -> None:
    eos, nxos = cli("arista_eos"), cli("cisco_nxos")
    # arista_eos: "Width set to" after terminal width, "Pagination disabled" after terminal length
    assert "Width set to" in eos.execute("terminal width 511").text
    assert "Pagination disabled" in eos.execute("terminal length 0").text
    # cisco_nxos waits for the echo only: nothing more
    assert nxos.execute("terminal width 511").text == nxos.execute("terminal length 0").text == ""
    for c in (eos, nxos):
        assert c.prompt() == "tor-1#"
        assert c.execute("exit").close
        assert c.execute("").text == ""


def test_unknown_commands_and_pipes_are_refused_as_the_os_does() -> None:
    eos, nxos = cli("arista_eos"), cli("cisco_nxos")
    assert eos.execute("show running-config").text == "% Invalid input\n"
    assert eos.execute("show version | include x").text == "% Invalid input\n"
    assert "% Invalid command at '^' marker." in nxos.execute("show bogus").text
    assert "does not exist" in eos.execute("show interfaces Ethernet7").text


def test_make_cli_falls_back_to_junos() -> None:
    assert isinstance(make_cli("juniper_junos", Source(snapshot("arista_eos")), username="u"), JunosCli)


@pytest.mark.parametrize(("name", "fix"), [
    ("juniper_junos", "set interfaces ge-0/0/1 unit 0 family ethernet-switching vlan members SRIOV_201"),
    ("arista_eos", "switchport trunk allowed vlan add 201"),
    ("cisco_nxos", "switchport trunk allowed vlan add 201"),
])
def test_each_platform_words_the_vlan_fix_in_its_own_cli(name: str, fix: str) -> None:
    port = {"juniper_junos": "ge-0/0/1"}.get(name) or PORT[name]
    assert fix in platforms.get(name).fix_vlan_member(port, 201, "SRIOV_201")


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("juniper_junos", ["ge-0/0/1", "xe-0/0/0:2", "ae0"], ["Ethernet1", "ge-0/0/1 | display xml"]),
    ("arista_eos", ["Ethernet1", "Ethernet3/1", "Port-Channel10"], ["ge-0/0/1", "Ethernet1;show", "Et1", "Ethernet1 | json"]),
    ("cisco_nxos", ["Ethernet1/1", "Ethernet1/49/2", "port-channel10"], ["Ethernet1", "Ethernet1/1\nshow", "Eth1/1"]),
])
def test_port_names_follow_each_platform_and_nothing_else_reaches_a_command(name: str, good: list[str], bad: list[str]) -> None:
    p = platforms.get(name)
    for g in good:
        assert p.port(g) == g
        assert all(g in c for c in p.mac_table(g).commands)
    for b in bad:
        with pytest.raises(ValueError, match=f"not a (valid )?{p.os_name}"):
            p.mac_table(b)


@pytest.mark.parametrize("name", PLATFORMS)
def test_the_svi_must_be_the_vlans_own(name: str) -> None:
    p = platforms.get(name)
    assert p.l3_interface_problem("Vlan200", 200) is None
    assert "its SVI is Vlan200" in (p.l3_interface_problem("Vlan201", 200) or "")
    assert "not a valid" in (p.l3_interface_problem("vlan.200", 200) or "")


def test_mac_search_refuses_what_is_not_a_mac() -> None:
    for p in platforms.PLATFORMS.values():
        with pytest.raises(ValueError, match="not a MAC"):
            p.mac_search(["02:00:00:00:00:01 | count"])


@pytest.mark.parametrize("name", PLATFORMS)
def test_saved_outputs_of_a_fleet_read_serve_offline_verification(name: str, tmp_path: object) -> None:
    """What `fleet switch-read` saves for an EOS / NX-OS switch (the platform's commands, `| json` as
    .json files) is what SavedOutputSwitch answers from, facts included."""
    from pathlib import Path

    from sriovcheck.fleet.evidence import group_commands
    from sriovcheck.switch.commands import saved_output_name
    from sriovcheck.switch.offline import SavedOutputSwitch
    from sriovcheck.topology.load import load_topology

    d = Path(str(tmp_path))
    t = load_topology(Path(__file__).resolve().parents[2] / "topologies" / f"seed-lab-{name.split('_')[1]}.yaml").topology
    c = cli(name)
    cmds = group_commands([t])
    assert any(x.endswith("| json") for x in cmds) and not any("ethernet-switching" in x for x in cmds)
    for command in cmds:
        (d / saved_output_name(command)).write_text(c.execute(command).text)
    saved = SavedOutputSwitch(d, platform=name)
    p = platforms.get(name)
    assert (saved.facts.platform, saved.facts.os_version) == (name, p.lab_models["non-els"][1])
    macs = p.mac_table().parse(saved.run(p.mac_table().commands[0]))
    assert {m.mac for m in macs} >= {VF0, VF1}  # type: ignore[attr-defined]


def test_no_check_diagnosis_or_report_module_names_a_vendor() -> None:
    """Vendor knowledge is data in sriovcheck/switch/platforms: the checks, the diagnosis and the
    reports read the normalised tables only (README: "Adding a switch platform")."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "sriovcheck"
    vendor = re.compile(r"junos|juniper|arista|cisco|\beos\b|nx-?os|ethernet-switching|display xml|\| json", re.IGNORECASE)
    found = [f"{p.relative_to(root)}:{n}: {line.strip()}"
             for d in ("verify", "report") for p in sorted((root / d).glob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if vendor.search(line)]
    assert found == []
