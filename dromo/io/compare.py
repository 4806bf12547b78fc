"""Compare two results on the same mesh (a ROM result against an HF one): error figures in time.

:func:`compare_results` is collective and works at any rank count. Each rank reads its natural block of
items (:func:`~dromo.parallel.partition_range`) one step at a time, so a time series is never held in
memory: at most one step of A and two steps of B per field.

B is the reference. The comparison is made at the times of A; B is interpolated linearly in time between
its two neighbouring steps (the time grids differ when the automatic cut-back of the two runs differs).
Times of A outside B's span are an error, or are skipped with a note (``outside="skip"``). Times closer
than ``time_tol`` × (B's span) are taken as equal.

Figures per field (norms: Euclidean over all items and components of a step)::

    rel_error[k]      = ‖a(t_k) − b(t_k)‖ / ‖b(t_k)‖            (0/0 -> 0, x/0 -> inf)
    max_rel_error     = max_k ‖a − b‖ / max_k ‖b‖              the headline figure ("u error")
    worst_time        = the time of max_k ‖a − b‖
    max_step_rel_error, worst_step_rel_time = max_k rel_error[k] and where
    max_abs_diff, max_abs_diff_time = max over steps, items, components of |a − b| and where

With ``weighted=True``, the norms of integration-point fields are weighted by the quadrature weights
w_q·detJ of the points (the L2 norm over the volume), computed from A's mesh for each rank's block only
(:func:`natural_ip_weights`); other fields stay unweighted. The pointwise difference is never weighted.

Mesh check: the fields must have the same location and numbers of items and components; when both
archives hold ``/mesh``, :func:`mesh_hash` (points and cells) must agree.
"""
import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel.comm import partition_range
from ..parallel.errors import collective
from ..plotting import finish_figure, pyplot

DEFAULT_FIELDS = ("U", "S", "p")


def mesh_hash(archive, chunk_rows=1 << 18):
    """The :meth:`MeshData.fingerprint <dromo.mesh.meshdata.MeshData.fingerprint>` of the archive's mesh
    (SHA-256 of the points and of each cell block's type and connectivity), without loading the mesh.

    Collective: rank 0 streams the datasets in chunks of ``chunk_rows`` rows into one hash (so the
    digest is that of the whole mesh at any rank count, and the one a ROM archive records) and
    broadcasts it. Raises :class:`InputError` when the archive has no ``/mesh``.
    """
    comm = archive.comm
    digest = None
    with collective(comm):
        if not archive.has_mesh():
            raise InputError(f"{archive.final_path}: archive has no /mesh group")
        if comm.rank == 0:
            g = archive.h5["mesh"]
            h = hashlib.sha256()
            items = [(b"", g["points"], "<f8")]
            for key in sorted(g["cells"], key=lambda s: int(s.split("_", 1)[0])):
                bg = g["cells"][key]
                items.append((str(bg.attrs["type"]).encode(), bg["connectivity"], "<i8"))
            for prefix, ds, dtype in items:
                h.update(prefix)
                for a in range(0, ds.shape[0], chunk_rows):
                    h.update(np.ascontiguousarray(ds[a:a + chunk_rows], dtype=dtype).tobytes())
            digest = h.hexdigest()
    return comm.bcast(digest, root=0)


