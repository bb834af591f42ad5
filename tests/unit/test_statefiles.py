from __future__ import annotations

from pathlib import Path

import pytest

from sriovcheck.errors import StateError
from sriovcheck.statefiles import read_json, topology_lock, write_json_atomic


def test_second_run_is_refused_with_the_holder(tmp_path: Path) -> None:
    refused = r"another sriovcheck run holds the lock of topology 't1' \(pid \d+ \(provision\)\)"
    with topology_lock("t1", tmp_path, what="provision"), pytest.raises(StateError, match=refused), topology_lock("t1", tmp_path):
        pass
    # released: a new run gets it, and nothing is left behind
    with topology_lock("t1", tmp_path):
        pass
    assert not (tmp_path / "t1").exists()


def test_lock_file_stays_while_state_exists(tmp_path: Path) -> None:
    with topology_lock("t2", tmp_path):
        write_json_atomic(tmp_path / "t2" / "provision.json", {"a": 1})
    assert (tmp_path / "t2" / "lock").exists()
    assert read_json(tmp_path / "t2" / "provision.json") == {"a": 1}


def test_corrupt_state_file_says_what_to_do(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text('{"schema_version": 1, "vfs": [')
    with pytest.raises(StateError, match="is corrupt") as info:
        read_json(f)
    assert "mv" in (info.value.hint or "")
    assert read_json(tmp_path / "missing.json") is None
