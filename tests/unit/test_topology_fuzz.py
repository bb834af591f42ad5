"""Property: any mutation of the seed topology either validates (and then every name is one the drivers
accept) or is refused with exit 2 and located problems; never another exit code, never an exception.

Problems are located exactly: each problem's line is the line of the node its path names (or, for a missing
key, of its parent), found here independently by composing the same text with PyYAML.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.cli import main
from sriovcheck.topology import load_topology, names

ROOT = Path(__file__).resolve().parents[2]
SEED: dict[str, Any] = yaml.safe_load((ROOT / "topologies" / "seed-lab.yaml").read_text())

PathKey = tuple[str | int, ...]
KEYS = ["name", "host", "pfs", "numvfs", "switch_port", "vlans", "id", "vf", "vlan", "ifname", "address", "mac", "image",
        "network", "password", "password_env", "key_file", "timeout_s", "checks", "ping", "lab", "switch_style", "l3_interface"]
NASTY = ["$(reboot)", "`reboot`", "eth1;reboot", "a|b", "ge-0/0/1 | display xml", "SRIOV_200; request system reboot",
         "x\ny", "\\n", "'", '"', "a b", "", " ", "\x00", "../../etc", "-oProxyCommand=x", "host", "none", "bridge",
         "container:x", "eth1", "eth0", "lo", "eno2", "vlan.200", "irb.201", "SRIOV_200", "ge-0/0/1", "xe-0/0/0:2",
         "ae0", "nginx:alpine", "192.168.200.5/24", "192.168.201.1", "10.0.0.0/8", "2001:db8::1", "02:AA:bb:00:00:01",
         "01:00:5e:00:00:01", "52:54:00:12:34:56", "802.1ad", "els", "auto", "ex\u202eswitch", "caf\u00e9", "\U0001f600",
         "a" * 300]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10, max_value=5000),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY),
    st.text(st.characters(codec="utf-8"), max_size=20),
)
identifiers = st.one_of(st.sampled_from(KEYS), st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(identifiers, inner, max_size=3)), max_leaves=6)


def all_paths(node: Any, here: PathKey = ()) -> list[PathKey]:
    out = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            out += all_paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += all_paths(v, (*here, i))
    return out


def get(doc: Any, path: PathKey) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def put(doc: Any, path: PathKey, value: Any) -> Any:
    if not path:
        return value
    get(doc, path[:-1])[path[-1]] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc: Any = copy.deepcopy(SEED)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = all_paths(doc)
        leaves = [p for p in paths if p and not isinstance(get(doc, p), (dict, list))]
        op = draw(st.sampled_from(["delete", "add-key", "replace", "replace", "duplicate", "swap", "poke", "poke", "tweak"]))
        if op in ("poke", "tweak") and leaves:
            # near misses: one character or one step off a valid value, where the name patterns' edges are
            path = draw(st.sampled_from(leaves))
            old = get(doc, path)
            if isinstance(old, str):
                at = draw(st.integers(0, len(old)))
                new: Any = old[:at] + draw(st.sampled_from([*" ;|&$`'\"\n\t\x00/:.-_A\u00e9\u202e", "..", "\r\n"])) + old[at:]
            elif isinstance(old, bool) or not isinstance(old, (int, float)):
                new = not old
            else:
                new = draw(st.sampled_from([old + 1, old - 1, -old, old * 1000, old + 0.5, str(old)]))
            doc = put(doc, path, new)
        elif op == "delete":
            path = draw(st.sampled_from([p for p in paths if p] or [()]))
            if path:
                del get(doc, path[:-1])[path[-1]]
        elif op == "add-key":
            dicts = [p for p in paths if isinstance(get(doc, p), dict)]
            if dicts:
                get(doc, draw(st.sampled_from(dicts)))[draw(identifiers)] = draw(values)
        elif op == "replace":
            # the top level only rarely: it makes every other mutation moot
            pick = leaves if draw(st.integers(0, 3)) > 0 else [p for p in paths if p]
            path = draw(st.sampled_from(pick or [()])) if draw(st.integers(0, 30)) else ()
            doc = put(doc, path, draw(values))
        elif op == "duplicate":
            lists = [p for p in paths if isinstance(get(doc, p), list) and get(doc, p)]
            if lists:
                items = get(doc, draw(st.sampled_from(lists)))
                items.insert(draw(st.integers(0, len(items))), copy.deepcopy(draw(st.sampled_from(items))))
        else:
            a, b = draw(st.sampled_from([p for p in paths if p] or [()])), draw(st.sampled_from([p for p in paths if p] or [()]))
            if a and b and a[: len(b)] != b and b[: len(a)] != a:
                va, vb = copy.deepcopy(get(doc, a)), copy.deepcopy(get(doc, b))
                doc = put(put(doc, a, vb), b, va)
        if not isinstance(doc, (dict, list)):
            break
    return doc


def parse_path(text: str) -> PathKey:
    parts: list[str | int] = []
    for m in re.finditer(r"([^.\[\]]+)|\[(\d+)\]", text):
        parts.append(int(m.group(2)) if m.group(2) is not None else m.group(1))
    return tuple(parts)


def lines_for(text: str, path: PathKey) -> set[int]:
    """Lines a person would look at for `path`: its node, or its key, or (when it is missing) its nearest parent's."""
    node = yaml.compose(text)
    assert node is not None
    lines = {node.start_mark.line + 1}
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = [(k, v) for k, v in node.value if k.value == part]
            if not found:
                break
            key, node = found[0]
            lines = {key.start_mark.line + 1, node.start_mark.line + 1}
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            lines = {node.start_mark.line + 1}
        else:
            break
    return lines


