"""Implicit time stepping with automatic cut-back and regrowth, archive output and checkpoint/restart.

``run(problem, output, restart=None, checkpoint_every=10)`` (collective):

* increments of ``dt`` (the last one shortened to land on ``time.end``); on a failed increment
  (:class:`~dromo.errors.ConvergenceError` from :func:`~dromo.hf.newton.hf_increment`: global Newton,
  local law, KSP) the step is cut by ``time.cutback`` and retried from the last converged state; after
  ``time.easy_increments`` consecutive increments converged in ≤ ``time.easy_iterations`` Newton
  iterations it grows by ``time.growth`` (up to ``time.dt_max``). ``time.fixed``: neither.
* every converged increment is appended to the output archive (:class:`~dromo.hf.state.OutputWriter`;
  the initial state is step 0);
* every ``checkpoint_every`` increments the state is written into ``/checkpoint`` and the archive is
  closed (atomically renamed: ``output`` is then a valid archive of everything so far) and reopened.
  A killed run restarted with ``restart=output`` (or ``dromo solve … --restart``) continues from there
  and produces the same result as an uninterrupted one, bit for bit at the same rank count (the linear
  solver's history is reset at every checkpoint; the partition and the reductions are reproducible);
* when the step would go below ``time.dt_min`` (or a fixed step fails) the last converged state is
  checkpointed, the archive closed, and ConvergenceError raised saying so.
"""
import os
import time as _time


from ..errors import ConvergenceError
from ..parallel.log import get_logger
from .newton import hf_increment
from .state import OutputWriter, initial_state, read_checkpoint, write_checkpoint

log = get_logger(__name__)


def _open_append(path, final, comm):
    from ..io.archive import Archive
    ar = Archive.open(path, comm, mode="a")
    ar.final_path = final          # land on the output path (may differ from the restart file)
    return ar


def run(problem, output, restart=None, checkpoint_every=10, write_initial=True):
    """Solve ``problem`` over its time span into the archive ``output``. Returns (final State, summary).

    Raises ConvergenceError after saving the last converged state (checkpoint in ``output``).
    """
    from ..io.archive import Archive
    comm = problem.comm
    ts = problem.time
    output = os.fspath(output)
    tic = _time.perf_counter()
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
        stepping = dict(dt=ts.dt, easy=0)
    summary = dict(increments=0, cutbacks=0, newton_iterations=0, ksp_iterations=0, increment_seconds=[])
    eps_t = 1e-9 * ts.dt
    try:
        while ts.end - state.time > eps_t and state.increment < ts.max_increments:
            dt = min(stepping["dt"], ts.end - state.time)
            if ts.end - (state.time + dt) < 1e-6 * dt:
                dt = ts.end - state.time
            try:
                new = hf_increment(problem, state, dt)
            except ConvergenceError as exc:
                summary["cutbacks"] += 1
                if ts.fixed or stepping["dt"] * ts.cutback < ts.dt_min * (1 - 1e-12):
                    write_checkpoint(ar, problem, state, stepping, writer.n_steps())
                    ar.close()
                    ar = None
                    raise ConvergenceError(
                        f"{problem.name}: increment from t = {state.time:g} failed at the "
                        f"{'fixed' if ts.fixed else 'minimum'} time step {dt:g}: {exc}. The last converged "
                        f"state (t = {state.time:g}, increment {state.increment}) is in {output} "
                        f"(restart with --restart {output})") from exc
                stepping["dt"] *= ts.cutback
                stepping["easy"] = 0
                log.info("cut-back: %s; retrying with dt = %g", exc, stepping["dt"])
                continue
            state = new
            info = state.info
            summary["increments"] += 1
            summary["newton_iterations"] += info["iterations"]
            summary["ksp_iterations"] += info["ksp_iterations"]
            summary["increment_seconds"].append(info["seconds"])
            writer.write(state)
            log.info("increment %d: t = %g, dt = %g, %d Newton iterations (%d KSP), %.2f s",
                     state.increment, state.time, dt, info["iterations"], info["ksp_iterations"],
                     info["seconds"])
            if not ts.fixed:
                if info["iterations"] <= ts.easy_iterations:
                    stepping["easy"] += 1
                    if stepping["easy"] >= ts.easy_increments and stepping["dt"] < ts.dt_max:
                        stepping["dt"] = min(stepping["dt"] * ts.growth, ts.dt_max)
                        stepping["easy"] = 0
                else:
                    stepping["easy"] = 0
            if checkpoint_every and state.increment % int(checkpoint_every) == 0 and \
                    ts.end - state.time > eps_t:
                write_checkpoint(ar, problem, state, stepping, writer.n_steps())
                ar.close()
                ar = _open_append(output, output, comm)
                writer.archive = ar
                # a restart from here starts with a fresh solver: so does the uninterrupted run
                if getattr(problem, "_newton", None) is not None:
                    problem._newton.reset()
        write_checkpoint(ar, problem, state, stepping, writer.n_steps())
        ar.close()
        ar = None
    finally:
        if ar is not None:
            ar.close(success=False)
    summary["seconds"] = _time.perf_counter() - tic
    summary["time"] = state.time
    return state, summary
