"""Parallel parsing of the CalculiX ``.frd`` (and ``.dat``: ``test_import_parallel_dat.py``): every rank
parses its own records of each block (:mod:`dromo.io.adapters.parallel_values`), and the archive is the
same, bit for bit, at any rank count and as the serial path's — also when the records are not in the
mesh's node order (they then travel to their natural block)."""
import h5py
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.calculix import CalculixReader
from dromo.io.adapters.calculix_sdv import named_state
from dromo.parallel import collective
from dromo.parallel.counting import CountingComm

from .._mpi import dromo_cmd, run_mpi, serial_only
from .ccx_cases import (OneRank, SerialPath, archive_datasets, needs_ccx, read_frd_simple, run_ccx,
                        shuffle_dat_rows, write_case)

pytestmark = [pytest.mark.calculix, needs_ccx]


def _case(folder, comm, **kw):
    out = None
    with collective(comm):
        if comm.rank == 0:
            deck = write_case(str(folder), "hex8", cells=(3, 2, 1), n_inc=3, **kw)
            out = (deck,) + run_ccx(deck)
    return comm.bcast(out, root=0)


def rewrite_records(src, dst, how, seed=0):
    """Copy of the ``.frd`` ``src`` whose result blocks have their records (a `` -1`` line and its
    `` -2`` lines) shuffled (``how="shuffle"``) or the first one repeated in place of the second
    (``how="repeat"``); the layout stays fixed-width."""
    rng = np.random.default_rng(seed)
    lines = open(src, "rb").read().split(b"\n")
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].startswith(b" -4"):
            i += 1
            while lines[i].startswith(b" -5"):
                out.append(lines[i])
                i += 1
            recs = []
            while not lines[i].startswith(b" -3"):
                if lines[i].startswith(b" -1"):
                    recs.append([])
                recs[-1].append(lines[i])
                i += 1
            if how == "shuffle":
                recs = [recs[j] for j in rng.permutation(len(recs))]
            else:
                recs[1] = recs[0]
            out += [l for r in recs for l in r]
            continue
        i += 1
    open(dst, "wb").write(b"\n".join(out))
    return dst


@serial_only
def test_archives_of_1_2_3_ranks_identical_records_in_any_order(tmp_path):
    """A ccx .frd and .dat (two *EL PRINT sets, the first in reverse element order), and copies with every
    block's records (rows) shuffled: 1, 2 and 3 ranks give the archive of the serial path (rank 0 parses
    every value and scatters), bit for bit."""
    deck, frd, dat = _case(tmp_path / "c", OneRank(), print_sets=[[6, 5, 4], [1, 2, 3]])
    shuffled = (rewrite_records(frd, str(tmp_path / "c" / "shuffled.frd"), "shuffle"),
                shuffle_dat_rows(dat, str(tmp_path / "c" / "shuffled.dat")))
    serial = str(tmp_path / "serial.h5")
    import_results(SerialPath(named_state(CalculixReader, deck)(deck, frd, dat=dat)), serial, MPI.COMM_WORLD)
    ref = archive_datasets(serial)
    assert {"fields/U/values", "fields/S_nodal/values", "fields/S/values", "fields/p/values"} <= set(ref)
    for name, (f, d) in (("ccx", (frd, dat)), ("shuffled", shuffled)):
        for n in (1, 2, 3):
            out = str(tmp_path / f"{name}_{n}.h5")
            p = run_mpi(n, dromo_cmd() + ["import", "calculix", deck, f, "--dat", d, "-o", out, "--json"])
            assert p.returncode == 0, p.stdout + p.stderr
            items = archive_datasets(out)
            assert set(items) == set(ref), (name, n)
            for k in ref:
                assert items[k] == ref[k], (name, n, k)            # bitwise


@pytest.mark.mpi
def test_every_rank_parses_its_records(shared_tmp, comm):
    """Rank 0 scatters no .frd values: each rank parsed its own block (counted by the counting hook);
    values equal a line-by-line float() parse of the file."""
    deck, frd, _dat = _case(shared_tmp / "c", comm)
    cc = CountingComm(comm)
    reader = CalculixReader(deck, frd) if comm.rank == 0 else None
    out = str(shared_tmp / "par.h5")
    with cc.stage("import"):
        written = import_results(reader, out, cc)
    assert written["U"] == 3
    scattered = sum(b for (s, site), (b, _m) in cc.counts.items() if site.endswith(":_scatter"))
    assert scattered == 0
    ref = read_frd_simple(frd)["DISP"]
    with h5py.File(out, "r") as h:
        U, node_ids = h["fields/U/values"][...], h["mesh/node_ids"][...]
    for k, (_t, ids, vals) in enumerate(ref):
        row = {int(i): r for r, i in enumerate(node_ids)}
        np.testing.assert_array_equal(U[k][[row[int(i)] for i in ids]], vals[:, :3])


@pytest.mark.mpi
def test_repeated_record_refused_on_every_rank(shared_tmp, comm):
    deck, frd, _dat = _case(shared_tmp / "c", comm)
    bad = str(shared_tmp / "repeated.frd")
    if comm.rank == 0:
        rewrite_records(frd, bad, "repeat")
    comm.Barrier()
    reader = CalculixReader(deck, bad) if comm.rank == 0 else None
    with pytest.raises(InputError) as ei:
        import_results(reader, str(shared_tmp / "bad.h5"), comm)
    msg = str(ei.value)
    assert "repeated.frd:" in msg and "DISP" in msg and "more than once" in msg, msg


@pytest.mark.mpi
def test_inverted_last_cell_found_by_its_rank(shared_tmp, comm):
    """The cell check is shared by the ranks: a mirrored last element is refused on every rank."""
    import os
    deck, frd, _dat = _case(shared_tmp / "c", comm)
    folder = os.path.dirname(deck)
    bad_deck = os.path.join(folder, "mirrored.inp")
    if comm.rank == 0:
        lines = open(os.path.join(folder, "mesh.inp")).read().split("\n")
        start = next(i for i, l in enumerate(lines) if l.upper().startswith("*ELEMENT"))
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("*") or not lines[i])
        t = lines[end - 1].split(",")
        lines[end - 1] = ",".join([t[0]] + t[5:9] + t[1:5])            # hex8 mirrored: top <-> bottom
        open(os.path.join(folder, "mirrored_mesh.inp"), "w").write("\n".join(lines))
        open(bad_deck, "w").write(open(deck).read().replace("INPUT=mesh.inp", "INPUT=mirrored_mesh.inp"))
        last_id = t[0].strip()
    else:
        last_id = None
    last_id = comm.bcast(last_id, root=0)
    comm.Barrier()
    reader = CalculixReader(bad_deck, frd) if comm.rank == 0 else None
    with pytest.raises(InputError) as ei:
        import_results(reader, str(shared_tmp / "inv.h5"), comm)
    msg = str(ei.value)
    assert f"element {last_id}" in msg and "inverted" in msg and "allow-inverted" in msg, msg
