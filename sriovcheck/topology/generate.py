"""Generate valid topologies of any size (examples, benchmarks, scale tests). Pure."""

from __future__ import annotations

from typing import Any

import yaml


def generate(name: str, *, vfs: int, pfs: int = 2, vlans: int = 16, vfs_per_container: int = 1,
             style: str = "non-els", image: str = "nginx:alpine", pf_prefix: str = "ens") -> str:
    """A topology with `vfs` VFs spread round-robin over `pfs` PFs and `vlans` VLANs.

    `pf_prefix` names the PFs (<prefix>1f0 ...): labs of different topologies that run at the
    same time need different PF names, because PFs and VFs live in the root namespace."""
    if vfs < 1 or pfs < 1 or vlans < 1:
        raise ValueError("vfs, pfs and vlans must be >= 1")
    per_pf = -(-vfs // pfs)
    l3 = "irb" if style == "els" else "vlan"
    pf_list = [{"name": f"{pf_prefix}{1 + i}f0", "numvfs": per_pf, "switch_port": f"ge-0/0/{1 + i}"} for i in range(pfs)]
    vlan_list: list[dict[str, Any]] = []
    for j in range(vlans):
        vid = 200 + j
        vlan_list.append({"id": vid, "name": f"SRIOV_{vid}", "subnet": f"10.{vid // 256}.{vid % 256}.0/24",
                          "gateway": f"10.{vid // 256}.{vid % 256}.1", "l3_interface": f"{l3}.{vid}"})
    containers: list[dict[str, Any]] = []
    host_no: dict[int, int] = {}
    for k in range(vfs):
        pf = k % pfs
        vf = k // pfs
        vlan = vlan_list[k % vlans]
        host_no[vlan["id"]] = host_no.get(vlan["id"], 1) + 1
        base = vlan["subnet"].rsplit(".", 1)[0]
        if not containers or len(containers[-1]["vfs"]) >= vfs_per_container:
            containers.append({"name": f"{name}-c{len(containers):03d}", "image": image, "network": "none", "vfs": []})
        slot = containers[-1]["vfs"]
        slot.append({"pf": pf_list[pf]["name"], "vf": vf, "vlan": vlan["id"], "ifname": f"net{len(slot) + 1}",
                     "address": f"{base}.{host_no[vlan['id']]}/24"})
    doc = {
        "name": name,
        "description": f"Generated: {vfs} VFs over {pfs} PFs and {vlans} VLANs, {style} switch.",
        "host": {"name": "nfvi-host", "pfs": pf_list},
        "switch": {"name": "ex-switch", "platform": "juniper_junos", "host": "192.0.2.10", "port": 22, "username": "netops",
                   "password_env": "SRIOVCHECK_SWITCH_PASSWORD", "timeout_s": 20},
        "vlans": vlan_list,
        "containers": containers,
        "lab": {"switch_style": style},
    }
    return "# yaml-language-server: $schema=topology.schema.json\n" + yaml.safe_dump(doc, sort_keys=False)
