"""The Abaqus/CalculiX ``.inp`` format: the one deck parser of dromo, and a mesh writer.

:func:`read_inp` returns the mesh (a serial :class:`~dromo.mesh.meshdata.MeshData`);
:func:`read_deck` returns the mesh *and* every other card of the deck (:class:`Deck`, a list of
:class:`Card`: keyword, options, data lines with their file and line number), which the CalculiX case
translation (:mod:`dromo.io.adapters.calculix_case`) interprets.  :func:`write_inp` writes a mesh and
its sets as a deck fragment.

Parser conventions
------------------
``*NODE``, ``*ELEMENT`` (C3D4, C3D10, C3D8, C3D8R, C3D8I, C3D20, C3D20R, C3D6), ``*NSET``/``*ELSET``
(``GENERATE``, references to earlier sets by name, ``*NSET, ELSET=``), ``*SURFACE`` (``TYPE=ELEMENT``
with faces ``S1..S6`` -> facet sets; ``TYPE=NODE`` -> node sets), ``*INCLUDE, INPUT=`` (path relative
to the including file; lines are spliced in place as CalculiX does), ``**`` comments, continuation
of element data lines ending with a comma (or filling 16 entries), case-insensitive keywords.  Other
keywords are kept as :class:`Card` objects (in deck order) for :func:`read_deck` and ignored by
:func:`read_inp`.  **Set and surface names are stored upper-case** (CalculiX semantics: names are
case-insensitive), so are keywords and option names; option values keep their case.
``CellBlock.rule`` is ``"reduced"`` for C3D8R/C3D20R.

Corrupt decks are refused, never read as other data: every violation below is an :class:`InputError`
naming the file and line.  A keyword must be one CalculiX 2.20 knows (:data:`CALCULIX_KEYWORDS`,
blanks ignored, or one of them followed by more characters, which ccx reads as that keyword:
``*FLUID SECTIONS``, but not ``*NODES``: dromo would skip what ccx reads as a mesh card); any other
keyword line is an error, with a "did you mean" hint for a misspelling, since its block would
otherwise vanish without a word.  Ids (node, element, connectivity, set and
surface entries) are decimal integers below 2**63; set entries and ``GENERATE`` ranges must name ids
that exist (a range is checked against the defined ids before it is expanded); node coordinates are
finite; ``*INCLUDE`` nests at most :data:`MAX_INCLUDE_DEPTH` files deep.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ..errors import InputError
from .meshdata import FACES, NODES_PER_CELL, CellBlock, MeshData, drop_unused_nodes, require_facet_cells

__all__ = ["read_inp", "read_deck", "write_inp", "Deck", "Card", "ABAQUS_TYPES", "CALCULIX_KEYWORDS",
           "check_keyword", "MAX_INCLUDE_DEPTH"]

#: Abaqus/CalculiX element type -> (dromo type, integration rule)
ABAQUS_TYPES = {"C3D4": ("tet4", "full"), "C3D10": ("tet10", "full"), "C3D8": ("hex8", "full"),
                "C3D8R": ("hex8", "reduced"), "C3D8I": ("hex8", "full"), "C3D20": ("hex20", "full"),
                "C3D20R": ("hex20", "reduced"), "C3D6": ("wedge6", "full")}
_TO_ABAQUS = {("tet4", "full"): "C3D4", ("tet10", "full"): "C3D10", ("hex8", "full"): "C3D8",
              ("hex8", "reduced"): "C3D8R", ("hex20", "full"): "C3D20", ("hex20", "reduced"): "C3D20R",
              ("wedge6", "full"): "C3D6", ("tet4", "reduced"): "C3D4", ("tet10", "reduced"): "C3D10",
              ("wedge6", "reduced"): "C3D6"}


#: Every keyword of CalculiX 2.20 (its manual's keyword list; the names ccx 2.20 compares a keyword
#: line with, blanks removed).  ``KINEMATIC`` and ``DISTRIBUTING`` are the second lines of ``*COUPLING``.
CALCULIX_KEYWORDS = (
    "AMPLITUDE", "BASE MOTION", "BEAM GENERAL SECTION", "BEAM SECTION", "BOUNDARY", "BOUNDARYF", "BUCKLE",
    "CFD", "CFLUX", "CHANGE FRICTION", "CHANGE MATERIAL", "CHANGE PLASTIC", "CHANGE SOLID SECTION",
    "CHANGE SURFACE BEHAVIOR", "CLEARANCE", "CLOAD", "COMPLEX FREQUENCY", "CONDUCTIVITY", "CONSTRAINT",
    "CONTACT DAMPING", "CONTACT FILE", "CONTACT OUTPUT", "CONTACT PAIR", "CONTACT PRINT", "CONTROLS",
    "CORRELATION LENGTH", "COUPLED TEMPERATURE-DISPLACEMENT", "COUPLING", "CRACK PROPAGATION", "CREEP",
    "CYCLIC HARDENING", "CYCLIC SYMMETRY MODEL", "DAMPING", "DASHPOT", "DEFORMATION PLASTICITY",
    "DENSITY", "DEPVAR", "DESIGN RESPONSE", "DESIGN VARIABLES", "DFLUX", "DISTRIBUTING",
    "DISTRIBUTING COUPLING", "DISTRIBUTION", "DISTRIBUTION TABLE", "DLOAD", "DSLOAD", "DYNAMIC",
    "ELASTIC", "ELECTRICAL CONDUCTIVITY", "ELECTROMAGNETICS", "ELEMENT", "ELEMENT OUTPUT", "EL FILE",
    "EL PRINT", "ELSET", "END STEP", "EQUATION", "EQUATIONF", "EXPANSION", "FEASIBLE DIRECTION", "FILM",
    "FILTER", "FLUID CONSTANTS", "FLUID SECTION", "FREQUENCY", "FRICTION", "GAP", "GAP CONDUCTANCE",
    "GAP HEAT GENERATION", "GEOMETRIC CONSTRAINT", "GEOMETRIC TOLERANCES", "GREEN", "HCF", "HEADING",
    "HEAT TRANSFER", "HYPERELASTIC", "HYPERFOAM", "INCLUDE", "INITIAL CONDITIONS",
    "INITIAL STRAIN INCREASE", "KINEMATIC", "MAGNETIC PERMEABILITY", "MASS", "MASS FLOW", "MATERIAL",
    "MEMBRANE SECTION", "MODAL DAMPING", "MODAL DYNAMIC", "MODEL CHANGE", "MPC", "NETWORK MPC",
    "NO ANALYSIS", "NODAL THICKNESS", "NODE", "NODE FILE", "NODE OUTPUT", "NODE PRINT", "NORMAL", "NSET",
    "OBJECTIVE", "ORIENTATION", "OUTPUT", "PHYSICAL CONSTANTS", "PLASTIC", "PRE-TENSION SECTION",
    "RADIATE", "RANDOM FIELD", "REFINE MESH", "RESTART", "RETAINED NODAL DOFS", "RIGID BODY",
    "ROBUST DESIGN", "SECTION PRINT", "SELECT CYCLIC SYMMETRY MODES", "SENSITIVITY", "SHELL SECTION",
    "SOLID SECTION", "SPECIFIC GAS CONSTANT", "SPECIFIC HEAT", "SPRING", "STATIC",
    "STEADY STATE DYNAMICS", "STEP", "SUBMODEL", "SUBSTRUCTURE GENERATE", "SUBSTRUCTURE MATRIX OUTPUT",
    "SURFACE", "SURFACE BEHAVIOR", "SURFACE INTERACTION", "TEMPERATURE", "TIE", "TIME POINTS",
    "TRANSFORM", "TRANSFORMF", "UNCOUPLED TEMPERATURE-DISPLACEMENT", "USER ELEMENT", "USER MATERIAL",
    "USER SECTION", "VALUES AT INFINITY", "VIEWFACTOR", "VISCO")
#: Keywords of decks in CalculiX's own test suite that ccx 2.20 skips with a warning (``*FACE PRINT``
#: of later versions, ``*MEMBRANE``): kept as cards, as ccx ignores them.
_SKIPPED_BY_CCX = ("FACE PRINT", "MEMBRANE")
#: The keywords dromo reads into the mesh: a keyword line ccx would read as one of them but dromo
#: does not recognize (``*NODES``) is an error, never a block that vanishes.
_MESH_KEYWORDS = ("NODE", "ELEMENT", "NSET", "ELSET", "SURFACE", "INCLUDE")
#: ``*INCLUDE`` files nested deeper than this are an error (a chain of files including each other)
MAX_INCLUDE_DEPTH = 100
_INT64_MAX = 2 ** 63 - 1


def _compact(keyword):
    return re.sub(r"\s+", "", keyword)


_KNOWN = {_compact(k): k for k in CALCULIX_KEYWORDS + _SKIPPED_BY_CCX}
_LONGEST_FIRST = sorted(_KNOWN, key=len, reverse=True)


def check_keyword(kw, where):
    """Raise an InputError (``where: unknown keyword *KW ...``) unless ``kw`` (as :func:`parse_options`
    returns it) is a CalculiX keyword: one of :data:`CALCULIX_KEYWORDS`, blanks ignored, or one of them
    followed by more characters (ccx compares the start only: ``*FLUID SECTIONS``) unless that one is a
    mesh keyword dromo reads, whose block would be skipped."""
    c = _compact(kw)
    if c in _KNOWN:
        return
    prefix = next((k for k in _LONGEST_FIRST if c.startswith(k)), None)
    if prefix is not None and _KNOWN[prefix] not in _MESH_KEYWORDS:
        return
    close = difflib.get_close_matches(kw, CALCULIX_KEYWORDS, n=1, cutoff=0.75)
    if prefix is not None and not close:       # what ccx would read it as
        close = [_KNOWN[prefix]]
    hint = f"did you mean *{close[0]}?" if close else "not a CalculiX 2.20 keyword"
    raise InputError(f"{where}: unknown keyword *{kw} ({hint})")


class _Line:
    __slots__ = ("file", "no", "text")

    def __init__(self, file, no, text):
        self.file, self.no, self.text = file, no, text

    def where(self):
        return f"{self.file}:{self.no}"


def parse_options(text):
    """'*ELEMENT, TYPE=C3D4, ELSET=A' -> ('ELEMENT', {'TYPE': 'C3D4', 'ELSET': 'A'}) (keys upper)."""
    parts = [p.strip() for p in text.split(",")]
    kw = parts[0].lstrip("*").strip().upper()
    kw = re.sub(r"\s+", " ", kw)
    opts = {}
    for p in parts[1:]:
        if not p:
            continue
        if "=" in p:
            k, v = p.split("=", 1)
            opts[k.strip().upper()] = v.strip().strip('"').strip("'")
        else:
            opts[p.strip().upper()] = ""
    return kw, opts


def _chain(files):
    """'a.inp -> b.inp -> ...' for messages, the middle left out of a long chain."""
    names = [files[0]] + [os.path.basename(f) for f in files[1:]]
    if len(names) > 6:
        names = names[:2] + [f"... ({len(names) - 5} more) ..."] + names[-3:]
    return " -> ".join(names)


def deck_lines(path, stack=()):
    """Yield the non-comment, non-blank lines of a deck with *INCLUDE files spliced in (at most
    :data:`MAX_INCLUDE_DEPTH` files deep; ``stack``: the files that include ``path``)."""
    path = os.path.abspath(path)
    if path in stack:
        raise InputError(f"{stack[-1]}: *INCLUDE loop through {path}")
    try:
        fh = open(path, "r", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc}") from exc
    files = [(path, fh, enumerate(fh, 1))]    # the open files, outermost first
    try:
        while files:
            cur, _fh, numbered = files[-1]
            for no, raw in numbered:
                s = raw.strip()
                if not s or s.startswith("**"):
                    continue
                if s.startswith("*") and s[1:].lstrip().upper().startswith("INCLUDE"):
                    _kw, opts = parse_options(s)
                    inc = opts.get("INPUT")
                    if not inc:
                        raise InputError(f"{cur}:{no}: *INCLUDE without INPUT=")
                    full = inc if os.path.isabs(inc) else os.path.join(os.path.dirname(cur), inc)
                    if not os.path.isfile(full):
                        raise InputError(f"{cur}:{no}: *INCLUDE file not found: {inc} (looked for "
                                         f"{full})")
                    full = os.path.abspath(full)
                    chain = list(stack) + [f for f, _h, _n in files]
                    if full in chain:
                        raise InputError(f"{cur}:{no}: *INCLUDE loop through {full} "
                                         f"({_chain(chain + [full])})")
                    if len(chain) >= MAX_INCLUDE_DEPTH:
                        raise InputError(f"{cur}:{no}: *INCLUDE nested more than {MAX_INCLUDE_DEPTH} "
                                         f"files deep: {_chain(chain + [full])}")
                    try:
                        inner = open(full, "r", errors="replace")
                    except OSError as exc:
                        raise InputError(f"{full}: cannot open: {exc}") from exc
                    files.append((full, inner, enumerate(inner, 1)))
                    break
                yield _Line(cur, no, s)
            else:                                 # this file is done: back to the including one
                files.pop()[1].close()
    finally:
        for _f, h, _n in files:
            h.close()


def _tokens(line):
    return line.text.replace(",", " ").split()


_INT = re.compile(r"[+-]?[0-9]+")
_REAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eEdD][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)",
                   re.IGNORECASE)
#: the characters of data numpy may convert in one go (numpy also takes '1_0', non-ASCII digits and
#: 'inf': those lines are read one by one, strictly)
_PLAIN_INTS = str.maketrans("", "", "0123456789+-, \t\n")
_PLAIN_REALS = str.maketrans("", "", "0123456789+-.eE, \t\n")


def _plain(chars, text):
    """Whether ``text`` (a str or data lines) holds only the characters of the table ``chars``."""
    if not isinstance(text, str):
        text = "\n".join(l.text for l in text)
    return text.isascii() and not text.translate(chars)


def _floats(tokens, line):
    out = []
    for t in tokens:
        if not _REAL.fullmatch(t):
            raise InputError(f"{line.where()}: expected numbers, got {line.text!r}")
        out.append(float(t.upper().replace("D", "E")))
    return out


def _int(tok, line, what="integer"):
    """``tok`` as an integer (decimal digits, below 2**63 in magnitude), else an InputError naming the
    line."""
    if not _INT.fullmatch(tok):
        raise InputError(f"{line.where()}: expected {what}s, got {line.text!r}")
    v = int(tok)
    if abs(v) > _INT64_MAX:
        raise InputError(f"{line.where()}: {what} {tok} is out of range (at most 2**63 - 1) in "
                         f"{line.text!r}")
    return v


def _ints(tokens, line, what="integer"):
    return [_int(t, line, what) for t in tokens]


def _element_ints(tokens, line, first):
    """An *ELEMENT data line as integers; ``first``: it starts a record (its first entry is the
    element id)."""
    if first and tokens:
        return [_int(tokens[0], line, "element id")] + _ints(tokens[1:], line, "node id")
    return _ints(tokens, line, "node id")


class _Range:
    """One ``GENERATE`` line of a ``*NSET``/``*ELSET``, expanded by :meth:`ids` against the ids that
    exist (so a range of 10**12 ids is refused at once, never allocated)."""
    __slots__ = ("kind", "name", "start", "end", "step", "line")

    def __init__(self, kind, name, start, end, step, line):
        self.kind, self.name, self.line = kind, name, line
        self.start, self.end, self.step = start, end, step

    def ids(self, sorted_ids):
        """The ids of the range (ascending); an InputError naming the line if one is not defined."""
        a, b, s = self.start, self.end, self.step
        n = (b - a) // s + 1
        lo, hi = np.searchsorted(sorted_ids, a, "left"), np.searchsorted(sorted_ids, b, "right")
        cand = sorted_ids[lo:hi]
        if a < 0:  # offsets may exceed int64: exact integers (ids <= 0 are refused later anyway)
            cand = cand.astype(object)
        if s != 1:
            cand = cand[(cand - a) % s == 0]
        if len(cand) == n:
            return np.asarray(cand, dtype=np.int64)
        expected = a + s * np.arange(len(cand), dtype=cand.dtype)
        wrong = np.flatnonzero(cand != expected)
        missing = a + s * int(wrong[0] if wrong.size else len(cand))
        noun = "node" if self.kind == "NSET" else "element"
        raise InputError(f"{self.line.where()}: *{self.kind} {self.name}: GENERATE {a}, {b}, {s} names "
                         f"undefined {noun} {missing} ({n} ids in the range, {len(cand)} of them "
                         f"defined)")


def _expand(parts, sorted_ids):
    """The ids of a set's parts (arrays and GENERATE ranges) in order."""
    out = [p.ids(sorted_ids) if isinstance(p, _Range) else p for p in parts]
    return np.concatenate(out) if out else np.empty(0, np.int64)


