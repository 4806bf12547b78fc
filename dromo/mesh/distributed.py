"""The distributed mesh: cells partitioned over ranks, nodes with one owner each, ghosts, and
integration points owned by their cell's rank with a rank-count independent global numbering.

Numberings (see also :mod:`dromo.parallel.redistribute`):

* **natural** node / cell / integration-point ids: those of the global :class:`MeshData` (file order);
  integration point ``q`` of natural cell ``c`` has natural id ``ip_offset[c] + q``. Independent of the
  rank count; archives use them.
* **PETSc** node numbering: nodes sorted by (owner rank, natural id), so each rank owns a contiguous
  range ``[node_start, node_stop)``. A node is owned by the lowest rank among the cells that touch it.
  Dofs are interlaced (``dof = 3 * petsc_node + component``), block size 3.
* **local** node numbering on a rank: owned nodes first (in PETSc order), then ghosts (in PETSc
  order), matching the local form of a PETSc ghosted vector (:meth:`DistributedMesh.create_vector`).

Construction is collective and distributed (nothing of size O(N_global) stays on any rank, streaming
buffers of bounded size aside): the mesh comes as natural *stripes* (:mod:`dromo.mesh.stripes`: from a
:class:`MeshData` given on every rank, from a file parsed on rank 0 and sent in pieces, or from an archive
read rank-striped), the dual graph is built from the stripes and partitioned by PTScotch
(:mod:`dromo.mesh.partition`), the cells are moved to their ranks (``Alltoallv``), node ownership and the
PETSc numbering are computed by the nodes' stripe owners (each the owner and PETSc id of its stripe of
nodes), and every rank receives the coordinates of its local nodes. The stripes are kept (O(N/P)): set
look-ups, archives (:meth:`dromo.io.archive.Archive.write_mesh`) and the fingerprint use them.
``global_mesh`` (the whole :class:`MeshData` on every rank) is built only when asked for, by gathering the
stripes; dromo's own paths do not use it.
"""
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel.errors import collective
from ..parallel.log import get_logger
from ..parallel.redistribute import Redistributor
from ..parallel.exchange import Exchange, stripe_of
from .partition import partition_stripes, stripe_dual_graph, stripe_quality
from .quadrature import element_rule
from .stripes import MeshStripes

log = get_logger(__name__)


@dataclass
class LocalBlock:
    """The cells of one block owned by this rank.

    Attributes
    ----------
    type, rule : element type and integration scheme ("full" / "reduced")
    cells : (n, nn) int64 local node indices
    natural : (n,) int64 natural (global) cell indices, increasing
    ids : (n,) int64 external element ids
    ip_start : int  first local integration point of the block (points are cell-major)
    n_qp : int      integration points per cell
    """
    type: str
    rule: str
    cells: np.ndarray
    natural: np.ndarray
    ids: np.ndarray
    ip_start: int
    n_qp: int

    @property
    def n_ip(self):
        return len(self.cells) * self.n_qp


def _local_index(sorted_natural, sorted_local, natural, chunk=1 << 16):
    """Local indices of natural node ids (-1 where not local), from the sorted local natural ids; ``chunk``
    ids at a time (bounded temporaries)."""
    natural = np.asarray(natural, dtype=np.int64)
    out = np.full(natural.shape, -1, dtype=np.int64)
    if sorted_natural.size == 0:
        return out
    flat, res = natural.reshape(-1), out.reshape(-1)
    for s in range(0, flat.size, chunk):
        x = flat[s:s + chunk]
        j = np.minimum(np.searchsorted(sorted_natural, x), sorted_natural.size - 1)
        hit = sorted_natural[j] == x
        res[s:s + chunk][hit] = sorted_local[j[hit]]
    return out


