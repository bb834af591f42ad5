"""An Ansible callback for benchmarks/rack_bench.py: wall clock per task (from its start until its last
host finished) and per host, written as JSON to $TASKCLOCK_OUT when the play ends. ansible-core has no
profile_tasks (that is in the ansible.posix collection); this is the part of it the benchmark needs."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: taskclock
type: aggregate
short_description: wall clock per task and per host, as JSON
description: Writes the total and, per task, its start and each host's start, end and status as JSON to $TASKCLOCK_OUT.
"""


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "taskclock"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.t0 = time.monotonic()
        self.tasks: list[dict[str, Any]] = []
        self.started: dict[tuple[str, str], float] = {}

    def _now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self.tasks.append({"task": task.get_name(), "start": self._now(), "hosts": {}})

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        self.started[(host.get_name(), task._uuid)] = self._now()

    def _end(self, result: Any, status: str) -> None:
        host = result._host.get_name()
        if self.tasks:
            self.tasks[-1]["hosts"][host] = [self.started.get((host, result._task._uuid), self._now()), self._now(), status]

    def v2_runner_on_ok(self, result: Any) -> None:
        self._end(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._end(result, "failed")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._end(result, "skipped")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._end(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        out = os.environ.get("TASKCLOCK_OUT")
        if out:
            with open(out, "w") as fh:
                json.dump({"total": self._now(), "tasks": self.tasks}, fh, indent=1)
