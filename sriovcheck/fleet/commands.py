"""The fleet commands (`sriovcheck fleet-report`, ...): argument handling and files; the rendering is
pure, in sriovcheck.report.fleet."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
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


HOST_FILES = ("results.json", "report.html", "junit.xml")
_HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:@+-]{0,252}")


def _host_files(value: str | None) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in (value or "results.json,report.html").split(",") if n.strip()))
    unknown = [n for n in names if n not in HOST_FILES]
    if unknown:
        raise UsageError(f"--host-files: {', '.join(unknown)} is not a host report file",
                         hint=f"choose from {', '.join(HOST_FILES)} (results.json is always written)")
    return ("results.json", *(n for n in names if n != "results.json"))


def collect_runs(directory: Path, files: tuple[str, ...], progress: Progress) -> list[Any]:
    """`fleet-report --collect DIR`: stdin holds one JSON object, host name -> that host's results.json
    (its text, as `fleet verify --json` printed it, or the object). Each is checked like `sriovcheck report`
    checks a results.json - all of them before anything is written - then written to DIR/<host>/results.json
    byte for byte, with report.html (and junit.xml) rendered from it here on the controller, so that the
    hosts' reports come back without a file transfer per host. A host given as null (its verify did not run
    in this play, e.g. `--tags report`) is read from DIR/<host>/results.json as written before."""
    from sriovcheck.report.fleet import HostRun
    from sriovcheck.report.html import render_html
    from sriovcheck.report.junit import render_junit
    from sriovcheck.report.writer import load_results, load_results_text, write_all
    from sriovcheck.stdin import read_stdin

    hint = "pipe {\"<host>\": <its results.json>, ...} - the Ansible content does (README, \"A rack at once\")"
    try:
        given = json.loads(read_stdin("the hosts' results (JSON)"))
    except ValueError as exc:
        raise UsageError(f"fleet-report --collect: stdin is not valid JSON ({exc})", hint=hint) from None
    if not isinstance(given, dict) or not given:
        raise UsageError("fleet-report --collect: stdin must be a JSON object of host name -> results.json, with at least one host",
                         hint=hint)
    runs, writes = [], []
    for host, value in given.items():
        if not _HOST_NAME.fullmatch(host) or host in (".", ".."):
            raise UsageError(f"fleet-report --collect: host name {host!r} cannot name a folder (letters, digits and ._:@+- only)",
                             hint="use the inventory's host names")
        path = directory / host / "results.json"
        if value is None or value == "":
            if not path.is_file():
                raise UsageError(f"fleet-report --collect: host {host} has no results on stdin (null) and no {path} "
                                 "from an earlier run", hint="run its verify (the playbook's verify tag), or leave the host out")
            results = load_results(path)
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ReportError(f"cannot read {path} again: {exc}") from exc
        else:
            text = value if isinstance(value, str) else json.dumps(value, indent=2)
            text = text if text.endswith("\n") else text + "\n"
            try:
                results = load_results_text(text, Path(f"stdin[{host}]"))
            except ReportError as exc:  # what came in is bad input (exit 2), not a report that could not be written
                raise UsageError(exc.message, hint=exc.hint) from None
            raw = json.loads(text)
            writes.append((path, text))
            if "report.html" in files:
                writes.append((path.with_name("report.html"), render_html(results)))
            if "junit.xml" in files:
                writes.append((path.with_name("junit.xml"), render_junit(results)))
        runs.append(HostRun(path=path, results=results, raw=raw if isinstance(raw, dict) else {}))
    if writes:
        write_all(writes)
        progress(f"collected {len(writes)} file(s) of {len(runs)} host(s) in {directory}")
    return runs


def cmd_fleet_report(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.report.fleet import FleetView, fleet_view, render_fleet_html, render_fleet_json, render_fleet_junit
    from sriovcheck.report.writer import write_all

    collect = getattr(args, "collect", None)
    if not args.results and not collect:
        raise UsageError("fleet-report: give at least one results.json (or --collect DIR with the hosts' results on stdin)",
                         hint="e.g. sriovcheck fleet-report fleet/*/results.json")
    if args.results and collect:
        raise UsageError("fleet-report: give results.json files or --collect, not both",
                         hint="--collect DIR reads every host's results from stdin and writes DIR/<host>/results.json")
    runs = collect_runs(Path(collect), _host_files(args.host_files), progress) if collect else load_runs(args.results)
    html = Path(args.html) if args.html else None
    junit = Path(args.junit) if args.junit else None
    summary = Path(args.json) if args.json else None
    views: dict[Path | None, FleetView] = {}  # one view per folder the links are relative to (usually one)

    def view_from(base: Path | None) -> FleetView:
        if base not in views:
            views[base] = fleet_view(runs, base)
        return views[base]

    files: list[tuple[Path, str]] = []
    if html is not None:
        files.append((html, render_fleet_html(runs, title=args.title or "", view=view_from(html.parent))))
    if junit is not None:
        files.append((junit, render_fleet_junit(runs)))
    if summary is not None:
        files.append((summary, render_fleet_json(runs, view=view_from(summary.parent))))
    if files:
        write_all(files)
    view = view_from(html.parent if html else None)
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
    report = [_rack_dict(rack, status, loaded) for rack, status in racks]
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


def _rack_dict(rack: Any, status: Any, loaded: Sequence[Any] = ()) -> dict[str, Any]:
    """What `lab up`/`lab status` say of a rack; `loaded`: the topologies the command has read already
    (each member's file is read again only when it is not among them)."""
    from sriovcheck.topology import load_topology

    known = {lt.topology.name: lt.topology for lt in loaded}
    hosts: dict[str, list[str]] = {}
    for name, file in rack.members.items():
        try:
            t = known[name] if name in known else load_topology(file).topology
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
    loaded = _loaded(args)
    for switch in group_by_switch(loaded):
        name = rack_name(switch)
        rack = load_rack(name)
        status = manager.lab_status(name)
        item: dict[str, Any] = _rack_dict(rack, status, loaded) if rack else {"rack": name, "switch": switch, "up": False, "hosts": {}}
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
    from sriovcheck.workflow import topology_of

    topology_of(args)  # read once (a file, or `-`: stdin), for provision and traffic alike
    _hold_when_done(args, progress)
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


def _hold_when_done(args: argparse.Namespace, progress: Progress) -> None:
    """--hold: ask the process entry to keep this process for the verify that follows (sriovcheck.fleet.hold);
    it does so when the command ends with 0 or 1. main() called in-process (not the entry) does not hold."""
    if not getattr(args, "hold", None):
        if getattr(args, "hold_timeout", None) is not None:
            raise UsageError("fleet traffic --hold-timeout: only with --hold SOCKET")
        return
    if not getattr(args, "may_hold", False):
        progress("--hold: only a sriovcheck process of its own holds (this command runs in-process); ignored")
        return
    from sriovcheck.fleet import hold

    hold.request(hold.Hold(args.hold, args.hold_timeout or hold.DEFAULT_TIMEOUT_S))


def _traffic(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.verify.checks import vf_target
    from sriovcheck.workflow import context_of, topology_of

    loaded = topology_of(args)
    topo = loaded.topology
    ctx = context_of(args, loaded, progress=progress, bring_lab_up=False, repair_lab=False)
    # Each attached VF and its gateway, straight from the topology: verify's expectations would also
    # import every switch platform (their parsers) for the MAC-table names that traffic does not need.
    exps = [(ct.name, spec.ifname, str(topo.vlan(spec.vlan).gateway)) for ct, spec in topo.attachments()]
    requests, targets, missing = [], [], []
    infos: dict[str, Any] = {}  # one docker inspect per container, not per VF
    for container, ifname, gateway in exps:
        target = vf_target(container, ifname)
        if container not in infos:
            infos[container] = ctx.runtime.get(container)
        info = infos[container]
        if info is None or not info.netns_path:
            missing.append(target)
            continue
        requests.append({"netns_path": info.netns_path, "ifname": ifname, "dst": gateway, "count": 1,
                         "timeout_s": topo.checks.ping.timeout_s})
        targets.append(target)
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
        # namespaces, state and the emulator: what the session needs (its address and key); not every
        # port and VF read from the kernel (~0.15 CPU-s at 16 hosts, for nothing the read uses)
        status = manager.lab_status(lab_name, kernel=False)
        if not status.up:
            raise LabError(f"the emulated lab {lab_name!r} of switch {t.switch.name} is not up",
                           hint="bring the rack up with `sriovcheck lab up` and its topologies")
    return lambda: open_switch_session(t.switch, status)


def switch_dir_name(switch: str) -> str:
    """The directory under --out for a switch's evidence: its name, made safe for a path."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", switch).strip("._") or "switch"


def cmd_fleet_switch_read(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.fleet.evidence import read_group, write_bundle, write_json_bundle
    from sriovcheck.lab.rack import group_by_switch
    from sriovcheck.topology import load_topology

    loaded = [load_topology(p) for p in args.topologies]
    reads = []
    for switch, members in group_by_switch(loaded).items():
        directory = Path(args.out) / switch_dir_name(switch)
        reads.append(read_group(_switch_opener(members[0], args.lab, progress), switch=switch,
                                topologies=[m.topology for m in members], directory=directory, progress=progress))
        write_bundle(directory)
        write_json_bundle(directory)
    if args.json:
        out.write(json.dumps([r.as_dict() for r in reads], indent=2) + "\n")
    else:
        for r in reads:
            out.write(f"switch {r.switch}: read once by session {r.session} at {r.read_started} for "
                      f"{len(r.hosts)} host(s): {len(r.files)} outputs in {r.directory} (and {r.directory}.tar, {r.directory}.json)"
                      + (f"; refused: {', '.join(r.failed)}" if r.failed else "") + "\n")
    return ExitCode.OK


def cmd_fleet_verify(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    """`verify --switch-output` against the shared read (its directory, or the .tar `switch-read`
    wrote, unpacked beside it), then with --teardown `teardown`, in one process. Teardown also runs
    when verify stops with an error (nothing is left behind); verify's error is then the one raised."""
    import copy
    import io

    from sriovcheck.fleet.evidence import BUNDLE_SUFFIX, JSON_BUNDLE_SUFFIX, unpack_bundle, unpack_json_bundle
    from sriovcheck.workflow import cmd_teardown, cmd_verify, topology_of

    from_stdin = args.switch_output == "-"
    if from_stdin and not args.report_dir:
        raise UsageError("fleet verify --switch-output -: give --report-dir too (the evidence is kept in it, "
                         "beside the report that used it)", hint="e.g. --report-dir /var/lib/sriovcheck-fleet/report")
    bundle = _stdin_inputs(args) if from_stdin else None
    loaded = topology_of(args)  # read once, for verify and teardown (checked before any evidence is written)
    evidence = Path(args.switch_output)
    if from_stdin:
        target = Path(args.report_dir) / "switch-evidence"
        progress(f"switch evidence: from stdin into {target}")
        evidence = unpack_json_bundle(bundle, target, "stdin (--switch-output -)")
    elif evidence.is_file() and evidence.name.endswith((JSON_BUNDLE_SUFFIX, BUNDLE_SUFFIX)):
        target = unpack_target(evidence, loaded.topology.name, args.report_dir)
        progress(f"switch evidence: unpacking {evidence} into {target}")
        if evidence.name.endswith(JSON_BUNDLE_SUFFIX):
            evidence = unpack_json_bundle(_json_file(evidence), target, str(evidence))
        else:
            evidence = unpack_bundle(evidence, target)
    elif not evidence.is_dir():
        raise UsageError(f"--switch-output {evidence}: neither a directory nor a .tar or .json of saved switch outputs",
                         hint="give what `sriovcheck fleet switch-read` wrote: DIR/<switch>/, DIR/<switch>.tar or "
                         "DIR/<switch>.json (or - for that JSON on stdin)")
    verify_args = copy.copy(args)
    verify_args.switch_output = str(evidence)
    try:
        rc = cmd_verify(verify_args, out, progress)
    except Exception:  # an error, or a bug: either way nothing provisioned is left behind
        if args.teardown:
            _teardown_quietly(args, progress)
        raise
    args.context = getattr(verify_args, "context", None)  # teardown reuses it where it may (workflow.context_of)
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


def unpack_target(bundle: Path, topology: str, report_dir: str | None) -> Path:
    """Where a host's verify unpacks a bundle file: its own directory, never one that another host's verify
    of the same bundle is writing at the same moment (hosts of an emulated rack share this machine):
    REPORT_DIR/switch-evidence, kept beside the report that used it, or else <bundle without suffix>-<topology>/
    beside the bundle."""
    from sriovcheck.fleet.evidence import BUNDLE_SUFFIX, JSON_BUNDLE_SUFFIX

    if report_dir:
        return Path(report_dir) / "switch-evidence"
    stem = bundle.name.removesuffix(JSON_BUNDLE_SUFFIX if bundle.name.endswith(JSON_BUNDLE_SUFFIX) else BUNDLE_SUFFIX)
    return bundle.with_name(f"{stem or 'switch-output'}-{topology}")


def _stdin_inputs(args: argparse.Namespace) -> object:
    """`--switch-output -`: the evidence bundle (JSON) on stdin; with TOPOLOGY `-` too, stdin is one JSON
    object {"topology": "<the topology's YAML>", "switch_output": <the bundle>}. Sets args.loaded then."""
    from sriovcheck.stdin import read_stdin
    from sriovcheck.topology import load_text

    both = args.topology == "-"
    text = read_stdin("the topology and the switch evidence (JSON)" if both else "the switch evidence (JSON)")
    where = "stdin (TOPOLOGY - and --switch-output -)" if both else "stdin (--switch-output -)"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc})", hint=_STDIN_HINT) from None
    if not both:
        return doc
    if not isinstance(doc, dict) or not isinstance(doc.get("topology"), str) or "switch_output" not in doc:
        raise UsageError(f"{where}: a JSON object with \"topology\" (the YAML text) and \"switch_output\" "
                         "(the switch evidence) was expected", hint=_STDIN_HINT)
    unknown = sorted(set(doc) - {"topology", "switch_output"})
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}", hint=_STDIN_HINT)
    args.loaded = load_text(doc["topology"], file="<stdin: topology>")
    return doc["switch_output"]


_STDIN_HINT = ("pipe DIR/<switch>.json of `fleet switch-read`; with TOPOLOGY - as well, "
               "{\"topology\": YAML text, \"switch_output\": that JSON} (README, \"A rack at once\")")


def _json_file(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the switch evidence {path}: {exc}", hint="give what `sriovcheck fleet switch-read` wrote") from None


def _teardown_quietly(args: argparse.Namespace, progress: Progress) -> None:
    import io

    from sriovcheck.errors import SriovcheckError
    from sriovcheck.workflow import cmd_teardown

    try:
        cmd_teardown(args, io.StringIO(), progress)
        progress("torn down after the error above")
    except SriovcheckError as exc:
        progress(f"teardown after the error failed too: {exc.message}")
    except Exception as exc:  # the error above is the one to report; this one is said, not raised
        progress(f"teardown after the error failed too: {type(exc).__name__}: {exc}")
