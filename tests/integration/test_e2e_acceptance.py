"""The acceptance-grade checks in the emulated lab: each passes on the healthy lab and fails (or, for
cabling without LLDP, skips) with the right diagnosis when the lab is broken for it.

Four VFs over two PFs and two VLANs, each VLAN with a VF on each PF, so that VF-to-VF paths cross
the switch: a = PF1 vf0 VLAN 200, b = PF2 vf0 VLAN 200, c = PF1 vf1 VLAN 201, d = PF2 vf1 VLAN 201.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.lab.host_driver import EmulatedHostDriver
from sriovcheck.lab.state import lab_dir

pytestmark = pytest.mark.integration

TOPOLOGY = """\
name: {name}
host:
  name: acc-host
  pfs:
    - {{name: {pf}1, numvfs: 2, switch_port: ge-0/0/1}}
    - {{name: {pf}2, numvfs: 2, switch_port: ge-0/0/2}}
switch: {{name: ex-switch, host: 192.0.2.10, username: netops, password_env: SRIOVCHECK_SWITCH_PASSWORD, timeout_s: 4}}
vlans:
  - {{id: 200, name: SRIOV_200, subnet: 192.168.200.0/24, gateway: 192.168.200.1, l3_interface: vlan.200}}
  - {{id: 201, name: SRIOV_201, subnet: 192.168.201.0/24, gateway: 192.168.201.1, l3_interface: vlan.201}}
containers:
  - {{name: {name}-a, image: nginx:alpine, network: none, vfs: [{{pf: {pf}1, vf: 0, vlan: 200, ifname: eth1, address: 192.168.200.2/24}}]}}
  - {{name: {name}-b, image: nginx:alpine, network: none, vfs: [{{pf: {pf}2, vf: 0, vlan: 200, ifname: eth1, address: 192.168.200.3/24}}]}}
  - {{name: {name}-c, image: nginx:alpine, network: none, vfs: [{{pf: {pf}1, vf: 1, vlan: 201, ifname: eth1, address: 192.168.201.2/24}}]}}
  - {{name: {name}-d, image: nginx:alpine, network: none, vfs: [{{pf: {pf}2, vf: 1, vlan: 201, ifname: eth1, address: 192.168.201.3/24}}]}}
