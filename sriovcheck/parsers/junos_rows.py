"""Rows of a MAC table cut out by `| match` (no header, no legend): read row by row.

`show ethernet-switching table | match "MAC|MAC"` returns just the rows that name those MACs, in
either text format:
  non-ELS  `  SRIOV_200   02:00:00:00:00:01  Learn   0  ge-0/0/1.0`
  ELS      `    SRIOV_200   02:00:00:00:00:01  D   -   ge-0/0/1.0   0   0`
A row is taken when its second word is one of the wanted MACs; its VLAN is the first word and its
interface the first later word that names one (ge-0/0/1.0, ae0.0, esi.1820, vtep.32771). Anything
else (a garbled line, an echo, a banner) is not a row and is skipped: this is a search, and the
caller judges only what it finds.
"""

from __future__ import annotations

import re

from sriovcheck.parsers.junos import MacEntry

_IFNAME = re.compile(r"^(?:[a-z]{2,4}-\d+/\d+/\d+(?::\d+)?|ae\d+|esi|vtep|irb|vlan)\.\d+$|^(?:[a-z]{2,4}-\d+/\d+/\d+(?::\d+)?|ae\d+)$")


def mac_rows(text: str, macs: set[str]) -> list[MacEntry]:
    out: list[MacEntry] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        mac = words[1].lower().replace("-", ":")
        if mac not in macs:
            continue
        interface = next((w for w in words[2:] if _IFNAME.match(w)), None)
        if interface is None:
            continue
        raw = words[2]
        kind = "static" if raw.lower().startswith("static") or raw.upper() in ("S", "P", "SP") else "learned"
        out.append(MacEntry(vlan_name=words[0], vlan_id=None, mac=mac, kind=kind, raw_kind=raw, age_s=None, interface=interface))
    return out
