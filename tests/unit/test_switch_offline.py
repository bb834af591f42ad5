"""SavedOutputSwitch: answers from files named by saved_output_name, facts from show_version.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovcheck.errors import SwitchError
from sriovcheck.parsers.junos import parse_arp_table, parse_mac_table
from sriovcheck.switch import commands
from sriovcheck.switch.client import SwitchSession
from sriovcheck.switch.offline import SavedOutputSwitch

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "junos-samples"

VERSION = "fpc0:\n-----\nHostname: ex-switch\nModel: ex4200-48t\nJUNOS Base OS boot [12.3R12.4]\n\n{master:0}\n"


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    (tmp_path / "show_version.txt").write_text(VERSION)
    mac_text = (SAMPLES / "kashif-nawaz-ext__show_ethernet-switching_table_interface__1.raw").read_bytes()
    (tmp_path / "show_ethernet-switching_table.txt").write_bytes(mac_text)
    arp_xml = (SAMPLES / "yandex-noc-tests__show_arp_display_xml__1.raw").read_bytes()
    (tmp_path / "show_arp_no-resolve.xml").write_bytes(arp_xml)
    return tmp_path


def test_satisfies_the_session_protocol_and_reads_facts(saved: Path) -> None:
    switch = SavedOutputSwitch(saved)
    assert isinstance(switch, SwitchSession)
    assert switch.facts.source == f"files:{saved}"
    assert (switch.facts.hostname, switch.facts.model, switch.facts.junos_version) == (
        "ex-switch", "ex4200-48t", "12.3R12.4",
    )
    assert switch.facts.host_key_fingerprint is None


def test_run_returns_the_saved_file_for_each_command(saved: Path) -> None:
    switch = SavedOutputSwitch(str(saved))
    macs = parse_mac_table(switch.run(commands.mac_table()))
    assert ("SRIOV_200", "9a:88:8c:f7:bf:de", "ge-0/0/1.0") in [(e.vlan_name, e.mac, e.interface) for e in macs]
    arps = parse_arp_table(switch.run(commands.arp_table(xml=True)))
    assert arps[0].ip == "10.1.1.1" and arps[0].interface == "ae101.3666"
    assert switch.run("show version | no-more") == VERSION


def test_missing_xml_names_the_file_it_looked_for(saved: Path) -> None:
    switch = SavedOutputSwitch(saved)
    with pytest.raises(SwitchError) as info:
        switch.run(commands.mac_table(xml=True))
    text = str(info.value)
    assert "show_ethernet-switching_table.xml" in text and str(saved) in text
    assert "show ethernet-switching table | display xml" in text
    # the caller's fallback to text works
    assert "Ethernet-switching table" in switch.run(commands.mac_table())


def test_without_version_file_facts_only_name_the_source(tmp_path: Path) -> None:
    switch = SavedOutputSwitch(tmp_path)
    assert switch.facts.hostname is None and switch.facts.source == f"files:{tmp_path}"
    switch.close()
    switch.close()


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SwitchError, match="is not a directory"):
        SavedOutputSwitch(tmp_path / "missing")


def test_command_that_cannot_be_a_saved_file(saved: Path) -> None:
    with pytest.raises(SwitchError, match=r"\| match"):
        SavedOutputSwitch(saved).run("show arp no-resolve | match 200")


def test_undecodable_bytes_do_not_stop_a_run(tmp_path: Path) -> None:
    (tmp_path / "show_vlans.txt").write_bytes(b"Name  Tag  Interfaces\nSRIOV_200 200 ge-0/0/1.0*\xff\n")
    out = SavedOutputSwitch(tmp_path).run(commands.SHOW_VLANS)
    assert out.startswith("Name") and "\ufffd" in out
