"""Reference elements and quadrature rules (serial)."""
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

from dromo.errors import InputError
from dromo.mesh.elements import ELEMENTS, FACET_TYPES, VOLUME_TYPES, get_element
from dromo.mesh.quadrature import RULES, SCHEMES, element_rule, get_rule
from dromo.fem.kinematics import facet_normals_and_areas, integration_points, jacobians

ALL_TYPES = VOLUME_TYPES + FACET_TYPES


def random_ref_points(et, n, rng):
    """n random points inside the reference domain of et."""
    if et.domain in ("hex", "quad"):
        return rng.uniform(-1, 1, (n, et.dim))
    if et.domain in ("tet", "tri"):
        return rng.dirichlet(np.ones(et.dim + 1), n)[:, 1:]
    tri = rng.dirichlet(np.ones(3), n)[:, 1:]
    return np.column_stack([tri, rng.uniform(-1, 1, n)])


def distorted(et, rng, curved=True, scale=0.08):
    """Node coordinates (nn, 3) of a randomly mapped element: a random affine map with positive
    determinant plus a random perturbation of every node.  ``curved=False``: mid-edge nodes are put
    back on the map of the corner nodes (tet10 → affine, hex20 → trilinear geometry)."""
    A = np.eye(3) + 0.25 * rng.standard_normal((3, 3))
    if np.linalg.det(A) < 0:
        A[:, 0] *= -1
    ref = np.column_stack([et.ref_nodes, np.zeros((et.n_nodes, 3 - et.dim))])
    X = ref @ A.T + rng.standard_normal(3) + scale * rng.standard_normal(ref.shape)
    if not curved and et.degree == 2:
        X = get_element(et.linear).shape(et.ref_nodes) @ X[list(et.corners)]
    return X


@pytest.mark.parametrize("name", ALL_TYPES)
def test_partition_of_unity_and_kronecker(name):
    et = get_element(name)
    rng = np.random.default_rng(1)
    xi = random_ref_points(et, 17, rng)
    N, dN = et.shape_and_dshape(xi)
    assert N.shape == (17, et.n_nodes) and dN.shape == (17, et.n_nodes, et.dim)
    assert np.allclose(N.sum(1), 1, atol=1e-14)
    assert np.allclose(dN.sum(1), 0, atol=1e-13)
    assert np.allclose(et.shape(et.ref_nodes), np.eye(et.n_nodes), atol=1e-14)
    assert len(et.corners) == get_element(et.linear).n_nodes


@pytest.mark.parametrize("name", ALL_TYPES)
def test_derivatives_match_finite_differences(name):
    et = get_element(name)
    xi = random_ref_points(et, 5, np.random.default_rng(2))
    h = 1e-6
    fd = np.stack([(et.shape(xi + h * e) - et.shape(xi - h * e)) / (2 * h) for e in np.eye(et.dim)],
                  axis=2)
    assert np.allclose(et.dshape(xi), fd, atol=1e-8)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_polynomial_completeness(name):
    """Interpolation reproduces every polynomial of total degree <= element degree."""
    et = get_element(name)
    xi = random_ref_points(et, 9, np.random.default_rng(3))
    X = et.ref_nodes
    monos = [np.zeros(et.dim, int)]
    for k in range(1, et.degree + 1):
        monos += [np.array(p) for p in np.ndindex(*(k + 1,) * et.dim) if sum(p) == k]
    for p in monos:
        f_nodes = np.prod(X ** p, axis=1)
        assert np.allclose(et.shape(xi) @ f_nodes, np.prod(xi ** p, axis=1), atol=1e-13)


def _exact_monomial(domain, p):
    line = lambda k: 0.0 if k % 2 else 2.0 / (k + 1)  # noqa: E731
    if domain in ("line", "quad", "hex"):
        return math.prod(line(k) for k in p)
    if domain in ("tri", "tet"):
        return math.prod(math.factorial(k) for k in p) / math.factorial(sum(p) + len(p))
    return _exact_monomial("tri", p[:2]) * line(p[2])


