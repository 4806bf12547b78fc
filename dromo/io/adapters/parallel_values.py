"""Field values parsed by every rank: a reader's :class:`RowParts` and their exchange to natural blocks.

A reader whose file can be split (fixed-width records: a record starts every ``rec_len`` bytes, as in the
``.frd``; or lines that name their item, as the ``.dat``'s rows their element and point, cut at line
starts) yields, instead of a whole ``(n_items, C)`` array built on rank 0, a small picklable
:class:`RowParts` that says how to read any part of it. :func:`~dromo.io.adapters.import_results`
broadcasts it with the step header; every rank parses its own range of records (:func:`parse_step`:
:meth:`RowParts._parse` reads the records and their external node or element ids, one collective look-up
per directory maps every value's ids to natural rows — :meth:`ImportMesh.lookup
<dromo.io.adapters.import_mesh.ImportMesh.lookup>`, no rank holds the mesh's numbering —, and
:meth:`RowParts._resolve` checks them; values and steps that parse the same ids share one look-up,
:class:`SharedLookup`), and :func:`natural_block`
moves the rows to the ranks whose natural block (``partition_range(n_items)``) holds them, exactly the
block rank 0 would have scattered: the archive is the same, bit for bit, at any rank count, and no rank
ever holds more than its share of an increment. Errors are raised on every rank; when the reader ranks
them in file order (``order``), the first one only, so the message is the serial path's at any rank count.

Row-wise post-processing of a wrapping reader (column selection, tensor conversion of named state
variables) is attached with :meth:`RowParts.then` and runs on each part.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Tuple

import numpy as np
from mpi4py import MPI

from ...errors import InputError
from ...parallel import collective, raise_collectively
from ...parallel.comm import partition_offsets, partition_range
from ...parallel.redistribute import Redistributor

__all__ = ["RowParts", "SharedLookup", "natural_block", "parse_step", "raise_first", "shared_lookup"]


@dataclasses.dataclass
class RowParts:
    """Base class of a field value read in parts (subclasses implement :meth:`_read`).

    n_items : rows of the full value (nodes, cells or points of the mesh)
    n_components : columns after the post-processing
    where : names the file and block in messages
    post : row-wise functions ``(k, C) -> (k, C')`` applied in order to each part (picklable)
    """

    n_items: int
    n_components: int
    where: str
    post: Tuple[Callable, ...] = ()

    #: what a row is, in coverage messages (a class attribute: subclasses set theirs)
    item = "node"

    def key(self):
        """Identity of the parsed data (parts of one key are parsed once per step)."""
        return (type(self).__name__, self.where)

    def then(self, fn, n_components):
        """A copy whose parts go through ``fn`` (row-wise) after the current post-processing."""
        return dataclasses.replace(self, post=self.post + (fn,), n_components=int(n_components))

    #: the directory the parsed records' external ids are looked up in
    #: (:meth:`~dromo.io.adapters.import_mesh.ImportMesh.lookup`): ``"node"`` or ``"element"``
    lookup = "node"

    def parsed(self, cache):
        """``(rows, values)`` of this rank's share of the records before :attr:`post`, as :func:`parse_step`
        left them in ``cache["parts"]`` under :meth:`key`."""
        try:
            return cache["parts"][self.key()]
        except KeyError:
            raise RuntimeError(f"{self.where}: not parsed (parse_step first)") from None

    def read_part(self, cache):
        """``(rows (k,) int64 natural, values (k, C) float64)`` of this rank's share of the records, after
        :attr:`post`. ``cache``: a dict kept for one import on this rank (the step's parsed parts, what the
        subclasses keep between steps)."""
        rows, vals = self.parsed(cache)
        for fn in self.post:
            vals = fn(vals)
        return rows, np.ascontiguousarray(vals, dtype=np.float64)

    def _parse(self, rank, size, cache):
        """Parse this rank's share of the records (rank ``rank`` of ``size``): ``(state, ids)``, ``ids``
        (k,) int64 the external ids to look up in the :attr:`lookup` directory (the same on every rank
        count), ``state`` anything :meth:`_resolve` needs. Raises InputError on a bad record."""
        raise NotImplementedError

    def _resolve(self, state, found, mesh, cache):
        """``(rows (k,) int64 natural, values (k, C))`` from :meth:`_parse`'s ``state`` and ``found``, the
        natural index of each id (-1: not in the mesh); ``mesh``: the
        :class:`~dromo.io.adapters.import_mesh.ImportMesh`. Raises InputError naming an unknown id."""
        raise NotImplementedError


class SharedLookup:
    """The natural rows of one array of parsed ids, looked up once for every value (of this step and the
    following ones) that parses the same ids: :func:`shared_lookup` gives it, the value that looks the ids
    up sets :attr:`rows` when it resolves (values resolve in step order); ``rows`` stays ``None`` if that
    value failed, whose error is then raised on every rank."""

    __slots__ = ("ids", "rows")

    def __init__(self, ids):
        self.ids, self.rows = ids, None


def shared_lookup(cache, name, ids):
    """``(memo, fresh)``: the :class:`SharedLookup` of ``ids`` under ``name`` in ``cache``; ``fresh`` when
    ``ids`` differ from the last ones parsed under ``name`` (the caller then looks them up and sets
    ``memo.rows``), else the last memo (no look-up)."""
    seen = cache.get(name)
    if seen is not None and np.array_equal(seen.ids, ids):
        return seen, False
    memo = cache[name] = SharedLookup(ids)
    return memo, True


def _first_in_file(a, b):
    """The one of two exceptions raised first by the serial path: the smaller ``order`` when both have
    one, else ``a`` (the first met)."""
    oa, ob = getattr(a, "order", None), getattr(b, "order", None)
    return b if oa is not None and ob is not None and ob < oa else a


def raise_first(exc, comm, flag=None):
    """Collective: raise on every rank if any rank failed (``exc`` not None), else return the list of every
    rank's ``flag``. When every failing rank's exception has an ``order`` (a tuple ranking it in file
    order, as :class:`~dromo.io.adapters.calculix_dat.DatRows` sets), only the first is raised: the error
    the serial path raises, whatever the rank count."""
    mine = (exc is not None, flag, getattr(exc, "order", None))
    status = comm.allgather(mine) if comm.size > 1 else [mine]
    orders = [o for failed, _f, o in status if failed]
    if orders:
        if None not in orders and getattr(exc, "order", None) != min(orders):
            exc = None                     # another rank has the first error in file order
        raise_collectively(exc, comm)
    return [f for _e, f, _o in status]


def parse_step(values, mesh, cache, comm):
    """Parse this rank's share of every :class:`RowParts` of one step (kept in ``cache`` for
    :func:`natural_block`). Collective. Every value is parsed (:meth:`RowParts._parse`) before any id is
    looked up: then one collective look-up per directory (:meth:`ImportMesh.lookup
    <dromo.io.adapters.import_mesh.ImportMesh.lookup>`, every rank takes part, with its ids or none) serves
    every value, and each is resolved (:meth:`RowParts._resolve`) in turn, as the serial path parses a
    whole increment before its coverage checks. A rank keeps its first error in file order (value order,
    or the errors' ``order``) and :func:`raise_first` raises the first of all ranks on every rank."""
    parts = cache.setdefault("parts", {})
    todo, fatal = {}, None            # key -> [value, state, ids, error]
    for value in values:
        key = value.key()
        if key in parts or key in todo:
            continue
        job = todo[key] = [value, None, np.zeros(0, np.int64), None]
        if fatal is not None:
            continue
        try:
            job[1], ids = value._parse(comm.rank, comm.size, cache)
            job[2] = np.asarray(ids, dtype=np.int64)
        except BaseException as e:  # noqa: BLE001 - raised on every rank below
            job[3] = e
            if not isinstance(e, InputError):
                fatal = e
    found = {}
    for kind in sorted({v.lookup for v in values}):      # the same kinds on every rank
        jobs = [j for j in todo.values() if j[0].lookup == kind]
        ids = np.concatenate([j[2] for j in jobs]) if jobs else np.zeros(0, np.int64)
        rows = mesh.lookup(kind, ids)
        for j, r in zip(jobs, np.split(rows, np.cumsum([len(j[2]) for j in jobs])[:-1])):
            found[id(j)] = r
    exc = None
    for key, job in todo.items():
        value, state, _ids, e = job
        if e is None:
            try:
                parts[key] = value._resolve(state, found[id(job)], mesh, cache)
            except BaseException as err:  # noqa: BLE001 - raised on every rank below
                e = err
        if e is None:
            continue
        if not isinstance(e, InputError):
            exc = e
            break
        exc = e if exc is None else _first_in_file(exc, e)
    raise_first(exc, comm)


def natural_block(value, mesh, cache, comm):
    """This rank's natural block ``(stop - start, C)`` of the :class:`RowParts` ``value``, parsed by
    :func:`parse_step` (``mesh``: the :class:`~dromo.io.adapters.import_mesh.ImportMesh`). Collective.

    A parse error on any rank is raised on every rank (:func:`raise_first`). Records that do not cover
    the ``n_items`` rows exactly once raise :class:`InputError` naming ``value.where`` and the missing /
    repeated counts.
    """
    from . import check_coverage
    n = value.n_items
    start, stop = partition_range(n, comm)
    rows = vals = exc = None
    try:
        rows, vals = value.read_part(cache)
        if vals.shape != (len(rows), value.n_components):
            raise InputError(f"{value.where}: {vals.shape[1]} values per record, expected "
                             f"{value.n_components}")
    except BaseException as e:  # noqa: BLE001 - raised on every rank below
        exc = e
    direct = exc is None and len(rows) == stop - start and np.array_equal(rows, np.arange(start, stop))
    # one collective call: the error check and the "own block already" flags
    direct = all(raise_first(exc, comm, direct))
    if direct:                         # records in natural order: this rank parsed its own block
        return vals
    ok, red = True, None
    try:
        red = Redistributor(rows, n, comm)
    except ValueError:
        ok = False
    if comm.size > 1:
        ok = comm.allreduce(ok, op=MPI.LAND)
    if not ok:
        every = comm.gather(rows, root=0) if comm.size > 1 else [rows]
        with collective(comm):
            if comm.rank == 0:
                check_coverage(np.concatenate(every), n, value.where, value.item)
                raise InputError(f"{value.where}: the records do not cover the items once")
    return red.owned_to_natural(vals)


def record_range(n_records, rank, size):
    """``(start, stop)``: the records rank ``rank`` of ``size`` parses (:func:`partition_offsets`)."""
    off = partition_offsets(n_records, size)
    return int(off[rank]), int(off[rank + 1])
