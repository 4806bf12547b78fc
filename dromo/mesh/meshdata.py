"""The serial, global mesh container returned by every mesh reader and generator.

Conventions
-----------
* Volume cell types: ``tet4 tet10 hex8 hex20 wedge6 wedge15``; facet (boundary face) types
  ``tri3 tri6 quad4 quad8``.
* Node order within a cell is the meshio/VTK order, which equals the Abaqus/CalculiX order for these
  types (tet10 mid-edge nodes on edges 01,12,20,03,13,23; hex20 on edges
  01,12,23,30,45,56,67,74,04,15,26,37; wedge15 on edges 01,12,20,34,45,53,03,14,25).  A cell is
  *positively oriented* when the Jacobian of the map from the reference element is positive (for a tet: ``det[p1-p0, p2-p0, p3-p0] > 0``; for a hex:
  nodes 0-3 counter-clockwise seen from the top face 4-7; for a wedge: triangle 0-1-2 counter-clockwise
  seen from triangle 3-4-5).
* Indices are 0-based everywhere.  External ids (``node_ids``, ``CellBlock.ids``) are what the file
  said (1-based in Abaqus/Gmsh) or generated as ``1..n``.
* The *global cell index* is the concatenation of the blocks in order: block ``b`` covers global cells
  ``cell_offsets[b]:cell_offsets[b+1]``.
* Faces of a cell are numbered as Abaqus/CalculiX element faces ``S1..S6`` (``FACES[type][k]`` is face
  ``S{k+1}``); the node lists in :data:`FACES` are ordered so that the right-hand-rule normal points
  *out of* a positively oriented cell.  Facet sets store facets with that outward orientation.
* Set names from Abaqus decks are stored upper-case (as CalculiX does); names from other formats are
  kept as written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ..errors import InputError

__all__ = [
    "CellBlock", "MeshData", "CELL_TYPES", "FACET_TYPES", "NODES_PER_CELL", "NODES_PER_FACET",
    "FACES", "CORNERS", "EDGES", "cell_faces", "locate_facets", "match_face_keys", "face_keys",
    "corner_jacobians",
]

#: number of nodes per cell type
NODES_PER_CELL: Dict[str, int] = {"tet4": 4, "tet10": 10, "hex8": 8, "hex20": 20, "wedge6": 6,
                                  "wedge15": 15}
#: number of nodes per facet type
NODES_PER_FACET: Dict[str, int] = {"tri3": 3, "tri6": 6, "quad4": 4, "quad8": 8}
CELL_TYPES = tuple(NODES_PER_CELL)
FACET_TYPES = tuple(NODES_PER_FACET)
#: number of corner (vertex) nodes per cell / facet type
CORNERS: Dict[str, int] = {"tet4": 4, "tet10": 4, "hex8": 8, "hex20": 8, "wedge6": 6,
                           "wedge15": 6, "tri3": 3, "tri6": 3, "quad4": 4, "quad8": 4}

#: corner pairs of the edges carrying the mid-edge nodes of quadratic cells (in mid-node order)
EDGES: Dict[str, np.ndarray] = {
    "tet10": np.array([[0, 1], [1, 2], [2, 0], [0, 3], [1, 3], [2, 3]]),
    "hex20": np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
                       [0, 4], [1, 5], [2, 6], [3, 7]]),
    "wedge15": np.array([[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [5, 3], [0, 3], [1, 4], [2, 5]]),
}

# outward corner orderings of the Abaqus faces S1..Sn (0-based, positively oriented cells)
_TET_FACES = [(0, 2, 1), (0, 1, 3), (1, 2, 3), (0, 3, 2)]
_HEX_FACES = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
_WEDGE_FACES = [(0, 2, 1), (3, 4, 5), (0, 1, 4, 3), (1, 2, 5, 4), (2, 0, 3, 5)]


def _quadratic_faces(corner_faces, etype):
    """Append the mid-edge nodes (edge a-b, b-c, ..., last-first) to each corner face."""
    lookup = {}
    for k, (a, b) in enumerate(EDGES[etype]):
        lookup[(a, b)] = lookup[(b, a)] = NODES_PER_CELL[etype] - len(EDGES[etype]) + k
    out = []
    for f in corner_faces:
        n = len(f)
        out.append(tuple(f) + tuple(lookup[(f[i], f[(i + 1) % n])] for i in range(n)))
    return out


def _facet_type(nodes):
    return {3: "tri3", 6: "tri6", 4: "quad4", 8: "quad8"}[len(nodes)]


#: FACES[cell type] = list over faces S1..Sn of (facet type, outward local node indices)
FACES: Dict[str, List[tuple]] = {}
for _t, _f in (("tet4", _TET_FACES), ("hex8", _HEX_FACES), ("wedge6", _WEDGE_FACES),
               ("tet10", _quadratic_faces(_TET_FACES, "tet10")),
               ("hex20", _quadratic_faces(_HEX_FACES, "hex20")),
               ("wedge15", _quadratic_faces(_WEDGE_FACES, "wedge15"))):
    FACES[_t] = [(_facet_type(f), np.array(f, dtype=np.int64)) for f in _f]
del _t, _f


@dataclass
class CellBlock:
    """A block of cells of one type.

    Attributes
    ----------
    type : str
        One of :data:`CELL_TYPES`.
    cells : (n, nn) int64
        0-based indices into ``MeshData.points``, VTK/Abaqus node order.
    ids : (n,) int64
        External element ids (1-based as in the file, or generated); ``None`` -> ``1..n``.
    rule : str
        Integration rule the source asked for: ``"full"`` or ``"reduced"`` (e.g. CalculiX C3D20R).
    """

    type: str
    cells: np.ndarray
    ids: Optional[np.ndarray] = None
    rule: str = "full"

    def __post_init__(self):
        self.type = str(self.type).lower()
        self.cells = np.ascontiguousarray(self.cells, dtype=np.int64)
        if self.cells.ndim == 1 and self.cells.size == 0:
            self.cells = self.cells.reshape(0, NODES_PER_CELL.get(self.type, 0))
        if self.ids is None:
            self.ids = np.arange(1, len(self.cells) + 1, dtype=np.int64)
        else:
            self.ids = np.ascontiguousarray(self.ids, dtype=np.int64)

    def __len__(self):
        return len(self.cells)


def _as_index_array(a):
    return np.unique(np.asarray(a, dtype=np.int64).ravel())


def _as_facets(ftype, a):
    a = np.ascontiguousarray(a, dtype=np.int64)
    if a.ndim == 1 and ftype in NODES_PER_FACET:
        a = a.reshape(-1, NODES_PER_FACET[ftype])
    return a


class SetDict(dict):
    """Named sets (name -> members) looked up without regard to case, as CalculiX and Abaqus do (``NSET=Fix``
    is ``FIX``): ``"fix" in sets``, ``sets["fix"]`` and ``sets.get("fix")`` find ``"FIX"``. An exact match
    wins; the keys keep their spelling (iteration, archives). :class:`MeshData` refuses two names that
    differ only by case, so a lookup is never ambiguous there."""

    def key(self, name):
        """The stored spelling of ``name`` (exact, else case-insensitive), or ``None``."""
        if dict.__contains__(self, name):
            return name
        if isinstance(name, str):
            folded = name.casefold()
            for k in self:
                if isinstance(k, str) and k.casefold() == folded:
                    return k
        return None

    def __missing__(self, name):
        k = self.key(name)
        if k is None:
            raise KeyError(name)
        return dict.__getitem__(self, k)

    def __contains__(self, name):
        return self.key(name) is not None

    def get(self, name, default=None):
        k = self.key(name)
        return default if k is None else dict.__getitem__(self, k)


def _set_dict(sets, kind, source):
    """``sets`` as a :class:`SetDict`; InputError on two names differing only by case."""
    seen = {}
    for k in sets:
        f = str(k).casefold()
        if f in seen:
            raise InputError(f"{source or 'mesh'}: {kind} names {seen[f]!r} and {k!r} differ only by case; "
                             f"set names are case-insensitive (as in CalculiX and Abaqus): rename one")
        seen[f] = k
    return SetDict(sets)


@dataclass
class MeshData:
    """A serial, global mesh: points, cell blocks and named sets.

    Attributes
    ----------
    points : (n_nodes, 3) float64
    blocks : list of CellBlock
        Global cell index = concatenation of the blocks in order.
    node_ids : (n_nodes,) int64
        External node ids (``None`` -> ``1..n_nodes``).
    node_sets : dict name -> (k,) int64
        Sorted unique 0-based node indices.
    element_sets : dict name -> (k,) int64
        Sorted unique global cell indices.
    facet_sets : dict name -> {facet type: (nf, nfn) int64}
        Facets as node indices, oriented outward from the cell they bound (see :data:`FACES`).
        The three are :class:`SetDict`: names are matched without regard to case (two names of one
        kind that differ only by case are an error).
    source : str
        The file the mesh came from ("" if generated).
    """

    points: np.ndarray
    blocks: List[CellBlock]
    node_ids: Optional[np.ndarray] = None
    node_sets: Dict[str, np.ndarray] = field(default_factory=dict)
    element_sets: Dict[str, np.ndarray] = field(default_factory=dict)
    facet_sets: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim == 2 and pts.shape[1] < 3:  # 2-D coordinates -> pad z
            pts = np.hstack([pts, np.zeros((len(pts), 3 - pts.shape[1]))])
        self.points = np.ascontiguousarray(pts)
        self.blocks = list(self.blocks)
        if self.node_ids is None:
            self.node_ids = np.arange(1, len(self.points) + 1, dtype=np.int64)
        else:
            self.node_ids = np.ascontiguousarray(self.node_ids, dtype=np.int64)
        self.node_sets = _set_dict({k: _as_index_array(v) for k, v in self.node_sets.items()}, "node set",
                                   self.source)
        self.element_sets = _set_dict({k: _as_index_array(v) for k, v in self.element_sets.items()},
                                      "element set", self.source)
        self.facet_sets = _set_dict({k: {t: _as_facets(t, a) for t, a in v.items()}
                                     for k, v in self.facet_sets.items()}, "facet set", self.source)

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        return int(len(self.points))

    @property
    def n_cells(self) -> int:
        return int(sum(len(b.cells) for b in self.blocks))

    @property
    def cell_offsets(self) -> np.ndarray:
        """(n_blocks+1,) int64: block ``b`` holds global cells ``offsets[b]:offsets[b+1]``."""
        return np.concatenate([[0], np.cumsum([len(b.cells) for b in self.blocks])]).astype(np.int64)

    @property
    def cell_types(self) -> np.ndarray:
        """(n_cells,) array of str: the type of every global cell."""
        if not self.blocks:
            return np.empty(0, dtype="<U6")
        return np.repeat(np.array([b.type for b in self.blocks]), [len(b.cells) for b in self.blocks])

    @property
    def cell_ids(self) -> np.ndarray:
        """(n_cells,) int64 external element ids of all global cells."""
        if not self.blocks:
            return np.empty(0, dtype=np.int64)
        return np.concatenate([b.ids for b in self.blocks])

    @property
    def types(self) -> List[str]:
        """Distinct cell types present, in block order."""
        return list(dict.fromkeys(b.type for b in self.blocks))

    def locate_cells(self, cells) -> tuple:
        """Global cell indices -> (block index, index within block), both (k,) int64."""
        cells = np.asarray(cells, dtype=np.int64)
        off = self.cell_offsets
        b = np.searchsorted(off, cells, side="right") - 1
        return b, cells - off[b]

    def block_cells(self, b: int) -> np.ndarray:
        """(n_b,) global cell indices of block ``b``."""
        off = self.cell_offsets
        return np.arange(off[b], off[b + 1], dtype=np.int64)

    # ------------------------------------------------------------------ checks
    def validate(self) -> "MeshData":
        """Check the mesh; raise :class:`InputError` naming the file and the offending item.

        Checks: finite (n, 3) coordinates, known cell types, cell arrays of the right width, node
        indices in range, id arrays of the right length, set indices in range, known facet types.
        Returns ``self`` so it can be chained.
        """
        src = self.source or "<mesh>"
        if self.points.ndim != 2 or self.points.shape[1] != 3:
            raise InputError(f"{src}: points must have shape (n, 3), got {self.points.shape}")
        bad = ~np.isfinite(self.points).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{src}: node {self.node_ids[i]} has non-finite coordinates "
                             f"{self.points[i].tolist()}")
        if len(self.node_ids) != self.n_nodes:
            raise InputError(f"{src}: {len(self.node_ids)} node ids for {self.n_nodes} nodes")
        n = self.n_nodes
        for bi, b in enumerate(self.blocks):
            if b.type not in NODES_PER_CELL:
                raise InputError(f"{src}: block {bi}: unknown cell type {b.type!r} "
                                 f"(known: {', '.join(CELL_TYPES)})")
            nn = NODES_PER_CELL[b.type]
            if b.cells.ndim != 2 or b.cells.shape[1] != nn:
                raise InputError(f"{src}: block {bi} ({b.type}): cells have shape {b.cells.shape}, "
                                 f"expected (n, {nn})")
            if len(b.ids) != len(b.cells):
                raise InputError(f"{src}: block {bi} ({b.type}): {len(b.ids)} ids for "
                                 f"{len(b.cells)} cells")
            if b.rule not in ("full", "reduced"):
                raise InputError(f"{src}: block {bi} ({b.type}): unknown integration rule {b.rule!r}")
            if b.cells.size:
                badc = ((b.cells < 0) | (b.cells >= n)).any(axis=1)
                if badc.any():
                    i = int(np.flatnonzero(badc)[0])
                    raise InputError(f"{src}: element {b.ids[i]} ({b.type}) references node index "
                                     f"out of range 0..{n - 1}: {b.cells[i].tolist()}")
        nc = self.n_cells
        for name, s in self.node_sets.items():
            if s.size and (s[0] < 0 or s[-1] >= n):
                raise InputError(f"{src}: node set {name!r} has indices out of range 0..{n - 1}")
        for name, s in self.element_sets.items():
            if s.size and (s[0] < 0 or s[-1] >= nc):
                raise InputError(f"{src}: element set {name!r} has indices out of range 0..{nc - 1}")
        for name, d in self.facet_sets.items():
            for t, a in d.items():
                if t not in NODES_PER_FACET:
                    raise InputError(f"{src}: facet set {name!r}: unknown facet type {t!r}")
                if a.ndim != 2 or a.shape[1] != NODES_PER_FACET[t]:
                    raise InputError(f"{src}: facet set {name!r} ({t}): shape {a.shape}")
                if a.size and (a.min() < 0 or a.max() >= n):
                    raise InputError(f"{src}: facet set {name!r} ({t}) has node indices out of range")
        return self

    # ------------------------------------------------------------------ utilities
    def equals(self, other: "MeshData", tol: float = 0.0) -> bool:
        """Same points (within ``tol``), blocks (type, cells, ids, rule), ids and sets."""
        if self.n_nodes != other.n_nodes or len(self.blocks) != len(other.blocks):
            return False
        if not np.allclose(self.points, other.points, rtol=0, atol=tol):
            return False
        if not np.array_equal(self.node_ids, other.node_ids):
            return False
        for a, b in zip(self.blocks, other.blocks):
            if (a.type != b.type or a.rule != b.rule or not np.array_equal(a.cells, b.cells)
                    or not np.array_equal(a.ids, b.ids)):
                return False
        for x, y in ((self.node_sets, other.node_sets), (self.element_sets, other.element_sets)):
            if set(x) != set(y) or any(not np.array_equal(x[k], y[k]) for k in x):
                return False
        if set(self.facet_sets) != set(other.facet_sets):
            return False
        for k, d in self.facet_sets.items():
            e = other.facet_sets[k]
            if set(t for t in d if len(d[t])) != set(t for t in e if len(e[t])):
                return False
            for t in d:
                if len(d[t]) and not np.array_equal(_canon(d[t]), _canon(e[t])):
                    return False
        return True

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the geometry and topology: points (float64), each block's type and
        connectivity (int64), in order. Two meshes with the same fingerprint number their nodes,
        cells and integration points alike (sets and ids are not part of it)."""
        import hashlib
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.points, dtype="<f8").tobytes())
        for b in self.blocks:
            h.update(str(b.type).encode())
            h.update(np.ascontiguousarray(b.cells, dtype="<i8").tobytes())
        return h.hexdigest()

    def summary(self) -> str:
        """One line: counts per type and set names."""
        per = ", ".join(f"{len(b)} {b.type}" + ("(R)" if b.rule == "reduced" else "") for b in self.blocks)
        return (f"{self.source or 'mesh'}: {self.n_nodes} nodes, {self.n_cells} cells ({per}); "
                f"node sets {sorted(self.node_sets)}, element sets {sorted(self.element_sets)}, "
                f"facet sets {sorted(self.facet_sets)}")


