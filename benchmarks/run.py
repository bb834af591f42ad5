"""End-to-end benchmark of sriovcheck on the emulated lab, against what a user would do instead.

For each size N (VFs, one per container, spread over 2 PFs and 16 VLANs, lab image, network none):
  sriovcheck  lab up, provision, verify, report, teardown, lab down: each the real CLI
              (`python -m sriovcheck ...`) in its own process; wall time and the process's peak RSS
              (os.wait4);
  reference   what verification cannot go below: one ping round (count 1, all VFs in parallel, from
              inside the containers' namespaces) plus one switch login with the two table commands;
  seed        the seed procedure scripted as-is (benchmarks/seed_procedure.sh) on the same lab: the attach
              part (docker run, netns symlink, ip link ...) and the checking part (docker exec ping and
              arp -a, one new switch login per container);
  floor       `docker run -d` of N containers of the lab image, nothing else.
With --background REPS, also the seed lab (topologies/seed-lab.yaml, renamed) verified against a switch
carrying 100,000 other MACs and 20,000 ARP entries (`lab fault T background-table 100000 20000`) and
against an empty one, alternately, REPS times each.
Prints one JSON document on stdout (medians over --reps, ratios, targets) and a table on stderr.

    python benchmarks/run.py [--sizes 8,32,64] [--reps 3] [--background REPS] [--json OUT]      (as root)
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED_SCRIPT = HERE / "seed_procedure.sh"
PY = sys.executable
SRIOVCHECK_PHASES = ("lab_up", "provision", "verify", "report", "teardown", "lab_down")
OTHER_PHASES = ("import_floor", "ref_ping_round", "ref_switch_login", "reference", "seed_vf_vlan", "seed_attach",
                "seed_check", "seed_cleanup", "floor_docker_run", "floor_cleanup")
RATIOS = {  # name: (numerator phase, denominator phase)
    "provision_vs_seed_attach": ("provision", "seed_attach"),
    "verify_vs_seed_check": ("verify", "seed_check"),
    "seed_check_over_verify": ("seed_check", "verify"),
    "provision_vs_floor": ("provision", "floor_docker_run"),
    "verify_vs_reference": ("verify", "reference"),
}
TARGET_N = 64
MEMORY_TARGET_MB = 200.0
# issue 13: verify at 32 VFs at most 4 s and at least 20x faster than the seed's checking part; verify's
# peak RSS under 150 MB at 64 VFs; a 100k-MAC / 20k-ARP switch costs the seed lab's verify at most 1 s.
VERIFY_TARGET_N, VERIFY_MAX_S, SEED_OVER_VERIFY_MIN = 32, 4.0, 20.0
VERIFY_RSS_N, VERIFY_RSS_MAX_MB = 64, 150.0
BACKGROUND_MACS, BACKGROUND_ARPS, BACKGROUND_MAX_EXTRA_S = 100_000, 20_000, 1.0


class BenchError(Exception):
    pass


@dataclass
class Timed:
    seconds: float
    maxrss_mb: float
    output: str


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ru_maxrss is inherited: a child forked (vforked) from this process starts with this process's high-water
# mark, and exec keeps it (measured: `true` spawned from a 300 MB Python reports 310 MB). So each command
# is spawned by a small launcher (`python -S`, about 10 MB) that waits for it with os.wait4 and reports its
# wall time and peak RSS on a pipe.
LAUNCHER = """
import os, subprocess, sys, time
fd, cmd = int(sys.argv[1]), sys.argv[2:]
t0 = time.perf_counter()
p = subprocess.Popen(cmd, pass_fds=())
_, status, usage = os.wait4(p.pid, 0)
os.write(fd, f"{time.perf_counter() - t0} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}".encode())
"""


def timed(cmd: list[str], env: dict[str, str], what: str, *, ok_codes: tuple[int, ...] = (0,)) -> Timed:
    """Run `cmd` to completion; its wall time and peak RSS (ru_maxrss of the process, via wait4)."""
    r, w = os.pipe()
    try:
        with tempfile.TemporaryFile() as out:
            subprocess.run([PY, "-S", "-c", LAUNCHER, str(w), *cmd], env=env, stdin=subprocess.DEVNULL, stdout=out,
                           stderr=subprocess.STDOUT, pass_fds=(w,), check=False)
            os.close(w)
            w = -1
            out.seek(0)
            text = out.read().decode(errors="replace")
        report = os.read(r, 200).decode().split()
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    if len(report) != 3:
        raise BenchError(f"{what}: the launcher reported nothing for {' '.join(cmd)}\n{text[-4000:]}")
    seconds, maxrss_kb, code = float(report[0]), int(report[1]), int(report[2])
    if code not in ok_codes:
        raise BenchError(f"{what} failed (exit {code}): {' '.join(cmd)}\n{text[-4000:]}")
    return Timed(seconds, maxrss_kb / 1024.0, text)


def sc(*args: str) -> list[str]:
    return [PY, "-m", "sriovcheck", *args]


def machine() -> dict[str, Any]:
    mem_kb = 0
    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
                            check=False).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 1024 / 1024, 1), "kernel": platform.release(),
            "docker": docker or None, "python": platform.python_version(), "os": _os_name(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def sriovcheck_commit() -> str | None:
    """The commit measured, with "+dirty" when sriovcheck/ has uncommitted changes."""
    root = HERE.parent
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "sriovcheck"], capture_output=True, text=True,
                           check=False).stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


def _os_name() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return None


@dataclass(frozen=True)
class Attachment:
    container: str
    pf: str
    vf: int
    vlan: int
    ifname: str
    address: str  # with prefix
    gateway: str
    switch_port: str


def attachments(topology_file: Path) -> list[Attachment]:
    from sriovcheck.topology import load_topology

    t = load_topology(str(topology_file)).topology
    return [Attachment(ct.name, s.pf, s.vf, s.vlan, s.ifname, str(s.address), str(t.vlan(s.vlan).gateway),
                       t.pf(s.pf).switch_port) for ct, s in t.attachments()]


def lab_status(topo: Path, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(sc("lab", "status", str(topo), "--json"), env=env, capture_output=True, text=True, check=False)
    try:
        data: dict[str, Any] = json.loads(out.stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"lab status did not answer JSON: {out.stdout[-2000:]} {out.stderr[-2000:]}") from exc
    return data


def reference(atts: list[Attachment], status: dict[str, Any], password: str, username: str) -> tuple[float, float, int]:
    """One ping round (count 1, parallel) from inside the containers and one switch login with the
    verifier's two table commands: what verification needs at least. Imports happen before timing."""
    import docker

    from sriovcheck.host.probe import PingRequest, ping_many
    from sriovcheck.switch.netmiko_client import NetmikoSwitch
    from sriovcheck.verify.engine import ARP_XML, MAC_TABLE_XML

    client = docker.from_env()
    try:
        pids = {a.container: client.containers.get(a.container).attrs["State"]["Pid"] for a in atts}
    finally:
        client.close()
    reqs = [PingRequest(f"/proc/{pids[a.container]}/ns/net", a.ifname, a.gateway, count=1, timeout_s=2.0) for a in atts]
    t0 = time.perf_counter()
    results = ping_many(reqs)
    t_ping = time.perf_counter() - t0
    emu = status["emulator"]
    t0 = time.perf_counter()
    sw = NetmikoSwitch(host=emu["host"], port=emu["port"], username=username, password=password, timeout_s=20)
    sw.open()
    try:
        mac_xml, arp_xml = sw.run(MAC_TABLE_XML), sw.run(ARP_XML)
    finally:
        sw.close()
    t_login = time.perf_counter() - t0
    if "<rpc-reply" not in mac_xml or "<rpc-reply" not in arp_xml:
        raise BenchError("reference: the emulator did not answer the table commands with XML")
    return t_ping, t_login, sum(1 for r in results if r.received == 1)


