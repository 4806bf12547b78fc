"""Reference element library (Lagrange / serendipity), vectorized over reference points.

Element types: volume ``tet4 tet10 hex8 hex20 wedge6 wedge15``; facet ``tri3 tri6 quad4 quad8``.

Node orderings are VTK/meshio = Abaqus/CalculiX (0-based here):

* tet4/tet10: corners 0..3 at (0,0,0), (1,0,0), (0,1,0), (0,0,1); tet10 edge nodes 4..9 on edges
  01, 12, 20, 03, 13, 23.  Reference domain: unit simplex.
* hex8/hex20: corners 0..3 on ζ=-1 counter-clockwise seen from +ζ starting at (-1,-1,-1), 4..7 above
  them on ζ=+1; hex20 edge nodes 8..19 on edges 01,12,23,30, 45,56,67,74, 04,15,26,37.  [-1,1]^3.
* wedge6: 0,1,2 at (ξ,η) = (0,0), (1,0), (0,1) on ζ=-1, 3,4,5 above them on ζ=+1 (VTK wedge, Abaqus
  C3D6).  Reference domain: unit triangle × [-1,1].
* wedge15 (serendipity, Abaqus C3D15, VTK quadratic wedge): the corners of wedge6, then mid-edge nodes
  6..14 on edges 01, 12, 20 (ζ=-1), 34, 45, 53 (ζ=+1), 03, 14, 25 (vertical).
* tri3/tri6: corners (0,0), (1,0), (0,1); tri6 edge nodes on 01, 12, 20.  quad4/quad8: corners
  (-1,-1), (1,-1), (1,1), (-1,1); quad8 edge nodes on 01, 12, 23, 30.

Faces: ``ElementType.faces[k]`` is Abaqus/CalculiX face ``S{k+1}`` (so ``*SURFACE`` definitions with
``S1``… map directly), given as local node indices in facet-type order, oriented so that
``∂x/∂ξ × ∂x/∂η`` of the facet map points **out of** the element (Abaqus lists the same nodes the
other way round, normal inwards).

Shapes: ``shape(xi)`` takes reference points ``xi`` (nq, dim) and returns N (nq, nn);
``dshape(xi)`` returns dN/dξ (nq, nn, dim).  Everything is dimensionless.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["ElementType", "ELEMENTS", "VOLUME_TYPES", "FACET_TYPES", "get_element", "jacobians", "raise_inverted",
           "shape_functions", "shape_derivatives"]

# --------------------------------------------------------------------------------------------
# shape-function kernels (all vectorized over points)


def _simplex(xi, dim, order, edges):
    """Lagrange P1/P2 on the unit simplex through barycentric coordinates L0 = 1 - Σξ, Li = ξ_i."""
    xi = np.asarray(xi, float).reshape(-1, dim)
    L = np.column_stack([1.0 - xi.sum(1), xi])                       # (nq, dim+1)
    dL = np.vstack([-np.ones(dim), np.eye(dim)])                      # (dim+1, dim)
    if order == 1:
        return L, np.broadcast_to(dL, (len(xi),) + dL.shape).copy()
    a, b = np.array(edges).T
    N = np.concatenate([L * (2 * L - 1), 4 * L[:, a] * L[:, b]], axis=1)
    dN = np.concatenate([(4 * L - 1)[:, :, None] * dL[None],
                         4 * (L[:, a, None] * dL[None, b] + L[:, b, None] * dL[None, a])], axis=1)
    return N, dN


def _cube(xi, nodes):
    """Trilinear/bilinear Lagrange (all nodes at ±1) or serendipity (corner + mid-edge nodes, one
    zero coordinate) shape functions on [-1,1]^d, nodes (nn, d) reference coordinates."""
    d = nodes.shape[1]
    xi = np.asarray(xi, float).reshape(-1, d)
    x = xi[:, None, :]                                                # (nq, 1, d)
    a = nodes[None]                                                   # (1, nn, d)
    mid = a == 0
    f = np.where(mid, 1 - x * x, 1 + x * a)                          # (nq, nn, d) factors
    df = np.where(mid, -2 * x + 0 * a, a + 0 * x)                    # their derivatives
    prod_except = np.stack([np.prod(np.delete(f, j, axis=2), axis=2) for j in range(d)], axis=2)
    P = np.prod(f, axis=2)                                            # (nq, nn)
    dP = df * prod_except                                             # (nq, nn, d)
    corner = ~mid.any(axis=2)[0]                                      # (nn,)
    serendipity = mid.any()
    scale = np.where(corner, 0.5 ** d, 0.5 ** (d - 1))
    if serendipity:   # corners: P * (Σ ξ_i a_i - (d-1))
        S = (x * a).sum(axis=2) - (d - 1)
        dN = np.where(corner[None, :, None], dP * S[..., None] + P[..., None] * a, dP)
        N = np.where(corner[None], P * S, P)
    else:
        N, dN = P, dP
    return N * scale, dN * scale[None, :, None]


def _prism(xi, tri_nodes_fn):
    """Wedge = triangle P1 × line P1; node k = tri node k % 3 at line node k // 3 (ζ = -1, +1)."""
    xi = np.asarray(xi, float).reshape(-1, 3)
    Nt, dNt = tri_nodes_fn(xi[:, :2])                                 # (nq,3), (nq,3,2)
    z = xi[:, 2:3]
    g = np.concatenate([(1 - z) / 2, (1 + z) / 2], axis=1)           # (nq, 2)
    dg = np.array([-0.5, 0.5])
    N = (g[:, :, None] * Nt[:, None, :]).reshape(len(xi), 6)
    dN = np.concatenate([(g[:, :, None, None] * dNt[:, None]).reshape(len(xi), 6, 2),
                         (dg[None, :, None] * Nt[:, None, :]).reshape(len(xi), 6, 1)], axis=2)
    return N, dN


