"""The counting hook (:class:`dromo.parallel.counting.CountingComm`): same results as the plain
communicator, and bytes / messages per stage and call site following the documented convention."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.parallel import allreduce_sum, broadcast_arrays, fetch_rows
from dromo.parallel.counting import CountingComm, held_bytes
from dromo.parallel.redistribute import Redistributor

COMM = MPI.COMM_WORLD


@pytest.mark.mpi
def test_counts_follow_the_convention():
    cc = CountingComm(COMM)
    P, r = COMM.size, COMM.rank
    with cc.stage("sum"):
        s = allreduce_sum(np.full(10, r + 1.0), cc)
    np.testing.assert_array_equal(s, np.full(10, P * (P + 1) / 2))
    b, m = cc.totals("sum")
    if P == 1:
        assert (b, m) == (0, 0)                           # serial: no MPI call at all
    else:                                                 # Allreduce everywhere + Bcast of rank 0
        assert (b, m) == ((80, 1) if r else (160, 2))
    with cc.stage("bcast"):
        a = np.arange(6.0) if r == 0 else np.zeros(6)
        broadcast_arrays([a], cc)
    assert cc.totals("bcast") == ((48, 1) if r == 0 and P > 1 else (0, 0))
    np.testing.assert_array_equal(a, np.arange(6.0))
    # an exchange to natural blocks: the rows a rank sends to others
    n = 4 * P
    ids = (np.arange(4) * P + r)                          # strided ownership: most rows travel
    with cc.stage("redist"):
        red = Redistributor(ids, n, cc)
        out = red.owned_to_natural(ids[:, None].astype(float) * np.ones((1, 3)))
    np.testing.assert_array_equal(out[:, 0], np.arange(*red.block))
    lo, hi = red.block
    mine = np.count_nonzero((ids >= lo) & (ids < hi))
    b, m = cc.totals("redist")
    if P > 1:   # Alltoall of counts, Alltoallv of the ids, Alltoallv of the values (3 doubles per row)
        assert m == 3
        assert b == 8 * (P - 1) + 8 * (4 - mine) + 24 * (4 - mine)
    # call sites name the function that made the MPI call
    sites = {site for (stage, site) in cc.counts}
    if P > 1:
        assert "dromo.parallel.collectives:allreduce_sum" in sites
        assert "dromo.parallel.redistribute:_alltoallv" in sites


@pytest.mark.mpi
def test_pickled_calls_and_petsc_objects_on_a_counting_comm():
    from petsc4py import PETSc
    cc = CountingComm(COMM)
    with cc.stage("rows"):
        rows, owners = fetch_rows(np.full((2, 2), COMM.rank, float), [2 * COMM.rank, 2 * COMM.rank + 1],
                                  [0, 2 * COMM.size - 1], cc)
    assert owners.tolist() == [0, COMM.size - 1]
    assert cc.totals("rows")[1] == (1 if COMM.size > 1 else 0)
    v = PETSc.Vec().createMPI(5 * COMM.size, comm=cc)     # PETSc takes the real handle
    v.set(1.0)
    assert v.sum() == 5 * COMM.size
    v.destroy()


def test_held_bytes_counts_each_buffer_once():
    a = np.zeros(100)

    class Holder:
        pass
    Holder.__module__ = "dromo.test"
    h = Holder()
    h.a, h.view, h.d = a, a[10:], {"b": np.zeros((3, 4), np.int64), "again": a}
    assert held_bytes(h) == 800 + 96
