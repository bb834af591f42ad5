"""Command line: the only place that prints for humans and maps errors to exit codes.

`main(argv) -> int` never raises for anything a user can type; tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

from sriovcheck import __version__
from sriovcheck.errors import ExitCode, SriovcheckError, TopologyError, UsageError

EPILOG = """\
exit codes:
  0    success / every check passed
  1    a check failed or errored
  2    invalid input (topology file, command line)
  3    environment, lab or provisioning error (the run could not start or complete)
  130  interrupted (SIGINT / SIGTERM); what the run changed was rolled back

quickstart (as root, emulated lab, no SR-IOV hardware needed):
  sriovcheck run topologies/seed-lab.yaml --lab --teardown
"""


EXAMPLES = {
    "provision": "examples:\n  sriovcheck provision topologies/seed-lab.yaml --lab      # in the emulated lab\n"
                 "  sriovcheck provision site.yaml                            # on this host (root)\n\n"
                 "exit 0 done or nothing to do, 3 failed (what this run changed is undone), 130 interrupted",
    "teardown": "examples:\n  sriovcheck teardown site.yaml\n  sriovcheck teardown topologies/seed-lab.yaml --lab\n\n"
                "exit 0 done or nothing to do, 3 could not finish (the state file keeps what is left), 130 interrupted",
    "recover": "examples:\n  sriovcheck recover site.yaml\n  sriovcheck recover topologies/seed-lab.yaml --lab\n\n"
               "After a provision or teardown that was killed (kill -9, OOM killer, power loss): brings a VF that was\n"
               "on its way into or out of a container home under its original name (found through its PF, in the\n"
               "host or in any container of the topology, under any name), adopts containers that carry the\n"
               "topology's labels but no record, and removes orphan temporary state files. provision and teardown\n"
               "run it first themselves; then run provision again to finish, or teardown to undo.\n\n"
               "exit 0 done or nothing to do, 3 could not finish (the state file keeps what is left)",
    "verify": "examples:\n  SRIOVCHECK_SWITCH_PASSWORD=... sriovcheck verify site.yaml --report-dir out/\n"
              "  sriovcheck verify site.yaml --switch-output saved/     # switch outputs from files\n\n"
              "exit 0 every check passed, 1 a check failed or errored, 2 invalid input, 3 could not start",
    "run": "examples:\n  sriovcheck run topologies/seed-lab.yaml --lab --teardown     # the whole job in the emulated lab\n"
           "  sriovcheck run site.yaml --customer ACME --executed-by 'J. Doe' --witnessed-by 'A. Customer'\n\n"
           "exit 0 every check passed, 1 a check failed or errored, 2 invalid input, 3 could not start, 130 interrupted",
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so that main() owns exit codes."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")


def _add_topology(p: argparse.ArgumentParser, stdin: bool = False) -> None:
    p.add_argument("topology", metavar="TOPOLOGY", help="topology YAML file (see topologies/ and `sriovcheck schema`)"
                   + ("; - reads it from stdin" if stdin else ""))


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sriovcheck",
        description=(
            "Provision SR-IOV VFs with VLANs into Docker containers from one topology file, then prove "
            "end to end that they work: pings to each VLAN gateway from inside the containers, the "
            "containers' ARP, and the Juniper switch's MAC and ARP tables matched VF by VF. Writes an "
            "HTML handover report and a JUnit report. `--lab` runs everything against an emulated NIC "
            "and switch, on any Linux machine."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sriovcheck {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug detail on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "validate",
        help="check a topology file (schema and semantics), every problem at once",
        description="Check a topology file: schema (unknown keys are errors) and semantics "
        "(VF indexes, VLANs, addresses, MACs, names). Exit 0 when valid, 2 with every problem "
        "listed as FILE:LINE:COL: PATH: MESSAGE otherwise.",
    )
    _add_topology(p)
    _add_json(p)

    sub.add_parser(
        "schema",
        help="print the topology file's JSON Schema",
        description="Print the JSON Schema of the topology file (topologies/topology.schema.json is this output).",
    )

    p = sub.add_parser(
        "plan",
        help="show the ordered provisioning actions without touching the system (dry run)",
        description="Compute, from the topology alone, the ordered actions `provision` takes.",
    )
    _add_topology(p)
    _add_json(p)
    p.add_argument("--lab", action="store_true", help="plan for the emulated lab (its offline image replaces the topology's)")

    p = sub.add_parser(
        "preflight",
        help="check the host before provisioning: PFs, VFs, IOMMU, privileges, docker",
        description="Report per PF whether it exists and can do SR-IOV, its VFs (PCI address, "
        "driver, netdev resolved through sysfs), IOMMU state, privileges and the docker engine, and "
        "each VF setting the PF's driver refuses or takes only under a condition (a capability table for "
        "igb, ixgbe, i40e, ice and mlx5_core, with the driver source each fact comes from). "
        "Exit 3 when something blocks provisioning.",
    )
    _add_topology(p)
    _add_json(p)
    p.add_argument("--lab", action="store_true", help="check against the emulated lab of this topology")

    p = sub.add_parser("discover", help="list this host's SR-IOV capable NICs (like `lshw -c network -businfo`)")
    _add_json(p)
    p.add_argument("--skeleton", action="store_true", help="print a starter topology file for this host")

    p = sub.add_parser(
        "persist",
        help="make the VF count and VF settings survive reboots (systemd unit)",
        description="Render a systemd unit that recreates the topology's VF count and VF settings at "
        "boot, install and enable it (or only print it with --print).",
    )
    _add_topology(p)
    p.add_argument("--print", dest="print_only", action="store_true", help="print the unit instead of installing it")

    for name, text in (
        ("provision", "create VFs, set their VLANs, start the containers and move each VF in"),
        ("teardown", "bring every VF home with its original name and settings, remove our containers"),
        ("recover", "settle what a killed provision or teardown left (provision and teardown do it first)"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".", epilog=EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_topology(p, stdin=name != "recover")
        _add_json(p)
        p.add_argument("--lab", action="store_true", help="use the emulated lab of this topology (brought up if needed)")

    for name, text in (
        ("verify", "verify end to end: container to gateway to switch, and write reports"),
        ("run", "provision, verify and write reports (with --teardown, tear down afterwards)"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".", epilog=EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_topology(p, stdin=name == "verify")
        p.add_argument("--lab", action="store_true", help="use the emulated lab of this topology (brought up if needed)")
        p.add_argument(
            "--report-dir",
            metavar="DIR",
            help="write results.json, report.html and junit.xml here "
            "(default: reports/<topology>/<UTC time>/, with reports/<topology>/latest)",
        )
        p.add_argument("--json", action="store_true", help="print results.json on stdout instead of the summary")
        h = p.add_argument_group("handover (shown on the report's first page; override the topology's handover section)")
        for opt, what in (("--customer", "customer name"), ("--site", "site"), ("--rack", "rack"),
                          ("--executed-by", "who ran the acceptance"), ("--witnessed-by", "who witnessed it for the customer")):
            h.add_argument(opt, metavar="TEXT", help=what)
        if name == "verify":
            p.add_argument("--switch-output", metavar="DIR", help="read saved switch outputs from DIR instead of logging in")
        else:
            p.add_argument(
                "--teardown", action="store_true", help="tear down after verifying (lab: also bring it down if run brought it up)"
            )

    p = sub.add_parser("report", help="render report.html and junit.xml again from a saved results.json")
    p.add_argument("results", metavar="RESULTS.json")
    p.add_argument("--html", metavar="FILE", help="write the HTML report here (default: next to RESULTS.json)")
    p.add_argument("--junit", metavar="FILE", help="write the JUnit XML here (default: next to RESULTS.json)")

    p = sub.add_parser("diff", help="compare two runs: new failures, fixed checks, changed observations (CI gating)",
                       description="Compare two results.json check by check: new failures, fixed checks, vanished checks, "
                       "a VF MAC that moved port or VLAN or changed, an RTT that grew past --rtt-factor x the old one, a changed "
                       "switch host key. Ages, timestamps, durations and counters are ignored. Exit 1 when anything got worse.")
    p.add_argument("old", metavar="OLD/results.json")
    p.add_argument("new", metavar="NEW/results.json")
    p.add_argument("--junit", metavar="FILE", help="also write the comparison as JUnit XML (a failure per regression)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--rtt-factor", type=float, default=2.0, metavar="X",
                   help="an RTT counts as grown past X times the old one (and at least 1 ms more); default 2")

    p = sub.add_parser(
        "fleet-report",
        help="merge many hosts' results.json into one fleet report (HTML, JUnit, JSON)",
        description="Merge the results.json of many hosts (a rack) into one HTML page (the verdict per host, a "
        "host x check-kind matrix, failures and root causes first, the switches with when and by which session their "
        "evidence was read, each host linked to its own report.html), one JUnit document with a test suite per host, "
        "and a JSON summary. Exit 1 when any host failed.",
        epilog="example:\n  sriovcheck fleet-report fleet/*/results.json --html fleet/index.html --junit fleet/junit.xml "
        "--json fleet/summary.json\n  ... | sriovcheck fleet-report --collect fleet/hosts --html fleet/index.html   "
        "# stdin: {\"node01\": <results.json>, ...}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", nargs="*", metavar="RESULTS.json", help="a host's results.json (or the directory holding it)")
    p.add_argument("--collect", metavar="DIR", help="instead of files: read {host: its results.json} as JSON on stdin (what "
                   "`fleet verify --json` printed on each host), write DIR/<host>/results.json and render each host's "
                   "report there (the Ansible content collects so, without a file transfer per host)")
    p.add_argument("--host-files", metavar="LIST", help="with --collect, the files written per host: results.json plus any "
                   "of report.html, junit.xml (comma-separated; default results.json,report.html)")
    p.add_argument("--html", metavar="FILE", help="write the fleet page here (host links are relative to its folder)")
    p.add_argument("--junit", metavar="FILE", help="write one JUnit document, a test suite per host, here")
    p.add_argument("--json", metavar="FILE", help="write the JSON summary here")
    p.add_argument("--title", metavar="TEXT", help="the page's title (e.g. the rack's name)")

    fleet = sub.add_parser(
        "fleet",
        help="a rack at once: traffic before the shared switch read, one switch login per switch",
        description="Steps of a fleet run (the Ansible content in ansible/ runs them in order): every host "
        "provisions and sends `traffic`; the controller runs `switch-read` once per switch for all hosts that name it; "
        "every host runs `verify --switch-output DIR/<switch>`; the controller merges with `fleet-report`.",
    )
    fsub = fleet.add_subparsers(dest="fleet_command", metavar="FLEET_COMMAND", parser_class=_Parser)
    p = fsub.add_parser("traffic", help="ping every VF's gateway once, so that the switch learns MACs and ARP entries",
                        description="Ping every VF's gateway once from inside its container, so that the switch has "
                        "learned the VFs' MACs and ARP entries before the controller reads it. Exit 0 when every ping "
                        "was answered, 1 otherwise (verify then says why).")
    _add_topology(p, stdin=True)
    p.add_argument("--lab", action="store_true", help="against the emulated lab (or rack) of the topology")
    p.add_argument("--provision", action="store_true", help="provision first, in the same process (as `sriovcheck provision`)")
    p.add_argument("--hold", metavar="SOCKET", type=_hold_path,
                   help="then keep this process, its modules loaded, waiting on the unix socket SOCKET for the "
                   "`fleet verify --held SOCKET` that follows on this host: verify then starts without Python's "
                   "start-up and imports (sriovcheck.fleet.hold). It serves one command, then exits")
    p.add_argument("--hold-timeout", metavar="SECONDS", type=_positive_seconds, default=None,
                   help="with --hold: exit when no verify came within SECONDS (default 1800)")
    _add_json(p)
    p = fsub.add_parser("verify", help="verify against the shared switch read (DIR or .tar), then optionally tear down",
                        description="`verify --switch-output` against what `fleet switch-read` saved: its directory, or "
                        "its DIR/<switch>.tar or DIR/<switch>.json (unpacked into REPORT_DIR/switch-evidence/, or beside the file as "
                        "<switch>-<topology name>/), or - for that JSON on stdin "
                        "(kept in REPORT_DIR/switch-evidence/). With TOPOLOGY - as well, stdin is one JSON object "
                        "{\"topology\": \"<YAML>\", \"switch_output\": <DIR/<switch>.json>}. With --teardown, tear down "
                        "afterwards in the same process, also when verify stops with an error. Exit codes as verify's.",
                        epilog="example:\n  sriovcheck fleet verify node01.yaml --switch-output evidence/tor-a.tar "
                        "--report-dir report --teardown\n  sriovcheck fleet verify node01.yaml --switch-output - "
                        "--report-dir report --json < evidence/tor-a.json", formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_topology(p, stdin=True)
    p.add_argument("--switch-output", required=True, metavar="DIR|FILE.tar|FILE.json|-",
                   help="the switch evidence of the shared read (- : its JSON on stdin)")
    p.add_argument("--report-dir", metavar="DIR", help="write results.json, report.html and junit.xml here")
    p.add_argument("--lab", action="store_true", help="against the emulated lab (or rack) of the topology")
    p.add_argument("--teardown", action="store_true", help="tear down after verifying (every VF home, containers removed)")
    p.add_argument("--json", action="store_true", help="print results.json on stdout instead of the summary")
    p.add_argument("--no-html", action="store_true", help="write results.json and junit.xml only: the controller renders "
                   "report.html from results.json (`fleet-report --collect`, or `sriovcheck report`)")
    p.add_argument("--held", metavar="SOCKET", type=_hold_path,
                   help="run in the process `fleet traffic --hold SOCKET` kept on this host, if it is there; "
                   "otherwise here, as without this option")
    p = fsub.add_parser("switch-read", help="log into each switch once and save what all the hosts naming it need",
                        description="Group the topologies by the switch they name; log into each switch ONCE and save, in "
                        "the saved-output format of `verify --switch-output`, every output the group's hosts need, with "
                        "session.json (when, which session). Writes DIR/<switch>/.",
                        epilog="example:\n  sriovcheck fleet switch-read hosts/*.yaml --out evidence/\n"
                        "  sriovcheck verify hosts/node01.yaml --switch-output evidence/tor-a",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("topologies", nargs="+", metavar="TOPOLOGY", help="the hosts' topology files")
    p.add_argument("--out", required=True, metavar="DIR", help="write each switch's outputs to DIR/<switch name>/")
    p.add_argument("--lab", action="store_true", help="read the emulated rack's switch")
    _add_json(p)

    lab = sub.add_parser(
        "lab",
        help="the emulated lab: an SR-IOV NIC and a Junos switch in network namespaces",
        description="Bring up, inspect, break and remove the emulated lab of a topology; or run the whole job on a "
        "real kernel SR-IOV NIC, QEMU's igb in a VM, with `vm-run`.",
    )
    lsub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", parser_class=_Parser)
    rack_help = ("more topologies: an emulated rack; topologies that name the same switch share one emulated "
                 "switch (their PFs on its ports), each host topology then runs with --lab against it")
    for name, text in (("up", "build the lab (idempotent)"), ("down", "remove everything `up` made (idempotent)")):
        p = lsub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _add_topology(p)
        p.add_argument("more", nargs="*", metavar="TOPOLOGY", help=rack_help)
        _add_json(p)
        if name == "down":
            p.description = (
                "Remove everything `up` made (idempotent). Refused (exit 3, nothing removed) while containers "
                "labelled with the topology exist: run `teardown --lab` first, or pass --force. Exit 3 also "
                "when something could not be removed, naming it."
            )
            p.add_argument("--force", action="store_true",
                           help="also remove the topology's containers (io.sriovcheck.topology label)")
    p = lsub.add_parser("status", help="show the lab: emulator address, namespaces, fabric map, faults")
    _add_topology(p)
    p.add_argument("more", nargs="*", metavar="TOPOLOGY", help=rack_help)
    _add_json(p)
    p = lsub.add_parser(
        "fault", help="inject or clear a fault", description=FAULT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_topology(p)
    p.add_argument("kind", metavar="KIND", help="fault kind (see above)")
    p.add_argument("args", nargs="*", metavar="ARG", help="arguments of the fault kind")
    from sriovcheck.vmlab.command import add_parser as add_vm_run

    add_vm_run(lsub)
    return parser


FAULT_HELP = """\
Inject a fault into the emulated lab, or clear it:
  vlan-remove PORT VLAN     the switch port no longer carries the VLAN
  vlan-add PORT VLAN        ... carries it again
  gateway-down VLAN         the VLAN's L3 interface (vlan.N / irb.N) goes down
  gateway-up VLAN
  pf-down PF                the PF's link goes down (VFs with link_state auto lose carrier)
  pf-up PF
  login-refuse              the switch refuses every login
  login-accept
  session-drop REGEX|off    the switch drops the SSH session on a matching command
  command-hang REGEX|off    the switch never answers a matching command
  garble on|off             the switch mangles its outputs
  lldp-off PF               the host stops sending LLDP on PF (NIC firmware agents do that)
  lldp-on PF
  port-mtu PORT MTU         the switch port's MTU (256-9216; the configured value again clears it)
  background-table MACS ARPS  the switch also carries MACS learned MACs (up to 100000) and ARPS ARP
                            entries (up to 20000) of other hosts, on other ports and VLANs; 0 0 removes them
  clear                     remove every fault
