"""Assembly of element contributions into distributed PETSc objects.

Matrices are assembled on 3×3 node blocks: element matrices (ne, 3nn, 3nn) become block triplets
(row node, column node, 3×3 block) in PETSc numbering; triplets of rows owned by another rank are sent
to it with one ``Alltoallv``; each rank sorts its triplets once, sums duplicates, and hands PETSc a
block-CSR array (``MatCreateBAIJ`` with CSR, no per-entry ``MatSetValues``), converted to AIJ with
block size 3 (what GAMG and MUMPS want). Vectors are assembled into ghosted Vecs with ``bincount``
and one reverse ghost update.
"""
import numpy as np
from mpi4py import MPI

from ..parallel.log import get_logger

log = get_logger(__name__)


def _exchange(comm, dest, arrays):
    """Send rows of each array in ``arrays`` to rank ``dest[i]``; return the received concatenation."""
    p = comm.size
    order = np.argsort(dest, kind="stable")
    scounts = np.bincount(dest, minlength=p).astype(np.int64)
    rcounts = np.empty(p, dtype=np.int64)
    comm.Alltoall(scounts, rcounts)
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a[order])
        width = int(np.prod(a.shape[1:], dtype=np.int64))
        recv = np.empty((int(rcounts.sum()),) + a.shape[1:], dtype=a.dtype)
        sd = np.concatenate(([0], np.cumsum(scounts)[:-1])) * width
        rd = np.concatenate(([0], np.cumsum(rcounts)[:-1])) * width
        t = MPI._typedict[a.dtype.char]
        comm.Alltoallv([a.reshape(-1), (scounts * width, sd), t], [recv.reshape(-1), (rcounts * width, rd), t])
        out.append(recv)
    return out


class BlockMatrixAssembler:
    """Accumulates 3×3-block element contributions, then builds a PETSc MPIAIJ matrix (bs=3).

    Usage::

        asm = BlockMatrixAssembler(dmesh)
        for nodes, ke in chunks:          # nodes (ne, nn) local node ids, ke (ne, 3nn, 3nn)
            asm.add(nodes, ke)
        A = asm.assemble()                # collective
    """

    def __init__(self, dmesh, keep_pattern=False):
        self.dmesh = dmesh
        self.keep_pattern = bool(keep_pattern)
        self._keys = []
        self._vals = []
        self._chunk_sums = []       # keep_pattern: per add() call, the (unique keys × raw) summation
        self._plan = None           # keep_pattern: global exchange / summation plan and the Mat
        self._n_add = 0

    def add(self, local_nodes, element_matrices):
        """Add element matrices ``(ne, 3nn, 3nn)`` on elements with local nodes ``(ne, nn)``.

        With ``keep_pattern=True`` the sequence of ``add`` calls (nodes and shapes) must be the same at
        every assembly: the sparsity and the summation plan are computed at the first one only.
        """
        ne, nn = local_nodes.shape
        if ne == 0:
            return
        ke = np.asarray(element_matrices).reshape(ne, nn, 3, nn, 3).transpose(0, 1, 3, 2, 4)
        vals = ke.reshape(-1, 9)
        if self.keep_pattern and self._plan is not None:
            self._vals.append(self._chunk_sums[self._n_add] @ vals)
            self._n_add += 1
            return
        g = self.dmesh.local_petsc[local_nodes]
        n = np.int64(self.dmesh.n_nodes_global)
        keys = (g[:, :, None] * n + g[:, None, :]).reshape(-1)
        if self.keep_pattern:
            ukeys, inv = np.unique(keys, return_inverse=True)
            S = _summation_matrix(inv, ukeys.size)
            self._chunk_sums.append(S)
            self._keys.append(ukeys)
            self._vals.append(S @ vals)
            return
        # pre-sum within the chunk: fewer triplets to sort and to send later
        keys, vals = _sum_duplicates(keys, vals)
        self._keys.append(keys)
        self._vals.append(vals)

    def assemble(self, diagonal_for_empty_rows=1.0):
        """Collective: exchange off-rank rows, sum, and build the PETSc matrix.

        Block rows that received no contribution (nodes no element touches) get ``diagonal_for_empty_rows``
        times the identity, so the matrix stays nonsingular. With ``keep_pattern=True``, assemblies after
        the first reuse the plan and update the same Mat in place (returned again).
        """
        from petsc4py import PETSc
        if self.keep_pattern:
            return self._assemble_pattern(diagonal_for_empty_rows)
        dm = self.dmesh
        comm = dm.comm
        n = np.int64(dm.n_nodes_global)
        keys = np.concatenate(self._keys) if self._keys else np.zeros(0, np.int64)
        vals = np.concatenate(self._vals) if self._vals else np.zeros((0, 9))
        self._keys, self._vals = [], []
        if comm.size > 1:
            owner = np.searchsorted(dm.node_ranges, keys // n, side="right") - 1
            off = owner != comm.rank
            recv_keys, recv_vals = _exchange(comm, owner[off], [keys[off], vals[off]])
            keys = np.concatenate([keys[~off], recv_keys])
            vals = np.concatenate([vals[~off], recv_vals])
        keys, vals = _sum_duplicates(keys, vals)
        rows = keys // n - dm.node_start
        cols = keys % n
        nloc = dm.n_owned_nodes
        # empty block rows get a diagonal block
        empty = np.flatnonzero(np.bincount(rows, minlength=nloc) == 0)
        if empty.size:
            ekeys = (empty + dm.node_start) * n + (empty + dm.node_start)
            evals = np.tile((diagonal_for_empty_rows * np.eye(3)).ravel(), (empty.size, 1))
            keys, vals = _sum_duplicates(np.concatenate([keys, ekeys]), np.concatenate([vals, evals]))
            rows, cols = keys // n - dm.node_start, keys % n
        indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=nloc))))
        size = ((3 * nloc, 3 * n), (3 * nloc, 3 * n))
        baij = PETSc.Mat().createBAIJ(size=size, bsize=3, comm=comm,
                                      csr=(indptr.astype(PETSc.IntType), cols.astype(PETSc.IntType),
                                           np.ascontiguousarray(vals).reshape(-1)))
        baij.assemble()
        return baij.convert("aij")      # in place (petsc4py converts ``self`` when no ``out`` is given)

    def _assemble_pattern(self, diagonal_for_empty_rows):
        from petsc4py import PETSc
        dm = self.dmesh
        comm = dm.comm
        vals = np.concatenate(self._vals) if self._vals else np.zeros((0, 9))
        self._vals = []
        self._n_add = 0
        if self._plan is None:
            n = np.int64(dm.n_nodes_global)
            keys = np.concatenate(self._keys) if self._keys else np.zeros(0, np.int64)
            self._keys = []
            off = np.zeros(keys.size, bool)
            dest = np.zeros(0, np.int64)
            if comm.size > 1:
                owner = np.searchsorted(dm.node_ranges, keys // n, side="right") - 1
                off = owner != comm.rank
                dest = owner[off]
                (recv_keys,) = _exchange(comm, dest, [keys[off]])
                keys = np.concatenate([keys[~off], recv_keys])
            nloc = dm.n_owned_nodes
            rows_all = keys // n - dm.node_start
            empty = np.flatnonzero(np.bincount(rows_all, minlength=nloc) == 0)
            n_extra = empty.size
            keys = np.concatenate([keys, (empty + dm.node_start) * n + (empty + dm.node_start)])
            ukeys, inv = np.unique(keys, return_inverse=True)
            rows, cols = ukeys // n - dm.node_start, ukeys % n
            indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=nloc))))
            self._plan = dict(off=off, dest=dest, S=_summation_matrix(inv, ukeys.size),
                              extra=np.tile((diagonal_for_empty_rows * np.eye(3)).ravel(), (n_extra, 1)),
                              indptr=indptr.astype(PETSc.IntType), cols=cols.astype(PETSc.IntType),
                              mat=None)
        plan = self._plan
        if comm.size > 1:
            (recv,) = _exchange(comm, plan["dest"], [vals[plan["off"]]])
            vals = np.concatenate([vals[~plan["off"]], recv])
        vals = plan["S"] @ np.concatenate([vals, plan["extra"]])
        A = plan["mat"]
        if A is None:
            nloc, n = dm.n_owned_nodes, dm.n_nodes_global
            size = ((3 * nloc, 3 * n), (3 * nloc, 3 * n))
            baij = PETSc.Mat().createBAIJ(size=size, bsize=3, comm=comm,
                                          csr=(plan["indptr"], plan["cols"], np.ascontiguousarray(vals).reshape(-1)))
            baij.assemble()
            A = baij.convert("aij")
            A.setOption(PETSc.Mat.Option.NEW_NONZERO_LOCATION_ERR, True)
            plan["mat"] = A
        else:
            A.zeroEntries()
            A.setValuesBlockedCSR(plan["indptr"], plan["cols"], np.ascontiguousarray(vals).reshape(-1),
                                  addv=PETSc.InsertMode.INSERT)
            A.assemble()
        return A


