"""Host topologies of an example rack (tests, the rack benchmark, the Ansible example inventory). Pure.

Host h (1-based) is `node<hh>`: PF `r<hh>p0` (PF names differ per host: in the emulated rack they
share this machine's root namespace) cabled to ge-0/0/<h> of one switch, one container with `vfs`
VFs, VF k on VLAN 200+k. Every host shares the VLANs, as the hosts of a rack do.
"""

from __future__ import annotations

from typing import Any

import yaml

PASSWORD_ENV = "SRIOVCHECK_SWITCH_PASSWORD"  # noqa: S105 - the name of a variable, never a password


def rack_host_topology(h: int, *, vfs: int = 4, switch: str = "tor-a", prefix: str = "node",
                       style: str = "non-els", pf_prefix: str = "r", password_env: str | None = PASSWORD_ENV) -> str:
    if not 1 <= h <= 47 or not 1 <= vfs <= 16:
        raise ValueError("host number 1..47 and vfs 1..16")
    name = f"{prefix}{h:02d}"
    l3 = "irb" if style == "els" else "vlan"
    vlans = [{"id": 200 + k, "name": f"SRIOV_{200 + k}", "subnet": f"10.20.{k}.0/24", "gateway": f"10.20.{k}.1",
              "l3_interface": f"{l3}.{200 + k}"} for k in range(vfs)]
    pf = f"{pf_prefix}{h:02d}p0"
    sw: dict[str, Any] = {"name": switch, "platform": "juniper_junos", "host": "192.0.2.10", "port": 22, "username": "netops"}
    if password_env:
        sw["password_env"] = password_env
    doc = {
        "name": name,
        "description": f"Host {h} of the example rack on {switch}.",
        "host": {"name": name, "pfs": [{"name": pf, "numvfs": vfs, "switch_port": f"ge-0/0/{h}"}]},
        "switch": sw,
        "vlans": vlans,
        "containers": [{
            "name": f"{name}-c0", "image": "nginx:alpine", "network": "none",
            "vfs": [{"pf": pf, "vf": k, "vlan": 200 + k, "ifname": f"net{k + 1}", "address": f"10.20.{k}.{10 + h}/24"}
                    for k in range(vfs)],
        }],
        "checks": {"ping": {"count": 2, "timeout_s": 2, "max_loss_pct": 0}, "switch_learn_timeout_s": 10},
        "lab": {"switch_style": style},
    }
    return "# yaml-language-server: $schema=topology.schema.json\n" + yaml.safe_dump(doc, sort_keys=False)
