"""The reduced Newton of :mod:`dromo.uq.batch` over one increment, compiled: one C call for the quadrature points,
one for the dual points.

``batch_newton.c`` runs, for each draw of a batch in turn, the loop of :func:`~dromo.uq.batch.solve_batch`'s
Python path (strains, the von Mises point update of ``vonmises_kernel.c``, reduced residual, structured reduced
tangent, dense solve) with the same convergence test and failure cases, then the laws of the dual points at the
converged coordinates. The Python path stays the reference: the two give the same iterates to round-off (the
sums are in another order) and the same law evaluations and failures (``tests/uq/test_dictionary.py``). What it
saves is the batch's array traffic per Newton iteration (gathers, copies, temporaries of ``B × n`` points) and
the Python around it; a draw's arrays stay in cache (at one rank on the dictionaries of ``benchmarks/rom_uq.py``,
4.5 → 3.75 ms per draw with the quadrature points compiled).

It applies when the quadrature points are one group of a von Mises law with the compiled kernel and its
structured tangent (:attr:`CompiledNewton.usable`), the dual points when they are one such group too
(:attr:`CompiledNewton.dual_usable`); the caller keeps the Python path otherwise, and for an increment whose
temperatures are not finite or leave a law's table (the Python path then finds the draws that raise). Local
(one rank, no communication).
"""
import ctypes

import numpy as np

from ..errors import DromoError

LAW_FAILED = "the local law integration failed at {nf} reduced point(s)"
LAW_NONFINITE = "the law returned NaN/Inf at {nf} reduced point(s)"
AT_ITERATION = "reduced Newton iteration {it}: "
AT_DUAL = " of the dual fields (at the converged strains)"
#: the reasons of a draw's failure by the kernel's status codes (1-7), formatted with ``it``, ``rn`` (the
#: residual), ``res1`` (the residual of iteration 1), ``nf`` (failed points), ``max_iterations``
FAILURES = {
    1: "non-finite strains at reduced Newton iteration {it} (the reduced Newton diverged)",
    2: AT_ITERATION + LAW_FAILED,
    3: "non-finite reduced residual at iteration {it}",
    4: "reduced Newton diverging (residual {rn:.3e} at iteration {it}, {res1:.3e} at iteration 1)",
    5: "no convergence in {max_iterations} reduced Newton iterations (residual {rn:.3e})",
    6: "singular reduced tangent at iteration {it}",
    7: LAW_FAILED + AT_DUAL,
}


class _Tables(ctypes.Structure):
    """``tables_t`` of batch_newton.c: a law's parameter tables in temperature."""
    _fields_ = [("n", ctypes.c_long), ("off", ctypes.c_void_p), ("cnt", ctypes.c_void_p), ("T", ctypes.c_void_p),
                ("V", ctypes.c_void_p), ("thermal", ctypes.c_int), ("T_ref", ctypes.c_double)]


class LawTables:
    """A von Mises law's parameters packed for the kernel (:meth:`~dromo.materials.viscoplastic.VonMises.
    kernel_tables`): ``n_par`` parameters per point, the range ``[lo, hi]`` where every table is defined."""

    def __init__(self, law):
        params, alphas, T_ref = law.kernel_tables()
        tabs = params + alphas
        self.n_par = len(params)
        self.cnt = np.array([1 if p.temps is None else p.temps.size for p in tabs], dtype=np.int_)
        self.off = np.concatenate([[0], np.cumsum(self.cnt)[:-1]]).astype(np.int_)
        self.T = np.concatenate([np.zeros(1) if p.temps is None else p.temps for p in tabs]).astype(float)
        self.V = np.concatenate([p.values[:1] if p.temps is None else p.values for p in tabs]).astype(float)
        ranged = [p.temps for p in tabs if p.temps is not None]
        self.lo = max((t[0] for t in ranged), default=-np.inf)
        self.hi = min((t[-1] for t in ranged), default=np.inf)
        self.struct = _Tables(len(tabs), self.off.ctypes.data, self.cnt.ctypes.data, self.T.ctypes.data,
                              self.V.ctypes.data, int(bool(alphas)), float(T_ref))

    def check(self, T):
        """Raise :class:`~dromo.errors.DromoError` when a temperature of ``T`` is not finite or leaves a table
        (the caller's Python path then finds the draws and says which table)."""
        if T.size and not (T.min() >= self.lo and T.max() <= self.hi):  # NaN fails both
            raise DromoError("a temperature at the reduced points is not finite or leaves a law's table")


