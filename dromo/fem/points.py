"""Finite-element quantities at given integration points, for the reduced models.

* :func:`mode_strains` — Mandel strains of displacement modes at this rank's integration points;
* :func:`force_integrand` — the internal-force integrand ``ε(ψ_j) : σ_i`` (input of the empirical cubature);
* :func:`point_info` — cell, external element id, point index in the rule and owner of natural ip ids.

Integration points are numbered as in :class:`~dromo.mesh.DistributedMesh` (``ip_natural``: cell by cell in
natural cell order, point by point in the rule's order); strains and stresses are Mandel 6-vectors.
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from .kinematics import strain_displacement
from .operators import geometry_chunks

__all__ = ["mode_strains", "force_integrand", "point_info"]


def mode_strains(dm, modes_owned, cache=False):
    """Strains of displacement modes at this rank's integration points.

    ``modes_owned``: ``(3 · n_owned_nodes, k)`` — this rank's owned nodal rows (PETSc order, interlaced), as
    produced by a POD of a field source with ``dm.redistributor("node")``. Returns ``(n_ip_local, 6, k)``
    Mandel strains ``ε(ψ_j)(x_q)``. ``cache``: use (and keep) the mesh's element geometry
    (:func:`~dromo.fem.operators.cached_geometry`, which an HF solver on ``dm`` holds anyway). Collective
    (one ghost exchange for all modes).
    """
    from petsc4py import PETSc
    modes_owned = np.asarray(modes_owned, dtype=np.float64)
    k = modes_owned.shape[1]
    if modes_owned.shape[0] != 3 * dm.n_owned_nodes:
        raise InputError(f"mode_strains: {modes_owned.shape[0]} rows, expected 3 × {dm.n_owned_nodes} owned "
                         f"nodes on rank {dm.comm.rank}")
    out = np.empty((dm.n_ip_local, 6, k))
    if k == 0:
        return out
    vec = dm.create_vector(3 * k)
    arr = vec.getArray()
    arr[:] = modes_owned.reshape(dm.n_owned_nodes, 3, k).transpose(0, 2, 1).reshape(-1)
    vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    with vec.localForm() as lf:
        loc = lf.getArray(readonly=True).reshape(dm.n_local_nodes, k, 3).copy()
    vec.destroy()
    for blk, s, e, dNdx, _dV in geometry_chunks(dm, cache):
        B = strain_displacement(dNdx)                                  # (ne, nq, 6, 3nn)
        ue = loc[blk.cells[s:e]]                                        # (ne, nn, k, 3)
        ue = ue.transpose(0, 1, 3, 2).reshape(e - s, -1, k)             # (ne, 3nn, k)
        eps = np.matmul(B.reshape(e - s, -1, B.shape[-1]), ue)          # (ne, nq*6, k)
        out[blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp] = eps.reshape(-1, 6, k)
    return out


def force_integrand(strains, stresses, tangents=None, stress_scale=None, comm=None):
    """Internal-force integrand ``g_{k,(i,j)} = ε(ψ_j)(x_k) : σ_i(x_k)``: ``(n_local, n_snap · n_modes)``.

    strains : (n_local, 6, n_modes) (:func:`mode_strains`); stresses : (n_local, 6, n_snap) Mandel
    (snapshots, or stress POD modes scaled by their singular values); column ``i · n_modes + j``.
    tangents : optional (n_local, 6, 6, n_t) tangent operators: adds the columns ``ε(ψ_j) : C_t ε(ψ_l)``,
    ``l ≥ j`` (the tangent-like terms), scaled by ``stress_scale / max|C|`` so they weigh like the forces
    (both maxima global over ``comm``; ``stress_scale`` defaults to ``max|σ|``). Collective with tangents.
    """
    E = np.asarray(strains, dtype=np.float64)
    S = np.asarray(stresses, dtype=np.float64)
    n, _, k = E.shape
    # one (m × 6)(6 × k) product per point: a batched matmul, ~20× faster than the einsum at these sizes
    cols = [np.matmul(S.transpose(0, 2, 1), E).reshape(n, -1)]
    if tangents is not None:
        C = np.asarray(tangents, dtype=np.float64)
        iu = np.triu_indices(k)
        comm = comm or MPI.COMM_WORLD
        smax = float(np.abs(S).max()) if S.size else 0.0
        cmax = float(np.abs(C).max()) if C.size else 0.0
        if comm.size > 1:
            smax, cmax = comm.allreduce(smax, op=MPI.MAX), comm.allreduce(cmax, op=MPI.MAX)
        smax = smax if stress_scale is None else float(stress_scale)
        sc = smax / cmax if cmax > 0 else 1.0
        for t in range(C.shape[-1]):
            CE = np.einsum("qcd,qdl->qcl", C[..., t], E, optimize=True)
            K = np.einsum("qcj,qcl->qjl", E, CE, optimize=True)
            cols.append(sc * K[:, iu[0], iu[1]])
    return np.concatenate(cols, axis=1)


def point_info(dm, ids):
    """Element and local quadrature index of natural ip ids on a :class:`DistributedMesh` (the same ids on
    every rank; collective).

    Returns dict with ``cell`` (natural cell index), ``element`` (external element id), ``qp`` (point
    index within the cell's rule), ``rank`` (owning rank). The owning rank of each point's cell fills in
    its element id and rank; one ``Allreduce`` of two ints per point shares them.
    """
    ids = np.asarray(ids, dtype=np.int64)
    cell, qp = dm.cell_of_ip(ids)
    found = np.zeros((2, ids.size), np.int64)
    for blk in dm.blocks:
        j = np.minimum(np.searchsorted(blk.natural, cell), max(0, blk.natural.size - 1))
        hit = blk.natural[j] == cell if blk.natural.size else np.zeros(ids.size, bool)
        found[0, hit] = blk.ids[j[hit]]
        found[1, hit] = dm.comm.rank
    total = np.empty_like(found)
    dm.comm.Allreduce(found, total)
    return {"cell": cell, "element": total[0], "qp": qp, "rank": total[1]}
