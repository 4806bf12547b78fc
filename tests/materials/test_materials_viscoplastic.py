"""Von Mises family: closed forms, ODE references (solve_ivp), convergence order, limits, tables."""
import numpy as np
from scipy.integrate import solve_ivp

from dromo.materials import make_law, tensors as tn
from .mat_helpers import mixed_step, run_strain_history

E, NU = 200e3, 0.3
G = E / (2 * (1 + NU))
S32 = np.sqrt(1.5)


def shear(e4):
    """Mandel strain with only the xy slot (ε4 = √2 ε12)."""
    e = np.zeros((np.size(e4), 6))
    e[:, 3] = e4
    return e


def test_monotonic_shear_linear_hardening_closed_form():
    R0, H, C = 250.0, 2000.0, 30e3
    law = make_law({"type": "von_mises", "E": E, "nu": NU, "R0": R0, "H": H, "kinematic": [{"C": C}]})
    for nsteps in (1, 7, 50):
        e4 = np.linspace(0.0, 0.02, nsteps + 1)
        S, X, F = run_strain_history(law, shear(e4), dt=1.0)
        p = law.state_view(X[:, 0], "p")
        p_exact = np.maximum(S32 * 2 * G * e4[1:] - R0, 0) / (3 * G + C + H)
        assert np.allclose(p, p_exact, rtol=1e-12, atol=1e-15)
        s4 = 2 * G * (e4[1:] - S32 * p_exact)
        assert np.allclose(S[:, 0, 3], s4, rtol=1e-12)
        assert not F.any()


def test_cyclic_prager_stabilized_loop_closed_form():
    R0, C = 200.0, 40e3
    law = make_law({"type": "von_mises", "E": E, "nu": NU, "R0": R0, "kinematic": [{"C": C}]})
    k = R0 / S32                          # 1D yield radius on the Mandel shear component
    Et = 2 * G * (2 / 3 * C) / (2 * G + 2 / 3 * C)
    ea = 0.01
    sa = k + Et * (ea - k / (2 * G))
    q = np.linspace(0, ea, 41)
    cycle = np.concatenate([q[::-1][1:], -q[1:], -q[::-1][1:], q[1:]])     # ea -> 0 -> -ea -> 0 -> ea
    path = np.concatenate([q] + [cycle] * 3)
    S, X, _ = run_strain_history(law, shear(path), dt=1.0)
    s4 = S[:, 0, 3]
    e_end = path[1:]
    assert np.allclose(s4[np.isclose(e_end, ea)], sa, rtol=1e-10)
    assert np.allclose(s4[np.isclose(e_end, -ea)], -sa, rtol=1e-10)
    # the loop is closed: plastic strain and back stress after each full cycle are the same
    ncyc = len(cycle)
    a = X[len(q) - 2 + ncyc, 0, 1:]
    b = X[len(q) - 2 + 2 * ncyc, 0, 1:]
    assert np.allclose(a, b, rtol=1e-10, atol=1e-14)


def test_relaxation_norton_closed_form_first_order():
    R0, K, n = 150.0, 200.0, 4.0
    law = make_law({"type": "von_mises", "E": E, "nu": NU, "R0": R0, "flow": {"type": "norton", "K": K, "n": n}})
    e4 = 0.005
    y0 = S32 * 2 * G * e4 - R0
    Tend = 2.0
    y_exact = (y0 ** (1 - n) + (n - 1) * 3 * G * Tend / K ** n) ** (1 / (1 - n))
    errs = []
    for N in (20, 40, 80, 160):
        st = law.initial_state(1)
        r = law.update(np.zeros((1, 6)), shear(e4), st, 0, 0, 0.0)        # dt = 0: elastic loading
        assert law.state_view(r.state, "p")[0] == 0.0
        st = r.state
        for _ in range(N):
            r = law.update(shear(e4), np.zeros((1, 6)), st, 0, 0, Tend / N)
            st = r.state
        y = S32 * abs(r.stress[0, 3]) - R0
        errs.append(abs(y - y_exact))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.7) & (ratios < 2.3)), ratios
    assert errs[-1] / y_exact < 2e-2


def test_creep_norton_closed_form_stress_control():
    R0, K, n, s0 = 100.0, 150.0, 3.0, 250.0
    law = make_law({"type": "von_mises", "E": E, "nu": NU, "R0": R0, "flow": {"type": "norton", "K": K, "n": n}})
    target = np.array([s0, 0, 0, 0, 0, 0])
    st = law.initial_state(1)
    eps = np.zeros((1, 6))
    d, r = mixed_step(law, eps, st, target, range(6), dt=0.0)
    eps, st = eps + d, r.state
    rate = ((s0 - R0) / K) ** n
    dt, t = 0.05, 0.0
    for _ in range(20):
        d, r = mixed_step(law, eps, st, target, range(6), dt=dt)
        eps, st, t = eps + d, r.state, t + dt
        assert np.isclose(eps[0, 0], s0 / E + rate * t, rtol=1e-10)
        assert np.isclose(eps[0, 1], -NU * s0 / E - 0.5 * rate * t, rtol=1e-10)


