"""A setting igb refuses, in the emulated lab behaving as igb (`lab.nic_driver: igb`), with the real docker
engine: `preflight` fails on it before anything is changed, `provision` stops at it with exit 3 and the
driver's answer, and puts back what it changed (the VF count and the VF settings), seen from outside."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _lab_helpers import Lab, brought_up, lab_env, make_lab, need_root  # noqa: F401 - lab_env: an autouse fixture here

from sriovcheck.host.driver import VfConfig
from sriovcheck.lab.host_driver import EmulatedHostDriver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    need_root()
    lab = make_lab(tmp_path_factory.mktemp("igb-refusal"), prefix="igbr")
    text = lab.path.read_text()
    for old, new in (("numvfs: 8", "numvfs: 3"), ("switch_style: non-els", "switch_style: non-els\n  nic_driver: igb"),
                     ("        address: 192.168.201.2/24\n", "        address: 192.168.201.2/24\n        link_state: disable\n")):
        assert old in text
        text = text.replace(old, new)
    lab.path.write_text(text)
    with brought_up(lab, stray_containers_ok=False):
        yield lab


def outside(lab: Lab) -> dict[str, Any]:
    """The VF count and each VF's settings as the emulated NIC holds them; our containers."""
    vfs = lab.vfs()
    return {"numvfs": len(vfs), "config": {i: v["config"] for i, v in vfs.items()},
            "containers": lab.containers_seen(), "provision_state": lab.provision_state.exists()}


def test_preflight_then_provision_stops_and_puts_everything_back(lab: Lab) -> None:
    driver = EmulatedHostDriver(lab.lab_dir, nic_driver="igb")
    # Before the run: 2 VFs, VF 0 with settings of its own; the topology wants 3 (the count goes through 0).
    driver.set_numvfs(lab.pf, 2)
    driver.set_vf_config(lab.pf, 0, VfConfig(vlan=99, trust=True))
    before = outside(lab)
    assert before["numvfs"] == 2 and before["config"][0]["vlan"] == 99 and before["containers"] == {}

    pre = lab.cli("preflight", "TOPOLOGY", "--lab")
    assert pre.code == 3, pre.text
    assert f"[FAIL] PF {lab.pf} (igb-emulated) link_state: igb-emulated does not support link_state" in pre.out
    assert f"-> remove link_state from VF 1 of {lab.pf} in the topology (or set it to auto)" in pre.out
    assert outside(lab) == before  # preflight changed nothing

    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 3, r.text
    assert (f"error: provisioning '{lab.name}' failed: igb on {lab.pf} does not support link_state for VF 1 "
            f"(the emulated igb said: Operation not supported); nothing had been changed on VF 1\n"
            "  hint: what this run changed has been undone; igb has no VF link-state control (intel/igb/igb_main.c "
            f"igb_netdev_ops has no ndo_set_vf_link_state); remove link_state from VF 1 of {lab.pf} in the topology "
            "(or set it to auto)") in r.err
    assert "rollback incomplete" not in r.err
    assert outside(lab) == before
