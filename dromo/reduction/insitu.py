"""In-situ POD: snapshots streamed as PETSc ``Vec``s from a running code, and bases handed back to it.

A simulation code written with petsc4py (FEniCSx, Firedrake, a user's solver) holds its fields as
distributed PETSc ``Vec``s in its own dof numbering and partition. On the same communicator:

* :class:`DofMap` — given once: for every entry this rank owns of the code's ``Vec`` (local order), its
  row in dromo's numbering (``node × block_size + component``, natural node numbering of a dromo mesh).
  From an index array / PETSc ``IS`` (:meth:`DofMap.from_indices`), or built from the coordinates of the
  owned dof nodes matched to the mesh's nodes (:meth:`DofMap.from_coordinates`; codes such as dolfinx
  reorder nodes). It is a PETSc ``VecScatter`` between the code's layout and dromo's row layout (rank
  ``r`` holds the natural node block ``partition_range(n_nodes)`` × ``block_size``, the rows of a field
  read from a dromo archive without redistributor and of :func:`~dromo.reduction.pod.write_basis`):
  moving one snapshot costs one scatter, whatever the two partitions are.
* :class:`InSituPOD` — ``add(vec)`` moves one snapshot to dromo's rows and feeds the incremental POD
  (:class:`~dromo.reduction.incremental.IncrementalPOD`, Brand): memory is the basis plus one snapshot;
  :func:`stream_pod` does it for an iterator of ``Vec``s (every rank iterates in step; a rank running out
  before the others raises InputError everywhere).
* Output: :func:`basis_to_bv` gives the modes (dromo rows, e.g. :func:`~dromo.reduction.pod.read_basis`
  of an archive written at any rank count) as a SLEPc ``BV`` (or ``Vec``s) in the code's layout and
  numbering, for the code to project or lift with.
"""
import numpy as np
from mpi4py import MPI

from ..errors import InputError
from ..parallel import get_logger, partition_range
from .incremental import IncrementalPOD

__all__ = ["DofMap", "InSituPOD", "stream_pod", "basis_to_bv", "basis_to_vecs"]

_log = get_logger("dromo.reduction.insitu")


def _raise_if_any(err, comm):
    """Raise InputError on every rank with the messages of the ranks where ``err`` is not None."""
    msgs = comm.allgather(err) if comm.size > 1 else [err]
    bad = [m for m in msgs if m]
    if bad:
        raise InputError("; ".join(bad))


