"""`dromo offline` / `dromo online` as a user runs them: rank counts and bad input (serial tests that launch
their own mpirun)."""
import os

import h5py
import numpy as np
import pytest

from .._mpi import dromo_cmd, run_mpi, serial_only
from . import rom_cases as rc


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A ROM built by `dromo offline` at 3 ranks from two runs of the bar."""
    d = str(tmp_path_factory.mktemp("rom_cli"))
    rc.write_mesh(d)
    rc.write_case(d, "a", ux=0.012)
    rc.write_case(d, "b", ux=0.018)
    rc.write_case(d, "c", ux=0.015, end=4.0)
    train = rc.write_training(d, [("a.toml", "a.h5"), ("b.toml", "b.h5")])
    p = run_mpi(3, dromo_cmd() + ["offline", train, "-o", os.path.join(d, "rom.h5")], timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "reduced points" in p.stdout and os.path.exists(os.path.join(d, "rom.h5"))
    return d


def _online(d, n, case, out, extra=()):
    return run_mpi(n, dromo_cmd() + ["online", os.path.join(d, "rom.h5"), os.path.join(d, case), "-o",
                                     os.path.join(d, out)] + list(extra), timeout=600)


@serial_only
def test_offline_at_3_ranks_online_at_1_2_3_gives_the_same_reduced_coordinates(trained):
    d = trained
    gammas = []
    for n in (1, 2, 3):
        p = _online(d, n, "c.toml", f"r{n}.h5", ["--reconstruct", "U", "p"] if n == 2 else [])
        assert p.returncode == 0, p.stderr[-3000:]
        assert "ms per increment" in p.stdout
        with h5py.File(os.path.join(d, f"r{n}.h5"), "r") as f:
            gammas.append((f["rom_result/time"][...], f["rom_result/gamma"][...]))
            assert f["rom_result/points/S"].shape[1] == f["rom_result/points/ids"].shape[0]
            assert ("fields" in f) == (n == 2)
    for t, g in gammas[1:]:
        assert np.array_equal(t, gammas[0][0])
        assert np.abs(g - gammas[0][1]).max() <= 1e-10 * np.abs(gammas[0][1]).max()
    # the reconstructed result reads like an HF result: dromo compare against the reference solver
    p = run_mpi(2, dromo_cmd() + ["solve", os.path.join(d, "c.toml"), "-o", os.path.join(d, "c.h5")])
    assert p.returncode == 0, p.stderr[-2000:]
    p = run_mpi(1, dromo_cmd() + ["compare", os.path.join(d, "r2.h5"), os.path.join(d, "c.h5"), "--fields", "U",
                                  "p", "--json", os.path.join(d, "cmp.json")])
    assert p.returncode == 0, p.stderr[-2000:]
    import json
    with open(os.path.join(d, "cmp.json")) as f:
        figs = json.load(f)
    err = {k: v["max_rel_error"] for k, v in (figs["fields"] if "fields" in figs else figs).items()}
    assert err["U"] <= 1e-2 and err["p"] <= 3e-2, err


def _expect_error(p, *words):
    assert p.returncode != 0
    for w in words:
        assert w in p.stderr, (w, p.stderr[-2000:])


@serial_only
def test_online_refuses_what_the_rom_cannot_represent(trained):
    d = trained
    # another mesh
    rc.write_mesh(d, "other.inp", cells=(7, 2, 2))
    rc.write_case(d, "other_mesh", ux=0.01, mesh="other.inp")
    # a pressure set that was not loaded in training
    rc.write_case(d, "pressure", ux=0.01, extra='[[pressure]]\nset = "ZMAX"\nvalue = 1.0\n')
    # a law type changed on the element set
    rc.write_case(d, "law", ux=0.01, law='type = "elastic"\nE = 200e3\nnu = 0.3\n')
    # an imposed displacement on a node set that was free in training
    rc.write_case(d, "dirichlet", ux=0.01, extra='[[displacement]]\nset = "ZMAX"\nz = 0.001\n')
    for case, words in (("other_mesh.toml", ["not the one the ROM", "other.inp"]),
                        ("pressure.toml", ["'ZMAX'", "not loaded in training"]),
                        ("law.toml", ["law type 'elastic'", "'von_mises'"]),
                        ("dirichlet.toml", ["not trained", "ZMAX.z"])):
        out = os.path.join(d, f"bad_{case}.h5")
        p = _online(d, 2, case, out)
        _expect_error(p, *words)
        assert not os.path.exists(out)
        assert not [f for f in os.listdir(d) if ".tmp-" in f]


@serial_only
def test_online_refuses_damaged_or_foreign_rom_archives(trained, tmp_path):
    d = trained
    trunc = str(tmp_path / "trunc.h5")
    with open(os.path.join(d, "rom.h5"), "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])
    text = str(tmp_path / "text.h5")
    with open(text, "w") as f:
        f.write("not an archive\n")
    for rom, words in ((trunc, [trunc]), (text, [text, "HDF5"]),
                       (os.path.join(d, "a.h5"), ["not a ROM archive"])):      # an HF result
        out = str(tmp_path / "r.h5")
        p = run_mpi(2, dromo_cmd() + ["online", rom, os.path.join(d, "c.toml"), "-o", out])
        _expect_error(p, *words)
        assert not os.path.exists(out)
    # another format version
    other = str(tmp_path / "v0.h5")
    with open(other, "wb") as f:
        f.write(data)
    with h5py.File(other, "r+") as f:
        f["rom"].attrs["format_version"] = 0
    p = run_mpi(1, dromo_cmd() + ["online", other, os.path.join(d, "c.toml"), "-o", str(tmp_path / "r.h5")])
    _expect_error(p, "format version 0")


@serial_only
def test_online_failure_at_the_minimum_step_keeps_the_steps_so_far(trained):
    d = trained
    # one reduced Newton iteration allowed and fixed steps: the elastic increments pass, the first
    # plastic one cannot
    rc.write_case(d, "stiff", ux=0.015, time_extra="fixed = true\nmax_iterations = 1")
    out = os.path.join(d, "stiff_r.h5")
    p = _online(d, 2, "stiff.toml", out)
    _expect_error(p, "fixed time step", "converged so far are in", out)
    with h5py.File(out, "r") as f:
        n = f["rom_result/time"].shape[0]
        assert 1 < n < 31


@serial_only
def test_offline_refuses_bad_training_files(tmp_path):
    d = str(tmp_path)
    rc.write_mesh(d)
    rc.write_case(d, "a", ux=0.012)
    rc.write_case(d, "free", ux=0.012, extra='[[displacement]]\nset = "ZMAX"\nz = 0.0\n')
    bad = {"unknown.toml": '[[run]]\ncase = "a.toml"\nresult = "a.h5"\n[pod]\ntoll = 1e-6\n',
           "norun.toml": "[pod]\ntol = 1e-6\n",
           "both.toml": '[[run]]\ncase = "a.toml"\nresult = "a.h5"\narchive = "a.h5"\n',
           "mismatch.toml": '[[run]]\ncase = "a.toml"\nresult = "a.h5"\n[[run]]\ncase = "free.toml"\nresult = "f.h5"\n'}
    words = {"unknown.toml": ["'toll'"], "norun.toml": ["no [[run]]"], "both.toml": ["exactly one of"],
             "mismatch.toml": ["imposed displacements", "free"]}
    for name, text in bad.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        out = os.path.join(d, f"{name}.h5")
        p = run_mpi(2, dromo_cmd() + ["offline", os.path.join(d, name), "-o", out], timeout=300)
        _expect_error(p, *words[name])
        assert not os.path.exists(out)
