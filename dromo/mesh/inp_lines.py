"""The lines of an Abaqus/CalculiX deck: ``*INCLUDE`` splicing, keyword checks, option parsing and the
strict number conversions of :mod:`dromo.mesh.inp` (which documents the conventions).

:func:`deck_lines` yields the non-comment lines of a deck (with their file and line number,
:class:`DeckLine`), :func:`check_keyword` refuses a keyword CalculiX 2.20 does not know,
:func:`parse_options` splits a keyword line; the ``_int``/``_floats``/... helpers convert data fields,
raising an :class:`~dromo.errors.InputError` that names the line.
"""
from __future__ import annotations

import difflib
import os
import re

from ..errors import InputError

__all__ = ["CALCULIX_KEYWORDS", "MAX_INCLUDE_DEPTH", "DeckLine", "check_keyword", "parse_options",
           "deck_lines"]

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


class DeckLine:
    """One data or keyword line: ``file`` (absolute path), ``no`` (1-based), ``text`` (stripped)."""

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
                yield DeckLine(cur, no, s)
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

