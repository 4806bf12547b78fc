"""The a-posteriori error indicator of the reduced model and its calibration to the true error.

**Indicator** (Casenave & Akkari, MCA 2019). For a dual field F (default the cumulated plastic strain
``p``), the law gives its values ``v`` at every reduced point; the Gappy-POD of F predicts the same
values from its modes, ``U_P c`` with ``c`` the least-squares fit. The indicator is the normalized
residual of that fit, ``η = ‖v − U_P c‖ / max ‖v‖`` (:meth:`~dromo.reduction.eim.GappyFit.fit_rows`): when
the law's field leaves the span of the training's dual modes, so does, typically, the displacement
leave the span of its modes. It costs O(points × modes) per increment and is computed every step. The
residual is divided by the largest ``‖v‖`` of the run so far rather than the step's own
(:class:`IndicatorTracker`), so that nearly-zero values at the start of a cycle do not make it jump.

**Calibration** (:class:`Calibration`): a monotone map from η to the true error ``e`` of a measure
(``u``: ``‖u_ROM(t_j) − u_HF(t_j)‖ / max_j ‖u_HF(t_j)‖``, Euclidean over the nodes; ``p`` the same over the
integration points), learnt from runs where both are known (:func:`calibrate`: cases with HF reference
results that the model was not trained on). The map is a power law ``ê = exp(b + s) η^a`` fitted in
log-log by least squares with ``a ≥ 0`` (so it is monotone), ``s`` the ``quantile`` (default 0.9) of the
log residuals: ê over-estimates the error at 90 % of the calibration steps. Without a calibration the
estimate is η itself. How well η ranks the errors is reported as Spearman rank correlations, per step
and per run (max over time of each).
"""
import json
import dataclasses
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from ..parallel import get_logger

log = get_logger("dromo.rom.indicator")

__all__ = ["Calibration", "spearman", "calibrate", "IndicatorTracker"]


def spearman(x, y):
    """Spearman rank correlation of two samples (average ranks for ties); NaN for fewer than 3 pairs or a
    constant sample."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or x.size != y.size:
        return float("nan")

    def ranks(v):
        order = np.argsort(v, kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size, dtype=float)
        for val in np.unique(v):                      # average ranks of ties
            tie = v == val
            if tie.sum() > 1:
                r[tie] = r[tie].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass
class Calibration:
    """``ê = exp(intercept + shift) · η^slope`` (module docstring). ``field``: the dual field of η;
    ``measure``: "u" or "p"; ``n``: calibration pairs; ``spearman_step``/``spearman_run``: rank
    correlations of η and e over the steps and over the runs."""
    field: str = "p"
    measure: str = "u"
    slope: float = 1.0
    intercept: float = 0.0
    shift: float = 0.0
    n: int = 0
    spearman_step: float = float("nan")
    spearman_run: float = float("nan")
    runs: list = dataclasses.field(default_factory=list)

    def estimate(self, eta):
        """The calibrated error estimate of indicator values ``eta`` (scalar or array)."""
        eta = np.maximum(np.asarray(eta, dtype=float), 0.0)
        return np.exp(self.intercept + self.shift) * eta ** self.slope

    @classmethod
    def fit(cls, eta, err, field="p", measure="u", quantile=0.9, **extra):
        """Fit the map on pairs ``(η_i, e_i)`` (pairs with η or e not > 0 are left out)."""
        eta, err = np.asarray(eta, dtype=float), np.asarray(err, dtype=float)
        ok = (eta > 0) & (err > 0) & np.isfinite(eta) & np.isfinite(err)
        if ok.sum() < 2:
            raise InputError(f"calibration of the error indicator: {int(ok.sum())} usable (indicator, error) "
                             f"pairs, at least 2 are needed (give reference runs where the model is not exact)")
        x, y = np.log(eta[ok]), np.log(err[ok])
        A = np.column_stack([x, np.ones_like(x)])
        slope, intercept = np.linalg.lstsq(A, y, rcond=None)[0]
        if slope < 0:                                 # monotone: a constant map instead
            slope, intercept = 0.0, float(np.mean(y))
        res = y - (slope * x + intercept)
        shift = float(np.quantile(res, quantile))
        return cls(field, measure, float(slope), float(intercept), shift, int(ok.sum()),
                   spearman(eta[ok], err[ok]), **extra)

    def to_json(self):
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


class IndicatorTracker:
    """The indicator of every dual field along a run: ``η_n = ‖v_n − U_P c_n‖ / max_{j≤n} ‖v_j‖`` with ``v_j``
    the law's values at the reduced points at step j. Normalized by the largest values seen so far (as the
    true error is by the largest solution), not by the step's own values: at the start of a cycle, where
    p is nearly zero, a step's own norm would make a tiny misfit look large."""

    def __init__(self):
        self.scale = {}

    def __call__(self, rom, values):
        """``{F: η}`` from the law values at all the points ``{F: (n_points, nc)}`` (replicated)."""
        return self.assess(rom, values)[0]

    def assess(self, rom, values):
        """``({F: η}, {F: c_F})``: the indicators and the Gappy coefficients ``(k_F,)`` of every dual field in
        ``values`` (as :meth:`__call__`), from one fit per field (:meth:`~dromo.reduction.eim.GappyFit.fit_rows`:
        the coefficients and the residual norm together)."""
        ind, coeffs = {}, {}
        for f, d in rom.duals.items():
            if f not in values:
                continue
            v = np.asarray(values[f], dtype=float).reshape(1, -1)
            c, r, nv = d.fit.fit_rows(v, norms=True)
            eta, s = indicator_step(r, nv, self.scale.get(f, 0.0))
            self.scale[f] = float(s[0])
            ind[f] = float(eta[0])
            coeffs[f] = c[0]
        return ind, coeffs

    def rescale(self, n_old, n_new):
        """The point set changed from ``n_old`` to ``n_new`` points: norms over it scale like √n."""
        if n_old > 0:
            self.scale = {f: s * np.sqrt(n_new / n_old) for f, s in self.scale.items()}