def _prism15(xi):
    """15-node serendipity wedge.  With the triangle's barycentric coordinates L_i (L_0 = 1 - ξ - η,
    L_1 = ξ, L_2 = η) and ζ_k = ±1 the level of node k:
    corner k (over triangle node i):  ½ L_i (1 + ζ_k ζ)(2 L_i + ζ_k ζ - 2);
    mid-edge node of the triangle edge i-j at level ζ_k:  2 L_i L_j (1 + ζ_k ζ);
    mid-height node over triangle node i:  L_i (1 - ζ²)."""
    xi = np.asarray(xi, float).reshape(-1, 3)
    nq = len(xi)
    L = np.column_stack([1.0 - xi[:, 0] - xi[:, 1], xi[:, 0], xi[:, 1]])     # (nq, 3)
    dL = np.array([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]])                     # dL_i/d(ξ, η)
    z = xi[:, 2:3]                                                            # (nq, 1)
    N = np.empty((nq, 15))
    dN = np.empty((nq, 15, 3))
    for level, zk in ((0, -1.0), (1, 1.0)):
        f = 1 + zk * z                                                       # (nq, 1)
        c = slice(3 * level, 3 * level + 3)
        g = 2 * L + zk * z - 2
        N[:, c] = 0.5 * L * f * g
        dNdL = 0.5 * f * (g + 2 * L)                                          # ∂N/∂L_i
        dN[:, c, :2] = dNdL[:, :, None] * dL[None]
        dN[:, c, 2] = 0.5 * L * zk * (g + f)
        for k, (i, j) in enumerate(_TRI_EDGES):
            n = 6 + 3 * level + k
            N[:, n] = 2 * L[:, i] * L[:, j] * f[:, 0]
            dN[:, n, :2] = 2 * f * (L[:, j:j + 1] * dL[i] + L[:, i:i + 1] * dL[j])
            dN[:, n, 2] = 2 * L[:, i] * L[:, j] * zk
    N[:, 12:] = L * (1 - z * z)
    dN[:, 12:, :2] = (1 - z * z)[:, :, None] * dL[None]
    dN[:, 12:, 2] = -2 * L * z
    return N, dN


# --------------------------------------------------------------------------------------------
# element table


@dataclass(frozen=True, eq=False)
class ElementType:
    """One reference element.

    Attributes
    ----------
    name : str                  "tet4", …, "quad8"
    dim : int                   reference dimension (3 volume, 2 facet)
    n_nodes : int
    ref_nodes : (nn, dim)       reference coordinates of the nodes
    corners : tuple[int]        local indices of the vertex nodes
    linear : str                the type with the corner nodes only ("tet10" → "tet4")
    faces : tuple[(str, tuple[int])]  (facet type, local nodes) of Abaqus face S1, S2, …, outward
    edges : tuple[(int, int)]   corner pairs of the edges, in mid-node order (quadratic types)
    domain : str                reference domain / quadrature family: tet hex wedge tri quad
    degree : int                polynomial order (1 or 2)
    """
    name: str
    dim: int
    ref_nodes: np.ndarray
    corners: tuple
    linear: str
    domain: str
    degree: int
    edges: tuple = ()
    faces: tuple = ()
    _kernel: object = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.ref_nodes)

    @property
    def n_faces(self) -> int:
        return len(self.faces)

    def shape(self, xi) -> np.ndarray:
        """N (nq, nn) at reference points xi (nq, dim)."""
        return self._kernel(xi)[0]

    def dshape(self, xi) -> np.ndarray:
        """dN/dξ (nq, nn, dim) at reference points xi (nq, dim)."""
        return self._kernel(xi)[1]

    def shape_and_dshape(self, xi):
        """(N (nq, nn), dN/dξ (nq, nn, dim))."""
        return self._kernel(xi)

    def face_nodes(self) -> list:
        """List of local node index arrays, one per face (lengths differ for wedges)."""
        return [np.array(nodes) for _t, nodes in self.faces]


