"""Verification end to end in the emulated lab, both switch styles: `sriovcheck run --lab` passes
every check, and a lab broken on purpose (lab faults, docker, iproute2 from outside, the emulated
NIC's driver) fails exactly the checks it should, with the diagnosis that names the cause.

One provisioned lab per switch style; after each test the lab is made healthy again (faults
cleared, emulator running, provision repairs containers, VFs and VLANs).
"""

from __future__ import annotations

import json
import os
import signal
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _lab_helpers import (  # healthy_after, lab_env: autouse fixtures for this module's tests
    Cli,
    Lab,
    cleanup,
    healthy_after,  # noqa: F401
    lab_env,  # noqa: F401
    make_lab,
    run,
    wait_for,
)

from sriovcheck.lab.host_driver import EmulatedHostDriver
from sriovcheck.lab.state import lab_dir
from sriovcheck.switch.commands import saved_output_name
from sriovcheck.switch.netmiko_client import NetmikoSwitch
from sriovcheck.verify.engine import ARP_XML, MAC_TABLE_XML
from sriovcheck.verify.results import CHECK_KINDS

pytestmark = pytest.mark.integration
SWITCH = "ex-switch"
HOST_KINDS = ("vf-attached", "vf-config", "gateway-ping", "container-arp")
SWITCH_KINDS = ("switch-mac", "switch-arp", "gateway-mac", "mac-unique")


@pytest.fixture(scope="module", params=["non-els", "els"])
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    style: str = request.param
    lab = make_lab(tmp_path_factory.mktemp(f"e2e-verify-{style}"), prefix="e2ev", style=style)
    try:
        report_dir = lab.state_root.parent / "first-run"
        r = lab.cli("run", "TOPOLOGY", "--lab", "--report-dir", str(report_dir))
        lab.notes["first_run"] = (r, report_dir)
        yield lab
    finally:
        problems = cleanup(lab)
        assert not [p for p in problems if not p.startswith("container")], problems


def verify(lab: Lab, where: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Cli, dict[str, Any]]:
    r = lab.cli("verify", "TOPOLOGY", "--lab", "--report-dir", str(where), *args, env=env)
    assert r.code in (0, 1), r.text
    return r, json.loads((where / "results.json").read_text())


def by(results: dict[str, Any], kind: str, target: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in results["checks"] if c["kind"] == kind and c["target"] == target]
    assert len(found) == 1, (kind, target, found)
    return found[0]


# The core checks of the verification issue; the acceptance checks (mtu, switch-port, vf-path,
# vlan-isolation, cabling) are asserted where a case is about them.
CORE = {*HOST_KINDS, *SWITCH_KINDS, "switch-login"}
ACCEPTANCE_HEALTHY = {"switch-port": "pass", "mtu": "pass", "vf-path": "skip", "vlan-isolation": "pass"}


def problems(results: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["kind"], c["target"], c["status"]) for c in results["checks"] if c["status"] in ("fail", "error") and c["kind"] in CORE}


def statuses(results: dict[str, Any], target: str, kinds: set[str] = CORE) -> dict[str, str]:
    return {c["kind"]: c["status"] for c in results["checks"] if c["target"] == target and c["kind"] in kinds}


ALL_PASS = dict.fromkeys(HOST_KINDS + SWITCH_KINDS, "pass")


# ------------------------------------------------------------------ healthy