@pytest.mark.parametrize("rname", sorted(RULES))
def test_quadrature_exactness(rname):
    r = get_rule(rname)
    domain = rname.rstrip("0123456789")
    dim = r.points.shape[1]
    deg = r.degree
    tested = 0
    # simplex rules: total degree <= degree; tensor rules: each exponent <= degree; wedge: tri x line
    for p in np.ndindex(*(6,) * dim):
        if domain in ("line", "quad", "hex") and max(p) > deg:
            continue
        if domain in ("tri", "tet") and sum(p) > deg:
            continue
        if domain == "wedge":
            tdeg = {"wedge2": 1, "wedge6": 2, "wedge9": 2, "wedge18": 4}[rname]
            ldeg = {"wedge2": 3, "wedge6": 3, "wedge9": 5, "wedge18": 5}[rname]
            if sum(p[:2]) > tdeg or p[2] > ldeg:
                continue
        val = r.weights @ np.prod(r.points ** np.array(p), axis=1)
        assert abs(val - _exact_monomial(domain, p)) < 1e-14, (rname, p, val)
        tested += 1
    assert tested >= 1
    # and not exact one degree beyond (the degree is sharp) for simplex rules
    if domain in ("tri", "tet") and rname not in ("tri1", "tet1"):
        errs = [abs(r.weights @ np.prod(r.points ** np.array(p), axis=1) - _exact_monomial(domain, p))
                for p in np.ndindex(*(deg + 2,) * dim) if sum(p) == deg + 1]
        assert max(errs) > 1e-10


def test_calculix_tables():
    """Points and weights, in order, equal CalculiX 2.20 src/gauss.f (15 printed digits)."""
    a, c = 0.577350269189626, 0.774596669241483
    g3d2 = np.array([[-a, -a, -a], [a, -a, -a], [-a, a, -a], [a, a, -a],
                     [-a, -a, a], [a, -a, a], [-a, a, a], [a, a, a]])
    assert np.allclose(get_rule("hex8").points, g3d2, atol=1e-14)
    assert np.allclose(get_rule("hex8").weights, 1.0)
    v = [-c, 0.0, c]
    g3d3 = np.array([[v[i], v[j], v[k]] for k in range(3) for j in range(3) for i in range(3)])
    assert np.allclose(get_rule("hex27").points, g3d3, atol=1e-14)
    w3 = np.array([0.171467764060357, 0.274348422496571, 0.171467764060357, 0.274348422496571,
                   0.438957475994513, 0.274348422496571, 0.171467764060357, 0.274348422496571,
                   0.171467764060357, 0.274348422496571, 0.438957475994513, 0.274348422496571,
                   0.438957475994513, 0.702331961591221, 0.438957475994513, 0.274348422496571,
                   0.438957475994513, 0.274348422496571, 0.171467764060357, 0.274348422496571,
                   0.171467764060357, 0.274348422496571, 0.438957475994513, 0.274348422496571,
                   0.171467764060357, 0.274348422496571, 0.171467764060357])
    assert np.allclose(get_rule("hex27").weights, w3, atol=1e-14)
    t1, t2 = 0.138196601125011, 0.585410196624968
    g3d5 = np.array([[t1, t1, t1], [t2, t1, t1], [t1, t2, t1], [t1, t1, t2]])
    assert np.allclose(get_rule("tet4").points, g3d5, atol=1e-14)
    assert np.allclose(get_rule("tet4").weights, 0.041666666666667, atol=1e-14)
    assert np.allclose(get_rule("tet1").points, 0.25) and np.isclose(get_rule("tet1").weights[0], 1 / 6)
    p15 = get_rule("tet15").points
    assert np.allclose(p15[[1, 2, 9, 10, 14]],
                       [[0.091971078052723] * 3, [0.724086765841831, 0.091971078052723, 0.091971078052723],
                        [0.056350832689629, 0.056350832689629, 0.443649167310371],
                        [0.443649167310371, 0.056350832689629, 0.056350832689629],
                        [0.443649167310371, 0.056350832689629, 0.443649167310371]], atol=1e-14)
    assert np.allclose(get_rule("tet15").weights[[0, 1, 5, 9]],
                       [0.019753086419753, 0.011989513963170, 0.011511367871045, 0.008818342151675],
                       atol=1e-14)
    s = 1 / 6
    assert np.allclose(get_rule("wedge2").points, [[1 / 3, 1 / 3, -a], [1 / 3, 1 / 3, a]], atol=1e-14)
    assert np.allclose(get_rule("wedge2").weights, 0.5)
    assert np.allclose(get_rule("wedge6").points,
                       [[s, s, -a], [4 * s, s, -a], [s, 4 * s, -a], [s, s, a], [4 * s, s, a], [s, 4 * s, a]],
                       atol=1e-14)
    assert np.allclose(get_rule("quad4").points, g3d2[:4, :2], atol=1e-14)
    assert np.allclose(get_rule("tri3").points, [[s, s], [4 * s, s], [s, 4 * s]], atol=1e-14)
    g2d6 = [[1 / 3, 1 / 3], [0.797426985353087, 0.101286507323456],
            [0.101286507323456, 0.797426985353087], [0.101286507323456, 0.101286507323456],
            [0.470142064105115, 0.059715871789770], [0.059715871789770, 0.470142064105115],
            [0.470142064105115, 0.470142064105115]]
    assert np.allclose(get_rule("tri7").points, g2d6, atol=1e-14)
    assert np.allclose(get_rule("tri7").weights, [0.1125] + [0.062969590272413] * 3
                       + [0.066197076394253] * 3, atol=1e-14)