_TET_EDGES = ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3))
_HEX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
              (0, 4), (1, 5), (2, 6), (3, 7))
_TRI_EDGES = ((0, 1), (1, 2), (2, 0))
_QUAD_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0))
# outward corner cycles of Abaqus faces S1.. (Abaqus order reversed)
_TET_FACES = ((0, 2, 1), (0, 1, 3), (1, 2, 3), (2, 0, 3))
_HEX_FACES = ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7))
_WEDGE_EDGES = ((0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5))
_WEDGE_FACES = ((0, 2, 1), (3, 4, 5), (0, 1, 4, 3), (1, 2, 5, 4), (2, 0, 3, 5))

_HEX8_REF = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                      [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], float)
_QUAD4_REF = _HEX8_REF[:4, :2].copy()
_TET4_REF = np.vstack([np.zeros(3), np.eye(3)])
_TRI3_REF = np.vstack([np.zeros(2), np.eye(2)])


def _with_midnodes(ref, edges):
    return np.vstack([ref, 0.5 * (ref[[a for a, _ in edges]] + ref[[b for _, b in edges]])])


def _faces(cycles, edges, quadratic):
    """Facet-type node lists of faces from their corner cycles (+ mid-edge nodes if quadratic)."""
    mid = {frozenset(e): len({v for e2 in edges for v in e2}) + k for k, e in enumerate(edges)}
    out = []
    for c in cycles:
        ftype = {3: "tri", 4: "quad"}[len(c)]
        if quadratic:
            nodes = tuple(c) + tuple(mid[frozenset((c[i], c[(i + 1) % len(c)]))] for i in range(len(c)))
            out.append((ftype + ("6" if len(c) == 3 else "8"), nodes))
        else:
            out.append((ftype + str(len(c)), tuple(c)))
    return tuple(out)


def _make():
    tri6_ref = _with_midnodes(_TRI3_REF, _TRI_EDGES)
    quad8_ref = _with_midnodes(_QUAD4_REF, _QUAD_EDGES)
    tet10_ref = _with_midnodes(_TET4_REF, _TET_EDGES)
    hex20_ref = _with_midnodes(_HEX8_REF, _HEX_EDGES)
    wedge_ref = np.column_stack([np.tile(_TRI3_REF, (2, 1)), np.repeat([-1.0, 1.0], 3)])
    tri3_k = lambda xi: _simplex(xi, 2, 1, ())                      # noqa: E731
    E = [
        ElementType("tri3", 2, _TRI3_REF, (0, 1, 2), "tri3", "tri", 1, (), (), tri3_k),
        ElementType("tri6", 2, tri6_ref, (0, 1, 2), "tri3", "tri", 2, _TRI_EDGES, (),
                    lambda xi: _simplex(xi, 2, 2, _TRI_EDGES)),
        ElementType("quad4", 2, _QUAD4_REF, (0, 1, 2, 3), "quad4", "quad", 1, (), (),
                    lambda xi: _cube(xi, _QUAD4_REF)),
        ElementType("quad8", 2, quad8_ref, (0, 1, 2, 3), "quad4", "quad", 2, _QUAD_EDGES, (),
                    lambda xi: _cube(xi, quad8_ref)),
        ElementType("tet4", 3, _TET4_REF, (0, 1, 2, 3), "tet4", "tet", 1, (),
                    _faces(_TET_FACES, (), False), lambda xi: _simplex(xi, 3, 1, ())),
        ElementType("tet10", 3, tet10_ref, (0, 1, 2, 3), "tet4", "tet", 2, _TET_EDGES,
                    _faces(_TET_FACES, _TET_EDGES, True), lambda xi: _simplex(xi, 3, 2, _TET_EDGES)),
        ElementType("hex8", 3, _HEX8_REF, tuple(range(8)), "hex8", "hex", 1, (),
                    _faces(_HEX_FACES, (), False), lambda xi: _cube(xi, _HEX8_REF)),
        ElementType("hex20", 3, hex20_ref, tuple(range(8)), "hex8", "hex", 2, _HEX_EDGES,
                    _faces(_HEX_FACES, _HEX_EDGES, True), lambda xi: _cube(xi, hex20_ref)),
        ElementType("wedge6", 3, wedge_ref, tuple(range(6)), "wedge6", "wedge", 1, (),
                    _faces(_WEDGE_FACES, (), False), lambda xi: _prism(xi, tri3_k)),
        ElementType("wedge15", 3, _with_midnodes(wedge_ref, _WEDGE_EDGES), tuple(range(6)), "wedge6",
                    "wedge", 2, _WEDGE_EDGES, _faces(_WEDGE_FACES, _WEDGE_EDGES, True), _prism15),
    ]
    for e in E:
        e.ref_nodes.setflags(write=False)
    return {e.name: e for e in E}


