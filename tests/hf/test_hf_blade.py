"""The built-in turbine-blade case: geometry and sets, and a few increments on any rank count."""
import os

import numpy as np
import pytest
from mpi4py import MPI

from dromo.hf import TangentSolver, hf_increment, initial_state, internal_field, load_case
from dromo.hf.cases import CASES, blade, write_case
from dromo.mesh.readers import read_mesh

from .hf_helpers import natural

gmsh = pytest.importorskip("gmsh")


def _write(comm, folder):
    path = None
    if comm.rank == 0:
        path = write_case("blade", os.path.join(str(folder), "blade"), "small")
    return comm.bcast(path, root=0)


@pytest.mark.mpi
def test_blade_small_runs_a_few_increments_at_any_rank_count(comm, shared_tmp):
    assert "blade" in CASES
    path = _write(comm, shared_tmp)
    if comm.rank == 0:
        m = read_mesh(os.path.join(os.path.dirname(path), "blade.msh"))
        assert m.blocks[0].type == "tet10" and 2000 < 3 * m.n_nodes < 20000
        x = m.points
        assert np.allclose(x[m.node_sets["root"], 2], 0.0)
        assert np.allclose(x[m.node_sets["tip"], 2], blade.Z1)
        # pressure side = the concave (lower) side: below the suction side in the section frame
        zc = 0.5 * (blade.Z0 + blade.Z1)

        def local_y(ids):
            sel = ids[np.abs(x[ids, 2] - zc) < 10.0]
            a = blade._twist(x[sel, 2])
            return np.mean(-np.sin(a) * x[sel, 0] + np.cos(a) * x[sel, 1])
        assert local_y(m.node_sets["pressure_side"]) < local_y(m.node_sets["suction_side"])

    def final(c):
        pb, _opts = load_case(path, c)
        st = initial_state(pb)
        solver = TangentSolver(pb)
        for dt in (0.5, 0.5, 0.5):                 # start-up to full speed and temperature
            st = hf_increment(pb, st, dt, solver=solver)
        return pb, st

    pb, st = final(comm)
    assert st.time == pytest.approx(1.5)
    dm = pb.dm
    T = comm.allreduce(st.temperature.max(), op=MPI.MAX)
    assert 800.0 < T < 950.0                                  # hot leading edge
    p = natural(dm, internal_field(pb, st, "p"), "ip")
    u = natural(dm, st.u)
    assert p.max() > 1e-5                                     # viscoplastic flow at the hot spot
    assert np.abs(u).max() > 0.1
    if comm.size > 1:
        pb1, st1 = final(MPI.COMM_SELF)
        u1 = natural(pb1.dm, st1.u)
        p1 = natural(pb1.dm, internal_field(pb1, st1, "p"), "ip")
        assert np.abs(u - u1).max() <= 1e-8 * np.abs(u1).max()
        assert np.abs(p - p1).max() <= 1e-6 * np.abs(p1).max()


def test_blade_case_text_and_tables():
    text = blade.case_text("small", cycles=3)
    assert 'file = "blade.msh"' in text and "end = 15.0" in text
    up, lo = blade.naca_section(blade.Z0)
    assert np.allclose(up[0], lo[0]) and np.allclose(up[-1], lo[-1])        # closed section
    # the leading edge is the hottest point of a section at full heat
    import tomllib
    expr = tomllib.loads(text)["temperature"]["expression"]
    from dromo.hf.loads import Temperature
    T = Temperature(expression=expr)
    z = 60.0
    up, lo = blade.naca_section(z, 50)
    pts = np.vstack([up, lo])
    vals = T.evaluate(pts, 0.0, 1.0)
    assert np.argmax(vals) in (0, 50)


@pytest.mark.skipif(not os.environ.get("DROMO_LARGE_TESTS"), reason="about 1 min of gmsh: set DROMO_LARGE_TESTS=1")
def test_blade_large_mesh_has_a_million_dofs(tmp_path):
    n = blade.mesh(str(tmp_path / "blade.msh"), "large")
    assert 3 * n >= 1_000_000
