"""``dromo dictionary TRAIN.toml -o DICT.h5``: a ROM dictionary for random temperature fields.

HF runs of the training draws (all ranks, one after the other; results kept and reused), the sine
dissimilarity between their trajectories, k-medoids (FasterPAM), the a-priori efficiency criterion for
k = 1 … K, one local ROM per cluster and a global ROM (the offline pipeline), and a classifier from the
draws' KL coefficients to the clusters with its cross-validated accuracy (:mod:`dromo.uq.dictionary`
documents the training file and the archive).
"""
from mpi4py import MPI


def run(args):
    from ..uq.dictionary import train
    comm = MPI.COMM_WORLD
    f = train(args.training, comm, output=args.output)
    if comm.rank == 0:
        print(f"dromo dictionary: {f['draws']} training draws ({f['hf_solved']} solved, {f['hf_s']:.1f} s), "
              f"{f['clusters']} clusters of sizes {f['sizes']}, classifier accuracy {f['accuracy']:.3f} "
              f"(cross-validated)")
        o = f["other_dissimilarity"]
        print(f"  a-priori criterion, {f['projection_modes']} modes per ROM: training projection error with the "
              f"{f['dissimilarity']} clustering (ratio to k = 1; the same with the {o} clustering):")
        for r in f["criterion"]:
            print(f"    k = {r['k']}: {r['error']:.3e}  ({r['ratio']:.3f};  {o} {r['error_' + o]:.3e})  "
                  f"sizes {r['sizes']}")
        print(f"  local ROMs: modes {f['modes']}, points {f['points']}; global ROM: {f['global_modes']} modes, "
              f"{f['global_points']} points; offline {f['offline_s']:.1f} s"
              + (f" (of which the dual bases over every draw {f['dual_bases_s']:.1f} s)" if "dual_bases_s" in f
                 else "") + f"\n  wrote {args.output}")
    return 0


def register(sub):
    p = sub.add_parser("dictionary", help="build a ROM dictionary over random temperature fields (train.toml)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("training", help="dictionary training file (TOML): case, results, [field], [draws], "
                                    "[dictionary], [pod], [ecm], [dual]")
    p.add_argument("-o", "--output", required=True, help="dictionary archive (.h5)")
    p.set_defaults(func=run)
