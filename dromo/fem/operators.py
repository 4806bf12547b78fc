"""Finite-element operators on the displacement field of a :class:`~dromo.mesh.DistributedMesh`.

All functions are collective and vectorized over the elements of each local block (processed in chunks
of ``CHUNK`` elements to bound memory). Displacements are interlaced nodal vectors (3 dofs per node),
strains and stresses Mandel 6-vectors at integration points in the rank's local integration-point order
(block by block, cell-major, point order of the rule).

Units: coordinates [L], Young's modulus and stresses [F/L²], density [M/L³], pressure [F/L²];
K is [F/L], M is [M], forces [F].
"""
import numpy as np

from .assembly import BlockMatrixAssembler, add_local
from .kinematics import element_geometry, facet_normals_and_areas, strain_displacement
from ..errors import InputError
from ..mesh.elements import get_element
from ..mesh.quadrature import element_rule

#: elements per assembly chunk (what the matrix assembler pre-sums at once: large chunks merge more
#: duplicate entries before the sort and the exchange)
CHUNK = 8192
#: elements per element-kernel sub-block inside a chunk: the B and C·B arrays of a sub-block stay near
#: the cache (whole 20000-cell hex8 chunks made the tangent 3× slower)
SUB = 1024


def cell_chunks(block):
    """``(start, stop)`` ranges of at most :data:`CHUNK` cells covering a local block (``block.cells``)."""
    n = len(block.cells)
    for s in range(0, n, CHUNK):
        yield s, min(n, s + CHUNK)


def block_geometry(dmesh, block, scheme=None, start=0, stop=None):
    """:class:`~dromo.fem.kinematics.ElementGeometry` of cells ``start:stop`` of a local block."""
    stop = len(block.cells) if stop is None else stop
    cells = block.cells[start:stop]
    return element_geometry(block.type, dmesh.points[cells], scheme or block.rule, block.ids[start:stop])


def _material_lookup(dmesh, value, name):
    """Return f(b, start, stop) -> value (array broadcastable over cells) from value or {set: value}."""
    if not isinstance(value, dict):
        return lambda b, s, e: value
    from ..parallel.errors import collective
    masks = {k: dmesh.element_set_mask(k) for k in value}
    index = []
    with collective(dmesh.comm):
        for b, blk in enumerate(dmesh.blocks):
            which = np.full(len(blk.cells), -1)
            for i, k in enumerate(value):
                which[masks[k][b]] = i
            if (which < 0).any():
                i = int(np.flatnonzero(which < 0)[0])
                raise InputError(f"{name}: element {blk.ids[i]} belongs to none of the element sets "
                                 f"{', '.join(value)}")
            index.append(which)
    table = np.stack([np.asarray(v, dtype=float) for v in value.values()])
    return lambda b, s, e: table[index[b][s:e]]


def _sub_blocks(n):
    for s in range(0, n, SUB):
        yield s, min(n, s + SUB)


def _chunk_stiffness(dNdx, C, dV):
    """Element stiffnesses Σ_q Bᵀ C B dV of a chunk, by sub-blocks: dNdx (ne, nq, nn, 3), C (6, 6) or
    (ne, 6, 6) or (ne, nq, 6, 6), dV (ne, nq) → (ne, 3nn, 3nn)."""
    ne, _nq, nn, _ = dNdx.shape
    C = np.asarray(C)
    out = np.empty((ne, 3 * nn, 3 * nn))
    for s, e in _sub_blocks(ne):
        out[s:e] = _element_stiffness(strain_displacement(dNdx[s:e]), C if C.ndim == 2 else C[s:e], dV[s:e])
    return out


def _element_stiffness(B, C, dV):
    """ke = Σ_q Bᵀ C B dV: B (ne, nq, 6, nd), C (6, 6), (ne, 6, 6) or (ne, nq, 6, 6), dV (ne, nq)."""
    C = np.asarray(C)
    if C.ndim == 2:
        CB = np.einsum("ij,eqjd->eqid", C, B, optimize=True)
    elif C.ndim == 3:
        CB = np.einsum("eij,eqjd->eqid", C, B, optimize=True)
    else:
        CB = np.matmul(C, B)
    CB *= dV[:, :, None, None]
    ne, nq, _, nd = B.shape
    return np.matmul(B.reshape(ne, nq * 6, nd).transpose(0, 2, 1), CB.reshape(ne, nq * 6, nd))


