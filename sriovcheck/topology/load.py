"""Read a topology file and report every problem in it at once, each with file:line and path."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sriovcheck.errors import Problem, TopologyError
from sriovcheck.topology.model import Container, Host, Switch, Topology, Vlan
from sriovcheck.topology.paths import PathKey, format_path, mark_for

__all__ = ["LoadedTopology", "PathKey", "format_path", "load_text", "load_topology", "mark_for"]

MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LoadedTopology:
    topology: Topology
    file: str
    sha256: str
    marks: dict[PathKey, tuple[int, int]]


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader that stops composing after MAX_NODES nodes, so that a huge flat document is
    refused after reading a small part of it, not after building millions of nodes."""

    nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        return super().compose_node(parent, index)


class _TooBig(Exception):
    def __init__(self, mark: yaml.Mark | Any) -> None:  # PyYAML's Mark, or libyaml's (same line and column)
        self.line: int | None = mark.line + 1 if mark is not None else None
        self.column: int | None = mark.column + 1 if mark is not None else None


_NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)


def _libyaml_reads_it(text: str) -> bool:
    """Count the document's nodes with libyaml's parser (C, ~15x faster than the pure-Python scanner) and raise
    _TooBig at the node past MAX_NODES, so that a huge document costs a fraction of a second. True when libyaml
    read the whole document without a syntax error: then it may compose it too. A syntax error, or no libyaml,
    is left to the pure-Python composer, whose messages (and marks) the corpus of bad topologies pins."""
    if not getattr(yaml, "__with_libyaml__", False):
        return False
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, _NODE_EVENTS):
                nodes += 1
                if nodes > MAX_NODES:
                    raise _TooBig(event.start_mark)
    except yaml.YAMLError:
        return False
    return True


def _compose(text: str, file: str) -> yaml.Node | None:
    loader: _MarkedLoader | None = None  # built only when needed: its reader scans the whole text (40 ms at 4 MB)
    try:
        if _libyaml_reads_it(text):
            fast = yaml.CSafeLoader(text)
            try:
                return fast.get_single_node()
            except yaml.YAMLError:
                pass  # an undefined alias, a duplicate anchor: PyYAML's composer says it with the name in it
            finally:
                fast.dispose()
        loader = _MarkedLoader(text)
        return loader.get_single_node()
    except _TooBig as big:
        raise TopologyError(
            [
                Problem(
                    file,
                    big.line,
                    big.column,
                    "",
                    f"the document has more than {MAX_NODES} nodes; a topology is far smaller",
                )
            ]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


MAX_NODES = 100_000
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class _Budget:
    """Guards against alias bombs and recursive aliases (a: &x [*x])."""

    def __init__(self) -> None:
        self.nodes = 0
        self.active: set[int] = set()


def _walk(
    node: yaml.Node,
    path: PathKey,
    marks: dict[PathKey, tuple[int, int]],
    problems: list[Problem],
    file: str,
    budget: _Budget | None = None,
    key_mark: tuple[int, int] | None = None,
) -> Any:
    budget = budget or _Budget()
    budget.nodes += 1
    here = (node.start_mark.line + 1, node.start_mark.column + 1)
    if budget.nodes > MAX_NODES:
        raise TopologyError(
            [
                Problem(
                    file,
                    here[0],
                    here[1],
                    format_path(path),
                    f"the document has more than {MAX_NODES} nodes (an alias bomb?); a topology is far smaller",
                )
            ]
        )
    if id(node) in budget.active:
        raise TopologyError([Problem(file, here[0], here[1], format_path(path), "a recursive YAML alias refers to itself")])
    # For a mapping or list, its key's line is where a person looks for it.
    is_collection = isinstance(node, (yaml.MappingNode, yaml.SequenceNode))
    marks[path] = key_mark if (is_collection and key_mark) else here
    budget.active.add(id(node))
    try:
        return _walk_node(node, path, marks, problems, file, budget)
    finally:
        budget.active.discard(id(node))


def _unreadable(node: yaml.Node, path: PathKey, file: str, why: str) -> Problem:
    return Problem(file, node.start_mark.line + 1, node.start_mark.column + 1, format_path(path),
                   f"cannot read this value: {why} (only plain YAML values are allowed)")


def _walk_node(
    node: yaml.Node, path: PathKey, marks: dict[PathKey, tuple[int, int]], problems: list[Problem], file: str, budget: _Budget
) -> Any:
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_COLLECTION_TAGS:
        problems.append(_unreadable(node, path, file, f"tag {node.tag!r} is not allowed"))
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        format_path(path),
                        "a key must be a plain name, not a list or mapping",
                    )
                )
                continue
            key = key_node.value
            child = (*path, key)
            if key in out:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        format_path(child),
                        f"duplicate key {key!r}: each key may appear once",
                    )
                )
                continue
            km = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            marks[(*child, "__key__")] = km
            out[key] = _walk(value_node, child, marks, problems, file, budget, km)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, (*path, i), marks, problems, file, budget) for i, v in enumerate(node.value)]
    # Scalars: let SafeLoader's resolver decide the type (int, bool, null, str ...), except
    # YAML 1.1's base-60 numbers: 52:54:00:12:34:56 is a MAC, not 41135085296.
    if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT) and ":" in node.value:
        return node.value
    loader = _MarkedLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problems.append(_unreadable(node, path, file, str(getattr(exc, "problem", None) or exc)))
        return None
    finally:
        loader.dispose()


