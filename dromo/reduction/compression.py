"""Compression of an ECM integrand: a ``w``-orthonormal basis of its dominant column space. Collective.

The integrand ``G`` ``(n_local, m)`` is row-distributed over the integration points (one scalar function per
column, e.g. ``ε(ψ_j) : σ_i``, :func:`dromo.fem.points.force_integrand`), with the quadrature weights ``w``.
:func:`compress_integrand` returns an :class:`IntegrandBasis` ``J`` with ``Jᵀ W J = I``:

* ``"pod"``: POD of the integrand in the ``w``-weighted inner product (TSQR path of
  :func:`dromo.reduction.pod`);
* ``"randomized"`` (wide or streamed integrands): a blocked adaptive randomized range finder — BLAS-3
  sketch ``G Ω`` and projection ``Qᵀ W G``, the sketch rank grown block by block from the spectrum seen so
  far, never restarted — with an *exact* discarded-energy check;

energy tolerance ``tol``; then the constant function is added (made ``w``-orthogonal to the basis), so the
volume is integrated to the ECM tolerance. All decisions use replicated (reduced) quantities.
"""
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.collectives import allreduce_sum

__all__ = ["IntegrandBasis", "compress_integrand"]

_log = get_logger("dromo.reduction.compression")
_SKETCH32_TOL = 1e-5  # "auto" sketch in single precision for compression tolerances at least this loose
_SKETCH32_SIZE = 1 << 26  # ... and integrands of at least this many entries (in all)
_CHUNK_BYTES = 8 << 20  # row chunks of an in-memory integrand (cache-resident per rank)


@dataclass
class IntegrandBasis:
    """A ``w``-orthonormal basis of the integrand space (rows = local points), see :func:`compress_integrand`.

    J : (n_local, p); singular_values : of the compressed integrand (before the constant is added);
    n_columns : columns of the integrand; energy : fraction of the integrand energy kept;
    method : "pod" | "randomized" | "none"; has_constant : the constant function is in span(J).
    """
    J: np.ndarray
    singular_values: np.ndarray
    n_columns: int
    energy: float
    method: str
    has_constant: bool

    @property
    def n_basis(self):
        return self.J.shape[1]


# --------------------------------------------------------------------------------------------------
# weighted Gram and orthonormalization
# --------------------------------------------------------------------------------------------------
def _gram(X, w, comm):
    """Global ``Xᵀ diag(w) X`` (replicated)."""
    Xw = X * np.sqrt(w)[:, None]
    return allreduce_sum(np.ascontiguousarray(Xw.T @ Xw), comm)


def _w_orthonormalize(X, w, comm, rel=None):
    """``w``-orthonormal basis of span(X) by Cholesky-QR2 style eigh of the Gram (twice).

    Directions with eigenvalues ``≤ rel · λ_max`` (numerically null) are dropped. Returns ``(n_local, r)``.
    """
    rel = (X.shape[1] * 1e2 * np.finfo(float).eps) if rel is None else rel
    for it in range(2):
        if X.shape[1] == 0:
            return X
        C = _gram(X, w, comm)
        lam, V = np.linalg.eigh(0.5 * (C + C.T))
        lam, V = lam[::-1], V[:, ::-1]
        if not lam[0] > 0:
            return X[:, :0]
        keep = lam > rel * lam[0]
        X = X @ (V[:, keep] / np.sqrt(lam[keep]))
    return X


# --------------------------------------------------------------------------------------------------
# compression
# --------------------------------------------------------------------------------------------------
def _is_source(G):
    return hasattr(G, "read") and hasattr(G, "n_snapshots") and not isinstance(G, np.ndarray)


