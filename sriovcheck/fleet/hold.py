"""A fleet host's two commands in one process: `fleet traffic --hold SOCKET` stays, `fleet verify --held SOCKET` uses it.

A fleet run starts two sriovcheck processes per host, one before the shared switch read (provision +
traffic) and one after it (verify + teardown). Each pays Python's start-up and imports (pyroute2, docker's
SDK, pydantic and the topology model, ...: 0.4-0.5 CPU-s on a 2-core machine, about half of each process;
benchmarks/RESULTS.md), and on an emulated rack of 16 hosts on 2 cores those add up. So:

- `fleet traffic --hold SOCKET`, once its work is done and its output written, forks: the parent exits with
  the command's code as always (Ansible's task ends); the child - a new session, stdin/stdout/stderr on
  /dev/null - listens on the unix socket SOCKET (its owner only: umask 077), imports what verify needs while it waits, and
  serves ONE request, then exits; with none within --hold-timeout seconds it removes the socket and exits.
- `fleet verify ... --held SOCKET` (the `sriovcheck` entry, before anything else is imported: entry.py)
  connects, sends its command line, working directory, environment and stdin, and relays what comes back:
  stderr as it comes, stdout and the exit code at the end. It forwards SIGINT/SIGTERM to the held process
  (which rolls back and answers 130, as a command of its own would). When there is no held process
  (none was kept, it timed out, was killed, or is another user's), or it ends without answering, the
  command runs here as without --held: the result is the same, only the start-up is paid.

Only a process of the same user is served (SO_PEERCRED); the socket is created with umask 077. The held
process holds nothing but its modules and the socket: what verify and teardown need is on disk (state,
journals), as between any two commands, so a kill -9 of it loses nothing. A process holds only when no
other thread is running (a fork copies only the calling thread).
"""

from __future__ import annotations

# The client (entry.py) imports this module before anything else: only what it needs at the top (no json,
# typing, threading, ...: ~30 ms of a verify's start-up); the held process's side imports its own.
import os
import signal
import socket
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import io
    import threading
    from collections.abc import Callable, Mapping, Sequence
    from types import FrameType
    from typing import Any

__all__ = ["DEFAULT_TIMEOUT_S", "Hold", "check_path", "detach_if_requested", "held_socket", "request",
           "requested", "run_held", "serve"]

DEFAULT_TIMEOUT_S = 1800.0
MAX_PATH = 107  # sockaddr_un.sun_path holds 108 bytes with the terminating NUL
MAX_HEADER = 4 * 1024 * 1024
STDIN_LIMIT = 256 * 1024 * 1024 + 1  # as sriovcheck.stdin (which says what is too large)
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0  # a client that connected sends its request at once
PID, OUT, ERR, EXIT = b"p", b"1", b"2", b"x"
_FRAME = struct.Struct("!cI")  # the answer: frames of (kind, length) + payload
_LENGTH = struct.Struct("!I")  # the request: its header's length, the header, then stdin to the end
MAGIC = b"sriovcheck-held-1"

# What verify and teardown import beyond what traffic did: the held process imports it while it waits.
PRELOAD = (
    "sriovcheck.fleet.evidence", "sriovcheck.verify.engine", "sriovcheck.verify.acceptance",
    "sriovcheck.verify.diagnosis", "sriovcheck.verify.teardown", "sriovcheck.verify.waivers",
    "sriovcheck.report.writer", "sriovcheck.report.junit", "sriovcheck.switch.offline",
)


def check_path(path: str) -> str | None:
    """Why PATH cannot be a unix socket's path, or None."""
    if not path or "\x00" in path:
        return "an empty path, or one with a NUL byte"
    if len(os.fsencode(path)) > MAX_PATH:
        return f"{len(os.fsencode(path))} bytes long; a unix socket's path holds at most {MAX_PATH}"
    return None


# -- the client: `fleet verify --held SOCKET` ------------------------------------------------------------


