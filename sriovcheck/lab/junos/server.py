"""SSH front of the emulated Junos switch (asyncssh): login, an interactive CLI and exec requests.

What netmiko's juniper_junos driver relies on (see /work/shared/notes/netmiko-junos.md): a pty and a
shell are granted, every typed character is echoed, and the command output, the `{master:0}` line and
the next prompt go out in one write. Faults from `source.faults()` are read at each login and each
command: refuse_login, drop_session_on, hang_on, garble.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import asyncssh

from sriovcheck.errors import LabError
from sriovcheck.lab.ciscolike.cli import LabCli, make_cli
from sriovcheck.lab.junos.cli import CliReply
from sriovcheck.lab.junos.view import ServerFaults, SnapshotSource, SwitchSnapshot

log = logging.getLogger(__name__)

_READ_SIZE = 4096


def garble(text: str) -> str:
    """A damaged answer: the tail is lost and every 7th letter or digit is flipped (deterministic)."""
    kept = text[: max(1, len(text) * 2 // 3)] if text else ""
    return "".join(
        (c.swapcase() if c.isalpha() else "#" if c.isdigit() else c) if i % 7 == 3 else c
        for i, c in enumerate(kept)
    )


def _matches(pattern: str | None, command: str) -> bool:
    if not pattern:
        return False
    try:
        return re.search(pattern, command) is not None
    except re.error:
        log.warning("ignoring an invalid fault pattern %r", pattern)
        return False


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


class _ArrivalSource:
    """The session's view of the switch: one kernel look for the lines that arrived together.

    A client that types ahead (netmiko's `send_command` one line at a time does not; sriovcheck's
    verify sends its table reads in one write) puts several command lines into one read of the
    channel. They reached the switch at the same instant, so they are answered from the switch's
    state at that instant: one snapshot taken when the first of them is answered. Each new read of
    the channel takes a fresh one, so a client that polls (reads the MAC table again after a pause)
    still sees the live kernel state every time. The emulator has no command that changes the
    switch, so no line of a batch can make a later one's answer stale. Without it, every command
    paid a netlink dump of the whole switch namespace (~20-30 ms at 32 VFs)."""

    def __init__(self, source: SnapshotSource) -> None:
        self.source = source
        self._holding = False
        self._held: SwitchSnapshot | None = None

    def arrived(self, together: bool) -> None:
        """A new read of the channel: `together` when it carries more than one command line."""
        self._holding = together
        self._held = None

    def snapshot(self) -> SwitchSnapshot:
        if not self._holding:
            return self.source.snapshot()
        if self._held is None:
            self._held = self.source.snapshot()
        return self._held

    def faults(self) -> ServerFaults:
        return self.source.faults()


class _Server(asyncssh.SSHServer):
    def __init__(self, owner: JunosServer) -> None:
        self.owner = owner
        self.conn: asyncssh.SSHServerConnection | None = None
        self.refused = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.owner.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.owner.connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        self.refused = self.owner.source.faults().refuse_login
        keys = self.owner.authorized_keys_path
        if self.conn is not None and keys and not self.refused and username == self.owner.username:
            self.conn.set_authorized_keys(keys)
        return True

    def password_auth_supported(self) -> bool:
        return self.owner.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        expected = self.owner.password
        ok = (
            expected is not None
            and not self.refused
            and hmac.compare_digest(username.encode(), self.owner.username.encode())
            and hmac.compare_digest(password.encode(), expected.encode())
        )
        log.info("password login for %r %s", username, "accepted" if ok else "refused")
        return ok

    def public_key_auth_supported(self) -> bool:
        return self.owner.authorized_keys_path is not None

    def auth_completed(self) -> None:
        if self.conn is not None:
            self.owner.record_login(self.conn)


class JunosServer:
    """A listening emulated switch: the asyncssh acceptor plus its live connections."""

    def __init__(
        self, source: SnapshotSource, *, username: str, password: str | None, authorized_keys_path: str | None,
        login_log: str | None = None,
    ) -> None:
        self.source = source
        # Accepted logins, one JSON line each: tests and the fleet assert how often the switch was logged into.
        self.login_log = login_log
        self.logins = 0
        self.username = username
        self.password = password
        self.authorized_keys_path = authorized_keys_path
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.sessions: set[asyncio.Task[None]] = set()
        self.acceptor: asyncssh.SSHAcceptor | None = None

    def record_login(self, conn: asyncssh.SSHServerConnection) -> None:
        self.logins += 1
        peer = conn.get_extra_info("peername") or ("?", 0)
        log.info("login %d accepted for %r from %s:%s", self.logins, conn.get_extra_info("username"), peer[0], peer[1])
        if self.login_log:
            line = json.dumps({"n": self.logins, "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                               "user": conn.get_extra_info("username"), "peer": f"{peer[0]}:{peer[1]}"})
            with contextlib.suppress(OSError), open(self.login_log, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def close(self) -> None:
        if self.acceptor is not None:
            self.acceptor.close()
        for conn in list(self.connections):
            conn.close()

    async def wait_closed(self) -> None:
        if self.sessions:
            await asyncio.wait(list(self.sessions), timeout=5)
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), timeout=5)
        if self.acceptor is not None:
            await self.acceptor.wait_closed()

    # ---------------------------------------------------------------- sessions

    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.sessions.add(task)
        # The switch speaks the OS of the lab's switch.platform (Junos, EOS, NX-OS).
        source = _ArrivalSource(self.source)
        cli = make_cli(self.source.snapshot().platform, source, username=self.username)
        try:
            if process.command is not None:
                await self._exec(process, cli, process.command)
            else:
                await self._shell(process, cli, source)
        except (asyncssh.Error, ConnectionError, BrokenPipeError) as exc:
            log.info("session ended: %s", exc)
        finally:
            if not process.is_closing():
                process.exit(0)
            if task is not None:
                self.sessions.discard(task)

    async def _read(self, process: asyncssh.SSHServerProcess[bytes]) -> bytes:
        while True:
            try:
                return await process.stdin.read(_READ_SIZE)
            except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived, asyncssh.SignalReceived):
                continue

    async def _drain_until_closed(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        """A hung command: never answer, swallow input until the client gives up."""
        while await self._read(process):
            pass

    def _run(self, cli: LabCli, command: str) -> tuple[CliReply, ServerFaults]:
        faults = self.source.faults()
        reply = cli.execute(command)
        if faults.garble and reply.data:
            reply = CliReply(garble(reply.text), reply.close, reply.data)
        return reply, faults

    async def _exec(self, process: asyncssh.SSHServerProcess[bytes], cli: LabCli, command: str) -> None:
        log.info("exec: %s", command)
        faults = self.source.faults()
        if _matches(faults.hang_on, command):
            await self._drain_until_closed(process)
            return
        reply, faults = self._run(cli, command)
        text = reply.text
        if _matches(faults.drop_session_on, command):
            process.stdout.write(text[: len(text) // 2].encode())
            await process.stdout.drain()
            process.channel.close()
            return
        process.stdout.write(text.encode())
        process.exit(0)

    async def _shell(self, process: asyncssh.SSHServerProcess[bytes], cli: LabCli, source: _ArrivalSource) -> None:
        snap = self.source.snapshot()
        out = process.stdout
        out.write(_crlf(cli.greeting(snap)).encode())
        out.write(cli.prompt(snap).encode())
        line = ""
        echoed = 0  # characters of `line` already echoed
        skip_lf = False
        while True:
            data = await self._read(process)
            if not data:
                return
            text = data.decode("utf-8", "replace")
            source.arrived(len(re.findall(r"\r\n|\r|\n", text)) > 1)
            for ch in text:
                if skip_lf and ch == "\n":
                    skip_lf = False
                    continue
                skip_lf = ch == "\r"
                if ch in "\x7f\x08":
                    if line:
                        out.write((line[echoed:] + "\b \b").encode())
                        line, echoed = line[:-1], len(line) - 1
                    continue
                if ch not in "\r\n":
                    line += ch
                    continue
                out.write((line[echoed:] + "\r\n").encode())
                command, line, echoed = line, "", 0
                if not await self._command(process, cli, command):
                    return
            if line[echoed:]:
                out.write(line[echoed:].encode())
                echoed = len(line)

    async def _command(self, process: asyncssh.SSHServerProcess[bytes], cli: LabCli, command: str) -> bool:
        """Answer one typed line; False when the session is over."""
        stripped = command.strip()
        log.info("command: %s", stripped)
        faults = self.source.faults()
        if stripped and _matches(faults.hang_on, stripped):
            await self._drain_until_closed(process)
            return False
        reply, faults = self._run(cli, stripped)
        if reply.close:
            process.exit(0)
            return False
        if stripped and _matches(faults.drop_session_on, stripped):
            # The session dies mid-answer: half the output, no prompt, the connection goes away.
            process.stdout.write(_crlf(reply.text[: len(reply.text) // 2]).encode())
            await process.stdout.drain()
            conn = process.get_extra_info("connection")
            process.channel.close()
            if conn is not None:
                conn.close()
            return False
        process.stdout.write(_crlf(cli.framed(reply.text)).encode() + cli.prompt(cli.last_snapshot).encode())
        return True


def _host_key(path: str) -> asyncssh.SSHKey:
    p = Path(path)
    try:
        if p.exists():
            return asyncssh.read_private_key(p)
        key = asyncssh.generate_private_key("ssh-ed25519")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.export_private_key())
        return key
    except (OSError, asyncssh.KeyImportError) as exc:
        raise LabError(
            f"Junos emulator: cannot read or create the SSH host key {path}: {exc}",
            hint="point host_key_path at a writable directory or an OpenSSH private key file",
        ) from exc


async def start_server(
    source: SnapshotSource,
    *,
    host: str,
    port: int,
    host_key_path: str,
    password: str | None,
    authorized_keys_path: str | None,
    username: str,
    login_log: str | None = None,
) -> tuple[JunosServer, int]:
    """Listen (port 0: any free port) and return the server and the port it is bound to."""
    if password is None and authorized_keys_path is None:
        raise LabError(
            "Junos emulator: neither a password nor an authorized_keys file given: nobody could log in",
            hint="pass password=... and/or authorized_keys_path=...",
        )
    server = JunosServer(source, username=username, password=password, authorized_keys_path=authorized_keys_path,
                         login_log=login_log)
    key = _host_key(host_key_path)
    try:
        server.acceptor = await asyncssh.create_server(
            lambda: _Server(server),
            host,
            port,
            server_host_keys=[key],
            process_factory=server.handle,
            encoding=None,
            line_editor=False,
            allow_scp=False,
            x11_forwarding=False,
            agent_forwarding=False,
        )
    except OSError as exc:
        raise LabError(
            f"Junos emulator: cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another port (0 picks a free one) or stop what holds it",
        ) from exc
    bound = server.acceptor.get_port()
    log.info("Junos emulator listening on %s:%d (user %s)", host, bound, username)
    return server, bound


async def _serve(source: SnapshotSource, ready_fd: int | None, **kwargs: object) -> None:
    server, bound = await start_server(source, **kwargs)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready_fd is not None:
        os.write(ready_fd, f"ready {bound}\n".encode())
        os.close(ready_fd)
    try:
        await stop.wait()
    finally:
        log.info("Junos emulator on port %d stopping", bound)
        server.close()
        await server.wait_closed()


def serve(
    source: SnapshotSource,
    *,
    host: str,
    port: int,
    host_key_path: str,
    password: str | None,
    authorized_keys_path: str | None,
    username: str,
    ready_fd: int | None = None,
    login_log: str | None = None,
) -> None:
    """Run the emulated switch until SIGTERM/SIGINT, then close every session and return.

    With `ready_fd`, b"ready <port>\\n" is written to it once listening and the descriptor is closed.
    """
    asyncio.run(
        _serve(
            source, ready_fd, host=host, port=port, host_key_path=host_key_path, password=password,
            authorized_keys_path=authorized_keys_path, username=username, login_log=login_log,
        )
    )
