"""The fleet commands (`sriovcheck fleet-report`, ...): argument handling and files; the rendering is
pure, in sriovcheck.report.fleet."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sriovcheck.errors import ExitCode, ReportError, UsageError

Progress = Callable[[str], None]


def load_runs(paths: list[str]) -> list[Any]:
    """Each results.json, loaded and checked like `sriovcheck report` does, with its raw JSON kept
    for the keys the result model does not hold (root causes)."""
    from sriovcheck.report.fleet import HostRun
    from sriovcheck.report.writer import load_results

    runs = []
    seen: set[Path] = set()
    for name in paths:
        path = Path(name)
        if path.is_dir():
            path = path / "results.json"
        if path.resolve() in seen:
            raise UsageError(f"fleet-report: {path} is given twice", hint="give each host's results.json once")
        seen.add(path.resolve())
        results = load_results(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # load_results read it a moment ago
            raise ReportError(f"cannot read {path} again: {exc}") from exc
        runs.append(HostRun(path=path, results=results, raw=raw if isinstance(raw, dict) else {}))
    return runs


def cmd_fleet_report(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.report.fleet import fleet_view, render_fleet_html, render_fleet_json, render_fleet_junit
    from sriovcheck.report.writer import _write_all

    if not args.results:
        raise UsageError("fleet-report: give at least one results.json", hint="e.g. sriovcheck fleet-report fleet/*/results.json")
    runs = load_runs(args.results)
    html = Path(args.html) if args.html else None
    junit = Path(args.junit) if args.junit else None
    summary = Path(args.json) if args.json else None
    files: list[tuple[Path, str]] = []
    if html is not None:
        files.append((html, render_fleet_html(runs, base_dir=html.parent, title=args.title or "")))
    if junit is not None:
        files.append((junit, render_fleet_junit(runs)))
    if summary is not None:
        files.append((summary, render_fleet_json(runs, base_dir=summary.parent)))
    if files:
        _write_all(files)
    view = fleet_view(runs, html.parent if html else None)
    width = max([len(h.name) for h in view.hosts] + [4])
    lines = [f"{'host'.ljust(width)}  verdict  passed  failed  errors  switch evidence"]
    for h in view.hosts:
        evidence = f"{h.evidence_session} at {h.evidence_read_at}" if h.evidence_session else (h.switch_source or "-")
        lines.append(
            f"{h.name.ljust(width)}  {h.verdict.upper():7}  {h.counts['pass']:6}  {h.counts['fail']:6}  {h.counts['error']:6}  {evidence}"
        )
        for cause in h.causes:
            lines.append(f"{''.ljust(width)}  root cause: {cause.text}")
        if not h.causes:
            for f in h.failures[:3]:
                lines.append(f"{''.ljust(width)}  {f.status.upper()} {f.kind} {f.target}: {f.message}")
    passed = sum(1 for h in view.hosts if h.verdict == "pass")
    lines.append("")
    lines.append(f"fleet verdict: {view.verdict.upper()}  ({passed} of {len(view.hosts)} hosts passed)")
    for path, _ in files:
        lines.append(f"wrote {path}")
    out.write("\n".join(lines) + "\n")
    return ExitCode.OK if view.verdict == "pass" else ExitCode.CHECK_FAILED


# ---------------------------------------------------------------- the emulated rack (`lab up T1 T2 ...`)


def _loaded(args: argparse.Namespace) -> list[Any]:
    from sriovcheck.topology import load_topology

    return [load_topology(p) for p in [args.topology, *args.more]]


def cmd_lab_rack_up(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.lab.rack import rack_up

    loaded = _loaded(args)
    progress(f"bringing the emulated rack of {len(loaded)} hosts up")
    racks = rack_up(loaded)
    report = [_rack_dict(rack, status) for rack, status in racks]
    if args.json:
        out.write(json.dumps(report, indent=2, default=str) + "\n")
        return ExitCode.OK
    for item in report:
        emu = item["emulator"]
        out.write(f"rack {item['rack']} is up: switch {item['switch']} emulated at {emu.get('host')}:{emu.get('port')} "
                  f"({len(item['hosts'])} hosts)\n")
        for host, ports in item["hosts"].items():
            out.write(f"  {host}: {', '.join(ports)}\n")
    return ExitCode.OK


def _rack_dict(rack: Any, status: Any) -> dict[str, Any]:
    from sriovcheck.topology import load_topology

    hosts: dict[str, list[str]] = {}
    for name, file in rack.members.items():
        try:
            t = load_topology(file).topology
            hosts[name] = [f"{pf.name} -> {pf.switch_port}" for pf in t.host.pfs]
        except Exception:  # a member file moved since `up`: still show the rack
            hosts[name] = []
    data = status.as_dict()
    return {"rack": rack.name, "switch": rack.switch, "up": data.get("up"), "emulator": data.get("emulator", {}),
            "hosts": hosts, "members": rack.members, "problems": data.get("problems", [])}


def cmd_lab_rack_status(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.lab import manager
    from sriovcheck.lab.rack import group_by_switch, load_rack, login_count, rack_name

    report = []
    for switch in group_by_switch(_loaded(args)):
        name = rack_name(switch)
        rack = load_rack(name)
        status = manager.lab_status(name)
        item: dict[str, Any] = _rack_dict(rack, status) if rack else {"rack": name, "switch": switch, "up": False, "hosts": {}}
        item["logins"] = login_count(name)
        report.append(item)
    if args.json:
        out.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        for item in report:
            state = "up" if item.get("up") else "down"
            out.write(f"rack {item['rack']} (switch {item['switch']}): {state}, {len(item['hosts'])} hosts, "
                      f"{item['logins']} switch logins so far\n")
    return ExitCode.OK


def cmd_lab_rack_down(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.lab.rack import rack_down

    removed = rack_down(_loaded(args))
    if args.json:
        out.write(json.dumps({"removed": removed}, indent=2) + "\n")
    else:
        out.write(("removed:\n" + "".join(f"  {r}\n" for r in removed)) if removed else "nothing to remove: the rack is down\n")
    return ExitCode.OK


# ---------------------------------------------------------------- one switch login per switch


def cmd_fleet_traffic(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    """With --provision, provision first in this same process (as `sriovcheck provision`): a fleet
    run starts one sriovcheck per host and phase, and on a rack those start-ups add up."""
    if getattr(args, "provision", False):
        import io

        from sriovcheck.workflow import cmd_provision

        provisioned = io.StringIO()
        cmd_provision(args, provisioned, progress)
        if not args.json:
            out.write(provisioned.getvalue())
            return _traffic(args, out, progress)
        traffic = io.StringIO()
        rc = _traffic(args, traffic, progress)
        out.write(json.dumps({"provisioned": json.loads(provisioned.getvalue()), "traffic": json.loads(traffic.getvalue())},
                             indent=2) + "\n")
        return rc
    return _traffic(args, out, progress)


def _traffic(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.topology import load_topology
    from sriovcheck.verify import checks as C
    from sriovcheck.workflow import build_context

    loaded = load_topology(args.topology)
    ctx = build_context(loaded, lab=args.lab, progress=progress, bring_lab_up=False, repair_lab=False)
    exps = C.expectations(loaded.topology)
    requests, targets, missing = [], [], []
    for exp in exps:
        info = ctx.runtime.get(exp.container)
        if info is None or not info.netns_path:
            missing.append(exp.target)
            continue
        requests.append({"netns_path": info.netns_path, "ifname": exp.ifname, "dst": exp.gateway, "count": 1,
                         "timeout_s": loaded.topology.checks.ping.timeout_s})
        targets.append(exp.target)
    progress(f"traffic: one ping to the gateway from each of {len(requests)} VF(s)")
    pings = ctx.netns.ping_many(requests) if requests else []
    answered = [t for t, p in zip(targets, pings, strict=True) if p.received > 0]
    silent = [t for t in targets if t not in answered]
    if args.json:
        out.write(json.dumps({"answered": answered, "unanswered": silent, "not_running": missing}, indent=2) + "\n")
    else:
        out.write(f"traffic: {len(answered)} of {len(exps)} VF(s) reached their gateway"
                  + (f"; no answer: {', '.join(silent)}" if silent else "")
                  + (f"; not running: {', '.join(missing)}" if missing else "") + "\n")
    return ExitCode.OK if len(answered) == len(exps) else ExitCode.CHECK_FAILED


def _switch_opener(first: Any, lab: bool, progress: Progress) -> Callable[[], Any]:
    """A live session to the switch `first` (a LoadedTopology) names: the real one over SSH, or the
    emulated rack's (`--lab`), with the same credentials and host-key rules as `verify` (its opener)."""
    from sriovcheck.errors import LabError
    from sriovcheck.workflow import open_switch_session

    t = first.topology
    status = None
    if lab:
        from sriovcheck.lab import manager
        from sriovcheck.lab.rack import rack_lab_of

        lab_name = rack_lab_of(t.name) or t.name
        status = manager.lab_status(lab_name)
        if not status.up:
            raise LabError(f"the emulated lab {lab_name!r} of switch {t.switch.name} is not up",
                           hint="bring the rack up with `sriovcheck lab up` and its topologies")
    return lambda: open_switch_session(t.switch, status)


