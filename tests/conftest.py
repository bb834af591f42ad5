from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "topologies" / "seed-lab.yaml"


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text()
