"""Parallel parsing of the CalculiX ``.dat`` (``*EL PRINT`` blocks): every rank parses the rows that begin in
its share of each block's bytes (:class:`dromo.io.adapters.calculix_dat.DatRows`), rank 0 builds and sends no
``.dat`` values, and the archive is the one the serial path writes (rank 0 parses every block and scatters),
bit for bit (also at 1, 2 and 3 ranks through the command line: ``test_import_parallel.py``). A damaged
``.dat`` gives the serial path's error at every rank count, raised by the rank that parsed the damaged line,
and leaves no output."""
import os
import re

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.io.adapters import IpIndex, import_results
from dromo.io.adapters.calculix import CalculixReader
from dromo.io.adapters.calculix_sdv import named_state
from dromo.io.adapters.parallel_values import RowParts
from dromo.mesh.inp import read_inp
from dromo.parallel import collective
from dromo.parallel.counting import CountingComm

from .._mpi import dromo_cmd, run_mpi, serial_only
from .ccx_cases import OneRank, SerialPath, archive_datasets, needs_ccx, read_dat_simple, run_ccx, write_case

pytestmark = [pytest.mark.calculix, needs_ccx]

#: two *EL PRINT sets, the first one holding the last elements in reverse order: the rows of a time come
#: in two blocks per quantity, not in the natural order
SETS = [[6, 5, 4], [1, 2, 3]]


def _case(folder, comm):
    out = None
    with collective(comm):
        if comm.rank == 0:
            deck = write_case(str(folder), "hex8", cells=(3, 2, 1), n_inc=3, print_sets=SETS)
            out = (deck,) + run_ccx(deck)
    return comm.bcast(out, root=0)


class Recorder(SerialPath):
    """``reader`` unchanged (its values deferred when asked), recording the type of every value yielded."""

    def __init__(self, reader):
        super().__init__(reader)
        self.kinds = {}

    def defer_values(self):
        return self.reader.defer_values()

    def steps(self):
        for step in self.reader.steps():
            for name, v in step.values.items():
                self.kinds.setdefault(name, set()).add(isinstance(v, RowParts))
            yield step


@pytest.mark.mpi
def test_every_rank_parses_its_dat_rows(shared_tmp, comm):
    """Rank 0 yields the .dat values as parts (no array) and scatters no values: each rank parsed its own
    rows (counted by the counting hook). The archive is the serial path's, bit for bit, and SDV equals a
    line-by-line float() parse of the file."""
    deck, frd, dat = _case(shared_tmp / "c", comm)
    cc = CountingComm(comm)
    reader = Recorder(CalculixReader(deck, frd, dat=dat)) if comm.rank == 0 else None
    out, serial = str(shared_tmp / "par.h5"), str(shared_tmp / "serial.h5")
    with cc.stage("import"):
        written = import_results(reader, out, cc)
    assert written["S"] == written["SDV"] == 3
    # every assertion holds on every rank (a failure on one rank only would leave the others waiting)
    scattered = comm.allreduce(sum(b for (_s, site), (b, _m) in cc.counts.items()
                                   if site.endswith(":_scatter")))
    assert scattered == 0
    kinds = comm.bcast(reader.kinds if comm.rank == 0 else None, root=0)
    assert kinds["S"] == kinds["E"] == kinds["SDV"] == {True}, kinds
    import_results(SerialPath(CalculixReader(deck, frd, dat=dat)) if comm.rank == 0 else None, serial, comm)
    same = sdv_ok = None
    if comm.rank == 0:
        same = archive_datasets(out) == archive_datasets(serial)
        ips = IpIndex(read_inp(deck))
        with h5py.File(out, "r") as h:
            sdv = h["fields/SDV/values"][...]
        blocks = read_dat_simple(dat)["internal state variables"]
        times = sorted({b[0] for b in blocks})
        sdv_ok = len(times) == 3 and all(
            np.array_equal(sdv[k][ips(elem, pnt)], vals)
            for k, t in enumerate(times) for t_b, elem, pnt, vals in blocks if t_b == t)
    same, sdv_ok = comm.bcast((same, sdv_ok), root=0)
    assert same and sdv_ok, (same, sdv_ok)


