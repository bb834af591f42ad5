"""A fleet run without file transfers per host: the topology and the switch evidence reach the host's
command on stdin (`fleet traffic -`, `fleet verify - --switch-output -`), the results come back on its
stdout, and `fleet-report --collect DIR` writes each host's results.json and report from them on the
controller. Bad input on stdin is refused whole with a clear message and exit 2, before anything is
written."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sriovcheck.cli import main
from sriovcheck.errors import UsageError
from sriovcheck.fleet.evidence import SESSION_FILE, json_bundle_files, read_group, unpack_json_bundle, write_json_bundle
from sriovcheck.fleet.example import rack_host_topology
from sriovcheck.report.writer import write_reports
from sriovcheck.topology import load_text
from sriovcheck.verify.results import RunResults
from sriovcheck.workflow import topology_of

DATA = Path(__file__).resolve().parents[1] / "data"


class _Stdin(io.TextIOWrapper):
    """A stdin holding these bytes (sriovcheck reads its .buffer)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(text.encode() if isinstance(text, str) else text))


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def _bundle(files: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"format": "sriovcheck-switch-evidence", "version": 1, "switch": "tor-a",
                           "files": files if files is not None else {"show_version.txt": "Junos: 21.4R3\n",
                                                                     SESSION_FILE: '{"session": "s1"}\n'}}
    doc.update(over)
    return doc


# ---------------------------------------------------------------- the evidence as JSON


class _Live:
    """A switch session answering every command with its own name (as read_group needs)."""

    def __init__(self) -> None:
        from sriovcheck.switch.client import SwitchFacts

        self.facts = SwitchFacts(source="ssh", hostname="tor-a", model="qfx5120", junos_version="21.4R3", host_key_fingerprint="SHA256:x")

    def run(self, command: str) -> str:
        return f"output of {command}\n"

    def close(self) -> None:
        return None


def test_json_bundle_carries_exactly_what_the_read_saved(tmp_path: Path) -> None:
    topo = load_text(rack_host_topology(1), file="h1.yaml").topology
    read = read_group(_Live, switch="tor-a", topologies=[topo], directory=tmp_path / "ev" / "tor-a")
    path = write_json_bundle(tmp_path / "ev" / "tor-a")
    assert path == tmp_path / "ev" / "tor-a.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == "sriovcheck-switch-evidence" and doc["version"] == 1
    saved = {p.name: p.read_text() for p in (tmp_path / "ev" / "tor-a").iterdir()}
    assert doc["files"] == saved and sorted(saved) == sorted([*read.files.values(), SESSION_FILE])
    # On the host: unpacked into a directory of its own; outputs of an earlier read there are removed first.
    on_host = tmp_path / "report" / "switch-evidence"
    on_host.mkdir(parents=True)
    (on_host / "show_arp_no-resolve.txt").write_text("stale: from an earlier read\n")
    unpack_json_bundle(doc, on_host, "stdin")
    assert {p.name: p.read_text() for p in on_host.iterdir()} == saved


@pytest.mark.parametrize(("bundle", "says"), [
    ([1, 2], "a JSON object was expected, not list"),
    (_bundle(format="something-else"), "its \"format\" is 'something-else'"),
    (_bundle(version=2), "this sriovcheck reads version 1"),
    (_bundle(files={}), "at least one file"),
    (_bundle(files=["show_version.txt"]), "file name -> text"),
    (_bundle(files={"../etc/passwd": "x"}), "file name '../etc/passwd' is not a saved switch output"),
    (_bundle(files={"sub/show_version.txt": "x"}), "is not a saved switch output"),
    (_bundle(files={".hidden.txt": "x"}), "file name '.hidden.txt'"),
    (_bundle(files={"show_version.txt": 42}), "file 'show_version.txt' is not text"),
])
def test_a_bad_bundle_is_refused_whole_before_anything_is_written(tmp_path: Path, bundle: object, says: str) -> None:
    good_first = {"show_arp_no-resolve.txt": "fine\n"}
    if isinstance(bundle, dict) and isinstance(bundle.get("files"), dict) and bundle["files"]:
        bundle["files"] = {**good_first, **bundle["files"]}
    with pytest.raises(UsageError) as err:
        unpack_json_bundle(bundle, tmp_path / "into", "stdin (--switch-output -)")
    assert says in err.value.message and err.value.message.startswith("stdin (--switch-output -): ")
    assert "fleet switch-read" in (err.value.hint or "")
    assert not (tmp_path / "into").exists()


