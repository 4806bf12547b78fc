"""Verification against closed forms: Lamé cylinder (with convergence rate), elastic–perfectly-plastic
thick cylinder under internal pressure (plastic front, stresses); independence of the rank count."""
import numpy as np
import pytest
from mpi4py import MPI

from dromo.hf import Displacement, Pressure, Problem, TangentSolver, TimeStepping, hf_increment, initial_state
from dromo.hf.state import internal_field
from dromo.fem.operators import ip_coordinates

from .hf_helpers import natural, plane_strain_loads, quarter_cylinder

A, B, E, NU = 1.0, 2.0, 200e3, 0.3


def _solve_steps(pb, n):
    st = initial_state(pb)
    dt = (pb.time.end - pb.time.start) / n
    solver = TangentSolver(pb)
    for _ in range(n):
        st = hf_increment(pb, st, dt, solver=solver)
    return st


def _lame_error(comm, nr, nt, element):
    p = 100.0
    mesh = quarter_cylinder(nr, nt, A, B, element)
    pb = Problem(mesh, {"all": {"type": "elastic", "E": E, "nu": NU}},
                 plane_strain_loads(Displacement) + [Pressure("xmin", p)],
                 time=TimeStepping(end=1.0, dt=1.0), comm=comm)
    st = _solve_steps(pb, 1)
    assert st.info["iterations"] == 1                       # linear: predictor + one correction
    x = pb.dm.points[:pb.dm.n_owned_nodes]
    r = np.hypot(x[:, 0], x[:, 1])
    ur = (1 + NU) * p * A**2 / (E * (B**2 - A**2)) * ((1 - 2 * NU) * r + B**2 / r)
    exact = np.column_stack([ur * x[:, 0] / r, ur * x[:, 1] / r, 0 * r])
    err = comm.allreduce(np.abs(st.u - exact).max(), op=MPI.MAX)
    return err / ((1 + NU) * p * A**2 / (E * (B**2 - A**2)) * ((1 - 2 * NU) * A + B**2 / A))


@pytest.mark.mpi
@pytest.mark.parametrize("element,rate", [("hex8", 2.0), ("hex20", 3.0)])
def test_lame_cylinder_converges_at_the_expected_rate(comm, element, rate):
    e1 = _lame_error(comm, 2, 3, element)
    e2 = _lame_error(comm, 4, 6, element)
    observed = np.log2(e1 / e2)
    assert e2 < (2e-2 if element == "hex8" else 2e-3)
    assert observed > rate - 0.3, (e1, e2, observed)


@pytest.mark.mpi
def test_elastic_perfectly_plastic_cylinder_matches_hill_solution(comm):
    """Plane strain, von Mises, ν → 1/2 (Hill's closed form is exact for an incompressible material)."""
    sy, nu = 240.0, 0.499
    k = sy / np.sqrt(3.0)
    c = 1.5                                                  # plastic front radius to reach
    p = 2 * k * (np.log(c / A) + 0.5 * (1 - c**2 / B**2))
    mesh = quarter_cylinder(8, 3, A, B, "hex20")
    mesh.blocks[0].rule = "reduced"
    pb = Problem(mesh, {"all": {"type": "von_mises", "E": E, "nu": nu, "R0": sy}},
                 plane_strain_loads(Displacement) + [Pressure("xmin", p, amplitude="ramp")],
                 amplitudes={"ramp": [[0, 0], [1, 1]]}, time=TimeStepping(end=1.0, dt=0.25), comm=comm)
    st = _solve_steps(pb, 4)
    xq = ip_coordinates(pb.dm)
    r = np.hypot(xq[:, 0], xq[:, 1])
    pq = internal_field(pb, st, "p")[:, 0]
    # plastic front: between the outermost plastic and the innermost elastic point
    r_pl = comm.allreduce(r[pq > 1e-9].max(initial=0.0), op=MPI.MAX)
    r_el = comm.allreduce(r[pq <= 1e-9].min(initial=np.inf), op=MPI.MIN)
    h = (B - A) / 8
    assert r_pl < r_el + 1e-12
    assert abs(0.5 * (r_pl + r_el) - c) < 0.6 * h, (r_pl, r_el, c)
    # radial and hoop stresses in both zones
    cos, sin = xq[:, 0] / r, xq[:, 1] / r
    s = st.stress
    srr = s[:, 0] * cos**2 + s[:, 1] * sin**2 + np.sqrt(2) * s[:, 3] * cos * sin
    stt = s[:, 0] * sin**2 + s[:, 1] * cos**2 - np.sqrt(2) * s[:, 3] * cos * sin
    pc = k * (1 - c**2 / B**2)                               # pressure at the front
    srr_ex = np.where(r < c, -p + 2 * k * np.log(r / A), -pc * c**2 / (B**2 - c**2) * (B**2 / r**2 - 1))
    stt_ex = np.where(r < c, -p + 2 * k * (1 + np.log(r / A)), pc * c**2 / (B**2 - c**2) * (B**2 / r**2 + 1))
    far = np.abs(r - c) > h                                  # away from the front's element
    err = comm.allreduce(max(np.abs(srr - srr_ex)[far].max(initial=0), np.abs(stt - stt_ex)[far].max(initial=0)),
                         op=MPI.MAX)
    assert err < 0.03 * sy, err


def _cyclic_problem(c, law=None):
    from dromo.mesh.generate import box_mesh
    mesh = box_mesh(4, 2, 2, lengths=(4.0, 1.0, 1.0), element="hex8", distort=0.2, seed=1)
    law = law or {"type": "von_mises", "E": E, "nu": NU, "R0": 200.0, "H": 2000.0,
                  "kinematic": [{"C": 30e3, "D": 300.0}], "flow": {"type": "norton", "K": 100.0, "n": 4.0}}
    return Problem(mesh, {"all": law},
                   [Displacement("xmin", {"x": 0, "y": 0, "z": 0}),
                    Displacement("xmax", {"x": 0.012, "z": 0.004}, amplitude="cyc")],
                   amplitudes={"cyc": [[0, 0], [1, 1], [2, -1], [3, 0]]},
                   time=TimeStepping(end=3.0, dt=0.25), comm=c)


@pytest.mark.mpi
def test_same_result_at_any_rank_count(comm):
    def final(c):
        pb = _cyclic_problem(c)
        st = _solve_steps(pb, 12)
        dm = pb.dm
        return (natural(dm, st.u), natural(dm, st.stress, "ip"),
                natural(dm, internal_field(pb, st, "alpha_1"), "ip"))

    par = final(comm)
    ser = final(MPI.COMM_SELF)
    for a, b in zip(par, ser):
        assert np.abs(b).max() > 0
        assert np.abs(a - b).max() <= 1e-8 * np.abs(b).max()
