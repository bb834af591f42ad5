"""Acceptance-grade checks: MTU end to end, the switch port's VLAN membership, cabling by LLDP,
VF-to-VF paths and VLAN isolation. Pure judging functions plus the gathering that feeds them;
they run after the core checks, over the same switch session."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sriovcheck.errors import SriovcheckError
from sriovcheck.parsers.tables import ParseError
from sriovcheck.switch import platforms
from sriovcheck.switch.client import SwitchSession
from sriovcheck.switch.platforms import Platform, Read
from sriovcheck.topology.model import Topology
from sriovcheck.topology.names import normalise_mac
from sriovcheck.verify import checks as C
from sriovcheck.verify.results import CheckResult, Evidence

ETHERNET_HEADER = 14
IP_ICMP_HEADERS = 28
LLDP_HOWTO = (
    "enable LLDP on the host (e.g. `apt install lldpd`); NIC firmware LLDP agents can swallow the frames "
    "(Intel i40e/ice: `ethtool --set-priv-flags PF disable-fw-lldp on`)"
)


@dataclass
class SwitchAcceptanceData:
    port_vlans: list[Any] | None = None  # PortVlan from parse_switching_interfaces
    lldp: list[Any] | None = None  # LldpNeighbor
    ports: dict[str, Any] = field(default_factory=dict)  # port -> InterfaceInfo
    errors: dict[str, str] = field(default_factory=dict)  # what -> why it could not be read
    missing: dict[str, str] = field(default_factory=dict)  # what -> the command that saved outputs do not have
    evidence: dict[str, Evidence] = field(default_factory=dict)
    platform: Platform = field(default_factory=lambda: platforms.get(None))  # its wording names the fixes


def switch_commands(t: Topology) -> list[str]:
    """The commands `read_switch_data` sends over a live session, in its order."""
    p = platforms.get(t.switch.platform)
    ports = sorted({pf.switch_port for pf in t.host.pfs})
    return [
        *(p.port_vlans(port).commands[0] for port in ports),
        p.lldp_neighbors().commands[0],
        *(p.interface(pf.switch_port).commands[0] for pf in t.host.pfs),
    ]


def read_switch_data(session: SwitchSession, t: Topology, source: str) -> SwitchAcceptanceData:
    p = platforms.get(t.switch.platform)
    data = SwitchAcceptanceData(platform=p)
    offline = session.facts.source.startswith("files:")
    has = getattr(session, "has", None)

    def run_read(r: Read) -> tuple[str, str, Any]:
        """(command, output, parsed) of the first of the read's commands that answers and parses."""
        failures: list[tuple[str, Exception]] = []
        commands = [c for c in r.commands if not offline or not callable(has) or has(c)] or list(r.commands[-1:])
        for command in commands:
            try:
                output = session.run(command)
                return command, output, list(r.parse(output))
            except (SriovcheckError, ParseError) as exc:
                failures.append((command, exc))
        command, first = failures[0]
        if isinstance(first, SriovcheckError) and offline:
            raise _Missing(command) from first
        raise _Unreadable(f"`{command}`: {first}") from failures[-1][1]

    def read(what: str, r: Read) -> Any:
        try:
            command, output, parsed = run_read(r)
        except _Missing as m:  # saved outputs need not include the acceptance commands: not run, not an error
            data.missing[what] = str(m)
            return None
        except _Unreadable as exc:
            data.errors[what] = str(exc)
            return None
        data.evidence[what] = Evidence(source=source, command=command, output=output)
        return parsed

    # Membership of the PF ports only (a big switch lists every port x VLAN otherwise); saved
    # outputs without the per-port files fall back to the whole command.
    ports = sorted({pf.switch_port for pf in t.host.pfs})
    per_port = [p.port_vlans(port) for port in ports]
    if offline and not (callable(has) and all(any(has(c) for c in r.commands) for r in per_port)):
        data.port_vlans = read("port-vlans", p.port_vlans())
    else:
        rows: list[Any] = []
        outputs: list[str] = []
        used: list[str] = []
        for r in per_port:
            try:
                command, output, parsed = run_read(r)
            except (_Missing, _Unreadable) as exc:
                data.errors["port-vlans"] = str(exc)
                rows = []
                break
            used.append(command)
            outputs.append(output)
            rows += parsed
        if outputs:
            data.evidence["port-vlans"] = Evidence(source=source, command=" ; ".join(used), output="\n".join(outputs))
        data.port_vlans = None if "port-vlans" in data.errors else rows
    if data.port_vlans:  # switchport outputs that show VLAN ids only: the topology names them
        names = {v.id: v.name for v in t.vlans}
        data.port_vlans = [dataclasses.replace(r, vlan_name=names[r.vlan_id])
                           if r.vlan_id in names and r.vlan_name == str(r.vlan_id) else r for r in data.port_vlans]
    data.lldp = read("lldp", p.lldp_neighbors())
    for pf in t.host.pfs:
        infos = read(f"port:{pf.switch_port}", p.interface(pf.switch_port))
        info = next((i for i in infos or [] if i.name == pf.switch_port), None) or (infos[0] if infos else None)
        if info is not None:
            data.ports[pf.switch_port] = info
    return data


