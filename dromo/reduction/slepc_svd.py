"""POD by SLEPc's truncated SVD (``pod(..., method="slepc")``, ``dromo pod --method slepc``).

The snapshot matrix ``A = diag(√w) U`` (``N × m``, rows distributed as everywhere in dromo; ``w`` the
diagonal weights of the inner product, 1 for the Euclidean one) is given to SLEPc as a PETSc matrix over
dromo's own rows (:func:`~.snapshot_mat.snapshot_mat`: no copy of the snapshots, BLAS-3 block products;
a streamed source is read into memory first), and SLEPc computes its **leading** singular triplets
only — cost O(N·m·k) for k triplets instead of the O(N·m²) of the Gram matrix. Solvers
(``-dromo_svd_type``): ``randomized`` (the default), ``trlanczos``, ``lanczos``, ``cross`` (eigenproblem
of ``AᵀA``: squares the condition number, like the method of snapshots).

Energy tolerance (ε = ``tol``, as in the other methods: the fewest ``k`` with ``Σ_{i>k} σ_i² ≤ ε² Σ_i σ_i²``).
SLEPc gives leading triplets, not the tail; but the total ``Σ_i σ_i² = ‖A‖_F²`` is the sum of squares of
the entries (one pass, one ``MPI_Allreduce``), so the discarded energy of ``k`` computed triplets is
``‖A‖_F² − Σ_{i≤k} σ_i²`` (up to round-off ``~ eps ‖A‖_F²``: tolerances ``ε`` below about ``1e-7`` are
resolved only to that level). Accuracy: every kept triplet has a residual at most ``1e-12 ‖A‖_F``
(``RESIDUAL_TOL``; ``-dromo_svd_tol`` overrides the absolute value): triplets at round-off level converge at
once instead of never, and the modes agree with the TSQR ones to about ``1e-12 ‖A‖_F / gap`` in angle.

Default solver: SLEPc's randomized subspace iteration (``SVDRANDOMIZED``, Halko–Martinsson–Tropp) on
blocks of ``l`` columns. Each SLEPc solve runs one iteration (``A V``, orthonormalize, ``Aᵀ U``, SVD of the
``l × l`` factor: two BLAS-3 products) from the given start block — the fixed-iteration use SLEPc documents
for this solver (``SVD_CONV_MAXIT``, ``max_it`` 1) — and dromo decides what comes next, as
:mod:`.randomized` does with its own products: the energy rank ``k`` of the ``l`` Ritz values (lower bounds
of the singular values, so never too few modes); a block twice as large when ``k`` plus the oversampling
``max(10, ⌈k/4⌉)`` exceeds ``l`` (the current right vectors start it, SLEPc fills the new columns with
random ones); otherwise the residuals of the ``k`` kept triplets, all at once, ``‖AᵀA y_j − σ_j² y_j‖ / σ_j``
(two products of ``k`` columns, the first of which gives the modes), against the tolerance above; when
one is larger, SLEPc iterates again from ``[AᵀA Y_k, Y_{k:l}]`` (the residual product is the next power
step). First block 32 columns (or ``max_modes`` plus the oversampling), at most ``MAX_STEPS`` iterations.

Why not SLEPc's own convergence test for this solver, nor the Krylov solvers: on a machine whose memory
bandwidth is shared, a product with one vector streams the whole matrix for 2 flops per 8 bytes.
SLEPc's ``trlanczos`` takes two such passes per Lanczos step and about ``1.3 k`` steps at best (``ncv``
fitted to ``k``; SLEPc's default ``ncv = 2 nsv``, and the unknown ``k`` of an energy tolerance, make it
``2k`` to ``4k``); ``randomized``'s own test computes two matrix-vector residuals per converged triplet.
Measured on the pod benchmark's truncated matrix (2 ranks, ``N = 2·10⁵``, ``m = 5000``, 56 modes, a
machine shared with other jobs, each ratio within one run): ``trlanczos`` with the ideal
``nsv = 56, ncv = 72`` 120 s (72 steps, 144 passes at 4.8 GB/s per rank) against 168 s for the method of
snapshots, 0.72; with ``nsv`` doubled from 16 and SLEPc's ``ncv`` (224 steps) 253 s against 203 s, 1.25.
The block iteration above does that work in a few ``dgemm`` of ``l`` columns (24 Gflop/s per core: one
``l``-column product costs about ``l/10`` passes): blocks of 32, 64, 128 columns, one SLEPc iteration
each, the residual check met at once, 20.0 s against 70.7 s for the method of snapshots, 0.28 (dromo's
own randomized POD, same blocks, 37.5 s in that run). SLEPc 3.18's block orthogonalizations other than
Gram-Schmidt are no help here: ``-bv_orthog_block tsqr`` corrupts memory (crash at ``SVDDestroy``),
``chol`` fails on these ill-conditioned blocks.

Krylov solvers (any other ``-dromo_svd_type``): SLEPc's convergence test (absolute residual, the tolerance
above); SLEPc is asked for ``nsv`` triplets (16 at first, or ``max_modes``), and when the converged ones
do not reach the energy tolerance, ``nsv`` is doubled and the SVD solved again, up to ``m``.

Modes: ``ψ_j = U y_j / σ_j`` from the right singular vectors ``y_j`` (replicated ``m × k``, signs fixed as in
:mod:`.svd`), exactly as the TSQR path forms them, so zero-weight rows are handled and the modes are
M-orthonormal; they are returned in a new :class:`~.views.PetscBlock` (``basis.modes`` is its numpy face,
usable as a BV without copy). ``singular_values`` holds the computed ones (the Ritz values of the last
block for ``randomized``, the converged ones for the Krylov solvers).

SLEPc options pass through with the prefix ``dromo_`` (``-dromo_svd_type trlanczos``,
``-dromo_svd_ncv 40``, ``-dromo_svd_monitor``); on the command line after ``--petsc``. They override the
settings above (e.g. ``-dromo_svd_max_it 2``: two SLEPc iterations per solve).
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum, broadcast_arrays
from .pod import PODBasis, truncation_rank
from .randomized import FIRST_BLOCK, MAX_STEPS, SnapshotProducts, _oversampling
from .snapshot_mat import snapshot_mat
from .sources import ArraySource, read_block
from .svd import fix_signs
from .views import PetscBlock

__all__ = ["pod_slepc", "OPTIONS_PREFIX", "RESIDUAL_TOL"]

_log = get_logger("dromo.reduction.slepc_svd")
OPTIONS_PREFIX = "dromo_"
RESIDUAL_TOL = 1e-12
_FIRST_NSV = 16
_COLS = 256           # columns per block when a streamed source is read into memory


def _in_memory(src, check):
    """``src`` as an in-memory :class:`~.sources.ArraySource` (a streamed source is read, checked, once)."""
    if isinstance(src, ArraySource):
        return src
    comm, n, m = src.comm, int(src.n_local), int(src.n_snapshots)
    U = np.empty((n, m), order="F")
    for a in range(0, m, _COLS):
        b = min(m, a + _COLS)
        U[:, a:b] = read_block(src, a, b, check=check)
    return ArraySource(U, comm=comm, name=getattr(src, "name", "snapshots"))


def pod_slepc(src, ip, tol, max_modes, check, prefix=OPTIONS_PREFIX):
    """POD of the snapshot source ``src`` by SLEPc's truncated SVD (module docstring). Collective.

    ``ip``: an :class:`~.pod.InnerProduct` of kind "euclid" or "weights" (a matrix raises InputError).
    Returns a :class:`~.pod.PODBasis` (``method="slepc"``).
    """
    from slepc4py import SLEPc
    comm, n, m = src.comm, int(src.n_local), int(src.n_snapshots)
    if ip.kind == "mat":
        raise InputError("method 'slepc' supports the Euclidean and diagonal-weight inner products only "
                         "(rows scaled by √w); use method 'snapshots' with an assembled inner-product matrix")
    mem = _in_memory(src, check)
    A = SnapshotProducts(mem, ip.sqrt_weights if ip.kind == "weights" else None,
                         check and isinstance(src, ArraySource))
    total = float(allreduce_sum(np.array([A.frobenius2_local()]), comm)[0])
    if not total > 0:
        raise InputError(f"{getattr(src, 'name', 'snapshots')}: all snapshots are zero in the chosen inner "
                         "product; nothing to compress")
    mat = snapshot_mat(A, comm)
    svd = SLEPc.SVD().create(mat.getComm())
    try:
        svd.setOperators(mat)
        svd.setImplicitTranspose(True)                # no explicit Aᵀ (a parallel transpose, 2× memory)
        svd.setOptionsPrefix(prefix)
        svd.setType(SLEPc.SVD.Type.RANDOMIZED)
        svd.setWhichSingularTriplets(SLEPc.SVD.Which.LARGEST)
        svd.setFromOptions()
        solve = _solve_blocks if svd.getType() == SLEPc.SVD.Type.RANDOMIZED else _solve_krylov
        sig, Y, k, P = solve(svd, mat, A, m, total, tol, max_modes, prefix, comm)
    finally:
        svd.destroy()
        mat.destroy()
    modes = PetscBlock.empty(n, k, comm)
    modes.array[...] = (A.modes(Y[:, :k]) if P is None else P) / sig[None, :k]
    energy = float(np.sum(sig[:k] ** 2) / total)
    return PODBasis(modes=modes.array, singular_values=sig, n_kept=k, tol=tol, energy=min(energy, 1.0),
                    inner=ip.name, method="slepc", n_snapshots=m, max_modes=max_modes, comm=comm,
                    inner_product=ip)


def _run(svd, comm):
    """``svd.solve()`` with a failure on any rank raised as InputError on every rank."""
    from petsc4py import PETSc
    err = None
    try:
        svd.solve()
    except PETSc.Error as exc:                          # e.g. 'cross': a negative eigenvalue of AᵀA
        err = f"rank {comm.rank}: {exc}"
    bad = [e for e in (comm.allgather(err) if comm.size > 1 else [err]) if e]
    if bad:
        raise InputError(f"SLEPc SVD ({svd.getType()}) failed: {bad[0]} (solver 'cross' squares the "
                         f"condition number; trlanczos or randomized do not)")


def _right_vectors(svd, mat, k, comm):
    """σ (k,) and the right singular vectors Y (m × k), replicated and bitwise equal on every rank."""
    v = mat.createVecs("right")
    sig = np.empty(k)
    loc = np.empty((v.getLocalSize(), k))
    for i in range(k):
        sig[i] = svd.getSingularTriplet(i, None, v)
        loc[:, i] = v.getArray(readonly=True)
    Y = np.concatenate(comm.allgather(loc), axis=0) if comm.size > 1 else loc
    Y = fix_signs(np.array(Y))
    broadcast_arrays([sig, Y], comm)
    v.destroy()
    return sig, Y


def _start_block(mat, Z):
    """The columns of the replicated ``Z`` (m × l) as right Vecs (SLEPc initial space; it orthonormalizes)."""
    lo, hi = mat.getOwnershipRangeColumn()
    vecs = []
    for j in range(Z.shape[1]):
        v = mat.createVecs("right")
        v.getArray()[:] = Z[lo:hi, j]
        vecs.append(v)
    return vecs


def _energy_rank(sig, total, tol, max_modes, m, squared=False):
    """Kept modes of the computed ``sig`` (at least 1) and how many of them are above round-off:
    ``σ > m·eps·σ₁``, or ``σ² > m·eps·σ₁²`` when they come from the eigenvalues of ``AᵀA`` (``squared``:
    solver 'cross', the same cut as the method of snapshots)."""
    eps = np.finfo(float).eps
    cut = np.sqrt(m * eps) if squared else m * eps
    n_valid = int(np.count_nonzero(sig > cut * sig[0])) if sig.size and sig[0] > 0 else 0
    tail = max(total - float(np.sum(sig[:n_valid] ** 2)), 0.0)        # energy beyond the computed ones
    k = truncation_rank(sig[:n_valid] ** 2, tol, max_modes, discarded=tail, total=total)
    return max(1, min(k, n_valid)), n_valid, tail


def _solve_blocks(svd, mat, A, m, total, tol, max_modes, prefix, comm):
    """SLEPc's randomized solver, one iteration per solve, driven by block size and residuals (module
    docstring). Returns σ (l,), Y (m × l) replicated, k, and ``U Y_k`` (local rows × k: the unscaled modes)."""
    from slepc4py import SLEPc
    cap = m if max_modes is None else min(m, int(max_modes))
    l = min(m, FIRST_BLOCK if max_modes is None else max(FIRST_BLOCK, cap + _oversampling(cap)))
    bound = RESIDUAL_TOL * np.sqrt(total)
    start, steps, P = None, 0, None
    while True:
        svd.setDimensions(nsv=l, ncv=l)
        svd.setConvergenceTest(SLEPc.SVD.Conv.MAXIT)
        svd.setTolerances(tol=bound, max_it=1)
        if start is not None:
            vecs = _start_block(mat, start)
            svd.setInitialSpaces(vecs, [])
            for v in vecs:
                v.destroy()
        svd.setFromOptions()
        _run(svd, comm)
        steps += svd.getIterationNumber()
        sig, Y = _right_vectors(svd, mat, min(svd.getConverged(), m), comm)
        l = sig.size
        k, n_valid, _tail = _energy_rank(sig, total, tol, max_modes, m)
        if l < m and (k + _oversampling(k) > l or (tol is None and k < cap and n_valid == l)):
            start, l = Y, min(m, 2 * l)                          # a larger block, the current subspace first
            continue
        if l >= m:
            P = None
            break                                                # the whole space: exact
        P = A.modes(Y[:, :k])                                    # U Y_k, then AᵀA Y_k
        W = allreduce_sum(A.rmatmat(A.weight(P)), comm)
        res = np.linalg.norm(W - Y[:, :k] * sig[None, :k] ** 2, axis=0) / sig[:k]
        if res.max() <= bound:
            break
        if steps >= MAX_STEPS:
            _log.warning("SLEPc randomized SVD: %d iterations and the largest residual of the %d kept triplets "
                         "is still %.2e ‖A‖_F (> %.0e)", steps, k, res.max() / np.sqrt(total), RESIDUAL_TOL)
            break
        start = np.hstack([W, Y[:, k:]])
    _log.info("SLEPc SVD (randomized, block of %d, %d iterations): %d modes kept, discarded energy %.3e of "
              "%.6e", l, steps, k, max(total - float(np.sum(sig[:k] ** 2)), 0.0) / total, total)
    return sig, Y, k, P


def _solve_krylov(svd, mat, A, m, total, tol, max_modes, prefix, comm):
    """Grow ``nsv`` until the converged triplets meet the energy tolerance (or ``max_modes``/``m``)."""
    from slepc4py import SLEPc
    # absolute residual ≤ 1e-12 ‖A‖_F (≥ 1e-12 σ₁): round-off triplets converge at once, no norm needed
    svd.setTolerances(tol=RESIDUAL_TOL * np.sqrt(total), max_it=1000)
    svd.setConvergenceTest(SLEPc.SVD.Conv.ABS)
    cap = m if max_modes is None else min(m, int(max_modes))
    nsv = cap if tol is None else min(cap, _FIRST_NSV)
    eps = np.finfo(float).eps
    while True:
        svd.setDimensions(nsv=nsv)
        svd.setFromOptions()
        _run(svd, comm)
        nconv = min(svd.getConverged(), m)
        if nconv < 1:
            raise InputError(f"SLEPc SVD ({svd.getType()}): no singular triplet converged "
                             f"(reason {svd.getConvergedReason()}); try -{prefix}svd_max_it or -{prefix}svd_ncv")
        sig, Y = _right_vectors(svd, mat, nconv, comm)
        k, _n_valid, tail = _energy_rank(sig, total, tol, max_modes, m, squared=svd.getType() == "cross")
        done = tol is None or nsv >= cap or tail <= max(tol * tol, m * eps) * total
        _log.debug("SLEPc SVD (%s): nsv %d, %d converged, %d modes meet the tolerance", svd.getType(), nsv,
                   nconv, k)
        if done:
            _log.info("SLEPc SVD (%s, %d iterations): %d triplets converged, %d modes kept, discarded energy "
                      "%.3e of %.6e", svd.getType(), svd.getIterationNumber(), nconv, k,
                      max(total - float(np.sum(sig[:k] ** 2)), 0.0) / total, total)
            return sig, Y, k, None
        nsv = min(cap, 2 * nsv)
