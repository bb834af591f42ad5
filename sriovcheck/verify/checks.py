"""The checks as pure functions: expectation + observation -> CheckResult.

No I/O here: the engine gathers observations (netlink, pings, switch outputs) and these
functions judge them, explain failures and name the likely cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Interface
from typing import Any, Protocol

from sriovcheck.host.driver import VfConfig
from sriovcheck.provision.plan import vf_config_of
from sriovcheck.topology.model import Topology
from sriovcheck.verify.results import CheckResult, Evidence

USABLE_NEIGH_STATES = {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"}


@dataclass(frozen=True)
class Expectation:
    """What the topology says one VF must look like, host side and switch side."""

    container: str
    ifname: str
    pf: str
    vf: int
    vlan_id: int
    vlan_name: str
    address: IPv4Interface
    gateway: str
    l3_interface: str
    switch_port: str
    pinned_mac: str | None
    mtu: int | None
    config: VfConfig
    mac_interface: str | None = None  # how the switch's MAC table names the port (the platform's rule)

    @property
    def target(self) -> str:
        return vf_target(self.container, self.ifname)

    @property
    def switch_interface(self) -> str:
        return self.mac_interface if self.mac_interface is not None else f"{self.switch_port}.0"

    def details(self, **extra: Any) -> dict[str, Any]:
        return {
            "container": self.container,
            "ifname": self.ifname,
            "pf": self.pf,
            "vf": self.vf,
            "vlan": self.vlan_id,
            "vlan_name": self.vlan_name,
            "switch_port": self.switch_port,
            "address": str(self.address),
            "gateway": self.gateway,
            "l3_interface": self.l3_interface,
            **extra,
        }


def vf_target(container: str, ifname: str) -> str:
    """How checks and reports name an attached VF: container/ifname."""
    return f"{container}/{ifname}"


def expectations(t: Topology) -> list[Expectation]:
    from sriovcheck.switch import platforms

    platform = platforms.get(t.switch.platform)
    out = []
    for ct, spec in t.attachments():
        vlan = t.vlan(spec.vlan)
        out.append(
            Expectation(
                container=ct.name,
                ifname=spec.ifname,
                pf=spec.pf,
                vf=spec.vf,
                vlan_id=vlan.id,
                vlan_name=vlan.name,
                address=spec.address,
                gateway=str(vlan.gateway),
                l3_interface=vlan.l3_interface,
                switch_port=t.pf(spec.pf).switch_port,
                pinned_mac=spec.mac,
                mtu=spec.mtu,
                config=vf_config_of(spec),
                mac_interface=platform.mac_interface(t.pf(spec.pf).switch_port),
            )
        )
    return out


class LinkObs(Protocol):
    name: str
    mac: str | None
    mtu: int | None
    operstate: str | None
    admin_up: bool
    carrier: bool | None
    addresses: list[str]


class NeighObs(Protocol):
    ip: str
    mac: str | None
    state: str


class PingObs(Protocol):
    sent: int
    received: int
    loss_pct: float
    rtts_ms: list[float]
    error: str | None


class MacObs(Protocol):
    vlan_name: str
    vlan_id: int | None
    mac: str | None
    kind: str
    age_s: int | None
    interface: str


class ArpObs(Protocol):
    mac: str
    ip: str
    interface: str


def _result(kind: str, exp: Expectation | None, target: str, status: str, **kw: Any) -> CheckResult:
    details = exp.details() if exp else {}
    details.update(kw.pop("details", {}))
    return CheckResult(kind=kind, target=target, status=status, details=details, **kw)  # type: ignore[arg-type]


def skipped(kind: str, exp: Expectation, prerequisite: str, why: str) -> CheckResult:
    return _result(kind, exp, exp.target, "skip", message=f"not run: prerequisite {prerequisite} {why}")


def describe_link(link: LinkObs) -> str:
    flags = ("UP" if link.admin_up else "DOWN") + ("" if link.carrier in (True, None) else ",NO-CARRIER")
    addrs = " ".join(link.addresses) or "no address"
    return f"{link.name}: <{flags}> mtu {link.mtu} state {link.operstate or '?'} link/ether {link.mac} inet {addrs}"


def check_vf_attached(
    exp: Expectation, *, container_running: bool, link: LinkObs | None, evidence: list[Evidence], container_exists: bool = True
) -> CheckResult:
    expected = f"{exp.ifname} in {exp.container} with {exp.address}" + (f", MAC {exp.pinned_mac}" if exp.pinned_mac else "") + ", up"
    if not container_exists:
        return _result(
            "vf-attached",
            exp,
            exp.target,
            "fail",
            expected=expected,
            observed="no such container",
            message=f"container {exp.container} does not exist: create it (sriovcheck provision TOPOLOGY)",
            evidence=evidence,
            details={"container_state": "missing"},
        )
    if not container_running:
        return _result(
            "vf-attached",
            exp,
            exp.target,
            "fail",
            expected=expected,
            observed="container not running",
            message=f"container {exp.container} is not running: start it (sriovcheck provision repairs it)",
            evidence=evidence,
            details={"container_state": "stopped"},
        )
    if link is None:
        return _result(
            "vf-attached",
            exp,
            exp.target,
            "fail",
            expected=expected,
            observed=f"no interface {exp.ifname} in the container's namespace",
            evidence=evidence,
            message=f"{exp.pf} VF {exp.vf} is not inside {exp.container} as {exp.ifname}: run sriovcheck provision",
        )
    problems = []
    if str(exp.address) not in link.addresses:
        problems.append(f"address {exp.address} missing (has {', '.join(link.addresses) or 'none'})")
    if exp.pinned_mac and link.mac != exp.pinned_mac:
        problems.append(f"MAC {link.mac}, expected {exp.pinned_mac}")
    if exp.mtu and link.mtu != exp.mtu:
        problems.append(f"MTU {link.mtu}, expected {exp.mtu}")
    if not link.admin_up:
        problems.append("administratively down")
    elif link.carrier is False or (link.operstate or "").upper() in ("DOWN", "LOWERLAYERDOWN"):
        state = exp.config.link_state
        why = "its link_state is disable" if state == "disable" else f"link_state {state}: it follows {exp.pf}"
        problems.append(f"no carrier (operationally down): {exp.pf} VF {exp.vf} has no link ({why})")
    status = "fail" if problems else "pass"
    return _result(
        "vf-attached",
        exp,
        exp.target,
        status,
        expected=expected,
        observed=describe_link(link),
        message="; ".join(problems),
        evidence=evidence,
        details={"mac": link.mac, "container_state": "running", "carrier": link.carrier, "operstate": link.operstate},
    )


def check_vf_config(exp: Expectation, observed: VfConfig | None, error: str | None, evidence: list[Evidence]) -> CheckResult:
    want = exp.config
    expected = fmt_config(want)
    if observed is None:
        return _result(
            "vf-config",
            exp,
            exp.target,
            "error",
            expected=expected,
            observed="unreadable",
            message=f"cannot read {exp.pf} VF {exp.vf} settings from the PF: {error}",
            evidence=evidence,
        )
    diffs = []
    for name in (f.name for f in fields(VfConfig) if f.name != "mac"):  # an admin MAC only counts when pinned
        w, o = getattr(want, name), getattr(observed, name)
        if o is None and name in ("spoofchk", "trust"):
            continue  # the driver does not report it
        if w != o:
            diffs.append(f"{name} is {fmt_setting(name, o)}, expected {fmt_setting(name, w)}")
    if want.mac and observed.mac != want.mac:
        diffs.append(f"admin MAC is {observed.mac}, expected {want.mac}")
    status = "fail" if diffs else "pass"
    msg = "; ".join(diffs)
    if any(d.startswith("vlan ") for d in diffs):
        msg += f": the PF tags {exp.pf} VF {exp.vf} with another VLAN than the topology's {exp.vlan_id}"
    return _result(
        "vf-config",
        exp,
        exp.target,
        status,
        expected=expected,
        observed=fmt_config(observed),
        message=msg,
        evidence=evidence,
        details={"observed_vlan": observed.vlan},
    )


def fmt_setting(name: str, value: object) -> str:
    """A VF setting as `ip link` says it: spoofchk on, mac -, never Python's True/None."""
    if isinstance(value, bool) or (value is None and name in ("spoofchk", "trust")):
        return _onoff(value)
    return "-" if value is None else str(value)


