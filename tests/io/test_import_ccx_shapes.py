"""Import of CalculiX results shaped like those of ccx's own test suite (issue 20), from small decks
written here and solved by ccx:

* a ``.frd`` with a ``CONTACT`` block on the contact nodes only (``cubespring``): DISP and STRESS are
  complete and imported, the CONTACT block is skipped with a warning (before: the whole import refused,
  "16 node records for 36 nodes");
* ``*MODEL CHANGE`` removing elements in the first step (``modelchel``): ccx leaves their nodes out of
  the ``.frd``; the refusal names the card (before: "results of another mesh?").
"""
import os

import numpy as np
import pytest

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.calculix import CalculixReader
from dromo.io.archive import Archive
from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import write_inp
from dromo.mesh.meshdata import CellBlock, MeshData
from dromo.parallel import collective

from .ccx_cases import needs_ccx, read_frd_simple, run_ccx

pytestmark = [pytest.mark.calculix, needs_ccx]

CONTACT_DECK = """*INCLUDE, INPUT=mesh.inp
*MATERIAL, NAME=EL
*ELASTIC
210000., 0.3
*SOLID SECTION, ELSET=ALL, MATERIAL=EL
*CONTACT PAIR, INTERACTION=SI1, TYPE=NODE TO SURFACE
SLAVE, MASTER
*SURFACE INTERACTION, NAME=SI1
*SURFACE BEHAVIOR, PRESSURE-OVERCLOSURE=LINEAR
1.e6, 3.
*STEP
*STATIC
*BOUNDARY
FIX, 1, 3, 0.
TOP, 1, 2, 0.
TOP, 3, 3, -0.001
*NODE FILE
U
*EL FILE
S
*CONTACT FILE
CDIS, CSTR
*END STEP
"""

MODEL_CHANGE_DECK = """*INCLUDE, INPUT=mesh.inp
*MATERIAL, NAME=EL
*ELASTIC
210000., 0.3
*DENSITY
7.8e-9
*SOLID SECTION, ELSET=ALL, MATERIAL=EL
*STEP
*STATIC
*BOUNDARY
XMIN, 1, 3, 0.
*DLOAD
ALL, GRAV, 9810., 0., 0., -1.
*MODEL CHANGE, TYPE=ELEMENT, REMOVE
4
*NODE FILE
U
*END STEP
"""


def _solve(shared_tmp, comm, name, mesh, deck):
    """mesh.inp + NAME.inp in shared_tmp/NAME, solved by ccx on rank 0: (deck, frd) on every rank."""
    out = None
    with collective(comm):
        if comm.rank == 0:
            folder = shared_tmp / name
            folder.mkdir()
            write_inp(mesh, folder / "mesh.inp")
            (folder / f"{name}.inp").write_text(deck)
            out = (str(folder / f"{name}.inp"), run_ccx(str(folder / f"{name}.inp"))[0])
    return comm.bcast(out, root=0)


def two_blocks():
    """Two 2×2×1 hex8 boxes, the upper one shifted by (0.1, 0.1, 1): its bottom face (SLAVE) touches the
    top face of the lower one (MASTER) at a few nodes only."""
    a = box_mesh(2, 2, 1, element="hex8")
    b = box_mesh(2, 2, 1, element="hex8", origin=(0.1, 0.1, 1.0))
    n = a.n_nodes
    return MeshData(np.vstack([a.points, b.points]),
                    [CellBlock("hex8", np.vstack([a.blocks[0].cells, b.blocks[0].cells + n]))],
                    node_sets={"FIX": a.node_sets["zmin"], "TOP": b.node_sets["zmax"] + n},
                    element_sets={"ALL": np.arange(2 * a.n_cells)},
                    facet_sets={"MASTER": a.facet_sets["zmax"],
                                "SLAVE": {k: v + n for k, v in b.facet_sets["zmin"].items()}})


@pytest.mark.mpi
def test_contact_block_on_a_subset_of_nodes_is_skipped(shared_tmp, comm, dromo_warnings):
    deck, frd = _solve(shared_tmp, comm, "contact", two_blocks(), CONTACT_DECK)
    ref = read_frd_simple(frd) if comm.rank == 0 else None
    out = str(shared_tmp / "contact.h5")
    written = import_results(CalculixReader(deck, frd) if comm.rank == 0 else None, out, comm)
    assert written == {"U": 1, "S_nodal": 1}
    with Archive.open(out, comm) as ar:
        mesh = ar.read_mesh()
        u = ar.h5["fields/U/values"][-1]
    if comm.rank == 0:
        (_t, ids, v), = ref["DISP"]
        assert 0 < len(ref["CONTACT"][0][1]) < mesh.n_nodes          # a real contact block
        assert np.array_equal(u[np.searchsorted(mesh.node_ids, ids)], v)
        assert any("block CONTACT holds" in w and "not imported" in w for w in dromo_warnings), dromo_warnings
    with pytest.raises(InputError, match=r"contact\.frd:\d+: block CONTACT holds \d+ node records for the "
                                         r"36 nodes of the mesh .*dromo imports node fields defined on every"):
        import_results(CalculixReader(deck, frd, fields=["U", "CONTACT"]) if comm.rank == 0 else None,
                       str(shared_tmp / "bad.h5"), comm)


@pytest.mark.mpi
def test_model_change_refusal_names_the_card(shared_tmp, comm):
    mesh = box_mesh(4, 1, 1, lengths=(4.0, 1.0, 1.0), element="hex20")
    deck, frd = _solve(shared_tmp, comm, "modelchange", mesh, MODEL_CHANGE_DECK)
    with pytest.raises(InputError) as ei:
        import_results(CalculixReader(deck, frd) if comm.rank == 0 else None,
                       str(shared_tmp / "mc.h5"), comm)
    msg = str(ei.value)
    assert "modelchange.frd" in msg and "missing" in msg, msg
    assert "modelchange.inp:14: *MODEL CHANGE: ccx leaves the nodes of removed elements out" in msg, msg
    assert "another mesh" not in msg
    comm.Barrier()
    assert not os.path.exists(shared_tmp / "mc.h5")