def set_seed_vlans(name: str, state_root: Path, atts: list[Attachment]) -> None:
    """The seed's `ip link set eno2 vf 0 vlan 200`: a veth has no VF VLAN, so through the lab's driver."""
    from sriovcheck.host.driver import VfConfig
    from sriovcheck.lab.host_driver import EmulatedHostDriver
    from sriovcheck.lab.state import lab_dir

    driver = EmulatedHostDriver(lab_dir(name, state_root))
    for a in atts:
        driver.set_vf_config(a.pf, a.vf, VfConfig(vlan=a.vlan))


def seed_results(output: str, atts: list[Attachment]) -> tuple[int, int]:
    """(containers whose ping got its reply, containers whose address is in the switch's ARP rows)."""
    pings = switch = 0
    for block in output.split("=== ")[1:]:
        head, _, body = block.partition("\n")
        addr = head.split()[1] if len(head.split()) > 1 else "?"
        pings += "1 packets received" in body
        switch += any(addr in line.split() and ("vlan." in line or "irb." in line) for line in body.splitlines())
    return pings, switch


def emulator_hwm_mb(pid: int | None) -> float | None:
    with contextlib.suppress(OSError, TypeError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


@contextlib.contextmanager
def cleanup_on_exit(name: str, topo: Path, work: Path, env: dict[str, str]) -> Iterator[dict[str, bool]]:
    """Whatever a failed or interrupted repetition left: seed and floor containers, our netns links,
    sriovcheck's containers and VFs, the lab."""
    flags = {"provisioned": False}
    try:
        yield flags
    finally:
        plan = work / f"{name}.plan"
        if plan.exists():
            subprocess.run(["bash", str(SEED_SCRIPT), "cleanup", str(plan)], env=env, check=False, capture_output=True)
        if flags["provisioned"]:
            subprocess.run(sc("teardown", str(topo), "--lab"), env=env, check=False, capture_output=True)
        subprocess.run(sc("lab", "down", str(topo)), env=env, check=False, capture_output=True)
        names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{name}-"],
                               capture_output=True, text=True, check=False).stdout.split()
        if names:
            subprocess.run(["docker", "rm", "-f", *names], check=False, capture_output=True)


