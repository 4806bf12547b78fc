"""Counting of dromo's own communication: bytes sent and messages, per stage and call site (off by default).

The hook is a communicator: :class:`CountingComm` wraps a real one (same MPI handle, nothing is copied or
simulated) and counts every mpi4py call made through it. Code under measurement is simply given the
counting communicator instead of the plain one (``DistributedMesh(mesh, comm=cc)``, ``pod(..., comm=cc)``,
``import_results(reader, out, cc)``); dromo's collectives (:mod:`dromo.parallel.collectives`, the
:class:`~dromo.parallel.redistribute.Redistributor`, collective error checks) and the direct mpi4py calls of
every module are counted alike. When no counting communicator is in use nothing runs at all: the cost of
the hook when off is zero. PETSc's own traffic (assembly scatters, Krylov solvers, PTScotch) does not go
through mpi4py and is not seen; :mod:`docs/scaling.md <dromo>` models it separately.

Conventions (what one call adds to *this rank's* counts):

* ``bytes``: the payload this rank hands to MPI for other ranks — a broadcast's root the buffer (a pickled
  ``bcast`` the pickle), every rank of an allreduce / allgather its contribution, the non-root ranks of a
  gather their part, a scatter's root everything but its own part, an all-to-all the parts for other ranks,
  a point-to-point send its buffer. Received bytes are not counted (they are someone's sent bytes).
* ``messages``: the calls in which this rank sends a payload (one per call, whatever the MPI algorithm);
  barriers count one message of zero bytes.

Usage::

    cc = CountingComm(comm)
    with cc.stage("pod"):
        basis = pod(U, comm=cc)
    cc.counts          # {(stage, site): [bytes, messages]}, site = "module:function" of the caller
    cc.totals()        # {stage: (bytes, messages)} of this rank
"""
import pickle
import sys
from contextlib import contextmanager

import numpy as np
from mpi4py import MPI

__all__ = ["CountingComm", "held_bytes"]


