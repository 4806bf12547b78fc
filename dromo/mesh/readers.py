"""Mesh readers and writers: Gmsh ``.msh``, VTU/XDMF (through meshio) and Abaqus/CalculiX ``.inp``.

``read_mesh(path)`` returns a serial, global :class:`~dromo.mesh.meshdata.MeshData`.

Conventions
-----------
* Only volume cells (tet4, tet10, hex8, hex20, wedge6) form cell blocks.  Lower-dimensional cells
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
* Abaqus/CalculiX ``.inp`` is read by dromo's own parser (meshio's drops sets and surfaces):
  ``*NODE``, ``*ELEMENT`` (C3D4, C3D10, C3D8, C3D8R, C3D8I, C3D20, C3D20R, C3D6), ``*NSET``/``*ELSET``
  (``GENERATE``, references to earlier sets by name, ``*NSET, ELSET=``), ``*SURFACE`` (``TYPE=ELEMENT``
  with faces ``S1..S6`` -> facet sets; ``TYPE=NODE`` -> node sets), ``*INCLUDE, INPUT=`` (path relative
  to the including file; lines are spliced in place as CalculiX does), ``**`` comments, continuation
  of element data lines ending with a comma (or filling 16 entries), case-insensitive keywords.  Other
  keywords and their data are skipped.  **Set and surface names are stored upper-case** (CalculiX
  semantics: names are case-insensitive).  ``CellBlock.rule`` is ``"reduced"`` for C3D8R/C3D20R.
"""
from __future__ import annotations

import os
import re
from typing import Dict, List, Optional

import numpy as np

from ..errors import InputError
from .meshdata import FACES, NODES_PER_CELL, CellBlock, MeshData, locate_facets

__all__ = ["read_mesh", "read_inp", "write_inp", "from_meshio", "to_meshio", "ABAQUS_TYPES"]

# ------------------------------------------------------------------------------------------ common

#: meshio cell type -> dromo cell type (volume cells)
MESHIO_VOLUME = {"tetra": "tet4", "tetra10": "tet10", "hexahedron": "hex8", "hexahedron20": "hex20",
                 "wedge": "wedge6"}
#: meshio cell type -> dromo facet type
MESHIO_FACET = {"triangle": "tri3", "triangle6": "tri6", "quad": "quad4", "quad8": "quad8"}
MESHIO_LOWER = {"line", "line3", "vertex", "line4"}
_DROMO_TO_MESHIO = {v: k for k, v in {**MESHIO_VOLUME, **MESHIO_FACET}.items()}
_MESHIO_DIM = {**{k: 3 for k in MESHIO_VOLUME}, **{k: 2 for k in MESHIO_FACET},
               "line": 1, "line3": 1, "line4": 1, "vertex": 0}
_TAG_ARRAYS = ("gmsh:physical", "CellEntityIds", "medit:ref", "cell_tags")

#: Abaqus/CalculiX element type -> (dromo type, integration rule)
ABAQUS_TYPES = {"C3D4": ("tet4", "full"), "C3D10": ("tet10", "full"), "C3D8": ("hex8", "full"),
                "C3D8R": ("hex8", "reduced"), "C3D8I": ("hex8", "full"), "C3D20": ("hex20", "full"),
                "C3D20R": ("hex20", "reduced"), "C3D6": ("wedge6", "full")}
_TO_ABAQUS = {("tet4", "full"): "C3D4", ("tet10", "full"): "C3D10", ("hex8", "full"): "C3D8",
              ("hex8", "reduced"): "C3D8R", ("hex20", "full"): "C3D20", ("hex20", "reduced"): "C3D20R",
              ("wedge6", "full"): "C3D6", ("tet4", "reduced"): "C3D4", ("tet10", "reduced"): "C3D10",
              ("wedge6", "reduced"): "C3D6"}

_FORMATS = {".msh": "gmsh", ".vtu": "vtu", ".vtk": "vtk", ".xdmf": "xdmf", ".xmf": "xdmf",
            ".inp": "abaqus", ".med": "med"}


