"""Corrupt CalculiX input is never imported as valid data (issue 24).

Each test damages a file the way a user's disk, editor or killed job would (the reproducers of the
issue, on a small deck solved by ccx: 2 hex8 cells, 4 increments, ``.frd`` with DISP/STRESS/TOSTRAIN,
``.dat`` with S/E/SDV) and asserts one clear :class:`InputError` line naming the file and the line or
item, and no output left behind. Items that need the archive (``dromo/io/archive.py``) are strict
xfails naming the fix they need.
"""
import os
import re
import subprocess

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.calculix import CalculixReader
from dromo.io.archive import Archive
from dromo.mesh.inp import read_inp

from .._mpi import ROOT, dromo_cmd, serial_only
from .ccx_cases import needs_ccx, run_ccx, write_case

pytestmark = [pytest.mark.calculix, needs_ccx, serial_only]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """(folder, deck, frd, dat, mesh.inp text) of a clean ccx run."""
    d = tmp_path_factory.mktemp("ccx")
    deck = write_case(str(d / "c"), "hex8", cells=(2, 1, 1), n_inc=4)
    frd, dat = run_ccx(deck)
    return d, deck, frd, dat


def imp(out, deck, frd=None, dat=None, **kw):
    reader = CalculixReader(deck, frd, dat=dat, **kw)
    return import_results(reader, str(out), MPI.COMM_WORLD)


def leftovers(out):
    out = str(out)
    folder, base = os.path.split(out)
    stem = os.path.splitext(base)[0]
    return [f for f in os.listdir(folder) if f.startswith(base) or f.startswith(stem + ".xdmf")]


def refused(tmp_path, deck, frd=None, dat=None, *needles, **kw):
    """Import must raise one InputError line holding every needle (regex), leaving no output."""
    out = tmp_path / "out.h5"
    with pytest.raises(InputError) as ei:
        imp(out, deck, frd, dat, **kw)
    msg = str(ei.value)
    assert "\n" not in msg, msg
    assert "Traceback" not in msg
    for n in needles:
        assert re.search(n, msg), (n, msg)
    assert not leftovers(out), leftovers(out)
    return msg


def lines_of(path):
    return open(path, "rb").read().split(b"\n")


def write_lines(path, lines):
    open(path, "wb").write(b"\n".join(lines))
    return str(path)


def frd_line(lines, pattern, nth=0):
    """Index of the nth line matching ``pattern`` (bytes regex)."""
    hits = [i for i, l in enumerate(lines) if re.match(pattern, l)]
    return hits[nth]


# ------------------------------------------------------------------------------ silently accepted

def test_frd_block_without_end_record(case, tmp_path):
    """Item 1: deleting the -3 that closes the element block emptied the archive (or dropped the
    first increment); the same for the node block and a result block."""
    _d, deck, frd, _dat = case
    L = lines_of(frd)
    i3c = frd_line(L, rb"    3C")
    end = next(i for i in range(i3c, len(L)) if L[i].startswith(b" -3"))
    bad = write_lines(tmp_path / "e.frd", L[:end] + L[end + 1:])
    refused(tmp_path, deck, bad, None, rf"e\.frd:{end + 1}: element block 3C \(line {i3c + 1}\)",
            "-3")
    i2c = frd_line(L, rb"    2C")
    end = next(i for i in range(i2c, len(L)) if L[i].startswith(b" -3"))
    bad = write_lines(tmp_path / "n.frd", L[:end] + L[end + 1:])
    refused(tmp_path, deck, bad, None, r"n\.frd:\d+: ", "3C")
    idisp = frd_line(L, rb" -4  DISP", 1)
    end = next(i for i in range(idisp, len(L)) if L[i].startswith(b" -3"))
    bad = write_lines(tmp_path / "r.frd", L[:end] + L[end + 1:])
    refused(tmp_path, deck, bad, None, r"r\.frd:\d+: ", "DISP|PSTEP")


@pytest.mark.parametrize("value", [b"         nan", b"        -inf", b" 1.0000E+400"])
def test_frd_nonfinite_values(case, tmp_path, value):
    """Item 2: NaN/Inf/overflow in .frd values: refused naming line, block, node and increment, or
    kept on request."""
    _d, deck, frd, _dat = case
    L = lines_of(frd)
    i = frd_line(L, rb" -4  STRESS", 2) + 9           # a record of the third increment's STRESS
    node = int(L[i][3:13])
    L[i] = L[i][:13 + 12] + value + L[i][13 + 24:]
    bad = write_lines(tmp_path / "v.frd", L)
    refused(tmp_path, deck, bad, None, rf"v\.frd:{i + 1}: block STRESS, node {node}, component SYY",
            "increment 3", "time 0.75", "allow-nonfinite")
    written = imp(tmp_path / "keep.h5", deck, bad, allow_nonfinite=True)
    assert written["S_nodal"] == 4
    with h5py.File(tmp_path / "keep.h5", "r") as h:
        assert not np.isfinite(h["fields/S_nodal/values"][2]).all()


