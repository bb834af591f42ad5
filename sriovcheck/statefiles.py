"""Where sriovcheck keeps state on a host, atomic JSON files and the per-topology lock.

Layout: <state root>/<topology>/provision.json, <state root>/<topology>/lock and
<state root>/<topology>/lab/ (the emulated lab). The root is /var/lib/sriovcheck unless
SRIOVCHECK_STATE_DIR says otherwise (tests point it at a temporary directory).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sriovcheck.errors import StateError

DEFAULT_STATE_ROOT = Path("/var/lib/sriovcheck")


def state_root() -> Path:
    return Path(os.environ.get("SRIOVCHECK_STATE_DIR") or DEFAULT_STATE_ROOT)


def topology_dir(topology: str, root: Path | None = None) -> Path:
    return (root or state_root()) / topology


def free_space(directory: Path) -> str:
    """How much room `directory`'s file system has left, for error messages ("12 KiB free")."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return "free space unknown"
    free = st.f_bavail * st.f_frsize
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if free >= size:
            return f"{free / size:.1f} {unit} free"
    return f"{free} bytes free"


def write_failure(what: str, path: Path, exc: OSError, size: int | None = None) -> StateError:
    """A clear error for a state write that failed: what, where, why and, on a full disk, the room left."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        need = f"; {size} bytes were to be written" if size is not None else ""
        return StateError(
            f"cannot write {what} {path}: {reason} ({free_space(path.parent)} in {path.parent}{need})",
            hint="free some space on that file system (or point SRIOVCHECK_STATE_DIR elsewhere), then run the "
            "command again; nothing was changed after the failed write",
        )
    return StateError(f"cannot write {what} {path}: {reason}",
                      hint="check free space and permissions of the state directory "
                      "(SRIOVCHECK_STATE_DIR or /var/lib/sriovcheck)")


def fsync_dir(directory: Path) -> None:
    """Make a rename or an unlink in `directory` durable (a power loss cannot undo it)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_durably(path: Path, payload: bytes, *, what: str = "state file", mode: int = 0o600) -> None:
    """Write, fsync, rename over `path`, fsync the folder: a reader (or the next boot) sees the old file
    or the new one, never half of one. The temporary file (`.NAME.XXXX`) never outlives a failed write;
    one left by a killed process is removed by `remove_orphans`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise write_failure(what, path, exc, len(payload)) from exc
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise write_failure(what, path, exc, len(payload)) from exc
    fsync_dir(path.parent)


def write_json_atomic(path: Path, data: Any, *, what: str = "state file") -> None:
    """Write JSON so that a reader sees the old file or the new one, never half of one (durably)."""
    payload = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    write_bytes_durably(path, payload, what=what)


def remove_orphans(directory: Path, names: tuple[str, ...] = ("provision.json",)) -> list[Path]:
    """Remove temporary files (`.NAME.XXXX`) that a killed writer left in `directory`. Call it only
    while holding the lock that every writer of those files holds (the topology lock)."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for p in entries:
        if any(p.name.startswith(f".{n}.") for n in names) and p.is_file():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    if removed:
        fsync_dir(directory)
    return removed


def write_text_atomic(path: Path, text: str) -> None:
    """Write a user-requested output file (not state): the old file or the new one, never half."""
    from sriovcheck.errors import ReportError

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}", hint="check that its directory exists and is writable") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}", hint="check free space and permissions") from exc


def read_json(path: Path) -> Any | None:
    """None when the file does not exist; StateError when it exists but cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(
            f"cannot read state file {path}: {exc}",
            hint=f"check its permissions; if it is damaged, move it away (mv {path} {path}.bad) and clean up by hand what it recorded",
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"state file {path} is corrupt (line {exc.lineno}: {exc.msg}); it may have been truncated",
            hint=f"inspect it; move it away to start afresh (what it recorded must then be cleaned by hand): mv {path} {path}.bad",
        ) from exc


@contextlib.contextmanager
def topology_lock(topology: str, root: Path | None = None, *, what: str = "run") -> Iterator[None]:
    """One sriovcheck run per topology at a time: a second one is refused, clearly, at once."""
    d = topology_dir(topology, root)
    path = d / "lock"
    while True:
        try:
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise write_failure("the lock file", path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise StateError(f"cannot lock {path}: {exc.strerror}") from exc
            raise StateError(
                f"another sriovcheck run holds the lock of topology {topology!r} ({holder})",
                hint=f"wait for it to finish; the lock is {path}",
            ) from None
        # The previous holder may have removed the file after we opened it: then our lock is on
        # an orphan inode and a third run could lock a new file. Lock the file that is there.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} ({what})".encode(), 0)
        except OSError as exc:
            raise write_failure("the lock file", path, exc) from exc
        yield
    finally:
        # Leave nothing behind once nothing else is recorded for this topology.
        with contextlib.suppress(OSError):
            if {p.name for p in d.iterdir()} == {"lock"}:
                path.unlink()
                d.rmdir()
        os.close(fd)


def forget_topology_dir(topology: str, root: Path | None = None) -> None:
    """Remove the topology's state directory when nothing but a stale lock is left in it."""
    d = topology_dir(topology, root)
    with contextlib.suppress(OSError):
        names = {p.name for p in d.iterdir()}
        if names <= {"lock"}:
            with topology_lock(topology, root, what="cleanup"):
                pass