def test_schemes():
    expect = {("tet4", "full"): 1, ("tet10", "full"): 4, ("hex8", "full"): 8, ("hex20", "full"): 27,
              ("wedge6", "full"): 2, ("hex20", "reduced"): 8, ("hex8", "reduced"): 1,
              ("tet4", "mass"): 4, ("tet10", "mass"): 15, ("hex8", "mass"): 8, ("hex20", "mass"): 27,
              ("wedge6", "mass"): 6, ("tri3", "full"): 1, ("tri6", "full"): 3, ("quad4", "full"): 4,
              ("quad8", "full"): 9, ("wedge15", "full"): 9, ("wedge15", "mass"): 18}
    for (e, s), n in expect.items():
        assert len(element_rule(e, s).weights) == n, (e, s)
    assert len(element_rule("tet10", "tet15").weights) == 15
    for bad in (("tet10", "hex8"), ("pyramid5", "full"), ("hex8", "nonsense")):
        with pytest.raises(InputError):
            element_rule(*bad)
    with pytest.raises(InputError, match="pyramid5"):
        get_element("pyramid5")
    assert set(SCHEMES) == set(ELEMENTS)


@pytest.mark.parametrize("name", VOLUME_TYPES)
def test_faces_outward_and_closed(name):
    et = get_element(name)
    rng = np.random.default_rng(4)
    X = distorted(et, rng, curved=True)
    centroid = X[list(et.corners)].mean(0)
    total = np.zeros(3)
    flux = 0.0                      # (1/3) ∮ x·n dA = volume (divergence theorem)
    for ftype, nodes in et.faces:
        ft = get_element(ftype)
        assert len(nodes) == ft.n_nodes
        # face nodes lie on the face, in facet order: facet map of reference face nodes = element nodes
        r = element_rule(ftype, "mass")
        N, dN = ft.shape_and_dshape(r.points)
        Xf = X[list(nodes)][None]
        n, dA = facet_normals_and_areas(Xf, dN)
        total += np.einsum("q,qi->i", r.weights, n[0])
        xq = integration_points(Xf, N)[0]
        flux += np.einsum("q,qi,qi->", r.weights, xq, n[0]) / 3
        # normal at the facet centre points away from the element centroid
        fc = ft.ref_nodes[list(ft.corners)].mean(0)[None]
        n0, _ = facet_normals_and_areas(Xf, ft.dshape(fc))
        assert (ft.shape(fc) @ X[list(nodes)] - centroid) @ n0[0, 0] > 0
        # reference face nodes lie on a common plane of the reference element
        assert np.linalg.matrix_rank(np.diff(et.ref_nodes[list(nodes)], axis=0), tol=1e-12) == 2
    assert np.allclose(total, 0, atol=1e-12)
    r = element_rule(name, "mass")
    _J, detJ, _ = jacobians(X[None], et.dshape(r.points))
    assert np.isclose(detJ[0] @ r.weights, flux, rtol=1e-12)


