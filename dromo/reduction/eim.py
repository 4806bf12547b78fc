"""Dual quantities at the reduced points: DEIM / QDEIM point selection and Gappy-POD, distributed.

Data model: an integration-point field with ``nc`` components (stress: 6 Mandel, ``p``: 1) is stored by
rows ``item × component`` (item-major) on the rank owning the item; ``ids`` are the natural ids of the
local items (:attr:`DistributedMesh.ip_natural`). A POD basis of such a field (``(n_items_local · nc, k)``,
e.g. :func:`dromo.reduction.pod` with the quadrature weights repeated per component) is the input.

Point selection (collective, rank-count independent)
----------------------------------------------------
The basis is first orthonormalized in the Euclidean (point-value) inner product ``V = U T`` — the setting
of the DEIM/QDEIM error bounds; the selection does not depend on the scaling of ``U``.

* :func:`qdeim` (Drmač & Gugercin 2016): column-pivoted QR of ``Vᵀ`` as a greedy on the rows: pick the
  row of largest residual norm (MPI ``MAX``, ties within ``1e-10`` broken by the smallest global row id
  ``item · nc + component``), its owner broadcasts it, every row is orthogonalized against it (BLAS-2 on
  the local rows). ``‖(P ᵀV)⁻¹‖`` is bounded by ``√(n k) · O(2^k)`` and small in practice.
* :func:`deim` (Chaturantabut & Sorensen 2010): mode by mode, the row of largest interpolation residual.

Both return rows; the selected *points* are the items of those rows (a stress point brings its 6
components: all of them enter the fit).

Gappy-POD (Everson & Sirovich 1995) — :class:`GappyFit`, :class:`GappyPOD`
------------------------------------------------------------------------
Modal coefficients by least squares from the values at the points: ``c = argmin ‖U_P c − y‖``, solved
through the QR factorization of the restricted basis ``U_P = Q R`` (``c = R⁻¹ Qᵀ y``: no normal equations,
so the accuracy is ``cond(U_P) · eps`` rather than its square), then the field ``U c`` on the whole mesh
(local rows, no communication). Reported: ``condition`` = ``cond(U_P)``, ``lebesgue`` = ``‖(V_P)⁺‖₂``
(the amplification of the best-approximation error in point values, ≥ 1) and the normalized fit residual
``‖y − U_P c‖ / ‖y‖`` (the error indicator of Casenave & Akkari 2019 for ``p``).

:class:`GappyFit` is the fit alone (the restricted modes ``U_P``, replicated, no MPI: what the online
stage loads); :class:`GappyPOD` builds it collectively from the distributed modes and reconstructs.
"""
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum, argmax_smallest_id, broadcast_row, fetch_rows

__all__ = ["PointSelection", "qdeim", "deim", "GappyFit", "GappyPOD", "euclidean_orthonormal"]

_log = get_logger("dromo.reduction.eim")
_TIE = 1e-10


@dataclass
class PointSelection:
    """Rows and points selected by (Q)DEIM, replicated.

    rows : (k,) global row ids ``item · nc + component`` in selection order
    ids : (n,) natural item ids of the selected points (increasing, unique)
    ranks : (n,) owning rank of each point
    n_components : nc
    method : "qdeim" | "deim"
    """
    rows: np.ndarray
    ids: np.ndarray
    ranks: np.ndarray
    n_components: int
    method: str

    @property
    def n_points(self):
        return int(self.ids.size)


def _check(U, ids, nc, comm):
    U = np.ascontiguousarray(U, dtype=np.float64)
    ids = np.asarray(ids, dtype=np.int64)
    if U.ndim != 2 or U.shape[0] != ids.size * nc:
        raise InputError(f"basis with {U.shape[0] if U.ndim == 2 else U.shape} local rows, expected "
                         f"{ids.size} items × {nc} components (rank {comm.rank})")
    row_ids = (ids[:, None] * nc + np.arange(nc)).reshape(-1)
    return U, ids, row_ids


