"""The Junos operational-mode command line of the emulated switch (pure: text in, text out).

`JunosCli.execute(line)` answers one typed line the way an EX switch does: the few `show`
commands sriovcheck needs (keyword abbreviations as Junos completes them), the `set cli` commands
netmiko sends at login, pipes (`| display xml`, `| match`, `| except`, `| count`, `| last`,
`| no-more`), and Junos' own error replies with the caret under the offending word. The state shown
is read from the `SnapshotSource` once per command, so it is always live.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.view import SnapshotSource, SwitchSnapshot


@dataclass(frozen=True)
class CliReply:
    text: str  # what Junos prints before the `{master:0}` line; "\n" line ends
    close: bool = False  # the user left the CLI: end the session
    data: bool = False  # the text shows switch state (the `garble` fault applies to it)


class CliError(Exception):
    """A command Junos rejects: the caret goes under character `pos` of the typed line."""

    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass(frozen=True)
class Token:
    pos: int
    text: str
    bar: bool = False  # an unquoted `|`


def tokenize(line: str) -> list[Token]:
    """Words with their offsets; double quotes group, an unquoted `|` is a word of its own."""
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
        elif c == "|":
            tokens.append(Token(i, "|", bar=True))
            i += 1
        elif c == '"':
            end = line.find('"', i + 1)
            end = n if end < 0 else end
            tokens.append(Token(i, line[i + 1 : end]))
            i = end + 1
        else:
            start = i
            while i < n and not line[i].isspace() and line[i] != "|":
                i += 1
            tokens.append(Token(start, line[start:i]))
    return tokens


TOP = {
    "exit": "Exit the management session",
    "quit": "Exit the management session",
    "set": "Set CLI properties, date/time, craft interface message",
    "show": "Show system information",
}
SHOW = {
    "arp": "Show system Address Resolution Protocol table entries",
    "ethernet-switching": "Show Ethernet-switching information",
    "interfaces": "Show interface information",
    "lldp": "Show Link Layer Discovery Protocol information",
    "version": "Show software process revision levels",
    "vlans": "Show VLAN information",
}
SET_CLI = {
    "complete-on-space": "Set whether typing space completes current word",
    "screen-length": "Set number of lines on screen",
    "screen-width": "Set number of characters on a line",
    "terminal": "Set terminal type",
}
OPTION_HELP = {
    "brief": "Display brief output",
    "interface": "Name of interface",
    "no-resolve": "Don't attempt to print addresses symbolically",
    "terse": "Display terse output",
    "vlan": "Name of VLAN",
    "vlan-id": "VLAN ID",
    "vlan-name": "Name of VLAN",
}
PIPES = {
    "count": "Count occurrences",
    "display": "Show additional kinds of information",
    "except": "Show only text that does not match a pattern",
    "last": "Display end of output only",
    "match": "Show only text that matches a pattern",
    "no-more": "Don't paginate output",
}


def complete(tok: Token, options: dict[str, str], *, top: bool = False) -> str:
    """Junos keyword completion: exact word or a unique prefix."""
    if tok.text in options:
        return tok.text
    hits = [k for k in options if k.startswith(tok.text)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        lines = [f"'{tok.text}' is ambiguous.", "Possible completions:"]
        lines += [f"  {k:<20} {options[k]}" for k in hits]
        raise CliError(tok.pos, "\n".join(lines))
    raise CliError(tok.pos, "unknown command." if top else "syntax error, expecting <command>.")


class JunosCli:
    def __init__(self, source: SnapshotSource, *, username: str) -> None:
        self.source = source
        self.username = username
        self.screen_width = 80
        self.screen_length = 24
        self.complete_on_space = True
        # The snapshot the last command was answered from: the prompt after it is drawn from the
        # same one (one kernel look per command, not a second one for the prompt).
        self.last_snapshot: SwitchSnapshot | None = None

    def prompt(self, snap: SwitchSnapshot | None = None) -> str:
        snap = snap or self.source.snapshot()
        return f"{self.username}@{snap.hostname}> "

    def greeting(self, snap: SwitchSnapshot) -> str:
        return f"--- JUNOS {snap.junos_version} built 2019-06-01 03:10:24 UTC\n{render.BANNER}\n"

    def framed(self, text: str) -> str:
        """A command's output as it goes out before the next prompt: then the `{master:0}` line."""
        return f"{text}\n{render.BANNER}\n"

    def execute(self, line: str) -> CliReply:
        snap = self.last_snapshot = self.source.snapshot()
        line = line.rstrip("\r\n")
        try:
            return self._execute(line, snap)
        except CliError as exc:
            caret = " " * (len(self.prompt(snap)) + exc.pos) + "^"
            return CliReply(f"{caret}\n{exc.message}\n")

    # ------------------------------------------------------------ dispatch

    def _execute(self, line: str, snap: SwitchSnapshot) -> CliReply:
        tokens = tokenize(line)
        if not tokens:
            return CliReply("")
        end = len(line.rstrip()) + 1
        split = next((k for k, t in enumerate(tokens) if t.bar), len(tokens))
        cmd, pipes = tokens[:split], tokens[split:]
        if cmd[0].text == "cli":
            # netmiko types `cli` when it believes it landed in the shell: already in the CLI.
            return CliReply("")
        verb = complete(cmd[0], TOP, top=True)
        if verb in ("exit", "quit"):
            return CliReply("", close=True)
        if verb == "set":
            return CliReply(self._set(cmd[1:], end))
        producer = self._show(cmd[1:], end, snap)
        xml, filters = self._pipes(pipes, end)
        text = producer(xml)
        for f in filters:
            text = f(text)
        return CliReply(text, data=True)

    def _set(self, args: list[Token], end: int) -> str:
        if not args:
            raise CliError(end, "syntax error, expecting <command>.")
        complete(args[0], {"cli": "Set CLI properties"})
        if len(args) < 2:
            raise CliError(end, "syntax error, expecting <command>.")
        what = complete(args[1], SET_CLI)
        if len(args) < 3:
            raise CliError(end, "syntax error, expecting <data>." if what == "terminal" else "syntax error.")
        value = args[2]
        if len(args) > 3:
            raise CliError(args[3].pos, "syntax error, expecting <command>.")
        if what == "complete-on-space":
            self.complete_on_space = complete(value, {"off": "Disable", "on": "Enable"}) == "on"
            return "Enabling complete-on-space\n" if self.complete_on_space else "Disabling complete-on-space\n"
        if what == "terminal":
            return ""
        if not value.text.isdigit():
            raise CliError(value.pos, "syntax error.")
        n = int(value.text)
        if what == "screen-width":
            self.screen_width = n
            return f"Screen width set to {n}\n"
        self.screen_length = n
        return f"Screen length set to {n}\n"

    def _show(self, args: list[Token], end: int, snap: SwitchSnapshot) -> Callable[[bool], str]:
        if not args:
            raise CliError(end, "syntax error, expecting <command>.")
        what = complete(args[0], SHOW)
        rest = args[1:]
        if what == "version":
            _options(rest, {}, end)
            return lambda xml: render.render_version_xml(snap) if xml else render.render_version(snap)
        if what == "ethernet-switching":
            if not rest:
                raise CliError(end, "syntax error, expecting <command>.")
            sub = complete(rest[0], {"interfaces": "Show interface information", "table": "Show media access control table"})
            if sub == "interfaces":
                swif = _options(rest[1:], {}, end, free="name").get("name")
                return lambda xml: (render.render_switching_interfaces_xml if xml else render.render_switching_interfaces)(
                    snap, interface=swif
                )
            spec = {"brief": "", "interface": "<interface-name>"}
            spec |= {"vlan": "<vlan-name>"} if snap.style == "non-els" else {"vlan-id": "<vlan-id>", "vlan-name": "<vlan-name>"}
            opts = _options(rest[1:], spec, end)
            ifname = opts.get("interface")
            vlan = opts.get("vlan") or opts.get("vlan-name") or opts.get("vlan-id")
            return lambda xml: (render.render_mac_table_xml if xml else render.render_mac_table)(
                snap, interface=ifname, vlan=vlan
            )
        if what == "arp":
            opts = _options(rest, {"no-resolve": "", "interface": "<interface-name>"}, end)
            ifname, resolve = opts.get("interface"), "no-resolve" not in opts
            return lambda xml: (render.render_arp_xml if xml else render.render_arp)(
                snap, interface=ifname, resolve=resolve
            )
        if what == "lldp":
            if not rest:
                raise CliError(end, "syntax error, expecting <command>.")
            complete(rest[0], {"neighbors": "Show LLDP neighbor information"})
            _options(rest[1:], {}, end)
            return lambda xml: render.render_lldp_neighbors_xml(snap) if xml else render.render_lldp_neighbors(snap)
        if what == "vlans":
            opts = _options(rest, {"brief": ""}, end, free="name")
            name = opts.get("name")
            return lambda xml: (render.render_vlans_xml if xml else render.render_vlans)(snap, name=name)
        opts = _options(rest, {"terse": ""}, end, free="name")
        ifname = opts.get("name")
        if "terse" in opts:
            return lambda xml: (render.render_interfaces_terse_xml if xml else render.render_interfaces_terse)(
                snap, name=ifname
            )

        return lambda xml: (render.render_interface_detail_xml if xml else render.render_interface_detail)(
            snap, name=ifname
        )

    def _pipes(self, tokens: list[Token], end: int) -> tuple[bool, list[Callable[[str], str]]]:
        xml = False
        filters: list[Callable[[str], str]] = []
        i = 0
        while i < len(tokens):
            if i + 1 >= len(tokens) or tokens[i + 1].bar:
                pos = end if i + 1 >= len(tokens) else tokens[i + 1].pos
                raise CliError(pos, "syntax error, expecting <command>.")
            name = complete(tokens[i + 1], PIPES)
            args: list[Token] = []
            j = i + 2
            while j < len(tokens) and not tokens[j].bar:
                args.append(tokens[j])
                j += 1
            after = tokens[j].pos if j < len(tokens) else end
            if name == "display":
                if not args:
                    raise CliError(after, "syntax error, expecting <command>.")
                complete(args[0], {"xml": "Show XML tags with output"})
                xml = True
            elif name in ("match", "except"):
                if not args:
                    raise CliError(after, "syntax error, expecting <pattern>.")
                try:
                    rx = re.compile(" ".join(a.text for a in args), re.IGNORECASE)
                except re.error as exc:
                    raise CliError(args[0].pos, "error: invalid regular expression") from exc
                keep = name == "match"
                filters.append(partial(_grep, rx=rx, keep=keep))
            elif name == "count":
                filters.append(lambda t: f"Count: {len(t.splitlines())} lines\n")
            elif name == "last":
                count = int(args[0].text) if args and args[0].text.isdigit() else self.screen_length or 24
                filters.append(partial(_last, count=count))
            i = j
        return xml, filters


