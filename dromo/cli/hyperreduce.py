"""``dromo hyperreduce``: reduced integration (ECM) and dual-quantity operators (QDEIM + Gappy-POD).

    dromo hyperreduce SNAPSHOTS.h5[@T0:T1] [MORE.h5[@T0:T1] ...] [--basis BASIS.h5] [--u-tol 1e-6] [--max-modes K] [--tol 1e-4]
                      [--variant global|partitioned] [--subdomains-per-rank N] [--max-points N]
                      [--stress-tol EPS] [--dual S p] [--dual-tol 1e-5] [--steps 0:20] -o ROM.h5

SNAPSHOTS.h5 is a dromo archive with the mesh, the displacement field (``U``, node) and the stress
(``S``, ip, Mandel) — e.g. the output of ``dromo solve``; each stored step is a snapshot. The displacement
basis is computed (``--u-tol``) unless ``--basis`` gives a ``dromo pod`` archive. The output archive holds
the displacement modes, the reduced points (natural ids, weights, owning ranks, elements, local point
index, coordinates, the strain of every mode at the points) and, for every dual field, its modes and
their restriction to the points; layout in :mod:`dromo.rom.model`. Same result at any rank count with
the global variant. Several archives of one mesh are read in turn (their snapshots together); ``@T0:T1``
after an archive keeps its steps with ``T0 <= time <= T1`` (as ``dromo pod``).
"""


def _steps(text):
    import numpy as np
    if text is None:
        return None
    if ":" in text:
        a, b = text.split(":", 1)
        return np.arange(int(a or 0), int(b))
    return np.array([int(s) for s in text.split(",")])


def _windows(args, comm):
    """``(paths, steps)``: ``PATH@T0:T1`` arguments become per-archive step selections (the times of the
    displacement field inside the window); without windows, ``--steps`` for every archive."""
    from ..errors import InputError
    from ..io.archive import Archive
    from ..parallel import collective
    from ..reduction.sources import parse_archive_window, window_steps
    parsed = [parse_archive_window(a) for a in args.snapshots]
    paths = [p for p, _ in parsed]
    if all(w is None for _, w in parsed):
        return paths, _steps(args.steps)
    with collective(comm):
        if args.steps is not None:
            raise InputError("give either --steps or time windows (ARCHIVE@T0:T1), not both")
    steps = []
    for path, win in parsed:
        with Archive.open(path, comm) as ar:
            times = ar.field_info(args.u_field)["time"]
        steps.append(window_steps(times, win, f"{path}: field {args.u_field}"))
    return paths, steps


def run(args):
    from mpi4py import MPI
    from ..parallel import get_logger
    from ..rom.offline import hyperreduce
    log = get_logger("dromo.cli.hyperreduce")
    comm = MPI.COMM_WORLD
    paths, steps = _windows(args, comm)
    rom = hyperreduce(paths, args.output, comm, basis=args.basis, u_field=args.u_field,
                      stress_field=args.stress_field, u_tol=args.u_tol, u_max_modes=args.max_modes, tol=args.tol,
                      variant=args.variant, max_points=args.max_points,
                      subdomains_per_rank=args.subdomains_per_rank, stress_tol=args.stress_tol,
                      dual_fields=args.dual, dual_tol=args.dual_tol, steps=steps)
    q = rom.quadrature
    log.info("%d reduced points (%d ECM; relative error of the reduced internal-force integrals over the "
             "training snapshots %.3e%s); %d displacement modes; dual: %s", rom.n_points, q["n_ecm_points"],
             q["error"], "" if q["converged"] else ", NOT CONVERGED", rom.n_modes,
             ", ".join(f"{f} ({d.n_modes} modes, Lebesgue {d.fit.lebesgue:.3g})" for f, d in rom.duals.items())
             or "none")
    return 0


def register(sub):
    p = sub.add_parser("hyperreduce", help="ECM reduced integration + QDEIM/Gappy-POD dual operators",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOTS.h5[@T0:T1]",
                   help="dromo archive(s) of one mesh with U (node) and S (ip) snapshots; @T0:T1 keeps the steps "
                        "with T0 <= time <= T1 of that archive")
    p.add_argument("--basis", default=None, help="dromo pod archive holding the displacement basis")
    p.add_argument("--u-field", default="U", help="displacement field (default U)")
    p.add_argument("--stress-field", default="S", help="stress field (default S)")
    p.add_argument("--u-tol", type=float, default=1e-6, help="POD tolerance of the displacements")
    p.add_argument("--max-modes", type=int, default=None, help="at most K displacement modes")
    p.add_argument("--tol", type=float, default=1e-4, help="ECM relative integration tolerance")
    p.add_argument("--variant", choices=["global", "partitioned"], default="global",
                   help="global: rank-count independent points; partitioned: per subdomain")
    p.add_argument("--subdomains-per-rank", type=int, default=1, help="partitioned variant: subdomains per rank")
    p.add_argument("--max-points", type=int, default=None, help="maximum number of ECM points")
    p.add_argument("--stress-tol", type=float, default=None,
                   help="compress the stress snapshots by a weighted POD first (energy tolerance)")
    p.add_argument("--dual", nargs="*", default=None, metavar="FIELD",
                   help="integration-point fields rebuilt by Gappy-POD (default: S and p when stored)")
    p.add_argument("--dual-tol", type=float, default=1e-5, help="POD tolerance of the dual fields")
    p.add_argument("--steps", default=None, help="snapshot steps: A:B or a comma list (default all)")
    p.add_argument("-o", "--output", required=True, help="output ROM archive (HDF5)")
    p.set_defaults(func=run)