def test_run_passes_every_check_and_writes_the_reports(lab: Lab) -> None:
    r, report_dir = lab.notes["first_run"]
    assert r.code == 0, r.text
    assert "verdict: PASS" in r.out
    results = json.loads((report_dir / "results.json").read_text())
    assert results["schema_version"] == 2 and results["verdict"] == "pass"
    # 2 VFs x (8 core + 4 acceptance) + switch-login + cabling of the PF; vf-path skips: one VF per VLAN
    assert results["counts"] == {"pass": 24, "fail": 0, "error": 0, "skip": 2}
    assert results["topology"]["name"] == lab.name
    assert results["switch"]["source"] == "ssh" and results["switch"]["style"] == lab.style
    assert results["switch"]["model"] == ("ex4300-48t" if lab.style == "els" else "ex4200-48t")
    for target in lab.targets:
        assert statuses(results, target) == ALL_PASS
        assert statuses(results, target, set(ACCEPTANCE_HEALTHY)) == ACCEPTANCE_HEALTHY
        assert by(results, "vf-path", target)["message"].startswith("not run: no other working VF on VLAN")
    assert statuses(results, SWITCH) == {"switch-login": "pass"}
    assert {c["kind"] for c in results["checks"]} == set(CHECK_KINDS) - {"teardown-clean"}
    cabling = [c for c in results["checks"] if c["kind"] == "cabling"]
    assert len(cabling) == 1 and cabling[0]["status"] == "pass" and "ge-0/0/1" in cabling[0]["observed"]

    vfs = lab.vfs()
    macs = {t: vfs[i]["mac"] for i, t in enumerate(lab.targets)}
    assert {a["container"] + "/eth1": a["mac"] for a in results["attachments"]} == macs
    l3 = "irb" if lab.style == "els" else "vlan"
    for i, (target, mac) in enumerate(macs.items()):
        vlan = (200, 201)[i]
        assert lab.in_container(target.split("/")[0])["mac"] == mac  # what docker exec sees
        sw_mac = by(results, "switch-mac", target)
        assert sw_mac["evidence"] and all(e["source"] == f"switch:{SWITCH}" for e in sw_mac["evidence"])
        assert any(mac in e["output"] for e in sw_mac["evidence"]), "the switch's MAC table must show the VF MAC"
        assert f"SRIOV_{vlan}" in sw_mac["observed"] and "ge-0/0/1.0" in sw_mac["observed"]
        sw_arp = by(results, "switch-arp", target)
        assert any(mac in e["output"] and f"192.168.{vlan}.2" in e["output"] for e in sw_arp["evidence"])
        assert sw_arp["observed"] == f"192.168.{vlan}.2 at {mac} on {l3}.{vlan}"
        assert by(results, "gateway-ping", target)["details"]["received"] == 3
    router = lab.status()["router_mac"]
    assert all(router in by(results, "gateway-mac", t)["observed"] for t in lab.targets)

    assert (report_dir / "report.html").stat().st_size > 0
    html = (report_dir / "report.html").read_text()
    assert lab.containers[0] in html and macs[lab.targets[0]] in html
    suite = ET.parse(report_dir / "junit.xml").getroot()
    cases = suite.findall(".//testcase")
    assert len(cases) == 26 and not suite.findall(".//failure") and not suite.findall(".//error")


# ------------------------------------------------------------------ broken on purpose

def test_vlan_not_carried_on_the_switch_port(lab: Lab, tmp_path: Path) -> None:
    t200, t201 = lab.targets
    assert lab.cli("lab", "fault", "TOPOLOGY", "vlan-remove", "ge-0/0/1", "201").code == 0
    r, results = verify(lab, tmp_path)
    assert r.code == 1 and results["verdict"] == "fail"
    assert problems(results) == {("gateway-ping", t201, "fail"), ("switch-mac", t201, "fail")}
    l3 = "irb.201" if lab.style == "els" else "vlan.201"
    assert by(results, "gateway-ping", t201)["message"] == f"no reply from gateway 192.168.201.1 ({l3}) on VLAN 201 (SRIOV_201)"
    msg = by(results, "switch-mac", t201)["message"]
    assert msg.startswith("not learned within 3 s on VLAN SRIOV_201 (201) at ge-0/0/1")
    # the switch's own view turns "not learned" into the cause
    assert "the switch says: VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in msg
    port = by(results, "switch-port", t201)
    assert port["status"] == "fail" and port["message"].startswith("VLAN 201 (SRIOV_201) is not a member of ge-0/0/1")
    assert by(results, "switch-port", t200)["status"] == "pass"
    assert statuses(results, t201) == {**ALL_PASS, "gateway-ping": "fail", "switch-mac": "fail",
                                       "container-arp": "skip", "switch-arp": "skip", "gateway-mac": "skip",
                                       "mac-unique": "skip"}
    assert "prerequisite gateway-ping failed" in by(results, "switch-arp", t201)["message"]
    assert statuses(results, t200) == ALL_PASS
    assert "[C1] VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in r.out


def test_gateway_interface_down(lab: Lab, tmp_path: Path) -> None:
    t200, t201 = lab.targets
    assert lab.cli("lab", "fault", "TOPOLOGY", "gateway-down", "200").code == 0
    r, results = verify(lab, tmp_path)
    assert r.code == 1
    assert problems(results) == {("gateway-ping", t200, "fail")}
    l3 = "irb.200" if lab.style == "els" else "vlan.200"
    msg = by(results, "gateway-ping", t200)["message"]
    assert msg == f"no reply from gateway 192.168.200.1 ({l3}) on VLAN 200 (SRIOV_200)"
    # L2 still works: the switch learned the MAC; what needs the gateway is skipped, naming the ping
    assert statuses(results, t200) == {**ALL_PASS, "gateway-ping": "fail", "container-arp": "skip",
                                       "switch-arp": "skip", "gateway-mac": "skip"}
    assert statuses(results, t201) == ALL_PASS


