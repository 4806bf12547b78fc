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

Construction is collective: rank 0 reads (or is given) the global mesh, it is broadcast, cells are
partitioned by PTScotch (:mod:`dromo.mesh.partition`), and every rank keeps its own cells. The mesh
*topology* is replicated during set-up (``global_mesh``, a few tens of MB for a million dofs); fields and
snapshots are always distributed.
"""
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel.errors import collective
from ..parallel.log import get_logger
from ..parallel.redistribute import Redistributor
from .partition import partition_cells, partition_quality
from .quadrature import element_rule

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


def read_mesh_on_root(path, comm=None):
    """Read a mesh file on rank 0 and broadcast the :class:`MeshData` (collective; an error on rank 0
    is raised on every rank)."""
    comm = comm or MPI.COMM_WORLD
    mesh = None
    with collective(comm):
        if comm.rank == 0:
            from .readers import read_mesh
            mesh = read_mesh(path)
    return comm.bcast(mesh, root=0)


class DistributedMesh:
    """A mesh distributed over the ranks of ``comm`` (see the module docstring for numberings).

    Main attributes
    ---------------
    comm, global_mesh (MeshData, replicated), part ((n_cells,) rank of every cell)
    n_nodes_global, node_start, node_stop, n_owned_nodes, n_local_nodes (owned + ghosts)
    local_natural : (n_local_nodes,) natural id of each local node
    local_petsc   : (n_local_nodes,) PETSc id of each local node
    points        : (n_local_nodes, 3) coordinates of the local nodes
    blocks        : list of LocalBlock (only blocks with local cells; block order as in the mesh)
    n_ip_global, n_ip_local, ip_natural ((n_ip_local,) natural integration-point ids)
    quality       : dict from :func:`partition_quality`
    """

    def __init__(self, mesh, comm=None, partitioner="ptscotch"):
        comm = comm or MPI.COMM_WORLD
        self.comm = comm
        self.global_mesh = mesh
        with collective(comm):
            mesh.validate()
        self.part = partition_cells(mesh, comm, partitioner)
        self.quality = partition_quality(mesh, self.part, comm)
        r = comm.rank
        n_nodes = mesh.n_nodes
        self.n_nodes_global = n_nodes

        # -- node ownership: lowest rank among the cells touching the node (unreferenced nodes: rank 0)
        owner = np.full(n_nodes, comm.size, dtype=np.int64)
        off = mesh.cell_offsets
        for b, blk in enumerate(mesh.blocks):
            pb = np.repeat(self.part[off[b]:off[b + 1]], blk.cells.shape[1])
            np.minimum.at(owner, blk.cells.ravel(), pb)
        owner[owner == comm.size] = 0
        self.node_owner = owner
        petsc_order = np.lexsort((np.arange(n_nodes), owner))      # natural ids in PETSc order
        self.petsc_of_natural = np.empty(n_nodes, dtype=np.int64)
        self.petsc_of_natural[petsc_order] = np.arange(n_nodes)
        counts = np.bincount(owner, minlength=comm.size)
        self.node_ranges = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.node_start, self.node_stop = int(self.node_ranges[r]), int(self.node_ranges[r + 1])
        self.n_owned_nodes = self.node_stop - self.node_start
        owned_natural = petsc_order[self.node_start:self.node_stop]

        # -- local cells, ghosts, local numbering
        used = []
        for b, blk in enumerate(mesh.blocks):
            mine = np.flatnonzero(self.part[off[b]:off[b + 1]] == r)
            used.append(blk.cells[mine].ravel())
        used = np.unique(np.concatenate(used)) if used else np.zeros(0, np.int64)
        ghosts = used[owner[used] != r]
        ghosts = ghosts[np.argsort(self.petsc_of_natural[ghosts])]
        self.local_natural = np.concatenate([owned_natural, ghosts]).astype(np.int64)
        self.local_petsc = self.petsc_of_natural[self.local_natural]
        self.n_local_nodes = self.local_natural.size
        self.n_ghost_nodes = ghosts.size
        local_of_natural = np.full(n_nodes, -1, dtype=np.int64)
        local_of_natural[self.local_natural] = np.arange(self.n_local_nodes)
        self._local_of_natural = local_of_natural
        self.points = mesh.points[self.local_natural]

        # -- integration points: natural numbering cell-major over natural cells
        n_qp_cell = np.zeros(mesh.n_cells, dtype=np.int64)
        for b, blk in enumerate(mesh.blocks):
            n_qp_cell[off[b]:off[b + 1]] = len(element_rule(blk.type, blk.rule).weights)
        self.ip_offset = np.concatenate(([0], np.cumsum(n_qp_cell))).astype(np.int64)
        self.n_ip_global = int(self.ip_offset[-1])
        self.blocks = []
        ip_nat = []
        ip_start = 0
        for b, blk in enumerate(mesh.blocks):
            mine = np.flatnonzero(self.part[off[b]:off[b + 1]] == r)
            if mine.size == 0:
                continue
            nq = int(n_qp_cell[off[b]])
            nat = off[b] + mine
            self.blocks.append(LocalBlock(blk.type, blk.rule, local_of_natural[blk.cells[mine]], nat,
                                          blk.ids[mine], ip_start, nq))
            ip_nat.append((self.ip_offset[nat][:, None] + np.arange(nq)).ravel())
            ip_start += mine.size * nq
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
                 "imbalance %.3f", mesh.source or "(generated)", n_nodes, mesh.n_cells, self.n_ip_global,
                 comm.size, s["edge_cut"], s["edges"], s["imbalance"])

    def check_geometry(self, chunk=50000):
        """Raise InputError naming the element when a local cell is inverted (det J ≤ 0 at a point)."""
        from .elements import get_element, jacobians
        for blk in self.blocks:
            dN = get_element(blk.type).dshape(element_rule(blk.type, blk.rule).points)
            for s in range(0, len(blk.cells), chunk):
                e = min(len(blk.cells), s + chunk)
                jacobians(self.points[blk.cells[s:e]], dN, blk.ids[s:e], blk.type)

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_file(cls, path, comm=None, partitioner="ptscotch"):
        """Read a mesh file on rank 0 (any format of :func:`dromo.mesh.readers.read_mesh`), distribute it."""
        comm = comm or MPI.COMM_WORLD
        return cls(read_mesh_on_root(path, comm), comm, partitioner)

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

    def local_nodes_of(self, natural_nodes, owned_only=False):
        """Local indices of the given natural nodes that are present on this rank (owned or ghost)."""
        loc = self._local_of_natural[np.asarray(natural_nodes, dtype=np.int64)]
        loc = loc[loc >= 0]
        if owned_only:
            loc = loc[loc < self.n_owned_nodes]
        return loc

    def node_set(self, name, owned_only=True):
        """Local node indices of a named node set (owned ones by default)."""
        sets = self.global_mesh.node_sets
        with collective(self.comm):
            if name not in sets:
                raise InputError(f"{self.global_mesh.source or 'mesh'}: no node set {name!r} "
                                 f"(node sets: {', '.join(sorted(sets)) or 'none'})")
        return self.local_nodes_of(sets[name], owned_only)

    def element_set_mask(self, name):
        """List over local blocks of boolean masks of the cells in element set ``name``."""
        sets = self.global_mesh.element_sets
        with collective(self.comm):
            if name not in sets:
                raise InputError(f"{self.global_mesh.source or 'mesh'}: no element set {name!r} "
                                 f"(element sets: {', '.join(sorted(sets)) or 'none'})")
        s = sets[name]
        return [np.isin(b.natural, s, assume_unique=True) for b in self.blocks]

    def facet_set(self, name):
        """This rank's share of a facet set: {facet type: (coords (nf, nfn, 3), petsc nodes (nf, nfn))}.

        Each facet is assigned to the owner of its first node (so every facet is counted once).
        """
        fs = self.global_mesh.facet_sets
        with collective(self.comm):
            if name not in fs:
                raise InputError(f"{self.global_mesh.source or 'mesh'}: no facet set {name!r} "
                                 f"(facet sets: {', '.join(sorted(fs)) or 'none'})")
        out = {}
        for ftype, facets in fs[name].items():
            mine = facets[self.node_owner[facets[:, 0]] == self.comm.rank]
            out[ftype] = (self.global_mesh.points[mine], self.petsc_of_natural[mine])
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
                ids, n = self.cell_natural, self.global_mesh.n_cells
            else:
                raise InputError(f"unknown location {location!r} (node, ip or cell)")
            self._redist[location] = Redistributor(ids, n, self.comm)
        return self._redist[location]

    def block_coordinates(self, block):
        """Coordinates of a local block's nodes: (n_cells, nn, 3)."""
        return self.points[block.cells]