# ------------------------------------------------------------------------------------------------
CHAB = {"type": "von_mises", "E": E, "nu": NU, "R0": 150.0, "H": 500.0, "voce": [{"Q": 80.0, "b": 30.0}],
        "kinematic": [{"C": 60e3, "D": 600.0}, {"C": 8e3, "D": 40.0}],
        "flow": {"type": "norton", "K": 120.0, "n": 5.0}}


def _chaboche_rhs(y, sigma_of):
    """ODE of CHAB for y = (p, eps_p(6), alpha_1(6), alpha_2(6)); sigma_of(eps_p) -> Mandel stress."""
    p, ep, a1, a2 = y[0], y[1:7], y[7:13], y[13:19]
    sig = sigma_of(ep)
    s = tn.dev(sig)
    X = 2 / 3 * 60e3 * a1 + 2 / 3 * 8e3 * a2
    xi = s - X
    J = np.sqrt(1.5 * xi @ xi)
    R = 150.0 + 500.0 * p + 80.0 * (1 - np.exp(-30.0 * p))
    pd = max((J - R) / 120.0, 0.0) ** 5.0
    nv = 1.5 * xi / J if J > 0 else np.zeros(6)
    epd = pd * nv
    return np.concatenate([[pd], epd, epd - 600.0 * pd * a1, epd - 40.0 * pd * a2])


CREEP = {"type": "von_mises", "E": E, "nu": NU, "R0": 150.0, "H": 100.0, "voce": [{"Q": 30.0, "b": 5.0}],
         "kinematic": [{"C": 6000.0, "D": 60.0}, {"C": 2000.0, "D": 10.0}],
         "flow": {"type": "norton", "K": 120.0, "n": 5.0}}


def _creep_rhs(y, sig):
    p, ep, a1, a2 = y[0], y[1:7], y[7:13], y[13:19]
    xi = tn.dev(sig) - 2 / 3 * 6000.0 * a1 - 2 / 3 * 2000.0 * a2
    J = np.sqrt(1.5 * xi @ xi)
    R = 150.0 + 100.0 * p + 30.0 * (1 - np.exp(-5.0 * p))
    pd = max((J - R) / 120.0, 0.0) ** 5.0
    epd = pd * 1.5 * xi / J
    return np.concatenate([[pd], epd, epd - 60.0 * pd * a1, epd - 10.0 * pd * a2])


def test_creep_chaboche_against_solve_ivp_first_order():
    """Uniaxial creep (stress control through a Newton on the strain with the consistent tangent)."""
    s0, Tend = 200.0, 5.0
    sig = np.array([s0, 0, 0, 0, 0, 0])
    ref = solve_ivp(lambda t, y: _creep_rhs(y, sig), (0, Tend), np.zeros(19), method="Radau",
                    rtol=1e-10, atol=1e-14)
    ep_ref = ref.y[1:7, -1]
    law = make_law(CREEP)
    errs = []
    for N in (200, 400, 800):
        st, eps = law.initial_state(1), np.zeros((1, 6))
        d, r = mixed_step(law, eps, st, sig, range(6), dt=0.0)
        eps, st = eps + d, r.state
        for _ in range(N):
            d, r = mixed_step(law, eps, st, sig, range(6), dt=Tend / N)
            eps, st = eps + d, r.state
        errs.append(np.abs(law.state_view(st, "eps_p")[0] - ep_ref).max())
        assert np.isclose(eps[0, 0], s0 / E + law.state_view(st, "eps_p")[0, 0], rtol=1e-9)
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.7) & (ratios < 2.6)), (errs, ratios)
    assert errs[-1] < 1e-3 * np.abs(ep_ref).max()


def test_cyclic_chaboche_strain_control_against_solve_ivp_first_order_and_stabilizes():
    direction = np.array([1.0, -0.3, -0.5, 0.6, 0.2, -0.4])
    ea, period, ncyc = 0.006, 4.0, 3
    Tend = ncyc * period
    C = tn.isotropic_stiffness(E, NU)
    eps_of = lambda t: ea * np.sin(2 * np.pi * t / period) * direction
    tt = np.linspace(0, Tend, 13)
    ref = solve_ivp(lambda t, y: _chaboche_rhs(y, lambda ep: C @ (eps_of(t) - ep)), (0, Tend), np.zeros(19),
                    method="Radau", rtol=1e-10, atol=1e-14, t_eval=tt, max_step=period / 50)
    sig_ref = np.array([C @ (eps_of(t) - y[1:7]) for t, y in zip(tt, ref.y.T)])
    law = make_law(CHAB)
    errs = []
    for N in (120, 240, 480):
        ts = np.linspace(0, Tend, ncyc * N + 1)
        S, X, F = run_strain_history(law, np.array([eps_of(t) for t in ts]), dt=Tend / (ncyc * N))
        assert not F.any()
        sel = np.searchsorted(ts, tt[1:]) - 1
        errs.append(np.abs(S[sel, 0] - sig_ref[1:]).max())
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.6) & (ratios < 2.4)), (errs, ratios)
    assert errs[-1] < 0.01 * np.abs(sig_ref).max()
    # stabilization of the loop (Voce saturates, AF back stresses fade memory): peak stresses of
    # successive cycles converge
    law = make_law({**CHAB, "H": 0.0})
    N = 100
    ncyc = 8
    ts = np.linspace(0, ncyc * period, ncyc * N + 1)
    S, X, F = run_strain_history(law, np.array([eps_of(t) for t in ts]), dt=period / N)
    peaks = np.array([S[k * N:(k + 1) * N, 0, 0].max() for k in range(ncyc)])
    d = np.abs(np.diff(peaks))
    assert d[-1] < 0.2 * d[0] and d[-1] < 1e-2 * peaks[-1]


