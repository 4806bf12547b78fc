"""Import adapters: the results of external FE codes into a dromo archive, in parallel.

Supporting a new FE code means writing **one class**, a :class:`ResultReader`; everything else
(partition of the items over the ranks, scatter, collective writes, atomic archive, error handling)
is done by :func:`import_results`.

The converter interface
-----------------------
::

    from dromo.io.adapters import ResultReader, FieldSpec, Step, register_reader

    @register_reader("mycode")
    class MyCodeReader(ResultReader):
        def __init__(self, mesh_path, results_path):
            self.source = results_path                 # named in messages and in the archive
            ...
        def mesh(self):                                # -> dromo.mesh.meshdata.MeshData
            ...
        def fields(self):                              # -> list of FieldSpec, before the first step
            return [FieldSpec("U", "node", ["ux", "uy", "uz"], units="mm")]
        def steps(self):                               # -> iterator of Step, one increment at a time
            for t, u in ...:
                yield Step(time=t, values={"U": u})    # (n_items, n_components) float64

    import_results(MyCodeReader(...), "snapshots.h5", comm)   # under mpirun: every rank calls it

Contract of a reader (its methods are called on rank 0 only; construct it on rank 0, pass ``None``
on the other ranks):

* :meth:`ResultReader.mesh` returns the mesh as a :class:`~dromo.mesh.meshdata.MeshData` with the
  external node/element ids (``node_ids``, ``CellBlock.ids``) and sets. Element types dromo lacks
  raise :class:`~dromo.errors.InputError`.
* :meth:`ResultReader.fields` declares every field any step may carry (:class:`FieldSpec`: name,
  location ``"node" | "ip" | "cell" | "global"``, component names, units, description, attributes).
* :meth:`ResultReader.steps` yields :class:`Step` objects **lazily** (a generator: one increment in
  memory at a time). ``Step.values`` maps field names to arrays ``(n_items, n_components)`` in dromo's
  **natural numbering**: node rows in ``mesh.points`` order, cell rows in natural cell order
  (concatenated blocks), integration-point rows cell by cell in natural cell order and point by
  point in the rule's order (:mod:`dromo.mesh.quadrature`, CalculiX's order). A step may carry a
  subset of the fields (each field keeps its own time series). Helpers: :class:`NodeIndex` (external
  node id -> natural index) and :class:`IpIndex` ((element id, point number) -> natural ip index).
* Symmetric tensors must already be Mandel vectors (``xx, yy, zz, xy, xz, yz``, shears × √2;
  :mod:`dromo.materials.tensors`); state variables and other fields are stored as the code wrote them.
* Errors raise :class:`~dromo.errors.InputError` naming the file and the line or record.
* Optional: ``parameter_names`` (a tuple; then ``Step.parameters`` has that length), ``attrs()``
  (provenance attributes for the archive root), ``close()``, ``allow_nonfinite`` /
  ``allow_inverted`` (keep NaN/Inf values / inverted cells; both refused by default).

Checks made for every reader (:func:`check_mesh`, ``_check_step``): set and field names the archive
can store (not blank, ``.``, or holding ``/``), positive ids, finite coordinates, no inverted or
degenerate cell (det J > 0 at every integration point), finite values and times. Any exception
of a reader that is not an :class:`~dromo.errors.InputError` (an input it did not foresee) becomes
one naming its files, so a user never sees a traceback; a failed import leaves no output (the
archive, its XDMF sidecar included, exists only once complete).

:func:`import_results` broadcasts the field list and the item counts, sends the mesh in natural stripes
(:class:`~dromo.io.adapters.import_mesh.ImportMesh`: rank 0 reads it whole, no other rank ever holds it;
each rank checks the cells of its stripe and keeps the distributed node and element directories of the
parsers), writes the striped mesh collectively, then streams: rank 0
pulls one :class:`Step`, broadcasts its header, ``Scatterv``'s each field's natural blocks
(``partition_range(n_items, comm)``) to the ranks, and every rank writes its block collectively with
:meth:`~dromo.io.archive.Archive.append_step`. Memory per rank: one increment on rank 0, one block
elsewhere. **Parallel parsing:** a reader that answers :meth:`ResultReader.defer_values` with True may
yield, instead of an array, a :class:`~dromo.io.adapters.parallel_values.RowParts` (a small picklable
description: file, block, byte layout); it travels with the step header and every rank parses its own
range of records (:func:`~dromo.io.adapters.parallel_values.parse_step`, the records' external ids mapped
to natural rows by the distributed directories) and keeps its natural block
(:func:`~dromo.io.adapters.parallel_values.natural_block`): the CalculiX ``.frd`` blocks and the ``.dat``'s
``*EL PRINT`` blocks are read this way, so the parsing is shared by all ranks and rank 0 never holds a
whole increment of them. The archive is identical at any rank count. An error anywhere (a truncated file, a bad
record) is raised on every rank and no archive is left behind (atomic write).

Readers shipped: ``calculix`` (:mod:`.calculix`: deck + ``.frd`` + ``.dat`` ``*EL PRINT``) and
``meshio`` (:mod:`.meshio_series`: XDMF time series, PVD/VTU series, single meshio files).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
from mpi4py import MPI

from ...errors import InputError
from ...mesh.stripes import MeshStripes
from ...parallel import collective, get_logger, partition_offsets, raise_collectively
from .import_mesh import ImportMesh, check_block_cells, n_items as _n_items
from .parallel_values import RowParts, natural_block, parse_step

__all__ = ["FieldSpec", "Step", "ResultReader", "register_reader", "get_reader", "READERS",
           "import_results", "NodeIndex", "IpIndex", "n_items_of"]

log = get_logger("dromo.import")


@dataclass
class FieldSpec:
    """A field a reader produces: archive name, location, component names, units, description."""

    name: str
    location: str
    components: Sequence[str]
    units: str = ""
    description: str = ""
    attrs: Dict[str, object] = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return len(self.components)


@dataclass
class Step:
    """One increment: time, {field name: (n_items, n_components) array, natural numbering}.

    ``info`` holds small per-step provenance numbers (e.g. ``{"step": 1, "increment": 3}``); every
    key becomes an attribute ``source_<key>`` (one entry per stored step) of the fields of the step.
    """

    time: float
    values: Dict[str, np.ndarray]
    parameters: Sequence[float] = ()
    info: Dict[str, float] = field(default_factory=dict)


class ResultReader:
    """Base class of the converters (see the module docstring for the contract)."""

    #: registry name (set by :func:`register_reader`)
    name = ""
    #: names of the per-step parameters (``Step.parameters``)
    parameter_names: Sequence[str] = ()
    #: the file named in messages
    source = ""
    #: keep NaN/Inf values (default: :func:`import_results` refuses them, naming field and step)
    allow_nonfinite = False
    #: keep inverted or degenerate cells (default: :func:`import_results` refuses the mesh)
    allow_inverted = False

    def mesh(self):
        raise NotImplementedError

    def fields(self) -> List[FieldSpec]:
        raise NotImplementedError

    def steps(self) -> Iterator[Step]:
        raise NotImplementedError

    def attrs(self) -> Dict[str, object]:
        """Attributes written on the archive root (provenance)."""
        return {"provenance": f"dromo import {self.name} {self.source}".strip()}

    def defer_values(self):
        """Asked by :func:`import_results` before the first step: return True if the reader will from now
        on yield some values as :class:`~dromo.io.adapters.parallel_values.RowParts` (parsed by every
        rank), False (the default) to yield arrays only. Wrappers forward it to their reader."""
        return False

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class WrappedReader(ResultReader):
    """A reader forwarding another one (``self.reader``): its identity (name, source, parameter names, the
    ``allow_*`` choices) and every method; a wrapper overrides only what it changes (renamed fields, named
    state variables ...)."""

    def __init__(self, reader):
        self.reader = reader
        for attr in ("name", "source", "parameter_names", "allow_nonfinite", "allow_inverted"):
            setattr(self, attr, getattr(reader, attr))

    def mesh(self):
        return self.reader.mesh()

    def fields(self):
        return self.reader.fields()

    def steps(self):
        return self.reader.steps()

    def attrs(self):
        return self.reader.attrs()

    def defer_values(self):
        return self.reader.defer_values()

    def close(self):
        self.reader.close()


#: name -> "module:Class" or class
READERS: Dict[str, object] = {
    "calculix": "dromo.io.adapters.calculix:CalculixReader",
    "meshio": "dromo.io.adapters.meshio_series:MeshioSeriesReader",
}


def register_reader(name):
    """Class decorator: make a reader available as ``get_reader(name)``."""
    def deco(cls):
        cls.name = name
        READERS[name] = cls
        return cls
    return deco


def get_reader(name):
    """The reader class registered under ``name``."""
    if name not in READERS:
        raise InputError(f"unknown result reader {name!r} (known: {', '.join(sorted(READERS))})")
    ref = READERS[name]
    if isinstance(ref, str):
        mod, cls = ref.split(":")
        ref = getattr(importlib.import_module(mod), cls)
        READERS[name] = ref
    return ref


# ------------------------------------------------------------------------------ input checks

def bad_name(name):
    """Why ``name`` cannot name an archive field or set (blank, ``.``/``..``, ``/``, control
    characters), or ``""`` when it can."""
    if not isinstance(name, str) or not name.strip():
        return "is blank"
    if name in (".", ".."):
        return "is not a name"
    if "/" in name:
        return "contains '/'"
    if not name.isprintable() or "\ufffd" in name:
        return "contains control characters or undecodable bytes"
    return ""


def check_mesh(mesh, source, allow_inverted=False, geometry=True):
    """InputError naming ``source`` and the item when a mesh cannot be stored as valid data: blank set
    names or with control characters (others, ``/`` and ``.`` included, are encoded by the archive), ids that are not positive, non-finite coordinates, and (unless
    ``allow_inverted``) inverted or degenerate cells (det J <= 0 at an integration point, the check
    :meth:`dromo.mesh.distributed.DistributedMesh.check_geometry` makes; ``geometry=False`` leaves it
    to the caller: :func:`import_results` checks each rank's stripe of the cells,
    :meth:`.import_mesh.ImportMesh.check_cells`)."""
    for kind, sets in (("node set", mesh.node_sets), ("element set", mesh.element_sets),
                       ("surface", mesh.facet_sets)):
        for name in sets:
            if not str(name).strip() or not str(name).isprintable():
                raise InputError(f"{source}: {kind} name {name!r} is blank or has control characters")
    for what, ids in (("node", mesh.node_ids), ("element", mesh.cell_ids)):
        ids = np.asarray(ids)
        if ids.size and ids.min() <= 0:
            raise InputError(f"{source}: {what} id {ids.min()} is not positive")
    pts = np.asarray(mesh.points)
    if not np.isfinite(pts).all():
        r = int(np.argwhere(~np.isfinite(pts))[0][0])
        raise InputError(f"{source}: node {mesh.node_ids[r]} has non-finite coordinates {pts[r]}")
    if geometry and not allow_inverted:
        check_cells(mesh, source)


def check_cells(mesh, source, part=(0, 1)):
    """InputError naming ``source`` and the element when a cell of the :class:`~dromo.mesh.meshdata.MeshData`
    ``mesh`` is inverted or degenerate (det J ≤ 0 at an integration point,
    :func:`~dromo.io.adapters.import_mesh.check_block_cells`). ``part=(rank, size)``: only that share of each
    block's cells. (:func:`import_results` checks the stripes: :meth:`.import_mesh.ImportMesh.check_cells`.)"""
    pts = np.asarray(mesh.points)
    for b in mesh.blocks:
        lo, hi = partition_offsets(len(b.cells), part[1])[part[0]:part[0] + 2]
        check_block_cells(pts, b.cells[int(lo):int(hi)], b.ids[int(lo):int(hi)], b.type,
                          getattr(b, "rule", "full"), source)


