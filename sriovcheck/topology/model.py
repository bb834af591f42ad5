"""The topology file as typed data: the user-facing contract (see README.md).

Field names here are the file's keys. `extra="forbid"` everywhere: a typo is an error,
never silently ignored. Semantic rules that span several objects live in `rules.py`.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from sriovcheck.topology import names


def _no_bool(value: object) -> object:
    # YAML 1.1 reads yes/no/on/off/true as booleans, and pydantic would take True as 1
    # (numvfs: yes -> 1 VF) or even as an address (subnet: true -> 0.0.0.1/32).
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is a boolean here; a number or address is expected (quote yes/no/on/off if meant as text)")
    return value


def _text_address(value: object) -> object:
    # ipaddress would take 3232286721 as 192.168.200.1: an address is written as text.
    _no_bool(value)
    if isinstance(value, (int, float)):
        raise ValueError(f"{value} is a number; write the address as text, e.g. 192.168.200.1")
    return value


NoBool = BeforeValidator(_no_bool)
TextAddress = BeforeValidator(_text_address)
Int = Annotated[int, NoBool]
Float = Annotated[float, NoBool]
IPv4Net = Annotated[IPv4Network, TextAddress]
IPv4Addr = Annotated[IPv4Address, TextAddress]
IPv4If = Annotated[IPv4Interface, TextAddress]

TopologyName = Annotated[str, AfterValidator(names.topology_name)]
LinuxIfname = Annotated[str, AfterValidator(names.linux_ifname)]
ContainerName = Annotated[str, AfterValidator(names.container_name)]
ImageRef = Annotated[str, AfterValidator(names.image_ref)]
DockerNetwork = Annotated[str, AfterValidator(names.docker_network)]
SwitchPort = Annotated[str, AfterValidator(names.switch_port)]
SwitchL3Interface = Annotated[str, AfterValidator(names.switch_l3_interface)]
SwitchVlanName = Annotated[str, AfterValidator(names.switch_vlan_name)]
HostName = Annotated[str, AfterValidator(names.hostname)]
UserName = Annotated[str, AfterValidator(names.username)]
EnvVarName = Annotated[str, AfterValidator(names.env_var)]
MacAddress = Annotated[str, AfterValidator(names.mac_address)]
VlanId = Annotated[int, NoBool, Field(ge=1, le=4094, description="802.1Q VLAN id, 1..4094 (0 breaks VF trunking on some NICs)")]
FilePath = Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[^\x00\n]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Pf(_Strict):
    name: LinuxIfname = Field(description="PF netdev name, e.g. eno2")
    numvfs: Int = Field(ge=1, le=256, description="number of VFs to create on this PF")
    switch_port: SwitchPort = Field(
        description="switch interface this PF is cabled to: ge-0/0/1 (Junos), Ethernet1 (EOS), Ethernet1/1 (NX-OS)"
    )


class Host(_Strict):
    name: HostName = Field(description="host name shown in reports")
    pfs: list[Pf] = Field(min_length=1, max_length=16)


class Switch(_Strict):
    name: HostName = Field(description="switch name shown in reports")
    platform: Literal["juniper_junos", "arista_eos", "cisco_nxos"] = Field(
        default="juniper_junos", description="the switch's OS, as netmiko's device_type: juniper_junos, arista_eos or cisco_nxos"
    )
    host: HostName = Field(description="management address or DNS name")
    port: Int = Field(default=22, ge=1, le=65535)
    username: UserName
    password_env: EnvVarName | None = Field(
        default=None, description="name of the environment variable that holds the password"
    )
    key_file: FilePath | None = Field(default=None, description="SSH private key, instead of a password")
    known_hosts: FilePath | None = Field(default=None, description="known_hosts file for host key checking")
    timeout_s: Float = Field(default=20, gt=0, le=300)


class Vlan(_Strict):
    id: VlanId
    name: SwitchVlanName
    subnet: IPv4Net
    gateway: IPv4Addr
    l3_interface: SwitchL3Interface = Field(description="the gateway's interface: vlan.N/irb.N (Junos), VlanN (EOS, NX-OS)")


class VfSpec(_Strict):
    pf: LinuxIfname
    vf: Int = Field(ge=0, le=255)
    vlan: VlanId
    ifname: LinuxIfname = Field(description="interface name inside the container, e.g. eth1")
    address: IPv4If = Field(description="address with prefix length, e.g. 192.168.200.2/24")
    mac: MacAddress | None = None
    qos: Int = Field(default=0, ge=0, le=7)
    vlan_proto: Literal["802.1Q", "802.1ad"] = "802.1Q"
    spoofchk: bool = True
    trust: bool = False
    link_state: Literal["auto", "enable", "disable"] = "auto"
    min_tx_rate_mbps: Int = Field(default=0, ge=0, le=400_000)
    max_tx_rate_mbps: Int = Field(default=0, ge=0, le=400_000)
    mtu: Int | None = Field(default=None, ge=68, le=9216)


class Container(_Strict):
    name: ContainerName
    image: ImageRef
    network: DockerNetwork = Field(default="bridge", description="docker network for eth0, or none")
    vfs: list[VfSpec] = Field(min_length=1, max_length=64)


class PingCheck(_Strict):
    count: Int = Field(default=3, ge=1, le=100)
    timeout_s: Float = Field(default=2, gt=0, le=60)
    max_loss_pct: Float = Field(default=0, ge=0, le=100)


class Checks(_Strict):
    ping: PingCheck = PingCheck()
    switch_learn_timeout_s: Float = Field(default=15, ge=0, le=600)
    isolation_wait_s: Float | None = Field(
        default=None, ge=0.05, le=30,
        description="seconds of silence that prove VLAN isolation; default (null): 10x the slowest gateway round trip "
        "of the run, at least 0.3 s (1.0 s when no gateway answered); set it for a switch slow to answer ARP",
    )


HandoverText = Annotated[str, Field(min_length=1, max_length=200)]


class Waiver(_Strict):
    check: str = Field(min_length=1, max_length=40, description="check kind, e.g. gateway-mac")
    target: str = Field(min_length=1, max_length=200, description="<container>/<ifname>, <host>:<pf> or the switch name")
    reason: str = Field(min_length=1, max_length=2000, description="why the customer accepts this check failing")


class Handover(_Strict):
    customer: HandoverText | None = None
    site: HandoverText | None = None
    rack: HandoverText | None = None
    executed_by: HandoverText | None = None
    witnessed_by: HandoverText | None = None
    notes: str | None = Field(default=None, max_length=4000)
    waivers: list[Waiver] = Field(default_factory=list, max_length=1000)


class Lab(_Strict):
    switch_style: Literal["non-els", "els"] = "non-els"
    nic_driver: Literal["ixgbe", "igb"] = Field(
        default="ixgbe",
        description="PF driver the emulated NIC behaves as: ixgbe (X540, as in the seed) or igb (82576: at most 7 VFs; "
        "refuses link_state, vlan_proto 802.1ad and min_tx_rate_mbps as the real igb does)",
    )


class Topology(_Strict):
    name: TopologyName
    description: str | None = Field(default=None, max_length=4000)
    host: Host
    switch: Switch
    vlans: list[Vlan] = Field(min_length=1, max_length=4094)
    containers: list[Container] = Field(min_length=1, max_length=1024)
    checks: Checks = Checks()
    lab: Lab = Lab()
    handover: Handover | None = None

    # Convenience lookups (pure; the model is frozen).
    def vlan(self, vlan_id: int) -> Vlan:
        for v in self.vlans:
            if v.id == vlan_id:
                return v
        raise KeyError(vlan_id)

    def pf(self, name: str) -> Pf:
        for p in self.host.pfs:
            if p.name == name:
                return p
        raise KeyError(name)

    def attachments(self) -> list[tuple[Container, VfSpec]]:
        return [(c, vf) for c in self.containers for vf in c.vfs]