def read_mesh(path, format: Optional[str] = None, prune: bool = True) -> MeshData:
    """Read a volume mesh with its named sets.

    Parameters
    ----------
    path : file name; the format follows the extension (``.msh`` Gmsh, ``.vtu``/``.vtk``, ``.xdmf``/
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
    import meshio
    mfmt = {"gmsh": "gmsh", "vtu": "vtu", "vtk": "vtk", "xdmf": "xdmf", "med": "med"}.get(fmt, fmt)
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: empty mesh file")
    try:
        if mfmt == "xdmf":
            with _xdmf_mixed_fix():
                m = meshio.read(path, file_format=mfmt)
        else:
            m = meshio.read(path, file_format=mfmt)
    except InputError:
        raise
    except Exception as exc:  # meshio raises many kinds (ReadError, ValueError, IndexError, ...)
        raise InputError(f"{path}: cannot read as {fmt} mesh (truncated or invalid?): "
                         f"{type(exc).__name__}: {exc}") from exc
    return from_meshio(m, source=path, prune=prune)


class _xdmf_mixed_fix:
    """meshio 5.3 cannot read quadratic cells from XDMF "Mixed" topologies (it lacks their node
    counts); swap in a complete, run-vectorized translation while reading."""

    def __enter__(self):
        try:
            import meshio.xdmf.main as xm
        except ImportError:  # pragma: no cover
            self.mod = None
            return self
        self.mod, self.orig = xm, xm.translate_mixed_cells
        xm.translate_mixed_cells = _translate_mixed_cells
        return self

    def __exit__(self, *exc):
        if self.mod is not None:
            self.mod.translate_mixed_cells = self.orig
        return False


def _translate_mixed_cells(data):
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


def _prune(points, node_ids, blocks, node_sets, facet_sets, source):
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


def _orient_facets(mesh_blocks_only: MeshData, name: str, facets: Dict[str, np.ndarray], source):
    """Replace facet node lists by the outward-ordered face of a cell they bound."""
    out: Dict[str, list] = {}
    for ft, f in facets.items():
        if not len(f):
            continue
        cell, face = locate_facets(mesh_blocks_only, f)
        if (cell < 0).any():
            i = int(np.flatnonzero(cell < 0)[0])
            raise InputError(f"{source}: facet set {name!r}: {ft} facet with nodes "
                             f"{f[i].tolist()} (0-based) is no face of any volume cell")
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
        raise InputError(f"{src}: no volume cells (tet4, tet10, hex8, hex20, wedge6) in the mesh")
    ns = {k: np.unique(np.concatenate(v)) for k, v in node_sets.items()}
    es = {k: np.unique(np.concatenate(v)) for k, v in element_sets.items()}
    fs_raw = {k: {t: np.concatenate(a) for t, a in d.items()} for k, d in facet_raw.items()}
    mesh = MeshData(points, blocks, node_ids, source=src)
    fs = {k: _orient_facets(mesh, k, d, src) for k, d in fs_raw.items()}
    if prune:
        points, node_ids, blocks, ns, fs = _prune(points, node_ids, blocks, ns, fs, src)
    return MeshData(points, blocks, node_ids, ns, es, fs, source=source).validate()


def to_meshio(mesh: MeshData):
    """MeshData -> ``meshio.Mesh`` with volume blocks, one facet block per (facet set, facet type),
    and 0/1 arrays ``nodeset:NAME`` (point data), ``cellset:NAME`` (cell data; facet blocks of set
    NAME are marked in ``cellset:NAME``) that :func:`from_meshio` reads back."""
    import meshio
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


# ------------------------------------------------------------------------------------ Abaqus .inp

class _Line:
    __slots__ = ("file", "no", "text")

    def __init__(self, file, no, text):
        self.file, self.no, self.text = file, no, text

    def where(self):
        return f"{self.file}:{self.no}"


def _parse_options(text):
    """'*ELEMENT, TYPE=C3D4, ELSET=A' -> ('ELEMENT', {'TYPE': 'C3D4', 'ELSET': 'A'}) (keys upper)."""
    parts = [p.strip() for p in text.split(",")]
    kw = parts[0].lstrip("*").strip().upper()
    kw = re.sub(r"\s+", " ", kw)
    opts = {}
    for p in parts[1:]:
        if not p:
            continue
        if "=" in p:
            k, v = p.split("=", 1)
            opts[k.strip().upper()] = v.strip().strip('"').strip("'")
        else:
            opts[p.strip().upper()] = ""
    return kw, opts


def _lines(path, stack=()):
    """Yield the non-comment, non-blank lines of a deck with *INCLUDE files spliced in."""
    path = os.path.abspath(path)
    if path in stack:
        raise InputError(f"{stack[-1]}: *INCLUDE loop through {path}")
    try:
        fh = open(path, "r", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc}") from exc
    with fh:
        for no, raw in enumerate(fh, 1):
            s = raw.strip()
            if not s or s.startswith("**"):
                continue
            if s.startswith("*") and s[1:].lstrip().upper().startswith("INCLUDE"):
                _kw, opts = _parse_options(s)
                inc = opts.get("INPUT")
                if not inc:
                    raise InputError(f"{path}:{no}: *INCLUDE without INPUT=")
                full = inc if os.path.isabs(inc) else os.path.join(os.path.dirname(path), inc)
                if not os.path.isfile(full):
                    raise InputError(f"{path}:{no}: *INCLUDE file not found: {inc} (looked for {full})")
                yield from _lines(full, stack + (path,))
                continue
            yield _Line(path, no, s)


def _tokens(line):
    return line.text.replace(",", " ").split()


def _floats(tokens, line):
    try:
        return [float(t) for t in tokens]
    except ValueError:
        try:
            return [float(t.upper().replace("D", "E")) for t in tokens]
        except ValueError:
            raise InputError(f"{line.where()}: expected numbers, got {line.text!r}") from None


def _ints(tokens, line, what="integer"):
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise InputError(f"{line.where()}: expected {what}s, got {line.text!r}") from None


class _InpReader:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.node_chunks_id: List[np.ndarray] = []
        self.node_chunks_xyz: List[np.ndarray] = []
        self.node_lines: List[tuple] = []  # (ids array, first line) for duplicate reporting
        self.elem: List[dict] = []   # each: type, rule, ids, conn, lines(where per element)
        self.nsets: Dict[str, List[np.ndarray]] = {}
        self.esets: Dict[str, List[np.ndarray]] = {}
        self.nset_from_elset: List[tuple] = []  # (nset, elset, line)
        self.surfaces: Dict[str, List[tuple]] = {}  # name -> [(elset name or id, face, line)]
        self.set_order: List[tuple] = []

    # ---------------------------------------------------------------- driver
    def run(self):
        kw, opts, head, data = None, None, None, []
        for line in _lines(self.path):
            if line.text.startswith("*"):
                if kw is not None:
                    self.block(kw, opts, head, data)
                kw, opts = _parse_options(line.text)
                head, data = line, []
            elif kw is not None:
                data.append(line)
            else:
                raise InputError(f"{line.where()}: data line before any keyword: {line.text!r}")
        if kw is not None:
            self.block(kw, opts, head, data)

    def block(self, kw, opts, head, data):
        if kw == "NODE":
            self.nodes(opts, head, data)
        elif kw == "ELEMENT":
            self.elements(opts, head, data)
        elif kw == "NSET":
            self.sets(opts, head, data, "NSET")
        elif kw == "ELSET":
            self.sets(opts, head, data, "ELSET")
        elif kw == "SURFACE":
            self.surface(opts, head, data)
        # every other keyword (and its data lines) is skipped

    # ---------------------------------------------------------------- *NODE
    def nodes(self, opts, head, data):
        if not data:
            return
        toks = [_tokens(l) for l in data]
        counts = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
        short = np.flatnonzero(counts < 4)
        if short.size:
            l = data[int(short[0])]
            raise InputError(f"{l.where()}: *NODE line has too few coordinates (need id, x, y, z): "
                             f"{l.text!r}")
        if (counts == 4).all():
            flat = [t for tt in toks for t in tt]
            try:
                arr = np.array(flat, dtype=np.float64).reshape(-1, 4)
            except ValueError:
                arr = np.array([_floats(t, l) for t, l in zip(toks, data)], dtype=np.float64)
        else:
            arr = np.array([_floats(t[:4], l) for t, l in zip(toks, data)], dtype=np.float64)
        ids = arr[:, 0]
        if not np.all(ids == np.round(ids)) or (ids < 1).any():
            i = int(np.flatnonzero((ids != np.round(ids)) | (ids < 1))[0])
            raise InputError(f"{data[i].where()}: bad node id in {data[i].text!r}")
        ids = ids.astype(np.int64)
        self.node_chunks_id.append(ids)
        self.node_chunks_xyz.append(arr[:, 1:4])
        self.node_lines.append((ids, data))
        if opts.get("NSET"):
            self.nsets.setdefault(opts["NSET"].upper(), []).append(ids)

    # ---------------------------------------------------------------- *ELEMENT
    def elements(self, opts, head, data):
        t = opts.get("TYPE", "").upper()
        if not t:
            raise InputError(f"{head.where()}: *ELEMENT without TYPE=")
        if t not in ABAQUS_TYPES:
            raise InputError(f"{head.where()}: unknown element type {t} (dromo reads "
                             f"{', '.join(ABAQUS_TYPES)})")
        etype, rule = ABAQUS_TYPES[t]
        nn = NODES_PER_CELL[etype]
        if not data:
            return
        toks = [_tokens(l) for l in data]
        counts = np.fromiter((len(x) for x in toks), dtype=np.int64, count=len(toks))
        trailing = np.fromiter((l.text.endswith(",") for l in data), dtype=bool, count=len(data))
        if (counts == nn + 1).all() and not trailing.any():
            try:
                arr = np.array([x for tt in toks for x in tt], dtype=np.int64).reshape(-1, nn + 1)
            except ValueError:
                arr = np.array([_ints(x, l, "node id") for x, l in zip(toks, data)], dtype=np.int64)
            where = data
        else:  # records spanning several lines
            recs, where, cur, first = [], [], [], None
            for x, l, tr in zip(toks, data, trailing):
                if first is None:
                    first = l
                cur.extend(_ints(x, l, "node id"))
                # a record continues after a trailing comma, or after a full line of 16 entries
                if tr or (len(x) == 16 and len(cur) < nn + 1):
                    if len(cur) < nn + 1:
                        continue
                if len(cur) != nn + 1:
                    raise InputError(
                        f"{first.where()}: element {cur[0]} ({t}) has {len(cur) - 1} nodes, "
                        f"{t} needs {nn} (truncated or misformatted line?)")
                recs.append(cur)
                where.append(first)
                cur, first = [], None
            if cur:
                raise InputError(f"{first.where()}: element {cur[0]} ({t}) has {len(cur) - 1} "
                                 f"nodes, {t} needs {nn} (truncated file?)")
            arr = np.array(recs, dtype=np.int64).reshape(-1, nn + 1)
        self.elem.append({"type": etype, "rule": rule, "abaqus": t, "ids": arr[:, 0],
                          "conn": arr[:, 1:], "where": where})
        if opts.get("ELSET"):
            self.esets.setdefault(opts["ELSET"].upper(), []).append(arr[:, 0])

    # ---------------------------------------------------------------- *NSET / *ELSET
    def sets(self, opts, head, data, kind):
        name = opts.get(kind, "").upper()
        if not name:
            raise InputError(f"{head.where()}: *{kind} without {kind}=")
        store = self.nsets if kind == "NSET" else self.esets
        lst = store.setdefault(name, [])
        if kind == "NSET" and opts.get("ELSET"):
            self.nset_from_elset.append((name, opts["ELSET"].upper(), head))
        generate = "GENERATE" in opts
        for l in data:
            toks = _tokens(l)
            if generate:
                v = _ints(toks, l, "integer (GENERATE start, end, step)")
                if len(v) not in (2, 3):
                    raise InputError(f"{l.where()}: GENERATE needs start, end[, step]: {l.text!r}")
                a, b, s = v[0], v[1], (v[2] if len(v) == 3 else 1)
                if s <= 0 or b < a:
                    raise InputError(f"{l.where()}: bad GENERATE range {l.text!r}")
                lst.append(np.arange(a, b + 1, s, dtype=np.int64))
                continue
            nums = []
            for tok in toks:
                try:
                    nums.append(int(tok))
                except ValueError:
                    ref = tok.upper()
                    if ref not in store:
                        what = "node set" if kind == "NSET" else "element set"
                        raise InputError(f"{l.where()}: unknown {what} {tok!r} referenced in "
                                         f"*{kind} {name}")
                    lst.extend(list(store[ref]) if ref != name else [])
            if nums:
                lst.append(np.array(nums, dtype=np.int64))

    # ---------------------------------------------------------------- *SURFACE
    def surface(self, opts, head, data):
        name = opts.get("NAME", "").upper()
        if not name:
            raise InputError(f"{head.where()}: *SURFACE without NAME=")
        stype = opts.get("TYPE", "ELEMENT").upper()
        if stype == "NODE":
            lst = self.nsets.setdefault(name, [])
            for l in data:
                tok = [x.strip() for x in l.text.split(",") if x.strip()][:1]
                if not tok:
                    continue
                try:
                    lst.append(np.array([int(tok[0])], dtype=np.int64))
                except ValueError:
                    ref = tok[0].upper()
                    if ref not in self.nsets:
                        raise InputError(f"{l.where()}: unknown node set {tok[0]!r} in *SURFACE "
                                         f"{name}") from None
                    lst.extend(self.nsets[ref])
            return
        if stype != "ELEMENT":
            raise InputError(f"{head.where()}: *SURFACE TYPE={stype} not supported (ELEMENT, NODE)")
        lst = self.surfaces.setdefault(name, [])
        for l in data:
            parts = [x.strip() for x in l.text.split(",") if x.strip()]
            if len(parts) < 2:
                raise InputError(f"{l.where()}: *SURFACE {name} line needs 'element or elset, Sn': "
                                 f"{l.text!r}")
            m = re.fullmatch(r"S(\d)", parts[1].upper())
            if not m:
                raise InputError(f"{l.where()}: unknown face label {parts[1]!r} in *SURFACE {name} "
                                 f"(expected S1..S6)")
            lst.append((parts[0], int(m.group(1)) - 1, l))

    # ---------------------------------------------------------------- assemble
    def finish(self, prune=True) -> MeshData:
        src = self.path
        if not self.node_chunks_id:
            raise InputError(f"{src}: no *NODE data (truncated or not an Abaqus/CalculiX deck?)")
        if not self.elem:
            raise InputError(f"{src}: no *ELEMENT data with volume elements")
        nid = np.concatenate(self.node_chunks_id)
        xyz = np.concatenate(self.node_chunks_xyz)
        order = np.argsort(nid, kind="stable")
        snid = nid[order]
        dup = np.flatnonzero(snid[1:] == snid[:-1])
        if dup.size:
            raise InputError(f"{src}: node id {snid[dup[0]]} defined more than once")

        def node_index(ids):
            pos = np.searchsorted(snid, ids)
            pos = np.minimum(pos, len(snid) - 1)
            ok = snid[pos] == ids
            return order[pos], ok

        # group element chunks by (type, rule), in order of first appearance
        groups: Dict[tuple, list] = {}
        for e in self.elem:
            groups.setdefault((e["type"], e["rule"]), []).append(e)
        blocks = []
        for (etype, rule), chunks in groups.items():
            ids = np.concatenate([c["ids"] for c in chunks])
            conn = np.concatenate([c["conn"] for c in chunks])
            idx, ok = node_index(conn.ravel())
            if not ok.all():
                bad = int(np.flatnonzero(~ok)[0])
                row = bad // conn.shape[1]
                # find the line of that element
                k = row
                for c in chunks:
                    if k < len(c["ids"]):
                        where = c["where"][k].where()
                        break
                    k -= len(c["ids"])
                raise InputError(f"{where}: element {ids[row]} references undefined node "
                                 f"{conn.ravel()[bad]}")
            blocks.append(CellBlock(etype, idx.reshape(conn.shape), ids, rule))
        all_eids = np.concatenate([b.ids for b in blocks])
        eorder = np.argsort(all_eids, kind="stable")
        seid = all_eids[eorder]
        dup = np.flatnonzero(seid[1:] == seid[:-1])
        if dup.size:
            raise InputError(f"{src}: element id {seid[dup[0]]} defined more than once")

        def elem_index(ids, what):
            ids = np.asarray(ids, dtype=np.int64)
            pos = np.minimum(np.searchsorted(seid, ids), len(seid) - 1)
            ok = seid[pos] == ids
            if not ok.all():
                raise InputError(f"{src}: {what} references undefined element "
                                 f"{ids[np.flatnonzero(~ok)[0]]}")
            return eorder[pos]

        element_sets = {}
        for name, parts in self.esets.items():
            ids = np.concatenate(parts) if parts else np.empty(0, np.int64)
            element_sets[name] = elem_index(ids, f"*ELSET {name}")
        node_sets = {}
        mesh0 = MeshData(xyz, blocks, nid, source=src)
        for name, parts in self.nsets.items():
            ids = np.concatenate(parts) if parts else np.empty(0, np.int64)
            idx, ok = node_index(ids)
            if not ok.all():
                raise InputError(f"{src}: *NSET {name} references undefined node "
                                 f"{ids[np.flatnonzero(~ok)[0]]}")
            node_sets[name] = idx
        for name, eset, head in self.nset_from_elset:
            if eset not in element_sets:
                raise InputError(f"{head.where()}: unknown element set {eset!r} in *NSET {name}")
            extra = np.concatenate([mesh0.blocks[b].cells[l].ravel() for b, l in
                                    zip(*mesh0.locate_cells(element_sets[eset]))] or
                                   [np.empty(0, np.int64)])
            node_sets[name] = np.concatenate([node_sets.get(name, np.empty(0, np.int64)), extra])
        facet_sets = {}
        for name, items in self.surfaces.items():
            cells_l, faces_l = [], []
            for ref, face, l in items:
                try:
                    c = elem_index([int(ref)], f"{l.where()}: *SURFACE {name}")
                except ValueError:
                    if ref.upper() not in element_sets:
                        raise InputError(f"{l.where()}: unknown element set {ref!r} in *SURFACE "
                                         f"{name}") from None
                    c = element_sets[ref.upper()]
                cells_l.append(c)
                faces_l.append(np.full(len(c), face, dtype=np.int64))
            cells = np.concatenate(cells_l) if cells_l else np.empty(0, np.int64)
            faces = np.concatenate(faces_l) if faces_l else np.empty(0, np.int64)
            bi, loc = mesh0.locate_cells(cells)
            out: Dict[str, list] = {}
            for b in np.unique(bi):
                blk = blocks[b]
                nf = len(FACES[blk.type])
                for k in np.unique(faces[bi == b]):
                    if k >= nf:
                        c0 = cells[(bi == b) & (faces == k)][0]
                        raise InputError(f"{src}: *SURFACE {name}: face S{k + 1} of element "
                                         f"{all_eids[c0]} ({blk.type}) does not exist "
                                         f"(S1..S{nf})")
                    ft, idx = FACES[blk.type][k]
                    out.setdefault(ft, []).append(blk.cells[loc[(bi == b) & (faces == k)]][:, idx])
            facet_sets[name] = {t: np.concatenate(v) for t, v in out.items()}
        if prune:
            xyz, nid, blocks, node_sets, facet_sets = _prune(xyz, nid, blocks, node_sets,
                                                             facet_sets, src)
        return MeshData(xyz, blocks, nid, node_sets, element_sets, facet_sets, source=src).validate()


def read_inp(path, prune: bool = True) -> MeshData:
    """Read an Abaqus/CalculiX deck's mesh and sets (see the module docstring)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: mesh file not found")
    r = _InpReader(path)
    r.run()
    mesh = r.finish(prune=prune)
    mesh.source = path
    return mesh


