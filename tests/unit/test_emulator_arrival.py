"""The Junos emulator answers the command lines that arrive in one read from one look at the switch."""

from __future__ import annotations

from typing import Any

from sriovcheck.lab.junos.server import _ArrivalSource
from sriovcheck.lab.junos.view import ServerFaults


class CountingSource:
    def __init__(self) -> None:
        self.looks = 0

    def snapshot(self) -> Any:
        self.looks += 1
        return ("snapshot", self.looks)

    def faults(self) -> ServerFaults:
        return ServerFaults(garble=True)


def test_lines_that_arrived_together_share_one_look() -> None:
    src = CountingSource()
    s = _ArrivalSource(src)
    s.arrived(True)
    assert s.snapshot() is s.snapshot() is s.snapshot()
    assert src.looks == 1
    s.arrived(True)  # the next read of the channel (a poll after a pause): a fresh look
    assert s.snapshot() == ("snapshot", 2)
    assert src.looks == 2


def test_a_line_on_its_own_always_sees_the_live_switch() -> None:
    src = CountingSource()
    s = _ArrivalSource(src)
    assert s.snapshot() != s.snapshot()  # before any read: no holding
    s.arrived(False)
    assert s.snapshot() == ("snapshot", 3)
    assert s.snapshot() == ("snapshot", 4)
    assert s.faults().garble  # faults are always read live
