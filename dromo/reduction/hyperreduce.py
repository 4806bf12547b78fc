"""The offline hyper-reduction step: snapshots → reduced integration points and dual operators.

Three steps, each usable on its own (collective, any rank count):

1. **read** (:func:`read_training`): the snapshots of one or several archives of the same mesh, archive
   after archive, only the selected steps: the displacement ``U`` on the owned nodes at once (or not at all,
   ``read_u=False``: archives that feed the dual bases only); the stress ``S`` and each dual field on the
   local integration points later, one field at a time (:meth:`Training.load`), so they are never all in
   memory together;
2. **reduce** (:func:`reduce`): given the displacement modes,

   * mode strains ``ε(ψ_j)`` at the integration points (:func:`~dromo.fem.points.mode_strains`);
   * the stress snapshots ``S`` (ip, 6 Mandel) — optionally compressed first by a weighted POD
     (``stress_tol``: the integrand uses the stress modes scaled by their singular values, which spans
     the same functions with far fewer columns);
   * the integrand ``ε(ψ_j) : σ_i`` (:func:`~dromo.fem.points.force_integrand`), its ``√w``-weighted
     compression, the constant, the ECM (global or partitioned variant) — or, with ``full=True``, every
     integration point with its quadrature weight (a Galerkin ROM without hyper-reduction, for checks);
   * every dual field (default ``S`` and ``p`` when stored): weighted POD (``dual_tol``;
     :func:`dual_pod`, or bases computed beforehand, e.g. once for all the local ROMs of a dictionary),
     QDEIM points added to the ECM set with zero weight, Gappy-POD on all the reduced points (conditioning
     and Lebesgue constant reported);
3. **write**: the reduced model that holds them (:class:`~dromo.rom.model.ReducedModel`, one floor up:
   :func:`dromo.rom.offline.hyperreduce` for ``dromo hyperreduce``, :func:`dromo.rom.offline.build` for
   ``dromo offline``; both call :func:`read_training` and :func:`reduce`).

What is measured: the ECM error is the relative error of the reduced integration of the internal-force
integrand over the training snapshots, ``‖b − J_Sᵀ ω‖ / ‖b‖`` (b: the exact integrals of the compressed
integrand basis).
"""
import weakref
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger
from ..parallel.errors import collective

__all__ = ["reduce", "reduced_rule", "dual_pod", "dual_operators", "read_training", "point_arrays",
           "quadrature_summary", "Hyperreduction", "DualOperator", "Training"]

_log = get_logger("dromo.reduction.hyperreduce")


@dataclass
class DualOperator:
    """A dual field's POD basis (local ip rows), its QDEIM points and its Gappy-POD on all the points."""
    name: str
    basis: object            # PODBasis, rows = local ips × nc (rank order)
    selection: object        # PointSelection
    gappy: object            # GappyPOD
    n_components: int
    components: list


@dataclass
class Hyperreduction:
    """Result of :func:`reduce`: the reduced rule on all points (ECM points with their weights, dual points
    with zero weight), the ECM point ids, the integrand basis size, the mode strains at every local point
    ``(n_ip_local, 6, k)`` and the dual operators."""
    quadrature: object       # ReducedQuadrature
    ecm_ids: np.ndarray
    n_integrand_basis: int
    mode_strains: np.ndarray
    duals: dict


@dataclass
class Training:
    """Snapshots of one or several archives (:func:`read_training`): columns = the selected steps of every
    archive in turn.

    U (3 n_owned_nodes, m) owned nodal rows, read at once (None when read with ``read_u=False``); times (m,)
    and source (m,) archive index of every snapshot; mesh (the DistributedMesh, as dm: its fingerprint and
    stripes serve the writers), dm. The integration-point fields are read only when asked, one at a time
    (:meth:`load`), so the stress and the dual fields are never all in memory together.
    stress_field, dual_fields {name: (nc, components)}, archives, selections (per archive, step indices).
    """
    U: np.ndarray
    times: np.ndarray
    source: np.ndarray
    mesh: object
    dm: object
    stress_field: str
    dual_fields: dict
    archives: list
    selections: list

    def load(self, name):
        """This rank's rows of the integration-point field ``name`` over every snapshot: (n_ip_local · nc, m).
        Reads archive after archive, only the selected steps. Collective."""
        from ..io.archive import Archive
        from .sources import read_block
        blocks = []
        for path, sel in zip(self.archives, self.selections):
            with Archive.open(path, self.dm.comm) as ar:
                src = ar.field_source(name, redistributor=self.dm.redistributor("ip"))
                lo, hi = (int(sel.min()), int(sel.max()) + 1) if sel.size else (0, 0)
                blocks.append(read_block(src, lo, hi)[:, sel - lo])
        return np.concatenate(blocks, axis=1)

    def stress(self):
        """Stress snapshots (n_ip_local, 6, m)."""
        return self.load(self.stress_field).reshape(self.dm.n_ip_local, 6, -1)

    def duals(self):
        """{name: (loader () -> (n_ip_local · nc, m), nc, components)} for :func:`reduce`."""
        return {f: ((lambda f=f: self.load(f)), nc, comps) for f, (nc, comps) in self.dual_fields.items()}


