"""The emulated lab's state on disk: what `lab down` must remove and what the fabric looks like.

One JSON file per lab, `<state_root>/<topology>/lab/state.json`, written atomically (tmp file +
os.replace) so that the switch emulator, which re-reads it on every snapshot, never sees half a
file. Everything kernel-side can be derived from this record plus the naming convention in
`sriovcheck.lab.fabric`; `down` also works by that convention when the file is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sriovcheck import statefiles
from sriovcheck.errors import StateError
from sriovcheck.host.driver import VfConfig

if TYPE_CHECKING:  # the emulator's view (its dataclasses: ~10 ms to define) only where a switch is rendered
    from sriovcheck.lab.junos.view import ServerFaults, SwitchStyle

SCHEMA_VERSION = 1
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
_TOPOLOGY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
DEFAULT_PORT_MTU = 1514  # an EX port's physical MTU out of the box (Ethernet header included)
JUMBO_PORT_MTU = 9216  # the largest an EX port takes
_DOWN_HINT = "run `sriovcheck lab down --force <topology>` to remove the lab by naming convention, then `lab up` again"


def state_root() -> Path:
    """Where sriovcheck keeps state: $SRIOVCHECK_STATE_DIR, else /var/lib/sriovcheck (read at call time)."""
    return statefiles.state_root()


def lab_dir(topology_name: str, root: Path | str | None = None) -> Path:
    """`<state_root>/<topology>/lab`: the lab's state file, keys and emulator log."""
    if not _TOPOLOGY_NAME.fullmatch(topology_name):
        raise StateError(
            f"{topology_name!r} is not a valid topology name",
            hint="1-32 characters of a-z 0-9 -, starting with a letter or digit",
        )
    return Path(root if root is not None else state_root()) / topology_name / "lab"


@dataclass
class VfRecord:
    index: int
    netdev: str  # the VF's name in the root namespace when it is there (eno2v0)
    nic_link: str  # its peer in the NIC namespace (p0f0): where the VF's VLAN is decided
    mac: str | None  # the VF netdev's MAC, reused when the veth pair has to be recreated
    config: VfConfig = field(default_factory=VfConfig)


@dataclass
class PfRecord:
    name: str  # eno2, in the root namespace
    index: int  # position in host.pfs: names its kernel links (pf0, p0f3, n0v200, c0v200, s0v200)
    nic_link: str  # pf0
    switch_port: str  # ge-0/0/1
    numvfs: int
    totalvfs: int  # the most VFs this PF can have (sriov_totalvfs)
    pci_address: str
    vfs: list[VfRecord] = field(default_factory=list)
    mac: str | None = None  # the PF netdev's MAC (its LLDP chassis and port id), recorded at reconcile
    port_mtu: int = DEFAULT_PORT_MTU  # the switch port's configured physical MTU (faults may override)
    lldp_host: str | None = None  # in an emulated rack: the host this PF belongs to (its LLDP System Name)


@dataclass
class VlanRecord:
    id: int
    name: str
    l3_interface: str
    gateway: str
    prefixlen: int
    bridge: str  # vl200 in the switch namespace: the VLAN's domain and its L3 interface

    @property
    def gateway_cidr(self) -> str:
        return f"{self.gateway}/{self.prefixlen}"


@dataclass
class Faults:
    vlan_removed: list[tuple[str, int]] = field(default_factory=list)  # (switch port, VLAN id)
    gateway_down: list[int] = field(default_factory=list)
    pf_down: list[str] = field(default_factory=list)
    refuse_login: bool = False
    drop_session_on: str | None = None
    hang_on: str | None = None
    garble: bool = False
    lldp_off: list[str] = field(default_factory=list)  # PFs whose host LLDP agent sends nothing
    port_mtu: dict[str, int] = field(default_factory=dict)  # switch port -> physical MTU set by a fault
    background: tuple[int, int] = (0, 0)  # (MACs, ARP entries) of other hosts the switch carries

    def server(self) -> ServerFaults:
        from sriovcheck.lab.junos.view import ServerFaults

        return ServerFaults(
            refuse_login=self.refuse_login,
            drop_session_on=self.drop_session_on,
            hang_on=self.hang_on,
            garble=self.garble,
        )

    def active(self) -> list[str]:
        out = [f"vlan-remove {port} {vlan}" for port, vlan in self.vlan_removed]
        out += [f"gateway-down {vlan}" for vlan in self.gateway_down]
        out += [f"pf-down {pf}" for pf in self.pf_down]
        out += [f"lldp-off {pf}" for pf in self.lldp_off]
        out += [f"port-mtu {port} {mtu}" for port, mtu in sorted(self.port_mtu.items())]
        if self.refuse_login:
            out.append("login-refuse")
        if self.drop_session_on is not None:
            out.append(f"session-drop {self.drop_session_on}")
        if self.hang_on is not None:
            out.append(f"command-hang {self.hang_on}")
        if self.garble:
            out.append("garble on")
        if self.background != (0, 0):
            out.append(f"background-table {self.background[0]} {self.background[1]}")
        return out


