"""Empirical cubature (ECM): a few integration points with positive weights that integrate the reduced
internal forces as the full quadrature does (Hernández, Caicedo, Ferrer, CMAME 2017). Collective.

Data model
----------
Integration points (ips) are distributed by rows: each rank holds its owned points, with their
quadrature weights ``w`` (``w_q detJ``) and their **natural** ids (rank-count independent,
:attr:`DistributedMesh.ip_natural`). An *integrand* is a row-distributed matrix ``G`` ``(n_local, m)``:
column ``c`` holds one scalar function at the local points (for the internal forces:
``ε(ψ_j) : σ(u_i)`` for mode ``j`` and stress snapshot ``i``, see :func:`force_integrand`).

Pipeline (:func:`empirical_cubature`)
-------------------------------------
1. **Compression** (:func:`compress_integrand`): POD of the integrand in the ``w``-weighted inner product
   (TSQR path of :func:`dromo.reduction.pod`, or, for wide integrands, a blocked adaptive randomized
   range finder — BLAS-3 sketch ``G Ω`` and projection ``Qᵀ W G``, the sketch rank grown block by block
   from the spectrum seen so far, never restarted — with an *exact* discarded-energy check), energy
   tolerance ``compress_tol``, then the constant function is added (made ``w``-orthogonal to the basis),
   so the volume is integrated to the ECM tolerance. The result ``J`` ``(n_local, p)`` is
   ``w``-orthonormal: ``Jᵀ W J = I``.
2. **Greedy** (:func:`ecm_greedy`): exact integrals ``b = Jᵀ w``; residual ``r = b − J_Sᵀ ω``. Each iteration
   scores every candidate by ``J_k · r / ‖J_k‖`` (BLAS-2 on the local rows, in single precision on the
   normalized rows; every point whose score can be within the tie window of the maximum given the
   single-precision error bound is re-scored in double precision, and those decide), picks the best point,
   re-solves ``ω ≥ 0`` on the selected set (non-negative least squares on a ``p × |S|`` matrix; an
   incrementally updated QR gives the unconstrained solution, ``scipy.optimize.nnls`` is used only when it
   is not positive), drops zero weights, and stops when ``‖r‖ ≤ tol ‖b‖``. Scores and residual are
   invariant under orthogonal changes of the basis, so round-off rotations of the POD modes do not
   change the selection.

Variants
--------
* ``"global"``: rank-local scores, the global maximum by ``MPI_Allreduce(MAX)``, then among the points
  whose score is within ``1e-10`` (relative) of it the one of smallest natural id (``Allreduce(MIN)`` on
  ``id · size + rank``, which also names the owner), the owner broadcasts its row, the small NNLS is
  replicated. The point set does not depend on the rank count.
* ``"partitioned"`` (as the seed paper's code): each subdomain — by default each rank; ``subdomains=``
  labels local rows to simulate more — runs the greedy on its own rows and integrals, with the target
  ``‖r_s‖ ≤ tol ‖b‖ ‖b_s‖ / Σ_t ‖b_t‖`` so that the union meets the global tolerance
  (``‖Σ_s r_s‖ ≤ tol ‖b‖``); the point count grows with the number of subdomains.

Errors reported are relative integration errors of the (compressed) basis, ``‖b − J_Sᵀ ω‖ / ‖b‖``.
A tolerance not reached within ``max_points`` (or when no point can reduce the residual any more) gives
an :class:`ECMToleranceWarning` stating the achieved tolerance, and ``converged=False``.
"""
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum, argmax_smallest_id, broadcast_row, fetch_rows

__all__ = ["ECMToleranceWarning", "ReducedQuadrature", "IntegrandBasis", "compress_integrand", "ecm_greedy",
           "empirical_cubature", "force_integrand", "mode_strains", "point_info", "fetch_rows"]

_log = get_logger("dromo.reduction.ecm")
_TIE = 1e-10          # relative score window of the deterministic tie-break
_SKETCH32_TOL = 1e-5  # "auto" sketch in single precision for compression tolerances at least this loose
_SKETCH32_SIZE = 1 << 26  # ... and integrands of at least this many entries (in all)
_CHUNK_BYTES = 8 << 20  # row chunks of an in-memory integrand (cache-resident per rank)


