"""Root causes: a pure function over every check result (and the PFs' link states) that names what
is actually wrong, where, the evidence, and the fix, and links each failing check to its cause.

One broken thing usually fails several checks (a VLAN missing on the switch port fails the gateway
ping, the MAC learning and the port's membership check): the checks stay as they are (CI must still
go red on each), and each failing check gets `cause` = the id of the cause that explains it. A
failing check no rule explains keeps `cause` None and is shown as unexplained.

The rules read only what the checks recorded (their `details`, `observed` and evidence) and the PF
states the engine read; no I/O here. Rules run in order; a check belongs to the first cause that
claims it, so that an upstream cause (the switch refused the login, the container is gone, the PF
has no carrier) is never repeated as a downstream one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sriovcheck.switch import platforms
from sriovcheck.verify.results import Cause, CheckResult

FAILING = ("fail", "error")
DOWN_STATES = {"down", "lowerlayerdown", "notpresent", "dormant"}
ETHERNET_HEADER = 14


@dataclass(frozen=True)
class PfState:
    """What the host said of a PF when the checks ran (HostDriver.pf_info)."""

    name: str
    exists: bool
    operstate: str | None = None  # up / down / unknown
    carrier: bool | None = None
    switch_port: str | None = None
    mac: str | None = None


def link_state_text(pf: PfState) -> str:
    """As `ip link` and netlink say it: "carrier 0, operstate DOWN" (IFLA_CARRIER, IFLA_OPERSTATE)."""
    carrier = "?" if pf.carrier is None else str(int(pf.carrier))
    return f"carrier {carrier}, operstate {(pf.operstate or '?').upper()}"


def key(check: CheckResult) -> str:
    return f"{check.kind} {check.target}"


@dataclass
class _Draft:
    rule: str
    what: str
    where: str
    fix: str
    evidence: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    marks: dict[str, Any] = field(default_factory=dict)


class _Diagnosis:
    def __init__(self, checks: list[CheckResult], pfs: dict[str, PfState], switch: str) -> None:
        self.checks = checks
        self.pfs = pfs
        self.switch = switch
        self.claimed: set[int] = set()
        self.drafts: list[_Draft] = []
        self.by: dict[tuple[str, str], CheckResult] = {(c.kind, c.target): c for c in checks}

    # ------------------------------------------------------------ helpers
    def failing(self, pred: Callable[[CheckResult], bool] = lambda _c: True) -> list[CheckResult]:
        return [c for c in self.checks if c.status in FAILING and id(c) not in self.claimed and pred(c)]

    def get(self, kind: str, target: str) -> CheckResult | None:
        return self.by.get((kind, target))

    def add(self, draft: _Draft, claims: Iterable[CheckResult]) -> None:
        taken = list({id(c): c for c in claims if c.status in FAILING and id(c) not in self.claimed}.values())
        if not taken:
            return
        for c in taken:
            self.claimed.add(id(c))
        draft.checks = taken
        for c in taken:
            _add_evidence(draft, c)
        self.drafts.append(draft)

    def of_target(self, target: str) -> list[CheckResult]:
        return self.failing(lambda c: c.target == target)

    def details_of(self, target: str) -> dict[str, Any]:
        for c in self.checks:
            if c.target == target and isinstance(c.details, dict) and "pf" in c.details:
                return c.details
        return {}

    # ------------------------------------------------------------ rules
    def switch_login(self) -> None:
        for c in self.failing(lambda c: c.kind == "switch-login"):
            text = c.message or c.observed or "no session"
            first, _, rest = text.partition("\n")
            hint = rest.strip().removeprefix("hint:").strip()
            refused = "refused" in first.lower() and ("login" in first.lower() or "authentication" in first.lower())
            if refused and "connection refused" not in first.lower():
                self.add(_Draft("switch-login-refused", f"switch {c.target} refused the login",
                                f"switch {c.target}", hint or "check the username and the password in the variable named by password_env",
                                [first], marks={"switch": True}), [c])
            else:
                self.add(_Draft("switch-unreachable", f"switch {c.target} could not be reached or did not answer",
                                f"switch {c.target}", hint or "check the switch's address, port and that SSH is enabled on it",
                                [first], marks={"switch": True}), [c])

    def containers(self) -> None:
        groups: dict[tuple[str, str], list[CheckResult]] = {}
        for c in self.failing(lambda c: c.kind == "vf-attached"):
            state = c.details.get("container_state") if isinstance(c.details, dict) else None
            if state in ("missing", "stopped"):
                groups.setdefault((str(c.details.get("container")), state), []).append(c)
        for (name, state), found in groups.items():
            what = f"container {name} does not exist" if state == "missing" else f"container {name} is not running"
            fix = ("create it: sriovcheck provision TOPOLOGY" if state == "missing"
                   else f"start it (docker start {name}), or sriovcheck provision TOPOLOGY, which repairs it")
            claims = [x for c in found for x in self.of_target(c.target)]
            self.add(_Draft(f"container-{state}", what, f"container {name}", fix, marks={"targets": [c.target for c in found]}), claims)

    def pf_missing_or_down(self) -> None:
        for pf in self.pfs.values():
            on_pf = self.failing(_with("pf", pf.name))
            if not pf.exists:
                self.add(_Draft("pf-missing", f"PF {pf.name} does not exist on this host", f"host PF {pf.name}",
                                "check the PF name (sriovcheck discover lists this host's SR-IOV NICs)", marks={"pf": pf.name}), on_pf)
                continue
            state = (pf.operstate or "").lower()
            if pf.carrier is False or state in DOWN_STATES:
                port = pf.switch_port or "its switch port"
                read = link_state_text(pf)
                what = f"{pf.name} has no carrier ({read})" if pf.carrier is not True else f"{pf.name} is down ({read})"
                on_port = self.failing(_with("switch_port", port))
                self.add(_Draft("pf-down", what, f"host PF {pf.name}, cabled to {port}",
                                f"check the cable between {pf.name} and {port}, that {port} is enabled on the switch, "
                                f"and that {pf.name} is up (ip link set {pf.name} up)",
                                [f"{pf.name}: {read}"], marks={"pf": pf.name}), on_pf + on_port)

    def switch_port(self) -> None:
        groups: dict[tuple[str, str, Any], list[CheckResult]] = {}
        for c in self.failing(lambda c: c.kind == "switch-port"):
            reason = str(c.details.get("reason") or "other")
            scope = c.details.get("vlan") if reason not in ("port-down", "not-switching") else None
            groups.setdefault((str(c.details.get("switch_port")), reason, scope), []).append(c)
        for (port, reason, _vlan), found in groups.items():
            first = found[0]
            if reason == "vlan-not-member":
                what = f"VLAN {first.details.get('vlan')} ({first.details.get('vlan_name')}) is not a member of {port}"
                # Results written before platforms carry no fix: the default platform's words, as then.
                fix = str(first.details.get("fix") or platforms.get(None).fix_vlan_member(
                    port, int(first.details.get("vlan") or 0), str(first.details.get("vlan_name"))))
                rule = "vlan-not-member"
            elif reason == "port-down":
                what = f"switch port {port} is down"
                fix = f"check the cable from {port} to {first.details.get('pf')} and that {port} is not disabled on the switch"
                rule = "port-down"
            else:
                what = first.message.split(":")[0] if first.message else f"{port} does not carry the VLAN as it should"
                fix = str(first.details.get("fix") or first.message.partition(": ")[2] or f"fix {port}'s switching configuration")
                rule = f"switch-port-{reason}"
            targets = {c.target for c in found}
            claims = [x for t in sorted(targets) for x in self.of_target(t)]
            if reason in ("port-down", "not-switching"):
                claims += self.failing(_with("switch_port", port))
            ev = [f"{self.switch}: {first.observed}"] if first.observed else []
            self.add(_Draft(rule, what, f"switch {self.switch}, port {port}", fix, ev, marks={"switch_port": port}), claims)

    def vf_vlan(self) -> None:
        for c in self.failing(lambda c: c.kind == "vf-config"):
            seen, want = c.details.get("observed_vlan"), c.details.get("vlan")
            if seen is None or seen == want:
                continue
            pf, vf = c.details.get("pf"), c.details.get("vf")
            tag = f"VLAN {seen}" if seen else "no VLAN"
            self.add(_Draft("vf-wrong-vlan", f"{pf} VF {vf} is tagged with {tag}, the topology declares VLAN {want}",
                            f"host PF {pf}, VF {vf} ({c.target})",
                            f"tag it with VLAN {want}: sriovcheck provision TOPOLOGY does (ip link set {pf} vf {vf} vlan {want})",
                            marks={"vfs": [c.target]}), self.of_target(c.target))

    def mac_elsewhere(self) -> None:
        other_port: dict[tuple[str, str, str], list[CheckResult]] = {}
        for c in self.failing(lambda c: c.kind == "switch-mac"):
            reason = c.details.get("reason")
            learned = c.details.get("learned") or []
            if reason == "other-vlan" and learned:
                at = learned[0]
                vid = f" ({at.get('vlan_id')})" if at.get("vlan_id") is not None else ""
                self.add(_Draft("mac-other-vlan",
                                f"{c.target}'s MAC {c.details.get('mac')} is learned on VLAN {at.get('vlan_name')}{vid}, "
                                f"not {c.details.get('vlan_name')} ({c.details.get('vlan')})",
                                f"switch {self.switch}, port {c.details.get('switch_port')}",
                                f"the PF tags VLAN {c.details.get('vlan')} but the switch puts the frames into {at.get('vlan_name')}: "
                                f"check {c.details.get('switch_port')}'s native VLAN and VLAN members, and the VF's VLAN",
                                marks={"vlan": at.get("vlan_id"), "vlan_name": at.get("vlan_name"),
                                       "declared_vlan": c.details.get("vlan")}), self.of_target(c.target))
            elif reason == "other-port" and learned:
                port = str(learned[0].get("interface", "?")).split(".")[0]
                other_port.setdefault((str(c.details.get("pf")), str(c.details.get("switch_port")), port), []).append(c)
        for (pf, declared, seen), found in other_port.items():
            claims = [x for c in found for x in self.of_target(c.target)]
            claims += [c for c in self.failing(_with("pf", pf)) if c.kind == "cabling"]
            self.add(_Draft("cabling-swapped", f"{pf} is cabled to {seen}, not to {declared}: its VFs' MACs are learned on {seen}",
                            f"host PF {pf}; switch ports {declared} (declared) and {seen} (observed)",
                            f"swap the cables so that {pf} reaches {declared}, or set switch_port: {seen} for {pf} in the topology",
                            marks={"learned_port": seen, "declared_port": declared, "learned_from": pf}), claims)

    def duplicate_address(self) -> None:
        for c in self.failing(lambda c: c.kind in ("switch-arp", "gateway-ping")):
            d = self.details_of(c.target)
            attached = self.get("vf-attached", c.target)
            mine = (attached.details.get("mac") if attached and isinstance(attached.details, dict) else None) or d.get("mac")
            other = c.details.get("arp_mac") if c.kind == "switch-arp" else None
            if other is None and c.kind == "gateway-ping":
                other = _switch_arp_mac(self.checks, str(d.get("address", "")).split("/")[0])
            if not other or not mine or other == mine:
                continue
            ip = str(d.get("address", "?")).split("/")[0]
            self.add(_Draft("duplicate-address", f"{ip} is in use twice on VLAN {d.get('vlan')}: the switch's ARP maps it to "
                            f"{other}, not to {c.target}'s MAC {mine}",
                            f"VLAN {d.get('vlan')} ({d.get('vlan_name')}), {d.get('l3_interface')} on {self.switch}",
                            f"find the device with MAC {other} and give it another address, or give {c.target} a free one",
                            [f"{self.switch} ARP: {ip} at {other}", f"{c.target}: MAC {mine}"],
                            marks={"targets": [c.target]}), self.of_target(c.target))

    def port_mtu(self) -> None:
        groups: dict[str, list[CheckResult]] = {}
        for c in self.failing(lambda c: c.kind == "mtu" and c.details.get("port_mtu") is not None):
            want = int(c.details.get("mtu_wanted") or 1500)
            if int(c.details["port_mtu"]) - ETHERNET_HEADER < want:
                groups.setdefault(str(c.details.get("switch_port")), []).append(c)
        for port, found in groups.items():
            pm = found[0].details["port_mtu"]
            want = max(int(c.details.get("mtu_wanted") or 1500) for c in found)
            worst = next(c for c in found if int(c.details.get("mtu_wanted") or 1500) == want)
            fix = str(worst.details.get("fix") or f"set mtu {want + ETHERNET_HEADER} or more on {port}")
            self.add(_Draft("port-mtu", f"switch port {port} has MTU {pm}, too small for VF MTU {want} plus the "
                            f"{ETHERNET_HEADER}-byte Ethernet header",
                            f"switch {self.switch}, port {port}", fix,
                            [f"show interfaces {port}: MTU {pm}"], marks={"switch_port": port}), found)

    def vf_paths(self) -> None:
        """A VF-to-VF path fails when either end is broken: it belongs to the cause of the broken end
        (its own VF first, else its peer's), not to "unexplained"."""
        owner: dict[str, _Draft] = {}
        for draft in self.drafts:
            for c in draft.checks:
                owner.setdefault(c.target, draft)
        for c in self.failing(lambda c: c.kind == "vf-path"):
            peer = c.details.get("peer") if isinstance(c.details, dict) else None
            found = owner.get(c.target) or (owner.get(str(peer)) if peer else None)
            if found is not None:
                self.claimed.add(id(c))
                found.checks.append(c)
                _add_evidence(found, c)

    def gateway(self) -> None:
        groups: dict[Any, list[CheckResult]] = {}
        for c in self.failing(lambda c: c.kind == "gateway-ping" and c.status == "fail"):
            sm = self.get("switch-mac", c.target)
            if sm is not None and sm.status == "pass":  # layer 2 works: the frames reach the VLAN on the switch
                groups.setdefault(c.details.get("vlan"), []).append(c)
        for vlan, found in groups.items():
            d = found[0].details
            l3 = d.get("l3_interface") or f"the L3 interface of VLAN {vlan}"
            claims = [x for c in found for x in self.of_target(c.target)]
            self.add(_Draft("gateway-down", f"gateway {d.get('gateway')} ({l3}) on {self.switch} is down or missing",
                            f"switch {self.switch}, {l3}",
                            f"bring {l3} up with address {d.get('gateway')} on the switch (show interfaces {l3} terse)",
                            ["the switch learned the VF MACs on VLAN "
                             f"{vlan} at the expected port (switch-mac passed), yet {d.get('gateway')} does not answer"],
                            marks={"vlan": vlan, "l3_interface": l3}), claims)


def _add_evidence(draft: _Draft, c: CheckResult) -> None:
    line = f"{c.kind} {c.target}: {c.observed}" if c.observed else f"{c.kind} {c.target}: {c.message}"
    if line not in draft.evidence:
        draft.evidence.append(line)


def _with(name: str, value: Any) -> Callable[[CheckResult], bool]:
    """A check whose details name `value` as its `name` (pf, switch_port)."""
    return lambda c: isinstance(c.details, dict) and c.details.get(name) == value


def _switch_arp_mac(checks: list[CheckResult], ip: str) -> str | None:
    """The MAC the switch's ARP table gives `ip`, from the full table kept on the switch-login check."""
    if not ip:
        return None
    from sriovcheck.parsers.tables import ParseError
    from sriovcheck.switch.platforms import PLATFORMS

    for c in checks:
        if c.kind != "switch-login" or c.status != "pass":
            continue
        for ev in c.evidence:
            # The evidence does not say which platform answered: the ARP read whose commands it is.
            for r in (p.arp_table() for p in PLATFORMS.values()):
                if not _same_read(ev.command, r.commands):
                    continue
                try:
                    for entry in r.parse(ev.output):
                        if entry.ip == ip:
                            return str(entry.mac)
                except ParseError:
                    continue
    return None


def _same_read(command: str, whole: tuple[str, ...]) -> bool:
    """`command` is one of these whole-table commands, or the same scoped to an interface."""
    return any(command == w or command.startswith(w.split(" |")[0] + " ") for w in whole)


def diagnose(checks: list[CheckResult], *, pfs: Iterable[PfState] = (), switch: str = "the switch") -> list[Cause]:
    """Root causes of the failing checks; sets `cause` on every check a cause explains."""
    d = _Diagnosis(checks, {p.name: p for p in pfs}, switch)
    for rule in (d.switch_login, d.containers, d.pf_missing_or_down, d.switch_port, d.vf_vlan, d.mac_elsewhere,
                 d.duplicate_address, d.port_mtu, d.gateway, d.vf_paths):
        rule()
    causes = []
    for i, draft in enumerate(d.drafts, start=1):
        cid = f"C{i}"
        for c in draft.checks:
            c.cause = cid
        causes.append(Cause(id=cid, rule=draft.rule, what=draft.what, where=draft.where, evidence=draft.evidence,
                            fix=draft.fix, explains=[key(c) for c in draft.checks],
                            marks={k: v for k, v in draft.marks.items() if v is not None}))
    return causes


def unexplained(checks: Iterable[CheckResult]) -> list[CheckResult]:
    """Failing checks no cause explains (waived ones are deviations, shown apart)."""
    return [c for c in checks if c.status in FAILING and not c.cause]
