"""Reading a command's input from stdin (`-` for a file argument): a fleet run hands each host's command its
topology and the switch evidence this way instead of copying files. Light on purpose: the fleet report
reads its hosts' results through it without importing the host, container and switch machinery."""

from __future__ import annotations

import sys

from sriovcheck.errors import UsageError

__all__ = ["STDIN_LIMIT", "read_stdin"]

STDIN_LIMIT = 256 * 1024 * 1024  # a topology, or a switch's evidence for a whole rack, is far smaller


def read_stdin(what: str) -> str:
    """All of stdin as UTF-8 text (a fleet run hands the topology and the switch evidence to the host's
    command this way instead of copying files); empty, binary or oversized input is a UsageError."""
    stream = getattr(sys.stdin, "buffer", None)
    raw = stream.read(STDIN_LIMIT + 1) if stream is not None else (sys.stdin.read(STDIN_LIMIT + 1) or "").encode()
    if len(raw) > STDIN_LIMIT:
        raise UsageError(f"stdin: {what} is larger than {STDIN_LIMIT // (1024 * 1024)} MiB", hint="give a file instead of -")
    if not raw.strip():
        raise UsageError(f"stdin is empty: {what} was expected there (the argument was -)",
                         hint="pipe it in (e.g. `sriovcheck fleet traffic - < node01.yaml`), or give a file instead of -")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"stdin: {what} is not UTF-8 text (byte {exc.start})", hint="pipe the text file itself") from None
