"""The snapshot matrix ``A = diag(√w) U`` as a PETSc ``Mat`` for SLEPc: no copy, BLAS-3 block products.

:func:`snapshot_mat` gives a PETSc matrix of type ``python`` (``N × m``; its rows are dromo's owned rows,
``n_local`` per rank; its columns split over the ranks by PETSc, which matters only for the right vectors)
whose operations are computed by :class:`~.randomized.SnapshotProducts` on this rank's rows of ``U``:
the snapshots are not copied (any memory order; diagonal weights applied on the fly), and every operation
is one local BLAS call plus one collective on an ``m``-sized vector or block:

* ``MatMult`` ``y = A x``: ``x`` gathered (``MPI_Allgatherv`` of ``m`` doubles), ``y = A_local x`` (dgemv);
* ``MatMultTranspose`` ``x = Aᵀ y``: ``A_localᵀ y`` (dgemv), summed and split by ``MPI_Reduce_scatter``;
* ``MatProduct`` ``AB`` and ``AtB`` with a dense ``B`` (``m × l`` resp. ``N × l``): the same with a dgemm
  and an ``m × l`` block. SLEPc's block operations (``BVMatMult``: the randomized solver's ``A V`` and
  ``Aᵀ U``; ``Aᵀ`` is SLEPc's implicit transpose, whose products PETSc turns into ``AtB`` of this matrix)
  therefore run on BLAS-3.

Why not PETSc's dense MPI matrix (:func:`~.views.as_mat`, also zero-copy on a Fortran-ordered array):
its ``MatMult`` is as fast, but PETSc 3.18's ``MatMatMult`` of two dense MPI matrices runs at the
memory-bound ``MatMult`` rate (measured with ``-log_view`` on 2 × 10⁵ × 1500 at 2 ranks: ``MatMatMultNum``
2.1 Gflop/s per rank, against 16 Gflop/s for the ``AtB`` product), and it needs a Fortran-ordered,
unweighted block (a copy otherwise).

Collective: creation and every operation (SLEPc calls them on every rank). Destroy the Mat when done.
"""
import numpy as np
from mpi4py import MPI

__all__ = ["snapshot_mat", "SnapshotMat"]


class SnapshotMat:
    """petsc4py Python-``Mat`` context of ``A = diag(√w) U`` (module docstring) over a
    :class:`~.randomized.SnapshotProducts` ``products`` on ``comm``."""

    def __init__(self, products, comm):
        self.products, self.comm = products, comm
        self._counts = None
        self.calls = {"mult": 0, "multTranspose": 0, "AB": 0, "AtB": 0}     # operations done (for logs)

    def _layout(self, mat):
        """Counts and offsets of the column split (the rows of ``x`` in ``A x``)."""
        if self._counts is None:
            ranges = np.asarray(mat.getOwnershipRangesColumn(), dtype=np.int64)
            self._counts, self._offsets = np.diff(ranges), ranges[:-1]
            self._lo, self._hi = int(ranges[self.comm.rank]), int(ranges[self.comm.rank + 1])
        return self._counts, self._offsets

    def _gather(self, mat, local):
        """The replicated ``m × l`` block from every rank's rows ``local`` (column split)."""
        counts, offsets = self._layout(mat)
        local = np.ascontiguousarray(local, dtype=np.float64)
        l = local.shape[1]
        if self.comm.size == 1:
            return local
        full = np.empty((int(counts.sum()), l))
        self.comm.Allgatherv(local, [full, counts * l, offsets * l, MPI.DOUBLE])
        return full

    def _sum_split(self, mat, partial):
        """This rank's rows (column split) of the sum over the ranks of the ``m × l`` ``partial``."""
        counts, _offsets = self._layout(mat)
        if self.comm.size == 1:
            return partial
        l = partial.shape[1]
        out = np.empty((self._hi - self._lo, l))
        self.comm.Reduce_scatter(np.ascontiguousarray(partial), out, recvcounts=counts * l, op=MPI.SUM)
        return out

    # --- petsc4py Python Mat interface -------------------------------------------------------------
    def mult(self, mat, x, y):
        self.calls["mult"] += 1
        xf = self._gather(mat, x.getArray(readonly=True)[:, None])
        y.getArray()[:] = self.products.matmat(xf)[:, 0]

    def multTranspose(self, mat, y, x):
        self.calls["multTranspose"] += 1
        part = self.products.rmatmat(y.getArray(readonly=True)[:, None])
        x.getArray()[:] = self._sum_split(mat, part)[:, 0]

    def productSetFromOptions(self, mat, product_type, A, B, C):
        """``A B`` and ``Aᵀ B`` with this matrix as ``A`` (``B`` dense: SLEPc's BV blocks)."""
        return product_type in ("AB", "AtB") and A.handle == mat.handle and B.getType() in (
            "dense", "seqdense", "mpidense")

    def productSymbolic(self, mat, product, product_type, A, B, C):
        rows = A.getSizes()[0] if product_type == "AB" else A.getSizes()[1]
        product.setType("dense")
        product.setSizes((rows, B.getSizes()[1]))
        product.setUp()

    def productNumeric(self, mat, product, product_type, A, B, C):
        self.calls[product_type] += 1
        b = B.getDenseArray(readonly=True)
        out = product.getDenseArray()
        if product_type == "AB":
            out[...] = self.products.matmat(self._gather(mat, b))
        else:
            out[...] = self._sum_split(mat, self.products.rmatmat(b))
        product.assemble()


def snapshot_mat(products, comm=None):
    """The PETSc ``Mat`` (type ``python``, ``N × m``) of ``A = diag(√w) U`` over ``products`` (a
    :class:`~.randomized.SnapshotProducts`): no copy of the snapshots. Collective."""
    from petsc4py import PETSc
    comm = comm or MPI.COMM_WORLD
    n, m = int(products.src.n_local), int(products.m)
    A = PETSc.Mat().createPython(((n, PETSc.DECIDE), (PETSc.DECIDE, m)), SnapshotMat(products, comm),
                                 comm=PETSc.Comm(comm))
    A.setUp()
    return A
