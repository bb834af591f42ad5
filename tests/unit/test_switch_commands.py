"""Junos command builders: exact command lines, refusal of anything that could inject, file names."""

from __future__ import annotations

import pytest

from sriovcheck.switch import commands as c


@pytest.mark.parametrize(
    ("kwargs", "want"),
    [
        ({}, "show ethernet-switching table"),
        ({"xml": True}, "show ethernet-switching table | display xml"),
        ({"interface": "ge-0/0/1"}, "show ethernet-switching table interface ge-0/0/1"),
        ({"interface": "ge-0/0/1.0", "xml": True}, "show ethernet-switching table interface ge-0/0/1.0 | display xml"),
        ({"interface": "xe-0/0/0:2.0"}, "show ethernet-switching table interface xe-0/0/0:2.0"),
        ({"interface": "ae0.0"}, "show ethernet-switching table interface ae0.0"),
        ({"vlan": "SRIOV_200"}, "show ethernet-switching table vlan SRIOV_200"),
        ({"vlan": "SRIOV_200", "style": "els"}, "show ethernet-switching table vlan-name SRIOV_200"),
        ({"interface": "ge-0/0/1.0", "vlan": "SRIOV_200", "xml": True},
         "show ethernet-switching table interface ge-0/0/1.0 vlan SRIOV_200 | display xml"),
    ],
)
def test_mac_table_command(kwargs: dict[str, object], want: str) -> None:
    assert c.mac_table(**kwargs) == want  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "want"),
    [
        ({}, "show arp no-resolve"),
        ({"xml": True}, "show arp no-resolve | display xml"),
        ({"interface": "vlan.200"}, "show arp no-resolve interface vlan.200"),
        ({"interface": "irb.200", "xml": True}, "show arp no-resolve interface irb.200 | display xml"),
        ({"interface": "ge-0/0/3.0"}, "show arp no-resolve interface ge-0/0/3.0"),
    ],
)
def test_arp_table_command(kwargs: dict[str, object], want: str) -> None:
    assert c.arp_table(**kwargs) == want  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    ["ge-0/0/1 | display xml", "ge-0/0/1; request system reboot", "ge-0/0/1\nrequest system reboot",
     "ge-0/0/1.0.0", "eth0", "", " ge-0/0/1", "ge-0/0/1.", "vlan.200"],
)
def test_mac_table_refuses_unchecked_interface(bad: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        c.mac_table(interface=bad)


@pytest.mark.parametrize("bad", ["SRIOV 200", "200", "SRIOV_200|count", "SRIOV_200\n", "-x", "a" * 64])
def test_mac_table_refuses_unchecked_vlan(bad: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        c.mac_table(vlan=bad)


@pytest.mark.parametrize("bad", ["vlan.200 | match x", "irb", "vlan.abc", "lo0.0 extra", "irb.200\r"])
def test_arp_table_refuses_unchecked_interface(bad: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        c.arp_table(interface=bad)


def test_fixed_commands() -> None:
    assert c.SHOW_VERSION == "show version"
    assert c.version(xml=True) == "show version | display xml"
    assert c.SHOW_VLANS == "show vlans"
    assert c.SHOW_INTERFACES_TERSE == "show interfaces terse"
    assert c.SHOW_ETHERNET_SWITCHING_INTERFACES == "show ethernet-switching interfaces"
    assert c.SHOW_LLDP_NEIGHBORS == "show lldp neighbors"


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("show ethernet-switching table | display xml", "show_ethernet-switching_table.xml"),
        ("show ethernet-switching table", "show_ethernet-switching_table.txt"),
        ("show arp no-resolve | display xml", "show_arp_no-resolve.xml"),
        ("show arp no-resolve", "show_arp_no-resolve.txt"),
        ("show version", "show_version.txt"),
        ("show  version | no-more", "show_version.txt"),
        ("show ethernet-switching table interface ge-0/0/1.0 | display xml",
         "show_ethernet-switching_table_interface_ge-0_0_1.0.xml"),
        ("show ethernet-switching table vlan SRIOV_200", "show_ethernet-switching_table_vlan_SRIOV_200.txt"),
    ],
)
def test_saved_output_name(command: str, name: str) -> None:
    assert c.saved_output_name(command) == name


@pytest.mark.parametrize(
    "command", ["show arp no-resolve | match 201", "show version\nshow arp", "../../etc/passwd", "| display xml",
                "show `x`"],
)
def test_saved_output_name_refuses(command: str) -> None:
    with pytest.raises(ValueError):
        c.saved_output_name(command)


def test_saved_output_files_cover_the_commands_sriovcheck_runs() -> None:
    files = c.SAVED_OUTPUT_FILES
    assert files[c.mac_table(xml=True)] == "show_ethernet-switching_table.xml"
    assert files[c.mac_table()] == "show_ethernet-switching_table.txt"
    assert files[c.arp_table(xml=True)] == "show_arp_no-resolve.xml"
    assert files[c.arp_table()] == "show_arp_no-resolve.txt"
    assert files[c.SHOW_VERSION] == "show_version.txt"
    assert len(set(files.values())) == len(files)  # no two commands share a file
    assert all("/" not in name and " " not in name for name in files.values())
