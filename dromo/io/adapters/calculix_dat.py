"""Integration-point values of CalculiX ``*EL PRINT`` blocks in the ``.dat`` file.

A block looks like::

     stresses (elem, integ.pnt.,sxx,syy,szz,sxy,sxz,syz) for set ALL and time  0.2500000E+00

             1   1  1.141933E+02  9.496339E-05 ...

Rows are ``element id, integration point number (1-based, CalculiX order), values``. Each row maps
to dromo's natural integration point (:class:`~dromo.io.adapters.IpIndex`: cell by cell in natural
cell order, point by point in CalculiX's order, which dromo's quadrature follows). Blocks of the same
quantity and time (several ``*EL PRINT`` sets) are merged; at each time every integration point of the
mesh must be given exactly once, or an :class:`~dromo.errors.InputError` names the file and line.
Nodal blocks (``*NODE PRINT``) and element-integrated quantities are skipped.

Two passes. The header pass (:class:`DatFile`, on rank 0) reads the whole file once, checks the block
headers, and records where each block's rows are (byte range, first line, value format), holding one row
at a time. The values are then parsed in parallel: :meth:`DatFile.step_parts` yields per time a
:class:`DatRows` per quantity, and every rank parses the rows that begin in its ``1/P`` of each block's
bytes (the ``.dat`` has no fixed record width: a rank seeks to its start, skips to the next line start and
parses the lines that begin before its end), with every check of the serial path (:func:`parse_rows`);
the rows carry their element and point, so they travel to their natural integration points
(:func:`~dromo.io.adapters.parallel_values.natural_block`). :meth:`DatFile.steps` is the serial path
(arrays built on one process), kept for readers that do not defer their values; both write the same
archive, bit for bit, and raise the same message (errors carry their file order: the first one is raised
whatever the rank count).

Fields (checked against ccx 2.20 with a homogeneous shear: the ``.dat`` order is xx, yy, zz, xy, xz,
yz with tensor shear components σ_ij, ε_ij):

=============================  ======  ==================================================
``.dat`` quantity              field   conversion
=============================  ======  ==================================================
stresses                       S       Mandel (shears × √2), order from the header names
strains                        E       Mandel (total strain; ccx prints tensor shears ε_ij)
mechanical strains             ME      Mandel
internal state variables       SDV     as written (SDV1..SDVn)
equivalent plastic strain      PEEQ    as written
other ``(elem, integ.pnt.,…)`` NAME    the quantity's name upper-cased, spaces -> ``_``
=============================  ======  ==================================================
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...errors import InputError
from ...parallel import get_logger
from . import FieldSpec, IpIndex, check_coverage, ip_rows, unknown_ids
from .parallel_values import RowParts, shared_lookup

log = get_logger("dromo.import")

MANDEL = ["xx", "yy", "zz", "xy", "xz", "yz"]
_HEAD = re.compile(rb"^\s*(?P<q>[A-Za-z][^(]*?)\s*\(elem,\s*integ\.\s*pnt\.,?(?P<c>[^)]*)\)\s*for set\s+"
                   rb"(?P<set>\S+)\s+and time\s+(?P<t>\S+)")
_ODD_BYTE = re.compile(rb"[^\x20-\x7e\t\r]")
_ANY_HEAD = re.compile(rb"^\s*[A-Za-z][^(]*(\(.*\))?\s*for (set\s*\S+|all [a-z ]+?)\s+and time\s+"
                       rb"[-+0-9.Ee]+\s*$")
#: ccx writes some headers without the blank after "for set" (heat flux of *HEAT TRANSFER): such
#: blocks are skipped, as other print blocks are
_HEAD_NOBLANK = re.compile(_HEAD.pattern.replace(rb"for set\s+", rb"for set\s*"))
_LOOSE_HEAD = re.compile(rb"for\s*set|and\s*time", re.I)          # what a header line holds
DAT_FIELDS = {"stresses": ("S", "stress at the integration points (Mandel)"),
              "strains": ("E", "total strain at the integration points (Mandel)"),
              "mechanical strains": ("ME", "mechanical strain at the integration points (Mandel)"),
              "internal state variables": ("SDV", "state variables at the integration points"),
              "equivalent plastic strain": ("PEEQ", "equivalent plastic strain")}
_TENSORS = ("stresses", "strains", "mechanical strains")
_PAIR = {"xx": 0, "yy": 1, "zz": 2, "xy": 3, "yx": 3, "xz": 4, "zx": 4, "yz": 5, "zy": 5}
SQ2 = np.sqrt(2.0)


def _tensor_perm(comps):
    """Header component names (e.g. sxx..syz) -> (perm, scale) to Mandel, or None."""
    if len(comps) != 6:
        return None
    slots = [_PAIR.get(c[-2:].lower()) for c in comps]
    if None in slots or sorted(slots) != list(range(6)):
        return None
    perm = np.empty(6, dtype=np.int64)
    perm[slots] = np.arange(6)
    return perm, np.array([1.0, 1.0, 1.0, SQ2, SQ2, SQ2])


class _Quantity:
    def __init__(self, qname, comps, n_values):
        self.qname = qname
        name, desc = DAT_FIELDS.get(qname, (re.sub(r"\W+", "_", qname).strip("_").upper(),
                                            f".dat *EL PRINT quantity '{qname}'"))
        conv = _tensor_perm(comps)
        if conv is not None:
            self.perm, self.scale = conv
            components = MANDEL
        else:
            self.perm = self.scale = None
            components = comps if len(comps) == n_values else \
                ([f"{name}{i + 1}" for i in range(n_values)] if n_values > 1 else [name])
        self.spec = FieldSpec(name, "ip", list(components), description=desc,
                              attrs={"dat_quantity": qname, "dat_components": list(comps)})
        self.n_values = n_values


def _bytes(a):
    """(..., W) uint8 view of a fixed-width bytes array (NUL-padded)."""
    return np.ascontiguousarray(a).view(np.uint8).reshape(a.shape + (a.dtype.itemsize,))


def _is_uint(a):
    """Elementwise: the token is a positive integer of at most 18 digits."""
    b = _bytes(a)
    digit = (b >= 48) & (b <= 57)
    n = (b != 0).sum(axis=-1)
    return (digit | (b == 0)).all(axis=-1) & (n >= 1) & (n <= 18) & (b[..., 0] != 0)


def _fixed_format(a, ref=None):
    """Elementwise: the token has the layout of ccx's ``%E`` values, the same for the whole block:
    ``[-]d.dddddd E±dd[d]`` with the ``E`` at one position (a field that lost or gained a character
    still parses as a number, but not with this layout). ``ref``: that position (the block's first token
    with the layout, :func:`_e_position`), default the first such token of ``a``."""
    b = _bytes(a)
    neg = (b[..., 0] == 45).astype(np.int64)
    n = (b != 0).sum(axis=-1) - neg
    e_pos = np.argmax((b == 69) | (b == 101), axis=-1) - neg
    has_e = ((b == 69) | (b == 101)).any(axis=-1)
    dot = np.argmax(b == 46, axis=-1) - neg
    exp_len = n - e_pos
    ok = has_e & (dot == 1) & (e_pos > 1) & (exp_len >= 4) & (exp_len <= 5)
    if ref is None:
        ref = e_pos[ok].flat[0] if ok.any() else 0
    return ok & (e_pos == ref)


def _e_position(tok):
    """Position of the ``E`` (after the sign) of one value token with the layout :func:`_fixed_format`
    accepts, or None: the block's reference position, found by the header pass."""
    body = tok[1:] if tok[:1] == b"-" else tok
    e = min((i for i in (body.find(b"E"), body.find(b"e")) if i >= 0), default=-1)
    if e <= 1 or body.find(b".") != 1 or not 4 <= len(body) - e <= 5:
        return None
    return e


