"""Communicator helpers. All functions take an optional ``comm`` (default: ``MPI.COMM_WORLD``)."""
import numpy as np
from mpi4py import MPI


def world():
    return MPI.COMM_WORLD


def rank(comm=None):
    return (comm or MPI.COMM_WORLD).rank


def size(comm=None):
    return (comm or MPI.COMM_WORLD).size


def is_root(comm=None):
    return (comm or MPI.COMM_WORLD).rank == 0


def partition_offsets(n, n_parts):
    """Starts of the contiguous blocks of ``range(n)`` split in ``n_parts``: ``(n_parts + 1,)`` int64.

    PETSc's default (``PETSC_DECIDE``) split: the first ``n % n_parts`` blocks get one item more. Block ``r``
    is ``[offsets[r], offsets[r + 1])``.
    """
    base, extra = divmod(int(n), int(n_parts))
    r = np.arange(int(n_parts) + 1, dtype=np.int64)
    return r * base + np.minimum(r, extra)


def partition_range(n, comm=None):
    """Contiguous block ``[start, stop)`` of ``range(n)`` for this rank (:func:`partition_offsets`)."""
    comm = comm or MPI.COMM_WORLD
    off = partition_offsets(n, comm.size)
    return int(off[comm.rank]), int(off[comm.rank + 1])
