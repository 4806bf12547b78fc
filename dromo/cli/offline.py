"""``dromo offline TRAIN.toml -o ROM.h5``: training runs → a reduced model that can solve new cases.

The training file (:mod:`dromo.rom.training` documents every key) lists the training runs — case files
solved with the reference solver when their result is missing (kept and reused afterwards), or archives
from ``dromo solve`` / ``dromo import`` — and the tolerances of the POD, the ECM and the dual fields.
Under ``mpirun`` every stage is distributed; the ROM archive reads at any rank count.
"""
from mpi4py import MPI


def run(args):
    from ..parallel import get_logger
    from ..rom.offline import build
    from ..rom.training import load_training
    log = get_logger("dromo.cli.offline")
    comm = MPI.COMM_WORLD
    runs, opts = load_training(args.training, comm)
    rom = build(runs, comm, **opts)
    rom.save(args.output, comm)
    log.info("wrote %s: %s", args.output, rom.summary())
    if comm.rank == 0:
        print(f"dromo offline: {rom.summary()}\n  wrote {args.output}")
    return 0


def register(sub):
    p = sub.add_parser("offline", help="build a reduced model from training runs (train.toml)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("training", help="training file (TOML): [[run]] case/result|archive, [pod], [ecm], [dual]")
    p.add_argument("-o", "--output", required=True, help="ROM archive (.h5)")
    p.set_defaults(func=run)
