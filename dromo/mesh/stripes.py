"""A mesh held in contiguous natural *stripes* over the ranks: the distributed input of the mesh set-up.

Rank ``r`` of ``comm`` holds

* the node stripe ``[node_start, node_stop) = partition_range(n_nodes)``: ``points`` (k, 3) float64 and
  ``node_ids`` (k,) int64;
* the cell stripe ``[cell_start, cell_stop) = partition_range(n_cells)`` (natural cell order, blocks
  concatenated as in :class:`~dromo.mesh.meshdata.MeshData`): per block ``b``, ``cells[b]`` (n_b, nn) int64
  natural node indices and ``cell_ids[b]`` (n_b,) external ids of the block's cells inside the stripe
  (possibly none);
* the named sets, split by *value*: ``node_sets[name]`` the sorted members inside the node stripe,
  ``element_sets[name]`` the sorted members inside the cell stripe; facet sets split by rows:
  ``facet_sets[name][facet type]`` the rows ``partition_range(n_facets)`` of the set's facet array.
  Every rank knows every set name (and facet type), possibly with no members.

The block table (types, rules, sizes) is replicated; it is a few entries. Nothing of size O(N) is on any
rank: the set-up (:class:`~dromo.mesh.distributed.DistributedMesh`) builds the partitioned mesh from the
stripes, and keeps them for natural-order work (set look-ups, archives, the fingerprint).

Sources: a :class:`MeshData` given on every rank (:meth:`MeshStripes.from_meshdata`, the caller may drop
it afterwards), a :class:`MeshData` on one rank sent in pieces (:meth:`MeshStripes.scatter`, one stripe
per message, never the whole mesh), or the ``/mesh`` group of a dromo archive read rank-striped
(:meth:`MeshStripes.from_h5`).
"""
import hashlib

import numpy as np

from ..errors import InputError
from ..parallel.comm import partition_offsets, partition_range
from ..parallel.errors import collective
from ..parallel.exchange import Exchange, stripe_of
from .meshdata import NODES_PER_CELL, NODES_PER_FACET, CellBlock, MeshData, SetDict, _set_dict
from .quadrature import element_rule

__all__ = ["MeshStripes"]

#: rows per message when a stripe is streamed to rank 0 (fingerprint)
STREAM_ROWS = 1 << 18


def _clip(start, stop, off, b):
    """``[lo, hi)`` (int64 array of 2) the part of block ``b`` (cells ``off[b]:off[b+1]``) inside the natural
    cell range ``[start, stop)``; ``lo == hi`` when they do not meet."""
    lo = max(int(start), int(off[b]))
    return np.array([lo, max(lo, min(int(stop), int(off[b + 1])))], dtype=np.int64)


def _value_slice(members, start, stop):
    s = np.asarray(members, dtype=np.int64)
    return s[np.searchsorted(s, start):np.searchsorted(s, stop)].copy()


