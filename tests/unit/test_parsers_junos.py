"""Junos parsers against real recorded outputs (tests/data/junos-samples, sources in SOURCES.md).

Every sample has an expected parse: either the source's own (.expected.json / ntc-templates .yml,
compared through the field mappings documented in each test below), or ours in
tests/data/junos-expected/<sample>.json, written by reading the sample.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriovcheck.parsers.junos import (
    ArpEntry,
    MacEntry,
    ParseError,
    VersionInfo,
    parse_arp_table,
    parse_mac_table,
    parse_version,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLES = DATA / "junos-samples"
EXPECTED = DATA / "junos-expected"
RAW = sorted(SAMPLES.glob("*.raw"))


def read(path: Path) -> str:
    # newline="" keeps CRLF as recorded: the parsers must cope with it themselves.
    with path.open(encoding="utf-8", newline="") as f:
        return f.read()


def parser_for(path: Path) -> Any:
    return parse_arp_table if "__show_arp" in path.name else parse_mac_table


def as_dicts(entries: list[Any]) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        # Fields the platforms other than Junos fill (an ARP entry's age_s and vrf, a MAC entry's flag): Junos leaves them None.
        others = ("age_s", "vrf", "flag") if hasattr(e, "ip") else ("flag",)
        d = {k: v for k, v in dataclasses.asdict(e).items() if not (k in others and v is None)}
        if "flags" in d:
            d["flags"] = list(d["flags"])
        out.append(d)
    return out


def sample(name: str) -> Path:
    return SAMPLES / f"{name}.raw"


def source_expected(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.expected.json").read_text())


# --- every sample ------------------------------------------------------------------------------


def test_every_sample_has_exactly_one_expected_parse() -> None:
    assert len(RAW) >= 20
    for raw in RAW:
        own = (SAMPLES / raw.name.replace(".raw", ".expected.json")).exists()
        ours = (EXPECTED / raw.name.replace(".raw", ".json")).exists()
        assert own != ours, f"{raw.name}: needs exactly one of a source .expected.json or junos-expected/*.json"
    names = {p.stem for p in RAW}
    assert {p.stem for p in EXPECTED.glob("*.json")} <= names


@pytest.mark.parametrize(
    "raw", [p for p in RAW if (EXPECTED / p.name.replace(".raw", ".json")).exists()], ids=lambda p: p.stem
)
def test_sample_parses_to_our_expected(raw: Path) -> None:
    expected = json.loads((EXPECTED / raw.name.replace(".raw", ".json")).read_text())
    got = as_dicts(parser_for(raw)(read(raw)))
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"{raw.name} entry {i}"


# --- the sources' own expected parses -----------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "_display_xml"])
def test_yandex_mac_table_matches_source(suffix: str) -> None:
    # Their fields -> ours: interface = our interface without the ".0" unit; mac = ours (the XML
    # variant without colons); vlan = the number in our VLAN name (VLAN1601 -> "1601").
    name = f"yandex-noc-tests__show_ethernet-switching_table{suffix}__1"
    got = parse_mac_table(read(sample(name)))
    want = source_expected(name)["result"]
    assert len(got) == len(want) == 20
    for g, w in zip(got, want, strict=True):
        assert g.interface.removesuffix(".0") == w["interface"]
        assert (g.mac if suffix == "" else (g.mac or "").replace(":", "")) == w["mac"]
        assert g.vlan_name == "VLAN" + w["vlan"]
        assert g.kind == "learned" and g.raw_kind == "D" and g.age_s is None


def test_yandex_mac_xml_vlan_id_not_taken_from_a_group_holding_several_vlans() -> None:
    # The brief-rtb group carries <l2ng-l2-vlan-id>1601 but holds VLAN1601, VLAN2000 and VLAN802.
    got = parse_mac_table(read(sample("yandex-noc-tests__show_ethernet-switching_table_display_xml__1")))
    assert {e.vlan_id for e in got} == {None}


@pytest.mark.parametrize("n", [1, 2])
def test_napalm_mac_table_matches_source(n: int) -> None:
    # napalm lists only real MACs (no '*' flood row). Its fields -> ours: interface = interface;
    # vlan = vlan_id; mac = mac upper-cased; static = (kind == "static"); active is always true and
    # moves/last_move are always 0 (napalm constants, nothing in the output to compare).
    name = f"napalm__show_ethernet-switching_table_extensive_display_xml__{n}"
    got = [e for e in parse_mac_table(read(sample(name))) if e.mac is not None]
    want = source_expected(name)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.interface == w["interface"]
        assert g.vlan_id == w["vlan"]
        assert (g.mac or "").upper() == w["mac"]
        assert (g.kind == "static") == w["static"]
        assert w["active"] is True and w["moves"] == 0 and w["last_move"] == 0


def test_napalm_non_els_extensive_details() -> None:
    got = parse_mac_table(read(sample("napalm__show_ethernet-switching_table_extensive_display_xml__1")))
    assert got[0] == MacEntry("default", 1, None, "flood", "Flood", None, "All-members")
    assert got[1] == MacEntry("default", 1, "ec:13:db:2d:35:da", "learned", "Learn", 0, "ge-0/0/0.0")
    assert got[2].vlan_name == "vlan9" and got[2].vlan_id == 9


def test_napalm_els_extensive_details() -> None:
    got = parse_mac_table(read(sample("napalm__show_ethernet-switching_table_extensive_display_xml__2")))
    assert got[0] == MacEntry(
        "AP-BRS", 610, "00:0c:e6:18:ea:07", "learned",
        "in_hash,in_ifd,in_ifl,in_vlan,in_rtt,kernel,in_ifbd", None, "ge-0/0/0.0", "default-switch",
    )
    assert got[-1].vlan_name == "MGMT" and got[-1].vlan_id == 999 and got[-1].mac == "e8:b6:c2:81:24:41"


def test_napalm_arp_matches_source() -> None:
    # Their fields -> ours: interface = interface; ip = ip; mac = mac upper-cased; age = expires_s
    # (napalm's "age" is <time-to-expire>, as a float).
    name = "napalm__show_arp_no-resolve_expiration-time_display_xml__1"
    got = parse_arp_table(read(sample(name)))
    want = source_expected(name)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.interface, g.ip, g.mac.upper(), float(g.expires_s or -1)) == (
            w["interface"], w["ip"], w["mac"], w["age"],
        )
    assert [g.flags for g in got] == [("none",), ("none",), ("permanent",)]
    assert [g.hostname for g in got] == ["dummy-host", "test-server", "another-server"]


@pytest.mark.parametrize("suffix", ["", "_display_xml"])
def test_yandex_arp_matches_source(suffix: str) -> None:
    # Their fields -> ours, one to one: interface, ip, mac.
    name = f"yandex-noc-tests__show_arp{suffix}__1"
    got = parse_arp_table(read(sample(name)))
    want = source_expected(name)["result"]
    assert len(got) == len(want) == 23
    for g, w in zip(got, want, strict=True):
        assert (g.interface, g.ip, g.mac) == (w["interface"], w["ip"], w["mac"])
    assert got[2].hostname == "vla1-x7-ae11.yndx.net"
    assert got[6].flags == ("permanent",) and got[0].flags == ("none",)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ntc_mac_table_matches_source(n: int) -> None:
    # ntc-templates fields -> ours: mac_address = mac; logical_interface = interface; mac_flag =
    # raw_kind; age "-" = age_s None; vlan_id / bridge_domain_id are the numbers ntc cut out of the
    # VLAN name ("Vlan100" -> vlan_id 100, "BD-903691" -> bridge_domain_id 903691): compared
    # against our vlan_name. (Text output has no VLAN id, so our vlan_id is None.)
    name = f"ntc-templates__show_ethernet-switching_table__{n}"
    got = parse_mac_table(read(sample(name)))
    want = yaml.safe_load((SAMPLES / f"{name}.yml").read_text())["parsed_sample"]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.mac == w["mac_address"]
        assert g.interface == w["logical_interface"]
        assert g.raw_kind == w["mac_flag"]
        assert w["age"] == "-" and g.age_s is None
        expected_vlan = f"Vlan{w['vlan_id']}" if w["vlan_id"] else f"BD-{w['bridge_domain_id']}"
        assert g.vlan_name == expected_vlan
        assert g.vlan_id is None


def test_ntc_arp_matches_source() -> None:
    # ntc-templates fields -> ours: mac_address = mac; ip_address = ip; interface = interface;
    # flags = our flags joined by a space.
    name = "ntc-templates__show_arp_no-resolve__1"
    got = parse_arp_table(read(sample(name)))
    want = yaml.safe_load((SAMPLES / f"{name}.yml").read_text())["parsed_sample"]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.mac, g.ip, g.interface, " ".join(g.flags)) == (
            w["mac_address"], w["ip_address"], w["interface"], w["flags"],
        )


# --- quirks ------------------------------------------------------------------------------------

NON_ELS = """\
Ethernet-switching table: 3 unicast entries
  VLAN              MAC address       Type         Age Interfaces
  SRIOV_200         *                 Flood          - All-members
  SRIOV_200         02:00:00:00:02:01 Learn       4:05 ge-0/0/1.0
  SRIOV_200         02:00:00:00:00:fe Static         - Router
