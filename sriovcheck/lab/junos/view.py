"""What the Junos emulator shows, as plain data: a snapshot of the emulated switch.

The fabric (`sriovcheck.lab.fabric`) builds a snapshot from live kernel state (per-VLAN
bridges' learned FDB entries with their ages, the gateway interfaces' neighbour tables);
the renderers (`sriovcheck.lab.junos.render`) turn it into Junos text and XML; the SSH server
(`sriovcheck.lab.junos.server`) answers commands from it. Tests can feed a static snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Literal, Protocol

SwitchStyle = Literal["non-els", "els"]


@dataclass(frozen=True)
class VlanView:
    name: str  # SRIOV_200
    id: int  # 200
    l3_interface: str  # vlan.200 (non-ELS) / irb.200 (ELS)
    gateway_cidr: str  # 192.168.200.1/24
    members: tuple[str, ...]  # physical ports carrying it, e.g. ("ge-0/0/1",)
    l3_up: bool = True


@dataclass(frozen=True)
class MacView:
    vlan_name: str
    vlan_id: int
    mac: str  # lower-case colon form
    kind: Literal["learned", "static", "router"]
    age_s: int | None  # seconds since learned (None for static/router)
    interface: str  # ge-0/0/1.0 (learned on <port>.0) or "Router"


@dataclass(frozen=True)
class ArpView:
    mac: str
    ip: str
    interface: str  # vlan.200 / irb.200
    flags: str = "none"


@dataclass(frozen=True)
class InterfaceView:
    name: str  # ge-0/0/1, vlan.200, irb.200, me0
    admin_up: bool
    link_up: bool
    mtu: int = 1514
    mac: str | None = None
    address_cidr: str | None = None  # for L3 interfaces
    description: str | None = None


@dataclass(frozen=True)
class LldpView:
    """One LLDP neighbour heard on a switch port (what the host's agent sends, as lldpd would)."""

    local_port: str  # ge-0/0/1 (the physical port; non-ELS shows it as ge-0/0/1.0)
    chassis_id: str  # MAC form (chassis-id subtype "Mac address")
    port_id: str  # the remote port's id (lldpd: its MAC)
    port_description: str | None  # the remote port's description (lldpd: the interface name, eno2)
    system_name: str  # the remote system's name (lldpd: the host name)
    parent_interface: str | None = None  # the local LAG (ae0) the port belongs to, if any


BACKGROUND_PORTS = ("xe-0/2/0", "xe-0/2/1", "xe-0/2/2", "xe-0/2/3")  # the fabric uplinks they sit behind
BACKGROUND_VLAN_BASE = 3500
BACKGROUND_VLANS = 40
BACKGROUND_MAX_MACS = 100_000
BACKGROUND_MAX_ARPS = 20_000


@dataclass(frozen=True)
class Background:
    """What a big ToR switch carries besides the host under test (`lab fault background-table`):
    `macs` learned MACs and `arps` ARP entries of other hosts, on other ports (the uplinks
    xe-0/2/0..3) and other VLANs (BG_3500..BG_3539). Nothing is stored: entry i is computed from i,
    so 100,000 entries cost no memory until a command shows them, and a command scoped to a port
    or VLAN they are not on never touches them."""

    macs: int = 0
    arps: int = 0

    @staticmethod
    def mac(i: int) -> str:
        return f"0e:5c:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"

    @staticmethod
    def vlan_id(i: int) -> int:
        return BACKGROUND_VLAN_BASE + i % BACKGROUND_VLANS

    @staticmethod
    def vlan_name(vid: int) -> str:
        return f"BG_{vid}"

    @staticmethod
    def port(i: int) -> str:
        return BACKGROUND_PORTS[(i // BACKGROUND_VLANS) % len(BACKGROUND_PORTS)]

    @staticmethod
    def ip(j: int) -> str:
        return f"10.{128 + ((j >> 16) & 127)}.{(j >> 8) & 255}.{j & 255}"

    def vlan_ids(self) -> list[int]:
        return [BACKGROUND_VLAN_BASE + k for k in range(min(self.macs, BACKGROUND_VLANS))]

    def mac_rows(self, *, ports: AbstractSet[str] | None = None, vlan_id: int | None = None) -> Iterator[tuple[str, int, str, int, str]]:
        """(vlan name, vlan id, mac, age s, logical interface) of the entries on `ports` (physical
        names; None: all) and `vlan_id` (None: all), grouped by VLAN, MACs ascending."""
        if ports is not None and not ports & set(BACKGROUND_PORTS):
            return
        for k in range(BACKGROUND_VLANS):
            vid = BACKGROUND_VLAN_BASE + k
            if vlan_id is not None and vid != vlan_id:
                continue
            name = self.vlan_name(vid)
            for i in range(k, self.macs, BACKGROUND_VLANS):
                port = self.port(i)
                if ports is None or port in ports:
                    yield name, vid, self.mac(i), i % 300, f"{port}.0"

    def arp_rows(self) -> Iterator[tuple[str, str, int, str]]:
        """(mac, ip, vlan id, physical port behind the L3 interface) of every background ARP entry."""
        for j in range(self.arps):
            yield self.mac(j), self.ip(j), self.vlan_id(j), self.port(j)


@dataclass(frozen=True)
class SwitchSnapshot:
    hostname: str
    style: SwitchStyle
    model: str  # ex4200-48t (non-ELS) / ex4300-48t (ELS)
    junos_version: str  # 12.3R12.4 / 18.4R2.7
    router_mac: str
    vlans: tuple[VlanView, ...]
    macs: tuple[MacView, ...]
    arps: tuple[ArpView, ...]
    interfaces: tuple[InterfaceView, ...]
    lldp: tuple[LldpView, ...] = ()
    background: Background = Background()
    platform: str = "juniper_junos"  # which CLI answers: juniper_junos, arista_eos, cisco_nxos


@dataclass(frozen=True)
class ServerFaults:
    """Misbehaviour on demand, read before each login and each command."""

    refuse_login: bool = False  # every authentication fails
    drop_session_on: str | None = None  # regex: close the SSH channel when a command matches, mid-output
    hang_on: str | None = None  # regex: a matching command never answers
    garble: bool = False  # outputs are returned mangled (truncated, bytes flipped)
    extra: dict[str, str] = field(default_factory=dict)


class SnapshotSource(Protocol):
    def snapshot(self) -> SwitchSnapshot: ...

    def faults(self) -> ServerFaults: ...
