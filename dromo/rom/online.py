"""The online stage: a new case solved by the reduced Newton method at the reduced points.

``solve(rom, case, comm)`` (collective, any rank count; one rank is enough):

1. **the case against the model** (:func:`prepare`): the online case is an ordinary case file (the one
   ``dromo solve`` takes). Whatever the reduced model can represent may change — amplitude tables, load
   values, rotation speed and axis, gravity, temperature field and amplitude, time span and steps,
   the parameters of a law. What it cannot — another mesh, an element set or law type that differs, an
   imposed displacement, pressure set or load type absent from training, a temperature where training
   had none (or the reverse) — is an :class:`~dromo.errors.InputError` naming the item, before any
   increment;
2. **the reduced Newton increment** (:class:`ReducedNewton`): with ``a(t)`` the imposed values of the
   lifting terms and ``γ`` the reduced coordinates, the strains at the points are
   ``ε_k = Σ_i a_i(t) ε(L_i)(x_k) + Σ_j γ_j ε(ψ_j)(x_k)``; the case's laws run at those points only
   (backward Euler from the start-of-increment state, as in the HF solver); the reduced residual
   ``r = Σ_k w_k E_kᵀ σ_k − f_r(t)`` and tangent ``K = Σ_k w_k E_kᵀ C_k E_k`` (``E_k`` the ``6 × k`` mode
   strains at point k) are summed over the ranks with **one** Allreduce per iteration; a dense solve
   ``K Δγ = −r`` updates γ. Converged when ``‖r‖ ≤ max(rtol · F, atol)``, ``F = max(‖f_r‖, ‖Σ_k w_k
   |E_k|ᵀ|σ_k|‖)`` (the magnitude of the reduced internal forces), ``rtol``/``atol``/``max_iterations``
   from the case's ``[time]``. The points a model adds for its dual fields only (zero weight, e.g. the
   QDEIM points of p and S) are in neither: their laws run once per increment, at the converged γ;
3. **time stepping**: :func:`~dromo.hf.march.march`, the loop of the HF solver (cut-back, regrowth,
   fixed steps, the same options and failure messages).

The points are split over the ranks in contiguous blocks of increasing natural id; every rank holds the
reduced quantities (γ, a, K, r). Per increment nothing of the mesh size is touched: the cost is that of
the laws at the points plus ``O(n_points · 6 · k²)``.
"""
from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI

from ..errors import ConvergenceError, InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum
from ..parallel.comm import partition_range
from ..parallel.errors import collective

log = get_logger("dromo.rom.online")


# ------------------------------------------------------------------------------------------------ case
@dataclass
class OnlineCase:
    """The online case, evaluated against a model: this rank's points and the affine load coefficients.

    points : :class:`~dromo.hf.points.PointProblem` of this rank's share of the points
    rows : (n_local,) indices of those points in the model's point arrays
    lifting(t) -> (n_L,) imposed values of the lifting terms; force(t) -> (k,) reduced external force
    """
    name: str
    time: object
    points: object
    rows: np.ndarray
    lifting: object
    force: object


def read_case_spec(case, comm):
    """A case-file path (read on rank 0, broadcast) or an already parsed spec dict."""
    if isinstance(case, dict):
        return case
    from ..hf.case_file import read_case
    spec = None
    with collective(comm):
        if comm.rank == 0:
            spec = read_case(case)
    return comm.bcast(spec, root=0)


def _mesh_fingerprint(path, comm):
    """The fingerprint of a mesh file: rank 0 reads it (the whole mesh, on rank 0 only, for a 64-character
    output: the online stage builds no distributed mesh), the others receive the digest."""
    from ..mesh.readers import read_mesh
    fp = None
    with collective(comm):
        if comm.rank == 0:
            fp = read_mesh(path).fingerprint()
    return comm.bcast(fp, root=0)


