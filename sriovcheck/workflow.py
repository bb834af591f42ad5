"""Composition: builds the real or emulated drivers for a command and runs the engines.

`cli.py` parses arguments and maps errors to exit codes; this module wires the layers
(host driver, container runtime, namespace operations, switch session) for each command
and prints what it did. `--lab` swaps in the emulated lab's host driver, switch address and
image; nothing else changes.
"""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sriovcheck import __version__
from sriovcheck.containers.runtime import ContainerRuntime
from sriovcheck.errors import ExitCode, LabError, SwitchError, UsageError
from sriovcheck.host.driver import HostDriver
from sriovcheck.provision.engine import Provisioner, ProvisionReport
from sriovcheck.provision.state import ProvisionState, StateStore
from sriovcheck.statefiles import forget_topology_dir, topology_lock
from sriovcheck.stdin import read_stdin
from sriovcheck.timeline import mark
from sriovcheck.topology import LoadedTopology, load_topology
from sriovcheck.topology.model import Switch, Topology

# What only verifying and reporting need (results, reports, switch sessions, waivers) is imported where it
# is used: provisioning and tearing down do without it (a rack host's `fleet traffic --provision`, ~25 ms).

if TYPE_CHECKING:
    from sriovcheck.containers.docker_runtime import DockerRuntime
    from sriovcheck.switch.client import SwitchSession
    from sriovcheck.verify.results import CheckResult, RunResults

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- adapters over the kernel


class KernelNetns:
    """NetnsOps / ProbeOps over sriovcheck.host.netns and sriovcheck.host.probe (pyroute2, raw sockets)."""

    def attach_vf(
        self, host_ifname: str, *, netns_path: str, ifname: str, address_cidr: str, mtu: int | None, mac: str | None, temp_name: str
    ) -> Any:
        from sriovcheck.host import netns

        return netns.attach_vf(
            host_ifname, netns_path=netns_path, ifname=ifname, address_cidr=address_cidr, mtu=mtu, mac=mac, temp_name=temp_name
        )

    def detach_vf(self, ifname: str, *, netns_path: str, host_ifname: str, temp_name: str | None = None) -> None:
        from sriovcheck.host import netns

        netns.detach_vf(ifname, netns_path=netns_path, host_ifname=host_ifname, temp_name=temp_name)

    def read_link(self, ns: str | None, ifname: str) -> Any:
        from sriovcheck.host import netns

        return netns.read_link(ns, ifname)

    def find_link_by_mac(self, ns: str | None, mac: str) -> Any:
        from sriovcheck.host import netns

        return netns.find_link_by_mac(ns, mac)

    def set_host_link(self, ifname: str, *, new_name: str | None = None, mtu: int | None = None) -> None:
        from sriovcheck.host import netns

        def body(ipr: Any) -> None:
            idx = ipr.link_lookup(ifname=ifname)
            if not idx:
                return
            changes: dict[str, Any] = {}
            if new_name:
                changes["ifname"] = new_name
            if mtu:
                changes["mtu"] = mtu
            if changes:
                ipr.link("set", index=idx[0], state="down")
                ipr.link("set", index=idx[0], **changes)

        netns.with_iproute(None, body)

    def neighbours(self, ns: str, ifname: str | None = None) -> Any:
        from sriovcheck.host import netns

        return netns.neighbours(ns, ifname)

    def ping_many(self, requests: list[dict[str, Any]]) -> Any:
        from sriovcheck.host import probe

        return probe.ping_many([probe.PingRequest(**r) for r in requests])

    def arp_probe(self, ns: str, ifname: str, *, sender_ip: str, target_ip: str) -> str | None:
        from sriovcheck.host import probe

        return probe.arp_probe(ns, ifname, sender_ip=sender_ip, target_ip=target_ip)

    def arp_probe_many(
        self, requests: list[dict[str, Any]], *, frames: int, spacing_s: float, deadline: Callable[[float, float], float | None]
    ) -> list[tuple[str | None, str | None]]:
        from sriovcheck.host import probe

        return probe.arp_probe_many([probe.ArpProbeRequest(**r) for r in requests], frames=frames, spacing_s=spacing_s,
                                    deadline=deadline)


@dataclass
class Context:
    loaded: LoadedTopology
    lab: bool
    host: HostDriver
    runtime: ContainerRuntime
    netns: KernelNetns
    image_override: str | None
    lab_status: Any = None
    lab_brought_up: bool = False
    rack_member: bool = False  # a host of an emulated rack: its lab is the rack's, which it cannot repair

    @property
    def name(self) -> str:
        return self.loaded.topology.name


