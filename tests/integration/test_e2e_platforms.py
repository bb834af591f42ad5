"""The seed lab on Arista EOS and Cisco NX-OS switches (topologies/seed-lab-eos.yaml, seed-lab-nxos.yaml):
`sriovcheck run` in the emulated lab, whose switch answers as that OS over SSH to real netmiko
(arista_eos, cisco_nxos), passes every check; a VLAN removed from the switch port fails with one root
cause worded in that OS's own configuration language; the reports name platform, model and OS version
as the switch reported them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _lab_helpers import Lab, cleanup, make_lab

pytestmark = pytest.mark.integration

CASES = {
    # platform file suffix: (switch.platform, PF's port, OS name, model, version, the fix's words)
    "eos": ("arista_eos", "Ethernet1", "EOS", "DCS-7050TX-64", "4.27.3F", "switchport trunk allowed vlan add 201"),
    "nxos": ("cisco_nxos", "Ethernet1/1", "NX-OS", "Nexus9000 C93180YC-EX", "9.3(8)", "switchport trunk allowed vlan add 201"),
}
ACCEPTABLE_SKIPS = {"vf-path"}  # the seed's two VFs are on different VLANs: no peer to reach


@pytest.fixture(scope="module", params=sorted(CASES))
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("needs root")
        pytest.skip("needs root")
    which = str(request.param)
    lab = make_lab(tmp_path_factory.mktemp(f"platform-{which}"), prefix=f"pl{which[:2]}", platform=which, learn_timeout_s=5)
    lab.notes["case"] = which
    try:
        yield lab
    finally:
        problems = cleanup(lab)
        assert not problems, problems


@pytest.fixture(autouse=True)
def _lab_env(lab: Lab, docker_required: None, _private_state_dir: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in lab.env().items():
        monkeypatch.setenv(k, v)


def results(where: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((where / "results.json").read_text())
    return data


def test_seed_lab_passes_every_check_then_a_removed_vlan_fails_with_the_platforms_fix(lab: Lab, tmp_path: Path) -> None:
    platform, port, os_name, model, version, fix = CASES[lab.notes["case"]]
    r = lab.cli("run", "TOPOLOGY", "--lab", "--report-dir", str(tmp_path / "ok"))
    assert r.code == 0, r.text
    res = results(tmp_path / "ok")
    checks = res["checks"]
    assert isinstance(checks, list)
    kinds = {c["kind"] for c in checks}
    assert {"switch-login", "switch-mac", "switch-arp", "gateway-mac", "mac-unique", "switch-port", "cabling", "mtu"} <= kinds
    assert [(c["kind"], c["target"]) for c in checks if c["status"] != "pass" and c["kind"] not in ACCEPTABLE_SKIPS] == []
    switch = res["switch"]
    assert isinstance(switch, dict)
    assert (switch["platform"], switch["os_name"], switch["model"], switch["os_version"]) == (platform, os_name, model, version)
    login = next(c for c in checks if c["kind"] == "switch-login")
    assert login["observed"].startswith(f"{model} {os_name} {version}")
    # the switch's commands were this OS's, in JSON
    assert any(e["command"].endswith("| json") and port in e["command"] for e in login["evidence"])
    assert not any("ethernet-switching" in e["command"] for e in login["evidence"])
    smac = next(c for c in checks if c["kind"] == "switch-mac")
    assert f"learned on {port}" in smac["observed"]
    html = (tmp_path / "ok" / "report.html").read_text()
    assert f"{os_name} {version}" in html and model in html

    assert lab.cli("lab", "fault", "TOPOLOGY", "vlan-remove", port, "201").code == 0
    r = lab.cli("verify", "TOPOLOGY", "--lab", "--report-dir", str(tmp_path / "fault"))
    assert r.code == 1, r.text
    res = results(tmp_path / "fault")
    failing = sorted((c["kind"], c["target"]) for c in res["checks"] if c["status"] == "fail")  # type: ignore[attr-defined]
    target = lab.targets[1]
    assert failing == [("gateway-ping", target), ("switch-mac", target), ("switch-port", target)]
    causes = res["causes"]
    assert isinstance(causes, list) and len(causes) == 1
    (cause,) = causes
    assert cause["what"] == f"VLAN 201 (SRIOV_201) is not a member of {port}"
    assert fix in cause["fix"] and f"interface {port}" in cause["fix"]
    assert "ethernet-switching" not in cause["fix"]
    assert fix in r.out
