"""``dromo pod`` and write_basis/read_basis through the dromo archive."""
import argparse
import os

import numpy as np
import pytest
from mpi4py import MPI

from dromo.errors import DromoError, InputError
from dromo.parallel import partition_range

COMM = MPI.COMM_WORLD

h5py = pytest.importorskip("h5py")
needs_mpi_h5 = pytest.mark.skipif(COMM.size > 1 and not h5py.get_config().mpi,
                                  reason="h5py without MPI: archives are single-rank only")


def _parser():
    from dromo.cli import pod as cli_pod
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    cli_pod.register(sub)
    return p


def _write_snapshots(path, F=14, n_items=45, C=3, nan_at=None):
    from dromo.io.archive import Archive
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((n_items * C, 6)))
    G = (Q * np.logspace(0, -5, 6)) @ rng.standard_normal((6, F))       # (N C, F) global
    if nan_at is not None:
        G[-1, nan_at] = np.nan
    a, b = partition_range(n_items, COMM)
    block = np.moveaxis(G.reshape(n_items, C, F), -1, 0)[:, a:b, :]     # (F, items, C)
    times = np.linspace(0.0, 1.3, F)
    params = np.column_stack([np.full(F, 210.0), np.arange(F, dtype=float)])
    with Archive.create(path, COMM) as ar:
        ar.write_field("U", "node", block, times, parameters=params, components=["x", "y", "z"])
    return G, (a * C, b * C)


def _tmpdir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("podcli")) if COMM.rank == 0 else None
    return COMM.bcast(d)


@needs_mpi_h5
@pytest.mark.mpi
@pytest.mark.parametrize("extra", [[], ["--method", "svd"], ["--method", "slepc"], ["--memory-budget", "0.01"]])
def test_cli_pod_roundtrip(tmp_path_factory, extra):
    from dromo.io.archive import Archive
    from dromo.reduction import pod, read_basis
    d = _tmpdir(tmp_path_factory)
    snap, out, png = (os.path.join(d, f) for f in ("snap.h5", "basis.h5", "decay.png"))
    G, (a, b) = _write_snapshots(snap)
    args = _parser().parse_args(["pod", snap, "--field", "U", "--tol", "1e-4", "--plot", png, "-o", out]
                                + extra)
    assert args.func(args) == 0
    ref = pod(np.ascontiguousarray(G[a:b]), tol=1e-4)
    with Archive.open(out, COMM) as ar:
        basis = read_basis(ar, "U")
        attrs = dict(ar.h5["bases/U/singular_values"].attrs)
    assert basis.n_kept == ref.n_kept == basis.modes.shape[1]
    assert basis.tol == 1e-4 and basis.inner == "euclid"
    np.testing.assert_allclose(basis.singular_values[:ref.n_kept], ref.singular_values[:ref.n_kept],
                               rtol=1e-9)
    np.testing.assert_allclose(np.abs(COMM.allreduce(basis.modes.T @ ref.modes)), np.eye(ref.n_kept),
                               atol=1e-8)
    assert str(attrs["provenance_field"]) == "U"
    # a basis written at P ranks read back at 1 rank equals the serial POD
    if COMM.rank == 0:
        ser = pod(G, comm=MPI.COMM_SELF, tol=1e-4)
        with Archive.open(out, MPI.COMM_SELF) as ar:
            one = read_basis(ar, "U")
        assert one.modes.shape == ser.modes.shape
        np.testing.assert_allclose(np.abs(one.modes.T @ ser.modes), np.eye(ser.n_kept), atol=1e-8)
        np.testing.assert_allclose(one.modes, ser.modes, atol=1e-8)
    COMM.Barrier()
    if COMM.rank == 0:
        assert os.path.getsize(png) > 1000


@needs_mpi_h5
@pytest.mark.mpi
def test_cli_nan_snapshot_named(tmp_path_factory):
    d = _tmpdir(tmp_path_factory)
    snap, out = os.path.join(d, "snap.h5"), os.path.join(d, "basis.h5")
    _write_snapshots(snap, nan_at=9)
    args = _parser().parse_args(["pod", snap, "--field", "U", "-o", out])
    with pytest.raises(InputError, match=r"snapshot 9: field U, step 9, time 0\.9, parameters \(210, 9\)"):
        args.func(args)
    assert not os.path.exists(out)
    args = _parser().parse_args(["pod", snap, "--field", "V", "-o", out])
    with pytest.raises(DromoError, match="no field 'V'"):
        args.func(args)
    args = _parser().parse_args(["pod", snap, "--field", "U", "--inner-product", "l2", "-o", out])
    with pytest.raises(InputError, match="no mesh in the archive"):
        args.func(args)


