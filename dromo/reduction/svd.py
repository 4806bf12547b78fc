"""Accurate distributed SVD of a row-distributed tall-skinny matrix by TSQR (R factor only).

Algorithm (``U`` is ``N × m`` distributed by rows, ``n_local × m`` on each rank, N ≫ m):

1. Local QR, streamed over chunks of rows: ``R_loc`` is updated chunk by chunk with LAPACK ``dtpqrt``
   (QR of the triangle ``R_loc`` stacked on the next ``c × m`` chunk), so only one chunk (``c × m``,
   a few MB) and ``R_loc`` are extra memory; the orthogonal factor is never stored.
2. The ``m × m`` factors ``R_loc`` of all ranks are reduced along a binary tree (never snapshot rows):
   at level ``s = 1, 2, 4, …`` rank ``r`` with ``r mod 2s = s`` sends its triangle to rank ``r − s``,
   which replaces its own by the R factor of the two stacked triangles (LAPACK ``dtpqrt`` with a
   triangular second block, in place). After ``⌈log₂ P⌉`` levels rank 0 holds the global ``R``; it is
   broadcast, and its SVD ``R = X Σ Yᵀ`` is computed on rank 0 and ``Σ``, ``Y`` broadcast. Every rank,
   the root included, holds at most two ``m × m`` triangles plus LAPACK's ``nb × m`` block reflector
   during the reduction (``≈ (2 + nb/m) m²`` doubles whatever ``P``; the former gather of the ``P``
   factors on the root needed ``(P + 1) m²``, kept as ``tree=False`` for comparisons). Since ``UᵀU = RᵀR``, ``Σ`` are the singular values of ``U`` computed by backward-stable
   Householder QR: absolute error ~ ``eps · σ₁`` (down to about 1e-14·σ₁ relative to σ₁), unlike the
   method of snapshots whose Gram matrix squares the condition number (error ~ ``eps · σ₁² / σ``).
3. The left singular vectors (POD modes) are formed locally as ``ψ_j = U y_j / σ_j`` (BLAS-3). This is
   accurate to about ``eps · σ₁ / σ_j`` in direction: modes whose σ_j is near round-off are not accurate
   (they would need the stored orthogonal factor, 2× the memory); their singular values are.

Only ``R`` (hence ``Σ`` and ``Y``) is computed: no user needs the orthogonal factor of the tree (the
modes are ``U Y Σ⁻¹``), so none of it is stored or communicated.

Inner products: Euclidean, or diagonal weights ``w`` (rows scaled by ``√w``). A general SPD matrix
(``M`` = mass or stiffness) has no cheap distributed square root: the accurate path is not offered for
it (use the method of snapshots, see :mod:`dromo.reduction.pod`).
"""
import numpy as np
from mpi4py import MPI
from scipy.linalg import lapack

from ..parallel.collectives import broadcast_arrays

__all__ = ["local_r", "tsqr_r", "tsqr_svd"]

_CHUNK_BYTES = 8 << 20      # about 8 MB of rows per local QR chunk


def local_r(local, sqrt_weights=None, chunk_rows=None):
    """Upper-triangular ``R`` (``m × m``) with ``RᵀR = Aᵀ A``, ``A = diag(√w) · local`` (this rank's rows).

    Parameters
    ----------
    local : ndarray (n_local, m) float64, not modified
    sqrt_weights : ndarray (n_local,), optional — row scaling ``√w``
    chunk_rows : int, optional — rows per chunk (default: about 8 MB, at least ``m``)
    """
    n, m = local.shape
    R = np.zeros((m, m), order="F")
    if m == 0:
        return R
    c = chunk_rows or max(m, _CHUNK_BYTES // (8 * m))
    nb = max(1, min(32, m))
    for a in range(0, n, c):
        blk = np.array(local[a:a + c], dtype=np.float64, order="F")
        if sqrt_weights is not None:
            blk *= sqrt_weights[a:a + c, None]
        R, _b, _t, info = lapack.dtpqrt(0, nb, R, blk, overwrite_a=1, overwrite_b=1)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"dtpqrt failed with info={info}")
    return np.triu(R)


