"""The distributed mesh set-up from natural stripes: same graph, partition, numbering and set look-ups as a
computation on the whole mesh, at any rank count."""
import os

import numpy as np
import pytest

import dromo.mesh.partition as partition_mod
from dromo.io.archive import Archive, distributed_mesh
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.generate import box_mesh
from dromo.mesh.meshdata import CellBlock, MeshData
from dromo.mesh.partition import dual_graph, partition_cells, stripe_dual_graph
from dromo.mesh.stripes import MeshStripes


def _mixed_mesh():
    """A tet10 box, a hex20 block elsewhere and one node used by no cell (owned by rank 0)."""
    a = box_mesh(3, 2, 2, element="tet10", distort=0.1)
    b = box_mesh(2, 2, 1, element="hex20", origin=(5.0, 0.0, 0.0))
    pts = np.vstack([a.points, b.points, [[9.0, 9.0, 9.0]]])
    blocks = [a.blocks[0], CellBlock("hex20", b.blocks[0].cells + a.n_nodes, rule="reduced")]
    fs = {"A_XMAX": a.facet_sets["xmax"], "B_ZMIN": {t: f + a.n_nodes for t, f in b.facet_sets["zmin"].items()}}
    return MeshData(pts, blocks, node_sets={"amin": a.node_sets["xmin"], "lone": [len(pts) - 1]},
                    element_sets={"b": np.arange(a.n_cells, a.n_cells + b.n_cells), "first": [0, 5]},
                    facet_sets=fs, source="mixed")


@pytest.mark.mpi
def test_stripe_dual_graph_is_the_serial_one_in_any_number_of_rounds(comm, monkeypatch):
    mesh = _mixed_mesh()
    st = MeshStripes.from_meshdata(mesh, comm)
    ref = dual_graph(mesh, (st.cell_start, st.cell_stop))
    for rounds in (1 << 14, 7):
        monkeypatch.setattr(partition_mod, "GRAPH_ROUND_CELLS", rounds)
        got = stripe_dual_graph(st)
        assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


@pytest.mark.mpi
def test_scattered_stripes_gather_fingerprint_and_archive(comm, shared_tmp):
    mesh = _mixed_mesh()
    st = MeshStripes.scatter(mesh if comm.rank == 0 else None, comm)
    ref = MeshStripes.from_meshdata(mesh, comm)
    assert np.array_equal(st.points, ref.points) and all(np.array_equal(a, b) for a, b in zip(st.cells, ref.cells))
    assert st.gather().equals(mesh)
    assert st.fingerprint() == mesh.fingerprint()
    dm = DistributedMesh(st, comm)
    path = os.path.join(str(shared_tmp), "mesh.h5")
    with Archive.create(path, comm) as ar:
        ar.write_mesh(dm)                                             # each rank writes its stripes
    with Archive.open(path, comm) as ar:
        assert ar.read_mesh().equals(mesh)
        assert ar.mesh_fingerprint() == mesh.fingerprint()
        back = ar.read_mesh_stripes()
    assert back.node_sets.keys() == ref.node_sets.keys()
    again = distributed_mesh(path, comm)                              # the set-up from the archive, striped
    assert np.array_equal(again.local_natural, dm.local_natural) and again.fingerprint() == mesh.fingerprint()
    assert np.array_equal(again.node_set("amin"), dm.node_set("amin"))
    for k in ref.element_sets:
        assert np.array_equal(back.element_sets[k], ref.element_sets[k])
    path2 = os.path.join(str(shared_tmp), "mesh2.h5")
    with Archive.create(path2, comm) as ar:
        ar.write_mesh(mesh)                                           # a replicated MeshData: rank 0 writes
    with Archive.open(path2, comm) as ar:
        assert ar.read_mesh().equals(mesh)


@pytest.mark.mpi
def test_distributed_set_up_matches_the_whole_mesh(comm):
    mesh = _mixed_mesh()
    dm = DistributedMesh(MeshStripes.from_meshdata(mesh, comm), comm)
    part = partition_cells(mesh, comm)
    assert np.array_equal(dm.cell_natural, np.flatnonzero(part == comm.rank))
    # node owner: lowest rank among the touching cells; orphan node: rank 0
    owner = np.full(mesh.n_nodes, comm.size)
    off = mesh.cell_offsets
    for b, blk in enumerate(mesh.blocks):
        np.minimum.at(owner, blk.cells.ravel(), np.repeat(part[off[b]:off[b + 1]], blk.cells.shape[1]))
    owner[owner == comm.size] = 0
    assert np.array_equal(dm.local_owner, owner[dm.local_natural])
    order = np.lexsort((np.arange(mesh.n_nodes), owner))
    petsc = np.empty(mesh.n_nodes, np.int64)
    petsc[order] = np.arange(mesh.n_nodes)
    assert np.array_equal(dm.local_petsc, petsc[dm.local_natural])
    assert np.array_equal(dm.points, mesh.points[dm.local_natural])
    assert comm.allreduce(dm.n_owned_nodes) == mesh.n_nodes
    # sets
    for name in ("amin", "lone"):
        want = dm.local_nodes_of(mesh.node_sets[name], owned_only=True)
        assert np.array_equal(dm.node_set(name), want)
    for name in ("b", "first"):
        for blk, mask in zip(dm.blocks, dm.element_set_mask(name)):
            assert np.array_equal(mask, np.isin(blk.natural, mesh.element_sets[name]))
    for name in ("A_XMAX", "B_ZMIN"):
        got = dm.facet_set(name)
        for ftype, facets in mesh.facet_sets[name].items():
            mine = facets[owner[facets[:, 0]] == comm.rank]
            assert np.array_equal(got[ftype][1], petsc[mine]) and np.array_equal(got[ftype][0], mesh.points[mine])
    # integration points, cell ranks, fingerprint, the lazily gathered whole mesh
    cells = np.arange(mesh.n_cells)
    assert np.array_equal(dm.cell_ranks(cells), part)
    first = np.concatenate(([0], np.cumsum([len(element_rule_weights(b)) for b in mesh.blocks
                                             for _ in range(len(b))])))[:-1]
    assert np.array_equal(dm.ip_first(cells), first)
    c, q = dm.cell_of_ip(dm.ip_natural)
    assert np.array_equal(dm.ip_first(c) + q, dm.ip_natural)
    assert dm.fingerprint() == mesh.fingerprint()
    assert dm.global_mesh.equals(mesh)


def element_rule_weights(block):
    from dromo.mesh.quadrature import element_rule
    return element_rule(block.type, block.rule).weights


@pytest.mark.mpi
def test_bad_stripe_is_refused_on_every_rank(comm):
    from dromo.errors import InputError
    mesh = box_mesh(2, 2, 2, element="hex8")
    mesh.blocks[0].cells[-1, 0] = mesh.n_nodes + 3                  # the last element, on the last rank's stripe
    with pytest.raises(InputError, match="element 8 .*out of range"):
        DistributedMesh(MeshStripes.from_meshdata(mesh, comm), comm)
