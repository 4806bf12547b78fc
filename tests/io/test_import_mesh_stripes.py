"""The mesh of an import is never whole on a rank other than 0 (issue 22): rank 0 sends it in natural
stripes, the parsers look the ids up in distributed directories, the cells are checked by stripe. Counted
with a communicator that records what this rank *receives* (the counting hook counts what it sends)."""
import pickle

import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.calculix import CalculixReader
from dromo.mesh.inp import read_inp
from dromo.parallel import collective

from .ccx_cases import archive_datasets, needs_ccx, run_ccx, write_case

pytestmark = [pytest.mark.calculix, needs_ccx]


class ReceivingComm(MPI.Intracomm):
    """The same MPI handle as ``comm``; ``largest`` is the largest payload (bytes) this rank received in one
    call of the calls an import makes (pickled objects and buffers), ``total`` their sum."""

    __module__ = "mpi4py.MPI"

    def __new__(cls, comm):
        self = super().__new__(cls, comm)
        self.largest = self.total = 0
        return self

    def _got(self, nbytes):
        self.largest = max(self.largest, int(nbytes))
        self.total += int(nbytes)

    def _obj(self, obj, mine=False):
        if not mine:
            self._got(len(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)))
        return obj

    def bcast(self, obj, root=0):
        return self._obj(super().bcast(obj, root), self.rank == root)

    def recv(self, buf=None, source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=None):
        return self._obj(super().recv(buf, source, tag, status))

    def scatter(self, objs, root=0):
        return self._obj(super().scatter(objs, root), self.rank == root)

    def allgather(self, obj):
        got = super().allgather(obj)
        for r, o in enumerate(got):
            self._obj(o, r == self.rank)
        return got

    def Alltoallv(self, sendbuf, recvbuf):
        out = super().Alltoallv(sendbuf, recvbuf)
        arr, (counts, _d), _t = recvbuf
        counts = np.asarray(counts)
        self._got((int(counts.sum()) - int(counts[self.rank])) * np.asarray(arr).itemsize)
        return out


@pytest.mark.mpi
def test_no_rank_but_root_receives_the_mesh(shared_tmp, comm):
    """At 3 ranks the largest message a non-root rank receives is about a third of the mesh (its stripe),
    not the mesh (the former broadcast), and the archive (``.frd`` and ``.dat``) is the one of a plain
    communicator."""
    if comm.size != 3:
        pytest.skip("a 3-rank test")
    out = None
    with collective(comm):
        if comm.rank == 0:
            deck = write_case(str(shared_tmp / "c"), "hex8", cells=(8, 6, 4), n_inc=2)
            frd, dat = run_ccx(deck)
            out = deck, frd, dat, len(pickle.dumps(read_inp(deck), pickle.HIGHEST_PROTOCOL))
    deck, frd, dat, mesh_bytes = comm.bcast(out, root=0)
    rc = ReceivingComm(comm)
    import_results(CalculixReader(deck, frd, dat) if comm.rank == 0 else None, str(shared_tmp / "s.h5"), rc)
    import_results(CalculixReader(deck, frd, dat) if comm.rank == 0 else None, str(shared_tmp / "p.h5"), comm)
    largest = comm.gather(rc.largest, root=0)
    if comm.rank == 0:
        assert max(largest[1:]) < 0.5 * mesh_bytes, (largest, mesh_bytes)
        a, b = archive_datasets(str(shared_tmp / "s.h5")), archive_datasets(str(shared_tmp / "p.h5"))
        assert a == b


@pytest.mark.mpi
def test_unknown_node_named_at_any_rank_count(shared_tmp, comm):
    """A .frd node the deck lacks (the last of the 24 DISP records): the serial path's message (node id and
    record number in the block) at every rank count, from the distributed node directory."""
    out = None
    with collective(comm):
        if comm.rank == 0:
            deck = write_case(str(shared_tmp / "c"), "hex8", cells=(3, 2, 1), n_inc=1)
            frd, _dat = run_ccx(deck)
            bad = str(shared_tmp / "renamed.frd")
            text = open(frd, "rb").read().split(b"\n")
            d = next(i for i, line in enumerate(text) if b"DISP" in line and line.startswith(b" -4"))
            k = next(i for i in range(d, len(text)) if text[i].startswith(b" -3")) - 1  # DISP's last record
            text[k] = text[k][:3] + b"%10d" % 99999 + text[k][13:]
            open(bad, "wb").write(b"\n".join(text))
            out = deck, bad
    deck, bad = comm.bcast(out, root=0)
    with pytest.raises(InputError) as ei:
        import_results(CalculixReader(deck, bad) if comm.rank == 0 else None, str(shared_tmp / "x.h5"), comm)
    assert "node 99999 (record 24) is not in the mesh" in str(ei.value), str(ei.value)
    assert "node 99999 (record" in str(ei.value) and "is not in the mesh" in str(ei.value), str(ei.value)


#: the call sites of the import's mesh: the stripes, the striped /mesh write, the directories and look-ups
MESH_SITES = ("dromo.mesh.stripes:scatter", "dromo.io.archive_mesh:add", "dromo.parallel.exchange:__init__",
              "dromo.parallel.exchange:_move")


@pytest.mark.mpi
@pytest.mark.parametrize("with_dat", [False, True])
def test_mesh_messages_as_the_cost_model(shared_tmp, comm, with_dat):
    """The messages of the import's mesh (stripes, /mesh row counts, directory plans and look-ups), summed
    over the ranks, are :func:`~dromo.parallel.cost_model.import_mesh_counts`' exactly; the bytes within 10 %."""
    from dromo.parallel.cost_model import import_mesh_counts, import_params
    from dromo.parallel.counting import CountingComm, held_bytes
    out = None
    with collective(comm):
        if comm.rank == 0:
            deck = write_case(str(shared_tmp / "c"), "hex8", cells=(5, 3, 2), n_inc=3)
            frd, dat = run_ccx(deck)
            mesh = read_inp(deck)
            out = deck, frd, dat, held_bytes(mesh), import_params(mesh, comm.size), 8 * mesh.n_cells
    deck, frd, dat, mesh_bytes, params, dat_rows = comm.bcast(out, root=0)
    cc = CountingComm(comm)
    reader = CalculixReader(deck, frd, dat if with_dat else None) if comm.rank == 0 else None
    written = import_results(reader, str(shared_tmp / "m.h5"), cc)
    mine = [sum(v[i] for (_s, site), v in cc.counts.items() if site in MESH_SITES) for i in (0, 1)]
    got = np.sum(comm.allgather(mine), axis=0)
    b, m = import_mesh_counts(comm.size, mesh_bytes, written["U"], dat_rows=dat_rows if with_dat else 0,
                              **params)
    assert got[1] == m, (got, b, m)
    assert abs(got[0] - b) <= 0.1 * b, (got, b, m)
