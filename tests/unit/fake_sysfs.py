"""Fakes for the real SR-IOV driver: a sysfs tree laid out as the kernel lays it out, a writer that
reacts to sriov_numvfs like the kernel does, a clock, and a netlink object that records calls.

No SR-IOV exists in this kernel, so these fakes are the kernel's side of the driver's tests:
- `FakeSysfs(root)` builds /sys/class/net, /sys/bus/pci/devices and /sys/devices with relative
  symlinks (virtfnN, physfn, device, driver, iommu_group) as the kernel does. Its `write_attr`
  is passed to the driver as its sysfs writer; writing sriov_numvfs creates or removes the VFs
  (EBUSY for N over a non-zero M, ERANGE above totalvfs, injected errors), and VF netdevs can
  appear late (after some `tick()`s, which the `FakeClock`'s sleep calls) or never.
- `FakeIPRoute` answers `link("get", index=.., ext_mask=1)` with a real pyroute2 ifinfmsg (built,
  encoded and decoded by pyroute2 itself, so the structure is exactly what a kernel answer
  decodes to) and applies `link("set", index=.., vf={...})` after checking that pyroute2 can
  encode the request.
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.requests.link import LinkIPRouteFilter


def _link(at: Path, target: Path) -> None:
    """A relative link the way sysfs writes them: up to the target's parent, then down by name
    (device -> ../../../0000:01:00.1, never a bare ../..)."""
    at.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.join(os.path.relpath(target.parent, at.parent), target.name), at)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def seed_vf_pci(pf_pci: str, n: int) -> str:
    """VF addresses as the seed's X540 shows them: PF 0000:01:00.1 -> 0000:01:10.1, 10.3 ... 11.1."""
    domain_bus, _, devfn = pf_pci.rpartition(":")
    func = int(devfn.split(".")[1])
    slot = n * 2 + func
    return f"{domain_bus}:{0x10 + slot // 8:02x}.{slot % 8}"


def ixgbe_name(pf: str, n: int) -> str:
    return f"{pf}v{n}"


@dataclass
class FakePf:
    name: str
    pci: str
    totalvfs: int
    vf_driver: str | None  # None: no driver binds (sriov_drivers_autoprobe 0)
    vf_vendor: str
    vf_device: str
    vf_name: Callable[[str, int], str]
    vf_pci: Callable[[str, int], str]
    vf_drivers: dict[int, str] = field(default_factory=dict)  # per-VF override, e.g. {3: "vfio-pci"}
    netdev_delay_ticks: int = 0
    never_netdev: set[int] = field(default_factory=set)
    numvfs: int = 0
    pending: dict[int, int] = field(default_factory=dict)  # VF -> ticks left before its netdev shows


