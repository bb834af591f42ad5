"""DockerRuntime and the offline lab image against the real engine, and the whole VF path:
a container from the lab image, a veth VF stand-in attached as eth1, probed, detached.

The image is built under a test-only tag and removed afterwards, like every container here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _netns_helpers import Scaffold, run, scaffold

from sriovcheck.containers import image as lab_image
from sriovcheck.containers.docker_runtime import KEEPALIVE_COMMAND, DockerRuntime
from sriovcheck.containers.runtime import ContainerRuntime
from sriovcheck.errors import ContainerError
from sriovcheck.host import netns, probe

pytestmark = pytest.mark.integration
__all__ = ["scaffold"]


@pytest.fixture
def client(docker_required: None) -> Iterator[Any]:
    import docker

    c = docker.from_env(timeout=30)
    yield c
    c.close()


@pytest.fixture
def test_image(client: Any) -> Iterator[str]:
    tag = f"sriovcheck-test/busybox:{Scaffold().tag}"
    assert lab_image.ensure_lab_image(client, image=tag) == tag
    try:
        yield tag
    finally:
        client.images.remove(tag, force=True)


class Names:
    """Unique container names, each removed when the test ends (whatever happened)."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, role: str) -> str:
        name = f"sct-{role}-{Scaffold().tag}"
        self.made.append(name)
        return name


@pytest.fixture
def runtime(client: Any) -> DockerRuntime:
    return DockerRuntime(lambda: client)


@pytest.fixture
def cname(runtime: DockerRuntime) -> Iterator[Names]:
    names = Names()
    yield names
    for name in names.made:
        runtime.remove(name)
    assert [n for n in names.made if runtime.get(n) is not None] == []


def test_lab_image_is_offline_busybox_and_built_once(client: Any, test_image: str) -> None:
    img = client.images.get(test_image)
    assert img.attrs["Config"]["Cmd"] == lab_image.KEEPALIVE_CMD
    assert lab_image.ensure_lab_image(client, image=test_image) == test_image
    assert client.images.get(test_image).id == img.id  # not imported a second time


def test_lab_image_without_busybox_says_what_to_install(client: Any, tmp_path: Path) -> None:
    with pytest.raises(ContainerError) as err:
        lab_image.ensure_lab_image(client, image=f"sriovcheck-test/never:{Scaffold().tag}", busybox_path=str(tmp_path / "busybox"))
    assert err.value.hint == "apt-get install busybox-static"


def test_runtime_satisfies_the_protocol_and_reports_the_engine(runtime: DockerRuntime) -> None:
    assert isinstance(runtime, ContainerRuntime)
    assert runtime.engine_version()[0].isdigit()


def test_unreachable_engine_is_one_clear_error() -> None:
    import docker

    rt = DockerRuntime(lambda: docker.DockerClient(base_url="unix:///nonexistent/docker.sock", timeout=2))
    with pytest.raises(ContainerError) as err:
        rt.engine_version()
    assert err.value.message.startswith("docker engine not reachable at")
    assert err.value.hint == "start it: dockerd, or systemctl start docker"


def test_create_get_list_remove(runtime: DockerRuntime, test_image: str, cname: Names) -> None:
    name = cname("c")
    info = runtime.create(name=name, image=test_image, network="none", topology="t-rt")
    assert info.running and info.pid and info.name == name
    assert info.labels["io.sriovcheck.managed"] == "true" and info.managed_by("t-rt")
    assert info.netns_path is not None and Path(info.netns_path).exists()
    got = runtime.get(name)
    assert got is not None and got.pid == info.pid and got.id == info.id and got.image == test_image
    assert [i.name for i in runtime.list_managed("t-rt")] == [name]
    inspect = json.loads(run("docker", "inspect", name).stdout)[0]
    assert inspect["HostConfig"]["NetworkMode"] == "none"
    assert not inspect["Config"].get("NetworkDisabled") and inspect["NetworkSettings"]["SandboxKey"]  # docker's sandbox

    with pytest.raises(ContainerError) as err:
        runtime.create(name=name, image=test_image, network="none", topology="t-rt")
    assert "already in use" in err.value.message and err.value.hint

    runtime.remove(name)
    runtime.remove(name)  # idempotent
    assert runtime.get(name) is None