"""
NON_ELS_WANT = [
    MacEntry("SRIOV_200", None, None, "flood", "Flood", None, "All-members"),
    MacEntry("SRIOV_200", None, "02:00:00:00:02:01", "learned", "Learn", 245, "ge-0/0/1.0"),
    MacEntry("SRIOV_200", None, "02:00:00:00:00:fe", "router", "Static", None, "Router"),
]
ELS = """\

MAC flags (S - static MAC, D - dynamic MAC, L - locally learned, P - Persistent static
           SE - statistics enabled, NM - non configured MAC, R - remote PE MAC, O - ovsdb MAC)


Ethernet switching table : 2 entries, 2 learned
Routing instance : default-switch
    Vlan                MAC                 MAC         Age    Logical                NH        RTR
    name                address             flags              interface              Index     ID
    SRIOV_200           02:00:00:00:02:01   D            54   ge-0/0/1.0             0         0
    SRIOV_200           02:00:00:00:02:02   S             -   ge-0/0/2.0             0         0
"""
ELS_WANT = [
    MacEntry("SRIOV_200", None, "02:00:00:00:02:01", "learned", "D", 54, "ge-0/0/1.0", "default-switch"),
    MacEntry("SRIOV_200", None, "02:00:00:00:02:02", "static", "S", None, "ge-0/0/2.0", "default-switch"),
]
ARP = """\
MAC Address       Address         Interface                Flags
02:00:00:00:02:01 192.168.200.2   vlan.200                 none
02:00:00:00:02:02 192.168.200.3   irb.200 [ge-0/0/1.0]     permanent remote
Total entries: 2
"""
ARP_WANT = [
    ArpEntry("02:00:00:00:02:01", "192.168.200.2", "vlan.200", None, ("none",), None, None),
    ArpEntry("02:00:00:00:02:02", "192.168.200.3", "irb.200", "ge-0/0/1.0", ("permanent", "remote"), None, None),
]


def wrap_variants(text: str, command: str) -> dict[str, str]:
    return {
        "plain": text,
        "crlf": text.replace("\n", "\r\n"),
        "tabs": text.replace("    ", "\t"),
        "markdown-indent": "".join("    " + line for line in text.splitlines(keepends=True)),
        "context-lines": "{master:0}\n" + text + "\n{master:0}\n",
        "context-no-member": text + "\n{master}\n",
        "echo-and-prompt": f"netops@ex-switch> {command}\n{text}\n{{master:0}}\nnetops@ex-switch> ",
        "bare-echo": f"{command}\n{text}",
        "output-element": f"<output>\n{text}</output>\n",
        "rpc-reply-output": f'<rpc-reply xmlns:junos="http://xml.juniper.net/junos/18.4R2/junos"><output>\n'
        f"{text}</output></rpc-reply>",
    }


@pytest.mark.parametrize("variant", list(wrap_variants("", "")))
def test_mac_text_quirks_non_els(variant: str) -> None:
    text = wrap_variants(NON_ELS, "show ethernet-switching table")[variant]
    assert parse_mac_table(text) == NON_ELS_WANT


@pytest.mark.parametrize("variant", list(wrap_variants("", "")))
def test_mac_text_quirks_els(variant: str) -> None:
    text = wrap_variants(ELS, "show ethernet-switching table")[variant]
    assert parse_mac_table(text) == ELS_WANT


@pytest.mark.parametrize("variant", list(wrap_variants("", "")))
def test_arp_text_quirks(variant: str) -> None:
    text = wrap_variants(ARP, "show arp no-resolve")[variant]
    assert parse_arp_table(text) == ARP_WANT


def test_mac_match_excerpt_without_header_both_formats() -> None:
    excerpt = (
        "  SRIOV_200         02:00:00:00:02:01 Learn         54 ge-0/0/1.0\r\n"
        "    SRIOV_201           02:00:00:00:03:01   DL            -   ge-0/0/2.0             0         0\n"
    )
    assert parse_mac_table(excerpt) == [
        MacEntry("SRIOV_200", None, "02:00:00:00:02:01", "learned", "Learn", 54, "ge-0/0/1.0"),
        MacEntry("SRIOV_201", None, "02:00:00:00:03:01", "learned", "DL", None, "ge-0/0/2.0"),
    ]


def test_arp_grep_excerpt_with_and_without_name_column() -> None:
    excerpt = (
        "02:00:00:00:02:01 192.168.200.2   vlan.200             none \n"
        "02:00:00:00:02:02 192.168.200.3   192.168.200.3        irb.200 [ge-0/0/1.0]  none\n"
        "02:00:00:00:02:03 192.168.200.4   host-4.example       irb.200               permanent\n"
    )
    got = parse_arp_table(excerpt)
    assert [(e.hostname, e.interface, e.physical_interface, e.flags) for e in got] == [
        (None, "vlan.200", None, ("none",)),
        ("192.168.200.3", "irb.200", "ge-0/0/1.0", ("none",)),
        ("host-4.example", "irb.200", None, ("permanent",)),
    ]


def test_arp_expiration_time_column() -> None:
    text = (
        "MAC Address       Address         Interface                Flags    TTE\n"
        "02:00:00:00:02:01 192.168.200.2   vlan.200                 none     1157\n"
    )
    assert parse_arp_table(text)[0].expires_s == 1157


def test_mac_ages() -> None:
    rows = [("-", None), ("0", 0), ("54", 54), ("4:05", 245), ("1:02:03", 3723)]
    text = "".join(f"V1 02:00:00:00:00:0{i} Learn {age} ge-0/0/1.0\n" for i, (age, _) in enumerate(rows))
    assert [e.age_s for e in parse_mac_table(text)] == [want for _, want in rows]


def test_mac_kinds_from_junos_meaning() -> None:
    text = (
        "V1 02:00:00:00:00:01 Static - Router - Router\n"
        "V1 02:00:00:00:00:02 Static - ge-0/0/3.0\n"
        "V1 02:00:00:00:00:03 Dynamic 10 ge-0/0/3.0\n"
        "V1 02:00:00:00:00:04 DL - ae0.0\n"
        "V1 02:00:00:00:00:05 SE - ae0.0\n"
        "V1 02:00:00:00:00:06 P - ae0.0\n"
        "V1 02:00:00:00:00:07 C - ae0.0\n"
        "V1 02:00:00:00:00:08 DR esi.1820 00:00:00:00:01:02:00:00:00:01\n"
    )
    got = parse_mac_table(text)
    assert [(e.kind, e.raw_kind, e.interface) for e in got] == [
        ("router", "Static - Router", "Router"),
        ("static", "Static", "ge-0/0/3.0"),
        ("learned", "Dynamic", "ge-0/0/3.0"),
        ("learned", "DL", "ae0.0"),
        ("other", "SE", "ae0.0"),  # SE = statistics enabled, not S (static)
        ("static", "P", "ae0.0"),
        ("control", "C", "ae0.0"),
        ("learned", "DR", "esi.1820"),
    ]


def test_mac_upper_case_is_normalised() -> None:
    assert parse_mac_table("V1 02:AB:00:00:00:01 Learn 0 ge-0/0/1.0")[0].mac == "02:ab:00:00:00:01"


NON_ELS_XML_BRIEF = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/12.3R12/junos">
    <ethernet-switching-table-information xmlns="http://xml.juniper.net/junos/12.3R12/junos-esw" junos:style="brief">
        <ethernet-switching-table junos:style="brief">
            <mac-table-count>3</mac-table-count>
            <mac-table-learned>1</mac-table-learned>
            <mac-table-entry junos:style="brief">
                <mac-vlan>SRIOV_200</mac-vlan>
                <mac-address>*</mac-address>
                <mac-type>Flood</mac-type>
                <mac-age>-</mac-age>
                <mac-interfaces-list><mac-interfaces>All-members</mac-interfaces></mac-interfaces-list>
            </mac-table-entry>
            <mac-table-entry junos:style="brief">
                <mac-vlan>SRIOV_200</mac-vlan>
                <mac-address>02:00:00:00:02:01</mac-address>
                <mac-type>Learn</mac-type>
                <mac-age>4:05</mac-age>
                <mac-interfaces-list><mac-interfaces>ge-0/0/1.0</mac-interfaces></mac-interfaces-list>
            </mac-table-entry>
            <mac-table-entry junos:style="brief">
                <mac-vlan>SRIOV_200</mac-vlan>
                <mac-address>02:00:00:00:00:fe</mac-address>
                <mac-type>Static</mac-type>
                <mac-age>-</mac-age>
                <mac-interfaces-list><mac-interfaces>Router</mac-interfaces></mac-interfaces-list>
            </mac-table-entry>
        </ethernet-switching-table>
    </ethernet-switching-table-information>
    <cli>
        <banner>{master:0}</banner>
    </cli>
</rpc-reply>
"""


