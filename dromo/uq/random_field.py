"""Random temperature fields on a mesh: Karhunen–Loève (KL) modes of a covariance, computed in parallel.

The random part of a case's temperature is a centred Gaussian field with the squared-exponential
covariance ``C(x, y) = σ² exp(−|x − y|² / (2 ℓ²))`` (σ in K, the correlation length ℓ in the mesh's
length unit), represented on the mesh nodes and truncated to its ``r`` leading KL modes:

    δT(x) = Σ_{i<r} ξ_i √λ_i φ_i(x),        ξ ~ N(0, I_r)

(nodal collocation: ``C_ij = C(x_i, x_j)`` over the N nodes, ``C φ_i = λ_i φ_i``, ``φ_i`` orthonormal in
the Euclidean product of the nodal values, so the nodal variance ``Σ λ_i φ_i(x)²`` tends to σ² and
``Σ λ_i / (N σ²)`` is the fraction of the variance the modes keep). A draw adds ``a(t) δT(x)`` to the
case's nominal temperature (``a`` its temperature amplitude: the random part follows the heating cycle);
the draw's coefficients ``ξ`` are what the dictionary's classifier sees.

**Parallel computation** (:func:`kl_modes`): a randomized eigensolver (Halko, Martinsson & Tropp 2011,
subspace iteration with ``power`` passes) on the *implicit* covariance operator: every rank holds its
owned nodes' rows; one product ``C V`` (V of ``l = r + oversample`` columns) allgathers V (O(N l) per
rank, like a few vectors) and evaluates the kernel block ``C(X_owned, X_all)`` by chunks of rows, never
stored: O(N² l / P) flops and O(chunk · N) memory per rank, **no N × N matrix anywhere**. The
orthonormalisations are Cholesky-QR2 with one summed l × l Gram (:func:`dromo.parallel.collectives.allreduce_sum`,
identical bits on every rank), the Rayleigh–Ritz matrix ``Qᵀ C Q`` is l × l. Cost: ``2 + 2 power`` kernel
passes, each ``N²/P`` kernel evaluations: seconds for 1e4 nodes, ~1 min at 1e5 nodes on 8 ranks; beyond a
few 1e5 nodes (the medium blade's 8.7e4 is fine) a compactly supported or a separable/low-rank
covariance would be needed (not implemented). The start block is drawn in natural node order from
``seed``, so every rank count computes the same modes (to round-off); each mode's sign makes
``Σ φ³ > 0``.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum

log = get_logger("dromo.uq.field")

#: the KL modes' nodal field in an archive (one "step" per mode)
KL_FIELD = "kl_modes"


@dataclass
class KLBasis:
    """The truncated KL expansion of a random field on a DistributedMesh (module docstring).

    eigenvalues (r,) λ_i [K² · nodes] in decreasing order; modes (n_owned_nodes, r) φ_i on this rank's
    owned nodes (PETSc order), orthonormal over all nodes; sigma [K], length [mesh unit]; captured: the
    fraction Σλ / (N σ²) of the field's variance kept.
    """
    eigenvalues: np.ndarray
    modes: np.ndarray
    sigma: float
    length: float
    captured: float

    @property
    def n_modes(self):
        return int(self.eigenvalues.size)

    @property
    def scales(self):
        """``√λ_i`` (r,): the standard deviation of each mode's amplitude [K]."""
        return np.sqrt(np.maximum(self.eigenvalues, 0.0))

    def nodal(self, xi):
        """δT on the owned nodes for coefficients ``xi (r,)``: ``(n_owned_nodes,)`` [K]."""
        return self.modes @ (self.scales * np.asarray(xi, dtype=float))

    def write(self, ar, dm, prefix="field"):
        """Write the modes (nodal field :data:`KL_FIELD`, natural numbering) and the spectrum
        (``{prefix}/eigenvalues`` and attributes) into an open, writable archive. Collective."""
        block = dm.redistributor("node").owned_to_natural(np.ascontiguousarray(self.modes))   # (blk, r)
        ar.write_field(KL_FIELD, "node", block.T[:, :, None], times=np.arange(self.n_modes, dtype=float),
                       components=["phi"], description="Karhunen-Loeve modes of the random temperature field")
        ar.write_array(f"{prefix}/eigenvalues", np.asarray(self.eigenvalues, dtype=float),
                       attrs={"sigma": float(self.sigma), "length": float(self.length),
                              "captured": float(self.captured)})

    @classmethod
    def read(cls, ar, dm, prefix="field"):
        """Read a basis written by :meth:`write` onto ``dm`` (any rank count). Collective."""
        lam = np.asarray(ar.read_array(f"{prefix}/eigenvalues"), dtype=float)
        a = ar.get_attrs(f"{prefix}/eigenvalues")
        block = ar.read_steps(KL_FIELD, slice(0, lam.size))[:, :, 0]            # (r, natural block)
        modes = dm.redistributor("node").natural_to_owned(np.ascontiguousarray(block.T))
        return cls(lam, np.asarray(modes).reshape(dm.n_owned_nodes, lam.size), float(a["sigma"]),
                   float(a["length"]), float(a["captured"]))


