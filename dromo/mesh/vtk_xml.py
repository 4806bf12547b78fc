"""VTK XML unstructured grids (``.vtu``, ``.pvtu``) as FEniCSx (dolfinx), ParaView and meshio write them.

meshio 5.3 refuses what dolfinx's ``VTKFile`` writes: ``.pvtu`` files, VTU version 2.2, Lagrange cells,
``vtkGhostType`` both as point and cell data. :func:`read_vtk_xml` reads

* ``.vtu`` files of any version (0.1, 1.0, 2.x: the data layout is the same), with DataArrays in ascii,
  inline binary (zlib/lzma compressed or not) or appended form (decoded by meshio's own VTU decoder);
* ``.pvtu`` files: their pieces (``<Piece Source=...>``, relative to the ``.pvtu``), merged;
* linear and quadratic cells (VTK types 10, 24, 12, 25, 13; facets 5, 22, 9, 23; lines, vertices) and
  **Lagrange cells** of the orders dromo has: 71 tetrahedron with 4 or 10 nodes, 72 hexahedron with 8, 73
  wedge with 6, 69 triangle with 3 or 6, 70 quadrilateral with 4, 68 line with 2 or 3 (at these orders
  VTK's Lagrange node order is that of the classic types, dromo's). Other node counts (a P3
  tetrahedron, a 27-node hexahedron) are an :class:`~dromo.errors.InputError` naming the file, the cell
  and what dromo has.

Pieces (several ``.pvtu`` pieces, several ``<Piece>`` of one file, or one piece with ghosts) are merged:
cells whose ``vtkGhostType`` has bit 1 (DUPLICATECELL) are dropped, the points the pieces share are
merged by coordinates (:func:`~dromo.mesh.matching.merge_points`, tolerance
:data:`~dromo.mesh.matching.TOLERANCE` × the smallest edge), and the value of a merged point is taken
from the piece that owns it (``vtkGhostType`` bit 1 of the point unset). The merged points are numbered
piece by piece, owned points first, in the written order: the same files give the same numbering.
One piece without ghost cells keeps its points as written (unused points included), as meshio does.

Result: a ``meshio.Mesh`` (points (n, 3) float64; cell blocks of consecutive cells of one meshio type;
point data (n, ...) and cell data per block) without VTK's bookkeeping arrays (``vtkGhostType``,
``vtkOriginalPointIds``, ``vtkOriginalCellIds``).
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from ..errors import InputError, no_exit
from .matching import TOLERANCE, merge_points, smallest_edge

__all__ = ["read_vtk_xml", "read_pieces", "VTK_CELLS"]

#: VTK cell type -> {number of nodes: meshio cell type}
VTK_CELLS = {
    1: {1: "vertex"}, 3: {2: "line"}, 21: {3: "line3"}, 5: {3: "triangle"}, 22: {6: "triangle6"},
    9: {4: "quad"}, 23: {8: "quad8"}, 10: {4: "tetra"}, 24: {10: "tetra10"}, 12: {8: "hexahedron"},
    25: {20: "hexahedron20"}, 13: {6: "wedge"},
    68: {2: "line", 3: "line3"}, 69: {3: "triangle", 6: "triangle6"}, 70: {4: "quad"},
    71: {4: "tetra", 10: "tetra10"}, 72: {8: "hexahedron"}, 73: {6: "wedge"},
}
_VTK_NAMES = {68: "Lagrange curve", 69: "Lagrange triangle", 70: "Lagrange quadrilateral",
              71: "Lagrange tetrahedron", 72: "Lagrange hexahedron", 73: "Lagrange wedge", 14: "pyramid",
              42: "polyhedron", 29: "triquadratic hexahedron"}
#: arrays that describe the decomposition, not the solution
BOOKKEEPING = ("vtkGhostType", "vtkOriginalPointIds", "vtkOriginalCellIds")


@dataclass
class _Piece:
    """One piece as written: points (n, 3), connectivity/offsets/types, data, ghost flags."""

    label: str
    points: np.ndarray
    connectivity: np.ndarray
    offsets: np.ndarray
    types: np.ndarray
    point_data: Dict[str, np.ndarray]
    cell_data: Dict[str, np.ndarray]
    point_ghost: np.ndarray
    cell_ghost: np.ndarray


def _decoder(root):
    """meshio's VTU DataArray decoder (ascii, binary, compressed, appended) for this file's header."""
    from meshio.vtu._vtu import VtuReader, get_grid
    dec = VtuReader.__new__(VtuReader)
    dec.compression = root.get("compressor")
    dec.header_type = root.get("header_type", "UInt32")
    dec.byte_order = root.get("byte_order")
    grid, dec.appended_data = get_grid(root)
    return dec, grid


def _parse(path, kind):
    if not os.path.isfile(path):
        raise InputError(f"{path}: file not found")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        if kind == "UnstructuredGrid":            # raw appended data is not XML: meshio's splitter
            try:
                from meshio.vtu._vtu import _parse_raw_binary
                with no_exit(f"{path}: cannot read as VTU"):
                    return _parse_raw_binary(path)
            except InputError:
                raise
            except Exception:  # noqa: BLE001 - the XML error is the one to report
                pass
        raise InputError(f"{path}: not a valid VTK XML file ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None


def _array(dec, element, where, n=None):
    try:
        a = dec.read_data(element)
    except Exception as exc:  # noqa: BLE001 - meshio raises many kinds
        raise InputError(f"{where}: DataArray {element.get('Name', '')!r}: cannot decode "
                         f"({type(exc).__name__}: {exc})") from None
    if n is not None and len(a) != n:
        raise InputError(f"{where}: DataArray {element.get('Name', '')!r} has {len(a)} tuples, "
                         f"expected {n}")
    return a


def _read_vtu(path) -> List[_Piece]:
    """The pieces of one ``.vtu`` file."""
    root = _parse(path, "UnstructuredGrid")
    if root.tag != "VTKFile" or root.get("type") != "UnstructuredGrid":
        raise InputError(f"{path}: not a VTK XML UnstructuredGrid file (type {root.get('type')!r})")
    dec, grid = _decoder(root)
    out = []
    for k, piece in enumerate(grid.findall("Piece")):
        where = f"{path}: piece {k + 1}"
        try:
            n_pts, n_cells = int(piece.get("NumberOfPoints")), int(piece.get("NumberOfCells"))
        except (TypeError, ValueError):
            raise InputError(f"{where}: bad NumberOfPoints/NumberOfCells") from None
        pts = piece.find("Points/DataArray")
        cells = {c.get("Name"): c for c in piece.findall("Cells/DataArray")}
        if pts is None or any(x not in cells for x in ("connectivity", "offsets", "types")):
            raise InputError(f"{where}: no Points, or Cells without connectivity/offsets/types")
        points = np.asarray(_array(dec, pts, where), dtype=np.float64).reshape(n_pts, -1)
        if points.shape[1] < 3:
            points = np.hstack([points, np.zeros((n_pts, 3 - points.shape[1]))])
        conn = np.asarray(_array(dec, cells["connectivity"], where), dtype=np.int64).ravel()
        offsets = np.asarray(_array(dec, cells["offsets"], where, n_cells), dtype=np.int64).ravel()
        types = np.asarray(_array(dec, cells["types"], where, n_cells), dtype=np.int64).ravel()
        pd = {a.get("Name"): _array(dec, a, where, n_pts) for a in piece.findall("PointData/DataArray")}
        cd = {a.get("Name"): _array(dec, a, where, n_cells) for a in piece.findall("CellData/DataArray")}
        pg = pd.pop("vtkGhostType", np.zeros(n_pts, np.uint8))
        cg = cd.pop("vtkGhostType", np.zeros(n_cells, np.uint8))
        for d in (pd, cd):
            for name in BOOKKEEPING:
                d.pop(name, None)
        out.append(_Piece(where, points, conn, offsets, types, pd, cd,
                          (np.asarray(pg).astype(np.int64) & 1) != 0, (np.asarray(cg).astype(np.int64) & 1) != 0))
    if not out:
        raise InputError(f"{path}: no Piece in the file")
    return out


def _read_pvtu(path) -> List[_Piece]:
    root = _parse(path, "PUnstructuredGrid")
    grid = root.find("PUnstructuredGrid")
    if root.tag != "VTKFile" or grid is None:
        raise InputError(f"{path}: not a VTK XML PUnstructuredGrid file (type {root.get('type')!r})")
    folder = os.path.dirname(os.path.abspath(path))
    sources = [p.get("Source") for p in grid.findall("Piece")]
    if not sources or None in sources:
        raise InputError(f"{path}: no Piece, or a Piece without Source")
    return [p for s in sources for p in _read_vtu(s if os.path.isabs(s) else os.path.join(folder, s))]


def _cell_blocks(piece: _Piece, keep: np.ndarray):
    """The kept cells of a piece as runs (meshio type, (m, k) node indices, cell rows)."""
    sizes = np.diff(np.concatenate([[0], piece.offsets]))
    if len(piece.offsets) and (sizes.min() < 1 or piece.offsets[-1] > len(piece.connectivity)):
        raise InputError(f"{piece.label}: cell offsets out of order or beyond the connectivity")
    if piece.connectivity.size and (piece.connectivity.min() < 0
                                     or piece.connectivity.max() >= len(piece.points)):
        raise InputError(f"{piece.label}: connectivity refers to points out of range")
    rows = np.flatnonzero(keep)
    # runs of one (type, size)
    key = piece.types[rows] * 1000 + sizes[rows]
    cuts = np.flatnonzero(np.diff(key)) + 1
    out = []
    for run in np.split(rows, cuts):
        if not len(run):
            continue
        t, n = int(piece.types[run[0]]), int(sizes[run[0]])
        mtype = VTK_CELLS.get(t, {}).get(n)
        if mtype is None:
            name = _VTK_NAMES.get(t, "")
            raise InputError(f"{piece.label}: cell {run[0] + 1} has VTK type {t}{f' ({name})' if name else ''} "
                             f"with {n} nodes; dromo has tet4, tet10, hex8, hex20, wedge6 (and their facets)"
                             f" -- Lagrange cells of order 1 or 2 (tetrahedra), order 1 (hexahedra, wedges)")
        start = piece.offsets[run] - n
        out.append((mtype, piece.connectivity[start[:, None] + np.arange(n)], run))
    return out


def _to_mesh(pieces: List[_Piece], label):
    """Merge pieces (module docstring) into a meshio.Mesh."""
    import meshio
    names_p = [set(p.point_data) for p in pieces]
    names_c = [set(p.cell_data) for p in pieces]
    if any(s != names_p[0] for s in names_p) or any(s != names_c[0] for s in names_c):
        raise InputError(f"{label}: the pieces carry different data arrays "
                         f"({pieces[0].label}: {sorted(names_p[0] | names_c[0])})")
    both = names_p[0] & names_c[0]
    if both:
        raise InputError(f"{label}: {sorted(both)} both point and cell data")
    single = len(pieces) == 1 and not pieces[0].cell_ghost.any()
    runs = [_cell_blocks(p, ~p.cell_ghost) for p in pieces]
    if single:
        points, index = pieces[0].points, [np.arange(len(pieces[0].points))]
        point_data = dict(pieces[0].point_data)
    else:
        # candidates: the points of the kept cells of every piece, owned ones first, then ghosts
        used = []
        for p, r in zip(pieces, runs):
            u = np.zeros(len(p.points), bool)
            for _t, c, _rows in r:
                u[c.ravel()] = True
            used.append(u)
        cand = [(pi, np.flatnonzero(used[pi] & (p.point_ghost == ghost)))
                for ghost in (False, True) for pi, p in enumerate(pieces)]
        all_pts = np.concatenate([pieces[pi].points[ix] for pi, ix in cand])
        h = min([smallest_edge(p.points, [c for _t, c, _r in r]) for p, r in zip(pieces, runs) if r] or [0.0])
        merged, first = merge_points(all_pts, TOLERANCE * h)
        index = [np.full(len(p.points), -1, dtype=np.int64) for p in pieces]
        at = 0
        for pi, ix in cand:
            index[pi][ix] = merged[at:at + len(ix)]
            at += len(ix)
        points = all_pts[first]
        src = np.concatenate([np.full(len(ix), pi) for pi, ix in cand])[first]
        row = np.concatenate([ix for _pi, ix in cand])[first]
        point_data = {}
        for name in names_p[0]:
            shape = np.shape(pieces[0].point_data[name])[1:]
            a = np.empty((len(first),) + shape, dtype=np.asarray(pieces[0].point_data[name]).dtype)
            for pi, p in enumerate(pieces):
                a[src == pi] = np.asarray(p.point_data[name])[row[src == pi]]
            point_data[name] = a
    cells, cell_data = [], {name: [] for name in names_c[0]}
    for p, r, ix in zip(pieces, runs, index):
        for t, c, rows in r:
            c = ix[c]
            if cells and cells[-1][0] == t:
                cells[-1] = (t, np.vstack([cells[-1][1], c]))
                for name in cell_data:
                    cell_data[name][-1] = np.concatenate([cell_data[name][-1], np.asarray(p.cell_data[name])[rows]])
            else:
                cells.append((t, c))
                for name in cell_data:
                    cell_data[name].append(np.asarray(p.cell_data[name])[rows])
    if not cells:
        raise InputError(f"{label}: no cells")
    return meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data)


def read_pieces(paths, label) -> "meshio.Mesh":  # noqa: F821
    """The ``.vtu``/``.pvtu`` files ``paths`` (the parts of one time step) merged into one mesh."""
    pieces = []
    for path in paths:
        pieces += _read_pvtu(path) if path.lower().endswith(".pvtu") else _read_vtu(path)
    return _to_mesh(pieces, label)


def read_vtk_xml(path) -> "meshio.Mesh":  # noqa: F821
    """A ``.vtu`` or ``.pvtu`` file as a ``meshio.Mesh`` (module docstring)."""
    path = os.fspath(path)
    return read_pieces([path], path)
