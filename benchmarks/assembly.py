"""Benchmark: build, partition and assemble the elasticity matrix of tet10 box meshes.

Runs itself at 1 and 2 MPI ranks (``--worker`` mode under ``launch/mpirun.sh``) on meshes of growing
size up to about 1 M dofs, and prints one JSON line: dofs, seconds per stage (mesh build, partition and
distribution, stiffness assembly), assembled nonzeros per second, peak memory per rank, and the 1→2-rank
speed-up of the largest size (build + partition + assembly). Targets (issue #2): 1 M dofs assembled in
under 10 s on 2 ranks, and a 2-rank speed-up ≥ 1.6.

    .venv/bin/python benchmarks/assembly.py            # full: n = 10, 20, 35 (35 → 1.07 M dofs)
    .venv/bin/python benchmarks/assembly.py --quick    # n = 10, 28 k dofs (seconds)
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, peak_rss_mb, run_ranks  # noqa: E402


def worker(n):
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.fem.operators import stiffness_matrix
    from dromo.materials.tensors import isotropic_stiffness
    from dromo.mesh.distributed import DistributedMesh
    from dromo.mesh.generate import box_mesh
    comm = MPI.COMM_WORLD
    times = {}

    def stage(name, fn):
        comm.Barrier()
        t = time.perf_counter()
        out = fn()
        comm.Barrier()
        times[name] = comm.allreduce(time.perf_counter() - t, op=MPI.MAX)
        return out

    mesh = stage("build_s", lambda: box_mesh(n, n, n, element="tet10"))
    dm = stage("partition_s", lambda: DistributedMesh(mesh, comm))
    K = stage("assembly_s", lambda: stiffness_matrix(dm, isotropic_stiffness(210e3, 0.3)))
    nnz = K.getInfo()["nz_used"]
    mem = comm.allreduce(peak_rss_mb(), op=MPI.MAX)
    if comm.rank == 0:
        print(json.dumps(dict(times, dofs=3 * mesh.n_nodes, nnz=nnz, peak_mem_mb_per_rank=mem,
                              edge_cut=dm.quality["edge_cut"], ranks=comm.size)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", type=int, default=None)
    args = ap.parse_args()
    if args.worker is not None:
        return worker(args.worker)
    sizes = [10] if args.quick else [10, 20, 35]
    figures = {}
    for n in sizes:
        r1 = run_ranks(1, __file__, ["--worker", str(n)])
        r2 = run_ranks(2, __file__, ["--worker", str(n)])
        tag = f"n{n}"
        figures[f"dofs_{tag}"] = r1["dofs"]
        for r, res in ((1, r1), (2, r2)):
            for k in ("build_s", "partition_s", "assembly_s"):
                figures[f"{k}_{tag}_{r}rank"] = round(res[k], 4)
            figures[f"nnz_per_s_{tag}_{r}rank"] = round(res["nnz"] / res["assembly_s"], 1)
            figures[f"peak_mem_mb_{tag}_{r}rank"] = round(res["peak_mem_mb_per_rank"], 1)
        total1 = r1["build_s"] + r1["partition_s"] + r1["assembly_s"]
        total2 = r2["build_s"] + r2["partition_s"] + r2["assembly_s"]
        figures[f"speedup_2_ranks_{tag}"] = round(total1 / total2, 3)
    big = f"n{sizes[-1]}"
    figures["dofs_largest"] = figures[f"dofs_{big}"]
    figures["assembly_s_largest_2rank"] = figures[f"assembly_s_{big}_2rank"]
    figures["total_s_largest_2rank"] = round(sum(figures[f"{k}_{big}_2rank"] for k in
                                                 ("build_s", "partition_s", "assembly_s")), 4)
    figures["speedup_2_ranks_largest"] = figures[f"speedup_2_ranks_{big}"]
    targets = {"assembly_s_largest_2rank": ["<", 10.0], "speedup_2_ranks_largest": [">=", 1.6]}
    if not args.quick:
        targets["dofs_largest"] = [">=", 1.0e6]
    emit("assembly", figures, targets)


if __name__ == "__main__":
    main()
