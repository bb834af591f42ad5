"""Side-by-side parser benchmark: this tree's parse_mac_table / parse_arp_table against those of an
earlier commit, interleaved in one process on the same tables (those of parse_bench.py, 10,000
entries by default), so that machine load hits both alike.

    python benchmarks/parse_compare.py [--rev 988bcf7] [--entries 10000] [--reps 9]

Times are CPU seconds (time.process_time); the minimum of the repetitions is compared (the least
disturbed run), the medians are printed too. The two alternate in running first, each after a
gc.collect(). Exit status 1 when a form is more than --tolerance slower (default 10 %).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parse_bench import STYLES, snapshot

from sriovcheck.lab.junos import render
from sriovcheck.parsers import junos as current


def _module_at(rev: str) -> ModuleType:
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "-C", str(root), "show", f"{rev}:sriovcheck/parsers/junos.py"],
        check=True, capture_output=True, text=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="parse-compare-")) / "junos_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("junos_at_rev", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _cpu(fn: Callable[[], object]) -> float:
    gc.collect()  # neither parser pays for the other's garbage
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def compare(rev: str, entries: int, reps: int) -> list[dict[str, Any]]:
    old = _module_at(rev)
    rows = []
    for style in STYLES:
        snap = snapshot(style, entries)
        texts = {"mac/text": render.render_mac_table(snap), "mac/xml": render.render_mac_table_xml(snap),
                 "arp/text": render.render_arp(snap), "arp/xml": render.render_arp_xml(snap)}
        for form, text in texts.items():
            name = "parse_mac_table" if form.startswith("mac") else "parse_arp_table"
            f_old, f_new = getattr(old, name), getattr(current, name)
            if len(f_old(text)) != len(f_new(text)):
                raise SystemExit(f"{form} {style}: the two parsers disagree on the number of entries")
            t_old, t_new = [], []
            for rep in range(reps):  # alternate which one runs first
                pair = [(t_old, f_old), (t_new, f_new)]
                for times, f in pair if rep % 2 == 0 else reversed(pair):
                    times.append(_cpu(lambda f=f, t=text: f(t)))  # type: ignore[misc]
            rows.append({"form": f"{form}/{style}", "before_s": min(t_old), "after_s": min(t_new),
                         "ratio": min(t_new) / min(t_old),
                         "median_before_s": statistics.median(t_old), "median_after_s": statistics.median(t_new)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev", default="988bcf7", help="the commit to compare with (default: before issue 13)")
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--tolerance", type=float, default=0.10)
    args = ap.parse_args(argv)
    rows = compare(args.rev, args.entries, args.reps)
    print(f"{args.entries} entries, min CPU s of {args.reps} interleaved runs; {args.rev} -> this tree")
    print(f"{'form':<22}{'before s':>10}{'after s':>10}{'after/before':>14}   medians")
    for r in rows:
        print(f"{r['form']:<22}{r['before_s']:>10.4f}{r['after_s']:>10.4f}{r['ratio']:>14.2f}"
              f"   {r['median_before_s']:.4f} / {r['median_after_s']:.4f}")
    slower = [r["form"] for r in rows if r["ratio"] > 1 + args.tolerance]
    if slower:
        print(f"slower by more than {args.tolerance:.0%}: {', '.join(slower)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
