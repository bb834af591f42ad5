"""Junos operational commands sriovcheck runs, and the file names their saved outputs go under.

Every name that ends up in a command line is checked against sriovcheck.topology.names first, so
that nothing from a topology file (or anywhere else) can add a pipe, a second command or a newline.
"""

from __future__ import annotations

import re
from typing import Literal

from sriovcheck.topology.names import JUNOS_L3_INTERFACE, JUNOS_PORT, JUNOS_VLAN_NAME

SwitchStyle = Literal["non-els", "els"]

DISPLAY_XML = "| display xml"
SHOW_VERSION = "show version"
SHOW_VLANS = "show vlans"
SHOW_INTERFACES_TERSE = "show interfaces terse"
SHOW_ETHERNET_SWITCHING_INTERFACES = "show ethernet-switching interfaces"
SHOW_LLDP_NEIGHBORS = "show lldp neighbors"
SHOW_ETHERNET_SWITCHING_TABLE = "show ethernet-switching table"
SHOW_ARP_NO_RESOLVE = "show arp no-resolve"

_UNIT = re.compile(r"^(?P<base>.+)\.(?P<unit>\d{1,5})$")
_SAFE_COMMAND = re.compile(r"^[A-Za-z0-9 _.:/|-]+$")
# Pipes that do not change what a saved output holds; any other (| match, | count ...) would.
_NEUTRAL_PIPES = {"no-more"}


def _port_with_optional_unit(value: str) -> str:
    m = _UNIT.match(value)
    base = m.group("base") if m else value
    if not JUNOS_PORT.fullmatch(base):
        raise ValueError(
            f"{value!r} is not a Junos switch port (e.g. ge-0/0/1, ge-0/0/1.0, xe-0/0/0:2.0, ae0.0); "
            "refusing to put it into a switch command"
        )
    return value


def _l3_or_port(value: str) -> str:
    if JUNOS_L3_INTERFACE.fullmatch(value):
        return value
    try:
        return _port_with_optional_unit(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a Junos L3 VLAN interface (vlan.N, irb.N) nor a port "
            "(ge-0/0/1.0); refusing to put it into a switch command"
        ) from None


def _vlan_name(value: str) -> str:
    if not JUNOS_VLAN_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Junos VLAN name (a letter, then letters, digits, _ . -); "
            "refusing to put it into a switch command"
        )
    return value


def _with_xml(command: str, xml: bool) -> str:
    return f"{command} {DISPLAY_XML}" if xml else command


def mac_table(
    *, interface: str | None = None, vlan: str | None = None, xml: bool = False,
    style: SwitchStyle = "non-els",
) -> str:
    """`show ethernet-switching table [interface IF] [vlan NAME] [| display xml]`.

    Non-ELS EX filters a VLAN with `vlan NAME`; ELS (EX4300/QFX) calls the same filter `vlan-name`.
    """
    parts = [SHOW_ETHERNET_SWITCHING_TABLE]
    if interface is not None:
        parts += ["interface", _port_with_optional_unit(interface)]
    if vlan is not None:
        parts += ["vlan-name" if style == "els" else "vlan", _vlan_name(vlan)]
    return _with_xml(" ".join(parts), xml)


def arp_table(*, interface: str | None = None, xml: bool = False) -> str:
    """`show arp no-resolve [interface IF] [| display xml]` (no-resolve: no DNS lookups on the switch)."""
    parts = [SHOW_ARP_NO_RESOLVE]
    if interface is not None:
        parts += ["interface", _l3_or_port(interface)]
    return _with_xml(" ".join(parts), xml)


_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
# MACs per `| match` search: the typed line stays well under the CLI's screen width (511), so that
# the echo netmiko waits for is not wrapped.
MACS_PER_SEARCH = 16


def mac_search(macs: list[str]) -> list[str]:
    """`show ethernet-switching table | match "MAC|MAC|..."` (text: `| match` on XML would cut
    entries apart), as few commands as the line length allows: every row of these MACs, on any
    port or VLAN. Junos' match is a case-insensitive regular expression; MACs are plain words in it."""
    for mac in macs:
        if not _MAC.fullmatch(mac):
            raise ValueError(f"{mac!r} is not a MAC in lower-case colon form; refusing to put it into a switch command")
    return [
        f'{SHOW_ETHERNET_SWITCHING_TABLE} | match "{"|".join(macs[i : i + MACS_PER_SEARCH])}"'
        for i in range(0, len(macs), MACS_PER_SEARCH)
    ]


def version(*, xml: bool = False) -> str:
    return _with_xml(SHOW_VERSION, xml)


def switching_interfaces(interface: str | None = None, *, xml: bool = False) -> str:
    """`show ethernet-switching interfaces [IF] [| display xml]`: VLAN members, tagging, port state."""
    parts = [SHOW_ETHERNET_SWITCHING_INTERFACES]
    if interface is not None:
        parts.append(_port_with_optional_unit(interface))
    return _with_xml(" ".join(parts), xml)


def lldp_neighbors(*, xml: bool = False) -> str:
    """`show lldp neighbors [| display xml]` (the brief table; `interface IF` would switch to detail)."""
    return _with_xml(SHOW_LLDP_NEIGHBORS, xml)


def interface_detail(port: str, *, xml: bool = False) -> str:
    """`show interfaces PORT [| display xml]`: admin/link state, physical MTU and current MAC."""
    return _with_xml(f"show interfaces {_port_with_optional_unit(port)}", xml)


def saved_output_name(command: str) -> str:
    """File name under which the output of `command` is saved for offline mode.

    'show ethernet-switching table | display xml' -> 'show_ethernet-switching_table.xml'
    'show ethernet-switching table interface ge-0/0/1.0' -> 'show_ethernet-switching_table_interface_ge-0_0_1.0.txt'
    'show arp no-resolve interface vlan.200 | display xml' -> 'show_arp_no-resolve_interface_vlan.200.xml'
    """
    if not _SAFE_COMMAND.fullmatch(command):
        raise ValueError(f"{command!r} is not a plain Junos operational command; cannot name a file for it")
    base, *pipes = (part.strip() for part in command.split("|"))
    xml = False
    suffix = ".txt"
    for pipe in pipes:
        words = " ".join(pipe.split())
        if words in ("display xml", "json"):
            xml = True
            suffix = ".xml" if words == "display xml" else ".json"
        elif words not in _NEUTRAL_PIPES:
            raise ValueError(
                f"{command!r}: the pipe '| {words}' changes the output; saved outputs hold only whole "
                "commands (optionally | display xml or | json)"
            )
    command_words = base.split()
    if not command_words or command_words[0] != "show":
        raise ValueError(f"{command!r} is not a `show` command; only those have saved outputs")
    # '/' cannot be in a file name: Junos port names become ge-0_0_1.
    stem = "_".join(command_words).replace("/", "_")
    return stem + (suffix if xml else ".txt")


SAVED_COMMANDS: tuple[str, ...] = (
    mac_table(xml=True),
    mac_table(),
    arp_table(xml=True),
    arp_table(),
    SHOW_VERSION,
    version(xml=True),
    SHOW_VLANS,
    SHOW_INTERFACES_TERSE,
    SHOW_ETHERNET_SWITCHING_INTERFACES,
    SHOW_LLDP_NEIGHBORS,
)
# What `--switch-output DIR` may hold: command -> file name (e.g. show_arp_no-resolve.xml).
SAVED_OUTPUT_FILES: dict[str, str] = {cmd: saved_output_name(cmd) for cmd in SAVED_COMMANDS}