def prepare(rom, case, comm=None, check_mesh=True):
    """Check an online case against ``rom`` and build its :class:`OnlineCase` (module docstring). Collective.
    ``check_mesh=False`` skips reading the case's mesh for its fingerprint (the caller checked it)."""
    from ..hf.loads import Amplitude, Centrifugal, Displacement, Gravity, Pressure, resolve_amplitude
    from ..hf.points import PointGroup, PointProblem, PointTemperature
    from ..materials.registry import make_law
    comm = comm or MPI.COMM_WORLD
    spec = read_case_spec(case, comm)
    name = spec.get("name", "case")
    where = f"online case {name!r}"
    terms = rom.case
    with collective(comm):
        if terms is None:
            raise InputError(f"{rom.path}: this reduced model has no case terms (made by `dromo hyperreduce`); "
                             f"build a model that can solve with `dromo offline`")
    if check_mesh:
        rom.check_mesh(_mesh_fingerprint(spec["mesh_file"], comm), f"{where} (mesh {spec['mesh_file']})")
    with collective(comm):
        amps = {k: (v if callable(v) else Amplitude(k, v)) for k, v in spec.get("amplitudes", {}).items()}
        # laws per element set
        mats = spec["materials"]
        trained = [g["elset"] for g in terms.groups]
        if sorted(mats) != sorted(trained):
            raise InputError(f"{where}: element sets with a material {sorted(mats)} differ from the training's "
                             f"{sorted(trained)}")
        laws, density = [], []
        for g in terms.groups:
            d = dict(mats[g["elset"]])
            density.append(float(d.pop("density", 0.0)))
            if d.get("type") != g["type"]:
                raise InputError(f"{where}: element set {g['elset']!r} has law type {d.get('type')!r}, the reduced "
                                 f"model was trained with {g['type']!r}")
            d.setdefault("name", f"material of {g['elset']}")
            laws.append(make_law(d))
        # imposed displacements: the same terms as in training, in order
        keys, dvals = [], []
        loads = spec.get("loads", [])
        for i, ld in enumerate(loads):
            w = f"{where}: load {i + 1} ({type(ld).__name__.lower()})"
            if isinstance(ld, Displacement):
                amp = resolve_amplitude(ld.amplitude, amps, w)
                for c, v in ld.values.items():
                    keys.append(("displacement", ld.set, "xyz"[c]))
                    dvals.append((float(v), amp))
        if keys != list(terms.dirichlet):
            extra = [k for k in keys if k not in terms.dirichlet]
            miss = [k for k in terms.dirichlet if k not in keys]
            raise InputError(f"{where}: imposed displacements differ from the training's: "
                             + (f"not trained: {[f'{k[1]}.{k[2]}' for k in extra]}; " if extra else "")
                             + (f"missing: {[f'{k[1]}.{k[2]}' for k in miss]}; " if miss else "")
                             + ("" if extra or miss else "same terms in another order; ")
                             + "the ROM represents the trained node sets and components only (values and "
                               "amplitudes may change)")
        # external loads
        pres, grav, cent = [], [], []
        for i, ld in enumerate(loads):
            w = f"{where}: load {i + 1} ({type(ld).__name__.lower()})"
            if isinstance(ld, Pressure):
                if ld.set not in terms.pressure:
                    raise InputError(f"{w}: pressure on facet set {ld.set!r}, which was not loaded in training "
                                     f"(trained pressure sets: {sorted(terms.pressure) or 'none'})")
                pres.append((terms.pressure[ld.set], float(ld.value), resolve_amplitude(ld.amplitude, amps, w)))
            elif isinstance(ld, (Gravity, Centrifugal)):
                kind = "gravity" if isinstance(ld, Gravity) else "centrifugal"
                if kind not in terms.load_types:
                    raise InputError(f"{w}: a {kind} load, absent from training (trained load types: "
                                     f"{', '.join(terms.load_types) or 'none'})")
                amp = resolve_amplitude(ld.amplitude, amps, w)
                if kind == "gravity":
                    acc = np.asarray(ld.acceleration, dtype=float)
                    if acc.shape != (3,):
                        raise InputError(f"{w}: acceleration must be a 3-vector")
                    grav.append((acc, amp))
                else:
                    c = np.asarray(ld.axis_point, dtype=float)
                    d = np.asarray(ld.axis_direction, dtype=float)
                    if c.shape != (3,) or d.shape != (3,) or not np.linalg.norm(d) > 0:
                        raise InputError(f"{w}: axis_point and axis_direction must be 3-vectors, the direction "
                                         f"non-zero")
                    d = d / np.linalg.norm(d)
                    P = np.eye(3) - np.outer(d, d)
                    cent.append((float(ld.omega) ** 2 * P, c, amp))
            elif not isinstance(ld, Displacement):
                raise InputError(f"{w}: load type {type(ld).__name__} is not supported by the reduced model")
        T = spec.get("temperature")
        if (T is None) != (terms.temperature == "none"):
            raise InputError(f"{where}: " + ("a temperature field, but the training cases had none" if T is not None
                                             else "no temperature, but the training cases had one"))
    # this rank's points
    p = rom.points
    lo, hi = partition_range(p.n, comm)
    rows = np.arange(lo, hi)
    groups = [PointGroup(g["elset"], law, np.flatnonzero(p.group[rows] == gi))
              for gi, (g, law) in enumerate(zip(terms.groups, laws))]
    temp = _point_temperature(T, amps, p, rows, comm, where)
    pp = PointProblem(groups, temp, spec["time"], p.ids[rows], name=name)

    def lifting(t):
        return np.array([v * a(t) for v, a in dvals])

    k = rom.n_modes

    def force(t):
        f = np.zeros(k)
        for vec, value, amp in pres:
            f += value * amp(t) * vec
        if grav or cent:
            b = np.zeros(3)
            A = np.zeros((3, 3))
            for acc, amp in grav:
                b += amp(t) * acc
            for W, c, amp in cent:
                a = amp(t)
                A += a * W
                b -= a * (W @ c)
            for gi, (const, lin) in terms.body.items():
                rho = density[gi]
                if rho:
                    f += rho * (b @ const + np.einsum("ij,ijk->k", A, lin))
        return f

    return OnlineCase(name, spec["time"], pp, rows, lifting, force)


