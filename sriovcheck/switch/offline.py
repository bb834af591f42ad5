"""`--switch-output DIR`: a SwitchSession that answers commands from saved outputs instead of SSH.

Outputs are saved one file per command under `saved_output_name(command)`, e.g.
show_ethernet-switching_table.xml and show_arp_no-resolve.txt (see commands.SAVED_OUTPUT_FILES),
or scoped to a PF's port or an L3 interface, e.g. show_ethernet-switching_table_interface_ge-0_0_1.xml
and show_arp_no-resolve_interface_vlan.200.xml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sriovcheck.errors import SwitchError
from sriovcheck.parsers.tables import ParseError
from sriovcheck.switch import platforms
from sriovcheck.switch.client import SwitchFacts
from sriovcheck.switch.commands import saved_output_name


class SavedOutputSwitch:
    """Reads `DIR/<saved_output_name(command)>` for each command; never logs in anywhere."""

    def __init__(self, directory: str | Path, *, platform: str | None = None) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SwitchError(
                f"saved switch outputs: {self.directory} is not a directory",
                hint="pass --switch-output a directory holding files such as show_ethernet-switching_table.xml",
            )
        p = platforms.get(platform)
        facts = SwitchFacts(source=f"files:{self.directory}", platform=p.name, os_name=p.os_name)
        for command in p.version().commands:
            version_file = self.directory / saved_output_name(command)
            if not version_file.is_file():
                continue
            try:
                info = p.parse_version(self._read(version_file, command))
            except ParseError:
                continue
            facts = SwitchFacts(
                hostname=info.hostname, model=info.model, junos_version=info.os_version,
                source=facts.source, platform=p.name, os_name=p.os_name,
            )
            break
        self.facts = facts

    def _read(self, path: Path, command: str) -> str:
        try:
            # Outputs copied from terminals are not always clean UTF-8; a stray byte must not stop a run.
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise SwitchError(
                f"cannot read the saved output of `{command}` from {path}: {exc.strerror or exc}",
                hint="check the file's permissions",
            ) from exc

    def has(self, command: str) -> bool:
        """Whether DIR holds the saved output of `command` (verify reads scoped files when they
        are there, the whole tables otherwise)."""
        try:
            return (self.directory / saved_output_name(command)).is_file()
        except ValueError:
            return False

    def run(self, command: str) -> str:
        try:
            name = saved_output_name(command)
        except ValueError as exc:
            raise SwitchError(f"saved switch outputs: {exc}") from exc
        path = self.directory / name
        if not path.is_file():
            raise SwitchError(
                f"no saved output for `{command}` in {self.directory}: looked for {name}",
                hint=f"save the switch's output of `{command}` as {path}",
            )
        return self._read(path, command)

    def close(self) -> None:
        return None


# A saved-output directory written by one read for a group of hosts (`sriovcheck fleet switch-read`) also
# holds session.json: when, and by which single session, the switch was read.
SESSION_FILE = "session.json"


def session_facts(directory: Path) -> dict[str, Any]:
    """What a host's results.json says about shared evidence: when it was read and by which session.
    Empty when `directory` holds no session.json (outputs saved by hand)."""
    try:
        data = json.loads((directory / SESSION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    listed = data.get("hosts")
    hosts: list[Any] = listed if isinstance(listed, list) else []
    return {
        "evidence_read_at": str(data.get("read_started") or ""),
        "evidence_read_until": str(data.get("read_finished") or ""),
        "evidence_session": str(data.get("session") or ""),
        "evidence_by": str(data.get("by") or ""),
        "evidence_hosts": len(hosts),
    }
