"""``dromo uq``: Monte Carlo over random temperature fields with a ROM dictionary.

:func:`run_uq` (collective, any rank count):

1. the draws ``0 … n−1`` of ``seed`` (:mod:`dromo.uq.sampling`) are spread over the ranks in contiguous
   blocks; every rank **classifies** its draws (the dictionary's classifier on the KL coefficients) and
   solves each one **alone** (``MPI.COMM_SELF``) with its local ROM — the online stage's reduced Newton
   (:mod:`dromo.rom.online`), the draw's field at the reduced points from the KL modes there; the draws of
   one model ``batch`` at a time (:mod:`dromo.uq.batch`: one law call for the whole batch) — and, for
   comparison, with the **global ROM** (same modes per ROM). Per step it keeps γ, the lifting values, the
   Gappy-POD coefficients of the dual fields and the error indicators; a draw whose indicator of a field
   exceeds its tolerance (``indicator_tol``, the raw indicators of ``dromo adapt``) is **flagged**;
2. the per-draw coefficients (O(draws × steps × modes)) are allgathered and the **quantities of interest**
   computed over the mesh rows each rank owns (never a full field on one rank), then reduced:
   ``p_max`` — max over the part and time of the cumulated plastic strain p (Gappy-POD of p);
   ``svm_max`` — max over the part and time of the von Mises stress (Gappy-POD of S) [MPa];
   ``u_<SET>`` — for each monitored node set, max over time of the norm of the set's mean displacement [L];
3. statistics per QoI (mean, standard deviation, quantiles, exceedance probability of a threshold) and
   PNG histograms; the output archive (temporary name, renamed): ``/uq/{xi, cluster, flagged,
   online_seconds}``, ``/uq/qoi/<name>``, ``/uq/global_qoi/<name>``, ``/uq/indicator/<field>`` (draws,),
   ``/uq/meta`` (JSON: statistics, options, timings).

The same QoIs of HF results (:func:`hf_qois`) and the field errors of p against HF (:func:`p_field_errors`)
serve the verification and the benchmark.
"""
import contextlib
import json
import logging
import os
import time

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.errors import collective
from .qoi import FieldQoIs, hf_fields, hf_qois, p_field_errors, rom_qois  # noqa: F401  (re-exported)

log = get_logger("dromo.uq")

QUANTILES = (0.05, 0.5, 0.95)
INDICATOR_TOL = {"S": 0.003, "p": 0.03}


@contextlib.contextmanager
def _quiet():
    """Silence the per-increment logs of the online solves (thousands of them)."""
    names = ("dromo.hf.march", "dromo.rom.online")
    old = [logging.getLogger(n).level for n in names]
    for n in names:
        logging.getLogger(n).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for n, lv in zip(names, old):
            logging.getLogger(n).setLevel(lv)


def solve_draw(rom, spec, draw):
    """One draw with one reduced model, alone on this rank (``COMM_SELF``). Returns a dict: ``times (s,)``,
    ``gamma (s, k)``, ``a (s, n_L)``, ``coeffs {F: (s, k_F)}``, ``indicator {F: max over time}``, ``seconds``
    (the time loop). Raises :class:`~dromo.errors.ConvergenceError` like ``dromo online``."""
    from ..hf.march import march
    from ..rom.indicator import IndicatorTracker
    from ..rom.online import ReducedNewton, prepare
    from .sampling import draw_spec
    comm = MPI.COMM_SELF
    oc = prepare(rom, draw_spec(spec, draw), comm, check_mesh=False)
    newton = ReducedNewton(rom, oc, comm)
    tracker = IndicatorTracker()
    out = {"times": [], "gamma": [], "a": [], "coeffs": {f: [] for f in rom.duals}, "indicator": {}}
    pp = oc.points

    def record(st, _dt=None):
        out["times"].append(st.time)
        out["gamma"].append(st.gamma.copy())
        out["a"].append(np.asarray(st.a, dtype=float).copy())
        vals = {}
        for f, d in rom.duals.items():
            v = st.stress if f == "S" else (st.eps if f == "E" else pp.internal_field(st.internal, f))
            vals[f] = v
            out["coeffs"][f].append(d.fit.coefficients(np.asarray(v, dtype=float).reshape(-1)))
        for f, eta in tracker(rom, vals).items():
            out["indicator"][f] = max(out["indicator"].get(f, 0.0), float(eta))

    st = newton.initial_state()
    record(st)
    tic = time.perf_counter()
    march(newton.increment, st, oc.time, on_converged=record, label=f"online {oc.name}", comm=comm)
    out["seconds"] = time.perf_counter() - tic
    for k in ("times", "gamma", "a"):
        out[k] = np.asarray(out[k], dtype=float)
    out["coeffs"] = {f: np.asarray(v, dtype=float) for f, v in out["coeffs"].items()}
    return out


