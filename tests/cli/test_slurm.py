"""The SLURM job templates (launch/slurm_job.sh, launch/slurm_solve.sh) on a real one-node SLURM started by
the test (tests/cli/slurm_cluster.py): submitted as they are, from folders outside the checkout, at the
allocation's task count, in the working directory SLURM gives, with the launcher they pick, chained.

Runs where SLURM is installed (launch/setup.sh installs slurm-wlm and munge) and as root; skipped with the
reason elsewhere. About 30 s."""
import os

import h5py
import pytest

from .._mpi import ROOT, serial_only
from ..hf.test_hf_cli import _write_case
from .slurm_cluster import Cluster, unavailable

pytestmark = [serial_only, pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))]

JOB = os.path.join(ROOT, "launch", "slurm_job.sh")
SOLVE = os.path.join(ROOT, "launch", "slurm_solve.sh")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(str(tmp_path_factory.mktemp("slurm")))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def submit(cluster, cwd, *args, **env):
    """``sbatch --parsable ARGS`` from ``cwd``; the job id."""
    return cluster.run(["sbatch", "--parsable", *args], cwd=cwd, env=cluster.env(**env)).stdout.strip().split(";")[0]


def finished(cluster, job_id, log):
    info = cluster.wait_job(job_id)
    text = open(log).read() if os.path.exists(log) else "(no log)"
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), f"{info}\n{text}\n{cluster.logs()}"
    return text


def pmix(cluster):
    return "pmix" in cluster.run(["srun", "--mpi=list"]).stdout


def test_job_template_from_a_folder_outside_the_checkout(cluster, tmp_path):
    """As a user submits it: `sbatch -n 2 /path/to/launch/slurm_job.sh` from their own folder, no edit, no
    environment file; 2 ranks on a 2-CPU node (a fixed --ntasks=4 was refused), outputs in that folder."""
    job = submit(cluster, tmp_path, "-n", "2", JOB)
    log = finished(cluster, job, tmp_path / f"dromo-{job}.log")
    assert "mpi world size  2" in log, log
    launcher = "srun --mpi=pmix (SLURM has its PMIx plugin)" if pmix(cluster) else "mpirun -n 2"
    assert f"launcher: {launcher}" in log, log
    assert (tmp_path / f"demo-{job}" / "report.md").exists(), log           # the demo ran to its report


def test_working_directory_from_sbatch_and_the_mpirun_fallback(cluster, tmp_path):
    """`sbatch -D DIR` is where the job runs and writes (the template no longer cd's to the submit folder);
    DROMO_USE_MPIRUN=1 picks mpirun, which takes the allocation's 2 tasks."""
    (tmp_path / "submit").mkdir()
    (tmp_path / "work").mkdir()
    job = submit(cluster, tmp_path / "submit", "-n", "2", "-D", str(tmp_path / "work"), JOB, "info",
                 DROMO_USE_MPIRUN="1")
    log = finished(cluster, job, tmp_path / "work" / f"dromo-{job}.log")
    assert f"launcher: mpirun -n 2 (DROMO_USE_MPIRUN=1" in log and f"working directory: {tmp_path}/work" in log, log
    assert log.count("mpi world size  2") == 1, log
    assert os.listdir(tmp_path / "submit") == []


def test_chain_solve_then_pod_and_what_a_failed_dependency_does(cluster, tmp_path):
    """The README's chain: a solve, then `dromo pod` of its result with --dependency=afterok. A job chained
    to a failed one never starts: it stays pending (Reason=DependencyNeverSatisfied) until cancelled."""
    _write_case(str(tmp_path))
    solve = submit(cluster, tmp_path, "-n", "2", SOLVE, "case.toml", "result.h5")
    pod = submit(cluster, tmp_path, "-n", "2", f"--dependency=afterok:{solve}", JOB,
                 "pod", "result.h5", "--field", "U", "--tol", "1e-6", "-o", "basis.h5")
    broken = submit(cluster, tmp_path, "-n", "1", SOLVE, "missing.toml", "broken.h5")
    after_broken = submit(cluster, tmp_path, "-n", "1", f"--dependency=afterok:{broken}", JOB, "info")

    finished(cluster, solve, tmp_path / f"dromo-solve-{solve}.log")
    finished(cluster, pod, tmp_path / f"dromo-{pod}.log")
    with h5py.File(tmp_path / "basis.h5", "r") as f:
        assert "fields" in f
    assert cluster.wait_job(broken)["JobState"] == "FAILED"
    # the scheduler marks it on one of its next passes
    waiting = cluster.wait_job(after_broken, until=lambda info: info["Reason"] == "DependencyNeverSatisfied",
                               timeout=120)
    assert (waiting["JobState"], waiting["Reason"]) == ("PENDING", "DependencyNeverSatisfied"), waiting
    cluster.run(["scancel", after_broken])
    assert cluster.wait_job(after_broken)["JobState"] == "CANCELLED"
    assert not (tmp_path / f"dromo-{after_broken}.log").exists()
