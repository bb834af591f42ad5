"""teardown-clean: after `run --teardown`, every VF is home with nothing sriovcheck gave it."""

from __future__ import annotations

from dataclasses import fields

from sriovcheck.errors import SriovcheckError
from sriovcheck.host.driver import HostDriver, VfConfig
from sriovcheck.provision.state import ProvisionState
from sriovcheck.topology.model import Topology
from sriovcheck.verify.checks import fmt_config, fmt_setting
from sriovcheck.verify.results import CheckResult, Status


def teardown_clean_checks(topology: Topology, host: HostDriver, before: ProvisionState) -> list[CheckResult]:
    """After teardown: no VF keeps the MAC or VLAN sriovcheck gave it, and each is home under its
    original name (found through the PF, not by name)."""
    out = []
    targets = {(spec.pf, spec.vf): (ct.name, spec.ifname) for ct, spec in topology.attachments()}
    for r in before.vfs:
        container, ifname = targets.get((r.pf, r.vf), (r.container or "?", r.ifname or "?"))
        target = f"{container}/{ifname}"
        expected = f"{r.pf} VF {r.vf} home as {r.original_netdev} with its original settings"
        problems = []
        details = {"container": container, "ifname": ifname, "pf": r.pf, "vf": r.vf}
        original_count = before.numvfs_original.get(r.pf)
        if original_count is not None and r.vf >= original_count:
            # The PF had fewer VFs before sriovcheck: teardown removed this one with the count.
            now_count = host.pf_info(r.pf).numvfs
            status: Status = "pass" if now_count == original_count else "fail"
            out.append(
                CheckResult(
                    kind="teardown-clean",
                    target=target,
                    status=status,
                    details=details,
                    expected=f"{r.pf} back to {original_count} VFs (VF {r.vf} did not exist before)",
                    observed=f"{r.pf} has {now_count} VFs",
                    message="" if status == "pass" else f"{r.pf} still has {now_count} VFs, had {original_count}",
                )
            )
            continue
        try:
            now = host.get_vf_config(r.pf, r.vf)
            original = VfConfig.from_dict(r.original_config)
            for name in (f.name for f in fields(VfConfig)):
                if getattr(now, name) is None and name in ("spoofchk", "trust"):
                    continue  # the driver does not report it (as in the vf-config check)
                if getattr(now, name) != getattr(original, name):
                    problems.append(f"{name} is {fmt_setting(name, getattr(now, name))}, "
                                    f"was {fmt_setting(name, getattr(original, name))} before sriovcheck")
            info = host.vf_info(r.pf, r.vf)
            if info.netdev != r.original_netdev:
                problems.append(f"its netdev is {info.netdev or 'not on the host'}, was {r.original_netdev}")
            observed = f"netdev {info.netdev or '-'}, {fmt_config(now)}"
        except SriovcheckError as exc:
            out.append(
                CheckResult(
                    kind="teardown-clean",
                    target=target,
                    status="error",
                    expected=expected,
                    observed="unreadable",
                    message=str(exc),
                    details={"container": container, "ifname": ifname, "pf": r.pf, "vf": r.vf},
                )
            )
            continue
        out.append(
            CheckResult(
                kind="teardown-clean",
                target=target,
                status="fail" if problems else "pass",
                expected=expected,
                observed=observed,
                message="; ".join(problems),
                details={"container": container, "ifname": ifname, "pf": r.pf, "vf": r.vf},
            )
        )
    return out
