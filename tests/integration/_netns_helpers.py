"""Test scaffolding for namespace, probe and docker tests: a gateway namespace with a bridge,
VF stand-ins (veth pairs), and leftover checks. Built with the ip CLI, as a user would.

Every name carries a random suffix; everything made here is removed in `Scaffold.cleanup()`.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


def ip_json(*args: str, netns: str | None = None) -> Any:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return json.loads(run(*prefix, "-j", *args).stdout or "[]")


def link_names(netns: str | None = None) -> set[str]:
    return {link["ifname"] for link in ip_json("link", "show", netns=netns)}


def netns_names() -> set[str]:
    return {ns["name"] for ns in json.loads(run("ip", "-j", "netns", "list").stdout or "[]")}


def suffix() -> str:
    return secrets.token_hex(3)


@dataclass
class Gateway:
    """A namespace `ns` holding bridge `br` with `gw_ip`/24: the switch + router of a VLAN."""

    ns: str
    br: str
    subnet: str  # e.g. 10.201.37 (a /24)
    gw_ip: str
    gw_mac: str


@dataclass
class Scaffold:
    tag: str = field(default_factory=suffix)
    namespaces: list[str] = field(default_factory=list)
    host_links: list[str] = field(default_factory=list)

    def netns(self, role: str) -> str:
        name = f"sct-{role}-{self.tag}"
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def gateway(self, role: str = "gw", *, third_octet: int | None = None) -> Gateway:
        ns = self.netns(role)
        octet = third_octet if third_octet is not None else int(self.tag[:2], 16)
        subnet = f"10.201.{octet}"
        # An explicit MAC: a bridge otherwise takes its lowest port's MAC, which changes as ports come.
        mac = f"02:5c:{self.tag[0:2]}:{self.tag[2:4]}:{self.tag[4:6]}:{octet % 256:02x}"
        run("ip", "-n", ns, "link", "add", "br0", "address", mac, "type", "bridge")
        run("ip", "-n", ns, "addr", "add", f"{subnet}.1/24", "dev", "br0")
        run("ip", "-n", ns, "link", "set", "br0", "up")
        return Gateway(ns=ns, br="br0", subnet=subnet, gw_ip=f"{subnet}.1", gw_mac=mac)

    def vf_standin(self, gw: Gateway, n: int = 0) -> str:
        """A veth whose host end (returned, in our namespace) plays a VF; its peer is a port
        of the gateway's bridge."""
        host = f"sv{n}{self.tag}"
        peer = f"sp{n}{self.tag}"
        run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
        self.host_links.append(host)
        run("ip", "link", "set", peer, "netns", gw.ns)
        run("ip", "-n", gw.ns, "link", "set", peer, "master", gw.br, "up")
        return host

    def cleanup(self) -> None:
        for link in self.host_links:
            run("ip", "link", "del", link, check=False)
        for ns in self.namespaces:
            run("ip", "netns", "del", ns, check=False)

    def leftovers(self) -> list[str]:
        found = [n for n in netns_names() if self.tag in n]
        found += [n for n in link_names() if self.tag in n]
        return found


@pytest.fixture
def scaffold(root_required: None) -> Iterator[Scaffold]:
    """Uses the integration conftest's `root_required` (skip locally, fail in CI)."""
    sc = Scaffold()
    try:
        yield sc
    finally:
        sc.cleanup()
    assert sc.leftovers() == [], f"left behind: {sc.leftovers()}"


def addr_info(ifname: str, *, netns: str | None = None) -> dict[str, Any]:
    (info,) = ip_json("addr", "show", "dev", ifname, netns=netns)
    return dict(info)


def cidrs(info: dict[str, Any], family: str = "inet") -> list[str]:
    return [f"{a['local']}/{a['prefixlen']}" for a in info.get("addr_info", []) if a["family"] == family]
