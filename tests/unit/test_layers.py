"""The package's layers: every import, at the top of a module or inside a function, points down.

A newcomer reads the tree bottom-up: the topology file's model and names; the parsers, the host and
the container drivers; the switch session and provisioning; verification; the reports; the emulated
lab; the workflow that wires drivers to engines; what drives the workflow (the VM lab, a rack at
once); the command line. A module may import its own layer and the layers below it, never above:
an import up would make a lower part depend on the parts built on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sriovcheck"

LAYERS: list[tuple[str, ...]] = [
    ("errors", "crashpoints", "resources", "statefiles", "stdin", "timeline", "topology"),
    ("parsers", "host", "containers"),
    ("switch", "provision"),
    ("verify", "preflight"),
    ("report",),
    ("lab",),
    ("workflow",),
    ("vmlab", "fleet"),
    ("cli", "__main__", "entry"),
]
LAYER = {part: i for i, parts in enumerate(LAYERS) for part in parts}
# Imports up that are known and due to go (file -> module); keep this empty.
KNOWN_UP: set[tuple[str, str]] = set()


def _part(module: str) -> str:
    """sriovcheck.switch.platforms.junos -> switch; sriovcheck.workflow -> workflow."""
    return module.split(".")[1]


def _imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every sriovcheck import in `source`, wherever it stands."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("sriovcheck."):
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.module == "sriovcheck":
            out.extend((node.lineno, f"sriovcheck.{a.name}") for a in node.names if a.name in LAYER)  # not __version__
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names if a.name.startswith("sriovcheck."))
    return out


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert parts - {"__init__"} == set(LAYER), "a new part of sriovcheck/ needs its place in LAYERS"


def test_every_import_points_down() -> None:
    up = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        mine = ".".join(rel.with_suffix("").parts)
        if mine == "sriovcheck.__init__":
            continue
        for line, module in _imports(path.read_text()):
            if LAYER[_part(module)] > LAYER[_part(mine)] and (str(rel), module) not in KNOWN_UP:
                up.append(f"{rel}:{line} imports {module} ({_part(mine)} is below {_part(module)})")
    assert up == []


def test_the_checker_sees_an_import_up_inside_a_function() -> None:
    src = "import os\n\ndef f():\n    from sriovcheck.workflow import cmd_run\n    from sriovcheck import fleet, __version__\n"
    found = _imports(src)
    assert found == [(4, "sriovcheck.workflow"), (5, "sriovcheck.fleet")]
    assert all(LAYER[_part(m)] > LAYER["topology"] for _, m in found)
