"""Bring the emulated lab up, down, report on it, and inject faults (the CLI's `lab` commands call these).

`lab_up` is idempotent: an up lab stays as it is, a half-built or crashed one is completed (missing
namespaces, bridges, cables and VFs are recreated, faults re-applied, a dead emulator restarted).
`lab_down` never refuses: it works from the state on disk and, when that is gone or damaged, by naming
convention (namespaces sc-<topology>-nic/-sw, root links marked with our alias, emulator processes
whose command line names the lab's directory).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sriovcheck.errors import LabError, StateError, UsageError
from sriovcheck.lab import fabric
from sriovcheck.lab import state as lab_state
from sriovcheck.lab.fabric import IprFactory
from sriovcheck.lab.state import EmulatorRecord, LabState, PfRecord, VlanRecord
from sriovcheck.topology.load import LoadedTopology
from sriovcheck.topology.model import Topology

SWITCHD_MODULE = "sriovcheck.lab.switchd"
EMULATOR_HOST = "127.0.0.1"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
NETNS_GONE_TIMEOUT_S = 10.0
STYLES = {"non-els": ("ex4200-48t", "12.3R12.4"), "els": ("ex4300-48t", "18.4R2.7")}
FAULT_KINDS = (
    "vlan-remove", "vlan-add", "gateway-down", "gateway-up", "pf-down", "pf-up", "login-refuse",
    "login-accept", "session-drop", "command-hang", "garble", "lldp-off", "lldp-on", "port-mtu",
    "background-table", "clear",
)
PORT_MTU_RANGE = (256, lab_state.JUMBO_PORT_MTU)  # what `set interfaces ge-0/0/1 mtu N` takes on an EX

# Popen objects of emulators this process started: kept so that they are reaped, not left as zombies.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class LabStatus:
    topology: str
    up: bool
    state_dir: str
    namespaces: dict[str, bool]  # name -> exists
    emulator: dict[str, Any]  # host, port, pid, alive, host_key_fingerprint
    client_key_path: str | None
    username: str | None
    switch_style: str | None
    router_mac: str | None
    ports: list[dict[str, Any]] = field(default_factory=list)  # PF <-> switch port and its per-VLAN cables
    gateways: list[dict[str, Any]] = field(default_factory=list)
    vfs: list[dict[str, Any]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- state from a topology
def topology_fingerprint(topology: Topology) -> str:
    """Of what shapes the lab: PFs, VLANs, switch identity and style (not containers or timeouts)."""
    data = {
        "pfs": [p.model_dump(mode="json") for p in topology.host.pfs],
        "vlans": [v.model_dump(mode="json") for v in topology.vlans],
        "switch": [topology.switch.name, topology.switch.username, topology.switch.password_env],
        "lab": topology.lab.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def configured_port_mtu(topology: Topology, pf_name: str) -> int:
    """The physical MTU the lab's switch port is configured with: jumbo (9216) when a VF on that PF
    asks for an MTU above 1500, as an admin would configure the port for it; else Junos' 1514."""
    wants = [vf.mtu for _, vf in topology.attachments() if vf.pf == pf_name and vf.mtu]
    return lab_state.JUMBO_PORT_MTU if any(m > 1500 for m in wants) else lab_state.DEFAULT_PORT_MTU


def refresh_settings(st: LabState, topology: Topology) -> None:
    """What the lab takes from the topology without rebuilding: the host name and port MTUs."""
    st.host_name = topology.host.name
    for pf in st.pfs:
        pf.port_mtu = configured_port_mtu(topology, pf.name)


