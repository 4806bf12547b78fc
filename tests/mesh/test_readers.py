"""Serial tests of dromo.mesh.readers: Gmsh, VTU/XDMF (meshio) and Abaqus/CalculiX .inp."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from dromo.errors import InputError
from dromo.mesh.generate import box_mesh
from dromo.mesh.meshdata import CORNERS, EDGES, CellBlock, MeshData, cell_faces, corner_jacobians
from dromo.mesh.inp import read_inp, write_inp
from dromo.mesh.readers import read_mesh, to_meshio

gmsh = pytest.importorskip("gmsh")
meshio = pytest.importorskip("meshio")


# ------------------------------------------------------------------------------------- helpers

def normals(points, facets):
    p = points[facets]
    if facets.shape[1] == 3:
        return np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    return np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])


def tet_volumes(points, cells):
    p = points[cells[:, :4]]
    return np.linalg.det(np.stack([p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]], 1)) / 6


def hex_volume_kuhn(points, cells):
    """Volume of (straight-edged, planar-faced) hexes by the 6-tet split around diagonal 0-6."""
    split = [(0, 1, 2, 6), (0, 5, 1, 6), (0, 2, 3, 6), (0, 3, 7, 6), (0, 4, 5, 6), (0, 7, 4, 6)]
    return sum(tet_volumes(points, cells[:, list(t)]) for t in split)


def check_volumes(mesh, total):
    vol = 0.0
    for b in mesh.blocks:
        assert (corner_jacobians(mesh.points, b.cells, b.type) > 0).all(), b.type
        if b.type.startswith("tet"):
            v = tet_volumes(mesh.points, b.cells)
        elif b.type.startswith("wedge"):       # planar faces: undistorted wedges
            v = sum(np.abs(tet_volumes(mesh.points, b.cells[:, t]))
                    for t in ([0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]))
        else:
            v = hex_volume_kuhn(mesh.points, b.cells)
        assert (v > 0).all()
        vol += v.sum()
    assert vol == pytest.approx(total, rel=1e-10)


def gmsh_box(path, element):
    """Unit cube with physical groups: volume 'solid', surfaces 'left' (x=0) and unnamed (x=1)
    with tag 7, point 'corner' (origin)."""
    gmsh.initialize(["", "-v", "0"])
    try:
        gmsh.model.add("box")
        if element.startswith("tet"):
            gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
            gmsh.model.occ.synchronize()
            gmsh.option.setNumber("Mesh.MeshSizeMax", 0.45)
        else:
            p = gmsh.model.geo.addPoint(0, 0, 0)
            e = gmsh.model.geo.extrude([(0, p)], 1, 0, 0, [2], recombine=True)
            s = gmsh.model.geo.extrude([e[1]], 0, 1, 0, [2], recombine=element != "wedge6")
            gmsh.model.geo.extrude([s[1]], 0, 0, 1, [3], recombine=True)
            gmsh.model.geo.synchronize()
        eps = 1e-6
        vols = gmsh.model.getEntities(3)
        left = gmsh.model.getEntitiesInBoundingBox(-eps, -eps, -eps, eps, 1 + eps, 1 + eps, 2)
        right = gmsh.model.getEntitiesInBoundingBox(1 - eps, -eps, -eps, 1 + eps, 1 + eps, 1 + eps, 2)
        corner = gmsh.model.getEntitiesInBoundingBox(-eps, -eps, -eps, eps, eps, eps, 0)
        gmsh.model.addPhysicalGroup(3, [v[1] for v in vols], name="solid")
        gmsh.model.addPhysicalGroup(2, [s[1] for s in left], name="left")
        gmsh.model.addPhysicalGroup(2, [s[1] for s in right], tag=7)
        gmsh.model.addPhysicalGroup(0, [c[1] for c in corner], name="corner")
        if element in ("tet10", "hex20"):
            gmsh.option.setNumber("Mesh.ElementOrder", 2)
            gmsh.option.setNumber("Mesh.SecondOrderIncomplete", 1)
        gmsh.model.mesh.generate(3)
        etypes, etags, _ = gmsh.model.mesh.getElements(3)
        ncells = sum(len(t) for t in etags)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return ncells


def upper_sets(mesh):
    return MeshData(mesh.points, mesh.blocks, mesh.node_ids,
                    {k.upper(): v for k, v in mesh.node_sets.items()},
                    {k.upper(): v for k, v in mesh.element_sets.items()},
                    {k.upper(): v for k, v in mesh.facet_sets.items()}, source=mesh.source)


# ------------------------------------------------------------------------------------- gmsh

@pytest.mark.parametrize("element", ["tet4", "tet10", "hex8", "hex20", "wedge6"])
def test_gmsh(tmp_path, element):
    path = tmp_path / f"box_{element}.msh"
    ncells = gmsh_box(path, element)
    m = read_mesh(path)
    assert m.source == str(path)
    assert [b.type for b in m.blocks] == [element]
    assert m.n_cells == ncells
    if element == "hex8":
        assert m.n_cells == 12 and m.n_nodes == 3 * 3 * 4
    used = np.unique(np.concatenate([b.cells.ravel() for b in m.blocks]))
    assert np.array_equal(used, np.arange(m.n_nodes))  # no orphan nodes
    check_volumes(m, 1.0)
    if element in EDGES:  # mid-edge nodes in VTK/Abaqus order (flat faces: exact midpoints)
        c = m.blocks[0].cells
        e = EDGES[element]
        assert np.allclose(m.points[c[:, CORNERS[element]:]],
                           0.5 * (m.points[c[:, e[:, 0]]] + m.points[c[:, e[:, 1]]]), atol=1e-12)
    assert np.array_equal(m.element_sets["solid"], np.arange(m.n_cells))
    assert set(m.element_sets) == {"solid"}
    assert set(m.facet_sets) == {"left", "7"}
    assert {"solid", "left", "7", "corner"} <= set(m.node_sets)
    assert np.array_equal(m.node_sets["solid"], np.arange(m.n_nodes))
    assert np.allclose(m.points[m.node_sets["corner"]], 0.0)
    ftype = {"tet4": "tri3", "tet10": "tri6", "hex8": "quad4", "hex20": "quad8",
             "wedge6": "quad4"}[element]
    for name, x, sign in (("left", 0.0, -1), ("7", 1.0, 1)):
        d = m.facet_sets[name]
        assert list(d) == [ftype]
        f = d[ftype]
        assert np.allclose(m.points[f, 0], x)
        n = normals(m.points, f[:, :CORNERS[ftype]])
        assert (sign * n[:, 0] > 0).all()  # oriented outward
        area = np.linalg.norm(n, axis=1) / (2 if ftype.startswith("tri") else 2)
        assert area.sum() == pytest.approx(1.0)
        on = np.flatnonzero(np.isclose(m.points[:, 0], x))
        assert np.array_equal(m.node_sets[name], on)


def test_gmsh_via_meshio_vtu_tags(tmp_path):
    """A VTU converted by meshio from a .msh keeps gmsh:physical tags -> sets."""
    path = tmp_path / "b.msh"
    gmsh_box(path, "tet4")
    ref = read_mesh(path)
    m = meshio.read(path)
    m.point_data = {}
    meshio.write(tmp_path / "b.vtu", m)
    v = read_mesh(tmp_path / "b.vtu")
    assert v.n_cells == ref.n_cells and np.allclose(v.points, ref.points)
    # names come from field_data if the format keeps it, else the tag numbers
    vol_name = "solid" if "solid" in v.element_sets else "1"
    assert np.array_equal(v.element_sets[vol_name], np.arange(v.n_cells))
    assert len(v.facet_sets) == 2


# ------------------------------------------------------------------------------------- meshio round trips

@pytest.mark.parametrize("ext", ["vtu", "xdmf"])
@pytest.mark.parametrize("element", ["tet4", "tet10", "hex8", "hex20"])
def test_meshio_roundtrip(tmp_path, ext, element):
    m = box_mesh(2, 2, 1, (1, 2, 3), element=element, distort=0.2)
    m.element_sets["half"] = np.arange(m.n_cells // 2)
    m.node_sets["one"] = np.array([3])
    path = tmp_path / f"m.{ext}"
    meshio.write(path, to_meshio(m))
    r = read_mesh(path)
    assert r.equals(m, tol=1e-14), r.summary()


def test_meshio_roundtrip_gmsh_file(tmp_path):
    path = tmp_path / "b.msh"
    gmsh_box(path, "tet10")
    a = read_mesh(path)
    meshio.write(tmp_path / "b.xdmf", to_meshio(a))
    b = read_mesh(tmp_path / "b.xdmf")
    assert b.equals(a, tol=0)


# ------------------------------------------------------------------------------------- .inp

def wedge_mesh():
    h = box_mesh(2, 1, 2, element="hex8")
    c = h.blocks[0].cells
    w = np.concatenate([c[:, [0, 1, 2, 4, 5, 6]], c[:, [0, 2, 3, 4, 6, 7]]])
    return MeshData(h.points, [CellBlock("wedge6", w)], node_sets={"xmin": h.node_sets["xmin"]},
                    element_sets={"all": np.arange(len(w))})


@pytest.mark.parametrize("element", ["tet4", "tet10", "hex8", "hex20", "hex20r", "hex8r", "wedge6", "wedge15"])
def test_inp_roundtrip(tmp_path, element):
    if element == "wedge6":
        m = wedge_mesh()
    else:
        m = box_mesh(2, 3, 2, (1.0, 0.3, 2.0), element=element.rstrip("r"),
                     distort=0.0 if element == "wedge15" else 0.25, seed=5)
        if element.endswith("r"):
            m.blocks[0].rule = "reduced"
    # non-trivial external ids
    m.node_ids = m.node_ids * 3 + 100
    m.blocks[0].ids = m.blocks[0].ids * 2 + 7
    path = tmp_path / "m.inp"
    write_inp(m, path)
    r = read_mesh(path)
    assert r.equals(upper_sets(m), tol=0), r.summary()
    assert r.blocks[0].rule == ("reduced" if element.endswith("r") else "full")
    check_volumes(r, np.prod([1.0, 0.3, 2.0]) if element != "wedge6" else 1.0)


def test_inp_two_blocks_and_sets(tmp_path):
    a = box_mesh(1, 1, 1, element="tet4")
    b = box_mesh(1, 1, 1, element="hex8", origin=(1, 0, 0))
    pts = np.vstack([a.points, b.points])
    m = MeshData(pts, [CellBlock("tet4", a.blocks[0].cells), CellBlock("hex8", b.blocks[0].cells + 8,
                                                                       ids=[100])],
                 element_sets={"mixed": [0, 6]},
                 facet_sets={"tx": a.facet_sets["xmin"], "hx": {"quad4": b.facet_sets["xmax"]["quad4"] + 8}})
    path = tmp_path / "two.inp"
    write_inp(m, path)
    r = read_inp(path)
    assert r.equals(upper_sets(m))
    assert r.cell_types.tolist() == ["tet4"] * 6 + ["hex8"]
    assert r.cell_ids.tolist() == [1, 2, 3, 4, 5, 6, 100]


DECK = """** hand-written deck: include, generate, continuation, surfaces
*Heading
 dromo test deck
