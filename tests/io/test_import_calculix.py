"""CalculiX import: ccx solves generated decks; the archive must hold exactly the .frd/.dat values."""
import glob
import os

import h5py
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.io.adapters import import_results
from dromo.io.adapters.calculix import CalculixReader
from dromo.io.archive import Archive
from dromo.mesh.inp import read_inp
from dromo.parallel import collective

from .._mpi import dromo_cmd, run_mpi, serial_only
from .ccx_cases import needs_ccx, read_dat_simple, read_frd_simple, run_ccx, write_case

pytestmark = [pytest.mark.calculix, needs_ccx]
SQ2 = np.sqrt(2.0)
NQP = {"hex8": 8, "tet10": 4}


def _case(shared_tmp, comm, element, **kw):
    out = None
    with collective(comm):
        if comm.rank == 0:
            deck = write_case(str(shared_tmp / element), element, **kw)
            out = (deck,) + run_ccx(deck)
    return comm.bcast(out, root=0)


def _import(comm, out, deck, frd, dat):
    reader = CalculixReader(deck, frd, dat=dat) if comm.rank == 0 else None
    return import_results(reader, out, comm)


def _read_all(comm, path):
    with Archive.open(path, comm) as ar:
        mesh = ar.read_mesh()
        fields = {n: (ar.h5["fields"][n]["values"][...], ar.h5["fields"][n]["time"][...],
                      dict(ar.h5["fields"][n].attrs)) for n in ar.fields()}
    return mesh, fields


@pytest.mark.mpi
@pytest.mark.parametrize("element,cells", [("hex8", (2, 1, 1)), ("tet10", (1, 1, 1))])
def test_calculix_values_times_sets(shared_tmp, comm, element, cells):
    deck, frd, dat = _case(shared_tmp, comm, element, cells=cells)
    out = str(shared_tmp / f"{element}.h5")
    written = _import(comm, out, deck, frd, dat)
    assert written == {"U": 4, "S_nodal": 4, "E_nodal": 4, "S": 4, "E": 4, "SDV": 4}
    mesh, fields = _read_all(comm, out)
    deck_mesh = read_inp(deck)
    # mesh, ids and sets preserved
    assert np.array_equal(mesh.points, deck_mesh.points)
    assert np.array_equal(mesh.node_ids, deck_mesh.node_ids)
    assert np.array_equal(mesh.cell_ids, deck_mesh.cell_ids)
    assert set(mesh.node_sets) == set(deck_mesh.node_sets) >= {"XMIN", "XMAX", "CORNER"}
    for k in deck_mesh.node_sets:
        assert np.array_equal(mesh.node_sets[k], deck_mesh.node_sets[k])
    for k in deck_mesh.element_sets:
        assert np.array_equal(mesh.element_sets[k], deck_mesh.element_sets[k])
    assert set(mesh.facet_sets) == set(deck_mesh.facet_sets)
    for k, d in deck_mesh.facet_sets.items():
        for t, a in d.items():
            assert np.array_equal(mesh.facet_sets[k][t], a)

    # nodal values equal the .frd values (U as written; tensors to Mandel from xx,yy,zz,xy,yz,zx)
    ref = read_frd_simple(frd)
    pos = {int(i): n for n, i in enumerate(mesh.node_ids)}
    for block, name in (("DISP", "U"), ("STRESS", "S_nodal"), ("TOSTRAIN", "E_nodal")):
        vals, times, _ = fields[name]
        assert len(ref[block]) == len(vals) == 4
        for k, (t, ids, v) in enumerate(ref[block]):
            rows = [pos[int(i)] for i in ids]
            assert len(set(rows)) == mesh.n_nodes
            if block != "DISP":
                v = v[:, [0, 1, 2, 3, 5, 4]] * np.array([1, 1, 1, SQ2, SQ2, SQ2])
            assert np.array_equal(vals[k][rows], v), (name, k)
            assert abs(times[k] - t) <= 1e-5 * abs(t)
    # integration-point values equal the .dat *EL PRINT values, mapped to natural ip ids
    dref = read_dat_simple(dat)
    cpos = {int(e): c for c, e in enumerate(mesh.cell_ids)}
    nqp = NQP[element]
    for q, name in (("stresses", "S"), ("strains", "E"), ("internal state variables", "SDV")):
        vals, times, attrs = fields[name]
        assert vals.shape == (4, mesh.n_cells * nqp, 14 if name == "SDV" else 6)
        for k, (t, e, p, v) in enumerate(dref[q]):
            rows = np.array([cpos[int(a)] * nqp + int(b) - 1 for a, b in zip(e, p)])
            assert len(np.unique(rows)) == mesh.n_cells * nqp
            if name != "SDV":
                v = v * np.array([1, 1, 1, SQ2, SQ2, SQ2])
            assert np.array_equal(vals[k][rows], v), (name, k)
            assert times[k] == t
        assert list(attrs["components"]) == (["xx", "yy", "zz", "xy", "xz", "yz"] if name != "SDV"
                                              else [f"SDV{i}" for i in range(1, 15)])
    # times: the .dat times (7 digits) for every field, the increments' numbers kept
    assert np.allclose(fields["U"][1], [0.25, 0.5, 0.75, 1.0], rtol=0, atol=0)
    assert list(fields["U"][2]["source_increment"]) == [1, 2, 3, 4]
    # plasticity happened (the viscoplastic law was active): p > 0 at the end
    assert fields["SDV"][0][-1, :, 0].min() > 0


