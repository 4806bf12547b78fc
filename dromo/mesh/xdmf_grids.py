"""XDMF files of several grids, as FEniCSx (dolfinx) and meshio's time-series writer make them.

A dolfinx ``XDMFFile`` holds, in one ``Domain``:

* the **mesh grid** (``Grid Name="mesh" GridType="Uniform"``: a Topology and a Geometry of its own);
* one grid per ``write_meshtags`` (``Uniform``: the mesh Geometry through ``xi:include``, a Topology of
  the tagged facets or cells, one cell-centred integer Attribute named like the grid);
* one **temporal collection** per function written (``GridType="Collection" CollectionType="Temporal"``:
  a ``Uniform`` grid per time with its ``Time`` and Attributes, the mesh included from the mesh grid).

meshio reads files of one grid only (and calls ``sys.exit`` on more); its time-series reader takes the
*last* uniform grid for the mesh (a meshtags grid in a dolfinx file). :class:`XdmfGrids` reads them all:

* the mesh grid: the first grid with a volume Topology and a Geometry of its own (top-level, else the
  first step of a collection);
* meshtags grids: every other top-level uniform grid with a Topology and a cell-centred Attribute; their
  entities become **sets named ``GRID_VALUE``** (e.g. ``facets_1``, ``facets_2``), one per tag value:
  facets (triangles, quadrilaterals) give facet sets and node sets, cells give element sets and node sets
  (:meth:`XdmfGrids.mesh`, through :func:`dromo.mesh.readers.from_meshio`);
* time steps: the grids of the temporal collections, the i-th grid of every collection being step i
  (collections must agree on their times). A step grid with a Topology and Geometry of its own brings its
  own mesh; otherwise the mesh grid is the step's mesh.

DataItems: ``Format="HDF"`` (the ``.h5`` named relative to the ``.xdmf``, read with h5py, read-only),
``"XML"`` (inline text) and ``"Binary"`` (a raw file; ``DataType``/``NumberType``, ``Precision``,
``Endian``). Errors are :class:`~dromo.errors.InputError` naming the file and the grid.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Dict, List

import numpy as np

from ..errors import InputError

__all__ = ["XdmfGrids", "is_multi_grid"]

_XI = "{http://www.w3.org/2001/XInclude}include"
_VOLUME = {"Tetrahedron", "Tetrahedron_10", "Hexahedron", "Hexahedron_20", "Wedge", "Mixed"}


def is_multi_grid(path) -> bool:
    """True when the XDMF file has more than one top-level grid or a collection (what meshio's mesh
    reader cannot read)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"{path}: cannot read as XDMF (XML): {exc}") from None
    domain = root.find("Domain")
    grids = [] if domain is None else domain.findall("Grid")
    return len(grids) > 1 or any(g.get("GridType") == "Collection" for g in grids)


def _own(grid, tag):
    """The grid's own ``tag`` child (not one included through xi:include), or None."""
    return grid.find(tag)


