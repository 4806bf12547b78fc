"""Set names are case-insensitive, as in CalculiX and Abaqus (``NSET=Fix`` is ``FIX``): the mesh layer
matches them so, keeps their spelling, and refuses two names that differ only by case."""
import os
import pickle

import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.mesh.distributed import DistributedMesh
from dromo.mesh.generate import box_mesh
from dromo.mesh.meshdata import MeshData

COMM = MPI.COMM_WORLD


def _upper_mesh():
    """A box whose sets are spelled as a CalculiX deck stores them (upper case)."""
    m = box_mesh(2, 1, 1, element="hex8")
    return MeshData(m.points, m.blocks, m.node_ids,
                    node_sets={k.upper(): v for k, v in m.node_sets.items()},
                    element_sets={k.upper(): v for k, v in m.element_sets.items()},
                    facet_sets={k.upper(): v for k, v in m.facet_sets.items()}, source="job.inp")


def test_lookups_ignore_case_and_keep_the_spelling():
    m = _upper_mesh()
    assert "xmin" in m.node_sets and "Xmin" in m.node_sets and "XMIN" in m.node_sets
    assert np.array_equal(m.node_sets["xMin"], m.node_sets["XMIN"])
    assert m.node_sets.get("nope") is None and "nope" not in m.node_sets
    assert m.node_sets.get("xmax") is m.node_sets["XMAX"]
    with pytest.raises(KeyError):
        m.node_sets["nope"]
    assert "XMIN" in list(m.node_sets) and "xmin" not in list(m.node_sets)
    back = pickle.loads(pickle.dumps(m))                   # what a broadcast does
    assert "all" in back.element_sets and np.array_equal(back.element_sets["all"], m.element_sets["ALL"])


def test_two_names_differing_only_by_case_are_an_error():
    m = box_mesh(1, 1, 1)
    with pytest.raises(InputError, match=r"job\.inp: node set names 'Fix' and 'FIX' differ only by case"):
        MeshData(m.points, m.blocks, node_sets={"Fix": [0], "FIX": [1]}, source="job.inp")
    with pytest.raises(InputError, match="element set names"):
        MeshData(m.points, m.blocks, element_sets={"a": [0], "A": [0]})


@pytest.mark.mpi
def test_distributed_set_lookups_ignore_case():
    m = _upper_mesh()
    dm = DistributedMesh(m, COMM)
    assert np.array_equal(dm.node_set("xmin"), dm.node_set("XMIN"))
    assert COMM.allreduce(len(dm.node_set("Xmax"))) == len(m.node_sets["XMAX"])
    masks = dm.element_set_mask("all")
    assert COMM.allreduce(sum(int(k.sum()) for k in masks)) == m.n_cells
    fs = dm.facet_set("zmax")
    assert COMM.allreduce(sum(len(c) for c, _ in fs.values())) == sum(len(v) for v in m.facet_sets["ZMAX"].values())
    with pytest.raises(InputError, match="no node set 'nope'"):
        dm.node_set("nope")


@pytest.mark.mpi
def test_case_file_names_match_a_deck_whatever_the_case(tmp_path_factory):
    """A case file saying "xmin"/"all"/"zmax" on a CalculiX deck (sets stored upper case) solves."""
    from dromo.hf.case_file import load_case
    from dromo.hf.solver import run
    from dromo.mesh.inp import write_inp
    d = str(tmp_path_factory.mktemp("sets")) if COMM.rank == 0 else None
    d = COMM.bcast(d)
    if COMM.rank == 0:
        write_inp(box_mesh(3, 2, 2, element="hex8"), os.path.join(d, "bar.inp"))      # sets: XMIN, ...
        with open(os.path.join(d, "case.toml"), "w") as f:
            f.write('[mesh]\nfile = "bar.inp"\n[materials.steel]\ntype = "elastic"\nE = 200e3\nnu = 0.3\n'
                    '[sections]\nall = "steel"\n[[displacement]]\nset = "xmin"\nx = 0.0\ny = 0.0\nz = 0.0\n'
                    '[[displacement]]\nset = "Xmax"\nx = 0.001\n[[pressure]]\nset = "zMax"\nvalue = 1.0\n'
                    '[time]\nend = 1.0\ndt = 1.0\n')
    COMM.Barrier()
    problem, _ = load_case(os.path.join(d, "case.toml"), COMM)
    out = os.path.join(d, "r.h5")
    run(problem, out)
    import h5py
    if COMM.rank == 0:
        with h5py.File(out, "r") as f:
            U = f["fields/U/values"][-1]
        assert np.isclose(U[:, 0].max(), 0.001)
