"""Implicit time stepping with automatic cut-back and regrowth, archive output and checkpoint/restart.

``run(problem, output, restart=None, checkpoint_every=10)`` (collective):

* the time loop is :func:`~dromo.hf.march.march` (cut-back on a failed increment —
  :class:`~dromo.errors.ConvergenceError` from :func:`~dromo.hf.newton.hf_increment`: global Newton,
  local law, KSP —, regrowth after easy increments, or fixed steps), with one
  :class:`~dromo.hf.newton.TangentSolver` for the whole run;
* every converged increment is appended to the output archive (:class:`~dromo.hf.state.OutputWriter`;
  the initial state is step 0);
* every ``checkpoint_every`` increments the state is written into ``/checkpoint`` and the archive is
  closed (atomically renamed: ``output`` is then a valid archive of everything so far) and reopened.
  A killed run restarted with ``restart=output`` (or ``dromo solve … --restart``) continues from there
  and produces the same result as an uninterrupted one, bit for bit at the same rank count (the linear
  solver's history is reset at every checkpoint; the partition and the reductions are reproducible);
* when the step would go below ``time.dt_min`` (or a fixed step fails) the last converged state is
  checkpointed, the archive closed, and ConvergenceError raised saying so;
* on SIGTERM or SIGUSR1 (a SLURM time limit; when the command line installed its stop handlers,
  :mod:`dromo.parallel.signals`) all ranks stop together before the next increment, the last converged
  state is checkpointed, the archive closed (valid) and :class:`~dromo.parallel.signals.Interrupted`
  raised naming the archive to restart from (the command line exits with status 75).
"""
import os

from ..errors import ConvergenceError
from ..parallel.log import get_logger
from ..parallel.signals import Interrupted
from .march import march, new_stepping
from .newton import TangentSolver, hf_increment
from .state import OutputWriter, initial_state, read_checkpoint, write_checkpoint

log = get_logger(__name__)


def _open_append(path, final, comm):
    from ..io.archive import Archive
    ar = Archive.open(path, comm, mode="a")
    ar.final_path = final          # land on the output path (may differ from the restart file)
    return ar


def run(problem, output, restart=None, checkpoint_every=10, write_initial=True):
    """Solve ``problem`` over its time span into the archive ``output``. Returns (final State, summary).

    ``summary``: increments, cutbacks, newton_iterations, ksp_iterations, increment_seconds, seconds, time,
    linear_solver (the mode the :class:`TangentSolver` chose: "direct", "iterative" or "user").
    Raises ConvergenceError after saving the last converged state (checkpoint in ``output``).
    """
    from ..io.archive import Archive
    comm = problem.comm
    output = os.fspath(output)
    solver = TangentSolver(problem)
    if restart is not None:
        restart = os.fspath(restart)
        ar = _open_append(restart, output, comm)
        writer = OutputWriter(problem, ar, create=False)
        state, stepping, n_out = read_checkpoint(ar, problem)
        writer.truncate(n_out)
        log.info("restart from %s at t = %g (increment %d)", restart, state.time, state.increment)
    else:
        ar = Archive.create(output, comm, attrs={"provenance": f"dromo solve ({problem.name})"})
        writer = OutputWriter(problem, ar)
        state = initial_state(problem)
        if write_initial:
            writer.write(state)
        stepping = new_stepping(problem.time)
    box = {"archive": ar}

    def step(st, dt):
        return hf_increment(problem, st, dt, solver=solver)

    def converged(st, dt):
        writer.write(st)

    def checkpoint(st, stepping_):
        write_checkpoint(box["archive"], problem, st, stepping_, writer.n_steps())
        box["archive"].close()
        box["archive"] = writer.archive = _open_append(output, output, comm)
        # a restart from here starts with a fresh solver: so does the uninterrupted run
        solver.reset()

    def failed(st, stepping_, reason=None):
        write_checkpoint(box["archive"], problem, st, stepping_, writer.n_steps())
        box["archive"].close()
        box["archive"] = None

    try:
        try:
            state, summary = march(step, state, problem.time, on_converged=converged, on_checkpoint=checkpoint,
                                   on_failure=failed, stepping=stepping, checkpoint_every=checkpoint_every,
                                   label=problem.name, describe=("ksp_iterations",), on_stop=failed, comm=comm)
        except ConvergenceError as exc:
            raise ConvergenceError(f"{exc}. The last converged state is in {output} (restart with --restart "
                                   f"{output})") from exc
        except Interrupted as exc:
            raise Interrupted(f"{exc}; the state is saved in {output} (continue with --restart {output})",
                              exc.signum, time=exc.time, output=output) from exc
        write_checkpoint(box["archive"], problem, state, summary["stepping"], writer.n_steps())
        box["archive"].close()
        box["archive"] = None
    finally:
        if box["archive"] is not None:
            box["archive"].close(success=False)
    summary["linear_solver"] = solver.mode
    return state, summary
