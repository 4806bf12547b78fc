"""A signal received by one rank stops every rank's time loop at the same increment; a failure on one
rank inside a collective library call is raised on every rank. Collective (1, 2 and 3 ranks)."""
import os
import signal
from types import SimpleNamespace

import pytest
from mpi4py import MPI

from dromo.errors import CollectiveError
from dromo.hf.march import march
from dromo.parallel import agree_or_abort
from dromo.parallel.signals import Interrupted, install_stop_handlers, restore_handlers, stop_requested

pytestmark = pytest.mark.mpi

TIME = SimpleNamespace(start=0.0, end=10.0, dt=1.0, dt_min=0.1, dt_max=1.0, cutback=0.5, growth=1.5,
                       easy_iterations=3, easy_increments=2, fixed=True, max_increments=100)


class _State(SimpleNamespace):
    pass


def _step(comm):
    def step(st, dt):
        comm.Barrier()                                   # a collective inside the increment, as Newton has
        if st.increment == 3 and comm.rank == comm.size - 1:
            os.kill(os.getpid(), signal.SIGUSR1)         # only the last rank gets the signal
        return _State(time=st.time + dt, increment=st.increment + 1, info={"iterations": 1})
    return step


def test_signal_on_one_rank_stops_all_ranks_together():
    comm = MPI.COMM_WORLD
    install_stop_handlers()
    stopped = []
    try:
        assert stop_requested(comm) == 0
        with pytest.raises(Interrupted) as info:
            march(_step(comm), _State(time=0.0, increment=0, info={}), TIME,
                  on_stop=lambda st, stepping, reason: stopped.append((st.increment, reason)))
    finally:
        restore_handlers()
    assert info.value.signum == signal.SIGUSR1
    assert stopped == [(4, signal.SIGUSR1)]              # the increment in progress was finished
    assert comm.allgather(stopped[0][0]) == [4] * comm.size


def test_march_without_stop_handlers_runs_to_the_end():
    comm = MPI.COMM_WORLD
    st, summary = march(lambda s, dt: _State(time=s.time + dt, increment=s.increment + 1, info={}),
                        _State(time=0.0, increment=0, info={}), TIME)
    assert st.increment == 10 and summary["increments"] == 10
    assert comm.allreduce(st.increment) == 10 * comm.size


def test_failure_on_one_rank_is_raised_on_every_rank():
    comm = MPI.COMM_WORLD
    exc = OSError("file write failed") if comm.rank == comm.size - 1 else None
    with pytest.raises(CollectiveError, match=f"rank {comm.size - 1}: OSError: file write failed"):
        agree_or_abort(exc, comm, seconds=30)
    agree_or_abort(None, comm)                            # no failure: returns on every rank
