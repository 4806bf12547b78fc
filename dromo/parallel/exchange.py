"""Request/reply exchanges of rows between ranks with one ``Alltoallv`` each way.

An :class:`Exchange` is built from the destination rank of every local item; :meth:`Exchange.forward`
sends rows of values to their destinations (received grouped by source rank, in the sender's item order
within a source), :meth:`Exchange.backward` sends rows computed for the received items back to the
items' senders, aligned with the original items. This is how the distributed mesh set-up asks the owner
of a *stripe* (a contiguous range of natural ids, :func:`~dromo.parallel.comm.partition_offsets`) about
ids it does not hold, without any rank holding an array over all ids.

:func:`stripe_of` gives the stripe owner of natural ids.
"""
import numpy as np
from mpi4py import MPI

from .comm import partition_offsets

__all__ = ["Exchange", "stripe_of", "Directory", "global_rank"]


def stripe_of(ids, n, n_parts):
    """(k,) int64 rank whose contiguous stripe of ``range(n)`` (:func:`partition_offsets`) holds each id."""
    bounds = partition_offsets(n, n_parts)
    return (np.searchsorted(bounds, np.asarray(ids, dtype=np.int64), side="right") - 1).astype(np.int64)


def _displs(counts):
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


class Exchange:
    """Communication plan for sending each local item to ``dest[i]`` (collective construction).

    Attributes
    ----------
    n_send : int        local items
    n_recv : int        items received by this rank
    source : (n_recv,) int64 rank that sent each received item
    """

    def __init__(self, dest, comm):
        self.comm = comm
        p = comm.size
        dest = np.asarray(dest, dtype=np.int64)
        self.n_send = dest.size
        self._order = np.argsort(dest, kind="stable")
        self._scounts = np.bincount(dest, minlength=p).astype(np.int64)
        self._rcounts = np.empty(p, dtype=np.int64)
        comm.Alltoall(self._scounts, self._rcounts)
        self.n_recv = int(self._rcounts.sum())
        self.source = np.repeat(np.arange(p, dtype=np.int64), self._rcounts)

    def _move(self, send, scounts, rcounts):
        send = np.ascontiguousarray(send)
        trailing = send.shape[1:]
        width = int(np.prod(trailing, dtype=np.int64))
        recv = np.empty((int(rcounts.sum()),) + trailing, dtype=send.dtype)
        mpitype = MPI._typedict[send.dtype.char]
        self.comm.Alltoallv([send.reshape(-1), (scounts * width, _displs(scounts) * width), mpitype],
                            [recv.reshape(-1), (rcounts * width, _displs(rcounts) * width), mpitype])
        return recv

    def forward(self, values):
        """Rows ``(n_send, ...)`` → the rows received by this rank ``(n_recv, ...)``, grouped by source."""
        values = np.asarray(values)
        if values.shape[0] != self.n_send:
            raise ValueError(f"expected {self.n_send} rows, got {values.shape[0]}")
        return self._move(values[self._order], self._scounts, self._rcounts)

    def backward(self, values):
        """Rows for the received items ``(n_recv, ...)`` → back to their senders, ``(n_send, ...)`` aligned
        with the items this plan was built from."""
        values = np.asarray(values)
        if values.shape[0] != self.n_recv:
            raise ValueError(f"expected {self.n_recv} rows, got {values.shape[0]}")
        got = self._move(values, self._rcounts, self._scounts)
        out = np.empty_like(got)
        out[self._order] = got
        return out


class Directory:
    """A distributed map of unique integer keys to int64 values: the pair ``(key, value)`` is held by rank
    ``key mod P`` (collective construction from the local pairs; O(pairs/P) per rank).

    ``duplicates``: ``"error"`` keeps every pair (:meth:`first_duplicate` reports a key given twice),
    ``"last"`` keeps, for a key given more than once, the largest value.

    Attributes: ``keys`` (sorted) and ``values`` of the pairs this rank holds.
    """

    def __init__(self, keys, values, comm, duplicates="error"):
        self.comm = comm
        keys = np.asarray(keys, dtype=np.int64)
        ex = Exchange(keys % comm.size, comm)
        k, v = ex.forward(keys), ex.forward(np.asarray(values, dtype=np.int64))
        order = np.lexsort((v, k))
        self.keys, self.values = k[order], v[order]
        if duplicates == "last" and self.keys.size:
            last = np.append(self.keys[1:] != self.keys[:-1], True)
            self.keys, self.values = self.keys[last], self.values[last]

    def first_duplicate(self):
        """The smallest key held more than once over all ranks, or ``None`` (collective)."""
        dup = self.keys[1:][self.keys[1:] == self.keys[:-1]]
        big = np.iinfo(np.int64).max
        m = self.comm.allreduce(int(dup.min()) if dup.size else big, op=MPI.MIN)
        return None if m == big else m

    def _find(self, keys):
        """Values of keys this rank holds (-1 where absent)."""
        out = np.full(keys.shape, -1, dtype=np.int64)
        if self.keys.size:
            j = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
            hit = self.keys[j] == keys
            out[hit] = self.values[j[hit]]
        return out

    def lookup(self, keys):
        """The values of ``keys`` (any shape; -1 for a key nobody holds). Collective."""
        keys = np.asarray(keys, dtype=np.int64)
        flat = keys.reshape(-1)
        ex = Exchange(flat % self.comm.size, self.comm)
        return ex.backward(self._find(ex.forward(flat))).reshape(keys.shape)


def global_rank(keys, comm, samples=64):
    """(k,) int64 position of each local key in the sorted union of every rank's keys (keys unique over
    the ranks): a sample sort, O(k) memory and one exchange each way. Collective."""
    keys = np.asarray(keys, dtype=np.int64)
    p = comm.size
    if p == 1:
        out = np.empty(keys.size, dtype=np.int64)
        out[np.argsort(keys, kind="stable")] = np.arange(keys.size)
        return out
    s = np.sort(keys)
    pick = s[np.linspace(0, s.size - 1, min(samples, s.size)).astype(np.int64)] if s.size else s
    allp = np.sort(np.concatenate(comm.allgather(pick)))
    split = allp[np.linspace(0, allp.size, p + 1).astype(np.int64)[1:-1].clip(0, max(allp.size - 1, 0))] \
        if allp.size else np.zeros(p - 1, np.int64)
    ex = Exchange(np.searchsorted(split, keys, side="right"), comm)
    got = ex.forward(keys)
    local = np.empty(got.size, dtype=np.int64)
    local[np.argsort(got, kind="stable")] = np.arange(got.size)
    before = comm.exscan(got.size) or 0
    return ex.backward(local + before)
