"""A small TOML writer for case dicts (the standard library's :mod:`tomllib` only reads).

:func:`dumps` writes a dict of str keys whose values are str, bool, int, float, lists (written inline,
nested lists and dicts inside them as inline arrays / inline tables), dicts (written as ``[table]``
sections, nested ones as ``[a.b]``) and lists of dicts (written as ``[[array]]`` of tables).  Output
round-trips through :func:`tomllib.loads` to an equal dict (floats by ``repr``, so exactly).
"""
import json
import math
import re

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k):
    k = str(k)
    return k if _BARE.match(k) else json.dumps(k)


def _value(v):
    """One value as inline TOML."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)          # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _rows(v):
    """A value; a table (list of lists) of more than 3 rows one row per line (amplitude tables)."""
    if isinstance(v, list) and len(v) > 3 and all(isinstance(r, (list, tuple)) for r in v):
        return "[\n" + "".join(f"    {_value(r)},\n" for r in v) + "]"
    return _value(v)


def _is_table_array(v):
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _section(lines, path, d, top=False):
    """Append ``d`` under header ``path`` (a list of keys): plain keys first, then sub-tables."""
    plain = {k: v for k, v in d.items() if not isinstance(v, dict) and not (top and _is_table_array(v))}
    for k, v in plain.items():
        lines.append(f"{_key(k)} = {_rows(v)}")
    for k, v in d.items():
        if k in plain:
            continue
        sub = path + [_key(k)]
        if isinstance(v, dict):
            if not v or not all(isinstance(x, dict) for x in v.values()):   # else implied by [a.b]
                if lines:
                    lines.append("")
                lines.append(f"[{'.'.join(sub)}]")
            _section(lines, sub, v)
        else:                                          # a top-level array of tables
            for item in v:
                lines.append("")
                lines.append(f"[[{'.'.join(sub)}]]")
                for ik, iv in item.items():
                    lines.append(f"{_key(ik)} = {_value(iv)}")


def dumps(d, header=""):
    """TOML text of the dict ``d``; ``header`` (may hold several lines) becomes leading ``#`` comments.

    Arrays of tables are written as ``[[name]]`` at the top level only (deeper ones inline), which
    covers the case-file format (``[[displacement]]``, ``[[pressure]]``, ``[[gravity]]``).
    """
    lines = []
    for h in header.splitlines():
        lines.append(f"# {h}".rstrip())
    if lines:
        lines.append("")
    body = []
    _section(body, [], d, top=True)
    return "\n".join(lines + body) + "\n"
