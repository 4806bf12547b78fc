"""Test-suite set-up shared by serial and MPI runs.

The same test files run serially (``pytest --with-mpi``) and under ``mpirun -n 2`` / ``-n 3`` with
``-m mpi`` (pytest-mpi). Under MPI, ranks above 0 write their pytest report to
``.pytest-mpi/np<P>-rank<R>.log`` instead of the terminal, so the output stays readable; their exit status
still counts (mpirun fails when any rank fails).
"""
import os
import pytest

import dromo  # noqa: F401  (PETSc/h5py environment defaults)
from mpi4py import MPI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    comm = MPI.COMM_WORLD
    if comm.size > 1 and comm.rank > 0:
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            from _pytest._io import TerminalWriter
            os.makedirs(os.path.join(ROOT, ".pytest-mpi"), exist_ok=True)
            f = open(os.path.join(ROOT, ".pytest-mpi", f"np{comm.size}-rank{comm.rank}.log"), "w")
            tr._tw = TerminalWriter(f)
            tr._tw.hasmarkup = False


@pytest.fixture
def comm():
    return MPI.COMM_WORLD


@pytest.fixture
def shared_tmp(tmp_path, comm):
    """A temporary folder that is the same on every rank (rank 0's tmp_path)."""
    return type(tmp_path)(comm.bcast(str(tmp_path), root=0))


@pytest.fixture
def dromo_warnings():
    """The messages dromo logs at WARNING or above during the test (a list, filled as they come; dromo's
    logger does not propagate to pytest's ``caplog``)."""
    import logging
    messages = []

    class _Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler, logger = _Collect(logging.WARNING), logging.getLogger("dromo")
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)
