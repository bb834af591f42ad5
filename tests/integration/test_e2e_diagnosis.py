"""Root causes end to end: each kind of breakage the diagnosis knows, made in the emulated lab (a lab
fault, or plain iproute2 / docker on the fabric map of `lab status --json` where no fault kind exists),
gives exactly one root cause that names it and explains the failing checks; the console, report.html,
junit.xml and results.json all say so.

One lab for the module (the seed lab plus a second, VF-less PF on ge-0/0/2, so that a cable can be
moved to another port); after each test it is made healthy again (faults cleared, `lab up` puts the
fabric back, `provision` repairs containers and VF settings).
"""

from __future__ import annotations

import json
import os
import shutil
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
    brought_up,
    healthy_after,  # noqa: F401
    lab_env,  # noqa: F401
    make_lab,
    need_root,
    run,
)

from sriovcheck.lab.host_driver import EmulatedHostDriver
from sriovcheck.lab.state import lab_dir
from tests.unit.diagram_tags import assert_beside, cause_tags

pytestmark = pytest.mark.integration
SWITCH = "ex-switch"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    need_root()
    base = tmp_path_factory.mktemp("e2e-diagnosis")
    lab = make_lab(base, prefix="e2ed")
    second = "f" + lab.pf[1:]
    text = lab.path.read_text()
    old = f"    - name: {lab.pf}\n      numvfs: 8\n      switch_port: ge-0/0/1\n"
    assert old in text
    lab.path.write_text(text.replace(old, old + f"    - name: {second}\n      numvfs: 1\n      switch_port: ge-0/0/2\n"))
    lab.notes["second_pf"] = second
    lab.notes["forget_learned_macs"] = True  # as the switch's MAC ageing would, between the tests
    with brought_up(lab, first=("provision", "TOPOLOGY", "--lab")):
        yield lab


# SRIOVCHECK_KEEP_RESULTS=DIR keeps each test's results.json as DIR/<test>.json: how the recorded runs
# in tests/data/results/causes/ (the diagnosis' unit tests) were made.
KEEP = os.environ.get("SRIOVCHECK_KEEP_RESULTS")


def verify(lab: Lab, where: Path) -> tuple[Cli, dict[str, Any]]:
    r = lab.cli("verify", "TOPOLOGY", "--lab", "--report-dir", str(where))
    assert r.code == 1, r.text
    if KEEP:
        Path(KEEP).mkdir(parents=True, exist_ok=True)
        shutil.copy(where / "results.json", Path(KEEP) / f"{os.environ['PYTEST_CURRENT_TEST'].split('::')[-1].split(' ')[0]}.json")
    return r, json.loads((where / "results.json").read_text())


def marked(where: Path, *parts: str) -> None:
    """report.html's diagram tags exactly `parts` with the root cause, each at that part's own box."""
    page = (where / "report.html").read_text()
    assert sorted(cause_tags(page)) == sorted(parts)
    for part in parts:
        assert assert_beside(page, part).ids == "C1"


def failing(results: dict[str, Any]) -> dict[str, str | None]:
    """"kind target" -> the id of the cause that explains it, for every failing check."""
    return {f"{c['kind']} {c['target']}": c["cause"] for c in results["checks"] if c["status"] in ("fail", "error")}


def one_cause(results: dict[str, Any], rule: str) -> dict[str, Any]:
    assert [c["rule"] for c in results["causes"]] == [rule], results["causes"]
    cause: dict[str, Any] = results["causes"][0]
    # every failing check is explained by it, and the cause lists exactly those
    assert set(failing(results).values()) == {cause["id"]}, failing(results)
    assert sorted(cause["explains"]) == sorted(failing(results))
    return cause


def status_json(lab: Lab) -> dict[str, Any]:
    return lab.status()


# ------------------------------------------------------------------ the done-when case