def new_state(topology: Topology, directory: Path) -> LabState:
    """The state of a lab about to be built (pure apart from naming checks)."""
    name = topology.name
    pfs: list[PfRecord] = []
    for i, pf in enumerate(topology.host.pfs):
        total = fabric.total_vfs(pf.numvfs, topology.lab.nic_driver)
        fabric.vf_netdev(pf.name, total - 1)  # refuse now, before anything is built
        rec = PfRecord(pf.name, i, fabric.pf_peer(i), pf.switch_port, pf.numvfs, total, fabric.pci_address(i))
        rec.vfs = fabric.fresh_vfs(rec, pf.numvfs)
        pfs.append(rec)
    vlans = [VlanRecord(v.id, v.name, v.l3_interface, str(v.gateway), v.subnet.prefixlen, fabric.sw_bridge(v.id))
             for v in topology.vlans]
    from sriovcheck.switch.platforms import PLATFORMS

    model, version = PLATFORMS[topology.switch.platform].lab_models[topology.lab.switch_style]
    st = LabState(
        topology=name,
        topology_fingerprint=topology_fingerprint(topology),
        nic_ns=fabric.nic_ns_name(name),
        sw_ns=fabric.sw_ns_name(name),
        alias=fabric.lab_alias(name),
        switch_name=topology.switch.name,
        switch_style=topology.lab.switch_style,
        model=model,
        junos_version=version,
        platform=topology.switch.platform,
        router_mac=fabric.router_mac(name),
        username=topology.switch.username,
        password_env=topology.switch.password_env,
        host_key=str(directory / "ssh_host_ed25519_key"),
        client_key=str(directory / "client_ed25519_key"),
        authorized_keys=str(directory / "authorized_keys"),
        log=str(directory / "switchd.log"),
        pfs=pfs,
        vlans=vlans,
        emulator=EmulatorRecord(host=EMULATOR_HOST),
    )
    refresh_settings(st, topology)
    return st


def _write_private(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def ensure_keys(st: LabState) -> None:
    """The emulator's host key and the lab's own client key pair (its public half is the only
    authorized key: the switch client uses it in lab mode when no password variable is set).
    asyncssh (~0.2 CPU-s to import) only when a key is to be made: `lab up` of a lab that is up has them."""
    host_key, client_key, auth = Path(st.host_key), Path(st.client_key), Path(st.authorized_keys)
    if host_key.is_file() and client_key.is_file() and auth.is_file():
        return
    import asyncssh

    try:
        if not host_key.is_file():
            _write_private(host_key, asyncssh.generate_private_key("ssh-ed25519").export_private_key(), 0o600)
        if not client_key.is_file():
            key = asyncssh.generate_private_key("ssh-ed25519", comment=f"sriovcheck-lab-{st.topology}")
            _write_private(client_key, key.export_private_key(), 0o600)
            _write_private(client_key.with_name(client_key.name + ".pub"), key.export_public_key(), 0o644)
            _write_private(auth, key.export_public_key(), 0o644)
        elif not auth.is_file():
            pub = asyncssh.read_private_key(client_key).export_public_key()
            _write_private(auth, pub, 0o644)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise LabError(f"cannot create the lab's SSH keys in {host_key.parent}: {exc}",
                       hint="check that the state directory is writable, or run `sriovcheck lab down` and retry") from exc


def _openssh_public_blob(path: str) -> bytes | None:
    """The public key blob of an OpenSSH private key file (openssh-key-v1: the public half is
    stored unencrypted after the cipher, KDF and key count), or None for any other format."""
    import base64
    import struct

    try:
        text = Path(path).read_text()
        body = text.split("-----BEGIN OPENSSH PRIVATE KEY-----", 1)[1].split("-----END OPENSSH PRIVATE KEY-----", 1)[0]
        data = base64.b64decode("".join(body.split()))
        magic = b"openssh-key-v1\0"
        if not data.startswith(magic):
            return None
        pos = len(magic)
        for _ in range(3):  # cipher name, KDF name, KDF options
            (n,) = struct.unpack(">I", data[pos : pos + 4])
            pos += 4 + n
        (count,) = struct.unpack(">I", data[pos : pos + 4])
        (n,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        blob = data[pos + 8 : pos + 8 + n]
        return blob if count >= 1 and len(blob) == n else None
    except (OSError, IndexError, ValueError, struct.error):
        return None


def host_key_fingerprint(path: str) -> str | None:
    # Read without asyncssh when the key is in OpenSSH's format (the lab writes it so): importing
    # asyncssh costs every `lab status` and every verify in lab mode ~0.1 s.
    blob = _openssh_public_blob(path)
    if blob is not None:
        import base64

        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    try:
        import asyncssh

        return str(asyncssh.read_private_key(path).get_fingerprint("sha256"))
    except Exception:
        return None


# ---------------------------------------------------------------- the emulator process
def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot); None if gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _is_switchd(pid: int, directory: Path | None) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in argv]
    if SWITCHD_MODULE not in args:
        return False
    if directory is None:
        return True
    return any(a == "--state-dir" and i + 1 < len(args) and args[i + 1] == str(directory) for i, a in enumerate(args))