def compress_integrand(G, weights, comm=None, tol=1e-4, max_rank=None, constant=True, method="auto",
                       block=256, seed=20170701, sketch="auto"):
    """``w``-orthonormal basis of the integrand's dominant column space (plus the constant). Collective.

    G : ndarray (n_local, m) or a source with ``read(a, b) -> (n_local, b-a)`` and ``n_snapshots`` (streamed)
    weights : (n_local,) quadrature weights
    tol : relative energy tolerance of the truncation (``Σ discarded σ² ≤ tol² Σ σ²``); ``None``: no
        compression (the columns themselves, ``w``-orthonormalized)
    method : "pod" (:func:`dromo.reduction.pod`, accurate TSQR path), "randomized" (blocked adaptive range
        finder: per block one pass for ``Y = G Ω`` and one for ``B = Qᵀ W G``; blocks are added, sized from
        the spectrum seen so far, until the *exact* discarded energy ``‖G‖² − Σ_k s_k(B)²`` meets ``tol``),
        "auto" (randomized for a source or more than 512 columns)
    constant : add the constant function (volume integrated to the ECM tolerance)
    block : columns per read of a streamed source (an in-memory ``G`` is read by cache-sized row chunks)
    sketch : precision of the randomized sketch ``G Ω`` (only the range finder: ``B``, the energies and the
        basis stay in double precision, so the energy check is exact either way): "double", "single" (half
        the time of that product; the span is then accurate to ~1e-6 relative, so the trailing modes — not
        the captured energy — differ from the double-precision ones at that level), "auto" (single when
        ``tol ≥ 1e-5`` and the integrand has at least 2^26 entries in all, i.e. when the product matters)

    All-zero integrands give an empty basis (plus the constant when ``constant``).
    """
    comm = comm or MPI.COMM_WORLD
    w = np.asarray(weights, dtype=np.float64)
    src = _is_source(G)
    m = int(G.n_snapshots) if src else int(np.shape(G)[1])
    n = w.size
    if not src and np.shape(G)[0] != n:
        raise InputError(f"integrand has {np.shape(G)[0]} local rows, weights {n} (rank {comm.rank})")
    if method == "auto":
        method = "randomized" if (src or m > 512) and tol is not None else "pod"
    if tol is None:
        X = np.asarray(G.read(0, m) if src else G, dtype=np.float64)
        norms = np.sqrt(np.maximum(np.diag(_gram(X, w, comm)), 0))
        sv, energy, J, used = norms, 1.0, _w_orthonormalize(X, w, comm), "none"
    elif method == "pod":
        X = np.asarray(G.read(0, m) if src else G, dtype=np.float64)
        total = float(allreduce_sum(np.array([np.einsum("i,ij,ij->", w, X, X)]), comm)[0])
        if total > 0:
            from .pod import pod
            # TSQR: modes accurate to eps·σ₁/σ near the cut (the Gram path's eps·σ₁²/σ² would make the
            # selection depend on the rank count through round-off)
            b = pod(X, comm=comm, tol=tol, max_modes=max_rank, inner=w, inner_name="quadrature", method="svd")
            J, sv, energy = b.modes, b.singular_values, b.energy
        else:
            J, sv, energy = np.zeros((n, 0)), np.zeros(0), 1.0
        used = "pod"
    elif method == "randomized":
        if sketch not in ("auto", "single", "double"):
            raise InputError(f"unknown sketch precision {sketch!r} (auto, single, double)")
        if sketch == "auto":
            n_glob = n if comm.size == 1 else comm.allreduce(n)
            single = tol >= _SKETCH32_TOL and n_glob * m >= _SKETCH32_SIZE
        else:
            single = sketch == "single"
        lead = 1 if constant else 0
        J, sv, energy = _randomized(G, src, m, w, comm, tol, max_rank, block, seed, single, lead)
        used = "randomized"
    else:
        raise InputError(f"unknown integrand compression method {method!r} (pod, randomized, auto)")
    has_c = False
    if used == "randomized" and constant:
        pass                                           # J has its free leading column
    elif constant:
        Jl = np.empty((n, J.shape[1] + 1))
        Jl[:, 1:] = J
        J = Jl
    if constant:
        vol = float(allreduce_sum(np.array([w.sum()]), comm)[0])
        if vol > 0:
            J = _add_constant(J, w, vol, comm)
            has_c = True
        else:
            J = J[:, 1:]
    _log.debug("integrand compressed (%s): %d columns -> %d basis functions (energy %.12g)", used, m,
               J.shape[1], energy)
    return IntegrandBasis(np.ascontiguousarray(J), np.asarray(sv), m, float(energy), used, has_c)


