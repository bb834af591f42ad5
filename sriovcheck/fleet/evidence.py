"""One switch login per switch for a whole group of hosts.

The controller logs into each switch once, reads in that one session what every host of the group
needs (the MAC and ARP tables, the L3 interfaces of their VLANs, each host's port, port membership,
LLDP, the version), and saves the outputs in sriovcheck's saved-output format (README, "Offline
verification") with a `session.json` that says when and by which session they were read. Each host
then verifies with `--switch-output DIR`: its host-side checks run on the host, its switch-side
checks against the saved evidence, and its results.json and report say where that evidence came from.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sriovcheck.errors import SwitchError, UsageError
from sriovcheck.switch import commands as K
from sriovcheck.switch import platforms
from sriovcheck.switch.client import SwitchSession, type_ahead
from sriovcheck.switch.offline import SESSION_FILE, session_facts
from sriovcheck.topology.model import Topology

Progress = Callable[[str], None]
__all__ = ["SESSION_FILE", "group_commands", "read_group", "session_facts", "unpack_bundle", "unpack_json_bundle", "write_bundle",
           "write_json_bundle"]


def group_commands(topologies: list[Topology]) -> list[str]:
    """Every command the hosts' verification reads from their switch, once, in a stable order, as
    the switch's platform words them: structured output and text of the tables (structured is read
    first offline; text is the fallback), then what the acceptance checks read: membership, LLDP,
    the L3 interfaces' MACs and each host's port."""
    p = platforms.get(topologies[0].switch.platform if topologies else None)
    reads = [p.version(), p.mac_table(), p.arp_table(), p.port_vlans(), p.lldp_neighbors()]
    reads += [r for r, _ in p.l3_macs(sorted({v.l3_interface for t in topologies for v in t.vlans}))]
    reads += [p.interface(port) for port in sorted({pf.switch_port for t in topologies for pf in t.host.pfs})]
    return list(dict.fromkeys(c for r in reads for c in r.commands))


@dataclass
class SwitchRead:
    switch: str
    directory: Path
    session: str
    read_started: str
    read_finished: str
    hosts: list[str]
    files: dict[str, str] = field(default_factory=dict)  # command -> file
    failed: dict[str, str] = field(default_factory=dict)  # command -> why

    def as_dict(self) -> dict[str, Any]:
        return {
            "switch": self.switch, "directory": str(self.directory), "session": self.session,
            "read_started": self.read_started, "read_finished": self.read_finished, "hosts": self.hosts,
            "files": self.files, "failed": self.failed,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_group(
    session_factory: Callable[[], SwitchSession],
    *,
    switch: str,
    topologies: list[Topology],
    directory: Path,
    progress: Progress = lambda _m: None,
) -> SwitchRead:
    """Log in once, run every command the group needs, save each output, close. A command the switch
    refuses is recorded in session.json and left out (the hosts' checks then say the output is missing);
    a login that fails raises (nothing can be verified against this switch)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():  # evidence of an earlier read must never pass for this one's
        if stale.is_file() and (stale.suffix in (".txt", ".xml", ".json") or stale.name == SESSION_FILE):
            stale.unlink()
    session_id = f"fleet-{secrets.token_hex(4)}@{socket.gethostname()}"
    started = _now()
    progress(f"switch {switch}: one login for {len(topologies)} host(s)")
    live = session_factory()
    result = SwitchRead(switch, directory, session_id, started, "", [t.name for t in topologies])
    facts: dict[str, Any] = {}
    try:
        facts = {"hostname": live.facts.hostname, "model": live.facts.model, "junos_version": live.facts.junos_version,
                 "host_key_fingerprint": live.facts.host_key_fingerprint}
        wanted = group_commands(topologies)
        type_ahead(live, wanted)  # one round trip for the lot, not one per command (~50 at 16 hosts)
        for command in wanted:
            try:
                output = live.run(command)
            except SwitchError as exc:
                result.failed[command] = exc.message
                continue
            name = K.saved_output_name(command)
            _write(directory / name, output)
            result.files[command] = name
    finally:
        live.close()
    result.read_finished = _now()
    record = {**result.as_dict(), "switch_facts": facts, "by": _by()}
    record.pop("directory")
    _write(directory / SESSION_FILE, json.dumps(record, indent=2) + "\n")
    progress(f"switch {switch}: {len(result.files)} outputs saved in {directory} (session {session_id})")
    return result


def _by() -> str:
    try:
        import getpass

        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# ---------------------------------------------------------------- one file per switch, for the hosts
# Ansible copies a directory file by file, one module run per file and host: with 16 hosts and ~30
# outputs that was most of a fleet run. The read's outputs therefore also travel as one tar file per
# switch, which `fleet verify --switch-output FILE.tar` unpacks on the host.

BUNDLE_SUFFIX = ".tar"
MAX_BUNDLE_MEMBER = 64 * 1024 * 1024
_FLAT_NAME = re.compile(r"[A-Za-z0-9_][^/\\\x00]{0,254}")


def write_bundle(directory: Path) -> Path:
    """`DIR.tar` beside `DIR`: its outputs and session.json, flat, nothing else."""
    path = directory.with_name(directory.name + BUNDLE_SUFFIX)
    tmp = path.with_name(f".{path.name}.tmp")
    with tarfile.open(tmp, "w") as tar:
        for item in sorted(directory.iterdir()):
            if item.is_file() and not item.is_symlink() and _FLAT_NAME.fullmatch(item.name):
                tar.add(item, arcname=item.name, recursive=False)
    os.replace(tmp, path)
    return path


def unpack_bundle(bundle: Path, into: Path) -> Path:
    """Unpack a bundle written by `write_bundle` into `into` (made if missing; outputs of an earlier
    read there are removed first, so that they never pass for this read's). Only plain files with
    flat names are accepted: a bundle with anything else is refused whole, before anything is written."""
    try:
        with tarfile.open(bundle, "r") as tar:
            members = tar.getmembers()
            for m in members:
                if not m.isfile() or not _FLAT_NAME.fullmatch(m.name) or m.size > MAX_BUNDLE_MEMBER:
                    raise UsageError(
                        f"{bundle}: member {m.name!r} is not a saved switch output (plain file, flat name, at most 64 MiB)",
                        hint="give the .tar that `sriovcheck fleet switch-read` wrote, or a directory of saved outputs",
                    )
            contents = []
            for m in members:
                data = tar.extractfile(m)
                contents.append((m.name, data.read() if data is not None else b""))
    except (OSError, tarfile.TarError) as exc:
        raise UsageError(f"cannot read the switch evidence bundle {bundle}: {exc}",
                         hint="give the .tar that `sriovcheck fleet switch-read` wrote") from exc
    into.mkdir(parents=True, exist_ok=True)
    for stale in into.iterdir():
        if stale.is_file() and (stale.suffix in (".txt", ".xml") or stale.name == SESSION_FILE):
            stale.unlink()
    for name, blob in contents:
        tmp = into / f".{name}.tmp"
        tmp.write_bytes(blob)
        os.replace(tmp, into / name)
    return into


# ---------------------------------------------------------------- the same as JSON, for stdin
# A fleet run hands each host its switch's evidence on the stdin of `fleet verify` (no file-transfer task
# per host): one JSON object, which the controller reads as text and passes on unchanged.

JSON_BUNDLE_SUFFIX = ".json"
JSON_BUNDLE_FORMAT = "sriovcheck-switch-evidence"
JSON_BUNDLE_HINT = "give what `sriovcheck fleet switch-read` wrote to DIR/<switch>.json (or DIR/<switch>.tar, or DIR/<switch>/)"


def write_json_bundle(directory: Path) -> Path:
    """`DIR.json` beside `DIR`: {"format", "version", "files": {name: text}} of its outputs and session.json."""
    files = {}
    for item in sorted(directory.iterdir()):
        if item.is_file() and not item.is_symlink() and _FLAT_NAME.fullmatch(item.name):
            files[item.name] = item.read_text(encoding="utf-8", errors="replace")
    path = directory.with_name(directory.name + JSON_BUNDLE_SUFFIX)
    _write(path, json.dumps({"format": JSON_BUNDLE_FORMAT, "version": 1, "switch": directory.name, "files": files}) + "\n")
    return path


def json_bundle_files(bundle: object, source: str) -> dict[str, str]:
    """The files of a JSON bundle (parsed already), every one checked: a bundle with anything else
    than flat names and text of at most 64 MiB each is refused whole (UsageError, exit 2)."""
    def bad(what: str) -> UsageError:
        return UsageError(f"{source}: {what}; not the switch evidence that `fleet switch-read` writes", hint=JSON_BUNDLE_HINT)

    if not isinstance(bundle, dict):
        raise bad(f"a JSON object was expected, not {type(bundle).__name__}")
    if bundle.get("format") != JSON_BUNDLE_FORMAT:
        raise bad(f"its \"format\" is {bundle.get('format')!r}, not {JSON_BUNDLE_FORMAT!r}")
    if bundle.get("version") != 1:
        raise bad(f"its \"version\" is {bundle.get('version')!r}; this sriovcheck reads version 1")
    files = bundle.get("files")
    if not isinstance(files, dict) or not files:
        raise bad("its \"files\" is not an object of file name -> text with at least one file")
    for name, text in files.items():
        if not _FLAT_NAME.fullmatch(name) or name.startswith("."):
            raise bad(f"file name {name!r} is not a saved switch output (flat name, no folder)")
        if not isinstance(text, str):
            raise bad(f"file {name!r} is not text")
        if len(text) > MAX_BUNDLE_MEMBER:
            raise bad(f"file {name!r} is larger than 64 MiB")
    return files


def unpack_json_bundle(bundle: object, into: Path, source: str) -> Path:
    """Write a JSON bundle's files into `into` (made if missing; outputs of an earlier read there are
    removed first, so that they never pass for this read's). Checked whole before anything is written."""
    files = json_bundle_files(bundle, source)
    into.mkdir(parents=True, exist_ok=True)
    for stale in into.iterdir():
        if stale.is_file() and (stale.suffix in (".txt", ".xml", ".json")):
            stale.unlink()
    for name, text in files.items():
        _write(into / name, text)
    return into
