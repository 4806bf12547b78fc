"""Structured meshes built in memory (for tests, benchmarks and built-in cases).

Everything is vectorized over cells: ``box_mesh(34, 34, 34, element="tet10")`` (~330k nodes, ~1 M dofs)
takes a couple of seconds.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError
from .meshdata import EDGES, FACES, CellBlock, MeshData

__all__ = ["box_mesh", "add_midside_nodes", "SIDES"]

#: names of the six box faces, with (axis, 0 = min side / 1 = max side)
SIDES = {"xmin": (0, 0), "xmax": (0, 1), "ymin": (1, 0), "ymax": (1, 1), "zmin": (2, 0), "zmax": (2, 1)}
# Abaqus face (0-based) of a hex8 lying on each side of its cell
_HEX_SIDE_FACE = {"xmin": 5, "xmax": 3, "ymin": 2, "ymax": 4, "zmin": 0, "zmax": 1}
# hex corner offsets (i, j, k) in VTK order
_HEX_OFF = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                     [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])
# Kuhn (Freudenthal) split of a hex into 6 tets around diagonal 0-6: conforming on a structured grid
# because every hex is split the same way (translation invariant face diagonals).
_KUHN = np.array([[0, 1, 2, 6], [0, 5, 1, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 4, 5, 6], [0, 7, 4, 6]])


def _fix_kuhn_orientation():
    p = _HEX_OFF.astype(float)
    t = _KUHN.copy()
    for r in t:
        if np.linalg.det(p[r[1:]] - p[r[0]]) < 0:
            r[[1, 2]] = r[[2, 1]]
    return t


_KUHN = _fix_kuhn_orientation()
# a hex split into 2 wedges over the diagonal 0-2 of its bottom face (triangles counter-clockwise
# seen from +z): conforming on a structured grid, as every hex is split the same way
_WEDGE_SPLIT = np.array([[0, 1, 2, 4, 5, 6], [0, 2, 3, 4, 6, 7]])
#: element -> (its corner-only type, the hex split into it)
_SPLITS = {"hex8": ("hex8", None), "hex20": ("hex8", None), "tet4": ("tet4", _KUHN),
           "tet10": ("tet4", _KUHN), "wedge6": ("wedge6", _WEDGE_SPLIT),
           "wedge15": ("wedge6", _WEDGE_SPLIT)}


def add_midside_nodes(points: np.ndarray, cells: np.ndarray, quad_type: str):
    """Add mid-edge nodes (shared between neighbours) to linear cells.

    Parameters
    ----------
    points : (n, 3) float64; cells : (m, 4) tet4, (m, 8) hex8 or (m, 6) wedge6 corner indices
    quad_type : "tet10", "hex20" or "wedge15"

    Returns
    -------
    points : (n + n_edges, 3) with the new nodes at the straight edge midpoints
    cells : (m, 10|20|15) int64 in VTK/Abaqus order
    """
    edges = EDGES[quad_type]
    n = len(points)
    pairs = cells[:, edges.ravel()].reshape(-1, 2)
    a = pairs.min(axis=1).astype(np.int64)
    b = pairs.max(axis=1).astype(np.int64)
    key = a * n + b
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    ua, ub = a[first], b[first]
    mid = 0.5 * (points[ua] + points[ub])
    new_cells = np.hstack([cells, (n + inv.ravel()).reshape(len(cells), len(edges))])
    return np.vstack([points, mid]), np.ascontiguousarray(new_cells, dtype=np.int64)


def box_mesh(nx: int, ny: int, nz: int, lengths: Sequence[float] = (1.0, 1.0, 1.0),
             element: str = "hex8", distort: float = 0.0, seed: int = 0,
             origin: Sequence[float] = (0.0, 0.0, 0.0)) -> MeshData:
    """A structured mesh of the box ``origin + [0, Lx] x [0, Ly] x [0, Lz]``.

    Parameters
    ----------
    nx, ny, nz : number of hex subdivisions per direction (tets: each hex split into 6 tets; wedges:
        into 2, triangles in the xy plane).
    lengths : (Lx, Ly, Lz)
    element : "hex8" | "hex20" | "tet4" | "tet10" | "wedge6" | "wedge15"
    distort : interior corner nodes are moved by ``distort * h * U(-1/2, 1/2)`` per component
        (h = cell size in that direction); boundary nodes stay, so the faces remain planar and mid-edge
        nodes stay at straight-edge midpoints.  Keep ``distort <= 0.3`` to avoid inverted cells.
    seed : random seed of the distortion.

    Returns
    -------
    MeshData with one block, node sets and facet sets ``xmin xmax ymin ymax zmin zmax`` (facets
    oriented outward; node sets contain every node on the face, mid-edge nodes included), element set
    ``"all"``; node and element ids ``1..n``; positively oriented cells.
    Node numbering: grid corners first (``i + (nx+1) * (j + (ny+1) * k)``), then mid-edge nodes.
    """
    element = element.lower()
    if element not in _SPLITS:
        raise InputError(f"box_mesh: unknown element {element!r} ({', '.join(_SPLITS)})")
    nx, ny, nz = int(nx), int(ny), int(nz)
    if min(nx, ny, nz) < 1:
        raise InputError(f"box_mesh: subdivisions must be >= 1, got {(nx, ny, nz)}")
    L = np.asarray(lengths, dtype=np.float64)
    if L.shape != (3,) or (L <= 0).any():
        raise InputError(f"box_mesh: lengths must be 3 positive numbers, got {lengths}")
    nn = np.array([nx + 1, ny + 1, nz + 1])
    # corner grid (x fastest)
    k, j, i = np.meshgrid(np.arange(nz + 1), np.arange(ny + 1), np.arange(nx + 1), indexing="ij")
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)
    h = L / np.array([nx, ny, nz])
    points = ijk * h + np.asarray(origin, dtype=np.float64)
    if distort:
        rng = np.random.default_rng(seed)
        interior = ((ijk > 0) & (ijk < nn - 1)).all(axis=1)
        points[interior] += distort * h * rng.uniform(-0.5, 0.5, (int(interior.sum()), 3))

    def nid(a, b, c):
        return a + nn[0] * (b + nn[1] * c)

    ck, cj, ci = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    cijk = np.stack([ci.ravel(), cj.ravel(), ck.ravel()], axis=1)          # (nh, 3) hex indices
    hexes = nid(*(cijk[:, None, :] + _HEX_OFF[None]).transpose(2, 0, 1))   # (nh, 8)

    linear, split = _SPLITS[element]
    if split is None:
        cells = hexes
        cell_hex = np.arange(len(hexes))
    else:
        cells = hexes[:, split].reshape(-1, split.shape[1])
        cell_hex = np.repeat(np.arange(len(hexes)), len(split))
    cells = np.ascontiguousarray(cells, dtype=np.int64)

    # boundary facets (on the corner-only cells, local face indices are shared with quadratic ones)
    side_faces = {}
    for name, (ax, hi) in SIDES.items():
        layer = cijk[cell_hex, ax] == (nn[ax] - 2 if hi else 0)
        cand = np.flatnonzero(layer)
        if linear == "hex8":
            side_faces[name] = [(cand, _HEX_SIDE_FACE[name])]
        else:
            target = nn[ax] - 1 if hi else 0
            lst = []
            for f, (_ft, idx) in enumerate(FACES[linear]):
                on = (ijk[cells[cand][:, idx], ax] == target).all(axis=1)
                lst.append((cand[on], f))
            side_faces[name] = lst

    if element != linear:
        points, cells = add_midside_nodes(points, cells, element)

    facet_sets, node_sets = {}, {}
    for name, lst in side_faces.items():
        parts = {}
        for sel, f in lst:
            ft, idx = FACES[element][f]
            parts.setdefault(ft, []).append(cells[sel][:, idx])
        facet_sets[name] = {ft: np.concatenate(v) for ft, v in parts.items()}
        node_sets[name] = np.unique(np.concatenate([a.ravel() for a in facet_sets[name].values()]))

    mesh = MeshData(points=points, blocks=[CellBlock(element, cells)],
                    node_sets=node_sets, element_sets={"all": np.arange(len(cells))},
                    facet_sets=facet_sets, source="")
    return mesh