def statistics(values, quantiles=QUANTILES, threshold=None):
    """Mean, standard deviation (ddof 1), quantiles and, with ``threshold``, the exceedance probability
    ``P(q > threshold)`` of a QoI's samples ``(n,)``: a dict."""
    v = np.asarray(values, dtype=float)
    out = {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
           "min": float(v.min()), "max": float(v.max()),
           "quantiles": {f"{q:g}": float(np.quantile(v, q)) for q in quantiles}}
    if threshold is not None:
        out["threshold"] = float(threshold)
        out["exceedance"] = float(np.mean(v > threshold))
    return out


def histograms(qois, stats, prefix, comm):
    """One PNG histogram per QoI at ``PREFIX_hist_<name>.png`` (rank 0). Returns the paths."""
    paths = {n: f"{prefix}_hist_{n}.png" for n in qois}
    with collective(comm):
        if comm.rank == 0:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            for n, v in qois.items():
                fig, ax = plt.subplots(figsize=(5, 3.5))
                ax.hist(v, bins=max(10, min(50, int(np.sqrt(len(v))) * 2)), color="tab:blue", alpha=0.8)
                st = stats[n]
                ax.axvline(st["mean"], color="k", lw=1, label=f"mean {st['mean']:.4g}")
                if "threshold" in st:
                    ax.axvline(st["threshold"], color="tab:red", ls="--",
                               label=f"threshold (P = {st['exceedance']:.3f})")
                ax.set_xlabel(n)
                ax.set_ylabel("draws")
                ax.set_title(f"{n}: {st['n']} draws, std {st['std']:.3g}")
                ax.legend(fontsize=8)
                fig.tight_layout()
                fig.savefig(paths[n] + ".tmp.png", dpi=110)
                plt.close(fig)
                os.replace(paths[n] + ".tmp.png", paths[n])
    return paths


def solve_draws(dic, spec, draws, xi, models, batch=64):
    """Solve this rank's ``draws`` (indices, KL coefficients ``xi``) each with its model index in ``models``
    (-1: the global ROM): the draws of one model ``batch`` at a time (:func:`dromo.uq.batch.solve_batch`;
    ``batch`` 1, or a case the batch cannot take — steps not fixed, a temperature series — solves them one by
    one with :func:`solve_draw`). Returns the records
    (list of dicts of :func:`solve_draw` + ``draw``, ``model``, ``ok``), in draw order; a draw whose reduced
    Newton fails, or whose temperature leaves a law's table, is kept with ``ok`` False, no values and the
    reason in ``error``. Local (this rank's draws)."""
    from ..errors import ConvergenceError, LawError
    from ..parallel.log import progress
    from .batch import solve_batch
    models = np.asarray(models, dtype=np.int64)
    chunks = []
    for m in sorted(set(models.tolist())):
        idx = np.flatnonzero(models == m)
        chunks += [(m, idx[s:s + max(1, int(batch))]) for s in range(0, idx.size, max(1, int(batch)))]
    out = {}
    with _quiet():
        for m, idx in progress(chunks, desc=f"uq draws, batches of {batch} (rank 0's share)", logger=log):
            rom = dic.global_rom if m < 0 else dic.roms[m]
            recs = None
            if batch > 1:
                try:
                    recs = solve_batch(rom, spec, [dic.draw(xi[i]) for i in idx])
                except ConvergenceError as e:            # not a draw's failure: no fixed steps, a series T
                    log.info("batched draws impossible (%s): solving them one by one", e)
                for i, r in zip(idx, recs or []):
                    if not r["ok"]:
                        log.warning("draw %d failed: %s", draws[i], r["error"])
            if recs is None:
                recs = []
                for i in idx:
                    try:
                        r = solve_draw(rom, spec, dic.draw(xi[i]))
                        r["ok"] = True
                    except (ConvergenceError, InputError, LawError) as e:
                        log.warning("draw %d failed: %s", draws[i], e)
                        r = {"ok": False, "seconds": 0.0, "error": str(e)}
                    recs.append(r)
            for i, r in zip(idx, recs):
                r.update(draw=int(draws[i]), model=int(m))
                out[int(i)] = r
    return [out[i] for i in range(len(draws))]


