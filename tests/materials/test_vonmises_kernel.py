"""The compiled von Mises point update (vonmises_kernel.c) against the numpy path it replaces.

Both paths run the same algorithm; they must agree to round-off on every flow rule and hardening the law
has, on elastic and plastic points, with thermal strain and temperature tables, including points whose
local Newton fails (same flag) — and the fallback must be taken when no compiler is allowed.
"""
import numpy as np
import pytest

from dromo.materials import make_law
from dromo.materials import viscoplastic
from dromo.materials.cbuild import compiled_library

from .mat_helpers import random_admissible_states

E, NU = 200e3, 0.3
LAWS = {
    "linear": {"type": "von_mises", "E": E, "nu": NU, "R0": 250.0, "H": 1000.0},
    "prager": {"type": "von_mises", "E": E, "nu": NU, "R0": 250.0, "H": 500.0, "kinematic": [{"C": 20e3}]},
    "voce_af": {"type": "von_mises", "E": E, "nu": NU, "R0": 150.0, "H": 500.0,
                "voce": [{"Q": 80.0, "b": 30.0}, {"Q": 20.0, "b": 3.0}],
                "kinematic": [{"C": 50e3, "D": 500.0}, {"C": 5e3}]},
    "norton_chaboche": {"type": "von_mises", "E": E, "nu": NU, "R0": 150.0, "voce": [{"Q": 80.0, "b": 30.0}],
                        "kinematic": [{"C": 150e3, "D": 800.0}, {"C": 8e3, "D": 20.0}],
                        "flow": {"type": "norton", "K": 150.0, "n": 5.0}},
    "norton_n1": {"type": "von_mises", "E": E, "nu": NU, "R0": 100.0, "H": 1e3,
                  "flow": {"type": "norton", "K": 1e3, "n": 1.0}},
    "power": {"type": "von_mises", "E": E, "nu": NU, "R0": 100.0, "kinematic": [{"C": 30e3, "D": 300.0}],
              "flow": {"type": "power", "A": 1e-12, "n": 4.0, "m": 0.2}},
    "tables_thermal": {"type": "von_mises", "E": {"T": [273.0, 773.0, 1273.0], "values": [210e3, 185e3, 150e3]},
                       "nu": 0.3, "R0": {"T": [273.0, 1273.0], "values": [450.0, 250.0]},
                       "voce": [{"Q": {"T": [273.0, 1273.0], "values": [120.0, 60.0]}, "b": 20.0}],
                       "kinematic": [{"C": {"T": [273.0, 1273.0], "values": [150e3, 80e3]}, "D": 800.0}],
                       "flow": {"type": "norton", "K": {"T": [273.0, 1273.0], "values": [1000.0, 200.0]},
                                "n": {"T": [273.0, 1273.0], "values": [10.0, 4.0]}},
                       "alpha": 1.3e-5, "T_ref": 293.0},
}

needs_cc = pytest.mark.skipif(compiled_library("materials/vonmises_kernel.c") is None, reason="no C compiler here")


def _both(law, monkeypatch, *args, **kw):
    assert viscoplastic._kernel() is not None
    fast = law.update(*args, **kw)
    monkeypatch.setenv("DROMO_NO_CC", "1")
    assert viscoplastic._kernel() is None
    ref = law.update(*args, **kw)
    monkeypatch.delenv("DROMO_NO_CC")
    return fast, ref


def _close(a, b, rtol=1e-11):
    scale = max(np.abs(b).max(), 1e-300)
    return np.abs(a - b).max() <= rtol * scale