def _pydantic_problems(exc: ValidationError, file: str, marks: dict[PathKey, tuple[int, int]]) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc: PathKey = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        kind = err["type"]
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        found = err.get("input")
        if kind == "extra_forbidden":
            key_mark = marks.get((*loc, "__key__"))
            line, col = key_mark if key_mark else mark_for(marks, loc)
            parent = format_path(loc[:-1]) or "the top level"
            msg = f"unknown key {loc[-1]!r} in {parent}; check the spelling (allowed keys are listed by `sriovcheck schema`)"
        elif kind == "missing":
            line, col = mark_for(marks, loc[:-1])
            msg = f"required key {loc[-1]!r} is missing"
        else:
            line, col = mark_for(marks, loc)
            if kind not in ("value_error", "assertion_error") and found is not None and not isinstance(found, (dict, list)):
                shown = repr(found) if len(repr(found)) <= 80 else repr(found)[:77] + "..."
                msg = f"{msg} (found {shown})"
        problems.append(Problem(file, line, col, format_path(loc), msg))
    return problems


def _valid(model: Any, value: Any) -> Any:
    try:
        return model.model_validate(value)
    except (ValidationError, TypeError, ValueError):
        return None


# A required field whose value is invalid, but that no cross-object rule needs the value of:
# a stand-in (a valid, unlikely name) lets the item's other fields be checked.
_STAND_INS = {"ifname": "unread{i}"}


def _without_bad_fields(model: Any, item: Any, index: int) -> Any:
    """The item with its invalid optional fields left out (defaults apply) and stand-ins for the
    required ones in _STAND_INS; None when anything else is wrong with it."""
    if not isinstance(item, dict):
        return None
    try:
        model.model_validate(item)
    except ValidationError as exc:
        bad = {err["loc"][0] for err in exc.errors(include_url=False) if err["loc"]}
    except (TypeError, ValueError):
        return None
    else:
        return None
    fields = model.model_fields
    fixed = {k: v for k, v in item.items() if k not in bad}
    for name in bad:
        if name in _STAND_INS:
            fixed[name] = _STAND_INS[name].format(i=index)
        elif name not in fields or fields[name].is_required():
            return None
    return _valid(model, fixed)


def _unread_references(data: dict[str, Any], partial: Topology) -> tuple[str, ...]:
    """Messages not to give on a partial topology: a reference to a PF or VLAN that is declared, but
    whose declaration the schema refused, is not "not declared" (its own problem is reported)."""
    host = data.get("host")
    pfs = host.get("pfs") if isinstance(host, dict) else None
    raw_pfs = {p.get("name") for p in pfs if isinstance(p, dict)} if isinstance(pfs, list) else set()
    vlans = data.get("vlans")
    raw_vlans = {v.get("id") for v in vlans if isinstance(v, dict)} if isinstance(vlans, list) else set()
    kept_pfs = {p.name for p in partial.host.pfs}
    kept_vlans = {v.id for v in partial.vlans}
    out = [f"PF {name!r} is not declared" for name in raw_pfs - kept_pfs if isinstance(name, str)]
    out += [f"VLAN {vid} is not declared" for vid in raw_vlans - kept_vlans if isinstance(vid, int)]
    # a PF or VLAN without a usable name may be any of them: no "not declared" about that kind at all
    if any(not isinstance(name, str) for name in raw_pfs):
        out += ["PF '", "VF index "]
    if any(not isinstance(vid, int) or isinstance(vid, bool) for vid in raw_vlans):
        out += ["VLAN "]
    return tuple(out)