def test_json_bundle_files_accepts_the_bundle_as_written() -> None:
    assert json_bundle_files(_bundle(), "x") == _bundle()["files"]


# ---------------------------------------------------------------- the topology on stdin, read once


def test_topology_dash_is_read_from_stdin_once_and_names_stdin_in_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, rack_host_topology(3))
    args = argparse.Namespace(topology="-")
    first = topology_of(args)
    assert first.topology.name == "node03" and first.file == "<stdin>"
    monkeypatch.setattr(sys, "stdin", _Stdin(b""))  # a second read would find stdin empty
    assert topology_of(args) is first

    _stdin(monkeypatch, "name: x\nhost: [\n")
    code, _ = run("fleet", "traffic", "-")
    assert code == 2


def test_empty_or_binary_stdin_is_bad_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, "")
    assert run("fleet", "traffic", "-")[0] == 2
    assert "stdin is empty: a topology (YAML) was expected there" in capsys.readouterr().err
    _stdin(monkeypatch, b"\xff\xfe\x00name")
    assert run("fleet", "traffic", "-")[0] == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


# ---------------------------------------------------------------- fleet verify: evidence (and topology) on stdin


@pytest.mark.parametrize(("stdin", "says"), [
    ("{not json", "stdin (TOPOLOGY - and --switch-output -): not valid JSON"),
    ('["topology"]', "a JSON object with \"topology\" (the YAML text) and \"switch_output\""),
    ('{"topology": "name: x"}', "a JSON object with \"topology\""),
    ('{"topology": 1, "switch_output": {}}', "a JSON object with \"topology\""),
    (json.dumps({"topology": rack_host_topology(1), "switch_output": {}, "extra": 1}), "unknown key(s) extra"),
    (json.dumps({"topology": "name: [", "switch_output": _bundle()}), "<stdin: topology>"),
    (json.dumps({"topology": rack_host_topology(1), "switch_output": _bundle(version=9)}), "reads version 1"),
])
def test_fleet_verify_refuses_bad_stdin_with_exit_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, says: str,
) -> None:
    _stdin(monkeypatch, stdin)
    code, out = run("fleet", "verify", "-", "--switch-output", "-", "--report-dir", str(tmp_path / "report"), "--json")
    assert code == 2 and out == ""
    assert says in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_fleet_verify_from_stdin_needs_a_report_dir(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, json.dumps({"topology": rack_host_topology(1), "switch_output": _bundle()}))
    assert run("fleet", "verify", "-", "--switch-output", "-")[0] == 2
    assert "give --report-dir too" in capsys.readouterr().err


# ---------------------------------------------------------------- fleet-report --collect


def _results_text(host: str, source: str = "seed-lab-pass") -> str:
    data = json.loads((DATA / "results" / f"{source}.json").read_text())
    data["host"]["name"] = host
    return RunResults.from_dict(data).to_json()