def test_the_labs_none_containers_are_bare_namespaces_that_hold_a_vf(
    client: Any, test_image: str, cname: Names, scaffold: Scaffold
) -> None:
    # the emulated lab's runtime: network none without docker's sandbox (no setkey hook process, no
    # /etc/hosts), yet a network namespace of its own with lo up, where a VF works and from which it comes back
    lab = DockerRuntime(lambda: client, bare_none=True)
    name = cname("bare")
    info = lab.create(name=name, image=test_image, network="none", topology="t-rt")
    assert info.running and info.netns_path is not None and info.pid is not None
    inspect = json.loads(run("docker", "inspect", name).stdout)[0]
    assert inspect["HostConfig"]["NetworkMode"] == "none" and inspect["Config"]["NetworkDisabled"] is True
    assert not inspect["NetworkSettings"]["SandboxKey"] and not inspect["HostsPath"]
    assert Path(info.netns_path).stat().st_ino != Path("/proc/self/ns/net").stat().st_ino  # not the host's
    links = json.loads(run("nsenter", "-t", str(info.pid), "-n", "ip", "-j", "link").stdout)
    assert [(link["ifname"], "UP" in link["flags"]) for link in links] == [("lo", True)]

    gw = scaffold.gateway()
    vf = scaffold.vf_standin(gw)
    netns.attach_vf(vf, netns_path=info.netns_path, ifname="net1", address_cidr=f"{gw.subnet}.2/24",
                    mtu=None, mac=None, temp_name=f"sb{scaffold.tag}")
    result = probe.ping(info.netns_path, "net1", gw.gw_ip, count=1, timeout_s=1.0)
    assert (result.received, result.error) == (1, None)
    netns.detach_vf("net1", netns_path=info.netns_path, host_ifname=vf)
    assert netns.read_link(None, vf) is not None
    lab.remove(name)
    assert lab.get(name) is None


def test_shell_only_image_is_kept_alive_and_bridge_network(client: Any, runtime: DockerRuntime, cname: Names) -> None:
    # An image whose command is a bare shell (like busybox or debian) would exit at once.
    shell_tag = f"sriovcheck-test/shell:{Scaffold().tag}"
    rootfs = lab_image.lab_rootfs_tar(Path(lab_image.BUSYBOX_PATH).read_bytes())
    repo, tag = shell_tag.split(":")
    client.api.import_image_from_data(rootfs, repository=repo, tag=tag, changes=['CMD ["sh"]'])
    try:
        name = cname("sh")
        info = runtime.create(name=name, image=shell_tag, network="bridge", topology="t-rt")
        assert info.running
        inspect = json.loads(run("docker", "inspect", name).stdout)[0]
        assert inspect["Config"]["Cmd"] == KEEPALIVE_COMMAND
        assert inspect["HostConfig"]["NetworkMode"] == "bridge"
        runtime.remove(name)
    finally:
        client.images.remove(shell_tag, force=True)


def test_failures_leave_no_container_behind(client: Any, runtime: DockerRuntime, test_image: str, cname: Names) -> None:
    missing = cname("m")
    with pytest.raises(ContainerError) as err:
        runtime.create(name=missing, image="sriovcheck-test/absent:0", network="none", topology="t")
    assert "is not present" in err.value.message and "docker load" in (err.value.hint or "")

    exits = cname("x")
    watchful = DockerRuntime(lambda: client, settle_s=2.0)
    with pytest.raises(ContainerError, match="stopped right after starting") as err:
        watchful.create(name=exits, image=test_image, network="none", topology="t", command=["/bin/sh", "-c", "echo bye; exit 3"])
    assert "exit code 3" in err.value.message and "bye" in err.value.message

    nonet = cname("n")
    with pytest.raises(ContainerError) as err:
        runtime.create(name=nonet, image=test_image, network=f"nonet-{Scaffold().tag}", topology="t")
    assert "not found" in err.value.message and "docker network create" in (err.value.hint or "")

    for name in (missing, exits, nonet):
        assert runtime.get(name) is None

    with pytest.raises(ContainerError, match="does not exist"):
        runtime.start(missing)


def test_vf_into_a_container_end_to_end(scaffold: Scaffold, runtime: DockerRuntime, test_image: str, cname: Names) -> None:
    gw = scaffold.gateway()
    vf = scaffold.vf_standin(gw)
    name = cname("e2e")
    info = runtime.create(name=name, image=test_image, network="none", topology="t-e2e")
    assert info.netns_path is not None

    netns.attach_vf(
        vf, netns_path=info.netns_path, ifname="eth1", address_cidr=f"{gw.subnet}.2/24",
        mtu=1450, mac=None, temp_name=f"st{scaffold.tag}",
    )  # fmt: skip

    # What the container itself sees (busybox `ip` inside it) ...
    inside = run("docker", "exec", name, "ip", "addr", "show", "eth1").stdout
    assert "mtu 1450" in inside and f"inet {gw.subnet}.2/24" in inside and ",UP" in inside
    # ... and what nsenter from the host sees.
    assert info.pid is not None
    seen = json.loads(run("nsenter", "-t", str(info.pid), "-n", "ip", "-j", "addr", "show", "eth1").stdout)[0]
    assert seen["ifname"] == "eth1" and seen["mtu"] == 1450

    result = probe.ping(info.netns_path, "eth1", gw.gw_ip, count=2, timeout_s=1.0, interval_s=0.05)
    assert (result.received, result.error) == (2, None)
    gw_entries = [n for n in netns.neighbours(info.netns_path, "eth1") if n.ip == gw.gw_ip]
    assert [n.mac for n in gw_entries] == [gw.gw_mac]
    arp = run("docker", "exec", name, "arp", "-n").stdout
    assert gw.gw_ip in arp and gw.gw_mac in arp

    netns.detach_vf("eth1", netns_path=info.netns_path, host_ifname=vf)
    assert "eth1" not in run("docker", "exec", name, "ip", "link").stdout
    home = netns.read_link(None, vf)
    assert home is not None and home.addresses == []

    runtime.remove(name)
    assert runtime.get(name) is None
