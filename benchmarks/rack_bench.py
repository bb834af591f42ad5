"""The emulated rack through the fleet playbook: N hosts x V VFs on one emulated switch, timed whole
(lab up, provision, traffic, the one switch read, verify, collect, fleet report, teardown, lab down),
side by side with the same playbook on 1 host. Also counts the switch logins of the fleet run.

    flock /tmp/sriovcheck-integration.lock .venv/bin/python benchmarks/rack_bench.py --hosts 16 --vfs 4

As root, with docker and ansible-core (the test extra). Prints JSON; RESULTS.md records a run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sriovcheck.fleet.example import rack_host_topology
from sriovcheck.lab.rack import LOGINS_FILE, rack_name

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).with_name("sriovcheck")
ANSIBLE = Path(sys.executable).with_name("ansible-playbook")


def fleet_run(hosts: int, vfs: int, work: Path, keep: Path | None = None) -> dict[str, object]:
    token = secrets.token_hex(2)
    switch = f"bench-{token}"
    env = {**os.environ, "SRIOVCHECK_STATE_DIR": str(work / "state"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_CALLBACK_PLUGINS": str(ROOT / "benchmarks" / "ansible_callbacks"), "ANSIBLE_CALLBACKS_ENABLED": "taskclock",
           "TASKCLOCK_OUT": str(work / "taskclock.json"),
           "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"), "ANSIBLE_REMOTE_TEMP": str(work / "ansible-tmp")}
    inv_hosts = {}
    for h in range(1, hosts + 1):
        path = work / f"host{h}.yaml"
        path.write_text(rack_host_topology(h, vfs=vfs, switch=switch, prefix=f"b{token}h", pf_prefix=f"b{token}"))
        inv_hosts[f"host{h}"] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                 "sriovcheck_topology": str(path), "sriovcheck_dir": str(work / f"on-host{h}")}
    inventory = {"all": {"children": {"sriovcheck_hosts": {"hosts": inv_hosts, "vars": {
        "sriovcheck_install": False, "sriovcheck_become": False, "sriovcheck_bin": str(BIN),
        "sriovcheck_controller_bin": str(BIN), "sriovcheck_lab": True, "sriovcheck_teardown": True,
        "sriovcheck_lab_down": True, "sriovcheck_fail_on_check": True, "sriovcheck_fleet_dir": str(work / "fleet")}}}}}
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    # Count the logins from the emulator's log before `lab down` removes it: the log outlives it here.
    logins_file = work / "state" / rack_name(switch) / "lab" / LOGINS_FILE
    cpu0 = machine_cpu()
    t0 = time.monotonic()
    # lab up / down are part of the timed run; the login count is read between verify and lab down.
    up = subprocess.run([str(BIN), "lab", "up", *(str(work / f"host{h}.yaml") for h in range(1, hosts + 1))],
                        env=env, capture_output=True, text=True, check=True)
    inventory["all"]["children"]["sriovcheck_hosts"]["vars"]["sriovcheck_lab_down"] = False  # type: ignore[index]
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    done = subprocess.run([str(ANSIBLE), "-i", str(work / "inventory.yml"), str(ROOT / "ansible" / "sriovcheck-fleet.yml"),
                           "--forks", str(hosts)], env=env, capture_output=True, text=True, cwd=work, check=False)
    if hosts == 1:  # `lab up` of a single topology is that topology's own lab, not a rack
        logins_file = work / "state" / f"b{token}h01" / "lab" / LOGINS_FILE
    logins = len([line for line in logins_file.read_text().splitlines() if line.strip()]) if logins_file.exists() else 0
    if not logins:
        print(f"no logins file: {sorted(p.name for p in logins_file.parent.iterdir()) if logins_file.parent.exists() else 'no lab dir'}",
              file=sys.stderr)
    subprocess.run([str(BIN), "lab", "down", *(str(work / f"host{h}.yaml") for h in range(1, hosts + 1))],
                   env=env, capture_output=True, text=True, check=True)
    seconds = time.monotonic() - t0
    cpu = {k: round(v - cpu0[k], 1) for k, v in machine_cpu().items()}
    left = leftovers(token)
    clock = json.loads((work / "taskclock.json").read_text()) if (work / "taskclock.json").exists() else {"tasks": []}
    phases = {}  # task -> seconds from its start until its last host finished (tasks of 0.3 s and more)
    for task in clock["tasks"]:
        ends = [h[1] for h in task["hosts"].values()]
        if ends and max(ends) - task["start"] >= 0.3:
            phases[task["task"][:60]] = round(max(ends) - task["start"], 1)
    summary = json.loads((work / "fleet" / "summary.json").read_text()) if (work / "fleet" / "summary.json").exists() else {}
    if keep is not None:  # the fleet report and the playbook's output, to see why a host failed
        (keep / f"{hosts}-hosts").mkdir(parents=True, exist_ok=True)
        if (work / "fleet").exists():  # not when the playbook failed before its first controller task
            shutil.copytree(work / "fleet", keep / f"{hosts}-hosts", dirs_exist_ok=True, ignore=shutil.ignore_patterns("wheelhouse"))
        (keep / f"{hosts}-hosts" / "ansible.out").write_text(done.stdout + done.stderr)
        (keep / f"{hosts}-hosts" / "taskclock.json").write_text(json.dumps(clock, indent=1))
    _ = up
    return {"hosts": hosts, "vfs_per_host": vfs, "seconds": round(seconds, 1), "playbook_rc": done.returncode,
            "hosts_passed": summary.get("hosts_passed"), "switch_logins": logins, "left_behind": left,
            "playbook_phases": phases, "machine_cpu_s": cpu,
            "tail": done.stdout[-1500:] if done.returncode else ""}


def machine_cpu() -> dict[str, float]:
    """The machine's CPU seconds so far (/proc/stat): busy (user, nice, system, irq, softirq), idle (with
    iowait) and steal - the time a virtual machine's host gave to others, which slows a run without
    showing in it (this machine is one)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return {"busy": (user + nice + system + irq + softirq) / hz, "idle": (idle + iowait) / hz, "steal": steal / hz}


