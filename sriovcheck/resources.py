"""Files that ship with sriovcheck: the jinja2 templates of the top-level templates/ folder,
packaged into the wheel as sriovcheck/templates/."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def find_template_dir(template: str) -> tuple[Path | None, Path]:
    """The folder that holds `template`: the installed wheel's sriovcheck/templates, else the
    checkout's top-level templates/. Returns (folder or None, the checkout folder looked in)."""
    try:
        packaged = importlib.resources.files("sriovcheck") / "templates"
        if isinstance(packaged, Path) and (packaged / template).is_file():
            return packaged, packaged
    except (ModuleNotFoundError, OSError):
        pass
    checkout = Path(__file__).resolve().parents[1] / "templates"
    return (checkout if (checkout / template).is_file() else None), checkout