class MeshStripes:
    """A mesh split in natural stripes over ``comm`` (see the module docstring)."""

    def __init__(self, comm, n_nodes, block_types, block_rules, block_sizes, points, node_ids, cells,
                 cell_ids, node_sets, element_sets, facet_sets, source=""):
        self.comm = comm
        self.source = source
        self.n_nodes = int(n_nodes)
        self.block_types = [str(t).lower() for t in block_types]
        self.block_rules = [str(r) for r in block_rules]
        self.block_offsets = np.concatenate(([0], np.cumsum(block_sizes))).astype(np.int64)
        self.n_cells = int(self.block_offsets[-1])
        self.node_start, self.node_stop = partition_range(self.n_nodes, comm)
        self.cell_start, self.cell_stop = partition_range(self.n_cells, comm)
        self.points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
        self.node_ids = np.ascontiguousarray(node_ids, dtype=np.int64)
        self.cells = [np.ascontiguousarray(c, dtype=np.int64).reshape(-1, NODES_PER_CELL.get(t, 1))
                      for c, t in zip(cells, self.block_types)]
        self.cell_ids = [np.ascontiguousarray(i, dtype=np.int64) for i in cell_ids]
        self.node_sets = SetDict(node_sets)
        self.element_sets = SetDict(element_sets)
        self.facet_sets = SetDict(facet_sets)

    # ------------------------------------------------------------------ sizes
    @property
    def n_blocks(self):
        return len(self.block_types)

    def block_range(self, b):
        """Natural cells ``[lo, hi)`` of block ``b`` inside this rank's cell stripe."""
        lo, hi = _clip(self.cell_start, self.cell_stop, self.block_offsets, b)
        return int(lo), int(hi)

    def n_qp(self, b):
        """Integration points per cell of block ``b``."""
        return len(element_rule(self.block_types[b], self.block_rules[b]).weights)

    # ------------------------------------------------------------------ sources
    @classmethod
    def from_meshdata(cls, mesh, comm):
        """This rank's stripes of a :class:`MeshData` present on every rank (copies: no communication, and
        the caller may drop the mesh)."""
        return cls(comm, **_piece(mesh, comm.rank, comm.size))

    @classmethod
    def scatter(cls, mesh, comm, root=0):
        """The stripes of a :class:`MeshData` held by rank ``root`` only (``None`` elsewhere): each rank's
        stripe is sent in its own message (the root never builds more than one other rank's piece)."""
        if comm.size == 1:
            return cls.from_meshdata(mesh, comm)
        if comm.rank != root:
            piece = comm.recv(source=root, tag=77)
            return cls(comm, **piece)
        for r in range(comm.size):
            if r != root:
                comm.send(_piece(mesh, r, comm.size), dest=r, tag=77)
        return cls(comm, **_piece(mesh, root, comm.size))

    @classmethod
    def from_h5(cls, g, comm, decode_name=str, source=""):
        """The stripes of a dromo archive's ``/mesh`` group ``g`` (h5py, open on every rank), each rank
        reading its own hyperslabs (see :mod:`dromo.io.archive` for the layout; ``decode_name`` turns a
        dataset key into a set name)."""
        n = g["points"].shape[0]
        ns, ne = partition_range(n, comm)
        keys = sorted(g["cells"], key=lambda s: int(s.split("_", 1)[0]))
        bgs = [g["cells"][k] for k in keys]
        sizes = [bg["ids"].shape[0] for bg in bgs]
        off = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        cs, ce = partition_range(int(off[-1]), comm)
        cells, ids = [], []
        for b, bg in enumerate(bgs):
            lo, hi = _clip(cs, ce, off, b) - off[b]
            cells.append(bg["connectivity"][lo:hi] if hi > lo else np.zeros((0, bg["connectivity"].shape[1])))
            ids.append(bg["ids"][lo:hi] if hi > lo else np.zeros(0))
        def by_value(ds, total):
            lo, hi = partition_range(ds.shape[0], comm)
            rows = np.asarray(ds[lo:hi] if hi > lo else np.zeros(0), dtype=np.int64)
            return np.sort(Exchange(stripe_of(rows, total, comm.size), comm).forward(rows))

        def rows(ds):
            lo, hi = partition_range(ds.shape[0], comm)
            return np.asarray(ds[lo:hi], dtype=np.int64) if hi > lo else np.zeros((0,) + ds.shape[1:], np.int64)

        return cls(comm, n, [str(bg.attrs["type"]) for bg in bgs],
                   [str(bg.attrs.get("rule", "full")) for bg in bgs], sizes,
                   g["points"][ns:ne] if ne > ns else np.zeros((0, 3)),
                   g["node_ids"][ns:ne] if ne > ns else np.zeros(0), cells, ids,
                   {decode_name(k): by_value(v, n) for k, v in sorted(g["node_sets"].items())},
                   {decode_name(k): by_value(v, int(off[-1])) for k, v in sorted(g["element_sets"].items())},
                   {decode_name(k): {t: rows(a) for t, a in sorted(v.items())}
                    for k, v in sorted(g["facet_sets"].items())},
                   str(g.attrs.get("source", source)) or source)

    # ------------------------------------------------------------------ checks
    def validate(self):
        """:meth:`MeshData.validate` on this rank's stripes (collective: an error on one rank is raised on
        every rank). Returns ``self``."""
        with collective(self.comm):
            src, n, nc = self.source or "<mesh>", self.n_nodes, self.n_cells
            _set_dict(self.node_sets, "node set", self.source)
            _set_dict(self.element_sets, "element set", self.source)
            _set_dict(self.facet_sets, "facet set", self.source)
            bad = ~np.isfinite(self.points).all(axis=1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"{src}: node {self.node_ids[i]} has non-finite coordinates "
                                 f"{self.points[i].tolist()}")
            if len(self.node_ids) != len(self.points):
                raise InputError(f"{src}: {len(self.node_ids)} node ids for {len(self.points)} nodes")
            for b, (t, c, ids) in enumerate(zip(self.block_types, self.cells, self.cell_ids)):
                if t not in NODES_PER_CELL:
                    raise InputError(f"{src}: block {b}: unknown cell type {t!r}")
                if self.block_rules[b] not in ("full", "reduced"):
                    raise InputError(f"{src}: block {b} ({t}): unknown integration rule {self.block_rules[b]!r}")
                if len(ids) != len(c):
                    raise InputError(f"{src}: block {b} ({t}): {len(ids)} ids for {len(c)} cells")
                if c.size:
                    badc = ((c < 0) | (c >= n)).any(axis=1)
                    if badc.any():
                        i = int(np.flatnonzero(badc)[0])
                        raise InputError(f"{src}: element {ids[i]} ({t}) references node index out of range "
                                         f"0..{n - 1}: {c[i].tolist()}")
            for kind, sets, top in (("node set", self.node_sets, n), ("element set", self.element_sets, nc)):
                for name, s in sets.items():
                    if s.size and (s[0] < 0 or s[-1] >= top):
                        raise InputError(f"{src}: {kind} {name!r} has indices out of range 0..{top - 1}")
            for name, d in self.facet_sets.items():
                for t, a in d.items():
                    if t not in NODES_PER_FACET or a.ndim != 2 or a.shape[1] != NODES_PER_FACET[t]:
                        raise InputError(f"{src}: facet set {name!r}: bad facet type {t!r} or shape {a.shape}")
                    if a.size and (a.min() < 0 or a.max() >= n):
                        raise InputError(f"{src}: facet set {name!r} ({t}) has node indices out of range")
        return self

    # ------------------------------------------------------------------ collective products
    def fingerprint(self):
        """:meth:`MeshData.fingerprint` of the mesh (same hex string), computed collectively: the stripes
        are streamed to rank 0 in order, at most :data:`STREAM_ROWS` rows a message, and hashed there;
        the digest is broadcast."""
        comm = self.comm
        h = hashlib.sha256() if comm.rank == 0 else None
        self._stream(self.points.astype("<f8"), h)
        for b, t in enumerate(self.block_types):
            if h is not None:
                h.update(t.encode())
            self._stream(self.cells[b].astype("<i8"), h)
        return comm.bcast(h.hexdigest() if h is not None else None, root=0)

    def _stream(self, rows, h):
        """Feed every rank's ``rows`` (in rank order) to the hash ``h`` on rank 0, in bounded pieces."""
        comm = self.comm
        counts = comm.allgather(len(rows))
        width = int(np.prod(rows.shape[1:], dtype=np.int64))
        for r, n in enumerate(counts):
            for s in range(0, n, STREAM_ROWS):
                k = min(n, s + STREAM_ROWS) - s
                if r == 0:
                    if comm.rank == 0:
                        h.update(np.ascontiguousarray(rows[s:s + k]).tobytes())
                    continue
                if comm.rank == r:
                    comm.Send(np.ascontiguousarray(rows[s:s + k]), dest=0, tag=78)
                elif comm.rank == 0:
                    buf = np.empty(k * width, dtype=rows.dtype)
                    comm.Recv(buf, source=r, tag=78)
                    h.update(buf.tobytes())

    def gather(self):
        """The whole :class:`MeshData`, on every rank (O(N) on every rank: only for small meshes and the
        few callers that need the global mesh)."""
        comm = self.comm

        def cat(a):
            return np.concatenate(comm.allgather(a))

        blocks = [CellBlock(t, cat(c), cat(i), r) for t, c, i, r in
                  zip(self.block_types, self.cells, self.cell_ids, self.block_rules)]
        return MeshData(cat(self.points), blocks, cat(self.node_ids),
                        {k: cat(v) for k, v in self.node_sets.items()},
                        {k: cat(v) for k, v in self.element_sets.items()},
                        {k: {t: cat(a) for t, a in d.items()} for k, d in self.facet_sets.items()},
                        self.source)

    def summary(self):
        """One line: counts per type and set names (as :meth:`MeshData.summary`; no communication)."""
        sizes = np.diff(self.block_offsets)
        per = ", ".join(f"{n} {t}" + ("(R)" if r == "reduced" else "")
                        for n, t, r in zip(sizes, self.block_types, self.block_rules))
        return (f"{self.source or 'mesh'}: {self.n_nodes} nodes, {self.n_cells} cells ({per}); "
                f"node sets {sorted(self.node_sets)}, element sets {sorted(self.element_sets)}, "
                f"facet sets {sorted(self.facet_sets)}")

    def set_size(self, kind, name):
        """Number of members of a named set over all ranks (collective); ``kind``: node, element, facet."""
        if kind == "facet":
            n = sum(len(a) for a in self.facet_sets[name].values())
        else:
            n = len((self.node_sets if kind == "node" else self.element_sets)[name])
        return int(self.comm.allreduce(n))


