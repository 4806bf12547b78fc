"""Incremental POD (Brand 2002) against batch POD; rejection of snapshots in the span; decay plot."""
import os

import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.reduction import IncrementalPOD, pod, plot_singular_values

COMM = MPI.COMM_WORLD


def uneven_split(N, comm=COMM):
    p = comm.size
    w = np.arange(1, p + 1, dtype=float)
    cuts = np.concatenate([[0], np.round(np.cumsum(w) / w.sum() * N).astype(int)])
    cuts[-1] = N
    return int(cuts[comm.rank]), int(cuts[comm.rank + 1])


def data(N, m, sigma, seed):
    rng = np.random.default_rng(seed)
    r = len(sigma)
    Q, _ = np.linalg.qr(rng.standard_normal((N, r)))
    V, _ = np.linalg.qr(rng.standard_normal((m, r)))
    G = (Q * np.asarray(sigma)) @ V.T
    a, b = uneven_split(N)
    return G, np.ascontiguousarray(G[a:b]), (a, b)


def sin_max_angle(A, B, gram=lambda x, y: x.T @ y):
    C = COMM.allreduce(gram(A, B))
    R = B - A @ C
    G = COMM.allreduce(gram(R, R))
    return float(np.sqrt(max(np.linalg.eigvalsh(G).max(), 0.0)))


@pytest.mark.mpi
@pytest.mark.parametrize("step", [1, 3])
def test_incremental_equals_batch_exact_rank(step):
    """Rank-8 data, no truncation: incremental = batch to round-off."""
    N, m = 120, 20
    sigma = np.logspace(0, -3, 8)
    G, U, _ = data(N, m, sigma, seed=1)
    inc = IncrementalPOD(pod(U[:, :5]))
    assert inc.n_kept == 5
    added = 0
    for j in range(5, m, step):
        added += inc.add(U[:, j:j + step])
    batch = pod(U)
    assert inc.n_kept == batch.n_kept == 8 and added == 3
    np.testing.assert_allclose(inc.s, batch.singular_values[:8], rtol=1e-9)
    np.testing.assert_allclose(inc.s, sigma, rtol=1e-9)
    assert sin_max_angle(batch.modes, inc.modes) < 1e-8
    I = COMM.allreduce(inc.modes.T @ inc.modes)
    np.testing.assert_allclose(I, np.eye(8), atol=1e-12)
    assert inc.n_snapshots == m
    assert inc.n_rejected >= m - 8 - (0 if step == 1 else 2)   # columns in the span add nothing


@pytest.mark.mpi
def test_incremental_with_truncation_matches_batch_to_tolerance():
    N, m, tol = 150, 30, 1e-3
    sigma = np.logspace(0, -6, 30)
    G, U, _ = data(N, m, sigma, seed=2)
    inc = IncrementalPOD(pod(U[:, :10], tol=tol))
    for j in range(10, m, 2):
        inc.add(U[:, j:j + 2])
    batch = pod(U, tol=tol)
    b = inc.basis
    # every snapshot represented to the tolerance (aggregate energy), as the batch POD does
    e_inc = b.projection_error(U, relative=False)
    e_bat = batch.projection_error(U, relative=False)
    total = np.sqrt(np.sum(sigma ** 2))
    assert np.sqrt(np.sum(e_bat ** 2)) <= tol * total * (1 + 1e-6)
    assert np.sqrt(np.sum(e_inc ** 2)) <= tol * total * (1 + 1e-6)
    # singular values and mode counts agree to the truncation tolerance
    k = min(b.n_kept, batch.n_kept)
    assert abs(b.n_kept - batch.n_kept) <= 2
    assert np.all(np.abs(b.singular_values[:k] - batch.singular_values[:k]) <= tol * sigma[0])
    assert 1.0 - b.energy <= tol ** 2


@pytest.mark.mpi
def test_rejects_snapshot_in_span_and_weighted_product():
    N, m = 90, 12
    G, U, (a, b) = data(N, m, np.logspace(0, -2, 6), seed=3)
    w = np.random.default_rng(4).uniform(0.5, 2.0, N)[a:b]
    inc = IncrementalPOD(pod(U, inner=w))
    k0 = inc.n_kept
    s0 = inc.s.copy()
    x = U @ np.linspace(1.0, 2.0, m)                # a combination of the snapshots: in the span
    assert inc.add(x, tol_reject=1e-8) == 0
    assert inc.n_rejected == 1 and inc.n_kept == k0
    assert np.sum(inc.s ** 2) > np.sum(s0 ** 2)     # its energy still counts
    I = COMM.allreduce(inc.modes.T @ (w[:, None] * inc.modes))
    np.testing.assert_allclose(I, np.eye(k0), atol=1e-12)
    # a new direction is accepted and keeps the modes M-orthonormal
    y = np.random.default_rng(5).standard_normal(N)[a:b]
    assert inc.add(y) == 1
    I = COMM.allreduce(inc.modes.T @ (w[:, None] * inc.modes))
    np.testing.assert_allclose(I, np.eye(k0 + 1), atol=1e-12)
    # and matches the batch POD of all the data in the same inner product
    batch = pod(np.column_stack([U, x, y]), inner=w)
    np.testing.assert_allclose(inc.s, batch.singular_values[:k0 + 1], rtol=1e-9)


