"""Topology locations: a path into the document (("containers", 1, "vfs", 0, "vf")), its display form
(`containers[1].vfs[0].vf`) and the closest line for it. Used by the loader and by the semantic rules."""

from __future__ import annotations

PathKey = tuple[str | int, ...]


def _safe(part: str) -> str:
    # A key is user text: never let it put terminal escapes or forged lines on stderr.
    if part.isprintable() and len(part) <= 80:
        return part
    shown = part.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 80 else shown[:77] + "..."


def format_path(loc: PathKey) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _safe(str(part))
    return out


def mark_for(marks: dict[PathKey, tuple[int, int]], loc: PathKey) -> tuple[int | None, int | None]:
    """The closest line for a location: the node itself, else its nearest existing parent."""
    probe = tuple(loc)
    while True:
        if probe in marks:
            return marks[probe]
        if not probe:
            return (None, None)
        probe = probe[:-1]
