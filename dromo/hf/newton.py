"""One implicit increment: global Newton–Raphson with the consistent tangent (the one-increment API).

``hf_increment(problem, state, dt, solver) -> State`` computes the state at ``state.time + dt`` from any full
state (a converged one, a restarted one, or one reconstructed by the ROM), or raises
:class:`~dromo.errors.ConvergenceError` on every rank (the caller cuts the step). ``state`` is never
modified.

Algorithm (t₁ = t₀ + dt):

0. predictor: evaluate the laws at u₀ for the new time (Δε = 0, T(t₁), viscous relaxation over dt),
   residual R = f_int − f_ext(t₁); solve K du = −R with du = u_D(t₁) − u₀ on the imposed dofs;
1. Newton: u ← u + du, ε = B u, laws from the start-of-increment state (backward Euler), residual on
   free dofs, K(C_alg) du = −R with du = 0 on the imposed dofs, until
   ‖R_free‖ ≤ max(rtol · F, atol), F = max(‖f_ext‖, ‖f_int‖) (f_int with the reactions).

Failure (raised collectively as ConvergenceError): a law that did not converge at some point
(LawResult.failed on any rank), more than ``max_iterations``, a non-finite or exploding residual, a
diverged KSP. Linear solves (:class:`TangentSolver`): MUMPS LU up to ``time.direct_max_dofs`` dofs,
CG/GMRES + GAMG with the rigid-body near-null space beyond, the factors / hierarchy reused over Newton
iterations and increments until they go stale; inexact Newton (Eisenstat–Walker KSP tolerance). Every PETSc option passes
through (``-hf_ksp_type preonly -hf_pc_type lu`` … with the ``hf_`` prefix, or the prefix of
``problem.petsc_prefix``); giving ``-hf_pc_type`` switches the automatic choice off. The tangent is
re-assembled in place on a fixed sparsity.
"""
import time as _time

import numpy as np
from mpi4py import MPI

from ..errors import ConvergenceError
from ..parallel.log import get_logger
from .state import State

log = get_logger(__name__)


