"""Deck shapes found in CalculiX's own test suite (issue 20), written small by hand: each was refused
by dromo's reader although ccx runs it.

* ``*NSET, GENERATE`` over a gap in the node numbering (``achtel2``): ccx takes the ids that exist;
* ``*NODE`` lines with two coordinates (``beam10p``): an omitted coordinate is 0;
* element lines listing more nodes than the type has (``beampsensfreq``, ``dloadlinI``): ccx takes the
  first n;
* the 15-node wedge C3D15 (``c3d15``).
"""
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.mesh.inp import read_deck, read_inp, write_inp
from dromo.mesh.generate import box_mesh
from dromo.mesh.readers import from_meshio, to_meshio

HEX = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]


def write(tmp_path, text, name="deck.inp"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_generate_over_a_gap_takes_the_ids_that_exist(tmp_path, dromo_warnings):
    """Nodes 1-8 and 21-28 (a gap 9-20): ``GENERATE 1, 30`` is the 16 nodes, one warning naming the
    line and the first missing id; before the fix: 'names undefined node 9'."""
    nodes = [f"{i + 1}, {x}, {y}, {z}" for i, (x, y, z) in enumerate(HEX)]
    nodes += [f"{i + 21}, {x}, {y}, {z + 1}" for i, (x, y, z) in enumerate(HEX)]
    deck = ("*NODE\n" + "\n".join(nodes) + "\n*ELEMENT, TYPE=C3D8, ELSET=E\n1, 1, 2, 3, 4, 5, 6, 7, 8\n"
            "2, 21, 22, 23, 24, 25, 26, 27, 28\n*NSET, NSET=SET1, GENERATE\n1, 30, 1\n"
            "*NSET, NSET=ODD, GENERATE\n1, 30, 2\n*ELSET, ELSET=EG, GENERATE\n1, 5\n")
    m = read_inp(write(tmp_path, deck))
    assert m.node_ids[m.node_sets["SET1"]].tolist() == list(range(1, 9)) + list(range(21, 29))
    assert m.node_ids[m.node_sets["ODD"]].tolist() == [1, 3, 5, 7, 21, 23, 25, 27]
    assert m.cell_ids[m.element_sets["EG"]].tolist() == [1, 2]
    assert len(dromo_warnings) == 3
    text = "\n".join(dromo_warnings)
    assert "deck.inp:22: *NSET SET1: GENERATE 1, 30, 1 names undefined node 9 (30 ids in the range, " \
           "16 of them defined): the set takes the 16 defined nodes" in text
    assert "deck.inp:24: *NSET ODD: GENERATE 1, 30, 2 names undefined node 9" in text
    assert "deck.inp:26: *ELSET EG: GENERATE 1, 5, 1 names undefined element 3" in text
    with pytest.raises(InputError, match=r"deck\.inp:22: \*NSET SET1: GENERATE 9, 20, 1 names undefined "
                                         r"node 9 \(12 ids in the range, 0 of them defined\)"):
        read_inp(write(tmp_path, deck.replace("1, 30, 1", "9, 20, 1")))


def test_node_lines_with_omitted_coordinates(tmp_path):
    """``1, 1., 0.`` is node 1 at (1, 0, 0) (Abaqus and ccx); empty fields are 0 too; before the fix:
    'too few coordinates'."""
    deck = ("*NODE, NSET=NALL\n1, 0., 0.\n2, 1., 0.\n3, 0., 1.,\n4, , , 2.\n5 1.5 0.5\n"
            "*ELEMENT, TYPE=C3D4, ELSET=E\n1, 1, 2, 3, 4\n2, 2, 3, 4, 5\n")
    m = read_inp(write(tmp_path, deck), prune=False)
    assert m.points.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 2], [1.5, 0.5, 0]]
    with pytest.raises(InputError, match=r"deck\.inp:3: expected numbers, got '2, 1\., x'"):
        read_inp(write(tmp_path, deck.replace("2, 1., 0.", "2, 1., x")))


def test_element_lines_with_more_nodes_than_the_type(tmp_path, dromo_warnings):
    """A C3D8 line listing 10 nodes (and a trailing comma) keeps its first 8, as ccx does, with one
    warning giving the count; before the fix: 'element 1 (C3D8) has 10 nodes'."""
    nodes = [f"{i + 1}, {x}, {y}, {z}" for i, (x, y, z) in enumerate(HEX)]
    nodes += [f"{i + 9}, {x}, {y}, {z + 1}" for i, (x, y, z) in enumerate(HEX[4:])]
    deck = ("*NODE\n" + "\n".join(nodes) + "\n*ELEMENT, TYPE=C3D8, ELSET=E\n"
            "1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,\n2, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2,\n")
    m = read_inp(write(tmp_path, deck))
    assert m.node_ids[m.blocks[0].cells].tolist() == [list(range(1, 9)), list(range(5, 13))]
    assert len(dromo_warnings) == 1
    assert "deck.inp:14: *ELEMENT, TYPE=C3D8: 2 element(s) list more than the 8 nodes of C3D8 (the " \
           "first at line 15): the first 8 nodes taken" in dromo_warnings[0]
    # a record continued on the next line (hex20: 15 + 5 entries) is still one element
    with pytest.raises(InputError, match=r"deck\.inp:15: element 1 \(C3D8\) has 7 nodes"):
        read_inp(write(tmp_path, deck.replace("1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "1, 1, 2, 3, 4, 5, 6, 7")))


C3D15 = """*NODE, NSET=NALL
1, 0, 0, 0
2, 2, 0, 0
3, 0, 2, 0
4, 0, 0, 3
5, 2, 0, 3
6, 0, 2, 3
7, 1, 0, 0
8, 1, 1, 0
9, 0, 1, 0
10, 1, 0, 3
11, 1, 1, 3
12, 0, 1, 3
13, 0, 0, 1.5
14, 2, 0, 1.5
15, 0, 2, 1.5
*ELEMENT, TYPE=C3D15, ELSET=EALL
1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
*SURFACE, NAME=SIDE, TYPE=ELEMENT
1, S3
*SURFACE, NAME=TOP, TYPE=ELEMENT
EALL, S2
"""


def test_c3d15_wedge_is_read(tmp_path):
    """C3D15 (before: 'unknown element type C3D15'): a wedge15 block, faces S2 (tri6) and S3 (quad8),
    the volume of the prism (2 × 3), and a write/read and meshio round trip."""
    from dromo.fem.kinematics import element_geometry
    deck = read_deck(write(tmp_path, C3D15))
    m = deck.mesh
    assert [(b.type, b.rule) for b in m.blocks] == [("wedge15", "full")]
    assert m.facet_sets["SIDE"]["quad8"].tolist() == [[0, 1, 4, 3, 6, 13, 9, 12]]
    assert m.facet_sets["TOP"]["tri6"].tolist() == [[3, 4, 5, 9, 10, 11]]
    assert element_geometry("wedge15", m.points[m.blocks[0].cells]).dV.sum() == pytest.approx(6.0, rel=1e-14)
    write_inp(m, tmp_path / "w.inp")
    assert read_inp(tmp_path / "w.inp").equals(m, tol=0)
    assert "C3D15" in (tmp_path / "w.inp").read_text()
    box = box_mesh(2, 1, 1, element="wedge15")
    mm = to_meshio(box)
    assert [c.type for c in mm.cells][0] == "wedge15"
    back = from_meshio(mm)
    assert back.blocks[0].type == "wedge15" and np.array_equal(back.blocks[0].cells, box.blocks[0].cells)
