"""Benchmark of dromo at scale: what each rank holds and sends, per stage, at P = 1, 2, 4, 8 ranks
(oversubscribed on this 2-core machine: memory and counts, not times), checked against the cost model of
``docs/scaling.md`` (:mod:`dromo.parallel.cost_model`). Prints one JSON line.

Each rank count is one ``launch/mpirun.sh -n P`` run of ``scale.py --worker`` that, on a
:class:`~dromo.parallel.counting.CountingComm` (counts bytes and messages per stage),

* **setup**: reads the blade mesh from a dromo archive (each rank its stripes; the archive is written once
  from the ``.msh`` and cached) and builds the :class:`DistributedMesh` (distributed partition, migration,
  numbering); per-rank peak RSS (VmHWM) right after it and the bytes of the arrays the DistributedMesh
  holds. A second run per rank count does the set-up from the ``.msh`` file instead
  (:meth:`DistributedMesh.from_file`: at more than one rank the file is parsed on rank 0 in pieces sent to the
  ranks as they are parsed, never whole; at one rank the serial reader): ``setup_file_*``;
* **pod_snapshots** / **tsqr**: a POD of ``m`` synthetic snapshots on the mesh's owned dofs by the method of
  snapshots, then the tree TSQR; the root's largest holding during the reduction (``stats["held_bytes"]``);
* **ecm**: the global ECM greedy on a synthetic integrand of ``p`` functions at the owned integration points;
* **import**: ``import_results`` of a ccx ``.frd`` (the import benchmark's quick box).

Figures
-------
setup_mem_8_over_1 : max over ranks of the set-up peak RSS at 8 ranks / at 1 rank, set-up from the
    archive (target ≤ 0.35).
setup_excess_mem_8_over_1 : the same for the set-up's own memory, the peak RSS less that of the process with
    its libraries loaded (PETSc, h5py: ``loaded_process_mb``), max over ranks (ideal ≈ 1/8 plus the halo).
setup_file_mem_8_over_1 : the same for the set-up from the mesh file (read in pieces: no rank holds the
    whole mesh; no target). ``setup_file_serial_read_mem_8_over_1``: the same with the former path (the
    serial reader on rank 0, stripes sent), for comparison.
tsqr_root_bytes_over_m2 : rank 0's largest holding during the TSQR reduction at P = 8, in m² doubles (≤ 4).
tsqr_gather_root_bytes_over_m2 : the same for the former gather (P + 2), for comparison.
import_speedup_2ranks : wall time of ``import_results`` (deck already read) at 1 rank / 2 ranks on the
    import benchmark's file (full: 46³ box, 325 MB; --quick: 12³), best of ``--repeats`` alternating runs.
import_speedup_2ranks_with_deck : the same including the deck read on rank 0 (serial today).
cost_model_error : worst relative difference, over stages and P, between the model's and the measured
    bytes sent and messages of the busiest rank (max over ranks), and held set-up bytes.

    .venv/bin/python benchmarks/scale.py --quick      # small blade, P = 1, 2, 8, seconds
    .venv/bin/python benchmarks/scale.py              # large blade (1.08e6 dofs), P = 1, 2, 4, 8
    .venv/bin/python benchmarks/scale.py --setup-file-only   # only the set-up from the .msh file
"""
import argparse
import importlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, emit, proc_status_bytes, run_ranks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out", "scale")


