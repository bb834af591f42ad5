"""The `sriovcheck` command's process entry: one fast path, then the CLI (sriovcheck.cli.main_entry).

`sriovcheck fleet verify ... --held SOCKET` hands the command to the process that `fleet traffic --hold
SOCKET` kept on this host (sriovcheck.fleet.hold), before the CLI and everything it imports is loaded:
that start-up is what holding saves. Every other command, and this one when no held process answers,
goes to the CLI as usual.
"""

from __future__ import annotations

import io
import sys

TYPE_CHECKING = False  # not `typing`'s: the held verify's client starts without importing it
if TYPE_CHECKING:
    from typing import NoReturn


def main_entry() -> NoReturn:
    argv = sys.argv[1:]
    path = None
    if argv[:2] == ["fleet", "verify"] and any(a == "--held" or a.startswith("--held=") for a in argv):
        from sriovcheck.fleet.hold import held_socket

        path = held_socket(argv)
    if path is not None:
        from sriovcheck.fleet.hold import run_held

        code, stdin = run_held(path, argv)
        if code is not None:
            sys.exit(code)
        if stdin is not None:  # read once already: the command reads it again here
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    from sriovcheck.cli import main_entry as cli_entry

    cli_entry()


if __name__ == "__main__":  # pragma: no cover
    main_entry()
