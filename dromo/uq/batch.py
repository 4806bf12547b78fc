"""Many draws of one reduced model solved together: the reduced Newton of :mod:`dromo.rom.online`, batched.

Draws of a Monte Carlo that fall in the same cluster differ only by their temperature at the reduced points,
so B of them are one problem of ``B × n_points`` points: the laws run once over all of them (one vectorized
call per iteration instead of B), the B reduced residuals ``(B, k)`` and tangents ``(B, k, k)`` come from
batched products, and the B Newton updates from one batched dense solve. Every draw keeps its own
convergence test (the one of :class:`~dromo.rom.online.ReducedNewton`: ``‖r_b‖ ≤ max(rtol F_b, atol)``); a
converged draw's γ is frozen while the others iterate, so each draw ends on the iterate the single-draw
solver stops at (the same values to round-off). Needs fixed time steps (``[time] fixed = true``: every
draw on one time grid); the caller falls back to one draw at a time otherwise, or when a draw of the batch
fails (a failed law update or no convergence at a fixed step).

Local (one rank, no communication): ``dromo uq`` gives every rank its own draws.
"""
import numpy as np

from ..errors import ConvergenceError


def _stacked_points(oc, offsets):
    """A PointProblem of B copies of the case's points (draw-major), the temperature of copy b getting
    ``a(t) · offsets[b]``."""
    from ..hf.points import PointGroup, PointProblem, PointTemperature
    pp = oc.points
    B, n = len(offsets), pp.n
    shift = (np.arange(B) * n)[:, None]
    groups = [PointGroup(g.elset, g.law, (g.rows[None, :] + shift).reshape(-1)) for g in pp.groups]
    T = pp.temperature
    if T.spec is None or T.series is not None:
        raise ConvergenceError("batched draws need a value/expression temperature")
    temp = PointTemperature(B * n, spec=T.spec, coordinates=np.tile(T.x, (B, 1)), amplitude=T.amplitude,
                            offset=np.concatenate(offsets))
    return PointProblem(groups, temp, pp.time, np.tile(pp.ids, B), name=pp.name)


def solve_batch(rom, spec, draws):
    """Solve the draws (``FieldDraw`` objects, at the model's points) with ``rom``, together. Returns one dict
    per draw as :func:`dromo.uq.run.solve_draw` (``seconds``: its share of the batch's time loop). Raises
    :class:`~dromo.errors.ConvergenceError` when a draw fails or the time steps are not fixed."""
    import time
    from mpi4py import MPI
    from ..rom.online import ReducedNewton, prepare
    from .sampling import draw_spec
    comm = MPI.COMM_SELF
    B = len(draws)
    oc = prepare(rom, draw_spec(spec, draws[0]), comm, check_mesh=False)
    ts = oc.time
    if not ts.fixed:
        raise ConvergenceError("batched draws need fixed time steps ([time] fixed = true)")
    one = ReducedNewton(rom, oc, comm)
    n, k = oc.points.n, one.k
    offsets = [d.at_points(oc.points.ids) for d in draws]
    pp = _stacked_points(oc, offsets)
    E2, EL2, Ew2, absEw2 = one.E2, one.EL2, one.Ew2, one.absEw2
    Et = np.tile(one.E, (B, 1, 1))                                    # (B n, 6, k)
    duals = list(rom.duals.items())
    rec = {"times": [], "gamma": [], "a": [], "coeffs": {f: [] for f, _ in duals}}
    ind = {f: np.zeros(B) for f, _ in duals}
    scale = {f: np.zeros(B) for f, _ in duals}

    def strains(a, G):                                                # G (B, k) -> (B n, 6)
        eps = (G @ E2.T)
        if a.size:
            eps = eps + (EL2 @ a)[None, :]
        return eps.reshape(B * n, 6)

    def record(t, G, a, stress, internal):
        rec["times"].append(t)
        rec["gamma"].append(G.copy())
        rec["a"].append(np.asarray(a, dtype=float).copy())
        for f, d in duals:
            if f == "S":
                v = stress.reshape(B, -1)
            else:
                v = pp.internal_field(internal, f).reshape(B, -1)
            Y = np.ascontiguousarray(v.T)                             # (n · nc, B)
            rec["coeffs"][f].append(d.fit.coefficients(Y).T.copy())  # (B, k_F)
            nv = np.linalg.norm(Y, axis=0)
            scale[f] = np.maximum(scale[f], nv)
            rel = d.fit.residual(Y)
            eta = np.divide(rel * nv, scale[f], out=np.zeros(B), where=scale[f] > 0)
            ind[f] = np.maximum(ind[f], eta)

    t = ts.start
    a0 = oc.lifting(t)
    G = np.zeros((B, k))
    eps_old = np.zeros((B * n, 6))
    stress = np.zeros((B * n, 6))
    internal = pp.initial_internal()
    T_old = pp.temperature_at(t)
    record(t, G, a0, stress, internal)
    tic = time.perf_counter()
    inc = 0
    while ts.end - t > 1e-9 * ts.dt and inc < ts.max_increments:
        dt = min(ts.dt, ts.end - t)
        if ts.end - (t + dt) < 1e-6 * dt:
            dt = ts.end - t
        t1 = t + dt
        a1, f1 = oc.lifting(t1), oc.force(t1)
        fnorm = float(np.linalg.norm(f1))
        T1 = pp.temperature_at(t1)
        active = np.ones(B, bool)
        for it in range(ts.max_iterations + 1):
            eps = strains(a1, G)
            stress, internal1, tangent, failed = pp.update_laws(eps_old, eps - eps_old, internal, T_old, T1, dt, t)
            if failed or pp.nonfinite:
                raise ConvergenceError(f"t = {t1:g}: the law failed at {failed or len(pp.nonfinite)} point(s) of "
                                       f"the batch")
            sig = stress.reshape(B, n * 6)
            r = sig @ Ew2.T - f1[None, :]                             # (B, k)
            ref = np.maximum(fnorm, np.linalg.norm(np.abs(sig) @ absEw2.T, axis=1))
            rn = np.linalg.norm(r, axis=1)
            if not np.all(np.isfinite(rn)):
                raise ConvergenceError(f"t = {t1:g}: non-finite reduced residual in the batch")
            active &= rn > np.maximum(ts.rtol * ref, ts.atol)
            if not active.any() or k == 0:
                break
            if it == ts.max_iterations:
                raise ConvergenceError(f"t = {t1:g}: {int(active.sum())} draw(s) of the batch did not converge in "
                                       f"{ts.max_iterations} reduced Newton iterations")
            CE = np.matmul(tangent, Et).reshape(B, n * 6, k)
            K = np.einsum("kj,bjl->bkl", Ew2, CE[active])
            try:
                G[active] -= np.linalg.solve(K, r[active][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                raise ConvergenceError(f"t = {t1:g}: singular reduced tangent in the batch") from None
        t, eps_old, internal, T_old = t1, eps, internal1, T1
        inc += 1
        record(t, G, a1, stress, internal)
    seconds = time.perf_counter() - tic
    out = []
    for b in range(B):
        out.append({"times": np.asarray(rec["times"]), "gamma": np.array([g[b] for g in rec["gamma"]]),
                    "a": np.array(rec["a"]),
                    "coeffs": {f: np.array([c[b] for c in v]) for f, v in rec["coeffs"].items()},
                    "indicator": {f: float(ind[f][b]) for f in ind}, "seconds": seconds / B})
    return out
