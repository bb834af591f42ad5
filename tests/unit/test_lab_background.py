"""`lab fault TOPOLOGY background-table MACS ARPS`: the emulated switch carries other hosts' MACs and
ARP entries on other ports and VLANs, in every form it answers (whole table and scoped, text and
XML, both styles), computed on demand; scoped to a PF port or the topology's L3 interface, none."""

from __future__ import annotations

import dataclasses
import tracemalloc
from pathlib import Path

import pytest
from lxml import etree

from sriovcheck.errors import UsageError
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.junos.cli import JunosCli
from sriovcheck.lab.junos.view import Background, ServerFaults, SwitchSnapshot
from sriovcheck.lab.manager import lab_fault
from sriovcheck.lab.state import Faults, LabState
from sriovcheck.lab.switch_view import KernelDump, build_snapshot
from sriovcheck.parsers.junos import parse_arp_table, parse_mac_table
from sriovcheck.workflow import fault_arguments
from tests.unit.test_junos_acceptance import st
from tests.unit.test_junos_render import sriov_snapshot

__all__ = ["st"]


class Source:
    def __init__(self, snap: SwitchSnapshot) -> None:
        self.snap = snap

    def snapshot(self) -> SwitchSnapshot:
        return self.snap

    def faults(self) -> ServerFaults:
        return ServerFaults()


@pytest.fixture(params=["non-els", "els"])
def cli(request: pytest.FixtureRequest) -> JunosCli:
    snap = dataclasses.replace(sriov_snapshot(str(request.param)), background=Background(1000, 300))
    return JunosCli(Source(snap), username="netops")


def ask(cli: JunosCli, line: str) -> str:
    return cli.execute(line).text


def test_background_entries_are_in_every_whole_table_form(cli: JunosCli) -> None:
    for suffix in ("", " | display xml"):
        macs = parse_mac_table(ask(cli, "show ethernet-switching table" + suffix))
        bg = [m for m in macs if m.vlan_name.startswith("BG_") and m.mac]
        assert len(bg) == 1000 and len({m.mac for m in bg}) == 1000
        assert {m.interface for m in bg} == {"xe-0/2/0.0", "xe-0/2/1.0", "xe-0/2/2.0", "xe-0/2/3.0"}
        assert all(m.kind == "learned" for m in bg)
        assert len({m.vlan_name for m in bg}) == 40
        assert any(m.mac == "9a:88:8c:f7:bf:de" for m in macs)  # the topology's own entries stay
        arps = parse_arp_table(ask(cli, "show arp no-resolve" + suffix))
        assert len(arps) == 300 + 2 and len({a.ip for a in arps}) == 302


def test_background_shows_in_scoped_forms_of_its_own_ports_and_vlans(cli: JunosCli) -> None:
    for suffix in ("", " | display xml"):
        on_uplink = [m for m in parse_mac_table(ask(cli, "show ethernet-switching table interface xe-0/2/1" + suffix)) if m.mac]
        assert len(on_uplink) == sum(1 for i in range(1000) if Background.port(i) == "xe-0/2/1") == 240
        assert {m.interface for m in on_uplink} == {"xe-0/2/1.0"}
        vlan_kw = "vlan-name" if cli.source.snapshot().style == "els" else "vlan"
        in_vlan = [m for m in parse_mac_table(ask(cli, f"show ethernet-switching table {vlan_kw} BG_3501" + suffix)) if m.mac]
        assert len(in_vlan) == 25 and {m.vlan_name for m in in_vlan} == {"BG_3501"}
    l3 = "irb" if cli.source.snapshot().style == "els" else "vlan"
    arps = parse_arp_table(ask(cli, f"show arp no-resolve interface {l3}.3502 | display xml"))
    assert arps and {a.interface for a in arps} == {f"{l3}.3502"}


def test_scoped_to_a_pf_port_or_topology_l3_interface_shows_none_of_it(cli: JunosCli) -> None:
    l3 = "irb" if cli.source.snapshot().style == "els" else "vlan"
    for suffix in ("", " | display xml"):
        macs = [m.mac for m in parse_mac_table(ask(cli, "show ethernet-switching table interface ge-0/0/1" + suffix)) if m.mac]
        assert sorted(macs) == ["9a:88:8c:f7:bf:de", "de:bb:04:86:b8:36"]
        arps = parse_arp_table(ask(cli, f"show arp no-resolve interface {l3}.200" + suffix))
        assert [a.ip for a in arps] == ["192.168.200.2"]


