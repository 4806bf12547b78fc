"""Meshes and nodal/cell time series in the formats meshio reads (and FEniCSx writes), into a dromo archive.

:class:`MeshioSeriesReader` (registered as ``"meshio"``) takes

* ``mesh``: a mesh file dromo reads (Gmsh ``.msh``, ``.vtu``/``.pvtu``, ``.xdmf``, Abaqus ``.inp``,
  ``.med``..., :func:`dromo.mesh.readers.read_mesh`, with its sets; an XDMF time series is its own mesh,
  its dolfinx meshtags become sets), or None to use the mesh of the first series (the XDMF file itself
  when it is an XDMF time series);
* ``series``: any number of result files, each one of

  - an **XDMF time series** (dolfinx ``XDMFFile.write_function``, ``meshio.xdmf.TimeSeriesWriter``):
    one step per time, read by :mod:`dromo.mesh.xdmf_grids` (several grids, several collections);
  - a **PVD** collection (``<DataSet timestep=... file=...>``, e.g. dolfinx ``VTKFile``, Code_Aster,
    ParaView): one step per time; ``.vtu``/``.pvtu`` data sets are read by :mod:`dromo.mesh.vtk_xml`
    (pieces merged, ghosts dropped, Lagrange cells), the parts of one time merged; other formats by meshio;
  - a single file with point/cell data (``.vtu``, ``.pvtu``, ``.vtk``, ``.xdmf`` ...): one step, its
    time taken from ``times`` (default: its position in the list, 0, 1, ...).

meshio is called so that it cannot end the process (:class:`dromo.errors.no_exit`).

Item numbering: when a step's points are the mesh file's points in the same order (same coordinates to
1e-9 relative) and its volume cells the mesh's, point data map to dromo's nodes by their external ids
(1-based point positions) and cell data of the volume blocks in block order (lower-dimensional blocks
are dropped, as the mesh reader does). Otherwise — the same mesh written by another rank count — nodes
and cells are matched by coordinates (:func:`dromo.mesh.matching.match_mesh`, tolerance 1e-6 × the
smallest edge) and the log says so; a series of another mesh is an InputError saying how they differ.

Fields: point data -> location ``"node"``, cell data -> ``"cell"``; arrays ``(n,)`` have one component
(named after the array), ``(n, 3)`` components ``x, y, z``, ``(n, 3, 3)`` or ``(n, 9)`` symmetric
tensors are converted to **Mandel** (``xx, yy, zz, xy, xz, yz``, shears × √2, from the symmetric part);
other shapes (``(n, 6)`` included: VTK's order xx, yy, zz, xy, yz, xz is not universal) are stored as
written, components ``0..c-1``. Set/tag arrays (``nodeset:*``, ``cellset:*``, ``gmsh:*``,
``CellEntityIds``, ``medit:ref``, ``cell_tags``) are not fields.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np

from ...errors import InputError, no_exit
from ...parallel import get_logger
from . import FieldSpec, ResultReader, Step, register_reader

log = get_logger("dromo.import")

_SKIP_PREFIX = ("nodeset:", "cellset:", "gmsh:")
_SKIP = {"CellEntityIds", "medit:ref", "cell_tags", "vtkOriginalCellIds", "vtkOriginalPointIds"}
SQ2 = np.sqrt(2.0)


def _is_data(name):
    return not name.startswith(_SKIP_PREFIX) and name not in _SKIP


def _components(name, shape):
    if len(shape) == 1:
        return [name], None
    c = int(np.prod(shape[1:]))
    if c == 9:
        return ["xx", "yy", "zz", "xy", "xz", "yz"], "tensor"
    if c == 3:
        return ["x", "y", "z"], None
    return [str(i) for i in range(c)], None


def _mandel_from_full(a):
    a = np.asarray(a, dtype=np.float64).reshape(len(a), 3, 3)
    s = 0.5 * (a + a.transpose(0, 2, 1))
    return np.stack([s[:, 0, 0], s[:, 1, 1], s[:, 2, 2], SQ2 * s[:, 0, 1], SQ2 * s[:, 0, 2],
                     SQ2 * s[:, 1, 2]], axis=1)


def _read_pvd(path):
    """The steps of a PVD collection: [(time, [files])], in order; the parts of one time (``part``
    attributes, or several data sets with one ``timestep``) are the pieces of one step."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"{path}: cannot read as PVD (XML): {exc}") from None
    out = []
    for k, ds in enumerate(root.iter("DataSet")):
        f = ds.get("file")
        if f is None:
            raise InputError(f"{path}: DataSet {k + 1} has no file attribute")
        try:
            t = float(ds.get("timestep", k))
        except ValueError:
            raise InputError(f"{path}: DataSet {k + 1}: bad timestep {ds.get('timestep')!r}") from None
        full = f if os.path.isabs(f) else os.path.join(os.path.dirname(os.path.abspath(path)), f)
        if out and out[-1][0] == t and ds.get("part") not in (None, "0"):
            out[-1][1].append(full)
        else:
            out.append((t, [full]))
    if not out:
        raise InputError(f"{path}: no DataSet in the PVD collection")
    return out


