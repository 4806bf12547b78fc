"""Benchmark: the adaptive reduced model (``dromo adapt``) extrapolating cyclic loading on the built-in blade.

Training (2 ranks): one start-up/hold/shut-down/rest cycle (5 s) of the small blade at nominal
conditions; ``dromo offline`` with the dual fields S and p. Calibration of the error indicator
(``dromo calibrate``): one cycle at each of ``N_CAL`` unseen loadings (rotation speed and temperature-rise
factors around nominal; HF references on 2 ranks); the Spearman rank correlation between the indicator
(max over time) and the true u error of each run, and a PNG scatter plot in ``benchmarks/out/``.
All runs use fixed increments of 0.25 s, so the HF and reduced results have the same times.
Extrapolation: ``CYCLES`` cycles hotter and faster (ω × ``SPEED``, temperature rise × ``HEAT``):

* the HF reference on 2 ranks (set-up, then the time loop, timed apart);
* plain ``dromo online`` (its errors: expected large);
* ``dromo adapt --field S p --tol 0.003 0.03`` (raw indicators: S catches the elastic start-up where p
  is still zero, p the plastic flow) on 2 ranks; errors against the reference by
  :func:`dromo.io.compare.compare_results` (max over time of ‖a − b‖ / max over time of ‖b‖).

``speedup`` compares the two time loops (adapt's includes its HF increments, state rebuilds and model
updates); ``speedup_with_setup`` adds each side's set-up (mesh read and partition, problem; adapt also
reads the model and its distributed operators). Three figures explain the small case's bound:
``speedup_ceiling`` = increments / HF increments (the speed-up if reduced increments and updates were
free and an HF increment cost the continuous run's mean), ``hf_isolated_over_continuous``, the cost of one
HF increment inside adapt (a fresh factorization, from a state rebuilt from the ROM; in the hot, plastic part
of a cycle, where the enrichments happen) over the mean increment of the continuous HF run (whose factors
are reused over increments, most of them elastic), and ``speedup_bound_hf_increments`` = the HF run's time
over adapt's HF increments alone (the speed-up if everything else in adapt were free). The continuous run's
own time for the same increments, ``hf_same_increments_s``, separates what is adapt's from what is the
increments': ``speedup_bound_same_increments`` = the HF run's time over it (adapt's HF increments as cheap as
the continuous run's, everything else free) and ``hf_isolated_over_same_increments`` = adapt's over it.

Other figures: u_error, p_error (adapt), online_u_error, online_p_error (plain online), enrichments,
hf_increments, increments, hf_fraction, modes/points before and after, rom_ms_per_increment, spearman
(per run), spearman_step, and the state-rebuild method comparison (``--methods``: replay and gappy,
(``replay_*``, ``gappy_*``) both on a model trained with every internal variable as a dual field, which
Gappy-POD needs).

``--size medium`` (2.6e5 dofs): the same runs without calibration; the HF reference covers the first hot
cycle only (where the enrichments happen), its loop time for all the cycles is extrapolated per
increment (``hf_s_extrapolated``), and the errors are over that first cycle (``errors_over_cycles``).

    .venv/bin/python benchmarks/rom_adapt.py --quick    # 2 cycles, 4 calibration runs: a few minutes
    .venv/bin/python benchmarks/rom_adapt.py            # 10 cycles, 10 calibration runs
    .venv/bin/python benchmarks/rom_adapt.py --size medium   # 2.6e5 dofs: about 25 min on 2 quiet cores
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, run_ranks  # noqa: E402
from rom_online import variant  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
#: (speed, heat) factors of the calibration loadings (one cycle each)
CAL = ((0.9, 0.9), (1.05, 1.25), (1.15, 1.0), (0.95, 1.15), (1.1, 1.1), (1.2, 1.3), (1.0, 0.85),
       (1.2, 1.05), (0.9, 1.3), (1.15, 1.2))
SPEED, HEAT = 1.1, 1.2
#: indicator fields and their tolerances (raw indicators): S catches the elastic start-up, where p is zero
FIELDS, TOLS = ("S", "p"), (0.003, 0.03)
#: the fixed time step of every case (s)
DT = 0.25


def write_cases(folder, cycles, n_cal, size="small", sample_cycles=None):
    """The case files; with ``sample_cycles`` the HF reference ``test.toml`` covers only the first
    ``sample_cycles`` cycles of the adaptive run's ``adapt.toml`` (else both are the same case)."""
    from dromo.hf.cases import blade, write_case
    write_case("blade", folder, size)
    cases = {"nominal": (1.0, 1.0, 1, None)}
    cases.update({f"cal{i}": (s, h, 1, None) for i, (s, h) in enumerate(CAL[:n_cal])})
    cases["adapt"] = (SPEED, HEAT, cycles, None)
    cases["test"] = (SPEED, HEAT, cycles, None if sample_cycles is None else 5.0 * sample_cycles)
    for name, (s, h, c, end) in cases.items():
        with open(os.path.join(folder, f"{name}.toml"), "w") as f:
            # fixed increments: the HF and reduced runs then have the same times (no interpolation in the errors)
            f.write(variant(blade.case_text(size, cycles=c, end=end), s, h).replace(f"dt = {DT}\n",
                                                                                    f"dt = {DT}\nfixed = true\n"))
    # train_all.toml: every internal variable a dual field too (for the Gappy-POD state rebuild)
    for name, fields in (("train", '["S", "p"]'), ("train_all", '["S", "p", "eps_p", "alpha_1", "alpha_2"]')):
        with open(os.path.join(folder, f"{name}.toml"), "w") as f:
            f.write('[[run]]\ncase = "nominal.toml"\nresult = "nominal.h5"\n[pod]\ntol = 1e-5\n[ecm]\ntol = 1e-5\n'
                    f'stress_tol = 1e-6\n[dual]\nfields = {fields}\ntol = 1e-5\n')


