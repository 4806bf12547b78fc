"""Benchmark of dromo's constitutive laws: time per integration point of one update (stress, state,
consistent tangent), points in the plastic regime, one core.

usage: python benchmarks/materials.py [--quick] [--points N]
The von Mises laws run their compiled point update (``vonmises_kernel.c``); ``*_numpy`` figures time the
numpy path it replaces, and ``numpy_over_compiled_*`` the ratio (also on 200 points, a reduced model's size).
Default 1e6 points (--quick: 1e4). The UMAT plugin loops over points in Python (one ctypes call per
point), so it is timed on min(N, 1e5) points (its cost per point does not depend on N).
Prints one JSON line {"benchmark": "materials", "figures": {...}, "targets": {...}}.
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dromo.materials import make_law  # noqa: E402

E, NU = 200e3, 0.3
CONST = [250e3, 100e3, 240e3, 90e3, 95e3, 230e3, 70e3, 75e3, 80e3, 200.0, 5000.0, 20e3, 1e-13, 5.0, 0.0]
LAWS = {
    "elastic": {"type": "elastic", "E": E, "nu": NU},
    "linear_hardening": {"type": "von_mises", "E": E, "nu": NU, "R0": 250.0, "H": 1000.0,
                         "kinematic": [{"C": 20e3}]},
    "newton_norton_linear": {"type": "von_mises", "E": E, "nu": NU, "R0": 250.0, "H": 1000.0,
                             "kinematic": [{"C": 20e3}], "flow": {"type": "norton", "K": 150.0, "n": 5.0}},
    "newton_chaboche": {"type": "von_mises", "E": E, "nu": NU, "R0": 250.0, "H": 500.0,
                        "voce": [{"Q": 100.0, "b": 20.0}],
                        "kinematic": [{"C": 50e3, "D": 500.0}, {"C": 5e3, "D": 20.0}],
                        "flow": {"type": "norton", "K": 150.0, "n": 5.0}},
    "aniso_plas": {"type": "aniso_plas", "constants": CONST},
}
UMAT_PROPS = {"elastic": [E, NU, 1e30, 0.0, 0.0, 0.0, 1.0],
              "linear_hardening": [E, NU, 250.0, 1000.0, 20e3, 0.0, 1.0],
              "newton_norton_linear": [E, NU, 250.0, 1000.0, 20e3, 150.0, 5.0]}


def loading(n, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, 6))
    d[:, :3] -= d[:, :3].mean(1, keepdims=True) * 0.8
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    d2 = d + 0.3 * rng.normal(size=(n, 6)) / np.sqrt(6)
    return 4e-3 * d, 1.5e-3 * d2


def time_law(law, n, repeat):
    d1, d2 = loading(n)
    st = law.initial_state(n)
    r = law.update(np.zeros((n, 6)), d1, st, 293.0, 293.0, 0.1)      # prestrain (untimed)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        r2 = law.update(d1, d2, r.state, 293.0, 293.0, 0.1, time=0.1)
        best = min(best, time.perf_counter() - t0)
    if law.n_state > 6 and "p" in law.state_names:
        plastic = float(np.mean(law.state_view(r2.state, "p") > law.state_view(r.state, "p")))
    else:
        plastic = 0.0
    assert not r2.failed.any()
    return best / n * 1e6, plastic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--points", type=int, default=None)
    a = ap.parse_args()
    n = a.points or (10_000 if a.quick else 1_000_000)
    repeat = 3
    figs = {"points": n}
    for key, d in LAWS.items():
        us, pl = time_law(make_law(d), n, repeat)
        figs[f"us_per_point_{key}"] = round(us, 4)
        if key != "elastic":
            figs[f"plastic_fraction_{key}"] = round(pl, 3)
        if d["type"] == "von_mises":
            # the numpy path the compiled kernel replaces (no C compiler, DROMO_NO_CC=1), and on the
            # 200 points of a reduced model (per-call overheads), both paths
            os.environ["DROMO_NO_CC"] = "1"
            us_np, _ = time_law(make_law(d), n, repeat)
            us_np200, _ = time_law(make_law(d), 200, 50)
            del os.environ["DROMO_NO_CC"]
            us200, _ = time_law(make_law(d), 200, 50)
            figs[f"us_per_point_{key}_numpy"] = round(us_np, 4)
            figs[f"numpy_over_compiled_{key}"] = round(us_np / us, 3)
            figs[f"numpy_over_compiled_{key}_200_points"] = round(us_np200 / us200, 3)
    gcc = shutil.which("gcc")
    if gcc:
        with tempfile.TemporaryDirectory() as tmp:
            lib = os.path.join(tmp, "libumat_vm.so")
            subprocess.run([gcc, "-O2", "-shared", "-fPIC", "-o", lib,
                            str(ROOT / "tests/materials/umat/umat_vm_linear.c"), "-lm"], check=True)
            nu_ = min(n, 100_000)
            figs["umat_points"] = nu_
            for key, props in UMAT_PROPS.items():
                for suffix, py in (("", False), ("_python_loop", True)):
                    law = make_law({"type": "umat", "library": lib, "props": props, "nstatv": 13,
                                    "python_loop": py})
                    us, _ = time_law(law, nu_ if not py else min(nu_, 20_000), 1)
                    figs[f"us_per_point_umat_{key}{suffix}"] = round(us, 4)
    targets = {"us_per_point_linear_hardening": ["<=", 1.0],
               "us_per_point_newton_chaboche": ["<=", 5.0],
               "us_per_point_newton_norton_linear": ["<=", 5.0],
               "us_per_point_aniso_plas": ["<=", 5.0]}
    print(json.dumps({"benchmark": "materials", "figures": figs, "targets": targets}))


if __name__ == "__main__":
    main()
