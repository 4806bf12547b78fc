"""Zero-copy PETSc/SLEPc views of a row-distributed block (snapshots or modes).

A :class:`PetscBlock` is one storage with three faces, all on this rank's ``n_local`` rows of an
``N × m`` float64 matrix (dromo's row layout: rank ``r`` holds rows ``[Σ_{q<r} n_q, Σ_{q≤r} n_q)``):

* ``array`` — numpy ``(n_local, m)``, Fortran order (column-major, leading dimension ``n_local``: the
  layout of PETSc dense storage; column ``j`` is ``array[:, j]``, contiguous);
* ``bv`` — a SLEPc ``BV`` (type ``mat``) of ``m`` columns of global length ``N``;
* ``mat`` — a PETSc dense ``Mat`` (``mpidense``; ``seqdense`` on one rank), ``N × m``, local rows
  ``n_local``, its columns split over the ranks by PETSc (that split matters only for its right vectors).

Writing through any face is seen through the others: there is no copy and no synchronisation step.

Who owns the memory. SLEPc 3.18 cannot build a ``BV`` on memory it did not allocate (``BVCreateFromMat``
copies, checked), so the storage is the BV's: :meth:`PetscBlock.empty` allocates the BV, and ``array`` is
the numpy view of its storage (``BVGetMat`` returns its storage, not a copy; checked, pointer equal),
``mat`` a dense Mat created on that same memory. To work without copies, fill ``block.array`` (read the
snapshots into it, or compute modes into it). :meth:`PetscBlock.wrap` takes an existing array: no copy
when the array already is a block's storage; otherwise the array is copied once into a new block (a
Fortran-ordered float64 array could give a zero-copy ``Mat`` but not a zero-copy ``BV``). :func:`as_mat`
gives the zero-copy dense ``Mat`` of any Fortran-ordered float64 array.

The creation is collective (the communicator of the block); it allocates nothing else than the storage
(``n_local × m`` doubles) and PETSc's headers, so it costs microseconds for a view of existing storage.
"""
import weakref

import numpy as np
from mpi4py import MPI

from ..errors import InputError

__all__ = ["PetscBlock", "as_mat", "block_of"]

# storage address -> the block owning it (so wrap() of a block's own array is free)
_OWNERS = weakref.WeakValueDictionary()


class _Keep:
    """Array interface of a block's storage that keeps the block (hence its BV) alive: numpy arrays made
    from it (and their views) never outlive the memory."""

    def __init__(self, arr, block):
        self.__array_interface__ = dict(arr.__array_interface__)
        self.block = block


def _petsc_comm(comm):
    from petsc4py import PETSc
    return PETSc.Comm(comm) if comm is not None else PETSc.COMM_WORLD


def as_mat(array, comm=None):
    """Zero-copy PETSc dense ``Mat`` (``N × m``) on a Fortran-ordered float64 ``(n_local, m)`` array.

    Collective. Raises InputError (on every rank) when an array is not Fortran-contiguous float64 (it
    would be copied silently by petsc4py).
    """
    from petsc4py import PETSc
    comm = comm or MPI.COMM_WORLD
    a = array
    ok = isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype == np.float64 and a.flags.f_contiguous
    bad = comm.allgather(None if ok else f"rank {comm.rank}: {getattr(a, 'dtype', type(a))} "
                                         f"{getattr(a, 'shape', '')}") if comm.size > 1 else [None if ok else "rank 0"]
    bad = [b for b in bad if b]
    if bad:
        raise InputError("a zero-copy PETSc view needs a Fortran-ordered (n_local, m) float64 array "
                         f"(np.asfortranarray, or PetscBlock.empty): {'; '.join(bad)}")
    n, m = a.shape
    M = PETSc.Mat().createDense(((n, PETSc.DECIDE), (PETSc.DECIDE, m)), array=a, comm=_petsc_comm(comm))
    M.assemble()
    return M


class PetscBlock:
    """``(n_local, m)`` rows of an ``N × m`` matrix as numpy ``array``, SLEPc ``bv`` and PETSc ``mat``
    sharing one storage (module docstring). Build with :meth:`empty` or :meth:`wrap`; :meth:`destroy`
    frees the PETSc objects (the numpy view must not be used afterwards)."""

    def __init__(self, bv, array, mat, comm):
        self.bv, self.array, self.mat, self.comm = bv, array, mat, comm

    @classmethod
    def empty(cls, n_local, m, comm=None):
        """A new zero-initialised block of ``n_local`` local rows and ``m`` columns. Collective."""
        from petsc4py import PETSc
        from slepc4py import SLEPc
        comm = comm or MPI.COMM_WORLD
        bv = SLEPc.BV().create(_petsc_comm(comm))
        bv.setSizes((int(n_local), PETSc.DECIDE), int(m))
        bv.setType("mat")
        M = bv.getMat()
        arr = M.getDenseArray()          # the BV's own storage (n_local, m), column-major
        bv.restoreMat(M)
        if arr.shape != (n_local, m) or (m and not arr.flags.f_contiguous):  # pragma: no cover - SLEPc change
            raise RuntimeError(f"unexpected BV storage layout {arr.shape}, flags {arr.flags}")
        arr[...] = 0.0
        block = cls(bv, None, None, comm)
        block.array = np.asarray(_Keep(arr, block))      # owns a reference to the block
        block.mat = as_mat(block.array, comm)
        arr = block.array
        if arr.size:
            _OWNERS[arr.ctypes.data] = block
        return block

    @classmethod
    def wrap(cls, array, comm=None):
        """The block of ``array`` ``(n_local, m)``: no copy when ``array`` is a block's storage
        (:func:`block_of`), else one copy into a new block. Collective."""
        comm = comm or MPI.COMM_WORLD
        a = np.asarray(array)
        owner = block_of(a)
        mine = owner is not None and owner.array.shape == a.shape
        if comm.size > 1:
            mine = bool(comm.allreduce(int(mine), op=MPI.MIN))
        if mine:
            return owner
        if a.ndim != 2:
            raise InputError(f"a block is a 2-D (n_local, m) array, got shape {a.shape}")
        block = cls.empty(a.shape[0], a.shape[1], comm)
        block.array[...] = a
        return block

    @property
    def shape(self):
        return self.array.shape

    def column_vec(self, j):
        """Column ``j`` as a PETSc ``Vec`` on the block's storage (no copy; valid while the block lives)."""
        from petsc4py import PETSc
        col = self.array[:, j]
        return PETSc.Vec().createWithArray(col, size=(col.shape[0], PETSc.DECIDE), comm=_petsc_comm(self.comm))

    def destroy(self):
        if self.array.size:
            _OWNERS.pop(self.array.ctypes.data, None)
        self.mat.destroy()
        self.bv.destroy()


def block_of(array):
    """The live :class:`PetscBlock` whose storage ``array`` is (same address), or None. Local."""
    if not isinstance(array, np.ndarray) or not array.size:
        return None
    b = _OWNERS.get(array.ctypes.data)
    return b if b is not None and b.array.shape == array.shape else None
