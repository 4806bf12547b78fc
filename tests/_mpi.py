"""Helpers for tests that launch their own MPI jobs (serial tests only: nested mpirun is not allowed)."""
import importlib.util
import os
import subprocess
import sys

import pytest
from mpi4py import MPI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mpi_env(env=None):
    """The environment of a child ``mpirun``: this one without its MPI singleton variables, plus ``env``."""
    full_env = dict(os.environ)
    for k in list(full_env):
        if k.startswith(("OMPI_", "PMIX_", "PMI_")) and k not in (
                "OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"):
            full_env.pop(k)
    full_env.update(env or {})
    return full_env


def run_mpi(n, args, timeout=300, env=None, cwd=None):
    """Run ``launch/mpirun.sh -n n ARGS`` as a subprocess (only from serial tests). Returns CompletedProcess."""
    cmd = [os.path.join(ROOT, "launch", "mpirun.sh"), "-n", str(n)] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=mpi_env(env), cwd=cwd)


def dromo_cmd():
    """Argument list that runs the dromo command line with this interpreter."""
    return [sys.executable, "-m", "dromo.cli.main"]


serial_only = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="launches its own mpirun")


def check_ok(p):
    """Assert a CompletedProcess succeeded (its output's tail in the message); returns it."""
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


#: for tests that run FEniCSx (Debian python3-dolfinx): skipped with the reason where it is missing
needs_dolfinx = pytest.mark.skipif(
    importlib.util.find_spec("dolfinx") is None,
    reason="FEniCSx is not installed (Debian python3-dolfinx; launch/setup.sh installs it)")
