"""``dromo compare A.h5 B.h5``: relative errors in time of result A against the reference B (same mesh).

    dromo compare A.h5 B.h5 [--fields U p] [--skip-outside] [--weighted] [--json OUT.json] [--plot errors.png]

Runs at any rank count (each rank reads its natural block, one step at a time). The fields are compared
at the times of A, B interpolated linearly in time (the time grids may differ). Default fields: those
both archives have among U, S, p. Prints, on rank 0, per field: the max over time of ‖a − b‖ divided by
the max over time of ‖b‖, the time of the largest ‖a − b‖, the largest per-step relative error, the
largest pointwise |a − b| and the number of steps compared. ``--json`` writes every figure and the
per-step errors, ``--plot`` a PNG of the per-step relative errors against time. ``--weighted`` weighs
the norms of integration-point fields by the quadrature weights w_q·detJ (an L2 norm). See
:mod:`dromo.io.compare`.
"""
import json


def run(args):
    from mpi4py import MPI
    from ..io.compare import compare_results, plot_errors
    from ..plotting import pyplot
    from ..parallel import get_logger
    from ..parallel.errors import collective

    comm = MPI.COMM_WORLD
    log = get_logger("dromo.cli.compare")
    if args.plot:
        with collective(comm):                     # a missing matplotlib is an error before any work
            pyplot()
    results = compare_results(args.a, args.b, args.fields, comm,
                              outside="skip" if args.skip_outside else "error", weighted=args.weighted,
                              log=log)
    if comm.rank == 0:
        print(f"dromo compare: {args.a} against the reference {args.b}")
        print(f"{'field':<10} {'max|a-b|/max|b|':>16} {'worst time':>11} {'max step rel':>13} "
              f"{'max |a-b|':>11} {'steps':>6}")
        for name, r in results.items():
            print(f"{name:<10} {r.max_rel_error:>16.6e} {r.worst_time:>11.6g} {r.max_step_rel_error:>13.6e} "
                  f"{r.max_abs_diff:>11.4e} {r.n_steps:>6d}"
                  + (f"  ({len(r.skipped_times)} skipped)" if r.skipped_times else "")
                  + ("  (weighted by w_q detJ)" if r.weighted else ""))
    with collective(comm):
        if args.json and comm.rank == 0:
            with open(args.json, "w") as f:
                json.dump({"a": args.a, "b": args.b, "reference": "b",
                           "fields": {k: r.to_dict() for k, r in results.items()}}, f, indent=1)
        if args.plot:
            plot_errors(results, args.plot, title=f"{args.a} against {args.b}", comm=comm)
    if comm.rank == 0:
        for what, path in (("figures", args.json), ("plot", args.plot)):
            if path:
                print(f"  {what} written to {path}")
    return 0


def register(sub):
    p = sub.add_parser("compare", help="relative errors in time of a result against a reference on the same mesh",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="result archive to check (e.g. the ROM result)")
    p.add_argument("b", help="reference result archive (e.g. the HF result of dromo solve)")
    p.add_argument("--fields", nargs="+", default=None, metavar="FIELD",
                   help="fields to compare (default: those both archives have among U, S, p)")
    p.add_argument("--skip-outside", action="store_true",
                   help="skip the times of A outside the reference's time span (default: an error)")
    p.add_argument("--weighted", action="store_true",
                   help="weigh the norms of integration-point fields by the quadrature weights w_q·detJ")
    p.add_argument("--json", default=None, metavar="OUT.json", help="write the figures as JSON")
    p.add_argument("--plot", default=None, metavar="PNG", help="plot the per-step relative errors")
    p.set_defaults(func=run)
