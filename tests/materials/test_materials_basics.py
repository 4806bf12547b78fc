"""Mandel helpers, temperature tables, elasticity and bad input."""
import numpy as np
import pytest

from dromo.errors import InputError
from dromo.materials import make_law, tensors as tn
from dromo.materials.tables import Param

rng = np.random.default_rng(42)


def test_mandel_conversions_roundtrip_and_contraction():
    A = rng.normal(size=(5, 3, 3))
    A = A + np.swapaxes(A, 1, 2)
    B = rng.normal(size=(5, 3, 3))
    B = B + np.swapaxes(B, 1, 2)
    a, b = tn.mandel_from_matrix3(A), tn.mandel_from_matrix3(B)
    assert np.allclose(np.einsum("nij,nij->n", A, B), np.einsum("ni,ni->n", a, b))
    assert np.allclose(tn.matrix3_from_mandel(a), A)
    # engineering-shear strain and tensor-component conventions
    eng = np.array([1.0, 2.0, 3.0, 2 * A[0, 0, 1], 2 * A[0, 0, 2], 2 * A[0, 1, 2]])
    assert np.allclose(tn.mandel_from_voigt_strain(eng)[3:], a[0, 3:] * 0 + tn.mandel_from_matrix3(A[0])[3:])
    assert np.allclose(tn.voigt_strain_from_mandel(tn.mandel_from_voigt_strain(eng)), eng)
    comp = np.array([A[0, 0, 0], A[0, 1, 1], A[0, 2, 2], A[0, 0, 1], A[0, 0, 2], A[0, 1, 2]])
    assert np.allclose(tn.mandel_from_tensor_components(comp), a[0])
    assert np.allclose(tn.tensor_components_from_mandel(a[0]), comp)
    # DDSDDE (tensor components) -> Mandel: isotropic DDSDDE has G on the shear diagonal
    E, nu = 200e3, 0.3
    G, lam = E / 2 / (1 + nu), E * nu / (1 + nu) / (1 - 2 * nu)
    D = np.zeros((6, 6))
    D[:3, :3] = lam
    D[np.arange(3), np.arange(3)] += 2 * G
    D[3, 3] = D[4, 4] = D[5, 5] = G
    assert np.allclose(tn.mandel_from_ddsdde(D), tn.isotropic_stiffness(E, nu))
    assert np.allclose(tn.ddsdde_from_mandel(tn.mandel_from_ddsdde(D)), D)
    assert np.allclose(tn.IDEV @ tn.IDEV, tn.IDEV)
    assert np.allclose(tn.von_mises(np.array([100.0, 0, 0, 0, 0, 0])), 100.0)


def test_table_exact_at_nodes_continuous_and_range_errors():
    p = Param("x.E", {"T": [0.0, 100.0, 500.0], "values": [200.0, 190.0, 150.0]})
    assert np.allclose(p(np.array([0.0, 100.0, 500.0])), [200.0, 190.0, 150.0])
    assert p(50.0) == pytest.approx(195.0)
    eps = 1e-9
    assert abs(p(100.0 - eps) - p(100.0 + eps)) < 1e-6
    q = Param("x.E", [[0.0, 200.0], [100.0, 190.0]])
    assert q(25.0) == pytest.approx(197.5)
    with pytest.raises(InputError, match=r"x\.E.*outside"):
        p(np.array([10.0, 600.0]))
    with pytest.raises(InputError, match=r"x\.E.*outside"):
        p(-1.0)
    with pytest.raises(InputError, match="strictly increasing"):
        Param("x.E", {"T": [0.0, 0.0], "values": [1.0, 2.0]})
    with pytest.raises(InputError, match="strictly increasing"):
        Param("x.E", [[10.0, 1.0], [5.0, 2.0]])
    assert Param("c", 3.0).constant and Param("c", 3.0)(1e9) == 3.0


