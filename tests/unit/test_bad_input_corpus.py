"""Every broken topology in tests/data/bad-topologies/ is refused by `sriovcheck validate` with exit 2,
a plain `error:` message naming the file, and the problem EXPECTED.json names (path, line, message),
quickly. Oversized inputs are made at test time; known product bugs are strict xfails."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriovcheck.cli import main
from sriovcheck.errors import TopologyError
from sriovcheck.topology import load_text, load_topology

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "bad-topologies"
SEED = ROOT / "topologies" / "seed-lab.yaml"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "EXPECTED.json").read_text())
# A deadline that catches a hang or a runaway read (minutes, memory), never a speed target: a loaded CI machine
# once took 5 s for what takes 0.4 s here. How fast validate refuses or reads a big file is measured in
# benchmarks/validate_bench.py; what "stops early" means is asserted by where it stops (the problem's column).
HANG_GUARD_S = 60.0


def validate(path: Path, capsys: pytest.CaptureFixture[str], *, json_out: bool = False) -> tuple[int, str, str, float]:
    out = io.StringIO()
    start = time.monotonic()
    code = main(["validate", str(path), *(["--json"] if json_out else [])], out=out)
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    return code, out.getvalue(), err, elapsed


def assert_refused(path: Path, capsys: pytest.CaptureFixture[str], *, problem_path: str | None, line: int | None,
                   message_regex: str) -> list[dict[str, Any]]:
    code, out, err, elapsed = validate(path, capsys)
    assert code == 2, (code, out, err)
    assert err.startswith("error:"), err
    assert "Traceback" not in err and "internal error" not in err, err
    assert str(path) in err, err
    assert elapsed < HANG_GUARD_S, f"validate took {elapsed:.1f}s"

    code, out, err, elapsed = validate(path, capsys, json_out=True)
    assert code == 2 and elapsed < HANG_GUARD_S, (code, elapsed, err)
    report = json.loads(out)
    assert report["valid"] is False
    problems: list[dict[str, Any]] = report["problems"]
    assert problems and all(p["file"] == str(path) for p in problems)
    matching = [p for p in problems
                if (problem_path is None or p["path"] == problem_path) and p["line"] == line
                and re.search(message_regex, p["message"])]
    assert matching, f"want path={problem_path!r} line={line} /{message_regex}/; got " + json.dumps(problems, indent=1)
    return problems


def test_corpus_is_complete_and_every_file_has_an_expectation() -> None:
    on_disk = {p.name for p in CORPUS.iterdir()} - {"EXPECTED.json"}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 45
    for name, e in EXPECTED.items():
        assert set(e) <= {"path", "line", "message_regex", "xfail"}, name
        re.compile(e["message_regex"])


def _cases() -> list[Any]:
    out = []
    for name, e in sorted(EXPECTED.items()):
        marks = [pytest.mark.xfail(strict=True, reason=e["xfail"])] if "xfail" in e else []
        out.append(pytest.param(name, e, marks=marks, id=name))
    return out


@pytest.mark.parametrize(("name", "expected"), _cases())
def test_corpus_file_is_refused_with_its_problem(name: str, expected: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    problems = assert_refused(CORPUS / name, capsys, problem_path=expected["path"], line=expected["line"],
                              message_regex=expected["message_regex"])
    # every problem is located: a path (maybe "" for the whole file) and a line unless the file cannot be read at all
    for p in problems:
        assert isinstance(p["path"], str)
        assert p["line"] is None or p["line"] >= 1


def test_shell_and_junos_metacharacters_are_shown_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    # A refused name is echoed with repr(): no raw newline can forge a second output line
    code, _, err, _ = validate(CORPUS / "vlan-name-newline.yaml", capsys)
    assert code == 2
    assert "'SRIOV_200\\nrequest system reboot'" in err
    assert not any(line.startswith("request system reboot") for line in err.splitlines())


# --------------------------------------------------------------------------- oversized inputs, made at test time

def seed_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(SEED.read_text())
    return doc


def _vlans(n: int, first: int = 1) -> list[dict[str, Any]]:
    return [{"id": v, "name": f"V{v}", "subnet": f"10.{v // 256}.{v % 256}.0/24", "gateway": f"10.{v // 256}.{v % 256}.1",
             "l3_interface": f"vlan.{v}"} for v in range(first, first + n)]


def test_five_megabyte_file_is_refused_by_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "five-megabytes.yaml"
    f.write_text(SEED.read_text() + ("# " + "x" * 98 + "\n") * 52_000)
    assert f.stat().st_size > 5_000_000
    assert_refused(f, capsys, problem_path="", line=None, message_regex=r"at most 4194304 bytes")


def test_five_thousand_vlans_with_ids_above_4094(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = seed_doc()
    doc["vlans"] += _vlans(5000, first=1000)
    f = tmp_path / "5000-vlans.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    line = f.read_text().splitlines().index("vlans:") + 1
    assert_refused(f, capsys, problem_path="vlans", line=line, message_regex=r"at most 4094 items")


def test_ten_thousand_character_container_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "long-name.yaml"
    f.write_text(SEED.read_text().replace("name: test-200", "name: " + "a" * 10_000))
    problems = assert_refused(f, capsys, problem_path="containers[0].name", line=33,
                              message_regex=r"^'a{77}\.\.\.' is not a valid docker container name")
    # the message quotes a prefix, not the whole 10,000 characters
    assert all(len(p["message"]) < 400 for p in problems)


def _run_guarded(path: Path, *, seconds: float = HANG_GUARD_S) -> tuple[int | None, str, str]:
    """`sriovcheck validate --json` in a child with a deadline and a 2 GiB address-space cap, so that a
    hang or a runaway read costs this test seconds, not the machine's memory."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    try:
        proc = subprocess.run([sys.executable, "-m", "sriovcheck", "validate", str(path), "--json"], capture_output=True,
                              text=True, timeout=seconds, preexec_fn=limit, check=False)
    except subprocess.TimeoutExpired:
        return None, "", f"still running after {seconds}s"
    return proc.returncode, proc.stdout, proc.stderr