#: all element types by name
ELEMENTS: dict[str, ElementType] = _make()
VOLUME_TYPES = ("tet4", "tet10", "hex8", "hex20", "wedge6", "wedge15")
FACET_TYPES = ("tri3", "tri6", "quad4", "quad8")


def get_element(name: str) -> ElementType:
    """Element type by name; raise InputError naming the unknown type."""
    try:
        return ELEMENTS[name]
    except KeyError:
        raise InputError(f"unknown element type {name!r} (known: {', '.join(ELEMENTS)})") from None


def shape_functions(name: str, xi) -> np.ndarray:
    """N (nq, nn) of element type ``name`` at reference points xi (nq, dim)."""
    return get_element(name).shape(xi)


def shape_derivatives(name: str, xi) -> np.ndarray:
    """dN/dξ (nq, nn, dim) of element type ``name`` at reference points xi (nq, dim)."""
    return get_element(name).dshape(xi)


def jacobians(coords, dN, element_ids=None, element_type=None):
    """Jacobians and physical shape-function gradients.

    Parameters
    ----------
    coords : (ne, nn, 3) node coordinates of each element [L]
    dN : (nq, nn, 3) reference gradients dN/dξ (``ElementType.dshape``)
    element_ids : (ne,) ids used in error messages (default: 0..ne-1)
    element_type : optional type name for error messages

    Returns
    -------
    J : (ne, nq, 3, 3), ``J[e,q,i,j] = ∂x_i/∂ξ_j``
    detJ : (ne, nq) [L^3]
    dNdx : (ne, nq, nn, 3), ``dNdx[e,q,a,i] = ∂N_a/∂x_i`` [1/L]

    Raises
    ------
    InputError naming the element(s) where det J ≤ 0 (inverted or degenerate) or is not finite.
    """
    X = np.asarray(coords, float)
    dN = np.asarray(dN, float)
    J = np.matmul(np.swapaxes(X, 1, 2)[:, None], dN[None])           # Σ_a X[e,a,i] dN[q,a,j]
    g0, g1, g2 = J[..., 0], J[..., 1], J[..., 2]                       # columns ∂x/∂ξ_j
    c12, c20, c01 = np.cross(g1, g2), np.cross(g2, g0), np.cross(g0, g1)
    detJ = np.einsum("eqi,eqi->eq", g0, c12)
    bad = ~(detJ > 0)                                                 # also catches NaN
    if bad.any():
        raise_inverted(bad, detJ, element_ids, element_type)
    invJ = np.stack([c12, c20, c01], axis=2) / detJ[..., None, None]  # invJ[e,q,j,i] = ∂ξ_j/∂x_i
    dNdx = np.matmul(dN[None], invJ)                                  # Σ_j dN[q,a,j] invJ[e,q,j,i]
    return J, detJ, dNdx


def raise_inverted(bad, detJ, element_ids, element_type):
    """InputError naming (up to five of) the elements where ``bad`` ``(ne, nq)`` flags det J <= 0."""
    el = np.flatnonzero(bad.any(axis=1))
    ids = np.arange(bad.shape[0]) if element_ids is None else np.asarray(element_ids)
    q = bad[el].argmax(axis=1)
    items = [f"element {ids[e]} (det J = {detJ[e, k]:.3g} at integration point {k})"
             for e, k in zip(el[:5], q[:5])]
    more = f" and {len(el) - 5} more" if len(el) > 5 else ""
    kind = f" {element_type}" if element_type else ""
    raise InputError(f"inverted or degenerate{kind} element{'s' if len(el) > 1 else ''} "
                     f"(det J <= 0): " + ", ".join(items) + more)