# ------------------------------------------------------------------------------ numbering helpers

def n_items_of(mesh, location):
    """Number of nodes / cells / integration points of a mesh (``"global"``: 1)."""
    if location == "ip":
        from ...mesh.quadrature import element_rule
        n_ips = int(sum(len(b.cells) * len(element_rule(b.type, b.rule).weights) for b in mesh.blocks))
    else:
        n_ips = 0
    return _n_items(location, mesh.n_nodes, mesh.n_cells, n_ips)


def unknown_ids(ids, rows, where, what="node", first=0, n=1):
    """InputError naming ``where`` and the first of ``ids`` whose row is ``-1`` (not in a mesh of ``n``
    items): its record number counted from ``first + 1``. Returns ``rows`` when all are found."""
    if n == 0 and len(ids):
        raise InputError(f"{where}: {what} {ids[0]} is not in the mesh (empty mesh)")
    bad = rows < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where}: {what} {ids[i]} (record {first + i + 1}) is not in the mesh "
                         f"(results of another mesh?)")
    return rows


def ip_rows(elem_ids, points, n_qp, first_ip, where, first=0):
    """Natural integration points of the (element, 1-based point) pairs of found elements, given each
    element's point count and first point (:class:`IpIndex`, :meth:`.import_mesh.ImportMesh.ip_layout`);
    InputError naming ``where``, the element and its record number for a point the element lacks."""
    points = np.asarray(points, dtype=np.int64)
    bad = (points < 1) | (points > n_qp)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where}: element {np.asarray(elem_ids)[i]} has {n_qp[i]} "
                         f"integration points, got point {points[i]} (record {first + i + 1})")
    return first_ip + points - 1


