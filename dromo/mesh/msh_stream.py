"""A gmsh ``.msh`` (format 4.1, ASCII or binary) read on rank 0 in pieces sent to the ranks
(:mod:`dromo.mesh.pieces`), giving the mesh :func:`dromo.mesh.readers.read_mesh` gives (meshio's reading
and :func:`~dromo.mesh.readers.from_meshio`'s conventions: nodes numbered by file position, one cell block per
volume entity block, cell ids ``1..n`` per block, sets named after the physical groups).

The small sections (``$MeshFormat``, ``$PhysicalNames``, ``$Entities``, ``$Periodic``) are read with meshio's
own functions; ``$Nodes`` and ``$Elements`` are read :data:`CHUNK` items at a time with the same
``numpy.fromfile`` calls meshio makes: node tags and coordinates go out as separate pieces (the format lists
an entity block's tags before its coordinates), element rows with their nodes as gmsh tags.

Anything else raises :class:`~dromo.mesh.pieces.NotStreamable` and the file is read by the serial reader
(which then gives its own messages for a corrupt file): another format version, parametric nodes,
``$NodeData``/``$ElementData`` (they may carry dromo's ``nodeset:``/``cellset:`` arrays), an element type
dromo does not read, a file cut short, entity blocks without physical group after tagged ones (meshio then
misaligns the tags), or no volume cells.
"""
import os

import numpy as np

from .pieces import NotStreamable
from .readers import MESHIO_FACET, MESHIO_LOWER, MESHIO_VOLUME

__all__ = ["parse", "CHUNK"]

#: nodes or elements per piece
CHUNK = 1 << 16


def _fromfile(f, dtype, count, is_ascii):
    a = np.fromfile(f, dtype, count, sep=" " if is_ascii else "")
    if len(a) != count:
        raise NotStreamable("file cut short")
    return a


