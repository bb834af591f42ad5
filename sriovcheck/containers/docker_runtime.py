"""`ContainerRuntime` over the docker SDK (the engine's HTTP API on its socket; no `docker` CLI)."""

from __future__ import annotations

import contextlib
import os
import posixpath
import time
from collections.abc import Callable
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from sriovcheck.containers.runtime import LABEL_MANAGED, LABEL_TOPOLOGY, ContainerInfo
from sriovcheck.errors import ContainerError

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
CLIENT_TIMEOUT_S = 60
# Used when an image's own command is just a shell (busybox, debian, alpine ...), which would
# exit at once without a terminal and take the namespace the VF lives in with it.
KEEPALIVE_COMMAND = ["sleep", "2147483647"]
_SHELLS = {"sh", "ash", "bash", "dash", "zsh"}
_SPECIAL_NETWORKS = {"none", "bridge", "host"}

ClientFactory = Callable[[], Any]  # -> docker.DockerClient (the SDK is untyped)


def default_client() -> Any:
    return docker.from_env(timeout=CLIENT_TIMEOUT_S)


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def unreachable(exc: BaseException | None = None) -> ContainerError:
    detail = f" ({exc})" if exc is not None else ""
    return ContainerError(
        f"docker engine not reachable at {docker_host()}{detail}",
        hint="start it: dockerd, or systemctl start docker",
    )


def _info(container: Any) -> ContainerInfo:
    state = container.attrs.get("State") or {}
    running = bool(state.get("Running"))
    pid = int(state.get("Pid") or 0)
    config = container.attrs.get("Config") or {}
    return ContainerInfo(
        name=container.name,
        id=container.id,
        image=str(config.get("Image") or ""),
        running=running,
        pid=pid if running and pid > 0 else None,
        labels=dict(config.get("Labels") or {}),
    )


def _explain(exc: APIError) -> str:
    return str(exc.explanation or exc)