def worker(cfg):
    import numpy as np
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.io.adapters import import_results
    from dromo.io.adapters.calculix import CalculixReader
    from dromo.io.archive import Archive
    from dromo.mesh.distributed import DistributedMesh
    from dromo.parallel.counting import CountingComm, held_bytes
    from dromo.reduction import pod
    from dromo.reduction.ecm import ecm_greedy
    from dromo.reduction.svd import tsqr_r
    import dromo.io.archive  # noqa: F401
    comm = MPI.COMM_WORLD
    cc = CountingComm(comm)
    out = {"P": comm.size, "empty_peak": proc_status_bytes("VmHWM")}
    from petsc4py import PETSc  # noqa: F401  (the libraries the set-up loads: PETSc with PTScotch, h5py)
    import h5py  # noqa: F401
    out["loaded_peak"] = proc_status_bytes("VmHWM")
    # -- set-up from the archive's mesh: every rank reads its stripes, distributed partition and migration
    with cc.stage("setup"):
        with Archive.open(cfg["archive"], cc) as ar:
            stripes = ar.read_mesh_stripes()
        dm = DistributedMesh(stripes, cc)
        del stripes
    out["setup_peak"] = proc_status_bytes("VmHWM")
    out["setup_held"] = held_bytes(dm)
    out["mesh"] = mesh_statistics(dm, comm)
    n_dofs_local = 3 * dm.n_owned_nodes
    n_ip_local = dm.n_ip_local
    ip_ids = dm.ip_natural
    # -- POD: method of snapshots, then the tree TSQR (and the former gather, for its root memory)
    m = cfg["m"]
    rng = np.random.default_rng(comm.rank)
    U = rng.standard_normal((n_dofs_local, m)) * np.logspace(0, -6, m)
    with cc.stage("pod_snapshots"):
        basis = pod(U, comm=cc, method="snapshots", tol=1e-4)
    out["pod"] = {"m": m, "k": int(basis.n_kept)}
    st, st_g = {}, {}
    with cc.stage("tsqr"):
        tsqr_r(U, cc, stats=st)
    tsqr_r(U, comm, tree=False, stats=st_g)
    out["tsqr_held"] = comm.gather(st["held_bytes"])
    out["tsqr_gather_held"] = st_g["held_bytes"]
    del U
    # -- ECM (global greedy) on a synthetic integrand at the owned integration points
    p = cfg["p"]
    J = rng.standard_normal((n_ip_local, p))
    J[:, 0] = 1.0
    with cc.stage("ecm"):
        rq = ecm_greedy(J, np.ones(n_ip_local), ip_ids, cc, tol=1e-6, warn=False)
    out["ecm"] = {"p": p, "points": int(rq.n_points), "iterations": int(rq.n_iterations)}
    # -- import of a ccx .frd
    reader = CalculixReader(cfg["deck"], cfg["frd"]) if comm.rank == 0 else None
    path = os.path.join(OUT, f"import_{comm.size}.h5")
    with cc.stage("import"):
        written = import_results(reader, path, cc)
    from dromo.mesh.inp import read_inp
    imesh = read_inp(cfg["deck"]) if comm.rank == 0 else None
    from dromo.parallel.cost_model import import_params
    out["import"] = {"increments": written["U"], "fields": len(written),
                     "mesh_bytes": held_bytes(imesh) if imesh is not None else 0,
                     "mesh": import_params(imesh, comm.size) if imesh is not None else {}}
    if comm.rank == 0:
        for f in (path, path[:-3] + ".xdmf"):
            os.remove(f)
    out["counts"] = comm.gather({s: list(v) for s, v in cc.totals().items()})
    out["sites"] = comm.gather({f"{s} {site}": v for (s, site), v in cc.counts.items()})
    out["setup_peak"] = comm.gather(out["setup_peak"])
    out["setup_held"] = comm.gather(out["setup_held"])
    out["empty_peak"] = comm.gather(out["empty_peak"])
    out["loaded_peak"] = comm.gather(out["loaded_peak"])
    if comm.rank == 0:
        print(json.dumps(out), flush=True)