class _Missing(Exception):
    """A saved-output directory without this command's file."""


class _Unreadable(Exception):
    """The command failed or its output could not be read."""


def _r(kind: str, exp: C.Expectation | None, target: str, status: str, **kw: Any) -> CheckResult:
    return C._result(kind, exp, target, status, **kw)


def check_mtu(
    exp: C.Expectation, *, link_mtu: int | None, pf_mtu: int | None, df_ping: C.PingObs | None, port: Any | None, evidence: list[Evidence],
    platform: Platform | None = None,
) -> CheckResult:
    want = exp.mtu or 1500
    expected = f"VF MTU {want} in the container, PF MTU >= {want}, a {want}-byte do-not-fragment ping to {exp.gateway} answered"
    problems = []
    if link_mtu != want:
        problems.append(f"{exp.ifname} has MTU {link_mtu}, expected {want}")
    if pf_mtu is not None and pf_mtu < want:
        problems.append(f"PF {exp.pf} has MTU {pf_mtu}, below the VF's {want}: raise the PF MTU first")
    if df_ping is not None and df_ping.received == 0:
        why = f"a {want}-byte packet with DF set got no answer from {exp.gateway}"
        port_mtu = getattr(port, "mtu", None)
        if port_mtu is not None and port_mtu - ETHERNET_HEADER < want:
            why += (
                f": switch port {exp.switch_port} has MTU {port_mtu}, smaller than the VF MTU {want} plus the "
                f"{ETHERNET_HEADER}-byte Ethernet header; "
                + (platform or platforms.get(None)).fix_port_mtu(exp.switch_port, want + ETHERNET_HEADER)
            )
        elif df_ping.error:
            why += f" ({df_ping.error})"
        else:
            why += "; somewhere on the path the MTU is smaller (NIC, switch port, gateway interface)"
        problems.append(why)
    observed = f"VF MTU {link_mtu}, PF MTU {pf_mtu if pf_mtu is not None else '?'}"
    if df_ping is not None:
        observed += f", DF ping {df_ping.received}/{df_ping.sent}"
    if port is not None and getattr(port, "mtu", None) is not None:
        observed += f", switch port {exp.switch_port} MTU {port.mtu}"
    return _r(
        "mtu",
        exp,
        exp.target,
        "fail" if problems else "pass",
        expected=expected,
        observed=observed,
        message="; ".join(problems),
        evidence=evidence,
        details={"mtu_wanted": want, "port_mtu": getattr(port, "mtu", None), "pf_mtu": pf_mtu, "link_mtu": link_mtu,
                 **({"fix": platform.fix_port_mtu(exp.switch_port, want + ETHERNET_HEADER)} if platform else {})},
    )


