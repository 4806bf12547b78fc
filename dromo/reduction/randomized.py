"""POD by a block randomized SVD on BLAS-3 (``pod(..., method="randomized")``, ``dromo pod --method randomized``).

For many snapshots (``m`` in the thousands) of which only the leading ``k ≪ m`` modes are wanted, the
method of snapshots costs ``O(N m²)`` (the Gram matrix) and TSQR ``O(N m²)`` too. A randomized subspace
iteration (Halko, Martinsson & Tropp, SIAM Review 2011, algorithms 4.4 and 5.1) costs ``O(N m l)`` per pass
over the snapshots for a block of ``l ≈ k + p`` columns, in large matrix-matrix products (BLAS-3), with
one ``m × l`` ``MPI_Allreduce`` per pass.

Algorithm (``A = diag(√w) U``, ``N × m``, rows distributed; everything of size ``m × l`` or ``l × l`` is
replicated and bitwise identical on every rank):

1. ``Z₀`` = the ``m × l`` Gaussian test matrix of a fixed seed (the same whatever the rank count),
   orthonormalized;
2. ``q`` power steps ``Z ← orth(Aᵀ (A Z))`` (``power_steps``, default 1): two local GEMMs and one sum
   over the ranks each; the QR of the ``m × l`` result is replicated. (Each step raises the spectrum to
   the square: the leading ``k`` directions converge like ``(σ_{l+1}/σ_k)^{2q+1}``);
3. Rayleigh–Ritz: ``C = A Z`` (``N × l``), its singular values and right vectors by TSQR
   (:func:`~.svd.tsqr_svd`), so the singular values are as accurate as TSQR's for the subspace found:
   ``σ_j`` and the right singular vectors ``Y = Z V_C`` (``m × l``);
4. stop criterion, as in the other methods (energy tolerance ε = ``tol``): ``‖A‖_F² = Σ_i σ_i²`` is known
   (one pass, one sum), so the discarded energy of the ``k`` first Ritz values is
   ``‖A‖_F² − Σ_{j≤k} σ_j²`` (an over-estimate: Ritz values never exceed the true ones, hence never fewer
   modes than needed). The fewest ``k`` meeting it must leave ``p = max(10, ⌈k/4⌉)`` oversampling
   columns (``k + p ≤ l``); otherwise ``l`` is doubled (the current Ritz vectors are kept as the start of
   the new block), the ``q`` power steps are taken on it and step 3 is repeated, up to ``l = m`` (then the result is the exact SVD of ``A``);
5. convergence: the residual of each kept triplet, ``‖Aᵀu_j − σ_j y_j‖ = ‖AᵀA y_j − σ_j² y_j‖ / σ_j``
   (``u_j = A y_j / σ_j`` exactly, so ``A y_j − σ_j u_j = 0``), must be at most ``1e-10 ‖A‖_F``
   (``residual_tol``), SLEPc's criterion; the product ``AᵀA Y`` it needs is the next power step, taken
   (then step 3 again) when the residuals are too large, up to ``max_steps`` (30; then a warning);
6. modes ``ψ_j = U y_j / σ_j``, formed as the TSQR and SLEPc paths form them.

Accuracy: singular values to about ``eps σ₁`` absolute for the subspace found (TSQR); subspace angles of
well-separated leading modes to round-off; the power steps work with ``AᵀA`` so directions with
``σ < ~1e-7 σ₁`` are not resolved (energy tolerances below about ``1e-7``: use ``method="svd"``).
``power_steps`` (default 1), the first block ``l`` (default 32, or ``max_modes + p`` when larger) and the
residual tolerance are parameters. Angles of the kept modes are then at most about
``1e-10 ‖A‖_F / gap`` (the gap of ``σ²`` around the mode over ``σ``), as for SLEPc.

Cost against the method of snapshots (``N m²`` flops for the Gram matrix): about ``(2q + 2) N m l`` flops
per block size tried (1 + 2q + 2 + 1 passes when the first block suffices), so it wins when ``l ≲ m / (2q + 2)``, e.g. k = 50 of m = 5000 snapshots.
"""
import numpy as np

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum
from .sources import ArraySource, check_finite, read_block
from .svd import fix_signs, tsqr_svd