class ECMToleranceWarning(UserWarning):
    """The requested integration tolerance was not reached (the message states the achieved one)."""


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
@dataclass
class ReducedQuadrature:
    """A reduced integration rule, replicated on every rank.

    ids : (n,) int64 natural integration-point ids, increasing
    weights : (n,) float64 positive weights (zero for points added for the dual quantities only)
    ranks : (n,) int64 rank owning each point (in the communicator of the computation)
    error : achieved relative integration error ``‖b − J_Sᵀ ω‖ / ‖b‖`` of the basis
    tol, converged, variant, n_iterations, n_basis (p), history (error after each iteration; global only)
    n_subdomains : number of subdomains of the partitioned variant (1 for the global one)
    """
    ids: np.ndarray
    weights: np.ndarray
    ranks: np.ndarray
    error: float
    tol: float
    converged: bool
    variant: str
    n_iterations: int = 0
    n_basis: int = 0
    n_subdomains: int = 1
    history: list = field(default_factory=list)

    @property
    def n_points(self):
        return int(self.ids.size)

    def local(self, ip_natural):
        """(local row indices, positions in ``ids``) of the points held by this rank (``ip_natural``: the
        rank's natural ip ids, e.g. :attr:`DistributedMesh.ip_natural`)."""
        ip_natural = np.asarray(ip_natural, dtype=np.int64)
        order = np.argsort(ip_natural, kind="stable")
        pos = np.searchsorted(ip_natural[order], self.ids)
        pos = np.minimum(pos, max(ip_natural.size - 1, 0))
        hit = ip_natural.size > 0
        found = (ip_natural[order][pos] == self.ids) if hit else np.zeros(self.ids.size, bool)
        return order[pos[found]], np.flatnonzero(found)

    def integrate_local(self, values, ip_natural):
        """This rank's part of ``Σ_k ω_k f(x_k)`` for ``values`` ``(n_local, ...)`` at the local points."""
        rows, pos = self.local(ip_natural)
        v = np.asarray(values)[rows]
        return np.tensordot(self.weights[pos], v, axes=(0, 0))

    def integrate(self, values, ip_natural, comm):
        """``Σ_k ω_k f(x_k)`` on every rank (collective)."""
        loc = np.ascontiguousarray(self.integrate_local(values, ip_natural), dtype=np.float64)
        return allreduce_sum(loc, comm)

    def with_points(self, extra_ids, extra_ranks):
        """A copy with points added at zero weight (ids already present are kept with their weight)."""
        extra_ids = np.asarray(extra_ids, dtype=np.int64)
        new = ~np.isin(extra_ids, self.ids)
        ids = np.concatenate([self.ids, extra_ids[new]])
        order = np.argsort(ids, kind="stable")
        w = np.concatenate([self.weights, np.zeros(int(new.sum()))])[order]
        r = np.concatenate([self.ranks, np.asarray(extra_ranks, dtype=np.int64)[new]])[order]
        return ReducedQuadrature(ids[order], w, r, self.error, self.tol, self.converged, self.variant,
                                 self.n_iterations, self.n_basis, self.n_subdomains, list(self.history))


@dataclass
class IntegrandBasis:
    """A ``w``-orthonormal basis of the integrand space (rows = local points), see :func:`compress_integrand`.

    J : (n_local, p); singular_values : of the compressed integrand (before the constant is added);
    n_columns : columns of the integrand; energy : fraction of the integrand energy kept;
    method : "pod" | "randomized" | "none"; has_constant : the constant function is in span(J).
    """
    J: np.ndarray
    singular_values: np.ndarray
    n_columns: int
    energy: float
    method: str
    has_constant: bool

    @property
    def n_basis(self):
        return self.J.shape[1]


# --------------------------------------------------------------------------------------------------
# small MPI helpers
# --------------------------------------------------------------------------------------------------
def _gram(X, w, comm):
    """Global ``Xᵀ diag(w) X`` (replicated)."""
    Xw = X * np.sqrt(w)[:, None]
    return allreduce_sum(np.ascontiguousarray(Xw.T @ Xw), comm)


def _w_orthonormalize(X, w, comm, rel=None):
    """``w``-orthonormal basis of span(X) by Cholesky-QR2 style eigh of the Gram (twice).

    Directions with eigenvalues ``≤ rel · λ_max`` (numerically null) are dropped. Returns ``(n_local, r)``.
    """
    rel = (X.shape[1] * 1e2 * np.finfo(float).eps) if rel is None else rel
    for it in range(2):
        if X.shape[1] == 0:
            return X
        C = _gram(X, w, comm)
        lam, V = np.linalg.eigh(0.5 * (C + C.T))
        lam, V = lam[::-1], V[:, ::-1]
        if not lam[0] > 0:
            return X[:, :0]
        keep = lam > rel * lam[0]
        X = X @ (V[:, keep] / np.sqrt(lam[keep]))
    return X


# --------------------------------------------------------------------------------------------------
# integrand assembly from a mesh
# --------------------------------------------------------------------------------------------------
def mode_strains(dm, modes_owned):
    """Strains of displacement modes at this rank's integration points.

    ``modes_owned``: ``(3 · n_owned_nodes, k)`` — this rank's owned nodal rows (PETSc order, interlaced), as
    produced by a POD of a field source with ``dm.redistributor("node")``. Returns ``(n_ip_local, 6, k)``
    Mandel strains ``ε(ψ_j)(x_q)``. Collective (one ghost exchange for all modes).
    """
    from petsc4py import PETSc
    from ..fem.operators import _geometry_chunks
    from ..fem.kinematics import strain_displacement
    modes_owned = np.asarray(modes_owned, dtype=np.float64)
    k = modes_owned.shape[1]
    if modes_owned.shape[0] != 3 * dm.n_owned_nodes:
        raise InputError(f"mode_strains: {modes_owned.shape[0]} rows, expected 3 × {dm.n_owned_nodes} owned "
                         f"nodes on rank {dm.comm.rank}")
    out = np.empty((dm.n_ip_local, 6, k))
    if k == 0:
        return out
    vec = dm.create_vector(3 * k)
    arr = vec.getArray()
    arr[:] = modes_owned.reshape(dm.n_owned_nodes, 3, k).transpose(0, 2, 1).reshape(-1)
    vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    with vec.localForm() as lf:
        loc = lf.getArray(readonly=True).reshape(dm.n_local_nodes, k, 3).copy()
    vec.destroy()
    for blk, s, e, dNdx, _dV in _geometry_chunks(dm, False):
        B = strain_displacement(dNdx)                                  # (ne, nq, 6, 3nn)
        ue = loc[blk.cells[s:e]]                                        # (ne, nn, k, 3)
        ue = ue.transpose(0, 1, 3, 2).reshape(e - s, -1, k)             # (ne, 3nn, k)
        eps = np.matmul(B.reshape(e - s, -1, B.shape[-1]), ue)          # (ne, nq*6, k)
        out[blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp] = eps.reshape(-1, 6, k)
    return out


