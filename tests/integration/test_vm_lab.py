"""The VM lab: `sriovcheck lab vm-run` boots QEMU's igb (Intel 82576, emulated) in a guest kernel and
runs the real host driver end to end against a VLAN-filtering bridge behind the Junos CLI.

Three runs (about 70-100 s each on 2 cores under TCG): healthy, a switch fault, a refused setting. After
each one nothing of the guest may remain on the host: no QEMU process, no mount, no temporary folder.
Never skipped in CI (the set-up installs QEMU and the kernel: SRIOVCHECK_SETUP_VM=1 scripts/setup.sh).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "topologies" / "vm-lab.yaml"
DESCRIPTION = "VM lab: QEMU 10.0.2, igb (Intel 82576, emulated), kernel 6.1.0-50-amd64, drivers igb/igbvf"
RUN_TIMEOUT_S = 900  # generous: TCG on a shared 2-core machine; a healthy run takes ~70-100 s
T_200A, T_200B, T_201 = "vm-200a/eth1", "vm-200b/eth1", "vm-201/eth1"
pytestmark = pytest.mark.timeout(RUN_TIMEOUT_S + 120)


@pytest.fixture(scope="module")
def vm_ready() -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("root")
    from sriovcheck.errors import LabError
    from sriovcheck.vmlab.parts import find_parts

    try:
        find_parts()
    except LabError as exc:
        problems.append(str(exc))
    if problems:
        what = "; ".join(problems) + " (SRIOVCHECK_SETUP_VM=1 bash scripts/setup.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"VM lab prerequisite missing in CI: {what}")
        pytest.skip(f"needs {what}")


def _guest_leftovers() -> dict[str, list[str]]:
    procs = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in args and "sriovcheck-vm-" in args:
            procs.append(f"{pid} {args[:120]}")
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines() if "sriovcheck-vm" in line]
    import tempfile

    temps = [str(p) for p in Path(tempfile.gettempdir()).glob("sriovcheck-vm-*")]
    return {k: v for k, v in (("qemu", procs), ("mounts", mounts), ("temp dirs", temps)) if v}


def vm_run(tmp_path: Path, topology: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path, float]:
    report = tmp_path / "report"
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "sriovcheck", "lab", "vm-run", str(topology), "--report-dir", str(report),
                        "--timeout", str(RUN_TIMEOUT_S), *extra], cwd=ROOT, capture_output=True, text=True,
                       timeout=RUN_TIMEOUT_S + 60, check=False)
    seconds = time.monotonic() - started
    assert _guest_leftovers() == {}, "the VM lab left something of the guest on the host"
    return r, report, seconds


def results_of(report: Path) -> dict[str, Any]:
    return json.loads((report / "results.json").read_text())  # type: ignore[no-any-return]


def by(results: dict[str, Any], kind: str, target: str) -> dict[str, Any]:
    found = [c for c in results["checks"] if c["kind"] == kind and c["target"] == target]
    assert len(found) == 1, (kind, target, found)
    return found[0]


def failing(results: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["kind"], c["target"]) for c in results["checks"] if c["status"] in ("fail", "error")}


def record(request: pytest.FixtureRequest, report: Path, seconds: float) -> None:
    timings = json.loads((report / "vm-timings.json").read_text())
    request.node.user_properties.append(("vm_run_s", f"{seconds:.1f}"))
    for k, v in timings.items():
        request.node.user_properties.append((f"guest_{k}_s", str(v)))


def test_healthy_run_passes_every_applicable_check(vm_ready: None, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    r, report, seconds = vm_run(tmp_path, TOPOLOGY)
    assert r.returncode == 0, r.stdout + r.stderr
    results = results_of(report)
    record(request, report, seconds)
    assert results["verdict"] == "pass"
    # what ran: the real host driver on QEMU's igb, said in results.json and in the report's host card
    assert results["host"]["driver"] == "linux" and results["host"]["lab"] is False
    assert results["host"]["vm_lab"] == DESCRIPTION and results["host"]["nic_drivers"] == ["igb"]
    assert results["host"]["kernel"] == "6.1.0-50-amd64"
    assert results["topology"]["file"] == str(TOPOLOGY)
    html = (report / "report.html").read_text()
    assert DESCRIPTION in html and "not the namespace lab" in html
    assert 'failures="0"' in (report / "junit.xml").read_text()
    statuses = {(c["kind"], c["target"]): c["status"] for c in results["checks"]}
    assert not [k for k, s in statuses.items() if s in ("fail", "error")]
    # the only skips: VLAN 201 has one VF (no VF-to-VF path to try), and the guest sends no LLDP
    assert {k for k, s in statuses.items() if s == "skip"} == {("vf-path", T_201), ("cabling", "vm-guest:eno1"),
                                                               ("cabling", "vm-guest:eno2")}
    for target in (T_200A, T_200B, T_201):
        for kind in ("vf-attached", "vf-config", "gateway-ping", "container-arp", "switch-mac", "switch-arp", "gateway-mac",
                     "mac-unique", "mtu", "switch-port", "vlan-isolation", "teardown-clean"):
            assert statuses[(kind, target)] == "pass", (kind, target)
    # switch-mac: learned by the real bridge, on the real 802.1Q VLAN ids, on the PF's port
    assert by(results, "switch-mac", T_200A)["observed"].startswith("SRIOV_200 learned on ge-0/0/1.0")
    assert by(results, "switch-mac", T_200B)["observed"].startswith("SRIOV_200 learned on ge-0/0/2.0")
    assert by(results, "switch-mac", T_201)["observed"].startswith("SRIOV_201 learned on ge-0/0/2.0")
    # the pinned MAC went through the PF to the VF (igb) and is what the switch learned
    macs = {a["container"]: a["mac"] for a in results["attachments"]}
    assert macs["vm-200a"] == "02:5c:00:00:01:00"
    # vf-path crossed the switch between the two PFs
    assert "across the switch (eno1 -> ge-0/0/1 -> ge-0/0/2 -> eno2)" in by(results, "vf-path", T_200A)["observed"]
    assert "across the switch (eno2 -> ge-0/0/2 -> ge-0/0/1 -> eno1)" in by(results, "vf-path", T_200B)["observed"]
    facts = json.loads((report / "vm-guest-facts.json").read_text())
    assert facts["numvfs"] == {"eno1": 0, "eno2": 0} and facts["containers"] == []
    assert DESCRIPTION in r.stderr and "booting the guest" in r.stderr  # progress while it runs


def test_switch_fault_fails_exactly_the_checks_it_must(vm_ready: None, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    r, report, seconds = vm_run(tmp_path, TOPOLOGY, "--fault", "vlan-remove", "ge-0/0/2", "201")
    assert r.returncode == 1, r.stdout + r.stderr
    record(request, report, seconds)
    results = results_of(report)
    assert "fault vlan-remove ge-0/0/2 201: VLAN 201 removed from ge-0/0/2" in r.stderr
    assert failing(results) == {("gateway-ping", T_201), ("switch-mac", T_201), ("switch-port", T_201)}
    # the same diagnosis as the namespace lab (tests/integration/test_e2e_verify.py, test_e2e_diagnosis.py):
    # one root cause, explaining the three failures
    (cause,) = results["causes"]
    assert cause["what"] == "VLAN 201 (SRIOV_201) is not a member of ge-0/0/2", cause
    for kind in ("gateway-ping", "switch-mac", "switch-port"):
        assert by(results, kind, T_201)["cause"] == cause["id"], kind
    msg = by(results, "switch-mac", T_201)["message"]
    assert msg.startswith("not learned within") and "on VLAN SRIOV_201 (201) at ge-0/0/2" in msg
    assert "the switch says: VLAN 201 (SRIOV_201) is not a member of ge-0/0/2" in msg
    assert by(results, "switch-port", T_201)["message"].startswith("VLAN 201 (SRIOV_201) is not a member of ge-0/0/2")
    for kind in ("container-arp", "switch-arp", "gateway-mac", "mac-unique"):
        assert by(results, kind, T_201)["status"] == "skip"
    assert "prerequisite gateway-ping failed" in by(results, "switch-arp", T_201)["message"]
    # VLAN 200 on both ports is untouched
    for target in (T_200A, T_200B):
        for kind in ("gateway-ping", "switch-mac", "switch-port", "vf-path"):
            assert by(results, kind, target)["status"] == "pass", (kind, target)
    assert by(results, "teardown-clean", T_201)["status"] == "pass"
    assert (report / "evidence").is_dir()


def test_refused_setting_exits_3_and_rolls_back(vm_ready: None, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    data = yaml.safe_load(TOPOLOGY.read_text())
    data["containers"][0]["vfs"][0]["link_state"] = "disable"  # eno1 VF 0: igb has no link-state op
    topo = tmp_path / "vm-lab-link-state.yaml"
    topo.write_text(yaml.safe_dump(data, sort_keys=False))
    r, report, seconds = vm_run(tmp_path, topo)
    assert r.returncode == 3, r.stdout + r.stderr
    err = r.stderr
    assert "igb" in err and "eno1" in err and "link_state" in err, err
    assert re.search(r"\bVF 0\b|\bvf 0\b", err), err
    assert not (report / "results.json").exists()
    facts = json.loads((report / "vm-guest-facts.json").read_text())
    assert facts["numvfs"] == {"eno1": 0, "eno2": 0}, "the VF count was not rolled back"
    assert facts["containers"] == []
    request.node.user_properties.append(("vm_run_s", f"{seconds:.1f}"))


def test_ctrl_c_and_the_time_limit_leave_nothing_of_the_guest(vm_ready: None, tmp_path: Path) -> None:
    # Ctrl-C while the guest boots: exit 130, QEMU's whole process group gone, the exchange folder removed
    proc = subprocess.Popen([sys.executable, "-m", "sriovcheck", "lab", "vm-run", str(TOPOLOGY), "--report-dir", str(tmp_path / "int")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a background job ignores SIGINT
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _guest_leftovers().get("qemu"):
        time.sleep(0.5)
    assert _guest_leftovers().get("qemu"), "QEMU did not start"
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert _guest_leftovers() == {}
    # a guest that does not finish within the time limit is stopped: exit 3, with what to do
    r, _, seconds = vm_run(tmp_path, TOPOLOGY, "--timeout", "8")
    assert r.returncode == 3 and "did not finish within 8 s and was stopped" in r.stderr and "--timeout" in r.stderr
    assert seconds < 60
