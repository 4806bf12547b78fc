"""Benchmark of the CalculiX import (dromo.io.adapters.calculix). Prints one JSON line.

Data: an elastic hex8 box solved by ``ccx`` (``*STATIC, DIRECT`` fixed increments; a ``*PLASTIC`` yield
stress never reached makes ccx honour the increments instead of one linear solve; output every
increment: ``*NODE FILE`` U, ``*EL FILE`` S, E), so the ``.frd`` holds DISP, STRESS and TOSTRAIN
blocks per increment. Full size: 46³ cells (103 823 nodes), 12 increments, ≈ 300 MB of ``.frd``;
``--quick``: 12³ cells, 4 increments (≈ 2 MB). The case is cached in ``benchmarks/out/import/`` (git-
ignored), so reruns skip ``ccx``.

The driver runs, in the same run and on the same file,

* ``import.py --worker`` under ``launch/mpirun.sh -n 1`` and ``-n 2``: ``import_results`` of a
  :class:`~dromo.io.adapters.calculix.CalculixReader` into an archive (deck parse, header scan,
  parsing, numbering, scatter, collective HDF5 writes: everything, wall time from the reader's
  creation to the closed archive);
* ccx2paraview 3.2 (PyPI) reading the same file in this process: ``FRD.parse_mesh``,
  ``count_increments`` and ``parse_results`` for every increment, i.e. its whole read path, with its
  extra von Mises / principal computations switched off (in its favour), no VTK file written.

Figures
-------
throughput_mb_s_{1,2}_ranks : .frd MB (1e6 bytes) per second of the dromo import.
increments_per_s_{1,2}_ranks : increments per second of the dromo import.
ccx2paraview_mb_s : the same for ccx2paraview's read.
throughput_ratio_vs_ccx2paraview : dromo 1 rank / ccx2paraview (target ≥ 3).
peak_mem_ratio_to_increment : max over ranks and over the 1- and 2-rank runs of (peak RSS during the
    import − RSS just before it) / (bytes of one increment in memory, float64: n_nodes × (3 + 6 + 6)
    × 8). The peak is the kernel's VmHWM, reset (``/proc/self/clear_refs``) right before the import;
    the mesh is read (and cached) beforehand on rank 0, so the baseline holds the mesh (target ≤ 3).
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, proc_status_bytes, run_ranks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out", "import")


def case(n, n_inc):
    """Generate (once) and solve the box case; returns (deck, frd)."""
    folder = os.path.join(OUT, f"box{n}_{n_inc}")
    deck = os.path.join(folder, "box.inp")
    frd = os.path.join(folder, "box.frd")
    if os.path.isfile(frd) and open(frd, "rb").read()[-6:].strip() == b"9999":
        return deck, frd
    os.makedirs(folder, exist_ok=True)
    from dromo.mesh.generate import box_mesh
    from dromo.mesh.inp import write_inp
    m = box_mesh(n, n, n, lengths=(1.0, 1.0, 1.0), element="hex8")
    write_inp(m, os.path.join(folder, "mesh.inp"))
    with open(deck, "w") as f:
        f.write(f"""*INCLUDE,INPUT=mesh.inp
