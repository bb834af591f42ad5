"""Every validation rule, each with a file that breaks exactly that rule; messages asserted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sriovcheck.errors import TopologyError
from sriovcheck.topology import load_text, load_topology

SEED = (Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml").read_text()


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    count = 0
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            count += 1
            if count == nth:
                return i
    raise AssertionError(f"{needle!r} not in text")


def _sub(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


SECOND_VF_SAME = "        vf: 1\n        vlan: 201"
EXTRA_CONTAINER = """  - name: test-202
    image: nginx:alpine
    vfs:
      - pf: eno2
        vf: 2
        vlan: 201
        ifname: eth1
        address: 192.168.201.3/24
"""


def _with_extra_container(text: str, **repl: str) -> str:
    block = EXTRA_CONTAINER
    for k, v in repl.items():
        block = block.replace(k, v)
    return _sub(text, "checks:\n", block + "checks:\n")


# (id, mutated text, expected path, line needle (nth occurrence), message regex)
CASES = [
    (
        "unknown-key",
        _sub(SEED, "      numvfs: 8", "      numvfs: 8\n      numfvs: 4"),
        "host.pfs[0].numfvs",
        ("numfvs", 1),
        r"unknown key 'numfvs'",
    ),
    (
        "missing-key",
        _sub(SEED, "      switch_port: ge-0/0/1\n", ""),
        "host.pfs[0].switch_port",
        ("- name: eno2", 1),
        r"required key 'switch_port' is missing",
    ),
    (
        "literal-password",
        _sub(SEED, "  port: 22\n", "  port: 22\n  password: hunter2\n"),
        "switch.password",
        ("password: hunter2", 1),
        r"literal password is refused.*password_env.*key_file",
    ),
    ("no-credentials", _sub(SEED, "  password_env: SRIOVCHECK_SWITCH_PASSWORD\n", ""), "switch", ("switch:", 1), r"no credentials"),
    (
        "vf-index-out-of-range",
        _sub(SEED, "vf: 1\n", "vf: 8\n"),
        "containers[1].vfs[0].vf",
        ("vf: 8", 1),
        r"VF index 8 does not exist on eno2.*allowed 0\.\.7",
    ),
    (
        "same-vf-twice",
        _sub(SEED, "vf: 1\n", "vf: 0\n"),
        "containers[1].vfs[0].vf",
        ("vf: 0", 2),
        r"VF 0 of eno2 is already given to containers\[0\]\.vfs\[0\]",
    ),
    (
        "pf-not-declared",
        _sub(SEED, "      - pf: eno2\n        vf: 1", "      - pf: eno3\n        vf: 1"),
        "containers[1].vfs[0].pf",
        ("pf: eno3", 1),
        r"PF 'eno3' is not declared under host.pfs \(declared: eno2\)",
    ),
    (
        "vlan-not-declared",
        _sub(SEED, "        vlan: 201", "        vlan: 305"),
        "containers[1].vfs[0].vlan",
        ("vlan: 305", 1),
        r"VLAN 305 is not declared under vlans \(declared: 200, 201\)",
    ),
    (
        "vlan-zero",
        _sub(SEED, "        vlan: 201", "        vlan: 0"),
        "containers[1].vfs[0].vlan",
        ("vlan: 0", 1),
        r"greater than or equal to 1",
    ),
    ("duplicate-vlan-id", _sub(SEED, "  - id: 201", "  - id: 200"), "vlans[1].id", ("id: 200", 2), r"VLAN id 200 is declared twice"),
    (
        "duplicate-vlan-name",
        _sub(SEED, "    name: SRIOV_201", "    name: SRIOV_200"),
        "vlans[1].name",
        ("name: SRIOV_200", 2),
        r"VLAN name 'sriov_200' is declared twice",
    ),
    (
        "address-outside-subnet",
        _sub(SEED, "192.168.201.2/24", "192.168.202.2/24"),
        "containers[1].vfs[0].address",
        ("192.168.202.2/24", 1),
        r"outside VLAN 201's subnet 192.168.201.0/24",
    ),
    (
        "address-is-gateway",
        _sub(SEED, "192.168.201.2/24", "192.168.201.1/24"),
        "containers[1].vfs[0].address",
        ("192.168.201.1/24", 1),
        r"is VLAN 201's gateway",
    ),
    (
        "address-is-network",
        _sub(SEED, "192.168.201.2/24", "192.168.201.0/24"),
        "containers[1].vfs[0].address",
        ("192.168.201.0/24", 2),
        r"network address of 192.168.201.0/24",
    ),
    (
        "address-is-broadcast",
        _sub(SEED, "192.168.201.2/24", "192.168.201.255/24"),
        "containers[1].vfs[0].address",
        ("192.168.201.255/24", 1),
        r"broadcast address",
    ),
    (
        "address-twice",
        _with_extra_container(SEED, **{"192.168.201.3/24": "192.168.201.2/24"}),
        "containers[2].vfs[0].address",
        ("192.168.201.2/24", 2),
        r"address 192.168.201.2 is already used at containers\[1\]\.vfs\[0\]\.address",
    ),
    (
        "mac-twice",
        _sub(
            _sub(SEED, "        address: 192.168.200.2/24\n", "        address: 192.168.200.2/24\n        mac: 02:00:00:00:00:01\n"),
            "        address: 192.168.201.2/24\n",
            "        address: 192.168.201.2/24\n        mac: 02:00:00:00:00:01\n",
        ),
        "containers[1].vfs[0].mac",
        ("mac: 02:00:00:00:00:01", 2),
        r"MAC 02:00:00:00:00:01 is already used",
    ),
    (
        "multicast-mac",
        _sub(SEED, "        address: 192.168.200.2/24\n", "        address: 192.168.200.2/24\n        mac: 01:00:5e:00:00:01\n"),
        "containers[0].vfs[0].mac",
        ("mac: 01:00:5e", 1),
        r"multicast MAC address",
    ),
    (
        "duplicate-container",
        _sub(SEED, "  - name: test-201", "  - name: test-200"),
        "containers[1].name",
        ("name: test-200", 2),
        r"container name 'test-200' is used twice",
    ),
    (
        "duplicate-ifname",
        _sub(
            SEED,
            "        address: 192.168.200.2/24\n",
            "        address: 192.168.200.2/24\n      - pf: eno2\n        vf: 3\n        vlan: 200\n"
            "        ifname: eth1\n        address: 192.168.200.3/24\n",
        ),
        "containers[0].vfs[1].ifname",
        ("ifname: eth1", 2),
        r"ifname 'eth1' is used twice in container 'test-200'",
    ),
    (
        "ifname-too-long",
        _sub(SEED, "ifname: eth1", "ifname: averyveryverylongname"),
        "containers[0].vfs[0].ifname",
        ("averyveryverylongname", 1),
        r"not a valid Linux interface name.*1-15 characters",
    ),
    ("ifname-slash", _sub(SEED, "ifname: eth1", "ifname: eth/1"), "containers[0].vfs[0].ifname", ("eth/1", 1), r"no '/'"),
    (
        "container-name-bad",
        _sub(SEED, "  - name: test-200", "  - name: 'test 200;rm'"),
        "containers[0].name",
        ("test 200;rm", 1),
        r"not a valid docker container name",
    ),
    (
        "junos-port-injection",
        _sub(SEED, "switch_port: ge-0/0/1", "switch_port: 'ge-0/0/1 | display xml'"),
        "host.pfs[0].switch_port",
        ("display xml", 1),
        r"not a valid switch port.*ge-0/0/1",
    ),
    (
        "vlan-name-injection",
        _sub(SEED, "    name: SRIOV_200", "    name: 'SRIOV_200; request system reboot'"),
        "vlans[0].name",
        ("request system reboot", 1),
        r"not a valid VLAN name",
    ),
    (
        "l3-interface-bad",
        _sub(SEED, "l3_interface: vlan.200", "l3_interface: ge-0/0/2.0"),
        "vlans[0].l3_interface",
        ("ge-0/0/2.0", 1),
        r"vlan\.N \(non-ELS\) or irb\.N \(ELS\)",
    ),
    (
        "gateway-outside",
        _sub(SEED, "gateway: 192.168.201.1", "gateway: 192.168.9.1"),
        "vlans[1].gateway",
        ("192.168.9.1", 1),
        r"gateway 192.168.9.1 is outside the VLAN's subnet",
    ),
    (
        "overlapping-subnets",
        _sub(SEED, "subnet: 192.168.201.0/24", "subnet: 192.168.200.0/23"),
        "vlans[1].subnet",
        ("192.168.200.0/23", 1),
        r"overlaps VLAN 200's subnet",
    ),
    ("topology-name-bad", _sub(SEED, "name: seed-lab", "name: Seed_Lab"), "name", ("Seed_Lab", 1), r"not a valid topology name"),
    (
        "pf-declared-twice",
        _sub(
            SEED,
            "      switch_port: ge-0/0/1\n",
            "      switch_port: ge-0/0/1\n    - name: eno2\n      numvfs: 2\n      switch_port: ge-0/0/2\n",
        ),
        "host.pfs[1].name",
        ("name: eno2", 2),
        r"PF 'eno2' is declared twice",
    ),
    (
        "port-cabled-twice",
        _sub(
            SEED,
            "      switch_port: ge-0/0/1\n",
            "      switch_port: ge-0/0/1\n    - name: eno3\n      numvfs: 2\n      switch_port: ge-0/0/1\n",
        ),
        "host.pfs[1].switch_port",
        ("switch_port: ge-0/0/1", 2),
        r"switch port 'ge-0/0/1' is cabled to two PFs",
    ),
    (
        "eth0-taken",
        _sub(SEED, "ifname: eth1", "ifname: eth0"),
        "containers[0].vfs[0].ifname",
        ("ifname: eth0", 1),
        r"'eth0' is taken inside the container",
    ),
    (
        "prefix-differs",
        _sub(SEED, "192.168.201.2/24", "192.168.201.2/25"),
        "containers[1].vfs[0].address",
        ("192.168.201.2/25", 1),
        r"prefix /25 differs from VLAN 201's subnet",
    ),
    (
        "rates-inverted",
        _sub(
            SEED,
            "        address: 192.168.200.2/24\n",
            "        address: 192.168.200.2/24\n        min_tx_rate_mbps: 500\n        max_tx_rate_mbps: 100\n",
        ),
        "containers[0].vfs[0].min_tx_rate_mbps",
        ("min_tx_rate_mbps", 1),
        r"min_tx_rate_mbps 500 is above max_tx_rate_mbps 100",
    ),
    (
        "qos-range",
        _sub(SEED, "        address: 192.168.200.2/24\n", "        address: 192.168.200.2/24\n        qos: 9\n"),
        "containers[0].vfs[0].qos",
        ("qos: 9", 1),
        r"less than or equal to 7.*found 9",
    ),
    ("bad-type", _sub(SEED, "numvfs: 8", "numvfs: eight"), "host.pfs[0].numvfs", ("numvfs: eight", 1), r"valid integer.*found 'eight'"),
    ("duplicate-yaml-key", _sub(SEED, "  port: 22\n", "  port: 22\n  port: 23\n"), "switch.port", ("port: 23", 1), r"duplicate key 'port'"),
    (
        "link-state-enum",
        _sub(SEED, "        address: 192.168.200.2/24\n", "        address: 192.168.200.2/24\n        link_state: up\n"),
        "containers[0].vfs[0].link_state",
        ("link_state: up", 1),
        r"'auto', 'enable' or 'disable'",
    ),
]


@pytest.mark.parametrize(("text", "path", "needle", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_names_path_line_and_what_is_allowed(text: str, path: str, needle: tuple[str, int], pattern: str) -> None:
    with pytest.raises(TopologyError) as info:
        load_text(text, file="t.yaml")
    problems = info.value.problems
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path}; got {[str(p) for p in problems]}"
    p = matching[0]
    assert re.search(pattern, p.message), p.message
    assert p.line == _line_of(text, needle[0], needle[1]), str(p)
    assert p.file == "t.yaml"
    assert str(p).startswith(f"t.yaml:{p.line}:")
    # exactly that rule is broken: one problem only, except where a duplicate VLAN or subnet
    # necessarily makes the VFs that use it wrong too
    if path not in ("vlans[1].id", "vlans[1].subnet"):
        assert len(problems) == 1, [str(x) for x in problems]


def test_seed_lab_is_valid_and_complete() -> None:
    loaded = load_topology(Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml")
    t = loaded.topology
    assert t.name == "seed-lab"
    assert [(p.name, p.numvfs, p.switch_port) for p in t.host.pfs] == [("eno2", 8, "ge-0/0/1")]
    assert [(c.name, c.image, c.vfs[0].vf, c.vfs[0].vlan, str(c.vfs[0].address), c.vfs[0].ifname) for c in t.containers] == [
        ("test-200", "nginx:alpine", 0, 200, "192.168.200.2/24", "eth1"),
        ("test-201", "nginx:alpine", 1, 201, "192.168.201.2/24", "eth1"),
    ]
    assert [(v.id, v.name, str(v.gateway), v.l3_interface) for v in t.vlans] == [
        (200, "SRIOV_200", "192.168.200.1", "vlan.200"),
        (201, "SRIOV_201", "192.168.201.1", "vlan.201"),
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = _sub(_sub(_sub(SEED, "vf: 1\n", "vf: 8\n"), "        vlan: 201", "        vlan: 305"), "192.168.200.2/24", "192.168.200.1/24")
    with pytest.raises(TopologyError) as info:
        load_text(text, file="t.yaml")
    paths = [p.path for p in info.value.problems]
    assert paths == ["containers[0].vfs[0].address", "containers[1].vfs[0].vf", "containers[1].vfs[0].vlan"]


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", r"the file is empty"),
        (b"# only a comment\n", r"the file is empty"),
        (b"- a\n- b\n", r"the top level is a list"),
        (b"just a string\n", r"the top level is a str value"),
        (b"name: [unclosed\n", r"not valid YAML"),
        (b"\x00\x01\x02binary", r"binary"),
        (b"name: !!python/object:os.system {}\n", r"cannot read this value"),
        (b"name: caf\xe9\n", r"not UTF-8"),
        (b"a: &x [*x]\nb: !!python/object:os.system {}\n", r"recursive YAML alias"),
    ],
)
def test_broken_files_are_refused_with_a_location(tmp_path: Path, content: bytes, pattern: str) -> None:
    f = tmp_path / "t.yaml"
    f.write_bytes(content)
    with pytest.raises(TopologyError) as info:
        load_topology(f)
    msg = str(info.value)
    assert re.search(pattern, msg), msg
    assert str(f) in msg


def test_missing_directory_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="no such file"):
        load_topology(tmp_path / "nope.yaml")
    with pytest.raises(TopologyError, match="is a directory"):
        load_topology(tmp_path)


@pytest.mark.parametrize(("platform", "port", "l3", "message"), [
    ("arista_eos", "Ethernet1", "Vlan200", None),
    ("cisco_nxos", "Ethernet1/1", "Vlan200", None),
    ("juniper_junos", "Ethernet1", "vlan.200",
     r"host.pfs\[0\].switch_port: 'Ethernet1' is not a valid Junos switch port.*\(switch.platform juniper_junos\)"),
    ("arista_eos", "ge-0/0/1", "Vlan200", r"host.pfs\[0\].switch_port: 'ge-0/0/1' is not a valid EOS switch port"),
    ("cisco_nxos", "Ethernet1", "Vlan200", r"'Ethernet1' is not a valid NX-OS switch port; allowed: e.g. Ethernet1/1"),
    ("arista_eos", "Ethernet1", "vlan.200", r"vlans\[0\].l3_interface: 'vlan.200' is not a valid EOS L3 VLAN interface"),
    ("cisco_nxos", "Ethernet1/1", "Vlan201",
     r"vlans\[0\].l3_interface: 'Vlan201' is not VLAN 200's L3 interface on NX-OS: its SVI is Vlan200"),
    ("arista_ios", "Ethernet1", "Vlan200", r"switch.platform: .*'juniper_junos', 'arista_eos' or 'cisco_nxos'"),
])
def test_names_follow_the_switch_platform(platform: str, port: str, l3: str, message: str | None) -> None:
    text = _sub(_sub(_sub(SEED, "platform: juniper_junos", f"platform: {platform}"), "switch_port: ge-0/0/1", f"switch_port: {port}"),
                "l3_interface: vlan.200", f"l3_interface: {l3}")
    text = text.replace("l3_interface: vlan.201", "l3_interface: " + ("vlan.201" if l3.startswith("vlan") else "Vlan201"))
    if message is None:
        t = load_text(text, file="t.yaml").topology
        assert (t.switch.platform, t.host.pfs[0].switch_port) == (platform, port)
        return
    with pytest.raises(TopologyError) as info:
        load_text(text, file="t.yaml")
    assert any(re.search(message, str(p)) for p in info.value.problems), [str(p) for p in info.value.problems]
