"""The fault suite: what a cluster job meets (issue 16), at 2 ranks, each job bounded in time.

Full disk (a small tmpfs: skipped with the reason where mounting is not permitted), read-only output
folder, stale temporaries of killed runs, ``kill -9`` of a rank then ``--restart``, SIGTERM/SIGUSR1 (a
SLURM time limit) then ``--restart``. Every case checks: non-zero exit within its bound, a message naming
the file, earlier outputs unchanged, no temporary left, and for restarts the same result as the
uninterrupted run (bit for bit, as the README promises).
"""
import os
import signal
import subprocess
import sys
import time

import h5py
import meshio
import numpy as np
import pytest

from dromo.mesh.generate import box_mesh
from dromo.mesh.readers import to_meshio

from .._mpi import dromo_cmd, serial_only
from ..hf.test_hf_cli import CASE, _write_case
from .faults_helpers import Job, fill, mount_tmpfs, run, temporaries, umount, wait_for

pytestmark = serial_only

DROMO = dromo_cmd()
EXIT_OUTPUT, EXIT_INTERRUPTED = 74, 75
MARKER = b"an earlier output"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The bar case with 25 increments, and its uninterrupted result (checkpoint every 4 increments)."""
    d = tmp_path_factory.mktemp("case")
    path = _write_case(str(d), CASE.replace("dt = 0.25", "dt = 0.08"))
    job = run(2, DROMO + ["solve", path, "-o", d / "ref.h5", "--checkpoint-every", "4"], d)
    assert job.returncode == 0, job.output
    mesh = box_mesh(3, 2, 2, element="hex8")
    m = to_meshio(mesh)
    series = []
    for k in range(3):
        series.append(str(d / f"s{k}.vtu"))
        meshio.write(series[-1], meshio.Mesh(m.points, m.cells, point_data={"U": m.points * (k + 1)}))
    return dict(dir=d, case=path, ref=str(d / "ref.h5"), series=series)


@pytest.fixture
def small_fs(tmp_path):
    d = mount_tmpfs(tmp_path / "fs", "1600k")
    yield d
    umount(d)


def _fields(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"fields/{k}/values"][...] for k in f["fields"]}


def _assert_same_result(path, ref, rtol=0.0):
    """Bit for bit (``rtol`` 0), or to ``rtol`` relative to the field's largest value (README, restart)."""
    a, b = _fields(path), _fields(ref)
    assert sorted(a) == sorted(b)
    for k in b:
        assert a[k].shape == b[k].shape, k
        assert np.abs(a[k] - b[k]).max() <= rtol * np.abs(b[k]).max(), (k, np.abs(a[k] - b[k]).max())


def _assert_clean_failure(job, folder, out, bound=30, unchanged=True):
    """Non-zero exit within ``bound`` s, the message names the output, the earlier output unchanged,
    no temporary left."""
    assert job.returncode != 0, job.output
    assert job.seconds < bound, (job.seconds, job.output)
    assert str(out) in job.output, job.output
    if unchanged:
        with open(out, "rb") as f:
            assert f.read() == MARKER
    assert temporaries(folder) == [], job.output


def test_full_disk_during_solve_is_a_clear_error(case, small_fs):
    out = os.path.join(small_fs, "r.h5")
    with open(out, "wb") as f:
        f.write(MARKER)
    job = run(2, DROMO + ["solve", case["case"], "-o", out, "--checkpoint-every", "4"], case["dir"])
    assert "increment 4:" in job.output                      # the disk filled up during the run
    _assert_clean_failure(job, small_fs, out, unchanged=False)
    assert job.returncode == EXIT_OUTPUT, job.output
    assert "not enough space" in job.output and "bytes) free" in job.output, job.output
    # the output is the last checkpoint: a valid archive to restart from
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "dromo-archive" and f["checkpoint"].attrs["increment"] >= 4


@pytest.mark.parametrize("command", ["solve", "pod"])
def test_full_disk_write_failure_ends_the_job(case, small_fs, command):
    """Without the free-space check (DROMO_SPACE_CHECK=0) the write itself fails inside HDF5: on one rank
    while the other waits in the collective call (solve: the job is aborted), or on every rank (pod: a
    collective error, the broken file left unclosed). Either way the job ends within seconds, status 74."""
    out = os.path.join(small_fs, "r.h5")
    with open(out, "wb") as f:
        f.write(MARKER)
    if command == "solve":
        fill(small_fs, 400_000)
        args = ["solve", case["case"], "-o", out, "--checkpoint-every", "100"]
    else:
        fill(small_fs, 16_000)
        args = ["pod", case["ref"], "--field", "U", "-o", out]
    job = run(2, DROMO + args, case["dir"], env={"DROMO_SPACE_CHECK": "0"})
    _assert_clean_failure(job, small_fs, out)
    assert job.returncode == EXIT_OUTPUT and "failed" in job.output, job.output