class TangentSolver:
    """The linear solver of the Newton iterations of one problem: the tangent's assembler (with its
    kept sparsity pattern), the KSP/PC and its reuse policy, work vectors. Create one per problem and
    pass it to every :func:`hf_increment` of a run (``solver=``) so factors and hierarchies are reused.

    Linear solver (``problem.time.linear_solver``, overridden by any ``-<prefix>ksp_type`` /
    ``-<prefix>pc_type`` option):

    * ``"direct"``: sparse LU (MUMPS) as the preconditioner of GMRES. The factorization is *reused* by
      the following Newton iterations (the operator is always the current tangent, so
      the Newton iterates are those of the full Newton method; GMRES needs a few iterations with the
      slightly outdated factors); it is recomputed after a solve with reused factors that needed more
      than ``max(reuse_max_its, 2 × n_fresh)`` iterations, n_fresh being the iterations of the last
      solve with freshly built factors (at once when such a solve does not converge in 4 × that), and
      at the first iteration of every increment unless ``reuse_across_increments``.
      Re-factorizations keep MUMPS's symbolic analysis (same Mat object and nonzero pattern, so PETSc
      does the numeric phase only).
    * ``"iterative"``: CG (symmetric tangent) or GMRES (non-symmetric: kinematic hardening, anisotropy)
      with GAMG and the rigid-body near-null space, GAMG tuned for elasticity (aggregation threshold,
      Chebyshev/Jacobi smoothing, interpolation reused across set-ups), the preconditioner reused
      under the same rule as above.
    * ``"auto"`` (default): direct up to ``direct_max_dofs`` global dofs, iterative beyond.

    History: what the solver keeps between increments (MUMPS's analysis, GAMG's interpolation, a KSP
    switched to GMRES) changes iterates at round-off or linear-tolerance level. :meth:`reset` forgets
    it; :func:`~dromo.hf.solver.run` calls it after every checkpoint, so a run restarted from a
    checkpoint and the uninterrupted run solve the same systems with the same preconditioners, and
    their results are identical bit for bit.

    Inexact Newton: the KSP relative tolerance follows Eisenstat–Walker (choice 2, γ = 0.9, α = 2) in
    [``ksp_rtol``, 1e-2], and is never tighter than needed to reach the Newton target in this iteration.
    """

    GAMG_DEFAULTS = {"pc_gamg_threshold": "0.05", "pc_gamg_reuse_interpolation": "true",
                     "mg_levels_ksp_type": "chebyshev", "mg_levels_pc_type": "jacobi",
                     "mg_levels_ksp_max_it": "2", "pc_gamg_agg_nsmooths": "1"}

    def __init__(self, problem):
        from petsc4py import PETSc
        from ..fem.assembly import BlockMatrixAssembler
        from ..fem.linear import rigid_body_modes
        self.problem = problem
        dm = problem.dm
        ts = problem.time
        self.assembler = BlockMatrixAssembler(dm, keep_pattern=True)
        self.nullspace = rigid_body_modes(dm)
        prefix = problem.petsc_prefix or "hf_"
        opts = PETSc.Options()
        user_ksp = opts.hasName(f"{prefix}ksp_type")
        user_pc = opts.hasName(f"{prefix}pc_type")
        mode = getattr(ts, "linear_solver", "auto")
        if mode == "auto":
            mode = "direct" if dm.n_dofs_global <= ts.direct_max_dofs and _has_mumps() else "iterative"
        if user_pc:
            mode = "user"
        self.mode = mode
        self._prefix = prefix
        self.ksp = self._make_ksp()
        self.auto_type = not user_ksp and mode != "direct"
        self.reuse = (mode in ("direct", "iterative") and ts.reuse_preconditioner
                      and self.ksp.getType() != "preonly")
        self.inexact = ts.inexact_newton and self.ksp.getType() != "preonly"
        self.fint = dm.create_vector(3)
        self.fext = dm.create_vector(3)
        self.rhs = dm.create_vector(3)
        self.du = dm.create_vector(3)
        self.u = dm.create_vector(3)
        self.rows = np.asarray(problem.dirichlet_dofs, dtype=PETSc.IntType)
        d0 = dm.dof_range[0]
        self.rows_local = self.rows - d0
        self.nonsymmetric = False
        self._its_fresh = 0               # KSP iterations of the last solve with a fresh preconditioner
        self._have_pc = False
        self.stats = dict(solves=0, setups=0, ksp_iterations=0)

    def _make_ksp(self):
        from petsc4py import PETSc
        opts = PETSc.Options()
        prefix, mode = self._prefix, self.mode
        ksp = PETSc.KSP().create(comm=self.problem.dm.comm)
        pc = ksp.getPC()
        if mode == "direct":
            ksp.setType("gmres")
            pc.setType("lu")
            pc.setFactorSolverType("mumps")
        else:
            ksp.setType("cg")
            pc.setType("gamg")
            if mode == "iterative":
                for k, v in self.GAMG_DEFAULTS.items():
                    if not opts.hasName(prefix + k):
                        opts[prefix + k] = v
        ksp.setTolerances(rtol=self.problem.time.ksp_rtol, atol=1e-50, max_it=5000)
        ksp.setOptionsPrefix(prefix)
        ksp.setFromOptions()
        if mode == "direct":
            ksp.setGMRESRestart(60)
        return ksp

    def reset(self):
        """Forget the solver's history: a new KSP/PC (full GAMG set-up or a new MUMPS analysis at the
        next solve, fresh random streams of the eigenvalue estimates, the KSP type chosen at creation)."""
        self.ksp.destroy()
        self.ksp = self._make_ksp()
        self._have_pc = False
        self._its_fresh = 0

    def matrix(self, tangent):
        from ..fem.operators import tangent_matrix
        A = tangent_matrix(self.problem.dm, tangent, self.assembler)
        if A.getNearNullSpace() is None or not getattr(self, "_nns_set", False):
            A.setNearNullSpace(self.nullspace)
            self._nns_set = True
        return A

    def linear_solve(self, tangent, residual, prescribed, rtol=None, new_increment=False):
        """Solve K du = −R with du[rows] = prescribed; returns (du Vec, KSP iterations).

        ``rtol``: relative KSP tolerance of this solve (inexact Newton; default ``time.ksp_rtol``).
        ``new_increment``: first solve of an increment (the reused preconditioner is rebuilt).
        """
        from petsc4py import PETSc
        A = self.matrix(tangent)
        residual.copy(self.rhs)
        self.rhs.scale(-1.0)
        self.du.set(0.0)
        self.du.setValues(self.rows, prescribed, addv=PETSc.InsertMode.INSERT)
        self.du.assemble()
        # constrained rows get a diagonal of the matrix's own scale (a unit diagonal would wreck the
        # conditioning and the multigrid's eigenvalue estimates)
        diag = A.getDiagonal()
        scale = diag.sum() / max(diag.getSize(), 1)
        diag.destroy()
        A.zeroRowsColumns(self.rows, diag=scale, x=self.du, b=self.rhs)
        ts = self.problem.time
        rebuild = not self.reuse or not self._have_pc or (new_increment and not ts.reuse_across_increments)
        self.ksp.getPC().setReusePreconditioner(not rebuild)
        self.ksp.setOperators(A)
        # with reused factors / hierarchy, give up early (and rebuild) rather than iterate for long
        stale_its = max(ts.reuse_max_its, 2 * self._its_fresh)
        self.ksp.setTolerances(rtol=max(ts.ksp_rtol, rtol) if rtol is not None else ts.ksp_rtol,
                               max_it=5000 if rebuild else 4 * stale_its)
        if self.ksp.getType() != "preonly":
            self.ksp.setInitialGuessNonzero(True)
        auto = self.auto_type
        if auto:
            # CG needs a symmetric tangent; nonsymmetric (kinematic hardening, anisotropy): GMRES
            asym = np.abs(tangent - np.swapaxes(tangent, 1, 2)).max() if len(tangent) else 0.0
            scale = np.abs(tangent).max() if len(tangent) else 1.0
            nonsym = self.problem.comm.allreduce(bool(asym > 1e-10 * scale), op=MPI.LOR)
            want = "gmres" if nonsym else "cg"
            if self.ksp.getType() != want:
                self.ksp.setType(want)
                if nonsym:
                    self.ksp.setGMRESRestart(100)
        x0 = self.du.copy()
        self.ksp.solve(self.rhs, self.du)
        reason = self.ksp.getConvergedReason()
        its = self.ksp.getIterationNumber()
        if rebuild:
            self.stats["setups"] += 1
        self._have_pc = True
        if reason < 0 and not rebuild and self.reuse:
            # stale preconditioner: rebuild it and retry
            x0.copy(self.du)
            self.ksp.getPC().setReusePreconditioner(False)
            self.ksp.setOperators(A)
            self.ksp.setTolerances(max_it=5000)
            self.stats["setups"] += 1
            self.ksp.solve(self.rhs, self.du)
            reason = self.ksp.getConvergedReason()
            its += self.ksp.getIterationNumber()
            rebuild = True
        if reason < 0 and auto and self.ksp.getType() == "cg":
            # CG breakdown (e.g. an indefinite GAMG smoother estimate): one retry with GMRES
            x0.copy(self.du)
            self.ksp.setType("gmres")
            self.ksp.setGMRESRestart(100)
            self.ksp.solve(self.rhs, self.du)
            reason = self.ksp.getConvergedReason()
            its += self.ksp.getIterationNumber()
        x0.destroy()
        if reason < 0:
            raise ConvergenceError(f"linear solve diverged (KSP reason {reason}) after {its} iterations")
        if rebuild:
            self._its_fresh = self.ksp.getIterationNumber()
        elif self.reuse and its > stale_its:
            self._have_pc = False         # too many iterations with these old factors: rebuild next time
        self.stats["solves"] += 1
        self.stats["ksp_iterations"] += its
        return self.du, its


