"""Rank-count independent collectives (dromo.parallel.collectives) and the row split: the same answer at
1, 2 and 3 ranks as on one process."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.parallel import (allreduce_sum, argmax_smallest_id, broadcast_arrays, broadcast_row, fetch_rows,
                            partition_offsets, partition_range)


def _rows(comm, n=23, p=4):
    """Global rows (n, p) and natural ids, dealt to the ranks in a rank-count dependent shuffle."""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((n, p))
    ids = rng.permutation(n) * 3 + 1                           # natural ids: not 0..n-1
    owner = rng.integers(0, comm.size, n)
    mine = np.flatnonzero(owner == comm.rank)
    return A, ids, A[mine], ids[mine], owner


@pytest.mark.parametrize("n, parts", [(0, 1), (7, 3), (10, 4), (2, 5), (100, 1)])
def test_partition_offsets_is_petsc_split(n, parts):
    off = partition_offsets(n, parts)
    sizes = np.diff(off)
    assert off[0] == 0 and off[-1] == n and sizes.max() - sizes.min() <= 1
    assert np.all(sizes[:-1] >= sizes[1:])                     # the first n % parts blocks get one more


@pytest.mark.mpi
def test_partition_range_tiles_the_items(comm):
    for n in (0, 1, 5, 17):
        blocks = comm.allgather(partition_range(n, comm))
        assert blocks[0][0] == 0 and blocks[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))


@pytest.mark.mpi
def test_allreduce_sum_is_bitwise_replicated_and_matches_serial(comm):
    A, ids, A_loc, ids_loc, _ = _rows(comm)
    s = allreduce_sum(A_loc.T @ A_loc, comm)
    gathered = comm.allgather(s)
    assert all(np.array_equal(g, s) for g in gathered)         # bit for bit on every rank
    assert np.allclose(s, A.T @ A, rtol=1e-13, atol=1e-13)
    n = allreduce_sum(np.array([ids_loc.size], np.int64), comm)
    assert n.dtype == np.int64 and n[0] == A.shape[0]
    assert allreduce_sum(A_loc, None) is A_loc or np.array_equal(allreduce_sum(A_loc, None), A_loc)


@pytest.mark.mpi
def test_argmax_smallest_id_picks_the_same_row_at_any_rank_count(comm):
    A, ids, A_loc, ids_loc, owner = _rows(comm)
    score = np.abs(A[:, 0])
    score_loc = np.abs(A_loc[:, 0])
    gid, own, gmax = argmax_smallest_id(score_loc, ids_loc, comm)
    ref = argmax_smallest_id(score, ids, None)
    assert (gid, gmax) == (ref[0], ref[2]) and ref[1] == 0
    assert own == owner[np.flatnonzero(ids == gid)[0]]
    # ties within the window: the smallest natural id wins, wherever it lives
    flat = np.ones(ids_loc.size)
    gid, own, _ = argmax_smallest_id(flat, ids_loc, comm)
    assert gid == ids.min() and own == owner[np.argmin(ids)]
    # excluded rows (-inf) are never chosen; nothing finite left: (-1, -1, -inf)
    masked = np.where(ids_loc == ids.min(), -np.inf, flat)
    assert argmax_smallest_id(masked, ids_loc, comm)[0] == np.sort(ids)[1]
    assert argmax_smallest_id(np.full(ids_loc.size, -np.inf), ids_loc, comm)[:2] == (-1, -1)


@pytest.mark.mpi
def test_broadcast_row_and_fetch_rows(comm):
    A, ids, A_loc, ids_loc, owner = _rows(comm)
    gid, own, _ = argmax_smallest_id(A_loc[:, 1], ids_loc, comm)
    li = int(np.flatnonzero(ids_loc == gid)[0]) if own == comm.rank else -1
    assert np.array_equal(broadcast_row(A_loc, li, own, comm), A[ids == gid][0])
    wanted = np.array([ids[5], ids[0], ids[17]])
    rows, ranks = fetch_rows(A_loc, ids_loc, wanted, comm)
    assert np.array_equal(rows, A[[5, 0, 17]]) and np.array_equal(ranks, owner[[5, 0, 17]])
    rows0, _ = fetch_rows(A_loc, ids_loc, [], comm)
    assert rows0.shape == (0, A.shape[1])
    with pytest.raises(InputError, match="unknown point ids"):
        fetch_rows(A_loc, ids_loc, [ids.max() + 1], comm)


@pytest.mark.mpi
def test_broadcast_arrays_from_any_root(comm):
    root = comm.size - 1
    a = np.full(3, float(comm.rank))
    b = np.full((2, 2), comm.rank, np.int64)
    broadcast_arrays([a, b], comm, root=root)
    assert np.all(a == root) and np.all(b == root)
    assert broadcast_arrays([a], MPI.COMM_SELF)[0] is a
