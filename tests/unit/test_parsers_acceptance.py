"""Parsers for the acceptance checks' switch data: `show ethernet-switching interfaces`, `show lldp
neighbors`, `show interfaces PORT`; hand-written samples in the layouts real switches print (text of
both styles and | display xml), and the emulator's own output read back."""

from __future__ import annotations

import pytest

from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.view import InterfaceView, LldpView, SwitchSnapshot, VlanView
from sriovcheck.parsers.junos import (
    InterfaceInfo,
    LldpNeighbor,
    ParseError,
    PortVlan,
    parse_interface,
    parse_interfaces,
    parse_lldp_neighbors,
    parse_switching_interfaces,
)

# ---------------------------------------------------------------- show ethernet-switching interfaces

NON_ELS = """\
{master:0}
netops@ex4200> show ethernet-switching interfaces
Interface    State  VLAN members        Tag   Tagging  Blocking

ae0.0        up     default                   untagged unblocked
ge-0/0/1.0   up     SRIOV_200           200   tagged   unblocked
                    SRIOV_201           201   tagged   unblocked
ge-0/0/4.0   up     lab                 310   untagged blocked by STP
ge-0/0/6.0   down   default                            MAC limit exceeded
ge-0/0/9.0   down   SRIOV_200           200   tagged   Disabled by bpdu-control

{master:0}
netops@ex4200>
"""


def test_non_els_rows_carry_port_state_tag_tagging_and_blocking() -> None:
    rows = parse_switching_interfaces(NON_ELS)
    assert rows == [
        PortVlan("ae0.0", True, "default", None, "untagged", blocking="unblocked"),
        PortVlan("ge-0/0/1.0", True, "SRIOV_200", 200, "tagged", blocking="unblocked"),
        PortVlan("ge-0/0/1.0", True, "SRIOV_201", 201, "tagged", blocking="unblocked"),
        PortVlan("ge-0/0/4.0", True, "lab", 310, "untagged", blocking="blocked by STP"),
        PortVlan("ge-0/0/6.0", False, "default", None, None, blocking="MAC limit exceeded"),
        PortVlan("ge-0/0/9.0", False, "SRIOV_200", 200, "tagged", blocking="Disabled by bpdu-control"),
    ]
    assert [r.forwarding for r in rows] == [True, True, True, False, False, False]
    assert rows[1].port == "ge-0/0/1"


ELS = """\
Routing Instance Name : default-switch
Logical Interface flags (DL - disable learning, AD - packet action drop,
                         LH - MAC limit hit, DN - interface down,
                         MMAS - Mac-move action shutdown, AS - Autostate-exclude enabled,
                         SCTL - shutdown by Storm-control, MI - MAC+IP limit hit)

Logical         Vlan          TAG     MAC         MAC+IP      STP         Logical           Tagging
interface       members               limit       limit       state       interface flags
ge-0/0/1.0                            294912      0                                         tagged
                SRIOV_200     200     294912      0           Forwarding                    tagged
                SRIOV_201     201     294912      0           Forwarding                    tagged
ge-0/0/2.0                            294912      0                       DN                untagged
                default       1       294912      0           Discarding                    untagged
Routing Instance Name : default-switch
xe-0/0/3.0                            65536       0                                         tagged
                VERY_LONG_VLAN_NAME_X 300 1000001 0           Forwarding  DL                tagged
"""

# Older ELS releases have no MAC+IP column and no legend line for MI.
ELS_OLD = """\
Routing Instance Name : default-switch
Logical Interface flags (DL - disable learning, AD - packet action drop,
                         LH - MAC limit hit, DN - interface down )

Logical         Vlan          TAG     MAC         STP         Logical           Tagging
interface       members               limit       state       interface flags
ge-0/0/10.0                           8192                                      untagged
                v100          100     1024        Forwarding                    untagged
"""


