"""Preflight: everything provisioning needs, checked before anything is touched."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sriovcheck.errors import SriovcheckError
from sriovcheck.host import capabilities
from sriovcheck.host.driver import PfInfo
from sriovcheck.provision.plan import vf_config_of
from sriovcheck.provision.state import StateStore
from sriovcheck.topology import LoadedTopology
from sriovcheck.topology.model import Topology


@dataclass
class PreflightItem:
    what: str
    ok: bool
    detail: str
    blocking: bool = True  # False: a note, provisioning can go on
    hint: str = ""


@dataclass
class PreflightReport:
    items: list[PreflightItem] = field(default_factory=list)
    pfs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking(self) -> list[PreflightItem]:
        return [i for i in self.items if not i.ok and i.blocking]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": not self.blocking, "items": [i.__dict__ for i in self.items], "pfs": self.pfs}

    def render(self) -> str:
        lines = []
        for i in self.items:
            mark = "ok  " if i.ok else ("FAIL" if i.blocking else "note")
            lines.append(f"[{mark}] {i.what}: {i.detail}")
            if i.hint and not i.ok:
                lines.append(f"       -> {i.hint}")
        for pf in self.pfs:
            lines.append(f"\nPF {pf['name']}: driver {pf.get('driver') or '?'}, {pf.get('pci_address') or 'no PCI address'}, "
                         f"link {pf.get('operstate') or '?'}, numvfs {pf.get('numvfs')}/{pf.get('totalvfs')}")
            lines.append("  VF  PCI address    driver            netdev")
            for vf in pf.get("vfs", []):
                lines.append(f"  {vf['index']:<3} {vf.get('pci_address') or '-':<14} {vf.get('driver') or '-':<17} "
                             f"{vf.get('netdev') or vf.get('where') or '-'}")
        verdict = "blocked: fix the FAIL lines above" if self.blocking else "ready to provision"
        lines.append(f"\npreflight: {verdict}")
        return "\n".join(lines) + "\n"


def preflight(loaded: LoadedTopology, *, lab: bool, progress: Any, build_context: Callable[..., Any]) -> PreflightReport:
    """Everything provisioning needs, looked at without changing anything.

    `build_context` is the caller's driver builder (workflow.build_context): preflight sits below the
    command layer and is handed it rather than importing it back.
    """
    t = loaded.topology
    rep = PreflightReport()
    is_root = os.geteuid() == 0
    rep.items.append(PreflightItem("privileges", is_root, "root" if is_root else f"uid {os.geteuid()}",
                                   hint="run as root (or with CAP_NET_ADMIN and CAP_SYS_ADMIN)"))
    try:
        ctx = build_context(loaded, lab=lab, progress=progress, bring_lab_up=False)
    except SriovcheckError as exc:
        rep.items.append(PreflightItem("drivers", False, exc.message, hint=exc.hint or ""))
        return rep
    try:
        version = ctx.runtime.engine_version()
        rep.items.append(PreflightItem("docker engine", True, f"reachable, version {version}"))
    except SriovcheckError as exc:
        rep.items.append(PreflightItem("docker engine", False, exc.message, hint=exc.hint or ""))
    if not lab:
        try:
            from sriovcheck.host.facts import host_facts
            from sriovcheck.host.sysfs import default_sysfs_root

            facts = host_facts(default_sysfs_root())
            iommu = facts.get("iommu", {})
            enabled = bool(iommu.get("enabled")) if isinstance(iommu, dict) else bool(iommu)
            note = iommu.get("note", "") if isinstance(iommu, dict) else ""
            rep.items.append(PreflightItem("IOMMU", enabled, "enabled" if enabled else "not enabled", blocking=False,
                                           hint=note or "needed only to pass VFs to VMs or vfio; netdev VFs in containers work without it"))
        except Exception as exc:  # a note only
            rep.items.append(PreflightItem("IOMMU", False, f"unknown ({exc})", blocking=False))
    state = StateStore(t.name).load()
    ours = {(r.pf, r.vf) for r in state.vfs if r.attached} if state else set()
    for pf in t.host.pfs:
        info = ctx.host.pf_info(pf.name)
        if not info.exists:
            rep.items.append(PreflightItem(f"PF {pf.name}", False, "does not exist",
                                           hint="check the name with `sriovcheck discover`"))
            continue
        if not info.sriov_capable:
            rep.items.append(PreflightItem(f"PF {pf.name}", False, "cannot do SR-IOV (no sriov_totalvfs)",
                                           hint="enable SR-IOV in the BIOS and NIC firmware; check the driver"))
            continue
        ok = pf.numvfs <= info.totalvfs
        rep.items.append(PreflightItem(f"PF {pf.name}", ok, f"totalvfs {info.totalvfs}, numvfs {info.numvfs}, want {pf.numvfs}",
                                       hint=f"the NIC supports at most {info.totalvfs} VFs"))
        rep.items.extend(driver_items(t, pf.name, pf.numvfs, info))
        if (info.operstate and info.operstate.lower() == "down") or info.carrier is False:
            carrier = "?" if info.carrier is None else int(info.carrier)
            rep.items.append(PreflightItem(f"PF {pf.name} link", False,
                                           f"no carrier (carrier {carrier}, operstate {(info.operstate or '?').upper()}): "
                                           "VFs with link_state auto get no carrier",
                                           blocking=False, hint=f"check the cable to {pf.switch_port} and the switch port"))
        vfs = []
        for vf in info.vfs:
            where = vf.netdev or ("in a container (ours)" if (pf.name, vf.index) in ours else "not in the host namespace")
            vfs.append({"index": vf.index, "pci_address": vf.pci_address, "driver": vf.driver, "netdev": vf.netdev, "where": where})
            if vf.netdev is None and (pf.name, vf.index) not in ours and any(
                    s.pf == pf.name and s.vf == vf.index for _c, s in t.attachments()):
                if not vf.has_netdev_driver:
                    rep.items.append(PreflightItem(f"{pf.name} VF {vf.index}", False, f"bound to {vf.driver}: no netdev",
                                                   hint="bind it to its kernel VF driver to use it in a container"))
                else:
                    rep.items.append(PreflightItem(f"{pf.name} VF {vf.index}", False, "inside another namespace or container",
                                                   hint="release it there first"))
        rep.pfs.append({"name": pf.name, "driver": info.driver, "pci_address": info.pci_address, "operstate": info.operstate,
                        "numvfs": info.numvfs, "totalvfs": info.totalvfs, "vfs": vfs})
    return rep


def driver_items(t: Topology, pf: str, want: int, info: PfInfo) -> list[PreflightItem]:
    """What the PF's driver (as sysfs names it) will refuse of the topology, from the capability
    table, before anything is changed: a VF count above the driver's limit, and each VF setting the
    driver refuses (FAIL) or accepts only under a condition (a note, or FAIL when the condition is
    unmet, e.g. a rate limit on a PF whose link is down)."""
    driver = info.driver or ""
    caps = capabilities.capabilities(driver)
    if caps is None and driver.endswith("-emulated"):
        return []  # the emulated lab's default NIC: its own refusals are its documentation
    if caps is None:
        return [PreflightItem(f"PF {pf} driver", False, f"{driver or 'no driver bound'}: not in sriovcheck's capability "
                              "table, so a setting it refuses shows only when provisioning", blocking=False,
                              hint="the table knows " + ", ".join(capabilities.CAPABILITIES))]
    items = []
    if caps.max_vfs is not None and want > caps.max_vfs:
        items.append(PreflightItem(f"PF {pf} driver", False, f"{driver} allows at most {caps.max_vfs} VFs, the topology "
                                   f"wants {want} (source: {caps.max_vfs_source})",
                                   hint=f"lower numvfs of {pf} to at most {caps.max_vfs}"))
    link_up = None if info.operstate is None else info.operstate.lower() in ("up", "unknown")
    found: dict[str, list[tuple[int, capabilities.Concern]]] = {}
    for _ct, spec in t.attachments():
        if spec.pf != pf:
            continue
        for concern in capabilities.concerns(driver, vf_config_of(spec), pf_link_up=link_up):
            found.setdefault(concern.setting, []).append((spec.vf, concern))
    for setting, uses in found.items():
        fact = uses[0][1].fact
        certain = [(vf, c) for vf, c in uses if c.certain]
        shown = certain or uses
        vfs = ", ".join(f"VF {vf} ({c.value})" for vf, c in shown)
        answer = f"it answers {fact.errno_name}" if fact.errno_name else "it does not report it back"
        if fact.status == "refused":
            detail = f"{driver} does not support {setting}{' 802.1ad' if setting == 'vlan_proto' else ''} ({answer}: {fact.detail})"
        elif certain:
            detail = f"{driver} will refuse {setting} here: {certain[0][1].why} ({fact.detail})"
        else:
            detail = f"{driver} accepts {setting} only under a condition: {fact.detail}"
        first_vf = shown[0][0]
        items.append(PreflightItem(
            f"PF {pf} ({driver}) {setting}", False, f"{detail}; asked for by {vfs} (source: {fact.source})",
            blocking=bool(certain),
            hint=capabilities.what_to_do(driver, pf, first_vf, setting, value_refused=fact.status != "refused")
            if certain else "provisioning stops with the driver's answer if the condition is not met, and rolls back",
        ))
    return items