class NodeIndex:
    """External node id -> natural node index (position in ``mesh.points``)."""

    def __init__(self, node_ids):
        node_ids = np.asarray(node_ids, dtype=np.int64)
        self.order = np.argsort(node_ids, kind="stable")
        self.sorted = node_ids[self.order]
        self.n = len(node_ids)

    def __call__(self, ids, where="", what="node", first=0):
        """Natural indices of ``ids``; InputError naming ``where`` and the first unknown id (its record
        number, counted from ``first + 1``: ``first`` records of the block come before ``ids``)."""
        ids = np.asarray(ids, dtype=np.int64)
        if self.n == 0:
            return unknown_ids(ids, np.full(len(ids), -1, np.int64), where, what, first, 0)
        pos = np.minimum(np.searchsorted(self.sorted, ids), self.n - 1)
        return unknown_ids(ids, np.where(self.sorted[pos] == ids, self.order[pos], -1), where, what, first)


class IpIndex:
    """(external element id, 1-based integration point number) -> natural integration point index."""

    def __init__(self, mesh):
        from ...mesh.quadrature import element_rule
        nqp = np.concatenate([np.full(len(b.cells), len(element_rule(b.type, b.rule).weights), np.int64)
                              for b in mesh.blocks]) if mesh.blocks else np.zeros(0, np.int64)
        self.n_qp = nqp
        self.offset = np.concatenate([[0], np.cumsum(nqp)]).astype(np.int64)
        self.cells = NodeIndex(mesh.cell_ids)
        self.n = int(self.offset[-1])

    def __call__(self, elem_ids, points, where="", first=0):
        """Natural integration point indices; InputError naming ``where``, the element and its record
        number (counted from ``first + 1``, as :class:`NodeIndex`)."""
        c = self.cells(elem_ids, where, "element", first)
        return ip_rows(elem_ids, points, self.n_qp[c], self.offset[c], where, first)


