"""Scoped switch reads and the pipelined pass: verify reads the PF ports' MAC tables and the L3
interfaces' ARP entries, finds the VFs' MACs anywhere else with one `| match` search, keeps every
verdict of the whole-table reads, and reads the switch's tables only after the pings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovcheck.parsers.junos_rows import mac_rows
from sriovcheck.switch import commands
from sriovcheck.switch.offline import SavedOutputSwitch
from sriovcheck.verify.engine import Verifier
from tests.unit.fakes import FakeHost, FakeRuntime
from tests.unit.test_verify_engine import Clock, Probe, Switch, by, healthy_switch, lab, verify

__all__ = ["lab"]  # the fixture, imported for pytest


def test_reads_are_scoped_to_the_pf_ports_and_l3_interfaces(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    out = verify(topo, w, sw)
    assert by(out, "switch-mac", "test-200/eth1").status == "pass"
    tables = [c for c in sw.commands if c.startswith(("show ethernet-switching table", "show arp"))]
    # never a whole table: the PF's port, one search for the VF MACs, one ARP read per L3 interface
    assert tables == [
        "show ethernet-switching table interface ge-0/0/1 | display xml",
        "show ethernet-switching table interface ge-0/0/1",
        f'show ethernet-switching table | match "{macs["test-200"]}|{macs["test-201"]}"',
        "show arp no-resolve interface vlan.200 | display xml",
        "show arp no-resolve interface vlan.200",
        "show arp no-resolve interface vlan.201 | display xml",
        "show arp no-resolve interface vlan.201",
    ]
    assert len(sw.commands) == len(set(sw.commands)), "no command runs twice"
    # the acceptance commands too: the PF port's membership and MTU, not every port's
    assert "show ethernet-switching interfaces ge-0/0/1" in sw.commands and "show ethernet-switching interfaces" not in sw.commands
    assert by(out, "switch-port", "test-200/eth1").status == "pass"


def test_mac_unique_sees_the_mac_on_a_port_that_is_no_pf_port(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    sw.macs.append(("SRIOV_200", macs["test-200"], "xe-0/2/0.0"))  # a duplicate behind an uplink
    out = verify(topo, w, sw)
    r = by(out, "mac-unique", "test-200/eth1")
    assert r.status == "fail" and "xe-0/2/0.0" in r.observed and "ge-0/0/1.0" in r.observed
    assert by(out, "mac-unique", "test-201/eth1").status == "pass"
    assert by(out, "switch-mac", "test-200/eth1").status == "pass"


def test_a_mac_learned_only_behind_another_port_is_named(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    sw.macs[1] = ("SRIOV_201", macs["test-201"], "ge-0/0/7.0")  # cabled elsewhere
    out = verify(topo, w, sw)
    r = by(out, "switch-mac", "test-201/eth1")
    assert r.status == "fail"
    assert "learned on ge-0/0/7.0, expected ge-0/0/1.0" in r.message  # the same diagnosis as the whole table gave


def test_tables_are_read_after_the_pings_and_beside_the_host_probes(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    probe = Probe(w)

    class Ordered(Switch):
        def run(self, command: str) -> str:
            if command.startswith("show ethernet-switching table"):
                assert getattr(probe, "pinged", None), "a table was read before the pings taught the switch"
            return super().run(command)

    sw = Ordered(healthy_switch(macs).macs, healthy_switch(macs).arps)
    out = verify(topo, w, sw, probe=probe)
    assert out.checks[0].kind == "vf-attached" and by(out, "switch-arp", "test-201/eth1").status == "pass"
    # results keep their order: host checks, switch checks, acceptance
    kinds = [c.kind for c in out.checks]
    assert kinds.index("gateway-ping") < kinds.index("switch-login") < kinds.index("mtu") < kinds.index("cabling")


def test_results_are_deterministic_across_runs(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    runs = [[(c.kind, c.target, c.status, c.message) for c in verify(topo, w, healthy_switch(macs)).checks] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


# --- offline: scoped files, whole files, or both ---------------------------------------------------


def _save(sw: Switch, directory: Path, cmds: list[str]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "show_version.txt").write_text("Hostname: ex-switch\nModel: ex4200-48t\nJUNOS Base OS boot [12.3R12.4]\n")
    for cmd in cmds:
        (directory / commands.saved_output_name(cmd)).write_text(sw.run(cmd))


def _verify_files(topo, w, directory: Path):  # type: ignore[no-untyped-def]
    return Verifier(
        topo, host=FakeHost(w), runtime=FakeRuntime(w), probe=Probe(w), open_switch=lambda: SavedOutputSwitch(directory),
        monotonic=Clock().monotonic, sleep=Clock().sleep,
    ).run()


SCOPED = [
    "show ethernet-switching table interface ge-0/0/1",
    "show arp no-resolve interface vlan.200",
    "show arp no-resolve interface vlan.201",
    "show interfaces vlan",
]


def test_offline_scoped_files_are_read_and_named_as_documented(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    _save(healthy_switch(macs), tmp_path, SCOPED)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "show_ethernet-switching_table_interface_ge-0_0_1.txt",
        "show_arp_no-resolve_interface_vlan.200.txt",
        "show_arp_no-resolve_interface_vlan.201.txt",
    }
    out = _verify_files(topo, w, tmp_path)
    for t in ("test-200/eth1", "test-201/eth1"):
        assert by(out, "switch-mac", t).status == "pass"
        assert by(out, "switch-arp", t).status == "pass"
        # the PF ports' tables cannot show a MAC on another port: not judged, and it says what to save
        r = by(out, "mac-unique", t)
        assert r.status == "skip" and "show ethernet-switching table" in r.message
    # with the whole table saved as well, mac-unique is judged from it
    _save(healthy_switch(macs), tmp_path, ["show ethernet-switching table"])
    out = _verify_files(topo, w, tmp_path)
    assert by(out, "mac-unique", "test-200/eth1").status == "pass"


def test_offline_whole_table_files_still_work(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    sw.macs.append(("SRIOV_200", macs["test-200"], "xe-0/2/0.0"))
    _save(sw, tmp_path, ["show ethernet-switching table", "show arp no-resolve", "show interfaces vlan"])
    out = _verify_files(topo, w, tmp_path)
    assert by(out, "switch-mac", "test-201/eth1").status == "pass"
    assert by(out, "switch-arp", "test-201/eth1").status == "pass"
    assert by(out, "mac-unique", "test-200/eth1").status == "fail"
    assert SavedOutputSwitch(tmp_path).has("show ethernet-switching table")
    assert not SavedOutputSwitch(tmp_path).has("show ethernet-switching table interface ge-0/0/1")


# --- the pieces ---------------------------------------------------------------------------------------


def test_mac_search_commands_are_chunked_and_refuse_anything_but_macs() -> None:
    macs = [f"02:00:00:00:00:{i:02x}" for i in range(40)]
    cmds = commands.mac_search(macs)
    assert len(cmds) == 3 and all(len(c) < 511 for c in cmds)
    assert cmds[0].startswith('show ethernet-switching table | match "02:00:00:00:00:00|02:00:00:00:00:01|')
    assert sum(c.count("02:00:00") for c in cmds) == 40
    for bad in ('02:00:00:00:00:01" | count', "02:00:00:00:00:0G", "x|y"):
        with pytest.raises(ValueError):
            commands.mac_search([bad])


def test_mac_rows_reads_matched_rows_of_both_formats() -> None:
    text = (
        "  SRIOV_200         02:00:00:00:00:01 Learn          0 ge-0/0/1.0\n"
        "  BG_3500           02:00:00:00:00:01 Learn       1:05 xe-0/2/0.0\n"
        "    SRIOV_201           02:00:00:00:00:02   D            -   ge-0/0/2.0             0         0\n"
        "  SRIOV_200         02:00:00:00:00:09 Learn          0 ge-0/0/1.0\n"  # not asked for
        "garbage 02:00:00:00:00:01\n"
    )
    rows = mac_rows(text, {"02:00:00:00:00:01", "02:00:00:00:00:02"})
    assert [(r.vlan_name, r.mac, r.interface, r.kind) for r in rows] == [
        ("SRIOV_200", "02:00:00:00:00:01", "ge-0/0/1.0", "learned"),
        ("BG_3500", "02:00:00:00:00:01", "xe-0/2/0.0", "learned"),
        ("SRIOV_201", "02:00:00:00:00:02", "ge-0/0/2.0", "learned"),
    ]


def test_a_crash_on_the_host_side_stops_the_switch_thread_and_closes_its_session(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)

    class Broken(Probe):
        def ping_many(self, requests):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        verify(topo, w, sw, probe=Broken(w))  # returns (does not hang on the switch thread)
    assert sw.closed
    assert not [c for c in sw.commands if "ethernet-switching table" in c]


def test_a_session_that_types_ahead_is_given_every_command_in_the_order_it_runs(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab

    class TypingAhead(Switch):
        def __init__(self, base: Switch) -> None:
            super().__init__(base.macs, base.arps)
            self.batches: list[tuple[int, list[str]]] = []  # (commands run before, the batch)

        def prefetch(self, cmds: list[str]) -> None:
            self.batches.append((len(self.commands), list(cmds)))

    sw = TypingAhead(healthy_switch(macs))
    out = verify(topo, w, sw)
    assert by(out, "switch-port", "test-200/eth1").status == "pass"
    # two batches: the PF ports' MAC tables (polled until learned), then everything else, acceptance included
    assert [b for _, b in sw.batches] == [
        ["show ethernet-switching table interface ge-0/0/1 | display xml"],
        [
            f'show ethernet-switching table | match "{macs["test-200"]}|{macs["test-201"]}"',
            "show arp no-resolve interface vlan.200 | display xml",
            "show arp no-resolve interface vlan.201 | display xml",
            "show interfaces vlan",
            "show ethernet-switching interfaces ge-0/0/1",
            "show lldp neighbors",
            "show interfaces ge-0/0/1",
        ],
    ]
    for start, batch in sw.batches:
        # each batched command is then run, in the batch's order (text fallbacks may come between)
        ran = [c for c in sw.commands[start:] if c in batch]
        assert ran[: len(batch)] == batch
    assert sw.closed, "the switch thread logs out once its commands are done"