def stiffness_matrix(dmesh, elasticity, scheme=None):
    """Assembled linear-elastic stiffness K (PETSc MPIAIJ, bs=3).

    ``elasticity``: a Mandel (6, 6) stiffness [F/L²], or {element set name: (6, 6)}.
    ``scheme``: quadrature scheme (default: each block's own rule).
    """
    D = _material_lookup(dmesh, elasticity, "stiffness_matrix")
    asm = BlockMatrixAssembler(dmesh)
    for b, blk in enumerate(dmesh.blocks):
        for s, e in cell_chunks(blk):
            g = block_geometry(dmesh, blk, scheme, s, e)
            asm.add(blk.cells[s:e], _chunk_stiffness(g.dNdx, D(b, s, e), g.dV))
    return asm.assemble()


def cached_geometry(dmesh):
    """Per-chunk geometry of the local blocks at their own rules, computed once per mesh and cached on it.

    Returns a list of ``(block, start, stop, dNdx (ne, nq, nn, 3), dV (ne, nq))``. Memory: about
    (3 nn + 1) nq floats per cell (1.5 kB per hex8). Used by the Newton loop (:func:`tangent_matrix`,
    :func:`strain_at_ips`, :func:`internal_force`), which evaluates the same geometry many times.
    """
    cache = getattr(dmesh, "_fem_geometry_cache", None)
    if cache is None:
        cache = []
        for blk in dmesh.blocks:
            for s, e in cell_chunks(blk):
                g = block_geometry(dmesh, blk, None, s, e)
                cache.append((blk, s, e, g.dNdx, g.dV))
        dmesh._fem_geometry_cache = cache
    return cache


def geometry_chunks(dmesh, cache=False):
    """Element geometry of the local cells, chunk by chunk: yields ``(block, start, stop, dNdx, dV)``.

    ``block`` is a local block of ``dmesh``, ``start:stop`` its cells of the chunk (:func:`cell_chunks`),
    ``dNdx`` ``(ne, nq, nn, 3)`` the shape-function gradients and ``dV`` ``(ne, nq)`` the integration
    weights ``w_q detJ`` at the points of the block's rule. The points of cell ``c`` of the block are the
    local integration points ``block.ip_start + c · block.n_qp + q``. ``cache``: reuse (and keep) the
    geometry of every chunk on ``dmesh`` (:func:`cached_geometry`), for repeated assemblies.
    """
    if cache:
        yield from cached_geometry(dmesh)
        return
    for blk in dmesh.blocks:
        for s, e in cell_chunks(blk):
            g = block_geometry(dmesh, blk, None, s, e)
            yield blk, s, e, g.dNdx, g.dV


def tangent_matrix(dmesh, tangent, assembler=None, cache=True):
    """Assembled tangent stiffness Σ Bᵀ C_q B dV from a Mandel tangent per local integration point.

    ``tangent``: (n_ip_local, 6, 6) (∂σ/∂ε, need not be symmetric) or a constant (6, 6).
    ``assembler``: a :class:`BlockMatrixAssembler` created with ``keep_pattern=True`` to re-assemble on
    the same sparsity many times (Newton iterations): the sorting is done once, re-assembly is a sparse
    sum and the returned Mat is the same object, updated in place. Collective.
    """
    asm = assembler if assembler is not None else BlockMatrixAssembler(dmesh)
    tangent = np.asarray(tangent, dtype=float)
    for blk, s, e, dNdx, dV in geometry_chunks(dmesh, cache):
        if tangent.ndim == 2:
            C = tangent
        else:
            C = tangent[blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp].reshape(e - s, blk.n_qp, 6, 6)
        asm.add(blk.cells[s:e], _chunk_stiffness(dNdx, C, dV))
    return asm.assemble()