@pytest.mark.mpi
def test_tensor_conventions_homogeneous_shear(shared_tmp, comm):
    """u = H x with a symmetric H of distinct shears: Mandel slots xy, xz, yz get √2 ε_xy, √2 ε_xz,
    √2 ε_yz (and 2G times that for the stress) from both the .frd and the .dat."""
    H = np.array([[0.0, 1e-3, 2e-3], [1e-3, 0.0, 3e-3], [2e-3, 3e-3, 0.0]])
    paths = None
    with collective(comm):
        if comm.rank == 0:
            from dromo.mesh.generate import box_mesh
            from dromo.mesh.inp import write_inp
            d = shared_tmp / "shear"
            d.mkdir()
            m = box_mesh(1, 1, 1)
            write_inp(m, str(d / "m.inp"))
            L = ["*INCLUDE,INPUT=m.inp", "*MATERIAL,NAME=EL", "*ELASTIC", "1000.,0.25",
                 "*SOLID SECTION,ELSET=ALL,MATERIAL=EL", "*STEP", "*STATIC", "*BOUNDARY"]
            for i, x in zip(m.node_ids, m.points):
                L += [f"{i},{c + 1},{c + 1},{(H @ x)[c]:.12e}" for c in range(3)]
            L += ["*NODE FILE", "U", "*EL FILE", "S,E", "*EL PRINT,ELSET=ALL", "S,E", "*END STEP"]
            (d / "sh.inp").write_text("\n".join(L) + "\n")
            paths = (str(d / "sh.inp"),) + run_ccx(str(d / "sh.inp"))
    deck, frd, dat = comm.bcast(paths, root=0)
    out = str(shared_tmp / "shear.h5")
    _import(comm, out, deck, frd, dat)
    _m, f = _read_all(comm, out)
    eps = SQ2 * np.array([1e-3, 2e-3, 3e-3])
    G = 1000.0 / 2.5
    for name, expect, tol in (("E", eps, 1e-9), ("E_nodal", eps, 1e-6), ("S", 2 * G * eps, 1e-5),
                              ("S_nodal", 2 * G * eps, 1e-3)):
        v = f[name][0][0]
        assert np.allclose(v[:, 3:], expect, rtol=0, atol=tol), name
        assert np.allclose(v[:, :3], 0.0, atol=tol), name


@serial_only
def test_identical_archives_at_1_2_3_ranks(tmp_path):
    deck = write_case(str(tmp_path / "c"), "tet10", cells=(1, 1, 1), n_inc=3)
    frd, dat = run_ccx(deck)
    outs = []
    for n in (1, 2, 3):
        out = str(tmp_path / f"r{n}.h5")
        p = run_mpi(n, dromo_cmd() + ["import", "calculix", deck, frd, "--dat", dat, "-o", out, "--json"])
        assert p.returncode == 0, p.stdout + p.stderr
        outs.append(out)

    def collect(path):
        items = {}
        with h5py.File(path, "r") as h:
            def visit(name, obj):
                a = {k: np.asarray(v) for k, v in obj.attrs.items()
                     if k not in ("created", "n_ranks_written")}
                items[name] = (obj[...] if isinstance(obj, h5py.Dataset) else None, a)
            h.visititems(visit)
            items["/"] = (None, {k: np.asarray(v) for k, v in h.attrs.items()
                                 if k not in ("created", "n_ranks_written")})
        return items

    ref = collect(outs[0])
    assert "fields/p/values" in ref                  # SDV named after the deck's ANISO_PLAS material
    for other in outs[1:]:
        got = collect(other)
        assert set(got) == set(ref)
        for k, (d, a) in ref.items():
            if d is not None:
                assert d.dtype == got[k][0].dtype and d.shape == got[k][0].shape, k
                assert d.tobytes() == got[k][0].tobytes(), k       # bitwise
            assert set(a) == set(got[k][1]), k
            for an in a:
                assert np.array_equal(a[an], got[k][1][an]), (k, an)


