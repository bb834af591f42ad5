"""A test hook for the crash matrix (tests/integration/test_crash_matrix.py): kill this process with
SIGKILL at a named point inside a step, where a kill from outside lands only by chance.

Inert unless SRIOVCHECK_CRASH_AT is set. Its value is `POINT` or `POINT:N` (the N-th time, from 1,
that POINT is reached; default the first). SIGKILL, not an exception: nothing of sriovcheck runs
after it, exactly as with `kill -9`, the OOM killer or a power loss (minus the page cache, which
the state writes fsync). The points:

  intent              a step's intent has just been written (nothing of the step is done yet)
  container-created   docker created and started a container, not yet recorded
  attach-host-renamed a VF is down under its temporary name on the host
  attach-moved        ... inside the container's namespace, still under its temporary name
  attach-renamed      ... renamed to its in-container name, not yet addressed nor up
  detach-moved        a VF on its way home is in the host namespace under its temporary name
"""

from __future__ import annotations

import os
import signal
import threading

POINTS = ("intent", "container-created", "attach-host-renamed", "attach-moved", "attach-renamed", "detach-moved")
_counts: dict[str, int] = {}
_lock = threading.Lock()


def reset() -> None:
    """Count from zero again: a process held for a second command (sriovcheck.fleet.hold) counts per command."""
    with _lock:
        _counts.clear()


def crashpoint(point: str) -> None:
    spec = os.environ.get("SRIOVCHECK_CRASH_AT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    with _lock:
        _counts[point] = _counts.get(point, 0) + 1
        hit = _counts[point] == (int(nth) if nth.isdigit() else 1)
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)
