"""An Abaqus/CalculiX deck's mesh read on rank 0 in pieces sent to the ranks (:mod:`dromo.mesh.pieces`).

:class:`StreamingInpReader` is the deck parser of :mod:`dromo.mesh.inp` (same lines, keywords, checks and
messages: every parse error names the file and line as the serial reader does) whose storage hooks send
each piece of a ``*NODE`` or ``*ELEMENT`` card and each part of a set or surface to a rank instead of keeping
it; the sets keep only how their members are given (a piece sent to rank r, a ``GENERATE`` range, the cells
or nodes of a card). :func:`parse` returns the mesh's table for :func:`dromo.mesh.assemble.assemble`.
Non-mesh cards (materials, steps) are not kept: :func:`dromo.mesh.inp.read_deck` reads those.
"""
import numpy as np

from ..errors import InputError
from .inp import _InpReader

__all__ = ["StreamingInpReader", "parse"]


class StreamingInpReader(_InpReader):
    """The deck parser with its pieces sent through ``sender`` (a :class:`~dromo.mesh.pieces.PieceSender`)."""

    keep_cards = False

    def __init__(self, path, sender):
        super().__init__(path)
        self.sender = sender
        self.files = {}              # file -> index (line locations travel as (file index, line))
        self.n_nodes = 0
        self.groups = {}             # (type, rule) -> block, in order of first appearance
        self.sizes = []
        self.n_chunks = 0

    def _where(self, lines):
        fidx = np.fromiter((self.files.setdefault(l.file, len(self.files)) for l in lines), dtype=np.int32,
                           count=len(lines))
        return fidx, np.fromiter((l.no for l in lines), dtype=np.int64, count=len(lines))

    def put_nodes(self, ids, xyz, data, opts):
        pos0 = self.n_nodes
        self.n_nodes += len(ids)
        self.sender.put(("nodekeys", pos0, ids))
        self.sender.put(("xyz", pos0, np.ascontiguousarray(xyz)))
        if opts.get("NSET"):
            self.nsets.setdefault(opts["NSET"].upper(), []).append(("nodes", pos0, len(ids)))

    def put_elements(self, etype, rule, abaqus, arr, where, opts):
        g = self.groups.setdefault((etype, rule), len(self.groups))
        if g == len(self.sizes):
            self.sizes.append(0)
        start = self.sizes[g]
        self.sizes[g] += len(arr)
        self.sender.put(("cells", g, start, arr[:, 0].copy(), np.ascontiguousarray(arr[:, 1:]),
                         *self._where(where)))
        if opts.get("ELSET"):
            self.esets.setdefault(opts["ELSET"].upper(), []).append(("cells", g, start, len(arr)))

    def _chunk(self, ids, faces, lines):
        cid = self.n_chunks
        self.n_chunks += 1
        dest = self.sender.put(("set", cid, ids, faces, *self._where(lines)))
        return ("ids", dest, cid, len(ids))

    def put_ids(self, kind, name, ids, lines):
        return self._chunk(ids, None, lines)

    def put_surface_ids(self, name, ids, faces, lines):
        self.surfaces.setdefault(name, []).append(self._chunk(ids, faces, lines))

    def table(self, prune):
        src = self.path
        if not self.n_nodes:
            raise InputError(f"{src}: no *NODE data (truncated or not an Abaqus/CalculiX deck?)")
        if not self.groups:
            raise InputError(f"{src}: no *ELEMENT data with volume elements")
        surfaces = {name: [it if it[0] == "ids" else it[:3] + (it[3].where(),) for it in items]
                    for name, items in self.surfaces.items()}
        files = sorted(self.files, key=self.files.get)
        return {"source": self.given, "src": src, "files": files, "n_file_nodes": self.n_nodes,
                "blocks": [(t, r, n) for (t, r), n in zip(self.groups, self.sizes)],
                "node_ids": "keys", "duplicate_nodes": "error", "element_keys": True, "prune": prune,
                "labels": {"node": "*NSET {}", "element": "*ELSET {}"},
                "nouns": {"node": "node", "element": "element"},
                "node_sets": self.nsets, "element_sets": self.esets,
                "nset_from_elset": [(n, e, h.where()) for n, e, h in self.nset_from_elset],
                "surfaces": surfaces}


def parse(path, sender, prune=True):
    """Read the deck ``path`` on this rank (rank 0), sending its pieces; returns the mesh's table."""
    import os
    if not os.path.isfile(path):
        raise InputError(f"{path}: mesh file not found")
    r = StreamingInpReader(path, sender)
    r.given = path
    r.run()
    return r.table(prune)
