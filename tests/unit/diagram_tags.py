"""Where the diagram's root-cause tags sit, read back from the SVG: each tag names the part it marks
(`data-part`), and `assert_beside` holds that the tag is drawn at that part's label, not elsewhere."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_TAG = re.compile(
    r'<g class="cause-tag" data-causes="([^"]*)" data-part="([^"]*)"><title>([^<]*)</title>'
    r'<rect x="([-\d.]+)" y="([-\d.]+)"'
)
_TEXT = re.compile(r'<text x="([-\d.]+)" y="([-\d.]+)"[^>]*>(?:<title>[^<]*</title>)?([^<]*)</text>')


@dataclass(frozen=True)
class Tag:
    ids: str
    part: str
    title: str
    x: float
    y: float


def cause_tags(page: str) -> dict[str, Tag]:
    """part ("port ge-0/0/2", "vlan 200", "pf eno2", "row c/eth1", "vf c/eth1", "switch") -> its tag."""
    out = {}
    for ids, part, title, x, y in _TAG.findall(page):
        out[html.unescape(part)] = Tag(html.unescape(ids), html.unescape(part), html.unescape(title), float(x), float(y))
    return out


def _texts(page: str) -> list[tuple[float, float, str]]:
    return [(float(x), float(y), html.unescape(t)) for x, y, t in _TEXT.findall(page)]


def assert_beside(page: str, part: str) -> Tag:
    """The tag of `part` exists and is drawn at that part's own label (within a box's reach)."""
    tags = cause_tags(page)
    assert part in tags, f"no root-cause tag on {part}: {sorted(tags)}"
    tag = tags[part]
    what, _, name = part.partition(" ")
    texts = _texts(page)

    def near(pred: object, *, dx: float = 12, dy: float = 40) -> list[tuple[float, float, str]]:
        return [t for t in texts if pred(t[2]) and abs(t[0] - tag.x) <= dx and abs(t[1] - tag.y) <= dy]  # type: ignore[operator]

    if what == "switch":
        assert tag.y < 20 and any(t[2].startswith("Switch ") and t[1] < 40 for t in texts)
    elif what == "port":
        assert near(lambda s: s == name), f"tag of {part} at ({tag.x}, {tag.y}) is not at that port's box"
    elif what == "pf":
        assert near(lambda s: s == f"PF {name}"), f"tag of {part} is not at that PF's box"
    elif what == "vlan":
        assert near(lambda s: s == f"VLAN {name}" or s.startswith(f"VLAN {name} ")), f"tag of {part} is not at that VLAN's box"
    elif what in ("row", "vf"):
        container = name.rsplit("/", 1)[0]
        rows = [t for t in texts if t[2] == container and t[0] < 40]
        assert any(0 < tag.y - t[1] <= 30 for t in rows), f"tag of {part} is not on {container}'s row"
        if what == "vf":
            assert near(lambda s: s.startswith("VF "), dx=12, dy=30), f"tag of {part} is not at the VF chip"
        else:
            assert tag.x < 40
    else:
        raise AssertionError(f"unknown part {part}")
    return tag