PATTERNS = {"name": names.TOPOLOGY_NAME, "host.name": names.HOSTNAME, "pf": names.LINUX_IFNAME, "port": names.JUNOS_PORT,
            "switch": names.HOSTNAME, "user": names.USERNAME, "env": names.ENV_VAR, "vlan": names.JUNOS_VLAN_NAME,
            "l3": names.JUNOS_L3_INTERFACE, "container": names.CONTAINER_NAME, "image": names.IMAGE_REF,
            "network": names.DOCKER_NETWORK, "ifname": names.LINUX_IFNAME, "mac": names.MAC}


def assert_every_name_is_safe(f: Path) -> None:
    t = load_topology(f).topology
    checks: list[tuple[str, str | None]] = [("name", t.name), ("host.name", t.host.name), ("switch", t.switch.name),
                                            ("switch", t.switch.host), ("user", t.switch.username), ("env", t.switch.password_env)]
    checks += [(k, v) for pf in t.host.pfs for k, v in (("pf", pf.name), ("port", pf.switch_port))]
    checks += [(k, v) for vl in t.vlans for k, v in (("vlan", vl.name), ("l3", vl.l3_interface))]
    for ct in t.containers:
        checks += [("container", ct.name), ("image", ct.image), ("network", ct.network)]
        checks += [(k, v) for vf in ct.vfs for k, v in (("pf", vf.pf), ("ifname", vf.ifname), ("mac", vf.mac))]
    for kind, value in checks:
        assert value is None or PATTERNS[kind].fullmatch(value), (kind, value)
    for path in (t.switch.key_file, t.switch.known_hosts):
        assert path is None or ("\x00" not in path and "\n" not in path)
    numvfs = {pf.name: pf.numvfs for pf in t.host.pfs}
    vlans = {v.id for v in t.vlans}
    for _, vf in t.attachments():
        assert vf.vf < numvfs[vf.pf] and vf.vlan in vlans
    assert all(math.isfinite(x) for x in (t.switch.timeout_s, t.checks.ping.timeout_s, t.checks.switch_learn_timeout_s))


@pytest.fixture(scope="module")
def work_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "topology.yaml"


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=mutated())
def test_mutated_seed_is_valid_or_refused_with_located_problems(doc: Any, work_file: Path) -> None:
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    work_file.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["validate", str(work_file), "--json"], out=out)
    assert code in (0, 2), (code, err.getvalue(), text)
    assert "Traceback" not in err.getvalue()
    report = json.loads(out.getvalue())
    if code == 0:
        assert report["valid"] is True
        assert_every_name_is_safe(work_file)
        return
    problems = report["problems"]
    assert report["valid"] is False and problems, text
    nlines = len(text.splitlines())
    for p in problems:
        assert p["file"] == str(work_file)
        assert isinstance(p["line"], int) and 1 <= p["line"] <= nlines, (p, text)
        assert p["line"] in lines_for(text, parse_path(p["path"])), (p, text)
    if isinstance(doc, dict):
        assert any(p["path"] for p in problems), problems
