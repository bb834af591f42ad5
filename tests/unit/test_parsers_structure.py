"""The MAC/ARP parsers read structure, not a list of known document shapes: header columns (whatever
a release adds), legends of any length, routing instances, Virtual Chassis member blocks, scoped
replies (`interface X`, `vlan-name V`, `vlan-id N`, `| display xml` of each, ARP per interface), and
XML entries wherever the reply puts them. What is not a table fails with a ParseError naming the line.

Layouts are those of the real outputs in tests/data/junos-real (see its SOURCES.md); the emulator's
own scoped replies are read back too, since verify asks the switch for exactly these.
"""

from __future__ import annotations

import pytest

from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.view import ArpView, InterfaceView, MacView, SwitchSnapshot, VlanView
from sriovcheck.parsers.junos import MacEntry, ParseError, parse_arp_table, parse_mac_table

# ---------------------------------------------------------------- columns from the header

# Junos 21+ EX4400/QFX5120: Age and GBP Tag, the GBP cell blank on every row, and a control MAC
# whose logical interface is blank too (only its position says 59147 is the NH index).
GBP = """\
{master:0}
netops@ex4400> show ethernet-switching table interface ge-0/0/1

MAC database for interface ge-0/0/1

MAC flags (S - static MAC, D - dynamic MAC, L - locally learned, P - Persistent static, C - Control MAC
           SE - statistics enabled, NM - non configured MAC, R - remote PE MAC, O - ovsdb MAC
           GBP - group based policy, B - Blocked MAC)


Ethernet switching table : 3 entries, 3 learned
Routing instance : default-switch
    Vlan                MAC                 MAC         Age   GBP     Logical                NH        RTR
    name                address             flags             Tag     interface              Index     ID
    SRIOV_200           02:00:00:00:02:01   D             -            ge-0/0/1.0             0         0
    SRIOV_201           02:00:00:00:02:02   DL          4:05   17      ge-0/0/1.0             0         0
    SRIOV_201           00:1f:19:00:00:01   DC            -                                   59147     59147

{master:0}
"""


def test_gbp_tag_table_with_blank_cells_is_read_by_column() -> None:
    got = parse_mac_table(GBP)
    assert got == [
        MacEntry("SRIOV_200", None, "02:00:00:00:02:01", "learned", "D", None, "ge-0/0/1.0", "default-switch"),
        MacEntry("SRIOV_201", None, "02:00:00:00:02:02", "learned", "DL", 245, "ge-0/0/1.0", "default-switch"),
        MacEntry("SRIOV_201", None, "00:1f:19:00:00:01", "learned", "DC", None, "", "default-switch"),
    ]


def test_a_vlan_name_longer_than_its_column_pushes_the_row_right() -> None:
    header = GBP[GBP.index("    Vlan "):GBP.index("    SRIOV_200")]
    rows = ("    A_VERY_LONG_VLAN_NAME_OF_30C 02:00:00:00:02:01   D           300           ge-0/0/1.0             0         0\n"
            "    A_VERY_LONG_VLAN_NAME_OF_30C 02:00:00:00:02:03   D             -   21       ge-0/0/2.0             0         0\n")
    assert [(e.vlan_name, e.age_s, e.interface) for e in parse_mac_table(header + rows)] == [
        ("A_VERY_LONG_VLAN_NAME_OF_30C", 300, "ge-0/0/1.0"), ("A_VERY_LONG_VLAN_NAME_OF_30C", None, "ge-0/0/2.0")]


def test_a_column_a_future_release_adds_is_skipped_by_its_header() -> None:
    text = """\
    Vlan                MAC                 MAC         Age   Foo     GBP     Logical                NH        RTR
    name                address             flags             bar     Tag     interface              Index     ID
    v100                02:00:00:00:00:01   D             -   xyz             ge-0/0/3.0             0         0
    v100                02:00:00:00:00:02   S             -                   ae1.0                  0         0
"""
    assert [(e.mac, e.kind, e.interface) for e in parse_mac_table(text)] == [
        ("02:00:00:00:00:01", "learned", "ge-0/0/3.0"),
        ("02:00:00:00:00:02", "static", "ae1.0"),
    ]


def test_evpn_table_without_age_reads_interface_and_not_the_active_source() -> None:
    text = """\
   Vlan                MAC                 MAC       GBP    Logical                SVLBNH/      Active
   name                address             flags     tag    interface              VENH Index   source
   VLAN_240            00:00:5e:00:01:01   DRP              esi.764                             05:00:00:fe:4c:00:00:14:78:00
   VLAN_240            2c:6b:f5:65:cc:c0   DL               ae0.0
"""
    assert [(e.interface, e.kind, e.age_s) for e in parse_mac_table(text)] == [
        ("esi.764", "static", None), ("ae0.0", "learned", None)]


# ---------------------------------------------------------------- legends, instances, VC members


