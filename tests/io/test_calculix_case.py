"""CalculiX deck -> dromo case file (dromo.io.adapters.calculix_case, ``dromo case from-calculix``).

The translated cases are loaded by dromo.hf.case_file and, where ccx is installed, solved by dromo and
compared with ccx on the same deck.
"""
import glob
import gzip
import os
import re
import shutil
import subprocess
import tomllib

import h5py
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.hf.case_file import load_case, read_case
from dromo.hf.solver import run
from dromo.io.adapters.calculix_case import translate_calculix_deck
from dromo.io.toml_text import dumps
from dromo.mesh.generate import box_mesh
from dromo.mesh.inp import read_inp, write_inp
from dromo.mesh.meshdata import locate_facets

from .._mpi import dromo_cmd, run_mpi, serial_only
from ..hf import test_hf_calculix as hfc
from .ccx_cases import needs_ccx, run_ccx, write_case

CCX_TESTS = "/usr/share/doc/calculix-ccx-test/examples/test"


def _deck(folder, cards, mesh=None, name="job.inp"):
    """mesh.inp (a 2x1x1 hex8 box by default, with its sets and surfaces) + a deck including it."""
    os.makedirs(folder, exist_ok=True)
    write_inp(mesh or box_mesh(2, 1, 1, lengths=(2.0, 1.0, 1.0), element="hex8"),
              os.path.join(folder, "mesh.inp"))
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("*INCLUDE, INPUT=mesh.inp\n" + cards.strip() + "\n")
    return path


ELASTIC = """*MATERIAL, NAME=STEEL
*ELASTIC
200000., 0.3
*DENSITY
7.85e-9
*SOLID SECTION, ELSET=ALL, MATERIAL=STEEL
"""


def _translate_and_read(path, tmp):
    tr = translate_calculix_deck(path)
    case = os.path.join(str(tmp), "case.toml")
    tr.write(case)
    return tr, read_case(case), case


# ------------------------------------------------------------------------------------------ TOML writer

def test_toml_writer_round_trips():
    d = {"name": 'a "quoted" näme\n', "flag": True, "n": 3, "x": 1e-300, "y": -2.5e17, "z": float("inf"),
         "mesh": {"file": "../deck.inp"},
         "materials": {"ANISO PLAS-1": {"type": "aniso_plas", "constants": [1.0, 2.0], "viscous": False,
                                        "flow": {"type": "power", "A": [[293.0, 1e-10], [900.0, 1e-8]]}},
                       "B": {"kinematic": [{"C": 5e3}, {"C": 1.0, "D": 2.0}]}},
         "empty": {}, "amplitudes": {"A1": [[0.1 * i, (-1.0) ** i] for i in range(6)], "B": [[0.0, 1.0]]},
         "displacement": [{"set": "XMIN", "x": 0.0}, {"set": "XMAX", "x": 0.1, "amplitude": "A1"}],
         "time": {"end": 2.0, "fixed": True}}
    text = dumps(d, header="first line\nsecond line")
    assert text.startswith("# first line\n# second line\n")
    assert tomllib.loads(text) == d


# ------------------------------------------------------------------------------------------ vs CalculiX

@needs_ccx
@pytest.mark.calculix
@pytest.mark.mpi
def test_aniso_plas_deck_translates_and_matches_calculix(comm, shared_tmp):
    """The deck of tests/hf/test_hf_calculix.py (ANISO_PLAS, *VISCO DIRECT, node-set boundary
    conditions, a sine amplitude on the imposed displacement): its translation loads, has no
    untranslated card, and `dromo solve` of it matches ccx within the tolerance of that test."""
    folder = str(shared_tmp)
    mesh = hfc._mesh()
    ref = None
    if comm.rank == 0:
        deck = hfc.write_deck(folder, mesh)
        ref = hfc.run_ccx(folder)
        tr = translate_calculix_deck(deck)
        assert tr.warnings == []
        assert tr.extra_mesh is None                     # the deck itself is the mesh
        tr.write(os.path.join(folder, "case.toml"))
        spec = read_case(os.path.join(folder, "case.toml"))
        assert spec["mesh_file"] == deck
        assert spec["materials"]["ALL"]["type"] == "aniso_plas"
        assert spec["time"].fixed and spec["time"].dt == hfc.DT and spec["time"].end == hfc.T_END
        assert [(ld.set, ld.values, ld.amplitude) for ld in spec["loads"]] == [
            ("XMIN", {0: 0.0}, None), ("XMIN", {1: 0.0}, None), ("XMIN", {2: 0.0}, None),
            ("XMAX", {0: hfc.U_END}, "A1")]
    ref = comm.bcast(ref, root=0)
    pb, opts = load_case(os.path.join(folder, "case.toml"), comm)
    out = os.path.join(folder, "dromo.h5")
    run(pb, out, **opts)
    if comm.rank == 0:
        ts, _ = hfc._amplitude()
        hfc.compare_with_ccx(out, ref, len(ts), n_ip=len(mesh.blocks[0].cells) * 8)


