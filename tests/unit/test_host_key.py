from __future__ import annotations

import json
from pathlib import Path

import pytest

from sriovcheck.errors import SwitchError
from sriovcheck.switch.hostkeys import KNOWN_SWITCHES, check_host_key


def test_first_use_records_then_a_change_fails(tmp_path: Path) -> None:
    check_host_key("ex-switch", "192.0.2.10", 22, "SHA256:aaa", root=tmp_path)
    assert json.loads((tmp_path / KNOWN_SWITCHES).read_text()) == {"192.0.2.10:22": "SHA256:aaa"}
    check_host_key("ex-switch", "192.0.2.10", 22, "SHA256:aaa", root=tmp_path)  # same key: fine
    changed = r"host key of switch ex-switch \(192.0.2.10:22\) changed: it was SHA256:aaa, it is now SHA256:bbb"
    with pytest.raises(SwitchError, match=changed) as e:
        check_host_key("ex-switch", "192.0.2.10", 22, "SHA256:bbb", root=tmp_path)
    assert "remove the entry" in (e.value.hint or "")
    # another switch is recorded separately
    check_host_key("ex-2", "192.0.2.11", 22, "SHA256:ccc", root=tmp_path)
    assert len(json.loads((tmp_path / KNOWN_SWITCHES).read_text())) == 2


def test_lab_expects_the_key_it_made(tmp_path: Path) -> None:
    check_host_key("ex", "127.0.0.1", 2222, "SHA256:x", expected="SHA256:x", root=tmp_path)
    with pytest.raises(SwitchError, match="but the lab made SHA256:x"):
        check_host_key("ex", "127.0.0.1", 2222, "SHA256:y", expected="SHA256:x", root=tmp_path)
    assert not (tmp_path / KNOWN_SWITCHES).exists()