def test_legend_of_any_length_but_not_a_swallowed_table() -> None:
    legend = "MAC flags (S - static MAC, D - dynamic MAC,\n" + "".join(
        f"           X{i} - flag number {i},\n" for i in range(8)) + "           B - Blocked MAC)\n"
    rows = GBP[GBP.index("Ethernet switching table"):]
    assert len(parse_mac_table(legend + rows)) == 3
    # A legend that never closes ends at the first line that is not a legend line.
    with pytest.raises(ParseError, match="cannot read the line 'this is not a table'"):
        parse_mac_table("MAC flags (S - static MAC, D - dynamic MAC\nthis is not a table\n")


def test_routing_instances_and_virtual_chassis_members() -> None:
    text = """\
fpc0:
--------------------------------------------------------------------------
Ethernet switching table : 1 entries, 1 learned
Routing instance : default-switch
    Vlan                MAC                 MAC         Age    Logical                NH        RTR
    name                address             flags              interface              Index     ID
    SRIOV_200           02:00:00:00:02:01   D             -   ge-0/0/1.0             0         0

fpc1:
--------------------------------------------------------------------------
Ethernet switching table : 1 entries, 1 learned
Routing instance : TENANT-A
    Vlan                MAC                 MAC         Age    Logical                NH        RTR
    name                address             flags              interface              Index     ID
    SRIOV_200           02:00:00:00:02:02   D             -   ge-1/0/1.0             0         0

{master:0}
"""
    assert [(e.routing_instance, e.vlan_name, e.interface) for e in parse_mac_table(text)] == [
        ("default-switch", "SRIOV_200", "ge-0/0/1.0"), ("TENANT-A", "SRIOV_200", "ge-1/0/1.0")]


# ---------------------------------------------------------------- XML: entries wherever they are

INTERFACE_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/22.4R3/junos">
    <l2ng-l2ald-interface-macdb-vlan>
        <l2ng-l2ald-macdb-if-name>ge-0/0/1</l2ng-l2ald-macdb-if-name>
        <l2ng-l2ald-macdb-if-name>ge-0/0/1.0</l2ng-l2ald-macdb-if-name>
        <l2ng-l2ald-mac-entry-vlan junos:style="brief-rtb">
            <l2ng-l2-mac-routing-instance>default-switch</l2ng-l2-mac-routing-instance>
            <l2ng-l2-vlan-id>200</l2ng-l2-vlan-id>
            <l2ng-mac-entry>
                <l2ng-l2-mac-vlan-name>SRIOV_200</l2ng-l2-mac-vlan-name>
                <l2ng-l2-mac-address>02:00:00:00:02:01</l2ng-l2-mac-address>
                <l2ng-l2-mac-flags>D</l2ng-l2-mac-flags>
                <l2ng-l2-mac-age>-</l2ng-l2-mac-age>
                <l2ng-l2-mac-logical-interface>ge-0/0/1.0</l2ng-l2-mac-logical-interface>
            </l2ng-mac-entry>
        </l2ng-l2ald-mac-entry-vlan>
        <l2ng-l2ald-mac-entry-vlan junos:style="brief-rtb">
            <l2ng-l2-mac-routing-instance>default-switch</l2ng-l2-mac-routing-instance>
            <l2ng-l2-vlan-id>201</l2ng-l2-vlan-id>
            <l2ng-mac-entry>
                <l2ng-l2-mac-vlan-name>SRIOV_201</l2ng-l2-mac-vlan-name>
                <l2ng-l2-mac-address>02:00:00:00:02:02</l2ng-l2-mac-address>
                <l2ng-l2-mac-flags>S</l2ng-l2-mac-flags>
                <l2ng-l2-mac-age>-</l2ng-l2-mac-age>
                <l2ng-l2-mac-logical-interface>ge-0/0/1.0</l2ng-l2-mac-logical-interface>
            </l2ng-mac-entry>
        </l2ng-l2ald-mac-entry-vlan>
    </l2ng-l2ald-interface-macdb-vlan>
    <cli>
        <banner>{master:0}</banner>
    </cli>
