"""The adaptive loop (issue 17): `dromo adapt` and `dromo calibrate` as a user runs them, at 1, 2 and 3
ranks; the enrichment step itself (the incremental basis against a batch POD of the same snapshots, the
estimate after an enrichment); a kill -9 during the HF increments then --restart; a UMAT returning NaN at
a reduced point. The bar of ``rom_cases``: trained at one amplitude, run at twice it (more plasticity).
"""
import json
import os
import re
import signal
import subprocess
import textwrap

import h5py
import numpy as np
import pytest

from .._mpi import dromo_cmd, run_mpi, serial_only
from . import rom_cases as rc

DROMO = dromo_cmd()


@pytest.fixture(scope="module")
def bar(tmp_path_factory):
    """A ROM of the bar trained at ux = 0.012 (`dromo offline`, 2 ranks); the case c at ux = 0.025 and its
    HF result (2 ranks); a plain online run of c."""
    d = str(tmp_path_factory.mktemp("adapt"))
    rc.write_mesh(d)
    rc.write_case(d, "a", ux=0.012, time_extra="fixed = true")
    rc.write_case(d, "c", ux=0.025, end=4.0, time_extra="fixed = true")
    rc.write_case(d, "k", ux=0.025, end=8.0, time_extra="fixed = true")
    rc.write_case(d, "b", ux=0.02, time_extra="fixed = true")
    rc.write_case(d, "e", ux=0.016, time_extra="fixed = true")
    rc.write_case(d, "f", ux=0.03, time_extra="fixed = true")
    train = rc.write_training(d, [("a.toml", "a.h5")])
    for args in (["offline", train, "-o", "rom.h5"], ["solve", "c.toml", "-o", "c.h5"],
                 ["online", "rom.h5", "c.toml", "-o", "on.h5", "--reconstruct", "U", "p"]):
        p = run_mpi(2, DROMO + args, timeout=600, cwd=d)
        assert p.returncode == 0, p.stderr[-3000:]
    return d


def _compare(d, a, b="c.h5"):
    p = run_mpi(1, DROMO + ["compare", a, b, "--fields", "U", "p", "--json", a + ".json"], cwd=d)
    assert p.returncode == 0, p.stderr[-2000:]
    with open(os.path.join(d, a + ".json")) as f:
        figs = json.load(f)
    figs = figs.get("fields", figs)
    return {k: v["max_rel_error"] for k, v in figs.items()}


def _result(path):
    with h5py.File(path, "r") as f:
        g = f["rom_result"]
        return dict(time=g["time"][...], gamma=g["gamma"][...], hf=g["hf"][...], estimate=g["estimate"][...],
                    enrichments=json.loads(bytes(g["enrichments"][...]).decode()))


ADAPT = ["adapt", "rom.h5", "c.toml", "--field", "S", "p", "--tol", "0.005", "0.01"]


