"""Distributed POD: method of snapshots, accurate TSQR path, inner products, out-of-core, bad input.

Collective tests (``mpi`` mark) run at 1, 2 and 3 ranks and compare with the serial answer computed in
the test on every rank (``numpy.linalg.svd`` / ``pod`` on ``COMM_SELF`` of the same global matrix).
"""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import DromoError, InputError
from dromo.reduction import ArraySource, IncrementalPOD, PODBasis, pod, tsqr_svd

COMM = MPI.COMM_WORLD


# ------------------------------------------------------------------------------------------------ data
def uneven_split(N, comm=COMM):
    """Uneven contiguous row split: rank r gets a share proportional to r + 1."""
    p = comm.size
    w = np.arange(1, p + 1, dtype=float)
    cuts = np.concatenate([[0], np.round(np.cumsum(w) / w.sum() * N).astype(int)])
    cuts[-1] = N
    return int(cuts[comm.rank]), int(cuts[comm.rank + 1])


def synthetic(N, m, sigma, seed=0):
    """Global ``U = Q diag(σ) Vᵀ`` built identically on every rank (Q: N×r, V: m×r orthonormal)."""
    rng = np.random.default_rng(seed)
    r = len(sigma)
    Q, _ = np.linalg.qr(rng.standard_normal((N, r)))
    V, _ = np.linalg.qr(rng.standard_normal((m, r)))
    return (Q * np.asarray(sigma)) @ V.T, Q, V


def local_rows(G, comm=COMM):
    a, b = uneven_split(G.shape[0], comm)
    return np.ascontiguousarray(G[a:b]), (a, b)


def sin_max_angle(A_local, B_local, comm=COMM, gram=None):
    """sin of the largest principal angle between span(A) and span(B) (both orthonormal). Collective."""
    C = comm.allreduce(A_local.T @ B_local if gram is None else gram(A_local, B_local))
    R = B_local - A_local @ C
    G = comm.allreduce(R.T @ R)
    return float(np.sqrt(max(np.linalg.eigvalsh(G).max(), 0.0)))


class StreamSource:
    """A test SnapshotSource streaming column blocks of a local array (counts reads and widths)."""

    def __init__(self, local, comm=COMM, name="U"):
        self.array, self.comm, self.name = local, comm, name
        self.n_local, self.n_snapshots = local.shape
        self.max_width = 0
        self.reads = 0

    def read(self, start, stop):
        self.reads += 1
        self.max_width = max(self.max_width, stop - start)
        return self.array[:, start:stop].copy()

    def label(self, j):
        return f"field {self.name}, time {0.05 * j:.2f}, params (E={200 + j})"