def _point_temperature(T, amps, p, rows, comm, where):
    from ..hf.loads import resolve_amplitude
    from ..hf.points import PointTemperature
    n = rows.size
    if T is None:
        return PointTemperature(n)
    if T.file is None:
        with collective(comm):
            amp = resolve_amplitude(T.amplitude, amps, f"{where}: temperature")
        off = None if T.offset is None else T.offset.at_points(p.ids[rows])
        return PointTemperature(n, spec=T, coordinates=p.coordinates[rows], amplitude=amp, offset=off)
    from ..io.archive import Archive
    nodes = p.cell_nodes[rows]
    with Archive.open(T.file, comm) as ar:
        info = ar.field_info(T.field)
        with collective(comm):
            if info["location"] != "node":
                raise InputError(f"{T.file}: temperature field {T.field!r} must be nodal, is at {info['location']}")
            if (nodes >= info["n_items"]).any():
                raise InputError(f"{T.file}: field {T.field!r} has {info['n_items']} nodes, fewer than the mesh")
            times = np.asarray(info["time"], dtype=float)
            if np.any(np.diff(times) <= 0):
                raise InputError(f"{T.file}: field {T.field!r} times must be strictly increasing")
        vals = ar.read_items(T.field, np.maximum(nodes, 0).reshape(-1))[:, :, 0]     # (F, n·m)
    vals = vals.reshape(len(times), n, -1)
    series = np.einsum("fnm,nm->fn", vals, p.shape[rows])
    return PointTemperature(n, series=(times, series))


# ------------------------------------------------------------------------------------------------ Newton
@dataclass
class ReducedState:
    """State of the reduced model at ``time``: reduced coordinates γ (k,), lifting values a (n_L,), and at
    this rank's points strain, stress (n_local, 6), internal variables (list per group), temperature."""
    time: float
    gamma: np.ndarray
    a: np.ndarray
    eps: np.ndarray
    stress: np.ndarray
    internal: list
    temperature: np.ndarray
    increment: int = 0
    info: dict = field(default_factory=dict)


