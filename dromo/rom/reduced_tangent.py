"""Reduced tangents from structured point tangents: ``K = Σ_p w_p E_pᵀ C_p E_p`` when ``C = Kb J + cdev D + u ⊗ n``.

Laws whose consistent tangent is an isotropic part plus a rank-one part (the compiled von Mises laws,
:meth:`~dromo.materials.base.Law.update` with ``tangent="parts"``: ``Kb, cdev, u (6), n (6)`` per point; J ones on
the normal 3 × 3 block, D the deviatoric projector there and the identity on the shears, Mandel) give

    K = Σ_p Kb_p A_p + cdev_p B_p + Σ_p w_p (E_pᵀ u_p)(E_pᵀ n_p)ᵀ,   A_p = w_p E_pᵀ J E_p,  B_p = w_p E_pᵀ D E_p,

with ``A_p, B_p`` (``k × k``) made once per point set: one product ``(a, 2n) (2n, k²)`` for the isotropic parts of
``a`` draws, and for the rank-one parts one ``(2a, 6) (6, k)`` product per point and one ``(k, n) (n, k)`` per draw —
a sixth of the flops of the general ``E_pᵀ (C_p E_p)``. It pays over many draws (the batched solver of
:mod:`dromo.uq.batch`: 3.7 → 0.8 ms for 64 draws at 195 points); for one draw the general product is as fast
(25 µs against 34 at 200 points). Local (no communication).
"""
import numpy as np


class StructuredReducedTangent:
    """``E`` ``(n, 6, k)`` the mode strains at the points, ``w`` ``(n,)`` their weights; calling it with structured
    tangents ``(a, n, 14)`` of ``a`` draws gives their reduced tangents ``(a, k, k)``."""

    def __init__(self, E, w):
        from ..materials.base import TANGENT_D, TANGENT_J
        self.E = np.ascontiguousarray(E, dtype=float)
        n, _, self.k = self.E.shape
        self.w = np.asarray(w, dtype=float).reshape(n)
        self.AB2 = np.concatenate([(self.w[:, None, None] * np.einsum("pik,ij,pjl->pkl", self.E, M, self.E))
                                   .reshape(n, self.k * self.k) for M in (TANGENT_J, TANGENT_D)])   # (2n, k²)

    def __call__(self, parts):
        a, n, k = parts.shape[0], self.E.shape[0], self.k
        iso = np.ascontiguousarray(parts[:, :, :2].transpose(0, 2, 1)).reshape(a, 2 * n)     # Kb, cdev
        K = (iso @ self.AB2).reshape(a, k, k)
        un = np.ascontiguousarray(parts[:, :, 2:].transpose(1, 0, 2)).reshape(n, 2 * a, 6)   # per point: u, n
        UN = np.matmul(un, self.E).reshape(n, a, 2, k)                                       # E_pᵀ u, E_pᵀ n
        U = UN[:, :, 0] * self.w[:, None, None]
        K += np.matmul(U.transpose(1, 2, 0), UN[:, :, 1].transpose(1, 0, 2))
        return K
