"""Distributed POD: method of snapshots (default) and an accurate TSQR path, in memory or out-of-core.

Conventions
-----------
* Snapshot matrix ``U`` (``N × m``) distributed by rows: each rank holds ``(n_local, m)`` float64 (see
  :mod:`dromo.reduction.sources`). Modes are returned the same way: ``(n_local, k)`` local rows.
* Inner product ``(a, b)_M = aᵀ M b`` with ``M`` one of: ``None``/``"euclid"`` (identity); a 1-D array
  of non-negative weights ``w`` (``n_local``: e.g. quadrature weights × detJ for integration-point
  fields, ``M = diag(w)``); an assembled PETSc ``Mat`` (L2 mass or energy stiffness) whose local row and
  column ranges are this rank's rows (``Mat.getLocalSize() == (n_local, n_local)``;
  :mod:`dromo.reduction.inner_product`, whose names are re-exported here).
* POD: ``U = Ψ Σ Vᵀ`` with ``ΨᵀMΨ = I``; singular values ``σ`` in the units of the snapshots × √(units
  of M). Truncation: the smallest ``k`` with ``Σ_{i>k} σ_i² ≤ tol² Σ_i σ_i²`` (relative energy
  tolerance ε = ``tol``), and ``k ≤ max_modes``.

Method of snapshots (``method="snapshots"``): ``C = UᵀMU`` (local BLAS-3, one ``MPI_Allreduce``),
replicated ``eigh``, eigenvalues ``λ ≤ m·eps·λ_max`` (round-off, including negative ones) dropped
explicitly, modes ``Ψ = U V Λ^{-1/2}`` formed locally (BLAS-3). It squares the condition number:
singular values below about ``1e-7 σ₁`` are dominated by round-off (absolute error ~ ``eps σ₁² / σ``).

Accurate path (``method="svd"``): TSQR (:mod:`dromo.reduction.svd`), singular values to ~``eps σ₁``
absolute (down to about ``1e-14 σ₁``). Euclidean and diagonal-weight inner products only; the whole
local block must fit in memory.

Choice (``method="auto"``, the default): the method of snapshots loses ``‖ΨᵀMΨ − I‖ ≈ eps (σ₁/σ_k)²`` of
orthonormality in its last kept mode ``k``; with the energy criterion ``σ_k/σ₁`` is about ``tol``, so a
tolerance below :data:`SNAPSHOTS_MIN_TOL` (1e-5: loss about 1e-6, already 4e-4 at ``tol = 1e-6``) or no
tolerance at all (keep every mode) asks for more than it can deliver, and the accurate path is used
(logged). Where the accurate path is impossible (a PETSc-matrix inner product, or snapshots out of core)
the method of snapshots runs with a warning. An explicit ``method="snapshots"`` with ``tol`` below
:data:`SNAPSHOTS_MIN_TOL` runs with a warning (``dromo pod --method snapshots`` refuses it). Every basis carries its measured ``orthonormality``
``‖ΨᵀMΨ − I‖₂`` (logged, and written with the basis); with ``"auto"``, a method-of-snapshots basis whose
measured loss exceeds ``tol`` is recomputed by the accurate path when possible. Inside
:func:`unmeasured` (a loop computing many bases whose diagnostic nobody reads, e.g. the enrichments of an
adaptive run) the measurement is skipped (``orthonormality`` NaN, "not measured") wherever nothing depends on it.

SLEPc (``method="slepc"``): the leading singular triplets only, by SLEPc's truncated SVD (Krylov or
randomized; :mod:`dromo.reduction.slepc_svd`, stop criterion there); Euclidean and diagonal weights.

Randomized (``method="randomized"``): the leading modes only, by a block randomized subspace iteration on
BLAS-3 with a TSQR Rayleigh–Ritz step (:mod:`dromo.reduction.randomized`): ``O(N m l)`` for a block of
``l ≈ k + p`` columns instead of ``O(N m²)``; for thousands of snapshots of which tens of modes are kept.

Out-of-core: pass a :class:`~dromo.reduction.sources.SnapshotSource` and ``memory_budget`` (bytes per
rank). Pass 1 streams column blocks and accumulates ``C`` block by block (two blocks in memory); pass 2
re-streams the blocks to form the modes. Results equal the in-memory ones up to round-off.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Optional

import dataclasses

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum
from .inner_product import InnerProduct, inner_product
from .sources import ArraySource, SnapshotSource, as_source, check_finite, read_block
from .svd import fix_signs, tsqr_svd

__all__ = ["InnerProduct", "inner_product", "PODBasis", "pod", "truncation_rank", "write_basis",
           "read_basis", "SNAPSHOTS_MIN_TOL", "orthonormality", "snapshots_cannot_deliver", "unmeasured"]

_log = get_logger("dromo.reduction.pod")
#: Smallest energy tolerance the method of snapshots is trusted with (module docstring, "Choice").
SNAPSHOTS_MIN_TOL = 1e-5


@dataclass
class PODBasis:
    """A distributed POD basis.

    Attributes
    ----------
    modes : ndarray (n_local, k) — this rank's rows of the M-orthonormal modes ``Ψ`` (``ΨᵀMΨ = I``)
    singular_values : ndarray (r,) — all singular values computed (descending; ``r = m`` for the SVD
        path; for the method of snapshots the round-off ones, ``λ ≤ m·eps·λ_max``, are reported as 0)
    n_kept : int — ``k``
    tol : float or None — relative energy tolerance used
    energy : float — fraction of the energy kept, ``Σ_{i≤k} σ_i² / Σ_i σ_i²``
    inner : str — inner-product name ("euclid", "weights", "l2", "energy", ...)
    method : str — "snapshots", "svd", "slepc" or "incremental"
    orthonormality : float — measured ``‖ΨᵀMΨ − I‖₂`` of the modes (NaN when not measured)
    n_snapshots : int — number of snapshots the basis was computed from
    max_modes : int or None
    comm : MPI.Comm
    inner_product : InnerProduct or None — needed by :meth:`project` for non-Euclidean products
    """
    modes: np.ndarray
    singular_values: np.ndarray
    n_kept: int
    tol: Optional[float]
    energy: float
    inner: str
    method: str
    n_snapshots: int = 0
    max_modes: Optional[int] = None
    comm: MPI.Comm = field(default=None, repr=False)
    inner_product: Optional[InnerProduct] = field(default=None, repr=False)
    orthonormality: float = float("nan")

    def __post_init__(self):
        if self.comm is None:
            self.comm = MPI.COMM_WORLD
        if self.inner_product is None:
            self.inner_product = InnerProduct(None, self.modes.shape[0], self.comm)

    @property
    def n_local(self):
        return self.modes.shape[0]

    def project(self, U_local):
        """Modal coefficients ``ΨᵀMU`` ``(k, c)`` of local rows ``(n_local, c)`` or ``(n_local,)``. Collective."""
        U = np.asarray(U_local, dtype=np.float64)
        vec = U.ndim == 1
        U = U[:, None] if vec else U
        if U.shape[0] != self.n_local:
            raise InputError(f"project: {U.shape[0]} local rows, basis has {self.n_local}")
        c = self.inner_product.gram(self.modes, U)
        return c[:, 0] if vec else c

    def reconstruct(self, coeffs):
        """Local rows ``Ψ coeffs``: ``(k, c)`` → ``(n_local, c)``, ``(k,)`` → ``(n_local,)``. Local."""
        return self.modes @ np.asarray(coeffs, dtype=np.float64)

    def projection_error(self, U_local, relative=True):
        """M-norm of ``u - Ψ ΨᵀM u`` for every column (``(c,)``, same on every rank). Collective.

        ``relative=True`` divides by ``‖u‖_M`` (columns of zero norm give 0).
        """
        U = np.asarray(U_local, dtype=np.float64)
        U = U[:, None] if U.ndim == 1 else U
        R = U - self.reconstruct(self.project(U))
        e = np.sqrt(np.maximum(self.inner_product.norms2(R), 0.0))
        if relative:
            n = np.sqrt(np.maximum(self.inner_product.norms2(U), 0.0))
            e = np.divide(e, n, out=np.zeros_like(e), where=n > 0)
        return e

    def to_dict(self):
        """Serializable form: ``{"arrays": {"modes": local rows, "singular_values"}, "attrs": {...}}``."""
        attrs = {"n_kept": int(self.n_kept), "tol": -1.0 if self.tol is None else float(self.tol),
                 "energy": float(self.energy), "inner_product": self.inner, "method": self.method,
                 "n_snapshots": int(self.n_snapshots),
                 "max_modes": -1 if self.max_modes is None else int(self.max_modes),
                 "orthonormality": float(self.orthonormality)}
        return {"arrays": {"modes": self.modes, "singular_values": self.singular_values}, "attrs": attrs}

    @classmethod
    def from_dict(cls, d, comm=None, inner=None):
        """Inverse of :meth:`to_dict` (``inner``: the inner-product spec, needed for non-Euclidean)."""
        comm = comm or MPI.COMM_WORLD
        a, t = d["arrays"], d["attrs"]
        modes = np.asarray(a["modes"], dtype=np.float64)
        tol = float(t["tol"])
        mm = int(t.get("max_modes", -1))
        ortho = float(t.get("orthonormality", float("nan")))
        ip = InnerProduct(inner, modes.shape[0], comm, name=str(t["inner_product"])) \
            if inner is not None else None
        return cls(modes=modes, singular_values=np.asarray(a["singular_values"], dtype=np.float64),
                   n_kept=int(t["n_kept"]), tol=None if tol < 0 else tol, energy=float(t["energy"]),
                   inner=str(t["inner_product"]), method=str(t["method"]),
                   n_snapshots=int(t.get("n_snapshots", 0)), max_modes=None if mm < 0 else mm,
                   comm=comm, inner_product=ip, orthonormality=ortho)


    def to_archive(self, archive, name, location="node", n_components=1, components=None, units="",
                   provenance=None, redistributor=None):
        """Write the basis to a writable :class:`~dromo.io.archive.Archive`: :func:`write_basis`. Collective.

        The modes go to the field ``name`` in natural numbering (readable at any rank count); the rows of
        this basis are the rank's natural block, or its owned items in ``redistributor``'s order.
        """
        write_basis(archive, self, name, location=location, n_components=n_components, components=components,
                    units=units, provenance=provenance, redistributor=redistributor)

    @classmethod
    def from_archive(cls, archive, name, comm=None, redistributor=None, inner=None):
        """The basis ``name`` written by :meth:`to_archive` / :func:`write_basis`, at any rank count.

        Rows: this rank's owned items in ``redistributor``'s order (e.g. ``dm.redistributor("node")``), or
        its natural block without one. ``inner``: the inner-product spec on those rows when not Euclidean.
        """
        return read_basis(archive, name, comm=comm, inner=inner, redistributor=redistributor)


# --------------------------------------------------------------------------------------------------
# truncation
# --------------------------------------------------------------------------------------------------
def truncation_rank(energies, tol=None, max_modes=None, discarded=0.0, total=None):
    """Smallest ``k`` with ``discarded + Σ_{i>k} e_i ≤ tol² · total`` (``total`` defaults to ``Σ e``).

    ``energies`` are squared singular values, descending, non-negative. ``tol=None`` keeps every
    positive one; ``max_modes`` caps ``k``.
    """
    e = np.asarray(energies, dtype=np.float64)
    n_pos = int(np.count_nonzero(e > 0))
    k = n_pos
    if tol is not None and e.size:
        total = float(e.sum()) + discarded if total is None else float(total)
        # tail[k] = sum_{i>=k} e_i  (0-based: keeping k modes discards e[k:])
        tail = np.concatenate([np.cumsum(e[::-1])[::-1], [0.0]])
        ok = np.flatnonzero(discarded + tail <= tol * tol * total)
        k = min(k, int(ok[0])) if ok.size else k
    if max_modes is not None:
        k = min(k, int(max_modes))
    return k


#: the POD methods of :func:`pod`
METHODS = ("auto", "snapshots", "svd", "slepc", "randomized")


def _validate(tol, max_modes, method, m, comm):
    if method not in METHODS:
        raise InputError(f"unknown POD method {method!r} (use {', '.join(repr(x) for x in METHODS)})")
    if tol is not None and not (np.isfinite(tol) and 0.0 < tol < 1.0):
        raise InputError(f"POD tolerance must be in (0, 1), got {tol}")
    if max_modes is not None and int(max_modes) < 1:
        raise InputError(f"max_modes must be >= 1, got {max_modes}")
    if m == 0:
        raise InputError("empty snapshot set: no snapshot to compress")


# --------------------------------------------------------------------------------------------------
# POD
# --------------------------------------------------------------------------------------------------
def snapshots_cannot_deliver(tol):
    """Why the method of snapshots cannot deliver the energy tolerance ``tol`` (``None`` when it can):
    ``dromo pod --method snapshots`` refuses such a tolerance, :func:`pod` warns."""
    if tol is None or tol >= SNAPSHOTS_MIN_TOL:
        return None
    return (f"POD tolerance {tol:g} with the method of snapshots: it resolves singular values only down to "
            f"about 1e-7 σ₁ and its modes lose about eps·(σ₁/σ_k)² of orthonormality (4e-4 at tol 1e-6); "
            f"below tol {SNAPSHOTS_MIN_TOL:g} use method 'svd' (TSQR) or 'auto'")


def orthonormality(modes, ip):
    """Measured ``‖ΨᵀMΨ − I‖₂`` of row-distributed ``modes`` ``(n_local, k)`` in the inner product ``ip``
    (an :class:`InnerProduct`), the same on every rank. Collective; costs one ``k × k`` Gram."""
    k = modes.shape[1]
    if k == 0:
        return 0.0
    G = ip.gram(modes)
    return float(np.linalg.norm(G - np.eye(k), 2))


#: False inside :func:`unmeasured`
_MEASURE = ContextVar("dromo_pod_measure_orthonormality", default=True)


@contextmanager
def unmeasured():
    """Within this context :func:`pod` does not measure the orthonormality of its modes (one ``k × k`` Gram
    and an Allreduce per basis; ``orthonormality`` is then NaN), except where a decision depends on it (the
    ``"auto"`` method of snapshots). For loops that compute many bases whose diagnostic nobody reads. Every
    rank must enter it around the same calls (a measurement is collective)."""
    token = _MEASURE.set(False)
    try:
        yield
    finally:
        _MEASURE.reset(token)


def pod(source_or_local_array, *, comm=None, tol=None, max_modes=None, inner=None, method="auto",
        memory_budget=None, inner_name=None, check=True):
    """Proper orthogonal decomposition of a row-distributed snapshot matrix. Collective.

    Parameters
    ----------
    source_or_local_array : SnapshotSource or ndarray (n_local, m)
        This rank's rows of the snapshots (see :mod:`dromo.reduction.sources`).
    comm : MPI.Comm, optional — for an array (default ``COMM_WORLD``); a source carries its own.
    tol : float in (0, 1), optional — relative energy tolerance ε: keep the fewest modes with discarded
        ``Σ σ_i² ≤ ε² Σ σ²``. ``None``: keep all numerically nonzero modes (subject to ``max_modes``).
    max_modes : int, optional — at most this many modes.
    inner : None | "euclid" | weights (n_local,) | PETSc Mat — the inner product ``M`` (module docstring).
    method : "auto" (default), "snapshots" (Gram + eigh, fast), "svd" (TSQR, accurate small singular
        values), "slepc" (SLEPc truncated SVD of the leading modes, :mod:`dromo.reduction.slepc_svd`) or
        "randomized" (block randomized SVD of the leading modes, :mod:`dromo.reduction.randomized`). "auto" takes the method of snapshots when ``tol >= SNAPSHOTS_MIN_TOL`` and TSQR otherwise
        (also without ``tol``), where TSQR is possible; see the module docstring, "Choice". An explicit
        "snapshots" with ``tol < SNAPSHOTS_MIN_TOL`` logs a warning.
    memory_budget : int, optional — bytes per rank for streamed snapshot blocks and the modes; when the
        whole local block does not fit, the method of snapshots runs out-of-core (two passes).
    inner_name : str, optional — name recorded for the inner product ("l2", "energy", ...).
    check : bool — check every block for NaN/Inf (error names the snapshot's label).

    Returns
    -------
    PODBasis — with its measured ``orthonormality`` ``‖ΨᵀMΨ − I‖₂`` (also logged).

    Raises (on every rank)
    ------
    InputError — empty snapshot set, tol ∉ (0, 1), NaN/Inf snapshot, wrong-size inner product, all-zero
    snapshots, method "svd" with a matrix inner product or with data not fitting the budget.
    """
    if isinstance(source_or_local_array, SnapshotSource) and not isinstance(source_or_local_array,
                                                                           np.ndarray):
        src = source_or_local_array
    else:
        src = as_source(source_or_local_array, comm=comm)
    comm = src.comm
    m, n = int(src.n_snapshots), int(src.n_local)
    _validate(tol, max_modes, method, m, comm)
    ip = InnerProduct(inner, n, comm, name=inner_name)

    # Does the whole local block fit the budget? (snapshots + modes, worst case k = m; in-memory arrays
    # are already resident, so only streamed sources are limited.)
    in_memory = isinstance(src, ArraySource)
    fits = memory_budget is None or in_memory or 8.0 * n * m * 2 <= memory_budget
    fits = bool(comm.allreduce(int(fits), op=MPI.MIN)) if comm.size > 1 else fits

    too_fine = tol is None or tol < SNAPSHOTS_MIN_TOL
    if method == "snapshots" and snapshots_cannot_deliver(tol):
        _log.warning("POD: %s; the measured orthonormality follows", snapshots_cannot_deliver(tol))
    why_not_svd = None
    if ip.kind == "mat":
        why_not_svd = ("method 'svd' (TSQR) supports the Euclidean and diagonal-weight inner products only; "
                       "use method 'snapshots' with an assembled inner-product matrix")
    elif not fits:
        why_not_svd = (f"method 'svd' needs the local snapshot block in memory ({8 * n * m} bytes per rank > "
                       f"memory budget {memory_budget}); use method 'snapshots'")
    if method == "slepc":
        from .slepc_svd import pod_slepc
        return _measured(pod_slepc(src, ip, tol, max_modes, check))
    if method == "randomized":
        from .randomized import pod_randomized
        return _measured(pod_randomized(src, ip, tol, max_modes, check))
    if method == "svd":
        if why_not_svd:
            raise InputError(why_not_svd)
        return _measured(_pod_svd(src, ip, tol, max_modes, check))
    if method == "auto" and too_fine:
        asked = "no tolerance (keep every mode)" if tol is None else f"tolerance {tol:g}"
        if why_not_svd is None:
            _log.info("POD: %s asks for singular values below what the method of snapshots resolves "
                      "(tolerances below %g); using the accurate TSQR path (method svd)", asked, SNAPSHOTS_MIN_TOL)
            return _measured(_pod_svd(src, ip, tol, max_modes, check))
        _log.warning("POD: %s asks for more accuracy than the method of snapshots delivers, and TSQR is not "
                     "possible here (%s): the modes may be orthonormal only to about eps·(σ₁/σ_k)², see the "
                     "measured value below", asked, why_not_svd.split(";")[0])
    recheck = method == "auto" and why_not_svd is None and tol is not None     # decided on the measurement
    if fits:
        basis = _measured(_pod_snapshots_in_memory(src, ip, tol, max_modes, check), recheck)
    else:
        basis = _measured(_pod_snapshots_out_of_core(src, ip, tol, max_modes, int(memory_budget), check), recheck)
    if recheck and basis.orthonormality > tol:
        _log.info("POD: the method of snapshots gave modes orthonormal only to %.2e (> tol %g); recomputing "
                  "them by the accurate TSQR path (method svd)", basis.orthonormality, tol)
        return _measured(_pod_svd(src, ip, tol, max_modes, check))
    return basis


def _measured(basis, needed=False):
    """``basis`` with its measured orthonormality set and logged (not measured inside :func:`unmeasured`
    unless ``needed``)."""
    if not (needed or _MEASURE.get()):
        _log.info("POD (%s): %d modes of %d snapshots", basis.method, basis.n_kept, basis.n_snapshots)
        return basis
    basis.orthonormality = orthonormality(basis.modes, basis.inner_product)
    _log.info("POD (%s): %d modes of %d snapshots, orthonormality ‖ΨᵀMΨ − I‖₂ = %.2e", basis.method,
              basis.n_kept, basis.n_snapshots, basis.orthonormality)
    return basis


def _load_all(src, check):
    if isinstance(src, ArraySource):
        U = src.array
        if check:
            check_finite(U, src, 0)
        return U
    return read_block(src, 0, src.n_snapshots, check=check)


def _eig_truncate(C, m, tol, max_modes, comm, label):
    """eigh of the replicated Gram ``C``; returns (sigma all, V kept (m×k), lam kept, k, energy)."""
    lam, V = np.linalg.eigh(C)
    lam, V = lam[::-1], V[:, ::-1]
    lmax = lam[0] if lam.size else 0.0
    if not (lmax > 0):
        raise InputError(f"{label}: all snapshots are zero in the chosen inner product; nothing to compress")
    cut = m * np.finfo(float).eps * lmax
    valid = lam > cut
    n_valid = int(np.count_nonzero(valid))
    e = np.where(valid, lam, 0.0)
    k = truncation_rank(e, tol, max_modes)
    k = max(1, min(k, n_valid))
    sigma = np.sqrt(e)
    V = fix_signs(np.array(V[:, :k]))
    energy = float(e[:k].sum() / e.sum())
    return sigma, V, lam[:k], k, energy


def _pod_snapshots_in_memory(src, ip, tol, max_modes, check):
    comm, m = src.comm, src.n_snapshots
    U = _load_all(src, check)
    C = ip.gram(U)
    sigma, V, lam, k, energy = _eig_truncate(C, m, tol, max_modes, comm, _src_name(src))
    W = V / np.sqrt(lam)[None, :]
    modes = U @ W
    _log.debug("POD (snapshots): %d snapshots, %d modes kept, energy %.12g", m, k, energy)
    return PODBasis(modes=modes, singular_values=sigma, n_kept=k, tol=tol, energy=energy, inner=ip.name,
                    method="snapshots", n_snapshots=m, max_modes=max_modes, comm=comm, inner_product=ip)


def _block_width(budget, n, comm, n_blocks_in_memory, reserved=0):
    """Columns per streamed block so that ``n_blocks_in_memory`` blocks + ``reserved`` bytes fit."""
    avail = budget - reserved
    b = int(avail // (8 * max(n, 1) * n_blocks_in_memory)) if avail > 0 else 0
    if comm.size > 1:
        b = comm.allreduce(b, op=MPI.MIN)
    return b


def _pod_snapshots_out_of_core(src, ip, tol, max_modes, budget, check):
    comm, m, n = src.comm, src.n_snapshots, src.n_local
    # Pass 1: Gram block by block. Block i (or M·block i) and block j in memory.
    extra = 1 if ip.kind == "euclid" else 2       # U_i and M U_i (transiently) besides U_j
    b = _block_width(budget, n, comm, 1 + extra)
    if b < 1:
        raise InputError(f"memory budget {budget} bytes per rank is too small for one snapshot column "
                         f"({8 * n} bytes) in {1 + extra} blocks")
    b = min(b, m)
    starts = list(range(0, m, b))
    C = np.zeros((m, m))
    for bi, i0 in enumerate(starts):
        i1 = min(m, i0 + b)
        Ui = read_block(src, i0, i1, check=check and bi == 0)
        MUi = ip.apply(Ui)
        C[i0:i1, i0:i1] = Ui.T @ MUi
        if MUi is not Ui:
            del Ui
        for j0 in starts[bi + 1:]:
            j1 = min(m, j0 + b)
            Uj = read_block(src, j0, j1, check=check and bi == 0)   # every block checked once
            C[i0:i1, j0:j1] = MUi.T @ Uj
            C[j0:j1, i0:i1] = C[i0:i1, j0:j1].T
            del Uj
        del MUi
    if ip.kind == "mat":
        C = 0.5 * (C + C.T)
    C = allreduce_sum(C, comm)
    sigma, V, lam, k, energy = _eig_truncate(C, m, tol, max_modes, comm, _src_name(src))
    W = V / np.sqrt(lam)[None, :]
    # Pass 2: modes = Σ_blocks U_b W_b, modes (n × k) resident.
    b2 = _block_width(budget, n, comm, 1, reserved=8 * n * k)
    if b2 < 1:
        raise InputError(f"memory budget {budget} bytes per rank cannot hold the {k} modes "
                         f"({8 * n * k} bytes) plus one snapshot column")
    b2 = min(b2, m)
    modes = np.zeros((n, k))
    for j0 in range(0, m, b2):
        j1 = min(m, j0 + b2)
        Uj = read_block(src, j0, j1, check=False)
        modes += Uj @ W[j0:j1]
        del Uj
    _log.debug("POD (snapshots, out-of-core, blocks of %d/%d): %d modes", b, b2, k)
    return PODBasis(modes=modes, singular_values=sigma, n_kept=k, tol=tol, energy=energy, inner=ip.name,
                    method="snapshots", n_snapshots=m, max_modes=max_modes, comm=comm, inner_product=ip)


def _pod_svd(src, ip, tol, max_modes, check):
    comm, m = src.comm, src.n_snapshots
    U = _load_all(src, check)
    sigma, Y = tsqr_svd(U, comm, ip.sqrt_weights)
    if not sigma[0] > 0:
        raise InputError(f"{_src_name(src)}: all snapshots are zero in the chosen inner product")
    e = sigma ** 2
    # Numerically zero singular values (≤ m·eps·σ₁, the accuracy of Householder QR) are not kept.
    n_valid = int(np.count_nonzero(sigma > m * np.finfo(float).eps * sigma[0]))
    k = max(1, min(truncation_rank(e, tol, max_modes), n_valid))
    energy = float(e[:k].sum() / e.sum())
    modes = U @ (Y[:, :k] / sigma[None, :k])
    return PODBasis(modes=modes, singular_values=sigma, n_kept=k, tol=tol, energy=energy, inner=ip.name,
                    method="svd", n_snapshots=m, max_modes=max_modes, comm=comm, inner_product=ip)


def _src_name(src):
    return getattr(src, "name", None) or type(src).__name__


# --------------------------------------------------------------------------------------------------
# archive I/O
# --------------------------------------------------------------------------------------------------
def write_basis(archive, basis, name, location="node", n_components=1, components=None, units="",
                provenance=None, redistributor=None):
    """Write ``basis`` to an open, writable :class:`~dromo.io.archive.Archive`. Collective.

    The modes are stored as the field ``/fields/<name>`` (one "step" per mode, ``time`` = mode index,
    ``parameters`` = σ_j, shape ``(k, n_items, n_components)``, natural numbering: readable at any rank
    count and viewable in ParaView through the XDMF sidecar for nodal fields); the singular values and the attributes
    (n_kept, tol, energy, inner_product, method, n_snapshots, plus ``provenance``) go to
    ``/bases/<name>/singular_values``.

    The basis rows must be this rank's natural block, ``partition_range(n_items)`` items ×
    ``n_components`` components (item-major) — what a field source without redistributor yields — or,
    when a :class:`~dromo.parallel.redistribute.Redistributor` is given, the rank's owned items in that
    redistributor's order (e.g. PETSc-ordered owned nodes × 3), which are moved to natural blocks here.
    """
    k = basis.n_kept
    if redistributor is not None:
        owned = basis.modes.reshape(redistributor.n_owned, n_components * k)
        basis = dataclasses.replace(basis, modes=redistributor.owned_to_natural(owned).reshape(-1, k))
    n_local = basis.modes.shape[0]
    if n_local % n_components:
        raise InputError(f"basis {name}: {n_local} local rows is not a multiple of {n_components} components")
    block = np.moveaxis(basis.modes.reshape(n_local // n_components, n_components, k), -1, 0)
    d = basis.to_dict()
    attrs = dict(d["attrs"])
    attrs.update({f"provenance_{key}": val for key, val in (provenance or {}).items()})
    # parameters of "step" j = σ_j (also avoids a zero-width parameter dataset)
    archive.write_field(name, location, block, times=np.arange(k, dtype=float),
                        parameters=np.asarray(basis.singular_values[:k], dtype=float).reshape(k, 1),
                        components=components,
                        units=units, description=f"POD modes ({basis.method}, inner product {basis.inner})",
                        attrs={"kind": "pod-modes"})
    archive.write_array(f"bases/{name}/singular_values", np.asarray(basis.singular_values), attrs=attrs)


def read_basis(archive, name, comm=None, inner=None, redistributor=None):
    """Read a basis written by :func:`write_basis` (at any rank count). Collective.

    Rows: this rank's natural block, or, with a :class:`~dromo.parallel.redistribute.Redistributor`, its
    owned items in that redistributor's order (items × components, item-major).
    ``inner``: the inner-product spec (weights or Mat) on those rows when it is not Euclidean (only its
    name is stored).
    """
    comm = comm or archive.comm
    sv = archive.read_array(f"bases/{name}/singular_values")
    attrs = archive.get_attrs(f"bases/{name}/singular_values")
    src = archive.field_source(name, redistributor)
    modes = read_block(src, 0, src.n_snapshots, check=False)
    return PODBasis.from_dict({"arrays": {"modes": modes, "singular_values": sv}, "attrs": attrs},
                              comm=comm, inner=inner)
