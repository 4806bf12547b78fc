"""`dromo case list/write` and `dromo solve` (TOML case) under mpirun, with a restart; case-file errors."""
import os

import h5py
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.hf.case_file import read_case
from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import write_inp

from .._mpi import dromo_cmd, run_mpi, serial_only

CASE = """
name = "bar"
[mesh]
file = "bar.inp"
[materials.steel]
type = "von_mises"
E = 200e3
nu = 0.3
R0 = 200.0
H = 2000.0
kinematic = [{ C = 30e3, D = 300.0 }]
density = 7.8e-9
[sections]
ALL = "steel"
[amplitudes]
cyc = [[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]]
[[displacement]]
set = "XMIN"
x = 0.0
y = 0.0
z = 0.0
[[displacement]]
set = "XMAX"
x = 0.012
amplitude = "cyc"
[[pressure]]
set = "ZMAX"
value = 5.0
[gravity]
acceleration = [0.0, 0.0, -9810.0]
[centrifugal]
omega = 100.0
axis_direction = [1.0, 0.0, 0.0]
[temperature]
expression = "293.0 + 10 * t * x"
[time]
end = 2.0
dt = 0.25
"""


def _write_case(folder, text=CASE):
    write_inp(box_mesh(4, 2, 2, lengths=(4.0, 1.0, 1.0), element="hex8"), os.path.join(folder, "bar.inp"))
    path = os.path.join(folder, "case.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


@serial_only
def test_solve_command_under_mpirun_and_restart(tmp_path):
    case = _write_case(str(tmp_path))
    out = str(tmp_path / "r.h5")
    p = run_mpi(2, dromo_cmd() + ["solve", case, "-o", out, "--checkpoint-every", "3"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "8 increments to t = 2" in p.stdout
    with h5py.File(out, "r") as f:
        assert sorted(f["fields"]) == ["E", "S", "T", "U", "alpha_1", "eps_p", "p"]
        assert f["fields/U/values"].shape[0] == 9
        U = f["fields/U/values"][...]
        T = f["fields/T/values"][-1]
    assert os.path.exists(str(tmp_path / "r.xdmf"))
    assert T.max() > 293.0 + 10 * 2 * 3.0
    # restart from the final checkpoint with a longer end time, at 1 rank, into another file
    with open(case) as f:
        longer = f.read().replace("end = 2.0", "end = 2.5")
    with open(case, "w") as f:
        f.write(longer)
    out2 = str(tmp_path / "r2.h5")
    p = run_mpi(1, dromo_cmd() + ["solve", case, "-o", out2, "--restart", out])
    assert p.returncode == 0, p.stdout + p.stderr
    with h5py.File(out2, "r") as f:
        U2 = f["fields/U/values"][...]
    assert U2.shape[0] == 11 and np.abs(U2[:9] - U).max() == 0.0


@serial_only
def test_case_list_and_write(tmp_path):
    p = run_mpi(1, dromo_cmd() + ["case", "list"])
    assert p.returncode == 0 and "holed_plate" in p.stdout and "blade" in p.stdout
    p = run_mpi(1, dromo_cmd() + ["case", "write", "holed_plate", str(tmp_path / "hp"), "--size", "small"])
    assert p.returncode == 0, p.stderr
    spec = read_case(str(tmp_path / "hp" / "case.toml"))
    assert os.path.exists(spec["mesh_file"]) and spec["time"].end == 8.0


def test_case_file_errors(tmp_path):
    bad = {"unknown key": CASE.replace("[time]", "[time]\ndtt = 1"),
           "unknown material 'stell'": CASE.replace('ALL = "steel"', 'ALL = "stell"'),
           "unknown key\\(s\\) \\['w'\\]": CASE.replace('x = 0.012', 'w = 0.012'),
           "not valid TOML": CASE + "\n[[[",
           "missing \\[mesh\\]": CASE.replace('file = "bar.inp"', "")}
    for msg, text in bad.items():
        with pytest.raises(InputError, match=msg):
            read_case(_write_case(str(tmp_path), text))
