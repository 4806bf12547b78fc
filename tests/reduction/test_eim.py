"""DEIM / QDEIM point selection and Gappy-POD (dromo.reduction.eim) on reference-solver stresses and
cumulated plastic strain: rank-count independence, held-out reconstruction vs projection error."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.reduction import pod
from dromo.reduction.eim import GappyPOD, deim, qdeim

from .test_ecm_helpers import hf_snapshots, serial_copy


def _field(d, name):
    """Rows item × component of a field over all steps: (n_ip_local · nc, m), nc."""
    X = d[name]
    if X.ndim == 2:
        return X, 1
    return X.reshape(-1, X.shape[-1]), X.shape[1]


def _weighted_error(E, w_rows, comm):
    """Relative weighted L2 error per column (replicated)."""
    return np.sqrt(comm.allreduce(np.einsum("i,ij,ij->j", w_rows, E, E)))


def _gappy_case(d, name, comm, tol=1e-4):
    X, nc = _field(d, name)
    w = np.repeat(d["w"], nc)
    b = pod(X[:, d["train"]], comm=comm, tol=tol, inner=w, method="svd")
    sel = qdeim(b.modes, d["dm"].ip_natural, comm, nc)
    gp = GappyPOD(b.modes, d["dm"].ip_natural, sel.ids, comm, nc)
    Y = X[:, d["test"]]
    rec = gp.fit_reconstruct(gp.values_at_points(Y))
    proj = b.reconstruct(b.project(Y))
    norm = _weighted_error(Y, w, comm)
    return b, sel, gp, _weighted_error(Y - rec, w, comm) / norm, _weighted_error(Y - proj, w, comm) / norm, rec


@pytest.mark.mpi
@pytest.mark.parametrize("name", ["S", "p"])
def test_qdeim_and_deim_points_do_not_depend_on_the_rank_count(comm, name):
    d = hf_snapshots(comm)
    s = serial_copy(d)
    X, nc = _field(d, name)
    Xs, _ = _field(s, name)
    b = pod(X[:, d["train"]], comm=comm, tol=1e-4, inner=np.repeat(d["w"], nc), method="svd")
    bs = pod(Xs[:, s["train"]], comm=MPI.COMM_SELF, tol=1e-4, inner=np.repeat(s["w"], nc), method="svd")
    assert b.n_kept == bs.n_kept
    for f in (qdeim, deim):
        a = f(b.modes, d["dm"].ip_natural, comm, nc)
        r = f(bs.modes, s["dm"].ip_natural, MPI.COMM_SELF, nc)
        assert a.rows.size == b.n_kept and np.unique(a.rows).size == a.rows.size
        assert np.array_equal(a.rows, r.rows) and np.array_equal(a.ids, r.ids)
        assert np.array_equal(a.ids, np.unique(a.rows // nc))
        cell, _ = d["dm"].cell_of_ip(a.ids)
        assert np.array_equal(a.ranks, d["dm"].cell_ranks(cell))


@pytest.mark.mpi
@pytest.mark.parametrize("name", ["S", "p"])
def test_gappy_pod_held_out_error_close_to_projection_error(comm, name):
    d = hf_snapshots(comm)
    b, sel, gp, e_rec, e_proj, rec = _gappy_case(d, name, comm)
    assert 1.0 <= gp.lebesgue < 50 and np.isfinite(gp.condition) and gp.rank == b.n_kept
    assert np.all(e_rec >= e_proj * (1 - 1e-9))
    assert np.all(e_rec <= 5.0 * e_proj + 1e-12), (e_rec, e_proj)
    # fit residual at the points (error indicator): zero for training snapshots in the span
    X, nc = _field(d, name)
    tr = gp.values_at_points(b.reconstruct(b.project(X[:, d["train"]])))
    assert np.all(gp.residual(tr) < 1e-8)
    # identical to a one-process run on the same data
    s = serial_copy(d)
    bs, sels, gps, es, ps, recs = _gappy_case(s, name, MPI.COMM_SELF)
    assert np.array_equal(sels.ids, sel.ids)
    assert np.allclose(e_rec, es, rtol=1e-6) and gps.lebesgue == pytest.approx(gp.lebesgue, rel=1e-8)
    red = d["dm"].redistributor("ip")
    nat = np.concatenate(comm.allgather(red.owned_to_natural(rec.reshape(d["dm"].n_ip_local, -1))))
    assert np.allclose(nat, recs.reshape(nat.shape), rtol=1e-7, atol=1e-9 * np.abs(recs).max())


def test_gappy_pod_on_more_points_and_rank_deficient_cases():
    rng = np.random.default_rng(0)
    n, k = 200, 5
    U, _ = np.linalg.qr(rng.standard_normal((n, k)))
    ids = np.arange(n)
    sel = qdeim(U, ids, MPI.COMM_SELF)
    gp = GappyPOD(U, ids, sel.ids, MPI.COMM_SELF)
    more = GappyPOD(U, ids, np.r_[sel.ids, np.arange(0, n, 10)], MPI.COMM_SELF)
    assert more.lebesgue <= gp.lebesgue + 1e-12          # adding points never hurts
    c = rng.standard_normal(k)
    assert np.allclose(more.fit_reconstruct(more.values_at_points(U @ c)), U @ c)
    # ill-conditioned but exact data: the QR fit keeps the accuracy
    Uc = U * np.array([1, 1e-3, 1e-6, 1e-9, 1e-12])
    g2 = GappyPOD(Uc, ids, sel.ids, MPI.COMM_SELF)
    assert g2.condition > 1e11
    assert np.allclose(g2.coefficients(g2.values_at_points(Uc @ c)), c, rtol=1e-3)
    # too few points: rank-deficient fit, minimum-norm coefficients, reported rank
    g3 = GappyPOD(U, ids, sel.ids[:2], MPI.COMM_SELF)
    assert g3.rank == 2 and not np.isfinite(g3.lebesgue)
    with pytest.raises(InputError, match="unknown point ids"):
        GappyPOD(U, ids, [n + 1], MPI.COMM_SELF)
    with pytest.raises(InputError, match="expected"):
        qdeim(U[:-1], ids, MPI.COMM_SELF)


@pytest.mark.mpi
def test_gappy_fit_is_the_replicated_part_and_round_trips_through_the_archive(comm, shared_tmp):
    from dromo.io.archive import Archive
    from dromo.reduction.eim import GappyFit
    rng = np.random.default_rng(3)
    n, nc, k = 60, 2, 4
    Ug, _ = np.linalg.qr(rng.standard_normal((n * nc, k)))
    lo, hi = (n * comm.rank) // comm.size, (n * (comm.rank + 1)) // comm.size
    ids = np.arange(lo, hi)
    gp = GappyPOD(Ug[lo * nc:hi * nc], ids, [50, 3, 17, 31, 8], comm, nc)
    fit = gp.fit
    assert np.array_equal(fit.point_ids, [3, 8, 17, 31, 50]) and fit.nc == nc and fit.k == k
    rows = (fit.point_ids[:, None] * nc + np.arange(nc)).reshape(-1)
    assert np.array_equal(fit.restricted, Ug[rows])
    # the fit alone, from the restricted modes, gives the same coefficients and residuals
    alone = GappyFit(Ug[rows], fit.point_ids, nc)
    y = rng.standard_normal((rows.size, 3))
    assert np.array_equal(alone.coefficients(y), gp.coefficients(y))
    assert np.array_equal(alone.residual(y), gp.residual(y))
    assert alone.lebesgue is None and alone.condition == gp.condition and alone.rank == k
    # values as rows (the batched online's layout): the same coefficients and residual norms, full rank or not
    y[:, 2] = Ug[rows] @ rng.standard_normal(k) + 1e-7 * y[:, 2]       # nearly in the span: the explicit residual
    for f in (alone, GappyFit(Ug[rows][:, :1] @ np.ones((1, 2)), fit.point_ids, nc)):
        c, r = f.fit_rows(y.T)
        assert np.allclose(c, f.coefficients(y).T, rtol=1e-12, atol=1e-13)
        assert np.allclose(r, f.residual(y) * np.linalg.norm(y, axis=0), rtol=1e-10)
        # values in another order of the rows (the batched online's [quadrature points, dual points])
        order = rng.permutation(rows.size)
        for _ in range(2):                                             # the reordered factor is kept
            co, ro = f.fit_rows(y.T[:, order], row_order=order)
            assert np.allclose(co, c, rtol=1e-12, atol=1e-13) and np.allclose(ro, r, rtol=1e-10)
    path = shared_tmp / "fit.h5"
    with Archive.create(path, comm) as ar:
        fit.to_archive(ar, "rom/dual/S")
    for c in (comm, MPI.COMM_SELF):                # readable at any rank count
        with Archive.open(path, c) as ar:
            back = GappyFit.from_archive(ar, "rom/dual/S")
        assert np.array_equal(back.restricted, fit.restricted) and np.array_equal(back.point_ids, fit.point_ids)
        assert back.lebesgue == fit.lebesgue and back.condition == fit.condition and back.nc == nc
        assert np.array_equal(back.coefficients(y), gp.coefficients(y))
    with pytest.raises(InputError, match="increasing"):
        GappyFit(Ug[rows], fit.point_ids[::-1], nc)


@pytest.mark.mpi
def test_gappy_pod_rebuilt_from_a_stored_fit(comm):
    rng = np.random.default_rng(4)
    n, nc, k = 40, 3, 3
    Ug = rng.standard_normal((n * nc, k))
    lo, hi = (n * comm.rank) // comm.size, (n * (comm.rank + 1)) // comm.size
    ids = np.arange(lo, hi)
    gp = GappyPOD(Ug[lo * nc:hi * nc], ids, [1, 9, 22, 39], comm, nc)
    again = GappyPOD(Ug[lo * nc:hi * nc], ids, None, comm, nc, fit=gp.fit)
    assert again.fit is gp.fit and np.array_equal(again.point_ranks, gp.point_ranks)
    y = gp.values_at_points(Ug[lo * nc:hi * nc] @ np.ones(k))
    assert np.array_equal(again.fit_reconstruct(y), gp.fit_reconstruct(y))
    with pytest.raises(InputError, match="fit of 3 modes"):
        GappyPOD(Ug[lo * nc:hi * nc, :2], ids, None, comm, nc, fit=gp.fit)


def test_qdeim_rows_are_the_pivots_of_the_column_pivoted_qr():
    """QDEIM is the column-pivoted QR of ``Vᵀ`` (V the Euclidean-orthonormalized basis): its rows are LAPACK's
    pivots (random basis: no ties); ``euclidean_orthonormal(want_v=False)`` gives the same ``T``."""
    from scipy.linalg import qr
    from dromo.reduction.eim import euclidean_orthonormal
    rng = np.random.default_rng(3)
    n, k = 300, 7
    U = rng.standard_normal((n, k)) * np.linspace(1.0, 5.0, k)
    V, T = euclidean_orthonormal(U, MPI.COMM_SELF)
    _V0, T0 = euclidean_orthonormal(U, MPI.COMM_SELF, want_v=False)
    assert _V0 is None and np.array_equal(T, T0)
    assert np.allclose(V.T @ V, np.eye(k), atol=1e-12)
    _q, _r, piv = qr(V.T, pivoting=True, mode="economic")
    sel = qdeim(U, np.arange(n), MPI.COMM_SELF)
    assert np.array_equal(sel.rows, piv[:k])
    assert np.array_equal(sel.ids, np.sort(piv[:k]))
