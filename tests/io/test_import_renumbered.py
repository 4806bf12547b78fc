"""Series of the same mesh in another numbering, field renaming and sets by expression (issue 25), at 1, 2
and 3 ranks: an XDMF time series and a PVD of .pvtu pieces (with ghosts) whose nodes and cells are
shuffled import onto the original mesh by coordinates, with the exact values."""
import os

import meshio
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.adjust import Adjusted
from dromo.io.adapters.meshio_series import MeshioSeriesReader
from dromo.io.archive import Archive
from dromo.mesh.generate import box_mesh
from dromo.mesh.meshdata import MeshData
from dromo.mesh.readers import to_meshio
from dromo.parallel import collective

from ..mesh.test_vtk_xml import _u, write_pieces

pytestmark = pytest.mark.mpi
TIMES = [0.5, 1.0]


def _mesh():
    return box_mesh(3, 2, 2, element="tet10", distort=0.2, lengths=(3.0, 1.0, 1.0))


def _write(folder, mesh):
    """mesh.vtu (the reference numbering); shuffled.xdmf (nodes and cells permuted); s.pvd (pieces)."""
    os.makedirs(folder)
    meshio.write(os.path.join(folder, "mesh.vtu"), to_meshio(mesh))
    rng = np.random.default_rng(3)
    p = rng.permutation(mesh.n_nodes)                # written point k is mesh node p[k]
    inv = np.argsort(p)
    c = rng.permutation(mesh.n_cells)                # written cell k is mesh cell c[k]
    cells = inv[mesh.blocks[0].cells[c]]
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with meshio.xdmf.TimeSeriesWriter("shuffled.xdmf") as w:
            w.write_points_cells(mesh.points[p], [("tetra10", cells)])
            for t in TIMES:
                w.write_data(t, point_data={"Displacement": t * _u(mesh.points[p])},
                             cell_data={"cellno": [c.astype(float) * t]})
    finally:
        os.chdir(cwd)
    for k, t in enumerate(TIMES):
        sub = os.path.join(folder, f"step{k}")
        os.makedirs(sub)
        write_pieces(sub, mesh, 2, seed=k)
    with open(os.path.join(folder, "s.pvd"), "w") as f:
        f.write('<VTKFile type="Collection"><Collection>' + "".join(
            f'<DataSet timestep="{t}" part="0" file="step{k}/s.pvtu"/>' for k, t in enumerate(TIMES))
            + "</Collection></VTKFile>")


def _import(comm, out, mesh_file, series, **kw):
    reader = None
    if comm.rank == 0:
        reader = Adjusted(MeshioSeriesReader(mesh_file, [series]), **kw)
    import_results(reader, out, comm)
    with Archive.open(out, comm) as ar:
        return ar.read_mesh(), {n: ar.h5["fields"][n]["values"][...] for n in ar.fields()}


def _files(shared_tmp, comm, also=None):
    """The mesh and its folder of files (:func:`_write`, then ``also(folder, mesh)``), written by rank 0."""
    mesh = _mesh()
    folder = str(shared_tmp / "files")
    with collective(comm):
        if comm.rank == 0:
            _write(folder, mesh)
            if also:
                also(folder, mesh)
    return mesh, folder


def _other_mesh(folder, mesh):
    moved = mesh.points.copy()
    moved[5] += 0.01
    meshio.write(os.path.join(folder, "other.vtu"), to_meshio(MeshData(moved, mesh.blocks)))


def test_renumbered_series_map_onto_the_mesh(shared_tmp, comm):
    mesh, folder = _files(shared_tmp, comm)
    got, f = _import(comm, os.path.join(folder, "a.h5"), os.path.join(folder, "mesh.vtu"),
                     os.path.join(folder, "shuffled.xdmf"), rename={"Displacement": "U"},
                     sets={"clamp": "x < 1e-9", "top": "z > 1 - 1e-9"})
    assert np.array_equal(got.points, mesh.points)
    for k, t in enumerate(TIMES):
        assert np.array_equal(f["U"][k], t * _u(mesh.points))
        assert np.array_equal(f["cellno"][k][:, 0], np.arange(mesh.n_cells) * t)
    assert np.array_equal(got.node_sets["clamp"], np.flatnonzero(mesh.points[:, 0] == 0))
    assert {t: len(a) for t, a in got.facet_sets["clamp"].items()} == {"tri6": 2 * 2 * 2}
    assert sum(len(a) for a in got.facet_sets["top"].values()) == 3 * 2 * 2
    # .pvtu pieces with ghosts, each step in other local orders
    got, f = _import(comm, os.path.join(folder, "b.h5"), os.path.join(folder, "mesh.vtu"),
                     os.path.join(folder, "s.pvd"), rename={"Displacement": "U"})
    assert np.array_equal(got.points, mesh.points)
    for k in range(len(TIMES)):
        assert np.array_equal(f["U"][k], _u(mesh.points))
        part = np.minimum(np.arange(mesh.n_cells) * 2 // mesh.n_cells, 1)
        assert np.array_equal(f["rank"][k][:, 0], part)


def test_another_mesh_or_a_wrong_name_is_an_error(shared_tmp, comm):
    _mesh_, folder = _files(shared_tmp, comm, also=_other_mesh)
    series = os.path.join(folder, "shuffled.xdmf")
    with pytest.raises(InputError, match=r"shuffled\.xdmf\[0\]: not the mesh .*other\.vtu: 1 of its 175 nodes "
                                         r"have no written point within"):
        _import(comm, os.path.join(folder, "c.h5"), os.path.join(folder, "other.vtu"), series)
    with pytest.raises(InputError, match=r"--field Disp=U: no field 'Disp' \(fields found: Displacement, cellno\)"):
        _import(comm, os.path.join(folder, "d.h5"), None, series, rename={"Disp": "U"})
    with pytest.raises(InputError, match=r"--set empty=x < -1: selects no node"):
        _import(comm, os.path.join(folder, "e.h5"), None, series, sets={"empty": "x < -1"})
    with pytest.raises(InputError, match=r"--set bad=.*attribute access"):
        _import(comm, os.path.join(folder, "f.h5"), None, series, sets={"bad": "x.real > 0"})
    comm.Barrier()
    assert not [n for n in os.listdir(folder) if n.endswith(".h5") and n[0] in "cdef"]
