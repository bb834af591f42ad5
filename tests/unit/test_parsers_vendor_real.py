"""EOS and NX-OS parsers against real outputs from public projects (tests/data/eos-real, nxos-real;
where each came from: their SOURCES.md; the expected-parse format: eos-real/FORMAT.md).

Every `<name>.raw` is parsed by the parser its `<name>.json` names, of the platform it names, and must
give what the source asserts. Interface names are compared after the platform's own expansion of the
short forms the device printed (Et1 -> Ethernet1, Eth1/1 -> Ethernet1/1): the checks compare full names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.parsers import eos, nxos

DATA = Path(__file__).resolve().parents[1] / "data"
DIRS = {"arista_eos": DATA / "eos-real", "cisco_nxos": DATA / "nxos-real"}
RAW = sorted(p for d in DIRS.values() for p in d.glob("*.raw"))
MODULES: dict[str, Any] = {"arista_eos": eos, "cisco_nxos": nxos}
PARSERS = {
    "mac": "parse_mac_table", "arp": "parse_arp_table", "vlan": "parse_vlans", "switchport": "parse_switchports",
    "lldp": "parse_lldp_neighbors", "interface": "parse_interfaces", "version": "parse_version",
}
INTERFACE_KEYS = {"interface", "physical_interface", "local_interface", "name"}
# Our field for the name the FORMAT gives (the rest are the same names).
FIELDS = {
    ("lldp", "port_description"): "port_info",
    ("interface", "mtu"): "mtu_printed",
}
KEYS = {"mac": ("mac", "vlan_id", "interface"), "arp": ("ip", "vrf", "mac"), "vlan": ("vlan_id",), "switchport": ("interface",),
        "lldp": ("local_interface", "port_id"), "interface": ("name",), "version": ()}


def read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as f:  # keep CRLF as recorded
        return f.read()


def spec(raw: Path) -> dict[str, Any]:
    return json.loads(raw.with_suffix(".json").read_text())


def _value(kind: str, key: str, value: Any, canon: Callable[[str], str]) -> Any:
    if key in INTERFACE_KEYS and isinstance(value, str):
        return canon(value)
    if isinstance(value, tuple):
        return [canon(v) if key == "interfaces" else v for v in value]
    if key == "interfaces" and isinstance(value, list):
        return [canon(v) for v in value]
    return value


def _got(kind: str, entry: Any, want: dict[str, Any], canon: Callable[[str], str]) -> dict[str, Any]:
    d = dataclasses.asdict(entry)
    if kind == "version" and d.get("os_version"):
        # The parse keeps the version as the switch printed it (reports show it so); FORMAT.md's
        # os_version is its release token, os_version_full the whole.
        d["os_version_full"], d["os_version"] = d["os_version"], d["os_version"].split(" ")[0]
    return {k: _value(kind, k, d[FIELDS.get((kind, k), k)], canon) for k in want if not k.endswith("_canonical")}



def _want(kind: str, want: dict[str, Any], canon: Callable[[str], str]) -> dict[str, Any]:
    return {k: _value(kind, k, v, canon) for k, v in want.items() if not k.endswith("_canonical")}


def test_the_bodies_of_real_outputs_are_there_and_sourced() -> None:
    for platform, d in DIRS.items():
        raws = sorted(d.glob("*.raw"))
        assert len(raws) >= 10, f"{d} has {len(raws)} outputs"
        sources = (d / "SOURCES.md").read_text()
        for raw in raws:
            assert raw.with_suffix(".json").exists(), f"{raw.name} has no expected parse"
            assert f"`{raw.stem}`" in sources, f"{raw.name} is not in {d.name}/SOURCES.md"
            assert spec(raw)["platform"] == platform
        assert sum(1 for raw in raws if spec(raw)["source_asserts"]) >= 8
        kinds = {spec(raw)["parser"] for raw in raws}
        assert {"mac", "arp", "lldp", "interface", "version"} <= kinds, f"{d.name} lacks {set(PARSERS) - kinds}"


@pytest.mark.parametrize("raw", RAW, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_real_output_parses_to_what_its_source_asserts(raw: Path) -> None:
    s = spec(raw)
    mod = MODULES[s["platform"]]
    kind = s["parser"]
    canon: Callable[[str], str] = mod.interface_name
    parsed = getattr(mod, PARSERS[kind])(read(raw))
    got: list[Any] = [parsed] if kind == "version" else list(parsed)
    assert len(got) == s["count"], f"{raw.name}: {len(got)} entries, expected {s['count']}: {got[:3]}"
    if s.get("filter"):  # the source asserts only this view; the other entries were read by hand
        kept = [g for g in got if all(getattr(g, k) == v for k, v in s["filter"].items())]
        assert len(kept) == s["filtered_count"]
    if s.get("ordered") or kind == "version":
        assert len(got) == len(s["entries"]), raw.name
        for i, (g, want) in enumerate(zip(got, s["entries"], strict=True)):
            assert _got(kind, g, want, canon) == _want(kind, want, canon), f"{raw.name} entry {i}"
        return
    for want in s["entries"]:
        key = tuple(_value(kind, k, want[k], canon) for k in KEYS[kind] if k in want)
        found = [g for g in got if tuple(_value(kind, k, getattr(g, k), canon) for k in KEYS[kind] if k in want) == key]
        assert found, f"{raw.name}: no entry for {key}"
        assert _got(kind, found[0], want, canon) == _want(kind, want, canon), f"{raw.name}: {key}"
