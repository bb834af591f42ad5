"""The real Linux SR-IOV host driver: sysfs for VF counts and names, netlink on the PF for VF settings.

Side-effect handles come in through the constructor (sysfs root, an IPRoute factory, the clock,
the sysfs writer), so that the whole driver runs against a fake sysfs tree and a recording
netlink object in tests.
"""

from __future__ import annotations

import copy
import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from sriovcheck.errors import HostError, SettingRefused
from sriovcheck.host import capabilities, sysfs
from sriovcheck.host.driver import LinkState, PfInfo, VfConfig, VfInfo, VlanProto
from sriovcheck.host.netlink import NetlinkError, ifinfmsg
from sriovcheck.topology import names

RTEXT_FILTER_VF = 1
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
# The kernel presets spoofchk / trust to -1 before asking the driver, so that "the driver did
# not say" is visible; as the u32 netlink carries it, that is 0xffffffff.
NOT_REPORTED = 0xFFFFFFFF
ZERO_MAC = "00:00:00:00:00:00"

LINK_STATES: dict[int, LinkState] = {0: "auto", 1: "enable", 2: "disable"}
LINK_STATE_IDS: dict[LinkState, int] = {v: k for k, v in LINK_STATES.items()}
PROTOS: dict[int, VlanProto] = {ETH_P_8021Q: "802.1Q", ETH_P_8021AD: "802.1ad"}

NUMVFS_HINTS: dict[int, str] = {
    errno.EBUSY: (
        "the VFs are in use: a VF is still inside a container, attached to a VM or bound to vfio-pci; "
        "release them (sriovcheck down) and retry"
    ),
    errno.EINVAL: (
        "the driver or firmware refuses this count: the NIC's firmware/BIOS may allow fewer VFs than "
        "sriov_totalvfs, or SR-IOV is disabled in the BIOS; check `dmesg` for the driver's reason"
    ),
    errno.ERANGE: "the count is above sriov_totalvfs",
    errno.ENOMEM: (
        "the kernel could not allocate PCI resources for the VFs; check `dmesg`, a BIOS option "
        "(SR-IOV / above-4G decoding) or the kernel parameter pci=realloc may be needed"
    ),
    errno.EPERM: "writing sriov_numvfs needs root: run sriovcheck as root",
    errno.EACCES: "writing sriov_numvfs needs root: run sriovcheck as root",
}

SETTING_HINTS: dict[int, str] = {
    errno.EOPNOTSUPP: (
        "this driver does not support the setting: leave it at its default in the topology "
        "(e.g. link_state: auto, trust: false, rates 0) or use a NIC whose driver supports it"
    ),
    errno.EINVAL: (
        "the driver refuses this value (e.g. a rate above the link speed, min_tx_rate on a driver "
        "with max only, 802.1ad on a NIC without QinQ, a MAC the PF already uses)"
    ),
    errno.EPERM: "changing VF settings needs root or CAP_NET_ADMIN",
    errno.EBUSY: "the VF is busy: the driver may refuse changes while the VF's netdev is up in a container",
    errno.EAGAIN: (
        "the VF is not ready yet (i40e and ice answer EAGAIN while the VF is still resetting, some drivers apply "
        "a MAC late): run provision again in a moment; `dmesg` shows the driver's reason"
    ),
}


def _pad_vlan_info_like_the_kernel() -> None:
    """pyroute2 (0.9.7) packs IFLA_VF_VLAN_INFO as 14 bytes, the kernel's struct ifla_vf_vlan_info
    is 16 (padded). Kernels with the rtnetlink fix "nla_len(attr) < sizeof(struct
    ifla_vf_vlan_info)" (6.1.y stable among them) refuse the short one with EINVAL, so every VLAN
    list request - the only way to ask for 802.1ad - failed on a real kernel whatever the driver
    (recorded with igb: tests/data/igb-guest/). Add the padding once; decoding is unaffected."""
    ivvi = ifinfmsg.vflist.vfinfo.vf_vlist.ivvi
    if not any(name == "__pad" for name, _ in ivvi.fields):
        ivvi.fields = (*ivvi.fields, ("__pad", "2x"))


_pad_vlan_info_like_the_kernel()


class IPRouteLike(Protocol):
    """The part of pyroute2's IPRoute this driver uses."""

    def link(self, command: str, **kwarg: Any) -> Any: ...

    def link_lookup(self, **kwarg: Any) -> Any: ...

    def close(self) -> None: ...


