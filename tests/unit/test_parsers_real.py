"""Junos MAC/ARP parsers against a larger body of real outputs (tests/data/junos-real, sources in its
SOURCES.md).

Each `<name>.raw` has a `<name>.json` saying what it must parse to:
- "source_asserts": true - the values come from the source's own assertion (a parser's golden output,
  a test's assert, a tool's printed parse), converted to our fields as SOURCES.md describes;
  false - counts and sample entries read off the raw text by hand (no assertion at the source).
- "count": how many entries the parse has; "filter"/"filtered_count": the source's own count after
  dropping what it does not list ("learned": only learned MACs).
- "entries": expected fields; "ordered" compares them index by index (the whole list), otherwise
  each is looked up by its MAC (and IP for ARP). "strip_unit": the source names interfaces without
  the logical unit (ae19 for ae19.0); "per_port": the source's count of MACs per port.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.parsers.junos import parse_arp_table, parse_mac_table

REAL = Path(__file__).resolve().parents[1] / "data" / "junos-real"
RAW = sorted(REAL.glob("*.raw"))


def read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as f:  # keep CRLF as recorded
        return f.read()


def spec(raw: Path) -> dict[str, Any]:
    return json.loads(raw.with_suffix(".json").read_text())


def _unit_stripped(value: str) -> str:
    return value.split(".", 1)[0] if value else value


def _fields(entry: Any, wanted: dict[str, Any], strip_unit: bool) -> dict[str, Any]:
    got = dataclasses.asdict(entry)
    out = {}
    for key in wanted:
        value = got[key]
        if key == "flags":
            value = list(value)
        if key == "interface" and strip_unit:
            value = _unit_stripped(value)
        out[key] = value
    return out


def test_body_of_real_outputs_is_large_and_sourced() -> None:
    assert len(RAW) >= 30
    sources = (REAL / "SOURCES.md").read_text()
    for raw in RAW:
        assert raw.with_suffix(".json").exists(), f"{raw.name} has no expected parse"
        assert f"`{raw.stem}`" in sources, f"{raw.name} is not in SOURCES.md"
    assert sum(1 for raw in RAW if spec(raw)["source_asserts"]) >= 8


@pytest.mark.parametrize("raw", RAW, ids=lambda p: p.stem)
def test_real_output_parses_to_what_its_source_asserts(raw: Path) -> None:
    s = spec(raw)
    parse = parse_mac_table if s["parser"] == "mac" else parse_arp_table
    got: list[Any] = parse(read(raw))
    assert len(got) == s["count"], f"{raw.name}: {len(got)} entries, expected {s['count']}"
    if s.get("filter") == "learned":
        got = [e for e in got if e.kind == "learned"]
        assert len(got) == s["filtered_count"]
    strip = bool(s.get("strip_unit"))
    if "per_port" in s:  # the source counts MACs per port (interface without the unit)
        ports: dict[str, int] = {}
        for g in got:
            ports[_unit_stripped(g.interface)] = ports.get(_unit_stripped(g.interface), 0) + 1
        assert ports == s["per_port"]
    if s.get("ordered"):
        assert len(got) == len(s["entries"])
        for i, (g, want) in enumerate(zip(got, s["entries"], strict=True)):
            assert _fields(g, want, strip) == want, f"{raw.name} entry {i}"
        return
    for want in s["entries"]:
        key = (want["mac"], want.get("ip"))
        found = [g for g in got if (g.mac, getattr(g, "ip", None) if key[1] else None) == key]
        assert found, f"{raw.name}: no entry for {key}"
        assert _fields(found[0], want, strip) == want, f"{raw.name}: {key}"