def xml_variants(doc: str, command: str) -> dict[str, str]:
    inner_start = doc.index("\n") + 1
    inner_end = doc.rindex("<cli>")
    return {
        "plain": doc,
        "crlf": doc.replace("\n", "\r\n"),
        "echo-prompt-context": f"netops@ex-switch> {command} | display xml\n{doc}\n{{master:0}}\nnetops@ex-switch> ",
        "markdown-indent": "".join("  " + line for line in doc.splitlines(keepends=True)),
        # Cut out of its <rpc-reply>: the junos: prefix is then undeclared.
        "no-wrapper": doc[inner_start:inner_end],
        "no-namespaces": doc.replace(' xmlns="http://xml.juniper.net/junos/12.3R12/junos-esw"', "")
        .replace(' xmlns="http://xml.juniper.net/junos/18.4R2/junos-l2al"', ""),
    }


@pytest.mark.parametrize("variant", list(xml_variants(NON_ELS_XML_BRIEF, "")))
def test_mac_xml_non_els_brief(variant: str) -> None:
    doc = xml_variants(NON_ELS_XML_BRIEF, "show ethernet-switching table")[variant]
    assert parse_mac_table(doc) == NON_ELS_WANT


ELS_XML_BRIEF = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/18.4R2/junos">
    <l2ng-l2ald-rtb-macdb xmlns="http://xml.juniper.net/junos/18.4R2/junos-l2al">
        <l2ng-l2ald-mac-entry-vlan junos:style="brief-rtb">
            <mac-count-global>2</mac-count-global>
            <learnt-mac-count>2</learnt-mac-count>
            <l2ng-l2-mac-routing-instance>default-switch</l2ng-l2-mac-routing-instance>
            <l2ng-l2-vlan-id>200</l2ng-l2-vlan-id>
            <l2ng-mac-entry>
                <l2ng-l2-mac-vlan-name>SRIOV_200</l2ng-l2-mac-vlan-name>
                <l2ng-l2-mac-address>02:00:00:00:02:01</l2ng-l2-mac-address>
                <l2ng-l2-mac-flags>D</l2ng-l2-mac-flags>
                <l2ng-l2-mac-age>54</l2ng-l2-mac-age>
                <l2ng-l2-mac-logical-interface>ge-0/0/1.0</l2ng-l2-mac-logical-interface>
            </l2ng-mac-entry>
            <l2ng-mac-entry>
                <l2ng-l2-mac-vlan-name>SRIOV_200</l2ng-l2-mac-vlan-name>
                <l2ng-l2-mac-address>02:00:00:00:02:02</l2ng-l2-mac-address>
                <l2ng-l2-mac-flags>S</l2ng-l2-mac-flags>
                <l2ng-l2-mac-age>-</l2ng-l2-mac-age>
                <l2ng-l2-mac-logical-interface>ge-0/0/2.0</l2ng-l2-mac-logical-interface>
            </l2ng-mac-entry>
        </l2ng-l2ald-mac-entry-vlan>
    </l2ng-l2ald-rtb-macdb>
    <cli>
        <banner>{master:0}</banner>
    </cli>