def _canon(f):
    """Facets in a canonical order (rows sorted lexicographically) for comparisons."""
    f = np.asarray(f)
    return f[np.lexsort(f.T[::-1])] if len(f) else f


def cell_faces(mesh: MeshData, cells=None):
    """All faces of the given cells (default: all).

    Returns
    -------
    dict facet type -> (nodes (m, nfn) int64 outward-ordered, cell (m,) int64 global index,
    face (m,) int64 0-based Abaqus face number, i.e. ``S{face+1}``)
    """
    out: Dict[str, list] = {}
    off = mesh.cell_offsets
    sel = None if cells is None else np.asarray(cells, dtype=np.int64)
    for bi, b in enumerate(mesh.blocks):
        if sel is None:
            loc = np.arange(len(b.cells))
        else:
            loc = sel[(sel >= off[bi]) & (sel < off[bi + 1])] - off[bi]
        if not len(loc):
            continue
        for k, (ft, idx) in enumerate(FACES[b.type]):
            out.setdefault(ft, []).append((b.cells[loc][:, idx], loc + off[bi],
                                           np.full(len(loc), k, dtype=np.int64)))
    return {ft: tuple(np.concatenate(z) for z in zip(*parts)) for ft, parts in out.items()}


def face_keys(corners):
    """Order-independent row keys for (m, 3|4) corner arrays -> (m, 4) sorted, -1 padded."""
    c = np.sort(corners, axis=1)
    if c.shape[1] == 3:
        c = np.hstack([np.full((len(c), 1), -1, dtype=np.int64), c])
    return np.ascontiguousarray(c, dtype=np.int64)