</rpc-reply>
"""


def test_interface_scoped_xml_reads_the_per_interface_mac_database() -> None:
    assert parse_mac_table(INTERFACE_XML) == [
        MacEntry("SRIOV_200", 200, "02:00:00:00:02:01", "learned", "D", None, "ge-0/0/1.0", "default-switch"),
        MacEntry("SRIOV_201", 201, "02:00:00:00:02:02", "static", "S", None, "ge-0/0/1.0", "default-switch"),
    ]


def test_entries_are_found_by_their_own_names_under_any_container() -> None:
    wrapped = INTERFACE_XML.replace("l2ng-l2ald-interface-macdb-vlan", "l2ng-l2ald-some-future-macdb")
    assert len(parse_mac_table(wrapped)) == 2
    deeper = INTERFACE_XML.replace(
        "<l2ng-l2ald-interface-macdb-vlan>", "<outer><l2ng-l2ald-interface-macdb-vlan>").replace(
        "</l2ng-l2ald-interface-macdb-vlan>", "</l2ng-l2ald-interface-macdb-vlan></outer>")
    assert len(parse_mac_table(deeper)) == 2
    # an empty MAC database (a port with no MAC) is an empty table, not an error
    assert parse_mac_table("<rpc-reply><l2ng-l2ald-interface-macdb-vlan/></rpc-reply>") == []


# ---------------------------------------------------------------- the emulator's scoped replies


def _snapshot(style: str) -> SwitchSnapshot:
    l3 = "irb" if style == "els" else "vlan"
    vlans = (VlanView("SRIOV_200", 200, f"{l3}.200", "192.168.200.1/24", ("ge-0/0/1", "ge-0/0/2")),
             VlanView("SRIOV_201", 201, f"{l3}.201", "192.168.201.1/24", ("ge-0/0/1",)))
    macs = (MacView("SRIOV_200", 200, "02:00:00:00:02:01", "learned", 30, "ge-0/0/1.0"),
            MacView("SRIOV_200", 200, "02:00:00:00:02:09", "learned", 10, "ge-0/0/2.0"),
            MacView("SRIOV_201", 201, "02:00:00:00:02:02", "learned", 12, "ge-0/0/1.0"))
    arps = (ArpView("02:00:00:00:02:01", "192.168.200.2", f"{l3}.200"),
            ArpView("02:00:00:00:02:09", "192.168.200.9", f"{l3}.200"),
            ArpView("02:00:00:00:02:02", "192.168.201.2", f"{l3}.201"))
    return SwitchSnapshot(hostname="ex-switch", style=style,  # type: ignore[arg-type]
                          model="ex", junos_version="18.4R2.7", router_mac="02:00:00:00:00:fe",
                          vlans=vlans, macs=macs, arps=arps,
                          interfaces=(InterfaceView("ge-0/0/1", True, True), InterfaceView("ge-0/0/2", True, True)))


@pytest.mark.parametrize("style", ["non-els", "els"])
@pytest.mark.parametrize("xml", [False, True], ids=["text", "xml"])
def test_emulator_scoped_replies_read_back(style: str, xml: bool) -> None:
    snap = _snapshot(style)
    mac = render.render_mac_table_xml if xml else render.render_mac_table
    arp = render.render_arp_xml if xml else render.render_arp

    def learned(text: str) -> list[tuple[str, str, str]]:
        return [(e.vlan_name, e.mac or "", e.interface) for e in parse_mac_table(text) if e.kind == "learned"]

    assert learned(mac(snap, interface="ge-0/0/1")) == [
        ("SRIOV_200", "02:00:00:00:02:01", "ge-0/0/1.0"), ("SRIOV_201", "02:00:00:00:02:02", "ge-0/0/1.0")]
    assert learned(mac(snap, vlan="SRIOV_201")) == [("SRIOV_201", "02:00:00:00:02:02", "ge-0/0/1.0")]
    assert learned(mac(snap, vlan="200")) == [
        ("SRIOV_200", "02:00:00:00:02:01", "ge-0/0/1.0"), ("SRIOV_200", "02:00:00:00:02:09", "ge-0/0/2.0")]
    l3 = "irb" if style == "els" else "vlan"
    got = parse_arp_table(arp(snap, interface=f"{l3}.200"))
    assert [(a.ip, a.interface) for a in got] == [("192.168.200.2", f"{l3}.200"), ("192.168.200.9", f"{l3}.200")]
    with pytest.raises(ParseError, match="answered with an error"):
        parse_mac_table(mac(snap, interface="ge-0/0/47"))
    with pytest.raises(ParseError, match="answered with an error"):
        parse_arp_table(arp(snap, interface="ge-0/0/47.0"))


# ---------------------------------------------------------------- what is not a table


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Physical interface: ge-0/0/1, Enabled, Physical link is Up\n",
         "cannot read the line 'Physical interface: ge-0/0/1, Enabled, Physical link is Up'"),
        # the `extensive` text form is not a table: refused, naming its first line
        ("MAC address: 02:00:00:00:02:01\n  Routing instance: default-switch\n",
         "cannot read the line 'MAC address: 02:00:00:00:02:01'"),
        ("    Vlan   MAC   MAC   Age   Logical\n    name   address   flags   interface\n    v100   garbage\n",
         "cannot read the line 'v100   garbage'"),
        ("error: device ge-0/0/47 not found\n", "answered with an error"),
        ("<rpc-reply><lldp-neighbors-information/></rpc-reply>", "no MAC table element"),
    ],
)
def test_what_is_not_a_mac_table_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_mac_table(text)
