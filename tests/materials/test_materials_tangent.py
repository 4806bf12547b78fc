"""Consistent tangents against central finite differences on random admissible states (rel. ≤ 1e-6)."""
import numpy as np
import pytest

from dromo.materials import make_law
from .mat_helpers import fd_tangent, random_admissible_states

CONST = [250e3, 100e3, 240e3, 90e3, 95e3, 230e3, 70e3, 75e3, 80e3, 200.0, 5000.0, 20e3, 1e-13, 5.0, 0.0]
TAB = [CONST[:9] + [200.0, 5000.0, 20e3, 1e-13, 5.0, 0.0, 300.0],
       [c * 0.8 for c in CONST[:9]] + [150.0, 3000.0, 10e3, 3e-13, 4.0, 0.0, 900.0]]
vm = {"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 250.0}
tab = lambda a, b: {"T": [300.0, 900.0], "values": [a, b]}
LAWS = {
    "elastic_ortho": {"type": "elastic", "symmetry": "orthotropic", **dict(zip(
        ["C1111", "C1122", "C2222", "C1133", "C2233", "C3333", "C1212", "C1313", "C2323"], CONST[:9]))},
    "linear_ri": {**vm, "H": 1000.0, "kinematic": [{"C": 20e3}]},
    "voce_af_ri": {**vm, "H": 500.0, "voce": [{"Q": 100.0, "b": 20.0}, {"Q": 30.0, "b": 200.0}],
                   "kinematic": [{"C": 50e3, "D": 500.0}, {"C": 5e3, "D": 10.0}, {"C": 1e3}]},
    "norton_chaboche": {**vm, "H": 500.0, "voce": [{"Q": 100.0, "b": 20.0}],
                        "kinematic": [{"C": 50e3, "D": 500.0}, {"C": 5e3}], "flow": {"type": "norton", "K": 150.0, "n": 5.0}},
    "norton_linear_n1": {**vm, "kinematic": [{"C": 50e3}], "flow": {"type": "norton", "K": 1e3, "n": 1.0}},
    "power_tables": {**vm, "E": tab(200e3, 150e3), "R0": tab(250.0, 120.0), "kinematic": [{"C": tab(5e4, 2e4), "D": 300.0}],
                     "flow": {"type": "power", "A": tab(1e-13, 1e-11), "n": 5.0, "m": 0.2}},
    "aniso_plas_visco": {"type": "aniso_plas", "constants": CONST},
    "aniso_plas_static": {"type": "aniso_plas", "constants": CONST, "viscous": False},
    "aniso_plas_table": {"type": "aniso_plas", "constants": TAB},
}


@pytest.mark.parametrize("key", sorted(LAWS))
def test_consistent_tangent_matches_finite_differences(key):
    law = make_law(LAWS[key])
    rng = np.random.default_rng(7)
    n = 40
    T = rng.uniform(300.0, 900.0, n) if "table" in key else 300.0
    eps, st = random_admissible_states(law, n, rng, T=T, dt=0.1)
    deps = rng.normal(size=(n, 6)) * 4e-3
    r = law.update(eps, deps, st, T, T, 0.1, time=2.0)
    assert not r.failed.any()
    if law.n_state:
        p_inc = law.state_view(r.state, "p") - law.state_view(st, "p")
        if key != "elastic_ortho":
            assert (p_inc > 0).mean() > 0.5            # mostly plastic points
    fd = fd_tangent(law, eps, deps, st, T, T, 0.1, h=1e-7, time=2.0)
    err = np.linalg.norm(fd - r.tangent, axis=(1, 2)) / np.linalg.norm(r.tangent, axis=(1, 2))
    assert err.max() <= 1e-6, err.max()
