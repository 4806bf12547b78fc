"""Benchmark: dromo's reference solver against CalculiX (ccx, one thread) on the same mesh and law.

A hex8 bar (nx × ny × nz cells, 4 × 1 × 1), CalculiX's ANISO_PLAS law, clamped at x = 0 and pulled /
pushed along x at the other end by a sine amplitude, fixed increments (ccx: ``*VISCO, DIRECT``). Wall
time per increment of both (ccx: whole run / increments, so its set-up is included; dromo: the mean
increment after the first, set-up excluded and reported apart), their ratio, dromo at 1 and 2 ranks
(speed-up), peak memory, Newton and KSP iteration counts. Targets (issue #4): dromo on 1 rank no slower
than ccx per increment; 2-rank speed-up ≥ 1.6.

    .venv/bin/python benchmarks/hf_solver.py            # 54 × 18 × 18 hex8 (≈ 6e4 dofs)
    .venv/bin/python benchmarks/hf_solver.py --quick    # 8 × 3 × 3 (seconds)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, peak_rss_mb, run_ranks  # noqa: E402

CONST = [250e3, 100e3, 240e3, 90e3, 95e3, 230e3, 70e3, 75e3, 80e3, 200.0, 5000.0, 20e3, 1e-13, 5.0, 0.0]
U_END, PERIOD = 0.016, 4.0


def _mesh(n):
    from dromo.mesh.generate import box_mesh
    return box_mesh(3 * n, n, n, lengths=(4.0, 1.0, 1.0), element="hex8")


def _amplitude(dt, t_end):
    ts = np.round(np.arange(0.0, t_end + 0.5 * dt, dt), 12)
    return ts, np.sin(2 * np.pi * ts / PERIOD)


def worker(n, dt, t_end, folder):
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.hf import Displacement, Problem, TimeStepping, run
    comm = MPI.COMM_WORLD
    t0 = time.perf_counter()
    ts, amp = _amplitude(dt, t_end)
    pb = Problem(_mesh(n), {"all": {"type": "aniso_plas", "constants": CONST}},
                 [Displacement("xmin", {"x": 0, "y": 0, "z": 0}),
                  Displacement("xmax", {"x": U_END}, amplitude="A1")],
                 amplitudes={"A1": np.column_stack([ts, amp])},
                 time=TimeStepping(end=t_end, dt=dt, fixed=True, rtol=1e-6, ksp_rtol=1e-8), comm=comm)
    setup = time.perf_counter() - t0
    _st, s = run(pb, os.path.join(folder, f"dromo{comm.size}.h5"), checkpoint_every=0)
    inc = np.array(s["increment_seconds"])
    per = float(inc[1:].mean()) if inc.size > 1 else float(inc.mean())
    per = comm.allreduce(per, op=MPI.MAX)
    mem = comm.allreduce(peak_rss_mb(), op=MPI.MAX)
    if comm.rank == 0:
        print(json.dumps(dict(dofs=pb.dm.n_dofs_global, per_increment_s=per, setup_s=setup,
                              total_s=s["seconds"], increments=s["increments"],
                              newton=s["newton_iterations"], ksp=s["ksp_iterations"], peak_mb=mem)))


def run_ccx(n, dt, t_end, folder):
    from dromo.mesh.readers import write_inp
    mesh = _mesh(n)
    write_inp(mesh, os.path.join(folder, "mesh.inp"))
    ts, amp = _amplitude(dt, t_end)
    L = ["*INCLUDE, INPUT=mesh.inp", "*MATERIAL, NAME=ANISO_PLAS_1", "*USER MATERIAL, CONSTANTS=15"]
    vals = [f"{v:.10e}" for v in CONST + [0.0]]
    L += [",".join(vals[:8]), ",".join(vals[8:]), "*DEPVAR", "14",
          "*SOLID SECTION, ELSET=ALL, MATERIAL=ANISO_PLAS_1", "*AMPLITUDE, NAME=A1"]
    L += [f"{t:.10f},{a:.15f}" for t, a in zip(ts, amp)]
    L += ["*STEP, INC=100000", "*VISCO, DIRECT, CETOL=1.e-3", f"{dt},{t_end}",
          "*CONTROLS, PARAMETERS=TIME INCREMENTATION", "8,10,9,200,10,4,0,200",
          "*BOUNDARY", "XMIN,1,3,0.", "*BOUNDARY, AMPLITUDE=A1", f"XMAX,1,1,{U_END}",
          "*NODE FILE", "U", "*END STEP"]
    with open(os.path.join(folder, "job.inp"), "w") as f:
        f.write("\n".join(L) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", CCX_NPROC_EQUATION_SOLVER="1")
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", "ccx", "-i", "job"], cwd=folder,
                       capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:])
        raise SystemExit("ccx failed")
    rss = [float(l.split()[1]) / 1024 for l in p.stderr.splitlines() if l.startswith("MAXRSS")]
    its = p.stdout.count("iteration ")
    return dict(wall_s=wall, per_increment_s=wall / (len(ts) - 1), peak_mb=rss[0] if rss else None,
                iterations=its)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", nargs=4)
    a = ap.parse_args()
    if a.worker:
        worker(int(a.worker[0]), float(a.worker[1]), float(a.worker[2]), a.worker[3])
        return
    n, dt, t_end = (3, 0.25, 1.0) if a.quick else (18, 0.25, 2.0)
    folder = tempfile.mkdtemp(prefix="hf_bench_")
    try:
        ccx = run_ccx(n, dt, t_end, folder) if shutil.which("ccx") else None
        args = [str(n), str(dt), str(t_end), folder]
        d1 = run_ranks(1, os.path.abspath(__file__), ["--worker"] + args)
        d2 = run_ranks(2, os.path.abspath(__file__), ["--worker"] + args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    figures = dict(dofs=d1["dofs"], increments=d1["increments"],
                   dromo_1rank_s_per_increment=d1["per_increment_s"],
                   dromo_2rank_s_per_increment=d2["per_increment_s"],
                   speedup_2ranks=d1["per_increment_s"] / d2["per_increment_s"],
                   dromo_setup_s=d1["setup_s"], newton_iterations=d1["newton"], ksp_iterations=d1["ksp"],
                   dromo_peak_mb_1rank=d1["peak_mb"], dromo_peak_mb_2ranks=d2["peak_mb"])
    targets = {"speedup_2ranks": [">=", 1.6]}
    if ccx:
        figures.update(ccx_s_per_increment=ccx["per_increment_s"], ccx_peak_mb=ccx["peak_mb"],
                       ratio_dromo1_over_ccx=d1["per_increment_s"] / ccx["per_increment_s"])
        targets["ratio_dromo1_over_ccx"] = ["<=", 1.0]
    emit("hf_solver", figures, targets)


if __name__ == "__main__":
    main()
