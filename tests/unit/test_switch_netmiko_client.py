"""NetmikoSwitch with a fake netmiko ConnectHandler: login, facts, errors, and no password anywhere."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import traceback
from pathlib import Path
from typing import Any

import paramiko
import pytest
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

from sriovcheck.errors import SwitchError
from sriovcheck.switch.client import SwitchSession
from sriovcheck.switch.netmiko_client import NetmikoSwitch, host_key_fingerprint

PASSWORD = "s3cr3t-Pa55"
KEY_BLOB = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))
VERSION = "fpc0:\n------\nHostname: ex-switch\nModel: ex4300-48t\nJunos: 18.4R2.7\n"


class FakeKey:
    def asbytes(self) -> bytes:
        return KEY_BLOB


class FakeTransport:
    def get_remote_server_key(self) -> FakeKey:
        return FakeKey()


class FakeClient:
    def get_transport(self) -> FakeTransport:
        return FakeTransport()


class FakeConnection:
    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs
        self.sent: list[tuple[str, float]] = []
        self.disconnects = 0
        self.remote_conn_pre = FakeClient()

    def send_command(self, command: str, *, read_timeout: float) -> str:
        self.sent.append((command, read_timeout))
        out = self.outputs[command]
        if isinstance(out, BaseException):
            raise out
        return str(out)

    def disconnect(self) -> None:
        self.disconnects += 1


class Handler:
    def __init__(self, result: FakeConnection | BaseException) -> None:
        self.result = result
        self.kwargs: dict[str, Any] = {}

    def __call__(self, **kwargs: Any) -> FakeConnection:
        self.kwargs = kwargs
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def make(handler: Handler, **overrides: Any) -> NetmikoSwitch:
    kwargs: dict[str, Any] = {
        "host": "192.0.2.10", "port": 22, "username": "netops", "password": PASSWORD, "timeout_s": 7.0,
        "name": "ex-switch", "password_env": "SRIOVCHECK_SWITCH_PASSWORD", "connect_handler": handler,
    }
    kwargs.update(overrides)
    return NetmikoSwitch(**kwargs)


def everything_said(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)) + repr(err) + str(err.__cause__) + repr(err.__context__)


def test_open_records_facts_and_fingerprint() -> None:
    conn = FakeConnection({"show version": VERSION})
    handler = Handler(conn)
    switch = make(handler)
    assert isinstance(switch, SwitchSession)
    switch.open()
    want_fp = "SHA256:" + base64.b64encode(hashlib.sha256(KEY_BLOB).digest()).decode().rstrip("=")
    assert switch.facts.host_key_fingerprint == want_fp
    assert (switch.facts.hostname, switch.facts.model, switch.facts.junos_version, switch.facts.source) == (
        "ex-switch", "ex4300-48t", "18.4R2.7", "ssh",
    )
    assert conn.sent == [("show version", 7.0)]
    k = handler.kwargs
    assert (k["device_type"], k["host"], k["port"], k["username"], k["password"]) == (
        "juniper_junos", "192.0.2.10", 22, "netops", PASSWORD,
    )
    assert k["conn_timeout"] == k["auth_timeout"] == 7.0
    # no known_hosts: accept and record, never consult ~/.ssh/known_hosts
    assert (k["ssh_strict"], k["system_host_keys"], k["alt_host_keys"]) == (False, False, False)
    assert "PASSWORD" not in repr(switch) and PASSWORD not in repr(switch)


def test_known_hosts_makes_host_keys_strict(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("[192.0.2.10]:22 ssh-ed25519 AAAA\n")
    handler = Handler(FakeConnection({"show version": VERSION}))
    make(handler, known_hosts=str(known)).open()
    k = handler.kwargs
    assert (k["ssh_strict"], k["system_host_keys"], k["alt_host_keys"], k["alt_key_file"]) == (
        True, False, True, str(known),
    )


def test_missing_known_hosts_file_is_refused_before_connecting(tmp_path: Path) -> None:
    handler = Handler(FakeConnection({}))
    with pytest.raises(SwitchError, match="does not exist"):
        make(handler, known_hosts=str(tmp_path / "nope")).open()
    assert handler.kwargs == {}


def test_key_file_login_passes_the_key() -> None:
    handler = Handler(FakeConnection({"show version": VERSION}))
    make(handler, password=None, key_file="/keys/id_ed25519").open()
    assert handler.kwargs["key_file"] == "/keys/id_ed25519" and handler.kwargs["use_keys"] is True
    assert "password" not in handler.kwargs


def test_refused_login_says_where_and_what_to_do_without_the_password() -> None:
    exc = NetmikoAuthenticationException(f"Authentication to device failed.\nuser netops password {PASSWORD}")
    with pytest.raises(SwitchError) as info:
        make(Handler(exc)).open()
    err = info.value
    assert err.message == "login to switch ex-switch (192.0.2.10:22) as netops refused"
    assert err.hint == "check the password in $SRIOVCHECK_SWITCH_PASSWORD"
    assert PASSWORD not in everything_said(err)
    assert "NetmikoAuthenticationException" in str(err.__cause__)  # the cause is kept, redacted


def test_refused_key_login_points_at_the_key() -> None:
    exc = paramiko.AuthenticationException("Authentication failed.")
    with pytest.raises(SwitchError) as info:
        make(Handler(exc), password=None, key_file="/keys/k").open()
    assert info.value.hint is not None and "/keys/k" in info.value.hint
    assert info.value.__cause__ is exc  # no secret in it: chained as is


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (NetmikoTimeoutException("TCP connection to device failed.\n\nCommon causes ..."),
         "login to switch ex-switch (192.0.2.10:22) as netops failed: TCP connection to device failed."),
        (ConnectionRefusedError(111, "Connection refused"), "Connection refused"),
        (TimeoutError("timed out"), "no answer within 7 s"),
        (socket.gaierror(-2, "Name or service not known"), "cannot resolve 192.0.2.10"),
        (NetmikoTimeoutException("\nA paramiko SSHException occurred during connection creation:\n\n"
                                 "Server '192.0.2.10' not found in known_hosts\n"),
         "host key is not in"),
        (NetmikoTimeoutException("\nA paramiko SSHException occurred during connection creation:\n\n"
                                 "Host key for server '192.0.2.10' does not match: got 'AAA', expected 'BBB'\n"),
         "does not match"),
        (paramiko.SSHException("Error reading SSH protocol banner"), "Error reading SSH protocol banner"),
        (RuntimeError(f"weird {PASSWORD}"), "RuntimeError: weird ********"),
    ],
    ids=["tcp", "refused", "timeout", "dns", "unknown-key", "changed-key", "banner", "other"],
)
def test_login_errors_are_switch_errors(exc: BaseException, words: str) -> None:
    with pytest.raises(SwitchError) as info:
        make(Handler(exc), known_hosts=None).open()
    assert words in str(info.value)
    assert "ex-switch" in str(info.value) and info.value.hint
    assert PASSWORD not in everything_said(info.value)


def test_run_timeout_names_command_and_switch_and_closes() -> None:
    conn = FakeConnection({"show version": VERSION, "show arp no-resolve": ReadTimeout(f"pattern not found {PASSWORD}")})
    switch = make(Handler(conn))
    switch.open()
    with pytest.raises(SwitchError) as info:
        switch.run("show arp no-resolve")
    text = str(info.value)
    assert "switch ex-switch (192.0.2.10:22) did not finish answering `show arp no-resolve` within 7 s" in text
    assert PASSWORD not in everything_said(info.value)
    assert conn.disconnects == 1
    with pytest.raises(SwitchError, match="no open session"):
        switch.run("show version")


def test_run_on_a_closed_channel() -> None:
    conn = FakeConnection({"show version": VERSION, "show vlans": OSError("Socket is closed")})
    switch = make(Handler(conn))
    switch.open()
    with pytest.raises(SwitchError) as info:
        switch.run("show vlans")
    assert "the session to switch ex-switch (192.0.2.10:22) failed while running `show vlans`" in str(info.value)
    assert "Socket is closed" in str(info.value)


def test_run_returns_output_and_refuses_line_breaks() -> None:
    conn = FakeConnection({"show version": VERSION, "show vlans": "Name  Tag\nSRIOV_200 200\n"})
    switch = make(Handler(conn))
    switch.open()
    assert switch.run("show vlans") == "Name  Tag\nSRIOV_200 200\n"
    with pytest.raises(ValueError, match="line break"):
        switch.run("show vlans\nrequest system reboot")


def test_run_before_open() -> None:
    with pytest.raises(SwitchError, match="no open session to switch ex-switch"):
        make(Handler(FakeConnection({}))).run("show version")


def test_failed_show_version_closes_the_session() -> None:
    conn = FakeConnection({"show version": EOFError()})
    switch = make(Handler(conn))
    with pytest.raises(SwitchError, match="show version"):
        switch.open()
    assert conn.disconnects == 1


def test_close_is_idempotent_and_context_manager() -> None:
    conn = FakeConnection({"show version": VERSION})
    with make(Handler(conn)) as switch:
        assert switch.facts.hostname == "ex-switch"
    switch.close()
    switch.close()
    assert conn.disconnects == 1


def test_no_password_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    conn = FakeConnection({"show version": VERSION})
    switch = make(Handler(conn))
    switch.open()
    conn.disconnect = lambda: (_ for _ in ()).throw(OSError(f"bye {PASSWORD}"))  # type: ignore[method-assign]
    switch.close()
    assert "logged in to switch ex-switch" in caplog.text
    assert PASSWORD not in caplog.text


def test_fingerprint_matches_openssh_format() -> None:
    # ssh-keygen -lf prints SHA256:<43 chars of unpadded base64> for a 32-byte digest
    fp = host_key_fingerprint(KEY_BLOB)
    assert fp.startswith("SHA256:") and len(fp) == 7 + 43 and not fp.endswith("=")


def test_commands_wait_for_the_known_prompt_instead_of_detecting_it_each_time() -> None:
    import re

    class PromptConnection(FakeConnection):
        base_prompt = "netops@ex-switch"

        def send_command(self, command: str, *, read_timeout: float, expect_string: str | None = None) -> str:  # type: ignore[override]
            self.expect = expect_string
            return super().send_command(command, read_timeout=read_timeout)

    conn = PromptConnection({"show version": "Hostname: ex-switch\nModel: ex4200-48t\nJUNOS Base OS boot [12.3R12.4]\n"})
    sw = make(Handler(conn))
    sw.open()
    assert conn.expect is not None
    assert re.search(conn.expect, "Model: ex4200-48t\n\n{master:0}\nnetops@ex-switch> ")
    assert not re.search(conn.expect, "Hostname: ex-switch\nnetops@ex-switch is not a prompt\n")


@pytest.mark.parametrize(("device_type", "version_json", "facts"), [
    ("arista_eos", '{"modelName": "DCS-7050TX-64", "version": "4.27.3F", "serialNumber": "X"}',
     (None, "DCS-7050TX-64", "4.27.3F", "EOS")),
    ("cisco_nxos", '{"host_name": "n9k", "chassis_id": "Nexus9000 C93180YC-EX Chassis", "nxos_ver_str": "9.3(8)"}',
     ("n9k", "Nexus9000 C93180YC-EX", "9.3(8)", "NX-OS")),
])
def test_open_speaks_the_platforms_driver_and_reads_its_version_in_json(
    device_type: str, version_json: str, facts: tuple[str | None, str, str, str]
) -> None:
    conn = FakeConnection({"show version | json": version_json})
    handler = Handler(conn)
    switch = make(handler, device_type=device_type)
    switch.open()
    assert handler.kwargs["device_type"] == device_type
    assert conn.sent == [("show version | json", 7.0)]
    f = switch.facts
    assert (f.hostname, f.model, f.os_version, f.os_name, f.platform) == (*facts, device_type)


def test_open_falls_back_to_the_text_version_when_json_is_refused() -> None:
    conn = FakeConnection({"show version | json": "% Invalid input\n",
                           "show version": "Arista DCS-7280SR-48C6\nSoftware image version: 4.30.1F\n"})
    switch = make(Handler(conn), device_type="arista_eos")
    switch.open()
    assert [c for c, _ in conn.sent] == ["show version | json", "show version"]
    assert (switch.facts.model, switch.facts.os_version) == ("DCS-7280SR-48C6", "4.30.1F")
# --- type-ahead (prefetch) over a fake netmiko channel ------------------------------------------

from netmiko.base_connection import BaseConnection  # noqa: E402
from netmiko.juniper.juniper import JuniperBase  # noqa: E402

CLI_PROMPT = "netops@ex-switch> "


class ChannelConnection(FakeConnection):
    """A netmiko connection whose channel is a Junos CLI answering typed lines in order: write_channel
    queues lines, read_channel answers them (echo, output, {master:0}, prompt), as the real CLI does."""

    RETURN = RESPONSE_RETURN = "\n"
    base_prompt = "netops@ex-switch"
    remote_conn = None
    # netmiko's own stripping, so that the outputs compare with what send_command returns
    normalize_cmd = BaseConnection.normalize_cmd
    _sanitize_output = BaseConnection._sanitize_output
    strip_command = BaseConnection.strip_command
    strip_context_items = JuniperBase.strip_context_items

    def strip_prompt(self, a_string: str) -> str:  # JuniperBase.strip_prompt, without its super()
        return self.strip_context_items(BaseConnection.strip_prompt(self, a_string))  # type: ignore[arg-type]

    def __init__(self, outputs: dict[str, Any], *, hang_on: str | None = None, echo_all_first: bool = False) -> None:
        super().__init__(outputs)
        self.typed: list[str] = []
        self.writes = 0
        self.hang_on = hang_on
        self.echo_all_first = echo_all_first
        self._read_buffer = ""

    def write_channel(self, data: str) -> None:
        self.writes += 1
        self.typed += data.splitlines()

    def read_channel(self) -> str:
        lines, self.typed = self.typed, []
        out = "".join(f"{c}\n" for c in lines) if self.echo_all_first else ""
        for c in lines:
            if c == self.hang_on:
                break
            answer = self.outputs[c]
            out += ("" if self.echo_all_first else f"{c}\n") + f"{answer}\n{{master:0}}\n{CLI_PROMPT}"
            if c == self.hang_on:
                break
        return out

    def send_command(self, command: str, *, read_timeout: float, expect_string: str | None = None) -> str:  # type: ignore[override]
        return super().send_command(command, read_timeout=read_timeout)


def typed_switch(conn: ChannelConnection, **overrides: Any) -> NetmikoSwitch:
    sw = make(Handler(conn), **overrides)
    conn.outputs.setdefault("show version", VERSION)
    sw.open()
    conn.sent.clear()
    return sw


OUTS = {
    "show lldp neighbors": "Local Interface    Parent Interface    Chassis Id\nge-0/0/1.0         -       02:00:00:00:aa:01",
    "show interfaces ge-0/0/1": "Physical interface: ge-0/0/1, Enabled, Physical link is Up\n  Link-level type: Ethernet, MTU: 1514",
    "show arp no-resolve interface vlan.200": "MAC Address       Address         Interface     Flags\nTotal entries: 0",
}


def test_typed_ahead_commands_take_one_write_and_answer_like_send_command() -> None:
    conn = ChannelConnection(dict(OUTS))
    sw = typed_switch(conn)
    cmds = list(OUTS)
    sw.prefetch(cmds)
    assert conn.writes == 1, "all commands in one write"
    assert [sw.run(c) for c in cmds] == list(OUTS.values()), "echo, {master:0} and prompt stripped as send_command strips them"
    assert conn.sent == [], "nothing was sent again"
    # a prefetched output is used once; the next run() asks the switch
    assert sw.run("show lldp neighbors") == OUTS["show lldp neighbors"] and [c for c, _ in conn.sent] == ["show lldp neighbors"]


def test_a_command_that_hangs_in_a_batch_fails_where_it_would_have_failed_alone() -> None:
    conn = ChannelConnection(dict(OUTS), hang_on="show interfaces ge-0/0/1")
    sw = typed_switch(conn, timeout_s=0.2)
    sw.prefetch(list(OUTS))
    assert sw.run("show lldp neighbors") == OUTS["show lldp neighbors"], "the answer before the hang is kept"
    with pytest.raises(SwitchError, match=r"did not finish answering `show interfaces ge-0/0/1` within 0.2 s"):
        sw.run("show interfaces ge-0/0/1")
    with pytest.raises(SwitchError, match="no open session"):  # the session is not reused, as after a run() timeout
        sw.run("show arp no-resolve interface vlan.200")
    assert conn.sent == [], "nothing was sent again"


def test_answers_not_in_order_are_not_kept_and_the_commands_run_one_by_one() -> None:
    conn = ChannelConnection(dict(OUTS), echo_all_first=True)
    sw = typed_switch(conn)
    sw.prefetch(list(OUTS))
    assert sw._prefetched == {}
    assert sw.run("show lldp neighbors") == OUTS["show lldp neighbors"] and [c for c, _ in conn.sent] == ["show lldp neighbors"]


def test_prefetch_refuses_line_breaks_and_leaves_sessions_without_a_channel_alone() -> None:
    conn = ChannelConnection(dict(OUTS))
    sw = typed_switch(conn)
    with pytest.raises(ValueError, match="line break"):
        sw.prefetch(["show version\nrequest system reboot"])
    plain = FakeConnection({"show version": VERSION, "show lldp neighbors": "x"})
    sw2 = make(Handler(plain))
    sw2.open()
    sw2.prefetch(["show lldp neighbors"])  # no channel methods: nothing typed ahead, run() sends it
    assert sw2.run("show lldp neighbors") == "x" and plain.sent[-1][0] == "show lldp neighbors"