checks: {{ping: {{count: 2, timeout_s: 1, max_loss_pct: 0}}, switch_learn_timeout_s: 3}}
"""


class Acc:
    def __init__(self, base: Path) -> None:
        token = secrets.token_hex(2)
        self.name, self.pf = f"acc-{token}", f"a{token}"
        self.path = base / f"{self.name}.yaml"
        self.path.write_text(TOPOLOGY.format(name=self.name, pf=self.pf))
        self.state = base / "state"
        self.env = {**os.environ, "SRIOVCHECK_STATE_DIR": str(self.state), "SRIOVCHECK_SWITCH_PASSWORD": "pw-" + token}
        self.base = base

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.path) if a == "TOPOLOGY" else a for a in args]
        return subprocess.run([sys.executable, "-m", "sriovcheck", *argv], capture_output=True, text=True, env=self.env,
                              timeout=240, check=False)

    def verify(self, tag: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        out = self.base / tag
        r = self.cli("verify", "TOPOLOGY", "--lab", "--report-dir", str(out))
        assert r.returncode in (0, 1), r.stdout + r.stderr
        return r, json.loads((out / "results.json").read_text())

    def target(self, letter: str) -> str:
        return f"{self.name}-{letter}/eth1"


def by(results: dict[str, Any], kind: str, target: str) -> dict[str, Any]:
    (found,) = [c for c in results["checks"] if c["kind"] == kind and c["target"] == target]
    return found


@pytest.fixture(scope="module")
def acc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Acc]:
    if os.geteuid() != 0:
        pytest.fail("needs root") if os.environ.get("CI") == "true" else pytest.skip("needs root")
    lab = Acc(tmp_path_factory.mktemp("acceptance"))
    try:
        r = lab.cli("provision", "TOPOLOGY", "--lab")
        assert r.returncode == 0, r.stdout + r.stderr
        yield lab
    finally:
        lab.cli("teardown", "TOPOLOGY", "--lab")
        lab.cli("lab", "down", "TOPOLOGY")


def test_healthy_lab_passes_every_acceptance_check(acc: Acc) -> None:
    r, results = acc.verify("healthy")
    assert r.returncode == 0, r.stdout
    for letter in "abcd":
        t = acc.target(letter)
        for kind in ("mtu", "switch-port", "vf-path", "vlan-isolation"):
            assert by(results, kind, t)["status"] == "pass", (kind, t, by(results, kind, t))
        path = by(results, "vf-path", t)
        assert path["details"]["path"] == "switch" and "across the switch" in path["observed"]
    for n, port in ((1, "ge-0/0/1"), (2, "ge-0/0/2")):
        cabling = by(results, "cabling", f"acc-host:{acc.pf}{n}")
        assert cabling["status"] == "pass" and cabling["observed"].startswith(f"{port}: acc-host {acc.pf}{n}")


def test_port_mtu_too_small_is_named(acc: Acc) -> None:
    assert acc.cli("lab", "fault", "TOPOLOGY", "port-mtu", "ge-0/0/2", "1400").returncode == 0
    try:
        r, results = acc.verify("mtu")
    finally:
        acc.cli("lab", "fault", "TOPOLOGY", "clear")
    assert r.returncode == 1
    for letter in "bd":  # on PF2, cabled to ge-0/0/2
        mtu = by(results, "mtu", acc.target(letter))
        assert mtu["status"] == "fail"
        assert "switch port ge-0/0/2 has MTU 1400, smaller than the VF MTU 1500 plus the 14-byte Ethernet header" in mtu["message"]
    for letter in "ac":
        assert by(results, "mtu", acc.target(letter))["status"] == "pass"


def test_vlan_missing_on_one_port_breaks_the_path_across_the_switch(acc: Acc) -> None:
    assert acc.cli("lab", "fault", "TOPOLOGY", "vlan-remove", "ge-0/0/2", "200").returncode == 0
    try:
        r, results = acc.verify("path")
    finally:
        acc.cli("lab", "fault", "TOPOLOGY", "clear")
    assert r.returncode == 1
    path = by(results, "vf-path", acc.target("a"))
    assert path["status"] == "fail" and f"cannot reach {acc.name}-b/eth1 on VLAN 200 across the switch" in path["message"]
    port = by(results, "switch-port", acc.target("b"))
    assert port["status"] == "fail" and port["message"].startswith("VLAN 200 (SRIOV_200) is not a member of ge-0/0/2")
    for letter in "cd":  # VLAN 201 is untouched
        assert by(results, "vf-path", acc.target(letter))["status"] == "pass"


def test_no_lldp_from_the_host_skips_cabling_and_says_how_to_enable_it(acc: Acc) -> None:
    assert acc.cli("lab", "fault", "TOPOLOGY", "lldp-off", f"{acc.pf}1").returncode == 0
    try:
        r, results = acc.verify("lldp")
    finally:
        acc.cli("lab", "fault", "TOPOLOGY", "clear")
    assert r.returncode == 0  # a skip is not a failure
    cabling = by(results, "cabling", f"acc-host:{acc.pf}1")
    assert cabling["status"] == "skip" and f"the host sends no LLDP on {acc.pf}1" in cabling["message"]
    assert "lldpd" in cabling["message"] and "disable-fw-lldp" in cabling["message"]
    assert by(results, "cabling", f"acc-host:{acc.pf}2")["status"] == "pass"


def test_vf_on_the_wrong_vlan_is_not_isolated(acc: Acc) -> None:
    driver = EmulatedHostDriver(lab_dir(acc.name, acc.state))
    right = driver.get_vf_config(f"{acc.pf}1", 0)
    driver.set_vf_config(f"{acc.pf}1", 0, replace(right, vlan=201))
    try:
        r, results = acc.verify("isolation")
    finally:
        driver.set_vf_config(f"{acc.pf}1", 0, right)
        # what 300 s of MAC ageing would do at once: forget the VF's MAC learned on VLAN 201
        mac = by(results, "vf-attached", acc.target("a"))["details"]["mac"]
        subprocess.run(["ip", "netns", "exec", f"sc-{acc.name}-sw", "bridge", "fdb", "del", mac, "dev", "s0v201", "master"],
                       capture_output=True, check=False)
    assert r.returncode == 1
    iso = by(results, "vlan-isolation", acc.target("a"))
    assert iso["status"] == "fail"
    assert "VLAN 200's VF reaches VLAN 201's gateway at layer 2: the VLANs are not isolated" in iso["message"]
    assert by(results, "vf-config", acc.target("a"))["status"] == "fail"
    for letter in "bcd":
        assert by(results, "vlan-isolation", acc.target(letter))["status"] == "pass"


def test_run_with_teardown_proves_the_vfs_are_clean(acc: Acc) -> None:
    out = acc.base / "teardown"
    r = acc.cli("run", "TOPOLOGY", "--lab", "--teardown", "--report-dir", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads((out / "results.json").read_text())
    clean = [c for c in results["checks"] if c["kind"] == "teardown-clean"]
    assert sorted(c["target"] for c in clean) == sorted(acc.target(x) for x in "abcd")
    assert {c["status"] for c in clean} == {"pass"}
    assert all("home as" in c["expected"] for c in clean)