def test_match_search_finds_a_mac_anywhere(cli: JunosCli) -> None:
    bg_mac = Background.mac(7)
    out = ask(cli, f'show ethernet-switching table | match "{bg_mac}|9a:88:8c:f7:bf:de"')
    assert len(out.splitlines()) == 2 and bg_mac in out and "xe-0/2/0.0" in out


def test_els_interface_scoped_xml_is_a_per_interface_mac_database() -> None:
    snap = sriov_snapshot("els")
    out = JunosCli(Source(snap), username="netops").execute("show ethernet-switching table interface ge-0/0/1 | display xml").text
    root = etree.fromstring(out[out.index("<") : out.rindex(">") + 1].encode())
    db = root.find("l2ng-l2ald-interface-macdb-vlan")
    assert db is not None and [e.text for e in db.findall("l2ng-l2ald-macdb-if-name")] == ["ge-0/0/1", "ge-0/0/1.0"]
    assert len(db.findall("l2ng-l2ald-mac-entry-vlan/l2ng-mac-entry")) == 2


def test_100k_entries_cost_nothing_until_shown_and_scoped_reads_stay_small() -> None:
    tracemalloc.start()
    snap = dataclasses.replace(sriov_snapshot("non-els"), background=Background(100_000, 20_000))
    cli = JunosCli(Source(snap), username="netops")
    out = cli.execute("show ethernet-switching table interface ge-0/0/1 | display xml").text
    arp = cli.execute("show arp no-resolve interface vlan.200 | display xml").text
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len([m for m in parse_mac_table(out) if m.mac]) == 2 and len(parse_arp_table(arp)) == 1
    assert peak < 2_000_000, f"a scoped read of a 100k switch took {peak} bytes"


def test_fault_is_saved_listed_cleared_and_bounded(st: LabState, tmp_path: Path) -> None:
    root = tmp_path / "root"
    d = lab_state.lab_dir("seed-lab", root)
    st.faults = Faults(background=(100_000, 20_000))
    lab_state.save(d, st)
    back = lab_state.load(d)
    assert back.faults.background == (100_000, 20_000)
    assert back.faults.active() == ["background-table 100000 20000"]
    snap = build_snapshot(back, KernelDump())
    assert snap.background == Background(100_000, 20_000)
    data = back.as_dict()
    del data["faults"]["background"]  # a state file from before this fault
    assert lab_state.state_from_dict(data, d / "state.json").faults.background == (0, 0)
    assert fault_arguments("background-table", ["100000", "20000"]) == {"macs": 100_000, "arps": 20_000}
    with pytest.raises(UsageError, match="MACS ARPS"):
        fault_arguments("background-table", ["100"])
    for macs, arps in ((100_001, 0), (0, 20_001)):
        with pytest.raises(UsageError, match="out of range"):
            lab_fault("seed-lab", "background-table", macs=macs, arps=arps, state_root=root)
    assert lab_state.load(d).faults.background == (100_000, 20_000)  # a refused change saves nothing


@pytest.mark.parametrize("command", ["show ethernet-switching table",
                                     "show ethernet-switching table interface xe-0/2/1"])
def test_match_and_except_filter_the_cached_background_block_as_they_filter_the_whole_text(cli: JunosCli, command: str) -> None:
    # verify's `| match "MAC|MAC"` search: the background block is rendered once per background and filtered
    # once per pattern (100,000 rows were ~0.9 s a command), and the lines are exactly those of the whole text
    import re

    from sriovcheck.lab.junos import cli as junos_cli

    whole = ask(cli, command)
    first = cli.execute(command).text
    again = cli.execute(command).text
    assert isinstance(first, junos_cli.render.Rendered) and first == whole == again
    assert first.parts[-1] is again.parts[-1] and len(first.parts[-1].splitlines()) >= 240  # the same block, reused
    for pipe, pattern in (("match", '"9a:88:8c:f7:bf:de|0e:5c:00:00:00:05"'), ("except", "Learn"), ("match", "BG_3501")):
        rx = re.compile(pattern.strip('"'), re.IGNORECASE)
        want = "".join(line for line in whole.splitlines(keepends=True) if bool(rx.search(line)) == (pipe == "match"))
        assert ask(cli, f"{command} | {pipe} {pattern}") == want, (pipe, pattern)
    got = ask(cli, f'{command} | match "0e:5c:00:00:00:05"')
    assert ("0e:5c:00:00:00:05" in got) == (command == "show ethernet-switching table")  # entry 5 is on xe-0/2/0