def _docker_runtime(*, lab: bool = False) -> DockerRuntime:
    from sriovcheck.containers.docker_runtime import DockerRuntime

    return DockerRuntime(bare_none=lab)  # the lab's stand-in containers on `none` only hold VFs


def build_context(loaded: LoadedTopology, *, lab: bool, progress: Progress, bring_lab_up: bool = True, repair_lab: bool = True) -> Context:
    runtime = _docker_runtime(lab=lab)
    if not lab:
        from sriovcheck.host.linux import LinuxHostDriver
        from sriovcheck.host.netns import with_iproute
        from sriovcheck.host.sysfs import default_sysfs_root

        def ipr_factory() -> Any:
            from sriovcheck.host.netlink import IPRoute

            return IPRoute()

        _ = with_iproute
        return Context(loaded, False, LinuxHostDriver(default_sysfs_root(), ipr_factory=ipr_factory), runtime, KernelNetns(), None)
    from concurrent.futures import ThreadPoolExecutor

    from sriovcheck.containers.image import LAB_IMAGE, ensure_lab_image
    from sriovcheck.lab import manager
    from sriovcheck.lab.host_driver import EmulatedHostDriver
    from sriovcheck.lab.rack import rack_lab_of
    from sriovcheck.lab.state import exists as lab_exists
    from sriovcheck.lab.state import lab_dir

    lab_name = rack_lab_of(loaded.topology.name) or loaded.topology.name  # a rack member uses the rack's lab
    # The lab's status (netlink dumps) and the docker engine's answers are independent waits: side by side.
    with ThreadPoolExecutor(max_workers=1) as side:
        engine = side.submit(runtime.engine_version)
        # The full kernel read (every port, gateway and VF: netlink dumps, ~0.4 s at 32 VFs) only serves a
        # command that repairs the lab. Verification observes (its checks report a broken cable), and a rack
        # member only needs the shared lab to be there (it cannot repair it anyway).
        status = manager.lab_status(lab_name, kernel=repair_lab and lab_name == loaded.topology.name)
        mark("lab status read")
        engine.result()
        mark("docker engine answered")
    brought_up = False
    if not status.up and lab_name != loaded.topology.name:
        raise LabError(
            f"{loaded.topology.name!r} is a host of the emulated rack {lab_name!r}, which is not up: "
            + ("; ".join(status.problems) or "its lab is down"),
            hint="bring the rack up again with `sriovcheck lab up` and all of its topologies",
        )
    if not status.up and not repair_lab and lab_exists(lab_dir(lab_name)):
        # Verification observes; it must not mend what it is asked to look at (a stopped emulator,
        # a missing cable): the checks report it instead.
        progress(f"the emulated lab of {loaded.topology.name!r} is damaged; verifying it as it is: " + "; ".join(status.problems))
    elif not status.up:
        if not bring_lab_up:
            raise LabError(
                f"the emulated lab of {loaded.topology.name!r} is not up",
                hint=f"run `sriovcheck lab up {loaded.file}` first, or pass --lab to provision/run",
            )
        progress(f"bringing the emulated lab of {loaded.topology.name!r} up")
        status = manager.lab_up(loaded.topology)
        brought_up = True
    progress(f"lab image: {LAB_IMAGE} (made offline from busybox; replaces the topology's images in lab mode)")
    ensure_lab_image(runtime.client())
    mark("lab image there")
    host = EmulatedHostDriver(lab_dir(lab_name), nic_driver=loaded.topology.lab.nic_driver)
    return Context(loaded, True, host, runtime, KernelNetns(), LAB_IMAGE, status, brought_up,
                   rack_member=lab_name != loaded.topology.name)


def context_of(args: argparse.Namespace, loaded: LoadedTopology, *, progress: Progress, bring_lab_up: bool = True,
               repair_lab: bool = True) -> Context:
    """The command's context (`build_context`), kept on `args` for a second command in the same process
    (`fleet traffic --provision`, `fleet verify --teardown`), which reuses it when building it again
    would find the same: not the emulated lab, or a host of an emulated rack (its lab's status is the
    same short look for every command, and a host cannot repair the rack). A lab of its own is looked
    at again: teardown repairs what verify only observed. On a rack each host's two commands share one
    process, and the second build (lab status, docker engine, lab image) was ~40 ms of it."""
    ctx: Context | None = getattr(args, "context", None)
    if ctx is not None and ctx.loaded is loaded and ctx.lab == bool(args.lab) and (not ctx.lab or ctx.rack_member):
        return ctx
    ctx = build_context(loaded, lab=args.lab, progress=progress, bring_lab_up=bring_lab_up, repair_lab=repair_lab)
    args.context = ctx
    return ctx


