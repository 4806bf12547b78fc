"""The reference solver on wedge meshes (C3D6 and C3D15) against CalculiX 2.20 on the same mesh.

A 3×2×2 box split into wedges (interior nodes moved), linear elastic, clamped at x = 0, its end
x = 3 pulled along x, a pressure on y = 1 (quad faces of the wedges, quad8 for C3D15): one linear
increment.  Displacements of all nodes must agree with ccx's ``*NODE PRINT`` (7 digits) within 2e-6
relative; at 1, 2 and 3 ranks.
"""
import os
import re
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from dromo.hf import Displacement, Pressure, Problem, TimeStepping, run
from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import write_inp

pytestmark = pytest.mark.skipif(shutil.which("ccx") is None, reason="CalculiX (ccx) not installed")
E, NU, U_END, P = 210e3, 0.3, 3e-3, 50.0


def ccx_displacements(folder, mesh):
    """Run ccx on the same problem in ``folder``; U (n_nodes, 3) in mesh node order."""
    write_inp(mesh, os.path.join(folder, "mesh.inp"))
    deck = ["*INCLUDE, INPUT=mesh.inp", "*MATERIAL, NAME=EL", "*ELASTIC", f"{E}, {NU}",
            "*SOLID SECTION, ELSET=ALL, MATERIAL=EL", "*STEP", "*STATIC", "*BOUNDARY", "XMIN, 1, 3, 0.",
            f"XMAX, 1, 1, {U_END}", "*DSLOAD", f"YMAX, P, {P}", "*NODE PRINT, NSET=NALL", "U", "*END STEP"]
    nall = ["*NSET, NSET=NALL"] + [",".join(map(str, c)) for c in np.array_split(mesh.node_ids,
                                                                               -(-mesh.n_nodes // 16))]
    with open(os.path.join(folder, "job.inp"), "w") as f:
        f.write("\n".join(deck[:1] + nall + deck[1:]) + "\n")
    p = subprocess.run(["ccx", "-i", "job"], cwd=folder, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:]
    rows = {}
    for line in open(os.path.join(folder, "job.dat")):
        parts = line.split()
        if len(parts) == 4 and re.fullmatch(r"\d+", parts[0]):
            rows[int(parts[0])] = [float(v) for v in parts[1:]]
    return np.array([rows[i] for i in mesh.node_ids])


@pytest.mark.calculix
@pytest.mark.mpi
@pytest.mark.parametrize("element", ["wedge6", "wedge15"])
def test_wedge_elastic_matches_calculix(comm, shared_tmp, element):
    mesh = box_mesh(3, 2, 2, lengths=(3.0, 1.0, 1.0), element=element, distort=0.25, seed=3)
    ref = ccx_displacements(str(shared_tmp), mesh) if comm.rank == 0 else None
    ref = comm.bcast(ref, root=0)
    pb = Problem(mesh, {"all": {"type": "elastic", "E": E, "nu": NU}},
                 [Displacement("xmin", {"x": 0, "y": 0, "z": 0}), Displacement("xmax", {"x": U_END}),
                  Pressure("ymax", P)], time=TimeStepping(end=1.0, dt=1.0, fixed=True))
    out = os.path.join(str(shared_tmp), f"{element}.h5")
    run(pb, out)
    if comm.rank == 0:
        with h5py.File(out, "r") as f:
            u = f["fields/U/values"][-1]
        assert np.abs(ref).max() > 1e-4
        err = np.linalg.norm(u - ref) / np.linalg.norm(ref)
        print(f"{element}: relative difference vs CalculiX {err:.2e}")
        assert err < 2e-6
