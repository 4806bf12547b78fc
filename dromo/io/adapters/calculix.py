"""CalculiX results: the deck (``.inp``), the ``.frd`` result file and ``*EL PRINT`` blocks of the ``.dat``.

:class:`CalculixReader` (registered as ``"calculix"``) reads

* the mesh and sets from the deck (:func:`dromo.mesh.inp.read_inp`: ``*NODE``, ``*ELEMENT``
  C3D4/C3D10/C3D8/C3D8R/C3D20/C3D20R/C3D6, ``*NSET``, ``*ELSET``, ``*SURFACE``, ``*INCLUDE``);
* every increment of the ``.frd`` (:class:`FrdFile`, ASCII; CalculiX 2.20 writes ASCII only), its
  nodal result blocks (``100CL``) and their times;
* integration-point values of ``*EL PRINT`` from the ``.dat`` (:mod:`.calculix_dat`), if given.

Archive fields and conventions
------------------------------
=============  =========  ====================================================================
``.frd`` block  field      conversion
=============  =========  ====================================================================
DISP           U (node)   components x, y, z
STRESS         S_nodal    nodal (extrapolated, averaged by ccx) stress; ``.frd`` order xx, yy, zz,
                          xy, yz, zx with tensor shears -> Mandel xx, yy, zz, xy, xz, yz (×√2)
TOSTRAIN       E_nodal    total strain, same conversion (ccx writes tensor shears ε_ij, checked)
MESTRAIN       ME_nodal   mechanical strain, same conversion
SDV            SDV_nodal  state variables, as written (SDV1..SDVn)
FORC           RF         nodal forces x, y, z
PE             PEEQ_nodal equivalent plastic strain
NDTEMP         T          nodal temperature
other          its name   components as written (generic: any tensor block with six ``-5``
                          components (ictype 4) is converted to Mandel using its (i, j) indices)
=============  =========  ====================================================================

``ERROR`` blocks are skipped. ``.dat`` fields (integration points): ``S``, ``E``, ``ME`` (Mandel, from
the ``.dat`` order xx, yy, zz, xy, xz, yz with tensor shears), ``SDV`` (as written), ``PEEQ`` ...
(see :mod:`.calculix_dat`). ``.frd`` values have the file's precision (5 digits, from float32); the
``.dat`` has 7 digits. Increments of the ``.frd`` and the ``.dat`` are matched by time (relative
tolerance 1e-5; the ``.dat`` time, with more digits, is the one stored); each field keeps its own
time series, so different output frequencies are fine. Per-step attributes ``source_step``,
``source_increment`` (CalculiX step and increment numbers) are stored with each ``.frd`` field.

Nodal records map to dromo's nodes by their external id; the ``.frd`` node block must hold exactly the
deck's (element-referenced) nodes, and every result block must cover every node once, or an
:class:`~dromo.errors.InputError` names the file and line (when the deck has a card that explains a
different node set, the message names it: ``*MODEL CHANGE`` (ccx leaves the nodes of removed elements
out of the ``.frd``), ``*CYCLIC SYMMETRY MODEL`` and ``*PRE-TENSION SECTION`` (ccx adds nodes)).
Blocks of other names defined on a subset of the nodes (ccx's ``CONTACT`` output: the contact nodes
only) are skipped with a warning (an error when asked for by name); DISP, STRESS and the other fields
above must cover every node.

Corrupt input is never imported as valid data: the ``.frd`` is read by :mod:`.calculix_frd`, which
documents how a corrupt file is refused; NaN/Inf values and times are refused (naming line, block,
node, increment) unless ``allow_nonfinite``; a ``.dat`` and a ``.frd`` must end at the same increment
(``allow_incomplete`` accepts a ``.frd`` without its end record and mismatched ends).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...errors import InputError
from ...parallel import get_logger
from . import FieldSpec, NodeIndex, ResultReader, Step, check_coverage, register_reader, unknown_ids
from .calculix_frd import FRD_SKIP, FrdFile, _decode_e12, check_finite, read_records  # noqa: F401
from .parallel_values import RowParts, record_range, shared_lookup

log = get_logger("dromo.import")

MANDEL = ["xx", "yy", "zz", "xy", "xz", "yz"]
SQ2 = np.sqrt(2.0)
_SLOT = {(1, 1): 0, (2, 2): 1, (3, 3): 2, (1, 2): 3, (1, 3): 4, (2, 3): 5}

#: .frd block name -> (archive field, description, units key)
FRD_FIELDS = {
    "DISP": ("U", "displacement"),
    "STRESS": ("S_nodal", "stress extrapolated to the nodes by CalculiX (Mandel)"),
    "TOSTRAIN": ("E_nodal", "total strain extrapolated to the nodes by CalculiX (Mandel)"),
    "MESTRAIN": ("ME_nodal", "mechanical strain extrapolated to the nodes by CalculiX (Mandel)"),
    "SDV": ("SDV_nodal", "state variables extrapolated to the nodes by CalculiX"),
    "FORC": ("RF", "nodal forces"),
    "PE": ("PEEQ_nodal", "equivalent plastic strain extrapolated to the nodes"),
    "NDTEMP": ("T", "nodal temperature"),
}

def tensor_conversion(comps):
    """(permutation, scale) turning a ``.frd`` tensor block (6 comps, ictype 4) into Mandel, or None."""
    if len(comps) != 6 or any(c[1] != 4 for c in comps):
        return None
    slots = [_SLOT.get(tuple(sorted((c[2], c[3])))) for c in comps]
    if None in slots or sorted(slots) != list(range(6)):
        return None
    perm = np.empty(6, dtype=np.int64)
    perm[slots] = np.arange(6)          # Mandel slot s takes file column perm[s]
    return perm, np.array([1.0, 1.0, 1.0, SQ2, SQ2, SQ2])


def vector_conversion(comps):
    """(permutation, ones) putting the columns of a vector block (ictype 2) in the order of their
    index (D1, D2, D3 -> x, y, z), or None when they already are or the indices are not 1..n."""
    idx = [c[2] for c in comps]
    if any(c[1] != 2 for c in comps) or sorted(idx) != list(range(1, len(comps) + 1)) \
            or idx == sorted(idx):
        return None
    return np.argsort(idx), np.ones(len(comps))


@dataclass
class _FrdField:
    spec: FieldSpec
    block_name: str
    perm: Optional[np.ndarray] = None
    scale: Optional[np.ndarray] = None


@dataclass
class FrdRecords(RowParts):
    """One fixed-width ``.frd`` block read in parts by every rank (:mod:`.parallel_values`): rank ``r`` of
    ``P`` parses the records ``partition_offsets(n_records, P)[r:r + 2]``, i.e. one byte range of the
    block starting and ending at record starts, maps the node ids to natural rows, checks the values are
    finite (unless ``allow_nonfinite``) and puts the columns in dromo's order."""

    path: str = ""
    nl: int = 1
    block: object = None
    perm: Optional[np.ndarray] = None
    scale: Optional[np.ndarray] = None
    allow_nonfinite: bool = False

    def key(self):
        return ("frd", self.path, self.block.data_offset)

    def _parse(self, rank, size, cache):
        blk = self.block
        lo, hi = record_range(blk.n_records, rank, size)
        ids_l, vals_l, pos = [], [], lo
        for ids, vals in read_records(self.path, blk, self.nl, start=lo, stop=hi):
            if not self.allow_nonfinite:
                check_finite(vals, ids, blk, pos, self.path)
            if self.perm is not None:
                vals = vals[:, self.perm] * self.scale
            ids_l.append(ids)
            vals_l.append(vals)
            pos += len(ids)
        ids = np.concatenate(ids_l) if ids_l else np.zeros(0, np.int64)
        vals = np.concatenate(vals_l) if vals_l else np.zeros((0, blk.n_values))
        memo, fresh = shared_lookup(cache, "frd_ids", ids)     # an earlier block's ids: no look-up
        return (vals, memo, fresh, lo), (ids if fresh else np.zeros(0, np.int64))

    def _resolve(self, state, found, mesh, cache):
        vals, memo, fresh, lo = state
        if fresh:                                      # records numbered in the block, at any rank count
            memo.rows = unknown_ids(memo.ids, found, self.where, first=lo, n=mesh.n_nodes)
        return memo.rows, vals


