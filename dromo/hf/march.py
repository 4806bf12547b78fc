"""One time-stepping loop for every solver: automatic cut-back and regrowth, or fixed steps.

``march(step, state, time, ...)`` advances ``state`` from ``state.time`` to ``time.end`` by calls of
``step(state, dt) -> new state`` (which raises :class:`~dromo.errors.ConvergenceError` on every rank of
its communicator when the increment fails; it never modifies ``state``). The HF solver
(:func:`dromo.hf.solver.run`), the online ROM and the adaptive loop all use it, so they cut and regrow
their steps alike:

* increments of ``dt`` (the last one shortened to land on ``time.end``; a remainder below ``1e-6 dt``
  is merged into the step before it);
* a failed increment is retried from the same state with ``dt × time.cutback``; after
  ``time.easy_increments`` consecutive increments converged in ≤ ``time.easy_iterations`` Newton
  iterations (``new.info["iterations"]``) the step grows by ``time.growth`` up to ``time.dt_max``;
  ``time.fixed``: neither;
* when the step would go below ``time.dt_min`` (or a fixed step fails), ``on_failure(state, stepping)``
  is called with the last converged state and :class:`ConvergenceError` is raised with a message naming
  the time, the step and the cause;
* every converged increment is logged with the fraction of the time span done and an ETA (elapsed time
  × the span left / the span done);
* ``on_converged(new, dt)`` after every converged increment; ``on_checkpoint(state, stepping)`` every
  ``checkpoint_every`` increments (not after the last one);
* before every increment ``should_stop()`` is asked whether to stop (a SLURM time limit: SIGTERM or
  SIGUSR1). It is collective and returns the same on every rank, so all ranks stop together, between
  increments: ``on_stop(state, stepping, reason)`` is called with the last converged state (e.g. to
  write a checkpoint) and :class:`~dromo.parallel.signals.Interrupted` is raised. By default, when the
  command line installed its stop handlers (:func:`~dromo.parallel.signals.install_stop_handlers`),
  ``should_stop`` is :func:`~dromo.parallel.signals.stop_requested` on ``comm`` (``MPI.COMM_WORLD``
  unless given: a loop running on a sub-communicator passes it, or ``should_stop=False``).

``stepping`` is the loop's own state (``{"dt": current step, "easy": counter}``): pass the one saved
in a checkpoint to continue a run exactly where it stopped.
"""
import time as _time

from ..errors import ConvergenceError
from ..parallel import signals
from ..parallel.log import get_logger

log = get_logger(__name__)


def new_stepping(time):
    """The loop state at the start of a run: ``{"dt": time.dt, "easy": 0}``."""
    return dict(dt=time.dt, easy=0)


def march(step, state, time, on_converged=None, on_checkpoint=None, on_failure=None, stepping=None,
          checkpoint_every=0, label="run", describe=None, should_stop=None, on_stop=None, comm=None):
    """Advance ``state`` to ``time.end`` (module docstring). Returns ``(final state, summary)``.

    ``summary``: increments, cutbacks, newton_iterations, seconds, increment_seconds (list), time,
    plus the sums of any numeric ``info`` entries named in ``describe`` (e.g. ``("ksp_iterations",)``).
    """
    ts = time
    stepping = dict(stepping or new_stepping(ts))
    describe = tuple(describe or ())
    summary = dict(increments=0, cutbacks=0, newton_iterations=0, increment_seconds=[])
    summary.update({k: 0 for k in describe})
    tic = _time.perf_counter()
    t_start = state.time
    eps_t = 1e-9 * ts.dt
    if should_stop is None and signals.handlers_installed():
        should_stop = lambda: signals.stop_requested(comm)  # noqa: E731
    while ts.end - state.time > eps_t and state.increment < ts.max_increments:
        reason = should_stop() if should_stop else 0
        if reason:
            name = signals.signal_name(reason) if isinstance(reason, int) else str(reason)
            log.warning("%s: %s received: stopping at t = %g (increment %d)", label, name, state.time,
                        state.increment)
            if on_stop is not None:
                on_stop(state, stepping, reason)
            raise signals.Interrupted(f"{label}: stopped by {name} at t = {state.time:g} (increment "
                                      f"{state.increment})", reason, time=state.time)
        dt = min(stepping["dt"], ts.end - state.time)
        if ts.end - (state.time + dt) < 1e-6 * dt:
            dt = ts.end - state.time
        t_inc = _time.perf_counter()
        try:
            new = step(state, dt)
        except ConvergenceError as exc:
            summary["cutbacks"] += 1
            if ts.fixed or stepping["dt"] * ts.cutback < ts.dt_min * (1 - 1e-12):
                if on_failure is not None:
                    on_failure(state, stepping)
                raise ConvergenceError(
                    f"{label}: increment from t = {state.time:g} failed at the "
                    f"{'fixed' if ts.fixed else 'minimum'} time step {dt:g}: {exc}") from exc
            stepping["dt"] *= ts.cutback
            stepping["easy"] = 0
            log.info("cut-back: %s; retrying with dt = %g", exc, stepping["dt"])
            continue
        seconds = _time.perf_counter() - t_inc
        state = new
        info = state.info
        its = int(info.get("iterations", 0))
        summary["increments"] += 1
        summary["newton_iterations"] += its
        summary["increment_seconds"].append(seconds)
        for k in describe:
            summary[k] += info.get(k, 0)
        if on_converged is not None:
            on_converged(state, dt)
        done = (state.time - t_start) / max(ts.end - t_start, 1e-300)
        eta = (_time.perf_counter() - tic) * (1.0 - done) / max(done, 1e-12)
        log.info("increment %d: t = %g, dt = %g, %d Newton iterations%s, %.3g s (%s %.0f %%, ETA %.0f s)",
                 state.increment, state.time, dt, its,
                 "".join(f", {info.get(k, 0)} {k.replace('_', ' ')}" for k in describe), seconds, label,
                 100.0 * done, eta)
        if not ts.fixed:
            if its <= ts.easy_iterations:
                stepping["easy"] += 1
                if stepping["easy"] >= ts.easy_increments and stepping["dt"] < ts.dt_max:
                    stepping["dt"] = min(stepping["dt"] * ts.growth, ts.dt_max)
                    stepping["easy"] = 0
            else:
                stepping["easy"] = 0
        if checkpoint_every and on_checkpoint is not None and state.increment % int(checkpoint_every) == 0 \
                and ts.end - state.time > eps_t:
            on_checkpoint(state, stepping)
    summary["seconds"] = _time.perf_counter() - tic
    summary["time"] = state.time
    summary["stepping"] = dict(stepping)
    return state, summary