</rpc-reply>
"""


@pytest.mark.parametrize("variant", list(xml_variants(ELS_XML_BRIEF, "")))
def test_mac_xml_els_brief(variant: str) -> None:
    doc = xml_variants(ELS_XML_BRIEF, "show ethernet-switching table")[variant]
    # One VLAN in the group: its <l2ng-l2-vlan-id> is that VLAN's id.
    assert parse_mac_table(doc) == [dataclasses.replace(e, vlan_id=200) for e in ELS_WANT]


ARP_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/18.4R2/junos">
    <arp-table-information xmlns="http://xml.juniper.net/junos/18.4R2/junos-arp" junos:style="no-resolve">
        <arp-table-entry>
            <mac-address>02:00:00:00:02:01</mac-address>
            <ip-address>192.168.200.2</ip-address>
            <interface-name>vlan.200</interface-name>
            <arp-table-entry-flags><none/></arp-table-entry-flags>
        </arp-table-entry>
        <arp-table-entry>
            <mac-address>02:00:00:00:02:02</mac-address>
            <ip-address>192.168.200.3</ip-address>
            <interface-name>irb.200 [ge-0/0/1.0]</interface-name>
            <arp-table-entry-flags><permanent/><remote/></arp-table-entry-flags>
        </arp-table-entry>
        <arp-entry-count>2</arp-entry-count>
    </arp-table-information>
    <cli>
        <banner>{master:0}</banner>
    </cli>
</rpc-reply>
"""


