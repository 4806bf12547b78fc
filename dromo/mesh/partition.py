"""Cell partitioning with a real graph partitioner (PTScotch through PETSc ``MatPartitioning``).

The dual graph joins two cells when they share a face (at least three corner nodes). Each rank builds
its contiguous stripe of the graph's rows, PETSc's partitioner (``ptscotch`` by default; ``parmetis``
where PETSc has it; override with ``-mat_partitioning_type``) assigns every cell to a rank, and the
assignment is gathered on every rank (one int per cell). The quality of the partition (edge cut,
imbalance) is measured and logged.

Reproducibility: PTScotch draws from a process-global pseudo-random generator that is not reset between
calls, so two partitions of the same mesh in one process may differ (and a restarted run would then sum
its assembly in another order, differing from the uninterrupted run by round-off). The generator is reset
(``SCOTCH_randomReset``) before every partition: the same mesh at the same rank count always gets the
same partition.
"""
import functools

import numpy as np
import scipy.sparse as sp
from mpi4py import MPI

from ..parallel.comm import partition_range
from ..parallel.log import get_logger
from .meshdata import CORNERS

log = get_logger(__name__)


def _corner_incidence(mesh, rows=None):
    """Sparse (n_cells_sel, n_nodes) 0/1 matrix of the cells' corner nodes."""
    parts_r, parts_c = [], []
    off = mesh.cell_offsets
    start, stop = (0, mesh.n_cells) if rows is None else rows
    for b, blk in enumerate(mesh.blocks):
        lo, hi = max(start, off[b]), min(stop, off[b + 1])
        if hi <= lo:
            continue
        nc = CORNERS[blk.type]
        c = blk.cells[lo - off[b]:hi - off[b], :nc]
        parts_r.append(np.repeat(np.arange(lo - start, hi - start, dtype=np.int64), nc))
        parts_c.append(c.ravel())
    r = np.concatenate(parts_r) if parts_r else np.zeros(0, np.int64)
    c = np.concatenate(parts_c) if parts_c else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(r.size, dtype=np.int32), (r, c)), shape=(stop - start, mesh.n_nodes))


def dual_graph(mesh, rows=None, min_shared=3):
    """Rows ``[start, stop)`` of the cell dual graph as CSR (indptr, indices), no self loops."""
    start, stop = (0, mesh.n_cells) if rows is None else rows
    a_rows = _corner_incidence(mesh, (start, stop))
    a_all = _corner_incidence(mesh)
    shared = (a_rows @ a_all.T).tocsr()
    shared.data[shared.data < min_shared] = 0
    _zero_self(shared, start)
    shared.eliminate_zeros()
    shared.sort_indices()
    return shared.indptr.astype(np.int64), shared.indices.astype(np.int64)


def _zero_self(m, start):
    r = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    m.data[m.indices == r + start] = 0


@functools.lru_cache(maxsize=None)
def _scotch_library():
    """PTScotch as PETSc already loaded it (ctypes, no new load), or None when not found."""
    import ctypes
    for name in ("libptscotch.so", "libptscotch-7.0.so", "libptscotch-6.1.so", "libptscotch-6.0.so"):
        try:
            lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL | getattr(ctypes, "RTLD_NOLOAD", 4))
            lib.SCOTCH_randomReset
            return lib
        except (OSError, AttributeError):
            continue
    log.debug("SCOTCH_randomReset not found: partitions may differ between calls")
    return None


def _reset_scotch_random():
    """Reset PTScotch's global pseudo-random generator, if the library is found."""
    lib = _scotch_library()
    if lib is not None:
        lib.SCOTCH_randomReset()


def partition_cells(mesh, comm=None, method="ptscotch"):
    """Assign every cell to a rank. Returns (n_cells,) int64, identical on every rank.

    ``method``: a PETSc MatPartitioning type (``ptscotch``, ``parmetis``, ``average``…) or ``"natural"``
    (contiguous blocks of the natural cell order, only useful as a baseline).
    """
    from petsc4py import PETSc
    comm = comm or MPI.COMM_WORLD
    n = mesh.n_cells
    if comm.size == 1:
        return np.zeros(n, dtype=np.int64)
    start, stop = partition_range(n, comm)
    if method == "natural":
        local = np.full(stop - start, comm.rank, dtype=np.int64)
    else:
        indptr, indices = dual_graph(mesh, (start, stop))
        adj = PETSc.Mat().createAIJ(size=((stop - start, n), (stop - start, n)),
                                    csr=(indptr.astype(PETSc.IntType), indices.astype(PETSc.IntType),
                                         np.ones(indices.size)), comm=comm)
        mp = PETSc.MatPartitioning().create(comm=comm)
        mp.setAdjacency(adj)
        mp.setType(method)
        mp.setFromOptions()
        if mp.getType() == "ptscotch":
            _reset_scotch_random()
        iset = PETSc.IS()
        mp.apply(iset)
        local = np.asarray(iset.getIndices(), dtype=np.int64).copy()
        iset.destroy()
        mp.destroy()
        adj.destroy()
    counts = np.array(comm.allgather(local.size), dtype=np.int64)
    part = np.empty(n, dtype=np.int64)
    comm.Allgatherv(local, [part, (counts, np.concatenate(([0], np.cumsum(counts)[:-1]))), MPI.INT64_T])
    return part


def partition_quality(mesh, part, comm=None):
    """Edge cut (dual-graph edges between parts), imbalance (max/mean cells), cells per part.

    Collective: each rank counts the cut edges of its stripe of the dual graph.
    """
    comm = comm or MPI.COMM_WORLD
    n_parts = comm.size
    start, stop = partition_range(mesh.n_cells, comm)
    indptr, indices = dual_graph(mesh, (start, stop))
    rows = np.repeat(np.arange(start, stop), np.diff(indptr))
    cut, edges = comm.allreduce(np.array([np.count_nonzero(part[rows] != part[indices]), indices.size]))
    cut, edges = int(cut) // 2, int(edges) // 2
    counts = np.bincount(part, minlength=n_parts)
    mean = counts.mean() if n_parts else 0.0
    return {"edge_cut": cut, "edges": edges, "cells_per_part": counts.tolist(),
            "imbalance": float(counts.max() / mean) if mean > 0 else 1.0}