@dataclass
class EmulatorRecord:
    host: str = "127.0.0.1"
    port: int = 0  # 0 until the emulator said "ready <port>"
    pid: int | None = None
    start_time: int | None = None  # /proc/<pid>/stat field 22: a recycled PID never matches


@dataclass
class LabState:
    topology: str
    topology_fingerprint: str  # of the parts that shape the lab (host, switch, vlans, lab)
    nic_ns: str
    sw_ns: str
    alias: str  # IFLA_IFALIAS that marks our links in the root namespace
    switch_name: str
    switch_style: SwitchStyle
    model: str
    junos_version: str
    router_mac: str
    username: str
    password_env: str | None
    host_key: str
    client_key: str
    authorized_keys: str
    log: str
    pfs: list[PfRecord] = field(default_factory=list)
    vlans: list[VlanRecord] = field(default_factory=list)
    emulator: EmulatorRecord = field(default_factory=EmulatorRecord)
    faults: Faults = field(default_factory=Faults)
    schema_version: int = SCHEMA_VERSION
    host_name: str = ""  # topology host.name: the System Name the host's LLDP agent announces
    platform: str = "juniper_junos"  # the OS the emulated switch speaks (switch.platform)

    def pf(self, name: str) -> PfRecord:
        for p in self.pfs:
            if p.name == name:
                return p
        raise KeyError(name)

    def pf_by_port(self, port: str) -> PfRecord:
        for p in self.pfs:
            if p.switch_port == port:
                return p
        raise KeyError(port)

    def port_mtu(self, pf: PfRecord) -> int:
        """The switch port's physical MTU in force: a port-mtu fault, else the configured one."""
        return self.faults.port_mtu.get(pf.switch_port, pf.port_mtu)

    def vlan(self, vlan_id: int) -> VlanRecord:
        for v in self.vlans:
            if v.id == vlan_id:
                return v
        raise KeyError(vlan_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "topology": self.topology,
            "topology_fingerprint": self.topology_fingerprint,
            "nic_ns": self.nic_ns,
            "sw_ns": self.sw_ns,
            "alias": self.alias,
            "host": {"name": self.host_name},
            "switch": {
                "name": self.switch_name,
                "style": self.switch_style,
                "model": self.model,
                "junos_version": self.junos_version,
                "platform": self.platform,
                "router_mac": self.router_mac,
                "username": self.username,
                "password_env": self.password_env,
            },
            "files": {
                "host_key": self.host_key,
                "client_key": self.client_key,
                "authorized_keys": self.authorized_keys,
                "log": self.log,
            },
            "emulator": {
                "host": self.emulator.host,
                "port": self.emulator.port,
                "pid": self.emulator.pid,
                "start_time": self.emulator.start_time,
            },
            "pfs": [
                {
                    "name": p.name,
                    "index": p.index,
                    "nic_link": p.nic_link,
                    "switch_port": p.switch_port,
                    "numvfs": p.numvfs,
                    "totalvfs": p.totalvfs,
                    "pci_address": p.pci_address,
                    "mac": p.mac,
                    "port_mtu": p.port_mtu,
                    **({"lldp_host": p.lldp_host} if p.lldp_host else {}),
                    "vfs": [
                        {"index": v.index, "netdev": v.netdev, "nic_link": v.nic_link, "mac": v.mac,
                         "config": v.config.as_dict()}
                        for v in p.vfs
                    ],
                }
                for p in self.pfs
            ],
            "vlans": [
                {"id": v.id, "name": v.name, "l3_interface": v.l3_interface, "gateway": v.gateway,
                 "prefixlen": v.prefixlen, "bridge": v.bridge}
                for v in self.vlans
            ],
            "faults": {
                "vlan_removed": [[port, vlan] for port, vlan in self.faults.vlan_removed],
                "gateway_down": list(self.faults.gateway_down),
                "pf_down": list(self.faults.pf_down),
                "refuse_login": self.faults.refuse_login,
                "drop_session_on": self.faults.drop_session_on,
                "hang_on": self.faults.hang_on,
                "garble": self.faults.garble,
                "lldp_off": list(self.faults.lldp_off),
                "port_mtu": dict(sorted(self.faults.port_mtu.items())),
                "background": list(self.faults.background),
            },
        }