@needs_mpi_h5
@pytest.mark.mpi
@pytest.mark.parametrize("product", ["l2", "energy"])
def test_cli_mesh_inner_products(tmp_path_factory, product):
    """``--inner-product l2|energy``: modes orthonormal in the assembled mass / stiffness matrix."""
    from dromo.fem.operators import mass_matrix, stiffness_matrix
    from dromo.io.archive import Archive
    from dromo.materials.tensors import isotropic_stiffness
    from dromo.mesh.distributed import DistributedMesh
    from dromo.mesh.generate import box_mesh
    from dromo.reduction import read_basis
    d = _tmpdir(tmp_path_factory)
    snap, out = os.path.join(d, "snap.h5"), os.path.join(d, "basis.h5")
    mesh = box_mesh(3, 2, 2, element="tet10", distort=0.1)
    dm = DistributedMesh(mesh, COMM)
    rn = dm.redistributor("node")
    x = dm.points[:dm.n_owned_nodes]
    with Archive.create(snap, COMM) as ar:
        ar.write_mesh(mesh)
        ar.create_field("U", "node", 3)
        for k in range(8):
            u = np.stack([np.sin((k + 1) * x[:, 0]), x[:, 1] ** (k % 3 + 1), np.cos(k * x[:, 2])], 1)
            ar.append_step("U", rn.owned_to_natural(u), k)
    extra = ["--young", "1000", "--poisson", "0.25"] if product == "energy" else []
    args = _parser().parse_args(["pod", snap, "--field", "U", "--inner-product", product, "-o", out] + extra)
    assert args.func(args) == 0
    with Archive.open(out, COMM) as ar:
        basis = read_basis(ar, "U")
    k = basis.n_kept
    assert basis.inner == product and k >= 3
    modes = rn.natural_to_owned(basis.modes.reshape(-1, 3 * k)).reshape(-1, k)
    A = mass_matrix(dm) if product == "l2" else stiffness_matrix(dm, isotropic_stiffness(1000.0, 0.25))
    gram = np.empty((k, k))
    v, w = A.createVecs()
    for i in range(k):
        v.getArray()[:] = modes[:, i]
        A.mult(v, w)
        gram[:, i] = COMM.allreduce(modes.T @ w.getArray())
    assert np.allclose(gram, np.eye(k), atol=1e-8)


@needs_mpi_h5
@pytest.mark.mpi
def test_pod_basis_archive_round_trip_on_owned_rows(tmp_path_factory):
    """PODBasis.to_archive/from_archive with the owned-node layout; the mesh inner product from Python."""
    from dromo.io.archive import Archive
    from dromo.mesh.distributed import DistributedMesh
    from dromo.mesh.generate import box_mesh
    from dromo.reduction import PODBasis, inner_product, pod
    d = _tmpdir(tmp_path_factory)
    mesh = box_mesh(3, 2, 2, element="hex8", distort=0.1)
    dm = DistributedMesh(mesh, COMM)
    M, rn = inner_product(dm, "l2")
    x = dm.points[:dm.n_owned_nodes]
    U = np.stack([np.stack([np.sin((k + 1) * x[:, 0]), x[:, 1] ** (k % 3 + 1), np.cos(k * x[:, 2])], 1)
                  .reshape(-1) for k in range(6)], 1)
    basis = pod(U, comm=COMM, tol=1e-8, inner=M, inner_name="l2")
    path = os.path.join(d, "basis.h5")
    with Archive.create(path, COMM) as ar:
        ar.write_mesh(mesh)
        basis.to_archive(ar, "U", location="node", n_components=3, redistributor=rn)
    with Archive.open(path, COMM) as ar:
        back = PODBasis.from_archive(ar, "U", redistributor=rn, inner=M)
    assert np.array_equal(back.modes, basis.modes) and back.n_kept == basis.n_kept and back.inner == "l2"
    assert np.array_equal(back.singular_values, basis.singular_values) and back.energy == basis.energy
    assert np.allclose(back.project(U), basis.project(U))
    # at another rank count: the natural rows
    with Archive.open(path, MPI.COMM_SELF) as ar:
        serial = PODBasis.from_archive(ar, "U", comm=MPI.COMM_SELF)
    nat = np.concatenate(COMM.allgather(rn.owned_to_natural(basis.modes.reshape(dm.n_owned_nodes, -1))))
    assert np.array_equal(serial.modes, nat.reshape(serial.modes.shape))
    w, ri = inner_product(dm, "l2", "ip", 6)
    assert w.shape == (6 * dm.n_ip_local,) and ri.n_owned == dm.n_ip_local
    assert inner_product(dm, "euclid")[0] is None
    with pytest.raises(InputError, match="nodal displacement fields only"):
        inner_product(dm, "energy", "ip", 1, young=1.0)
    with pytest.raises(InputError, match="Young"):
        inner_product(dm, "energy")