*include, input=sub/nodes.inp
*Element, type=C3D20R, elset=Bricks
1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
16, 17, 18, 19, 20
*ELEMENT, TYPE=C3D8I, ELSET=Lin
2, 21, 22, 23, 24, 25, 26, 27, 28
*nset, nset=Bottom
1, 2, 3, 4, 9, 10, 11, 12
*NSET, NSET=gen, GENERATE
1, 9, 2
*NSET, NSET=BOTH
bottom, GEN, 20
*elset, elset=ALLE
bricks, lin
*ELSET, ELSET=G, generate
1, 2
*NSET, NSET=FROMEL, ELSET=lin
*SURFACE, NAME=Top, TYPE=ELEMENT
bricks, S2
2, S1
*SURFACE, NAME=Pts, TYPE=NODE
gen
24, 1.0
*MATERIAL, NAME=STEEL
*ELASTIC
210000, 0.3
*STEP
*STATIC
*BOUNDARY
Bottom, 1, 3
*END STEP
"""

HEX20_UNIT = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1],
                       [0, 1, 1], [.5, 0, 0], [1, .5, 0], [.5, 1, 0], [0, .5, 0], [.5, 0, 1],
                       [1, .5, 1], [.5, 1, 1], [0, .5, 1], [0, 0, .5], [1, 0, .5], [1, 1, .5],
                       [0, 1, .5]], dtype=float)


def write_deck(tmp_path, deck=DECK, nodes=None):
    (tmp_path / "sub").mkdir(exist_ok=True)
    if nodes is None:
        lines = ["*NODE, NSET=NALL"]
        lines += [f"{i + 1}, {x:g}, {y:g}, {z:g}" for i, (x, y, z) in enumerate(HEX20_UNIT)]
        lines += ["** second brick, above the first"]
        lines += [f"{21 + i}, {x:g}, {y:g}, {z + 2:g}" for i, (x, y, z) in enumerate(HEX20_UNIT[:8])]
        nodes = "\n".join(lines) + "\n"
    (tmp_path / "sub" / "nodes.inp").write_text(nodes)
    p = tmp_path / "deck.inp"
    p.write_text(deck)
    return p


def test_inp_hand_written_deck(tmp_path):
    m = read_mesh(write_deck(tmp_path))
    assert [(b.type, b.rule) for b in m.blocks] == [("hex20", "reduced"), ("hex8", "full")]
    assert m.n_nodes == 28 and m.n_cells == 2
    assert m.blocks[0].cells.tolist() == [list(range(20))]
    assert m.blocks[1].cells.tolist() == [list(range(20, 28))]
    check_volumes(m, 2.0)
    ids = lambda s: m.node_ids[m.node_sets[s]].tolist()  # noqa: E731
    assert ids("BOTTOM") == [1, 2, 3, 4, 9, 10, 11, 12]
    assert ids("GEN") == [1, 3, 5, 7, 9]
    assert ids("BOTH") == [1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 20]
    assert ids("FROMEL") == list(range(21, 29))
    assert ids("PTS") == [1, 3, 5, 7, 9, 24]
    assert ids("NALL") == list(range(1, 29))
    assert {k: v.tolist() for k, v in m.element_sets.items()} == {
        "BRICKS": [0], "LIN": [1], "ALLE": [0, 1], "G": [0, 1]}
    assert set(m.element_sets) == {"BRICKS", "LIN", "ALLE", "G"}
    top = m.facet_sets["TOP"]
    assert sorted(top) == ["quad4", "quad8"]
    q8 = top["quad8"]
    assert q8.tolist() == [[4, 5, 6, 7, 12, 13, 14, 15]]            # S2 of the brick: z = 1, outward +z
    assert normals(m.points, q8[:, :4])[0, 2] > 0
    q4 = top["quad4"]
    assert sorted(q4[0].tolist()) == [20, 21, 22, 23]                # S1 of element 2: z = 2, outward -z
    assert normals(m.points, q4)[0, 2] < 0


def test_inp_bulk_and_varied_formats(tmp_path):
    """Varied whitespace, D exponents, lines with extra coordinates ignored, no-space element lines."""
    deck = ("*NODE\n1,0,0,0\n2 , 1.0D0, 0 , 0\n3,0,1,0\n4,0,0,1.0e0,\n"
            "*ELEMENT,TYPE=C3D4\n1,1,2,3,4\n")
    p = tmp_path / "t.inp"
    p.write_text(deck)
    m = read_mesh(p)
    assert np.allclose(m.points[1], [1, 0, 0])
    assert tet_volumes(m.points, m.blocks[0].cells)[0] == pytest.approx(1 / 6)


# ------------------------------------------------------------------------------------- errors

def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.msh: mesh file not found"):
        read_mesh(tmp_path / "nope.msh")
    with pytest.raises(InputError, match=r"nope\.inp: mesh file not found"):
        read_mesh(tmp_path / "nope.inp")


def test_truncated_msh(tmp_path):
    path = tmp_path / "b.msh"
    gmsh_box(path, "tet4")
    text = path.read_text()
    (tmp_path / "t.msh").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match=r"t\.msh"):
        read_mesh(tmp_path / "t.msh")
    (tmp_path / "e.vtu").write_text("")
    with pytest.raises(InputError, match=r"e\.vtu"):
        read_mesh(tmp_path / "e.vtu")


def deck_error(tmp_path, deck, match, nodes=None):
    p = write_deck(tmp_path, deck, nodes)
    with pytest.raises(InputError, match=match):
        read_mesh(p)


def test_inp_truncated_element_line(tmp_path):
    deck = DECK.replace("16, 17, 18, 19, 20\n", "16, 17, 18\n")
    deck_error(tmp_path, deck, r"deck\.inp:6: element 1 \(C3D20R\) has 18 nodes, C3D20R needs 20")
    deck = DECK.replace("2, 21, 22, 23, 24, 25, 26, 27, 28", "2, 21, 22, 23, 24, 25, 26")
    deck_error(tmp_path, deck, r"deck\.inp:9: element 2 \(C3D8I\) has 6 nodes")
    # file cut in the middle of a continued record
    deck_error(tmp_path, DECK.split("16, 17")[0], r"deck\.inp:6: element 1 .*truncated")


def test_inp_unknown_element_type(tmp_path):
    deck = DECK.replace("TYPE=C3D8I", "TYPE=S8R")
    deck_error(tmp_path, deck, r"deck\.inp:8: unknown element type S8R")


def test_inp_undefined_node(tmp_path):
    deck = DECK.replace("2, 21, 22, 23, 24, 25, 26, 27, 28", "2, 21, 22, 23, 24, 25, 26, 27, 99")
    deck_error(tmp_path, deck, r"deck\.inp:9: element 2 references undefined node 99")


def test_inp_missing_include(tmp_path):
    deck = DECK.replace("sub/nodes.inp", "sub/missing.inp")
    deck_error(tmp_path, deck, r"deck\.inp:4: \*INCLUDE file not found: sub/missing\.inp")


def test_inp_unknown_set(tmp_path):
    deck_error(tmp_path, DECK.replace("bottom, GEN, 20", "bottom, NOSUCH, 20"),
               r"deck\.inp:15: unknown node set 'NOSUCH' referenced in \*NSET BOTH")
    deck_error(tmp_path, DECK.replace("bricks, lin", "bricks, nosuch"),
               r"deck\.inp:17: unknown element set 'nosuch'")
    deck_error(tmp_path, DECK.replace("bricks, S2", "walls, S2"),
               r"deck\.inp:\d+: unknown element set 'walls' in \*SURFACE TOP")
    deck_error(tmp_path, DECK.replace("bricks, S2", "bricks, S7"),
               r"face S7 of element 1 \(hex20\) does not exist")
    deck_error(tmp_path, DECK.replace("ELSET=lin", "ELSET=nix"), r"unknown element set 'NIX'")


def test_inp_other_errors(tmp_path):
    deck_error(tmp_path, DECK.replace("*Element, type=C3D20R", "*Element"),
               r"deck\.inp:5: \*ELEMENT without TYPE=")
    # a token that is no integer in a set line is a set name (Abaqus semantics)
    deck_error(tmp_path, DECK.replace("1, 2, 3, 4, 9, 10", "1, 2, 3, 4, 9, 1x0"),
               r"deck\.inp:11: unknown node set '1x0' referenced in \*NSET BOTTOM")
    deck_error(tmp_path, DECK, r"sub/nodes\.inp:3: expected numbers",
               nodes="*NODE\n1, 0, 0, 0\n2, 1.0, abc, 0\n")
    deck_error(tmp_path, DECK.replace("2, 21, 22", "2, 21, x22"), r"deck\.inp:9: expected node ids")
    deck_error(tmp_path, DECK.replace("1, 9, 2", "9, 1"), r"deck\.inp:13: bad GENERATE range")
    deck_error(tmp_path, "*NODE\n1, 0, 0, 0\n", r"deck\.inp: no \*ELEMENT data")


# ------------------------------------------------------------------------------------- corrupt decks
# (issue 24: a misspelled keyword, an id that is no int64, a huge GENERATE range, deep *INCLUDE
# chains and non-finite coordinates are one InputError naming the file and the line)

def test_inp_keywords_dromo_does_not_use_are_kept(tmp_path):
    """Every CalculiX keyword is accepted (blanks and case as ccx reads them, and the ones ccx reads
    by their start, *FLUID SECTIONS): the mesh is the same and read_deck keeps the cards."""
    from dromo.mesh.inp import read_deck
    extra = ("*NODE FILE\nU\n*NODEFILE\nU\n*el print, elset=ALLE\nS\n*Contact Pair, interaction=I\n"
             "Top, Pts\n*FLUID SECTIONS, ELSET=ALLE\n*Surface Behavior, pressure-overclosure=linear\n"
             "1e6\n*TIME POINTS, NAME=T\n1.\n")
    ref = read_mesh(write_deck(tmp_path))
    p = tmp_path / "more.inp"
    p.write_text(DECK.replace("*END STEP", extra + "*END STEP"))
    deck = read_deck(p)
    assert deck.mesh.equals(ref)
    assert [c.keyword for c in deck.cards][-9:] == [
        "BOUNDARY", "NODE FILE", "NODEFILE", "EL PRINT", "CONTACT PAIR", "FLUID SECTIONS",
        "SURFACE BEHAVIOR", "TIME POINTS", "END STEP"]


@pytest.mark.parametrize("old,new,match", [
    # keywords: a misspelled one skipped its block without a word (the cells of *ELEMNT vanished)
    ("*ELEMENT, TYPE=C3D8I", "*ELEMNT, TYPE=C3D8I",
     r"deck\.inp:8: unknown keyword \*ELEMNT \(did you mean \*ELEMENT\?\)"),
    ("*nset, nset=Bottom", "*nse?, nset=Bottom",
     r"deck\.inp:10: unknown keyword \*NSE\? \(did you mean \*NSET\?\)"),
    ("*STEP\n", "*STPE\n", r"deck\.inp:30: unknown keyword \*STPE \(did you mean \*STEP\?\)"),
    # ccx would read *NODES as *NODE, dromo would skip it: refused, not guessed
    ("*NODE, NSET=NALL", "*NODES", r"nodes\.inp:1: unknown keyword \*NODES \(did you mean \*NODE\?\)"),
    ("*STEP\n", "*Surface Behaviour\n*STEP\n",
     r"deck\.inp:30: unknown keyword \*SURFACE BEHAVIOUR \(did you mean \*SURFACE BEHAVIOR\?\)"),
    ("*STEP\n", "*PART, NAME=P\n*STEP\n",
     r"deck\.inp:30: unknown keyword \*PART \(not a CalculiX 2\.20 keyword\)"),
    # ids beyond int64 were an OverflowError without the line, 'inf' or '1.5' in a set an
    # 'unknown set'; node ids: beyond int64, not finite, not an integer, not decimal
    ("20, 0, 1, 0.5", "9223372036854775808, 0, 1, 0.5",
     r"nodes\.inp:21: bad node id '9223372036854775808'"),
    ("20, 0, 1, 0.5", "inf, 0, 1, 0.5", r"nodes\.inp:21: bad node id 'inf'"),
    ("20, 0, 1, 0.5", "1.5, 0, 1, 0.5", r"nodes\.inp:21: bad node id '1\.5'"),
    ("20, 0, 1, 0.5", "0x1, 0, 1, 0.5", r"nodes\.inp:21: expected numbers"),
    # element id and connectivity
    ("2, 21, 22", "9223372036854775808, 21, 22",
     r"deck\.inp:9: element id 9223372036854775808 is out of range"),
    ("2, 21, 22", "2, 9223372036854775808, 22", r"deck\.inp:9: node id 9223372036854775808 is out of range"),
    ("2, 21, 22", "2, 2_1, 22", r"deck\.inp:9: expected node ids"),
    ("16, 17, 18", "16, 17, 1e400", r"deck\.inp:7: expected node ids"),
    # set entries, GENERATE bounds, surface entries
    ("1, 2, 3, 4, 9, 10", "1, 2, 3, 4, 9, 9223372036854775808",
     r"deck\.inp:11: node id 9223372036854775808 is out of range"),
    ("1, 2, 3, 4, 9, 10", "1, 2, 3, 4, 9, 1.5",
     r"deck\.inp:11: '1\.5' in \*NSET BOTTOM is not an integer id"),
    ("bricks, lin", "bricks, inf", r"deck\.inp:17: 'inf' in \*ELSET ALLE is not an integer id"),
    ("1, 9, 2", "1, 9223372036854775808",
     r"deck\.inp:13: GENERATE bound 9223372036854775808 is out of range"),
    ("1, 9, 2", "1, 9, 0x1", r"deck\.inp:13: GENERATE needs integers start, end\[, step\]"),
    ("2, S1", "9223372036854775808, S1",
     r"deck\.inp:23: element id 9223372036854775808 is out of range"),
    ("24, 1.0", "9223372036854775808, 1.0", r"deck\.inp:26: node id 9223372036854775808 is out of range"),
])
def test_inp_corrupt_deck_names_the_line(tmp_path, old, new, match):
    """One InputError naming the file and line (``old`` replaced in the deck and its nodes file)."""
    nodes = write_deck(tmp_path).parent.joinpath("sub", "nodes.inp").read_text()
    assert old in DECK + nodes
    deck_error(tmp_path, DECK.replace(old, new), match, nodes.replace(old, new))


def test_inp_largest_ids(tmp_path):
    """Ids up to 2**63 - 1 are read exactly (not through a float)."""
    big = 2 ** 63 - 1
    p = tmp_path / "big.inp"
    p.write_text(f"*NODE\n1,0,0,0\n2,1,0,0\n3,0,1,0\n{big},0,0,1\n9007199254740993,5,5,5\n"
                 f"*ELEMENT,TYPE=C3D4\n{big},1,2,3,{big}\n*NSET,NSET=TOP\n{big}\n"
                 f"*ELSET,ELSET=E,GENERATE\n{big},{big}\n")
    m = read_inp(p, prune=False)
    assert sorted(m.node_ids.tolist()) == [1, 2, 3, 9007199254740993, big]
    assert m.node_ids[m.node_sets["TOP"]].tolist() == [big]
    assert m.blocks[0].ids.tolist() == [big] and m.element_sets["E"].tolist() == [0]
    deck_error(tmp_path, DECK.replace("1, 9, 2", f"{big - 6}, {big}, 3"),
               rf"deck\.inp:13: \*NSET GEN: GENERATE {big - 6}, {big}, 3 names undefined node {big - 6}")


@pytest.mark.parametrize("rng", ["1, 1000000000000", "1, 100000000", "1, 1000000000000, 7"])
def test_inp_generate_checked_before_expansion(tmp_path, rng, dromo_warnings):
    """A GENERATE range is expanded against the ids that exist, never allocated whole (1, 10**12 was a
    MemoryError, 1, 10**8 took seconds): the set takes the ids that exist, with a warning, as ccx
    does; a range naming no defined id is an error."""
    import time
    t = time.perf_counter()
    step = int(rng.split(",")[2]) if rng.count(",") == 2 else 1
    m = read_inp(write_deck(tmp_path, DECK.replace("1, 9, 2", rng)), prune=False)
    assert m.node_ids[m.node_sets["GEN"]].tolist() == list(range(1, 29, step))
    err = "\n".join(dromo_warnings).replace(f"{rng}, 1", rng)
    assert f"deck.inp:13: *NSET GEN: GENERATE {rng}" in err and "the set takes" in err
    m = read_inp(write_deck(tmp_path, DECK.replace("ELSET=G, generate\n1, 2", f"ELSET=G, generate\n{rng}")))
    assert m.cell_ids[m.element_sets["G"]].tolist() == [1, 2][::step]
    assert time.perf_counter() - t < 2.0
    deck_error(tmp_path, DECK.replace("1, 9, 2", "100, 1000000000000"),
               r"deck\.inp:13: \*NSET GEN: GENERATE 100, 1000000000000, 1 names undefined node 100 "
               r"\(\d+ ids in the range, 0 of them defined\)")
    deck_error(tmp_path, DECK.replace("1, 9, 2", "1, 1e8"),
               r"deck\.inp:13: GENERATE needs integers start, end\[, step\]: '1, 1e8'")


def test_inp_generate_before_its_nodes(tmp_path):
    """A GENERATE set may come before the *NODE that defines its ids (ccx reads *NODE first)."""
    nodes = write_deck(tmp_path).parent.joinpath("sub", "nodes.inp").read_text()
    deck = DECK.replace("*include, input=sub/nodes.inp\n", "*NSET, NSET=EARLY, GENERATE\n2, 8, 3\n"
                        "*NSET, NSET=COPY\nEARLY, 1\n*include, input=sub/nodes.inp\n")
    m = read_mesh(write_deck(tmp_path, deck, nodes))
    ids = lambda s: m.node_ids[m.node_sets[s]].tolist()  # noqa: E731
    assert ids("EARLY") == [2, 5, 8] and ids("COPY") == [1, 2, 5, 8]
    assert ids("GEN") == [1, 3, 5, 7, 9]


def test_inp_include_depth(tmp_path):
    """Nested *INCLUDE: 100 files deep are read, deeper is an error naming the chain (1000 was a
    RecursionError); a loop names its chain."""
    from dromo.mesh.inp import MAX_INCLUDE_DEPTH
    nodes = "*NODE\n1,0,0,0\n2,1,0,0\n3,0,1,0\n4,0,0,1\n*ELEMENT,TYPE=C3D4\n1,1,2,3,4\n"
    for depth, ok in ((MAX_INCLUDE_DEPTH, True), (MAX_INCLUDE_DEPTH + 1, False)):
        d = tmp_path / str(depth)
        d.mkdir()
        for k in range(depth - 1):
            (d / f"i{k}.inp").write_text(f"** level {k}\n*INCLUDE, INPUT=i{k + 1}.inp\n")
        (d / f"i{depth - 1}.inp").write_text(nodes)
        if ok:
            assert read_inp(d / "i0.inp").n_cells == 1
        else:
            with pytest.raises(InputError, match=rf"i{depth - 2}\.inp:2: \*INCLUDE nested more than "
                               rf"{MAX_INCLUDE_DEPTH} files deep: .*i0\.inp -> i1\.inp -> \.\.\. "
                               rf"\(\d+ more\) \.\.\. -> .* -> i{depth - 1}\.inp$"):
                read_inp(d / "i0.inp")
    (tmp_path / "a.inp").write_text("*INCLUDE, INPUT=b.inp\n")
    (tmp_path / "b.inp").write_text(nodes + "*INCLUDE, INPUT=a.inp\n")
    with pytest.raises(InputError, match=r"b\.inp:8: \*INCLUDE loop through .*a\.inp"):
        read_inp(tmp_path / "a.inp")


@pytest.mark.parametrize("value", ["nan", "-inf", "Infinity", "1e400", "-1.0D+999"])
def test_inp_nonfinite_coordinates(tmp_path, value):
    nodes = write_deck(tmp_path).parent.joinpath("sub", "nodes.inp").read_text()
    deck_error(tmp_path, DECK,
               r"nodes\.inp:4: non-finite coordinate of node 3 in " + re.escape(f"'3, {value}, 1, 0'"),
               nodes.replace("3, 1, 1, 0", f"3, {value}, 1, 0"))


CCX_TESTS = "/usr/share/doc/calculix-ccx-test/examples/test"


@pytest.mark.skipif(not os.path.isdir(CCX_TESTS), reason="CalculiX's test decks are not installed")
def test_calculix_test_decks_keywords_accepted(tmp_path):
    """Every keyword line of CalculiX's own test suite is a keyword dromo accepts."""
    import glob
    import gzip
    from dromo.mesh.inp import check_keyword, parse_options
    n = 0
    for path in glob.glob(os.path.join(CCX_TESTS, "*.inp*")):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", errors="replace") as fh:
            for no, line in enumerate(fh, 1):
                s = line.strip()
                if s.startswith("*") and not s.startswith("**"):
                    check_keyword(parse_options(s)[0], f"{path}:{no}")
                    n += 1
    assert n > 5000


