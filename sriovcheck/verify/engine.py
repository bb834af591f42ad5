"""Verification end to end: gather observations host side and switch side, judge them with
the pure checks, and return every result. Probing runs from the host inside each container's
namespace, so it needs no tool inside the image.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sriovcheck.containers.runtime import ContainerRuntime
from sriovcheck.errors import SriovcheckError, SwitchError
from sriovcheck.host.driver import HostDriver, PfInfo, VfConfig
from sriovcheck.parsers.tables import ParseError
from sriovcheck.switch import platforms
from sriovcheck.switch.client import SwitchFacts, SwitchSession, type_ahead
from sriovcheck.switch.platforms import Read
from sriovcheck.timeline import mark
from sriovcheck.topology.model import Topology
from sriovcheck.verify import checks as C
from sriovcheck.verify.diagnosis import PfState, diagnose
from sriovcheck.verify.results import Cause, CheckResult, Evidence

Progress = Callable[[str], None]

# The default platform's whole tables (kept for the callers that save them; verify asks the platform).
MAC_TABLE_XML, MAC_TABLE_TEXT = platforms.get(None).mac_table().commands
ARP_XML, ARP_TEXT = platforms.get(None).arp_table().commands
ARP_PROBE_SENDER = "0.0.0.0"  # noqa: S104 - an ARP sender address (RFC 5227 probe), not a socket bind


class ProbeOps(Protocol):
    def read_link(self, ns: str | None, ifname: str) -> C.LinkObs | None: ...

    def neighbours(self, ns: str, ifname: str | None = None) -> list[C.NeighObs]: ...

    def ping_many(self, requests: list[dict[str, Any]]) -> list[C.PingObs]: ...

    def arp_probe_many(
        self, requests: list[dict[str, Any]], *, frames: int, spacing_s: float, deadline: Callable[[float, float], float | None]
    ) -> list[tuple[str | None, str | None]]: ...


@dataclass
class VerifyOutcome:
    checks: list[CheckResult]
    switch_facts: SwitchFacts | None
    observed_macs: dict[str, str] = field(default_factory=dict)  # target -> MAC
    switch_error: str | None = None
    causes: list[Cause] = field(default_factory=list)  # root causes of the failing checks (verify.diagnosis)


@dataclass
class _Tables(C.SwitchTables):
    # Whether the VFs' MACs were looked for on every port (whole table or a `| match` search);
    # False when saved outputs hold only the PF ports' tables: mac-unique cannot be judged.
    searched_macs: bool | None = None
    # What each evidence item is (mac, arp, l3), by its position in `evidence`.
    kinds: dict[int, str] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Evidence]:
        return [e for i, e in enumerate(self.evidence) if self.kinds.get(i) == kind]


@dataclass
class _SwitchWork:
    """What the switch thread gathered, for the checks to judge on the main thread."""

    session: SwitchSession | None = None
    login_error: str | None = None
    login_s: float = 0.0
    tables: _Tables | None = None
    error: str | None = None  # the tables could not be read
    waited_s: float = 0.0
    acceptance: Any = None  # acceptance.SwitchAcceptanceData


@dataclass
class _Silence:
    """The slowest gateway round trip of this run, once the gateway pings are over: what the
    VLAN-isolation probes measure their silence against (acceptance.isolation_deadline)."""

    known: threading.Event = field(default_factory=threading.Event)
    slowest_s: float | None = None  # None: no gateway answered

    def settle(self, slowest_s: float | None) -> None:
        if not self.known.is_set():
            self.slowest_s = slowest_s
            self.known.set()


@dataclass
class _Probes:
    """The host-side acceptance probes' outcomes."""

    pf_infos: dict[str, PfInfo | None]
    peers: dict[str, Any]
    others: dict[str, Any]
    df_by: dict[str, C.PingObs]
    path_by: dict[str, C.PingObs]
    iso: dict[str, tuple[str | None, str | None]]


def _online(session: SwitchSession) -> bool:
    return not session.facts.source.startswith("files:")


def _has(session: SwitchSession, command: str) -> bool:
    has = getattr(session, "has", None)
    return bool(has(command)) if callable(has) else True


def _scoped(session: SwitchSession, commands: list[str]) -> bool:
    """Scoped reads online; offline only when the saved outputs hold the scoped files."""
    return _online(session) or any(_has(session, c) for c in commands)


def _ev(source: str, command: str, output: str) -> Evidence:
    return Evidence(source=source, command=command, output=output)


VF_ROWS = "this VF's rows; the full output is on the switch-login check"