def indicator_step(r, ynorm, scale):
    """One step of the running indicator of :class:`IndicatorTracker`, over ``c`` runs at once: the fit residuals
    ``r`` ``(c,)`` over the running maximum of the point values' norms, ``scale`` (``(c,)`` or a float) updated
    with ``ynorm`` ``(c,)``. Returns ``(η (c,), new scale (c,))``; η is 0 while the scale is 0."""
    s = np.maximum(scale, ynorm)
    return np.divide(r, s, out=np.zeros(np.shape(r)), where=s > 0), s


def step_errors(full, result, reference, measure, comm):
    """Per step of an online ``result`` (a :class:`~dromo.rom.online.ReducedResult`) the true error of
    ``measure`` against the HF archive ``reference`` at the same times (module docstring), ``(n_steps,)``
    (NaN where the reference has no step at that time). Collective."""
    from ..io.archive import Archive
    from ..reduction.sources import read_block
    from ..parallel.collectives import allreduce_sum
    dm = full.dm
    with Archive.open(reference, comm) as ar:
        name = "U" if measure == "u" else measure
        if name not in ar.fields():
            raise InputError(f"{reference}: no field {name!r} to measure the error of {measure}")
        info = ar.field_info(name)
        times = np.asarray(info["time"], dtype=float)
        loc = "node" if name == "U" else "ip"
        src = ar.field_source(name, redistributor=dm.redistributor(loc))
        ref = read_block(src, 0, src.n_snapshots)                     # (n_local rows, F)
    if measure != "u":
        d = full.duals.get(measure)
        if d is None:
            raise InputError(f"error of {measure}: the reduced model has no dual field {measure!r}")
        vals = result.point_values(measure)
    rom_cols, ref_cols, which = [], [], []
    for j, t in enumerate(result.times):
        i = int(np.argmin(np.abs(times - t)))
        if abs(times[i] - t) > 1e-9 * max(1.0, abs(t)):
            continue
        if measure == "u":
            rom_cols.append(full.displacement(result.gamma[j], result.a[j]).reshape(-1))
        else:
            rom_cols.append(d.gappy.reconstruct(d.gappy.coefficients(vals[j].reshape(-1))))
        ref_cols.append(ref[:, i])
        which.append(j)
    if not which:
        raise InputError(f"{reference}: no step at the times of the online run")
    R = np.stack(rom_cols, axis=1)
    H = np.stack(ref_cols, axis=1)
    diff = allreduce_sum(np.einsum("ij,ij->j", R - H, R - H), comm)
    norm = allreduce_sum(np.einsum("ij,ij->j", H, H), comm)
    out = np.full(result.n_steps, np.nan)
    out[which] = np.sqrt(diff) / max(float(np.sqrt(norm.max())), 1e-300)
    return out, np.sqrt(norm) / max(float(np.sqrt(norm.max())), 1e-300)