def test_flat_list_under_the_size_limit_is_refused_fast(tmp_path: Path) -> None:
    # 2 million scalars in 4 MB: the node budget must stop composing early (it once took ~35 s)
    f = tmp_path / "flat-list.yaml"
    n = (4 * 1024 * 1024 - 100) // 2
    f.write_text("x: [" + "1," * (n - 1) + "1]\n")
    code, out, err = _run_guarded(f)
    assert code == 2, err
    [problem] = json.loads(out)["problems"]
    assert problem["line"] == 1 and "more than 100000 nodes" in problem["message"]
    # refused at the 100,001st node (the mapping, its key, the list, then 99,998 items of "1,"), not at the
    # end of the 2 million: composing stopped there
    assert problem["column"] == len("x: [") + 2 * 99_998 - 1


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
def test_the_node_budget_stops_at_the_same_node_with_or_without_libyaml(libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml counts the nodes fast when it is there; the pure-Python composer's own count is the fallback
    import sriovcheck.topology.load as load

    if libyaml and not yaml.__with_libyaml__:
        pytest.fail("PyYAML without libyaml: the fast node count is never used; install PyYAML's wheel")
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    monkeypatch.setattr(load, "MAX_NODES", 50)
    with pytest.raises(TopologyError) as err:
        load_text("name: n\nx:\n" + "".join(f"  - {{a: {i}}}\n" for i in range(40)), file="t.yaml")
    [problem] = err.value.problems
    # nodes: the mapping, 2 for name, the key x, the list, then 3 per item: the 51st is item 15's mapping
    assert (problem.line, problem.column) == (3 + 15, 5), problem


def _every_topology_text() -> list[Any]:
    texts = [pytest.param(p.read_text(), id=f"topologies/{p.name}") for p in sorted((ROOT / "topologies").glob("*.yaml"))]
    texts += [pytest.param(p.read_text(errors="replace"), id=f"bad/{p.name}") for p in sorted(CORPUS.iterdir())
              if p.name != "EXPECTED.json" and p.stat().st_size < 1_000_000]
    # well-formed for libyaml's parser, refused by the composer: libyaml's messages leave the name out
    texts += [pytest.param("name: x\nhost: *nope\n", id="undefined-alias"),
              pytest.param("a: &x 1\nb: &x 2\nname: *x\n", id="duplicate-anchor")]
    return texts


@pytest.mark.parametrize("text", _every_topology_text())
def test_libyaml_and_the_pure_python_composer_give_the_same_topology_marks_and_problems(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml composes a document it read without a syntax error (4x faster at 4094 VLANs); what the user sees -
    # the model, every line:column, every problem - must not depend on whether libyaml is installed
    def load(libyaml: bool) -> Any:
        monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
        try:
            loaded = load_text(text, file="t.yaml")
        except TopologyError as exc:
            return list(exc.problems)
        return loaded.topology.model_dump(), loaded.marks

    assert load(True) == load(False)


def test_largest_allowed_vlan_list_validates_fast(tmp_path: Path) -> None:
    # 4094 VLANs is the model's maximum; an O(n^2) subnet-overlap check once took ~7.5 s here
    doc = seed_doc() | {"vlans": _vlans(4094)}
    doc["containers"][0]["vfs"][0].update(vlan=200, address="10.0.200.2/24")
    doc["containers"][1]["vfs"][0].update(vlan=201, address="10.0.201.2/24")
    f = tmp_path / "4094-vlans.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, err = _run_guarded(f)
    assert code == 0, err
    assert json.loads(out)["vlans"] == 4094


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_non_regular_file_as_topology_is_refused(kind: str, tmp_path: Path) -> None:
    # /dev/zero was once read until memory ran out, and a FIFO without a writer blocked forever
    path = Path("/dev/zero")
    if kind == "fifo":
        path = tmp_path / "topology.yaml"
        os.mkfifo(path)
    code, out, err = _run_guarded(path)
    assert code == 2, err
    [problem] = json.loads(out)["problems"]
    assert problem["file"] == str(path) and "not a regular file" in problem["message"]


# --------------------------------------------------------------------------- what must be accepted

def test_json_topology_validates_like_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "seed-lab.json"
    f.write_text(json.dumps(seed_doc(), indent=2))
    code, out, err, _ = validate(f, capsys, json_out=True)
    assert code == 0, err
    assert json.loads(out) | {"sha256": ""} == {"valid": True, "topology": "seed-lab", "sha256": "", "pfs": 1, "vlans": 2,
                                                 "containers": 2, "vfs": 2}


def test_utf8_bom_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bom.yaml"
    f.write_bytes(b"\xef\xbb\xbf" + SEED.read_bytes())
    assert validate(f, capsys)[0] == 0


@pytest.mark.parametrize("written", ["02:AA:BB:CC:DD:EE", "02-aa-bb-cc-dd-ee", "02aa.bbcc.ddee", "'02:Aa:bB:cc:DD:ee'"])
def test_mac_spellings_are_accepted_and_normalised(written: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mac.yaml"
    f.write_text(SEED.read_text().replace("address: 192.168.200.2/24\n", f"address: 192.168.200.2/24\n        mac: {written}\n"))
    code, _, err, _ = validate(f, capsys)
    assert code == 0, err
    assert load_topology(f).topology.containers[0].vfs[0].mac == "02:aa:bb:cc:dd:ee"


# --------------------------------------------------------------------------- once accepted, or refused badly

def test_unquoted_decimal_looking_mac(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # YAML 1.1 reads 52:54:00:12:34:56 (QEMU's prefix) as the base-60 integer 41135085296; it is a MAC
    f = tmp_path / "mac.yaml"
    f.write_text(SEED.read_text().replace("address: 192.168.200.2/24\n", "address: 192.168.200.2/24\n        mac: 52:54:00:12:34:56\n"))
    code, _, err, _ = validate(f, capsys)
    assert code == 0, err
    assert load_topology(f).topology.containers[0].vfs[0].mac == "52:54:00:12:34:56"


def test_host_network_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # with network: host, "moving the VF into the container" would rename and address it on the host itself
    f = tmp_path / "host-network.yaml"
    f.write_text(SEED.read_text().replace("network: bridge", "network: host", 1))
    code, out, _, _ = validate(f, capsys, json_out=True)
    assert code == 2
    [problem] = json.loads(out)["problems"]
    assert problem["path"] == "containers[0].network" and problem["line"] == 35
    assert "network 'host' is refused" in problem["message"]


@pytest.mark.parametrize(("old", "new", "path"), [
    ("numvfs: 8", "numvfs: true", "host.pfs[0].numvfs"),
    ("        vf: 1\n", "        vf: yes\n", "containers[1].vfs[0].vf"),
    ("subnet: 192.168.200.0/24", "subnet: true", "vlans[0].subnet"),
])
def test_boolean_is_not_an_integer(old: str, new: str, path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # pydantic's lax mode took True as 1 (numvfs: true was 1 VF) and even as an address (subnet: true was 0.0.0.1/32)
    f = tmp_path / "bool.yaml"
    f.write_text(SEED.read_text().replace(old, new, 1))
    code, out, _, _ = validate(f, capsys, json_out=True)
    assert code == 2
    assert any(p["path"] == path and "is a boolean here" in p["message"] for p in json.loads(out)["problems"]), out


def test_control_characters_in_keys_cannot_forge_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "escape.yaml"
    f.write_text(SEED.read_text().replace("  port: 22\n", '  port: 22\n  "x\\e[2J\\nseed-lab.yaml:1:1: all good": 1\n'))
    code, _, err, _ = validate(f, capsys)
    assert code == 2
    assert "\x1b" not in err
    assert not any(line.startswith("seed-lab.yaml:1:1") for line in err.splitlines())
    assert "switch.x\\x1b[2J\\nseed-lab.yaml:1:1: all good: unknown key" in err