# ------------------------------------------------------------------------------ damaged files

def _rows_of_block(lines, nth):
    """Indices of the rows of the ``nth`` *EL PRINT block of ``lines``."""
    heads = [i for i, l in enumerate(lines) if b"(elem, integ.pnt." in l]
    h = heads[nth]
    end = next((i for i in range(h + 2, len(lines)) if not lines[i].strip()), len(lines))
    return list(range(h + 2, end))


def _set_token(line, k, tok):
    t = line.split()
    t[k] = tok
    return b"  ".join(t)


def damage(dat, dst, kind):
    """A damaged copy of ``dat`` -> ``(path, 1-based line of the damage, the rank parsing that line at P
    ranks as a function of P)``. Block 7 is the second time's strains of the first set."""
    L = open(dat, "rb").read().split(b"\n")
    rows = _rows_of_block(L, 7)
    last, early = rows[-1], rows[1]
    line, owner = last + 1, (lambda P: P - 1)             # the block's last row: the last rank's share
    if kind == "nan":
        L[last] = _set_token(L[last], 3, b"nan")
    elif kind == "garbage":
        L[last] = _set_token(L[last], 4, b"1.2x4567E-01")
    elif kind == "two defects":                # a later check in the first row, an earlier in the last
        L[early] = _set_token(L[early], 3, b"inf")
        L[last] = _set_token(L[last], 0, b"1.5")
    elif kind == "truncated":                  # the file ends inside the last row of its last block
        L = L[:_rows_of_block(L, -1)[-1] + 1]
        line = len(L)
        L[-1] = L[-1][:-20]
    elif kind == "rows deleted":               # a block that lost rows: the coverage check (rank 0)
        del L[rows[-4]:rows[-1]]
        line, owner = rows[0] - 1, (lambda P: 0)
    open(dst, "wb").write(b"\n".join(L))
    return str(dst), line, owner


def _leftovers(folder, stem):
    return [f for f in os.listdir(folder) if f.startswith(stem)]


@serial_only
@pytest.mark.parametrize("kind", ["nan", "garbage", "two defects", "truncated", "rows deleted"])
def test_damaged_dat_same_error_at_every_rank_count(tmp_path, kind):
    """A NaN, a garbage number, a bad id after a later-checked Inf, a file cut inside a row, a block
    that lost rows: at 1, 2 and 3 ranks ``dromo import`` exits non-zero with the serial path's message
    (file, line, quantity, time), raised by the rank that parsed the damaged line, and writes nothing."""
    deck, frd, dat = _case(tmp_path / "c", OneRank())
    bad, line, owner = damage(dat, tmp_path / "bad.dat", kind)
    with pytest.raises(InputError) as ei:
        import_results(SerialPath(named_state(CalculixReader, deck)(deck, frd, dat=bad)),
                       str(tmp_path / "serial.h5"), MPI.COMM_WORLD)
    expected = re.sub(r"^rank 0: ", "", str(ei.value))
    assert re.match(rf"{re.escape(bad)}:{line}: ", expected), (line, expected)
    assert "time" in expected and ("strains" in expected or "internal state" in expected
                                   or " E at time" in expected), expected
    for n in (1, 2, 3):
        out = str(tmp_path / f"out{n}.h5")
        p = run_mpi(n, dromo_cmd() + ["import", "calculix", deck, frd, "--dat", bad, "-o", out])
        assert p.returncode != 0
        err = [l for l in p.stderr.splitlines() if l.startswith("dromo import: error:")]
        assert len(err) == 1 and "Traceback" not in p.stderr, p.stderr[-3000:]
        assert err[0] == f"dromo import: error: rank {owner(n)}: {expected}", (n, err[0])
        assert not _leftovers(tmp_path, f"out{n}"), _leftovers(tmp_path, f"out{n}")