def _has_mumps():
    from petsc4py import PETSc
    try:
        return bool(PETSc.Sys.hasExternalPackage("mumps"))
    except Exception:                      # pragma: no cover - very old petsc4py
        return True


def _forcing_term(rnorm, rprev, eta_prev, target, eta_min):
    """Eisenstat–Walker (choice 2) relative tolerance of the next linear solve, safeguarded."""
    eta_max = 1e-2
    if rprev is None:
        eta = eta_max
    else:
        eta = 0.9 * (rnorm / rprev) ** 2
        if eta_prev is not None and 0.9 * eta_prev ** 2 > 0.1:
            eta = max(eta, 0.9 * eta_prev ** 2)
        eta = min(eta, eta_max)
    # no need to solve much below what reaches the Newton target in this iteration
    eta = max(eta, min(eta_max, 0.1 * target / max(rnorm, 1e-300)))
    return max(eta, eta_min)


def hf_increment(problem, state, dt, solver=None, rtol=None, atol=None, max_iterations=None):
    """One HF increment from ``state`` over ``dt``: returns the new :class:`State` (collective).

    ``solver``: the problem's :class:`TangentSolver` (reused over the increments of a run); without
    one, a fresh solver is built for this increment (a new assembly pattern and factorization: fine for
    one increment, wasteful in a loop).
    Raises :class:`ConvergenceError` (on every rank) when the increment fails; ``state`` is unchanged.
    ``info`` of the returned state: ``iterations``, ``ksp_iterations``, ``residuals``, ``seconds``.
    """
    from ..fem.operators import strain_at_ips
    tic = _time.perf_counter()
    ts = problem.time
    rtol = ts.rtol if rtol is None else rtol
    atol = ts.atol if atol is None else atol
    max_it = ts.max_iterations if max_iterations is None else max_iterations
    dm = problem.dm
    comm = dm.comm
    S = solver if solver is not None else TangentSolver(problem)
    t0, dt = float(state.time), float(dt)
    if not dt > 0:
        raise ConvergenceError(f"time increment must be > 0, got {dt}")
    t1 = t0 + dt
    T0 = state.temperature
    T1 = problem.temperature_at(t1)
    fext = problem.external_force(t1, S.fext)
    ud = problem.prescribed_values(t1)
    no = dm.n_owned_nodes
    u = S.u
    with u.localForm() as lf:
        lf.array[:3 * no] = state.u.reshape(-1)
    u.assemble()
    eps = state.eps
    deps = np.zeros_like(state.eps)
    ksp_its = 0
    residuals = []
    fext_norm = fext.norm()
    eta_prev = None
    for it in range(max_it + 1):
        stress, internal, tangent, n_failed = problem.update_laws(state.eps, deps, state.internal, T0, T1,
                                                                dt, t0)
        if n_failed:
            raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}), Newton iteration {it}: the local law "
                                   f"integration failed at {n_failed} integration point(s)")
        fint = _fint(dm, stress, S.fint)
        # residual R = f_int − f_ext, free part
        R = S.rhs  # reuse as scratch: R is copied again in linear_solve
        fint.copy(R)
        R.axpy(-1.0, fext)
        ref = max(fext_norm, fint.norm())
        with R.localForm() as lf:
            lf.array[S.rows_local] = 0.0
        rnorm = R.norm()
        residuals.append(rnorm)
        if not np.isfinite(rnorm):
            raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): non-finite residual at Newton iteration {it}")
        if it > 0:
            if rnorm <= max(rtol * ref, atol):
                break
            if it >= 3 and rnorm > 1e3 * max(residuals[1], atol) and rnorm > 1e2 * residuals[-2]:
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): Newton diverging (residual {rnorm:.3e} "
                                       f"at iteration {it}, {residuals[1]:.3e} at iteration 1)")
            if it == max_it:
                raise ConvergenceError(f"t = {t1:g} (dt = {dt:g}): no convergence in {max_it} Newton "
                                       f"iterations (residual {rnorm:.3e}, target {max(rtol * ref, atol):.3e})")
        presc = (ud - uflat_dirichlet(S, u)) if it == 0 else np.zeros(S.rows.size)
        eta = None
        if S.inexact and it == 0:
            eta = 1e-6                                     # predictor (lifting of the imposed values)
        elif S.inexact:
            eta = _forcing_term(rnorm, residuals[-2] if it > 1 else None, eta_prev,
                                max(rtol * ref, atol), ts.ksp_rtol)
        eta_prev = eta
        du, its = S.linear_solve(tangent, R, presc, rtol=eta, new_increment=(it == 0))
        ksp_its += its
        u.axpy(1.0, du)
        if it == 0:
            # exact imposed values (no round-off drift)
            from petsc4py import PETSc
            u.setValues(S.rows, ud, addv=PETSc.InsertMode.INSERT)
            u.assemble()
        u_local = dm.to_local(u)
        eps = strain_at_ips(dm, u_local, cache=True)
        deps = eps - state.eps
    log.debug("t = %g: %d Newton iterations, residuals %s", t1, it, " ".join(f"{r:.2e}" for r in residuals))
    with u.localForm() as lf:
        u_new = lf.array[:3 * no].reshape(no, 3).copy()
    info = dict(iterations=it, ksp_iterations=ksp_its, residuals=residuals,
                seconds=_time.perf_counter() - tic)
    return State(t1, u_new, eps, stress, internal, T1, state.increment + 1, info)


def _fint(dm, stress, vec):
    from ..fem.operators import internal_force
    vec.set(0.0)
    return internal_force(dm, stress, vec, cache=True)


def uflat_dirichlet(S, u):
    """Current values of u on the imposed (owned) dofs."""
    with u.localForm() as lf:
        return lf.array[S.rows_local].copy()
