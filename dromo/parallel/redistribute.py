"""Moving distributed data between a rank's *owned* ordering and the *natural* (file) ordering.

dromo numbers items (nodes, cells, integration points) two ways:

* the **natural** numbering, independent of the rank count (file order for nodes and cells; integration
  points numbered cell by cell in natural cell order). Archives store data in natural order.
* the **owned** layout: each rank holds a set of items it owns (nodes of its subdomain, integration
  points of its cells), in the order the rank uses them.

:class:`Redistributor` exchanges values between the two with one ``Alltoallv``: the natural order is
split in contiguous blocks, ``[start, stop)`` per rank (:func:`~dromo.parallel.comm.partition_range`),
which is what a collective HDF5 hyperslab read or write wants. No rank ever holds more than its block
plus its owned items.
"""
import numpy as np
from mpi4py import MPI

from .comm import partition_offsets, partition_range


class Redistributor:
    """Exchange plan between owned items and contiguous natural blocks.

    Parameters
    ----------
    owned_natural_ids : (n_owned,) int array
        Natural id of each item this rank owns, in the rank's owned order. Over all ranks the ids must
        form a permutation of ``range(n_global)``.
    n_global : int
        Total number of items.
    comm : MPI communicator
    """

    def __init__(self, owned_natural_ids, n_global, comm=None):
        self.comm = comm or MPI.COMM_WORLD
        self.n_global = int(n_global)
        ids = np.asarray(owned_natural_ids, dtype=np.int64)
        self.n_owned = ids.size
        p = self.comm.size
        self.start, self.stop = partition_range(self.n_global, self.comm)
        # Block owner of each natural id: the rank whose block contains it.
        bounds = partition_offsets(self.n_global, p)
        dest = np.searchsorted(bounds, ids, side="right") - 1
        order = np.argsort(dest, kind="stable")
        self._send_order = order                       # owned positions, grouped by destination
        self._send_counts = np.bincount(dest, minlength=p).astype(np.int64)
        send_ids = ids[order]
        self._recv_counts = np.empty(p, dtype=np.int64)
        self.comm.Alltoall(self._send_counts, self._recv_counts)
        recv_ids = np.empty(int(self._recv_counts.sum()), dtype=np.int64)
        self._alltoallv(send_ids, recv_ids, self._send_counts, self._recv_counts)
        # Where each received item goes in this rank's natural block.
        self._recv_pos = recv_ids - self.start
        if recv_ids.size != self.stop - self.start or (
                recv_ids.size and np.bincount(self._recv_pos, minlength=self.stop - self.start).max() != 1):
            raise ValueError("owned natural ids do not form a permutation of range(n_global)")
        if p == 1:                                     # the two permutations, for one gather each way
            self._natural_of_owned = np.empty(self.n_owned, dtype=np.int64)
            self._natural_of_owned[order] = self._recv_pos          # owned position -> natural position
            self._owned_of_natural = np.empty(self.n_owned, dtype=np.int64)
            self._owned_of_natural[self._natural_of_owned] = np.arange(self.n_owned)

    def _alltoallv(self, send, recv, scounts, rcounts, width=1):
        sdispl = np.concatenate(([0], np.cumsum(scounts)[:-1])) * width
        rdispl = np.concatenate(([0], np.cumsum(rcounts)[:-1])) * width
        mpitype = MPI._typedict[send.dtype.char]
        self.comm.Alltoallv([send, (scounts * width, sdispl), mpitype],
                            [recv, (rcounts * width, rdispl), mpitype])

    @property
    def block(self):
        """This rank's natural block ``(start, stop)``."""
        return self.start, self.stop

    def owned_to_natural(self, values):
        """Values on owned items, shape (n_owned, ...) → this rank's natural block (stop-start, ...)."""
        values = np.asarray(values)
        if values.shape[0] != self.n_owned:
            raise ValueError(f"expected {self.n_owned} owned rows, got {values.shape[0]}")
        trailing = values.shape[1:]
        if self.comm.size == 1:                       # one rank: a permutation, one gather
            return values[self._owned_of_natural]
        width = int(np.prod(trailing, dtype=np.int64))
        send = np.ascontiguousarray(values[self._send_order]).reshape(-1)
        recv = np.empty(int(self._recv_counts.sum()) * width, dtype=values.dtype)
        self._alltoallv(send, recv, self._send_counts, self._recv_counts, width)
        out = np.empty((self.stop - self.start,) + trailing, dtype=values.dtype)
        out[self._recv_pos] = recv.reshape((-1,) + trailing)
        return out

    def natural_to_owned(self, block_values):
        """This rank's natural block (stop-start, ...) → values on owned items (n_owned, ...)."""
        block_values = np.asarray(block_values)
        if block_values.shape[0] != self.stop - self.start:
            raise ValueError(f"expected {self.stop - self.start} natural rows, got {block_values.shape[0]}")
        trailing = block_values.shape[1:]
        if self.comm.size == 1:
            return block_values[self._natural_of_owned]
        width = int(np.prod(trailing, dtype=np.int64))
        send = np.ascontiguousarray(block_values[self._recv_pos]).reshape(-1)
        recv = np.empty(self.n_owned * width, dtype=block_values.dtype)
        self._alltoallv(send, recv, self._recv_counts, self._send_counts, width)
        out = np.empty((self.n_owned,) + trailing, dtype=block_values.dtype)
        out[self._send_order] = recv.reshape((-1,) + trailing)
        return out
