"""sriovcheck.fleet.hold: the held process serves one `fleet verify` over its unix socket, the client
relays it, and every way of not being served (no process, a dead one, a refused request, a process that
dies mid-command) ends with the command run by the client itself. The server runs in a forked child
with a stand-in for the CLI's main (the real one: tests/integration/test_fleet_hold_on_lab.py)."""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sriovcheck.fleet import hold


def test_held_socket_is_found_only_in_fleet_verify_spelled_out() -> None:
    assert hold.held_socket(["fleet", "verify", "-", "--held", "/run/h.sock"]) == "/run/h.sock"
    assert hold.held_socket(["fleet", "verify", "t.yaml", "--held=/run/h.sock", "--json"]) == "/run/h.sock"
    assert hold.held_socket(["fleet", "traffic", "-", "--held", "/run/h.sock"]) is None
    assert hold.held_socket(["verify", "t.yaml", "--held", "/run/h.sock"]) is None
    assert hold.held_socket(["fleet", "verify", "-", "--", "--held", "/run/h.sock"]) is None
    assert hold.held_socket(["fleet", "verify", "-", "--held"]) is None  # the CLI says what is missing


def test_check_path_refuses_what_a_unix_socket_cannot_be() -> None:
    assert hold.check_path("/var/lib/sriovcheck-fleet/held.sock") is None
    assert "at most 107" in str(hold.check_path("/" + "x" * 200))
    assert hold.check_path("") is not None and hold.check_path("a\x00b") is not None


def _fork_server(path: Path, run: Callable[[list[str]], int], timeout_s: float = 10.0) -> int:
    """A child serving PATH with RUN as the CLI's main; returns its pid."""
    listener, ino = hold._listen(str(path))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            signal.signal(signal.SIGTERM, _raise_interrupt)
            code = hold.serve(listener, str(path), ino, timeout_s, run=run, preload=())
        finally:
            os._exit(code)
    listener.close()
    return pid


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _exit_code(pid: int, timeout_s: float = 10.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the held child {pid} did not exit")


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bytes], None]]:
    def give(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))

    yield give


def _short_dir(tmp_path: Path) -> Path:
    # pytest's tmp_path can be longer than a unix socket's path allows: a short folder of its own
    path = Path("/tmp") / f"sch-{os.getpid()}-{tmp_path.name[-12:]}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@pytest.fixture