def _ccx(folder, job):
    """Run ``ccx job`` in ``folder``; returns the path of its .dat."""
    p = subprocess.run(["ccx", "-i", job], cwd=folder, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:]
    return os.path.join(folder, job + ".dat")


def _ccx_displacements(folder, job):
    """The last ``*NODE PRINT`` U block of ccx's .dat, (n_nodes, 3) by node id."""
    rows, on = [], False
    with open(_ccx(folder, job)) as f:
        for line in f:
            if re.match(r"\s*displacements", line):
                rows, on = [], True
            elif on and re.match(r"\s*\d", line):
                rows.append([float(x) for x in line.split()])
    u = np.array(rows)
    return u[np.argsort(u[:, 0])][:, 1:]


@needs_ccx
@pytest.mark.calculix
def test_pressure_on_element_faces_and_centrifugal_match_calculix(tmp_path):
    """*DLOAD P<n> on element faces (a surface in the wrapper deck) and CENTRIF (ω², axis point and
    direction): the right case keys, and a linear-elastic run equals ccx's."""
    mesh = box_mesh(3, 2, 2, lengths=(3.0, 1.0, 1.0), element="hex8", distort=0.2, seed=1)
    cell, face = locate_facets(mesh, mesh.facet_sets["xmax"]["quad4"])
    faces = "\n".join(f"{mesh.cell_ids[c]}, P{k + 1}, 50." for c, k in zip(cell, face))
    deck = _deck(str(tmp_path), f"""{ELASTIC}
*NSET, NSET=NALL, GENERATE
1, {mesh.n_nodes}, 1
*STEP
*STATIC
*BOUNDARY
XMIN, 1, 3
*DLOAD
{faces}
ALL, CENTRIF, 4.e8, 0., 0.5, 0.5, 0., 0., 1.
*NODE PRINT, NSET=NALL
U
*END STEP""", mesh=mesh)
    tr, spec, case = _translate_and_read(deck, tmp_path)
    assert tr.warnings == []
    with open(case, "rb") as f:
        d = tomllib.load(f)
    assert d["mesh"]["file"] == "case.mesh.inp"            # the wrapper deck with the new surface
    assert d["pressure"] == [{"set": "DLOAD_1", "value": 50.0, "amplitude": "RAMP"}]
    assert d["centrifugal"] == {"omega": 2e4, "axis_point": [0.0, 0.5, 0.5],
                                "axis_direction": [0.0, 0.0, 1.0], "amplitude": "RAMP"}
    assert d["amplitudes"] == {"RAMP": [[0.0, 0.0], [1.0, 1.0]]}
    wrapped = read_inp(spec["mesh_file"])
    assert sum(len(f) for f in wrapped.facet_sets["DLOAD_1"].values()) == len(cell)
    u_ref = _ccx_displacements(str(tmp_path), "job")
    pb, opts = load_case(case)
    out = str(tmp_path / "dromo.h5")
    run(pb, out, **opts)
    with h5py.File(out, "r") as f:
        u = f["fields/U/values"][-1]
    assert np.abs(u_ref).max() > 1e-5
    assert np.linalg.norm(u - u_ref) / np.linalg.norm(u_ref) < 1e-4


def _ccx_stresses(folder, job):
    """{time: stresses (n_ip, 6), order xx yy zz xy xz yz, tensor shears} from the ``*EL PRINT`` S
    blocks of the .dat."""
    out, cur = {}, None
    with open(_ccx(folder, job)) as f:
        for line in f:
            m = re.match(r"\s*stresses .*time\s+(\S+)", line)
            if m:
                cur = out.setdefault(round(float(m.group(1)), 6), [])
            elif cur is not None and len(line.split()) == 8:
                cur.append([float(x) for x in line.split()[2:]])
    return {t: np.array(v) for t, v in out.items()}


