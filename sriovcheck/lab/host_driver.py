"""`HostDriver` for the emulated lab: the same seam as the real SR-IOV driver, over veth "VFs".

It behaves like an ixgbe PF where the emulation can: sriov_numvfs is changed through 0, VF settings
are read back after they are applied, and what ixgbe refuses is refused with the same reason
(802.1ad VF VLANs, a minimum TX rate). A VF whose container namespace died is recreated (a real VF
would come back to the host; a veth is destroyed with its namespace).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sriovcheck.errors import HostError, LabError, SettingRefused, StateError
from sriovcheck.host.driver import PfInfo, VfConfig, VfInfo
from sriovcheck.lab import fabric
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.fabric import IprFactory
from sriovcheck.lab.state import LabState, PfRecord
from sriovcheck.topology.names import normalise_mac

PF_DRIVER = "ixgbe-emulated"
VF_DRIVER = "ixgbevf-emulated"
PF_MODEL = "Ethernet Controller 10-Gigabit X540-AT2 (sriovcheck emulated lab)"
IGB_MODEL = "82576 Gigabit Network Connection (sriovcheck emulated lab, behaving as igb)"
MAX_TX_RATE_MBPS = 10_000  # the X540's link speed: ixgbe refuses a VF rate above it


class EmulatedHostDriver:
    kind = "emulated"

    def __init__(self, state_dir: Path | str, *, ipr_factory: IprFactory | None = None,
                 timeout_s: float = 10.0, nic_driver: str = "ixgbe") -> None:
        self.state_dir = Path(state_dir)
        # The lab's sockets are kept between calls (a provision or teardown makes dozens of them).
        self._factory: IprFactory = ipr_factory or fabric.KeptSockets()
        self.timeout_s = timeout_s
        # `lab.nic_driver: igb`: the PF is an "igb-emulated" that refuses what igb refuses
        # (sriovcheck.host.capabilities), with igb's errno and the real driver's message.
        self.nic_driver = nic_driver
        self.pf_driver = PF_DRIVER if nic_driver == "ixgbe" else f"{nic_driver}-emulated"
        self._read_cache: tuple[tuple[int, int, int], LabState] | None = None

    # ------------------------------------------------------------ helpers
    def _state(self) -> LabState:
        try:
            return lab_state.load(self.state_dir)
        except StateError as exc:
            raise HostError(f"emulated host: {exc.message}", hint=exc.hint) from exc

    def _pf(self, st: LabState, pf: str) -> PfRecord:
        try:
            return st.pf(pf)
        except KeyError:
            raise HostError(
                f"PF {pf} is not part of the emulated lab {st.topology}",
                hint=f"the lab's PFs are: {', '.join(p.name for p in st.pfs)}",
            ) from None

    def _vf_index(self, rec: PfRecord, vf: int) -> None:
        if not 0 <= vf < rec.numvfs:
            raise HostError(
                f"VF {vf} does not exist on {rec.name}: it has {rec.numvfs} VFs",
                hint=f"raise sriov_numvfs of {rec.name} (at most {rec.totalvfs}) or use VF 0..{rec.numvfs - 1}",
            )

    def _update_pf(self, pf: str, mutate: Callable[[LabState], None]) -> tuple[LabState, dict[int, fabric.VfFacts]]:
        try:
            return fabric.update_pf_vfs(self.state_dir, pf, mutate, ipr_factory=self._factory)
        except (LabError, StateError) as exc:
            if isinstance(exc, HostError):
                raise
            raise HostError(f"emulated host: {exc.message}", hint=exc.hint) from exc

    def _update_vf(self, pf: str, vf: int, mutate: Callable[[LabState], None]) -> tuple[LabState, fabric.VfFacts]:
        try:
            return fabric.update_vf(self.state_dir, pf, vf, mutate, ipr_factory=self._factory)
        except (LabError, StateError) as exc:
            if isinstance(exc, HostError):
                raise
            raise HostError(f"emulated host: {exc.message}", hint=exc.hint) from exc

    # ------------------------------------------------------------ HostDriver
    def pf_info(self, pf: str) -> PfInfo:
        try:
            st = self._state_to_read()  # read only; verify asks for each PF's look ~5 times
            rec = st.pf(pf)
        except (HostError, KeyError):
            return PfInfo(name=pf, exists=False)
        try:
            with fabric.open_handles(st, self._factory) as h:
                lf, ends = fabric.locate_pf(h, st, rec)
        except LabError:
            return PfInfo(name=pf, exists=False)
        if lf is None or not fabric.is_our_alias(lf.alias, st.topology):
            return PfInfo(name=pf, exists=False)
        operstate = "up" if lf.operstate == "UP" else "down" if lf.operstate else "unknown"
        return PfInfo(
            name=pf, exists=True, sriov_capable=True, totalvfs=rec.totalvfs, numvfs=rec.numvfs,
            pci_address=rec.pci_address, driver=self.pf_driver,
            model=PF_MODEL if self.nic_driver == "ixgbe" else IGB_MODEL, operstate=operstate, carrier=lf.carrier, mtu=lf.mtu,
            mac=lf.mac, vfs=[VfInfo(pf=rec.name, index=v.index, pci_address=fabric.pci_address(rec.index, v.index),
                                    driver=VF_DRIVER, netdev=end.name if end else None) for v, end in zip(rec.vfs, ends, strict=True)],
        )

    def set_numvfs(self, pf: str, count: int) -> None:
        rec = self._pf(self._state(), pf)
        if not 0 <= count <= rec.totalvfs:
            raise HostError(f"cannot set {count} VFs on {pf}: sriov_totalvfs is {rec.totalvfs}",
                            hint=f"use 0..{rec.totalvfs}")

        def set_count(n: int) -> Callable[[LabState], None]:
            def mutate(st: LabState) -> None:
                p = st.pf(pf)
                if p.numvfs != n:
                    p.numvfs = n
                    p.vfs = fabric.fresh_vfs(p, n)
            return mutate

        current = rec.numvfs
        if current not in (0, count):
            self._update_pf(pf, set_count(0))  # as on real hardware: a non-zero count only changes through 0
        deadline = time.monotonic() + self.timeout_s
        st, facts = self._update_pf(pf, set_count(count))
        while True:
            missing = [v.netdev for v in st.pf(pf).vfs if facts[v.index].root_end is None and facts[v.index].peer is None]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise HostError(f"{pf}: VF netdevs {', '.join(missing)} did not appear within {self.timeout_s:.0f} s",
                                hint="run `sriovcheck lab up` to repair the lab")
            time.sleep(0.1)
            st, facts = self._update_pf(pf, lambda _st: None)

    def vf_info(self, pf: str, vf: int) -> VfInfo:
        st = self._state_to_read()
        rec = self._pf(st, pf)
        self._vf_index(rec, vf)
        # A look first, without the lab's lock; a VF whose veth pair died with its container's
        # namespace (or whose links are off their settings) is repaired under the lock on the way.
        with fabric.open_handles(st, self._factory) as h:
            facts = fabric.vf_in_order(h, st, rec, rec.vfs[vf])
        if facts is None:
            _st, facts = self._update_vf(pf, vf, lambda _st: None)
        return VfInfo(pf=pf, index=vf, pci_address=fabric.pci_address(rec.index, vf), driver=VF_DRIVER,
                      netdev=facts.root_end.name if facts.root_end else None)

    def find_vf_in_netns(self, pf: str, vf: int, netns_path: str) -> str | None:
        """The VF's netdev name inside another network namespace (a container's), whatever it is called
        there: the emulated VF carries its alias wherever it goes, as a real VF carries its PCI device."""
        from sriovcheck.host.netns import list_link_aliases

        alias = fabric.vf_alias(self._state().topology, pf, vf)
        return next((name for name, a in list_link_aliases(netns_path).items() if a == alias), None)

    def _state_to_read(self) -> LabState:
        """The lab state for a look that changes nothing, parsed again only when the file changed:
        every change replaces it atomically (write, rename), so inode, mtime and size tell. verify
        looks at every VF's settings: at 32 VFs, 32 parses of the same file were ~0.1 s of CPU.
        Callers get the shared object: read it, never change it (`_state()` gives a private copy)."""
        try:
            info = os.stat(lab_state.state_path(self.state_dir))
        except OSError:
            return self._state()
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._read_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        st = self._state()
        self._read_cache = (key, st)
        return st

    def get_vf_config(self, pf: str, vf: int) -> VfConfig:
        st = self._state_to_read()  # VfConfig is frozen: nothing of the shared state leaves
        rec = self._pf(st, pf)
        self._vf_index(rec, vf)
        return rec.vfs[vf].config

    def set_vf_config(self, pf: str, vf: int, config: VfConfig) -> None:
        st = self._state_to_read()  # the checks below read; the change is made on a fresh load, under the lock
        rec = self._pf(st, pf)
        self._vf_index(rec, vf)
        old = rec.vfs[vf].config
        if self.nic_driver != "ixgbe":
            self._refusals(pf, vf, old, config, pf_link_up=pf not in st.faults.pf_down)
        config = self._checked(pf, vf, config)

        def put(cfg: VfConfig) -> Callable[[LabState], None]:
            def mutate(s: LabState) -> None:
                s.pf(pf).vfs[vf].config = cfg
            return mutate

        st, facts = self._update_vf(pf, vf, put(config))
        problems = self._read_back(st, pf, vf, config, facts)
        if problems:
            self._update_vf(pf, vf, put(old))
            raise HostError(
                f"{pf} VF {vf}: the emulated NIC did not take {', '.join(problems)} (rolled back)",
                hint="run `sriovcheck lab up` to repair the lab, then retry",
            )

    # ------------------------------------------------------------ checks
    def _refusals(self, pf: str, vf: int, current: VfConfig, config: VfConfig, *, pf_link_up: bool) -> None:
        """What the emulated driver refuses, before anything is changed, as the real one answers it.
        (Only a PF emulating igb refuses anything: the driver facts are imported then, not by every command.)"""
        from sriovcheck.host import capabilities

        changed = {k: v for k, v in capabilities.used_settings(config).items()
                   if capabilities.used_settings(current).get(k) != v}
        for concern in capabilities.concerns(self.pf_driver, config, pf_link_up=pf_link_up):
            if concern.setting not in changed or not concern.certain or concern.fact.errno is None:
                continue
            code, setting = concern.fact.errno, concern.setting
            raise SettingRefused(
                f"{capabilities.refusal_text(self.nic_driver, pf, vf, setting, concern.value, code)} "
                f"(the emulated {self.nic_driver} said: {os.strerror(code)}); nothing had been changed on VF {vf}",
                hint=(f"{concern.why}: " if concern.why else "") + capabilities.refusal_hint(self.pf_driver, pf, vf, setting, code),
                driver=self.pf_driver, pf=pf, vf=vf, setting=setting, code=code,
            )

    def _checked(self, pf: str, vf: int, c: VfConfig) -> VfConfig:
        where = f"{pf} VF {vf}"
        if not 0 <= c.vlan <= 4094:
            raise HostError(f"{where}: VLAN {c.vlan} is out of range", hint="use 0..4094 (0 = no VLAN)")
        if not 0 <= c.qos <= 7:
            raise HostError(f"{where}: QoS {c.qos} is out of range", hint="use a priority of 0..7")
        if c.vlan_proto != "802.1Q":
            raise HostError(f"{where}: the driver refused VLAN protocol {c.vlan_proto} (ixgbe answers "
                            "EPROTONOSUPPORT: it does 802.1Q VF VLANs only)", hint="use vlan_proto 802.1Q")
        if c.link_state not in ("auto", "enable", "disable"):
            raise HostError(f"{where}: link_state {c.link_state!r} is not auto, enable or disable")
        if c.min_tx_rate_mbps:
            raise HostError(f"{where}: the driver refused min_tx_rate {c.min_tx_rate_mbps} Mbit/s (ixgbe answers "
                            "EINVAL: it has no minimum rate)", hint="leave min_tx_rate_mbps at 0")
        if not 0 <= c.max_tx_rate_mbps <= MAX_TX_RATE_MBPS:
            raise HostError(f"{where}: max_tx_rate {c.max_tx_rate_mbps} Mbit/s is above the link speed",
                            hint=f"use 0 (no limit) .. {MAX_TX_RATE_MBPS}")
        if c.mac is not None:
            mac = normalise_mac(c.mac)
            if mac is None or int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
                raise HostError(f"{where}: {c.mac!r} is not a unicast MAC address",
                                hint="use six hex octets with an even first octet, e.g. 02:00:00:00:02:01")
            c = replace(c, mac=mac)
        return c

    def _read_back(self, st: LabState, pf: str, vf: int, want: VfConfig, facts: fabric.VfFacts) -> list[str]:
        rec = st.pf(pf)
        problems = [] if rec.vfs[vf].config == want else ["the stored configuration"]
        if facts.peer is None:
            return [*problems, "the VF (its NIC-side link is missing)"]
        if facts.peer_master != (fabric.nic_bridge(rec.index, want.vlan) if want.vlan else None):
            problems.append(f"VLAN {want.vlan}")
        if facts.peer.admin_up != fabric.vf_link_up(want.link_state, pf not in st.faults.pf_down):
            problems.append(f"link_state {want.link_state}")
        if want.mac is not None and facts.root_end is not None and (facts.root_end.mac or "").lower() != want.mac:
            problems.append(f"MAC {want.mac}")
        return problems