def force_integrand(strains, stresses, tangents=None, stress_scale=None, comm=None):
    """Internal-force integrand ``g_{k,(i,j)} = ε(ψ_j)(x_k) : σ_i(x_k)``: ``(n_local, n_snap · n_modes)``.

    strains : (n_local, 6, n_modes) (:func:`mode_strains`); stresses : (n_local, 6, n_snap) Mandel
    (snapshots, or stress POD modes scaled by their singular values); column ``i · n_modes + j``.
    tangents : optional (n_local, 6, 6, n_t) tangent operators: adds the columns ``ε(ψ_j) : C_t ε(ψ_l)``,
    ``l ≥ j`` (the tangent-like terms), scaled by ``stress_scale / max|C|`` so they weigh like the forces
    (both maxima global over ``comm``; ``stress_scale`` defaults to ``max|σ|``). Collective with tangents.
    """
    E = np.asarray(strains, dtype=np.float64)
    S = np.asarray(stresses, dtype=np.float64)
    n, _, k = E.shape
    cols = [np.einsum("qcj,qci->qij", E, S, optimize=True).reshape(n, -1)]
    if tangents is not None:
        C = np.asarray(tangents, dtype=np.float64)
        iu = np.triu_indices(k)
        comm = comm or MPI.COMM_WORLD
        smax = float(np.abs(S).max()) if S.size else 0.0
        cmax = float(np.abs(C).max()) if C.size else 0.0
        if comm.size > 1:
            smax, cmax = comm.allreduce(smax, op=MPI.MAX), comm.allreduce(cmax, op=MPI.MAX)
        smax = smax if stress_scale is None else float(stress_scale)
        sc = smax / cmax if cmax > 0 else 1.0
        for t in range(C.shape[-1]):
            CE = np.einsum("qcd,qdl->qcl", C[..., t], E, optimize=True)
            K = np.einsum("qcj,qcl->qjl", E, CE, optimize=True)
            cols.append(sc * K[:, iu[0], iu[1]])
    return np.concatenate(cols, axis=1)


# --------------------------------------------------------------------------------------------------
# compression
# --------------------------------------------------------------------------------------------------
def _is_source(G):
    return hasattr(G, "read") and hasattr(G, "n_snapshots") and not isinstance(G, np.ndarray)


def compress_integrand(G, weights, comm=None, tol=1e-4, max_rank=None, constant=True, method="auto",
                       block=256, seed=20170701, sketch="auto"):
    """``w``-orthonormal basis of the integrand's dominant column space (plus the constant). Collective.

    G : ndarray (n_local, m) or a source with ``read(a, b) -> (n_local, b-a)`` and ``n_snapshots`` (streamed)
    weights : (n_local,) quadrature weights
    tol : relative energy tolerance of the truncation (``Σ discarded σ² ≤ tol² Σ σ²``); ``None``: no
        compression (the columns themselves, ``w``-orthonormalized)
    method : "pod" (:func:`dromo.reduction.pod`, accurate TSQR path), "randomized" (blocked adaptive range
        finder: per block one pass for ``Y = G Ω`` and one for ``B = Qᵀ W G``; blocks are added, sized from
        the spectrum seen so far, until the *exact* discarded energy ``‖G‖² − Σ_k s_k(B)²`` meets ``tol``),
        "auto" (randomized for a source or more than 512 columns)
    constant : add the constant function (volume integrated to the ECM tolerance)
    block : columns per read of a streamed source (an in-memory ``G`` is read by cache-sized row chunks)
    sketch : precision of the randomized sketch ``G Ω`` (only the range finder: ``B``, the energies and the
        basis stay in double precision, so the energy check is exact either way): "double", "single" (half
        the time of that product; the span is then accurate to ~1e-6 relative, so the trailing modes — not
        the captured energy — differ from the double-precision ones at that level), "auto" (single when
        ``tol ≥ 1e-5`` and the integrand has at least 2^26 entries in all, i.e. when the product matters)

    All-zero integrands give an empty basis (plus the constant when ``constant``).
    """
    comm = comm or MPI.COMM_WORLD
    w = np.asarray(weights, dtype=np.float64)
    src = _is_source(G)
    m = int(G.n_snapshots) if src else int(np.shape(G)[1])
    n = w.size
    if not src and np.shape(G)[0] != n:
        raise InputError(f"integrand has {np.shape(G)[0]} local rows, weights {n} (rank {comm.rank})")
    if method == "auto":
        method = "randomized" if (src or m > 512) and tol is not None else "pod"
    if tol is None:
        X = np.asarray(G.read(0, m) if src else G, dtype=np.float64)
        norms = np.sqrt(np.maximum(np.diag(_gram(X, w, comm)), 0))
        sv, energy, J, used = norms, 1.0, _w_orthonormalize(X, w, comm), "none"
    elif method == "pod":
        X = np.asarray(G.read(0, m) if src else G, dtype=np.float64)
        total = float(allreduce_sum(np.array([np.einsum("i,ij,ij->", w, X, X)]), comm)[0])
        if total > 0:
            from .pod import pod
            # TSQR: modes accurate to eps·σ₁/σ near the cut (the Gram path's eps·σ₁²/σ² would make the
            # selection depend on the rank count through round-off)
            b = pod(X, comm=comm, tol=tol, max_modes=max_rank, inner=w, inner_name="quadrature", method="svd")
            J, sv, energy = b.modes, b.singular_values, b.energy
        else:
            J, sv, energy = np.zeros((n, 0)), np.zeros(0), 1.0
        used = "pod"
    elif method == "randomized":
        if sketch not in ("auto", "single", "double"):
            raise InputError(f"unknown sketch precision {sketch!r} (auto, single, double)")
        if sketch == "auto":
            n_glob = n if comm.size == 1 else comm.allreduce(n)
            single = tol >= _SKETCH32_TOL and n_glob * m >= _SKETCH32_SIZE
        else:
            single = sketch == "single"
        lead = 1 if constant else 0
        J, sv, energy = _randomized(G, src, m, w, comm, tol, max_rank, block, seed, single, lead)
        used = "randomized"
    else:
        raise InputError(f"unknown integrand compression method {method!r} (pod, randomized, auto)")
    has_c = False
    if used == "randomized" and constant:
        pass                                           # J has its free leading column
    elif constant:
        Jl = np.empty((n, J.shape[1] + 1))
        Jl[:, 1:] = J
        J = Jl
    if constant:
        vol = float(allreduce_sum(np.array([w.sum()]), comm)[0])
        if vol > 0:
            J = _add_constant(J, w, vol, comm)
            has_c = True
        else:
            J = J[:, 1:]
    _log.debug("integrand compressed (%s): %d columns -> %d basis functions (energy %.12g)", used, m,
               J.shape[1], energy)
    return IntegrandBasis(np.ascontiguousarray(J), np.asarray(sv), m, float(energy), used, has_c)