def own_rows(evidence: list[Evidence], needles: list[str], whose: str = VF_ROWS) -> list[Evidence]:
    """A per-VF check keeps only the rows of a switch table that name its VF (the full outputs are
    kept once, on the switch-login check): a 64-VF run would otherwise carry every table 64 times
    (measured: 19 MB of report.html and most of verify's peak memory). `whose` ends the note that
    opens each excerpt: what the rows are and where the whole output is."""
    wanted = [n.lower() for n in needles if n]
    # a MAC also as the switch may print it: 5254.0012.3456, 52-54-00-12-34-56
    wanted += [f"{d[0:4]}.{d[4:8]}.{d[8:12]}" for n in wanted if len(d := n.replace(":", "")) == 12 and n.count(":") == 5]
    wanted = list(dict.fromkeys(wanted + [n.replace(":", "-") for n in wanted]))
    out = []
    for e in evidence:
        lines = e.output.splitlines()
        context = 8 if e.command.endswith(("xml", "json")) else 0  # an XML or JSON entry spans a few lines
        keep: set[int] = set()
        for i, line in enumerate(lines):
            low = line.lower()
            if any(n in low for n in wanted):
                keep.update(range(max(0, i - context), min(len(lines), i + context + 1)))
        rows = [lines[i] for i in sorted(keep)]
        note = f"({len(rows)} of {len(lines)} lines: {whose})"
        out.append(Evidence(source=e.source, command=e.command, output="\n".join([note, *rows])))
    return out


