"""Zero-copy PETSc/SLEPc views of dromo blocks, and the POD by SLEPc's truncated SVD (issue 23).

Collective tests (``mpi`` mark) at 1, 2 and 3 ranks: the views share one storage (a write through one is
seen through the others, same address), and the three POD methods (snapshots, TSQR, slepc with several
SLEPc solvers) give the same subspace (principal angles) and singular values, equal to the known ones.
"""
import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from dromo.errors import InputError
from dromo.reduction import ArraySource, pod
from dromo.reduction.views import PetscBlock, as_mat, block_of

from .test_pod import StreamSource, local_rows, sin_max_angle, synthetic

COMM = MPI.COMM_WORLD


# ---------------------------------------------------------------------------------------------- views
@pytest.mark.mpi
def test_views_share_one_storage():
    n, m = 7 + COMM.rank, 4
    blk = PetscBlock.empty(n, m, COMM)
    a = blk.array
    assert a.shape == (n, m) and a.flags.f_contiguous and not a.any()
    assert blk.mat.getSize() == (COMM.allreduce(n), m) and blk.mat.getLocalSize()[0] == n
    assert blk.bv.getSizes() == ((n, COMM.allreduce(n)), m)
    assert blk.mat.getDenseArray().ctypes.data == a.ctypes.data            # the Mat is the array
    # numpy -> BV and Mat
    a[:, 2] = np.arange(n) + 100.0 * COMM.rank
    v = blk.bv.createVec()
    blk.bv.copyVec(2, v)
    assert np.array_equal(v.getArray(), a[:, 2])
    assert np.array_equal(blk.mat.getDenseArray()[:, 2], a[:, 2])
    # BV -> numpy (a SLEPc operation writes in place)
    blk.bv.scale(2.0)
    assert np.array_equal(a[:, 2], 2.0 * (np.arange(n) + 100.0 * COMM.rank))
    # Mat -> numpy
    blk.mat.scale(0.5)
    assert np.array_equal(a[:, 2], np.arange(n) + 100.0 * COMM.rank)
    # a column as a Vec on the storage
    c = blk.column_vec(1)
    c.set(3.0)
    assert (a[:, 1] == 3.0).all()
    # BV dot through the views equals numpy's Gram
    G = blk.bv.dot(blk.bv).getDenseArray()
    assert np.allclose(G, COMM.allreduce(a.T @ a), rtol=1e-14, atol=0)
    # wrap of the block's own array: the same block, no copy; of another array: a copy
    assert PetscBlock.wrap(a, COMM) is blk and block_of(a) is blk
    other = np.ones((n, m))
    w = PetscBlock.wrap(other, COMM)
    assert w is not blk and np.array_equal(w.array, other) and w.array.ctypes.data != other.ctypes.data
    c.destroy()
    v.destroy()
    w.destroy()


@pytest.mark.mpi
def test_array_outlives_nothing_and_mat_of_fortran_array():
    n, m = 5, 3
    a = PetscBlock.empty(n, m, COMM).array          # the block is dropped: the array keeps it alive
    a[...] = 1.0
    assert block_of(a) is not None and block_of(a).bv.dot(block_of(a).bv).getDenseArray()[0, 0] == \
        COMM.allreduce(n)
    f = np.asfortranarray(np.arange(n * m, dtype=float).reshape(n, m))
    M = as_mat(f, COMM)
    assert M.getDenseArray().ctypes.data == f.ctypes.data
    f[0, 0] = -1.0
    assert M.getDenseArray()[0, 0] == -1.0
    with pytest.raises(InputError, match="Fortran-ordered"):
        as_mat(np.zeros((n, m)) if COMM.rank == COMM.size - 1 else np.zeros((n, m), order="F"), COMM)


# ---------------------------------------------------------------------------------------------- POD
SIGMA = np.array([10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 1e-2, 1e-3, 1e-4])
FULL = np.concatenate([SIGMA[:8], 1e-3 * 0.8 ** np.arange(32)])   # rank 40, σ_min ≈ 1e-7 σ₁: 'cross' (σ²) works


@pytest.mark.mpi
@pytest.mark.parametrize("svd_type", ["trlanczos", "lanczos", "cross", "randomized", "dromo"])
def test_truncated_methods_equal_snapshots_and_tsqr(svd_type):
    """SLEPc's solvers, and dromo's block randomized SVD ("dromo": method="randomized")."""
    G, Q, _V = synthetic(300, 40, FULL, seed=3)
    U, (a, b) = local_rows(G)
    opts = PETSc.Options()
    opts["dromo_svd_type"] = svd_type
    method = "randomized" if svd_type == "dromo" else "slepc"
    try:
        s = pod(U, comm=COMM, tol=2e-4, method=method)
    finally:
        opts.delValue("dromo_svd_type")
    t = pod(U, comm=COMM, tol=2e-4, method="svd")
    p = pod(U, comm=COMM, tol=2e-4, method="snapshots")
    assert s.method == method and s.n_kept == t.n_kept == p.n_kept == 8
    assert np.allclose(s.singular_values[:8], SIGMA[:8], rtol=1e-10, atol=0)
    assert np.allclose(s.singular_values[:8], t.singular_values[:8], rtol=1e-10, atol=0)
    assert abs(s.energy - t.energy) < 1e-12
    assert sin_max_angle(s.modes, t.modes) <= 1e-8
    assert sin_max_angle(s.modes, p.modes) <= 1e-8
    assert sin_max_angle(s.modes, Q[a:b, :8]) <= 1e-8
    assert s.orthonormality <= 1e-10                     # 'cross' squares the condition number
    if method == "slepc":
        assert block_of(s.modes) is not None             # the basis is a BV's storage


