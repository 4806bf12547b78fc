"""Field values parsed by every rank: a reader's :class:`RowParts` and their exchange to natural blocks.

A reader whose file can be split (fixed-width records: a record starts every ``rec_len`` bytes) yields,
instead of a whole ``(n_items, C)`` array built on rank 0, a small picklable :class:`RowParts` that says
how to read any part of it. :func:`~dromo.io.adapters.import_results` broadcasts it with the step header;
every rank parses its own range of records (:meth:`RowParts.read_part`: the natural rows of those records
and their values), and :func:`natural_block` moves the rows to the ranks whose natural block
(``partition_range(n_items)``) holds them, exactly the block rank 0 would have scattered: the archive is
the same, bit for bit, at any rank count, and no rank ever holds more than its share of an increment.

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

__all__ = ["RowParts", "natural_block"]


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

    def key(self):
        """Identity of the parsed data (parts of one key are parsed once per step)."""
        return (type(self).__name__, self.where)

    def then(self, fn, n_components):
        """A copy whose parts go through ``fn`` (row-wise) after the current post-processing."""
        return dataclasses.replace(self, post=self.post + (fn,), n_components=int(n_components))

    def read_part(self, rank, size, mesh, cache):
        """``(rows (k,) int64 natural, values (k, C) float64)`` of this rank's share of the records, after
        :attr:`post`. ``cache``: a dict kept for one import on this rank (numbering helpers, the step's
        parsed parts)."""
        parts = cache.setdefault("parts", {})
        key = self.key()
        if key not in parts:
            parts[key] = self._read(rank, size, mesh, cache)
        rows, vals = parts[key]
        for fn in self.post:
            vals = fn(vals)
        return rows, np.ascontiguousarray(vals, dtype=np.float64)

    def _read(self, rank, size, mesh, cache):
        raise NotImplementedError


def natural_block(value, mesh, cache, comm):
    """This rank's natural block ``(stop - start, C)`` of the :class:`RowParts` ``value``. Collective.

    A parse error on any rank is raised on every rank. Records that do not cover the ``n_items`` rows
    exactly once raise :class:`InputError` naming ``value.where`` and the missing / repeated counts.
    """
    from . import check_coverage
    n = value.n_items
    start, stop = partition_range(n, comm)
    rows = vals = exc = None
    try:
        rows, vals = value.read_part(comm.rank, comm.size, mesh, cache)
        if vals.shape != (len(rows), value.n_components):
            raise InputError(f"{value.where}: {vals.shape[1]} values per record, expected "
                             f"{value.n_components}")
    except BaseException as e:  # noqa: BLE001 - raised on every rank below
        exc = e
    direct = exc is None and len(rows) == stop - start and np.array_equal(rows, np.arange(start, stop))
    if comm.size > 1:      # one collective call: the error check and the "own block already" flags
        status = comm.allgather((exc is not None, direct))
        if any(failed for failed, _d in status):
            raise_collectively(exc, comm)
        direct = all(d for _f, d in status)
    elif exc is not None:
        raise_collectively(exc, comm)
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
                check_coverage(np.concatenate(every), n, value.where, "node")
                raise InputError(f"{value.where}: the records do not cover the items once")
    return red.owned_to_natural(vals)


def record_range(n_records, rank, size):
    """``(start, stop)``: the records rank ``rank`` of ``size`` parses (:func:`partition_offsets`)."""
    off = partition_offsets(n_records, size)
    return int(off[rank]), int(off[rank + 1])
