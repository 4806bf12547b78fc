"""Cell partitioning with a real graph partitioner (PTScotch through PETSc ``MatPartitioning``).

The dual graph joins two cells when they share a face (at least three corner nodes). Each rank builds
its contiguous stripe of the graph's rows from the mesh's stripes (:mod:`dromo.mesh.stripes`), with a
distributed node → cell incidence: the (corner node, cell) pairs are sent to the rank ``node mod P``
(``Alltoallv``; cyclic rather than by stripes of node ids, because mesh generators often number the corner
nodes of a quadratic mesh before the mid-edge ones, which would put all the incidence on a few ranks),
which answers each pair with the cells touching that node; the rows are then the cells met at least three
times. No rank holds an incidence over all nodes; the questions go in rounds of
:data:`GRAPH_ROUND_CELLS` cells per rank, so the buffers are bounded. PETSc's partitioner (``ptscotch`` by
default; ``parmetis`` where PETSc has it; override with ``-mat_partitioning_type``) assigns every cell of
the stripe to a rank; the assignment stays distributed (each rank the part of its stripe's cells). The
quality of the partition (edge cut, imbalance) is measured and logged.

The graph's rows are the same (same sorted column indices) as the serial :func:`dual_graph` of the whole
mesh, so the partition of a mesh at a rank count is the same as with the former replicated set-up.

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

from ..parallel.exchange import Exchange, stripe_of
from ..parallel.log import get_logger
from .meshdata import CORNERS

log = get_logger(__name__)

#: stripe cells whose neighbours are asked for in one exchange round of the dual-graph build (per round
#: a rank answers about this many cells × corners × node degree (≈ 25) rows of 16 bytes, ≈ 10 MB with
#: the temporaries of the answer and of the count)
GRAPH_ROUND_CELLS = 1 << 10


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
    """Rows ``[start, stop)`` of the cell dual graph of a whole :class:`MeshData` as CSR (indptr, indices),
    no self loops (serial reference of :func:`stripe_dual_graph`)."""
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


def _corner_pairs(stripes, lo, hi):
    """(k, 2) int64 (corner node, natural cell) pairs of the stripe's cells ``[lo, hi)``."""
    out = []
    for b, t in enumerate(stripes.block_types):
        blo, bhi = stripes.block_range(b)
        a, z = max(lo, blo), min(hi, bhi)
        if z <= a:
            continue
        nc = CORNERS[t]
        c = stripes.cells[b][a - blo:z - blo, :nc]
        out.append(np.stack([c.ravel(), np.repeat(np.arange(a, z, dtype=np.int64), nc)], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def stripe_dual_graph(stripes, min_shared=3):
    """This rank's rows (its cell stripe) of the cell dual graph, as CSR ``(indptr, indices)`` int64 with
    sorted natural column indices and no self loops. Collective; see the module docstring."""
    comm = stripes.comm
    cs, ce = stripes.cell_start, stripes.cell_stop
    nc = max(1, stripes.n_cells)
    # node stripe owners gather the incidence of their nodes: sorted (node, cell) pairs
    pairs = _corner_pairs(stripes, cs, ce)
    inc = Exchange(pairs[:, 0] % comm.size, comm).forward(pairs)
    del pairs
    inc = inc[np.lexsort((inc[:, 1], inc[:, 0]))]
    inc_nodes, inc_start = np.unique(inc[:, 0], return_index=True)
    inc_deg = np.diff(np.append(inc_start, len(inc)))
    keys = []
    n_rounds = int(comm.allreduce(-(-(ce - cs) // GRAPH_ROUND_CELLS), op=MPI.MAX))
    for k in range(n_rounds):
        lo = min(ce, cs + k * GRAPH_ROUND_CELLS)
        ask = _corner_pairs(stripes, lo, min(ce, lo + GRAPH_ROUND_CELLS))
        ex = Exchange(ask[:, 0] % comm.size, comm)
        got = ex.forward(ask)
        j = np.searchsorted(inc_nodes, got[:, 0])
        deg = inc_deg[j]
        first = np.repeat(inc_start[j], deg)
        within = np.arange(int(deg.sum())) - np.repeat(np.cumsum(deg) - deg, deg)
        reply = np.stack([np.repeat(got[:, 1], deg), inc[first + within, 1]], axis=1)
        back = Exchange(np.repeat(ex.source, deg), comm).forward(reply)
        u, counts = np.unique((back[:, 0] - cs) * nc + back[:, 1], return_counts=True)
        r, c = np.divmod(u, nc)
        keys.append(u[(counts >= min_shared) & (c != r + cs)])
    rows, cols = np.divmod(np.concatenate(keys) if keys else np.zeros(0, np.int64), nc)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=ce - cs)))).astype(np.int64)
    return indptr, cols.astype(np.int64)


def partition_stripes(stripes, graph, method="ptscotch"):
    """The rank of every cell of this rank's stripe, (cell_stop - cell_start,) int64, from the stripe's
    rows ``graph`` of the dual graph (:func:`stripe_dual_graph`). Collective.

    ``method``: a PETSc MatPartitioning type (``ptscotch``, ``parmetis``, ``average``…) or ``"natural"``
    (contiguous blocks of the natural cell order, only useful as a baseline).
    """
    from petsc4py import PETSc
    comm = stripes.comm
    n, m = stripes.n_cells, stripes.cell_stop - stripes.cell_start
    if comm.size == 1:
        return np.zeros(m, dtype=np.int64)
    if method == "natural":
        return np.full(m, comm.rank, dtype=np.int64)
    indptr, indices = graph
    adj = PETSc.Mat().createAIJ(size=((m, n), (m, n)),
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
    return local


def stripe_quality(stripes, graph, part):
    """Edge cut (dual-graph edges between parts), imbalance (max/mean cells), cells per part, from the
    stripe's graph rows and the parts of its cells. Collective: the parts of the neighbours are asked
    from their stripe owners."""
    comm = stripes.comm
    indptr, indices = graph
    ex = Exchange(stripe_of(indices, stripes.n_cells, comm.size), comm)
    nb_part = ex.backward(part[ex.forward(indices) - stripes.cell_start])
    rows = np.repeat(np.arange(len(part)), np.diff(indptr))
    cut, edges = comm.allreduce(np.array([np.count_nonzero(part[rows] != nb_part), indices.size]))
    cut, edges = int(cut) // 2, int(edges) // 2
    counts = comm.allreduce(np.bincount(part, minlength=comm.size).astype(np.int64))
    mean = counts.mean() if comm.size else 0.0
    return {"edge_cut": cut, "edges": edges, "cells_per_part": counts.tolist(),
            "imbalance": float(counts.max() / mean) if mean > 0 else 1.0}


def partition_cells(mesh, comm=None, method="ptscotch"):
    """Assign every cell of a whole :class:`MeshData` (on every rank) to a rank: (n_cells,) int64, the same
    on every rank (gathered; for tests and small meshes — the set-up keeps the parts distributed)."""
    from .stripes import MeshStripes
    comm = comm or MPI.COMM_WORLD
    st = MeshStripes.from_meshdata(mesh, comm)
    local = partition_stripes(st, stripe_dual_graph(st) if method != "natural" else None, method)
    return np.concatenate(comm.allgather(local)).astype(np.int64)


def partition_quality(mesh, part, comm=None):
    """:func:`stripe_quality` of a whole :class:`MeshData` and a whole partition array (collective)."""
    from .stripes import MeshStripes
    comm = comm or MPI.COMM_WORLD
    st = MeshStripes.from_meshdata(mesh, comm)
    return stripe_quality(st, stripe_dual_graph(st), np.asarray(part)[st.cell_start:st.cell_stop])