class DofMap:
    """The map from a code's owned dofs to dromo's rows (module docstring). Collective construction.

    Parameters
    ----------
    rows : int array (n_owned,) — dromo's global row of every entry this rank owns of the code's Vec,
        in the code's local order
    n_nodes : int — nodes of the dromo mesh; ``block_size`` : int — components per node
    comm : MPI.Comm

    Every dromo row must be the image of exactly one owned entry of one rank (else InputError on every
    rank, with counts).
    """

    def __init__(self, rows, n_nodes, block_size, comm=None):
        from petsc4py import PETSc
        self.comm = comm or MPI.COMM_WORLD
        self.n_nodes, self.block_size = int(n_nodes), int(block_size)
        self.rows = np.ascontiguousarray(rows, dtype=PETSc.IntType)
        a, b = partition_range(self.n_nodes, self.comm)
        self.n_local = (b - a) * self.block_size            # dromo rows on this rank
        N = self.n_nodes * self.block_size
        err = None
        if self.rows.size and (self.rows.min() < 0 or self.rows.max() >= N):
            err = f"rank {self.comm.rank}: dof map rows outside [0, {N})"
        _raise_if_any(err, self.comm)
        pcomm = PETSc.Comm(self.comm)
        self._x = PETSc.Vec().createMPI((len(self.rows), PETSc.DECIDE), comm=pcomm)   # the code's layout
        self._y = PETSc.Vec().createMPI((self.n_local, N), comm=pcomm)                # dromo's rows
        lo = self._x.getOwnershipRange()[0]
        isx = PETSc.IS().createStride(len(self.rows), lo, 1, comm=pcomm)
        isy = PETSc.IS().createGeneral(self.rows, comm=pcomm)
        total = self.comm.allreduce(len(self.rows))
        self.scatter = PETSc.Scatter().create(self._x, isx, self._y, isy)
        isx.destroy()
        isy.destroy()
        # every dromo row hit exactly once
        self._x.set(1.0)
        self._y.set(0.0)
        self.scatter.scatter(self._x, self._y, PETSc.InsertMode.ADD_VALUES, PETSc.ScatterMode.FORWARD)
        y = self._y.getArray()
        err = None if (total == N and (y == 1.0).all()) else (
            f"rank {self.comm.rank}: {int(np.count_nonzero(y == 0))} dromo rows not mapped, "
            f"{int(np.count_nonzero(y > 1))} mapped more than once")
        if total != N and self.comm.rank == 0:
            err = f"the code owns {total} dofs in all, the mesh has {self.n_nodes} nodes × {self.block_size} = {N}"
        _raise_if_any(err, self.comm)

    @classmethod
    def from_indices(cls, rows, n_nodes, block_size, comm=None):
        """From dromo's rows of the owned entries (an int array or a PETSc ``IS``). Collective."""
        if hasattr(rows, "getIndices"):
            rows = rows.getIndices()
        return cls(rows, n_nodes, block_size, comm)

    @classmethod
    def from_coordinates(cls, mesh, owned_coords, block_size, comm=None, tol=None):
        """Match the code's owned dof nodes to the mesh's nodes by coordinates. Collective.

        mesh : :class:`~dromo.mesh.meshdata.MeshData` (its ``points`` (n_nodes, 3) in natural numbering,
            on every rank, and its cells for the tolerance) or an (n_nodes, 3) array of points
        owned_coords : (n_owned_nodes, d ≤ 3) — coordinates of this rank's owned dof nodes, in the code's
            local order; the code's Vec holds ``block_size`` consecutive entries per node (interlaced)
        tol : match distance (default :data:`~dromo.mesh.matching.TOLERANCE` × the smallest edge)
        """
        from scipy.spatial import cKDTree
        from ..mesh.matching import TOLERANCE, smallest_edge
        comm = comm or MPI.COMM_WORLD
        pts = np.asarray(getattr(mesh, "points", mesh), dtype=np.float64)
        x = np.asarray(owned_coords, dtype=np.float64).reshape(len(owned_coords), -1)
        x = np.hstack([x, np.zeros((len(x), pts.shape[1] - x.shape[1]))]) if x.shape[1] < pts.shape[1] else x
        if tol is None:
            if hasattr(mesh, "blocks"):
                h = smallest_edge(pts, [b.cells for b in mesh.blocks])
            else:
                h = float(np.sort(cKDTree(pts).query(pts, k=2)[0][:, 1])[0]) if len(pts) > 1 else 1.0
            tol = TOLERANCE * h
        dist, node = cKDTree(pts).query(x) if len(x) else (np.zeros(0), np.zeros(0, np.int64))
        err = None
        if len(x) and dist.max() > tol:
            i = int(np.argmax(dist))
            err = (f"rank {comm.rank}: {int(np.count_nonzero(dist > tol))} of its {len(x)} dof nodes have no mesh "
                   f"node within {tol:.3g}; the farthest, at {x[i].tolist()}, is {dist[i]:.4g} away (is it the "
                   f"same mesh, and the same element order?)")
        _raise_if_any(err, comm)
        bs = int(block_size)
        rows = (np.asarray(node, dtype=np.int64)[:, None] * bs + np.arange(bs)[None, :]).ravel()
        return cls(rows, len(pts), bs, comm)

    # -- moving data -------------------------------------------------------------------------------
    def _check_vec(self, vec):
        ok = vec.getLocalSize() == len(self.rows)
        _raise_if_any(None if ok else (f"rank {self.comm.rank}: the Vec owns {vec.getLocalSize()} entries, the dof "
                                       f"map was built for {len(self.rows)}"), self.comm)

    def to_rows(self, vec, out=None):
        """dromo's rows ``(n_local,)`` of the code's ``vec`` (its owned entries; ghosts ignored). Collective."""
        from petsc4py import PETSc
        self._check_vec(vec)
        self._x.placeArray(vec.getArray())            # the code's owned entries, not copied
        try:
            self.scatter.scatter(self._x, self._y, PETSc.InsertMode.INSERT_VALUES, PETSc.ScatterMode.FORWARD)
        finally:
            self._x.resetArray()
        out = np.empty(self.n_local) if out is None else out
        out[...] = self._y.getArray(readonly=True)
        return out

    def to_vec(self, rows, vec):
        """Fill the code's ``vec`` (owned entries) from dromo's rows ``(n_local,)``. Collective."""
        from petsc4py import PETSc
        self._check_vec(vec)
        r = np.ascontiguousarray(rows, dtype=np.float64)
        if r.shape != (self.n_local,):
            raise InputError(f"rank {self.comm.rank}: {r.shape} rows, the dof map has {self.n_local} here")
        self._y.getArray()[...] = r
        self.scatter.scatter(self._y, self._x, PETSc.InsertMode.INSERT_VALUES, PETSc.ScatterMode.REVERSE)
        vec.getArray()[...] = self._x.getArray(readonly=True)
        vec.assemble()
        return vec

    def destroy(self):
        self.scatter.destroy()
        self._x.destroy()
        self._y.destroy()


