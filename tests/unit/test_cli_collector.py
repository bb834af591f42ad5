"""The sriovcheck process runs its command without the cyclic collector (main_entry: 10-17 % of a
command's CPU went to walking a heap that lives to the end); main() called in-process - tests, or a
program that embeds sriovcheck - keeps its collector as it was."""

from __future__ import annotations

import gc
import io
import subprocess
import sys
import textwrap

from sriovcheck.cli import main


def test_the_command_process_runs_without_the_cyclic_collector() -> None:
    code = textwrap.dedent("""
        import atexit, gc, sys
        from sriovcheck import cli
        seen = []
        real = cli.main
        def main(*a, **k):
            seen.append(gc.isenabled())  # while the command runs
            return real(*a, **k)
        cli.main = main
        atexit.register(lambda: print("collector on during the command:", seen))
        sys.argv = ["sriovcheck", "--version"]
        cli.main_entry()
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "sriovcheck" in done.stdout + done.stderr  # the command ran: --version printed
    assert "collector on during the command: [False]" in done.stdout


def test_main_called_in_process_leaves_the_collector_as_it_was() -> None:
    assert gc.isenabled()
    out = io.StringIO()
    assert main(["--version"], out=out) == 0
    assert gc.isenabled()
