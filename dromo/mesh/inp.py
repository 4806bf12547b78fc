"""The Abaqus/CalculiX ``.inp`` format: the one deck parser of dromo, and a mesh writer.

:func:`read_inp` returns the mesh (a serial :class:`~dromo.mesh.meshdata.MeshData`);
:func:`read_deck` returns the mesh *and* every other card of the deck (:class:`Deck`, a list of
:class:`Card`: keyword, options, data lines with their file and line number), which the CalculiX case
translation (:mod:`dromo.io.adapters.calculix_case`) interprets.  :func:`write_inp` (in
:mod:`.inp_write`) writes a mesh and its sets as a deck fragment; :mod:`.inp_lines` reads the lines
(``*INCLUDE``, keywords, numbers), :mod:`.inp_sets` expands ``GENERATE`` ranges.

Parser conventions
------------------
``*NODE`` (omitted coordinates are 0: ``1, 2.`` is node 1 at (2, 0, 0)), ``*ELEMENT`` (C3D4, C3D10,
C3D8, C3D8R, C3D8I, C3D20, C3D20R, C3D6, C3D15; a line listing more nodes than the type has keeps the
first ones, as ccx does, with one warning per card giving the count), ``*NSET``/``*ELSET``
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
surface entries) are decimal integers below 2**63; set entries must name ids that exist; a
``GENERATE`` range takes the ids of the range that exist, as ccx does (a range over a gap in the
numbering: one warning; it is expanded against the defined ids, never allocated whole), and must name
at least one; node coordinates are finite; ``*INCLUDE`` nests at most :data:`MAX_INCLUDE_DEPTH` files deep.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ..errors import InputError
from ..parallel import get_logger
from .inp_lines import (_INT, _INT64_MAX, _PLAIN_INTS, _PLAIN_REALS, _REAL, CALCULIX_KEYWORDS,
                        MAX_INCLUDE_DEPTH, DeckLine, _element_ints, _floats, _int, _ints, _plain, _tokens,
                        check_keyword, deck_lines, parse_options)
from .inp_sets import GenerateRange, expand
from .inp_write import write_inp
from .meshdata import FACES, NODES_PER_CELL, CellBlock, MeshData, drop_unused_nodes

log = get_logger("dromo.mesh")

__all__ = ["read_inp", "read_deck", "write_inp", "Deck", "Card", "ABAQUS_TYPES", "CALCULIX_KEYWORDS",
           "check_keyword", "MAX_INCLUDE_DEPTH"]

#: Abaqus/CalculiX element type -> (dromo type, integration rule)
ABAQUS_TYPES = {"C3D4": ("tet4", "full"), "C3D10": ("tet10", "full"), "C3D8": ("hex8", "full"),
                "C3D8R": ("hex8", "reduced"), "C3D8I": ("hex8", "full"), "C3D20": ("hex20", "full"),
                "C3D20R": ("hex20", "reduced"), "C3D6": ("wedge6", "full"), "C3D15": ("wedge15", "full")}


@dataclass
class Card:
    """One keyword of a deck with its data lines, kept as written (for the case translation).

    ``keyword``: upper-case, inner blanks collapsed (``"SOLID SECTION"``); ``options``: upper-case
    names -> values as written (``""`` for a flag such as ``DIRECT``); ``line``: the keyword line;
    ``data``: its data lines (comments and blank lines removed, ``*INCLUDE`` spliced in).
    """
    keyword: str
    options: Dict[str, str]
    line: DeckLine
    data: List[DeckLine] = field(default_factory=list)

    def where(self, line: Optional[DeckLine] = None) -> str:
        """``file:line`` of the keyword line (or of ``line``)."""
        return (line or self.line).where()

    def error(self, message: str, line: Optional[DeckLine] = None) -> InputError:
        """InputError naming the deck, the line and the card: ``file:no: *KEYWORD: message``."""
        return InputError(f"{self.where(line)}: *{self.keyword}: {message}")

    @staticmethod
    def fields(line: DeckLine) -> List[str]:
        """Comma-separated fields of a data line, stripped; empty fields kept (they mean "default"),
        a trailing comma adds none."""
        parts = [p.strip() for p in line.text.split(",")]
        return parts[:-1] if len(parts) > 1 and parts[-1] == "" else parts

    def floats(self, line: DeckLine, parts: Optional[List[str]] = None) -> List[Optional[float]]:
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


#: data lines handed to the parser at a time (``*NODE``, ``*ELEMENT``, sets and surfaces): the parser never
#: holds more lines than this, whatever the size of a card
CHUNK_LINES = 1 << 15
#: ids of consecutive plain set lines gathered into one part
SET_CHUNK = 1 << 16
_CHUNKED = ("NODE", "ELEMENT", "NSET", "ELSET", "SURFACE")


class _InpReader:
    """Reads a deck line by line: mesh keywords into arrays, every other keyword into a Card.

    The data lines of a mesh card reach the parser in pieces of at most :data:`CHUNK_LINES` lines (an element
    record spanning lines is never split). What a piece yields goes through the hooks :meth:`put_nodes`,
    :meth:`put_elements`, :meth:`put_ids` and :meth:`put_surface_ids`: here they keep the arrays for
    :meth:`finish`; :class:`dromo.mesh.inp_stream.StreamingInpReader` sends them to the ranks instead.
    """

    keep_cards = True

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.node_chunks_id: List[np.ndarray] = []
        self.node_chunks_xyz: List[np.ndarray] = []
        self.elem: List[dict] = []   # each: type, rule, ids, conn, lines(where per element)
        self.nsets: Dict[str, list] = {}
        self.esets: Dict[str, list] = {}
        self.nset_from_elset: List[tuple] = []  # (nset, elset, line)
        # name -> [("ids", element ids, faces, lines) | ("elset", name, face, line)]
        self.surfaces: Dict[str, List[tuple]] = {}
        self.cards: List[Card] = []  # every non-mesh keyword, in deck order
        self._longer: List[DeckLine] = []  # first lines of element records longer than their type (one card)

    # ---------------------------------------------------------------- driver
    def run(self):
        kw, opts, head, data = None, None, None, []
        for line in deck_lines(self.path):
            if line.text.startswith("*"):
                if kw is not None:
                    self.block(kw, opts, head, data, True)
                kw, opts = parse_options(line.text)
                check_keyword(kw, line.where())
                head, data = line, []
            elif kw is not None:
                data.append(line)
                if len(data) >= CHUNK_LINES and kw in _CHUNKED:
                    data = self.block(kw, opts, head, data, False)
            else:
                raise InputError(f"{line.where()}: data line before any keyword: {line.text!r}")
        if kw is not None:
            self.block(kw, opts, head, data, True)

    def block(self, kw, opts, head, data, last):
        """Parse the data lines ``data`` of a card (``last``: the card's final piece). Returns the lines kept
        for the next piece (an element record not complete yet)."""
        if kw == "NODE":
            self.nodes(opts, head, data)
        elif kw == "ELEMENT":
            return self.elements(opts, head, data, last)
        elif kw == "NSET":
            self.sets(opts, head, data, "NSET")
        elif kw == "ELSET":
            self.sets(opts, head, data, "ELSET")
        elif kw == "SURFACE":
            self.surface(opts, head, data)
        elif self.keep_cards:  # kept for read_deck (materials, steps, loads, ...), ignored by read_inp
            self.cards.append(Card(kw, opts, head, data))
        return []

    # ---------------------------------------------------------------- storage hooks
    def put_nodes(self, ids, xyz, data, opts):
        """Keep a piece of a ``*NODE`` card: ``ids`` (k,) int64, ``xyz`` (k, 3), its lines ``data``."""
        self.node_chunks_id.append(ids)
        self.node_chunks_xyz.append(xyz)
        if opts.get("NSET"):
            self.nsets.setdefault(opts["NSET"].upper(), []).append(ids)

    def put_elements(self, etype, rule, abaqus, arr, where, opts):
        """Keep a piece of an ``*ELEMENT`` card: ``arr`` (k, 1 + nn) ids and node ids, ``where`` the first
        line of each record."""
        self.elem.append({"type": etype, "rule": rule, "abaqus": abaqus, "ids": arr[:, 0],
                          "conn": arr[:, 1:], "where": where})
        if opts.get("ELSET"):
            self.esets.setdefault(opts["ELSET"].upper(), []).append(arr[:, 0])

    def put_ids(self, kind, name, ids, lines):
        """A part of set ``name`` (``kind`` NSET/ELSET): explicit ids (k,) int64 from ``lines``; returns what
        the set's part list keeps."""
        return ids

    def put_surface_ids(self, name, ids, faces, lines):
        """A part of ``*SURFACE`` ``name``: element ids (k,), 0-based faces (k,), the line of each."""
        self.surfaces.setdefault(name, []).append(("ids", ids, faces, lines))

    # ---------------------------------------------------------------- *NODE
    def nodes(self, opts, head, data):
        if not data:
            return
        toks = [_tokens(l) for l in data]
        counts = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
        for i in np.flatnonzero(counts != 4):   # omitted (or empty) coordinates are 0, as in Abaqus
            toks[i] = _node_fields(data[i])
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
        self.put_nodes(ids, arr[:, 1:4], data, opts)

    # ---------------------------------------------------------------- *ELEMENT
    def elements(self, opts, head, data, last=True):
        """Parse a piece of an ``*ELEMENT`` card; returns the lines of a record the piece ends inside of
        (parsed again with the next piece) when ``last`` is false."""
        t = opts.get("TYPE", "").upper()
        if not t:
            raise InputError(f"{head.where()}: *ELEMENT without TYPE=")
        if t not in ABAQUS_TYPES:
            raise InputError(f"{head.where()}: unknown element type {t} (dromo reads "
                             f"{', '.join(ABAQUS_TYPES)})")
        etype, rule = ABAQUS_TYPES[t]
        nn = NODES_PER_CELL[etype]
        carry = []
        if data:
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
                recs, where, cur, first, start = [], [], [], None, 0
                for i, (x, l, tr) in enumerate(zip(toks, data, trailing)):
                    if first is None:
                        first, start = l, i
                    cur.extend(_element_ints(x, l, not cur))
                    # a record continues after a trailing comma, or after a full line of 16 entries
                    if tr or (len(x) == 16 and len(cur) < nn + 1):
                        if len(cur) < nn + 1:
                            continue
                    if len(cur) > nn + 1:      # more nodes than the type has: ccx takes the first nn
                        self._longer.append(first)
                        cur = cur[:nn + 1]
                    if len(cur) != nn + 1:
                        raise InputError(
                            f"{first.where()}: element {cur[0]} ({t}) has {len(cur) - 1} nodes, "
                            f"{t} needs {nn} (truncated or misformatted line?)")
                    recs.append(cur)
                    where.append(first)
                    cur, first = [], None
                if cur and last:
                    raise InputError(f"{first.where()}: element {cur[0]} ({t}) has {len(cur) - 1} "
                                     f"nodes, {t} needs {nn} (truncated file?)")
                if cur:
                    carry = data[start:]
                arr = np.array(recs, dtype=np.int64).reshape(-1, nn + 1)
            if len(arr):
                self.put_elements(etype, rule, t, arr, where, opts)
        if last and self._longer:
            log.warning("%s: *ELEMENT, TYPE=%s: %d element(s) list more than the %d nodes of %s "
                        "(the first at line %d): the first %d nodes taken, as CalculiX does",
                        head.where(), t, len(self._longer), nn, t, self._longer[0].no, nn)
            self._longer = []
        return carry

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
        buf = _IdBuffer(lambda ids, lines: lst.append(self.put_ids(kind, name, ids, lines)))
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
                lst.append(GenerateRange(kind, name, a, b, s, l))   # expanded in finish(), once ids are known
                continue
            if toks and _plain(_PLAIN_INTS, l.text):   # ids only: one conversion for the line
                try:
                    buf.add(np.array([int(t) for t in toks], dtype=np.int64), l)
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
                buf.flush()
                lst.extend(list(store[ref]) if ref != name else [])
            buf.add(nums, l)
        buf.flush()

    # ---------------------------------------------------------------- *SURFACE
    def surface(self, opts, head, data):
        name = opts.get("NAME", "").upper()
        if not name:
            raise InputError(f"{head.where()}: *SURFACE without NAME=")
        stype = opts.get("TYPE", "ELEMENT").upper()
        if stype == "NODE":
            lst = self.nsets.setdefault(name, [])
            buf = _IdBuffer(lambda ids, lines: lst.append(self.put_ids("NSET", name, ids, lines)))
            for l in data:
                tok = [x.strip() for x in l.text.split(",") if x.strip()][:1]
                if not tok:
                    continue
                if _INT.fullmatch(tok[0]):
                    buf.add([_int(tok[0], l, "node id")], l)
                    continue
                ref = tok[0].upper()
                if ref not in self.nsets:
                    raise InputError(f"{l.where()}: unknown node set {tok[0]!r} in *SURFACE {name}")
                buf.flush()
                lst.extend(self.nsets[ref])
            buf.flush()
            return
        if stype != "ELEMENT":
            raise InputError(f"{head.where()}: *SURFACE TYPE={stype} not supported (ELEMENT, NODE)")
        items = self.surfaces.setdefault(name, [])
        buf = _IdBuffer(lambda ids, lines: self.put_surface_ids(name, ids[:, 0], ids[:, 1], lines), width=2)
        for l in data:
            parts = [x.strip() for x in l.text.split(",") if x.strip()]
            if len(parts) < 2:
                raise InputError(f"{l.where()}: *SURFACE {name} line needs 'element or elset, Sn': "
                                 f"{l.text!r}")
            m = re.fullmatch(r"S(\d)", parts[1].upper())
            if not m:
                raise InputError(f"{l.where()}: unknown face label {parts[1]!r} in *SURFACE {name} "
                                 f"(expected S1..S6)")
            if _INT.fullmatch(parts[0]):
                buf.add([_int(parts[0], l, "element id"), int(m.group(1)) - 1], l)
            else:
                buf.flush()
                items.append(("elset", parts[0], int(m.group(1)) - 1, l))
        buf.flush()

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
            element_sets[name] = elem_index(expand(parts, seid), f"*ELSET {name}")
        node_sets = {}
        mesh0 = MeshData(xyz, blocks, nid, source=src)
        for name, parts in self.nsets.items():
            ids = expand(parts, snid)
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
            for kind, ref, face, l in items:
                if kind == "ids":
                    pos = np.minimum(np.searchsorted(seid, ref), len(seid) - 1)
                    bad = np.flatnonzero(seid[pos] != ref)
                    if bad.size:
                        elem_index(ref[bad[:1]], f"{l[bad[0]].where()}: *SURFACE {name}")
                    cells_l.append(eorder[pos])
                    faces_l.append(face)
                    continue
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


class _IdBuffer:
    """Ids of consecutive set lines gathered into parts of about :data:`SET_CHUNK` ids: ``add`` the numbers
    of a line (``width`` per record), ``flush`` hands ``(ids (k,) or (k, width) int64, line of each record)``
    to ``emit``."""

    def __init__(self, emit, width=1):
        self.emit, self.width, self.vals, self.lines = emit, width, [], []

    def add(self, nums, line):
        if len(nums):
            self.vals.append(np.asarray(nums, dtype=np.int64))
            self.lines.extend([line] * (len(nums) // self.width))
            if len(self.lines) * self.width >= SET_CHUNK:
                self.flush()

    def flush(self):
        if self.vals:
            ids = np.concatenate(self.vals)
            lines, self.vals, self.lines = self.lines, [], []
            self.emit(ids.reshape(-1, self.width) if self.width > 1 else ids, lines)


def _node_fields(line):
    """The fields of a ``*NODE`` line that is not ``id, x, y, z``: split at commas (blanks when it has
    none), omitted or empty coordinates 0 (Abaqus and CalculiX read ``1, 2.`` as node 1 at (2, 0, 0))."""
    fields = [f.strip() for f in line.text.split(",")] if "," in line.text else line.text.split()
    coords = [f or "0" for f in fields[1:4]]
    if len(fields) > 1 and not fields[-1] and len(fields) <= 4:
        coords = coords[:-1]                     # a trailing comma adds no field
    return fields[:1] + coords + ["0"] * (3 - len(coords))


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


