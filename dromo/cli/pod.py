"""``dromo pod``: POD basis of a field stored in a dromo archive, under ``mpirun -n P``.

    dromo pod SNAPSHOTS.h5[@T0:T1] [MORE.h5[@T0:T1] ...] --field U --tol 1e-6 [--max-modes K]
              [--inner-product euclid] [--method auto|snapshots|svd|slepc|randomized] [--memory-budget MB]
              [--plot decay.png] -o BASIS.h5

Every step of the field is a snapshot (rows = items × components in natural numbering, each rank
reading its natural block). Several archives of one mesh (e.g. one per load level) give one POD of all
their snapshots, streamed archive after archive
(:class:`~dromo.reduction.sources.ArchiveSeriesSource`); ``@T0:T1`` after a path keeps only its steps
with ``T0 <= time <= T1`` (either bound may be left out). An archive whose mesh differs is an error
naming it.

Method: ``auto`` (default) takes the method of snapshots for tolerances it can deliver (``--tol`` ≥ 1e-5)
and the accurate TSQR path otherwise (said in the log); ``--method snapshots`` with a smaller tolerance is
refused. ``--method slepc``: SLEPc's truncated SVD, the leading modes only (for many snapshots and few
modes), its options after ``--petsc`` with the prefix ``dromo_`` (``--petsc -dromo_svd_type trlanczos``);
see :mod:`dromo.reduction.slepc_svd`. ``--method randomized``: a block randomized SVD on BLAS-3, the
leading modes only, several times faster than the others for thousands of snapshots and tens of modes
(:mod:`dromo.reduction.randomized`). The log reports the measured orthonormality ``‖ΨᵀMΨ − I‖₂`` of the modes written (also stored
as the attribute ``orthonormality`` of ``/bases/<field>/singular_values``). The basis archive holds the modes as the field ``<field>`` (one step per
mode) and ``/bases/<field>/singular_values`` with the attributes (tolerance, kept modes, energy, inner
product, method, provenance); see :func:`dromo.reduction.pod.write_basis`.

Inner products: ``euclid``; ``l2`` — for nodal vector fields the assembled consistent mass matrix of
the archive's mesh, for integration-point fields the quadrature weights w_q·detJ; ``energy`` — nodal
vector fields only, the linear-elastic stiffness with ``--young``/``--poisson`` (isotropic; the modes are
K-orthonormal). With ``l2``/``energy`` the archive's mesh is distributed (PTScotch) and each rank reads
its owned nodes / integration points, so the rows match the PETSc matrix layout.
"""
import os


def run(args):
    from mpi4py import MPI
    from ..errors import InputError
    from ..io.archive import Archive
    from ..parallel import get_logger
    from ..reduction import pod, write_basis
    from ..reduction.plots import plot_singular_values
    from ..reduction.pod import snapshots_cannot_deliver
    from ..reduction.sources import ArchiveSeriesSource, parse_archive_window

    log = get_logger("dromo.cli.pod")
    comm = MPI.COMM_WORLD
    if args.method == "snapshots" and snapshots_cannot_deliver(args.tol):
        raise InputError(snapshots_cannot_deliver(args.tol))
    budget = None if args.memory_budget is None else int(args.memory_budget * 2 ** 20)
    archives = [parse_archive_window(a) for a in args.snapshots]
    inner, redist = None, None
    if args.inner_product != "euclid":
        with Archive.open(archives[0][0], comm) as ar:
            inner, redist = _inner_product(ar, ar.field_info(args.field), args, archives[0][0])
    with ArchiveSeriesSource(archives, args.field, comm, redistributor=redist) as src:
        info = src.info
        log.info("POD of field %s in %s: %d snapshots, %d items × %d components (%s)", args.field,
                 src.describe(), src.n_snapshots, info["n_items"], info["n_components"], info["location"])
        basis = pod(src, tol=args.tol, max_modes=args.max_modes, method=args.method,
                    memory_budget=budget, inner=inner, inner_name=args.inner_product)
        times = src.times
    log.info("kept %d modes of %d (energy fraction %.12g, tol %s, method %s); orthonormality of the modes "
             "written ‖ΨᵀMΨ − I‖₂ = %.2e", basis.n_kept, basis.n_snapshots, basis.energy, args.tol, basis.method,
             basis.orthonormality)
    prov = {"snapshots": ", ".join(os.path.abspath(p) + ("" if w is None else "@" + ":".join(
                "" if v is None else repr(v) for v in w)) for p, w in archives),
            "n_archives": len(archives), "field": args.field,
            "time_first": float(times.min()) if len(times) else 0.0,
            "time_last": float(times.max()) if len(times) else 0.0, "n_ranks": comm.size}
    with Archive.create(args.output, comm, attrs={"content": "pod-basis"}) as out:
        write_basis(out, basis, args.field, location=info["location"], n_components=info["n_components"],
                    components=info["components"], units=info.get("units", ""), provenance=prov,
                    redistributor=redist)
    if args.plot:
        plot_singular_values(basis.singular_values, args.plot, n_kept=basis.n_kept, tol=args.tol,
                             title=f"POD of {args.field} ({basis.method})", comm=comm)
        log.info("singular value decay plotted to %s", args.plot)
    log.info("basis written to %s", args.output)
    return 0