def _error(check, msg):
    """InputError whose ``order`` ``(check,)`` ranks it among the errors of one block: checks in the
    order :func:`parse_rows` makes them (several ranks failing on one block raise the first one)."""
    exc = InputError(msg)
    exc.order = (check,)
    return exc


def parse_rows(path, lines, n_tok, first, head, allow_nonfinite=False):
    """Data lines (stripped, bytes) of one block -> ``(element ids (k,), point numbers (k,), values (k,
    n_tok - 2))``: every field must parse completely (ids: positive integers; values: finite numbers
    unless ``allow_nonfinite``; every value with the block's fixed format ``head["ref"]``). ``first``:
    the line number of ``lines[0]``, or a function returning it (called on errors only). An error names
    ``path``, the line, the quantity and time of ``head``, the element and point; its ``order``
    (:func:`_error`) ranks it among the errors of the block."""
    q = head["q"]

    def at(k):
        return (first() if callable(first) else first) + int(k)

    joined = b" ".join(lines)
    if _ODD_BYTE.search(joined):
        k = next(k for k, l in enumerate(lines) if _ODD_BYTE.search(l))
        raise _error(0, f"{path}:{at(k)}: {q} (time {head['t']:g}): control or non-ASCII byte in a "
                        f"data line {lines[k][:60]!r} (corrupted .dat file)")
    toks = joined.split()
    if len(toks) != len(lines) * n_tok:
        for k, l in enumerate(lines):
            if len(l.split()) != n_tok:
                raise _error(1, f"{path}:{at(k)}: {q} (time {head['t']:g}): expected {n_tok} "
                                f"numbers, got {l[:60]!r} (truncated .dat file?)")
    if not lines:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, n_tok - 2))
    a = np.array(toks).reshape(len(lines), n_tok)
    ids = a[:, :2]
    ok = _is_uint(ids)
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        raise _error(2, f"{path}:{at(r)}: {q} (time {head['t']:g}): "
                        f"{('element id', 'integration point')[c]} "
                        f"{ids[r, c].decode(errors='replace')!r} is not a positive integer")
    elem, ip = ids[:, 0].astype(np.int64), ids[:, 1].astype(np.int64)
    try:
        v = a[:, 2:].astype(np.float64)
    except ValueError:
        for r in range(len(a)):
            for c in range(2, n_tok):
                try:
                    float(a[r, c])
                except ValueError:
                    raise _error(3, f"{path}:{at(r)}: {q} (time {head['t']:g}), element {elem[r]}, "
                                    f"point {ip[r]}: value {c - 1} {a[r, c].decode(errors='replace')!r} "
                                    f"is not a number (truncated or corrupted .dat file?)") from None
        raise
    if not allow_nonfinite:
        bad = ~np.isfinite(v)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise _error(4, f"{path}:{at(r)}: {q} (time {head['t']:g}), element {elem[r]}, point "
                            f"{ip[r]}: value {c + 1} {a[r, c + 2].decode(errors='replace')!r} is not "
                            f"finite (--allow-nonfinite keeps such values)")
    # ccx prints every value with one fixed format (%E, 6 digits): a field that lost or gained a
    # character still parses, but not with the block's layout
    ok, fin = _fixed_format(a[:, 2:], head.get("ref")), np.isfinite(v)
    ok |= ~fin                          # kept on request (allow_nonfinite): written as nan/inf
    if v.size and not ok.all():
        r, c = np.argwhere(~ok)[0]
        like = head.get("like") or a[0, 2]
        raise _error(5, f"{path}:{at(r)}: {q} (time {head['t']:g}), element {elem[r]}, point "
                        f"{ip[r]}: value {c + 1} {a[r, c + 2].decode(errors='replace')!r} does not "
                        f"have the block's fixed format (like {like.decode(errors='replace')!r}): a "
                        f"cut or corrupted field")
    return elem, ip, v


