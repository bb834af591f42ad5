"""A SwitchSession over SSH with netmiko's Junos driver (a real switch or the emulated lab's CLI).

The password is never put into a message, an exception (including the chained cause) or a log.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
import select
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from sriovcheck.errors import SwitchError
from sriovcheck.parsers.tables import ParseError, VersionInfo
from sriovcheck.switch import platforms
from sriovcheck.switch.client import SwitchFacts

log = logging.getLogger(__name__)

ConnectHandler = Callable[..., Any]


class RedactedError(Exception):
    """Stands in for an exception whose text held a secret, so that tracebacks cannot show it."""


def _default_connect_handler() -> ConnectHandler:
    from netmiko import ConnectHandler as handler  # imported late: netmiko takes ~0.5 s to import

    connect: ConnectHandler = handler
    return connect


# Device types whose session preparation sriovcheck does itself, typed ahead: the commands netmiko's
# driver sends at login, in its order (netmiko/juniper/juniper.py, JuniperBase.session_preparation).
# Other device types get netmiko's own preparation.
_TYPE_AHEAD_PREPARATION: dict[str, tuple[str, ...]] = {
    "juniper_junos": ("set cli screen-width 511", "set cli complete-on-space off", "set cli screen-length 0"),
}


def host_key_fingerprint(key_blob: bytes) -> str:
    """OpenSSH's form: 'SHA256:' + unpadded base64 of the SHA-256 of the public key blob."""
    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class NetmikoSwitch:
    """One SSH session to one switch (the platform's netmiko driver: `device_type`); open() logs
    in, run() sends operational commands."""

    def __init__(
        self,
        *,
        host: str,
        port: int = 22,
        username: str,
        password: str | None = None,
        key_file: str | None = None,
        known_hosts: str | None = None,
        timeout_s: float = 30.0,
        device_type: str = "juniper_junos",
        name: str | None = None,
        password_env: str | None = None,
        connect_handler: ConnectHandler | None = None,
        session_log: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.key_file = key_file
        self.known_hosts = known_hosts
        self.timeout_s = timeout_s
        self.device_type = device_type
        self.name = name or host
        self.password_env = password_env
        self._connect_handler = connect_handler
        self.session_log = session_log
        self._conn: Any = None
        self.facts = SwitchFacts(source="ssh")
        # prefetch(): outputs typed ahead and read, waiting for the run() that asks for them; and the
        # error that broke the session on a prefetched command, for the run() of that command.
        self._prefetched: dict[str, deque[str]] = {}
        self._prefetch_error: tuple[str, SwitchError, BaseException] | None = None

    def __repr__(self) -> str:
        return f"NetmikoSwitch({self.name!r}, {self.username}@{self.host}:{self.port})"

    @property
    def where(self) -> str:
        return f"switch {self.name} ({self.host}:{self.port})"

    # --- secrets --------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "********")
        return text

    def _leaks(self, exc: BaseException) -> bool:
        if not self._password:
            return False
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if self._password in str(current) or self._password in repr(current.args):
                return True
            current = current.__cause__ or current.__context__
        return False

    def _cause(self, exc: BaseException) -> BaseException:
        if self._leaks(exc):
            return RedactedError(f"{type(exc).__name__}: {self._redact(str(exc))}")
        return exc

    def _reason(self, exc: BaseException) -> str:
        lines = [ln.strip() for ln in self._redact(str(exc)).splitlines() if ln.strip()]
        if not lines:
            return type(exc).__name__
        # netmiko wraps paramiko errors as "A paramiko SSHException occurred ...:\n\n<the error>"
        reason = lines[1] if lines[0].endswith(":") and len(lines) > 1 else lines[0]
        return reason if len(reason) <= 200 else reason[:197] + "..."

    # --- login ----------------------------------------------------------------------------------

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "device_type": self.device_type,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "conn_timeout": self.timeout_s,
            "auth_timeout": self.timeout_s,
            "banner_timeout": self.timeout_s,
            "timeout": self.timeout_s,
            "allow_agent": False,
            "session_log": self.session_log,
        }
        if self._password is not None:
            kwargs["password"] = self._password
        if self.key_file is not None:
            kwargs.update(key_file=self.key_file, use_keys=True)
        if self.known_hosts is not None:
            # Only this file decides: an unknown or changed key is refused.
            kwargs.update(
                ssh_strict=True, system_host_keys=False, alt_host_keys=True, alt_key_file=self.known_hosts
            )
        else:
            # No known_hosts given: accept the key, and record its fingerprint in the facts/report.
            kwargs.update(ssh_strict=False, system_host_keys=False, alt_host_keys=False)
        return kwargs

    def _login_error(self, exc: BaseException) -> SwitchError:
        try:
            from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
            from paramiko.ssh_exception import AuthenticationException, SSHException
        except ImportError:  # pragma: no cover - netmiko is a dependency; keep the error readable anyway
            auth_types: tuple[type[BaseException], ...] = ()
            ssh_types: tuple[type[BaseException], ...] = ()
        else:
            auth_types = (NetmikoAuthenticationException, AuthenticationException)
            ssh_types = (NetmikoTimeoutException, SSHException)
        reason = self._reason(exc)
        text = self._redact(str(exc))
        login = f"login to {self.where} as {self.username}"
        if isinstance(exc, auth_types):
            if self.password_env and self._password is not None:
                hint = f"check the password in ${self.password_env}"
            elif self.key_file:
                hint = f"check that the key {self.key_file} is authorised for {self.username} on the switch"
            else:
                hint = "check the user name and the password"
            return SwitchError(f"{login} refused", hint=hint)
        if "not found in known_hosts" in text:
            return SwitchError(
                f"{login} stopped: the switch's host key is not in {self.known_hosts}",
                hint=f"verify the switch's key fingerprint, then add its line to {self.known_hosts} "
                "(e.g. from `ssh-keyscan`), or run without known_hosts to accept and record it",
            )
        if "does not match" in text or type(exc).__name__ == "BadHostKeyException":
            return SwitchError(
                f"{login} stopped: the switch's host key does not match the one in {self.known_hosts} "
                "(the switch was re-keyed, or this is not the switch)",
                hint=f"if the switch was re-keyed, verify its new fingerprint and replace its line in "
                f"{self.known_hosts}",
            )
        unreachable_hint = (
            "check the address and port, that SSH is enabled on the switch (set system services ssh), "
            "and that no firewall is in the way"
        )
        if isinstance(exc, socket.gaierror) or "not resolvable" in text:
            return SwitchError(f"{login} failed: cannot resolve {self.host}", hint="check the switch's host name")
        if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in text.lower():
            return SwitchError(f"{login} failed: no answer within {self.timeout_s:g} s ({reason})", hint=unreachable_hint)
        if isinstance(exc, OSError | EOFError):
            return SwitchError(f"{login} failed: {reason}", hint=unreachable_hint)
        if isinstance(exc, ssh_types):
            return SwitchError(f"{login} failed: {reason}", hint=unreachable_hint)
        return SwitchError(f"{login} failed: {type(exc).__name__}: {reason}", hint=unreachable_hint)

    def _record_fingerprint(self, conn: Any) -> str | None:
        # netmiko keeps the paramiko SSHClient in remote_conn_pre and the channel in remote_conn.
        getters: tuple[Callable[[], Any], ...] = (
            lambda: conn.remote_conn_pre.get_transport(),
            lambda: conn.remote_conn.get_transport(),
            lambda: conn.remote_conn.transport,
        )
        for get in getters:
            try:
                transport = get()
                if transport is not None:
                    return host_key_fingerprint(transport.get_remote_server_key().asbytes())
            except Exception:  # noqa: S112 -- the next place may have it; None means "not known"
                continue
        return None

    def open(self) -> None:
        """Log in, record the host key fingerprint and read `show version` into facts."""
        if self._conn is not None:
            return
        if self.known_hosts is not None and not Path(self.known_hosts).is_file():
            raise SwitchError(
                f"login to {self.where}: known_hosts file {self.known_hosts} does not exist",
                hint="give an existing known_hosts file, or none to accept and record the switch's key",
            )
        handler: ConnectHandler = self._connect_handler or _default_connect_handler()
        preparation = _TYPE_AHEAD_PREPARATION.get(self.device_type) if self._connect_handler is None else None
        kwargs = self._connect_kwargs()
        if preparation is not None:
            kwargs["auto_connect"] = False  # connect below, and prepare the session with one round trip
        failure: BaseException | None = None
        conn: Any = None
        try:
            conn = handler(**kwargs)
            if preparation is not None:
                preparation = self._connect_and_read_prompt(conn)
        except Exception as exc:
            failure = exc
        if failure is not None:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.disconnect()
            # raised outside the except block, so that the secret-bearing exception is not __context__
            raise self._login_error(failure) from self._cause(failure)
        self._conn = conn
        fingerprint = self._record_fingerprint(conn)
        log.info("logged in to %s as %s, host key %s", self.where, self.username, fingerprint or "unknown")
        platform = platforms.get(self.device_type) if self.device_type in platforms.PLATFORMS else platforms.get(None)
        info = VersionInfo(None, None, None)
        read = platform.version()
        try:
            if preparation:
                # netmiko's session preparation sends these one at a time, with a newline and a
                # prompt detection around each (and ~0.3 s of sleeps); typed ahead with the
                # platform's first `show version` they take one round trip.
                self.prefetch([*preparation, read.commands[0]])
                for command in preparation:
                    self.run(command)
        except SwitchError:
            self.close()
            raise
        for n, command in enumerate(read.commands):
            try:
                found = read.parse(self.run(command))
            except SwitchError:
                if self._conn is None or n == len(read.commands) - 1:
                    self.close()
                    raise
                continue
            except ParseError:
                continue
            if found:
                info = found[0]
                break
        self.facts = SwitchFacts(
            hostname=info.hostname, model=info.model, junos_version=info.os_version,
            host_key_fingerprint=fingerprint, source="ssh", platform=platform.name, os_name=platform.os_name,
        )

    def _connect_and_read_prompt(self, conn: Any) -> tuple[str, ...]:
        """Connect (netmiko's own SSH set-up) and read up to the first prompt, which names the
        base prompt. A shell prompt (a root login lands in the Unix shell on Junos) is left to
        netmiko's own session preparation, which enters the CLI: () is returned then."""
        conn._modify_connection_params()
        conn.establish_connection()
        prompt_line = re.compile(r"(?:^|\n)([^\s]+[>#%$]) ?$")
        buffer = ""
        start = nudged = time.monotonic()
        while True:
            buffer += conn.read_channel()
            m = prompt_line.search(buffer)
            if m is not None:
                break
            now = time.monotonic()
            if now - start > self.timeout_s:
                raise TimeoutError(f"no prompt within {self.timeout_s:g} s of the login")
            if now - nudged > 1.0:  # some devices print their prompt only after a newline
                conn.write_channel(conn.RETURN)
                nudged = now
            time.sleep(0.005)
        prompt = m.group(1)
        if re.search(r"(?:root@|%|\$)", prompt):
            conn._try_session_preparation()
            return ()
        conn.base_prompt = prompt[:-1]
        return _TYPE_AHEAD_PREPARATION[self.device_type]

    # --- commands -------------------------------------------------------------------------------

    def run(self, command: str) -> str:
        if any(c in command for c in "\r\n\x00"):
            raise ValueError(f"refusing to send a command with a line break to the switch: {command!r}")
        cached = self._prefetched.get(command)
        if cached:
            typed_ahead = cached.popleft()
            if not cached:
                del self._prefetched[command]
            return typed_ahead
        if self._prefetch_error is not None and self._prefetch_error[0] == command:
            _, error, cause = self._prefetch_error
            self._prefetch_error = None
            raise error from cause
        conn = self._conn
        if conn is None:
            raise SwitchError(
                f"cannot run `{command}`: no open session to {self.where}",
                hint="the session was closed or never opened; open() must succeed first",
            )
        try:
            from netmiko.exceptions import ReadTimeout
        except ImportError:  # pragma: no cover
            timeout_types: tuple[type[BaseException], ...] = (TimeoutError,)
        else:
            timeout_types = (ReadTimeout, TimeoutError)
        failure: BaseException | None = None
        output: Any = None
        kwargs: dict[str, Any] = {"read_timeout": self.timeout_s}
        base_prompt = getattr(conn, "base_prompt", None)
        if isinstance(base_prompt, str) and base_prompt:
            # The prompt is known since login: wait for it. Without expect_string netmiko re-detects
            # the prompt before every command (a newline and at least 0.25 s of sleeping each time).
            kwargs["expect_string"] = re.escape(base_prompt) + r"[>#]\s*$"
        try:
            output = conn.send_command(command, **kwargs)
        except Exception as exc:
            failure = exc
        if failure is not None:
            error = self._command_error(conn, command, failure, isinstance(failure, timeout_types))
            # After a timeout or a broken channel the prompt is out of step: do not reuse the session.
            self.close(broken=True)
            raise error from self._cause(failure)
        if not isinstance(output, str):
            raise SwitchError(f"{self.where}: `{command}` returned {type(output).__name__}, not text")
        return output

    def _command_error(self, conn: Any, command: str, failure: BaseException, timed_out: bool) -> SwitchError:
        if self._dropped(conn):
            return SwitchError(
                f"{self.where} dropped the session while running `{command}`",
                hint="the switch closed the SSH connection (a session limit, an idle timeout, a restart); run again",
            )
        if timed_out:
            return SwitchError(
                f"{self.where} did not finish answering `{command}` within {self.timeout_s:g} s",
                hint="the switch may be overloaded or the table very large; raise the switch timeout",
            )
        return SwitchError(
            f"the session to {self.where} failed while running `{command}`: "
            f"{type(failure).__name__}: {self._reason(failure)}",
            hint="check that the switch is up and reachable, then run again",
        )

    # --- type-ahead -------------------------------------------------------------------------------

    def prefetch(self, commands: Sequence[str]) -> None:
        """Type `commands` ahead in one write and read all their answers: one round trip for the
        lot instead of one per command (a CLI reads typed-ahead lines in order and answers each after
        its prompt, as when a user pastes lines). Each output, stripped exactly as send_command
        strips it, waits for the run() of its command; a command nobody runs is dropped at close().

        Never raises: when the switch stops answering or drops the session on one of the commands,
        the outputs before it are kept, that command's run() raises what a run() would have raised,
        and the session is closed as a run() would close it. An answer that does not start with the
        command's echo (the CLI did not read the lines in order) is not kept: run() sends that
        command, and the ones after it, again one by one. Sessions whose prompt is not known yet, or
        whose connection offers no raw channel, keep sending one by one."""
        conn = self._conn
        if conn is None or not commands or self._prefetch_error is not None:
            return
        for command in commands:
            if any(c in command for c in "\r\n\x00"):
                raise ValueError(f"refusing to send a command with a line break to the switch: {command!r}")
        base_prompt = getattr(conn, "base_prompt", None)
        if not (isinstance(base_prompt, str) and base_prompt) or not all(
            callable(getattr(conn, name, None)) for name in ("write_channel", "read_channel", "normalize_cmd", "_sanitize_output")
        ):
            return
        prompt = re.compile(r"(?m)^" + re.escape(base_prompt) + r"[>#] ?")
        chan = getattr(conn, "remote_conn", None)
        texts: list[str] = []
        buffer = ""
        pos = 0
        pending = 0  # the command whose answer is being read
        failure: BaseException | None = None
        timed_out = False
        try:
            conn.write_channel("".join(conn.normalize_cmd(c) for c in commands))
            last = time.monotonic()
            while pending < len(commands):
                m = prompt.search(buffer, pos)
                if m is not None:
                    texts.append(buffer[pos : m.end()])
                    pos = m.end()
                    pending += 1
                    last = time.monotonic()
                    continue
                if time.monotonic() - last > self.timeout_s:
                    timed_out = True
                    raise TimeoutError(f"no prompt within {self.timeout_s:g} s")
                if self._dropped(conn):
                    raise EOFError("the channel was closed")
                new = conn.read_channel()
                if new:
                    buffer += new
                elif chan is not None and hasattr(chan, "fileno"):
                    select.select([chan], [], [], 0.05)
                else:
                    time.sleep(0.005)
        except Exception as exc:
            failure = exc
        if pos < len(buffer):  # e.g. the space after the last prompt: netmiko's next read skips it
            conn._read_buffer = getattr(conn, "_read_buffer", "") + buffer[pos:]
        for i, (command, text) in enumerate(zip(commands, texts, strict=False)):
            body = text.lstrip(" ")
            later = set(commands[i + 1 :])
            # The answer must start with the command's echo and hold no echo of a later line (a
            # terminal that echoes typed-ahead lines at once would put them all before the output).
            if not body.startswith(command) or any(line.strip() in later for line in body.splitlines()[1:]):
                log.debug("%s: `%s` was not answered in order; sending it and the rest one by one", self.where, command)
                break
            stripped = conn._sanitize_output(body, strip_command=True, command_string=conn.normalize_cmd(command), strip_prompt=True)
            self._prefetched.setdefault(command, deque()).append(stripped)
        if failure is not None:
            command = commands[pending]
            error = self._command_error(conn, command, failure, timed_out)
            self._prefetch_error = (command, error, self._cause(failure))
            self.close(broken=True)

    @staticmethod
    def _dropped(conn: Any) -> bool:
        """netmiko reads a channel the switch closed until read_timeout: tell that apart from a slow switch."""
        chan = getattr(conn, "remote_conn", None)
        try:
            return bool(chan is not None and (chan.closed or not chan.get_transport().is_active()))
        except Exception:
            return False

    def close(self, *, broken: bool = False) -> None:
        """End the session. A `broken` one (a command hung or the switch dropped it) is cut at the
        transport: netmiko's polite disconnect would wait ~10 s for a prompt that never comes."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not broken:
            self._prefetched.clear()
        try:
            if broken:
                transport = getattr(getattr(conn, "remote_conn", None), "get_transport", lambda: None)()
                if transport is not None:
                    transport.close()
                    return
            conn.disconnect()
        except Exception as exc:  # closing a broken session must not hide the error that broke it
            log.debug("closing the session to %s: %s", self.where, self._redact(str(exc)))

    def __enter__(self) -> NetmikoSwitch:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