# --------------------------------------------------------------------------------------------- tests
@pytest.mark.mpi
@pytest.mark.parametrize("method", ["snapshots", "svd"])
def test_known_singular_values_and_modes(method):
    N, m = 157, 18
    sigma = np.logspace(0, -4, m)
    G, Q, _ = synthetic(N, m, sigma, seed=1)
    U, (a, b) = local_rows(G)
    basis = pod(U, method=method)
    # reference: numpy SVD of the same global matrix (every rank, small)
    Ur, sr, _ = np.linalg.svd(G, full_matrices=False)
    np.testing.assert_allclose(basis.singular_values[:m], sr, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(basis.singular_values, sigma, rtol=1e-8)
    assert basis.n_kept == m
    k = 10   # well-resolved modes: compare directly (up to sign) and as a subspace
    signs = np.sign(np.sum(basis.modes[:, :k] * Ur[a:b, :k], axis=0))
    signs = np.sign(COMM.allreduce(signs * 1.0))
    np.testing.assert_allclose(basis.modes[:, :k] * signs, Ur[a:b, :k], atol=1e-9)
    assert sin_max_angle(Q[a:b, :k], basis.modes[:, :k]) < 1e-10
    # orthonormal modes, projection/reconstruction reproduce the data (all modes kept)
    I = COMM.allreduce(basis.modes.T @ basis.modes)
    np.testing.assert_allclose(I[:k, :k], np.eye(k), atol=1e-12)
    err = basis.projection_error(U)
    assert err.shape == (m,) and err.max() < 1e-8
    c = basis.project(U)
    assert c.shape == (basis.n_kept, m)
    np.testing.assert_allclose(basis.reconstruct(c), U, atol=1e-9)


@pytest.mark.mpi
def test_accurate_path_recovers_tiny_singular_values():
    N, m = 200, 16
    sigma = np.logspace(0, -14, m)
    G, _, _ = synthetic(N, m, sigma, seed=2)
    U, _ = local_rows(G)
    snap = pod(U, method="snapshots")
    acc = pod(U, method="svd")
    s_snap, s_acc = snap.singular_values, acc.singular_values
    big = sigma > 1e-7
    # both paths agree above 1e-7 σ₁ (the snapshot error grows like eps σ₁² / σ: 1e-8 relative at
    # 1e-4 σ₁, about 1e-3 relative near 1e-7 σ₁)
    np.testing.assert_allclose(s_snap[big], s_acc[big], rtol=1e-2)
    np.testing.assert_allclose(s_snap[sigma > 1e-4], s_acc[sigma > 1e-4], rtol=1e-8)
    np.testing.assert_allclose(s_acc[big], sigma[big], rtol=1e-9)
    # only the accurate path recovers σ down to 1e-14 σ₁: absolute error ~ eps σ₁
    assert np.all(np.abs(s_acc - sigma) <= 2e-16 * 50 * sigma[0] + 1e-6 * sigma)
    assert np.all(np.abs(s_acc - sigma) / sigma < 0.2)
    small = sigma < 1e-9
    rel_snap = np.abs(s_snap[small] - sigma[small]) / sigma[small]
    assert rel_snap.min() > 0.5          # round-off (or dropped as zero) for the method of snapshots
    assert snap.n_kept < m and acc.n_kept == m


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["snapshots", "svd"])
def test_same_result_any_rank_count(method):
    """Distributed result equals the serial one (COMM_SELF on the global matrix) to round-off."""
    N, m = 143, 24
    sigma = np.concatenate([np.logspace(0, -2, 12), np.logspace(-6, -9, 12)])
    G, _, _ = synthetic(N, m, sigma, seed=3)
    U, (a, b) = local_rows(G)
    dist = pod(U, tol=1e-5, method=method)
    ser = pod(G, comm=MPI.COMM_SELF, tol=1e-5, method=method)
    assert dist.n_kept == ser.n_kept == 12
    s1 = ser.singular_values[0]
    np.testing.assert_allclose(dist.singular_values[:12], ser.singular_values[:12], rtol=1e-12)
    # all computed values: the accurate path to ~eps σ₁; the method of snapshots only above its
    # round-off level (its values near 1e-7 σ₁ and below are noise that depends on summation order)
    resolved = ser.singular_values > (1e-4 if method == "snapshots" else 0.0) * s1
    diff = np.abs(dist.singular_values - ser.singular_values)[resolved]
    assert np.all(diff <= 1e-12 * s1)
    # modes up to round-off (signs are fixed by the replicated right vectors), subspace angle
    np.testing.assert_allclose(dist.modes, ser.modes[a:b], atol=1e-10)
    assert sin_max_angle(ser.modes[a:b], dist.modes) <= 1e-10
    assert dist.energy == pytest.approx(ser.energy, rel=1e-13)


