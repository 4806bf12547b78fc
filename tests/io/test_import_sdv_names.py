"""Named state variables for imported CalculiX results: SDV columns become dromo's internal-variable fields
(``p``, ``eps_p``, ``alpha_1``, ``alpha_2`` for ANISO_PLAS) when the law is known; the ``source`` attribute
of every field names the file it came from; ``dromo import`` says "wrote" once."""
import os
import shutil

import h5py
import numpy as np
import pytest

from dromo.io.adapters.calculix_sdv import case_layout, deck_layout
from dromo.materials import tensors as tn

from .._mpi import dromo_cmd, run_mpi, serial_only
from .ccx_cases import needs_ccx, read_dat_simple, run_ccx, write_case

pytestmark = serial_only
ANISO = (("p", 1, "plain"), ("eps_p", 6, "tensor"), ("alpha_1", 1, "plain"), ("alpha_2", 6, "tensor"))


def _deck(tmp_path, materials):
    """A deck text with the given (name, cards) materials, each used by a section."""
    lines = ["*NODE", "1,0,0,0", "2,1,0,0", "3,0,1,0", "4,0,0,1", "*ELEMENT,TYPE=C3D4,ELSET=E1", "1,1,2,3,4"]
    for name, cards in materials:
        lines += [f"*Material, name={name}"] + cards + [f"*SOLID SECTION,ELSET=E1,MATERIAL={name.lower()}"]
    path = tmp_path / "deck.inp"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_layout_from_the_deck_material_cards(tmp_path):
    user = ["*USER MATERIAL,CONSTANTS=15", "1,2,3,4,5,6,7,8", "9,10,11,12,13,14,15,0", "*DEPVAR", "14"]
    layout, why = deck_layout(_deck(tmp_path, [("Aniso_Plas_blade", user)]))
    assert layout == ANISO and "aniso_plas" in why
    layout, why = deck_layout(_deck(tmp_path, [("ANISO_PLAS_1", user), ("STEEL", ["*ELASTIC", "2e5,0.3"])]))
    assert layout == ANISO                              # a material without state does not matter
    layout, why = deck_layout(_deck(tmp_path, [("MYLAW", user)]))
    assert layout is None and "MYLAW" in why and "no known state layout" in why


def test_layout_from_a_case_file(tmp_path):
    (tmp_path / "case.toml").write_text(
        '[mesh]\nfile = "m.inp"\n[materials.m]\ntype = "umat"\nlibrary = "x.so"\nnstatv = 8\n'
        'state = [{name = "p", size = 1}, {name = "X", size = 6, kind = "stress"}, {name = "q", size = 1}]\n'
        '[sections]\nall = "m"\n')
    from dromo.hf.case_file import read_case
    layout, why = case_layout(read_case(str(tmp_path / "case.toml"))["materials"], str(tmp_path / "case.toml"))
    assert layout == (("p", 1, "plain"), ("X", 6, "tensor"), ("q", 1, "plain")) and "umat" in why


@needs_ccx
@pytest.mark.calculix
def test_import_names_aniso_plas_state_and_sources(tmp_path):
    deck = write_case(str(tmp_path / "ccx"), "hex8", cells=(2, 1, 1), strain=0.01)
    frd, dat = run_ccx(deck)
    out = str(tmp_path / "named.h5")
    p = run_mpi(2, dromo_cmd() + ["import", "calculix", deck, frd, "--dat", dat, "-o", out])
    assert p.returncode == 0, p.stderr[-3000:]
    assert (p.stdout + p.stderr).count("wrote") == 1, (p.stdout, p.stderr)
    assert "SDV named after the law aniso_plas" in p.stderr and "eps_p = SDV2-7 (Mandel)" in p.stderr
    sdv = read_dat_simple(dat)["internal state variables"]
    with h5py.File(out, "r") as f:
        fields = set(f["fields"])
        assert {"p", "eps_p", "alpha_1", "alpha_2", "S", "E", "U"} <= fields and "SDV" not in fields
        last = sdv[-1][3]                                  # (elements × points, 14), natural order
        assert last[:, 0].max() > 0                         # plastic flow happened
        np.testing.assert_array_equal(f["fields/p/values"][-1][:, 0], last[:, 0])
        np.testing.assert_allclose(f["fields/eps_p/values"][-1], tn.mandel_from_tensor_components(last[:, 1:7]),
                                   rtol=1e-15, atol=0)
        np.testing.assert_array_equal(f["fields/alpha_1/values"][-1][:, 0], last[:, 7])
        np.testing.assert_allclose(f["fields/alpha_2/values"][-1],
                                   tn.mandel_from_tensor_components(last[:, 8:14]), rtol=1e-15, atol=0)
        assert list(f["fields/eps_p"].attrs["components"]) == ["xx", "yy", "zz", "xy", "xz", "yz"]
        assert str(f["fields/eps_p"].attrs["sdv_columns"]) == "SDV2-7"
        # each field names the file it came from
        for name in ("S", "E", "p", "alpha_2"):
            assert str(f[f"fields/{name}"].attrs["source"]) == dat, name
        assert str(f["fields/U"].attrs["source"]) == frd

    # a deck whose material is no known law: SDV kept, and the log says why
    odd = str(tmp_path / "ccx" / "odd.inp")
    text = open(deck).read().replace("ANISO_PLAS_1", "MYLAW")
    with open(odd, "w") as fh:
        fh.write(text)
    out2 = str(tmp_path / "anon.h5")
    p = run_mpi(1, dromo_cmd() + ["import", "calculix", odd, frd, "--dat", dat, "-o", out2])
    assert p.returncode == 0, p.stderr[-3000:]
    assert "SDV kept as 14 anonymous columns" in p.stderr and "MYLAW" in p.stderr
    with h5py.File(out2, "r") as f:
        assert "SDV" in f["fields"] and "p" not in f["fields"]

    # --laws-from names them too (a case file of the same model, law aniso_plas)
    case = tmp_path / "ccx" / "case.toml"
    case.write_text('[mesh]\nfile = "odd.inp"\n[materials.m]\ntype = "aniso_plas"\nconstants = [%s]\n'
                    '[sections]\nALL = "m"\n' % ",".join(["1.0"] * 15))
    out3 = str(tmp_path / "case.h5")
    p = run_mpi(1, dromo_cmd() + ["import", "calculix", odd, frd, "--dat", dat, "--laws-from", str(case), "-o", out3])
    assert p.returncode == 0, p.stderr[-3000:]
    with h5py.File(out3, "r") as f:
        assert "p" in f["fields"] and "SDV" not in f["fields"]


@needs_ccx
@pytest.mark.calculix
def test_reader_api_names_the_file_of_every_field(tmp_path):
    """Without the CLI: ``import_results(CalculixReader(...))`` stores the .dat as the source of the *EL PRINT
    (integration-point) fields and the .frd as the source of the others."""
    from mpi4py import MPI
    from dromo.io.adapters import import_results
    from dromo.io.adapters.calculix import CalculixReader
    deck = write_case(str(tmp_path / "ccx"), "hex8", cells=(1, 1, 1))
    frd, dat = run_ccx(deck)
    out = str(tmp_path / "api.h5")
    import_results(CalculixReader(deck, frd, dat=dat), out, MPI.COMM_SELF)
    with h5py.File(out, "r") as f:
        for name in ("S", "E", "SDV"):
            assert str(f[f"fields/{name}"].attrs["source"]) == dat, name
        for name in ("U", "S_nodal"):
            assert str(f[f"fields/{name}"].attrs["source"]) == frd, name
