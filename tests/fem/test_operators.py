"""Assembled operators: volume, rigid-body modes, patch tests, pressure, convergence, rank independence."""
import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from dromo.fem import linear
from dromo.fem.kinematics import element_geometry
from dromo.fem.operators import (body_force, ip_weights, mass_matrix, pressure_load, stiffness_matrix,
                                 strain_at_ips)
from dromo.materials.tensors import isotropic_stiffness
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.generate import box_mesh

ELEMENTS = ["tet4", "tet10", "hex8", "hex20", "wedge6", "wedge15"]
E, NU = 210e3, 0.3
D = isotropic_stiffness(E, NU)


def _nodal_vector(dm, values_of_natural):
    """A Vec whose owned entries are ``values_of_natural(natural ids) -> (n, 3)``."""
    v = dm.create_vector(3)
    v.getArray()[:] = values_of_natural(dm.local_natural[:dm.n_owned_nodes]).reshape(-1)
    return v


def _boundary_nodes(dm):
    names = ["xmin", "xmax", "ymin", "ymax", "zmin", "zmax"]
    return np.unique(np.concatenate([dm.node_set(n) for n in names]))


def _lu(prefix):
    opts = PETSc.Options()
    opts[f"{prefix}ksp_type"] = "preonly"
    opts[f"{prefix}pc_type"] = "lu"
    opts[f"{prefix}pc_factor_mat_solver_type"] = "mumps"
    return prefix


@pytest.mark.mpi
@pytest.mark.parametrize("element", ELEMENTS)
def test_mass_integrates_volume_and_rigid_modes_have_no_energy(comm, element):
    mesh = box_mesh(3, 2, 2, lengths=(2.0, 1.5, 1.0), element=element, distort=0.25, seed=3)
    dm = DistributedMesh(mesh, comm)
    M = mass_matrix(dm, density=2.0)
    one_x = _nodal_vector(dm, lambda i: np.stack([np.ones(i.size), 0 * i, 0 * i], 1))
    assert np.isclose(one_x.dot(M * one_x), 2.0 * 3.0, rtol=1e-12)
    K = stiffness_matrix(dm, D)
    x = mesh.points
    for rot in ([0.0, -x[:, 2], x[:, 1]], [x[:, 2], 0 * x[:, 0], -x[:, 0]], [1.0, 2.0, 3.0]):
        full = np.stack([np.broadcast_to(np.asarray(c, float), x[:, 0].shape) for c in rot], 1)
        v = _nodal_vector(dm, lambda i: full[i])
        assert (K * v).norm() <= 1e-9 * K.norm() * v.norm()
    assert comm.allreduce(ip_weights(dm).sum()) == pytest.approx(3.0, rel=1e-12)


@pytest.mark.mpi
@pytest.mark.parametrize("element", ELEMENTS)
def test_patch_test_linear_field_is_reproduced(comm, element):
    mesh = box_mesh(3, 3, 2, element=element, distort=0.3, seed=1)
    dm = DistributedMesh(mesh, comm)
    K = stiffness_matrix(dm, D)
    A = np.array([[1e-3, 2e-4, -3e-4], [5e-4, -1e-3, 1e-4], [2e-4, 3e-4, 4e-4]])
    exact = lambda x: x @ A.T + np.array([0.1, -0.2, 0.05])  # noqa: E731
    bnd = _boundary_nodes(dm)
    dofs = linear.owned_dofs_of_nodes(dm, bnd)
    vals = exact(dm.points[bnd]).reshape(-1)
    f = dm.create_vector(3)
    u = linear.solve(dm, K, f, dofs, vals, prefix=_lu("patch_"))
    u_loc = dm.to_local(u)
    assert np.allclose(u_loc, exact(dm.points), rtol=0, atol=1e-12)
    eps = strain_at_ips(dm, u_loc)
    sym = 0.5 * (A + A.T)
    r2 = np.sqrt(2.0)
    ref = np.array([sym[0, 0], sym[1, 1], sym[2, 2], r2 * sym[0, 1], r2 * sym[0, 2], r2 * sym[1, 2]])
    assert np.allclose(eps, ref, rtol=0, atol=1e-12)