def fmt_config(c: VfConfig) -> str:
    parts = [
        f"vlan {c.vlan}",
        f"qos {c.qos}",
        f"proto {c.vlan_proto}",
        f"mac {c.mac or '-'}",
        f"spoofchk {_onoff(c.spoofchk)}",
        f"trust {_onoff(c.trust)}",
        f"link_state {c.link_state}",
        f"tx rate {c.min_tx_rate_mbps}-{c.max_tx_rate_mbps} Mbit/s",
    ]
    return ", ".join(parts)


def _onoff(v: bool | None) -> str:
    return "?" if v is None else ("on" if v else "off")


def check_ping(exp: Expectation, ping: PingObs, *, count: int, max_loss_pct: float, evidence: list[Evidence]) -> CheckResult:
    expected = f"{count} echo replies from {exp.gateway} via {exp.ifname}, loss <= {max_loss_pct:g}%"
    rtts = ping.rtts_ms
    stats = {"sent": ping.sent, "received": ping.received, "loss_pct": ping.loss_pct}
    if rtts:
        stats.update(rtt_min_ms=round(min(rtts), 3), rtt_avg_ms=round(sum(rtts) / len(rtts), 3), rtt_max_ms=round(max(rtts), 3))
    observed = f"{ping.received}/{ping.sent} replies, {ping.loss_pct:g}% loss"
    if rtts:
        observed += f", rtt min/avg/max {stats['rtt_min_ms']}/{stats['rtt_avg_ms']}/{stats['rtt_max_ms']} ms"
    if ping.error:
        return _result(
            "gateway-ping",
            exp,
            exp.target,
            "error",
            expected=expected,
            observed=ping.error,
            message=f"could not ping from {exp.target}: {ping.error}",
            evidence=evidence,
            details=stats,
        )
    if ping.received == 0 or ping.loss_pct > max_loss_pct:
        # Only what this check saw: why the gateway is silent is the diagnosis' job (it reads the
        # switch port, the VF's VLAN and the PF's carrier, which other checks observed).
        cause = (
            f"no reply from gateway {exp.gateway} ({exp.l3_interface}) on VLAN {exp.vlan_id} ({exp.vlan_name})"
            if ping.received == 0
            else (f"{ping.loss_pct:g}% loss exceeds the allowed {max_loss_pct:g}%")
        )
        return _result(
            "gateway-ping", exp, exp.target, "fail", expected=expected, observed=observed, message=cause, evidence=evidence, details=stats
        )
    return _result("gateway-ping", exp, exp.target, "pass", expected=expected, observed=observed, evidence=evidence, details=stats)