@pytest.mark.parametrize("variant", list(xml_variants(ARP_XML, "")))
def test_arp_xml_variants(variant: str) -> None:
    doc = xml_variants(ARP_XML, "show arp no-resolve")[variant]
    doc = doc.replace(' xmlns="http://xml.juniper.net/junos/18.4R2/junos-arp"', "") if variant == "no-namespaces" else doc
    assert parse_arp_table(doc) == ARP_WANT


# --- empty tables and errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\r\n{master:0}\r\n",
        "Ethernet-switching table: 0 unicast entries\n  VLAN  MAC address  Type  Age Interfaces\n",
        "MAC flags (S - static MAC, D - dynamic MAC)\n\nEthernet switching table : 0 entries, 0 learned\n"
        "Routing instance : default-switch\n   Vlan  MAC  MAC  Age  Logical\n   name  address  flags  interface\n",
        "<l2ng-l2ald-rtb-macdb></l2ng-l2ald-rtb-macdb>",
        "<ethernet-switching-table-information><ethernet-switching-table>"
        "<mac-table-count>0</mac-table-count></ethernet-switching-table></ethernet-switching-table-information>",
    ],
    ids=["empty", "context-only", "non-els-header", "els-header", "els-xml", "non-els-xml"],
)
def test_empty_mac_table_is_an_empty_list(text: str) -> None:
    assert parse_mac_table(text) == []


