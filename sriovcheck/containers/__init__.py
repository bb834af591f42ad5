"""Containers: the runtime seam (runtime.py) and its docker SDK implementation (docker_runtime.py)."""

from __future__ import annotations

import os
import sys


def _import_docker_without_ssh() -> None:
    """Import docker's SDK without paramiko when the engine is not reached over ssh://.

    The SDK imports paramiko (with cryptography, nacl, bcrypt, invoke: ~150 modules, ~75 ms of CPU in
    every sriovcheck process) only for `ssh://` engines, and does without it when it cannot be imported
    (docker.transport catches the ImportError). On a rack, every host runs two sriovcheck processes, so
    this start-up cost counts; a process that needs paramiko later (netmiko, for the switch) imports it
    as usual."""
    if "docker" in sys.modules or "paramiko" in sys.modules or os.environ.get("DOCKER_HOST", "").startswith("ssh://"):
        return
    sys.modules["paramiko"] = None  # type: ignore[assignment]  # `import paramiko` -> ImportError, for this import only
    try:
        import docker  # noqa: F401
    except ImportError:
        pass  # reported where the SDK is used (containers.docker_runtime), as before
    finally:
        if sys.modules.get("paramiko", 0) is None:
            del sys.modules["paramiko"]


_import_docker_without_ssh()
