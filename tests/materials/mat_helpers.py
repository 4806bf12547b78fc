"""Shared helpers of the materials tests: drivers for single-point histories and FD tangents."""
import numpy as np


def run_strain_history(law, eps_hist, dt, T=293.0, state=None, t0=0.0):
    """Drive one point (or a batch) through a strain history ((nt+1, 6) or (nt+1, n, 6)); return
    stresses (nt, n, 6), states (nt, n, n_state), failed (nt, n)."""
    eps_hist = np.asarray(eps_hist, dtype=float)
    if eps_hist.ndim == 2:
        eps_hist = eps_hist[:, None, :]
    n = eps_hist.shape[1]
    st = law.initial_state(n) if state is None else state
    S, X, F = [], [], []
    t = t0
    for k in range(eps_hist.shape[0] - 1):
        r = law.update(eps_hist[k], eps_hist[k + 1] - eps_hist[k], st, T, T, dt, time=t)
        st = r.state
        t += dt
        S.append(r.stress)
        X.append(st)
        F.append(r.failed)
    return np.array(S), np.array(X), np.array(F)


def mixed_step(law, eps_old, st, sig_target, free, dt, T=293.0, time=0.0, tol=1e-10, maxit=30):
    """One increment with mixed control: stress components ``free`` (indices) reach ``sig_target[free]``;
    the others follow ``eps_old`` (unchanged). Global Newton at the point with the consistent tangent."""
    deps = np.zeros((1, 6))
    fr = np.asarray(free)
    for _ in range(maxit):
        r = law.update(eps_old, deps, st, T, T, dt, time=time)
        res = r.stress[0, fr] - sig_target[fr]
        if np.abs(res).max() <= tol * (1.0 + np.abs(sig_target).max()):
            return deps, r
        K = r.tangent[0][np.ix_(fr, fr)]
        deps[0, fr] -= np.linalg.solve(K, res)
    raise AssertionError("mixed control did not converge")


def fd_tangent(law, eps_old, deps, st, T_old, T_new, dt, h, time=0.0):
    """Central finite differences of the stress w.r.t. the strain increment, (n, 6, 6)."""
    n = eps_old.shape[0]
    out = np.empty((n, 6, 6))
    for j in range(6):
        dp = deps.copy()
        dp[:, j] += h
        dm = deps.copy()
        dm[:, j] -= h
        sp = law.update(eps_old, dp, st, T_old, T_new, dt, time=time).stress
        sm = law.update(eps_old, dm, st, T_old, T_new, dt, time=time).stress
        out[:, :, j] = (sp - sm) / (2 * h)
    return out


def random_admissible_states(law, n, rng, scale=4e-3, steps=4, dt=0.1, T=293.0):
    """Random strains and states reached by `steps` random increments (so the states are admissible)."""
    eps = np.zeros((n, 6))
    st = law.initial_state(n)
    for _ in range(steps):
        d = rng.normal(size=(n, 6)) * scale
        r = law.update(eps, d, st, T, T, dt)
        assert not r.failed.any()
        eps, st = eps + d, r.state
    return eps, st