def calibrate(rom, runs, comm, field="p", measure="u", quantile=0.9, min_level=1e-2):
    """Run the model online on every ``(case, reference archive)`` of ``runs`` and fit a :class:`Calibration`
    of the indicator of ``field`` to the error of ``measure``. Steps where the reference norm is below
    ``min_level`` × its maximum are left out (the error there is relative to nearly nothing). Returns
    ``(Calibration, report)`` with the report per run: name, max indicator, max error, and the per-step
    pairs. Collective."""
    from ..io.archive import distributed_mesh
    from .full import FullOperators
    from .online import read_case_spec, solve
    if field not in rom.duals:
        raise InputError(f"calibration: the indicator field {field!r} is not a dual field of {rom.path} "
                         f"({', '.join(rom.duals) or 'none'})")
    full = None
    report, eta_all, err_all = [], [], []
    for case, reference in runs:
        spec = read_case_spec(case, comm)
        if full is None:
            full = FullOperators.read(rom, distributed_mesh(spec["mesh_file"], comm))
        res = solve(rom, spec, comm)
        err, level = step_errors(full, res, reference, measure, comm)
        eta = np.asarray(res.indicator[field])
        keep = np.isfinite(err) & (level >= min_level)
        report.append({"case": str(case), "name": res.name, "indicator": float(np.max(eta)),
                       "error": float(np.nanmax(err)), "steps": [[float(a), float(b)] for a, b in
                                                                 zip(eta[keep], err[keep])]})
        eta_all.append(eta[keep])
        err_all.append(err[keep])
        log.info("calibration run %s: max indicator %.3g, max error of %s %.3g", res.name, np.max(eta), measure,
                 np.nanmax(err))
    cal = Calibration.fit(np.concatenate(eta_all), np.concatenate(err_all), field, measure, quantile,
                          spearman_run=spearman([r["indicator"] for r in report], [r["error"] for r in report]),
                          runs=[{k: r[k] for k in ("name", "indicator", "error")} for r in report])
    log.info("calibration: e ≈ %.3g · η^%.3g over %d steps (Spearman %.3f per step, %.3f per run)",
             np.exp(cal.intercept + cal.shift), cal.slope, cal.n, cal.spearman_step, cal.spearman_run)
    return cal, report


def plot_calibration(cal, report, path):
    """PNG scatter plot of the calibration pairs (indicator vs error, log-log) with the fitted map."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in report:
        s = np.asarray(r["steps"]).reshape(-1, 2)
        if s.size:
            ax.loglog(s[:, 0], s[:, 1], ".", ms=3, alpha=0.5)
    ax.loglog([r["indicator"] for r in report], [r["error"] for r in report], "k^", ms=7,
              label=f"runs (max over time), Spearman {cal.spearman_run:.3f}")
    xs = np.logspace(np.log10(max(min(r["indicator"] for r in report) / 10, 1e-12)),
                     np.log10(max(r["indicator"] for r in report) * 2), 50)
    ax.loglog(xs, cal.estimate(xs), "r-", label=f"estimate {np.exp(cal.intercept + cal.shift):.3g} η^{cal.slope:.2f}")
    ax.set_xlabel(f"indicator η ({cal.field} Gappy-POD residual)")
    ax.set_ylabel(f"true error of {cal.measure}")
    ax.set_title(f"error indicator vs true error (Spearman per step {cal.spearman_step:.3f})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
