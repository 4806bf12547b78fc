"""Accurate distributed SVD of a row-distributed tall-skinny matrix by TSQR (R factor only).

Algorithm (``U`` is ``N × m`` distributed by rows, ``n_local × m`` on each rank, N ≫ m):

1. Local QR, streamed over chunks of rows: ``R_loc`` is updated chunk by chunk with LAPACK ``dtpqrt``
   (QR of the triangle ``R_loc`` stacked on the next ``c × m`` chunk), so only one chunk (``c × m``,
   a few MB) and ``R_loc`` are extra memory; the orthogonal factor is never stored.
2. The ``m × m`` factors ``R_loc`` of all ranks are gathered (never snapshot rows); the root computes the
   QR of the ``(P m) × m`` stack and the SVD ``R = X Σ Yᵀ`` of the global ``R``; ``Σ`` and ``Y`` are
   broadcast. Since ``UᵀU = RᵀR``, ``Σ`` are the singular values of ``U`` computed by backward-stable
   Householder QR: absolute error ~ ``eps · σ₁`` (down to about 1e-14·σ₁ relative to σ₁), unlike the
   method of snapshots whose Gram matrix squares the condition number (error ~ ``eps · σ₁² / σ``).
3. The left singular vectors (POD modes) are formed locally as ``ψ_j = U y_j / σ_j`` (BLAS-3). This is
   accurate to about ``eps · σ₁ / σ_j`` in direction: modes whose σ_j is near round-off are not accurate
   (they would need the stored orthogonal factor, 2× the memory); their singular values are.

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


def tsqr_r(local, comm=None, sqrt_weights=None):
    """Global ``R`` (``m × m``, upper triangular, on every rank) with ``RᵀR = UᵀWU``. Collective.

    Gathers only the ``m × m`` local factors; the stack is factored on rank 0 and broadcast so every rank
    holds bitwise-identical results.
    """
    comm = comm or MPI.COMM_WORLD
    m = local.shape[1]
    R = np.ascontiguousarray(local_r(local, sqrt_weights))
    if comm.size == 1:
        return R
    stack = np.empty((comm.size * m, m)) if comm.rank == 0 else None
    comm.Gather(R, stack, root=0)
    out = np.empty((m, m))
    if comm.rank == 0:
        out[:] = np.triu(np.linalg.qr(stack, mode="r"))
    broadcast_arrays([out], comm)
    return out


def tsqr_svd(local, comm=None, sqrt_weights=None):
    """Singular values and right singular vectors of the distributed ``diag(√w) U``. Collective.

    Returns
    -------
    sigma : ndarray (m,) — all singular values, descending, identical on every rank
    Y : ndarray (m, m) — right singular vectors (columns), identical on every rank; the sign of each
        column is fixed (largest-magnitude entry positive) so results do not depend on the rank count.
    """
    comm = comm or MPI.COMM_WORLD
    m = local.shape[1]
    R = tsqr_r(local, comm, sqrt_weights)
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
