"""``dromo online ROM.h5 CASE.toml -o RESULT.h5 [--reconstruct U S p]``: solve a case with a reduced model.

CASE.toml is an ordinary case file (the one ``dromo solve`` takes) on the model's mesh; what the model
cannot represent is refused before any increment. One rank is enough; under ``mpirun`` the reduced
points are shared among the ranks (same result to round-off). The result archive holds the reduced
coordinates, the law values at the reduced points and the error indicators of every step;
``--reconstruct`` adds full fields (``U`` at the nodes, dual fields at every integration point) in the
layout of ``dromo solve`` results. When the reduced Newton fails at the minimum step, the steps
converged so far are written and the command exits non-zero; so it does when stopped by SIGTERM or
SIGUSR1 (a SLURM time limit: exit status 75).
"""
import time

from mpi4py import MPI


def run(args):
    from ..errors import ConvergenceError
    from ..parallel.signals import Interrupted
    from ..rom.model import ReducedModel
    from ..rom.online import solve
    from ..rom.result import write_result
    comm = MPI.COMM_WORLD
    tic = time.perf_counter()
    rom = ReducedModel.load(args.rom, comm)
    try:
        res = solve(rom, args.case, comm)
    except (ConvergenceError, Interrupted) as exc:
        partial = getattr(exc, "result", None)
        if partial is not None and partial.n_steps > 1:
            write_result(rom, partial, args.output, fields=args.reconstruct or (), comm=comm)
            msg = f"{exc}. The {partial.n_steps - 1} increments converged so far are in {args.output}"
            if isinstance(exc, Interrupted):
                raise Interrupted(msg + " (an online run restarts from the start: it is cheap)", exc.signum,
                                  exc.time, None) from exc
            raise ConvergenceError(msg) from exc
        raise
    write_result(rom, res, args.output, fields=args.reconstruct or (), comm=comm)
    s = res.summary
    if comm.rank == 0:
        per = 1e3 * s["seconds"] / max(s["increments"], 1)
        print(f"dromo online: {res.name}: {rom.n_modes} modes, {rom.n_points} reduced points, {comm.size} rank(s), "
              f"{s['increments']} increments to t = {s['time']:g} ({s['cutbacks']} cut-backs), "
              f"{s['newton_iterations']} reduced Newton iterations, {s['seconds']:.3f} s ({per:.2f} ms per "
              f"increment); {time.perf_counter() - tic:.2f} s in all")
        if res.indicator:
            print("  error indicators (max over time): " + ", ".join(f"{f} {max(v):.3g}"
                                                                  for f, v in res.indicator.items()))
        print(f"  wrote {args.output}" + (f" with {' '.join(args.reconstruct)} (+ .xdmf for ParaView)"
                                         if args.reconstruct else ""))
    return 0


def register(sub):
    p = sub.add_parser("online", help="solve a case with a reduced model (reduced Newton at the reduced points)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("rom", help="ROM archive from `dromo offline`")
    p.add_argument("case", help="case file (TOML, the format of `dromo solve`)")
    p.add_argument("-o", "--output", required=True, help="result archive (.h5)")
    p.add_argument("--reconstruct", nargs="*", default=None, metavar="FIELD",
                   help="full fields to write: U and the model's dual fields (e.g. S p)")
    p.set_defaults(func=run)