def _inner_product(archive, info, args, path):
    """(inner-product spec, redistributor) for ``--inner-product l2|energy`` on the archive's mesh."""
    from ..errors import InputError
    from ..mesh.distributed import DistributedMesh
    from ..parallel.errors import collective
    from ..reduction.pod import inner_product
    with collective(archive.comm):
        if not archive.has_mesh():
            raise InputError(f"{path}: no mesh in the archive: needed for --inner-product "
                             f"{args.inner_product}")
    dm = DistributedMesh(archive.read_mesh_stripes(), archive.comm)
    return inner_product(dm, args.inner_product, info["location"], info["n_components"], young=args.young,
                         poisson=args.poisson)


def register(sub):
    p = sub.add_parser("pod", help="POD basis of a stored snapshot field (method of snapshots or TSQR SVD)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOTS.h5[@T0:T1]",
                   help="dromo archive(s) of one mesh holding the snapshot field; @T0:T1 keeps the steps with "
                        "T0 <= time <= T1 of that archive")
    p.add_argument("--field", required=True, help="field name (each stored step is a snapshot)")
    p.add_argument("--tol", type=float, default=None,
                   help="relative energy tolerance in (0, 1): discarded Σσ² ≤ tol² Σσ² (default: keep all)")
    p.add_argument("--max-modes", type=int, default=None, help="keep at most K modes")
    p.add_argument("--inner-product", choices=["euclid", "l2", "energy"], default="euclid",
                   help="inner product: euclid (default), l2 (mass matrix / quadrature weights), "
                        "energy (elastic stiffness, needs --young/--poisson)")
    p.add_argument("--young", type=float, default=None, help="Young's modulus for --inner-product energy")
    p.add_argument("--poisson", type=float, default=0.3, help="Poisson's ratio for --inner-product energy")
    p.add_argument("--method", choices=["auto", "snapshots", "svd", "slepc", "randomized"], default="auto",
                   help="auto (default): snapshots when --tol >= 1e-5, else svd; snapshots: Gram + eigh "
                        "(fast, σ down to ~1e-7 σ₁); svd: TSQR (accurate σ down to ~1e-14 σ₁); slepc: SLEPc "
                        "truncated SVD of the leading modes only (options after --petsc with the prefix "
                        "dromo_, e.g. -dromo_svd_type trlanczos|lanczos|randomized|cross); randomized: block "
                        "randomized SVD on BLAS-3 of the leading modes only (many snapshots, few modes)")
    p.add_argument("--memory-budget", type=float, default=None, metavar="MB",
                   help="per-rank memory budget in MiB; the snapshots are streamed when they do not fit")
    p.add_argument("--plot", default=None, metavar="PNG", help="write the singular value decay plot")
    p.add_argument("-o", "--output", required=True, help="output basis archive (HDF5)")
    p.set_defaults(func=run)