class InSituPOD:
    """Incremental POD of snapshots handed over as the code's ``Vec``s. Collective methods.

    dof_map : :class:`DofMap`; tol, max_modes, inner, inner_name : as for
    :class:`~dromo.reduction.incremental.IncrementalPOD` (``inner`` on dromo's rows).
    ``basis`` (a :class:`~dromo.reduction.pod.PODBasis`, rows = dromo's natural block) is None until the
    first snapshot.
    """

    def __init__(self, dof_map, tol=None, max_modes=None, inner=None, inner_name=None, tol_reject=1e-10):
        self.dof_map, self.tol, self.max_modes = dof_map, tol, max_modes
        self.inner, self.inner_name, self.tol_reject = inner, inner_name, tol_reject
        self.incremental = None
        self._buf = np.empty(dof_map.n_local)

    def add(self, vec, label=None):
        """One snapshot (the code's Vec, not modified). Returns the number of modes so far."""
        u = self.dof_map.to_rows(vec, out=self._buf)
        if self.incremental is None:
            self.incremental = IncrementalPOD.from_snapshots(u[:, None].copy(), comm=self.dof_map.comm,
                                                             tol=self.tol, max_modes=self.max_modes,
                                                             inner=self.inner, inner_name=self.inner_name)
        else:
            self.incremental.add(u, tol_reject=self.tol_reject, labels=None if label is None else [label])
        return self.incremental.n_kept

    @property
    def basis(self):
        return None if self.incremental is None else self.incremental.basis


def stream_pod(vecs, dof_map, **kwargs):
    """Feed every ``Vec`` of the iterator ``vecs`` to an :class:`InSituPOD` (``kwargs``); returns it.

    Collective: every rank's iterator must yield the same number of Vecs; a rank whose iterator ends
    early (or raises) makes every rank raise InputError instead of hanging.
    """
    ins = InSituPOD(dof_map, **kwargs)
    comm = dof_map.comm
    it = iter(vecs)
    j = 0
    while True:
        err, vec = None, None
        try:
            vec = next(it)
        except StopIteration:
            pass
        except Exception as exc:                          # the code failed on this rank
            err = f"rank {comm.rank}: the snapshot iterator raised {type(exc).__name__}: {exc}"
        states = comm.allgather("err" if err else ("end" if vec is None else "vec"))
        if "err" in states:
            _raise_if_any(err, comm)
        if len(set(states)) > 1:
            raise InputError(f"in-situ POD: the snapshot iterators disagree at snapshot {j}: "
                             f"{', '.join(f'rank {r} {s}' for r, s in enumerate(states))}")
        if states[0] == "end":
            break
        ins.add(vec, label=f"in-situ snapshot {j}")
        j += 1
    _log.info("in-situ POD: %d snapshots streamed, %d modes", j, 0 if ins.incremental is None else
              ins.incremental.n_kept)
    return ins


def basis_to_vecs(modes, dof_map, template):
    """The columns of ``modes`` (dromo's rows ``(n_local, k)``) as new ``Vec``s like ``template`` (the
    code's layout; a ghosted template gives ghosted Vecs, ghosts not updated). Collective."""
    out = []
    for j in range(modes.shape[1]):
        v = template.duplicate()
        dof_map.to_vec(modes[:, j], v)
        out.append(v)
    return out


def basis_to_bv(modes, dof_map, template):
    """The columns of ``modes`` (dromo's rows ``(n_local, k)``) as a SLEPc ``BV`` of ``k`` columns in the
    code's layout (sizes from the Vec ``template``). Collective."""
    from slepc4py import SLEPc
    k = modes.shape[1]
    bv = SLEPc.BV().create(template.getComm())
    bv.setSizesFromVec(template, k)
    bv.setFromOptions()
    for j in range(k):
        col = bv.getColumn(j)
        try:
            dof_map.to_vec(modes[:, j], col)
        finally:
            bv.restoreColumn(j, col)
    return bv
