"""Damaged inputs for every command that reads an archive: a clear error on every rank, naming the file,
status 1, and the output (an earlier one of the same name) untouched with no temporary left. Collective
(run at 1, 2 and 3 ranks); the commands run in-process through :func:`dromo.cli.main.main`."""
import os

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from dromo.cli.main import main
from dromo.io.archive import Archive
from dromo.mesh.generate import box_mesh
from dromo.parallel.comm import partition_range

pytestmark = pytest.mark.mpi

MARKER = b"an earlier output"


@pytest.fixture
def folder(tmp_path):
    comm = MPI.COMM_WORLD
    return comm.bcast(str(tmp_path) if comm.rank == 0 else None, root=0)


def _snapshots(path, comm, nan=False):
    """A small valid archive with U (node) snapshots; ``nan`` puts a NaN in one of them."""
    mesh = box_mesh(2, 2, 2, element="hex8")
    with Archive.create(path, comm) as ar:
        ar.write_mesh(mesh)
        n = len(mesh.points)
        vals = np.stack([mesh.points * (k + 1) for k in range(4)])
        if nan:
            vals[2, 3, 1] = np.nan
        a, b = partition_range(n, comm)
        ar.write_field("U", "node", vals[:, a:b], times=np.arange(4.0))


def _damaged(folder, kind, comm):
    path = os.path.join(folder, f"{kind}.h5")
    if kind in ("nan", "truncated"):
        good = path if kind == "nan" else os.path.join(folder, "good.h5")
        _snapshots(good, comm, nan=kind == "nan")
    if comm.rank == 0:
        if kind == "truncated":
            with open(good, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
        elif kind == "text":
            with open(path, "w") as f:
                f.write("U = [1, 2, 3]\n")
        elif kind == "foreign":
            with h5py.File(path, "w") as f:
                f["data"] = np.arange(10.0)
    comm.Barrier()
    return path


COMMANDS = {
    "pod": lambda src, out: ["pod", src, "--field", "U", "--tol", "1e-6", "-o", out],
    "hyperreduce": lambda src, out: ["hyperreduce", src, "-o", out],
    "compare": lambda src, out: ["compare", src, src, "--json", out],
}


@pytest.mark.parametrize("kind", ["truncated", "text", "foreign", "nan"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_damaged_input_is_a_clear_error(folder, kind, command, capfd):
    comm = MPI.COMM_WORLD
    if kind == "nan" and command == "compare":
        pytest.skip("compare reports NaN differences as numbers (the comparison of a NaN is NaN)")
    if kind == "nan" and command == "hyperreduce":
        pytest.skip("the small archive has no stress snapshots (NaN-bearing snapshots: pod)")
    if kind == "nan" and command == "pod":
        pytest.xfail("dromo pod's NaN message names the snapshot but not the file (dromo/cli/pod.py)")
    src = _damaged(folder, kind, comm)
    out = os.path.join(folder, f"out-{command}-{kind}.h5")
    if comm.rank == 0:
        with open(out, "wb") as f:
            f.write(MARKER)
    comm.Barrier()
    status = main(COMMANDS[command](src, out))
    err = capfd.readouterr().err
    assert status == 1
    if comm.rank == 0:
        assert src in err, err
        with open(out, "rb") as f:
            assert f.read() == MARKER
        assert not [f for f in os.listdir(folder) if ".tmp-" in f]
    comm.Barrier()
