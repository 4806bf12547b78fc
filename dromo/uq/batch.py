"""Many draws of one reduced model solved together: the reduced Newton of :mod:`dromo.rom.online`, batched.

Draws of a Monte Carlo that fall in the same cluster differ only by their temperature at the reduced points,
so B of them are one problem of ``B × n_points`` points: per Newton iteration the laws run once over the
points of every draw still iterating (one vectorized call per group of points instead of B), the reduced
residuals ``(B, k)`` come from one matrix product, the tangents ``(B, k, k)`` from two batched BLAS products
(``C E`` per point over the draws, then ``Σ_p w Eᵀ (C E)`` per draw), and the Newton updates from one batched
dense solve. Only the points of the reduced integration (non-zero weight) iterate: the points a model
adds for its dual fields' Gappy-POD (zero weight, about half of a dictionary's local ROM points) enter
neither the residual nor the tangent, so their laws run once per increment, at the converged strains
(the values the single-draw solver ends on there). The two sets keep their strains, stresses, internal
variables and temperatures in separate arrays (:class:`_SubsetState`: no gather or scatter of a subset at
every iteration); the dual fields' fits take their values in that order (``GappyFit.fit_rows(row_order=)``).
Every draw keeps the convergence test of
:class:`~dromo.rom.online.ReducedNewton`
(``‖r_b‖ ≤ max(rtol F_b, atol)``, its divergence test and iteration limit); a converged draw is frozen (its
laws are not evaluated again in that increment) while the others iterate, so each draw ends on the iterate
the single-draw solver stops at (the same values to round-off).

A draw that fails — its law's local Newton fails or returns NaN/Inf at a point, its strains are not finite,
its temperature leaves a law's table, its reduced Newton diverges or does not converge, its reduced tangent
is singular — is dropped from the batch with the reason (the message :func:`dromo.hf.march.march` gives
for a failed fixed step: with fixed steps the single-draw solver fails that draw too); the others go on.
A law call that raises (an :class:`~dromo.errors.InputError`, e.g. a temperature outside a table) is
bisected over the draws to find the ones that raise.

Where the points are one group of the compiled von Mises law, each increment runs compiled
(:mod:`dromo.uq.batch_kernel`: one C call for the quadrature points' Newton and one for the dual points' laws,
draw after draw, the same iterates to round-off, no array traffic of the batch per iteration); the Python path
below stays the reference and the fallback.

Needs fixed time steps (``[time] fixed = true``: every draw on one time grid) and a value/expression
temperature; :func:`solve_batch` raises :class:`~dromo.errors.ConvergenceError` otherwise (the caller then
solves the draws one at a time).

Local (one rank, no communication): ``dromo uq`` gives every rank its own draws.
"""
import time
import weakref

import numpy as np

from ..errors import ConvergenceError, DromoError
from .batch_kernel import AT_DUAL, AT_ITERATION, FAILURES, LAW_FAILED, LAW_NONFINITE, CompiledNewton


class _DrawFailure(Exception):
    """Raised inside the batch for the draws of a law call that fails; carries the per-draw messages."""