class XdmfGrids:
    """An XDMF file's grids (module docstring). Use as a context manager (closes the HDF5 files)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            root = ET.parse(self.path).getroot()
        except (ET.ParseError, OSError) as exc:
            raise InputError(f"{self.path}: cannot read as XDMF (XML): {exc}") from None
        domain = root.find("Domain")
        if root.tag != "Xdmf" or domain is None:
            raise InputError(f"{self.path}: not an XDMF file (no Xdmf/Domain)")
        grids = domain.findall("Grid")
        self.collections = [[s for s in g.findall("Grid")] for g in grids
                            if g.get("GridType") == "Collection" and g.get("CollectionType") == "Temporal"]
        uniform = [g for g in grids if g.get("GridType", "Uniform") == "Uniform"]
        candidates = uniform + [c[0] for c in self.collections if c]
        self.mesh_grid = next((g for g in candidates if _own(g, "Geometry") is not None
                               and self._topology_type(g) in _VOLUME), None)
        if self.mesh_grid is None:
            raise InputError(f"{self.path}: no grid with a volume topology (tetrahedra, hexahedra, wedges) "
                             f"and a geometry of its own")
        self.tag_grids = [g for g in uniform if g is not self.mesh_grid and _own(g, "Topology") is not None
                          and any(a.get("Center") == "Cell" for a in g.findall("Attribute"))]
        self._h5: Dict[str, object] = {}
        self._mesh_pc = None

    # ------------------------------------------------------------------ data items
    def _item(self, element, where):
        """The array of a DataItem element (or of the single DataItem child of ``element``)."""
        item = element if element.tag == "DataItem" else element.find("DataItem")
        if item is None:
            raise InputError(f"{self.path}: {where}: no DataItem")
        try:
            dims = [int(d) for d in item.get("Dimensions", "").split()]
        except ValueError:
            raise InputError(f"{self.path}: {where}: bad Dimensions {item.get('Dimensions')!r}") from None
        fmt, text = item.get("Format", "XML"), (item.text or "").strip()
        kind = item.get("DataType") or item.get("NumberType") or "Float"
        size = int(item.get("Precision", "8" if fmt == "HDF" else "4"))
        dtype = np.dtype({"Float": "f", "Int": "i", "UInt": "u", "Char": "i", "UChar": "u"}.get(kind, "f")
                         + str(size))
        try:
            if fmt == "HDF":
                a = self._hdf(text)
            elif fmt == "XML":
                a = np.array(text.split(), dtype=np.float64 if dtype.kind == "f" else np.int64)
            elif fmt == "Binary":
                full = text if os.path.isabs(text) else os.path.join(os.path.dirname(self.path), text)
                dtype = dtype.newbyteorder(">" if item.get("Endian") == "Big" else "<")
                a = np.fromfile(full, dtype=dtype)
            else:
                raise InputError(f"{self.path}: {where}: unknown DataItem Format {fmt!r}")
            return a.reshape(dims) if dims and a.size == int(np.prod(dims)) else a
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - h5py/numpy raise many kinds
            raise InputError(f"{self.path}: {where}: cannot read {fmt} data {text[:120]!r} "
                             f"({type(exc).__name__}: {exc})") from None

    def _hdf(self, text):
        import h5py
        name, _, inner = text.partition(":")
        full = name if os.path.isabs(name) else os.path.join(os.path.dirname(os.path.abspath(self.path)), name)
        if full not in self._h5:
            self._h5[full] = h5py.File(full, "r")
        return self._h5[full][inner][()]

    def close(self):
        for f in self._h5.values():
            f.close()
        self._h5 = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ------------------------------------------------------------------ grids
    @staticmethod
    def _topology_type(grid):
        t = _own(grid, "Topology")
        return None if t is None else (t.get("TopologyType") or t.get("Type"))

    def _cells(self, grid, where):
        """Cell blocks (meshio.CellBlock) of a grid's own Topology."""
        from meshio import CellBlock
        from meshio.xdmf.common import xdmf_to_meshio_type

        from .readers import translate_mixed_cells
        ttype = self._topology_type(grid)
        data = self._item(_own(grid, "Topology"), f"{where} Topology")
        if ttype == "Mixed":
            try:
                return translate_mixed_cells(data.ravel())
            except ValueError as exc:
                raise InputError(f"{self.path}: {where}: {exc}") from None
        if ttype not in xdmf_to_meshio_type:
            raise InputError(f"{self.path}: {where}: unknown TopologyType {ttype!r}")
        mtype = xdmf_to_meshio_type[ttype]
        npe = int(_own(grid, "Topology").get("NodesPerElement", 0)) or data.shape[-1]
        return [CellBlock(mtype, np.asarray(data, dtype=np.int64).reshape(-1, npe))]

    def _points_cells(self, grid, where):
        g = _own(grid, "Geometry")
        if (g.get("GeometryType") or g.get("Type") or "XYZ") not in ("XYZ", "XY"):
            raise InputError(f"{self.path}: {where}: GeometryType {g.get('GeometryType')!r} (XYZ or XY)")
        pts = np.asarray(self._item(g, f"{where} Geometry"), dtype=np.float64)
        pts = pts.reshape(len(pts), -1) if pts.ndim > 1 else pts.reshape(-1, 3)
        return pts, self._cells(grid, where)

    def points_cells(self):
        """(points (n, 3), cell blocks) of the mesh grid."""
        if self._mesh_pc is None:
            self._mesh_pc = self._points_cells(self.mesh_grid, f"grid {self.mesh_grid.get('Name', '')!r}")
        return self._mesh_pc

    def mesh(self):
        """The mesh grid with the meshtags as sets, as a ``meshio.Mesh`` (``cell_sets``; facet blocks
        appended after the volume blocks)."""
        import meshio
        points, cells = self.points_cells()
        cells = list(cells)
        n_vol = len(cells)
        sets: Dict[str, list] = {}                  # set name -> [(block indices, rows)]
        for g in self.tag_grids:
            name = g.get("Name", "tags")
            where = f"meshtags grid {name!r}"
            blocks = self._cells(g, where)
            values = [a for a in g.findall("Attribute") if a.get("Center") == "Cell"][0]
            tags = np.asarray(self._item(values, f"{where} Attribute"), dtype=np.float64).ravel()
            if len(tags) != sum(len(b.data) for b in blocks):
                raise InputError(f"{self.path}: {where}: {len(tags)} tags for "
                                 f"{sum(len(b.data) for b in blocks)} entities")
            at = 0
            for b in blocks:
                t = tags[at:at + len(b.data)]
                at += len(b.data)
                if b.type in _MESHIO_VOLUME:        # tagged cells: the mesh's own cells
                    bi, rows = _volume_rows(cells[:n_vol], b)
                    if (rows < 0).any():
                        raise InputError(f"{self.path}: {where}: tagged cell with nodes "
                                         f"{b.data[rows < 0][0].tolist()} is not a cell of the mesh")
                else:                               # tagged facets: a block of their own
                    cells.append(b)
                    bi, rows = np.full(len(b.data), len(cells) - 1), np.arange(len(b.data))
                for v in np.unique(t):
                    label = f"{name}_{int(v) if float(v).is_integer() else v}"
                    sets.setdefault(label, []).append((bi[t == v], rows[t == v]))
        cell_sets = {}
        for label, parts in sets.items():
            bi = np.concatenate([p[0] for p in parts])
            rows = np.concatenate([p[1] for p in parts])
            cell_sets[label] = [np.unique(rows[bi == k]) for k in range(len(cells))]
        return meshio.Mesh(points, cells, cell_sets=cell_sets)

    # ------------------------------------------------------------------ time steps
    def times(self) -> List[float]:
        """Times of the steps (from the first temporal collection; the others must agree)."""
        out = None
        for c in self.collections:
            t = []
            for k, g in enumerate(c):
                e = g.find("Time")
                try:
                    t.append(float(e.get("Value")) if e is not None else float(k))
                except (TypeError, ValueError):
                    raise InputError(f"{self.path}: grid {k + 1} of the time series has a bad Time") from None
            if out is not None and t != out:
                raise InputError(f"{self.path}: its temporal collections have different times "
                                 f"({out[:4]}... and {t[:4]}...)")
            out = t
        return out or []

    def step(self, k):
        """Step ``k``: ``(points, cells, point_data, cell_data)`` (cell data split per cell block)."""
        points, cells = self.points_cells()
        pd, cd_raw = {}, {}
        for c in self.collections:
            g = c[k]
            where = f"step {k} (grid {g.get('Name', '')!r})"
            if _own(g, "Geometry") is not None and _own(g, "Topology") is not None:
                points, cells = self._points_cells(g, where)
            for a in g.findall("Attribute"):
                name, center = a.get("Name"), a.get("Center", "Node")
                if name in pd or name in cd_raw:
                    raise InputError(f"{self.path}: {where}: attribute {name!r} written twice")
                data = self._item(a, f"{where} attribute {name!r}")
                if center == "Node":
                    pd[name] = data
                elif center == "Cell":
                    cd_raw[name] = data
                else:
                    raise InputError(f"{self.path}: {where}: attribute {name!r} is centred on "
                                     f"{center!r} (Node or Cell only)")
        sizes = np.cumsum([len(b.data) for b in cells])[:-1]
        return points, cells, pd, {n: np.split(np.asarray(v), sizes) for n, v in cd_raw.items()}


_MESHIO_VOLUME = {"tetra", "tetra10", "hexahedron", "hexahedron20", "wedge"}


def _volume_rows(blocks, tagged):
    """(block index, row) of the volume cells of ``blocks`` with the node sets of ``tagged`` cells
    (-1 where there is none)."""
    keys = np.sort(np.asarray(tagged.data, np.int64), axis=1)
    bi = np.full(len(keys), -1, dtype=np.int64)
    rows = np.full(len(keys), -1, dtype=np.int64)
    for b, blk in enumerate(blocks):
        if blk.type != tagged.type:
            continue
        mk = np.sort(np.asarray(blk.data, np.int64), axis=1)
        both = np.concatenate([mk, keys])
        _u, inv = np.unique(both, axis=0, return_inverse=True)
        inv = inv.ravel()
        first = np.full(inv.max() + 1, -1, dtype=np.int64)
        first[inv[:len(mk)][::-1]] = np.arange(len(mk))[::-1]
        hit = first[inv[len(mk):]]
        ok = (hit >= 0) & (rows < 0)
        bi[ok], rows[ok] = b, hit[ok]
    return bi, rows
