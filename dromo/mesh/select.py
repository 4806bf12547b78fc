"""Sets chosen by a coordinate expression: ``--set NAME=EXPR`` of ``dromo import``.

A mesh imported from a code that writes no sets (a dolfinx mesh without meshtags) has nothing a case can
impose loads or supports on. :func:`add_coordinate_sets` adds, for each ``NAME=EXPR``:

* the **node set** NAME: the nodes where EXPR (in ``x, y, z``, the node coordinates in the mesh's units)
  is non-zero — true, for a comparison;
* the **facet set** NAME: the boundary facets (faces of exactly one cell, oriented outward) whose nodes
  are all in that node set.

EXPR goes through dromo's one safe evaluator (:class:`dromo.expressions.Expression`: arithmetic,
comparisons, ``and``/``or``/``not``, a few numpy functions; nothing else), e.g. ``x < 1e-9``,
``abs(x - 4) < 1e-6 and z > 0.5``, ``(y - 0.5)**2 + (z - 0.5)**2 < 0.01``. An expression that selects no
node, or that is not finite at some node, is an InputError; so is a NAME the mesh already has.
"""
from __future__ import annotations

import dataclasses
from typing import Dict

import numpy as np

from ..errors import InputError
from ..expressions import Expression
from .meshdata import MeshData, _keys, _rowview, cell_faces

__all__ = ["add_coordinate_sets", "parse_definitions", "boundary_facets"]


def parse_definitions(items, option="--set"):
    """``["NAME=EXPR", ...]`` -> ``{NAME: EXPR}``; InputError naming the item without ``=`` or a name."""
    out: Dict[str, str] = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise InputError(f"{option} {item!r}: expected NAME=EXPRESSION")
        if name.strip() in out:
            raise InputError(f"{option}: {name.strip()!r} given twice")
        out[name.strip()] = text.strip()
    return out


def boundary_facets(mesh: MeshData):
    """{facet type: (m, nfn) node indices} of the faces that bound exactly one cell, oriented outward."""
    out = {}
    for ft, (nodes, _cell, _face) in cell_faces(mesh).items():
        nc = 3 if nodes.shape[1] in (3, 6) else 4
        _u, inv, count = np.unique(_rowview(_keys(nodes[:, :nc])), return_inverse=True, return_counts=True)
        once = count[inv.ravel()] == 1
        if once.any():
            out[ft] = nodes[once]
    return out


def add_coordinate_sets(mesh: MeshData, definitions: Dict[str, str], where="--set") -> MeshData:
    """A copy of ``mesh`` with a node set and a facet set per ``{NAME: EXPR}`` (module docstring)."""
    if not definitions:
        return mesh
    x, y, z = mesh.points.T
    node_sets, facet_sets = dict(mesh.node_sets), dict(mesh.facet_sets)
    boundary = None
    for name, text in definitions.items():
        what = f"{where} {name}={text}"
        if name in mesh.node_sets or name in mesh.facet_sets:
            raise InputError(f"{what}: the mesh {mesh.source} already has a set {name!r}")
        value = np.broadcast_to(Expression(text, ("x", "y", "z"), where=what).evaluate(x=x, y=y, z=z),
                                (mesh.n_nodes,))
        if not np.isfinite(value).all():
            i = int(np.flatnonzero(~np.isfinite(value))[0])
            raise InputError(f"{what}: not finite at node {mesh.node_ids[i]} {mesh.points[i].tolist()}")
        nodes = np.flatnonzero(value != 0)
        if not nodes.size:
            lo, hi = mesh.points.min(0), mesh.points.max(0)
            raise InputError(f"{what}: selects no node of {mesh.source or 'the mesh'} (it spans "
                             f"x {lo[0]:g}..{hi[0]:g}, y {lo[1]:g}..{hi[1]:g}, z {lo[2]:g}..{hi[2]:g})")
        node_sets[name] = nodes
        if boundary is None:
            boundary = boundary_facets(mesh)
        inside = np.zeros(mesh.n_nodes, bool)
        inside[nodes] = True
        facets = {t: f[inside[f].all(axis=1)] for t, f in boundary.items()}
        facets = {t: f for t, f in facets.items() if len(f)}
        if facets:
            facet_sets[name] = facets
    return dataclasses.replace(mesh, node_sets=node_sets, facet_sets=facet_sets).validate()
