"""The product talks to the kernel through netlink, to docker through its SDK and to the switch
through netmiko: no shell, no `ip`/`docker`/`ssh` commands. The only process sriovcheck starts
is its own Junos emulator (this Python, a fixed module, no shell)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sriovcheck"
ALLOWED_SUBPROCESS = {"lab/manager.py", "vmlab/qemu.py"}  # the Junos emulator; QEMU for the VM lab
FORBIDDEN_CALLS = {("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execvp"), ("os", "spawnv"), ("pty", "spawn")}


def modules() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    return files


def test_no_shell_anywhere() -> None:
    for f in modules():
        tree = ast.parse(f.read_text(), filename=str(f))
        rel = f.relative_to(PACKAGE).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "shell":
                raise AssertionError(f"{rel}:{node.value.lineno}: shell= is never allowed")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (node.value.id, node.attr) in FORBIDDEN_CALLS:
                raise AssertionError(f"{rel}:{node.lineno}: {node.value.id}.{node.attr} is not allowed")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(n.split(".")[0] in ("subprocess", "pexpect", "sh") for n in names):
                    assert rel in ALLOWED_SUBPROCESS, f"{rel}:{node.lineno}: imports {names}; use netlink, the docker SDK or netmiko"


def test_the_one_process_it_starts_is_its_own_emulator() -> None:
    source = (PACKAGE / "lab" / "manager.py").read_text()
    tree = ast.parse(source)
    popens = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "Popen"]
    assert len(popens) == 1
    argv = ast.unparse(popens[0].args[0])
    assert argv.startswith("[sys.executable, '-m', SWITCHD_MODULE"), argv
    assert "SWITCHD_MODULE = 'sriovcheck.lab.switchd'" in ast.unparse(tree)


def test_the_vm_lab_starts_only_qemu() -> None:
    tree = ast.parse((PACKAGE / "vmlab" / "qemu.py").read_text())
    popens = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "Popen"]
    assert len(popens) == 1
    assert ast.unparse(popens[0].args[0]) == "argv"
    builder = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "qemu_argv")
    assert "qemu, '-accel', 'tcg'" in ast.unparse(builder)
