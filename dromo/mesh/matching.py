"""Points and cells of one mesh written twice: merge duplicate points, match two numberings by coordinates.

A code run at another rank count (dolfinx at 1 and 2 ranks) writes the nodes and cells of the same mesh
in another order, and a parallel writer repeats the points its pieces share. Both are recognised by
coordinates, with a tolerance relative to the mesh: :data:`TOLERANCE` × the smallest edge (the smallest
distance between two nodes of one cell; half an edge for quadratic cells), so two distinct nodes can
never be taken for one.

* :func:`smallest_edge` — that length, in the units of the coordinates.
* :func:`merge_points` — duplicate points (within a tolerance) -> one index each, first occurrence first.
* :func:`match_mesh` — the rows of a written mesh (points, cells) that are a given mesh's nodes and
  cells, or an :class:`~dromo.errors.InputError` that says how the two meshes differ.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError

__all__ = ["TOLERANCE", "smallest_edge", "merge_points", "match_mesh"]

#: coordinates closer than TOLERANCE × the smallest edge are one point
TOLERANCE = 1e-6


def smallest_edge(points, cell_arrays: Sequence[np.ndarray]) -> float:
    """Smallest distance between two nodes of one cell (> 0), over ``cell_arrays`` (each (m, k) node
    indices into ``points`` (n, 3)); 0.0 when there is no cell or two nodes of a cell coincide."""
    best = np.inf
    points = np.asarray(points, dtype=np.float64)
    for cells in cell_arrays:
        cells = np.asarray(cells, dtype=np.int64)
        if not cells.size:
            continue
        a, b = np.triu_indices(cells.shape[1], 1)
        for s in range(0, len(cells), 1 << 14):           # bounded memory
            x = points[cells[s:s + (1 << 14)]]
            d = np.linalg.norm(x[:, a] - x[:, b], axis=2)
            best = min(best, float(d.min()))
    return 0.0 if not np.isfinite(best) else best


def merge_points(points, tol: float) -> Tuple[np.ndarray, np.ndarray]:
    """Merge points closer than ``tol`` (coordinate units).

    Returns ``(index, first)``: ``index`` (n,) int64 the merged number of every point, numbered in the
    order of first occurrence, and ``first`` (n_merged,) int64 the first occurrence of each merged point
    (so ``points[first]`` are the merged points and ``index[first] == arange(n_merged)``).
    """
    from scipy.spatial import cKDTree
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    rep = np.arange(n, dtype=np.int64)
    if n and tol > 0:
        pairs = cKDTree(points).query_pairs(tol, output_type="ndarray")
        if len(pairs):
            np.minimum.at(rep, pairs[:, 1], pairs[:, 0])  # pairs are (i < j): the lowest of a cluster
            rep = rep[rep]
    first = np.flatnonzero(rep == np.arange(n))
    new = np.full(n, -1, dtype=np.int64)
    new[first] = np.arange(len(first))
    return new[rep], first


def _cell_keys(cells):
    """Order-independent keys of (m, k) cells: their sorted node rows as one void item each."""
    c = np.ascontiguousarray(np.sort(np.asarray(cells, dtype=np.int64), axis=1))
    return c.view(np.dtype((np.void, c.dtype.itemsize * c.shape[1]))).ravel()


def match_mesh(mesh, points, cells: Sequence[Tuple[str, np.ndarray]], label: str
               ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Match the nodes and volume cells of ``mesh`` (a :class:`~dromo.mesh.meshdata.MeshData`) to a
    written mesh: ``points`` (n, 3) and ``cells``, a list of (dromo volume type, (m, k) node indices into
    ``points``) in the written order.

    Returns ``(node_rows, cell_rows)``: ``node_rows`` (mesh.n_nodes,) the row of ``points`` of every mesh
    node, ``cell_rows`` (mesh.n_cells,) the row (in the concatenated written cells) of every mesh cell, or
    None when the written cells are the mesh's in the same order. Raises InputError naming ``label`` and
    the mesh's source and saying how the two differ (counts, bounding boxes, the first node without a
    written point within the tolerance, the first cell that is not one of the mesh).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 2 and points.shape[1] < 3:
        points = np.hstack([points, np.zeros((len(points), 3 - points.shape[1]))])
    where = f"{label}: not the mesh {mesh.source or '(given)'}"
    n_cells = sum(len(c) for _t, c in cells)
    used = np.unique(np.concatenate([np.asarray(c, np.int64).ravel() for _t, c in cells])) \
        if cells else np.zeros(0, np.int64)
    if len(used) != mesh.n_nodes or n_cells != mesh.n_cells:
        raise InputError(f"{where}: {len(used)} nodes in {n_cells} volume cells, the mesh has "
                         f"{mesh.n_nodes} nodes in {mesh.n_cells} cells"
                         + _boxes(mesh.points, points[used] if len(used) else points))
    h = smallest_edge(mesh.points, [b.cells for b in mesh.blocks])
    tol = TOLERANCE * h
    from scipy.spatial import cKDTree
    dist, rows = cKDTree(points[used]).query(mesh.points)
    rows = used[rows]
    far = dist > tol
    if far.any():
        i = int(np.argmax(dist))
        raise InputError(f"{where}: {int(far.sum())} of its {mesh.n_nodes} nodes have no written point "
                         f"within {tol:.3g} ({TOLERANCE:g} x the smallest edge {h:.4g}); the farthest, "
                         f"node {mesh.node_ids[i]} at {mesh.points[i].tolist()}, is {dist[i]:.4g} from "
                         f"the nearest" + _boxes(mesh.points, points[used]))
    if len(np.unique(rows)) != mesh.n_nodes:
        raise InputError(f"{where}: several of its nodes match one written point (tolerance {tol:.3g})")
    # written cells in the mesh's node numbering, compared as node sets, type by type
    natural = np.full(len(points), -1, dtype=np.int64)
    natural[rows] = np.arange(mesh.n_nodes)
    start = np.concatenate([[0], np.cumsum([len(c) for _t, c in cells])]).astype(np.int64)
    cell_rows = np.full(mesh.n_cells, -1, dtype=np.int64)
    off = mesh.cell_offsets
    for bi, b in enumerate(mesh.blocks):
        same = [k for k, (t, _c) in enumerate(cells) if t == b.type]
        if not same:
            raise InputError(f"{where}: no written {b.type} cells")
        wrows = np.concatenate([start[k] + np.arange(len(cells[k][1])) for k in same])
        wk = _cell_keys(np.concatenate([natural[np.asarray(cells[k][1], np.int64)] for k in same]))
        mk = _cell_keys(b.cells)
        order = np.argsort(wk)
        pos = np.minimum(np.searchsorted(wk[order], mk), len(wk) - 1)
        hit = wk[order][pos] == mk
        if not hit.all():
            i = int(np.flatnonzero(~hit)[0])
            raise InputError(f"{where}: same nodes, but its {b.type} cell {b.ids[i]} (nodes "
                             f"{mesh.node_ids[b.cells[i]].tolist()}) is not among the written cells")
        cell_rows[off[bi]:off[bi + 1]] = wrows[order[pos]]
    if len(np.unique(cell_rows)) != mesh.n_cells:
        raise InputError(f"{where}: some written cells repeat, others are missing")
    return rows, (None if np.array_equal(cell_rows, np.arange(mesh.n_cells)) else cell_rows)


def _boxes(a, b):
    """`` (bounding boxes [lo] - [hi] and [lo] - [hi])`` of two point sets, for messages."""
    def box(p):
        if not len(p):
            return "empty"
        return f"{np.round(p.min(0), 6).tolist()} - {np.round(p.max(0), 6).tolist()}"
    return f" (bounding boxes: mesh {box(a)}, written {box(b)})"