def read_training(archives, comm=None, dm=None, u_field="U", stress_field="S", dual_fields=None, steps=None,
                  read_u=True):
    """Read the snapshots of one or several archives of the same mesh (module docstring, step 1).

    ``archives``: a path or a list of paths; ``steps``: None (all), one index array for every archive, or
    a list with one entry (None or an index array) per archive. ``dm``: an existing DistributedMesh of the
    same mesh (built from the first archive otherwise). ``read_u``: False leaves ``U`` unread (``None``;
    its step count and times still select the steps): the archives then serve only the integration-point
    fields (:meth:`Training.load`). Archives whose mesh differs from the first raise :class:`InputError`
    naming them.
    """
    from ..io.archive import Archive
    from ..mesh.distributed import DistributedMesh
    from .sources import read_block
    comm = comm or MPI.COMM_WORLD
    archives = [archives] if isinstance(archives, (str, bytes)) or hasattr(archives, "__fspath__") else \
        list(archives)
    if not archives:
        raise InputError("hyper-reduction: no snapshot archive given")
    per_archive = isinstance(steps, (list, tuple)) and len(steps) == len(archives) and \
        all(s is None or np.ndim(s) == 1 for s in steps)
    steps = list(steps) if per_archive else [steps] * len(archives)
    U, times, source, sels = [], [], [], []
    duals = {}
    fp = None
    for a, path in enumerate(archives):
        with Archive.open(path, comm) as ar:
            if fp is None:
                if dm is None:
                    dm = DistributedMesh(ar.read_mesh_stripes(), comm)
                    fp = dm.fingerprint()
                else:
                    fp = dm.fingerprint()
                    if ar.mesh_fingerprint() != fp:
                        raise InputError(f"{path}: its mesh differs from the mesh of the training cases")
            elif ar.mesh_fingerprint() != fp:
                raise InputError(f"{path}: its mesh differs from the mesh of {archives[0]} (all snapshot archives "
                                 f"must share one mesh)")
            fields = ar.fields()
            for f in (u_field, stress_field):
                if f not in fields:
                    raise InputError(f"{path}: no field {f!r} (fields: {', '.join(fields) or 'none'})")
            info = ar.field_info(u_field)
            sel = np.arange(info["n_steps"]) if steps[a] is None else np.asarray(steps[a], dtype=np.int64)
            with collective(comm):
                if sel.size and (sel.min() < 0 or sel.max() >= info["n_steps"]):
                    raise InputError(f"{path}: field {u_field} has {info['n_steps']} steps, asked for {sel.tolist()}")
            if read_u:
                usrc = ar.field_source(u_field, redistributor=dm.redistributor("node"))
                lo, hi = (int(sel.min()), int(sel.max()) + 1) if sel.size else (0, 0)
                U.append(read_block(usrc, lo, hi)[:, sel - lo])
            times.append(np.asarray(info["time"], dtype=float)[sel])
            source.append(np.full(sel.size, a))
            sels.append(sel)
            if dual_fields is None:
                dual_fields = [f for f in (stress_field, "p") if f in fields]
            for f in dual_fields:
                if f not in fields:
                    raise InputError(f"{path}: no dual field {f!r} (fields: {', '.join(fields)})")
                finfo = ar.field_info(f)
                if finfo["location"] != "ip":
                    raise InputError(f"{path}: dual field {f!r} is at {finfo['location']}, not at integration "
                                     f"points")
                duals.setdefault(f, (finfo["n_components"], list(finfo["components"])))
    return Training(np.concatenate(U, axis=1) if read_u else None, np.concatenate(times), np.concatenate(source),
                    dm, dm, stress_field, duals, list(archives), sels)