def _last(text: str, *, count: int) -> str:
    return "".join(text.splitlines(keepends=True)[-count:])


def _grep(text: str, *, rx: re.Pattern[str], keep: bool) -> str:
    if isinstance(text, render.Rendered):  # the background table's block is filtered once per pattern
        return "".join(_grep_big(part, rx, keep) if len(part) > _BIG_PART else _grep_lines(part, rx, keep) for part in text.parts)
    return _grep_lines(text, rx, keep)


_BIG_PART = 100_000


def _grep_lines(text: str, rx: re.Pattern[str], keep: bool) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if bool(rx.search(line)) == keep)


@lru_cache(maxsize=4)  # holds the big parts it answered for alive: a few backgrounds at most
def _grep_big(text: str, rx: re.Pattern[str], keep: bool) -> str:
    return _grep_lines(text, rx, keep)


def _options(tokens: list[Token], spec: dict[str, str], end: int, *, free: str | None = None) -> dict[str, str]:
    """Keyword options in any order; spec maps keyword -> "" (flag) or "<what>" (takes a value).
    A word that is no keyword becomes the `free` argument (an interface or VLAN name) once."""
    out: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        try:
            key = complete(tok, {k: OPTION_HELP.get(k, "") for k in spec}) if spec else None
        except CliError:
            if free is None or free in out:
                raise
            key = None
        if key is None:
            if free is None or free in out:
                raise CliError(tok.pos, "syntax error, expecting <command>.")
            out[free] = tok.text
            i += 1
            continue
        if spec[key]:
            if i + 1 >= len(tokens):
                raise CliError(end, f"syntax error, expecting {spec[key]}.")
            out[key] = tokens[i + 1].text
            i += 2
        else:
            out[key] = ""
            i += 1
    return out