def _piece(mesh, r, p):
    """The keyword arguments of :class:`MeshStripes` for rank ``r`` of ``p`` (copies out of a whole
    MeshData, so that no stripe keeps the whole mesh's arrays alive)."""
    off = partition_offsets(mesh.n_nodes, p)
    ns, ne = int(off[r]), int(off[r + 1])
    coff = partition_offsets(mesh.n_cells, p)
    cs, ce = int(coff[r]), int(coff[r + 1])
    mo = mesh.cell_offsets
    cells, ids = [], []
    for b, blk in enumerate(mesh.blocks):
        lo, hi = _clip(cs, ce, mo, b) - mo[b]
        cells.append(blk.cells[lo:hi].copy())
        ids.append(blk.ids[lo:hi].copy())

    def rows(a):
        o = partition_offsets(len(a), p)
        return a[o[r]:o[r + 1]].copy()

    return dict(n_nodes=mesh.n_nodes, block_types=[b.type for b in mesh.blocks],
                block_rules=[b.rule for b in mesh.blocks], block_sizes=[len(b) for b in mesh.blocks],
                points=mesh.points[ns:ne].copy(), node_ids=mesh.node_ids[ns:ne].copy(), cells=cells, cell_ids=ids,
                node_sets={k: _value_slice(v, ns, ne) for k, v in mesh.node_sets.items()},
                element_sets={k: _value_slice(v, cs, ce) for k, v in mesh.element_sets.items()},
                facet_sets={k: {t: rows(a) for t, a in d.items()} for k, d in mesh.facet_sets.items()},
                source=mesh.source)