def mesh_statistics(dm, comm):
    """Sizes of the mesh and of its dual graph that the set-up's cost model takes (computed collectively
    from the stripes, outside the counted stage): nodes, cells, nodes and corners per cell, Σ over corner
    nodes of (cells touching it)², graph edges, owned + ghost nodes over all ranks, set members and bytes."""
    import numpy as np
    from mpi4py import MPI
    from dromo.mesh.meshdata import NODES_PER_CELL
    from dromo.mesh.partition import GRAPH_ROUND_CELLS, _corner_pairs
    from dromo.parallel.counting import held_bytes
    from dromo.parallel.exchange import Exchange, stripe_of
    st = dm.stripes
    sizes = np.diff(st.block_offsets)
    nn = sum(int(n) * NODES_PER_CELL[t] for n, t in zip(sizes, st.block_types))
    pairs = _corner_pairs(st, st.cell_start, st.cell_stop)
    got = Exchange(stripe_of(pairs[:, 0], st.n_nodes, comm.size), comm).forward(pairs[:, 0])
    deg = np.bincount(got - st.node_start, minlength=st.node_stop - st.node_start).astype(np.int64)
    sets = [st.node_sets, st.element_sets]
    return {"n_nodes": st.n_nodes, "n_cells": st.n_cells, "n_ip": dm.n_ip_global,
            "nodes_per_cell": int(nn / max(1, st.n_cells)),
            "corners": comm.allreduce(len(pairs)) / max(1, st.n_cells),
            "incidence": comm.allreduce(int((deg ** 2).sum())), "edges": dm.quality["edges"],
            "local_nodes": comm.allreduce(dm.n_local_nodes),
            "set_members": comm.allreduce(sum(len(v) for d in sets for v in d.values())),
            "n_sets": sum(len(d) for d in sets), "n_blocks": st.n_blocks,
            "rounds": comm.allreduce(-(-(st.cell_stop - st.cell_start) // GRAPH_ROUND_CELLS), op=MPI.MAX),
            "bytes": comm.allreduce(held_bytes([st.points, st.node_ids, st.cells, st.cell_ids,
                                                st.node_sets, st.element_sets, st.facet_sets])),
            "set_bytes": comm.allreduce(held_bytes([st.node_sets, st.element_sets, st.facet_sets]))}


def setup_file_worker(cfg):
    """The set-up from the mesh file: peak RSS per rank. ``cfg["stream"]``: False for the former path (the
    serial reader on rank 0, stripes sent), else :meth:`DistributedMesh.from_file`'s (pieces)."""
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.mesh.distributed import DistributedMesh
    from dromo.mesh.file_stripes import read_file_stripes
    comm = MPI.COMM_WORLD
    if cfg.get("stream", True):
        DistributedMesh.from_file(cfg["mesh"], comm)
    else:
        DistributedMesh(read_file_stripes(cfg["mesh"], comm, stream=False), comm)
    peak = comm.gather(proc_status_bytes("VmHWM"))
    if comm.rank == 0:
        print(json.dumps({"setup_file_peak": peak}), flush=True)


def setup_file_figures(cfg, ranks, figures):
    """``setup_file_*`` figures: the set-up from the mesh file at each rank count, in pieces and (for
    comparison) by the serial reader on rank 0."""
    Pmax = max(ranks)
    for key, stream in (("setup_file", True), ("setup_file_serial_read", False)):
        runs = {P: run_ranks(P, __file__, ["--worker", json.dumps(dict(cfg, task="setup_file", stream=stream))])
                for P in ranks}
        for P in ranks:
            figures[f"{key}_peak_mb_{P}"] = [round(b / 1e6, 1) for b in runs[P]["setup_file_peak"]]
        figures[f"{key}_mem_8_over_1"] = round(max(runs[Pmax]["setup_file_peak"]) / max(runs[1]["setup_file_peak"]), 3)


def convert_worker(cfg):
    """Write the blade mesh into a dromo archive (the striped input of the set-up), on one rank."""
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.io.archive import Archive
    from dromo.mesh.readers import read_mesh
    mesh = read_mesh(cfg["mesh"])
    with Archive.create(cfg["archive"], MPI.COMM_WORLD) as ar:
        ar.write_mesh(mesh)
    print(json.dumps({"archive": cfg["archive"]}), flush=True)


def blade_mesh(size):
    """The built-in blade's gmsh mesh at ``size`` (cached in benchmarks/out/scale/)."""
    path = os.path.join(OUT, f"blade_{size}.msh")
    if not os.path.isfile(path):
        os.makedirs(OUT, exist_ok=True)
        from dromo.hf.cases import blade
        sys.stderr.write(f"scale benchmark: meshing the {size} blade with gmsh...\n")
        blade.mesh(path + ".tmp.msh", size)
        os.replace(path + ".tmp.msh", path)
    return path


def import_timing(deck, frd, repeats):
    """Best wall times (import only, and with the deck read) of the import benchmark's worker at 1 and
    2 ranks, runs alternating so a change of machine load hits both."""
    imp = importlib.import_module("import")
    best = {1: (1e30, 1e30), 2: (1e30, 1e30)}
    for _ in range(repeats):
        for n in (1, 2):
            r = run_ranks(n, imp.__file__, ["--worker", deck, frd, os.path.join(OUT, f"imp_{n}.h5")])
            w = r["wall_s"] - r["mesh_s"]
            best[n] = (min(best[n][0], w), min(best[n][1], r["wall_s"]))
    return best


def import_figures(imp, args):
    """The import speed-up at 2 ranks on the import benchmark's file (quick: its small box)."""
    n, n_inc = (12, 4) if args.quick else (46, 12)
    deck, frd = imp.case(n, n_inc)
    load = os.getloadavg()[0]
    best = import_timing(deck, frd, args.repeats or (1 if args.quick else 3))
    return {"import_file_mb": round(os.path.getsize(frd) / 1e6, 1),
            "import_s_1_2_ranks": [round(best[1][0], 3), round(best[2][0], 3)],
            "import_with_deck_s_1_2_ranks": [round(best[1][1], 3), round(best[2][1], 3)],
            "import_speedup_2ranks": round(best[1][0] / best[2][0], 3),
            "import_speedup_2ranks_with_deck": round(best[1][1] / best[2][1], 3),
            "load_average_before_after": [round(load, 2), round(os.getloadavg()[0], 2)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", default=None, help="blade size (default: large; --quick: small)")
    ap.add_argument("--ranks", type=int, nargs="+", default=None)
    ap.add_argument("--repeats", type=int, default=None, help="import timing runs per rank count")
    ap.add_argument("--import-only", action="store_true",
                    help="measure only the import speed-up (prints its figures, no targets checked)")
    ap.add_argument("--setup-file-only", action="store_true",
                    help="measure only the set-up from the mesh file (setup_file_*; no targets checked)")
    ap.add_argument("--skip-import", action="store_true",
                    help="leave out the import speed-up timing (its target is then not checked)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        cfg = json.loads(args.worker)
        return {"setup": worker, "setup_file": setup_file_worker, "convert": convert_worker}[cfg["task"]](cfg)
    sys.path.insert(0, ROOT)
    from dromo.parallel import cost_model
    size = args.size or ("small" if args.quick else "large")
    ranks = args.ranks or ([1, 2, 8] if args.quick else [1, 2, 4, 8])
    imp = importlib.import_module("import")
    if args.import_only:
        figures = import_figures(imp, args)
        print(json.dumps({"benchmark": "scale_import", "figures": figures}), flush=True)
        return 0
    deck_q, frd_q = imp.case(12, 4)
    cfg = {"mesh": blade_mesh(size), "m": 20 if args.quick else 100, "p": 20 if args.quick else 60,
           "deck": deck_q, "frd": frd_q}
    cfg["archive"] = cfg["mesh"][:-4] + "_mesh.h5"
    if not os.path.isfile(cfg["archive"]) or os.path.getmtime(cfg["archive"]) < os.path.getmtime(cfg["mesh"]):
        run_ranks(1, __file__, ["--worker", json.dumps(dict(cfg, task="convert"))])
    if args.setup_file_only:
        figures = {"blade": size, "ranks": ranks, "mesh_file_mb": round(os.path.getsize(cfg["mesh"]) / 1e6, 1)}
        setup_file_figures(cfg, ranks, figures)
        print(json.dumps({"benchmark": "scale_setup_file", "figures": figures}), flush=True)
        return 0
    runs = {}
    for P in ranks:
        runs[P] = run_ranks(P, __file__, ["--worker", json.dumps(dict(cfg, task="setup"))])
    figures = {"blade": size, "ranks": ranks, "dofs": 3 * runs[ranks[0]]["mesh"]["n_nodes"], "m": cfg["m"]}
    for P in ranks:
        figures[f"setup_peak_mb_{P}"] = [round(b / 1e6, 1) for b in runs[P]["setup_peak"]]
    figures["empty_process_mb"] = round(max(runs[ranks[0]]["empty_peak"]) / 1e6, 1)
    figures["loaded_process_mb"] = round(max(runs[ranks[0]]["loaded_peak"]) / 1e6, 1)
    Pmax = max(ranks)
    figures["setup_mem_8_over_1"] = round(max(runs[Pmax]["setup_peak"]) / max(runs[1]["setup_peak"]), 3)
    excess = {P: max(a - b for a, b in zip(runs[P]["setup_peak"], runs[P]["loaded_peak"])) for P in ranks}
    figures["setup_excess_mem_8_over_1"] = round(excess[Pmax] / excess[1], 3)
    setup_file_figures(cfg, ranks, figures)
    m2 = 8.0 * cfg["m"] ** 2
    figures["tsqr_root_bytes_over_m2"] = round(runs[Pmax]["tsqr_held"][0] / m2, 3)
    figures["tsqr_max_rank_bytes_over_m2"] = round(max(runs[Pmax]["tsqr_held"]) / m2, 3)
    figures["tsqr_gather_root_bytes_over_m2"] = round(runs[Pmax]["tsqr_gather_held"] / m2, 3)
    check = cost_model.compare(runs, cfg)
    figures["cost_model"] = check["stages"]
    figures["cost_model_error"] = round(check["worst"], 4)
    figures["cost_model_worst"] = check["where"]
    targets = {"setup_mem_8_over_1": ["<=", 0.35], "tsqr_root_bytes_over_m2": ["<=", 4.0],
               "import_speedup_2ranks": [">=", 1.6], "cost_model_error": ["<=", 0.2]}
    if args.skip_import:
        del targets["import_speedup_2ranks"]
    else:
        figures.update(import_figures(imp, args))
    emit("scale", figures, targets)


if __name__ == "__main__":
    sys.exit(main())
