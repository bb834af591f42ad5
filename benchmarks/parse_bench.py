"""Parser benchmark: parse_mac_table / parse_arp_table on big generated Junos tables.

The tables are rendered by the emulator's own renderers (sriovcheck.lab.junos.render) from a synthetic
SwitchSnapshot, so they have the real shape (headers, column widths, XML namespaces) of each form:
non-ELS and ELS, text and `| display xml`.

    python benchmarks/parse_bench.py [--entries 10000] [--reps 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.view import ArpView, MacView, SwitchSnapshot, VlanView
from sriovcheck.parsers.junos import parse_arp_table, parse_mac_table

TARGET_S = 0.5  # per form, for 10,000 MAC entries (scaled linearly for other sizes)
STYLES: dict[str, tuple[str, str, str]] = {"non-els": ("ex4200-48t", "12.3R12.4", "vlan"), "els": ("ex4300-48t", "18.4R2.7", "irb")}


def snapshot(style: str, entries: int, *, vlans: int = 100, ports: int = 4) -> SwitchSnapshot:
    """`entries` learned MACs (and as many ARP entries) spread over `vlans` VLANs and `ports` ports."""
    model, version, l3 = STYLES[style]
    vlan_views = [VlanView(f"SRIOV_{200 + j}", 200 + j, f"{l3}.{200 + j}", "10.255.255.254/8",
                           tuple(f"ge-0/0/{p + 1}" for p in range(ports))) for j in range(vlans)]
    macs, arps = [], []
    for k in range(entries):
        v = vlan_views[k % vlans]
        mac = f"02:00:{(k >> 16) & 0xFF:02x}:{(k >> 8) & 0xFF:02x}:{k & 0xFF:02x}:01"
        macs.append(MacView(v.name, v.id, mac, "learned", k % 4000, f"ge-0/0/{k % ports + 1}.0"))
        arps.append(ArpView(mac, f"10.{(k + 1) >> 16 & 0xFF}.{(k + 1) >> 8 & 0xFF}.{(k + 1) & 0xFF}", v.l3_interface))
    return SwitchSnapshot(hostname="ex-switch", style=style,  # type: ignore[arg-type]
                          model=model, junos_version=version, router_mac="02:00:00:00:00:fe",
                          vlans=tuple(vlan_views), macs=tuple(macs), arps=tuple(arps), interfaces=())


def _median_s(fn: Callable[[], object], reps: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs


def bench(entries: int = 10_000, reps: int = 5) -> dict[str, Any]:
    """Median parse time of every form; checks that each parse found every entry."""
    forms: dict[str, Any] = {}
    for style in STYLES:
        snap = snapshot(style, entries)
        tables = {
            "mac": {"text": render.render_mac_table(snap), "xml": render.render_mac_table_xml(snap)},
            "arp": {"text": render.render_arp(snap), "xml": render.render_arp_xml(snap)},
        }
        for table, by_form in tables.items():
            parse: Callable[[str], list[Any]] = parse_mac_table if table == "mac" else parse_arp_table
            for form, text in by_form.items():
                parsed = parse(text)
                found = sum(1 for e in parsed if getattr(e, "kind", "learned") == "learned")
                if found != entries:
                    raise SystemExit(f"{table} {style} {form}: parsed {found} entries, expected {entries}")
                median, runs = _median_s(lambda p=parse, t=text: p(t), reps)  # type: ignore[misc]
                forms[f"{table}/{style}/{form}"] = {
                    "table": table, "style": style, "form": form, "entries": entries, "bytes": len(text),
                    "median_s": round(median, 4), "runs_s": [round(r, 4) for r in runs],
                    "entries_per_s": round(entries / median) if median else None,
                    "target_s": round(TARGET_S * entries / 10_000, 4) if table == "mac" else None,
                    "target_met": (median < TARGET_S * entries / 10_000) if table == "mac" else None,
                }
    return {"entries": entries, "reps": reps, "python": sys.version.split()[0], "forms": forms}


def table(result: dict[str, Any]) -> str:
    lines = [f"parse {result['entries']} entries, median of {result['reps']}",
             f"{'table/style/form':<20} {'bytes':>9} {'median s':>9} {'entries/s':>10}  target"]
    for key, f in result["forms"].items():
        target = "-" if f["target_met"] is None else ("met" if f["target_met"] else "MISSED") + f" (< {f['target_s']} s)"
        lines.append(f"{key:<20} {f['bytes']:>9} {f['median_s']:>9.4f} {f['entries_per_s'] or 0:>10}  {target}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", metavar="OUT", help="also write the JSON document here")
    args = ap.parse_args(argv)
    if args.entries < 1 or args.reps < 1:
        ap.error("--entries and --reps must be >= 1")
    result = bench(args.entries, args.reps)
    doc = json.dumps(result, indent=2)
    print(doc)
    print(table(result), file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(doc + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