def test_els_rows_carry_tag_stp_state_flags_and_the_ports_down_flag() -> None:
    rows = parse_switching_interfaces(ELS)
    assert [(r.interface, r.vlan_name, r.vlan_id, r.tagging, r.stp_state, r.port_up) for r in rows] == [
        ("ge-0/0/1.0", "SRIOV_200", 200, "tagged", "Forwarding", True),
        ("ge-0/0/1.0", "SRIOV_201", 201, "tagged", "Forwarding", True),
        ("ge-0/0/2.0", "default", 1, "untagged", "Discarding", False),
        ("xe-0/0/3.0", "VERY_LONG_VLAN_NAME_X", 300, "tagged", "Forwarding", True),
    ]
    assert [r.flags for r in rows] == [(), (), ("DN",), ("DL",)]
    assert [r.forwarding for r in rows] == [True, True, False, True]
    assert all(r.blocking is None for r in rows)
    old = parse_switching_interfaces(ELS_OLD)
    assert old == [PortVlan("ge-0/0/10.0", True, "v100", 100, "untagged", stp_state="Forwarding")]


NON_ELS_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/12.3R12/junos">
    <switching-interface-information xmlns="http://xml.juniper.net/junos/12.3R12/junos-esw" junos:style="brief">
        <interface junos:style="brief">
            <interface-name>ge-0/0/1.0</interface-name>
            <interface-state>up</interface-state>
            <interface-vlan-member-list>
                <interface-vlan-member>
                    <interface-vlan-name>SRIOV_200</interface-vlan-name>
                    <interface-vlan-member-tagid>200</interface-vlan-member-tagid>
                    <interface-vlan-member-tagness>tagged</interface-vlan-member-tagness>
                    <blocking-status junos:emit="emit">unblocked</blocking-status>
                </interface-vlan-member>
            </interface-vlan-member-list>
        </interface>
        <interface junos:style="brief">
            <interface-name>ge-0/0/2.0</interface-name>
            <interface-state>down</interface-state>
            <interface-vlan-member-list>
                <interface-vlan-member>
                    <interface-vlan-name>default</interface-vlan-name>
                    <interface-vlan-member-tagness>untagged</interface-vlan-member-tagness>
                    <blocking-status>blocked by STP</blocking-status>
                </interface-vlan-member>
            </interface-vlan-member-list>
        </interface>
    </switching-interface-information>
    <cli>
        <banner>{master:0}</banner>
    </cli>
</rpc-reply>
"""

# ELS nests one entry per routing instance around an entry naming the interface, then one per VLAN.
ELS_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/18.4R2/junos">
    <l2ng-l2ald-iff-interface-information xmlns="http://xml.juniper.net/junos/18.4R2/junos-l2al">
        <l2ng-l2ald-iff-interface-entry junos:style="brief">
            <l2iff-interface-lr-name></l2iff-interface-lr-name>
            <l2iff-interface-rtt-name>default-switch</l2iff-interface-rtt-name>
            <l2ng-l2ald-iff-interface-entry junos:style="brief">
                <l2iff-interface-name>ge-0/0/1.0</l2iff-interface-name>
                <l2iff-interface-vlan-name/>
                <l2iff-interface-mac-limit>294912</l2iff-interface-mac-limit>
                <l2iff-interface-vlan-member-stp-state/>
                <l2iff-interface-flags>DN</l2iff-interface-flags>
                <l2iff-interface-vlan-member-tagness>tagged</l2iff-interface-vlan-member-tagness>
            </l2ng-l2ald-iff-interface-entry>
            <l2ng-l2ald-iff-interface-entry junos:style="brief">
                <l2iff-interface-name/>
                <l2iff-interface-vlan-name>SRIOV_201</l2iff-interface-vlan-name>
                <l2iff-interface-vlan-id>201</l2iff-interface-vlan-id>
                <l2iff-interface-vlan-member-tagness>tagged</l2iff-interface-vlan-member-tagness>
                <l2iff-interface-mac-limit>294912</l2iff-interface-mac-limit>
                <l2iff-interface-vlan-member-stp-state>Discarding</l2iff-interface-vlan-member-stp-state>
                <l2iff-interface-flags></l2iff-interface-flags>
            </l2ng-l2ald-iff-interface-entry>
        </l2ng-l2ald-iff-interface-entry>
    </l2ng-l2ald-iff-interface-information>
</rpc-reply>
"""


