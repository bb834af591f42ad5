from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "topologies" / "seed-lab.yaml"


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text()


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # No test may read or write the host's real /var/lib/sriovcheck.
    monkeypatch.setenv("SRIOVCHECK_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    yield