def tsqr_r(local, comm=None, sqrt_weights=None, tree=True, stats=None):
    """Global ``R`` (``m × m``, upper triangular, on every rank) with ``RᵀR = UᵀWU``. Collective.

    Only ``m × m`` factors travel. ``tree=True`` (default): binary-tree reduction (module docstring),
    ``⌈log₂ P⌉`` levels of one ``m²``-double message, then one broadcast; bitwise-identical result on
    every rank. ``tree=False``: the former path (gather of the ``P`` factors on rank 0, QR of the
    ``(P m) × m`` stack), kept as a reference for tests and benchmarks.

    stats : dict, optional — filled with ``held_bytes``: the largest number of bytes this rank held at
        once in arrays of the reduction (its triangle, a received one or the gathered stack, LAPACK's
        block reflector, the result), and ``levels``: the tree levels this rank took part in.
    """
    comm = comm or MPI.COMM_WORLD
    m = local.shape[1]
    R = np.asfortranarray(local_r(local, sqrt_weights))  # (m, m) Fortran order
    held, levels = R.nbytes, 0
    if comm.size > 1 and not tree:
        R = np.ascontiguousarray(R)
        stack = np.empty((comm.size * m, m)) if comm.rank == 0 else None
        comm.Gather(R, stack, root=0)
        out = np.empty((m, m))
        if comm.rank == 0:
            out[:] = np.triu(np.linalg.qr(stack, mode="r"))
            held += stack.nbytes + out.nbytes
        R = out
    elif comm.size > 1 and m > 0:
        R, held, levels = _tree_reduce(R, comm)
    R = np.ascontiguousarray(R)
    broadcast_arrays([R], comm)
    if stats is not None:
        stats.update(held_bytes=int(held), levels=levels)
    return R


def _tree_reduce(R, comm):
    """Binary-tree reduction of the ranks' triangles ``R`` (``m × m``, Fortran order) onto rank 0.

    Returns ``(R, held_bytes, levels)``: on rank 0 the global triangle (elsewhere this rank's last
    one, unused), the peak bytes held, the number of levels this rank combined or sent at.
    """
    m = R.shape[0]
    rank, size = comm.rank, comm.size
    nb = max(1, min(32, m))
    held, levels, s = R.nbytes, 0, 1
    recv = None
    while s < size:
        if rank % (2 * s) == s:                          # send the triangle up, leave the tree
            comm.Send(R.T, dest=rank - s, tag=77)         # R.T: the C-contiguous view of R
            levels += 1
            break
        if rank % (2 * s) == 0 and rank + s < size:
            if recv is None:
                recv = np.empty((m, m))                   # C order; recv.T is the received triangle
            comm.Recv(recv, source=rank + s, tag=77)
            B = recv.T                                    # Fortran-ordered view, no copy
            R, _b, t, info = lapack.dtpqrt(m, nb, R, B, overwrite_a=1, overwrite_b=1)
            if info != 0:  # pragma: no cover - LAPACK argument error
                raise RuntimeError(f"dtpqrt failed with info={info}")
            held = max(held, R.nbytes + recv.nbytes + t.nbytes)
            levels += 1
        s *= 2
    return np.triu(R), held, levels


def tsqr_svd(local, comm=None, sqrt_weights=None, tree=True, stats=None):
    """Singular values and right singular vectors of the distributed ``diag(√w) U``. Collective.

    ``tree``, ``stats``: as for :func:`tsqr_r`.

    Returns
    -------
    sigma : ndarray (m,) — all singular values, descending, identical on every rank
    Y : ndarray (m, m) — right singular vectors (columns), identical on every rank; the sign of each
        column is fixed (largest-magnitude entry positive) so results do not depend on the rank count.
    """
    comm = comm or MPI.COMM_WORLD
    m = local.shape[1]
    R = tsqr_r(local, comm, sqrt_weights, tree=tree, stats=stats)
    sigma = np.empty(m)
    Y = np.empty((m, m))
    if comm.rank == 0:
        _x, s, yt = np.linalg.svd(R)
        Y[:] = fix_signs(yt.T)
        sigma[:] = s
    broadcast_arrays([sigma, Y], comm)
    return sigma, Y


def fix_signs(V):
    """Flip columns of ``V`` in place so the entry of largest magnitude of each column is positive."""
    if V.size:
        idx = np.argmax(np.abs(V), axis=0)
        s = np.sign(V[idx, np.arange(V.shape[1])])
        s[s == 0] = 1.0
        V *= s
    return V