def _allgather_records(records, comm):
    return sorted(sum(comm.allgather(records), []) if comm.size > 1 else list(records), key=lambda r: r["draw"])


def model_qois(dic, dm, fq, records, n_draws):
    """QoIs of gathered records (every draw, its ``model``): ``{name: (n_draws,)}`` (NaN for failed draws).
    Collective: the operators of each model are read in turn."""
    out = {n: np.full(n_draws, np.nan) for n in fq.names}
    models = sorted({r["model"] for r in records})
    for m in range(-1, dic.n_clusters):
        sel = [r for r in records if r["model"] == m and r["ok"]]
        if not sel or m not in models:                 # records are replicated: the same on every rank
            continue
        ops = dic.operators(dm, m)
        q = rom_qois(fq, ops, sel)
        idx = np.array([r["draw"] for r in sel])
        for n, v in q.items():
            out[n][idx] = v
    return out


def run_uq(dictionary, case, n_draws, seed=0, output=None, comm=None, monitors=(), thresholds=None,
           quantiles=QUANTILES, indicator_tol=None, compare_global=True, plots=True, batch=64):
    """Monte Carlo with a ROM dictionary (module docstring). Collective. Returns the facts (a dict: statistics,
    timings, flagged draws, comparison with the global ROM) on every rank; writes ``output`` when given."""
    from ..hf.case_file import read_case
    from ..io.archive import Archive
    from ..mesh.distributed import DistributedMesh
    from .dictionary import Dictionary
    from .sampling import draw_coefficients, rank_draws
    comm = comm or MPI.COMM_WORLD
    tic0 = time.perf_counter()
    dic = dictionary if isinstance(dictionary, Dictionary) else Dictionary(dictionary, comm)
    spec = case
    if not isinstance(case, dict):
        spec = None
        with collective(comm):
            if comm.rank == 0:
                spec = read_case(case)
        spec = comm.bcast(spec, root=0)
    with Archive.open(dic.path, comm) as ar:
        mesh = ar.read_mesh()
    with collective(comm):
        fp = mesh.fingerprint()
        dic.roms[0].check_mesh(fp, f"dictionary {dic.path}")
    from ..rom.online import _mesh_fingerprint
    dic.roms[0].check_mesh(_mesh_fingerprint(spec["mesh_file"], comm), f"uq case (mesh {spec['mesh_file']})")
    tol = dict(INDICATOR_TOL if indicator_tol is None else indicator_tol)
    thresholds = dict(thresholds or {})
    n_draws = int(n_draws)
    mine = rank_draws(n_draws, comm)
    xi = draw_coefficients(seed, mine, dic.kl_scales.size)
    cl = dic.classifier.predict(xi) if mine.size else np.zeros(0, np.int64)
    log.info("uq: %d draws (seed %d) over %d rank(s), %d local ROMs + the global ROM", n_draws, seed, comm.size,
             dic.n_clusters)
    comm.Barrier()
    t_on = time.perf_counter()
    with collective(comm):                      # any other error on one rank stops every rank
        recs = solve_draws(dic, spec, mine, xi, cl, batch)
    comm.Barrier()
    online_s = time.perf_counter() - t_on
    grecs = []
    global_s = 0.0
    if compare_global:
        t_g = time.perf_counter()
        with collective(comm):
            grecs = solve_draws(dic, spec, mine, xi, np.full(mine.size, -1), batch)
        comm.Barrier()
        global_s = time.perf_counter() - t_g
    for r in recs:
        r["xi"] = xi[np.searchsorted(mine, r["draw"])]
    recs = _allgather_records(recs, comm)
    grecs = _allgather_records(grecs, comm)
    t_q = time.perf_counter()
    dm = DistributedMesh(mesh, comm)
    fq = FieldQoIs(dm, monitors)
    qoi = model_qois(dic, dm, fq, recs, n_draws)
    qoi_s = time.perf_counter() - t_q
    t_q = time.perf_counter()
    gqoi = model_qois(dic, dm, fq, grecs, n_draws) if compare_global else {}
    global_qoi_s = time.perf_counter() - t_q
    ok = np.array([r["ok"] for r in recs])
    with collective(comm):
        if n_draws and not ok.any():
            raise InputError(f"dromo uq: every draw failed; the first: {recs[0].get('error')}")
    flagged = np.zeros(n_draws, bool)
    ind = {f: np.array([r.get("indicator", {}).get(f, np.nan) for r in recs]) for f in dic.roms[0].duals}
    for f, t in tol.items():
        if f in ind:
            flagged |= ind[f] > t
    flagged |= ~ok
    stats = {n: statistics(v[ok], quantiles, thresholds.get(n)) for n, v in qoi.items() if ok.any()}
    facts = {"draws": n_draws, "seed": int(seed), "ranks": comm.size, "clusters": dic.n_clusters,
             "cluster_counts": np.bincount([r["model"] for r in recs], minlength=dic.n_clusters).tolist(),
             "failed": int((~ok).sum()), "failures": {r["draw"]: r["error"] for r in recs if not r["ok"]},
             "flagged": np.flatnonzero(flagged).tolist(), "indicator_tol": tol,
             "online_s": online_s, "online_per_draw_s": online_s / max(n_draws, 1),
             "online_loop_s": float(sum(r["seconds"] for r in recs)),
             "global_s": global_s, "qoi_s": qoi_s, "global_qoi_s": global_qoi_s, "stats": stats}
    if compare_global and ok.any():
        facts["global_vs_dictionary"] = {n: float(np.nanmax(np.abs(gqoi[n] - qoi[n]) / np.abs(qoi[n])))
                                         for n in qoi}
    log.info("uq: %d draws in %.2f s online (%.3g s per draw at %d rank(s)); %d flagged by the indicators %s, "
             "%d failed", n_draws, online_s, facts["online_per_draw_s"], comm.size, int(flagged.sum()), tol,
             facts["failed"])
    for n, s in stats.items():
        log.info("  %s: mean %.5g, std %.4g, quantiles %s%s", n, s["mean"], s["std"], s["quantiles"],
                 f", P(> {s['threshold']:g}) = {s['exceedance']:.4f}" if "threshold" in s else "")
    if output is not None:
        if plots and stats:
            base = os.path.splitext(os.fspath(output))[0]
            facts["histograms"] = histograms({n: v[ok] for n, v in qoi.items()}, stats, base, comm)
        facts["total_s"] = time.perf_counter() - tic0
        from ..rom.model import _jsonable
        with Archive.create(output, comm, attrs={"content": "uq", "dictionary": dic.path}) as ar:
            ar.write_array("uq/xi", np.array([r["xi"] for r in recs]).reshape(n_draws, -1))
            ar.write_array("uq/cluster", np.array([r["model"] for r in recs], dtype=np.int64))
            ar.write_array("uq/flagged", flagged.astype(np.int8))
            ar.write_array("uq/online_seconds", np.array([r["seconds"] for r in recs]))
            for n, v in qoi.items():
                ar.write_array(f"uq/qoi/{n}", v)
            for n, v in gqoi.items():
                ar.write_array(f"uq/global_qoi/{n}", v)
            for f, v in ind.items():
                ar.write_array(f"uq/indicator/{f}", v)
            ar.write_array("uq/meta", np.frombuffer(json.dumps(_jsonable(facts)).encode(), dtype=np.uint8))
    facts["total_s"] = time.perf_counter() - tic0
    facts["qoi"], facts["global_qoi"], facts["records"], facts["global_records"] = qoi, gqoi, recs, grecs
    return facts


