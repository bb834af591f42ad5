"""Helpers shared by the JSON/text parsers of EOS and NX-OS (pure)."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from sriovcheck.parsers.tables import ParseError
from sriovcheck.topology.names import normalise_mac

_SWITCH_ERROR = re.compile(r"^\s*(?:% ?(?:Invalid|Incomplete|Ambiguous|Unrecognized|Error)|Invalid command|Syntax error|\^$)",
                           re.IGNORECASE | re.MULTILINE)


def shown(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return repr(line if len(line) <= 100 else line[:97] + "...")


def load_json(text: str) -> Any | None:
    """The JSON document in `text` (a prompt or echo before it is tolerated); None when the text is
    not JSON at all (the caller reads it as text). A JSON reply cut short raises ParseError."""
    start = text.find("{")
    if start < 0 or (text[:start].strip() and not all(_echo(line) for line in text[:start].splitlines() if line.strip())):
        return None
    body = text[start:].strip()
    end = body.rfind("}")
    try:
        return json.loads(body[: end + 1])
    except json.JSONDecodeError as exc:
        raise ParseError(f"the switch's JSON reply is damaged or cut short: {exc.msg} at character {exc.pos}") from exc


def structured(text: str) -> tuple[Any | None, str]:
    """(the JSON reply, or None; the text to read otherwise). Unwraps what APIs put around a reply:
    eAPI's result list (element 0; `{"output": TEXT}` for a text-encoded command) and NX-API's
    JSON-RPC `[{"jsonrpc", "result": {"body": ...}}]`. Text comes back with a common indentation
    removed (captures pasted into documents are often indented as a whole)."""
    stripped = text.lstrip()
    data: Any = None
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ParseError(f"the switch's JSON reply is damaged or cut short: {exc.msg} at character {exc.pos}") from exc
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, dict) and "jsonrpc" in data:
            result = data.get("result") or {}
            data = result.get("body", result) if isinstance(result, dict) else result
    else:
        data = load_json(text)
    if isinstance(data, dict) and set(data) == {"output"} and isinstance(data["output"], str):
        return None, textwrap.dedent(data["output"].expandtabs())
    if data is None:
        return None, textwrap.dedent(text.expandtabs())
    return data, text


def _echo(line: str) -> bool:
    s = line.strip()
    return s.startswith("show ") or bool(re.match(r"^[\w.-]+[>#]", s))


def check_error(text: str, what: str) -> None:
    m = _SWITCH_ERROR.search(text)
    if m:
        raise ParseError(f"the switch answered with an error instead of {what}: {shown(text[m.start():])}")


def rows(table: Any, table_key: str, row_key: str) -> list[dict[str, Any]]:
    """NX-OS' TABLE_x/ROW_x: ROW_x is a dict when there is one row, a list otherwise."""
    if not isinstance(table, dict):
        return []
    inner = table.get(table_key)
    if not isinstance(inner, dict):
        return []
    row = inner.get(row_key)
    if isinstance(row, dict):
        return [row]
    if isinstance(row, list):
        return [r for r in row if isinstance(r, dict)]
    return []


def mac(value: Any) -> str | None:
    return normalise_mac(str(value)) if value is not None else None


def columns(header: str, names: list[str]) -> list[int]:
    """Start positions of the named columns in a header line (-1 where a name is missing)."""
    return [header.find(n) for n in names]


def cut(line: str, starts: list[int]) -> list[str]:
    """The cells of a fixed-column row, cut at the header's column starts (a cell may hold spaces)."""
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(line)
        out.append(line[start:end].strip() if start >= 0 else "")
    return out


def chassis_mac(value: str) -> str:
    """A chassis id in MAC form as lower-case colon form; also a dotted MAC a digit short per group
    (EOS printed 00c.297b.d2a8 for 000c.297b.d2a8, napalm issue 903). Anything else as printed."""
    v = value.strip().strip('"')
    groups = v.split(".")
    if len(groups) == 3 and all(1 <= len(g) <= 4 and re.fullmatch(r"[0-9a-fA-F]+", g) for g in groups):
        return normalise_mac("".join(g.rjust(4, "0") for g in groups)) or v
    return normalise_mac(v) or v


def vlan_ranges(value: str) -> set[int] | None:
    """'200-201,300' -> {200, 201, 300}; 'ALL'/'1-4094' -> None (every VLAN); 'NONE'/'' -> set()."""
    v = value.strip().lower()
    if v in ("", "none"):
        return set()
    if v == "all":
        return None
    out: set[int] = set()
    for part in re.split(r"[,\s]+", v):
        if not part:
            continue
        if "-" in part:
            a, _, b = part.partition("-")
            if not (a.isdigit() and b.isdigit()):
                raise ParseError(f"{value!r} is not a VLAN list")
            lo, hi = int(a), int(b)
            if lo <= 1 and hi >= 4094:
                return None
            out.update(range(lo, hi + 1))
        elif part.isdigit():
            out.add(int(part))
        else:
            raise ParseError(f"{value!r} is not a VLAN list")
    return out


def age_seconds(value: Any) -> int | None:
    """'0:00:05 ago', '00:01:02', '5', 5, '2 days, 1:00:00' -> seconds; '-', 'N/A', None -> None."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    s = str(value).strip().removesuffix("ago").strip()
    days = re.match(r"^(\d+) days?, (.*)$", s)
    if days:
        rest = age_seconds(days.group(2))
        return None if rest is None else int(days.group(1)) * 86400 + rest
    if s.isdigit():
        return int(s)
    if re.fullmatch(r"\d+(?::\d{1,2}){1,2}", s):
        total = 0
        for part in s.split(":"):
            total = total * 60 + int(part)
        return total
    return None


def key_values(text: str) -> dict[str, str]:
    """'Key: value' lines (indentation ignored), the first of each key, keys lower-cased."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key and not key.startswith(("show", "%")):
            out.setdefault(key.strip().lower(), value.strip())
    return out


def first_int(value: Any) -> int | None:
    """The integer a cell starts with ("1500", " 9216 bytes", 200), or None for an empty or other cell."""
    try:
        return int(str(value).strip().split()[0])
    except (ValueError, IndexError):
        return None


def expand_interface(value: str, short_names: tuple[tuple[str, str], ...]) -> str:
    """An interface name in full by a (short prefix, full name) table: with (("et", "Ethernet"),)
    Et1 -> Ethernet1 and ethernet1 -> Ethernet1; a name no entry matches stays as it is."""
    v = value.strip()
    low = v.lower()
    for short, full in short_names:
        if low.startswith(full.lower()):
            return full + v[len(full):]
        if low.startswith(short) and v[len(short):][:1].isdigit():
            return full + v[len(short):]
    return v