def _solve_stresses(case, tmp_path):
    """dromo solve of a case: times and stresses (n_times, n_ip, 6) with tensor shears."""
    pb, opts = load_case(case)
    out = str(tmp_path / "dromo.h5")
    run(pb, out, **opts)
    with h5py.File(out, "r") as f:
        times = np.round(f["fields/S/time"][...], 6)
        S = f["fields/S/values"][...]
    S[..., 3:] /= np.sqrt(2.0)
    return times, S


@needs_ccx
@pytest.mark.calculix
@pytest.mark.parametrize("procedure, creep", [("VISCO, DIRECT, CETOL=1.e-3", "*CREEP\n1.e-10, 3., 0.\n"),
                                              ("STATIC, DIRECT", "")])
def test_elastic_plastic_creep_deck_matches_calculix(tmp_path, procedure, creep):
    """*ELASTIC + *PLASTIC (two points: linear hardening) [+ *CREEP, Norton, on the overstress] ->
    dromo's von_mises law; homogeneous tension by an amplitude: σxx equals ccx's at every increment."""
    deck = _deck(str(tmp_path), f"""*MATERIAL, NAME=VP
*ELASTIC
200000., 0.3
*PLASTIC
200., 0.
300., 0.1
{creep}*SOLID SECTION, ELSET=ALL, MATERIAL=VP
*AMPLITUDE, NAME=A1
0., 0., 1., 1.
*STEP, INC=1000
*{procedure}
0.05, 1.
*BOUNDARY
XMIN, 1, 1
YMIN, 2, 2
ZMIN, 3, 3
*BOUNDARY, AMPLITUDE=A1
XMAX, 1, 1, 0.01
*EL PRINT, ELSET=ALL
S
*END STEP""")
    ref = {t: S[:, 0].mean() for t, S in _ccx_stresses(str(tmp_path), "job").items()}
    tr, spec, case = _translate_and_read(deck, tmp_path)
    assert tr.warnings == []
    assert ("flow" in spec["materials"]["ALL"]) == bool(creep)
    times, S = _solve_stresses(case, tmp_path)
    sxx = S[..., 0].mean(axis=1)
    assert len(times) == 21 and max(ref.values()) > 200.0          # yielded
    for t, s in zip(times[1:], sxx[1:]):
        assert abs(s - ref[t]) < 1e-5 * abs(ref[t]), (t, s, ref[t])


@needs_ccx
@pytest.mark.calculix
def test_three_steps_chained_in_total_time_match_calculix(tmp_path):
    """Three *STATIC steps: a displacement ramped in step 1, ramped further in step 2, then driven by
    a STEP TIME amplitude in step 3 (from its end value down into compression), and gravity under a
    TOTAL TIME amplitude across all steps: one table per load in total time; the stresses at every
    increment equal ccx's."""
    deck = _deck(str(tmp_path), """*MATERIAL, NAME=VP
*ELASTIC
200000., 0.3
*DENSITY
7.85e-9
*PLASTIC
200., 0.
300., 0.1
*SOLID SECTION, ELSET=ALL, MATERIAL=VP
*AMPLITUDE, NAME=DOWN
0., 1., 1., -0.5
*AMPLITUDE, NAME=TOT, TIME=TOTAL TIME
0., 0., 2., 1., 3., 0.
*STEP
*STATIC, DIRECT
0.1, 1.
*BOUNDARY
XMIN, 1, 1
YMIN, 2, 2
ZMIN, 3, 3
XMAX, 1, 1, 0.004
*DLOAD, AMPLITUDE=TOT
ALL, GRAV, 1.e10, 0., 1., 0.
*EL PRINT, ELSET=ALL
S
*END STEP
*STEP
*STATIC, DIRECT
0.1, 1.
*BOUNDARY
XMAX, 1, 1, 0.008
*END STEP
*STEP
*STATIC, DIRECT
0.1, 1.
*BOUNDARY, AMPLITUDE=DOWN
XMAX, 1, 1, 0.008
*END STEP""")
    ref = _ccx_stresses(str(tmp_path), "job")
    tr, spec, case = _translate_and_read(deck, tmp_path)
    assert tr.warnings == []
    with open(case, "rb") as f:
        d = tomllib.load(f)
    assert d["amplitudes"]["UX_XMAX"] == [[0.0, 0.0], [1.0, 0.5], [2.0, 1.0], [3.0, -0.5]]
    assert d["gravity"] == [{"acceleration": [0.0, 1e10, 0.0], "amplitude": "TOT"}]
    assert d["time"]["end"] == 3.0 and d["time"]["fixed"]
    times, S = _solve_stresses(case, tmp_path)
    assert len(times) == 31
    scale = max(np.abs(r).max() for r in ref.values())
    for t, s in zip(times[1:], S[1:]):
        assert np.abs(s - ref[t]).max() < 1e-5 * scale, t


