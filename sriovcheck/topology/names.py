"""What a name may look like before it reaches the kernel, docker or the switch CLI.

Every name from a topology file is checked here once, at load time. Drivers may call the
same functions again as a guard (`require_*`), so that nothing unchecked is ever turned
into a netlink message, a docker call or a Junos command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOPOLOGY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# Linux allows almost any byte but '/', ':' and whitespace in 15 characters; we allow the
# characters real NIC names use, so that a name is also safe in logs, files and reports.
LINUX_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
# docker's own rule is [a-zA-Z0-9][a-zA-Z0-9_.-]+ ; we cap the length at 63.
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
IMAGE_REF = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
DOCKER_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# Junos physical ports (ge-0/0/1, xe-0/0/0:2, et-1/0/48) and aggregates (ae0). No unit:
# learned MACs show up on <port>.0 and sriovcheck adds the unit itself.
JUNOS_PORT = re.compile(r"^(?:(?:ge|xe|et|mge|fe)-\d{1,2}/\d{1,2}/\d{1,3}(?::\d{1,2})?|ae\d{1,3})$")
# The L3 interface of a VLAN: vlan.N on non-ELS EX, irb.N on ELS EX/QFX.
JUNOS_L3_INTERFACE = re.compile(r"^(?:vlan|irb)\.\d{1,5}$")
# Junos VLAN names: a letter first, then letters, digits, '-', '_' or '.'.
JUNOS_VLAN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")
HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
USERNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")

# The kinds of check sriovcheck makes, in the order a person reads them: the results name them, and a
# topology's handover waivers may name only these (sriovcheck.verify.results re-exports them).
CHECK_KINDS = (
    "vf-attached",
    "vf-config",
    "gateway-ping",
    "container-arp",
    "switch-login",
    "switch-mac",
    "switch-arp",
    "gateway-mac",
    "mac-unique",
    "mtu",
    "switch-port",
    "vf-path",
    "vlan-isolation",
    "cabling",
    "teardown-clean",
)


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 80 else repr(value[:77] + "...")


def check(pattern: re.Pattern[str], value: str, what: str, allowed: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not a valid {what}; allowed: {allowed}")
    return value


def linux_ifname(value: str) -> str:
    return check(
        LINUX_IFNAME, value, "Linux interface name",
        "1-15 characters from A-Z a-z 0-9 _ . - starting with a letter or digit (no '/', no spaces)",
    )


def container_name(value: str) -> str:
    return check(
        CONTAINER_NAME, value, "docker container name",
        "1-63 characters from A-Z a-z 0-9 _ . - starting with a letter or digit",
    )


def image_ref(value: str) -> str:
    return check(IMAGE_REF, value, "docker image reference", "e.g. nginx:alpine, registry:5000/team/app:1.2")


def docker_network(value: str) -> str:
    check(DOCKER_NETWORK, value, "docker network name", "bridge, none, or a network's name")
    if value == "host":
        # The container would share the host's namespace: "moving the VF into the container"
        # would rename and address it on the host itself.
        raise ValueError("network 'host' is refused: the container must have a network namespace of its own; use bridge or none")
    return value


# --- switch platforms' names ----------------------------------------------------------------------
# Each switch platform (sriovcheck.switch.platforms) takes its own port, L3 interface and VLAN names. A
# topology field takes what some platform takes; topology.rules then holds each name to the rules of the
# topology's switch.platform (PLATFORM_NAMES), and the platform modules guard their commands with the same.


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    what: str  # "EOS switch port"
    examples: str  # "e.g. Ethernet1, Ethernet3/1, Port-Channel10"

    def check(self, value: str) -> str:
        if not self.pattern.fullmatch(value):
            raise ValueError(f"{_shown(value)} is not a valid {self.what}; allowed: {self.examples}")
        return value


@dataclass(frozen=True)
class PlatformNames:
    """The names one switch platform takes: its ports, its VLANs' L3 interfaces, its VLAN names."""

    os_name: str
    port: NameRule
    l3_interface: NameRule
    vlan_name: NameRule
    svi_per_vlan: bool = False  # EOS, NX-OS: VLAN N's L3 interface can only be its SVI VlanN

    def l3_interface_problem(self, value: str, vlan_id: int) -> str | None:
        """Why `value` cannot be VLAN `vlan_id`'s L3 interface on this platform (None: it can)."""
        try:
            self.l3_interface.check(value)
        except ValueError as exc:
            return str(exc)
        if self.svi_per_vlan and value != f"Vlan{vlan_id}":
            return f"{value!r} is not VLAN {vlan_id}'s L3 interface on {self.os_name}: its SVI is Vlan{vlan_id}"
        return None


_SVI = re.compile(r"^Vlan\d{1,4}$")
_CISCO_VLAN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_CISCO_VLAN_NAMES = "1-32 of A-Z a-z 0-9 _ . -, starting with a letter or digit (e.g. SRIOV_200)"
EOS_PORT = re.compile(r"^(?:Ethernet\d{1,3}(?:/\d{1,3}){0,2}|Port-Channel\d{1,6})$")
NXOS_PORT = re.compile(r"^(?:Ethernet\d{1,3}/\d{1,3}(?:/\d{1,3})?|port-channel\d{1,4})$")

