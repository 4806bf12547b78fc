"""Writing a mesh and its sets as an Abaqus/CalculiX deck fragment (:func:`write_inp`)."""
from __future__ import annotations

import os
import re

import numpy as np

from .meshdata import MeshData, require_facet_cells

__all__ = ["write_inp"]

_TO_ABAQUS = {("tet4", "full"): "C3D4", ("tet10", "full"): "C3D10", ("hex8", "full"): "C3D8",
              ("hex8", "reduced"): "C3D8R", ("hex20", "full"): "C3D20", ("hex20", "reduced"): "C3D20R",
              ("wedge6", "full"): "C3D6", ("tet4", "reduced"): "C3D4", ("tet10", "reduced"): "C3D10",
              ("wedge6", "reduced"): "C3D6", ("wedge15", "full"): "C3D15",
              ("wedge15", "reduced"): "C3D15"}



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
    tet10 C3D10, hex8 C3D8/C3D8R, hex20 C3D20/C3D20R, wedge6 C3D6, wedge15 C3D15), ``*NSET`` per
    node set, ``*ELSET`` per element set and ``*SURFACE, TYPE=ELEMENT`` per facet set (each facet located on a cell face,
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
                cell, face = require_facet_cells(mesh, f, f"{path}: facet set {name!r} (cannot "
                                                          f"write it as an element surface)")
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