# ------------------------------------------------------------------------------------ .inp writer

def _set_name(name):
    """A name CalculiX accepts: letters, digits and underscores, upper-case, at most 80 chars."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).upper()
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "S_" + s
    return s[:80]


def _write_ids(fh, ids, per_line=16):
    ids = np.asarray(ids, dtype=np.int64)
    full = len(ids) // per_line * per_line
    if full:
        np.savetxt(fh, ids[:full].reshape(-1, per_line), fmt="%d", delimiter=",")
    if full < len(ids):
        fh.write(",".join(map(str, ids[full:].tolist())) + "\n")


def write_inp(mesh: MeshData, path, heading: str = "") -> None:
    """Write the mesh and its sets as an Abaqus/CalculiX deck fragment.

    Writes ``*NODE``, one ``*ELEMENT`` per block (TYPE from the block's type and rule: tet4 C3D4,
    tet10 C3D10, hex8 C3D8/C3D8R, hex20 C3D20/C3D20R, wedge6 C3D6), ``*NSET`` per node set, ``*ELSET``
    per element set and ``*SURFACE, TYPE=ELEMENT`` per facet set (each facet located on a cell face,
    written as ``element id, Sk``).  Set names are made CalculiX-safe (upper-case, ``[A-Z0-9_]``).
    External ids (``node_ids``, ``CellBlock.ids``) are written as they are.  No materials or steps:
    ``*INCLUDE`` the file from a deck.
    """
    path = os.fspath(path)
    mesh.validate()
    cell_ids = mesh.cell_ids
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"** {heading or 'mesh written by dromo'}\n")
        fh.write("*NODE\n")
        arr = np.column_stack([mesh.node_ids.astype(np.float64), mesh.points])
        np.savetxt(fh, arr, fmt=["%d", "%.17g", "%.17g", "%.17g"], delimiter=",")
        for b in mesh.blocks:
            t = _TO_ABAQUS[(b.type, b.rule)]
            fh.write(f"*ELEMENT, TYPE={t}\n")
            data = np.column_stack([b.ids, b.cells + 0]).astype(np.int64)
            data[:, 1:] = mesh.node_ids[b.cells]
            if data.shape[1] <= 16:
                np.savetxt(fh, data, fmt="%d", delimiter=",")
            else:  # hex20: id + 15 nodes, trailing comma, then the remaining nodes
                lines = np.char.add(np.char.add(_join(data[:, :16]), ",\n"), _join(data[:, 16:]))
                fh.write("\n".join(lines.tolist()) + "\n")
        for name, s in mesh.node_sets.items():
            fh.write(f"*NSET, NSET={_set_name(name)}\n")
            _write_ids(fh, mesh.node_ids[s])
        for name, s in mesh.element_sets.items():
            fh.write(f"*ELSET, ELSET={_set_name(name)}\n")
            _write_ids(fh, cell_ids[s])
        for name, d in mesh.facet_sets.items():
            rows = []
            for t, f in d.items():
                if not len(f):
                    continue
                cell, face = locate_facets(mesh, f)
                if (cell < 0).any():
                    i = int(np.flatnonzero(cell < 0)[0])
                    raise InputError(f"{path}: facet set {name!r}: facet {f[i].tolist()} is no "
                                     f"cell face; cannot write it as an element surface")
                rows.append(np.column_stack([cell_ids[cell], face + 1]))
            fh.write(f"*SURFACE, NAME={_set_name(name)}, TYPE=ELEMENT\n")
            if rows:
                np.savetxt(fh, np.concatenate(rows), fmt="%d,S%d")
    os.replace(tmp, path)


def _join(a):
    """(n, k) int array -> (n,) strings 'a,b,c'."""
    out = a[:, 0].astype(str)
    for j in range(1, a.shape[1]):
        out = np.char.add(np.char.add(out, ","), a[:, j].astype(str))
    return out