@register_reader("calculix")
class CalculixReader(ResultReader):
    """CalculiX deck + ``.frd`` (+ ``.dat``) -> dromo archive (see the module docstring).

    Parameters
    ----------
    deck : the ``.inp`` deck (mesh and sets; ``*INCLUDE`` followed)
    frd : the ``.frd`` result file (ASCII), or None for ``.dat`` values only
    dat : the ``.dat`` file with ``*EL PRINT`` blocks, or None
    fields : archive field names to import (default: all found)
    units : units of length (stored as the units of U); stresses are stored with ``stress_units``
    allow_incomplete : accept a ``.frd`` without its end record ``9999`` (ccx stopped early, e.g. no
        convergence) and import its complete blocks; a block cut in the middle is still an error.
        Also accepts a ``.dat`` and a ``.frd`` whose last increments differ.
    allow_nonfinite : keep NaN/Inf values of the ``.frd`` and ``.dat`` (default: an error naming the
        file, line, block, node/element and increment)
    allow_inverted : keep inverted or degenerate cells (default: an error naming the element)
    """

    def __init__(self, deck, frd=None, dat=None, fields=None, units="", stress_units="",
                 allow_incomplete=False, allow_nonfinite=False, allow_inverted=False):
        self.deck = os.fspath(deck)
        self.frd_path = None if frd is None else os.fspath(frd)
        self.dat_path = None if dat is None else os.fspath(dat)
        if self.frd_path is None and self.dat_path is None:
            raise InputError("calculix import: give a .frd and/or a .dat result file")
        self.source = self.frd_path or self.dat_path
        self.select = None if fields is None else set(fields)
        self.units, self.stress_units = units, stress_units
        self._mesh = None
        self._frd = None
        self._dat = None
        self._frd_fields = None
        self.allow_incomplete = allow_incomplete
        self.allow_nonfinite = allow_nonfinite
        self.allow_inverted = allow_inverted
        self._defer = False

    def defer_values(self):
        """From now on, yield fixed-width ``.frd`` blocks as :class:`FrdRecords` and the ``.dat``'s
        ``*EL PRINT`` blocks as :class:`~dromo.io.adapters.calculix_dat.DatRows`, parsed by every rank
        (:func:`~dromo.io.adapters.import_results` asks); other ``.frd`` blocks stay arrays."""
        self._defer = True
        return True

    def attrs(self):
        return {"provenance": "dromo import calculix", "source_deck": os.path.abspath(self.deck),
                "source_frd": os.path.abspath(self.frd_path) if self.frd_path else "",
                "source_dat": os.path.abspath(self.dat_path) if self.dat_path else ""}

    def mesh(self):
        if self._mesh is None:
            from ...mesh.inp import read_inp
            self._mesh = read_inp(self.deck)
        return self._mesh

    # ------------------------------------------------------------------ fields
    def _want(self, name):
        return self.select is None or name in self.select

    def fields(self):
        mesh = self.mesh()
        specs = []
        if self.frd_path is not None:
            frd = self._frd = FrdFile(self.frd_path, self.allow_incomplete)
            if len(frd.node_ids) != mesh.n_nodes or not np.array_equal(
                    np.sort(frd.node_ids), np.sort(mesh.node_ids)):
                extra = np.setdiff1d(frd.node_ids, mesh.node_ids)
                missing = np.setdiff1d(mesh.node_ids, frd.node_ids)
                raise InputError(
                    f"{frd.path}:{frd.node_line}: the .frd holds {len(frd.node_ids)} nodes, the deck "
                    f"{self.deck} {mesh.n_nodes} used by its elements ({len(missing)} missing"
                    + (f", e.g. node {missing[0]}" if missing.size else "")
                    + f", {len(extra)} unknown" + (f", e.g. node {extra[0]}" if extra.size else "")
                    + "): " + _node_mismatch_reason(self.deck, missing.size, extra.size))
            subset = self._subset_blocks(frd, mesh.n_nodes)
            self._frd_fields = {}
            for b in frd.blocks:
                if b.name in FRD_SKIP or b.name in subset or b.name in self._frd_fields:
                    continue
                name, desc = FRD_FIELDS.get(b.name, (b.name, f".frd block {b.name}"))
                if not self._want(name):
                    continue
                conv = tensor_conversion(b.comps)
                if conv is not None:
                    comps, units = MANDEL, self.stress_units if b.name == "STRESS" else ""
                    if "Mandel" not in desc:
                        desc += " (Mandel)"
                elif b.name in ("DISP", "FORC"):
                    comps, units = ["x", "y", "z"][:b.n_values], self.units if b.name == "DISP" else ""
                    conv = vector_conversion(b.comps)
                else:
                    comps, units = [c[0] for c in b.comps], ""
                if conv is None and len(comps) != b.n_values:
                    comps = [c[0] for c in b.comps]
                spec = FieldSpec(name, "node", comps, units=units, description=desc,
                                 attrs={"frd_block": b.name, "source": self.frd_path,
                                        "frd_components": [c[0] for c in b.comps]})
                self._frd_fields[b.name] = _FrdField(spec, b.name, *(conv or (None, None)))
                specs.append(spec)
        if self.dat_path is not None:
            from .calculix_dat import DatFile
            self._dat = DatFile(self.dat_path, mesh, allow_nonfinite=self.allow_nonfinite,
                                allow_incomplete=self.allow_incomplete)
            specs += [FieldSpec(s.name, s.location, s.components, s.units, s.description,
                                dict(s.attrs, source=self.dat_path))            # each field names its file
                      for s in self._dat.fields() if self._want(s.name)]
            if self._frd is not None and not self.allow_incomplete:
                self._check_same_end()
                self._dat.check_step_ends(self._frd.step_times())
        names = [s.name for s in specs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise InputError(f"{self.source}: field names {sorted(dup)} come from both files")
        return specs

    def _subset_blocks(self, frd, n_nodes):
        """Names of the blocks (other than :data:`FRD_FIELDS`) that some increment writes on fewer or
        more records than the mesh has nodes: output on a subset of the nodes (ccx's ``CONTACT``
        block holds the contact nodes only).  Skipped with one warning each; an InputError if the
        caller asked for one by name."""
        subset = {}
        for b in frd.blocks:
            if b.name not in FRD_FIELDS and b.name not in FRD_SKIP and b.n_records != n_nodes:
                subset.setdefault(b.name, b)
        for name, b in subset.items():
            what = (f"{frd.path}:{b.header_line}: block {name} holds {b.n_records} node records for "
                    f"the {n_nodes} nodes of the mesh (output on a subset of the nodes, as ccx writes "
                    f"for contact)")
            if self.select is not None and name in self.select:
                raise InputError(what + ": dromo imports node fields defined on every node")
            log.warning("%s: not imported", what)
        return subset

    def _check_same_end(self):
        """The ``.frd`` and the ``.dat`` of one analysis end at the same increment (ccx always writes
        the last increment of a step): InputError listing the increments of each otherwise."""
        frd = self._frd
        incs = [g for g in frd.increments if any(frd.blocks[i].name in self._frd_fields for i in g)]
        ft = [frd.blocks[g[0]].time for g in incs]
        dt = self._dat.increment_times()
        if not ft or not dt or frd.blocks[incs[-1][0]].atype != 0 or _same_time(ft[-1], dt[-1]):
            return
        lo, hi = frd.step_times()[-1]
        if not any(lo - 1e-5 * abs(lo) <= t <= hi + 1e-5 * abs(hi) for t in dt):
            return                  # no *EL PRINT in the last step (print requests changed)

        def describe(t):
            return f"{len(t)} increment{'s' if len(t) != 1 else ''} (times " + (
                ", ".join(f"{x:g}" for x in t) if len(t) <= 6 else
                f"{t[0]:g}, {t[1]:g}, ... {t[-2]:g}, {t[-1]:g}") + ")"
        line = max(v[-1][1] for q, v in self._dat.times.items() if q in self._dat.quantities)
        raise InputError(f"{self._dat.path}:{line}: the .dat and {frd.path} do not end at the same "
                         f"increment: the .dat holds {describe(dt)}, the .frd {describe(ft)} (a "
                         f"truncated file? --allow-incomplete imports what each holds)")

    # ------------------------------------------------------------------ steps
    def _frd_steps(self):
        frd, mesh = self._frd, self.mesh()
        nodes = NodeIndex(mesh.node_ids)
        cache_ids, cache_rows = None, None
        for group in frd.increments:
            values = {}
            b0 = frd.blocks[group[0]]
            for i in group:
                b = frd.blocks[i]
                fld = self._frd_fields.get(b.name)
                if fld is None or fld.spec.name in values:
                    continue
                C = fld.spec.n_components
                where = f"{frd.path}:{b.header_line}: block {b.name} (time {b.time:g})"
                if self._defer and b.uniform and b.n_records == mesh.n_nodes:
                    values[fld.spec.name] = FrdRecords(mesh.n_nodes, C, where, (), frd.path, frd.nl, b,
                                                       fld.perm, fld.scale, self.allow_nonfinite)
                    continue
                out = np.empty((mesh.n_nodes, C), dtype=np.float64)
                pos, all_rows, same = 0, [], cache_ids is not None and len(cache_ids) == b.n_records
                for ids, vals in frd.read_block(b):
                    k = len(ids)
                    if not self.allow_nonfinite:
                        check_finite(vals, ids, b, pos, frd)
                    if same and np.array_equal(ids, cache_ids[pos:pos + k]):
                        rows = cache_rows[pos:pos + k]
                    else:
                        same = False
                        rows = nodes(ids, where)
                    all_rows.append(rows)
                    if fld.perm is not None:
                        vals = vals[:, fld.perm] * fld.scale
                    out[rows] = vals
                    pos += k
                rows = np.concatenate(all_rows) if all_rows else np.zeros(0, np.int64)
                if not same:
                    check_coverage(rows, mesh.n_nodes, where, "node")
                    cache_ids = mesh.node_ids[rows]          # the block's ids, file order
                    cache_rows = rows
                values[fld.spec.name] = out
                out = vals = None
            yield b0.time, values, {"step": b0.step, "increment": b0.increment}
            values = None              # one increment in memory: drop it before reading the next

    def steps(self):
        if self._frd_fields is None and self._dat is None:
            self.fields()
        frd_it = self._frd_steps() if self._frd is not None else iter(())
        dat_it = iter(()) if self._dat is None else \
            (self._dat.step_parts if self._defer else self._dat.steps)(self.select)
        # merge the two time-ordered streams; drop every reference to an increment once it is
        # yielded, so that only one increment is in memory
        a, b = next(frd_it, None), next(dat_it, None)
        while a is not None or b is not None:
            if a is not None and b is not None and _same_time(a[0], b[0]):
                step = Step(b[0], {**a[1], **b[1]}, info=a[2])
                a = b = None
                yield step
                step = None
                a, b = next(frd_it, None), next(dat_it, None)
            elif b is None or (a is not None and a[0] < b[0]):
                step, a = Step(a[0], a[1], info=a[2]), None
                yield step
                step = None
                a = next(frd_it, None)
            else:
                step, b = Step(b[0], b[1], info={}), None
                yield step
                step = None
                b = next(dat_it, None)


#: deck cards after which ccx writes another node set to the .frd than the deck's: (card, which way,
#: why)
_NODE_SET_CARDS = (("MODEL CHANGE", "missing", "ccx leaves the nodes of removed elements out of the "
                    ".frd, and dromo imports fields on every node of the deck's mesh"),
                   ("CYCLIC SYMMETRY MODEL", "extra", "ccx writes the nodes of the expanded sectors"),
                   ("PRE-TENSION SECTION", "extra", "ccx adds a reference node per pre-tension section"))


def _node_mismatch_reason(deck, n_missing, n_extra):
    """Why the .frd may hold other nodes than ``deck``: the first card of :data:`_NODE_SET_CARDS` the
    deck has (``file:line: *CARD: why``), or "results of another mesh?".  Reads the deck again (only
    on this error path)."""
    from ...mesh.inp import read_deck
    try:
        cards = read_deck(deck).cards
    except InputError:
        cards = []
    for keyword, way, why in _NODE_SET_CARDS:
        if (n_missing if way == "missing" else n_extra):
            card = next((c for c in cards if c.keyword == keyword), None)
            if card is not None:
                return f"{card.where()}: *{keyword}: {why}"
    return "results of another mesh?"


def _same_time(t1, t2):
    return abs(t1 - t2) <= 1e-5 * max(abs(t1), abs(t2)) + 1e-300