@serial_only
def test_adapt_same_decisions_at_1_2_3_ranks_and_smaller_error(bar):
    d = bar
    res = []
    for n in (1, 2, 3):
        extra = ["--reconstruct", "U", "p", "--save-rom", "rom2.h5"] if n == 2 else []
        p = run_mpi(n, DROMO + ADAPT + ["-o", f"ad{n}.h5", "--checkpoint-every", "2"] + extra, timeout=600, cwd=d)
        assert p.returncode == 0, p.stderr[-3000:]
        assert "HF increment(s)" in p.stdout
        res.append(_result(os.path.join(d, f"ad{n}.h5")))
        res[-1]["checkpoints"] = re.findall(r"checkpoint at t = (\S+) .*model and last full state in (\S+)\)",
                                            p.stderr)
    r0 = res[0]
    assert 1 <= len(r0["enrichments"]) < len(r0["time"]) - 1, r0["enrichments"]
    # a checkpoint writes a new model file only when an enrichment happened since the previous one
    ck = [(float(t), name) for t, name in r0["checkpoints"]]
    assert len(ck) >= 3, ck
    changed = [b[1] != a[1] for a, b in zip(ck, ck[1:])]
    enriched = [any(a[0] + 1e-6 < e["time"] <= b[0] + 1e-6 for e in r0["enrichments"])   # times logged by %g
                for a, b in zip(ck, ck[1:])]
    assert changed == enriched and not all(changed), (ck, [e["time"] for e in r0["enrichments"]])
    for r in res[1:]:
        assert np.array_equal(r["hf"], r0["hf"])                        # the same enrichment decisions
        assert [e["time"] for e in r["enrichments"]] == [e["time"] for e in r0["enrichments"]]
        assert np.abs(r["gamma"] - r0["gamma"]).max() <= 1e-9 * np.abs(r0["gamma"]).max()
    for e in r0["enrichments"]:
        # right after an enrichment the state is the HF one in the enriched model: estimate below tolerance
        assert e["estimate"] > 1.0 and e["estimate_after"] < 1.0, e
        assert e["modes_after"] >= e["modes_before"] and e["points_after"] >= e["points_before"]
    left = [f for f in os.listdir(d) if f.startswith("ad2.h5.restart")]
    assert not left, left                         # checkpoint, model files and sidecars: removed at the end
    err_online, err_adapt = _compare(d, "on.h5"), _compare(d, "ad2.h5")
    assert err_adapt["U"] <= 0.25 * err_online["U"] and err_adapt["U"] <= 2e-3, (err_adapt, err_online)
    assert err_adapt["p"] <= 0.25 * err_online["p"], (err_adapt, err_online)
    # the enriched model, saved, solves the case better than the original one without any enrichment
    p = run_mpi(1, DROMO + ["online", "rom2.h5", "c.toml", "-o", "on2.h5", "--reconstruct", "U", "p"], cwd=d)
    assert p.returncode == 0, p.stderr[-2000:]
    assert _compare(d, "on2.h5")["U"] <= 0.5 * err_online["U"]


@serial_only
def test_calibrate_stores_a_monotone_map_and_plots(bar):
    d = bar
    for c in ("b", "e", "f"):
        p = run_mpi(2, DROMO + ["solve", f"{c}.toml", "-o", f"{c}.h5"], cwd=d)
        assert p.returncode == 0, p.stderr[-2000:]
    runs = sum((["--run", f"{c}.toml", f"{c}.h5"] for c in ("b", "c", "e", "f")), [])
    p = run_mpi(2, DROMO + ["calibrate", "rom.h5", *runs, "--field", "S", "-o", "romc.h5", "--plot", "cal.png"],
                cwd=d)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Spearman" in p.stdout and os.path.getsize(os.path.join(d, "cal.png")) > 1000
    from dromo.rom.model import ReducedModel
    rom = ReducedModel.load(os.path.join(d, "romc.h5"))
    cal = rom.calibration["S"]
    assert cal.measure == "u" and cal.slope >= 0 and cal.n >= 4 and len(cal.runs) == 4
    assert cal.estimate(0.1) >= cal.estimate(0.01)
    # the larger the amplitude beyond training, the larger both the indicator and the error
    order = [r["name"] for r in sorted(cal.runs, key=lambda r: r["indicator"])]
    assert order[0] == "e" and order[-1] == "f", cal.runs
    assert ReducedModel.load(os.path.join(d, "rom.h5")).calibration == {}      # -o: the original untouched


@serial_only
def test_kill_9_during_the_hf_increments_then_restart_gives_the_same_result(bar, tmp_path):
    """Every increment enriches (tolerance 1e-12): a kill after the first checkpoint lands in an HF
    increment or an update; the restart from the checkpoint ends with the uninterrupted result."""
    from ..faults.faults_helpers import BOUND, Job, run, wait_for
    d = bar
    args = ["adapt", "rom.h5", "k.toml", "--field", "S", "--tol", "1e-12", "--checkpoint-every", "5"]
    # 80 enrichments: ~15 s on 2 quiet cores; the bound only tells a hang from a slow, loaded machine
    ref = run(2, DROMO + args + ["-o", str(tmp_path / "ref.h5")], d, timeout=5 * BOUND)
    assert ref.returncode == 0, ref.output
    out = tmp_path / "r.h5"
    ckpt = tmp_path / "r.h5.restart.h5"
    job = Job(2, DROMO + args + ["-o", str(out)], d)
    wait_for(lambda: ckpt.exists(), job=job)
    ranks = job.ranks()
    os.kill(ranks[1], signal.SIGKILL)
    job.wait(30)
    assert job.returncode != 0 and not out.exists()
    with h5py.File(ckpt, "r") as f:
        stopped = int(f["checkpoint"].attrs["increment"])
    assert stopped < 80, "the run ended before the kill"
    # the checkpoint holds the reduced state; the model and the last full state are in one model file
    models = [f for f in os.listdir(tmp_path) if f.startswith("r.h5.restart.model") and f.endswith(".h5")]
    assert len(models) == 1 and os.path.getsize(ckpt) < 0.5 * os.path.getsize(tmp_path / models[0]), models
    again = run(2, DROMO + args + ["-o", str(out), "--restart", str(ckpt)], d, timeout=5 * BOUND)
    assert again.returncode == 0, again.output
    a, b = _result(out), _result(tmp_path / "ref.h5")
    assert np.array_equal(a["time"], b["time"]) and np.array_equal(a["hf"], b["hf"])
    assert np.abs(a["gamma"] - b["gamma"]).max() <= 1e-12 * np.abs(b["gamma"]).max()
    assert len(a["enrichments"]) == len(b["enrichments"]) == 80


