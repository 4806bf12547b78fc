"""The quantities of interest of ``dromo uq`` over the whole part, from reduced results and from HF results.

Of a reduced result (per step the Gappy-POD coefficients of p and S, the reduced coordinates γ and the lifting
values a), :func:`rom_qois` computes, over the mesh rows each rank owns (never a full field on one rank):

* ``p_max`` — max over the part and time of the cumulated plastic strain p (its Gappy-POD);
* ``svm_max`` — max over the part and time of the von Mises stress (Gappy-POD of S) [MPa];
* ``u_<SET>`` — for each monitored node set, max over time of the norm of the set's mean displacement [L].

The maxima are **certified**, not sampled (:class:`FieldMax`): a field whose value at item x is ``U_x c(t)``
(``U_x`` the ``nc × k`` rows of its basis at x, c the coefficients of step t) is bounded at every item and step
by its first ``m`` modes plus a tail term, ``‖U_x c‖ ≤ ‖U_x^{≤m} c^{≤m}‖ + ‖U_x^{>m}‖_F ‖c^{>m}‖`` (the same
with signed values for a scalar); the exact value is computed where the bound is the largest, then at every
(item, step) whose bound exceeds it. The result equals the maximum of the whole reconstructed field (to
round-off) at ``m/k`` of its cost plus the candidates (on the small blade's dictionary, 16 of 195 stress modes:
under 0.1 % of the (item, step) pairs are candidates). A monitored set's mean displacement is a ``3 × k``
sum of mode rows, made once.

Of HF result archives, :func:`hf_qois` computes the same QoIs from the stored fields, and
:func:`p_field_errors` the error of a reduced p field against HF (verification and benchmark).
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel.errors import collective


class FieldMax:
    """The maximum over this rank's items and a run's steps of a field's pointwise measure (module docstring).

    ``rows`` ``(n_items, nc, k)``: the basis rows of the field at this rank's items (any linear map applied
    already, e.g. √(3/2) × the deviatoric projector for the von Mises stress); the measure is the value itself
    when ``nc == 1`` (signed: the maximum, not the largest magnitude), the Euclidean norm of the ``nc`` values
    otherwise. ``head``: the modes of the bound (``m``, at most k). Local (no communication)."""

    def __init__(self, rows, head=16):
        self.rows = np.ascontiguousarray(rows, dtype=float)
        n, self.nc, self.k = self.rows.shape
        self.m = m = min(int(head), self.k)
        self.head = np.ascontiguousarray(self.rows[:, :, :m]).reshape(n * self.nc, m)
        self.tail = np.sqrt(np.einsum("nij,nij->n", self.rows[:, :, m:], self.rows[:, :, m:]))   # (n,)
        self.candidates = 0                                           # (item, step) pairs computed exactly, so far

    def _measure(self, v):
        return v[..., 0] if self.nc == 1 else np.sqrt(np.einsum("...i,...i->...", v, v))

    def _exact(self, items, C, steps, chunk=4096):
        out = np.empty(items.size)
        for a in range(0, items.size, chunk):
            sl = slice(a, a + chunk)
            out[sl] = self._measure(np.einsum("pik,kp->pi", self.rows[items[sl]], C[:, steps[sl]]))
        return out

    def max(self, C):
        """The maximum of the measure over the items and the steps of coefficients ``C`` ``(k, s)``
        (``-inf`` without items or steps)."""
        C = np.asarray(C, dtype=float).reshape(self.k, -1)
        n, s = self.rows.shape[0], C.shape[1]
        if n == 0 or s == 0:
            return -np.inf
        hv = self._measure((self.head @ C[:self.m]).reshape(n, self.nc, s).transpose(0, 2, 1))    # (n, s)
        upper = hv + self.tail[:, None] * np.linalg.norm(C[self.m:], axis=0)[None, :]
        j = int(np.argmax(upper))
        best = float(self._exact(np.array([j // s]), C, np.array([j % s]))[0])
        cand = np.flatnonzero(upper.reshape(-1) >= best - 1e-12 * (abs(best) + float(np.abs(hv).max())))
        self.candidates += cand.size
        if cand.size:
            best = max(best, float(self._exact(cand // s, C, cand % s).max()))
        return best


class FieldQoIs:
    """The quantities of interest computed over this rank's mesh rows (module docstring, step 2).

    ``dm`` the DistributedMesh; ``monitors`` node-set names. :meth:`of_fields` takes per-step local
    fields; :meth:`reduce` turns the local partial values into global QoIs. Collective (reduce)."""

    def __init__(self, dm, monitors=()):
        self.dm = dm
        self.monitors = list(monitors)
        self.sets = {s: dm.node_set(s) for s in self.monitors}
        self.counts = {s: dm.comm.allreduce(int(v.size)) for s, v in self.sets.items()}
        for s, c in self.counts.items():
            with collective(dm.comm):
                if c == 0:
                    raise InputError(f"monitored node set {s!r} is empty")

    @property
    def names(self):
        return ["p_max", "svm_max"] + [f"u_{s}" for s in self.monitors]

    def local(self, p, S, u):
        """Local partial values of one draw: ``p (n_ip_local, s)``, ``S (n_ip_local, 6, s)`` (Mandel),
        ``u (n_owned_nodes, 3, s)`` → ``(maxima (2,), set sums (n_sets, 3, s))``."""
        from ..materials.tensors import von_mises
        pm = float(p.max()) if p.size else -np.inf
        if S.size:
            vm = von_mises(np.moveaxis(S, 1, -1).reshape(-1, 6))
            sm = float(vm.max())
        else:
            sm = -np.inf
        sums = np.stack([u[self.sets[s]].sum(axis=0) for s in self.monitors]) if self.monitors else \
            np.zeros((0, 3, u.shape[-1]))
        return np.array([pm, sm]), sums

    def reduce(self, maxima, sums):
        """Global QoIs of many draws: ``maxima (d, 2)``, ``sums (d, n_sets, 3, s)`` → ``{name: (d,)}``."""
        comm = self.dm.comm
        mx = np.empty_like(maxima)
        comm.Allreduce(np.ascontiguousarray(maxima), mx, op=MPI.MAX)
        out = {"p_max": mx[:, 0], "svm_max": mx[:, 1]}
        if self.monitors:
            from ..parallel.collectives import allreduce_sum
            tot = allreduce_sum(np.ascontiguousarray(sums), comm)
            for i, s in enumerate(self.monitors):
                mean = tot[:, i] / self.counts[s]                          # (d, 3, s)
                out[f"u_{s}"] = np.linalg.norm(mean, axis=1).max(axis=-1)
        return out


def rom_qois(fq, ops, records, head=16):
    """QoIs of reduced results ``records`` (dicts of :func:`~dromo.uq.run.solve_draw`, all of one model whose
    distributed operators are ``ops``): ``{name: (len(records),)}``, the maxima certified by
    :class:`FieldMax` (``head`` modes in its bound). Collective."""
    from ..materials.tensors import IDEV
    dm = fq.dm
    n_ip, nn = dm.n_ip_local, dm.n_owned_nodes
    if not records:
        return {n: np.zeros(0) for n in fq.names}
    fields = {}
    if "p" in ops.duals:
        fields["p"] = FieldMax(ops.duals["p"].basis.modes.reshape(n_ip, 1, -1), head)
    if "S" in ops.duals:
        U = ops.duals["S"].basis.modes.reshape(n_ip, 6, -1)
        fields["S"] = FieldMax(np.sqrt(1.5) * np.einsum("ij,njk->nik", IDEV, U), head)   # von Mises = ‖·‖
    modes = ops.modes.reshape(nn, 3, -1)
    lift = ops.liftings.reshape(nn, 3, -1)
    set_rows = [(modes[fq.sets[s]].sum(axis=0), lift[fq.sets[s]].sum(axis=0)) for s in fq.monitors]   # (3, k), (3, n_L)
    maxima, sums = [], []
    for r in records:
        c = r["coeffs"]
        pm = fields["p"].max(c["p"].T) if "p" in c and "p" in fields else (0.0 if n_ip else -np.inf)
        sm = fields["S"].max(c["S"].T) if "S" in c and "S" in fields else -np.inf
        maxima.append([pm, sm])
        sums.append(np.stack([M @ r["gamma"].T + (L @ r["a"].T if L.shape[1] else 0.0) for M, L in set_rows])
                    if set_rows else np.zeros((0, 3, r["gamma"].shape[0])))
    return fq.reduce(np.array(maxima), np.array(sums))


def hf_fields(path, dm):
    """The p, S (at this rank's integration points) and U (owned nodes) of every step of an HF result archive,
    and its times: ``{"p": (n_ip, s), "S": (n_ip · 6, s), "U": (3 n_nodes, s), "time": (s,)}``. Collective."""
    from ..io.archive import Archive
    from ..reduction.sources import read_block
    with Archive.open(path, dm.comm) as ar:
        out = {}
        for f, loc in (("p", "ip"), ("S", "ip"), ("U", "node")):
            src = ar.field_source(f, redistributor=dm.redistributor(loc))
            out[f] = read_block(src, 0, src.n_snapshots)
        out["time"] = np.asarray(ar.field_info("U")["time"], dtype=float)
    return out


def hf_qois(fq, paths):
    """The same QoIs from HF result archives (``dromo solve`` layout): ``{name: (len(paths),)}``. Collective."""
    dm = fq.dm
    maxima, sums = [], []
    for path in paths:
        h = hf_fields(path, dm)
        s = h["U"].shape[1]
        m, sm = fq.local(h["p"].reshape(dm.n_ip_local, s), h["S"].reshape(dm.n_ip_local, 6, s),
                         h["U"].reshape(dm.n_owned_nodes, 3, s))
        maxima.append(m)
        sums.append(sm)
    return fq.reduce(np.array(maxima), np.array(sums))


def p_field_errors(dm, ops, records, paths):
    """Per draw, the error of the reduced p field against HF over the part (as ``dromo compare``):
    ``max_t ‖p_ROM(t) − p_HF(t)‖_w / max_t ‖p_HF(t)‖_w`` (quadrature-weighted L2 norms), ``(len(paths),)``.
    The reduced and HF results must have the same times. Collective."""
    from ..fem.operators import ip_weights
    from ..parallel.collectives import allreduce_sum
    w = ip_weights(dm)
    out = []
    for r, path in zip(records, paths):
        h = hf_fields(path, dm)
        with collective(dm.comm):
            if h["time"].shape != r["times"].shape or np.abs(h["time"] - r["times"]).max() > 1e-9:
                raise InputError(f"{path}: its times differ from the reduced run's (fixed time steps needed)")
        p = ops.duals["p"].basis.modes @ r["coeffs"]["p"].T
        e = allreduce_sum(np.ascontiguousarray([(w[:, None] * (p - h["p"]) ** 2).sum(axis=0),
                                                (w[:, None] * h["p"] ** 2).sum(axis=0)]), dm.comm)
        ref = np.sqrt(e[1]).max()
        out.append(float(np.sqrt(e[0]).max() / ref) if ref > 0 else 0.0)
    return np.array(out)


