"""Collectives on row-distributed data that must give the same answer at any rank count.

Row-distributed data: each rank holds some rows of a global array, each row named by a *natural id*
(rank-count independent, e.g. :attr:`DistributedMesh.ip_natural`). The helpers here return
**replicated** results that are bitwise identical on every rank, so decisions taken on them (a pivot,
a truncation rank, the sign of an eigenvector) are the same everywhere.

Every function accepts ``comm=None`` for purely local use (one process, no communication), which lets
one code path serve a global computation and a per-subdomain one.
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError

__all__ = ["allreduce_sum", "broadcast_arrays", "argmax_smallest_id", "broadcast_row", "fetch_rows"]


def _serial(comm):
    return comm is None or comm.size == 1


def allreduce_sum(array, comm=None):
    """Element-wise sum over the ranks of a numpy array (float64 or int64), bitwise identical on every rank.

    An ``MPI_Allreduce`` need not return the same bits on every rank (reduction trees may differ per rank),
    so the sum is broadcast from rank 0 afterwards; decisions on replicated data (eigen-decompositions,
    pivots, signs) then agree everywhere. Serial (``comm`` None or of size 1): ``array`` itself.
    """
    a = np.ascontiguousarray(array)
    if _serial(comm):
        return a
    out = np.empty_like(a)
    comm.Allreduce(a, out, op=MPI.SUM)
    comm.Bcast(out, root=0)
    return out


def broadcast_arrays(arrays, comm=None, root=0):
    """Broadcast numpy arrays in place from ``root`` (every rank passes arrays of the same shapes/dtypes).

    Returns ``arrays`` (a list) for convenience. No-op when serial.
    """
    if not _serial(comm):
        for a in arrays:
            comm.Bcast(a, root=root)
    return arrays


def argmax_smallest_id(scores, ids, comm=None, tie=1e-10):
    """Deterministic global argmax over row-distributed scores: ``(id, owner rank, global max)``.

    scores : (n,) local scores (``-inf`` for rows that must not be chosen); ids : (n,) their natural ids
    tie : relative window: among the rows whose score is ``≥ max − tie · |max|`` the one of *smallest
        natural id* wins, so round-off differences between rank counts do not change the choice

    Two scalar collectives: ``MAX`` of the scores, then ``MIN`` of ``id · size + rank`` over the
    candidates (which also names the owner). Returns ``(-1, -1, max)`` when no score is finite.
    """
    size = 1 if comm is None else comm.size
    rank = 0 if comm is None else comm.rank
    scores = np.asarray(scores)
    loc = float(scores.max()) if scores.size else -np.inf
    gmax = loc if size == 1 else comm.allreduce(loc, op=MPI.MAX)
    if not np.isfinite(gmax):
        return -1, -1, gmax
    cand = np.flatnonzero(scores >= gmax - tie * abs(gmax))
    key = int(np.asarray(ids)[cand].min()) * size + rank if cand.size else np.iinfo(np.int64).max
    if size > 1:
        key = comm.allreduce(key, op=MPI.MIN)
    gid, owner = divmod(key, size)
    return gid, owner, gmax


def broadcast_row(A, local_index, owner, comm=None):
    """Row ``local_index`` of the owner's local ``A`` ``(n_local, p)``, on every rank as ``(p,)`` float64.

    ``local_index`` matters on ``owner`` only (e.g. ``-1`` elsewhere).
    """
    v = np.empty(A.shape[1])
    if comm is None or owner == comm.rank:
        v[:] = A[local_index]
    broadcast_arrays([v], comm, root=owner)
    return v


def fetch_rows(rows, ids_local, wanted, comm=None):
    """The rows with natural ids ``wanted``, replicated: ``(values (len(wanted), p), owner ranks (len(wanted),))``.

    rows : (n_local, p) this rank's rows; ids_local : (n_local,) their natural ids (unique over all ranks)
    wanted : natural ids to gather (any order; the output follows it)

    One ``allgather`` of the matching rows (meant for a few rows: reduced points, pivots). Ids held by no
    rank raise :class:`~dromo.errors.InputError` (on every rank, since the gathered data is replicated).
    """
    wanted = np.asarray(wanted, dtype=np.int64)
    ids_local = np.asarray(ids_local, dtype=np.int64)
    mine = np.isin(ids_local, wanted)
    rows = np.asarray(rows)
    part = (ids_local[mine], np.ascontiguousarray(rows[mine]), 0 if comm is None else comm.rank)
    parts = [part] if _serial(comm) else comm.allgather(part)
    all_ids = np.concatenate([q[0] for q in parts])
    all_rows = np.concatenate([q[1] for q in parts])                   # (n_found, p), p may be 0
    all_ranks = np.concatenate([np.full(q[0].size, q[2], np.int64) for q in parts])
    order = np.argsort(all_ids, kind="stable")
    pos = np.searchsorted(all_ids[order], wanted)
    ok = (pos < all_ids.size) & (all_ids[order][np.minimum(pos, max(all_ids.size - 1, 0))] == wanted) \
        if all_ids.size else np.zeros(wanted.size, bool)
    if not ok.all():
        raise InputError(f"integration points {wanted[~ok][:10].tolist()} (natural ids) are not in the "
                         f"rows of the data (unknown point ids)")
    sel = order[pos]
    return all_rows[sel], all_ranks[sel]
