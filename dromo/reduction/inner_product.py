"""Inner products of distributed snapshot rows: :class:`InnerProduct` and :func:`inner_product`.

``(a, b)_M = aᵀ M b`` over rows distributed by rank, with ``M`` the identity (``None``/``"euclid"``), a
diagonal of non-negative weights (``n_local``; e.g. quadrature weights × detJ of integration-point fields)
or an assembled PETSc ``Mat`` (L2 mass, energy stiffness) whose local rows are this rank's rows. Used by
the POD (:mod:`dromo.reduction.pod`, which re-exports both names) and every basis built on it.
"""
import numpy as np

from ..errors import InputError
from ..parallel.collectives import allreduce_sum

__all__ = ["InnerProduct", "inner_product"]

_ROW_CHUNK_BYTES = 16 << 20     # rows per chunk for the weighted Gram (bounded extra memory)
_MAT_COLS = 64                  # columns per PETSc Mat × dense product (bounded extra memory)


class InnerProduct:
    """The inner product ``M`` on the local rows of a row-distributed matrix.

    Parameters
    ----------
    spec : None | "euclid" | ndarray (n_local,) of weights | petsc4py.PETSc.Mat | InnerProduct
    n_local : int — rows on this rank
    comm : MPI.Comm
    name : str, optional — name recorded in the basis ("euclid", "weights", "l2", "energy", ...)

    Construction is collective: a matrix of the wrong local size, weights of the wrong length, negative
    or non-finite weights raise :class:`~dromo.errors.InputError` on every rank.
    """

    def __init__(self, spec, n_local, comm, name=None):
        self.comm = comm
        self.n_local = int(n_local)
        self.weights = None
        self.sqrt_weights = None
        self.mat = None
        err = None
        if isinstance(spec, InnerProduct):
            self.kind, self.name = spec.kind, name or spec.name
            self.weights, self.sqrt_weights, self.mat = spec.weights, spec.sqrt_weights, spec.mat
            if (spec.n_local != self.n_local):
                err = (f"inner product defined on {spec.n_local} local rows, snapshots have {self.n_local} "
                       f"on rank {comm.rank}")
        elif spec is None or (isinstance(spec, str) and spec.lower() in ("euclid", "euclidean", "identity")):
            self.kind, self.name = "euclid", name or "euclid"
        elif isinstance(spec, str):
            self.kind, self.name = "euclid", spec
            err = (f"inner product {spec!r} is a name only: pass the assembled PETSc Mat (L2 mass or energy "
                   f"stiffness) or weights; only 'euclid' can be given by name")
        elif hasattr(spec, "getLocalSize") and hasattr(spec, "mult"):
            self.kind, self.name, self.mat = "mat", name or "mat", spec
            ls = tuple(spec.getLocalSize())
            if ls != (self.n_local, self.n_local):
                err = (f"inner-product matrix of the wrong size: local size {ls} on rank {comm.rank}, "
                       f"expected ({self.n_local}, {self.n_local}) (this rank's snapshot rows)")
        else:
            self.kind, self.name = "weights", name or "weights"
            w = np.asarray(spec, dtype=np.float64)
            if w.ndim != 1 or w.shape[0] != self.n_local:
                err = (f"inner-product weights of the wrong size: shape {w.shape} on rank {comm.rank}, "
                       f"expected ({self.n_local},)")
            elif not np.isfinite(w).all() or (w < 0).any():
                err = f"inner-product weights must be finite and >= 0 (rank {comm.rank})"
            else:
                self.weights = w
                self.sqrt_weights = np.sqrt(w)
        msgs = comm.allgather(err) if comm.size > 1 else [err]
        bad = [m for m in msgs if m]
        if bad:
            raise InputError("; ".join(bad))

    # -- local products (no communication) --------------------------------------------------------
    def apply(self, X):
        """``M X`` on the local rows: ``X`` ``(n_local, c)`` → ``(n_local, c)``. Collective for a Mat."""
        if self.kind == "euclid":
            return X
        if self.kind == "weights":
            return self.weights[:, None] * X
        return self._mat_apply(X)

    def _mat_apply(self, X):
        from petsc4py import PETSc
        n, c = X.shape
        out = np.empty((n, c))
        N = self.mat.getSize()[0]
        # Columns in chunks: AIJ × dense product (one MatMatMult per chunk, local rows only).
        for a in range(0, c, _MAT_COLS):
            b = min(c, a + _MAT_COLS)
            xa = np.asfortranarray(X[:, a:b])
            B = PETSc.Mat().createDense(((n, N), (PETSc.DECIDE, b - a)), array=xa, comm=self.mat.getComm())
            C = self.mat.matMult(B)
            out[:, a:b] = C.getDenseArray()
            B.destroy()
            C.destroy()
        return out

    def gram_local(self, X, Y=None):
        """Local contribution ``Xᵀ M Y`` (``Y`` defaults to ``X``), ``(cx, cy)``; sum over ranks outside.

        Euclid uses ``X.T @ X`` (BLAS ``dsyrk``); weights scale row chunks by ``√w`` (bounded extra memory);
        a Mat applies ``M`` to column chunks of ``Y`` then ``Xᵀ(MY)`` (``dgemm``). Collective for a Mat.
        """
        sym = Y is None
        Y = X if sym else Y
        if self.kind == "euclid":
            return X.T @ Y
        if self.kind == "weights":
            n = X.shape[0]
            G = np.zeros((X.shape[1], Y.shape[1]))
            rows = max(256, _ROW_CHUNK_BYTES // (8 * max(1, X.shape[1] + (0 if sym else Y.shape[1]))))
            for a in range(0, n, rows):
                s = self.sqrt_weights[a:a + rows, None]
                xa = s * X[a:a + rows]
                G += xa.T @ xa if sym else xa.T @ (s * Y[a:a + rows])
            return G
        G = np.empty((X.shape[1], Y.shape[1]))
        for a in range(0, Y.shape[1], _MAT_COLS):
            b = min(Y.shape[1], a + _MAT_COLS)
            G[:, a:b] = X.T @ self._mat_apply(Y[:, a:b])
        if sym:
            G = 0.5 * (G + G.T)
        return G

    def gram(self, X, Y=None):
        """Global ``Xᵀ M Y`` on every rank (one Allreduce; result bitwise identical on all ranks)."""
        G = np.ascontiguousarray(self.gram_local(X, Y))
        return allreduce_sum(G, self.comm)

    def norms2(self, X):
        """Global squared M-norms of the columns of ``X`` (``(c,)``), collective."""
        if self.kind == "euclid":
            loc = np.einsum("ij,ij->j", X, X)
        else:
            loc = np.einsum("ij,ij->j", X, self.apply(X))
        return allreduce_sum(np.ascontiguousarray(loc), self.comm)


def inner_product(dm, kind, location="node", n_components=3, young=None, poisson=0.3):
    """A mesh inner product for the POD of a field on ``dm``: ``(spec, redistributor)``. Collective.

    dm : :class:`~dromo.mesh.DistributedMesh`; kind : "euclid" | "l2" | "energy"
    location : "node" (rows: owned nodes × ``n_components``, PETSc order) | "ip" (rows: local integration
        points × ``n_components``)
    young, poisson : isotropic elasticity of the "energy" product (Young's modulus in the units of the
        stresses)

    * "euclid": ``None`` (the identity);
    * "l2": nodal 3-component fields — the assembled consistent mass matrix (density 1); integration-point
      fields — the quadrature weights ``w_q detJ`` repeated per component;
    * "energy": nodal 3-component fields only — the linear-elastic stiffness matrix (modes K-orthonormal).

    ``spec`` is what :func:`pod` / :class:`InnerProduct` take as ``inner``; ``redistributor``
    (``dm.redistributor(location)``) gives the row layout it refers to (a field source read through it has
    matching rows). Wrong combinations raise :class:`~dromo.errors.InputError` on every rank.
    """
    from ..parallel.errors import collective
    with collective(dm.comm):
        if kind not in ("euclid", "l2", "energy"):
            raise InputError(f"unknown inner product {kind!r} (euclid, l2, energy)")
        if location not in ("node", "ip"):
            raise InputError(f"inner product {kind}: a {location} field has no mesh inner product (only node "
                             "and ip fields)")
        if kind != "euclid" and location == "node" and n_components != 3:
            raise InputError(f"inner product {kind}: the nodal field has {n_components} components; the "
                             "mass/stiffness products are defined on 3-component fields")
        if kind == "energy" and location == "ip":
            raise InputError("inner product energy is defined for nodal displacement fields only")
        if kind == "energy" and young is None:
            raise InputError("inner product energy needs Young's modulus (and Poisson's ratio) for the "
                             "stiffness")
    red = dm.redistributor(location)
    if kind == "euclid":
        return None, red
    if location == "ip":
        from ..fem.operators import ip_weights
        return np.repeat(ip_weights(dm), n_components), red
    from ..fem.operators import mass_matrix, stiffness_matrix
    if kind == "l2":
        return mass_matrix(dm), red
    from ..materials.tensors import isotropic_stiffness
    return stiffness_matrix(dm, isotropic_stiffness(young, poisson)), red


# --------------------------------------------------------------------------------------------------
# basis
# --------------------------------------------------------------------------------------------------
