"""The emulator's Junos output against real device output (tests/data/junos-samples, see SOURCES.md).

Where a sample's data fits a snapshot, the emulator must reproduce it byte for byte (after undoing the
sample's copy artefacts: CRLF, a TAB in a header, markdown indentation). Elsewhere the header lines,
column starts and XML element paths must be the real ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.view import ArpView, InterfaceView, MacView, SwitchSnapshot, VlanView

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "junos-samples"
ROUTER_MAC = "ac:4b:c8:2b:77:c1"


def sample(name: str) -> str:
    return (SAMPLES / f"{name}.raw").read_text().replace("\r\n", "\n")


def column_starts(line: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\S+", line)]


def snapshot(
    style: str = "non-els",
    *,
    vlans: tuple[VlanView, ...] = (),
    macs: tuple[MacView, ...] = (),
    arps: tuple[ArpView, ...] = (),
    interfaces: tuple[InterfaceView, ...] = (),
    version: str | None = None,
) -> SwitchSnapshot:
    els = style == "els"
    return SwitchSnapshot(
        hostname="ex-switch",
        style="els" if els else "non-els",
        model="ex4300-48t" if els else "ex4200-48t",
        junos_version=version or ("18.4R2.7" if els else "12.3R12.4"),
        router_mac=ROUTER_MAC,
        vlans=vlans,
        macs=macs,
        arps=arps,
        interfaces=interfaces,
    )


def sriov_snapshot(style: str = "non-els") -> SwitchSnapshot:
    l3 = "irb" if style == "els" else "vlan"
    return snapshot(
        style,
        vlans=(
            VlanView("SRIOV_200", 200, f"{l3}.200", "192.168.200.1/24", ("ge-0/0/1",)),
            VlanView("SRIOV_201", 201, f"{l3}.201", "192.168.201.1/24", ("ge-0/0/1", "ge-0/0/9")),
        ),
        macs=(
            MacView("SRIOV_200", 200, "9a:88:8c:f7:bf:de", "learned", 245, "ge-0/0/1.0"),
            MacView("SRIOV_201", 201, "de:bb:04:86:b8:36", "learned", 0, "ge-0/0/1.0"),
            MacView("SRIOV_201", 201, "56:7f:f1:5e:ac:52", "learned", 36, "ge-0/0/9.0"),
            MacView("SRIOV_201", 201, ROUTER_MAC, "router", None, "Router"),
        ),
        arps=(
            ArpView("9a:88:8c:f7:bf:de", "192.168.200.2", f"{l3}.200"),
            ArpView("de:bb:04:86:b8:36", "192.168.201.2", f"{l3}.201"),
        ),
        interfaces=(
            InterfaceView("ge-0/0/1", True, True, mac="00:1f:12:00:00:01", description="sriov host 1"),
            InterfaceView("ge-0/0/9", True, False),
            InterfaceView("ge-0/0/10", False, False),
            InterfaceView("me0", True, True, address_cidr="10.0.0.2/24"),
        ),
    )


def xml_paths(text: str) -> set[str]:
    """Element paths without namespaces, from the first '<' to the last '>' of a CLI output."""
    doc = text[text.index("<") : text.rindex(">") + 1]
    root = etree.fromstring(doc.encode())
    paths: set[str] = set()

    def walk(el: etree._Element, prefix: str) -> None:
        path = f"{prefix}/{etree.QName(el).localname}" if prefix else etree.QName(el).localname
        paths.add(path)
        for child in el:
            walk(child, path)

    walk(root, "")
    return paths


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0, "0"), (54, "54"), (59, "59"), (60, "1:00"), (245, "4:05"), (257, "4:17"),
     (3600, "1:00:00"), (3725, "1:02:05")],
)
def test_age_is_shown_like_non_els_junos(seconds: int | None, shown: str) -> None:
    assert render.format_age(seconds) == shown


@pytest.mark.parametrize(
    ("version", "release"),
    [("12.3R12.4", "12.3R12"), ("18.4R2.7", "18.4R2"), ("15.1X53-D234.2", "15.1X53"), ("11.4R1.6", "11.4R1")],
)
def test_xml_namespace_release_matches_real_namespaces(version: str, release: str) -> None:
    assert render.xml_release(version) == release


# ---------------------------------------------------------------- non-ELS MAC table


def test_non_els_vlan_filter_reproduces_the_kashif_sample_byte_for_byte() -> None:
    snap = snapshot(
        vlans=(VlanView("SRIOV_201", 201, "vlan.201", "192.168.201.1/24", ("ge-0/0/1", "ge-0/0/9", "ge-0/0/19")),),
        macs=(
            MacView("SRIOV_201", 201, "a2:1f:bc:be:1c:7e", "learned", 0, "ge-0/0/19.0"),
            MacView("SRIOV_201", 201, "0a:43:80:e7:80:15", "learned", 54, "ge-0/0/1.0"),
            MacView("SRIOV_201", 201, ROUTER_MAC, "router", None, "Router"),
            MacView("SRIOV_201", 201, "56:7f:f1:5e:ac:52", "learned", 36, "ge-0/0/9.0"),
        ),
    )
    # The sample's header has a TAB where Junos prints two spaces (copy artefact, SOURCES.md).
    expected = sample("kashif-nawaz-sriov__show_ethernet-switching_table_vlan__1").replace("\t", "  ")
    assert render.render_mac_table(snap, vlan="SRIOV_201") == expected
    assert render.render_mac_table(snap, vlan="201") == expected  # the tag selects the same VLAN


def test_non_els_interface_filter_reproduces_the_kashif_ext_sample() -> None:
    raw = sample("kashif-nawaz-ext__show_ethernet-switching_table_interface__1")
    expected = "".join(line[2:] + "\n" for line in raw.splitlines()).replace("\t", "  ")  # markdown indent
    snap = sriov_snapshot()
    assert render.render_mac_table(snap, interface="ge-0/0/1") == expected
    assert render.render_mac_table(snap, interface="ge-0/0/1.0") == expected


def test_non_els_full_table_has_the_canonical_header_and_columns() -> None:
    real = sample("juniper-vc0-howto__show_ethernet-switching_table__1").splitlines()
    out = render.render_mac_table(sriov_snapshot()).splitlines()
    assert out[0] == "Ethernet-switching table: 4 unicast entries"  # 3 learned + the router, no flood rows
    assert out[1] == real[1]
    flood = next(line for line in out if "Flood" in line)
    learn = next(line for line in out if "Learn" in line)
    assert column_starts(flood) == column_starts(real[2])
    assert column_starts(learn)[:2] == column_starts(real[3])[:2]
    # Age is right-aligned in the same column as the real one ("0" ends where "Age" ends).
    assert learn.index(" ge-0/0/") == real[3].index(" ge-1/0/")
    assert [line.split()[0] for line in out[2:]] == ["SRIOV_200"] * 2 + ["SRIOV_201"] * 4
    assert "  SRIOV_201         ac:4b:c8:2b:77:c1 Static         - Router" in out


def test_non_els_unknown_filters_behave_like_junos() -> None:
    snap = sriov_snapshot()
    assert render.render_mac_table(snap, vlan="NOPE").splitlines() == [
        "Ethernet-switching table: 0 unicast entries",
        "  VLAN              MAC address       Type         Age Interfaces",
    ]
    assert render.render_mac_table(snap, interface="ge-0/0/99") == "error: device ge-0/0/99 not found\n"
    # A known port without entries: an empty table, not an error.
    assert "0 unicast entries" in render.render_mac_table(snap, interface="ge-0/0/10")


def test_non_els_xml_uses_napalms_element_names_and_the_cli_wrapper() -> None:
    out = render.render_mac_table_xml(sriov_snapshot())
    assert out.startswith('<rpc-reply xmlns:junos="http://xml.juniper.net/junos/12.3R12/junos">\n')
    assert out.endswith("    <cli>\n        <banner>{master:0}</banner>\n    </cli>\n</rpc-reply>\n")
    assert 'xmlns="http://xml.juniper.net/junos/12.3R12/junos-esw" junos:style="brief"' in out
    ours = {p.removeprefix("rpc-reply/") for p in xml_paths(out)} - {"rpc-reply", "cli", "cli/banner"}
    real = xml_paths(sample("napalm__show_ethernet-switching_table_extensive_display_xml__1"))
    assert ours <= real, ours - real
    table = "ethernet-switching-table-information/ethernet-switching-table/mac-table-entry"
    for leaf in ("mac-vlan", "mac-address", "mac-type", "mac-age", "mac-interfaces-list/mac-interfaces"):
        assert f"{table}/{leaf}" in ours
    # The summary sample shows how the real reply wraps the same root element.
    summary = xml_paths(sample("py-junos-eznc__show_ethernet-switching_table_summary_display_xml__2"))
    assert "rpc-reply/ethernet-switching-table-information/ethernet-switching-table" in summary
    root = etree.fromstring(out.encode())
    entries = root.findall(".//{*}mac-table-entry")
    assert len(entries) == 6  # 2 flood + 3 learned + router
    learned = next(e for e in entries if e.findtext("{*}mac-address") == "9a:88:8c:f7:bf:de")
    assert learned.findtext("{*}mac-type") == "Learn"
    assert learned.findtext("{*}mac-age") == "4:05"
    assert learned.findtext("{*}mac-interfaces-list/{*}mac-interfaces") == "ge-0/0/1.0"


# ---------------------------------------------------------------- ELS MAC table


def yandex_snapshot() -> SwitchSnapshot:
    raw = sample("yandex-noc-tests__show_ethernet-switching_table__1")
    macs = []
    for line in raw.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[0].startswith("VLAN") and ":" in parts[1]:
            macs.append(MacView(parts[0], int(parts[0][4:]), parts[1], "learned", None, parts[4]))
    ports = tuple(sorted({m.interface[:-2] for m in macs}))
    vlans = tuple(VlanView(n, int(n[4:]), f"irb.{n[4:]}", "10.0.0.1/24", ports) for n in ("VLAN1601", "VLAN2000", "VLAN802"))
    # Reversed on purpose: the renderer must sort like Junos does.
    return snapshot("els", vlans=vlans, macs=tuple(reversed(macs)), version="15.1X53-D234.2")


def test_els_text_reproduces_the_yandex_sample_byte_for_byte() -> None:
    expected = sample("yandex-noc-tests__show_ethernet-switching_table__1").split("{master:0}")[0]
    assert render.render_mac_table(yandex_snapshot()) + "\n" == expected


def test_els_text_matches_ntc_header_lines() -> None:
    real = sample("ntc-templates__show_ethernet-switching_table__1").splitlines()
    out = render.render_mac_table(sriov_snapshot("els")).splitlines()
    assert out[:5] == real[:5]
    assert out[5] == "Ethernet switching table : 3 entries, 3 learned"  # the router MAC is not an ELS entry
    assert out[6:9] == real[6:9]
    row = out[9]
    assert column_starts(row) == column_starts(real[9])
    assert row.endswith("0      ")


def test_els_interface_filter_has_the_mac_database_line() -> None:
    real = sample("homerlabs__show_ethernet-switching_table_interface__1").splitlines()
    out = render.render_mac_table(sriov_snapshot("els"), interface="ge-0/0/9").splitlines()
    assert out[:3] == ["", "MAC database for interface ge-0/0/9", ""]
    assert out[3] == real[3]  # the legend follows
    assert out[7] == "Ethernet switching table : 1 entries, 1 learned"
    assert len(out) == 12 and "56:7f:f1:5e:ac:52" in out[11]


def test_els_xml_reproduces_the_yandex_xml_sample_byte_for_byte() -> None:
    raw = sample("yandex-noc-tests__show_ethernet-switching_table_display_xml__1")
    expected = raw.strip("\n ").split("\n\n{master:0}")[0] + "\n"
    out = render.render_mac_table_xml(yandex_snapshot())
    assert out == expected


def test_els_xml_of_an_empty_table_keeps_the_counts() -> None:
    out = render.render_mac_table_xml(sriov_snapshot("els"), vlan="NOPE")
    root = etree.fromstring(out.encode())
    assert root.findtext(".//l2ng-l2ald-mac-entry-vlan/mac-count-global") == "0"
    assert root.findall(".//l2ng-mac-entry") == []


def test_unknown_interface_in_xml_is_an_rpc_error() -> None:
    for style in ("non-els", "els"):
        root = etree.fromstring(render.render_mac_table_xml(sriov_snapshot(style), interface="xe-9/9/9").encode())
        assert root.findtext("rpc-error/error-message").strip() == "device xe-9/9/9 not found"


# ---------------------------------------------------------------- ARP


def test_non_els_arp_reproduces_the_ntc_sample() -> None:
    raw = sample("ntc-templates__show_arp_no-resolve__1")
    rows = [line.split() for line in raw.splitlines()[1:] if line.count(":") == 5]
    snap = snapshot(arps=tuple(ArpView(mac, ip, ifname, flags) for mac, ip, ifname, flags in rows))
    assert render.render_arp(snap) + "\n" + render.BANNER + "\n" == raw


def test_els_arp_uses_the_wider_columns_and_shows_the_port_behind_the_irb() -> None:
    real = sample("py-junos-eznc__show_arp_no-resolve__1").splitlines()
    out = render.render_arp(snapshot("els", arps=(ArpView("f0:76:1c:9d:23:19", "10.221.128.201", "fxp0.0"),)))
    lines = out.splitlines()
    assert lines[0] == real[1]
    assert lines[1] == real[2]
    assert lines[2] == "Total entries: 1"
    irb = render.render_arp(sriov_snapshot("els")).splitlines()
    assert irb[1] == "9a:88:8c:f7:bf:de 192.168.200.2   irb.200 [ge-0/0/1.0]     none"


YANDEX_ARPS = (
    ArpView("68:cc:6e:a8:b8:71", "10.1.1.1", "ae101.3666"),
    ArpView("2c:21:31:18:0f:00", "10.2.1.1", "ae102.3666"),
    ArpView("02:00:01:00:00:05", "128.0.0.5", "bme1.0", "permanent"),
)


def test_show_arp_with_names_matches_the_yandex_columns() -> None:
    real = sample("yandex-noc-tests__show_arp__1").splitlines()
    out = render.render_arp(snapshot("els", arps=YANDEX_ARPS), resolve=True).splitlines()
    assert out[:4] == [*real[1:4], real[8]]


def test_arp_interface_filter_and_unknown_device() -> None:
    snap = sriov_snapshot()
    out = render.render_arp(snap, interface="vlan.201")
    assert "192.168.201.2" in out and "192.168.200.2" not in out and "Total entries: 1" in out
    assert render.render_arp(snap, interface="vlan.999").endswith("Total entries: 0\n")
    assert render.render_arp(snap, interface="xe-0/0/0") == "error: device xe-0/0/0 not found\n"
    els = sriov_snapshot("els")
    # The filter names the L3 interface; the port in "irb.200 [ge-0/0/1.0]" is not one.
    assert "irb.200 [ge-0/0/1.0]" in render.render_arp(els, interface="irb.200")
    assert "Total entries: 1" in render.render_arp(els, interface="irb.200")
    assert "Total entries: 0" in render.render_arp(els, interface="ge-0/0/1")


def test_arp_xml_has_the_element_paths_of_the_yandex_sample() -> None:
    snap = snapshot("els", arps=YANDEX_ARPS, version="15.1X53-D67.5")
    out = render.render_arp_xml(snap)
    real = sample("yandex-noc-tests__show_arp_display_xml__1")
    assert xml_paths(out) == xml_paths(real)
    # Line for line like the real reply as far as the data agree (the first two entries).
    assert out.splitlines()[:20] == real.strip("\n").splitlines()[:20]
    root = etree.fromstring(out.encode())
    assert root.findtext(".//{*}arp-entry-count") == "3"
    assert root.find(".//{*}arp-table-entry/{*}arp-table-entry-flags/{*}none") is not None


# ---------------------------------------------------------------- vlans, interfaces, version


def test_show_vlans_both_styles() -> None:
    non_els = render.render_vlans(sriov_snapshot()).splitlines()
    assert non_els == [
        "Name           Tag     Interfaces",
        "SRIOV_200      200",
        "                       ge-0/0/1.0*",
        "SRIOV_201      201",
        "                       ge-0/0/1.0*, ge-0/0/9.0",
    ]
    els = render.render_vlans(sriov_snapshot("els"), name="SRIOV_201").splitlines()
    assert els == [
        "",
        "Routing instance        VLAN name             Tag          Interfaces",
        "default-switch          SRIOV_201             201",
        " " * 59 + "ge-0/0/1.0*",
        " " * 59 + "ge-0/0/9.0",
    ]
    for style in ("non-els", "els"):
        etree.fromstring(render.render_vlans_xml(sriov_snapshot(style)).encode())


def test_interfaces_terse_lists_ports_units_and_gateways() -> None:
    out = render.render_interfaces_terse(sriov_snapshot()).splitlines()
    assert out[0] == "Interface               Admin Link Proto    Local                 Remote"
    assert out[1:5] == [
        "ge-0/0/1                up    up",
        "ge-0/0/1.0              up    up   eth-switch",
        "ge-0/0/9                up    down",
        "ge-0/0/9.0              up    down eth-switch",
    ]
    assert "ge-0/0/10               down  down" in out  # after ge-0/0/9: Junos sorts numerically
    assert out.index("ge-0/0/10               down  down") > out.index("ge-0/0/9.0              up    down eth-switch")
    assert "vlan.200                up    up   inet     192.168.200.1/24" in out
    assert "me0.0" not in "\n".join(out) and "me0                     up    up" in out
    els = render.render_interfaces_terse(sriov_snapshot("els"), name="irb.201").splitlines()
    assert els[1:] == ["irb.201                 up    up   inet     192.168.201.1/24"]
    root = etree.fromstring(render.render_interfaces_terse_xml(sriov_snapshot("els")).encode())
    names = [n.text.strip() for n in root.iter("{*}name")]
    assert "irb.200" in names and "ge-0/0/1.0" in names


def test_show_interfaces_detail() -> None:
    snap = sriov_snapshot()
    up = render.render_interface_detail(snap, name="ge-0/0/1")
    assert up.startswith("Physical interface: ge-0/0/1, Enabled, Physical link is Up\n")
    assert "  Description: sriov host 1\n" in up
    assert "MTU: 1514" in up and "  Current address: 00:1f:12:00:00:01, Hardware address: 00:1f:12:00:00:01" in up
    assert "  Logical interface ge-0/0/1.0 " in up and "    Protocol eth-switch" in up
    assert render.render_interface_detail(snap, name="ge-0/0/9").startswith(
        "Physical interface: ge-0/0/9, Enabled, Physical link is Down"
    )
    assert render.render_interface_detail(snap, name="ge-0/0/10").startswith(
        "Physical interface: ge-0/0/10, Administratively down, Physical link is Down"
    )
    gw = render.render_interface_detail(snap, name="vlan.200")
    assert "Destination: 192.168.200.0/24, Local: 192.168.200.1, Broadcast: 192.168.200.255" in gw
    assert render.render_interface_detail(snap, name="ge-0/0/99") == "error: device ge-0/0/99 not found\n"
    assert render.render_interface_detail(snap, name="ge-0/0/1.7") == "error: device ge-0/0/1.7 not found\n"


def test_show_version_both_styles() -> None:
    non_els = render.render_version(sriov_snapshot()).splitlines()
    assert non_els[:5] == ["fpc0:", "-" * 74, "Hostname: ex-switch", "Model: ex4200-48t", "JUNOS Base OS boot [12.3R12.4]"]
    els = render.render_version(sriov_snapshot("els")).splitlines()
    assert els[2:5] == ["Hostname: ex-switch", "Model: ex4300-48t", "Junos: 18.4R2.7"]
    root = etree.fromstring(render.render_version_xml(sriov_snapshot("els")).encode())
    sw = root.find(".//software-information")
    assert sw is not None
    assert (sw.findtext("host-name"), sw.findtext("product-model"), sw.findtext("junos-version")) == (
        "ex-switch", "ex4300-48t", "18.4R2.7")  # fmt: skip
    old = etree.fromstring(render.render_version_xml(sriov_snapshot()).encode())
    assert old.find(".//junos-version") is None
    assert "JUNOS Base OS boot [12.3R12.4]" in [c.text for c in old.iter("comment")]


def test_switching_interfaces_and_lldp() -> None:
    non_els = render.render_switching_interfaces(sriov_snapshot()).splitlines()
    assert non_els[0] == "Interface    State  VLAN members        Tag   Tagging  Blocking"
    assert non_els[1].split() == ["ge-0/0/1.0", "up", "SRIOV_200", "200", "tagged", "unblocked"]
    assert non_els[2].split() == ["SRIOV_201", "201", "tagged", "unblocked"]
    els = render.render_switching_interfaces(sriov_snapshot("els"))
    assert "Routing Instance Name : default-switch" in els and "SRIOV_201" in els
    assert render.render_lldp_neighbors(sriov_snapshot()) == ""


# ---------------------------------------------------------------- through the project's parsers


@pytest.mark.parametrize("style", ["non-els", "els"])
def test_outputs_read_back_through_the_parsers(style: str) -> None:
    parsers = pytest.importorskip("sriovcheck.parsers.junos")
    snap = sriov_snapshot(style)
    l3 = "irb" if style == "els" else "vlan"
    want_learned = {
        ("9a:88:8c:f7:bf:de", "SRIOV_200", "ge-0/0/1.0"),
        ("de:bb:04:86:b8:36", "SRIOV_201", "ge-0/0/1.0"),
        ("56:7f:f1:5e:ac:52", "SRIOV_201", "ge-0/0/9.0"),
    }
    for text in (render.render_mac_table(snap), render.render_mac_table_xml(snap)):
        entries = parsers.parse_mac_table(text)
        learned = {(e.mac, e.vlan_name, e.interface) for e in entries if e.kind == "learned"}
        assert learned == want_learned
        routers = [e for e in entries if e.kind == "router"]
        assert [(e.mac, e.vlan_name) for e in routers] == ([] if style == "els" else [(ROUTER_MAC, "SRIOV_201")])
        assert {e.vlan_name for e in entries if e.kind == "flood"} == (set() if style == "els" else {"SRIOV_200", "SRIOV_201"})
        if style == "non-els":
            ages = {e.mac: e.age_s for e in entries if e.kind == "learned"}
            assert ages == {"9a:88:8c:f7:bf:de": 245, "de:bb:04:86:b8:36": 0, "56:7f:f1:5e:ac:52": 36}
    for text in (render.render_arp(snap), render.render_arp_xml(snap), render.render_arp(snap, resolve=True)):
        arps = parsers.parse_arp_table(text)
        assert [(a.mac, a.ip, a.interface) for a in arps] == [
            ("9a:88:8c:f7:bf:de", "192.168.200.2", f"{l3}.200"),
            ("de:bb:04:86:b8:36", "192.168.201.2", f"{l3}.201"),
        ]
        assert [a.physical_interface for a in arps] == (["ge-0/0/1.0"] * 2 if style == "els" else [None, None])
    for text in (render.render_version(snap), render.render_version_xml(snap)):
        info = parsers.parse_version(text)
        assert (info.hostname, info.model, info.junos_version) == (snap.hostname, snap.model, snap.junos_version)