class BatchedNewton:
    """The reduced Newton over B draws of one model (module docstring). ``oc`` the
    :class:`~dromo.rom.online.OnlineCase` of the first draw (its points, loads, time stepping), ``offsets``
    ``(B, n)`` the draws' temperature offsets δT at the points (added as ``a(t) · δT``).

    The points split in two :class:`~dromo.hf.points.PointSubset`: ``quad``, the points of the reduced
    integration (non-zero weight), whose laws run at every Newton iteration, and ``dual``, the points added
    for the dual fields' Gappy-POD only (zero weight: they are not in the residual or the tangent), whose laws
    run once per increment at the converged strains."""

    def __init__(self, rom, oc, offsets, structured_tangent=True):
        from ..hf.points import PointTemperature
        from ..rom.online import ReducedNewton
        self.rom, self.oc = rom, oc
        one = ReducedNewton(rom, oc, _self_comm())
        self.k = one.k
        pp = oc.points
        self.n = n = pp.n
        self.offsets = np.asarray(offsets, dtype=float).reshape(-1, n)
        self.B = B = self.offsets.shape[0]
        # the single-draw solver's split of the points and its arrays over them
        self.quad, self.dual = one.quad, one.dual
        self.E, self.E2, self.EL2, self.Ew2 = one.E_quad, one.E2_quad, one.EL2_quad, one.Ew2_quad   # n_q points
        self.EwT = np.ascontiguousarray(one.Ew2_quad.T)                   # (6 n_q, k)
        self.absEwT = np.ascontiguousarray(one.absEw2_quad.T)
        self.E2_dual, self.EL2_dual = one.E2_dual, one.EL2_dual
        # structured tangents C = Kb J + cdev D + u ⊗ n where the laws give them (dromo.rom.reduced_tangent)
        self.structured = {sub: structured_tangent and all(g.law.tangent_parts_supported() for g in sub.groups)
                           for sub in (self.quad, self.dual)}
        if self.structured[self.quad]:
            from ..rom.reduced_tangent import StructuredReducedTangent
            self.reduced_tangent = model_cache(rom, "reduced_tangent",
                                               lambda: StructuredReducedTangent(self.E, one.w[self.quad.sel]))
        T = pp.temperature
        if T.spec is None or T.series is not None:
            raise ConvergenceError("batched draws need a value/expression temperature")
        # the case's field is the same for every draw: evaluated once per time at the n points, the draws'
        # offsets added (the values of one PointTemperature over the B × n points)
        self.base_temperature = PointTemperature(n, spec=T.spec, coordinates=T.x, amplitude=T.amplitude)
        self.split_offsets = [np.ascontiguousarray(self.offsets[:, sub.sel]) for sub in (self.quad, self.dual)]
        self.amplitude = T.amplitude
        # each dual field's fit rows in the order [quadrature points, dual points] (point-major)
        order = np.concatenate([self.quad.sel, self.dual.sel])
        self.fit_order = {f: (order[:, None] * d.fit.nc + np.arange(d.fit.nc)).reshape(-1)
                          for f, d in rom.duals.items()}

    def temperatures(self, t):
        """Temperatures of the draws at time ``t`` at the quadrature and at the dual points:
        ``((B, n_q), (B, n_d))``."""
        base, a = self.base_temperature(t), self.amplitude(t)
        return tuple(base[sub.sel][None, :] + a * off for sub, off in zip((self.quad, self.dual), self.split_offsets))

    # -------------------------------------------------------------------------------------------- laws
    def _laws(self, sub, e0, de, internal, T0, T1, dt, t):
        """The laws at the points of ``sub`` (:class:`~dromo.hf.points.PointSubset`) of ``a`` draws over one
        increment, from their start-of-increment strains ``e0`` and increments ``de`` ``(a, n_s, 6)``, internal
        variables (:meth:`~dromo.hf.points.PointSubset.take`) and temperatures ``T0``, ``T1`` ``(a, n_s)``:
        ``(stress (a, n_s, 6), internal per group (a, n_group, ns), tangent (a, n_s, 6, 6) — or its structure
        (a, n_s, 14) where ``self.structured[sub]`` —, failed points per draw (a,), NaN/Inf points per draw
        (a,))``. Raises :class:`_DrawFailure` when a law call raises (its message, per draw: see :meth:`laws`)."""
        a, n = e0.shape[0], sub.n
        failed = np.zeros(a, np.int64)
        bad = np.zeros(a, np.int64)
        out_int = []
        parts = self.structured[sub]
        tshape = (14,) if parts else (6, 6)
        if not sub.whole:
            stress = np.empty((a, n, 6))
            tangent = np.empty((a, n) + tshape)
        for g, st in zip(sub.groups, internal):
            law, rows = g.law, g.rows
            ng = len(rows)
            sl = (slice(None),) if sub.whole else (slice(None), rows)
            try:
                res = law.update(e0[sl].reshape(-1, 6), de[sl].reshape(-1, 6), st.reshape(a * ng, -1),
                                 T0[sl].reshape(-1), T1[sl].reshape(-1), dt, t,
                                 **({"tangent": "parts"} if parts else {}))
            except DromoError as exc:
                raise _DrawFailure(str(exc)) from exc
            tan = res.tangent_parts if parts else res.tangent
            if sub.whole:                                             # the law's arrays, no copy
                stress, tangent = res.stress.reshape(a, n, 6), tan.reshape((a, n) + tshape)
            else:
                stress[:, rows] = res.stress.reshape(a, ng, 6)
                tangent[:, rows] = tan.reshape((a, ng) + tshape)
            out_int.append(res.state.reshape(a, ng, -1))
            failed += np.count_nonzero(np.asarray(res.failed).reshape(a, ng), axis=1)
            if getattr(res, "nonfinite", None) is not None:
                bad += np.count_nonzero(np.asarray(res.nonfinite).reshape(a, ng), axis=1)
        return stress, out_int, tangent, failed, bad

    def laws(self, sub, e0, de, internal, T0, T1, dt, t):
        """:meth:`_laws` over ``a`` draws; a call that raises is bisected over the draws. Returns its tuple
        for the draws that passed, their positions (``ok``, in ``range(a)``), and ``{position: message}`` of
        those that raised."""
        a = e0.shape[0]
        try:
            return self._laws(sub, e0, de, internal, T0, T1, dt, t), np.arange(a), {}
        except _DrawFailure as exc:
            if a == 1:
                return None, np.zeros(0, np.int64), {0: str(exc)}
        h = a // 2
        res, oks, errs = [], [], {}
        for pos in (np.arange(h), np.arange(h, a)):
            r, ok, e = self.laws(sub, e0[pos], de[pos], [s[pos] for s in internal], T0[pos], T1[pos], dt, t)
            errs.update({int(pos[i]): m for i, m in e.items()})
            if ok.size:
                res.append(r)
                oks.append(pos[ok])
        if not res:
            return None, np.zeros(0, np.int64), errs
        merged = tuple(np.concatenate([r[j] for r in res]) for j in (0, 2, 3, 4))
        internal_ = [np.concatenate([r[1][i] for r in res]) for i in range(len(sub.groups))]
        return (merged[0], internal_, merged[1], merged[2], merged[3]), np.concatenate(oks), errs

    # -------------------------------------------------------------------------------------------- algebra
    def strains(self, a, G, dual=False):
        """Strains ``(len(G), n_s, 6)`` at the quadrature (or ``dual``) points of reduced coordinates
        ``G (·, k)`` and lifting values ``a``."""
        E2, EL2 = (self.E2_dual, self.EL2_dual) if dual else (self.E2, self.EL2)
        eps = G @ E2.T
        if a.size:
            eps += (EL2 @ a)[None, :]
        return eps.reshape(G.shape[0], -1, 6)

    def tangents(self, tangent):
        """Reduced tangents ``K_b = Σ_p w_p E_pᵀ C_bp E_p`` ``(a, k, k)`` of the quadrature points' tangents
        ``(a, n_q, 6, 6)``: ``C E`` (one stacked product, draw-major: no transposed copy), then one BLAS
        product ``(k, 6 n_q) (6 n_q, k)`` per draw; of structured tangents ``(a, n_q, 14)``:
        :class:`~dromo.rom.reduced_tangent.StructuredReducedTangent`."""
        a, k = tangent.shape[0], self.k
        if self.structured[self.quad]:
            return self.reduced_tangent(tangent)
        CE = np.matmul(tangent, self.E[None]).reshape(a, self.quad.n * 6, self.k)
        return np.matmul(self.Ew2[None], CE)


