"""Enrichment of a reduced model by one high-fidelity increment (the adaptive loop's repair step).

When the error estimate of the online stage exceeds the user's tolerance at an increment
``t_n → t_{n+1}`` (:mod:`dromo.rom.adapt`):

1. **the full state at t_n** is rebuilt on the HF mesh (:func:`rebuild_state`): ``u = L a + Ψ γ`` on the
   owned nodes, the strains at every integration point from the mode strains, and the internal
   variables at *every* integration point by one of two methods:

   * ``"replay"`` (default): the law is run at every point along the ROM's own strain history since the
     last full state (the initial state, or the last HF increment), ``ε_j = ε(L) a_j + ε(Ψ) γ_j``, with the
     ROM's time steps and the case's temperature. Consistent with the ROM kinematics; it costs
     (increments since the last full state) × (integration points) law evaluations, no global solve;
   * ``"gappy"``: every internal variable rebuilt by its Gappy-POD from the law's values at the reduced
     points (needs every internal variable of the laws among the model's dual fields); cost
     O(N × dual modes), but the fit is only as good as the dual bases, which is exactly what is in doubt
     when the indicator is high;

2. one HF increment (:func:`~dromo.hf.newton.hf_increment`, all ranks, the case's linear solver) from that
   state to ``t_{n+1}``;
3. the model is updated with the new snapshot (:func:`enrich`): incremental POD of ``u − L a`` (Brand;
   :class:`~dromo.reduction.incremental.IncrementalPOD`, a snapshot already represented within
   ``reject_tol`` of its own norm is rejected, any other adds its new direction: no truncation by the
   energy of all the data, since the snapshot is where the model was found wrong, however small it is
   beside the training's), incremental POD of every dual field (the stress ``S`` among them), the mode
   strains (by linearity from the old ones and the strain of the new direction alone: the new modes are
   ``[Ψ q] X``, so ``ε = [ε(Ψ) ε(q)] X``), the ECM warm-started from the current points on the integrand of
   the new modes and the updated stress basis (new points only where needed), QDEIM and Gappy-POD of every
   dual field rebuilt (a dual field whose snapshot was rejected keeps its QDEIM points: its span did not
   change), the reduced loads projected on the new modes;
4. the reduced state at ``t_{n+1}`` is the HF state expressed in the new model (:func:`reduced_state`):
   ``γ = Ψᵀ (u − L a)``, and at the new reduced points the HF stress, internal variables and temperature
   (the strains from the ROM kinematics, so that the next increment is consistent).

Old reduced coordinates are re-expressed in the new bases by the returned transforms ``Ψ_newᵀ Ψ_old``
and ``Φ_newᵀ W Φ_old`` (exact when nothing was truncated), read off the incremental updates (``X[:k]ᵀ``).
"""
import dataclasses

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum, fetch_rows

log = get_logger("dromo.rom.enrich")

__all__ = ["rebuild_state", "enrich", "reduced_state", "METHODS"]

METHODS = ("replay", "gappy")
#: relative energy tolerance of the incremental updates: keep every direction the rejection test lets in
_KEEP_ALL = 1e-14
#: replayed steps whose strains are computed in one product (memory: 6 n_ip_local floats per step)
_REPLAY_BLOCK = 64


def lifting_values(problem, t):
    """Imposed values ``a(t)`` of the lifting terms, ``(n_L,)`` (case order)."""
    return np.array([term.value * term.amplitude(t) for term in problem.dirichlet_terms()], dtype=float)


def hf_field(problem, state, name):
    """The HF values of a dual field on the local integration points, ``(n_ip_local · nc,)``."""
    from ..hf.state import internal_field
    if name == "S":
        return state.stress.reshape(-1)
    if name == "E":
        return state.eps.reshape(-1)
    if name == "T":
        return np.asarray(state.temperature, dtype=float).reshape(-1)
    if name not in problem.state_layout:
        raise InputError(f"dual field {name!r}: not a law output (S, E, T or one of {sorted(problem.state_layout)})")
    return internal_field(problem, state, name).reshape(-1)