def test_frd_nonfinite_time(case, tmp_path):
    _d, deck, frd, _dat = case
    L = lines_of(frd)
    i = frd_line(L, rb"  100CL", 4)
    L[i] = L[i][:12] + b"         nan" + L[i][24:]
    bad = write_lines(tmp_path / "t.frd", L)
    refused(tmp_path, deck, bad, None, rf"t\.frd:{i + 1}: .*non-finite time 'nan'", "increment 2")


@pytest.mark.parametrize("value", [b"nan", b"inf", b"1.000000E+400"])
def test_dat_nonfinite_values(case, tmp_path, value):
    _d, deck, frd, dat = case
    L = lines_of(dat)
    i = [k for k, l in enumerate(L) if l.startswith(b"         2   3")][5]
    t = L[i].split()
    L[i] = b"  ".join(t[:4] + [value] + t[5:])
    bad = write_lines(tmp_path / "v.dat", L)
    refused(tmp_path, deck, frd, bad, rf"v\.dat:{i + 1}: .*element 2, point 3: value 3",
            r"time 0\.5", "not finite")
    assert imp(tmp_path / "keep.h5", deck, frd, bad, allow_nonfinite=True)["SDV"] == 4


def test_dat_cut_value(case, tmp_path):
    """Item 3: ``head -c -4`` turned -1.156811E-02 into -1.156811E, stored as a number."""
    _d, deck, frd, dat = case
    data = open(dat, "rb").read().rstrip(b"\n")
    bad = tmp_path / "cut.dat"
    bad.write_bytes(data[:-3])
    n = data.count(b"\n") + 1
    refused(tmp_path, deck, frd, str(bad), rf"cut\.dat:{n}: .*element 2, point 8", "not a number")
    # a value that lost a mantissa digit still parses, but not with the block's fixed format
    L = lines_of(dat)
    i = [k for k, l in enumerate(L) if l.startswith(b"         1   2")][0]
    t = L[i].split()
    t[3] = t[3][:4] + t[3][5:]
    L[i] = b"  ".join(t)
    refused(tmp_path, deck, frd, write_lines(tmp_path / "d.dat", L), rf"d\.dat:{i + 1}: ",
            "fixed format")


def test_dat_and_frd_must_end_at_the_same_increment(case, tmp_path):
    """Item 4: a .dat truncated between blocks silently lost its last increments."""
    _d, deck, frd, dat = case
    L = lines_of(dat)
    last = [k for k, l in enumerate(L) if b"and time  0.1000000E+01" in l]
    bad = write_lines(tmp_path / "short.dat", L[:last[0]])
    msg = refused(tmp_path, deck, frd, bad, r"short\.dat:\d+: ", "3 increments",
                  r"0\.25, 0\.5, 0\.75\)", "4 increments", "job.frd")
    assert "allow-incomplete" in msg
    assert imp(tmp_path / "ok.h5", deck, frd, bad, allow_incomplete=True)["S"] == 3
    # one quantity of the last increment missing (cut between two blocks of the last time)
    bad = write_lines(tmp_path / "short2.dat", L[:last[-1]])
    refused(tmp_path, deck, frd, bad, r"short2\.dat:\d+: internal state variables: no block at "
            r"time 1 \(its step's last printed time; it has 3 of the step's 4 times, the last at "
            r"time 0\.75\)")


def test_dat_ids_are_integers(case, tmp_path):
    """Item 6 (and 10 for the .dat): element id 1.5 was read as element 1; huge ids overflowed."""
    _d, deck, frd, dat = case
    for k, tok in enumerate([b"1.5", b"99999999999999999999", b"-1", b"0x1"]):
        L = lines_of(dat)
        i = [j for j, l in enumerate(L) if l.startswith(b"         1   1")][0]
        L[i] = L[i].replace(b"         1", b" " * (10 - len(tok)) + tok, 1)
        bad = write_lines(tmp_path / f"id{k}.dat", L)
        refused(tmp_path, deck, frd, bad, rf"id{k}\.dat:{i + 1}: .*element id '{re.escape(tok.decode())}'"
                r" is not a positive integer")