def held_socket(argv: Sequence[str]) -> str | None:
    """The SOCKET of `fleet verify ... --held SOCKET` (or --held=SOCKET), else None. Spelled out only:
    an abbreviation reaches the CLI, which then runs the command itself."""
    if len(argv) < 2 or argv[0] != "fleet" or argv[1] != "verify":
        return None
    for i, arg in enumerate(argv[2:], 2):
        if arg == "--":
            return None
        if arg == "--held" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--held="):
            return arg.split("=", 1)[1]
    return None


def _note(message: str) -> None:
    print(f"sriovcheck: {message}", file=sys.stderr, flush=True)


def _read_exact(conn: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a unix socket. (Its pid there is the one that called
    listen(): the traffic command's, which has exited since - the held process sends its own.)"""
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return int(uid)


def run_held(path: str, argv: Sequence[str]) -> tuple[int | None, bytes | None]:
    """Run ARGV in the process held at PATH. Returns (exit code, None) when it answered; (None, stdin)
    when the command is to run here instead (stdin as read, for the command to read again)."""
    data = None
    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None and any(a == "-" or a.endswith("=-") for a in argv[2:]):
        data = stream.read(STDIN_LIMIT)  # the command reads stdin (TOPOLOGY or evidence as -): read once, kept
    if check_path(path) is not None:
        return None, data  # the CLI says what is wrong with the option
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(CONNECT_TIMEOUT_S)
        try:
            conn.connect(path)
        except OSError as exc:
            _note(f"no sriovcheck process held at {path} ({exc.strerror or exc}); running the command here")
            return None, data
        try:
            uid = _peer_uid(conn)
            if uid != os.geteuid():
                _note(f"the process at {path} is another user's (uid {uid}); running the command here")
                return None, data
            conn.settimeout(REQUEST_TIMEOUT_S)
            conn.sendall(encode_request(argv, os.getcwdb(), os.environb) + (data or b""))
            conn.shutdown(socket.SHUT_WR)
        except OSError as exc:
            _note(f"the process held at {path} did not take the command ({exc.strerror or exc}); running it here")
            return None, data
        conn.settimeout(None)  # the command takes what it takes; SIGINT/SIGTERM reach it (_relay)
        return _relay(conn, path), data
    finally:
        conn.close()


def _relay(conn: socket.socket, path: str) -> int | None:
    forwarded: list[int] = []
    held: list[int] = []  # its pid, the first frame

    def stop_held() -> None:
        try:  # noqa: SIM105 - contextlib is not imported on the client's path
            os.kill(held[0], signal.SIGTERM)  # the held process takes it as a command of its own would: roll back, 130
        except OSError:
            pass  # gone already: the answer (or its absence) says how it ended

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signum)
        if held:
            stop_held()

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    stdout = bytearray()
    try:
        while True:
            head = _read_exact(conn, _FRAME.size)
            if head is None:
                break
            kind, size = _FRAME.unpack(head)
            payload = _read_exact(conn, size)
            if payload is None:
                break
            if kind == PID:
                held.append(int(payload))
                if forwarded:  # a signal came before it said who it is
                    stop_held()
            elif kind == ERR:
                sys.stderr.buffer.write(payload)
                sys.stderr.buffer.flush()
            elif kind == OUT:
                stdout += payload  # written once the command is done: it may be results.json as a whole
            elif kind == EXIT:
                sys.stdout.buffer.write(stdout)
                sys.stdout.buffer.flush()
                conn.settimeout(CONNECT_TIMEOUT_S)
                while conn.recv(4096):  # until it closes: the held command has finished with everything
                    pass
                return int(payload)
    except OSError:
        pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if forwarded:
        _note("interrupted")
        return 130
    who = f" (pid {held[0]})" if held else ""
    _note(f"the process held at {path}{who} ended before it answered; running the command here")
    return None


# -- the held process: `fleet traffic --hold SOCKET` ------------------------------------------------------


def encode_request(argv: Sequence[str], cwd: bytes, env: Mapping[bytes, bytes]) -> bytes:
    """The request's length-prefixed header: MAGIC, cwd, argc, argv..., NAME=VALUE... - NUL-separated, as
    none of them can hold a NUL (stdin follows it)."""
    fields = [MAGIC, cwd, str(len(argv)).encode(), *(os.fsencode(a) for a in argv), *(k + b"=" + v for k, v in env.items())]
    header = b"\0".join(fields)
    return _LENGTH.pack(len(header)) + header


def _decode_request(data: bytes) -> tuple[list[str], bytes, dict[bytes, bytes], bytes] | str | None:
    """(argv, cwd, env, stdin) of a `fleet verify` request; "quit"; or None for anything else."""
    if len(data) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack_from(data)
    header, stdin = data[_LENGTH.size:_LENGTH.size + size], data[_LENGTH.size + size:]
    fields = header.split(b"\0")
    if len(header) != size or size > MAX_HEADER or fields[0] != MAGIC:
        return None
    if fields[1:] == [b"quit"]:
        return "quit"
    if len(fields) < 3 or not fields[2].isdigit() or len(fields) < 3 + int(fields[2]):
        return None
    argc = int(fields[2])
    argv = [os.fsdecode(a) for a in fields[3:3 + argc]]
    items = fields[3 + argc:]
    if argv[:2] != ["fleet", "verify"] or not all(b"=" in item[1:] for item in items):
        return None
    env = dict(item.split(b"=", 1) for item in items)  # pairs: each item has a "=" after its first byte
    return argv, fields[1], env, stdin


class Hold:
    """Where to hold (the socket's path) and for how long at most."""

    __slots__ = ("path", "timeout_s")

    def __init__(self, path: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.path, self.timeout_s = path, timeout_s


_requested: list[Hold] = []


def request(hold: Hold) -> None:
    """Hold this process once its command is done (called by the command; acted on by the process entry)."""
    _requested[:] = [hold]


def requested() -> Hold | None:
    return _requested[0] if _requested else None


def detach_if_requested(code: int, progress: Callable[[str], None], run: Callable[[list[str]], int]) -> None:
    """At the end of the process entry: when the command asked to hold and ended with 0 or 1 (verify
    follows), fork; the parent returns (and exits with CODE), the child serves - RUN is the CLI's main,
    handed down by it - and never returns."""
    hold = requested()
    _requested.clear()
    if hold is None or code not in (0, 1):
        return
    import threading

    if threading.active_count() != 1:
        progress(f"--hold: not holding ({threading.active_count() - 1} other thread(s) still running); "
                 "verify starts a process of its own")
        return
    try:
        listener, ino = _listen(hold.path)
    except OSError as exc:
        progress(f"--hold: cannot listen on {hold.path} ({exc.strerror or exc}); verify starts a process of its own")
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:  # e.g. no memory for a second process: the command's own result stands
        listener.close()
        _unlink_own(hold.path, ino)
        progress(f"--hold: cannot fork ({exc.strerror or exc}); verify starts a process of its own")
        return
    if pid:
        listener.close()
        progress(f"held: sriovcheck process {pid} waits on {hold.path} for `fleet verify --held` "
                 f"(at most {hold.timeout_s:g} s)")
        return
    code = 0
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        code = serve(listener, hold.path, ino, hold.timeout_s, run)
    except BaseException:  # the child must never return into the parent's code
        code = 3
    finally:
        os._exit(code)


def _listen(path: str) -> tuple[socket.socket, int]:
    """A listening unix socket at PATH (its owner only, its folder made 0700 if missing); a socket left
    there by an earlier holder is asked to quit (a live one) or removed (a dead one)."""
    import contextlib
    import stat

    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise FileExistsError(17, "something that is not a socket is there")
        _quit(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        listener.bind(path)
    except OSError:
        listener.close()
        raise
    finally:
        os.umask(old)
    listener.listen(4)
    return listener, os.lstat(path).st_ino


def _quit(path: str) -> None:
    """Ask the process held at PATH, if any, to go (a second `--hold` on the same path replaces it)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(CONNECT_TIMEOUT_S)
        try:
            conn.connect(path)
            header = b"\0".join((MAGIC, b"quit"))
            conn.sendall(_LENGTH.pack(len(header)) + header)
            conn.shutdown(socket.SHUT_WR)
            conn.recv(1)  # it closes when it has gone
        except OSError:
            pass  # nothing listens there: a socket left by a dead holder, removed next


def _unlink_own(path: str, ino: int) -> None:
    try:
        if os.lstat(path).st_ino == ino:
            os.unlink(path)
    except OSError:
        pass  # gone, or another's now


def _text(conn: socket.socket, kind: bytes, lock: threading.Lock, *, lines: bool) -> io.TextIOWrapper:
    """A text stream whose every write reaches the client as frames of KIND."""
    import contextlib
    import io

    class Frames(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            data = bytes(b)
            if data:
                # the client may have gone: the command still runs to its end (as a detached one would)
                with lock, contextlib.suppress(OSError):
                    conn.sendall(_FRAME.pack(kind, len(data)) + data)
            return len(data)

    return io.TextIOWrapper(io.BufferedWriter(Frames()), encoding="utf-8", errors="replace", line_buffering=lines)


def _read_request(conn: socket.socket) -> bytes | None:
    conn.settimeout(REQUEST_TIMEOUT_S)
    data = bytearray()
    try:
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > MAX_HEADER + STDIN_LIMIT:
                return None
    except OSError:
        return None


def _preload(names: Sequence[str]) -> None:
    """Import what verify needs while the process waits, at the lowest priority (this thread only): on a
    host busy with other work - an emulated rack's other hosts provisioning - it takes only idle CPU."""
    import contextlib
    import importlib
    import threading

    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    for name in names:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def serve(listener: socket.socket, path: str, ino: int, timeout_s: float, run: Callable[[list[str]], int],
          preload: Sequence[str] = PRELOAD) -> int:
    """Serve one `fleet verify` on LISTENER (bound at PATH, inode INO) with RUN (the CLI's main; tests give
    another), then return its exit code (the child exits with it); 0 after TIMEOUT_S idle or a quit."""
    import contextlib
    import io
    import threading

    loader = threading.Thread(target=_preload, args=(preload,), name="sriovcheck-preload", daemon=True)
    loader.start()
    import time

    deadline = time.monotonic() + timeout_s  # one deadline: refused connections do not extend the hold
    try:
        while True:
            listener.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return 0
            data = _read_request(conn) if _peer_uid(conn) == os.geteuid() else None
            got = None if data is None else _decode_request(data)
            if got == "quit":  # a new holder of PATH: go, and leave PATH to it
                _unlink_own(path, ino)
                conn.close()
                return 0
            if not isinstance(got, tuple):
                conn.close()
                continue
            break
    except KeyboardInterrupt:  # SIGTERM while waiting
        return 130
    finally:
        _unlink_own(path, ino)  # one request: the next `--held` runs its command itself
        listener.close()
    argv, cwd, env, stdin = got
    with contextlib.suppress(OSError):  # the command waits for the imports, at the command's priority (root may)
        os.setpriority(os.PRIO_PROCESS, loader.native_id or 0, os.getpriority(os.PRIO_PROCESS, 0))
    loader.join()
    with conn:
        lock = threading.Lock()
        # stderr line by line (progress, as it comes); stdout in blocks (the client prints it at the end)
        out, err = _text(conn, OUT, lock, lines=False), _text(conn, ERR, lock, lines=True)
        code = 3
        try:
            with contextlib.suppress(OSError):
                conn.sendall(_FRAME.pack(PID, len(str(os.getpid()))) + str(os.getpid()).encode())
            os.chdir(cwd)
            os.environb.clear()
            os.environb.update(env)
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
            sys.stdout, sys.stderr = out, err
            from sriovcheck import crashpoints

            crashpoints.reset()  # counted per command, as in a process of its own
            print(f"running in sriovcheck process {os.getpid()}, held by `fleet traffic --hold`", file=err, flush=True)
            code = run(argv)
        except KeyboardInterrupt:
            print("interrupted", file=err)
            code = 130
        except Exception as exc:  # a bug: said to the client, as the CLI would
            print(f"internal error: {type(exc).__name__}: {exc}\n  this is a bug in sriovcheck", file=err)
            code = 3
        finally:
            for stream in (out, err):
                with contextlib.suppress(Exception):
                    stream.flush()
            with contextlib.suppress(OSError):
                conn.sendall(_FRAME.pack(EXIT, len(str(code))) + str(code).encode())
    return code
