"""FEniCSx (dolfinx 0.5) results as its users write them, and their import; run by test_import_fenicsx.py.

``python fenicsx_cases.py solve FOLDER`` (under ``mpirun -n P``): a linear-elastic 3D cantilever (4 x 1 x 1,
clamped at x = 0, 8 x 2 x 2 boxes of 6 tetrahedra = 192 cells, gravity-like load growing over 3 steps at
times 1, 2, 3), in P1 and P2, solved with dolfinx on P ranks. Writes, as a user would:

* ``pK.xdmf`` (``XDMFFile``): the mesh, the facet meshtags ``facets`` (1 at x = 0, 2 at x = 4) and the
  function ``Displacement`` at every time (for P2: its vertex values, dolfinx's own choice);
* ``pK.pvd`` (``VTKFile``): ``.pvtu`` of ``.vtu`` pieces (VTK XML 2.2, Lagrange cells, ghosts);
* ``ref_pK_rR.npz`` per rank R: the in-memory solution on the owned dofs: ``x`` (n, 3) dof coordinates,
  ``u`` (3 steps, n, 3) values, ``geometry`` (owned mesh geometry nodes, as the XDMF writes them).

``python fenicsx_cases.py import FOLDER`` (under ``mpirun -n P``): imports every series of the runs
``FOLDER/np1`` and ``FOLDER/np2`` (:data:`IMPORTS`) into ``FOLDER/npN/imports-P/NAME.h5``, each with
``--field Displacement=U``.
"""
import glob
import os
import sys

import numpy as np
from mpi4py import MPI

TIMES = (1.0, 2.0, 3.0)

#: archive name -> (mesh file or None, series file), relative to a run's folder; ``../np1/`` = the 1-rank run
IMPORTS = {
    "xdmf1": ("p1.xdmf", "p1.xdmf"),                       # the time series as its own mesh (issue 25)
    "vtk1": (None, "p1.pvd"),
    "xdmf2": ("p2.xdmf", "p2.xdmf"),
    "vtk2": (None, "p2.pvd"),
    "onto_np1_p1": ("../np1/p1.xdmf", "p1.pvd"),            # the mesh of the 1-rank run, other numbering
    "onto_np1_p2": ("../np1/p2000000.pvtu", "p2.pvd"),
}


def solve(folder):
    import ufl
    from dolfinx import fem, io, mesh
    from dolfinx.fem.petsc import LinearProblem
    from petsc4py import PETSc
    comm = MPI.COMM_WORLD
    os.makedirs(folder, exist_ok=True)
    msh = mesh.create_box(comm, [np.zeros(3), np.array([4.0, 1.0, 1.0])], [8, 2, 2], mesh.CellType.tetrahedron)
    fdim = 2
    left = mesh.locate_entities_boundary(msh, fdim, lambda x: np.isclose(x[0], 0.0))
    right = mesh.locate_entities_boundary(msh, fdim, lambda x: np.isclose(x[0], 4.0))
    ent = np.hstack([left, right])
    val = np.hstack([np.full(len(left), 1, np.int32), np.full(len(right), 2, np.int32)])
    order = np.argsort(ent)
    tags = mesh.meshtags(msh, fdim, ent[order], val[order])
    tags.name = "facets"
    msh.topology.create_connectivity(fdim, 3)
    E, nu = 1.0e3, 0.3
    mu, lmbda = E / 2 / (1 + nu), E * nu / (1 + nu) / (1 - 2 * nu)
    for deg in (1, 2):
        V = fem.VectorFunctionSpace(msh, ("Lagrange", deg))
        bc = fem.dirichletbc(np.zeros(3, dtype=PETSc.ScalarType),
                             fem.locate_dofs_topological(V, fdim, left), V)
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        eps = ufl.sym(ufl.grad(u))
        a = ufl.inner(2 * mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(3), ufl.sym(ufl.grad(v))) * ufl.dx
        load = fem.Constant(msh, PETSc.ScalarType((0.0, 0.0, 0.0)))
        problem = LinearProblem(a, ufl.dot(load, v) * ufl.dx, bcs=[bc],
                                petsc_options={"ksp_type": "preonly", "pc_type": "lu",
                                               "pc_factor_mat_solver_type": "mumps"})
        uh = fem.Function(V)
        uh.name = "Displacement"
        n_owned = V.dofmap.index_map.size_local
        values = []
        with io.XDMFFile(comm, os.path.join(folder, f"p{deg}.xdmf"), "w") as xdmf, \
                io.VTKFile(comm, os.path.join(folder, f"p{deg}.pvd"), "w") as vtk:
            xdmf.write_mesh(msh)
            xdmf.write_meshtags(tags)
            for t in TIMES:
                load.value = (0.0, 0.0, -t)                 # proportional: a POD of 1 mode
                uh.x.array[:] = problem.solve().x.array
                uh.x.scatter_forward()
                xdmf.write_function(uh, t)
                vtk.write_function(uh, t)
                values.append(uh.x.array.reshape(-1, 3)[:n_owned].copy())
        np.savez(os.path.join(folder, f"ref_p{deg}_r{comm.rank}.npz"),
                 x=V.tabulate_dof_coordinates()[:n_owned], u=np.array(values),
                 geometry=msh.geometry.x[:msh.geometry.index_map().size_local])


def import_all(folder, comm):
    """Import :data:`IMPORTS` of both runs at ``comm.size`` ranks into ``npN/imports-P/NAME.h5``."""
    from dromo.io.adapters import import_results
    from dromo.io.adapters.adjust import Adjusted
    from dromo.io.adapters.meshio_series import MeshioSeriesReader
    for run in ("np1", "np2"):
        base = os.path.join(folder, run)
        out = os.path.join(base, f"imports-{comm.size}")
        if comm.rank == 0:
            os.makedirs(out, exist_ok=True)
        for name, (mesh, series) in IMPORTS.items():
            reader = None
            if comm.rank == 0:
                reader = Adjusted(MeshioSeriesReader(mesh and os.path.join(base, mesh), [os.path.join(base, series)]),
                                  rename={"Displacement": "U"})
            import_results(reader, os.path.join(out, f"{name}.h5"), comm)


def reference(run_folder, deg):
    """The in-memory solution of a run, all ranks: ``x`` (n, 3), ``u`` (steps, n, 3), ``geometry``."""
    parts = [np.load(f) for f in sorted(glob.glob(os.path.join(run_folder, f"ref_p{deg}_r*.npz")))]
    return {k: np.concatenate([p[k] for p in parts], axis=1 if k == "u" else 0) for k in ("x", "u", "geometry")}


if __name__ == "__main__":
    if sys.argv[1] == "solve":
        solve(sys.argv[2])
    else:
        import_all(sys.argv[2], MPI.COMM_WORLD)