@pytest.mark.mpi
def test_truncation_tolerance_and_max_modes():
    N, m = 120, 20
    sigma = np.logspace(0, -6, m)
    G, _, _ = synthetic(N, m, sigma, seed=4)
    U, _ = local_rows(G)
    for tol in (1e-1, 1e-3, 1e-5):
        b = pod(U, tol=tol)
        e = sigma ** 2
        tail = np.array([e[k:].sum() for k in range(m + 1)])
        k_ref = int(np.flatnonzero(tail <= tol ** 2 * e.sum())[0])
        assert b.n_kept == k_ref and b.modes.shape[1] == k_ref
        assert 1 - b.energy <= tol ** 2 * (1 + 1e-8)
        err = b.projection_error(U, relative=False)          # aggregate relative error ≤ tol
        assert np.sqrt(np.sum(err ** 2)) <= tol * np.sqrt(np.sum(sigma ** 2)) * (1 + 1e-6)
    assert pod(U, tol=1e-5, max_modes=3).n_kept == 3
    assert pod(U, max_modes=5, method="svd").n_kept == 5


@pytest.mark.mpi
def test_rank_deficient_round_off_eigenvalues_dropped():
    N, m = 90, 15
    G, _, _ = synthetic(N, 6, np.logspace(0, -2, 6), seed=5)   # N × 6 of rank 6
    G = np.hstack([G, G @ np.random.default_rng(5).standard_normal((6, m - 6))])   # rank 6, m columns
    U, _ = local_rows(G)
    b = pod(U, method="snapshots")
    assert b.n_kept == 6
    assert np.all(b.singular_values[6:] == 0.0)
    I = COMM.allreduce(b.modes.T @ b.modes)
    np.testing.assert_allclose(I, np.eye(6), atol=1e-10)


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["snapshots", "svd"])
def test_diagonal_weights(method):
    N, m = 131, 12
    G, _, _ = synthetic(N, m, np.logspace(0, -3, m), seed=6)
    w_glob = np.random.default_rng(7).uniform(0.5, 2.0, N)
    U, (a, b) = local_rows(G)
    w = w_glob[a:b]
    basis = pod(U, inner=w, method=method, inner_name="quadrature")
    assert basis.inner == "quadrature"
    I = COMM.allreduce(basis.modes.T @ (w[:, None] * basis.modes))
    np.testing.assert_allclose(I, np.eye(basis.n_kept), atol=1e-10)
    # reference: SVD of diag(√w) G
    sw = np.sqrt(w_glob)[:, None]
    Ur, sr, _ = np.linalg.svd(sw * G, full_matrices=False)
    np.testing.assert_allclose(basis.singular_values, sr, rtol=1e-9)
    assert sin_max_angle(Ur[a:b] / sw[a:b], basis.modes,
                         gram=lambda x, y: x.T @ (w[:, None] * y)) < 1e-9


def _spd_tridiag(N, a, b, comm=COMM, diag=4.0, off=-1.0):
    from petsc4py import PETSc
    A = PETSc.Mat().createAIJ(((b - a, N), (b - a, N)), nnz=3, comm=comm)
    rng = np.random.default_rng(8)
    d = diag + rng.uniform(0.0, 1.0, N)          # same global values on every rank
    for i in range(a, b):
        A.setValue(i, i, d[i])
        if i > 0:
            A.setValue(i, i - 1, off)
        if i < N - 1:
            A.setValue(i, i + 1, off)
    A.assemble()
    dense = np.diag(d) + off * (np.eye(N, k=1) + np.eye(N, k=-1))
    return A, dense


@pytest.mark.mpi
def test_petsc_matrix_inner_product():
    N, m = 97, 10
    G, _, _ = synthetic(N, m, np.logspace(0, -3, m), seed=9)
    U, (a, b) = local_rows(G)
    M, Md = _spd_tridiag(N, a, b)
    basis = pod(U, inner=M, inner_name="energy")
    assert basis.inner == "energy"
    MPsi = basis.inner_product.apply(basis.modes)
    np.testing.assert_allclose(MPsi, (Md @ np.vstack(COMM.allgather(basis.modes)))[a:b], atol=1e-12)
    I = COMM.allreduce(basis.modes.T @ MPsi)
    np.testing.assert_allclose(I, np.eye(basis.n_kept), atol=1e-10)
    # reference: eigen-decomposition of GᵀMG
    lam = np.linalg.eigvalsh(G.T @ Md @ G)[::-1]
    np.testing.assert_allclose(basis.singular_values, np.sqrt(lam), rtol=1e-8)
    assert basis.projection_error(U).max() < 1e-7
    with pytest.raises(InputError, match="TSQR"):
        pod(U, inner=M, method="svd")
    M.destroy()


