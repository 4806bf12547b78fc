"""Stopping a long run cleanly on a signal: SLURM's time limit (SIGTERM), an early warning (SIGUSR1).

At its time limit SLURM sends SIGTERM to every task, then SIGKILL ``KillWait`` seconds later (30 s by
default); ``sbatch --signal=B:USR1@120`` asks for SIGUSR1 two minutes earlier (``launch/slurm_job.sh``
shows how to pass it to the ranks). OpenMPI's ``mpirun`` forwards SIGUSR1 to every rank; on SIGTERM it
forwards SIGTERM and kills the ranks ``odls_base_sigkill_timeout`` seconds later (1 s by default;
``launch/env.sh`` raises it to 20 s).

:func:`install_stop_handlers` makes those signals set a flag instead of killing the process.
:func:`stop_requested` is the collective check a time loop makes between increments: every rank gets
the same answer (the first signal any rank received), so all ranks stop together, write a checkpoint
and raise :class:`Interrupted`, which the command line turns into exit status :data:`EXIT_INTERRUPTED`
and the exact ``--restart`` command to continue.
"""
import signal

from mpi4py import MPI

from ..errors import DromoError

#: exit status of a run stopped by a signal after writing its checkpoint (EX_TEMPFAIL of sysexits.h:
#: "try again later"), so a job script can tell it from a failure and requeue
EXIT_INTERRUPTED = 75
#: the signals that ask for a clean stop
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

_received = []          # signal numbers received by this process, in order
_installed = {}         # signal number -> previous handler


class Interrupted(DromoError):
    """A run stopped on a signal after saving its state. Raised on every rank.

    Attributes: ``signum`` (the signal), ``time`` (the time reached), ``output`` (the archive holding the
    checkpoint, or None).
    """

    def __init__(self, message, signum, time=None, output=None):
        super().__init__(message)
        self.signum = signum
        self.time = time
        self.output = output


def signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _handler(signum, frame):
    _received.append(signum)


def install_stop_handlers(signals=STOP_SIGNALS):
    """Make ``signals`` request a clean stop (a flag checked by :func:`stop_requested`). Main thread only;
    idempotent. Returns the signals now handled."""
    for s in signals:
        if s not in _installed:
            _installed[s] = signal.signal(s, _handler)
    return tuple(_installed)


def handlers_installed():
    """Whether :func:`install_stop_handlers` is in effect (then time loops check for a stop by default)."""
    return bool(_installed)


def restore_handlers():
    """Put back the handlers that :func:`install_stop_handlers` replaced and forget received signals."""
    for s, previous in list(_installed.items()):
        signal.signal(s, previous)
        del _installed[s]
    _received.clear()


def local_stop_signal():
    """The first stop signal this process received, or 0 (no communication)."""
    return _received[0] if _received else 0


def stop_requested(comm=None):
    """Collective: the stop signal received by any rank of ``comm`` (the largest number if several), else 0.

    Every rank of ``comm`` must call it at the same point of the loop; all get the same value.
    """
    comm = comm or MPI.COMM_WORLD
    local = local_stop_signal()
    return local if comm.size == 1 else comm.allreduce(local, op=MPI.MAX)
