"""The diagnosis on recorded check results: one root cause per broken thing, linked from every failing
check it explains; what no rule explains stays unexplained. Also the reports that show the causes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sriovcheck import cli
from sriovcheck.report.junit import render_junit
from sriovcheck.report.summary import summary_table
from sriovcheck.verify.diagnosis import PfState, diagnose, unexplained
from sriovcheck.verify.results import CheckResult, RunResults

T = "test-201/eth1"
VF = {"container": "test-201", "ifname": "eth1", "pf": "eno2", "vf": 1, "vlan": 201, "vlan_name": "SRIOV_201",
      "switch_port": "ge-0/0/1", "address": "192.168.201.2/24", "gateway": "192.168.201.1", "l3_interface": "vlan.201"}


def check(kind: str, status: str, target: str = T, **details: object) -> CheckResult:
    return CheckResult(kind=kind, target=target, status=status, observed=f"{kind} seen", message=f"{kind} msg",  # type: ignore[arg-type]
                       details={**VF, **details})


def vlan_removed() -> list[CheckResult]:
    return [check("vf-attached", "pass", mac="02:00:00:00:00:02"), check("vf-config", "pass", observed_vlan=201),
            check("gateway-ping", "fail"), check("switch-mac", "fail", reason="not-learned"),
            check("switch-port", "fail", reason="vlan-not-member", carried="SRIOV_200 (200)"),
            check("switch-arp", "skip"), CheckResult("switch-login", "ex-switch", "pass")]


def test_vlan_missing_on_the_port_is_one_cause_for_three_failures() -> None:
    checks = vlan_removed()
    [cause] = diagnose(checks, pfs=[PfState("eno2", True, "up", switch_port="ge-0/0/1")], switch="ex-switch")
    assert cause.what == "VLAN 201 (SRIOV_201) is not a member of ge-0/0/1"
    assert sorted(cause.explains) == [f"gateway-ping {T}", f"switch-mac {T}", f"switch-port {T}"]
    assert {c.cause for c in checks if c.status == "fail"} == {"C1"} and not unexplained(checks)


def test_pf_without_carrier_wins_over_what_follows_from_it() -> None:
    checks = vlan_removed()
    checks[0] = check("vf-attached", "fail", mac="02:00:00:00:00:02")
    [cause] = diagnose(checks, pfs=[PfState("eno2", True, "down", carrier=False, switch_port="ge-0/0/1")])
    assert cause.rule == "pf-down" and cause.what == "eno2 has no carrier (carrier 0, operstate DOWN)"
    assert f"vf-attached {T}" in cause.explains and f"switch-port {T}" in cause.explains


def test_pf_down_names_the_carrier_the_real_igb_driver_reported(tmp_path: Path) -> None:
    """The PF state read by the real host driver from igb's recorded netlink answer (its link was down
    right after the VF count changed: tests/data/igb-guest/), as the engine hands it to the diagnosis."""
    from tests.unit.test_host_linux_igb import PF, ReplayIPRoute, driver, replay_sysfs

    info = driver(replay_sysfs(tmp_path, "2vfs"), ReplayIPRoute("2vfs")).pf_info(PF)
    checks = [check("vf-attached", "fail", pf=PF), check("gateway-ping", "fail", pf=PF)]
    [cause] = diagnose(checks, pfs=[PfState(PF, info.exists, info.operstate, info.carrier, switch_port="ge-0/0/1")])
    assert cause.what == f"{PF} has no carrier (carrier 0, operstate DOWN)"
    assert cause.evidence[0] == f"{PF}: carrier 0, operstate DOWN"
    assert sorted(cause.explains) == [f"gateway-ping {T}", f"vf-attached {T}"]


def test_a_pf_with_carrier_but_operationally_down_is_not_said_to_lack_carrier() -> None:
    [cause] = diagnose([check("vf-attached", "fail")], pfs=[PfState("eno2", True, "dormant", carrier=True)])
    assert cause.what == "eno2 is down (carrier 1, operstate DORMANT)"


def test_a_pf_that_does_not_exist() -> None:
    checks = [check("vf-attached", "fail"), check("vf-config", "fail")]
    [cause] = diagnose(checks, pfs=[PfState("eno2", False)])
    assert (cause.rule, cause.what) == ("pf-missing", "PF eno2 does not exist on this host")
    assert "sriovcheck discover" in cause.fix and cause.marks == {"pf": "eno2"}


@pytest.mark.parametrize(
    ("checks", "rule", "what"),
    [
        ([check("vf-attached", "fail", container_state="missing")], "container-missing", "container test-201 does not exist"),
        ([check("vf-attached", "fail", container_state="stopped")], "container-stopped", "container test-201 is not running"),
        ([check("vf-config", "fail", observed_vlan=200), check("gateway-ping", "fail")], "vf-wrong-vlan",
         "eno2 VF 1 is tagged with VLAN 200, the topology declares VLAN 201"),
        ([check("switch-mac", "fail", reason="other-port", mac="m", learned=[{"vlan_name": "SRIOV_201", "vlan_id": 201,
                                                                            "interface": "ge-0/0/2.0"}])],
         "cabling-swapped", "eno2 is cabled to ge-0/0/2, not to ge-0/0/1: its VFs' MACs are learned on ge-0/0/2"),
        ([check("switch-mac", "fail", reason="other-vlan", mac="m", learned=[{"vlan_name": "SRIOV_200", "vlan_id": 200,
                                                                            "interface": "ge-0/0/1.0"}])],
         "mac-other-vlan", "test-201/eth1's MAC m is learned on VLAN SRIOV_200 (200), not SRIOV_201 (201)"),
        ([check("switch-port", "fail", reason="port-down"), check("gateway-ping", "fail"),
          check("switch-mac", "fail", reason="not-learned")], "port-down", "switch port ge-0/0/1 is down"),
        ([check("mtu", "fail", port_mtu=1400, mtu_wanted=1500)], "port-mtu",
         "switch port ge-0/0/1 has MTU 1400, too small for VF MTU 1500 plus the 14-byte Ethernet header"),
        ([check("vf-attached", "pass", mac="02:00:00:00:00:02"), check("switch-arp", "fail", arp_mac="02:de:ad:be:ef:01")],
         "duplicate-address", "192.168.201.2 is in use twice on VLAN 201: the switch's ARP maps it to 02:de:ad:be:ef:01, "
         "not to test-201/eth1's MAC 02:00:00:00:00:02"),
        ([check("gateway-ping", "fail"), check("switch-mac", "pass")], "gateway-down",
         "gateway 192.168.201.1 (vlan.201) on the switch is down or missing"),
        ([CheckResult("switch-login", "sw", "error", message="login to switch sw (h:22) as u refused\n  hint: check it")],
         "switch-login-refused", "switch sw refused the login"),
        ([CheckResult("switch-login", "sw", "error", message="login to switch sw (h:22) as u failed: no answer within 4 s")],
         "switch-unreachable", "switch sw could not be reached or did not answer"),
    ],
)
def test_each_rule(checks: list[CheckResult], rule: str, what: str) -> None:
    [cause] = diagnose(checks)
    assert (cause.rule, cause.what) == (rule, what)
    assert all(c.cause == "C1" for c in checks if c.status in ("fail", "error"))


def test_a_failure_no_rule_explains_is_shown_as_such() -> None:
    checks = [check("gateway-mac", "fail")]
    assert diagnose(checks) == [] and unexplained(checks) == checks
    results = RunResults({"name": "t"}, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", {}, {}, checks)
    assert "NOT EXPLAINED BY ANY RULE" in summary_table(results)


def test_reports_lead_with_the_cause_and_survive_results_json() -> None:
    checks = vlan_removed()
    causes = diagnose(checks, switch="ex-switch")
    results = RunResults({"name": "t"}, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", {"name": "h"},
                         {"name": "ex-switch"}, checks, causes=causes)
    again = RunResults.from_json(results.to_json())
    assert again.causes == causes and [c.cause for c in again.checks] == [c.cause for c in checks]
    text = summary_table(again)
    assert "[C1] VLAN 201 (SRIOV_201) is not a member of ge-0/0/1" in text
    assert max(len(line) for line in text.splitlines()) <= 120
    junit = render_junit(again)
    assert junit.count('message="root cause C1: VLAN 201 (SRIOV_201) is not a member of ge-0/0/1 -- ') == 3


def test_summary_columns_follow_check_kinds_whatever_the_run_order() -> None:
    a = [CheckResult("switch-port", "x/e", "pass"), CheckResult("vf-attached", "x/e", "pass")]
    mk = lambda cs: RunResults({"name": "t"}, "s", "f", {}, {}, cs)  # noqa: E731
    head = summary_table(mk(a)).splitlines()[1]
    assert head == summary_table(mk(list(reversed(a)))).splitlines()[1] and head.index("att") < head.index("port")


def test_old_results_json_still_render() -> None:
    from sriovcheck.report.writer import load_results

    for f in sorted(Path(__file__).resolve().parents[1].joinpath("data", "results").glob("*.json")):
        results = load_results(f)
        assert results.causes == []
        assert all(len(line) <= 120 for line in summary_table(results).splitlines() if "<script>" not in line)


def test_missing_asyncssh_is_an_environment_error_with_the_fix(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*_a: object, **_k: object) -> int:
        raise ModuleNotFoundError("No module named 'asyncssh'", name="asyncssh")

    monkeypatch.setitem(cli.COMMANDS, "schema", boom)
    assert cli.main(["schema"], out=io.StringIO()) == 3
    err = capsys.readouterr().err
    assert "asyncssh is not installed" in err and "sriovcheck[lab]" in err and "bug" not in err


def test_validation_reports_schema_and_semantic_problems_together() -> None:
    from sriovcheck.errors import TopologyError
    from sriovcheck.topology.load import load_topology

    path = Path(__file__).resolve().parents[1] / "data" / "several-kinds-of-mistakes.yaml"
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    found = {(p.path, p.message.split(":")[0].split(" (")[0]) for p in info.value.problems}
    assert found == {
        ("vlans[0].id", "Input should be less than or equal to 4094"),  # schema
        ("containers[0].vfs[0].ifname", "'bad name/x' is not a valid Linux interface name; allowed"),  # schema
        ("containers[0].vfs[0].pf", "PF 'eno9' is not declared under host.pfs"),  # semantic, on a VF the schema refused
        ("containers[1].vfs[0].vf", "VF index 12 does not exist on eno2, which gets numvfs 8"),  # semantic
        ("containers[1].vfs[0].address", "address 192.168.201.2 is already used at containers[0].vfs[0].address"),
    }


def test_report_html_alone_leaves_junit_xml_alone(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "results.json"
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "results" / "seed-lab-pass.json", src)
    junit = tmp_path / "junit.xml"
    junit.write_text("CI's own copy")
    out = io.StringIO()
    assert cli.main(["report", str(src), "--html", str(tmp_path / "other.html")], out=out) == 0
    assert junit.read_text() == "CI's own copy" and (tmp_path / "other.html").is_file()
    assert "junit" not in out.getvalue()
    assert cli.main(["report", str(src)], out=io.StringIO()) == 0  # neither option: both, beside results.json
    assert junit.read_text().startswith("<?xml") and (tmp_path / "report.html").is_file()


def test_teardown_clean_and_vf_config_say_settings_as_ip_link_does() -> None:
    """Issue #14 item 4: `mac None, spoofchk True, trust False` was Python talking; the reports say `spoofchk on`."""
    from sriovcheck.host.driver import VfConfig, VfInfo
    from sriovcheck.provision.state import ProvisionState, VfRecord
    from sriovcheck.topology.load import load_topology
    from sriovcheck.verify.checks import fmt_config
    from sriovcheck.verify.teardown import teardown_clean_checks

    topology = load_topology(Path(__file__).resolve().parents[2] / "topologies" / "seed-lab.yaml").topology

    class Host:
        def get_vf_config(self, pf: str, vf: int) -> VfConfig:
            return VfConfig(spoofchk=False, trust=None)

        def vf_info(self, pf: str, vf: int) -> VfInfo:
            return VfInfo(pf, vf, None, "ixgbevf", f"{pf}v{vf}")

    before = ProvisionState("seed-lab", "fake", vfs=[VfRecord("eno2", 0, None, "eno2v0", VfConfig().as_dict(), 1500, None)])
    [clean] = teardown_clean_checks(topology, Host(), before)  # type: ignore[arg-type]
    assert clean.status == "fail"
    assert clean.observed == ("netdev eno2v0, vlan 0, qos 0, proto 802.1Q, mac -, spoofchk off, trust ?, link_state auto, "
                              "tx rate 0-0 Mbit/s")
    assert clean.message == "spoofchk is off, was on before sriovcheck"  # trust: not reported by this driver
    for text in (clean.observed, clean.message, fmt_config(VfConfig(mac=None, spoofchk=True, trust=False))):
        assert not {"True", "False", "None"} & set(text.replace(",", " ").split())