def default_ipr_factory() -> IPRouteLike:
    """A real netlink socket in the current namespace (opened on use, never at import)."""
    from sriovcheck.host.netlink import IPRoute

    ipr: IPRouteLike = IPRoute()
    return ipr


def _errno_text(exc: BaseException) -> tuple[int, str]:
    """(errno, "No such device (ENODEV)"); NetlinkError carries (code, message) in args."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None) or 0
    message = exc.args[1] if isinstance(exc, NetlinkError) and len(exc.args) > 1 else None
    text = str(message or (os.strerror(code) if code else exc))
    # errno 95 has two names; netlink users know it as EOPNOTSUPP, Python's table says ENOTSUP.
    name = "EOPNOTSUPP" if code == errno.EOPNOTSUPP else errno.errorcode.get(code, f"errno {code}")
    return code, f"{text} ({name})"


# --- netlink <-> VfConfig (pure) -----------------------------------------------------------------

def _flag(value: int | None) -> bool | None:
    if value is None or value == NOT_REPORTED:
        return None
    return bool(value)


def parse_vfinfo(vfinfo: Any) -> tuple[int, VfConfig]:
    """One IFLA_VF_INFO (as pyroute2 decodes it) -> (VF index, its settings)."""
    mac_attr = vfinfo.get_attr("IFLA_VF_MAC")
    index = int(mac_attr["vf"])
    mac = str(mac_attr["mac"]).lower()
    vlan, qos, proto = 0, 0, ETH_P_8021Q
    vlist = vfinfo.get_attr("IFLA_VF_VLAN_LIST")
    infos = vlist.get_attrs("IFLA_VF_VLAN_INFO") if vlist is not None else []
    if infos:
        vlan, qos, proto = int(infos[0]["vlan"]), int(infos[0]["qos"]), int(infos[0]["proto"])
    else:
        v = vfinfo.get_attr("IFLA_VF_VLAN")
        if v is not None:
            vlan, qos = int(v["vlan"]), int(v["qos"])
    spoof = vfinfo.get_attr("IFLA_VF_SPOOFCHK")
    trust = vfinfo.get_attr("IFLA_VF_TRUST")
    link = vfinfo.get_attr("IFLA_VF_LINK_STATE")
    rate = vfinfo.get_attr("IFLA_VF_RATE")
    if rate is not None:
        min_rate, max_rate = int(rate["min_tx_rate"]), int(rate["max_tx_rate"])
    else:
        old = vfinfo.get_attr("IFLA_VF_TX_RATE")
        min_rate, max_rate = 0, int(old["tx_rate"]) if old is not None else 0
    return index, VfConfig(
        vlan=vlan,
        qos=qos,
        vlan_proto=PROTOS.get(proto, "802.1Q"),
        mac=None if mac == ZERO_MAC else mac,
        spoofchk=_flag(spoof["spoofchk"] if spoof is not None else None),
        trust=_flag(trust["trust"] if trust is not None else None),
        link_state=LINK_STATES.get(int(link["link_state"]), "auto") if link is not None else "auto",
        min_tx_rate_mbps=min_rate,
        max_tx_rate_mbps=max_rate,
    )


def _vlan_key(c: VfConfig) -> tuple[int, int, str]:
    # Without a VLAN, qos and proto mean nothing to the NIC.
    return (c.vlan, c.qos, c.vlan_proto) if c.vlan else (0, 0, "802.1Q")


def _vlan_spec(c: VfConfig) -> dict[str, Any]:
    if c.vlan and c.vlan_proto == "802.1ad":
        # Only IFLA_VF_VLAN_LIST carries a protocol; IFLA_VF_VLAN is always 802.1Q.
        return {"vlan": [{"vlan": c.vlan, "qos": c.qos, "proto": ETH_P_8021AD}]}
    return {"vlan": {"vlan": c.vlan, "qos": c.qos if c.vlan else 0}}


@dataclass(frozen=True)
class _Step:
    setting: str
    shown: str
    spec: dict[str, Any]
    undo: dict[str, Any]


# What a driver answers when it refuses a VF setting (not a passing failure): named as a refusal.
REFUSALS = frozenset({errno.EOPNOTSUPP, errno.EPROTONOSUPPORT, errno.EINVAL, errno.ERANGE})


def refused_setting(driver: str, step: _Step, current: VfConfig, target: VfConfig, code: int) -> tuple[str, str]:
    """The topology's setting (VfSpec field name) a refused netlink step stands for, and its value.
    One IFLA_VF_VLAN_LIST carries VLAN, QoS and protocol, one IFLA_VF_RATE both rates."""
    if step.setting == "vlan":
        if target.vlan and target.vlan_proto == "802.1ad" and code == errno.EPROTONOSUPPORT:
            return "vlan_proto", "802.1ad"
        return "vlan", f"{target.vlan}" + (f" qos {target.qos}" if target.qos else "")
    if step.setting == "rate":
        min_changed = target.min_tx_rate_mbps != current.min_tx_rate_mbps
        max_changed = target.max_tx_rate_mbps != current.max_tx_rate_mbps
        caps = capabilities.capabilities(driver)
        min_refused = caps is not None and caps.fact("min_tx_rate_mbps").status == "refused"
        if min_changed and target.min_tx_rate_mbps and (not max_changed or min_refused):
            return "min_tx_rate_mbps", str(target.min_tx_rate_mbps)
        if max_changed and not (min_changed and target.min_tx_rate_mbps):
            return "max_tx_rate_mbps", str(target.max_tx_rate_mbps)
        return "min_tx_rate_mbps/max_tx_rate_mbps", f"{target.min_tx_rate_mbps}/{target.max_tx_rate_mbps}"
    return step.setting, step.shown


def plan_vf_changes(current: VfConfig, target: VfConfig) -> list[_Step]:
    """The netlink changes that take `current` to `target`, in the order drivers need
    (VLAN/QoS/proto, MAC, rates, spoofchk, trust, link_state); unchanged settings are left out."""
    steps: list[_Step] = []
    if _vlan_key(current) != _vlan_key(target):
        # VLAN 0 goes out only here, to clear a VLAN that is set: some NICs treat an explicit
        # VLAN 0 as a tag and stop trunking.
        shown = f"vlan {target.vlan} qos {target.qos} proto {target.vlan_proto}" if target.vlan else "vlan 0 (clear)"
        steps.append(_Step("vlan", shown, _vlan_spec(target), _vlan_spec(current)))
    if current.mac != target.mac:
        steps.append(_Step("mac", target.mac or ZERO_MAC, {"mac": target.mac or ZERO_MAC},
                           {"mac": current.mac or ZERO_MAC}))
    if (current.min_tx_rate_mbps, current.max_tx_rate_mbps) != (target.min_tx_rate_mbps, target.max_tx_rate_mbps):
        steps.append(_Step(
            "rate", f"min_tx_rate {target.min_tx_rate_mbps} max_tx_rate {target.max_tx_rate_mbps} Mbit/s",
            {"rate": {"min_tx_rate": target.min_tx_rate_mbps, "max_tx_rate": target.max_tx_rate_mbps}},
            {"rate": {"min_tx_rate": current.min_tx_rate_mbps, "max_tx_rate": current.max_tx_rate_mbps}},
        ))
    for setting in ("spoofchk", "trust"):
        want, have = getattr(target, setting), getattr(current, setting)
        if want is not None and want != have:
            undo = {setting: int(have)} if have is not None else {}
            steps.append(_Step(setting, "on" if want else "off", {setting: int(want)}, undo))
    if current.link_state != target.link_state:
        steps.append(_Step("link_state", target.link_state, {"link_state": LINK_STATE_IDS[target.link_state]},
                           {"link_state": LINK_STATE_IDS[current.link_state]}))
    return steps


def _differences(expected: VfConfig, got: VfConfig, steps: list[_Step]) -> list[str]:
    out = []
    for step in steps:
        if step.setting == "vlan":
            if _vlan_key(expected) != _vlan_key(got):
                out.append(f"vlan {_vlan_key(got)} instead of {_vlan_key(expected)}")
        elif step.setting == "rate":
            if (got.min_tx_rate_mbps, got.max_tx_rate_mbps) != (expected.min_tx_rate_mbps, expected.max_tx_rate_mbps):
                out.append(f"rate {got.min_tx_rate_mbps}/{got.max_tx_rate_mbps} instead of "
                           f"{expected.min_tx_rate_mbps}/{expected.max_tx_rate_mbps} Mbit/s")
        else:
            want, have = getattr(expected, step.setting), getattr(got, step.setting)
            # A driver that does not report spoofchk/trust cannot be checked; not a mismatch.
            if have is not None and want != have:
                out.append(f"{step.setting} {have} instead of {want}")
    return out


# --- the driver ----------------------------------------------------------------------------------

class LinuxHostDriver:
    kind = "linux"

    def __init__(
        self,
        sysfs_root: Path,
        *,
        ipr_factory: Callable[[], IPRouteLike],
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        vf_appear_timeout_s: float = 10.0,
        poll_interval_s: float = 0.1,
        mac_attempts: int = 5,
        write_attr: Callable[[Path, str], None] = sysfs.write_attr,
    ) -> None:
        self.root = sysfs_root
        self._ipr_factory = ipr_factory
        self._sleep = sleep
        self._monotonic = monotonic
        self.vf_appear_timeout_s = vf_appear_timeout_s
        self.poll_interval_s = poll_interval_s
        self.mac_attempts = mac_attempts
        self._write_attr = write_attr

    # --- sysfs side ---------------------------------------------------------------------------

    def pf_info(self, pf: str) -> PfInfo:
        r = self.root
        if not sysfs.netdev_exists(r, pf):
            return PfInfo(name=pf, exists=False)
        pci = sysfs.netdev_pci_address(r, pf)
        return PfInfo(
            name=pf,
            exists=True,
            sriov_capable=sysfs.is_sriov_capable(r, pf),
            totalvfs=sysfs.totalvfs(r, pf) or 0,
            numvfs=sysfs.numvfs(r, pf) or 0,
            pci_address=pci,
            driver=sysfs.device_driver(r, pci) if pci else None,
            model=sysfs.device_model(r, pci) if pci else None,
            operstate=sysfs.operstate(r, pf),
            carrier=self._netlink_carrier(pf),
            mtu=sysfs.mtu(r, pf),
            mac=sysfs.address(r, pf),
            vfs=[self._vf_info(pf, n) for n in sysfs.vf_indices(r, pf)],
        )

    def _netlink_carrier(self, pf: str) -> bool | None:
        """IFLA_CARRIER of the PF, None when netlink cannot say. From netlink rather than sysfs: reading
        sysfs `carrier` of a link that is set down fails with EINVAL, and a PF without its link is exactly
        what the diagnosis must name (the kernel reports IFLA_CARRIER 0 for a link that is not running)."""
        try:
            ipr = self._ipr_factory()
        except (OSError, NetlinkError):
            return None
        try:
            found = list(ipr.link_lookup(ifname=pf))
            if not found:
                return None
            msgs = list(ipr.link("get", index=int(found[0])))
        except (OSError, NetlinkError):
            return None
        finally:
            ipr.close()
        carrier = msgs[0].get_attr("IFLA_CARRIER") if msgs else None
        return None if carrier is None else bool(carrier)

    def _require_sriov_pf(self, pf: str) -> None:
        if not sysfs.netdev_exists(self.root, pf):
            raise HostError(
                f"PF {pf}: no such network interface ({sysfs.netdev_dir(self.root, pf)} is missing)",
                hint="check host.pfs in the topology; `sriovcheck discover` lists the SR-IOV NICs of this host",
            )
        if not sysfs.is_sriov_capable(self.root, pf):
            raise HostError(
                f"PF {pf}: not SR-IOV capable ({sysfs.pf_device_dir(self.root, pf) / 'sriov_totalvfs'} is missing)",
                hint="enable SR-IOV (and VT-d / IOMMU) in the BIOS and the NIC firmware, check that the PF "
                "driver supports SR-IOV; `sriovcheck discover` lists capable NICs",
            )

    def _vf_info(self, pf: str, n: int) -> VfInfo:
        r = self.root
        driver = sysfs.vf_driver(r, pf, n)
        return VfInfo(
            pf=pf,
            index=n,
            pci_address=sysfs.vf_pci_address(r, pf, n),
            driver=driver,
            netdev=sysfs.vf_netdev(r, pf, n),
            has_netdev_driver=driver not in sysfs.NO_NETDEV_DRIVERS,
        )

    def vf_info(self, pf: str, vf: int) -> VfInfo:
        self._require_sriov_pf(pf)
        if not sysfs.vf_device_dir(self.root, pf, vf).exists():
            count = sysfs.numvfs(self.root, pf) or 0
            have = f"VFs 0..{count - 1}" if count else "no VFs"
            raise HostError(
                f"PF {pf}: VF {vf} does not exist ({pf} has {have})",
                hint=f"create the VFs first (numvfs under host.pfs, or `sriovcheck up`); {pf} allows "
                f"up to {sysfs.totalvfs(self.root, pf)}",
            )
        return self._vf_info(pf, vf)

    def find_vf_netdev_by_pci(self, pf: str, vf: int) -> str | None:
        """The VF's netdev in this namespace, whatever it is called now (e.g. eth1 after its
        container died), through the VF's PCI address."""
        pci = sysfs.vf_pci_address(self.root, pf, vf)
        if pci is None:
            return None
        found = sysfs.netdevs_by_pci(self.root, pci)
        return found[0] if found else None

    def find_vf_in_netns(self, pf: str, vf: int, netns_path: str) -> str | None:
        """The VF's netdev inside another network namespace (a container's), whatever it is called there:
        found by the VF's PCI device (IFLA_PARENT_DEV_NAME), never by name."""
        from sriovcheck.host.netns import list_link_parents

        pci = sysfs.vf_pci_address(self.root, pf, vf)
        if pci is None:
            return None
        return next((name for name, parent in list_link_parents(netns_path).items() if parent == pci), None)

    def find_vf_netdev_by_mac(self, pf: str, vf: int, mac: str) -> str | None:
        """A netdev with this MAC that is a VF of `pf` (VF `vf` when its PCI address is known).
        Virtual devices that share the MAC (macvlan, bridge) have no PCI device and never match."""
        want = names.normalise_mac(mac)
        if want is None:
            raise ValueError(f"not a MAC address: {mac!r}")
        r = self.root
        vf_pci = sysfs.vf_pci_address(r, pf, vf)
        pf_pci = sysfs.netdev_pci_address(r, pf)
        for dev in sysfs.all_netdevs(r):
            if not names.LINUX_IFNAME.fullmatch(dev) or dev == pf:
                continue
            if names.normalise_mac(sysfs.address(r, dev) or "") != want:
                continue
            pci = sysfs.netdev_pci_address(r, dev)
            if pci is None:
                continue
            if vf_pci is not None:
                if pci == vf_pci:
                    return dev
            elif pf_pci is not None and sysfs.pf_of_vf(r, pci)[0] == pf_pci:
                return dev
        return None

    def set_numvfs(self, pf: str, count: int) -> None:
        self._require_sriov_pf(pf)
        total = sysfs.totalvfs(self.root, pf) or 0
        if count < 0 or count > total:
            raise HostError(
                f"PF {pf}: cannot create {count} VFs, its sriov_totalvfs is {total}",
                hint=f"lower host.pfs[{pf}].numvfs to at most {total}; a higher total needs a NIC firmware "
                "setting (e.g. mlxconfig SRIOV_EN/NUM_OF_VFS, or the BIOS)",
            )
        current = sysfs.numvfs(self.root, pf) or 0
        if current == count:
            # Nothing to do; and no waiting: these VFs may be in containers, out of this namespace.
            return
        had_carrier = self._carrier(pf)
        # The kernel answers EBUSY to N over a non-zero M: the count must go through 0.
        if current:
            self._write_numvfs(pf, 0, count)
        if count:
            self._write_numvfs(pf, count, count)
            self._wait_for_vfs(pf, count)
        if had_carrier:
            self._wait_for_carrier(pf)

    def _carrier(self, pf: str) -> bool:
        try:
            return (sysfs.netdev_dir(self.root, pf) / "carrier").read_text().strip() == "1"
        except OSError:
            return False

    def _wait_for_carrier(self, pf: str) -> None:
        """Some PF drivers reset the NIC when the VF count changes (igb does: its link goes down for a
        few seconds, and meanwhile it refuses a VF's max_tx_rate with EINVAL). A PF that had its link
        before gets a bounded wait for it to come back; one that does not is left to the checks."""
        deadline = self._monotonic() + self.vf_appear_timeout_s
        while not self._carrier(pf) and self._monotonic() < deadline:
            self._sleep(self.poll_interval_s)

    def _write_numvfs(self, pf: str, value: int, goal: int) -> None:
        path = sysfs.numvfs_path(self.root, pf)
        try:
            self._write_attr(path, str(value))
        except OSError as exc:
            code, text = _errno_text(exc)
            raise HostError(
                f"PF {pf}: writing {value} to {path} (to get {goal} VFs) failed: {text}; driver {self._driver_of(pf)}",
                hint=NUMVFS_HINTS.get(code, "check `dmesg` for the PF driver's reason"),
            ) from exc

    def _wait_for_vfs(self, pf: str, count: int) -> None:
        """Bounded wait until each of the `count` VFs exists and has its netdev (VF netdevs
        appear asynchronously after the write). VFs bound to vfio-pci/uio never get one."""
        deadline = self._monotonic() + self.vf_appear_timeout_s
        autoprobe = sysfs.drivers_autoprobe(self.root, pf)
        while True:
            missing = []
            for n in range(count):
                info = self._vf_info(pf, n)
                if info.pci_address is None:
                    missing.append(f"VF {n} (no virtfn{n} link yet)")
                elif not info.has_netdev_driver or info.netdev is not None:
                    continue
                elif info.driver is None and not autoprobe:
                    continue  # sriov_drivers_autoprobe=0: nothing will bind, nothing to wait for
                else:
                    missing.append(f"VF {n} ({info.pci_address}, driver {info.driver or 'none bound yet'})")
            if not missing:
                return
            if self._monotonic() >= deadline:
                raise HostError(
                    f"PF {pf}: {len(missing)} of {count} VFs have no netdev after "
                    f"{self.vf_appear_timeout_s:g} s: {', '.join(missing)}",
                    hint="check `dmesg`: the VF driver (ixgbevf, iavf, mlx5_core ...) may be missing, "
                    "blacklisted or failing; VFs meant for DPDK must be bound to vfio-pci instead",
                )
            self._sleep(self.poll_interval_s)

    # --- netlink side -------------------------------------------------------------------------

    def _pf_index(self, ipr: IPRouteLike, pf: str) -> int:
        names.require(names.LINUX_IFNAME, pf, "interface name")
        found = list(ipr.link_lookup(ifname=pf))
        if not found:
            raise HostError(f"PF {pf}: netlink knows no such interface in this namespace",
                            hint="check host.pfs in the topology (`sriovcheck discover`)")
        return int(found[0])

    def _driver_of(self, pf: str) -> str:
        pci = sysfs.netdev_pci_address(self.root, pf)
        return (sysfs.device_driver(self.root, pci) if pci else None) or "unknown driver"

    def _read_config(self, ipr: IPRouteLike, pf: str, index: int, vf: int) -> VfConfig:
        try:
            msgs = list(ipr.link("get", index=index, ext_mask=RTEXT_FILTER_VF))
        except NetlinkError as exc:
            raise HostError(f"PF {pf}: reading its VF list over netlink failed: {_errno_text(exc)[1]}",
                            hint="run as root or with CAP_NET_ADMIN") from exc
        vflist = msgs[0].get_attr("IFLA_VFINFO_LIST") if msgs else None
        infos = vflist.get_attrs("IFLA_VF_INFO") if vflist is not None else []
        for vfinfo in infos:
            index_, config = parse_vfinfo(vfinfo)
            if index_ == vf:
                return config
        raise HostError(
            f"PF {pf}: the driver ({self._driver_of(pf)}) reports no VF {vf} over netlink "
            f"({len(infos)} VFs in IFLA_VFINFO_LIST)",
            hint=f"create the VFs first (numvfs of {pf} in the topology, or `sriovcheck up`)",
        )

    def get_vf_config(self, pf: str, vf: int) -> VfConfig:
        ipr = self._ipr_factory()
        try:
            return self._read_config(ipr, pf, self._pf_index(ipr, pf), vf)
        finally:
            ipr.close()

    def set_vf_config(self, pf: str, vf: int, config: VfConfig) -> None:
        if config.mac is not None:
            names.mac_address(config.mac)
        target = replace(config, mac=names.normalise_mac(config.mac) if config.mac else None)
        ipr = self._ipr_factory()
        try:
            index = self._pf_index(ipr, pf)
            current = self._read_config(ipr, pf, index, vf)
            steps = plan_vf_changes(current, target)
            done: list[_Step] = []
            for step in steps:
                try:
                    self._send(ipr, index, vf, step.spec)
                    done.append(step)
                    if step.setting == "mac":
                        self._confirm_mac(ipr, pf, index, vf, step)
                except NetlinkError as exc:
                    # `done` holds the MAC step itself when the send worked but the read-back did not.
                    undo_problems = self._undo(ipr, index, vf, done)
                    code, text = _errno_text(exc)
                    if code in REFUSALS and step not in done:
                        raise self._refused(pf, vf, step, current, target, code,
                                            self._undo_note_for(vf, done, undo_problems)) from exc
                    raise HostError(
                        f"PF {pf} VF {vf}: the driver ({self._driver_of(pf)}) refused {step.setting} "
                        f"= {step.shown}: {text}" + self._undo_note(done, undo_problems),
                        hint=SETTING_HINTS.get(code, "check `dmesg` for the driver's reason"),
                    ) from exc
            if not steps:
                return
            got = self._read_config(ipr, pf, index, vf)
            diffs = _differences(target, got, steps)
            if diffs:
                undo_problems = self._undo(ipr, index, vf, done)
                raise HostError(
                    f"PF {pf} VF {vf}: after setting, the driver ({self._driver_of(pf)}) reports "
                    + "; ".join(diffs) + self._undo_note(done, undo_problems),
                    hint="the driver accepted the value but applied another one; check `dmesg` and the "
                    "NIC's limits, or leave that setting at its default",
                )
        finally:
            ipr.close()

    @staticmethod
    def _send(ipr: IPRouteLike, index: int, vf: int, spec: dict[str, Any]) -> None:
        # pyroute2 pops keys out of the spec it is given: always hand it a fresh copy.
        ipr.link("set", index=index, vf={"vf": vf, **copy.deepcopy(spec)})

    def _confirm_mac(self, ipr: IPRouteLike, pf: str, index: int, vf: int, step: _Step) -> None:
        """Some drivers (i40e, ice) apply an admin MAC asynchronously, or only on a second try:
        re-send and read back until it shows, a bounded number of times."""
        want = step.spec["mac"]
        for attempt in range(self.mac_attempts):
            have = self._read_config(ipr, pf, index, vf).mac or ZERO_MAC
            if have == want:
                return
            if attempt + 1 < self.mac_attempts:
                self._sleep(self.poll_interval_s)
                self._send(ipr, index, vf, step.spec)
        raise NetlinkError(errno.EAGAIN, f"admin MAC still {have} after {self.mac_attempts} attempts")

    def _undo(self, ipr: IPRouteLike, index: int, vf: int, done: list[_Step]) -> list[str]:
        problems = []
        for step in reversed(done):
            if not step.undo:
                continue
            try:
                self._send(ipr, index, vf, step.undo)
            except NetlinkError as exc:
                problems.append(f"{step.setting}: {_errno_text(exc)[1]}")
        return problems

    def _refused(self, pf: str, vf: int, step: _Step, current: VfConfig, target: VfConfig, code: int,
                 undo_note: str) -> SettingRefused:
        """The driver said no to a setting: name driver, PF, VF and the topology's setting, quote the
        kernel, and say what to do (from the capability table where it knows the driver)."""
        pci = sysfs.netdev_pci_address(self.root, pf)
        driver = (sysfs.device_driver(self.root, pci) if pci else None) or ""
        setting, value = refused_setting(driver, step, current, target, code)
        return SettingRefused(
            f"{capabilities.refusal_text(driver, pf, vf, setting, value, code)} "
            f"(the kernel said: {os.strerror(code)}){undo_note}",
            hint=capabilities.refusal_hint(driver, pf, vf, setting, code),
            driver=driver or "unknown", pf=pf, vf=vf, setting=setting, code=code,
        )

    @staticmethod
    def _undo_note_for(vf: int, done: list[_Step], problems: list[str]) -> str:
        if not done:
            return f"; nothing had been changed on VF {vf}"
        undone = ", ".join(s.setting for s in reversed(done))
        if problems:
            return f"; undoing {undone} failed for {'; '.join(problems)}: VF {vf} is half configured"
        return f"; undone on VF {vf}: {undone}"

    @staticmethod
    def _undo_note(done: list[_Step], problems: list[str]) -> str:
        if not done:
            return " (nothing had been changed)"
        undone = ", ".join(s.setting for s in reversed(done))
        if problems:
            return f" (undoing {undone} failed for {'; '.join(problems)}: the VF is half configured)"
        return f" (undone: {undone})"