@pytest.mark.mpi
@pytest.mark.parametrize("inner", ["euclid", "weights", "mat"])
def test_out_of_core_equals_in_memory(inner):
    N, m = 110, 23
    G, _, _ = synthetic(N, m, np.logspace(0, -3, m), seed=10)
    U, (a, b) = local_rows(G)
    M = None
    spec = None
    if inner == "weights":
        spec = np.random.default_rng(11).uniform(0.5, 2.0, N)[a:b]
    elif inner == "mat":
        M, _ = _spd_tridiag(N, a, b)
        spec = M
    ref = pod(U, tol=1e-2, inner=spec)
    n_max = COMM.allreduce(U.shape[0], op=MPI.MAX)
    budget = 8 * n_max * 4 * 3 + 8 * n_max * ref.n_kept    # a few columns per block
    src = StreamSource(U)
    ooc = pod(src, tol=1e-2, inner=spec, memory_budget=budget)
    assert src.max_width < m and src.reads > 2               # really streamed in blocks
    assert ooc.n_kept == ref.n_kept
    s1 = ref.singular_values[0]
    np.testing.assert_allclose(ooc.singular_values, ref.singular_values, rtol=1e-11, atol=1e-12 * s1)
    np.testing.assert_allclose(ooc.modes, ref.modes, atol=1e-9)
    # too small a budget: clear error on every rank
    with pytest.raises(InputError, match="budget"):
        pod(StreamSource(U), tol=1e-2, inner=spec, memory_budget=8)
    if M is not None:
        M.destroy()


@pytest.mark.mpi
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("streamed", [False, True])
def test_nonfinite_snapshot_named_on_every_rank(bad, streamed):
    N, m = 60, 8
    G, _, _ = synthetic(N, m, np.ones(m), seed=12)
    G[N - 1, 5] = bad                                  # only on the last rank's rows
    U, _ = local_rows(G)
    src = StreamSource(U) if streamed else ArraySource(U, labels=[f"field U, time {j}" for j in range(m)])
    with pytest.raises(InputError) as ei:
        pod(src, memory_budget=8 * 60 * 6 if streamed else None)
    msg = str(ei.value)
    assert "snapshot 5" in msg
    assert ("field U, time 0.25, params (E=205)" in msg) if streamed else ("field U, time 5" in msg)


@pytest.mark.mpi
def test_bad_input_raises_everywhere():
    N, m = 50, 6
    G, _, _ = synthetic(N, m, np.ones(m), seed=13)
    U, (a, b) = local_rows(G)
    with pytest.raises(InputError, match="empty"):
        pod(np.zeros((b - a, 0)))
    for tol in (0.0, 1.0, -0.5, 2.0, np.nan):
        with pytest.raises(InputError, match=r"\(0, 1\)"):
            pod(U, tol=tol)
    # wrong-size Mat: a matrix with another row split (rank 0 gets one row more when P > 1) or size
    from petsc4py import PETSc
    n = b - a
    if COMM.size > 1:
        n = n + (1 if COMM.rank == 0 else -1 if COMM.rank == COMM.size - 1 else 0)
    else:
        n = n + 1
    M = PETSc.Mat().createAIJ(((n, PETSc.DECIDE), (n, PETSc.DECIDE)), nnz=1, comm=COMM)
    M.setUp()
    M.assemble()
    with pytest.raises(InputError, match="inner-product matrix of the wrong size"):
        pod(U, inner=M)
    M.destroy()
    with pytest.raises(InputError, match="weights of the wrong size"):
        pod(U, inner=np.ones(b - a + (1 if COMM.rank == 0 else 0)))
    with pytest.raises(InputError, match="all snapshots are zero"):
        pod(np.zeros_like(U))
    with pytest.raises(InputError, match="method"):
        pod(U, method="qr")
    # different snapshot counts on different ranks
    if COMM.size > 1:
        with pytest.raises(InputError, match="same number of snapshots"):
            pod(U[:, : (m if COMM.rank else m - 1)])