def mass_matrix(dmesh, density=1.0, scheme="mass"):
    """Consistent mass matrix M (PETSc MPIAIJ, bs=3) on the 3-component displacement space.

    ``density``: scalar [M/L³] or {element set: density}. With density 1, ``1ᵀ M_c 1`` (one component)
    is the volume. Default rule: the element's "mass" rule (exact for N_a N_b on affine elements).
    """
    rho = _material_lookup(dmesh, density, "mass_matrix")
    asm = BlockMatrixAssembler(dmesh)
    eye = np.eye(3)
    for b, blk in enumerate(dmesh.blocks):
        for s, e in cell_chunks(blk):
            g = block_geometry(dmesh, blk, scheme, s, e)
            r = np.asarray(rho(b, s, e), dtype=float)
            w = g.dV * (r[:, None] if r.ndim == 1 else r)
            m = np.einsum("eq,qa,qb->eab", w, g.N, g.N, optimize=True)   # (ne, nn, nn)
            ne, nn, _ = m.shape
            ke = (m[:, :, None, :, None] * eye[None, None, :, None, :]).reshape(ne, 3 * nn, 3 * nn)
            asm.add(blk.cells[s:e], ke)
    return asm.assemble()


def pressure_load(dmesh, facet_set, pressure, vec=None):
    """Consistent nodal forces of a uniform pressure [F/L²] on a facet set (acts against the outward
    normal: positive pressure pushes into the solid). Returns (or adds into) a ghosted Vec."""
    from petsc4py import PETSc
    if vec is None:
        vec = dmesh.create_vector(3)
    contrib_rows, contrib_vals = [], []
    for ftype, (coords, petsc_nodes) in dmesh.facet_set(facet_set).items():
        if len(coords) == 0:
            continue
        et = get_element(ftype)
        rule = element_rule(ftype, "full" if et.degree == 1 else "mass")
        N, dN = et.shape_and_dshape(rule.points)
        n, _dA = facet_normals_and_areas(coords, dN)                    # (nf, nq, 3)
        f = -pressure * np.einsum("q,qa,fqi->fai", rule.weights, N, n, optimize=True)
        contrib_rows.append((3 * petsc_nodes[..., None] + np.arange(3)).reshape(-1))
        contrib_vals.append(f.reshape(-1))
    rows = np.concatenate(contrib_rows) if contrib_rows else np.zeros(0, np.int64)
    vals = np.concatenate(contrib_vals) if contrib_vals else np.zeros(0)
    vec.setValues(rows.astype(PETSc.IntType), vals, addv=PETSc.InsertMode.ADD)
    vec.assemble()
    return vec


def strain_at_ips(dmesh, u_local, cache=False):
    """Small strain (Mandel) at this rank's integration points: u_local (n_local_nodes, 3) → (n_ip_local, 6).

    ``u_local`` holds owned and ghost nodal values (:meth:`DistributedMesh.to_local`).
    ``cache``: use (and fill) the mesh's geometry cache (:func:`cached_geometry`).
    """
    from .kinematics import strain_at_points
    u_local = np.asarray(u_local).reshape(dmesh.n_local_nodes, 3)
    out = np.empty((dmesh.n_ip_local, 6))
    for blk, s, e, dNdx, _dV in geometry_chunks(dmesh, cache):
        eps = strain_at_points(dNdx, u_local[blk.cells[s:e]])     # (ne, nq, 6)
        out[blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp] = eps.reshape(-1, 6)
    return out


