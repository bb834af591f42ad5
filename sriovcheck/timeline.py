"""Phase marks for speed work, off unless asked for.

With SRIOVCHECK_TIMELINE=1 in the environment, `mark("label")` prints one line to stderr:

    timeline   0.532 s  [MainThread] looks done

the seconds since the *process* started (the kernel's start time of this process, so the
interpreter's own start-up and the imports are counted too), the thread, and the label. The
benchmarks in benchmarks/RESULTS.md quote these lines, so anyone can re-measure them.
Without the variable, `mark` is one boolean test.
"""

from __future__ import annotations

import os
import sys
import threading
import time

ENV = "SRIOVCHECK_TIMELINE"
_ON = os.environ.get(ENV) == "1"


def _process_start() -> float:
    """This process's start on the CLOCK_BOOTTIME scale (seconds), from /proc/self/stat's
    starttime (clock ticks since boot); the time of the first call when that cannot be read."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.clock_gettime(time.CLOCK_BOOTTIME)


_START = _process_start() if _ON else 0.0


def enabled() -> bool:
    return _ON


def mark(label: str) -> None:
    if not _ON:
        return
    elapsed = time.clock_gettime(time.CLOCK_BOOTTIME) - _START
    sys.stderr.write(f"timeline {elapsed:7.3f} s  [{threading.current_thread().name}] {label}\n")
