"""Inside the VM lab's guest: `python -m sriovcheck.vmlab.guest JOB.json` (started by the guest's
own boot script, never on the host).

It names the igb PFs as the topology does (found by the MACs QEMU gave them), builds the switch at
the other end of the wire (`sriovcheck.vmlab.switch`) and its Junos CLI over SSH on switch.host,
waits for the guest's docker engine, makes the lab image offline, then runs exactly what
`sriovcheck run TOPOLOGY --teardown` runs, with the real host driver (`LinuxHostDriver`): provision,
the requested switch faults, verify, teardown. Reports go to the exchange folder the host reads.
Lines for the user are printed with the console prefix the host filters on.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from sriovcheck.errors import ExitCode, LabError, SriovcheckError
from sriovcheck.vmlab.qemu import CONSOLE_PREFIX

STATE_FILE = Path("/run/sriovcheck-vm-switch.json")
T0 = time.monotonic()


def say(message: str) -> None:
    print(f"{CONSOLE_PREFIX}[guest {time.monotonic() - T0:5.1f}s] {message}", flush=True)


def rename_pfs(pf_names: list[str], pf_macs: list[str]) -> None:
    from sriovcheck.host.netlink import IPRoute

    with IPRoute() as ipr:
        by_mac = {str(m.get("IFLA_ADDRESS")).lower(): m for m in ipr.link("dump")}
        for name, mac in zip(pf_names, pf_macs, strict=True):
            msg = by_mac.get(mac.lower())
            if msg is None:
                raise LabError(f"no igb NIC with MAC {mac} in the guest for PF {name}", hint="see vm-console.log")
            ipr.link("set", index=msg["index"], state="down")
            if msg.get("IFLA_IFNAME") != name:
                ipr.link("set", index=msg["index"], ifname=name)
            ipr.link("set", index=msg["index"], state="up")


class SwitchServer:
    """The Junos emulator on switch.host, in the switch namespace (one thread that entered it)."""

    def __init__(self, *, netns_name: str, host: str, port: int, username: str, password: str) -> None:
        self._args = (netns_name, host, port, username, password)
        self._ready = threading.Event()
        self._error: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="sriovcheck-vm-junos", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(60)
        if self._error:
            raise self._error[0]
        if not self._ready.is_set():
            raise LabError("the VM switch's Junos emulator did not start within 60 s", hint="see vm-console.log")

    def _run(self) -> None:
        from sriovcheck.host.netlink import netns
        from sriovcheck.lab.fabric import NETNS_RUN_DIR
        from sriovcheck.lab.junos.server import start_server
        from sriovcheck.vmlab.switch import VmSwitchSource

        ns, host, port, username, password = self._args
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, ns), os.O_RDONLY)
            netns.setns(fd, flags=0)
            os.close(fd)
        except BaseException as exc:
            self._error.append(exc)
            self._ready.set()
            return
        source = VmSwitchSource(STATE_FILE)

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            server, _ = await start_server(source, host=host, port=port, host_key_path="/run/sriovcheck-vm-switch-key",
                                           password=password, authorized_keys_path=None, username=username)
            self._ready.set()
            await self._stop.wait()
            server.close()
            await server.wait_closed()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error.append(exc)
            self._ready.set()
        finally:
            source.close()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def wait_for_docker(timeout_s: float) -> str:
    import docker

    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client = docker.DockerClient(base_url="unix:///run/docker.sock", timeout=10)
            version = str(client.version().get("Version"))
            client.close()
            return version
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(1)
    raise LabError(f"the guest's docker engine did not answer within {timeout_s:.0f} s: {last}",
                   hint="see dockerd.log in the report folder")


CARRIER_WAIT_S = 45.0


def wait_for_vf_carrier(topology: Any, timeout_s: float) -> None:
    """igbvf under TCG gets its carrier seconds after the VF is brought up (it redoes the mailbox reset
    with the PF at open; up to ~10 s was measured): wait for it, bounded, before verifying. A VF still
    without carrier after that is left to the vf-attached check to report."""
    import docker

    from sriovcheck.host.netns import read_link

    client = docker.DockerClient(base_url="unix:///run/docker.sock", timeout=30)
    try:
        pending = {}
        for ct, spec in topology.attachments():
            pid = client.containers.get(ct.name).attrs["State"]["Pid"]
            pending[f"{ct.name}/{spec.ifname}"] = (f"/proc/{pid}/ns/net", spec.ifname)
    except Exception as exc:
        say(f"cannot find the containers to wait for VF carrier: {exc}")
        return
    finally:
        client.close()
    started = time.monotonic()
    while pending and time.monotonic() - started < timeout_s:
        for target, (ns, ifname) in list(pending.items()):
            link = read_link(ns, ifname)
            if link is not None and link.carrier:
                say(f"{target}: carrier after {time.monotonic() - started:.1f} s")
                del pending[target]
        if pending:
            time.sleep(0.5)
    for target in pending:
        say(f"{target}: still no carrier after {timeout_s:.0f} s")


def host_facts(pf_names: list[str]) -> dict[str, Any]:
    """What the host test checks after the run: each PF's VF count, our containers, namespaces."""
    import docker

    netns_dir = "/run/netns"
    facts: dict[str, Any] = {"numvfs": {}, "containers": [], "netns": sorted(os.listdir(netns_dir)) if os.path.isdir(netns_dir) else []}
    for pf in pf_names:
        try:
            facts["numvfs"][pf] = int(Path(f"/sys/class/net/{pf}/device/sriov_numvfs").read_text())
        except OSError:
            facts["numvfs"][pf] = None
    try:
        client = docker.DockerClient(base_url="unix:///run/docker.sock", timeout=10)
        facts["containers"] = [c.name for c in client.containers.list(all=True, filters={"label": "io.sriovcheck.managed=true"})]
        client.close()
    except Exception as exc:
        facts["containers_error"] = str(exc)
    return facts


