"""Linear solves on the displacement space: Dirichlet conditions, rigid-body near-null space, KSP.

Default solver: conjugate gradients preconditioned by GAMG with the six rigid-body modes as near-null
space (scalable for elasticity). Every PETSc option passes through (``-ksp_type preonly -pc_type lu
-pc_factor_mat_solver_type mumps`` …), optionally under a prefix.
"""
import numpy as np

from ..errors import ConvergenceError


def rigid_body_modes(dmesh):
    """PETSc NullSpace of the 6 rigid-body modes (3 translations, 3 rotations) of the owned nodes."""
    from petsc4py import PETSc
    x = dmesh.points[:dmesh.n_owned_nodes]
    c = x - dmesh.comm.allreduce(x.sum(axis=0)) / max(1, dmesh.n_nodes_global)
    vecs = []
    for k in range(6):
        v = dmesh.create_vector(3)
        a = np.zeros((dmesh.n_owned_nodes, 3))
        if k < 3:
            a[:, k] = 1.0
        else:
            i, j = [(1, 2), (2, 0), (0, 1)][k - 3]       # rotation about axis k-3
            a[:, i], a[:, j] = -c[:, j], c[:, i]
        with v.localForm() as lf:
            lf.array[:a.size] = a.reshape(-1)
        vecs.append(v)
    # orthonormalize (required by MatNullSpace)
    for k, v in enumerate(vecs):
        for w in vecs[:k]:
            v.axpy(-v.dot(w), w)
        v.normalize()
    return PETSc.NullSpace().create(vectors=vecs, comm=dmesh.comm)


def owned_dofs_of_nodes(dmesh, local_nodes, components=(0, 1, 2)):
    """Global (PETSc) dof indices of the given owned local nodes and components: (k * len(components),)."""
    comps = np.asarray(components, dtype=np.int64)
    return (3 * dmesh.local_petsc[np.asarray(local_nodes, dtype=np.int64)][:, None] + comps).reshape(-1)


def solve(dmesh, K, f, dirichlet_dofs=(), dirichlet_values=None, prefix=None, rtol=1e-10, u0=None):
    """Solve K u = f with u[dirichlet_dofs] = dirichlet_values (owned global dofs on each rank).

    K and f are not modified (copies are constrained). Returns the solution Vec (ghosted layout).
    Raises ConvergenceError (on every rank) when the KSP diverges.
    """
    from petsc4py import PETSc
    A = K.copy()
    b = f.copy()
    x = dmesh.create_vector(3)
    rows = np.asarray(dirichlet_dofs, dtype=PETSc.IntType)
    vals = np.zeros(rows.size) if dirichlet_values is None else np.asarray(dirichlet_values, float)
    if u0 is not None:
        u0.copy(x)
    x.setValues(rows, vals, addv=PETSc.InsertMode.INSERT)
    x.assemble()
    A.zeroRowsColumns(rows, diag=1.0, x=x, b=b)
    A.setNearNullSpace(rigid_body_modes(dmesh))
    ksp = PETSc.KSP().create(comm=dmesh.comm)
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType("gamg")
    ksp.setTolerances(rtol=rtol, atol=1e-50, max_it=2000)
    if prefix:
        ksp.setOptionsPrefix(prefix)
    ksp.setFromOptions()
    if ksp.getType() != "preonly":
        ksp.setInitialGuessNonzero(True)
    ksp.solve(b, x)
    reason = ksp.getConvergedReason()
    its = ksp.getIterationNumber()
    ksp.destroy()
    A.destroy()
    b.destroy()
    if reason < 0:
        raise ConvergenceError(f"linear solve diverged (KSP reason {reason}) after {its} iterations")
    return x
