"""Mesh files read in pieces (issue 22): the stripes of a ``.inp`` deck or a gmsh ``.msh`` file parsed on rank 0
piece by piece and assembled by all ranks are those of the serial reader's mesh, at 1, 2 and 3 ranks, with
mixed element types, sets of every kind, comments, includes and continuation lines; errors name the file
and line as the serial reader does; and no rank holds the whole mesh while it is read."""
import os
import tracemalloc

import numpy as np
import pytest
from mpi4py import MPI

import dromo.mesh.inp as inp_mod
import dromo.mesh.msh_stream as msh_mod
from dromo.errors import InputError
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.file_stripes import read_file_stripes
from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import read_inp, write_inp
from dromo.mesh.meshdata import CellBlock, MeshData
from dromo.mesh.pieces import PieceSender
from dromo.mesh.readers import read_mesh
from dromo.mesh.stripes import MeshStripes

gmsh = pytest.importorskip("gmsh")
pytest.importorskip("meshio.gmsh")          # imported before any memory is traced (its modules are not mesh data)

DECK_EXTRA = """** sets of every kind, written by hand after the generated mesh
*NSET, NSET=GEN, GENERATE
1, 400, 3
*NSET, NSET=MIXED
14, 20,
GEN, 17
*NSET, NSET=GAP, GENERATE
8990, 9010, 2
*ELSET, ELSET=SOME
3, 1, 50, 2
*ELSET, ELSET=EGEN, GENERATE
10, 60, 7
*ELSET, ELSET=BOTH
SOME, EGEN
*NSET, NSET=FROMEL, ELSET=some
*SURFACE, NAME=S_BY_ID, TYPE=ELEMENT
5, S2
1, S1
3, S3
*SURFACE, NAME=S_BY_SET, TYPE=ELEMENT
EGEN, S2
2, S4
*SURFACE, NAME=PTS, TYPE=NODE
gen
23
"""

# an element card whose records span lines (a trailing comma), a comment inside, and an included node card
CONT = """*NODE, NSET=EXTRA
9001, 20., 0., 0.
*INCLUDE, INPUT=more_nodes.inp
*ELEMENT, TYPE=C3D15, ELSET=WEDGES
9001, 9001, 9002, 9003, 9004, 9005, 9006, 9007, 9008,
** a comment between the lines of a record
9009, 9010, 9011, 9012, 9013, 9014, 9015
9002, 9002, 9003, 9004, 9005, 9006, 9007, 9008, 9009, 9010, 9011, 9012, 9013, 9014, 9015, 9001
"""


def _mixed():
    """tet10 box + hex20 (reduced) block + one node of no cell, with node, element and facet sets."""
    a = box_mesh(3, 2, 2, element="tet10", distort=0.1)
    b = box_mesh(2, 2, 1, element="hex20", origin=(5.0, 0.0, 0.0))
    pts = np.vstack([a.points, b.points, [[9.0, 9.0, 9.0]]])
    blocks = [a.blocks[0], CellBlock("hex20", b.blocks[0].cells + a.n_nodes, ids=np.arange(b.n_cells) + 500,
                                     rule="reduced")]
    fs = {"A_XMAX": a.facet_sets["xmax"], "B_ZMIN": {t: f + a.n_nodes for t, f in b.facet_sets["zmin"].items()}}
    return a, b, MeshData(pts, blocks, node_ids=np.arange(len(pts)) * 3 + 11,
                          node_sets={"AMIN": a.node_sets["xmin"], "LONE": [len(pts) - 1]},
                          element_sets={"B": np.arange(a.n_cells, a.n_cells + b.n_cells), "FIRST": [0, 5]},
                          facet_sets=fs)


def write_mixed_deck(folder):
    _a, _b, mesh = _mixed()
    path = os.path.join(folder, "mixed.inp")
    write_inp(mesh, path)
    more = "".join(f"{9002 + i}, {20. + (i % 3)}, {float(i // 3 % 2)}, {float(i // 6)}\n" for i in range(14))
    with open(os.path.join(folder, "more_nodes.inp"), "w") as f:
        f.write(more)
    with open(path, "a") as f:
        f.write(CONT + DECK_EXTRA.replace("1, 400, 3", "11, 400, 3"))
    return path


