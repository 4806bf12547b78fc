"""``dromo demo``: the whole story on the small built-in blade, under ``mpirun`` (``make demo``: 2 ranks).

HF training run (one nominal cycle) → ``dromo offline`` → ``dromo online`` on a loading it was not trained
on → ``dromo adapt`` over several cycles at hotter, faster conditions → HF references of the same runs →
comparison; ``OUT/report.md`` (table of wall times, speed-ups, u and p errors, modes, reduced points,
enrichments), PNG figures and XDMF archives for ParaView (:mod:`dromo.rom.demo`).
"""
from mpi4py import MPI


def run(args):
    from ..rom.demo import run_demo
    run_demo(args.out, MPI.COMM_WORLD, cycles=args.cycles, size=args.size)
    return 0


def register(sub):
    p = sub.add_parser("demo", help="offline → online → adapt on the built-in blade, with a report",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument("--cycles", type=int, default=3, help="cycles of the hot loading run by adapt (default 3)")
    p.add_argument("--size", default="small", choices=("small", "medium"),
                   help="blade mesh size (default small: about 1e4 dofs; medium: 2.6e5 dofs, hours)")
    p.set_defaults(func=run)
