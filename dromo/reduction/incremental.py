"""Incremental POD (Brand 2002): add snapshots to a distributed basis without touching the old ones.

State: the M-orthonormal modes ``Ψ`` (``(n_local, k)`` local rows) and their singular values ``s``
(``(k,)``), plus the total energy of every snapshot seen and the energy discarded so far (so the
relative tolerance refers to all the data, as in a batch POD).

Update with new columns ``A`` (``(n_local, c)``):

1. ``P = ΨᵀMA``, residual ``R = A − ΨP``, orthogonalized a second time (classical Gram-Schmidt twice
   in the inner product ``M``: ``P₂ = ΨᵀMR``, ``R −= ΨP₂``, ``P += P₂``);
2. the residual columns are orthonormalized among themselves (Gram-Schmidt twice, column by column); a
   column whose residual M-norm is ``≤ tol_reject · ‖a‖_M`` brings no new direction (rejected: its
   in-span part still updates ``s``, its tiny residual counts as discarded energy);
3. small SVD ``K = [[diag(s), P], [0, R̂]] = X Σ Yᵀ`` (``(k+r) × (k+c)``, replicated), new modes
   ``[Ψ Q] X`` truncated by the relative energy tolerance over all data seen, and ``max_modes``.

After every :meth:`~IncrementalPOD.add`, :attr:`~IncrementalPOD.directions` (``Q``, ``(n_local, r)``) and
:attr:`~IncrementalPOD.transform` (``X``, ``(k + r, k_new)``) describe the update, ``Ψ_new = [Ψ_old Q] X``
(as computed): a linear image of the modes (e.g. their strains) is updated from the image of ``Q`` alone,
and ``Ψ_newᵀ M Ψ_old = X[:k]ᵀ`` (up to the round-off of the old modes' orthonormality).

Right singular vectors of the whole data are not tracked (the POD needs only the left ones). With exact
arithmetic and no truncation, the result equals the batch POD of all the data; with truncation tolerance ε
the energy discarded is at most ε² × total, as in the batch POD, so both bases represent all the data to ε.
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from .pod import PODBasis, pod, truncation_rank
from .sources import ArraySource, check_finite
from .svd import fix_signs

__all__ = ["IncrementalPOD"]


class IncrementalPOD:
    """Incremental (Brand 2002) updates of a :class:`~dromo.reduction.pod.PODBasis`. Collective methods.

    Parameters
    ----------
    basis : PODBasis — the starting basis (its inner product is used for every update)
    tol : float in (0, 1), optional — relative energy tolerance (default: the basis' ``tol``; ``None``
        keeps every numerically nonzero direction)
    max_modes : int, optional (default: the basis' ``max_modes``)
    """

    def __init__(self, basis, tol=None, max_modes=None):
        self.comm = basis.comm
        self.inner_product = basis.inner_product
        self.modes = np.array(basis.modes, dtype=np.float64)
        k = basis.n_kept
        sv = np.asarray(basis.singular_values, dtype=np.float64)
        self.s = sv[:k].copy()
        self.total = float(np.sum(sv ** 2))
        self.discarded = float(np.sum(sv[k:] ** 2))
        self.tol = basis.tol if tol is None else tol
        if self.tol is not None and not (0.0 < self.tol < 1.0):
            raise InputError(f"POD tolerance must be in (0, 1), got {self.tol}")
        self.max_modes = basis.max_modes if max_modes is None else max_modes
        self.n_snapshots = basis.n_snapshots
        self._inner_name = basis.inner
        self.n_rejected = 0
        #: the last update (module docstring): Ψ_new = [Ψ_old directions] transform
        self.directions = np.zeros((self.modes.shape[0], 0))
        self.transform = np.eye(k)

    @classmethod
    def from_snapshots(cls, U_local, comm=None, tol=None, max_modes=None, inner=None, inner_name=None):
        """Start from a batch POD (method of snapshots) of ``U_local`` ``(n_local, m)``."""
        b = pod(U_local, comm=comm, tol=tol, max_modes=max_modes, inner=inner, inner_name=inner_name)
        return cls(b)

    @property
    def n_kept(self):
        return self.modes.shape[1]

    @property
    def basis(self):
        """The current basis as a :class:`PODBasis` (``singular_values`` = the kept ones)."""
        kept = float(np.sum(self.s ** 2))
        return PODBasis(modes=self.modes, singular_values=self.s.copy(), n_kept=self.n_kept, tol=self.tol,
                        energy=kept / self.total if self.total > 0 else 1.0, inner=self._inner_name,
                        method="incremental", n_snapshots=self.n_snapshots, max_modes=self.max_modes,
                        comm=self.comm, inner_product=self.inner_product)

    def add(self, new_local_columns, tol_reject=1e-10, labels=None):
        """Add snapshots ``(n_local, c)`` (or ``(n_local,)``); returns the change in the number of modes.

        ``tol_reject``: a snapshot whose residual after projection has M-norm ``≤ tol_reject × ‖a‖_M``
        adds no new direction (counted in :attr:`n_rejected`). The return value is ``k_new − k_old``
        (0 when every new snapshot was rejected; can be negative when truncation drops modes).
        Raises InputError on every rank for a wrong row count or a NaN/Inf snapshot (named by label).
        """
        ip, comm = self.inner_product, self.comm
        A = np.asarray(new_local_columns, dtype=np.float64)
        A = A[:, None] if A.ndim == 1 else A
        if not (0.0 <= tol_reject < 1.0):
            raise InputError(f"tol_reject must be in [0, 1), got {tol_reject}")
        ok = A.ndim == 2 and A.shape[0] == self.modes.shape[0]
        allok = comm.allreduce(int(ok), op=MPI.MIN) if comm.size > 1 else ok
        if not allok:
            raise InputError(f"incremental POD: new snapshots must have the basis' local row count "
                             f"({self.modes.shape[0]} on rank {comm.rank}), got {A.shape}")
        c = A.shape[1]
        k = self.modes.shape[1]
        self.directions, self.transform = np.zeros((A.shape[0], 0)), np.eye(k)
        if c == 0:
            return 0
        src = ArraySource(A, comm=comm, labels=labels, name="new snapshot")
        check_finite(A, src, 0, comm)

        Psi, k = self.modes, self.modes.shape[1]
        na2 = ip.norms2(A)
        P = ip.gram(Psi, A)
        R = A - Psi @ P
        P2 = ip.gram(Psi, R)
        R -= Psi @ P2
        P += P2

        Q = np.empty((A.shape[0], c))
        Rhat = np.zeros((c, c))
        r = 0
        dropped = 0.0
        for j in range(c):
            q = R[:, j].copy()
            h = np.zeros(r)
            for _ in range(2):                      # Gram-Schmidt twice against the new directions
                if r:
                    hj = ip.gram(Q[:, :r], q[:, None])[:, 0]
                    q -= Q[:, :r] @ hj
                    h += hj
            nq = float(np.sqrt(max(ip.norms2(q[:, None])[0], 0.0)))
            Rhat[:r, j] = h
            if nq <= tol_reject * np.sqrt(max(na2[j], 0.0)) or nq == 0.0:
                self.n_rejected += 1
                dropped += nq * nq
                continue
            Q[:, r] = q / nq
            Rhat[r, j] = nq
            r += 1
        Q = Q[:, :r]
        Rhat = Rhat[:r]

        K = np.zeros((k + r, k + c))
        K[:k, :k] = np.diag(self.s)
        K[:k, k:] = P
        K[k:, k:] = Rhat
        X, sig, _yt = np.linalg.svd(K, full_matrices=False)

        self.total += float(np.sum(na2))
        self.discarded += dropped
        e = sig ** 2
        n_valid = int(np.count_nonzero(sig > (k + c) * np.finfo(float).eps * sig[0])) if sig.size else 0
        kn = truncation_rank(e, self.tol, self.max_modes, discarded=self.discarded, total=self.total)
        kn = max(1, min(kn, n_valid))
        self.discarded += float(np.sum(e[kn:]))
        Xk = fix_signs(np.array(X[:, :kn]))
        new = Psi @ Xk[:k]
        if r:
            new += Q @ Xk[k:]
        self.modes = new
        self.directions, self.transform = Q, Xk
        self.s = sig[:kn].copy()
        self.n_snapshots += c
        return kn - k