def check_coverage(rows, n, where, what):
    """InputError unless ``rows`` covers ``range(n)`` exactly once."""
    rows = np.asarray(rows, dtype=np.int64)
    counts = np.bincount(rows, minlength=n)
    if len(rows) == n and counts.max(initial=1) == 1:
        return
    missing = np.flatnonzero(counts == 0)
    twice = np.flatnonzero(counts > 1)
    msg = f"{where}: {len(rows)} {what} records for {n} {what}s"
    if missing.size:
        msg += f", {missing.size} missing"
    if twice.size:
        msg += f", {twice.size} given more than once"
    raise InputError(msg + " (results do not match the mesh)")


# ------------------------------------------------------------------------------ the generic import

def _scatter(full, n, C, comm):
    """Rank 0's (n, C) natural array -> this rank's natural block (partition_range)."""
    if comm.size == 1:
        return full
    offsets = partition_offsets(n, comm.size)
    sizes, starts = np.diff(offsets), offsets[:-1]
    r = comm.rank
    if r == 0:
        full = np.ascontiguousarray(full, dtype=np.float64)
        comm.Scatterv([full, (sizes * C).tolist(), (starts * C).tolist(), MPI.DOUBLE], MPI.IN_PLACE,
                      root=0)
        return full[: sizes[0]]
    buf = np.empty((int(sizes[r]), C), dtype=np.float64)
    comm.Scatterv(None, buf, root=0)
    return buf


