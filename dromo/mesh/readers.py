"""Mesh readers and writers: Gmsh ``.msh``, XDMF, MED (through meshio); ``.vtu``/``.pvtu`` through
:mod:`.vtk_xml`; XDMF files of several grids (dolfinx: mesh, meshtags, time series) through
:mod:`.xdmf_grids`; ``.inp`` through :mod:`.inp`.

``read_mesh(path)`` returns a serial, global :class:`~dromo.mesh.meshdata.MeshData`. meshio is called
inside :class:`~dromo.errors.no_exit`: its ``sys.exit`` on a file it cannot read becomes an InputError
naming the file.

Conventions
-----------
* Only volume cells (tet4, tet10, hex8, hex20, wedge6, wedge15) form cell blocks.  Lower-dimensional cells
  (triangles, quads, lines, vertices) only carry sets: triangles/quads of a tagged group become a
  *facet set* (re-oriented outward from the volume cell they bound, node order taken from that cell's
  face, see :data:`~dromo.mesh.meshdata.FACES`); the nodes of every tagged group become a *node set*;
  volume groups become *element sets*.
* Gmsh: set names are the physical names (``field_data``); unnamed physical groups are named by their
  tag, ``str(tag)``.  VTU/XDMF: integer cell-data arrays ``gmsh:physical``, ``CellEntityIds``,
  ``medit:ref`` or ``cell_tags`` give sets named after the value (or after ``field_data`` names where
  present); meshio ``cell_sets`` are kept; and dromo's own convention (written by :func:`to_meshio`) of
  0/1 arrays ``nodeset:NAME`` (point data) and ``cellset:NAME`` (cell data) round-trips every set.
* Nodes referenced by no volume cell are dropped (``prune=True``); ``node_ids`` keep the external ids.
  For meshio formats, external node ids are the 1-based point positions in the file.
* Abaqus/CalculiX ``.inp`` is read by dromo's own parser, :mod:`dromo.mesh.inp` (meshio's drops
  sets and surfaces); :func:`read_mesh` dispatches ``.inp`` files to :func:`dromo.mesh.inp.read_inp`.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np

from ..errors import InputError, no_exit
from .inp import read_inp
from .meshdata import FACES, CellBlock, MeshData, drop_unused_nodes, require_facet_cells
from .xdmf_grids import XdmfGrids, is_multi_grid

__all__ = ["read_mesh", "from_meshio", "to_meshio", "translate_mixed_cells", "MixedCellsFix"]

# ------------------------------------------------------------------------------------------ common

#: meshio cell type -> dromo cell type (volume cells)
MESHIO_VOLUME = {"tetra": "tet4", "tetra10": "tet10", "hexahedron": "hex8", "hexahedron20": "hex20",
                 "wedge": "wedge6", "wedge15": "wedge15"}
#: meshio cell type -> dromo facet type
MESHIO_FACET = {"triangle": "tri3", "triangle6": "tri6", "quad": "quad4", "quad8": "quad8"}
MESHIO_LOWER = {"line", "line3", "vertex", "line4"}
_DROMO_TO_MESHIO = {v: k for k, v in {**MESHIO_VOLUME, **MESHIO_FACET}.items()}
_MESHIO_DIM = {**{k: 3 for k in MESHIO_VOLUME}, **{k: 2 for k in MESHIO_FACET},
               "line": 1, "line3": 1, "line4": 1, "vertex": 0}
_TAG_ARRAYS = ("gmsh:physical", "CellEntityIds", "medit:ref", "cell_tags")

_FORMATS = {".msh": "gmsh", ".vtu": "vtu", ".pvtu": "pvtu", ".vtk": "vtk", ".xdmf": "xdmf", ".xmf": "xdmf",
            ".inp": "abaqus", ".med": "med"}


def read_mesh(path, format: Optional[str] = None, prune: bool = True) -> MeshData:
    """Read a volume mesh with its named sets.

    Parameters
    ----------
    path : file name; the format follows the extension (``.msh`` Gmsh, ``.vtu``/``.pvtu``/``.vtk``, ``.xdmf``/
        ``.xmf``, ``.inp`` Abaqus/CalculiX, ``.med``) unless ``format`` is given (``"gmsh"``,
        ``"vtu"``, ``"xdmf"``, ``"abaqus"``/``"calculix"``/``"inp"``, or any meshio format name).
    prune : drop nodes referenced by no volume cell.

    Returns
    -------
    MeshData (validated).  Raises InputError naming the file (and line or item) on bad input.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: mesh file not found")
    fmt = (format or _FORMATS.get(os.path.splitext(path)[1].lower(), "")).lower()
    if fmt in ("abaqus", "calculix", "inp", "ccx"):
        return read_inp(path, prune=prune)
    if not fmt:
        raise InputError(f"{path}: cannot tell the mesh format from the extension; pass format=")
    meshio = _meshio()
    mfmt = {"gmsh": "gmsh", "vtu": "vtu", "vtk": "vtk", "xdmf": "xdmf", "med": "med"}.get(fmt, fmt)
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: empty mesh file")
    if mfmt in ("vtu", "pvtu"):
        from .vtk_xml import read_vtk_xml
        return from_meshio(read_vtk_xml(path), source=path, prune=prune)
    if mfmt == "xdmf" and is_multi_grid(path):        # dolfinx: mesh, meshtags, time series
        with XdmfGrids(path) as x:
            return from_meshio(x.mesh(), source=path, prune=prune)
    try:
        with no_exit(f"{path}: cannot read as {fmt} mesh (truncated or invalid?): meshio said"), MixedCellsFix():
            m = meshio.read(path, file_format=mfmt)
    except InputError:
        raise
    except Exception as exc:  # meshio raises many kinds (ReadError, ValueError, IndexError, ...)
        raise InputError(f"{path}: cannot read as {fmt} mesh (truncated or invalid?): "
                         f"{type(exc).__name__}: {exc}") from exc
    return from_meshio(m, source=path, prune=prune)


