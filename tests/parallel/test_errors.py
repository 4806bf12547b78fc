"""Collective error discipline: a failure on one rank never leaves the others hanging."""
import textwrap
import time

import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import CollectiveError
from dromo.parallel import collective, partition_range
from dromo.parallel.redistribute import Redistributor

from .._mpi import run_mpi, serial_only


@pytest.mark.mpi
def test_collective_raises_on_every_rank(comm):
    with pytest.raises(CollectiveError) as info:
        with collective(comm):
            if comm.rank == comm.size - 1:
                raise ValueError("injected failure")
    assert info.value.failures[0][0] == comm.size - 1
    assert "injected failure" in str(info.value)
    assert f"rank {comm.size - 1}" in str(info.value)


@pytest.mark.mpi
def test_collective_passes_when_nobody_fails(comm):
    with collective(comm):
        x = comm.rank
    assert x == comm.rank


@pytest.mark.mpi
@pytest.mark.parametrize("n", [0, 1, 7, 100])
def test_redistributor_round_trip(comm, n):
    # owned items: a rank-count dependent shuffle of the natural ids
    rng = np.random.default_rng(12)
    perm = rng.permutation(n)
    owners = rng.integers(0, comm.size, n)
    mine = perm[owners[perm] == comm.rank]
    rd = Redistributor(mine, n, comm)
    values = np.stack([mine * 1.5, -mine * 1.0], axis=1)
    block = rd.owned_to_natural(values)
    s, e = partition_range(n, comm)
    assert np.array_equal(block[:, 0], np.arange(s, e) * 1.5)
    back = rd.natural_to_owned(block)
    assert np.array_equal(back, values)


_INJECT = textwrap.dedent("""
    import sys, time
    from mpi4py import MPI
    import dromo
    from dromo.parallel import collective, install_excepthook
    comm = MPI.COMM_WORLD
    mode = sys.argv[1]
    install_excepthook(comm)
    if mode == "collective":
        try:
            with collective(comm):
                if comm.rank == 1:
                    raise RuntimeError("disk full on rank one")
        except Exception as e:
            print(f"rank {comm.rank} caught: {e}", flush=True)
            sys.exit(3)
    else:   # uncaught exception on rank 1 while the others wait in a collective call
        if comm.rank == 1:
            raise RuntimeError("disk full on rank one")
        comm.Barrier()
    print("not reached", flush=True)
""")


@serial_only
@pytest.mark.parametrize("mode", ["collective", "uncaught"])
def test_failure_on_rank_1_of_3_ends_all_ranks(tmp_path, mode):
    script = tmp_path / "inject.py"
    script.write_text(_INJECT)
    import sys
    t0 = time.time()
    p = run_mpi(3, [sys.executable, str(script), mode], timeout=120)
    assert time.time() - t0 < 120
    assert p.returncode != 0
    assert "not reached" not in p.stdout
    out = p.stdout + p.stderr
    assert "disk full on rank one" in out
    if mode == "collective":
        for r in range(3):
            assert f"rank {r} caught: rank 1: RuntimeError: disk full on rank one" in p.stdout