# ------------------------------------------------------------------------------ bad input

def _expect_error(comm, shared_tmp, deck, frd, dat, *needles):
    out = shared_tmp / "bad.h5"
    with pytest.raises(InputError) as ei:
        _import(comm, str(out), deck, frd, dat)
    msg = str(ei.value)
    for n in needles:
        assert n in msg, msg
    comm.Barrier()
    assert not out.exists()
    assert not glob.glob(str(out) + ".tmp*")
    return msg


def _truncated_copy(src, dst, fraction, comm):
    """The first ``fraction`` of the bytes of ``src`` written to ``dst`` (on rank 0); returns dst."""
    dst = str(dst)
    if comm.rank == 0:
        data = open(src, "rb").read()
        open(dst, "wb").write(data[: int(len(data) * fraction)])
    comm.Barrier()
    return dst


@pytest.mark.mpi
def test_truncated_frd(shared_tmp, comm):
    deck, frd, dat = _case(shared_tmp, comm, "hex8", cells=(2, 1, 1))
    cut = _truncated_copy(frd, shared_tmp / "cut.frd", 0.6, comm)
    _expect_error(comm, shared_tmp, deck, cut, None, "cut.frd:", "truncated")


@pytest.mark.mpi
def test_truncated_frd_at_block_end_and_bad_number(shared_tmp, comm):
    deck, frd, dat = _case(shared_tmp, comm, "hex8", cells=(2, 1, 1))
    lines = open(frd, "rb").read().split(b"\n")
    cut = str(shared_tmp / "cut2.frd")
    bad = str(shared_tmp / "bad.frd")
    last_end = max(i for i, l in enumerate(lines[:-3]) if l.startswith(b" -3"))
    j = next(i for i, l in enumerate(lines) if l.startswith(b" -4  STRESS")) + 9
    if comm.rank == 0:
        open(cut, "wb").write(b"\n".join(lines[: last_end + 1]) + b"\n")
        lines[j] = lines[j][:20] + b"x" + lines[j][21:]
        open(bad, "wb").write(b"\n".join(lines))
    comm.Barrier()
    _expect_error(comm, shared_tmp, deck, cut, None, "cut2.frd:", "9999")
    # ccx stopped early (no convergence): the complete blocks can be imported on request
    out = str(shared_tmp / "partial.h5")
    reader = CalculixReader(deck, cut, allow_incomplete=True) if comm.rank == 0 else None
    written = import_results(reader, out, comm)
    assert written["U"] == 4 and 3 <= written["S_nodal"] <= 4
    _expect_error(comm, shared_tmp, deck, bad, None, f"bad.frd:{j + 1}:", "STRESS")


@pytest.mark.mpi
def test_truncated_dat(shared_tmp, comm):
    deck, frd, dat = _case(shared_tmp, comm, "hex8", cells=(2, 1, 1))
    cut = _truncated_copy(dat, shared_tmp / "cut.dat", 0.7, comm)
    _expect_error(comm, shared_tmp, deck, frd, cut, "cut.dat:")


@pytest.mark.mpi
def test_node_count_mismatch(shared_tmp, comm):
    deck, frd, dat = _case(shared_tmp, comm, "hex8", cells=(2, 1, 1))
    other = None
    with collective(comm):
        if comm.rank == 0:
            other = write_case(str(shared_tmp / "other"), "hex8", cells=(3, 1, 1), name="other")
    other = comm.bcast(other, root=0)
    _expect_error(comm, shared_tmp, other, frd, None, os.path.basename(frd) + ":", "nodes",
                  "another mesh")
    _expect_error(comm, shared_tmp, other, None, dat, os.path.basename(dat) + ":")


@pytest.mark.mpi
def test_unknown_element_type_and_missing_include(shared_tmp, comm):
    deck, frd, dat = _case(shared_tmp, comm, "hex8", cells=(2, 1, 1))
    d = shared_tmp / "decks"
    if comm.rank == 0:
        d.mkdir()
        (d / "shell.inp").write_text("*NODE\n1,0,0,0\n2,1,0,0\n3,1,1,0\n4,0,1,0\n"
                                     "*ELEMENT,TYPE=S4R,ELSET=E\n1,1,2,3,4\n")
        (d / "noinc.inp").write_text("** deck\n*INCLUDE,INPUT=nowhere.inp\n*STEP\n*END STEP\n")
    comm.Barrier()
    _expect_error(comm, shared_tmp, str(d / "shell.inp"), frd, None, "shell.inp:6", "S4R")
    _expect_error(comm, shared_tmp, str(d / "noinc.inp"), frd, None, "noinc.inp:2", "nowhere.inp")