def reduce(dm, u_modes, stress, duals, comm=None, tol=1e-4, compress_tol="same", variant="global",
           max_points=None, subdomains_per_rank=1, stress_tol=None, dual_tol=1e-5, dual_max_modes=None,
           full=False, dual_bases=None):
    """Reduced integration and dual operators (module docstring, step 2). Collective.

    u_modes : (3 n_owned_nodes, k) displacement modes (owned rows); stress : (n_ip_local, 6, m) stress
    snapshots, or a function returning them (read when needed, released after the ECM); duals : {F: (X
    (n_ip_local · nc, m) or a function returning it, nc, components)}, read one at a time by
    :func:`dual_pod` (``dual_tol``, ``dual_max_modes``). dual_bases : the dual bases already computed, of
    all the dual fields or some ({F: (PODBasis, nc, components)}, as :func:`dual_pod` returns them): used as
    they are, only the other fields of ``duals`` are read (``duals`` may be None when every field is given);
    the QDEIM points and the Gappy-POD are still this rule's.
    Returns a :class:`Hyperreduction`.
    """
    from ..fem.operators import ip_weights
    from ..fem.points import mode_strains
    from .pod import pod
    comm = comm or MPI.COMM_WORLD
    w = ip_weights(dm)
    E = mode_strains(dm, u_modes)                                    # (n_ip_local, 6, k)
    stress = stress() if callable(stress) else stress
    m = stress.shape[2]
    Sx = None
    if not full:
        if stress_tol is not None:
            sb = pod(stress.reshape(dm.n_ip_local * 6, -1), comm=comm, tol=stress_tol, inner=np.repeat(w, 6),
                     inner_name="quadrature", method="svd")
            Sx = (sb.modes * sb.singular_values[None, :sb.n_kept]).reshape(dm.n_ip_local, 6, -1)
        else:
            Sx = stress
    del stress
    rq, n_basis = reduced_rule(dm, E, Sx, comm, tol=tol, compress_tol=compress_tol, variant=variant,
                               max_points=max_points, subdomains_per_rank=subdomains_per_rank, full=full)
    del Sx
    ecm_ids = rq.ids.copy()
    _log.info("hyper-reduction: %d displacement modes, %d snapshots, %d integration points -> %d %s points",
              E.shape[2], m, dm.n_ip_global, ecm_ids.size, "(all)" if full else "ECM")
    given = dual_bases or {}
    rest = {f: d for f, d in (duals or {}).items() if f not in given}
    computed = dual_pod(dm, rest, comm, tol=dual_tol, max_modes=dual_max_modes) if rest else {}
    dual_bases = {f: given[f] if f in given else computed[f] for f in (duals or given)}
    rq, out = dual_operators(dm, rq, dual_bases, comm, add_points=not full)
    return Hyperreduction(rq, ecm_ids, n_basis, E, out)


def dual_pod(dm, duals, comm=None, tol=1e-5, max_modes=None):
    """The POD basis of every dual field (module docstring, step 2): TSQR SVD in the quadrature inner
    product (the ip weights ``w`` repeated over the ``nc`` components), relative energy tolerance ``tol``,
    at most ``max_modes`` modes.

    duals : {F: (X (n_ip_local · nc, m) or a function returning it, nc, components)}, read and released
    one field at a time. Returns {F: (PODBasis of local ip rows × nc, nc, components)} (the ``bases`` of
    :func:`dual_operators`, the ``dual_bases`` of :func:`reduce`). Collective.
    """
    from ..fem.operators import ip_weights
    from .pod import pod
    comm = comm or MPI.COMM_WORLD
    w = ip_weights(dm)
    bases = {}
    for f, (X, nc, comps) in duals.items():
        X = X() if callable(X) else X
        bases[f] = (pod(X, comm=comm, tol=tol, max_modes=max_modes, inner=np.repeat(w, nc),
                        inner_name="quadrature", method="svd"), nc, comps)
        del X
    return bases


def reduced_rule(dm, E, Sx, comm=None, tol=1e-4, compress_tol="same", variant="global", max_points=None,
                 subdomains_per_rank=1, full=False, warm_start=None, weights=None):
    """The reduced quadrature of the internal-force integrand ``ε(ψ_j) : σ_i`` (module docstring, step 2).

    E : (n_ip_local, 6, k) mode strains; Sx : (n_ip_local, 6, m) stress snapshots or scaled stress modes
    (unused with ``full``); ``warm_start``: natural ids of an existing ECM point set to start the greedy from
    (enrichment); ``weights``: the local quadrature weights when already known (:func:`ip_weights`).
    Returns ``(ReducedQuadrature, integrand basis size)``. Collective.
    """
    from ..fem.operators import ip_weights
    from ..fem.points import force_integrand
    from .ecm import empirical_cubature
    from .reduced_quadrature import ReducedQuadrature
    comm = comm or MPI.COMM_WORLD
    w = ip_weights(dm) if weights is None else np.asarray(weights, dtype=np.float64)
    ids = dm.ip_natural
    if full:
        order = np.argsort(ids, kind="stable")
        all_ids = np.concatenate(comm.allgather(ids[order]))
        all_w = np.concatenate(comm.allgather(w[order]))
        all_r = np.concatenate(comm.allgather(np.full(ids.size, comm.rank, np.int64)))
        o = np.argsort(all_ids, kind="stable")
        return ReducedQuadrature(all_ids[o], all_w[o], all_r[o], 0.0, 0.0, True, "full"), 0
    G = force_integrand(E, Sx)
    labels = None
    if variant == "partitioned" and subdomains_per_rank > 1:
        labels = (np.arange(dm.n_ip_local) * int(subdomains_per_rank)) // max(dm.n_ip_local, 1)
    rq, ib = empirical_cubature(G, w, ids, comm, tol=tol, compress_tol=compress_tol, max_points=max_points,
                                variant=variant, subdomains=labels, warm_start=warm_start)
    return rq, ib.n_basis


