"""QEMU for the VM lab: the command line (pure) and the one process sriovcheck starts for it.

The guest's PCI layout (`-nodefaults`, machine `q35`: PCIe, whose extended config space holds the SR-IOV
capability): slot 0 host bridge, 0x1f LPC/SATA/SMBus; the igb PFs on slots 3 and 5; a VF sits at the PF's
devfn + 0x80 + 2n (82576: offset 0x80, stride 2, at most 7 VFs), so PF slot 3 (devfn 0x18) puts its VFs
on devfn 0x98..0xa4 (slots 0x13-0x14) and PF slot 5 (devfn 0x28) on 0xa8..0xb4 (slots 0x15-0x16): nothing
else may sit there. The switch ports (virtio-net, `ctrl_vlan=off` so that the guest's VLAN filter does
not drop tagged frames in the device) are on slots 8 and 9, the 9p shares on 0xa and 0xb. PF i and switch
port i share QEMU hub i: that hub is the cable.

The process runs in its own process group with a time limit; whatever happens (a guest that hangs,
Ctrl-C, SIGTERM, an exception) the group is killed and waited for before this module returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sriovcheck.errors import LabError
from sriovcheck.vmlab.initramfs import ROOT_TAG, XCHG_TAG

PF_SLOTS = (0x3, 0x5)
SWITCH_SLOTS = (0x8, 0x9)
ROOT_SLOT, XCHG_SLOT = 0xA, 0xB
CONSOLE_PREFIX = "sriovcheck-vm: "
KERNEL_CMDLINE = "console=ttyS0 rdinit=/init panic=-1 apparmor=0 quiet loglevel=3 net.ifnames=0 tsc=unstable"


def pf_mac(index: int) -> str:
    return f"52:54:00:5c:0a:{index:02x}"


def switch_port_mac(index: int) -> str:
    return f"52:54:00:5c:0b:{index:02x}"


def vf_devfn(pf_slot: int, vf: int) -> int:
    return (pf_slot << 3) + 0x80 + 2 * vf


@dataclass(frozen=True)
class VmSpec:
    kernel: Path
    initrd: Path
    xchg: Path
    pfs: int  # igb NICs, each cabled to its own switch port
    cpus: int = 2
    memory_mb: int = 2560  # below 2.75 GiB: q35 keeps all RAM under 4 GiB and SeaBIOS no 64-bit PCI window
    capture: Path | None = None  # a pcap of switch port 0's wire (QEMU filter-dump)


def qemu_argv(qemu: str, spec: VmSpec) -> list[str]:
    if not 1 <= spec.pfs <= len(PF_SLOTS):
        raise LabError(f"the VM lab has room for 1 to {len(PF_SLOTS)} PFs, the topology has {spec.pfs}",
                       hint="use at most two PFs in a VM lab topology (topologies/vm-lab.yaml)")
    argv = [
        qemu, "-accel", "tcg", "-machine", "q35", "-cpu", "max", "-smp", str(spec.cpus), "-m", str(spec.memory_mb),
        # No 64-bit PCI window: Linux would put the VFs' 64-bit BARs above 4 GiB, where QEMU 10.0's igb VFs
        # (whose BARs it models as 32-bit) never map them; the VF's mailbox then never reaches the PF and
        # igbvf says "PF still in reset state", takes a random MAC and gets no carrier (found by vmcarrier).
        "-global", "q35-pcihost.pci-hole64-size=0",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", "stdio", "-monitor", "none",
        "-kernel", str(spec.kernel), "-initrd", str(spec.initrd), "-append", KERNEL_CMDLINE,
        "-fsdev", "local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", f"virtio-9p-pci,fsdev=fsroot,mount_tag={ROOT_TAG},addr={ROOT_SLOT:#x}",
        "-fsdev", f"local,id=fsxchg,path={spec.xchg},security_model=none,multidevs=remap",
        "-device", f"virtio-9p-pci,fsdev=fsxchg,mount_tag={XCHG_TAG},addr={XCHG_SLOT:#x}",
    ]
    for i in range(spec.pfs):
        argv += [
            "-netdev", f"hubport,id=pfwire{i},hubid={i}",
            "-netdev", f"hubport,id=swwire{i},hubid={i}",
            "-device", f"igb,netdev=pfwire{i},mac={pf_mac(i)},addr={PF_SLOTS[i]:#x}",
            "-device", f"virtio-net-pci,netdev=swwire{i},mac={switch_port_mac(i)},ctrl_vlan=off,addr={SWITCH_SLOTS[i]:#x}",
        ]
    if spec.capture is not None:
        argv += ["-object", f"filter-dump,id=cap0,netdev=swwire0,file={spec.capture}"]
    return argv


@dataclass
class VmOutcome:
    returncode: int | None  # QEMU's own exit status (None: killed at the time limit)
    timed_out: bool
    seconds: float


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


def run_vm(argv: list[str], *, timeout_s: float, console_log: Path, on_line: Callable[[str], None]) -> VmOutcome:
    """Run QEMU to its end (the guest powers off) or to the time limit, streaming the guest's serial
    console: every line goes to `console_log`, lines the guest marks for the user to `on_line`."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    except OSError as exc:
        raise LabError(f"cannot start QEMU {argv[0]}: {exc.strerror or exc}", hint="see `sriovcheck lab vm-run --help`") from exc

    def pump() -> None:
        assert proc.stdout is not None
        with console_log.open("wb") as log:
            for raw in iter(proc.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if CONSOLE_PREFIX in line:
                    on_line(line.split(CONSOLE_PREFIX, 1)[1])

    reader = threading.Thread(target=pump, name="sriovcheck-vm-console", daemon=True)
    reader.start()
    try:
        try:
            rc: int | None = proc.wait(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            rc, timed_out = None, True
    finally:
        # Ctrl-C, SIGTERM (raised as KeyboardInterrupt by the CLI) or the time limit: nothing of the
        # guest outlives this function.
        _kill_group(proc)
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    return VmOutcome(rc, timed_out, time.monotonic() - started)