def import_results(reader: Optional[ResultReader], out_path, comm=None, attrs=None):
    """Write ``reader``'s mesh and results into a new dromo archive ``out_path`` (collective).

    ``reader`` is used on rank 0 only (other ranks may pass ``None``); its mesh is whole on rank 0 only
    (the other ranks get its natural stripes, :class:`~.import_mesh.ImportMesh`). Returns, on every rank, a
    dict ``{field name: number of steps written}``. Raises (on every rank) a
    :class:`~dromo.errors.CollectiveInputError` naming the file and the record on bad input; the
    archive is then not created.
    """
    from ..archive import Archive
    comm = comm or MPI.COMM_WORLD
    root = comm.rank == 0
    head = mesh = None
    try:
        with collective(comm):
            if root:
                if reader is None:
                    raise InputError("import_results: no reader on rank 0")
                with _reading(reader):
                    mesh = reader.mesh()
                    where = getattr(reader, "deck", "") or getattr(mesh, "source", "") or reader.source
                    check_mesh(mesh, where, geometry=False)
                    specs = list(reader.fields())
                names = [s.name for s in specs]
                if len(set(names)) != len(names):
                    raise InputError(f"{reader.source}: reader declares duplicate field names {names}")
                for s in specs:
                    why = bad_name(s.name)
                    if why:
                        raise InputError(f"{reader.source}: field name {s.name!r} {why}")
                n_items = {s.name: n_items_of(mesh, s.location) for s in specs}
                head = (n_items, specs, tuple(reader.parameter_names), dict(reader.attrs()),
                        str(reader.source), (where, bool(reader.allow_inverted)))
        n_items, specs, pnames, rattrs, source, (where, allow_inverted) = comm.bcast(head, root=0)
        head = None
        # the mesh in natural stripes, one message per rank: no rank but 0 ever holds it whole
        imesh = ImportMesh(MeshStripes.scatter(mesh if root else None, comm))
        mesh = None
        with collective(comm):          # inverted cells: every rank checks its stripe of the cells
            if not allow_inverted:
                imesh.check_cells(where)
        rattrs.update(attrs or {})
        if pnames:
            rattrs["parameter_names"] = list(pnames)
        P = len(pnames)
        spec_of = {s.name: s for s in specs}
        written = {s.name: 0 for s in specs}
        infos = {s.name: {} for s in specs}
        body_done = False
        ar = Archive.create(out_path, comm, attrs=rattrs)
        try:
            ar.write_mesh(imesh.stripes)
            for s in specs:
                ar.create_field(s.name, s.location, s.n_components, n_items=n_items[s.name],
                                components=list(s.components), units=s.units,
                                description=s.description, n_parameters=P,
                                attrs={"source": source, **s.attrs})
            if root:
                reader.defer_values()
            it = reader.steps() if root else None
            cache = {}                 # per-rank helpers of the parallel parsing (node numbering ...)
            k = 0
            while True:
                step, exc, header = None, None, None
                if root:
                    try:
                        with _reading(reader):
                            step = next(it, None)
                        if step is not None:
                            header = _check_step(step, spec_of, n_items, P, source, k,
                                                 reader.allow_nonfinite)
                    except BaseException as e:  # noqa: BLE001 - SystemExit too: raised collectively below
                        exc = e
                raise_collectively(exc, comm)
                header = comm.bcast(header, root=0)
                if header is None:
                    break
                time, params, present, info, parts = header
                cache.pop("parts", None)                 # parsed parts are kept for one step
                if parts:                                # every rank parses its share of each
                    parse_step([parts[n] for n in present if n in parts], imesh, cache, comm)
                for name in present:
                    if name in parts:                    # parsed by every rank, its own records
                        block = natural_block(parts[name], imesh, cache, comm)
                    else:
                        full = step.values[name] if root else None
                        block = _scatter(full, n_items[name], spec_of[name].n_components, comm)
                    ar.append_step(name, block, time, params)
                    written[name] += 1
                    for key, v in info.items():
                        infos[name].setdefault(key, []).append(v)
                step = full = block = None
                k += 1
                if root and (k % 10 == 0):
                    log.info("import: %d steps (time %g)", k, time)
            for name, d in infos.items():
                g = ar.h5["fields"][name]
                for key, vals in d.items():
                    g.attrs[f"source_{key}"] = np.asarray(vals)
            body_done = True
        except BaseException:
            ar.close(success=False)
            raise
        try:
            ar.close(success=True)
        except BaseException:
            # the archive may already have its final name (e.g. its XDMF sidecar failed): a failed
            # import leaves no output behind
            if root:
                for p in (out_path, os.path.splitext(out_path)[0] + ".xdmf"):
                    if body_done and os.path.exists(p):
                        os.remove(p)
            raise
    finally:
        if root and reader is not None:
            reader.close()
    if root:
        log.debug("wrote %s: %s", out_path, ", ".join(f"{n} ({c} steps)" for n, c in written.items()))
    return written


