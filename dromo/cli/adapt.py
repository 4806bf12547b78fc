"""``dromo adapt ROM.h5 CASE.toml --tol TOL -o RESULT.h5 [--save-rom ROM2.h5] [--reconstruct U S p]``:
the reduced model with its error estimate, and an HF increment plus an enrichment of the model wherever an
estimate exceeds its ``--tol`` (:mod:`dromo.rom.adapt`). Under ``mpirun``: the HF increments use all ranks,
the reduced Newton runs on the same ranks between them. The estimate is the calibrated one when the model
carries a calibration (``dromo calibrate``), else the indicator itself.
"""
import time

from mpi4py import MPI


def run(args):
    from ..errors import ConvergenceError
    from ..parallel.signals import Interrupted
    from ..rom.adapt import adapt, checkpoint_path, remove_checkpoint, write_adapt_result
    from ..rom.model import ReducedModel
    comm = MPI.COMM_WORLD
    tic = time.perf_counter()
    rom = ReducedModel.load(args.rom, comm)
    tol = args.tol[0] if len(args.tol) == 1 else dict(zip(args.field or [], args.tol))
    if len(args.tol) > 1 and len(args.tol) != len(args.field or []):
        from ..errors import InputError
        raise InputError(f"--tol: {len(args.tol)} tolerances for {len(args.field or [])} --field names (give one "
                         f"tolerance, or one per field)")
    ckpt = checkpoint_path(args.output)
    try:
        r = adapt(rom, args.case, tol, comm, method=args.state_method, field=args.field,
                  reject_tol=args.reject_tol, max_enrichments=args.max_enrichments, checkpoint=ckpt,
                  restart=args.restart, checkpoint_every=args.checkpoint_every)
    except (ConvergenceError, Interrupted) as exc:
        msg = f"{exc}. The last state is checkpointed in {ckpt}: continue with --restart {ckpt}"
        if isinstance(exc, Interrupted):
            raise Interrupted(msg, exc.signum, exc.time, ckpt) from exc
        raise ConvergenceError(msg) from exc
    write_adapt_result(r, args.output, fields=args.reconstruct or ())
    if args.save_rom:
        r.rom.save(args.save_rom, comm)
    if comm.rank == 0:                  # the run is complete: its checkpoint (model files, sidecars) is not needed
        remove_checkpoint(ckpt)
    s, h = r.summary, r.history
    if comm.rank == 0:
        print(f"dromo adapt: {r.spec.get('name')}: {s['increments']} increments to t = {s['time']:g}, "
              f"{s['hf_increments']} HF increment(s) ({100.0 * s['hf_increments'] / max(s['increments'], 1):.1f} %), "
              f"{rom.n_modes} -> {r.rom.n_modes} modes, {rom.n_points} -> {r.rom.n_points} reduced points, "
              f"{comm.size} rank(s), {s['seconds']:.2f} s ({time.perf_counter() - tic:.2f} s in all)")
        for i, e in enumerate(h.enrichments):
            print(f"  enrichment {i + 1}: t = {e['time']:g}, estimate/tol {e['estimate']:.3g} -> {e['estimate_after']:.3g}, "
                  f"modes {e['modes_before']} -> {e['modes_after']}, points {e['points_before']} -> "
                  f"{e['points_after']}, {e['seconds']:.2f} s")
        print(f"  wrote {args.output}" + (f" with {' '.join(args.reconstruct)}" if args.reconstruct else "")
              + (f"; enriched model {args.save_rom}" if args.save_rom else ""))
    return 0


def register(sub):
    p = sub.add_parser("adapt", help="reduced model with error estimate and HF enrichment where it is wrong",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("rom", help="ROM archive from `dromo offline`")
    p.add_argument("case", help="case file (TOML, the format of `dromo solve`)")
    p.add_argument("--tol", type=float, nargs="+", required=True,
                   help="tolerance on the (calibrated) error estimate: one, or one per --field")
    p.add_argument("-o", "--output", required=True, help="result archive (.h5)")
    p.add_argument("--save-rom", default=None, help="write the enriched model there")
    p.add_argument("--reconstruct", nargs="*", default=None, metavar="FIELD",
                   help="full fields to write: U and the model's dual fields (e.g. S p)")
    p.add_argument("--state-method", choices=("replay", "gappy"), default="replay",
                   help="how the full state is rebuilt before an HF increment (default: replay the law "
                        "along the ROM's strain history)")
    p.add_argument("--field", nargs="+", default=None,
                   help="dual field(s) of the indicator (default p); e.g. --field S p --tol 0.005 0.05")
    p.add_argument("--reject-tol", type=float, default=1e-4,
                   help="a snapshot represented within this relative tolerance adds no mode (default 1e-4)")
    p.add_argument("--max-enrichments", type=int, default=None, help="cap on the number of enrichments")
    p.add_argument("--restart", default=None, help="continue from this checkpoint (RESULT.h5.restart.h5)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="checkpoint every N increments into RESULT.h5.restart.h5 (default: the case's, else 10)")
    p.set_defaults(func=run)