# ------------------------------------------------------------------------------------- CalculiX

CCX_DECK = """*INCLUDE, INPUT=mesh.inp
*MATERIAL, NAME=STEEL
*ELASTIC
200000., 0.3
*SOLID SECTION, ELSET=ALL, MATERIAL=STEEL
*STEP
*STATIC
*BOUNDARY
XMIN, 1, 1
YMIN, 2, 2
ZMIN, 3, 3
*DSLOAD
XMAX, P, -100.
*NODE PRINT, NSET=XMAX
U
*NODE FILE
U
*END STEP
"""


@pytest.mark.calculix
@pytest.mark.parametrize("element", ["hex8", "tet10", "hex20r"])
def test_calculix_accepts_written_deck(tmp_path, element):
    """ccx solves a uniaxial tension problem on a deck built by write_inp: the *SURFACE (pressure
    on the xmax face) and the node sets are accepted and the displacement is sigma L / E."""
    ccx = shutil.which("ccx")
    if ccx is None:
        pytest.skip("ccx (CalculiX) not installed")
    L = 2.0
    m = box_mesh(2, 1, 1, (L, 1.0, 1.0), element=element[:5].rstrip("r"), distort=0.2, seed=2)
    if element.endswith("r"):
        m.blocks[0].rule = "reduced"
    write_inp(m, tmp_path / "mesh.inp")
    (tmp_path / "job.inp").write_text(CCX_DECK)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([ccx, "-i", "job"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "ERROR" not in out.upper(), out
    assert (tmp_path / "job.frd").exists()
    # parse the *NODE PRINT displacements from job.dat
    rows = []
    for line in (tmp_path / "job.dat").read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            try:
                rows.append([float(x) for x in parts])
            except ValueError:
                pass
    rows = np.array(rows)
    assert len(rows) == len(m.node_sets["xmax"])
    assert np.array_equal(np.sort(rows[:, 0].astype(int)), m.node_ids[m.node_sets["xmax"]])
    assert np.allclose(rows[:, 1], 100.0 * L / 200000.0, rtol=1e-6)


def side_facets(mesh, L):
    """Facet sets xmin..zmax of a box mesh found geometrically from all cell faces."""
    out = {}
    for ft, (nodes, _cell, _face) in cell_faces(mesh).items():
        for ax, a in enumerate("xyz"):
            for side, x in (("min", 0.0), ("max", L[ax])):
                on = np.isclose(mesh.points[nodes, ax], x).all(axis=1)
                if on.any():
                    out.setdefault(f"{a}{side}", {})[ft] = nodes[on]
    return out


HYDRO_DECK = """*INCLUDE, INPUT=mesh.inp
*MATERIAL, NAME=STEEL
*ELASTIC
200000., 0.3
*SOLID SECTION, ELSET=ALL, MATERIAL=STEEL
*STEP
*STATIC
*BOUNDARY
{fixed}X, 1, 1
{fixed}Y, 2, 2
{fixed}Z, 3, 3
*DSLOAD
{loaded}X, P, 100.
{loaded}Y, P, 100.
{loaded}Z, P, 100.
*NODE PRINT, NSET=ALLN
U
*END STEP
"""


@pytest.mark.calculix
@pytest.mark.parametrize("element", ["hex8", "hex20", "tet4", "wedge6", "wedge15"])
@pytest.mark.parametrize("loaded", ["MIN", "MAX"])
def test_calculix_face_numbering(tmp_path, element, loaded):
    """Pressure on three faces of a box (the other three on symmetry planes) gives the uniform
    hydrostatic strain -p(1-2nu)/E: checks every written face label S1..S6 is the face ccx loads."""
    ccx = shutil.which("ccx")
    if ccx is None:
        pytest.skip("ccx (CalculiX) not installed")
    L = np.array([1.0, 1.0, 1.0]) if element == "wedge6" else np.array([2.0, 1.0, 1.5])
    m = wedge_mesh() if element == "wedge6" else box_mesh(2, 2, 2, L, element=element)
    fs = side_facets(m, L)
    fixed = "MAX" if loaded == "MIN" else "MIN"
    m = MeshData(m.points, m.blocks, m.node_ids,
                 node_sets={f"{fixed}{a.upper()}": np.flatnonzero(np.isclose(
                     m.points[:, i], 0.0 if fixed == "MIN" else L[i])) for i, a in enumerate("xyz")}
                 | {"ALLN": np.arange(m.n_nodes)},
                 element_sets={"ALL": np.arange(m.n_cells)},
                 facet_sets={f"{loaded}{a.upper()}": fs[f"{a}{loaded.lower()}"] for a in "xyz"})
    write_inp(m, tmp_path / "mesh.inp")
    (tmp_path / "job.inp").write_text(HYDRO_DECK.format(fixed=fixed, loaded=loaded))
    res = subprocess.run([ccx, "-i", "job"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.returncode == 0 and "ERROR" not in (res.stdout + res.stderr).upper(), res.stdout
    rows = []
    for line in (tmp_path / "job.dat").read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            try:
                rows.append([float(x) for x in parts])
            except ValueError:
                pass
    rows = np.array(rows)
    assert len(rows) == m.n_nodes
    idx = np.searchsorted(m.node_ids, rows[:, 0].astype(int))
    eps = -100.0 * (1 - 2 * 0.3) / 200000.0
    origin = 0.0 if fixed == "MIN" else L
    expect = eps * (m.points[idx] - origin)
    assert np.allclose(rows[:, 1:], expect, atol=1e-9 * np.abs(eps) * 10 + 1e-12, rtol=1e-6)