def kl_modes(dm, sigma, length, n_modes, oversample=10, power=3, seed=0, chunk=512):
    """The ``n_modes`` leading KL modes of the squared-exponential covariance on ``dm``'s nodes (module
    docstring): a :class:`KLBasis`. Collective."""
    comm = dm.comm
    if not (sigma > 0 and length > 0 and int(n_modes) >= 1):
        raise InputError(f"random field: sigma ({sigma}) and length ({length}) must be > 0, modes ({n_modes}) "
                         f"≥ 1")
    # every node's coordinates on every rank (3N doubles: the kernel rows need them; the vectors of
    # ``apply`` are N-long too, hence the few-1e5-node scope of the module docstring)
    N = int(dm.n_nodes_global)
    X = np.zeros((N, 3))
    X[np.asarray(dm.local_natural[:dm.n_owned_nodes], dtype=np.int64)] = dm.points[:dm.n_owned_nodes]
    X = allreduce_sum(X, comm)
    r = int(n_modes)
    ell = min(N, r + int(oversample))
    if r > N:
        raise InputError(f"random field: {r} modes asked, the mesh has {N} nodes")
    own = np.asarray(dm.local_natural[:dm.n_owned_nodes], dtype=np.int64)
    Xo = X[own]
    sq = np.einsum("ij,ij->i", X, X)
    c = -0.5 / float(length) ** 2

    def apply(V):                                   # C V on the owned rows, V (n_owned, m)
        full = np.zeros((N, V.shape[1]))
        full[own] = V
        full = allreduce_sum(full, comm)            # every node is owned by exactly one rank
        out = np.empty_like(V)
        for s in range(0, own.size, chunk):
            xs = Xo[s:s + chunk]
            d2 = np.maximum(np.einsum("ij,ij->i", xs, xs)[:, None] + sq[None, :] - 2.0 * xs @ X.T, 0.0)
            out[s:s + chunk] = np.exp(c * d2) @ full
        return float(sigma) ** 2 * out

    def orth(Y):                                    # Cholesky-QR2 over the ranks
        for _ in range(2):
            G = allreduce_sum(np.ascontiguousarray(Y.T @ Y), comm)
            G = 0.5 * (G + G.T)
            w, V = np.linalg.eigh(G)
            keep = w > w.max() * 1e-14
            Y = Y @ (V[:, keep] / np.sqrt(w[keep]))  # rank-revealing: drops a dependent direction
        return Y

    omega = np.random.default_rng(int(seed)).standard_normal((N, ell))[own]
    Q = orth(apply(omega))
    for _ in range(int(power)):
        Q = orth(apply(Q))
    B = allreduce_sum(np.ascontiguousarray(Q.T @ apply(Q)), comm)
    lam, V = np.linalg.eigh(0.5 * (B + B.T))
    order = np.argsort(lam)[::-1][:r]
    if order.size < r:
        raise InputError(f"random field: only {order.size} independent modes found (ℓ = {length} is too long "
                         f"for {r} modes on this mesh)")
    lam, phi = lam[order], Q @ V[:, order]
    sign = np.sign(allreduce_sum(np.ascontiguousarray(np.sum(phi ** 3, axis=0)), comm))
    phi *= np.where(sign == 0, 1.0, sign)
    captured = float(lam.sum() / (N * float(sigma) ** 2))
    log.info("random field: %d KL modes of σ = %g K, ℓ = %g (N = %d nodes): λ = %s, %.1f %% of the variance",
             r, sigma, length, N, np.array2string(lam, precision=3), 100 * captured)
    return KLBasis(lam, np.ascontiguousarray(phi), float(sigma), float(length), captured)


class PointModes:
    """The KL modes at given integration points (natural ids): ``ids (n,)`` sorted, ``values (n, r)``.

    Built from the nodal modes with the points' cell nodes and shape values (:func:`point_modes`)."""

    def __init__(self, ids, values):
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        self.ids = np.asarray(ids, dtype=np.int64)[order]
        self.values = np.asarray(values, dtype=float)[order]

    def rows(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        i = np.searchsorted(self.ids, ids)
        ok = (i < self.ids.size) & (self.ids[np.minimum(i, self.ids.size - 1)] == ids)
        if not ok.all():
            raise InputError(f"random field: no KL mode values at integration points {ids[~ok][:5].tolist()}")
        return i


def point_modes(ar, ids, cell_nodes, shape):
    """:class:`PointModes` at the points ``ids`` from the nodal modes in archive ``ar`` (field
    :data:`KL_FIELD`) and each point's natural cell nodes ``(n, m)`` (-1 padded) and shape values
    ``(n, m)``. Collective (every rank reads the same few nodes)."""
    info = ar.field_info(KL_FIELD)
    nodes = np.asarray(cell_nodes, dtype=np.int64)
    vals = ar.read_items(KL_FIELD, np.maximum(nodes, 0).reshape(-1))[:, :, 0]        # (r, n·m)
    vals = vals.reshape(info["n_steps"], nodes.shape[0], nodes.shape[1])
    return PointModes(ids, np.einsum("rnm,nm->nr", vals, np.where(nodes >= 0, shape, 0.0)))


class FieldDraw:
    """One draw of the random field, the ``offset`` of a :class:`~dromo.hf.loads.Temperature`.

    ``xi (r,)`` its KL coefficients; ``basis`` (:class:`KLBasis`, for HF runs: :meth:`at_ips`) and/or
    ``points`` (:class:`PointModes`, for reduced models: :meth:`at_points`)."""

    def __init__(self, xi, basis=None, points=None, scales=None):
        self.xi = np.asarray(xi, dtype=float)
        self.basis = basis
        self.points = points
        self.scales = basis.scales if scales is None else np.asarray(scales, dtype=float)

    def at_ips(self, dm):
        from ..hf.problem import nodal_to_ips
        if self.basis is None:
            raise InputError("random field draw: no nodal KL modes to evaluate at the integration points")
        return nodal_to_ips(dm, self.basis.nodal(self.xi)[:, None])[0]

    def at_points(self, ids):
        if self.points is None:
            raise InputError("random field draw: no KL mode values at the reduced points")
        return self.points.values[self.points.rows(ids)] @ (self.scales * self.xi)
