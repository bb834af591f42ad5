"""One exception root with a subclass per domain, and the process exit codes.

Exceptions mean "could not run". A check that ran and found a problem is a result
(`sriovcheck.verify.results.CheckResult`), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every command (documented in README.md)."""

    OK = 0  # success / every check passed
    CHECK_FAILED = 1  # a check failed or errored
    INVALID_INPUT = 2  # invalid topology file or command line
    ENVIRONMENT = 3  # environment, provisioning or lab error: the run could not start or complete
    INTERRUPTED = 130  # SIGINT / SIGTERM


class SriovcheckError(Exception):
    """Root of every error sriovcheck raises on purpose.

    `hint` tells the user what to do about it; the CLI prints it after the message.
    """

    exit_code: ExitCode = ExitCode.ENVIRONMENT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


@dataclass(frozen=True)
class Problem:
    """One problem in a topology file: where it is, what was found, what is allowed."""

    file: str
    line: int | None
    column: int | None
    path: str  # e.g. containers[1].vfs[0].vlan; "" for the whole document
    message: str

    def location(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"{self.location()}:{where} {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class TopologyError(SriovcheckError):
    """The topology file cannot be used; carries every problem found, not only the first."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems]
        n = len(problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the topology file"
        super().__init__(head + ":\n" + "\n".join(f"  {line}" for line in lines))


class UsageError(SriovcheckError):
    exit_code = ExitCode.INVALID_INPUT


class HostError(SriovcheckError):
    """The host (sysfs, netlink, namespaces) refused or lacks something."""


class SettingRefused(HostError):
    """The PF driver refused a VF setting (EOPNOTSUPP, EPROTONOSUPPORT, EINVAL ...): names the driver,
    PF, VF, the topology's setting and the kernel's answer."""

    def __init__(self, message: str, *, hint: str | None = None, driver: str, pf: str, vf: int, setting: str,
                 code: int) -> None:
        super().__init__(message, hint=hint)
        self.driver, self.pf, self.vf, self.setting, self.code = driver, pf, vf, setting, code


class ContainerError(SriovcheckError):
    """The container runtime (docker engine) failed or is unreachable."""


class SwitchError(SriovcheckError):
    """The switch could not be reached, logged into or read."""


class LabError(SriovcheckError):
    """The emulated lab could not be brought up, down or changed."""


class ProvisionError(SriovcheckError):
    """Provisioning failed part-way (what this run changed has been rolled back)."""


class StateError(SriovcheckError):
    """A state file is missing, unreadable, from another version, or locked by another run."""


class ReportError(SriovcheckError):
    """A report could not be written or read."""
