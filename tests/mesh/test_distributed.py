"""The distributed mesh: partition, ownership, ghosts, rank-count independent numbering."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.fem.operators import ip_coordinates
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.generate import box_mesh
from dromo.mesh.meshdata import CellBlock, MeshData
from dromo.mesh.partition import partition_cells


def _mixed_mesh():
    """A hex8 box plus a block of tet4 cells elsewhere (two blocks, two rules)."""
    a = box_mesh(3, 3, 2, element="hex8")
    b = box_mesh(2, 2, 2, element="tet4", origin=(5.0, 0.0, 0.0))
    pts = np.vstack([a.points, b.points])
    blocks = [a.blocks[0], CellBlock("tet4", b.blocks[0].cells + a.n_nodes)]
    return MeshData(pts, blocks, element_sets={"all": np.arange(a.n_cells + b.n_cells)})


@pytest.mark.mpi
@pytest.mark.parametrize("element", ["tet4", "tet10", "hex8", "hex20"])
def test_ownership_and_ghosts(comm, element):
    mesh = box_mesh(4, 3, 3, element=element, distort=0.2)
    dm = DistributedMesh(mesh, comm)
    # every cell on exactly one rank, every node owned by exactly one rank
    assert comm.allreduce(dm.n_cells_local) == mesh.n_cells
    assert comm.allreduce(dm.n_owned_nodes) == mesh.n_nodes
    owned = np.concatenate(comm.allgather(dm.local_natural[:dm.n_owned_nodes]))
    assert np.array_equal(np.sort(owned), np.arange(mesh.n_nodes))
    # PETSc numbering is contiguous per rank
    assert np.array_equal(dm.local_petsc[:dm.n_owned_nodes], np.arange(dm.node_start, dm.node_stop))
    # ghosts are owned elsewhere; the local points are the right ones
    assert np.all(dm.local_owner[dm.n_owned_nodes:] != comm.rank)
    assert np.array_equal(dm.points, mesh.points[dm.local_natural])
    # a ghosted vector carries owners' values to the ghosts
    v = dm.create_vector(3)
    v.getArray()[:] = np.repeat(dm.local_natural[:dm.n_owned_nodes], 3) * 1.0
    loc = dm.to_local(v)
    assert np.array_equal(loc[:, 0], dm.local_natural * 1.0)
    if comm.size > 1:
        assert dm.quality["edge_cut"] > 0
        assert dm.quality["imbalance"] < 1.3


@pytest.mark.mpi
def test_partitioner_is_a_graph_partitioner(comm):
    """PTScotch's parts are connected chunks: far fewer cut faces than striping a shuffled numbering."""
    mesh = box_mesh(6, 6, 6, element="hex8")
    rng = np.random.default_rng(0)
    perm = rng.permutation(mesh.n_cells)
    shuffled = MeshData(mesh.points, [CellBlock("hex8", mesh.blocks[0].cells[perm])])
    part = partition_cells(shuffled, comm)
    assert part.min() >= 0 and part.max() < comm.size
    if comm.size > 1:
        from dromo.mesh.partition import partition_quality
        q = partition_quality(shuffled, part, comm)
        striped = partition_quality(shuffled, partition_cells(shuffled, comm, "natural"), comm)
        assert q["edge_cut"] < 0.5 * striped["edge_cut"]


@pytest.mark.mpi
def test_partition_is_reproducible(comm):
    """The same mesh at the same rank count always gets the same partition (PTScotch's generator is
    reset), so a rerun or a restart sums its assemblies in the same order."""
    mesh = box_mesh(4, 2, 2, lengths=(4.0, 1.0, 1.0), element="hex8", distort=0.2, seed=1)
    first = partition_cells(mesh, comm)
    for _ in range(12):
        assert np.array_equal(partition_cells(mesh, comm), first)


@pytest.mark.mpi
def test_integration_points_numbering_is_rank_independent(comm):
    mesh = _mixed_mesh()
    dm = DistributedMesh(mesh, comm)
    assert comm.allreduce(dm.n_ip_local) == dm.n_ip_global == mesh.blocks[0].cells.shape[0] * 8 + \
        mesh.blocks[1].cells.shape[0] * 1
    x = ip_coordinates(dm)
    block = dm.redistributor("ip").owned_to_natural(x)
    # the natural order is cell-major over natural cells: compare with a serial computation
    from dromo.fem.kinematics import element_geometry
    ref = np.concatenate([element_geometry(b.type, mesh.points[b.cells], b.rule).points.reshape(-1, 3)
                          for b in mesh.blocks])
    s, e = dm.redistributor("ip").block
    assert np.allclose(block, ref[s:e], rtol=0, atol=1e-14)


@pytest.mark.mpi
def test_sets_and_missing_set(comm):
    mesh = box_mesh(3, 3, 3, element="hex8")
    dm = DistributedMesh(mesh, comm)
    nodes = dm.node_set("xmin")
    assert comm.allreduce(nodes.size) == mesh.node_sets["xmin"].size
    assert np.allclose(dm.points[nodes, 0], 0.0)
    from dromo.errors import InputError
    with pytest.raises(InputError, match="no node set 'nope'"):
        dm.node_set("nope")
