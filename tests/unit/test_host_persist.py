"""The boot-time systemd unit: rendered from the topology, parsed back field by field, installed."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sriovcheck import resources
from sriovcheck.errors import HostError
from sriovcheck.host import persist
from sriovcheck.topology import Topology, load_text

ROOT = Path(__file__).resolve().parents[2]

RICH = """
name: rack7
host:
  name: worker2
  pfs:
    - {name: eno2, numvfs: 8, switch_port: ge-0/0/1}
    - {name: enp2s0f0-x, numvfs: 4, switch_port: ge-0/0/2}
switch: {name: ex, host: 192.0.2.10, username: netops, password_env: PW}
vlans:
  - {id: 200, name: SRIOV_200, subnet: 192.168.200.0/24, gateway: 192.168.200.1, l3_interface: vlan.200}
  - {id: 201, name: SRIOV_201, subnet: 192.168.201.0/24, gateway: 192.168.201.1, l3_interface: vlan.201}
  - {id: 300, name: QINQ_300, subnet: 10.30.0.0/24, gateway: 10.30.0.1, l3_interface: vlan.300}
containers:
  - name: test-200
    image: nginx:alpine
    vfs:
      - {pf: eno2, vf: 1, vlan: 200, ifname: eth1, address: 192.168.200.2/24}
      - {pf: eno2, vf: 0, vlan: 201, ifname: eth2, address: 192.168.201.2/24, mac: "02:00:00:00:02:01",
         qos: 5, spoofchk: false, trust: true, link_state: enable, min_tx_rate_mbps: 100, max_tx_rate_mbps: 2000}
  - name: qinq
    image: nginx:alpine
    vfs:
      - {pf: enp2s0f0-x, vf: 3, vlan: 300, ifname: eth1, address: 10.30.0.2/24, vlan_proto: 802.1ad,
         link_state: disable}