# ------------------------------------------------------------------------------------ 1. full state at t_n
def rebuild_state(problem, full, method, anchor=None, history=(), rom=None, point_values=None, state=None):
    """The full :class:`~dromo.hf.state.State` at the time of the reduced ``state`` (module docstring, 1).

    ``replay``: ``anchor`` (a full State) and ``history`` — ``(t_j, γ_j, a_j)`` of every converged reduced
    step after the anchor up to ``state`` (in the current basis). ``gappy``: ``rom`` and ``point_values``
    {name: (n_points, nc) law values at all the reduced points, replicated}. Collective.
    """
    from ..hf.state import State
    if method not in METHODS:
        raise InputError(f"state reconstruction method {method!r}: expected one of {', '.join(METHODS)}")
    t, gamma, a = float(state.time), state.gamma, state.a
    u = full.displacement(gamma, a)
    if method == "replay":
        cur = anchor
        eps_prev, internal, T_prev, t_prev = cur.eps, cur.internal, cur.temperature, float(cur.time)
        stress = cur.stress
        steps = [h for h in history if h[0] > t_prev + 1e-12 * max(1.0, abs(t_prev))]
        if not steps or abs(steps[-1][0] - t) > 1e-12 * max(1.0, abs(t)):
            steps.append((t, gamma, a))
        for s0 in range(0, len(steps), _REPLAY_BLOCK):
            block = steps[s0:s0 + _REPLAY_BLOCK]
            # the strains of a block of steps in one product (n_ip_local, 6, steps)
            eps_block = full.strains(np.stack([g for _t, g, _a in block], axis=1),
                                     np.stack([np.asarray(aj, dtype=float).reshape(-1) for _t, _g, aj in block],
                                              axis=1))
            for j, (tj, _gj, _aj) in enumerate(block):
                eps = np.ascontiguousarray(eps_block[:, :, j])
                Tj = problem.temperature_at(tj)
                stress, internal, _tan, failed = problem.update_laws(eps_prev, eps - eps_prev, internal, T_prev,
                                                                     Tj, tj - t_prev, t_prev)
                if failed:                                # a global count (the same on every rank)
                    raise InputError(f"enrichment at t = {t:g}: replaying the law along the ROM's strain history "
                                     f"failed at {failed} integration point(s) at t = {tj:g}; try --state-method "
                                     f"gappy")
                eps_prev, T_prev, t_prev = eps, Tj, tj
        return State(t, u, eps_prev, stress, internal, T_prev, int(state.increment))
    # gappy
    dm = problem.dm
    fields = {}
    missing = [nm for nm in problem.state_layout if nm not in rom.duals]
    if missing:
        raise InputError(f"state reconstruction by Gappy-POD needs every internal variable among the model's dual "
                         f"fields; missing: {', '.join(missing)} (train with [dual] fields including them, or use "
                         f"--state-method replay)")
    for nm in problem.state_layout:
        d = full.duals[nm]
        c = rom.duals[nm].fit.coefficients(np.asarray(point_values[nm]).reshape(-1))
        fields[nm] = d.gappy.reconstruct(c).reshape(dm.n_ip_local, -1)
    eps = full.strains(gamma, a)
    if "S" in rom.duals:
        c = rom.duals["S"].fit.coefficients(np.asarray(point_values["S"]).reshape(-1))
        stress = full.duals["S"].gappy.reconstruct(c).reshape(dm.n_ip_local, 6)
    else:
        stress = np.zeros_like(eps)
    return State.from_fields(problem, t, u, eps, stress, fields, problem.temperature_at(t),
                             increment=int(state.increment))


