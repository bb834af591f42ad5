"""Provisioning and teardown: the plan executed against a HostDriver, a ContainerRuntime and
namespace operations, with a state file, idempotence and rollback.

Every change this run makes is journalled with its undo; a failure or an interrupt part-way
undoes the journal in reverse, so the host is left as it was before the run.

A run that is killed outright (SIGKILL, OOM killer, power loss) gets no rollback. For that, every
step first writes its intent durably into the state file (what it is about to do, with the
temporary names it will use), and clears it in the same write that records the result. `recover`
(run first by provision and teardown) settles what a killed run left: it brings a VF that was on
its way into or out of a container home under its original name, adopts containers that carry the
topology's labels but no record, and removes orphan temporary files. VFs are found through their PF
(by PCI device; in the lab by the same rule) in the host or in any of the topology's containers,
under any name; containers through their labels. The state file is a record, not the only truth.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sriovcheck.containers.runtime import ContainerInfo, ContainerRuntime
from sriovcheck.crashpoints import crashpoint
from sriovcheck.errors import ProvisionError, SriovcheckError
from sriovcheck.host.driver import HostDriver, VfConfig, VfInfo
from sriovcheck.provision.plan import Action, build_plan, temp_ifname
from sriovcheck.provision.state import ContainerRecord, ProvisionState, StateStore, VfRecord
from sriovcheck.statefiles import remove_orphans
from sriovcheck.topology.model import Topology

Progress = Callable[[str], None]

# The names sriovcheck gives a VF while it moves (plan.temp_ifname, and netns.detach_vf's default):
# never a VF's "original" name.
TEMP_NAME = re.compile(r"sc(?:[0-9a-f]{4}p\d+v\d+|tmp[0-9a-f]{8})")


class LinkLike(Protocol):
    name: str
    mac: str | None
    mtu: int | None
    admin_up: bool
    addresses: list[str]


class NetnsOps(Protocol):
    def attach_vf(self, host_ifname: str, *, netns_path: str, ifname: str, address_cidr: str,
                  mtu: int | None, mac: str | None, temp_name: str) -> LinkLike: ...

    def detach_vf(self, ifname: str, *, netns_path: str, host_ifname: str, temp_name: str | None = None) -> None: ...

    def read_link(self, ns: str | None, ifname: str) -> LinkLike | None: ...

    def find_link_by_mac(self, ns: str | None, mac: str) -> LinkLike | None: ...

    def set_host_link(self, ifname: str, *, new_name: str | None = None, mtu: int | None = None) -> None: ...


@dataclass
class Outcome:
    """What one action did: 'done', 'unchanged' or 'undone'."""

    action: str
    target: str
    result: str
    detail: str = ""


@dataclass
class ProvisionReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(o.result == "done" for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "actions": [o.__dict__ for o in self.outcomes]}


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """While undoing, a second Ctrl-C must not leave the host half-restored."""
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


@contextmanager
def _action_whole() -> Iterator[None]:
    """Run one action to its end: a Ctrl-C or SIGTERM that arrives meanwhile is delivered (as
    KeyboardInterrupt) once the action is done and journalled. Interrupted half-way, a netlink call,
    a docker create or the netns worker threads would leave a change that no journal entry knows
    about, so the rollback could not undo it (measured: VLANs and containers left behind)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    pending: list[int] = []

    def note(signum: int, _frame: Any) -> None:
        pending.append(signum)

    old_int = signal.signal(signal.SIGINT, note)
    old_term = signal.signal(signal.SIGTERM, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    if pending:
        raise KeyboardInterrupt


class Provisioner:
    def __init__(
        self,
        topology: Topology,
        *,
        host: HostDriver,
        runtime: ContainerRuntime,
        netns: NetnsOps,
        store: StateStore,
        image_override: str | None = None,
        progress: Progress = lambda _m: None,
        vf_return_timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        container_workers: int = 4,
    ) -> None:
        self.t = topology
        self.host = host
        self.runtime = runtime
        self.netns = netns
        self.store = store
        self.image_override = image_override
        self.progress = progress
        self.vf_return_timeout_s = vf_return_timeout_s
        # Starting containers dominates provisioning, and the engine starts them faster a few at a
        # time (measured: 64 `docker run` 12.6 s one by one, 7.0 s four at a time).
        self.container_workers = max(1, container_workers)
        self._lock = threading.Lock()
        self.sleep = sleep
        self.monotonic = monotonic
        self._journal: list[tuple[str, Callable[[], None]]] = []
        self._rollback_failures: list[str] = []
        # Within `_containers_looked_up_once`: what docker said of each container, and the labelled list.
        self._seen: dict[str, ContainerInfo | None] | None = None
        self._seen_labelled: list[ContainerInfo] | None = None

    # ------------------------------------------------------------------ provision
    def provision(self) -> ProvisionReport:
        report = ProvisionReport()
        self.runtime.engine_version()  # fail early with the engine's hint
        state = self.store.load() or ProvisionState(topology=self.t.name, host_driver=self.host.kind)
        if state.topology != self.t.name:
            raise ProvisionError(f"state file {self.store.path} belongs to topology {state.topology!r}")
        self._preflight()
        with _action_whole():
            self.recover(state)
        plan = build_plan(self.t, image_override=self.image_override)
        self._journal = []
        try:
            i = 0
            while i < len(plan):
                batch = [plan[i]]
                if plan[i].kind == "create-container":
                    while i + len(batch) < len(plan) and plan[i + len(batch)].kind == "create-container":
                        batch.append(plan[i + len(batch)])
                with _action_whole():
                    outcomes = self._apply_batch(batch, state)
                for action, outcome in zip(batch, outcomes, strict=True):
                    report.outcomes.append(outcome)
                    verb = {"done": "done", "unchanged": "already so"}.get(outcome.result, outcome.result)
                    self.progress(f"[{action.step}/{len(plan)}] {action.describe()}: {verb}")
                i += len(batch)
        except (SriovcheckError, KeyboardInterrupt, OSError) as exc:
            self._rollback(state, report)
            if isinstance(exc, KeyboardInterrupt):
                raise
            inner = exc.message if isinstance(exc, SriovcheckError) else str(exc)
            inner_hint = exc.hint if isinstance(exc, SriovcheckError) else None
            if self._rollback_failures:
                undone = ("undoing this run's changes failed for: " + "; ".join(self._rollback_failures)
                          + f"; {self.store.path} records what is left: fix the cause, then run "
                          "`sriovcheck teardown` (or `recover`)")
            else:
                undone = "what this run changed has been undone"
            raise ProvisionError(
                f"provisioning {self.t.name!r} failed: {inner}",
                hint=undone + "; " + (inner_hint or "fix the cause and run provision again"),
            ) from exc
        self._journal = []
        return report

    def _preflight(self) -> None:
        problems = []
        for pf in self.t.host.pfs:
            info = self.host.pf_info(pf.name)
            if not info.exists:
                problems.append(f"PF {pf.name} does not exist on this host")
            elif not info.sriov_capable:
                problems.append(f"PF {pf.name} cannot do SR-IOV (no sriov_totalvfs)")
            elif pf.numvfs > info.totalvfs:
                problems.append(f"PF {pf.name} supports at most {info.totalvfs} VFs; the topology asks for {pf.numvfs}")
        if problems:
            raise ProvisionError("; ".join(problems), hint="run `sriovcheck preflight TOPOLOGY` for the full picture")

    def _remember(self, what: str, undo: Callable[[], None]) -> None:
        self._journal.append((what, undo))

    def _rollback(self, state: ProvisionState, report: ProvisionReport) -> None:
        with _signals_deferred():
            self.progress(f"rolling back {len(self._journal)} change(s) of this run")
            failures = []
            try:  # a step that failed part-way left its intent: settle it first (its VF comes home)
                self._settle_intents(state, rollback=True)
            except Exception as exc:
                failures.append(f"a step cut short: {exc}")
            for what, undo in reversed(self._journal):
                if failures and what.startswith("record of "):
                    # Never forget what a VF looked like while anything is not back as it was.
                    continue
                try:
                    undo()
                    report.outcomes.append(Outcome("rollback", what, "undone"))
                except Exception as exc:  # keep undoing the rest; report every failure
                    failures.append(f"{what}: {exc}")
            self._journal = []
            self._rollback_failures = failures
            try:
                if state.is_empty():
                    self.store.remove()
                else:
                    self.store.save(state)
            except SriovcheckError as exc:
                failures.append(str(exc))
            if failures:
                self.progress("rollback incomplete: " + "; ".join(failures))

    def _apply_batch(self, batch: list[Action], state: ProvisionState) -> list[Outcome]:
        """One action, or consecutive container creations side by side. Every creation runs to its
        end and is journalled before the first failure is raised, so the rollback knows them all."""
        if len(batch) == 1 or self.container_workers == 1:
            return [self._apply(a, state) for a in batch]
        with ThreadPoolExecutor(max_workers=min(self.container_workers, len(batch))) as pool:
            futures = [pool.submit(self._apply, a, state) for a in batch]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]  # type: ignore[misc]
        return [f.result() for f in futures]

    def _apply(self, action: Action, state: ProvisionState) -> Outcome:
        d = action.detail
        if action.kind == "set-numvfs":
            return self._set_numvfs(d["pf"], d["numvfs"], state)
        if action.kind == "set-vf-config":
            return self._set_vf_config(d["pf"], d["vf"], VfConfig.from_dict(d["config"]), state)
        if action.kind == "create-container":
            return self._ensure_container(d["name"], d["image"], d["network"], state)
        return self._attach(d, state)

    def _set_numvfs(self, pf: str, count: int, state: ProvisionState) -> Outcome:
        info = self.host.pf_info(pf)
        if info.numvfs == count:
            return Outcome("set-numvfs", pf, "unchanged", f"numvfs {count}")
        if any(r.pf == pf and r.attached for r in state.vfs):
            raise ProvisionError(
                f"PF {pf} has {info.numvfs} VFs, some attached to containers by an earlier run, and the topology wants {count}",
                hint="run `sriovcheck teardown` first, then provision with the new count",
            )
        original = info.numvfs
        # Changing a non-zero count destroys the VFs there are (the kernel goes through 0): keep what
        # each of them was set to, so that a rollback brings them back as they were, not blank.
        saved: dict[int, VfConfig] = {}
        for n in range(original):
            try:
                saved[n] = self.host.get_vf_config(pf, n)
            except SriovcheckError as exc:
                self.progress(f"cannot read the settings of {pf} vf {n} before changing the VF count: {exc.message}")
        fresh = pf not in state.numvfs_original
        state.numvfs_original.setdefault(pf, original)
        try:
            self.store.save(state)  # the intent: teardown and recovery restore this count
        except SriovcheckError:
            if fresh:
                del state.numvfs_original[pf]
            raise
        crashpoint("intent")

        def undo() -> None:
            self.host.set_numvfs(pf, original)
            for n, config in saved.items():  # the VFs the count change destroyed, as they were
                if self.host.get_vf_config(pf, n) != config:
                    self.host.set_vf_config(pf, n, config)
            if state.numvfs_original.get(pf) == original:
                del state.numvfs_original[pf]

        self._remember(f"numvfs of {pf}", undo)  # before the change: a change that fails half-way is undone too
        self.host.set_numvfs(pf, count)
        return Outcome("set-numvfs", pf, "done", f"numvfs {original} -> {count}")

    def _set_vf_config(self, pf: str, vf: int, want: VfConfig, state: ProvisionState) -> Outcome:
        record = state.vf(pf, vf)
        current = self.host.get_vf_config(pf, vf)
        if record is None:
            info = self.host.vf_info(pf, vf)
            if not info.has_netdev_driver:
                raise ProvisionError(
                    f"VF {vf} of {pf} ({info.pci_address}) is bound to {info.driver}, which gives it no netdev",
                    hint="bind it to its kernel VF driver (not vfio-pci/uio) to move it into a container",
                )
            if info.netdev is None:
                raise ProvisionError(
                    f"VF {vf} of {pf} has no netdev in the host namespace: it is inside another namespace or container",
                    hint="find who holds it (`sriovcheck preflight`), release it, then provision again",
                )
            if TEMP_NAME.fullmatch(info.netdev):
                raise ProvisionError(
                    f"VF {vf} of {pf} is in the host namespace under {info.netdev}, a temporary name sriovcheck "
                    "gives a VF while it moves, and no state records its original name",
                    hint=f"rename it to its original name (`ip link set {info.netdev} name <original>`), then "
                    "provision again; sriovcheck never records a temporary name as a VF's original",
                )
            link = self.netns.read_link(None, info.netdev)
            record = VfRecord(
                pf=pf, vf=vf, pci_address=info.pci_address, original_netdev=info.netdev,
                original_config=current.as_dict(), original_mtu=link.mtu if link else None,
                original_mac=link.mac if link else None,
            )
            state.vfs.append(record)
            try:
                self.store.save(state)
            except SriovcheckError:
                state.vfs.remove(record)  # not written, nothing changed: nothing to record either
                raise
            crashpoint("intent")
            new_record = record

            def forget() -> None:
                state.vfs.remove(new_record)

            self._remember(f"record of {pf} vf {vf}", forget)
        if current == want:
            return Outcome("set-vf-config", f"{pf}/vf{vf}", "unchanged")
        # The record (saved before) holds the original settings; the undo is known before the change,
        # so a change that fails half-way is undone too.
        self._remember(f"settings of {pf} vf {vf}", lambda: self.host.set_vf_config(pf, vf, current))
        self.host.set_vf_config(pf, vf, want)
        return Outcome("set-vf-config", f"{pf}/vf{vf}", "done")

    def _ensure_container(self, name: str, image: str, network: str, state: ProvisionState) -> Outcome:
        info = self.runtime.get(name)
        if info is not None and not info.managed_by(self.t.name):
            raise ProvisionError(
                f"a container named {name!r} exists and was not created by sriovcheck for topology {self.t.name!r}",
                hint="sriovcheck never touches containers it did not create: remove or rename it, or rename the container in the topology",
            )
        if info is not None and info.running:
            with self._lock:
                if state.container(name) is None:
                    state.containers.append(ContainerRecord(name=name, id=info.id, created_by_us=True))
                    self.store.save(state)
            return Outcome("create-container", name, "unchanged", f"running ({info.id[:12]})")
        if info is not None:
            info = self.runtime.start(name)
            return Outcome("create-container", name, "done", "started again")
        intent = self._intend(state, {"kind": "create-container", "name": name})
        info = self.runtime.create(name=name, image=image, network=network, topology=self.t.name)
        crashpoint("container-created")
        record = ContainerRecord(name=name, id=info.id, created_by_us=True)

        def undo() -> None:
            self.runtime.remove(name)
            if record in state.containers:
                state.containers.remove(record)

        with self._lock:
            old = state.container(name)
            if old is not None:
                state.containers.remove(old)
            state.containers.append(record)
            state.intents.remove(intent)
            self.store.save(state)
            self._remember(f"container {name}", undo)
        return Outcome("create-container", name, "done", f"created ({info.id[:12]})")

    def _container_ns(self, name: str) -> tuple[ContainerInfo, str]:
        info = self.runtime.get(name)
        if info is None or info.netns_path is None:
            raise ProvisionError(f"container {name!r} is not running", hint="see `docker logs " + name + "`")
        return info, info.netns_path

    def _attach(self, d: dict[str, Any], state: ProvisionState) -> Outcome:
        pf, vf, cname, ifname = d["pf"], d["vf"], d["container"], d["ifname"]
        target = f"{cname}/{ifname}"
        record = state.vf(pf, vf)
        assert record is not None  # set-vf-config ran first and recorded it
        _info, ns = self._container_ns(cname)
        if record.attached and record.mac:
            link = self.netns.read_link(ns, ifname)
            if link is not None and link.mac == record.mac:
                if d["address"] in link.addresses and link.admin_up:
                    return Outcome("attach-vf", target, "unchanged")
                # Our VF, but set down or stripped of its address inside the container: it would never
                # show up on the host, so take it home and attach it afresh (every step again).
                intent = self._intend(state, self._detach_intent(record))
                self.netns.detach_vf(ifname, netns_path=ns, host_ifname=record.original_netdev,
                                     temp_name=intent["temp_name"])
                record.attached, record.container, record.ifname = False, None, None
                state.intents.remove(intent)
                self.store.save(state)
        vfi = self._vf_on_host(pf, vf)
        if vfi.netdev is None:
            raise ProvisionError(
                f"VF {vf} of {pf} is not in the host namespace and not in container {cname!r} as {ifname}",
                hint="it may be held by another container or namespace; `sriovcheck preflight` shows where VFs are",
            )
        intent = self._intend(state, {"kind": "attach-vf", "pf": pf, "vf": vf, "container": cname, "ifname": ifname,
                                      "temp_name": d["temp_name"], "from": vfi.netdev})
        link = self.netns.attach_vf(
            vfi.netdev, netns_path=ns, ifname=ifname, address_cidr=d["address"], mtu=d["mtu"], mac=d["mac"],
            temp_name=d["temp_name"],
        )
        was = (record.attached, record.container, record.ifname, record.mac)
        record.attached, record.container, record.ifname, record.mac = True, cname, ifname, link.mac
        state.intents.remove(intent)
        self.store.save(state)
        original = record.original_netdev

        def undo() -> None:
            self.netns.detach_vf(ifname, netns_path=ns, host_ifname=original, temp_name=d["temp_name"])
            record.attached, record.container, record.ifname, record.mac = was

        self._remember(f"{pf} vf {vf} in {cname}", undo)
        return Outcome("attach-vf", target, "done", f"{vfi.netdev} -> {ifname} ({link.mac})")

    def _vf_on_host(self, pf: str, vf: int) -> VfInfo:
        """A VF whose container just died comes back to the host a moment later (the kernel
        dismantles the namespace asynchronously): wait for it, bounded."""
        deadline = self.monotonic() + self.vf_return_timeout_s
        while True:
            info = self.host.vf_info(pf, vf)
            if info.netdev is not None or self.monotonic() >= deadline:
                return info
            self.sleep(0.05)

    # ------------------------------------------------------------------ journal and recovery
    def _intend(self, state: ProvisionState, intent: dict[str, Any]) -> dict[str, Any]:
        """Write durably what a step is about to do, before it does anything."""
        with self._lock:
            state.intents.append(intent)
            try:
                self.store.save(state)
            except SriovcheckError:
                state.intents.remove(intent)  # not written: the step does not start
                raise
        crashpoint("intent")
        return intent

    def _temp_name(self, pf: str, vf: int) -> str:
        index = next((i for i, p in enumerate(self.t.host.pfs) if p.name == pf), 9)
        return temp_ifname(self.t.name, index, vf)

    def _detach_intent(self, r: VfRecord) -> dict[str, Any]:
        return {"kind": "detach-vf", "pf": r.pf, "vf": r.vf, "container": r.container, "ifname": r.ifname,
                "temp_name": self._temp_name(r.pf, r.vf), "to": r.original_netdev}

    def _labelled(self) -> list[ContainerInfo]:
        """The topology's containers as docker knows them by their labels (the runtime may not list)."""
        lister = getattr(self.runtime, "list_managed", None)
        if lister is None:
            return []
        found: list[ContainerInfo] = lister(self.t.name)
        return [c for c in found if c.managed_by(self.t.name)]

    def recover(self, state: ProvisionState) -> list[str]:
        """Settle what a killed run left: orphan temporary files, containers with our labels but no
        record, steps whose intent is journalled but whose result is not. Saves the state; returns what
        it did (also shown as progress)."""
        done = [f"removed the orphan temporary file {p}" for p in remove_orphans(self.store.path.parent)]
        for info in self._labelled():
            if state.container(info.name) is None:
                state.containers.append(ContainerRecord(name=info.name, id=info.id, created_by_us=True))
                done.append(f"adopted container {info.name} (labelled for {self.t.name!r}, created by a run that was cut short)")
        had_intents = bool(state.intents)
        done += self._settle_intents(state, rollback=False)
        for line in done:
            self.progress("recover: " + line)
        if done or had_intents:
            if state.is_empty():
                self.store.remove()
            else:
                self.store.save(state)
        return done

    def _settle_intents(self, state: ProvisionState, *, rollback: bool) -> list[str]:
        done = []
        for intent in list(state.intents):
            kind = intent.get("kind")
            if kind in ("attach-vf", "detach-vf"):
                r = state.vf(str(intent["pf"]), int(intent["vf"]))
                if r is not None:
                    where = self._fetch_home(r, state, extra=(intent.get("ifname"), intent.get("temp_name")))
                    done.append(f"{r.pf} vf {r.vf}: a {kind} was cut short; the VF {where}")
            elif kind == "create-container" and rollback:
                name = str(intent["name"])
                info = self.runtime.get(name)
                if info is not None and info.managed_by(self.t.name) and state.container(name) is None:
                    self.runtime.remove(name)
                    done.append(f"removed container {name}, whose creation was cut short")
            with self._lock:
                state.intents.remove(intent)
                self.store.save(state)
        return done

    @contextmanager
    def _containers_looked_up_once(self) -> Iterator[None]:
        """Within it, each container of the topology is asked of docker once: teardown brings every VF home
        through the same few containers, and asked for each VF (a list and an inspect per container, with
        dockerd's work for each: ~80 ms of CPU per host of a rack at 4 VFs). A container whose init died
        since (its netns path is gone) is asked again; a VF that came home is found there first (`_locate`)."""
        self._seen, self._seen_labelled = {}, None
        try:
            yield
        finally:
            self._seen, self._seen_labelled = None, None

    def _container(self, name: str) -> ContainerInfo | None:
        if self._seen is None:
            return self.runtime.get(name)
        info = self._seen.get(name)
        if name not in self._seen or (info is not None and info.netns_path and not os.path.exists(info.netns_path)):
            self._seen[name] = info = self.runtime.get(name)  # first time, or its init died since: ask again
        return info

    def _labelled_seen(self) -> list[ContainerInfo]:
        if self._seen is None:
            return self._labelled()
        if self._seen_labelled is None:
            self._seen_labelled = self._labelled()
        return self._seen_labelled

    def _our_netns(self, state: ProvisionState, r: VfRecord) -> list[tuple[str, str]]:
        """(container, netns path) of every running container of this topology, the VF's first."""
        names = [n for n in (r.container,) if n] + [c.name for c in state.containers]
        names += [c.name for c in self._labelled_seen()]
        out, seen = [], set()
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            info = self._container(name)
            if info is not None and info.netns_path and (info.managed_by(self.t.name) or name == r.container):
                out.append((name, info.netns_path))
        return out

    def _locate(self, r: VfRecord, state: ProvisionState, extra: tuple[Any, ...] = ()) -> tuple[str | None, str | None, str]:
        """Where the VF is: (container, netns path, name there); (None, None, name) in the host namespace;
        (None, None, "") nowhere found. Through its PF (PCI device / the lab's mark), under any name."""
        info = self.host.vf_info(r.pf, r.vf)
        if info.netdev is not None:
            return None, None, info.netdev
        finder = getattr(self.host, "find_vf_in_netns", None)
        names = [n for n in (r.ifname, *extra) if isinstance(n, str) and n]
        for cname, ns in self._our_netns(state, r):
            if finder is not None:
                found = finder(r.pf, r.vf, ns)
                if found:
                    return cname, ns, str(found)
                continue
            for name in names:  # a driver that cannot identify a VF in a namespace: our names, our MAC
                link = self.netns.read_link(ns, name)
                if link is not None and (r.mac is None or link.mac in (r.mac, r.original_mac)):
                    return cname, ns, name
        return None, None, ""

    def _fetch_home(self, r: VfRecord, state: ProvisionState, extra: tuple[Any, ...] = ()) -> str:
        """Bring the VF into the host namespace under its original name and MTU, from wherever it is."""
        cname, ns, name = self._locate(r, state, extra)
        how = ""
        if ns is not None and name:
            self.netns.detach_vf(name, netns_path=ns, host_ifname=r.original_netdev,
                                 temp_name=self._temp_name(r.pf, r.vf))
            how = f"taken out of container {cname} (as {name})"
        r.attached = False
        vfi = self._vf_on_host(r.pf, r.vf)
        if vfi.netdev is None:
            r.container, r.ifname = None, None
            raise ProvisionError(
                f"VF {r.vf} of {r.pf} is neither in the host namespace nor in a container of {self.t.name!r}",
                hint="it may be held by a namespace sriovcheck did not create; `sriovcheck preflight` shows the VFs",
            )
        link = self.netns.read_link(None, vfi.netdev)
        if vfi.netdev != r.original_netdev or (r.original_mtu and link is not None and link.mtu != r.original_mtu):
            self.netns.set_host_link(
                vfi.netdev,
                new_name=r.original_netdev if vfi.netdev != r.original_netdev else None,
                mtu=r.original_mtu if link is not None and link.mtu != r.original_mtu else None,
            )
            how = (how + ", " if how else "") + f"renamed {vfi.netdev} -> {r.original_netdev}"
        r.container, r.ifname = None, None
        return f"is home as {r.original_netdev}" + (f" ({how})" if how else "")

    # ------------------------------------------------------------------ teardown
    def teardown(self) -> ProvisionReport:
        """Bring every VF home under its original name with its original settings, remove the topology's
        containers (recorded or labelled), restore VF counts. Says exactly what is not home (ProvisionError,
        exit 3) instead of claiming success."""
        report = ProvisionReport()
        state = self.store.load() or ProvisionState(topology=self.t.name, host_driver=self.host.kind)
        failures: list[str] = []
        try:
            with _action_whole():  # recovery runs whole; a signal meanwhile is delivered after it
                self.recover(state)
        except SriovcheckError as exc:
            failures.append(f"recovering what a killed run left: {exc.message}")
        if state.is_empty() and not failures:
            self.progress(f"nothing to tear down for {self.t.name!r} (no state in {self.store.path})")
            self.store.remove()
            return report
        # Each VF and container goes home whole; a signal meanwhile stops teardown after it, with the
        # state file recording what is left (exit 130; teardown again finishes the job).
        with self._containers_looked_up_once():
            for record in reversed(state.vfs):
                with _action_whole():
                    try:
                        outcome = self._bring_home(record, state)
                        report.outcomes.append(outcome)
                        self.store.save(state)
                        self.progress(f"{record.pf} vf {record.vf}: {outcome.detail}")
                    except Exception as exc:
                        failures.append(f"{record.pf} vf {record.vf} is not home: {exc}")

        def remove(name: str) -> Outcome | str:
            try:
                info = self.runtime.get(name)
                if info is not None and not info.managed_by(self.t.name):
                    return f"container {name}: now belongs to someone else; left alone"
                self.runtime.remove(name)
                return Outcome("remove-container", name, "done")
            except Exception as exc:
                return f"container {name}: {exc}"

        ours = [c.name for c in reversed(state.containers) if c.created_by_us]
        ours += [c.name for c in self._safe_labelled(failures) if c.name not in ours]
        for start in range(0, len(ours), self.container_workers):
            chunk = ours[start : start + self.container_workers]
            with _action_whole(), ThreadPoolExecutor(max_workers=len(chunk)) as pool:
                for got in pool.map(remove, chunk):
                    if isinstance(got, Outcome):
                        report.outcomes.append(got)
                        state.containers = [c for c in state.containers if c.name != got.target]
                        self.progress(f"container {got.target}: removed")
                    else:
                        failures.append(got)
        left = [c.name for c in self._safe_labelled(failures)]
        if left:
            failures.append(f"container(s) of {self.t.name!r} still there: {', '.join(left)}")
        with _action_whole():
            for pf, original in state.numvfs_original.items():
                try:
                    if self.host.pf_info(pf).numvfs != original:
                        self.host.set_numvfs(pf, original)
                        report.outcomes.append(Outcome("set-numvfs", pf, "done", f"back to {original}"))
                        self.progress(f"numvfs of {pf}: back to {original}")
                except Exception as exc:
                    failures.append(f"numvfs of {pf}: {exc}")
            if failures:
                self.store.save(state)
                raise ProvisionError(
                    "teardown incomplete, not home: " + "; ".join(failures),
                    hint=f"fix the cause and run teardown again; {self.store.path} still records what is left",
                )
            self.store.remove()
        return report

    def _safe_labelled(self, failures: list[str]) -> list[ContainerInfo]:
        try:
            return self._labelled()
        except SriovcheckError as exc:
            failures.append(f"listing the containers of {self.t.name!r}: {exc.message}")
            return []

    def _bring_home(self, r: VfRecord, state: ProvisionState) -> Outcome:
        """Home, wherever it is (a dead container returns a real VF as eth1; a killed run may have left it
        under a temporary name), found through the PF; then its original settings; then checked."""
        target = f"{r.pf}/vf{r.vf}"
        intent = self._intend(state, self._detach_intent(r))
        self._fetch_home(r, state, extra=(intent["temp_name"],))
        original = VfConfig.from_dict(r.original_config)
        if self.host.get_vf_config(r.pf, r.vf) != original:
            self.host.set_vf_config(r.pf, r.vf, original)
        vfi = self.host.vf_info(r.pf, r.vf)
        if vfi.netdev != r.original_netdev:
            raise ProvisionError(f"VF {r.vf} of {r.pf} is in the host namespace as {vfi.netdev}, not as {r.original_netdev}")
        got = self.host.get_vf_config(r.pf, r.vf)
        if got != original:
            raise ProvisionError(f"VF {r.vf} of {r.pf} has settings {got.as_dict()}, not its original {original.as_dict()}")
        with self._lock:
            state.intents.remove(intent)
        return Outcome("release-vf", target, "done", f"home as {r.original_netdev}")
