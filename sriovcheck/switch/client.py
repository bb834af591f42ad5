"""The switch seam: one session per switch per run, all commands over it.

Implementations: `sriovcheck.switch.netmiko_client.NetmikoSwitch` (real SSH via netmiko, also
used against the emulated lab's Junos CLI) and `sriovcheck.switch.offline.SavedOutputSwitch`
(`--switch-output DIR`: saved outputs instead of a login).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class SwitchFacts:
    hostname: str | None = None
    model: str | None = None
    junos_version: str | None = None  # the OS version as the switch reports it (named before other platforms)
    host_key_fingerprint: str | None = None  # SHA256:... of the SSH host key, when logged in over SSH
    source: str = "ssh"  # "ssh" or "files:<dir>"
    platform: str = "juniper_junos"  # switch.platform (netmiko's device_type)
    os_name: str = "Junos"  # Junos, EOS, NX-OS

    @property
    def os_version(self) -> str | None:
        return self.junos_version


@runtime_checkable
class SwitchSession(Protocol):
    facts: SwitchFacts

    def run(self, command: str) -> str:
        """Run one operational command and return its output (echo and prompt stripped).
        Raise SwitchError when the session fails or the command times out."""
        ...

    def close(self) -> None: ...


def type_ahead(session: SwitchSession, commands: list[str]) -> None:
    """Let a session that can type ahead (NetmikoSwitch.prefetch) send `commands` in one round trip;
    their run() calls then return at once. Sessions without it (saved outputs) answer each run() as
    before, and the commands' order, their outputs and their errors are the same either way."""
    prefetch = getattr(session, "prefetch", None)
    if callable(prefetch) and commands:
        prefetch(commands)