def _partial(data: dict[str, Any]) -> tuple[Topology, dict[PathKey, list[int]]] | None:
    """A topology of the parts that validate on their own (lists keep their valid items), and for
    each list the original index of each kept item; None when host or switch cannot be read at all."""
    index_map: dict[PathKey, list[int]] = {}

    def keep(path: PathKey, model: Any, items: Any) -> list[Any]:
        out, where = [], []
        for i, item in enumerate(items if isinstance(items, list) else []):
            ok = _valid(model, item) or _without_bad_fields(model, item, i)
            if ok is not None:
                out.append(ok)
                where.append(i)
        index_map[path] = where
        return out

    got = data.get("host")
    raw_host: dict[str, Any] = got if isinstance(got, dict) else {}
    from sriovcheck.topology.model import Pf

    pfs = keep(("host", "pfs"), Pf, raw_host.get("pfs"))
    host = _valid(Host, {**raw_host, "pfs": [p.model_dump() for p in pfs]}) if pfs else None
    if host is None:
        host = Host.model_construct(name=str(raw_host.get("name") or "host"), pfs=pfs)
    switch = _valid(Switch, data.get("switch"))
    if switch is None:  # unreadable: no rule about it (its own problems are already reported)
        unread = "UNREAD"  # the name of a variable, not a secret: keeps the credentials rule quiet
        switch = Switch.model_construct(name="switch", host="", username="", password_env=unread, key_file=None)
    vlans = keep(("vlans",), Vlan, data.get("vlans"))
    containers = []
    where: list[int] = []
    raw_containers = data.get("containers")
    for ci, ct in enumerate(raw_containers if isinstance(raw_containers, list) else []):
        if not isinstance(ct, dict):
            continue
        from sriovcheck.topology.model import VfSpec

        vfs = keep(("containers", len(where), "vfs"), VfSpec, ct.get("vfs"))
        index_map[("containers", ci, "vfs")] = index_map.pop(("containers", len(where), "vfs"))
        ok = _valid(Container, {**ct, "vfs": [v.model_dump() for v in vfs]}) if vfs else None
        if ok is None:
            name = str(ct.get("name") or f"container-{ci}")
            ok = Container.model_construct(name=name, image="", vfs=vfs, network=str(ct.get("network") or "bridge"))
        containers.append(ok)
        where.append(ci)
    index_map[("containers",)] = where
    # vfs maps are keyed by the original container index; the rules see kept positions
    vf_maps = {k: v for k, v in index_map.items() if len(k) == 3 and k[0] == "containers"}
    for k in vf_maps:
        del index_map[k]
    for new, orig in enumerate(where):
        if ("containers", orig, "vfs") in vf_maps:
            index_map[("containers", new, "vfs")] = vf_maps[("containers", orig, "vfs")]
    t = Topology.model_construct(name=str(data.get("name") or "topology"), description=None, host=host, switch=switch,
                                 vlans=vlans, containers=containers, handover=None)
    return t, index_map