def _read_file(paths, label):
    """One step of single files: ``.vtu``/``.pvtu`` pieces through :mod:`dromo.mesh.vtk_xml`, any other
    format through meshio (which cannot end the process: :class:`~dromo.errors.no_exit`). A meshio.Mesh."""
    for path in paths:
        if not os.path.isfile(path):
            raise InputError(f"{path}: file not found")
    if all(p.lower().endswith((".vtu", ".pvtu")) for p in paths):
        from ...mesh.vtk_xml import read_pieces
        return read_pieces(paths, label)
    if len(paths) > 1:
        raise InputError(f"{label}: a step of several parts must be .vtu/.pvtu files")
    import meshio
    try:
        with no_exit(f"{paths[0]}: cannot read with meshio"):
            return meshio.read(paths[0])
    except InputError:
        raise
    except Exception as exc:  # meshio raises many kinds
        raise InputError(f"{paths[0]}: cannot read with meshio ({type(exc).__name__}: {exc})") from None


def _is_time_series(path):
    if not path.lower().endswith((".xdmf", ".xmf")):
        return False
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"{path}: cannot read as XDMF (XML): {exc}") from None
    return any(g.get("CollectionType") == "Temporal" for g in root.iter("Grid"))


class _Source:
    """One step-producing item: (time, loader of (points, cells, point_data, cell_data), label)."""

    def __init__(self, time, load, label):
        self.time, self.load, self.label = time, load, label