#: per reduced model, what the batches of its draws share (a model's draws come in several batches)
_MODEL_CACHE = weakref.WeakKeyDictionary()


def model_cache(rom, name, make):
    """``make()`` for the reduced model ``rom``, computed once per model (kept while the model lives)."""
    per = _MODEL_CACHE.setdefault(rom, {})
    if name not in per:
        per[name] = make()
    return per[name]


def _self_comm():
    from mpi4py import MPI
    return MPI.COMM_SELF


class _SubsetState:
    """The end-of-increment values of B draws at the points of one :class:`~dromo.hf.points.PointSubset`:
    strains and stresses ``(B, n_s, 6)``, internal variables per group of the subset ``[(B, n_g, ns)]`` and
    temperatures ``(B, n_s)``. The quadrature and the dual points keep theirs apart (no gather or scatter of a
    subset from all the points at every increment)."""

    def __init__(self, eps, stress, internal, T):
        self.eps, self.stress, self.internal, self.T = eps, stress, internal, T

    @classmethod
    def initial(cls, sub, B, T):
        z = np.zeros((B, sub.n, 6))
        return cls(z, z.copy(), [np.repeat(g.law.initial_state(len(g.rows))[None], B, axis=0) for g in sub.groups], T)

    def copy(self, T):
        """The values to be overwritten by the next increment (those of a draw that does not converge stay);
        ``T`` the new temperatures."""
        return _SubsetState(self.eps.copy(), self.stress.copy(), [s.copy() for s in self.internal], T)

    def take(self, A, whole):
        """``(eps, internal, T)`` of the draws ``A`` (the arrays themselves when ``whole``: every draw)."""
        if whole:
            return self.eps, self.internal, self.T
        return self.eps[A], [s[A] for s in self.internal], self.T[A]

    def put(self, D, eps, stress, internal):
        """Store the values of the draws ``D``."""
        self.eps[D], self.stress[D] = eps, stress
        for dst, src in zip(self.internal, internal):
            dst[D] = src