def test_vlan_missing_on_the_port_is_one_root_cause_everywhere(lab: Lab, tmp_path: Path) -> None:
    _t200, t201 = lab.targets
    assert lab.cli("lab", "fault", "TOPOLOGY", "vlan-remove", "ge-0/0/1", "201").code == 0
    r, results = verify(lab, tmp_path)
    cause = one_cause(results, "vlan-not-member")
    assert cause["what"] == "VLAN 201 (SRIOV_201) is not a member of ge-0/0/1"
    assert sorted(cause["explains"]) == sorted([f"gateway-ping {t201}", f"switch-mac {t201}", f"switch-port {t201}"])
    assert "vlan members SRIOV_201" in cause["fix"]
    assert cause["marks"]["switch_port"] == "ge-0/0/1"
    # the gateway-ping no longer asks what the switch-port check answered
    ping = next(c for c in results["checks"] if c["kind"] == "gateway-ping" and c["target"] == t201)
    assert "?" not in ping["message"] and ping["message"].startswith("no reply from gateway 192.168.201.1")
    # console: one block, naming the checks it explains, within 120 columns
    assert "ROOT CAUSE (1)" in r.out and "[C1] VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in r.out
    assert f"gateway-ping {t201}" in r.out.split("[C1]", 1)[1]
    assert "NOT EXPLAINED" not in r.out
    assert max(len(line) for line in r.out.splitlines()) <= 120
    # report.html: "Root causes" first among the failures; the diagram marks the port
    html = (tmp_path / "report.html").read_text()
    assert html.index("Root causes") < html.index("aria-label=\"Failures\"")
    assert "VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in html and "root cause C1</text>" in html
    # junit: each failing check still fails, its message starting with the cause
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    failures = [f.get("message", "") for f in suite.iter("failure")]
    assert len(failures) == 3
    assert all(m.startswith("root cause C1: VLAN 201 (SRIOV_201) is not a member of ge-0/0/1 -- ") for m in failures)
    marked(tmp_path, "port ge-0/0/1")  # the port's membership is what is wrong, not the VLAN or the VFs


def test_pf_without_carrier(lab: Lab, tmp_path: Path) -> None:
    driver = EmulatedHostDriver(lab_dir(lab.name))
    # the emulated PF reports its link as the real igb PF did (tests/data/igb-guest: up/1, then down/0)
    assert (driver.pf_info(lab.pf).operstate, driver.pf_info(lab.pf).carrier) == ("up", True)
    assert lab.cli("lab", "fault", "TOPOLOGY", "pf-down", lab.pf).code == 0
    assert (driver.pf_info(lab.pf).operstate, driver.pf_info(lab.pf).carrier) == ("down", False)
    r, results = verify(lab, tmp_path)
    cause = one_cause(results, "pf-down")
    assert cause["what"] == f"{lab.pf} has no carrier (carrier 0, operstate DOWN)"
    assert f"between {lab.pf} and ge-0/0/1" in cause["fix"]
    assert {k.split()[0] for k in cause["explains"]} >= {"vf-attached"}
    assert f"[C1] {lab.pf} has no carrier (carrier 0, operstate DOWN)" in r.out
    marked(tmp_path, f"pf {lab.pf}")
    # preflight reads the same link state
    p = lab.cli("preflight", "TOPOLOGY", "--lab")
    line = next(x for x in p.text.splitlines() if f"PF {lab.pf} link" in x)
    assert "no carrier (carrier 0, operstate DOWN)" in line, p.text


def test_pf_that_does_not_exist_is_an_environment_error(lab: Lab, tmp_path: Path) -> None:
    """A topology naming a PF this host does not have: exit 3, as preflight, before any check runs."""
    typo = lab.pf[:-1] + ("x" if lab.pf[-1] != "x" else "y")
    text = lab.path.read_text()
    wrong = tmp_path / "typo.yaml"
    wrong.write_text(text.replace(f"- name: {lab.pf}\n", f"- name: {typo}\n").replace(f"pf: {lab.pf}\n", f"pf: {typo}\n"))
    line = next(i for i, x in enumerate(wrong.read_text().splitlines(), start=1) if x.strip() == f"- name: {typo}")
    r = lab.cli("verify", str(wrong), "--lab", "--report-dir", str(tmp_path / "out"))
    assert r.code == 3, r.text
    first = next(x for x in r.err.splitlines() if x.startswith("error:"))
    assert first == (f"error: PF {typo} ({wrong}:{line}: host.pfs[0].name) does not exist on host worker2 "
                     "(the emulated lab): nothing was verified"), r.err
    assert "correct the PF name in the topology" in r.err and "sriovcheck lab status" in r.err
    assert not (tmp_path / "out" / "results.json").exists()
    # and preflight says the same of it, with the same exit code
    p = lab.cli("preflight", str(wrong), "--lab")
    assert p.code == 3 and f"PF {typo}" in p.text and "does not exist" in p.text, p.text


# ------------------------------------------------------------------ switch side


def test_gateway_down(lab: Lab, tmp_path: Path) -> None:
    t200, _ = lab.targets
    assert lab.cli("lab", "fault", "TOPOLOGY", "gateway-down", "200").code == 0
    _, results = verify(lab, tmp_path)
    cause = one_cause(results, "gateway-down")
    assert cause["what"] == f"gateway 192.168.200.1 (vlan.200) on {SWITCH} is down or missing"
    assert cause["explains"] == [f"gateway-ping {t200}"]
    marked(tmp_path, "vlan 200")