@register_reader("meshio")
class MeshioSeriesReader(ResultReader):
    """See the module docstring. ``times``: times of single-file series items (default 0, 1, ...)."""

    def __init__(self, mesh=None, series=(), fields=None, times=None, allow_nonfinite=False,
                 allow_inverted=False):
        self.allow_nonfinite, self.allow_inverted = allow_nonfinite, allow_inverted
        self.mesh_path = None if mesh is None else os.fspath(mesh)
        self.series = [os.fspath(s) for s in series]
        if self.mesh_path is None and not self.series:
            raise InputError("meshio import: give a mesh and/or result series")
        self.source = (self.series[0] if self.series else self.mesh_path)
        self.select = None if fields is None else set(fields)
        self.times = times
        self._mesh = None
        self._items = None
        self._specs = None
        self._xdmf = {}               # path -> XdmfGrids (open HDF5 files), closed by close()
        self._numbering_cache = None  # (points, cells) written -> (node rows, cell rows)

    def attrs(self):
        return {"provenance": "dromo import meshio",
                "source_mesh": os.path.abspath(self.mesh_path) if self.mesh_path else "",
                "source_series": [os.path.abspath(s) for s in self.series] or [""]}

    def close(self):
        for x in self._xdmf.values():
            x.close()
        self._xdmf = {}

    # ------------------------------------------------------------------ sources
    def _grids(self, path):
        from ...mesh.xdmf_grids import XdmfGrids
        if path not in self._xdmf:
            self._xdmf[path] = XdmfGrids(path)
        return self._xdmf[path]

    def _sources(self):
        if self._items is not None:
            return self._items
        items = []
        single = 0
        for path in self.series:
            if not os.path.isfile(path):
                raise InputError(f"{path}: result file not found")
            if path.lower().endswith(".pvd"):
                for t, files in _read_pvd(path):
                    label = files[0] if len(files) == 1 else f"{path} (time {t:g}, {len(files)} parts)"
                    items.append(_Source(t, lambda f=files, lb=label: self._load_file(f, lb), label))
            elif _is_time_series(path):
                for k, t in enumerate(self._grids(path).times()):
                    items.append(_Source(t, lambda p=path, k=k: self._grids(p).step(k), f"{path}[{k}]"))
            else:
                t = float(self.times[single]) if self.times is not None and single < len(self.times) \
                    else float(single)
                single += 1
                items.append(_Source(t, lambda p=path: self._load_file([p], p), path))
        self._items = items
        return items

    @staticmethod
    def _load_file(paths, label):
        m = _read_file(paths, label)
        return m.points, m.cells, m.point_data, m.cell_data

    # ------------------------------------------------------------------ interface
    def mesh(self):
        if self._mesh is None:
            from ...mesh.readers import from_meshio, read_mesh
            if self.mesh_path is not None:
                self._mesh = read_mesh(self.mesh_path)
            elif _is_time_series(self.series[0]):     # the time series is its own mesh (and meshtags)
                self._mesh = read_mesh(self.series[0])
            else:
                import meshio
                src = self._sources()
                if not src:
                    raise InputError(f"{self.source}: no steps")
                points, cells, _pd, _cd = src[0].load()
                self._mesh = from_meshio(meshio.Mesh(points, cells), source=src[0].label)
        return self._mesh

    def _volume_blocks(self, cells):
        from ...mesh.readers import MESHIO_VOLUME
        return [i for i, c in enumerate(cells) if c.type in MESHIO_VOLUME]

    def fields(self):
        specs = []
        src = self._sources()
        if not src:
            self._specs = []
            return []
        points, cells, pd, cd = src[0].load()
        self._numbering(points, cells, src[0].label)
        vol = self._volume_blocks(cells)
        self._kinds = {}
        for name, arr in pd.items():
            if not _is_data(name) or (self.select is not None and name not in self.select):
                continue
            comps, kind = _components(name, np.shape(arr))
            specs.append(FieldSpec(name, "node", comps, description=f"point data {name!r}",
                                   attrs={"meshio_shape": list(np.shape(arr)[1:]) or [1]}))
            self._kinds[name] = ("node", kind)
        for name, arrs in cd.items():
            if not _is_data(name) or (self.select is not None and name not in self.select):
                continue
            if name in self._kinds:
                raise InputError(f"{src[0].label}: {name!r} is both point and cell data")
            shape = np.shape(arrs[vol[0]]) if vol else (0,)
            comps, kind = _components(name, shape)
            specs.append(FieldSpec(name, "cell", comps, description=f"cell data {name!r}",
                                   attrs={"meshio_shape": list(shape[1:]) or [1]}))
            self._kinds[name] = ("cell", kind)
        self._specs = specs
        return specs

    def _numbering(self, points, cells, label):
        """(node rows, cell rows or None) of the mesh's nodes and cells in a step's written points and
        volume cells: the written order when it is the mesh's (the mesh file's own points), else matched by
        coordinates (:func:`dromo.mesh.matching.match_mesh`, logged). Cached while the step's points and
        cells stay the same."""
        from ...mesh.readers import MESHIO_VOLUME
        points = np.asarray(points, dtype=np.float64)
        vol = [(MESHIO_VOLUME[c.type], np.asarray(c.data, np.int64)) for c in cells if c.type in MESHIO_VOLUME]
        cached = self._numbering_cache
        if cached is not None and np.array_equal(cached[0], points) and len(cached[1]) == len(vol) \
                and all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(cached[1], vol)):
            return cached[2]
        mesh = self.mesh()
        if points.shape[1] < 3:
            points = np.hstack([points, np.zeros((len(points), 3 - points.shape[1]))])
        rows = mesh.node_ids - 1
        if _same_numbering(mesh, points, vol):
            result = (rows, None)
        else:
            from ...mesh.matching import TOLERANCE, match_mesh
            result = match_mesh(mesh, points, vol, label)
            log.info("%s: numbers the nodes%s of the mesh %s differently: mapped by coordinates (tolerance "
                     "%g x the smallest edge)", label, "" if result[1] is None else " and cells",
                     mesh.source, TOLERANCE)
        self._numbering_cache = (points, vol, result)
        return result

    def steps(self):
        if self._specs is None:
            self.fields()
        mesh = self.mesh()
        for k, s in enumerate(self._sources()):
            points, cells, pd, cd = s.load()
            rows, cell_rows = self._numbering(points, cells, s.label)
            vol = self._volume_blocks(cells)
            values = {}
            for spec in self._specs:
                loc, kind = self._kinds[spec.name]
                if loc == "node":
                    if spec.name not in pd:
                        continue
                    a = np.asarray(pd[spec.name])
                    a = a.reshape(len(a), -1)[rows]
                else:
                    if spec.name not in cd:
                        continue
                    a = np.concatenate([np.asarray(cd[spec.name][i]).reshape(len(cells[i].data), -1)
                                        for i in vol])
                    if cell_rows is not None:
                        a = a[cell_rows]
                if kind == "tensor":
                    a = _mandel_from_full(a)
                if a.shape[1] != spec.n_components:
                    raise InputError(f"{s.label}: {spec.name} has {a.shape[1]} components, "
                                     f"{spec.n_components} in the first step")
                a = np.ascontiguousarray(a, dtype=np.float64)
                if not self.allow_nonfinite and not np.isfinite(a).all():
                    r, c = np.argwhere(~np.isfinite(a))[0]
                    item = f"node {mesh.node_ids[r]}" if loc == "node" else f"cell {mesh.cell_ids[r]}"
                    raise InputError(f"{s.label}: step {k + 1} (time {s.time:g}): {spec.name}, {item}, "
                                     f"component {spec.components[c]} is {a[r, c]} (not finite; "
                                     f"--allow-nonfinite keeps such values)")
                values[spec.name] = a
            if not np.isfinite(s.time):
                raise InputError(f"{s.label}: step {k + 1} has the non-finite time {s.time}")
            yield Step(s.time, values, info={"index": k})


def _same_numbering(mesh, points, vol):
    """True when the written ``points`` (n, 3) and volume cells ``vol`` [(dromo type, cells)] are the
    mesh's in its own numbering (its node ids are 1-based positions in the written points): same
    coordinates to 1e-9 relative, same cells in the same order."""
    if mesh.node_ids.max(initial=0) > len(points):
        return False
    scale = max(1.0, float(np.abs(mesh.points).max(initial=0.0)))
    if np.abs(points[mesh.node_ids - 1] - mesh.points).max(initial=0.0) > 1e-9 * scale:
        return False
    if [t for t, _c in vol] != [b.type for b in mesh.blocks]:
        return False
    return all(np.array_equal(c, mesh.node_ids[b.cells] - 1) for (_t, c), b in zip(vol, mesh.blocks))