def check_container_arp(exp: Expectation, neighbours: Sequence[NeighObs], evidence: list[Evidence]) -> tuple[CheckResult, str | None]:
    expected = f"{exp.gateway} resolved to a MAC on {exp.ifname}"
    entries = [n for n in neighbours if n.ip == exp.gateway]
    good = [n for n in entries if n.mac and n.state.upper() in USABLE_NEIGH_STATES]
    if good:
        n = good[0]
        return _result(
            "container-arp",
            exp,
            exp.target,
            "pass",
            expected=expected,
            observed=f"{n.ip} at {n.mac} ({n.state})",
            evidence=evidence,
            details={"gateway_mac": n.mac},
        ), n.mac
    observed = ", ".join(f"{n.ip} {n.mac or '(incomplete)'} {n.state}" for n in entries) or "no entry for the gateway"
    return _result(
        "container-arp",
        exp,
        exp.target,
        "fail",
        expected=expected,
        observed=observed,
        evidence=evidence,
        message=f"the container has no usable ARP entry for {exp.gateway}: the gateway did not answer ARP on VLAN {exp.vlan_id}",
    ), None


def _fmt_mac_entry(e: MacObs) -> str:
    vid = f" ({e.vlan_id})" if e.vlan_id is not None else ""
    return f"{e.vlan_name}{vid} {e.kind} on {e.interface}"


def check_switch_mac(
    exp: Expectation,
    mac: str,
    entries: Sequence[MacObs],
    *,
    waited_s: float,
    timeout_s: float,
    vlan_ids: dict[str, int],
    evidence: list[Evidence],
) -> CheckResult:
    expected = f"{mac} learned on VLAN {exp.vlan_name} ({exp.vlan_id}) at {exp.switch_interface}"
    mine = [e for e in entries if e.mac == mac]

    def on_vlan(e: MacObs) -> bool:
        vid = e.vlan_id if e.vlan_id is not None else vlan_ids.get(e.vlan_name.lower())
        return e.vlan_name.lower() == exp.vlan_name.lower() or vid == exp.vlan_id

    def on_port(e: MacObs) -> bool:
        return e.interface == exp.switch_interface or e.interface.split(".")[0] == exp.switch_port

    good = [e for e in mine if on_vlan(e) and on_port(e)]
    if good:
        e = good[0]
        age = f", age {e.age_s} s" if e.age_s is not None else ""
        return _result(
            "switch-mac",
            exp,
            exp.target,
            "pass",
            expected=expected,
            observed=_fmt_mac_entry(e) + age,
            evidence=evidence,
            details={"mac": mac},
        )
    if not mine:
        msg = f"not learned within {timeout_s:g} s on VLAN {exp.vlan_name} ({exp.vlan_id}) at {exp.switch_port}"
        return _result(
            "switch-mac",
            exp,
            exp.target,
            "fail",
            expected=expected,
            observed=f"{mac} not in the MAC table",
            message=msg,
            evidence=evidence,
            details={"mac": mac, "waited_s": round(waited_s, 1), "reason": "not-learned"},
        )
    observed = "; ".join(_fmt_mac_entry(x) for x in mine)
    # An entry on the right VLAN says more than a stale one on another (a VF moved back recently).
    e = next((x for x in mine if on_vlan(x)), mine[0])
    learned = [{"vlan_name": x.vlan_name, "vlan_id": x.vlan_id, "interface": x.interface} for x in [e, *(y for y in mine if y is not e)]]
    if not on_vlan(e):
        reason = "other-vlan"
        msg = (
            f"MAC {mac} learned on VLAN {e.vlan_name}"
            + (f" ({e.vlan_id})" if e.vlan_id is not None else "")
            + f", expected {exp.vlan_name} ({exp.vlan_id}): {exp.pf} VF {exp.vf}'s VLAN and the switch port's VLAN membership disagree"
        )
    else:
        reason = "other-port"
        msg = f"MAC {mac} learned on {e.interface}, expected {exp.switch_interface}: is {exp.pf} really cabled to {exp.switch_port}?"
    return _result(
        "switch-mac",
        exp,
        exp.target,
        "fail",
        expected=expected,
        observed=observed,
        message=msg,
        evidence=evidence,
        details={"mac": mac, "reason": reason, "learned": learned},
    )