def worker(kind, folder, *args):
    import dromo  # noqa: F401
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    out = {}
    if kind == "hf":
        from dromo.hf import load_case, run
        comm.Barrier()
        t0 = time.perf_counter()
        pb, _ = load_case(os.path.join(folder, f"{args[0]}.toml"), comm)
        setup = time.perf_counter() - t0
        _st, s = run(pb, os.path.join(folder, f"{args[0]}.h5"), checkpoint_every=0)
        out = dict(seconds=s["seconds"], setup_s=setup, increments=s["increments"], dofs=pb.dm.n_dofs_global,
                   increment_seconds=s["increment_seconds"])
    elif kind == "offline":
        from dromo.rom.offline import build
        from dromo.rom.training import load_training
        runs, opts = load_training(os.path.join(folder, args[1]), comm)
        rom = build(runs, comm, **opts)
        rom.save(os.path.join(folder, args[0]), comm)
        out = dict(modes=rom.n_modes, points=rom.n_points)
    elif kind == "calibrate":
        from dromo.rom.indicator import calibrate, plot_calibration
        from dromo.rom.model import ReducedModel
        rom = ReducedModel.load(os.path.join(folder, args[0]), comm)
        runs = [(os.path.join(folder, f"cal{i}.toml"), os.path.join(folder, f"cal{i}.h5")) for i in range(int(args[1]))]
        for f in ("S", "p"):
            cal, report = calibrate(rom, runs, comm, field=f, measure="u")
            rom.save_calibration(cal, os.path.join(folder, "rom_calibrated.h5"))
            if comm.rank == 0:
                os.makedirs(OUT, exist_ok=True)
                plot_calibration(cal, report, os.path.join(OUT, f"rom_adapt_indicator_{f}.png"))
            out.update({f"spearman_{f}": cal.spearman_run, f"spearman_step_{f}": cal.spearman_step,
                        f"runs_{f}": [[r["indicator"], r["error"]] for r in report]})
    elif kind == "online":
        from dromo.io.compare import compare_results
        from dromo.rom.model import ReducedModel
        rom = ReducedModel.load(os.path.join(folder, args[0]), comm)
        res = rom.solve(os.path.join(folder, "adapt.toml"), os.path.join(folder, "online.h5"), ("U", "p"))
        c = compare_results(os.path.join(folder, "online.h5"), os.path.join(folder, "test.h5"), ["U", "p"], comm,
                            outside="skip")
        out = dict(u_error=c["U"].max_rel_error, p_error=c["p"].max_rel_error, seconds=res.summary["seconds"])
    elif kind == "adapt":
        from dromo.io.compare import compare_results
        from dromo.rom.adapt import adapt, write_adapt_result
        from dromo.rom.model import ReducedModel
        rom = ReducedModel.load(os.path.join(folder, args[0]), comm)
        comm.Barrier()
        t0 = time.perf_counter()
        r = adapt(rom, os.path.join(folder, "adapt.toml"), dict(zip(FIELDS, TOLS)), comm, method=args[1])
        comm.Barrier()
        total = time.perf_counter() - t0
        res = os.path.join(folder, f"adapt_{args[1]}_{args[0]}")
        write_adapt_result(r, res, ("U", "p"))
        c = compare_results(res, os.path.join(folder, "test.h5"), ["U", "p"], comm, outside="skip")
        e = r.history.enrichments
        out = dict(seconds=r.summary["seconds"], total_s=total, u_error=c["U"].max_rel_error, p_error=c["p"].max_rel_error,
                   enrichments=len(e), hf_increments=r.summary["hf_increments"], increments=r.summary["increments"],
                   modes_before=rom.n_modes, modes_after=r.rom.n_modes, points_before=rom.n_points,
                   points_after=r.rom.n_points, rebuild_s=sum(x["seconds_rebuild"] for x in e),
                   hf_increment_s=sum(x["seconds_hf"] for x in e), enrichment_s=sum(x["seconds"] for x in e),
                   enrichment_times=[x["time"] for x in e])
    if comm.rank == 0:
        print(json.dumps(out))