def one_rep(n: int, rep: int, name: str, topo: Path, work: Path, state_root: Path, env: dict[str, str]) -> dict[str, Any]:
    atts = attachments(topo)
    password = env["SRIOVCHECK_SWITCH_PASSWORD"]
    t: dict[str, float] = {}
    rss: dict[str, float] = {}
    checks: dict[str, Any] = {}

    def run(phase: str, cmd: list[str], ok_codes: tuple[int, ...] = (0,)) -> Timed:
        r = timed(cmd, env, f"{phase} (N={n}, rep {rep})", ok_codes=ok_codes)
        t[phase], rss[phase] = r.seconds, r.maxrss_mb
        log(f"N={n} rep {rep}: {phase:<17} {r.seconds:7.2f} s  peak RSS {r.maxrss_mb:6.1f} MB")
        return r

    with cleanup_on_exit(name, topo, work, env) as flags:
        # What every CLI process pays before it does anything: the interpreter and its imports.
        run("import_floor", [PY, "-c", "import sriovcheck.cli, sriovcheck.workflow, docker, pyroute2, netmiko"])
        run("lab_up", sc("lab", "up", str(topo)))
        status = lab_status(topo, env)
        flags["provisioned"] = True
        run("provision", sc("provision", str(topo), "--lab"))
        t["ref_ping_round"], t["ref_switch_login"], checks["reference_pings_ok"] = reference(atts, status, password, "netops")
        t["reference"] = t["ref_ping_round"] + t["ref_switch_login"]
        log(f"N={n} rep {rep}: reference         {t['reference']:7.2f} s  (ping round {t['ref_ping_round']:.2f} s, "
            f"login + 2 commands {t['ref_switch_login']:.2f} s)")
        reports = work / f"reports-{n}-{rep}"
        v = run("verify", sc("verify", str(topo), "--lab", "--report-dir", str(reports)), ok_codes=(0, 1))
        checks["verify_verdict"] = "pass" if "verdict: PASS" in v.output else "fail"
        if checks["verify_verdict"] != "pass":
            raise BenchError(f"verify did not pass at N={n}; the timings would not mean anything:\n{v.output[-4000:]}")
        run("report", sc("report", str(reports / "results.json")))
        checks["report_bytes"] = {f: (reports / f).stat().st_size for f in ("results.json", "report.html", "junit.xml")}
        run("teardown", sc("teardown", str(topo), "--lab"))
        flags["provisioned"] = False

        status = lab_status(topo, env)
        netdev = {(v["pf"], v["vf"]): v["netdev"] for v in status["vfs"]}
        t0 = time.perf_counter()
        set_seed_vlans(name, state_root, atts)
        t["seed_vf_vlan"] = time.perf_counter() - t0
        plan = work / f"{name}.plan"
        lines = []
        for k, a in enumerate(atts):
            dev = netdev.get((a.pf, a.vf))
            if not dev:
                raise BenchError(f"VF {a.pf}/{a.vf} has no netdev on the host after teardown: {status['vfs']}")
            lines.append(f"{name}-s{k:03d} {dev} {a.address} {a.gateway} {a.switch_port}\n")
        plan.write_text("".join(lines))
        emu = status["emulator"]
        seed_env = {**env, "IMAGE": env["BENCH_IMAGE"], "PYTHON": PY, "SWITCH_HOST": str(emu["host"]),
                    "SWITCH_PORT_SSH": str(emu["port"]), "SWITCH_USER": "netops"}
        seed = ["bash", str(SEED_SCRIPT)]
        for phase, mode in (("seed_attach", "attach"), ("seed_check", "check"), ("seed_cleanup", "cleanup")):
            r = timed([*seed, mode, str(plan)], seed_env, f"{phase} (N={n}, rep {rep})")
            t[phase] = r.seconds
            log(f"N={n} rep {rep}: {phase:<17} {r.seconds:7.2f} s")
            if mode == "check":
                checks["seed_pings_ok"], checks["seed_switch_rows_ok"] = seed_results(r.output, atts)
        plan.unlink()
        for phase, mode in (("floor_docker_run", "floor"), ("floor_cleanup", "floor-cleanup")):
            r = timed([*seed, mode, f"{name}-f", str(n)], seed_env, f"{phase} (N={n}, rep {rep})")
            t[phase] = r.seconds
            log(f"N={n} rep {rep}: {phase:<17} {r.seconds:7.2f} s")
        checks["emulator_peak_rss_mb"] = emulator_hwm_mb(emu.get("pid"))
        run("lab_down", sc("lab", "down", str(topo)))
    return {"seconds": t, "rss_mb": rss, "checks": checks}