@needs_ccx
@pytest.mark.calculix
def test_temperature_ramp_and_expansion_match_calculix(tmp_path):
    """*INITIAL CONDITIONS + *TEMPERATURE (one value on all nodes, ramped), *EXPANSION with ZERO=,
    temperature-dependent E: a bar held at both ends; the thermal stress equals ccx's."""
    deck = _deck(str(tmp_path), """*MATERIAL, NAME=HOT
*ELASTIC
200000., 0.3, 293.
100000., 0.3, 893.
*EXPANSION, ZERO=293.
1.2e-5
*SOLID SECTION, ELSET=ALL, MATERIAL=HOT
*NSET, NSET=NALL, GENERATE
1, 12, 1
*INITIAL CONDITIONS, TYPE=TEMPERATURE
NALL, 293.
*STEP
*STATIC, DIRECT
0.25, 1.
*BOUNDARY
XMIN, 1, 1
XMAX, 1, 1
YMIN, 2, 2
ZMIN, 3, 3
*TEMPERATURE
NALL, 593.
*EL PRINT, ELSET=ALL
S
*END STEP""")
    ref = _ccx_stresses(str(tmp_path), "job")[1.0]
    tr, spec, case = _translate_and_read(deck, tmp_path)
    assert tr.warnings == []
    times, S = _solve_stresses(case, tmp_path)
    assert np.allclose(S[:, :, 0].mean(axis=1), [0.0, -168.75, -315.0, -438.75, -540.0])
    assert np.abs(S[-1] - ref).max() < 1e-6 * 540.0 and abs(ref[:, 0].mean() + 540.0) < 1e-3


# ------------------------------------------------------------------------------------------ mapping

def test_materials_steps_and_amplitudes_mapping(tmp_path):
    """*ELASTIC + temperature-dependent *PLASTIC + *CREEP + *EXPANSION, two *VISCO steps chained in
    total time, a STEP TIME amplitude in the second step, a uniform temperature ramp, gravity."""
    deck = _deck(str(tmp_path), """*MATERIAL, NAME=HOT
*ELASTIC
200000., 0.3, 293.
150000., 0.3, 900.
*PLASTIC
250., 0., 293.
350., 0.1, 293.
100., 0., 900.
120., 0.1, 900.
*CREEP
1.e-12, 4., 0.
*EXPANSION, ZERO=0.
1.2e-5
*DENSITY
8.e-9
*SOLID SECTION, ELSET=ALL, MATERIAL=HOT
*NSET, NSET=NALL, GENERATE
1, 12, 1
*INITIAL CONDITIONS, TYPE=TEMPERATURE
NALL, 293.
*AMPLITUDE, NAME=UP
0., 0., 2., 1.
*STEP
*VISCO, CETOL=1.e-3
0.1, 1., 1.e-4, 0.5
*BOUNDARY
XMIN, 1, 3
XMAX, 1, 1, 0.01
*TEMPERATURE
NALL, 593.
*DLOAD
ALL, GRAV, 9810., 0., 0., -1.
*END STEP
*STEP
*VISCO, CETOL=1.e-3
0.2, 2.
*BOUNDARY, AMPLITUDE=UP
XMAX, 1, 1, 0.03
*END STEP""")
    tr, spec, case = _translate_and_read(deck, tmp_path)
    assert tr.warnings == []
    with open(case, "rb") as f:
        d = tomllib.load(f)
    m = d["materials"]["HOT"]
    assert m["type"] == "von_mises"
    assert m["E"] == [[293.0, 200000.0], [900.0, 150000.0]]
    assert m["R0"] == [[293.0, 250.0], [900.0, 100.0]]
    assert np.allclose(np.array(m["H"])[:, 1], [1000.0, 200.0])
    assert m["flow"] == {"type": "power", "A": 1e-12, "n": 4.0, "m": 0.0}
    assert m["alpha"] == 1.2e-5 and m["T_ref"] == 293.0 and m["density"] == 8e-9
    assert d["time"] == {"start": 0.0, "end": 3.0, "dt": 0.1, "dt_max": 2.0, "dt_min": 1e-4}
    xmax = [x for x in d["displacement"] if x["set"] == "XMAX"][0]
    table = np.array(d["amplitudes"][xmax["amplitude"]]) * [1.0, xmax["x"]]
    # step 1: ramp 0 -> 0.01 over [0, 1]; step 2: 0.03 * UP(t - 1), UP(0) = 0 (a jump, spread
    # over 1e-6 of the step), UP(2) = 1
    assert np.allclose(table, [[0, 0], [1, 0.01], [1 + 2e-6, 0.0], [3, 0.03]])
    assert d["temperature"]["value"] == 593.0
    assert np.allclose(np.array(d["amplitudes"][d["temperature"]["amplitude"]]) * [1.0, 593.0],
                       [[0, 293.0], [1, 593.0], [3, 593.0]])
    assert d["gravity"] == [{"acceleration": [0.0, 0.0, -9810.0], "amplitude": "RAMP"}]
    assert "ramp" in tr.header().lower() or "total time" in tr.header()