def sockdir(tmp_path: Path) -> Iterator[Path]:
    path = _short_dir(tmp_path)
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def test_one_command_is_served_with_its_stdin_cwd_and_environment(
        sockdir: Path, tmp_path: Path, stdin: Callable[[bytes], None], capfdbinary: pytest.CaptureFixture[bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_main(argv: list[str]) -> int:
        seen.update(argv=argv)
        print(f"argv={argv} cwd={os.getcwd()} env={os.environ.get('SCH_PROBE')} stdin={sys.stdin.read()!r}")
        print("progress on stderr", file=sys.stderr)
        return 1

    path = sockdir / "held.sock"
    pid = _fork_server(path, fake_main)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCH_PROBE", "from-the-client")
    stdin(b'{"topology": "x"}')
    argv = ["fleet", "verify", "-", "--switch-output", "-", "--held", str(path)]
    code, data = hold.run_held(str(path), argv)
    out, err = capfdbinary.readouterr()
    assert code == 1 and data == b'{"topology": "x"}'
    assert out.decode() == (f"argv={argv} cwd={tmp_path} env=from-the-client stdin='{{\"topology\": \"x\"}}'\n")
    assert err.decode().splitlines() == [f"running in sriovcheck process {pid}, held by `fleet traffic --hold`",
                                         "progress on stderr"]
    assert _exit_code(pid) == 1  # one command, then it exits with the command's code
    assert not path.exists()  # and its socket is gone: the next --held runs the command itself


def test_no_held_process_means_the_command_runs_here_with_stdin_kept(
        sockdir: Path, stdin: Callable[[bytes], None], capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    stdin(b"topology text")
    code, data = hold.run_held(str(sockdir / "none.sock"), ["fleet", "verify", "-", "--held", str(sockdir / "none.sock")])
    assert code is None and data == b"topology text"
    assert b"no sriovcheck process held at" in capfdbinary.readouterr().err
    # a socket left by a process that was killed (nothing listens): the same
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sockdir / "dead.sock"))
    dead.close()
    code, data = hold.run_held(str(sockdir / "dead.sock"), ["fleet", "verify", "t.yaml"])
    assert code is None and data is None  # no `-`: stdin is not read
    assert b"running the command here" in capfdbinary.readouterr().err


def test_only_fleet_verify_is_served_and_a_refused_client_runs_it_itself(
        sockdir: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    path = sockdir / "held.sock"
    pid = _fork_server(path, lambda argv: 7, timeout_s=1.0)
    code, _ = hold.run_held(str(path), ["lab", "down", "t.yaml"])  # served, it would answer 7
    assert code is None and b"ended before it answered; running the command here" in capfdbinary.readouterr().err
    assert _exit_code(pid) == 0  # still waiting after the refusal, then its idle timeout: 0 (not 7)
    assert not path.exists()


def test_an_idle_held_process_leaves_after_its_timeout(sockdir: Path) -> None:
    path = sockdir / "held.sock"
    t0 = time.monotonic()
    pid = _fork_server(path, lambda argv: 0, timeout_s=0.3)
    assert _exit_code(pid) == 0 and time.monotonic() - t0 < 5
    assert not path.exists()


def test_a_second_hold_on_the_same_socket_replaces_the_first(sockdir: Path) -> None:
    path = sockdir / "held.sock"
    first = _fork_server(path, lambda argv: 0)
    second = _fork_server(path, lambda argv: 0, timeout_s=0.3)  # _listen asks the first to quit
    assert _exit_code(first) == 0
    assert path.exists()  # the second's socket, not removed by the first on its way out
    assert _exit_code(second) == 0 and not path.exists()


def test_a_held_process_killed_mid_command_lets_the_client_run_it(
        sockdir: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    path = sockdir / "held.sock"

    def dies(argv: list[str]) -> int:
        print("half of the output", flush=True)  # sent: the client has it when the process dies
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    pid = _fork_server(path, dies)
    code, _ = hold.run_held(str(path), ["fleet", "verify", "t.yaml", "--json"])
    sys.stdout.flush()
    out, err = capfdbinary.readouterr()
    assert code is None and out == b""  # what the dead process had printed is not passed on
    assert f"(pid {pid}) ended before it answered; running the command here".encode() in err
    assert _exit_code(pid) == -signal.SIGKILL


def test_a_signal_to_the_client_reaches_the_held_command(
        sockdir: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    path = sockdir / "held.sock"

    def waits(argv: list[str]) -> int:
        try:
            time.sleep(20)
        except KeyboardInterrupt:  # as the CLI's main: roll back, 130
            print("rolled back", file=sys.stderr)
            return 130
        return 0

    pid = _fork_server(path, waits)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code, _ = hold.run_held(str(path), ["fleet", "verify", "t.yaml"])
    finally:
        timer.cancel()
    assert code == 130
    assert b"rolled back" in capfdbinary.readouterr().err
    assert _exit_code(pid) == 130


def test_a_request_round_trips_and_anything_else_is_refused() -> None:
    argv = ["fleet", "verify", "-", "--report-dir", "dir with\nnewline", ""]
    env = {b"PATH": b"/usr/bin", b"EMPTY": b"", b"ODD": b"a=b\xff"}
    data = hold.encode_request(argv, b"/some/cwd", env) + b"stdin\x00bytes"
    assert hold._decode_request(data) == (argv, b"/some/cwd", env, b"stdin\x00bytes")
    header = b"\0".join((hold.MAGIC, b"quit"))
    assert hold._decode_request(hold._LENGTH.pack(len(header)) + header) == "quit"
    assert hold._decode_request(hold.encode_request(["lab", "down", "t.yaml"], b"/", {})) is None  # not fleet verify
    assert hold._decode_request(data.replace(hold.MAGIC, b"sriovcheck-held-0")) is None  # another version
    assert hold._decode_request(data[:10]) is None  # cut short
    short = b"\0".join((hold.MAGIC, b"/", b"5", b"fleet", b"verify"))
    assert hold._decode_request(hold._LENGTH.pack(len(short)) + short) is None  # argc says more than there are
    no_pair = b"\0".join((hold.MAGIC, b"/", b"2", b"fleet", b"verify", b"NOEQUALS"))
    assert hold._decode_request(hold._LENGTH.pack(len(no_pair)) + no_pair) is None  # an environment item without =
    ok = b"\0".join((hold.MAGIC, b"/", b"2", b"fleet", b"verify", b"A=1"))
    assert hold._decode_request(hold._LENGTH.pack(len(ok)) + ok) == (["fleet", "verify"], b"/", {b"A": b"1"}, b"")


def test_a_fork_that_fails_leaves_the_command_as_it_was_and_no_socket(sockdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    said: list[str] = []
    hold.request(hold.Hold(str(sockdir / "held.sock"), 5))
    hold.detach_if_requested(0, said.append, lambda argv: 0)  # returns: the process exits with its own code
    assert said == ["--hold: cannot fork (Cannot allocate memory); verify starts a process of its own"]
    assert not (sockdir / "held.sock").exists() and hold.requested() is None