class _reading:
    """Context of the reader's calls: any exception that is not an InputError (a reader's bug or an
    input it did not foresee: OverflowError, MemoryError, RecursionError, KeyError ..., or a ``SystemExit``
    of a library that calls ``sys.exit``) becomes one InputError naming the file, so the user sees one
    line, never a traceback, and no rank leaves the others waiting."""

    def __init__(self, reader):
        self.reader = reader

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or issubclass(exc_type, (InputError, KeyboardInterrupt, GeneratorExit)):
            return False
        log.debug("reader failure", exc_info=(exc_type, exc, tb))
        msg = str(exc).splitlines()[0][:200] if str(exc) else ""
        if issubclass(exc_type, SystemExit):        # a library the reader called must not end the process
            msg = f"sys.exit({exc.code!r}) called by the reader or a library it uses"
        files = [getattr(self.reader, a, None) for a in ("deck", "frd_path", "dat_path")]
        files = [f for f in files if f] or [self.reader.source]
        raise InputError(f"{', '.join(map(str, files))}: cannot read the input "
                         f"({exc_type.__name__}: {msg})") from None


def _check_step(step, spec_of, n_items, P, source, k, allow_nonfinite=False):
    unknown = [n for n in step.values if n not in spec_of]
    if unknown:
        raise InputError(f"{source}: step {k + 1} carries undeclared fields {unknown}")
    if not np.isfinite(step.time):
        raise InputError(f"{source}: step {k + 1} has the non-finite time {step.time}")
    params = tuple(float(p) for p in step.parameters)
    if len(params) != P:
        raise InputError(f"{source}: step {k + 1} has {len(params)} parameters, expected {P}")
    present = [n for n in spec_of if n in step.values]
    parts = {n: step.values[n] for n in present if isinstance(step.values[n], RowParts)}
    for n in present:
        v = step.values[n]
        if n in parts:
            if v.n_items != n_items[n] or v.n_components != spec_of[n].n_components:
                raise InputError(f"{source}: step {k + 1} (time {step.time:g}): field {n} has shape "
                                 f"{(v.n_items, v.n_components)}, expected {(n_items[n], spec_of[n].n_components)}")
            continue
        shape = (n_items[n], spec_of[n].n_components)
        if getattr(v, "shape", None) != shape or v.dtype != np.float64:
            v = np.asarray(v, dtype=np.float64)
            if v.size != shape[0] * shape[1]:
                raise InputError(f"{source}: step {k + 1} (time {step.time:g}): field {n} has shape "
                                 f"{v.shape}, expected {shape}")
            step.values[n] = np.ascontiguousarray(v.reshape(shape))
        if not allow_nonfinite and not np.isfinite(step.values[n]).all():
            r, c = np.argwhere(~np.isfinite(step.values[n]))[0]
            raise InputError(f"{source}: step {k + 1} (time {step.time:g}): field {n}, item {r}, "
                             f"component {spec_of[n].components[c]} is {step.values[n][r, c]} "
                             f"(not finite; --allow-nonfinite keeps such values)")
    info = {str(a): float(b) for a, b in (step.info or {}).items()}
    return float(step.time), params, present, info, parts
