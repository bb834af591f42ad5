"""Topology loading benchmark: how fast `validate` reads the largest topology it accepts and refuses a huge one.

Side by side in one process, with libyaml's parser counting (and composing) the nodes and with PyYAML's
pure-Python composer alone (what a PyYAML without libyaml does), on two documents made at run time:

- `flat-list`: 2 million scalars in one flow list, just under the 4 MB size limit: refused at the node budget;
- `4094-vlans`: the seed lab with the model's maximum of 4094 VLANs: accepted.

    python benchmarks/validate_bench.py [--reps 3] [--json OUT]

Prints one JSON document on stdout and a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from sriovcheck.errors import TopologyError
from sriovcheck.topology import load_text

ROOT = Path(__file__).resolve().parents[1]


def flat_list() -> str:
    n = (4 * 1024 * 1024 - 100) // 2
    return "x: [" + "1," * (n - 1) + "1]\n"


def max_vlans() -> str:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "topologies" / "seed-lab.yaml").read_text())
    doc["vlans"] = [{"id": v, "name": f"V{v}", "subnet": f"10.{v // 256}.{v % 256}.0/24",
                     "gateway": f"10.{v // 256}.{v % 256}.1", "l3_interface": f"vlan.{v}"} for v in range(1, 4095)]
    doc["containers"][0]["vfs"][0].update(vlan=200, address="10.0.200.2/24")
    doc["containers"][1]["vfs"][0].update(vlan=201, address="10.0.201.2/24")
    return yaml.safe_dump(doc, sort_keys=False)


def time_load(text: str, *, libyaml: bool) -> tuple[float, str]:
    saved = yaml.__with_libyaml__
    yaml.__with_libyaml__ = libyaml  # type: ignore[attr-defined]
    try:
        start = time.perf_counter()
        try:
            load_text(text, file="bench.yaml")
            outcome = "accepted"
        except TopologyError as exc:
            outcome = f"refused at {exc.problems[0].location()}"
        return time.perf_counter() - start, outcome
    finally:
        yaml.__with_libyaml__ = saved  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions per document and parser (default 3)")
    ap.add_argument("--json", type=Path, help="also write the JSON document here")
    args = ap.parse_args(argv)
    if not yaml.__with_libyaml__:
        print("this PyYAML has no libyaml: only the pure-Python composer can be measured", file=sys.stderr)
    results: dict[str, Any] = {}
    for name, make in (("flat-list", flat_list), ("4094-vlans", max_vlans)):
        text = make()
        row: dict[str, Any] = {"bytes": len(text)}
        for libyaml in (True, False) if yaml.__with_libyaml__ else (False,):
            key = "libyaml" if libyaml else "pure_python"
            times, outcome = [], ""
            for _ in range(args.reps):
                took, outcome = time_load(text, libyaml=libyaml)
                times.append(took)
            row[key] = {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
                        "outcome": outcome}
            print(f"[bench] {name:10} {key:11} median {statistics.median(times):6.2f} s  {outcome}", file=sys.stderr)
        if "libyaml" in row:
            row["ratio_pure_python_to_libyaml"] = round(row["pure_python"]["median_s"] / row["libyaml"]["median_s"], 2)
        results[name] = row
    doc = {"reps": args.reps, "documents": results}
    text = json.dumps(doc, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