def test_face_numbering_is_abaqus():
    """faces[k] holds the nodes of Abaqus face S{k+1} (Abaqus lists them with the opposite turn)."""
    abaqus = {"tet4": [(1, 2, 3), (1, 4, 2), (2, 4, 3), (3, 4, 1)],
              "hex8": [(1, 2, 3, 4), (5, 8, 7, 6), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 8, 4), (4, 8, 5, 1)],
              "wedge6": [(1, 2, 3), (4, 6, 5), (1, 4, 5, 2), (2, 5, 6, 3), (3, 6, 4, 1)]}
    for name, faces in abaqus.items():
        et = get_element(name)
        for (_t, ours), theirs in zip(et.faces, faces):
            rev = [t - 1 for t in theirs][::-1]
            k = rev.index(ours[0])
            assert list(ours) == rev[k:] + rev[:k], (name, ours, theirs)
        for q in ("tet10", "hex20", "wedge15"):
            qe = get_element(q)
            assert [tuple(n[:len(n) // 2]) for _t, n in qe.faces] == \
                   [n for _t, n in get_element(qe.linear).faces]


# --------------------------------------------------------------------------------------------
# point-by-point comparison with CalculiX *EL PRINT COORD


CCX_CASES = [("C3D4", "tet4", "full"), ("C3D10", "tet10", "full"), ("C3D8", "hex8", "full"),
             ("C3D8R", "hex8", "reduced"), ("C3D20", "hex20", "full"), ("C3D20R", "hex20", "reduced"),
             ("C3D6", "wedge6", "full"), ("C3D15", "wedge15", "full")]


@pytest.mark.calculix
@pytest.mark.skipif(shutil.which("ccx") is None, reason="CalculiX ccx not installed")
@pytest.mark.parametrize("ccx_type,name,scheme", CCX_CASES)
def test_calculix_integration_point_order(tmp_path, ccx_type, name, scheme):
    et = get_element(name)
    X = distorted(et, np.random.default_rng(5), curved=True, scale=0.05)
    lines = ["*NODE, NSET=NALL"] + [f"{i + 1}, {x[0]:.15g}, {x[1]:.15g}, {x[2]:.15g}"
                                    for i, x in enumerate(X)]
    conn = [str(i + 1) for i in range(et.n_nodes)]
    lines += [f"*ELEMENT, TYPE={ccx_type}, ELSET=EALL", "1, " + ", ".join(conn[:15])]
    if len(conn) > 15:
        lines[-1] += ","
        lines.append(", ".join(conn[15:]))
    lines += ["*MATERIAL, NAME=M", "*ELASTIC", "1000., 0.3", "*SOLID SECTION, ELSET=EALL, MATERIAL=M",
              "*STEP", "*STATIC", "*BOUNDARY", "NALL,1,3,0.", "*EL PRINT, ELSET=EALL", "COORD",
              "*END STEP"]
    (tmp_path / "e.inp").write_text("\n".join(lines) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", CCX_NPROC_EQUATION_SOLVER="1")
    subprocess.run(["ccx", "-i", "e"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    rows = [ln.split() for ln in (tmp_path / "e.dat").read_text().splitlines()]
    rows = np.array([[float(v) for v in r] for r in rows if len(r) == 5 and r[0] == "1"])
    r = element_rule(name, scheme)
    assert np.array_equal(rows[:, 1], np.arange(1, len(r.weights) + 1))
    ours = integration_points(X[None], et.shape(r.points))[0]
    assert np.allclose(rows[:, 2:], ours, rtol=0, atol=2e-6 * np.abs(X).max())
