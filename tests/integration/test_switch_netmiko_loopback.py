"""NetmikoSwitch against a tiny Junos-like SSH server on 127.0.0.1: real netmiko, real paramiko host keys.

Checks what a fake ConnectHandler cannot: the fingerprint read from paramiko's transport, and the
known_hosts policy (unknown and changed keys refused). The server is started and stopped by the test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

asyncssh = pytest.importorskip("asyncssh")

from sriovcheck.errors import SwitchError  # noqa: E402
from sriovcheck.parsers.junos import parse_arp_table  # noqa: E402
from sriovcheck.switch import commands  # noqa: E402
from sriovcheck.switch.netmiko_client import NetmikoSwitch  # noqa: E402

pytestmark = pytest.mark.integration

PASSWORD = "lab-Pa55word"
PROMPT = "netops@ex-switch> "
ANSWERS = {
    "set cli screen-width 511": "Screen width set to 511",
    "set cli complete-on-space off": "Disabling complete-on-space",
    "set cli screen-length 0": "Screen length set to 0",
    "show version": "fpc0:\n------\nHostname: ex-switch\nModel: ex4200-48t\nJUNOS Base OS boot [12.3R12.4]\n",
    "show arp no-resolve": "MAC Address       Address         Interface     Flags\n"
    "02:00:00:00:02:01 192.168.200.2   vlan.200      none\nTotal entries: 1\n",
}


class _Server(asyncssh.SSHServer):  # type: ignore[misc]
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == "netops" and password == PASSWORD


async def _session(process: Any) -> None:
    process.stdout.write(PROMPT)
    try:
        while True:
            line = await process.stdin.readline()
            if not line:
                break
            command = line.strip()
            if command == "exit":
                break
            answer = ANSWERS.get(command)
            if answer is None and command and command != "cli":
                answer = f"error: unknown command: {command}"
            out = (answer + "\n" if answer else "") + ("\n{master:0}\n" if command.startswith("show") else "")
            process.stdout.write(out + PROMPT)
    except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, ConnectionError):
        pass
    process.exit(0)


class LoopbackSwitch:
    def __init__(self) -> None:
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: Any = None
        self.port = 0

    def start(self) -> None:
        self.thread.start()

        async def listen() -> Any:
            return await asyncssh.create_server(
                _Server, "127.0.0.1", 0, server_host_keys=[self.key], process_factory=_session
            )

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        try:
            if self.server is not None:
                asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def known_hosts_line(self, key: Any = None) -> str:
        public = (key or self.key).export_public_key("openssh").decode().split()
        return f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"

    def fingerprint(self) -> str:
        blob = base64.b64decode(self.key.export_public_key("openssh").split()[1])
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackSwitch]:
    srv = LoopbackSwitch()
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def switch(server: LoopbackSwitch, **overrides: Any) -> NetmikoSwitch:
    kwargs: dict[str, Any] = {
        "host": "127.0.0.1", "port": server.port, "username": "netops", "password": PASSWORD,
        "timeout_s": 10.0, "name": "lab-switch", "password_env": "SRIOVCHECK_SWITCH_PASSWORD",
    }
    kwargs.update(overrides)
    return NetmikoSwitch(**kwargs)


def test_login_records_the_real_fingerprint_and_runs_commands(server: LoopbackSwitch) -> None:
    with switch(server) as sw:
        assert sw.facts.host_key_fingerprint == server.fingerprint()
        assert (sw.facts.hostname, sw.facts.model, sw.facts.junos_version) == ("ex-switch", "ex4200-48t", "12.3R12.4")
        entries = parse_arp_table(sw.run(commands.arp_table()))
    assert [(e.mac, e.ip, e.interface) for e in entries] == [("02:00:00:00:02:01", "192.168.200.2", "vlan.200")]


def test_known_hosts_with_the_right_key(server: LoopbackSwitch, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(server.known_hosts_line())
    with switch(server, known_hosts=str(known)) as sw:
        assert sw.facts.host_key_fingerprint == server.fingerprint()


def test_known_hosts_without_the_switch_is_refused(server: LoopbackSwitch, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(SwitchError, match="host key is not in"):
        switch(server, known_hosts=str(known)).open()


def test_known_hosts_with_another_key_is_refused(server: LoopbackSwitch, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(server.known_hosts_line(asyncssh.generate_private_key("ssh-ed25519")))
    with pytest.raises(SwitchError, match="does not match"):
        switch(server, known_hosts=str(known)).open()


def test_wrong_password_is_refused_without_showing_it(server: LoopbackSwitch) -> None:
    wrong = "not-the-Pa55word"
    with pytest.raises(SwitchError) as info:
        switch(server, password=wrong).open()
    assert "login to switch lab-switch (127.0.0.1:" in str(info.value) and "as netops refused" in str(info.value)
    assert info.value.hint == "check the password in $SRIOVCHECK_SWITCH_PASSWORD"
    assert wrong not in str(info.value) and wrong not in str(info.value.__cause__)