class _Reader:
    """Typed access to a decoded JSON object; every mismatch is a StateError naming the key."""

    def __init__(self, data: object, where: str, file: Path) -> None:
        if not isinstance(data, dict):
            raise self._bad(file, where, "an object")
        self.data: dict[str, Any] = data
        self.where = where
        self.file = file

    @staticmethod
    def _bad(file: Path, where: str, what: str) -> StateError:
        return StateError(f"lab state {file} is damaged: {where or 'the top level'} is not {what}", hint=_DOWN_HINT)

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise StateError(f"lab state {self.file} is damaged: {self.where}.{key} is missing", hint=_DOWN_HINT)
        return self.data[key]

    def text(self, key: str) -> str:
        v = self._get(key)
        if not isinstance(v, str):
            raise self._bad(self.file, f"{self.where}.{key}", "a string")
        return v

    def opt_text(self, key: str) -> str | None:
        v = self.data.get(key)
        if v is not None and not isinstance(v, str):
            raise self._bad(self.file, f"{self.where}.{key}", "a string or null")
        return v

    def num(self, key: str) -> int:
        v = self._get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            raise self._bad(self.file, f"{self.where}.{key}", "an integer")
        return v

    def opt_num(self, key: str) -> int | None:
        v = self.data.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise self._bad(self.file, f"{self.where}.{key}", "an integer or null")
        return v

    def flag(self, key: str) -> bool:
        v = self.data.get(key, False)
        if not isinstance(v, bool):
            raise self._bad(self.file, f"{self.where}.{key}", "true or false")
        return v

    def sub(self, key: str) -> _Reader:
        return _Reader(self._get(key), f"{self.where}.{key}", self.file)

    def items(self, key: str) -> list[Any]:
        v = self.data.get(key, [])
        if not isinstance(v, list):
            raise self._bad(self.file, f"{self.where}.{key}", "a list")
        return v

    def subs(self, key: str) -> list[_Reader]:
        return [_Reader(item, f"{self.where}.{key}[{i}]", self.file) for i, item in enumerate(self.items(key))]


def _platform(value: str, file: Path) -> str:
    # The platforms' names, without importing the platforms (their parsers): provisioning reads this
    # state too, and needs none of them.
    from sriovcheck.topology.names import PLATFORM_NAMES

    if value not in PLATFORM_NAMES:
        raise _Reader._bad(file, "switch.platform", f"one of {', '.join(PLATFORM_NAMES)}")
    return value


def _style(value: str, file: Path) -> Literal["non-els", "els"]:
    if value == "non-els":
        return "non-els"
    if value == "els":
        return "els"
    raise StateError(f"lab state {file} is damaged: switch.style {value!r} is not non-els or els", hint=_DOWN_HINT)