*MATERIAL,NAME=EL
*ELASTIC
210000.,0.3
*PLASTIC
1.e9,0.
*SOLID SECTION,ELSET=ALL,MATERIAL=EL
*STEP,INC=10000
*STATIC,DIRECT,SOLVER=ITERATIVE CHOLESKY
{1.0 / n_inc},1.
*BOUNDARY
XMIN,1,3,0.
*BOUNDARY
XMAX,1,1,0.01
XMAX,2,2,0.002
*NODE FILE
U
*EL FILE
S,E
*END STEP
""")
    sys.stderr.write(f"import benchmark: solving the {n}^3 hex8 box with ccx ({n_inc} increments)...\n")
    env = dict(os.environ, OMP_NUM_THREADS="2")
    p = subprocess.run(["ccx", "box"], cwd=folder, capture_output=True, text=True, env=env)
    if p.returncode != 0 or not os.path.isfile(frd):
        raise SystemExit(f"ccx failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return deck, frd


def worker(deck, frd, out):
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.io.adapters import import_results
    from dromo.io.adapters.calculix import CalculixReader
    import h5py  # noqa: F401  (code, not data: loaded before the memory baseline)
    import dromo.io.archive  # noqa: F401
    import dromo.io.xdmf  # noqa: F401
    import dromo.io.adapters.calculix_dat  # noqa: F401
    import dromo.mesh.quadrature  # noqa: F401
    comm = MPI.COMM_WORLD
    reader = None
    comm.Barrier()
    t0 = time.perf_counter()
    if comm.rank == 0:
        reader = CalculixReader(deck, frd)
        reader.mesh()                                  # the mesh is not the increment: read it first
    comm.Barrier()
    t_mesh = time.perf_counter() - t0
    try:
        with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM (peak RSS) to the current RSS
            f.write("5")
        reset = True
    except OSError:
        reset = False
    base = proc_status_bytes("VmRSS")
    t = time.perf_counter()
    written = import_results(reader, out, comm)
    comm.Barrier()
    wall = time.perf_counter() - t
    peak = proc_status_bytes("VmHWM") if reset else proc_status_bytes("VmPeak")
    mem = comm.gather(peak - base)
    if comm.rank == 0:
        print(json.dumps({"wall_s": wall + t_mesh, "mesh_s": t_mesh, "increments": written["U"], "mem_bytes": mem,
                          "peak_reset": reset, "ranks": comm.size}), flush=True)
    if comm.rank == 0 and os.path.exists(out):
        os.remove(out)
        if os.path.exists(out[:-3] + ".xdmf"):
            os.remove(out[:-3] + ".xdmf")


def ccx2paraview_read(frd):
    """ccx2paraview's whole read path (mesh, increments, every result block); seconds."""
    import logging
    logging.disable(logging.WARNING)
    from ccx2paraview import common as c2p
    c2p.FRD.calculate_mises_stress = lambda self, b: b     # skip its extra derived fields
    c2p.FRD.calculate_mises_strain = lambda self, b: b
    c2p.FRD.calculate_principal = lambda self, b: b
    t = time.perf_counter()
    n = 0
    with open(frd, "r") as fh:
        r = c2p.FRD(fh)
        r.parse_mesh()
        r.count_increments()
        for step, inc in r.steps_increments:
            blocks = r.parse_results(step, inc)
            n += 1
            del blocks
    return time.perf_counter() - t, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", nargs=3, default=None, metavar=("DECK", "FRD", "OUT"))
    args = ap.parse_args()
    if args.worker:
        return worker(*args.worker)
    n, n_inc = (12, 4) if args.quick else (46, 12)
    deck, frd = case(n, n_inc)
    size_mb = os.path.getsize(frd) / 1e6
    n_nodes = (n + 1) ** 3
    inc_bytes = n_nodes * (3 + 6 + 6) * 8
    figures = {"frd_mb": round(size_mb, 2), "nodes": n_nodes, "increment_mb": round(inc_bytes / 1e6, 3)}
    mem_ratio = 0.0
    for ranks in (1, 2):
        r = run_ranks(ranks, __file__, ["--worker", deck, frd, os.path.join(OUT, f"bench_{ranks}.h5")])
        figures[f"wall_s_{ranks}_ranks"] = round(r["wall_s"], 3)
        figures[f"deck_read_s_{ranks}_ranks"] = round(r["mesh_s"], 3)
        figures[f"throughput_mb_s_{ranks}_ranks"] = round(size_mb / r["wall_s"], 2)
        figures[f"increments_per_s_{ranks}_ranks"] = round(r["increments"] / r["wall_s"], 3)
        figures[f"peak_mem_mb_{ranks}_ranks"] = [round(m / 1e6, 1) for m in r["mem_bytes"]]
        mem_ratio = max(mem_ratio, max(r["mem_bytes"]) / inc_bytes)
        figures["increments"] = r["increments"]
    t_c2p, n_c2p = ccx2paraview_read(frd)
    figures["ccx2paraview_s"] = round(t_c2p, 3)
    figures["ccx2paraview_mb_s"] = round(size_mb / t_c2p, 2)
    figures["ccx2paraview_increments"] = n_c2p
    figures["throughput_ratio_vs_ccx2paraview"] = round(figures["throughput_mb_s_1_ranks"] /
                                                         figures["ccx2paraview_mb_s"], 2)
    figures["peak_mem_ratio_to_increment"] = round(mem_ratio, 3)
    emit("import", figures, {"throughput_ratio_vs_ccx2paraview": [">=", 3.0],
                             "peak_mem_ratio_to_increment": ["<=", 3.0]})


if __name__ == "__main__":
    sys.exit(main())