__all__ = ["pod_randomized", "SnapshotProducts", "POWER_STEPS", "FIRST_BLOCK", "SEED", "RESIDUAL_TOL"]

_log = get_logger("dromo.reduction.randomized")
POWER_STEPS = 1
FIRST_BLOCK = 32
RESIDUAL_TOL = 1e-10
MAX_STEPS = 30
SEED = 20261202
_COLS = 256           # snapshot columns per streamed block


def _oversampling(k):
    return max(10, -(-k // 4))


class SnapshotProducts:
    """``A = diag(√w) U`` as products with column blocks ``A Z`` and ``Aᵀ Y`` (in memory, or streamed by
    column blocks from a source). Local rows only; no communication. Also the kernel of SLEPc's view of the
    snapshots (:mod:`.snapshot_mat`)."""

    def __init__(self, src, sqrt_weights, check):
        self.src, self.sw, self.m = src, sqrt_weights, int(src.n_snapshots)
        self.array = src.array if isinstance(src, ArraySource) else None
        if self.array is not None and check:
            check_finite(self.array, src, 0)
        self.check = check and self.array is None        # streamed blocks are checked as they are read

    def _blocks(self):
        if self.array is not None:
            yield 0, self.m, self.array
            return
        for a in range(0, self.m, _COLS):
            b = min(self.m, a + _COLS)
            yield a, b, read_block(self.src, a, b, check=self.check)

    def weight(self, block):
        """``diag(√w) block`` for a block of local rows (the block itself for the Euclidean product)."""
        return block if self.sw is None else self.sw[:, None] * block

    def matmat(self, Z):
        """``A Z`` (local rows × l)."""
        return self.weight(self.modes(Z))

    def rmatmat(self, Y):
        """``Aᵀ Y`` restricted to this rank's rows (m × l, to be summed over the ranks)."""
        Yw = self.weight(Y)
        out = np.empty((self.m, Y.shape[1]))
        for a, b, blk in self._blocks():
            out[a:b] = blk.T @ Yw
        return out

    def frobenius2_local(self):
        s = 0.0
        for _a, _b, blk in self._blocks():
            s += float(np.einsum("ij,ij->", blk, blk) if self.sw is None else
                       np.einsum("i,ij,ij->", self.sw * self.sw, blk, blk))
        return s

    def modes(self, W):
        """``U W`` (local rows × k): the modes from the scaled right vectors."""
        if self.array is not None:
            return self.array @ W
        out = np.zeros((self.src.n_local, W.shape[1]))
        for a, b, blk in self._blocks():
            out += blk @ W[a:b]
        return out


def _orth(Z):
    """Orthonormal basis of the columns of the replicated ``Z`` (same bits on every rank: same input)."""
    q, _r = np.linalg.qr(Z)
    return q


def _ritz(A, Z, comm):
    """Singular values and right vectors of ``A`` on the subspace ``Z`` (m × l orthonormal): TSQR of A Z."""
    C = A.matmat(Z)
    sig, V = tsqr_svd(C, comm)
    Y = Z @ V
    return sig, fix_signs(Y)


def pod_randomized(src, ip, tol, max_modes, check, power_steps=POWER_STEPS, first_block=None, seed=SEED,
                   residual_tol=RESIDUAL_TOL, max_steps=MAX_STEPS):
    """POD of the snapshot source ``src`` by a block randomized SVD (module docstring). Collective.

    ``ip``: an :class:`~.pod.InnerProduct` of kind "euclid" or "weights" (a matrix raises InputError).
    Returns a :class:`~.pod.PODBasis` (``method="randomized"``) with ``singular_values`` the Ritz values of
    the last block (``l`` of them, the leading ones accurate).
    """
    from .pod import PODBasis, truncation_rank
    comm, m = src.comm, int(src.n_snapshots)
    if ip.kind == "mat":
        raise InputError("method 'randomized' supports the Euclidean and diagonal-weight inner products only "
                         "(rows scaled by √w); use method 'snapshots' with an assembled inner-product matrix")
    if int(power_steps) < 0:
        raise InputError(f"randomized POD: power_steps must be >= 0, got {power_steps}")
    A = SnapshotProducts(src, ip.sqrt_weights if ip.kind == "weights" else None, check)
    total = float(allreduce_sum(np.array([A.frobenius2_local()]), comm)[0])
    if not total > 0:
        raise InputError(f"{getattr(src, 'name', 'snapshots')}: all snapshots are zero in the chosen inner "
                         "product; nothing to compress")
    cap = m if max_modes is None else min(m, int(max_modes))
    if first_block is None:
        first_block = FIRST_BLOCK if max_modes is None else max(FIRST_BLOCK, cap + _oversampling(cap))
    l = min(m, max(1, int(first_block)))
    rng = np.random.default_rng(seed)
    Z = _orth(rng.standard_normal((m, l)))
    eps = np.finfo(float).eps
    passes, steps = 0, 0

    def power(Y):
        nonlocal passes
        passes += 2
        return allreduce_sum(A.rmatmat(A.matmat(Y)), comm)

    for _ in range(int(power_steps)):
        Z = _orth(power(Z))
        steps += 1
    while True:
        sig, Y = _ritz(A, Z, comm)
        passes += 1
        n_valid = int(np.count_nonzero(sig > m * eps * sig[0])) if sig[0] > 0 else 0
        k = truncation_rank(sig[:n_valid] ** 2, tol, max_modes,
                            discarded=max(total - float(np.sum(sig[:n_valid] ** 2)), 0.0), total=total)
        k = max(1, min(k, n_valid))
        if l < m and (k + _oversampling(k) > l or (tol is None and k < cap)):
            # a larger block, the current subspace first
            l_new = min(m, 2 * l)
            Z = _orth(np.hstack([Y, rng.standard_normal((m, l_new - l))]))
            l = l_new
            for _ in range(int(power_steps)):            # the new random columns need their power steps
                Z = _orth(power(Z))
                steps += 1
            continue
        if l >= m:
            break                                          # the whole space: exact
        # residuals of the kept triplets, ‖Aᵀu_j − σ_j y_j‖ = ‖AᵀA y_j − σ_j² y_j‖ / σ_j (u_j = A y_j / σ_j
        # exactly), against residual_tol·‖A‖_F; the product is the next power step when it is not met
        W = power(Y)
        res = np.linalg.norm(W[:, :k] - Y[:, :k] * sig[None, :k] ** 2, axis=0) / sig[:k]
        if res.max() <= residual_tol * np.sqrt(total):
            break
        if steps >= max_steps:
            _log.warning("randomized POD: %d power steps and the largest residual of the %d kept triplets is still "
                         "%.2e ‖A‖_F (> %.0e): modes accurate to about that over the singular-value gaps", steps, k,
                         res.max() / np.sqrt(total), residual_tol)
            break
        Z = _orth(W)
        steps += 1
    discarded = max(total - float(np.sum(sig[:k] ** 2)), 0.0) / total
    _log.info("randomized POD: block of %d columns, %d power steps, %d passes over the snapshots: %d modes "
              "kept, discarded energy %.3e", l, steps, passes, k, discarded)
    modes = A.modes(Y[:, :k] / sig[None, :k])
    return PODBasis(modes=modes, singular_values=sig, n_kept=k, tol=tol, energy=min(1.0 - discarded, 1.0),
                    inner=ip.name, method="randomized", n_snapshots=m, max_modes=max_modes, comm=comm,
                    inner_product=ip)