def _row_chunk(m):
    return int(max(16, min(8192, _CHUNK_BYTES // (8 * max(m, 1)))))


def _sketch(G, src, m, Om, w, block, want_total, f32):
    """One pass over the integrand: ``Y = G Ω`` (float64 result) and, if asked, the local ``w``-energy.

    An in-memory ``G`` is read by cache-sized row chunks (each read once); with ``f32`` the product is
    formed in single precision on power-of-two scaled chunks (the range finder only needs the span of
    ``Y`` to ~1e-6; the energies and projections stay in double precision).
    """
    n, k = w.size, Om.shape[1]
    tot = 0.0
    if src:
        Y = np.zeros((n, k))
        for a in range(0, m, block):
            b = min(m, a + block)
            Gb = np.asarray(G.read(a, b), dtype=np.float64)
            Y += Gb @ Om[a:b]
            if want_total:
                tot += float(np.einsum("ij,ij->i", Gb, Gb) @ w)
        return Y, tot
    Y = np.empty((n, k))
    ch = _row_chunk(m)
    Om32 = Om.astype(np.float32) if f32 else None
    buf = np.empty((min(ch, n), m), np.float32) if f32 else None
    ybuf = np.empty((min(ch, n), k), np.float32) if f32 else None
    for r0 in range(0, n, ch):
        r1 = min(n, r0 + ch)
        Gc = np.asarray(G[r0:r1], dtype=np.float64)
        if want_total:
            tot += float(np.einsum("ij,ij->i", Gc, Gc) @ w[r0:r1])
        if f32:
            g, y = buf[:r1 - r0], ybuf[:r1 - r0]
            np.copyto(g, Gc, casting="unsafe")
            amax = max(float(g.max()), -float(g.min())) if g.size else 0.0
            if 1e-30 < amax < 1e30:
                np.matmul(g, Om32, out=y)
                Y[r0:r1] = y
                continue
            amax = max(float(Gc.max()), -float(Gc.min()))
            if amax > 0 and np.isfinite(amax):            # out of the comfortable single range: scale
                e = int(np.frexp(amax)[1])                 # by a power of two (exact)
                np.multiply(Gc, np.ldexp(1.0, -e), out=g, casting="unsafe")
                np.matmul(g, Om32, out=y)
                np.multiply(y, np.ldexp(1.0, e), out=Y[r0:r1], dtype=np.float64)
                continue
        np.matmul(Gc, Om, out=Y[r0:r1])
    return Y, tot


def _slices(n, width):
    """Row slices of about ``_CHUNK_BYTES`` for arrays of ``width`` float64 columns (the chunked loops below
    avoid n-row temporaries: fresh large allocations cost page faults comparable to the flops here)."""
    ch = _row_chunk(width)
    return [slice(a, min(n, a + ch)) for a in range(0, n, ch)]


def _project(G, src, m, Qn, w, block):
    """Local ``Qnᵀ W G`` ``(k, m)`` (one pass over the integrand)."""
    n, k = Qn.shape
    if src:
        Qw = Qn * w[:, None]
        B = np.empty((k, m))
        for a in range(0, m, block):
            b = min(m, a + block)
            B[:, a:b] = Qw.T @ np.asarray(G.read(a, b), dtype=np.float64)
        return B
    B = np.zeros((k, m))
    for c in _slices(n, max(k, 64)):                   # large chunks: few updates of B
        B += (Qn[c] * w[c, None]).T @ np.asarray(G[c], dtype=np.float64)
    return B


def _orth_block(Y, Qs, w, comm, floor):
    """``w``-orthonormal basis of the part of span(Y) ``w``-orthogonal to the (``w``-orthonormal) blocks
    ``Qs`` (a list).

    (Block Gram–Schmidt then Cholesky-QR via eigh of the Gram) twice; directions with energy ``≤ floor``
    after the first projection, or numerically null relative to the block, are dropped. ``Y`` is
    overwritten (and returned when no direction is dropped).
    """
    n = w.size
    rel = Y.shape[1] * 1e2 * np.finfo(float).eps
    sw = np.sqrt(w)
    for it in range(2):
        k = Y.shape[1]
        if k == 0:
            return Y
        sl = _slices(n, max(k, max((q.shape[1] for q in Qs), default=0)))
        if Qs:
            H = [np.zeros((q.shape[1], k)) for q in Qs]
            for c in sl:
                for q, h in zip(Qs, H):
                    h += (q[c] * w[c, None]).T @ Y[c]
            H = np.split(allreduce_sum(np.ascontiguousarray(np.concatenate(H, axis=0)), comm),
                         np.cumsum([q.shape[1] for q in Qs])[:-1], axis=0)
            for c in sl:
                for q, h in zip(Qs, H):
                    Y[c] -= q[c] @ h
        C = np.zeros((k, k))
        for c in sl:
            Ys = Y[c] * sw[c, None]
            C += Ys.T @ Ys
        C = allreduce_sum(C, comm)
        lam, V = np.linalg.eigh(0.5 * (C + C.T))
        lam, V = lam[::-1], V[:, ::-1]
        keep = (lam > rel * lam[0]) & (lam > (floor if it == 0 else 0.0))
        if not keep.any():
            return Y[:, :0]
        M = V[:, keep] / np.sqrt(lam[keep])
        out = Y if keep.all() else np.empty((n, int(keep.sum())))
        for c in sl:
            out[c] = Y[c] @ M
        Y = out
    return Y


def _add_constant(J, w, vol, comm):
    """``[c, J]`` ``w``-orthonormal with ``c`` the unit constant made ``w``-orthogonal to the (orthonormal)
    ``J = Jl[:, 1:]`` (``Jl``: the basis with a free leading column, filled here); the constant is not
    added when it already lies in span(J) to round-off (the span, the only thing the greedy depends on, is
    the same as that of an orthonormalization of ``[1, J]``). Returns ``Jl`` or ``Jl[:, 1:]``."""
    n = w.size
    if J.shape[1] == 1:
        return _w_orthonormalize(np.full((n, 1), 1.0 / np.sqrt(vol)), w, comm)
    sl = _slices(n, J.shape[1])
    c = np.full(n, 1.0 / np.sqrt(vol))               # ‖c‖_w = 1
    for it in range(2):
        h = np.zeros(J.shape[1] - 1)
        for s_ in sl:
            h += J[s_, 1:].T @ (w[s_] * c[s_])
        h = allreduce_sum(h, comm)
        for s_ in sl:
            c[s_] -= J[s_, 1:] @ h
    nc2 = float(allreduce_sum(np.array([np.dot(w * c, c)]), comm)[0])
    if not nc2 > J.shape[1] * 1e2 * np.finfo(float).eps:
        return J[:, 1:]
    J[:, 0] = c / np.sqrt(nc2)
    return J


def _randomized(G, src, m, w, comm, tol, max_rank, block, seed, f32, lead=0):
    """Blocked adaptive randomized range finder (QB) with the exact discarded energy after each block.

    Block ``i``: sketch ``Y_i = G Ω_i`` (one pass), ``w``-orthonormalize against the previous blocks,
    ``B_i = Q_iᵀ W G`` (one pass); the exact discarded energy of the best rank-``k`` truncation of
    ``Q B`` is ``‖G‖²_W − Σ_{j≤k} s_j(B)²``. The next block size is predicted from the decay of the
    singular values of ``B`` and that energy (nothing is recomputed: ``Q`` and ``B`` only grow), so the
    sketch rank ends a little above the needed one, usually in two or three blocks. All decisions use
    replicated (reduced) quantities, identical on every rank. Returns ``J`` with ``lead`` free leading
    columns (room for the constant), the singular values of ``B`` and the captured energy fraction.
    """
    n = w.size
    rng = np.random.default_rng(seed)
    cap = m if max_rank is None else min(m, max(64, int(max_rank) + 16))
    k_new = min(cap, 64)
    target = tol * tol
    Qs = []                                            # w-orthonormal blocks of Q (never concatenated)
    B = np.zeros((0, m))
    total = None
    n_om = 0                                           # columns of Ω used so far
    while True:
        Om = rng.standard_normal((m, k_new))
        n_om += k_new
        Y, tot = _sketch(G, src, m, Om, w, block, total is None, f32)
        if total is None:
            total = float(allreduce_sum(np.array([tot]), comm)[0])
            if not total > 0:
                return np.zeros((n, lead)), np.zeros(0), 1.0
        Qn = _orth_block(Y, Qs, w, comm, floor=(1e-3 * tol) ** 2 * total)
        del Y
        added = Qn.shape[1]
        if added:
            Bn = allreduce_sum(np.ascontiguousarray(_project(G, src, m, Qn, w, block)), comm)
            Qs.append(Qn)
            B = np.concatenate([B, Bn], axis=0)
            del Bn
        del Qn
        l = B.shape[0]
        if l == 0:
            return np.zeros((n, lead)), np.zeros(0), 0.0
        U, s, _ = np.linalg.svd(B, full_matrices=False)
        captured = np.cumsum(s ** 2)
        disc = total - captured                         # exact discarded energy for k = 1..l
        ok = np.flatnonzero(disc <= target * total)
        margin = max(8, l // 16)                       # oversampling kept beyond the truncation rank
        exhausted = added < k_new or n_om >= cap       # range (or allowed rank) exhausted
        if (ok.size and int(ok[0]) + 1 + margin <= l) or exhausted:
            k = int(ok[0]) + 1 if ok.size else s.size
            if max_rank is not None:
                k = min(k, int(max_rank))
            k = max(1, min(k, int(np.count_nonzero(s > s[0] * 1e-14))))
            J = np.empty((n, lead + k))
            Us = np.split(U[:, :k], np.cumsum([q.shape[1] for q in Qs])[:-1], axis=0)
            for c in _slices(n, lead + k + max(q.shape[1] for q in Qs)):
                J[c, lead:] = sum(q[c] @ u for q, u in zip(Qs, Us))
            _log.debug("randomized integrand compression: sketch rank %d, %d kept", l, k)
            return J, s, float(captured[k - 1] / total)
        # size of the next block: from the decay rate of s near the end and the exact remaining energy
        i0, i1 = l // 2, (7 * l) // 8 - 1
        if ok.size or l < 8 or not s[i1] > 0:
            add = margin if ok.size else l
        else:
            rho = float(np.log(s[i0] / s[i1])) / (i1 - i0)
            if rho > 1e-3:
                # the decay usually slows down further on: a quarter more than the extrapolation, plus the
                # oversampling (an overshoot costs its flops; an undershoot two more passes over G)
                need = np.log(disc[-1] / (0.5 * target * total)) / (2 * rho)
                add = int(np.ceil(1.25 * need)) + max(8, l // 10)
            else:
                add = l
            add = min(add, 2 * l)
        k_new = min(cap - n_om, 16 * -(-max(add, 16) // 16))
        _log.debug("randomized integrand compression: rank %d not enough (discarded %.3e), %d more", l,
                   disc[-1] / total, k_new)


# --------------------------------------------------------------------------------------------------
# NNLS on the selected set (incremental QR for the unconstrained solve)
# --------------------------------------------------------------------------------------------------
class _Weights:
    """``min ‖A ω − b‖, ω ≥ 0`` for ``A = J_Sᵀ`` growing one column at a time."""

    def __init__(self, b):
        self.b = b
        self.p = b.size
        self.A = np.zeros((self.p, 0))
        self.Q = np.zeros((self.p, 0))
        self.R = np.zeros((0, 0))
        self.qr_ok = True

    def _rebuild(self):
        if self.A.shape[1]:
            self.Q, self.R = np.linalg.qr(self.A)
            d = np.abs(np.diag(self.R))
            self.qr_ok = self.A.shape[1] <= self.p and d.min() > 1e-12 * max(d.max(), 1e-300)
        else:
            self.Q, self.R, self.qr_ok = np.zeros((self.p, 0)), np.zeros((0, 0)), True

    def add(self, col):
        self.A = np.concatenate([self.A, col[:, None]], axis=1)
        if not self.qr_ok or self.A.shape[1] > self.p:
            self.qr_ok = False
            return
        v = col.copy()
        h = self.Q.T @ v
        v -= self.Q @ h
        h2 = self.Q.T @ v                      # re-orthogonalize (CGS2)
        v -= self.Q @ h2
        h += h2
        nv = np.linalg.norm(v)
        s = self.R.shape[0]
        R = np.zeros((s + 1, s + 1))
        R[:s, :s] = self.R
        R[:s, s] = h
        R[s, s] = nv
        if not nv > 1e-12 * max(np.linalg.norm(col), 1e-300):
            self.qr_ok = False
            return
        self.Q = np.concatenate([self.Q, (v / nv)[:, None]], axis=1)
        self.R = R

    def remove(self, keep):
        self.A = self.A[:, keep]
        self._rebuild()

    def solve(self):
        from scipy.linalg import solve_triangular
        if self.A.shape[1] == 0:
            return np.zeros(0)
        if self.qr_ok:
            x = solve_triangular(self.R, self.Q.T @ self.b)
            if np.all(x > 0) and np.all(np.isfinite(x)):
                return x
        from scipy.optimize import nnls
        x, _ = nnls(self.A, self.b, maxiter=50 * self.A.shape[1] + 100)
        return x


# --------------------------------------------------------------------------------------------------
# greedy
# --------------------------------------------------------------------------------------------------
def _greedy(J, w, ids, comm, b, target, max_points, warm, max_iter):
    """Core greedy on the rows of ``J`` (``comm``: all ranks take part, ``None``: local only).

    Returns (ids, weights, owner ranks, residual, n_iterations, history, status) with status
    "ok" | "max_points" | "stagnated" | "max_iter".
    """
    rank = 0 if comm is None else comm.rank
    nb = float(np.linalg.norm(b))
    rn = np.sqrt(np.einsum("ij,ij->i", J, J))
    inv = np.divide(1.0, rn, out=np.zeros_like(rn), where=rn > 0)
    # normalized rows in single precision for the scores (half the memory traffic of the BLAS-2 product
    # that dominates an iteration); the points near the maximum are re-scored exactly (see below)
    Jn = np.empty(J.shape, np.float32)
    ch = _row_chunk(J.shape[1])
    for a in range(0, J.shape[0], ch):
        np.multiply(J[a:a + ch], inv[a:a + ch, None], out=Jn[a:a + ch], casting="unsafe")
    # bound of |score_32 − score| / ‖r‖ (rounding of the rows, of r, and of a length-p dot product)
    e32 = 1.01 * (J.shape[1] + 3) * np.finfo(np.float32).eps / 2
    chosen = np.zeros(J.shape[0], dtype=bool)
    sort = np.argsort(ids, kind="stable")
    sorted_ids = ids[sort]

    def local_index(gid):
        if sorted_ids.size == 0:
            return -1
        k = int(np.searchsorted(sorted_ids, gid))
        return int(sort[k]) if k < sorted_ids.size and sorted_ids[k] == gid else -1

    S_ids, S_rank = [], []
    nn = _Weights(b)
    omega = np.zeros(0)
    if warm is not None and len(warm):
        warm = np.unique(np.asarray(warm, dtype=np.int64))
        if comm is None:
            mine = np.isin(warm, ids)
            warm = warm[mine]
            rows = J[[local_index(g) for g in warm]] if warm.size else np.zeros((0, J.shape[1]))
            owners = np.full(warm.size, rank, np.int64)
        else:
            rows, owners = fetch_rows(J, ids, warm, comm)
        for g, row, o in zip(warm, rows, owners):
            S_ids.append(int(g))
            S_rank.append(int(o))
            nn.add(row)
            li = local_index(int(g)) if (comm is None or o == rank) else -1
            if li >= 0:
                chosen[li] = True
        omega = nn.solve()
    history = []
    it = 0
    status = "ok"
    while True:
        keep = omega > 0
        if not keep.all():
            for g, o in zip(np.asarray(S_ids)[~keep], np.asarray(S_rank)[~keep]):
                li = local_index(int(g)) if (comm is None or o == rank) else -1
                if li >= 0:
                    chosen[li] = False
            S_ids = [g for g, k in zip(S_ids, keep) if k]
            S_rank = [o for o, k in zip(S_rank, keep) if k]
            nn.remove(keep)
            omega = omega[keep]
        r = b - nn.A @ omega if omega.size else b.copy()
        err = float(np.linalg.norm(r))
        history.append(err / nb if nb > 0 else 0.0)
        if err <= target:
            status = "ok"
            break
        if max_points is not None and len(S_ids) >= max_points:
            status = "max_points"
            break
        if it >= max_iter:
            status = "max_iter"
            break
        it += 1
        # scores J_k · r / ‖J_k‖: single-precision BLAS-2 on the local rows, then the exact (double) scores
        # of every point that can be within the tie window of the maximum given the single-precision
        # error bound; these decide, so the choice is that of exact scores
        sc32 = Jn @ (r / err).astype(np.float32)      # relative scores, in [-1, 1]
        sc32[chosen] = -np.inf
        m32 = float(sc32.max()) if sc32.size else -np.inf
        if np.isfinite(m32):
            near = np.flatnonzero(sc32 >= m32 - (2 * e32 + 2 * _TIE))
            sc = (J[near] @ r) * inv[near]
        else:
            near, sc = np.zeros(0, np.int64), np.zeros(0)
        gid, owner, gmax = argmax_smallest_id(sc, ids[near], comm, _TIE)
        if not gmax > 0:
            status = "stagnated"
            break
        li = local_index(gid) if owner == rank else -1
        if li >= 0:
            chosen[li] = True
        row = broadcast_row(J, li, owner, comm)
        S_ids.append(int(gid))
        S_rank.append(int(owner))
        nn.add(row)
        omega = nn.solve()
    return (np.asarray(S_ids, np.int64), np.asarray(omega, float), np.asarray(S_rank, np.int64), r, it,
            history, status)


def ecm_greedy(J, weights, ids, comm=None, tol=1e-4, max_points=None, variant="global", subdomains=None,
               warm_start=None, warn=True):
    """Greedy empirical cubature on an integrand basis ``J`` ``(n_local, p)``. Collective.

    weights : (n_local,) full quadrature weights; ids : (n_local,) natural ids of the local points
    tol : relative integration tolerance ``‖b − J_Sᵀ ω‖ ≤ tol ‖b‖`` (``b = Jᵀ w``)
    max_points : cap on the number of points (global variant) or per subdomain (partitioned)
    variant : "global" (rank-count independent) or "partitioned"
    subdomains : (n_local,) int labels of local rows, partitioned variant only (default: one per rank);
        a label names a subdomain inside this rank
    warm_start : natural ids of an existing point set to start from (e.g. for enrichment); points that end
        with a zero weight are dropped
    Returns a :class:`ReducedQuadrature`.
    """
    comm = comm or MPI.COMM_WORLD
    J = np.ascontiguousarray(J, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    ids = np.asarray(ids, dtype=np.int64)
    if J.ndim != 2 or J.shape[0] != w.size or ids.size != w.size:
        raise InputError(f"ecm: integrand rows {J.shape}, weights {w.shape}, ids {ids.shape} differ "
                         f"(rank {comm.rank})")
    if not (np.isfinite(tol) and tol > 0):
        raise InputError(f"ecm: tolerance must be > 0, got {tol}")
    if not np.isfinite(J).all():
        raise InputError(f"ecm: the integrand has NaN/Inf values on rank {comm.rank}")
    p = J.shape[1]
    b = allreduce_sum(np.ascontiguousarray(J.T @ w), comm)
    nb = float(np.linalg.norm(b))
    max_iter = 4 * p + 100 if max_points is None else 4 * int(max_points) + 100
    if nb == 0.0:
        # nothing to integrate (all-zero integrand): the empty rule is exact
        return ReducedQuadrature(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), 0.0, tol, True,
                                 variant, 0, p, 1, [0.0])
    if variant == "global":
        gids, om, own, r, it, hist, status = _greedy(J, w, ids, comm, b, tol * nb, max_points, warm_start,
                                                       max_iter)
        err = float(np.linalg.norm(r)) / nb
        order = np.argsort(gids)
        res = ReducedQuadrature(gids[order], om[order], own[order], err, tol, status == "ok", variant, it, p,
                                1, hist)
    elif variant == "partitioned":
        lab = np.zeros(w.size, np.int64) if subdomains is None else np.asarray(subdomains, np.int64)
        if lab.size != w.size:
            raise InputError(f"ecm: {lab.size} subdomain labels for {w.size} local points")
        labels = np.unique(lab)
        bs = {int(s): J[lab == s].T @ w[lab == s] for s in labels}
        sum_nbs = float(allreduce_sum(np.array([sum(np.linalg.norm(v) for v in bs.values())]), comm)[0])
        n_sub = int(allreduce_sum(np.array([labels.size], np.int64), comm)[0])
        out_ids, out_w, it_tot, stat_all = [], [], 0, "ok"
        local_int = np.zeros(p)
        for s in labels:
            rows = np.flatnonzero(lab == s)
            bsv = bs[int(s)]
            nbs = float(np.linalg.norm(bsv))
            if nbs == 0:
                continue
            target = tol * nb * nbs / sum_nbs
            g, om, _o, r, it, _h, status = _greedy(J[rows], w[rows], ids[rows], None, bsv, target, max_points,
                                                   warm_start, max_iter)
            out_ids.append(g)
            out_w.append(om)
            it_tot += it
            if status != "ok":
                stat_all = status
            local_int += bsv - r
        gids = np.concatenate(out_ids) if out_ids else np.zeros(0, np.int64)
        om = np.concatenate(out_w) if out_w else np.zeros(0)
        parts = [(gids, om)] if comm.size == 1 else comm.allgather((gids, om))
        gids = np.concatenate([q[0] for q in parts])
        om = np.concatenate([q[1] for q in parts])
        own = np.concatenate([np.full(q[0].size, r_, np.int64) for r_, q in enumerate(parts)])
        approx = allreduce_sum(local_int, comm)
        err = float(np.linalg.norm(b - approx)) / nb
        ok = comm.allreduce(stat_all == "ok", op=MPI.LAND) if comm.size > 1 else stat_all == "ok"
        order = np.argsort(gids)
        res = ReducedQuadrature(gids[order], om[order], own[order], err, tol, bool(ok and err <= tol * 1.0001),
                                variant, int(comm.allreduce(it_tot) if comm.size > 1 else it_tot), p, n_sub, [])
        status = "ok" if res.converged else (stat_all if stat_all != "ok" else "tolerance")
    else:
        raise InputError(f"ecm: unknown variant {variant!r} (global or partitioned)")
    if not res.converged and warn:
        why = {"max_points": f"the maximum of {max_points} points" + (" per subdomain" if variant ==
                                                                        "partitioned" else ""),
               "stagnated": "no remaining point can reduce the residual (non-negative weights)",
               "max_iter": "the iteration limit"}.get(status, "the subdomain targets")
        msg = (f"ECM ({variant}): tolerance {tol:.3g} not reached with {res.n_points} points ({why}); achieved "
               f"relative integration error {res.error:.3e}")
        _log.warning(msg)
        warnings.warn(msg, ECMToleranceWarning, stacklevel=2)
    _log.info("ECM (%s): %d points for %d basis functions, relative integration error %.3e (tol %.1e)",
              variant, res.n_points, p, res.error, tol)
    return res


def empirical_cubature(integrand, weights, ids, comm=None, tol=1e-4, compress_tol="same", max_rank=None,
                       constant=True, method="auto", max_points=None, variant="global", subdomains=None,
                       warm_start=None, warn=True):
    """Compression (:func:`compress_integrand`) then greedy (:func:`ecm_greedy`). Collective.

    integrand : ndarray (n_local, m), a streamed source, or an :class:`IntegrandBasis` (used as is)
    compress_tol : energy tolerance of the compression; "same" (default) = ``tol``; ``None`` = none
    Returns ``(ReducedQuadrature, IntegrandBasis)``.
    """
    comm = comm or MPI.COMM_WORLD
    if isinstance(integrand, IntegrandBasis):
        basis = integrand
    else:
        ct = tol if compress_tol == "same" else compress_tol
        basis = compress_integrand(integrand, weights, comm, tol=ct, max_rank=max_rank, constant=constant,
                                   method=method)
    rq = ecm_greedy(basis.J, weights, ids, comm, tol=tol, max_points=max_points, variant=variant,
                    subdomains=subdomains, warm_start=warm_start, warn=warn)
    return rq, basis


def point_info(dm, ids):
    """Element and local quadrature index of natural ip ids on a :class:`DistributedMesh` (replicated).

    Returns dict with ``cell`` (natural cell index), ``element`` (external element id), ``qp`` (point
    index within the cell's rule), ``rank`` (owning rank).
    """
    ids = np.asarray(ids, dtype=np.int64)
    cell = np.searchsorted(dm.ip_offset, ids, side="right") - 1
    qp = ids - dm.ip_offset[cell]
    mesh = dm.global_mesh
    ext = np.empty(ids.size, np.int64)
    off = mesh.cell_offsets
    for bi, blk in enumerate(mesh.blocks):
        m = (cell >= off[bi]) & (cell < off[bi + 1])
        ext[m] = blk.ids[cell[m] - off[bi]]
    return {"cell": cell, "element": ext, "qp": qp, "rank": dm.part[cell].astype(np.int64)}
