"""Collective error discipline: an exception on one rank never leaves the others hanging.

Two mechanisms:

* :func:`collective` — a context manager around a block every rank enters. If the block raises on any
  rank, every rank raises :class:`~dromo.errors.CollectiveError` carrying each failing rank's message
  (the failing ranks chain their original exception). Use it around work that may fail on some ranks
  only (reading input, local law integrations, checks on local data) *before* the next collective call.
* :func:`agree_or_abort` — :func:`raise_collectively` for failures *inside* a collective library call
  (HDF5 over MPI-IO): a rank whose call failed may have left a collective operation the others are
  still blocked in. It waits a bounded time for the others to reach the exchange, and aborts the job
  (after cleaning up and printing its error) if they do not.
* :func:`install_excepthook` — the backstop for everything else: an uncaught exception under MPI with
  more than one rank prints the rank and message and calls ``MPI.Abort``, which ends the whole job
  instead of leaving other ranks blocked in a collective call. ``SystemExit`` never reaches
  ``sys.excepthook`` (and a rank leaving through ``MPI_Finalize`` waits for the others for ever): the
  command line (:func:`dromo.cli.main.main`) aborts the job on any ``BaseException`` of one rank.

Third-party readers are called inside :class:`dromo.errors.no_exit`, so their ``sys.exit`` becomes an
InputError naming the file; :func:`collective` treats any ``BaseException`` as a failure of its rank.
"""
import sys
import time
import traceback
from contextlib import contextmanager

import numpy as np
from mpi4py import MPI

from ..errors import CollectiveError, CollectiveInputError, DromoError, InputError


def raise_collectively(exc, comm=None):
    """Exchange the local failure status (``exc`` is an exception or None) and raise everywhere if any.

    Collective: every rank must call it. Returns normally only when no rank failed.
    """
    comm = comm or MPI.COMM_WORLD
    if exc is None:
        local = None
    elif isinstance(exc, DromoError):
        local = (type(exc).__name__, str(exc))
    elif isinstance(exc, SystemExit):
        local = ("SystemExit", f"SystemExit: sys.exit({exc.code!r}) called (by a library?)")
    else:
        local = (type(exc).__name__, f"{type(exc).__name__}: {exc}")
    if comm.size == 1:
        statuses = [local]
    else:
        statuses = comm.allgather(local)
    failures = [(r, s[0], s[1]) for r, s in enumerate(statuses) if s is not None]
    if not failures:
        return
    input_errors = {c.__name__ for c in _subclasses(InputError)}
    cls = CollectiveInputError if any(t in input_errors for _r, t, _m in failures) else CollectiveError
    err = cls(failures)
    if exc is not None:
        raise err from exc
    raise err


def agree_or_abort(exc, comm=None, seconds=10.0, cleanup=None, status=1):
    """:func:`raise_collectively`, bounded in time on the failing ranks. Collective.

    The failure flags are combined by a non-blocking ``Iallreduce``. A rank without failure waits for it;
    a failing rank waits at most ``seconds``: if some rank has not arrived by then (it is blocked inside
    the collective call this rank left), the failing rank calls ``cleanup()`` (e.g. removes a temporary
    file), prints its error and calls ``MPI_Abort(status)``, which ends the whole job within seconds. When
    everyone arrives, failures are raised on every rank as by :func:`raise_collectively`.
    """
    comm = comm or MPI.COMM_WORLD
    if comm.size == 1:
        return raise_collectively(exc, comm)
    flag = np.array([0 if exc is None else 1], dtype=np.int32)
    out = np.zeros(1, dtype=np.int32)
    req = comm.Iallreduce(flag, out, op=MPI.MAX)
    if exc is None:
        req.Wait()
    else:
        deadline = time.monotonic() + float(seconds)
        while not req.Test():
            if time.monotonic() > deadline:
                try:
                    if cleanup is not None:
                        cleanup()
                finally:
                    sys.stderr.write(f"[rank {comm.rank}] error: {exc}\n[rank {comm.rank}] the other ranks did "
                                     f"not reach the error check within {seconds:g} s (blocked in the failed "
                                     f"collective operation): aborting the job\n")
                    sys.stderr.flush()
                    comm.Abort(status)
            time.sleep(0.005)
    if out[0]:
        raise_collectively(exc, comm)


def _subclasses(c):
    out = [c]
    for s in c.__subclasses__():
        out += _subclasses(s)
    return out


@contextmanager
def collective(comm=None):
    """Run a block on every rank of ``comm``; if it raises anywhere, raise ``CollectiveError`` everywhere.

    Any ``BaseException`` counts, ``SystemExit`` (a library calling ``sys.exit``) and
    ``KeyboardInterrupt`` included: a rank that left the block that way would leave the others blocked
    in their next collective call.

    Example::

        with collective(comm):
            data = read_my_part(path)      # may fail on rank 1 only
        # every rank reaches here, or every rank has raised
    """
    exc = None
    try:
        yield
    except GeneratorExit:       # a generator suspended in the block is being closed: not a failure
        raise
    except BaseException as e:  # noqa: BLE001 - SystemExit, KeyboardInterrupt too: re-raised collectively
        exc = e
    raise_collectively(exc, comm)


def install_excepthook(comm=None):
    """Abort the whole MPI job on an uncaught exception when running on more than one rank."""
    comm = comm or MPI.COMM_WORLD
    if comm.size == 1:
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        sys.stderr.write(f"[rank {comm.rank}] uncaught {exc_type.__name__}: {exc}\n")
        traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        sys.stderr.flush()
        try:
            comm.Abort(1)
        finally:
            previous(exc_type, exc, tb)

    sys.excepthook = hook
