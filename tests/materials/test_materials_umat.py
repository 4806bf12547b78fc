"""UMAT plugin: a C UMAT of a built-in law gives the same stress, state and tangent; load errors."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dromo.errors import InputError
from dromo.materials import make_law
from .mat_helpers import run_strain_history

SRC = Path(__file__).parent / "umat" / "umat_vm_linear.c"
GCC = shutil.which("gcc")
pytestmark = pytest.mark.skipif(GCC is None, reason="gcc not installed")


@pytest.fixture(scope="module")
def umat_lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("umat")
    lib = d / "libumat_vm.so"
    subprocess.run([GCC, "-O2", "-shared", "-fPIC", "-o", str(lib), str(SRC), "-lm"], check=True)
    return str(lib)


STATE = [{"name": "p", "size": 1}, {"name": "eps_p", "size": 6, "kind": "strain"},
         {"name": "X", "size": 6, "kind": "stress"}]


@pytest.mark.parametrize("python_loop", [False, True], ids=["c-driver", "python-loop"])
@pytest.mark.parametrize("K, n", [(0.0, 1.0), (150.0, 5.0)])
def test_umat_matches_builtin(umat_lib, K, n, python_loop):
    E, nu, R0, H, C = 200e3, 0.3, 250.0, 1000.0, 20e3
    flow = "rate_independent" if K == 0 else {"type": "norton", "K": K, "n": n}
    b = make_law({"type": "von_mises", "E": E, "nu": nu, "R0": R0, "H": H, "kinematic": [{"C": C}], "flow": flow})
    u = make_law({"type": "umat", "library": umat_lib, "name": "VM", "props": [E, nu, R0, H, C, K, n],
                  "nstatv": 13, "state": STATE, "python_loop": python_loop})
    assert u.state_names == ["stress", "p", "eps_p", "X"] and u.n_state == 19
    rng = np.random.default_rng(5)
    path = np.cumsum(rng.normal(size=(8, 30, 6)) * 2e-3, axis=0)
    Sb, Xb, Fb = run_strain_history(b, path, dt=0.1)
    Su, Xu, Fu = run_strain_history(u, path, dt=0.1)
    assert not Fb.any() and not Fu.any()
    scale = np.abs(Sb).max()
    assert np.abs(Sb - Su).max() <= 1e-10 * scale
    assert np.allclose(b.state_view(Xb[-1], "p"), u.state_view(Xu[-1], "p"), rtol=1e-10, atol=1e-15)
    assert np.allclose(b.state_view(Xb[-1], "eps_p"), u.state_view(Xu[-1], "eps_p"), rtol=1e-9, atol=1e-14)
    assert np.allclose(2 / 3 * C * b.state_view(Xb[-1], "alpha_1"), u.state_view(Xu[-1], "X"), rtol=1e-9, atol=1e-8)
    assert np.allclose(u.state_view(Xu[-1], "stress"), Sb[-1], rtol=1e-10, atol=1e-8)
    # tangent at the last increment
    st_b, st_u = Xb[-2], Xu[-2]
    rb = b.update(path[-2], path[-1] - path[-2], st_b, 0, 0, 0.1)
    ru = u.update(path[-2], path[-1] - path[-2], st_u, 0, 0, 0.1)
    err = np.linalg.norm(rb.tangent - ru.tangent, axis=(1, 2)) / np.linalg.norm(rb.tangent, axis=(1, 2))
    assert err.max() < 1e-8


def test_umat_load_errors(tmp_path, umat_lib):
    with pytest.raises(InputError, match="nope.so.*not found"):
        make_law({"type": "umat", "library": str(tmp_path / "nope.so"), "nstatv": 0})
    bad = tmp_path / "garbage.so"
    bad.write_text("not a shared library")
    with pytest.raises(InputError, match="garbage.so.*cannot be loaded"):
        make_law({"type": "umat", "library": str(bad), "nstatv": 0})
    src = tmp_path / "other.c"
    src.write_text("double other_(double x) { return x; }\n")
    lib = tmp_path / "libother.so"
    subprocess.run([GCC, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    with pytest.raises(InputError, match="libother.so.*no symbol 'umat_'"):
        make_law({"type": "umat", "library": str(lib), "nstatv": 0})
    with pytest.raises(InputError, match="nstatv"):
        make_law({"type": "umat", "library": umat_lib})
    with pytest.raises(InputError, match="state sizes"):
        make_law({"type": "umat", "library": umat_lib, "nstatv": 3, "state": STATE})