"""


# --------------------------------------------------------------------------- output helpers


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, indent=2, default=str) + "\n")


def _hold_path(value: str) -> str:
    from sriovcheck.fleet.hold import check_path

    why = check_path(value)
    if why is not None:
        raise argparse.ArgumentTypeError(f"{value!r} cannot be a unix socket's path: {why}")
    return value


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds < 1e7:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return seconds


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from sriovcheck.topology import load_topology

    try:
        loaded = load_topology(args.topology)
    except TopologyError as exc:
        if args.json:
            _print_json({"valid": False, "problems": [p.as_dict() for p in exc.problems]}, out)
            return ExitCode.INVALID_INPUT
        raise
    t = loaded.topology
    if args.json:
        _print_json(
            {
                "valid": True,
                "topology": t.name,
                "sha256": loaded.sha256,
                "pfs": len(t.host.pfs),
                "vlans": len(t.vlans),
                "containers": len(t.containers),
                "vfs": len(t.attachments()),
            },
            out,
        )
    else:
        out.write(
            f"{args.topology}: valid topology {t.name!r}: {len(t.host.pfs)} PF(s), {len(t.vlans)} VLAN(s), "
            f"{len(t.containers)} container(s), {len(t.attachments())} VF attachment(s)\n"
        )
    return ExitCode.OK


def schema_text() -> str:
    from sriovcheck.topology.model import Topology

    schema = Topology.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "sriovcheck topology", **schema}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    out.write(schema_text())
    return ExitCode.OK


def cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    from sriovcheck.provision.plan import build_plan
    from sriovcheck.topology import load_topology

    loaded = load_topology(args.topology)
    image = None
    if args.lab:
        from sriovcheck.containers.image import LAB_IMAGE

        image = LAB_IMAGE
    actions = build_plan(loaded.topology, image_override=image)
    if args.json:
        _print_json(
            {
                "topology": loaded.topology.name,
                "actions": [
                    {"step": a.step, "kind": a.kind, "target": a.target, "description": a.describe(), "detail": a.detail} for a in actions
                ],
            },
            out,
        )
    else:
        out.write(f"plan for {loaded.topology.name!r} ({len(actions)} actions, nothing is changed):\n")
        for a in actions:
            out.write(f"  {a.step:3d}. [{a.kind}] {a.describe()}\n")
    return ExitCode.OK


def _workflow() -> Any:
    from sriovcheck import workflow

    return workflow


def cmd_other(args: argparse.Namespace, out: TextIO) -> int:
    handler: Callable[[argparse.Namespace, TextIO, Callable[[str], None]], int] = getattr(
        _workflow(), "cmd_" + args.command.replace("-", "_")
    )
    return handler(args, out, _progress)


def cmd_lab(args: argparse.Namespace, out: TextIO) -> int:
    if not args.lab_command:
        raise UsageError("sriovcheck lab: a lab command is required (up, down, status, fault, vm-run)", hint="see `sriovcheck lab --help`")
    if args.lab_command == "vm-run":
        from sriovcheck.vmlab.command import cmd_lab_vm_run

        return cmd_lab_vm_run(args, out, _progress)
    if getattr(args, "more", None):  # several topologies: the emulated rack (sriovcheck.fleet)
        from sriovcheck.fleet import commands

        rack_handler: Callable[[argparse.Namespace, TextIO, Callable[[str], None]], int] = getattr(
            commands, "cmd_lab_rack_" + args.lab_command
        )
        return rack_handler(args, out, _progress)
    handler: Callable[[argparse.Namespace, TextIO, Callable[[str], None]], int] = getattr(_workflow(), "cmd_lab_" + args.lab_command)
    return handler(args, out, _progress)


def cmd_fleet(args: argparse.Namespace, out: TextIO) -> int:
    from sriovcheck.fleet import commands

    if args.command == "fleet" and not args.fleet_command:
        raise UsageError("sriovcheck fleet: a fleet command is required (traffic, switch-read, verify)",
                         hint="see `sriovcheck fleet --help`")
    name = args.command if args.command != "fleet" else "fleet_" + args.fleet_command
    handler: Callable[[argparse.Namespace, TextIO, Callable[[str], None]], int] = getattr(
        commands, "cmd_" + name.replace("-", "_")
    )
    return handler(args, out, _progress)


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "validate": cmd_validate,
    "schema": cmd_schema,
    "plan": cmd_plan,
    "lab": cmd_lab,
    "fleet-report": cmd_fleet,
    "fleet": cmd_fleet,
}


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same path as Ctrl-C: the engines catch KeyboardInterrupt at safe points,
    # roll back what this run changed, and the CLI exits 130.
    raise KeyboardInterrupt


# Optional dependencies (module -> the pyproject extra that installs it): missing one is an
# environment problem with a fix, not a bug.
OPTIONAL_MODULES = {"asyncssh": "lab"}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, may_hold: bool = False) -> int:
    """Run one command; MAY_HOLD: this is the process's entry (main_entry), which may keep the process for
    the next command (`fleet traffic --hold`); main() called in-process never forks."""
    from sriovcheck.timeline import mark

    mark("cli: imports done")
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("SRIOVCHECK_DEBUG") == "1"
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    except SriovcheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    if not args.command:
        parser.print_help(sys.stderr)
        return ExitCode.INVALID_INPUT
    args.may_hold = may_hold
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        handler = COMMANDS.get(args.command, cmd_other)
        return int(handler(args, out))
    except SriovcheckError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except ModuleNotFoundError as exc:
        if exc.name not in OPTIONAL_MODULES:
            raise_as_bug = exc
        else:
            extra = OPTIONAL_MODULES[exc.name]
            print(
                f"error: the Python package {exc.name} is not installed; `{args.command}` needs the {extra!r} extra\n"
                f"  hint: pip install 'sriovcheck[{extra}]' (from a checkout: pip install '.[{extra}]'), "
                "or run bash scripts/setup.sh",
                file=sys.stderr,
            )
            return ExitCode.ENVIRONMENT
        if debug:
            traceback.print_exc()
        print(
            f"internal error: {type(raise_as_bug).__name__}: {raise_as_bug}\n  this is a bug in sriovcheck; "
            "rerun with --debug and report the traceback",
            file=sys.stderr,
        )
        return ExitCode.ENVIRONMENT
    except Exception as exc:  # a bug: say so plainly, traceback only with --debug
        if debug:
            traceback.print_exc()
        print(
            f"internal error: {type(exc).__name__}: {exc}\n  this is a bug in sriovcheck; rerun with --debug and report the traceback",
            file=sys.stderr,
        )
        return ExitCode.ENVIRONMENT
    finally:
        signal.signal(signal.SIGTERM, previous)
        fabric = sys.modules.get("sriovcheck.lab.fabric")
        if fabric is not None:  # the emulated NIC's kept sockets: no lab namespace outlives the command
            fabric.close_kept_sockets()


def main_entry() -> NoReturn:
    # A command runs for seconds and keeps nearly everything it builds to its end (modules, models, the
    # topology, netlink answers, results): the cyclic collector walked that growing heap again and again
    # and found little - 10-17 % of a command's CPU (fleet verify ~0.1 of ~1 CPU-s, fleet switch-read
    # 0.25 of 1.4), for 2-11 MB of memory kept (benchmarks/RESULTS.md, session 7). Reference counting
    # frees all else as always. Only this process entry: main() called in-process (tests) keeps its collector.
    gc.disable()
    # The handler stays for the whole process: a signal that lands after a command's work is done,
    # but before the process has exited, still ends it as "interrupted" (130), not killed by it.
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = main(may_hold=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    hold = sys.modules.get("sriovcheck.fleet.hold")
    if hold is not None:  # `fleet traffic --hold`: the parent goes on to exit with CODE; the child serves verify
        try:
            hold.detach_if_requested(code, _progress, main)
        except KeyboardInterrupt:
            code = ExitCode.INTERRUPTED
    # From here the process only exits. Interpreter shutdown resets the handlers to the defaults, so a
    # signal then would kill it (-15) instead of ending it as interrupted: hold them, and one that
    # arrived meanwhile still counts.
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    # Everything alive now lives until the process ends: the interpreter's collections at shutdown
    # would only walk it (verify at 32 VFs: ~0.08 s of a 1.5 s run). Frozen objects are still freed
    # by reference counting as the modules are torn down; stdout and stderr are flushed as always,
    # and an exception or exit code is not affected.
    gc.freeze()
    from sriovcheck.timeline import mark

    mark("exiting")
    if code != ExitCode.INTERRUPTED and signal.sigpending() & stop:
        print("interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main_entry()

__all__ = ["Path", "build_parser", "main", "main_entry", "schema_text"]