class Verifier:
    def __init__(
        self,
        topology: Topology,
        *,
        host: HostDriver,
        runtime: ContainerRuntime,
        probe: ProbeOps,
        open_switch: Callable[[], SwitchSession],
        progress: Progress = lambda _m: None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval_s: float = 1.0,
        acceptance: bool = True,
    ) -> None:
        self.t = topology
        self.host = host
        self.runtime = runtime
        self.probe = probe
        self.open_switch = open_switch
        self.progress = progress
        self.monotonic = monotonic
        self.sleep = sleep
        self.poll_interval_s = poll_interval_s
        self.acceptance = acceptance
        self.platform = platforms.get(topology.switch.platform)

    def run(self) -> VerifyOutcome:
        exps = C.expectations(self.t)
        results: list[CheckResult] = []
        attached: dict[str, tuple[C.Expectation, str, str]] = {}  # target -> (exp, ns, mac)
        links: dict[str, C.LinkObs] = {}
        # One pipelined pass: the switch session's work (login, then the tables once the pings have
        # taught the switch the VFs' MACs, then the acceptance commands) runs on its own thread beside
        # the host side (looks, pings, container ARP, full-MTU pings, paths, isolation). The switch
        # commands run in the same order as they always did, over one session, each once.
        pings_done = threading.Event()
        learn: dict[str, Any] = {}
        silence = _Silence()
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sriovcheck-switch") as pool,
            ThreadPoolExecutor(max_workers=4, thread_name_prefix="sriovcheck-early") as early,
        ):
            switch_future = pool.submit(self._switch_work, pings_done, learn)
            try:
                return self._run_pipelined(exps, results, attached, links, pings_done, learn, switch_future, early, silence)
            except BaseException:
                # An interrupt or a crash on the host side must not leave the switch thread waiting
                # for pings or polling (the pool's exit joins it): it stops and closes its session;
                # nor the isolation probes waiting for the gateways' round trips.
                learn["stop"] = True
                pings_done.set()
                silence.settle(None)
                raise

    def _run_pipelined(
        self,
        exps: list[C.Expectation],
        results: list[CheckResult],
        attached: dict[str, tuple[C.Expectation, str, str]],
        links: dict[str, C.LinkObs],
        pings_done: threading.Event,
        learn: dict[str, Any],
        switch_future: Any,
        early: ThreadPoolExecutor,
        silence: _Silence,
    ) -> VerifyOutcome:
        # --- host side: each VF in its container, and its settings on the PF (a few VFs at a
        # time: each look is a docker inspect and two netlink round trips, mostly waiting)
        self.progress(f"checking {len(exps)} VF(s): in their containers, and their settings on the PF")

        # One docker inspect per container, not per VF: the VFs of a container share its namespace.
        containers = list(dict.fromkeys(exp.container for exp in exps))
        infos: dict[str, Any] = {}

        def look(exp: C.Expectation) -> tuple[str | None, C.LinkObs | None, float, VfConfig | None, str | None, float]:
            t0 = self.monotonic()
            info = infos[exp.container]
            ns = info.netns_path if info else None
            link = self.probe.read_link(ns, exp.ifname) if ns else None
            t1 = self.monotonic()
            observed: VfConfig | None = None
            err = None
            try:
                observed = self.host.get_vf_config(exp.pf, exp.vf)
            except SriovcheckError as exc:
                err = str(exc)
            return ns, link, t1 - t0, observed, err, self.monotonic() - t1

        with ThreadPoolExecutor(max_workers=8) as lookers:
            infos.update(zip(containers, lookers.map(self.runtime.get, containers), strict=True))
            looks = list(lookers.map(look, exps))
        mark("host looks done")
        for exp, (ns, link, attach_s, observed, err, cfg_s) in zip(exps, looks, strict=True):
            ev = [
                _ev(
                    f"container:{exp.container}",
                    f"netlink: link {exp.ifname} in {ns or '(no namespace)'}",
                    C.describe_link(link) if link else "not found",
                )
            ]
            exists = bool(ns) or self.runtime.get(exp.container) is not None
            r = C.check_vf_attached(exp, container_running=bool(ns), container_exists=exists, link=link, evidence=ev)
            r.duration_s = round(attach_s, 3)
            results.append(r)
            if r.status == "pass" and ns and link and link.mac:
                attached[exp.target] = (exp, ns, link.mac)
                links[exp.target] = link
            cfg_ev = [
                _ev("host", f"netlink: VF {exp.vf} of {exp.pf} (IFLA_VFINFO_LIST)", repr(observed.as_dict()) if observed else str(err))
            ]
            r = C.check_vf_config(exp, observed, err, cfg_ev)
            r.duration_s = round(cfg_s, 3)
            results.append(r)

        # The VLAN-isolation probes need no gateway ping (they listen for a silence measured against
        # the gateway pings' round trips), nor do the PF looks, nor the full-MTU and VF-to-VF pings
        # (sent for every attached VF; a VF whose gateway ping fails has them skipped, as before):
        # all start now, beside the gateway pings.
        early_work = (
            (early.submit(self._isolations, exps, attached, silence), early.submit(self._pf_infos),
             early.submit(self._mtu_and_path_pings, exps, attached))
            if self.acceptance else None
        )

        # --- pings, all in parallel
        ping_ok: dict[str, bool] = {}
        gw_macs: dict[str, str] = {}
        todo = [exp for exp in exps if exp.target in attached]
        # The containers' ARP tables hold the gateway once its ping has had a reply: read them then,
        # while the rest of the pings' count runs (only a VF whose ping passes is judged on it).
        neighbours_f = early.submit(self._container_neighbours, todo, attached, pings_done)
        if todo:
            self.progress(f"pinging {len(todo)} gateway(s) in parallel from inside the containers")
        pol = self.t.checks.ping
        learn["expected"] = {attached[e.target][2]: e for e in exps if e.target in attached}
        # The switch may read its tables once every VF has talked: when each gateway ping has had
        # its first reply (the gateway answered, so the switch has learned the VF's MAC and the
        # gateway its ARP entry), or else when the pings are over. The rest of the pings' count
        # runs beside the switch's reads.
        replied: set[int] = set()
        replied_lock = threading.Lock()

        def first_reply(i: int) -> None:
            with replied_lock:
                replied.add(i)
                if len(replied) == len(todo):
                    pings_done.set()

        t0 = self.monotonic()
        pings = (
            self.probe.ping_many(
                [
                    {
                        "netns_path": attached[e.target][1],
                        "ifname": e.ifname,
                        "dst": e.gateway,
                        "count": pol.count,
                        "timeout_s": pol.timeout_s,
                        "on_first_reply": functools.partial(first_reply, i),
                    }
                    for i, e in enumerate(todo)
                ]
            )
            if todo
            else []
        )
        ping_s = self.monotonic() - t0
        mark("gateway pings done")
        pings_done.set()
        silence.settle(max((r / 1000.0 for p in pings for r in p.rtts_ms), default=None))
        for exp, ping in zip(todo, pings, strict=True):
            ev = [
                _ev(
                    f"container:{exp.container}",
                    f"ping -c {pol.count} -I {exp.ifname} {exp.gateway} (from the host, in the container's namespace)",
                    f"{ping.received}/{ping.sent} received, rtts {[round(x, 3) for x in ping.rtts_ms]}"
                    + (f", error {ping.error}" if ping.error else ""),
                )
            ]
            r = C.check_ping(exp, ping, count=pol.count, max_loss_pct=pol.max_loss_pct, evidence=ev)
            r.duration_s = round(ping_s, 3)
            results.append(r)
            ping_ok[exp.target] = r.status == "pass"
        for exp in exps:
            if exp.target not in attached:
                results.append(C.skipped("gateway-ping", exp, "vf-attached", "failed"))

        # --- the containers' ARP
        for exp in exps:
            if exp.target not in attached:
                results.append(C.skipped("container-arp", exp, "vf-attached", "failed"))
                continue
            if not ping_ok.get(exp.target):
                results.append(C.skipped("container-arp", exp, "gateway-ping", "failed"))
                continue
            neigh = neighbours_f.result()[exp.target]
            if isinstance(neigh, SriovcheckError):
                raise neigh
            ev = [
                _ev(
                    f"container:{exp.container}",
                    f"netlink: neighbours on {exp.ifname} (arp -a)",
                    "\n".join(f"? ({n.ip}) at {n.mac or '<incomplete>'} [{n.state}] on {exp.ifname}" for n in neigh) or "(empty)",
                )
            ]
            r, mac = C.check_container_arp(exp, neigh, ev)
            results.append(r)
            if mac:
                gw_macs[exp.target] = mac

        # --- host-side acceptance probes, while the switch thread reads
        probes = self._acceptance_probes(exps, attached, ping_ok, *early_work) if early_work else None
        # --- the switch
        mark("host-side probes done")
        work = switch_future.result()
        session, login_error, login_s = work.session, work.login_error, work.login_s
        results.extend(self._switch_checks(exps, attached, ping_ok, gw_macs, session, login_error, login_s, work))
        switch_ok = any(c.kind == "switch-login" and c.status == "pass" for c in results)
        if self.acceptance and probes is not None:
            results.extend(self._acceptance(exps, attached, links, ping_ok, work.acceptance if switch_ok else None, results, probes))
        facts = session.facts if session else None
        if session:
            with contextlib.suppress(SriovcheckError):
                session.close()
        mark("checks judged")
        causes = diagnose(results, pfs=self._pf_states(), switch=self.t.switch.name)
        return VerifyOutcome(
            checks=results,
            switch_facts=facts,
            observed_macs={k: v[2] for k, v in attached.items()},
            switch_error=login_error,
            causes=causes,
        )

    def _container_neighbours(
        self, todo: list[C.Expectation], attached: dict[str, tuple[C.Expectation, str, str]], pings_done: threading.Event
    ) -> dict[str, list[C.NeighObs] | SriovcheckError]:
        """Each attached VF's neighbours, or the error reading them (raised only where the read is
        used: for a VF whose gateway ping passed; a VF that vanished meanwhile fails its ping)."""
        pings_done.wait()  # every gateway ping has had its first reply, or the pings are over
        out: dict[str, list[C.NeighObs] | SriovcheckError] = {}
        for e in todo:
            try:
                out[e.target] = self.probe.neighbours(attached[e.target][1], e.ifname)
            except SriovcheckError as exc:
                out[e.target] = exc
        return out

    def _pf_states(self) -> list[PfState]:
        """Each PF's link as the host sees it now, for the diagnosis (cheap: one netlink/sysfs read each)."""
        out = []
        for pf in self.t.host.pfs:
            try:
                info = self.host.pf_info(pf.name)
            except SriovcheckError:
                continue
            out.append(PfState(pf.name, info.exists, operstate=info.operstate, carrier=info.carrier, switch_port=pf.switch_port,
                               mac=info.mac))
        return out

    def _mtu_and_path_pings(
        self, exps: list[C.Expectation], attached: dict[str, tuple[C.Expectation, str, str]]
    ) -> tuple[dict[str, Any], dict[str, C.PingObs], dict[str, C.PingObs]]:
        """The full-MTU do-not-fragment pings and the VF-to-VF path pings of every attached VF
        (peers, df pings and path pings by target); only a VF whose gateway ping passes is judged on them."""
        from sriovcheck.verify import acceptance as A

        sent = [e for e in exps if e.target in attached]
        pol = self.t.checks.ping
        # MTU: a full-size do-not-fragment ping per VF, all in parallel.
        df_requests = [
            {
                "netns_path": attached[e.target][1],
                "ifname": e.ifname,
                "dst": e.gateway,
                "count": 2,
                "timeout_s": pol.timeout_s,
                "payload_size": (e.mtu or 1500) - A.IP_ICMP_HEADERS,
                "dont_fragment": True,
            }
            for e in sent
        ]
        # Any attached VF is a peer worth trying: one whose own gateway ping failed may still prove
        # (or disprove) the path across the switch.
        peers = {e.target: A.pick_peer(e, sent) for e in sent}
        with_peer = [e for e in sent if peers[e.target] is not None]
        path_requests = [
            {"netns_path": attached[e.target][1], "ifname": e.ifname, "dst": str(p.address.ip), "count": 2, "timeout_s": pol.timeout_s}
            for e in with_peer
            if (p := peers[e.target]) is not None
        ]
        # The two ping sets wait on the network, not on each other: side by side.
        with ThreadPoolExecutor(max_workers=1) as side:
            path_f = side.submit(lambda: self.probe.ping_many(path_requests) if path_requests else [])
            df = self.probe.ping_many(df_requests) if df_requests else []
        df_by = {e.target: p for e, p in zip(sent, df, strict=True)}
        path_by = dict(zip([e.target for e in with_peer], path_f.result(), strict=True))
        mark("full-MTU and path pings done")
        return peers, df_by, path_by

    def _acceptance_probes(
        self,
        exps: list[C.Expectation],
        attached: dict[str, tuple[C.Expectation, str, str]],
        ping_ok: dict[str, bool],
        iso_f: Any,
        pf_f: Any,
        pings_f: Any,
    ) -> _Probes:
        working = [e for e in exps if e.target in attached and ping_ok.get(e.target)]
        self.progress(f"acceptance: full-MTU do-not-fragment pings, VF-to-VF paths and VLAN isolation for {len(working)} VF(s)")
        peers, df_by, path_by = pings_f.result()
        others, iso = iso_f.result()
        mark("isolation probes done")
        return _Probes(pf_f.result(), peers, others, df_by, path_by, iso)

    def _pf_infos(self) -> dict[str, PfInfo | None]:
        pf_infos: dict[str, PfInfo | None] = {}
        for pf in self.t.host.pfs:
            try:
                pf_infos[pf.name] = self.host.pf_info(pf.name)
            except SriovcheckError:
                pf_infos[pf.name] = None
        return pf_infos

    def _isolations(
        self, exps: list[C.Expectation], attached: dict[str, tuple[C.Expectation, str, str]], silence: _Silence
    ) -> tuple[dict[str, Any], dict[str, tuple[str | None, str | None]]]:
        from sriovcheck.verify import acceptance as A

        others = {e.target: next((v for v in self.t.vlans if v.id != e.vlan_id), None) for e in exps}
        fixed = self.t.checks.isolation_wait_s

        def deadline(first_sent: float, last_sent: float) -> float | None:
            # Until the gateway pings are over, how long silence must last is not known yet.
            if fixed is None and not silence.known.is_set():
                return None
            return A.isolation_deadline(first_sent, last_sent, silence.slowest_s, fixed_s=fixed)

        # Isolation needs no working gateway: a VF on the wrong VLAN fails its ping, and this is
        # what names the cause (it reaches the other VLAN's gateway at layer 2).
        probed = [e for e in exps if e.target in attached]
        asked = [(e, other) for e in probed if (other := others[e.target]) is not None]
        # An RFC 5227 probe (sender 0.0.0.0): a gateway ignores ARP from a source outside its
        # subnet (and Linux's rp_filter drops it), but answers a probe for its own address.
        # Every probe listens for its silence when isolation holds: all at once, not in rounds.
        answers = (
            self.probe.arp_probe_many(
                [{"netns_path": attached[e.target][1], "ifname": e.ifname, "mac": attached[e.target][2],
                  "sender_ip": ARP_PROBE_SENDER, "target_ip": str(other.gateway)} for e, other in asked],
                frames=A.ISOLATION_FRAMES, spacing_s=A.isolation_spacing(fixed), deadline=deadline,
            )
            if asked
            else []
        )
        found = dict(zip([e.target for e, _ in asked], answers, strict=True))
        return others, {e.target: found.get(e.target, (None, None)) for e in probed}

    def _acceptance(
        self,
        exps: list[C.Expectation],
        attached: dict[str, tuple[C.Expectation, str, str]],
        links: dict[str, C.LinkObs],
        ping_ok: dict[str, bool],
        data: Any,
        results: list[CheckResult],
        probes: _Probes,
    ) -> list[CheckResult]:
        from sriovcheck.verify import acceptance as A

        out: list[CheckResult] = []
        pf_infos, peers, others = probes.pf_infos, probes.peers, probes.others
        df_by, path_by, iso = probes.df_by, probes.path_by, probes.iso

        by_kind = {(c.kind, c.target): c for c in results}
        for e in exps:
            if e.target not in attached:
                for kind in ("mtu", "switch-port", "vf-path", "vlan-isolation"):
                    out.append(C.skipped(kind, e, "vf-attached", "failed"))
                continue
            if data is None:
                out.append(C.skipped("switch-port", e, "switch-login", "errored"))
            else:
                sp = A.check_switch_port(e, data)
                out.append(sp)
                sm = by_kind.get(("switch-mac", e.target))
                if sm is not None and sm.status == "fail" and sp.status == "fail":
                    sm.message += f" -- the switch says: {sp.message}"
            mac, err = iso[e.target]
            other = others[e.target]
            iev = (
                [
                    _ev(
                        f"container:{e.container}",
                        f"arping -I {e.ifname} {other.gateway} (layer-2 probe from the host)",
                        f"reply from {mac}" if mac else (err or "no reply"),
                    )
                ]
                if other
                else []
            )
            out.append(A.check_vlan_isolation(e, other, mac, err, iev))
            if not ping_ok.get(e.target):
                for kind in ("mtu", "vf-path"):
                    out.append(C.skipped(kind, e, "gateway-ping", "failed"))
                continue
            info = pf_infos.get(e.pf)
            link = links[e.target]
            ping = df_by[e.target]
            ev = [
                _ev(
                    f"container:{e.container}",
                    f"ping -M do -s {(e.mtu or 1500) - A.IP_ICMP_HEADERS} -c 2 -I {e.ifname} {e.gateway}",
                    f"{ping.received}/{ping.sent} received" + (f", error {ping.error}" if ping.error else ""),
                )
            ]
            port = data.ports.get(e.switch_port) if data else None
            if data and f"port:{e.switch_port}" in data.evidence:
                ev.append(data.evidence[f"port:{e.switch_port}"])
            out.append(A.check_mtu(e, link_mtu=link.mtu, pf_mtu=info.mtu if info else None, df_ping=ping, port=port, evidence=ev,
                                   platform=self.platform))
            peer = peers[e.target]
            pp = path_by.get(e.target)
            pev = (
                [_ev(f"container:{e.container}", f"ping -c 2 -I {e.ifname} {peer.address.ip}", f"{pp.received}/{pp.sent} received")]
                if peer and pp
                else []
            )
            out.append(A.check_vf_path(e, peer, pp, pev))
        if data is None:
            for pf in self.t.host.pfs:
                out.append(
                    CheckResult(
                        kind="cabling",
                        target=f"{self.t.host.name}:{pf.name}",
                        status="skip",
                        message="not run: prerequisite switch-login errored",
                        details={"pf": pf.name},
                    )
                )
        else:
            for pf in self.t.host.pfs:
                info = pf_infos.get(pf.name)
                out.append(A.check_cabling(self.t.host.name, pf.name, info.mac if info else None, pf.switch_port, data))
        return out

    def _switch_work(self, pings_done: threading.Event, learn: dict[str, Any]) -> _SwitchWork:
        """The switch thread: login; once the pings are done, the tables until every VF MAC is
        learned (or the learn timeout); then the acceptance commands. Never raises: every failure
        is recorded for the checks."""
        work = _SwitchWork()
        t0 = self.monotonic()
        try:
            work.session = self.open_switch()
        except SriovcheckError as exc:
            work.login_error = str(exc)
        work.login_s = self.monotonic() - t0
        mark("switch: logged in")
        pings_done.wait()
        session = work.session
        if session is None:
            return work
        if learn.get("stop"):
            with contextlib.suppress(SriovcheckError):
                session.close()
            work.session = None
            work.login_error = "verification was stopped"
            return work
        sw = self.t.switch
        self.progress(
            f"reading {sw.name}'s MAC and ARP tables (until every VF MAC is learned, at most {self.t.checks.switch_learn_timeout_s:g} s)"
        )
        expected_macs: dict[str, C.Expectation] = learn.get("expected", {})
        vlan_ids = {v.name.lower(): v.id for v in self.t.vlans}
        deadline = self.monotonic() + self.t.checks.switch_learn_timeout_s
        t0 = self.monotonic()
        tables: _Tables | None = None
        try:
            while True:
                tables = self._read_mac_tables(session)
                learned = {e.mac for e in tables.macs if e.mac}
                missing = [m for m, exp in expected_macs.items() if m not in learned or not self._learned_right(exp, m, tables, vlan_ids)]
                if not missing or self.monotonic() >= deadline or learn.get("stop"):
                    break
                self.sleep(self.poll_interval_s)
            work.waited_s = self.monotonic() - t0
            mark("switch: PF ports' MAC tables read")
            if learn.get("stop"):
                raise SwitchError("verification was stopped")
            type_ahead(session, self._rest_commands(session, tables, sorted(expected_macs)))
            self._read_rest(session, tables, sorted(expected_macs))
        except SriovcheckError as exc:
            work.error = str(exc)
            work.waited_s = self.monotonic() - t0
        work.tables = tables
        mark("switch: tables read")
        if work.error is None and self.acceptance:
            from sriovcheck.verify import acceptance as A

            self.progress("acceptance: switch port membership, LLDP cabling, port MTU")
            src = f"switch:{sw.name}" if session.facts.source == "ssh" else session.facts.source
            work.acceptance = A.read_switch_data(session, self.t, src)
        # Every command has run: log out here, beside the host-side probes, not on the main thread
        # after them (a polite logout waits for the switch's answer). The facts stay readable.
        mark("switch: acceptance commands read")
        with contextlib.suppress(SriovcheckError):
            session.close()
        mark("switch: logged out")
        return work

    def _rest_commands(self, session: SwitchSession, tables: _Tables | None, macs: list[str]) -> list[str]:
        """What `_read_rest` and the switch-side acceptance will send over a live session, in their
        order, so that they can be typed ahead in one round trip (see `switch.client.type_ahead`)."""
        if tables is None or not _online(session):
            return []
        out: list[str] = []
        p = self.platform
        if not tables.searched_macs and macs:
            out += [r.commands[0] for r in p.mac_search(macs)]
        out += [p.arp_table(i).commands[0] for i in self._l3_interfaces()]
        out += [r.commands[0] for r, _ in p.l3_macs(self._l3_interfaces())]
        if self.acceptance:
            from sriovcheck.verify import acceptance as A

            out += A.switch_commands(self.t)
        return out

    def _switch_checks(
        self,
        exps: list[C.Expectation],
        attached: dict[str, tuple[C.Expectation, str, str]],
        ping_ok: dict[str, bool],
        gw_macs: dict[str, str],
        session: SwitchSession | None,
        login_error: str | None,
        login_s: float,
        work: _SwitchWork,
    ) -> list[CheckResult]:
        sw = self.t.switch
        out: list[CheckResult] = []
        if session is None:
            out.append(
                CheckResult(
                    kind="switch-login",
                    target=sw.name,
                    status="error",
                    expected=f"login to {sw.name} and answers to commands",
                    observed="no session",
                    message=login_error or "unknown error",
                    duration_s=round(login_s, 3),
                )
            )
            for exp in exps:
                for kind in ("switch-mac", "switch-arp", "gateway-mac", "mac-unique"):
                    out.append(C.skipped(kind, exp, "switch-login", "errored"))
            return out
        vlan_ids = {v.name.lower(): v.id for v in self.t.vlans}
        tables, error, waited = work.tables, work.error, work.waited_s
        facts = session.facts
        login = CheckResult(
            kind="switch-login",
            target=sw.name,
            status="pass" if error is None else "error",
            expected=f"login to {sw.name} and answers to commands",
            observed=f"{facts.model or 'model ?'} {facts.os_name or self.platform.os_name} {facts.os_version or '?'} ({facts.source})"
            if error is None
            else "session failed",
            message=error or "",
            duration_s=round(login_s, 3),
            evidence=tables.evidence if tables and error is None else [],
        )
        out.append(login)
        if error is not None or tables is None:
            for exp in exps:
                for kind in ("switch-mac", "switch-arp", "gateway-mac", "mac-unique"):
                    out.append(C.skipped(kind, exp, "switch-login", "errored"))
            return out
        mac_ev, arp_ev, l3_ev = tables.of_kind("mac"), tables.of_kind("arp"), tables.of_kind("l3")
        for exp in exps:
            if exp.target not in attached:
                for kind in ("switch-mac", "switch-arp", "gateway-mac", "mac-unique"):
                    out.append(C.skipped(kind, exp, "vf-attached", "failed"))
                continue
            mac = attached[exp.target][2]
            own_mac_ev = own_rows(mac_ev, [mac])
            out.append(
                C.check_switch_mac(
                    exp,
                    mac,
                    tables.macs,
                    waited_s=waited,
                    timeout_s=self.t.checks.switch_learn_timeout_s,
                    vlan_ids=vlan_ids,
                    evidence=own_mac_ev,
                )
            )
            if ping_ok.get(exp.target):
                out.append(C.check_switch_arp(exp, mac, tables.arps, own_rows(arp_ev, [mac, str(exp.address.ip)])))
            else:
                out.append(C.skipped("switch-arp", exp, "gateway-ping", "failed"))
            if exp.target in gw_macs:
                out.append(C.check_gateway_mac(exp, gw_macs[exp.target], tables.l3_macs.get(exp.l3_interface), l3_ev))
            else:
                out.append(C.skipped("gateway-mac", exp, "container-arp", "failed or was skipped"))
            if tables.searched_macs is False:
                out.append(
                    CheckResult(
                        kind="mac-unique",
                        target=exp.target,
                        status="skip",
                        expected=f"{mac} on at most one VLAN and port",
                        message=f"not run: the saved switch outputs hold only the PF ports' MAC tables; "
                        f"save the whole `{self.platform.mac_table().commands[-1]}` too to see {mac} on every port",
                        details=exp.details(),
                    )
                )
            elif any(e.mac == mac for e in tables.macs):
                out.append(C.check_mac_unique(exp, mac, tables.macs, own_mac_ev))
            else:  # a MAC the switch never saw is not "unique": no evidence is never a pass
                out.append(C.skipped("mac-unique", exp, "switch-mac", "failed: the MAC is not in the table"))
        return out

    @staticmethod
    def _learned_right(exp: C.Expectation, mac: str, tables: C.SwitchTables, vlan_ids: dict[str, int]) -> bool:
        r = C.check_switch_mac(exp, mac, tables.macs, waited_s=0, timeout_s=0, vlan_ids=vlan_ids, evidence=[])
        return r.status == "pass"

    def _source(self, session: SwitchSession) -> str:
        return f"switch:{self.t.switch.name}" if session.facts.source == "ssh" else session.facts.source

    def _read(self, session: SwitchSession, read: Read, tables: _Tables, kind: str) -> list[Any]:
        """One table: the platform's commands in order (structured output first, its schema is
        stable across releases), the text as the fallback."""
        src = self._source(session)
        first: BaseException | None = None
        for n, command in enumerate(read.commands):
            last = n == len(read.commands) - 1
            try:
                output = session.run(command)
            except SriovcheckError as exc:
                if last:
                    if isinstance(first, SriovcheckError):
                        raise first from None
                    raise
                first = first or exc
                continue
            try:
                entries = list(read.parse(output))
            except ParseError as exc:
                if last:
                    raise SwitchError(f"cannot read the output of `{command}` from {self.t.switch.name}: {exc}") from exc
                first = first or exc
                continue
            tables.kinds[len(tables.evidence)] = kind
            tables.evidence.append(_ev(src, command, output))
            return self._named(entries) if kind == "mac" else entries
        return []

    def _named(self, entries: list[Any]) -> list[Any]:
        """MAC tables that show only VLAN ids get the topology's VLAN names for them."""
        names = {v.id: v.name for v in self.t.vlans}
        return [dataclasses.replace(e, vlan_name=names[e.vlan_id])
                if e.vlan_id in names and e.vlan_name == str(e.vlan_id) else e for e in entries]

    def _ports(self) -> list[str]:
        return sorted({pf.switch_port for pf in self.t.host.pfs})

    def _l3_interfaces(self) -> list[str]:
        return sorted({v.l3_interface for v in self.t.vlans})

    def _read_mac_tables(self, session: SwitchSession) -> _Tables:
        """The MAC table of each PF's switch port (as the seed read it on its switch
        by hand): what verify reads grows with the host under test, not with the switch.
        Saved outputs without per-port files fall back to the whole table."""
        tables = _Tables()
        ports = self._ports()
        p = self.platform
        if _scoped(session, [c for port in ports for c in p.mac_table(port).commands]):
            if _online(session):
                type_ahead(session, [p.mac_table(port).commands[0] for port in ports])
            for port in ports:
                tables.macs += self._read(session, p.mac_table(port), tables, "mac")
        else:
            tables.macs = self._read(session, p.mac_table(), tables, "mac")
            tables.searched_macs = True  # the whole table shows every port
        return tables

    def _read_rest(self, session: SwitchSession, tables: _Tables | None, macs: list[str]) -> None:
        """After learning: where else the switch sees the VFs' MACs (other ports and VLANs, for
        mac-unique and for naming a wrong port), the ARP entries per L3 interface, and the L3
        interfaces' own MACs."""
        if tables is None:
            return
        if not tables.searched_macs:
            self._search_macs(session, tables, macs)
        l3s = self._l3_interfaces()
        p = self.platform
        if _scoped(session, [c for i in l3s for c in p.arp_table(i).commands]):
            for l3 in l3s:
                tables.arps += self._read(session, p.arp_table(l3), tables, "arp")
        else:
            tables.arps = self._read(session, p.arp_table(), tables, "arp")
        self._read_l3_macs(session, tables)

    def _search_macs(self, session: SwitchSession, tables: _Tables, macs: list[str]) -> None:
        """Every row of the VFs' MACs on any port or VLAN, without moving the whole table (the
        platform's search: a `| match` or a per-MAC filter). Offline: the saved whole
        table, if any."""
        if not macs:
            tables.searched_macs = True
            return
        p = self.platform
        if not _online(session):
            whole = p.mac_table()
            if any(_has(session, c) for c in whole.commands):
                tables.macs += self._read(session, whole, tables, "mac")
                tables.searched_macs = True
            else:
                tables.searched_macs = False
            return
        seen = {(e.mac, e.vlan_name.lower(), e.interface) for e in tables.macs}
        wanted = set(macs)
        for read in p.mac_search(macs):
            for row in self._read(session, read, tables, "mac"):
                if row.mac in wanted and (row.mac, row.vlan_name.lower(), row.interface) not in seen:
                    seen.add((row.mac, row.vlan_name.lower(), row.interface))
                    tables.macs.append(row)
        tables.searched_macs = True

    def _read_l3_macs(self, session: SwitchSession, tables: _Tables) -> None:
        for read, covered in self.platform.l3_macs(self._l3_interfaces()):
            try:
                infos = self._read(session, read, tables, "l3")
            except SriovcheckError:
                continue
            mac = next((i.current_address for i in infos if i.current_address), None)
            if mac:
                for l3 in covered:
                    tables.l3_macs[l3] = mac
        # Where the MAC table lists the switch's own MAC per VLAN: a fallback for the L3 interface's MAC.
        router = self.platform.router_macs(tables.macs)
        for v in self.t.vlans:
            if v.name.lower() in router:
                tables.l3_macs.setdefault(v.l3_interface, router[v.name.lower()])
