"""In-situ POD from PETSc Vecs of another numbering and partition (issue 23), at 1, 2 and 3 ranks.

The "code" here is plain PETSc: its Vecs hold the nodes in a permuted order, split over the ranks
unevenly in the other direction than dromo's natural blocks. The dolfinx version of the same test is
:mod:`tests.reduction.test_insitu_dolfinx`.
"""
import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from dromo.errors import InputError
from dromo.parallel import partition_range
from dromo.reduction import pod
from dromo.reduction.insitu import DofMap, InSituPOD, basis_to_bv, basis_to_vecs, stream_pod

from .test_pod import sin_max_angle

COMM = MPI.COMM_WORLD
N_NODES, BS = 41, 3


def _case(m=9, seed=4):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (N_NODES, 3))
    perm = rng.permutation(N_NODES)                      # the code's node i is dromo's node perm[i]
    sig = 2.0 ** -np.arange(6)
    Q, _ = np.linalg.qr(rng.standard_normal((N_NODES * BS, 6)))
    V, _ = np.linalg.qr(rng.standard_normal((m, 6)))
    G = (Q * sig) @ V.T                                  # (N·BS, m) dromo rows
    p = COMM.size                                        # the code's split: larger shares first
    w = np.arange(p, 0, -1, dtype=float)
    cuts = np.concatenate([[0], np.round(np.cumsum(w) / w.sum() * N_NODES).astype(int)])
    lo, hi = cuts[COMM.rank], cuts[COMM.rank + 1]
    mine = perm[lo:hi]                                   # dromo nodes of the code's owned nodes
    rows = (mine[:, None] * BS + np.arange(BS)).ravel()
    return pts, mine, rows, G


def _vec(values):
    v = PETSc.Vec().createMPI((len(values), PETSc.DECIDE), comm=COMM)
    v.getArray()[...] = values
    return v


@pytest.mark.mpi
@pytest.mark.parametrize("build", ["coordinates", "indices"])
def test_stream_equals_batch_pod_and_basis_goes_back(build):
    pts, mine, rows, G = _case()
    dm = DofMap.from_coordinates(pts, pts[mine], BS, COMM) if build == "coordinates" else \
        DofMap.from_indices(PETSc.IS().createGeneral(rows.astype(PETSc.IntType), comm=COMM), N_NODES, BS, COMM)
    a, b = partition_range(N_NODES, COMM)
    ours = G[a * BS:b * BS]
    vecs = [_vec(G[rows, j]) for j in range(G.shape[1])]
    assert np.array_equal(dm.to_rows(vecs[3]), ours[:, 3])
    ins = stream_pod(iter(vecs), dm, tol=1e-8)
    ref = pod(np.ascontiguousarray(ours), comm=COMM, tol=1e-8, method="svd")
    got = ins.basis
    assert got.n_kept == ref.n_kept == 6 and got.n_snapshots == G.shape[1]
    assert np.allclose(got.singular_values, ref.singular_values[:6], rtol=1e-12)
    assert sin_max_angle(got.modes, ref.modes) <= 1e-10
    # the basis back in the code's layout, as Vecs and as a BV
    bv = basis_to_bv(got.modes, dm, vecs[0])
    outs = basis_to_vecs(got.modes, dm, vecs[0])
    for j in range(got.n_kept):
        col = bv.createVec()
        bv.copyVec(j, col)
        full = np.zeros(N_NODES * BS)
        full[a * BS:b * BS] = got.modes[:, j]
        full = COMM.allreduce(full)
        assert np.array_equal(col.getArray(), full[rows]) and np.array_equal(outs[j].getArray(), full[rows])
    # the code projects its snapshot on the BV: residual at round-off
    c = bv.dotVec(vecs[5])
    r = vecs[5].copy()
    bv.multVec(-1.0, 1.0, r, c)
    assert r.norm() <= 1e-12 * vecs[5].norm()


@pytest.mark.mpi
def test_push_api_and_errors_on_every_rank():
    pts, mine, rows, G = _case()
    dm = DofMap.from_coordinates(pts, pts[mine], BS, COMM)
    ins = InSituPOD(dm, tol=1e-8)
    assert ins.basis is None
    for j in range(4):
        ins.add(_vec(G[rows, j]))
    assert ins.basis.n_kept == 4
    # one rank's iterator ends early: every rank raises
    if COMM.size > 1:
        short = [_vec(G[rows, j]) for j in range(4)][:3 if COMM.rank == COMM.size - 1 else 4]
        with pytest.raises(InputError, match="disagree at snapshot 3"):
            stream_pod(short, dm)

    def failing():
        yield _vec(G[rows, 0])
        v = _vec(G[rows, 1])                             # collective, like the code's own solve
        if COMM.rank == 0:
            raise RuntimeError("solver diverged")
        yield v
    with pytest.raises(InputError, match="solver diverged"):
        stream_pod(failing(), dm)
    # coordinates of another mesh, a map that misses nodes, a Vec of the wrong size
    bad = pts[mine] + (0.1 if COMM.rank == 0 else 0.0)
    with pytest.raises(InputError, match="no mesh node within"):
        DofMap.from_coordinates(pts, bad, BS, COMM)
    with pytest.raises(InputError, match="not mapped|owns"):
        DofMap.from_indices(rows[:-BS] if COMM.rank == 0 else rows, N_NODES, BS, COMM)
    with pytest.raises(InputError, match="the Vec owns"):
        dm.to_rows(_vec(np.zeros(len(rows) + (1 if COMM.rank == 0 else 0))))