def _meshio():
    """The meshio module, with the 15-node wedge's dimension registered: meshio 5.3 knows ``wedge15``
    (node count, VTK and XDMF names) but not its dimension, so its ``CellBlock`` fails on one."""
    import meshio
    from meshio import _mesh
    _mesh.topological_dimension.setdefault("wedge15", 3)
    return meshio


class MixedCellsFix:
    """Context manager: while active, ``MODULE.translate_mixed_cells`` is :func:`translate_mixed_cells`.

    meshio 5.3 cannot read quadratic cells from XDMF "Mixed" topologies (it lacks their node counts);
    both its mesh reader (``meshio.xdmf.main``, the default) and its time-series reader
    (``meshio.xdmf.time_series``) call a module-level ``translate_mixed_cells``, swapped here.
    """

    def __init__(self, module: str = "meshio.xdmf.main"):
        self.module = module

    def __enter__(self):
        import importlib
        try:
            self.mod = importlib.import_module(self.module)
        except ImportError:  # pragma: no cover
            self.mod = None
            return self
        self.orig = self.mod.translate_mixed_cells
        self.mod.translate_mixed_cells = translate_mixed_cells
        return self

    def __exit__(self, *exc):
        if self.mod is not None:
            self.mod.translate_mixed_cells = self.orig
        return False


def translate_mixed_cells(data):
    """XDMF "Mixed" topology array -> list of ``meshio.CellBlock`` (consecutive cells of one type
    grouped, run by run, vectorized).

    ``data``: the flat XDMF array (type code, [node count for polylines,] node indices, ...). Every
    linear and quadratic XDMF cell type is known.  Raises ValueError on an unknown type code or a
    truncated cell (meshio turns it into its read error).
    """
    from meshio import CellBlock as MCB
    from meshio.xdmf.common import xdmf_idx_to_meshio_type as names
    nodes = {1: 1, 2: 2, 4: 3, 5: 4, 6: 4, 7: 5, 8: 6, 9: 8, 0x22: 3, 0x23: 9, 0x24: 6, 0x25: 8,
             0x26: 10, 0x27: 13, 0x28: 15, 0x29: 18, 0x30: 20, 0x31: 24, 0x32: 27}
    data = np.asarray(data)
    out, r, N = [], 0, len(data)
    while r < N:
        t = int(data[r])
        if t not in nodes:
            raise ValueError(f"XDMF mixed topology: unknown cell type code {t} at offset {r}")
        head = 2 if t == 2 else 1  # polylines carry their node count
        stride = head + nodes[t]
        count = (N - r) // stride
        heads = data[r: r + stride * count: stride]
        bad = np.flatnonzero(heads != t)
        run = int(bad[0]) if bad.size else count
        if run == 0:
            raise ValueError(f"XDMF mixed topology: truncated cell at offset {r}")
        blk = data[r: r + stride * run].reshape(run, stride)[:, head:]
        if out and out[-1][0] == names[t]:
            out[-1] = (names[t], np.vstack([out[-1][1], blk]))
        else:
            out.append((names[t], blk))
        r += stride * run
    return [MCB(t, d) for t, d in out]