def test_isotropic_and_thermal_elasticity():
    law = make_law({"type": "elastic", "E": 200e3, "nu": 0.3, "alpha": 1e-5, "T_ref": 293.0})
    n = 7
    eps = rng.normal(size=(n, 6)) * 1e-3
    T = np.full(n, 393.0)
    r = law.update(np.zeros((n, 6)), eps, law.initial_state(n), 293.0, T, 1.0)
    C = tn.isotropic_stiffness(200e3, 0.3)
    eth = 1e-5 * 100.0 * tn.I2
    assert np.allclose(r.stress, (eps - eth) @ C.T)
    assert np.allclose(r.tangent, C)
    assert law.n_state == 0 and not r.failed.any()
    # free thermal expansion gives zero stress
    r2 = law.update(np.zeros((1, 6)), eth[None], law.initial_state(1), 293.0, 393.0, 1.0)
    assert np.allclose(r2.stress, 0.0, atol=1e-9)


def test_orthotropic_engineering_tensor_and_cubic_agree():
    E1, E2, E3, n12, n13, n23, G12, G13, G23 = 150e3, 120e3, 100e3, 0.25, 0.3, 0.2, 50e3, 45e3, 40e3
    a = make_law({"type": "elastic", "symmetry": "orthotropic", "E1": E1, "E2": E2, "E3": E3,
                  "nu12": n12, "nu13": n13, "nu23": n23, "G12": G12, "G13": G13, "G23": G23})
    C = a.update(np.zeros((1, 6)), np.zeros((1, 6)), a.initial_state(1), 0, 0, 1).tangent[0]
    assert np.allclose(C[3, 3], 2 * G12) and np.allclose(C[5, 5], 2 * G23)
    S = np.linalg.inv(C)
    assert np.isclose(1 / S[0, 0], E1) and np.isclose(-S[0, 1] * E1, n12)
    d = dict(zip(["C1111", "C1122", "C2222", "C1133", "C2233", "C3333"],
                 [C[0, 0], C[0, 1], C[1, 1], C[0, 2], C[1, 2], C[2, 2]]))
    d.update(C1212=G12, C1313=G13, C2323=G23)
    b = make_law({"type": "elastic", "symmetry": "orthotropic", **d})
    Cb = b.update(np.zeros((1, 6)), np.zeros((1, 6)), b.initial_state(1), 0, 0, 1).tangent[0]
    assert np.allclose(C, Cb)
    # cubic with C44 = C1212 = (C11 − C12)/2 is isotropic
    E, nu = 200e3, 0.3
    Ci = tn.isotropic_stiffness(E, nu)
    c = make_law({"type": "elastic", "symmetry": "cubic", "C11": Ci[0, 0], "C12": Ci[0, 1], "C44": Ci[3, 3] / 2})
    Cc = c.update(np.zeros((1, 6)), np.zeros((1, 6)), c.initial_state(1), 0, 0, 1).tangent[0]
    assert np.allclose(Cc, Ci)


def test_temperature_dependent_elasticity_per_point():
    law = make_law({"type": "elastic", "E": {"T": [0.0, 1000.0], "values": [200e3, 100e3]}, "nu": 0.3})
    T = np.array([0.0, 500.0, 1000.0])
    eps = np.tile([1e-3, 0, 0, 0, 0, 0], (3, 1))
    r = law.update(np.zeros((3, 6)), eps, law.initial_state(3), T, T, 1.0)
    for k, E in enumerate([200e3, 150e3, 100e3]):
        assert np.allclose(r.tangent[k], tn.isotropic_stiffness(E, 0.3))
    with pytest.raises(InputError, match="outside"):
        law.update(np.zeros((1, 6)), eps[:1], law.initial_state(1), 0.0, 1500.0, 1.0)