@pytest.mark.mpi
@pytest.mark.parametrize("svd_type", [None, "trlanczos"])
def test_slepc_grows_nsv_until_the_tolerance_and_caps_by_max_modes(svd_type):
    """The default (randomized: the block grows) and a Krylov solver (nsv grows)."""
    sigma = 0.8 ** np.arange(60)
    G, Q, _V = synthetic(400, 80, sigma, seed=5)
    U, (a, b) = local_rows(G)
    opts = PETSc.Options()
    if svd_type:
        opts["dromo_svd_type"] = svd_type
    try:
        s = pod(U, comm=COMM, tol=1e-5, method="slepc")        # needs about 52 > 16 (first nsv) modes
        c = pod(U, comm=COMM, tol=1e-5, max_modes=5, method="slepc")
        full = pod(U, comm=COMM, method="slepc")               # no tolerance: every nonzero mode
    finally:
        if svd_type:
            opts.delValue("dromo_svd_type")
    t = pod(U, comm=COMM, tol=1e-5, method="svd")
    assert s.n_kept == t.n_kept > 32
    assert np.allclose(s.singular_values[:s.n_kept], sigma[:s.n_kept], rtol=1e-9)
    assert sin_max_angle(s.modes[:, :20], t.modes[:, :20]) <= 1e-8
    assert c.n_kept == 5 and sin_max_angle(c.modes, Q[a:b, :5]) <= 1e-8
    assert full.n_kept == 60


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["slepc", "randomized"])
def test_truncated_methods_diagonal_weights_and_streamed_source(method):
    """SLEPc's and the randomized truncated SVDs (tests/reduction/test_pod_randomized.py) with weights, a
    streamed source, and the same result at every rank count."""
    G, _Q, _V = synthetic(250, 30, SIGMA[:7], seed=8)
    U, (a, b) = local_rows(G)
    wg = np.linspace(0.5, 2.0, 250)
    wg[::17] = 0.0                                            # zero weights allowed
    w = wg[a:b]
    src = StreamSource(U)
    s = pod(src, tol=1e-3, inner=w, method=method)
    assert src.reads > 0 and s.method == method
    t = pod(U, comm=COMM, tol=1e-3, inner=w, method="svd")
    assert s.n_kept == t.n_kept
    assert np.allclose(s.singular_values[:s.n_kept], t.singular_values[:t.n_kept], rtol=1e-10)
    assert sin_max_angle(s.modes, t.modes, gram=lambda x, y: x.T @ (w[:, None] * y)) <= 1e-8
    assert s.orthonormality <= 1e-12
    # the same result at every rank count: compare with the serial POD of the whole matrix on every rank
    ser = pod(ArraySource(G, comm=MPI.COMM_SELF), tol=1e-3, inner=wg, method=method)
    assert np.allclose(ser.singular_values[:ser.n_kept], s.singular_values[:s.n_kept], rtol=1e-12)
    assert np.abs(ser.modes[a:b] - s.modes).max() <= 1e-9


@pytest.mark.mpi
def test_slepc_failure_is_an_input_error_on_every_rank():
    # 'cross' (eigenproblem of AᵀA) on a rank-deficient matrix: round-off eigenvalues can come out negative
    G, _Q, _V = synthetic(120, 30, SIGMA[:4], seed=2)
    U, _ab = local_rows(G)
    opts = PETSc.Options()
    opts["dromo_svd_type"] = "cross"
    try:
        b = pod(U, comm=COMM, method="slepc")
        assert b.n_kept == 4                               # either it works ...
    except InputError as e:                                # ... or every rank says why
        assert "SLEPc SVD (cross) failed" in str(e)
    finally:
        opts.delValue("dromo_svd_type")


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["slepc", "randomized"])
def test_truncated_methods_refuse_matrix_inner_product_and_zero_snapshots_everywhere(method):
    U = np.zeros((5, 3))
    with pytest.raises(InputError, match="all snapshots are zero"):
        pod(U, comm=COMM, tol=1e-3, method=method)
    M = PETSc.Mat().createAIJ(((5, PETSc.DECIDE), (5, PETSc.DECIDE)), nnz=1, comm=COMM)
    M.setUp()
    M.assemble()
    M.shift(1.0)
    with pytest.raises(InputError, match="Euclidean and diagonal-weight"):
        pod(np.ones((5, 3)), comm=COMM, tol=1e-3, inner=M, method=method)