def test_collect_writes_each_hosts_files_from_stdin_and_merges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = tmp_path / "fleet"
    texts = {"compute-01": _results_text("node01"), "compute-02": _results_text("node02", "lab-b-fail")}
    # As Ansible registers a command's stdout: the trailing newline stripped.
    _stdin(monkeypatch, json.dumps({h: t.rstrip("\n") for h, t in texts.items()}))
    code, out = run("fleet-report", "--collect", str(fleet / "hosts"), "--host-files", "report.html,junit.xml",
                    "--html", str(fleet / "index.html"), "--json", str(fleet / "summary.json"))
    assert code == 1  # compute-02 failed
    for host, text in texts.items():
        got = fleet / "hosts" / host
        assert (got / "results.json").read_text() == text  # byte for byte what the host wrote
        page = (got / "report.html").read_text()
        assert page.startswith("<!DOCTYPE html>") and json.loads(text)["host"]["name"] in page
        assert "<testsuite" in (got / "junit.xml").read_text()
    html = (fleet / "index.html").read_text()
    assert 'href="hosts/compute-01/report.html"' in html and 'href="hosts/compute-02/report.html"' in html
    summary = json.loads((fleet / "summary.json").read_text())
    assert summary["hosts_failed"] == ["node02"] and summary["hosts_passed"] == 1
    assert "fleet verdict: FAIL  (1 of 2 hosts passed)" in out

    # A host given as null (its verify did not run in this play) is read from its results.json as written.
    (fleet / "hosts" / "compute-01" / "report.html").unlink()
    _stdin(monkeypatch, json.dumps({"compute-01": None}))
    code, out = run("fleet-report", "--collect", str(fleet / "hosts"), "--json", str(fleet / "summary.json"))
    assert code == 0 and "fleet verdict: PASS  (1 of 1 hosts passed)" in out
    assert not (fleet / "hosts" / "compute-01" / "report.html").exists()  # nothing re-rendered for it


def test_collect_default_files_are_results_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, json.dumps({"h1": json.loads(_results_text("node01"))}))  # an object works as well as text
    assert run("fleet-report", "--collect", str(tmp_path))[0] == 0
    assert sorted(p.name for p in (tmp_path / "h1").iterdir()) == ["report.html", "results.json"]


@pytest.mark.parametrize(("argv", "stdin", "says"), [
    ((), '{"../../etc": null}', "host name '../../etc' cannot name a folder"),
    ((), '{"a/b": null}', "host name 'a/b' cannot name a folder"),
    ((), '{"..": null}', "host name '..' cannot name a folder"),
    ((), "[]", "stdin must be a JSON object of host name -> results.json"),
    ((), "{}", "with at least one host"),
    ((), "{nope", "stdin is not valid JSON"),
    ((), '{"h1": "{\\"schema_version\\": 99}"}', "stdin[h1]: results schema_version 99"),
    ((), '{"h1": "not json"}', "stdin[h1]:1:1: not valid JSON"),
    ((), '{"h1": null}', "host h1 has no results on stdin (null) and no"),
    (("--host-files", "report.html,secrets.txt"), '{"h1": null}', "--host-files: secrets.txt is not a host report file"),
    (("x/results.json",), '{"h1": null}', "give results.json files or --collect, not both"),
])
def test_collect_refuses_bad_input_with_exit_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...], stdin: str, says: str,
) -> None:
    good = json.dumps(_results_text("node01"))
    _stdin(monkeypatch, stdin.replace("{", '{"ok": ' + good + ", ", 1) if stdin.startswith('{"') else stdin)
    code, _ = run("fleet-report", *argv, "--collect", str(tmp_path / "hosts"), "--html", str(tmp_path / "index.html"))
    err = capsys.readouterr().err
    assert code == 2 and says in err, err
    assert not (tmp_path / "hosts" / "ok").exists() and not (tmp_path / "index.html").exists()