_keys = face_keys


def _rowview(a):
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()


def locate_facets(mesh: MeshData, facets: np.ndarray, cells=None):
    """Find, for each facet (given by its nodes, any order), a cell face it coincides with.

    Parameters
    ----------
    facets : (nf, nfn) int64 node indices (only the corners, the first 3 or 4 columns, are used)
    cells : optional candidate global cells (default all)

    Returns
    -------
    cell : (nf,) int64 global cell index (the lowest one if two cells share the face; -1 if none)
    face : (nf,) int64 0-based face number (Abaqus ``S{face+1}``; -1 if none)
    """
    facets = np.asarray(facets, dtype=np.int64)
    nf = len(facets)
    cell = np.full(nf, -1, dtype=np.int64)
    face = np.full(nf, -1, dtype=np.int64)
    if nf == 0:
        return cell, face
    nc = 3 if facets.shape[1] in (3, 6) else 4
    fkeys = _keys(facets[:, :nc])
    for ft, (nodes, c, k) in cell_faces(mesh, cells).items():
        if CORNERS[ft] != nc:
            continue
        hc, hk = match_face_keys(_keys(nodes[:, :nc]), c, k, fkeys)
        ok = (hc >= 0) & (cell < 0)
        cell[ok] = hc[ok]
        face[ok] = hk[ok]
    return cell, face


