"""Quadrature rules on dromo's reference domains, in CalculiX's integration-point order.

Reference domains (see :mod:`dromo.mesh.elements`): ``line`` [-1,1]; ``quad`` [-1,1]^2; ``hex`` [-1,1]^3;
``tri`` the unit triangle {ξ,η ≥ 0, ξ+η ≤ 1} (area 1/2); ``tet`` the unit simplex (volume 1/6);
``wedge`` unit triangle × [-1,1] in (ξ,η)×ζ (volume 1). Weights sum to the reference measure.

A rule is a :class:`QuadratureRule`: ``points`` (nq, dim), ``weights`` (nq,), ``degree`` (every
polynomial of total degree ≤ degree is integrated exactly; tensor rules on quad/hex are moreover exact
for every monomial whose exponent in each variable is ≤ degree; wedge rules for ξ^i η^j ζ^k with
i+j ≤ tri degree and k ≤ line degree) and ``name``.

Integration-point order (this is the order of dromo's integration-point fields; it is the order of
CalculiX 2.20 ``*EL PRINT`` output, point by point):

* line n: ascending ξ (-a, 0, +a).
* quad n×n (``quad1``, ``quad4``, ``quad9``): ξ fastest, then η — CalculiX ``gauss2d1/2/3``.
* hex n×n×n (``hex1``, ``hex8``, ``hex27``): ξ fastest, then η, then ζ — CalculiX ``gauss3d1/2/3``
  (C3D8R: hex1; C3D8 and C3D20R: hex8; C3D20: hex27).
* tri: ``tri1`` centroid (``gauss2d4``); ``tri3`` (1/6,1/6), (2/3,1/6), (1/6,2/3) (``gauss2d5``);
  ``tri6`` Dunavant degree 4 (a,a),(1-2a,a),(a,1-2a) for a≈0.44595 then b≈0.09158 (no CalculiX
  counterpart); ``tri7`` degree 5 in ``gauss2d6`` order.
* tet: ``tet1`` centroid (``gauss3d4``, C3D4); ``tet4`` (a,a,a), (b,a,a), (a,b,a), (a,a,b) with
  a = (5-√5)/20, b = (5+3√5)/20 (``gauss3d5``, C3D10); ``tet5`` degree 3 (centroid first, negative
  weight; not used by default); ``tet15`` degree 5 (Keast) in ``gauss3d6`` order (exact values).
* wedge: tri rule × line rule, the triangle index fastest, then ζ: ``wedge2`` = tri1 × line2
  (``gauss3d7``, what CalculiX uses for C3D6), ``wedge6`` = tri3 × line2 (``gauss3d10``),
  ``wedge9`` = tri3 × line3 (``gauss3d8``, C3D15), ``wedge18`` = tri6 × line3 (no CalculiX
  counterpart).  CalculiX 2.20 integrates C3D6 with 2 points (tri1 × line2), which is exact for the
  stiffness of prismatic wedges; dromo's "full" wedge6 rule is that rule, so integration-point fields
  match ``*EL PRINT``; the 6-point rule is wedge6's "mass" rule.

How the order was verified: the point and weight tables of CalculiX's ``src/gauss.f`` and the choice
of table per element type in ``src/e_c3d.f`` (the ``mint3d`` / ``gauss3dN`` branches) were read from
the CalculiX sources (Dhondtguido/CalculiX); the tests reproduce those tables to their 15 printed digits, and
``tests/fem/test_elements.py::test_calculix_integration_point_order`` (marker ``calculix``) runs
``ccx`` 2.20 on single distorted elements of each type with ``*EL PRINT … COORD`` and compares the
printed integration-point coordinates point by point with ``x = N(ξ_q) X`` for the rules here.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import InputError

__all__ = ["QuadratureRule", "get_rule", "element_rule", "RULES", "SCHEMES"]


class QuadratureRule(NamedTuple):
    points: np.ndarray   # (nq, dim) reference coordinates
    weights: np.ndarray  # (nq,) weights, sum = reference measure
    degree: int          # exact for total degree <= degree
    name: str


def _line(n):
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w  # ascending


def _tensor(n, dim):
    """n^dim Gauss points, first coordinate fastest (CalculiX order)."""
    x, w = _line(n)
    grids = np.meshgrid(*([x] * dim), indexing="ij")
    wg = np.meshgrid(*([w] * dim), indexing="ij")
    # ravel in Fortran order so that the first coordinate varies fastest
    pts = np.stack([g.ravel(order="F") for g in grids], axis=1)
    wts = np.prod(np.stack([g.ravel(order="F") for g in wg], axis=1), axis=1)
    return pts, wts


def _tri(n):
    if n == 1:
        return np.array([[1 / 3, 1 / 3]]), np.array([0.5]), 1
    if n == 3:
        return np.array([[1 / 6, 1 / 6], [2 / 3, 1 / 6], [1 / 6, 2 / 3]]), np.full(3, 1 / 6), 2
    if n == 6:  # Dunavant (1985) degree 4
        a, b = 0.44594849091596488632, 0.09157621350977074346
        wa, wb = 0.22338158967801146570 / 2, 0.10995174365532186764 / 2
        p = [[a, a], [1 - 2 * a, a], [a, 1 - 2 * a], [b, b], [1 - 2 * b, b], [b, 1 - 2 * b]]
        return np.array(p), np.array([wa] * 3 + [wb] * 3), 4
    if n == 7:  # degree 5 (Radon), CalculiX gauss2d6 order
        s15 = np.sqrt(15.0)
        a1, a2 = (6 - s15) / 21, (6 + s15) / 21
        w1, w2 = (155 - s15) / 2400, (155 + s15) / 2400
        p = [[1 / 3, 1 / 3], [1 - 2 * a1, a1], [a1, 1 - 2 * a1], [a1, a1],
             [a2, 1 - 2 * a2], [1 - 2 * a2, a2], [a2, a2]]
        return np.array(p), np.array([9 / 80] + [w1] * 3 + [w2] * 3), 5
    raise KeyError(n)


def _tet(n):
    if n == 1:
        return np.array([[0.25, 0.25, 0.25]]), np.array([1 / 6]), 1
    if n == 4:
        a, b = (5 - np.sqrt(5)) / 20, (5 + 3 * np.sqrt(5)) / 20
        return np.array([[a, a, a], [b, a, a], [a, b, a], [a, a, b]]), np.full(4, 1 / 24), 2
    if n == 5:
        p = [[0.25] * 3, [1 / 6] * 3, [0.5, 1 / 6, 1 / 6], [1 / 6, 0.5, 1 / 6], [1 / 6, 1 / 6, 0.5]]
        return np.array(p), np.array([-4 / 30] + [9 / 120] * 4), 3
    if n == 15:  # Keast degree 5, CalculiX gauss3d6 order
        s15 = np.sqrt(15.0)
        a1, a2 = (7 - s15) / 34, (7 + s15) / 34
        b1, b2 = 1 - 3 * a1, 1 - 3 * a2
        c = (10 - 2 * s15) / 40
        d = 0.5 - c
        p = [[0.25] * 3,
             [a1, a1, a1], [b1, a1, a1], [a1, b1, a1], [a1, a1, b1],
             [a2, a2, a2], [b2, a2, a2], [a2, b2, a2], [a2, a2, b2],
             [c, c, d], [d, c, c], [d, d, c], [c, d, d], [c, d, c], [d, c, d]]
        w = ([16 / 135] + [(2665 + 14 * s15) / 37800] * 4 + [(2665 - 14 * s15) / 37800] * 4
             + [10 / 189] * 6)
        return np.array(p), np.array(w) / 6, 5
    raise KeyError(n)


def _wedge(ntri, nline):
    pt, wt, dt = _tri(ntri)
    xl, wl = _line(nline)
    pts = np.column_stack([np.tile(pt, (nline, 1)), np.repeat(xl, ntri)])  # triangle index fastest
    wts = np.tile(wt, nline) * np.repeat(wl, ntri)
    return pts, wts, min(dt, 2 * nline - 1)


def _build():
    rules = {}
    for n in (1, 2, 3):
        x, w = _line(n)
        rules[f"line{n}"] = QuadratureRule(x[:, None], w, 2 * n - 1, f"line{n}")
        for dim, dom in ((2, "quad"), (3, "hex")):
            p, w = _tensor(n, dim)
            rules[f"{dom}{n ** dim}"] = QuadratureRule(p, w, 2 * n - 1, f"{dom}{n ** dim}")
    for n in (1, 3, 6, 7):
        p, w, d = _tri(n)
        rules[f"tri{n}"] = QuadratureRule(p, w, d, f"tri{n}")
    for n in (1, 4, 5, 15):
        p, w, d = _tet(n)
        rules[f"tet{n}"] = QuadratureRule(p, w, d, f"tet{n}")
    for nt, nl in ((1, 2), (3, 2), (3, 3), (6, 3)):
        p, w, d = _wedge(nt, nl)
        rules[f"wedge{nt * nl}"] = QuadratureRule(p, w, d, f"wedge{nt * nl}")
    for r in rules.values():
        r.points.setflags(write=False)
        r.weights.setflags(write=False)
    return rules


#: every rule by name: line1..3, quad1/4/9, hex1/8/27, tri1/3/6/7, tet1/4/5/15, wedge2/6/9/18
RULES: dict[str, QuadratureRule] = _build()

#: rule name per element type and scheme. "full" = what CalculiX uses for the element (C3D4, C3D10,
#: C3D8, C3D20, C3D6, C3D15; facets: CalculiX's face rules), "reduced" = C3D8R / C3D20R (= full elsewhere),
#: "mass" = exact for the consistent mass N_a N_b on affine (tets, facets) or parallelepiped/prismatic
#: (hexes, wedges) geometry.
SCHEMES: dict[str, dict[str, str]] = {
    "tet4": {"full": "tet1", "reduced": "tet1", "mass": "tet4"},
    "tet10": {"full": "tet4", "reduced": "tet4", "mass": "tet15"},
    "hex8": {"full": "hex8", "reduced": "hex1", "mass": "hex8"},
    "hex20": {"full": "hex27", "reduced": "hex8", "mass": "hex27"},
    "wedge6": {"full": "wedge2", "reduced": "wedge2", "mass": "wedge6"},
    "wedge15": {"full": "wedge9", "reduced": "wedge9", "mass": "wedge18"},
    "tri3": {"full": "tri1", "reduced": "tri1", "mass": "tri3"},
    "tri6": {"full": "tri3", "reduced": "tri3", "mass": "tri6"},
    "quad4": {"full": "quad4", "reduced": "quad1", "mass": "quad4"},
    "quad8": {"full": "quad9", "reduced": "quad4", "mass": "quad9"},
}

_DOMAIN = {"tet4": "tet", "tet10": "tet", "hex8": "hex", "hex20": "hex", "wedge6": "wedge", "wedge15": "wedge",
           "tri3": "tri", "tri6": "tri", "quad4": "quad", "quad8": "quad"}


def get_rule(name: str) -> QuadratureRule:
    """Rule by name (see :data:`RULES`); raise InputError for an unknown name."""
    try:
        return RULES[name]
    except KeyError:
        raise InputError(f"unknown quadrature rule {name!r} (known: {', '.join(RULES)})") from None


def element_rule(element: str, scheme: str = "full") -> QuadratureRule:
    """Rule for an element type; ``scheme`` is "full", "reduced", "mass" or an explicit rule name
    on the element's reference domain (e.g. ``element_rule("tet10", "tet15")``)."""
    if element not in SCHEMES:
        raise InputError(f"unknown element type {element!r} (known: {', '.join(SCHEMES)})")
    name = SCHEMES[element].get(scheme, scheme)
    rule = get_rule(name)
    if not name.startswith(_DOMAIN[element]):
        raise InputError(f"quadrature rule {name!r} is not defined on the {_DOMAIN[element]} "
                         f"reference domain of element type {element!r}")
    return rule