def _dual_values(f, sub, state, B):
    """Values ``(B, n_s · nc)`` of dual field ``f`` (S, E or an internal variable) at the points of subset
    ``sub`` from its :class:`_SubsetState`."""
    if f == "S":
        return state.stress.reshape(B, -1)
    if f == "E":
        return state.eps.reshape(B, -1)
    size = next((g.law.state_sizes[f] for g in sub.groups if f in g.law.state_names), 1)
    out = np.zeros((B, sub.n, size))
    for g, st in zip(sub.groups, state.internal):
        if f in g.law.state_names:
            out[:, g.rows] = g.law.state_view(st.reshape(-1, st.shape[-1]), f).reshape(B, len(g.rows), size)
    return out.reshape(B, -1)


def solve_batch(rom, spec, draws, predictor=True, structured_tangent=True, compiled=True):
    """Solve the draws (``FieldDraw`` objects, at the model's points) with ``rom``, together. Returns one dict
    per draw: ``ok`` True and the keys of :func:`dromo.uq.run.solve_draw` (``seconds``: its share of the
    batch's time loop), or ``ok`` False and the reason in ``error``. Raises
    :class:`~dromo.errors.ConvergenceError` when the time steps are not fixed or the temperature is not a
    value/expression (not a draw's failure: the caller solves the draws one at a time).

    ``predictor``: each increment's Newton starts from γ extrapolated linearly from the last two steps
    (``γ_n + (γ_n − γ_{n−1}) Δt_{n+1}/Δt_n``) instead of ``γ_n``: one law evaluation fewer where the
    response is smooth in time; the converged γ differ from the single-draw solver's within its Newton
    tolerance only. ``False``: the single-draw solver's iterates (to round-off).

    ``structured_tangent``: laws that give their tangent's structure (an isotropic part and a rank-one part:
    the compiled von Mises laws) have the reduced tangents summed from it (:meth:`BatchedNewton.tangents`);
    ``False``: from the full 6 × 6 tangents (the same matrices to round-off).

    ``compiled``: each increment by :mod:`dromo.uq.batch_kernel` (C, draw after draw) where it applies (a
    compiled von Mises law with ``structured_tangent``; the dual points too when they are such a group);
    ``False``: the batched Python path (the same iterates to round-off, the same law evaluations and failures).
    """
    from ..rom.indicator import indicator_step
    from ..rom.online import prepare
    from .sampling import draw_spec
    B = len(draws)
    oc = prepare(rom, draw_spec(spec, draws[0]), _self_comm(), check_mesh=False)
    ts = oc.time
    if not ts.fixed:
        raise ConvergenceError("batched draws need fixed time steps ([time] fixed = true)")
    bn = BatchedNewton(rom, oc, [d.at_points(oc.points.ids) for d in draws], structured_tangent)
    cn = CompiledNewton(bn) if compiled else None
    if cn is not None and not cn.usable:
        cn = None
    spare, spare_d = None, None                                       # the compiled path's other buffers
    k = bn.k
    quad, dual = bn.quad, bn.dual
    duals = list(rom.duals.items())
    rec = {"times": [], "gamma": [], "a": [], "coeffs": {f: [] for f, _ in duals}}
    ind = {f: np.zeros(B) for f, _ in duals}
    scale = {f: np.zeros(B) for f, _ in duals}
    error = {}                                                        # draw -> message
    evaluations = np.zeros(B, np.int64)                               # law evaluations per draw
    alive = np.ones(B, bool)

    def record(t, G, a, Q, D):
        rec["times"].append(t)
        rec["gamma"].append(G.copy())
        rec["a"].append(np.asarray(a, dtype=float).copy())
        for f, d in duals:
            Y = np.concatenate([_dual_values(f, quad, Q, B), _dual_values(f, dual, D, B)], axis=1)
            c, r, nv = d.fit.fit_rows(Y, row_order=bn.fit_order[f], norms=True)   # (B, k_F), (B,), (B,)
            rec["coeffs"][f].append(c)
            eta, scale[f] = indicator_step(r, nv, scale[f])
            ind[f] = np.where(alive, np.maximum(ind[f], eta), ind[f])

    def fail(b, t, dt, reason):
        error[int(b)] = (f"online {oc.name}: increment from t = {t:g} failed at the fixed time step {dt:g}: "
                         f"{reason}")
        alive[b] = False

    def checked(A, eps, out, it=None):
        """The draws of a law call's result whose law integration succeeded everywhere (the others failed
        with the reason): ``(A, eps, stress, internal, tangent)`` restricted to them. ``it``: the Newton
        iteration (quadrature points), None: the dual points at the converged strains."""
        stress, st, tangent, failed, bad = out
        pre, post = (AT_ITERATION.format(it=it), "") if it is not None else ("", AT_DUAL)
        for b, nb in zip(A[bad > 0], bad[bad > 0]):
            fail(b, t, dt, pre + LAW_NONFINITE.format(nf=nb) + post)
        for b, nf in zip(A[(failed > 0) & (bad == 0)], failed[(failed > 0) & (bad == 0)]):
            fail(b, t, dt, pre + LAW_FAILED.format(nf=nf) + post)
        keep = (bad == 0) & (failed == 0)
        if keep.all():
            return A, eps, stress, st, tangent
        return A[keep], eps[keep], stress[keep], [s[keep] for s in st], tangent[keep]

    def compiled_increment(t, dt, a1, f1, fnorm, Q, D, Tq1, Td1):
        """The increment by ``cn`` (:mod:`dromo.uq.batch_kernel`) from ``Q``, ``D`` into the buffers of two
        increments ago (a failed draw's values there are not read): ``(Q1, D1)``, None for a point set the
        Python path must do (a temperature off a law's table, or a law the kernel does not take)."""
        Q1 = spare if spare is not None else Q.copy(Tq1)
        Q1.T = Tq1
        try:
            status, its, rn, r1, nf, ev = cn.quadrature(G, a1, f1, fnorm, ts, dt, Q, Q1, Tq1, alive)
        except DromoError:
            return None, None
        D1 = None
        if cn.dual_usable:
            D1 = spare_d if spare_d is not None else D.copy(Td1)
            D1.T = Td1
            try:
                cn.dual(G, a1, dt, D, D1, Td1, alive, status, nf)
            except DromoError:
                D1 = None
        evaluations[alive] += ev[alive]
        for b in np.flatnonzero(alive & (status != 0)):
            fail(b, t, dt, FAILURES[int(status[b])].format(it=its[b], rn=rn[b], res1=r1[b], nf=nf[b],
                                                            max_iterations=ts.max_iterations))
        return Q1, D1

    def newton_python(t, dt, a1, f1, fnorm, Q, Q1, Tq1):
        """The quadrature points' Newton of the increment from ``t`` over ``dt``, batched (module docstring):
        the draws alive iterate from ``G``, their converged values go into ``Q1``."""
        A = np.flatnonzero(alive)                                     # draws iterating
        res1 = np.zeros(B)
        res_prev = np.zeros(B)
        for it in range(ts.max_iterations + 1):
            if A.size == 0:
                break
            evaluations[A] += 1
            eps = bn.strains(a1, G[A])
            fin = np.isfinite(eps).all(axis=(1, 2))
            if not fin.all():
                for b in A[~fin]:
                    fail(b, t, dt, FAILURES[1].format(it=it))
                A, eps = A[fin], eps[fin]
            whole = A.size == B
            e0, st0, T0 = Q.take(A, whole)
            out, ok, errs = bn.laws(quad, e0, eps - e0, st0, T0, Tq1 if whole else Tq1[A], dt, t)
            for p, m in errs.items():
                fail(A[p], t, dt, m)
            if out is None:
                break
            if ok.size < A.size:
                A, eps = A[ok], eps[ok]
            A, eps, stress, st, tangent = checked(A, eps, out, it)
            if A.size == 0:                                           # every draw failed there
                break
            sig = stress.reshape(A.size, -1)
            r = sig @ bn.EwT - f1[None, :]                                # (a, k)
            ref = np.maximum(fnorm, np.linalg.norm(np.abs(sig) @ bn.absEwT, axis=1))
            rn = np.linalg.norm(r, axis=1)
            if it == 1:
                res1[A] = rn
            done = rn <= np.maximum(ts.rtol * ref, ts.atol)
            if k == 0:
                done[:] = True
            if done.all():                                            # converged: their end-of-increment values
                Q1.put(A, eps, stress, st)
            elif done.any():
                Q1.put(A[done], eps[done], stress[done], [x[done] for x in st])
            nonfin = ~np.isfinite(rn)
            diverging = (it >= 3) & (rn > 1e3 * np.maximum(res1[A], ts.atol)) & (rn > 1e2 * res_prev[A])
            for b, rb in zip(A[nonfin], rn[nonfin]):
                fail(b, t, dt, FAILURES[3].format(it=it))
            for b, rb in zip(A[diverging & ~done & ~nonfin], rn[diverging & ~done & ~nonfin]):
                fail(b, t, dt, FAILURES[4].format(rn=rb, it=it, res1=res1[b]))
            go = ~done & ~nonfin & ~diverging
            if it == ts.max_iterations:
                for b, rb in zip(A[go], rn[go]):
                    fail(b, t, dt, FAILURES[5].format(max_iterations=ts.max_iterations, rn=rb))
                break
            res_prev[A] = rn
            if not go.all():
                A, r, tangent = A[go], r[go], tangent[go]
            if A.size == 0:
                break
            K = bn.tangents(tangent)
            try:
                G[A] -= np.linalg.solve(K, r[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:                             # which draws: one solve each
                for j, b in enumerate(A):
                    try:
                        G[b] -= np.linalg.solve(K[j], r[j])
                    except np.linalg.LinAlgError:
                        fail(b, t, dt, FAILURES[6].format(it=it))
                A = A[alive[A]]

    t = ts.start
    a0 = oc.lifting(t)
    G = np.zeros((B, k))
    Tq, Td = bn.temperatures(t)
    Q, D = _SubsetState.initial(quad, B, Tq), _SubsetState.initial(dual, B, Td)
    record(t, G, a0, Q, D)
    tic = time.perf_counter()
    inc = 0
    G_prev, dt_prev = G.copy(), None
    while ts.end - t > 1e-9 * ts.dt and inc < ts.max_increments:
        dt = min(ts.dt, ts.end - t)
        if ts.end - (t + dt) < 1e-6 * dt:
            dt = ts.end - t
        t1 = t + dt
        a1, f1 = oc.lifting(t1), oc.force(t1)
        fnorm = float(np.linalg.norm(f1))
        Tq1, Td1 = bn.temperatures(t1)
        if predictor and dt_prev is not None:
            with np.errstate(invalid="ignore", over="ignore"):     # failed draws: any values
                G, G_prev = G + (G - G_prev) * (dt / dt_prev), G
        else:
            G_prev = G.copy()
        dt_prev = dt
        Q1, D1 = compiled_increment(t, dt, a1, f1, fnorm, Q, D, Tq1, Td1) if cn is not None else (None, None)
        if Q1 is None:
            Q1 = Q.copy(Tq1)
            newton_python(t, dt, a1, f1, fnorm, Q, Q1, Tq1)
        A = np.flatnonzero(alive)
        if D1 is None and dual.n and A.size:                         # the dual points, once, at the converged G
            D1 = D.copy(Td1)
            whole = A.size == B
            eps = bn.strains(a1, G if whole else G[A], dual=True)
            e0, st0, T0 = D.take(A, whole)
            out, ok, errs = bn.laws(dual, e0, eps - e0, st0, T0, Td1 if whole else Td1[A], dt, t)
            for p, m in errs.items():
                fail(A[p], t, dt, m)
            if out is not None:
                if ok.size < A.size:
                    A, eps = A[ok], eps[ok]
                A, eps, stress, st, _ = checked(A, eps, out)
                D1.put(A, eps, stress, st)
        elif D1 is None:
            D1 = D.copy(Td1)
        t, spare, spare_d, Q, D = t1, Q, D, Q1, D1
        inc += 1
        record(t, G, a1, Q, D)
    seconds = time.perf_counter() - tic
    out = []
    times = np.asarray(rec["times"])
    gam = np.stack(rec["gamma"], axis=1)                              # (B, s, k)
    coeffs = {f: np.stack(v, axis=1) for f, v in rec["coeffs"].items()}
    a_rec = np.array(rec["a"])
    for b in range(B):
        if not alive[b]:
            out.append({"ok": False, "error": error[b], "seconds": seconds / B})
            continue
        out.append({"ok": True, "times": times, "gamma": gam[b], "a": a_rec,
                    "coeffs": {f: v[b] for f, v in coeffs.items()},
                    "indicator": {f: float(ind[f][b]) for f in ind}, "seconds": seconds / B,
                    "law_evaluations": int(evaluations[b])})
    return out