def test_fleet_report_needs_files_or_collect(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("fleet-report")[0] == 2
    assert "give at least one results.json (or --collect DIR" in capsys.readouterr().err


# ---------------------------------------------------------------- the host's own report dir without HTML


def test_write_reports_without_html_removes_a_stale_page(tmp_path: Path) -> None:
    results = RunResults.from_json(_results_text("node01"))
    (tmp_path / "report.html").write_text("an earlier run's page")
    paths = write_reports(results, tmp_path, html=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "results.json"]
    assert paths.results_json.read_text() == results.to_json()
    write_reports(results, tmp_path)
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- start-up: docker's SDK without paramiko


def test_docker_sdk_is_imported_without_paramiko_unless_the_engine_is_ssh() -> None:
    probe = "import sys, sriovcheck.containers.docker_runtime as d; print('paramiko' in sys.modules, d.docker.__name__)"
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    local = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert local.stdout.split() == ["False", "docker"]
    ssh = subprocess.run([sys.executable, "-c", probe], env={**env, "DOCKER_HOST": "ssh://ops@engine"},
                         capture_output=True, text=True, check=True)
    assert ssh.stdout.split() == ["True", "docker"]
    # ... and a later `import paramiko` (netmiko, for the switch) still works in the same process.
    later = subprocess.run(
        [sys.executable, "-c", "import sriovcheck.containers.docker_runtime, paramiko; print(paramiko.SSHClient.__name__)"],
        env=env, capture_output=True, text=True, check=True)
    assert later.stdout.strip() == "SSHClient"


def test_the_fleet_report_starts_without_the_host_container_and_switch_machinery(tmp_path: Path) -> None:
    # the controller's fleet-report only reads results: docker's SDK, pyroute2 and netmiko were ~0.35 s of its start
    stdin = json.dumps({"compute-01": _results_text("node01").rstrip("\n")})
    probe = ("import sys; from sriovcheck.cli import main; code = main(sys.argv[1:]); "
             "print(code, sorted(m for m in ('docker', 'pyroute2', 'netmiko', 'sriovcheck.workflow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe, "fleet-report", "--collect", str(tmp_path / "hosts"),
                           "--json", str(tmp_path / "summary.json")], input=stdin, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["hosts_passed"] == 1


def test_reports_without_html_are_written_without_the_template_engine(tmp_path: Path) -> None:
    # each host's `fleet verify --no-html` writes results.json and junit.xml: jinja2 was ~40 ms of its start,
    # the page's and the diagram's modules (their view classes) ~20 ms more
    probe = ("import sys, json; from pathlib import Path; from sriovcheck.report.writer import write_reports; "
             "from sriovcheck.verify.results import RunResults; "
             "write_reports(RunResults.from_dict(json.loads(sys.stdin.read())), Path(sys.argv[1]), html=sys.argv[2] == 'html'); "
             "print([m in sys.modules for m in ('jinja2', 'sriovcheck.report.html', 'sriovcheck.report.diagram')], "
             "sorted(p.name for p in Path(sys.argv[1]).iterdir()))")
    for html, expected in ((False, "[False, False, False] ['junit.xml', 'results.json']"),
                           (True, "[True, True, True] ['junit.xml', 'report.html', 'results.json']")):
        out = tmp_path / str(html)
        done = subprocess.run([sys.executable, "-c", probe, str(out), "html" if html else "no"],
                              input=_results_text("node01"), capture_output=True, text=True, check=True)
        assert done.stdout.strip() == expected, done.stdout + done.stderr


def test_fleet_traffic_names_each_vf_as_verify_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # traffic takes its VFs from the topology itself (verify's expectations import every switch platform);
    # what it says of each VF must still name it as verify's checks do
    import types

    import sriovcheck.workflow as workflow
    from sriovcheck.verify.checks import expectations

    loaded = load_text(rack_host_topology(3, vfs=4), file="host3.yaml")
    pinged: list[dict[str, Any]] = []
    asked: list[str] = []

    class Runtime:
        def get(self, name: str) -> Any:
            asked.append(name)
            return types.SimpleNamespace(netns_path=f"/proc/1/ns/net#{name}")

    class Netns:
        def ping_many(self, requests: list[dict[str, Any]]) -> list[Any]:
            pinged.extend(requests)  # the second VF gets no answer
            return [types.SimpleNamespace(received=0 if i == 1 else 1) for i in range(len(requests))]

    monkeypatch.setattr(workflow, "build_context", lambda *a, **k: types.SimpleNamespace(runtime=Runtime(), netns=Netns()))
    monkeypatch.setattr(workflow, "topology_of", lambda args: loaded)
    code, out = run("fleet", "traffic", "host3.yaml", "--json")
    targets = [e.target for e in expectations(loaded.topology)]
    assert code == 1
    assert json.loads(out) == {"answered": [t for i, t in enumerate(targets) if i != 1], "unanswered": [targets[1]], "not_running": []}
    assert [(r["ifname"], r["dst"]) for r in pinged] == [(e.ifname, e.gateway) for e in expectations(loaded.topology)]
    assert {r["timeout_s"] for r in pinged} == {loaded.topology.checks.ping.timeout_s}
    assert asked == [c.name for c in loaded.topology.containers]  # one docker inspect per container, not per VF