def row_chunk(m):
    """Rows per chunk of a float64 array of ``m`` columns, about ``_CHUNK_BYTES`` (cache-resident), in [16, 8192]."""
    return int(max(16, min(8192, _CHUNK_BYTES // (8 * max(m, 1)))))


def _sketch(G, src, m, Om, w, block, want_total, f32):
    """One pass over the integrand: ``Y = G Ω`` (float64 result) and, if asked, the local ``w``-energy.

    An in-memory ``G`` is read by cache-sized row chunks (each read once); with ``f32`` the product is
    formed in single precision on power-of-two scaled chunks (the range finder only needs the span of
    ``Y`` to ~1e-6; the energies and projections stay in double precision).
    """
    n, k = w.size, Om.shape[1]
    tot = 0.0
    if src:
        Y = np.zeros((n, k))
        for a in range(0, m, block):
            b = min(m, a + block)
            Gb = np.asarray(G.read(a, b), dtype=np.float64)
            Y += Gb @ Om[a:b]
            if want_total:
                tot += float(np.einsum("ij,ij->i", Gb, Gb) @ w)
        return Y, tot
    Y = np.empty((n, k))
    ch = row_chunk(m)
    Om32 = Om.astype(np.float32) if f32 else None
    buf = np.empty((min(ch, n), m), np.float32) if f32 else None
    ybuf = np.empty((min(ch, n), k), np.float32) if f32 else None
    for r0 in range(0, n, ch):
        r1 = min(n, r0 + ch)
        Gc = np.asarray(G[r0:r1], dtype=np.float64)
        if want_total:
            tot += float(np.einsum("ij,ij->i", Gc, Gc) @ w[r0:r1])
        if f32:
            g, y = buf[:r1 - r0], ybuf[:r1 - r0]
            np.copyto(g, Gc, casting="unsafe")
            amax = max(float(g.max()), -float(g.min())) if g.size else 0.0
            if 1e-30 < amax < 1e30:
                np.matmul(g, Om32, out=y)
                Y[r0:r1] = y
                continue
            amax = max(float(Gc.max()), -float(Gc.min()))
            if amax > 0 and np.isfinite(amax):            # out of the comfortable single range: scale
                e = int(np.frexp(amax)[1])                 # by a power of two (exact)
                np.multiply(Gc, np.ldexp(1.0, -e), out=g, casting="unsafe")
                np.matmul(g, Om32, out=y)
                np.multiply(y, np.ldexp(1.0, e), out=Y[r0:r1], dtype=np.float64)
                continue
        np.matmul(Gc, Om, out=Y[r0:r1])
    return Y, tot


def _slices(n, width):
    """Row slices of about ``_CHUNK_BYTES`` for arrays of ``width`` float64 columns (the chunked loops below
    avoid n-row temporaries: fresh large allocations cost page faults comparable to the flops here)."""
    ch = row_chunk(width)
    return [slice(a, min(n, a + ch)) for a in range(0, n, ch)]


def _project(G, src, m, Qn, w, block):
    """Local ``Qnᵀ W G`` ``(k, m)`` (one pass over the integrand)."""
    n, k = Qn.shape
    if src:
        Qw = Qn * w[:, None]
        B = np.empty((k, m))
        for a in range(0, m, block):
            b = min(m, a + block)
            B[:, a:b] = Qw.T @ np.asarray(G.read(a, b), dtype=np.float64)
        return B
    B = np.zeros((k, m))
    for c in _slices(n, max(k, 64)):                   # large chunks: few updates of B
        B += (Qn[c] * w[c, None]).T @ np.asarray(G[c], dtype=np.float64)
    return B


def _orth_block(Y, Qs, w, comm, floor):
    """``w``-orthonormal basis of the part of span(Y) ``w``-orthogonal to the (``w``-orthonormal) blocks
    ``Qs`` (a list).

    (Block Gram–Schmidt then Cholesky-QR via eigh of the Gram) twice; directions with energy ``≤ floor``
    after the first projection, or numerically null relative to the block, are dropped. ``Y`` is
    overwritten (and returned when no direction is dropped).
    """
    n = w.size
    rel = Y.shape[1] * 1e2 * np.finfo(float).eps
    sw = np.sqrt(w)
    for it in range(2):
        k = Y.shape[1]
        if k == 0:
            return Y
        sl = _slices(n, max(k, max((q.shape[1] for q in Qs), default=0)))
        if Qs:
            H = [np.zeros((q.shape[1], k)) for q in Qs]
            for c in sl:
                for q, h in zip(Qs, H):
                    h += (q[c] * w[c, None]).T @ Y[c]
            H = np.split(allreduce_sum(np.ascontiguousarray(np.concatenate(H, axis=0)), comm),
                         np.cumsum([q.shape[1] for q in Qs])[:-1], axis=0)
            for c in sl:
                for q, h in zip(Qs, H):
                    Y[c] -= q[c] @ h
        C = np.zeros((k, k))
        for c in sl:
            Ys = Y[c] * sw[c, None]
            C += Ys.T @ Ys
        C = allreduce_sum(C, comm)
        lam, V = np.linalg.eigh(0.5 * (C + C.T))
        lam, V = lam[::-1], V[:, ::-1]
        keep = (lam > rel * lam[0]) & (lam > (floor if it == 0 else 0.0))
        if not keep.any():
            return Y[:, :0]
        M = V[:, keep] / np.sqrt(lam[keep])
        out = Y if keep.all() else np.empty((n, int(keep.sum())))
        for c in sl:
            out[c] = Y[c] @ M
        Y = out
    return Y


def _add_constant(J, w, vol, comm):
    """``[c, J]`` ``w``-orthonormal with ``c`` the unit constant made ``w``-orthogonal to the (orthonormal)
    ``J = Jl[:, 1:]`` (``Jl``: the basis with a free leading column, filled here); the constant is not
    added when it already lies in span(J) to round-off (the span, the only thing the greedy depends on, is
    the same as that of an orthonormalization of ``[1, J]``). Returns ``Jl`` or ``Jl[:, 1:]``."""
    n = w.size
    if J.shape[1] == 1:
        return _w_orthonormalize(np.full((n, 1), 1.0 / np.sqrt(vol)), w, comm)
    sl = _slices(n, J.shape[1])
    c = np.full(n, 1.0 / np.sqrt(vol))               # ‖c‖_w = 1
    for it in range(2):
        h = np.zeros(J.shape[1] - 1)
        for s_ in sl:
            h += J[s_, 1:].T @ (w[s_] * c[s_])
        h = allreduce_sum(h, comm)
        for s_ in sl:
            c[s_] -= J[s_, 1:] @ h
    nc2 = float(allreduce_sum(np.array([np.dot(w * c, c)]), comm)[0])
    if not nc2 > J.shape[1] * 1e2 * np.finfo(float).eps:
        return J[:, 1:]
    J[:, 0] = c / np.sqrt(nc2)
    return J


def _randomized(G, src, m, w, comm, tol, max_rank, block, seed, f32, lead=0):
    """Blocked adaptive randomized range finder (QB) with the exact discarded energy after each block.

    Block ``i``: sketch ``Y_i = G Ω_i`` (one pass), ``w``-orthonormalize against the previous blocks,
    ``B_i = Q_iᵀ W G`` (one pass); the exact discarded energy of the best rank-``k`` truncation of
    ``Q B`` is ``‖G‖²_W − Σ_{j≤k} s_j(B)²``. The next block size is predicted from the decay of the
    singular values of ``B`` and that energy (nothing is recomputed: ``Q`` and ``B`` only grow), so the
    sketch rank ends a little above the needed one, usually in two or three blocks. All decisions use
    replicated (reduced) quantities, identical on every rank. Returns ``J`` with ``lead`` free leading
    columns (room for the constant), the singular values of ``B`` and the captured energy fraction.
    """
    n = w.size
    rng = np.random.default_rng(seed)
    cap = m if max_rank is None else min(m, max(64, int(max_rank) + 16))
    k_new = min(cap, 64)
    target = tol * tol
    Qs = []                                            # w-orthonormal blocks of Q (never concatenated)
    B = np.zeros((0, m))
    total = None
    n_om = 0                                           # columns of Ω used so far
    while True:
        Om = rng.standard_normal((m, k_new))
        n_om += k_new
        Y, tot = _sketch(G, src, m, Om, w, block, total is None, f32)
        if total is None:
            total = float(allreduce_sum(np.array([tot]), comm)[0])
            if not total > 0:
                return np.zeros((n, lead)), np.zeros(0), 1.0
        Qn = _orth_block(Y, Qs, w, comm, floor=(1e-3 * tol) ** 2 * total)
        del Y
        added = Qn.shape[1]
        if added:
            Bn = allreduce_sum(np.ascontiguousarray(_project(G, src, m, Qn, w, block)), comm)
            Qs.append(Qn)
            B = np.concatenate([B, Bn], axis=0)
            del Bn
        del Qn
        l = B.shape[0]
        if l == 0:
            return np.zeros((n, lead)), np.zeros(0), 0.0
        U, s, _ = np.linalg.svd(B, full_matrices=False)
        captured = np.cumsum(s ** 2)
        disc = total - captured                         # exact discarded energy for k = 1..l
        ok = np.flatnonzero(disc <= target * total)
        margin = max(8, l // 16)                       # oversampling kept beyond the truncation rank
        exhausted = added < k_new or n_om >= cap       # range (or allowed rank) exhausted
        if (ok.size and int(ok[0]) + 1 + margin <= l) or exhausted:
            k = int(ok[0]) + 1 if ok.size else s.size
            if max_rank is not None:
                k = min(k, int(max_rank))
            k = max(1, min(k, int(np.count_nonzero(s > s[0] * 1e-14))))
            J = np.empty((n, lead + k))
            Us = np.split(U[:, :k], np.cumsum([q.shape[1] for q in Qs])[:-1], axis=0)
            for c in _slices(n, lead + k + max(q.shape[1] for q in Qs)):
                J[c, lead:] = sum(q[c] @ u for q, u in zip(Qs, Us))
            _log.debug("randomized integrand compression: sketch rank %d, %d kept", l, k)
            return J, s, float(captured[k - 1] / total)
        # size of the next block: from the decay rate of s near the end and the exact remaining energy
        i0, i1 = l // 2, (7 * l) // 8 - 1
        if ok.size or l < 8 or not s[i1] > 0:
            add = margin if ok.size else l
        else:
            rho = float(np.log(s[i0] / s[i1])) / (i1 - i0)
            if rho > 1e-3:
                # the decay usually slows down further on: a quarter more than the extrapolation, plus the
                # oversampling (an overshoot costs its flops; an undershoot two more passes over G)
                need = np.log(disc[-1] / (0.5 * target * total)) / (2 * rho)
                add = int(np.ceil(1.25 * need)) + max(8, l // 10)
            else:
                add = l
            add = min(add, 2 * l)
        k_new = min(cap - n_om, 16 * -(-max(add, 16) // 16))
        _log.debug("randomized integrand compression: rank %d not enough (discarded %.3e), %d more", l,
                   disc[-1] / total, k_new)