def switch_dir_name(switch: str) -> str:
    """The directory under --out for a switch's evidence: its name, made safe for a path."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", switch).strip("._") or "switch"


def cmd_fleet_switch_read(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.fleet.evidence import read_group, write_bundle
    from sriovcheck.lab.rack import group_by_switch
    from sriovcheck.topology import load_topology

    loaded = [load_topology(p) for p in args.topologies]
    reads = []
    for switch, members in group_by_switch(loaded).items():
        directory = Path(args.out) / switch_dir_name(switch)
        reads.append(read_group(_switch_opener(members[0], args.lab, progress), switch=switch,
                                topologies=[m.topology for m in members], directory=directory, progress=progress))
        write_bundle(directory)
    if args.json:
        out.write(json.dumps([r.as_dict() for r in reads], indent=2) + "\n")
    else:
        for r in reads:
            out.write(f"switch {r.switch}: read once by session {r.session} at {r.read_started} for "
                      f"{len(r.hosts)} host(s): {len(r.files)} outputs in {r.directory} (and {r.directory}.tar)"
                      + (f"; refused: {', '.join(r.failed)}" if r.failed else "") + "\n")
    return ExitCode.OK


def cmd_fleet_verify(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    """`verify --switch-output` against the shared read (its directory, or the .tar `switch-read`
    wrote, unpacked beside it), then with --teardown `teardown`, in one process. Teardown also runs
    when verify stops with an error (nothing is left behind); verify's error is then the one raised."""
    import copy
    import io

    from sriovcheck.errors import SriovcheckError
    from sriovcheck.fleet.evidence import BUNDLE_SUFFIX, unpack_bundle
    from sriovcheck.workflow import cmd_teardown, cmd_verify

    evidence = Path(args.switch_output)
    if evidence.is_file() and evidence.name.endswith(BUNDLE_SUFFIX):
        target = evidence.with_name(evidence.name[: -len(BUNDLE_SUFFIX)] or "switch-output")
        progress(f"switch evidence: unpacking {evidence} into {target}")
        evidence = unpack_bundle(evidence, target)
    elif not evidence.is_dir():
        raise UsageError(f"--switch-output {evidence}: neither a directory nor a .tar of saved switch outputs",
                         hint="give what `sriovcheck fleet switch-read` wrote: DIR/<switch>/ or DIR/<switch>.tar")
    verify_args = copy.copy(args)
    verify_args.switch_output = str(evidence)
    try:
        rc = cmd_verify(verify_args, out, progress)
    except SriovcheckError:
        if args.teardown:
            _teardown_quietly(args, progress)
        raise
    if args.teardown:
        if args.json:  # stdout holds results.json alone; what teardown did goes to stderr
            said, quiet = io.StringIO(), copy.copy(args)
            quiet.json = False
            cmd_teardown(quiet, said, progress)
            for line in said.getvalue().splitlines():
                progress(line)
        else:
            cmd_teardown(args, out, progress)
    return rc


def _teardown_quietly(args: argparse.Namespace, progress: Progress) -> None:
    import io

    from sriovcheck.errors import SriovcheckError
    from sriovcheck.workflow import cmd_teardown

    try:
        cmd_teardown(args, io.StringIO(), progress)
        progress("torn down after the error above")
    except SriovcheckError as exc:
        progress(f"teardown after the error failed too: {exc.message}")