def same_increments(hf, ad, hf_s):
    """The continuous HF run's own time for the increments adapt computed in HF (fixed steps of ``DT``: the
    increment ending at t is the run's increment ``round(t / DT)``), and the speed-up it bounds:
    ``hf_same_increments_s``, ``speedup_bound_same_increments`` = HF loop / that (the speed-up if adapt's HF
    increments cost what the continuous run paid for them and everything else were free),
    ``hf_isolated_over_same_increments`` = adapt's HF increments / that. Empty when the reference does not
    cover them (``--size medium``: its first cycle only)."""
    secs = hf["increment_seconds"]
    idx = [int(round(t / DT)) - 1 for t in ad["enrichment_times"]]
    if not idx or max(idx) >= len(secs):
        return {}
    same = float(sum(secs[i] for i in idx))
    return dict(hf_same_increments_s=same, speedup_bound_same_increments=hf_s / same,
                hf_isolated_over_same_increments=ad["hf_increment_s"] / same)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 cycles, 4 calibration runs")
    ap.add_argument("--size", choices=("small", "medium"), default="small",
                    help="medium: the HF reference covers the first cycle only, its time for all the cycles is "
                         "extrapolated from it (per increment), errors are over that cycle, no calibration runs")
    ap.add_argument("--methods", action="store_true", help="also measure the gappy state rebuild")
    ap.add_argument("--keep", default=None, help="keep the work folder there")
    ap.add_argument("--worker", nargs="+")
    a = ap.parse_args()
    if a.worker:
        worker(*a.worker)
        return
    cycles, n_cal = (2, 4) if a.quick else (10, 10)
    sample = None
    if a.size != "small":
        n_cal, sample = 0, 1
    folder = a.keep or tempfile.mkdtemp(prefix="rom_adapt_")
    os.makedirs(folder, exist_ok=True)
    me = os.path.abspath(__file__)
    try:
        write_cases(folder, cycles, n_cal, a.size, sample)
        run_ranks(2, me, ["--worker", "offline", folder, "rom.h5", "train.toml"], timeout=4 * 3600)
        cal = {}
        if n_cal:
            for i in range(n_cal):
                run_ranks(2, me, ["--worker", "hf", folder, f"cal{i}"], timeout=7200)
            cal = run_ranks(2, me, ["--worker", "calibrate", folder, "rom.h5", str(n_cal)], timeout=7200)
        hf = run_ranks(2, me, ["--worker", "hf", folder, "test"], timeout=8 * 3600)
        on = run_ranks(1, me, ["--worker", "online", folder, "rom.h5"], timeout=3600)
        ad = run_ranks(2, me, ["--worker", "adapt", folder, "rom.h5", "replay"], timeout=4 * 3600)
        # the HF time of all the adaptive run's increments: measured (small), or extrapolated per increment
        # from the reference's first cycle (medium)
        hf_s = hf["seconds"] * ad["increments"] / hf["increments"]
        hf_total = hf_s + hf["setup_s"]
        figs = dict(size=a.size, cycles=cycles, dofs=hf["dofs"], tol_S=TOLS[0], tol_p=TOLS[1], hf_s=hf_s,
                    hf_s_extrapolated=sample is not None, hf_run_increments=hf["increments"],
                    hf_setup_s=hf["setup_s"],
                    adapt_s=ad["seconds"], adapt_total_s=ad["total_s"],
                    # the time loops (adapt: its HF increments, state rebuilds and model updates included)
                    speedup=hf_s / ad["seconds"],
                    # set-up included on both sides (HF: mesh, partition, problem; adapt: the same + the model)
                    speedup_with_setup=hf_total / ad["total_s"],
                    # what the HF fraction alone allows (reduced increments and model updates free)
                    speedup_ceiling=ad["increments"] / max(ad["hf_increments"], 1),
                    # what adapt's own HF increments allow (everything else free): the HF run's time over theirs
                    speedup_bound_hf_increments=hf_s / max(ad["hf_increment_s"], 1e-300),
                    # one HF increment inside adapt (fresh factorization, state from the ROM) against the
                    # mean increment of the continuous HF run (factors reused over increments)
                    hf_isolated_over_continuous=(ad["hf_increment_s"] / max(ad["hf_increments"], 1))
                    / (hf["seconds"] / hf["increments"]),
                    **same_increments(hf, ad, hf_s),
                    rom_ms_per_increment=1e3 * (ad["seconds"] - ad["enrichment_s"])
                    / max(ad["increments"] - ad["hf_increments"], 1),
                    u_error=ad["u_error"], p_error=ad["p_error"], errors_over_cycles=sample or cycles,
                    online_u_error=on["u_error"], online_p_error=on["p_error"],
                    enrichments=ad["enrichments"], hf_increments=ad["hf_increments"], increments=ad["increments"],
                    hf_fraction=ad["hf_increments"] / max(ad["increments"], 1), modes_before=ad["modes_before"],
                    modes_after=ad["modes_after"], points_before=ad["points_before"], points_after=ad["points_after"],
                    rebuild_s=ad["rebuild_s"], hf_increment_s=ad["hf_increment_s"], enrichment_s=ad["enrichment_s"],
                    enrichment_times=ad["enrichment_times"], calibration_runs=n_cal, **cal)
        if n_cal:
            figs["spearman"] = cal["spearman_S"]
        if a.methods:
            # the two state rebuilds on a model that has every internal variable as a dual field
            run_ranks(2, me, ["--worker", "offline", folder, "rom_all.h5", "train_all.toml"], timeout=7200)
            for m in ("replay", "gappy"):
                g = run_ranks(2, me, ["--worker", "adapt", folder, "rom_all.h5", m], timeout=4 * 3600)
                figs.update({f"{m}_u_error": g["u_error"], f"{m}_p_error": g["p_error"],
                             f"{m}_rebuild_s": g["rebuild_s"], f"{m}_enrichments": g["enrichments"],
                             f"{m}_adapt_s": g["seconds"]})
    finally:
        if a.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    targets = {"speedup": [">=", 20.0], "u_error": ["<=", 0.01], "p_error": ["<=", 0.03],
               "hf_fraction": ["<=", 0.04]}
    if n_cal:
        targets["spearman"] = [">=", 0.9]
    emit("rom_adapt" if a.size == "small" else f"rom_adapt_{a.size}", figs, targets)


if __name__ == "__main__":
    main()