def state_from_dict(data: object, file: Path) -> LabState:
    r = _Reader(data, "", file)
    version = r.data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateError(
            f"lab state {file} has schema version {version!r}; this sriovcheck reads version {SCHEMA_VERSION}",
            hint=_DOWN_HINT,
        )
    sw = r.sub("switch")
    files = r.sub("files")
    em = r.sub("emulator")
    fl = r.sub("faults")
    pfs = []
    for p in r.subs("pfs"):
        vfs = []
        for v in p.subs("vfs"):
            raw_cfg = v.data.get("config", {})
            if not isinstance(raw_cfg, dict):
                raise _Reader._bad(file, f"{v.where}.config", "an object")
            try:
                cfg = VfConfig.from_dict(raw_cfg)
            except TypeError as exc:
                raise _Reader._bad(file, f"{v.where}.config", "a VF configuration") from exc
            vfs.append(VfRecord(v.num("index"), v.text("netdev"), v.text("nic_link"), v.opt_text("mac"), cfg))
        pfs.append(PfRecord(p.text("name"), p.num("index"), p.text("nic_link"), p.text("switch_port"),
                            p.num("numvfs"), p.num("totalvfs"), p.text("pci_address"), vfs, p.opt_text("mac"),
                            p.opt_num("port_mtu") or DEFAULT_PORT_MTU, p.opt_text("lldp_host")))
    vlans = [VlanRecord(v.num("id"), v.text("name"), v.text("l3_interface"), v.text("gateway"), v.num("prefixlen"),
                        v.text("bridge")) for v in r.subs("vlans")]
    removed: list[tuple[str, int]] = []
    for i, item in enumerate(fl.items("vlan_removed")):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], int)):
            raise _Reader._bad(file, f"faults.vlan_removed[{i}]", "a [port, vlan] pair")
        removed.append((item[0], item[1]))
    gw_down = fl.items("gateway_down")
    pf_down = fl.items("pf_down")
    lldp_off = fl.items("lldp_off")
    port_mtu = fl.data.get("port_mtu", {})
    if (not all(isinstance(x, int) for x in gw_down) or not all(isinstance(x, str) for x in pf_down + lldp_off)
            or not isinstance(port_mtu, dict)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in port_mtu.values())):
        raise _Reader._bad(file, "faults", "valid fault lists")
    background = fl.data.get("background", [0, 0])
    if not (isinstance(background, list) and len(background) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in background)):
        raise _Reader._bad(file, "faults.background", "a [MACs, ARP entries] pair")
    host = r.data.get("host", {})
    host_name = host.get("name", "") if isinstance(host, dict) else None
    if not isinstance(host_name, str):
        raise _Reader._bad(file, "host.name", "a string")
    return LabState(
        topology=r.text("topology"),
        topology_fingerprint=r.text("topology_fingerprint"),
        nic_ns=r.text("nic_ns"),
        sw_ns=r.text("sw_ns"),
        alias=r.text("alias"),
        switch_name=sw.text("name"),
        switch_style=_style(sw.text("style"), file),
        model=sw.text("model"),
        junos_version=sw.text("junos_version"),
        platform=_platform(sw.opt_text("platform") or "juniper_junos", file),
        router_mac=sw.text("router_mac"),
        username=sw.text("username"),
        password_env=sw.opt_text("password_env"),
        host_key=files.text("host_key"),
        client_key=files.text("client_key"),
        authorized_keys=files.text("authorized_keys"),
        log=files.text("log"),
        pfs=pfs,
        vlans=vlans,
        emulator=EmulatorRecord(em.text("host"), em.num("port"), em.opt_num("pid"), em.opt_num("start_time")),
        faults=Faults(removed, list(gw_down), list(pf_down), fl.flag("refuse_login"),
                      fl.opt_text("drop_session_on"), fl.opt_text("hang_on"), fl.flag("garble"),
                      lldp_off=list(lldp_off), port_mtu=dict(port_mtu),
                      background=(background[0], background[1])),
        host_name=host_name,
    )


def state_path(directory: Path | str) -> Path:
    return Path(directory) / STATE_FILE


def exists(directory: Path | str) -> bool:
    return state_path(directory).is_file()


def load(directory: Path | str) -> LabState:
    """Read a lab's state; a missing, unreadable, damaged or older file is a StateError."""
    path = state_path(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(
            f"no lab state at {path}: the lab is not up",
            hint="run `sriovcheck lab up <topology file>` first",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read lab state {path}: {exc}", hint=_DOWN_HINT) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"lab state {path} is not valid JSON ({exc})", hint=_DOWN_HINT) from exc
    return state_from_dict(data, path)


def save(directory: Path | str, state: LabState) -> Path:
    """Write the state durably (write, fsync, rename, fsync the folder): readers see the old file or
    the new one, never a mix. A full disk is a StateError naming the file and the room left."""
    path = state_path(directory)
    # One line, not indented: the json module encodes indented output in pure Python (5x slower), and an
    # emulated rack's state (16 hosts: 35 KB) is written once or twice per VF change (the intent, then what
    # the kernel answered if it differs), under the lock every host's process waits for.
    # `python3 -m json.tool state.json` shows it indented.
    payload = (json.dumps(state.as_dict(), sort_keys=True, separators=(",", ":")) + "\n").encode()
    statefiles.write_bytes_durably(path, payload, what="lab state", mode=0o644)
    return path


@contextlib.contextmanager
def locked(directory: Path | str) -> Iterator[None]:
    """Serialise read-modify-write of one lab's state across processes (flock; not re-entrant)."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(d / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateError(f"cannot lock lab state in {d}: {exc.strerror or exc}",
                         hint="check that the state directory is writable (SRIOVCHECK_STATE_DIR)") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Every writer of state.json holds this lock: a `.state.json.XXXX` here now is an orphan of a
        # writer that was killed.
        statefiles.remove_orphans(d, (STATE_FILE,))
        yield
    finally:
        os.close(fd)