@pytest.mark.parametrize("d, word", [
    ({"type": "elastic", "E": 0.0, "nu": 0.3}, "E"),
    ({"type": "elastic", "E": -5.0, "nu": 0.3}, "E"),
    ({"type": "elastic", "E": 200e3, "nu": 0.5}, "nu"),
    ({"type": "elastic", "E": 200e3, "nu": -1.0}, "nu"),
    ({"type": "von_mises", "E": 200e3, "nu": 0.7, "R0": 100.0}, "nu"),
    ({"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 100.0, "flow": {"type": "norton", "K": -1.0, "n": 3}}, "flow.K"),
    ({"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 100.0, "flow": {"type": "norton", "K": 10.0, "n": -3}}, "flow.n"),
    ({"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 100.0, "flow": {"type": "power", "A": -1e-9, "n": 3}}, "flow.A"),
    ({"type": "von_mises", "E": {"T": [0, 100, 50], "values": [1, 2, 3]}, "nu": 0.3, "R0": 1.0}, "E"),
    ({"type": "von_mises", "E": 200e3, "nu": 0.3}, "R0"),
    ({"type": "aniso_plas", "constants": [250e3, 1e5, 240e3, 9e4, 9.5e4, 230e3, 7e4, 7.5e4, 8e4,
                                          200, 0, 0, -1e-9, 5, 0]}, "A"),
    ({"type": "aniso_plas", "constants": [250e3, 1e5, 240e3, 9e4, 9.5e4, 230e3, 7e4, 7.5e4, 8e4,
                                          200, 0, 0, 1e-9, -5, 0]}, ".n"),
    ({"type": "nonsense"}, "nonsense"),
])
def test_bad_parameters_raise_input_error_naming_them(d, word):
    with pytest.raises(InputError) as exc:
        make_law(d)
    assert word in str(exc.value)


def test_nan_strain_and_bad_shapes():
    law = make_law({"type": "von_mises", "E": 200e3, "nu": 0.3, "R0": 100.0})
    eps = np.zeros((3, 6))
    d = np.zeros((3, 6))
    d[1, 2] = np.nan
    with pytest.raises(InputError, match="non-finite deps at point 1"):
        law.update(eps, d, law.initial_state(3), 0, 0, 1)
    with pytest.raises(InputError, match="shape"):
        law.update(eps, np.zeros((3, 5)), law.initial_state(3), 0, 0, 1)
    with pytest.raises(InputError, match="temperature"):
        law.update(eps, eps, law.initial_state(3), np.nan, 0, 1)
    with pytest.raises(InputError, match="no internal variable"):
        law.state_view(law.initial_state(3), "nope")


def test_registry_and_state_layout():
    law = make_law({"name": "ANISO_PLAS_STEEL", "constants": [250e3, 1e5, 240e3, 9e4, 9.5e4, 230e3, 7e4, 7.5e4,
                                                               8e4, 200, 0, 0, 1e-9, 5, 0]})
    assert type(law).__name__ == "AnisoPlas" and law.name == "ANISO_PLAS_STEEL"
    assert law.state_names == ["p", "eps_p", "alpha_1", "alpha_2"] and law.n_state == 14
    vm = make_law({"type": "chaboche", "E": 200e3, "nu": 0.3, "R0": 100.0,
                   "kinematic": [{"C": 1e4, "D": 10.0}, {"C": 1e3}]})
    assert vm.state_names == ["p", "eps_p", "alpha_1", "alpha_2"]
    assert vm.state_sizes == {"p": 1, "eps_p": 6, "alpha_1": 6, "alpha_2": 6} and vm.n_state == 19
    st = vm.initial_state(4)
    assert st.shape == (4, 19) and not st.any()
    v = vm.state_view(st, "alpha_2")
    v[:] = 1.0                                        # a view: writes go through
    assert st[:, 13:].all() and not st[:, :13].any()
    assert vm.state_view(st, "p").shape == (4,)
    assert np.allclose(vm.back_stress(st, 0.0), 2 / 3 * 1e3)


def test_all_finite_is_exact_even_when_the_sum_overflows():
    from dromo.materials.base import all_finite
    a = np.full((5, 6), 1e308)                       # finite values whose sum overflows
    assert all_finite(a)
    for bad in (np.nan, np.inf, -np.inf):
        b = a.copy()
        b[3, 2] = bad
        assert not all_finite(b)
        c = np.zeros(7)
        c[4] = bad
        assert not all_finite(c)
    assert all_finite(np.zeros((0, 6)))