@dataclass
class Card:
    """One keyword of a deck with its data lines, kept as written (for the case translation).

    ``keyword``: upper-case, inner blanks collapsed (``"SOLID SECTION"``); ``options``: upper-case
    names -> values as written (``""`` for a flag such as ``DIRECT``); ``line``: the keyword line;
    ``data``: its data lines (comments and blank lines removed, ``*INCLUDE`` spliced in).
    """
    keyword: str
    options: Dict[str, str]
    line: _Line
    data: List[_Line] = field(default_factory=list)

    def where(self, line: Optional[_Line] = None) -> str:
        """``file:line`` of the keyword line (or of ``line``)."""
        return (line or self.line).where()

    def error(self, message: str, line: Optional[_Line] = None) -> InputError:
        """InputError naming the deck, the line and the card: ``file:no: *KEYWORD: message``."""
        return InputError(f"{self.where(line)}: *{self.keyword}: {message}")

    @staticmethod
    def fields(line: _Line) -> List[str]:
        """Comma-separated fields of a data line, stripped; empty fields kept (they mean "default"),
        a trailing comma adds none."""
        parts = [p.strip() for p in line.text.split(",")]
        return parts[:-1] if len(parts) > 1 and parts[-1] == "" else parts

    def floats(self, line: _Line, parts: Optional[List[str]] = None) -> List[Optional[float]]:
        """The fields of ``line`` (or ``parts``) as floats, ``None`` for an empty field (Fortran
        ``D`` exponents accepted); a non-number raises :meth:`error`."""
        out = []
        for tok in self.fields(line) if parts is None else parts:
            if not tok:
                out.append(None)
                continue
            try:
                out.append(float(tok.upper().replace("D", "E")))
            except ValueError:
                raise self.error(f"expected a number, got {tok!r} in {line.text!r}", line) from None
        return out

    def records(self, size: int, per_line: int = 8) -> List[List[Optional[float]]]:
        """The data as records of ``size`` numbers, each record on ``ceil(size / per_line)`` lines
        (Abaqus/CalculiX write at most 8 material constants per line, so ``*USER MATERIAL``
        constants and ``*ELASTIC, TYPE=ORTHO`` records span lines; the optional temperature comes
        last).  Missing or empty trailing fields are ``None``; a record longer than ``size`` or an
        incomplete last record raises :meth:`error`."""
        nl = -(-size // per_line)
        if len(self.data) % nl:
            raise self.error(f"expected records of {nl} line(s) ({size} values), got "
                             f"{len(self.data)} data line(s)", self.data[-1])
        out = []
        for i in range(0, len(self.data), nl):
            vals = [v for l in self.data[i:i + nl] for v in self.floats(l)]
            if len(vals) > size:
                raise self.error(f"a record has {len(vals)} values, at most {size} expected",
                                 self.data[i])
            out.append(vals + [None] * (size - len(vals)))
        return out


@dataclass
class Deck:
    """A whole deck: its mesh and sets (``mesh``, as :func:`read_inp` returns it) and every other
    card in deck order (``cards``: materials, sections, amplitudes, steps and their loads, ...)."""
    path: str
    mesh: MeshData
    cards: List[Card]


class _InpReader:
    """Reads a deck line by line: mesh keywords into arrays, every other keyword into a Card."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.node_chunks_id: List[np.ndarray] = []
        self.node_chunks_xyz: List[np.ndarray] = []
        self.node_lines: List[tuple] = []  # (ids array, first line) for duplicate reporting
        self.elem: List[dict] = []   # each: type, rule, ids, conn, lines(where per element)
        self.nsets: Dict[str, List[np.ndarray]] = {}
        self.esets: Dict[str, List[np.ndarray]] = {}
        self.nset_from_elset: List[tuple] = []  # (nset, elset, line)
        self.surfaces: Dict[str, List[tuple]] = {}  # name -> [(elset name or id, face, line)]
        self.cards: List[Card] = []  # every non-mesh keyword, in deck order

    # ---------------------------------------------------------------- driver
    def run(self):
        kw, opts, head, data = None, None, None, []
        for line in deck_lines(self.path):
            if line.text.startswith("*"):
                if kw is not None:
                    self.block(kw, opts, head, data)
                kw, opts = parse_options(line.text)
                check_keyword(kw, line.where())
                head, data = line, []
            elif kw is not None:
                data.append(line)
            else:
                raise InputError(f"{line.where()}: data line before any keyword: {line.text!r}")
        if kw is not None:
            self.block(kw, opts, head, data)

    def block(self, kw, opts, head, data):
        if kw == "NODE":
            self.nodes(opts, head, data)
        elif kw == "ELEMENT":
            self.elements(opts, head, data)
        elif kw == "NSET":
            self.sets(opts, head, data, "NSET")
        elif kw == "ELSET":
            self.sets(opts, head, data, "ELSET")
        elif kw == "SURFACE":
            self.surface(opts, head, data)
        else:  # kept for read_deck (materials, steps, loads, ...), ignored by read_inp
            self.cards.append(Card(kw, opts, head, data))

    # ---------------------------------------------------------------- *NODE
    def nodes(self, opts, head, data):
        if not data:
            return
        toks = [_tokens(l) for l in data]
        counts = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
        short = np.flatnonzero(counts < 4)
        if short.size:
            l = data[int(short[0])]
            raise InputError(f"{l.where()}: *NODE line has too few coordinates (need id, x, y, z): "
                             f"{l.text!r}")
        arr = None
        if (counts == 4).all() and _plain(_PLAIN_REALS, data):
            flat = [t for tt in toks for t in tt]
            try:
                arr = np.array(flat, dtype=np.float64).reshape(-1, 4)
            except ValueError:
                pass
        if arr is None:
            arr = np.array([_floats(t[:4], l) for t, l in zip(toks, data)], dtype=np.float64)
        fid = arr[:, 0]
        big = np.abs(fid) >= 2.0 ** 53          # beyond exact float integers: read the token itself
        bad = ~big & ((fid != np.round(fid)) | (fid < 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{data[i].where()}: bad node id {toks[i][0]!r} (node ids are integers "
                             f"from 1 to 2**63 - 1) in {data[i].text!r}")
        ids = np.where(big, 0, fid).astype(np.int64)
        for i in np.flatnonzero(big):
            tok = toks[i][0]
            if not _INT.fullmatch(tok) or not 1 <= int(tok) <= _INT64_MAX:
                raise InputError(f"{data[i].where()}: bad node id {tok!r} (node ids are integers "
                                 f"from 1 to 2**63 - 1) in {data[i].text!r}")
            ids[i] = int(tok)
        finite = np.isfinite(arr[:, 1:4]).all(axis=1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise InputError(f"{data[i].where()}: non-finite coordinate of node {ids[i]} in "
                             f"{data[i].text!r}")
        self.node_chunks_id.append(ids)
        self.node_chunks_xyz.append(arr[:, 1:4])
        self.node_lines.append((ids, data))
        if opts.get("NSET"):
            self.nsets.setdefault(opts["NSET"].upper(), []).append(ids)

    # ---------------------------------------------------------------- *ELEMENT
    def elements(self, opts, head, data):
        t = opts.get("TYPE", "").upper()
        if not t:
            raise InputError(f"{head.where()}: *ELEMENT without TYPE=")
        if t not in ABAQUS_TYPES:
            raise InputError(f"{head.where()}: unknown element type {t} (dromo reads "
                             f"{', '.join(ABAQUS_TYPES)})")
        etype, rule = ABAQUS_TYPES[t]
        nn = NODES_PER_CELL[etype]
        if not data:
            return
        toks = [_tokens(l) for l in data]
        counts = np.fromiter((len(x) for x in toks), dtype=np.int64, count=len(toks))
        trailing = np.fromiter((l.text.endswith(",") for l in data), dtype=bool, count=len(data))
        if (counts == nn + 1).all() and not trailing.any():
            arr = None
            if _plain(_PLAIN_INTS, data):
                try:
                    arr = np.array([x for tt in toks for x in tt], dtype=np.int64).reshape(-1, nn + 1)
                except (ValueError, OverflowError):
                    pass
            if arr is None:
                arr = np.array([_element_ints(x, l, True) for x, l in zip(toks, data)],
                               dtype=np.int64)
            where = data
        else:  # records spanning several lines
            recs, where, cur, first = [], [], [], None
            for x, l, tr in zip(toks, data, trailing):
                if first is None:
                    first = l
                cur.extend(_element_ints(x, l, not cur))
                # a record continues after a trailing comma, or after a full line of 16 entries
                if tr or (len(x) == 16 and len(cur) < nn + 1):
                    if len(cur) < nn + 1:
                        continue
                if len(cur) != nn + 1:
                    raise InputError(
                        f"{first.where()}: element {cur[0]} ({t}) has {len(cur) - 1} nodes, "
                        f"{t} needs {nn} (truncated or misformatted line?)")
                recs.append(cur)
                where.append(first)
                cur, first = [], None
            if cur:
                raise InputError(f"{first.where()}: element {cur[0]} ({t}) has {len(cur) - 1} "
                                 f"nodes, {t} needs {nn} (truncated file?)")
            arr = np.array(recs, dtype=np.int64).reshape(-1, nn + 1)
        self.elem.append({"type": etype, "rule": rule, "abaqus": t, "ids": arr[:, 0],
                          "conn": arr[:, 1:], "where": where})
        if opts.get("ELSET"):
            self.esets.setdefault(opts["ELSET"].upper(), []).append(arr[:, 0])

    # ---------------------------------------------------------------- *NSET / *ELSET
    def sets(self, opts, head, data, kind):
        name = opts.get(kind, "").upper()
        if not name:
            raise InputError(f"{head.where()}: *{kind} without {kind}=")
        store = self.nsets if kind == "NSET" else self.esets
        lst = store.setdefault(name, [])
        if kind == "NSET" and opts.get("ELSET"):
            self.nset_from_elset.append((name, opts["ELSET"].upper(), head))
        generate = "GENERATE" in opts
        for l in data:
            toks = _tokens(l)
            if generate:
                if len(toks) not in (2, 3) or not all(_INT.fullmatch(t) for t in toks):
                    raise InputError(f"{l.where()}: GENERATE needs integers start, end[, step]: "
                                     f"{l.text!r}")
                v = _ints(toks, l, "GENERATE bound")
                a, b, s = v[0], v[1], (v[2] if len(v) == 3 else 1)
                if s <= 0 or b < a:
                    raise InputError(f"{l.where()}: bad GENERATE range {l.text!r}")
                lst.append(_Range(kind, name, a, b, s, l))   # expanded in finish(), once ids are known
                continue
            if toks and _plain(_PLAIN_INTS, l.text):   # ids only: one conversion for the line
                try:
                    lst.append(np.array([int(t) for t in toks], dtype=np.int64))
                    continue
                except (ValueError, OverflowError):
                    pass                                  # token by token below, naming the culprit
            nums = []
            for tok in toks:
                if _INT.fullmatch(tok):
                    nums.append(_int(tok, l, "node id" if kind == "NSET" else "element id"))
                    continue
                ref = tok.upper()
                if ref not in store:
                    if _REAL.fullmatch(tok):
                        raise InputError(f"{l.where()}: {tok!r} in *{kind} {name} is not an integer id "
                                         f"(nor a set name): {l.text!r}")
                    what = "node set" if kind == "NSET" else "element set"
                    raise InputError(f"{l.where()}: unknown {what} {tok!r} referenced in "
                                     f"*{kind} {name}")
                lst.extend(list(store[ref]) if ref != name else [])
            if nums:
                lst.append(np.array(nums, dtype=np.int64))

    # ---------------------------------------------------------------- *SURFACE
    def surface(self, opts, head, data):
        name = opts.get("NAME", "").upper()
        if not name:
            raise InputError(f"{head.where()}: *SURFACE without NAME=")
        stype = opts.get("TYPE", "ELEMENT").upper()
        if stype == "NODE":
            lst = self.nsets.setdefault(name, [])
            for l in data:
                tok = [x.strip() for x in l.text.split(",") if x.strip()][:1]
                if not tok:
                    continue
                if _INT.fullmatch(tok[0]):
                    lst.append(np.array([_int(tok[0], l, "node id")], dtype=np.int64))
                    continue
                ref = tok[0].upper()
                if ref not in self.nsets:
                    raise InputError(f"{l.where()}: unknown node set {tok[0]!r} in *SURFACE {name}")
                lst.extend(self.nsets[ref])
            return
        if stype != "ELEMENT":
            raise InputError(f"{head.where()}: *SURFACE TYPE={stype} not supported (ELEMENT, NODE)")
        lst = self.surfaces.setdefault(name, [])
        for l in data:
            parts = [x.strip() for x in l.text.split(",") if x.strip()]
            if len(parts) < 2:
                raise InputError(f"{l.where()}: *SURFACE {name} line needs 'element or elset, Sn': "
                                 f"{l.text!r}")
            m = re.fullmatch(r"S(\d)", parts[1].upper())
            if not m:
                raise InputError(f"{l.where()}: unknown face label {parts[1]!r} in *SURFACE {name} "
                                 f"(expected S1..S6)")
            lst.append((parts[0], int(m.group(1)) - 1, l))

    # ---------------------------------------------------------------- assemble
    def finish(self, prune=True) -> MeshData:
        src = self.path
        if not self.node_chunks_id:
            raise InputError(f"{src}: no *NODE data (truncated or not an Abaqus/CalculiX deck?)")
        if not self.elem:
            raise InputError(f"{src}: no *ELEMENT data with volume elements")
        nid = np.concatenate(self.node_chunks_id)
        xyz = np.concatenate(self.node_chunks_xyz)
        order = np.argsort(nid, kind="stable")
        snid = nid[order]
        dup = np.flatnonzero(snid[1:] == snid[:-1])
        if dup.size:
            raise InputError(f"{src}: node id {snid[dup[0]]} defined more than once")

        def node_index(ids):
            pos = np.searchsorted(snid, ids)
            pos = np.minimum(pos, len(snid) - 1)
            ok = snid[pos] == ids
            return order[pos], ok

        # group element chunks by (type, rule), in order of first appearance
        groups: Dict[tuple, list] = {}
        for e in self.elem:
            groups.setdefault((e["type"], e["rule"]), []).append(e)
        blocks = []
        for (etype, rule), chunks in groups.items():
            ids = np.concatenate([c["ids"] for c in chunks])
            conn = np.concatenate([c["conn"] for c in chunks])
            idx, ok = node_index(conn.ravel())
            if not ok.all():
                bad = int(np.flatnonzero(~ok)[0])
                row = bad // conn.shape[1]
                # find the line of that element
                k = row
                for c in chunks:
                    if k < len(c["ids"]):
                        where = c["where"][k].where()
                        break
                    k -= len(c["ids"])
                raise InputError(f"{where}: element {ids[row]} references undefined node "
                                 f"{conn.ravel()[bad]}")
            blocks.append(CellBlock(etype, idx.reshape(conn.shape), ids, rule))
        all_eids = np.concatenate([b.ids for b in blocks])
        eorder = np.argsort(all_eids, kind="stable")
        seid = all_eids[eorder]
        dup = np.flatnonzero(seid[1:] == seid[:-1])
        if dup.size:
            raise InputError(f"{src}: element id {seid[dup[0]]} defined more than once")

        def elem_index(ids, what):
            ids = np.asarray(ids, dtype=np.int64)
            pos = np.minimum(np.searchsorted(seid, ids), len(seid) - 1)
            ok = seid[pos] == ids
            if not ok.all():
                raise InputError(f"{src}: {what} references undefined element "
                                 f"{ids[np.flatnonzero(~ok)[0]]}")
            return eorder[pos]

        element_sets = {}
        for name, parts in self.esets.items():
            element_sets[name] = elem_index(_expand(parts, seid), f"*ELSET {name}")
        node_sets = {}
        mesh0 = MeshData(xyz, blocks, nid, source=src)
        for name, parts in self.nsets.items():
            ids = _expand(parts, snid)
            idx, ok = node_index(ids)
            if not ok.all():
                raise InputError(f"{src}: *NSET {name} references undefined node "
                                 f"{ids[np.flatnonzero(~ok)[0]]}")
            node_sets[name] = idx
        for name, eset, head in self.nset_from_elset:
            if eset not in element_sets:
                raise InputError(f"{head.where()}: unknown element set {eset!r} in *NSET {name}")
            extra = np.concatenate([mesh0.blocks[b].cells[l].ravel() for b, l in
                                    zip(*mesh0.locate_cells(element_sets[eset]))] or
                                   [np.empty(0, np.int64)])
            node_sets[name] = np.concatenate([node_sets.get(name, np.empty(0, np.int64)), extra])
        facet_sets = {}
        for name, items in self.surfaces.items():
            cells_l, faces_l = [], []
            for ref, face, l in items:
                if _INT.fullmatch(ref):
                    c = elem_index([_int(ref, l, "element id")], f"{l.where()}: *SURFACE {name}")
                else:
                    if ref.upper() not in element_sets:
                        raise InputError(f"{l.where()}: unknown element set {ref!r} in *SURFACE "
                                         f"{name}")
                    c = element_sets[ref.upper()]
                cells_l.append(c)
                faces_l.append(np.full(len(c), face, dtype=np.int64))
            cells = np.concatenate(cells_l) if cells_l else np.empty(0, np.int64)
            faces = np.concatenate(faces_l) if faces_l else np.empty(0, np.int64)
            bi, loc = mesh0.locate_cells(cells)
            out: Dict[str, list] = {}
            for b in np.unique(bi):
                blk = blocks[b]
                nf = len(FACES[blk.type])
                for k in np.unique(faces[bi == b]):
                    if k >= nf:
                        c0 = cells[(bi == b) & (faces == k)][0]
                        raise InputError(f"{src}: *SURFACE {name}: face S{k + 1} of element "
                                         f"{all_eids[c0]} ({blk.type}) does not exist "
                                         f"(S1..S{nf})")
                    ft, idx = FACES[blk.type][k]
                    out.setdefault(ft, []).append(blk.cells[loc[(bi == b) & (faces == k)]][:, idx])
            facet_sets[name] = {t: np.concatenate(v) for t, v in out.items()}
        if prune:
            xyz, nid, blocks, node_sets, facet_sets = drop_unused_nodes(xyz, nid, blocks, node_sets,
                                                             facet_sets, src)
        return MeshData(xyz, blocks, nid, node_sets, element_sets, facet_sets, source=src).validate()


def _read(path, prune):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: mesh file not found")
    r = _InpReader(path)
    r.run()
    mesh = r.finish(prune=prune)
    mesh.source = path
    return mesh, r.cards


def read_inp(path, prune: bool = True) -> MeshData:
    """Read an Abaqus/CalculiX deck's mesh and sets (see the module docstring)."""
    return _read(path, prune)[0]


def read_deck(path, prune: bool = True) -> Deck:
    """Read a whole deck: its mesh and sets (as :func:`read_inp`) and every other card, in order."""
    mesh, cards = _read(path, prune)
    return Deck(os.path.abspath(os.fspath(path)), mesh, cards)


# ------------------------------------------------------------------------------------ .inp writer

def _set_name(name):
    """A name CalculiX accepts: letters, digits and underscores, upper-case, at most 80 chars."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).upper()
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "S_" + s
    return s[:80]


def _write_ids(fh, ids, per_line=16):
    ids = np.asarray(ids, dtype=np.int64)
    full = len(ids) // per_line * per_line
    if full:
        np.savetxt(fh, ids[:full].reshape(-1, per_line), fmt="%d", delimiter=",")
    if full < len(ids):
        fh.write(",".join(map(str, ids[full:].tolist())) + "\n")


def write_inp(mesh: MeshData, path, heading: str = "") -> None:
    """Write the mesh and its sets as an Abaqus/CalculiX deck fragment.

    Writes ``*NODE``, one ``*ELEMENT`` per block (TYPE from the block's type and rule: tet4 C3D4,
    tet10 C3D10, hex8 C3D8/C3D8R, hex20 C3D20/C3D20R, wedge6 C3D6), ``*NSET`` per node set, ``*ELSET``
    per element set and ``*SURFACE, TYPE=ELEMENT`` per facet set (each facet located on a cell face,
    written as ``element id, Sk``).  Set names are made CalculiX-safe (upper-case, ``[A-Z0-9_]``).
    External ids (``node_ids``, ``CellBlock.ids``) are written as they are.  No materials or steps:
    ``*INCLUDE`` the file from a deck.
    """
    path = os.fspath(path)
    mesh.validate()
    cell_ids = mesh.cell_ids
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"** {heading or 'mesh written by dromo'}\n")
        fh.write("*NODE\n")
        arr = np.column_stack([mesh.node_ids.astype(np.float64), mesh.points])
        np.savetxt(fh, arr, fmt=["%d", "%.17g", "%.17g", "%.17g"], delimiter=",")
        for b in mesh.blocks:
            t = _TO_ABAQUS[(b.type, b.rule)]
            fh.write(f"*ELEMENT, TYPE={t}\n")
            data = np.column_stack([b.ids, b.cells + 0]).astype(np.int64)
            data[:, 1:] = mesh.node_ids[b.cells]
            if data.shape[1] <= 16:
                np.savetxt(fh, data, fmt="%d", delimiter=",")
            else:  # hex20: id + 15 nodes, trailing comma, then the remaining nodes
                lines = np.char.add(np.char.add(_join(data[:, :16]), ",\n"), _join(data[:, 16:]))
                fh.write("\n".join(lines.tolist()) + "\n")
        for name, s in mesh.node_sets.items():
            fh.write(f"*NSET, NSET={_set_name(name)}\n")
            _write_ids(fh, mesh.node_ids[s])
        for name, s in mesh.element_sets.items():
            fh.write(f"*ELSET, ELSET={_set_name(name)}\n")
            _write_ids(fh, cell_ids[s])
        for name, d in mesh.facet_sets.items():
            rows = []
            for t, f in d.items():
                if not len(f):
                    continue
                cell, face = require_facet_cells(mesh, f, f"{path}: facet set {name!r} (cannot "
                                                          f"write it as an element surface)")
                rows.append(np.column_stack([cell_ids[cell], face + 1]))
            fh.write(f"*SURFACE, NAME={_set_name(name)}, TYPE=ELEMENT\n")
            if rows:
                np.savetxt(fh, np.concatenate(rows), fmt="%d,S%d")
    os.replace(tmp, path)


def _join(a):
    """(n, k) int array -> (n,) strings 'a,b,c'."""
    out = a[:, 0].astype(str)
    for j in range(1, a.shape[1]):
        out = np.char.add(np.char.add(out, ","), a[:, j].astype(str))
    return out