@pytest.mark.parametrize(
    "text",
    ["", "MAC Address       Address         Interface                Flags\nTotal entries: 0\n",
     "<arp-table-information><arp-entry-count>0</arp-entry-count></arp-table-information>"],
)
def test_empty_arp_table_is_an_empty_list(text: str) -> None:
    assert parse_arp_table(text) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hello world\nthis is not a table\n", "cannot read the line 'hello world'"),
        ("\x00\x01\x02garbage\xff", "MAC table"),
        (ELS_XML_BRIEF[: len(ELS_XML_BRIEF) // 2], "malformed or truncated"),
        ("<interface-information><physical-interface/></interface-information>", "<interface-information>"),
        (ARP, "cannot read the line 'MAC Address"),
        ("error: syntax error, expecting <command>: tabel\n", "answered with an error"),
        ('<rpc-reply><rpc-error><error-message>syntax error</error-message></rpc-error></rpc-reply>',
         "syntax error"),
        # a row cut off mid-line (session dropped) must not read as a shorter table
        (NON_ELS + "  SRIOV_200         02:00:00:00:02:09 Lea", "cannot read the line"),
        ("V1 02:00:00:00:zz:01 Learn 0 ge-0/0/1.0\n", "cannot read the line"),
    ],
    ids=["garbage", "binary", "truncated-xml", "other-xml", "arp-text", "switch-error", "rpc-error",
         "truncated-row", "bad-mac"],
)
def test_unreadable_mac_input_raises(text: str, words: str) -> None:
    with pytest.raises(ParseError, match=None) as info:
        parse_mac_table(text)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("lorem ipsum\n", "expected a Junos ARP table"),
        (ARP_XML[:300], "malformed or truncated"),
        (NON_ELS, "cannot read the line"),
        ("<l2ng-l2ald-rtb-macdb/>", "<arp-table-information>"),
        ("02:00:00:00:02:01 192.168.200.2   vlan.200\n", "cannot read the line"),
        ("02:00:00:00:02:01 192.168.300.2   vlan.200    none\n", "cannot read the line"),
    ],
    ids=["garbage", "truncated-xml", "mac-text", "mac-xml", "no-flags", "bad-ip"],
)
def test_unreadable_arp_input_raises(text: str, words: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_arp_table(text)
    assert words in str(info.value)


# --- show version ------------------------------------------------------------------------------

VERSION_NON_ELS = """\
fpc0:
--------------------------------------------------------------------------
Hostname: ex-switch
Model: ex4200-48t
JUNOS Base OS boot [12.3R12.4]
JUNOS Base OS Software Suite [12.3R12.4]
JUNOS Kernel Software Suite [12.3R12.4]

{master:0}
"""
VERSION_ELS = """\
fpc0:
--------------------------------------------------------------------------
Hostname: ex4300
Model: ex4300-48t
Junos: 18.4R2.7
JUNOS OS Kernel 64-bit  [20190517.f0321c3_builder_stable_11]
JUNOS OS libs [20190517.f0321c3_builder_stable_11]
"""
VERSION_ELS_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/18.4R2/junos">
    <multi-routing-engine-results><multi-routing-engine-item><re-name>fpc0</re-name>
    <software-information>
        <host-name>ex4300</host-name>
        <product-model>ex4300-48t</product-model>
        <product-name>ex4300-48t</product-name>
        <junos-version>18.4R2.7</junos-version>
        <package-information><name>os-kernel</name><comment>JUNOS OS Kernel 64-bit [2019]</comment></package-information>
    </software-information>
    </multi-routing-engine-item></multi-routing-engine-results>
</rpc-reply>
{master:0}
"""
VERSION_NON_ELS_XML = """\
<rpc-reply xmlns:junos="http://xml.juniper.net/junos/12.3R12/junos">
    <software-information>
        <host-name>ex-switch</host-name>
        <product-model>ex4200-48t</product-model>
        <package-information><name>junos</name><comment>JUNOS Base OS boot [12.3R12.4]</comment></package-information>
    </software-information>
</rpc-reply>
"""


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (VERSION_NON_ELS, VersionInfo("ex-switch", "ex4200-48t", "12.3R12.4")),
        (VERSION_NON_ELS.replace("\n", "\r\n"), VersionInfo("ex-switch", "ex4200-48t", "12.3R12.4")),
        ("netops@ex-switch> show version\n" + VERSION_ELS + "\n{master:0}\nnetops@ex-switch> ",
         VersionInfo("ex4300", "ex4300-48t", "18.4R2.7")),
        (VERSION_ELS_XML, VersionInfo("ex4300", "ex4300-48t", "18.4R2.7")),
        (VERSION_NON_ELS_XML, VersionInfo("ex-switch", "ex4200-48t", "12.3R12.4")),
        ("Model: qfx5100-48s-6q\n", VersionInfo(None, "qfx5100-48s-6q", None)),
        ("garbage", VersionInfo(None, None, None)),
        ("<software-information><host-name>sw1</host-name>", VersionInfo(None, None, None)),
    ],
    ids=["non-els", "crlf", "els-prompt", "els-xml", "non-els-xml", "partial", "garbage", "broken-xml"],
)
def test_parse_version(text: str, want: VersionInfo) -> None:
    assert parse_version(text) == want


# --- size --------------------------------------------------------------------------------------


def _big_tables(n: int) -> dict[str, str]:
    macs = [f"02:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01" for i in range(n)]
    non_els = f"Ethernet-switching table: {n} unicast entries\n  VLAN  MAC address  Type  Age Interfaces\n"
    non_els += "".join(f"  SRIOV_200  {m} Learn  1:{i % 60:02d} ge-0/0/{i % 48}.0\n" for i, m in enumerate(macs))
    els = f"Ethernet switching table : {n} entries\n    Vlan  MAC  MAC  Age  Logical\n"
    els += "".join(f"    SRIOV_200  {m}  D  -  ge-0/0/{i % 48}.0  0  0\n" for i, m in enumerate(macs))
    non_els_xml = "<ethernet-switching-table-information><ethernet-switching-table>" + "".join(
        f"<mac-table-entry><mac-vlan>SRIOV_200</mac-vlan><mac-vlan-tag>200</mac-vlan-tag><mac-address>{m}"
        f"</mac-address><mac-type>Learn</mac-type><mac-age>0</mac-age><mac-interfaces-list><mac-interfaces>"
        f"ge-0/0/{i % 48}.0</mac-interfaces></mac-interfaces-list></mac-table-entry>"
        for i, m in enumerate(macs)
    ) + "</ethernet-switching-table></ethernet-switching-table-information>"
    els_xml = "<l2ng-l2ald-rtb-macdb><l2ng-l2ald-mac-entry-vlan>" + "".join(
        f"<l2ng-mac-entry><l2ng-l2-mac-vlan-name>SRIOV_200</l2ng-l2-mac-vlan-name><l2ng-l2-mac-address>{m}"
        f"</l2ng-l2-mac-address><l2ng-l2-mac-flags>D</l2ng-l2-mac-flags><l2ng-l2-mac-age>-</l2ng-l2-mac-age>"
        f"<l2ng-l2-mac-logical-interface>ge-0/0/{i % 48}.0</l2ng-l2-mac-logical-interface></l2ng-mac-entry>"
        for i, m in enumerate(macs)
    ) + "</l2ng-l2ald-mac-entry-vlan></l2ng-l2ald-rtb-macdb>"
    arp = "MAC Address       Address         Interface                Flags\n" + "".join(
        f"{m} 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}   vlan.200   none\n" for i, m in enumerate(macs)
    )
    arp_xml = "<arp-table-information>" + "".join(
        f"<arp-table-entry><mac-address>{m}</mac-address><ip-address>10.{i >> 16 & 255}.{i >> 8 & 255}."
        f"{i & 255}</ip-address><interface-name>vlan.200</interface-name><arp-table-entry-flags><none/>"
        f"</arp-table-entry-flags></arp-table-entry>"
        for i, m in enumerate(macs)
    ) + "</arp-table-information>"
    return {"non-els": non_els, "els": els, "non-els-xml": non_els_xml, "els-xml": els_xml,
            "arp": arp, "arp-xml": arp_xml}


@pytest.mark.parametrize("form", ["non-els", "els", "non-els-xml", "els-xml", "arp", "arp-xml"])
def test_large_tables_parse_completely(form: str) -> None:
    n = 10_000
    text = _big_tables(n)[form]
    got: list[Any] = (parse_arp_table if form.startswith("arp") else parse_mac_table)(text)
    assert len(got) == n
    last = got[-1]
    assert last.mac == "02:00:00:27:0f:01"  # 9999 = 0x270f
    if isinstance(last, MacEntry):
        assert last.vlan_name == "SRIOV_200" and last.interface == "ge-0/0/15.0"
    else:
        assert last.ip == "10.0.39.15" and last.interface == "vlan.200"