@needs_cc
@pytest.mark.parametrize("name", sorted(LAWS))
def test_kernel_matches_numpy_path(name, monkeypatch):
    law = make_law(LAWS[name])
    rng = np.random.default_rng(7)
    n = 600
    T = 293.0 if name != "tables_thermal" else rng.uniform(300.0, 1200.0, n)
    eps, st = random_admissible_states(law, n, rng, T=T if np.ndim(T) == 0 else 600.0)
    deps = rng.normal(scale=2e-3, size=(n, 6))
    eps[: n // 4], st[: n // 4] = 0.0, 0.0      # virgin points loaded elastically
    deps[: n // 4] *= 1e-3
    T_new = T + 15.0
    fast, ref = _both(law, monkeypatch, eps, deps, st, T, T_new, 0.1, time=1.5)
    assert ref.state[:, 0].max() > st[:, 0].max()        # some points flow
    assert (ref.state[:, 0] == st[:, 0]).any()          # some stay elastic
    np.testing.assert_array_equal(fast.failed, ref.failed)
    assert _close(fast.stress, ref.stress)
    assert _close(fast.state, ref.state)
    assert _close(fast.tangent, ref.tangent, 1e-9)


@needs_cc
def test_kernel_failed_flag_and_dt_zero(monkeypatch):
    d = dict(LAWS["norton_chaboche"], max_iterations=2)
    law = make_law(d)
    rng = np.random.default_rng(3)
    eps, st = random_admissible_states(make_law(LAWS["norton_chaboche"]), 50, rng)
    deps = rng.normal(scale=5e-3, size=(50, 6))
    fast, ref = _both(law, monkeypatch, eps, deps, st, 293.0, 293.0, 0.1)
    assert ref.failed.any()
    np.testing.assert_array_equal(fast.failed, ref.failed)
    assert _close(fast.stress, ref.stress)
    # dt = 0: viscous laws answer elastically, on both paths
    fast, ref = _both(make_law(LAWS["norton_chaboche"]), monkeypatch, eps, deps, st, 293.0, 293.0, 0.0)
    np.testing.assert_array_equal(fast.state[:, 0], st[:, 0])
    assert _close(fast.stress, ref.stress)


@needs_cc
def test_kernel_takes_non_contiguous_inputs(monkeypatch):
    law = make_law(LAWS["voce_af"])
    rng = np.random.default_rng(1)
    eps, st = random_admissible_states(law, 40, rng)
    deps = np.asfortranarray(rng.normal(scale=3e-3, size=(40, 6)))
    fast, ref = _both(law, monkeypatch, eps[::1], deps, st, 293.0, 293.0, 0.1)
    assert _close(fast.stress, ref.stress) and _close(fast.tangent, ref.tangent, 1e-9)


def test_unwritable_cache_falls_back_to_numpy(monkeypatch, tmp_path):
    """A cache folder that cannot be created (read-only home on a cluster node): the failure is recorded (one
    warning, no new attempt per chunk), the numpy path runs, the same results."""
    from dromo.materials import cbuild
    law = make_law(LAWS["voce_af"])
    rng = np.random.default_rng(5)
    eps, st = random_admissible_states(law, 30, rng)
    deps = rng.normal(scale=3e-3, size=(30, 6))
    ref = law.update(eps, deps, st, 293.0, 293.0, 0.1)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    monkeypatch.setattr(cbuild, "_LIBS", {})
    monkeypatch.setenv("DROMO_CACHE", str(blocker / "cache"))
    monkeypatch.delenv("DROMO_NO_CC", raising=False)
    assert viscoplastic._kernel() is None
    assert cbuild._LIBS[("materials/vonmises_kernel.c",)] is False       # recorded: one warning, no retry per chunk
    out = law.update(eps, deps, st, 293.0, 293.0, 0.1)
    assert _close(out.stress, ref.stress) and _close(out.tangent, ref.tangent, 1e-9)


@needs_cc
@pytest.mark.parametrize("name", ["tables_thermal", "power"])
def test_parameter_cache_gives_the_values_of_a_fresh_law(name):
    """The compiled path keeps its last parameter sets by temperature (and time, for the power rule): calls at
    other temperatures, then at the first ones again (a cache hit), give what a fresh law gives; the cache
    stays bounded."""
    rng = np.random.default_rng(5)
    n = 300
    eps = rng.standard_normal((n, 6)) * 2e-3
    deps = rng.standard_normal((n, 6)) * 5e-4
    law = make_law(LAWS[name])
    st = law.initial_state(n)
    temps = [rng.uniform(300.0, 1200.0, n) for _ in range(3)]
    for T, t in [(temps[0], 1.0), (temps[1], 1.0), (temps[0], 2.0), (temps[2], 1.0), (temps[0], 1.0)]:
        got = law.update(eps, deps, st, T, T, 0.1, t)
        ref = make_law(LAWS[name]).update(eps, deps, st, T, T, 0.1, t)
        for a, b in ((got.stress, ref.stress), (got.state, ref.state), (got.tangent, ref.tangent)):
            assert np.array_equal(a, b)
    for _ in range(2 * viscoplastic._KERNEL_CACHE_SIZE):
        law.update(eps, deps, st, rng.uniform(300.0, 1200.0, n), 300.0, 0.1, 1.0)
    assert len(law._kernel_cache) <= viscoplastic._KERNEL_CACHE_SIZE


@needs_cc
@pytest.mark.parametrize("name", sorted(LAWS))
def test_structured_tangent_gives_the_full_tangent(name):
    """tangent="parts": the same stress and state, and Kb J + cdev D + u ⊗ n equal to the full tangent, on
    elastic and plastic points; a law without the structure refuses it."""
    from dromo.errors import InputError
    from dromo.materials.base import tangent_from_parts
    rng = np.random.default_rng(11)
    law = make_law(LAWS[name])
    n = 500
    eps, st = random_admissible_states(law, n, rng, T=600.0)
    deps = rng.normal(size=(n, 6)) * 3e-3
    T = rng.uniform(500.0, 700.0, n)
    full = law.update(eps, deps, st, T, T, 0.05, 1.0)
    parts = law.update(eps, deps, st, T, T, 0.05, 1.0, tangent="parts")
    assert parts.tangent is None and parts.tangent_parts.shape == (n, 14)
    assert np.array_equal(parts.stress, full.stress) and np.array_equal(parts.state, full.state)
    assert _close(tangent_from_parts(parts.tangent_parts), full.tangent, rtol=1e-13)
    assert (np.abs(parts.tangent_parts[:, 2:8]).max(axis=1) > 0).any()          # some points plastic
    with pytest.raises(InputError, match="structured tangent"):
        make_law({"type": "elastic", "E": E, "nu": NU}).update(eps, deps, make_law(
            {"type": "elastic", "E": E, "nu": NU}).initial_state(n), T, T, 0.05, tangent="parts")