def internal_force(dmesh, stress, vec=None, cache=False):
    """Internal forces f = Σ_e Σ_q Bᵀ σ dV from Mandel stresses (n_ip_local, 6) at the local points.

    ``cache``: use (and fill) the mesh's geometry cache (:func:`cached_geometry`).
    """
    local = np.zeros(3 * dmesh.n_local_nodes)
    stress = np.asarray(stress).reshape(dmesh.n_ip_local, 6)
    for blk, s, e, dNdx, dV in geometry_chunks(dmesh, cache):
        sig = stress[blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp].reshape(e - s, blk.n_qp, 6)
        fe = np.concatenate([np.einsum("eqid,eqi,eq->ed", strain_displacement(dNdx[a:b]), sig[a:b], dV[a:b],
                                       optimize=True) for a, b in _sub_blocks(e - s)])
        dofs = (3 * blk.cells[s:e][..., None] + np.arange(3)).reshape(e - s, -1)
        local += np.bincount(dofs.reshape(-1), weights=fe.reshape(-1), minlength=local.size)
    if vec is None:
        vec = dmesh.create_vector(3)
    add_local(dmesh, vec, local)
    return vec


def ip_weights(dmesh):
    """Quadrature weights w_q·detJ [L³] of this rank's integration points: (n_ip_local,)."""
    out = np.empty(dmesh.n_ip_local)
    for blk in dmesh.blocks:
        for s, e in cell_chunks(blk):
            g = block_geometry(dmesh, blk, None, s, e)
            out[blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp] = g.dV.reshape(-1)
    return out


def ip_coordinates(dmesh):
    """Physical coordinates of this rank's integration points: (n_ip_local, 3)."""
    out = np.empty((dmesh.n_ip_local, 3))
    for blk in dmesh.blocks:
        for s, e in cell_chunks(blk):
            g = block_geometry(dmesh, blk, None, s, e)
            out[blk.ip_start + s * blk.n_qp: blk.ip_start + e * blk.n_qp] = g.points.reshape(-1, 3)
    return out


def body_force(dmesh, force, vec=None, density=None):
    """Consistent nodal forces of a body force density [F/L³]: ``force(x) -> (n, 3)`` at points
    ``x (n, 3)``, or a constant 3-vector. Returns (or adds into) a ghosted Vec.

    ``density``: optional factor per element, scalar or {element set: value} (e.g. ρ, with ``force``
    an acceleration: gravity, centrifugal).
    """
    return body_forces(dmesh, [(force, density)], [vec])[0]


def body_forces(dmesh, loads, vecs=None):
    """:func:`body_force` of several ``loads`` ``[(force, density)]`` in one pass over the elements: the
    element geometry (the costly part) is computed once per chunk for all of them, each load's nodal
    forces exactly as :func:`body_force` computes them alone. A density given as the same object to several
    loads is looked up once. ``vecs``: optional ghosted Vecs to add into (None entries: new ones). Returns
    the list of Vecs. Collective."""
    loads = list(loads)
    vecs = list(vecs) if vecs is not None else [None] * len(loads)
    local = [np.zeros(3 * dmesh.n_local_nodes) for _ in loads]
    lookups = {}
    for _force, density in loads:
        if density is not None and id(density) not in lookups:
            lookups[id(density)] = _material_lookup(dmesh, density, "body_force")
    for b, blk in enumerate(dmesh.blocks):
        for s, e in cell_chunks(blk):
            g = block_geometry(dmesh, blk, "mass", s, e)
            x = g.points.reshape(-1, 3)
            dofs = (3 * blk.cells[s:e][..., None] + np.arange(3)).reshape(-1)
            for (force, density), loc in zip(loads, local):
                bx = force(x) if callable(force) else np.broadcast_to(np.asarray(force, float), (x.shape[0], 3))
                bx = np.asarray(bx).reshape(e - s, -1, 3)
                if density is not None:
                    r = np.asarray(lookups[id(density)](b, s, e), dtype=float)
                    bx = bx * (r[:, None, None] if r.ndim == 1 else r)
                fe = np.einsum("qa,eqi,eq->eai", g.N, bx, g.dV, optimize=True)
                loc += np.bincount(dofs, weights=fe.reshape(-1), minlength=loc.size)
    out = []
    for vec, loc in zip(vecs, local):
        if vec is None:
            vec = dmesh.create_vector(3)
        add_local(dmesh, vec, loc)
        out.append(vec)
    return out