def natural_ip_weights(archive, start, stop, chunk_cells=4096):
    """Quadrature weights w_q·detJ of the integration points ``start:stop`` (natural numbering) of the
    archive's mesh: (stop - start,). Not collective: reads only the cells and nodes of those points."""
    from ..mesh.elements import get_element, jacobians
    from ..mesh.quadrature import element_rule
    g = archive.h5["mesh"]
    out = np.empty(stop - start)
    ip0 = 0
    for key in sorted(g["cells"], key=lambda s: int(s.split("_", 1)[0])):
        bg = g["cells"][key]
        conn_ds, nq = bg["connectivity"], int(bg.attrs["n_qp"])
        n_ip = conn_ds.shape[0] * nq
        lo, hi = max(start, ip0), min(stop, ip0 + n_ip)
        first, last = (lo - ip0) // nq, -(-(hi - ip0) // nq)          # cells holding points lo:hi
        for c0 in range(first, last, chunk_cells):
            c1 = min(c0 + chunk_cells, last)
            conn = conn_ds[c0:c1]
            n0, n1 = int(conn.min()), int(conn.max()) + 1
            coords = g["points"][n0:n1][conn - n0]
            etype = str(bg.attrs["type"])
            rule = element_rule(etype, str(bg.attrs.get("rule", "full")))
            dV = (jacobians(coords, get_element(etype).dshape(rule.points))[1] * rule.weights).ravel()
            a, b = max(lo, ip0 + c0 * nq), min(hi, ip0 + c1 * nq)
            out[a - start:b - start] = dV[a - ip0 - c0 * nq:b - ip0 - c0 * nq]
        ip0 += n_ip
    if stop > ip0:
        raise InputError(f"{archive.final_path}: the mesh has {ip0} integration points, asked for {start}:{stop}")
    return out


@dataclass
class FieldComparison:
    """Error figures of one field (see the module docstring); arrays are per compared step of A."""
    field: str
    location: str
    n_items: int
    n_components: int
    times: np.ndarray
    norm_diff: np.ndarray
    norm_ref: np.ndarray
    rel_error: np.ndarray
    max_rel_error: float
    worst_time: float
    max_step_rel_error: float
    worst_step_rel_time: float
    max_abs_diff: float
    max_abs_diff_time: float
    skipped_times: list = field(default_factory=list)
    weighted: bool = False

    @property
    def n_steps(self):
        return len(self.times)

    def to_dict(self):
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        d["n_steps"] = self.n_steps
        return d


def _ratio(num, den):
    if den > 0:
        return float(num / den)
    return 0.0 if num == 0 else float("inf")


