"""meshio round trips: write a mesh and time series with meshio, import, compare."""
import glob
import os

import meshio
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.meshio_series import MeshioSeriesReader
from dromo.io.archive import Archive
from dromo.mesh.generate import box_mesh
from dromo.mesh.readers import to_meshio
from dromo.parallel import collective

SQ2 = np.sqrt(2.0)
TIMES = [0.0, 0.5, 1.25]


def _data(mesh, k):
    x = mesh.points
    u = np.stack([x[:, 0] * (k + 1), x[:, 1] ** 2 - k, np.sin(x[:, 2] + k)], axis=1)
    T = np.einsum("ni,nj->nij", x + k, x + 1.0)            # non-symmetric (n, 3, 3)
    p = np.arange(mesh.n_cells, dtype=float) * (k + 1)
    return u, T, p


def _write_xdmf_series(folder, mesh):
    m = to_meshio(mesh)
    path = os.path.join(folder, "series.xdmf")
    cwd = os.getcwd()
    os.chdir(folder)   # meshio's TimeSeriesWriter writes its .h5 into the working directory
    try:
        _write_series(path, m, mesh)
    finally:
        os.chdir(cwd)
    return path


def _write_series(path, m, mesh):
    with meshio.xdmf.TimeSeriesWriter(path) as w:
        w.write_points_cells(m.points, m.cells)
        for k, t in enumerate(TIMES):
            u, T, p = _data(mesh, k)
            cd = [p if i == 0 else np.zeros(len(c.data)) for i, c in enumerate(m.cells)]
            w.write_data(t, point_data={"U": u, "T": T.reshape(-1, 9)}, cell_data={"p": cd})


def _read(comm, path):
    with Archive.open(path, comm) as ar:
        return ar.read_mesh(), {n: (ar.h5["fields"][n]["values"][...], ar.h5["fields"][n]["time"][...],
                                    dict(ar.h5["fields"][n].attrs)) for n in ar.fields()}


def _check(mesh, got_mesh, fields, times, sets=True):
    assert np.array_equal(got_mesh.points, mesh.points)
    if sets:
        assert set(got_mesh.node_sets) == set(mesh.node_sets)
        for k, v in mesh.node_sets.items():
            assert np.array_equal(got_mesh.node_sets[k], v)
    for k, t in enumerate(times):
        u, T, p = _data(mesh, k)
        assert np.array_equal(fields["U"][0][k], u)
        assert np.array_equal(fields["p"][0][k][:, 0], p)
        s = 0.5 * (T + T.transpose(0, 2, 1))
        mandel = np.stack([s[:, 0, 0], s[:, 1, 1], s[:, 2, 2], SQ2 * s[:, 0, 1], SQ2 * s[:, 0, 2],
                           SQ2 * s[:, 1, 2]], axis=1)
        assert np.allclose(fields["T"][0][k], mandel, rtol=1e-15, atol=0)
    for name in ("U", "T", "p"):
        assert np.array_equal(fields[name][1], times)
    assert fields["U"][2]["location"] == "node" and fields["p"][2]["location"] == "cell"
    assert list(fields["T"][2]["components"]) == ["xx", "yy", "zz", "xy", "xz", "yz"]


@pytest.mark.mpi
@pytest.mark.parametrize("element", ["tet10", "hex8"])
def test_xdmf_time_series_round_trip(shared_tmp, comm, element):
    mesh = box_mesh(2, 2, 1, element=element, distort=0.1)
    folder = str(shared_tmp / element)
    path = None
    with collective(comm):
        if comm.rank == 0:
            os.makedirs(folder)
            meshio.write(os.path.join(folder, "mesh.vtu"), to_meshio(mesh))
            path = _write_xdmf_series(folder, mesh)
    path = comm.bcast(path, root=0)
    for mesh_arg in (os.path.join(folder, "mesh.vtu"), None):
        out = os.path.join(folder, f"a{mesh_arg is None}.h5")
        reader = MeshioSeriesReader(mesh_arg, [path]) if comm.rank == 0 else None
        written = import_results(reader, out, comm)
        assert written == {"U": 3, "T": 3, "p": 3}
        got_mesh, fields = _read(comm, out)
        _check(mesh, got_mesh, fields, TIMES, sets=mesh_arg is not None)


@pytest.mark.mpi
def test_pvd_vtu_series_round_trip(shared_tmp, comm):
    mesh = box_mesh(2, 1, 1, element="hex8")
    folder = str(shared_tmp / "pvd")
    times = [0.0, 2.0, 3.5]
    with collective(comm):
        if comm.rank == 0:
            os.makedirs(folder)
            rows = []
            for k, t in enumerate(times):
                m = to_meshio(mesh)
                u, T, p = _data(mesh, k)
                m.point_data.update({"U": u, "T": T.reshape(-1, 9)})
                m.cell_data["p"] = [p if i == 0 else np.zeros(len(c.data)) for i, c in enumerate(m.cells)]
                meshio.write(os.path.join(folder, f"s_{k}.vtu"), m)
                rows.append(f'<DataSet timestep="{t}" part="0" file="s_{k}.vtu"/>')
            with open(os.path.join(folder, "s.pvd"), "w") as f:
                f.write('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1">\n<Collection>\n'
                        + "\n".join(rows) + "\n</Collection>\n</VTKFile>\n")
    out = os.path.join(folder, "a.h5")
    reader = MeshioSeriesReader(os.path.join(folder, "s_0.vtu"), [os.path.join(folder, "s.pvd")]) \
        if comm.rank == 0 else None
    import_results(reader, out, comm)
    got_mesh, fields = _read(comm, out)
    _check(mesh, got_mesh, fields, times)
    # single files with explicit times
    out2 = os.path.join(folder, "b.h5")
    reader = MeshioSeriesReader(None, [os.path.join(folder, f"s_{k}.vtu") for k in range(3)],
                                times=times) if comm.rank == 0 else None
    import_results(reader, out2, comm)
    _m, f2 = _read(comm, out2)
    for n in fields:
        assert np.array_equal(f2[n][0], fields[n][0]) and np.array_equal(f2[n][1], times)


@pytest.mark.mpi
def test_series_of_another_mesh_is_an_error(shared_tmp, comm):
    folder = str(shared_tmp / "bad")
    with collective(comm):
        if comm.rank == 0:
            os.makedirs(folder)
            meshio.write(os.path.join(folder, "mesh.vtu"), to_meshio(box_mesh(2, 1, 1)))
            _write_xdmf_series(folder, box_mesh(2, 1, 1, distort=0.2, lengths=(1, 1, 2)))
            with open(os.path.join(folder, "broken.pvd"), "w") as f:
                f.write("<VTKFile><Collection><DataSet timestep='0' file='none.vtu'/>")
    out = os.path.join(folder, "a.h5")
    for series, needle in (("series.xdmf", "series.xdmf"), ("broken.pvd", "broken.pvd")):
        reader = MeshioSeriesReader(os.path.join(folder, "mesh.vtu"), [os.path.join(folder, series)]) \
            if comm.rank == 0 else None
        with pytest.raises(InputError, match=needle):
            import_results(reader, out, comm)
        comm.Barrier()
        assert not os.path.exists(out) and not glob.glob(out + ".tmp*")
