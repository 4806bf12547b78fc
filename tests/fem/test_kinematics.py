"""Jacobians, B matrices, strains, facet normals (serial)."""
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.fem.kinematics import (SQRT2, displacement_gradient, element_geometry,
                                  facet_normals_and_areas, integration_points, jacobians,
                                  strain_at_points, strain_displacement, sym_mandel)
from dromo.mesh.elements import FACET_TYPES, VOLUME_TYPES, get_element
from dromo.mesh.quadrature import SCHEMES, element_rule


def distorted_block(et, ne, rng, curved=True, scale=0.04):
    """(ne, nn, 3) randomly mapped, valid elements: random affine map (det > 0) per element plus a
    random node perturbation; curved=False keeps quadratic elements on their linear geometry."""
    A = np.eye(3) + 0.2 * rng.standard_normal((ne, 3, 3))
    A[np.linalg.det(A) < 0, :, 0] *= -1
    ref = np.column_stack([et.ref_nodes, np.zeros((et.n_nodes, 3 - et.dim))])
    X = np.einsum("aj,eij->eai", ref, A) + rng.standard_normal((ne, 1, 3))
    X = X + scale * rng.standard_normal(X.shape)
    if not curved and et.degree == 2:
        X = np.einsum("ab,ebi->eai", get_element(et.linear).shape(et.ref_nodes),
                      X[:, list(et.corners)])
    return X


def mandel(S):
    return np.array([S[0, 0], S[1, 1], S[2, 2], SQRT2 * S[0, 1], SQRT2 * S[0, 2], SQRT2 * S[1, 2]])


@pytest.mark.parametrize("scheme", ["full", "reduced", "mass"])
@pytest.mark.parametrize("name", VOLUME_TYPES)
def test_patch_linear_field_constant_strain(name, scheme):
    """u = G x + c on distorted elements → ε = sym(G) at every point, through B and through
    strain_at_points; rigid motions (skew G) → zero strain."""
    et = get_element(name)
    rng = np.random.default_rng(10)
    ne = 7
    X = distorted_block(et, ne, rng)
    geo = element_geometry(name, X, scheme)
    nq = len(element_rule(name, scheme).weights)
    assert geo.dNdx.shape == (ne, nq, et.n_nodes, 3) and geo.detJ.shape == (ne, nq)
    G = 1e-3 * rng.standard_normal((3, 3))
    u = X @ G.T + rng.standard_normal(3)
    eps = strain_at_points(geo.dNdx, u)
    assert eps.shape == (ne, nq, 6)
    assert np.allclose(eps, mandel((G + G.T) / 2), rtol=0, atol=1e-14)
    B = strain_displacement(geo.dNdx)
    assert B.shape == (ne, nq, 6, 3 * et.n_nodes)
    assert np.allclose(np.einsum("eqij,ej->eqi", B, u.reshape(ne, -1)), eps, atol=1e-15)
    assert np.allclose(strain_at_points(geo.dNdx, u.reshape(ne, -1)), eps, atol=1e-15)
    assert np.allclose(displacement_gradient(geo.dNdx, u), G, atol=1e-14)
    W = rng.standard_normal((3, 3)) * 1e-2
    W = W - W.T
    rigid = X @ W.T + rng.standard_normal(3)
    tol = 3e-14 if name == "wedge15" else 1e-14     # round-off (wedge15: seen 1.6e-14)
    assert np.abs(strain_at_points(geo.dNdx, rigid)).max() < tol
    assert np.abs(np.einsum("eqij,ej->eqi", B, rigid.reshape(ne, -1))).max() < tol


def test_strain_snapshot_batch_and_mandel_energy():
    et = get_element("hex8")
    rng = np.random.default_rng(11)
    X = distorted_block(et, 3, rng)
    geo = element_geometry("hex8", X)
    U = rng.standard_normal((4, 3, 8, 3))                              # 4 snapshots
    eps = strain_at_points(geo.dNdx, U)
    assert eps.shape == (4, 3, 8, 6)
    assert np.allclose(eps[2], strain_at_points(geo.dNdx, U[2]))
    H = displacement_gradient(geo.dNdx, U)
    E = 0.5 * (H + np.swapaxes(H, -1, -2))
    assert np.allclose(np.einsum("...ij,...ij->...", E, E), np.einsum("...i,...i->...", eps, eps))
    assert np.allclose(sym_mandel(H), eps)