def projection_errors(dic, dm, paths, xi):
    """Relative projection errors ``‖U − Ψ Ψᵀ U‖_F / ‖U‖_F`` of HF trajectories (archives ``paths``,
    imposed rows zeroed; the draws' KL coefficients ``xi``) onto the modes of their classified local ROM
    and of the global ROM: ``(dictionary (n,), global (n,))``. Collective."""
    from ..parallel.collectives import allreduce_sum
    cl = dic.classifier.predict(xi)
    ops = {}
    out = np.zeros((2, len(paths)))
    for i, path in enumerate(paths):
        h = hf_fields(path, dm)
        U = h["U"]
        for j, m in enumerate((int(cl[i]), -1)):
            if m not in ops:
                ops[m] = dic.operators(dm, m)
            psi = ops[m].modes
            U0 = U.copy()
            U0[np.all(psi == 0.0, axis=1)] = 0.0             # imposed rows: zero in every mode
            R = U0 - psi @ allreduce_sum(np.ascontiguousarray(psi.T @ U0), dm.comm)
            n = allreduce_sum(np.array([(R ** 2).sum(), (U0 ** 2).sum()]), dm.comm)
            out[j, i] = np.sqrt(n[0] / n[1]) if n[1] > 0 else 0.0
    return out[0], out[1]