def _orient_facets(mesh_blocks_only: MeshData, name: str, facets: Dict[str, np.ndarray], source):
    """Replace facet node lists by the outward-ordered face of a cell they bound."""
    out: Dict[str, list] = {}
    for ft, f in facets.items():
        if not len(f):
            continue
        cell, face = require_facet_cells(mesh_blocks_only, f, f"{source}: facet set {name!r} ({ft})")
        bi, loc = mesh_blocks_only.locate_cells(cell)
        for b in np.unique(bi):
            blk = mesh_blocks_only.blocks[b]
            for k in np.unique(face[bi == b]):
                sel = (bi == b) & (face == k)
                ftype, idx = FACES[blk.type][k]  # a tri3 facet on a tet10 cell becomes its tri6 face
                out.setdefault(ftype, []).append(blk.cells[loc[sel]][:, idx])
    return {t: np.concatenate(v) for t, v in out.items()}


def from_meshio(m, source: str = "", prune: bool = True) -> MeshData:
    """Convert a ``meshio.Mesh`` to MeshData (see the module docstring for how sets are found)."""
    src = source or "<meshio>"
    points = np.asarray(m.points, dtype=np.float64)
    npts = len(points)
    node_ids = np.arange(1, npts + 1, dtype=np.int64)
    # field_data: name -> [tag, dim]
    tag_names: Dict[tuple, str] = {}
    for name, v in (m.field_data or {}).items():
        v = np.asarray(v).ravel()
        if len(v) >= 2:
            tag_names[(int(v[0]), int(v[1]))] = name
        elif len(v) == 1:
            tag_names[(int(v[0]), None)] = name

    def tag_name(tag, dim):
        return tag_names.get((tag, dim)) or tag_names.get((tag, None)) or str(tag)

    blocks: List[CellBlock] = []
    node_sets: Dict[str, list] = {}
    element_sets: Dict[str, list] = {}
    facet_raw: Dict[str, Dict[str, list]] = {}
    cell_offset = 0
    for bi, cb in enumerate(m.cells):
        ctype, data = cb.type, np.asarray(cb.data, dtype=np.int64)
        if ctype in MESHIO_VOLUME:
            kind = "volume"
        elif ctype in MESHIO_FACET:
            kind = "facet"
        elif ctype in MESHIO_LOWER:
            kind = "lower"
        else:
            raise InputError(f"{src}: unsupported cell type {ctype!r} in cell block {bi} "
                             f"(dromo has {', '.join(MESHIO_VOLUME)} and facets "
                             f"{', '.join(MESHIO_FACET)})")
        if data.size and (data.min() < 0 or data.max() >= npts):
            raise InputError(f"{src}: cell block {bi} ({ctype}) references points out of range")
        dim = _MESHIO_DIM[ctype]
        groups: Dict[str, np.ndarray] = {}  # set name -> boolean mask over this block's cells
        for key in _TAG_ARRAYS:
            arrs = (m.cell_data or {}).get(key)
            if arrs is None or bi >= len(arrs):
                continue
            tags = np.asarray(arrs[bi]).ravel()
            if not np.issubdtype(tags.dtype, np.integer):
                if not np.all(np.equal(np.mod(tags, 1), 0)):
                    continue
                tags = tags.astype(np.int64)
            for t in np.unique(tags):
                if key != "gmsh:physical" and t == 0 and (t, dim) not in tag_names:
                    continue  # 0 = "untagged" in most tag arrays
                nm = tag_name(int(t), dim)
                groups[nm] = groups.get(nm, np.zeros(len(data), bool)) | (tags == t)
        own: Dict[str, np.ndarray] = {}  # dromo's cellset:NAME arrays (node sets come separately)
        for key, arrs in (m.cell_data or {}).items():
            if key.startswith("cellset:") and bi < len(arrs):
                mask = np.asarray(arrs[bi]).ravel() != 0
                nm = key[len("cellset:"):]
                own[nm] = own.get(nm, np.zeros(len(data), bool)) | mask
        for nm, sets in (m.cell_sets or {}).items():
            if nm.startswith("gmsh:") or nm in groups or bi >= len(sets) or sets[bi] is None:
                continue
            idx = np.asarray(sets[bi], dtype=np.int64).ravel()
            if idx.size:
                mask = np.zeros(len(data), bool)
                mask[idx] = True
                groups[nm] = mask
        allgroups = {**groups, **{k: v for k, v in own.items() if k not in groups}}
        for nm, mask in allgroups.items():
            if not mask.any():
                continue
            if kind == "volume":
                element_sets.setdefault(nm, []).append(cell_offset + np.flatnonzero(mask))
            elif kind == "facet":
                facet_raw.setdefault(nm, {}).setdefault(MESHIO_FACET[ctype], []).append(data[mask])
            if nm in groups:
                node_sets.setdefault(nm, []).append(data[mask].ravel())
        if kind == "volume":
            blocks.append(CellBlock(MESHIO_VOLUME[ctype], data))
            cell_offset += len(data)
    for key, arr in (m.point_data or {}).items():
        if key.startswith("nodeset:"):
            node_sets.setdefault(key[len("nodeset:"):], []).append(
                np.flatnonzero(np.asarray(arr).ravel() != 0))
    if not blocks:
        raise InputError(f"{src}: no volume cells (tet4, tet10, hex8, hex20, wedge6, wedge15) in the mesh")
    ns = {k: np.unique(np.concatenate(v)) for k, v in node_sets.items()}
    es = {k: np.unique(np.concatenate(v)) for k, v in element_sets.items()}
    fs_raw = {k: {t: np.concatenate(a) for t, a in d.items()} for k, d in facet_raw.items()}
    mesh = MeshData(points, blocks, node_ids, source=src)
    fs = {k: _orient_facets(mesh, k, d, src) for k, d in fs_raw.items()}
    if prune:
        points, node_ids, blocks, ns, fs = drop_unused_nodes(points, node_ids, blocks, ns, fs, src)
    return MeshData(points, blocks, node_ids, ns, es, fs, source=source).validate()