@pytest.mark.mpi
@pytest.mark.parametrize("element", ["tet10", "hex8", "hex20", "wedge15"])
def test_pressure_resultant(comm, element):
    mesh = box_mesh(2, 3, 2, lengths=(1.0, 2.0, 3.0), element=element)
    dm = DistributedMesh(mesh, comm)
    f = pressure_load(dm, "xmax", 5.0)
    total = f.getArray().reshape(-1, 3).sum(axis=0)
    total = comm.allreduce(total)
    assert np.allclose(total, [-5.0 * 6.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.mpi
def test_operators_do_not_depend_on_the_rank_count(comm):
    """Quadratic forms of K and M on natural-id defined fields equal those of a 1-rank assembly."""
    mesh = box_mesh(4, 3, 3, element="tet10", distort=0.2)
    field = lambda i: np.stack([np.sin(0.37 * i), np.cos(0.11 * i), np.sin(0.05 * i + 1)], 1)  # noqa
    field2 = lambda i: np.stack([np.cos(0.21 * i), np.sin(0.13 * i), i / 1000.0], 1)  # noqa

    def forms(c):
        dm = DistributedMesh(mesh, c)
        K, M = stiffness_matrix(dm, D), mass_matrix(dm)
        a, b = _nodal_vector(dm, field), _nodal_vector(dm, field2)
        f = pressure_load(dm, "zmax", 2.0)
        return np.array([a.dot(K * b), a.dot(K * a), a.dot(M * b), a.dot(f)])

    par = forms(comm)
    ser = forms(MPI.COMM_SELF)
    assert np.allclose(par, ser, rtol=1e-12, atol=0)


def _manufactured(lam, mu):
    u = lambda x: np.stack([x[:, 0]**3 + x[:, 1]**3 + x[:, 2]**3, x[:, 0] * x[:, 1] * x[:, 2],  # noqa
                            0 * x[:, 0]], 1)
    b = lambda x: -np.stack([(lam + mu) * (6 * x[:, 0] + x[:, 2]) + mu * 6 * x.sum(1), 0 * x[:, 0],  # noqa
                             (lam + mu) * x[:, 0]], 1)
    return u, b


def _l2_error(dm, u_loc, exact):
    err2 = 0.0
    norm2 = 0.0
    for blk in dm.blocks:
        g = element_geometry(blk.type, dm.points[blk.cells], "mass")
        uh = np.einsum("qa,eai->eqi", g.N, u_loc[blk.cells])
        ue = exact(g.points.reshape(-1, 3)).reshape(uh.shape)
        err2 += np.einsum("eqi,eq->", (uh - ue)**2, g.dV)
        norm2 += np.einsum("eqi,eq->", ue**2, g.dV)
    return np.sqrt(dm.comm.allreduce(err2) / dm.comm.allreduce(norm2))


@pytest.mark.mpi
@pytest.mark.parametrize("element,rate", [("tet4", 2.0), ("hex8", 2.0), ("tet10", 3.0), ("hex20", 3.0)])
def test_convergence_rates_against_manufactured_solution(comm, element, rate):
    lam = E * NU / ((1 + NU) * (1 - 2 * NU))
    mu = E / (2 * (1 + NU))
    exact, force = _manufactured(lam, mu)
    sizes = [2, 4, 8] if element in ("tet4", "hex8") else [2, 4]
    errors = []
    for n in sizes:
        mesh = box_mesh(n, n, n, element=element)
        dm = DistributedMesh(mesh, comm)
        K = stiffness_matrix(dm, D)
        f = body_force(dm, force)
        bnd = _boundary_nodes(dm)
        u = linear.solve(dm, K, f, linear.owned_dofs_of_nodes(dm, bnd), exact(dm.points[bnd]).reshape(-1),
                         prefix=_lu("conv_"))
        errors.append(_l2_error(dm, dm.to_local(u), exact))
    observed = np.log2(errors[-2] / errors[-1])
    assert observed == pytest.approx(rate, abs=0.25), errors


@pytest.mark.mpi
def test_body_forces_in_one_pass_equal_each_alone(comm):
    """``body_forces`` (the element geometry once for several loads) gives every load's nodal forces exactly
    as ``body_force`` alone does: constant and x-dependent densities, shared and scalar factors."""
    from dromo.fem.operators import body_forces
    dm = DistributedMesh(box_mesh(3, 2, 2, element="tet10", distort=0.2), comm)
    dens = {"all": 2.5}
    loads = [([1.0, -2.0, 0.5], None), ([0.0, 1.0, 0.0], dens),
             (lambda x: np.stack([x[:, 1] ** 2, x[:, 0], -x[:, 2]], 1), dens),
             (lambda x: np.stack([x[:, 2], 0 * x[:, 0], x[:, 0] * x[:, 1]], 1), 3.0)]
    together = body_forces(dm, loads)
    for (force, density), v in zip(loads, together):
        alone = body_force(dm, force, density=density)
        assert np.array_equal(v.getArray(), alone.getArray())
        assert np.abs(alone.getArray()).max() > 0