def check_switch_arp(exp: Expectation, mac: str, arps: Sequence[ArpObs], evidence: list[Evidence]) -> CheckResult:
    ip = str(exp.address.ip)
    expected = f"{ip} at {mac} on {exp.l3_interface}"
    mine = [a for a in arps if a.ip == ip]
    good = [a for a in mine if a.mac == mac and a.interface == exp.l3_interface]
    if good:
        return _result(
            "switch-arp",
            exp,
            exp.target,
            "pass",
            expected=expected,
            observed=f"{ip} at {good[0].mac} on {good[0].interface}",
            evidence=evidence,
        )
    if not mine:
        return _result(
            "switch-arp",
            exp,
            exp.target,
            "fail",
            expected=expected,
            observed=f"no ARP entry for {ip}",
            message=f"the switch has no ARP entry for {ip}: did the VF's traffic reach {exp.l3_interface}?",
            evidence=evidence,
        )
    a = mine[0]
    why = (
        f"{ip} belongs to {a.mac}, not this VF's {mac}: an address conflict on VLAN {exp.vlan_id}?"
        if a.mac != mac
        else f"{ip} is on {a.interface}, expected {exp.l3_interface}"
    )
    return _result(
        "switch-arp",
        exp,
        exp.target,
        "fail",
        expected=expected,
        observed=f"{ip} at {a.mac} on {a.interface}",
        message=why,
        evidence=evidence,
        details={"arp_mac": a.mac} if a.mac != mac else {},
    )


def check_gateway_mac(exp: Expectation, container_gw_mac: str, switch_mac: str | None, evidence: list[Evidence]) -> CheckResult:
    expected = f"gateway {exp.gateway} resolves to the switch's MAC of {exp.l3_interface}"
    if switch_mac is None:
        return _result(
            "gateway-mac",
            exp,
            exp.target,
            "error",
            expected=expected,
            observed=f"container resolved {container_gw_mac}",
            message=f"the switch did not report a MAC for {exp.l3_interface}",
            evidence=evidence,
        )
    if container_gw_mac == switch_mac:
        return _result(
            "gateway-mac",
            exp,
            exp.target,
            "pass",
            expected=expected,
            observed=f"{container_gw_mac} (switch {exp.l3_interface}: {switch_mac})",
            evidence=evidence,
        )
    return _result(
        "gateway-mac",
        exp,
        exp.target,
        "fail",
        expected=expected,
        observed=f"container resolved {container_gw_mac}, switch {exp.l3_interface} is {switch_mac}",
        message=f"something else answers for {exp.gateway} on VLAN {exp.vlan_id}: a duplicate gateway address?",
        evidence=evidence,
    )


def check_mac_unique(exp: Expectation, mac: str, entries: Iterable[MacObs], evidence: list[Evidence]) -> CheckResult:
    places = sorted({(e.vlan_name, e.interface) for e in entries if e.mac == mac and e.kind not in ("flood",)})
    expected = f"{mac} on at most one VLAN and port"
    if len(places) <= 1:
        return _result(
            "mac-unique",
            exp,
            exp.target,
            "pass",
            expected=expected,
            observed=", ".join(f"{v} on {i}" for v, i in places) or "not in the table",
            evidence=evidence,
        )
    return _result(
        "mac-unique",
        exp,
        exp.target,
        "fail",
        expected=expected,
        observed="; ".join(f"{v} on {i}" for v, i in places),
        evidence=evidence,
        message=f"the switch sees {mac} on {len(places)} VLAN/port pairs: a duplicated MAC or a loop",
    )


@dataclass
class SwitchTables:
    macs: list[Any] = field(default_factory=list)
    arps: list[Any] = field(default_factory=list)
    l3_macs: dict[str, str] = field(default_factory=dict)  # vlan.200 / irb.200 -> MAC
    evidence: list[Evidence] = field(default_factory=list)