class DockerRuntime:
    """Docker engine access for sriovcheck. Connects lazily, on first use."""

    def __init__(
        self,
        client_factory: ClientFactory | None = None,
        *,
        settle_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        bare_none: bool = False,
    ) -> None:
        """`settle_s`: after a start, keep watching that long for a container that exits at
        once (a command that is not long-running). 0 checks once: fast, but a container
        that dies a few ms later is only noticed when its namespace is used.

        `bare_none` (the emulated lab): a container on network `none` is also created with docker's
        networking disabled. It still gets a network namespace of its own with `lo` up (all a VF
        needs), but no libnetwork sandbox: dockerd runs no setkey hook process for it and writes
        no /etc/hosts or resolv.conf (measured: 0.27 instead of 0.45 CPU-s per container created,
        started and removed; on an emulated rack every host's containers share the one machine).
        A real host's `none` containers keep docker's files: a workload may read them."""
        self._factory = client_factory or default_client
        self._client: Any = None
        self._bare_none = bare_none
        self._settle_s = settle_s
        self._clock = clock
        self._sleep = sleep

    # -- plumbing ------------------------------------------------------------------------------

    def client(self) -> Any:
        """The docker SDK client (connected on first use), for work beyond the runtime seam such as
        building the lab image."""
        return self._docker()

    def _docker(self) -> Any:
        if self._client is None:
            try:
                self._client = self._factory()
            except (DockerException, requests.exceptions.RequestException, OSError) as exc:
                raise unreachable(exc) from exc
        return self._client

    def _call(self, what: str, fn: Callable[[Any], Any], *, hints: dict[int, str] | None = None) -> Any:
        """Run `fn(client)`, turning transport failures into 'engine not reachable' and API
        refusals into ContainerError naming `what`. NotFound propagates for callers to decide."""
        client = self._docker()
        try:
            return fn(client)
        except NotFound:
            raise
        except APIError as exc:
            hint = (hints or {}).get(exc.status_code or 0)
            raise ContainerError(f"docker engine refused to {what}: {_explain(exc)}", hint=hint) from exc
        except (DockerException, requests.exceptions.RequestException, OSError) as exc:
            raise unreachable(exc) from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- ContainerRuntime ----------------------------------------------------------------------

    def engine_version(self) -> str:
        version = self._call("report its version", lambda c: c.version())
        return str(version.get("Version", "unknown"))

    def has_image(self, image: str) -> bool:
        try:
            self._call(f"look up image {image}", lambda c: c.images.get(image))
        except (ImageNotFound, NotFound):
            return False
        return True

    def get(self, name: str) -> ContainerInfo | None:
        try:
            container = self._call(f"inspect container {name}", lambda c: c.containers.get(name))
        except NotFound:
            return None
        return _info(container)

    def create(
        self,
        *,
        name: str,
        image: str,
        network: str,
        topology: str,
        command: list[str] | None = None,
    ) -> ContainerInfo:
        """Create and start `name` from `image`, labelled as sriovcheck's for `topology`.

        `command` None keeps the image's own command unless that is only a shell, which would
        exit at once: then the container sleeps instead, so it stays up to hold the VF."""
        try:
            img = self._call(f"look up image {image}", lambda c: c.images.get(image))
        except (ImageNotFound, NotFound) as exc:
            missing = f"container {name}: image {image} is not present on this host"
            hint = "load it with `docker load -i <file>.tar`, or run the emulated lab (`--lab`)"
            raise ContainerError(
                f"{missing}, and no image registry may be reachable from it",
                hint=f"{hint}, whose busybox image is built offline",
            ) from exc
        if command is None and _needs_keepalive(img.attrs.get("Config") or {}):
            command = list(KEEPALIVE_COMMAND)
        kwargs: dict[str, Any] = {
            "name": name,
            "detach": True,
            "labels": {LABEL_MANAGED: "true", LABEL_TOPOLOGY: topology},
        }
        if network in _SPECIAL_NETWORKS:
            kwargs["network_mode"] = network
            if network == "none" and self._bare_none:
                kwargs["network_disabled"] = True
        else:
            kwargs["network"] = network
        # create + start rather than run(): when the start fails, the container this call made is
        # known by id and removed, so a retry does not trip over a half-made one.
        no_net = f"create the network first (`docker network create {network}`) or use none/bridge"
        try:
            container = self._call(
                f"create container {name} from {image}",
                lambda c: c.containers.create(image, command, **kwargs),
                hints={409: "a container of that name exists: remove it or choose another name"},
            )
        except NotFound as exc:
            raise ContainerError(f"container {name}: docker says {_explain(exc)}", hint=no_net) from exc
        try:
            self._call(f"start container {name} on network {network}", lambda _c: container.start())
            return self._running(container, name)
        except NotFound as exc:  # a named network that does not exist shows up only now
            self._discard(container)
            raise ContainerError(f"container {name}: docker says {_explain(exc)}", hint=no_net) from exc
        except ContainerError:
            self._discard(container)
            raise

    def start(self, name: str) -> ContainerInfo:
        try:
            container = self._call(f"inspect container {name}", lambda c: c.containers.get(name))
            self._call(f"start container {name}", lambda _c: container.start())
        except NotFound as exc:
            raise ContainerError(f"container {name} does not exist", hint="run `sriovcheck up`") from exc
        return self._running(container, name)

    def remove(self, name: str, *, force: bool = True) -> None:
        """Remove `name` (killing it when `force`); no error when it does not exist."""
        try:
            container = self._call(f"inspect container {name}", lambda c: c.containers.get(name))
            self._call(f"remove container {name}", lambda _c: container.remove(force=force, v=True))
        except NotFound:
            return
        except ContainerError as exc:
            if "already in progress" in exc.message:  # a concurrent `rm -f` of the same container
                return
            raise

    def list_managed(self, topology: str | None = None) -> list[ContainerInfo]:
        """Containers carrying sriovcheck's labels (of `topology`, or of any), running or not."""
        labels = [f"{LABEL_MANAGED}=true"]
        if topology is not None:
            labels.append(f"{LABEL_TOPOLOGY}={topology}")
        filters = {"label": labels}
        found = self._call("list containers", lambda c: c.containers.list(all=True, filters=filters))
        return sorted((_info(c) for c in found), key=lambda i: i.name)

    # -- helpers -------------------------------------------------------------------------------

    def _discard(self, container: Any) -> None:
        # Error path only: the original error is what the user must see.
        with contextlib.suppress(DockerException, OSError):
            container.remove(force=True, v=True)

    def _running(self, container: Any, name: str) -> ContainerInfo:
        until = self._clock() + self._settle_s
        while True:
            self._call(f"inspect container {name}", lambda _c: container.reload())
            info = _info(container)
            if not info.running or self._clock() >= until:
                break
            self._sleep(0.05)
        if not info.running:
            state = container.attrs.get("State") or {}
            try:
                logs = container.logs(tail=20).decode(errors="replace").strip()
            except (DockerException, requests.exceptions.RequestException):
                logs = ""
            why = f"exit code {state.get('ExitCode')}, {state.get('Error') or 'no error from docker'}"
            tail = f"; its last output:\n{logs}" if logs else ""
            raise ContainerError(
                f"container {name} stopped right after starting ({why}){tail}",
                hint="give it a long-running command in the topology (e.g. [sleep, infinity])",
            )
        return info


def _needs_keepalive(config: dict[str, Any]) -> bool:
    """True when the image would run nothing but a shell (or nothing at all)."""
    if config.get("Entrypoint"):
        return False
    cmd = config.get("Cmd") or []
    return not cmd or (len(cmd) == 1 and posixpath.basename(str(cmd[0])) in _SHELLS)
