"""Empirical cubature (ECM): a few integration points with positive weights that integrate the reduced
internal forces as the full quadrature does (Hernández, Caicedo, Ferrer, CMAME 2017). Collective.

Data model
----------
Integration points (ips) are distributed by rows: each rank holds its owned points, with their
quadrature weights ``w`` (``w_q detJ``) and their **natural** ids (rank-count independent,
:attr:`DistributedMesh.ip_natural`). An *integrand* is a row-distributed matrix ``G`` ``(n_local, m)``:
column ``c`` holds one scalar function at the local points (for the internal forces:
``ε(ψ_j) : σ(u_i)`` for mode ``j`` and stress snapshot ``i``, see :func:`dromo.fem.points.force_integrand`).

Pipeline (:func:`empirical_cubature`; the result is a :class:`~dromo.reduction.reduced_quadrature.ReducedQuadrature`)
------------------------------------------------------------------------------------------------------------------
1. **Compression** (:mod:`dromo.reduction.compression`): a ``w``-orthonormal basis ``J`` ``(n_local, p)``,
   ``Jᵀ W J = I``, of the integrand's dominant column space (energy tolerance ``compress_tol``) plus the
   constant function, so the volume is integrated to the ECM tolerance.
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

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum, argmax_smallest_id, broadcast_row, fetch_rows
from .compression import IntegrandBasis, row_chunk, compress_integrand
from .reduced_quadrature import ReducedQuadrature

__all__ = ["ECMToleranceWarning", "ecm_greedy", "empirical_cubature"]

_log = get_logger("dromo.reduction.ecm")
_TIE = 1e-10          # relative score window of the deterministic tie-break


class ECMToleranceWarning(UserWarning):
    """The requested integration tolerance was not reached (the message states the achieved one)."""


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

    def add_block(self, cols):
        """Add the columns ``cols`` ``(p, s)`` at once (one Householder QR of the whole set instead of
        ``s`` updates: a warm start)."""
        self.A = np.concatenate([self.A, np.asarray(cols, dtype=np.float64).reshape(self.p, -1)], axis=1)
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
    ch = row_chunk(J.shape[1])
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
        for g, o in zip(warm, owners):
            S_ids.append(int(g))
            S_rank.append(int(o))
            li = local_index(int(g)) if (comm is None or o == rank) else -1
            if li >= 0:
                chosen[li] = True
        nn.add_block(np.asarray(rows).T)
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