class ReducedNewton:
    """The reduced Newton increment of one online case (module docstring, step 2)."""

    def __init__(self, rom, oc, comm):
        self.comm = comm
        self.oc = oc
        p = rom.points
        r = oc.rows
        self.E = np.ascontiguousarray(p.strain_modes[r])            # (n, 6, k)
        self.EL = np.ascontiguousarray(p.strain_liftings[r])        # (n, 6, n_L)
        self.w = np.asarray(p.weights[r], dtype=float)
        self.elements, self.qp = np.asarray(p.elements[r]), np.asarray(p.qp[r])
        n, _, self.k = self.E.shape
        # 2-D views for BLAS: rows = (point, component)
        self.E2 = self.E.reshape(n * 6, self.k)
        self.EL2 = self.EL.reshape(n * 6, -1)
        self.Ew2 = np.ascontiguousarray((self.E * self.w[:, None, None]).reshape(n * 6, self.k).T)   # (k, 6n)
        self.absEw2 = np.abs(self.Ew2)
        # the points of the reduced integration iterate; the dual fields' points (zero weight) run once
        from ..hf.points import PointSubset
        groups = oc.points.groups
        self.quad = PointSubset(groups, np.flatnonzero(self.w != 0), n)
        self.dual = PointSubset(groups, np.flatnonzero(self.w == 0), n)
        q, d = self.quad.sel, self.dual.sel
        self.E2_quad = np.ascontiguousarray(self.E[q]).reshape(q.size * 6, self.k)
        self.EL2_quad = np.ascontiguousarray(self.EL[q]).reshape(q.size * 6, self.EL.shape[2])
        self.E_quad = np.ascontiguousarray(self.E[q])
        self.Ew2_quad = np.ascontiguousarray(self.Ew2.reshape(self.k, n, 6)[:, q].reshape(self.k, q.size * 6))
        self.absEw2_quad = np.abs(self.Ew2_quad)
        self.E2_dual = np.ascontiguousarray(self.E[d]).reshape(d.size * 6, self.k)
        self.EL2_dual = np.ascontiguousarray(self.EL[d]).reshape(d.size * 6, self.EL.shape[2])
        self.any_dual = comm.allreduce(int(d.size)) > 0

    def _raise_nonfinite(self, t, it, n_bad):
        """:class:`LawError` on every rank, naming the points, when a law returned NaN/Inf at ``n_bad``
        reduced points of some ranks (a defect, not a step to cut). Collective."""
        from ..errors import LawError
        pp = self.oc.points
        bad = np.asarray(pp.nonfinite, dtype=np.int64)
        mine = [(int(pp.ids[i]), int(self.elements[i]), int(self.qp[i])) for i in bad]
        allbad = sorted(sum(self.comm.allgather(mine), []) if self.comm.size > 1 else mine)
        where = ", ".join(f"point {i} (element {e}, integration point {q + 1})" for i, e, q in allbad[:5])
        raise LawError(f"t = {t:g}, reduced Newton iteration {it}: the law returned NaN/Inf at {n_bad} reduced "
                       f"point(s): {where}{' …' if n_bad > 5 else ''} (natural integration-point ids; check the "
                       f"law and its parameters)")

    def initial_state(self):
        oc = self.oc
        t0 = oc.time.start
        n = oc.points.n
        return ReducedState(t0, np.zeros(self.k), oc.lifting(t0), np.zeros((n, 6)), np.zeros((n, 6)),
                            oc.points.initial_internal(), oc.points.temperature_at(t0))

    def strains(self, a, gamma):
        """Strains at this rank's points ``(n, 6)`` for lifting values ``a`` and reduced coordinates ``gamma``."""
        eps = self.E2 @ gamma
        if a.size:
            eps += self.EL2 @ a
        return eps.reshape(-1, 6)

    def _subset_strains(self, sub, a, gamma):
        E2, EL2 = (self.E2_quad, self.EL2_quad) if sub is self.quad else (self.E2_dual, self.EL2_dual)
        eps = E2 @ gamma
        if a.size:
            eps += EL2 @ a
        return eps.reshape(-1, 6)

    def increment(self, state, dt):
        """One implicit increment from ``state`` over ``dt`` (raises ConvergenceError on every rank).

        The Newton iterations evaluate the laws at the points of the reduced integration only; the points of
        the dual fields (zero weight: in neither the residual nor the tangent) are evaluated once, at the
        converged γ (the values an evaluation at every iteration would end on)."""
        import time as _time
        tic = _time.perf_counter()
        oc, k = self.oc, self.k
        pp = oc.points
        ts = oc.time
        t0, dt = float(state.time), float(dt)
        t1 = t0 + dt
        a1 = oc.lifting(t1)
        f1 = oc.force(t1)
        fnorm = float(np.linalg.norm(f1))
        T1 = pp.temperature_at(t1)
        q, qs = self.quad, self.quad.sel
        e0q, T0q, T1q, stq = state.eps[qs], state.temperature[qs], T1[qs], q.take(state.internal)
        gamma = state.gamma.copy()
        residuals = []
        target = None
        for it in range(ts.max_iterations + 1):
            eps_q = self._subset_strains(q, a1, gamma)
            pp.nonfinite = []
            stress_q, internal_q, tangent, failed = q.update_laws(e0q, eps_q - e0q, stq, T0q, T1q, dt, t0,
                                                                  nonfinite=pp.nonfinite)
            nq = eps_q.shape[0]
            buf = np.empty(k + k * k + k + 2)
            sig = stress_q.reshape(-1)
            buf[:k] = self.Ew2_quad @ sig                                         # Σ w Eᵀ σ
            CE = np.matmul(tangent, self.E_quad)                                 # (n_q, 6, k)
            buf[k:k + k * k] = (self.Ew2_quad @ CE.reshape(nq * 6, k)).reshape(-1)   # Σ w Eᵀ C E
            buf[k + k * k:-2] = self.absEw2_quad @ np.abs(sig)
            buf[-2] = len(pp.nonfinite)
            buf[-1] = failed
            buf = allreduce_sum(buf, self.comm)
            if buf[-2] > 0:
                self._raise_nonfinite(t1, it, int(buf[-2]))
            if buf[-1] > 0:
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}), reduced Newton iteration {it}: the local law "
                                       f"integration failed at {int(buf[-1])} reduced point(s)")
            r = buf[:k] - f1
            K = buf[k:k + k * k].reshape(k, k)
            ref = max(fnorm, float(np.linalg.norm(buf[k + k * k:-2])))
            rnorm = float(np.linalg.norm(r))
            residuals.append(rnorm)
            target = max(ts.rtol * ref, ts.atol)
            if not np.isfinite(rnorm):
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): non-finite reduced residual at iteration {it}")
            if rnorm <= target or k == 0:
                break
            if it >= 3 and rnorm > 1e3 * max(residuals[1], ts.atol) and rnorm > 1e2 * residuals[-2]:
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): reduced Newton diverging (residual "
                                       f"{rnorm:.3e} at iteration {it}, {residuals[1]:.3e} at iteration 1)")
            if it == ts.max_iterations:
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): no convergence in {ts.max_iterations} reduced "
                                       f"Newton iterations (residual {rnorm:.3e}, target {target:.3e})")
            try:
                gamma = gamma - np.linalg.solve(K, r)
            except np.linalg.LinAlgError:
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): singular reduced tangent at iteration "
                                       f"{it}") from None
        eps, stress = np.empty_like(state.eps), np.empty_like(state.stress)
        internal = [np.empty_like(x) for x in state.internal]
        eps[qs], stress[qs] = eps_q, stress_q
        q.store(internal, internal_q)
        if self.any_dual:                                                 # the dual fields' points, once
            d, ds = self.dual, self.dual.sel
            eps_d = self._subset_strains(d, a1, gamma)
            pp.nonfinite = []
            stress_d, internal_d, _, failed = d.update_laws(state.eps[ds], eps_d - state.eps[ds],
                                                            d.take(state.internal), state.temperature[ds], T1[ds],
                                                            dt, t0, nonfinite=pp.nonfinite)
            bad = allreduce_sum(np.array([len(pp.nonfinite), failed], dtype=float), self.comm)
            if bad[0] > 0:
                self._raise_nonfinite(t1, it, int(bad[0]))
            if bad[1] > 0:
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): the local law integration failed at "
                                       f"{int(bad[1])} reduced point(s) of the dual fields (at the converged "
                                       f"strains)")
            eps[ds], stress[ds] = eps_d, stress_d
            d.store(internal, internal_d)
        info = dict(iterations=it, residuals=residuals, residual=residuals[-1], target=target,
                    seconds=_time.perf_counter() - tic)
        return ReducedState(t1, gamma, a1, eps, stress, internal, T1, state.increment + 1, info)