def _library():
    """The compiled ``batch_newton.c`` (with ``vonmises_kernel.c``) with its argument types, or None without a
    C compiler."""
    from ..materials.cbuild import compiled_library
    lib = compiled_library("uq/batch_newton.c", flags=("-O3", "-fno-fast-math"),
                           extra=("materials/vonmises_kernel.c",), what="compiled batched reduced Newton (else numpy)")
    if lib is None:
        return None
    P, L, I, D = ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_double
    law = [I, I, I, I, D, D, I, L, L]                                 # nv, nk, viscous, linear, dt, rtol, maxit, ns, np
    if lib.dromo_batch_newton.argtypes is None:
        lib.dromo_batch_newton.restype = None
        lib.dromo_batch_newton.argtypes = ([L, I, L] + [P] * 4 + [D] + [P] * 4 + [D, D, D, I] + law + [P] * 4
                                           + [P] * 5 + [P] * 5 + [P, P])
        lib.dromo_batch_dual.restype = None
        lib.dromo_batch_dual.argtypes = [L, I, L, P, P] + law + [P] * 4 + [P] * 4 + [P] * 3 + [P, P]
    return lib


def _compiled_law(sub, structured):
    """The law of point subset ``sub`` when the kernel takes it (one von Mises group over all its points, the
    compiled update, with its structured tangent where ``structured``, its parameters as tables), else None."""
    from ..materials.viscoplastic import VonMises
    law = sub.groups[0].law if sub.groups else None
    if (sub.whole and isinstance(law, VonMises) and law.tangent_parts_supported() and structured
            and law.kernel_tables() is not None):
        return law
    return None


def _law_args(law, dt):
    return [len(law.voce), len(law.kin), int(law.viscous), int(law.linear), float(dt), float(law.rtol),
            int(law.maxit), law.n_state]


def _ptr(a):
    return None if a is None else a.ctypes.data


def _check_arrays(*arrays):
    for a in arrays:
        if not (a.flags.c_contiguous and a.dtype == float):
            raise TypeError("CompiledNewton: the batch's arrays must be C-contiguous float64")


