"""A running dolfinx (0.5) code streaming its displacement Vecs into dromo's POD; run by test_insitu_dolfinx.py.

``python insitu_dolfinx.py solve FOLDER [MESH.h5]`` (under ``mpirun -n P``): a linear-elastic 3D cantilever
(4 x 1 x 1, clamped at x = 0, 8 x 2 x 2 boxes of 6 tetrahedra, P1) under a body force
``f = c1(t) + x c2(t)`` that turns over :data:`STEPS` load steps (a 6-dimensional solution space), solved
with dolfinx/MUMPS on P ranks. Every displacement is written to ``FOLDER/u.xdmf`` (function
``Displacement``) and, when a dromo archive ``MESH.h5`` is given, streamed as dolfinx's own PETSc Vec into
dromo's incremental POD on the same communicator (the dof map built once from dolfinx's owned dof
coordinates and the archive's mesh); the basis goes to ``FOLDER/insitu.h5`` (field ``U``).

``python insitu_dolfinx.py readback FOLDER MESH.h5 BASIS.h5`` (under ``mpirun -n P``): reads a basis written
at any rank count as a SLEPc BV in dolfinx's numbering, solves one more load case and checks that the BV
reproduces it (relative projection residual <= 1e-7): exit status 0 when it does.
"""
import os
import sys

import numpy as np
from mpi4py import MPI

STEPS = 10
TOL = 1e-8


def loads(j):
    t = 0.7 * j
    return ((np.sin(t), 0.5 * np.cos(2 * t), -1.0 - 0.1 * t), (0.1 * t * t, np.sin(3 * t), 0.3 * np.cos(t)))


def problem(comm):
    import ufl
    from dolfinx import fem, mesh
    from dolfinx.fem.petsc import LinearProblem
    from petsc4py import PETSc
    msh = mesh.create_box(comm, [np.zeros(3), np.array([4.0, 1.0, 1.0])], [8, 2, 2], mesh.CellType.tetrahedron)
    V = fem.VectorFunctionSpace(msh, ("Lagrange", 1))
    left = mesh.locate_entities_boundary(msh, 2, lambda x: np.isclose(x[0], 0.0))
    bc = fem.dirichletbc(np.zeros(3, dtype=PETSc.ScalarType), fem.locate_dofs_topological(V, 2, left), V)
    E, nu = 1.0e3, 0.3
    mu, lmbda = E / 2 / (1 + nu), E * nu / (1 + nu) / (1 - 2 * nu)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    eps = ufl.sym(ufl.grad(u))
    a = ufl.inner(2 * mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(3), ufl.sym(ufl.grad(v))) * ufl.dx
    c1 = fem.Constant(msh, PETSc.ScalarType((0.0, 0.0, 0.0)))
    c2 = fem.Constant(msh, PETSc.ScalarType((0.0, 0.0, 0.0)))
    x = ufl.SpatialCoordinate(msh)
    lp = LinearProblem(a, ufl.dot(c1 + x[0] * c2, v) * ufl.dx, bcs=[bc],
                       petsc_options={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})

    def solve(j):
        c1.value, c2.value = loads(j)
        return lp.solve()
    return msh, V, solve


def dof_map(V, mesh_archive, comm):
    """dolfinx's owned dofs -> dromo's rows of the archive's mesh (by the owned dof coordinates)."""
    from dromo.io.archive import Archive
    from dromo.reduction.insitu import DofMap
    with Archive.open(mesh_archive, comm) as ar:
        mesh = ar.read_mesh()
    n_owned = V.dofmap.index_map.size_local
    return DofMap.from_coordinates(mesh, V.tabulate_dof_coordinates()[:n_owned], V.dofmap.index_map_bs, comm)


def run_solve(folder, mesh_archive=None):
    from dolfinx import io
    comm = MPI.COMM_WORLD
    os.makedirs(folder, exist_ok=True)
    msh, V, solve = problem(comm)
    ins = None
    if mesh_archive:
        from dromo.reduction.insitu import InSituPOD
        ins = InSituPOD(dof_map(V, mesh_archive, comm), tol=TOL)
    with io.XDMFFile(comm, os.path.join(folder, "u.xdmf"), "w") as xdmf:
        xdmf.write_mesh(msh)
        for j in range(STEPS):
            uh = solve(j)
            uh.name = "Displacement"
            xdmf.write_function(uh, float(j))
            if ins is not None:
                ins.add(uh.vector)                     # dolfinx's own Vec, its partition and numbering
    if ins is not None:
        from dromo.io.archive import Archive
        from dromo.reduction import write_basis
        with Archive.create(os.path.join(folder, "insitu.h5"), comm, attrs={"content": "pod-basis"}) as out:
            write_basis(out, ins.basis, "U", location="node", n_components=3, components=["x", "y", "z"])


def run_readback(folder, mesh_archive, basis_archive):
    from dromo.io.archive import Archive
    from dromo.reduction import read_basis
    from dromo.reduction.insitu import basis_to_bv
    comm = MPI.COMM_WORLD
    msh, V, solve = problem(comm)
    dm = dof_map(V, mesh_archive, comm)
    with Archive.open(basis_archive, comm) as ar:
        basis = read_basis(ar, "U")
    u = solve(STEPS + 3).vector                       # a load case not in the snapshots, in the span
    bv = basis_to_bv(basis.modes, dm, u)
    c = bv.dotVec(u)
    r = u.copy()
    bv.multVec(-1.0, 1.0, r, c)
    rel = r.norm() / u.norm()
    if comm.rank == 0:
        print(f"readback at {comm.size} ranks: {basis.n_kept} modes, relative residual {rel:.3e}")
    sys.exit(0 if rel <= 1e-7 else 1)


if __name__ == "__main__":
    if sys.argv[1] == "solve":
        run_solve(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        run_readback(*sys.argv[2:5])