def test_frd_names_and_counts(case, tmp_path):
    """Items 9 and 13, and the -5 type codes: block names that cannot name a field, negative
    record counts and unknown component types are errors naming the line; nothing is left."""
    _d, deck, frd, _dat = case
    L = lines_of(frd)
    i4 = frd_line(L, rb" -4  TOSTRAIN")
    for k, name in enumerate([b"TO/STRAI", b"        ", b".       "]):
        M = list(L)
        for j in [j for j, l in enumerate(L) if l.startswith(b" -4  TOSTRAIN")]:
            M[j] = M[j][:5] + name + M[j][13:]
        bad = write_lines(tmp_path / f"name{k}.frd", M)
        refused(tmp_path, deck, bad, None, rf"name{k}\.frd:{i4 + 1}: result block name")
    for head in (rb"    2C", rb"    3C", rb"  100CL"):
        M = list(L)
        j = frd_line(M, head)
        M[j] = re.sub(rb"(\s)(\d+)(\s)", lambda m: m.group(1)[:0] + b"-" + m.group(2) + m.group(3),
                      M[j], count=2 if head == rb"  100CL" else 1)
        if head == rb"  100CL":        # the count is the 4th field: "100CL  101 t  n"
            M[j] = L[j][:24] + b"%12d" % -12 + L[j][36:]
        bad = write_lines(tmp_path / "neg.frd", M)
        refused(tmp_path, deck, bad, None, rf"neg\.frd:{j + 1}: ", "negative")
    M = list(L)
    j = frd_line(M, rb" -5  D2")
    M[j] = M[j][:18] + b"    7" + M[j][23:]
    refused(tmp_path, deck, write_lines(tmp_path / "ic.frd", M), None,
            rf"ic\.frd:{j + 1}: block DISP: component 'D2' has the unknown type code '7'")


def test_frd_blocks_out_of_time_order(case, tmp_path):
    _d, deck, frd, _dat = case
    L = lines_of(frd)
    j = frd_line(L, rb"  100CL", 4)          # DISP of the second increment: time 0.5 -> 0.1
    L[j] = L[j][:12] + b" 1.00000E-01" + L[j][24:]
    refused(tmp_path, deck, write_lines(tmp_path / "o.frd", L), None,
            rf"o\.frd:{j + 1}: block DISP \(time 0\.1.*out of time order")


def _deck_with(case, tmp_path, name, edit):
    d, deck, frd, dat = case
    mesh = open(os.path.join(os.path.dirname(deck), "mesh.inp")).read()
    folder = tmp_path / name
    folder.mkdir()
    (folder / "mesh.inp").write_text(edit(mesh))
    (folder / "job.inp").write_text(open(deck).read())
    return str(folder / "job.inp")


def test_set_names_round_trip(case, tmp_path):
    """Items 7 and 8: '/' made nested HDF5 groups (unreadable archive), '.' and EALL/X next to EALL
    crashed in h5py. The archive encodes such names: any deck name round-trips."""
    _d, _deck, frd, _dat = case
    deck = _deck_with(case, tmp_path, "s", lambda m: m + "*NSET,NSET=A/B\n1\n*NSET,NSET=.\n2\n*NSET,NSET=50%\n3\n"
                      "*ELSET,ELSET=EALL\n1\n*ELSET,ELSET=EALL/X\n1\n")
    imp(tmp_path / "o.h5", deck, frd)
    with Archive.open(str(tmp_path / "o.h5"), MPI.COMM_WORLD) as ar:
        mesh = ar.read_mesh()
    assert mesh.node_sets["A/B"].size == 1 and mesh.node_sets["."].size == 1 and mesh.node_sets["50%"].size == 1
    assert mesh.element_sets["EALL/X"].size == 1 and mesh.element_sets["EALL"].size == 1


def test_inverted_and_degenerate_cells(case, tmp_path):
    """Also: mirrored / zero-volume cells were stored by import although mesh info rejects them."""
    _d, _deck, frd, _dat = case
    mirrored = _deck_with(case, tmp_path, "m", lambda m: m.replace("1,1,2,5,4,7,8,11,10",
                                                                   "1,7,8,11,10,1,2,5,4"))
    refused(tmp_path, mirrored, frd, None, "mesh.inp|job.inp", "element 1", "inverted",
            "allow-inverted")
    flat = _deck_with(case, tmp_path, "f", lambda m: m.replace("\n7,0,0,1\n", "\n7,0,0,0\n")
                      .replace("\n8,1,0,1\n", "\n8,1,0,0\n").replace("\n10,0,1,1\n", "\n10,0,1,0\n")
                      .replace("\n11,1,1,1\n", "\n11,1,1,0\n"))
    refused(tmp_path, flat, frd, None, "element 1", "degenerate")
    assert imp(tmp_path / "keep.h5", mirrored, frd, allow_inverted=True)["U"] == 4