def summarise(n: int, reps: list[dict[str, Any]]) -> dict[str, Any]:
    phases: dict[str, Any] = {}
    for phase in (*SRIOVCHECK_PHASES, *OTHER_PHASES):
        runs = [r["seconds"][phase] for r in reps if phase in r["seconds"]]
        if not runs:
            continue
        entry: dict[str, Any] = {"median_s": round(statistics.median(runs), 3), "runs_s": [round(x, 3) for x in runs]}
        mems = [r["rss_mb"][phase] for r in reps if phase in r["rss_mb"]]
        if mems:
            entry["peak_rss_mb"] = round(max(mems), 1)
        phases[phase] = entry
    med = {p: e["median_s"] for p, e in phases.items()}
    ratios = {k: round(med[a] / med[b], 3) if med.get(b) else None for k, (a, b) in RATIOS.items()}
    peak = max(e.get("peak_rss_mb", 0.0) for p, e in phases.items() if p in SRIOVCHECK_PHASES)
    targets = {
        "verify_vs_reference_max_10": ratios["verify_vs_reference"] is not None and ratios["verify_vs_reference"] <= 10,
        "seed_check_over_verify_min_10": ratios["seed_check_over_verify"] is not None and ratios["seed_check_over_verify"] >= 10,
        "provision_vs_floor_max_1.3": ratios["provision_vs_floor"] is not None and ratios["provision_vs_floor"] <= 1.3,
        "peak_rss_under_200_mb": peak < MEMORY_TARGET_MB,
    }
    checks: dict[str, Any] = {}
    for r in reps:
        for k, val in r["checks"].items():
            checks.setdefault(k, []).append(val)
    if n == VERIFY_TARGET_N:
        targets[f"verify_max_{VERIFY_MAX_S:g}_s"] = med.get("verify", 1e9) <= VERIFY_MAX_S
        targets[f"seed_check_over_verify_min_{SEED_OVER_VERIFY_MIN:g}"] = (ratios["seed_check_over_verify"] or 0) >= SEED_OVER_VERIFY_MIN
    if n == VERIFY_RSS_N:
        targets[f"verify_peak_rss_under_{VERIFY_RSS_MAX_MB:g}_mb"] = phases.get("verify", {}).get("peak_rss_mb", 1e9) < VERIFY_RSS_MAX_MB
    return {"vfs": n, "reps": len(reps), "phases": phases, "ratios": ratios, "sriovcheck_peak_rss_mb": peak,
            "targets": targets, "targets_apply": n == TARGET_N, "checks": checks}