def match_face_keys(ckeys, c, k, fkeys):
    """For each facet key (rows of :func:`_keys`), the lowest cell among the cell faces with that key.

    ``ckeys`` (m, 4) keys of cell faces, ``c`` (m,) their cells, ``k`` (m,) their face numbers; ``fkeys``
    (nf, 4). Returns ``(cell, face)`` (nf,) int64, -1 where no cell face has the key."""
    cell = np.full(len(fkeys), -1, dtype=np.int64)
    face = np.full(len(fkeys), -1, dtype=np.int64)
    if not len(ckeys) or not len(fkeys):
        return cell, face
    allk = np.concatenate([_rowview(np.ascontiguousarray(ckeys)), _rowview(np.ascontiguousarray(fkeys))])
    _, inv = np.unique(allk, return_inverse=True)
    inv = inv.ravel()
    ci, fi = inv[:len(ckeys)], inv[len(ckeys):]
    # for each key, the lowest cell: sort candidates by (key, cell) and take the first
    order = np.lexsort((c, ci))
    first = np.full(inv.max() + 1, -1, dtype=np.int64)
    rev = order[::-1]
    first[ci[rev]] = rev  # the last write wins -> the first in (key, cell) order
    hit = first[fi]
    ok = hit >= 0
    cell[ok] = c[hit[ok]]
    face[ok] = k[hit[ok]]
    return cell, face


