"""Benchmark: the online reduced model on the built-in blade, against the reference solver on the same case.

Training (``dromo offline`` on 2 ranks): two runs of one start-up/hold/shut-down/rest cycle of the blade
(5 s) at two load levels — rotation speed ω and temperature rise ×0.9 and ×1.1 (``speed``/``heat`` as in
the built-in case). Unseen case: ω and temperature rise ×1.0 over a longer span, 7.5 s (the first cycle
and the start-up and hold of the second). The reference
solver runs the unseen case on 2 ranks with its tuned settings (the hf_solver benchmark's solver: MUMPS
up to 2e4 dofs, GAMG beyond); the ROM runs it online on 1 rank (same time-stepping options); errors by
``dromo.io.compare`` (max over time of ‖u_ROM − u_HF‖ / max over time of ‖u_HF‖, the same for the
cumulated plastic strain p reconstructed by Gappy-POD).

Figures per size (``_small``, ``_medium``): HF s/increment (2 ranks), ROM s/increment (1 rank), speed-up,
u error, p error, modes, reduced points, offline time by stage; ``online_time_medium_over_small`` (the
online cost must not grow with the mesh).

    .venv/bin/python benchmarks/rom_online.py --quick    # small blade (≈ 1e4 dofs): about 1 min
    .venv/bin/python benchmarks/rom_online.py            # small and medium (≈ 2.6e5 dofs): about 1 h
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, run_ranks  # noqa: E402

#: (ω factor, temperature factor) of the two training runs and of the unseen case
TRAIN = ((0.9, 0.9), (1.1, 1.1))
TEST = (1.0, 1.0)


def variant(text, speed_factor, heat_factor, cycles_text=None):
    """The blade case text with ω scaled (the force scales with ω²) and the temperature rise scaled."""
    text = re.sub(r"^omega = ([0-9.eE+-]+)$", lambda m: f"omega = {float(m.group(1)) * speed_factor!r}", text,
                  flags=re.M)
    text = text.replace('expression = "293.0 + a * (', f'expression = "293.0 + {heat_factor!r} * a * (')
    return text


def write_cases(folder, size, train_cycles, test_cycles, test_end=None):
    from dromo.hf.cases import blade
    from dromo.hf.cases import write_case
    t = time.perf_counter()
    write_case("blade", folder, size)
    mesh_s = time.perf_counter() - t
    for name, (fs, fh), cyc in (("train_a", TRAIN[0], train_cycles), ("train_b", TRAIN[1], train_cycles),
                                ("test", TEST, test_cycles)):
        text = variant(blade.case_text(size, cycles=cyc), fs, fh)
        if name == "test" and test_end is not None:
            text = re.sub(r"^end = [0-9.]+$", f"end = {test_end!r}", text, flags=re.M)
        with open(os.path.join(folder, f"{name}.toml"), "w") as f:
            f.write(text)
    with open(os.path.join(folder, "train.toml"), "w") as f:
        f.write('[[run]]\ncase = "train_a.toml"\nresult = "train_a.h5"\n'
                '[[run]]\ncase = "train_b.toml"\nresult = "train_b.h5"\n'
                '[pod]\ntol = 1e-5\n[ecm]\ntol = 1e-5\nstress_tol = 1e-6\n[dual]\nfields = ["S", "p"]\ntol = 1e-5\n')
    return mesh_s


def worker_offline(folder):
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.rom.offline import build
    from dromo.rom.training import load_training
    comm = MPI.COMM_WORLD
    t0 = time.perf_counter()
    runs, opts = load_training(os.path.join(folder, "train.toml"), comm)        # solves the training runs
    t1 = time.perf_counter()
    rom = build(runs, comm, **opts)
    t2 = time.perf_counter()
    rom.save(os.path.join(folder, "rom.h5"), comm)
    t3 = time.perf_counter()
    if comm.rank == 0:
        print(json.dumps(dict(hf_training_s=t1 - t0, reduce_s=t2 - t1, write_s=t3 - t2, modes=rom.n_modes,
                              points=rom.n_points, ecm_points=int(rom.quadrature["n_ecm_points"]),
                              ecm_error=rom.quadrature["error"])))


def worker_hf(folder):
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.hf import load_case, run
    comm = MPI.COMM_WORLD
    pb, _opts = load_case(os.path.join(folder, "test.toml"), comm)
    _st, s = run(pb, os.path.join(folder, "hf_test.h5"), checkpoint_every=0)
    if comm.rank == 0:
        print(json.dumps(dict(dofs=pb.dm.n_dofs_global, increments=s["increments"],
                              s_per_increment=s["seconds"] / max(s["increments"], 1), solver=s["linear_solver"])))


def worker_online(folder):
    import dromo  # noqa: F401
    from mpi4py import MPI
    from dromo.io.compare import compare_results
    from dromo.rom.model import ReducedModel
    from dromo.rom.online import prepare
    from dromo.rom.result import write_result
    comm = MPI.COMM_WORLD
    t0 = time.perf_counter()
    rom = ReducedModel.load(os.path.join(folder, "rom.h5"), comm)
    prepare(rom, os.path.join(folder, "test.toml"), comm)              # warm-up: laws, imports
    t1 = time.perf_counter()
    res = rom.solve(os.path.join(folder, "test.toml"))
    t2 = time.perf_counter()
    out = os.path.join(folder, "rom_test.h5")
    write_result(rom, res, out, fields=("U", "p"), comm=comm)
    cmp = compare_results(out, os.path.join(folder, "hf_test.h5"), ["U", "p"], comm, outside="skip")
    s = res.summary
    if comm.rank == 0:
        print(json.dumps(dict(load_s=t1 - t0, online_s=t2 - t1, increments=s["increments"],
                              newton=s["newton_iterations"],
                              s_per_increment=s["seconds"] / max(s["increments"], 1),
                              u_error=cmp["U"].max_rel_error, p_error=cmp["p"].max_rel_error,
                              indicator_p=max(res.indicator.get("p", [0.0])))))


def run_size(size, quick):
    folder = tempfile.mkdtemp(prefix=f"rom_online_{size}_")
    try:
        # training: one start-up/shut-down cycle (5 s); unseen case: one and a half cycles (7.5 s)
        mesh_s = write_cases(folder, size, 1, 2, test_end=7.5)
        script = os.path.abspath(__file__)
        off = run_ranks(2, script, ["--worker", "offline", folder], timeout=12 * 3600)
        hf = run_ranks(2, script, ["--worker", "hf", folder], timeout=12 * 3600)
        on = run_ranks(1, script, ["--worker", "online", folder], timeout=3600)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {f"dofs_{size}": hf["dofs"], f"mesh_s_{size}": mesh_s,
            f"hf_s_per_increment_{size}": hf["s_per_increment"], f"hf_increments_{size}": hf["increments"],
            f"hf_solver_{size}": hf["solver"],
            f"rom_s_per_increment_{size}": on["s_per_increment"], f"rom_increments_{size}": on["increments"],
            f"rom_newton_iterations_{size}": on["newton"],
            f"speedup_{size}": hf["s_per_increment"] / on["s_per_increment"],
            f"u_error_{size}": on["u_error"], f"p_error_{size}": on["p_error"],
            f"indicator_p_{size}": on["indicator_p"],
            f"modes_{size}": off["modes"], f"points_{size}": off["points"], f"ecm_points_{size}": off["ecm_points"],
            f"offline_hf_training_s_{size}": off["hf_training_s"], f"offline_reduce_s_{size}": off["reduce_s"],
            f"offline_write_s_{size}": off["write_s"], f"online_load_s_{size}": on["load_s"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small blade only, one training cycle")
    ap.add_argument("--worker", nargs=2)
    a = ap.parse_args()
    if a.worker:
        {"offline": worker_offline, "hf": worker_hf, "online": worker_online}[a.worker[0]](a.worker[1])
        return
    figures = run_size("small", a.quick)
    if a.quick:
        targets = {"u_error_small": ["<=", 0.01], "p_error_small": ["<=", 0.03]}
    else:
        figures.update(run_size("medium", False))
        figures["online_time_medium_over_small"] = \
            figures["rom_s_per_increment_medium"] / figures["rom_s_per_increment_small"]
        targets = {"speedup_medium": [">=", 1000.0], "u_error_medium": ["<=", 0.01], "p_error_medium": ["<=", 0.03],
                   "online_time_medium_over_small": ["<=", 1.3], "u_error_small": ["<=", 0.01],
                   "p_error_small": ["<=", 0.03]}
    for k in ("u_error", "p_error", "speedup"):
        for s in ("small", "medium"):
            if f"{k}_{s}" in figures:
                figures.setdefault(k, figures[f"{k}_{s}"])
    emit("rom_online", figures, targets)


if __name__ == "__main__":
    main()