class FakeSysfs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pci_root = root / "devices" / "pci0000:00"
        for d in ("class/net", "bus/pci/devices", "bus/pci/drivers", "kernel/iommu_groups", "class/iommu"):
            (root / d).mkdir(parents=True, exist_ok=True)
        self.pfs: dict[str, FakePf] = {}
        self.writes: list[tuple[str, str]] = []  # (path relative to root, value), in order
        self.fail_next_write: dict[str, int] = {}  # PF -> errno for its next sriov_numvfs write
        self._ifindex = 10
        self._group = 20
        self.iommu = True  # False: no iommu_group links, as in a VM without a vIOMMU (igb-guest)

    # --- building ---------------------------------------------------------------------------

    def _pci_device(self, pci: str, *, vendor: str, device: str, driver: str | None) -> Path:
        d = self.pci_root / pci
        d.mkdir(parents=True)
        _write(d / "vendor", f"0x{vendor}")
        _write(d / "device", f"0x{device}")
        _link(self.root / "bus/pci/devices" / pci, d)
        if driver:
            drv = self.root / "bus/pci/drivers" / driver
            drv.mkdir(parents=True, exist_ok=True)
            _link(d / "driver", drv)
        if self.iommu:
            self._group += 1
            group = self.root / "kernel/iommu_groups" / str(self._group)
            group.mkdir(parents=True)
            _link(d / "iommu_group", group)
        return d

    def _netdev(self, dev_dir: Path, name: str, *, mac: str, operstate: str = "up", mtu: int = 1500) -> None:
        n = dev_dir / "net" / name
        n.mkdir(parents=True)
        self._ifindex += 1
        _write(n / "address", mac)
        _write(n / "operstate", operstate)
        _write(n / "mtu", str(mtu))
        _write(n / "ifindex", str(self._ifindex))
        _link(n / "device", dev_dir)
        _link(self.root / "class/net" / name, n)

    def add_nic(self, name: str, pci: str, *, driver: str = "igb", vendor: str = "8086", device: str = "1521",
                mac: str = "ac:1f:6b:00:00:01", operstate: str = "up") -> Path:
        """A PCI NIC without SR-IOV (no sriov_totalvfs)."""
        d = self._pci_device(pci, vendor=vendor, device=device, driver=driver)
        self._netdev(d, name, mac=mac, operstate=operstate)
        return d

    def add_virtual(self, name: str, mac: str) -> None:
        """A netdev without a PCI device behind it (bridge, macvlan, veth)."""
        n = self.root / "devices" / "virtual" / "net" / name
        n.mkdir(parents=True)
        _write(n / "address", mac)
        _write(n / "operstate", "up")
        _link(self.root / "class/net" / name, n)

    def add_pf(
        self,
        name: str = "eno2",
        pci: str = "0000:01:00.1",
        *,
        driver: str = "ixgbe",
        vendor: str = "8086",
        device: str = "1528",
        vf_driver: str | None = "ixgbevf",
        vf_device: str = "1515",
        totalvfs: int = 63,
        numvfs: int = 0,
        vf_name: Callable[[str, int], str] = ixgbe_name,
        vf_pci: Callable[[str, int], str] = seed_vf_pci,
        vf_drivers: dict[int, str] | None = None,
        mac: str = "ac:1f:6b:01:00:01",
        operstate: str = "up",
        autoprobe: bool = True,
        iommu: bool | None = None,
    ) -> FakePf:
        if iommu is not None:
            self.iommu = iommu
        d = self.add_nic(name, pci, driver=driver, vendor=vendor, device=device, mac=mac, operstate=operstate)
        _write(d / "sriov_totalvfs", str(totalvfs))
        _write(d / "sriov_numvfs", "0")
        _write(d / "sriov_drivers_autoprobe", "1" if autoprobe else "0")
        pf = FakePf(name=name, pci=pci, totalvfs=totalvfs, vf_driver=vf_driver, vf_vendor=vendor,
                    vf_device=vf_device, vf_name=vf_name, vf_pci=vf_pci, vf_drivers=dict(vf_drivers or {}))
        self.pfs[name] = pf
        if numvfs:
            self._enable(pf, numvfs)
            self.tick_until_settled()
        return pf

    # --- the kernel's side of sriov_numvfs ---------------------------------------------------

    def write_attr(self, path: Path, value: str) -> None:
        """The driver's sysfs writer: record, then react as the kernel's sriov_numvfs_store does."""
        rel = str(path.relative_to(self.root))
        self.writes.append((rel, value))
        pf = next((p for p in self.pfs.values() if rel == f"class/net/{p.name}/device/sriov_numvfs"), None)
        if pf is None:
            path.write_text(value)
            return
        if pf.name in self.fail_next_write:
            code = self.fail_next_write.pop(pf.name)
            raise OSError(code, os.strerror(code), str(path))
        count = int(value)
        if count > pf.totalvfs:
            raise OSError(errno.ERANGE, os.strerror(errno.ERANGE), str(path))
        if count == pf.numvfs:
            return
        if count == 0:
            self._disable(pf)
        elif pf.numvfs:
            # "%d VFs already enabled. Disable before enabling %d VFs"
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(path))
        else:
            self._enable(pf, count)

    def numvfs_writes(self, pf: str = "eno2") -> list[str]:
        return [v for p, v in self.writes if p == f"class/net/{pf}/device/sriov_numvfs"]

    def _pf_dev(self, pf: FakePf) -> Path:
        return self.pci_root / pf.pci

    def _enable(self, pf: FakePf, count: int) -> None:
        for n in range(count):
            vf_pci = pf.vf_pci(pf.pci, n)
            driver = pf.vf_drivers.get(n, pf.vf_driver)
            d = self._pci_device(vf_pci, vendor=pf.vf_vendor, device=pf.vf_device, driver=driver)
            _link(d / "physfn", self._pf_dev(pf))
            _link(self._pf_dev(pf) / f"virtfn{n}", d)
            if driver in (None, "vfio-pci", "uio_pci_generic", "igb_uio") or n in pf.never_netdev:
                continue
            pf.pending[n] = pf.netdev_delay_ticks
        pf.numvfs = count
        (self._pf_dev(pf) / "sriov_numvfs").write_text(f"{count}\n")
        self.tick(advance=False)

    def _disable(self, pf: FakePf) -> None:
        for n in range(pf.numvfs):
            link = self._pf_dev(pf) / f"virtfn{n}"
            d = link.resolve()
            net = d / "net"
            if net.is_dir():
                for dev in net.iterdir():
                    (self.root / "class/net" / dev.name).unlink(missing_ok=True)
            (self.root / "bus/pci/devices" / d.name).unlink()
            link.unlink()
            shutil.rmtree(d)  # does not follow the symlinks inside
        pf.numvfs = 0
        pf.pending.clear()
        (self._pf_dev(pf) / "sriov_numvfs").write_text("0\n")

    def tick(self, *, advance: bool = True) -> None:
        """Time passes: VF netdevs whose delay ran out appear (the VF driver finished probing)."""
        for pf in self.pfs.values():
            for n, left in sorted(pf.pending.items()):
                if advance:
                    left -= 1
                if left <= 0:
                    del pf.pending[n]
                    d = (self._pf_dev(pf) / f"virtfn{n}").resolve()
                    self._netdev(d, pf.vf_name(pf.name, n), mac=f"02:aa:00:00:{len(self.pfs):02x}:{n:02x}",
                                 operstate="down")
                else:
                    pf.pending[n] = left

    def tick_until_settled(self) -> None:
        while any(pf.pending for pf in self.pfs.values()):
            self.tick()

    # --- what happens to VFs outside sriovcheck ---------------------------------------------

    def vf_leaves_namespace(self, pf: str, n: int) -> str:
        """The VF's netdev moves into a container: the host's sysfs no longer lists it."""
        d = (self._pf_dev(self.pfs[pf]) / f"virtfn{n}").resolve()
        (name,) = [p.name for p in (d / "net").iterdir()]
        (self.root / "class/net" / name).unlink()
        for p in (d / "net" / name).iterdir():
            p.unlink()
        (d / "net" / name).rmdir()
        return name

    def vf_comes_back(self, pf: str, n: int, as_name: str, mac: str) -> None:
        """The container died: the VF is back in the host under its in-container name."""
        d = (self._pf_dev(self.pfs[pf]) / f"virtfn{n}").resolve()
        self._netdev(d, as_name, mac=mac, operstate="down")