class _MshPieces:
    def __init__(self, path, sender):
        from meshio.gmsh import _gmsh41, common
        self.gm, self.common, self.path, self.sender = _gmsh41, common, path, sender
        self.field_data = {}
        self.physical_tags = None
        self.n_nodes = 0
        self.blocks = []                 # (type, rule, size) of the volume entity blocks
        self.node_sets, self.element_sets, self.facet_sets = {}, {}, {}
        self.facet_count = {}
        self.n_chunks = 0
        self.untagged = False
        self.elements_seen = False

    def run(self):
        from meshio.gmsh.main import _read_header
        ff = self.common._fast_forward_to_end_block
        with open(self.path, "rb") as f:
            line = f.readline().decode(errors="replace").strip()
            while line == "$Comments":
                ff(f, "Comments")
                line = f.readline().decode(errors="replace").strip()
            if line != "$MeshFormat":
                raise NotStreamable("no $MeshFormat")
            try:
                version, size, is_ascii = _read_header(f)
            except Exception as exc:
                raise NotStreamable(f"header: {exc}") from None
            if version not in ("4", "4.1"):
                raise NotStreamable(f"gmsh format {version}")
            self.size_t, self.ascii = np.dtype(f"u{size}"), is_ascii
            while True:
                line, eof = self.common._fast_forward_over_blank_lines(f)
                if eof:
                    break
                if line[0] != "$":
                    raise NotStreamable(f"unexpected line {line!r}")
                env = line[1:].strip()
                if env == "PhysicalNames":
                    self.common._read_physical_names(f, self.field_data)
                elif env == "Entities":
                    self.physical_tags, _ = self.gm._read_entities(f, is_ascii, size)
                elif env == "Nodes":
                    self.nodes(f)
                    ff(f, "Nodes")
                elif env == "Elements":
                    self.elements(f)
                    ff(f, "Elements")
                elif env == "Periodic":
                    self.gm._read_periodic(f, is_ascii, size)
                elif env in ("NodeData", "ElementData"):
                    raise NotStreamable(f"${env}")
                else:
                    ff(f, env)
        if not self.elements_seen or not self.blocks:
            raise NotStreamable("no volume cells")

    # ------------------------------------------------------------------ $Nodes
    def nodes(self, f):
        st, asc = self.size_t, self.ascii
        n_blocks = int(_fromfile(f, st, 4, asc)[0])
        for _ in range(n_blocks):
            _dim, _tag, parametric = _fromfile(f, np.dtype("i"), 3, asc)
            if parametric:
                raise NotStreamable("parametric nodes")
            n = int(_fromfile(f, st, 1, asc)[0])
            for s in range(0, n, CHUNK):
                k = min(n, s + CHUNK) - s
                self.sender.put(("nodekeys", self.n_nodes + s, _fromfile(f, st, k, asc).astype(np.int64)))
            for s in range(0, n, CHUNK):
                k = min(n, s + CHUNK) - s
                self.sender.put(("xyz", self.n_nodes + s, _fromfile(f, np.dtype("d"), 3 * k, asc).reshape(k, 3)))
            self.n_nodes += n

    # ------------------------------------------------------------------ $Elements
    def names(self, dim, tag):
        """The set names of an entity block's cells, as meshio and from_meshio give them."""
        if self.physical_tags is None:
            return []
        if tag not in self.physical_tags[dim]:
            raise NotStreamable(f"entity ({dim}, {tag}) not in $Entities")
        pt = [int(t) for t in self.physical_tags[dim][tag]]
        if not pt:
            self.untagged = True
            return []
        if self.untagged:
            raise NotStreamable("physical tags after untagged entity blocks")
        by_tag = {}
        for name, v in self.field_data.items():
            v = np.asarray(v).ravel()
            by_tag.setdefault((int(v[0]), int(v[1]) if len(v) > 1 else None), name)
        first = by_tag.get((pt[0], dim)) or by_tag.get((pt[0], None)) or str(pt[0])
        out = [first]
        for name, v in self.field_data.items():
            v = np.asarray(v).ravel()
            if not name.startswith("gmsh:") and name not in out and int(v[1]) == dim and int(v[0]) in pt:
                out.append(name)
        return out

    def _chunk(self, ids):
        cid = self.n_chunks
        self.n_chunks += 1
        return ("ids", self.sender.put(("set", cid, ids, None, None, None)), cid, len(ids))

    def elements(self, f):
        gm2m = self.common._gmsh_to_meshio_type
        from meshio._common import num_nodes_per_cell
        st, asc = self.size_t, self.ascii
        self.elements_seen = True
        n_blocks = int(_fromfile(f, st, 4, asc)[0])
        for _ in range(n_blocks):
            dim, tag, gtype = (int(x) for x in _fromfile(f, np.dtype("i"), 3, asc))
            n = int(_fromfile(f, st, 1, asc)[0])
            tpe = gm2m.get(gtype)
            if tpe is None or not (tpe in MESHIO_VOLUME or tpe in MESHIO_FACET or tpe in MESHIO_LOWER):
                raise NotStreamable(f"element type {gtype}")
            nodes_per = num_nodes_per_cell[tpe]
            names = self.names(dim, tag)
            if tpe in MESHIO_VOLUME:
                g = len(self.blocks)
                self.blocks.append((MESHIO_VOLUME[tpe], "full", n))
            elif tpe in MESHIO_FACET:
                ft = MESHIO_FACET[tpe]
                for name in names:
                    fts = self.facet_sets.setdefault(name, [])
                    if ft not in fts:
                        fts.append(ft)
            for s in range(0, n, CHUNK):
                k = min(n, s + CHUNK) - s
                rows = _fromfile(f, st, k * (1 + nodes_per), asc).reshape(k, 1 + nodes_per)
                conn = np.ascontiguousarray(self.common._gmsh_to_meshio_order(tpe, rows[:, 1:]), dtype=np.int64)
                if tpe in MESHIO_VOLUME:
                    self.sender.put(("cells", g, s, None, conn, None, None))
                    for name in names:
                        self.element_sets.setdefault(name, []).append(("cells", g, s, k))
                        self.node_sets.setdefault(name, []).append(("cellnodes", g, s, k))
                    continue
                if not names:
                    continue
                part = self._chunk(conn.ravel())
                for name in names:
                    if tpe in MESHIO_FACET:
                        seq = self.facet_count.get(name, 0)
                        self.facet_count[name] = seq + k
                        self.sender.put(("facets", name, self.facet_sets[name].index(ft), seq, conn))
                    self.node_sets.setdefault(name, []).append(part)

    def table(self, prune):
        return {"source": self.path, "files": [self.path], "n_file_nodes": self.n_nodes, "blocks": self.blocks,
                "node_ids": "position", "duplicate_nodes": "last", "element_keys": False, "prune": prune,
                "labels": {"node": "physical group {}", "element": "physical group {}"},
                "nouns": {"node": "node tag", "element": "element"},
                "node_sets": self.node_sets, "element_sets": self.element_sets, "facet_sets": self.facet_sets}


def parse(path, sender, prune=True):
    """Read the gmsh file ``path`` on this rank (rank 0), sending its pieces; returns the mesh's table."""
    if not os.path.isfile(path):
        raise NotStreamable("not a file")
    r = _MshPieces(path, sender)
    r.run()
    return r.table(prune)