def write_mixed_msh(folder, binary):
    """The mixed mesh as a gmsh 4.1 file written by gmsh: two volume entities (tet10, hex20), physical groups
    A, B, ALL (both volumes), a named tri6 surface group, an unnamed quad8 one (tag 9), a point group."""
    from meshio.gmsh.common import _meshio_to_gmsh_order
    a, b, mesh = _mixed()
    path = os.path.join(folder, f"mixed_{int(binary)}.msh")
    tags = np.arange(mesh.n_nodes) * 2 + 7                    # gmsh node tags, not the positions
    gmsh.initialize(["", "-v", "0"])
    try:
        gmsh.model.add("mixed")
        m = gmsh.model
        for dim, ent, nodes in ((3, 1, np.arange(a.n_nodes)), (3, 2, np.arange(a.n_nodes, mesh.n_nodes - 1)),
                                (0, 1, np.array([mesh.n_nodes - 1]))):
            m.addDiscreteEntity(dim, ent)
            m.mesh.addNodes(dim, ent, tags[nodes].tolist(), mesh.points[nodes].ravel().tolist())
        m.addDiscreteEntity(2, 1)
        m.addDiscreteEntity(2, 2)
        eid = 1
        for dim, ent, gtype, mtype, cells in ((3, 1, 11, "tetra10", mesh.blocks[0].cells),
                                              (3, 2, 17, "hexahedron20", mesh.blocks[1].cells),
                                              (2, 1, 9, "triangle6", mesh.facet_sets["A_XMAX"]["tri6"]),
                                              (2, 2, 16, "quad8", mesh.facet_sets["B_ZMIN"]["quad8"]),
                                              (0, 1, 15, "vertex", np.array([[mesh.n_nodes - 1]]))):
            conn = tags[_meshio_to_gmsh_order(mtype, cells) if mtype != "vertex" else cells]
            m.mesh.addElementsByType(ent if dim else 1, gtype, list(range(eid, eid + len(conn))),
                                     conn.ravel().tolist()) if dim else \
                m.mesh.addElements(0, 1, [gtype], [[eid]], [conn.ravel().tolist()])
            eid += len(conn)
        m.addPhysicalGroup(3, [1], name="A")
        m.addPhysicalGroup(3, [2], name="B")
        m.addPhysicalGroup(3, [1, 2], name="ALL")
        m.addPhysicalGroup(2, [1], name="A_XMAX")
        m.addPhysicalGroup(2, [2], tag=9)
        m.addPhysicalGroup(0, [1], name="LONE")
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.Binary", int(binary))
        gmsh.write(path)
    finally:
        gmsh.finalize()
    return path