def test_stopped_container(lab: Lab, tmp_path: Path) -> None:
    t200, t201 = lab.targets
    run("docker", "stop", "-t", "0", lab.containers[1])
    r, results = verify(lab, tmp_path)
    assert r.code == 1
    assert problems(results) == {("vf-attached", t201, "fail")}
    assert by(results, "vf-attached", t201)["message"].startswith(f"container {lab.containers[1]} is not running")
    assert statuses(results, t201) == {"vf-attached": "fail", "vf-config": "pass",
                                       **dict.fromkeys(("gateway-ping", "container-arp", *SWITCH_KINDS), "skip")}
    assert statuses(results, t200) == ALL_PASS
    assert lab.containers_seen()[lab.containers[1]]["status"] == "exited"  # verify did not restart it


def test_vf_link_down_inside_the_container(lab: Lab, tmp_path: Path) -> None:
    t200, t201 = lab.targets
    pid = lab.containers_seen()[lab.containers[0]]["pid"]
    run("nsenter", "-t", str(pid), "-n", "ip", "link", "set", "eth1", "down")
    assert not lab.in_container(lab.containers[0])["up"]
    r, results = verify(lab, tmp_path)
    assert r.code == 1
    assert problems(results) == {("vf-attached", t200, "fail")}
    check = by(results, "vf-attached", t200)
    assert check["message"] == "administratively down" and "<DOWN," in check["observed"]
    assert statuses(results, t200) == {"vf-attached": "fail", "vf-config": "pass",
                                       **dict.fromkeys(("gateway-ping", "container-arp", *SWITCH_KINDS), "skip")}
    assert statuses(results, t201) == ALL_PASS


def test_wrong_switch_password(lab: Lab, tmp_path: Path) -> None:
    wrong = "not-the-" + lab.password
    r, results = verify(lab, tmp_path, env={"SRIOVCHECK_SWITCH_PASSWORD": wrong})
    assert r.code == 1
    assert problems(results) == {("switch-login", SWITCH, "error")}
    login = by(results, "switch-login", SWITCH)
    assert login["message"] == (f"login to switch {SWITCH} ({lab.status()['emulator']['host']}:"
                                f"{lab.status()['emulator']['port']}) as netops refused\n"
                                "  hint: check the password in $SRIOVCHECK_SWITCH_PASSWORD"), login
    for target in lab.targets:
        assert statuses(results, target) == {**dict.fromkeys(HOST_KINDS, "pass"), **dict.fromkeys(SWITCH_KINDS, "skip")}
        assert by(results, "switch-mac", target)["message"] == "not run: prerequisite switch-login errored"
    for name in ("results.json", "report.html", "junit.xml"):
        assert wrong not in (tmp_path / name).read_text()
    assert wrong not in r.text


def _switch_unreachable(lab: Lab, tmp_path: Path, how: str) -> None:
    timeout_s = 4  # switch.timeout_s of the lab's topology
    r, results = verify(lab, tmp_path)
    assert r.code == 1
    assert problems(results) == {("switch-login", SWITCH, "error")}
    assert r.seconds < 2 * timeout_s, f"{how}: verify took {r.seconds:.1f} s"
    for target in lab.targets:
        assert statuses(results, target) == {**dict.fromkeys(HOST_KINDS, "pass"), **dict.fromkeys(SWITCH_KINDS, "skip")}


def test_switch_not_listening_is_a_bounded_login_error(lab: Lab, tmp_path: Path) -> None:
    emu = lab.status()["emulator"]
    os.kill(emu["pid"], signal.SIGKILL)
    assert wait_for(lambda: not lab.status()["emulator"]["alive"])
    _switch_unreachable(lab, tmp_path, "killed emulator")
    results = json.loads((tmp_path / "results.json").read_text())
    msg = by(results, "switch-login", SWITCH)["message"]
    assert f"127.0.0.1:{emu['port']}" in msg or "refused" in msg.lower(), msg
    assert not lab.status()["emulator"]["alive"]  # verify reported it; it did not mend the lab


def test_switch_that_never_answers_is_a_bounded_login_error(lab: Lab, tmp_path: Path) -> None:
    pid = lab.status()["emulator"]["pid"]
    os.kill(pid, signal.SIGSTOP)  # the kernel still accepts TCP connections; nobody answers
    try:
        _switch_unreachable(lab, tmp_path, "stopped emulator")
    finally:
        os.kill(pid, signal.SIGCONT)


def age_out(lab: Lab, mac: str, switch_link: str) -> None:
    """What 300 s of MAC ageing on the switch would do, at once."""
    run("ip", "netns", "exec", f"sc-{lab.name}-sw", "bridge", "fdb", "del", mac, "dev", switch_link, "master",
        check=False)