def check_switch_port(exp: C.Expectation, data: SwitchAcceptanceData) -> CheckResult:
    expected = f"{exp.switch_port} up, VLAN {exp.vlan_name} ({exp.vlan_id}) a tagged member, forwarding"
    ev = [data.evidence["port-vlans"]] if "port-vlans" in data.evidence else []

    def result(status: str, observed: str, message: str = "", **details: Any) -> CheckResult:
        return _r("switch-port", exp, exp.target, status, expected=expected, observed=observed, message=message, evidence=ev,
                  details={k: v for k, v in details.items() if v is not None})

    if "port-vlans" in data.missing:
        return _r("switch-port", exp, exp.target, "skip", expected=expected,
                  message=f"not run: the saved switch outputs have no `{data.missing['port-vlans']}`")
    if data.port_vlans is None:
        return result("error", "unreadable", f"cannot read the port's VLAN membership: {data.errors.get('port-vlans', '?')}")
    port, vid, vname, platform = exp.switch_port, exp.vlan_id, exp.vlan_name, data.platform
    rows = [p for p in data.port_vlans if p.port == port]
    if not rows:
        fix = platform.fix_not_switching(port, vid, vname)
        return result("fail", f"{port} is not a switching (layer-2) port", f"{port} carries no VLAN: {fix}",
                      reason="not-switching", fix=fix)
    member = [p for p in rows if p.vlan_id == vid or (p.vlan_name or "").lower() == vname.lower()]
    carried = ", ".join(sorted({f"{p.vlan_name} ({p.vlan_id})" for p in rows if p.vlan_name})) or "none"
    if any(p.port_up is False for p in rows):
        return result("fail", f"{port} is down; VLANs {carried}",
                      f"switch port {port} is down: check the cable to {exp.pf} and the PF link", reason="port-down", carried=carried)
    if not member:
        fix = platform.fix_vlan_member(port, vid, vname)
        return result("fail", f"{port} carries {carried}", f"VLAN {vid} ({vname}) is not a member of {port}: {fix}",
                      reason="vlan-not-member", carried=carried, fix=fix)
    row = member[0]
    if row.tagging and row.tagging.lower() != "tagged":
        fix = platform.fix_untagged(port, vid, vname)
        return result("fail", f"VLAN {vid} {row.tagging} on {port}",
                      f"VLAN {vid} is untagged on {port}, but the PF tags the VF's traffic: {fix}",
                      reason="untagged", carried=carried, fix=fix)
    if row.forwarding is False:  # None: the switch does not say (a switchport listing has no STP state)
        return result("fail", f"VLAN {vid} on {port}: {row.blocking or row.stp_state}",
                      f"VLAN {vid} on {port} is not forwarding (STP or blocking)", reason="blocking", carried=carried)
    return result("pass", f"{port} up, VLANs {carried}")


def check_cabling(host_name: str, pf: str, pf_mac: str | None, switch_port: str, data: SwitchAcceptanceData) -> CheckResult:
    target = f"{host_name}:{pf}"
    expected = f"LLDP neighbour on {switch_port}: host {host_name}, port {pf}"
    ev = [data.evidence["lldp"]] if "lldp" in data.evidence else []
    details = {"pf": pf, "switch_port": switch_port}
    if "lldp" in data.missing:
        return _r("cabling", None, target, "skip", expected=expected, details=details,
                  message=f"not run: the saved switch outputs have no `{data.missing['lldp']}`")
    if data.lldp is None:
        return _r(
            "cabling",
            None,
            target,
            "error",
            expected=expected,
            observed="unreadable",
            details=details,
            message=f"cannot read the switch's LLDP neighbours: {data.errors.get('lldp', '?')}",
            evidence=ev,
        )
    here = [n for n in data.lldp if n.port == switch_port]
    if not here:
        return _r(
            "cabling",
            None,
            target,
            "skip",
            expected=expected,
            observed=f"no LLDP neighbour on {switch_port}",
            details=details,
            message=f"not run: the host sends no LLDP on {pf}, so the cabling cannot be proven; {LLDP_HOWTO}",
            evidence=ev,
        )

    def mine(n: Any) -> bool:
        # A MAC-form id compares as a MAC whichever way the switch prints it (52:54:00:... or 5254.00..).
        names = {normalise_mac(str(x)) or str(x).lower() for x in (n.port_info, getattr(n, "port_id", None)) if x}
        chassis = normalise_mac(n.chassis_id or "") or (n.chassis_id or "").lower()
        return (n.system_name or "").split(".")[0].lower() == host_name.split(".")[0].lower() and (
            pf.lower() in names or (pf_mac is not None and pf_mac.lower() in names | {chassis})
        )

    if any(mine(n) for n in here):
        n = next(n for n in here if mine(n))
        return _r(
            "cabling",
            None,
            target,
            "pass",
            expected=expected,
            details=details,
            evidence=ev,
            observed=f"{switch_port}: {n.system_name} {n.port_info or n.port_id}" + (f" (chassis {n.chassis_id})" if n.chassis_id else ""),
        )
    seen = "; ".join(f"{n.system_name} {n.port_info}" for n in here)
    return _r(
        "cabling",
        None,
        target,
        "fail",
        expected=expected,
        observed=f"{switch_port} sees {seen}",
        details=details,
        evidence=ev,
        message=f"{switch_port} is cabled to {seen}, not to {host_name} {pf}: check the cabling plan",
    )