@pytest.mark.mpi
def test_last_update_gives_the_new_modes_and_their_gram_with_the_old():
    """After an update, Ψ_new = [Ψ_old Q] X (directions Q, transform X) and Ψ_newᵀ M Ψ_old = X[:k]ᵀ — for
    an accepted snapshot, a rejected one (Q empty, X an orthogonal k × k) and several at once: what lets
    the enrichment update linear images of the modes (their strains) and rebase old coordinates without
    touching the mesh."""
    N, m = 90, 10
    G, U, (a, b) = data(N, m, np.logspace(0, -2, 6), seed=7)
    w = np.random.default_rng(8).uniform(0.5, 2.0, N)[a:b]
    inc = IncrementalPOD(pod(U[:, :4], inner=w))
    y = np.random.default_rng(9).standard_normal((N, 2))[a:b]
    for cols in (U[:, 4:5], U[:, :4] @ np.linspace(1.0, 2.0, 4), U[:, 5:8], y):
        old = inc.modes.copy()
        k = old.shape[1]
        inc.add(cols, tol_reject=1e-8)
        Q, X = inc.directions, inc.transform
        assert X.shape == (k + Q.shape[1], inc.n_kept) and Q.shape[0] == old.shape[0]
        rebuilt = np.hstack([old, Q]) @ X
        scale = COMM.allreduce(float(np.abs(inc.modes).max()), op=MPI.MAX)
        assert COMM.allreduce(float(np.abs(rebuilt - inc.modes).max()), op=MPI.MAX) <= 1e-14 * scale
        gram = COMM.allreduce(inc.modes.T @ (w[:, None] * old))
        np.testing.assert_allclose(gram, X[:k].T, rtol=0, atol=1e-13)
    assert inc.n_rejected >= 1


@pytest.mark.mpi
@pytest.mark.parametrize("nc", [1, 3])
def test_a_rejected_snapshot_leaves_the_qdeim_points(nc):
    """A snapshot in the span only rotates the modes; QDEIM (a pivoted QR of the Euclidean-orthonormalized
    basis, whose pivots do not depend on the basis of the span) then selects the same rows: the enrichment
    reuses the dual fields' points instead of recomputing them."""
    from dromo.reduction.eim import qdeim
    N, m = 60, 9
    G, U, (a, b) = data(N * nc, m, np.logspace(0, -2, 7), seed=11)
    lo, hi = uneven_split(N)
    U = np.ascontiguousarray(G[lo * nc:hi * nc])
    ids = np.arange(lo, hi, dtype=np.int64)
    w = np.repeat(np.random.default_rng(12).uniform(0.5, 2.0, N)[lo:hi], nc)
    inc = IncrementalPOD(pod(U, inner=w))
    before = qdeim(inc.modes, ids, COMM, nc)
    assert inc.add(U @ np.linspace(-1.0, 2.0, m), tol_reject=1e-8) == 0 and inc.directions.shape[1] == 0
    assert not np.allclose(inc.transform, np.eye(inc.n_kept))          # the modes did rotate
    after = qdeim(inc.modes, ids, COMM, nc)
    assert np.array_equal(after.rows, before.rows) and np.array_equal(after.ranks, before.ranks)


@pytest.mark.mpi
def test_incremental_bad_input_everywhere():
    N, m = 40, 6
    G, U, (a, b) = data(N, m, np.ones(4), seed=6)
    inc = IncrementalPOD(pod(U))
    bad = np.ones((b - a, 2))
    if COMM.rank == COMM.size - 1:
        bad[-1, 1] = np.nan
    with pytest.raises(InputError, match="snapshot 1: enrichment step 7"):
        inc.add(bad, labels=["enrichment step 6", "enrichment step 7"])
    with pytest.raises(InputError, match="row count"):
        inc.add(np.ones((b - a + (1 if COMM.rank == 0 else 0), 1)))
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        IncrementalPOD(pod(U), tol=1.5)


@pytest.mark.mpi
def test_decay_plot_png(tmp_path_factory):
    G, U, _ = data(60, 10, np.logspace(0, -8, 10), seed=7)
    b = pod(U, tol=1e-3, method="svd")
    path = None
    if COMM.rank == 0:
        path = str(tmp_path_factory.mktemp("plot") / "decay.png")
    path = COMM.bcast(path)
    plot_singular_values(b.singular_values, path, n_kept=b.n_kept, tol=b.tol, comm=COMM)
    COMM.Barrier()
    if COMM.rank == 0:
        assert os.path.getsize(path) > 1000
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