def test_vf_moved_to_the_wrong_vlan(lab: Lab, tmp_path: Path) -> None:
    t200, t201 = lab.targets
    mac = lab.in_container(lab.containers[1])["mac"]
    driver = EmulatedHostDriver(lab_dir(lab.name))
    right = driver.get_vf_config(lab.pf, 1)
    driver.set_vf_config(lab.pf, 1, replace(right, vlan=200))
    try:
        assert lab.vfs()[1]["config"]["vlan"] == 200 and lab.vfs()[1]["nic_bridge"] == "n0v200"
        # As after the switch's MAC ageing: the entry learned on VLAN 201 before the move is gone.
        age_out(lab, mac, "s0v201")
        r, results = verify(lab, tmp_path)
    finally:
        driver.set_vf_config(lab.pf, 1, right)
        age_out(lab, mac, "s0v200")  # and the one learned on VLAN 200 meanwhile, for the next test
    assert r.code == 1
    assert problems(results) == {("vf-config", t201, "fail"), ("gateway-ping", t201, "fail"),
                                 ("switch-mac", t201, "fail")}
    assert by(results, "vf-config", t201)["message"] == (
        f"vlan is 200, expected 201: the PF tags {lab.pf} VF 1 with another VLAN than the topology's 201")
    msg = by(results, "switch-mac", t201)["message"]
    assert f"MAC {mac} learned on VLAN SRIOV_200" in msg and "expected SRIOV_201 (201)" in msg, msg
    assert f"{lab.pf} VF 1's VLAN and the switch port's VLAN membership disagree" in msg
    assert statuses(results, t201) == {**ALL_PASS, "vf-config": "fail", "gateway-ping": "fail", "switch-mac": "fail",
                                       "container-arp": "skip", "switch-arp": "skip", "gateway-mac": "skip"}
    assert statuses(results, t200) == ALL_PASS


# ------------------------------------------------------------------ offline switch evidence

def test_verify_from_saved_switch_outputs(lab: Lab, tmp_path: Path) -> None:
    st = lab.status()
    emu = st["emulator"]
    l3 = "irb" if lab.style == "els" else "vlan"
    commands = [MAC_TABLE_XML, ARP_XML, f"show interfaces {l3}", "show version"]
    # Fresh tables, as an operator saving them after a good live run would have.
    r, results = verify(lab, tmp_path / "live")
    assert r.code == 0, r.text
    saved = tmp_path / "switch"
    saved.mkdir()
    with NetmikoSwitch(host=emu["host"], port=emu["port"], username=st["username"], key_file=st["client_key_path"],
                       timeout_s=10, name=SWITCH) as session:
        for cmd in commands:
            (saved / saved_output_name(cmd)).write_text(session.run(cmd))
    assert {p.name for p in saved.iterdir()} == {
        "show_ethernet-switching_table.xml", "show_arp_no-resolve.xml", f"show_interfaces_{l3}.txt",
        "show_version.txt"}
    # Proof that no login happens: the switch refuses every login meanwhile.
    assert lab.cli("lab", "fault", "TOPOLOGY", "login-refuse").code == 0
    r, results = verify(lab, tmp_path / "report", "--switch-output", str(saved))
    assert r.code == 0, r.text
    assert results["verdict"] == "pass" and results["switch"]["source"] == f"files:{saved}"
    assert results["switch"]["model"] == ("ex4300-48t" if lab.style == "els" else "ex4200-48t")
    mac_check = by(results, "switch-mac", lab.targets[0])
    (ev,) = mac_check["evidence"]
    # a VF's check keeps its own rows; the whole saved file is the switch-login check's evidence
    assert ev["source"] == f"files:{saved}" and mac_check["details"]["mac"] in ev["output"]
    full = (saved / "show_ethernet-switching_table.xml").read_text()
    assert any(e["output"] == full for e in by(results, "switch-login", SWITCH)["evidence"])
    # acceptance commands that were not saved are not run, and say so; they are not errors
    port = by(results, "switch-port", lab.targets[0])
    assert port["status"] == "skip" and "saved switch outputs have no `show ethernet-switching interfaces`" in port["message"]
    assert any("saved files" in n for n in results["notes"])

    # The files are what is judged: a MAC table without the VFs fails switch-mac for both.
    empty = tmp_path / "empty"
    empty.mkdir()
    for f in saved.iterdir():
        text = f.read_text()
        for mac in (v["mac"] for v in lab.vfs().values()):
            text = text.replace(mac, "02:00:00:00:00:99")
        (empty / f.name).write_text(text)
    r, results = verify(lab, tmp_path / "report2", "--switch-output", str(empty))
    assert r.code == 1
    assert {(k, t) for k, t, _ in problems(results)} >= {("switch-mac", t) for t in lab.targets}