def load_text(text: str, *, file: str = "<topology>") -> LoadedTopology:
    """Parse and validate topology text; raise TopologyError listing every problem."""
    from sriovcheck.topology.rules import semantic_problems

    problems: list[Problem] = []
    try:
        node = _compose(text, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = f"not valid YAML: {exc.problem or exc}"
        # An unclosed quote or bracket is found at the end of the file; the line to fix is
        # where it was opened (the context mark).
        if exc.context_mark is not None and exc.problem_mark is not None and exc.context_mark.line != exc.problem_mark.line:
            what += f" ({exc.context} at line {exc.context_mark.line + 1}; found at line {exc.problem_mark.line + 1})"
            mark = exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise TopologyError([Problem(file, line, col, "", what)]) from None
    except yaml.YAMLError as exc:
        raise TopologyError([Problem(file, None, None, "", f"not valid YAML: {exc}")]) from None
    if node is None:
        raise TopologyError(
            [Problem(file, 1, None, "", "the file is empty; a topology is a mapping with name, host, switch, vlans and containers")]
        )
    marks: dict[PathKey, tuple[int, int]] = {}
    data = _walk(node, (), marks, problems, file)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} value"
        raise TopologyError(
            [
                Problem(
                    file,
                    node.start_mark.line + 1,
                    node.start_mark.column + 1,
                    "",
                    f"the top level is {kind}; a topology is a mapping with keys name, host, switch, vlans, containers",
                )
            ]
        )
    switch = data.get("switch")
    if isinstance(switch, dict) and "password" in switch:
        line, col = marks.get(("switch", "password", "__key__"), (None, None))
        problems.append(
            Problem(
                file,
                line,
                col,
                "switch.password",
                "a literal password is refused: put it in an environment variable named by "
                "switch.password_env (e.g. SRIOVCHECK_SWITCH_PASSWORD), or use switch.key_file",
            )
        )
        switch = {k: v for k, v in switch.items() if k != "password"}
        data = {**data, "switch": switch}
    topology: Topology | None = None
    try:
        topology = Topology.model_validate(data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, file, marks))
    if topology is not None:
        problems.extend(semantic_problems(topology, file, marks))
    else:
        # Every problem at once: check what can be checked on the parts that parsed. Best effort on
        # a document the schema refused: whatever shape it has, the schema's problems stand alone.
        try:
            partial = _partial(data)
            if partial is not None:
                found = semantic_problems(partial[0], file, marks, index_map=partial[1])
                seen = {(p.path, p.message) for p in problems}
                unread = _unread_references(data, partial[0])
                problems.extend(p for p in found if (p.path, p.message) not in seen and not p.message.startswith(unread))
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            pass
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.path))
        raise TopologyError(problems)
    assert topology is not None
    sha = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    return LoadedTopology(topology=topology, file=file, sha256=sha, marks=marks)


def load_topology(path: str | Path) -> LoadedTopology:
    """Read a topology file; every failure (missing, unreadable, binary, invalid) is a TopologyError."""
    p = Path(path)
    file = str(path)
    if not file or "\x00" in file:
        raise TopologyError(
            [
                Problem(
                    repr(file), None, None, "", "not a usable file name (empty, or with a NUL byte): give the path of a topology YAML file"
                )
            ]
        )
    try:
        if p.is_dir():
            raise TopologyError([Problem(file, None, None, "", "is a directory; give the path of a topology YAML file")])
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise TopologyError(
                [Problem(file, None, None, "", "is not a regular file (a device, FIFO or socket); give a topology YAML file")]
            )
        size = st.st_size
        if size > MAX_FILE_BYTES:
            raise TopologyError(
                [Problem(file, None, None, "", f"the file is {size} bytes; a topology file may be at most {MAX_FILE_BYTES} bytes")]
            )
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # the file may grow after stat()
        if len(raw) > MAX_FILE_BYTES:
            raise TopologyError(
                [Problem(file, None, None, "", f"the file is larger than {MAX_FILE_BYTES} bytes; a topology file is far smaller")]
            )
    except FileNotFoundError:
        raise TopologyError([Problem(file, None, None, "", "no such file; check the path (topologies/ has examples)")]) from None
    except PermissionError:
        raise TopologyError([Problem(file, None, None, "", "permission denied reading the file")]) from None
    except OSError as exc:
        raise TopologyError([Problem(file, None, None, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise TopologyError([Problem(file, None, None, "", "the file is UTF-16; save it as UTF-8 (YAML text)")])
    if b"\x00" in raw:
        raise TopologyError([Problem(file, None, None, "", "the file is binary (it contains NUL bytes); a topology file is YAML text")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TopologyError(
            [Problem(file, line, None, "", f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})")]
        ) from None
    return load_text(text, file=file)