# ------------------------------------------------------------------------------------------------ result
class ReducedResult:
    """The history of an online run: per converged step (the initial state is step 0) the time, γ, a,
    Newton iterations and final residual, this rank's point values (stress, strain, internal variables,
    temperature) and the error indicators (normalized Gappy-POD residual of each dual field at the
    points; replicated). :meth:`point_values` gathers a field at all points."""

    def __init__(self, rom, oc, comm):
        self.rom = rom
        self.case = oc
        self.comm = comm
        self.name = oc.name
        self.times, self.gamma, self.a, self.iterations, self.residual = [], [], [], [], []
        self.local = {"S": [], "E": [], "T": [], "internal": []}
        self.indicator = {f: [] for f in rom.duals}
        from .indicator import IndicatorTracker
        self._tracker = IndicatorTracker()
        self.summary = {}

    def append(self, st):
        pp = self.case.points
        self.times.append(st.time)
        self.gamma.append(st.gamma.copy())
        self.a.append(np.asarray(st.a, dtype=float).copy())
        self.iterations.append(int(st.info.get("iterations", 0)))
        self.residual.append(float(st.info.get("residual", 0.0)))
        self.local["S"].append(st.stress.copy())
        self.local["E"].append(st.eps.copy())
        self.local["T"].append(np.asarray(st.temperature, dtype=float).reshape(-1, 1).copy())
        self.local["internal"].append(pp.packed_internal(st.internal))
        step = len(self.times) - 1
        ind = self._tracker(self.rom, {f: self._gather(self._local_values(f, step)) for f in self.rom.duals})
        for f, v in ind.items():
            self.indicator[f].append(v)

    def _local_values(self, name, step):
        if name in ("S", "E", "T"):
            return self.local[name][step]
        pp = self.case.points
        if name not in pp.state_layout:
            raise InputError(f"dual field {name!r}: not a law output at the points (S, E, T or one of "
                             f"{sorted(pp.state_layout)})")
        return pp.internal_field(pp.unpack_internal(self.local["internal"][step]), name)

    def _gather(self, local):
        if self.comm.size == 1:
            return np.asarray(local)
        return np.concatenate(self.comm.allgather(np.asarray(local)), axis=0)

    def point_values(self, name):
        """Values of ``name`` (S, E, T or an internal variable) at all points: (n_steps, n_points, nc),
        replicated. Collective."""
        return np.stack([self._gather(self._local_values(name, j)) for j in range(len(self.times))])

    @property
    def n_steps(self):
        return len(self.times)


def solve(rom, case, comm=None):
    """Solve ``case`` with ``rom`` (module docstring). Returns a :class:`ReducedResult`. Collective.

    On a failure at the minimum step (:class:`ConvergenceError`) or a stop on SIGTERM/SIGUSR1
    (:class:`~dromo.parallel.signals.Interrupted`), the steps converged so far are in the exception's
    ``result`` attribute.
    """
    from ..hf.march import march
    from ..parallel.signals import Interrupted
    comm = comm or MPI.COMM_WORLD
    oc = prepare(rom, case, comm)
    newton = ReducedNewton(rom, oc, comm)
    st = newton.initial_state()
    res = ReducedResult(rom, oc, comm)
    res.append(st)
    log.info("online: %s, %d reduced points on %d rank(s), %d modes, t = %g → %g", oc.name, rom.n_points,
             comm.size, rom.n_modes, oc.time.start, oc.time.end)
    try:
        st, summary = march(newton.increment, st, oc.time, on_converged=lambda s, dt: res.append(s),
                            label=f"online {oc.name}", comm=comm)
    except (ConvergenceError, Interrupted) as exc:
        exc.result = res
        raise
    res.summary = summary
    res.final = st
    return res