def interpolation_plan(times_a, times_b, outside="error", time_tol=1e-9, where=""):
    """For each time of A: (index in A, j, w) with b(t) = (1 − w) B[j] + w B[j + 1] (w = 0: B[j] alone).

    Returns ``(plan, skipped_times)``. Times of B must increase strictly.
    """
    ta = np.asarray(times_a, dtype=np.float64)
    tb = np.asarray(times_b, dtype=np.float64)
    if outside not in ("error", "skip"):
        raise ValueError(f"outside must be 'error' or 'skip', not {outside!r}")
    if tb.size == 0 or ta.size == 0:
        raise InputError(f"{where}: no steps to compare (A has {ta.size}, B has {tb.size})")
    if (np.diff(tb) <= 0).any():
        i = 1 + int(np.argmax(np.diff(tb) <= 0))
        raise InputError(f"{where}: the times of the reference do not increase at step {i} "
                         f"(t = {tb[i]:g} after {tb[i - 1]:g})")
    eps = time_tol * max(tb[-1] - tb[0], abs(tb[-1]), abs(tb[0]), 1e-300)
    plan, skipped = [], []
    for i, t in enumerate(ta):
        if t < tb[0] - eps or t > tb[-1] + eps:
            skipped.append((i, float(t)))
            continue
        j = int(np.clip(np.searchsorted(tb, t, side="right") - 1, 0, tb.size - 1))
        if abs(t - tb[j]) <= eps:
            plan.append((i, j, 0.0))
        elif j + 1 < tb.size and abs(t - tb[j + 1]) <= eps:
            plan.append((i, j + 1, 0.0))
        else:
            plan.append((i, j, float((t - tb[j]) / (tb[j + 1] - tb[j]))))
    if skipped and outside == "error":
        listed = ", ".join(f"{t:g} (step {i})" for i, t in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        raise InputError(f"{where}: {len(skipped)} time(s) outside the reference's span [{tb[0]:g}, {tb[-1]:g}]: "
                         f"{listed} (use outside='skip' / --skip-outside to skip them)")
    if not plan:
        raise InputError(f"{where}: no time of A ({ta[0]:g} ... {ta[-1]:g}) inside the reference's span "
                         f"[{tb[0]:g}, {tb[-1]:g}]")
    return plan, [t for _i, t in skipped]


def compare_results(a_path, b_path, fields=None, comm=None, outside="error", time_tol=1e-9, weighted=False,
                    log=None):
    """Compare the fields of result A with those of the reference B (collective, any rank count).

    Parameters
    ----------
    a_path, b_path : dromo archives (results of ``dromo solve``, a ROM, an import) on the same mesh
    fields : field names; default the fields both have among :data:`DEFAULT_FIELDS`
    outside : ``"error"`` (default) or ``"skip"`` for the times of A outside B's time span
    time_tol : times closer than ``time_tol`` × B's span are equal (no interpolation)
    weighted : weigh the norms of integration-point fields by the quadrature weights (needs A's mesh)
    log : optional logger for notes (skipped times, archives without mesh)

    Returns a dict {field: :class:`FieldComparison`} (replicated on every rank), in the order asked.
    Raises :class:`InputError` (on every rank) naming the archive and field that do not match.
    """
    from .archive import Archive
    comm = comm or MPI.COMM_WORLD
    out = {}
    with Archive.open(a_path, comm) as A, Archive.open(b_path, comm) as B:
        names = _replicated(comm, _select_fields, A, B, fields, a_path, b_path)
        _check_meshes(A, B, a_path, b_path, log)
        for name in names:
            out[name] = _compare_field(A, B, name, comm, outside, time_tol, weighted, log)
    return out


def _replicated(comm, fn, *args):
    """``fn(*args)`` on every rank, from data every rank has alike: a failure is reported once (rank 0's)."""
    out, exc = None, None
    try:
        out = fn(*args)
    except InputError as e:
        exc = e
    with collective(comm):
        if exc is not None and comm.rank == 0:
            raise exc
    return out


def _select_fields(A, B, fields, a_path, b_path):
    have_a, have_b = set(A.fields()), set(B.fields())
    if fields is None or len(fields) == 0:
        names = [f for f in DEFAULT_FIELDS if f in have_a and f in have_b]
        if not names:
            raise InputError(f"no field among {', '.join(DEFAULT_FIELDS)} in both {a_path} "
                             f"(fields: {', '.join(sorted(have_a)) or 'none'}) and {b_path} "
                             f"(fields: {', '.join(sorted(have_b)) or 'none'}): name them with --fields")
        return names
    names = list(dict.fromkeys(fields))
    for name in names:
        for path, have in ((a_path, have_a), (b_path, have_b)):
            if name not in have:
                raise InputError(f"{path}: no field {name!r} (fields: {', '.join(sorted(have)) or 'none'})")
    return names


def _check_meshes(A, B, a_path, b_path, log):
    has = (A.has_mesh(), B.has_mesh())
    if not all(has):
        if log is not None:
            missing = " and ".join(p for p, h in zip((a_path, b_path), has) if not h)
            log.info("note: %s has no /mesh: the mesh is checked by the numbers of items only", missing)
        return
    ha, hb = mesh_hash(A), mesh_hash(B)
    _replicated(A.comm, _mesh_mismatch, A, B, a_path, b_path, ha, hb)


def _mesh_mismatch(A, B, a_path, b_path, ha, hb):
    if ha != hb:
        ga, gb = A.h5["mesh"], B.h5["mesh"]
        na, nb = ga["points"].shape[0], gb["points"].shape[0]
        ca = sum(g["connectivity"].shape[0] for g in ga["cells"].values())
        cb = sum(g["connectivity"].shape[0] for g in gb["cells"].values())
        raise InputError(f"{b_path}: its mesh ({nb} nodes, {cb} cells) differs from the mesh of {a_path} "
                         f"({na} nodes, {ca} cells): "
                         + ("different node coordinates or connectivity" if (na, ca) == (nb, cb)
                            else "different sizes") + f" (mesh hashes {hb[:12]} and {ha[:12]})")


def _compare_field(A, B, name, comm, outside, time_tol, weighted, log):
    ia, ib = A.field_info(name), B.field_info(name)
    plan, skipped = _replicated(comm, _field_plan, A, B, name, ia, ib, outside, time_tol)
    w_items = None
    if weighted and ia["location"] == "ip":
        with collective(comm):
            if not A.has_mesh():
                raise InputError(f"{A.final_path}: no /mesh: the quadrature weights of field {name} need it")
            w_items = np.sqrt(natural_ip_weights(A, *partition_range(ia["n_items"], comm)))[:, None]
    if skipped and log is not None:
        log.info("note: field %s: %d time(s) of %s outside the span of %s skipped: %s", name, len(skipped),
                 A.final_path, B.final_path, ", ".join(f"{t:g}" for t in skipped[:10])
                 + (" ..." if len(skipped) > 10 else ""))
    n = len(plan)
    diff2, ref2, maxabs = np.zeros(n), np.zeros(n), np.zeros(n)
    cache = {}

    def b_step(j):
        if j not in cache:
            for k in [k for k in cache if k < j]:
                del cache[k]                          # B is read forward: keep at most two steps
            cache[j] = B.read_steps(name, [j])[0]
        return cache[j]

    with collective(comm):                            # independent reads only: no collective call inside
        for k, (i, j, w) in enumerate(plan):
            a = A.read_steps(name, [i])[0]
            b = b_step(j) if w == 0.0 else (1.0 - w) * b_step(j) + w * b_step(j + 1)
            d = a - b
            maxabs[k] = np.abs(d).max() if d.size else 0.0
            if w_items is not None:
                d, b = d * w_items, b * w_items
            diff2[k] = np.dot(d.ravel(), d.ravel())
            ref2[k] = np.dot(b.ravel(), b.ravel())
            if not (np.isfinite(diff2[k]) and np.isfinite(ref2[k])):
                raise InputError(f"field {name}: non-finite values at time {ia['time'][i]:g} "
                                 f"(step {i} of {A.final_path} or its interpolation in {B.final_path})")
    sums = np.empty(2 * n)
    comm.Allreduce(np.concatenate([diff2, ref2]), sums, op=MPI.SUM)
    gmax = np.empty(n)
    comm.Allreduce(maxabs, gmax, op=MPI.MAX)
    norm_diff, norm_ref = np.sqrt(sums[:n]), np.sqrt(sums[n:])
    times = np.array([ia["time"][i] for i, _j, _w in plan], dtype=np.float64)
    rel = np.array([_ratio(x, y) for x, y in zip(norm_diff, norm_ref)])
    kd, kr, ka = int(np.argmax(norm_diff)), int(np.argmax(rel)), int(np.argmax(gmax))
    return FieldComparison(
        field=name, location=str(ia["location"]), n_items=int(ia["n_items"]),
        n_components=int(ia["n_components"]), times=times, norm_diff=norm_diff, norm_ref=norm_ref,
        rel_error=rel, max_rel_error=_ratio(norm_diff.max(), norm_ref.max()), worst_time=float(times[kd]),
        max_step_rel_error=float(rel[kr]), worst_step_rel_time=float(times[kr]),
        max_abs_diff=float(gmax[ka]), max_abs_diff_time=float(times[ka]), skipped_times=skipped,
        weighted=w_items is not None)


def _field_plan(A, B, name, ia, ib, outside, time_tol):
    for key in ("location", "n_items", "n_components"):
        if ia[key] != ib[key]:
            raise InputError(f"field {name}: {key} {ib[key]} in {B.final_path} but {ia[key]} in "
                             f"{A.final_path} (not the same mesh or not the same field)")
    return interpolation_plan(ia["time"], ib["time"], outside, time_tol,
                              where=f"field {name} of {A.final_path} against {B.final_path}")


def plot_errors(results, path, title=None, comm=None):
    """PNG of the per-step relative errors against time, one curve per field (rank 0 writes).

    Not collective: ranks other than 0 return at once. Raises :class:`InputError` without matplotlib.
    """
    if comm is not None and comm.rank != 0:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    logscale = any((r.rel_error > 0).any() for r in results.values())
    for name, r in results.items():
        y = np.where(r.rel_error > 0, r.rel_error, np.nan) if logscale else r.rel_error
        ax.plot(r.times, y, "o-", ms=3, label=f"{name} (max over time {r.max_rel_error:.3g})")
    if logscale:
        ax.set_yscale("log")
    return finish_figure(fig, ax, path, "time", "‖a − b‖ / ‖b‖", title or "relative error per step")

