"""A reduced integration rule: a few integration points with weights, replicated on every rank.

Built by the empirical cubature (:func:`dromo.reduction.ecm.empirical_cubature`); used online to integrate
the reduced internal forces, ``Σ_k ω_k f(x_k)``, over the points the law is evaluated at. Points are named by
their natural integration-point ids (rank-count independent, :attr:`DistributedMesh.ip_natural`).
"""
from dataclasses import dataclass, field

import numpy as np

from ..parallel.collectives import allreduce_sum

__all__ = ["ReducedQuadrature"]


@dataclass
class ReducedQuadrature:
    """A reduced integration rule, replicated on every rank.

    ids : (n,) int64 natural integration-point ids, increasing
    weights : (n,) float64 positive weights (zero for points added for the dual quantities only)
    ranks : (n,) int64 rank owning each point (in the communicator of the computation)
    error : achieved relative integration error ``‖b − J_Sᵀ ω‖ / ‖b‖`` of the basis
    tol, converged, variant, n_iterations, n_basis (p), history (error after each iteration; global only)
    n_subdomains : number of subdomains of the partitioned variant (1 for the global one)
    """
    ids: np.ndarray
    weights: np.ndarray
    ranks: np.ndarray
    error: float
    tol: float
    converged: bool
    variant: str
    n_iterations: int = 0
    n_basis: int = 0
    n_subdomains: int = 1
    history: list = field(default_factory=list)

    @property
    def n_points(self):
        return int(self.ids.size)

    def local(self, ip_natural):
        """(local row indices, positions in ``ids``) of the points held by this rank (``ip_natural``: the
        rank's natural ip ids, e.g. :attr:`DistributedMesh.ip_natural`)."""
        ip_natural = np.asarray(ip_natural, dtype=np.int64)
        order = np.argsort(ip_natural, kind="stable")
        pos = np.searchsorted(ip_natural[order], self.ids)
        pos = np.minimum(pos, max(ip_natural.size - 1, 0))
        hit = ip_natural.size > 0
        found = (ip_natural[order][pos] == self.ids) if hit else np.zeros(self.ids.size, bool)
        return order[pos[found]], np.flatnonzero(found)

    def integrate_local(self, values, ip_natural):
        """This rank's part of ``Σ_k ω_k f(x_k)`` for ``values`` ``(n_local, ...)`` at the local points."""
        rows, pos = self.local(ip_natural)
        v = np.asarray(values)[rows]
        return np.tensordot(self.weights[pos], v, axes=(0, 0))

    def integrate(self, values, ip_natural, comm):
        """``Σ_k ω_k f(x_k)`` on every rank (collective)."""
        loc = np.ascontiguousarray(self.integrate_local(values, ip_natural), dtype=np.float64)
        return allreduce_sum(loc, comm)

    def with_points(self, extra_ids, extra_ranks):
        """A copy with points added at zero weight (ids already present are kept with their weight)."""
        extra_ids = np.asarray(extra_ids, dtype=np.int64)
        new = ~np.isin(extra_ids, self.ids)
        ids = np.concatenate([self.ids, extra_ids[new]])
        order = np.argsort(ids, kind="stable")
        w = np.concatenate([self.weights, np.zeros(int(new.sum()))])[order]
        r = np.concatenate([self.ranks, np.asarray(extra_ranks, dtype=np.int64)[new]])[order]
        return ReducedQuadrature(ids[order], w, r, self.error, self.tol, self.converged, self.variant,
                                 self.n_iterations, self.n_basis, self.n_subdomains, list(self.history))

    def to_archive(self, archive, path):
        """Write the rule to the group ``path`` of a writable :class:`~dromo.io.archive.Archive`. Collective.

        Datasets ``ids``, ``weights``, ``ranks``, ``history``; attrs ``error``, ``tol``, ``converged``,
        ``variant``, ``n_iterations``, ``n_basis``, ``n_subdomains``, ``n_points``.
        """
        for name in ("ids", "weights", "ranks"):
            archive.write_array(f"{path}/{name}", getattr(self, name))
        archive.write_array(f"{path}/history", np.asarray(self.history, dtype=np.float64))
        archive.set_attrs(path, {"kind": "reduced-quadrature", "error": float(self.error),
                                 "tol": float(self.tol), "converged": int(self.converged),
                                 "variant": str(self.variant), "n_iterations": int(self.n_iterations),
                                 "n_basis": int(self.n_basis), "n_subdomains": int(self.n_subdomains),
                                 "n_points": self.n_points})

    @classmethod
    def from_archive(cls, archive, path):
        """The rule written by :meth:`to_archive`, replicated, at any rank count. Collective.

        ``ranks`` are those of the run that computed the rule (use :meth:`local` to find the points of
        this run's ranks).
        """
        a = archive.get_attrs(path)
        return cls(archive.read_array(f"{path}/ids").astype(np.int64),
                   archive.read_array(f"{path}/weights").astype(np.float64),
                   archive.read_array(f"{path}/ranks").astype(np.int64), float(a["error"]), float(a["tol"]),
                   bool(a["converged"]), str(a["variant"]), int(a["n_iterations"]), int(a["n_basis"]),
                   int(a["n_subdomains"]), archive.read_array(f"{path}/history").tolist())