def require_facet_cells(mesh: MeshData, facets: np.ndarray, what: str):
    """:func:`locate_facets`, raising InputError (``what: facet [nodes] (0-based) is no face of any
    volume cell``) when a facet bounds no cell.  Returns ``(cell, face)``."""
    cell, face = locate_facets(mesh, facets)
    if (cell < 0).any():
        i = int(np.flatnonzero(cell < 0)[0])
        raise InputError(f"{what}: facet with nodes {facets[i].tolist()} (0-based) is no face of any "
                         f"volume cell")
    return cell, face


# corner neighbours (right-handed triad) of every corner, for the corner-Jacobian check
_CORNER_TRIADS = {
    "tet4": [(0, 1, 2, 3), (1, 2, 0, 3), (2, 0, 1, 3), (3, 0, 2, 1)],
    "hex8": [(0, 1, 3, 4), (1, 2, 0, 5), (2, 3, 1, 6), (3, 0, 2, 7),
             (4, 7, 5, 0), (5, 4, 6, 1), (6, 5, 7, 2), (7, 6, 4, 3)],
    "wedge6": [(0, 1, 2, 3), (1, 2, 0, 4), (2, 0, 1, 5), (3, 5, 4, 0), (4, 3, 5, 1), (5, 4, 3, 2)],
}
_CORNER_TRIADS["tet10"] = _CORNER_TRIADS["tet4"]
_CORNER_TRIADS["hex20"] = _CORNER_TRIADS["hex8"]
_CORNER_TRIADS["wedge15"] = _CORNER_TRIADS["wedge6"]