@pytest.mark.parametrize("command", ["pod", "hyperreduce", "import"])
def test_full_disk_offline_commands(case, small_fs, command):
    out = os.path.join(small_fs, "out.h5")
    with open(out, "wb") as f:
        f.write(MARKER)
    fill(small_fs, 16_000)                                   # less than any output needs
    args = {"pod": ["pod", case["ref"], "--field", "U", "--tol", "1e-6"],
            "hyperreduce": ["hyperreduce", case["ref"], "--tol", "1e-3"],
            "import": ["import", "meshio", case["series"][0]] + case["series"]}[command]
    job = run(2, DROMO + args + ["-o", out], case["dir"])
    _assert_clean_failure(job, small_fs, out)
    assert job.returncode == EXIT_OUTPUT, job.output
    assert "not enough space" in job.output, job.output


def test_read_only_output_folder(case, tmp_path):
    ro = mount_tmpfs(tmp_path / "ro", "1m", read_only=True)
    try:
        out = os.path.join(ro, "basis.h5")
        job = run(2, DROMO + ["pod", case["ref"], "--field", "U", "-o", out], case["dir"])
        assert job.returncode == EXIT_OUTPUT and job.seconds < 30, job.output
        assert out in job.output and "not writable" in job.output, job.output
        assert os.listdir(ro) == []
    finally:
        umount(ro)


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_are_removed_live_ones_kept(case, tmp_path):
    import socket
    host = socket.gethostname()
    out = tmp_path / "basis.h5"
    stale = [tmp_path / f"basis.h5.tmp-{host}-{_dead_pid()}", tmp_path / f"basis.h5.tmp-{_dead_pid()}"]
    alive = tmp_path / f"basis.h5.tmp-{host}-{os.getpid()}"
    for f in stale + [alive]:
        f.write_bytes(b"x" * 1000)
    job = run(2, DROMO + ["pod", case["ref"], "--field", "U", "-o", out], tmp_path)
    assert job.returncode == 0, job.output
    assert not any(f.exists() for f in stale), job.output
    assert alive.exists()
    assert all(str(f) in job.output for f in stale) and "removed" in job.output


def test_kill_9_of_a_rank_then_restart(case, tmp_path):
    out = tmp_path / "r.h5"
    job = Job(2, DROMO + ["solve", case["case"], "-o", out, "--checkpoint-every", "4"], case["dir"])
    # the first checkpoint is out, and the run goes on in a new temporary
    wait_for(lambda: out.exists() and temporaries(tmp_path), job=job)
    ranks = job.ranks()
    os.kill(ranks[1], signal.SIGKILL)
    job.wait(30)
    assert job.returncode != 0
    assert temporaries(tmp_path), "expected the killed run's temporary"
    # mpirun may return before the other rank is gone: the restart must not see it alive (a zombie
    # counts as gone)
    from dromo.io.output_guard import pid_alive
    wait_for(lambda: not any(pid_alive(p) for p in ranks), timeout=30)
    again = run(2, DROMO + ["solve", case["case"], "-o", out, "--checkpoint-every", "4", "--restart", out],
                case["dir"])
    assert again.returncode == 0, again.output
    assert "removed" in again.output and temporaries(tmp_path) == [], again.output
    _assert_same_result(out, case["ref"])


@pytest.mark.parametrize("how", ["SIGTERM to the ranks", "SIGUSR1 to mpirun"])
def test_signal_checkpoints_and_restart_gives_the_same_result(case, tmp_path, how):
    """SLURM's time limit sends SIGTERM to every task; ``--signal=USR1@T`` sends SIGUSR1 (mpirun forwards
    it to the ranks). The run stops between increments on all ranks, checkpoints, exits 75 and says how
    to restart; the restart ends with the uninterrupted result."""
    out = tmp_path / "r.h5"
    job = Job(2, DROMO + ["solve", case["case"], "-o", out, "--checkpoint-every", "4"], case["dir"])
    wait_for(lambda: out.exists(), job=job)
    t_signal = time.monotonic()
    if how.startswith("SIGTERM"):
        job.signal_ranks(signal.SIGTERM)
    else:
        os.kill(job.proc.pid, signal.SIGUSR1)
    job.wait(30)
    assert time.monotonic() - t_signal < 15, job.output      # within a few seconds (one increment)
    assert job.returncode == EXIT_INTERRUPTED, job.output
    name = how.split()[0]
    assert f"interrupted by {name}" in job.output, job.output
    assert f"restart with: dromo solve {case['case']} -o {out} --checkpoint-every 4 --restart {out}" \
        in job.output, job.output
    assert temporaries(tmp_path) == []
    with h5py.File(out, "r") as f:                            # a valid archive holding the checkpoint
        stopped = int(f["checkpoint"].attrs["increment"])
        assert f["fields/U/values"].shape[0] == stopped + 1
    assert stopped < 25, "the signal came too late to test anything"
    again = run(2, DROMO + ["solve", case["case"], "-o", out, "--checkpoint-every", "4", "--restart", out],
                case["dir"])
    assert again.returncode == 0, again.output
    # bit for bit from a regular checkpoint; from a stop in between, to the Newton tolerance (README)
    _assert_same_result(out, case["ref"], rtol=0.0 if stopped % 4 == 0 else 1e-8)
