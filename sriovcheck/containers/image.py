"""The emulated lab's container image, made offline from Debian's busybox-static.

No registry is needed: a root filesystem with /bin/busybox and its applet links is built as an
in-memory tar and imported through the engine API (what `tar c | docker import` does).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from sriovcheck.containers.docker_runtime import unreachable
from sriovcheck.containers.runtime import LABEL_MANAGED
from sriovcheck.errors import ContainerError

LAB_IMAGE = "sriovcheck-lab/busybox:1"
BUSYBOX_PATH = "/bin/busybox"
# A fixed list (no `busybox --list` at run time): what the lab and a user poking at a lab
# container need. Every one is an applet of Debian 12's busybox-static.
LAB_APPLETS = (
    "sh", "sleep", "ip", "ping", "arp", "arping", "ifconfig", "route", "cat", "ls", "echo",
    "ps", "hostname", "true", "false", "grep", "sysctl",
)  # fmt: skip
KEEPALIVE_CMD = ["/bin/sleep", "2147483647"]


def lab_rootfs_tar(busybox: bytes) -> bytes:
    """The lab image's root filesystem: /bin/busybox, applet symlinks, an empty /tmp and /etc."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700)):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(busybox), 0o755
        tar.addfile(info, io.BytesIO(busybox))
        for applet in LAB_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size, info.mode = len(passwd), 0o644
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def ensure_lab_image(client: Any, *, image: str = LAB_IMAGE, busybox_path: str = BUSYBOX_PATH) -> str:
    """Make sure `image` exists in the engine behind `client` (a docker.DockerClient); build it
    from `busybox_path` when missing. Returns the image reference."""
    try:
        client.images.get(image)
        return image
    except (ImageNotFound, NotFound):
        pass
    except (DockerException, OSError) as exc:
        raise unreachable(exc) from exc
    try:
        busybox = Path(busybox_path).read_bytes()
    except FileNotFoundError as exc:
        raise ContainerError(
            f"cannot build the lab image {image}: {busybox_path} is missing",
            hint="apt-get install busybox-static",
        ) from exc
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        repository, tag = image, "latest"
    changes = [f"CMD {json.dumps(KEEPALIVE_CMD)}", f"LABEL {LABEL_MANAGED}=true"]
    rootfs = lab_rootfs_tar(busybox)
    try:
        client.api.import_image_from_data(rootfs, repository=repository, tag=tag, changes=changes)
        client.images.get(image)
    except (APIError, ImageNotFound) as exc:
        raise ContainerError(f"docker engine refused to import lab image {image}: {exc}") from exc
    except (DockerException, OSError) as exc:
        raise unreachable(exc) from exc
    return image
