"""Record what the real igb/igbvf drivers show, inside the VM lab's guest (run as root there).

Not a test and not part of the product: it writes the fixtures of tests/data/igb-guest/ from a
live kernel. It talks to the kernel through pyroute2 and sysfs only. See README.md for the guest
it ran in. Usage (guest): python record.py OUTDIR  (igb and igbvf loaded, PF 0000:00:0a.0 present)
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute, NetNS
from pyroute2.netlink.exceptions import NetlinkError

from sriovcheck.host.driver import VfConfig
from sriovcheck.host.linux import LinuxHostDriver, parse_vfinfo

SYS = Path("/sys")
PF_PCI = "0000:00:0a.0"
FILES = ("vendor", "device", "subsystem_vendor", "subsystem_device", "class", "sriov_numvfs", "sriov_totalvfs",
         "sriov_drivers_autoprobe", "sriov_offset", "sriov_stride", "sriov_vf_device", "numa_node")
LINKS = ("driver", "physfn", "iommu_group", "subsystem")
NET_FILES = ("address", "operstate", "carrier", "mtu", "ifindex", "addr_assign_type", "type", "dev_port",
             "phys_port_name", "phys_switch_id")


def _read(p: Path) -> str | None:
    try:
        return p.read_text().strip()
    except OSError as exc:
        return f"<{errno.errorcode.get(exc.errno or 0, exc.errno)}>"


def pci_snapshot(addr: str) -> dict[str, Any]:
    d = SYS / "bus/pci/devices" / addr
    out: dict[str, Any] = {
        "bus_link": os.readlink(d),
        "entries": sorted(os.listdir(d)),
        "files": {f: _read(d / f) for f in FILES if (d / f).exists()},
        "links": {ln: os.readlink(d / ln) for ln in LINKS if os.path.islink(d / ln)},
        "virtfn": {e: os.readlink(d / e) for e in sorted(os.listdir(d)) if e.startswith("virtfn")},
        "net": {},
    }
    if (d / "net").is_dir():
        for n in sorted(os.listdir(d / "net")):
            nd = d / "net" / n
            out["net"][n] = {
                "class_link": os.readlink(SYS / "class/net" / n) if os.path.islink(SYS / "class/net" / n) else None,
                "device_link": os.readlink(nd / "device") if os.path.islink(nd / "device") else None,
                "files": {f: _read(nd / f) for f in NET_FILES if (nd / f).exists()},
            }
    else:
        out["net"] = None
    return out


def sysfs_snapshot() -> dict[str, Any]:
    pf = pci_snapshot(PF_PCI)
    vfs = {name: pci_snapshot(os.path.basename(target)) for name, target in pf["virtfn"].items()}
    return {"pf": pf, "vfs": vfs,
            "drivers": {drv: sorted(e for e in os.listdir(SYS / "bus/pci/drivers" / drv) if ":" in e)
                        for drv in ("igb", "igbvf") if (SYS / "bus/pci/drivers" / drv).is_dir()},
            "iommu_groups": sorted(os.listdir(SYS / "kernel/iommu_groups"))
            if (SYS / "kernel/iommu_groups").is_dir() else None}


def raw(msg: Any) -> str:
    length = msg["header"]["length"]
    return bytes(msg.data[msg.offset:msg.offset + length]).hex()


def netlink_snapshot(ipr: IPRoute, index: int) -> dict[str, Any]:
    (msg,) = ipr.link("get", index=index, ext_mask=1)
    vflist = msg.get_attr("IFLA_VFINFO_LIST")
    infos = vflist.get_attrs("IFLA_VF_INFO") if vflist is not None else []
    return {
        "raw": raw(msg),
        "num_vf": msg.get_attr("IFLA_NUM_VF"),
        "vf_attr_names": [[a[0] for a in info["attrs"]] for info in infos],
        "parsed": [dict(parse_vfinfo(i)[1].to_dict() if hasattr(VfConfig, "to_dict") else
                        parse_vfinfo(i)[1].__dict__, index=parse_vfinfo(i)[0]) for i in infos],
    }


def try_set(ipr: IPRoute, index: int, vf: int, spec: dict[str, Any]) -> dict[str, Any]:
    shown = json.loads(json.dumps(spec))
    try:
        ipr.link("set", index=index, vf={"vf": vf, **spec})
        return {"spec": shown, "ok": True}
    except NetlinkError as exc:
        return {"spec": shown, "ok": False, "errno": exc.code, "errno_name": errno.errorcode.get(exc.code),
                "args": [str(a) for a in exc.args]}


def wait(pred: Any, timeout: float = 30.0) -> float:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"timed out waiting for {pred}")
        time.sleep(0.2)
    return round(time.monotonic() - t0, 1)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pf = os.listdir(SYS / "bus/pci/devices" / PF_PCI / "net")[0]
    ipr = IPRoute()
    index = ipr.link_lookup(ifname=pf)[0]
    ipr.link("set", index=index, state="up")
    waited = wait(lambda: _read(SYS / "class/net" / pf / "operstate") == "up")
    log: dict[str, Any] = {"pf": pf, "pf_index": index, "pf_up_after_s": waited, "kernel": os.uname().release}

    def snap(name: str) -> None:
        (out / f"sysfs-{name}.json").write_text(json.dumps(sysfs_snapshot(), indent=1, sort_keys=True) + "\n")
        (out / f"netlink-{name}.json").write_text(json.dumps(netlink_snapshot(ipr, index), indent=1) + "\n")

    snap("0vfs")
    t0 = time.monotonic()
    (SYS / "class/net" / pf / "device/sriov_numvfs").write_text("2")
    log["numvfs_write_s"] = round(time.monotonic() - t0, 1)
    vf_net = [SYS / "bus/pci/devices" / PF_PCI / f"virtfn{n}" / "net" for n in range(2)]
    log["vf_netdevs_after_s"] = wait(lambda: all(p.is_dir() and os.listdir(p) for p in vf_net))
    snap("2vfs")
    vfdevs = [os.listdir(p)[0] for p in vf_net]
    vf_links = {}
    for name in vfdevs:
        (m,) = ipr.link("get", index=ipr.link_lookup(ifname=name)[0])
        vf_links[name] = {"raw": raw(m), "attrs": sorted({a[0] for a in m["attrs"]})}
    (out / "netlink-vf-netdevs.json").write_text(json.dumps(vf_links, indent=1) + "\n")

    # VF 0: every setting igb takes, one netlink request each, in sriovcheck's order and form.
    steps = [{"vlan": {"vlan": 200, "qos": 3}}, {"mac": "02:00:00:00:02:00"},
             {"rate": {"min_tx_rate": 0, "max_tx_rate": 100}}, {"spoofchk": 0}, {"trust": 1}]
    log["vf0_sets"] = [try_set(ipr, index, 0, s) for s in steps]
    snap("2vfs-vf0-set")
    # VF 1: what igb refuses
    refused = {
        "link_state_disable": {"link_state": 2},
        "link_state_enable": {"link_state": 1},
        "link_state_auto": {"link_state": 0},
        "vlan_8021ad": {"vlan": [{"vlan": 10, "qos": 0, "proto": 0x88A8}]},
        "vlan_list_8021q": {"vlan": [{"vlan": 10, "qos": 0, "proto": 0x8100}]},
        "min_tx_rate": {"rate": {"min_tx_rate": 10, "max_tx_rate": 100}},
        "max_tx_rate_over_link": {"rate": {"min_tx_rate": 0, "max_tx_rate": 2000}},
        "vlan_4095": {"vlan": {"vlan": 4095, "qos": 0}},
        "qos_8": {"vlan": {"vlan": 10, "qos": 8}},
        "mac_multicast": {"mac": "01:00:5e:00:00:01"},
    }
    log["vf1_tries"] = {k: try_set(ipr, index, 1, v) for k, v in refused.items()}
    snap("2vfs-vf1-tried")
    # the real driver on the real kernel: set and read back VF 1 as sriovcheck does
    drv = LinuxHostDriver(SYS, ipr_factory=IPRoute)
    want = VfConfig(vlan=300, qos=0, mac="02:00:00:00:03:00", spoofchk=False, trust=True, max_tx_rate_mbps=200)
    try:
        drv.set_vf_config(pf, 1, want)
        log["driver_set_vf1"] = {"ok": True}
    except Exception as exc:
        log["driver_set_vf1"] = {"ok": False, "error": str(exc), "hint": getattr(exc, "hint", None)}
    log["driver_get_vf1"] = drv.get_vf_config(pf, 1).__dict__
    for bad in (VfConfig(vlan=300, link_state="disable"), VfConfig(vlan=10, vlan_proto="802.1ad"),
                VfConfig(vlan=300, min_tx_rate_mbps=10, max_tx_rate_mbps=100)):
        try:
            drv.set_vf_config(pf, 1, bad)
            log.setdefault("driver_refusals", []).append({"config": bad.__dict__, "ok": True})
        except Exception as exc:
            log.setdefault("driver_refusals", []).append(
                {"config": bad.__dict__, "ok": False, "error": str(exc), "hint": getattr(exc, "hint", None)})
    log["driver_get_vf1_after_refusals"] = drv.get_vf_config(pf, 1).__dict__
    log["driver_pf_info"] = json.loads(json.dumps(drv.pf_info(pf), default=lambda o: o.__dict__))
    # clear VF 0 the way sriovcheck undoes settings
    clear = [{"vlan": {"vlan": 0, "qos": 0}}, {"mac": "00:00:00:00:00:00"},
             {"rate": {"min_tx_rate": 0, "max_tx_rate": 0}}, {"spoofchk": 1}, {"trust": 0}]
    log["vf0_clear"] = [try_set(ipr, index, 0, s) for s in clear]
    snap("2vfs-vf0-cleared")
    # VF 0's netdev into another namespace: what the host's sysfs shows then
    ns = NetNS("igbrec")
    try:
        ipr.link("set", index=ipr.link_lookup(ifname=vfdevs[0])[0], net_ns_fd="igbrec")
        snap("2vfs-vf0-in-netns")
        log["vf0_netdev_in_netns"] = [lk.get_attr("IFLA_IFNAME") for lk in ns.get_links()]
    finally:
        ns.close()
        ns.remove()
    time.sleep(1)
    snap("2vfs-vf0-back")
    (SYS / "class/net" / pf / "device/sriov_numvfs").write_text("0")
    snap("0vfs-again")
    (out / "log.json").write_text(json.dumps(log, indent=1, default=str) + "\n")
    ipr.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
