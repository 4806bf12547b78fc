"""Tree TSQR (:func:`dromo.reduction.svd.tsqr_r`): same singular values as the former gather of the R
factors and as numpy, at any rank count; the root holds O(m²) bytes whatever the number of ranks."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.reduction.svd import tsqr_r, tsqr_svd

COMM = MPI.COMM_WORLD


def _matrix(N=900, m=24, seed=3):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((N, m)))
    V, _ = np.linalg.qr(rng.standard_normal((m, m)))
    sigma = np.logspace(0, -13, m)
    return (Q * sigma) @ V.T, sigma


def _rows(N, comm=COMM):
    """Uneven contiguous split (rank r gets a share ∝ r + 1)."""
    w = np.arange(1, comm.size + 1, dtype=float)
    cuts = np.concatenate([[0], np.round(np.cumsum(w) / w.sum() * N).astype(int)])
    return int(cuts[comm.rank]), int(cuts[-1] if comm.rank == comm.size - 1 else cuts[comm.rank + 1])


@pytest.mark.mpi
def test_tree_matches_gather_and_numpy():
    G, sigma = _matrix()
    a, b = _rows(G.shape[0])
    U = np.ascontiguousarray(G[a:b])
    s_tree, Y = tsqr_svd(U, COMM)
    s_gather, _ = tsqr_svd(U, COMM, tree=False)
    s_np = np.linalg.svd(G, compute_uv=False)
    # round-off of Householder QR: absolute ~ eps·σ₁ (not relative to the small σ)
    np.testing.assert_allclose(s_tree, s_gather, rtol=0, atol=1e-14 * s_np[0])
    np.testing.assert_allclose(s_tree, s_np, rtol=0, atol=1e-14 * s_np[0])
    np.testing.assert_allclose(s_tree[:10], sigma[:10], rtol=1e-9)
    np.testing.assert_allclose(Y.T @ Y, np.eye(G.shape[1]), atol=1e-12)
    # replicated results are bitwise identical on every rank
    both = np.concatenate([s_tree, Y.ravel()])
    ref = COMM.bcast(both, root=0)
    assert np.array_equal(both, ref)


@pytest.mark.mpi
def test_tree_r_reproduces_gram_and_is_triangular():
    G, _ = _matrix(N=400, m=9, seed=5)
    a, b = _rows(G.shape[0])
    w = np.linspace(0.5, 2.0, G.shape[0])
    R = tsqr_r(np.ascontiguousarray(G[a:b]), COMM, sqrt_weights=np.sqrt(w[a:b]))
    assert np.array_equal(R, np.triu(R))
    np.testing.assert_allclose(R.T @ R, G.T @ (w[:, None] * G), atol=1e-13)


@pytest.mark.mpi
def test_root_holds_two_triangles_whatever_the_rank_count():
    m = 40
    rng = np.random.default_rng(COMM.rank)
    U = rng.standard_normal((60, m))
    st_tree, st_gather = {}, {}
    tsqr_r(U, COMM, stats=st_tree)
    tsqr_r(U, COMM, tree=False, stats=st_gather)
    m2 = 8 * m * m
    assert st_tree["held_bytes"] <= (2 + 32 / m) * m2 + 1       # R, received R, dtpqrt's nb × m reflector
    levels = int(np.ceil(np.log2(COMM.size))) if COMM.size > 1 else 0
    if COMM.rank == 0:
        assert st_tree["levels"] == levels
        assert st_gather["held_bytes"] == ((COMM.size + 2) * m2 if COMM.size > 1 else m2)


@pytest.mark.mpi
def test_rank_without_rows_and_zero_columns():
    G, _ = _matrix(N=50, m=6, seed=7)
    U = G if COMM.rank == 0 else G[:0]
    s, _ = tsqr_svd(np.ascontiguousarray(U), COMM)
    np.testing.assert_allclose(s, np.linalg.svd(G, compute_uv=False), rtol=0, atol=1e-14 * s[0])
    R = tsqr_r(np.zeros((5, 0)), COMM)
    assert R.shape == (0, 0)