def test_op_new_ends_loads_and_releasing_boundaries_is_reported(tmp_path):
    deck = _deck(str(tmp_path), f"""{ELASTIC}
*STEP
*STATIC
*BOUNDARY
XMIN, 1, 3
*DSLOAD
XMAX, P, 10.
*END STEP
*STEP
*STATIC
*BOUNDARY, OP=NEW
XMIN, 1, 1
*DLOAD, OP=NEW
ALL, GRAV, 9810., 0., 0., -1.
*END STEP""")
    tr, spec, case = _translate_and_read(deck, tmp_path)
    assert len(tr.warnings) == 1 and re.search(r"job\.inp:18: \*BOUNDARY: OP=NEW releases", tr.warnings[0])
    with open(case, "rb") as f:
        d = tomllib.load(f)
    (p,) = d["pressure"]
    assert p["set"] == "XMAX" and p["value"] == 10.0            # *DSLOAD: the deck's surface
    assert d["amplitudes"][p["amplitude"]] == [[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]
    (g,) = d["gravity"]
    assert g["acceleration"] == [0.0, 0.0, -9810.0]
    assert d["amplitudes"][g["amplitude"]] == [[0.0, 0.0], [1.0, 0.0], [2.0, 1.0]]


def test_untranslated_cards_are_named_and_strict_fails(tmp_path):
    deck = _deck(str(tmp_path), f"""{ELASTIC}
*SURFACE INTERACTION, NAME=SI
*SURFACE BEHAVIOR, PRESSURE-OVERCLOSURE=LINEAR
1.e7
*CONTACT PAIR, INTERACTION=SI, TYPE=SURFACE TO SURFACE
XMAX, XMIN
*STEP
*STATIC
*BOUNDARY
XMIN, 1, 3
*CLOAD
XMAX, 1, 10.
*TEMPERATURE, SUBMODEL, STEP=1
XMAX
*END STEP""")
    tr, spec, case = _translate_and_read(deck, tmp_path)
    # *TEMPERATURE, SUBMODEL (ccx's submodeltwobeam: node sets only) was an InputError
    for kw in ("*CLOAD", "*CONTACT PAIR", "*SURFACE INTERACTION", "*SURFACE BEHAVIOR", "*TEMPERATURE"):
        assert any(f": {kw}:" in w for w in tr.warnings), (kw, tr.warnings)
        with open(case) as f:
            header = "".join(l for l in f if l.startswith("#"))
        assert kw in header
    assert re.search(r"job\.inp:\d+: \*CLOAD: dromo has no nodal point load", "\n".join(tr.warnings))
    assert spec["materials"]["ALL"]["type"] == "elastic"


@serial_only
def test_from_calculix_command_and_strict(tmp_path):
    deck = _deck(str(tmp_path), f"""{ELASTIC}
*STEP
*STATIC
*BOUNDARY
XMIN, 1, 3
*CLOAD
XMAX, 1, 10.
*END STEP""")
    out = str(tmp_path / "strict.toml")
    p = run_mpi(1, dromo_cmd() + ["case", "from-calculix", deck, "-o", out, "--strict"])
    assert p.returncode != 0 and "*CLOAD" in p.stderr and not os.path.exists(out), p.stderr
    out = str(tmp_path / "case.toml")
    p = run_mpi(1, dromo_cmd() + ["case", "from-calculix", deck, "-o", out])
    assert p.returncode == 0, p.stderr
    assert "warning: not translated" in p.stderr and "*CLOAD" in p.stderr
    assert read_case(out)["materials"]["ALL"]["E"] == 200000.0


@needs_ccx
@pytest.mark.calculix
@serial_only
def test_import_calculix_writes_the_case(tmp_path):
    deck = write_case(str(tmp_path / "run"), n_inc=2)
    frd, dat = run_ccx(deck)
    case = str(tmp_path / "snap.toml")
    p = run_mpi(2, dromo_cmd() + ["import", "calculix", deck, frd, "-o", str(tmp_path / "snap.h5"),
                                  "--case", case])
    assert p.returncode == 0, p.stdout + p.stderr
    spec = read_case(case)
    assert spec["mesh_file"] == deck and spec["materials"]["ALL"]["type"] == "aniso_plas"
    assert spec["time"].fixed and spec["time"].dt == 0.5


@pytest.mark.parametrize("text, message", [
    ("*SOLID SECTION, ELSET=ALL, MATERIAL=NOPE", r"job\.inp:2: \*SOLID SECTION: unknown material 'NOPE'"),
    (ELASTIC + "*STEP\n*STATIC\n*BOUNDARY, AMPLITUDE=GONE\nXMAX, 1, 1, 0.1\n*END STEP",
     r"job\.inp:10: \*BOUNDARY: unknown amplitude 'GONE'"),
    (ELASTIC + "*STEP\n*STATIC\nzero, one\n*END STEP", r"job\.inp:10: \*STATIC: expected a number"),
    (ELASTIC + "*STEP\n*STATIC\n*BOUNDARY\nNOSET, 1, 3\n*END STEP", r"job\.inp:11: \*BOUNDARY: unknown node set"),
    (ELASTIC + "*AMPLITUDE, NAME=A\n0., 0., 1.", r"job\.inp:8: \*AMPLITUDE: amplitude 'A': expected time"),
])
def test_bad_input_names_deck_line_and_card(tmp_path, text, message):
    deck = _deck(str(tmp_path), text)
    with pytest.raises(InputError, match=message):
        translate_calculix_deck(deck)


# ------------------------------------------------------------------------------------------ ccx test suite

SUITE = ["achtelc.inp", "achtelg.inp", "achteld.inp", "achtelp.inp", "anipla.inp", "beamd.inp.gz",
         "beam8t.inp.gz", "beamcr.inp.gz", "beamcontact.inp.gz", "beamabq.inp.gz", "beamd2.inp.gz",
         "beamuamp.inp.gz", "beamrb.inp.gz", "beamhtbf.inp.gz"]


@pytest.mark.skipif(not os.path.isdir(CCX_TESTS), reason="calculix-ccx-test not installed")
@pytest.mark.parametrize("name", SUITE)
def test_calculix_test_suite_decks_translate(tmp_path, name):
    """Decks of CalculiX's own test suite translate without a crash: a case that loads, with its
    untranslated cards listed."""
    src = os.path.join(CCX_TESTS, name)
    deck = str(tmp_path / name.replace(".gz", ""))
    with (gzip.open(src, "rb") if name.endswith(".gz") else open(src, "rb")) as fi, open(deck, "wb") as fo:
        shutil.copyfileobj(fi, fo)
    tr, spec, case = _translate_and_read(deck, tmp_path)
    assert spec["materials"] and spec["time"].end > 0
    expected = {"achtelp.inp": "*CLOAD", "beamcontact.inp": "*CONTACT PAIR", "beamabq.inp": "UMAT",
                "beamd2.inp": "node 262 is in no element", "beamuamp.inp": "*AMPLITUDE",
                "beamrb.inp": "*RIGID BODY", "beamhtbf.inp": "*HEAT TRANSFER"}
    if name.replace(".gz", "") in expected:
        assert any(expected[name.replace(".gz", "")] in w for w in tr.warnings), tr.warnings
    assert glob.glob(str(tmp_path / "case.toml"))