def _pickled(obj):
    return len(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


def _spec(buf):
    """``(array, counts or None, itemsize)`` of an mpi4py buffer specification (array, ``[array, type]``,
    ``[array, counts, displs, type]``, ``[array, (counts, displs), type]``)."""
    if buf is None or buf is MPI.IN_PLACE:
        return None, None, 0
    if isinstance(buf, (list, tuple)):
        arr = np.asarray(buf[0]) if buf[0] is not None and buf[0] is not MPI.IN_PLACE else None
        counts = None
        if len(buf) >= 3:
            counts = buf[1][0] if isinstance(buf[1], tuple) else buf[1]
        item = arr.itemsize if arr is not None else 1
        dtype = buf[-1]
        if isinstance(dtype, MPI.Datatype):
            item = dtype.Get_size()
        return arr, (None if counts is None else np.asarray(counts, dtype=np.int64)), item
    arr = np.asarray(buf)
    return arr, None, arr.itemsize


def _nbytes(buf):
    arr, counts, item = _spec(buf)
    if counts is not None:
        return int(counts.sum()) * item
    return 0 if arr is None else int(arr.nbytes)


class CountingComm(MPI.Intracomm):
    """An intracommunicator on the same MPI handle as ``comm`` that counts what this rank sends.

    ``counts``: ``{(stage, site): [bytes, messages]}``; ``stage`` is set by :meth:`stage` (default
    ``"-"``), ``site`` is ``"module:function"`` of the code that made the call.
    """

    # petsc4py converts a communicator to PETSc's only when its type comes from mpi4py.MPI: with this,
    # PETSc objects built on a CountingComm use its (real) handle; their traffic is not counted
    __module__ = "mpi4py.MPI"

    def __new__(cls, comm=None):
        self = super().__new__(cls, comm if comm is not None else MPI.COMM_WORLD)
        self.counts = {}
        self._stage = "-"
        return self

    # ------------------------------------------------------------------ bookkeeping
    @contextmanager
    def stage(self, name):
        """Attribute the calls made inside the block to stage ``name``."""
        old, self._stage = self._stage, name
        try:
            yield self
        finally:
            self._stage = old

    def _add(self, nbytes, messages=1, depth=2):
        f = sys._getframe(depth)
        site = f"{f.f_globals.get('__name__', '?')}:{f.f_code.co_name}"
        c = self.counts.setdefault((self._stage, site), [0, 0])
        c[0] += int(nbytes)
        c[1] += int(messages)

    def totals(self, stage=None):
        """``{stage: (bytes, messages)}`` of this rank (or the pair of one ``stage``)."""
        out = {}
        for (s, _site), (b, m) in self.counts.items():
            t = out.setdefault(s, [0, 0])
            t[0] += b
            t[1] += m
        out = {s: tuple(v) for s, v in out.items()}
        return out.get(stage, (0, 0)) if stage is not None else out

    def reset(self):
        self.counts = {}

    # ------------------------------------------------------------------ pickled (lower-case) calls
    def bcast(self, obj, root=0):
        if self.rank == root:
            self._add(_pickled(obj))
        return super().bcast(obj, root)

    def allreduce(self, obj, op=MPI.SUM):
        self._add(_pickled(obj))
        return super().allreduce(obj, op)

    def allgather(self, obj):
        self._add(_pickled(obj))
        return super().allgather(obj)

    def gather(self, obj, root=0):
        if self.rank != root:
            self._add(_pickled(obj))
        return super().gather(obj, root)

    def scatter(self, objs, root=0):
        if self.rank == root:
            self._add(sum(_pickled(o) for i, o in enumerate(objs) if i != root))
        return super().scatter(objs, root)

    def send(self, obj, dest, tag=0):
        self._add(_pickled(obj))
        return super().send(obj, dest, tag)

    # ------------------------------------------------------------------ buffer (upper-case) calls
    def Bcast(self, buf, root=0):
        if self.rank == root:
            self._add(_nbytes(buf))
        return super().Bcast(buf, root)

    def Allreduce(self, sendbuf, recvbuf, op=MPI.SUM):
        self._add(_nbytes(recvbuf if sendbuf is MPI.IN_PLACE else sendbuf))
        return super().Allreduce(sendbuf, recvbuf, op)

    def Iallreduce(self, sendbuf, recvbuf, op=MPI.SUM):
        self._add(_nbytes(sendbuf))
        return super().Iallreduce(sendbuf, recvbuf, op)

    def Reduce(self, sendbuf, recvbuf, op=MPI.SUM, root=0):
        if self.rank != root:
            self._add(_nbytes(sendbuf))
        return super().Reduce(sendbuf, recvbuf, op, root)

    def Allgather(self, sendbuf, recvbuf):
        self._add(_nbytes(sendbuf))
        return super().Allgather(sendbuf, recvbuf)

    def Allgatherv(self, sendbuf, recvbuf):
        self._add(_nbytes(sendbuf))
        return super().Allgatherv(sendbuf, recvbuf)

    def Gather(self, sendbuf, recvbuf, root=0):
        if self.rank != root:
            self._add(_nbytes(sendbuf))
        return super().Gather(sendbuf, recvbuf, root)

    def Gatherv(self, sendbuf, recvbuf, root=0):
        if self.rank != root:
            self._add(_nbytes(sendbuf))
        return super().Gatherv(sendbuf, recvbuf, root)

    def Scatterv(self, sendbuf, recvbuf, root=0):
        if self.rank == root:
            arr, counts, item = _spec(sendbuf)
            own = int(counts[root]) * item if counts is not None else 0
            self._add(_nbytes(sendbuf) - own)
        return super().Scatterv(sendbuf, recvbuf, root)

    def Alltoall(self, sendbuf, recvbuf):
        arr, _c, _i = _spec(sendbuf)
        self._add(arr.nbytes * (self.size - 1) // max(1, self.size))
        return super().Alltoall(sendbuf, recvbuf)

    def Alltoallv(self, sendbuf, recvbuf):
        arr, counts, item = _spec(sendbuf)
        self._add((int(counts.sum()) - int(counts[self.rank])) * item)
        return super().Alltoallv(sendbuf, recvbuf)

    def Send(self, buf, dest, tag=0):
        self._add(_nbytes(buf))
        return super().Send(buf, dest, tag)

    def Barrier(self):
        self._add(0)
        return super().Barrier()


def held_bytes(obj, _seen=None):
    """Bytes of the numpy arrays reachable from ``obj`` (attributes, dataclass fields, dicts, lists,
    tuples), each buffer counted once (views share their base). What a rank *holds* of a structure."""
    seen = set() if _seen is None else _seen
    bases = set()
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            base = o
            while isinstance(base.base, np.ndarray):
                base = base.base
            if id(base) not in bases:
                bases.add(id(base))
                total += base.nbytes
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif hasattr(o, "__dict__") and not isinstance(o, (type, MPI.Comm)) \
                and type(o).__module__.startswith("dromo"):
            stack.extend(vars(o).values())
    return total