def test_port_mtu_too_small(lab: Lab, tmp_path: Path) -> None:
    t200, t201 = lab.targets
    assert lab.cli("lab", "fault", "TOPOLOGY", "port-mtu", "ge-0/0/1", "1400").code == 0
    _, results = verify(lab, tmp_path)
    cause = one_cause(results, "port-mtu")
    assert cause["what"].startswith("switch port ge-0/0/1 has MTU 1400, too small for VF MTU 1500")
    assert cause["fix"] == "set mtu 1514 or more on ge-0/0/1"
    assert sorted(cause["explains"]) == [f"mtu {t200}", f"mtu {t201}"]
    marked(tmp_path, "port ge-0/0/1")


def test_switch_refuses_the_login(lab: Lab, tmp_path: Path) -> None:
    assert lab.cli("lab", "fault", "TOPOLOGY", "login-refuse").code == 0
    _, results = verify(lab, tmp_path)
    cause = one_cause(results, "switch-login-refused")
    assert cause["what"] == f"switch {SWITCH} refused the login" and cause["explains"] == [f"switch-login {SWITCH}"]
    marked(tmp_path, "switch")


def test_switch_unreachable(lab: Lab, tmp_path: Path) -> None:
    pid = lab.status()["emulator"]["pid"]
    os.kill(pid, signal.SIGSTOP)  # accepts TCP, never answers
    try:
        _, results = verify(lab, tmp_path)
    finally:
        os.kill(pid, signal.SIGCONT)
    cause = one_cause(results, "switch-unreachable")
    assert cause["what"] == f"switch {SWITCH} could not be reached or did not answer"
    marked(tmp_path, "switch")


def test_switch_port_down(lab: Lab, tmp_path: Path) -> None:
    """The switch's side of ge-0/0/1 goes down (plain iproute2 on the fabric map): one cause, the port."""
    t200, t201 = lab.targets
    st = status_json(lab)
    sw_ns = next(ns for ns in st["namespaces"] if ns.endswith("-sw"))
    links = [c["switch_link"] for c in next(p for p in st["ports"] if p["pf"] == lab.pf)["cables"]]
    for link in links:
        run("ip", "-n", sw_ns, "link", "set", link, "down")
    try:
        _, results = verify(lab, tmp_path)
    finally:
        for link in links:
            run("ip", "-n", sw_ns, "link", "set", link, "up", check=False)
    cause = one_cause(results, "port-down")
    assert cause["what"] == "switch port ge-0/0/1 is down"
    assert {f"switch-port {t200}", f"switch-port {t201}", f"gateway-ping {t200}", f"gateway-ping {t201}"} <= set(cause["explains"])
    assert next(c for c in results["checks"] if c["kind"] == "vf-attached" and c["target"] == t200)["status"] == "pass"
    marked(tmp_path, "port ge-0/0/1")


# ------------------------------------------------------------------ host side


def test_vf_tagged_with_another_vlan(lab: Lab, tmp_path: Path) -> None:
    _, t201 = lab.targets
    driver = EmulatedHostDriver(lab_dir(lab.name))
    right = driver.get_vf_config(lab.pf, 1)
    driver.set_vf_config(lab.pf, 1, replace(right, vlan=200))
    _, results = verify(lab, tmp_path)
    cause = one_cause(results, "vf-wrong-vlan")
    assert cause["what"] == f"{lab.pf} VF 1 is tagged with VLAN 200, the topology declares VLAN 201"
    assert f"vf-config {t201}" in cause["explains"] and f"gateway-ping {t201}" in cause["explains"]
    marked(tmp_path, f"vf {t201}")  # the VF's tag on the PF: its chip


def test_containers_missing_and_stopped(lab: Lab, tmp_path: Path) -> None:
    c200, c201 = lab.containers
    run("docker", "rm", "-f", c200)
    run("docker", "stop", "-t", "0", c201)
    _r, results = verify(lab, tmp_path)
    whats = {c["what"]: c["rule"] for c in results["causes"]}
    assert whats == {f"container {c200} does not exist": "container-missing",
                     f"container {c201} is not running": "container-stopped"}
    assert all(failing(results).values())
    msgs = {c["target"]: c["message"] for c in results["checks"] if c["kind"] == "vf-attached"}
    assert msgs[f"{c200}/eth1"].startswith(f"container {c200} does not exist")
    assert msgs[f"{c201}/eth1"].startswith(f"container {c201} is not running")
    ids = {c["what"]: c["id"] for c in results["causes"]}
    page = (tmp_path / "report.html").read_text()
    assert {p: t.ids for p, t in cause_tags(page).items()} == {
        f"row {c200}/eth1": ids[f"container {c200} does not exist"], f"row {c201}/eth1": ids[f"container {c201} is not running"]}
    for part in cause_tags(page):
        assert_beside(page, part)


