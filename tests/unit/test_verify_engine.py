"""The verification engine over in-memory seams and a scripted switch: verdicts, diagnoses, skips."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.errors import SwitchError
from sriovcheck.provision.engine import Provisioner
from sriovcheck.provision.state import StateStore
from sriovcheck.switch.client import SwitchFacts
from sriovcheck.topology import load_topology
from sriovcheck.verify.engine import Verifier
from tests.unit.fakes import FakeHost, FakeNetns, FakeRuntime, FakeWorld

SEED = Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml"
ROUTER = "ac:4b:c8:2b:77:c1"


@dataclass
class Ping:
    sent: int
    received: int
    rtts_ms: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0


@dataclass
class Neigh:
    ip: str
    mac: str | None
    state: str


class Probe(FakeNetns):
    def __init__(self, w: FakeWorld, *, lost: set[str] | None = None) -> None:
        super().__init__(w)
        self.lost = lost or set()
        self.arp_probes: list[tuple[str, str, str]] = []
        self.arp_answer: str | None = None
        self.deadlines: list[float | None] = []
        self.df_lost = False

    def neighbours(self, ns: str, ifname: str | None = None) -> list[Neigh]:
        return [Neigh(ip=a["dst"], mac=ROUTER, state="REACHABLE") for a in self.pinged if a["netns_path"] == ns]

    def arp_probe_many(self, requests: list[dict[str, Any]], *, frames: int, spacing_s: float,
                       deadline: Any) -> list[tuple[str | None, None]]:
        assert (frames, spacing_s) == (3, 0.1) or deadline(0.0, 0.0) is not None  # the rule's frames, or a fixed wait
        return [(self.arp_probe(r["netns_path"], r["ifname"], sender_ip=r["sender_ip"], target_ip=r["target_ip"],
                                deadline=deadline), None) for r in requests]

    def arp_probe(self, ns: str, ifname: str, *, sender_ip: str, target_ip: str, tries: int = 2,
                  spacing_s: float | None = None, deadline: Any = None) -> str | None:
        self.arp_probes.append((ifname, sender_ip, target_ip))
        # how long the probe would listen, asked as the real probe asks (first and last frame at 0 and 0.2 s)
        # (the real probe asks every 20 ms until the gateway pings are over and the answer is known)
        d = deadline(0.0, 0.2) if deadline else None
        while deadline and d is None:
            time.sleep(0.002)
            d = deadline(0.0, 0.2)
        self.deadlines.append(d)
        return self.arp_answer

    def ping_many(self, requests):  # type: ignore[no-untyped-def]
        if any(r.get("dont_fragment") for r in requests):
            self.df = requests
            return [Ping(r["count"], 0 if self.df_lost else r["count"], [0.3] * r["count"]) for r in requests]
        if not any(r["dst"].endswith(".1") for r in requests):
            self.paths = requests
            return [Ping(r["count"], r["count"], [0.1] * r["count"]) for r in requests]
        self.pinged = requests
        return [
            Ping(r["count"], 0 if r["dst"] in self.lost else r["count"], [] if r["dst"] in self.lost else [0.2] * r["count"])
            for r in requests
        ]


class Switch:
    def __init__(self, macs: list[tuple[str, str, str]], arps: list[tuple[str, str, str]]) -> None:
        self.facts = SwitchFacts(hostname="ex-switch", model="ex4200-48t", junos_version="12.3R12.4", source="ssh")
        self.macs, self.arps = macs, arps
        self.commands: list[str] = []
        self.closed = False
        self.port_mtu = 1514

    def run(self, command: str) -> str:
        self.commands.append(command)
        if command.endswith("| display xml"):
            raise SwitchError("xml not supported by this fake")  # exercises the text fallback
        table, _, pattern = command.partition(" | match ")
        if table.startswith("show ethernet-switching table"):
            port = table.removeprefix("show ethernet-switching table").removeprefix(" interface ") or None
            macs = [(v, m, i) for v, m, i in self.macs if port is None or i.split(".")[0] == port]
            rows = "".join(f"  {v:<17} {m:<17} Learn          0 {i}\n" for v, m, i in macs)
            if port is None:
                rows += "".join(f"  {v:<17} {ROUTER} Static         - Router\n" for v in ("SRIOV_200", "SRIOV_201"))
            header = "  VLAN              MAC address       Type         Age Interfaces\n"
            out = f"Ethernet-switching table: {len(macs)} unicast entries\n{header}{rows}"
            if pattern:  # Junos' `| match "A|B"`: the lines that match
                wanted = pattern.strip('"').split("|")
                out = "".join(line for line in out.splitlines(keepends=True) if any(w in line for w in wanted))
            return out
        if command.startswith("show arp no-resolve"):
            l3 = command.removeprefix("show arp no-resolve").removeprefix(" interface ") or None
            arps = [(m, ip, i) for m, ip, i in self.arps if l3 is None or i == l3]
            rows = "".join(f"{m} {ip:<15} {i:<20} none\n" for m, ip, i in arps)
            return f"MAC Address       Address         Interface     Flags\n{rows}Total entries: {len(arps)}\n"
        if command in ("show ethernet-switching interfaces", "show ethernet-switching interfaces ge-0/0/1"):
            return (
                "Interface    State  VLAN members        Tag   Tagging  Blocking\n"
                "ge-0/0/1.0   up     SRIOV_200           200   tagged   unblocked\n"
                "                    SRIOV_201           201   tagged   unblocked\n"
            )
        if command == "show lldp neighbors":
            return (
                "Local Interface    Parent Interface    Chassis Id          Port info          System Name\n"
                "ge-0/0/1.0         -                   02:00:00:00:aa:01   eno2               worker2\n"
            )
        if command == "show interfaces ge-0/0/1":
            return (
                "Physical interface: ge-0/0/1, Enabled, Physical link is Up\n"
                f"  Link-level type: Ethernet, MTU: {self.port_mtu}, Speed: Auto\n"
            )
        if command == "show interfaces vlan":
            return f"Physical interface: vlan, Enabled, Physical link is Up\n  Current address: {ROUTER}, Hardware address: {ROUTER}\n"
        raise SwitchError(f"unexpected {command}")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def lab(tmp_path: Path):  # type: ignore[no-untyped-def]
    topo = load_topology(SEED).topology
    w = FakeWorld({"eno2": 0})
    Provisioner(topo, host=FakeHost(w), runtime=FakeRuntime(w), netns=FakeNetns(w), store=StateStore(topo.name, tmp_path)).provision()
    macs = {}
    for name in ("test-200", "test-201"):
        ns = w.containers[name].netns_path
        assert ns
        macs[name] = w.ns[ns]["eth1"].mac
    return topo, w, macs


class Clock:
    """Virtual time: polling the switch until the learn timeout costs no real seconds."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def verify(topo, w, switch, probe=None, clock=None):  # type: ignore[no-untyped-def]
    clock = clock or Clock()
    return Verifier(
        topo,
        host=FakeHost(w),
        runtime=FakeRuntime(w),
        probe=probe or Probe(w),
        open_switch=lambda: switch,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    ).run()


