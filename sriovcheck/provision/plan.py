"""The provisioning plan: the ordered actions `provision` takes, computed from the topology alone.

Pure: no netlink, docker or sysfs. `sriovcheck plan` prints it (the dry run) and the provisioning
engine executes the same actions in the same order, so the dry run is what really happens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from sriovcheck.host.driver import VfConfig
from sriovcheck.topology.model import Topology, VfSpec

ActionKind = Literal["set-numvfs", "set-vf-config", "create-container", "attach-vf"]


@dataclass(frozen=True)
class Action:
    step: int
    kind: ActionKind
    target: str
    detail: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        d = self.detail
        if self.kind == "set-numvfs":
            return f"set numvfs of PF {d['pf']} to {d['numvfs']} (write 0 first if it has another non-zero count)"
        if self.kind == "set-vf-config":
            cfg = d["config"]
            parts = [f"vlan {cfg['vlan']}", f"qos {cfg['qos']}", f"proto {cfg['vlan_proto']}"]
            if cfg.get("mac"):
                parts.append(f"mac {cfg['mac']}")
            parts += [
                f"spoofchk {'on' if cfg['spoofchk'] else 'off'}",
                f"trust {'on' if cfg['trust'] else 'off'}",
                f"link_state {cfg['link_state']}",
            ]
            if cfg["min_tx_rate_mbps"] or cfg["max_tx_rate_mbps"]:
                parts.append(f"rate {cfg['min_tx_rate_mbps']}-{cfg['max_tx_rate_mbps']} Mbit/s")
            return f"configure {d['pf']} vf {d['vf']} through the PF: " + ", ".join(parts)
        if self.kind == "create-container":
            return f"create container {d['name']} from {d['image']} on network {d['network']} (reuse ours if it exists)"
        steps = ", ".join(d["steps"])
        return f"move {d['pf']} vf {d['vf']} into container {d['container']}: {steps}"


def vf_config_of(spec: VfSpec) -> VfConfig:
    return VfConfig(
        vlan=spec.vlan,
        qos=spec.qos,
        vlan_proto=spec.vlan_proto,
        mac=spec.mac,
        spoofchk=spec.spoofchk,
        trust=spec.trust,
        link_state=spec.link_state,
        min_tx_rate_mbps=spec.min_tx_rate_mbps,
        max_tx_rate_mbps=spec.max_tx_rate_mbps,
    )


def temp_ifname(topology: str, pf_index: int, vf: int) -> str:
    """A name no real NIC uses, for the move into a namespace (avoids clashes with eth1 there);
    the topology's hash in it keeps two topologies provisioning at once apart."""
    tag = hashlib.sha256(topology.encode()).hexdigest()[:4]
    return f"sc{tag}p{pf_index}v{vf}"


def build_plan(topology: Topology, *, image_override: str | None = None) -> list[Action]:
    """Every action, in execution order: VF counts, VF settings, containers, then each VF's move."""
    actions: list[Action] = []

    def add(kind: ActionKind, target: str, **detail: Any) -> None:
        actions.append(Action(step=len(actions) + 1, kind=kind, target=target, detail=detail))

    for pf in topology.host.pfs:
        add("set-numvfs", pf.name, pf=pf.name, numvfs=pf.numvfs)
    for _ct, spec in topology.attachments():
        add("set-vf-config", f"{spec.pf}/vf{spec.vf}", pf=spec.pf, vf=spec.vf, config=vf_config_of(spec).as_dict())
    for ct in topology.containers:
        add(
            "create-container", ct.name, name=ct.name, image=image_override or ct.image,
            network=ct.network, declared_image=ct.image,
        )
    pf_index = {pf.name: i for i, pf in enumerate(topology.host.pfs)}
    for ct, spec in topology.attachments():
        tmp = temp_ifname(topology.name, pf_index[spec.pf], spec.vf)
        steps = [f"link down, rename to {tmp}", "move into the container's network namespace", f"rename to {spec.ifname}"]
        if spec.mtu:
            steps.append(f"mtu {spec.mtu}")
        if spec.mac:
            steps.append(f"mac {spec.mac}")
        steps += [f"address {spec.address}", "arp_notify on", "up"]
        add(
            "attach-vf", f"{ct.name}/{spec.ifname}", pf=spec.pf, vf=spec.vf, container=ct.name,
            ifname=spec.ifname, address=str(spec.address), mtu=spec.mtu, mac=spec.mac, temp_name=tmp, steps=steps,
        )
    return actions
