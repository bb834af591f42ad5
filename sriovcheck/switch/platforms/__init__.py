"""The switch platforms sriovcheck speaks, by the topology's `switch.platform` (netmiko's device_type)."""

from __future__ import annotations

from sriovcheck.switch.platforms.base import Platform, Read
from sriovcheck.switch.platforms.eos import EOS
from sriovcheck.switch.platforms.junos import JUNOS
from sriovcheck.switch.platforms.nxos import NXOS

PLATFORMS: dict[str, Platform] = {p.name: p for p in (JUNOS, EOS, NXOS)}
DEFAULT = JUNOS.name


def get(name: str | None) -> Platform:
    """The platform named `name` (None: Junos, the seed's). KeyError names the ones there are."""
    if name is None:
        return JUNOS
    try:
        return PLATFORMS[name]
    except KeyError:
        raise KeyError(f"unknown switch platform {name!r}; known: {', '.join(PLATFORMS)}") from None


# The keys of a results.json `switch` section that say which OS answered (the last: before platforms).
RESULT_KEYS = ("platform", "os_name", "os_version", "junos_version")


def reported_os(switch: dict[str, object]) -> tuple[str | None, str | None]:
    """(OS name, OS version) from a results.json `switch` section, old (before platforms) or new."""
    version = switch.get("os_version", switch.get("junos_version"))
    name = switch.get("os_name") or (PLATFORMS[str(switch["platform"])].os_name if switch.get("platform") in PLATFORMS else None)
    if name is None and version:
        name = JUNOS.os_name
    return (str(name) if name else None, str(version) if version else None)


__all__ = ["DEFAULT", "PLATFORMS", "RESULT_KEYS", "Platform", "Read", "get", "reported_os"]