def run_job(job: dict[str, Any], xchg: Path) -> int:
    from sriovcheck import workflow
    from sriovcheck.containers.image import ensure_lab_image
    from sriovcheck.topology import load_topology
    from sriovcheck.verify.results import RunResults
    from sriovcheck.verify.waivers import HANDOVER_FIELDS
    from sriovcheck.vmlab import switch as vmswitch

    timings: dict[str, float] = {"guest_start": 0.0}

    def mark(name: str) -> None:
        timings[name] = round(time.monotonic() - T0, 1)
        (xchg / "timings.json").write_text(json.dumps(timings, indent=2))

    loaded = load_topology(job["topology"])
    t = loaded.topology
    pf_names = [pf.name for pf in t.host.pfs]
    say(f"naming the igb PFs {', '.join(pf_names)}")
    rename_pfs(pf_names, job["pf_macs"])
    say(f"building the switch: VLAN-filtering bridge, VLANs {', '.join(str(v.id) for v in t.vlans)}, Junos CLI on {t.switch.host}")
    state = vmswitch.plan_switch_state(t)
    vmswitch.build_switch(t, state, port_macs=job["port_macs"], state_file=STATE_FILE)
    password_env = t.switch.password_env or "SRIOVCHECK_SWITCH_PASSWORD"
    password = os.environ.get(password_env) or secrets.token_urlsafe(16)
    os.environ[password_env] = password
    server = SwitchServer(netns_name=state.ns, host=str(t.switch.host), port=t.switch.port, username=t.switch.username,
                          password=password)
    server.start()
    mark("switch_ready")
    say("waiting for the guest's docker engine")
    version = wait_for_docker(180)
    import docker

    client = docker.DockerClient(base_url="unix:///run/docker.sock", timeout=60)
    ensure_lab_image(client)
    client.close()
    mark("docker_ready")
    say(f"docker {version} up; lab image ready; running `sriovcheck run {Path(job['topology']).name} --teardown` with the real host driver")

    def after_provision() -> None:
        mark("provisioned")
        wait_for_vf_carrier(t, CARRIER_WAIT_S)
        mark("carrier")
        for kind, *values in job.get("faults", []):
            kwargs = workflow.fault_arguments(kind, list(values))
            say(f"fault {kind} {' '.join(values)}: " + vmswitch.apply_fault(state, kind, kwargs))

    def progress(message: str) -> None:
        if message == "tearing down":
            mark("verified")
        say(message)

    def annotate(results: RunResults) -> None:
        mark("torn_down")
        results.host["vm_lab"] = job["description"]
        results.host["lab"] = False
        results.notes.append(job["description"] + ": the real host driver (sysfs and netlink) drove QEMU's emulated igb NIC "
                             "in a guest kernel; not SR-IOV hardware, and not the namespace lab.")

    args = argparse.Namespace(topology=job["topology"], lab=False, report_dir=job["report_dir"], json=False, teardown=True,
                              **{k: job.get("handover", {}).get(k) for k in HANDOVER_FIELDS})
    out = io.StringIO()
    try:
        code = workflow.cmd_run(args, out, progress, after_provision=after_provision, annotate=annotate)
    finally:
        (xchg / "run-output.txt").write_text(out.getvalue())
        server.stop()
        mark("done")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sriovcheck.vmlab.guest")
    parser.add_argument("job")
    args = parser.parse_args(argv)
    job_path = Path(args.job)
    xchg = job_path.parent
    job = json.loads(job_path.read_text())
    pf_names: list[str] = []
    try:
        code = run_job(job, xchg)
    except SriovcheckError as exc:
        say(f"error: {exc}")
        (xchg / "error.txt").write_text(str(exc))
        code = int(exc.exit_code)
    except Exception as exc:
        traceback.print_exc()
        (xchg / "error.txt").write_text(f"internal error in the guest: {type(exc).__name__}: {exc}")
        code = int(ExitCode.ENVIRONMENT)
    try:
        from sriovcheck.topology import load_topology

        pf_names = [pf.name for pf in load_topology(job["topology"]).topology.host.pfs]
        (xchg / "guest-facts.json").write_text(json.dumps(host_facts(pf_names), indent=2))
    except Exception as exc:
        say(f"could not record the guest's facts after the run: {exc}")
    (xchg / "rc").write_text(f"{code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