@pytest.mark.mpi
def test_read_failure_on_one_rank_is_collective():
    N, m = 40, 5
    G, _, _ = synthetic(N, m, np.ones(m), seed=14)
    U, _ = local_rows(G)

    class Broken(StreamSource):
        def read(self, start, stop):
            if self.comm.rank == self.comm.size - 1:
                raise OSError("disk gone")
            return super().read(start, stop)

    with pytest.raises(DromoError, match="disk gone"):
        pod(Broken(U), memory_budget=8 * 40 * 4)


@pytest.mark.mpi
def test_empty_rank_rows():
    """A rank may hold no rows (e.g. more ranks than integration-point owners)."""
    N, m = 30, 7
    G, _, _ = synthetic(N, m, np.logspace(0, -3, m), seed=15)
    a, b = (0, N) if COMM.rank == 0 else (N, N)
    for method in ("snapshots", "svd"):
        basis = pod(np.ascontiguousarray(G[a:b]), method=method)
        np.testing.assert_allclose(basis.singular_values, np.logspace(0, -3, m), rtol=1e-9)
        assert basis.modes.shape == (b - a, m)


def test_tsqr_matches_numpy_serial():
    rng = np.random.default_rng(16)
    A = rng.standard_normal((3000, 40)) * np.logspace(0, -10, 40)
    s, Y = tsqr_svd(A, MPI.COMM_SELF)
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False), rtol=1e-9)
    np.testing.assert_allclose(Y.T @ Y, np.eye(40), atol=1e-12)


@pytest.mark.mpi
def test_serialization_roundtrip_and_incremental_from_dict():
    N, m = 80, 9
    G, _, _ = synthetic(N, m, np.logspace(0, -3, m), seed=17)
    U, _ = local_rows(G)
    b = pod(U, tol=1e-2)
    d = b.to_dict()
    assert set(d["arrays"]) == {"modes", "singular_values"}
    assert d["attrs"]["inner_product"] == "euclid" and d["attrs"]["method"] == "snapshots"
    b2 = PODBasis.from_dict(d, comm=COMM)
    assert b2.n_kept == b.n_kept and b2.tol == b.tol
    np.testing.assert_array_equal(b2.modes, b.modes)
    inc = IncrementalPOD(b2)
    assert inc.n_kept == b.n_kept


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["svd", "snapshots", "auto"])
def test_unmeasured_skips_only_the_diagnostic(method):
    """Inside ``unmeasured()`` the modes are the same, the orthonormality is not measured (NaN), except for the
    "auto" method of snapshots which decides on it; outside, it is measured again."""
    from dromo.reduction.pod import unmeasured
    G, _, _ = synthetic(80, 12, np.logspace(0, -3, 12), seed=6)
    U, _ = local_rows(G)
    ref = pod(U, tol=1e-3, method=method)
    with unmeasured():
        b = pod(U, tol=1e-3, method=method)
    assert np.array_equal(b.modes, ref.modes) and np.array_equal(b.singular_values, ref.singular_values)
    assert np.isfinite(ref.orthonormality)
    if method == "auto":                                   # tol 1e-3: snapshots, then the decision
        assert b.orthonormality == ref.orthonormality
    else:
        assert np.isnan(b.orthonormality)
    assert np.isfinite(pod(U, tol=1e-3, method=method).orthonormality)
