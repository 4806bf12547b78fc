"""The SLURM job templates (launch/slurm_job.sh, slurm_solve.sh, slurm_rom.sh and the chain submitter
slurm_rom_chain.sh) on a real one-node SLURM started by the test (tests/cli/slurm_cluster.py): submitted as
they are, from folders outside the checkout, at the allocation's task count, in the working directory SLURM
gives, with the launcher they pick, chained.

Runs where SLURM is installed (launch/setup.sh installs slurm-wlm and munge) and as root; skipped with the
reason elsewhere. About 4 min (the demo job: 3 min; the reduced-model chain: 40 s)."""
import os

import h5py
import numpy as np
import pytest

from .._mpi import ROOT, serial_only
from ..hf.test_hf_cli import _write_case
from ..rom import rom_cases as rc
from .slurm_cluster import Cluster, unavailable

pytestmark = [serial_only, pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))]

JOB = os.path.join(ROOT, "launch", "slurm_job.sh")
SOLVE = os.path.join(ROOT, "launch", "slurm_solve.sh")
ROM_JOB = os.path.join(ROOT, "launch", "slurm_rom.sh")
ROM_CHAIN = os.path.join(ROOT, "launch", "slurm_rom_chain.sh")


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


def test_rom_chain_offline_then_online_and_adapt(cluster, tmp_path):
    """The reduced-model chain as a user submits it, on the small bar of tests/rom: launch/slurm_rom_chain.sh
    submits `dromo offline` on 2 tasks (the two training runs are solved in the job, then POD, ECM, Gappy-POD)
    and `dromo online --reconstruct U p` on a loading it was not trained on, chained with afterok; an `adapt`
    job is chained by hand to the same offline job (`sbatch --dependency=afterok:ID slurm_rom.sh adapt ...`)."""
    d = str(tmp_path)
    rc.write_mesh(d)
    rc.write_case(d, "a", ux=0.012)
    rc.write_case(d, "b", ux=0.018)
    rc.write_case(d, "c", ux=0.015, end=4.0)
    rc.write_training(d, [("a.toml", "a.h5"), ("b.toml", "b.h5")])
    p = cluster.run([ROM_CHAIN, "train.toml", "c.toml", "online", "--reconstruct", "U", "p"], cwd=d,
                    env=cluster.env(OFFLINE_TASKS="2", ROM_TASKS="1"))
    offline, online = p.stdout.strip().splitlines()[-1].split()
    assert f"after job {offline} succeeds" in p.stdout, p.stdout
    adapt = submit(cluster, d, "-n", "1", f"--dependency=afterok:{offline}", ROM_JOB, "adapt", "rom.h5", "c.toml",
                   "adapt.h5", "--field", "S", "--tol", "0.005")
    assert cluster.job(online)["Dependency"].startswith(f"afterok:{offline}")

    log = finished(cluster, offline, tmp_path / f"dromo-rom-{offline}.log")
    assert "launcher:" in log and "dromo offline:" in log, log
    assert (tmp_path / "a.h5").exists() and (tmp_path / "b.h5").exists()      # training runs solved by the job
    with h5py.File(tmp_path / "rom.h5", "r") as f:
        rom = dict(f["rom"].attrs)
        assert rom["format_version"] == 1 and rom["n_modes"] >= 1 and rom["n_points"] >= 1, rom
        assert f["fields/rom_U/values"].shape[0] == rom["n_modes"]

    log = finished(cluster, online, tmp_path / f"dromo-rom-{online}.log")
    assert "dromo online: c:" in log, log
    with h5py.File(tmp_path / "rom-result.h5", "r") as f:
        t = f["rom_result/time"][...]
        assert np.allclose(t, np.linspace(0.0, 4.0, 41)), t                   # every increment, to the end
        assert f["rom_result/gamma"].shape == (41, rom["n_modes"]) and np.isfinite(f["rom_result/gamma"][...]).all()
        U = f["fields/U/values"][...]                                           # reconstructed, as asked
        assert U.shape[0] == 41 and "p" in f["fields"]
    # the bar's end moves with the imposed ux = 0.015 at the amplitude's peaks (t = 1, 4): the result is physical
    assert abs(np.abs(U[10, :, 0]).max() - 0.015) < 1e-9 and abs(np.abs(U[40, :, 0]).max() - 0.015) < 1e-9

    log = finished(cluster, adapt, tmp_path / f"dromo-rom-{adapt}.log")
    assert "dromo adapt: c:" in log, log
    with h5py.File(tmp_path / "adapt.h5", "r") as f:
        assert np.allclose(f["rom_result/time"][...], t)
