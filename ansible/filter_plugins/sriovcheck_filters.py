"""Filters of the fleet playbook (found beside it, as its action is).

    argv: "{{ [...] + (ansible_play_hosts | sriovcheck_topology_files(hostvars, sc_fleet_dir)) }}"

sriovcheck_topology_files: each host's topology file on the controller, in the order of the hosts given -
its `sriovcheck_topology`, or, for a host with `sriovcheck_topology_template`, the file the playbook renders
that template to (FLEET_DIR/topologies/<host>.yaml). The controller's tasks (rack up and down, the switch
read) take them all at once; computing them here spares a set_fact per host (~0.5 s of a 16-host run).
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError


def sriovcheck_topology_files(hosts: list[str], hostvars: Any, fleet_dir: str) -> list[str]:
    files = []
    for host in hosts:
        own = hostvars[host]
        if "sriovcheck_topology_template" in own:
            files.append(f"{fleet_dir}/topologies/{host}.yaml")
        elif "sriovcheck_topology" in own:
            files.append(str(own["sriovcheck_topology"]))
        else:
            raise AnsibleFilterError(f"host {host}: set sriovcheck_topology (a topology file on the controller) "
                                     "or sriovcheck_topology_template (a template of one)")
    return files


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"sriovcheck_topology_files": sriovcheck_topology_files}