NAN_UMAT = r"""
/* Isotropic elasticity (PROPS: E, nu) that returns NaN once the strain norm exceeds PROPS(3). */
#include <math.h>
void umat_(double *stress, double *statev, double *ddsdde, double *sse, double *spd, double *scd,
           double *rpl, double *ddsddt, double *drplde, double *drpldt, const double *stran,
           const double *dstran, const double *time, const double *dtime, const double *temp,
           const double *dtemp, const double *predef, const double *dpred, const char *cmname,
           const int *ndi, const int *nshr, const int *ntens, const int *nstatv, const double *props,
           const int *nprops, const double *coords, const double *drot, double *pnewdt,
           const double *celent, const double *dfgrd0, const double *dfgrd1, const int *noel,
           const int *npt, const int *layer, const int *kspt, const int *kstep, const int *kinc,
           long cmname_len)
{
    double E = props[0], nu = props[1], lam = E * nu / ((1 + nu) * (1 - 2 * nu)), mu = E / (2 * (1 + nu));
    double e[6], n2 = 0.0;
    int i, j;
    for (i = 0; i < 6; i++) { e[i] = stran[i] + dstran[i]; n2 += e[i] * e[i]; }
    for (i = 0; i < 36; i++) ddsdde[i] = 0.0;
    for (i = 0; i < 3; i++) { for (j = 0; j < 3; j++) ddsdde[i * 6 + j] = lam; ddsdde[i * 7] += 2 * mu; }
    for (i = 3; i < 6; i++) ddsdde[i * 7] = mu;
    for (i = 0; i < 6; i++) { stress[i] = 0.0; for (j = 0; j < 6; j++) stress[i] += ddsdde[j * 6 + i] * e[j]; }
    if (sqrt(n2) > props[2]) stress[0] = NAN;
}
"""


@serial_only
def test_nan_from_a_umat_at_a_reduced_point_is_an_error_naming_the_point(tmp_path):
    d = str(tmp_path)
    src = os.path.join(d, "nan_umat.c")
    with open(src, "w") as f:
        f.write(NAN_UMAT)
    lib = os.path.join(d, "libnan.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", lib, src, "-lm"], check=True)
    law = textwrap.dedent(f"""\
        type = "umat"
        library = "{lib}"
        props = [200e3, 0.3, 0.0015]
        nstatv = 0
        """)
    rc.write_mesh(d)
    rc.write_case(d, "a", ux=0.002, law=law, time_extra="fixed = true")
    rc.write_case(d, "c", ux=0.02, end=2.0, law=law, time_extra="fixed = true")
    train = rc.write_training(d, [("a.toml", "a.h5")], name="t.toml")
    with open(train) as f:
        text = f.read().replace("[dual]\n", '[dual]\nfields = ["S"]\n')
    with open(train, "w") as f:
        f.write(text)
    p = run_mpi(2, DROMO + ["offline", "t.toml", "-o", "rom.h5"], cwd=d, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    for args in (["online", "rom.h5", "c.toml", "-o", "on.h5"],
                 ["adapt", "rom.h5", "c.toml", "--field", "S", "--tol", "0.01", "-o", "ad.h5"]):
        p = run_mpi(2, DROMO + args, cwd=d, timeout=120)
        assert p.returncode != 0
        assert "the law returned NaN/Inf at" in p.stderr and "reduced point(s): point " in p.stderr, p.stderr[-3000:]
        assert "element" in p.stderr and "integration point" in p.stderr
        assert "enrichment 1" not in p.stdout + p.stderr
