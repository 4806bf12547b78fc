"""Geometry and small-strain kinematics at integration points, vectorized over elements and points.

Shapes: ``ne`` elements, ``nq`` points per element, ``nn`` nodes per element, ``nf`` facets.
Coordinates are in the mesh length unit L; gradients dN/dx in 1/L; det J in L^3 per unit reference
volume (L^2 per unit reference area for facets).  Strains are Mandel vectors in the order
xx, yy, zz, xy, xz, yz with the shear components × √2 (``a:b == a @ b``).  Element dofs are interlaced:
dof 3*a + c is component c of local node a.

Large arrays: ``dNdx`` holds ne*nq*nn*3 doubles (hex20, full rule: 1620 per element); callers that
process big meshes pass the elements in chunks.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import InputError
from ..mesh.elements import get_element, jacobians
from ..mesh.quadrature import element_rule

__all__ = ["jacobians", "strain_displacement", "integration_points", "facet_normals_and_areas",
           "displacement_gradient", "strain_at_points", "sym_mandel", "ElementGeometry",
           "element_geometry", "SQRT2"]

SQRT2 = np.sqrt(2.0)
_R2 = 1.0 / SQRT2


def strain_displacement(dNdx):
    """Small-strain B matrices, Mandel rows (xx, yy, zz, √2 xy, √2 xz, √2 yz), interlaced columns.

    dNdx (ne, nq, nn, 3) → B (ne, nq, 6, 3*nn) with ε = B @ u_e, u_e[3a+c] = u_c(node a) [1/L].
    """
    d = np.asarray(dNdx)
    ne, nq, nn, _ = d.shape
    B = np.zeros((ne, nq, 6, nn, 3), dtype=d.dtype)
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    B[:, :, 0, :, 0] = dx
    B[:, :, 1, :, 1] = dy
    B[:, :, 2, :, 2] = dz
    B[:, :, 3, :, 0] = dy * _R2
    B[:, :, 3, :, 1] = dx * _R2
    B[:, :, 4, :, 0] = dz * _R2
    B[:, :, 4, :, 2] = dx * _R2
    B[:, :, 5, :, 1] = dz * _R2
    B[:, :, 5, :, 2] = dy * _R2
    return B.reshape(ne, nq, 6, 3 * nn)


def integration_points(coords, N):
    """Physical coordinates x = Σ_a N_a(ξ_q) X_a: coords (ne, nn, 3), N (nq, nn) → (ne, nq, 3)."""
    return np.einsum("qa,eai->eqi", np.asarray(N, float), np.asarray(coords, float), optimize=True)


def facet_normals_and_areas(coords, dN):
    """Area-scaled normals of facets at points.

    coords (nf, nfn, 3), dN (nq, nfn, 2) facet reference gradients → (n, dA):
    n (nf, nq, 3) = ∂x/∂ξ × ∂x/∂η (outward for the faces of :mod:`dromo.mesh.elements`), [L^2];
    dA (nf, nq) = |n|, the area per unit reference area.  Σ_q w_q n_q is the facet's area vector and
    the consistent load of a pressure p (acting against the normal) is f_a = -Σ_q w_q p N_a(ξ_q) n_q.
    """
    t = np.einsum("fai,qaj->fqij", np.asarray(coords, float), np.asarray(dN, float), optimize=True)
    n = np.cross(t[..., 0], t[..., 1])
    return n, np.linalg.norm(n, axis=-1)


def displacement_gradient(dNdx, u_elem):
    """H = ∇u at points: dNdx (ne, nq, nn, 3), u_elem (..., ne, nn, 3) → (..., ne, nq, 3, 3) with
    ``H[..., c, i] = ∂u_c/∂x_i``.  Leading axes of u_elem (e.g. snapshots) are kept."""
    u = np.asarray(u_elem)
    return np.matmul(np.swapaxes(u, -1, -2)[..., :, None, :, :], dNdx)  # Σ_a u[e,a,c] dNdx[e,q,a,i]


def sym_mandel(H):
    """Symmetric part of (..., 3, 3) tensors as Mandel vectors (..., 6)."""
    return np.stack([H[..., 0, 0], H[..., 1, 1], H[..., 2, 2],
                     (H[..., 0, 1] + H[..., 1, 0]) * _R2,
                     (H[..., 0, 2] + H[..., 2, 0]) * _R2,
                     (H[..., 1, 2] + H[..., 2, 1]) * _R2], axis=-1)


def strain_at_points(dNdx, u_elem):
    """Small strain (Mandel) at points: dNdx (ne, nq, nn, 3), u_elem (..., ne, nn, 3) or
    (..., ne, 3*nn) interlaced → ε (..., ne, nq, 6) (dimensionless)."""
    u = np.asarray(u_elem)
    nn = dNdx.shape[2]
    if u.shape[-1] == 3 * nn:
        u = u.reshape(u.shape[:-1] + (nn, 3))
    return sym_mandel(displacement_gradient(dNdx, u))


class ElementGeometry(NamedTuple):
    """Everything an operator needs at the integration points of one block of elements."""
    N: np.ndarray         # (nq, nn) shape functions
    dNdx: np.ndarray      # (ne, nq, nn, 3) [1/L]
    detJ: np.ndarray      # (ne, nq) [L^3]
    dV: np.ndarray        # (ne, nq) integration weights w_q * detJ [L^3]
    points: np.ndarray    # (ne, nq, 3) physical coordinates [L]


def element_geometry(element_type, coords, scheme="full", element_ids=None):
    """Geometry of elements of one type at the points of a rule (see
    :func:`dromo.mesh.quadrature.element_rule`): coords (ne, nn, 3) → :class:`ElementGeometry`."""
    et = get_element(element_type)
    if et.dim != 3:
        raise InputError(f"element_geometry needs a volume element type, got {element_type!r} "
                         "(use facet_normals_and_areas for facets)")
    coords = np.asarray(coords, float)
    if coords.ndim != 3 or coords.shape[1:] != (et.n_nodes, 3):
        raise InputError(f"coordinates of {element_type} elements must have shape (ne, "
                         f"{et.n_nodes}, 3), got {coords.shape}")
    rule = element_rule(element_type, scheme)
    N, dN = et.shape_and_dshape(rule.points)
    _J, detJ, dNdx = jacobians(coords, dN, element_ids, element_type)
    return ElementGeometry(N, dNdx, detJ, detJ * rule.weights, integration_points(coords, N))
