"""The snapshot matrix as a PETSc Python Mat for SLEPc (dromo.reduction.snapshot_mat).

Collective tests (``mpi`` mark) at 1, 2 and 3 ranks, rows split unevenly: every operation SLEPc uses
(MatMult, MatMultTranspose, the products AB and AtB with dense matrices, and SLEPc's own block product
BVMatMult on its implicit transpose) equals numpy's on the global matrix, with and without weights, on a
C-ordered array (no copy: the operator reads the caller's array).
"""
import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc
from slepc4py import SLEPc

from dromo.reduction import ArraySource
from dromo.reduction.randomized import SnapshotProducts
from dromo.reduction.snapshot_mat import snapshot_mat

from .test_pod import uneven_split

COMM = MPI.COMM_WORLD
N, M = 37, 11


def _global(seed=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, M)), rng.uniform(0.0, 2.0, N)


def _dense(rows_local, cols, values_local):
    """A dense PETSc Mat with the given local rows (None: PETSc's split) holding ``values_local``."""
    B = PETSc.Mat().createDense(((rows_local, PETSc.DECIDE), (PETSc.DECIDE, cols)), comm=COMM)
    B.setUp()
    B.getDenseArray()[...] = values_local
    B.assemble()
    return B


@pytest.mark.mpi
@pytest.mark.parametrize("weighted", [False, True])
def test_every_operation_equals_numpy(weighted):
    G, w = _global()
    a, b = uneven_split(N)
    U = np.ascontiguousarray(G[a:b])                       # C order: used as it is
    sw = np.sqrt(w) if weighted else None
    A_glob = G if sw is None else np.sqrt(w)[:, None] * G
    prod = SnapshotProducts(ArraySource(U, comm=COMM), None if sw is None else sw[a:b], check=True)
    assert prod.array is U                                 # no copy
    A = snapshot_mat(prod, COMM)
    try:
        assert A.getSize() == (N, M) and A.getLocalSize()[0] == b - a
        lo, hi = A.getOwnershipRangeColumn()
        x_glob = np.linspace(-1.0, 2.0, M)
        y_glob = np.cos(np.arange(N))
        x, y = A.createVecs()
        x.getArray()[:] = x_glob[lo:hi]
        A.mult(x, y)
        assert np.allclose(y.getArray(), (A_glob @ x_glob)[a:b], rtol=1e-13, atol=1e-13)
        y.getArray()[:] = y_glob[a:b]
        A.multTranspose(y, x)
        assert np.allclose(x.getArray(), (A_glob.T @ y_glob)[lo:hi], rtol=1e-13, atol=1e-13)
        # products with dense matrices (what BVMatMult asks for)
        Z_glob = np.arange(M * 3, dtype=float).reshape(M, 3) / 7.0
        W_glob = np.sin(np.arange(N * 4, dtype=float)).reshape(N, 4)
        Z = _dense(hi - lo, 3, Z_glob[lo:hi])
        W = _dense(b - a, 4, W_glob[a:b])
        AZ = A.matMult(Z)
        assert np.allclose(AZ.getDenseArray(), (A_glob @ Z_glob)[a:b], rtol=1e-13, atol=1e-13)
        AtW = A.transposeMatMult(W)
        assert np.allclose(AtW.getDenseArray(), (A_glob.T @ W_glob)[lo:hi], rtol=1e-13, atol=1e-12)
        for mat in (x, y, Z, W, AZ, AtW):
            mat.destroy()
        # SLEPc's block product on its implicit transpose becomes AtB of this matrix
        bv_u = SLEPc.BV().create(COMM)
        bv_u.setSizes((b - a, N), 4)
        bv_u.setType("mat")
        bv_v = SLEPc.BV().create(COMM)
        bv_v.setSizes((hi - lo, M), 4)
        bv_v.setType("mat")
        Mu = bv_u.getMat()
        Mu.getDenseArray()[...] = W_glob[a:b]
        bv_u.restoreMat(Mu)
        At = PETSc.Mat().createTranspose(A)
        before = dict(A.getPythonContext().calls)
        bv_u.matMult(At, bv_v)
        after = A.getPythonContext().calls
        assert after["AtB"] == before["AtB"] + 1 and after["multTranspose"] == before["multTranspose"]
        Mv = bv_v.getMat()
        assert np.allclose(Mv.getDenseArray(), (A_glob.T @ W_glob)[lo:hi], rtol=1e-13, atol=1e-12)
        bv_v.restoreMat(Mv)
        for o in (At, bv_u, bv_v):
            o.destroy()
    finally:
        A.destroy()