def euclidean_orthonormal(U, comm, want_v=True):
    """``(V, T)`` with ``V = U T`` orthonormal in the Euclidean product of all rows. Collective.

    Cholesky-QR2 (``T`` upper triangular: the spans of the leading columns are kept, as DEIM needs); a
    numerically rank-deficient ``U`` falls back to an eigen-decomposition that drops the null directions.
    ``want_v=False``: ``(None, T)``, the same ``T`` without the last product ``V = U T`` (an O(N k²) product
    and array saved when only ``T`` is needed).
    """
    k = U.shape[1]
    T = np.eye(k)
    V = U
    for p in range(2):
        C = allreduce_sum(V.T @ V, comm)
        C = 0.5 * (C + C.T)
        try:
            L = np.linalg.cholesky(C)
            d = np.diag(L)
            if d.min() <= 1e-7 * d.max():
                raise np.linalg.LinAlgError("ill-conditioned")
            M = np.linalg.inv(L.T)
        except np.linalg.LinAlgError:
            lam, E = np.linalg.eigh(C)
            lam, E = lam[::-1], E[:, ::-1]
            if not (lam.size and lam[0] > 0):
                return U[:, :0], T[:, :0]
            keep = lam > k * 1e2 * np.finfo(float).eps * lam[0]
            M = E[:, keep] / np.sqrt(lam[keep])
        V, T = (V @ M if want_v or p == 0 else None), T @ M
    return V, T


def _pick(score, row_ids, comm, exclude):
    """Global argmax of ``score`` over the rows not ``exclude``-d, deterministic tie-break
    (:func:`~dromo.parallel.collectives.argmax_smallest_id`); returns (global row id, owner, max)."""
    sc = score.copy()
    sc[exclude] = -np.inf
    return argmax_smallest_id(sc, row_ids, comm, _TIE)


def _finish(rows, owners, nc, method):
    rows = np.asarray(rows, np.int64)
    items = rows // nc
    ids, first = np.unique(items, return_index=True)
    return PointSelection(rows, ids, np.asarray(owners, np.int64)[first], nc, method)


def qdeim(U, ids, comm=None, n_components=1):
    """QDEIM points of a row-distributed basis ``U`` ``(n_items_local · nc, k)``. Collective."""
    comm = comm or MPI.COMM_WORLD
    U, ids, row_ids = _check(U, ids, n_components, comm)
    V, _ = euclidean_orthonormal(U, comm)
    k = V.shape[1]
    # the residual rows kept transposed, ``Rt = Rᵀ`` (k, n): the rank-1 update ``R -= (R q) qᵀ`` and the row
    # norms then run along contiguous rows of length n (on (n, k) rows of k ≤ a few tens, numpy's per-row
    # overhead made the update 3× slower); its work arrays are allocated once
    Rt = np.ascontiguousarray(V.T)
    n = Rt.shape[1]
    chosen = np.zeros(n, bool)
    rows, owners = [], []
    norms, Rq, outer = np.empty(n), np.empty(n), np.empty_like(Rt)
    for _ in range(k):
        np.einsum("ji,ji->i", Rt, Rt, out=norms)
        gid, owner, gmax = _pick(norms, row_ids, comm, chosen)
        if gid < 0 or not gmax > 1e-24:
            break
        v = _take_row(Rt.T, gid, owner, row_ids, chosen, comm)
        q = v / np.linalg.norm(v)
        np.matmul(q, Rt, out=Rq)
        Rt -= np.multiply.outer(q, Rq, out=outer)
        rows.append(gid)
        owners.append(owner)
    sel = _finish(rows, owners, n_components, "qdeim")
    _log.debug("QDEIM: %d rows, %d points for %d modes", len(rows), sel.n_points, k)
    return sel


def _take_row(A, gid, owner, row_ids, chosen, comm):
    """Row ``gid`` of the row-distributed ``A`` on every rank; the owner marks it ``chosen``."""
    li = int(np.flatnonzero(row_ids == gid)[0]) if owner == comm.rank else -1
    if li >= 0:
        chosen[li] = True
    return broadcast_row(A, li, owner, comm)