class CompiledNewton:
    """The compiled increment of a :class:`~dromo.uq.batch.BatchedNewton` ``bn``: :meth:`quadrature`, then
    :meth:`dual`."""

    def __init__(self, bn):
        self.bn = bn
        self.law = _compiled_law(bn.quad, bn.structured[bn.quad])
        self.dual_law = _compiled_law(bn.dual, True) if bn.dual.n else None
        self.lib = _library() if self.law is not None else None
        if self.lib is None:
            return
        rt = bn.reduced_tangent
        self.k, self.nq, self.nd = bn.k, bn.quad.n, bn.dual.n
        self.E2T = np.ascontiguousarray(bn.E2.T)                       # (k, 6 n_q)
        from .batch import model_cache
        # the weighted mode strains (k, 6 n_q) and their absolute values, a bound of the latter's spectral norm
        # (the residual's reference is needed only near the tolerance)
        self.EwTT, self.absEwTT, self.absnorm = model_cache(bn.rom, "compiled_residual", lambda: (
            np.ascontiguousarray(bn.EwT.T), np.ascontiguousarray(bn.absEwT.T),
            float(np.linalg.norm(bn.absEwT, 2)) * (1.0 + 1e-10) if bn.absEwT.size else 0.0))
        self.AB, self.E, self.w = np.ascontiguousarray(rt.AB2), rt.E, np.ascontiguousarray(rt.w)
        self.tables = LawTables(self.law)
        self.dual_tables = LawTables(self.dual_law) if self.dual_law is not None else None
        kt = self.k * (self.k + 1) // 2
        npd = self.dual_tables.n_par if self.dual_tables is not None else 0
        self.work = np.empty(max(20 * self.nq + self.k * (self.k + 4) + kt + self.nq * (self.tables.n_par + 6),
                                 self.nd * (12 + npd)))
        self.fail = np.empty(max(self.nq, self.nd), np.uint8)
        self.E2dT = np.ascontiguousarray(bn.E2_dual.T)                 # (k, 6 n_d)

    @property
    def usable(self):
        """The quadrature points' Newton runs compiled."""
        return self.lib is not None

    @property
    def dual_usable(self):
        """The dual points' laws run compiled too."""
        return self.lib is not None and self.dual_law is not None

    def quadrature(self, G, a1, f1, fnorm, ts, dt, Q, Q1, T1, alive):
        """The Newton of the quadrature points over one increment for the draws ``alive`` (bool ``(B,)``) from
        the start values ``Q`` into ``Q1`` (:class:`~dromo.uq.batch._SubsetState`, C-contiguous) at the
        temperatures ``T1`` ``(B, n_q)``; ``G`` ``(B, k)`` the first iterates, overwritten with the last.
        Returns ``(status, iteration, residual, residual of iteration 1, failed points, law evaluations)`` per
        draw (status 0: converged, else a key of :data:`FAILURES`). Raises :class:`~dromo.errors.DromoError`
        when the law's parameters cannot be had at ``T1`` (a temperature out of a table: the caller's Python path
        then finds the draws)."""
        law, bn = self.law, self.bn
        B = G.shape[0]
        self.tables.check(T1)
        lift = (bn.EL2 @ a1) if a1.size else None
        f = np.ascontiguousarray(f1, dtype=float)
        status = np.zeros(B, np.intc)
        info_it, info_n, evals = (np.zeros(B, np.int_) for _ in range(3))
        info_r = np.zeros((B, 2))
        active = np.ascontiguousarray(alive, dtype=np.uint8)
        st0, st1 = Q.internal[0], Q1.internal[0]
        _check_arrays(G, Q.eps, st0, Q1.eps, Q1.stress, st1)
        self.lib.dromo_batch_newton(
            B, self.k, self.nq, _ptr(self.E2T), _ptr(lift), _ptr(self.EwTT), _ptr(self.absEwTT), self.absnorm,
            _ptr(self.AB), _ptr(self.E), _ptr(self.w), _ptr(f), float(fnorm), float(ts.rtol), float(ts.atol),
            int(ts.max_iterations), *_law_args(law, dt), self.tables.n_par, ctypes.byref(self.tables.struct),
            _ptr(np.ascontiguousarray(T1, dtype=float)), _ptr(Q.eps), _ptr(st0),
            _ptr(G), _ptr(Q1.eps), _ptr(Q1.stress), _ptr(st1), _ptr(active), _ptr(status), _ptr(info_it),
            _ptr(info_r), _ptr(info_n), _ptr(evals), _ptr(self.work), _ptr(self.fail))
        return status, info_it, info_r[:, 0], info_r[:, 1], info_n, evals

    def dual(self, G, a1, dt, D, D1, T1, alive, status, info_n):
        """The laws of the dual points of the draws ``alive`` whose ``status`` (of :meth:`quadrature`) is 0, at
        their converged coordinates ``G``, from ``D`` into ``D1`` at the temperatures ``T1`` ``(B, n_d)``; a draw
        whose law fails there gets status 7 and its failed points in ``info_n``. Raises as :meth:`quadrature`
        (nothing written then)."""
        law, bn = self.dual_law, self.bn
        B = G.shape[0]
        self.dual_tables.check(T1)
        lift = (bn.EL2_dual @ a1) if a1.size else None
        st0, st1 = D.internal[0], D1.internal[0]
        _check_arrays(G, D.eps, st0, D1.eps, D1.stress, st1)
        if status.dtype != np.intc or info_n.dtype != np.int_:
            raise TypeError("CompiledNewton.dual: status and info_n as quadrature() returns them")
        self.lib.dromo_batch_dual(
            B, self.k, self.nd, _ptr(self.E2dT), _ptr(lift), *_law_args(law, dt), self.dual_tables.n_par,
            ctypes.byref(self.dual_tables.struct), _ptr(np.ascontiguousarray(T1, dtype=float)), _ptr(D.eps), _ptr(st0),
            _ptr(G), _ptr(D1.eps), _ptr(D1.stress), _ptr(st1),
            _ptr(np.ascontiguousarray(alive, dtype=np.uint8)), _ptr(status), _ptr(info_n), _ptr(self.work),
            _ptr(self.fail))
