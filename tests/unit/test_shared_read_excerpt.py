"""A switch read shared by a rack's hosts: each host keeps its own rows of the long outputs on its
switch-login check (with where the whole output is), not the whole rack's tables."""

from __future__ import annotations

from sriovcheck.fleet.example import rack_host_topology
from sriovcheck.topology import load_text
from sriovcheck.verify.results import CheckResult, Evidence
from sriovcheck.workflow import SHARED_OUTPUT_WHOLE_BELOW, host_part_of_shared_read


def arp_xml(entries: list[tuple[str, str]]) -> str:
    rows = "".join(
        f"    <arp-table-entry>\n        <mac-address>{mac}</mac-address>\n        <ip-address>{ip}</ip-address>\n"
        f"        <interface-name>vlan.200</interface-name>\n    </arp-table-entry>\n" for mac, ip in entries)
    return f"<rpc-reply>\n<arp-table-information>\n{rows}</arp-table-information>\n</rpc-reply>"


def test_each_host_keeps_its_rows_of_a_shared_reads_long_outputs() -> None:
    t = load_text(rack_host_topology(3, vfs=2), file="node03.yaml").topology  # addresses 10.20.0.13, 10.20.1.13
    mine = {"node03-c0/net1": "02:00:00:00:03:01", "node03-c0/net2": "02:00:00:00:03:02"}
    others = [(f"02:00:00:00:{h:02x}:0{k}", f"10.20.{k}.{10 + h}") for h in range(4, 60) for k in range(2)]
    whole = arp_xml([*others[:20], ("02:00:00:00:03:01", "10.20.0.13"), *others[20:], ("02:00:00:00:03:02", "10.20.1.13")])
    assert len(whole) > SHARED_OUTPUT_WHOLE_BELOW
    short = "Physical interface: vlan, Enabled"
    login = CheckResult(kind="switch-login", target="tor-a", status="pass", evidence=[
        Evidence("files:/r/evidence/tor-a", "show arp no-resolve | display xml", whole),
        Evidence("files:/r/evidence/tor-a", "show interfaces vlan", short)])
    other = CheckResult(kind="switch-arp", target="node03-c0/net1", status="pass",
                        evidence=[Evidence("files:/r/evidence/tor-a", "show arp no-resolve | display xml", whole)])
    kept = host_part_of_shared_read(t, [login, other], mine, "/r/evidence/tor-a", 16)
    arp, vlan = kept[0].evidence
    assert vlan.output == short  # short outputs stay whole
    assert arp.output.startswith("(") and "read shared by 16 hosts" in arp.output.splitlines()[0]
    assert "/r/evidence/tor-a" in arp.output.splitlines()[0]
    for mac, ip in (("02:00:00:00:03:01", "10.20.0.13"), ("02:00:00:00:03:02", "10.20.1.13")):
        assert mac in arp.output and ip in arp.output
    far = [mac for mac, _ip in others[30:40]]  # rows far from this host's: not kept
    assert not any(mac in arp.output for mac in far)
    assert len(arp.output) < len(whole) // 4
    assert kept[1] is other  # only the switch-login check is cut down (per-VF checks keep their own rows already)
    assert login.evidence[0].output == whole  # the checks given are not changed


def test_short_outputs_of_a_shared_read_are_kept_whole() -> None:
    t = load_text(rack_host_topology(1, vfs=1), file="node01.yaml").topology
    ev = [Evidence("files:/e", "show arp no-resolve", "x" * 100)]
    login = CheckResult(kind="switch-login", target="tor-a", status="pass", evidence=ev)
    assert host_part_of_shared_read(t, [login], {}, "/e", 16)[0] is login