class DatFile:
    """Streaming reader of the ``*EL PRINT`` blocks of a ``.dat`` file for one mesh."""

    def __init__(self, path, mesh, allow_nonfinite=False, allow_incomplete=False):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise InputError(f"{self.path}: .dat file not found")
        self.mesh = mesh
        self.allow_nonfinite = allow_nonfinite
        self.ips = IpIndex(mesh)
        self.quantities = {}
        #: quantity -> [(time, header line)] of its blocks, one entry per time (header pass)
        self.times = {}
        #: header dicts of the blocks, file order (:meth:`_blocks`: where their rows are)
        self.blocks = []
        # the header pass reads the whole file, so that a truncated file fails before any writing
        first = {}
        for head, _rows in self._blocks(values=False):
            self.blocks.append(head)
            h0 = first.setdefault(head["q"], head)
            if (head["c"], head["n"]) != (h0["c"], h0["n"]):
                raise InputError(f"{self.path}:{head['line']}: {head['q']} has the components "
                                 f"{head['c']} ({head['n']} values), its first block (line "
                                 f"{h0['line']}) {h0['c']} ({h0['n']} values)")
            qty = self.quantities.setdefault(head["q"], _Quantity(head["q"], head["c"], head["n"]))
            if head["q"] in _TENSORS and qty.perm is None:
                raise InputError(f"{self.path}:{head['line']}: {head['q']}: components "
                                 f"{head['c']} are not the six of a symmetric tensor")
            seen = self.times.setdefault(head["q"], [])
            if seen and head["t"] < seen[-1][0]:
                raise InputError(f"{self.path}:{head['line']}: {head['q']} at time {head['t']:g} "
                                 f"after time {seen[-1][0]:g} (line {seen[-1][1]}): times out of "
                                 f"order")
            if not seen or head["t"] != seen[-1][0]:
                seen.append((head["t"], head["line"]))
        if not self.quantities:
            log.warning("%s: no *EL PRINT integration-point blocks", self.path)
        if not allow_incomplete:
            self._check_every_time()

    def _check_every_time(self):
        """ccx prints every *EL PRINT quantity at the same increments (FREQUENCYF applies to all
        print requests): a quantity missing at a time between two of its blocks lost a block
        (deleted or corrupted header). A quantity may start or stop with a step (new requests)."""
        every = self.increment_times()
        for q, v in self.times.items():
            mine = {t for t, _ in v}
            missing = [t for t in every if v[0][0] < t < v[-1][0] and t not in mine]
            if missing:
                after = [line for t, line in v if t > missing[0]]
                self._incomplete(q, missing[0], after[0], f"it has {len(mine)} of the file's "
                                 f"{len(every)} times")

    def check_step_ends(self, steps):
        """ccx prints every requested quantity at the last increment of a step: ``steps`` is a list
        of (first time, last time) of the analysis steps (from the ``.frd``); a quantity printed in
        a step but not at its last printed time lost its trailing blocks (truncated .dat file)."""
        every = self.increment_times()
        for lo, hi in steps:
            tol = 1e-5 * max(abs(lo), abs(hi)) + 1e-300
            ts = [t for t in every if lo - tol <= t <= hi + tol]
            if not ts:
                continue
            for q, v in self.times.items():
                mine = [t for t, _ in v if lo - tol <= t <= hi + tol]
                if mine and mine[-1] != ts[-1]:
                    line = [ln for t, ln in v if t == mine[-1]][0]
                    self._incomplete(q, ts[-1], line, f"its step's last printed time; it has "
                                     f"{len(mine)} of the step's {len(ts)} times, the last at time "
                                     f"{mine[-1]:g}")

    def _incomplete(self, q, t, line, detail):
        raise InputError(f"{self.path}:{line}: {q}: no block at time {t:g} ({detail}): truncated "
                         f".dat file, or a deleted or corrupted block header? (--allow-incomplete "
                         f"imports what each quantity holds)")

    def increment_times(self):
        """Sorted times at which the imported quantities have blocks."""
        return sorted({t for v in self.times.values() for t, _ in v})

    def fields(self):
        return [q.spec for q in self.quantities.values()]

    # ------------------------------------------------------------------ parsing
    def _blocks(self, values=True):
        """Yield (header dict, (elem, ip, values, first line) or None) per *EL PRINT block, in file order.

        The header dict: ``q`` quantity, ``c`` component names, ``t`` time, ``set``, ``n`` values per row,
        ``line`` the header's line number; and where its rows are: ``first`` the line number of the first
        row, ``offset`` / ``end`` the byte range ``[offset, end)`` of the rows (every line of it is a row,
        newline included), ``rows`` their count, ``ref`` / ``like`` the block's value format (the ``E``
        position and first value, :func:`_fixed_format`). ``values=False`` (the header pass) keeps one row
        of a block in memory, not the block."""
        with open(self.path, "rb") as f:
            no = pos = 0               # line number / byte offset after the last line read
            pending = None
            last_row = gap = False     # the last non-blank line was a data row / and a blank followed
            while True:
                line = pending if pending is not None else f.readline()
                if pending is None:
                    no += 1
                    pos += len(line)
                pending = None
                if not line:
                    return
                m = _HEAD.match(line)
                if m is not None and _ODD_BYTE.search(line.rstrip(b"\r\n")):
                    raise InputError(f"{self.path}:{no}: control or non-ASCII byte in the block "
                                     f"header {line.strip()[:80]!r} (corrupted .dat file)")
                if m is None:
                    s = line.strip()
                    low = s.lower()
                    if _LOOSE_HEAD.search(s) and not _HEAD_NOBLANK.match(line) and (
                            b"integ" in low or b"pnt" in low or not _ANY_HEAD.match(line)):
                        raise InputError(f"{self.path}:{no}: unreadable block header {s[:80]!r} "
                                         f"(corrupted .dat file?)")
                    if not s:
                        gap = last_row
                    elif s[:1].isdigit() or s[:1] == b"-":
                        if gap:
                            raise InputError(f"{self.path}:{no}: a data row after the end of a "
                                             f"block, without a header line (header deleted or "
                                             f"corrupted?)")
                        last_row = True
                    else:
                        last_row = gap = False
                    continue
                head_no = no
                q = m.group("q").decode(errors="replace").strip().lower()
                comps = [c.strip() for c in m.group("c").decode(errors="replace").split(",") if c.strip()]
                if comps == ["values"]:
                    comps = []
                try:
                    t = float(m.group("t"))
                except ValueError:
                    t = None
                if t is None or not np.isfinite(t):
                    raise InputError(f"{self.path}:{no}: {q}: bad time "
                                     f"{m.group('t').decode(errors='replace')!r}")
                lines = []
                first_data = first_row = offset = ref = None
                n_rows = 0
                while True:
                    line = f.readline()
                    if not line:
                        break
                    no += 1
                    pos += len(line)
                    s = line.strip()
                    if not s:
                        if n_rows:
                            break
                        continue
                    if _ANY_HEAD.match(line) or not (s[:1].isdigit() or s[:1] == b"-"):
                        pending = line
                        no -= 1
                        break
                    if first_data is None:
                        first_data, first_row, offset = no, s, pos - len(line)
                    if ref is None:                # the first value with ccx's layout (row 1, mostly)
                        ref = next((e for e in map(_e_position, s.split()[2:]) if e is not None), None)
                    end = pos
                    n_rows += 1
                    if values:
                        lines.append(s)
                if pending is not None:
                    no += 1
                last_row, gap = bool(n_rows), bool(n_rows) and pending is None
                if not n_rows:
                    raise InputError(f"{self.path}:{head_no}: {q} (time {t:g}): a block header "
                                     f"without data rows (corrupted .dat file?)")
                toks = first_row.split()
                n_tok = len(toks)
                head = {"q": q, "c": comps, "t": t, "set": m.group("set").decode(), "n": n_tok - 2,
                        "line": head_no, "first": first_data, "offset": offset, "end": end,
                        "rows": n_rows, "ref": ref, "like": toks[2] if n_tok > 2 else b""}
                if not values:
                    yield head, None
                    continue
                yield head, parse_rows(self.path, lines, n_tok, first_data, head,
                                       self.allow_nonfinite) + (first_data,)

    def step_parts(self, select=None):
        """Yield ``(time, {field: DatRows})`` per time, the times :meth:`steps` yields: the blocks of one
        time and quantity (one per ``*EL PRINT`` set) become one :class:`DatRows`, parsed by every rank
        (:func:`~dromo.io.adapters.parallel_values.natural_block`) instead of an array built here."""
        pending = None
        for t, heads in itertools.groupby(self.blocks, key=lambda h: h["t"]):
            if pending is not None:
                yield pending
            of = {}
            for h in heads:
                qty = self.quantities[h["q"]]
                if select is None or qty.spec.name in select:
                    of.setdefault(qty.spec.name, (qty, []))[1].append(h)
            pending = t, {name: DatRows(self.ips.n, qty.spec.n_components,
                                        _time_where(self.path, hs[0]["line"], name, t), (), self.path,
                                        tuple(hs), qty.perm, qty.scale, self.allow_nonfinite)
                          for name, (qty, hs) in of.items()}
        if pending is not None and pending[1]:       # as steps(): a last time without fields is left out
            yield pending

    def steps(self, select=None):
        """Yield ``(time, {field: (n_ip, C) array})`` per time, merging the blocks of one time (the
        serial path: the whole file parsed here; :meth:`step_parts` shares the parsing over the ranks)."""
        group_t, vals, rows, heads = None, {}, {}, {}
        warned = set()

        def finish():
            for name, r in rows.items():
                r = np.concatenate(r)
                check_coverage(r, self.ips.n, _time_where(self.path, heads[name], name, group_t),
                               "integration point")
            return group_t, dict(vals)

        for head, (elem, ip, v, first) in self._blocks(values=True):
            if group_t is not None and head["t"] != group_t:
                yield finish()
                vals, rows, heads = {}, {}, {}
            group_t = head["t"]
            qty = self.quantities.get(head["q"])
            if qty is None:
                if head["q"] not in warned:
                    log.warning("%s:%d: *EL PRINT quantity %r appears after the first increment; "
                                "skipped", self.path, head["line"], head["q"])
                    warned.add(head["q"])
                continue
            name = qty.spec.name
            if select is not None and name not in select:
                continue
            if v.shape[1] != qty.n_values:
                raise InputError(f"{self.path}:{first}: {head['q']}: {v.shape[1]} values per "
                                 f"point, {qty.n_values} before")
            r = self.ips(elem, ip, _set_where(self.path, head))
            if qty.perm is not None:
                v = v[:, qty.perm] * qty.scale
            if name not in vals:
                vals[name] = np.full((self.ips.n, qty.spec.n_components), np.nan)
                rows[name], heads[name] = [], head["line"]
            vals[name][r] = v
            rows[name].append(r)
        if group_t is not None and vals:
            yield finish()


