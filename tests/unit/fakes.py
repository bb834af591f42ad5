"""In-memory stand-ins for the seams, for unit tests of the engines (the integration tests use
the real kernel, docker and the emulated lab)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from sriovcheck.containers.runtime import LABEL_MANAGED, LABEL_TOPOLOGY, ContainerInfo
from sriovcheck.errors import ContainerError, HostError
from sriovcheck.host.driver import PfInfo, VfConfig, VfInfo


@dataclass
class Link:
    name: str
    mac: str
    mtu: int = 1500
    admin_up: bool = False
    addresses: list[str] = field(default_factory=list)
    operstate: str = "DOWN"
    carrier: bool | None = True


class FakeWorld:
    """Namespaces ("host" and one per container) holding links, a PF with VFs, containers."""

    def __init__(self, pfs: dict[str, int], totalvfs: int = 64) -> None:
        self.ns: dict[str, dict[str, Link]] = {"host": {}}
        self.vf_home: dict[tuple[str, int], tuple[str, str]] = {}  # (pf, vf) -> (ns, name)
        self.config: dict[tuple[str, int], VfConfig] = {}
        self.numvfs = dict.fromkeys(pfs, 0)
        self.totalvfs = totalvfs
        self.containers: dict[str, ContainerInfo] = {}
        self.calls: list[str] = []
        self.fail_on: set[str] = set()
        self._macs = itertools.count(1)
        self._pids = itertools.count(1000)

    def fail(self, call: str) -> None:
        if call in self.fail_on:
            raise HostError(f"injected failure in {call}")

    def new_mac(self) -> str:
        n = next(self._macs)
        return f"02:00:00:00:{n // 256:02x}:{n % 256:02x}"


class FakeHost:
    kind = "fake"

    def __init__(self, w: FakeWorld) -> None:
        self.w = w

    def pf_info(self, pf: str) -> PfInfo:
        if pf not in self.w.numvfs:
            return PfInfo(name=pf, exists=False)
        return PfInfo(name=pf, exists=True, sriov_capable=True, totalvfs=self.w.totalvfs, numvfs=self.w.numvfs[pf], driver="fake",
                      operstate="up", carrier=True, mtu=1500, mac="02:00:00:00:aa:01",
                      vfs=[self.vf_info(pf, i) for i in range(self.w.numvfs[pf])])

    def set_numvfs(self, pf: str, count: int) -> None:
        self.w.calls.append(f"numvfs {pf} {count}")
        self.w.fail(f"numvfs {pf}")
        for i in range(self.w.numvfs[pf]):
            ns, name = self.w.vf_home.pop((pf, i))
            self.w.ns[ns].pop(name, None)
            self.w.config.pop((pf, i), None)
        for i in range(count):
            name = f"{pf}v{i}"
            self.w.ns["host"][name] = Link(name, self.w.new_mac())
            self.w.vf_home[(pf, i)] = ("host", name)
            self.w.config[(pf, i)] = VfConfig()
        self.w.numvfs[pf] = count

    def vf_info(self, pf: str, vf: int) -> VfInfo:
        ns, name = self.w.vf_home[(pf, vf)]
        return VfInfo(pf=pf, index=vf, pci_address=f"0000:01:10.{vf}", driver="fakevf", netdev=name if ns == "host" else None)

    def find_vf_in_netns(self, pf: str, vf: int, netns_path: str) -> str | None:
        ns, name = self.w.vf_home[(pf, vf)]
        return name if ns == netns_path else None

    def get_vf_config(self, pf: str, vf: int) -> VfConfig:
        return self.w.config[(pf, vf)]

    def set_vf_config(self, pf: str, vf: int, config: VfConfig) -> None:
        self.w.calls.append(f"vfconfig {pf} {vf} vlan {config.vlan}")
        self.w.fail(f"vfconfig {pf} {vf}")
        self.w.config[(pf, vf)] = config


class FakeRuntime:
    def __init__(self, w: FakeWorld) -> None:
        self.w = w

    def engine_version(self) -> str:
        self.w.fail("engine")
        return "fake 1.0"

    def get(self, name: str) -> ContainerInfo | None:
        return self.w.containers.get(name)

    def create(self, *, name: str, image: str, network: str, topology: str, command: list[str] | None = None) -> ContainerInfo:
        self.w.calls.append(f"create {name}")
        self.w.fail(f"create {name}")
        info = ContainerInfo(name=name, id=f"id-{name}", image=image, running=True, pid=next(self.w._pids),
                             labels={LABEL_MANAGED: "true", LABEL_TOPOLOGY: topology})
        self.w.containers[name] = info
        self.w.ns[f"/proc/{info.pid}/ns/net"] = {}
        return info

    def start(self, name: str) -> ContainerInfo:
        info = replace(self.w.containers[name], running=True, pid=next(self.w._pids))
        self.w.containers[name] = info
        self.w.ns[f"/proc/{info.pid}/ns/net"] = {}
        return info

    def kill(self, name: str) -> None:
        """The container dies: its namespace goes; a real VF comes back to the host as its in-container name."""
        info = self.w.containers[name]
        ns = f"/proc/{info.pid}/ns/net"
        for lname, link in self.w.ns.pop(ns).items():
            link.admin_up, link.addresses = False, []
            self.w.ns["host"][lname] = link
            for key, (lns, n) in list(self.w.vf_home.items()):
                if lns == ns and n == lname:
                    self.w.vf_home[key] = ("host", lname)
        self.w.containers[name] = replace(info, running=False, pid=None)

    def remove(self, name: str) -> None:
        self.w.calls.append(f"remove {name}")
        if name in self.w.containers:
            if self.w.containers[name].running:
                self.kill(name)
            del self.w.containers[name]

    def has_image(self, image: str) -> bool:
        return True

    def list_managed(self, topology: str | None = None) -> list[ContainerInfo]:
        return sorted((c for c in self.w.containers.values()
                       if c.labels.get(LABEL_MANAGED) == "true" and topology in (None, c.labels.get(LABEL_TOPOLOGY))),
                      key=lambda c: c.name)


class FakeNetns:
    def __init__(self, w: FakeWorld) -> None:
        self.w = w

    def _ns(self, ns: str | None) -> dict[str, Link]:
        return self.w.ns["host" if ns is None else ns]

    def attach_vf(self, host_ifname: str, *, netns_path: str, ifname: str, address_cidr: str,
                  mtu: int | None, mac: str | None, temp_name: str) -> Link:
        self.w.calls.append(f"attach {host_ifname} -> {ifname}")
        self.w.fail(f"attach {host_ifname}")
        link = self.w.ns["host"].pop(host_ifname)
        link.name, link.admin_up, link.operstate = ifname, True, "UP"
        link.addresses = [address_cidr]
        if mtu:
            link.mtu = mtu
        if mac:
            link.mac = mac
        self.w.ns[netns_path][ifname] = link
        for key, (ns, n) in list(self.w.vf_home.items()):
            if ns == "host" and n == host_ifname:
                self.w.vf_home[key] = (netns_path, ifname)
        return link

    def detach_vf(self, ifname: str, *, netns_path: str, host_ifname: str, temp_name: str | None = None) -> None:
        self.w.calls.append(f"detach {ifname} -> {host_ifname}")
        link = self.w.ns[netns_path].pop(ifname, None)
        if link is None:
            raise HostError(f"{ifname} not in {netns_path}")
        link.name, link.admin_up, link.addresses = host_ifname, False, []
        self.w.ns["host"][host_ifname] = link
        for key, (ns, n) in list(self.w.vf_home.items()):
            if ns == netns_path and n == ifname:
                self.w.vf_home[key] = ("host", host_ifname)

    def read_link(self, ns: str | None, ifname: str) -> Link | None:
        if ns is not None and ns not in self.w.ns:
            return None
        return self._ns(ns).get(ifname)

    def find_link_by_mac(self, ns: str | None, mac: str) -> Link | None:
        return next((link for link in self._ns(ns).values() if link.mac == mac), None)

    def set_host_link(self, ifname: str, *, new_name: str | None = None, mtu: int | None = None) -> None:
        self.w.calls.append(f"set-host-link {ifname} {new_name} {mtu}")
        link = self.w.ns["host"].pop(ifname)
        if new_name:
            link.name = new_name
            for key, (ns, n) in list(self.w.vf_home.items()):
                if ns == "host" and n == ifname:
                    self.w.vf_home[key] = ("host", new_name)
        if mtu:
            link.mtu = mtu
        self.w.ns["host"][link.name] = link


class ContainerErrorRuntime(FakeRuntime):
    def engine_version(self) -> str:
        raise ContainerError("docker engine not reachable", hint="start it")
