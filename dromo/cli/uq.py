"""``dromo uq DICT.h5 CASE.toml --draws N --seed S -o UQ.h5``: Monte Carlo with a ROM dictionary.

The draws of the random temperature field (the dictionary's KL modes) are spread over the ranks; each
rank classifies its draws and solves them alone with their local ROM, then with the global ROM for
comparison. Quantities of interest (max p and max von Mises stress over the part and time, the
displacement of monitored node sets), their statistics (mean, standard deviation, quantiles, exceedance
of thresholds), PNG histograms (``UQ_hist_<qoi>.png``) and the draws flagged by the error indicator are
reported and stored (:mod:`dromo.uq.run`).
"""
from mpi4py import MPI

from ..errors import InputError


def _pairs(items, what):
    out = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            raise InputError(f"{what}: expected NAME=VALUE, got {it!r}") from None
        if not sep or not k:
            raise InputError(f"{what}: expected NAME=VALUE, got {it!r}")
    return out


def run(args):
    from ..uq.run import INDICATOR_TOL, run_uq
    comm = MPI.COMM_WORLD
    tol = dict(INDICATOR_TOL, **_pairs(args.indicator_tol, "--indicator-tol"))
    f = run_uq(args.dictionary, args.case, args.draws, seed=args.seed, output=args.output, comm=comm,
               monitors=args.monitor, thresholds=_pairs(args.threshold, "--threshold"), quantiles=args.quantiles,
               indicator_tol=tol, compare_global=not args.no_global)
    if comm.rank == 0:
        print(f"dromo uq: {f['draws']} draws on {f['ranks']} rank(s), {f['online_s']:.2f} s online "
              f"({1e3 * f['online_per_draw_s']:.2f} ms per draw), clusters used {f['cluster_counts']}")
        for n, s in f["stats"].items():
            q = ", ".join(f"q{k}={v:.5g}" for k, v in s["quantiles"].items())
            ex = f", P(>{s['threshold']:g}) = {s['exceedance']:.4f}" if "threshold" in s else ""
            print(f"  {n}: mean {s['mean']:.5g}, std {s['std']:.4g}, {q}{ex}")
        if "global_vs_dictionary" in f:
            print("  global ROM vs dictionary, largest relative QoI difference: "
                  + ", ".join(f"{n} {v:.3g}" for n, v in f["global_vs_dictionary"].items()))
        print(f"  flagged by the error indicators {f['indicator_tol']}: {len(f['flagged'])} draw(s)"
              + (f" {f['flagged'][:20]}" if f["flagged"] else "") + f"; failed: {f['failed']}")
        print(f"  wrote {args.output}")
    return 0


def register(sub):
    p = sub.add_parser("uq", help="Monte Carlo over random temperature fields with a ROM dictionary",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("dictionary", help="ROM dictionary (dromo dictionary)")
    p.add_argument("case", help="the case file (nominal temperature; same mesh)")
    p.add_argument("--draws", type=int, default=1008, help="Monte Carlo draws (default 1008)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    p.add_argument("--monitor", nargs="*", default=[], metavar="SET",
                   help="node sets whose mean displacement is a QoI (u_SET)")
    p.add_argument("--threshold", nargs="*", metavar="QOI=VALUE", help="exceedance thresholds, e.g. p_max=0.002")
    p.add_argument("--quantiles", nargs="*", type=float, default=[0.05, 0.5, 0.95])
    p.add_argument("--indicator-tol", nargs="*", metavar="FIELD=TOL",
                   help="flag draws whose indicator exceeds TOL (default S=0.003 p=0.03)")
    p.add_argument("--no-global", action="store_true", help="skip the global ROM comparison")
    p.add_argument("-o", "--output", required=True, help="UQ result archive (.h5)")
    p.set_defaults(func=run)