def by(outcome, kind, target):  # type: ignore[no-untyped-def]
    return next(c for c in outcome.checks if c.kind == kind and c.target == target)


def healthy_switch(macs: dict[str, str]) -> Switch:
    return Switch(
        [("SRIOV_200", macs["test-200"], "ge-0/0/1.0"), ("SRIOV_201", macs["test-201"], "ge-0/0/1.0")],
        [(macs["test-200"], "192.168.200.2", "vlan.200"), (macs["test-201"], "192.168.201.2", "vlan.201")],
    )


def test_healthy_lab_passes_every_check(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    out = verify(topo, w, sw)
    from sriovcheck.verify.results import CHECK_KINDS

    assert sorted({c.kind for c in out.checks}) == sorted(k for k in CHECK_KINDS if k != "teardown-clean")
    assert [(c.kind, c.target, c.message) for c in out.checks if c.status != "pass"] == [
        ("vf-path", "test-200/eth1", "not run: no other working VF on VLAN 200 to reach"),
        ("vf-path", "test-201/eth1", "not run: no other working VF on VLAN 201 to reach"),
    ]
    assert sw.commands.count("show ethernet-switching table interface ge-0/0/1") == 1  # everything learned: no polling
    assert len(out.checks) == 1 + 12 * 2 + 1  # login, 12 kinds per VF, cabling of the one PF
    assert by(out, "cabling", "worker2:eno2").observed.startswith("ge-0/0/1: worker2 eno2")
    assert by(out, "switch-mac", "test-200/eth1").observed.startswith("SRIOV_200 learned on ge-0/0/1.0")
    assert by(out, "gateway-ping", "test-201/eth1").details["rtt_avg_ms"] == 0.2
    assert sw.closed
    # scoped to the PF's port, XML first, text as the fallback
    assert sw.commands[:2] == [
        "show ethernet-switching table interface ge-0/0/1 | display xml",
        "show ethernet-switching table interface ge-0/0/1",
    ]


def test_mac_on_wrong_vlan_is_diagnosed(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    sw.macs[0] = ("SRIOV_201", macs["test-200"], "ge-0/0/1.0")
    out = verify(topo, w, sw, Probe(w, lost={"192.168.200.1"}))
    r = by(out, "switch-mac", "test-200/eth1")
    assert r.status == "fail"
    assert f"MAC {macs['test-200']} learned on VLAN SRIOV_201" in r.message and "expected SRIOV_200 (200)" in r.message
    assert "VLAN and the switch port's VLAN membership disagree" in r.message
    assert by(out, "gateway-ping", "test-200/eth1").status == "fail"
    # one root cause, one failure: what depends on the ping is skipped and says why
    for kind in ("container-arp", "switch-arp", "gateway-mac"):
        c = by(out, kind, "test-200/eth1")
        assert c.status == "skip" and "prerequisite" in c.message
    assert {c.status for c in out.checks if c.target == "test-201/eth1" and c.kind != "vf-path"} == {"pass"}


def test_not_learned_says_what_was_looked_for(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    del sw.macs[1]
    clock = Clock()
    out = verify(topo, w, sw, clock=clock)
    r = by(out, "switch-mac", "test-201/eth1")
    assert r.status == "fail"
    # it polled the switch until switch_learn_timeout_s (15 s), once a second, then gave up
    assert len(clock.sleeps) == 15 and clock.now == 15.0
    assert sw.commands.count("show ethernet-switching table interface ge-0/0/1") == 16
    # what it looked for, and no guessing: the cause is the diagnosis' job
    assert r.message == "not learned within 15 s on VLAN SRIOV_201 (201) at ge-0/0/1"


def test_switch_login_failure_errors_once_and_host_checks_still_run(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, _ = lab

    def refuse():  # type: ignore[no-untyped-def]
        raise SwitchError("login to switch ex-switch refused")

    out = Verifier(topo, host=FakeHost(w), runtime=FakeRuntime(w), probe=Probe(w), open_switch=refuse).run()
    login = by(out, "switch-login", "ex-switch")
    assert login.status == "error" and "refused" in login.message
    assert {c.status for c in out.checks if c.kind in ("switch-mac", "switch-arp", "gateway-mac", "mac-unique")} == {"skip"}
    assert {c.status for c in out.checks if c.kind in ("vf-attached", "vf-config", "gateway-ping", "container-arp")} == {"pass"}


def test_stopped_container_fails_attachment_and_skips_the_rest(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    FakeRuntime(w).kill("test-201")
    out = verify(topo, w, healthy_switch(macs))
    assert by(out, "vf-attached", "test-201/eth1").status == "fail"
    assert "container test-201 is not running" in by(out, "vf-attached", "test-201/eth1").message
    for kind in ("gateway-ping", "container-arp", "switch-mac", "switch-arp", "gateway-mac", "mac-unique"):
        assert by(out, kind, "test-201/eth1").status == "skip"


def test_wrong_vf_vlan_on_the_pf_fails_vf_config(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    from dataclasses import replace

    w.config[("eno2", 0)] = replace(w.config[("eno2", 0)], vlan=201)
    out = verify(topo, w, healthy_switch(macs))
    r = by(out, "vf-config", "test-200/eth1")
    assert r.status == "fail" and "vlan is 201, expected 200" in r.message


def test_mac_on_two_ports_fails_mac_unique(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    sw.macs.append(("SRIOV_200", macs["test-200"], "ge-0/0/7.0"))
    out = verify(topo, w, sw)
    r = by(out, "mac-unique", "test-200/eth1")
    assert r.status == "fail" and "2 VLAN/port pairs" in r.message


def test_acceptance_diagnoses_port_mtu_membership_and_isolation(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    sw.port_mtu = 1400
    probe = Probe(w)
    probe.df_lost = True
    probe.arp_answer = ROUTER
    out = verify(topo, w, sw, probe)
    mtu = by(out, "mtu", "test-200/eth1")
    assert mtu.status == "fail"
    assert "switch port ge-0/0/1 has MTU 1400, smaller than the VF MTU 1500 plus the 14-byte Ethernet header" in mtu.message
    assert [r["payload_size"] for r in probe.df] == [1472, 1472]
    iso = by(out, "vlan-isolation", "test-200/eth1")
    assert iso.status == "fail" and "not isolated" in iso.message
    assert probe.arp_probes[0] == ("eth1", "0.0.0.0", "192.168.201.1")


def test_vlan_missing_on_the_port_turns_not_learned_into_a_cause(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    sw = healthy_switch(macs)
    del sw.macs[1]
    original = sw.run

    def run(command: str) -> str:
        text = original(command)
        if command in ("show ethernet-switching interfaces", "show ethernet-switching interfaces ge-0/0/1"):
            text = "\n".join(line for line in text.splitlines() if "SRIOV_201" not in line) + "\n"
        return text

    sw.run = run  # type: ignore[method-assign]
    out = verify(topo, w, sw)
    port = by(out, "switch-port", "test-201/eth1")
    assert port.status == "fail" and port.message.startswith("VLAN 201 (SRIOV_201) is not a member of ge-0/0/1")
    assert "the switch says: VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in by(out, "switch-mac", "test-201/eth1").message
    assert by(out, "switch-port", "test-200/eth1").status == "pass"


# --- the engine: what it asks the probe to wait for -------------------------------------------------


def test_engine_measures_the_silence_against_the_runs_gateway_round_trips(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    probe = Probe(w)  # the fake gateways answer in 0.2 ms
    out = verify(topo, w, healthy_switch(macs), probe)
    assert probe.deadlines == [pytest.approx(0.3)] * 2
    assert by(out, "vlan-isolation", "test-200/eth1").status == "pass"


def test_engine_waits_the_fixed_second_when_no_gateway_answered(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    probe = Probe(w, lost={"192.168.200.1", "192.168.201.1"})
    out = verify(topo, w, healthy_switch(macs), probe)
    assert probe.deadlines == [pytest.approx(1.0)] * 2
    assert by(out, "gateway-ping", "test-200/eth1").status == "fail"
    assert by(out, "vlan-isolation", "test-200/eth1").status == "pass"


def test_engine_uses_the_topologys_isolation_wait(lab) -> None:  # type: ignore[no-untyped-def]
    topo, w, macs = lab
    topo = topo.model_copy(update={"checks": replace_checks(topo.checks, isolation_wait_s=2.0)})
    probe = Probe(w)
    verify(topo, w, healthy_switch(macs), probe)
    assert probe.deadlines == [pytest.approx(2.0)] * 2


def replace_checks(checks, **kw):  # type: ignore[no-untyped-def]
    return checks.model_copy(update=kw)


def test_one_docker_inspect_per_container_not_per_vf(tmp_path: Path) -> None:
    # a container holding 3 VFs is looked up once: on a rack each inspect costs the host's docker engine
    from sriovcheck.fleet.example import rack_host_topology
    from sriovcheck.topology import load_text

    topo = load_text(rack_host_topology(1, vfs=3), file="node01.yaml").topology
    w = FakeWorld({pf.name: 0 for pf in topo.host.pfs})
    Provisioner(topo, host=FakeHost(w), runtime=FakeRuntime(w), netns=FakeNetns(w), store=StateStore(topo.name, tmp_path)).provision()
    assert len(topo.containers) == 1 and len(list(topo.attachments())) == 3

    asked: list[str] = []

    class Counting(FakeRuntime):
        def get(self, name: str):  # type: ignore[no-untyped-def]
            asked.append(name)
            return super().get(name)

    def refuse():  # type: ignore[no-untyped-def]
        raise SwitchError("no switch in this test")

    out = Verifier(topo, host=FakeHost(w), runtime=Counting(w), probe=Probe(w), open_switch=refuse).run()
    assert {c.status for c in out.checks if c.kind == "vf-attached"} == {"pass"}
    assert len([c for c in out.checks if c.kind == "vf-attached"]) == 3
    assert asked == [topo.containers[0].name]


def test_verify_reports_the_pf_looks_it_took_first(lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # `verify` looks at each PF once before the checks (a missing PF stops it) and its report uses that look
    # (NIC drivers, VF PCI addresses): on an emulated rack each PF look is ~10 netlink requests
    import argparse
    import io

    from sriovcheck import workflow
    from sriovcheck.topology import load_topology as load

    topo, w, _ = lab
    loaded = load(SEED)
    looks: list[str] = []

    class CountingHost(FakeHost):
        def pf_info(self, pf: str):  # type: ignore[no-untyped-def]
            looks.append(pf)
            return super().pf_info(pf)

    ctx = workflow.Context(loaded, False, CountingHost(w), FakeRuntime(w), Probe(w), None)  # type: ignore[arg-type]

    def no_second_look(_ctx: Any) -> Any:
        raise AssertionError("the report looked at the PFs again")

    monkeypatch.setattr(workflow, "context_of", lambda *a, **k: ctx)
    monkeypatch.setattr(workflow, "_pf_looks", no_second_look)
    monkeypatch.setattr(workflow, "_open_switch_factory", lambda *a: (lambda: (_ for _ in ()).throw(SwitchError("no switch here"))))
    args = argparse.Namespace(topology=str(SEED), lab=False, switch_output=None, report_dir=str(tmp_path / "r"), json=True,
                              no_html=True, loaded=loaded)
    out = io.StringIO()
    workflow.cmd_verify(args, out, lambda _m: None)
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["host"]["nic_drivers"] == sorted({FakeHost(w).pf_info(pf.name).driver for pf in topo.host.pfs})
    assert all(a["pci_address"] for a in results["attachments"])
    assert looks[: len(topo.host.pfs)] == [pf.name for pf in topo.host.pfs]
