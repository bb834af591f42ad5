"""Switch host keys without a known_hosts file: trusted on first use, recorded, and a change on a
later run is a failure, never a silent accept."""

from __future__ import annotations

from pathlib import Path

from sriovcheck.errors import SwitchError
from sriovcheck.statefiles import read_json, state_root, write_json_atomic

KNOWN_SWITCHES = "known-switches.json"


def check_host_key(
    name: str, host: str, port: int, fingerprint: str | None, *, expected: str | None = None, root: Path | None = None
) -> None:
    """Without a known_hosts file, the switch's host key is trusted on first use and recorded;
    a different key on a later run is a failure, never a silent accept (a man in the middle, or a
    replaced switch that someone must confirm). In the lab, the key the lab made is expected."""
    if fingerprint is None:
        raise SwitchError(f"switch {name} ({host}:{port}) presented no host key fingerprint", hint="report this as a bug")
    if expected is not None:
        if fingerprint != expected:
            raise SwitchError(
                f"the host key of switch {name} ({host}:{port}) is {fingerprint}, but the lab made {expected}",
                hint="something else answers on the lab's port; run `sriovcheck lab down` and `lab up`",
            )
        return
    path = (root or state_root()) / KNOWN_SWITCHES
    known = read_json(path) or {}
    key = f"{host}:{port}"
    recorded = known.get(key)
    if recorded is None:
        write_json_atomic(path, {**known, key: fingerprint})
    elif recorded != fingerprint:
        raise SwitchError(
            f"the host key of switch {name} ({key}) changed: it was {recorded}, it is now {fingerprint}",
            hint=f"if the switch was really replaced or re-keyed, remove the entry {key!r} from {path} (or set "
            "switch.known_hosts); otherwise something may be intercepting the session",
        )