# ------------------------------------------------------------------------------------ 3. model update
def enrich(problem, rom, full, state, reject_tol=1e-4, load_vectors=None):
    """The model ``rom`` (with its distributed operators ``full``) enriched by the HF ``state`` (module
    docstring, 3). ``load_vectors``: the assembled unit loads (:func:`dromo.rom.offline.load_vectors`),
    kept between enrichments. Returns ``(new ReducedModel, new FullOperators, Tu (k_new, k_old), {F: T_F})``.
    Collective."""
    from ..fem.points import mode_strains
    from ..reduction.hyperreduce import Hyperreduction, dual_operators, quadrature_summary, reduced_rule
    from ..reduction.incremental import IncrementalPOD
    from .full import FullOperators
    from .model import ReducedModel
    from .offline import _dual_fields, point_data, project_loads
    dm = problem.dm
    comm = dm.comm
    if "S" not in full.duals:
        raise InputError(f"{rom.path}: enrichment needs the stress S among the model's dual fields (its basis "
                         f"carries the stress snapshots of the reduced integration); train with [dual] fields "
                         f"including \"S\"")
    imposed = np.asarray(problem.dirichlet_dofs, dtype=np.int64) - dm.dof_range[0]
    a = lifting_values(problem, state.time)
    col = state.u.reshape(-1) - (full.liftings @ a if a.size else 0.0)
    col[imposed] = 0.0
    inc = IncrementalPOD(full.u_basis, tol=_KEEP_ALL)
    inc.add(col, tol_reject=reject_tol, labels=[f"HF state at t = {state.time:g}"])
    ub = inc.basis
    k_old = full.modes.shape[1]
    # the new modes [Ψ q] X vanish on the imposed dofs when the old ones do (q is the snapshot's residual,
    # zero there too): then Ψ_newᵀ Ψ_old = X[:k]ᵀ; otherwise (a model whose modes are not exactly zero there)
    # the zeroing below changes the modes: the Gram. The mode strains are computed from the new modes as a
    # restart computes them from the stored modes (not as [ε(Ψ) ε(q)] X, equal to round-off only): a run
    # restarted from a checkpoint then has the very same operators as the uninterrupted one
    dirty = bool(comm.allreduce(int(np.any(ub.modes[imposed])), op=MPI.MAX))
    ub.modes[imposed] = 0.0
    E = mode_strains(dm, ub.modes, cache=True)
    if dirty:
        Tu = allreduce_sum(np.ascontiguousarray(ub.modes.T @ full.modes), comm)
    else:
        Tu = np.ascontiguousarray(inc.transform[:k_old].T)
    bases, Td, same_span = {}, {}, {}
    for f, d in full.duals.items():
        di = IncrementalPOD(d.basis, tol=_KEEP_ALL)
        di.add(hf_field(problem, state, f), tol_reject=reject_tol, labels=[f"HF {f} at t = {state.time:g}"])
        bases[f] = (di.basis, d.n_components, list(d.components))
        k_f = d.basis.modes.shape[1]
        Td[f] = np.ascontiguousarray(di.transform[:k_f].T)                  # Φ_newᵀ W Φ_old
        if di.directions.shape[1] == 0 and di.n_kept == k_f:
            same_span[f] = d.selection                    # snapshot rejected: the basis only rotated
    w = full.weights
    quad = dict(rom.quadrature)
    variant = quad.get("variant", "global")
    if variant == "full":
        rq, nb = reduced_rule(dm, E, None, comm, full=True, weights=w)
    else:
        sb = bases["S"][0]
        Sx = (sb.modes * sb.singular_values[None, :sb.n_kept]).reshape(dm.n_ip_local, 6, -1)
        warm = rom.points.ids[np.asarray(rom.points.ecm, bool)]
        rq, nb = reduced_rule(dm, E, Sx, comm, tol=float(quad["tol"]), variant=variant, warm_start=warm,
                              weights=w)
    ecm_ids = rq.ids.copy()
    rq, duals = dual_operators(dm, rq, bases, comm, add_points=variant != "full", selections=same_span)
    hr = Hyperreduction(rq, ecm_ids, nb, E, duals)
    pts = point_data(dm, hr, full.lifting_strains, problem.ip_material)
    case = rom.case
    pressure, body = project_loads(problem, ub.modes, sorted(case.pressure), bool(case.body), comm,
                                   vectors=load_vectors)
    case = dataclasses.replace(case, pressure=pressure, body=body)
    new_full = FullOperators(dm, ub, full.liftings, duals, provenance=full.provenance)
    new_full._E, new_full._EL, new_full._w = E, full._EL, full._w
    new = ReducedModel(rom.mesh_hash, rom.n_nodes, rom.n_ip, pts, _dual_fields(hr),
                       quadrature_summary(hr, float(quad["tol"]), variant), case, comm, operators=new_full,
                       mesh=dm)
    new.calibration = rom.calibration
    new.path = rom.path
    log.info("enrichment at t = %g: %d -> %d modes, %d -> %d reduced points (%d ECM)", state.time, full.modes.shape[1],
             ub.n_kept, rom.n_points, new.n_points, ecm_ids.size)
    return new, new_full, Tu, Td


# ------------------------------------------------------------------------------------ 4. reduced state
def reduced_state(problem, rom, full, oc, newton, state):
    """The HF ``state`` expressed in the model ``rom`` for the online case ``oc`` (module docstring, 4):
    a :class:`~dromo.rom.online.ReducedState` of this rank's points. Collective."""
    from ..hf.state import _packed_internal
    from .online import ReducedState
    dm = problem.dm
    a = oc.lifting(state.time)
    col = state.u.reshape(-1) - (full.liftings @ a if a.size else 0.0)
    gamma = allreduce_sum(np.ascontiguousarray(full.modes.T @ col), dm.comm)
    ids = rom.points.ids
    local = np.hstack([state.stress, np.asarray(state.temperature, dtype=float).reshape(-1, 1),
                       _packed_internal(problem, state)])
    rows, _ = fetch_rows(local, dm.ip_natural, ids, dm.comm)
    rows = rows[oc.rows]
    eps = newton.strains(a, gamma)
    internal = oc.points.unpack_internal(rows[:, 7:])
    return ReducedState(float(state.time), gamma, a, eps, rows[:, :6].copy(), internal, rows[:, 6].copy(),
                        int(state.increment), {})
