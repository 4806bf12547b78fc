"""``dromo demo`` on 2 ranks (one hot cycle to stay short): it runs end to end with progress, its figures are
real pictures, and the numbers of its report are those of its archives (recomputed here with h5py)."""
import json
import os
import re

import h5py
import numpy as np
import pytest

from .._mpi import dromo_cmd, run_mpi, serial_only

pytestmark = serial_only

FIGURES = ("singular_values.png", "reduced_points.png", "monitored.png", "indicator.png")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    p = run_mpi(2, dromo_cmd() + ["demo", "--out", str(out), "--cycles", "1"], timeout=1200)
    assert p.returncode == 0, p.stderr[-4000:]
    return out, p


def _row(report, key):
    """The cells of the report table's row ``key``."""
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == key:
            return dict(zip(("run", "loading", "increments", "hf_s", "rom_s", "speedup", "u", "p", "modes",
                             "points", "enrichments"), cells))
    raise AssertionError(f"no row {key!r} in the report:\n{report}")


def _max_rel_error(a_path, b_path, field):
    """max over time ‖a − b‖ / max over time ‖b‖ from the archives (same times: fixed increments)."""
    with h5py.File(a_path, "r") as fa, h5py.File(b_path, "r") as fb:
        ta, tb = fa[f"fields/{field}/time"][...], fb[f"fields/{field}/time"][...]
        assert np.allclose(ta, tb)
        a, b = fa[f"fields/{field}/values"][...], fb[f"fields/{field}/values"][...]
    return np.linalg.norm((a - b).reshape(len(ta), -1), axis=1).max() / np.linalg.norm(b.reshape(len(tb), -1),
                                                                                        axis=1).max()


def test_demo_runs_with_progress_and_prints_its_table(demo):
    out, p = demo
    assert "demo stage 9/9" in p.stderr and "ETA" in p.stderr
    assert "| adapt (hot) |" in p.stdout and "report.md" in p.stdout
    assert not [f for f in os.listdir(out) if ".tmp-" in f]
    for run in ("unseen", "hot"):
        assert (out / "paraview" / f"{run}.xdmf").exists()


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_real_pictures(demo, name):
    import matplotlib.image as mpimg
    path = demo[0] / name
    assert path.stat().st_size > 20_000
    img = mpimg.imread(path)[..., :3]
    ink = (img.min(axis=2) < 0.9).mean()                   # share of pixels that are not (near) white
    assert 0.02 < ink < 0.9 and img.std() > 0.05
    assert len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50      # not a flat drawing


def test_report_numbers_are_those_of_the_archives(demo):
    out, _p = demo
    report = (out / "report.md").read_text()
    res = out / "results"
    adapt, online = _row(report, "adapt (hot)"), _row(report, "online (unseen)")
    # errors recomputed from the full fields of the archives
    assert float(adapt["u"]) == pytest.approx(_max_rel_error(res / "adapt_hot.h5", res / "hf_hot.h5", "U"), rel=1e-2)
    assert float(online["p"]) == pytest.approx(_max_rel_error(res / "rom_unseen.h5", res / "hf_unseen.h5", "p"),
                                               rel=1e-2)
    # counts: modes and points of the model, enrichments (HF increments) of the adaptive run, increments
    with h5py.File(res / "rom.h5", "r") as f:
        modes, points = int(f["rom"].attrs["n_modes"]), int(f["rom"].attrs["n_points"])
    with h5py.File(res / "adapt_hot.h5", "r") as f:
        hf_steps = int(f["rom_result/hf"][...].sum())
        enrichments = len(json.loads(bytes(f["rom_result/enrichments"][...]).decode()))
        modes_after, points_after = int(f["rom_result"].attrs["n_modes"]), int(f["rom_result"].attrs["n_points"])
    with h5py.File(res / "hf_hot.h5", "r") as f:
        hf_increments = f["fields/U/time"].shape[0] - 1
    assert online["modes"] == str(modes) and online["points"] == str(points)
    assert adapt["modes"] == f"{modes} → {modes_after}" and adapt["points"] == f"{points} → {points_after}"
    assert re.fullmatch(rf"{enrichments} \({hf_steps} HF increments\)", adapt["enrichments"])
    assert int(adapt["increments"]) == hf_increments
    # the ParaView archive: the difference is ROM − HF
    with h5py.File(out / "paraview" / "hot.h5", "r") as f:
        k = f["fields/U_hf/values"].shape[0] - 1
        u_hf, u_rom, u_diff = (f[f"fields/U_{s}/values"][k] for s in ("hf", "rom", "diff"))
    with h5py.File(res / "hf_hot.h5", "r") as f:
        assert np.array_equal(u_hf, f["fields/U/values"][k])
    assert np.allclose(u_diff, u_rom - u_hf, rtol=0, atol=1e-12 * np.abs(u_hf).max())
