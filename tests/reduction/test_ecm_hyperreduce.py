"""The offline hyper-reduction step (dromo.reduction.hyperreduce) and ``dromo hyperreduce``."""
import os

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from dromo.io.archive import Archive
from dromo.rom.offline import hyperreduce
from dromo.rom.model import U_MODES, ReducedModel

from .._mpi import dromo_cmd, run_mpi, serial_only
from .test_ecm_helpers import LAW


def _snapshots(path, comm):
    from dromo.hf import Displacement, Problem, TimeStepping, run
    from dromo.mesh.generate import box_mesh
    mesh = box_mesh(6, 2, 2, lengths=(4.0, 1.0, 1.0), element="hex8", distort=0.2, seed=1)
    pb = Problem(mesh, {"all": LAW},
                 [Displacement("xmin", {"x": 0, "y": 0, "z": 0}),
                  Displacement("xmax", {"x": 0.012, "y": 0.006}, amplitude="cyc")],
                 amplitudes={"cyc": [[0, 0], [1, 1], [2, -1], [3, 0.5]]},
                 time=TimeStepping(end=3.0, dt=0.25, fixed=True), comm=comm)
    run(pb, path)


@pytest.mark.mpi
def test_hyperreduce_writes_points_operators_and_dual_fits(comm, shared_tmp):
    snap = os.path.join(str(shared_tmp), "snap.h5")
    rom = os.path.join(str(shared_tmp), "rom.h5")
    _snapshots(snap, comm)
    built = hyperreduce(snap, rom, comm, tol=1e-3, u_tol=1e-6, dual_tol=1e-4)
    q = built.quadrature
    assert q["converged"] and q["error"] <= 1e-3 and set(built.duals) == {"S", "p"}
    m = ReducedModel.load(rom, comm)                       # what the online stage reads: no O(N) data
    assert m.n_points == built.n_points and m.n_modes == built.n_modes and m.case is None
    pts = m.points
    with Archive.open(rom, comm) as ar:
        mesh = ar.read_mesh()
        modes_u = ar.read_steps(U_MODES, slice(None))
    assert m.mesh_hash == mesh.fingerprint()
    qd = {f: m.duals[f].qdeim_ids for f in ("S", "p")}
    restricted = m.duals["S"].fit.restricted
    from dromo.mesh.distributed import DistributedMesh
    from dromo.fem.operators import ip_coordinates
    from dromo.fem.points import mode_strains
    from dromo.parallel.collectives import fetch_rows
    ids, wts = pts.ids, pts.weights
    assert np.all(np.diff(ids) > 0) and m.quadrature["n_ecm_points"] == int((wts > 0).sum())
    assert np.array_equal(pts.ecm.astype(bool), wts > 0)
    for f in ("S", "p"):
        assert np.isin(qd[f], ids).all()                                  # dual points added, zero weight
    assert restricted.shape[0] == 6 * ids.size
    # element / point index / coordinates / B-matrices consistent with an independent computation
    dm = DistributedMesh(mesh, comm)
    assert np.array_equal(pts.cells * 8 + pts.qp, ids)                    # hex8: 8 points per cell
    assert np.array_equal(pts.elements, mesh.blocks[0].ids[pts.cells])
    xyz, owners = fetch_rows(ip_coordinates(dm), dm.ip_natural, ids, comm)
    assert np.allclose(xyz, pts.coordinates) and np.array_equal(owners, dm.cell_ranks(pts.cells))
    k = pts.strain_modes.shape[2]
    red = dm.redistributor("node")
    modes_nat = np.moveaxis(modes_u, 0, -1)                               # (block nodes, 3, k)
    owned = red.natural_to_owned(modes_nat).reshape(-1, k)
    E = mode_strains(dm, owned).reshape(dm.n_ip_local, -1)
    Ep, _ = fetch_rows(E, dm.ip_natural, ids, comm)
    assert np.allclose(Ep.reshape(-1, 6, k), pts.strain_modes, atol=1e-12 * np.abs(Ep).max())
    assert abs(wts.sum() - 4.0) <= 1e-3 * 4.0                             # the volume of the bar


@serial_only
def test_cli_same_points_at_1_and_2_ranks(tmp_path):
    snap = str(tmp_path / "snap.h5")
    _snapshots(snap, MPI.COMM_WORLD)
    outs = []
    for n in (1, 2):
        out = str(tmp_path / f"rom{n}.h5")
        p = run_mpi(n, dromo_cmd() + ["hyperreduce", snap, "--tol", "1e-3", "--dual", "S", "p", "-o", out],
                    timeout=300)
        assert p.returncode == 0, p.stderr[-3000:]
        with h5py.File(out, "r") as f:
            assert f.attrs["n_ranks_written"] == n
        m = ReducedModel.load(out, MPI.COMM_WORLD)
        outs.append({k: getattr(m.points, k) for k in ("ids", "weights", "strain_modes")})
    assert np.array_equal(outs[0]["ids"], outs[1]["ids"])
    assert np.allclose(outs[0]["weights"], outs[1]["weights"], rtol=1e-7)
    p = run_mpi(1, dromo_cmd() + ["hyperreduce", snap, "--stress-field", "nope", "-o", str(tmp_path / "x.h5")])
    assert p.returncode != 0 and "no field 'nope'" in p.stderr
