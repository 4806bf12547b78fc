"""Corrupt meshio input (issue 24): non-finite values and inverted cells are refused with one line
naming the file and the item, unless the user asks to keep them; no output is left behind."""
import os

import meshio
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.meshio_series import MeshioSeriesReader
from dromo.mesh.generate import box_mesh
from dromo.mesh.readers import to_meshio

from .._mpi import serial_only

pytestmark = serial_only


def _vtu(folder, name, u=None, mirror=False):
    mesh = box_mesh(2, 1, 1)
    m = to_meshio(mesh)
    if mirror:
        c = m.cells[0].data
        m.cells[0].data[0] = np.concatenate([c[0][4:], c[0][:4]])
    if u is not None:
        m.point_data["U"] = u
    path = os.path.join(folder, name)
    meshio.write(path, m)
    return path, mesh


def _refused(tmp_path, reader, *needles):
    out = tmp_path / "o.h5"
    with pytest.raises(InputError) as ei:
        import_results(reader, str(out), MPI.COMM_WORLD)
    msg = str(ei.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, msg
    assert not [f for f in os.listdir(tmp_path) if f.startswith("o.")]


def test_nonfinite_point_data(tmp_path):
    u = np.zeros((12, 3))
    u[5, 1] = np.nan
    path, mesh = _vtu(str(tmp_path), "s.vtu", u)
    _refused(tmp_path, MeshioSeriesReader(None, [path]), "s.vtu", "U", f"node {mesh.node_ids[5]}",
             "component y", "not finite", "--allow-nonfinite")
    written = import_results(MeshioSeriesReader(None, [path], allow_nonfinite=True),
                             str(tmp_path / "keep.h5"), MPI.COMM_WORLD)
    assert written == {"U": 1}


def test_inverted_cell(tmp_path):
    path, _mesh = _vtu(str(tmp_path), "m.vtu", np.zeros((12, 3)), mirror=True)
    _refused(tmp_path, MeshioSeriesReader(None, [path]), "m.vtu", "element 1", "inverted",
             "--allow-inverted")
    written = import_results(MeshioSeriesReader(None, [path], allow_inverted=True),
                             str(tmp_path / "keep.h5"), MPI.COMM_WORLD)
    assert written == {"U": 1}
