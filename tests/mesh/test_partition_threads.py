"""Partitions are reproducible on meshes large enough for PT-Scotch 7 to use its threads: one thread
(``SCOTCH_PTHREAD_NUMBER=1``, set by ``import dromo`` unless already set) makes a partition depend on the
mesh and the rank count only, so reruns and restarts assemble in the same order."""
import os

import numpy as np
import pytest

from dromo.mesh.generate import box_mesh
from dromo.mesh.partition import partition_cells


def test_one_scotch_thread_by_default():
    assert os.environ.get("SCOTCH_PTHREAD_NUMBER") == "1"


@pytest.mark.mpi
def test_partition_of_a_larger_mesh_is_reproducible(comm):
    mesh = box_mesh(16, 4, 4, lengths=(4.0, 1.0, 1.0), element="hex20")         # 256 cells
    first = partition_cells(mesh, comm)
    for _ in range(10):
        assert np.array_equal(partition_cells(mesh, comm), first)
