"""The emulated Junos command line: dispatch, completion, pipes, `set cli`, and Junos' error replies."""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree

from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.cli import JunosCli, tokenize
from sriovcheck.lab.junos.view import MacView, ServerFaults, SwitchSnapshot
from tests.unit.test_junos_render import sriov_snapshot

PROMPT = "netops@ex-switch> "


class Source:
    def __init__(self, snap: SwitchSnapshot) -> None:
        self.snap = snap
        self.calls = 0

    def snapshot(self) -> SwitchSnapshot:
        self.calls += 1
        return self.snap

    def faults(self) -> ServerFaults:
        return ServerFaults()


@pytest.fixture(params=["non-els", "els"])
def style(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def cli_for(style: str = "non-els") -> tuple[JunosCli, Source]:
    src = Source(sriov_snapshot(style))
    return JunosCli(src, username="netops"), src


def caret_error(line: str, column: int, message: str) -> str:
    """What Junos prints: a caret under the offending word of the echoed line, then the message."""
    return " " * (len(PROMPT) + column) + "^\n" + message + "\n"


def test_prompt_is_user_at_hostname() -> None:
    cli, _ = cli_for()
    assert cli.prompt() == PROMPT


def test_netmiko_session_preparation_commands() -> None:
    cli, _ = cli_for()
    assert cli.execute("set cli screen-width 511").text == "Screen width set to 511\n"
    assert cli.execute("set cli complete-on-space off").text == "Disabling complete-on-space\n"
    assert cli.execute("set cli complete-on-space on").text == "Enabling complete-on-space\n"
    assert cli.execute("set cli screen-length 0").text == "Screen length set to 0\n"
    assert cli.execute("set cli terminal vt100").text == ""
    assert (cli.screen_width, cli.screen_length, cli.complete_on_space) == (511, 0, True)
    # netmiko types `cli` when it thinks it sits in the shell: a harmless fresh prompt.
    reply = cli.execute("cli")
    assert (reply.text, reply.close) == ("", False)
    assert cli.execute("").text == "" and cli.execute("   ").text == ""


def test_exit_and_quit_close_the_session() -> None:
    cli, _ = cli_for()
    assert cli.execute("exit").close and cli.execute("quit").close and cli.execute("ex").close
    assert not cli.execute("show version").close


def test_show_commands_answer_with_the_renderers(style: str) -> None:
    cli, src = cli_for(style)
    snap = src.snap
    cases = {
        "show ethernet-switching table": render.render_mac_table(snap),
        "show ethernet-switching table | display xml": render.render_mac_table_xml(snap),
        "show ethernet-switching table interface ge-0/0/9": render.render_mac_table(snap, interface="ge-0/0/9"),
        "show arp no-resolve": render.render_arp(snap),
        "show arp no-resolve | display xml": render.render_arp_xml(snap),
        "show arp": render.render_arp(snap, resolve=True),
        "show arp no-resolve interface ge-0/0/1": render.render_arp(snap, interface="ge-0/0/1"),
        "show vlans": render.render_vlans(snap),
        "show vlans SRIOV_200 | display xml": render.render_vlans_xml(snap, name="SRIOV_200"),
        "show interfaces terse": render.render_interfaces_terse(snap),
        "show interfaces ge-0/0/1 terse": render.render_interfaces_terse(snap, name="ge-0/0/1"),
        "show interfaces terse ge-0/0/1": render.render_interfaces_terse(snap, name="ge-0/0/1"),
        "show interfaces ge-0/0/1": render.render_interface_detail(snap, name="ge-0/0/1"),
        "show version": render.render_version(snap),
        "show version | display xml": render.render_version_xml(snap),
        "show ethernet-switching interfaces": render.render_switching_interfaces(snap),
        "show lldp neighbors": "",
    }
    for line, expected in cases.items():
        reply = cli.execute(line)
        assert reply.text == expected, line
        assert reply.data and not reply.close


def test_vlan_filter_keyword_follows_the_style() -> None:
    non_els, _ = cli_for("non-els")
    assert "SRIOV_201" in non_els.execute("show ethernet-switching table vlan SRIOV_201").text
    assert "SRIOV_200" not in non_els.execute("show ethernet-switching table vlan SRIOV_201").text
    assert "syntax error" in non_els.execute("show ethernet-switching table vlan-name SRIOV_201").text
    els, _ = cli_for("els")
    by_name = els.execute("show ethernet-switching table vlan-name SRIOV_201").text
    assert "1 entries" not in by_name and "2 entries, 2 learned" in by_name
    assert els.execute("show ethernet-switching table vlan-id 201").text == by_name
    # ELS has no `vlan` keyword there, and the word is a prefix of two others.
    assert els.execute("show ethernet-switching table vlan SRIOV_201").text.splitlines()[1:] == [
        "'vlan' is ambiguous.",
        "Possible completions:",
        "  vlan-id              VLAN ID",
        "  vlan-name            Name of VLAN",
    ]


def test_abbreviations_complete_like_junos() -> None:
    cli, src = cli_for()
    full = render.render_mac_table(src.snap, interface="ge-0/0/1")
    assert cli.execute("sh eth tab int ge-0/0/1").text == full
    assert cli.execute("sho ethernet-switching ta interface ge-0/0/1 | no-more").text == full
    assert cli.execute("show ver").text == render.render_version(src.snap)
    assert cli.execute("show arp no | disp xml").text == render.render_arp_xml(src.snap)


def test_each_command_reads_a_fresh_snapshot() -> None:
    cli, src = cli_for()
    assert "aa:bb:cc:00:00:01" not in cli.execute("show ethernet-switching table").text
    extra = MacView("SRIOV_200", 200, "aa:bb:cc:00:00:01", "learned", 3, "ge-0/0/1.0")
    src.snap = dataclasses.replace(src.snap, macs=(*src.snap.macs, extra))
    out = cli.execute("show ethernet-switching table").text
    assert "  SRIOV_200         aa:bb:cc:00:00:01 Learn          3 ge-0/0/1.0" in out
    assert out.startswith("Ethernet-switching table: 5 unicast entries")
    src.snap = dataclasses.replace(src.snap, hostname="sw2")
    assert cli.prompt() == "netops@sw2> "


def test_pipes_match_except_count_last() -> None:
    cli, _ = cli_for()
    learned = cli.execute("show ethernet-switching table | match Learn").text.splitlines()
    assert len(learned) == 3 and all("Learn" in line for line in learned)
    # Junos' match is case-insensitive and takes a quoted regular expression with alternation.
    assert cli.execute("show ethernet-switching table | match learn").text.splitlines() == learned
    both = cli.execute('show arp no-resolve | match "200|201"').text.splitlines()
    assert [line.split()[1] for line in both] == ["192.168.200.2", "192.168.201.2"]
    assert cli.execute("show arp no-resolve | match 201.").text.splitlines()[0].startswith("de:bb:04:86:b8:36")
    no_flood = cli.execute("show ethernet-switching table | except Flood").text
    assert "Flood" not in no_flood and "Learn" in no_flood
    assert cli.execute("show arp no-resolve | count").text == "Count: 4 lines\n"
    assert cli.execute("show ethernet-switching table | match Learn | count").text == "Count: 3 lines\n"
    assert cli.execute("show arp no-resolve | last 1").text == "Total entries: 2\n"
    xml_lines = cli.execute("show arp no-resolve | display xml | match ip-address").text.splitlines()
    assert [line.strip() for line in xml_lines] == [
        "<ip-address>192.168.200.2</ip-address>",
        "<ip-address>192.168.201.2</ip-address>",
    ]
    assert cli.execute("show arp no-resolve|count").text == "Count: 4 lines\n"


def test_display_xml_is_well_formed(style: str) -> None:
    cli, _ = cli_for(style)
    for cmd in ("show ethernet-switching table", "show arp no-resolve", "show version", "show vlans",
                "show interfaces terse", "show interfaces ge-0/0/1", "show lldp neighbors"):  # fmt: skip
        text = cli.execute(f"{cmd} | display xml").text
        root = etree.fromstring(text.encode())
        assert root.tag == "rpc-reply", cmd
        assert root.findtext("cli/banner") == "{master:0}"


def test_unknown_command_has_the_caret_under_the_first_word() -> None:
    cli, _ = cli_for()
    assert cli.execute("foo bar").text == caret_error("foo bar", 0, "unknown command.")
    assert cli.execute("  foo").text == caret_error("  foo", 2, "unknown command.")


def test_syntax_errors_point_at_the_offending_word() -> None:
    cli, _ = cli_for()
    expecting = "syntax error, expecting <command>."
    assert cli.execute("show foo").text == caret_error("show foo", 5, expecting)
    assert cli.execute("show version extra").text == caret_error("show version extra", 13, expecting)
    assert cli.execute("show ethernet-switching").text == caret_error("", 24, expecting)
    assert cli.execute("show").text == caret_error("", 5, expecting)
    assert cli.execute("show ethernet-switching table interface").text == caret_error(
        "", 40, "syntax error, expecting <interface-name>."
    )
    assert cli.execute("show arp | grep x").text == caret_error("", 11, expecting)
    assert cli.execute("show arp |").text == caret_error("", 11, expecting)
    assert cli.execute("show arp | display json").text == caret_error("", 19, expecting)
    assert cli.execute("set cli screen-width wide").text == caret_error("", 21, "syntax error.")
    reply = cli.execute("show foo")
    assert not reply.close and not reply.data


def test_ambiguous_word_lists_the_completions() -> None:
    cli, _ = cli_for()
    out = cli.execute("s").text.splitlines()
    assert out[0] == " " * len(PROMPT) + "^"
    assert out[1:] == [
        "'s' is ambiguous.",
        "Possible completions:",
        "  set                  Set CLI properties, date/time, craft interface message",
        "  show                 Show system information",
    ]


def test_unknown_filters_answer_like_junos() -> None:
    cli, _ = cli_for()
    assert cli.execute("show interfaces ge-0/0/99").text == "error: device ge-0/0/99 not found\n"
    assert cli.execute("show ethernet-switching table interface xe-0/0/5").text == (
        "error: device xe-0/0/5 not found\n"
    )
    assert "0 unicast entries" in cli.execute("show ethernet-switching table vlan NOPE").text


def test_tokenizer_keeps_offsets_quotes_and_bars() -> None:
    toks = tokenize('show arp | match "a b|c"|count')
    assert [(t.pos, t.text, t.bar) for t in toks] == [
        (0, "show", False), (5, "arp", False), (9, "|", True), (11, "match", False),
        (17, "a b|c", False), (24, "|", True), (25, "count", False),
    ]  # fmt: skip