def _provisioner(ctx: Context, progress: Progress) -> Provisioner:
    return Provisioner(
        ctx.loaded.topology,
        host=ctx.host,
        runtime=ctx.runtime,
        netns=ctx.netns,
        store=StateStore(ctx.name),
        image_override=ctx.image_override,
        progress=progress,
    )


def _print_provision(report: ProvisionReport, out: TextIO, as_json: bool, verb: str) -> None:
    if as_json:
        out.write(json.dumps(report.as_dict(), indent=2) + "\n")
        return
    if not report.changed:
        out.write(
            "torn down: nothing to tear down\n"
            if verb == "torn down"
            else f"{verb}: nothing to change, everything is already as the topology says\n"
        )
        return
    width = max((len(o.target) for o in report.outcomes), default=10)
    out.write(f"{verb}:\n")
    for o in report.outcomes:
        out.write(f"  {o.action:<17} {o.target:<{width}}  {o.result:<9} {o.detail}\n")


# --------------------------------------------------------------------------- commands

def topology_of(args: argparse.Namespace) -> LoadedTopology:
    """The topology a command works on, read once: `args.loaded` when the caller has it already (one
    process that provisions and sends traffic, or verifies and tears down), else args.topology - a file,
    or `-` for YAML on stdin (a fleet run gives it so, without a copy of the file to each host)."""
    from sriovcheck.topology import load_text

    loaded = getattr(args, "loaded", None)
    if loaded is None:
        loaded = load_text(read_stdin("a topology (YAML)"), file="<stdin>") if args.topology == "-" else load_topology(args.topology)
        args.loaded = loaded
    return loaded


