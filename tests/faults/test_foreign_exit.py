"""A third-party reader's ``sys.exit`` on one rank never hangs the others (issue 25, item 1).

meshio prints its error and calls ``sys.exit(1)`` on files it cannot read (``XDMF reader: Only supports one
grid right now.`` for a dolfinx or meshio XDMF time series given as a mesh). Before the fix rank 0 left
and the other ranks waited for ever at 100 % CPU. Each job here runs at 3 ranks and must end on every rank
within :data:`SECONDS`, with a message naming the file.
"""
import os
import sys
import time

import meshio
import pytest

from dromo.mesh.generate import box_mesh
from dromo.mesh.readers import to_meshio

from .._mpi import dromo_cmd, serial_only
from .faults_helpers import run

pytestmark = serial_only

#: a job that takes longer is a hang (the ranks start in about 2 s)
SECONDS = 30
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exit_one_rank.py")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("foreign")
    mesh = box_mesh(2, 1, 1, element="tet4")
    m = to_meshio(mesh)
    cwd = os.getcwd()
    os.chdir(d)                            # meshio's TimeSeriesWriter writes its .h5 in the working folder
    try:
        with meshio.xdmf.TimeSeriesWriter("ts.xdmf") as w:
            w.write_points_cells(m.points, m.cells[:1])
            for k in range(2):
                w.write_data(float(k), point_data={"Displacement": m.points * (k + 1)})
    finally:
        os.chdir(cwd)
    (d / "bad.msh").write_text("this is not a gmsh file\n")
    meshio.write(d / "s.vtu", meshio.Mesh(m.points, m.cells[:1], point_data={"U": m.points}))
    return d


def _bounded(job):
    assert job.seconds < SECONDS, f"took {job.seconds:.1f} s\n{job.output[-2000:]}"
    return job


def test_xdmf_time_series_as_its_own_mesh_at_three_ranks(files):
    """The issue's hang: ``dromo import meshio ts.xdmf ts.xdmf`` (meshio: one grid only, sys.exit)."""
    job = _bounded(run(3, dromo_cmd() + ["import", "meshio", "ts.xdmf", "ts.xdmf", "--field",
                                        "Displacement=U", "-o", "a.h5"], files, timeout=SECONDS))
    assert job.returncode == 0, job.output
    assert "U (2 steps)" in job.stdout
    assert "fields found: Displacement" in job.stderr


def test_mesh_meshio_exits_on_is_an_error_on_every_rank(files):
    job = _bounded(run(3, dromo_cmd() + ["import", "meshio", "bad.msh", "s.vtu", "-o", "b.h5"], files,
                       timeout=SECONDS))
    assert job.returncode == 1, job.output
    assert "bad.msh: cannot read as gmsh mesh" in job.stderr, job.stderr
    assert "Couldn't read file" in job.stderr and "sys.exit(1)" in job.stderr
    assert not [f for f in os.listdir(files) if f.startswith("b.")]


def test_serial_message_says_which_file(files):
    """Serially meshio's own message used to be all: now dromo names the file (and exits 1 itself)."""
    import subprocess
    p = subprocess.run(dromo_cmd() + ["import", "meshio", "bad.msh", "s.vtu", "-o", "c.h5"], cwd=files,
                       capture_output=True, text=True, timeout=SECONDS)
    assert p.returncode == 1
    assert p.stderr.startswith("dromo import: error: ") and "bad.msh" in p.stderr, p.stderr


@pytest.mark.parametrize("rank", [1, 2])
def test_sys_exit_in_a_collective_block_on_one_rank(files, rank):
    t0 = time.monotonic()
    job = _bounded(run(3, [sys.executable, HELPER, "collective", "bad.msh", rank], files, timeout=SECONDS))
    assert job.returncode == 3, job.output
    for r in range(3):
        assert f"rank {r}: caught rank {rank}: SystemExit: sys.exit(1) called" in job.stdout, job.output
    assert time.monotonic() - t0 < SECONDS


def test_sys_exit_in_a_command_on_one_rank_ends_the_job(files):
    """The command-line backstop: outside any collective block, a SystemExit on rank 2 aborts the job."""
    job = _bounded(run(3, [sys.executable, HELPER, "command", "bad.msh", 2], files, timeout=SECONDS))
    assert job.returncode != 0, job.output
    assert "[rank 2] dromo exit-test: error: sys.exit(1) called; aborting the job" in job.stderr, job.output


def test_reader_exit_becomes_an_input_error(tmp_path):
    """Any reader (not only meshio) calling sys.exit: an InputError naming its file, on every rank."""
    from mpi4py import MPI

    from dromo.errors import InputError
    from dromo.io.adapters import ResultReader, import_results

    class Exiting(ResultReader):
        source = "results.dat"

        def mesh(self):
            return box_mesh(1, 1, 1)

        def fields(self):
            sys.exit(2)

    with pytest.raises(InputError, match=r"results\.dat: cannot read the input \(SystemExit: sys\.exit\(2\)"):
        import_results(Exiting(), str(tmp_path / "o.h5"), MPI.COMM_WORLD)
    assert not os.listdir(tmp_path)
