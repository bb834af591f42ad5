"""sriovcheck_command: run one sriovcheck command on the host, its input on stdin, with no module.

    - sriovcheck_command:
        argv: [/opt/sriovcheck/bin/sriovcheck, fleet, traffic, "-"]
        stdin: "{{ topology_text }}"

What `ansible.builtin.command` with `argv` and `stdin` does, minus the module: the command module is a
Python program that Ansible starts on the host for every task (its interpreter and module_utils),
which then starts the command - on an emulated rack of 16 hosts that module run cost 0.5-0.7 CPU-s per
host and task on a 2-core machine (measured against `raw`: 0.05), as much as a sriovcheck command
itself. This action runs the command line over the host's connection directly, as `raw` does, but
with the task's stdin, `environment` and `become` (the connection's own privilege escalation), and
returns what the command module returns (rc, stdout, stderr and their lines, cmd).

The command line is the argv, each element quoted with shlex.quote (nothing is interpolated into a
shell command: the elements are paths and options from the playbook's variables). Every element
must be a non-empty string without NUL or line breaks. A non-zero rc fails the task unless
`failed_when` says otherwise. `stdout_lines: false` leaves stdout_lines out: a host's verify prints
its results.json (~150 KB, ~4,000 lines at 4 VFs), and the list of its lines is carried from the worker
to the controller and kept for every host (at 16 hosts ~1 s of the run, measured). Check mode: skipped.
It needs a POSIX shell on the host, as `raw` does, and pipelining-capable connections (local, ssh) for
stdin.
"""

from __future__ import annotations

import shlex
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("argv", "stdin", "stdout_lines"))
    _supports_check_mode = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        if self._task.check_mode:
            result.update(skipped=True, changed=False, msg="sriovcheck_command does not run in check mode")
            return result
        argv = self._task.args.get("argv")
        if not isinstance(argv, list) or not argv:
            raise AnsibleActionFail("sriovcheck_command: argv must be a non-empty list of strings")
        words = []
        for i, arg in enumerate(argv):
            if not isinstance(arg, str) or not arg or any(c in arg for c in "\x00\r\n"):
                raise AnsibleActionFail(f"sriovcheck_command: argv[{i}] must be a non-empty one-line string, not {arg!r}")
            words.append(shlex.quote(str(arg)))  # str(): Ansible's tagged strings stay out of the command line
        stdin = self._task.args.get("stdin")
        if stdin is not None and not isinstance(stdin, str):
            raise AnsibleActionFail("sriovcheck_command: stdin must be a string")
        lines = self._task.args.get("stdout_lines", True)
        if not isinstance(lines, bool):
            raise AnsibleActionFail("sriovcheck_command: stdout_lines must be true or false")
        env = self._compute_environment_string()
        cmd = " ".join(words)
        if env:
            cmd = f"{env} {cmd}"
        data = None if stdin is None else str(stdin).encode("utf-8")
        out = self._low_level_execute_command(cmd, sudoable=True, in_data=data)
        rc = int(out.get("rc", 1))
        stdout = str(out.get("stdout", "")).rstrip("\n")
        stderr = str(out.get("stderr", "")).rstrip("\n")
        result.update(
            rc=rc, stdout=stdout, stderr=stderr, stderr_lines=stderr.splitlines(),
            cmd=[str(a) for a in argv], changed=True, failed=rc != 0,
        )
        if lines:
            result["stdout_lines"] = stdout.splitlines()
        if rc != 0:
            result["msg"] = f"non-zero return code {rc}"
        return result
