"""The fleet playbook (ansible/sriovcheck-fleet.yml) on an emulated rack: 3 hosts, one emulated switch,
`local` connection (every host is this machine). A healthy rack passes with exactly one switch login
for the whole fleet; with one host's VLAN removed from its port, exactly that host fails, with the
cause, in the fleet report and its JUnit. Everything the playbook made is gone afterwards (the
module's leak check).

The run over real SSH to this machine's own sshd, with `become` and the install from wheels, is
tests/integration/test_fleet_ssh.py.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from junitparser import Failure, JUnitXml
from lxml import etree

from sriovcheck.fleet.example import rack_host_topology
from sriovcheck.lab.rack import login_count, rack_name
from tests.integration._lab_helpers import held_gone

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "ansible" / "sriovcheck-fleet.yml"
BIN = Path(sys.executable).with_name("sriovcheck")
ANSIBLE = Path(sys.executable).with_name("ansible-playbook")
HOSTS = 3


@pytest.fixture
def rack(tmp_path: Path, docker_required: None) -> Iterator[dict[str, object]]:
    if not ANSIBLE.exists():
        if os.environ.get("CI"):
            pytest.fail("ansible-playbook is missing in CI: install the test extra (ansible-core)")
        pytest.skip("needs ansible-core (the test extra)")
    token = secrets.token_hex(2)
    switch = f"tor-{token}"
    env = {**os.environ, "SRIOVCHECK_STATE_DIR": str(tmp_path / "state"), "ANSIBLE_HOST_KEY_CHECKING": "False",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-tmp"),
           "ANSIBLE_NOCOLOR": "1"}
    env.pop("SRIOVCHECK_SWITCH_PASSWORD", None)
    files = []
    hosts: dict[str, dict[str, object]] = {}
    for h in range(1, HOSTS + 1):
        text = rack_host_topology(h, vfs=2, switch=switch, prefix=f"f{token}h", pf_prefix=f"f{token}")
        path = tmp_path / f"host{h}.yaml"
        path.write_text(text)
        files.append(path)
        hosts[f"host{h}"] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                             "sriovcheck_topology": str(path), "sriovcheck_dir": str(tmp_path / f"on-host{h}")}
    # The last host's topology is rendered from a template and inventory variables (no file of its own).
    last = hosts[f"host{HOSTS}"]
    template = tmp_path / f"host{HOSTS}.yaml.j2"
    template.write_text(files[-1].read_text().replace(f"description: Host {HOSTS} of",
                                                      "description: {{ rack_description }} {{ inventory_hostname }} of"))
    del last["sriovcheck_topology"]
    last.update(sriovcheck_topology_template=str(template), rack_description="Rendered for")
    inventory = {"all": {"children": {"sriovcheck_hosts": {"hosts": hosts, "vars": {
        "sriovcheck_install": False, "sriovcheck_become": False, "sriovcheck_bin": str(BIN),
        "sriovcheck_controller_bin": str(BIN), "sriovcheck_lab": True, "sriovcheck_teardown": True,
        "sriovcheck_lab_down": False, "sriovcheck_fail_on_check": False,
        "sriovcheck_fleet_dir": str(tmp_path / "fleet"), "sriovcheck_fleet_title": f"rack {switch}"}}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    up = subprocess.run([str(BIN), "lab", "up", *map(str, files)], env=env, capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stderr
    lab = rack_name(switch)
    try:
        yield {"tmp": tmp_path, "env": env, "files": files, "lab": lab, "token": token}
    finally:
        for path in files:  # a failed playbook may have left containers: teardown is idempotent
            subprocess.run([str(BIN), "teardown", str(path), "--lab"], env=env, capture_output=True, timeout=300)
        subprocess.run([str(BIN), "lab", "down", *map(str, files)], env=env, capture_output=True, timeout=300)
        shutil.rmtree(tmp_path / "state", ignore_errors=True)


def playbook(rack: dict[str, object], *extra: str) -> subprocess.CompletedProcess[str]:
    tmp = rack["tmp"]
    assert isinstance(tmp, Path)
    return subprocess.run(
        [str(ANSIBLE), "-i", str(tmp / "inventory.yml"), str(PLAYBOOK), "--forks", str(HOSTS), *extra],
        env=rack["env"], capture_output=True, text=True, timeout=900, cwd=tmp,  # type: ignore[arg-type]
    )


def logins(rack: dict[str, object]) -> int:
    tmp = rack["tmp"]
    assert isinstance(tmp, Path)
    return login_count(str(rack["lab"]), tmp / "state")


def containers(token: object) -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True)
    return [n for n in out.stdout.split() if f"f{token}h" in n]



def test_healthy_rack_passes_with_one_switch_login(rack: dict[str, object]) -> None:
    assert logins(rack) == 0
    done = playbook(rack, "-v")  # -v: each task's result, the verify's stderr among them
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # every host's verify ran in the process its traffic command kept (--hold / --held), and none is left
    held = set(re.findall(r"running in sriovcheck process (\d+), held by `fleet traffic --hold`", done.stdout))
    assert len(held) == HOSTS, done.stdout[-4000:]
    assert held_gone(held), held
    fleet = Path(str(rack["tmp"])) / "fleet"
    summary = json.loads((fleet / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["hosts_passed"] == HOSTS, summary
    assert logins(rack) == 1  # one login for the whole fleet, none per host
    session = json.loads((fleet / "evidence" / f"tor-{rack['token']}" / "session.json").read_text())
    for host in summary["hosts"]:
        assert host["evidence_session"] == session["session"] and host["evidence_read_at"] == session["read_started"]
    html = (fleet / "index.html").read_text()
    assert f"{HOSTS} of {HOSTS} hosts passed" in html and session["session"] in html
    tmp = Path(str(rack["tmp"]))
    for h in range(1, HOSTS + 1):
        got = fleet / "hosts" / f"host{h}"
        assert sorted(p.name for p in got.iterdir()) == ["report.html", "results.json"]
        assert f'href="hosts/host{h}/report.html"' in html
        # Nothing was copied to the host and nothing fetched: the topology and the evidence went on the
        # commands' stdin, the results came back on verify's stdout. The host keeps its own report dir
        # (results.json - the same bytes the controller wrote -, junit.xml, the evidence it verified against).
        on_host = tmp / f"on-host{h}"
        assert sorted(p.name for p in on_host.iterdir()) == ["report"]
        assert sorted(p.name for p in (on_host / "report").iterdir()) == ["junit.xml", "results.json", "switch-evidence"]
        assert (on_host / "report" / "results.json").read_text() == (got / "results.json").read_text()
        assert json.loads((on_host / "report" / "switch-evidence" / "session.json").read_text())["session"] == session["session"]
        topology = json.loads((got / "results.json").read_text())["topology"]
        assert topology["file"] == "<stdin: topology>"
        assert topology["description"].startswith(f"Rendered for host{h} of" if h == HOSTS else f"Host {h} of")
    # The controller's own commands (lab up, the one switch read) had the rendered topology as a file.
    rendered = fleet / "topologies" / f"host{HOSTS}.yaml"
    assert rendered.read_text().splitlines()[2] == f"description: Rendered for host{HOSTS} of the example rack on tor-{rack['token']}."
    assert sorted(p.name for p in (fleet / "topologies").iterdir()) == [f"host{HOSTS}.yaml"]
    assert containers(rack["token"]) == []  # torn down by the playbook


def test_one_host_with_its_vlan_removed_fails_alone(rack: dict[str, object]) -> None:
    files = rack["files"]
    assert isinstance(files, list)
    fault = subprocess.run([str(BIN), "lab", "fault", str(files[1]), "vlan-remove", "ge-0/0/2", "201"],
                           env=rack["env"], capture_output=True, text=True, timeout=60)  # type: ignore[call-overload]
    assert fault.returncode == 0, fault.stderr
    done = playbook(rack)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    fleet = Path(str(rack["tmp"])) / "fleet"
    summary = json.loads((fleet / "summary.json").read_text())
    token = rack["token"]
    assert summary["hosts_failed"] == [f"f{token}h02"], summary
    assert summary["hosts_passed"] == HOSTS - 1
    failed = summary["hosts"][0]
    assert any("VLAN 201" in f["message"] and "ge-0/0/2" in f["message"] for f in failed["failures"]), failed
    assert logins(rack) == 1
    xml = (fleet / "junit.xml").read_text()
    schema = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "data" / "junit" / "junit-10.xsd")))
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log
    failing = {s.name: [c for c in s if any(isinstance(r, Failure) for r in c.result)] for s in JUnitXml.fromstring(xml.encode())}
    assert [name for name, cases in failing.items() if cases] == [f"f{token}h02"]
    assert any("is not a member of ge-0/0/2" in (r.message or "") for c in failing[f"f{token}h02"] for r in c.result)
    assert containers(token) == []


def test_a_rack_kept_provisioned_is_torn_down_later_by_the_teardown_tag(rack: dict[str, object]) -> None:
    """README: run without teardown, hand the rack over provisioned, tear it down later with
    `--tags teardown -e sriovcheck_teardown=true` - which tears down and does nothing else."""
    done = playbook(rack, "-e", "sriovcheck_teardown=false")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    kept = containers(rack["token"])
    assert len(kept) == HOSTS, kept  # one container per host, still there
    assert logins(rack) == 1
    fleet = Path(str(rack["tmp"])) / "fleet"
    summary = (fleet / "summary.json").read_text()
    later = playbook(rack, "--tags", "teardown", "-e", "sriovcheck_teardown=true")
    assert later.returncode == 0, later.stdout[-4000:] + later.stderr[-2000:]
    assert containers(rack["token"]) == [], later.stdout[-6000:]
    assert "TASK [Tear down (every VF home, containers removed) when verify did not]" in later.stdout
    assert "TASK [Verify" not in later.stdout and "TASK [Provision" not in later.stdout
    assert logins(rack) == 1  # no switch read, no verify
    assert (fleet / "summary.json").read_text() == summary  # the report of the run before stands
    status = subprocess.run([str(BIN), "lab", "status", "--json", *map(str, rack["files"])],  # type: ignore[call-overload]
                            env=rack["env"], capture_output=True, text=True, timeout=120)
    assert [r["up"] for r in json.loads(status.stdout)] == [True], status.stderr  # the rack stays (sriovcheck_lab_down false)
