"""Vectorized, safeguarded scalar Newton solver for the local (per-point) equations of the laws.

Each point has one unknown x with a residual F(x) that is *decreasing* in x, F(lo) > 0 at the start
(``lo`` = the elastic state, usually x = 0). Newton steps that leave the current bracket
``[lo, hi]`` (or have a non-negative slope / non-finite value) are replaced by bisection (or, while no
upper bound is known, by doubling). Only the points still active are evaluated at each iteration
(fancy-indexed subsets): a loop over iterations, never over points.
"""
import numpy as np


def solve_decreasing(fun, x0, lo, hi, tol, maxit=60):
    """Solve F(x) = 0 for each point.

    Parameters
    ----------
    fun : callable(x, idx) -> (F, dF)
        Residual and its derivative for the points ``idx`` (integer indices into the problem arrays)
        at values ``x`` (same length as idx).
    x0, lo, hi : (m,) arrays
        Initial guess and bracket (``hi`` may be +inf). ``x0`` must lie in ``[lo, hi]``.
    tol : (m,) array
        Absolute tolerance on |F| per point.

    Returns
    -------
    x : (m,) solution (last iterate where not converged), converged : (m,) bool, iterations : int
    """
    x = np.array(x0, dtype=float)
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    m = x.shape[0]
    conv = np.zeros(m, dtype=bool)
    act = np.arange(m)
    it = 0
    for it in range(1, maxit + 1):
        if act.size == 0:
            break
        xa = x[act]
        F, dF = fun(xa, act)
        ok = np.abs(F) <= tol[act]
        conv[act[ok]] = True
        # bracket update
        pos = F > 0
        lo_a = np.where(pos, xa, lo[act])
        hi_a = np.where(pos, hi[act], xa)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            xn = xa - F / dF
        bad = ~np.isfinite(xn) | (dF >= 0) | (xn <= lo_a) | (xn >= hi_a)
        if bad.any():
            fin = np.isfinite(hi_a)
            bis = np.where(fin, 0.5 * (lo_a + hi_a), 2.0 * np.maximum(xa, lo_a))
            xn = np.where(bad, bis, xn)
        # points whose step is below round-off and residual small enough also stop
        tiny = (np.abs(xn - xa) <= 1e-15 * np.abs(xa)) & (np.abs(F) <= 1e3 * tol[act])
        conv[act[tiny & ~ok]] = True
        keep = ~(ok | tiny)
        x[act[keep]] = xn[keep]
        lo[act] = lo_a
        hi[act] = hi_a
        act = act[keep]
    return x, conv, it