class FakeClock:
    def __init__(self, on_sleep: Callable[[], None] | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


# --- netlink ---------------------------------------------------------------------------------------

ZERO_MAC = "00:00:00:00:00:00"


@dataclass
class FakeVf:
    mac: str = ZERO_MAC
    vlan: int = 0
    qos: int = 0
    proto: int = 0x8100
    spoofchk: int | None = 1  # None: the driver does not report it
    trust: int | None = 0
    link_state: int = 0
    min_tx_rate: int = 0
    max_tx_rate: int = 0


# The kernel's struct ifla_vf_vlan_info is 16 bytes; rtnetlink's do_setvfinfo answers EINVAL to a
# shorter IFLA_VF_VLAN_INFO (seen on the real 6.1 kernel with igb: tests/data/igb-guest/).
VLAN_INFO_MIN_LEN = 4 + 16
_NESTED_PATH = (22, 1, 12)  # IFLA_VFINFO_LIST > IFLA_VF_INFO > IFLA_VF_VLAN_LIST


def _nlattrs(data: bytes) -> list[tuple[int, int, bytes]]:
    """(type, nla_len, payload) of each attribute in `data`."""
    out, off = [], 0
    while off + 4 <= len(data):
        length = int.from_bytes(data[off:off + 2], "little")
        kind = int.from_bytes(data[off + 2:off + 4], "little") & 0x3FFF
        if length < 4:
            break
        out.append((kind, length, data[off + 4:off + length]))
        off += (length + 3) & ~3
    return out


def _check_vlan_info_sizes(message: bytes) -> None:
    level = [(0, 0, message[32:])]  # after nlmsghdr (16) + ifinfomsg (16)
    for kind in _NESTED_PATH:
        level = [a for _, _, payload in level for a in _nlattrs(payload) if a[0] == kind]
    for _, _, payload in level:
        for kind, length, _ in _nlattrs(payload):
            if kind == 1 and length < VLAN_INFO_MIN_LEN:
                raise NetlinkError(errno.EINVAL, "Invalid argument")


class FakeIPRoute:
    """Records every call; answers like a kernel whose PF driver has `vfs`.

    refuse: setting ("vlan", "mac", "rate", "spoofchk", "trust", "link_state") -> errno the driver
    answers. mac_visible_after_gets: the MAC shows in reads only after that many link("get")s
    (drivers that apply it asynchronously). mac_sets_ignored: the first N MAC sets are dropped.
    max_rate_cap: the driver silently clamps max_tx_rate. legacy: no IFLA_VF_VLAN_LIST/IFLA_VF_RATE
    (kernels before 4.9 / 4.0).
    """

    def __init__(
        self,
        links: dict[str, int],
        vfs: dict[int, list[FakeVf]],
        *,
        refuse: dict[str, int] | None = None,
        mac_visible_after_gets: int = 0,
        mac_sets_ignored: int = 0,
        max_rate_cap: int | None = None,
        legacy: bool = False,
        no_carrier: set[str] | None = None,
    ) -> None:
        self.links = links
        self.no_carrier = set(no_carrier or ())
        self.vfs = vfs
        self.refuse = dict(refuse or {})
        self.mac_visible_after_gets = mac_visible_after_gets
        self.mac_sets_ignored = mac_sets_ignored
        self.max_rate_cap = max_rate_cap
        self.legacy = legacy
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = 0
        self._pending_mac: dict[tuple[int, int], tuple[str, int]] = {}

    def factory(self) -> FakeIPRoute:
        return self

    def close(self) -> None:
        self.closed += 1

    def link_lookup(self, **kwarg: Any) -> list[int]:
        self.calls.append(("lookup", dict(kwarg)))
        index = self.links.get(kwarg["ifname"])
        return [index] if index is not None else []

    def link(self, command: str, **kwarg: Any) -> list[ifinfmsg]:
        self.calls.append((command, copy.deepcopy(kwarg)))
        index = kwarg["index"]
        if index not in self.links.values():
            raise NetlinkError(errno.ENODEV)
        if command == "get":
            return [self._message(index)]
        if command == "set":
            self._apply(index, kwarg["vf"])
            return []
        raise AssertionError(f"unexpected link command {command}")

    def set_calls(self) -> list[dict[str, Any]]:
        """The `vf=` of each link("set"), in order, without the "vf" index key."""
        return [{k: v for k, v in c["vf"].items() if k != "vf"} for cmd, c in self.calls if cmd == "set"]

    # --- kernel side --------------------------------------------------------------------------

    def _message(self, index: int) -> ifinfmsg:
        for key, (mac, left) in list(self._pending_mac.items()):
            if key[0] == index:
                if left <= 1:
                    self.vfs[index][key[1]].mac = mac
                    del self._pending_mac[key]
                else:
                    self._pending_mac[key] = (mac, left - 1)
        infos = []
        for n, vf in enumerate(self.vfs.get(index, [])):
            # The kernel's order (rtnl_fill_vfinfo, recorded from igb in tests/data/igb-guest/), less
            # IFLA_VF_BROADCAST, which pyroute2 0.9.7 cannot encode.
            attrs: list[tuple[str, Any]] = [
                ("IFLA_VF_MAC", {"vf": n, "mac": vf.mac}),
                ("IFLA_VF_VLAN", {"vf": n, "vlan": vf.vlan, "qos": vf.qos}),
            ]
            if not self.legacy:
                attrs.append(("IFLA_VF_RATE", {"vf": n, "min_tx_rate": vf.min_tx_rate, "max_tx_rate": vf.max_tx_rate}))
            attrs += [
                ("IFLA_VF_TX_RATE", {"vf": n, "tx_rate": vf.max_tx_rate}),
                ("IFLA_VF_SPOOFCHK", {"vf": n, "spoofchk": 0xFFFFFFFF if vf.spoofchk is None else vf.spoofchk}),
                ("IFLA_VF_LINK_STATE", {"vf": n, "link_state": vf.link_state}),
                ("IFLA_VF_RSS_QUERY_EN", {"vf": n, "rss_query_en": 0xFFFFFFFF}),
                ("IFLA_VF_TRUST", {"vf": n, "trust": 0xFFFFFFFF if vf.trust is None else vf.trust}),
            ]
            if not self.legacy:
                attrs.append(("IFLA_VF_VLAN_LIST", {"attrs": [
                    ("IFLA_VF_VLAN_INFO", {"vf": n, "vlan": vf.vlan, "qos": vf.qos, "proto": vf.proto})]}))
                attrs.append(("IFLA_VF_STATS", {"attrs": [("IFLA_VF_STATS_RX_PACKETS", 0)]}))
            infos.append(("IFLA_VF_INFO", {"attrs": attrs}))
        msg = ifinfmsg()
        msg["index"] = index
        name = next(k for k, v in self.links.items() if v == index)
        up = name not in self.no_carrier
        msg["attrs"] = [("IFLA_IFNAME", name), ("IFLA_OPERSTATE", "UP" if up else "DOWN"), ("IFLA_CARRIER", int(up))]
        if infos:
            msg["attrs"].append(("IFLA_NUM_VF", len(infos)))
            msg["attrs"].append(("IFLA_VFINFO_LIST", {"attrs": infos}))
        msg.encode()
        decoded = ifinfmsg(msg.data)
        decoded.decode()
        return decoded

    def _apply(self, index: int, spec: dict[str, Any]) -> None:
        # The request must be one pyroute2 can turn into IFLA_VFINFO_LIST bytes.
        req = ifinfmsg()
        req["index"] = index
        req["attrs"] = [("IFLA_VFINFO_LIST", LinkIPRouteFilter("set").get_vf(copy.deepcopy(spec)))]
        req.encode()
        _check_vlan_info_sizes(bytes(req.data))
        n = spec["vf"]
        vf = self.vfs[index][n]
        keys = set(spec) - {"vf"}
        assert keys <= {"vlan", "mac", "rate", "spoofchk", "trust", "link_state"}, keys
        for setting in keys:
            if setting in self.refuse:
                raise NetlinkError(self.refuse[setting])
        vlan = spec.get("vlan")
        if isinstance(vlan, int):
            vf.vlan, vf.qos, vf.proto = vlan, 0, 0x8100
        elif isinstance(vlan, dict):
            vf.vlan, vf.qos, vf.proto = vlan["vlan"], vlan.get("qos", 0), 0x8100
        elif isinstance(vlan, list):
            (only,) = vlan
            vf.vlan, vf.qos, vf.proto = only["vlan"], only.get("qos", 0), only.get("proto", 0x8100)
        if "mac" in spec:
            if self.mac_sets_ignored:
                self.mac_sets_ignored -= 1
            elif self.mac_visible_after_gets:
                # Sending the same MAC again while it is pending does not restart the hardware's work.
                if self._pending_mac.get((index, n), ("",))[0] != spec["mac"]:
                    self._pending_mac[(index, n)] = (spec["mac"], self.mac_visible_after_gets)
            else:
                vf.mac = spec["mac"]
        if "rate" in spec:
            vf.min_tx_rate = spec["rate"]["min_tx_rate"]
            vf.max_tx_rate = spec["rate"]["max_tx_rate"]
            if self.max_rate_cap is not None:
                vf.max_tx_rate = min(vf.max_tx_rate, self.max_rate_cap)
        if "spoofchk" in spec:
            vf.spoofchk = spec["spoofchk"]
        if "trust" in spec:
            vf.trust = spec["trust"]
        if "link_state" in spec:
            vf.link_state = spec["link_state"]
