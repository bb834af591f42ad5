"""A full disk under the state directory: provision fails with a clear error (what could not be
written, where, how much room is left), exit 3, the host unchanged and no temporary file left, both
when the product's own state write fails and when the lab's does (the lab records its intent before
it changes the emulated NIC). The state root (the product's and the lab's) is a small tmpfs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lab_helpers import Lab, cleanup, make_lab, run

pytestmark = pytest.mark.integration

PAGE = 4096


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("needs root") if os.environ.get("CI") == "true" else pytest.skip("needs root")
    base = tmp_path_factory.mktemp("fulldisk")
    run("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(base))
    try:
        lab = make_lab(base, prefix="ffd")
        # 32 VFs on the PF: the lab's state (every VF of the PF) then needs more room than the product's
        # (the two attached VFs), so that some fill level lets the product's writes through and stops the
        # lab's. With the seed's 8 VFs the lab writes its state in fewer pages than the product (one-line
        # JSON) and a full disk only ever stops the product's write first.
        text = lab.path.read_text()
        assert "numvfs: 8\n" in text
        lab.path.write_text(text.replace("numvfs: 8\n", "numvfs: 32\n"))
        r = lab.cli("lab", "up", "TOPOLOGY")
        assert r.code == 0, r.text
        lab_state = lab.state_root / lab.name / "lab" / "state.json"
        assert lab_state.stat().st_size > 2 * PAGE, lab_state.stat().st_size
        try:
            yield lab
        finally:
            (base / "filler").unlink(missing_ok=True)
            problems = cleanup(lab)
            assert not problems, problems
    finally:
        subprocess.run(["umount", str(base)], check=False)


def fill(base: Path, leave: int) -> None:
    """Fill the tmpfs until `leave` bytes are free."""
    filler = base / "filler"
    filler.unlink(missing_ok=True)
    st = os.statvfs(base)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    st = os.statvfs(base)
    assert abs(st.f_bavail * st.f_frsize - leave) <= PAGE, (st.f_bavail * st.f_frsize, leave)


def picture(lab: Lab) -> dict[str, Any]:
    vfs = lab.vfs()
    return {"host_links": lab.host_links(), "containers": lab.containers_seen(),
            "vfs": {i: (v["netdev"], v["where"], v["config"], v["nic_bridge"]) for i, v in vfs.items()}}


def temp_files(lab: Lab) -> list[str]:
    d = lab.state_root / lab.name
    return sorted(str(p) for p in d.rglob(".*") if p.is_file() and p.name != ".lock")


def test_full_disk_is_a_clear_error_with_the_host_unchanged(lab: Lab, docker_required: None) -> None:
    base = lab.path.parent
    before = picture(lab)
    seen: dict[str, int] = {}
    for pages in range(0, 6):
        fill(base, pages * PAGE)
        r = lab.cli("provision", "TOPOLOGY", "--lab")
        (base / "filler").unlink()
        if r.code == 0:
            seen["provisioned"] = pages
            t = lab.cli("teardown", "TOPOLOGY", "--lab")
            assert t.code == 0, t.text
        else:
            assert r.code == 3, r.text
            assert "internal error" not in r.text and "Traceback" not in r.text, r.text
            assert "No space left on device" in r.text and " free in " in r.text, r.text
            assert "rollback incomplete" not in r.text and "undoing this run's changes failed" not in r.text, r.text
            which = "lab state" if "cannot write lab state" in r.text else "product state"
            seen.setdefault(which, pages)
            assert not lab.provision_state.exists(), r.text
        assert picture(lab) == before, f"{pages} pages free: {r.text}"
        assert temp_files(lab) == [], f"{pages} pages free: {r.text}"
        if "provisioned" in seen:
            break
    # Both writers met the full disk: the product's state (or lock) and the lab's own.
    assert "product state" in seen and "lab state" in seen, seen