def seed_background(reps: int, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """The seed lab (1 PF, 2 VFs, 2 VLANs; renamed so that it meets no other lab) verified against an
    empty switch and against one carrying BACKGROUND_MACS / BACKGROUND_ARPS other entries, alternately,
    so that both see the same machine load."""
    token = f"{os.getpid() % 100000:05d}"
    name, pf = f"bseed-{token}", f"b{token}"
    text = (HERE.parent / "topologies" / "seed-lab.yaml").read_text()
    for old, new in (("name: seed-lab\n", f"name: {name}\n"), ("eno2", pf), ("name: test-200", f"name: {name}-c200"),
                     ("name: test-201", f"name: {name}-c201")):
        if old not in text:
            raise BenchError(f"topologies/seed-lab.yaml changed: {old!r} not found")
        text = text.replace(old, new)
    topo = work / f"{name}.yaml"
    topo.write_text(text)
    t: dict[str, list[float]] = {"verify_empty": [], "verify_background": []}
    rss: dict[str, list[float]] = {"verify_empty": [], "verify_background": []}
    emulator = None
    with cleanup_on_exit(name, topo, work, env) as flags:
        timed(sc("lab", "up", str(topo)), env, "seed lab up")
        flags["provisioned"] = True
        timed(sc("provision", str(topo), "--lab"), env, "seed lab provision")
        timed(sc("verify", str(topo), "--lab", "--report-dir", str(work / "bg-warm")), env, "warm-up verify")
        for rep in range(1, reps + 1):
            for phase, macs, arps in (("verify_empty", 0, 0), ("verify_background", BACKGROUND_MACS, BACKGROUND_ARPS)):
                timed(sc("lab", "fault", str(topo), "background-table", str(macs), str(arps)), env, "background-table fault")
                r = timed(sc("verify", str(topo), "--lab", "--report-dir", str(work / f"bg-{phase}-{rep}")), env, f"{phase} rep {rep}")
                if "verdict: PASS" not in r.output:
                    raise BenchError(f"{phase}: verify of the seed lab did not pass:\n{r.output[-3000:]}")
                t[phase].append(r.seconds)
                rss[phase].append(r.maxrss_mb)
                log(f"seed lab {phase:<18} rep {rep}: {r.seconds:6.2f} s  peak RSS {r.maxrss_mb:6.1f} MB")
        emulator = emulator_hwm_mb(lab_status(topo, env)["emulator"].get("pid"))
        timed(sc("lab", "fault", str(topo), "background-table", "0", "0"), env, "background-table off")
        timed(sc("teardown", str(topo), "--lab"), env, "seed lab teardown")
        flags["provisioned"] = False
    med = {k: statistics.median(v) for k, v in t.items()}
    extra = med["verify_background"] - med["verify_empty"]
    return {"topology": "seed-lab", "background": {"macs": BACKGROUND_MACS, "arps": BACKGROUND_ARPS}, "reps": reps,
            "runs_s": {k: [round(x, 3) for x in v] for k, v in t.items()},
            "median_s": {k: round(v, 3) for k, v in med.items()},
            "peak_rss_mb": {k: round(max(v), 1) for k, v in rss.items()},
            "extra_s": round(extra, 3), "emulator_peak_rss_mb": emulator,
            "targets": {f"background_extra_max_{BACKGROUND_MAX_EXTRA_S:g}_s": extra <= BACKGROUND_MAX_EXTRA_S}}


def table(doc: dict[str, Any]) -> str:
    sizes = list(doc["sizes"])
    lines = [f"median of {doc['config']['reps']} rep(s), seconds (peak RSS MB of the sriovcheck process)"]
    if sizes:
        lines.append(f"{'phase':<18}" + "".join(f"{'N=' + s:>20}" for s in sizes))
        for phase in (*SRIOVCHECK_PHASES, *OTHER_PHASES):
            cells = []
            for s in sizes:
                e = doc["sizes"][s]["phases"].get(phase)
                if e is None:
                    cells.append(f"{'-':>20}")
                else:
                    mem = f" ({e['peak_rss_mb']:.0f} MB)" if "peak_rss_mb" in e else ""
                    cells.append(f"{e['median_s']:>12.2f}{mem:>8}")
            lines.append(f"{phase:<18}" + "".join(cells))
        lines.append("")
        for k in RATIOS:
            lines.append(f"{k:<27}" + "".join(f"{doc['sizes'][s]['ratios'][k] or 0:>11.2f}" for s in sizes))
        lines.append("")
        common = ("verify_vs_reference_max_10", "seed_check_over_verify_min_10", "provision_vs_floor_max_1.3", "peak_rss_under_200_mb")
        for k in common:
            lines.append(f"{k:<31}" + "".join(f"{'met' if doc['sizes'][s]['targets'][k] else 'MISSED':>9}" for s in sizes))
        lines.append(f"(targets are set for N={TARGET_N}; smaller sizes are shown for the trend)")
        for s in sizes:
            for k, ok in doc["sizes"][s]["targets"].items():
                if k not in common:
                    lines.append(f"N={s}: {k}: {'met' if ok else 'MISSED'}")
    bg = doc.get("seed_background")
    if bg:
        lines.append("")
        lines.append(f"seed lab, verify against an empty switch: {bg['median_s']['verify_empty']:.2f} s; against "
                     f"{bg['background']['macs']} MACs + {bg['background']['arps']} ARP entries: "
                     f"{bg['median_s']['verify_background']:.2f} s; extra {bg['extra_s']:+.2f} s "
                     f"({'met' if all(bg['targets'].values()) else 'MISSED'}, <= {BACKGROUND_MAX_EXTRA_S:g} s)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="8,32,64", help="comma-separated VF counts (default 8,32,64)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per size (default 3; medians are reported)")
    ap.add_argument("--json", metavar="OUT", help="also write the JSON document here")
    ap.add_argument("--background", type=int, default=0, metavar="REPS",
                    help="also verify the seed lab against an empty switch and one with 100k MACs / 20k ARP entries, "
                    "REPS times each (default 0: skip)")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes {args.sizes!r}: comma-separated integers, e.g. 8,32,64")
    if not sizes and args.background:
        pass
    elif not sizes or min(sizes) < 1 or max(sizes) > 128 or args.reps < 1:
        ap.error("--sizes must be 1..128 VFs (two PFs of at most 64) and --reps >= 1")
    if os.geteuid() != 0:
        ap.error("run as root: the lab builds network namespaces and the seed procedure runs `ip netns exec`")

    # sriovcheck as installed (pip byte-compiles a wheel), not a checkout whose edited modules every process
    # compiles from source again under PYTHONDONTWRITEBYTECODE (~0.2 CPU-s per process).
    compileall.compile_dir(HERE.parent / "sriovcheck", quiet=1)

    import docker

    from sriovcheck.containers.image import LAB_IMAGE, ensure_lab_image
    from sriovcheck.topology.generate import generate

    client = docker.from_env()
    try:
        ensure_lab_image(client)  # an image import must not land in the first provision's time
    finally:
        client.close()
    work = Path(tempfile.mkdtemp(prefix="sriovcheck-bench-"))
    state_root = work / "state"
    env = {**os.environ, "SRIOVCHECK_STATE_DIR": str(state_root), "BENCH_IMAGE": LAB_IMAGE}
    env.setdefault("SRIOVCHECK_SWITCH_PASSWORD", "bench-secret")
    doc: dict[str, Any] = {"machine": machine(), "config": {"sizes": sizes, "reps": args.reps, "pfs": 2, "vlans": 16,
                                                            "image": LAB_IMAGE, "network": "none",
                                                            "sriovcheck_commit": sriovcheck_commit()}, "sizes": {}}
    try:
        for n in sizes:
            name = f"bench{n}-{os.getpid() % 100000}"
            topo = work / f"{name}.yaml"
            topo.write_text(generate(name, vfs=n, pfs=2, vlans=16, image=LAB_IMAGE))
            reps = [one_rep(n, rep, name, topo, work, state_root, env) for rep in range(1, args.reps + 1)]
            doc["sizes"][str(n)] = summarise(n, reps)
        if args.background:
            doc["seed_background"] = seed_background(args.background, work, env)
    except BenchError as exc:
        log(str(exc))
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    end_commit = sriovcheck_commit()
    if end_commit != doc["config"]["sriovcheck_commit"]:  # someone committed to the product while we measured
        doc["config"]["sriovcheck_commit_at_end"] = end_commit
        log(f"sriovcheck changed during the run: {doc['config']['sriovcheck_commit']} -> {end_commit}")
    text = json.dumps(doc, indent=2)
    print(text)
    print(table(doc), file=sys.stderr)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
