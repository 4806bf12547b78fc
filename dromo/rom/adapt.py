"""The adaptive loop: the online reduced model, its error estimate every increment, and one HF increment
with an enrichment of the model wherever the estimate exceeds the tolerance (``dromo adapt``).

``adapt(rom, case, tol, comm, ...)`` (collective; the HF parts use all ranks, the reduced Newton runs on
the same ranks between them):

* every increment ``t_n → t_{n+1}`` is first solved by the reduced Newton (:mod:`dromo.rom.online`), by
  every rank on all the reduced points, redundantly (the reduced problem is O(points × modes); this
  costs no message per iteration, and every rank takes the same decisions bit for bit); the
  error indicator η_F of each indicator field F (:mod:`dromo.rom.indicator`; ``p`` by default, ``S``
  catches the elastic regime where p is zero) and its calibrated estimate ê_F (η_F itself without a
  calibration of F) are computed at ``t_{n+1}``; ``tol`` is one tolerance or one per field;
* if ``max_F ê_F / tol_F > 1`` (or the reduced Newton fails), the increment is recomputed by the HF solver from the
  full state at ``t_n`` rebuilt from the ROM, the model is enriched with the HF snapshot and the run goes
  on from the HF state at ``t_{n+1}`` (:mod:`dromo.rom.enrich`). ``max_enrichments`` caps their number
  (after it the ROM runs on, its estimate recorded);
* the result (:class:`AdaptHistory`, written by :func:`write_adapt_result`) holds per step the time, the
  reduced coordinates and the dual-field coefficients in the **final** bases (older ones are re-expressed
  at every enrichment), the indicators, the estimate (``max_F ê_F / tol_F``), whether the step was an HF increment, and one
  record per enrichment (time, indicator and estimate before, estimate after, modes and points before and
  after, seconds). ``save_rom`` writes the enriched model for later runs;
* a checkpoint is written every ``checkpoint_every`` increments: ``<output>.restart.h5`` holds the reduced
  state, the history and the time-stepping counters (O(points × modes + steps × modes)); the current model
  and the last full state (O(N)) are in ``<output>.restart.model<g>.h5``, written only at the first
  checkpoint after they changed (an enrichment) and named in the checkpoint. On the small blade (9.4e3
  dofs, 1 rank) a checkpoint with a model file costs about 0.12 s, one without about 0.025 s: when every
  checkpoint rewrote the model, checkpoints every 10 increments cost more than the reduced increments
  themselves (about 2 ms each). ``restart=`` continues from it and gives
  the same result as an uninterrupted run at the same rank count (the HF linear solver is reset at every
  checkpoint, so no solver history crosses one). The HF increment starts its Newton iterations from the
  rebuilt state at ``t_n``, not from the reduced prediction at ``t_{n+1}``: tried, that saved 2 of 17
  iterations over the 6 HF increments of the quick blade benchmark but made the restarted run differ from
  the uninterrupted one at the Newton tolerance (4e-10) instead of round-off.
"""
import json
import os
import time as _time

import numpy as np
from mpi4py import MPI

from ..errors import ConvergenceError, InputError
from ..parallel import get_logger
from ..parallel.errors import collective

log = get_logger("dromo.rom.adapt")

__all__ = ["adapt", "AdaptHistory", "write_adapt_result", "checkpoint_path", "remove_checkpoint"]


def checkpoint_path(output):
    """Where the adaptive run writing ``output`` keeps its checkpoint."""
    return os.fspath(output) + ".restart.h5"


def model_file(checkpoint, generation):
    """The ``generation``-th model file of the checkpoint ``checkpoint`` (``R.restart.h5`` →
    ``R.restart.model<generation>.h5``)."""
    return f"{os.path.splitext(os.fspath(checkpoint))[0]}.model{int(generation)}.h5"


def model_files(checkpoint):
    """The model files present next to ``checkpoint``."""
    import glob
    stem = glob.escape(os.path.splitext(os.fspath(checkpoint))[0])
    return sorted(f for f in glob.glob(f"{stem}.model*.h5") if _model_generation(f) is not None)