@pytest.mark.parametrize("name", VOLUME_TYPES)
def test_volume_exact(name):
    """Σ w detJ equals the exact volume: full rule on any distortion for hex8/hex20/wedge6/tet4 and on
    straight-sided tet10/wedge15; the mass rule on curved tet10 (det J cubic).  Exact reference: divergence
    theorem on the faces, checked independently on a known box."""
    et = get_element(name)
    rng = np.random.default_rng(12)
    curved = name not in ("tet10", "wedge15")
    X = distorted_block(et, 5, rng, curved=curved)
    vol_full = element_geometry(name, X, "full").dV.sum(1)
    vol_mass = element_geometry(name, X, "mass").dV.sum(1)
    # divergence theorem with exact face rules
    flux = np.zeros(5)
    for ftype, nodes in et.faces:
        ft = get_element(ftype)
        r = element_rule(ftype, "mass")
        N, dN = ft.shape_and_dshape(r.points)
        n, _ = facet_normals_and_areas(X[:, list(nodes)], dN)
        flux += np.einsum("q,fqi,fqi->f", r.weights, integration_points(X[:, list(nodes)], N), n) / 3
    assert np.allclose(vol_full, flux, rtol=1e-12)
    assert np.allclose(vol_mass, flux, rtol=1e-12)
    if name == "tet10":
        Xc = distorted_block(et, 5, rng, curved=True)
        v15 = element_geometry(name, Xc, "mass").dV.sum(1)
        v_hi = element_geometry(name, Xc, "tet15").dV.sum(1)
        assert np.allclose(v15, v_hi)
    # an axis-aligned box of sides 1, 2, 3: exact volume 6 (wedge/tet: half / sixth of it)
    box = et.ref_nodes * 1.0
    lo, hi = box.min(0), box.max(0)
    Xb = (box - lo) / (hi - lo) * np.array([1.0, 2.0, 3.0])
    frac = {"tet": 1 / 6, "hex": 1.0, "wedge": 0.5}[et.domain]
    assert np.isclose(element_geometry(name, Xb[None]).dV.sum(), 6 * frac, rtol=1e-14)


def test_integration_points_affine():
    et = get_element("tet10")
    r = element_rule("tet10")
    A = np.array([[2.0, 0.1, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.5]])
    c = np.array([1.0, -2.0, 0.5])
    X = (et.ref_nodes @ A.T + c)[None]
    assert np.allclose(integration_points(X, et.shape(r.points))[0], r.points @ A.T + c)
    J, detJ, _ = jacobians(X, et.dshape(r.points))
    assert np.allclose(J, A) and np.allclose(detJ, np.linalg.det(A))


@pytest.mark.parametrize("name", VOLUME_TYPES)
def test_inverted_element_named(name):
    et = get_element(name)
    rng = np.random.default_rng(13)
    X = distorted_block(et, 4, rng, scale=0.0)
    X[2] = X[2] * np.array([1.0, 1.0, -1.0])          # mirror: det J < 0 everywhere
    ids = np.array([100, 101, 4711, 103])
    with pytest.raises(InputError, match=r"element 4711 \(det J = -"):
        element_geometry(name, X, element_ids=ids)
    X[2] = X[0]
    X[2, :, :] = X[2, :1, :]                            # collapsed to a point: det J = 0
    with pytest.raises(InputError, match="element 4711"):
        jacobians(X, et.dshape(element_rule(name).points), element_ids=ids, element_type=name)


def test_inverted_message_lists_several():
    et = get_element("tet4")
    X = np.tile(et.ref_nodes, (9, 1, 1))
    X[1:8] = X[1:8][:, [1, 0, 2, 3]]
    with pytest.raises(InputError, match=r"tet4 elements .*element 1 .* and 2 more"):
        element_geometry("tet4", X)


def test_bad_coordinate_shape():
    with pytest.raises(InputError, match=r"\(ne, 10, 3\)"):
        element_geometry("tet10", np.zeros((2, 4, 3)))
    with pytest.raises(InputError):
        element_geometry("tri3", np.zeros((2, 3, 3)))


@pytest.mark.parametrize("name", FACET_TYPES)
def test_facet_normals_flat(name):
    """A facet in the plane z = 1 mapped by (ξ,η) → (a ξ, b η): n = (0, 0, a b) per unit reference
    area; integrated area = a b × reference area; a warped facet keeps Σ w n = projected area."""
    ft = get_element(name)
    r = element_rule(name)
    a, b = 2.0, 0.5
    X = np.column_stack([ft.ref_nodes * [a, b], np.ones(ft.n_nodes)])[None]
    n, dA = facet_normals_and_areas(X, ft.dshape(r.points))
    assert n.shape == (1, len(r.weights), 3) and dA.shape == (1, len(r.weights))
    assert np.allclose(n, [0, 0, a * b]) and np.allclose(dA, a * b)
    ref_area = r.weights.sum()
    Xw = X.copy()
    Xw[0, :, 2] += 0.1 * np.random.default_rng(14).standard_normal(ft.n_nodes)
    n2, dA2 = facet_normals_and_areas(Xw, ft.dshape(element_rule(name, "mass").points))
    wm = element_rule(name, "mass").weights
    assert np.isclose(wm @ n2[0, :, 2], a * b * ref_area)        # projection onto z is exact
    assert wm @ dA2[0] > a * b * ref_area                         # a warped facet is larger


def test_schemes_cover_all_types():
    assert set(VOLUME_TYPES + FACET_TYPES) == set(SCHEMES)