def test_rate_independent_is_limit_of_norton():
    base = {"type": "von_mises", "E": E, "nu": NU, "R0": 200.0, "H": 1000.0,
            "voce": [{"Q": 50.0, "b": 20.0}], "kinematic": [{"C": 40e3, "D": 300.0}]}
    path = np.array([np.sin(t) * np.array([0.006, -0.002, -0.001, 0.003, 0, 0.001])
                     for t in np.linspace(0, 5, 101)])
    S_ri, _, _ = run_strain_history(make_law(base), path, dt=0.05)
    diffs = []
    for K in (10.0, 1.0, 0.1):
        S_v, _, _ = run_strain_history(make_law({**base, "flow": {"type": "norton", "K": K, "n": 1.0}}), path, dt=0.05)
        diffs.append(np.abs(S_v - S_ri).max())
    assert diffs[0] / diffs[1] > 5 and diffs[1] / diffs[2] > 5 and diffs[2] < 1.0


def test_power_flow_equals_norton_with_K_from_A():
    A, n = 1e-12, 4.0
    a = make_law({**CHAB, "flow": {"type": "power", "A": A, "n": n, "m": 0.0}})
    b = make_law({**CHAB, "flow": {"type": "norton", "K": A ** (-1 / n), "n": n}})
    path = np.linspace(0, 1, 30)[:, None] * np.array([0.01, -0.004, -0.004, 0.002, 0, 0])
    Sa, _, _ = run_strain_history(a, path, dt=0.1)
    Sb, _, _ = run_strain_history(b, path, dt=0.1)
    assert np.allclose(Sa, Sb, rtol=1e-9, atol=1e-8)


def test_temperature_tables_match_constant_laws_pointwise():
    tab = lambda v0, v1: {"T": [300.0, 900.0], "values": [v0, v1]}
    d = {**CHAB, "E": tab(200e3, 150e3), "R0": tab(150.0, 80.0),
         "kinematic": [{"C": tab(60e3, 30e3), "D": 600.0}, {"C": 8e3, "D": tab(40.0, 20.0)}],
         "flow": {"type": "norton", "K": tab(120.0, 60.0), "n": 5.0}, "alpha": tab(1e-5, 1.4e-5), "T_ref": 300.0}
    law = make_law(d)
    T = np.array([300.0, 450.0, 900.0])
    rng = np.random.default_rng(3)
    eps = rng.normal(size=(3, 6)) * 3e-3
    st = law.initial_state(3)
    r = law.update(np.zeros((3, 6)), eps, st, T, T, 0.1)
    for k, Tk in enumerate(T):
        w = (Tk - 300.0) / 600.0
        lin = lambda v0, v1: v0 + w * (v1 - v0)
        dk = {**CHAB, "E": lin(200e3, 150e3), "R0": lin(150.0, 80.0),
              "kinematic": [{"C": lin(60e3, 30e3), "D": 600.0}, {"C": 8e3, "D": lin(40.0, 20.0)}],
              "flow": {"type": "norton", "K": lin(120.0, 60.0), "n": 5.0}, "alpha": lin(1e-5, 1.4e-5),
              "T_ref": 300.0}
        lk = make_law(dk)
        rk = lk.update(np.zeros((1, 6)), eps[k:k + 1], lk.initial_state(1), Tk, Tk, 0.1)
        assert np.allclose(rk.stress[0], r.stress[k], rtol=1e-10, atol=1e-8)
        assert np.allclose(rk.state[0], r.state[k], rtol=1e-10, atol=1e-14)
        assert np.allclose(rk.tangent[0], r.tangent[k], rtol=1e-8, atol=1e-4)


def test_failed_flag_when_local_newton_does_not_converge():
    law = make_law({**CHAB, "max_iterations": 1})
    eps = np.tile([0.02, -0.01, -0.01, 0, 0, 0], (4, 1)) * np.array([[0.0], [1.0], [2.0], [3.0]])
    r = law.update(np.zeros((4, 6)), eps, law.initial_state(4), 0, 0, 0.1)
    assert not r.failed[0] and r.failed[1:].all()
    assert np.isfinite(r.stress).all() and np.isfinite(r.state).all() and np.isfinite(r.tangent).all()