def corner_jacobians(points: np.ndarray, cells: np.ndarray, cell_type: str) -> np.ndarray:
    """(n, n_corners) determinants of the edge triads at each corner of each cell.

    All are positive for a positively oriented, non-inverted cell with straight edges (for a tet each
    equals 6 x its volume).  A cheap validity check that needs no shape functions.
    """
    tri = np.array(_CORNER_TRIADS[cell_type])
    p = points[cells[:, tri]]                     # (n, nc, 4, 3)
    e = p[:, :, 1:, :] - p[:, :, :1, :]            # (n, nc, 3, 3) rows = edges
    return np.linalg.det(e)


def drop_unused_nodes(points, node_ids, blocks, node_sets, facet_sets, source):
    """Drop the nodes referenced by no volume cell; renumber cells, node sets and facet sets.

    Returns ``(points, node_ids, blocks, node_sets, facet_sets)`` (the inputs when every node is used).
    Node-set members that are dropped leave their set; a facet on a dropped node raises InputError
    naming ``source`` and the facet set.
    """
    used = np.zeros(len(points), dtype=bool)
    for b in blocks:
        used[b.cells.ravel()] = True
    if used.all():
        return points, node_ids, blocks, node_sets, facet_sets
    new = np.full(len(points), -1, dtype=np.int64)
    new[used] = np.arange(int(used.sum()))
    blocks = [CellBlock(b.type, new[b.cells], b.ids, b.rule) for b in blocks]
    node_sets = {k: new[v][new[v] >= 0] for k, v in node_sets.items()}
    fs = {}
    for k, d in facet_sets.items():
        fs[k] = {}
        for t, a in d.items():
            if a.size and (new[a] < 0).any():
                raise InputError(f"{source}: facet set {k!r} uses nodes of no volume cell")
            fs[k][t] = new[a]
    return points[used], node_ids[used], blocks, node_sets, fs