def to_meshio(mesh: MeshData):
    """MeshData -> ``meshio.Mesh`` with volume blocks, one facet block per (facet set, facet type),
    and 0/1 arrays ``nodeset:NAME`` (point data), ``cellset:NAME`` (cell data; facet blocks of set
    NAME are marked in ``cellset:NAME``) that :func:`from_meshio` reads back."""
    meshio = _meshio()
    cells = [(_DROMO_TO_MESHIO[b.type], b.cells) for b in mesh.blocks]
    owner = []  # facet-set name of each facet block (None for volume blocks)
    for name, d in mesh.facet_sets.items():
        for t, a in d.items():
            if len(a):
                cells.append((_DROMO_TO_MESHIO[t], a))
                owner.append(name)
    nvol = len(mesh.blocks)
    off = mesh.cell_offsets
    cell_data = {}
    names = list(dict.fromkeys(list(mesh.element_sets) + list(mesh.facet_sets)))
    for nm in names:
        arrs = []
        es = mesh.element_sets.get(nm)
        for b in range(nvol):
            a = np.zeros(len(mesh.blocks[b].cells), dtype=np.int32)
            if es is not None:
                loc = es[(es >= off[b]) & (es < off[b + 1])] - off[b]
                a[loc] = 1
            arrs.append(a)
        for i, o in enumerate(owner):
            arrs.append(np.full(len(cells[nvol + i][1]), 1 if o == nm else 0, dtype=np.int32))
        cell_data[f"cellset:{nm}"] = arrs
    point_data = {}
    for nm, s in mesh.node_sets.items():
        a = np.zeros(mesh.n_nodes, dtype=np.int32)
        a[s] = 1
        point_data[f"nodeset:{nm}"] = a
    return meshio.Mesh(mesh.points, cells, point_data=point_data, cell_data=cell_data)
