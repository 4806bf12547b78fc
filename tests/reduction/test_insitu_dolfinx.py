"""In-situ POD from a real dolfinx code (issue 23): its displacement Vecs streamed into dromo's incremental
POD on the same communicator at 1, 2 and 3 ranks equal the POD of the same snapshots written by dolfinx to
XDMF and read by ``dromo import meshio`` (singular values and principal angles); the basis written by dromo
is read back by dolfinx as a SLEPc BV in its numbering at another rank count.

dolfinx's partition and node order differ from dromo's: the dof map is built from dolfinx's owned dof
coordinates and the mesh of a dromo archive (imported from a 1-rank dolfinx run). Serial tests (they
launch their own mpirun); skipped, with the reason, where ``python3-dolfinx`` is not installed.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from mpi4py import MPI

from .._mpi import check_ok, dromo_cmd, needs_dolfinx, run_mpi, serial_only
from .test_pod import sin_max_angle

pytestmark = [serial_only, needs_dolfinx]

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "insitu_dolfinx.py")


_ok = check_ok


def _import(out, *files):
    return _ok(subprocess.run(dromo_cmd() + ["import", "meshio", *files, "--field", "Displacement=U", "-o", out],
                              capture_output=True, text=True, timeout=300))


@pytest.fixture(scope="module")
def mesh_archive(tmp_path_factory):
    """dromo's mesh: the 1-rank dolfinx run's XDMF, imported (its natural numbering)."""
    d = tmp_path_factory.mktemp("insitu")
    _ok(run_mpi(1, [sys.executable, HELPER, "solve", str(d / "ref")], timeout=600))
    _import(str(d / "ref.h5"), str(d / "ref" / "u.xdmf"), str(d / "ref" / "u.xdmf"))
    return d


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_dolfinx_vecs_streamed_equal_the_xdmf_file_path(mesh_archive, ranks):
    from dromo.io.archive import Archive
    from dromo.reduction import pod, read_basis
    d = mesh_archive
    run = d / f"np{ranks}"
    _ok(run_mpi(ranks, [sys.executable, HELPER, "solve", str(run), str(d / "ref.h5")], timeout=600))
    # the file path: the same run's XDMF onto dromo's mesh, then a batch POD (TSQR and SLEPc)
    _import(str(run / "file.h5"), str(d / "ref" / "u.xdmf"), str(run / "u.xdmf"))
    comm = MPI.COMM_WORLD
    with Archive.open(str(run / "file.h5"), comm) as ar:
        ref = pod(ar.field_source("U"), tol=1e-8, method="svd")
        slp = pod(ar.field_source("U"), tol=1e-8, method="slepc")
    with Archive.open(str(run / "insitu.h5"), comm) as ar:          # written at `ranks`, read at 1
        got = read_basis(ar, "U")
    k = ref.n_kept
    assert k == 6 and got.n_kept == k and slp.n_kept == k and got.n_snapshots == 10
    sv = ref.singular_values[:k]
    assert sv[-1] / sv[0] > 1e-4 and np.min(-np.diff(sv) / sv[0]) > 5e-4     # well separated modes
    np.testing.assert_allclose(got.singular_values[:k], sv, rtol=1e-9)
    np.testing.assert_allclose(slp.singular_values[:k], sv, rtol=1e-9)
    for b in (got, slp):
        assert sin_max_angle(ref.modes, b.modes) <= 1e-8                # largest principal angle
    # the basis back into dolfinx (another rank count than it was computed at)
    p = _ok(run_mpi(ranks % 3 + 1, [sys.executable, HELPER, "readback", str(run), str(d / "ref.h5"),
                                    str(run / "insitu.h5")], timeout=600))
    assert f"readback at {ranks % 3 + 1} ranks: 6 modes" in p.stdout
