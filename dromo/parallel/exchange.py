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

__all__ = ["Exchange", "stripe_of"]


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