def dual_operators(dm, rq, bases, comm=None, add_points=True, selections=None):
    """QDEIM points of every dual basis added to the rule ``rq`` (zero weight, unless ``add_points`` is
    False), then the Gappy-POD of every dual field on all the points.

    bases : {F: (PODBasis of local ip rows × nc, nc, components)}. selections : {F: PointSelection} known
    QDEIM points of some of the bases (e.g. of a basis whose span did not change: QDEIM — a pivoted QR of
    the Euclidean-orthonormalized basis — does not depend on the basis of the span), used instead of
    recomputing them. Returns ``(rule with the dual points, {F: DualOperator})``. Collective.
    """
    from .eim import GappyPOD, qdeim
    comm = comm or MPI.COMM_WORLD
    ids = dm.ip_natural
    selections = selections or {}
    out = {}
    for f, (db, nc, comps) in bases.items():
        qs = selections[f] if f in selections else qdeim(db.modes, ids, comm, nc)
        if add_points:
            rq = rq.with_points(qs.ids, qs.ranks)
        out[f] = DualOperator(f, db, qs, None, nc, comps)
    for f, d in out.items():
        d.gappy = GappyPOD(d.basis.modes, ids, rq.ids, comm, d.n_components)
        _log.info("dual field %s: %d modes, %d QDEIM points, Gappy-POD on %d points: cond %.3g, Lebesgue %.3g",
                  f, d.basis.n_kept, d.selection.n_points, d.gappy.n_points, d.gappy.condition, d.gappy.lebesgue)
    return rq, out


def point_arrays(dm, hr, extra_local=None):
    """Replicated arrays of the reduced points of ``hr`` (a :class:`Hyperreduction`), in increasing natural
    id: ``ids, weights, ecm, cells, elements, qp, coordinates (n, 3), strain_modes (n, 6, k)``, plus, for
    every ``extra_local`` {name: (n_ip_local, ...) array}, its rows at the points. Collective (one
    ``Allreduce`` for the point info and one ``allgather`` of the points' rows of every array)."""
    from ..fem.points import point_info
    from ..parallel.collectives import fetch_rows
    rq = hr.quadrature
    ids = dm.ip_natural
    n = dm.n_ip_local
    pinfo = point_info(dm, rq.ids)
    local = {"strain_modes": hr.mode_strains, "coordinates": _ip_coordinates(dm)}
    local.update({name: np.asarray(arr) for name, arr in (extra_local or {}).items()})
    mine = np.flatnonzero(np.isin(ids, rq.ids))                    # only this rank's points are copied
    cols = [a.reshape(n, -1)[mine].astype(np.float64) for a in local.values()]
    rows, _ = fetch_rows(np.hstack(cols), ids[mine], rq.ids, comm=dm.comm)
    ends = np.cumsum([c.shape[1] for c in cols])
    out = dict(ids=rq.ids, weights=rq.weights, ecm=np.isin(rq.ids, hr.ecm_ids), cells=pinfo["cell"],
               elements=pinfo["element"], qp=pinfo["qp"])
    for (name, a), e, c in zip(local.items(), ends, cols):
        out[name] = rows[:, e - c.shape[1]:e].reshape((-1,) + a.shape[1:]).astype(a.dtype)
    return out


_COORDINATES = weakref.WeakKeyDictionary()


def _ip_coordinates(dm):
    """:func:`~dromo.fem.operators.ip_coordinates` of ``dm``, computed once per mesh (an adaptive run asks at
    every enrichment). Local."""
    x = _COORDINATES.get(dm)
    if x is None:
        from ..fem.operators import ip_coordinates
        x = _COORDINATES[dm] = ip_coordinates(dm)
    return x


def quadrature_summary(hr, tol, variant):
    """The JSON-able description of the reduced rule stored with a model."""
    rq = hr.quadrature
    return {"tol": float(tol), "error": float(rq.error), "variant": variant,
            "n_ecm_points": int(hr.ecm_ids.size), "n_points": int(rq.n_points),
            "n_basis": int(hr.n_integrand_basis), "converged": bool(rq.converged)}
