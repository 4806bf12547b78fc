"""Random temperature fields (issue 19): KL modes computed in parallel against a dense eigendecomposition of
the nodal covariance, the same at 1, 2 and 3 ranks; reproducible draws; a draw added to a case's
temperature at the integration points (HF Problem) and at reduced points (the online stage's values)."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.hf import Problem, TimeStepping
from dromo.hf.loads import Displacement, Temperature
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.generate import box_mesh
from dromo.uq.random_field import FieldDraw, PointModes, kl_modes
from dromo.uq.sampling import draw_coefficients, draw_spec, rank_draws

SIGMA, ELL, R = 30.0, 0.8, 5


def _mesh():
    return box_mesh(6, 3, 2, lengths=(3.0, 1.5, 1.0), element="hex20", distort=0.1, seed=3)


def _natural(dm, owned):
    block = dm.redistributor("node").owned_to_natural(np.ascontiguousarray(owned))
    return np.concatenate(dm.comm.allgather(block))


@pytest.mark.mpi
def test_kl_modes_match_a_dense_eigendecomposition_at_any_rank_count():
    comm = MPI.COMM_WORLD
    mesh = _mesh()
    dm = DistributedMesh(mesh, comm)
    kl = kl_modes(dm, SIGMA, ELL, R, seed=1)
    X = mesh.points
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    C = SIGMA ** 2 * np.exp(-d2 / (2 * ELL ** 2))
    lam, V = np.linalg.eigh(C)
    lam, V = lam[::-1][:R], V[:, ::-1][:, :R]
    assert np.allclose(kl.eigenvalues, lam, rtol=1e-7)
    phi = _natural(dm, kl.modes)
    V = V * np.sign((V ** 3).sum(0))
    assert np.abs(phi - V).max() < 1e-4
    assert np.allclose(phi.T @ phi, np.eye(R), atol=1e-10)
    assert 0 < kl.captured <= 1 and np.isclose(kl.captured, lam.sum() / (len(X) * SIGMA ** 2))


@pytest.mark.mpi
def test_draws_reproducible_and_spread_over_ranks():
    comm = MPI.COMM_WORLD
    a = draw_coefficients(7, range(10), 4)
    b = draw_coefficients(7, [3, 9], 4)
    assert np.array_equal(a[[3, 9]], b)
    assert not np.allclose(a[0], draw_coefficients(8, [0], 4)[0])
    mine = rank_draws(10, comm)
    allr = np.concatenate(comm.allgather(mine))
    assert np.array_equal(allr, np.arange(10))


@pytest.mark.mpi
def test_a_draw_adds_to_the_temperature_at_ips_and_at_reduced_points():
    comm = MPI.COMM_WORLD
    mesh = _mesh()
    dm = DistributedMesh(mesh, comm)
    kl = kl_modes(dm, SIGMA, ELL, R, seed=1)
    xi = draw_coefficients(0, [5], R)[0]
    law = {"type": "elastic", "E": 200e3, "nu": 0.3, "alpha": 1e-5, "T_ref": 293.0}
    spec = dict(materials={"all": law}, loads=[Displacement("xmin", {"x": 0.0, "y": 0.0, "z": 0.0})],
                amplitudes={"h": [[0.0, 0.0], [1.0, 2.0]]},
                temperature=Temperature(expression="293 + 10 * a * x", amplitude="h"),
                time=TimeStepping(end=1.0, dt=0.5), name="box")
    base = Problem(dm, spec["materials"], spec["loads"], spec["amplitudes"], spec["temperature"], spec["time"],
                   comm=comm, name="box")
    drawn = draw_spec(spec, FieldDraw(xi, basis=kl))
    pb = Problem(dm, drawn["materials"], drawn["loads"], drawn["amplitudes"], drawn["temperature"], drawn["time"],
                 comm=comm, name="box")
    assert spec["temperature"].offset is None                      # the nominal spec is untouched
    # the offset at the ips is the nodal field interpolated: at a hex20 corner node's ip it is close to it;
    # exactly: the ip value of a field linear in the nodal values, checked through the mode fields
    dT = (pb.temperature_at(1.0) - base.temperature_at(1.0)) / 2.0        # amplitude 2 at t = 1
    assert np.abs(pb.temperature_at(0.0) - base.temperature_at(0.0)).max() == 0.0
    assert 0.05 * SIGMA < np.abs(dT).max() < 6 * SIGMA
    # reduced points: the same values from the modes at the points (cell nodes + shape values)
    from dromo.mesh.elements import get_element
    from dromo.mesh.quadrature import element_rule
    blk = mesh.blocks[0]
    N = get_element(blk.type).shape_and_dshape(element_rule(blk.type, blk.rule).points)[0]
    nq = N.shape[0]
    ids = np.asarray(dm.ip_natural)
    cells, qp = ids // nq, ids % nq
    nodes = blk.cells[cells]
    phi = _natural(dm, kl.modes)
    pm = PointModes(ids[::-1], np.einsum("nm,nmr->nr", N[qp], phi[nodes])[::-1])
    at_pts = FieldDraw(xi, points=pm, scales=kl.scales).at_points(ids)
    assert np.allclose(at_pts, dT, rtol=1e-10, atol=1e-9)
    pp = pb.restrict(ids[::3])
    assert np.allclose(pp.temperature_at(1.0), pb.temperature_at(1.0)[pp.rows], rtol=1e-12)
