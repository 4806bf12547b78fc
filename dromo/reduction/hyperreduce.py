"""The offline hyper-reduction step: snapshots archive → reduced integration points and dual operators.

``hyperreduce(snapshots, output, ...)`` (collective, any rank count):

1. distributed mesh from the snapshots archive; displacement snapshots ``U`` (node, 3) read on the owned
   nodes; their POD (``u_tol``; all PODs here use the accurate TSQR path) — or the basis of a ``dromo pod`` archive (``basis=``);
2. mode strains ``ε(ψ_j)`` at the integration points; the stress snapshots ``S`` (ip, 6 Mandel) —
   optionally compressed first by a weighted POD (``stress_tol``: the integrand uses the stress modes
   scaled by their singular values, which spans the same functions with far fewer columns);
3. the integrand ``ε(ψ_j) : σ_i`` (:func:`~dromo.reduction.ecm.force_integrand`), its ``√w``-weighted
   compression, the constant, the ECM (global or partitioned variant, :mod:`dromo.reduction.ecm`);
4. every dual field (default ``S`` and ``p`` when stored): weighted POD (``dual_tol``), QDEIM points
   (:mod:`dromo.reduction.eim`) added to the ECM set with zero weight, Gappy-POD on all the reduced
   points (conditioning and Lebesgue constant reported);
5. output archive (written collectively, natural numbering):

   ``/mesh``; the field ``U`` = displacement modes (:func:`~dromo.reduction.pod.write_basis`);
   ``/rom/points/{ids, weights, ranks, cells, elements, qp, coordinates, ecm}`` — natural ip ids
   (increasing), weights (0 for dual-only points), owning ranks *of this run*, natural cell index,
   external element id, point index in the cell's rule, coordinates (n, 3), ``ecm`` (1 = ECM point);
   ``/rom/points/strain_modes`` (n, 6, k) — ``ε(ψ_j)(x_k)``, the B-matrix of every mode at the points;
   ``/rom/points`` attrs: tol, error, variant, n_ecm_points, n_basis, converged, n_ranks;
   for every dual field ``F``: the field ``dual_F`` (ip modes, :func:`write_basis`) and
   ``/rom/dual/F/restricted`` (n · nc, k_F) the modes at the reduced points (point-major), attrs
   n_components, condition, lebesgue, n_modes; ``/rom/dual/F/qdeim_points`` the QDEIM point ids.
"""
import os

import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger

__all__ = ["hyperreduce", "read_reduced_points"]

_log = get_logger("dromo.reduction.hyperreduce")


def _owned_to_natural_rows(dm, rows_owned, location, nc):
    """(n_owned · nc, k) owned rows → this rank's natural block rows (n_block · nc, k)."""
    k = rows_owned.shape[1]
    red = dm.redistributor(location)
    blk = red.owned_to_natural(np.ascontiguousarray(rows_owned.reshape(-1, nc, k)))
    return blk.reshape(-1, k)


def _with_modes(basis, modes):
    from dataclasses import replace
    from .pod import InnerProduct
    return replace(basis, modes=modes, inner_product=InnerProduct(None, modes.shape[0], basis.comm))