class DistributedMesh:
    """A mesh distributed over the ranks of ``comm`` (see the module docstring for numberings).

    ``mesh``: a :class:`MeshData` (the same on every rank; the caller may drop it afterwards) or a
    :class:`~dromo.mesh.stripes.MeshStripes`.

    Main attributes (all O(N/P + halo) per rank)
    ---------------------------------------------
    comm, stripes (:class:`MeshStripes`, the natural stripes), stripe_part ((n_stripe_cells,) rank of each
    cell of this rank's stripe)
    n_nodes_global, n_cells_global, node_start, node_stop, n_owned_nodes, n_local_nodes (owned + ghosts)
    local_natural : (n_local_nodes,) natural id of each local node
    local_petsc   : (n_local_nodes,) PETSc id of each local node
    local_owner   : (n_local_nodes,) owning rank of each local node
    points        : (n_local_nodes, 3) coordinates of the local nodes
    blocks        : list of LocalBlock (only blocks with local cells; block order as in the mesh)
    n_ip_global, n_ip_local, ip_natural ((n_ip_local,) natural integration-point ids)
    node_ranges   : (P + 1,) PETSc node range of every rank
    quality       : dict from :func:`~dromo.mesh.partition.stripe_quality`
    """

    def __init__(self, mesh, comm=None, partitioner="ptscotch"):
        comm = comm or getattr(mesh, "comm", None) or MPI.COMM_WORLD
        self.comm = comm
        st = mesh if isinstance(mesh, MeshStripes) else MeshStripes.from_meshdata(mesh, comm)
        st.validate()
        self.stripes = st
        self._global_mesh = None
        self._fingerprint = None
        graph = stripe_dual_graph(st)
        self.stripe_part = partition_stripes(st, graph, partitioner)
        self.quality = stripe_quality(st, graph, self.stripe_part)
        del graph
        self.n_nodes_global = st.n_nodes
        self.n_cells_global = st.n_cells
        cells, naturals, ids = self._migrate_cells()
        self._number_nodes(np.unique(np.concatenate([c.ravel() for c in cells])) if cells else
                           np.zeros(0, np.int64))

        # -- local blocks and integration points (natural ip id of cell c of block b, point q:
        #    ip_block_start[b] + (c - block_offsets[b]) * n_qp[b] + q)
        self.n_qp_block = np.array([st.n_qp(b) for b in range(st.n_blocks)], dtype=np.int64)
        sizes = np.diff(st.block_offsets)
        self.ip_block_start = np.concatenate(([0], np.cumsum(sizes * self.n_qp_block))).astype(np.int64)
        self.n_ip_global = int(self.ip_block_start[-1])
        self.blocks = []
        ip_nat = []
        ip_start = 0
        for b in range(st.n_blocks):
            nat = naturals[b]
            if nat.size == 0:
                continue
            nq = int(self.n_qp_block[b])
            self.blocks.append(LocalBlock(st.block_types[b], st.block_rules[b], self.local_nodes(cells[b]),
                                          nat, ids[b], ip_start, nq))
            ip_nat.append((self.ip_first(nat)[:, None] + np.arange(nq)).ravel())
            ip_start += nat.size * nq
        self.n_ip_local = ip_start
        self.ip_natural = np.concatenate(ip_nat) if ip_nat else np.zeros(0, np.int64)
        self.n_cells_local = sum(len(b.cells) for b in self.blocks)
        self.cell_natural = np.concatenate([b.natural for b in self.blocks]) if self.blocks else \
            np.zeros(0, np.int64)

        self._redist = {}
        with collective(comm):
            self.check_geometry()
        s = self.quality
        log.info("mesh %s: %d nodes, %d cells, %d integration points on %d ranks; edge cut %d of %d, "
                 "imbalance %.3f", st.source or "(generated)", st.n_nodes, st.n_cells, self.n_ip_global,
                 comm.size, s["edge_cut"], s["edges"], s["imbalance"])

    # ------------------------------------------------------------------ set-up steps
    def _migrate_cells(self):
        """Send every stripe cell to its rank. Returns per block (connectivity (n, nn) natural node ids,
        natural cell ids increasing, external ids) of this rank's cells."""
        st = self.stripes
        cells, naturals, ids = [], [], []
        for b in range(st.n_blocks):
            lo, hi = st.block_range(b)
            rows = np.column_stack([np.arange(lo, hi, dtype=np.int64), st.cell_ids[b], st.cells[b]])
            got = Exchange(self.stripe_part[lo - st.cell_start:hi - st.cell_start], self.comm).forward(rows)
            naturals.append(got[:, 0].copy())
            ids.append(got[:, 1].copy())
            cells.append(got[:, 2:].copy())
        return cells, naturals, ids

    def _number_nodes(self, used):
        """Ownership (lowest rank among the touching cells; nodes of no cell: rank 0), PETSc numbering
        (owner rank, natural id) and the local nodes, all computed by the nodes' stripe owners from the
        natural ids ``used`` (sorted) of the nodes of this rank's cells."""
        st, comm, p, r = self.stripes, self.comm, self.comm.size, self.comm.rank
        ns = st.node_start
        ex = Exchange(stripe_of(used, st.n_nodes, p), comm)
        asked = ex.forward(used) - ns
        owner = np.full(st.node_stop - ns, p, dtype=np.int64)
        np.minimum.at(owner, asked, ex.source)
        orphans = np.flatnonzero(owner == p)
        owner[orphans] = 0
        counts = np.bincount(owner, minlength=p).astype(np.int64)
        before = np.zeros(p, dtype=np.int64)
        comm.Exscan(counts, before)
        if r == 0:
            before[:] = 0
        total = np.empty(p, dtype=np.int64)
        comm.Allreduce(counts, total)
        self.node_ranges = np.concatenate(([0], np.cumsum(total))).astype(np.int64)
        order = np.argsort(owner, kind="stable")
        group_first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        petsc = np.empty_like(owner)
        petsc[order] = (self.node_ranges[:-1] + before)[owner[order]] + np.arange(owner.size) - \
            group_first[owner[order]]
        self.stripe_owner, self.stripe_petsc = owner, petsc
        # answers: owner and PETSc id of every local node; coordinates; plus the orphans, sent to rank 0
        info = ex.backward(np.column_stack([owner[asked], petsc[asked]]))
        xyz = ex.backward(st.points[asked])
        ox = Exchange(np.zeros(orphans.size, np.int64), comm)
        o_info = ox.forward(np.column_stack([orphans + ns, petsc[orphans]]))
        o_xyz = ox.forward(st.points[orphans])
        nat = np.concatenate([used, o_info[:, 0]])
        own = np.concatenate([info[:, 0], np.zeros(len(o_info), np.int64)])
        pet = np.concatenate([info[:, 1], o_info[:, 1]])
        xyz = np.concatenate([xyz, o_xyz]).reshape(-1, 3)
        mine = own == r
        local = np.concatenate([np.flatnonzero(mine)[np.argsort(pet[mine])],
                                np.flatnonzero(~mine)[np.argsort(pet[~mine])]])
        self.local_natural = nat[local]
        self.local_petsc = pet[local]
        self.local_owner = own[local]
        self.points = np.ascontiguousarray(xyz[local])
        self.node_start, self.node_stop = int(self.node_ranges[r]), int(self.node_ranges[r + 1])
        self.n_owned_nodes = int(mine.sum())
        self.n_local_nodes = self.local_natural.size
        self.n_ghost_nodes = self.n_local_nodes - self.n_owned_nodes
        srt = np.argsort(self.local_natural)
        self._sorted_natural, self._sorted_local = self.local_natural[srt], srt.astype(np.int64)

    def check_geometry(self, chunk=2048):
        """Raise InputError naming the element when a local cell is inverted (det J ≤ 0 at a point); ``chunk``
        cells at a time (the Jacobians' temporaries are a few MB, whatever the mesh)."""
        from .elements import get_element, jacobians
        for blk in self.blocks:
            dN = get_element(blk.type).dshape(element_rule(blk.type, blk.rule).points)
            for s in range(0, len(blk.cells), chunk):
                e = min(len(blk.cells), s + chunk)
                jacobians(self.points[blk.cells[s:e]], dN, blk.ids[s:e], blk.type)

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_file(cls, path, comm=None, partitioner="ptscotch"):
        """The distributed set-up from a mesh file (any format of :func:`dromo.mesh.readers.read_mesh`):
        ``.inp`` and gmsh 4.1 ``.msh`` files are parsed on rank 0 in pieces sent to the ranks as they are
        parsed, never whole on any rank; other formats are read on rank 0 and sent in stripes
        (:func:`dromo.mesh.file_stripes.read_file_stripes`)."""
        from .file_stripes import read_file_stripes
        comm = comm or MPI.COMM_WORLD
        return cls(read_file_stripes(path, comm), comm, partitioner)

    # ------------------------------------------------------------------ the whole mesh (fallback)
    @property
    def global_mesh(self):
        """The whole :class:`MeshData`, gathered from the stripes on first use (collective on first use;
        O(N) on every rank). dromo's own paths do not use it; kept for scripts and small meshes."""
        if self._global_mesh is None:
            self._global_mesh = self.stripes.gather()
        return self._global_mesh

    def fingerprint(self):
        """:meth:`MeshData.fingerprint` of the mesh, computed collectively from the stripes (cached)."""
        if self._fingerprint is None:
            self._fingerprint = self.stripes.fingerprint()
        return self._fingerprint

    @property
    def source(self):
        return self.stripes.source

    # ------------------------------------------------------------------ sizes and maps
    @property
    def n_dofs_global(self):
        return 3 * self.n_nodes_global

    @property
    def n_owned_dofs(self):
        return 3 * self.n_owned_nodes

    @property
    def dof_range(self):
        return 3 * self.node_start, 3 * self.node_stop

    def local_dofs(self, local_nodes):
        """Interlaced local dof indices (…, 3) of local node indices (…)."""
        local_nodes = np.asarray(local_nodes, dtype=np.int64)
        return 3 * local_nodes[..., None] + np.arange(3)

    def global_dofs(self, local_nodes):
        """Interlaced PETSc (global) dof indices (…, 3) of local node indices (…)."""
        return 3 * self.local_petsc[np.asarray(local_nodes, dtype=np.int64)][..., None] + np.arange(3)

    def local_nodes(self, natural_nodes):
        """Local indices (same shape) of natural node ids, -1 where the node is not on this rank."""
        return _local_index(self._sorted_natural, self._sorted_local, natural_nodes)

    def local_nodes_of(self, natural_nodes, owned_only=False):
        """Local indices of the given natural nodes that are present on this rank (owned or ghost)."""
        loc = self.local_nodes(np.asarray(natural_nodes, dtype=np.int64).ravel())
        loc = loc[loc >= 0]
        if owned_only:
            loc = loc[loc < self.n_owned_nodes]
        return loc

    def ip_first(self, cells):
        """Natural id of the first integration point of natural cells (…) int64."""
        cells = np.asarray(cells, dtype=np.int64)
        b = np.searchsorted(self.stripes.block_offsets, cells, side="right") - 1
        return self.ip_block_start[b] + (cells - self.stripes.block_offsets[b]) * self.n_qp_block[b]

    def cell_of_ip(self, ids):
        """(natural cell, point index within the cell's rule) of natural integration-point ids (…)."""
        ids = np.asarray(ids, dtype=np.int64)
        b = np.searchsorted(self.ip_block_start, ids, side="right") - 1
        c, q = np.divmod(ids - self.ip_block_start[b], self.n_qp_block[b])
        return self.stripes.block_offsets[b] + c, q

    def cell_ranks(self, cells):
        """Rank owning each natural cell (…) int64; collective (the stripe owners answer)."""
        cells = np.asarray(cells, dtype=np.int64)
        ex = Exchange(stripe_of(cells.ravel(), self.n_cells_global, self.comm.size), self.comm)
        return ex.backward(self.stripe_part[ex.forward(cells.ravel()) - self.stripes.cell_start]).reshape(
            cells.shape)

    def _ask_members(self, sets, kind, name, ids, n):
        """Boolean membership in the named set of natural ids (k,), asked from the stripe owners."""
        with collective(self.comm):
            if name not in sets:
                raise InputError(f"{self.stripes.source or 'mesh'}: no {kind} {name!r} "
                                 f"({kind}s: {', '.join(sorted(sets)) or 'none'})")
        members = sets[name]
        ex = Exchange(stripe_of(ids, n, self.comm.size), self.comm)
        got = ex.forward(ids)
        j = np.minimum(np.searchsorted(members, got), max(0, members.size - 1))
        hit = (members[j] == got) if members.size else np.zeros(got.size, bool)
        return ex.backward(hit.astype(np.int8)).astype(bool)

    def node_set(self, name, owned_only=True):
        """Local node indices of a named node set (owned ones by default), in natural order."""
        n = self.n_owned_nodes if owned_only else self.n_local_nodes
        hit = self._ask_members(self.stripes.node_sets, "node set", name, self.local_natural[:n],
                                self.n_nodes_global)
        loc = np.flatnonzero(hit)
        return loc[np.argsort(self.local_natural[loc], kind="stable")]

    def element_set_mask(self, name):
        """List over local blocks of boolean masks of the cells in element set ``name``."""
        hit = self._ask_members(self.stripes.element_sets, "element set", name, self.cell_natural,
                                self.n_cells_global)
        bounds = np.cumsum([0] + [len(b.cells) for b in self.blocks])
        return [hit[bounds[i]:bounds[i + 1]] for i in range(len(self.blocks))]

    def node_info(self, natural):
        """(owner rank, PETSc id) (k, 2) int64 and coordinates (k, 3) of any natural nodes (k,), asked from
        their stripe owners. Collective."""
        natural = np.asarray(natural, dtype=np.int64)
        ex = Exchange(stripe_of(natural, self.n_nodes_global, self.comm.size), self.comm)
        got = ex.forward(natural) - self.stripes.node_start
        return (ex.backward(np.column_stack([self.stripe_owner[got], self.stripe_petsc[got]])),
                ex.backward(self.stripes.points[got]))

    def facet_set(self, name):
        """This rank's share of a facet set: {facet type: (coords (nf, nfn, 3), petsc nodes (nf, nfn))}.

        Each facet is assigned to the owner of its first node (so every facet is counted once), facets in
        the set's order. Collective: the facets of the set's row stripes are sent to their ranks.
        """
        fs = self.stripes.facet_sets
        with collective(self.comm):
            if name not in fs:
                raise InputError(f"{self.stripes.source or 'mesh'}: no facet set {name!r} "
                                 f"(facet sets: {', '.join(sorted(fs)) or 'none'})")
        out = {}
        for ftype, facets in fs[name].items():
            nf, nfn = facets.shape
            info, xyz = self.node_info(facets.ravel())
            info, xyz = info.reshape(nf, nfn, 2), xyz.reshape(nf, nfn, 3)
            ex = Exchange(info[:, 0, 0] if nf else np.zeros(0, np.int64), self.comm)
            out[ftype] = (ex.forward(xyz), ex.forward(info[:, :, 1]))
        return out
    # ------------------------------------------------------------------ PETSc objects
    def create_vector(self, bs=3):
        """A ghosted PETSc Vec on the nodes with ``bs`` components per node (interlaced)."""
        from petsc4py import PETSc
        ghosts = self.local_petsc[self.n_owned_nodes:].astype(PETSc.IntType)
        n = self.n_owned_nodes * bs
        return PETSc.Vec().createGhost(ghosts, size=(n, self.n_nodes_global * bs), bsize=bs,
                                         comm=self.comm)

    def to_local(self, vec):
        """Owned + ghost values of a ghosted Vec as a (n_local_nodes, bs) array (updates ghosts)."""
        from petsc4py import PETSc
        vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        with vec.localForm() as lf:
            return lf.getArray(readonly=True).reshape(self.n_local_nodes, -1).copy()

    # ------------------------------------------------------------------ natural ordering exchange
    def redistributor(self, location):
        """:class:`Redistributor` between owned items and natural blocks for "node", "ip" or "cell"."""
        if location not in self._redist:
            if location == "node":
                ids, n = self.local_natural[:self.n_owned_nodes], self.n_nodes_global
            elif location == "ip":
                ids, n = self.ip_natural, self.n_ip_global
            elif location == "cell":
                ids, n = self.cell_natural, self.n_cells_global
            else:
                raise InputError(f"unknown location {location!r} (node, ip or cell)")
            self._redist[location] = Redistributor(ids, n, self.comm)
        return self._redist[location]

    def block_coordinates(self, block):
        """Coordinates of a local block's nodes: (n_cells, nn, 3)."""
        return self.points[block.cells]