def emulator_alive(em: EmulatorRecord) -> bool:
    return em.pid is not None and em.start_time is not None and proc_start_time(em.pid) == em.start_time


def find_emulators(directory: Path) -> list[int]:
    """Emulator processes serving this lab, found by their command line (when the state is lost)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_switchd(int(entry.name), directory) and proc_start_time(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _reap(pid: int) -> None:
    proc = _children.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_process(pid: int, start_time: int | None) -> bool:
    """SIGTERM, then SIGKILL, a process that is still the one we started (same start time)."""
    current = proc_start_time(pid)
    if current is None or (start_time is not None and current != start_time):
        _reap(pid)
        return False
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            _reap(pid)
            if proc_start_time(pid) != current:
                return True
            time.sleep(0.05)
    return proc_start_time(pid) != current


def _log_tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"


def start_emulator(st: LabState, directory: Path, *, port: int) -> None:
    """Start the Junos emulator detached and wait, bounded, for its "ready <port>" line."""
    r, w = os.pipe()
    try:
        with open(st.log, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", SWITCHD_MODULE, "--state-dir", str(directory), "--ready-fd", str(w),
                 "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, pass_fds=(w,),
            )
    except OSError as exc:
        os.close(r)
        raise LabError(f"cannot start the Junos emulator for lab {st.topology}: {exc}",
                       hint="check that this Python has the lab extra (asyncssh) installed") from exc
    finally:
        os.close(w)
    _children[proc.pid] = proc
    buf = b""
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while b"\n" not in buf and time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], 0.1)
            if ready:
                chunk = os.read(r, 256)
                if not chunk:
                    break
                buf += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(r)
    m = re.fullmatch(rb"ready (\d+)\n", buf)
    if m is None:
        if time.monotonic() < deadline:
            # The pipe reads EOF as soon as the child's files close, a moment before it can be reaped.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)
        died = proc.poll() is not None
        stop_process(proc.pid, None)
        why = f"exited with status {proc.returncode}" if died else f"did not report ready within {READY_TIMEOUT_S:.0f} s"
        raise LabError(
            f"the Junos emulator for lab {st.topology} {why}; last lines of {st.log}:\n{_log_tail(st.log)}",
            hint="fix the cause shown above, then run `sriovcheck lab up` again",
        )
    st.emulator = EmulatorRecord(st.emulator.host, int(m.group(1)), proc.pid, proc_start_time(proc.pid))


# ---------------------------------------------------------------- up / down / status / fault
def _topology(topology: Topology | LoadedTopology) -> Topology:
    return topology.topology if isinstance(topology, LoadedTopology) else topology


def lab_up(
    topology: Topology | LoadedTopology,
    *,
    state_root: Path | str | None = None,
    ipr_factory: IprFactory | None = None,
    prepare: Callable[[LabState], None] | None = None,
) -> LabStatus:
    """Build (or complete, or repair) the lab for `topology` and start its Junos emulator. `prepare`
    changes the state before the kernel is made to match it (the rack names each PF's host), in the
    same lock and the same reconcile."""
    topo = _topology(topology)
    d = lab_state.lab_dir(topo.name, state_root)
    fresh_dir = not d.exists()
    try:
        with lab_state.locked(d):
            if lab_state.exists(d):
                st = lab_state.load(d)
                if st.topology_fingerprint != topology_fingerprint(topo):
                    raise LabError(
                        f"lab {topo.name} is up with a different version of the topology (host, switch, VLANs or "
                        "lab settings changed)",
                        hint=f"run `sriovcheck lab down {topo.name}`, then `lab up` with the new file",
                    )
                refresh_settings(st, topo)
            else:
                st = new_state(topo, d)
                # Refuse a foreign eno2 (or another lab's) before anything exists that `down` must remove.
                with fabric.open_handles(st, ipr_factory) as h:
                    fabric.check_root_names(st, fabric.plan_fabric(st), h.dump("root"), fabric.NsLinks())
            if prepare is not None:
                prepare(st)
            ensure_keys(st)
            lab_state.save(d, st)  # written before the kernel is touched: `down` can always find what to remove
            present = fabric.list_namespaces()
            for ns in (st.nic_ns, st.sw_ns):
                if ns not in present:
                    fabric.create_namespace(ns)
            with fabric.open_handles(st, ipr_factory) as h:
                result = fabric.reconcile(h, st)
            fabric.record_vf_macs(st, result)
            lab_state.save(d, st)
            if not emulator_alive(st.emulator):
                for pid in find_emulators(d):  # an orphan from a crashed `up` whose state was lost
                    stop_process(pid, None)
                try:
                    start_emulator(st, d, port=st.emulator.port)
                except LabError:
                    if st.emulator.port == 0:
                        raise
                    start_emulator(st, d, port=0)  # the old port is taken now: any free one will do
                lab_state.save(d, st)
    except BaseException:
        if fresh_dir and not lab_state.exists(d):  # refused before anything was built: leave no trace
            shutil.rmtree(d, ignore_errors=True)
            with contextlib.suppress(OSError):
                d.parent.rmdir()
        raise
    return lab_status(topo.name, state_root=state_root, ipr_factory=ipr_factory)


def lab_down(topology_name: str, *, state_root: Path | str | None = None,
             ipr_factory: IprFactory | None = None) -> list[str]:
    """Remove everything of the lab; what was removed, in order. Idempotent; never needs the state."""
    fabric.close_kept_sockets()  # a socket of ours in a namespace would keep it (and its links) alive
    d = lab_state.lab_dir(topology_name, state_root)
    removed: list[str] = []
    st: LabState | None = None
    with contextlib.suppress(StateError):
        st = lab_state.load(d) if lab_state.exists(d) else None
    pids: dict[int, int | None] = {}
    if st is not None and st.emulator.pid is not None:
        pids[st.emulator.pid] = st.emulator.start_time
    for pid in find_emulators(d):
        pids.setdefault(pid, None)
    for pid, start in pids.items():
        if stop_process(pid, start):
            removed.append(f"emulator process {pid}")
    root = (ipr_factory or fabric.default_ipr_factory)(None)
    try:
        ours = fabric.our_root_links(topology_name, root)
        present = fabric.list_namespaces()
        for ns in (fabric.nic_ns_name(topology_name), fabric.sw_ns_name(topology_name)):
            if ns in present:
                fabric.remove_namespace(ns)
                removed.append(f"namespace {ns}")
        # The kernel destroys a namespace asynchronously, in one batch with every veth peer of its links
        # (root-namespace ends and VFs inside containers alike): when our root ends are gone, so is the
        # rest. Deleting veths one by one instead costs tens of milliseconds each.
        deadline = time.monotonic() + NETNS_GONE_TIMEOUT_S
        while ours and fabric.our_root_links(topology_name, root) and time.monotonic() < deadline:
            time.sleep(0.05)
        fabric.delete_root_links(topology_name, root)  # what no namespace took along (e.g. split pairs)
        removed += [f"link {name} (root namespace)" for name in ours]
    finally:
        root.close()
    if d.exists():
        shutil.rmtree(d, ignore_errors=False)
        removed.append(f"directory {d}")
    with contextlib.suppress(OSError):
        d.parent.rmdir()  # only when empty: provisioning may keep its own state next to ours
    return removed


def lab_leftovers(topology_name: str, *, state_root: Path | str | None = None,
                  ipr_factory: IprFactory | None = None) -> list[str]:
    """What of the lab is still there after `lab_down`: namespaces, root links with its alias, its directory."""
    left = [f"namespace {ns}" for ns in (fabric.nic_ns_name(topology_name), fabric.sw_ns_name(topology_name))
            if ns in fabric.list_namespaces()]
    root = (ipr_factory or fabric.default_ipr_factory)(None)
    try:
        left += [f"link {n} (root namespace)" for n in fabric.our_root_links(topology_name, root)]
    finally:
        root.close()
    d = lab_state.lab_dir(topology_name, state_root)
    if d.exists():
        left.append(f"directory {d}")
    return left


def _kernel_status(st: LabState, ipr_factory: IprFactory | None, problems: list[str]) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    with fabric.open_handles(st, ipr_factory) as h:
        root, nic, sw = h.dump("root"), h.dump("nic"), h.dump("sw")
        addrs: dict[int, set[str]] = {}
        for msg in h["sw"].addr("dump", family=fabric.AF_INET):
            addrs.setdefault(msg["index"], set()).add(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
    ports = []
    for pf in st.pfs:
        root_pf = root.by_name.get(pf.name)
        if root_pf is None:
            problems.append(f"PF {pf.name} is missing from the root namespace")
        cables = []
        for v in st.vlans:
            c, s = fabric.cable_nic(pf.index, v.id), fabric.cable_sw(pf.index, v.id)
            s_lf = sw.by_name.get(s)
            if c not in nic.by_name or s_lf is None:
                problems.append(f"cable {c}/{s} ({pf.switch_port} VLAN {v.id}) is missing")
            cables.append({
                "vlan": v.id, "nic_link": c, "nic_bridge": fabric.nic_bridge(pf.index, v.id), "switch_link": s,
                "switch_bridge": v.bridge, "carried": s_lf is not None and sw.master_name(s_lf) == v.bridge,
                "link_up": bool(s_lf and s_lf.carrier),
            })
        ports.append({
            "pf": pf.name, "pci_address": pf.pci_address, "nic_link": pf.nic_link, "switch_port": pf.switch_port,
            "numvfs": pf.numvfs, "totalvfs": pf.totalvfs,
            "pf_link_up": bool(root_pf and root_pf.carrier), "cables": cables,
            "pf_mac": root_pf.mac if root_pf else pf.mac, "port_mtu": st.port_mtu(pf),
            "lldp": pf.name not in st.faults.lldp_off,
        })
    gateways = []
    for v in st.vlans:
        br = sw.by_name.get(v.bridge)
        if br is None:
            problems.append(f"switch bridge {v.bridge} ({v.l3_interface}) is missing")
        has_addr = br is not None and v.gateway_cidr in addrs.get(br.index, set())
        gateways.append({
            "vlan": v.id, "name": v.name, "l3_interface": v.l3_interface, "bridge": v.bridge,
            "address": v.gateway_cidr, "up": bool(br and br.admin_up and has_addr),
        })
    vfs = []
    for pf in st.pfs:
        for vf in pf.vfs:
            end = root.by_alias(fabric.vf_alias(st.topology, pf.name, vf.index))
            peer = nic.by_name.get(vf.nic_link)
            where = "host" if end is not None else ("elsewhere" if peer is not None else "missing")
            if where == "missing" and vf.index < pf.numvfs:
                problems.append(f"VF {vf.index} of {pf.name} ({vf.netdev}) is missing: neither its netdev nor its "
                                "NIC-side link exists (`lab up` recreates it)")
            vfs.append({
                "pf": pf.name, "vf": vf.index, "pci_address": fabric.pci_address(pf.index, vf.index),
                "netdev": end.name if end else None, "where": where, "nic_link": vf.nic_link,
                "nic_bridge": nic.master_name(peer) if peer else None, "carrier": bool(peer and peer.admin_up),
                "mac": end.mac if end else vf.mac, "config": vf.config.as_dict(),
            })
    return ports, gateways, vfs


def lab_status(topology_name: str, *, state_root: Path | str | None = None,
               ipr_factory: IprFactory | None = None, kernel: bool = True) -> LabStatus:
    """The lab's status. kernel=False: namespaces, state and emulator only, without reading every port,
    gateway and VF from the kernel (a rack's hosts each ask for the shared lab's status in every
    command, and that reading grows with the rack: 16 hosts made it quadratic)."""
    d = lab_state.lab_dir(topology_name, state_root)
    present = fabric.list_namespaces()
    names = [fabric.nic_ns_name(topology_name), fabric.sw_ns_name(topology_name)]
    namespaces = {ns: ns in present for ns in names}
    if not lab_state.exists(d):
        leftovers = [f"namespace {ns} exists without lab state" for ns, ok in namespaces.items() if ok]
        return LabStatus(topology_name, False, str(d), namespaces, {"alive": False}, None, None, None, None,
                         problems=[*leftovers, "the lab is not up (no state)"])
    st = lab_state.load(d)
    problems: list[str] = []
    alive = emulator_alive(st.emulator)
    if not alive:
        problems.append(f"the Junos emulator is not running (pid {st.emulator.pid}); see {st.log}")
    emulator = {"host": st.emulator.host, "port": st.emulator.port, "pid": st.emulator.pid, "alive": alive,
                "host_key_fingerprint": host_key_fingerprint(st.host_key), "log": st.log}
    ports: list[dict[str, Any]] = []
    gateways: list[dict[str, Any]] = []
    vfs: list[dict[str, Any]] = []
    if all(namespaces.values()):
        if kernel:
            ports, gateways, vfs = _kernel_status(st, ipr_factory, problems)
    else:
        problems += [f"namespace {ns} is missing" for ns, ok in namespaces.items() if not ok]
    return LabStatus(
        topology=topology_name, up=not problems, state_dir=str(d), namespaces=namespaces, emulator=emulator,
        client_key_path=st.client_key, username=st.username, switch_style=st.switch_style,
        router_mac=st.router_mac, ports=ports, gateways=gateways, vfs=vfs, faults=st.faults.active(),
        problems=problems,
    )


def _toggle(items: list[Any], item: Any, present: bool) -> None:
    if present and item not in items:
        items.append(item)
    if not present and item in items:
        items.remove(item)


def _pattern(kind: str, pattern: str | None) -> str | None:
    if pattern is None:
        raise UsageError(f"lab fault {kind} needs a regular expression, or off", hint=f"e.g. {kind} 'show arp'")
    if pattern == "off":
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"lab fault {kind}: {pattern!r} is not a valid regular expression ({exc})") from exc
    return pattern


def lab_fault(
    topology_name: str,
    kind: str,
    *,
    port: str | None = None,
    vlan: int | None = None,
    pf: str | None = None,
    pattern: str | None = None,
    on: bool | None = None,
    mtu: int | None = None,
    macs: int | None = None,
    arps: int | None = None,
    state_root: Path | str | None = None,
    ipr_factory: IprFactory | None = None,
) -> LabStatus:
    """Inject or clear a fault. Kernel faults (vlan-remove/add PORT VLAN, gateway-down/up VLAN,
    pf-down/up PF, port-mtu PORT MTU) change the fabric at once; lldp-off/on PF stops or restarts the
    host's LLDP agent on that PF (the switch's neighbour list follows); server faults (login-refuse/accept, session-drop REGEX|off,
    command-hang REGEX|off, garble on|off) go into the state file that the emulator reads each time.
    `clear` removes every fault."""
    if kind not in FAULT_KINDS:
        raise UsageError(f"unknown lab fault {kind!r}", hint=f"one of: {', '.join(FAULT_KINDS)}")
    d = lab_state.lab_dir(topology_name, state_root)

    def mutate(st: LabState) -> None:
        f = st.faults
        if kind in ("vlan-remove", "vlan-add"):
            if port is None or vlan is None:
                raise UsageError(f"lab fault {kind} needs a switch port and a VLAN id", hint=f"e.g. {kind} ge-0/0/1 200")
            _known_port(st, port)
            _known_vlan(st, vlan)
            _toggle(f.vlan_removed, (port, vlan), kind == "vlan-remove")
        elif kind in ("gateway-down", "gateway-up"):
            if vlan is None:
                raise UsageError(f"lab fault {kind} needs a VLAN id", hint=f"e.g. {kind} 200")
            _known_vlan(st, vlan)
            _toggle(f.gateway_down, vlan, kind == "gateway-down")
        elif kind in ("pf-down", "pf-up", "lldp-off", "lldp-on"):
            if pf is None:
                raise UsageError(f"lab fault {kind} needs a PF name", hint=f"e.g. {kind} eno2")
            try:
                st.pf(pf)
            except KeyError:
                raise UsageError(f"lab {st.topology} has no PF {pf!r}",
                                 hint=f"PFs: {', '.join(p.name for p in st.pfs)}") from None
            if kind in ("pf-down", "pf-up"):
                _toggle(f.pf_down, pf, kind == "pf-down")
            else:
                _toggle(f.lldp_off, pf, kind == "lldp-off")
        elif kind == "port-mtu":
            low, high = PORT_MTU_RANGE
            if port is None or mtu is None:
                raise UsageError("lab fault port-mtu needs a switch port and an MTU", hint="e.g. port-mtu ge-0/0/1 1400")
            if isinstance(mtu, bool) or not low <= mtu <= high:
                raise UsageError(f"lab fault port-mtu: {mtu} is not an MTU an EX port takes",
                                 hint=f"{low} to {high} (Ethernet header included: 1514 carries 1500-byte packets)")
            rec = _known_port(st, port)
            if mtu == rec.port_mtu:
                f.port_mtu.pop(port, None)  # back to what the port is configured with
            else:
                f.port_mtu[port] = mtu
        elif kind in ("login-refuse", "login-accept"):
            f.refuse_login = kind == "login-refuse"
        elif kind == "session-drop":
            f.drop_session_on = _pattern(kind, pattern)
        elif kind == "command-hang":
            f.hang_on = _pattern(kind, pattern)
        elif kind == "background-table":
            from sriovcheck.lab.junos.view import BACKGROUND_MAX_ARPS, BACKGROUND_MAX_MACS

            if macs is None or arps is None:
                raise UsageError("lab fault background-table needs MACS and ARPS", hint="e.g. background-table 100000 20000")
            if not 0 <= macs <= BACKGROUND_MAX_MACS or not 0 <= arps <= BACKGROUND_MAX_ARPS:
                raise UsageError(f"lab fault background-table: {macs} MACs and {arps} ARP entries is out of range",
                                 hint=f"MACS 0-{BACKGROUND_MAX_MACS}, ARPS 0-{BACKGROUND_MAX_ARPS} (0 0 removes them)")
            f.background = (macs, arps)
        elif kind == "garble":
            if on is None:
                raise UsageError("lab fault garble needs on or off")
            f.garble = on
        else:
            st.faults = lab_state.Faults()

    fabric.update_lab(d, mutate, ipr_factory=ipr_factory)
    return lab_status(topology_name, state_root=state_root, ipr_factory=ipr_factory)


def _known_port(st: LabState, port: str) -> PfRecord:
    try:
        return st.pf_by_port(port)
    except KeyError:
        raise UsageError(f"lab {st.topology} has no switch port {port!r}",
                         hint=f"ports: {', '.join(p.switch_port for p in st.pfs)}") from None


def _known_vlan(st: LabState, vlan: int) -> None:
    try:
        st.vlan(vlan)
    except KeyError:
        raise UsageError(f"lab {st.topology} has no VLAN {vlan}",
                         hint=f"VLANs: {', '.join(str(v.id) for v in st.vlans)}") from None