def check_vf_path(exp: C.Expectation, peer: C.Expectation | None, ping: C.PingObs | None, evidence: list[Evidence]) -> CheckResult:
    if peer is None or ping is None:
        return _r(
            "vf-path",
            exp,
            exp.target,
            "skip",
            expected="a ping to another VF of the same VLAN",
            message=f"not run: no other working VF on VLAN {exp.vlan_id} to reach",
        )
    across = peer.pf != exp.pf
    path = (
        f"across the switch ({exp.pf} -> {exp.switch_port} -> {peer.switch_port} -> {peer.pf})"
        if across
        else f"inside the NIC ({exp.pf}'s embedded switch; it may never reach the switch)"
    )
    expected = f"{peer.address.ip} ({peer.target}) answers, {path}"
    details = {"peer": peer.target, "path": "switch" if across else "nic"}
    if ping.received == 0:
        return _r(
            "vf-path",
            exp,
            exp.target,
            "fail",
            expected=expected,
            observed=f"0/{ping.sent} replies" + (f" ({ping.error})" if ping.error else ""),
            message=f"{exp.target} cannot reach {peer.target} on VLAN {exp.vlan_id} {path}",
            evidence=evidence,
            details=details,
        )
    return _r(
        "vf-path",
        exp,
        exp.target,
        "pass",
        expected=expected,
        observed=f"{ping.received}/{ping.sent} replies; path proven: {path}",
        evidence=evidence,
        details=details,
    )


def check_vlan_isolation(
    exp: C.Expectation, other: Any | None, reply_mac: str | None, error: str | None, evidence: list[Evidence]
) -> CheckResult:
    if other is None:
        return _r(
            "vlan-isolation",
            exp,
            exp.target,
            "skip",
            expected="no answer from another VLAN's gateway",
            message="not run: the topology has a single VLAN",
        )
    expected = f"no ARP answer for VLAN {other.id}'s gateway {other.gateway} on {exp.ifname} (VLAN {exp.vlan_id})"
    if error:
        return _r("vlan-isolation", exp, exp.target, "error", expected=expected, observed="probe failed", message=error, evidence=evidence)
    if reply_mac:
        return _r(
            "vlan-isolation",
            exp,
            exp.target,
            "fail",
            expected=expected,
            observed=f"{other.gateway} answered from {reply_mac}",
            message=f"VLAN {exp.vlan_id}'s VF reaches VLAN {other.id}'s gateway at layer 2: the VLANs are not isolated "
            f"(is {exp.switch_port} untagged in both, or the VF's VLAN unset?)",
            evidence=evidence,
        )
    return _r("vlan-isolation", exp, exp.target, "pass", expected=expected, observed=f"no answer for {other.gateway}", evidence=evidence)


def pick_peer(exp: C.Expectation, candidates: Sequence[C.Expectation]) -> C.Expectation | None:
    """Another VF of the same VLAN, preferring one on another PF (its path crosses the switch)."""
    same = [c for c in candidates if c.vlan_id == exp.vlan_id and c.target != exp.target]
    other_pf = [c for c in same if c.pf != exp.pf]
    pool = other_pf or same
    return pool[0] if pool else None