def deim(U, ids, comm=None, n_components=1):
    """DEIM points (Chaturantabut & Sorensen) of a row-distributed basis. Collective."""
    comm = comm or MPI.COMM_WORLD
    U, ids, row_ids = _check(U, ids, n_components, comm)
    V, _ = euclidean_orthonormal(U, comm)
    k = V.shape[1]
    chosen = np.zeros(V.shape[0], bool)
    rows, owners = [], []
    VP = np.zeros((0, k))
    for l in range(k):
        if l == 0:
            r = V[:, 0]
        else:
            c = np.linalg.solve(VP[:, :l], VP[:, l])
            r = V[:, l] - V[:, :l] @ c
        gid, owner, gmax = _pick(np.abs(r), row_ids, comm, chosen)
        if gid < 0:
            break
        v = _take_row(V, gid, owner, row_ids, chosen, comm)
        VP = np.concatenate([VP, v[None]], axis=0)
        rows.append(gid)
        owners.append(owner)
    return _finish(rows, owners, n_components, "deim")


class GappyFit:
    """The Gappy-POD least-squares fit at the points: small, replicated, no communication.

    Needs only the restricted modes, so the online stage never loads the ``O(N)`` basis unless it
    reconstructs the field on the mesh (that is :class:`GappyPOD`).

    Parameters
    ----------
    restricted : (n_points · nc, k) the modes at the points, point-major (row ``i · nc + c`` = component
        ``c`` at point ``point_ids[i]``) in the order of the *sorted* ``point_ids``
    point_ids : (n_points,) natural ids of the points, increasing and unique
    n_components : nc
    lebesgue : optional ``‖(V_P)⁺‖₂`` (needs the full basis: computed by :class:`GappyPOD` and passed in;
        ``None`` when unknown)

    Attributes
    ----------
    point_ids, nc, k, restricted, sigma_max, sigma_min (extreme singular values of ``U_P``), rank
    (numerical rank of ``U_P``), condition (``σ_max / σ_min``, inf when rank-deficient), lebesgue.
    """

    def __init__(self, restricted, point_ids, n_components=1, lebesgue=None):
        self.nc = int(n_components)
        self.point_ids = np.asarray(point_ids, dtype=np.int64).reshape(-1)
        if self.point_ids.size and np.any(np.diff(self.point_ids) <= 0):
            raise InputError("Gappy fit: point ids must be increasing and unique")
        R = np.asarray(restricted, dtype=np.float64)
        if R.ndim != 2 or R.shape[0] != self.point_ids.size * self.nc:
            raise InputError(f"Gappy fit: restricted modes of shape {R.shape}, expected "
                             f"({self.point_ids.size} points × {self.nc} components, k)")
        self.restricted = R
        k = self.k = R.shape[1]
        s = np.linalg.svd(R, compute_uv=False) if R.size else np.zeros(0)
        self.sigma_max = float(s[0]) if s.size else 0.0
        self.sigma_min = float(s[k - 1]) if s.size >= k and s.size else 0.0
        self.rank = int(np.count_nonzero(s > max(R.shape) * np.finfo(float).eps * self.sigma_max)) \
            if s.size else 0
        self.condition = self.sigma_max / self.sigma_min if self.sigma_min > 0 else np.inf
        self.lebesgue = None if lebesgue is None else float(lebesgue)
        self._Q, self._R = np.linalg.qr(R) if self.rank == k and k else (None, None)

    @property
    def n_points(self):
        return int(self.point_ids.size)

    def coefficients(self, values):
        """Least-squares modal coefficients ``(k,)`` or ``(k, c)`` from point values ``(n_points · nc,)`` or
        ``(n_points · nc, c)`` (point-major, in the order of ``point_ids``).

        ``c = R⁻¹ Qᵀ y`` with ``U_P = Q R`` when ``U_P`` has full column rank, the minimum-norm solution
        otherwise.
        """
        y = np.asarray(values, dtype=np.float64)
        vec = y.ndim == 1
        y2 = y.reshape(self.restricted.shape[0], -1)
        if self._Q is not None:
            from scipy.linalg import solve_triangular
            c = solve_triangular(self._R, self._Q.T @ y2)
        else:
            c = np.linalg.lstsq(self.restricted, y2, rcond=None)[0]
        return c[:, 0] if vec else c

    def fit_rows(self, rows, row_order=None, norms=False):
        """Coefficients ``(c, k)`` and residual norms ``‖y − U_P c‖`` ``(c,)`` of ``c`` value vectors given as
        the rows of ``rows`` ``(c, n_points · nc)`` (as :meth:`coefficients`; no transposed copy), and with
        ``norms`` their norms ``‖y‖`` ``(c,)`` too.
        ``row_order``: the values come in this order of the fit's rows (a permutation of
        ``range(n_points · nc)``; kept with its reordered factor for the next calls).

        With ``U_P = Q R`` and ``z = Qᵀy``: coefficients ``R⁻¹ z``, residual ``‖y‖² − ‖z‖²`` (one product
        instead of two), except where that difference loses more than half the digits (relative residual
        below 1e-4), where ``‖y − Q z‖`` is computed."""
        Y = np.asarray(rows, dtype=np.float64).reshape(-1, self.restricted.shape[0])
        if row_order is not None:
            key = np.asarray(row_order, dtype=np.int64).tobytes()
            cached = getattr(self, "_ordered", None)
            if cached is None or cached[0] != key:
                order = np.asarray(row_order, dtype=np.int64)
                cached = self._ordered = (key, order, None if self._Q is None else
                                          np.ascontiguousarray(self._Q[order]))
            order, Q = cached[1], cached[2]
        else:
            order, Q = None, self._Q
        if Q is None:
            inv = np.empty_like(order) if order is not None else None
            if order is not None:
                inv[order] = np.arange(order.size)
                Y = Y[:, inv]
            c = self.coefficients(Y.T).T
            r = np.linalg.norm(Y - c @ self.restricted.T, axis=1)
            return (c, r, np.linalg.norm(Y, axis=1)) if norms else (c, r)
        from scipy.linalg import solve_triangular
        Z = Y @ Q
        yy = np.einsum("ij,ij->i", Y, Y)
        r2 = yy - np.einsum("ij,ij->i", Z, Z)
        small = r2 < 1e-8 * yy
        r = np.sqrt(np.maximum(r2, 0.0))
        if small.any():
            r[small] = np.linalg.norm(Y[small] - Z[small] @ Q.T, axis=1)
        c = solve_triangular(self._R, Z.T).T
        return (c, r, np.sqrt(yy)) if norms else (c, r)

    def residual(self, values):
        """Normalized fit residual ``‖y − U_P c‖ / ‖y‖`` per column (0 for zero columns): the error
        indicator of Casenave & Akkari (2019) for ``p``."""
        y = np.asarray(values, dtype=np.float64).reshape(self.restricted.shape[0], -1)
        c = self.coefficients(y)
        r = np.linalg.norm(y - self.restricted @ c, axis=0)
        ny = np.linalg.norm(y, axis=0)
        return np.divide(r, ny, out=np.zeros_like(r), where=ny > 0)

    def to_archive(self, archive, path):
        """Write the fit to the group ``path`` of a writable :class:`~dromo.io.archive.Archive`. Collective.

        ``path/restricted`` (n_points · nc, k), ``path/point_ids`` (n_points,); attrs ``n_components``,
        ``n_modes``, ``condition``, ``lebesgue`` (NaN when unknown).
        """
        archive.write_array(f"{path}/restricted", self.restricted)
        archive.write_array(f"{path}/point_ids", self.point_ids)
        archive.set_attrs(path, {"kind": "gappy-fit", "n_components": self.nc, "n_modes": self.k,
                                 "condition": float(self.condition),
                                 "lebesgue": np.nan if self.lebesgue is None else self.lebesgue})

    @classmethod
    def from_archive(cls, archive, path):
        """The fit written by :meth:`to_archive` (replicated; any rank count). Collective."""
        attrs = archive.get_attrs(path)
        leb = attrs.get("lebesgue", np.nan)
        return cls(archive.read_array(f"{path}/restricted"), archive.read_array(f"{path}/point_ids"),
                   int(attrs["n_components"]), lebesgue=None if np.isnan(leb) else leb)


