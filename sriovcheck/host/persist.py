"""Make a topology's VFs survive reboots: a oneshot systemd unit that recreates the VF count of
each PF and each VF's settings at boot (sysfs writes and `ip link set ... vf N ...` in the unit;
sriovcheck itself never shells out).

`install_unit` does what `systemctl enable` does (a symlink in multi-user.target.wants) without
running anything; systemd sees the new unit after `systemctl daemon-reload` or the next boot.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from sriovcheck.errors import HostError
from sriovcheck.resources import find_template_dir
from sriovcheck.topology import names
from sriovcheck.topology.model import Topology

log = logging.getLogger(__name__)

TEMPLATE = "sriovcheck-vfs.service.j2"
WANTED_BY = "multi-user.target"
_UNIT_NAME_SAFE = re.compile(r"[A-Za-z0-9:_.]")


def _templates_dir() -> Path:
    """The installed wheel's sriovcheck/templates, else the checkout's top-level templates/."""
    found, checkout = find_template_dir(TEMPLATE)
    if found is not None:
        return found
    raise HostError(f"unit template {TEMPLATE} not found in the sriovcheck package or in {checkout}",
                    hint="reinstall sriovcheck; the wheel ships it as sriovcheck/templates/")


def unit_name(topology: Topology) -> str:
    names.require(names.TOPOLOGY_NAME, topology.name, "topology name")
    return f"sriovcheck-vfs-{topology.name}.service"


def device_unit(ifname: str) -> str:
    """systemd's device unit for a netdev, escaped as `systemd-escape --path` does
    (eno2 -> sys-subsystem-net-devices-eno2.device, '-' -> \\x2d)."""
    names.require(names.LINUX_IFNAME, ifname, "interface name")
    escaped = "".join(
        c if _UNIT_NAME_SAFE.fullmatch(c) and not (i == 0 and c == ".") else f"\\x{ord(c):02x}"
        for i, c in enumerate(ifname)
    )
    return f"sys-subsystem-net-devices-{escaped}.device"


def _int(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"refusing {what} {value!r} in a systemd unit: allowed {low}..{high}")
    return value


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"refusing {what} {value!r} in a systemd unit: allowed {', '.join(allowed)}")
    return value


def unit_context(topology: Topology) -> dict[str, Any]:
    """What the template needs, every value checked again: nothing unchecked reaches a unit file
    that runs as root at boot."""
    pfs: dict[str, dict[str, Any]] = {}
    for pf in topology.host.pfs:
        names.require(names.LINUX_IFNAME, pf.name, "PF name")
        pfs[pf.name] = {"name": pf.name, "numvfs": _int(pf.numvfs, 1, 256, "numvfs"),
                        "device_unit": device_unit(pf.name), "vfs": []}
    for container, vf in topology.attachments():
        if vf.pf not in pfs:
            raise ValueError(f"refusing VF {vf.vf} of undeclared PF {vf.pf!r} (container {container.name})")
        mac = names.require(names.MAC, vf.mac, "MAC address") if vf.mac is not None else None
        pfs[vf.pf]["vfs"].append({
            "vf": _int(vf.vf, 0, pfs[vf.pf]["numvfs"] - 1, f"VF index of {vf.pf}"),
            "container": names.require(names.CONTAINER_NAME, container.name, "container name"),
            "ifname": names.require(names.LINUX_IFNAME, vf.ifname, "interface name"),
            "vlan": _int(vf.vlan, 1, 4094, "VLAN id"),
            "qos": _int(vf.qos, 0, 7, "qos"),
            "vlan_proto": _choice(vf.vlan_proto, ("802.1Q", "802.1ad"), "VLAN protocol"),
            "mac": mac,
            "spoofchk": bool(vf.spoofchk),
            "trust": bool(vf.trust),
            "link_state": _choice(vf.link_state, ("auto", "enable", "disable"), "link state"),
            "min_tx_rate_mbps": _int(vf.min_tx_rate_mbps, 0, 400_000, "min_tx_rate"),
            "max_tx_rate_mbps": _int(vf.max_tx_rate_mbps, 0, 400_000, "max_tx_rate"),
        })
    for pf_ctx in pfs.values():
        pf_ctx["vfs"].sort(key=lambda v: v["vf"])
    return {
        "name": names.require(names.TOPOLOGY_NAME, topology.name, "topology name"),
        "pfs": list(pfs.values()),
        "device_units": [p["device_unit"] for p in pfs.values()],
    }


def render_unit(topology: Topology) -> str:
    # A systemd unit, not HTML: no autoescaping; every value is checked in unit_context instead.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
    )
    text = env.get_template(TEMPLATE).render(**unit_context(topology))
    return re.sub(r"\n{3,}", "\n\n", text)


def reload_hint(path: Path) -> str:
    return (f"installed and enabled {path}; it runs at the next boot. Run `systemctl daemon-reload` "
            f"(and `systemctl start {path.name}` to apply it now) for systemd to take it into account now.")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_symlink(link: Path, target: Path) -> None:
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def install_unit(topology: Topology, *, etc_root: Path = Path("/etc")) -> Path:
    """Write <etc>/systemd/system/sriovcheck-vfs-<topology>.service atomically and enable it as
    `systemctl enable` would. Needs a `systemctl daemon-reload` to be seen before the next boot."""
    text = render_unit(topology)
    system = etc_root / "systemd" / "system"
    path = system / unit_name(topology)
    wants = system / f"{WANTED_BY}.wants"
    try:
        wants.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, text)
        _atomic_symlink(wants / path.name, path)
    except OSError as exc:
        raise HostError(f"cannot install the systemd unit {path}: {exc.strerror or exc}",
                        hint="run as root; or use `sriovcheck persist --print` and install the unit yourself") from exc
    log.info("%s", reload_hint(path))
    return path
