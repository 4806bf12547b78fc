"""FEniCSx results import as its users write them (issue 25): dolfinx at 1 and 2 ranks writes XDMF and VTK
series of a 3D cantilever in P1 and P2 (:mod:`tests.io.fenicsx_cases`); each is imported at 1 and 2 ranks
and checked against dolfinx's in-memory solution (values and coordinates), 1-rank and 2-rank imports must
be identical, and the 2-rank run maps onto the 1-rank run's mesh by coordinates.

Serial tests (they launch dolfinx and the 2-rank imports with their own mpirun); skipped, with the
reason, where ``python3-dolfinx`` is not installed (``launch/setup.sh`` installs it). dolfinx compiles
its forms with gcc on first use (cached in ``~/.cache/fenics``).
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from scipy.spatial import cKDTree

from .._mpi import check_ok, dromo_cmd, needs_dolfinx, run_mpi, serial_only
from .fenicsx_cases import IMPORTS, TIMES, import_all, reference

pytestmark = [serial_only, needs_dolfinx]

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fenicsx_cases.py")


_ok = check_ok


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """dolfinx at 1 and 2 ranks, then every import at 1 rank (in this process) and at 2 ranks."""
    from mpi4py import MPI
    d = tmp_path_factory.mktemp("fenicsx")
    for n in (1, 2):
        _ok(run_mpi(n, [sys.executable, HELPER, "solve", str(d / f"np{n}")], timeout=600))
    import_all(str(d), MPI.COMM_WORLD)
    _ok(run_mpi(2, [sys.executable, HELPER, "import", str(d)], timeout=300))
    return d


def _archive(path):
    with h5py.File(path, "r") as f:
        return {"points": f["mesh/points"][...], "U": f["fields/U/values"][...], "time": f["fields/U/time"][...],
                "attrs": dict(f["fields/U"].attrs)}


def _walk(g):
    out = []
    g.visit(out.append)
    return out


def _match(points, x, tol):
    """Rows of ``x`` at ``points`` (every point must have one within ``tol``)."""
    dist, rows = cKDTree(x).query(points)
    assert dist.max() <= tol, dist.max()
    assert len(np.unique(rows)) == len(points)
    return rows


@pytest.mark.parametrize("run", ["np1", "np2"])
@pytest.mark.parametrize("name", sorted(IMPORTS))
def test_values_and_coordinates_are_dolfinx_own(runs, run, name):
    deg = 2 if name.endswith("2") else 1
    ref = reference(str(runs / run), deg)
    onto = name.startswith("onto")
    if onto:                                         # mapped onto the 1-rank run's mesh: its coordinates
        ref_mesh = reference(str(runs / "np1"), deg)
    a = _archive(runs / run / "imports-1" / f"{name}.h5")
    scale = np.abs(ref["u"]).max()
    assert np.array_equal(a["time"], TIMES)
    assert a["attrs"]["source_name"] == "Displacement"
    rows = _match(a["points"], ref["x"], 1e-12)
    if name.startswith("xdmf"):
        # the XDMF's HDF5 data bit for bit, in its order; dolfinx wrote the mesh geometry (bit for bit) and
        # the values interpolated at its nodes (P2: the vertex values only), to round-off
        with h5py.File(runs / run / f"p{deg}.h5", "r") as f:
            assert np.array_equal(a["points"], f["Mesh/mesh/geometry"][...])
            assert np.array_equal(a["U"], np.array([f[f"Function/Displacement/{t:g}"][...] for t in TIMES]))
        g = ref["geometry"]
        assert len(g) == len(a["points"]) and np.array_equal(a["points"], g[_match(a["points"], g, 0.0)])
        assert np.abs(a["U"] - ref["u"][:, rows]).max() <= 1e-15 * scale
    else:
        # VTK ascii (16 digits): every dof, to the last digit or so
        assert len(a["points"]) == len(ref["x"])
        assert np.abs(a["U"] - ref["u"][:, rows]).max() <= 1e-15 * scale
    if onto:
        # another partition, another numbering: the 1-rank run's mesh; values to the solvers' round-off
        m = _archive(runs / "np1" / "imports-1" / ("xdmf1.h5" if deg == 1 else "vtk2.h5"))
        assert np.array_equal(a["points"], m["points"])
        assert np.abs(a["U"] - ref_mesh["u"][:, _match(a["points"], ref_mesh["x"], 1e-12)]).max() <= 1e-10 * scale


@pytest.mark.parametrize("run", ["np1", "np2"])
@pytest.mark.parametrize("name", sorted(IMPORTS))
def test_one_and_two_rank_imports_are_identical(runs, run, name):
    a = _archive(runs / run / "imports-1" / f"{name}.h5")
    b = _archive(runs / run / "imports-2" / f"{name}.h5")
    assert np.array_equal(a["points"], b["points"]) and np.array_equal(a["U"], b["U"])


def test_meshtags_are_facet_sets_and_p2_vtk_is_tet10(runs):
    from dromo.io.archive import Archive
    from mpi4py import MPI
    with Archive.open(str(runs / "np2" / "imports-1" / "xdmf1.h5"), MPI.COMM_WORLD) as ar:
        mesh = ar.read_mesh()
    assert {"facets_1", "facets_2"} <= set(mesh.facet_sets)
    assert sum(len(f) for f in mesh.facet_sets["facets_1"].values()) == 2 * 2 * 2   # 2 x 2 squares, 2 triangles
    assert np.allclose(mesh.points[mesh.node_sets["facets_2"], 0], 4.0)
    with Archive.open(str(runs / "np2" / "imports-1" / "vtk2.h5"), MPI.COMM_WORLD) as ar:
        mesh = ar.read_mesh()
    assert [b.type for b in mesh.blocks] == ["tet10"] and mesh.n_cells == 8 * 2 * 2 * 6


def test_command_line_at_two_ranks_then_pod(runs):
    """The user's commands: 2-rank dolfinx VTK onto the 1-rank XDMF mesh, a set by expression, then POD."""
    out = runs / "cli.h5"
    p = _ok(run_mpi(2, dromo_cmd() + ["import", "meshio", str(runs / "np1" / "p1.xdmf"), str(runs / "np2" / "p1.pvd"),
                                      "--field", "Displacement=U", "--set", "clamp=x < 1e-9", "-o", str(out)]))
    assert "fields found: Displacement (node, 3 components -> U)" in p.stderr
    assert "differently: mapped by coordinates" in p.stderr
    with h5py.File(out, "r") as f:
        names = _walk(f["mesh"])
    assert any("clamp" in k for k in names)
    p = _ok(subprocess.run(dromo_cmd() + ["pod", str(out), "--field", "U", "--tol", "1e-8", "-o",
                                          str(runs / "basis.h5")], capture_output=True, text=True))
    assert "kept 1 modes of 3" in p.stderr, p.stderr       # a proportional load: one mode
