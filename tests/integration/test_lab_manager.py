"""Lab lifecycle: up (idempotent, repairs), down (leaves nothing, even after kill -9 and lost state),
status, faults, and how long `lab up` takes for the seed lab and for 64 VFs."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sriovcheck.errors import LabError, StateError, UsageError
from sriovcheck.host.driver import VfConfig
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.host_driver import EmulatedHostDriver
from sriovcheck.lab.manager import lab_down, lab_fault, lab_status, lab_up
from sriovcheck.lab.switch_view import KernelSnapshotSource
from sriovcheck.topology.load import load_text
from sriovcheck.topology.model import Topology

pytestmark = pytest.mark.integration
SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


@dataclass
class Names:
    name: str
    pf: str
    root: Path

    @property
    def dir(self) -> Path:
        return lab_state.lab_dir(self.name, self.root)

    def seed(self, **replace: str) -> Topology:
        text = SEED.read_text().replace("name: seed-lab", f"name: {self.name}").replace("eno2", self.pf)
        for old, new in replace.items():
            text = text.replace(old, new)
        return load_text(text).topology

    def picture(self) -> dict[str, list[str]]:
        """Everything on the machine that mentions this lab: namespaces, root links, processes, files."""
        return {
            "namespaces": sorted(x for x in run("ip", "netns", "list").stdout.splitlines() if self.name in x),
            "links": sorted(x.split(":")[1] for x in run("ip", "-o", "link", "show").stdout.splitlines()
                            if self.pf in x or f"sriovcheck-lab:{self.name}" in x),
            "processes": sorted(x for x in run("ps", "-ww", "-eo", "pid,stat,args").stdout.splitlines()
                                if str(self.dir) in x),
            "files": sorted(str(p) for p in self.root.rglob("*")),
        }


@pytest.fixture
def lab(tmp_path: Path, root_required: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Names]:
    token = secrets.token_hex(3)
    monkeypatch.setenv("SRIOVCHECK_SWITCH_PASSWORD", "pw-" + token)
    names = Names(f"t{token}", f"e{token}", tmp_path / "state")
    names.root.mkdir()
    try:
        yield names
    finally:
        lab_down(names.name, state_root=names.root)


def emulator_pid(n: Names) -> int:
    pid = lab_state.load(n.dir).emulator.pid
    assert pid is not None
    return pid


# ------------------------------------------------------------------ up
def test_up_is_idempotent_and_status_reports_the_fabric(lab: Names) -> None:
    status = lab_up(lab.seed(), state_root=lab.root)
    assert status.up and not status.problems, status.problems
    first = lab.picture()
    again = lab_up(lab.seed(), state_root=lab.root)
    assert again.emulator["pid"] == status.emulator["pid"] and again.emulator["port"] == status.emulator["port"]
    assert lab.picture() == first

    d = json.loads(json.dumps(status.as_dict()))  # what `lab status --json` prints
    assert d["namespaces"] == {f"sc-{lab.name}-nic": True, f"sc-{lab.name}-sw": True}
    assert d["emulator"]["alive"] and d["emulator"]["host"] == "127.0.0.1" and d["emulator"]["port"] > 0
    assert d["emulator"]["host_key_fingerprint"].startswith("SHA256:")
    assert d["switch_style"] == "non-els" and d["username"] == "netops"
    assert oct(os.stat(d["client_key_path"]).st_mode & 0o777) == "0o600"
    port = d["ports"][0]
    assert (port["pf"], port["switch_port"], port["nic_link"], port["numvfs"]) == (lab.pf, "ge-0/0/1", "pf0", 8)
    assert [(c["vlan"], c["nic_link"], c["switch_link"], c["switch_bridge"], c["carried"]) for c in port["cables"]] == [
        (200, "c0v200", "s0v200", "vl200", True), (201, "c0v201", "s0v201", "vl201", True)]
    assert [(g["l3_interface"], g["bridge"], g["address"], g["up"]) for g in d["gateways"]] == [
        ("vlan.200", "vl200", "192.168.200.1/24", True), ("vlan.201", "vl201", "192.168.201.1/24", True)]
    assert [(v["vf"], v["netdev"], v["where"], v["nic_link"]) for v in d["vfs"][:2]] == [
        (0, f"{lab.pf}v0", "host", "p0f0"), (1, f"{lab.pf}v1", "host", "p0f1")]
    assert d["faults"] == []


def test_up_repairs_a_crashed_lab(lab: Names) -> None:
    lab_up(lab.seed(), state_root=lab.root)
    source = KernelSnapshotSource(lab.dir)
    try:
        assert {v.id: v.members for v in source.snapshot().vlans} == {200: ("ge-0/0/1",), 201: ("ge-0/0/1",)}
        driver = EmulatedHostDriver(lab.dir)
        driver.set_vf_config(lab.pf, 3, VfConfig(vlan=201))
        mac3 = run("cat", f"/sys/class/net/{lab.pf}v3/address").stdout.strip()
        old_pid = emulator_pid(lab)
        os.kill(old_pid, signal.SIGKILL)
        run("ip", "link", "del", f"{lab.pf}v3")  # a VF that died with its container
        run("ip", "netns", "del", f"sc-{lab.name}-sw")  # the whole switch, and with it every cable
        broken = lab_status(lab.name, state_root=lab.root)
        assert not broken.up and not broken.emulator["alive"] and not broken.namespaces[f"sc-{lab.name}-sw"]

        status = lab_up(lab.seed(), state_root=lab.root)
        assert status.up, status.problems
        assert status.emulator["pid"] != old_pid and status.emulator["alive"]
        assert run("cat", f"/sys/class/net/{lab.pf}v3/address").stdout.strip() == mac3  # same VF, same MAC
        assert driver.get_vf_config(lab.pf, 3).vlan == 201
        vf3 = next(v for v in status.vfs if v["vf"] == 3)
        assert (vf3["where"], vf3["nic_bridge"]) == ("host", "n0v201")
        # A snapshot source opened before the repair follows the new switch namespace.
        snap = source.snapshot()
        assert {v.id: (v.members, v.l3_up) for v in snap.vlans} == {
            200: (("ge-0/0/1",), True), 201: (("ge-0/0/1",), True)}
    finally:
        source.close()


def test_changed_topology_and_damaged_state_are_refused_and_down_still_cleans(lab: Names) -> None:
    lab_up(lab.seed(), state_root=lab.root)
    with pytest.raises(LabError, match="different version of the topology") as exc:
        lab_up(lab.seed(**{"192.168.201.1\n": "192.168.201.254\n"}), state_root=lab.root)
    assert f"lab down {lab.name}" in str(exc.value.hint)
    lab_up(lab.seed(**{"name: test-200": "name: other-200"}), state_root=lab.root)  # containers don't matter

    (lab.dir / "state.json").write_text('{"schema_version": 0}')
    with pytest.raises(StateError, match="schema version 0") as exc2:
        lab_up(lab.seed(), state_root=lab.root)
    assert "lab down --force" in str(exc2.value.hint)
    removed = lab_down(lab.name, state_root=lab.root)
    assert f"namespace sc-{lab.name}-nic" in removed and any("emulator process" in r for r in removed)
    assert lab.picture() == {"namespaces": [], "links": [], "processes": [], "files": []}


def test_emulator_that_cannot_start_is_reported_with_its_log(lab: Names) -> None:
    lab_up(lab.seed(), state_root=lab.root)
    os.kill(emulator_pid(lab), signal.SIGKILL)
    (lab.dir / "ssh_host_ed25519_key").write_text("not a key\n")
    with pytest.raises(LabError, match="exited with status") as exc:
        lab_up(lab.seed(), state_root=lab.root)
    assert "host key" in str(exc.value)  # the emulator's own error, from the tail of its log
    assert not lab.picture()["processes"]


# ------------------------------------------------------------------ down
def test_down_leaves_nothing_and_twice_is_fine(lab: Names) -> None:
    before = lab.picture()
    lab_up(lab.seed(), state_root=lab.root)
    EmulatedHostDriver(lab.dir).set_vf_config(lab.pf, 0, VfConfig(vlan=200))
    run("ip", "netns", "add", f"{lab.name}-c0")
    try:
        run("ip", "link", "set", f"{lab.pf}v0", "netns", f"{lab.name}-c0")  # a VF in a "container"
        up = lab.picture()
        assert len(up["namespaces"]) == 3 and len(up["links"]) == 8 and len(up["processes"]) == 1
        removed = lab_down(lab.name, state_root=lab.root)
        assert run("ip", "-n", f"{lab.name}-c0", "link", "show", f"{lab.pf}v0", check=False).returncode != 0
    finally:
        run("ip", "netns", "del", f"{lab.name}-c0", check=False)
    assert removed[0].startswith("emulator process")
    assert f"link {lab.pf} (root namespace)" in removed and f"namespace sc-{lab.name}-sw" in removed
    assert lab.picture() == before == {"namespaces": [], "links": [], "processes": [], "files": []}
    assert lab_down(lab.name, state_root=lab.root) == []
    assert not lab_status(lab.name, state_root=lab.root).up


def test_down_after_kill9_and_with_the_state_file_deleted_still_cleans(lab: Names) -> None:
    lab_up(lab.seed(), state_root=lab.root)
    os.kill(emulator_pid(lab), signal.SIGKILL)
    (lab.dir / "state.json").unlink()
    removed = lab_down(lab.name, state_root=lab.root)
    assert f"namespace sc-{lab.name}-nic" in removed and f"link {lab.pf}v7 (root namespace)" in removed
    assert lab.picture() == {"namespaces": [], "links": [], "processes": [], "files": []}


def test_down_finds_a_live_emulator_whose_state_was_lost(lab: Names) -> None:
    lab_up(lab.seed(), state_root=lab.root)
    pid = emulator_pid(lab)
    for f in lab.dir.iterdir():
        if f.name != "ssh_host_ed25519_key":
            f.unlink()
    removed = lab_down(lab.name, state_root=lab.root)
    assert f"emulator process {pid}" in removed
    assert lab.picture() == {"namespaces": [], "links": [], "processes": [], "files": []}


# ------------------------------------------------------------------ faults
def test_server_faults_reach_the_emulator(lab: Names) -> None:
    from netmiko import ConnectHandler
    from netmiko.exceptions import NetmikoAuthenticationException

    lab_up(lab.seed(), state_root=lab.root)
    source = KernelSnapshotSource(lab.dir)
    try:
        lab_fault(lab.name, "login-refuse", state_root=lab.root)
        lab_fault(lab.name, "session-drop", pattern="show arp", state_root=lab.root)
        lab_fault(lab.name, "command-hang", pattern=r"^show vlans", state_root=lab.root)
        status = lab_fault(lab.name, "garble", on=True, state_root=lab.root)
        f = source.faults()
        assert (f.refuse_login, f.drop_session_on, f.hang_on, f.garble) == (True, "show arp", "^show vlans", True)
        assert status.faults == ["login-refuse", "session-drop show arp", "command-hang ^show vlans", "garble on"]
        st = lab_state.load(lab.dir)
        with pytest.raises(NetmikoAuthenticationException):
            ConnectHandler(device_type="juniper_junos", host="127.0.0.1", port=st.emulator.port, username="netops",
                           use_keys=True, key_file=st.client_key, allow_agent=False, timeout=10)
        lab_fault(lab.name, "command-hang", pattern="off", state_root=lab.root)
        assert source.faults().hang_on is None
        assert lab_fault(lab.name, "clear", state_root=lab.root).faults == []
        assert source.faults() == type(f)()
    finally:
        source.close()


@pytest.mark.parametrize(
    ("kind", "args", "message"),
    [
        ("unplug", {}, "unknown lab fault 'unplug'"),
        ("vlan-remove", {"port": "ge-0/0/9", "vlan": 200}, "no switch port 'ge-0/0/9'"),
        ("vlan-remove", {"port": "ge-0/0/1", "vlan": 300}, "no VLAN 300"),
        ("vlan-remove", {"port": "ge-0/0/1"}, "needs a switch port and a VLAN id"),
        ("gateway-down", {}, "needs a VLAN id"),
        ("pf-down", {"pf": "eth9"}, "no PF 'eth9'"),
        ("session-drop", {"pattern": "(unclosed"}, "not a valid regular expression"),
        ("garble", {}, "needs on or off"),
    ],
)
def test_bad_fault_arguments_are_usage_errors_and_change_nothing(
    lab: Names, kind: str, args: dict[str, object], message: str
) -> None:
    lab_up(lab.seed(), state_root=lab.root)
    before = (lab.dir / "state.json").read_text()
    with pytest.raises(UsageError, match=message):
        lab_fault(lab.name, kind, state_root=lab.root, **args)  # type: ignore[arg-type]
    assert (lab.dir / "state.json").read_text() == before


# ------------------------------------------------------------------ how long `lab up` takes
def sixty_four_vfs(n: Names) -> Topology:
    """2 PFs x 32 VFs, 16 VLANs, one VF per container."""
    pfs = [f"a{n.pf[1:]}", f"b{n.pf[1:]}"]
    doc = yaml.safe_load(n.seed().model_dump_json())
    doc["host"]["pfs"] = [{"name": pf, "numvfs": 32, "switch_port": f"ge-0/0/{i + 1}"} for i, pf in enumerate(pfs)]
    doc["vlans"] = [{"id": 100 + i, "name": f"V{100 + i}", "subnet": f"10.0.{i}.0/24", "gateway": f"10.0.{i}.1",
                     "l3_interface": f"vlan.{100 + i}"} for i in range(16)]
    doc["containers"] = [
        {"name": f"c{k}", "image": "busybox", "vfs": [{"pf": pfs[k // 32], "vf": k % 32, "vlan": 100 + k % 16,
                                                       "ifname": "eth1", "address": f"10.0.{k % 16}.{10 + k // 16}/24"}]}
        for k in range(64)
    ]
    n.pf = n.pf[1:]  # picture() now matches both PFs by their shared random part
    return load_text(yaml.safe_dump(doc)).topology


def test_lab_up_times(lab: Names, record_property: pytest.RecordProperty) -> None:
    t0 = time.monotonic()
    status = lab_up(lab.seed(), state_root=lab.root)
    seed_s = time.monotonic() - t0
    assert status.up
    lab_down(lab.name, state_root=lab.root)

    topo = sixty_four_vfs(lab)
    t0 = time.monotonic()
    status = lab_up(topo, state_root=lab.root)
    big_s = time.monotonic() - t0
    assert status.up, status.problems
    assert len(status.vfs) == 64 and {v["where"] for v in status.vfs} == {"host"}
    assert sum(len(p["cables"]) for p in status.ports) == 32
    driver = EmulatedHostDriver(lab.dir)
    t0 = time.monotonic()
    for c in topo.containers:
        vf = c.vfs[0]
        driver.set_vf_config(vf.pf, vf.vf, VfConfig(vlan=vf.vlan))
    config_s = time.monotonic() - t0
    t0 = time.monotonic()
    lab_down(lab.name, state_root=lab.root)
    down_s = time.monotonic() - t0
    assert lab.picture() == {"namespaces": [], "links": [], "processes": [], "files": []}
    timings = {"seed_up_s": round(seed_s, 2), "vf64_up_s": round(big_s, 2),
               "vf64_set_vf_config_s": round(config_s, 2), "vf64_down_s": round(down_s, 2)}
    for k, v in timings.items():
        record_property(k, v)
    print(f"lab timings: {timings}")
    assert seed_s < 5, timings
    assert big_s < 30, timings