def test_validate_reports_every_problem_of_a_file_in_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Done-when of #14: one schema problem and two semantic ones (here 2 + 3), all from one `validate`."""
    path = Path(__file__).resolve().parents[1] / "data" / "several-kinds-of-mistakes.yaml"
    assert cli.main(["validate", str(path)], out=io.StringIO()) == 2
    lines = [x.strip() for x in capsys.readouterr().err.splitlines()]
    assert lines[0] == "error: 5 problems in the topology file:"
    assert [x.split(": ")[1] for x in lines[1:6]] == ["vlans[0].id", "containers[0].vfs[0].pf", "containers[0].vfs[0].ifname",
                                                      "containers[1].vfs[0].vf", "containers[1].vfs[0].address"]
    assert all(x.startswith(f"{path}:") for x in lines[1:6])


def test_report_field_labels_are_in_one_case() -> None:
    """#14 item 4: `machine`, `username`, `hostname`, `style` stood beside `Host`, `Kernel`."""
    import re

    from sriovcheck.report.html import render_html
    from sriovcheck.report.writer import load_results

    run = "test_vlan_missing_on_the_port_is_one_root_cause_everywhere.json"  # a recorded lab run: it has them all
    page = render_html(load_results(Path(__file__).resolve().parents[1] / "data" / "results" / "causes" / run))
    # the fact cards (Run, Host, Switch), the handover and the causes; not a check's raw `details` keys
    cards = re.sub(r'<dl class="(?:details|chips)">.*?</dl>', "", page, flags=re.S)
    labels = re.findall(r"<dt>([^<]+)</dt>", cards)
    assert {"Machine", "Username", "Hostname (as reported)", "Switch style", "Kernel"} <= set(labels), labels
    lower = [x for x in labels if x[0].islower() and not x.startswith("sriovcheck ")]  # the product's name stays as it is
    assert lower == [], lower
