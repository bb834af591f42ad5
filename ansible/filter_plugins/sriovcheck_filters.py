"""Filters of the fleet playbook (found beside it, as its action is).

    argv: "{{ [...] + (ansible_play_hosts | sriovcheck_topology_files(hostvars, sc_fleet_dir)) }}"

sriovcheck_topology_files: each host's topology file on the controller, in the order of the hosts given -
its `sriovcheck_topology`, or, for a host with `sriovcheck_topology_template`, the file the playbook renders
that template to (FLEET_DIR/topologies/<host>.yaml). The controller's tasks (rack up and down, the switch
read) take them all at once; computing them here spares a set_fact per host (~0.5 s of a 16-host run).

sriovcheck_fleet_groups: the hosts that need sriovcheck installed (`sriovcheck_install`, true unless set
false) and those whose topology is rendered from a template, as [{"name": host, "groups": [...]}] for one
add_host: the install and the rendering then run in plays of those groups only. A task that a host skips
still costs Ansible a worker for that host (~45 ms of CPU each on 2 cores; with both steps skipped, ~0.1 s
per host of a rack that has sriovcheck already).

sriovcheck_switch_file: the name `fleet switch-read` gives the evidence of the switch a topology (its YAML
text) names - `sriovcheck.fleet.commands.switch_dir_name`, written again here (Ansible's Python need not
have sriovcheck). PyYAML's C loader: Ansible's `from_yaml` took ~20 ms per host and task on 2 cores
(0.3 s of a 16-host verify phase, measured with the host commands stubbed).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

INSTALL_GROUP = "sriovcheck_fleet_install"
RENDER_GROUP = "sriovcheck_fleet_render"


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


def sriovcheck_fleet_groups(hosts: list[str], hostvars: Any) -> list[dict[str, Any]]:
    out = []
    for host in hosts:
        own = hostvars[host]
        groups = []
        try:
            if boolean(own.get("sriovcheck_install", True), strict=True):
                groups.append(INSTALL_GROUP)
        except TypeError as exc:
            raise AnsibleFilterError(f"host {host}: sriovcheck_install must be true or false ({exc})") from None
        if "sriovcheck_topology_template" in own:
            groups.append(RENDER_GROUP)
        if groups:
            out.append({"name": host, "groups": groups})
    return out


def sriovcheck_switch_file(topology_text: str) -> str:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(str(topology_text), Loader=loader)  # noqa: S506 - a safe loader (C or Python)
        name = doc["switch"]["name"]
    except (yaml.YAMLError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"sriovcheck_switch_file: the topology names no switch ({type(exc).__name__}: {exc}); "
                                 "`sriovcheck validate` says what is wrong with it") from None
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "switch"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"sriovcheck_topology_files": sriovcheck_topology_files, "sriovcheck_fleet_groups": sriovcheck_fleet_groups,
                "sriovcheck_switch_file": sriovcheck_switch_file}
