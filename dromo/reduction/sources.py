"""Snapshot sources: the row-distributed snapshot matrix, in memory or streamed in blocks of columns.

Data model
----------
The snapshot matrix ``U`` (``N × m``: ``N`` global rows = dofs or integration-point components, ``m``
columns = snapshots) is distributed **by rows**: each rank holds a local block ``(n_local, m)`` float64 of
its own rows, in the rank's own ordering. No rank ever holds the whole matrix. A
:class:`SnapshotSource` hands out column blocks ``[start, stop)`` of the local rows, so a POD can stream
snapshot sets larger than memory (the archive's field sources read blocks of time steps from HDF5).

Every ``read`` is collective (all ranks call it with the same ``start, stop``); ``label(j)`` is the same
string on every rank and names snapshot ``j`` for error messages ("field U, time 0.35, params (...)").
"""
from typing import Protocol, runtime_checkable

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import collective

__all__ = ["SnapshotSource", "ArraySource", "as_source", "read_block", "check_finite"]


@runtime_checkable
class SnapshotSource(Protocol):
    """Column-streamable, row-distributed snapshot matrix (see the module docstring).

    Attributes
    ----------
    n_snapshots : int
        Number of columns ``m`` (the same on every rank).
    n_local : int
        Number of rows held by this rank (may be 0 on some ranks).
    comm : MPI.Comm
    """
    n_snapshots: int
    n_local: int
    comm: MPI.Comm

    def read(self, start: int, stop: int) -> np.ndarray:
        """Local rows of snapshots ``start..stop-1``: array ``(n_local, stop - start)`` float64. Collective."""

    def label(self, j: int) -> str:
        """Human label of snapshot ``j`` (same on every rank), used in error messages."""


class ArraySource:
    """A :class:`SnapshotSource` over a local in-memory array ``(n_local, m)``.

    Parameters
    ----------
    local : array_like (n_local, m)
        This rank's rows of the snapshot matrix. Converted to float64 (no copy when it already is).
        A 1-D array is taken as a single snapshot column.
    comm : MPI.Comm, optional (default ``COMM_WORLD``)
    labels : sequence of str, optional
        Label of every snapshot (same on every rank); default ``"<name> snapshot j"``.
    name : str
        Name used in default labels (e.g. the field name).

    Creating it is collective: the snapshot counts of all ranks are compared and an
    :class:`~dromo.errors.InputError` is raised on every rank when they differ.
    """

    def __init__(self, local, comm=None, labels=None, name="snapshots"):
        self.comm = comm or MPI.COMM_WORLD
        a = np.asarray(local, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        self.array = a
        self.name = name
        self._labels = None if labels is None else [str(x) for x in labels]
        ok = a.ndim == 2
        m = a.shape[1] if ok else -1
        counts = self.comm.allgather(m) if self.comm.size > 1 else [m]
        if not ok or len(set(counts)) != 1:
            raise InputError(f"{name}: every rank must hold an (n_local, m) array with the same number of "
                             f"snapshots m; got m per rank {counts}")
        if self._labels is not None and len(self._labels) != m:
            raise InputError(f"{name}: {len(self._labels)} labels for {m} snapshots")
        self.n_local, self.n_snapshots = a.shape

    def read(self, start, stop):
        """View of the local columns ``start:stop`` (not a copy; do not modify)."""
        return self.array[:, start:stop]

    def label(self, j):
        if self._labels is not None:
            return self._labels[j]
        return f"{self.name} snapshot {j}"


def as_source(data, comm=None, name="snapshots"):
    """Return ``data`` if it is a :class:`SnapshotSource`, else wrap a local array in :class:`ArraySource`."""
    if isinstance(data, SnapshotSource) and not isinstance(data, np.ndarray):
        return data
    return ArraySource(data, comm=comm, name=name)


def check_finite(block, source, start, comm=None):
    """Raise :class:`~dromo.errors.InputError` on **every** rank if any rank's block holds NaN or Inf.

    ``block`` is ``(n_local, c)`` = snapshots ``start .. start+c-1``. The message names the first bad
    snapshot by its label (``source.label(j)``). Costs one column sum (O(n c)) and one small Allreduce;
    collective.
    """
    comm = comm or source.comm
    first = np.iinfo(np.int64).max
    if block.size:
        sums = block.sum(axis=0)       # NaN/Inf propagate; a finite overflow is checked below
        for j in np.flatnonzero(~np.isfinite(sums)):
            if not np.isfinite(block[:, j]).all():
                first = start + int(j)
                break
    bad = comm.allreduce(first, op=MPI.MIN) if comm.size > 1 else first
    if bad != np.iinfo(np.int64).max:
        raise InputError(f"non-finite value (NaN or Inf) in snapshot {bad}: {source.label(bad)}")


def read_block(source, start, stop, check=True):
    """Collective ``source.read(start, stop)`` as float64, with errors raised on every rank.

    A failure inside ``read`` on some ranks becomes a :class:`~dromo.errors.CollectiveError` everywhere
    (no hang); a wrongly shaped block or a NaN/Inf value becomes an :class:`~dromo.errors.InputError` on
    every rank naming the snapshot.
    """
    comm = source.comm
    with collective(comm):
        block = np.asarray(source.read(start, stop), dtype=np.float64)
        if block.ndim != 2 or block.shape != (source.n_local, stop - start):
            raise InputError(f"snapshot source returned shape {block.shape} for snapshots "
                             f"{start}..{stop - 1}, expected {(source.n_local, stop - start)}")
    if check:
        check_finite(block, source, start, comm)
    return block