def hyperreduce(snapshots, output, comm=None, basis=None, u_field="U", stress_field="S", u_tol=1e-6,
                u_max_modes=None, tol=1e-4, compress_tol="same", variant="global", max_points=None,
                subdomains_per_rank=1, stress_tol=None, dual_fields=None, dual_tol=1e-5, dual_max_modes=None,
                steps=None):
    """Run the hyper-reduction pipeline (module docstring) and write ``output``. Collective.

    Returns a summary dict (points, errors, modes, conditioning), identical on every rank.
    """
    from ..fem.operators import ip_coordinates, ip_weights
    from ..io.archive import Archive
    from ..mesh.distributed import DistributedMesh
    from ..fem.points import force_integrand, mode_strains, point_info
    from ..parallel.collectives import fetch_rows
    from .ecm import empirical_cubature
    from .eim import GappyPOD, qdeim
    from .pod import pod, write_basis
    from .sources import read_block

    comm = comm or MPI.COMM_WORLD
    with Archive.open(snapshots, comm) as ar:
        mesh = ar.read_mesh()
        dm = DistributedMesh(mesh, comm)
        fields = ar.fields()
        for f in (u_field, stress_field):
            if f not in fields:
                raise InputError(f"{snapshots}: no field {f!r} (fields: {', '.join(fields) or 'none'})")
        n_steps = ar.field_info(u_field)["n_steps"]
        sel = np.arange(n_steps) if steps is None else np.asarray(steps, dtype=np.int64)
        usrc = ar.field_source(u_field, redistributor=dm.redistributor("node"))
        U = read_block(usrc, 0, usrc.n_snapshots)[:, sel]
        ssrc = ar.field_source(stress_field, redistributor=dm.redistributor("ip"))
        S = read_block(ssrc, 0, ssrc.n_snapshots)[:, sel].reshape(dm.n_ip_local, 6, -1)
        if dual_fields is None:
            dual_fields = [f for f in (stress_field, "p") if f in fields]
        duals = {}
        for f in dual_fields:
            if f not in fields:
                raise InputError(f"{snapshots}: no dual field {f!r} (fields: {', '.join(fields)})")
            info = ar.field_info(f)
            if info["location"] != "ip":
                raise InputError(f"{snapshots}: dual field {f!r} is at {info['location']}, not at integration "
                                 f"points")
            src = ar.field_source(f, redistributor=dm.redistributor("ip"))
            duals[f] = (read_block(src, 0, src.n_snapshots)[:, sel], info["n_components"], info)
    w = ip_weights(dm)
    ids = dm.ip_natural

    # 1. displacement basis
    if basis is None:
        ub = pod(U, comm=comm, tol=u_tol, max_modes=u_max_modes, inner_name="euclid", method="svd")
    else:
        with Archive.open(basis, comm) as bar:
            src = bar.field_source(u_field, redistributor=dm.redistributor("node"))
            modes = read_block(src, 0, src.n_snapshots)
            sv = bar.read_array(f"bases/{u_field}/singular_values")
        from .pod import PODBasis
        ub = PODBasis(modes=modes, singular_values=sv, n_kept=modes.shape[1], tol=None, energy=1.0,
                      inner="euclid", method="read", n_snapshots=modes.shape[1], comm=comm)
    k = ub.n_kept
    E = mode_strains(dm, ub.modes)                                   # (n_ip_local, 6, k)
    _log.info("hyper-reduction: %d displacement modes, %d snapshots, %d integration points", k, len(sel),
              dm.n_ip_global)

    # 2-3. integrand and ECM
    if stress_tol is not None:
        sb = pod(S.reshape(dm.n_ip_local * 6, -1), comm=comm, tol=stress_tol, inner=np.repeat(w, 6),
                 inner_name="quadrature", method="svd")
        Sx = (sb.modes * sb.singular_values[None, :sb.n_kept]).reshape(dm.n_ip_local, 6, -1)
    else:
        Sx = S
    G = force_integrand(E, Sx)
    labels = None
    if variant == "partitioned" and subdomains_per_rank > 1:
        labels = (np.arange(dm.n_ip_local) * int(subdomains_per_rank)) // max(dm.n_ip_local, 1)
    rq, ib = empirical_cubature(G, w, ids, comm, tol=tol, compress_tol=compress_tol, max_points=max_points,
                                variant=variant, subdomains=labels)
    del G
    n_ecm = rq.n_points
    ecm_ids = rq.ids.copy()

    # 4. dual quantities
    dual_out = {}
    for f, (X, nc, info) in duals.items():
        wf = np.repeat(w, nc)
        db = pod(X, comm=comm, tol=dual_tol, max_modes=dual_max_modes, inner=wf, inner_name="quadrature",
                 method="svd")
        qs = qdeim(db.modes, ids, comm, nc)
        rq = rq.with_points(qs.ids, qs.ranks)
        dual_out[f] = (db, qs, nc, info)
    for f, (db, qs, nc, info) in dual_out.items():
        gp = GappyPOD(db.modes, ids, rq.ids, comm, nc)
        dual_out[f] = (db, qs, nc, info, gp)
        _log.info("dual field %s: %d modes, %d QDEIM points, Gappy-POD on %d points: cond %.3g, Lebesgue %.3g",
                  f, db.n_kept, qs.n_points, gp.n_points, gp.condition, gp.lebesgue)

    # 5. point data (replicated) and output
    pinfo = point_info(dm, rq.ids)
    strain_pts, _ = fetch_rows(E.reshape(dm.n_ip_local, 6 * k), ids, rq.ids, comm)
    xyz, _ = fetch_rows(ip_coordinates(dm), ids, rq.ids, comm)
    is_ecm = np.isin(rq.ids, ecm_ids).astype(np.int8)
    prov = {"snapshots": os.path.abspath(os.fspath(snapshots)), "field": u_field, "n_ranks": comm.size}
    with Archive.create(output, comm, attrs={"content": "rom"}) as out:
        out.write_mesh(mesh)
        write_basis(out, _with_modes(ub, _owned_to_natural_rows(dm, ub.modes, "node", 3)), u_field,
                    location="node", n_components=3, components=["x", "y", "z"], provenance=prov)
        g = "rom/points"
        out.write_array(f"{g}/ids", rq.ids)
        out.write_array(f"{g}/weights", rq.weights)
        out.write_array(f"{g}/ranks", rq.ranks)
        out.write_array(f"{g}/cells", pinfo["cell"])
        out.write_array(f"{g}/elements", pinfo["element"])
        out.write_array(f"{g}/qp", pinfo["qp"])
        out.write_array(f"{g}/coordinates", xyz)
        out.write_array(f"{g}/ecm", is_ecm)
        out.write_array(f"{g}/strain_modes", strain_pts.reshape(-1, 6, k),
                        attrs={"description": "strain of each displacement mode at the points (n, 6, k), "
                                              "Mandel"})
        attrs = {"tol": float(tol), "error": float(rq.error), "variant": variant, "n_ecm_points": int(n_ecm),
                 "n_points": int(rq.n_points), "n_basis": int(ib.n_basis), "converged": int(rq.converged),
                 "n_ranks": int(comm.size), "n_displacement_modes": int(k)}
        for key, v in attrs.items():
            out.h5[g].attrs[key] = v
        for f, (db, qs, nc, info, gp) in dual_out.items():
            write_basis(out, _with_modes(db, _owned_to_natural_rows(dm, db.modes, "ip", nc)), f"dual_{f}",
                        location="ip", n_components=nc, components=info["components"],
                        units=info.get("units", ""), provenance=prov)
            out.write_array(f"rom/dual/{f}/restricted", gp.restricted,
                            attrs={"n_components": int(nc), "condition": float(gp.condition),
                                   "lebesgue": float(gp.lebesgue), "n_modes": int(db.n_kept)})
            out.write_array(f"rom/dual/{f}/qdeim_points", qs.ids)
    summary = {"n_points": rq.n_points, "n_ecm_points": n_ecm, "ecm_error": rq.error,
               "converged": rq.converged, "n_displacement_modes": k, "n_integrand_basis": ib.n_basis,
               "dual": {f: {"n_modes": v[0].n_kept, "n_qdeim_points": v[1].n_points,
                            "condition": v[4].condition, "lebesgue": v[4].lebesgue}
                        for f, v in dual_out.items()}}
    _log.info("reduced points: %d (%d ECM, relative integration error %.3e) written to %s", rq.n_points, n_ecm,
              rq.error, output)
    return summary


def read_reduced_points(archive):
    """The ``/rom/points`` group of an open ROM archive as a dict of arrays (+ ``attrs``). Collective."""
    g = "rom/points"
    out = {k: archive.read_array(f"{g}/{k}") for k in ("ids", "weights", "ranks", "cells", "elements", "qp",
                                                        "coordinates", "ecm", "strain_modes")}
    out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in archive.h5[g].attrs.items()}
    return out