def test_overflowing_and_nonpositive_ids_in_the_deck(case, tmp_path):
    """Item 10 (deck side) and ids <= 0: one InputError line naming the deck, no OverflowError."""
    _d, _deck, frd, _dat = case
    for k, edit in enumerate([lambda m: m.replace("\n1,1,2,5,4,7,8,11,10", "\n9223372036854775808,1,2,5,4,7,8,11,10"),
                              lambda m: m + "*NSET,NSET=BIG\n9223372036854775808\n",
                              lambda m: m.replace("\n1,1,2,5,4,7,8,11,10", "\n1,1,2,5,4,7,8,11,99999999999999999999")]):
        deck = _deck_with(case, tmp_path, f"o{k}", edit)
        refused(tmp_path, deck, frd, None, r"o\d/(mesh|job)\.inp")
    deck = _deck_with(case, tmp_path, "z", lambda m: m[:m.index("*SURFACE")]
                      .replace("\n1,1,2,5,4,7,8,11,10", "\n-3,1,2,5,4,7,8,11,10")
                      .replace("*ELSET, ELSET=ALL\n1,2", "*ELSET, ELSET=ALL\n-3,2"))
    refused(tmp_path, deck, frd, None, r"z/(mesh|job)\.inp", "element id -3 is not positive")


def test_huge_generate_and_deep_include(case, tmp_path):
    """Items 11 and 12: MemoryError and RecursionError became one InputError line naming the deck."""
    _d, _deck, frd, _dat = case
    deck = _deck_with(case, tmp_path, "g", lambda m: m + "*NSET,NSET=G,GENERATE\n100000,1000000000000\n")
    refused(tmp_path, deck, frd, None, r"g/(mesh|job)\.inp")
    folder = tmp_path / "inc"
    folder.mkdir()
    for k in range(1000):
        (folder / f"i{k}.inp").write_text(f"*INCLUDE,INPUT=i{k + 1}.inp\n")
    (folder / "i1000.inp").write_text("** end\n")
    refused(tmp_path, str(folder / "i0.inp"), frd, None, r"i0\.inp")


# ------------------------------------------------------------------------------ the deck parser

@pytest.mark.parametrize("edit,match", [
    # item 5: a misspelled keyword skipped its block (its cells vanished)
    pytest.param(lambda m: m.replace("*ELEMENT, TYPE=C3D8\n1,1,2,5,4,7,8,11,10\n",
                                     "*ELEMENT, TYPE=C3D8\n1,1,2,5,4,7,8,11,10\n*ELEMNT, TYPE=C3D8\n"),
                 r"did you mean \*ELEMENT", id="misspelled-keyword"),
    # item 10: ids >= 2**63 were an OverflowError, caught by the importer without the line
    pytest.param(lambda m: m + "*NSET,NSET=BIG\n9223372036854775808\n", "9223372036854775808",
                 id="id-overflow"),
    # item 11: a GENERATE range was materialized before its ids were checked (MemoryError); a range
    # over gaps takes the ids that exist (as ccx), one naming none of them is refused
    pytest.param(lambda m: m + "*NSET,NSET=G,GENERATE\n100000,1000000000000\n", "GENERATE",
                 id="huge-generate"),
])
def test_parser_names_the_line(case, tmp_path, edit, match):
    deck = _deck_with(case, tmp_path, "p", edit)
    with pytest.raises(InputError, match=r"mesh\.inp:\d+: .*" + match):
        read_inp(deck)


def test_deep_include_names_the_depth(tmp_path):
    """Item 12: 1000 nested *INCLUDE files were a RecursionError."""
    for k in range(1000):
        (tmp_path / f"i{k}.inp").write_text(f"*INCLUDE,INPUT=i{k + 1}.inp\n")
    (tmp_path / "i1000.inp").write_text("** end\n")
    with pytest.raises(InputError, match=r"i\d+\.inp:1: .*(nested|depth)"):
        read_inp(str(tmp_path / "i0.inp"))


# ------------------------------------------------------------------------------ the command line

