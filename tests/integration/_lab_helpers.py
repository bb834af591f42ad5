"""Scaffolding for the end-to-end tests: a uniquely named copy of a seed topology, the product
driven in-process through `sriovcheck.cli.main` (or as a separate process where signals matter),
and pictures of the machine taken from outside with the CLIs a user would use (ip, docker).

Every name carries a random token (topology, PF, containers), so that concurrent runs and
leftovers of a crashed run never collide with this one or with another helper's lab.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.cli import main

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = ROOT / "topologies"
PASSWORD_ENV = "SRIOVCHECK_SWITCH_PASSWORD"


def run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout)


@dataclass
class Cli:
    """One in-process run of `sriovcheck ...`: exit code, stdout, stderr and wall time."""

    code: int
    out: str
    err: str
    seconds: float

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Lab:
    """A uniquely named copy of a seed topology and where its state lives."""

    name: str
    pf: str
    containers: tuple[str, str]  # on VLAN 200 (VF 0) and VLAN 201 (VF 1)
    path: Path
    state_root: Path
    password: str
    style: str
    extra_env: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)  # what a module fixture hands to its tests

    @property
    def targets(self) -> tuple[str, str]:
        return (f"{self.containers[0]}/eth1", f"{self.containers[1]}/eth1")

    @property
    def provision_state(self) -> Path:
        return self.state_root / self.name / "provision.json"

    @property
    def lab_dir(self) -> Path:
        return self.state_root / self.name / "lab"

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment for this lab: its state root and switch password (for os.environ or a child)."""
        return {"SRIOVCHECK_STATE_DIR": str(self.state_root), PASSWORD_ENV: self.password, **self.extra_env,
                **overrides}

    # ------------------------------------------------------------ driving the product
    def cli(self, *args: str, env: dict[str, str] | None = None) -> Cli:
        """`sriovcheck ARGS` in this process, with this lab's environment; TOPOLOGY stands for the file."""
        argv = [str(self.path) if a == "TOPOLOGY" else a for a in args]
        out, err = io.StringIO(), io.StringIO()
        with _environ(self.env(**(env or {}))), contextlib.redirect_stderr(err):
            t0 = time.monotonic()
            code = main(argv, out=out)
            seconds = time.monotonic() - t0
        return Cli(code, out.getvalue(), err.getvalue(), seconds)

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """`python -m sriovcheck ARGS` as a separate process (stderr piped, line by line)."""
        argv = [str(self.path) if a == "TOPOLOGY" else a for a in args]
        child_env = {**os.environ, **self.env(**(env or {})), "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen([sys.executable, "-m", "sriovcheck", *argv], cwd=ROOT, env=child_env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def status(self) -> dict[str, Any]:
        r = self.cli("lab", "status", "TOPOLOGY", "--json")
        assert r.code == 0, r.text
        data: dict[str, Any] = json.loads(r.out)
        return data

    def vfs(self) -> dict[int, dict[str, Any]]:
        """VF index -> what the emulated NIC says of it (netdev, where, mac, config) for VFs 0..7."""
        return {v["vf"]: v for v in self.status()["vfs"]}

    # ------------------------------------------------------------ looking from outside
    def host_links(self) -> list[dict[str, Any]]:
        """The PF and its VFs in the root namespace as `ip -j link` shows them (no ifindex: a
        recreated veth gets a new one)."""
        out = []
        for link in json.loads(run("ip", "-j", "link", "show").stdout or "[]"):
            name = link["ifname"]
            if name == self.pf or name.startswith(self.pf + "v"):
                out.append({k: link.get(k) for k in ("ifname", "address", "mtu", "operstate", "flags", "ifalias")})
        return sorted(out, key=lambda x: str(x["ifname"]))

    def containers_seen(self) -> dict[str, dict[str, Any]]:
        """Our container names -> docker inspect's id, status and pid (absent when no such container)."""
        seen = {}
        for name in self.containers:
            r = run("docker", "inspect", "--format", "{{json .State}}|{{.Id}}|{{json .Config.Labels}}", name,
                    check=False)
            if r.returncode == 0:
                state, cid, labels = r.stdout.strip().split("|", 2)
                st = json.loads(state)
                seen[name] = {"id": cid, "status": st["Status"], "pid": st["Pid"], "labels": json.loads(labels)}
        return seen

    def in_container(self, name: str) -> dict[str, Any]:
        """eth1 inside a container as `docker exec NAME ip -o ...` shows it."""
        link = run("docker", "exec", name, "ip", "-o", "link", "show", "eth1", check=False)
        addr = run("docker", "exec", name, "ip", "-o", "-4", "addr", "show", "dev", "eth1", check=False)
        if link.returncode != 0:
            return {"present": False, "error": link.stderr.strip()}
        fields = link.stdout.split()
        flags = fields[2].strip("<>").split(",")
        mac = fields[fields.index("link/ether") + 1]
        addrs = [f[f.index("inet") + 1] for f in (line.split() for line in addr.stdout.splitlines()) if "inet" in f]
        return {"present": True, "mac": mac, "up": "UP" in flags, "lower_up": "LOWER_UP" in flags,
                "addresses": addrs, "line": link.stdout.split("\\")[0].split(":", 1)[1].strip()}

    def picture(self) -> dict[str, Any]:
        """Everything a provision or teardown may change, seen from outside."""
        vfs = self.vfs()
        return {
            "host_links": self.host_links(),
            "vfs": {i: {k: v[k] for k in ("netdev", "where", "mac", "config", "nic_bridge", "carrier")}
                    for i, v in vfs.items()},
            "containers": self.containers_seen(),
            "provision_state": self.provision_state.exists(),
        }


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_lab(tmp: Path, *, prefix: str, style: str = "non-els", learn_timeout_s: int = 3,
             switch_timeout_s: int = 4, ping: str = "{count: 3, timeout_s: 1, max_loss_pct: 0}",
             platform: str | None = None) -> Lab:
    """A copy of topologies/seed-lab[-els].yaml (or, with `platform` eos / nxos, seed-lab-eos.yaml /
    seed-lab-nxos.yaml) with unique names, written into `tmp`.

    Short timeouts keep failure cases fast: a MAC that is never learned costs `learn_timeout_s`.
    """
    token = secrets.token_hex(2)
    name, pf = f"{prefix}-{token}", f"e{token}"  # PF e1a2b -> VFs e1a2bv0..: well inside 15 characters
    containers = (f"{name}-c200", f"{name}-c201")
    seed_name = f"seed-lab-{platform}" if platform else "seed-lab-els" if style == "els" else "seed-lab"
    src = TOPOLOGIES / f"{seed_name}.yaml"
    text = src.read_text()
    for old, new in ((f"name: {seed_name}\n", f"name: {name}\n"), ("eno2", pf), ("name: test-200", f"name: {containers[0]}"),
                     ("name: test-201", f"name: {containers[1]}"),
                     ("switch_learn_timeout_s: 15", f"switch_learn_timeout_s: {learn_timeout_s}"),
                     ("timeout_s: 20", f"timeout_s: {switch_timeout_s}"),
                     ("ping: {count: 3, timeout_s: 2, max_loss_pct: 0}", f"ping: {ping}")):
        assert old in text, f"{src} changed: {old!r} not found"
        text = text.replace(old, new)
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    state_root = tmp / "state"
    state_root.mkdir(exist_ok=True)
    return Lab(name, pf, containers, path, state_root, password="pw-" + secrets.token_hex(4), style=style)


def cleanup(lab: Lab) -> list[str]:
    """Teardown + lab down, whatever state things are in; then remove any of our containers that
    survived (a test that failed half-way). Returns what could not be cleaned, for the report."""
    problems = []
    r = lab.cli("teardown", "TOPOLOGY", "--lab")
    if r.code != 0:
        problems.append(f"teardown: {r.text}")
    r = lab.cli("lab", "down", "TOPOLOGY")
    if r.code != 0 and "still provisioned" in r.text:  # teardown failed above: that is reported already
        r = lab.cli("lab", "down", "--force", "TOPOLOGY")
    if r.code != 0:
        problems.append(f"lab down: {r.text}")
    for name in lab.containers_seen():
        run("docker", "rm", "-f", name, check=False)
        problems.append(f"container {name} was left and removed")
    return problems


def wait_for(pred: Any, *, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def held_gone(pids: set[str], timeout_s: float = 10.0) -> bool:
    """Whether the held processes have ended (a zombie not yet reaped by init counts as ended): the held
    process sends verify's exit code, then exits, so it may still be on its way out when the playbook ends."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.05)

def need_root() -> None:
    """Skip without root; in CI (CI=true) fail instead, as nothing may skip there."""
    if os.geteuid() != 0:
        import pytest

        pytest.fail("needs root") if os.environ.get("CI") == "true" else pytest.skip("needs root")


@contextlib.contextmanager
def brought_up(lab: Lab, *, first: tuple[str, ...] = ("lab", "up", "TOPOLOGY"), stray_containers_ok: bool = True) -> Iterator[Lab]:
    """`lab` brought up (or provisioned: `first`), and always cleaned up after, failing the module if the
    clean-up left anything (but stray containers it then removed, when `stray_containers_ok`)."""
    try:
        r = lab.cli(*first)
        assert r.code == 0, r.text
        yield lab
    finally:
        problems = cleanup(lab)
        assert not [p for p in problems if not (stray_containers_ok and p.startswith("container"))], problems


@contextlib.contextmanager
def lab_session(base: Path, *, prefix: str, first: tuple[str, ...] = ("lab", "up", "TOPOLOGY"), **kwargs: Any) -> Iterator[Lab]:
    """A module's lab: made, brought up (or provisioned: `first`), and always cleaned up after."""
    need_root()
    with brought_up(make_lab(base, prefix=prefix, **kwargs), first=first) as lab:
        yield lab


def make_healthy(lab: Lab) -> None:
    """After a test that broke the lab: faults cleared, `lab up` puts the fabric back (restarts a stopped
    emulator, moved links), `provision` repairs containers, VF attachments and VF settings. With
    `lab.notes["forget_learned_macs"]`, also what the switch's MAC ageing would do in 300 s: forget
    where the containers' MACs were seen while broken."""
    assert lab.cli("lab", "fault", "TOPOLOGY", "clear").code == 0
    r = lab.cli("lab", "up", "TOPOLOGY")
    assert r.code == 0, r.text
    r = lab.cli("provision", "TOPOLOGY", "--lab")
    assert r.code == 0, r.text
    if not lab.notes.get("forget_learned_macs"):
        return
    st = lab.status()
    sw_ns = next(ns for ns in st["namespaces"] if ns.endswith("-sw"))
    macs = [lab.in_container(name).get("mac") for name in lab.containers]
    for port in st["ports"]:
        for cable in port["cables"]:
            for mac in filter(None, macs):
                run("ip", "netns", "exec", sw_ns, "bridge", "fdb", "del", str(mac), "dev", cable["switch_link"], "master",
                    check=False)


# Fixtures for a module whose tests share one `lab` fixture: import the ones it wants by name (pytest
# finds fixtures in the test module's namespace; autouse ones then apply to each of its tests).
@pytest.fixture(autouse=True)
def lab_env(lab: Lab, docker_required: None, _private_state_dir: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's lab's state root and switch password in the environment (tests/conftest.py gives
    every test a fresh state dir; the module's lab lives in its own)."""
    for k, v in lab.env().items():
        monkeypatch.setenv(k, v)


@pytest.fixture(autouse=True)
def healthy_after(lab: Lab, lab_env: None) -> Iterator[None]:
    """The lab made healthy again after each test (`make_healthy`); import `lab_env` with it."""
    yield
    make_healthy(lab)