def _set_where(path, head):
    """The block ``head`` in messages about its rows (unknown element, point out of range)."""
    return f"{path}:{head['line']}: {head['q']} for set {head['set']}"


def _time_where(path, line, name, t):
    """Field ``name`` at time ``t`` (its first block's header at ``line``) in coverage messages."""
    return f"{path}:{line}: {name} at time {t:g}"


def _line_start(f, x, lo, hi):
    """The first line start at or after byte ``x`` in the range ``[lo, hi)`` of the open file ``f``
    whose lines all end with a newline (the last one maybe not): ``lo``, ``hi`` or just after a newline."""
    if x <= lo:
        return lo
    if x >= hi:
        return hi
    f.seek(x - 1)
    pos = x - 1
    while pos < hi:
        chunk = f.read(min(1 << 16, hi - pos))
        if not chunk:
            break
        k = chunk.find(b"\n")
        if k >= 0:
            return pos + k + 1
        pos += len(chunk)
    return hi


class _Piece:
    """The rows of one block that rank ``rank`` of ``size`` parses: the lines that begin in its share
    ``[offset + L·rank/size, offset + L·(rank + 1)/size)`` of the block's bytes (``L = end - offset``,
    :meth:`DatFile._blocks`). Consecutive ranks cut at the same line starts: every row is parsed once."""

    def __init__(self, path, head, rank, size):
        self.path, self.head = path, head
        a, b = head["offset"], head["end"]
        with open(path, "rb") as f:
            self.lo = _line_start(f, a + (b - a) * rank // size, a, b)
            hi = _line_start(f, a + (b - a) * (rank + 1) // size, a, b)
            f.seek(self.lo)
            self.buf = f.read(hi - self.lo)
        self._before = None

    def lines(self):
        """The piece's rows, stripped (as the serial path has them)."""
        if not self.buf:
            return []
        parts = self.buf.split(b"\n")
        if self.buf.endswith(b"\n"):
            parts.pop()
        return [l.strip() for l in parts]

    def rows_before(self):
        """Rows of the block before the piece (newlines counted on demand: error messages only)."""
        if self._before is None:
            n, pos = 0, self.head["offset"]
            with open(self.path, "rb") as f:
                f.seek(pos)
                while pos < self.lo:
                    chunk = f.read(min(1 << 20, self.lo - pos))
                    if not chunk:
                        break
                    n += chunk.count(b"\n")
                    pos += len(chunk)
            self._before = n
        return self._before

    def first_line(self):
        """Line number of the piece's first row."""
        return self.head["first"] + self.rows_before()


@dataclass
class DatRows(RowParts):
    """The blocks of one quantity at one time (one per ``*EL PRINT`` set) read in parts by every rank
    (:mod:`.parallel_values`): rank ``r`` of ``P`` parses the rows that begin in its ``1/P`` of each block's
    bytes (:class:`_Piece`; the ``.dat`` has no fixed record width), with every check of the serial path
    (:func:`parse_rows`, element and point numbers), maps them to natural integration points (the rows
    carry their element and point) and converts tensors to Mandel. An error's ``order`` (the block's
    byte offset, the check, the rank) makes every rank count raise the error the serial path raises
    (:func:`~dromo.io.adapters.parallel_values.raise_first`)."""

    item = "integration point"          # in coverage messages (a class attribute, not a field)
    path: str = ""
    blocks: tuple = ()                  # header dicts (DatFile._blocks) of the blocks, file order
    perm: Optional[np.ndarray] = None
    scale: Optional[np.ndarray] = None
    allow_nonfinite: bool = False

    def key(self):
        return ("dat", self.path, tuple(h["offset"] for h in self.blocks))

    lookup = "element"                  # the rows' element ids: looked up in the element directory

    def _parse(self, rank, size, cache):
        """Parse this rank's piece of each block, in file order, up to the first bad one: ``(state, element
        ids of the parsed blocks)``; a block's parse error is kept in the state and raised by
        :meth:`_resolve` after the earlier blocks' look-ups (the order of the serial path)."""
        n = self.blocks[0]["n"] if self.blocks else self.n_components       # values per row
        done, error = [], None
        for head in self.blocks:
            piece = _Piece(self.path, head, rank, size)
            try:
                elem, ip, v = parse_rows(self.path, piece.lines(), head["n"] + 2, piece.first_line,
                                         head, self.allow_nonfinite)
            except InputError as exc:
                exc.order = (head["offset"],) + getattr(exc, "order", (6,)) + (rank,)
                error = exc
                break
            done.append((head, piece, elem, ip, v))
        ids = np.concatenate([d[2] for d in done]).astype(np.int64) if done else np.zeros(0, np.int64)
        memo, fresh = shared_lookup(cache, "dat_ids", ids) if error is None else (None, True)
        return (done, error, n, rank, memo, fresh), (ids if fresh else np.zeros(0, np.int64))

    def _resolve(self, state, found, mesh, cache):
        done, error, n, rank, memo, fresh = state    # memo: an earlier quantity's cells, no look-up
        if not fresh:
            found = memo.rows
            if found is None:            # the quantity that looked them up failed: its error is raised
                return np.zeros(0, np.int64), np.zeros((0, n))
        rows, vals, at = [np.zeros(0, np.int64)], [np.zeros((0, n))], 0
        for head, piece, elem, ip, v in done:
            where = _set_where(self.path, head)
            cell = found[at:at + len(elem)]
            at += len(elem)
            try:
                r = self._ips(elem, ip, cell, mesh, where, 0)
            except InputError:           # again, numbering the records in the block: raises
                try:
                    r = self._ips(elem, ip, cell, mesh, where, piece.rows_before())
                except InputError as exc:
                    exc.order = (head["offset"],) + getattr(exc, "order", (6,)) + (rank,)
                    raise
            if self.perm is not None:
                v = v[:, self.perm] * self.scale
            rows.append(r)
            vals.append(v)
        if error is not None:
            raise error
        if memo is not None and fresh:
            memo.rows = found
        return np.concatenate(rows), np.concatenate(vals)

    @staticmethod
    def _ips(elem, ip, cell, mesh, where, first):
        """Natural integration points of the rows (:func:`~dromo.io.adapters.ip_rows`)."""
        cell = unknown_ids(elem, cell, where, "element", first, mesh.n_cells)
        n_qp, first_ip = mesh.ip_layout(cell)
        return ip_rows(elem, ip, n_qp, first_ip, where, first)