def test_cli_one_line_and_no_output(case, tmp_path):
    """Through ``dromo import``: a non-zero exit, one error line naming the file, no traceback, no
    output file (sidecar included)."""
    _d, deck, frd, dat = case
    L = lines_of(frd)
    i3c = frd_line(L, rb"    3C")
    end = next(i for i in range(i3c, len(L)) if L[i].startswith(b" -3"))
    bad = write_lines(tmp_path / "e.frd", L[:end] + L[end + 1:])
    out = tmp_path / "o.h5"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run(dromo_cmd() + ["import", "calculix", deck, bad, "--dat", dat, "-o", str(out)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode != 0
    err = [l for l in p.stderr.splitlines() if "error" in l]
    assert len(err) == 1 and "e.frd:" in err[0] and "Traceback" not in p.stderr, p.stderr
    assert not leftovers(out)


def test_failed_sidecar_leaves_no_archive(case, tmp_path, monkeypatch):
    """Item 9: the XDMF sidecar failed after out.h5 was renamed into place, leaving a valid-looking
    archive without its sidecar. A failure while finishing the output now removes both."""
    _d, deck, frd, _dat = case
    import dromo.io.xdmf as xdmf

    def broken(path, comm=None):
        open(os.path.splitext(path)[0] + ".xdmf", "w").write("<Xdmf")
        raise KeyError("sidecar")
    monkeypatch.setattr(xdmf, "write_xdmf", broken)
    out = tmp_path / "out.h5"
    with pytest.raises(KeyError):
        imp(out, deck, frd)
    assert not leftovers(out), leftovers(out)


def test_valid_frequency_results_still_import(case, tmp_path):
    """The checks accept what ccx writes for other procedures: a *FREQUENCY step puts 1PGM, 1PGK,
    1PHID, 1PSUBC, 1PMODE records between 1PSTEP and each result block."""
    d, deck, _frd, _dat = case
    folder = tmp_path / "freq"
    folder.mkdir()
    (folder / "mesh.inp").write_text(open(os.path.join(os.path.dirname(deck), "mesh.inp")).read())
    (folder / "f.inp").write_text("*INCLUDE,INPUT=mesh.inp\n*MATERIAL,NAME=EL\n*ELASTIC\n210000.,.3\n"
                                  "*DENSITY\n7.8e-9\n*SOLID SECTION,ELSET=ALL,MATERIAL=EL\n*BOUNDARY\n"
                                  "XMIN,1,3,0.\n*STEP\n*FREQUENCY\n3\n*NODE FILE\nU\n*EL FILE\nS\n"
                                  "*END STEP\n")
    frd, _ = run_ccx(str(folder / "f.inp"))
    assert b"1PMODE" in open(frd, "rb").read()
    assert imp(tmp_path / "f.h5", str(folder / "f.inp"), frd) == {"U": 3, "S_nodal": 3}


def test_what_ccx_writes_for_other_procedures_is_accepted(case, tmp_path):
    """False alarms found by importing 160 decks of CalculiX's test suite: a *FREQUENCY step's
    blocks carry eigenfrequencies (not sorted) as "time"; *NODE PRINT, contact and energy prints,
    and heat-flux headers without a blank after "for set" are other print blocks, skipped."""
    from dromo.io.adapters.calculix import FrdFile
    _d, deck, frd, dat = case
    L = lines_of(frd)
    heads = [i for i, l in enumerate(L) if l.startswith(b"  100CL")]
    M = list(L)
    for first, t in ((4, b" 9.50000E+00"), (8, b" 3.00000E+00"), (12, b" 2.00000E+00")):
        for i in heads[first:first + 4]:           # increments 2..4 become "modes", unsorted
            M[i] = M[i][:12] + t + M[i][24:56] + b" 2" + M[i][58:]
    f = FrdFile(write_lines(tmp_path / "modal.frd", M))
    assert [f.blocks[g[0]].time for g in f.increments] == [0.25, 9.5, 3.0, 2.0]
    M = list(L)
    i = heads[8]
    M[i] = M[i][:12] + b" 3.00000E-01" + M[i][24:]        # static: 0.3 after 0.5 is out of order
    with pytest.raises(InputError, match="out of time order"):
        FrdFile(write_lines(tmp_path / "static.frd", M))
    extra = (b"\n temperatures for set NALL and time  0.2500000E+00\n\n         1  2.000000E+01\n"
             b"\n relative contact displacement (slave node,normal,tang1,tang2) for all contact "
             b"elements and time 0.2500000E+00\n\n         3  0.000000E+00  1.000000E+00  0.000000E+00\n"
             b"\n heat flux (elem, integ.pnt.,qx,qy,qz) for setEALL and time  0.2500000E+00\n\n"
             b"         1   1  1.000000E+00  2.000000E+00  3.000000E+00\n"
             b"\n total internal energy for set EALL and time  0.2500000E+00\n\n        1.000000E+00\n")
    (tmp_path / "x.dat").write_bytes(extra + open(dat, "rb").read())
    assert imp(tmp_path / "x.h5", deck, frd, str(tmp_path / "x.dat"))["S"] == 4
