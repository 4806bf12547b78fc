"""The mesh of an import, distributed: natural stripes and the external-id directories of the parsers.

:func:`~dromo.io.adapters.import_results` reads the reader's mesh on rank 0 and sends it in natural stripes
(:meth:`~dromo.mesh.stripes.MeshStripes.scatter`: one message per rank, never the whole mesh); no other rank
ever holds the whole mesh. :class:`ImportMesh` is what every rank keeps for the import:

* ``stripes``: its :class:`~dromo.mesh.stripes.MeshStripes` (written collectively by
  :meth:`~dromo.io.archive.Archive.write_mesh`);
* two distributed directories (:class:`~dromo.parallel.exchange.Directory`, the pair of an external id held by
  rank ``id mod P``): external node id -> natural node index, external element id -> natural cell index,
  built once per import from the stripes (one exchange each). The parallel parsers
  (:mod:`.parallel_values`) send the ids they parsed there and get natural indices back
  (:meth:`lookup`: one ``Alltoall`` and two ``Alltoallv``); a cell's integration points follow from the
  replicated block table (:meth:`ip_layout`).

Memory per rank: O((n_nodes + n_cells) / P) plus the halo of its cell stripe during :meth:`check_cells`.
"""
import numpy as np

from ...errors import InputError
from ...mesh.quadrature import element_rule
from ...parallel.exchange import Directory, Exchange, stripe_of

__all__ = ["ImportMesh", "check_block_cells", "n_items"]


def n_items(location, n_nodes, n_cells, n_ips):
    """Rows of a field at ``location`` (``"node" | "cell" | "ip" | "global"``) given the mesh's counts."""
    counts = {"node": n_nodes, "cell": n_cells, "ip": n_ips, "global": 1}
    if location not in counts:
        raise InputError(f"unknown field location {location!r} (node, ip, cell, global)")
    return int(counts[location])


def check_block_cells(pts, cells, ids, cell_type, rule, source):
    """InputError naming ``source`` and the elements when a cell of one block is inverted or degenerate
    (det J ≤ 0 at an integration point, as :func:`dromo.mesh.elements.jacobians` computes it).

    pts : (n, 3) coordinates indexed by ``cells`` (n_cells, nn) int64; ids : (n_cells,) external ids.
    Bounded memory: 65536 integration points at a time (one message per chunk, as the serial check).
    """
    from ...mesh.elements import get_element, raise_inverted
    dN = get_element(cell_type).dshape(element_rule(cell_type, rule).points)
    step = max(1, (1 << 16) // len(dN))
    for s in range(0, len(cells), step):
        e = min(len(cells), s + step)
        J = np.matmul(np.swapaxes(pts[cells[s:e]], 1, 2)[:, None], dN[None])
        g0, g1, g2 = J[..., 0], J[..., 1], J[..., 2]
        det = np.einsum("eqi,eqi->eq", g0, np.cross(g1, g2))
        bad = ~(det > 0)
        if bad.any():
            try:
                raise_inverted(bad, det, ids[s:e], cell_type)
            except InputError as exc:
                raise InputError(f"{source}: {exc} (--allow-inverted keeps such cells)") from None


class ImportMesh:
    """This rank's share of an import's mesh (see the module docstring). Collective construction.

    stripes : :class:`~dromo.mesh.stripes.MeshStripes` of the mesh
    """

    def __init__(self, stripes):
        st = self.stripes = stripes
        comm = self.comm = st.comm
        self.n_nodes, self.n_cells = st.n_nodes, st.n_cells
        self.nqp = np.array([st.n_qp(b) for b in range(st.n_blocks)], dtype=np.int64)
        sizes = np.diff(st.block_offsets)
        #: first natural integration point of each block (n_blocks + 1,)
        self.ip_offsets = np.concatenate(([0], np.cumsum(sizes * self.nqp))).astype(np.int64)
        self.n_ips = int(self.ip_offsets[-1])
        self._dirs = {}

    def n_items(self, location):
        """Rows of a field at ``location`` (no communication)."""
        return n_items(location, self.n_nodes, self.n_cells, self.n_ips)

    # ------------------------------------------------------------------ external ids
    def _directory(self, kind):
        """The directory of ``kind`` (``"node"`` or ``"element"``), built on first use (collective)."""
        d = self._dirs.get(kind)
        if d is None:
            st = self.stripes
            if kind == "node":
                ids, nat = st.node_ids, np.arange(st.node_start, st.node_stop, dtype=np.int64)
            else:
                ids = np.concatenate(st.cell_ids) if st.cell_ids else np.zeros(0, np.int64)
                nat = np.arange(st.cell_start, st.cell_stop, dtype=np.int64)
            d = self._dirs[kind] = Directory(ids, nat, self.comm)
        return d

    def lookup(self, kind, ids):
        """Natural index of every external id (node ids for ``kind == "node"``, element ids -> natural cells
        for ``"element"``), -1 for an id the mesh lacks; ids given more than once in the mesh map to
        their first natural index. Collective (every rank calls it, with its own ids, possibly none)."""
        return self._directory(kind).lookup(np.asarray(ids, dtype=np.int64))

    def ip_layout(self, cells):
        """``(n_qp, first ip)`` (int64 arrays like ``cells``) of natural cells ``cells`` (all valid): the
        number of integration points of each cell and the natural index of its first one."""
        cells = np.asarray(cells, dtype=np.int64)
        b = np.searchsorted(self.stripes.block_offsets, cells, side="right") - 1
        nqp = self.nqp[b]
        return nqp, self.ip_offsets[b] + (cells - self.stripes.block_offsets[b]) * nqp

    # ------------------------------------------------------------------ geometry
    def check_cells(self, source):
        """:func:`check_block_cells` on this rank's cell stripe (collective: the coordinates of the stripe's
        nodes are fetched from their node stripes, one exchange). Raises on this rank only: callers wrap it
        in :func:`~dromo.parallel.collective`."""
        st = self.stripes
        flat = [c.reshape(-1) for c in st.cells]
        nodes = np.unique(np.concatenate(flat)) if flat else np.zeros(0, np.int64)
        ex = Exchange(stripe_of(nodes, self.n_nodes, self.comm.size), self.comm)
        asked = ex.forward(nodes)
        pts = ex.backward(st.points[asked - st.node_start].reshape(-1, 3))
        for b in range(st.n_blocks):
            c = st.cells[b]
            if len(c):
                check_block_cells(pts, np.searchsorted(nodes, c), st.cell_ids[b], st.block_types[b],
                                  st.block_rules[b], source)
