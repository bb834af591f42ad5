"""The emulated Junos switch over real SSH, driven by real netmiko (juniper_junos, its defaults).

No root needed: the server listens on 127.0.0.1 (a free port) in this process, on an event loop in a
background thread; netmiko talks to it as it would to an EX switch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from lxml import etree
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, ReadTimeout

from sriovcheck.lab.junos import render
from sriovcheck.lab.junos.server import JunosServer, start_server
from sriovcheck.lab.junos.view import ServerFaults, SwitchSnapshot
from tests.unit.test_junos_render import sriov_snapshot

USER = "netops"
PASSWORD = "s3cret-Pw-" + str(os.getpid())
ROOT = Path(__file__).resolve().parents[2]


class Source:
    def __init__(self, snap: SwitchSnapshot) -> None:
        self.snap = snap
        self.fault = ServerFaults()

    def snapshot(self) -> SwitchSnapshot:
        return self.snap

    def faults(self) -> ServerFaults:
        return self.fault


@dataclasses.dataclass
class Lab:
    loop: asyncio.AbstractEventLoop
    host_key: str
    servers: list[JunosServer] = dataclasses.field(default_factory=list)

    def start(self, source: Source, *, password: str | None = PASSWORD, authorized_keys: str | None = None) -> int:
        coro = start_server(
            source, host="127.0.0.1", port=0, host_key_path=self.host_key, password=password,
            authorized_keys_path=authorized_keys, username=USER,
        )
        server, port = asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)
        self.servers.append(server)
        return port


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    lab = Lab(loop, str(tmp_path / "ssh_host_key"))
    try:
        yield lab
    finally:
        for server in lab.servers:
            loop.call_soon_threadsafe(server.close)
            asyncio.run_coroutine_threadsafe(server.wait_closed(), loop).result(10)
            assert not server.connections and not server.sessions
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def connect(port: int, **extra: Any) -> Any:
    return ConnectHandler(
        device_type="juniper_junos", host="127.0.0.1", port=port, username=USER, password=PASSWORD, **extra
    )


@pytest.mark.parametrize("style", ["non-els", "els"])
def test_netmiko_logs_in_and_reads_every_table(
    lab: Lab, style: str, record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    src = Source(sriov_snapshot(style))
    port = lab.start(src)
    t0 = time.monotonic()
    conn = connect(port)
    login_s = time.monotonic() - t0
    try:
        assert conn.base_prompt == f"{USER}@ex-switch"
        timings: dict[str, float] = {}

        def run(cmd: str) -> str:
            t = time.monotonic()
            out: str = conn.send_command(cmd)
            timings[cmd] = time.monotonic() - t
            return out

        mac = run("show ethernet-switching table")
        assert mac.rstrip("\n") == render.render_mac_table(src.snap).rstrip("\n")
        arp_xml = run("show arp no-resolve | display xml")
        root = etree.fromstring(arp_xml.strip().encode())
        ips = [e.text for e in root.iter("{*}ip-address")]
        assert ips == ["192.168.200.2", "192.168.201.2"]
        version = run("show version")
        assert "Hostname: ex-switch" in version
        assert ("Model: ex4300-48t" in version) if style == "els" else ("JUNOS Base OS boot [12.3R12.4]" in version)
        bad = run("show bogus")
        assert bad.splitlines()[-1] == "syntax error, expecting <command>."
        assert run("frobnicate").splitlines()[-1] == "unknown command."
        # The state is live: a MAC learned between two commands shows up in the next one.
        src.snap = dataclasses.replace(
            src.snap, macs=(*src.snap.macs, dataclasses.replace(src.snap.macs[0], mac="aa:bb:cc:dd:ee:ff"))
        )
        assert "aa:bb:cc:dd:ee:ff" in run("show ethernet-switching table | match aa:bb")
    finally:
        conn.disconnect()
    record_property("login_s", round(login_s, 3))
    for cmd, secs in timings.items():
        record_property(cmd, round(secs, 3))
    with capsys.disabled():
        print(f"\n[{style}] netmiko login {login_s:.3f}s; " + "; ".join(f"{c!r} {s:.3f}s" for c, s in timings.items()))
    assert login_s < 5 and max(timings.values()) < 2


def test_refused_and_wrong_logins_are_authentication_errors(lab: Lab) -> None:
    src = Source(sriov_snapshot())
    port = lab.start(src)
    src.fault = ServerFaults(refuse_login=True)
    with pytest.raises(NetmikoAuthenticationException):
        connect(port)
    src.fault = ServerFaults()
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(device_type="juniper_junos", host="127.0.0.1", port=port, username=USER, password="wrong")
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(device_type="juniper_junos", host="127.0.0.1", port=port, username="root", password=PASSWORD)
    connect(port).disconnect()  # and the right one still works


def test_dropped_session_is_an_error_for_the_client(lab: Lab) -> None:
    src = Source(sriov_snapshot())
    port = lab.start(src)
    conn = connect(port)
    src.fault = ServerFaults(drop_session_on=r"ethernet-switching")
    t0 = time.monotonic()
    with pytest.raises(ReadTimeout):  # netmiko does not notice a closed channel: its read times out
        conn.send_command("show ethernet-switching table", read_timeout=1)
    assert time.monotonic() - t0 < 3
    assert not conn.is_alive()
    conn.disconnect()


def test_hung_command_times_out_without_blocking_other_sessions(lab: Lab) -> None:
    src = Source(sriov_snapshot())
    port = lab.start(src)
    hung = connect(port)
    other = connect(port)
    try:
        assert "Hostname" in other.send_command("show version")
        src.fault = ServerFaults(hang_on=r"^show arp")
        t0 = time.monotonic()
        with pytest.raises(ReadTimeout):
            hung.send_command("show arp no-resolve", read_timeout=1)
        assert time.monotonic() - t0 < 3
        # While the first session hangs, the server answers the other one.
        assert "Ethernet-switching table" in other.send_command("show ethernet-switching table")
    finally:
        # netmiko's disconnect() would wait 10 s for the hung CLI to answer a newline: drop the transport.
        hung.remote_conn_pre.close()
        other.disconnect()


def test_garbled_outputs_are_mangled_but_the_session_lives(lab: Lab) -> None:
    src = Source(sriov_snapshot())
    port = lab.start(src)
    conn = connect(port)
    try:
        clean = conn.send_command("show arp no-resolve")
        src.fault = ServerFaults(garble=True)
        garbled = conn.send_command("show arp no-resolve")
        assert garbled != clean and len(garbled) < len(clean)
        src.fault = ServerFaults()
        assert conn.send_command("show arp no-resolve") == clean
    finally:
        conn.disconnect()


def test_exec_request_and_public_key_login(lab: Lab, tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = tmp_path / "authorized_keys"
    authorized.write_bytes(key.export_public_key())
    src = Source(sriov_snapshot("els"))
    port = lab.start(src, password=None, authorized_keys=str(authorized))

    async def run(cmd: str) -> asyncssh.SSHCompletedProcess:
        async with asyncssh.connect(
            "127.0.0.1", port, username=USER, client_keys=[key], known_hosts=None, agent_path=None
        ) as conn:
            return await conn.run(cmd, check=False)

    result = asyncio.run_coroutine_threadsafe(run("show version"), lab.loop).result(10)
    assert result.exit_status == 0
    assert "Junos: 18.4R2.7" in str(result.stdout)
    xml = asyncio.run_coroutine_threadsafe(run("show ethernet-switching table | display xml"), lab.loop).result(10)
    assert etree.fromstring(str(xml.stdout).encode()).find(".//l2ng-mac-entry") is not None

    async def refused() -> None:
        other = asyncssh.generate_private_key("ssh-ed25519")
        async with asyncssh.connect(
            "127.0.0.1", port, username=USER, client_keys=[other], known_hosts=None, agent_path=None
        ):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run_coroutine_threadsafe(refused(), lab.loop).result(10)


def test_no_password_in_any_server_log(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    src = Source(sriov_snapshot())
    port = lab.start(src)
    with caplog.at_level(logging.DEBUG):
        conn = connect(port)
        conn.send_command("show version")
        conn.disconnect()
        with pytest.raises(NetmikoAuthenticationException):
            ConnectHandler(
                device_type="juniper_junos", host="127.0.0.1", port=port, username=USER, password=PASSWORD + "x"
            )
    server_side = [r for r in caplog.records if r.name.startswith(("sriovcheck", "asyncssh"))]
    assert any("command: show version" in r.getMessage() for r in server_side)
    assert not any(PASSWORD in r.getMessage() for r in server_side)


def test_serve_reports_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "serve_switch.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from sriovcheck.lab.junos.server import serve
        from sriovcheck.lab.junos.view import ServerFaults
        from tests.unit.test_junos_render import sriov_snapshot

        class Source:
            def snapshot(self):
                return sriov_snapshot()
            def faults(self):
                return ServerFaults()

        serve(Source(), host="127.0.0.1", port=0, host_key_path={str(tmp_path / "key")!r},
              password={PASSWORD!r}, authorized_keys_path=None, username={USER!r}, ready_fd=int(sys.argv[1]))
    """))
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(write_fd)], pass_fds=(write_fd,), env=env, cwd=ROOT)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 20)
        assert ready, "the server never said it was ready"
        line = os.read(read_fd, 100).decode()
        assert line.startswith("ready ") and line.endswith("\n")
        port = int(line.split()[1])
        assert port > 0
        conn = connect(port)
        assert "Hostname: ex-switch" in conn.send_command("show version")
        # SIGTERM with a session still open: the server closes it and exits cleanly.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        conn.disconnect()
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"])
def test_interactive_shell_echoes_and_accepts_every_line_ending(lab: Lab, eol: str) -> None:
    src = Source(sriov_snapshot())
    port = lab.start(src)
    prompt = f"{USER}@ex-switch> "

    async def session() -> str:
        async with asyncssh.connect(
            "127.0.0.1", port, username=USER, password=PASSWORD, known_hosts=None, agent_path=None, client_keys=None
        ) as conn:
            proc = await conn.create_process(term_type="vt100", term_size=(511, 24), encoding=None)
            seen = b""

            async def until(marker: bytes, count: int) -> None:
                nonlocal seen
                while seen.count(marker) < count:
                    seen += await asyncio.wait_for(proc.stdout.read(4096), 5)

            await until(prompt.encode(), 1)
            proc.stdin.write(f"show vlans{eol}sh ver{eol}".encode())
            await until(prompt.encode(), 3)
            proc.stdin.write(f"exit{eol}".encode())
            await asyncio.wait_for(proc.wait_closed(), 5)
            return seen.decode()

    text = asyncio.run_coroutine_threadsafe(session(), lab.loop).result(20)
    assert text.startswith("--- JUNOS 12.3R12.4 built ")
    vlans = render.render_vlans(src.snap).replace("\n", "\r\n")
    version = render.render_version(src.snap).replace("\n", "\r\n")
    expected_tail = (
        f"{prompt}show vlans\r\n{vlans}\r\n{{master:0}}\r\n"
        f"{prompt}sh ver\r\n{version}\r\n{{master:0}}\r\n{prompt}"
    )
    assert text.endswith(expected_tail)  # one echo per line, never a doubled line for "\r\n"


@pytest.mark.parametrize("style", ["non-els", "els"])
def test_the_projects_switch_client_reads_the_emulator(lab: Lab, style: str) -> None:
    netmiko_client = pytest.importorskip("sriovcheck.switch.netmiko_client")
    parsers = pytest.importorskip("sriovcheck.parsers.junos")
    src = Source(sriov_snapshot(style))
    port = lab.start(src)
    switch = netmiko_client.NetmikoSwitch(host="127.0.0.1", port=port, username=USER, password=PASSWORD, timeout_s=5)
    switch.open()
    try:
        assert (switch.facts.hostname, switch.facts.model) == ("ex-switch", src.snap.model)
        assert switch.facts.junos_version == src.snap.junos_version
        assert str(switch.facts.host_key_fingerprint).startswith("SHA256:")
        macs = parsers.parse_mac_table(switch.run("show ethernet-switching table | display xml"))
        assert {e.mac for e in macs if e.kind == "learned"} == {m.mac for m in src.snap.macs if m.kind == "learned"}
        arps = parsers.parse_arp_table(switch.run("show arp no-resolve"))
        assert [a.ip for a in arps] == ["192.168.200.2", "192.168.201.2"]
    finally:
        switch.close()
