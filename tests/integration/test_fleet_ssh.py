"""The fleet playbook over real SSH: ansible-playbook connects to this machine's own sshd on loopback,
started by the test (its own sshd_config, host key and port; a client key made by the test, authorized
for root only while the test runs, through an AuthorizedKeysFile of the test's own - root's
~/.ssh is never touched), with `become`. Two emulated hosts of one rack; the playbook installs
sriovcheck on each from wheels built on the controller into a venv of its own with --no-index,
provisions, reads the switch once, verifies, tears down. Everything is gone afterwards: the sshd
and its sessions, the venvs, the rack (the module's leak check).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sriovcheck import __version__
from sriovcheck.fleet.example import rack_host_topology
from sriovcheck.lab.rack import login_count, rack_name
from tests.integration._lab_helpers import held_gone

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "ansible" / "sriovcheck-fleet.yml"
BIN = Path(sys.executable).with_name("sriovcheck")
ANSIBLE = Path(sys.executable).with_name("ansible-playbook")
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
HOST_PYTHON = "/usr/bin/python3"  # the "host's" Python: the system's, not this venv's
HOSTS = 2


def _need(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"integration prerequisite missing in CI: {what} (scripts/setup.sh installs it)")
    pytest.skip(f"needs {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"sshd exited with {proc.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"sshd on 127.0.0.1:{port} did not answer: {log.read_text()}")


@pytest.fixture
def loopback_sshd(tmp_path: Path, root_required: None) -> Iterator[dict[str, object]]:
    _need(Path(SSHD).is_file(), "sshd (openssh-server)")
    _need(shutil.which("ssh") is not None and shutil.which("ssh-keygen") is not None, "ssh and ssh-keygen (openssh-client)")
    _need(Path(HOST_PYTHON).is_file(), f"{HOST_PYTHON} (the emulated hosts' Python)")
    d = tmp_path / "ssh"
    d.mkdir(mode=0o700)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"sriovcheck-test-{name}", "-f", str(d / name)],
                       check=True, capture_output=True)
    # Authorized for root, from loopback only, and only through this sshd's own AuthorizedKeysFile.
    (d / "authorized_keys").write_text(f'from="127.0.0.1" {(d / "client_key.pub").read_text().strip()}\n')
    port = _free_port()
    sftp = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server") if Path(p).is_file()), None)
    config = d / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}", "PermitRootLogin prohibit-password", "AllowUsers root",
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "StrictModes no",  # the key files live under the test's tmp directory, below the world-writable /tmp
        "X11Forwarding no", "AllowTcpForwarding no", "LogLevel INFO",
        *([f"Subsystem sftp {sftp}"] if sftp else []), "",
    ]))
    made_run_dir = not Path("/run/sshd").exists()  # sshd's privilege separation directory
    if made_run_dir:
        Path("/run/sshd").mkdir(mode=0o755)
    log = d / "sshd.log"
    try:
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        with log.open("wb") as fh:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=fh, stderr=subprocess.STDOUT)
        try:
            _wait_for_banner(port, proc, log)
            known = d / "known_hosts"
            known.write_text(f"[127.0.0.1]:{port} {' '.join((d / 'host_key.pub').read_text().split()[:2])}\n")
            yield {"port": port, "key": d / "client_key", "known_hosts": known, "log": log}
        finally:
            sessions = _children(proc.pid)  # the sessions' own sshd processes, children of this listener
            proc.terminate()
            proc.wait(timeout=15)
            # They end with their connections (ControlMaster is off, so ansible keeps none open).
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and any(_alive(pid) for pid in sessions):
                time.sleep(0.2)
            assert not [pid for pid in sessions if _alive(pid)], "sshd sessions outlived the test"
    finally:
        if made_run_dir:
            shutil.rmtree("/run/sshd", ignore_errors=True)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True



def test_rack_over_real_ssh_installs_from_wheels_and_passes(tmp_path: Path, loopback_sshd: dict[str, object],
                                                            docker_required: None) -> None:
    _need(ANSIBLE.exists(), "ansible-playbook (the test extra: ansible-core)")
    token = secrets.token_hex(2)
    switch = f"ssh-{token}"
    state = tmp_path / "state"
    # ANSIBLE_BECOME_ALLOW_SAME_USER: ansible skips `become` from root to root unless told; this test logs
    # in as root (the key is authorized for root only) and must still go through become.
    env = {**os.environ, "SRIOVCHECK_STATE_DIR": str(state), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOST_KEY_CHECKING": "True",
           "ANSIBLE_BECOME_ALLOW_SAME_USER": "True",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"), "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp")}
    env.pop("SRIOVCHECK_SWITCH_PASSWORD", None)
    files, hosts = [], {}
    ssh_args = (f"-o ControlMaster=no -o ControlPath=none -o UserKnownHostsFile={loopback_sshd['known_hosts']} "
                "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes")
    for h in range(1, HOSTS + 1):
        path = tmp_path / f"host{h}.yaml"
        path.write_text(rack_host_topology(h, vfs=2, switch=switch, prefix=f"s{token}h", pf_prefix=f"s{token}"))
        files.append(path)
        hosts[f"host{h}"] = {
            "ansible_host": "127.0.0.1", "ansible_port": loopback_sshd["port"], "ansible_user": "root",
            "ansible_connection": "ssh", "ansible_ssh_private_key_file": str(loopback_sshd["key"]),
            "ansible_ssh_args": ssh_args, "ansible_python_interpreter": HOST_PYTHON,
            "ansible_remote_tmp": str(tmp_path / f"remote-tmp{h}"),
            "sriovcheck_topology": str(path), "sriovcheck_dir": str(tmp_path / f"on-host{h}"),
            "sriovcheck_venv": str(tmp_path / f"venv-host{h}"),
        }
    inventory = {"all": {"children": {"sriovcheck_hosts": {"hosts": hosts, "vars": {
        # become: root logs in and becomes root with su (this machine has no sudo); a real rack
        # logs in as an operator and becomes root with its usual method.
        "ansible_become_method": "su", "sriovcheck_become": True,
        "sriovcheck_install": True, "sriovcheck_python": HOST_PYTHON,
        # the hosts share this machine's rack; no pip configuration on the hosts: the wheels alone must do
        "sriovcheck_environment": {"SRIOVCHECK_STATE_DIR": str(state), "PIP_CONFIG_FILE": "/dev/null"},
        "sriovcheck_controller_bin": str(BIN), "sriovcheck_controller_python": sys.executable,
        "sriovcheck_lab": True, "sriovcheck_teardown": True, "sriovcheck_lab_down": True,
        "sriovcheck_fleet_dir": str(tmp_path / "fleet"), "sriovcheck_fleet_title": f"rack {switch} over ssh",
        "sriovcheck_collect": ["results.json", "report.html", "junit.xml"]}}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    lab = rack_name(switch)
    logins_seen: list[int] = []
    try:
        done = subprocess.run([str(ANSIBLE), "-vvv", "-i", str(tmp_path / "inventory.yml"), str(PLAYBOOK),
                               "--forks", str(HOSTS), "-e", "sriovcheck_lab_down=false"],
                              env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
        logins_seen.append(login_count(lab, state))
        (tmp_path / "ansible.out").write_text(done.stdout + done.stderr)
        tail = done.stdout[-6000:] + done.stderr[-2000:]
        assert done.returncode == 0, tail
    finally:
        for path in files:  # a failed playbook may have left containers: teardown is idempotent
            subprocess.run([str(BIN), "teardown", str(path), "--lab"], env=env, capture_output=True, timeout=300)
        subprocess.run([str(BIN), "lab", "down", *map(str, files)], env=env, capture_output=True, timeout=300)
    # Really over SSH, as root, with the test's key: sshd logged each accepted login.
    sshd_log = Path(str(loopback_sshd["log"])).read_text()
    assert "Accepted publickey for root from 127.0.0.1" in sshd_log, sshd_log[-2000:]
    assert "ESTABLISH SSH CONNECTION FOR USER: root" in done.stdout
    # ... with become (su): ansible wraps the host's commands in su and waits for its success marker.
    assert "su  root -c" in done.stdout and "BECOME-SUCCESS-" in done.stdout
    # Each host's verify ran in the process its traffic command kept (--hold / --held, over the SSH connection
    # with su): one held process per host, and neither it nor its socket is left.
    held = set(re.findall(r"running in sriovcheck process (\d+), held by `fleet traffic --hold`", done.stdout))
    assert len(held) == HOSTS, held
    assert held_gone(held), held
    assert not any((tmp_path / f"on-host{h}" / "held.sock").exists() for h in range(1, HOSTS + 1))
    # Installed on each host from the controller's wheels, into the host's own venv, without an index.
    wheels = sorted(p.name for p in (tmp_path / "fleet" / "wheelhouse").glob("*.whl"))
    assert f"sriovcheck-{__version__}-py3-none-any.whl" in wheels and any(w.startswith("pydantic_core-") for w in wheels), wheels
    assert "--no-index" in done.stdout
    for h in range(1, HOSTS + 1):
        venv = tmp_path / f"venv-host{h}"
        assert (venv / "pyvenv.cfg").read_text().find("/usr/bin") >= 0  # made from the host's Python
        version = subprocess.run([str(venv / "bin" / "sriovcheck"), "--version"], capture_output=True, text=True, check=True)
        assert __version__ in version.stdout
        assert sorted(p.name for p in (tmp_path / f"on-host{h}" / "wheels").glob("*.whl")) == wheels
    # The rack passed, with ONE switch login for both hosts, and everything was fetched.
    summary = json.loads((tmp_path / "fleet" / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["hosts_passed"] == HOSTS, summary
    assert logins_seen == [1]
    for h in range(1, HOSTS + 1):
        got = tmp_path / "fleet" / "hosts" / f"host{h}"
        assert {p.name for p in got.iterdir()} == {"results.json", "report.html", "junit.xml"}
        assert json.loads((got / "results.json").read_text())["topology"]["name"] == f"s{token}h{h:02d}"
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True)
    assert [n for n in out.stdout.split() if f"s{token}h" in n] == []
