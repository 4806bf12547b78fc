"""The quadrature points' reduced Newton of :mod:`dromo.uq.batch`, compiled: one C call per increment.

``batch_newton.c`` runs, for each draw of a batch in turn, the loop of :func:`~dromo.uq.batch.solve_batch`'s
Python path (strains, the von Mises point update of ``vonmises_kernel.c``, reduced residual, structured reduced
tangent, dense solve) with the same convergence test and failure cases. The Python path stays the reference:
the two give the same iterates to round-off (the sums are in another order) and the same law evaluations and
failures (``tests/uq/test_dictionary.py``). What it saves is the batch's array traffic per Newton iteration
(gathers, copies, temporaries of ``B × n_q`` points) and the Python around it; a draw's arrays stay in cache.

It applies when the quadrature points are one group of a von Mises law with the compiled kernel and its
structured tangent (:meth:`QuadratureNewton.usable`); the caller keeps the Python path otherwise, and for an
increment whose temperatures are not finite or leave a law's table (the Python path then finds the draws that
raise). Local (one rank, no communication).
"""
import ctypes

import numpy as np

from ..errors import DromoError

#: the reasons of a draw's failure by the kernel's status codes (1-6), formatted with ``it``, ``rn`` (the
#: residual), ``res1`` (the residual of iteration 1), ``nf`` (failed points), ``max_iterations``
FAILURES = {
    1: "non-finite strains at reduced Newton iteration {it} (the reduced Newton diverged)",
    2: "reduced Newton iteration {it}: the local law integration failed at {nf} reduced point(s)",
    3: "non-finite reduced residual at iteration {it}",
    4: "reduced Newton diverging (residual {rn:.3e} at iteration {it}, {res1:.3e} at iteration 1)",
    5: "no convergence in {max_iterations} reduced Newton iterations (residual {rn:.3e})",
    6: "singular reduced tangent at iteration {it}",
}


def _function():
    """The compiled ``dromo_batch_newton`` (ctypes), or None without a C compiler."""
    from ..materials.cbuild import compiled_library
    lib = compiled_library("uq/batch_newton.c", flags=("-O3", "-fno-fast-math"),
                           extra=("materials/vonmises_kernel.c",), what="compiled batched reduced Newton (else numpy)")
    if lib is None:
        return None
    fn = lib.dromo_batch_newton
    if fn.argtypes is None:
        P, L, I, D = ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_double
        fn.restype = None
        fn.argtypes = ([L, I, L] + [P] * 4 + [D] + [P] * 4 + [D, D, D, I] + [I, I, I, I, D, D, I, L, L] + [P] * 4
                       + [P] * 5 + [P] * 5 + [P, P])
    return fn


class QuadratureNewton:
    """The compiled Newton over the quadrature points of a :class:`~dromo.uq.batch.BatchedNewton` ``bn``."""

    def __init__(self, bn):
        from ..materials.viscoplastic import VonMises
        self.bn = bn
        quad = bn.quad
        self.law = quad.groups[0].law if quad.groups else None
        self.fn = None
        if not (quad.whole and isinstance(self.law, VonMises) and bn.structured[quad]
                and self.law.tangent_parts_supported()):
            return
        self.fn = _function()
        if self.fn is None:
            return
        rt = bn.reduced_tangent
        self.k, self.nq = bn.k, quad.n
        self.E2T = np.ascontiguousarray(bn.E2.T)                       # (k, 6 n_q)
        self.EwT, self.absEwT = bn.EwT, bn.absEwT                      # (6 n_q, k)
        # a bound of absEwT's spectral norm (the residual's reference is needed only near the tolerance)
        self.absnorm = float(np.linalg.norm(self.absEwT, 2)) * (1.0 + 1e-10) if self.absEwT.size else 0.0
        self.AB, self.E, self.w = np.ascontiguousarray(rt.AB2), rt.E, np.ascontiguousarray(rt.w)
        kt = self.k * (self.k + 1) // 2
        self.work = np.empty(20 * self.nq + self.k * (self.k + 4) + kt)
        self.fail = np.empty(self.nq, np.uint8)

    @property
    def usable(self):
        return self.fn is not None

    def __call__(self, G, a1, f1, fnorm, ts, dt, t, Q, Q1, T1, alive):
        """One increment of the draws ``alive`` (bool ``(B,)``) from the start values ``Q`` into ``Q1``
        (:class:`~dromo.uq.batch._SubsetState`, C-contiguous) at the temperatures ``T1`` ``(B, n_q)``; ``G``
        ``(B, k)`` the first iterates, overwritten with the last. Returns ``(status, iteration, residual,
        residual of iteration 1, failed points, law evaluations)`` per draw (status 0: converged, else a key of
        :data:`FAILURES`). Raises :class:`~dromo.errors.DromoError` when the law's parameters cannot be had at
        ``T1`` (a temperature out of a table: the caller's Python path then finds the draws)."""
        from ..materials.base import all_finite
        law = self.law
        B = G.shape[0]
        if not all_finite(T1):
            raise DromoError("non-finite temperature at the reduced points")
        par, eth = law._kernel_parameters(np.ascontiguousarray(T1).reshape(-1), t)
        bn = self.bn
        lift = (bn.EL2 @ a1) if a1.size else None
        f = np.ascontiguousarray(f1, dtype=float)
        status = np.zeros(B, np.intc)
        info_it = np.zeros(B, np.int_)
        info_r = np.zeros((B, 2))
        info_n = np.zeros(B, np.int_)
        evals = np.zeros(B, np.int_)
        active = np.ascontiguousarray(alive, dtype=np.uint8)
        st0, st1 = Q.internal[0], Q1.internal[0]
        for a in (G, Q.eps, st0, Q1.eps, Q1.stress, st1):
            if not (a.flags.c_contiguous and a.dtype == float):
                raise TypeError("QuadratureNewton: the batch's arrays must be C-contiguous float64")
        ptr = lambda a: None if a is None else a.ctypes.data          # noqa: E731
        self.fn(B, self.k, self.nq, ptr(self.E2T), ptr(lift), ptr(self.EwT), ptr(self.absEwT), self.absnorm, ptr(self.AB),
                ptr(self.E), ptr(self.w), ptr(f), float(fnorm), float(ts.rtol), float(ts.atol), int(ts.max_iterations),
                len(law.voce), len(law.kin), int(law.viscous), int(law.linear), float(dt), float(law.rtol), int(law.maxit),
                law.n_state, par.shape[1], ptr(Q.eps), ptr(st0), ptr(par), ptr(eth),
                ptr(G), ptr(Q1.eps), ptr(Q1.stress), ptr(st1), ptr(active),
                ptr(status), ptr(info_it), ptr(info_r), ptr(info_n), ptr(evals), ptr(self.work), ptr(self.fail))
        return status, info_it, info_r[:, 0], info_r[:, 1], info_n, evals