def leftovers(token: str) -> list[str]:
    """Containers, namespaces and root-namespace links of this run still there after `lab down`
    (the run's names all carry its token; seen from outside with the CLIs, as the tests do)."""
    def lines(cmd: list[str]) -> list[str]:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()

    found = [f"container {n}" for n in lines(["docker", "ps", "-a", "--format", "{{.Names}}"]) if token in n]
    found += [f"netns {n.split()[0]}" for n in lines(["ip", "netns", "list"]) if token in n]
    found += [f"link {n.split(':')[1].strip()}" for n in lines(["ip", "-o", "link", "show"]) if token in n]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--vfs", type=int, default=4)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep each run's fleet report and playbook output here")
    parser.add_argument("--reps", type=int, default=1, metavar="N",
                        help="N pairs (1 host, then the rack), interleaved so that a slower spell of a shared machine "
                        "hits both sides of a pair; the ratio reported is the median of the pairs' (default 1)")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    # Measure sriovcheck as it runs once installed: pip byte-compiles a wheel, while a checkout edited since
    # its last compile has stale bytecode, which PYTHONDONTWRITEBYTECODE (set on these machines) makes every
    # process compile from source again: ~0.2 CPU-s per process, 36 processes in the 16-host run.
    compileall.compile_dir(ROOT / "sriovcheck", quiet=1)
    pairs = []
    for _ in range(args.reps):
        results = []
        for n in (1, args.hosts):
            with tempfile.TemporaryDirectory(prefix="sriovcheck-rack-bench-") as tmp:
                results.append(fleet_run(n, args.vfs, Path(tmp), args.keep))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        pairs.append((results[0], results[1], round(float(results[1]["seconds"]) / float(results[0]["seconds"]), 2)))  # type: ignore[arg-type]
    one, rack, ratio = sorted(pairs, key=lambda p: p[2])[len(pairs) // 2]  # the median pair (the upper one of an even count)
    doc: dict[str, object] = {"one_host": one, "rack": rack, "ratio": ratio}
    if args.reps > 1:
        doc["pairs"] = [{"one_host_s": o["seconds"], "rack_s": r["seconds"], "ratio": q} for o, r, q in pairs]
    print(json.dumps(doc, indent=2))
    ok = all(r["playbook_rc"] == 0 and r["switch_logins"] == 1 and not r["left_behind"] for _, r, _ in pairs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