# By switch.platform (netmiko's device_type).
PLATFORM_NAMES: dict[str, PlatformNames] = {
    "juniper_junos": PlatformNames(
        "Junos",
        NameRule(JUNOS_PORT, "Junos switch port", "e.g. ge-0/0/1, xe-0/0/0:2, et-1/0/48, ae0 (no unit)"),
        NameRule(JUNOS_L3_INTERFACE, "Junos L3 VLAN interface", "vlan.N (non-ELS) or irb.N (ELS)"),
        NameRule(JUNOS_VLAN_NAME, "Junos VLAN name", "a letter, then up to 62 of A-Z a-z 0-9 _ . - (e.g. SRIOV_200)"),
    ),
    "arista_eos": PlatformNames(
        "EOS",
        NameRule(EOS_PORT, "EOS switch port", "e.g. Ethernet1, Ethernet3/1, Port-Channel10"),
        NameRule(_SVI, "EOS L3 VLAN interface", "the VLAN's SVI, Vlan<N> (e.g. Vlan200)"),
        NameRule(_CISCO_VLAN_NAME, "EOS VLAN name", _CISCO_VLAN_NAMES),
        svi_per_vlan=True,
    ),
    "cisco_nxos": PlatformNames(
        "NX-OS",
        NameRule(NXOS_PORT, "NX-OS switch port", "e.g. Ethernet1/1, Ethernet1/49/2, port-channel10"),
        NameRule(_SVI, "NX-OS L3 VLAN interface", "the VLAN's SVI, Vlan<N> (e.g. Vlan200)"),
        NameRule(_CISCO_VLAN_NAME, "NX-OS VLAN name", _CISCO_VLAN_NAMES),
        svi_per_vlan=True,
    ),
}

# A field of the topology model takes any platform's name (rules.py then applies its platform's).
SWITCH_PORT = re.compile(r"^(?:" + "|".join(n.port.pattern.pattern[1:-1] for n in PLATFORM_NAMES.values()) + r")$")
SWITCH_L3_INTERFACE = re.compile(r"^(?:(?:vlan|irb)\.\d{1,5}|Vlan\d{1,4})$")
SWITCH_VLAN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def switch_port(value: str) -> str:
    return check(SWITCH_PORT, value, "switch port",
                 "Junos ge-0/0/1, xe-0/0/0:2, ae0 (no unit); EOS Ethernet1, Ethernet3/1, Port-Channel10; "
                 "NX-OS Ethernet1/1, port-channel10")


def switch_l3_interface(value: str) -> str:
    return check(SWITCH_L3_INTERFACE, value, "L3 VLAN interface", "Junos vlan.N (non-ELS) or irb.N (ELS); EOS and NX-OS Vlan<N>")


def switch_vlan_name(value: str) -> str:
    return check(SWITCH_VLAN_NAME, value, "VLAN name",
                 "a letter or digit, then up to 62 of A-Z a-z 0-9 _ . - (e.g. SRIOV_200; Junos: a letter first; EOS, NX-OS: 32 at most)")


def topology_name(value: str) -> str:
    return check(TOPOLOGY_NAME, value, "topology name", "1-32 characters of a-z 0-9 -, starting with a letter or digit")


def hostname(value: str) -> str:
    return check(HOSTNAME, value, "host name", "DNS labels of A-Z a-z 0-9 - separated by dots, or an IPv4 address")


def username(value: str) -> str:
    return check(USERNAME, value, "user name", "1-64 characters from A-Z a-z 0-9 _ . -")


def env_var(value: str) -> str:
    return check(ENV_VAR, value, "environment variable name", "letters, digits and _, not starting with a digit")


def mac_address(value: str) -> str:
    """Normalise to lower-case colon form and refuse multicast / all-zero addresses."""
    norm = normalise_mac(value)
    if norm is None:
        raise ValueError(f"{_shown(value)} is not a MAC address; allowed: six hex octets, e.g. 02:00:00:00:02:01")
    if int(norm[:2], 16) & 1:
        raise ValueError(f"{norm} is a multicast MAC address; a VF needs a unicast address (first octet even)")
    if norm == "00:00:00:00:00:00":
        raise ValueError("00:00:00:00:00:00 is not a usable MAC address")
    return norm


def normalise_mac(value: str) -> str | None:
    """'9A-88-8C-F7-BF-DE', '9a88.8cf7.bfde', '9a:88:8c:f7:bf:de' -> '9a:88:8c:f7:bf:de'."""
    digits = re.sub(r"[:.\-]", "", value.strip().lower())
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def require(pattern: re.Pattern[str], value: str, what: str) -> str:
    """Guard for drivers: refuse an unchecked name instead of passing it on."""
    if not pattern.fullmatch(value):
        raise ValueError(f"refusing to pass an unchecked {what} {_shown(value)} on")
    return value