"""


@pytest.fixture
def rich() -> Topology:
    return load_text(RICH).topology


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """section -> [(key, value)], in order (systemd keys repeat: ExecStart)."""
    out: dict[str, list[tuple[str, str]]] = {}
    section = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out[section] = []
            continue
        key, _, value = line.partition("=")
        out[section].append((key, value))
    return out


def vf_settings(exec_lines: list[str]) -> dict[tuple[str, int], dict[str, str]]:
    """Merge every `ip link set dev PF vf N k v ...` line back into one dict per VF."""
    out: dict[tuple[str, int], dict[str, str]] = {}
    for line in exec_lines:
        argv = shlex.split(line)
        if argv[0] != "/usr/sbin/ip":
            continue
        assert argv[1:4] == ["link", "set", "dev"] and argv[5] == "vf"
        opts = argv[7:]
        assert len(opts) % 2 == 0, line
        merged = out.setdefault((argv[4], int(argv[6])), {})
        for k, v in zip(opts[::2], opts[1::2], strict=True):
            assert k not in merged, f"{k} given twice for {argv[4]} vf {argv[6]}"
            merged[k] = v
    return out


def expected_settings(t: Topology) -> dict[tuple[str, int], dict[str, str]]:
    """What `ip` must be told for each VF; defaults a new VF already has are not sent."""
    out = {}
    for _, vf in t.attachments():
        want = {"vlan": str(vf.vlan), "qos": str(vf.qos), "proto": vf.vlan_proto,
                "spoofchk": "on" if vf.spoofchk else "off"}
        if vf.mac:
            want["mac"] = vf.mac
        if vf.min_tx_rate_mbps or vf.max_tx_rate_mbps:
            want |= {"min_tx_rate": str(vf.min_tx_rate_mbps), "max_tx_rate": str(vf.max_tx_rate_mbps)}
        if vf.trust:
            want["trust"] = "on"
        if vf.link_state != "auto":
            want["state"] = vf.link_state
        out[(vf.pf, vf.vf)] = want
    return out


def test_unit_fields_match_the_topology(rich: Topology) -> None:
    unit = parse_unit(persist.render_unit(rich))
    assert set(unit) == {"Unit", "Service", "Install"}
    u = dict(unit["Unit"])
    assert u["Description"] == "SR-IOV VFs of sriovcheck topology rack7"
    assert u["DefaultDependencies"] == "no"
    assert "network-pre.target" in u["Before"].split() and u["Wants"] == "network-pre.target"
    assert u["Requires"].split() == ["sys-subsystem-net-devices-eno2.device",
                                     r"sys-subsystem-net-devices-enp2s0f0\x2dx.device"]
    assert set(u["Requires"].split()) <= set(u["After"].split())
    s = dict(unit["Service"])
    assert (s["Type"], s["RemainAfterExit"]) == ("oneshot", "yes")
    assert dict(unit["Install"]) == {"WantedBy": "multi-user.target"}

    execs = [v for k, v in unit["Service"] if k == "ExecStart"]
    numvfs = [shlex.split(e)[2] for e in execs if e.startswith("/bin/sh")]
    assert numvfs == [
        "echo 0 > /sys/class/net/eno2/device/sriov_numvfs", "echo 8 > /sys/class/net/eno2/device/sriov_numvfs",
        "echo 0 > /sys/class/net/enp2s0f0-x/device/sriov_numvfs",
        "echo 4 > /sys/class/net/enp2s0f0-x/device/sriov_numvfs",
    ]
    assert vf_settings(execs) == expected_settings(rich)
    assert vf_settings(execs)[("eno2", 0)] == {
        "vlan": "201", "qos": "5", "proto": "802.1Q", "mac": "02:00:00:00:02:01", "min_tx_rate": "100",
        "max_tx_rate": "2000", "spoofchk": "off", "trust": "on", "state": "enable"}
    assert vf_settings(execs)[("enp2s0f0-x", 3)]["proto"] == "802.1ad"


def test_each_pf_is_counted_before_its_vfs_are_set_and_vlan_goes_first(rich: Topology) -> None:
    execs = [v for k, v in parse_unit(persist.render_unit(rich))["Service"] if k == "ExecStart"]
    eno2_count = execs.index("/bin/sh -c 'echo 8 > /sys/class/net/eno2/device/sriov_numvfs'")
    eno2_vf = [i for i, e in enumerate(execs) if e.startswith("/usr/sbin/ip link set dev eno2 ")]
    assert eno2_vf and min(eno2_vf) > eno2_count
    vf0 = [e for e in execs if e.startswith("/usr/sbin/ip link set dev eno2 vf 0 ")]
    assert vf0[0].split()[7] == "vlan" and "mac" in vf0[1].split()
    # VFs in index order whatever the order of containers in the file
    assert [e.split()[6] for e in execs if e.startswith("/usr/sbin/ip link set dev eno2 ")] == ["0", "0", "1", "1"]


def test_seed_unit(rich: Topology) -> None:
    from sriovcheck.topology import load_topology

    seed = load_topology(ROOT / "topologies" / "seed-lab.yaml").topology
    execs = [v for k, v in parse_unit(persist.render_unit(seed))["Service"] if k == "ExecStart"]
    assert execs == [
        "/bin/sh -c 'echo 0 > /sys/class/net/eno2/device/sriov_numvfs'",
        "/bin/sh -c 'echo 8 > /sys/class/net/eno2/device/sriov_numvfs'",
        "/usr/sbin/ip link set dev eno2 vf 0 vlan 200 qos 0 proto 802.1Q",
        "/usr/sbin/ip link set dev eno2 vf 0 spoofchk on",
        "/usr/sbin/ip link set dev eno2 vf 1 vlan 201 qos 0 proto 802.1Q",
        "/usr/sbin/ip link set dev eno2 vf 1 spoofchk on",
    ]


def tamper(obj: Any, path: tuple[Any, ...], value: object) -> Any:
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        items = list(obj)
        items[key] = tamper(items[key], rest, value)
        return items
    return obj.model_copy(update={key: tamper(getattr(obj, key), rest, value)})


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("host", "pfs", 0, "name"), "eno2; reboot", "unchecked PF name"),
        (("name",), "Rack7\n", "unchecked topology name"),
        (("containers", 0, "vfs", 1, "mac"), "02:00:00:00:02:01' ; rm -rf /", "unchecked MAC"),
        (("containers", 0, "vfs", 0, "vlan"), 5000, "VLAN id"),
        (("containers", 0, "vfs", 0, "vlan_proto"), "802.1X", "VLAN protocol"),
        (("containers", 0, "vfs", 0, "vf"), 8, "VF index of eno2"),
        (("containers", 0, "vfs", 0, "qos"), True, "qos"),
    ],
)
def test_unchecked_values_never_reach_the_unit(rich: Topology, path: tuple[Any, ...], value: object, match: str) -> None:
    # A topology whose values skipped validation (model_copy does not validate), as a caller bug might.
    with pytest.raises(ValueError, match=match):
        persist.render_unit(tamper(rich, path, value))


def test_device_unit_escaping() -> None:
    assert persist.device_unit("eno2") == "sys-subsystem-net-devices-eno2.device"
    assert persist.device_unit("enp2s0f0-x") == r"sys-subsystem-net-devices-enp2s0f0\x2dx.device"
    assert persist.device_unit("bond0.100") == "sys-subsystem-net-devices-bond0.100.device"
    with pytest.raises(ValueError):
        persist.device_unit("a/b")


def test_install_writes_atomically_and_enables(rich: Topology, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    path = persist.install_unit(rich, etc_root=etc)
    assert path == etc / "systemd/system/sriovcheck-vfs-rack7.service"
    assert path.read_text() == persist.render_unit(rich)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    link = etc / "systemd/system/multi-user.target.wants/sriovcheck-vfs-rack7.service"
    assert link.is_symlink() and os.readlink(link) == str(path) and link.resolve() == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["multi-user.target.wants", path.name]  # no temp files
    # nothing else under /etc: no boot configuration (GRUB, kernel command line) is ever written
    assert sorted(p.relative_to(etc).as_posix() for p in etc.rglob("*") if not p.is_dir()) == [
        "systemd/system/multi-user.target.wants/sriovcheck-vfs-rack7.service", "systemd/system/sriovcheck-vfs-rack7.service"]
    # again, after a change: replaced in place, still enabled
    path.write_text("old")
    assert persist.install_unit(rich, etc_root=etc) == path
    assert path.read_text() == persist.render_unit(rich) and link.resolve() == path
    assert "systemctl daemon-reload" in persist.reload_hint(path)


def test_install_failure_is_a_host_error(rich: Topology, tmp_path: Path) -> None:
    (tmp_path / "etc").write_text("not a directory")
    with pytest.raises(HostError, match="cannot install the systemd unit") as exc:
        persist.install_unit(rich, etc_root=tmp_path / "etc")
    assert exc.value.hint is not None and "--print" in exc.value.hint


def test_templates_dir_finds_the_checkout_template() -> None:
    assert persist._templates_dir() == ROOT / "templates"


def test_templates_dir_prefers_the_wheels_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In a wheel, hatch's force-include puts templates/ at sriovcheck/templates/.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / persist.TEMPLATE).write_text("packaged {{ name }}\n")
    monkeypatch.setattr(resources.importlib.resources, "files", lambda pkg: tmp_path)
    assert persist._templates_dir() == tmp_path / "templates"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit(rich: Topology, tmp_path: Path) -> None:
    unit = tmp_path / persist.unit_name(rich)
    unit.write_text(persist.render_unit(rich))
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "sriovcheck-vfs-rack7" not in res.stderr, res.stderr
