"""CalculiX's ANISO_PLAS: consistency with the von Mises law, tables, and against ccx itself."""
import shutil
import subprocess

import numpy as np
import pytest

from dromo.materials import make_law, tensors as tn
from .ccx_tools import read_dat, write_deck
from .mat_helpers import run_strain_history

CONST = [250e3, 100e3, 240e3, 90e3, 95e3, 230e3, 70e3, 75e3, 80e3, 200.0, 5000.0, 20e3, 1e-13, 5.0, 0.0]


def _iso_constants(E, nu, rest):
    G, lam = E / 2 / (1 + nu), E * nu / (1 + nu) / (1 - 2 * nu)
    return [lam + 2 * G, lam, lam + 2 * G, lam, lam, lam + 2 * G, G, G, G] + list(rest)


@pytest.mark.parametrize("viscous", [True, False])
def test_isotropic_aniso_plas_equals_von_mises_prager(viscous):
    """X = d2 α₂ (Prager C = 3/2 d2), R = r0 + d1 p, ṗ = A⟨σ_eq(s − X) − R⟩ⁿ tᵐ."""
    r0, d1, d2, A, n, m = 200.0, 5000.0, 20e3, 1e-13, 5.0, 0.3
    a = make_law({"type": "aniso_plas", "constants": _iso_constants(200e3, 0.3, [r0, d1, d2, A, n, m]),
                  "viscous": viscous})
    flow = {"type": "power", "A": A, "n": n, "m": m} if viscous else "rate_independent"
    v = make_law({"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": r0, "H": d1,
                  "kinematic": [{"C": 1.5 * d2}], "flow": flow})
    rng = np.random.default_rng(1)
    path = np.cumsum(rng.normal(size=(12, 20, 6)) * 2e-3, axis=0)
    Sa, Xa, _ = run_strain_history(a, path, dt=0.1, t0=1.0)
    Sv, Xv, _ = run_strain_history(v, path, dt=0.1, t0=1.0)
    assert np.allclose(Sa, Sv, rtol=1e-9, atol=1e-7)
    assert np.allclose(a.state_view(Xa[-1], "p"), v.state_view(Xv[-1], "p"), rtol=1e-9, atol=1e-14)
    assert np.allclose(a.state_view(Xa[-1], "eps_p"), v.state_view(Xv[-1], "eps_p"), rtol=1e-9, atol=1e-14)
    assert np.allclose(a.state_view(Xa[-1], "alpha_2"), v.state_view(Xv[-1], "alpha_1"), rtol=1e-9, atol=1e-14)
    assert np.allclose(a.state_view(Xa[-1], "alpha_1"), a.state_view(Xa[-1], "p"))


def test_temperature_table_per_point_path_matches_constant_law_at_nodes():
    rows = [CONST + [300.0], [c * 0.7 for c in CONST[:12]] + [3e-13, 4.0, 0.0, 900.0]]
    law = make_law({"type": "aniso_plas", "constants": rows})
    rng = np.random.default_rng(2)
    eps = rng.normal(size=(2, 6)) * 5e-3
    T = np.array([300.0, 900.0])
    r = law.update(np.zeros((2, 6)), eps, law.initial_state(2), T, T, 0.1)
    for k in range(2):
        lk = make_law({"type": "aniso_plas", "constants": rows[k][:15]})
        rk = lk.update(np.zeros((1, 6)), eps[k:k + 1], lk.initial_state(1), 0.0, 0.0, 0.1)
        assert np.allclose(rk.stress, r.stress[k], rtol=1e-10)
        assert np.allclose(rk.state, r.state[k], rtol=1e-9, atol=1e-15)
        assert np.allclose(rk.tangent, r.tangent[k], rtol=1e-8)


CCX = shutil.which("ccx")


@pytest.mark.calculix
@pytest.mark.skipif(CCX is None, reason="CalculiX (ccx) not installed")
@pytest.mark.parametrize("procedure, m", [("VISCO", 0.0), ("VISCO", 0.3), ("STATIC", 0.0)])
def test_against_calculix_one_hex8(tmp_path, procedure, m):
    consts = list(CONST)
    consts[14] = m
    consts[12] = 1e-13 / 10 ** m            # keep similar rates at t ≈ 10
    H = np.array([[0.010, 0.002, -0.001], [0.002, -0.004, 0.003], [-0.001, 0.003, -0.003]])
    dt, t_end, period = 0.1, 20.0, 10.0
    ts, amp = write_deck(tmp_path / "job.inp", consts, H, dt, t_end, period, procedure)
    p = subprocess.run([CCX, "-i", "job"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:]
    res = read_dat(tmp_path / "job.dat")
    tS, S_ccx = res["stresses"]
    _, E_ccx = res["strains"]
    _, V_ccx = res["internal state variables"]
    assert len(tS) == len(ts) and np.allclose(tS, ts)
    Hm = tn.mandel_from_matrix3(H)
    # homogeneous strain: CalculiX's .dat strain (tensor shear components) is the imposed one
    assert np.allclose(E_ccx, amp[:, None] * tn.tensor_components_from_mandel(Hm), atol=2e-9)
    law = make_law({"type": "aniso_plas", "name": "ANISO_PLAS_1", "constants": consts,
                    "viscous": procedure == "VISCO"})
    path = np.concatenate([[np.zeros(6)], amp[:, None] * Hm])
    S, X, F = run_strain_history(law, path, dt=dt, T=0.0, t0=0.0)
    assert not F.any()
    S_d = tn.tensor_components_from_mandel(S[:, 0])
    p_d = law.state_view(X[:, 0], "p")
    assert p_d[-1] > 0.02                          # substantially plastic
    assert np.abs(S_d - S_ccx).max() <= 1e-3 * np.abs(S_ccx).max()
    assert np.abs(p_d - V_ccx[:, 0]).max() <= 1e-3 * V_ccx[:, 0].max()
    ep = tn.tensor_components_from_mandel(law.state_view(X[:, 0], "eps_p"))
    assert np.abs(ep - V_ccx[:, 1:7]).max() <= 1e-3 * np.abs(V_ccx[:, 1:7]).max()
    assert np.allclose(law.state_view(X[:, 0], "alpha_1"), V_ccx[:, 7], rtol=1e-3, atol=1e-6)
    a2 = tn.tensor_components_from_mandel(law.state_view(X[:, 0], "alpha_2"))
    assert np.abs(a2 - V_ccx[:, 8:14]).max() <= 1e-3 * np.abs(V_ccx[:, 8:14]).max()
