"""The fleet playbook's filter (ansible/filter_plugins/sriovcheck_filters.py): each host's topology file
on the controller, for the controller's rack up, switch read and rack down."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "ansible" / "filter_plugins" / "sriovcheck_filters.py"


def _filters() -> Any:
    spec = importlib.util.spec_from_file_location("sriovcheck_filters", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()


def test_each_host_gets_its_topology_or_the_file_its_template_is_rendered_to() -> None:
    files = _filters()["sriovcheck_topology_files"]
    hostvars = {"a": {"sriovcheck_topology": "/etc/sc/a.yaml"},
                "b": {"sriovcheck_topology_template": "rack.yaml.j2", "sriovcheck_topology": "/ignored.yaml"},
                "c": {"sriovcheck_topology": "c.yaml"}}
    assert files(["c", "b", "a"], hostvars, "/srv/fleet") == ["c.yaml", "/srv/fleet/topologies/b.yaml", "/etc/sc/a.yaml"]
    assert files([], hostvars, "/srv/fleet") == []


def test_a_host_without_a_topology_is_named() -> None:
    from ansible.errors import AnsibleFilterError

    files = _filters()["sriovcheck_topology_files"]
    with pytest.raises(AnsibleFilterError, match="host d: set sriovcheck_topology"):
        files(["a", "d"], {"a": {"sriovcheck_topology": "a.yaml"}, "d": {}}, "/srv/fleet")


def test_the_hosts_that_need_an_install_or_a_rendered_topology_get_their_groups() -> None:
    groups = _filters()["sriovcheck_fleet_groups"]
    hostvars = {"a": {"sriovcheck_topology": "a.yaml"},  # install is the default
                "b": {"sriovcheck_topology_template": "t.j2", "sriovcheck_install": "false"},  # Ansible's booleans
                "c": {"sriovcheck_topology": "c.yaml", "sriovcheck_install": False},
                "d": {"sriovcheck_topology_template": "t.j2", "sriovcheck_install": "yes"}}
    assert groups(["a", "b", "c", "d"], hostvars) == [
        {"name": "a", "groups": ["sriovcheck_fleet_install"]},
        {"name": "b", "groups": ["sriovcheck_fleet_render"]},
        {"name": "d", "groups": ["sriovcheck_fleet_install", "sriovcheck_fleet_render"]},
    ]
    assert groups(["c"], hostvars) == []


def test_an_install_setting_that_is_not_a_boolean_is_named() -> None:
    from ansible.errors import AnsibleFilterError

    groups = _filters()["sriovcheck_fleet_groups"]
    with pytest.raises(AnsibleFilterError, match="host x: sriovcheck_install must be true or false"):
        groups(["x"], {"x": {"sriovcheck_install": "sometimes"}})


@pytest.mark.parametrize("switch", ["tor-a", "TOR A/1", "..x..", "___", "sw.01_b-c"])
def test_the_switch_file_is_the_name_switch_read_gives_the_evidence(switch: str) -> None:
    from sriovcheck.fleet.commands import switch_dir_name
    from sriovcheck.fleet.example import rack_host_topology

    text = rack_host_topology(1, switch="tor-a").replace("name: tor-a", f"name: {switch!r}")
    assert _filters()["sriovcheck_switch_file"](text) == switch_dir_name(switch)


def test_a_topology_without_a_switch_is_a_clear_error() -> None:
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match="names no switch"):
        _filters()["sriovcheck_switch_file"]("name: x\nhost: {}\n")
    with pytest.raises(AnsibleFilterError, match="names no switch"):
        _filters()["sriovcheck_switch_file"]("name: [unclosed")