# ------------------------------------------------------------------ plain iproute2 on the fabric map


def test_cable_on_another_port(lab: Lab, tmp_path: Path) -> None:
    """PF 1's VLAN 201 cable is plugged into ge-0/0/2: the switch learns the VF's MAC there."""
    _, t201 = lab.targets
    st = status_json(lab)
    nic_ns = next(ns for ns in st["namespaces"] if ns.endswith("-nic"))
    port1, port2 = (next(p for p in st["ports"] if p["pf"] == pf) for pf in (lab.pf, lab.notes["second_pf"]))
    mine = next(c for c in port1["cables"] if c["vlan"] == 201)
    theirs = next(c for c in port2["cables"] if c["vlan"] == 201)
    run("ip", "-n", nic_ns, "link", "set", mine["nic_link"], "nomaster")
    run("ip", "-n", nic_ns, "link", "set", theirs["nic_link"], "master", mine["nic_bridge"])
    _, results = verify(lab, tmp_path)
    cause = one_cause(results, "cabling-swapped")
    assert cause["what"] == f"{lab.pf} is cabled to ge-0/0/2, not to ge-0/0/1: its VFs' MACs are learned on ge-0/0/2"
    assert "ge-0/0/1 (declared) and ge-0/0/2 (observed)" in cause["where"]
    assert f"switch-mac {t201}" in cause["explains"]
    # the diagram marks the port the MAC was learned on; the tag and the dashed cable name both ports
    marked(tmp_path, "port ge-0/0/2")
    page = (tmp_path / "report.html").read_text()
    assert cause_tags(page)["port ge-0/0/2"].title == f"C1: {cause['what']}"
    assert f"{lab.pf}&#39;s VF MACs were learned on ge-0/0/2; declared: ge-0/0/1" in page and 'class="learned-cable"' in page


def test_mac_learned_on_another_vlan(lab: Lab, tmp_path: Path) -> None:
    """The PF tags VLAN 201 (vf-config passes), but the frames land in VLAN 200 (a native-VLAN mix-up)."""
    _, t201 = lab.targets
    st = status_json(lab)
    nic_ns = next(ns for ns in st["namespaces"] if ns.endswith("-nic"))
    vf1 = next(v for v in st["vfs"] if v["pf"] == lab.pf and v["vf"] == 1)
    other = vf1["nic_bridge"].replace("v201", "v200")
    run("ip", "-n", nic_ns, "link", "set", vf1["nic_link"], "master", other)
    _, results = verify(lab, tmp_path)
    assert next(c for c in results["checks"] if c["kind"] == "vf-config" and c["target"] == t201)["status"] == "pass"
    cause = one_cause(results, "mac-other-vlan")
    # the text table of a non-ELS switch names the VLAN without its id
    assert "is learned on VLAN SRIOV_200" in cause["what"] and cause["what"].endswith("not SRIOV_201 (201)")
    marked(tmp_path, "vlan 200")  # the VLAN the frames landed in (named without id: found by its name)


def test_duplicate_address(lab: Lab, tmp_path: Path) -> None:
    """Another device answers for the VF's address: the switch's ARP maps it to another MAC."""
    _, t201 = lab.targets
    st = status_json(lab)
    sw_ns = next(ns for ns in st["namespaces"] if ns.endswith("-sw"))
    bridge = next(g["bridge"] for g in st["gateways"] if g["vlan"] == 201)
    run("ip", "-n", sw_ns, "neigh", "replace", "192.168.201.2", "lladdr", "02:de:ad:be:ef:01", "dev", bridge, "nud", "permanent")
    try:
        _, results = verify(lab, tmp_path)
    finally:
        run("ip", "-n", sw_ns, "neigh", "del", "192.168.201.2", "dev", bridge, check=False)
    cause = one_cause(results, "duplicate-address")
    assert cause["what"].startswith("192.168.201.2 is in use twice on VLAN 201: the switch's ARP maps it to 02:de:ad:be:ef:01")
    assert f"gateway-ping {t201}" in cause["explains"] or f"switch-arp {t201}" in cause["explains"]
    marked(tmp_path, f"row {t201}")  # the address, shown on the container's row