def test_switching_interfaces_xml_of_both_styles() -> None:
    assert parse_switching_interfaces(NON_ELS_XML) == [
        PortVlan("ge-0/0/1.0", True, "SRIOV_200", 200, "tagged", blocking="unblocked"),
        PortVlan("ge-0/0/2.0", False, "default", None, "untagged", blocking="blocked by STP"),
    ]
    assert parse_switching_interfaces(ELS_XML) == [
        PortVlan("ge-0/0/1.0", False, "SRIOV_201", 201, "tagged", stp_state="Discarding", flags=("DN",)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("error: device ge-0/0/99 not found\n", "answered with an error"),
        ("ge-0/0/1.0   up     SRIOV_200   200   tagged   unblocked\n", "no table header"),
        ("Interface    State  VLAN members        Tag   Tagging  Blocking\nge-0/0/1.0   sideways  x\n",
         "cannot read the line"),
        ("<rpc-reply><arp-table-information/></rpc-reply>", "no <switching-interface-information>"),
        ("<rpc-reply><switching-interface-information>", "malformed or truncated"),
    ],
)
def test_switching_interfaces_refuses_what_it_cannot_read(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_switching_interfaces(text)


def test_an_empty_switching_table_is_empty() -> None:
    assert parse_switching_interfaces("") == []
    assert parse_switching_interfaces("Interface    State  VLAN members        Tag   Tagging  Blocking\n") == []


# ---------------------------------------------------------------- show lldp neighbors

LLDP = """\
{master:0}
netops@ex-switch> show lldp neighbors
Local Interface    Parent Interface    Chassis Id          Port info          System Name
ge-0/0/1           -                   0C:42:A1:5E:00:10   eno2               worker2
xe-0/1/1           ae7                 00:1c:73:ee:c0:46   Ethernet3/29/1     core01.example.net
ge-0/0/5           -                   0c:42:a1:5e:00:20   Port 1             host with spaces
ge-0/0/6           -                   192.0.2.7           averyveryveryverylongportname lab-host
"""

LLDP_OLD = """\
Local Interface    Chassis Id          Port info          System Name
ge-0/0/1.0         02:00:00:00:00:01   ens1f0             worker3
"""

LLDP_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/18.4R2/junos">
    <lldp-neighbors-information junos:style="brief">
        <lldp-neighbor-information>
            <lldp-local-port-id>ge-0/0/1</lldp-local-port-id>
            <lldp-local-parent-interface-name>-</lldp-local-parent-interface-name>
            <lldp-remote-chassis-id-subtype>Mac address</lldp-remote-chassis-id-subtype>
            <lldp-remote-chassis-id>0c:42:a1:5e:00:10</lldp-remote-chassis-id>
            <lldp-remote-port-id-subtype>Mac address</lldp-remote-port-id-subtype>
            <lldp-remote-port-id>0c:42:a1:5e:00:10</lldp-remote-port-id>
            <lldp-remote-port-description>eno2</lldp-remote-port-description>
            <lldp-remote-system-name>worker2</lldp-remote-system-name>
        </lldp-neighbor-information>
        <lldp-neighbor-information>
            <lldp-local-interface>ge-0/0/2.0</lldp-local-interface>
            <lldp-remote-chassis-id>02:00:00:00:00:02</lldp-remote-chassis-id>
            <lldp-remote-port-id>ens2</lldp-remote-port-id>
            <lldp-remote-system-name>worker4</lldp-remote-system-name>
        </lldp-neighbor-information>
    </lldp-neighbors-information>
</rpc-reply>
"""


def test_lldp_text_rows_with_lags_spaces_and_overlong_values() -> None:
    assert parse_lldp_neighbors(LLDP) == [
        LldpNeighbor("ge-0/0/1", "0c:42:a1:5e:00:10", "eno2", "worker2"),
        LldpNeighbor("xe-0/1/1", "00:1c:73:ee:c0:46", "Ethernet3/29/1", "core01.example.net", "ae7"),
        LldpNeighbor("ge-0/0/5", "0c:42:a1:5e:00:20", "Port 1", "host with spaces"),
        LldpNeighbor("ge-0/0/6", "192.0.2.7", "averyveryveryverylongportname", "lab-host"),
    ]


def test_lldp_without_the_parent_column_and_with_a_unit_as_local_interface() -> None:
    (n,) = parse_lldp_neighbors(LLDP_OLD)
    assert (n.local_interface, n.port, n.parent_interface, n.chassis_id, n.port_info, n.system_name) == (
        "ge-0/0/1.0", "ge-0/0/1", None, "02:00:00:00:00:01", "ens1f0", "worker3")


def test_lldp_xml_reads_both_local_interface_element_names() -> None:
    assert parse_lldp_neighbors(LLDP_XML) == [
        LldpNeighbor("ge-0/0/1", "0c:42:a1:5e:00:10", "eno2", "worker2", None, "0c:42:a1:5e:00:10"),
        LldpNeighbor("ge-0/0/2.0", "02:00:00:00:00:02", "ens2", "worker4", None, "ens2"),  # no description: the id
    ]


def test_no_lldp_neighbour_is_an_empty_list_and_garbage_is_refused() -> None:
    assert parse_lldp_neighbors("") == []
    assert parse_lldp_neighbors("\n{master:0}\nnetops@sw>\n") == []
    with pytest.raises(ParseError, match="no table header"):
        parse_lldp_neighbors("ge-0/0/1  -  0c:42:a1:5e:00:10  eno2  worker2\n")
    with pytest.raises(ParseError, match="answered with an error"):
        parse_lldp_neighbors("error: syntax error, expecting <command>: neighbours\n")
    with pytest.raises(ParseError, match="no <lldp-neighbors-information>"):
        parse_lldp_neighbors("<rpc-reply><vlan-information/></rpc-reply>")


# ---------------------------------------------------------------- show interfaces PORT

SHOW_INTERFACE = """\
Physical interface: ge-0/0/1, Enabled, Physical link is Up
  Interface index: 129, SNMP ifIndex: 502
  Description: worker2 eno2
  Link-level type: Ethernet, MTU: 9216, Speed: 1000mbps, BPDU Error: None, MAC-REWRITE Error: None,
  Loopback: Disabled, Source filtering: Disabled, Flow control: Enabled, Auto-negotiation: Enabled,
  Remote fault: Online
  Device flags   : Present Running
  Interface flags: SNMP-Traps Internal: 0x0
  Link flags     : None
  CoS queues     : 8 supported, 8 maximum usable queues
  Current address: 00:1F:12:34:56:79, Hardware address: 00:1f:12:34:56:79
  Last flapped   : 2024-03-01 10:00:00 UTC (1w0d 00:00 ago)
  Input rate     : 1024 bps (1 pps)
  Output rate    : 2048 bps (2 pps)

  Logical interface ge-0/0/1.0 (Index 69) (SNMP ifIndex 530)
    Flags: Up SNMP-Traps 0x0 Encapsulation: ENET2
    Input packets : 12
    Output packets: 34
    Protocol eth-switch, MTU: 9216
      Flags: Trunk-Mode
"""

DOWN_INTERFACE = """\
Physical interface: ge-0/0/7, Administratively down, Physical link is Down
  Interface index: 135, SNMP ifIndex: 508
  Link-level type: Ethernet, MTU: 1514, Speed: Auto, Duplex: Auto
  Current address: 00:1f:12:34:56:7f, Hardware address: 00:1f:12:34:56:7f
"""

INTERFACE_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/18.4R2/junos">
    <interface-information xmlns="http://xml.juniper.net/junos/18.4R2/junos-interface" junos:style="normal">
        <physical-interface>
            <name>ge-0/0/1</name>
            <admin-status junos:format="Enabled">up</admin-status>
            <oper-status>down</oper-status>
            <mtu>1514</mtu>
            <current-physical-address junos:format="MAC 00:1f:12:34:56:79">00:1f:12:34:56:79</current-physical-address>
            <logical-interface><name>ge-0/0/1.0</name></logical-interface>
        </physical-interface>
    </interface-information>
</rpc-reply>
"""


def test_show_interface_reads_the_physical_block_not_a_units_mtu() -> None:
    assert parse_interface(SHOW_INTERFACE) == InterfaceInfo("ge-0/0/1", True, True, 9216, "00:1f:12:34:56:79")
    assert parse_interface(DOWN_INTERFACE) == InterfaceInfo("ge-0/0/7", False, False, 1514, "00:1f:12:34:56:7f")
    assert parse_interface(INTERFACE_XML) == InterfaceInfo("ge-0/0/1", True, False, 1514, "00:1f:12:34:56:79")


def test_show_interfaces_of_several_ports_needs_a_name() -> None:
    both = SHOW_INTERFACE + "\n" + DOWN_INTERFACE
    assert [i.name for i in parse_interfaces(both)] == ["ge-0/0/1", "ge-0/0/7"]
    assert parse_interface(both, name="ge-0/0/7.0").mtu == 1514
    with pytest.raises(ParseError, match="found 2"):
        parse_interface(both)
    with pytest.raises(ParseError, match="no physical interface ge-0/0/3"):
        parse_interface(both, name="ge-0/0/3")
    with pytest.raises(ParseError, match="answered with an error"):
        parse_interface("error: device ge-0/0/99 not found\n")
    with pytest.raises(ParseError, match="found no"):
        parse_interface("Interface               Admin Link Proto    Local                 Remote\n")


def test_unlimited_mtu_is_none() -> None:
    text = "Physical interface: gr-0/0/0, Enabled, Physical link is Up\n  Type: GRE, Link-level type: GRE, MTU: Unlimited\n"
    assert parse_interface(text).mtu is None


# ---------------------------------------------------------------- the emulator's output read back


def _snapshot(style: str, *, port_up: bool = True, removed_201: bool = False) -> SwitchSnapshot:
    l3 = "irb" if style == "els" else "vlan"
    return SwitchSnapshot(
        hostname="ex-switch", style="els" if style == "els" else "non-els", model="ex", junos_version="18.4R2.7",
        router_mac="02:00:00:00:00:fe",
        vlans=(VlanView("SRIOV_200", 200, f"{l3}.200", "192.168.200.1/24", ("ge-0/0/1",)),
               VlanView("SRIOV_201", 201, f"{l3}.201", "192.168.201.1/24", () if removed_201 else ("ge-0/0/1",))),
        macs=(), arps=(),
        interfaces=(InterfaceView("ge-0/0/1", True, port_up, mtu=1414, mac="02:00:00:00:00:01"),),
        lldp=(LldpView("ge-0/0/1", "0c:42:a1:5e:00:10", "0c:42:a1:5e:00:10", "eno2", "worker2"),),
    )


@pytest.mark.parametrize("style", ["non-els", "els"])
def test_emulator_output_reads_back(style: str) -> None:
    snap = _snapshot(style)
    for text in (render.render_switching_interfaces(snap), render.render_switching_interfaces_xml(snap)):
        rows = parse_switching_interfaces(text)
        assert [(r.interface, r.vlan_name, r.vlan_id, r.tagging, r.port_up, r.forwarding) for r in rows] == [
            ("ge-0/0/1.0", "SRIOV_200", 200, "tagged", True, True),
            ("ge-0/0/1.0", "SRIOV_201", 201, "tagged", True, True),
        ]
    down = _snapshot(style, port_up=False, removed_201=True)
    for text in (render.render_switching_interfaces(down), render.render_switching_interfaces_xml(down)):
        rows = parse_switching_interfaces(text)
        assert [(r.vlan_name, r.port_up, r.forwarding) for r in rows] == [("SRIOV_200", False, False)]
        # Non-ELS still says "unblocked" for a port that is down; ELS puts its VLANs in Discarding.
        assert [(r.blocking, r.stp_state) for r in rows] == (
            [("unblocked", None)] if style == "non-els" else [(None, "Discarding")])
    for text in (render.render_lldp_neighbors(snap), render.render_lldp_neighbors_xml(snap)):
        (n,) = parse_lldp_neighbors(text)
        assert (n.port, n.chassis_id, n.port_info, n.system_name) == ("ge-0/0/1", "0c:42:a1:5e:00:10", "eno2", "worker2")
    for text in (render.render_interface_detail(snap, name="ge-0/0/1"),
                 render.render_interface_detail_xml(snap, name="ge-0/0/1")):
        assert parse_interface(text) == InterfaceInfo("ge-0/0/1", True, True, 1414, "02:00:00:00:00:01")
