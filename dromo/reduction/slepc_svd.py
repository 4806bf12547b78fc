"""POD by SLEPc's truncated SVD (``pod(..., method="slepc")``, ``dromo pod --method slepc``).

The snapshot matrix ``A = diag(√w) U`` (``N × m``, rows distributed as everywhere in dromo; ``w`` the
diagonal weights of the inner product, 1 for the Euclidean one) is put in a :class:`~.views.PetscBlock`
(dense ``Mat`` and ``BV`` on one storage; an array that already is a block's storage is used without copy)
and SLEPc computes its **leading** singular triplets only: Krylov (``trlanczos``, the default;
``lanczos``), ``randomized``, or ``cross`` (eigenproblem of ``AᵀA``: squares the condition number, like
the method of snapshots) — cost O(N·m·k) for k triplets instead of the O(N·m²) of the Gram matrix.

Stop criterion (energy tolerance ε = ``tol``, as in the other methods: the fewest ``k`` with
``Σ_{i>k} σ_i² ≤ ε² Σ_i σ_i²``). SLEPc gives leading triplets, not the tail; but the total
``Σ_i σ_i² = ‖A‖_F²`` is the sum of squares of the entries (one pass, one ``MPI_Allreduce``), so the
discarded energy of ``k`` computed triplets is ``‖A‖_F² − Σ_{i≤k} σ_i²`` exactly (up to round-off
``~ eps ‖A‖_F²``: tolerances ``ε`` below about ``1e-7`` are resolved only to that level). SLEPc is asked for
``nsv`` triplets (16 at first, or ``max_modes``); when the converged ones do not reach the tolerance, ``nsv``
is doubled and the SVD solved again, up to ``m``. The residual of each triplet must be below
``1e-12 ‖A‖_F`` (absolute, ``-dromo_svd_conv_abs``; ``-dromo_svd_tol`` overrides the absolute value): triplets
at round-off level converge at once instead of never, and the modes agree with the TSQR ones to about
``1e-12 ‖A‖_F / gap`` in angle.

Modes: ``ψ_j = U y_j / σ_j`` from the right singular vectors ``y_j`` (gathered, ``m × k`` on every rank,
signs fixed as in :mod:`.svd`), exactly as the TSQR path forms them, so zero-weight rows are handled and
the modes are M-orthonormal; they are returned in a new :class:`~.views.PetscBlock` (``basis.modes`` is
its numpy face, usable as a BV without copy). ``singular_values`` holds the converged ones (``r ≤ m``).

SLEPc options pass through with the prefix ``dromo_`` (``-dromo_svd_type randomized``,
``-dromo_svd_ncv 40``, ``-dromo_svd_monitor``); on the command line after ``--petsc``.
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum, broadcast_arrays
from .pod import PODBasis, truncation_rank
from .sources import ArraySource, check_finite, read_block
from .svd import fix_signs
from .views import PetscBlock, block_of

__all__ = ["pod_slepc", "OPTIONS_PREFIX", "RESIDUAL_TOL"]

_log = get_logger("dromo.reduction.slepc_svd")
OPTIONS_PREFIX = "dromo_"
RESIDUAL_TOL = 1e-12
_FIRST_NSV = 16
_COLS = 64            # columns per streamed block


def _snapshot_block(src, ip, check):
    """The block ``diag(√w) U`` and whether it is borrowed (no copy) or owned (to destroy)."""
    comm, n, m = src.comm, src.n_local, src.n_snapshots
    if isinstance(src, ArraySource) and ip.kind == "euclid":
        if check:
            check_finite(src.array, src, 0)
        own = block_of(src.array)
        shared = own is not None
        if comm.size > 1:
            shared = bool(comm.allreduce(int(shared), op=MPI.MIN))
        if shared:
            return own, False
    block = PetscBlock.empty(n, m, comm)
    for a in range(0, m, _COLS):
        b = min(m, a + _COLS)
        cols = src.array[:, a:b] if isinstance(src, ArraySource) else read_block(src, a, b, check=check)
        if check and isinstance(src, ArraySource) and ip.kind != "euclid" and a == 0:
            check_finite(src.array, src, 0)
        block.array[:, a:b] = cols if ip.kind == "euclid" else ip.sqrt_weights[:, None] * cols
    return block, True


def _right_vectors(svd, A, k, comm):
    """σ (k,) and the right singular vectors Y (m × k), replicated and bitwise equal on every rank."""
    v, u = A.createVecs()
    sig = np.empty(k)
    parts = []
    for i in range(k):
        sig[i] = svd.getSingularTriplet(i, u, v)
        parts.append(np.array(v.getArray(), copy=True))
    loc = np.ascontiguousarray(np.array(parts).T) if k else np.zeros((v.getLocalSize(), 0))
    Y = np.concatenate(comm.allgather(loc), axis=0) if comm.size > 1 else loc
    Y = fix_signs(np.array(Y))
    broadcast_arrays([sig, Y], comm)
    v.destroy()
    u.destroy()
    return sig, Y


def pod_slepc(src, ip, tol, max_modes, check, prefix=OPTIONS_PREFIX):
    """POD of the snapshot source ``src`` by SLEPc's truncated SVD (module docstring). Collective.

    ``ip``: an :class:`~.pod.InnerProduct` of kind "euclid" or "weights" (a matrix raises InputError).
    Returns a :class:`~.pod.PODBasis` (``method="slepc"``).
    """
    from petsc4py import PETSc
    from slepc4py import SLEPc
    comm, n, m = src.comm, int(src.n_local), int(src.n_snapshots)
    if ip.kind == "mat":
        raise InputError("method 'slepc' supports the Euclidean and diagonal-weight inner products only "
                         "(rows scaled by √w); use method 'snapshots' with an assembled inner-product matrix")
    block, owned = _snapshot_block(src, ip, check)
    try:
        total = float(allreduce_sum(np.array([np.einsum("ij,ij->", block.array, block.array)]), comm)[0])
        if not total > 0:
            raise InputError(f"{getattr(src, 'name', 'snapshots')}: all snapshots are zero in the chosen inner "
                             "product; nothing to compress")
        svd = SLEPc.SVD().create(block.mat.getComm())
        try:
            sig, Y, k = _solve(svd, block.mat, m, total, tol, max_modes, prefix, comm)
        finally:
            svd.destroy()
    finally:
        if owned:
            block.destroy()
    W = Y[:, :k] / sig[None, :k]
    modes = PetscBlock.empty(n, k, comm)
    if isinstance(src, ArraySource):
        modes.array[...] = src.array @ W
    else:
        for a in range(0, m, _COLS):
            b = min(m, a + _COLS)
            modes.array[...] += read_block(src, a, b, check=False) @ W[a:b]
    energy = float(np.sum(sig[:k] ** 2) / total)
    return PODBasis(modes=modes.array, singular_values=sig, n_kept=k, tol=tol, energy=min(energy, 1.0),
                    inner=ip.name, method="slepc", n_snapshots=m, max_modes=max_modes, comm=comm,
                    inner_product=ip)


def _solve(svd, A, m, total, tol, max_modes, prefix, comm):
    """Grow ``nsv`` until the converged triplets meet the energy tolerance (or ``max_modes``/``m``)."""
    from petsc4py import PETSc
    from slepc4py import SLEPc
    svd.setOperators(A)
    svd.setImplicitTranspose(True)                    # no explicit Aᵀ (a parallel transpose, 2× memory)
    svd.setOptionsPrefix(prefix)
    svd.setType(SLEPc.SVD.Type.TRLANCZOS)
    svd.setWhichSingularTriplets(SLEPc.SVD.Which.LARGEST)
    # absolute residual ≤ 1e-12 ‖A‖_F (≥ 1e-12 σ₁): round-off triplets converge at once, no norm needed
    svd.setTolerances(tol=RESIDUAL_TOL * np.sqrt(total), max_it=1000)
    svd.setConvergenceTest(SLEPc.SVD.Conv.ABS)
    cap = m if max_modes is None else min(m, int(max_modes))
    nsv = cap if tol is None else min(cap, _FIRST_NSV)
    eps = np.finfo(float).eps
    while True:
        svd.setDimensions(nsv=nsv)
        svd.setFromOptions()
        err = None
        try:
            svd.solve()
        except PETSc.Error as exc:                      # e.g. 'cross': a negative eigenvalue of AᵀA
            err = f"rank {comm.rank}: {exc}"
        bad = [e for e in (comm.allgather(err) if comm.size > 1 else [err]) if e]
        if bad:
            raise InputError(f"SLEPc SVD ({svd.getType()}) failed: {bad[0]} (solver 'cross' squares the "
                             f"condition number; trlanczos or randomized do not)")
        nconv = min(svd.getConverged(), m)
        if nconv < 1:
            raise InputError(f"SLEPc SVD ({svd.getType()}): no singular triplet converged "
                             f"(reason {svd.getConvergedReason()}); try -{prefix}svd_max_it or -{prefix}svd_ncv")
        sig, Y = _right_vectors(svd, A, nconv, comm)
        n_valid = int(np.count_nonzero(sig > m * eps * sig[0]))
        tail = max(total - float(np.sum(sig[:n_valid] ** 2)), 0.0)    # energy beyond the converged ones
        k = truncation_rank(sig[:n_valid] ** 2, tol, max_modes, discarded=tail, total=total)
        done = tol is None or nsv >= cap or tail <= max(tol * tol, m * eps) * total
        _log.debug("SLEPc SVD (%s): nsv %d, %d converged, %d modes meet the tolerance", svd.getType(), nsv,
                   nconv, k)
        if done:
            k = max(1, min(k, n_valid))
            _log.info("SLEPc SVD (%s, %d iterations): %d triplets converged, %d modes kept, discarded energy "
                      "%.3e of %.6e", svd.getType(), svd.getIterationNumber(), nconv, k,
                      max(total - float(np.sum(sig[:k] ** 2)), 0.0) / total, total)
            return sig, Y, k
        nsv = min(cap, 2 * nsv)
