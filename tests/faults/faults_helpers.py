"""Helpers of the fault suite: bounded MPI jobs that can be signalled, small file systems."""
import os
import signal
import subprocess
import time
import uuid

import pytest

from .._mpi import ROOT, mpi_env

#: a job of the fault suite taking longer than this (s) is a hang, and fails the test
BOUND = 60


class Job:
    """``launch/mpirun.sh -n N ARGS`` in its own session, output to files (no pipe to fill)."""

    def __init__(self, n, args, cwd, env=None):
        self.cwd = str(cwd)
        tag = uuid.uuid4().hex[:8]
        self.out_path = os.path.join(self.cwd, f"job-{tag}.out")
        self.err_path = os.path.join(self.cwd, f"job-{tag}.err")
        cmd = [os.path.join(ROOT, "launch", "mpirun.sh"), "-n", str(n)] + [str(a) for a in args]
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=self.cwd, env=mpi_env(env),
                                         start_new_session=True)
        self.t0 = time.monotonic()

    def ranks(self):
        """PIDs of the rank processes (the children of mpirun)."""
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return [int(p) for p in f.read().split()]

    def signal_ranks(self, sig):
        for pid in self.ranks():
            os.kill(pid, sig)

    def wait(self, timeout=BOUND):
        """Wait for the end; a job still running after ``timeout`` s is killed (its whole session) and the
        test fails as a hang. Returns self (``returncode``, ``stdout``, ``stderr``, ``seconds``)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            pytest.fail(f"hang: the job did not end within {timeout} s\n{self.read()[1][-3000:]}")
        self.seconds = time.monotonic() - self.t0
        self.returncode = self.proc.returncode
        self.stdout, self.stderr = self.read()
        return self

    def read(self):
        with open(self.out_path) as o, open(self.err_path) as e:
            return o.read(), e.read()

    @property
    def output(self):
        return self.stdout + self.stderr


def run(n, args, cwd, env=None, timeout=BOUND):
    return Job(n, args, cwd, env).wait(timeout)


def wait_for(predicate, timeout=BOUND, job=None):
    t0 = time.monotonic()
    while not predicate():
        if job is not None and job.proc.poll() is not None:
            pytest.fail(f"the job ended before the expected moment\n{''.join(job.read())[-3000:]}")
        if time.monotonic() - t0 > timeout:
            pytest.fail("timed out waiting")
        time.sleep(0.02)


def mount_tmpfs(folder, size, read_only=False):
    """Mount a ``size`` tmpfs on ``folder``; skip the test (reason printed) where mounting is not permitted."""
    os.makedirs(folder, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(folder)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or p.returncode}): full-disk and read-only "
                    f"cases not run")
    return str(folder)


def umount(folder):
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def temporaries(folder):
    return sorted(f for f in os.listdir(folder) if ".tmp-" in f)


def fill(folder, leave):
    """Fill the file system of ``folder`` up to ``leave`` bytes free (a filler file)."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(folder, "filler"), "wb") as f:
        f.write(b"\0" * max(0, free - int(leave)))
