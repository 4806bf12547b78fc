"""``dromo solve CASE.toml -o RESULT.h5 [--restart CHECKPOINT]``: the reference solver under ``mpirun``.

Runs the case's time stepping (:func:`dromo.hf.run`), writing every converged increment into the
archive (+ XDMF) and a checkpoint every ``[output] checkpoint_every`` increments. ``--restart`` continues
from the checkpoint in an archive written earlier (typically the same RESULT.h5 after a killed run).
PETSc options for the Newton solves: ``--petsc -hf_ksp_type preonly -hf_pc_type lu``.
"""
import numpy as np
from mpi4py import MPI


def run(args):
    from ..hf.case_file import load_case
    from ..hf.solver import run as solve
    comm = MPI.COMM_WORLD
    pb, opts = load_case(args.case, comm)
    every = opts["checkpoint_every"] if args.checkpoint_every is None else args.checkpoint_every
    state, s = solve(pb, args.output, restart=args.restart, checkpoint_every=every)
    inc = np.array(s["increment_seconds"]) if s["increment_seconds"] else np.zeros(1)
    if comm.rank == 0:
        print(f"dromo solve: {pb.name}: {pb.dm.n_dofs_global} dofs, {comm.size} ranks, "
              f"{s['increments']} increments to t = {s['time']:g} ({s['cutbacks']} cut-backs), "
              f"{s['newton_iterations']} Newton / {s['ksp_iterations']} KSP iterations, "
              f"{s['seconds']:.1f} s ({inc.mean():.3f} s per increment)")
        print(f"  wrote {args.output} (+ .xdmf for ParaView)")
    return 0


def register(sub):
    p = sub.add_parser("solve", help="solve a case file with the parallel reference solver")
    p.add_argument("case", help="case file (TOML)")
    p.add_argument("-o", "--output", required=True, help="result archive (.h5)")
    p.add_argument("--restart", default=None, help="continue from the checkpoint in this archive")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="checkpoint every N increments (default: the case's, else 10)")
    p.set_defaults(func=run)
