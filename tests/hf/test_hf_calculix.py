"""The reference solver against CalculiX 2.20 on the same hex8 mesh, ANISO_PLAS, cyclic displacement.

A 3×2×2 hex8 bar (interior nodes moved), clamped at x = 0, its end x = 3 pulled and pushed along x by
a sine amplitude (uy, uz free there): the strain field is not homogeneous (clamp, Poisson). CalculiX
runs a ``*VISCO, DIRECT`` step with fixed increments (tight residual controls) and prints the nodal
displacements and the state variables at every integration point; dromo runs the same increments.
Displacements (all nodes) and p (all points) must agree within 1e-3 relative at every increment.
"""
import os
import re
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from dromo.hf import Displacement, Problem, TimeStepping, run
from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import write_inp

CONST = [250e3, 100e3, 240e3, 90e3, 95e3, 230e3, 70e3, 75e3, 80e3, 200.0, 5000.0, 20e3, 1e-13, 5.0, 0.0]
U_END, PERIOD, DT, T_END = 0.012, 4.0, 0.1, 4.0

pytestmark = pytest.mark.skipif(shutil.which("ccx") is None, reason="CalculiX (ccx) not installed")


def _mesh():
    return box_mesh(3, 2, 2, lengths=(3.0, 1.0, 1.0), element="hex8", distort=0.25, seed=3)


def _amplitude():
    ts = np.round(np.arange(0.0, T_END + 0.5 * DT, DT), 12)
    return ts, np.sin(2 * np.pi * ts / PERIOD)


def write_deck(folder, mesh):
    """The CalculiX deck of this comparison (mesh.inp + job.inp in ``folder``); returns its path."""
    write_inp(mesh, os.path.join(folder, "mesh.inp"))
    ts, amp = _amplitude()
    n = mesh.n_nodes
    L = ["*INCLUDE, INPUT=mesh.inp", "*NSET, NSET=NALL, GENERATE", f"1,{n},1",
         "*MATERIAL, NAME=ANISO_PLAS_1", "*USER MATERIAL, CONSTANTS=15"]
    vals = [f"{v:.10e}" for v in CONST + [0.0]]
    L += [",".join(vals[:8]), ",".join(vals[8:]), "*DEPVAR", "14",
          "*SOLID SECTION, ELSET=ALL, MATERIAL=ANISO_PLAS_1", "*AMPLITUDE, NAME=A1"]
    L += [f"{t:.10f},{a:.15f}" for t, a in zip(ts, amp)]
    L += ["*STEP, INC=100000", "*VISCO, DIRECT, CETOL=1.e-3", f"{DT},{T_END}",
          "*CONTROLS, PARAMETERS=FIELD", "1.e-9,1.e-9,1.e-2,,0.02,1.e-5,1.e-3,1.e-8",
          "*BOUNDARY", "XMIN,1,3,0.", "*BOUNDARY, AMPLITUDE=A1", f"XMAX,1,1,{U_END}",
          "*NODE PRINT, NSET=NALL", "U", "*EL PRINT, ELSET=ALL", "SDV", "*END STEP"]
    path = os.path.join(folder, "job.inp")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return path


def run_ccx(folder):
    """Run ``ccx job`` in ``folder``; returns the parsed ``job.dat`` (see :func:`_read_dat`)."""
    p = subprocess.run(["ccx", "-i", "job"], cwd=folder, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0 and os.path.exists(os.path.join(folder, "job.dat")), p.stdout[-3000:]
    return _read_dat(os.path.join(folder, "job.dat"))


def _read_dat(path):
    """{time: (U (n_nodes, 3) by node id, SDV (n_el, n_ip, 14))}."""
    U, V = {}, {}
    cur = None
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*(displacements|internal state variables) .*time\s+(\S+)", line)
            if m:
                t = round(float(m.group(2)), 9)
                cur = (U if m.group(1) == "displacements" else V).setdefault(t, [])
                continue
            parts = line.split()
            if cur is not None and parts and re.match(r"^-?\d", parts[0]):
                cur.append([float(x) for x in parts])
    out = {}
    for t in U:
        u = np.array(U[t])
        u = u[np.argsort(u[:, 0])][:, 1:]
        s = np.array(V[t])
        s = s[np.lexsort((s[:, 1], s[:, 0]))][:, 2:]
        out[t] = (u, s)
    return out


@pytest.mark.calculix
@pytest.mark.mpi
def test_hex8_aniso_plas_cyclic_matches_calculix(comm, shared_tmp):
    mesh = _mesh()
    ref = None
    if comm.rank == 0:
        write_deck(str(shared_tmp), mesh)
        ref = run_ccx(str(shared_tmp))
    ref = comm.bcast(ref, root=0)
    ts, amp = _amplitude()
    pb = Problem(mesh, {"all": {"type": "aniso_plas", "constants": CONST}},
                 [Displacement("xmin", {"x": 0, "y": 0, "z": 0}),
                  Displacement("xmax", {"x": U_END}, amplitude="A1")],
                 amplitudes={"A1": np.column_stack([ts, amp])},
                 time=TimeStepping(end=T_END, dt=DT, fixed=True, rtol=1e-10))
    out = os.path.join(str(shared_tmp), "dromo.h5")
    run(pb, out)
    if comm.rank == 0:
        worst_u, worst_p = compare_with_ccx(out, ref, len(ts), n_ip=len(mesh.blocks[0].cells) * 8)
        print(f"max relative difference vs CalculiX: u {worst_u:.2e}, p {worst_p:.2e}")


def compare_with_ccx(out, ref, n_times, n_ip):
    """Largest relative differences (u, p) between dromo's result file and CalculiX's ``.dat`` at
    every increment; asserts that plastic flow happened and that both are below 1e-3."""
    with h5py.File(out, "r") as f:
        times = np.round(f["fields/U/time"][...], 9)
        U = f["fields/U/values"][...]
        P = f["fields/p/values"][...][..., 0]
    assert len(times) == n_times
    p_max = max(np.abs(r[1][:, 0]).max() for r in ref.values())
    assert p_max > 1e-3                                   # real plastic flow happened
    worst_u = worst_p = 0.0
    for k, t in enumerate(times[1:], start=1):
        u_ref, sdv = ref[t]
        worst_u = max(worst_u, np.linalg.norm(U[k] - u_ref) / np.linalg.norm(u_ref))
        p_ref = sdv[:, 0]
        assert p_ref.size == n_ip
        worst_p = max(worst_p, np.abs(P[k] - p_ref).max() / p_max)
    assert worst_u < 1e-3, worst_u
    assert worst_p < 1e-3, worst_p
    return worst_u, worst_p
