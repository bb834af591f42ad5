"""`sriovcheck lab vm-run TOPOLOGY`: the whole run, with the real host driver, on QEMU's igb in a guest.

The host side: find the parts (QEMU, the unpacked Debian kernel, busybox), write the guest's job into
a temporary exchange folder (shared with the guest over 9p), boot the guest under a time limit while
showing its progress, bring results.json / report.html / junit.xml back into the report folder, and
remove everything: the QEMU process group is killed and waited for and the exchange folder is deleted
whatever happens (the guest powered off, hung, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import sriovcheck
from sriovcheck.errors import ExitCode, LabError, UsageError

if TYPE_CHECKING:  # imported where a VM is run: every sriovcheck command builds this parser (~5 ms)
    from sriovcheck.vmlab import parts

Progress = Callable[[str], None]
DEFAULT_TIMEOUT_S = 900
GUEST_SCRIPT = """\
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH HOME=/root
X={xchg}
say() {{ echo "sriovcheck-vm: [guest] $*" > /dev/ttyS0; }}
say "kernel $(uname -r) up; loading igb, igbvf, 8021q, bridge"
mkdir -p /lib/modules/{kver} && mount --bind {modules} /lib/modules/{kver}
for m in igb igbvf 8021q bridge veth virtio_net; do modprobe $m || say "modprobe $m failed"; done
hostname sriovcheck-vm
say "starting the guest's docker engine"
dockerd --iptables=false --ip6tables=false --ip-masq=false --bridge=none >/var/log/dockerd.log 2>&1 &
cd /
PYTHONPATH={pythonpath} {python} -m sriovcheck.vmlab.guest $X/job.json >/dev/ttyS0 2>&1
cp /var/log/dockerd.log $X/dockerd.log 2>/dev/null
dmesg > $X/dmesg.txt 2>/dev/null
say "powering off"
/bin/busybox poweroff -f
"""
REPORT_FILES = ("results.json", "report.html", "junit.xml")


def guest_script(vm: parts.VmParts) -> str:
    from sriovcheck.vmlab import initramfs

    return GUEST_SCRIPT.format(
        xchg=initramfs.XCHG_MOUNT, kver=vm.kernel_version, modules=vm.modules_dir,
        pythonpath=Path(sriovcheck.__file__).resolve().parent.parent, python=sys.executable,
    )


def parse_faults(raw: list[list[str]] | None) -> list[list[str]]:
    from sriovcheck.vmlab.switch import VM_FAULTS
    from sriovcheck.workflow import fault_arguments

    faults = []
    for item in raw or []:
        kind, values = item[0], item[1:]
        if kind not in VM_FAULTS:
            raise UsageError(f"--fault {kind}: the VM lab applies {', '.join(VM_FAULTS)}",
                             hint="the other kinds of `lab fault` act on the netns lab's emulator only")
        fault_arguments(kind, values)  # checks the arguments now, not in the guest
        faults.append([kind, *values])
    return faults


def cmd_lab_vm_run(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    from sriovcheck.report.summary import summary_table
    from sriovcheck.report.writer import load_results, rerender
    from sriovcheck.topology import load_topology
    from sriovcheck.vmlab import initramfs, parts, qemu
    from sriovcheck.workflow import prepare_report_dir

    loaded = load_topology(args.topology)
    t = loaded.topology
    faults = parse_faults(args.fault)
    if not 1 <= len(t.host.pfs) <= len(qemu.PF_SLOTS):
        raise UsageError(f"{args.topology}: the VM lab has room for 1 or 2 PFs; this topology has {len(t.host.pfs)}",
                         hint="see topologies/vm-lab.yaml")
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout}: must be a positive number of seconds")
    if os.geteuid() != 0:
        raise LabError("the VM lab needs root (QEMU shares this machine's root filesystem read-only with the guest)",
                       hint="run it as root")
    vm = parts.find_parts()
    description = parts.describe(vm)
    directory = prepare_report_dir(t.name, args.report_dir)
    started = time.monotonic()
    xchg = Path(tempfile.mkdtemp(prefix=f"sriovcheck-vm-{t.name}-"))
    try:
        topo_copy = xchg / Path(loaded.file).name
        shutil.copyfile(loaded.file, topo_copy)
        job = {
            "topology": f"{initramfs.XCHG_MOUNT}/{topo_copy.name}",
            "report_dir": f"{initramfs.XCHG_MOUNT}/reports",
            "faults": faults,
            "description": description,
            "pf_macs": [qemu.pf_mac(i) for i in range(len(t.host.pfs))],
            "port_macs": [qemu.switch_port_mac(i) for i in range(len(t.host.pfs))],
            "handover": {k: getattr(args, k, None) for k in ("customer", "site", "rack", "executed_by", "witnessed_by")},
        }
        (xchg / "job.json").write_text(json.dumps(job, indent=2))
        (xchg / "guest.sh").write_text(guest_script(vm))
        initrd = xchg / "initrd.img"
        initrd.write_bytes(initramfs.build_initramfs(
            vm.busybox, vm.modules_dir,
            keep=initramfs.hidden_by_tmpfs([Path(sriovcheck.__file__).resolve().parent.parent, Path(sys.prefix)])))
        argv = qemu.qemu_argv(vm.qemu, qemu.VmSpec(kernel=vm.kernel_image, initrd=initrd, xchg=xchg, pfs=len(t.host.pfs)))
        progress(f"{description}")
        progress(f"booting the guest (TCG, 2 vCPUs; takes a minute or more; time limit {args.timeout:.0f} s)")
        console = directory / "vm-console.log"

        def show(line: str) -> None:
            progress(f"vm [{time.monotonic() - started:5.1f}s] {line}")

        outcome = qemu.run_vm(argv, timeout_s=args.timeout, console_log=console, on_line=show)
        for name in ("timings.json", "guest-facts.json", "dockerd.log", "dmesg.txt", "run-output.txt"):
            if (xchg / name).exists():
                shutil.copyfile(xchg / name, directory / f"vm-{name}")
        rc_file = xchg / "rc"
        if outcome.timed_out or not rc_file.exists():
            why = (f"did not finish within {args.timeout:.0f} s and was stopped" if outcome.timed_out
                   else f"stopped (QEMU exit status {outcome.returncode}) before the run finished")
            tail = "\n".join(console.read_text(errors="replace").splitlines()[-15:]) if console.exists() else ""
            raise LabError(f"the VM lab's guest {why}; its console: {console}\n{tail}",
                           hint="a loaded machine makes TCG slow: try a longer --timeout")
        code = int(rc_file.read_text().strip() or ExitCode.ENVIRONMENT)
        reports = xchg / "reports"
        if (reports / "results.json").exists():
            for item in reports.iterdir():
                target = directory / item.name
                if item.is_dir():
                    shutil.copytree(item, target, dirs_exist_ok=True)
                else:
                    shutil.copyfile(item, target)
            data = json.loads((directory / "results.json").read_text())
            data.setdefault("topology", {})["file"] = loaded.file
            (directory / "results.json").write_text(json.dumps(data, indent=2) + "\n")
            rerender(directory / "results.json", directory / "report.html", directory / "junit.xml")
            results = load_results(directory / "results.json")
            out.write(summary_table(results))
            out.write(f"\n{description}\nreport: {(directory / 'report.html').resolve()}\n"
                      f"junit:  {(directory / 'junit.xml').resolve()}\nresults: {(directory / 'results.json').resolve()}\n")
        elif code == ExitCode.OK:
            raise LabError("the VM lab's guest finished without results", hint=f"see {console}")
        error = xchg / "error.txt"
        if error.exists() and code != ExitCode.OK:
            cls = UsageError if code == ExitCode.INVALID_INPUT else LabError
            raise _with_code(cls(error.read_text().strip() + f" (in the VM lab guest; console: {console})"), code)
        progress(f"VM lab done in {time.monotonic() - started:.0f} s")
        return code
    finally:
        shutil.rmtree(xchg, ignore_errors=True)


def _with_code(exc: LabError | UsageError, code: int) -> LabError | UsageError:
    exc.exit_code = ExitCode(code) if code in {c.value for c in ExitCode} else ExitCode.ENVIRONMENT
    return exc


def add_parser(lsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = lsub.add_parser(
        "vm-run",
        help="the whole run on a real kernel SR-IOV NIC: QEMU's igb in a guest, real host driver, real docker",
        description=(
            "Boot a guest (QEMU, TCG) with two emulated Intel 82576 (igb) SR-IOV NICs cabled to a switch with a "
            "VLAN-filtering bridge and the Junos CLI over SSH, and run `sriovcheck run TOPOLOGY --teardown` inside it "
            "with the real host driver: VFs created through sysfs, VF settings through netlink, igbvf netdevs moved into "
            "docker containers, verified end to end, torn down. The reports come back to --report-dir; the exit code is "
            "the run's. Needs root, QEMU 8.1+ and an unpacked Debian kernel (README: The VM lab)."
        ),
        epilog=(
            "examples:\n  sriovcheck lab vm-run topologies/vm-lab.yaml --report-dir out/\n"
            "  sriovcheck lab vm-run topologies/vm-lab.yaml --fault vlan-remove ge-0/0/2 201\n\n"
            "exit 0 every check passed, 1 a check failed, 2 invalid input, 3 the VM or provisioning failed, 130 interrupted"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("topology", metavar="TOPOLOGY", help="topology YAML file with 1 or 2 PFs (see topologies/vm-lab.yaml)")
    p.add_argument("--report-dir", metavar="DIR", help="where results.json, report.html, junit.xml and the guest's logs go "
                   "(default: reports/<topology>/<UTC time>/)")
    p.add_argument("--fault", nargs="+", action="append", metavar=("KIND", "ARG"),
                   help="a switch-side fault applied after provisioning, before verifying: vlan-remove PORT VLAN, vlan-add PORT VLAN, "
                   "gateway-down VLAN, gateway-up VLAN, pf-down PF, pf-up PF (repeatable)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"stop the guest after S seconds (default {DEFAULT_TIMEOUT_S})")
