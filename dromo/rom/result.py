"""The archive of an online run, and full fields reconstructed from it.

``write_result(rom, result, output, fields=(), comm)`` (collective, any rank count) writes a dromo archive:

``/rom_result/time`` (F,), ``gamma`` (F, k), ``lifting`` (F, n_L), ``iterations`` (F,), ``residual`` (F,)
(the final reduced Newton residual of every step), ``indicator/<F>`` (F,) the normalized Gappy-POD
residual of each dual field at the points (the error indicator, :mod:`dromo.rom.indicator`),
``estimate/<F>`` (F,) its calibrated error estimate when the model carries a calibration of F, ``points/ids`` (n,), and the law values
at the reduced points every step: ``points/S``, ``points/E`` (F, n, 6), ``points/T`` (F, n, 1),
``points/internal`` (F, n, n_state_max) packed per point in the order of its law; attrs: the model's path
and mesh fingerprint, the case name, sizes and the run summary.

With ``fields`` (e.g. ``U S p``) the archive also holds ``/mesh`` and those fields in the layout of
``dromo solve`` results (``U`` at the nodes, dual fields at every integration point, one step per time,
natural numbering, XDMF sidecar), so ParaView, ``dromo pod`` and ``dromo compare`` read HF and ROM results
alike: ``U = Σ a_i L_i + Ψ γ`` from the model's modes; a dual field from its Gappy-POD coefficients fitted
to the law values at the points, times its modes. Every rank reads and writes its natural block only.
"""
import numpy as np

from ..errors import InputError
from ..parallel import get_logger

log = get_logger("dromo.rom.result")


def write_result(rom, result, output, fields=(), comm=None):
    """Write the result archive (module docstring). Returns ``output``. Collective."""
    from ..io.archive import Archive
    comm = comm or rom.comm
    fields = list(fields or ())
    for f in fields:
        if f != "U" and f not in rom.duals:
            raise InputError(f"--reconstruct {f}: the reduced model rebuilds U and its dual fields "
                             f"({', '.join(rom.duals) or 'none'})")
    if fields and rom.path is None:
        raise InputError("reconstruction needs a model saved in an archive (its modes are read from it)")
    r = result
    pts = {name: r.point_values(name) for name in ("S", "E", "T")}
    internal = np.stack([r._gather(x) for x in r.local["internal"]])
    with Archive.create(output, comm, attrs={"content": "rom-result",
                                            "provenance": f"dromo online ({r.name})"}) as ar:
        g = "rom_result"
        write_steps(ar, g, r)
        for f, cal in (rom.calibration or {}).items():
            if f in r.indicator:                      # the calibrated error estimate of every step
                ar.write_array(f"{g}/estimate/{f}", cal.estimate(np.asarray(r.indicator[f], dtype=float)))
        ar.write_array(f"{g}/points/ids", rom.points.ids)
        for name, v in pts.items():
            ar.write_array(f"{g}/points/{name}", v)
        ar.write_array(f"{g}/points/internal", internal)
        s = r.summary or {}
        ar.set_attrs(g, {"rom": str(rom.path or ""), "mesh_hash": rom.mesh_hash, "case": r.name,
                         "n_modes": rom.n_modes, "n_points": rom.n_points, "n_steps": r.n_steps,
                         "increments": int(s.get("increments", r.n_steps - 1)),
                         "cutbacks": int(s.get("cutbacks", 0)), "seconds": float(s.get("seconds", 0.0))})
        if fields:
            _reconstruct(rom, r, ar, fields, pts)
    log.info("wrote %s (%d steps%s)", output, r.n_steps, f", fields {' '.join(fields)}" if fields else "")
    return output


def write_steps(ar, g, r):
    """The per-step arrays of a reduced run ``r`` (times, gamma, a, iterations, residual, indicator {F}) into
    the group ``g`` of the open archive ``ar``."""
    ar.write_array(f"{g}/time", np.asarray(r.times))
    ar.write_array(f"{g}/gamma", np.asarray(r.gamma).reshape(r.n_steps, -1))
    ar.write_array(f"{g}/lifting", np.asarray(r.a).reshape(r.n_steps, -1))
    ar.write_array(f"{g}/iterations", np.asarray(r.iterations, dtype=np.int64))
    ar.write_array(f"{g}/residual", np.asarray(r.residual))
    for f, v in r.indicator.items():
        ar.write_array(f"{g}/indicator/{f}", np.asarray(v))


def _reconstruct(rom, r, ar, fields, pts):
    """Append the full fields of every step of ``r`` to the open archive ``ar``."""
    from ..io.archive import Archive
    from .model import LIFTING, U_MODES
    comm = ar.comm
    with Archive.open(rom.path, comm) as src:
        mesh = src.read_mesh_stripes()                                   # this rank's stripes only
        blocks = {}
        if "U" in fields:
            m = src.field_source(U_MODES)
            psi = m.read(0, m.n_snapshots)                                   # (n_blk · 3, k)
            lift = np.zeros((psi.shape[0], 0))
            if rom.n_liftings:
                ls = src.field_source(LIFTING)
                lift = ls.read(0, ls.n_snapshots)
            blocks["U"] = (psi, lift)
        for f in fields:
            if f == "U":
                continue
            if not np.array_equal(rom.duals[f].fit.point_ids, rom.points.ids):
                raise InputError(f"{rom.path}: the Gappy-POD points of {f} are not the model's reduced points")
            m = src.field_source(f"dual_{f}")
            blocks[f] = m.read(0, m.n_snapshots)                             # (n_blk · nc, k_f)
    coeffs = {}
    for f in fields:
        if f != "U":
            values = r.point_values(f) if f not in pts else pts[f]
            coeffs[f] = [rom.duals[f].fit.coefficients(values[j].reshape(-1)) for j in range(r.n_steps)]
    write_fields(ar, mesh, rom.duals, fields, r.times, r.gamma, r.a, coeffs, blocks)


def write_fields(ar, mesh, duals, fields, times, gamma, a, coeffs, blocks, label="ROM"):
    """Write ``/mesh`` and the full fields of every step into the open archive ``ar`` (layout of ``dromo
    solve`` results): ``U = L a_j + Ψ γ_j`` and every dual field ``F = Φ_F c_j`` from this rank's natural
    blocks ``blocks`` {"U": (Ψ, L), F: Φ_F} (:meth:`~dromo.rom.full.FullOperators.natural_blocks`),
    ``coeffs`` {F: per step (k_F,)}, ``duals`` {F: DualField or DualOperator} (components). Collective."""
    ar.write_mesh(mesh)
    if "U" in fields:
        ar.create_field("U", "node", 3, components=["x", "y", "z"], description=f"displacement ({label})")
    for f in fields:
        if f != "U":
            comps = list(duals[f].components)
            ar.create_field(f, "ip", len(comps), components=comps or None,
                            description=f"{f} ({label}, Gappy-POD)")
    for j, t in enumerate(times):
        if "U" in fields:
            psi, lift = blocks["U"]
            u = psi @ gamma[j] + (lift @ a[j] if lift.shape[1] else 0.0)
            ar.append_step("U", u.reshape(-1, 3), t)
        for f in fields:
            if f != "U":
                nc = len(duals[f].components)
                ar.append_step(f, (blocks[f] @ coeffs[f][j]).reshape(-1, nc), t)
