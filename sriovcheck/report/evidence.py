"""The evidence bundle beside a failed run's report: what support needs without a rerun."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sriovcheck.containers.runtime import ContainerRuntime
from sriovcheck.host.driver import HostDriver
from sriovcheck.topology.model import Topology
from sriovcheck.verify.results import RunResults


def write_evidence_bundle(
    topology: Topology, host: HostDriver, runtime: ContainerRuntime, results: RunResults, report_dir: Path
) -> str | None:
    """On a failure, everything support needs without a rerun, as plain files beside the report:
    the host's links, each PF's VF table, every switch output that was read, each container's
    neighbour table. Best effort: a part that cannot be read says why in its file."""
    from sriovcheck.host import netns

    bundle = report_dir / "evidence"
    try:
        bundle.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None

    def put(name: str, produce: Callable[[], str]) -> None:
        try:
            text = produce()
        except Exception as exc:
            text = f"(could not read: {type(exc).__name__}: {exc})\n"
        with contextlib.suppress(OSError):
            (bundle / name).write_text(text)

    def links(ns: str | None) -> str:
        return "".join(
            f"{lk.index}: {lk.name}: <{'UP' if lk.admin_up else 'DOWN'}> mtu {lk.mtu} state {lk.operstate} kind {lk.kind or '-'} "
            f"link/ether {lk.mac} {' '.join(lk.addresses)}\n"
            for lk in netns.list_links(ns)
        )

    put("host-links.txt", lambda: links(None))
    for pf in topology.host.pfs:

        def vf_table(pf: Any = pf) -> str:
            info = host.pf_info(pf.name)
            rows = [
                f"PF {pf.name}: exists {info.exists}, driver {info.driver}, numvfs {info.numvfs}/{info.totalvfs}, "
                f"link {info.operstate}, mtu {info.mtu}, mac {info.mac}"
            ]
            for vf in info.vfs:
                cfg = host.get_vf_config(pf.name, vf.index)
                rows.append(
                    f"  vf {vf.index} pci {vf.pci_address} driver {vf.driver} netdev {vf.netdev or '(not on host)'} "
                    + " ".join(f"{k} {v}" for k, v in cfg.as_dict().items())
                )
            return "\n".join(rows) + "\n"

        put(f"pf-{pf.name}-vfs.txt", vf_table)
    seen: set[str] = set()
    for c in results.checks:
        for e in c.evidence:
            if e.source.startswith(("switch:", "files:")) and e.command not in seen:
                seen.add(e.command)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", e.command).strip("_")[:80]
                put(f"switch-{name}.txt", partial(str, e.output))
    for ct in topology.containers:

        def neigh(ct: Any = ct) -> str:
            info = runtime.get(ct.name)
            if info is None or info.netns_path is None:
                return "container not running\n"
            return links(info.netns_path) + "".join(
                f"{n.ip} dev {n.ifname} lladdr {n.mac} {n.state}\n" for n in netns.neighbours(info.netns_path)
            )

        put(f"container-{ct.name}.txt", neigh)
    return "evidence"