def _same(st, ref):
    """Every array and table of two MeshStripes equal (same order of sets and facet types)."""
    eq = lambda x, y: x.shape == y.shape and np.array_equal(x, y)        # noqa: E731
    assert st.n_nodes == ref.n_nodes and st.block_types == ref.block_types and st.block_rules == ref.block_rules
    assert np.array_equal(st.block_offsets, ref.block_offsets) and st.source == ref.source
    assert eq(st.points, ref.points) and eq(st.node_ids, ref.node_ids)
    assert all(eq(x, y) for x, y in zip(st.cells, ref.cells)) and all(eq(x, y) for x, y in zip(st.cell_ids, ref.cell_ids))
    for name in ("node_sets", "element_sets"):
        a, b = getattr(st, name), getattr(ref, name)
        assert list(a) == list(b) and all(eq(a[k], b[k]) for k in b), name
    assert list(st.facet_sets) == list(ref.facet_sets)
    for k, d in ref.facet_sets.items():
        assert list(st.facet_sets[k]) == list(d) and all(eq(st.facet_sets[k][t], d[t]) for t in d), k


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of a few lines or items: every card is split, records across pieces, pieces on every rank."""
    monkeypatch.setattr(inp_mod, "CHUNK_LINES", 3)
    monkeypatch.setattr(inp_mod, "SET_CHUNK", 4)
    monkeypatch.setattr(msh_mod, "CHUNK", 5)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    folder = comm.bcast(str(tmp_path_factory.mktemp("files")) if comm.rank == 0 else None)
    if comm.rank == 0:
        import sys
        sys.path.insert(0, os.path.dirname(__file__))
        from test_readers import write_deck
        from pathlib import Path
        write_deck(Path(folder))
        write_mixed_deck(folder)
        write_mixed_msh(folder, False)
        write_mixed_msh(folder, True)
    comm.Barrier()
    return folder


@pytest.mark.mpi
@pytest.mark.parametrize("name", ["deck.inp", "mixed.inp", "mixed_0.msh", "mixed_1.msh"])
@pytest.mark.parametrize("pieces", ["small", "default"])
def test_pieces_give_the_serial_readers_stripes(comm, files, name, pieces, request):
    if pieces == "small":
        request.getfixturevalue("small_pieces")
    path = os.path.join(files, name)
    ref = read_mesh(path)
    st = read_file_stripes(path, comm, stream=True)
    _same(st, MeshStripes.from_meshdata(ref, comm))
    assert st.n_cells == ref.n_cells and len(set(t for b in ref.blocks for t in [b.type])) == len(ref.blocks)


def test_the_files_cover_what_they_should(files):
    """The test files are what their names say: mixed types, pruned node, sets of every kind, facet types."""
    m = read_mesh(os.path.join(files, "mixed.inp"))
    assert [(b.type, b.rule) for b in m.blocks] == [("tet10", "full"), ("hex20", "reduced"), ("wedge15", "full")]
    assert {"GEN", "MIXED", "FROMEL", "PTS", "AMIN", "LONE", "EXTRA"} <= set(m.node_sets)
    assert len(m.node_sets["LONE"]) == 0                                 # its node was used by no cell
    assert {"SOME", "EGEN", "BOTH", "WEDGES", "B"} <= set(m.element_sets)
    assert sorted(m.facet_sets["S_BY_SET"]) == ["tri6"] and len(m.facet_sets["S_BY_SET"]["tri6"]) == 9
    g = read_mesh(os.path.join(files, "mixed_1.msh"))
    assert [b.type for b in g.blocks] == ["tet10", "hex20"] and sorted(g.facet_sets) == ["9", "A_XMAX"]
    assert len(g.element_sets["ALL"]) == g.n_cells and len(g.node_sets["LONE"]) == 0


def test_serial_reader_in_small_pieces_is_unchanged(files, small_pieces):
    for name in ("deck.inp", "mixed.inp"):
        path = os.path.join(files, name)
        a = read_inp(path)
        inp_mod.CHUNK_LINES, inp_mod.SET_CHUNK = 1 << 15, 1 << 16
        assert read_inp(path).equals(a)


@pytest.mark.mpi
@pytest.mark.parametrize("edit, message", [
    (("9002, 9002, 9003", "9002, 9002, 77777"), r"mixed\.inp:\d+: element 9002 references undefined node 77777"),
    (("*NODE, NSET=EXTRA\n9001,", "*NODE, NSET=EXTRA\n9001, 1., 1., 1.\n11,"), r"node id 11 defined more than once"),
    (("10, 60, 7", "100000, 100005, 1"), r"mixed\.inp:\d+: \*ELSET EGEN: GENERATE 100000, 100005, 1 names undefined "
                                         r"element 100000"),
    (("EGEN, S2", "NOPE, S2"), r"mixed\.inp:\d+: unknown element set 'NOPE' in \*SURFACE S_BY_SET"),
    (("5, S2", "5, S9"), r"\*SURFACE S_BY_ID: face S9 of element 5 \(tet10\) does not exist"),
    (("3, 1, 50, 2", "3, 1, 50, 2, 123456"), r"\*ELSET SOME references undefined element 123456"),
    (("9009, 9010", "9009, x9010"), r"mixed\.inp:\d+: expected node ids"),
])
def test_errors_name_the_file_and_line_on_every_rank(comm, files, shared_tmp, edit, message):
    text = open(os.path.join(files, "mixed.inp")).read()
    assert edit[0] in text
    path = os.path.join(str(shared_tmp), "mixed.inp")
    if comm.rank == 0:
        with open(path, "w") as f:
            f.write(text.replace(edit[0], edit[1], 1))
        with open(os.path.join(str(shared_tmp), "more_nodes.inp"), "w") as f:
            f.write(open(os.path.join(files, "more_nodes.inp")).read())
    comm.Barrier()
    with pytest.raises(InputError, match=message):
        read_inp(path)                                                    # the serial reader says the same
    with pytest.raises(InputError, match=message):
        read_file_stripes(path, comm, stream=True)


@pytest.mark.mpi
def test_distributed_mesh_from_file_is_the_one_from_the_mesh(comm, files):
    path = os.path.join(files, "mixed_1.msh")
    dm = DistributedMesh.from_file(path, comm)
    ref = DistributedMesh(read_mesh(path), comm)
    assert np.array_equal(dm.local_natural, ref.local_natural) and np.array_equal(dm.points, ref.points)
    assert dm.fingerprint() == read_mesh(path).fingerprint()
    assert np.array_equal(dm.node_set("A_XMAX"), ref.node_set("A_XMAX"))


def _sender_bytes(monkeypatch):
    """Record the largest piece rank 0 hands out and what it keeps."""
    seen = {"largest": 0}
    orig = PieceSender.put

    def put(self, piece):
        seen["largest"] = max(seen["largest"], sum(getattr(x, "nbytes", 0) for x in piece))
        seen["sender"] = self
        return orig(self, piece)

    monkeypatch.setattr(PieceSender, "put", put)
    return seen


@pytest.mark.mpi(min_size=3)
@pytest.mark.parametrize("kind", ["inp", "msh"])
def test_no_rank_holds_the_whole_mesh_while_reading(comm, shared_tmp, monkeypatch, kind):
    """Every rank's peak of traced memory (numpy arrays and the pickled messages) while the file is read in
    pieces at 3 ranks, rank 0's included, is a share of the peak of the same read on one rank (it would be the
    whole if rank 0 held the mesh), and every rank's stripes are a share; the largest piece is bounded by the
    piece size, not by the mesh."""
    monkeypatch.setattr(inp_mod, "CHUNK_LINES", 2000)
    monkeypatch.setattr(inp_mod, "SET_CHUNK", 2000)
    monkeypatch.setattr(msh_mod, "CHUNK", 2000)
    path = os.path.join(str(shared_tmp), f"big.{kind}")
    mesh = box_mesh(14, 14, 12, element="tet10")                       # 14 112 cells, 21 025 nodes
    if comm.rank == 0:
        if kind == "inp":
            write_inp(mesh, path)
        else:
            import meshio
            meshio.write(path, meshio.Mesh(mesh.points, [("tetra10", mesh.blocks[0].cells)]),
                         file_format="gmsh", binary=True)
    comm.Barrier()
    size = os.path.getsize(path)
    seen = _sender_bytes(monkeypatch)
    tracemalloc.start()
    st = read_file_stripes(path, comm, stream=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    one = None
    if comm.rank == 0:
        largest = seen["largest"]
        tracemalloc.start()
        alone = read_file_stripes(path, MPI.COMM_SELF, stream=True)                 # the same read on one rank
        one = (tracemalloc.get_traced_memory()[1], alone.n_cells, largest)
        tracemalloc.stop()
    peaks = comm.allgather(peak)
    one, n_cells, largest = comm.bcast(one)
    assert n_cells == st.n_cells == mesh.n_cells
    # a piece: at most 2000 lines of 11 ids (+ the line and file of each), a small part of the file
    assert largest <= 2000 * (11 * 8 + 12) and largest < 0.1 * size, (largest, size)
    # every rank, rank 0 included, a share of the one-rank read (1/3 plus the pieces in flight)
    assert max(peaks) < 0.6 * one, (peaks, one)
    held = sum(a.nbytes for a in [st.points, st.node_ids] + st.cells + st.cell_ids)
    assert held < 0.5 * comm.allreduce(held)