def cmd_provision(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    loaded = topology_of(args)
    with topology_lock(loaded.topology.name, what="provision"):
        ctx = context_of(args, loaded, progress=progress)
        report = _provisioner(ctx, progress).provision()
    _print_provision(report, out, args.json, "provisioned")
    return ExitCode.OK


def cmd_teardown(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    loaded = topology_of(args)
    with topology_lock(loaded.topology.name, what="teardown"):
        ctx = context_of(args, loaded, progress=progress)
        report = _provisioner(ctx, progress).teardown()
    _print_provision(report, out, args.json, "torn down")
    return ExitCode.OK


def cmd_recover(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    """Settle what a killed provision or teardown left (provision and teardown do this first too)."""
    loaded = load_topology(args.topology)
    with topology_lock(loaded.topology.name, what="recover"):
        ctx = build_context(loaded, lab=args.lab, progress=progress, bring_lab_up=True)
        engine = _provisioner(ctx, progress)
        state = engine.store.load() or ProvisionState(topology=ctx.name, host_driver=ctx.host.kind)
        done = engine.recover(state)
    if args.json:
        out.write(json.dumps({"recovered": done}, indent=2) + "\n")
    else:
        out.write(("recovered:\n" + "".join(f"  {d}\n" for d in done)) if done
                  else "nothing to recover: no step was cut short\n")
    return ExitCode.OK


def _open_switch_factory(ctx: Context, switch_output: str | None) -> Callable[[], SwitchSession]:
    t = ctx.loaded.topology
    if switch_output:
        from sriovcheck.switch.offline import SavedOutputSwitch

        return lambda: SavedOutputSwitch(Path(switch_output), platform=t.switch.platform)

    def open_real() -> SwitchSession:
        return open_switch_session(t.switch, ctx.lab_status if ctx.lab else None)

    return open_real


def open_switch_session(sw: Switch, lab_status: Any = None) -> SwitchSession:
    """A live session to the switch `sw` (a topology's switch section) over SSH, its host key checked;
    with `lab_status` (an emulated lab's or rack's status), to that lab's emulated switch instead.
    Also the fleet's one login per switch (`sriovcheck fleet switch-read`)."""
    from sriovcheck.switch.hostkeys import check_host_key
    from sriovcheck.switch.netmiko_client import NetmikoSwitch

    password = os.environ.get(sw.password_env) if sw.password_env else None
    host, port, key_file, known_hosts = sw.host, sw.port, sw.key_file, sw.known_hosts
    if lab_status is not None:
        emu = lab_status.emulator
        host, port, known_hosts = emu["host"], emu["port"], None
        if password is None:
            key_file = lab_status.client_key_path
    elif password is None and key_file is None:
        raise SwitchError(
            f"no password for switch {sw.name}: the environment variable {sw.password_env} is not set",
            hint=f"export {sw.password_env}=... (or set switch.key_file in the topology)",
        )
    session = NetmikoSwitch(
        host=host,
        port=port,
        username=sw.username,
        password=password,
        key_file=os.path.expanduser(key_file) if key_file else None,
        known_hosts=os.path.expanduser(known_hosts) if known_hosts else None,
        timeout_s=sw.timeout_s,
        name=sw.name,
        password_env=sw.password_env,
        device_type=sw.platform,
    )
    session.open()
    expected = lab_status.emulator.get("host_key_fingerprint") if lab_status is not None else None
    try:
        if known_hosts is None:
            check_host_key(sw.name, host, port, session.facts.host_key_fingerprint, expected=expected)
    except SwitchError:
        session.close()
        raise
    return session


def prepare_report_dir(name: str, report_dir: str | None) -> Path:
    """Make the report directory before anything is touched, so that an unusable one is found
    out at once and not after provisioning and verifying."""
    directory = Path(report_dir) if report_dir else Path("reports") / name / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"--report-dir {directory}: it, or a folder above it, is a file", hint="give a directory (it is created if missing)"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot create the report directory {directory}: {exc.strerror or exc}", hint="give a writable directory with --report-dir"
        ) from None
    return directory


def _pf_looks(ctx: Context) -> dict[str, Any]:
    """Each PF's look (None when it cannot be had), once for the host facts and the attachments."""
    looks: dict[str, Any] = {}
    for pf in ctx.loaded.topology.host.pfs:
        try:
            looks[pf.name] = ctx.host.pf_info(pf.name)
        except Exception:  # best effort: the checks report real problems
            looks[pf.name] = None
    return looks


def _host_facts(ctx: Context, looks: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "name": ctx.loaded.topology.host.name,
        "machine": socket.gethostname(),
        "kernel": platform.release(),
        "driver": ctx.host.kind,
        "lab": ctx.lab,
        "lab_image": ctx.image_override,
    }
    facts["nic_drivers"] = sorted({info.driver for info in looks.values() if info is not None and info.driver})
    return facts


def _attachments(ctx: Context, observed_macs: dict[str, str], looks: dict[str, Any]) -> list[dict[str, Any]]:
    t = ctx.loaded.topology
    out = []
    # One PF look lists every VF's PCI address (a look per VF costs a netlink dump each: 0.35 s at 32 VFs).
    pcis: dict[tuple[str, int], str | None] = {}
    for name, info in looks.items():
        if info is not None:
            pcis.update({(name, v.index): v.pci_address for v in info.vfs})
    for ct, spec in t.attachments():
        vlan = t.vlan(spec.vlan)
        target = f"{ct.name}/{spec.ifname}"
        pci = pcis.get((spec.pf, spec.vf))
        if pci is None:
            try:
                pci = ctx.host.vf_info(spec.pf, spec.vf).pci_address
            except Exception:
                pci = None
        out.append(
            {
                "container": ct.name,
                "ifname": spec.ifname,
                "pf": spec.pf,
                "vf": spec.vf,
                "pci_address": pci,
                "vlan": vlan.id,
                "vlan_name": vlan.name,
                "address": str(spec.address),
                "gateway": str(vlan.gateway),
                "l3_interface": vlan.l3_interface,
                "switch_port": t.pf(spec.pf).switch_port,
                "mac": observed_macs.get(target) or spec.mac,
                "image": ctx.image_override or ct.image,
            }
        )
    return out


def collect_results(
    ctx: Context, *, progress: Progress, switch_output: str | None, handover_overrides: dict[str, str | None] | None = None,
    looks: dict[str, Any] | None = None,
) -> RunResults:
    """Run every check and put the results together (nothing written yet). `looks`: each PF's look
    (HostDriver.pf_info) when the caller has one already, for the report's NIC drivers and VF PCI addresses."""
    from sriovcheck.verify.engine import Verifier
    from sriovcheck.verify.results import RunResults
    from sriovcheck.verify.waivers import apply_waivers

    t = ctx.loaded.topology
    started = datetime.now(UTC)
    outcome = Verifier(
        t, host=ctx.host, runtime=ctx.runtime, probe=ctx.netns, open_switch=_open_switch_factory(ctx, switch_output), progress=progress
    ).run()
    finished = datetime.now(UTC)
    sw = t.switch
    facts = outcome.switch_facts
    switch_info: dict[str, Any] = {
        "name": sw.name,
        "address": (
            f"{ctx.lab_status.emulator['host']}:{ctx.lab_status.emulator['port']} (emulated)" if ctx.lab else f"{sw.host}:{sw.port}"
        ),
        "username": sw.username,
        "model": facts.model if facts else None,
        "platform": sw.platform,
        "os_name": facts.os_name if facts else None,
        "os_version": facts.os_version if facts else None,
        "junos_version": facts.os_version if facts else None,  # the key before other platforms (older readers)
        "hostname": facts.hostname if facts else None,
        "source": (facts.source if facts else ("files:" + switch_output if switch_output else "ssh")),
        "host_key_fingerprint": facts.host_key_fingerprint if facts else None,
        "style": t.lab.switch_style if ctx.lab else None,
    }
    notes = []
    shared: dict[str, Any] = {}
    if switch_output:
        notes.append(f"Switch evidence came from saved files in {switch_output}, not from a live login.")
        from sriovcheck.switch.offline import session_facts

        shared = session_facts(Path(switch_output))  # read once for a group of hosts (sriovcheck fleet switch-read)
        if shared:
            switch_info.update(shared)
            notes.append(
                f"The switch was read once for {shared['evidence_hosts']} host(s), by session {shared['evidence_session']} "
                f"at {shared['evidence_read_at']}."
            )
    handover = {k: v for k, v in (t.handover.model_dump(exclude={"waivers"}) if t.handover else {}).items() if v}
    handover.update({k: v for k, v in (handover_overrides or {}).items() if v})
    checks = outcome.checks
    if switch_output and int(shared.get("evidence_hosts") or 0) > 1:
        checks = host_part_of_shared_read(t, checks, outcome.observed_macs, switch_output, int(shared["evidence_hosts"]))
    apply_waivers(t, checks)
    looks = looks if looks is not None else _pf_looks(ctx)
    return RunResults(
        topology={"name": t.name, "file": ctx.loaded.file, "sha256": ctx.loaded.sha256, "description": t.description},
        started=started.isoformat(timespec="seconds"),
        finished=finished.isoformat(timespec="seconds"),
        host=_host_facts(ctx, looks),
        switch=switch_info,
        checks=checks,
        sriovcheck_version=__version__,
        run_by=_run_by(),
        attachments=_attachments(ctx, outcome.observed_macs, looks),
        notes=notes,
        handover=handover,
        causes=outcome.causes,
    )


SHARED_OUTPUT_WHOLE_BELOW = 4096  # bytes: a shared read's output this short stays whole in each host's results


def host_part_of_shared_read(t: Topology, checks: list[CheckResult], macs: dict[str, str], switch_output: str,
                             hosts: int) -> list[CheckResult]:
    """A switch read shared by a rack's hosts holds every host's rows; each host's switch-login check keeps
    this host's (its VFs' MACs and addresses) of each long output, with where the whole output is kept
    (the shared read's saved outputs, once). Every host's results.json carried the whole rack's MAC and ARP
    tables before: at 16 hosts 55 KB of a 146 KB results.json, through Ansible, the fleet report and each
    host's page and JUnit - growing with the rack squared. The checks ran against the whole tables (the
    diagnosis too, before this): only what is kept changes."""
    from dataclasses import replace

    from sriovcheck.verify.engine import own_rows

    needles = sorted({m for m in macs.values() if m} | {str(vf.address.ip) for _c, vf in t.attachments() if vf.address})
    whose = f"this host's rows of a read shared by {hosts} hosts; the whole output is in {switch_output}"
    out = []
    for c in checks:
        if c.kind == "switch-login" and any(len(e.output) > SHARED_OUTPUT_WHOLE_BELOW for e in c.evidence):
            kept = [e if len(e.output) <= SHARED_OUTPUT_WHOLE_BELOW else own_rows([e], needles, whose)[0] for e in c.evidence]
            c = replace(c, evidence=kept)
        out.append(c)
    return out


def write_and_print(ctx: Context, results: RunResults, *, out: TextIO, report_dir: Path, default_dir: bool, as_json: bool,
                    html: bool = True) -> int:
    from sriovcheck.report.evidence import write_evidence_bundle
    from sriovcheck.report.summary import summary_table
    from sriovcheck.report.writer import write_reports

    if results.verdict != "pass" and results.evidence_bundle is None:
        results.evidence_bundle = write_evidence_bundle(ctx.loaded.topology, ctx.host, ctx.runtime, results, report_dir)
    paths = write_reports(results, report_dir, html=html)
    mark("reports written")
    if default_dir:
        _point_latest(report_dir)
    if as_json:  # the results.json just written, byte for byte (serialising it again cost ~50 ms at 4 VFs)
        out.write(paths.results_json.read_text(encoding="utf-8"))
    else:
        out.write(summary_table(results))
        out.write((f"\nreport: {paths.html.resolve()}" if html else "\nreport: (no report.html: --no-html)")
                  + f"\njunit:  {paths.junit.resolve()}\nresults: {paths.results_json.resolve()}\n")
        if results.evidence_bundle:
            out.write(f"raw evidence for support: {(report_dir / results.evidence_bundle).resolve()}\n")
    return ExitCode.OK if results.verdict == "pass" else ExitCode.CHECK_FAILED


def _run_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _point_latest(directory: Path) -> None:
    latest = directory.parent / "latest"
    tmp = directory.parent / ".latest.tmp"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(directory.name)
        os.replace(tmp, latest)
    except OSError:
        pass  # a convenience link; the report paths are printed anyway


def _handover_overrides(args: argparse.Namespace) -> dict[str, str | None]:
    from sriovcheck.verify.waivers import HANDOVER_FIELDS

    return {k: getattr(args, k, None) for k in HANDOVER_FIELDS}


def cmd_verify(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    mark("verify: start")
    loaded = topology_of(args)
    if args.switch_output and not Path(args.switch_output).is_dir():
        raise UsageError(
            f"--switch-output {args.switch_output}: not a directory",
            hint="give the directory that holds the saved switch outputs (file names: see README, offline verification)",
        )
    directory = prepare_report_dir(loaded.topology.name, args.report_dir)
    ctx = context_of(args, loaded, progress=progress, repair_lab=False)
    # A PF that is not there is an environment problem, as preflight says (exit 3), not a failed check.
    looks = {pf.name: ctx.host.pf_info(pf.name) for pf in loaded.topology.host.pfs}  # the report's too (collect_results)
    missing = [(i, pf.name) for i, pf in enumerate(loaded.topology.host.pfs) if not looks[pf.name].exists]
    if missing:
        from sriovcheck.errors import HostError
        from sriovcheck.topology.paths import mark_for

        where = []
        for i, name in missing:
            line, _ = mark_for(loaded.marks, ("host", "pfs", i, "name"))
            where.append(f"{name} ({loaded.file}:{line}: host.pfs[{i}].name)" if line else f"{name} (host.pfs[{i}].name)")
        host = f"host {loaded.topology.host.name}" + (" (the emulated lab)" if ctx.lab else "")
        raise HostError(
            f"PF {', '.join(where)} does not exist on {host}: nothing was verified",
            hint="correct the PF name in the topology: "
            + ("the emulated lab has the PFs of the topology it was brought up with (`sriovcheck lab status TOPOLOGY` lists them)"
               if ctx.lab else "`sriovcheck discover` lists this host's SR-IOV NICs")
            + "; `sriovcheck preflight TOPOLOGY` lists what else is missing",
        )
    results = collect_results(ctx, progress=progress, switch_output=args.switch_output, handover_overrides=_handover_overrides(args),
                              looks=looks)
    return write_and_print(ctx, results, out=out, report_dir=directory, default_dir=not args.report_dir, as_json=args.json,
                           html=not getattr(args, "no_html", False))


def cmd_run(
    args: argparse.Namespace,
    out: TextIO,
    progress: Progress,
    *,
    after_provision: Callable[[], None] | None = None,
    annotate: Callable[[RunResults], None] | None = None,
) -> int:
    """`after_provision` runs between provisioning and verifying (the VM lab applies its switch faults
    there); `annotate` sees the results before they are written (the VM lab says what ran)."""
    from sriovcheck.report.evidence import write_evidence_bundle
    from sriovcheck.verify.teardown import teardown_clean_checks

    loaded = load_topology(args.topology)
    directory = prepare_report_dir(loaded.topology.name, args.report_dir)
    results: RunResults | None = None
    with topology_lock(loaded.topology.name, what="run"):
        ctx = build_context(loaded, lab=args.lab, progress=progress)
        try:
            report = _provisioner(ctx, progress).provision()
            _print_provision(report, out if not args.json else io.StringIO(), False, "provisioned")
            if after_provision is not None:
                after_provision()
            results = collect_results(ctx, progress=progress, switch_output=None, handover_overrides=_handover_overrides(args))
            if results.verdict != "pass":  # while the host is still as verified, before any teardown
                results.evidence_bundle = write_evidence_bundle(ctx.loaded.topology, ctx.host, ctx.runtime, results, directory)
        finally:
            if args.teardown:
                progress("tearing down")
                before = StateStore(ctx.name).load()
                _provisioner(ctx, progress).teardown()
                if results is not None and before is not None:
                    results.checks.extend(teardown_clean_checks(ctx.loaded.topology, ctx.host, before))
                    results.finished = datetime.now(UTC).isoformat(timespec="seconds")
                if ctx.lab and ctx.lab_brought_up:
                    from sriovcheck.lab import manager

                    progress("bringing the emulated lab down (run brought it up)")
                    manager.lab_down(ctx.name)
        assert results is not None  # an exception above has left already
        if annotate is not None:
            annotate(results)
        code = write_and_print(ctx, results, out=out, report_dir=directory, default_dir=not args.report_dir, as_json=args.json)
    if args.lab and not args.teardown and not args.json:
        out.write(
            f"\nthe lab and the containers are still up; remove them with:\n"
            f"  sriovcheck teardown {args.topology} --lab && sriovcheck lab down {args.topology}\n"
        )
    return code


def cmd_report(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.report.writer import rerender

    src = Path(args.results)
    # Only what was asked for: `--html X` alone must not rewrite the junit.xml beside results.json
    # (CI may hold it); with neither option, both are re-rendered next to results.json.
    both = not args.html and not args.junit
    html = Path(args.html) if args.html else (src.with_name("report.html") if both else None)
    junit = Path(args.junit) if args.junit else (src.with_name("junit.xml") if both else None)
    rerender(src, html, junit)
    if html is not None:
        out.write(f"report: {html}\n")
    if junit is not None:
        out.write(f"junit:  {junit}\n")
    return ExitCode.OK


def cmd_diff(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.report.diff import diff_results, render_diff_junit
    from sriovcheck.report.writer import load_results
    from sriovcheck.statefiles import write_text_atomic

    if not args.rtt_factor > 1:
        raise UsageError(f"--rtt-factor {args.rtt_factor}: must be above 1")
    diff = diff_results(load_results(Path(args.old)), load_results(Path(args.new)), rtt_factor=args.rtt_factor)
    if args.junit:
        write_text_atomic(Path(args.junit), render_diff_junit(diff))
    out.write(json.dumps(diff.as_dict(), indent=2) + "\n" if args.json else diff.render_text())
    return ExitCode.CHECK_FAILED if diff.worse else ExitCode.OK


# --------------------------------------------------------------------------- lab


def cmd_lab_up(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.lab import manager

    loaded = load_topology(args.topology)
    progress(f"bringing the emulated lab of {loaded.topology.name!r} up")
    status = manager.lab_up(loaded.topology)
    _print_lab_status(status, out, args.json)
    return ExitCode.OK


def cmd_lab_down(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.lab import manager

    loaded = load_topology(args.topology)
    name = loaded.topology.name
    removed: list[str] = []
    labelled = _labelled_containers(name)
    if labelled and not getattr(args, "force", False):
        raise LabError(
            f"the lab of {name!r} is still provisioned: container(s) {', '.join(labelled)} carry its label; nothing was removed",
            hint=f"run `sriovcheck teardown {args.topology} --lab` first, or `sriovcheck lab down --force {args.topology}` "
            "to remove them with the lab",
        )
    if labelled:
        runtime = _docker_runtime()
        for c in labelled:
            runtime.remove(c)
            removed.append(f"container {c}")
    removed += manager.lab_down(name)
    forget_topology_dir(name)
    left = manager.lab_leftovers(name) + [f"container {c}" for c in _labelled_containers(name)]
    if left:
        raise LabError(f"lab down of {name!r} incomplete; still there: {', '.join(left)}",
                       hint="see the cause above or in `dmesg`, remove them by hand or run `lab down` again")
    if args.json:
        out.write(json.dumps({"removed": removed}, indent=2) + "\n")
    else:
        out.write(("removed:\n" + "".join(f"  {r}\n" for r in removed)) if removed else "nothing to remove: the lab is down\n")
    return ExitCode.OK


def _labelled_containers(topology: str) -> list[str]:
    """Names of the containers that carry the topology's labels ([] when docker is not reachable)."""
    from sriovcheck.errors import SriovcheckError

    try:
        return [c.name for c in _docker_runtime().list_managed(topology)]
    except SriovcheckError:
        return []


def cmd_lab_status(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.lab import manager

    loaded = load_topology(args.topology)
    status = manager.lab_status(loaded.topology.name)
    _print_lab_status(status, out, args.json)
    return ExitCode.OK


def _print_lab_status(status: Any, out: TextIO, as_json: bool) -> None:
    data = status.as_dict()
    if as_json:
        out.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if not data.get("up"):
        out.write("the lab is down\n")
        return
    emu = data.get("emulator", {})
    out.write(
        f"lab is up: switch emulator at {emu.get('host')}:{emu.get('port')} (pid {emu.get('pid')}, "
        f"{'alive' if emu.get('alive') else 'NOT RUNNING'})\n"
    )
    out.write(f"  namespaces: {', '.join(data.get('namespaces', []))}\n")
    faults = data.get("faults") or {}
    out.write(f"  faults: {json.dumps(faults) if faults else 'none'}\n")
    out.write("  (--json shows the whole fabric map)\n")


def cmd_lab_fault(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.lab import manager

    loaded = load_topology(args.topology)
    kwargs = fault_arguments(args.kind, list(args.args))
    from sriovcheck.lab.rack import rack_lab_of

    lab_name = rack_lab_of(loaded.topology.name) or loaded.topology.name  # a rack member's faults go to the rack
    status = manager.lab_fault(lab_name, args.kind, **kwargs)
    out.write(f"fault {args.kind} {' '.join(args.args)}: applied; active faults: {', '.join(status.faults) or 'none'}\n")
    return ExitCode.OK


FAULT_ARGS: dict[str, tuple[str, ...]] = {
    "vlan-remove": ("port", "vlan"),
    "vlan-add": ("port", "vlan"),
    "gateway-down": ("vlan",),
    "gateway-up": ("vlan",),
    "pf-down": ("pf",),
    "pf-up": ("pf",),
    "login-refuse": (),
    "login-accept": (),
    "session-drop": ("pattern",),
    "command-hang": ("pattern",),
    "garble": ("on",),
    "clear": (),
    "lldp-off": ("pf",),
    "lldp-on": ("pf",),
    "port-mtu": ("port", "mtu"),
    "background-table": ("macs", "arps"),
}


def fault_arguments(kind: str, values: list[str]) -> dict[str, Any]:
    """`lab fault KIND ARGS...` -> keyword arguments of manager.lab_fault, checked."""
    if kind not in FAULT_ARGS:
        raise UsageError(f"unknown lab fault {kind!r}", hint=f"one of: {', '.join(FAULT_ARGS)} (see `sriovcheck lab fault --help`)")
    names = FAULT_ARGS[kind]
    if len(values) != len(names):
        want = " ".join(n.upper() for n in names) or "no arguments"
        raise UsageError(f"lab fault {kind} takes {want}; got {len(values)} argument(s)", hint="see `sriovcheck lab fault --help`")
    out: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        if name in ("vlan", "mtu", "macs", "arps"):
            if not value.isdigit():
                raise UsageError(f"lab fault {kind}: {name.upper()} must be a number, got {value!r}")
            out[name] = int(value)
        elif name == "on":
            if value not in ("on", "off"):
                raise UsageError(f"lab fault {kind}: say on or off, got {value!r}")
            out[name] = value == "on"
        elif name == "pattern":
            out[name] = None if value == "off" else value
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------- host preparation


def cmd_discover(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.host import discover as disc
    from sriovcheck.host.sysfs import default_sysfs_root

    nics = disc.discover(default_sysfs_root())
    if args.skeleton:
        out.write(disc.skeleton_topology(nics, socket.gethostname()))
    elif args.json:
        out.write(json.dumps([n.as_dict() for n in nics], indent=2, default=str) + "\n")
    else:
        out.write(disc.render_table(nics))
    return ExitCode.OK


def cmd_persist(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.host import persist

    loaded = load_topology(args.topology)
    if args.print_only:
        out.write(persist.render_unit(loaded.topology))
        return ExitCode.OK
    path = persist.install_unit(loaded.topology)
    out.write(f"installed and enabled {path}\nrun `systemctl daemon-reload` to make systemd see it before the next boot\n")
    return ExitCode.OK


def cmd_preflight(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.preflight import preflight

    loaded = load_topology(args.topology)
    report = preflight(loaded, lab=args.lab, progress=progress, build_context=build_context)
    if args.json:
        out.write(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    else:
        out.write(report.render())
    return ExitCode.OK if not report.blocking else ExitCode.ENVIRONMENT

