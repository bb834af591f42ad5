"""The fleet playbook's `sriovcheck_command` action (ansible/action_plugins/sriovcheck_command.py),
through a real ansible-playbook on this machine (`local` connection): every argv element reaches the
command as one literal argument (quotes, spaces, `$(...)` and `;` are never run by the shell), stdin
arrives byte for byte, the task's `environment` is set, rc/stdout/stderr come back as the command
module returns them, a non-zero rc fails the task unless `failed_when` says otherwise, and a bad argv
is refused before anything runs. Become over real SSH is covered by test_fleet_ssh.py (the fleet
playbook's two per-host tasks use this action).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).with_name("ansible-playbook")
ECHO = "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'stdin': sys.stdin.read(), 'env': os.environ.get('SC_T')}))"


def play(tmp_path: Path, tasks: list[dict[str, object]]) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    if not ANSIBLE.exists():
        if os.environ.get("CI"):
            pytest.fail("ansible-playbook is missing in CI: install the test extra (ansible-core)")
        pytest.skip("needs ansible-core (the test extra)")
    out = tmp_path / "registered.json"
    book = [{"hosts": "all", "gather_facts": False, "vars": {"ansible_pipelining": True}, "tasks": [
        *tasks,
        {"ansible.builtin.copy": {"content": "{{ {'r': r | default(none)} | to_json }}", "dest": str(out)}},
    ]}]
    # The action is found beside the playbook, as the fleet playbook finds it.
    book_dir = tmp_path / "ansible"
    book_dir.mkdir()
    (book_dir / "action_plugins").symlink_to(ROOT / "ansible" / "action_plugins")
    (book_dir / "play.yml").write_text(yaml.safe_dump(book))
    inventory = {"all": {"hosts": {"h1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t"), "ANSIBLE_REMOTE_TEMP": str(tmp_path / "t")}
    done = subprocess.run([str(ANSIBLE), "-i", str(tmp_path / "inventory.yml"), str(book_dir / "play.yml")],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    return done, (json.loads(out.read_text()) if out.exists() else {})


def test_argv_is_literal_stdin_and_environment_arrive(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    tricky = ["a b", "it's", f"$(touch {canary})", f"; touch {canary}", "`id`", "*", "--flag=x y"]
    done, got = play(tmp_path, [{
        "sriovcheck_command": {"argv": [sys.executable, "-c", ECHO, *tricky], "stdin": "line 1\n{\"json\": true}\n\u00e9"},
        "environment": {"SC_T": "from the task"}, "register": "r"}])
    assert done.returncode == 0, done.stdout + done.stderr
    r = got["r"]
    assert isinstance(r, dict)
    assert r["rc"] == 0 and r["changed"] is True and r["stderr"] == ""
    seen = json.loads(str(r["stdout"]))
    assert seen == {"argv": tricky, "stdin": "line 1\n{\"json\": true}\n\u00e9", "env": "from the task"}
    assert r["stdout_lines"] == [r["stdout"]]
    assert r["cmd"][3:] == tricky
    assert not canary.exists()  # nothing of an argument was run by the shell


def test_a_nonzero_rc_fails_unless_failed_when_allows_it(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    done, got = play(tmp_path, [{"sriovcheck_command": {"argv": [sys.executable, "-c", code]}, "register": "r",
                                 "failed_when": "r.rc not in [0, 3]"}])
    assert done.returncode == 0, done.stdout + done.stderr
    r = got["r"]
    assert isinstance(r, dict)
    assert (r["rc"], r["stdout"], r["stderr"], r["stderr_lines"]) == (3, "out", "err", ["err"])
    plain = tmp_path / "plain"
    plain.mkdir()
    done, _ = play(plain, [{"sriovcheck_command": {"argv": [sys.executable, "-c", code]}}])
    assert done.returncode == 2
    assert "non-zero return code 3" in done.stdout


def test_stdout_lines_can_be_left_out_of_a_big_result(tmp_path: Path) -> None:
    # the fleet playbook's verify prints a results.json of ~4,000 lines per host: its lines are not kept
    code = "print('\\n'.join(str(n) for n in range(5000)))"
    done, got = play(tmp_path, [{"sriovcheck_command": {"argv": [sys.executable, "-c", code], "stdout_lines": False},
                                 "register": "r"}])
    assert done.returncode == 0, done.stdout + done.stderr
    r = got["r"]
    assert isinstance(r, dict)
    assert "stdout_lines" not in r and str(r["stdout"]).splitlines() == [str(n) for n in range(5000)]
    bad = tmp_path / "bad"
    bad.mkdir()
    done, _ = play(bad, [{"sriovcheck_command": {"argv": [sys.executable, "-c", code], "stdout_lines": "no"}}])
    assert done.returncode == 2
    assert "stdout_lines must be true or false" in done.stdout, done.stdout


@pytest.mark.parametrize("argv", [[], "sriovcheck verify", ["sriovcheck", "two\nlines"], ["sriovcheck", ""]])
def test_a_bad_argv_is_refused_before_anything_runs(tmp_path: Path, argv: object) -> None:
    done, _ = play(tmp_path, [{"sriovcheck_command": {"argv": argv}}])
    assert done.returncode == 2
    assert "sriovcheck_command: argv" in done.stdout, done.stdout