def _summation_matrix(inverse, n_unique):
    """Sparse (n_unique, len(inverse)) 0/1 matrix S with (S @ v)[k] = Σ_{inverse[i] = k} v[i]."""
    import scipy.sparse as sp
    m = inverse.size
    return sp.csr_matrix((np.ones(m), (inverse.ravel(), np.arange(m))), shape=(n_unique, m))


def _sum_duplicates(keys, vals):
    """Sort by key and sum the rows of ``vals`` (k, w) with equal keys."""
    if keys.size == 0:
        return keys, vals
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    vals = vals[order]
    start = np.concatenate(([True], keys[1:] != keys[:-1]))
    idx = np.flatnonzero(start)
    return keys[idx], np.add.reduceat(vals, idx, axis=0)


def assemble_vector(dmesh, local_nodes, element_vectors, vec=None, bs=3):
    """Add element vectors ``(ne, nn*bs)`` (interlaced) into a ghosted Vec (a new zero one if None).

    Contributions to ghost nodes are summed into their owners (reverse ghost update). Collective.
    """
    from petsc4py import PETSc
    if vec is None:
        vec = dmesh.create_vector(bs)
    local = np.zeros(dmesh.n_local_nodes * bs)
    if len(local_nodes):
        dofs = (bs * np.asarray(local_nodes)[..., None] + np.arange(bs)).reshape(-1)
        local += np.bincount(dofs, weights=np.asarray(element_vectors).reshape(-1), minlength=local.size)
    add_local(dmesh, vec, local)
    return vec


def add_local(dmesh, vec, local_values):
    """Add owned+ghost values ``(n_local_nodes*bs,)`` into a ghosted Vec, ghosts to their owners."""
    from petsc4py import PETSc
    local_values = np.asarray(local_values).reshape(-1)
    no = dmesh.n_owned_nodes * vec.getBlockSize()
    with vec.localForm() as lf:
        lf.array[:no] += local_values[:no]
        lf.array[no:] = local_values[no:]
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    with vec.localForm() as lf:
        lf.array[dmesh.n_owned_nodes * vec.getBlockSize():] = 0.0  # ghosts now stale: clear
    vec.assemble()
