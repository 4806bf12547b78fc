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


def allreduce_sum(array, comm=None):
    """Element-wise MPI sum of a numpy array (float64 or int64), returned on every rank."""
    comm = comm or MPI.COMM_WORLD
    a = np.ascontiguousarray(array)
    out = np.empty_like(a)
    comm.Allreduce(a, out, op=MPI.SUM)
    return out


def partition_range(n, comm=None):
    """Contiguous block ``[start, stop)`` of ``range(n)`` for this rank, PETSc's default split.

    Ranks below ``n % size`` get one item more, as ``PETSC_DECIDE`` does.
    """
    comm = comm or MPI.COMM_WORLD
    p, r = comm.size, comm.rank
    base, extra = divmod(int(n), p)
    start = r * base + min(r, extra)
    return start, start + base + (1 if r < extra else 0)