def _model_generation(path):
    tail = os.path.splitext(path)[0].rsplit(".model", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _remove_with_sidecar(path):
    for f in (path, os.path.splitext(path)[0] + ".xdmf"):
        if os.path.exists(f):
            os.remove(f)


def remove_checkpoint(checkpoint):
    """Remove a checkpoint, its model files and their XDMF sidecars (rank 0 only)."""
    for f in [os.fspath(checkpoint)] + model_files(checkpoint):
        _remove_with_sidecar(f)


class AdaptHistory:
    """Per converged step (the initial state is step 0): time, γ (current basis), a, iterations, residual,
    indicators {F}, estimate, hf flag, dual coefficients {F} (current bases); the enrichment records."""

    KEYS = ("times", "gamma", "a", "iterations", "residual", "estimate", "hf")

    def __init__(self, duals):
        for k in self.KEYS:
            setattr(self, k, [])
        self.indicator = {f: [] for f in duals}
        self.coeffs = {f: [] for f in duals}
        self.enrichments = []

    def append(self, st, indicator, estimate, coeffs, hf=False):
        self.times.append(float(st.time))
        self.gamma.append(np.asarray(st.gamma, dtype=float).copy())
        self.a.append(np.asarray(st.a, dtype=float).copy())
        self.iterations.append(int(st.info.get("iterations", 0)))
        self.residual.append(float(st.info.get("residual", 0.0)))
        self.estimate.append(float(estimate))
        self.hf.append(bool(hf))
        for f in self.indicator:
            self.indicator[f].append(float(indicator.get(f, np.nan)))
            self.coeffs[f].append(np.asarray(coeffs[f], dtype=float).copy())

    def rebase(self, Tu, Td):
        """Re-express the stored coordinates in new bases: γ ← Tu γ, c_F ← T_F c_F."""
        self.gamma = [Tu @ g for g in self.gamma]
        for f, T in Td.items():
            self.coeffs[f] = [T @ c for c in self.coeffs[f]]

    @property
    def n_steps(self):
        return len(self.times)

    def to_json(self):
        d = {k: [np.asarray(v).tolist() for v in getattr(self, k)] for k in self.KEYS}
        d.update(indicator=self.indicator, coeffs={f: [c.tolist() for c in v] for f, v in self.coeffs.items()},
                 enrichments=self.enrichments)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        h = cls(list(d["indicator"]))
        for k in cls.KEYS:
            setattr(h, k, [np.asarray(v, dtype=float) if k in ("gamma", "a") else v for v in d[k]])
        h.indicator = d["indicator"]
        h.coeffs = {f: [np.asarray(c, dtype=float) for c in v] for f, v in d["coeffs"].items()}
        h.enrichments = d["enrichments"]
        return h


#: what an enrichment imports: imported when the run is set up, not at the first enrichment inside the time
#: loop (about 0.1 s there on the small blade, most of it scipy.optimize for the ECM's non-negative least
#: squares)
_ENRICHMENT_MODULES = ("dromo.fem.points", "dromo.reduction.hyperreduce", "dromo.reduction.ecm",
                       "dromo.reduction.eim", "dromo.reduction.incremental", "dromo.rom.offline", "scipy.optimize")


def _import_enrichment_modules():
    import importlib
    for name in _ENRICHMENT_MODULES:
        importlib.import_module(name)


class AdaptiveRun:
    """The state of an adaptive run (module docstring): the model and its operators, the online case, the
    HF problem and solver, the last full state and the reduced steps since, the history."""

    def __init__(self, rom, spec, comm, tol, method="replay", field=None, reject_tol=1e-4, max_enrichments=None):
        from ..hf.case_file import build_problem
        from ..hf.newton import TangentSolver
        from ..hf.state import initial_state
        from ..io.archive import distributed_mesh
        from .enrich import METHODS
        from .full import FullOperators
        self.comm = comm
        # the reduced model is small: every rank solves all of it, redundantly and identically (no message
        # per reduced Newton iteration); only the HF increments and the model updates use ``comm``
        self.ocomm = MPI.COMM_SELF
        self.spec = spec
        with collective(comm):
            if method not in METHODS:
                raise InputError(f"--state-method {method!r}: expected one of {', '.join(METHODS)}")
            if rom.case is None:
                raise InputError(f"{rom.path}: a model without case terms cannot solve (build it with `dromo "
                                 f"offline`)")
            if not rom.duals:
                raise InputError(f"{rom.path}: the model has no dual field, hence no error indicator")
        tols = tol if isinstance(tol, dict) else None
        fields = list(field) if isinstance(field, (list, tuple)) else ([field] if field else [])
        if tols is not None:
            fields = fields or list(tols)
        fields = fields or ["p" if "p" in rom.duals else next(iter(rom.duals))]
        with collective(comm):
            for f in fields:
                if f not in rom.duals:
                    raise InputError(f"indicator field {f!r} is not a dual field of {rom.path} ({', '.join(rom.duals)})")
            if tols is None:
                tols = {f: float(tol) for f in fields}
            for f in fields:
                if not (f in tols and float(tols[f]) > 0):
                    raise InputError(f"indicator field {f}: give a tolerance > 0 (got {tols.get(f)})")
        self.fields = fields
        self.field = fields[0]
        self.tols = {f: float(tols[f]) for f in fields}
        self.method = method
        self.reject_tol = float(reject_tol)
        self.max_enrichments = max_enrichments
        dm = distributed_mesh(spec["mesh_file"], comm)
        rom.check_mesh(dm.fingerprint(), f"case {spec.get('name')!r} (mesh {spec['mesh_file']})")
        self.problem = build_problem(spec, comm, dm)
        self.solver = TangentSolver(self.problem)
        self.load_vectors = None
        self._use(rom, FullOperators.read(rom, dm))
        self.anchor = initial_state(self.problem)
        self.replay = []
        #: the checkpoint's model file holding the current model and ``anchor`` (None: to be written)
        self._model_file, self._model_for, self._model_gen = None, None, 0
        self.history = AdaptHistory(rom.duals)
        from .indicator import IndicatorTracker
        self.tracker = IndicatorTracker()
        _import_enrichment_modules()

    # ------------------------------------------------------------------ model in use
    def _use(self, rom, full):
        from .online import ReducedNewton, prepare
        self.rom, self.full = rom, full
        self.oc = prepare(rom, self.spec, self.ocomm, check_mesh=False)
        self.newton = ReducedNewton(rom, self.oc, self.ocomm)

    def point_values(self, st, names):
        """Law values at all the reduced points ``{name: (n_points, nc)}`` (every rank holds them all)."""
        pp = self.oc.points
        out = {}
        for nm in names:
            if nm == "S":
                loc = st.stress
            elif nm == "E":
                loc = st.eps
            elif nm == "T":
                loc = np.asarray(st.temperature, dtype=float).reshape(-1, 1)
            else:
                loc = pp.internal_field(st.internal, nm)
            out[nm] = np.asarray(loc)                   # every rank holds all the points
        return out

    def assess(self, st):
        """Indicators {F}, the estimate and the dual coefficients {F} of a reduced state. Collective."""
        vals = self.point_values(st, list(self.rom.duals))
        ind, coeffs = self.tracker.assess(self.rom, vals)
        cal = self.rom.calibration
        est = {f: float(cal[f].estimate(ind[f])) if f in cal else float(ind[f]) for f in self.fields}
        return ind, max(est[f] / self.tols[f] for f in self.fields), coeffs

    # ------------------------------------------------------------------ one increment
    def step(self, st, dt):
        """One increment of the adaptive loop (module docstring); raises ConvergenceError when the HF
        increment fails too (the time loop then cuts the step)."""
        from .enrich import enrich, rebuild_state, reduced_state
        from ..hf.newton import hf_increment
        from ..reduction.pod import unmeasured
        failure = None
        try:
            new = self.newton.increment(st, dt)
            ind, est, coeffs = self.assess(new)
        except ConvergenceError as exc:
            new, ind, est, failure = None, {}, np.inf, str(exc)
        allowed = self.max_enrichments is None or len(self.history.enrichments) < self.max_enrichments
        if est <= 1.0 or not allowed:
            if new is None:
                raise ConvergenceError(failure)
            new.info.update(indicator=ind, estimate=est, coeffs=coeffs, hf=False)
            return new
        tic = _time.perf_counter()
        rom0 = self.rom
        if self.method == "gappy":
            vals = self.point_values(st, list(self.problem.state_layout) + (["S"] if "S" in rom0.duals else []))
            full_n = rebuild_state(self.problem, self.full, "gappy", rom=rom0, point_values=vals, state=st)
        else:
            full_n = rebuild_state(self.problem, self.full, "replay", anchor=self.anchor, history=self.replay,
                                   state=st)
        t_rebuild = _time.perf_counter() - tic
        try:
            hf = hf_increment(self.problem, full_n, dt, solver=self.solver)
        except ConvergenceError:
            self.solver.reset()
            raise
        t_hf = _time.perf_counter() - tic - t_rebuild
        if self.load_vectors is None:
            from .offline import load_vectors
            self.load_vectors = load_vectors(self.problem, sorted(rom0.case.pressure), bool(rom0.case.body))
        with unmeasured():                # the integrand POD's orthonormality diagnostic: read by nobody here
            rom1, full1, Tu, Td = enrich(self.problem, rom0, self.full, hf, self.reject_tol, self.load_vectors)
        self._use(rom1, full1)
        red = reduced_state(self.problem, rom1, full1, self.oc, self.newton, hf)
        self.tracker.rescale(rom0.n_points, rom1.n_points)
        ind1, est1, coeffs1 = self.assess(red)
        self.history.rebase(Tu, Td)
        self.anchor, self.replay = hf, []
        self._model_file = None                           # the next checkpoint writes a new model file
        record = {"time": float(hf.time), "dt": float(dt), "reason": "estimate" if failure is None else "reduced "
                  "Newton failed", "indicator": {f: float(ind.get(f, np.nan)) for f in self.fields},
                  "estimate": float(est), "indicator_after": {f: float(ind1[f]) for f in self.fields},
                  "estimate_after": float(est1),
                  "modes_before": rom0.n_modes, "modes_after": rom1.n_modes, "points_before": rom0.n_points,
                  "points_after": rom1.n_points, "hf_iterations": int(hf.info.get("iterations", 0)),
                  "seconds": _time.perf_counter() - tic, "seconds_rebuild": t_rebuild, "seconds_hf": t_hf}
        self.history.enrichments.append(record)
        log.info("enrichment %d at t = %g (%s; estimate/tolerance %.3g): modes %d -> %d, points %d -> %d, "
                 "estimate/tolerance after %.3g, %.2f s (state rebuild %.2f s, HF increment %.2f s)",
                 len(self.history.enrichments), hf.time, record["reason"], est, rom0.n_modes,
                 rom1.n_modes, rom0.n_points, rom1.n_points, est1, record["seconds"], t_rebuild, t_hf)
        red.info.update(iterations=int(hf.info.get("iterations", 0)), residual=0.0, indicator=ind1, estimate=est1,
                        coeffs=coeffs1, hf=True)
        return red

    # ------------------------------------------------------------------ checkpoint
    def write_checkpoint(self, path, st, stepping):
        """Write everything needed to continue from the reduced state ``st`` (checkpoint layout in the module
        docstring): the model and the last full state into a new *model file* next to ``path`` when they
        changed since the last checkpoint (an enrichment happened), then the small archive ``path`` (the
        reduced state at all the points, the history, the time-stepping counters, the model file's name).
        Both are atomic (written under a temporary name); older model files are removed once ``path``
        names the new one. Resets the HF solver, as a restart starts with a fresh one. Collective."""
        from ..hf.state import write_checkpoint
        from ..io.archive import Archive
        dm = self.problem.dm
        if self._model_file is None or self._model_for != os.path.abspath(path):
            self._model_gen += 1
            target = model_file(path, self._model_gen)
            with Archive.create(target, self.comm, attrs={"content": "adapt-checkpoint-model"}) as ar:
                ar.write_mesh(dm)
                self.full.write(ar)
                self.rom.write_reduced(ar)
                write_checkpoint(ar, self.problem, self.anchor, {}, 0)
            self._model_file, self._model_for = target, os.path.abspath(path)
        local = np.hstack([st.eps, st.stress, np.asarray(st.temperature, dtype=float).reshape(-1, 1),
                           self.oc.points.packed_internal(st.internal)])       # every rank holds all the points
        with Archive.create(path, self.comm, attrs={"content": "adapt-checkpoint"}) as ar:
            ar.write_array("adapt/gamma", np.asarray(st.gamma, dtype=float))
            ar.write_array("adapt/points", local)
            meta = {"time": float(st.time), "increment": int(st.increment), "history": self.history.to_json(),
                    "replay": [[t, g.tolist(), a.tolist()] for t, g, a in self.replay],
                    "scale": self.tracker.scale, "model_file": os.path.basename(self._model_file)}
            ar.write_array("adapt/meta", np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
            attrs = {"time": float(st.time), "increment": int(st.increment)}
            attrs.update({f"stepping_{k}": v for k, v in stepping.items()})
            ar.require_group("checkpoint")
            ar.set_attrs("checkpoint", attrs)
        if self.comm.rank == 0:
            for f in model_files(path):
                if os.path.abspath(f) != os.path.abspath(self._model_file):
                    _remove_with_sidecar(f)
        self.solver.reset()
        log.info("adapt: checkpoint at t = %g (increment %d) in %s (model and last full state in %s)", st.time,
                 st.increment, path, os.path.basename(self._model_file))

    def read_checkpoint(self, path):
        """Continue from the checkpoint archive ``path`` (:meth:`write_checkpoint`, same case, any model):
        returns ``(reduced state, stepping)``. Collective."""
        from ..hf.state import read_checkpoint
        from ..io.archive import Archive
        from .full import FullOperators
        from .model import ReducedModel
        from .online import ReducedState
        with Archive.open(path, self.comm) as ar:
            with collective(self.comm):
                if not ar.has("adapt/meta"):
                    raise InputError(f"{path}: not a checkpoint of `dromo adapt`")
            meta = json.loads(bytes(ar.read_array("adapt/meta")).decode())
            gamma = ar.read_array("adapt/gamma")
            points = ar.read_array("adapt/points")
            attrs = ar.get_attrs("checkpoint")
        stepping = {k[len("stepping_"):]: v for k, v in attrs.items() if k.startswith("stepping_")}
        # a checkpoint written before the model files held its model itself
        model = os.path.join(os.path.dirname(os.path.abspath(path)), meta.get("model_file", os.path.basename(path)))
        with collective(self.comm):
            if not os.path.exists(model):
                raise InputError(f"{path}: its model file {meta['model_file']} is missing (it is written next to "
                                 f"the checkpoint; keep both)")
        rom = ReducedModel.load(model, self.comm)
        self._use(rom, FullOperators.read(rom, self.problem.dm))
        with Archive.open(model, self.comm) as ar:
            self.anchor, _stepping, _n = read_checkpoint(ar, self.problem)
        own = "model_file" in meta
        self._model_file, self._model_for = (model, os.path.abspath(path)) if own else (None, None)
        self._model_gen = (_model_generation(model) or 0) if own else 0
        rows = points[self.oc.rows]
        self.history = AdaptHistory.from_json(meta["history"])
        self.replay = [(t, np.asarray(g, dtype=float), np.asarray(a, dtype=float)) for t, g, a in meta["replay"]]
        self.tracker.scale = {f: float(v) for f, v in meta["scale"].items()}
        t = float(meta["time"])
        st = ReducedState(t, gamma, self.oc.lifting(t), rows[:, :6].copy(), rows[:, 6:12].copy(),
                          self.oc.points.unpack_internal(rows[:, 13:]), rows[:, 12].copy(), int(meta["increment"]))
        log.info("adapt: restart from %s at t = %g (increment %d, %d enrichments so far)", path, t, st.increment,
                 len(self.history.enrichments))
        return st, stepping

    def converged(self, st, dt):
        info = st.info
        if not info.get("hf"):
            self.replay.append((float(st.time), st.gamma.copy(), np.asarray(st.a, dtype=float).copy()))
        self.history.append(st, info["indicator"], info["estimate"], info["coeffs"], hf=info.get("hf", False))


def adapt(rom, case, tol, comm=None, method="replay", field=None, reject_tol=1e-4, max_enrichments=None,
          checkpoint=None, restart=None, checkpoint_every=None):
    """Run ``case`` with ``rom`` adaptively (module docstring). Returns the :class:`AdaptiveRun` (its
    ``history``, final ``rom``/``full`` and ``summary``). Collective.

    ``checkpoint``: archive written every ``checkpoint_every`` increments (default: the case's ``[output]
    checkpoint_every``), and on a failure or a stop (SIGTERM/SIGUSR1); removed at the end of a run that
    completes. ``restart``: a checkpoint to continue from (``rom`` is then replaced by the model in it).
    """
    from ..hf.march import march
    from .online import read_case_spec
    comm = comm or MPI.COMM_WORLD
    spec = read_case_spec(case, comm)
    run = AdaptiveRun(rom, spec, comm, tol, method, field, reject_tol, max_enrichments)
    stepping = None
    if restart is not None:
        st, stepping = run.read_checkpoint(os.fspath(restart))
    else:
        st = run.newton.initial_state()
        ind, est, coeffs = run.assess(st)
        st.info.update(indicator=ind, estimate=est, coeffs=coeffs, hf=False)
        run.history.append(st, ind, est, coeffs)
    log.info("adapt: %s, %d modes, %d reduced points, tolerances %s on the estimates (calibrated: %s; otherwise "
             "the indicator itself), state rebuild by %s", spec.get("name"), run.rom.n_modes, run.rom.n_points,
             ", ".join(f"{f} {t:g}" for f, t in run.tols.items()),
             ", ".join(f for f in run.fields if f in run.rom.calibration) or "none", method)
    every = spec.get("checkpoint_every", 10) if checkpoint_every is None else checkpoint_every
    save = None
    if checkpoint is not None:
        def save(s, stepping_, reason=None):
            run.write_checkpoint(os.fspath(checkpoint), s, stepping_)
    final, summary = march(run.step, st, run.oc.time, on_converged=run.converged, on_checkpoint=save,
                           on_failure=save, on_stop=save, stepping=stepping, checkpoint_every=every if save else 0,
                           label=f"adapt {spec.get('name')}", comm=comm)
    summary["enrichments"] = len(run.history.enrichments)
    summary["hf_increments"] = int(np.sum(run.history.hf))
    run.summary = summary
    run.final = final
    return run


def write_adapt_result(run, output, fields=()):
    """Write the adaptive run's result archive: ``/rom_result`` as ``dromo online`` writes it (time, gamma,
    lifting, iterations, residual, indicator/<F>) plus ``estimate``, ``hf`` (1 where the step is an HF
    increment), ``coefficients/<F>`` and ``enrichments`` (JSON); with ``fields`` the full fields in the
    layout of ``dromo solve`` results, from the final model. Collective."""
    from ..io.archive import Archive
    from .result import write_fields, write_steps
    h, rom, comm = run.history, run.rom, run.comm
    fields = list(fields or ())
    for f in fields:
        with collective(comm):
            if f != "U" and f not in rom.duals:
                raise InputError(f"--reconstruct {f}: the model rebuilds U and its dual fields "
                                 f"({', '.join(rom.duals)})")
    blocks = run.full.natural_blocks(fields)
    with Archive.create(output, comm, attrs={"content": "rom-result",
                                            "provenance": f"dromo adapt ({run.spec.get('name')})"}) as ar:
        g = "rom_result"
        write_steps(ar, g, h)
        ar.write_array(f"{g}/estimate", np.asarray(h.estimate))
        ar.write_array(f"{g}/hf", np.asarray(h.hf, dtype=np.int8))
        for f in h.indicator:
            ar.write_array(f"{g}/coefficients/{f}", np.asarray(h.coeffs[f]).reshape(h.n_steps, -1))
        ar.write_array(f"{g}/enrichments", np.frombuffer(json.dumps(h.enrichments).encode(), dtype=np.uint8))
        s = run.summary
        ar.set_attrs(g, {"rom": str(rom.path or ""), "mesh_hash": rom.mesh_hash, "case": str(run.spec.get("name")),
                         "n_modes": rom.n_modes, "n_points": rom.n_points, "n_steps": h.n_steps,
                         "increments": int(s.get("increments", h.n_steps - 1)),
                         "tolerances": json.dumps(run.tols),
                         "enrichments": len(h.enrichments), "hf_increments": int(np.sum(h.hf)),
                         "seconds": float(s.get("seconds", 0.0)), "indicator_fields": " ".join(run.fields),
                         "state_method": run.method})
        if fields:
            write_fields(ar, run.problem.dm, rom.duals, fields, h.times, h.gamma, h.a, h.coeffs, blocks,
                         label="adaptive ROM")
    return output