class GappyPOD:
    """Gappy-POD reconstruction of a field from its values at given points. Construction is collective.

    The distributed side: the local rows of the modes (for :meth:`reconstruct` and the Lebesgue
    constant) and the gathering of point values; the fit itself is the replicated :attr:`fit`
    (:class:`GappyFit`), which is all an online stage needs to compute coefficients and residuals.

    Parameters
    ----------
    modes : (n_items_local · nc, k) local rows of the basis (any scaling; e.g. weighted POD modes)
    ids : (n_items_local,) natural ids of the local items
    point_ids : natural ids of the points where the field is known (e.g. the reduced points:
        ECM ∪ QDEIM); all their ``nc`` components are used
    comm, n_components
    fit : optional :class:`GappyFit` of these modes already computed (e.g.
        :meth:`GappyFit.from_archive`): then ``point_ids`` may be ``None`` (the fit's are used) and
        nothing is recomputed

    Attributes
    ----------
    fit (:class:`GappyFit`), modes, ids, point_ids (sorted), point_ranks, and, from the fit, restricted
    (``U_P``, replicated ``(n_points · nc, k)``), condition, lebesgue, sigma_min, sigma_max, rank (numerical
    rank of ``U_P``), nc, k.
    """

    def __init__(self, modes, ids, point_ids, comm=None, n_components=1, fit=None):
        comm = comm or MPI.COMM_WORLD
        self.comm = comm
        nc = int(n_components)
        U, ids, _ = _check(modes, ids, nc, comm)
        self.modes = U
        self.ids = ids
        k = U.shape[1]
        if fit is not None:
            # the fit is known (e.g. read from an archive): only the owners of the points are looked up
            if fit.nc != nc or fit.k != k:
                raise InputError(f"Gappy-POD: fit of {fit.k} modes × {fit.nc} components for a basis of {k} "
                                 f"modes × {nc} components")
            _, self.point_ranks = fetch_rows(np.zeros((ids.size, 0)), ids, fit.point_ids, comm)
            self.fit = fit
            return
        point_ids = np.unique(np.asarray(point_ids, dtype=np.int64))
        up, self.point_ranks = fetch_rows(U.reshape(ids.size, nc * k), ids, point_ids, comm)
        restricted = up.reshape(-1, k)                          # (n_points · nc, k)
        _V, T = euclidean_orthonormal(U, comm, want_v=False)
        lebesgue = np.inf
        if T.shape[1] == k and restricted.size:
            sv = np.linalg.svd(restricted @ T, compute_uv=False)
            lebesgue = float(1.0 / sv[-1]) if sv.size >= k and sv[-1] > 0 else np.inf
        self.fit = GappyFit(restricted, point_ids, nc, lebesgue=lebesgue)
        if self.rank < k:
            _log.warning("Gappy-POD: the %d modes are not determined by the values at the %d points "
                         "(rank %d); minimum-norm coefficients are used", k, point_ids.size, self.rank)
        _log.debug("Gappy-POD: %d modes, %d points, cond %.3g, Lebesgue %.3g", k, point_ids.size,
                   self.condition, self.lebesgue)

    def __getattr__(self, name):
        # the fit's attributes (point_ids, nc, k, restricted, condition, lebesgue, sigma_min, sigma_max, rank)
        if name in _FIT_ATTRS and "fit" in self.__dict__:
            return getattr(self.__dict__["fit"], name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    @property
    def n_points(self):
        return self.fit.n_points

    def values_at_points(self, field_local):
        """Replicated values ``(n_points · nc, ...)`` of a local field ``(n_items_local · nc, ...)`` or
        ``(n_items_local, nc, ...)``. Collective."""
        f = np.asarray(field_local, dtype=np.float64)
        trailing = f.shape[2:] if (f.ndim >= 2 and f.shape[0] == self.ids.size and self.nc > 1 and
                                   f.shape[1] == self.nc) else f.shape[1:]
        f = f.reshape(self.ids.size, -1)
        vals, _ = fetch_rows(f, self.ids, self.point_ids, self.comm)
        return vals.reshape((self.point_ids.size * self.nc,) + tuple(trailing))

    def coefficients(self, values):
        """See :meth:`GappyFit.coefficients` (local, replicated data)."""
        return self.fit.coefficients(values)

    def residual(self, values):
        """See :meth:`GappyFit.residual` (local, replicated data)."""
        return self.fit.residual(values)

    def reconstruct(self, coeffs):
        """Local rows ``U c`` of the reconstructed field (no communication)."""
        return self.modes @ np.asarray(coeffs, dtype=np.float64)

    def fit_reconstruct(self, values):
        """``reconstruct(coefficients(values))``."""
        return self.reconstruct(self.coefficients(values))


_FIT_ATTRS = frozenset({"point_ids", "nc", "k", "restricted", "condition", "lebesgue", "sigma_min",
                        "sigma_max", "rank"})
