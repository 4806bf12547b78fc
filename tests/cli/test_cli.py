"""The ``dromo`` command under mpirun: info, mesh, and clear errors on every rank (the demo: test_demo.py)."""
import json

import pytest

from .._mpi import dromo_cmd, run_mpi, serial_only

pytestmark = serial_only


def test_info_reports_stack_and_world_size():
    p = run_mpi(2, dromo_cmd() + ["info"])
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for key in ("dromo", "numpy", "petsc", "slepc", "mpi4py", "h5py", "blas", "mpi world size"):
        assert key in out
    assert "MPI build: yes" in out
    assert out.count("petsc ") == 1                    # rank 0 prints once
    assert "mpi world size  2" in out


def test_mesh_box_info_convert(tmp_path):
    inp = tmp_path / "box.inp"
    p = run_mpi(1, dromo_cmd() + ["mesh", "box", "--element", "hex20", "--cells", "4", "2", "2",
                                  "-o", str(inp)])
    assert p.returncode == 0, p.stderr
    p = run_mpi(3, dromo_cmd() + ["mesh", "info", str(inp), "--json"])
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["ranks"] == 3 and sum(rep["cells_per_rank"]) == 16 and rep["edge_cut"] > 0
    h5 = tmp_path / "box.h5"
    p = run_mpi(2, dromo_cmd() + ["mesh", "convert", str(inp), "-o", str(h5)])
    assert p.returncode == 0, p.stderr
    assert h5.exists() and (tmp_path / "box.xdmf").exists()


@pytest.mark.parametrize("content,message", [
    (None, "not found"),
    ("*NODE\n1, 0.0, 0.0\n", "box.inp"),
    ("*NODE\n1,0,0,0\n2,1,0,0\n3,0,1,0\n4,0,0,1\n*ELEMENT, TYPE=C3D99\n1,1,2,3,4\n", "C3D99"),
    ("*NODE\n1,0,0,0\n2,1,0,0\n3,0,1,0\n4,0,0,1\n*ELEMENT, TYPE=C3D4\n7,1,3,2,4\n", "7"),
])
def test_bad_mesh_exits_nonzero_on_every_rank_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "box.inp"
    if content is not None:
        path.write_text(content)
    p = run_mpi(3, dromo_cmd() + ["mesh", "info", str(path)], timeout=120)
    assert p.returncode != 0
    err = p.stderr
    assert "dromo mesh: error:" in err and message in err, err[-2000:]
    assert "Traceback" not in err
