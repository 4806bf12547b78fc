"""``dromo calibrate ROM.h5 --run CASE.toml REFERENCE.h5 [--run ...] [-o ROM2.h5] [--plot PNG]``: learn the map
from the error indicator to the true error (:mod:`dromo.rom.indicator`) from cases with HF reference results
the model was not trained on, and store it in the model (in place, atomically, or in a copy ``-o``).
"""
from mpi4py import MPI


def run(args):
    from ..rom.indicator import calibrate, plot_calibration
    from ..rom.model import ReducedModel
    comm = MPI.COMM_WORLD
    rom = ReducedModel.load(args.rom, comm)
    cal, report = calibrate(rom, [tuple(r) for r in args.run], comm, field=args.field, measure=args.measure)
    rom.save_calibration(cal, args.output)
    if comm.rank == 0:
        if args.plot:
            plot_calibration(cal, report, args.plot)
        for r in report:
            print(f"  {r['name']}: max indicator {r['indicator']:.3g}, max error of {cal.measure} {r['error']:.3g}")
        print(f"dromo calibrate: estimate = {cal.estimate(1.0):.3g} · η^{cal.slope:.3g} from {cal.n} steps of "
              f"{len(report)} runs; Spearman rank correlation {cal.spearman_step:.3f} per step, "
              f"{cal.spearman_run:.3f} per run; stored in {rom.path}" + (f"; plot {args.plot}" if args.plot else ""))
    return 0


def register(sub):
    p = sub.add_parser("calibrate", help="calibrate the error indicator of a model against HF reference runs",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("rom", help="ROM archive from `dromo offline`")
    p.add_argument("--run", nargs=2, action="append", required=True, metavar=("CASE", "REFERENCE"),
                   help="a case file and its HF result archive (repeat)")
    p.add_argument("--field", default="p", help="dual field of the indicator (default p)")
    p.add_argument("--measure", choices=("u", "p"), default="u", help="error measured (default u)")
    p.add_argument("-o", "--output", default=None, help="write the calibrated model there (default: in place)")
    p.add_argument("--plot", default=None, help="PNG scatter plot of indicator against error")
    p.set_defaults(func=run)
